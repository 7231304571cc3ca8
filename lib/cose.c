/*
 * P-256 keys, COSE_Sign1 and COSE_Sign with mbedtls.
 *
 * Threads: a struct tb_key is never written after it is loaded or
 * generated. Verification and signing copy the curve group into a per-call
 * context (mbedtls may cache precomputed points inside a group) and signing
 * uses deterministic ECDSA (RFC 6979) with a per-call DRBG for blinding, so
 * one key may be used by several threads at once for both verify and sign.
 */
#include "tb_cose.h"
#include "tb_cbor.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_FILE_MAX  (64 * 1024)
#define PEM_BUF_SIZE  4096
#define DER_BUF_SIZE  512
#define P256_BYTES    32
#define SIG_BYTES     (2 * P256_BYTES)
#define COSE_HDR_ALG  1
#define COSE_HDR_CRIT 2
#define COSE_HDR_KID  4
#define ALG_HDR_BYTES 3 /* {1: alg} for a supported alg */

struct tb_key {
	mbedtls_pk_context pk;
	int has_private;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void set_mbed_err(char *err, size_t errlen, const char *what, int ret)
{
	char buf[128];

	mbedtls_strerror(ret, buf, sizeof(buf));
	set_err(err, errlen, "%s: %s (-0x%04x)", what, buf, (unsigned)-ret);
}

/* mbedtls' writers take a non-const context although they only read it. */
static mbedtls_pk_context *pk_of(const struct tb_key *key)
{
	return (mbedtls_pk_context *)&key->pk;
}

static const mbedtls_ecp_keypair *ec_of(const struct tb_key *key)
{
	return mbedtls_pk_ec(key->pk);
}

static struct tb_key *key_new(void)
{
	struct tb_key *key = calloc(1, sizeof(*key));

	if (key)
		mbedtls_pk_init(&key->pk);
	return key;
}

void tb_key_free(struct tb_key *key)
{
	if (!key)
		return;
	/* mbedtls_pk_free zeroizes the private scalar. */
	mbedtls_pk_free(&key->pk);
	free(key);
}

static int check_p256(const struct tb_key *key, char *err, size_t errlen)
{
	mbedtls_pk_type_t type = mbedtls_pk_get_type(&key->pk);

	if (type != MBEDTLS_PK_ECKEY && type != MBEDTLS_PK_ECDSA) {
		set_err(err, errlen, "unsupported key type %s: only EC P-256 keys are supported",
		        mbedtls_pk_get_name(&key->pk));
		return TB_ERR_UNSUP;
	}
	if (ec_of(key)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		const mbedtls_ecp_curve_info *ci =
		    mbedtls_ecp_curve_info_from_grp_id(ec_of(key)->grp.id);
		set_err(err, errlen, "unsupported curve %s: only P-256 (prime256v1) is supported",
		        ci ? ci->name : "(unknown)");
		return TB_ERR_UNSUP;
	}
	return TB_OK;
}

static int parse_pem(struct tb_key *key, const unsigned char *pem, size_t len, char *err,
                     size_t errlen)
{
	int ret = mbedtls_pk_parse_key(&key->pk, pem, len, NULL, 0);

	if (ret == 0) {
		key->has_private = 1;
		return TB_OK;
	}
	mbedtls_pk_free(&key->pk);
	mbedtls_pk_init(&key->pk);
	ret = mbedtls_pk_parse_public_key(&key->pk, pem, len);
	if (ret == 0)
		return TB_OK;
	if (ret == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG) {
		set_err(err, errlen,
		        "unsupported key algorithm (Ed25519/EdDSA is not available with "
		        "mbedtls 2.28); use an EC P-256 key");
		return TB_ERR_UNSUP;
	}
	set_mbed_err(err, errlen, "cannot parse PEM key", ret);
	return TB_ERR_PARSE;
}

int tb_key_load_pem(const uint8_t *pem, size_t len, struct tb_key **out, char *err, size_t errlen)
{
	unsigned char *copy;
	struct tb_key *key;
	int rc;

	if (!pem || !out || len == 0 || len > KEY_FILE_MAX) {
		set_err(err, errlen, "no key or key too large");
		return TB_ERR_INVAL;
	}
	*out = NULL;
	/* mbedtls recognises PEM only with the terminating NUL counted. */
	copy = malloc(len + 1);
	key = key_new();
	if (!copy || !key) {
		free(copy);
		tb_key_free(key);
		set_err(err, errlen, "out of memory");
		return TB_ERR_NOMEM;
	}
	memcpy(copy, pem, len);
	copy[len] = 0;
	rc = parse_pem(key, copy, strlen((char *)copy) == len ? len + 1 : len, err, errlen);
	if (rc == TB_OK)
		rc = check_p256(key, err, errlen);
	mbedtls_platform_zeroize(copy, len + 1);
	free(copy);
	if (rc != TB_OK) {
		tb_key_free(key);
		return rc;
	}
	*out = key;
	return TB_OK;
}

int tb_key_load_file(const char *path, struct tb_key **out, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (!path || !out) {
		set_err(err, errlen, "no key file");
		return TB_ERR_INVAL;
	}
	rc = tb_read_file(path, KEY_FILE_MAX, &buf, &len);
	if (rc != TB_OK) {
		set_err(err, errlen, "%s: cannot read key file (%s)", path,
		        rc == TB_ERR_TOOBIG     ? "too large"
		        : rc == TB_ERR_NOTFOUND ? "not found"
		                                : "I/O error");
		return rc;
	}
	rc = tb_key_load_pem(buf, len, out, err, errlen);
	if (rc != TB_OK && err && errlen > 0) {
		char reason[200];
		snprintf(reason, sizeof(reason), "%s", err);
		set_err(err, errlen, "%s: %s", path, reason);
	}
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	return rc;
}

/* A fresh DRBG for one operation, so no RNG state is shared between
 * threads. The caller frees both contexts. */
static int drbg_seed(mbedtls_entropy_context *ent, mbedtls_ctr_drbg_context *drbg)
{
	static const unsigned char pers[] = "teep-broker cose";

	mbedtls_entropy_init(ent);
	mbedtls_ctr_drbg_init(drbg);
	if (mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, ent, pers, sizeof(pers) - 1) != 0)
		return TB_ERR_IO;
	return TB_OK;
}

static void drbg_free(mbedtls_entropy_context *ent, mbedtls_ctr_drbg_context *drbg)
{
	mbedtls_ctr_drbg_free(drbg);
	mbedtls_entropy_free(ent);
}

int tb_random(uint8_t *buf, size_t len)
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	int rc;

	if (!buf && len)
		return TB_ERR_INVAL;
	rc = drbg_seed(&ent, &drbg);
	if (rc == TB_OK && mbedtls_ctr_drbg_random(&drbg, buf, len) != 0)
		rc = TB_ERR_IO;
	drbg_free(&ent, &drbg);
	return rc;
}

int tb_key_generate(struct tb_key **out)
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	struct tb_key *key;
	int rc;

	if (!out)
		return TB_ERR_INVAL;
	*out = NULL;
	key = key_new();
	if (!key)
		return TB_ERR_NOMEM;
	rc = drbg_seed(&ent, &drbg);
	if (rc == TB_OK &&
	    mbedtls_pk_setup(&key->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
		rc = TB_ERR_NOMEM;
	if (rc == TB_OK && mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key->pk),
	                                       mbedtls_ctr_drbg_random, &drbg) != 0)
		rc = TB_ERR_IO;
	drbg_free(&ent, &drbg);
	if (rc != TB_OK) {
		tb_key_free(key);
		return rc;
	}
	key->has_private = 1;
	*out = key;
	return TB_OK;
}

int tb_key_to_pem(const struct tb_key *key, int private_part, char **pem_out)
{
	unsigned char *buf;
	size_t n;
	int ret;

	if (!key || !pem_out || (private_part && !key->has_private))
		return TB_ERR_INVAL;
	*pem_out = NULL;
	buf = calloc(1, PEM_BUF_SIZE);
	if (!buf)
		return TB_ERR_NOMEM;
	ret = private_part ? mbedtls_pk_write_key_pem(pk_of(key), buf, PEM_BUF_SIZE)
	                   : mbedtls_pk_write_pubkey_pem(pk_of(key), buf, PEM_BUF_SIZE);
	if (ret != 0) {
		mbedtls_platform_zeroize(buf, PEM_BUF_SIZE);
		free(buf);
		return TB_ERR_INVAL;
	}
	/* Shrink to the text so no stale key bytes linger beyond it. */
	n = strnlen((char *)buf, PEM_BUF_SIZE - 1);
	*pem_out = malloc(n + 1);
	if (*pem_out) {
		memcpy(*pem_out, buf, n);
		(*pem_out)[n] = 0;
	}
	mbedtls_platform_zeroize(buf, PEM_BUF_SIZE);
	free(buf);
	return *pem_out ? TB_OK : TB_ERR_NOMEM;
}

int tb_key_has_private(const struct tb_key *key)
{
	return key && key->has_private;
}

int tb_key_thumbprint(const struct tb_key *key, uint8_t out[32])
{
	unsigned char der[DER_BUF_SIZE];
	int n;

	if (!key || !out)
		return TB_ERR_INVAL;
	/* The DER writer fills the buffer from its end. */
	n = mbedtls_pk_write_pubkey_der(pk_of(key), der, sizeof(der));
	if (n <= 0)
		return TB_ERR_INVAL;
	if (mbedtls_sha256_ret(der + sizeof(der) - (size_t)n, (size_t)n, out, 0) != 0)
		return TB_ERR_INVAL;
	return TB_OK;
}

int tb_key_public_xy(const struct tb_key *key, uint8_t x[32], uint8_t y[32])
{
	const mbedtls_ecp_keypair *ec;

	if (!key || !x || !y)
		return TB_ERR_INVAL;
	ec = ec_of(key);
	if (mbedtls_mpi_write_binary(&ec->Q.X, x, P256_BYTES) != 0 ||
	    mbedtls_mpi_write_binary(&ec->Q.Y, y, P256_BYTES) != 0)
		return TB_ERR_INVAL;
	return TB_OK;
}

int tb_key_ecdh(const struct tb_key *key, const uint8_t x[32], const uint8_t y[32], uint8_t z[32])
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ecp_group grp;
	mbedtls_ecp_point peer;
	mbedtls_mpi shared;
	int rc;

	if (!key || !key->has_private || !x || !y || !z)
		return TB_ERR_INVAL;
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&peer);
	mbedtls_mpi_init(&shared);
	rc = drbg_seed(&ent, &drbg);
	/* A point not on the curve (an invalid-curve attack) is refused by
	 * mbedtls_ecp_check_pubkey before any multiplication. */
	if (rc == TB_OK && (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
	                    mbedtls_mpi_read_binary(&peer.X, x, P256_BYTES) != 0 ||
	                    mbedtls_mpi_read_binary(&peer.Y, y, P256_BYTES) != 0 ||
	                    mbedtls_mpi_lset(&peer.Z, 1) != 0))
		rc = TB_ERR_NOMEM;
	if (rc == TB_OK && mbedtls_ecp_check_pubkey(&grp, &peer) != 0)
		rc = TB_ERR_INVAL;
	if (rc == TB_OK && (mbedtls_ecdh_compute_shared(&grp, &shared, &peer, &ec_of(key)->d,
	                                                mbedtls_ctr_drbg_random, &drbg) != 0 ||
	                    mbedtls_mpi_write_binary(&shared, z, P256_BYTES) != 0))
		rc = TB_ERR_INVAL;
	drbg_free(&ent, &drbg);
	mbedtls_mpi_free(&shared);
	mbedtls_ecp_point_free(&peer);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

/* ---- COSE_Sign1 ---- */

/* Encode a CBOR head (major type, argument) into out; returns its size. */
static size_t cbor_head(unsigned major, uint64_t arg, uint8_t out[9])
{
	uint8_t mt = (uint8_t)(major << 5);
	size_t n;

	if (arg < 24) {
		out[0] = mt | (uint8_t)arg;
		return 1;
	}
	if (arg <= UINT8_MAX) {
		out[0] = mt | 24;
		n = 1;
	} else if (arg <= UINT16_MAX) {
		out[0] = mt | 25;
		n = 2;
	} else if (arg <= UINT32_MAX) {
		out[0] = mt | 26;
		n = 4;
	} else {
		out[0] = mt | 27;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	return n + 1;
}

static int hash_bstr(mbedtls_sha256_context *sha, const uint8_t *p, size_t len)
{
	uint8_t head[9];
	size_t hn = cbor_head(2, len, head);

	if (mbedtls_sha256_update_ret(sha, head, hn) != 0)
		return -1;
	return len ? mbedtls_sha256_update_ret(sha, p, len) : 0;
}

static int hash_text(mbedtls_sha256_context *sha, const char *text)
{
	uint8_t head[9];
	size_t len = strlen(text);
	size_t hn = cbor_head(3, len, head);

	if (mbedtls_sha256_update_ret(sha, head, hn) != 0)
		return -1;
	return mbedtls_sha256_update_ret(sha, (const uint8_t *)text, len);
}

/* What a signature covers (RFC 9052 section 4.4). signer_prot is NULL for
 * a COSE_Sign1, whose Sig_structure has no signer element. */
struct sig_input {
	const uint8_t *body_prot;
	size_t body_prot_len;
	const uint8_t *signer_prot;
	size_t signer_prot_len;
	const uint8_t *payload;
	size_t payload_len;
};

/* SHA-256 of Sig_structure ["Signature1", body_protected, h'', payload]
 * or ["Signature", body_protected, sign_protected, h'', payload], streamed
 * so a large payload is never copied. The external AAD is always empty:
 * TEEP defines none. */
static int sig_structure_hash(const struct sig_input *in, uint8_t hash[32])
{
	static const uint8_t empty_aad[] = {0x40};
	const uint8_t head = in->signer_prot ? 0x85 : 0x84;
	mbedtls_sha256_context sha;
	int bad;

	mbedtls_sha256_init(&sha);
	bad = mbedtls_sha256_starts_ret(&sha, 0) != 0 ||
	      mbedtls_sha256_update_ret(&sha, &head, 1) != 0 ||
	      hash_text(&sha, in->signer_prot ? "Signature" : "Signature1") != 0 ||
	      hash_bstr(&sha, in->body_prot, in->body_prot_len) != 0 ||
	      (in->signer_prot && hash_bstr(&sha, in->signer_prot, in->signer_prot_len) != 0) ||
	      mbedtls_sha256_update_ret(&sha, empty_aad, sizeof(empty_aad)) != 0 ||
	      hash_bstr(&sha, in->payload, in->payload_len) != 0 ||
	      mbedtls_sha256_finish_ret(&sha, hash) != 0;
	mbedtls_sha256_free(&sha);
	return bad ? TB_ERR_INVAL : TB_OK;
}

static int ecdsa_sign_raw(const struct tb_key *key, const uint8_t hash[32], uint8_t sig[SIG_BYTES])
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s;
	int rc;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	rc = drbg_seed(&ent, &drbg);
	if (rc == TB_OK && mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0)
		rc = TB_ERR_NOMEM;
	if (rc == TB_OK &&
	    mbedtls_ecdsa_sign_det_ext(&grp, &r, &s, &ec_of(key)->d, hash, 32, MBEDTLS_MD_SHA256,
	                               mbedtls_ctr_drbg_random, &drbg) != 0)
		rc = TB_ERR_INVAL;
	if (rc == TB_OK && (mbedtls_mpi_write_binary(&r, sig, P256_BYTES) != 0 ||
	                    mbedtls_mpi_write_binary(&s, sig + P256_BYTES, P256_BYTES) != 0))
		rc = TB_ERR_INVAL;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecp_group_free(&grp);
	drbg_free(&ent, &drbg);
	return rc;
}

static int ecdsa_verify_raw(const struct tb_key *key, const uint8_t hash[32], const uint8_t *sig)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s;
	int rc = TB_OK;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
	    mbedtls_mpi_read_binary(&r, sig, P256_BYTES) != 0 ||
	    mbedtls_mpi_read_binary(&s, sig + P256_BYTES, P256_BYTES) != 0)
		rc = TB_ERR_NOMEM;
	if (rc == TB_OK && mbedtls_ecdsa_verify(&grp, hash, 32, &ec_of(key)->Q, &r, &s) != 0)
		rc = TB_ERR_SIG;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

/* The only algorithms mbedtls 2.28 lets us do: ECDSA P-256 with SHA-256
 * under its draft-26 and its older identifier. */
static int alg_supported(int64_t alg)
{
	return alg == TB_COSE_ALG_ESP256 || alg == TB_COSE_ALG_ES256;
}

/* The protected header {1: alg}. Both supported algorithms fit a one-byte
 * negative integer, so the encoding is always three bytes. */
static void alg_header(int alg, uint8_t prot[ALG_HDR_BYTES])
{
	prot[0] = 0xa1;
	prot[1] = COSE_HDR_ALG;
	prot[2] = (uint8_t)(0x20 | (-1 - alg));
}

static cbor_item_t *unprotected_header(const uint8_t *kid, size_t kid_len)
{
	cbor_item_t *map = cbor_new_definite_map(kid ? 1 : 0);

	if (map && kid &&
	    tb_cbor_map_put(map, tb_cbor_int(COSE_HDR_KID), tb_cbor_bytes(kid, kid_len)))
		cbor_decref(&map);
	return map;
}

static cbor_item_t *sign1_array(const uint8_t prot[ALG_HDR_BYTES], const uint8_t *payload,
                                size_t payload_len, int detached, const uint8_t *kid,
                                size_t kid_len, const uint8_t sig[SIG_BYTES])
{
	cbor_item_t *arr = cbor_new_definite_array(4);
	int rc;

	if (!arr)
		return NULL;
	rc = tb_cbor_array_push(arr, tb_cbor_bytes(prot, ALG_HDR_BYTES));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, unprotected_header(kid, kid_len));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, detached ? cbor_new_null()
		                                      : tb_cbor_bytes(payload, payload_len));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, tb_cbor_bytes(sig, SIG_BYTES));
	if (rc != TB_OK)
		cbor_decref(&arr);
	return arr;
}

int tb_cose_sign1(const struct tb_key *key, int alg, const uint8_t *payload, size_t payload_len,
                  int detached, const uint8_t *kid, size_t kid_len, uint8_t **out, size_t *out_len)
{
	struct sig_input in = {0};
	uint8_t prot[ALG_HDR_BYTES];
	uint8_t hash[32], sig[SIG_BYTES];
	cbor_item_t *arr, *tag;
	int rc;

	if (!key || !out || !out_len || (!payload && payload_len))
		return TB_ERR_INVAL;
	if (!key->has_private)
		return TB_ERR_INVAL;
	if (!alg_supported(alg))
		return TB_ERR_UNSUP;
	alg_header(alg, prot);
	in.body_prot = prot;
	in.body_prot_len = sizeof(prot);
	in.payload = payload;
	in.payload_len = payload_len;
	rc = sig_structure_hash(&in, hash);
	if (rc == TB_OK)
		rc = ecdsa_sign_raw(key, hash, sig);
	if (rc != TB_OK)
		return rc;
	arr = sign1_array(prot, payload, payload_len, detached, kid, kid_len, sig);
	if (!arr)
		return TB_ERR_NOMEM;
	tag = cbor_build_tag(TB_COSE_SIGN1_TAG, arr);
	cbor_decref(&arr);
	if (!tag)
		return TB_ERR_NOMEM;
	rc = tb_cbor_serialize(tag, out, out_len);
	cbor_decref(&tag);
	return rc;
}

/* Unwrap an optional tag: returns a new reference to the content, or NULL
 * if the tag is not the wanted one. */
/*
 * Items a COSE structure or header map may be made of, a byte string
 * counting as one whatever its length: far more than any real message has
 * (COSE_Sign with TB_COSE_MAX_SIGNERS signers and their headers), and a
 * bound on the libcbor tree built for one. An input made of a million tiny
 * items is refused by a streaming walk before anything is allocated.
 */
#define COSE_MAX_ITEMS 1024

static cbor_item_t *load_bounded(const uint8_t *buf, size_t len)
{
	struct tb_cbor_cur c = tb_cbor_cur_init(buf, len);

	if (tb_cbor_skip(&c, TB_CBOR_MAX_DEPTH, COSE_MAX_ITEMS) != TB_OK || c.p != c.end)
		return NULL;
	return tb_cbor_load(buf, len, NULL);
}

static cbor_item_t *untag(cbor_item_t *item, uint64_t want1, uint64_t want2, uint64_t *tag_out)
{
	*tag_out = 0;
	if (!cbor_isa_tag(item))
		return cbor_incref(item);
	*tag_out = cbor_tag_value(item);
	if (*tag_out != want1 && *tag_out != want2)
		return NULL;
	return cbor_tag_item(item);
}

/* Load a COSE object and strip its tag (one of want1/want2, or none).
 * Returns a new reference to the inner item, or NULL. */
static cbor_item_t *load_untagged(const uint8_t *msg, size_t len, uint64_t want1, uint64_t want2,
                                  uint64_t *tag_out)
{
	cbor_item_t *item = load_bounded(msg, len);
	if (!item)
		return NULL;
	cbor_item_t *arr = untag(item, want1, want2, tag_out);
	cbor_decref(&item);
	return arr;
}

/* alg from the protected header bytes. */
static int protected_alg(const uint8_t *prot, size_t len, int64_t *alg)
{
	cbor_item_t *map, *v;
	int rc = TB_OK;

	if (len == 0)
		return TB_ERR_PARSE; /* empty protected header: no algorithm */
	map = load_bounded(prot, len);
	if (!map)
		return TB_ERR_PARSE;
	if (!cbor_isa_map(map)) {
		rc = TB_ERR_PARSE;
	} else if (tb_cbor_map_get_int(map, COSE_HDR_CRIT)) {
		rc = TB_ERR_UNSUP; /* we understand no critical header */
	} else if (!(v = tb_cbor_map_get_int(map, COSE_HDR_ALG))) {
		rc = TB_ERR_PARSE;
	} else if (tb_cbor_get_int(v, alg) != TB_OK) {
		rc = TB_ERR_UNSUP; /* text or out-of-range algorithm */
	}
	cbor_decref(&map);
	return rc;
}

/* TB_OK when a protected header names an algorithm we can verify. */
static int check_protected_alg(const uint8_t *prot, size_t len)
{
	int64_t alg;
	int rc = protected_alg(prot, len, &alg);

	if (rc != TB_OK)
		return rc;
	return alg_supported(alg) ? TB_OK : TB_ERR_UNSUP; /* EdDSA, Ed25519, ... */
}

struct sign1_parts {
	const uint8_t *prot;
	size_t prot_len;
	const uint8_t *payload; /* NULL when nil */
	size_t payload_len;
	const uint8_t *sig;
	size_t sig_len;
};

static int split_sign1(cbor_item_t *arr, struct sign1_parts *p)
{
	cbor_item_t **e;

	if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4)
		return TB_ERR_PARSE;
	e = cbor_array_handle(arr);
	if (tb_cbor_get_bytes(e[0], &p->prot, &p->prot_len) != TB_OK || !cbor_isa_map(e[1]) ||
	    tb_cbor_get_bytes(e[3], &p->sig, &p->sig_len) != TB_OK)
		return TB_ERR_PARSE;
	p->payload = NULL;
	p->payload_len = 0;
	if (tb_cbor_is_null(e[2]))
		return TB_OK;
	return tb_cbor_get_bytes(e[2], &p->payload, &p->payload_len) == TB_OK ? TB_OK
	                                                                      : TB_ERR_PARSE;
}

static int copy_out(const uint8_t *p, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t *c = malloc(len ? len : 1);

	if (!c)
		return TB_ERR_NOMEM;
	if (len)
		memcpy(c, p, len);
	*out = c;
	*out_len = len;
	return TB_OK;
}

static int verify_parts(const struct sign1_parts *p, const struct tb_key *key,
                        const uint8_t *detached, size_t detached_len)
{
	const uint8_t *payload = p->payload;
	size_t payload_len = p->payload_len;
	struct sig_input in = {0};
	uint8_t hash[32];
	int rc;

	rc = check_protected_alg(p->prot, p->prot_len);
	if (rc != TB_OK)
		return rc;
	if (payload && detached)
		return TB_ERR_INVAL;
	if (!payload) {
		if (!detached)
			return TB_ERR_INVAL; /* detached payload not supplied */
		payload = detached;
		payload_len = detached_len;
	}
	if (p->sig_len != SIG_BYTES)
		return TB_ERR_SIG;
	in.body_prot = p->prot;
	in.body_prot_len = p->prot_len;
	in.payload = payload;
	in.payload_len = payload_len;
	rc = sig_structure_hash(&in, hash);
	if (rc != TB_OK)
		return rc;
	return ecdsa_verify_raw(key, hash, p->sig);
}

int tb_cose_sign1_verify(const uint8_t *msg, size_t len, const struct tb_key *key,
                         const uint8_t *detached, size_t detached_len, uint8_t **payload_out,
                         size_t *payload_len)
{
	struct sign1_parts parts;
	cbor_item_t *arr;
	uint64_t tag;
	int rc;

	if (!msg || !key || (payload_out && !payload_len))
		return TB_ERR_INVAL;
	if (payload_out) {
		*payload_out = NULL;
		*payload_len = 0;
	}
	arr = load_untagged(msg, len, TB_COSE_SIGN1_TAG, TB_COSE_SIGN1_TAG, &tag);
	if (!arr)
		return TB_ERR_PARSE;
	rc = split_sign1(arr, &parts);
	if (rc == TB_OK)
		rc = verify_parts(&parts, key, detached, detached_len);
	if (rc == TB_OK && payload_out && parts.payload)
		rc = copy_out(parts.payload, parts.payload_len, payload_out, payload_len);
	cbor_decref(&arr);
	return rc;
}

int tb_cose_payload_span(const uint8_t *msg, size_t len, const uint8_t **payload,
                         size_t *payload_len)
{
	struct tb_cbor_cur c = tb_cbor_cur_init(msg, len);
	struct tb_cbor_head h;

	if (!msg || !payload || !payload_len)
		return TB_ERR_INVAL;
	*payload = NULL;
	*payload_len = 0;
	/* Head by head, the payload's bytes never walked: a top-level array
	 * of a million items fails at its first byte, headers of more than
	 * COSE_MAX_ITEMS items at that many. */
	if (tb_cbor_read_head(&c, &h) != TB_OK)
		return TB_ERR_PARSE;
	if (h.major == 6) {
		if (h.arg != TB_COSE_SIGN1_TAG && h.arg != TB_COSE_SIGN_TAG)
			return TB_ERR_PARSE;
		if (tb_cbor_read_head(&c, &h) != TB_OK)
			return TB_ERR_PARSE;
	}
	/* COSE_Sign1 and COSE_Sign are both [protected, unprotected,
	 * payload, signature(s)], the payload third. */
	if (h.major != 4 || (!h.indefinite && h.arg != 4))
		return TB_ERR_PARSE;
	for (int i = 0; i < 2; i++)
		if (tb_cbor_at_break(&c) ||
		    tb_cbor_skip(&c, TB_CBOR_MAX_DEPTH, COSE_MAX_ITEMS) != TB_OK)
			return TB_ERR_PARSE;
	if (c.p < c.end && *c.p == 0xf6)
		return TB_ERR_NOTFOUND; /* nil: detached */
	if (tb_cbor_read_string(&c, 2, payload, payload_len) != TB_OK)
		return TB_ERR_PARSE;
	if (tb_cbor_at_break(&c) || tb_cbor_skip(&c, TB_CBOR_MAX_DEPTH, COSE_MAX_ITEMS) != TB_OK ||
	    (h.indefinite && !tb_cbor_at_break(&c)) || c.end - c.p != (h.indefinite ? 1 : 0)) {
		*payload = NULL;
		*payload_len = 0;
		return TB_ERR_PARSE;
	}
	return TB_OK;
}

int tb_cose_peek_payload(const uint8_t *msg, size_t len, uint8_t **payload_out, size_t *payload_len)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (!msg || !payload_out || !payload_len)
		return TB_ERR_INVAL;
	*payload_out = NULL;
	*payload_len = 0;
	rc = tb_cose_payload_span(msg, len, &p, &n);
	if (rc != TB_OK)
		return rc;
	return copy_out(p, n, payload_out, payload_len);
}

/* ---- COSE_Sign (several signers) and verification of either form ---- */

/* One COSE_Signature: [h'{1: alg}', {4: kid}, signature]. */
static int build_signer(const struct tb_key *key, int alg, const uint8_t *payload, size_t len,
                        cbor_item_t **out)
{
	struct sig_input in = {0};
	uint8_t prot[ALG_HDR_BYTES], kid[32], hash[32], sig[SIG_BYTES];
	cbor_item_t *s;
	int rc;

	*out = NULL;
	alg_header(alg, prot);
	rc = tb_key_thumbprint(key, kid);
	if (rc != TB_OK)
		return rc;
	/* The body's protected header is h'': TEEP needs nothing signed at
	 * the body level, and each signer protects its own algorithm. */
	in.body_prot = NULL;
	in.body_prot_len = 0;
	in.signer_prot = prot;
	in.signer_prot_len = sizeof(prot);
	in.payload = payload;
	in.payload_len = len;
	rc = sig_structure_hash(&in, hash);
	if (rc == TB_OK)
		rc = ecdsa_sign_raw(key, hash, sig);
	if (rc != TB_OK)
		return rc;
	s = cbor_new_definite_array(3);
	if (!s)
		return TB_ERR_NOMEM;
	rc = tb_cbor_array_push(s, tb_cbor_bytes(prot, sizeof(prot)));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(s, unprotected_header(kid, sizeof(kid)));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(s, tb_cbor_bytes(sig, sizeof(sig)));
	if (rc != TB_OK) {
		cbor_decref(&s);
		return rc;
	}
	*out = s;
	return TB_OK;
}

static int check_signers(struct tb_key *const *keys, const int *algs, size_t n)
{
	if (n == 0)
		return TB_ERR_INVAL;
	if (n > TB_COSE_MAX_SIGNERS)
		return TB_ERR_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (!keys[i] || !keys[i]->has_private)
			return TB_ERR_INVAL;
		if (!alg_supported(algs[i]))
			return TB_ERR_UNSUP;
	}
	return TB_OK;
}

/* [h'', {}, payload, signatures], tagged 98. Takes over sigs. */
static int serialize_sign(cbor_item_t *sigs, const uint8_t *payload, size_t len, uint8_t **out,
                          size_t *out_len)
{
	cbor_item_t *arr = cbor_new_definite_array(4), *tag = NULL;
	int rc = arr ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, tb_cbor_bytes(NULL, 0));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, cbor_new_definite_map(0));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, tb_cbor_bytes(payload, len));
	if (rc == TB_OK) {
		rc = tb_cbor_array_push(arr, sigs);
		sigs = NULL;
	}
	if (rc == TB_OK) {
		tag = cbor_build_tag(TB_COSE_SIGN_TAG, arr);
		rc = tag ? TB_OK : TB_ERR_NOMEM;
	}
	if (rc == TB_OK)
		rc = tb_cbor_serialize(tag, out, out_len);
	if (tag)
		cbor_decref(&tag);
	if (arr)
		cbor_decref(&arr);
	if (sigs)
		cbor_decref(&sigs);
	return rc;
}

int tb_cose_sign_multi(struct tb_key *const *keys, const int *algs, size_t n,
                       const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len)
{
	cbor_item_t *sigs;
	int rc;

	if (!keys || !algs || !out || !out_len || (!payload && len))
		return TB_ERR_INVAL;
	*out = NULL;
	*out_len = 0;
	rc = check_signers(keys, algs, n);
	if (rc != TB_OK)
		return rc;
	sigs = cbor_new_definite_array(n);
	if (!sigs)
		return TB_ERR_NOMEM;
	for (size_t i = 0; i < n && rc == TB_OK; i++) {
		cbor_item_t *s;

		rc = build_signer(keys[i], algs[i], payload, len, &s);
		if (rc == TB_OK)
			rc = tb_cbor_array_push(sigs, s);
	}
	if (rc != TB_OK) {
		cbor_decref(&sigs);
		return rc;
	}
	return serialize_sign(sigs, payload, len, out, out_len);
}

/* The first key that verifies hash/sig, trying each in turn. */
static int verify_with_keys(const uint8_t hash[32], const uint8_t *sig, struct tb_key *const *keys,
                            size_t n)
{
	int rc = TB_ERR_SIG;

	for (size_t i = 0; i < n; i++) {
		rc = ecdsa_verify_raw(keys[i], hash, sig);
		if (rc != TB_ERR_SIG)
			return rc; /* verified, or out of memory */
	}
	return TB_ERR_SIG;
}

static int sign1_verify_any(cbor_item_t *arr, struct tb_key *const *keys, size_t n,
                            const uint8_t **payload, size_t *payload_len)
{
	struct sign1_parts p;
	struct sig_input in = {0};
	uint8_t hash[32];
	int rc;

	rc = split_sign1(arr, &p);
	if (rc != TB_OK)
		return rc;
	rc = check_protected_alg(p.prot, p.prot_len);
	if (rc != TB_OK)
		return rc;
	/* TEEP messages always carry their payload. */
	if (!p.payload)
		return TB_ERR_PARSE;
	if (p.sig_len != SIG_BYTES)
		return TB_ERR_SIG;
	in.body_prot = p.prot;
	in.body_prot_len = p.prot_len;
	in.payload = p.payload;
	in.payload_len = p.payload_len;
	rc = sig_structure_hash(&in, hash);
	if (rc == TB_OK)
		rc = verify_with_keys(hash, p.sig, keys, n);
	if (rc == TB_OK) {
		*payload = p.payload;
		*payload_len = p.payload_len;
	}
	return rc;
}

struct sign_parts {
	const uint8_t *body_prot;
	size_t body_prot_len;
	const uint8_t *payload;
	size_t payload_len;
	cbor_item_t **signers;
	size_t n_signers;
};

/* An empty body protected header is the usual case. A non-empty one must
 * be a map, and we understand no critical header parameter in it. */
static int check_body_protected(const uint8_t *prot, size_t len)
{
	cbor_item_t *map;
	int rc = TB_OK;

	if (len == 0)
		return TB_OK;
	map = load_bounded(prot, len);
	if (!map)
		return TB_ERR_PARSE;
	if (!cbor_isa_map(map))
		rc = TB_ERR_PARSE;
	else if (tb_cbor_map_get_int(map, COSE_HDR_CRIT))
		rc = TB_ERR_UNSUP;
	cbor_decref(&map);
	return rc;
}

/* COSE_Signature = [protected bstr, unprotected map, signature bstr] */
static int signer_well_formed(cbor_item_t *s)
{
	const uint8_t *p;
	size_t n;
	cbor_item_t **e;

	if (!cbor_isa_array(s) || cbor_array_size(s) != 3)
		return 0;
	e = cbor_array_handle(s);
	return tb_cbor_get_bytes(e[0], &p, &n) == TB_OK && cbor_isa_map(e[1]) &&
	       tb_cbor_get_bytes(e[2], &p, &n) == TB_OK;
}

/* The whole structure is checked before any signature is: a message with
 * a malformed signer is not a COSE_Sign, even if another signer verifies. */
static int split_sign(cbor_item_t *arr, struct sign_parts *p)
{
	cbor_item_t **e;
	size_t n;

	if (!cbor_isa_array(arr) || cbor_array_size(arr) != 4)
		return TB_ERR_PARSE;
	e = cbor_array_handle(arr);
	if (tb_cbor_get_bytes(e[0], &p->body_prot, &p->body_prot_len) != TB_OK ||
	    !cbor_isa_map(e[1]) || tb_cbor_get_bytes(e[2], &p->payload, &p->payload_len) != TB_OK ||
	    !cbor_isa_array(e[3]))
		return TB_ERR_PARSE; /* a nil (detached) payload is not a TEEP message */
	n = cbor_array_size(e[3]);
	if (n == 0)
		return TB_ERR_PARSE; /* [+ COSE_Signature] */
	if (n > TB_COSE_MAX_SIGNERS)
		return TB_ERR_TOOBIG;
	p->signers = cbor_array_handle(e[3]);
	p->n_signers = n;
	for (size_t i = 0; i < n; i++)
		if (!signer_well_formed(p->signers[i]))
			return TB_ERR_PARSE;
	return check_body_protected(p->body_prot, p->body_prot_len);
}

/* One signer against every key: TB_OK, TB_ERR_SIG, TB_ERR_UNSUP (skip it),
 * TB_ERR_PARSE or TB_ERR_NOMEM. */
static int signer_verify(const struct sign_parts *p, cbor_item_t *s, struct tb_key *const *keys,
                         size_t n)
{
	cbor_item_t **e = cbor_array_handle(s);
	struct sig_input in = {0};
	const uint8_t *sig;
	size_t sig_len;
	uint8_t hash[32];
	int rc;

	if (tb_cbor_get_bytes(e[0], &in.signer_prot, &in.signer_prot_len) != TB_OK ||
	    tb_cbor_get_bytes(e[2], &sig, &sig_len) != TB_OK)
		return TB_ERR_PARSE;
	rc = check_protected_alg(in.signer_prot, in.signer_prot_len);
	if (rc != TB_OK)
		return rc;
	if (sig_len != SIG_BYTES)
		return TB_ERR_SIG;
	in.body_prot = p->body_prot;
	in.body_prot_len = p->body_prot_len;
	in.payload = p->payload;
	in.payload_len = p->payload_len;
	rc = sig_structure_hash(&in, hash);
	if (rc != TB_OK)
		return rc;
	return verify_with_keys(hash, sig, keys, n);
}

static int sign_verify_any(cbor_item_t *arr, struct tb_key *const *keys, size_t n,
                           const uint8_t **payload, size_t *payload_len)
{
	struct sign_parts p;
	size_t unsupported = 0;
	int rc;

	rc = split_sign(arr, &p);
	if (rc != TB_OK)
		return rc;
	for (size_t i = 0; i < p.n_signers; i++) {
		rc = signer_verify(&p, p.signers[i], keys, n);
		if (rc == TB_OK) {
			*payload = p.payload;
			*payload_len = p.payload_len;
			return TB_OK;
		}
		/* A signer we cannot check (an Ed25519 signature for an
		 * Agent that also does ESP256) is skipped, not an error. */
		if (rc == TB_ERR_UNSUP)
			unsupported++;
		else if (rc != TB_ERR_SIG)
			return rc;
	}
	return unsupported == p.n_signers ? TB_ERR_UNSUP : TB_ERR_SIG;
}

/* Tag 18, tag 98, or untagged and told apart by the fourth element: a
 * signature (bstr) in a COSE_Sign1, an array of signers in a COSE_Sign. */
static int is_cose_sign(cbor_item_t *arr, uint64_t tag)
{
	if (tag == TB_COSE_SIGN_TAG)
		return 1;
	if (tag == TB_COSE_SIGN1_TAG || !cbor_isa_array(arr) || cbor_array_size(arr) != 4)
		return 0;
	return cbor_isa_array(cbor_array_handle(arr)[3]);
}

static int check_keys(struct tb_key *const *keys, size_t n)
{
	if (!keys || n == 0)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!keys[i])
			return TB_ERR_INVAL;
	return TB_OK;
}

int tb_cose_verify_any_borrowed(const uint8_t *msg, size_t len, struct tb_key *const *keys,
                                size_t n, const uint8_t **payload, size_t *payload_len,
                                uint8_t **owned)
{
	struct tb_cbor_cur c = tb_cbor_cur_init(msg, len);
	const uint8_t *p = NULL;
	size_t plen = 0;
	cbor_item_t *item = NULL, *arr;
	uint64_t tag;
	int rc;

	if (!msg || !payload || !payload_len || !owned || check_keys(keys, n) != TB_OK)
		return TB_ERR_INVAL;
	*payload = NULL;
	*payload_len = 0;
	*owned = NULL;
	/* as load_bounded(), the byte strings left in msg: a large payload
	 * is not copied to be verified */
	if (tb_cbor_skip(&c, TB_CBOR_MAX_DEPTH, COSE_MAX_ITEMS) != TB_OK || c.p != c.end ||
	    tb_cbor_decode_borrowed(msg, len, &item, NULL) != TB_OK)
		return TB_ERR_PARSE;
	arr = untag(item, TB_COSE_SIGN1_TAG, TB_COSE_SIGN_TAG, &tag);
	if (!arr) {
		tb_cbor_borrowed_free(&item, msg, len);
		return TB_ERR_PARSE;
	}
	cbor_decref(&item); /* the tag alone, or a second reference to arr */
	if (is_cose_sign(arr, tag))
		rc = sign_verify_any(arr, keys, n, &p, &plen);
	else
		rc = sign1_verify_any(arr, keys, n, &p, &plen);
	if (rc == TB_OK) {
		if (p >= msg && plen <= len && p <= msg + (len - plen)) {
			*payload = p;
			*payload_len = plen;
		} else {
			/* an indefinite-length payload: its chunks joined */
			rc = copy_out(p, plen, owned, payload_len);
			*payload = *owned;
		}
	}
	tb_cbor_borrowed_free(&arr, msg, len);
	return rc;
}

int tb_cose_verify_any(const uint8_t *msg, size_t len, struct tb_key *const *keys, size_t n,
                       uint8_t **payload_out, size_t *payload_len)
{
	const uint8_t *p;
	size_t plen;
	uint8_t *owned;
	int rc;

	if (!msg || (payload_out && !payload_len) || check_keys(keys, n) != TB_OK)
		return TB_ERR_INVAL;
	if (payload_out) {
		*payload_out = NULL;
		*payload_len = 0;
	}
	rc = tb_cose_verify_any_borrowed(msg, len, keys, n, &p, &plen, &owned);
	if (rc == TB_OK && payload_out && owned) {
		*payload_out = owned;
		*payload_len = plen;
		return TB_OK;
	}
	free(owned);
	if (rc == TB_OK && payload_out)
		rc = copy_out(p, plen, payload_out, payload_len);
	return rc;
}
