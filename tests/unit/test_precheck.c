/* Unit tests of broker/precheck.c: which TAM messages reach a TEE. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "precheck.h"
#include "tb_cose.h"
#include "tb_teep.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <stdlib.h>
#include <string.h>

#define MAX_LEN 4096

static struct tb_key *tam_key, *other_key;

static int setup(void **state)
{
	(void)state;
	if (tb_key_generate(&tam_key) != TB_OK || tb_key_generate(&other_key) != TB_OK)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tb_key_free(tam_key);
	tb_key_free(other_key);
	return 0;
}

/* An unprotected TEEP message of the given type, in numbering num. */
static void teep_payload(enum tb_teep_type type, enum tb_numbering num, uint8_t **out, size_t *len)
{
	static uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static uint8_t manifest[] = {0xa0}; /* a map: the pre-check does not read it */
	struct tb_teep_msg m = {0};
	struct tb_buf ml = {manifest, sizeof(manifest)};

	m.type = type;
	m.token.ptr = token;
	m.token.len = sizeof(token);
	switch (type) {
	case TB_TEEP_QUERY_REQUEST:
		m.data_item_requested = TB_TEEP_DIR_TRUSTED_COMPONENTS;
		break;
	case TB_TEEP_UPDATE:
		m.manifest_list = &ml;
		m.n_manifest_list = 1;
		break;
	case TB_TEEP_ERROR:
		m.err_code = TB_TEEP_ERR_PERMANENT;
		break;
	default:
		break;
	}
	assert_int_equal(tb_teep_encode(&m, num, out, len), TB_OK);
}

/* The same, signed by key in a COSE_Sign1. */
static void signed_msg(enum tb_teep_type type, enum tb_numbering num, const struct tb_key *key,
                       uint8_t **out, size_t *len)
{
	uint8_t *p;
	size_t n;

	teep_payload(type, num, &p, &n);
	assert_int_equal(tb_cose_sign1(key, TB_COSE_ALG_ESP256, p, n, 0, NULL, 0, out, len), TB_OK);
	free(p);
}

/* 18([h'a10127' ({1: -8}), {}, payload, sig]): EdDSA, which mbedtls 2.28
 * cannot verify. */
static void eddsa_msg(uint8_t **out, size_t *len)
{
	uint8_t *p;
	size_t n, o = 0;
	uint8_t *m;

	teep_payload(TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, &p, &n);
	assert_true(n < 256);
	m = malloc(16 + n + 66);
	assert_non_null(m);
	m[o++] = 0xd2; /* tag 18 */
	m[o++] = 0x84;
	m[o++] = 0x43;
	m[o++] = 0xa1;
	m[o++] = 0x01;
	m[o++] = 0x27;
	m[o++] = 0xa0;
	m[o++] = 0x58;
	m[o++] = (uint8_t)n;
	memcpy(m + o, p, n);
	o += n;
	m[o++] = 0x58;
	m[o++] = 64;
	memset(m + o, 0x5a, 64);
	o += 64;
	free(p);
	*out = m;
	*len = o;
}

enum mutation { M_NONE, M_TRUNCATE, M_NOT_COSE, M_WRONG_TAG, M_OVERSIZE, M_EMPTY };

struct row {
	const char *name;
	enum tb_teep_type type;
	enum tb_numbering signed_num; /* the numbering the message is written in */
	int other_key;                /* signed by a key the broker does not have */
	int eddsa;
	enum mutation mut;
	enum tb_precheck want;
	enum tb_teep_type want_type;
};

static const struct row rows[] = {
    {"good QueryRequest", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_NONE, TB_PRECHECK_OK,
     TB_TEEP_QUERY_REQUEST},
    {"good Update", TB_TEEP_UPDATE, TB_NUM_DRAFT26, 0, 0, M_NONE, TB_PRECHECK_OK, TB_TEEP_UPDATE},
    {"truncated", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_TRUNCATE, TB_PRECHECK_NOT_COSE,
     TB_TEEP_NONE},
    {"not COSE", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_NOT_COSE, TB_PRECHECK_NOT_COSE,
     TB_TEEP_NONE},
    {"wrong tag", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_WRONG_TAG, TB_PRECHECK_NOT_COSE,
     TB_TEEP_NONE},
    {"oversize", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_OVERSIZE, TB_PRECHECK_SIZE,
     TB_TEEP_NONE},
    {"empty", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 0, M_EMPTY, TB_PRECHECK_SIZE, TB_TEEP_NONE},
    {"another key", TB_TEEP_UPDATE, TB_NUM_DRAFT26, 1, 0, M_NONE, TB_PRECHECK_SIGNATURE,
     TB_TEEP_UPDATE},
    {"EdDSA only", TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, 0, 1, M_NONE, TB_PRECHECK_ALGORITHM,
     TB_TEEP_QUERY_REQUEST},
    {"QueryResponse", TB_TEEP_QUERY_RESPONSE, TB_NUM_DRAFT26, 0, 0, M_NONE, TB_PRECHECK_TYPE,
     TB_TEEP_QUERY_RESPONSE},
    {"Success", TB_TEEP_SUCCESS, TB_NUM_DRAFT26, 0, 0, M_NONE, TB_PRECHECK_TYPE, TB_TEEP_SUCCESS},
    {"Error", TB_TEEP_ERROR, TB_NUM_DRAFT26, 0, 0, M_NONE, TB_PRECHECK_TYPE, TB_TEEP_ERROR},
    /* a pre-26 Success is type 5, an Error in draft-26, with the wrong
     * shape for one */
    {"wrong numbering", TB_TEEP_SUCCESS, TB_NUM_PRE26, 0, 0, M_NONE, TB_PRECHECK_NOT_TEEP,
     TB_TEEP_NONE},
};

static void run_row(const struct row *r)
{
	uint8_t *m = NULL;
	size_t len = 0, max = MAX_LEN;
	enum tb_teep_type type = TB_TEEP_ERROR;
	struct tb_key *keys[1] = {tam_key};

	if (r->eddsa)
		eddsa_msg(&m, &len);
	else
		signed_msg(r->type, r->signed_num, r->other_key ? other_key : tam_key, &m, &len);
	switch (r->mut) {
	case M_NONE:
		break;
	case M_TRUNCATE:
		len -= 10;
		break;
	case M_NOT_COSE:
		m[0] = 0xa0; /* an empty map, then trailing bytes */
		break;
	case M_WRONG_TAG:
		assert_int_equal(m[0], 0xd2);
		m[0] = 0xd1; /* tag 17, COSE_Mac0 */
		break;
	case M_OVERSIZE:
		max = len - 1;
		break;
	case M_EMPTY:
		len = 0;
		break;
	}
	enum tb_precheck got = tb_precheck_tam_message(m, len, max, keys, 1, TB_NUM_DRAFT26, &type);
	if (got != r->want || type != r->want_type)
		fail_msg("%s: got %d (%s) type %d, want %d type %d", r->name, got,
		         tb_precheck_reason(got), type, r->want, r->want_type);
	free(m);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/* The pre-26 numbering, configured, takes pre-26 messages. */
static void test_pre26(void **state)
{
	uint8_t *m;
	size_t len;
	struct tb_key *keys[2] = {other_key, tam_key};

	(void)state;
	signed_msg(TB_TEEP_UPDATE, TB_NUM_PRE26, tam_key, &m, &len);
	assert_int_equal(tb_precheck_tam_message(m, len, MAX_LEN, keys, 2, TB_NUM_PRE26, NULL),
	                 TB_PRECHECK_OK);
	free(m);
}

/* A COSE_Sign with one signer the broker knows passes. */
static void test_cose_sign(void **state)
{
	uint8_t *p, *m;
	size_t n, len;
	struct tb_key *signers[2] = {other_key, tam_key};
	int algs[2] = {TB_COSE_ALG_ESP256, TB_COSE_ALG_ES256};
	struct tb_key *keys[1] = {tam_key};

	(void)state;
	teep_payload(TB_TEEP_QUERY_REQUEST, TB_NUM_DRAFT26, &p, &n);
	assert_int_equal(tb_cose_sign_multi(signers, algs, 2, p, n, &m, &len), TB_OK);
	assert_int_equal(tb_precheck_tam_message(m, len, MAX_LEN, keys, 1, TB_NUM_DRAFT26, NULL),
	                 TB_PRECHECK_OK);
	keys[0] = NULL;
	assert_int_equal(tb_precheck_tam_message(m, len, MAX_LEN, keys, 0, TB_NUM_DRAFT26, NULL),
	                 TB_PRECHECK_SIGNATURE);
	free(p);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_pre26),
	    cmocka_unit_test(test_cose_sign),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
