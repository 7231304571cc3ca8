/* Single flight: the keys of requests that may share an exchange, and the
 * table of exchanges in flight with its bounds. */
#include "config.h"
#include "flight.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

static const uint8_t zero_seed[TB_KT_SEED_LEN];

/* A component id of up to 8 text segments. */
static struct tb_component_id comp(const char *a, const char *b, const char *c)
{
	struct tb_component_id id;
	const char *segs[] = {a, b, c};

	memset(&id, 0, sizeof(id));
	for (size_t i = 0; i < 3 && segs[i]; i++) {
		id.seg[i].ptr = (uint8_t *)segs[i];
		id.seg[i].len = strlen(segs[i]);
		id.n++;
	}
	return id;
}

struct key {
	uint8_t b[TB_FLIGHT_KEY_MAX];
	size_t len;
};

static struct key key_of(unsigned tee, unsigned op, const struct tb_component_id *c,
                         const char *tam)
{
	struct key k;
	assert_int_equal(tb_flight_key(k.b, sizeof(k.b), &k.len, tee, op, c, tam), TB_OK);
	return k;
}

static int same(const struct key *a, const struct key *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static void flight__key__is_equal_for_equal_requests_only(void **state)
{
	struct tb_component_id ab = comp("a", "b", NULL), ab2 = comp("a", "b", NULL);
	struct tb_component_id a_b = comp("ab", NULL, NULL), abc = comp("a", "b", "c");
	struct tb_component_id empty_seg = comp("a", "", "b");
	struct key k = key_of(0, 1, &ab, NULL);

	(void)state;
	struct key same_req = key_of(0, 1, &ab2, NULL);
	assert_true(same(&k, &same_req));
	/* every field counts, and field boundaries cannot be shifted */
	struct key others[] = {
	    key_of(1, 1, &ab, NULL),        key_of(0, 3, &ab, NULL),
	    key_of(0, 1, &a_b, NULL),       key_of(0, 1, &abc, NULL),
	    key_of(0, 1, &empty_seg, NULL), key_of(0, 1, &ab, "http://h/"),
	    key_of(0, 1, NULL, NULL),       key_of(0, 1, &ab, "http://h/x"),
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		if (same(&k, &others[i]))
			fail_msg("key %zu equals the first", i);
		for (size_t j = 0; j < i; j++)
			if (same(&others[i], &others[j]))
				fail_msg("keys %zu and %zu are equal", j, i);
	}
	struct key t1 = key_of(0, 1, &ab, "http://h/x"), t2 = key_of(0, 1, &ab, "http://h/x");
	assert_true(same(&t1, &t2));
}

static void flight__key__refuses_what_does_not_fit(void **state)
{
	uint8_t buf[TB_FLIGHT_KEY_MAX];
	size_t len = 99;
	struct tb_component_id ab = comp("a", "b", NULL);
	uint8_t big[256];
	struct tb_component_id huge = comp("a", NULL, NULL);

	(void)state;
	assert_int_equal(tb_flight_key(buf, sizeof(buf), &len, 256, 1, &ab, NULL), TB_ERR_INVAL);
	assert_int_equal(len, 0);
	assert_int_equal(tb_flight_key(buf, sizeof(buf), &len, 0, 256, &ab, NULL), TB_ERR_INVAL);
	memset(big, 'x', sizeof(big));
	huge.seg[0].ptr = big;
	huge.seg[0].len = sizeof(big);
	assert_int_equal(tb_flight_key(buf, sizeof(buf), &len, 0, 1, &huge, NULL), TB_ERR_INVAL);
	/* tee, op, count, 2 x (length + 1 byte), the TAM length: 9 bytes */
	assert_int_equal(tb_flight_key(buf, 8, &len, 0, 1, &ab, NULL), TB_ERR_TOOBIG);
	assert_int_equal(tb_flight_key(buf, 9, &len, 0, 1, &ab, NULL), TB_OK);
	assert_int_equal(len, 9);
}

static void flight__open_join_close__bounds_the_waiters(void **state)
{
	struct tb_flights f;
	struct tb_flight *fl, *other;
	struct tb_component_id ab = comp("a", "b", NULL);
	struct key k = key_of(0, 1, &ab, NULL), k2 = key_of(1, 1, &ab, NULL);
	int owner;

	(void)state;
	assert_int_equal(tb_flights_init(&f, 4, zero_seed), TB_OK);
	assert_null(tb_flight_find(&f, k.b, k.len));
	assert_int_equal(tb_flight_open(&f, k.b, k.len, &owner, &fl), TB_OK);
	assert_ptr_equal(tb_flight_find(&f, k.b, k.len), fl);
	assert_ptr_equal(fl->owner, &owner);
	assert_int_equal(fl->waiters, 1);
	assert_null(tb_flight_find(&f, k2.b, k2.len));
	/* one flight per key */
	assert_int_equal(tb_flight_open(&f, k.b, k.len, &owner, &other), TB_ERR_STATE);
	assert_null(other);
	/* max_waiters 3: the first and two more */
	assert_int_equal(tb_flight_join(fl, 3), TB_OK);
	assert_int_equal(tb_flight_join(fl, 3), TB_OK);
	assert_int_equal(tb_flight_join(fl, 3), TB_ERR_TOOBIG);
	assert_int_equal(fl->waiters, 3);
	/* max_waiters 1: nobody joins */
	assert_int_equal(tb_flight_open(&f, k2.b, k2.len, &owner, &other), TB_OK);
	assert_int_equal(tb_flight_join(other, 1), TB_ERR_TOOBIG);
	assert_int_equal(other->waiters, 1);
	tb_flight_close(&f, fl);
	assert_null(tb_flight_find(&f, k.b, k.len));
	assert_ptr_equal(tb_flight_find(&f, k2.b, k2.len), other);
	/* closed, the key may fly again */
	assert_int_equal(tb_flight_open(&f, k.b, k.len, &owner, &fl), TB_OK);
	tb_flight_close(&f, fl);
	tb_flight_close(&f, other);
	tb_flight_close(&f, NULL);
	assert_int_equal(f.kt.count, 0);
	tb_flights_fini(&f);
}

static void flight__full_table__opens_no_more(void **state)
{
	struct tb_flights f;
	struct tb_flight *fl[3], *extra;
	struct key k[4];
	int owner;

	(void)state;
	assert_int_equal(tb_flights_init(&f, 3, zero_seed), TB_OK);
	for (unsigned i = 0; i < 4; i++)
		k[i] = key_of(i, 3, NULL, NULL);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(tb_flight_open(&f, k[i].b, k[i].len, &owner, &fl[i]), TB_OK);
	assert_int_equal(tb_flight_open(&f, k[3].b, k[3].len, &owner, &extra), TB_ERR_TOOBIG);
	assert_null(extra);
	assert_null(tb_flight_find(&f, k[3].b, k[3].len));
	/* no eviction: the three are still there */
	for (unsigned i = 0; i < 3; i++)
		assert_ptr_equal(tb_flight_find(&f, k[i].b, k[i].len), fl[i]);
	tb_flight_close(&f, fl[1]);
	assert_int_equal(tb_flight_open(&f, k[3].b, k[3].len, &owner, &extra), TB_OK);
	/* fini frees what is still open (the sanitizer checks) */
	tb_flights_fini(&f);
	tb_flights_fini(&f);
}

static void flight__bad_arguments__are_refused(void **state)
{
	struct tb_flights f;
	struct tb_flight *fl;
	uint8_t key[TB_FLIGHT_KEY_MAX + 1] = {0};
	int owner;

	(void)state;
	assert_int_equal(tb_flights_init(&f, 0, zero_seed), TB_ERR_INVAL);
	tb_flights_fini(&f);
	/* an uninitialised (zeroed) table finds nothing and opens nothing */
	memset(&f, 0, sizeof(f));
	assert_null(tb_flight_find(&f, key, 4));
	assert_int_equal(tb_flight_open(&f, key, 4, &owner, &fl), TB_ERR_INVAL);
	assert_int_equal(tb_flights_init(&f, 2, zero_seed), TB_OK);
	assert_int_equal(tb_flight_open(&f, key, 0, &owner, &fl), TB_ERR_INVAL);
	assert_int_equal(tb_flight_open(&f, key, sizeof(key), &owner, &fl), TB_ERR_INVAL);
	assert_null(tb_flight_find(&f, key, sizeof(key)));
	tb_flights_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(flight__key__is_equal_for_equal_requests_only),
	    cmocka_unit_test(flight__key__refuses_what_does_not_fit),
	    cmocka_unit_test(flight__open_join_close__bounds_the_waiters),
	    cmocka_unit_test(flight__full_table__opens_no_more),
	    cmocka_unit_test(flight__bad_arguments__are_refused),
	};
	return cmocka_run_group_tests_name("flight", tests, NULL, NULL);
}
