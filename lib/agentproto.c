/*
 * The Agent protocol codec (docs/agent-protocol.md): the frames between the
 * broker's "agent" driver and teep-agentd.
 *
 * Decoding goes through tb_cbor_load(), which bounds every declared length
 * before libcbor allocates; the frame itself is bounded by the reader. Every
 * member has a size cap and every type and op a fixed set of members: a
 * known member where it does not belong is refused, an unknown one skipped
 * (a later minor revision may add members).
 */
#include "tb_agentproto.h"
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

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum key {
	K_TYPE,
	K_VERSIONS,
	K_CLIENT,
	K_VERSION,
	K_AGENT,
	K_MAX_FRAME,
	K_MAX_CALLS,
	K_ID,
	K_OP,
	K_COMPONENT,
	K_APP,
	K_TAM,
	K_SESSION,
	K_MEDIA_TYPE,
	K_MSG,
	K_STATUS,
	K_CODE,
	K_REASON,
	K_RETRY_AFTER,
	K_TEE_STATUS,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
    [K_TYPE] = "type",
    [K_VERSIONS] = "versions",
    [K_CLIENT] = "client",
    [K_VERSION] = "version",
    [K_AGENT] = "agent",
    [K_MAX_FRAME] = "max-frame",
    [K_MAX_CALLS] = "max-calls",
    [K_ID] = "id",
    [K_OP] = "op",
    [K_COMPONENT] = "component",
    [K_APP] = "app",
    [K_TAM] = "tam",
    [K_SESSION] = "session",
    [K_MEDIA_TYPE] = "media-type",
    [K_MSG] = "msg",
    [K_STATUS] = "status",
    [K_CODE] = "code",
    [K_REASON] = "reason",
    [K_RETRY_AFTER] = "retry-after",
    [K_TEE_STATUS] = "tee-status",
};

#define BIT(k) (1u << (k))

/* The members each type may carry (besides "type"), and must carry. */
static const unsigned type_allowed[] = {
    [TB_AP_HELLO] = BIT(K_VERSIONS) | BIT(K_CLIENT),
    [TB_AP_WELCOME] = BIT(K_VERSION) | BIT(K_AGENT) | BIT(K_MAX_FRAME) | BIT(K_MAX_CALLS),
    [TB_AP_CALL] = BIT(K_ID) | BIT(K_OP) | BIT(K_COMPONENT) | BIT(K_APP) | BIT(K_TAM) |
                   BIT(K_SESSION) | BIT(K_MEDIA_TYPE) | BIT(K_MSG),
    [TB_AP_ANSWER] = BIT(K_ID) | BIT(K_STATUS) | BIT(K_CODE) | BIT(K_REASON) | BIT(K_RETRY_AFTER) |
                     BIT(K_TEE_STATUS) | BIT(K_TAM) | BIT(K_SESSION) | BIT(K_MEDIA_TYPE) |
                     BIT(K_MSG),
};
static const unsigned type_required[] = {
    [TB_AP_HELLO] = BIT(K_VERSIONS),
    [TB_AP_WELCOME] = BIT(K_VERSION) | BIT(K_AGENT) | BIT(K_MAX_FRAME) | BIT(K_MAX_CALLS),
    [TB_AP_CALL] = BIT(K_ID) | BIT(K_OP),
    [TB_AP_ANSWER] = BIT(K_ID) | BIT(K_STATUS),
};

/* The members a call of each op may carry (besides id and op), and must. */
#define CALL_TA (BIT(K_COMPONENT) | BIT(K_APP) | BIT(K_TAM))
static const unsigned op_allowed[] = {
    [TB_AP_OP_REQUEST_TA] = CALL_TA,
    [TB_AP_OP_UNREQUEST_TA] = CALL_TA,
    [TB_AP_OP_POLICY_CHECK] = 0,
    [TB_AP_OP_PROCESS_MESSAGE] = BIT(K_SESSION) | BIT(K_MEDIA_TYPE) | BIT(K_MSG),
    [TB_AP_OP_PROCESS_ERROR] = BIT(K_SESSION),
    [TB_AP_OP_SESSION_CLOSE] = BIT(K_SESSION),
};
static const unsigned op_required[] = {
    [TB_AP_OP_REQUEST_TA] = BIT(K_COMPONENT),
    [TB_AP_OP_UNREQUEST_TA] = BIT(K_COMPONENT),
    [TB_AP_OP_POLICY_CHECK] = 0,
    [TB_AP_OP_PROCESS_MESSAGE] = BIT(K_SESSION) | BIT(K_MSG),
    [TB_AP_OP_PROCESS_ERROR] = BIT(K_SESSION),
    [TB_AP_OP_SESSION_CLOSE] = BIT(K_SESSION),
};
/* Answers: "ok" carries outputs, "error" carries the reason. */
#define ANS_OK    (BIT(K_TAM) | BIT(K_SESSION) | BIT(K_MEDIA_TYPE) | BIT(K_MSG))
#define ANS_ERROR (BIT(K_CODE) | BIT(K_REASON) | BIT(K_RETRY_AFTER) | BIT(K_TEE_STATUS))

static const char *const type_names[] = {
    [TB_AP_NONE] = "none", [TB_AP_HELLO] = "hello",   [TB_AP_WELCOME] = "welcome",
    [TB_AP_CALL] = "call", [TB_AP_ANSWER] = "answer",
};

static const char *const op_names[] = {
    [TB_AP_OP_NONE] = "none",
    [TB_AP_OP_REQUEST_TA] = "request-ta",
    [TB_AP_OP_UNREQUEST_TA] = "unrequest-ta",
    [TB_AP_OP_POLICY_CHECK] = "policy-check",
    [TB_AP_OP_PROCESS_MESSAGE] = "process-teep-message",
    [TB_AP_OP_PROCESS_ERROR] = "process-error",
    [TB_AP_OP_SESSION_CLOSE] = "session-close",
};

static const char *const code_names[] = {
    [TB_AP_OK] = "ok",
    [TB_AP_E_MALFORMED] = "malformed",
    [TB_AP_E_UNSUPPORTED] = "unsupported",
    [TB_AP_E_TOO_LARGE] = "too-large",
    [TB_AP_E_BUSY] = "busy",
    [TB_AP_E_NO_SESSION] = "no-session",
    [TB_AP_E_DUPLICATE_ID] = "duplicate-id",
    [TB_AP_E_AGENT] = "agent-failed",
    [TB_AP_E_INTERNAL] = "internal",
    [TB_AP_E_HANDSHAKE] = "handshake",
    [TB_AP_E_SHUTDOWN] = "shutdown",
};

const char *tb_ap_op_name(enum tb_ap_op op)
{
	if ((size_t)op < COUNT(op_names) && op_names[op])
		return op_names[op];
	return "unknown";
}

const char *tb_ap_type_name(enum tb_ap_type type)
{
	if ((size_t)type < COUNT(type_names) && type_names[type])
		return type_names[type];
	return "unknown";
}

const char *tb_ap_code_name(int code)
{
	if (code >= 0 && (size_t)code < COUNT(code_names) && code_names[code])
		return code_names[code];
	return "unknown";
}

static int op_valid(enum tb_ap_op op)
{
	return op >= TB_AP_OP_REQUEST_TA && op <= TB_AP_OP_SESSION_CLOSE;
}

static int type_valid(enum tb_ap_type t)
{
	return t >= TB_AP_HELLO && t <= TB_AP_ANSWER;
}

/* ---- member checks shared by the encoder and the decoder -------------- */

/* Texts are bounded and hold no control characters (they end up in logs). */
static int text_ok(const char *s, size_t n, size_t max)
{
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/* URIs and media types: 1..max bytes of printable ASCII without spaces. */
static int token_ok(const char *s, size_t n, size_t max)
{
	if (n < 1 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static int component_ok(const struct tb_component_id *c)
{
	if (c->n < 1 || c->n > TB_TEEP_MAX_SEGMENTS)
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->seg[i].len > TB_AP_MAX_SEGMENT || (!c->seg[i].ptr && c->seg[i].len))
			return 0;
	return 1;
}

/* The keys a message in memory would be encoded with. */
static unsigned present_keys(const struct tb_ap_msg *m)
{
	unsigned k = BIT(K_TYPE);

	switch (m->type) {
	case TB_AP_HELLO:
		k |= BIT(K_VERSIONS) | (m->client ? BIT(K_CLIENT) : 0);
		break;
	case TB_AP_WELCOME:
		k |= BIT(K_VERSION) | BIT(K_AGENT) | BIT(K_MAX_FRAME) | BIT(K_MAX_CALLS);
		break;
	case TB_AP_CALL:
		k |= BIT(K_ID) | BIT(K_OP);
		/* fall through */
	case TB_AP_ANSWER:
		if (m->type == TB_AP_ANSWER) {
			k |= BIT(K_ID) | BIT(K_STATUS);
			if (m->code != TB_AP_OK)
				k |= BIT(K_CODE) | BIT(K_REASON);
			if (m->has_retry)
				k |= BIT(K_RETRY_AFTER);
			if (m->tee_status)
				k |= BIT(K_TEE_STATUS);
		}
		if (m->component.n)
			k |= BIT(K_COMPONENT);
		if (m->app_id)
			k |= BIT(K_APP);
		if (m->tam_uri)
			k |= BIT(K_TAM);
		if (m->has_session)
			k |= BIT(K_SESSION);
		if (m->media_type)
			k |= BIT(K_MEDIA_TYPE);
		if (m->msg)
			k |= BIT(K_MSG);
		break;
	default:
		break;
	}
	return k;
}

static int popcount(unsigned v)
{
	int n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

/*
 * The rules of docs/agent-protocol.md about which members go together, given
 * the set of keys present. Values were checked one by one before.
 */
static int check_shape(const struct tb_ap_msg *m, unsigned keys, int *code, char *err,
                       size_t errlen)
{
	unsigned allowed = type_allowed[m->type] | BIT(K_TYPE), required = type_required[m->type];
	unsigned extra, missing;

	*code = TB_AP_E_MALFORMED;
	if (m->type == TB_AP_CALL) {
		allowed = BIT(K_TYPE) | BIT(K_ID) | BIT(K_OP) | op_allowed[m->op];
		required |= op_required[m->op];
	} else if (m->type == TB_AP_ANSWER) {
		allowed = BIT(K_TYPE) | BIT(K_ID) | BIT(K_STATUS) |
		          (m->code == TB_AP_OK ? ANS_OK : ANS_ERROR);
		if (m->code != TB_AP_OK)
			required |= BIT(K_CODE) | BIT(K_REASON);
	}
	extra = keys & ~allowed;
	missing = required & ~keys;
	for (int k = 0; k < K_COUNT; k++) {
		if (missing & BIT(k))
			return tb_err(err, errlen, TB_ERR_INVAL, "missing \"%s\" in %s%s%s",
			              key_names[k], type_names[m->type],
			              m->type == TB_AP_CALL ? " " : "",
			              m->type == TB_AP_CALL ? op_names[m->op] : "");
		if (extra & BIT(k))
			return tb_err(err, errlen, TB_ERR_INVAL, "\"%s\" does not belong in %s%s%s",
			              key_names[k], type_names[m->type],
			              m->type == TB_AP_CALL ? " " : "",
			              m->type == TB_AP_CALL ? op_names[m->op] : "");
	}
	if (m->type == TB_AP_HELLO && (m->n_versions < 1 || m->n_versions > TB_AP_MAX_VERSIONS))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"versions\" must list 1..%d versions",
		              TB_AP_MAX_VERSIONS);
	if (m->type == TB_AP_WELCOME &&
	    (m->max_frame < TB_AP_MIN_MAX_FRAME || m->max_frame > TB_AP_MAX_MAX_FRAME))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"max-frame\" out of range");
	if (m->type == TB_AP_WELCOME && m->max_calls < 1)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"max-calls\" must be at least 1");
	if ((keys & BIT(K_SESSION)) && m->session == 0)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"session\" must not be 0");
	if ((keys & BIT(K_MSG)) && m->msg_len == 0)
		return tb_err(err, errlen, TB_ERR_INVAL, "\"msg\" must not be empty");
	if ((keys & BIT(K_TEE_STATUS)) && (m->code != TB_AP_E_AGENT || m->tee_status >= 0))
		return tb_err(err, errlen, TB_ERR_INVAL,
		              "\"tee-status\" goes with agent-failed and is negative");
	if (m->type == TB_AP_ANSWER && m->code != TB_AP_OK && (m->code < 1 || m->code > 0xffff))
		return tb_err(err, errlen, TB_ERR_INVAL, "\"code\" out of range");
	*code = TB_AP_OK;
	return TB_OK;
}

/* Member values, for the encoder: the decoder checks each as it reads. */
static int check_values(const struct tb_ap_msg *m)
{
	if (m->client && !text_ok(m->client, strlen(m->client), TB_AP_MAX_NAME))
		return 0;
	if (m->type == TB_AP_WELCOME &&
	    (!m->agent || !text_ok(m->agent, strlen(m->agent), TB_AP_MAX_NAME)))
		return 0;
	if (m->app_id && !text_ok(m->app_id, strlen(m->app_id), TB_AP_MAX_NAME))
		return 0;
	if (m->tam_uri && !token_ok(m->tam_uri, strlen(m->tam_uri), TB_AP_MAX_URI))
		return 0;
	if (m->media_type && !token_ok(m->media_type, strlen(m->media_type), TB_AP_MAX_MEDIA))
		return 0;
	if (m->reason && !text_ok(m->reason, strlen(m->reason), TB_AP_MAX_TEXT))
		return 0;
	if (m->component.n && !component_ok(&m->component))
		return 0;
	if (m->type == TB_AP_CALL && !op_valid(m->op))
		return 0;
	if (m->type == TB_AP_ANSWER && m->code != TB_AP_OK && !m->reason)
		return 0;
	return 1;
}

/* ---- encoding ---------------------------------------------------------- */

static void w_key(struct tb_cw *w, enum key k)
{
	tb_cw_cstr(w, key_names[k]);
}

/* An upper bound of the encoded size: 9 bytes is the longest CBOR head, 24
 * covers any key plus a head. Every member is bounded, so no overflow. */
static size_t size_bound(const struct tb_ap_msg *m)
{
	size_t n = TB_AP_HDR_LEN + 9 + 24 * K_COUNT + 9 * TB_AP_MAX_VERSIONS;
	const char *texts[] = {m->client,  m->agent,      m->app_id,
	                       m->tam_uri, m->media_type, m->reason};

	for (size_t i = 0; i < COUNT(texts); i++)
		if (texts[i])
			n += strlen(texts[i]);
	for (size_t i = 0; i < m->component.n; i++)
		n += 9 + m->component.seg[i].len;
	return n;
}

int tb_ap_encode(const struct tb_ap_msg *m, uint8_t **frame, size_t *frame_len)
{
	struct tb_cw w = {0};
	unsigned keys;
	size_t payload;
	int code;

	if (!frame || !frame_len)
		return TB_ERR_INVAL;
	*frame = NULL;
	*frame_len = 0;
	if (!m || !type_valid(m->type) || (m->type == TB_AP_CALL && !op_valid(m->op)) ||
	    (m->msg && m->msg_len > TB_AP_MAX_MAX_FRAME) || !check_values(m))
		return TB_ERR_INVAL;
	keys = present_keys(m);
	if (check_shape(m, keys, &code, NULL, 0) != TB_OK)
		return TB_ERR_INVAL;
	if (m->type == TB_AP_CALL && !m->has_id)
		return TB_ERR_INVAL;

	w.cap = size_bound(m) + (m->msg ? m->msg_len : 0);
	w.p = malloc(w.cap);
	if (!w.p)
		return TB_ERR_NOMEM;
	w.len = TB_AP_HDR_LEN;
	tb_cw_map(&w, (size_t)popcount(keys));
	w_key(&w, K_TYPE);
	tb_cw_cstr(&w, type_names[m->type]);
	switch (m->type) {
	case TB_AP_HELLO:
		w_key(&w, K_VERSIONS);
		tb_cw_array(&w, m->n_versions);
		for (size_t i = 0; i < m->n_versions; i++)
			tb_cw_uint(&w, m->versions[i]);
		if (m->client) {
			w_key(&w, K_CLIENT);
			tb_cw_cstr(&w, m->client);
		}
		break;
	case TB_AP_WELCOME:
		w_key(&w, K_VERSION);
		tb_cw_uint(&w, m->version);
		w_key(&w, K_AGENT);
		tb_cw_cstr(&w, m->agent);
		w_key(&w, K_MAX_FRAME);
		tb_cw_uint(&w, m->max_frame);
		w_key(&w, K_MAX_CALLS);
		tb_cw_uint(&w, m->max_calls);
		break;
	case TB_AP_CALL:
	case TB_AP_ANSWER:
		w_key(&w, K_ID);
		if (m->has_id)
			tb_cw_uint(&w, m->id);
		else
			tb_cw_null(&w);
		if (m->type == TB_AP_CALL) {
			w_key(&w, K_OP);
			tb_cw_cstr(&w, op_names[m->op]);
		} else {
			w_key(&w, K_STATUS);
			tb_cw_cstr(&w, m->code == TB_AP_OK ? "ok" : "error");
		}
		if (keys & BIT(K_CODE)) {
			w_key(&w, K_CODE);
			tb_cw_uint(&w, (uint64_t)m->code);
			w_key(&w, K_REASON);
			tb_cw_cstr(&w, m->reason);
		}
		if (keys & BIT(K_RETRY_AFTER)) {
			w_key(&w, K_RETRY_AFTER);
			tb_cw_uint(&w, m->retry_after_ms);
		}
		if (keys & BIT(K_TEE_STATUS)) {
			w_key(&w, K_TEE_STATUS);
			tb_cw_int(&w, m->tee_status);
		}
		if (m->component.n) {
			w_key(&w, K_COMPONENT);
			tb_cw_array(&w, m->component.n);
			for (size_t i = 0; i < m->component.n; i++)
				tb_cw_bytes(&w, m->component.seg[i].ptr, m->component.seg[i].len);
		}
		if (m->app_id) {
			w_key(&w, K_APP);
			tb_cw_cstr(&w, m->app_id);
		}
		if (m->tam_uri) {
			w_key(&w, K_TAM);
			tb_cw_cstr(&w, m->tam_uri);
		}
		if (m->has_session) {
			w_key(&w, K_SESSION);
			tb_cw_uint(&w, m->session);
		}
		if (m->media_type) {
			w_key(&w, K_MEDIA_TYPE);
			tb_cw_cstr(&w, m->media_type);
		}
		if (m->msg) {
			w_key(&w, K_MSG);
			tb_cw_bytes(&w, m->msg, m->msg_len);
		}
		break;
	default:
		break;
	}
	payload = w.len - TB_AP_HDR_LEN;
	if (w.full || payload > UINT32_MAX) {
		/* Unreachable while size_bound() stays an upper bound. */
		free(w.p);
		return TB_ERR_TOOBIG;
	}
	w.p[0] = (uint8_t)(payload >> 24);
	w.p[1] = (uint8_t)(payload >> 16);
	w.p[2] = (uint8_t)(payload >> 8);
	w.p[3] = (uint8_t)payload;
	*frame = w.p;
	*frame_len = w.len;
	return TB_OK;
}

/* ---- decoding ---------------------------------------------------------- */

struct dec {
	cbor_item_t *v[K_COUNT];
	unsigned keys;
	int *code;
	char *err;
	size_t errlen;
};

static int fail(struct dec *d, int code, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct dec *d, int code, int rc, const char *fmt, ...)
{
	va_list ap;

	*d->code = code;
	if (d->err && d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Find the known keys. A known key twice makes the message ambiguous; an
 * unknown key (of any type) is skipped; a key in chunks is refused since it
 * could hide a known key from a simpler decoder. */
static int collect_keys(const cbor_item_t *map, struct dec *d)
{
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t n = cbor_map_size(map);

	for (size_t i = 0; i < n; i++) {
		const char *key;
		size_t klen;

		if (!cbor_isa_string(pairs[i].key))
			continue;
		if (tb_cbor_get_text(pairs[i].key, &key, &klen) != TB_OK)
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
			            "a map key is an indefinite-length string");
		for (int k = 0; k < K_COUNT; k++) {
			if (strlen(key_names[k]) != klen || memcmp(key_names[k], key, klen) != 0)
				continue;
			if (d->v[k])
				return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
				            "duplicate key \"%s\"", key_names[k]);
			d->v[k] = pairs[i].value;
			d->keys |= BIT(k);
		}
	}
	return TB_OK;
}

/* Print at most 32 bytes of an unknown name, unprintable bytes as '?'. */
static void shown(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && i < 32 && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	out[o] = 0;
}

/* A name out of a table: TB_OK and its index, or an "unsupported" error. */
static int decode_name(struct dec *d, enum key k, const char *const *names, int first, int last,
                       int *out)
{
	const char *s;
	size_t n;
	char buf[40];

	if (tb_cbor_get_text(d->v[k], &s, &n) != TB_OK)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "\"%s\" is not a text string",
		            key_names[k]);
	for (int i = first; i <= last; i++) {
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
			*out = i;
			return TB_OK;
		}
	}
	shown(s, n, buf, sizeof(buf));
	return fail(d, TB_AP_E_UNSUPPORTED, TB_ERR_UNSUP, "unknown %s \"%s\"", key_names[k], buf);
}

static int decode_uint(struct dec *d, enum key k, uint64_t *out)
{
	if (tb_cbor_get_uint(d->v[k], out) != TB_OK)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "\"%s\" is not an unsigned integer",
		            key_names[k]);
	return TB_OK;
}

/* A text member into a new C string; tokens (URIs, media types) are
 * stricter than free text. */
static int decode_text(struct dec *d, enum key k, size_t max, int token, char **out)
{
	const char *s;
	size_t n;

	if (tb_cbor_get_text(d->v[k], &s, &n) != TB_OK)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"%s\" is not a definite text string", key_names[k]);
	if (token ? !token_ok(s, n, max) : !text_ok(s, n, max))
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            token ? "\"%s\" is empty, too long or holds a space or a control byte"
		                  : "\"%s\" is too long or holds a control byte",
		            key_names[k]);
	*out = malloc(n + 1);
	if (!*out)
		return fail(d, TB_AP_E_INTERNAL, TB_ERR_NOMEM, "out of memory");
	memcpy(*out, s, n);
	(*out)[n] = 0;
	return TB_OK;
}

static int decode_versions(struct dec *d, struct tb_ap_msg *m)
{
	const cbor_item_t *a = d->v[K_VERSIONS];
	cbor_item_t **items;
	size_t n;

	if (!cbor_isa_array(a) || !cbor_array_is_definite(a))
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"versions\" is not a definite-length array");
	n = cbor_array_size(a);
	if (n < 1 || n > TB_AP_MAX_VERSIONS)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"versions\" must list 1..%d versions", TB_AP_MAX_VERSIONS);
	items = cbor_array_handle(a);
	for (size_t i = 0; i < n; i++)
		if (tb_cbor_get_uint(items[i], &m->versions[i]) != TB_OK)
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
			            "a version is not an unsigned integer");
	m->n_versions = n;
	return TB_OK;
}

static int decode_component(struct dec *d, struct tb_ap_msg *m)
{
	const cbor_item_t *a = d->v[K_COMPONENT];
	cbor_item_t **segs;
	size_t n;

	if (!cbor_isa_array(a) || !cbor_array_is_definite(a))
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"component\" is not a definite-length array");
	n = cbor_array_size(a);
	if (n < 1 || n > TB_TEEP_MAX_SEGMENTS)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"component\" must have 1..%d segments", TB_TEEP_MAX_SEGMENTS);
	segs = cbor_array_handle(a);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (tb_cbor_get_bytes(segs[i], &p, &len) != TB_OK || len > TB_AP_MAX_SEGMENT)
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
			            "a \"component\" segment is not a byte string of 0..%d bytes",
			            TB_AP_MAX_SEGMENT);
		m->component.seg[i].ptr = malloc(len + 1);
		if (!m->component.seg[i].ptr)
			return fail(d, TB_AP_E_INTERNAL, TB_ERR_NOMEM, "out of memory");
		if (len)
			memcpy(m->component.seg[i].ptr, p, len);
		m->component.seg[i].len = len;
		m->component.n = i + 1;
	}
	return TB_OK;
}

static int decode_msg(struct dec *d, struct tb_ap_msg *m)
{
	const uint8_t *p;
	size_t n;

	if (tb_cbor_get_bytes(d->v[K_MSG], &p, &n) != TB_OK)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "\"msg\" is not a definite byte string");
	if (n == 0)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "\"msg\" is empty");
	m->msg = malloc(n);
	if (!m->msg)
		return fail(d, TB_AP_E_INTERNAL, TB_ERR_NOMEM, "out of memory");
	memcpy(m->msg, p, n);
	m->msg_len = n;
	return TB_OK;
}

static int decode_id(struct dec *d, struct tb_ap_msg *m)
{
	const cbor_item_t *v = d->v[K_ID];

	/* An answer about a frame without a usable id says null. libcbor
	 * 0.8's cbor_is_null() asserts on a float: tb_cbor_is_null does not. */
	if (m->type == TB_AP_ANSWER && tb_cbor_is_null(v))
		return TB_OK;
	if (decode_uint(d, K_ID, &m->id) != TB_OK)
		return TB_ERR_INVAL;
	m->has_id = 1;
	return TB_OK;
}

static int decode_answer_status(struct dec *d, struct tb_ap_msg *m)
{
	static const char *const status_names[] = {"ok", "error"};
	uint64_t v;
	int s, rc;

	rc = decode_name(d, K_STATUS, status_names, 0, 1, &s);
	if (rc != TB_OK)
		return rc;
	if (s == 0) {
		m->code = TB_AP_OK;
		return TB_OK;
	}
	if (!d->v[K_CODE])
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
		            "missing \"code\" in an error answer");
	if (decode_uint(d, K_CODE, &v) != TB_OK)
		return TB_ERR_INVAL;
	if (v < 1 || v > 0xffff)
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "\"code\" must be 1..65535");
	m->code = (int)v;
	if (d->v[K_RETRY_AFTER]) {
		if (decode_uint(d, K_RETRY_AFTER, &m->retry_after_ms) != TB_OK)
			return TB_ERR_INVAL;
		m->has_retry = 1;
	}
	if (d->v[K_TEE_STATUS]) {
		int64_t t;

		if (tb_cbor_get_int(d->v[K_TEE_STATUS], &t) != TB_OK || t >= 0 || t < INT_MIN)
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
			            "\"tee-status\" is not a negative integer");
		m->tee_status = (int)t;
	}
	return TB_OK;
}

/* Every member present, one by one; the shape check comes after. */
static int decode_members(struct dec *d, struct tb_ap_msg *m)
{
	int rc = TB_OK;

	if (d->v[K_VERSIONS] && m->type == TB_AP_HELLO)
		rc = decode_versions(d, m);
	if (rc == TB_OK && d->v[K_CLIENT] && m->type == TB_AP_HELLO)
		rc = decode_text(d, K_CLIENT, TB_AP_MAX_NAME, 0, &m->client);
	if (m->type == TB_AP_WELCOME) {
		if (rc == TB_OK && d->v[K_VERSION])
			rc = decode_uint(d, K_VERSION, &m->version);
		if (rc == TB_OK && d->v[K_AGENT])
			rc = decode_text(d, K_AGENT, TB_AP_MAX_NAME, 0, &m->agent);
		if (rc == TB_OK && d->v[K_MAX_FRAME])
			rc = decode_uint(d, K_MAX_FRAME, &m->max_frame);
		if (rc == TB_OK && d->v[K_MAX_CALLS])
			rc = decode_uint(d, K_MAX_CALLS, &m->max_calls);
	}
	if (m->type != TB_AP_CALL && m->type != TB_AP_ANSWER)
		return rc;
	if (rc == TB_OK && d->v[K_COMPONENT] && m->type == TB_AP_CALL)
		rc = decode_component(d, m);
	if (rc == TB_OK && d->v[K_APP] && m->type == TB_AP_CALL)
		rc = decode_text(d, K_APP, TB_AP_MAX_NAME, 0, &m->app_id);
	if (rc == TB_OK && d->v[K_TAM])
		rc = decode_text(d, K_TAM, TB_AP_MAX_URI, 1, &m->tam_uri);
	if (rc == TB_OK && d->v[K_SESSION]) {
		rc = decode_uint(d, K_SESSION, &m->session);
		m->has_session = 1;
	}
	if (rc == TB_OK && d->v[K_MEDIA_TYPE])
		rc = decode_text(d, K_MEDIA_TYPE, TB_AP_MAX_MEDIA, 1, &m->media_type);
	if (rc == TB_OK && d->v[K_MSG])
		rc = decode_msg(d, m);
	if (rc == TB_OK && d->v[K_REASON] && m->type == TB_AP_ANSWER)
		rc = decode_text(d, K_REASON, TB_AP_MAX_TEXT, 0, &m->reason);
	return rc;
}

static int decode_map(const cbor_item_t *map, struct tb_ap_msg *m, struct dec *d)
{
	int t, rc;

	if (!cbor_isa_map(map))
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_PARSE, "the frame is not a CBOR map");
	rc = collect_keys(map, d);
	if (rc != TB_OK)
		return rc;
	if (!d->v[K_TYPE])
		return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "missing \"type\"");
	rc = decode_name(d, K_TYPE, type_names, TB_AP_HELLO, TB_AP_ANSWER, &t);
	if (rc != TB_OK)
		return rc;
	m->type = (enum tb_ap_type)t;
	/* The id first, so that any later refusal can name the call. */
	if (d->v[K_ID] && (m->type == TB_AP_CALL || m->type == TB_AP_ANSWER)) {
		rc = decode_id(d, m);
		if (rc != TB_OK)
			return rc;
	}
	if (m->type == TB_AP_CALL) {
		if (!d->v[K_OP])
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL, "missing \"op\" in a call");
		rc =
		    decode_name(d, K_OP, op_names, TB_AP_OP_REQUEST_TA, TB_AP_OP_SESSION_CLOSE, &t);
		if (rc != TB_OK)
			return rc;
		m->op = (enum tb_ap_op)t;
	}
	if (m->type == TB_AP_ANSWER) {
		if (!d->v[K_STATUS])
			return fail(d, TB_AP_E_MALFORMED, TB_ERR_INVAL,
			            "missing \"status\" in an answer");
		rc = decode_answer_status(d, m);
		if (rc != TB_OK)
			return rc;
	}
	rc = decode_members(d, m);
	if (rc != TB_OK)
		return rc;
	return check_shape(m, d->keys, d->code, d->err, d->errlen);
}

int tb_ap_decode(const uint8_t *buf, size_t len, struct tb_ap_msg *m, int *code, char *err,
                 size_t errlen)
{
	struct dec d = {.err = err, .errlen = errlen};
	const char *why = NULL;
	cbor_item_t *item;
	int dummy, rc;

	if (err && errlen)
		err[0] = 0;
	d.code = code ? code : &dummy;
	*d.code = TB_AP_E_MALFORMED;
	if (!m)
		return tb_err(err, errlen, TB_ERR_INVAL, "bad arguments");
	memset(m, 0, sizeof(*m));
	if (!buf || len == 0)
		return tb_err(err, errlen, TB_ERR_PARSE, "empty frame");
	/* Checking first tells a malformed frame from a failed allocation. */
	if (tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, &why) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "not one well-formed CBOR item: %s",
		              why ? why : "?");
	item = tb_cbor_load(buf, len, &why);
	if (!item) {
		*d.code = TB_AP_E_INTERNAL;
		return tb_err(err, errlen, TB_ERR_NOMEM, "cannot decode: %s", why ? why : "?");
	}
	rc = decode_map(item, m, &d);
	cbor_decref(&item);
	if (rc != TB_OK) {
		enum tb_ap_type type = m->type;
		int has_id = m->has_id;
		uint64_t id = m->id;

		tb_ap_msg_clear(m);
		m->type = type;
		m->has_id = has_id;
		m->id = id;
		if (*d.code == TB_AP_OK)
			*d.code = TB_AP_E_MALFORMED;
	} else {
		*d.code = TB_AP_OK;
	}
	return rc;
}

void tb_ap_msg_clear(struct tb_ap_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->component.n && i < TB_TEEP_MAX_SEGMENTS; i++)
		free(m->component.seg[i].ptr);
	free(m->client);
	free(m->agent);
	free(m->app_id);
	free(m->tam_uri);
	free(m->media_type);
	free(m->msg);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}

/* ---- frame reader ------------------------------------------------------ */

void tb_ap_reader_init(struct tb_ap_reader *r, size_t max_frame)
{
	memset(r, 0, sizeof(*r));
	r->max_frame = max_frame;
}

int tb_ap_reader_feed(struct tb_ap_reader *r, const uint8_t *data, size_t len, size_t *consumed,
                      uint8_t **frame, size_t *frame_len)
{
	size_t used = 0;

	*consumed = 0;
	*frame = NULL;
	*frame_len = 0;
	while (used < len) {
		if (r->hdr_got < TB_AP_HDR_LEN) {
			r->hdr[r->hdr_got++] = data[used++];
			if (r->hdr_got < TB_AP_HDR_LEN)
				continue;
			r->len = (size_t)r->hdr[0] << 24 | (size_t)r->hdr[1] << 16 |
			         (size_t)r->hdr[2] << 8 | r->hdr[3];
			if (r->len == 0 || r->len > r->max_frame) {
				*consumed = used;
				return TB_ERR_TOOBIG;
			}
			r->buf = malloc(r->len);
			if (!r->buf) {
				*consumed = used;
				return TB_ERR_NOMEM;
			}
			r->got = 0;
			continue;
		}
		size_t take = r->len - r->got;
		if (take > len - used)
			take = len - used;
		memcpy(r->buf + r->got, data + used, take);
		r->got += take;
		used += take;
		if (r->got == r->len)
			break;
	}
	*consumed = used;
	if (r->hdr_got == TB_AP_HDR_LEN && r->buf && r->got == r->len) {
		*frame = r->buf;
		*frame_len = r->len;
		r->buf = NULL;
		r->hdr_got = 0;
		r->len = r->got = 0;
		return TB_AP_FRAME;
	}
	return TB_AP_MORE;
}

size_t tb_ap_reader_pending(const struct tb_ap_reader *r)
{
	return r->hdr_got + r->got;
}

void tb_ap_reader_clear(struct tb_ap_reader *r)
{
	free(r->buf);
	tb_ap_reader_init(r, r->max_frame);
}
