/* The request rate limiter: nginx limit_req arithmetic, several zones at
 * once, the bounded table and its LRU. */
#include "config.h"
#include "ratelimit.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

#define END (-1000) /* ends a list of steps */

static struct tb_rl_zone *zone_new(const char *rate, uint32_t burst, uint32_t delay, int dry_run,
                                   uint32_t max_keys)
{
	struct tb_rl_conf conf = {.burst = burst,
	                          .delay = delay,
	                          .dry_run = dry_run,
	                          .max_keys = max_keys,
	                          .idle_expire_ms = TB_RL_IDLE_EXPIRE};
	struct tb_rl_zone *z;

	assert_int_equal(tb_rl_parse_rate(rate, &conf.rate_milli_per_s), TB_OK);
	z = tb_rl_zone_new(&conf);
	assert_non_null(z);
	return z;
}

static int check(struct tb_rl_zone *z, const char *key, uint64_t now, uint64_t *delay)
{
	return tb_rl_check(z, key, strlen(key), now, delay);
}

static int has_key(const struct tb_rl_zone *z, const char *key)
{
	return tb_rl_peek(z, key, strlen(key), NULL, NULL) == TB_OK;
}

static struct tb_rl_counters counters(const struct tb_rl_zone *z)
{
	struct tb_rl_counters c;
	tb_rl_counters(z, &c);
	return c;
}

/* ---- one zone, one key: a request at each step ---- */

struct step {
	uint64_t now;
	int expect;
	uint64_t delay;
};

struct scenario {
	const char *name;
	const char *rate;
	uint32_t burst, delay;
	int dry_run;
	struct step steps[12];
	/* passed, delayed, rejected, dry_run_rejected, dry_run_delayed */
	uint64_t counts[5];
};

static const struct scenario scenarios[] = {
    {"1r/s, burst 0: one request per second",
     "1r/s",
     0,
     0,
     0,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_REJECT, 0},
      {999, TB_RL_REJECT, 0},
      {1000, TB_RL_PASS, 0},
      {1500, TB_RL_REJECT, 0},
      {2000, TB_RL_PASS, 0},
      {0, END, 0}},
     {3, 0, 3, 0, 0}},
    {"2r/s, burst 3: the excess is smoothed by delays",
     "2r/s",
     3,
     0,
     0,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_DELAY, 500},
      {0, TB_RL_DELAY, 1000},
      {0, TB_RL_DELAY, 1500},
      {0, TB_RL_REJECT, 0},
      /* 3000 - 2r/s * 750ms + 1000 = 2500 */
      {750, TB_RL_DELAY, 1250},
      {750, TB_RL_REJECT, 0},
      {0, END, 0}},
     {1, 4, 2, 0, 0}},
    {"1r/s, burst 3, nodelay: the burst passes at once",
     "1r/s",
     3,
     TB_RL_NODELAY,
     0,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_REJECT, 0},
      {500, TB_RL_REJECT, 0},
      {1000, TB_RL_PASS, 0},
      {1000, TB_RL_REJECT, 0},
      {0, END, 0}},
     {5, 0, 3, 0, 0}},
    {"1r/s, burst 4, delay 2: two stages",
     "1r/s",
     4,
     2,
     0,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_DELAY, 1000},
      {0, TB_RL_DELAY, 2000},
      {0, TB_RL_REJECT, 0},
      {0, END, 0}},
     {3, 2, 1, 0, 0}},
    {"dry run: decides and counts, never delays nor refuses, consumes nothing when refusing",
     "1r/s",
     1,
     0,
     1,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_DRYRUN_REJECT, 0},
      {0, TB_RL_DRYRUN_REJECT, 0},
      {1000, TB_RL_PASS, 0},
      {0, END, 0}},
     {1, 0, 0, 2, 2}},
    {"30r/m is 500 milli-requests per second",
     "30r/m",
     0,
     0,
     0,
     {{0, TB_RL_PASS, 0},
      {1999, TB_RL_REJECT, 0},
      {2000, TB_RL_PASS, 0},
      {2000, TB_RL_REJECT, 0},
      {0, END, 0}},
     {2, 0, 2, 0, 0}},
    {"6r/m, burst 1: one request above the rate waits 10 s",
     "6r/m",
     1,
     0,
     0,
     {{0, TB_RL_PASS, 0}, {0, TB_RL_DELAY, 10000}, {0, TB_RL_REJECT, 0}, {0, END, 0}},
     {1, 1, 1, 0, 0}},
    {"clock steps back less than 60 s: no time passes, last stays",
     "1r/s",
     1,
     TB_RL_NODELAY,
     0,
     {{10000, TB_RL_PASS, 0},
      {9000, TB_RL_PASS, 0},
      {9500, TB_RL_REJECT, 0},
      /* 1000 ms since last=10000 */
      {11000, TB_RL_PASS, 0},
      {11000, TB_RL_REJECT, 0},
      {0, END, 0}},
     {3, 0, 2, 0, 0}},
    {"clock steps back exactly 60 s: still no time passes",
     "1r/s",
     1,
     TB_RL_NODELAY,
     0,
     {{100000, TB_RL_PASS, 0}, {40000, TB_RL_PASS, 0}, {41000, TB_RL_REJECT, 0}, {0, END, 0}},
     {2, 0, 1, 0, 0}},
    {"clock steps back more than 60 s: counts 1 ms and re-bases last",
     "1r/s",
     2,
     TB_RL_NODELAY,
     0,
     {{100000, TB_RL_PASS, 0},
      {100000, TB_RL_PASS, 0},
      /* 1000 - 1 + 1000 = 1999 */
      {39999, TB_RL_PASS, 0},
      /* from the new base: 1999 - 1000 + 1000 */
      {40999, TB_RL_PASS, 0},
      {40999, TB_RL_REJECT, 0},
      {0, END, 0}},
     {4, 0, 1, 0, 0}},
    {"a delay that rounds to 0 ms is a pass",
     "2000r/s",
     5,
     0,
     0,
     {{0, TB_RL_PASS, 0}, {0, TB_RL_PASS, 0}, {0, TB_RL_DELAY, 1}, {0, END, 0}},
     {2, 1, 0, 0, 0}},
    {"a very long idle time drains everything without overflow",
     "4294967r/s",
     1,
     TB_RL_NODELAY,
     0,
     {{0, TB_RL_PASS, 0},
      {0, TB_RL_PASS, 0},
      {0, TB_RL_REJECT, 0},
      {UINT64_MAX / 2, TB_RL_PASS, 0},
      {UINT64_MAX / 2, TB_RL_PASS, 0},
      {UINT64_MAX, TB_RL_PASS, 0},
      {0, END, 0}},
     {5, 0, 1, 0, 0}},
};

static void run_scenario(const struct scenario *sc)
{
	struct tb_rl_zone *z = zone_new(sc->rate, sc->burst, sc->delay, sc->dry_run, 16);
	struct tb_rl_counters c;

	for (size_t i = 0; sc->steps[i].expect != END; i++) {
		const struct step *st = &sc->steps[i];
		uint64_t delay = 12345;
		int rc = check(z, "client", st->now, &delay);
		if (rc != st->expect || delay != st->delay)
			fail_msg("%s: step %zu at %llu: got %d delay %llu, want %d delay %llu",
			         sc->name, i, (unsigned long long)st->now, rc,
			         (unsigned long long)delay, st->expect,
			         (unsigned long long)st->delay);
	}
	c = counters(z);
	if (c.passed != sc->counts[0] || c.delayed != sc->counts[1] ||
	    c.rejected != sc->counts[2] || c.dry_run_rejected != sc->counts[3] ||
	    c.dry_run_delayed != sc->counts[4] || c.keys != 1)
		fail_msg("%s: counters %llu/%llu/%llu/%llu/%llu", sc->name,
		         (unsigned long long)c.passed, (unsigned long long)c.delayed,
		         (unsigned long long)c.rejected, (unsigned long long)c.dry_run_rejected,
		         (unsigned long long)c.dry_run_delayed);
	tb_rl_zone_free(z);
}

static void ratelimit__scenarios__follow_nginx_arithmetic(void **state)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
}

static void ratelimit__burst_exceeded__rejects_and_consumes_nothing(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 1, TB_RL_NODELAY, 0, 4);
	uint64_t excess, last;

	assert_int_equal(check(z, "k", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "k", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "k", 10, NULL), TB_RL_REJECT);
	assert_int_equal(tb_rl_peek(z, "k", 1, &excess, &last), TB_OK);
	assert_int_equal(excess, 1000);
	assert_int_equal(last, 0);
	tb_rl_zone_free(z);
}

/* ---- several zones: a request names some of two zones ---- */

struct mz_step {
	uint64_t now;
	unsigned zones; /* bit 0: zone A, bit 1: zone B */
	int expect;
	uint64_t delay;
};

struct mz_zone {
	const char *rate;
	uint32_t burst, delay;
	int dry_run;
};

struct mz_scenario {
	const char *name;
	struct mz_zone a, b;
	struct mz_step steps[10];
};

static const struct mz_scenario mz_scenarios[] = {
    {"a reject in B leaves A untouched",
     {"1r/s", 1, TB_RL_NODELAY, 0},
     {"1r/s", 0, 0, 0},
     {{0, 3, TB_RL_PASS, 0},
      {0, 3, TB_RL_REJECT, 0},
      /* A's excess is still 0: one more fits its burst of 1, then no more */
      {0, 1, TB_RL_PASS, 0},
      {0, 1, TB_RL_REJECT, 0},
      {0, 0, END, 0}}},
    {"a reject in A leaves B untouched",
     {"1r/s", 0, 0, 0},
     {"1r/s", 1, TB_RL_NODELAY, 0},
     {{0, 3, TB_RL_PASS, 0},
      {0, 3, TB_RL_REJECT, 0},
      {0, 2, TB_RL_PASS, 0},
      {0, 2, TB_RL_REJECT, 0},
      {0, 0, END, 0}}},
    {"the largest delay wins and every zone is charged",
     {"1r/s", 5, 0, 0},
     {"2r/s", 5, 0, 0},
     {{0, 3, TB_RL_PASS, 0},
      {0, 3, TB_RL_DELAY, 1000},
      {0, 2, TB_RL_DELAY, 1000},
      {0, 1, TB_RL_DELAY, 2000},
      {0, 0, END, 0}}},
    {"a dry-run zone never refuses and is not charged when it would",
     {"1r/s", 0, 0, 1},
     {"1r/s", 1, TB_RL_NODELAY, 0},
     {{0, 3, TB_RL_PASS, 0},
      {0, 3, TB_RL_DRYRUN_REJECT, 0},
      /* B was charged: 1000 + 1000 is above its burst */
      {0, 2, TB_RL_REJECT, 0},
      /* A was not: after 1 s it is back to 0 */
      {1000, 1, TB_RL_PASS, 0},
      {0, 0, END, 0}}},
    {"a delay hides a dry-run refusal",
     {"1r/s", 0, 0, 1},
     {"1r/s", 5, 0, 0},
     {{0, 3, TB_RL_PASS, 0}, {0, 3, TB_RL_DELAY, 1000}, {0, 0, END, 0}}},
};

static struct tb_rl_zone *mz_zone_new(const struct mz_zone *mz)
{
	return zone_new(mz->rate, mz->burst, mz->delay, mz->dry_run, 16);
}

static void run_mz_scenario(const struct mz_scenario *sc)
{
	struct tb_rl_zone *both[2] = {mz_zone_new(&sc->a), mz_zone_new(&sc->b)};
	const struct tb_rl_key both_keys[2] = {{"app", 3}, {"addr", 4}};

	for (size_t i = 0; sc->steps[i].expect != END; i++) {
		const struct mz_step *st = &sc->steps[i];
		struct tb_rl_zone *zones[2];
		struct tb_rl_key keys[2];
		size_t n = 0;
		uint64_t delay = 12345;
		int rc;

		for (unsigned z = 0; z < 2; z++) {
			if (st->zones & (1u << z)) {
				zones[n] = both[z];
				keys[n++] = both_keys[z];
			}
		}
		rc = tb_rl_check_all(zones, keys, n, st->now, &delay);
		if (rc != st->expect || delay != st->delay)
			fail_msg("%s: step %zu: got %d delay %llu, want %d delay %llu", sc->name, i,
			         rc, (unsigned long long)delay, st->expect,
			         (unsigned long long)st->delay);
	}
	tb_rl_zone_free(both[0]);
	tb_rl_zone_free(both[1]);
}

static void ratelimit__several_zones__all_or_nothing(void **state)
{
	for (size_t i = 0; i < sizeof(mz_scenarios) / sizeof(mz_scenarios[0]); i++)
		run_mz_scenario(&mz_scenarios[i]);
}

static void ratelimit__reject_in_one_zone__leaves_other_state_and_counters(void **state)
{
	struct tb_rl_zone *a = zone_new("1r/s", 5, 0, 0, 4), *b = zone_new("1r/s", 0, 0, 0, 4);
	struct tb_rl_zone *zones[2] = {a, b};
	struct tb_rl_key keys[2] = {{"app", 3}, {"addr", 4}};
	uint64_t excess, last, delay;

	assert_int_equal(tb_rl_check_all(zones, keys, 2, 100, &delay), TB_RL_PASS);
	assert_int_equal(tb_rl_check_all(zones, keys, 2, 200, &delay), TB_RL_REJECT);
	assert_int_equal(delay, 0);
	assert_int_equal(tb_rl_peek(a, "app", 3, &excess, &last), TB_OK);
	assert_int_equal(excess, 0);
	assert_int_equal(last, 100);
	assert_int_equal(counters(a).passed, 1);
	assert_int_equal(counters(a).delayed, 0);
	assert_int_equal(counters(b).rejected, 1);
	tb_rl_zone_free(a);
	tb_rl_zone_free(b);
}

static void ratelimit__new_key_in_full_zone__commits_nothing_elsewhere(void **state)
{
	struct tb_rl_zone *a = zone_new("1r/s", 5, 0, 0, 4), *b = zone_new("1r/s", 5, 0, 0, 1);
	struct tb_rl_zone *zones[2] = {a, b};
	struct tb_rl_key keys[2] = {{"app", 3}, {"new", 3}};

	assert_int_equal(check(b, "old", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(b, "old", 3), TB_OK);
	assert_int_equal(tb_rl_check_all(zones, keys, 2, 0, NULL), TB_RL_FULL);
	assert_false(has_key(a, "app"));
	assert_int_equal(counters(a).keys, 0);
	assert_int_equal(counters(a).passed, 0);
	assert_int_equal(counters(b).table_full, 1);
	tb_rl_zone_free(a);
	tb_rl_zone_free(b);
}

static void ratelimit__bad_zone_lists__are_invalid(void **state)
{
	struct tb_rl_zone *a = zone_new("1r/s", 5, 0, 0, 4);
	struct tb_rl_zone *zones[TB_RL_MAX_ZONES + 1];
	struct tb_rl_key keys[TB_RL_MAX_ZONES + 1];

	for (size_t i = 0; i <= TB_RL_MAX_ZONES; i++) {
		zones[i] = a;
		keys[i] = (struct tb_rl_key){"k", 1};
	}
	assert_int_equal(tb_rl_check_all(zones, keys, 0, 0, NULL), TB_ERR_INVAL);
	assert_int_equal(tb_rl_check_all(zones, keys, 2, 0, NULL), TB_ERR_INVAL); /* twice */
	assert_int_equal(tb_rl_check_all(zones, keys, TB_RL_MAX_ZONES + 1, 0, NULL), TB_ERR_INVAL);
	zones[1] = NULL;
	assert_int_equal(tb_rl_check_all(zones, keys, 2, 0, NULL), TB_ERR_INVAL);
	assert_int_equal(counters(a).keys, 0);
	tb_rl_zone_free(a);
}

/* ---- keys, configuration, rate syntax ---- */

static void ratelimit__key_sizes__up_to_128_bytes(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 4);
	char key[TB_RL_MAX_KEY + 1];

	memset(key, 'x', sizeof(key));
	assert_int_equal(tb_rl_check(z, key, TB_RL_MAX_KEY, 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_check(z, key, TB_RL_MAX_KEY, 0, NULL), TB_RL_REJECT);
	assert_int_equal(tb_rl_check(z, key, TB_RL_MAX_KEY + 1, 0, NULL), TB_ERR_TOOBIG);
	assert_int_equal(tb_rl_check(z, NULL, 1, 0, NULL), TB_ERR_INVAL);
	/* the empty key is a key like any other */
	assert_int_equal(tb_rl_check(z, NULL, 0, 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_check(z, "", 0, 0, NULL), TB_RL_REJECT);
	/* keys differing in length only are different keys */
	assert_int_equal(tb_rl_check(z, key, 5, 0, NULL), TB_RL_PASS);
	assert_int_equal(counters(z).keys, 3);
	tb_rl_zone_free(z);
}

static void ratelimit__invalid_conf__creates_no_zone(void **state)
{
	struct tb_rl_conf ok = {.rate_milli_per_s = 1000, .max_keys = 1, .idle_expire_ms = 60000};
	struct tb_rl_conf c;
	struct tb_rl_zone *z;

	z = tb_rl_zone_new(&ok);
	assert_non_null(z);
	tb_rl_zone_free(z);
	c = ok;
	c.rate_milli_per_s = 0;
	assert_null(tb_rl_zone_new(&c));
	c = ok;
	c.max_keys = 0;
	assert_null(tb_rl_zone_new(&c));
	c = ok;
	c.max_keys = (1u << 20) + 1;
	assert_null(tb_rl_zone_new(&c));
	assert_null(tb_rl_zone_new(NULL));
	tb_rl_zone_free(NULL);
}

static void ratelimit__rate_syntax__parses_like_nginx(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint32_t milli;
	} rows[] = {
	    {"10r/s", TB_OK, 10000},
	    {"1r/s", TB_OK, 1000},
	    {"30r/m", TB_OK, 500},
	    {"1r/m", TB_OK, 16},
	    {"60r/m", TB_OK, 1000},
	    {"010r/s", TB_OK, 10000},
	    {"4294967r/s", TB_OK, 4294967000u},
	    {"257698037r/m", TB_OK, 4294967283u},
	    {"4294968r/s", TB_ERR_INVAL, 0},
	    {"257698038r/m", TB_ERR_INVAL, 0},
	    {"99999999999999999999r/s", TB_ERR_INVAL, 0},
	    {"0r/s", TB_ERR_INVAL, 0},
	    {"0r/m", TB_ERR_INVAL, 0},
	    {"", TB_ERR_INVAL, 0},
	    {"r/s", TB_ERR_INVAL, 0},
	    {"10", TB_ERR_INVAL, 0},
	    {"10r", TB_ERR_INVAL, 0},
	    {"10r/h", TB_ERR_INVAL, 0},
	    {"10R/S", TB_ERR_INVAL, 0},
	    {"10r/s ", TB_ERR_INVAL, 0},
	    {" 10r/s", TB_ERR_INVAL, 0},
	    {"+10r/s", TB_ERR_INVAL, 0},
	    {"-10r/s", TB_ERR_INVAL, 0},
	    {"1.5r/s", TB_ERR_INVAL, 0},
	    {"10r/sec", TB_ERR_INVAL, 0},
	};
	uint32_t milli;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		milli = 7;
		int rc = tb_rl_parse_rate(rows[i].s, &milli);
		if (rc != rows[i].rc || (rc == TB_OK && milli != rows[i].milli))
			fail_msg("\"%s\": got %d %u", rows[i].s, rc, milli);
		if (rc != TB_OK && milli != 7)
			fail_msg("\"%s\": output written on error", rows[i].s);
	}
	assert_int_equal(tb_rl_parse_rate(NULL, &milli), TB_ERR_INVAL);
}

/* ---- the bounded table ---- */

static void ratelimit__idle_drained_keys__expire_when_a_key_is_added(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 8);

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "c", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "d", 59999, NULL), TB_RL_PASS);
	assert_int_equal(counters(z).expired, 0);
	assert_int_equal(counters(z).keys, 4);
	/* at most two per new key, from the LRU tail */
	assert_int_equal(check(z, "e", 60000, NULL), TB_RL_PASS);
	assert_int_equal(counters(z).expired, 2);
	assert_false(has_key(z, "a"));
	assert_false(has_key(z, "b"));
	assert_true(has_key(z, "c"));
	assert_int_equal(counters(z).keys, 3);
	assert_int_equal(counters(z).evicted, 0);
	tb_rl_zone_free(z);
}

static void ratelimit__idle_key_with_excess_left__is_not_expired(void **state)
{
	/* 1r/m drains 16 milli-requests per second: 960 in 60 s */
	struct tb_rl_zone *z = zone_new("1r/m", 100, TB_RL_NODELAY, 0, 2);

	for (int i = 0; i < 10; i++)
		assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	/* the LRU order is b, a: the tail a is idle but not drained, so the
	 * expiry scan stops there (as nginx); the table is full, a is evicted */
	assert_int_equal(check(z, "c", 60000, NULL), TB_RL_PASS);
	assert_int_equal(counters(z).expired, 0);
	assert_int_equal(counters(z).evicted, 1);
	assert_false(has_key(z, "a"));
	assert_true(has_key(z, "b"));
	tb_rl_zone_free(z);
}

static void ratelimit__full_table__evicts_least_recently_used(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 5, TB_RL_NODELAY, 0, 2);

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "a", 1, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "c", 2, NULL), TB_RL_PASS);
	assert_true(has_key(z, "a"));
	assert_false(has_key(z, "b"));
	assert_true(has_key(z, "c"));
	assert_int_equal(counters(z).evicted, 1);
	assert_int_equal(counters(z).keys, 2);
	tb_rl_zone_free(z);
}

static void ratelimit__rejected_key__stays_recently_used(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 2);
	uint64_t excess;

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "a", 1, NULL), TB_RL_REJECT);
	/* a flood of new keys cannot wipe a's state and hand it a new burst */
	assert_int_equal(check(z, "c", 2, NULL), TB_RL_PASS);
	assert_false(has_key(z, "b"));
	assert_int_equal(tb_rl_peek(z, "a", 1, &excess, NULL), TB_OK);
	assert_int_equal(check(z, "a", 3, NULL), TB_RL_REJECT);
	tb_rl_zone_free(z);
}

static void ratelimit__pinned_key__is_never_evicted(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 5, TB_RL_NODELAY, 0, 2);

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(z, "a", 1), TB_OK); /* a is the LRU tail */
	assert_int_equal(check(z, "c", 1, NULL), TB_RL_PASS);
	assert_true(has_key(z, "a"));
	assert_false(has_key(z, "b"));
	/* a pinned key still counts its requests */
	assert_int_equal(check(z, "a", 1, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(z, "c", 1), TB_OK);
	assert_int_equal(check(z, "d", 2, NULL), TB_RL_FULL);
	assert_int_equal(check(z, "d", 3, NULL), TB_RL_FULL);
	assert_int_equal(counters(z).table_full, 2);
	assert_false(has_key(z, "d"));
	/* a existing key is still served when the table is full */
	assert_int_equal(check(z, "c", 4, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_OK);
	assert_int_equal(check(z, "d", 5, NULL), TB_RL_PASS);
	assert_false(has_key(z, "a"));
	assert_int_equal(counters(z).evicted, 2);
	tb_rl_zone_free(z);
}

static void ratelimit__pinned_key__is_never_expired(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 4);

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(z, "a", 1), TB_OK);
	assert_int_equal(check(z, "c", 120000, NULL), TB_RL_PASS);
	assert_true(has_key(z, "a"));
	assert_false(has_key(z, "b"));
	assert_int_equal(counters(z).expired, 1);
	/* unpinned, it becomes the most recently used and expires later */
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_OK);
	assert_int_equal(check(z, "d", 180000, NULL), TB_RL_PASS);
	assert_false(has_key(z, "c"));
	assert_false(has_key(z, "a"));
	assert_int_equal(counters(z).expired, 3);
	tb_rl_zone_free(z);
}

static void ratelimit__pins__nest_and_check_their_key(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 1);

	assert_int_equal(tb_rl_pin(z, "a", 1), TB_ERR_NOTFOUND);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_ERR_NOTFOUND);
	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_ERR_STATE);
	assert_int_equal(tb_rl_pin(z, "a", 1), TB_OK);
	assert_int_equal(tb_rl_pin(z, "a", 1), TB_OK);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_OK);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_FULL);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_OK);
	assert_int_equal(tb_rl_unpin(z, "a", 1), TB_ERR_STATE);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(z, "b", TB_RL_MAX_KEY + 1), TB_ERR_TOOBIG);
	tb_rl_zone_free(z);
}

static void ratelimit__full_table_in_dry_run__serves_and_counts(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 1, 1);

	assert_int_equal(check(z, "a", 0, NULL), TB_RL_PASS);
	assert_int_equal(tb_rl_pin(z, "a", 1), TB_OK);
	assert_int_equal(check(z, "b", 0, NULL), TB_RL_DRYRUN_REJECT);
	assert_int_equal(counters(z).table_full, 1);
	assert_int_equal(counters(z).dry_run_rejected, 1);
	assert_false(has_key(z, "b"));
	tb_rl_zone_free(z);
}

static void ratelimit__many_keys__all_found_and_freed(void **state)
{
	struct tb_rl_zone *z = zone_new("1r/s", 0, 0, 0, 1000);
	char key[16];

	for (int i = 0; i < 1500; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(check(z, key, 0, NULL), TB_RL_PASS);
	}
	assert_int_equal(counters(z).keys, 1000);
	assert_int_equal(counters(z).evicted, 500);
	for (int i = 500; i < 1500; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(check(z, key, 0, NULL), TB_RL_REJECT);
	}
	tb_rl_zone_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ratelimit__scenarios__follow_nginx_arithmetic),
	    cmocka_unit_test(ratelimit__burst_exceeded__rejects_and_consumes_nothing),
	    cmocka_unit_test(ratelimit__several_zones__all_or_nothing),
	    cmocka_unit_test(ratelimit__reject_in_one_zone__leaves_other_state_and_counters),
	    cmocka_unit_test(ratelimit__new_key_in_full_zone__commits_nothing_elsewhere),
	    cmocka_unit_test(ratelimit__bad_zone_lists__are_invalid),
	    cmocka_unit_test(ratelimit__key_sizes__up_to_128_bytes),
	    cmocka_unit_test(ratelimit__invalid_conf__creates_no_zone),
	    cmocka_unit_test(ratelimit__rate_syntax__parses_like_nginx),
	    cmocka_unit_test(ratelimit__idle_drained_keys__expire_when_a_key_is_added),
	    cmocka_unit_test(ratelimit__idle_key_with_excess_left__is_not_expired),
	    cmocka_unit_test(ratelimit__full_table__evicts_least_recently_used),
	    cmocka_unit_test(ratelimit__rejected_key__stays_recently_used),
	    cmocka_unit_test(ratelimit__pinned_key__is_never_evicted),
	    cmocka_unit_test(ratelimit__pinned_key__is_never_expired),
	    cmocka_unit_test(ratelimit__pins__nest_and_check_their_key),
	    cmocka_unit_test(ratelimit__full_table_in_dry_run__serves_and_counts),
	    cmocka_unit_test(ratelimit__many_keys__all_found_and_freed),
	};
	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
