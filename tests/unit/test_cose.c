/* Unit tests of lib/cose.c: P-256 keys, COSE_Sign1 and COSE_Sign. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_cbor.h"
#include "tb_cose.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBTEEP "libteep-signed/"

static uint8_t *load_hex(const char *rel, size_t *len)
{
	char path[512];
	uint8_t *text, *bin;
	size_t tlen;

	snprintf(path, sizeof(path), "%s/vectors/%s", TEST_DATA_DIR, rel);
	assert_int_equal(tb_read_file(path, 1 << 20, &text, &tlen), TB_OK);
	assert_int_equal(tb_hex_decode((const char *)text, tlen, &bin, len), TB_OK);
	free(text);
	return bin;
}

static int load_key(const char *rel, struct tb_key **key, char *err, size_t errlen)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/vectors/%s", TEST_DATA_DIR, rel);
	return tb_key_load_file(path, key, err, errlen);
}

static struct tb_key *must_key(const char *rel)
{
	struct tb_key *key = NULL;
	char err[256];

	assert_int_equal(load_key(rel, &key, err, sizeof(err)), TB_OK);
	return key;
}

static void sign_verify(int alg, uint8_t alg_byte)
{
	static const uint8_t payload[] = "\x82\x04\xa0";
	const uint8_t head[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, alg_byte};
	struct tb_key *key;
	uint8_t *msg, *out;
	size_t len, out_len;

	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_true(tb_key_has_private(key));
	assert_int_equal(tb_cose_sign1(key, alg, payload, 3, 0, NULL, 0, &msg, &len), TB_OK);
	assert_true(len > sizeof(head));
	assert_memory_equal(msg, head, sizeof(head));
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, &out, &out_len), TB_OK);
	assert_int_equal(out_len, 3);
	assert_memory_equal(out, payload, 3);
	free(out);
	free(msg);
	tb_key_free(key);
}

static void cose__sign_then_verify__ok_with_esp256(void **state)
{
	(void)state;
	sign_verify(TB_COSE_ALG_ESP256, 0x28);
}

static void cose__sign_then_verify__ok_with_es256(void **state)
{
	(void)state;
	sign_verify(TB_COSE_ALG_ES256, 0x26);
}

static void cose__sign_with_kid__kid_in_unprotected_header(void **state)
{
	struct tb_key *key;
	uint8_t kid[32], *msg;
	size_t len;

	(void)state;
	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_int_equal(tb_key_thumbprint(key, kid), TB_OK);
	assert_int_equal(tb_cose_sign1(key, TB_COSE_ALG_ESP256, (const uint8_t *)"x", 1, 0, kid,
	                               sizeof(kid), &msg, &len),
	                 TB_OK);
	/* ... h'A10128' {4: h'<32 bytes>'} ... */
	assert_memory_equal(msg + 6, "\xa1\x04\x58\x20", 4);
	assert_memory_equal(msg + 10, kid, sizeof(kid));
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_OK);
	free(msg);
	tb_key_free(key);
}

static const struct {
	const char *file;
	const char *sender;
	const char *other;
	size_t payload_len;
} signed_vectors[] = {
    {LIBTEEP "query_request_cose_sign1.hex", "tam_prime256v1_pub.pem",
     "teep_agent_prime256v1_pub.pem", 51},
    {LIBTEEP "update_cose_sign1.hex", "tam_prime256v1_pub.pem", "teep_agent_prime256v1_pub.pem",
     360},
    {LIBTEEP "query_response_cose_sign1.hex", "teep_agent_prime256v1_pub.pem",
     "tam_prime256v1_pub.pem", 113},
    {LIBTEEP "success_cose_sign1.hex", "teep_agent_prime256v1_pub.pem", "tam_prime256v1_pub.pem",
     21},
    {LIBTEEP "error_cose_sign1.hex", "teep_agent_prime256v1_pub.pem", "tam_prime256v1_pub.pem", 33},
};

static void cose__libteep_vectors__verify_with_sender_key_only(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(signed_vectors) / sizeof(signed_vectors[0]); i++) {
		char rel[128];
		struct tb_key *sender, *other;
		uint8_t *msg, *payload;
		size_t len, plen;

		snprintf(rel, sizeof(rel), LIBTEEP "%s", signed_vectors[i].sender);
		sender = must_key(rel);
		snprintf(rel, sizeof(rel), LIBTEEP "%s", signed_vectors[i].other);
		other = must_key(rel);
		msg = load_hex(signed_vectors[i].file, &len);
		assert_int_equal(tb_cose_sign1_verify(msg, len, sender, NULL, 0, &payload, &plen),
		                 TB_OK);
		assert_int_equal(plen, signed_vectors[i].payload_len);
		free(payload);
		assert_int_equal(tb_cose_sign1_verify(msg, len, other, NULL, 0, NULL, NULL),
		                 TB_ERR_SIG);
		free(msg);
		tb_key_free(sender);
		tb_key_free(other);
	}
}

static void cose__flipped_bit__fails(void **state)
{
	struct tb_key *key = must_key(LIBTEEP "teep_agent_prime256v1_pub.pem");
	size_t len;
	uint8_t *msg = load_hex(LIBTEEP "success_cose_sign1.hex", &len);

	(void)state;
	/* in the payload (last byte of the token, before the h'58 40'
	 * signature head), then in the signature */
	assert_int_equal(msg[len - 67], 0xaf);
	msg[len - 67] ^= 0x01;
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_SIG);
	msg[len - 67] ^= 0x01;
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_OK);
	msg[len - 1] ^= 0x80;
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_SIG);
	free(msg);
	tb_key_free(key);
}

static void cose__untagged__accepted(void **state)
{
	struct tb_key *key = must_key(LIBTEEP "tam_prime256v1_pub.pem");
	size_t len;
	uint8_t *msg = load_hex(LIBTEEP "query_request_cose_sign1.hex", &len);

	(void)state;
	assert_int_equal(msg[0], 0xd2);
	assert_int_equal(tb_cose_sign1_verify(msg + 1, len - 1, key, NULL, 0, NULL, NULL), TB_OK);
	free(msg);
	tb_key_free(key);
}

static void cose__other_tag__rejected(void **state)
{
	struct tb_key *key = must_key(LIBTEEP "tam_prime256v1_pub.pem");
	size_t len;
	uint8_t *msg = load_hex(LIBTEEP "query_request_cose_sign1.hex", &len);

	(void)state;
	msg[0] = 0xd1; /* tag 17: COSE_Mac0 */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_PARSE);
	free(msg);
	tb_key_free(key);
}

static void cose__eddsa_algorithms__unsupported(void **state)
{
	struct tb_key *key = must_key(LIBTEEP "tam_prime256v1_pub.pem");
	size_t len;
	uint8_t *msg = load_hex(LIBTEEP "query_request_cose_sign1.hex", &len);

	(void)state;
	assert_int_equal(msg[5], 0x26); /* alg -7 in h'A10126' */
	msg[5] = 0x27;                  /* -8: EdDSA */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_UNSUP);
	msg[5] = 0x32; /* -19: Ed25519 */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_UNSUP);
	msg[5] = 0x24; /* -5: not a signature algorithm we know */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_UNSUP);
	msg[5] = 0x28; /* -9 is supported: now the signature is simply wrong */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_SIG);
	free(msg);
	tb_key_free(key);
}

static void cose__missing_algorithm__parse_error(void **state)
{
	struct tb_key *key;
	/* [h'', {}, h'00', h'00' x 64] */
	uint8_t msg[4 + 2 + 3 + 64] = {0x84, 0x40, 0xa0, 0x41, 0x00, 0x58, 0x40};

	(void)state;
	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_int_equal(tb_cose_sign1_verify(msg, 7 + 64, key, NULL, 0, NULL, NULL), TB_ERR_PARSE);
	/* not an array at all */
	assert_int_equal(tb_cose_sign1_verify(msg + 1, 1, key, NULL, 0, NULL, NULL), TB_ERR_PARSE);
	tb_key_free(key);
}

static void cose__ed25519_key__refused_with_reason(void **state)
{
	struct tb_key *key = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(load_key(LIBTEEP "tam_ed25519_pub.pem", &key, err, sizeof(err)),
	                 TB_ERR_UNSUP);
	assert_null(key);
	assert_non_null(strstr(err, "Ed25519"));
}

static void cose__p384_key__refused_with_reason(void **state)
{
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context pk;
	unsigned char pem[2048];
	struct tb_key *key = NULL;
	char err[256] = "";

	(void)state;
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&pk);
	assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
	assert_int_equal(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP384R1, mbedtls_pk_ec(pk),
	                                     mbedtls_ctr_drbg_random, &drbg),
	                 0);
	assert_int_equal(mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem)), 0);
	assert_int_equal(tb_key_load_pem(pem, strlen((char *)pem), &key, err, sizeof(err)),
	                 TB_ERR_UNSUP);
	assert_null(key);
	assert_non_null(strstr(err, "P-256"));
	mbedtls_pk_free(&pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&ent);
}

static void cose__garbage_pem__parse_error(void **state)
{
	struct tb_key *key = NULL;
	char err[256] = "";
	static const char pem[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

	(void)state;
	assert_int_equal(
	    tb_key_load_pem((const uint8_t *)pem, sizeof(pem) - 1, &key, err, sizeof(err)),
	    TB_ERR_PARSE);
	assert_true(strlen(err) > 0);
}

static void cose__detached_payload__verifies_only_when_given(void **state)
{
	static const uint8_t payload[] = {1, 2, 3, 4};
	struct tb_key *key;
	uint8_t *msg;
	size_t len;

	(void)state;
	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_int_equal(tb_cose_sign1(key, TB_COSE_ALG_ESP256, payload, sizeof(payload), 1, NULL,
	                               0, &msg, &len),
	                 TB_OK);
	assert_int_equal(msg[7], 0xf6); /* payload: nil */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, payload, sizeof(payload), NULL, NULL),
	                 TB_OK);
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, payload, 3, NULL, NULL), TB_ERR_SIG);
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_INVAL);
	free(msg);
	tb_key_free(key);
}

static void cose__pem_round_trip__same_key(void **state)
{
	struct tb_key *key, *priv, *pub;
	char *priv_pem, *pub_pem;
	uint8_t t1[32], t2[32], t3[32], *msg;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_int_equal(tb_key_to_pem(key, 1, &priv_pem), TB_OK);
	assert_int_equal(tb_key_to_pem(key, 0, &pub_pem), TB_OK);
	assert_non_null(strstr(priv_pem, "PRIVATE KEY"));
	assert_non_null(strstr(pub_pem, "BEGIN PUBLIC KEY"));
	assert_int_equal(
	    tb_key_load_pem((uint8_t *)priv_pem, strlen(priv_pem), &priv, err, sizeof(err)), TB_OK);
	assert_int_equal(
	    tb_key_load_pem((uint8_t *)pub_pem, strlen(pub_pem), &pub, err, sizeof(err)), TB_OK);
	assert_true(tb_key_has_private(priv));
	assert_false(tb_key_has_private(pub));
	assert_int_equal(tb_key_thumbprint(key, t1), TB_OK);
	assert_int_equal(tb_key_thumbprint(priv, t2), TB_OK);
	assert_int_equal(tb_key_thumbprint(pub, t3), TB_OK);
	assert_memory_equal(t1, t2, 32);
	assert_memory_equal(t1, t3, 32);
	/* signed with the reloaded private key, verified with the public one */
	assert_int_equal(tb_cose_sign1(priv, TB_COSE_ALG_ESP256, t1, 32, 0, NULL, 0, &msg, &len),
	                 TB_OK);
	assert_int_equal(tb_cose_sign1_verify(msg, len, pub, NULL, 0, NULL, NULL), TB_OK);
	free(msg);
	/* a public key cannot sign, nor give a private PEM */
	assert_int_equal(tb_cose_sign1(pub, TB_COSE_ALG_ESP256, t1, 32, 0, NULL, 0, &msg, &len),
	                 TB_ERR_INVAL);
	assert_int_equal(tb_key_to_pem(pub, 1, &priv_pem), TB_ERR_INVAL);
	free(priv_pem);
	free(pub_pem);
	tb_key_free(key);
	tb_key_free(priv);
	tb_key_free(pub);
}

static void cose__sign_with_eddsa__unsupported(void **state)
{
	struct tb_key *key;
	uint8_t *msg = NULL;
	size_t len;

	(void)state;
	assert_int_equal(tb_key_generate(&key), TB_OK);
	assert_int_equal(
	    tb_cose_sign1(key, TB_COSE_ALG_EDDSA, (const uint8_t *)"x", 1, 0, NULL, 0, &msg, &len),
	    TB_ERR_UNSUP);
	assert_int_equal(tb_cose_sign1(key, TB_COSE_ALG_ED25519, (const uint8_t *)"x", 1, 0, NULL,
	                               0, &msg, &len),
	                 TB_ERR_UNSUP);
	assert_null(msg);
	tb_key_free(key);
}

static void cose__peek_payload__sign1_and_sign(void **state)
{
	/* COSE_Sign 98([h'', {}, h'010203', []]) and the same untagged */
	static const uint8_t sign[] = {0xd8, 0x62, 0x84, 0x40, 0xa0, 0x43, 1, 2, 3, 0x80};
	static const uint8_t nil_payload[] = {0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40};
	/* a float where the payload goes (found by fuzzing: libcbor asserts) */
	static const uint8_t float_payload[] = {0x84, 0x40, 0xa0, 0xfa, 0x42,
	                                        0x42, 0xbf, 0x7d, 0x40};
	size_t len, plen;
	uint8_t *msg = load_hex(LIBTEEP "success_cose_sign1.hex", &len), *p;

	(void)state;
	assert_int_equal(tb_cose_peek_payload(msg, len, &p, &plen), TB_OK);
	assert_int_equal(plen, 21);
	assert_int_equal(p[0], 0x82);
	assert_int_equal(p[1], 0x05); /* Success, old numbering */
	free(p);
	assert_int_equal(tb_cose_peek_payload(sign, sizeof(sign), &p, &plen), TB_OK);
	assert_int_equal(plen, 3);
	assert_memory_equal(p, "\x01\x02\x03", 3);
	free(p);
	assert_int_equal(tb_cose_peek_payload(sign + 2, sizeof(sign) - 2, &p, &plen), TB_OK);
	assert_int_equal(plen, 3);
	free(p);
	assert_int_equal(tb_cose_peek_payload(nil_payload, sizeof(nil_payload), &p, &plen),
	                 TB_ERR_NOTFOUND);
	assert_int_equal(tb_cose_peek_payload(float_payload, sizeof(float_payload), &p, &plen),
	                 TB_ERR_PARSE);
	assert_int_equal(tb_cose_peek_payload(msg, len - 1, &p, &plen), TB_ERR_PARSE);
	free(msg);
}

/* ---- COSE_Sign ---- */

/* A TEEP Success in draft-26 numbering: [4, {}] */
static const uint8_t small_payload[] = {0x82, 0x04, 0xa0};

static void gen_keys(struct tb_key **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tb_key_generate(&keys[i]), TB_OK);
}

static void free_keys(struct tb_key **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tb_key_free(keys[i]);
}

static void sign_esp256(struct tb_key *const *keys, size_t n, uint8_t **msg, size_t *len)
{
	int algs[TB_COSE_MAX_SIGNERS + 1];

	for (size_t i = 0; i < n; i++)
		algs[i] = TB_COSE_ALG_ESP256;
	assert_int_equal(
	    tb_cose_sign_multi(keys, algs, n, small_payload, sizeof(small_payload), msg, len),
	    TB_OK);
}

static void expect_payload(const uint8_t *msg, size_t len, struct tb_key *const *keys, size_t n)
{
	uint8_t *p = NULL;
	size_t plen = 0;

	const uint8_t *in;
	uint8_t *owned;

	assert_int_equal(tb_cose_verify_any(msg, len, keys, n, &p, &plen), TB_OK);
	assert_int_equal(plen, sizeof(small_payload));
	assert_memory_equal(p, small_payload, plen);
	free(p);
	/* borrowed: the payload where it is in msg, no copy */
	assert_int_equal(tb_cose_verify_any_borrowed(msg, len, keys, n, &in, &plen, &owned), TB_OK);
	assert_int_equal(plen, sizeof(small_payload));
	if (tb_cbor_borrows()) {
		assert_null(owned);
		assert_true(in >= msg && in + plen <= msg + len);
	}
	assert_memory_equal(in, small_payload, plen);
	free(owned);
}

/* A COSE_Signature in algorithm alg with a signature of 64 fixed bytes:
 * what an Ed25519 signer looks like to a verifier without Ed25519. */
static cbor_item_t *fake_signer(int alg)
{
	const uint8_t prot[] = {0xa1, 0x01, (uint8_t)(0x20 | (-1 - alg))};
	uint8_t sig[64];
	cbor_item_t *s = cbor_new_definite_array(3);

	memset(sig, 0x5a, sizeof(sig));
	assert_non_null(s);
	assert_int_equal(tb_cbor_array_push(s, tb_cbor_bytes(prot, sizeof(prot))), TB_OK);
	assert_int_equal(tb_cbor_array_push(s, cbor_new_definite_map(0)), TB_OK);
	assert_int_equal(tb_cbor_array_push(s, tb_cbor_bytes(sig, sizeof(sig))), TB_OK);
	return s;
}

/* Serialize [e0, e1, e2, signers] of a COSE_Sign, tagged 98 or not. Takes
 * over the reference to signers. */
static void rebuild(cbor_item_t *const *e, cbor_item_t *signers, int tagged, uint8_t **out,
                    size_t *out_len)
{
	cbor_item_t *arr = cbor_new_definite_array(4), *top;

	assert_non_null(arr);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tb_cbor_array_push(arr, cbor_incref(e[i])), TB_OK);
	assert_int_equal(tb_cbor_array_push(arr, signers), TB_OK);
	top = tagged ? cbor_build_tag(TB_COSE_SIGN_TAG, arr) : cbor_incref(arr);
	assert_non_null(top);
	assert_int_equal(tb_cbor_serialize(top, out, out_len), TB_OK);
	cbor_decref(&top);
	cbor_decref(&arr);
}

/* Take the COSE_Sign msg apart and put it back together with n_fake fake
 * signers (fake_algs) first, followed by msg's own signers when keep_real. */
static void with_signers(const uint8_t *msg, size_t len, const int *fake_algs, size_t n_fake,
                         int keep_real, int tagged, uint8_t **out, size_t *out_len)
{
	cbor_item_t *top = tb_cbor_load(msg, len, NULL), *arr, *real, *signers;
	cbor_item_t **e;

	assert_non_null(top);
	assert_true(cbor_isa_tag(top));
	assert_int_equal(cbor_tag_value(top), TB_COSE_SIGN_TAG);
	arr = cbor_tag_item(top);
	e = cbor_array_handle(arr);
	real = e[3];
	signers = cbor_new_definite_array(n_fake + cbor_array_size(real));
	assert_non_null(signers);
	for (size_t i = 0; i < n_fake; i++)
		assert_int_equal(tb_cbor_array_push(signers, fake_signer(fake_algs[i])), TB_OK);
	for (size_t i = 0; keep_real && i < cbor_array_size(real); i++)
		assert_int_equal(
		    tb_cbor_array_push(signers, cbor_incref(cbor_array_handle(real)[i])), TB_OK);
	rebuild(e, signers, tagged, out, out_len);
	cbor_decref(&arr);
	cbor_decref(&top);
}

static void cose__sign_multi_one_signer__round_trip(void **state)
{
	struct tb_key *key;
	uint8_t *msg;
	size_t len;

	(void)state;
	gen_keys(&key, 1);
	sign_esp256(&key, 1, &msg, &len);
	/* 98([h'', {}, h'8204A0', [...]]) */
	assert_memory_equal(msg, "\xd8\x62\x84\x40\xa0\x43\x82\x04\xa0\x81", 10);
	expect_payload(msg, len, &key, 1);
	/* it is not a COSE_Sign1 */
	assert_int_equal(tb_cose_sign1_verify(msg, len, key, NULL, 0, NULL, NULL), TB_ERR_PARSE);
	free(msg);
	free_keys(&key, 1);
}

static void cose__sign_multi_two_signers__each_key_alone_verifies(void **state)
{
	struct tb_key *keys[3];
	int algs[2] = {TB_COSE_ALG_ESP256, TB_COSE_ALG_ES256};
	uint8_t *msg, *p = (uint8_t *)"not set";
	size_t len, plen = 1;

	(void)state;
	gen_keys(keys, 3);
	assert_int_equal(
	    tb_cose_sign_multi(keys, algs, 2, small_payload, sizeof(small_payload), &msg, &len),
	    TB_OK);
	assert_memory_equal(msg + 9, "\x82", 1); /* two signers */
	expect_payload(msg, len, &keys[0], 1);
	expect_payload(msg, len, &keys[1], 1);
	expect_payload(msg, len, keys, 2);
	/* a third key, or the second signer's key after a stranger's */
	assert_int_equal(tb_cose_verify_any(msg, len, &keys[2], 1, &p, &plen), TB_ERR_SIG);
	assert_null(p);
	assert_int_equal(plen, 0);
	expect_payload(msg, len, &keys[1], 2);
	free(msg);
	free_keys(keys, 3);
}

/* The signed bytes are RFC 9052's Sig_structure for a COSE_Signature,
 * checked here with mbedtls directly rather than through lib/cose.c. */
static void cose__sign_multi__signature_over_rfc9052_sig_structure(void **state)
{
	static const uint8_t tbs_head[] = {0x85, 0x69, 'S',  'i',  'g',  'n',  'a',  't',  'u',
	                                   'r',  'e',  0x40, 0x43, 0xa1, 0x01, 0x28, 0x40, 0x43};
	uint8_t tbs[sizeof(tbs_head) + sizeof(small_payload)], hash[32], kid[32], *msg;
	struct tb_key *key;
	mbedtls_pk_context pk;
	mbedtls_ecp_group grp;
	mbedtls_mpi r, s;
	size_t len, at;
	char *pem;

	(void)state;
	gen_keys(&key, 1);
	sign_esp256(&key, 1, &msg, &len);
	assert_int_equal(tb_key_thumbprint(key, kid), TB_OK);
	/* ... [[h'A10128', {4: h'<kid>'}, h'<64 bytes>']] */
	at = 10;
	assert_int_equal(len, at + 1 + 4 + 4 + 32 + 2 + 64);
	assert_memory_equal(msg + at, "\x83\x43\xa1\x01\x28\xa1\x04\x58\x20", 9);
	assert_memory_equal(msg + at + 9, kid, 32);
	assert_memory_equal(msg + at + 41, "\x58\x40", 2);

	memcpy(tbs, tbs_head, sizeof(tbs_head));
	memcpy(tbs + sizeof(tbs_head), small_payload, sizeof(small_payload));
	assert_int_equal(mbedtls_sha256_ret(tbs, sizeof(tbs), hash, 0), 0);
	assert_int_equal(tb_key_to_pem(key, 0, &pem), TB_OK);
	mbedtls_pk_init(&pk);
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	assert_int_equal(
	    mbedtls_pk_parse_public_key(&pk, (const unsigned char *)pem, strlen(pem) + 1), 0);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1), 0);
	assert_int_equal(mbedtls_mpi_read_binary(&r, msg + at + 43, 32), 0);
	assert_int_equal(mbedtls_mpi_read_binary(&s, msg + at + 75, 32), 0);
	assert_int_equal(mbedtls_ecdsa_verify(&grp, hash, 32, &mbedtls_pk_ec(pk)->Q, &r, &s), 0);
	/* and not over the COSE_Sign1 context */
	tbs[10] = '1';
	assert_int_equal(mbedtls_sha256_ret(tbs, sizeof(tbs), hash, 0), 0);
	assert_int_not_equal(mbedtls_ecdsa_verify(&grp, hash, 32, &mbedtls_pk_ec(pk)->Q, &r, &s),
	                     0);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	mbedtls_ecp_group_free(&grp);
	mbedtls_pk_free(&pk);
	free(pem);
	free(msg);
	free_keys(&key, 1);
}

static void cose__sign_eddsa_signer_then_esp256__verifies(void **state)
{
	const int ed25519[] = {TB_COSE_ALG_ED25519};
	struct tb_key *key;
	uint8_t *msg, *mixed;
	size_t len, mixed_len;

	(void)state;
	gen_keys(&key, 1);
	sign_esp256(&key, 1, &msg, &len);
	with_signers(msg, len, ed25519, 1, 1, 1, &mixed, &mixed_len);
	assert_memory_equal(mixed + 9, "\x82\x83\x43\xa1\x01\x32", 6); /* Ed25519 first */
	expect_payload(mixed, mixed_len, &key, 1);
	free(mixed);
	/* the same untagged */
	with_signers(msg, len, ed25519, 1, 1, 0, &mixed, &mixed_len);
	assert_int_equal(mixed[0], 0x84);
	expect_payload(mixed, mixed_len, &key, 1);
	free(mixed);
	free(msg);
	free_keys(&key, 1);
}

static void cose__sign_only_eddsa_signers__unsupported(void **state)
{
	const int eddsa[] = {TB_COSE_ALG_ED25519, TB_COSE_ALG_EDDSA};
	struct tb_key *key;
	uint8_t *msg, *only;
	size_t len, only_len;

	(void)state;
	gen_keys(&key, 1);
	sign_esp256(&key, 1, &msg, &len);
	with_signers(msg, len, eddsa, 2, 0, 1, &only, &only_len);
	assert_int_equal(tb_cose_verify_any(only, only_len, &key, 1, NULL, NULL), TB_ERR_UNSUP);
	free(only);
	with_signers(msg, len, eddsa, 1, 0, 1, &only, &only_len);
	assert_int_equal(tb_cose_verify_any(only, only_len, &key, 1, NULL, NULL), TB_ERR_UNSUP);
	free(only);
	/* EdDSA next to an ESP256 signature that fails: that is a bad signature */
	with_signers(msg, len, eddsa, 1, 1, 1, &only, &only_len);
	only[only_len - 1] ^= 0x01;
	assert_int_equal(tb_cose_verify_any(only, only_len, &key, 1, NULL, NULL), TB_ERR_SIG);
	free(only);
	free(msg);
	free_keys(&key, 1);
}

static void cose__sign_wrong_keys__bad_signature(void **state)
{
	struct tb_key *keys[4];
	uint8_t *msg;
	size_t len;

	(void)state;
	gen_keys(keys, 4);
	sign_esp256(keys, 2, &msg, &len);
	assert_int_equal(tb_cose_verify_any(msg, len, &keys[2], 2, NULL, NULL), TB_ERR_SIG);
	/* a changed payload byte breaks both signatures */
	assert_int_equal(msg[8], 0xa0);
	msg[8] = 0xa1;
	assert_int_equal(tb_cose_verify_any(msg, len, keys, 2, NULL, NULL), TB_ERR_SIG);
	free(msg);
	free_keys(keys, 4);
}

static void cose__sign_too_many_signers__refused(void **state)
{
	int algs[TB_COSE_MAX_SIGNERS + 1];
	struct tb_key *keys[TB_COSE_MAX_SIGNERS + 1];
	uint8_t *msg = NULL, *big;
	size_t len = 0, big_len;

	(void)state;
	gen_keys(keys, TB_COSE_MAX_SIGNERS + 1);
	for (size_t i = 0; i <= TB_COSE_MAX_SIGNERS; i++)
		algs[i] = TB_COSE_ALG_ESP256;
	assert_int_equal(tb_cose_sign_multi(keys, algs, TB_COSE_MAX_SIGNERS + 1, small_payload,
	                                    sizeof(small_payload), &msg, &len),
	                 TB_ERR_TOOBIG);
	assert_null(msg);
	/* the most we make, we also accept; one more is refused before any
	 * signature is checked, even though the last signer is valid */
	sign_esp256(keys, TB_COSE_MAX_SIGNERS, &msg, &len);
	expect_payload(msg, len, &keys[TB_COSE_MAX_SIGNERS - 1], 1);
	with_signers(msg, len, algs, 1, 1, 1, &big, &big_len);
	assert_int_equal(tb_cose_verify_any(big, big_len, keys, 1, NULL, NULL), TB_ERR_TOOBIG);
	free(big);
	free(msg);
	free_keys(keys, TB_COSE_MAX_SIGNERS + 1);
}

static void cose__sign_multi_bad_arguments__refused(void **state)
{
	struct tb_key *keys[2] = {NULL, NULL};
	int algs[2] = {TB_COSE_ALG_ESP256, TB_COSE_ALG_ED25519};
	uint8_t *msg = NULL;
	size_t len = 0;
	char *pem;
	char err[128];

	(void)state;
	gen_keys(keys, 1);
	assert_int_equal(tb_cose_sign_multi(keys, algs, 0, small_payload, 3, &msg, &len),
	                 TB_ERR_INVAL);
	assert_int_equal(tb_cose_sign_multi(keys, algs, 2, small_payload, 3, &msg, &len),
	                 TB_ERR_INVAL); /* keys[1] is NULL */
	keys[1] = keys[0];
	assert_int_equal(tb_cose_sign_multi(keys, algs, 2, small_payload, 3, &msg, &len),
	                 TB_ERR_UNSUP); /* Ed25519 */
	assert_int_equal(tb_key_to_pem(keys[0], 0, &pem), TB_OK);
	assert_int_equal(tb_key_load_pem((uint8_t *)pem, strlen(pem), &keys[1], err, sizeof(err)),
	                 TB_OK);
	algs[1] = TB_COSE_ALG_ESP256;
	assert_int_equal(tb_cose_sign_multi(keys, algs, 2, small_payload, 3, &msg, &len),
	                 TB_ERR_INVAL); /* a public key cannot sign */
	assert_null(msg);
	assert_int_equal(tb_cose_verify_any(small_payload, 3, keys, 0, NULL, NULL), TB_ERR_INVAL);
	free(pem);
	free_keys(keys, 2);
}

/* Every truncation of a valid COSE_Sign, and hand-made structures that
 * are almost one, are refused as not a COSE message. */
static void cose__sign_truncated_or_malformed__rejected(void **state)
{
	static const struct {
		const char *what;
		const uint8_t bytes[16];
		size_t len;
		int rc;
	} bad[] = {
	    {"no signers", {0xd8, 0x62, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x80}, 8, TB_ERR_PARSE},
	    {"signer not an array",
	     {0xd8, 0x62, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x81, 0x40},
	     9,
	     TB_ERR_PARSE},
	    {"signer of two",
	     {0xd8, 0x62, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x81, 0x82, 0x40, 0xa0},
	     11,
	     TB_ERR_PARSE},
	    {"nil payload",
	     {0xd8, 0x62, 0x84, 0x40, 0xa0, 0xf6, 0x81, 0x83, 0x40, 0xa0, 0x40},
	     11,
	     TB_ERR_PARSE},
	    {"signer without alg",
	     {0x84, 0x40, 0xa0, 0x41, 0x00, 0x81, 0x83, 0x40, 0xa0, 0x40},
	     10,
	     TB_ERR_PARSE},
	    {"tag 98 on a COSE_Sign1 shape",
	     {0xd8, 0x62, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x40},
	     8,
	     TB_ERR_PARSE},
	    {"tag 18 on a COSE_Sign shape",
	     {0xd2, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x81, 0x83, 0x40, 0xa0, 0x40},
	     11,
	     TB_ERR_PARSE},
	    {"body protected not a map",
	     {0xd8, 0x62, 0x84, 0x41, 0x01, 0xa0, 0x41, 0x00, 0x81, 0x83, 0x43, 0xa1, 0x01, 0x28,
	      0xa0, 0x40},
	     16,
	     TB_ERR_PARSE},
	    {"critical body header",
	     {0xd8, 0x62, 0x84, 0x44, 0xa1, 0x02, 0x81, 0x01, 0xa0, 0x41, 0x00, 0x81, 0x83, 0x40,
	      0xa0, 0x40},
	     16,
	     TB_ERR_UNSUP},
	};
	struct tb_key *key;
	uint8_t *msg, *p = NULL;
	size_t len, plen = 0;

	(void)state;
	gen_keys(&key, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tb_cose_verify_any(bad[i].bytes, bad[i].len, &key, 1, &p, &plen);

		if (rc != bad[i].rc)
			fail_msg("%s: %d, expected %d", bad[i].what, rc, bad[i].rc);
		assert_null(p);
	}
	sign_esp256(&key, 1, &msg, &len);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(tb_cose_verify_any(msg, n, &key, 1, &p, &plen), TB_ERR_PARSE);
	assert_null(p);
	expect_payload(msg, len, &key, 1);
	free(msg);
	free_keys(&key, 1);
}

static void cose__verify_any_sign1__tagged_untagged_and_several_keys(void **state)
{
	struct tb_key *keys[2];
	size_t len, plen;
	uint8_t *msg = load_hex(LIBTEEP "query_request_cose_sign1.hex", &len), *p;

	(void)state;
	keys[0] = must_key(LIBTEEP "teep_agent_prime256v1_pub.pem");
	keys[1] = must_key(LIBTEEP "tam_prime256v1_pub.pem");
	assert_int_equal(tb_cose_verify_any(msg, len, keys, 2, &p, &plen), TB_OK);
	assert_int_equal(plen, 51);
	free(p);
	assert_int_equal(tb_cose_verify_any(msg + 1, len - 1, keys, 2, NULL, NULL), TB_OK);
	assert_int_equal(tb_cose_verify_any(msg, len, keys, 1, NULL, NULL), TB_ERR_SIG);
	msg[5] = 0x32; /* -19: Ed25519 */
	assert_int_equal(tb_cose_verify_any(msg, len, keys, 2, NULL, NULL), TB_ERR_UNSUP);
	msg[0] = 0xd1; /* tag 17: COSE_Mac0 */
	assert_int_equal(tb_cose_verify_any(msg, len, keys, 2, NULL, NULL), TB_ERR_PARSE);
	free(msg);
	free_keys(keys, 2);
}

struct verify_job {
	const struct tb_key *key;
	const uint8_t *msg;
	size_t len;
	int failures;
};

static void *verify_many(void *arg)
{
	struct verify_job *job = arg;

	for (int i = 0; i < 20; i++)
		if (tb_cose_sign1_verify(job->msg, job->len, job->key, NULL, 0, NULL, NULL) !=
		    TB_OK)
			job->failures++;
	return NULL;
}

static void cose__one_key__verifies_from_several_threads(void **state)
{
	struct tb_key *key = must_key(LIBTEEP "tam_prime256v1_pub.pem");
	size_t len;
	uint8_t *msg = load_hex(LIBTEEP "update_cose_sign1.hex", &len);
	struct verify_job jobs[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct verify_job){key, msg, len, 0};
		assert_int_equal(pthread_create(&th[i], NULL, verify_many, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].failures, 0);
	}
	free(msg);
	tb_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cose__sign_then_verify__ok_with_esp256),
	    cmocka_unit_test(cose__sign_then_verify__ok_with_es256),
	    cmocka_unit_test(cose__sign_with_kid__kid_in_unprotected_header),
	    cmocka_unit_test(cose__libteep_vectors__verify_with_sender_key_only),
	    cmocka_unit_test(cose__flipped_bit__fails),
	    cmocka_unit_test(cose__untagged__accepted),
	    cmocka_unit_test(cose__other_tag__rejected),
	    cmocka_unit_test(cose__eddsa_algorithms__unsupported),
	    cmocka_unit_test(cose__missing_algorithm__parse_error),
	    cmocka_unit_test(cose__ed25519_key__refused_with_reason),
	    cmocka_unit_test(cose__p384_key__refused_with_reason),
	    cmocka_unit_test(cose__garbage_pem__parse_error),
	    cmocka_unit_test(cose__detached_payload__verifies_only_when_given),
	    cmocka_unit_test(cose__pem_round_trip__same_key),
	    cmocka_unit_test(cose__sign_with_eddsa__unsupported),
	    cmocka_unit_test(cose__peek_payload__sign1_and_sign),
	    cmocka_unit_test(cose__one_key__verifies_from_several_threads),
	    cmocka_unit_test(cose__sign_multi_one_signer__round_trip),
	    cmocka_unit_test(cose__sign_multi_two_signers__each_key_alone_verifies),
	    cmocka_unit_test(cose__sign_multi__signature_over_rfc9052_sig_structure),
	    cmocka_unit_test(cose__sign_eddsa_signer_then_esp256__verifies),
	    cmocka_unit_test(cose__sign_only_eddsa_signers__unsupported),
	    cmocka_unit_test(cose__sign_wrong_keys__bad_signature),
	    cmocka_unit_test(cose__sign_too_many_signers__refused),
	    cmocka_unit_test(cose__sign_multi_bad_arguments__refused),
	    cmocka_unit_test(cose__sign_truncated_or_malformed__rejected),
	    cmocka_unit_test(cose__verify_any_sign1__tagged_untagged_and_several_keys),
	};
	return cmocka_run_group_tests_name("cose", tests, NULL, NULL);
}
