/*
 * TEEP messages: decoding with validation, and encoding, in both registry
 * numberings. Every size and count is checked before anything is copied.
 */
#include "tb_teep.h"
#include "tb_cbor.h"
#include "tb_util.h"
#include "tb_cose.h"

#include <teep-broker/driver.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHALLENGE_MIN 8
#define CHALLENGE_MAX 512
#define TEEP_VERSION  0 /* the only protocol version */

/* Option labels; the tables below give their wire values per numbering. */
enum label {
	L_CIPHER_SUITES,
	L_CHALLENGE,
	L_VERSIONS,
	L_SUIT_COSE_PROFILES,
	L_SELECTED_VERSION,
	L_ATTESTATION_PAYLOAD,
	L_TC_LIST,
	L_EXT_LIST,
	L_MANIFEST_LIST,
	L_MSG,
	L_ERR_MSG,
	L_ATTESTATION_PAYLOAD_FORMAT,
	L_REQUESTED_TC_LIST,
	L_UNNEEDED_MANIFEST_LIST,
	L_COMPONENT_ID,
	L_TC_MANIFEST_SEQUENCE_NUMBER,
	L_HAVE_BINARY,
	L_SUIT_REPORTS,
	L_TOKEN,
	L_FRESHNESS_MECHANISMS,
	L_ERR_LANG,
	L_ERR_CODE,
	L_COUNT
};

/* Draft-26 moved every label from 6 up down by one (old 5 was
 * selected-teep-cipher-suite, removed in -18). */
static const uint8_t label_wire[2][L_COUNT] = {
    [TB_NUM_DRAFT26] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                        12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22},
    [TB_NUM_PRE26] = {1,  2,  3,  4,  6,  7,  8,  9,  10, 11, 12,
                      13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23},
};

/* Key 0 of a system-property-claims map: the component id. */
#define CLAIM_SYSTEM_COMPONENT_ID 0

/* Only ERR_MANIFEST_PROCESSING_FAILED moved (17 -> 11). The mapping swaps
 * 11 and 17 so that it stays a bijection: an old-numbering 11 (reserved)
 * becomes 17 (reserved in draft-26) and is still an unknown code. */
#define ERR_MPF_PRE26 17

/* Any value other than TB_NUM_PRE26 means draft-26. */
static enum tb_numbering nv(enum tb_numbering num)
{
	return num == TB_NUM_PRE26 ? TB_NUM_PRE26 : TB_NUM_DRAFT26;
}

static int64_t wire_label(enum tb_numbering num, enum label l)
{
	return label_wire[nv(num)][l];
}

static uint64_t err_code_swap(enum tb_numbering num, uint64_t code)
{
	if (num != TB_NUM_PRE26)
		return code;
	if (code == ERR_MPF_PRE26)
		return TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED;
	if (code == TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED)
		return ERR_MPF_PRE26;
	return code;
}

uint64_t tb_teep_err_code_to_wire(enum tb_numbering num, uint64_t code)
{
	/* the mapping is a swap: its own inverse */
	return err_code_swap(nv(num), code);
}

int tb_teep_type_to_wire(enum tb_numbering num, enum tb_teep_type type)
{
	switch (type) {
	case TB_TEEP_QUERY_REQUEST:
	case TB_TEEP_QUERY_RESPONSE:
	case TB_TEEP_UPDATE:
		return (int)type;
	case TB_TEEP_SUCCESS:
		return num == TB_NUM_PRE26 ? 5 : 4;
	case TB_TEEP_ERROR:
		return num == TB_NUM_PRE26 ? 6 : 5;
	default:
		return 0;
	}
}

enum tb_teep_type tb_teep_type_from_wire(enum tb_numbering num, uint64_t wire)
{
	for (int t = TB_TEEP_QUERY_REQUEST; t <= TB_TEEP_ERROR; t++)
		if ((uint64_t)tb_teep_type_to_wire(num, (enum tb_teep_type)t) == wire)
			return (enum tb_teep_type)t;
	return TB_TEEP_NONE;
}

const char *tb_teep_type_name(enum tb_teep_type type)
{
	switch (type) {
	case TB_TEEP_QUERY_REQUEST:
		return "QueryRequest";
	case TB_TEEP_QUERY_RESPONSE:
		return "QueryResponse";
	case TB_TEEP_UPDATE:
		return "Update";
	case TB_TEEP_SUCCESS:
		return "Success";
	case TB_TEEP_ERROR:
		return "Error";
	default:
		return "none";
	}
}

/* ---- component ids ---- */

void tb_component_id_clear(struct tb_component_id *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n && i < TB_TEEP_MAX_SEGMENTS; i++)
		free(c->seg[i].ptr);
	memset(c, 0, sizeof(*c));
}

static int buf_set(struct tb_buf *b, const uint8_t *p, size_t len)
{
	/* Never a NULL pointer, even for an empty segment. */
	b->ptr = malloc(len ? len : 1);
	if (!b->ptr)
		return TB_ERR_NOMEM;
	if (len)
		memcpy(b->ptr, p, len);
	b->len = len;
	return TB_OK;
}

static void buf_free(struct tb_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
}

int tb_component_id_copy(struct tb_component_id *dst, const struct tb_component_id *src)
{
	if (!dst || !src || src->n > TB_TEEP_MAX_SEGMENTS)
		return TB_ERR_INVAL;
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		if (buf_set(&dst->seg[i], src->seg[i].ptr, src->seg[i].len) != TB_OK) {
			tb_component_id_clear(dst);
			return TB_ERR_NOMEM;
		}
		dst->n = i + 1;
	}
	return TB_OK;
}

int tb_component_id_equal(const struct tb_component_id *a, const struct tb_component_id *b)
{
	if (!a || !b || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->seg[i].len != b->seg[i].len ||
		    (a->seg[i].len && memcmp(a->seg[i].ptr, b->seg[i].ptr, a->seg[i].len) != 0))
			return 0;
	return 1;
}

/* Characters a segment may show as text. Narrower than "printable" so the
 * text form is also a safe file name: no '/', spaces or shell specials. */
static int seg_char_plain(uint8_t c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '+' || c == '~' || c == '@' ||
	       c == '=' || c == ',' || c == ':';
}

static int seg_is_plain(const struct tb_buf *s)
{
	if (s->len == 0)
		return 0;
	/* "0x..." would read back as hex; "." and ".." are path components. */
	if (s->len >= 2 && s->ptr[0] == '0' && s->ptr[1] == 'x')
		return 0;
	if ((s->len == 1 && s->ptr[0] == '.') ||
	    (s->len == 2 && s->ptr[0] == '.' && s->ptr[1] == '.'))
		return 0;
	for (size_t i = 0; i < s->len; i++)
		if (!seg_char_plain(s->ptr[i]))
			return 0;
	return 1;
}

struct textbuf {
	char *out;
	size_t cap; /* including the NUL */
	size_t n;
};

static void tput(struct textbuf *t, char c)
{
	if (t->n + 1 < t->cap)
		t->out[t->n++] = c;
}

size_t tb_component_id_format(const struct tb_component_id *c, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	struct textbuf t = {out, outlen, 0};

	if (!out || outlen == 0)
		return 0;
	for (size_t i = 0; c && i < c->n && i < TB_TEEP_MAX_SEGMENTS; i++) {
		const struct tb_buf *s = &c->seg[i];
		if (i)
			tput(&t, '/');
		if (seg_is_plain(s)) {
			for (size_t j = 0; j < s->len; j++)
				tput(&t, (char)s->ptr[j]);
			continue;
		}
		tput(&t, '0');
		tput(&t, 'x');
		for (size_t j = 0; j < s->len; j++) {
			tput(&t, hex[s->ptr[j] >> 4]);
			tput(&t, hex[s->ptr[j] & 0xf]);
		}
	}
	out[t.n] = 0;
	return t.n;
}

/* hex digits (no separators) into a new segment */
static int seg_from_hex(const char *p, size_t n, struct tb_buf *seg)
{
	uint8_t tmp[256];

	if (n % 2 || n / 2 > sizeof(tmp))
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n; i += 2) {
		int hi = tb_hex_digit(p[i]), lo = tb_hex_digit(p[i + 1]);
		if (hi < 0 || lo < 0)
			return TB_ERR_INVAL;
		tmp[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return buf_set(seg, tmp, n / 2);
}

static int is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : tb_hex_digit(s[i]) < 0)
			return 0;
	}
	return 1;
}

static int parse_uuid_id(const char *text, struct tb_component_id *out)
{
	char digits[33];
	size_t n = 0;
	int rc;

	for (const char *p = text; *p; p++)
		if (*p != '-')
			digits[n++] = *p;
	digits[n] = 0;
	rc = buf_set(&out->seg[0], (const uint8_t *)"TEEP-Device", 11);
	out->n = 1;
	if (rc == TB_OK) {
		rc = buf_set(&out->seg[1], (const uint8_t *)"SecureFS", 8);
		out->n = rc == TB_OK ? 2 : 1;
	}
	if (rc == TB_OK) {
		rc = seg_from_hex(digits, 32, &out->seg[2]);
		out->n = rc == TB_OK ? 3 : 2;
	}
	if (rc == TB_OK) {
		rc = buf_set(&out->seg[3], (const uint8_t *)"ta", 2);
		out->n = rc == TB_OK ? 4 : 3;
	}
	return rc;
}

static int parse_segments(const char *p, struct tb_component_id *out)
{
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int rc;

		if (n == 0 || out->n == TB_TEEP_MAX_SEGMENTS)
			return TB_ERR_INVAL;
		if (n >= 2 && p[0] == '0' && p[1] == 'x')
			rc = seg_from_hex(p + 2, n - 2, &out->seg[out->n]);
		else
			rc = buf_set(&out->seg[out->n], (const uint8_t *)p, n);
		if (rc != TB_OK)
			return rc;
		out->n++;
		if (!slash)
			return TB_OK;
		p = slash + 1;
	}
}

int tb_component_id_parse(const char *text, struct tb_component_id *out)
{
	int rc;

	if (!text || !out)
		return TB_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (*text == 0)
		return TB_ERR_INVAL;
	rc = is_uuid(text) ? parse_uuid_id(text, out) : parse_segments(text, out);
	if (rc != TB_OK)
		tb_component_id_clear(out);
	return rc;
}

/* ---- decoding ---- */

struct dec {
	enum tb_numbering num;
	char *err;
	size_t errlen;
	const uint8_t *src; /* the input, when manifests may point into it */
	size_t src_len;
};

static int derr(struct dec *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int derr(struct dec *d, int rc, const char *fmt, ...)
{
	va_list ap;

	if (d->err && d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static cbor_item_t *opt(const cbor_item_t *options, struct dec *d, enum label l)
{
	return tb_cbor_map_get_int(options, wire_label(d->num, l));
}

static int dec_bstr_sized(struct dec *d, const cbor_item_t *item, const char *name, size_t min,
                          size_t max, struct tb_buf *out)
{
	const uint8_t *p;
	size_t n;

	if (tb_cbor_get_bytes(item, &p, &n) != TB_OK)
		return derr(d, TB_ERR_PARSE, "%s: expected a byte string", name);
	if (n < min || n > max)
		return derr(d, TB_ERR_PARSE, "%s: size %zu not in %zu..%zu", name, n, min, max);
	if (buf_set(out, p, n) != TB_OK)
		return derr(d, TB_ERR_NOMEM, "%s: out of memory", name);
	return TB_OK;
}

static int dec_text(struct dec *d, const cbor_item_t *item, const char *name, char **out)
{
	const char *p;
	size_t n;

	if (tb_cbor_get_text(item, &p, &n) != TB_OK)
		return derr(d, TB_ERR_PARSE, "%s: expected a text string", name);
	if (n < 1 || n > TB_TEEP_MSG_MAX)
		return derr(d, TB_ERR_PARSE, "%s: size %zu not in 1..%d", name, n, TB_TEEP_MSG_MAX);
	if (memchr(p, 0, n))
		return derr(d, TB_ERR_PARSE, "%s: contains a NUL character", name);
	*out = malloc(n + 1);
	if (!*out)
		return derr(d, TB_ERR_NOMEM, "%s: out of memory", name);
	memcpy(*out, p, n);
	(*out)[n] = 0;
	return TB_OK;
}

/* attestation-payload and attestation-payload-format, kept together: the
 * format says how to read the payload. */
static int dec_attestation(struct dec *d, const cbor_item_t *options, struct tb_teep_msg *m)
{
	cbor_item_t *v = opt(options, d, L_ATTESTATION_PAYLOAD);
	const char *p;
	size_t n;
	int rc = TB_OK;

	if (v)
		rc = dec_bstr_sized(d, v, "attestation-payload", 0, SIZE_MAX,
		                    &m->attestation_payload);
	v = opt(options, d, L_ATTESTATION_PAYLOAD_FORMAT);
	if (rc != TB_OK || !v)
		return rc;
	if (tb_cbor_get_text(v, &p, &n) != TB_OK)
		return derr(d, TB_ERR_PARSE, "attestation-payload-format: expected a text string");
	if (n < 1 || n > TB_TEEP_FORMAT_MAX || memchr(p, 0, n))
		return derr(d, TB_ERR_PARSE, "attestation-payload-format: size %zu not in 1..%d", n,
		            TB_TEEP_FORMAT_MAX);
	m->attestation_payload_format = malloc(n + 1);
	if (!m->attestation_payload_format)
		return derr(d, TB_ERR_NOMEM, "attestation-payload-format: out of memory");
	memcpy(m->attestation_payload_format, p, n);
	m->attestation_payload_format[n] = 0;
	return TB_OK;
}

static int dec_uint(struct dec *d, const cbor_item_t *item, const char *name, uint64_t *out)
{
	if (tb_cbor_get_uint(item, out) != TB_OK)
		return derr(d, TB_ERR_PARSE, "%s: expected an unsigned integer", name);
	return TB_OK;
}

/* Keep the raw encoding of an element we pass through untouched. */
static int dec_raw_array(struct dec *d, const cbor_item_t *item, const char *name,
                         struct tb_buf *out)
{
	uint8_t *p;
	size_t n;

	if (!cbor_isa_array(item) || cbor_array_size(item) == 0)
		return derr(d, TB_ERR_PARSE, "%s: expected a non-empty array", name);
	if (tb_cbor_serialize(item, &p, &n) != TB_OK)
		return derr(d, TB_ERR_NOMEM, "%s: out of memory", name);
	out->ptr = p;
	out->len = n;
	return TB_OK;
}

static int dec_component_id(struct dec *d, const cbor_item_t *item, const char *name,
                            struct tb_component_id *out)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!item || !cbor_isa_array(item))
		return derr(d, TB_ERR_PARSE, "%s: component id must be an array of byte strings",
		            name);
	n = cbor_array_size(item);
	if (n < 1 || n > TB_TEEP_MAX_SEGMENTS)
		return derr(d, TB_ERR_TOOBIG, "%s: component id has %zu segments, not 1..%d", name,
		            n, TB_TEEP_MAX_SEGMENTS);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (tb_cbor_get_bytes(cbor_array_handle(item)[i], &p, &len) != TB_OK) {
			tb_component_id_clear(out);
			return derr(d, TB_ERR_PARSE, "%s: segment %zu is not a byte string", name,
			            i);
		}
		if (buf_set(&out->seg[i], p, len) != TB_OK) {
			tb_component_id_clear(out);
			return derr(d, TB_ERR_NOMEM, "%s: out of memory", name);
		}
		out->n = i + 1;
	}
	return TB_OK;
}

/* A list of at most TB_TEEP_MAX_LIST entries; returns its size or < 0. */
static int dec_list(struct dec *d, const cbor_item_t *item, const char *name, size_t *n)
{
	if (!cbor_isa_array(item))
		return derr(d, TB_ERR_PARSE, "%s: expected an array", name);
	*n = cbor_array_size(item);
	if (*n > TB_TEEP_MAX_LIST)
		return derr(d, TB_ERR_TOOBIG, "%s: %zu entries, at most %d accepted", name, *n,
		            TB_TEEP_MAX_LIST);
	return TB_OK;
}

static void ids_free(struct tb_component_id *ids, size_t n)
{
	for (size_t i = 0; ids && i < n; i++)
		tb_component_id_clear(&ids[i]);
	free(ids);
}

/*
 * Component ids from a list. key < 0: entries are ids themselves; else each
 * entry is a map and the id sits under that key.
 */
static int dec_id_list(struct dec *d, const cbor_item_t *item, const char *name, int64_t key,
                       struct tb_component_id **out, size_t *out_n)
{
	struct tb_component_id *ids;
	size_t n;
	int rc = dec_list(d, item, name, &n);

	if (rc != TB_OK)
		return rc;
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids)
		return derr(d, TB_ERR_NOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		const cbor_item_t *e = cbor_array_handle(item)[i];

		if (key >= 0) {
			if (!cbor_isa_map(e)) {
				ids_free(ids, i);
				return derr(d, TB_ERR_PARSE, "%s[%zu]: expected a map", name, i);
			}
			e = tb_cbor_map_get_int(e, key);
			if (!e) {
				ids_free(ids, i);
				return derr(d, TB_ERR_PARSE, "%s[%zu]: no component id (key %lld)",
				            name, i, (long long)key);
			}
		}
		rc = dec_component_id(d, e, name, &ids[i]);
		if (rc != TB_OK) {
			ids_free(ids, i);
			return rc;
		}
	}
	*out = ids;
	*out_n = n;
	return TB_OK;
}

static int dec_manifest_list(struct dec *d, const cbor_item_t *item, struct tb_teep_msg *m)
{
	size_t n;
	int rc = dec_list(d, item, "manifest-list", &n);

	if (rc != TB_OK)
		return rc;
	m->manifest_list = calloc(n ? n : 1, sizeof(*m->manifest_list));
	if (!m->manifest_list)
		return derr(d, TB_ERR_NOMEM, "manifest-list: out of memory");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		/* a definite-length entry of tb_teep_decode_borrowed()'s input:
		 * its bytes where they are */
		if (d->src && tb_cbor_get_bytes(cbor_array_handle(item)[i], &p, &len) == TB_OK &&
		    len >= 1 && p >= d->src && p + len <= d->src + d->src_len) {
			m->manifest_list[i].ptr = (uint8_t *)p;
			m->manifest_list[i].len = len;
		} else {
			rc = dec_bstr_sized(d, cbor_array_handle(item)[i], "manifest-list entry", 1,
			                    SIZE_MAX, &m->manifest_list[i]);
			if (rc != TB_OK)
				return rc;
		}
		m->n_manifest_list = i + 1;
	}
	return TB_OK;
}

/* suit-reports of a Success or an Error, kept. */
static int dec_suit_reports(struct dec *d, const cbor_item_t *item, struct tb_teep_msg *m)
{
	size_t n;
	int rc = dec_list(d, item, "suit-reports", &n);

	if (rc != TB_OK)
		return rc;
	m->suit_reports = calloc(n ? n : 1, sizeof(*m->suit_reports));
	if (!m->suit_reports)
		return derr(d, TB_ERR_NOMEM, "suit-reports: out of memory");
	for (size_t i = 0; i < n; i++) {
		rc = dec_bstr_sized(d, cbor_array_handle(item)[i], "suit-reports entry", 1,
		                    SIZE_MAX, &m->suit_reports[i]);
		if (rc != TB_OK)
			return rc;
		m->n_suit_reports = i + 1;
	}
	return TB_OK;
}

/* The options every message may carry. */
static int dec_common(struct dec *d, const cbor_item_t *options, struct tb_teep_msg *m)
{
	cbor_item_t *v = opt(options, d, L_TOKEN);

	if (v)
		return dec_bstr_sized(d, v, "token", TB_TEEP_TOKEN_MIN, TB_TEEP_TOKEN_MAX,
		                      &m->token);
	return TB_OK;
}

/* A non-empty array whose entries all satisfy ok(); not kept. */
static int check_array_of(struct dec *d, const cbor_item_t *v, const char *name,
                          bool (*ok)(const cbor_item_t *), const char *what)
{
	size_t n;
	int rc = dec_list(d, v, name, &n);

	if (rc != TB_OK)
		return rc;
	if (n == 0)
		return derr(d, TB_ERR_PARSE, "%s: empty array", name);
	for (size_t i = 0; i < n; i++)
		if (!ok(cbor_array_handle(v)[i]))
			return derr(d, TB_ERR_PARSE, "%s[%zu]: expected %s", name, i, what);
	return TB_OK;
}

static bool is_uint(const cbor_item_t *v)
{
	return cbor_isa_uint(v);
}

static bool is_bstr(const cbor_item_t *v)
{
	return cbor_isa_bytestring(v) && cbor_bytestring_is_definite(v);
}

/* versions: a non-empty array of uints, kept as a bit mask. */
static int dec_versions(struct dec *d, const cbor_item_t *options, struct tb_teep_msg *m)
{
	cbor_item_t *v = opt(options, d, L_VERSIONS);
	int rc;

	if (!v)
		return TB_OK;
	rc = check_array_of(d, v, "versions", is_uint, "a uint");
	m->has_versions = 1;
	for (size_t i = 0; rc == TB_OK && i < cbor_array_size(v); i++) {
		uint64_t ver;

		if (tb_cbor_get_uint(cbor_array_handle(v)[i], &ver) == TB_OK && ver < 64)
			m->versions_mask |= (uint64_t)1 << ver;
	}
	return rc;
}

/*
 * The options a QueryRequest may carry that we do not keep are checked
 * further (non-empty lists) than check_registry_labels() does.
 */
static int dec_query_request(struct dec *d, cbor_item_t **e, struct tb_teep_msg *m)
{
	cbor_item_t *v = opt(e[1], d, L_CHALLENGE);
	int rc = TB_OK;

	if (v)
		rc = dec_bstr_sized(d, v, "challenge", CHALLENGE_MIN, CHALLENGE_MAX, &m->challenge);
	if (rc == TB_OK)
		rc = dec_versions(d, e[1], m);
	if (rc == TB_OK && (v = opt(e[1], d, L_FRESHNESS_MECHANISMS)))
		rc = check_array_of(d, v, "supported-freshness-mechanisms", is_uint, "a uint");
	if (rc == TB_OK && (v = opt(e[1], d, L_SUIT_REPORTS)))
		rc = check_array_of(d, v, "suit-reports", is_bstr, "a byte string");
	if (rc == TB_OK)
		rc = dec_raw_array(d, e[2], "supported-teep-cipher-suites", &m->cipher_suites_cbor);
	if (rc == TB_OK)
		rc = dec_raw_array(d, e[3], "supported-suit-cose-profiles",
		                   &m->suit_cose_profiles_cbor);
	if (rc == TB_OK)
		rc = dec_uint(d, e[4], "data-item-requested", &m->data_item_requested);
	return rc;
}

static int dec_query_response(struct dec *d, cbor_item_t **e, struct tb_teep_msg *m)
{
	cbor_item_t *v;
	int rc = TB_OK;

	if ((v = opt(e[1], d, L_TC_LIST)))
		rc = dec_id_list(d, v, "tc-list", CLAIM_SYSTEM_COMPONENT_ID, &m->tc_list,
		                 &m->n_tc_list);
	if (rc == TB_OK && (v = opt(e[1], d, L_REQUESTED_TC_LIST)))
		rc = dec_id_list(d, v, "requested-tc-list", wire_label(d->num, L_COMPONENT_ID),
		                 &m->requested_tc_list, &m->n_requested_tc_list);
	if (rc == TB_OK && (v = opt(e[1], d, L_UNNEEDED_MANIFEST_LIST)))
		rc = dec_id_list(d, v, "unneeded-manifest-list", -1, &m->unneeded_manifest_list,
		                 &m->n_unneeded_manifest_list);
	if (rc == TB_OK)
		rc = dec_attestation(d, e[1], m);
	return rc;
}

static int dec_update(struct dec *d, cbor_item_t **e, struct tb_teep_msg *m)
{
	cbor_item_t *v;
	int rc = TB_OK;

	if ((v = opt(e[1], d, L_MANIFEST_LIST)))
		rc = dec_manifest_list(d, v, m);
	if (rc == TB_OK && (v = opt(e[1], d, L_UNNEEDED_MANIFEST_LIST)))
		rc = dec_id_list(d, v, "unneeded-manifest-list", -1, &m->unneeded_manifest_list,
		                 &m->n_unneeded_manifest_list);
	if (rc == TB_OK && (v = opt(e[1], d, L_ERR_CODE))) {
		rc = dec_uint(d, v, "err-code", &m->err_code);
		m->err_code = err_code_swap(d->num, m->err_code);
	}
	if (rc == TB_OK && (v = opt(e[1], d, L_ERR_MSG)))
		rc = dec_text(d, v, "err-msg", &m->err_msg);
	if (rc == TB_OK)
		rc = dec_attestation(d, e[1], m);
	return rc;
}

static int dec_success(struct dec *d, cbor_item_t **e, struct tb_teep_msg *m)
{
	cbor_item_t *v = opt(e[1], d, L_MSG);
	int rc = v ? dec_text(d, v, "msg", &m->msg) : TB_OK;

	if (rc == TB_OK && (v = opt(e[1], d, L_SUIT_REPORTS)))
		rc = dec_suit_reports(d, v, m);
	return rc;
}

static int dec_error(struct dec *d, cbor_item_t **e, struct tb_teep_msg *m)
{
	cbor_item_t *v;
	int rc = dec_uint(d, e[2], "err-code", &m->err_code);

	if (rc == TB_OK && m->err_code == 0)
		rc = derr(d, TB_ERR_PARSE, "err-code: 0 is reserved");
	m->err_code = err_code_swap(d->num, m->err_code);
	if (rc == TB_OK && (v = opt(e[1], d, L_ERR_MSG)))
		rc = dec_text(d, v, "err-msg", &m->err_msg);
	if (rc == TB_OK && (v = opt(e[1], d, L_SUIT_REPORTS)))
		rc = dec_suit_reports(d, v, m);
	if (rc == TB_OK && (v = opt(e[1], d, L_CHALLENGE)))
		rc = dec_bstr_sized(d, v, "challenge", CHALLENGE_MIN, CHALLENGE_MAX, &m->challenge);
	if (rc == TB_OK && (v = opt(e[1], d, L_CIPHER_SUITES)))
		rc = dec_raw_array(d, v, "supported-teep-cipher-suites", &m->cipher_suites_cbor);
	if (rc == TB_OK && (v = opt(e[1], d, L_SUIT_COSE_PROFILES)))
		rc = dec_raw_array(d, v, "supported-suit-cose-profiles",
		                   &m->suit_cose_profiles_cbor);
	if (rc == TB_OK)
		rc = dec_versions(d, e[1], m);
	return rc;
}

/* What each registry label holds (the CDDL, the same in both numberings). */
enum label_kind {
	K_ARRAY,      /* array, entries not looked at here */
	K_UINT_ARRAY, /* array of uint */
	K_BSTR_ARRAY, /* array of bstr */
	K_MAP_ARRAY,  /* array of maps */
	K_ID_ARRAY,   /* array of component ids */
	K_ID,         /* a component id: array of bstr */
	K_BSTR,
	K_TEXT,
	K_UINT,
	K_BOOL
};

static const struct {
	const char *name;
	enum label_kind kind;
} label_def[L_COUNT] = {
    [L_CIPHER_SUITES] = {"supported-teep-cipher-suites", K_ARRAY},
    [L_CHALLENGE] = {"challenge", K_BSTR},
    [L_VERSIONS] = {"versions", K_UINT_ARRAY},
    [L_SUIT_COSE_PROFILES] = {"supported-suit-cose-profiles", K_ARRAY},
    [L_SELECTED_VERSION] = {"selected-version", K_UINT},
    [L_ATTESTATION_PAYLOAD] = {"attestation-payload", K_BSTR},
    [L_TC_LIST] = {"tc-list", K_MAP_ARRAY},
    [L_EXT_LIST] = {"ext-list", K_UINT_ARRAY},
    [L_MANIFEST_LIST] = {"manifest-list", K_BSTR_ARRAY},
    [L_MSG] = {"msg", K_TEXT},
    [L_ERR_MSG] = {"err-msg", K_TEXT},
    [L_ATTESTATION_PAYLOAD_FORMAT] = {"attestation-payload-format", K_TEXT},
    [L_REQUESTED_TC_LIST] = {"requested-tc-list", K_MAP_ARRAY},
    [L_UNNEEDED_MANIFEST_LIST] = {"unneeded-manifest-list", K_ID_ARRAY},
    [L_COMPONENT_ID] = {"component-id", K_ID},
    [L_TC_MANIFEST_SEQUENCE_NUMBER] = {"tc-manifest-sequence-number", K_UINT},
    [L_HAVE_BINARY] = {"have-binary", K_BOOL},
    [L_SUIT_REPORTS] = {"suit-reports", K_BSTR_ARRAY},
    [L_TOKEN] = {"token", K_BSTR},
    [L_FRESHNESS_MECHANISMS] = {"supported-freshness-mechanisms", K_UINT_ARRAY},
    [L_ERR_LANG] = {"err-lang", K_TEXT},
    [L_ERR_CODE] = {"err-code", K_UINT},
};

static bool is_map(const cbor_item_t *v)
{
	return cbor_isa_map(v);
}

static bool is_id(const cbor_item_t *v)
{
	if (!cbor_isa_array(v))
		return false;
	for (size_t i = 0; i < cbor_array_size(v); i++)
		if (!is_bstr(cbor_array_handle(v)[i]))
			return false;
	return true;
}

static int check_label(struct dec *d, enum label l, const cbor_item_t *v)
{
	const char *name = label_def[l].name;
	bool (*entry_ok)(const cbor_item_t *) = NULL;
	const char *entry_what = NULL;
	size_t n;
	int rc;

	switch (label_def[l].kind) {
	case K_BSTR:
		return is_bstr(v) ? TB_OK
		                  : derr(d, TB_ERR_PARSE, "%s: expected a byte string", name);
	case K_TEXT:
		return cbor_isa_string(v) && cbor_string_is_definite(v)
		           ? TB_OK
		           : derr(d, TB_ERR_PARSE, "%s: expected a text string", name);
	case K_UINT:
		return is_uint(v) ? TB_OK
		                  : derr(d, TB_ERR_PARSE, "%s: expected an unsigned integer", name);
	case K_BOOL: {
		/* tb_cbor_get_bool: libcbor 0.8's cbor_is_bool() asserts on a float */
		int b;
		return tb_cbor_get_bool(v, &b) == TB_OK
		           ? TB_OK
		           : derr(d, TB_ERR_PARSE, "%s: expected a boolean", name);
	}
	case K_ID:
		return is_id(v)
		           ? TB_OK
		           : derr(d, TB_ERR_PARSE,
		                  "%s: expected a component id (an array of byte strings)", name);
	case K_ARRAY:
		break;
	case K_UINT_ARRAY:
		entry_ok = is_uint;
		entry_what = "a uint";
		break;
	case K_BSTR_ARRAY:
		entry_ok = is_bstr;
		entry_what = "a byte string";
		break;
	case K_MAP_ARRAY:
		entry_ok = is_map;
		entry_what = "a map";
		break;
	case K_ID_ARRAY:
		entry_ok = is_id;
		entry_what = "a component id (an array of byte strings)";
		break;
	}
	rc = dec_list(d, v, name, &n);
	for (size_t i = 0; rc == TB_OK && entry_ok && i < n; i++)
		if (!entry_ok(cbor_array_handle(v)[i]))
			rc = derr(d, TB_ERR_PARSE, "%s[%zu]: expected %s", name, i, entry_what);
	return rc;
}

/*
 * Every option whose label the registry defines is type-checked, whichever
 * message it sits in and whether or not the message uses it. A peer in the
 * other registry numbering then fails loudly instead of quietly, token or
 * not: most labels moved by one, and the value under a label of the other
 * numbering has the type of another field (pre-26 manifest-list, label 10,
 * is an array of byte strings where draft-26 defines the text `msg`; the
 * draft-26 tc-list, label 7, is an array where pre-26 defines the byte
 * string attestation-payload). Unknown labels are ignored, as the draft
 * says.
 */
static int check_registry_labels(struct dec *d, const cbor_item_t *options)
{
	struct cbor_pair *pairs = cbor_map_handle(options);
	size_t n = cbor_map_size(options);

	for (size_t i = 0; i < n; i++) {
		uint64_t key;

		if (!cbor_isa_uint(pairs[i].key) || tb_cbor_get_uint(pairs[i].key, &key) != TB_OK)
			continue;
		for (int l = 0; l < L_COUNT; l++) {
			if ((uint64_t)wire_label(d->num, (enum label)l) != key)
				continue;
			int rc = check_label(d, (enum label)l, pairs[i].value);
			if (rc != TB_OK)
				return rc;
			break;
		}
	}
	return TB_OK;
}

static size_t expected_elements(enum tb_teep_type t)
{
	switch (t) {
	case TB_TEEP_QUERY_REQUEST:
		return 5;
	case TB_TEEP_ERROR:
		return 3;
	default:
		return 2;
	}
}

static int dec_message(struct dec *d, const cbor_item_t *top, struct tb_teep_msg *m)
{
	cbor_item_t **e;
	uint64_t wire;
	size_t n;
	int rc;

	if (!cbor_isa_array(top) || cbor_array_size(top) < 2)
		return derr(d, TB_ERR_PARSE, "message: expected an array [type, options, ...]");
	e = cbor_array_handle(top);
	n = cbor_array_size(top);
	if (tb_cbor_get_uint(e[0], &wire) != TB_OK)
		return derr(d, TB_ERR_PARSE, "type: expected an unsigned integer");
	m->type = tb_teep_type_from_wire(d->num, wire);
	if (m->type == TB_TEEP_NONE)
		return derr(d, TB_ERR_PARSE, "type: %llu is no message type in the %s numbering",
		            (unsigned long long)wire,
		            d->num == TB_NUM_PRE26 ? "pre-26" : "draft-26");
	if (n != expected_elements(m->type))
		return derr(d, TB_ERR_PARSE, "message: %s has %zu elements, expected %zu",
		            tb_teep_type_name(m->type), n, expected_elements(m->type));
	if (!cbor_isa_map(e[1]))
		return derr(d, TB_ERR_PARSE, "options: expected a map");
	rc = check_registry_labels(d, e[1]);
	if (rc == TB_OK)
		rc = dec_common(d, e[1], m);
	if (rc != TB_OK)
		return rc;
	switch (m->type) {
	case TB_TEEP_QUERY_REQUEST:
		return dec_query_request(d, e, m);
	case TB_TEEP_QUERY_RESPONSE:
		return dec_query_response(d, e, m);
	case TB_TEEP_UPDATE:
		return dec_update(d, e, m);
	case TB_TEEP_SUCCESS:
		return dec_success(d, e, m);
	default:
		return dec_error(d, e, m);
	}
}

static int decode(const uint8_t *buf, size_t len, enum tb_numbering num, struct tb_teep_msg *m,
                  char *err, size_t errlen, int borrow)
{
	struct dec d = {nv(num), err, errlen, borrow ? buf : NULL, borrow ? len : 0};
	const char *why = NULL;
	cbor_item_t *top;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!m)
		return TB_ERR_INVAL;
	memset(m, 0, sizeof(*m));
	if (!buf)
		return derr(&d, TB_ERR_INVAL, "message: no input");
	rc = tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, &why);
	if (rc != TB_OK)
		return derr(&d, rc, "message: not well-formed CBOR (%s)", why ? why : "?");
	/* the byte strings stay in buf while they are decoded: a large
	 * manifest is copied once (or not at all, borrowed) */
	if (tb_cbor_decode_borrowed(buf, len, &top, &why) != TB_OK)
		return derr(&d, TB_ERR_PARSE, "message: %s", why ? why : "cannot decode");
	if (borrow) {
		m->borrowed = buf;
		m->borrowed_len = len;
	}
	rc = dec_message(&d, top, m);
	tb_cbor_borrowed_free(&top, buf, len);
	if (rc != TB_OK)
		tb_teep_msg_clear(m);
	return rc;
}

int tb_teep_decode(const uint8_t *buf, size_t len, enum tb_numbering num, struct tb_teep_msg *m,
                   char *err, size_t errlen)
{
	return decode(buf, len, num, m, err, errlen, 0);
}

int tb_teep_decode_borrowed(const uint8_t *buf, size_t len, enum tb_numbering num,
                            struct tb_teep_msg *m, char *err, size_t errlen)
{
	return decode(buf, len, num, m, err, errlen, 1);
}

void tb_teep_msg_clear(struct tb_teep_msg *m)
{
	if (!m)
		return;
	buf_free(&m->token);
	buf_free(&m->challenge);
	buf_free(&m->cipher_suites_cbor);
	buf_free(&m->suit_cose_profiles_cbor);
	ids_free(m->tc_list, m->n_tc_list);
	ids_free(m->requested_tc_list, m->n_requested_tc_list);
	ids_free(m->unneeded_manifest_list, m->n_unneeded_manifest_list);
	for (size_t i = 0; m->manifest_list && i < m->n_manifest_list; i++)
		if (!m->borrowed || m->manifest_list[i].ptr < m->borrowed ||
		    m->manifest_list[i].ptr >= m->borrowed + m->borrowed_len)
			buf_free(&m->manifest_list[i]);
	free(m->manifest_list);
	for (size_t i = 0; m->suit_reports && i < m->n_suit_reports; i++)
		buf_free(&m->suit_reports[i]);
	free(m->suit_reports);
	free(m->msg);
	free(m->err_msg);
	buf_free(&m->attestation_payload);
	free(m->attestation_payload_format);
	memset(m, 0, sizeof(*m));
}

/* ---- encoding ---- */

/* Defaults for element 3 and 4 of a QueryRequest. */
static const uint8_t suites_draft26[] = {0x82, 0x81, 0x82, 0x12, 0x28, 0x81, 0x82, 0x12, 0x32};
static const uint8_t suites_pre26[] = {0x82, 0x81, 0x82, 0x12, 0x26, 0x81, 0x82, 0x12, 0x27};
static const uint8_t suit_profiles[] = {0x81, 0x84, 0x2f, 0x28, 0x38, 0x1c, 0x39, 0xff, 0xfd};

struct enc {
	enum tb_numbering num;
	cbor_item_t *options;
	int rc;
};

/* Add one option; a failure is remembered and later calls do nothing, so
 * the builders read as a list of fields. */
static void put(struct enc *e, enum label l, cbor_item_t *v)
{
	if (e->rc != TB_OK) {
		if (v)
			cbor_decref(&v);
		return;
	}
	if (!v) {
		e->rc = TB_ERR_NOMEM;
		return;
	}
	e->rc = tb_cbor_map_put(e->options, tb_cbor_int(wire_label(e->num, l)), v);
}

static cbor_item_t *raw_item(const struct tb_buf *b, const uint8_t *dflt, size_t dflt_len)
{
	if (b->len)
		return tb_cbor_load(b->ptr, b->len, NULL);
	return tb_cbor_load(dflt, dflt_len, NULL);
}

static cbor_item_t *enc_component_id(const struct tb_component_id *c)
{
	cbor_item_t *arr;

	if (c->n < 1 || c->n > TB_TEEP_MAX_SEGMENTS)
		return NULL;
	arr = cbor_new_definite_array(c->n);
	for (size_t i = 0; arr && i < c->n; i++)
		if (tb_cbor_array_push(arr, tb_cbor_bytes(c->seg[i].ptr, c->seg[i].len)) != TB_OK)
			cbor_decref(&arr);
	return arr;
}

/* key < 0: the ids themselves; else maps {key: id}. */
static cbor_item_t *enc_id_list(const struct tb_component_id *ids, size_t n, int64_t key)
{
	cbor_item_t *arr = n <= TB_TEEP_MAX_LIST ? cbor_new_definite_array(n) : NULL;

	for (size_t i = 0; arr && i < n; i++) {
		cbor_item_t *e = enc_component_id(&ids[i]);

		if (e && key >= 0) {
			cbor_item_t *map = cbor_new_definite_map(1);
			if (map && tb_cbor_map_put(map, tb_cbor_int(key), e) != TB_OK)
				cbor_decref(&map);
			else if (!map)
				cbor_decref(&e);
			e = map;
		}
		if (tb_cbor_array_push(arr, e) != TB_OK)
			cbor_decref(&arr);
	}
	return arr;
}

static cbor_item_t *enc_manifest_list(const struct tb_teep_msg *m)
{
	cbor_item_t *arr = cbor_new_definite_array(m->n_manifest_list);

	for (size_t i = 0; arr && i < m->n_manifest_list; i++)
		if (tb_cbor_array_push(arr, tb_cbor_bytes(m->manifest_list[i].ptr,
		                                          m->manifest_list[i].len)) != TB_OK)
			cbor_decref(&arr);
	return arr;
}

static cbor_item_t *enc_suit_reports(const struct tb_teep_msg *m)
{
	cbor_item_t *arr = cbor_new_definite_array(m->n_suit_reports);

	for (size_t i = 0; arr && i < m->n_suit_reports; i++)
		if (tb_cbor_array_push(arr, tb_cbor_bytes(m->suit_reports[i].ptr,
		                                          m->suit_reports[i].len)) != TB_OK)
			cbor_decref(&arr);
	return arr;
}

static cbor_item_t *enc_versions(void)
{
	cbor_item_t *arr = cbor_new_definite_array(1);

	if (arr && tb_cbor_array_push(arr, tb_cbor_int(TEEP_VERSION)) != TB_OK)
		cbor_decref(&arr);
	return arr;
}

static cbor_item_t *text_item(const char *s)
{
	return tb_cbor_text(s, strlen(s));
}

static int text_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return !s || (n >= 1 && n <= TB_TEEP_MSG_MAX);
}

static int enc_check(const struct tb_teep_msg *m)
{
	if (m->token.len && (m->token.len < TB_TEEP_TOKEN_MIN || m->token.len > TB_TEEP_TOKEN_MAX))
		return TB_ERR_INVAL;
	if (m->challenge.len &&
	    (m->challenge.len < CHALLENGE_MIN || m->challenge.len > CHALLENGE_MAX))
		return TB_ERR_INVAL;
	if (m->n_suit_reports > TB_TEEP_MAX_LIST)
		return TB_ERR_INVAL;
	if (!text_ok(m->msg) || !text_ok(m->err_msg))
		return TB_ERR_INVAL;
	if (m->attestation_payload_format &&
	    (!m->attestation_payload_format[0] ||
	     strlen(m->attestation_payload_format) > TB_TEEP_FORMAT_MAX))
		return TB_ERR_INVAL;
	if (m->type == TB_TEEP_ERROR && m->err_code == 0)
		return TB_ERR_INVAL;
	return TB_OK;
}

static void enc_attestation(struct enc *e, const struct tb_teep_msg *m)
{
	if (m->attestation_payload_format)
		put(e, L_ATTESTATION_PAYLOAD_FORMAT, text_item(m->attestation_payload_format));
	if (m->attestation_payload.len)
		put(e, L_ATTESTATION_PAYLOAD,
		    tb_cbor_bytes(m->attestation_payload.ptr, m->attestation_payload.len));
}

/*
 * Options in the order the draft's examples use (token first), so that an
 * encoded example matches the published bytes.
 */
static void enc_options(struct enc *e, const struct tb_teep_msg *m)
{
	if (m->token.len)
		put(e, L_TOKEN, tb_cbor_bytes(m->token.ptr, m->token.len));
	switch (m->type) {
	case TB_TEEP_QUERY_REQUEST:
		put(e, L_VERSIONS, enc_versions());
		if (m->challenge.len)
			put(e, L_CHALLENGE, tb_cbor_bytes(m->challenge.ptr, m->challenge.len));
		break;
	case TB_TEEP_QUERY_RESPONSE:
		if (m->n_tc_list)
			put(e, L_TC_LIST,
			    enc_id_list(m->tc_list, m->n_tc_list, CLAIM_SYSTEM_COMPONENT_ID));
		if (m->n_requested_tc_list)
			put(e, L_REQUESTED_TC_LIST,
			    enc_id_list(m->requested_tc_list, m->n_requested_tc_list,
			                wire_label(e->num, L_COMPONENT_ID)));
		if (m->n_unneeded_manifest_list)
			put(e, L_UNNEEDED_MANIFEST_LIST,
			    enc_id_list(m->unneeded_manifest_list, m->n_unneeded_manifest_list,
			                -1));
		enc_attestation(e, m);
		break;
	case TB_TEEP_UPDATE:
		if (m->n_manifest_list)
			put(e, L_MANIFEST_LIST, enc_manifest_list(m));
		if (m->n_unneeded_manifest_list)
			put(e, L_UNNEEDED_MANIFEST_LIST,
			    enc_id_list(m->unneeded_manifest_list, m->n_unneeded_manifest_list,
			                -1));
		if (m->err_code)
			put(e, L_ERR_CODE,
			    tb_cbor_int((int64_t)err_code_swap(e->num, m->err_code)));
		if (m->err_msg)
			put(e, L_ERR_MSG, text_item(m->err_msg));
		enc_attestation(e, m);
		break;
	case TB_TEEP_SUCCESS:
		if (m->msg)
			put(e, L_MSG, text_item(m->msg));
		if (m->n_suit_reports)
			put(e, L_SUIT_REPORTS, enc_suit_reports(m));
		break;
	default: /* Error */
		if (m->err_msg)
			put(e, L_ERR_MSG, text_item(m->err_msg));
		if (m->n_suit_reports)
			put(e, L_SUIT_REPORTS, enc_suit_reports(m));
		if (m->cipher_suites_cbor.len)
			put(e, L_CIPHER_SUITES, raw_item(&m->cipher_suites_cbor, NULL, 0));
		if (m->suit_cose_profiles_cbor.len)
			put(e, L_SUIT_COSE_PROFILES,
			    raw_item(&m->suit_cose_profiles_cbor, NULL, 0));
		if (m->challenge.len)
			put(e, L_CHALLENGE, tb_cbor_bytes(m->challenge.ptr, m->challenge.len));
		if (m->has_versions)
			put(e, L_VERSIONS, enc_versions());
		break;
	}
}

static int enc_positional(cbor_item_t *top, const struct tb_teep_msg *m, enum tb_numbering num)
{
	int rc = TB_OK;

	if (m->type == TB_TEEP_QUERY_REQUEST) {
		int pre = num == TB_NUM_PRE26;
		rc = tb_cbor_array_push(
		    top, raw_item(&m->cipher_suites_cbor, pre ? suites_pre26 : suites_draft26,
		                  pre ? sizeof(suites_pre26) : sizeof(suites_draft26)));
		if (rc == TB_OK)
			rc =
			    tb_cbor_array_push(top, raw_item(&m->suit_cose_profiles_cbor,
			                                     suit_profiles, sizeof(suit_profiles)));
		if (rc == TB_OK)
			rc = tb_cbor_array_push(top, tb_cbor_int((int64_t)m->data_item_requested));
	} else if (m->type == TB_TEEP_ERROR) {
		rc = tb_cbor_array_push(top, tb_cbor_int((int64_t)err_code_swap(num, m->err_code)));
	}
	return rc;
}

int tb_teep_encode(const struct tb_teep_msg *m, enum tb_numbering num, uint8_t **out,
                   size_t *out_len)
{
	struct enc e = {.num = nv(num)};
	int wire = m ? tb_teep_type_to_wire(e.num, m->type) : 0;
	cbor_item_t *top;
	int rc;

	if (!m || !out || !out_len || wire == 0)
		return TB_ERR_INVAL;
	if (enc_check(m) != TB_OK)
		return TB_ERR_INVAL;
	if (m->data_item_requested > INT64_MAX || m->err_code > INT64_MAX)
		return TB_ERR_INVAL;
	top = cbor_new_definite_array(expected_elements(m->type));
	e.options = cbor_new_definite_map(8);
	if (!top || !e.options) {
		if (top)
			cbor_decref(&top);
		if (e.options)
			cbor_decref(&e.options);
		return TB_ERR_NOMEM;
	}
	enc_options(&e, m);
	rc = tb_cbor_array_push(top, tb_cbor_int(wire));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(top, cbor_incref(e.options));
	cbor_decref(&e.options);
	if (rc == TB_OK)
		rc = e.rc;
	if (rc == TB_OK)
		rc = enc_positional(top, m, e.num);
	if (rc == TB_OK)
		rc = tb_cbor_serialize(top, out, out_len);
	cbor_decref(&top);
	return rc;
}

enum tb_teep_type tb_teep_peek_payload_type(const uint8_t *buf, size_t len, enum tb_numbering num)
{
	struct tb_cbor_cur c = tb_cbor_cur_init(buf, len);
	struct tb_cbor_head h;
	enum tb_teep_type t;
	uint64_t wire;

	if (!buf || tb_cbor_read_head(&c, &h) != TB_OK || h.major != 4 ||
	    (!h.indefinite && h.arg < 2) || tb_cbor_read_uint(&c, &wire) != TB_OK)
		return TB_TEEP_NONE;
	t = tb_teep_type_from_wire(num, wire);
	/* a type of the other numbering has another shape */
	if (t == TB_TEEP_NONE || (!h.indefinite && h.arg != expected_elements(t)))
		return TB_TEEP_NONE;
	return t;
}

enum tb_teep_type tb_teep_peek_type(const uint8_t *cose, size_t len, enum tb_numbering num)
{
	const uint8_t *payload;
	size_t plen;

	/* A streaming walk to the payload, then its first items: no copy, no
	 * tree, whatever the message holds after the type. */
	if (tb_cose_payload_span(cose, len, &payload, &plen) != TB_OK)
		return TB_TEEP_NONE;
	return tb_teep_peek_payload_type(payload, plen, num);
}
