/* Bounded CBOR decoding and small helpers on top of libcbor. */
#include "tb_cbor.h"

#include <teep-broker/driver.h>

#include <stdlib.h>
#include <string.h>

/*
 * The walker recurses once per nesting level. Callers choose max_depth, but
 * a stack frame per input byte would let a hostile input exhaust the stack,
 * so the recursion never goes deeper than this whatever they ask for.
 */
#define CBOR_HARD_DEPTH 256

struct walker {
	const uint8_t *p;
	const uint8_t *end;
	unsigned max_depth;
	const char *why;
	size_t short_tags; /* heads of tags 6..20 seen (see below) */
	uint8_t *out;      /* when set, a copy of the input is written here */
	size_t outpos;
	size_t items;     /* items walked */
	size_t max_items; /* 0: no bound but the input's length */
};

/*
 * libcbor 0.8 rejects the one-byte heads of tags 6..20 (0xc6..0xd4) as
 * malformed although they are well-formed, and tag 18 is COSE_Sign1. The
 * walker counts them, and tb_cbor_load() hands libcbor a copy in which each
 * is re-encoded in the equivalent two-byte form (0xd8 0x06..0x14).
 */
static int is_short_tag(unsigned major, unsigned ai)
{
	return major == 6 && ai >= 6 && ai <= 20;
}

static void emit(struct walker *w, const uint8_t *p, size_t n)
{
	if (!w->out || n == 0)
		return;
	memcpy(w->out + w->outpos, p, n);
	w->outpos += n;
}

/* What the head of the next item says. */
struct head {
	unsigned major;
	unsigned ai;
	uint64_t arg; /* value, length or count; unused when indefinite */
	int indefinite;
};

static int fail(struct walker *w, int rc, const char *why)
{
	if (!w->why)
		w->why = why;
	return rc;
}

static size_t remaining(const struct walker *w)
{
	return (size_t)(w->end - w->p);
}

static int read_head(struct walker *w, struct head *h)
{
	const uint8_t *start = w->p;
	size_t extra;

	if (w->p >= w->end)
		return fail(w, TB_ERR_PARSE, "truncated: item expected");
	h->major = *w->p >> 5;
	h->ai = *w->p & 0x1f;
	h->arg = h->ai;
	h->indefinite = 0;
	w->p++;
	if (is_short_tag(h->major, h->ai)) {
		const uint8_t twobyte[2] = {0xd8, (uint8_t)h->ai};
		w->short_tags++;
		emit(w, twobyte, sizeof(twobyte));
		return TB_OK;
	}
	if (h->ai < 24) {
		emit(w, start, 1);
		return TB_OK;
	}
	if (h->ai >= 28 && h->ai <= 30)
		return fail(w, TB_ERR_PARSE, "reserved additional information 28..30");
	if (h->ai == 31) {
		h->indefinite = 1;
		emit(w, start, 1);
		return TB_OK;
	}
	extra = (size_t)1 << (h->ai - 24);
	if (remaining(w) < extra)
		return fail(w, TB_ERR_PARSE, "truncated: argument bytes missing");
	h->arg = 0;
	for (size_t i = 0; i < extra; i++)
		h->arg = h->arg << 8 | *w->p++;
	emit(w, start, 1 + extra);
	return TB_OK;
}

static int is_break(const struct walker *w)
{
	return w->p < w->end && *w->p == 0xff;
}

static void skip_break(struct walker *w)
{
	emit(w, w->p, 1);
	w->p++;
}

static int walk_item(struct walker *w, unsigned depth);

static int walk_string(struct walker *w, const struct head *h)
{
	if (!h->indefinite) {
		if (h->arg > remaining(w))
			return fail(w, TB_ERR_PARSE, "string length exceeds the input");
		emit(w, w->p, h->arg);
		w->p += h->arg;
		return TB_OK;
	}
	for (;;) {
		struct head c;
		int rc;

		if (w->p >= w->end)
			return fail(w, TB_ERR_PARSE, "truncated: indefinite string lacks a break");
		if (is_break(w)) {
			skip_break(w);
			return TB_OK;
		}
		rc = read_head(w, &c);
		if (rc)
			return rc;
		if (c.major != h->major)
			return fail(w, TB_ERR_PARSE,
			            "indefinite string chunk of another major type");
		if (c.indefinite)
			return fail(w, TB_ERR_PARSE,
			            "indefinite string chunk is itself indefinite");
		rc = walk_string(w, &c);
		if (rc)
			return rc;
	}
}

static int walk_container(struct walker *w, const struct head *h, unsigned depth)
{
	unsigned per_entry = h->major == 5 ? 2 : 1;
	uint64_t n = 0;
	int rc;

	if (depth >= w->max_depth)
		return fail(w, TB_ERR_TOOBIG, "nesting too deep");
	if (h->indefinite) {
		for (;;) {
			if (w->p >= w->end)
				return fail(w, TB_ERR_PARSE,
				            "truncated: indefinite container lacks a break");
			if (is_break(w))
				break;
			rc = walk_item(w, depth + 1);
			if (rc)
				return rc;
			n++;
		}
		skip_break(w);
		if (per_entry == 2 && n % 2)
			return fail(w, TB_ERR_PARSE, "indefinite map has a key without a value");
		return TB_OK;
	}
	/* Every item takes at least one byte: a count that does not fit in
	 * what remains is a lie, and libcbor would allocate for it. */
	if (h->arg > remaining(w) / per_entry)
		return fail(w, TB_ERR_PARSE, "declared count exceeds the input");
	for (n = 0; n < h->arg * per_entry; n++) {
		rc = walk_item(w, depth + 1);
		if (rc)
			return rc;
	}
	return TB_OK;
}

static int walk_simple(struct walker *w, const struct head *h)
{
	if (h->indefinite)
		return fail(w, TB_ERR_PARSE, "unexpected break");
	/* RFC 8949 3.3: a two-byte simple value below 32 is not well-formed. */
	if (h->ai == 24 && h->arg < 32)
		return fail(w, TB_ERR_PARSE, "simple value below 32 in two-byte form");
	return TB_OK;
}

static int walk_item(struct walker *w, unsigned depth)
{
	struct head h;
	int rc;

	if (w->max_items && w->items >= w->max_items)
		return fail(w, TB_ERR_TOOBIG, "too many items");
	w->items++;
	rc = read_head(w, &h);
	if (rc)
		return rc;
	switch (h.major) {
	case 0:
	case 1:
		if (h.indefinite)
			return fail(w, TB_ERR_PARSE, "integer with indefinite length");
		return TB_OK;
	case 2:
	case 3:
		return walk_string(w, &h);
	case 4:
	case 5:
		return walk_container(w, &h, depth);
	case 6:
		if (h.indefinite)
			return fail(w, TB_ERR_PARSE, "tag with indefinite length");
		if (depth >= w->max_depth)
			return fail(w, TB_ERR_TOOBIG, "nesting too deep");
		return walk_item(w, depth + 1);
	default:
		return walk_simple(w, &h);
	}
}

static int walk_top(struct walker *w, const uint8_t *buf, size_t len, unsigned max_depth)
{
	int rc;

	w->p = buf;
	w->end = buf + len;
	w->max_depth = max_depth > CBOR_HARD_DEPTH ? CBOR_HARD_DEPTH : max_depth;
	w->why = NULL;
	w->short_tags = 0;
	w->outpos = 0;
	w->items = 0;
	if (!buf)
		return fail(w, TB_ERR_PARSE, "no input");
	rc = walk_item(w, 0);
	if (rc == TB_OK && w->p != w->end)
		rc = fail(w, TB_ERR_PARSE, "trailing bytes after the item");
	return rc;
}

int tb_cbor_check(const uint8_t *buf, size_t len, unsigned max_depth, const char **why)
{
	struct walker w = {.out = NULL};
	int rc = walk_top(&w, buf, len, max_depth);

	if (why)
		*why = w.why;
	return rc;
}

/* ---- streaming reads (tb_cbor_cur) ------------------------------------ */

int tb_cbor_read_head(struct tb_cbor_cur *c, struct tb_cbor_head *h)
{
	struct walker w = {.p = c->p, .end = c->end};
	struct head hd;
	int rc;

	if (!c->p || c->p >= c->end) {
		c->why = "truncated: item expected";
		return TB_ERR_PARSE;
	}
	rc = read_head(&w, &hd);
	if (rc) {
		c->why = w.why;
		return rc;
	}
	if (hd.major == 7 && hd.indefinite) {
		c->why = "unexpected break";
		return TB_ERR_PARSE;
	}
	if (hd.indefinite && (hd.major < 2 || hd.major == 6)) {
		c->why = "integer or tag with indefinite length";
		return TB_ERR_PARSE;
	}
	if (hd.major == 7 && hd.ai == 24 && hd.arg < 32) {
		c->why = "simple value below 32 in two-byte form";
		return TB_ERR_PARSE;
	}
	if (!hd.indefinite && (hd.major == 2 || hd.major == 3) && hd.arg > remaining(&w)) {
		c->why = "string length exceeds the input";
		return TB_ERR_PARSE;
	}
	c->p = w.p;
	h->major = hd.major;
	h->ai = hd.ai;
	h->arg = hd.arg;
	h->indefinite = hd.indefinite;
	return TB_OK;
}

int tb_cbor_at_break(const struct tb_cbor_cur *c)
{
	return c->p && c->p < c->end && *c->p == 0xff;
}

int tb_cbor_read_string(struct tb_cbor_cur *c, unsigned major, const uint8_t **ptr, size_t *len)
{
	struct tb_cbor_cur save = *c;
	struct tb_cbor_head h;
	int rc = tb_cbor_read_head(c, &h);

	if (rc)
		return rc;
	if (h.major != major || h.indefinite) {
		*c = save;
		return TB_ERR_INVAL;
	}
	*ptr = c->p;
	*len = (size_t)h.arg;
	c->p += h.arg;
	return TB_OK;
}

int tb_cbor_read_uint(struct tb_cbor_cur *c, uint64_t *out)
{
	struct tb_cbor_cur save = *c;
	struct tb_cbor_head h;
	int rc = tb_cbor_read_head(c, &h);

	if (rc)
		return rc;
	if (h.major != 0) {
		*c = save;
		return TB_ERR_INVAL;
	}
	*out = h.arg;
	return TB_OK;
}

int tb_cbor_skip(struct tb_cbor_cur *c, unsigned max_depth, size_t max_items)
{
	struct walker w = {.p = c->p, .end = c->end, .max_items = max_items};
	int rc;

	w.max_depth = max_depth > CBOR_HARD_DEPTH ? CBOR_HARD_DEPTH : max_depth;
	if (!c->p)
		return TB_ERR_PARSE;
	rc = walk_item(&w, 0);
	c->items += w.items;
	if (rc) {
		c->why = w.why;
		return rc;
	}
	c->p = w.p;
	return TB_OK;
}

static cbor_item_t *load_checked(const uint8_t *buf, size_t len, int *rc, const char **why)
{
	struct cbor_load_result res;
	cbor_item_t *item = cbor_load(buf, len, &res);

	if (!item || res.error.code != CBOR_ERR_NONE || res.read != len) {
		*rc = res.error.code == CBOR_ERR_MEMERROR ? TB_ERR_NOMEM : TB_ERR_UNSUP;
		if (why)
			*why = *rc == TB_ERR_NOMEM
			           ? "out of memory"
			           : "libcbor refused the item (unassigned simple value or "
			             "invalid UTF-8?)";
		if (item)
			cbor_decref(&item);
		return NULL;
	}
	*rc = TB_OK;
	return item;
}

int tb_cbor_decode(const uint8_t *buf, size_t len, cbor_item_t **out, const char **why)
{
	struct walker w = {.out = NULL};
	size_t copy_len;
	int rc;

	*out = NULL;
	rc = walk_top(&w, buf, len, TB_CBOR_MAX_DEPTH);
	if (rc != TB_OK) {
		if (why)
			*why = w.why;
		return rc;
	}
	if (why)
		*why = NULL;
	if (w.short_tags == 0) {
		*out = load_checked(buf, len, &rc, why);
		return rc;
	}
	/* Each short tag head grows by one byte; short_tags <= len. */
	copy_len = len + w.short_tags;
	w.out = malloc(copy_len);
	if (!w.out) {
		if (why)
			*why = "out of memory";
		return TB_ERR_NOMEM;
	}
	walk_top(&w, buf, len, TB_CBOR_MAX_DEPTH);
	*out = load_checked(w.out, copy_len, &rc, why);
	free(w.out);
	return rc;
}

cbor_item_t *tb_cbor_load(const uint8_t *buf, size_t len, const char **why)
{
	cbor_item_t *item;

	tb_cbor_decode(buf, len, &item, why);
	return item;
}

int tb_cbor_serialize(const cbor_item_t *item, uint8_t **out, size_t *out_len)
{
	unsigned char *buf = NULL;
	size_t cap = 0, n;

	if (!item || !out || !out_len)
		return TB_ERR_INVAL;
	n = cbor_serialize_alloc(item, &buf, &cap);
	if (n == 0) {
		free(buf);
		return TB_ERR_NOMEM;
	}
	*out = buf;
	*out_len = n;
	return TB_OK;
}

static int key_matches_int(const cbor_item_t *key, int64_t want)
{
	int64_t v;

	return tb_cbor_get_int(key, &v) == TB_OK && v == want;
}

static int key_matches_str(const cbor_item_t *key, const char *want)
{
	const char *p;
	size_t n;

	return tb_cbor_get_text(key, &p, &n) == TB_OK && n == strlen(want) &&
	       memcmp(p, want, n) == 0;
}

cbor_item_t *tb_cbor_map_get_int(const cbor_item_t *map, int64_t key)
{
	struct cbor_pair *pairs;
	size_t n;

	if (!map || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (key_matches_int(pairs[i].key, key))
			return pairs[i].value;
	return NULL;
}

cbor_item_t *tb_cbor_map_get_str(const cbor_item_t *map, const char *key)
{
	struct cbor_pair *pairs;
	size_t n;

	if (!map || !key || !cbor_isa_map(map))
		return NULL;
	pairs = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (key_matches_str(pairs[i].key, key))
			return pairs[i].value;
	return NULL;
}

int tb_cbor_get_uint(const cbor_item_t *item, uint64_t *out)
{
	if (!item || !out || !cbor_isa_uint(item))
		return TB_ERR_INVAL;
	*out = cbor_get_int(item);
	return TB_OK;
}

int tb_cbor_get_int(const cbor_item_t *item, int64_t *out)
{
	uint64_t v;

	if (!item || !out)
		return TB_ERR_INVAL;
	if (cbor_isa_uint(item)) {
		v = cbor_get_int(item);
		if (v > (uint64_t)INT64_MAX)
			return TB_ERR_INVAL;
		*out = (int64_t)v;
		return TB_OK;
	}
	if (cbor_isa_negint(item)) {
		/* A negint n stands for -1 - n. */
		v = cbor_get_int(item);
		if (v > (uint64_t)INT64_MAX)
			return TB_ERR_INVAL;
		*out = -1 - (int64_t)v;
		return TB_OK;
	}
	return TB_ERR_INVAL;
}

/* libcbor keeps a NULL handle for empty strings; callers memcpy from the
 * pointer, so give them a valid one. */
static const uint8_t empty_string[1];

int tb_cbor_get_bytes(const cbor_item_t *item, const uint8_t **ptr, size_t *len)
{
	if (!item || !ptr || !len || !cbor_isa_bytestring(item) ||
	    !cbor_bytestring_is_definite(item))
		return TB_ERR_INVAL;
	*len = cbor_bytestring_length(item);
	*ptr = *len ? cbor_bytestring_handle(item) : empty_string;
	return TB_OK;
}

int tb_cbor_get_text(const cbor_item_t *item, const char **ptr, size_t *len)
{
	if (!item || !ptr || !len || !cbor_isa_string(item) || !cbor_string_is_definite(item))
		return TB_ERR_INVAL;
	*len = cbor_string_length(item);
	*ptr = *len ? (const char *)cbor_string_handle(item) : (const char *)empty_string;
	return TB_OK;
}

/* A simple value, not a float: only then may libcbor's ctrl getters be
 * called, they assert on anything else. */
static int is_ctrl(const cbor_item_t *item)
{
	return item && cbor_isa_float_ctrl(item) && cbor_float_ctrl_is_ctrl(item);
}

int tb_cbor_is_null(const cbor_item_t *item)
{
	return is_ctrl(item) && cbor_ctrl_value(item) == CBOR_CTRL_NULL;
}

int tb_cbor_get_bool(const cbor_item_t *item, int *out)
{
	if (!out || !is_ctrl(item))
		return TB_ERR_INVAL;
	switch (cbor_ctrl_value(item)) {
	case CBOR_CTRL_TRUE:
		*out = 1;
		return TB_OK;
	case CBOR_CTRL_FALSE:
		*out = 0;
		return TB_OK;
	default:
		return TB_ERR_INVAL;
	}
}

/* libcbor encodes an integer in the width of its item, so pick the
 * smallest one: deterministic encoding is what peers compare against. */
static cbor_item_t *build_width(uint64_t v, int negative)
{
	cbor_item_t *item;

	if (v <= UINT8_MAX)
		item = cbor_build_uint8((uint8_t)v);
	else if (v <= UINT16_MAX)
		item = cbor_build_uint16((uint16_t)v);
	else if (v <= UINT32_MAX)
		item = cbor_build_uint32((uint32_t)v);
	else
		item = cbor_build_uint64(v);
	if (item && negative)
		cbor_mark_negint(item);
	return item;
}

cbor_item_t *tb_cbor_int(int64_t v)
{
	if (v >= 0)
		return build_width((uint64_t)v, 0);
	/* -1 - v without overflow for INT64_MIN. */
	return build_width((uint64_t)(-(v + 1)), 1);
}

cbor_item_t *tb_cbor_bytes(const uint8_t *ptr, size_t len)
{
	return cbor_build_bytestring(len ? ptr : empty_string, len);
}

cbor_item_t *tb_cbor_text(const char *ptr, size_t len)
{
	return cbor_build_stringn(len ? ptr : "", len);
}

cbor_item_t *tb_cbor_bstr_of(cbor_item_t *item)
{
	cbor_item_t *b = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (!item)
		return NULL;
	if (tb_cbor_serialize(item, &buf, &len) == TB_OK)
		b = tb_cbor_bytes(buf, len);
	free(buf);
	cbor_decref(&item);
	return b;
}

int tb_cbor_map_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
	int ok = 0;

	if (map && key && value)
		ok = cbor_map_add(map, (struct cbor_pair){.key = key, .value = value});
	if (key)
		cbor_decref(&key);
	if (value)
		cbor_decref(&value);
	return ok ? TB_OK : TB_ERR_NOMEM;
}

int tb_cbor_array_push(cbor_item_t *array, cbor_item_t *value)
{
	int ok = 0;

	if (array && value)
		ok = cbor_array_push(array, value);
	if (value)
		cbor_decref(&value);
	return ok ? TB_OK : TB_ERR_NOMEM;
}
