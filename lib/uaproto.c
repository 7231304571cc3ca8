/*
 * The app API codec (docs/ua-api.md): requests and answers of the websocket
 * subprotocol "teep-broker.v1", one CBOR map per frame.
 *
 * Requests (untrusted, on the broker's event loop) are read in one streaming
 * pass over the frame, without a libcbor tree; answers (read by clients)
 * go through tb_cbor_decode(), which bounds every declared length before
 * libcbor allocates. Encoding writes straight into the caller's
 * buffer with libcbor's streaming encoders, so an answer never allocates and
 * can be produced even when memory is short.
 */
#include "tb_uaproto.h"
#include "tb_cbor_writer.h"
#include "tb_cbor.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <cbor.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ids must survive a round trip through a JavaScript number. */
#define UA_ID_MAX ((UINT64_C(1) << 53) - 1)

#define UA_MAX_SEGMENT 64 /* bytes of one component id segment */

/* The keys a request may carry. */
enum req_key { RK_ID, RK_OP, RK_COMPONENT, RK_TAM, RK_TEE, RK_SESSION, RK_MSG, RK_COUNT };
static const char *const req_keys[RK_COUNT] = {"id",  "op",      "component", "tam",
                                               "tee", "session", "msg"};

/* The keys an answer may carry. */
enum ans_key {
	AK_ID,
	AK_EVENT,
	AK_STEP,
	AK_DETAIL,
	AK_RESULT,
	AK_CODE,
	AK_REASON,
	AK_RETRY_AFTER,
	AK_MSG,
	AK_COUNT
};
static const char *const ans_keys[AK_COUNT] = {"id",   "event",  "step",        "detail", "result",
                                               "code", "reason", "retry-after", "msg"};

static const char *const op_names[] = {
    [TB_UA_OP_NONE] = "none",
    [TB_UA_OP_REQUEST_TA] = "request-ta",
    [TB_UA_OP_UNREQUEST_TA] = "unrequest-ta",
    [TB_UA_OP_POLICY_CHECK] = "policy-check",
    [TB_UA_OP_TAM_SESSION] = "tam-session",
    [TB_UA_OP_TAM_MESSAGE] = "tam-message",
    [TB_UA_OP_TAM_END] = "tam-end",
};

static const char *const event_names[] = {
    [TB_UA_EV_PROGRESS] = "progress",
    [TB_UA_EV_DONE] = "done",
    [TB_UA_EV_ERROR] = "error",
    [TB_UA_EV_BUSY] = "busy",
};

static const char *const code_names[] = {
    [TB_UA_E_MALFORMED] = "malformed",
    [TB_UA_E_UNSUPPORTED] = "unsupported",
    [TB_UA_E_DUPLICATE_ID] = "duplicate-id",
    [TB_UA_E_NO_TEE] = "no-tee",
    [TB_UA_E_TEE] = "tee-failed",
    [TB_UA_E_TAM_UNREACHABLE] = "tam-unreachable",
    [TB_UA_E_TAM_HTTP] = "tam-http",
    [TB_UA_E_TAM_PROTOCOL] = "tam-protocol",
    [TB_UA_E_TIMEOUT] = "timeout",
    [TB_UA_E_SHUTDOWN] = "shutdown",
    [TB_UA_E_TOO_LARGE] = "too-large",
    [TB_UA_E_AGENT_ERROR] = "agent-error",
    [TB_UA_E_INTERNAL] = "internal",
    [TB_UA_E_TAM_NOT_ALLOWED] = "tam-not-allowed",
    [TB_UA_E_FORBIDDEN] = "forbidden",
    [TB_UA_E_NO_SESSION] = "no-session",
    [TB_UA_E_REJECTED] = "rejected",
    [TB_UA_E_SESSION_LIMIT] = "session-limit",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *tb_ua_op_name(enum tb_ua_op op)
{
	if ((size_t)op < COUNT(op_names) && op_names[op])
		return op_names[op];
	return "unknown";
}

const char *tb_ua_code_name(int code)
{
	if (code > 0 && (size_t)code < COUNT(code_names) && code_names[code])
		return code_names[code];
	return "unknown";
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0.
 * Overlong forms, surrogates and code points above U+10FFFF are refused, as
 * RFC 3629 requires; NUL is refused because texts become C strings.
 */
static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t cp;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;

	while (n > 0) {
		size_t l = utf8_seq_len(p, n);
		if (!l)
			return 0;
		p += l;
		n -= l;
	}
	return 1;
}

/* ---- encoding ---------------------------------------------------------- */

static void w_key(struct tb_cw *w, const char *key)
{
	tb_cw_cstr(w, key);
}

/*
 * Write s as CBOR text of at most TB_UA_MAX_TEXT bytes. Texts in answers can
 * come from far away (a TAM's error message, an errno string), so bytes that
 * are not UTF-8 become '?' and truncation never splits a character.
 */
static void w_clean_text(struct tb_cw *w, const char *s)
{
	char out[TB_UA_MAX_TEXT];
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), o = 0;

	while (n > 0) {
		size_t l = utf8_seq_len(p, n);
		if (!l) {
			l = 1;
			if (o + 1 > sizeof(out))
				break;
			out[o++] = '?';
		} else {
			if (o + l > sizeof(out))
				break;
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
		n -= l;
	}
	tb_cw_text(w, out, o);
}

static int event_valid(enum tb_ua_event ev)
{
	return ev >= TB_UA_EV_PROGRESS && ev <= TB_UA_EV_BUSY;
}

/* Which optional texts an event carries; anything else set in the struct is
 * not sent, which keeps every answer under TB_UA_ANSWER_MAX. */
static size_t answer_fields(const struct tb_ua_answer *a, int want[AK_COUNT])
{
	size_t n = 2;

	memset(want, 0, sizeof(int) * AK_COUNT);
	switch (a->event) {
	case TB_UA_EV_PROGRESS:
		want[AK_STEP] = 1;
		want[AK_DETAIL] = a->detail != NULL;
		break;
	case TB_UA_EV_DONE:
		want[AK_RESULT] = 1;
		want[AK_DETAIL] = a->detail != NULL;
		want[AK_MSG] = a->msg != NULL;
		break;
	case TB_UA_EV_ERROR:
		want[AK_CODE] = 1;
		want[AK_REASON] = 1;
		want[AK_DETAIL] = a->detail != NULL;
		break;
	case TB_UA_EV_BUSY:
		want[AK_RETRY_AFTER] = 1;
		want[AK_REASON] = a->reason != NULL;
		break;
	}
	for (int k = AK_STEP; k < AK_COUNT; k++)
		n += (size_t)want[k];
	return n;
}

int tb_ua_answer_encode(const struct tb_ua_answer *a, uint8_t *out, size_t cap)
{
	struct tb_cw w = {.p = out, .cap = cap};
	int want[AK_COUNT];

	if (!a || !out || !event_valid(a->event) || (a->has_id && a->id > UA_ID_MAX))
		return TB_ERR_INVAL;
	if ((a->event == TB_UA_EV_PROGRESS && !a->step) ||
	    (a->event == TB_UA_EV_DONE && !a->result) ||
	    (a->event == TB_UA_EV_ERROR && a->code <= 0))
		return TB_ERR_INVAL;

	tb_cw_map(&w, answer_fields(a, want));
	w_key(&w, "id");
	if (a->has_id)
		tb_cw_uint(&w, a->id);
	else
		tb_cw_null(&w);
	w_key(&w, "event");
	w_key(&w, event_names[a->event]);
	if (want[AK_STEP]) {
		w_key(&w, "step");
		w_clean_text(&w, a->step);
	}
	if (want[AK_RESULT]) {
		w_key(&w, "result");
		w_clean_text(&w, a->result);
	}
	if (want[AK_CODE]) {
		w_key(&w, "code");
		tb_cw_uint(&w, (uint64_t)a->code);
	}
	/* busy: retry-after, then its reason, as docs/ua-api.md shows them */
	if (want[AK_RETRY_AFTER]) {
		w_key(&w, "retry-after");
		tb_cw_uint(&w, a->retry_after_ms);
	}
	if (want[AK_REASON]) {
		w_key(&w, "reason");
		/* An error always explains itself, if only by its code's name. */
		w_clean_text(&w, a->reason ? a->reason : tb_ua_code_name(a->code));
	}
	if (want[AK_DETAIL]) {
		w_key(&w, "detail");
		w_clean_text(&w, a->detail);
	}
	if (want[AK_MSG]) {
		w_key(&w, "msg");
		tb_cw_bytes(&w, a->msg, a->msg_len);
	}
	if (w.full)
		return TB_ERR_TOOBIG;
	return (int)w.len;
}

/* ---- request checks shared by the encoder and the decoder ------------- */

static int op_has_component(enum tb_ua_op op)
{
	return op == TB_UA_OP_REQUEST_TA || op == TB_UA_OP_UNREQUEST_TA;
}

/* tam-message and tam-end name their tam-session */
static int op_has_session(enum tb_ua_op op)
{
	return op == TB_UA_OP_TAM_MESSAGE || op == TB_UA_OP_TAM_END;
}

/* Which of tam, tee, session and msg the op takes: present when required,
 * absent when the op does not take it. */
static int check_members(const struct tb_ua_request *req, int has_session, char *err, size_t errlen)
{
	enum tb_ua_op op = req->op;
	int tam_ok = op <= TB_UA_OP_POLICY_CHECK;
	int tee_ok = op <= TB_UA_OP_TAM_SESSION;
	int msg_need = op == TB_UA_OP_TAM_MESSAGE;

	if (req->tam_uri && !tam_ok)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"tam\" must be absent for %s",
		              op_names[op]);
	if (req->tee && !tee_ok)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"tee\" must be absent for %s",
		              op_names[op]);
	if (has_session != op_has_session(op))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"session\" must be %s for %s",
		              has_session ? "absent" : "present", op_names[op]);
	if ((req->msg != NULL) != msg_need)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"msg\" must be %s for %s",
		              req->msg ? "absent" : "present", op_names[op]);
	if (req->msg && (req->msg_len < 1 || req->msg_len > TB_UA_MAX_MSG))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"msg\" must be 1..%d bytes, not %zu",
		              TB_UA_MAX_MSG, req->msg_len);
	if (has_session && req->session > UA_ID_MAX)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"session\" is larger than 2^53-1");
	return TB_OK;
}

static int tee_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int check_tee(const char *s, size_t n, char *err, size_t errlen)
{
	if (n < 1 || n > TB_UA_MAX_NAME)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"tee\" must be 1..%d bytes, not %zu",
		              TB_UA_MAX_NAME, n);
	for (size_t i = 0; i < n; i++)
		if (!tee_char((unsigned char)s[i]))
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"tee\" may only hold A-Z a-z 0-9 _ - (byte %zu is not)", i);
	return TB_OK;
}

static int has_prefix_nocase(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (n < pl)
		return 0;
	for (size_t i = 0; i < pl; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != prefix[i])
			return 0;
	}
	return 1;
}

static int check_tam(const char *s, size_t n, char *err, size_t errlen)
{
	size_t scheme;

	if (n < 1 || n > TB_UA_MAX_URI)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"tam\" must be 1..%d bytes, not %zu",
		              TB_UA_MAX_URI, n);
	/* A URI is printable ASCII (RFC 3986); anything else is either a
	 * mistake or an attempt to smuggle bytes into logs and headers. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"tam\" holds a byte that is not printable ASCII (byte %zu)",
			              i);
	if (has_prefix_nocase(s, n, "https://"))
		scheme = 8;
	else if (has_prefix_nocase(s, n, "http://"))
		scheme = 7;
	else
		return tb_err(err, errlen, TB_ERR_INVAL,
		              "\"tam\" must start with http:// or https://");
	if (n == scheme || s[scheme] == '/')
		return tb_err(err, errlen, TB_ERR_INVAL, "\"tam\" has no host");
	return TB_OK;
}

static int check_component(const struct tb_component_id *c, enum tb_ua_op op, char *err,
                           size_t errlen)
{
	if (!op_has_component(op)) {
		if (c->n)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"component\" must be absent for %s", op_names[op]);
		return TB_OK;
	}
	if (c->n < 1 || c->n > TB_TEEP_MAX_SEGMENTS)
		return tb_err(err, errlen, TB_ERR_INVAL,
		              "\"component\" must have 1..%d segments, not %zu",
		              TB_TEEP_MAX_SEGMENTS, c->n);
	for (size_t i = 0; i < c->n; i++)
		if (c->seg[i].len < 1 || c->seg[i].len > UA_MAX_SEGMENT || !c->seg[i].ptr)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"component\" segment %zu must be 1..%d bytes", i,
			              UA_MAX_SEGMENT);
	return TB_OK;
}

static int op_valid(enum tb_ua_op op)
{
	return op >= TB_UA_OP_REQUEST_TA && op <= TB_UA_OP_TAM_END;
}

/* ---- request encoding -------------------------------------------------- */

int tb_ua_request_encode(const struct tb_ua_request *req, uint8_t **out, size_t *out_len)
{
	struct tb_cw w = {0};
	size_t n = 2, cap = 64;
	const char *opn;

	if (!req || !out || !out_len || !op_valid(req->op) || req->id > UA_ID_MAX)
		return TB_ERR_INVAL;
	*out = NULL;
	*out_len = 0;
	if (check_component(&req->component, req->op, NULL, 0) != TB_OK)
		return TB_ERR_INVAL;
	if (req->tam_uri && check_tam(req->tam_uri, strlen(req->tam_uri), NULL, 0) != TB_OK)
		return TB_ERR_INVAL;
	if (req->tee && check_tee(req->tee, strlen(req->tee), NULL, 0) != TB_OK)
		return TB_ERR_INVAL;
	if (check_members(req, op_has_session(req->op), NULL, 0) != TB_OK)
		return TB_ERR_INVAL;

	/* The checks above bound every length, so this sum cannot overflow:
	 * 9 bytes is the longest CBOR head. */
	for (size_t i = 0; i < req->component.n; i++)
		cap += 9 + req->component.seg[i].len;
	if (req->component.n) {
		cap += 16;
		n++;
	}
	if (req->tam_uri) {
		cap += 16 + strlen(req->tam_uri);
		n++;
	}
	if (req->tee) {
		cap += 16 + strlen(req->tee);
		n++;
	}
	if (op_has_session(req->op)) {
		cap += 24;
		n++;
	}
	if (req->msg) {
		cap += 16 + req->msg_len;
		n++;
	}
	w.p = malloc(cap);
	if (!w.p)
		return TB_ERR_NOMEM;
	w.cap = cap;

	opn = tb_ua_op_name(req->op);
	tb_cw_map(&w, n);
	w_key(&w, "id");
	tb_cw_uint(&w, req->id);
	w_key(&w, "op");
	tb_cw_cstr(&w, opn);
	if (req->component.n) {
		w_key(&w, "component");
		tb_cw_array(&w, req->component.n);
		for (size_t i = 0; i < req->component.n; i++)
			tb_cw_bytes(&w, req->component.seg[i].ptr, req->component.seg[i].len);
	}
	if (req->tam_uri) {
		w_key(&w, "tam");
		tb_cw_cstr(&w, req->tam_uri);
	}
	if (req->tee) {
		w_key(&w, "tee");
		tb_cw_cstr(&w, req->tee);
	}
	if (op_has_session(req->op)) {
		w_key(&w, "session");
		tb_cw_uint(&w, req->session);
	}
	if (req->msg) {
		w_key(&w, "msg");
		tb_cw_bytes(&w, req->msg, req->msg_len);
	}
	if (w.full) {
		/* Unreachable while cap above stays an upper bound. */
		free(w.p);
		return TB_ERR_TOOBIG;
	}
	*out = w.p;
	*out_len = w.len;
	return TB_OK;
}

/* ---- decoding ---------------------------------------------------------- */

/*
 * Find the known keys of a decoded map (answers). A known key that appears
 * twice makes the message ambiguous (two decoders could pick different values), so it is an
 * error; unknown keys, of any type, are skipped for forward compatibility.
 * Returns the index of a duplicated key, -1 if none, -2 for a text key in
 * chunks (which could hide a known key from a simpler decoder).
 */
static int collect_keys(const cbor_item_t *map, const char *const *names, int n_names,
                        cbor_item_t **found)
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t n = cbor_map_size(map);
	int dup = -1;

	for (int k = 0; k < n_names; k++)
		found[k] = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key;
		size_t klen;

		if (!cbor_isa_string(pairs[i].key))
			continue;
		if (tb_cbor_get_text(pairs[i].key, &key, &klen) != TB_OK)
			return -2;
		for (int k = 0; k < n_names; k++) {
			if (strlen(names[k]) != klen || memcmp(names[k], key, klen) != 0)
				continue;
			if (found[k] && dup < 0)
				dup = k;
			found[k] = pairs[i].value;
		}
	}
	return dup;
}

/* Copy a bounded, already validated text into a new C string. */
static char *dup_text(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/*
 * Requests are read with a cursor (tb_cbor_cur), not a libcbor tree: the
 * frame has been checked well-formed, then one pass over the map notes
 * where the value of each known key starts and steps over everything else
 * (unknown keys and their values, whatever they are) without building or
 * allocating anything. The work is linear in the frame's bytes and the
 * memory is the request's own members.
 */

/* Entries of a request map: far more than the API defines, so that keys of
 * later versions fit, and a bound on what the scan keeps track of. */
#define UA_MAX_KEYS 256

/* Where the value of each known key of a map starts. */
struct req_vals {
	struct tb_cbor_cur at[RK_COUNT];
	int have[RK_COUNT];
	int dup; /* a known key seen twice (its index), or -1 */
};

/*
 * Scan the request map at c. TB_ERR_PARSE: not a map; TB_ERR_INVAL with
 * err set: a text key in chunks (which could hide a known key from a
 * simpler decoder) or too many entries. A known key that appears twice
 * makes the request ambiguous (two decoders could pick different values):
 * v->dup names it, and the caller decides when to report it.
 */
static int scan_request_map(struct tb_cbor_cur *c, struct req_vals *v, char *err, size_t errlen)
{
	struct tb_cbor_head h;
	uint64_t n = 0;

	memset(v, 0, sizeof(*v));
	v->dup = -1;
	if (tb_cbor_read_head(c, &h) != TB_OK || h.major != 5)
		return tb_err(err, errlen, TB_ERR_PARSE, "the frame is not a CBOR map");
	if (!h.indefinite && h.arg > UA_MAX_KEYS)
		return tb_err(err, errlen, TB_ERR_INVAL, "the map has more than %d keys",
		              UA_MAX_KEYS);
	for (;;) {
		struct tb_cbor_cur key = *c;
		struct tb_cbor_head kh;
		const uint8_t *k = NULL;
		size_t klen = 0;
		int which = -1;

		if (h.indefinite ? tb_cbor_at_break(c) : n == h.arg)
			break;
		if (++n > UA_MAX_KEYS)
			return tb_err(err, errlen, TB_ERR_INVAL, "the map has more than %d keys",
			              UA_MAX_KEYS);
		if (tb_cbor_read_head(&key, &kh) != TB_OK)
			return tb_err(err, errlen, TB_ERR_PARSE, "truncated map");
		if (kh.major == 3 && kh.indefinite)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "a map key is an indefinite-length string");
		/* every key and value is walked as the well-formedness check
		 * walks it (a map member is one level down) */
		key = *c;
		if (tb_cbor_skip(&key, TB_CBOR_MAX_DEPTH - 1, 0) != TB_OK)
			return tb_err(err, errlen, TB_ERR_PARSE, "malformed map key");
		if (kh.major == 3 && tb_cbor_read_string(c, 3, &k, &klen) != TB_OK)
			return tb_err(err, errlen, TB_ERR_PARSE, "truncated map key");
		*c = key;
		for (int i = 0; k && i < RK_COUNT; i++)
			if (strlen(req_keys[i]) == klen && memcmp(req_keys[i], k, klen) == 0)
				which = i;
		if (which >= 0) {
			if (v->have[which] && v->dup < 0)
				v->dup = which;
			v->have[which] = 1;
			v->at[which] = *c;
		}
		if (tb_cbor_skip(c, TB_CBOR_MAX_DEPTH - 1, 0) != TB_OK)
			return tb_err(err, errlen, TB_ERR_PARSE, "malformed map value");
	}
	if (h.indefinite)
		c->p++; /* the break */
	if (c->p != c->end)
		return tb_err(err, errlen, TB_ERR_PARSE, "trailing bytes after the map");
	return TB_OK;
}

/* The value of a known key: a copy of the cursor where it starts. */
static struct tb_cbor_cur *val(struct req_vals *v, enum req_key k)
{
	return v->have[k] ? &v->at[k] : NULL;
}

static int decode_id(struct tb_cbor_cur *item, uint64_t *id, char *err, size_t errlen)
{
	if (!item)
		return tb_err(err, errlen, TB_ERR_INVAL, "missing \"id\"");
	if (tb_cbor_read_uint(item, id) != TB_OK)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"id\" is not an unsigned integer");
	if (*id > UA_ID_MAX)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"id\" is larger than 2^53-1");
	return TB_OK;
}

/* Print at most 32 bytes of an unknown op, with anything unprintable as
 * '?', so the reason stays short and safe to log. */
static void printable_prefix(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < 32 && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	out[o] = 0;
}

static int read_text(struct tb_cbor_cur *item, const char **s, size_t *n)
{
	const uint8_t *p;
	int rc = tb_cbor_read_string(item, 3, &p, n);

	*s = (const char *)p;
	return rc;
}

static int decode_op(struct tb_cbor_cur *item, enum tb_ua_op *op, char *err, size_t errlen)
{
	const char *s;
	size_t n;
	char shown[40];

	if (!item)
		return tb_err(err, errlen, TB_ERR_INVAL, "missing \"op\"");
	if (read_text(item, &s, &n) != TB_OK)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"op\" is not a text string");
	for (int o = TB_UA_OP_REQUEST_TA; o <= TB_UA_OP_TAM_END; o++) {
		if (strlen(op_names[o]) == n && memcmp(op_names[o], s, n) == 0) {
			*op = (enum tb_ua_op)o;
			return TB_OK;
		}
	}
	printable_prefix(s, n, shown, sizeof(shown));
	return tb_err(err, errlen, TB_ERR_UNSUP, "unknown \"op\" \"%s\"", shown);
}

static int decode_component(struct tb_cbor_cur *item, enum tb_ua_op op, struct tb_component_id *c,
                            char *err, size_t errlen)
{
	struct tb_cbor_head h;
	size_t n;

	if (!item) {
		if (!op_has_component(op))
			return TB_OK;
		return tb_err(err, errlen, TB_ERR_INVAL, "missing \"component\" (required by %s)",
		              op_names[op]);
	}
	if (!op_has_component(op))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"component\" must be absent for %s",
		              op_names[op]);
	if (tb_cbor_read_head(item, &h) != TB_OK || h.major != 4 || h.indefinite)
		return tb_err(err, errlen, TB_ERR_INVAL,
		              "\"component\" is not a definite-length array");
	if (h.arg < 1 || h.arg > TB_TEEP_MAX_SEGMENTS)
		return tb_err(err, errlen, TB_ERR_INVAL,
		              "\"component\" must have 1..%d segments, not %llu",
		              TB_TEEP_MAX_SEGMENTS, (unsigned long long)h.arg);
	n = (size_t)h.arg;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (tb_cbor_read_string(item, 2, &p, &len) != TB_OK)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"component\" segment %zu is not a definite byte string", i);
		if (len < 1 || len > UA_MAX_SEGMENT)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "\"component\" segment %zu must be 1..%d bytes, not %zu", i,
			              UA_MAX_SEGMENT, len);
		c->seg[i].ptr = malloc(len);
		if (!c->seg[i].ptr)
			return tb_err(err, errlen, TB_ERR_NOMEM, "out of memory");
		memcpy(c->seg[i].ptr, p, len);
		c->seg[i].len = len;
		c->n = i + 1;
	}
	return TB_OK;
}

/* An optional text member checked by check(); *out stays NULL if absent. */
static int decode_opt_text(struct tb_cbor_cur *item, const char *key,
                           int (*check)(const char *, size_t, char *, size_t), char **out,
                           char *err, size_t errlen)
{
	const char *s;
	size_t n;
	int rc;

	if (!item)
		return TB_OK;
	if (read_text(item, &s, &n) != TB_OK)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"%s\" is not a text string", key);
	rc = check(s, n, err, errlen);
	if (rc != TB_OK)
		return rc;
	*out = dup_text(s, n);
	if (!*out)
		return tb_err(err, errlen, TB_ERR_NOMEM, "out of memory");
	return TB_OK;
}

static int decode_msg(struct tb_cbor_cur *item, struct tb_ua_request *req, char *err, size_t errlen)
{
	const uint8_t *p;
	size_t n;

	if (!item)
		return TB_OK;
	if (tb_cbor_read_string(item, 2, &p, &n) != TB_OK)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"msg\" is not a definite byte string");
	if (n < 1 || n > TB_UA_MAX_MSG)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"msg\" must be 1..%d bytes, not %zu",
		              TB_UA_MAX_MSG, n);
	req->msg = malloc(n);
	if (!req->msg)
		return tb_err(err, errlen, TB_ERR_NOMEM, "out of memory");
	memcpy(req->msg, p, n);
	req->msg_len = n;
	return TB_OK;
}

static int decode_request_map(struct tb_cbor_cur *c, struct tb_ua_request *req, int *has_id,
                              uint64_t *id_out, char *err, size_t errlen)
{
	struct req_vals v;
	int rc = scan_request_map(c, &v, err, errlen);

	if (rc != TB_OK)
		return rc;
	if (v.dup == RK_ID)
		return tb_err(err, errlen, TB_ERR_INVAL, "duplicate key \"id\"");
	rc = decode_id(val(&v, RK_ID), &req->id, err, errlen);
	if (rc != TB_OK)
		return rc;
	*has_id = 1;
	*id_out = req->id;
	if (v.dup >= 0)
		return tb_err(err, errlen, TB_ERR_INVAL, "duplicate key \"%s\"", req_keys[v.dup]);
	rc = decode_op(val(&v, RK_OP), &req->op, err, errlen);
	if (rc == TB_OK)
		rc = decode_component(val(&v, RK_COMPONENT), req->op, &req->component, err, errlen);
	if (rc == TB_OK)
		rc = decode_opt_text(val(&v, RK_TAM), "tam", check_tam, &req->tam_uri, err, errlen);
	if (rc == TB_OK)
		rc = decode_opt_text(val(&v, RK_TEE), "tee", check_tee, &req->tee, err, errlen);
	if (rc == TB_OK && v.have[RK_SESSION] &&
	    tb_cbor_read_uint(&v.at[RK_SESSION], &req->session) != TB_OK)
		rc = tb_err(err, errlen, TB_ERR_INVAL, "\"session\" is not an unsigned integer");
	if (rc == TB_OK)
		rc = decode_msg(val(&v, RK_MSG), req, err, errlen);
	if (rc == TB_OK)
		rc = check_members(req, v.have[RK_SESSION], err, errlen);
	return rc;
}

int tb_ua_request_decode(const uint8_t *buf, size_t len, struct tb_ua_request *req, int *has_id,
                         uint64_t *id_out, char *err, size_t errlen)
{
	const char *why = NULL;
	struct tb_cbor_cur c;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!req || !has_id || !id_out)
		return tb_err(err, errlen, TB_ERR_INVAL, "bad arguments");
	memset(req, 0, sizeof(*req));
	*has_id = 0;
	*id_out = 0;
	if (!buf || len == 0)
		return tb_err(err, errlen, TB_ERR_PARSE, "empty frame");
	/* One walk over a request: the scan of the map walks every key and
	 * value as the well-formedness check does, and a map it reads to its
	 * last byte is one well-formed item. Only a frame the scan refuses is
	 * walked again by the check, so that every malformed frame is told
	 * apart (with "id": null) from a well-formed one that is not a valid
	 * request, whatever the scan stopped at. */
	c = tb_cbor_cur_init(buf, len);
	rc = decode_request_map(&c, req, has_id, id_out, err, errlen);
	if (rc != TB_OK) {
		tb_ua_request_clear(req);
		if (tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, &why) != TB_OK) {
			*has_id = 0;
			*id_out = 0;
			return tb_err(err, errlen, TB_ERR_PARSE, "not a well-formed CBOR item: %s",
			              why ? why : "?");
		}
	}
	return rc;
}

void tb_ua_request_clear(struct tb_ua_request *req)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->component.n && i < TB_TEEP_MAX_SEGMENTS; i++)
		free(req->component.seg[i].ptr);
	free(req->tam_uri);
	free(req->tee);
	free(req->msg);
	memset(req, 0, sizeof(*req));
}

/* ---- answer decoding (clients) ---------------------------------------- */

struct arena {
	char *p;
	size_t cap;
	size_t used;
};

/* Copy an optional text member into the arena; NULL if absent. */
static int answer_text(const cbor_item_t *item, struct arena *ar, const char **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (!item)
		return TB_OK;
	if (tb_cbor_get_text(item, &s, &n) != TB_OK || n > TB_UA_MAX_TEXT || !utf8_valid(s, n))
		return TB_ERR_INVAL;
	if (n + 1 > ar->cap - ar->used)
		return TB_ERR_TOOBIG;
	memcpy(ar->p + ar->used, s, n);
	ar->p[ar->used + n] = 0;
	*out = ar->p + ar->used;
	ar->used += n + 1;
	return TB_OK;
}

static int answer_event(const cbor_item_t *item, enum tb_ua_event *ev)
{
	const char *s;
	size_t n;

	if (!item || tb_cbor_get_text(item, &s, &n) != TB_OK)
		return TB_ERR_INVAL;
	for (int e = TB_UA_EV_PROGRESS; e <= TB_UA_EV_BUSY; e++) {
		if (strlen(event_names[e]) == n && memcmp(event_names[e], s, n) == 0) {
			*ev = (enum tb_ua_event)e;
			return TB_OK;
		}
	}
	return TB_ERR_UNSUP;
}

static int answer_id(const cbor_item_t *item, struct tb_ua_answer *a)
{
	if (!item)
		return TB_ERR_INVAL;
	/* libcbor 0.8's cbor_is_null() asserts on a float: check the width
	 * first. */
	if (cbor_isa_float_ctrl(item) && cbor_float_get_width(item) == CBOR_FLOAT_0 &&
	    cbor_is_null(item)) {
		a->has_id = 0;
		return TB_OK;
	}
	if (tb_cbor_get_uint(item, &a->id) != TB_OK || a->id > UA_ID_MAX)
		return TB_ERR_INVAL;
	a->has_id = 1;
	return TB_OK;
}

static int answer_numbers(cbor_item_t *const *v, struct tb_ua_answer *a)
{
	uint64_t code;

	if (v[AK_CODE]) {
		if (tb_cbor_get_uint(v[AK_CODE], &code) != TB_OK || code > INT_MAX)
			return TB_ERR_INVAL;
		a->code = (int)code;
	}
	if (v[AK_RETRY_AFTER] && tb_cbor_get_uint(v[AK_RETRY_AFTER], &a->retry_after_ms) != TB_OK)
		return TB_ERR_INVAL;
	/* What each event needs to be acted upon. */
	if ((a->event == TB_UA_EV_PROGRESS && !a->step) ||
	    (a->event == TB_UA_EV_DONE && !a->result) ||
	    (a->event == TB_UA_EV_ERROR && (!v[AK_CODE] || a->code == 0)) ||
	    (a->event == TB_UA_EV_BUSY && !v[AK_RETRY_AFTER]))
		return TB_ERR_INVAL;
	return TB_OK;
}

static int decode_answer_map(const cbor_item_t *map, struct tb_ua_answer *a, struct arena *ar)
{
	cbor_item_t *v[AK_COUNT];
	int rc;

	if (!cbor_isa_map(map))
		return TB_ERR_PARSE;
	if (collect_keys(map, ans_keys, AK_COUNT, v) != -1)
		return TB_ERR_INVAL;
	rc = answer_id(v[AK_ID], a);
	if (rc == TB_OK)
		rc = answer_event(v[AK_EVENT], &a->event);
	if (rc == TB_OK)
		rc = answer_text(v[AK_STEP], ar, &a->step);
	if (rc == TB_OK)
		rc = answer_text(v[AK_DETAIL], ar, &a->detail);
	if (rc == TB_OK)
		rc = answer_text(v[AK_RESULT], ar, &a->result);
	if (rc == TB_OK)
		rc = answer_text(v[AK_REASON], ar, &a->reason);
	if (rc == TB_OK)
		rc = answer_numbers(v, a);
	if (rc == TB_OK && v[AK_MSG]) {
		const uint8_t *p;
		size_t n;

		if (tb_cbor_get_bytes(v[AK_MSG], &p, &n) != TB_OK)
			return TB_ERR_INVAL;
		if (n > ar->cap - ar->used)
			return TB_ERR_TOOBIG;
		memcpy(ar->p + ar->used, p, n);
		a->msg = (const uint8_t *)ar->p + ar->used;
		a->msg_len = n;
		ar->used += n;
	}
	return rc;
}

int tb_ua_answer_decode(const uint8_t *buf, size_t len, struct tb_ua_answer *a, char *arena,
                        size_t arena_len)
{
	struct arena ar = {.p = arena, .cap = arena_len};
	cbor_item_t *item;
	int rc;

	if (!a || !buf || !len || (!arena && arena_len))
		return TB_ERR_INVAL;
	memset(a, 0, sizeof(*a));
	rc = tb_cbor_decode(buf, len, &item, NULL);
	if (rc != TB_OK)
		/* out of memory only when it is: a well-formed answer libcbor
		 * refuses (invalid UTF-8, ...) is as malformed as a broken one */
		return rc == TB_ERR_NOMEM ? TB_ERR_NOMEM : TB_ERR_PARSE;
	rc = decode_answer_map(item, a, &ar);
	cbor_decref(&item);
	if (rc != TB_OK)
		memset(a, 0, sizeof(*a));
	return rc;
}
