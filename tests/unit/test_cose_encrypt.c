/* Unit tests of lib/cose_encrypt.c: AES key wrap, the draft's Appendix E
 * example 3 COSE_Encrypt, round trips and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_cose_encrypt.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <mbedtls/sha256.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameter 19 (encryption-info) and 18 (content) of the install sequence
 * in tests/data/vectors/suit/suit_personalization.hex. */
static const char EX3_INFO[] =
    "D8608440A20139FFFD055067E3BA7CD42D02BBC39C508B5EA0F1C4F6818344A101381CA120A4010220012158"
    "20F2452399667F57993B14C5F1107F667884854C190894FC08531C1E2290A7BA19225820275EDDE29FD75C93"
    "93AFFA706F8FAD3C49D03D67D47F8B0C027BE5F0BCA884CB58187D806DA1ACEC6F704D803F0CFE7420525C81"
    "E1957699FCCE";
static const char EX3_CT[] =
    "6D5BE4F569E98AE01F38B071EF025437B742FF28854AB32C868BC6A76CD33B5CA112FF22BA95EA4672B7199C"
    "89A7829183794A21A6BE345C4371DCB0DC";
static const char EX3_PT[] =
    "{\"name\":\"FOO Bar\",\"secret\":\"0123456789abfcdef0123456789abcd\"}";

static uint8_t *hex(const char *h, size_t *len)
{
	uint8_t *b;

	assert_int_equal(tb_hex_decode(h, strlen(h), &b, len), TB_OK);
	return b;
}

static struct tb_key *load_key(const char *rel)
{
	char path[512], err[256];
	struct tb_key *key = NULL;

	snprintf(path, sizeof(path), "%s/vectors/%s", TEST_DATA_DIR, rel);
	assert_int_equal(tb_key_load_file(path, &key, err, sizeof(err)), TB_OK);
	return key;
}

/* RFC 3394 section 4.1: 128-bit key data with a 128-bit KEK. */
static void test_kw_rfc3394(void **state)
{
	static const uint8_t kek[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	size_t n, wn;
	uint8_t *key = hex("00112233445566778899AABBCCDDEEFF", &n);
	uint8_t *want = hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", &wn);
	uint8_t out[24], back[16];

	(void)state;
	assert_int_equal(tb_aes_kw_wrap(kek, key, n, out), TB_OK);
	assert_memory_equal(out, want, wn);
	assert_int_equal(tb_aes_kw_unwrap(kek, out, sizeof(out), back), TB_OK);
	assert_memory_equal(back, key, n);
	out[5] ^= 1;
	assert_int_equal(tb_aes_kw_unwrap(kek, out, sizeof(out), back), TB_ERR_SIG);
	assert_int_equal(tb_aes_kw_unwrap(kek, out, 12, back), TB_ERR_INVAL);
	assert_int_equal(tb_aes_kw_wrap(kek, key, 12, out), TB_ERR_INVAL);
	free(key);
	free(want);
}

static void test_example3(void **state)
{
	struct tb_key *dev = load_key("suit/appendixE_device_esdh_private_key.pem");
	size_t il, cl, pl;
	uint8_t *info = hex(EX3_INFO, &il), *ct = hex(EX3_CT, &cl), *pt = NULL;
	char err[160];

	(void)state;
	assert_int_equal(tb_cose_decrypt_detached(info, il, dev, TB_SUIT_KDF_OTHER, ct, cl, &pt,
	                                          &pl, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(pl, strlen(EX3_PT));
	assert_memory_equal(pt, EX3_PT, pl);
	free(pt);
	/* Another SuppPubInfo.other derives another KEK: the unwrap fails. */
	assert_int_equal(
	    tb_cose_decrypt_detached(info, il, dev, NULL, ct, cl, &pt, &pl, err, sizeof(err)),
	    TB_ERR_SIG);
	assert_non_null(strstr(err, "unwrap"));
	assert_null(pt);
	tb_key_free(dev);
	free(info);
	free(ct);
}

static void test_example3_wrong_key(void **state)
{
	struct tb_key *other = NULL;
	size_t il, cl, pl;
	uint8_t *info = hex(EX3_INFO, &il), *ct = hex(EX3_CT, &cl), *pt = NULL;
	char err[160];

	(void)state;
	assert_int_equal(tb_key_generate(&other), TB_OK);
	assert_int_equal(tb_cose_decrypt_detached(info, il, other, TB_SUIT_KDF_OTHER, ct, cl, &pt,
	                                          &pl, err, sizeof(err)),
	                 TB_ERR_SIG);
	tb_key_free(other);
	free(info);
	free(ct);
}

static void roundtrip(int alg)
{
	static const uint8_t msg[] = "personalization data for one TA, long enough for two blocks";
	struct tb_key *dev = NULL, *other = NULL;
	uint8_t *info, *ct, *pt;
	size_t il, cl, pl;
	char err[160];

	assert_int_equal(tb_key_generate(&dev), TB_OK);
	assert_int_equal(tb_key_generate(&other), TB_OK);
	assert_int_equal(tb_cose_encrypt_detached(dev, alg, TB_SUIT_KDF_OTHER, msg, sizeof(msg),
	                                          &info, &il, &ct, &cl),
	                 TB_OK);
	assert_int_equal(cl, sizeof(msg) + (alg == TB_COSE_ALG_A128GCM ? 16 : 0));
	assert_memory_not_equal(ct, msg, sizeof(msg));
	assert_int_equal(tb_cose_decrypt_detached(info, il, dev, TB_SUIT_KDF_OTHER, ct, cl, &pt,
	                                          &pl, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(pl, sizeof(msg));
	assert_memory_equal(pt, msg, pl);
	free(pt);
	assert_int_equal(tb_cose_decrypt_detached(info, il, other, TB_SUIT_KDF_OTHER, ct, cl, &pt,
	                                          &pl, err, sizeof(err)),
	                 TB_ERR_SIG);
	/* A public key cannot decrypt. */
	ct[3] ^= 0x40;
	if (alg == TB_COSE_ALG_A128GCM) {
		assert_int_equal(tb_cose_decrypt_detached(info, il, dev, TB_SUIT_KDF_OTHER, ct, cl,
		                                          &pt, &pl, err, sizeof(err)),
		                 TB_ERR_SIG);
	} else {
		/* CTR has no integrity: one flipped bit in, one flipped bit out. */
		assert_int_equal(tb_cose_decrypt_detached(info, il, dev, TB_SUIT_KDF_OTHER, ct, cl,
		                                          &pt, &pl, err, sizeof(err)),
		                 TB_OK);
		assert_int_equal(pt[3], msg[3] ^ 0x40);
		free(pt);
	}
	free(info);
	free(ct);
	tb_key_free(dev);
	tb_key_free(other);
}

static void test_roundtrip_ctr(void **state)
{
	(void)state;
	roundtrip(TB_COSE_ALG_A128CTR);
}

static void test_roundtrip_gcm(void **state)
{
	(void)state;
	roundtrip(TB_COSE_ALG_A128GCM);
}

/* Each malformed or unsupported variant of example 3, one byte changed. */
static void test_refusals(void **state)
{
	static const struct {
		const char *what;
		size_t at; /* offset into EX3_INFO's bytes */
		uint8_t from, to;
		int rc;
		const char *reason;
	} cases[] = {
	    {"wrong tag", 1, 0x60, 0x61, TB_ERR_PARSE, "tag"},
	    {"three elements", 2, 0x84, 0x83, TB_ERR_PARSE, NULL},
	    {"content alg -65533", 8, 0xFD, 0xFC, TB_ERR_UNSUP, "content algorithm"},
	    {"recipient alg -28", 34, 0x1C, 0x1B, TB_ERR_UNSUP, "recipient algorithm"},
	    {"ephemeral kty OKP", 39, 0x02, 0x01, TB_ERR_UNSUP, "ephemeral"},
	    {"ephemeral crv P-384", 41, 0x01, 0x02, TB_ERR_UNSUP, "ephemeral"},
	    {"point off the curve", 50, 0x7F, 0x7E, TB_ERR_INVAL, "not on P-256"},
	    {"no IV (label 6)", 9, 0x05, 0x06, TB_ERR_PARSE, "IV"},
	};
	struct tb_key *dev = load_key("suit/appendixE_device_esdh_private_key.pem");
	size_t il, cl, pl;
	uint8_t *info = hex(EX3_INFO, &il), *ct = hex(EX3_CT, &cl), *pt = NULL;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		assert_int_equal(info[cases[i].at], cases[i].from);
		info[cases[i].at] = cases[i].to;
		err[0] = 0;
		rc = tb_cose_decrypt_detached(info, il, dev, TB_SUIT_KDF_OTHER, ct, cl, &pt, &pl,
		                              err, sizeof(err));
		if (rc != cases[i].rc || (cases[i].reason && !strstr(err, cases[i].reason)))
			fail_msg("%s: rc %d (%s), want %d", cases[i].what, rc, err, cases[i].rc);
		assert_null(pt);
		info[cases[i].at] = cases[i].from;
	}
	/* Truncations never succeed and never read past the end. */
	for (size_t n = 0; n < il; n++)
		assert_int_not_equal(tb_cose_decrypt_detached(info, n, dev, TB_SUIT_KDF_OTHER, ct,
		                                              cl, &pt, &pl, err, sizeof(err)),
		                     TB_OK);
	tb_key_free(dev);
	free(info);
	free(ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kw_rfc3394),         cmocka_unit_test(test_example3),
	    cmocka_unit_test(test_example3_wrong_key), cmocka_unit_test(test_roundtrip_ctr),
	    cmocka_unit_test(test_roundtrip_gcm),      cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
