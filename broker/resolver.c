/*
 * The resolver (resolver.h): a table of names, a queue of lookups and the
 * threads that run them.
 *
 * A name's entry is "busy" from the moment its lookup is queued until the
 * loop thread has reaped the answer; meanwhile the pool owns its lookup
 * fields and the entry is never reused, and requests for the name join its
 * waiters. Once reaped, the answer is kept (ttl or negative_ttl) and serves
 * later requests at once, until it expires or the least recently used
 * answer makes room for a new name.
 *
 * Locking: lock guards the queue, the list of ended lookups, the counts of
 * the pool and the loop of the default ops. Everything else belongs to the
 * loop thread.
 */
#include "config.h"
#include "resolver.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

struct rname {
	char host[TB_RESOLVER_MAX_HOST + 1]; /* "": a free entry */
	int busy;                            /* its lookup is queued, running or unreaped */
	int answered;                        /* rc and addr hold an answer until expires_ms */
	int rc;                              /* 0 or an EAI_* code */
	char addr[INET6_ADDRSTRLEN];
	uint64_t expires_ms;
	uint64_t used_ms; /* last asked for */
	struct tb_resolve *waiters, **waiters_tail;
	/* the lookup, under lock while busy */
	struct rname *qnext; /* in the queue, then in the ended list */
	int lookup_rc;
	char lookup_addr[INET6_ADDRSTRLEN];
};

struct tb_resolve {
	struct tb_resolve *next;
	uint64_t deadline_ms;
	tb_resolve_done_fn done;
	void *arg;
};

struct tb_resolver {
	struct tb_conf_resolver conf;
	struct tb_resolver_ops ops;
	struct rname *names;
	size_t n_names;
	uint64_t armed_for; /* the expiry timer is set for then; 0: not set */
	struct tb_resolver_stats stats;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t threads[TB_RESOLVER_MAX_THREADS];
	size_t n_threads;
	struct rname *queue_head, *queue_tail;
	size_t queued;
	struct rname *ended_head, *ended_tail;
	unsigned running; /* lookups in progress */
	int stop;

	/* default ops */
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
};

/* ---- default ops: getaddrinfo, tb_now_ms, the lws loop ------------------- */

static int gai_lookup(void *arg, const char *host, char *addr, size_t addr_len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	(void)arg;
	/* IPv4 first when a name has both (dual-stack hosts such as
	 * "localhost"), else whatever the resolver gave */
	const struct addrinfo *pick = res;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
	if (rc == 0 && pick) {
		const void *a =
		    pick->ai_family == AF_INET6
		        ? (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
		        : (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr;
		if (!inet_ntop(pick->ai_family, a, addr, (socklen_t)addr_len))
			rc = EAI_FAIL;
	} else if (rc == 0) {
		rc = EAI_NONAME;
	}
	if (res)
		freeaddrinfo(res);
	return rc;
}

static uint64_t lws_now(void *arg)
{
	(void)arg;
	return tb_now_ms();
}

/* under lock */
static void lws_wake(void *arg)
{
	struct tb_resolver *r = arg;

	if (r->ctx)
		lws_cancel_service(r->ctx);
}

static void sul_expire(lws_sorted_usec_list_t *sul)
{
	tb_resolver_expire(lws_container_of(sul, struct tb_resolver, sul));
}

static void lws_arm(void *arg, uint64_t delay_ms)
{
	struct tb_resolver *r = arg;

	if (r->ctx)
		lws_sul_schedule(r->ctx, 0, &r->sul, sul_expire,
		                 (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

void tb_resolver_set_loop(struct tb_resolver *r, struct lws_context *ctx)
{
	pthread_mutex_lock(&r->lock);
	if (!ctx && r->ctx)
		lws_sul_cancel(&r->sul);
	r->ctx = ctx;
	pthread_mutex_unlock(&r->lock);
	r->armed_for = 0;
}

static void clear(struct rname *e)
{
	memset(e, 0, sizeof(*e));
	e->waiters_tail = &e->waiters;
}

/* ---- the pool ---------------------------------------------------------- */

static void *pool_main(void *arg)
{
	struct tb_resolver *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->queue_head && !r->stop)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop)
			break;
		struct rname *e = r->queue_head;
		r->queue_head = e->qnext;
		if (!r->queue_head)
			r->queue_tail = NULL;
		r->queued--;
		r->running++;
		pthread_mutex_unlock(&r->lock);

		/* host does not change while the entry is busy */
		char addr[INET6_ADDRSTRLEN] = "";
		int rc = r->ops.lookup(r->ops.arg, e->host, addr, sizeof(addr));

		pthread_mutex_lock(&r->lock);
		e->lookup_rc = rc;
		memcpy(e->lookup_addr, addr, sizeof(addr));
		e->qnext = NULL;
		if (r->ended_tail)
			r->ended_tail->qnext = e;
		else
			r->ended_head = e;
		r->ended_tail = e;
		r->running--;
		pthread_cond_broadcast(&r->cond);
		if (r->ops.wake)
			r->ops.wake(r->ops.arg);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct tb_resolver *tb_resolver_new(const struct tb_conf_resolver *conf,
                                    const struct tb_resolver_ops *ops)
{
	if (!conf->threads || conf->threads > TB_RESOLVER_MAX_THREADS || !conf->cache_size ||
	    !conf->queue_size)
		return NULL;
	struct tb_resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->conf = *conf;
	if (ops) {
		r->ops = *ops;
	} else {
		r->ops.lookup = gai_lookup;
		r->ops.now_ms = lws_now;
		r->ops.wake = lws_wake;
		r->ops.arm = lws_arm;
		r->ops.arg = r;
	}
	r->names = calloc(conf->cache_size, sizeof(*r->names));
	if (!r->names) {
		free(r);
		return NULL;
	}
	r->n_names = conf->cache_size;
	for (size_t i = 0; i < r->n_names; i++)
		clear(&r->names[i]);
	if (pthread_mutex_init(&r->lock, NULL))
		goto fail_names;
	if (pthread_cond_init(&r->cond, NULL))
		goto fail_lock;
	for (size_t i = 0; i < conf->threads; i++) {
		if (pthread_create(&r->threads[i], NULL, pool_main, r))
			goto fail_threads;
		r->n_threads++;
	}
	return r;

fail_threads:
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	pthread_cond_destroy(&r->cond);
fail_lock:
	pthread_mutex_destroy(&r->lock);
fail_names:
	free(r->names);
	free(r);
	return NULL;
}

/* ---- the table, on the loop thread -------------------------------------- */

static struct rname *find(struct tb_resolver *r, const char *host)
{
	for (size_t i = 0; i < r->n_names; i++)
		if (r->names[i].host[0] && !strcasecmp(r->names[i].host, host))
			return &r->names[i];
	return NULL;
}

/* An entry for a new name: a free one, else the answer that expired or, if
 * none has, was asked for least recently. NULL: every entry is busy. */
static struct rname *take(struct tb_resolver *r, uint64_t now)
{
	struct rname *pick = NULL;

	for (size_t i = 0; i < r->n_names; i++) {
		struct rname *e = &r->names[i];
		if (!e->host[0]) {
			pick = e;
			break;
		}
		if (e->busy)
			continue;
		if (!pick || (e->expires_ms <= now && pick->expires_ms > now) ||
		    ((e->expires_ms <= now) == (pick->expires_ms <= now) &&
		     e->used_ms < pick->used_ms))
			pick = e;
	}
	if (pick)
		clear(pick);
	return pick;
}

/* The expiry timer is set for the earliest deadline of a waiting request. */
static void rearm(struct tb_resolver *r, uint64_t now)
{
	uint64_t next = 0;

	for (size_t i = 0; i < r->n_names; i++)
		for (struct tb_resolve *w = r->names[i].waiters; w; w = w->next)
			if (!next || w->deadline_ms < next)
				next = w->deadline_ms;
	if (!next || (r->armed_for && r->armed_for <= next))
		return; /* an earlier expiry re-arms for what is left */
	r->armed_for = next;
	if (r->ops.arm)
		r->ops.arm(r->ops.arg, next > now ? next - now : 0);
}

static void fill(struct tb_resolved *res, enum tb_resolve_status st, const char *why)
{
	memset(res, 0, sizeof(*res));
	res->status = st;
	res->why = why;
}

static void answer(struct tb_resolved *res, const struct rname *e, int cached)
{
	fill(res, e->rc ? TB_RESOLVE_FAILED : TB_RESOLVE_OK, e->rc ? gai_strerror(e->rc) : NULL);
	res->cached = cached;
	if (!e->rc)
		memcpy(res->addr, e->addr, sizeof(res->addr));
}

struct tb_resolve *tb_resolver_resolve(struct tb_resolver *r, const char *host,
                                       tb_resolve_done_fn done, void *arg, struct tb_resolved *now)
{
	size_t len = host ? strlen(host) : 0;

	if (!len || len > TB_RESOLVER_MAX_HOST) {
		fill(now, TB_RESOLVE_INVAL, "not a host name the resolver takes");
		return NULL;
	}
	uint64_t t = r->ops.now_ms(r->ops.arg);
	struct rname *e = find(r, host);
	if (e && !e->busy && e->answered && t < e->expires_ms) {
		e->used_ms = t;
		r->stats.hits++;
		answer(now, e, 1);
		return NULL;
	}

	struct tb_resolve *w = calloc(1, sizeof(*w));
	if (!w) {
		fill(now, TB_RESOLVE_NOMEM, "out of memory");
		return NULL;
	}
	w->done = done;
	w->arg = arg;
	w->deadline_ms = t + r->conf.timeout_ms;

	if (e && e->busy) {
		r->stats.joined++;
	} else {
		int fresh = !e;
		if (fresh && !(e = take(r, t))) {
			free(w);
			r->stats.refused++;
			fill(now, TB_RESOLVE_FULL, "too many names being resolved at once");
			return NULL;
		}
		if (fresh)
			memcpy(e->host, host, len + 1);
		const char *why = NULL;
		enum tb_resolve_status st = TB_RESOLVE_FULL;
		pthread_mutex_lock(&r->lock);
		if (r->stop) {
			why = "the resolver is stopping";
			st = TB_RESOLVE_STOPPING;
		} else if (r->queued >= r->conf.queue_size) {
			why = "the name resolution queue is full";
		} else {
			e->qnext = NULL;
			if (r->queue_tail)
				r->queue_tail->qnext = e;
			else
				r->queue_head = e;
			r->queue_tail = e;
			r->queued++;
			pthread_cond_signal(&r->cond);
		}
		pthread_mutex_unlock(&r->lock);
		if (why) {
			if (fresh)
				clear(e);
			free(w);
			r->stats.refused++;
			fill(now, st, why);
			return NULL;
		}
		e->busy = 1;
		e->answered = 0;
		r->stats.lookups++;
	}
	e->used_ms = t;
	*e->waiters_tail = w;
	e->waiters_tail = &w->next;
	if (!r->armed_for)
		rearm(r, t);
	return w;
}

static void run_done(struct tb_resolve *list, const struct tb_resolved *res)
{
	while (list) {
		struct tb_resolve *w = list;
		list = w->next;
		w->done(w->arg, res);
		free(w);
	}
}

void tb_resolver_reap(struct tb_resolver *r)
{
	pthread_mutex_lock(&r->lock);
	struct rname *e = r->ended_head;
	r->ended_head = r->ended_tail = NULL;
	pthread_mutex_unlock(&r->lock);
	if (!e)
		return;

	uint64_t t = r->ops.now_ms(r->ops.arg);
	while (e) {
		/* a done() may ask again: the entries not reaped yet are still
		 * busy, so it only joins them */
		struct rname *next = e->qnext;
		e->qnext = NULL;
		e->busy = 0;
		e->answered = 1;
		e->rc = e->lookup_rc;
		memcpy(e->addr, e->lookup_addr, sizeof(e->addr));
		uint64_t ttl = e->rc ? r->conf.negative_ttl_ms : r->conf.ttl_ms;
		e->expires_ms = t + ttl;
		if (e->rc)
			r->stats.failures++;

		struct tb_resolved res;
		answer(&res, e, 0);
		struct tb_resolve *waiters = e->waiters;
		e->waiters = NULL;
		e->waiters_tail = &e->waiters;
		if (!ttl)
			clear(e); /* used by its waiters only */
		run_done(waiters, &res);
		e = next;
	}
}

void tb_resolver_expire(struct tb_resolver *r)
{
	uint64_t t = r->ops.now_ms(r->ops.arg);
	struct tb_resolve *due = NULL, **due_tail = &due;

	r->armed_for = 0;
	for (size_t i = 0; i < r->n_names; i++) {
		struct rname *e = &r->names[i];
		struct tb_resolve **pp = &e->waiters;
		while (*pp) {
			struct tb_resolve *w = *pp;
			if (w->deadline_ms > t) {
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			w->next = NULL;
			*due_tail = w;
			due_tail = &w->next;
			r->stats.timeouts++;
		}
		e->waiters_tail = pp;
	}
	rearm(r, t);
	/* the lookups go on: their answers serve the next requests */
	struct tb_resolved res;
	fill(&res, TB_RESOLVE_TIMEOUT, "no answer in time");
	run_done(due, &res);
}

void tb_resolver_get_stats(const struct tb_resolver *r, struct tb_resolver_stats *st)
{
	*st = r->stats;
}

int tb_resolver_free(struct tb_resolver *r, unsigned timeout_ms)
{
	if (!r)
		return 0;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	r->ctx = NULL;                        /* tb_resolver_set_loop(r, NULL) came first */
	r->queue_head = r->queue_tail = NULL; /* not looked up any more */
	r->queued = 0;
	pthread_cond_broadcast(&r->cond);
	int rc = 0;
	while (r->running && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&r->cond, &r->lock, &deadline);
	int stuck = r->running != 0;
	pthread_mutex_unlock(&r->lock);

	/* nobody waits any more */
	struct tb_resolved res;
	fill(&res, TB_RESOLVE_STOPPING, "the resolver is stopping");
	for (size_t i = 0; i < r->n_names; i++) {
		struct tb_resolve *waiters = r->names[i].waiters;
		r->names[i].waiters = NULL;
		r->names[i].waiters_tail = &r->names[i].waiters;
		run_done(waiters, &res);
	}

	if (stuck) {
		/* a thread is still in a lookup and will touch r when it
		 * returns: r stays */
		for (size_t i = 0; i < r->n_threads; i++)
			pthread_detach(r->threads[i]);
		return -1;
	}
	for (size_t i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r->names);
	free(r);
	return 0;
}
