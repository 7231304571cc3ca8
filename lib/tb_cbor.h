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
/* Add key/value to a map, taking over both references (decref on failure
 * too). Returns TB_OK or TB_ERR_NOMEM. */
int tb_cbor_map_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value);
/* Append to an array, taking over the reference. */
int tb_cbor_array_push(cbor_item_t *array, cbor_item_t *value);

#endif
