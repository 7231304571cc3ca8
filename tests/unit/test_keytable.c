/* The key table under the rate limiter and the ban table: keyed hash,
 * lookups, LRU order. */
#include "config.h"
#include "keytable.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

static const uint8_t zero_seed[TB_KT_SEED_LEN];

struct item {
	struct tb_kt_node node;
	char name[8];
};

static void item_set(struct tb_kt *t, struct item *it, const char *name)
{
	memset(it, 0, sizeof(*it));
	strncpy(it->name, name, sizeof(it->name) - 1);
	it->node.key = (const uint8_t *)it->name;
	it->node.keylen = (uint32_t)strlen(it->name);
	it->node.hash = tb_kt_hash(t, it->name, strlen(it->name));
}

static struct tb_kt_node *lookup(const struct tb_kt *t, const char *name)
{
	return tb_kt_find(t, name, strlen(name), tb_kt_hash(t, name, strlen(name)));
}

static void keytable__siphash24__matches_reference_vectors(void **state)
{
	/* the reference key 00..0f over the messages 00..(n-1) */
	static const struct {
		size_t len;
		uint64_t hash;
	} vec[] = {
	    {0, 0x726fdb47dd0e0e31ull},  {1, 0x74f839c593dc67fdull},  {7, 0xab0200f58b01d137ull},
	    {8, 0x93f5f5799a932462ull},  {15, 0xa129ca6149be45e5ull}, {16, 0x3f2acc7f57c29bdbull},
	    {63, 0x958a324ceb064572ull},
	};
	uint8_t key[TB_KT_SEED_LEN], msg[64];

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint64_t h = tb_siphash24(key, msg, vec[i].len);
		if (h != vec[i].hash)
			fail_msg("length %zu: %016llx", vec[i].len, (unsigned long long)h);
	}
}

static void keytable__different_seed__changes_every_hash(void **state)
{
	struct tb_kt a, b;
	uint8_t seed[TB_KT_SEED_LEN] = {1};

	assert_int_equal(tb_kt_init(&a, 4, zero_seed), TB_OK);
	assert_int_equal(tb_kt_init(&b, 4, seed), TB_OK);
	assert_true(tb_kt_hash(&a, "x", 1) != tb_kt_hash(&b, "x", 1));
	assert_true(tb_kt_hash(&a, "", 0) != tb_kt_hash(&b, "", 0));
	tb_kt_fini(&a, NULL, NULL);
	tb_kt_fini(&b, NULL, NULL);
}

static void keytable__bad_size__is_refused(void **state)
{
	struct tb_kt t;

	assert_int_equal(tb_kt_init(&t, 0, zero_seed), TB_ERR_INVAL);
	assert_int_equal(tb_kt_init(&t, TB_KT_MAX_KEYS + 1, zero_seed), TB_ERR_INVAL);
}

static void keytable__insert_find_remove__round_trip(void **state)
{
	struct tb_kt t;
	struct item it[40];
	char name[8];

	assert_int_equal(tb_kt_init(&t, 40, zero_seed), TB_OK);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		item_set(&t, &it[i], name);
		tb_kt_insert(&t, &it[i].node);
	}
	assert_int_equal(t.count, 40);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		assert_ptr_equal(lookup(&t, name), &it[i].node);
	}
	assert_null(lookup(&t, "k40"));
	assert_null(lookup(&t, "k"));
	for (int i = 0; i < 40; i += 2)
		tb_kt_remove(&t, &it[i].node);
	assert_int_equal(t.count, 20);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		if (i % 2)
			assert_ptr_equal(lookup(&t, name), &it[i].node);
		else
			assert_null(lookup(&t, name));
	}
	tb_kt_fini(&t, NULL, NULL);
}

static void count_release(struct tb_kt_node *n, void *arg)
{
	(*(int *)arg)++;
}

static void keytable__fini__releases_every_node_once(void **state)
{
	struct tb_kt t;
	struct item it[5];
	const char *names[] = {"a", "b", "c", "d", "e"};
	int released = 0;

	assert_int_equal(tb_kt_init(&t, 2, zero_seed), TB_OK);
	for (int i = 0; i < 5; i++) {
		item_set(&t, &it[i], names[i]);
		tb_kt_insert(&t, &it[i].node);
	}
	tb_kt_fini(&t, count_release, &released);
	assert_int_equal(released, 5);
}

static void expect_lru(const struct tb_kt *t, const char *order /* head to tail */)
{
	const struct tb_kt_node *n = t->head;
	size_t i = 0;

	for (; n; n = n->next, i++) {
		assert_true(i < strlen(order));
		assert_int_equal(n->key[0], order[i]);
	}
	assert_int_equal(i, strlen(order));
	/* and backwards */
	n = t->tail;
	for (i = strlen(order); n; n = n->prev)
		assert_int_equal(n->key[0], order[--i]);
	assert_int_equal(i, 0);
}

static void keytable__lru__touch_link_unlink_keep_order(void **state)
{
	struct tb_kt t;
	struct item it[4];
	const char *names[] = {"a", "b", "c", "d"};

	assert_int_equal(tb_kt_init(&t, 4, zero_seed), TB_OK);
	for (int i = 0; i < 4; i++) {
		item_set(&t, &it[i], names[i]);
		tb_kt_insert(&t, &it[i].node);
	}
	expect_lru(&t, "dcba");
	tb_kt_lru_touch(&t, &it[0].node);
	expect_lru(&t, "adcb");
	tb_kt_lru_unlink(&t, &it[2].node);
	expect_lru(&t, "adb");
	/* off the list: touch leaves it off, lookups still find it */
	tb_kt_lru_touch(&t, &it[2].node);
	expect_lru(&t, "adb");
	assert_ptr_equal(lookup(&t, "c"), &it[2].node);
	tb_kt_lru_link(&t, &it[2].node);
	expect_lru(&t, "cadb");
	tb_kt_lru_link(&t, &it[2].node);
	expect_lru(&t, "cadb");
	tb_kt_remove(&t, &it[1].node);
	expect_lru(&t, "cad");
	tb_kt_remove(&t, &it[2].node);
	tb_kt_remove(&t, &it[3].node);
	tb_kt_remove(&t, &it[0].node);
	expect_lru(&t, "");
	assert_int_equal(t.count, 0);
	tb_kt_fini(&t, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(keytable__siphash24__matches_reference_vectors),
	    cmocka_unit_test(keytable__different_seed__changes_every_hash),
	    cmocka_unit_test(keytable__bad_size__is_refused),
	    cmocka_unit_test(keytable__insert_find_remove__round_trip),
	    cmocka_unit_test(keytable__fini__releases_every_node_once),
	    cmocka_unit_test(keytable__lru__touch_link_unlink_keep_order),
	};
	return cmocka_run_group_tests_name("keytable", tests, NULL, NULL);
}
