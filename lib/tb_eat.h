/*
 * Evidence of a TEEP Agent: an Entity Attestation Token (RFC 9711) as a
 * CWT, i.e. a claims set signed as a COSE_Sign1, in the shape the EAT
 * profile of draft-ietf-teep-protocol-26 (section 5) asks for.
 *
 * Claims (integer labels of RFC 9711 section 10 / the IANA CWT registry):
 *   eat_nonce 10     bstr 8..64, the QueryRequest challenge
 *   ueid 256         bstr 7..33
 *   oemid 258        bstr of 3 (IEEE) or 16 (random) bytes; a PEN (int)
 *                    is accepted when decoding
 *   hwmodel 259      bstr 1..32
 *   hwversion 260    [version tstr, ? scheme int]
 *   manifests 272    [+ [60 (application/cbor), bstr .cbor SUIT_Digest]]:
 *                    the manifest digest of each installed component
 *   measurements 273 [+ [258 (application/swid+cbor), bstr .cbor CoSWID]]:
 *                    one minimal CoSWID (RFC 9393) per measured object,
 *                    evidence {file: {fs-name, hash: [1 (sha-256), d]}}
 *   cnf 8            {1 (COSE_Key): the Agent's TEEP key with its alg}
 *   iat 6            seconds since the epoch
 *   tsm-report -70001  (private use: CWT claim keys below -65536, RFC 8392
 *                    section 9.1) a hardware report from configfs-tsm,
 *                    {1: provider tstr, 2: generation uint, 3: inblob
 *                    bstr 64 (SHA-512 of eat_nonce), 4: outblob bstr};
 *                    only inside a confidential VM guest (lib/tb_tsm.h)
 *
 * Everything is bounded: the decoder refuses more than TB_EAT_MAX_MEAS
 * measurements or TB_EAT_MAX_MANIFESTS manifests.
 */
#ifndef TB_EAT_H
#define TB_EAT_H

#include <stddef.h>
#include <stdint.h>

#include "tb_cose.h"
#include "tb_tsm.h"

/* The media type of the Evidence (RFC 9782). draft-ietf-teep-protocol-26
 * adds an eat_profile parameter naming itself once it has an RFC number;
 * we send the bare type and accept it with any parameters. */
#define TB_EAT_MEDIA_TYPE "application/eat+cwt"

#define TB_EAT_CLAIM_CNF          8
#define TB_EAT_CLAIM_IAT          6
#define TB_EAT_CLAIM_NONCE        10
#define TB_EAT_CLAIM_UEID         256
#define TB_EAT_CLAIM_OEMID        258
#define TB_EAT_CLAIM_HWMODEL      259
#define TB_EAT_CLAIM_HWVERSION    260
#define TB_EAT_CLAIM_MANIFESTS    272
#define TB_EAT_CLAIM_MEASUREMENTS 273
#define TB_EAT_CLAIM_TSM_REPORT   (-70001)
#define TB_CNF_COSE_KEY           1 /* RFC 8747 */
/* keys of the tsm-report map */
#define TB_EAT_TSM_PROVIDER   1
#define TB_EAT_TSM_GENERATION 2
#define TB_EAT_TSM_INBLOB     3
#define TB_EAT_TSM_OUTBLOB    4

#define TB_EAT_CT_CBOR        60  /* CoAP content-format application/cbor */
#define TB_EAT_CT_COSWID      258 /* CoAP content-format application/swid+cbor */
#define TB_EAT_HASH_SHA256    1   /* Named Information Hash Algorithm (CoSWID) */
#define TB_SUIT_DIGEST_SHA256 (-16)

#define TB_EAT_NONCE_MIN     8
#define TB_EAT_NONCE_MAX     64
#define TB_EAT_UEID_MAX      33
#define TB_EAT_HWMODEL_MAX   32
#define TB_EAT_TEXT_MAX      64 /* hwversion, measurement names */
#define TB_EAT_MAX_MEAS      8
#define TB_EAT_MAX_MANIFESTS 64
#define TB_EAT_MAX_TOKEN     (64u * 1024u) /* bytes of a token we decode */

struct tb_eat_measurement {
	char name[TB_EAT_TEXT_MAX + 1]; /* what was measured */
	uint8_t sha256[32];
};

struct tb_eat_claims {
	uint8_t nonce[TB_EAT_NONCE_MAX];
	size_t nonce_len;
	uint8_t ueid[TB_EAT_UEID_MAX];
	size_t ueid_len;
	uint8_t oemid[16];
	size_t oemid_len; /* 3 or 16; 0 with has_oemid_pen */
	int has_oemid_pen;
	int64_t oemid_pen;
	uint8_t hwmodel[TB_EAT_HWMODEL_MAX];
	size_t hwmodel_len;
	char hwversion[TB_EAT_TEXT_MAX + 1];
	struct tb_eat_measurement meas[TB_EAT_MAX_MEAS];
	size_t n_meas;
	uint8_t manifests[TB_EAT_MAX_MANIFESTS][32];
	size_t n_manifests;
	int has_cnf;
	uint8_t cnf_x[32], cnf_y[32];
	int cnf_alg;
	int64_t iat;
	int has_tsm; /* tsm-report present */
	struct tb_tsm_report tsm;
};

/* The claims set as CBOR (a malloc()ed buffer). TB_ERR_INVAL when a
 * required claim is missing or out of its bounds. */
int tb_eat_encode(const struct tb_eat_claims *c, uint8_t **out, size_t *out_len);
/* Decode and check a claims set. Unknown claims are ignored; every claim
 * this profile requires must be there (nonce, ueid, oemid, hwmodel,
 * hwversion, cnf; manifests and measurements may be absent when there is
 * nothing to list). err names the claim at fault. */
int tb_eat_decode(const uint8_t *buf, size_t len, struct tb_eat_claims *c, char *err,
                  size_t errlen);

/* Sign the claims set with the attestation key (COSE_Sign1, kid = its
 * RFC 9679 thumbprint). */
int tb_eat_sign(const struct tb_key *key, int alg, const struct tb_eat_claims *c, uint8_t **out,
                size_t *out_len);
/* Verify a token with one of n trusted attestation keys, then decode it.
 * TB_ERR_SIG: no key verifies it; TB_ERR_PARSE: not a COSE_Sign1 or a bad
 * claims set (err says which). *which gets the index of the key. */
int tb_eat_verify(const uint8_t *token, size_t len, struct tb_key *const *keys, size_t n,
                  struct tb_eat_claims *c, size_t *which, char *err, size_t errlen);

/* Is this attestation-payload-format ours: NULL (the draft's default) or
 * "application/eat+cwt", case-insensitively, with any parameters? */
int tb_eat_format_ok(const char *format);

#endif
