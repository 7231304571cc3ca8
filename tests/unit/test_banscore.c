/* Ban scoring: decay, threshold, the ladder, memory, allowlist, the bounded
 * table. */
#include "config.h"
#include "banscore.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

#define END        (-1000) /* ends a list of events */
#define NEVER_BANS UINT32_MAX

struct params {
	uint32_t threshold, half_life;
	uint64_t base, max, memory;
	uint32_t max_keys;
};

static struct tb_ban_table *table_new(const struct params *p, const char *const *allow)
{
	struct tb_cidr cidrs[TB_BAN_MAX_ALLOW];
	struct tb_ban_conf conf = {.threshold = p->threshold,
	                           .half_life_ms = p->half_life,
	                           .ban_base_ms = p->base,
	                           .ban_max_ms = p->max,
	                           .memory_ms = p->memory,
	                           .max_keys = p->max_keys ? p->max_keys : 64,
	                           .allow = cidrs};
	struct tb_ban_table *t;

	for (; allow && allow[conf.n_allow]; conf.n_allow++)
		assert_int_equal(tb_ban_parse_cidr(allow[conf.n_allow], &cidrs[conf.n_allow]),
		                 TB_OK);
	t = tb_ban_new(&conf);
	assert_non_null(t);
	return t;
}

static int add(struct tb_ban_table *t, const char *key, uint32_t weight, uint64_t now,
               uint64_t *until)
{
	return tb_ban_add(t, key, strlen(key), NULL, weight, now, until);
}

static int is_banned(struct tb_ban_table *t, const char *key, uint64_t now)
{
	return tb_ban_check(t, key, strlen(key), NULL, now, NULL);
}

static uint64_t score(const struct tb_ban_table *t, const char *key, uint64_t now)
{
	return tb_ban_score_milli(t, key, strlen(key), now);
}

static struct tb_ban_counters counters(const struct tb_ban_table *t)
{
	struct tb_ban_counters c;
	tb_ban_counters(t, &c);
	return c;
}

static void make_addr(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
}

/* ---- decay ---- */

static void banscore__score__halves_every_half_life(void **state)
{
	static const struct {
		uint64_t at;
		uint64_t milli, tolerance;
	} rows[] = {
	    /* whole half-lives are exact */
	    {0, 1000000, 0},
	    {10000, 500000, 0},
	    {20000, 250000, 0},
	    {30000, 125000, 0},
	    {100000, 976, 0}, /* 1000 points * 2^-10 */
	    {400000, 0, 0},
	    {640000, 0, 0},
	    {UINT64_MAX, 0, 0},
	    /* fractions: 1000000 * 2^(-at/10000), within 3e-5 */
	    {1, 999931, 30},
	    {78, 994608, 30},
	    {2500, 840896, 30},
	    {3333, 793719, 30},
	    {5000, 707107, 30},
	    {7500, 594604, 30},
	    {9999, 500035, 30},
	    {12345, 424990, 30},
	    {15000, 353553, 30},
	};
	struct params p = {NEVER_BANS, 10000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "k", 1000, 0, NULL), TB_BAN_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t got = score(t, "k", rows[i].at), want = rows[i].milli;
		if (got + rows[i].tolerance < want || got > want + rows[i].tolerance)
			fail_msg("at %llu: score %llu, want %llu", (unsigned long long)rows[i].at,
			         (unsigned long long)got, (unsigned long long)want);
	}
	assert_int_equal(score(t, "unknown", 0), 0);
	tb_ban_free(t);
}

static void banscore__clock_going_back__does_not_decay(void **state)
{
	struct params p = {NEVER_BANS, 1000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "k", 10, 5000, NULL), TB_BAN_OK);
	assert_int_equal(score(t, "k", 4000), 10000);
	assert_int_equal(add(t, "k", 10, 4000, NULL), TB_BAN_OK);
	assert_int_equal(score(t, "k", 5000), 20000);
	assert_int_equal(score(t, "k", 6000), 10000);
	tb_ban_free(t);
}

/* ---- events in sequence: the threshold, the ladder, memory ---- */

struct ev {
	uint64_t now;
	uint32_t weight;
	int expect;
	uint64_t until;
};

struct ban_scenario {
	const char *name;
	struct params p;
	struct ev ev[10];
};

static const struct ban_scenario ban_scenarios[] = {
    {"three strikes at once ban",
     {10, 60000, 60000, 3600000, 0, 0},
     {{0, 4, TB_BAN_OK, 0}, {0, 4, TB_BAN_OK, 0}, {0, 4, TB_BAN_BANNED, 60000}, {0, 0, END, 0}}},
    {"reaching the threshold exactly bans",
     {10, 60000, 60000, 3600000, 0, 0},
     {{7, 5, TB_BAN_OK, 0}, {7, 5, TB_BAN_BANNED, 60007}, {0, 0, END, 0}}},
    {"one heavy event bans at once",
     {10, 60000, 500, 3600000, 0, 0},
     {{100, 25, TB_BAN_BANNED, 600}, {0, 0, END, 0}}},
    {"weight 0 never bans",
     {1, 60000, 500, 3600000, 0, 0},
     {{0, 0, TB_BAN_OK, 0}, {0, 0, TB_BAN_OK, 0}, {0, 0, END, 0}}},
    {"decay between events keeps the score under the threshold",
     {10, 10000, 60000, 3600000, 0, 0},
     /* 4, 2+4, 3+4, 3.5+4, 3.75+4 */
     {{0, 4, TB_BAN_OK, 0},
      {10000, 4, TB_BAN_OK, 0},
      {20000, 4, TB_BAN_OK, 0},
      {30000, 4, TB_BAN_OK, 0},
      {40000, 4, TB_BAN_OK, 0},
      {40000, 3, TB_BAN_BANNED, 100000},
      {0, 0, END, 0}}},
    {"events while banned are ignored; scoring restarts from 0 after",
     {10, 60000, 60000, 3600000, 600000, 0},
     {{0, 10, TB_BAN_BANNED, 60000},
      {1000, 10, TB_BAN_ALREADY, 60000},
      {59999, 1, TB_BAN_ALREADY, 60000},
      {60000, 9, TB_BAN_OK, 0},
      {60000, 1, TB_BAN_BANNED, 180000},
      {0, 0, END, 0}}},
    {"the ladder doubles, then stays at the cap",
     {10, 60000, 1000, 5000, 600000, 0},
     {{0, 10, TB_BAN_BANNED, 1000},
      {1000, 10, TB_BAN_BANNED, 3000},
      {3000, 10, TB_BAN_BANNED, 7000},
      {7000, 10, TB_BAN_BANNED, 12000},
      {12000, 10, TB_BAN_BANNED, 17000},
      {0, 0, END, 0}}},
    {"the ban count is forgotten memory ms after the last ban ends",
     {10, 60000, 1000, 1000000, 10000, 0},
     /* ban ends 1000, remembered until 11000 */
     {{0, 10, TB_BAN_BANNED, 1000},
      {10999, 10, TB_BAN_BANNED, 12999},
      /* ends 12999, remembered until 22999 */
      {22999, 10, TB_BAN_BANNED, 23999},
      {0, 0, END, 0}}},
    {"no memory: every ban is a first ban",
     {10, 60000, 1000, 1000000, 0, 0},
     {{0, 10, TB_BAN_BANNED, 1000},
      {1000, 10, TB_BAN_BANNED, 2000},
      {2000, 10, TB_BAN_BANNED, 3000},
      {0, 0, END, 0}}},
};

static void run_ban_scenario(const struct ban_scenario *sc)
{
	struct tb_ban_table *t = table_new(&sc->p, NULL);
	uint64_t bans = 0;

	for (size_t i = 0; sc->ev[i].expect != END; i++) {
		const struct ev *e = &sc->ev[i];
		uint64_t until = 12345;
		int rc = add(t, "peer", e->weight, e->now, &until);
		if (rc != e->expect || until != e->until)
			fail_msg("%s: event %zu at %llu: got %d until %llu, want %d until %llu",
			         sc->name, i, (unsigned long long)e->now, rc,
			         (unsigned long long)until, e->expect,
			         (unsigned long long)e->until);
		bans += rc == TB_BAN_BANNED;
	}
	assert_int_equal(counters(t).bans, bans);
	tb_ban_free(t);
}

static void banscore__scenarios__score_ban_and_escalate(void **state)
{
	for (size_t i = 0; i < sizeof(ban_scenarios) / sizeof(ban_scenarios[0]); i++)
		run_ban_scenario(&ban_scenarios[i]);
}

static void banscore__ladder__stops_doubling_after_20_bans(void **state)
{
	struct params p = {1, 1000, 1, UINT64_MAX, UINT64_MAX, 0};
	struct tb_ban_table *t = table_new(&p, NULL);
	uint64_t now = 0, until;

	for (unsigned n = 0; n < 25; n++) {
		assert_int_equal(add(t, "peer", 1, now, &until), TB_BAN_BANNED);
		assert_int_equal(until - now, (uint64_t)1 << (n < 20 ? n : 20));
		now = until;
	}
	tb_ban_free(t);
}

static void banscore__huge_ban_times__saturate(void **state)
{
	struct params p = {1, 1000, UINT64_MAX / 2, UINT64_MAX, UINT64_MAX, 0};
	struct tb_ban_table *t = table_new(&p, NULL);
	uint64_t until;

	assert_int_equal(add(t, "peer", 1, 10, &until), TB_BAN_BANNED);
	assert_int_equal(until, UINT64_MAX / 2 + 10);
	assert_int_equal(add(t, "peer", 1, until, &until), TB_BAN_BANNED);
	assert_int_equal(until, UINT64_MAX);
	assert_true(is_banned(t, "peer", UINT64_MAX - 1));
	tb_ban_free(t);
}

static void banscore__ban__expires_at_its_end(void **state)
{
	struct params p = {5, 60000, 30000, 60000, 0, 0};
	struct tb_ban_table *t = table_new(&p, NULL);
	uint64_t until = 0;

	assert_false(is_banned(t, "peer", 0));
	assert_int_equal(add(t, "peer", 5, 1000, NULL), TB_BAN_BANNED);
	assert_int_equal(tb_ban_check(t, "peer", 4, NULL, 30999, &until), 1);
	assert_int_equal(until, 31000);
	assert_int_equal(tb_ban_check(t, "peer", 4, NULL, 31000, &until), 0);
	assert_int_equal(until, 0);
	assert_false(is_banned(t, "other", 2000));
	assert_int_equal(counters(t).banned_refusals, 1);
	tb_ban_free(t);
}

/* ---- allowlist ---- */

static void banscore__allowlisted_addresses__are_never_scored_nor_banned(void **state)
{
	static const char *const allow[] = {"127.0.0.0/8", "::1/128", "10.1.0.0/16",
	                                    "2001:db8:a::/48", NULL};
	static const struct {
		const char *ip;
		int allowed;
	} rows[] = {
	    {"127.0.0.1", 1},
	    {"127.255.255.255", 1},
	    {"128.0.0.1", 0},
	    {"126.255.255.255", 0},
	    {"10.1.0.0", 1},
	    {"10.1.255.254", 1},
	    {"10.2.0.1", 0},
	    {"10.0.255.255", 0},
	    {"::1", 1},
	    {"::2", 0},
	    {"::", 0},
	    {"::ffff:127.0.0.1", 1},
	    {"::ffff:10.1.2.3", 1},
	    {"::ffff:10.2.0.1", 0},
	    {"::127.0.0.1", 0},
	    {"2001:db8:a::1", 1},
	    {"2001:db8:a:ffff::", 1},
	    {"2001:db8:b::1", 0},
	    {"::ffff:7f00:1", 1},
	};
	struct params p = {10, 60000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, allow);
	uint64_t allowlisted = 0, bans = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage ss;
		const struct sockaddr *sa = (const struct sockaddr *)&ss;
		int rc;

		make_addr(rows[i].ip, &ss);
		if (tb_ban_allowlisted(t, sa) != rows[i].allowed)
			fail_msg("%s: allowlisted should be %d", rows[i].ip, rows[i].allowed);
		rc = tb_ban_add(t, rows[i].ip, strlen(rows[i].ip), sa, 100, 0, NULL);
		if (rc != (rows[i].allowed ? TB_BAN_OK : TB_BAN_BANNED))
			fail_msg("%s: add gave %d", rows[i].ip, rc);
		if (tb_ban_check(t, rows[i].ip, strlen(rows[i].ip), sa, 1, NULL) == rows[i].allowed)
			fail_msg("%s: check disagrees", rows[i].ip);
		allowlisted += rows[i].allowed;
		bans += !rows[i].allowed;
	}
	assert_int_equal(counters(t).allowlisted, allowlisted);
	assert_int_equal(counters(t).bans, bans);
	assert_int_equal(counters(t).scored, bans);
	tb_ban_free(t);
}

static void banscore__allowlisted_address__is_not_refused_for_a_banned_key(void **state)
{
	static const char *const allow[] = {"192.0.2.0/24", NULL};
	struct params p = {10, 60000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, allow);
	struct sockaddr_storage in, out;

	make_addr("192.0.2.7", &in);
	make_addr("198.51.100.7", &out);
	/* the key is an app identity, banned while it came from outside */
	assert_int_equal(tb_ban_add(t, "app", 3, (struct sockaddr *)&out, 10, 0, NULL),
	                 TB_BAN_BANNED);
	assert_int_equal(tb_ban_check(t, "app", 3, (struct sockaddr *)&out, 1, NULL), 1);
	assert_int_equal(tb_ban_check(t, "app", 3, (struct sockaddr *)&in, 1, NULL), 0);
	tb_ban_free(t);
}

static void banscore__other_address_families__are_not_allowlisted(void **state)
{
	static const char *const allow[] = {"0.0.0.0/0", "::/0", NULL};
	struct params p = {10, 60000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, allow);
	struct sockaddr_un un;
	struct sockaddr_storage any;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(tb_ban_allowlisted(t, (struct sockaddr *)&un), 0);
	assert_int_equal(tb_ban_allowlisted(t, NULL), 0);
	make_addr("203.0.113.9", &any);
	assert_int_equal(tb_ban_allowlisted(t, (struct sockaddr *)&any), 1);
	make_addr("2001:db8::9", &any);
	assert_int_equal(tb_ban_allowlisted(t, (struct sockaddr *)&any), 1);
	tb_ban_free(t);
}

static void banscore__cidr_syntax__accepts_networks_refuses_the_rest(void **state)
{
	static const struct {
		const char *s;
		int family;
		unsigned prefix;
	} good[] = {
	    {"127.0.0.0/8", AF_INET, 8},     {"::1/128", AF_INET6, 128},
	    {"10.1.2.3", AF_INET, 32},       {"2001:db8::1", AF_INET6, 128},
	    {"0.0.0.0/0", AF_INET, 0},       {"::/0", AF_INET6, 0},
	    {"2001:db8::/32", AF_INET6, 32}, {"fe80::/10", AF_INET6, 10},
	    {"192.168.4.0/22", AF_INET, 22}, {"10.1.2.3/32", AF_INET, 32},
	    {"::ffff:0:0/96", AF_INET6, 96}, {"::ffff:10.0.0.0/104", AF_INET6, 104},
	};
	static const char *const bad[] = {
	    "",
	    "/8",
	    "127.0.0.0/",
	    "127.0.0.0/33",
	    "::1/129",
	    "127.0.0.1/8", /* host bits set */
	    "fe80::1/10",
	    "127.0.0.0/8/8",
	    "127.0.0.0/-1",
	    "127.0.0.0/+8",
	    "127.0.0.0/ 8",
	    " 127.0.0.0/8",
	    "127.0.0.0/8 ",
	    "127.0.0.0/08",
	    "127.0.0.0/0008",
	    "1.2.3/8",
	    "256.0.0.0/8",
	    "localhost/8",
	    "fe80::1%eth0/128",
	    "1:2:3:4:5:6:7:8:9/64",
	    "1234567890123456789012345678901234567890123456789/8",
	};
	struct tb_cidr c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&c, 0xaa, sizeof(c));
		if (tb_ban_parse_cidr(good[i].s, &c) != TB_OK)
			fail_msg("\"%s\" refused", good[i].s);
		if (c.family != good[i].family || c.prefix != good[i].prefix)
			fail_msg("\"%s\": family %d prefix %u", good[i].s, c.family, c.prefix);
	}
	assert_int_equal(tb_ban_parse_cidr("192.168.4.0/22", &c), TB_OK);
	assert_memory_equal(c.addr, "\xc0\xa8\x04\x00", 4);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tb_ban_parse_cidr(bad[i], &c) != TB_ERR_INVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	assert_int_equal(tb_ban_parse_cidr(NULL, &c), TB_ERR_INVAL);
}

/* ---- the bounded table ---- */

static void banscore__full_table__evicts_lowest_score_that_is_not_banned(void **state)
{
	struct params p = {100, 1000000000, 1000000, 1000000, 0, 3};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "a", 100, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(add(t, "b", 50, 0, NULL), TB_BAN_OK);
	assert_int_equal(add(t, "c", 10, 0, NULL), TB_BAN_OK);
	/* LRU order c, b, a: a is the oldest but banned; c scores lowest */
	assert_int_equal(add(t, "d", 1, 1, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).evicted, 1);
	assert_int_equal(counters(t).keys, 3);
	assert_true(is_banned(t, "a", 2));
	assert_true(score(t, "b", 2) > 49000);
	assert_int_equal(score(t, "c", 2), 0);
	assert_true(score(t, "d", 2) > 900);
	tb_ban_free(t);
}

static void banscore__full_table__ties_go_to_the_least_recently_used(void **state)
{
	struct params p = {100, 1000000000, 1000000, 1000000, 0, 3};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "a", 5, 0, NULL), TB_BAN_OK);
	assert_int_equal(add(t, "b", 5, 0, NULL), TB_BAN_OK);
	assert_int_equal(add(t, "c", 5, 0, NULL), TB_BAN_OK);
	assert_int_equal(add(t, "a", 0, 0, NULL), TB_BAN_OK); /* a used again */
	assert_int_equal(add(t, "d", 5, 0, NULL), TB_BAN_OK);
	assert_int_equal(score(t, "b", 0), 0);
	assert_true(score(t, "a", 0) > 0);
	assert_true(score(t, "c", 0) > 0);
	tb_ban_free(t);
}

static void banscore__full_table__keeps_a_remembered_ban_over_a_score(void **state)
{
	struct params p = {10, 1000000000, 1000, 1000000, 1000000, 2};
	struct tb_ban_table *t = table_new(&p, NULL);
	uint64_t until;

	assert_int_equal(add(t, "a", 10, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(add(t, "b", 5, 2000, NULL), TB_BAN_OK);
	/* a's ban is over (score 0), but its count is remembered: b goes */
	assert_int_equal(add(t, "c", 1, 2000, NULL), TB_BAN_OK);
	assert_int_equal(score(t, "b", 2000), 0);
	assert_int_equal(counters(t).evicted, 1);
	assert_int_equal(add(t, "a", 10, 3000, &until), TB_BAN_BANNED);
	assert_int_equal(until, 5000); /* second ban: doubled */
	tb_ban_free(t);
}

static void banscore__table_full_of_bans__fails_open(void **state)
{
	struct params p = {10, 60000, 60000, 60000, 0, 2};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "a", 10, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(add(t, "b", 10, 0, NULL), TB_BAN_BANNED);
	/* an innocent newcomer is never banned for the table being full */
	assert_int_equal(add(t, "c", 1000, 1, NULL), TB_BAN_OK);
	assert_false(is_banned(t, "c", 2));
	assert_int_equal(counters(t).table_full, 1);
	assert_int_equal(counters(t).keys, 2);
	/* once the bans are over (and, without memory, forgotten), the entries
	 * are stale and make room */
	assert_int_equal(add(t, "c", 1000, 60000, NULL), TB_BAN_BANNED);
	assert_int_equal(counters(t).expired, 2);
	assert_int_equal(counters(t).evicted, 0);
	tb_ban_free(t);
}

static void banscore__banned_entries__are_moved_aside_for_the_next_scan(void **state)
{
	struct params p = {10, 60000, 600000, 600000, 0, 9};
	struct tb_ban_table *t = table_new(&p, NULL);
	char key[8];

	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		assert_int_equal(add(t, key, 10, 0, NULL), TB_BAN_BANNED);
	}
	assert_int_equal(add(t, "z", 1, 0, NULL), TB_BAN_OK);
	/* the eight oldest are banned: nothing evictable in this scan */
	assert_int_equal(add(t, "n1", 1, 1, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).table_full, 1);
	assert_int_equal(score(t, "n1", 1), 0);
	/* they went to the head; the next scan reaches z */
	assert_int_equal(add(t, "n2", 1, 2, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).evicted, 1);
	assert_int_equal(score(t, "z", 2), 0);
	assert_true(score(t, "n2", 2) > 0);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		assert_true(is_banned(t, key, 3));
	}
	tb_ban_free(t);
}

static void banscore__stale_entries__expire_when_a_key_is_added(void **state)
{
	struct params p = {10, 1000, 1000, 1000, 5000, 8};
	struct tb_ban_table *t = table_new(&p, NULL);

	assert_int_equal(add(t, "a", 1, 0, NULL), TB_BAN_OK);
	/* after 6 half-lives a has 1/64 point left: not stale yet */
	assert_int_equal(add(t, "b", 1, 6000, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).expired, 0);
	assert_int_equal(add(t, "c", 1, 7000, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).expired, 1);
	assert_int_equal(score(t, "a", 7000), 0);
	assert_int_equal(counters(t).keys, 2);
	tb_ban_free(t);
}

static void banscore__banned_or_remembered_entries__do_not_expire(void **state)
{
	struct params p = {10, 1000, 1000, 1000, 5000, 8};
	struct tb_ban_table *t = table_new(&p, NULL);

	/* banned until 1000, its ban count remembered until 6000 */
	assert_int_equal(add(t, "d", 10, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(add(t, "x", 1, 500, NULL), TB_BAN_OK);
	assert_int_equal(add(t, "y", 1, 5999, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).expired, 0);
	assert_int_equal(add(t, "z", 1, 6000, NULL), TB_BAN_OK);
	assert_int_equal(counters(t).expired, 1);
	assert_int_equal(counters(t).keys, 3);
	/* d is new again: a first ban */
	uint64_t until;
	assert_int_equal(add(t, "d", 10, 6000, &until), TB_BAN_BANNED);
	assert_int_equal(until, 7000);
	tb_ban_free(t);
}

/* ---- arguments ---- */

static void banscore__key_sizes__up_to_128_bytes(void **state)
{
	struct params p = {10, 60000, 1000, 1000, 0, 0};
	struct tb_ban_table *t = table_new(&p, NULL);
	char key[TB_BAN_MAX_KEY + 1];

	memset(key, 'k', sizeof(key));
	assert_int_equal(tb_ban_add(t, key, TB_BAN_MAX_KEY, NULL, 10, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(tb_ban_check(t, key, TB_BAN_MAX_KEY, NULL, 1, NULL), 1);
	assert_int_equal(tb_ban_add(t, key, TB_BAN_MAX_KEY + 1, NULL, 10, 0, NULL), TB_ERR_TOOBIG);
	assert_int_equal(tb_ban_check(t, key, TB_BAN_MAX_KEY + 1, NULL, 1, NULL), 0);
	assert_int_equal(tb_ban_add(t, NULL, 1, NULL, 10, 0, NULL), TB_ERR_INVAL);
	assert_int_equal(tb_ban_add(t, NULL, 0, NULL, 10, 0, NULL), TB_BAN_BANNED);
	assert_int_equal(tb_ban_check(t, "", 0, NULL, 1, NULL), 1);
	tb_ban_free(t);
}

static void banscore__invalid_conf__creates_no_table(void **state)
{
	struct tb_cidr cidr, bad_cidr = {.family = AF_INET, .prefix = 33};
	const struct tb_ban_conf ok = {.threshold = 10,
	                               .half_life_ms = 1000,
	                               .ban_base_ms = 1000,
	                               .ban_max_ms = 1000,
	                               .max_keys = 1,
	                               .allow = &cidr,
	                               .n_allow = 1};
	struct tb_ban_conf c;
	struct tb_ban_table *t;

	assert_int_equal(tb_ban_parse_cidr("::1", &cidr), TB_OK);
	t = tb_ban_new(&ok);
	assert_non_null(t);
	tb_ban_free(t);
	tb_ban_free(NULL);
	assert_null(tb_ban_new(NULL));
#define EXPECT_REFUSED(field, value)                                                               \
	do {                                                                                       \
		c = ok;                                                                            \
		c.field = value;                                                                   \
		assert_null(tb_ban_new(&c));                                                       \
	} while (0)
	EXPECT_REFUSED(threshold, 0);
	EXPECT_REFUSED(half_life_ms, 0);
	EXPECT_REFUSED(ban_base_ms, 0);
	EXPECT_REFUSED(ban_max_ms, 999);
	EXPECT_REFUSED(max_keys, 0);
	EXPECT_REFUSED(max_keys, (1u << 20) + 1);
	EXPECT_REFUSED(n_allow, TB_BAN_MAX_ALLOW + 1);
	EXPECT_REFUSED(allow, NULL);
	EXPECT_REFUSED(allow, &bad_cidr);
#undef EXPECT_REFUSED
}

/* A reload's new settings: scores and bans stay, the new threshold and
 * allowlist apply to the next events; max_keys cannot change. */
static void banscore__reconfigure__keeps_scores_and_bans(void **state)
{
	(void)state;
	struct params p = {
	    .threshold = 100, .half_life = 60000, .base = 1000, .max = 8000, .memory = 60000};
	struct tb_ban_table *t = table_new(&p, NULL);
	struct tb_cidr cidr;
	struct sockaddr_storage ss;
	uint64_t until = 0;
	struct tb_ban_conf c = {.threshold = 30,
	                        .half_life_ms = 60000,
	                        .ban_base_ms = 5000,
	                        .ban_max_ms = 8000,
	                        .memory_ms = 60000,
	                        .max_keys = 64,
	                        .allow = &cidr,
	                        .n_allow = 1};

	assert_int_equal(add(t, "a", 100, 0, &until), TB_BAN_BANNED);
	assert_int_equal(add(t, "b", 20, 0, &until), TB_BAN_OK);
	assert_int_equal(tb_ban_parse_cidr("192.0.2.0/24", &cidr), TB_OK);
	assert_int_equal(tb_ban_reconfigure(t, &c), TB_OK);
	/* a keeps its ban (1 s, the old time), b its score */
	assert_true(is_banned(t, "a", 500));
	assert_false(is_banned(t, "a", 1500));
	assert_int_equal(score(t, "b", 0), 20000);
	/* 20 + 10 reaches the new threshold; the ban has the new base time */
	assert_int_equal(add(t, "b", 10, 0, &until), TB_BAN_BANNED);
	assert_int_equal(until, 5000);
	make_addr("192.0.2.7", &ss);
	assert_true(tb_ban_allowlisted(t, (const struct sockaddr *)&ss));
	/* max_keys is the table's size: refused, the table unchanged */
	c.max_keys = 65;
	c.threshold = 1;
	assert_int_equal(tb_ban_reconfigure(t, &c), TB_ERR_INVAL);
	assert_int_equal(add(t, "c", 2, 0, &until), TB_BAN_OK);
	tb_ban_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(banscore__score__halves_every_half_life),
	    cmocka_unit_test(banscore__clock_going_back__does_not_decay),
	    cmocka_unit_test(banscore__scenarios__score_ban_and_escalate),
	    cmocka_unit_test(banscore__ladder__stops_doubling_after_20_bans),
	    cmocka_unit_test(banscore__huge_ban_times__saturate),
	    cmocka_unit_test(banscore__ban__expires_at_its_end),
	    cmocka_unit_test(banscore__allowlisted_addresses__are_never_scored_nor_banned),
	    cmocka_unit_test(banscore__allowlisted_address__is_not_refused_for_a_banned_key),
	    cmocka_unit_test(banscore__other_address_families__are_not_allowlisted),
	    cmocka_unit_test(banscore__cidr_syntax__accepts_networks_refuses_the_rest),
	    cmocka_unit_test(banscore__full_table__evicts_lowest_score_that_is_not_banned),
	    cmocka_unit_test(banscore__full_table__ties_go_to_the_least_recently_used),
	    cmocka_unit_test(banscore__full_table__keeps_a_remembered_ban_over_a_score),
	    cmocka_unit_test(banscore__table_full_of_bans__fails_open),
	    cmocka_unit_test(banscore__banned_entries__are_moved_aside_for_the_next_scan),
	    cmocka_unit_test(banscore__stale_entries__expire_when_a_key_is_added),
	    cmocka_unit_test(banscore__banned_or_remembered_entries__do_not_expire),
	    cmocka_unit_test(banscore__key_sizes__up_to_128_bytes),
	    cmocka_unit_test(banscore__invalid_conf__creates_no_table),
	    cmocka_unit_test(banscore__reconfigure__keeps_scores_and_bans),
	};
	return cmocka_run_group_tests_name("banscore", tests, NULL, NULL);
}
