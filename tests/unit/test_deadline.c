/* Deadlines of one length (broker/deadline.c): order, clearing, and how
 * often the list's one timer has to be armed. Lists without an lws context:
 * the test plays the timer (tb_dl_run when armed_us has come). */
#include "config.h"
#include "deadline.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#define LEN 1000000u /* 1 s */

struct item {
	struct tb_dl dl;
	int id;
	int expired;
};

static int order[64];
static size_t n_order;

static void on_expired(struct tb_dl *d)
{
	struct item *it = (struct item *)((char *)d - offsetof(struct item, dl));

	it->expired++;
	if (n_order < 64)
		order[n_order++] = it->id;
}

/* Fire the timer if it is due at now. */
static void tick(struct tb_dl_list *l, uint64_t now)
{
	if (l->armed_us && l->armed_us <= now)
		tb_dl_run(l, now);
}

static void test_order_and_clear(void **state)
{
	struct tb_dl_list l;
	struct item it[5];

	(void)state;
	n_order = 0;
	tb_dl_list_init(&l, NULL, LEN, on_expired);
	for (int i = 0; i < 5; i++) {
		it[i] = (struct item){.id = i};
		tb_dl_set_at(&l, &it[i].dl, 1000 + (uint64_t)i * 10);
	}
	assert_int_equal(l.timer_sets, 1); /* armed once, for the first */
	assert_int_equal(l.armed_us, 1000 + LEN);
	tb_dl_clear(&it[0].dl); /* the head goes: the timer stays as it is */
	tb_dl_clear(&it[2].dl);
	tb_dl_clear(&it[2].dl); /* twice is harmless */
	assert_false(tb_dl_is_set(&it[2].dl));
	assert_int_equal(l.timer_sets, 1);
	tick(&l, 1000 + LEN); /* early for what is left: nothing expires */
	assert_int_equal(n_order, 0);
	assert_int_equal(l.armed_us, 1010 + LEN);
	assert_int_equal(l.timer_sets, 2);
	tick(&l, 1030 + LEN); /* 1 and 3 are due, 4 is not */
	assert_int_equal(n_order, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(l.armed_us, 1040 + LEN);
	tick(&l, 5000 + LEN);
	assert_int_equal(n_order, 3);
	assert_int_equal(order[2], 4);
	assert_null(l.head);
	assert_int_equal(l.armed_us, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(it[i].expired, i == 1 || i == 3 || i == 4);
}

/* A deadline set again moves to the tail; a clock read out of order still
 * leaves the list in order. */
static void test_reset_and_out_of_order(void **state)
{
	struct tb_dl_list l;
	struct item a = {.id = 1}, b = {.id = 2}, c = {.id = 3};

	(void)state;
	n_order = 0;
	tb_dl_list_init(&l, NULL, LEN, on_expired);
	tb_dl_set_at(&l, &a.dl, 100);
	tb_dl_set_at(&l, &b.dl, 200);
	tb_dl_set_at(&l, &a.dl, 300); /* a again: after b */
	tb_dl_set_at(&l, &c.dl, 50);  /* earlier than all: at the head, armed for it */
	assert_ptr_equal(l.head, &c.dl);
	assert_ptr_equal(l.tail, &a.dl);
	assert_int_equal(l.armed_us, 50 + LEN);
	tick(&l, 300 + LEN);
	assert_int_equal(n_order, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
}

/* A deadline moved from one list to another leaves the first. */
static void test_move_between_lists(void **state)
{
	struct tb_dl_list l1, l2;
	struct item a = {.id = 1};

	(void)state;
	n_order = 0;
	tb_dl_list_init(&l1, NULL, LEN, on_expired);
	tb_dl_list_init(&l2, NULL, 2 * LEN, on_expired);
	tb_dl_set_at(&l1, &a.dl, 0);
	tb_dl_set_at(&l2, &a.dl, 10);
	assert_null(l1.head);
	assert_ptr_equal(l2.head, &a.dl);
	tick(&l1, LEN + 10);
	assert_int_equal(n_order, 0);
	tick(&l2, 2 * LEN + 10);
	assert_int_equal(n_order, 1);
}

static struct tb_dl_list *again_list;
static uint64_t cur_now;

static void on_expired_again(struct tb_dl *d)
{
	on_expired(d);
	if (n_order < 3)
		tb_dl_set_at(again_list, d, cur_now); /* set again from the callback */
}

static void test_set_from_callback(void **state)
{
	struct tb_dl_list l;
	struct item a = {.id = 7};

	(void)state;
	n_order = 0;
	again_list = &l;
	tb_dl_list_init(&l, NULL, LEN, on_expired_again);
	tb_dl_set_at(&l, &a.dl, 0);
	tick(&l, cur_now = LEN);
	assert_int_equal(n_order, 1);
	assert_true(tb_dl_is_set(&a.dl));
	assert_int_equal(l.armed_us, 2 * LEN);
	tick(&l, cur_now = 10 * LEN);
	assert_int_equal(n_order, 2); /* set again for later: not in this run */
	assert_int_equal(l.armed_us, 11 * LEN);
	tick(&l, cur_now = 11 * LEN);
	assert_int_equal(n_order, 3);
	assert_false(tb_dl_is_set(&a.dl));
}

/*
 * The point of it: requests at a steady rate, each with a deadline set at
 * its start, set again at its call (as a request waiting in the fair queue,
 * then calling the TEE, does) and cleared when it ends 3 ms later. 100000
 * requests at one per 100 us (10 s) arm the timer about once per length of
 * time (1 s), not once per request.
 */
static void test_steady_load_arms_rarely(void **state)
{
	enum { N = 100000, STEP = 100, HOLD = 30 };
	struct tb_dl_list l;
	struct item *it = calloc(N, sizeof(*it));

	(void)state;
	assert_non_null(it);
	n_order = 0;
	tb_dl_list_init(&l, NULL, LEN, on_expired);
	for (uint64_t i = 0; i < N + HOLD; i++) {
		uint64_t now = i * STEP;
		tick(&l, now);
		if (i < N) {
			tb_dl_set_at(&l, &it[i].dl, now);
			tb_dl_set_at(&l, &it[i].dl, now + 1);
		}
		if (i >= HOLD)
			tb_dl_clear(&it[i - HOLD].dl);
	}
	assert_null(l.head);
	assert_int_equal(n_order, 0); /* none expired */
	/* 10 s of load with a 1 s length: about 10, never near 100000 */
	assert_in_range(l.timer_sets, 1, 2 * (N * STEP / LEN) + 2);
	free(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_clear),
	    cmocka_unit_test(test_reset_and_out_of_order),
	    cmocka_unit_test(test_move_between_lists),
	    cmocka_unit_test(test_set_from_callback),
	    cmocka_unit_test(test_steady_load_arms_rarely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
