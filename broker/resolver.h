/*
 * TAM host names, resolved off the event loop. libwebsockets resolves
 * synchronously on the loop, so the broker connects to numeric addresses and
 * asks this resolver for them:
 *
 *   - a small pool of threads ([resolver] threads) runs the blocking lookups
 *     (getaddrinfo), several at once, from a bounded queue ([resolver]
 *     queue_size); a name that finds the queue full fails at once;
 *   - one lookup per name at a time: requests for a name being looked up
 *     wait on that lookup (coalesced), each for at most [resolver] timeout;
 *   - answers are kept ttl ([resolver] ttl, getaddrinfo gives no TTL), and
 *     failures negative_ttl, in a table of cache_size names (least recently
 *     used answers make room; names being looked up are never dropped; when
 *     every entry is a lookup in flight, a new name fails at once).
 *
 * Everything but the lookups themselves runs on the loop thread: ask with
 * tb_resolver_resolve(), and call tb_resolver_reap() when the loop is woken
 * (the pool wakes it when a lookup ends) -- the waiters' done() run there.
 * The clock, the lookup, the wake-up and the timer are replaceable (ops), so
 * that the logic can be tested without DNS and with a fake clock.
 */
#ifndef TB_RESOLVER_H
#define TB_RESOLVER_H

#include "conf.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define TB_RESOLVER_MAX_HOST    255
#define TB_RESOLVER_MAX_THREADS 64

struct tb_resolver;
struct tb_resolve; /* one request waiting for an answer */
struct lws_context;

enum tb_resolve_status {
	TB_RESOLVE_OK,      /* addr holds a numeric address */
	TB_RESOLVE_FAILED,  /* the lookup failed (now or cached): why says how */
	TB_RESOLVE_TIMEOUT, /* no answer within [resolver] timeout */
	TB_RESOLVE_FULL,    /* the queue or the name table is full */
	TB_RESOLVE_INVAL,   /* not a host name the resolver takes (length) */
	TB_RESOLVE_NOMEM,   /* out of memory */
	TB_RESOLVE_STOPPING /* the resolver is being freed */
};

struct tb_resolved {
	enum tb_resolve_status status;
	int cached;                  /* the answer came from the table */
	char addr[INET6_ADDRSTRLEN]; /* TB_RESOLVE_OK: IPv4 if the name has one */
	const char *why;             /* otherwise, for logs (a static string) */
};

typedef void (*tb_resolve_done_fn)(void *arg, const struct tb_resolved *res);

struct tb_resolver_ops {
	/* On a pool thread, may block: host's address as numeric text into
	 * addr; 0 or an EAI_* code (gai_strerror() gives the reason). */
	int (*lookup)(void *arg, const char *host, char *addr, size_t addr_len);
	uint64_t (*now_ms)(void *arg); /* a monotonic clock */
	/* From a pool thread: a lookup ended, run tb_resolver_reap() on the
	 * loop thread soon. */
	void (*wake)(void *arg);
	/* Loop thread: run tb_resolver_expire() in delay_ms (replaces an
	 * earlier request). */
	void (*arm)(void *arg, uint64_t delay_ms);
	void *arg;
};

struct tb_resolver_stats {
	uint64_t lookups;  /* lookups started */
	uint64_t hits;     /* requests answered from the table */
	uint64_t joined;   /* requests that waited on a lookup already started */
	uint64_t failures; /* lookups that failed */
	uint64_t timeouts; /* requests that waited [resolver] timeout */
	uint64_t refused;  /* requests refused: queue or table full */
};

/*
 * Start the pool. ops NULL: getaddrinfo (IPv4 first), tb_now_ms, and the
 * loop given later with tb_resolver_set_loop() (woken with
 * lws_cancel_service(), timed with an lws timer). The conf is copied.
 * NULL when the threads or the memory cannot be had.
 */
struct tb_resolver *tb_resolver_new(const struct tb_conf_resolver *conf,
                                    const struct tb_resolver_ops *ops);
/* The loop to wake and time (default ops only); NULL before the loop goes
 * away: no more wake-ups, the timer is cancelled. */
void tb_resolver_set_loop(struct tb_resolver *r, struct lws_context *ctx);
/*
 * Loop thread: host's address. When the answer is known at once (from the
 * table, or a refusal) returns NULL and fills *now. Otherwise returns the
 * request, and done(arg, res) runs exactly once, later, from
 * tb_resolver_reap(), tb_resolver_expire() or tb_resolver_free().
 */
struct tb_resolve *tb_resolver_resolve(struct tb_resolver *r, const char *host,
                                       tb_resolve_done_fn done, void *arg, struct tb_resolved *now);
/* Loop thread: answer the requests whose lookups ended. */
void tb_resolver_reap(struct tb_resolver *r);
/* Loop thread: fail the requests that waited [resolver] timeout. */
void tb_resolver_expire(struct tb_resolver *r);
void tb_resolver_get_stats(const struct tb_resolver *r, struct tb_resolver_stats *st);
/*
 * Fail every request still waiting (TB_RESOLVE_STOPPING), drop the queued
 * lookups and wait up to timeout_ms for those running. Returns 0 when all
 * threads ended and r is freed; -1 when one is still stuck in a lookup (r
 * is then left allocated for it, and the threads detached).
 */
int tb_resolver_free(struct tb_resolver *r, unsigned timeout_ms);

#endif
