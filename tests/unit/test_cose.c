/* Unit tests of lib/cose.c: P-256 keys and COSE_Sign1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_cose.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

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
	};
	return cmocka_run_group_tests_name("cose", tests, NULL, NULL);
}
