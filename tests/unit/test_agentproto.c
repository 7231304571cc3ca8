/* Unit tests of the Agent protocol codec (lib/agentproto.c,
 * docs/agent-protocol.md): round trips, every refusal, truncations, the
 * frame reader's bounds. */
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

#include "tb_agentproto.h"

/* ---- a tiny CBOR writer, so each refusal spells out its frame ---------- */

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

static void tw_textn(struct tw *w, const char *s, size_t n)
{
	tw_put(w, cbor_encode_string_start(n, w->buf + w->len, sizeof(w->buf) - w->len));
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
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* ---- helpers ----------------------------------------------------------- */

/* Encode m, check the length prefix, decode the payload into out. */
static void round_trip(const struct tb_ap_msg *m, struct tb_ap_msg *out)
{
	uint8_t *f;
	size_t len, n;
	char err[200];
	int code = -1;

	assert_int_equal(tb_ap_encode(m, &f, &len), TB_OK);
	assert_true(len > TB_AP_HDR_LEN);
	n = (size_t)f[0] << 24 | (size_t)f[1] << 16 | (size_t)f[2] << 8 | f[3];
	assert_int_equal(n, len - TB_AP_HDR_LEN);
	if (tb_ap_decode(f + TB_AP_HDR_LEN, n, out, &code, err, sizeof(err)) != TB_OK)
		fail_msg("decode: %s", err);
	assert_int_equal(code, TB_AP_OK);
	assert_int_equal(out->type, m->type);
	free(f);
}

/* Decoding w must fail with code; err must mention what. */
static void refused(const struct tw *w, int code, const char *what)
{
	struct tb_ap_msg m;
	char err[200];
	int c = -1;

	assert_int_not_equal(tb_ap_decode(w->buf, w->len, &m, &c, err, sizeof(err)), TB_OK);
	assert_int_equal(c, code);
	if (what && !strstr(err, what))
		fail_msg("reason '%s' does not mention '%s'", err, what);
	/* nothing left to free: the decoder cleared what it had */
	assert_null(m.msg);
	assert_null(m.reason);
	assert_int_equal(m.component.n, 0);
}

static const uint8_t seg1[] = {0x8d, 0x82, 0x57, 0x3a};

/* ---- round trips ------------------------------------------------------- */

static void test_hello_welcome(void **state)
{
	struct tb_ap_msg h = {
	    .type = TB_AP_HELLO, .versions = {1, 7}, .n_versions = 2, .client = "broker"};
	struct tb_ap_msg w = {.type = TB_AP_WELCOME,
	                      .version = 1,
	                      .agent = "sim",
	                      .max_frame = 65536,
	                      .max_calls = 8};
	struct tb_ap_msg o;

	(void)state;
	round_trip(&h, &o);
	assert_int_equal(o.n_versions, 2);
	assert_int_equal(o.versions[1], 7);
	assert_string_equal(o.client, "broker");
	tb_ap_msg_clear(&o);
	round_trip(&w, &o);
	assert_int_equal(o.version, 1);
	assert_string_equal(o.agent, "sim");
	assert_int_equal(o.max_frame, 65536);
	assert_int_equal(o.max_calls, 8);
	tb_ap_msg_clear(&o);
}

static void test_calls(void **state)
{
	struct tb_ap_msg c = {.type = TB_AP_CALL, .has_id = 1, .id = UINT64_MAX};
	uint8_t msg[3] = {1, 2, 3};
	struct tb_ap_msg o;

	(void)state;
	c.op = TB_AP_OP_REQUEST_TA;
	c.component.n = 2;
	c.component.seg[0].ptr = (uint8_t *)seg1;
	c.component.seg[0].len = sizeof(seg1);
	c.component.seg[1].ptr = NULL; /* an empty segment */
	c.tam_uri = "http://tam.example/tam";
	c.app_id = "app one";
	round_trip(&c, &o);
	assert_int_equal(o.op, TB_AP_OP_REQUEST_TA);
	assert_true(o.has_id);
	assert_true(o.id == UINT64_MAX);
	assert_int_equal(o.component.n, 2);
	assert_memory_equal(o.component.seg[0].ptr, seg1, sizeof(seg1));
	assert_int_equal(o.component.seg[1].len, 0);
	assert_string_equal(o.tam_uri, "http://tam.example/tam");
	assert_string_equal(o.app_id, "app one");
	tb_ap_msg_clear(&o);

	c.op = TB_AP_OP_UNREQUEST_TA;
	c.tam_uri = NULL;
	c.app_id = NULL;
	round_trip(&c, &o);
	assert_int_equal(o.op, TB_AP_OP_UNREQUEST_TA);
	assert_null(o.tam_uri);
	tb_ap_msg_clear(&o);

	memset(&c, 0, sizeof(c));
	c.type = TB_AP_CALL;
	c.has_id = 1;
	c.id = 5;
	c.op = TB_AP_OP_POLICY_CHECK;
	round_trip(&c, &o);
	assert_int_equal(o.op, TB_AP_OP_POLICY_CHECK);
	tb_ap_msg_clear(&o);

	c.op = TB_AP_OP_PROCESS_MESSAGE;
	c.has_session = 1;
	c.session = 42;
	c.media_type = "application/teep+cbor";
	c.msg = msg;
	c.msg_len = sizeof(msg);
	round_trip(&c, &o);
	assert_int_equal(o.session, 42);
	assert_string_equal(o.media_type, "application/teep+cbor");
	assert_memory_equal(o.msg, msg, sizeof(msg));
	tb_ap_msg_clear(&o);

	c.media_type = NULL;
	c.msg = NULL;
	c.msg_len = 0;
	c.op = TB_AP_OP_PROCESS_ERROR;
	round_trip(&c, &o);
	assert_int_equal(o.op, TB_AP_OP_PROCESS_ERROR);
	tb_ap_msg_clear(&o);
	c.op = TB_AP_OP_SESSION_CLOSE;
	round_trip(&c, &o);
	assert_int_equal(o.op, TB_AP_OP_SESSION_CLOSE);
	assert_int_equal(o.session, 42);
	tb_ap_msg_clear(&o);
}

static void test_answers(void **state)
{
	uint8_t msg[2] = {0xa0, 0x01};
	struct tb_ap_msg a = {.type = TB_AP_ANSWER,
	                      .has_id = 1,
	                      .id = 9,
	                      .tam_uri = "https://tam/",
	                      .has_session = 1,
	                      .session = 3,
	                      .msg = msg,
	                      .msg_len = 2};
	struct tb_ap_msg e = {.type = TB_AP_ANSWER,
	                      .code = TB_AP_E_AGENT,
	                      .reason = "the Agent failed",
	                      .tee_status = TB_ERR_SIG,
	                      .has_id = 1,
	                      .id = 10};
	struct tb_ap_msg b = {.type = TB_AP_ANSWER,
	                      .code = TB_AP_E_BUSY,
	                      .reason = "full",
	                      .has_retry = 1,
	                      .retry_after_ms = 100};
	struct tb_ap_msg o;

	(void)state;
	round_trip(&a, &o);
	assert_int_equal(o.code, TB_AP_OK);
	assert_string_equal(o.tam_uri, "https://tam/");
	assert_int_equal(o.session, 3);
	assert_int_equal(o.msg_len, 2);
	tb_ap_msg_clear(&o);

	a.tam_uri = NULL;
	a.msg = NULL;
	a.msg_len = 0;
	a.has_session = 0;
	round_trip(&a, &o); /* "nothing to do" */
	assert_null(o.tam_uri);
	assert_null(o.msg);
	assert_false(o.has_session);
	tb_ap_msg_clear(&o);

	round_trip(&e, &o);
	assert_int_equal(o.code, TB_AP_E_AGENT);
	assert_int_equal(o.tee_status, TB_ERR_SIG);
	assert_string_equal(o.reason, "the Agent failed");
	tb_ap_msg_clear(&o);

	round_trip(&b, &o); /* no id: about a frame without one */
	assert_false(o.has_id);
	assert_true(o.has_retry);
	assert_int_equal(o.retry_after_ms, 100);
	tb_ap_msg_clear(&o);
}

/* ---- the encoder refuses what the decoder would ---------------------- */

static void test_encode_refusals(void **state)
{
	uint8_t *f = (uint8_t *)"x";
	size_t len = 1;
	struct tb_ap_msg m;

	(void)state;
#define REFUSE(...)                                                                                \
	do {                                                                                       \
		m = (struct tb_ap_msg){__VA_ARGS__};                                               \
		assert_int_equal(tb_ap_encode(&m, &f, &len), TB_ERR_INVAL);                        \
		assert_null(f);                                                                    \
	} while (0)
	REFUSE(.type = TB_AP_NONE);
	REFUSE(.type = TB_AP_HELLO);                                        /* no versions */
	REFUSE(.type = TB_AP_WELCOME, .version = 1);                        /* no agent */
	REFUSE(.type = TB_AP_CALL, .op = TB_AP_OP_REQUEST_TA, .has_id = 1); /* no component */
	REFUSE(.type = TB_AP_CALL, .op = TB_AP_OP_POLICY_CHECK);            /* no id */
	REFUSE(.type = TB_AP_CALL, .op = 99, .has_id = 1);
	REFUSE(.type = TB_AP_CALL, .op = TB_AP_OP_POLICY_CHECK, .has_id = 1, .tam_uri = "http://x");
	REFUSE(.type = TB_AP_CALL, .op = TB_AP_OP_SESSION_CLOSE, .has_id = 1, .has_session = 1);
	REFUSE(.type = TB_AP_CALL, .op = TB_AP_OP_PROCESS_MESSAGE, .has_id = 1, .has_session = 1,
	       .session = 1);                                            /* no msg */
	REFUSE(.type = TB_AP_ANSWER, .has_id = 1, .code = TB_AP_E_BUSY); /* no reason */
	REFUSE(.type = TB_AP_ANSWER, .has_id = 1, .tam_uri = "has space");
	REFUSE(.type = TB_AP_ANSWER, .has_id = 1, .code = TB_AP_E_BUSY, .reason = "a\nb");
	REFUSE(.type = TB_AP_ANSWER, .has_id = 1, .code = TB_AP_E_BUSY, .reason = "r",
	       .tee_status = -1); /* tee-status only with agent-failed */
#undef REFUSE
}

/* ---- the decoder's refusals -------------------------------------------- */

static void test_refusals(void **state)
{
	struct tw w;
	char big[TB_AP_MAX_TEXT + 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;

	w = (struct tw){0};
	tw_array(&w, 0);
	refused(&w, TB_AP_E_MALFORMED, "not a CBOR map");

	w = (struct tw){.buf = {0xa1, 0x61}, .len = 2}; /* truncated CBOR */
	refused(&w, TB_AP_E_MALFORMED, "CBOR");

	w = (struct tw){0};
	tw_map(&w, 0);
	refused(&w, TB_AP_E_MALFORMED, "missing \"type\"");

	w = (struct tw){0};
	tw_map(&w, 1);
	tw_text(&w, "type");
	tw_text(&w, "gossip");
	refused(&w, TB_AP_E_UNSUPPORTED, "unknown type \"gossip\"");

	w = (struct tw){0};
	tw_map(&w, 2);
	tw_text(&w, "type");
	tw_text(&w, "hello");
	tw_text(&w, "versions");
	tw_array(&w, 0);
	refused(&w, TB_AP_E_MALFORMED, "versions");

	w = (struct tw){0}; /* a call with an unknown op: unsupported, id kept */
	tw_map(&w, 3);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 77);
	tw_text(&w, "op");
	tw_text(&w, "format-disk");
	{
		struct tb_ap_msg m;
		int c;

		assert_int_equal(tb_ap_decode(w.buf, w.len, &m, &c, NULL, 0), TB_ERR_UNSUP);
		assert_int_equal(c, TB_AP_E_UNSUPPORTED);
		assert_true(m.has_id);
		assert_int_equal(m.id, 77);
	}

	w = (struct tw){0}; /* duplicate key */
	tw_map(&w, 3);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	refused(&w, TB_AP_E_MALFORMED, "duplicate key \"type\"");

	w = (struct tw){0}; /* a member where it does not belong */
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	tw_text(&w, "msg");
	tw_bytes(&w, "x", 1);
	refused(&w, TB_AP_E_MALFORMED, "\"msg\" does not belong in call policy-check");

	w = (struct tw){0}; /* session 0 */
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "session-close");
	tw_text(&w, "session");
	tw_uint(&w, 0);
	refused(&w, TB_AP_E_MALFORMED, "\"session\" must not be 0");

	w = (struct tw){0}; /* a missing member */
	tw_map(&w, 3);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "process-teep-message");
	refused(&w, TB_AP_E_MALFORMED, "missing \"session\"");

	w = (struct tw){0}; /* a component of 9 segments */
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "request-ta");
	tw_text(&w, "component");
	tw_array(&w, 9);
	for (int i = 0; i < 9; i++)
		tw_bytes(&w, "s", 1);
	refused(&w, TB_AP_E_MALFORMED, "segments");

	w = (struct tw){0}; /* an id that is text */
	tw_map(&w, 3);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_text(&w, "1");
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	refused(&w, TB_AP_E_MALFORMED, "\"id\" is not an unsigned integer");

	w = (struct tw){0}; /* a reason over its bound */
	tw_map(&w, 5);
	tw_text(&w, "type");
	tw_text(&w, "answer");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "status");
	tw_text(&w, "error");
	tw_text(&w, "code");
	tw_uint(&w, 4);
	tw_text(&w, "reason");
	tw_text(&w, big);
	refused(&w, TB_AP_E_MALFORMED, "\"reason\"");

	w = (struct tw){0}; /* an error answer without a code */
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "answer");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "status");
	tw_text(&w, "error");
	tw_text(&w, "reason");
	tw_text(&w, "r");
	refused(&w, TB_AP_E_MALFORMED, "missing \"code\"");

	w = (struct tw){0}; /* a TAM URI with a control byte */
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "answer");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "status");
	tw_text(&w, "ok");
	tw_text(&w, "tam");
	tw_text(&w, "http://a\r\nb");
	refused(&w, TB_AP_E_MALFORMED, "\"tam\"");

	w = (struct tw){0}; /* a key in chunks */
	tw_map(&w, 1);
	w.buf[w.len++] = 0x7f; /* indefinite text */
	tw_text(&w, "ty");
	tw_text(&w, "pe");
	w.buf[w.len++] = 0xff;
	tw_text(&w, "hello");
	refused(&w, TB_AP_E_MALFORMED, "indefinite");

	w = (struct tw){0}; /* trailing bytes after the map */
	tw_map(&w, 0);
	tw_uint(&w, 0);
	refused(&w, TB_AP_E_MALFORMED, "CBOR");
}

/* An unknown member is skipped (a later revision may add members). */
static void test_unknown_member(void **state)
{
	struct tw w = {0};
	struct tb_ap_msg m;
	int c;

	(void)state;
	tw_map(&w, 4);
	tw_text(&w, "type");
	tw_text(&w, "call");
	tw_text(&w, "id");
	tw_uint(&w, 1);
	tw_text(&w, "op");
	tw_text(&w, "policy-check");
	tw_text(&w, "x-future");
	tw_uint(&w, 1);
	assert_int_equal(tb_ap_decode(w.buf, w.len, &m, &c, NULL, 0), TB_OK);
	assert_int_equal(m.op, TB_AP_OP_POLICY_CHECK);
	tb_ap_msg_clear(&m);
}

/* Every strict prefix of a valid message is refused, without a leak. */
static void test_truncations(void **state)
{
	uint8_t msg[40];
	struct tb_ap_msg c = {.type = TB_AP_CALL,
	                      .has_id = 1,
	                      .id = 3,
	                      .op = TB_AP_OP_PROCESS_MESSAGE,
	                      .has_session = 1,
	                      .session = 8,
	                      .media_type = "application/teep+cbor",
	                      .msg = msg,
	                      .msg_len = sizeof(msg)};
	uint8_t *f;
	size_t len;

	(void)state;
	memset(msg, 0x5a, sizeof(msg));
	assert_int_equal(tb_ap_encode(&c, &f, &len), TB_OK);
	for (size_t n = 0; n < len - TB_AP_HDR_LEN; n++) {
		struct tb_ap_msg m;
		int code;

		assert_int_not_equal(tb_ap_decode(f + TB_AP_HDR_LEN, n, &m, &code, NULL, 0), TB_OK);
		assert_int_equal(code, TB_AP_E_MALFORMED);
	}
	free(f);
}

/* ---- the frame reader -------------------------------------------------- */

static void test_reader(void **state)
{
	struct tb_ap_msg c = {
	    .type = TB_AP_CALL, .has_id = 1, .id = 1, .op = TB_AP_OP_POLICY_CHECK};
	struct tb_ap_reader r;
	uint8_t *f1, *f2, *both, *out;
	size_t l1, l2, used, olen;

	(void)state;
	assert_int_equal(tb_ap_encode(&c, &f1, &l1), TB_OK);
	c.id = 2;
	assert_int_equal(tb_ap_encode(&c, &f2, &l2), TB_OK);
	both = malloc(l1 + l2);
	assert_non_null(both);
	memcpy(both, f1, l1);
	memcpy(both + l1, f2, l2);

	/* two frames in one buffer: one at a time */
	tb_ap_reader_init(&r, 4096);
	assert_int_equal(tb_ap_reader_feed(&r, both, l1 + l2, &used, &out, &olen), TB_AP_FRAME);
	assert_int_equal(used, l1);
	assert_int_equal(olen, l1 - TB_AP_HDR_LEN);
	assert_memory_equal(out, f1 + TB_AP_HDR_LEN, olen);
	free(out);
	assert_int_equal(tb_ap_reader_feed(&r, both + used, l2, &used, &out, &olen), TB_AP_FRAME);
	assert_int_equal(used, l2);
	free(out);
	assert_int_equal(tb_ap_reader_pending(&r), 0);

	/* byte by byte */
	for (size_t i = 0; i < l1; i++) {
		int rc = tb_ap_reader_feed(&r, f1 + i, 1, &used, &out, &olen);

		assert_int_equal(used, 1);
		assert_int_equal(rc, i + 1 == l1 ? TB_AP_FRAME : TB_AP_MORE);
	}
	free(out);
	/* a partial frame is held, and freed by clear */
	assert_int_equal(tb_ap_reader_feed(&r, f2, l2 - 1, &used, &out, &olen), TB_AP_MORE);
	assert_int_equal(tb_ap_reader_pending(&r), l2 - 1);
	tb_ap_reader_clear(&r);

	/* oversize and zero lengths are refused before anything is allocated */
	{
		uint8_t over[4] = {0, 0, 0x10, 0x01}; /* 4097 */
		uint8_t zero[4] = {0, 0, 0, 0};
		uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};

		assert_int_equal(tb_ap_reader_feed(&r, over, 4, &used, &out, &olen), TB_ERR_TOOBIG);
		tb_ap_reader_clear(&r);
		assert_int_equal(tb_ap_reader_feed(&r, zero, 4, &used, &out, &olen), TB_ERR_TOOBIG);
		tb_ap_reader_clear(&r);
		assert_int_equal(tb_ap_reader_feed(&r, huge, 4, &used, &out, &olen), TB_ERR_TOOBIG);
		assert_null(out);
		tb_ap_reader_clear(&r);
	}
	/* exactly max_frame is fine */
	{
		uint8_t hdr[4] = {0, 0, 0x10, 0x00}; /* 4096 */

		assert_int_equal(tb_ap_reader_feed(&r, hdr, 4, &used, &out, &olen), TB_AP_MORE);
		assert_int_equal(r.len, 4096);
		tb_ap_reader_clear(&r);
	}
	free(both);
	free(f1);
	free(f2);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tb_ap_op_name(TB_AP_OP_PROCESS_MESSAGE), "process-teep-message");
	assert_string_equal(tb_ap_op_name(99), "unknown");
	assert_string_equal(tb_ap_code_name(TB_AP_E_BUSY), "busy");
	assert_string_equal(tb_ap_code_name(-1), "unknown");
	assert_string_equal(tb_ap_type_name(TB_AP_WELCOME), "welcome");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_welcome), cmocka_unit_test(test_calls),
	    cmocka_unit_test(test_answers),       cmocka_unit_test(test_encode_refusals),
	    cmocka_unit_test(test_refusals),      cmocka_unit_test(test_unknown_member),
	    cmocka_unit_test(test_truncations),   cmocka_unit_test(test_reader),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
