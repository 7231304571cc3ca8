#include "config.h"
#include "keytable.h"

#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

static uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

uint64_t tb_siphash24(const uint8_t key[TB_KT_SEED_LEN], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
	                 k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8)
		sip_absorb(v, load_le64(p + i, 8));
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	if (len % 8)
		last |= load_le64(p + whole, len % 8);
	sip_absorb(v, last);
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int tb_kt_init(struct tb_kt *t, uint32_t max_keys, const uint8_t seed[TB_KT_SEED_LEN])
{
	uint32_t nb = 16;

	memset(t, 0, sizeof(*t));
	if (max_keys == 0 || max_keys > TB_KT_MAX_KEYS)
		return TB_ERR_INVAL;
	while (nb < max_keys)
		nb <<= 1;
	t->buckets = calloc(nb, sizeof(*t->buckets));
	if (!t->buckets)
		return TB_ERR_NOMEM;
	t->mask = nb - 1;
	memcpy(t->seed, seed, TB_KT_SEED_LEN);
	return TB_OK;
}

void tb_kt_fini(struct tb_kt *t, void (*release)(struct tb_kt_node *, void *), void *arg)
{
	if (!t->buckets)
		return;
	for (uint32_t i = 0; i <= t->mask; i++) {
		struct tb_kt_node *n = t->buckets[i];
		while (n) {
			/* release() may free the node */
			struct tb_kt_node *next = n->hnext;
			if (release)
				release(n, arg);
			n = next;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

uint64_t tb_kt_hash(const struct tb_kt *t, const void *key, size_t len)
{
	return tb_siphash24(t->seed, key, len);
}

struct tb_kt_node *tb_kt_find(const struct tb_kt *t, const void *key, size_t len, uint64_t hash)
{
	for (struct tb_kt_node *n = t->buckets[hash & t->mask]; n; n = n->hnext) {
		if (n->hash == hash && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	}
	return NULL;
}

static void lru_push_head(struct tb_kt *t, struct tb_kt_node *n)
{
	n->prev = NULL;
	n->next = t->head;
	if (t->head)
		t->head->prev = n;
	else
		t->tail = n;
	t->head = n;
	n->on_lru = 1;
}

void tb_kt_lru_unlink(struct tb_kt *t, struct tb_kt_node *n)
{
	if (!n->on_lru)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		t->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		t->tail = n->prev;
	n->prev = n->next = NULL;
	n->on_lru = 0;
}

void tb_kt_lru_touch(struct tb_kt *t, struct tb_kt_node *n)
{
	if (!n->on_lru || t->head == n)
		return;
	tb_kt_lru_unlink(t, n);
	lru_push_head(t, n);
}

void tb_kt_lru_link(struct tb_kt *t, struct tb_kt_node *n)
{
	if (!n->on_lru)
		lru_push_head(t, n);
}

void tb_kt_insert(struct tb_kt *t, struct tb_kt_node *n)
{
	struct tb_kt_node **b = &t->buckets[n->hash & t->mask];

	n->hnext = *b;
	*b = n;
	t->count++;
	n->on_lru = 0;
	lru_push_head(t, n);
}

void tb_kt_remove(struct tb_kt *t, struct tb_kt_node *n)
{
	struct tb_kt_node **pp = &t->buckets[n->hash & t->mask];

	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (!*pp)
		return;
	*pp = n->hnext;
	n->hnext = NULL;
	t->count--;
	tb_kt_lru_unlink(t, n);
}
