/*
 * Request rate limiting with the semantics of nginx limit_req: a leaky bucket
 * per key (peer address or app identity) kept in milli-requests.
 *
 *   ms     = now - last              (clock skew: < -60000 -> 1, < 0 -> 0)
 *   excess = max(0, excess - rate * ms / 1000 + 1000)
 *   excess > burst * 1000   -> reject; nothing is consumed
 *   excess > delay * 1000   -> delay by (excess - delay * 1000) * 1000 / rate ms
 *   otherwise               -> pass
 *
 * The first request of a new key passes with excess 0, as in nginx. A zone is
 * one table of keys with one configuration; a request may be checked against
 * several zones at once, all or nothing (tb_rl_check_all).
 *
 * The table holds at most max_keys keys. Each new key first frees up to two
 * least-recently-used keys that have been idle for idle_expire_ms and whose
 * excess has drained to 0; if the table is still full, the least recently
 * used unpinned key is evicted. If every key is pinned the new key is refused
 * with TB_RL_FULL (fail closed).
 *
 * Time is a CLOCK_MONOTONIC millisecond count passed in by the caller.
 * Single-threaded: the caller serialises every call on one zone.
 */
#ifndef TB_RATELIMIT_H
#define TB_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define TB_RL_MAX_KEY     128u /* bytes */
#define TB_RL_MAX_ZONES   8u   /* zones one tb_rl_check_all() call may name */
#define TB_RL_NODELAY     UINT32_MAX
#define TB_RL_SEED_LEN    16u
#define TB_RL_IDLE_EXPIRE 60000u /* ms, nginx's fixed value */

struct tb_rl_conf {
	/* requests per second x1000 (nginx's rate); r/m is x1000/60 */
	uint32_t rate_milli_per_s;
	/* requests above the rate held (delayed or passed) before refusing */
	uint32_t burst;
	/* requests above the rate served at once before delaying; nodelay is
	 * TB_RL_NODELAY (UINT32_MAX) */
	uint32_t delay;
	int dry_run;             /* decide and count, never delay nor refuse */
	uint32_t max_keys;       /* 1..1048576 */
	uint32_t idle_expire_ms; /* TB_RL_IDLE_EXPIRE, as nginx */
	/* Keys the hash; the daemon fills it from getrandom(). All zeros is
	 * valid (tests) but lets a client that knows it aim for one chain. */
	uint8_t hash_seed[TB_RL_SEED_LEN];
};

/* Results of tb_rl_check() and tb_rl_check_all(); errors are negative
 * enum tb_status values. */
enum tb_rl_result {
	TB_RL_PASS = 0,
	TB_RL_DELAY,        /* serve after *delay_ms */
	TB_RL_REJECT,       /* above burst: refuse ("busy") */
	TB_RL_FULL,         /* new key, table full of pinned keys: refuse */
	TB_RL_DRYRUN_REJECT /* dry run: would have been refused; serve it */
};

struct tb_rl_counters {
	uint64_t passed;           /* served at once */
	uint64_t delayed;          /* served after a delay */
	uint64_t rejected;         /* refused above burst */
	uint64_t dry_run_rejected; /* dry run: refused (or table full), served anyway */
	uint64_t dry_run_delayed;  /* dry run: would have been delayed, served at once */
	uint64_t table_full;       /* new key found the table full of pinned keys */
	uint64_t evicted;          /* keys pushed out to make room (state lost early) */
	uint64_t expired;          /* idle, fully drained keys freed */
	uint64_t keys;             /* keys in the table now */
};

struct tb_rl_key {
	const void *data;
	size_t len; /* 0..TB_RL_MAX_KEY */
};

struct tb_rl_zone;

/*
 * Function: tb_rl_parse_rate
 * "10r/s" or "30r/m" (a positive decimal count, no spaces) into requests per
 * second x1000; r/m is rounded down and must not round to 0.
 * Returns: TB_OK, TB_ERR_INVAL.
 */
int tb_rl_parse_rate(const char *s, uint32_t *rate_milli);

/*
 * Function: tb_rl_zone_new
 * Ownership: conf is copied.
 * Returns: a new zone, or NULL when conf is invalid (rate 0, max_keys 0 or
 * above 1048576) or memory is short.
 */
struct tb_rl_zone *tb_rl_zone_new(const struct tb_rl_conf *conf);
void tb_rl_zone_free(struct tb_rl_zone *z);

/*
 * Function: tb_rl_check
 * Account one request of key in zone z at now_ms. delay_ms (may be NULL) is
 * set for TB_RL_DELAY and 0 otherwise.
 * Returns: an enum tb_rl_result, or TB_ERR_TOOBIG (key longer than
 * TB_RL_MAX_KEY), TB_ERR_INVAL, TB_ERR_NOMEM (treat the last two as a refusal).
 */
int tb_rl_check(struct tb_rl_zone *z, const void *key, size_t keylen, uint64_t now_ms,
                uint64_t *delay_ms);

/*
 * Function: tb_rl_check_all
 * One request against n zones (1..TB_RL_MAX_ZONES, each at most once) with
 * keys[i] in zones[i]. Every zone is checked read-only first; only if none
 * refuses is the request accounted in all of them, so a refused request
 * consumes nothing anywhere. The delay is the largest of the zones'. A
 * dry-run zone never refuses: it counts, and its verdict shows only as
 * TB_RL_DRYRUN_REJECT when no other zone delays.
 * Returns: as tb_rl_check(); the first refusal in zone order wins.
 */
int tb_rl_check_all(struct tb_rl_zone *const zones[], const struct tb_rl_key keys[], size_t n,
                    uint64_t now_ms, uint64_t *delay_ms);

/*
 * Function: tb_rl_pin / tb_rl_unpin
 * A pinned key is never evicted or expired: pin it while a delayed request of
 * that key waits, unpin when it is served or dropped. Pins nest.
 * Returns: TB_OK, TB_ERR_NOTFOUND (key not in the table), TB_ERR_STATE
 * (unpin of a key that is not pinned), TB_ERR_TOOBIG.
 */
int tb_rl_pin(struct tb_rl_zone *z, const void *key, size_t keylen);
int tb_rl_unpin(struct tb_rl_zone *z, const void *key, size_t keylen);

/*
 * Function: tb_rl_peek
 * A key's stored state, unchanged by the call (for tests and statistics).
 * Returns: TB_OK, TB_ERR_NOTFOUND, TB_ERR_TOOBIG.
 */
int tb_rl_peek(const struct tb_rl_zone *z, const void *key, size_t keylen, uint64_t *excess_milli,
               uint64_t *last_ms);

void tb_rl_counters(const struct tb_rl_zone *z, struct tb_rl_counters *out);

#endif
