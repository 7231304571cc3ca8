/* Unit tests of the app API codec (lib/uaproto.c, docs/ua-api.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cbor.h>
#include <teep-broker/driver.h>

#include "tb_uaproto.h"

/* ---- a tiny CBOR writer, so each test spells out its frame ------------- */

struct tw {
	uint8_t buf[4096];
	size_t len;
};

static void tw_put(struct tw *w, size_t n)
{
	assert_true(n > 0);
	w->len += n;
}

static void tw_map(struct tw *w, size_t n)
{
	tw_put(w, cbor_encode_map_start(n, w->buf + w->len, sizeof(w->buf) - w->len));
}

static void tw_array(struct tw *w, size_t n)
{
	tw_put(w, cbor_encode_array_start(n, w->buf + w->len, sizeof(w->buf) - w->len));
}

static void tw_uint(struct tw *w, uint64_t v)
{
	tw_put(w, cbor_encode_uint(v, w->buf + w->len, sizeof(w->buf) - w->len));
}

static void tw_negint(struct tw *w, uint64_t v)
{
	tw_put(w, cbor_encode_negint(v, w->buf + w->len, sizeof(w->buf) - w->len));
}

static void tw_null(struct tw *w)
{
	tw_put(w, cbor_encode_null(w->buf + w->len, sizeof(w->buf) - w->len));
}

static void tw_textn(struct tw *w, const char *s, size_t n)
{
	tw_put(w, cbor_encode_string_start(n, w->buf + w->len, sizeof(w->buf) - w->len));
	assert_true(n <= sizeof(w->buf) - w->len);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void tw_text(struct tw *w, const char *s)
{
	tw_textn(w, s, strlen(s));
}

static void tw_bytes(struct tw *w, const void *p, size_t n)
{
	tw_put(w, cbor_encode_bytestring_start(n, w->buf + w->len, sizeof(w->buf) - w->len));
	assert_true(n <= sizeof(w->buf) - w->len);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void tw_raw(struct tw *w, const void *p, size_t n)
{
	assert_true(n <= sizeof(w->buf) - w->len);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* A text of n copies of c. */
static void tw_text_fill(struct tw *w, char c, size_t n)
{
	char s[1024];

	assert_true(n <= sizeof(s));
	memset(s, c, n);
	tw_textn(w, s, n);
}

/* {"id": id, "op": op, ...} with `more` further pairs written by the caller. */
static void tw_head(struct tw *w, size_t more, uint64_t id, const char *op)
{
	tw_map(w, 2 + more);
	tw_text(w, "id");
	tw_uint(w, id);
	tw_text(w, "op");
	tw_text(w, op);
}

static void tw_component1(struct tw *w)
{
	tw_text(w, "component");
	tw_array(w, 1);
	tw_bytes(w, "ta", 2);
}

/* ---- checks ------------------------------------------------------------ */

/* Decode must fail with rc, a reason containing `needle`, and the id
 * recovered exactly when want_id says so. */
static void expect_reject(const struct tw *w, int rc, int want_has_id, uint64_t want_id,
                          const char *needle)
{
	struct tb_ua_request req;
	char err[256];
	uint64_t id = 99;
	int has_id = -1;

	int got = tb_ua_request_decode(w->buf, w->len, &req, &has_id, &id, err, sizeof(err));
	if (got != rc || !strstr(err, needle))
		print_error("rc %d (want %d), reason \"%s\" (want \"%s\")\n", got, rc, err, needle);
	assert_int_equal(got, rc);
	assert_non_null(strstr(err, needle));
	assert_int_equal(has_id, want_has_id);
	if (want_has_id)
		assert_int_equal(id, want_id);
	/* Nothing may be left allocated in a rejected request. */
	assert_int_equal(req.component.n, 0);
	assert_null(req.tam_uri);
	assert_null(req.tee);
}

static void expect_accept(const struct tw *w, struct tb_ua_request *req)
{
	char err[256] = "";
	uint64_t id;
	int has_id;

	int rc = tb_ua_request_decode(w->buf, w->len, req, &has_id, &id, err, sizeof(err));
	if (rc != TB_OK)
		print_error("rejected: %s\n", err);
	assert_int_equal(rc, TB_OK);
	assert_int_equal(has_id, 1);
	assert_int_equal(id, req->id);
}

/* ---- request round trips ----------------------------------------------- */

static void ua__request_ta_with_every_member__round_trips(void **state)
{
	struct tb_ua_request in = {0}, out;
	uint8_t seg0[] = "TEEP-Device", seg1[] = {0x8d, 0x82, 0x00, 0xff};
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t id;
	int has_id;
	char err[128];

	in.id = (UINT64_C(1) << 53) - 1;
	in.op = TB_UA_OP_REQUEST_TA;
	in.component.n = 2;
	in.component.seg[0] = (struct tb_buf){seg0, sizeof(seg0) - 1};
	in.component.seg[1] = (struct tb_buf){seg1, sizeof(seg1)};
	in.tam_uri = "https://tam.example/teep";
	in.tee = "sim_1-a";

	assert_int_equal(tb_ua_request_encode(&in, &buf, &len), TB_OK);
	assert_int_equal(tb_ua_request_decode(buf, len, &out, &has_id, &id, err, sizeof(err)),
	                 TB_OK);
	free(buf);
	assert_int_equal(has_id, 1);
	assert_int_equal(id, in.id);
	assert_int_equal(out.id, in.id);
	assert_int_equal(out.op, TB_UA_OP_REQUEST_TA);
	assert_int_equal(out.component.n, 2);
	assert_memory_equal(out.component.seg[0].ptr, seg0, sizeof(seg0) - 1);
	assert_int_equal(out.component.seg[1].len, sizeof(seg1));
	assert_memory_equal(out.component.seg[1].ptr, seg1, sizeof(seg1));
	assert_string_equal(out.tam_uri, in.tam_uri);
	assert_string_equal(out.tee, in.tee);
	tb_ua_request_clear(&out);
	assert_null(out.tam_uri);
}

static void ua__policy_check_without_options__round_trips(void **state)
{
	struct tb_ua_request in = {.id = 0, .op = TB_UA_OP_POLICY_CHECK}, out;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t id;
	int has_id;
	char err[128];

	assert_int_equal(tb_ua_request_encode(&in, &buf, &len), TB_OK);
	assert_int_equal(tb_ua_request_decode(buf, len, &out, &has_id, &id, err, sizeof(err)),
	                 TB_OK);
	free(buf);
	assert_int_equal(out.op, TB_UA_OP_POLICY_CHECK);
	assert_int_equal(out.id, 0);
	assert_int_equal(out.component.n, 0);
	assert_null(out.tam_uri);
	assert_null(out.tee);
	tb_ua_request_clear(&out);
}

static void ua__unrequest_ta_encoding__is_the_documented_map(void **state)
{
	/* {"id": 7, "op": "unrequest-ta", "component": [h'7461']} */
	static const uint8_t want[] = {0xa3, 0x62, 'i', 'd',  0x07, 0x62, 'o', 'p', 0x6c,
	                               'u',  'n',  'r', 'e',  'q',  'u',  'e', 's', 't',
	                               '-',  't',  'a', 0x69, 'c',  'o',  'm', 'p', 'o',
	                               'n',  'e',  'n', 't',  0x81, 0x42, 't', 'a'};
	struct tb_ua_request in = {.id = 7, .op = TB_UA_OP_UNREQUEST_TA};
	uint8_t ta[] = "ta";
	uint8_t *buf = NULL;
	size_t len = 0;

	in.component.n = 1;
	in.component.seg[0] = (struct tb_buf){ta, 2};
	assert_int_equal(tb_ua_request_encode(&in, &buf, &len), TB_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	free(buf);
}

static void ua__docs_worked_example__decodes_and_encodes_to_the_same_bytes(void **state)
{
	/* docs/ua-api.md section 8 */
	static const char hex[] = "a362696401626f706a726571756573742d746169636f6d706f6e656e74"
	                          "844b544545502d446576696365485365637572654653508d82573a926d"
	                          "4754935332dc29997f74427461";
	uint8_t frame[sizeof(hex) / 2];
	struct tb_ua_request req;
	struct tw w = {0};
	uint8_t *buf = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof(frame); i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		frame[i] = (uint8_t)v;
	}
	tw_raw(&w, frame, sizeof(frame));
	expect_accept(&w, &req);
	assert_int_equal(req.op, TB_UA_OP_REQUEST_TA);
	assert_int_equal(req.component.n, 4);
	assert_memory_equal(req.component.seg[1].ptr, "SecureFS", 8);
	assert_int_equal(tb_ua_request_encode(&req, &buf, &len), TB_OK);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(buf, frame, sizeof(frame));
	free(buf);
	tb_ua_request_clear(&req);
}

static void ua__encode_of_invalid_request__refused(void **state)
{
	uint8_t ta[] = "ta";
	struct tb_ua_request r = {.id = 1, .op = TB_UA_OP_POLICY_CHECK};
	uint8_t *buf = (uint8_t *)"untouched";
	size_t len = 0;

	r.component.n = 1;
	r.component.seg[0] = (struct tb_buf){ta, 2};
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
	assert_null(buf);

	r.op = TB_UA_OP_REQUEST_TA;
	r.tam_uri = "ftp://tam";
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
	r.tam_uri = NULL;
	r.tee = "bad name";
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
	r.tee = NULL;
	r.id = UINT64_C(1) << 53;
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
	r.id = 1;
	r.op = TB_UA_OP_NONE;
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
	r.op = TB_UA_OP_REQUEST_TA;
	r.component.n = 0;
	assert_int_equal(tb_ua_request_encode(&r, &buf, &len), TB_ERR_INVAL);
}

/* ---- request decoding: accepted forms ---------------------------------- */

static void ua__unknown_keys__ignored(void **state)
{
	struct tb_ua_request req;
	struct tw w = {0};

	tw_head(&w, 4, 5, "request-ta");
	tw_component1(&w);
	tw_text(&w, "future");
	tw_map(&w, 1);
	tw_uint(&w, 1);
	tw_text(&w, "x");
	tw_uint(&w, 42); /* an integer key */
	tw_text(&w, "ignored");
	tw_text(&w, "Id"); /* keys are case-sensitive: not "id" */
	tw_text(&w, "x");
	expect_accept(&w, &req);
	assert_int_equal(req.id, 5);
	assert_int_equal(req.component.n, 1);
	tb_ua_request_clear(&req);
}

/* Well-formed items libcbor 0.8 refuses to build: invalid UTF-8 in a text
 * string, and simple values 0..19 and 32..255. As unknown keys' values
 * they are ignored like any other value. */
static void ua__unknown_keys_with_values_libcbor_refuses__ignored(void **state)
{
	static const uint8_t bad_utf8[] = {0x63, 0xff, 0xfe, 0xfd};
	struct tb_ua_request req;
	struct tw w = {0};

	tw_head(&w, 4, 6, "policy-check");
	tw_text(&w, "simple0");
	tw_raw(&w, "\xe0", 1); /* simple(0) */
	tw_text(&w, "simple255");
	tw_raw(&w, "\xf8\xff", 2); /* simple(255) */
	tw_text(&w, "text");
	tw_raw(&w, bad_utf8, sizeof(bad_utf8));
	tw_raw(&w, bad_utf8, sizeof(bad_utf8)); /* a key that is not UTF-8 */
	tw_uint(&w, 1);
	expect_accept(&w, &req);
	assert_int_equal(req.id, 6);
	assert_int_equal(req.op, TB_UA_OP_POLICY_CHECK);
	tb_ua_request_clear(&req);
}

/* The same items as a whole frame, or as a member's value, are malformed
 * (error 1, which scores), never "out of memory" (error 13, which does
 * not). */
static void ua__frames_libcbor_refuses__malformed_not_out_of_memory(void **state)
{
	struct tw w = {0};

	tw_raw(&w, "\x63\xff\xfe\xfd", 4); /* text, invalid UTF-8 */
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "not a CBOR map");
	w.len = 0;
	tw_raw(&w, "\xe0", 1);
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "not a CBOR map");
	w.len = 0;
	tw_raw(&w, "\xf8\x20", 2);
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "not a CBOR map");
	w.len = 0;
	tw_head(&w, 1, 7, "policy-check");
	tw_text(&w, "tee");
	tw_raw(&w, "\x63\xff\xfe\xfd", 4);
	expect_reject(&w, TB_ERR_INVAL, 1, 7, "\"tee\" may only hold");
	w.len = 0;
	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_raw(&w, "\xe0", 1);
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "\"id\" is not an unsigned integer");
	w.len = 0;
	tw_head(&w, 0, 8, "\xff\xfe");
	expect_reject(&w, TB_ERR_UNSUP, 1, 8, "unknown \"op\" \"??\"");
}

/* An unknown key's value of a million tiny items is stepped over: the
 * request is served (a tree of it would cost tens of megabytes). */
static void ua__huge_unknown_value__stepped_over(void **state)
{
	const size_t items = 1024 * 1024;
	struct tb_ua_request req;
	struct tw head = {0};
	uint8_t *frame;
	size_t len = 0;
	char err[256] = "";
	uint64_t id;
	int has_id;

	tw_head(&head, 1, 9, "policy-check");
	tw_text(&head, "padding");
	frame = malloc(head.len + 5 + items);
	assert_non_null(frame);
	memcpy(frame, head.buf, head.len);
	len = head.len;
	frame[len++] = 0x9a; /* array, 4-byte count */
	frame[len++] = (uint8_t)(items >> 24);
	frame[len++] = (uint8_t)(items >> 16);
	frame[len++] = (uint8_t)(items >> 8);
	frame[len++] = (uint8_t)items;
	memset(frame + len, 0xe0, items); /* simple(0), refused by libcbor */
	len += items;
	assert_int_equal(tb_ua_request_decode(frame, len, &req, &has_id, &id, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(req.id, 9);
	tb_ua_request_clear(&req);
	free(frame);
}

/* Keys are bounded in number: a map of 257 entries is refused. */
static void ua__too_many_keys__rejected(void **state)
{
	struct tb_ua_request req;
	struct tw w = {0};

	tw_head(&w, 254, 10, "policy-check");
	for (unsigned i = 0; i < 254; i++)
		tw_uint(&w, i), tw_uint(&w, 0);
	expect_accept(&w, &req);
	tb_ua_request_clear(&req);
	w.len = 0;
	tw_head(&w, 255, 10, "policy-check");
	for (unsigned i = 0; i < 255; i++)
		tw_uint(&w, i), tw_uint(&w, 0);
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "more than 256 keys");
	/* the same as an indefinite map */
	w.len = 0;
	tw_raw(&w, "\xbf", 1);
	for (unsigned i = 0; i < 257; i++)
		tw_uint(&w, i), tw_uint(&w, 0);
	tw_raw(&w, "\xff", 1);
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "more than 256 keys");
}

static void ua__indefinite_length_map__accepted(void **state)
{
	static const uint8_t frame[] = {0xbf, 0x62, 'i', 'd', 0x18, 0x2a, 0x62, 'o',
	                                'p',  0x6c, 'p', 'o', 'l',  'i',  'c',  'y',
	                                '-',  'c',  'h', 'e', 'c',  'k',  0xff};
	struct tb_ua_request req;
	struct tw w = {0};

	tw_raw(&w, frame, sizeof(frame));
	expect_accept(&w, &req);
	assert_int_equal(req.id, 42);
	assert_int_equal(req.op, TB_UA_OP_POLICY_CHECK);
	tb_ua_request_clear(&req);
}

static void ua__limits_at_their_maximum__accepted(void **state)
{
	struct tb_ua_request req;
	struct tw w = {0};
	uint8_t seg[64];
	char tam[513];

	memset(seg, 0xa5, sizeof(seg));
	memcpy(tam, "http://", 7);
	memset(tam + 7, 'a', sizeof(tam) - 8);
	tam[512] = 0;

	tw_head(&w, 3, 1, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 8);
	for (int i = 0; i < 8; i++)
		tw_bytes(&w, seg, sizeof(seg));
	tw_text(&w, "tam");
	tw_text(&w, tam);
	tw_text(&w, "tee");
	tw_text_fill(&w, 'Z', 64);
	expect_accept(&w, &req);
	assert_int_equal(req.component.n, 8);
	assert_int_equal(strlen(req.tam_uri), 512);
	assert_int_equal(strlen(req.tee), 64);
	tb_ua_request_clear(&req);
}

/* ---- request decoding: malformed frames -------------------------------- */

static void ua__empty_frame__rejected_without_id(void **state)
{
	struct tw w = {0};

	expect_reject(&w, TB_ERR_PARSE, 0, 0, "empty");
}

static void ua__not_cbor__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_raw(&w, "\x1c\x00", 2); /* reserved additional information */
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "CBOR");
}

static void ua__trailing_bytes__rejected(void **state)
{
	struct tw w = {0};

	tw_head(&w, 0, 1, "policy-check");
	tw_uint(&w, 0);
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "trailing");
}

static void ua__not_a_map__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_array(&w, 2);
	tw_text(&w, "id");
	tw_uint(&w, 1);
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "not a CBOR map");
}

static void ua__missing_id__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_map(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "missing \"id\"");
}

static void ua__id_of_wrong_type__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_text(&w, "7");
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "\"id\" is not an unsigned integer");

	w.len = 0;
	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_negint(&w, 0); /* -1 */
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "\"id\" is not an unsigned integer");
}

static void ua__id_beyond_2_53__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 0, UINT64_C(1) << 53, "policy-check");
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "\"id\" is larger");
}

static void ua__duplicate_id__rejected_without_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 1, "policy-check");
	tw_text(&w, "id");
	tw_uint(&w, 2);
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "duplicate key \"id\"");
}

static void ua__duplicate_op__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 8, "policy-check");
	tw_text(&w, "op");
	tw_text(&w, "request-ta");
	expect_reject(&w, TB_ERR_INVAL, 1, 8, "duplicate key \"op\"");
}

static void ua__chunked_text_key__rejected(void **state)
{
	/* {"id": 1, (_ "o", "p"): "policy-check"} */
	static const uint8_t frame[] = {0xa2, 0x62, 'i',  'd',  0x01, 0x7f, 0x61, 'o',
	                                0x61, 'p',  0xff, 0x6c, 'p',  'o',  'l',  'i',
	                                'c',  'y',  '-',  'c',  'h',  'e',  'c',  'k'};
	struct tw w = {0};

	tw_raw(&w, frame, sizeof(frame));
	expect_reject(&w, TB_ERR_INVAL, 0, 0, "indefinite-length");
}

static void ua__unknown_op__unsupported_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 0, 12, "install-everything");
	expect_reject(&w, TB_ERR_UNSUP, 1, 12, "unknown \"op\" \"install-everything\"");
}

static void ua__missing_or_non_text_op__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_map(&w, 1);
	tw_text(&w, "id");
	tw_uint(&w, 3);
	expect_reject(&w, TB_ERR_INVAL, 1, 3, "missing \"op\"");

	w.len = 0;
	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_uint(&w, 3);
	tw_text(&w, "op");
	tw_uint(&w, 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 3, "\"op\" is not a text string");
}

static void ua__request_ta_without_component__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 0, 4, "request-ta");
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "missing \"component\"");
	w.len = 0;
	tw_head(&w, 0, 4, "unrequest-ta");
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "missing \"component\"");
}

static void ua__empty_component__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 0);
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "\"component\" must have 1..8 segments, not 0");
}

static void ua__component_of_nine_segments__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 9);
	for (int i = 0; i < 9; i++)
		tw_bytes(&w, "s", 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "\"component\" must have 1..8 segments, not 9");
}

static void ua__component_not_an_array__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_bytes(&w, "ta", 2);
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "\"component\" is not a definite-length array");
}

static void ua__component_segment_not_bstr__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 2);
	tw_bytes(&w, "a", 1);
	tw_text(&w, "b");
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "\"component\" segment 1 is not a definite byte");
}

static void ua__component_segment_of_bad_size__rejected_with_id(void **state)
{
	uint8_t big[65] = {0};
	struct tw w = {0};

	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 1);
	tw_bytes(&w, big, sizeof(big));
	expect_reject(&w, TB_ERR_INVAL, 1, 4,
	              "\"component\" segment 0 must be 1..64 bytes, not 65");

	w.len = 0;
	tw_head(&w, 1, 4, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 2);
	tw_bytes(&w, "x", 1);
	tw_bytes(&w, "", 0);
	expect_reject(&w, TB_ERR_INVAL, 1, 4, "\"component\" segment 1 must be 1..64 bytes, not 0");
}

static void ua__policy_check_with_component__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 6, "policy-check");
	tw_component1(&w);
	expect_reject(&w, TB_ERR_INVAL, 1, 6, "\"component\" must be absent for policy-check");
}

static void ua__tam_too_long__rejected_with_id(void **state)
{
	char tam[514];
	struct tw w = {0};

	memcpy(tam, "http://", 7);
	memset(tam + 7, 'a', sizeof(tam) - 8);
	tam[513] = 0;
	tw_head(&w, 2, 9, "request-ta");
	tw_component1(&w);
	tw_text(&w, "tam");
	tw_text(&w, tam);
	expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\" must be 1..512 bytes, not 513");
}

static void ua__tam_with_other_scheme__rejected_with_id(void **state)
{
	static const char *const bad[] = {"ftp://tam.example/", "tam.example", "http:/x",
	                                  "httpx://tam", ""};
	struct tw w = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w.len = 0;
		tw_head(&w, 1, 9, "policy-check");
		tw_text(&w, "tam");
		tw_text(&w, bad[i]);
		expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\"");
	}
}

static void ua__tam_with_upper_case_scheme__accepted(void **state)
{
	struct tb_ua_request req;
	struct tw w = {0};

	tw_head(&w, 1, 9, "policy-check");
	tw_text(&w, "tam");
	tw_text(&w, "HTTPS://tam.example:8443/tam");
	expect_accept(&w, &req);
	assert_string_equal(req.tam_uri, "HTTPS://tam.example:8443/tam");
	tb_ua_request_clear(&req);
}

static void ua__tam_without_host_or_with_control_bytes__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 9, "policy-check");
	tw_text(&w, "tam");
	tw_text(&w, "https://");
	expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\" has no host");

	w.len = 0;
	tw_head(&w, 1, 9, "policy-check");
	tw_text(&w, "tam");
	tw_text(&w, "http:///path");
	expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\" has no host");

	w.len = 0;
	tw_head(&w, 1, 9, "policy-check");
	tw_text(&w, "tam");
	tw_textn(&w, "http://a\r\nX: y", 14);
	expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\" holds a byte that is not printable");

	w.len = 0;
	tw_head(&w, 1, 9, "policy-check");
	tw_text(&w, "tam");
	tw_uint(&w, 80);
	expect_reject(&w, TB_ERR_INVAL, 1, 9, "\"tam\" is not a text string");
}

static void ua__tee_with_bad_characters__rejected_with_id(void **state)
{
	static const char *const bad[] = {"sim 1", "sim/..", "s\xc3\xa9", "sim.1", "a;b"};
	struct tw w = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w.len = 0;
		tw_head(&w, 1, 10, "policy-check");
		tw_text(&w, "tee");
		tw_text(&w, bad[i]);
		expect_reject(&w, TB_ERR_INVAL, 1, 10, "\"tee\" may only hold");
	}
	w.len = 0;
	tw_head(&w, 1, 10, "policy-check");
	tw_text(&w, "tee");
	tw_textn(&w, "a\0b", 3);
	expect_reject(&w, TB_ERR_INVAL, 1, 10, "\"tee\" may only hold");
}

static void ua__tee_of_bad_length__rejected_with_id(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 10, "policy-check");
	tw_text(&w, "tee");
	tw_text(&w, "");
	expect_reject(&w, TB_ERR_INVAL, 1, 10, "\"tee\" must be 1..64 bytes, not 0");

	w.len = 0;
	tw_head(&w, 1, 10, "policy-check");
	tw_text(&w, "tee");
	tw_text_fill(&w, 'a', 65);
	expect_reject(&w, TB_ERR_INVAL, 1, 10, "\"tee\" must be 1..64 bytes, not 65");
}

static void ua__every_truncation_of_a_valid_request__rejected(void **state)
{
	struct tw w = {0};
	struct tb_ua_request req;
	char err[256];
	uint64_t id;
	int has_id;

	tw_head(&w, 3, 77, "request-ta");
	tw_component1(&w);
	tw_text(&w, "tam");
	tw_text(&w, "http://127.0.0.1:8480/tam");
	tw_text(&w, "tee");
	tw_text(&w, "sim");
	expect_accept(&w, &req);
	tb_ua_request_clear(&req);
	for (size_t cut = 1; cut < w.len; cut++) {
		assert_int_equal(
		    tb_ua_request_decode(w.buf, cut, &req, &has_id, &id, err, sizeof(err)),
		    TB_ERR_PARSE);
		assert_int_equal(has_id, 0);
		assert_non_null(strstr(err, "CBOR"));
	}
}

static void ua__huge_declared_lengths__rejected_without_allocating(void **state)
{
	static const uint8_t map_4g[] = {0xba, 0xff, 0xff, 0xff, 0xff, 0x62, 'i', 'd', 0x01};
	static const uint8_t map_2_63[] = {0xbb, 0x7f, 0xff, 0xff, 0xff,
	                                   0xff, 0xff, 0xff, 0xff, 0x00};
	/* {"id": 1, "op": "request-ta", "component": [ 2^32-1 segments ]} */
	static const uint8_t tail_array[] = {0x69, 'c',  'o',  'm',  'p',  'o',  'n',  'e', 'n',
	                                     't',  0x9a, 0xff, 0xff, 0xff, 0xff, 0x41, 'x'};
	/* a byte string that claims 2^63 bytes */
	static const uint8_t tail_bstr[] = {0x69, 'c',  'o',  'm',  'p',  'o',  'n',
	                                    'e',  'n',  't',  0x81, 0x5b, 0x7f, 0xff,
	                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'};
	struct tw w = {0};

	tw_raw(&w, map_4g, sizeof(map_4g));
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "exceeds");
	w.len = 0;
	tw_raw(&w, map_2_63, sizeof(map_2_63));
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "exceeds");
	w.len = 0;
	tw_head(&w, 1, 1, "request-ta");
	tw_raw(&w, tail_array, sizeof(tail_array));
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "exceeds");
	w.len = 0;
	tw_head(&w, 1, 1, "request-ta");
	tw_raw(&w, tail_bstr, sizeof(tail_bstr));
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "exceeds");
}

static void ua__deep_nesting__rejected(void **state)
{
	struct tw w = {0};

	tw_head(&w, 1, 1, "policy-check");
	tw_text(&w, "x");
	for (int i = 0; i < 40; i++)
		tw_array(&w, 1);
	tw_uint(&w, 0);
	expect_reject(&w, TB_ERR_PARSE, 0, 0, "deep");
}

/* ---- answers ----------------------------------------------------------- */

static void decode_answer(const uint8_t *buf, int n, struct tb_ua_answer *a, char *arena,
                          size_t arena_len)
{
	assert_true(n > 0);
	assert_true(n <= TB_UA_ANSWER_MAX);
	assert_int_equal(tb_ua_answer_decode(buf, (size_t)n, a, arena, arena_len), TB_OK);
}

static void ua__progress_answer__round_trips(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 3,
	                          .event = TB_UA_EV_PROGRESS,
	                          .step = "tam-connect",
	                          .detail = "http://127.0.0.1:8480/tam"},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];

	decode_answer(buf, tb_ua_answer_encode(&in, buf, sizeof(buf)), &out, arena, sizeof(arena));
	assert_int_equal(out.has_id, 1);
	assert_int_equal(out.id, 3);
	assert_int_equal(out.event, TB_UA_EV_PROGRESS);
	assert_string_equal(out.step, "tam-connect");
	assert_string_equal(out.detail, in.detail);
	assert_null(out.result);
	assert_null(out.reason);
}

static void ua__done_answer__round_trips(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 4,
	                          .event = TB_UA_EV_DONE,
	                          .result = "installed",
	                          /* members of other events are not sent */
	                          .step = "ignored",
	                          .code = 5},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];

	decode_answer(buf, tb_ua_answer_encode(&in, buf, sizeof(buf)), &out, arena, sizeof(arena));
	assert_int_equal(out.event, TB_UA_EV_DONE);
	assert_string_equal(out.result, "installed");
	assert_null(out.step);
	assert_null(out.detail);
	assert_int_equal(out.code, 0);
}

static void ua__error_answer_with_null_id__round_trips(void **state)
{
	/* {"id": null, "event": "error", "code": 1, "reason": "bad"} */
	static const uint8_t want[] = {0xa4, 0x62, 'i',  'd',  0xf6, 0x65, 'e', 'v', 'e',
	                               'n',  't',  0x65, 'e',  'r',  'r',  'o', 'r', 0x64,
	                               'c',  'o',  'd',  'e',  0x01, 0x66, 'r', 'e', 'a',
	                               's',  'o',  'n',  0x63, 'b',  'a',  'd'};
	struct tb_ua_answer in = {.has_id = 0,
	                          .event = TB_UA_EV_ERROR,
	                          .code = TB_UA_E_MALFORMED,
	                          .reason = "bad"},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];
	int n = tb_ua_answer_encode(&in, buf, sizeof(buf));

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	decode_answer(buf, n, &out, arena, sizeof(arena));
	assert_int_equal(out.has_id, 0);
	assert_int_equal(out.event, TB_UA_EV_ERROR);
	assert_int_equal(out.code, TB_UA_E_MALFORMED);
	assert_string_equal(out.reason, "bad");
}

static void ua__error_answer_without_reason__names_its_code(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 2,
	                          .event = TB_UA_EV_ERROR,
	                          .code = TB_UA_E_TAM_UNREACHABLE},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];

	decode_answer(buf, tb_ua_answer_encode(&in, buf, sizeof(buf)), &out, arena, sizeof(arena));
	assert_string_equal(out.reason, "tam-unreachable");
}

static void ua__busy_answer__round_trips(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 9,
	                          .event = TB_UA_EV_BUSY,
	                          .retry_after_ms = 1000,
	                          .reason = "too many requests in flight"},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];

	decode_answer(buf, tb_ua_answer_encode(&in, buf, sizeof(buf)), &out, arena, sizeof(arena));
	assert_int_equal(out.event, TB_UA_EV_BUSY);
	assert_int_equal(out.retry_after_ms, 1000);
	assert_string_equal(out.reason, in.reason);
}

static void ua__busy_answer__keys_in_the_documented_order(void **state)
{
	/* {"id": 9, "event": "busy", "retry-after": 1000, "reason": "rate limited"},
	 * keys in the order of docs/ua-api.md section 2.2 */
	static const uint8_t want[] = {
	    0xa4, 0x62, 'i',  'd',  0x09, 0x65, 'e', 'v', 'e', 'n', 't', 0x64, 'b',
	    'u',  's',  'y',  0x6b, 'r',  'e',  't', 'r', 'y', '-', 'a', 'f',  't',
	    'e',  'r',  0x19, 0x03, 0xe8, 0x66, 'r', 'e', 'a', 's', 'o', 'n',  0x6c,
	    'r',  'a',  't',  'e',  ' ',  'l',  'i', 'm', 'i', 't', 'e', 'd'};
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 9,
	                          .event = TB_UA_EV_BUSY,
	                          .retry_after_ms = 1000,
	                          .reason = "rate limited"};
	uint8_t buf[TB_UA_ANSWER_MAX];
	int n = tb_ua_answer_encode(&in, buf, sizeof(buf));

	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void ua__long_texts__truncated_on_a_character_boundary(void **state)
{
	char detail[600], reason[600];
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = (UINT64_C(1) << 53) - 1,
	                          .event = TB_UA_EV_ERROR,
	                          .code = TB_UA_E_INTERNAL,
	                          .reason = reason,
	                          .detail = detail},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];
	int n;

	/* 'a' then two-byte characters: byte 256 would split one of them. */
	detail[0] = 'a';
	for (size_t i = 1; i + 2 < sizeof(detail); i += 2)
		memcpy(detail + i, "\xc3\xa9", 2);
	detail[sizeof(detail) - 1] = 0;
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = 0;

	n = tb_ua_answer_encode(&in, buf, sizeof(buf));
	decode_answer(buf, n, &out, arena, sizeof(arena));
	assert_int_equal(strlen(out.reason), TB_UA_MAX_TEXT);
	assert_int_equal(strlen(out.detail), TB_UA_MAX_TEXT - 1);
	assert_memory_equal(out.detail + 1, "\xc3\xa9", 2);
}

static void ua__invalid_utf8_in_texts__replaced(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 1,
	                          .event = TB_UA_EV_ERROR,
	                          .code = TB_UA_E_TAM_HTTP,
	                          .reason = "bad \xff\xc3 \xed\xa0\x80 end"},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[1024];

	decode_answer(buf, tb_ua_answer_encode(&in, buf, sizeof(buf)), &out, arena, sizeof(arena));
	assert_string_equal(out.reason, "bad ?? ??? end");
}

static void ua__largest_answer__fits_answer_max(void **state)
{
	char big[1000];
	struct tb_ua_answer a = {.has_id = 1, .id = (UINT64_C(1) << 53) - 1};
	uint8_t buf[TB_UA_ANSWER_MAX];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	a.step = a.detail = a.result = a.reason = big;
	a.code = INT32_MAX;
	a.retry_after_ms = UINT64_MAX;
	for (int ev = TB_UA_EV_PROGRESS; ev <= TB_UA_EV_BUSY; ev++) {
		a.event = (enum tb_ua_event)ev;
		int n = tb_ua_answer_encode(&a, buf, sizeof(buf));
		assert_true(n > 0);
		assert_true(n <= TB_UA_ANSWER_MAX);
	}
}

static void ua__answer_encode__refuses_incomplete_answers_and_small_buffers(void **state)
{
	uint8_t buf[TB_UA_ANSWER_MAX];
	struct tb_ua_answer a = {.has_id = 1, .id = 1, .event = TB_UA_EV_PROGRESS};

	assert_int_equal(tb_ua_answer_encode(&a, buf, sizeof(buf)), TB_ERR_INVAL);
	a.event = TB_UA_EV_DONE;
	assert_int_equal(tb_ua_answer_encode(&a, buf, sizeof(buf)), TB_ERR_INVAL);
	a.event = TB_UA_EV_ERROR;
	assert_int_equal(tb_ua_answer_encode(&a, buf, sizeof(buf)), TB_ERR_INVAL);
	a.event = (enum tb_ua_event)0;
	assert_int_equal(tb_ua_answer_encode(&a, buf, sizeof(buf)), TB_ERR_INVAL);
	a.event = TB_UA_EV_BUSY;
	a.id = UINT64_C(1) << 53;
	assert_int_equal(tb_ua_answer_encode(&a, buf, sizeof(buf)), TB_ERR_INVAL);
	a.id = 1;
	assert_true(tb_ua_answer_encode(&a, buf, sizeof(buf)) > 0);
	assert_int_equal(tb_ua_answer_encode(&a, buf, 10), TB_ERR_TOOBIG);
}

/* An answer libcbor refuses to build is malformed, not out of memory. */
static void ua__answer_decode__libcbor_refusal_is_a_parse_error(void **state)
{
	struct tb_ua_answer a;
	char arena[256];
	struct tw w = {0};

	tw_map(&w, 4);
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "event");
	tw_text(&w, "error");
	tw_text(&w, "code");
	tw_uint(&w, 1);
	tw_text(&w, "reason");
	tw_raw(&w, "\x63\xff\xfe\xfd", 4);
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_PARSE);
	w.len = 0;
	tw_raw(&w, "\xe0", 1);
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_PARSE);
}

static void ua__answer_decode__rejects_answers_that_cannot_be_acted_upon(void **state)
{
	struct tb_ua_answer a;
	char arena[256];
	struct tw w = {0};

	/* error without code */
	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "event");
	tw_text(&w, "error");
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_INVAL);
	/* unknown event: a later version may add one */
	w.len = 0;
	tw_map(&w, 2);
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "event");
	tw_text(&w, "teleport");
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_UNSUP);
	/* missing id */
	w.len = 0;
	tw_map(&w, 3);
	tw_text(&w, "event");
	tw_text(&w, "done");
	tw_text(&w, "result");
	tw_text(&w, "installed");
	tw_text(&w, "x");
	tw_null(&w);
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_INVAL);
	/* an id that is a float (libcbor 0.8 asserts if asked whether a
	 * float is null) */
	w.len = 0;
	tw_map(&w, 3);
	tw_text(&w, "id");
	tw_raw(&w, "\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9); /* 1.5 */
	tw_text(&w, "event");
	tw_text(&w, "done");
	tw_text(&w, "result");
	tw_text(&w, "installed");
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_INVAL);
	/* not a map */
	w.len = 0;
	tw_uint(&w, 1);
	assert_int_equal(tb_ua_answer_decode(w.buf, w.len, &a, arena, sizeof(arena)), TB_ERR_PARSE);
}

static void ua__answer_decode__arena_too_small__reported(void **state)
{
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 4,
	                          .event = TB_UA_EV_DONE,
	                          .result = "installed",
	                          .detail = "component TEEP-Device/ta"},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX];
	char arena[16];
	int n = tb_ua_answer_encode(&in, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(tb_ua_answer_decode(buf, (size_t)n, &out, arena, sizeof(arena)),
	                 TB_ERR_TOOBIG);
}

/* ---- the app-as-TAM ops ------------------------------------------------ */

static void ua__tam_ops__round_trip(void **state)
{
	static const uint8_t msg[] = {0xd2, 0x84, 0x40, 0xa0, 0x41, 0x00, 0x40};
	struct tb_ua_request in[3] = {
	    {.id = 1, .op = TB_UA_OP_TAM_SESSION, .tee = "sim"},
	    {.id = 2,
	     .op = TB_UA_OP_TAM_MESSAGE,
	     .session = 1,
	     .msg = (uint8_t *)msg,
	     .msg_len = sizeof(msg)},
	    {.id = 3, .op = TB_UA_OP_TAM_END, .session = 1},
	};

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct tb_ua_request out;
		uint8_t *buf;
		size_t len;
		struct tw w;

		assert_int_equal(tb_ua_request_encode(&in[i], &buf, &len), TB_OK);
		assert_true(len <= sizeof(w.buf));
		memcpy(w.buf, buf, len);
		w.len = len;
		free(buf);
		expect_accept(&w, &out);
		assert_int_equal(out.op, in[i].op);
		assert_int_equal(out.session, in[i].session);
		assert_int_equal(out.msg_len, in[i].msg_len);
		if (in[i].msg)
			assert_memory_equal(out.msg, msg, sizeof(msg));
		else
			assert_null(out.msg);
		if (in[i].tee)
			assert_string_equal(out.tee, in[i].tee);
		tb_ua_request_clear(&out);
	}
}

static void ua__tam_ops_with_wrong_members__rejected_with_id(void **state)
{
	struct tw w = {0};

	(void)state;
	/* tam-message without msg */
	tw_head(&w, 1, 5, "tam-message");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 5, "\"msg\" must be present for tam-message");
	/* tam-message without session */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 5, "tam-message");
	tw_text(&w, "msg");
	tw_bytes(&w, "x", 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 5, "\"session\" must be present for tam-message");
	/* empty msg */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 2, 5, "tam-message");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	tw_text(&w, "msg");
	tw_bytes(&w, "", 0);
	expect_reject(&w, TB_ERR_INVAL, 1, 5, "\"msg\" must be 1..");
	/* msg as text */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 2, 5, "tam-message");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	tw_text(&w, "msg");
	tw_text(&w, "x");
	expect_reject(&w, TB_ERR_INVAL, 1, 5, "\"msg\" is not a definite byte string");
	/* tam-session with a session, or a component, or a tam */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 6, "tam-session");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 6, "\"session\" must be absent for tam-session");
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 6, "tam-session");
	tw_component1(&w);
	expect_reject(&w, TB_ERR_INVAL, 1, 6, "\"component\" must be absent for tam-session");
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 6, "tam-session");
	tw_text(&w, "tam");
	tw_text(&w, "http://tam.example/");
	expect_reject(&w, TB_ERR_INVAL, 1, 6, "\"tam\" must be absent for tam-session");
	/* tam-end with a msg, a tee, or a session that is no uint */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 2, 7, "tam-end");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	tw_text(&w, "msg");
	tw_bytes(&w, "x", 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 7, "\"msg\" must be absent for tam-end");
	memset(&w, 0, sizeof(w));
	tw_head(&w, 2, 7, "tam-end");
	tw_text(&w, "session");
	tw_uint(&w, 1);
	tw_text(&w, "tee");
	tw_text(&w, "sim");
	expect_reject(&w, TB_ERR_INVAL, 1, 7, "\"tee\" must be absent for tam-end");
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 7, "tam-end");
	tw_text(&w, "session");
	tw_text(&w, "1");
	expect_reject(&w, TB_ERR_INVAL, 1, 7, "\"session\" is not an unsigned integer");
	/* a policy-check with a msg */
	memset(&w, 0, sizeof(w));
	tw_head(&w, 1, 8, "policy-check");
	tw_text(&w, "msg");
	tw_bytes(&w, "x", 1);
	expect_reject(&w, TB_ERR_INVAL, 1, 8, "\"msg\" must be absent for policy-check");
}

static void ua__done_answer_with_msg__round_trips(void **state)
{
	static const uint8_t msg[300] = {0xd2, 0x84};
	struct tb_ua_answer in = {.has_id = 1,
	                          .id = 9,
	                          .event = TB_UA_EV_DONE,
	                          .result = "answered",
	                          .msg = msg,
	                          .msg_len = sizeof(msg)},
	                    out;
	uint8_t buf[TB_UA_ANSWER_MAX + sizeof(msg)];
	char arena[1024];
	int n;

	(void)state;
	n = tb_ua_answer_encode(&in, buf, sizeof(buf));
	assert_true(n > (int)sizeof(msg));
	assert_int_equal(tb_ua_answer_decode(buf, (size_t)n, &out, arena, sizeof(arena)), TB_OK);
	assert_string_equal(out.result, "answered");
	assert_int_equal(out.msg_len, sizeof(msg));
	assert_memory_equal(out.msg, msg, sizeof(msg));
	/* an arena too small for it */
	assert_int_equal(tb_ua_answer_decode(buf, (size_t)n, &out, arena, 200), TB_ERR_TOOBIG);
	/* a msg on another event is not sent */
	in.event = TB_UA_EV_PROGRESS;
	in.step = "tam-session";
	n = tb_ua_answer_encode(&in, buf, sizeof(buf));
	assert_true(n > 0 && n < 100);
}

static void ua__names__cover_every_value(void **state)
{
	assert_string_equal(tb_ua_op_name(TB_UA_OP_REQUEST_TA), "request-ta");
	assert_string_equal(tb_ua_op_name(TB_UA_OP_UNREQUEST_TA), "unrequest-ta");
	assert_string_equal(tb_ua_op_name(TB_UA_OP_POLICY_CHECK), "policy-check");
	assert_string_equal(tb_ua_op_name((enum tb_ua_op)99), "unknown");
	assert_string_equal(tb_ua_code_name(TB_UA_E_MALFORMED), "malformed");
	assert_string_equal(tb_ua_code_name(TB_UA_E_TAM_UNREACHABLE), "tam-unreachable");
	assert_string_equal(tb_ua_code_name(TB_UA_E_INTERNAL), "internal");
	assert_string_equal(tb_ua_code_name(TB_UA_E_TAM_NOT_ALLOWED), "tam-not-allowed");
	assert_string_equal(tb_ua_code_name(TB_UA_E_FORBIDDEN), "forbidden");
	assert_int_equal(TB_UA_E_TAM_NOT_ALLOWED, 14);
	assert_int_equal(TB_UA_E_FORBIDDEN, 15);
	assert_string_equal(tb_ua_op_name(TB_UA_OP_TAM_SESSION), "tam-session");
	assert_string_equal(tb_ua_op_name(TB_UA_OP_TAM_MESSAGE), "tam-message");
	assert_string_equal(tb_ua_op_name(TB_UA_OP_TAM_END), "tam-end");
	assert_int_equal(TB_UA_E_NO_SESSION, 16);
	assert_int_equal(TB_UA_E_REJECTED, 17);
	assert_int_equal(TB_UA_E_SESSION_LIMIT, 18);
	assert_string_equal(tb_ua_code_name(TB_UA_E_NO_SESSION), "no-session");
	assert_string_equal(tb_ua_code_name(TB_UA_E_REJECTED), "rejected");
	assert_string_equal(tb_ua_code_name(TB_UA_E_SESSION_LIMIT), "session-limit");
	assert_string_equal(tb_ua_code_name(0), "unknown");
	assert_string_equal(tb_ua_code_name(19), "unknown");
	for (int c = TB_UA_E_MALFORMED; c <= TB_UA_E_SESSION_LIMIT; c++)
		assert_string_not_equal(tb_ua_code_name(c), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ua__request_ta_with_every_member__round_trips),
	    cmocka_unit_test(ua__policy_check_without_options__round_trips),
	    cmocka_unit_test(ua__unrequest_ta_encoding__is_the_documented_map),
	    cmocka_unit_test(ua__docs_worked_example__decodes_and_encodes_to_the_same_bytes),
	    cmocka_unit_test(ua__encode_of_invalid_request__refused),
	    cmocka_unit_test(ua__unknown_keys__ignored),
	    cmocka_unit_test(ua__unknown_keys_with_values_libcbor_refuses__ignored),
	    cmocka_unit_test(ua__frames_libcbor_refuses__malformed_not_out_of_memory),
	    cmocka_unit_test(ua__huge_unknown_value__stepped_over),
	    cmocka_unit_test(ua__too_many_keys__rejected),
	    cmocka_unit_test(ua__indefinite_length_map__accepted),
	    cmocka_unit_test(ua__limits_at_their_maximum__accepted),
	    cmocka_unit_test(ua__empty_frame__rejected_without_id),
	    cmocka_unit_test(ua__not_cbor__rejected_without_id),
	    cmocka_unit_test(ua__trailing_bytes__rejected),
	    cmocka_unit_test(ua__not_a_map__rejected_without_id),
	    cmocka_unit_test(ua__missing_id__rejected_without_id),
	    cmocka_unit_test(ua__id_of_wrong_type__rejected_without_id),
	    cmocka_unit_test(ua__id_beyond_2_53__rejected_without_id),
	    cmocka_unit_test(ua__duplicate_id__rejected_without_id),
	    cmocka_unit_test(ua__duplicate_op__rejected_with_id),
	    cmocka_unit_test(ua__chunked_text_key__rejected),
	    cmocka_unit_test(ua__unknown_op__unsupported_with_id),
	    cmocka_unit_test(ua__missing_or_non_text_op__rejected_with_id),
	    cmocka_unit_test(ua__request_ta_without_component__rejected_with_id),
	    cmocka_unit_test(ua__empty_component__rejected_with_id),
	    cmocka_unit_test(ua__component_of_nine_segments__rejected_with_id),
	    cmocka_unit_test(ua__component_not_an_array__rejected_with_id),
	    cmocka_unit_test(ua__component_segment_not_bstr__rejected_with_id),
	    cmocka_unit_test(ua__component_segment_of_bad_size__rejected_with_id),
	    cmocka_unit_test(ua__policy_check_with_component__rejected_with_id),
	    cmocka_unit_test(ua__tam_too_long__rejected_with_id),
	    cmocka_unit_test(ua__tam_with_other_scheme__rejected_with_id),
	    cmocka_unit_test(ua__tam_with_upper_case_scheme__accepted),
	    cmocka_unit_test(ua__tam_without_host_or_with_control_bytes__rejected_with_id),
	    cmocka_unit_test(ua__tee_with_bad_characters__rejected_with_id),
	    cmocka_unit_test(ua__tee_of_bad_length__rejected_with_id),
	    cmocka_unit_test(ua__every_truncation_of_a_valid_request__rejected),
	    cmocka_unit_test(ua__huge_declared_lengths__rejected_without_allocating),
	    cmocka_unit_test(ua__deep_nesting__rejected),
	    cmocka_unit_test(ua__progress_answer__round_trips),
	    cmocka_unit_test(ua__done_answer__round_trips),
	    cmocka_unit_test(ua__error_answer_with_null_id__round_trips),
	    cmocka_unit_test(ua__error_answer_without_reason__names_its_code),
	    cmocka_unit_test(ua__busy_answer__round_trips),
	    cmocka_unit_test(ua__busy_answer__keys_in_the_documented_order),
	    cmocka_unit_test(ua__long_texts__truncated_on_a_character_boundary),
	    cmocka_unit_test(ua__invalid_utf8_in_texts__replaced),
	    cmocka_unit_test(ua__largest_answer__fits_answer_max),
	    cmocka_unit_test(ua__answer_encode__refuses_incomplete_answers_and_small_buffers),
	    cmocka_unit_test(ua__answer_decode__rejects_answers_that_cannot_be_acted_upon),
	    cmocka_unit_test(ua__answer_decode__libcbor_refusal_is_a_parse_error),
	    cmocka_unit_test(ua__answer_decode__arena_too_small__reported),
	    cmocka_unit_test(ua__tam_ops__round_trip),
	    cmocka_unit_test(ua__tam_ops_with_wrong_members__rejected_with_id),
	    cmocka_unit_test(ua__done_answer_with_msg__round_trips),
	    cmocka_unit_test(ua__names__cover_every_value),
	};

	return cmocka_run_group_tests_name("uaproto", tests, NULL, NULL);
}
