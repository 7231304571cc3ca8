/*
 * Banning of misbehaving peers, fail2ban style, with a decaying score
 * instead of a findtime window.
 *
 * Every violation a peer commits (a malformed frame, an oversize message, a
 * bad signature, a rate-limit refusal, ...) adds its weight to the peer's
 * score. The score halves every half_life_ms, continuously. When it reaches
 * threshold the peer is banned and its score starts again from 0. The ban
 * lasts ban_base_ms * 2^min(previous bans, 20), capped at ban_max_ms: the
 * incremental ban time of fail2ban. The number of previous bans is
 * remembered until memory_ms after the end of the peer's last ban (the
 * recidive idea), then forgotten.
 *
 * Peers whose address is in the allowlist are never scored nor banned.
 *
 * The table is bounded by max_keys. A new key first frees up to two stale
 * least-recently-used entries (not banned, no ban remembered, score below
 * 1/64).
 * If the table is still full, the entry evicted is, among the eight least
 * recently used entries that are not banned, the one without a remembered ban
 * and with the lowest score (the least recently used on a tie). If all eight
 * are banned the event is not recorded: a full table must never ban an
 * innocent peer, so it fails open and counts table_full. Banned entries are
 * never evicted; the ones seen are moved out of the way for the next scan.
 *
 * Time is a CLOCK_MONOTONIC millisecond count passed in by the caller.
 * Single-threaded: the caller serialises every call on one table.
 */
#ifndef TB_BANSCORE_H
#define TB_BANSCORE_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

#define TB_BAN_MAX_KEY   128u /* bytes */
#define TB_BAN_MAX_ALLOW 64u  /* allowlist entries */
#define TB_BAN_SEED_LEN  16u
#define TB_BAN_MAX_SHIFT 20u /* the ladder stops doubling after 20 bans */

struct tb_cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t prefix;   /* 0..32 or 0..128 */
};

struct tb_ban_conf {
	uint32_t threshold;          /* score that starts a ban, >= 1 */
	uint32_t half_life_ms;       /* >= 1 */
	uint64_t ban_base_ms;        /* first ban, >= 1 */
	uint64_t ban_max_ms;         /* cap of the ladder, >= ban_base_ms */
	uint64_t memory_ms;          /* ban count kept this long after a ban ends */
	uint32_t max_keys;           /* 1..1048576 */
	const struct tb_cidr *allow; /* borrowed during tb_ban_new() only */
	size_t n_allow;              /* 0..TB_BAN_MAX_ALLOW */
	/* Keys the hash; the daemon fills it from getrandom(). */
	uint8_t hash_seed[TB_BAN_SEED_LEN];
};

/* Results of tb_ban_add(); errors are negative enum tb_status values. */
enum tb_ban_result {
	TB_BAN_OK = 0,     /* scored (or not recorded: allowlisted, table full) */
	TB_BAN_BANNED = 1, /* this event started a ban, until *until_ms */
	TB_BAN_ALREADY = 2 /* the peer is banned already; the event is ignored */
};

struct tb_ban_counters {
	uint64_t scored;          /* events added to a score */
	uint64_t bans;            /* bans started */
	uint64_t banned_refusals; /* tb_ban_check() calls that found a ban */
	uint64_t evicted;         /* entries pushed out to make room (score lost) */
	uint64_t expired;         /* stale entries freed */
	uint64_t allowlisted;     /* events ignored: the address is allowlisted */
	uint64_t table_full;      /* events not recorded: table full of bans */
	uint64_t keys;            /* entries in the table now */
};

struct tb_ban_table;

/*
 * Function: tb_ban_parse_cidr
 * "127.0.0.0/8", "::1/128", or a bare address (a /32 or /128). Address bits
 * beyond the prefix must be zero ("10.1.2.3/8" is refused as a likely typo).
 * Returns: TB_OK, TB_ERR_INVAL.
 */
int tb_ban_parse_cidr(const char *s, struct tb_cidr *out);

/*
 * Function: tb_ban_new
 * Ownership: conf and its allowlist are copied.
 * Returns: a new table, or NULL when conf is invalid or memory is short.
 */
struct tb_ban_table *tb_ban_new(const struct tb_ban_conf *conf);
void tb_ban_free(struct tb_ban_table *t);

/*
 * Function: tb_ban_reconfigure
 * New settings for a table in use (a configuration reload): threshold,
 * half-life, ban times, memory and the allowlist; max_keys and hash_seed
 * must be those it was made with. Scores and bans are kept (a ban running
 * keeps its end; the new times apply to the next one).
 * Returns: TB_OK, or TB_ERR_INVAL with the table unchanged.
 */
int tb_ban_reconfigure(struct tb_ban_table *t, const struct tb_ban_conf *conf);

/*
 * Function: tb_ban_add
 * One violation of weight by peer key (address bytes or app identity) at
 * now_ms. addr (may be NULL) is the peer's address, for the allowlist; an
 * IPv4-mapped IPv6 address matches IPv4 entries. until_ms (may be NULL) is
 * set for TB_BAN_BANNED and TB_BAN_ALREADY, else 0.
 * Returns: an enum tb_ban_result, TB_ERR_TOOBIG (key longer than
 * TB_BAN_MAX_KEY), TB_ERR_INVAL, TB_ERR_NOMEM.
 */
int tb_ban_add(struct tb_ban_table *t, const void *key, size_t keylen, const struct sockaddr *addr,
               uint32_t weight, uint64_t now_ms, uint64_t *until_ms);

/*
 * Function: tb_ban_check
 * Whether the peer is banned at now_ms (counted in banned_refusals when it
 * is; until_ms, may be NULL, gets the ban's end). Allowlisted addresses and
 * keys that cannot be in the table are never banned.
 * Returns: 1 banned, 0 not banned.
 */
int tb_ban_check(struct tb_ban_table *t, const void *key, size_t keylen,
                 const struct sockaddr *addr, uint64_t now_ms, uint64_t *until_ms);

/* Whether addr (AF_INET or AF_INET6) is in the allowlist: 1 or 0. */
int tb_ban_allowlisted(const struct tb_ban_table *t, const struct sockaddr *addr);

/* A key's score at now_ms, in thousandths of a point (0 if unknown). */
uint64_t tb_ban_score_milli(const struct tb_ban_table *t, const void *key, size_t keylen,
                            uint64_t now_ms);

void tb_ban_counters(const struct tb_ban_table *t, struct tb_ban_counters *out);

#endif
