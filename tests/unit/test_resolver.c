/*
 * Unit tests of the resolver (broker/resolver.c): its table, coalescing,
 * expiry, bounds and pool, with a fake lookup that answers from a script
 * and waits until the test opens its gate, and a fake clock. No DNS.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <teep-broker/driver.h>

#include "resolver.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <time.h>

#define WAIT_MS 5000 /* bound of every wait for the pool */

/* ---- fakes --------------------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned started; /* lookups that entered the fake */
	unsigned inside;  /* lookups in it now */
	unsigned max_inside;
	unsigned ended; /* wake-ups: lookups that ended */
	int gate_open;
	char last_host[256];
} fk = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static uint64_t clock_ms;
static unsigned ended_so_far; /* lookups finish() has waited for */
static uint64_t armed_delay;
static unsigned arms;

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* "bad.*" does not resolve; "v6.*" is IPv6 only; any other name is
 * 192.0.2.N, N its length. Waits for the gate (bounded). */
static int fake_lookup(void *arg, const char *host, char *addr, size_t addr_len)
{
	struct timespec ts;
	int rc = 0;

	(void)arg;
	deadline_in(&ts, WAIT_MS);
	pthread_mutex_lock(&fk.lock);
	fk.started++;
	fk.inside++;
	if (fk.inside > fk.max_inside)
		fk.max_inside = fk.inside;
	snprintf(fk.last_host, sizeof(fk.last_host), "%s", host);
	pthread_cond_broadcast(&fk.cond);
	while (!fk.gate_open && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
	fk.inside--;
	pthread_mutex_unlock(&fk.lock);
	if (rc == ETIMEDOUT)
		return EAI_AGAIN;
	if (!strncmp(host, "bad.", 4))
		return EAI_NONAME;
	if (!strncmp(host, "v6.", 3))
		snprintf(addr, addr_len, "2001:db8::1");
	else
		snprintf(addr, addr_len, "192.0.2.%zu", strlen(host));
	return 0;
}

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static void fake_wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fk.lock);
	fk.ended++;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

static void fake_arm(void *arg, uint64_t delay_ms)
{
	(void)arg;
	armed_delay = delay_ms;
	arms++;
}

static const struct tb_resolver_ops fake_ops = {
    .lookup = fake_lookup, .now_ms = fake_now, .wake = fake_wake, .arm = fake_arm};

static void gate(int open)
{
	pthread_mutex_lock(&fk.lock);
	fk.gate_open = open;
	pthread_cond_broadcast(&fk.cond);
	pthread_mutex_unlock(&fk.lock);
}

/* Wait (bounded) until *counter reaches n. */
static void wait_for(const unsigned *counter, unsigned n)
{
	struct timespec ts;
	int rc = 0;

	deadline_in(&ts, WAIT_MS);
	pthread_mutex_lock(&fk.lock);
	while (*counter < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fk.cond, &fk.lock, &ts);
	unsigned got = *counter;
	pthread_mutex_unlock(&fk.lock);
	assert_true(got >= n);
}

static unsigned get(const unsigned *counter)
{
	pthread_mutex_lock(&fk.lock);
	unsigned v = *counter;
	pthread_mutex_unlock(&fk.lock);
	return v;
}

/* What done() received. */
struct answer {
	int calls;
	struct tb_resolved res;
};

static void on_done(void *arg, const struct tb_resolved *res)
{
	struct answer *a = arg;
	a->calls++;
	a->res = *res;
}

static struct tb_conf_resolver conf;

static int setup(void **state)
{
	(void)state;
	pthread_mutex_lock(&fk.lock);
	fk.started = fk.inside = fk.max_inside = fk.ended = 0;
	fk.gate_open = 1;
	pthread_mutex_unlock(&fk.lock);
	clock_ms = 1000;
	ended_so_far = 0;
	armed_delay = 0;
	arms = 0;
	conf = (struct tb_conf_resolver){.threads = 2,
	                                 .queue_size = 8,
	                                 .cache_size = 8,
	                                 .ttl_ms = 30000,
	                                 .negative_ttl_ms = 5000,
	                                 .timeout_ms = 10000};
	return 0;
}

static struct tb_resolver *new_resolver(void)
{
	struct tb_resolver *r = tb_resolver_new(&conf, &fake_ops);
	assert_non_null(r);
	return r;
}

static void free_resolver(struct tb_resolver *r)
{
	gate(1);
	assert_int_equal(tb_resolver_free(r, WAIT_MS), 0);
}

/* Ask for host; the lookup must be pending. */
static void ask_pending(struct tb_resolver *r, const char *host, struct answer *a)
{
	struct tb_resolved now;
	assert_non_null(tb_resolver_resolve(r, host, on_done, a, &now));
}

/* Ask for host; the answer must come at once. */
static struct tb_resolved ask_now(struct tb_resolver *r, const char *host)
{
	struct tb_resolved now;
	struct answer a = {0};
	assert_null(tb_resolver_resolve(r, host, on_done, &a, &now));
	assert_int_equal(a.calls, 0);
	return now;
}

/* Let n more lookups end, then reap them. */
static void finish(struct tb_resolver *r, unsigned n)
{
	gate(1);
	ended_so_far += n;
	wait_for(&fk.ended, ended_so_far);
	tb_resolver_reap(r);
}

/* ---- tests --------------------------------------------------------------- */

static void resolver__first_request__looks_up_then_answers_from_the_cache(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a = {0};

	gate(0);
	ask_pending(r, "tam.example", &a);
	wait_for(&fk.started, 1);
	assert_int_equal(a.calls, 0);
	finish(r, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_OK);
	assert_string_equal(a.res.addr, "192.0.2.11");
	assert_int_equal(a.res.cached, 0);

	/* again, and in another case: from the cache, no lookup */
	struct tb_resolved now = ask_now(r, "TAM.Example");
	assert_int_equal(now.status, TB_RESOLVE_OK);
	assert_string_equal(now.addr, "192.0.2.11");
	assert_int_equal(now.cached, 1);
	assert_int_equal(get(&fk.started), 1);

	struct tb_resolver_stats st;
	tb_resolver_get_stats(r, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.hits, 1);
	free_resolver(r);
}

static void resolver__concurrent_requests__share_one_lookup(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a[16] = {{0}};

	gate(0);
	for (int i = 0; i < 16; i++)
		ask_pending(r, "tam.example", &a[i]);
	wait_for(&fk.started, 1);
	finish(r, 1);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].res.status, TB_RESOLVE_OK);
		assert_string_equal(a[i].res.addr, "192.0.2.11");
	}
	assert_int_equal(get(&fk.started), 1);
	struct tb_resolver_stats st;
	tb_resolver_get_stats(r, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.joined, 15);
	free_resolver(r);
}

static void resolver__answer_expires__after_ttl(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a = {0}, b = {0};

	ask_pending(r, "tam.example", &a);
	finish(r, 1);
	clock_ms += conf.ttl_ms - 1;
	assert_int_equal(ask_now(r, "tam.example").status, TB_RESOLVE_OK);
	clock_ms += 1; /* expired: looked up again */
	ask_pending(r, "tam.example", &b);
	finish(r, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res.status, TB_RESOLVE_OK);
	assert_int_equal(get(&fk.started), 2);
	free_resolver(r);
}

static void resolver__failure__is_cached_for_negative_ttl(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a = {0}, b = {0};

	ask_pending(r, "bad.example", &a);
	finish(r, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_FAILED);
	assert_string_equal(a.res.why, gai_strerror(EAI_NONAME));

	clock_ms += conf.negative_ttl_ms - 1;
	struct tb_resolved now = ask_now(r, "bad.example");
	assert_int_equal(now.status, TB_RESOLVE_FAILED);
	assert_int_equal(now.cached, 1);
	assert_int_equal(get(&fk.started), 1);

	clock_ms += 1;
	ask_pending(r, "bad.example", &b);
	finish(r, 1);
	assert_int_equal(b.res.status, TB_RESOLVE_FAILED);
	assert_int_equal(get(&fk.started), 2);
	struct tb_resolver_stats st;
	tb_resolver_get_stats(r, &st);
	assert_int_equal(st.failures, 2);
	free_resolver(r);
}

static void resolver__ttl_zero__answers_only_its_waiters(void **state)
{
	struct answer a = {0}, b = {0}, c = {0};

	conf.ttl_ms = 0;
	conf.negative_ttl_ms = 0;
	struct tb_resolver *r = new_resolver();
	gate(0);
	ask_pending(r, "tam.example", &a);
	ask_pending(r, "tam.example", &b); /* still coalesced */
	wait_for(&fk.started, 1);
	finish(r, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_OK);
	assert_int_equal(b.res.status, TB_RESOLVE_OK);
	ask_pending(r, "tam.example", &c); /* not kept */
	finish(r, 1);
	assert_int_equal(c.res.status, TB_RESOLVE_OK);
	assert_int_equal(get(&fk.started), 2);
	free_resolver(r);
}

static void resolver__slow_lookup__times_out_its_waiters_and_answers_later(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a = {0}, b = {0};

	gate(0);
	ask_pending(r, "slow.example", &a);
	wait_for(&fk.started, 1);
	assert_int_equal(arms, 1);
	assert_int_equal(armed_delay, conf.timeout_ms);

	clock_ms += 4000;
	ask_pending(r, "slow.example", &b); /* joins, with its own deadline */
	clock_ms += conf.timeout_ms - 4000;
	tb_resolver_expire(r);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_TIMEOUT);
	assert_int_equal(b.calls, 0);
	assert_int_equal(armed_delay, 4000); /* for b */

	clock_ms += 4000;
	tb_resolver_expire(r);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res.status, TB_RESOLVE_TIMEOUT);

	/* the lookup ends after all: its answer serves the next request */
	finish(r, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	struct tb_resolved now = ask_now(r, "slow.example");
	assert_int_equal(now.status, TB_RESOLVE_OK);
	assert_int_equal(get(&fk.started), 1);
	struct tb_resolver_stats st;
	tb_resolver_get_stats(r, &st);
	assert_int_equal(st.timeouts, 2);
	free_resolver(r);
}

static void resolver__distinct_names__are_looked_up_at_once(void **state)
{
	static const char *names[4] = {"a.example", "bb.example", "ccc.example", "dddd.example"};
	struct answer a[4] = {{0}};

	conf.threads = 4;
	struct tb_resolver *r = new_resolver();
	gate(0);
	for (int i = 0; i < 4; i++)
		ask_pending(r, names[i], &a[i]);
	/* all four are inside the lookup together, none has ended */
	wait_for(&fk.inside, 4);
	assert_int_equal(get(&fk.ended), 0);
	finish(r, 4);
	for (int i = 0; i < 4; i++) {
		char want[32];
		snprintf(want, sizeof(want), "192.0.2.%zu", strlen(names[i]));
		assert_int_equal(a[i].calls, 1);
		assert_string_equal(a[i].res.addr, want);
	}
	assert_int_equal(get(&fk.max_inside), 4);
	free_resolver(r);
}

static void resolver__queue_full__refuses_at_once(void **state)
{
	struct answer a = {0}, b = {0};

	conf.threads = 1;
	conf.queue_size = 1;
	struct tb_resolver *r = new_resolver();
	gate(0);
	ask_pending(r, "a.example", &a);
	wait_for(&fk.started, 1); /* running: the queue is empty */
	ask_pending(r, "b.example", &b);
	struct tb_resolved now = ask_now(r, "c.example");
	assert_int_equal(now.status, TB_RESOLVE_FULL);
	assert_non_null(strstr(now.why, "queue is full"));
	/* a name already queued is still joined */
	struct answer b2 = {0};
	ask_pending(r, "b.example", &b2);

	finish(r, 2);
	assert_int_equal(a.res.status, TB_RESOLVE_OK);
	assert_int_equal(b.res.status, TB_RESOLVE_OK);
	assert_int_equal(b2.res.status, TB_RESOLVE_OK);
	struct tb_resolver_stats st;
	tb_resolver_get_stats(r, &st);
	assert_int_equal(st.refused, 1);
	free_resolver(r);
}

static void resolver__table_full__refuses_then_replaces_the_oldest_answer(void **state)
{
	struct answer a = {0}, b = {0}, c = {0};

	conf.cache_size = 2;
	struct tb_resolver *r = new_resolver();
	gate(0);
	ask_pending(r, "a.example", &a);
	ask_pending(r, "b.example", &b);
	struct tb_resolved now = ask_now(r, "c.example"); /* both entries in flight */
	assert_int_equal(now.status, TB_RESOLVE_FULL);
	assert_non_null(strstr(now.why, "too many names"));
	finish(r, 2);

	clock_ms += 10;
	assert_int_equal(ask_now(r, "b.example").status, TB_RESOLVE_OK); /* b used last */
	ask_pending(r, "c.example", &c);                                 /* replaces a */
	finish(r, 1);
	assert_int_equal(c.res.status, TB_RESOLVE_OK);
	assert_int_equal(ask_now(r, "b.example").status, TB_RESOLVE_OK);
	unsigned before = get(&fk.started);
	struct answer a2 = {0};
	ask_pending(r, "a.example", &a2); /* forgotten: looked up again */
	finish(r, 1);
	assert_int_equal(get(&fk.started), before + 1);
	free_resolver(r);
}

static void resolver__bad_names__are_refused(void **state)
{
	struct tb_resolver *r = new_resolver();
	char longname[TB_RESOLVER_MAX_HOST + 2];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(ask_now(r, longname).status, TB_RESOLVE_INVAL);
	assert_int_equal(ask_now(r, "").status, TB_RESOLVE_INVAL);
	longname[TB_RESOLVER_MAX_HOST] = 0; /* the longest name taken */
	struct answer a = {0};
	ask_pending(r, longname, &a);
	finish(r, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_OK);
	free_resolver(r);
}

static void resolver__free__answers_the_waiters_stopping(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct answer a = {0}, b = {0};

	gate(0);
	ask_pending(r, "a.example", &a);
	ask_pending(r, "a.example", &b);
	wait_for(&fk.started, 1);
	gate(1);
	assert_int_equal(tb_resolver_free(r, WAIT_MS), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res.status, TB_RESOLVE_STOPPING);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res.status, TB_RESOLVE_STOPPING);
}

/* A done() that asks again for the name it was answered (a session's next
 * POST): served from the cache, while later entries wait their turn. */
struct again {
	struct tb_resolver *r;
	struct tb_resolved second;
	int calls;
};

static void on_done_again(void *arg, const struct tb_resolved *res)
{
	struct again *g = arg;
	struct answer dummy = {0};
	(void)res;
	g->calls++;
	assert_null(tb_resolver_resolve(g->r, "tam.example", on_done, &dummy, &g->second));
}

static void resolver__done_may_ask_again(void **state)
{
	struct tb_resolver *r = new_resolver();
	struct again g = {.r = r};
	struct tb_resolved now;

	assert_non_null(tb_resolver_resolve(r, "tam.example", on_done_again, &g, &now));
	finish(r, 1);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.second.status, TB_RESOLVE_OK);
	assert_int_equal(g.second.cached, 1);
	free_resolver(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(resolver__first_request__looks_up_then_answers_from_the_cache,
	                           setup),
	    cmocka_unit_test_setup(resolver__concurrent_requests__share_one_lookup, setup),
	    cmocka_unit_test_setup(resolver__answer_expires__after_ttl, setup),
	    cmocka_unit_test_setup(resolver__failure__is_cached_for_negative_ttl, setup),
	    cmocka_unit_test_setup(resolver__ttl_zero__answers_only_its_waiters, setup),
	    cmocka_unit_test_setup(resolver__slow_lookup__times_out_its_waiters_and_answers_later,
	                           setup),
	    cmocka_unit_test_setup(resolver__distinct_names__are_looked_up_at_once, setup),
	    cmocka_unit_test_setup(resolver__queue_full__refuses_at_once, setup),
	    cmocka_unit_test_setup(resolver__table_full__refuses_then_replaces_the_oldest_answer,
	                           setup),
	    cmocka_unit_test_setup(resolver__bad_names__are_refused, setup),
	    cmocka_unit_test_setup(resolver__free__answers_the_waiters_stopping, setup),
	    cmocka_unit_test_setup(resolver__done_may_ask_again, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
