/*
 * Attestation Results in the EAT Attestation Result format (EAR,
 * draft-ietf-rats-ear-03), serialized as CBOR and signed as a COSE_Sign1
 * (a CWT), with one submodule appraisal.
 *
 *   265 eat_profile      "tag:ietf.org,2026:rats/ear#03"
 *   6   iat              seconds since the epoch
 *   1004 ear_verifier_id {0: developer, 1: build}
 *   256 ueid             the appraised Agent's ueid, when its Evidence
 *                        verified (an EAT claim of RFC 9711; ear-03 has no
 *                        claim of its own for the device)
 *   266 submods          {name: {1000 ear_status: tier,
 *                                1001 ear_trustworthiness_vector: {..},
 *                                1003 ear_appraisal_policy_ids: [text],
 *                                10 eat_nonce: the Evidence's nonce}}
 *
 * Trustworthiness tiers and claims follow draft-ietf-rats-ar4si: tier
 * none 0, affirming 2, warning 32, contraindicated 96; vector keys
 * instance-identity 0, configuration 1, executables 2, file-system 3,
 * hardware 4, runtime-opaque 5, storage-opaque 6, sourced-data 7.
 */
#ifndef TB_EAR_H
#define TB_EAR_H

#include <stddef.h>
#include <stdint.h>

#include "tb_cose.h"
#include "tb_eat.h"

#define TB_EAR_PROFILE "tag:ietf.org,2026:rats/ear#03"
/* The media type of an EAR in a CWT. */
#define TB_EAR_FORMAT "application/eat+cwt; eat_profile=\"" TB_EAR_PROFILE "\""

#define TB_EAR_CLAIM_PROFILE     265
#define TB_EAR_CLAIM_SUBMODS     266
#define TB_EAR_CLAIM_STATUS      1000
#define TB_EAR_CLAIM_TV          1001
#define TB_EAR_CLAIM_POLICY_IDS  1003
#define TB_EAR_CLAIM_VERIFIER_ID 1004

enum tb_ear_tier {
	TB_EAR_NONE = 0,
	TB_EAR_AFFIRMING = 2,
	TB_EAR_WARNING = 32,
	TB_EAR_CONTRAINDICATED = 96
};

enum tb_ear_tv {
	TB_TV_INSTANCE_IDENTITY = 0,
	TB_TV_CONFIGURATION = 1,
	TB_TV_EXECUTABLES = 2,
	TB_TV_FILE_SYSTEM = 3,
	TB_TV_HARDWARE = 4,
	TB_TV_RUNTIME_OPAQUE = 5,
	TB_TV_STORAGE_OPAQUE = 6,
	TB_TV_SOURCED_DATA = 7,
	TB_TV_COUNT = 8
};

/* AR4SI claim values used here (draft-ietf-rats-ar4si section 2.3). */
#define TB_AR4SI_TRUSTWORTHY_INSTANCE     2
#define TB_AR4SI_UNTRUSTWORTHY_INSTANCE   96
#define TB_AR4SI_UNRECOGNIZED_INSTANCE    97
#define TB_AR4SI_APPROVED_RUNTIME         2
#define TB_AR4SI_UNRECOGNIZED_RUNTIME     33
#define TB_AR4SI_GENUINE_HARDWARE         2
#define TB_AR4SI_CONTRAINDICATED_HARDWARE 96
#define TB_AR4SI_UNRECOGNIZED_HARDWARE    97

#define TB_EAR_TEXT_MAX 64

struct tb_ear {
	int64_t iat;
	char developer[TB_EAR_TEXT_MAX + 1]; /* ear_verifier_id */
	char build[TB_EAR_TEXT_MAX + 1];
	char submod[TB_EAR_TEXT_MAX + 1]; /* the appraised Attester's name */
	int status;                       /* enum tb_ear_tier */
	int8_t tv[TB_TV_COUNT];           /* 0: no claim */
	char policy_id[TB_EAR_TEXT_MAX + 1];
	uint8_t nonce[TB_EAT_NONCE_MAX];
	size_t nonce_len; /* 0: absent */
	uint8_t ueid[TB_EAT_UEID_MAX];
	size_t ueid_len; /* 0: absent */
};

/* The tier a claim value falls in (AR4SI: -1..1 none, 2..31 affirming,
 * 32..95 warning, 96..127 and below -1 contraindicated). */
enum tb_ear_tier tb_ear_tier_of(int claim);
/* The worst tier of the vector: what ear_status must not exceed. */
enum tb_ear_tier tb_ear_status_of(const int8_t tv[TB_TV_COUNT]);
const char *tb_ear_tier_name(int tier);

int tb_ear_encode(const struct tb_ear *e, uint8_t **out, size_t *out_len);
int tb_ear_decode(const uint8_t *buf, size_t len, struct tb_ear *e, char *err, size_t errlen);
/* COSE_Sign1 with the verifier's key, kid = its RFC 9679 thumbprint. */
int tb_ear_sign(const struct tb_key *key, int alg, const struct tb_ear *e, uint8_t **out,
                size_t *out_len);
int tb_ear_verify(const uint8_t *token, size_t len, const struct tb_key *key, struct tb_ear *e,
                  char *err, size_t errlen);

/* A Relying Party's check of an EAR (teep-tool ear-check): the signature
 * by the Verifier's key, then freshness: iat at most max_age_s old and at
 * most skew_s in the future of now. Returns TB_OK with *e decoded (its
 * status is then the verdict), TB_ERR_SIG when the signature does not
 * verify, TB_ERR_PARSE when it is no EAR, TB_ERR_STATE when it is stale
 * or from the future; err says why. */
int tb_ear_check(const uint8_t *token, size_t len, const struct tb_key *key, int64_t now,
                 int64_t max_age_s, int64_t skew_s, struct tb_ear *e, char *err, size_t errlen);

#endif
