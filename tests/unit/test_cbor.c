/* Unit tests of lib/cbor.c: the well-formedness walker and the helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_cbor.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const vectors[] = {
    "draft-26/query_request.hex",
    "draft-26/query_response.hex",
    "draft-26/update.hex",
    "draft-26/success.hex",
    "draft-26/error.hex",
    "pre-renumbering/query_request.hex",
    "pre-renumbering/query_response.hex",
    "pre-renumbering/update.hex",
    "pre-renumbering/success.hex",
    "pre-renumbering/error.hex",
    "suit/suit_integrated.hex",
    "suit/suit_uri.hex",
    "suit/suit_personalization.hex",
    "libteep-signed/query_request_cose_sign1.hex",
    "libteep-signed/query_response_cose_sign1.hex",
    "libteep-signed/update_cose_sign1.hex",
    "libteep-signed/success_cose_sign1.hex",
    "libteep-signed/error_cose_sign1.hex",
};

static void cbor__published_vectors__accepted_and_loaded(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t len;
		uint8_t *buf = load_hex(vectors[i], &len);
		const char *why = "unset";
		cbor_item_t *item;

		assert_int_equal(tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, &why), TB_OK);
		assert_null(why);
		item = tb_cbor_load(buf, len, &why);
		assert_non_null(item);
		cbor_decref(&item);
		free(buf);
	}
}

static void cbor__cose_sign1_tag__loads_despite_libcbor(void **state)
{
	/* 18([h'', {}, h'', h'']): libcbor 0.8 alone refuses the 0xd2 head. */
	static const uint8_t msg[] = {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40};
	cbor_item_t *item, *inner;

	(void)state;
	item = tb_cbor_load(msg, sizeof(msg), NULL);
	assert_non_null(item);
	assert_true(cbor_isa_tag(item));
	assert_int_equal(cbor_tag_value(item), 18);
	inner = cbor_tag_item(item);
	assert_true(cbor_isa_array(inner));
	assert_int_equal(cbor_array_size(inner), 4);
	cbor_decref(&inner);
	cbor_decref(&item);
}

static void cbor__truncated_input__rejected(void **state)
{
	size_t len;
	uint8_t *buf = load_hex("draft-26/query_request.hex", &len);

	(void)state;
	for (size_t n = 0; n < len; n++) {
		const char *why = NULL;
		assert_int_equal(tb_cbor_check(buf, n, TB_CBOR_MAX_DEPTH, &why), TB_ERR_PARSE);
		assert_non_null(why);
		assert_null(tb_cbor_load(buf, n, NULL));
	}
	free(buf);
}

static void cbor__huge_declared_count__rejected_without_allocating(void **state)
{
	/* 16 bytes declaring an array of 2^32 entries, then a map of 2^32-1
	 * pairs: libcbor alone would try to allocate for them. */
	static const uint8_t arr[16] = {0x9b, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7};
	static const uint8_t map[16] = {0xba, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	const char *why = NULL;

	(void)state;
	assert_int_equal(tb_cbor_check(arr, sizeof(arr), TB_CBOR_MAX_DEPTH, &why), TB_ERR_PARSE);
	assert_string_equal(why, "declared count exceeds the input");
	assert_null(tb_cbor_load(arr, sizeof(arr), NULL));
	assert_int_equal(tb_cbor_check(map, sizeof(map), TB_CBOR_MAX_DEPTH, &why), TB_ERR_PARSE);
	assert_null(tb_cbor_load(map, sizeof(map), NULL));
}

static void cbor__map_count__needs_two_bytes_per_pair(void **state)
{
	/* {1: 2, 3: ?}: a map of 2 pairs with 3 bytes left */
	static const uint8_t map[] = {0xa2, 0x01, 0x02, 0x03};

	(void)state;
	assert_int_equal(tb_cbor_check(map, sizeof(map), TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE);
}

static void cbor__long_string__rejected(void **state)
{
	/* a byte string claiming 2^63 bytes */
	static const uint8_t s[] = {0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00};

	(void)state;
	assert_int_equal(tb_cbor_check(s, sizeof(s), TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE);
}

static void cbor__nesting__limited_by_max_depth(void **state)
{
	uint8_t buf[40];
	const char *why = NULL;

	(void)state;
	/* 16 nested arrays around 0 are fine, 17 are too deep. */
	memset(buf, 0x81, 16);
	buf[16] = 0x00;
	assert_int_equal(tb_cbor_check(buf, 17, 16, &why), TB_OK);
	memset(buf, 0x81, 17);
	buf[17] = 0x00;
	assert_int_equal(tb_cbor_check(buf, 18, 16, &why), TB_ERR_TOOBIG);
	assert_string_equal(why, "nesting too deep");
	assert_null(tb_cbor_load(buf, 18, NULL));
	/* tags count as nesting too */
	memset(buf, 0xc1, 17);
	buf[17] = 0x00;
	assert_int_equal(tb_cbor_check(buf, 18, 16, NULL), TB_ERR_TOOBIG);
}

static void cbor__trailing_bytes__rejected(void **state)
{
	static const uint8_t two[] = {0x01, 0x02};
	const char *why = NULL;

	(void)state;
	assert_int_equal(tb_cbor_check(two, sizeof(two), TB_CBOR_MAX_DEPTH, &why), TB_ERR_PARSE);
	assert_string_equal(why, "trailing bytes after the item");
	assert_null(tb_cbor_load(two, sizeof(two), NULL));
	assert_int_equal(tb_cbor_check(two, 0, TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE);
}

static void cbor__reserved_additional_info__rejected(void **state)
{
	static const uint8_t heads[] = {0x1c, 0x3d, 0x5e, 0x7c, 0x9d, 0xbe, 0xdc, 0xfd, 0xfe};

	(void)state;
	for (size_t i = 0; i < sizeof(heads); i++) {
		uint8_t buf[2] = {heads[i], 0x00};
		assert_int_equal(tb_cbor_check(buf, 1, TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE);
		assert_int_equal(tb_cbor_check(buf, 2, TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE);
	}
}

static void cbor__indefinite_items__checked(void **state)
{
	static const uint8_t good_bstr[] = {0x5f, 0x41, 0x01, 0x40, 0xff};
	static const uint8_t good_text[] = {0x7f, 0x61, 'a', 0xff};
	static const uint8_t good_arr[] = {0x9f, 0x01, 0x9f, 0xff, 0xff};
	static const uint8_t good_map[] = {0xbf, 0x01, 0x02, 0xff};
	static const uint8_t mixed_chunk[] = {0x5f, 0x61, 'a', 0xff};
	static const uint8_t nested_chunk[] = {0x5f, 0x5f, 0xff, 0xff};
	static const uint8_t no_break[] = {0x5f, 0x41, 0x01};
	static const uint8_t odd_map[] = {0xbf, 0x01, 0xff};
	static const uint8_t lone_break[] = {0xff};
	static const uint8_t break_in_definite[] = {0x82, 0x01, 0xff};
	static const uint8_t indefinite_int[] = {0x1f};
	static const uint8_t indefinite_tag[] = {0xdf, 0x01};
	static const uint8_t short_simple[] = {0xf8, 0x10};

	(void)state;
#define OK(b)  assert_int_equal(tb_cbor_check(b, sizeof(b), TB_CBOR_MAX_DEPTH, NULL), TB_OK)
#define BAD(b) assert_int_equal(tb_cbor_check(b, sizeof(b), TB_CBOR_MAX_DEPTH, NULL), TB_ERR_PARSE)
	OK(good_bstr);
	OK(good_text);
	OK(good_arr);
	OK(good_map);
	BAD(mixed_chunk);
	BAD(nested_chunk);
	BAD(no_break);
	BAD(odd_map);
	BAD(lone_break);
	BAD(break_in_definite);
	BAD(indefinite_int);
	BAD(indefinite_tag);
	BAD(short_simple);
#undef OK
#undef BAD
}

static void cbor__floats_and_simple_values__accepted(void **state)
{
	static const uint8_t items[][9] = {
	    {0xf4},
	    {0xf5},
	    {0xf6},
	    {0xf7},
	    {0xf8, 0x20},
	    {0xf9, 0x3c, 0x00},
	    {0xfa, 0x47, 0xc3, 0x50, 0x00},
	    {0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a},
	};
	static const size_t lens[] = {1, 1, 1, 1, 2, 3, 5, 9};

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(tb_cbor_check(items[i], lens[i], TB_CBOR_MAX_DEPTH, NULL), TB_OK);
}

static void cbor__null_and_bool__safe_on_floats(void **state)
{
	/* [null, true, false, 1.0 (single), 0.0 (half)] */
	static const uint8_t arr[] = {0x85, 0xf6, 0xf5, 0xf4, 0xfa, 0x3f,
	                              0x80, 0x00, 0x00, 0xf9, 0x00, 0x00};
	cbor_item_t *item = tb_cbor_load(arr, sizeof(arr), NULL);
	cbor_item_t **e;
	int b = -1;

	(void)state;
	assert_non_null(item);
	e = cbor_array_handle(item);
	assert_true(tb_cbor_is_null(e[0]));
	assert_false(tb_cbor_is_null(e[1]));
	assert_int_equal(tb_cbor_get_bool(e[1], &b), TB_OK);
	assert_int_equal(b, 1);
	assert_int_equal(tb_cbor_get_bool(e[2], &b), TB_OK);
	assert_int_equal(b, 0);
	assert_int_equal(tb_cbor_get_bool(e[0], &b), TB_ERR_INVAL);
	/* libcbor's own cbor_is_null() would abort on these two */
	assert_false(tb_cbor_is_null(e[3]));
	assert_false(tb_cbor_is_null(e[4]));
	assert_int_equal(tb_cbor_get_bool(e[3], &b), TB_ERR_INVAL);
	assert_false(tb_cbor_is_null(NULL));
	cbor_decref(&item);
}

static void cbor__get_int__handles_sign_and_overflow(void **state)
{
	static const uint8_t neg[] = {0x39, 0xff, 0xfd}; /* -65534 */
	static const uint8_t big[] = {0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t minneg[] = {0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t toolow[] = {0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0};
	cbor_item_t *item;
	int64_t v;
	uint64_t u;

	(void)state;
	item = tb_cbor_load(neg, sizeof(neg), NULL);
	assert_int_equal(tb_cbor_get_int(item, &v), TB_OK);
	assert_int_equal(v, -65534);
	assert_int_equal(tb_cbor_get_uint(item, &u), TB_ERR_INVAL);
	cbor_decref(&item);

	item = tb_cbor_load(big, sizeof(big), NULL);
	assert_int_equal(tb_cbor_get_int(item, &v), TB_ERR_INVAL);
	assert_int_equal(tb_cbor_get_uint(item, &u), TB_OK);
	assert_true(u == UINT64_MAX);
	cbor_decref(&item);

	item = tb_cbor_load(minneg, sizeof(minneg), NULL);
	assert_int_equal(tb_cbor_get_int(item, &v), TB_OK);
	assert_true(v == INT64_MIN);
	cbor_decref(&item);

	item = tb_cbor_load(toolow, sizeof(toolow), NULL);
	assert_int_equal(tb_cbor_get_int(item, &v), TB_ERR_INVAL);
	cbor_decref(&item);
}

static void assert_encodes(cbor_item_t *item, const uint8_t *want, size_t want_len)
{
	uint8_t *out;
	size_t len;

	assert_non_null(item);
	assert_int_equal(tb_cbor_serialize(item, &out, &len), TB_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
	cbor_decref(&item);
}

static void cbor__int_builder__uses_shortest_form(void **state)
{
	(void)state;
	assert_encodes(tb_cbor_int(0), (const uint8_t *)"\x00", 1);
	assert_encodes(tb_cbor_int(23), (const uint8_t *)"\x17", 1);
	assert_encodes(tb_cbor_int(24), (const uint8_t *)"\x18\x18", 2);
	assert_encodes(tb_cbor_int(-9), (const uint8_t *)"\x28", 1);
	assert_encodes(tb_cbor_int(-65534), (const uint8_t *)"\x39\xff\xfd", 3);
	assert_encodes(tb_cbor_int(70000), (const uint8_t *)"\x1a\x00\x01\x11\x70", 5);
	assert_encodes(tb_cbor_int(INT64_MIN),
	               (const uint8_t *)"\x3b\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
}

static void cbor__map_helpers__put_and_get(void **state)
{
	static const uint8_t want[] = {0xa3, 0x01, 0x41, 0xaa, 0x20, 0x60,
	                               0x63, '#',  't',  'c',  0x05};
	cbor_item_t *map = cbor_new_definite_map(3);
	const uint8_t *p;
	const char *t;
	size_t n;
	int64_t v;

	(void)state;
	assert_int_equal(
	    tb_cbor_map_put(map, tb_cbor_int(1), tb_cbor_bytes((const uint8_t *)"\xaa", 1)), TB_OK);
	assert_int_equal(tb_cbor_map_put(map, tb_cbor_int(-1), tb_cbor_text("", 0)), TB_OK);
	assert_int_equal(tb_cbor_map_put(map, tb_cbor_text("#tc", 3), tb_cbor_int(5)), TB_OK);
	/* a full definite map refuses more, and releases what it was given */
	assert_int_equal(tb_cbor_map_put(map, tb_cbor_int(9), tb_cbor_int(9)), TB_ERR_NOMEM);

	assert_int_equal(tb_cbor_get_bytes(tb_cbor_map_get_int(map, 1), &p, &n), TB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(p[0], 0xaa);
	assert_int_equal(tb_cbor_get_text(tb_cbor_map_get_int(map, -1), &t, &n), TB_OK);
	assert_int_equal(n, 0);
	assert_non_null(t);
	assert_int_equal(tb_cbor_get_int(tb_cbor_map_get_str(map, "#tc"), &v), TB_OK);
	assert_int_equal(v, 5);
	assert_null(tb_cbor_map_get_int(map, 2));
	assert_null(tb_cbor_map_get_str(map, "#t"));
	assert_int_equal(tb_cbor_get_text(tb_cbor_map_get_int(map, 1), &t, &n), TB_ERR_INVAL);
	assert_encodes(map, want, sizeof(want));
}

static void cbor__array_push__owns_reference(void **state)
{
	static const uint8_t want[] = {0x82, 0x01, 0x40};
	cbor_item_t *arr = cbor_new_definite_array(2);

	(void)state;
	assert_int_equal(tb_cbor_array_push(arr, tb_cbor_int(1)), TB_OK);
	assert_int_equal(tb_cbor_array_push(arr, tb_cbor_bytes(NULL, 0)), TB_OK);
	assert_int_equal(tb_cbor_array_push(arr, tb_cbor_int(3)), TB_ERR_NOMEM);
	assert_int_equal(tb_cbor_array_push(arr, NULL), TB_ERR_NOMEM);
	assert_encodes(arr, want, sizeof(want));
}

static void cbor__bstr_of__wraps_encoding_and_consumes_item(void **state)
{
	/* [1, h'00'] and the byte string holding those four bytes */
	static const uint8_t inner[] = {0x82, 0x01, 0x41, 0x00};
	static const uint8_t want[] = {0x44, 0x82, 0x01, 0x41, 0x00};
	static const uint8_t zero[1] = {0};
	cbor_item_t *arr = cbor_new_definite_array(2), *b, *back;
	const uint8_t *p;
	size_t n;

	(void)state;
	assert_non_null(arr);
	assert_int_equal(tb_cbor_array_push(arr, tb_cbor_int(1)), TB_OK);
	assert_int_equal(tb_cbor_array_push(arr, tb_cbor_bytes(zero, 1)), TB_OK);
	cbor_incref(arr); /* a second reference shows the call released one */
	b = tb_cbor_bstr_of(arr);
	assert_non_null(b);
	assert_int_equal(cbor_refcount(arr), 1);
	cbor_decref(&arr);
	assert_int_equal(tb_cbor_get_bytes(b, &p, &n), TB_OK);
	assert_int_equal(n, sizeof(inner));
	assert_memory_equal(p, inner, sizeof(inner));
	back = tb_cbor_load(p, n, NULL);
	assert_non_null(back);
	assert_true(cbor_isa_array(back) && cbor_array_size(back) == 2);
	cbor_decref(&back);
	assert_encodes(b, want, sizeof(want));

	assert_null(tb_cbor_bstr_of(NULL));
}

static int inside(const void *p, const uint8_t *buf, size_t len)
{
	return (const uint8_t *)p >= buf && (const uint8_t *)p < buf + len;
}

/* The byte strings of a borrowed decode are the input's bytes, not copies
 * (a 16 MiB payload is not duplicated per layer); freeing takes them out
 * first (under the sanitizers, a free() of one of them would abort). */
static void cbor__borrowed__byte_strings_point_into_input(void **state)
{
	/* 18([h'0102', {h'05': h''}, h'aabbccdd', h'ee']), the tag's one-byte
	 * head (0xd2) as in every COSE_Sign1 */
	static const uint8_t msg[] = {0xd2, 0x84, 0x42, 0x01, 0x02, 0xa1, 0x41, 0x05,
	                              0x40, 0x44, 0xaa, 0xbb, 0xcc, 0xdd, 0x41, 0xee};
	cbor_item_t *item = NULL, *arr, *copy;
	const uint8_t *p;
	size_t n;

	(void)state;
	if (!tb_cbor_borrows())
		skip(); /* built without libcbor's builder headers: copies */
	assert_int_equal(tb_cbor_decode_borrowed(msg, sizeof(msg), &item, NULL), TB_OK);
	assert_true(cbor_isa_tag(item));
	assert_int_equal(cbor_tag_value(item), 18);
	arr = cbor_tag_item(item);
	assert_int_equal(cbor_array_size(arr), 4);
	assert_int_equal(tb_cbor_get_bytes(cbor_array_handle(arr)[2], &p, &n), TB_OK);
	assert_ptr_equal(p, msg + 10);
	assert_int_equal(n, 4);
	assert_int_equal(tb_cbor_get_bytes(cbor_array_handle(arr)[0], &p, &n), TB_OK);
	assert_ptr_equal(p, msg + 3);
	assert_int_equal(
	    tb_cbor_get_bytes(cbor_map_handle(cbor_array_handle(arr)[1])[0].key, &p, &n), TB_OK);
	assert_ptr_equal(p, msg + 7);
	cbor_decref(&arr);
	/* the same bytes through tb_cbor_load are copies */
	copy = tb_cbor_load(msg, sizeof(msg), NULL);
	assert_non_null(copy);
	arr = cbor_tag_item(copy);
	assert_int_equal(tb_cbor_get_bytes(cbor_array_handle(arr)[2], &p, &n), TB_OK);
	assert_false(inside(p, msg, sizeof(msg)));
	cbor_decref(&arr);
	cbor_decref(&copy);
	tb_cbor_borrowed_free(&item, msg, sizeof(msg));
	assert_null(item);
}

/* Chunks of an indefinite-length string are joined in a copy (libcbor's);
 * an item libcbor refuses after a borrowed string fails cleanly. */
static void cbor__borrowed__chunks_copied_and_failures_clean(void **state)
{
	/* [h'01', (_ h'02', h'03')] */
	static const uint8_t chunks[] = {0x82, 0x41, 0x01, 0x5f, 0x41, 0x02, 0x41, 0x03, 0xff};
	/* [h'0102', simple(16)]: well-formed, refused by libcbor 0.8 */
	static const uint8_t refused[] = {0x82, 0x42, 0x01, 0x02, 0xf0};
	/* [h'0102', 6(simple(16))]: refused with the tag still waiting for
	 * its item */
	static const uint8_t tag_refused[] = {0x82, 0x42, 0x01, 0x02, 0xc6, 0xf0};
	static const uint8_t truncated[] = {0x82, 0x42, 0x01};
	cbor_item_t *item = NULL;
	const uint8_t *p;
	size_t n;

	(void)state;
	assert_int_equal(tb_cbor_decode_borrowed(chunks, sizeof(chunks), &item, NULL), TB_OK);
	assert_int_equal(tb_cbor_get_bytes(cbor_array_handle(item)[0], &p, &n), TB_OK);
	if (tb_cbor_borrows())
		assert_ptr_equal(p, chunks + 2);
	assert_true(cbor_bytestring_is_indefinite(cbor_array_handle(item)[1]));
	tb_cbor_borrowed_free(&item, chunks, sizeof(chunks));
	assert_int_equal(tb_cbor_decode_borrowed(refused, sizeof(refused), &item, NULL),
	                 TB_ERR_UNSUP);
	assert_null(item);
	assert_int_equal(tb_cbor_decode_borrowed(tag_refused, sizeof(tag_refused), &item, NULL),
	                 TB_ERR_UNSUP);
	assert_null(item);
	assert_int_equal(tb_cbor_decode_borrowed(truncated, sizeof(truncated), &item, NULL),
	                 TB_ERR_PARSE);
	assert_null(item);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cbor__published_vectors__accepted_and_loaded),
	    cmocka_unit_test(cbor__cose_sign1_tag__loads_despite_libcbor),
	    cmocka_unit_test(cbor__borrowed__byte_strings_point_into_input),
	    cmocka_unit_test(cbor__borrowed__chunks_copied_and_failures_clean),
	    cmocka_unit_test(cbor__truncated_input__rejected),
	    cmocka_unit_test(cbor__huge_declared_count__rejected_without_allocating),
	    cmocka_unit_test(cbor__map_count__needs_two_bytes_per_pair),
	    cmocka_unit_test(cbor__long_string__rejected),
	    cmocka_unit_test(cbor__nesting__limited_by_max_depth),
	    cmocka_unit_test(cbor__trailing_bytes__rejected),
	    cmocka_unit_test(cbor__reserved_additional_info__rejected),
	    cmocka_unit_test(cbor__indefinite_items__checked),
	    cmocka_unit_test(cbor__floats_and_simple_values__accepted),
	    cmocka_unit_test(cbor__null_and_bool__safe_on_floats),
	    cmocka_unit_test(cbor__get_int__handles_sign_and_overflow),
	    cmocka_unit_test(cbor__int_builder__uses_shortest_form),
	    cmocka_unit_test(cbor__map_helpers__put_and_get),
	    cmocka_unit_test(cbor__array_push__owns_reference),
	    cmocka_unit_test(cbor__bstr_of__wraps_encoding_and_consumes_item),
	};
	return cmocka_run_group_tests_name("cbor", tests, NULL, NULL);
}
