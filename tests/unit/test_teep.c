/* Unit tests of lib/teep.c against the draft's Appendix D examples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_cbor.h"
#include "tb_teep.h"
#include "tb_suit.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t example_token[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                          0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

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

static const char *dir_of(enum tb_numbering num)
{
	return num == TB_NUM_DRAFT26 ? "draft-26" : "pre-renumbering";
}

/* Decode dir/name.hex with num; the caller clears m. */
static void decode_vector(enum tb_numbering num, const char *name, struct tb_teep_msg *m,
                          uint8_t **raw, size_t *raw_len)
{
	char rel[128], err[256] = "";

	snprintf(rel, sizeof(rel), "%s/%s.hex", dir_of(num), name);
	*raw = load_hex(rel, raw_len);
	if (tb_teep_decode(*raw, *raw_len, num, m, err, sizeof(err)) != TB_OK)
		fail_msg("%s: %s", rel, err);
	assert_int_equal(m->token.len, sizeof(example_token));
	assert_memory_equal(m->token.ptr, example_token, sizeof(example_token));
}

static void assert_reencodes(const struct tb_teep_msg *m, enum tb_numbering num, const uint8_t *raw,
                             size_t raw_len)
{
	uint8_t *out;
	size_t len;

	assert_int_equal(tb_teep_encode(m, num, &out, &len), TB_OK);
	assert_int_equal(len, raw_len);
	assert_memory_equal(out, raw, raw_len);
	free(out);
}

static void check_query_request(enum tb_numbering num)
{
	static const uint8_t suites[] = {0x82, 0x81, 0x82, 0x12, 0x28, 0x81, 0x82, 0x12, 0x32};
	struct tb_teep_msg m;
	uint8_t *raw;
	size_t len;

	decode_vector(num, "query_request", &m, &raw, &len);
	assert_int_equal(m.type, TB_TEEP_QUERY_REQUEST);
	assert_int_equal(m.data_item_requested,
	                 TB_TEEP_DIR_ATTESTATION | TB_TEEP_DIR_TRUSTED_COMPONENTS);
	assert_int_equal(m.challenge.len, 0);
	assert_int_equal(m.cipher_suites_cbor.len, sizeof(suites));
	assert_memory_equal(m.cipher_suites_cbor.ptr, suites, sizeof(suites));
	assert_int_equal(m.suit_cose_profiles_cbor.ptr[0], 0x84); /* four profiles */
	assert_reencodes(&m, num, raw, len);
	tb_teep_msg_clear(&m);
	free(raw);
}

static void teep__query_request__decodes_and_reencodes_draft26(void **state)
{
	(void)state;
	check_query_request(TB_NUM_DRAFT26);
}

static void teep__query_request__decodes_and_reencodes_pre26(void **state)
{
	(void)state;
	check_query_request(TB_NUM_PRE26);
}

static void check_query_response(enum tb_numbering num)
{
	static const uint8_t id[15] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	struct tb_teep_msg m, again;
	uint8_t *raw, *out;
	size_t len, out_len;

	decode_vector(num, "query_response", &m, &raw, &len);
	assert_int_equal(m.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(m.n_tc_list, 1);
	assert_int_equal(m.tc_list[0].n, 1);
	assert_int_equal(m.tc_list[0].seg[0].len, sizeof(id));
	assert_memory_equal(m.tc_list[0].seg[0].ptr, id, sizeof(id));
	assert_int_equal(m.n_requested_tc_list, 0);
	/* Our encoding keeps the component ids only; they survive. */
	assert_int_equal(tb_teep_encode(&m, num, &out, &out_len), TB_OK);
	assert_int_equal(tb_teep_decode(out, out_len, num, &again, NULL, 0), TB_OK);
	assert_int_equal(again.n_tc_list, 1);
	assert_true(tb_component_id_equal(&again.tc_list[0], &m.tc_list[0]));
	tb_teep_msg_clear(&again);
	free(out);
	tb_teep_msg_clear(&m);
	free(raw);
}

static void teep__query_response__tc_list_from_claims_map(void **state)
{
	(void)state;
	check_query_response(TB_NUM_DRAFT26);
	check_query_response(TB_NUM_PRE26);
}

static void check_update(enum tb_numbering num)
{
	struct tb_teep_msg m;
	struct tb_suit_info info;
	uint8_t *raw;
	size_t len;

	decode_vector(num, "update", &m, &raw, &len);
	assert_int_equal(m.type, TB_TEEP_UPDATE);
	assert_int_equal(m.n_manifest_list, 1);
	assert_int_equal(m.manifest_list[0].len, 334);
	assert_int_equal(m.err_code, 0);
	assert_null(m.err_msg);
	/* the envelope inside is the SUIT example with sequence number 3 */
	assert_int_equal(
	    tb_suit_info(m.manifest_list[0].ptr, m.manifest_list[0].len, &info, NULL, 0), TB_OK);
	assert_int_equal(info.sequence_number, 3);
	assert_int_equal(info.component.n, 4);
	assert_memory_equal(info.component.seg[0].ptr, "TEEP-Device", 11);
	tb_suit_info_clear(&info);
	assert_reencodes(&m, num, raw, len);
	tb_teep_msg_clear(&m);
	free(raw);
}

/* tb_teep_decode_borrowed: the manifest is the input's bytes, the rest as
 * tb_teep_decode; clearing the message does not free it (under the
 * sanitizers, a free() of it would abort). */
static void teep__update__borrowed_manifest_points_into_input(void **state)
{
	struct tb_teep_msg m, copy;
	char err[256] = "";
	uint8_t *raw, *out;
	size_t len, out_len;

	(void)state;
	raw = load_hex("draft-26/update.hex", &len);
	if (tb_teep_decode_borrowed(raw, len, TB_NUM_DRAFT26, &m, err, sizeof(err)) != TB_OK)
		fail_msg("%s", err);
	assert_int_equal(m.n_manifest_list, 1);
	assert_int_equal(m.manifest_list[0].len, 334);
	if (tb_cbor_borrows())
		assert_true(m.manifest_list[0].ptr >= raw &&
		            m.manifest_list[0].ptr + 334 <= raw + len);
	assert_int_equal(tb_teep_decode(raw, len, TB_NUM_DRAFT26, &copy, err, sizeof(err)), TB_OK);
	assert_false(copy.manifest_list[0].ptr >= raw && copy.manifest_list[0].ptr < raw + len);
	assert_memory_equal(copy.manifest_list[0].ptr, m.manifest_list[0].ptr, 334);
	tb_teep_msg_clear(&copy);
	assert_int_equal(tb_teep_encode(&m, TB_NUM_DRAFT26, &out, &out_len), TB_OK);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, raw, len);
	free(out);
	tb_teep_msg_clear(&m);
	assert_null(m.borrowed);
	free(raw);
}

static void teep__update__manifest_list_decodes_and_reencodes(void **state)
{
	(void)state;
	check_update(TB_NUM_DRAFT26);
	check_update(TB_NUM_PRE26);
}

static void check_success(enum tb_numbering num)
{
	struct tb_teep_msg m;
	uint8_t *raw;
	size_t len;

	decode_vector(num, "success", &m, &raw, &len);
	assert_int_equal(m.type, TB_TEEP_SUCCESS);
	assert_int_equal(raw[1], num == TB_NUM_DRAFT26 ? 4 : 5);
	assert_null(m.msg);
	assert_reencodes(&m, num, raw, len);
	tb_teep_msg_clear(&m);
	free(raw);
}

static void teep__success__decodes_and_reencodes(void **state)
{
	(void)state;
	check_success(TB_NUM_DRAFT26);
	check_success(TB_NUM_PRE26);
}

static void check_error(enum tb_numbering num)
{
	struct tb_teep_msg m;
	uint8_t *raw;
	size_t len;

	decode_vector(num, "error", &m, &raw, &len);
	assert_int_equal(m.type, TB_TEEP_ERROR);
	/* wire 11 (draft-26) or 17 (older): always the draft-26 value here */
	assert_int_equal(raw[len - 1], num == TB_NUM_DRAFT26 ? 11 : 17);
	assert_int_equal(m.err_code, TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	assert_string_equal(m.err_msg, "disk-full");
	assert_reencodes(&m, num, raw, len);
	tb_teep_msg_clear(&m);
	free(raw);
}

static void teep__error__decodes_and_reencodes(void **state)
{
	(void)state;
	check_error(TB_NUM_DRAFT26);
	check_error(TB_NUM_PRE26);
}

static int decode_fails(enum tb_numbering num, const uint8_t *buf, size_t len, const char *want)
{
	struct tb_teep_msg m;
	char err[256] = "";
	int rc = tb_teep_decode(buf, len, num, &m, err, sizeof(err));

	assert_int_not_equal(rc, TB_OK);
	if (!strstr(err, want))
		fail_msg("reason \"%s\" lacks \"%s\"", err, want);
	/* a failed decode leaves nothing to free */
	assert_null(m.token.ptr);
	assert_int_equal(m.type, TB_TEEP_NONE);
	return rc;
}

static void teep__wrong_numbering__rejected(void **state)
{
	uint8_t *raw;
	size_t len;

	(void)state;
	/* draft-26 Success (4) is no type in the older numbering */
	raw = load_hex("draft-26/success.hex", &len);
	decode_fails(TB_NUM_PRE26, raw, len, "type: 4 is no message type");
	free(raw);
	/* draft-26 Error (5) reads as an old Success with 3 elements */
	raw = load_hex("draft-26/error.hex", &len);
	decode_fails(TB_NUM_PRE26, raw, len, "Success has 3 elements");
	free(raw);
	/* old Success (5) reads as a draft-26 Error without err-code */
	raw = load_hex("pre-renumbering/success.hex", &len);
	decode_fails(TB_NUM_DRAFT26, raw, len, "Error has 2 elements");
	free(raw);
	/* its old token label 20 is draft-26's supported-freshness-mechanisms
	 * (and its old label 7, attestation-payload h'', draft-26's tc-list):
	 * the first in the map is named */
	raw = load_hex("pre-renumbering/query_response.hex", &len);
	decode_fails(TB_NUM_DRAFT26, raw, len, "supported-freshness-mechanisms: expected an array");
	free(raw);
	/* the old token label 20 is draft-26's supported-freshness-mechanisms */
	raw = load_hex("pre-renumbering/query_request.hex", &len);
	decode_fails(TB_NUM_DRAFT26, raw, len, "supported-freshness-mechanisms: expected an array");
	free(raw);
	/* the draft-26 token label 19 is the old suit-reports */
	raw = load_hex("draft-26/query_request.hex", &len);
	decode_fails(TB_NUM_PRE26, raw, len, "suit-reports: expected an array");
	free(raw);
}

static void build_id(struct tb_component_id *c, const char *text)
{
	assert_int_equal(tb_component_id_parse(text, c), TB_OK);
}

/* A message of one numbering, without a token, encoded from m; decoding it
 * in the other numbering must fail naming want. */
static void other_numbering_fails(enum tb_numbering from, const struct tb_teep_msg *m,
                                  const char *want)
{
	enum tb_numbering to = from == TB_NUM_PRE26 ? TB_NUM_DRAFT26 : TB_NUM_PRE26;
	uint8_t *out;
	size_t len;

	assert_int_equal(m->token.len, 0);
	assert_int_equal(tb_teep_encode(m, from, &out, &len), TB_OK);
	decode_fails(to, out, len, want);
	free(out);
}

/*
 * Without a token a peer in the other numbering still fails loudly: every
 * label the registry defines is type-checked in every message, so the
 * renumbered fields it does carry are refused with the field named, never
 * read as something else (an Update's manifest-list as nothing at all).
 * QueryRequest, QueryResponse and Update by their options; Success and
 * Error by their type and shape.
 */
static void teep__other_numbering_without_token__fails_loudly(void **state)
{
	/* [1, {13: "eat"}, [[[18, -7]]], [1], 3]: pre-26 attestation-payload-format
	 * is draft-26's requested-tc-list */
	static const uint8_t qr_pre26[] = {0x85, 0x01, 0xa1, 0x0d, 0x63, 'e',  'a',  't',
	                                   0x81, 0x81, 0x82, 0x12, 0x26, 0x81, 0x01, 0x03};
	/* [1, {6: h'00'}, [[[18, -9]]], [1], 3]: draft-26 attestation-payload is
	 * pre-26's selected-version */
	static const uint8_t qr_draft26[] = {0x85, 0x01, 0xa1, 0x06, 0x41, 0x00, 0x81,
	                                     0x81, 0x82, 0x12, 0x28, 0x81, 0x01, 0x03};
	struct tb_component_id ids[2];
	struct tb_buf env = {(uint8_t *)"\xd8\x6b\xa0", 3};
	struct tb_teep_msg m = {0};

	(void)state;
	decode_fails(TB_NUM_DRAFT26, qr_pre26, sizeof(qr_pre26),
	             "requested-tc-list: expected an array");
	decode_fails(TB_NUM_PRE26, qr_draft26, sizeof(qr_draft26),
	             "selected-version: expected an unsigned integer");

	build_id(&ids[0], "8d82573a-926d-4754-9353-32dc29997f74");
	build_id(&ids[1], "TEEP-Device/0x00ff");
	m.type = TB_TEEP_QUERY_RESPONSE;
	m.tc_list = &ids[0];
	m.n_tc_list = 1;
	/* draft-26 tc-list (7) is pre-26's attestation-payload */
	other_numbering_fails(TB_NUM_DRAFT26, &m, "attestation-payload: expected a byte string");
	/* pre-26 tc-list (8) is draft-26's ext-list */
	other_numbering_fails(TB_NUM_PRE26, &m, "ext-list[0]: expected a uint");
	m.n_tc_list = 0;
	m.tc_list = NULL;
	m.requested_tc_list = &ids[1];
	m.n_requested_tc_list = 1;
	/* pre-26 requested-tc-list (14) is draft-26's unneeded-manifest-list */
	other_numbering_fails(TB_NUM_PRE26, &m,
	                      "unneeded-manifest-list[0]: expected a component id");
	/* draft-26 requested-tc-list (13) is pre-26's attestation-payload-format */
	other_numbering_fails(TB_NUM_DRAFT26, &m, "attestation-payload-format: expected a text");

	memset(&m, 0, sizeof(m));
	m.type = TB_TEEP_UPDATE;
	m.manifest_list = &env;
	m.n_manifest_list = 1;
	/* pre-26 manifest-list (10) is draft-26's msg */
	other_numbering_fails(TB_NUM_PRE26, &m, "msg: expected a text string");
	/* draft-26 manifest-list (9) is pre-26's ext-list */
	other_numbering_fails(TB_NUM_DRAFT26, &m, "ext-list[0]: expected a uint");

	memset(&m, 0, sizeof(m));
	m.type = TB_TEEP_SUCCESS;
	other_numbering_fails(TB_NUM_DRAFT26, &m, "type: 4 is no message type");
	other_numbering_fails(TB_NUM_PRE26, &m, "Error has 2 elements");
	m.type = TB_TEEP_ERROR;
	m.err_code = TB_TEEP_ERR_PERMANENT;
	other_numbering_fails(TB_NUM_DRAFT26, &m, "Success has 3 elements");
	other_numbering_fails(TB_NUM_PRE26, &m, "type: 6 is no message type");

	tb_component_id_clear(&ids[0]);
	tb_component_id_clear(&ids[1]);
}

static void teep__token_size__checked(void **state)
{
	/* [4, {19: h'00010203'}] and [4, {19: 65 bytes}] */
	uint8_t small[] = {0x82, 0x04, 0xa1, 0x13, 0x44, 0, 1, 2, 3};
	uint8_t big[5 + 1 + 65] = {0x82, 0x04, 0xa1, 0x13, 0x58, 65};
	uint8_t ok64[5 + 1 + 64] = {0x82, 0x04, 0xa1, 0x13, 0x58, 64};
	struct tb_teep_msg m;

	(void)state;
	assert_int_equal(
	    decode_fails(TB_NUM_DRAFT26, small, sizeof(small), "token: size 4 not in 8..64"),
	    TB_ERR_PARSE);
	decode_fails(TB_NUM_DRAFT26, big, sizeof(big), "token: size 65 not in 8..64");
	assert_int_equal(tb_teep_decode(ok64, sizeof(ok64), TB_NUM_DRAFT26, &m, NULL, 0), TB_OK);
	assert_int_equal(m.token.len, 64);
	tb_teep_msg_clear(&m);
}

static void teep__wrong_types__rejected_with_field(void **state)
{
	static const uint8_t text_token[] = {0x82, 0x04, 0xa1, 0x13, 0x68, 'a', 'b',
	                                     'c',  'd',  'e',  'f',  'g',  'h'};
	static const uint8_t list_options[] = {0x82, 0x04, 0x80};
	static const uint8_t text_type[] = {0x82, 0x61, '4', 0xa0};
	static const uint8_t not_array[] = {0xa0};
	static const uint8_t err_code_text[] = {0x83, 0x05, 0xa0, 0x61, 'x'};
	static const uint8_t err_code_zero[] = {0x83, 0x05, 0xa0, 0x00};
	static const uint8_t long_msg_head[] = {0x82, 0x04, 0xa1, 0x0a, 0x78, 129};
	uint8_t long_msg[sizeof(long_msg_head) + 129];
	static const uint8_t bad_component[] = {0x82, 0x02, 0xa1, 0x07, 0x81,
	                                        0xa1, 0x00, 0x81, 0x61, 'x'};
	static const uint8_t short_qr[] = {0x83, 0x01, 0xa0, 0x80};
	static const uint8_t truncated[] = {0x82, 0x04};

	(void)state;
	decode_fails(TB_NUM_DRAFT26, text_token, sizeof(text_token), "token: expected a byte");
	decode_fails(TB_NUM_DRAFT26, list_options, sizeof(list_options), "options: expected a map");
	decode_fails(TB_NUM_DRAFT26, text_type, sizeof(text_type), "type: expected an unsigned");
	decode_fails(TB_NUM_DRAFT26, not_array, sizeof(not_array), "message: expected an array");
	decode_fails(TB_NUM_DRAFT26, err_code_text, sizeof(err_code_text), "err-code: expected");
	decode_fails(TB_NUM_DRAFT26, err_code_zero, sizeof(err_code_zero), "err-code: 0");
	memcpy(long_msg, long_msg_head, sizeof(long_msg_head));
	memset(long_msg + sizeof(long_msg_head), 'a', 129);
	decode_fails(TB_NUM_DRAFT26, long_msg, sizeof(long_msg), "msg: size 129 not in 1..128");
	decode_fails(TB_NUM_DRAFT26, bad_component, sizeof(bad_component),
	             "tc-list: segment 0 is not a byte string");
	decode_fails(TB_NUM_DRAFT26, short_qr, sizeof(short_qr), "QueryRequest has 3 elements");
	decode_fails(TB_NUM_DRAFT26, truncated, sizeof(truncated), "not well-formed");
}

static void teep__unknown_labels__ignored(void **state)
{
	/* [4, {99: "x", 10: "ok", 24: [1]}] */
	static const uint8_t msg[] = {0x82, 0x04, 0xa3, 0x18, 0x63, 0x61, 'x', 0x0a,
	                              0x62, 'o',  'k',  0x18, 0x18, 0x81, 0x01};
	struct tb_teep_msg m;
	char err[128];

	(void)state;
	assert_int_equal(tb_teep_decode(msg, sizeof(msg), TB_NUM_DRAFT26, &m, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(m.type, TB_TEEP_SUCCESS);
	assert_string_equal(m.msg, "ok");
	tb_teep_msg_clear(&m);
}

static void teep__list_over_limit__rejected(void **state)
{
	/* [2, {14: [65 x [h'']]}]: an unneeded-manifest-list of 65 ids */
	uint8_t msg[6 + 65 * 2] = {0x82, 0x02, 0xa1, 0x0e, 0x98, 65};
	struct tb_teep_msg m;

	(void)state;
	for (int i = 0; i < 65; i++) {
		msg[6 + 2 * i] = 0x81;
		msg[6 + 2 * i + 1] = 0x40;
	}
	assert_int_equal(
	    decode_fails(TB_NUM_DRAFT26, msg, sizeof(msg), "unneeded-manifest-list: 65 entries"),
	    TB_ERR_TOOBIG);
	msg[5] = 64;
	assert_int_equal(tb_teep_decode(msg, sizeof(msg) - 2, TB_NUM_DRAFT26, &m, NULL, 0), TB_OK);
	assert_int_equal(m.n_unneeded_manifest_list, 64);
	tb_teep_msg_clear(&m);
}

static void teep__too_many_segments__rejected(void **state)
{
	/* [2, {14: [[9 x h'']]}] */
	uint8_t msg[6 + 9] = {0x82, 0x02, 0xa1, 0x0e, 0x81, 0x89};

	(void)state;
	memset(msg + 6, 0x40, 9);
	assert_int_equal(decode_fails(TB_NUM_DRAFT26, msg, sizeof(msg), "has 9 segments"),
	                 TB_ERR_TOOBIG);
}

static int contains(const uint8_t *buf, size_t len, const char *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return 1;
	return 0;
}

static void check_query_response_round_trip(enum tb_numbering num)
{
	struct tb_component_id ids[2];
	struct tb_teep_msg m = {0}, d;
	uint8_t *out;
	size_t len;

	build_id(&ids[0], "8d82573a-926d-4754-9353-32dc29997f74");
	build_id(&ids[1], "TEEP-Device/0x00ff");
	m.type = TB_TEEP_QUERY_RESPONSE;
	m.tc_list = &ids[0];
	m.n_tc_list = 1;
	m.requested_tc_list = &ids[1];
	m.n_requested_tc_list = 1;
	m.unneeded_manifest_list = ids;
	m.n_unneeded_manifest_list = 2;
	assert_int_equal(tb_teep_encode(&m, num, &out, &len), TB_OK);
	/* requested-tc-list entries are maps keyed by component-id */
	assert_true(contains(
	    out, len, num == TB_NUM_DRAFT26 ? "\x0d\x81\xa1\x0f\x82" : "\x0e\x81\xa1\x10\x82", 5));
	assert_int_equal(tb_teep_decode(out, len, num, &d, NULL, 0), TB_OK);
	assert_int_equal(d.n_tc_list, 1);
	assert_true(tb_component_id_equal(&d.tc_list[0], &ids[0]));
	assert_int_equal(d.n_requested_tc_list, 1);
	assert_true(tb_component_id_equal(&d.requested_tc_list[0], &ids[1]));
	assert_int_equal(d.n_unneeded_manifest_list, 2);
	assert_true(tb_component_id_equal(&d.unneeded_manifest_list[1], &ids[1]));
	tb_teep_msg_clear(&d);
	free(out);
	tb_component_id_clear(&ids[0]);
	tb_component_id_clear(&ids[1]);
}

static void teep__query_response__encode_then_decode(void **state)
{
	(void)state;
	check_query_response_round_trip(TB_NUM_DRAFT26);
	check_query_response_round_trip(TB_NUM_PRE26);
}

static void teep__query_request__default_suites_per_numbering(void **state)
{
	static const uint8_t pre26_tail[] = {0x82, 0x81, 0x82, 0x12, 0x26, 0x81, 0x82,
	                                     0x12, 0x27, 0x81, 0x84, 0x2f, 0x28, 0x38,
	                                     0x1c, 0x39, 0xff, 0xfd, 0x02};
	struct tb_teep_msg m = {.type = TB_TEEP_QUERY_REQUEST,
	                        .data_item_requested = TB_TEEP_DIR_TRUSTED_COMPONENTS};
	uint8_t *out;
	size_t len;

	(void)state;
	assert_int_equal(tb_teep_encode(&m, TB_NUM_PRE26, &out, &len), TB_OK);
	assert_true(len > sizeof(pre26_tail));
	assert_memory_equal(out + len - sizeof(pre26_tail), pre26_tail, sizeof(pre26_tail));
	free(out);
}

static void teep__encode__refuses_invalid_fields(void **state)
{
	uint8_t tok[4] = {0};
	struct tb_teep_msg m = {.type = TB_TEEP_ERROR};
	uint8_t *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(tb_teep_encode(&m, TB_NUM_DRAFT26, &out, &len),
	                 TB_ERR_INVAL); /* no code */
	m.err_code = TB_TEEP_ERR_TEMPORARY;
	m.token.ptr = tok;
	m.token.len = sizeof(tok);
	assert_int_equal(tb_teep_encode(&m, TB_NUM_DRAFT26, &out, &len), TB_ERR_INVAL);
	m.type = TB_TEEP_NONE;
	m.token.len = 0;
	assert_int_equal(tb_teep_encode(&m, TB_NUM_DRAFT26, &out, &len), TB_ERR_INVAL);
	assert_null(out);
}

static void teep__type_mapping__both_numberings(void **state)
{
	(void)state;
	assert_int_equal(tb_teep_type_to_wire(TB_NUM_DRAFT26, TB_TEEP_SUCCESS), 4);
	assert_int_equal(tb_teep_type_to_wire(TB_NUM_PRE26, TB_TEEP_SUCCESS), 5);
	assert_int_equal(tb_teep_type_to_wire(TB_NUM_DRAFT26, TB_TEEP_ERROR), 5);
	assert_int_equal(tb_teep_type_to_wire(TB_NUM_PRE26, TB_TEEP_ERROR), 6);
	assert_int_equal(tb_teep_type_from_wire(TB_NUM_PRE26, 4), TB_TEEP_NONE);
	assert_int_equal(tb_teep_type_from_wire(TB_NUM_DRAFT26, 6), TB_TEEP_NONE);
	assert_int_equal(tb_teep_type_from_wire(TB_NUM_PRE26, 5), TB_TEEP_SUCCESS);
	assert_int_equal(tb_teep_type_from_wire(TB_NUM_DRAFT26, 5), TB_TEEP_ERROR);
	assert_string_equal(tb_teep_type_name(TB_TEEP_UPDATE), "Update");
}

static void teep__peek_type__libteep_messages(void **state)
{
	static const struct {
		const char *file;
		enum tb_teep_type type;
	} v[] = {
	    {"libteep-signed/query_request_cose_sign1.hex", TB_TEEP_QUERY_REQUEST},
	    {"libteep-signed/query_response_cose_sign1.hex", TB_TEEP_QUERY_RESPONSE},
	    {"libteep-signed/update_cose_sign1.hex", TB_TEEP_UPDATE},
	    {"libteep-signed/success_cose_sign1.hex", TB_TEEP_SUCCESS},
	    {"libteep-signed/error_cose_sign1.hex", TB_TEEP_ERROR},
	};
	size_t len;
	uint8_t *raw;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		raw = load_hex(v[i].file, &len);
		assert_int_equal(tb_teep_peek_type(raw, len, TB_NUM_PRE26), v[i].type);
		free(raw);
	}
	/* a bare message is no COSE object */
	raw = load_hex("draft-26/success.hex", &len);
	assert_int_equal(tb_teep_peek_type(raw, len, TB_NUM_DRAFT26), TB_TEEP_NONE);
	free(raw);
}

static void teep__libteep_query_response__decodes_pre26(void **state)
{
	size_t len, plen;
	uint8_t *raw = load_hex("libteep-signed/query_response_cose_sign1.hex", &len), *payload;
	struct tb_teep_msg m;
	char err[256] = "";

	(void)state;
	assert_int_equal(tb_cose_peek_payload(raw, len, &payload, &plen), TB_OK);
	/* label 5 (selected-teep-cipher-suite, obsolete) is simply ignored */
	assert_int_equal(tb_teep_decode(payload, plen, TB_NUM_PRE26, &m, err, sizeof(err)), TB_OK);
	assert_int_equal(m.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(m.n_tc_list, 2);
	assert_int_equal(m.tc_list[1].seg[0].ptr[0], 0x11);
	tb_teep_msg_clear(&m);
	free(payload);
	free(raw);
}

static void teep__component_id__text_forms(void **state)
{
	static const uint8_t uuid[16] = {0x8d, 0x82, 0x57, 0x3a, 0x92, 0x6d, 0x47, 0x54,
	                                 0x93, 0x53, 0x32, 0xdc, 0x29, 0x99, 0x7f, 0x74};
	struct tb_component_id c, d;
	char text[128];

	(void)state;
	build_id(&c, "8d82573a-926d-4754-9353-32dc29997f74");
	assert_int_equal(c.n, 4);
	assert_memory_equal(c.seg[0].ptr, "TEEP-Device", 11);
	assert_memory_equal(c.seg[1].ptr, "SecureFS", 8);
	assert_int_equal(c.seg[2].len, 16);
	assert_memory_equal(c.seg[2].ptr, uuid, 16);
	assert_memory_equal(c.seg[3].ptr, "ta", 2);
	assert_int_equal(tb_component_id_format(&c, text, sizeof(text)), 58);
	assert_string_equal(text, "TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/ta");
	build_id(&d, text);
	assert_true(tb_component_id_equal(&c, &d));
	tb_component_id_clear(&d);
	/* truncation keeps a terminated prefix */
	assert_int_equal(tb_component_id_format(&c, text, 5), 4);
	assert_string_equal(text, "TEEP");
	tb_component_id_clear(&c);

	/* segments that would not read back as text are shown in hex */
	build_id(&c, "0x302f31/..");
	assert_int_equal(c.seg[0].len, 3);
	tb_component_id_format(&c, text, sizeof(text));
	assert_string_equal(text, "0x302f31/0x2e2e");
	tb_component_id_clear(&c);

	assert_int_equal(tb_component_id_parse("", &c), TB_ERR_INVAL);
	assert_int_equal(tb_component_id_parse("a//b", &c), TB_ERR_INVAL);
	assert_int_equal(tb_component_id_parse("a/", &c), TB_ERR_INVAL);
	assert_int_equal(tb_component_id_parse("0xabc", &c), TB_ERR_INVAL);
	assert_int_equal(tb_component_id_parse("0xzz", &c), TB_ERR_INVAL);
	assert_int_equal(tb_component_id_parse("1/2/3/4/5/6/7/8/9", &c), TB_ERR_INVAL);
	assert_int_equal(c.n, 0);
	build_id(&c, "1/2/3/4/5/6/7/8");
	assert_int_equal(c.n, 8);
	assert_int_equal(tb_component_id_copy(&d, &c), TB_OK);
	assert_true(tb_component_id_equal(&c, &d));
	tb_component_id_clear(&d);
	tb_component_id_clear(&c);
}

/* Found by fuzz_teep: a float where a registry label wants a boolean made
 * libcbor 0.8's cbor_is_bool() assert; it is refused as not a boolean. */
static void teep__float_for_a_boolean_label__refused(void **state)
{
	static const uint8_t crash[] = {0x82, 0x02, 0xa4, 0x14, 0x80, 0x80, 0xa0, 0x11, 0xf9,
	                                0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0xf9, 0x03};
	struct tb_teep_msg m;
	char err[256] = "";

	(void)state;
	for (int num = 0; num < 2; num++) {
		assert_int_not_equal(tb_teep_decode(crash, sizeof(crash),
		                                    num ? TB_NUM_PRE26 : TB_NUM_DRAFT26, &m, err,
		                                    sizeof(err)),
		                     TB_OK);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(teep__query_request__decodes_and_reencodes_draft26),
	    cmocka_unit_test(teep__query_request__decodes_and_reencodes_pre26),
	    cmocka_unit_test(teep__query_response__tc_list_from_claims_map),
	    cmocka_unit_test(teep__update__manifest_list_decodes_and_reencodes),
	    cmocka_unit_test(teep__update__borrowed_manifest_points_into_input),
	    cmocka_unit_test(teep__success__decodes_and_reencodes),
	    cmocka_unit_test(teep__error__decodes_and_reencodes),
	    cmocka_unit_test(teep__wrong_numbering__rejected),
	    cmocka_unit_test(teep__other_numbering_without_token__fails_loudly),
	    cmocka_unit_test(teep__token_size__checked),
	    cmocka_unit_test(teep__wrong_types__rejected_with_field),
	    cmocka_unit_test(teep__unknown_labels__ignored),
	    cmocka_unit_test(teep__list_over_limit__rejected),
	    cmocka_unit_test(teep__too_many_segments__rejected),
	    cmocka_unit_test(teep__query_response__encode_then_decode),
	    cmocka_unit_test(teep__query_request__default_suites_per_numbering),
	    cmocka_unit_test(teep__encode__refuses_invalid_fields),
	    cmocka_unit_test(teep__type_mapping__both_numberings),
	    cmocka_unit_test(teep__peek_type__libteep_messages),
	    cmocka_unit_test(teep__libteep_query_response__decodes_pre26),
	    cmocka_unit_test(teep__component_id__text_forms),
	    cmocka_unit_test(teep__float_for_a_boolean_label__refused),
	};
	return cmocka_run_group_tests_name("teep", tests, NULL, NULL);
}
