/*
 * Bounded CBOR decoding on top of libcbor.
 *
 * libcbor 0.8's cbor_load() trusts declared lengths: a short input that
 * declares a huge array makes it allocate gigabytes. Every untrusted buffer is
 * therefore first walked by tb_cbor_check(), which proves the input is one
 * well-formed item whose every declared length and count fits in the bytes
 * that remain and whose nesting is at most max_depth; only then does
 * tb_cbor_load() hand it to cbor_load().
 */
#ifndef TB_CBOR_H
#define TB_CBOR_H

#include <cbor.h>
#include <stddef.h>
#include <stdint.h>

#define TB_CBOR_MAX_DEPTH 16

/*
 * Check that buf[0..len) holds exactly one well-formed CBOR item (no
 * trailing bytes) within the bounds above. Returns TB_OK or TB_ERR_PARSE
 * (TB_ERR_TOOBIG when the nesting is too deep); *why (may be NULL) gets a
 * static description of the first problem.
 */
int tb_cbor_check(const uint8_t *buf, size_t len, unsigned max_depth, const char **why);

/* tb_cbor_check() then cbor_load(). Returns a new reference or NULL. */
cbor_item_t *tb_cbor_load(const uint8_t *buf, size_t len, const char **why);
/*
 * The same, telling why it failed: TB_ERR_PARSE or TB_ERR_TOOBIG (not
 * well-formed, too deep), TB_ERR_UNSUP (well-formed, but libcbor 0.8 refuses
 * it: invalid UTF-8 in a text string, simple values 0..19 and 32..255),
 * TB_ERR_NOMEM (out of memory, and only then). *out gets a new reference or
 * NULL.
 */
int tb_cbor_decode(const uint8_t *buf, size_t len, cbor_item_t **out, const char **why);
/*
 * tb_cbor_decode(), but every definite-length byte string of the result
 * points into buf instead of being a copy (cbor_borrow.c): buf must outlive
 * the item, nothing may write through those handles, and the item is freed
 * with tb_cbor_borrowed_free() with the same buf and len, never with
 * cbor_decref() alone (which would free() a pointer into buf).
 */
int tb_cbor_decode_borrowed(const uint8_t *buf, size_t len, cbor_item_t **out, const char **why);
/* Drop a reference to an item of tb_cbor_decode_borrowed(), or to one of
 * its members, after taking every handle into buf out of it. */
void tb_cbor_borrowed_free(cbor_item_t **item, const uint8_t *buf, size_t len);
/* 1 when the byte strings of tb_cbor_decode_borrowed() are the input's
 * own (libcbor's builder headers were found), 0 when they are copies. */
int tb_cbor_borrows(void);

/*
 * Streaming reads: a cursor walks a buffer item by item without building
 * anything, so the work is bounded by the bytes read and nothing is
 * allocated whatever the input declares. Every read checks what it reads
 * (truncation, a string longer than what remains); on failure the cursor
 * does not move and why says what was wrong.
 */
struct tb_cbor_cur {
	const uint8_t *p;
	const uint8_t *end;
	size_t items;    /* items passed over by tb_cbor_skip(), in total */
	const char *why; /* static text of the last failure */
};

struct tb_cbor_head {
	unsigned major; /* 0..7 */
	unsigned ai;    /* additional information of the first byte */
	uint64_t arg;   /* value, length or count (simple value, float bits) */
	int indefinite; /* a string, array or map of indefinite length */
};

static inline struct tb_cbor_cur tb_cbor_cur_init(const uint8_t *buf, size_t len)
{
	struct tb_cbor_cur c = {.p = buf, .end = buf ? buf + len : buf};
	return c;
}

/* The head of the next item; a definite string's bytes then follow at
 * c->p (their length is checked against what remains). A break (0xff) is
 * refused: test for it with tb_cbor_at_break(). */
int tb_cbor_read_head(struct tb_cbor_cur *c, struct tb_cbor_head *h);
int tb_cbor_at_break(const struct tb_cbor_cur *c);
/* A definite string of this major type (2 bytes, 3 text; text is not
 * checked for UTF-8), or an unsigned integer. TB_ERR_INVAL, cursor
 * unmoved: the next item is something else. */
int tb_cbor_read_string(struct tb_cbor_cur *c, unsigned major, const uint8_t **ptr, size_t *len);
int tb_cbor_read_uint(struct tb_cbor_cur *c, uint64_t *out);
/* Step over one whole item, checking it is well-formed, nested at most
 * max_depth deep and made of at most max_items items (0: no bound but the
 * input's length). TB_ERR_PARSE, or TB_ERR_TOOBIG for depth or count. */
int tb_cbor_skip(struct tb_cbor_cur *c, unsigned max_depth, size_t max_items);

/* Serialize into a malloc()ed buffer. Returns TB_OK or TB_ERR_NOMEM. */
int tb_cbor_serialize(const cbor_item_t *item, uint8_t **out, size_t *out_len);

/* Map lookups (definite or indefinite maps); borrowed result or NULL. */
cbor_item_t *tb_cbor_map_get_int(const cbor_item_t *map, int64_t key);
cbor_item_t *tb_cbor_map_get_str(const cbor_item_t *map, const char *key);

/* Scalar getters: TB_OK, or TB_ERR_INVAL if the item has another type or
 * the value does not fit. */
int tb_cbor_get_int(const cbor_item_t *item, int64_t *out);
int tb_cbor_get_uint(const cbor_item_t *item, uint64_t *out);
/* Definite byte/text string: pointer into the item, not NUL-terminated. */
int tb_cbor_get_bytes(const cbor_item_t *item, const uint8_t **ptr, size_t *len);
int tb_cbor_get_text(const cbor_item_t *item, const char **ptr, size_t *len);

/* null and bool tests that are safe on any item: libcbor 0.8's
 * cbor_is_null()/cbor_is_bool()/cbor_get_bool() abort on a float. */
int tb_cbor_is_null(const cbor_item_t *item);
int tb_cbor_get_bool(const cbor_item_t *item, int *out);

/* Builders that return a new reference or NULL on allocation failure. */
cbor_item_t *tb_cbor_int(int64_t v);
cbor_item_t *tb_cbor_bytes(const uint8_t *ptr, size_t len);
cbor_item_t *tb_cbor_text(const char *ptr, size_t len);
/* bstr .cbor: a byte string holding the encoding of item. Takes over the
 * reference to item and releases it whatever happens, so a builder's
 * result can be passed straight in; a NULL item (a builder that failed)
 * gives NULL. Returns a new reference, or NULL when item is NULL or on
 * allocation failure. */
cbor_item_t *tb_cbor_bstr_of(cbor_item_t *item);
/* Add key/value to a map, taking over both references (decref on failure
 * too). Returns TB_OK or TB_ERR_NOMEM. */
int tb_cbor_map_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value);
/* Append to an array, taking over the reference. */
int tb_cbor_array_push(cbor_item_t *array, cbor_item_t *value);

#endif
