/*
 * A bounded table of byte-string keys (peer addresses, app identities) with
 * an LRU list, shared by the rate limiter and the ban table.
 *
 * The keys come from the network, so the bucket index is a keyed SipHash-2-4
 * of the key: without the secret, a client cannot choose keys that all land
 * in one chain. The bucket array is sized once, for max_keys, at init; the
 * table never rehashes and never allocates afterwards (the owner allocates
 * and frees its own entries, which start with a struct tb_kt_node).
 *
 * A node is always in the hash; it is on the LRU list only while its owner
 * wants it to be evictable (the owner unlinks pinned or otherwise protected
 * entries). Head = most recently used, tail = least.
 *
 * Single-threaded: the caller serialises every call on one table.
 */
#ifndef TB_KEYTABLE_H
#define TB_KEYTABLE_H

#include <stddef.h>
#include <stdint.h>

#define TB_KT_MAX_KEYS (1u << 20) /* largest max_keys accepted */
#define TB_KT_SEED_LEN 16u        /* SipHash key */

struct tb_kt_node {
	struct tb_kt_node *hnext;       /* hash chain */
	struct tb_kt_node *prev, *next; /* LRU list */
	const uint8_t *key;             /* owned by the entry, not copied */
	uint64_t hash;
	uint32_t keylen;
	int on_lru;
};

struct tb_kt {
	struct tb_kt_node **buckets;
	uint32_t mask;
	uint32_t count;
	struct tb_kt_node *head, *tail; /* LRU */
	uint8_t seed[TB_KT_SEED_LEN];
};

/*
 * Function: tb_kt_init
 * Size the table for max_keys (1..TB_KT_MAX_KEYS) entries. The seed keys the
 * hash; the daemon draws it at random, tests may pass zeros.
 * Returns: TB_OK, TB_ERR_INVAL, TB_ERR_NOMEM.
 */
int tb_kt_init(struct tb_kt *t, uint32_t max_keys, const uint8_t seed[TB_KT_SEED_LEN]);

/*
 * Function: tb_kt_fini
 * Hand every node to release(node, arg), which may free it (NULL: the nodes
 * are freed elsewhere), then free the buckets. The table is then unusable.
 */
void tb_kt_fini(struct tb_kt *t, void (*release)(struct tb_kt_node *, void *), void *arg);

uint64_t tb_kt_hash(const struct tb_kt *t, const void *key, size_t len);

/* The node for key (hash from tb_kt_hash), or NULL. Does not touch the LRU. */
struct tb_kt_node *tb_kt_find(const struct tb_kt *t, const void *key, size_t len, uint64_t hash);

/*
 * Function: tb_kt_insert
 * Add a node whose key, keylen and hash are set, at the LRU head. The caller
 * has checked that the key is absent and that count < max_keys.
 */
void tb_kt_insert(struct tb_kt *t, struct tb_kt_node *n);

/* Remove a node from the hash and, if it is there, from the LRU list. */
void tb_kt_remove(struct tb_kt *t, struct tb_kt_node *n);

/*
 * LRU list. touch: a node on the list moves to the head (a node off the list
 * stays off). link: put a node that is off the list at the head. unlink: take
 * it off (it can then never be chosen for eviction).
 */
void tb_kt_lru_touch(struct tb_kt *t, struct tb_kt_node *n);
void tb_kt_lru_link(struct tb_kt *t, struct tb_kt_node *n);
void tb_kt_lru_unlink(struct tb_kt *t, struct tb_kt_node *n);

/* SipHash-2-4 with a 128-bit key. */
uint64_t tb_siphash24(const uint8_t key[TB_KT_SEED_LEN], const void *data, size_t len);

#endif
