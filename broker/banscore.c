#include "config.h"
#include "banscore.h"
#include "keytable.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <teep-broker/driver.h>

_Static_assert(TB_BAN_SEED_LEN == TB_KT_SEED_LEN, "one seed size");

#define BAN_SCAN         8u                  /* LRU-tail entries looked at per new key */
#define BAN_EXPIRE_BATCH 2u                  /* stale entries freed per new key */
#define SCORE_ONE        ((uint64_t)1 << 16) /* scores are Q16 fixed point */
#define SCORE_CAP        ((uint64_t)UINT32_MAX << 16)
#define SCORE_STALE      (SCORE_ONE / 64) /* below any threshold's rounding */

struct ban_entry {
	struct tb_kt_node node; /* first: a node pointer is an entry pointer */
	uint64_t score;         /* Q16 points, as of score_ms */
	uint64_t score_ms;
	uint64_t until_ms;  /* banned while now < until_ms */
	uint64_t forget_ms; /* 'bans' remembered while now < forget_ms */
	uint32_t bans;
	uint8_t key[];
};

struct tb_ban_table {
	struct tb_ban_conf conf; /* conf.allow unused: see allow[] */
	struct tb_cidr allow[TB_BAN_MAX_ALLOW];
	size_t n_allow;
	struct tb_kt kt;
	struct tb_ban_counters c;
};

/* 2^(-i/64) in Q16, i = 0..64: the fraction of a half-life is interpolated
 * between neighbours (error below 2e-5, under the Q16 resolution). */
static const uint32_t exp2_neg_q16[65] = {
    65536, 64830, 64132, 63441, 62757, 62081, 61413, 60751, 60097, 59449, 58809, 58176, 57549,
    56929, 56316, 55709, 55109, 54515, 53928, 53347, 52773, 52204, 51642, 51085, 50535, 49991,
    49452, 48920, 48393, 47871, 47356, 46846, 46341, 45842, 45348, 44859, 44376, 43898, 43425,
    42958, 42495, 42037, 41584, 41136, 40693, 40255, 39821, 39392, 38968, 38548, 38133, 37722,
    37316, 36914, 36516, 36123, 35734, 35349, 34968, 34591, 34219, 33850, 33486, 33125, 32768};

static struct ban_entry *entry_of(struct tb_kt_node *n)
{
	return (struct ban_entry *)(void *)n;
}

/* score * 2^(-dt / half_life): whole half-lives are exact shifts. */
static uint64_t decay(uint64_t score, uint64_t dt, uint32_t half_life)
{
	uint64_t halvings = dt / half_life;
	uint64_t pos = dt % half_life * 64; /* < 2^38 */
	uint64_t i = pos / half_life, w = pos % half_life;
	uint64_t f;

	if (halvings >= 64)
		return 0;
	score >>= halvings;
	f = exp2_neg_q16[i] - (exp2_neg_q16[i] - exp2_neg_q16[i + 1]) * w / half_life;
	/* score <= SCORE_CAP < 2^48 and f <= 2^16: no overflow */
	return score * f >> 16;
}

static uint64_t score_at(const struct tb_ban_table *t, const struct ban_entry *e, uint64_t now)
{
	/* the clock never runs back, but if it did: no decay */
	if (now <= e->score_ms)
		return e->score;
	return decay(e->score, now - e->score_ms, t->conf.half_life_ms);
}

static int banned(const struct ban_entry *e, uint64_t now)
{
	return now < e->until_ms;
}

static int remembers(const struct ban_entry *e, uint64_t now)
{
	return e->bans > 0 && now < e->forget_ms;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* base * 2^min(previous, 20), capped; base <= max >> shift rules out overflow */
static uint64_t ban_length(const struct tb_ban_conf *conf, uint32_t previous)
{
	unsigned shift = previous < TB_BAN_MAX_SHIFT ? previous : TB_BAN_MAX_SHIFT;

	if (conf->ban_base_ms > conf->ban_max_ms >> shift)
		return conf->ban_max_ms;
	return conf->ban_base_ms << shift;
}

/* ---- allowlist ---- */

static void mask_prefix(uint8_t *a, unsigned prefix, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

static int cidr_contains(const struct tb_cidr *c, int family, const uint8_t *a)
{
	unsigned bytes = family == AF_INET ? 4 : 16;
	uint8_t m[16];

	if (c->family != family)
		return 0;
	memcpy(m, a, bytes);
	mask_prefix(m, c->prefix, bytes);
	return memcmp(m, c->addr, bytes) == 0;
}

static int parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	/* 1..3 digits, no sign, no leading zero */
	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TB_ERR_INVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return TB_ERR_INVAL;
	*out = v;
	return TB_OK;
}

int tb_ban_parse_cidr(const char *s, struct tb_cidr *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct tb_cidr c;
	const char *slash;
	size_t alen;
	unsigned bits, prefix;
	uint8_t masked[16];

	if (!s || !out)
		return TB_ERR_INVAL;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		return TB_ERR_INVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, buf, c.addr) == 1) {
		c.family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
		c.family = AF_INET6;
		bits = 128;
	} else {
		return TB_ERR_INVAL;
	}
	prefix = bits;
	if (slash && parse_prefix(slash + 1, bits, &prefix) != TB_OK)
		return TB_ERR_INVAL;
	memcpy(masked, c.addr, sizeof(masked));
	mask_prefix(masked, prefix, bits / 8);
	if (memcmp(masked, c.addr, bits / 8) != 0)
		return TB_ERR_INVAL;
	c.prefix = (uint8_t)prefix;
	*out = c;
	return TB_OK;
}

static int allowed(const struct tb_ban_table *t, int family, const uint8_t *a)
{
	for (size_t i = 0; i < t->n_allow; i++) {
		if (cidr_contains(&t->allow[i], family, a))
			return 1;
	}
	return 0;
}

int tb_ban_allowlisted(const struct tb_ban_table *t, const struct sockaddr *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!t || !addr)
		return 0;
	if (addr->sa_family == AF_INET) {
		memcpy(&sin, addr, sizeof(sin));
		return allowed(t, AF_INET, (const uint8_t *)&sin.sin_addr);
	}
	if (addr->sa_family != AF_INET6)
		return 0;
	memcpy(&sin6, addr, sizeof(sin6));
	if (allowed(t, AF_INET6, sin6.sin6_addr.s6_addr))
		return 1;
	/* a dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d */
	return memcmp(sin6.sin6_addr.s6_addr, v4mapped, sizeof(v4mapped)) == 0 &&
	       allowed(t, AF_INET, sin6.sin6_addr.s6_addr + 12);
}

/* ---- table ---- */

static int conf_valid(const struct tb_ban_conf *conf)
{
	if (!conf || conf->threshold == 0 || conf->half_life_ms == 0 || conf->ban_base_ms == 0 ||
	    conf->ban_max_ms < conf->ban_base_ms || conf->max_keys == 0 ||
	    conf->max_keys > TB_KT_MAX_KEYS || conf->n_allow > TB_BAN_MAX_ALLOW ||
	    (conf->n_allow && !conf->allow))
		return 0;
	for (size_t i = 0; i < conf->n_allow; i++) {
		const struct tb_cidr *c = &conf->allow[i];
		if (!(c->family == AF_INET && c->prefix <= 32) &&
		    !(c->family == AF_INET6 && c->prefix <= 128))
			return 0;
	}
	return 1;
}

struct tb_ban_table *tb_ban_new(const struct tb_ban_conf *conf)
{
	struct tb_ban_table *t;

	if (!conf_valid(conf))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->conf = *conf;
	t->conf.allow = NULL;
	for (size_t i = 0; i < conf->n_allow; i++) {
		/* stored masked, so that matching is one compare */
		t->allow[i] = conf->allow[i];
		mask_prefix(t->allow[i].addr, t->allow[i].prefix,
		            t->allow[i].family == AF_INET ? 4 : 16);
	}
	t->n_allow = conf->n_allow;
	if (tb_kt_init(&t->kt, conf->max_keys, conf->hash_seed) != TB_OK) {
		free(t);
		return NULL;
	}
	return t;
}

int tb_ban_reconfigure(struct tb_ban_table *t, const struct tb_ban_conf *conf)
{
	if (!t || !conf_valid(conf) || conf->max_keys != t->conf.max_keys)
		return TB_ERR_INVAL;
	uint8_t seed[TB_BAN_SEED_LEN];
	memcpy(seed, t->conf.hash_seed, sizeof(seed));
	t->conf = *conf;
	t->conf.allow = NULL;
	memcpy(t->conf.hash_seed, seed, sizeof(seed));
	for (size_t i = 0; i < conf->n_allow; i++) {
		t->allow[i] = conf->allow[i];
		mask_prefix(t->allow[i].addr, t->allow[i].prefix,
		            t->allow[i].family == AF_INET ? 4 : 16);
	}
	t->n_allow = conf->n_allow;
	return TB_OK;
}

static void release_entry(struct tb_kt_node *n, void *arg)
{
	free(entry_of(n));
}

void tb_ban_free(struct tb_ban_table *t)
{
	if (!t)
		return;
	tb_kt_fini(&t->kt, release_entry, NULL);
	free(t);
}

static int check_key(const void *key, size_t len)
{
	if (len > TB_BAN_MAX_KEY)
		return TB_ERR_TOOBIG;
	if (!key && len)
		return TB_ERR_INVAL;
	return TB_OK;
}

static struct ban_entry *find(const struct tb_ban_table *t, const void *key, size_t len,
                              uint64_t hash)
{
	struct tb_kt_node *n = tb_kt_find(&t->kt, len ? key : "", len, hash);

	return n ? entry_of(n) : NULL;
}

static void drop_entry(struct tb_ban_table *t, struct ban_entry *e)
{
	tb_kt_remove(&t->kt, &e->node);
	free(e);
}

/* Nothing worth keeping: no ban, none remembered, a score of crumbs. */
static int stale(const struct tb_ban_table *t, const struct ban_entry *e, uint64_t now)
{
	return !banned(e, now) && !remembers(e, now) && score_at(t, e, now) < SCORE_STALE;
}

/* Lower is evicted first: a remembered ban outranks any score. */
static uint64_t keep_rank(const struct tb_ban_table *t, const struct ban_entry *e, uint64_t now)
{
	return (remembers(e, now) ? (uint64_t)1 << 63 : 0) | score_at(t, e, now);
}

/* Returns 1 when there is room for one more entry. */
static int make_room(struct tb_ban_table *t, uint64_t now)
{
	struct tb_kt_node *n = t->kt.tail;
	struct ban_entry *victim = NULL;
	uint64_t victim_rank = UINT64_MAX;
	uint32_t look = t->kt.count < BAN_SCAN ? t->kt.count : BAN_SCAN;
	unsigned freed = 0;

	/* 'look' never exceeds the list length, so an entry moved to the head
	 * below is not visited twice */
	for (uint32_t i = 0; i < look && n; i++) {
		struct tb_kt_node *prev = n->prev;
		struct ban_entry *e = entry_of(n);
		if (banned(e, now)) {
			tb_kt_lru_touch(&t->kt, n);
		} else if (freed < BAN_EXPIRE_BATCH && stale(t, e, now)) {
			drop_entry(t, e);
			t->c.expired++;
			freed++;
		} else {
			uint64_t rank = keep_rank(t, e, now);
			if (rank < victim_rank) {
				victim = e;
				victim_rank = rank;
			}
		}
		n = prev;
	}
	if (t->kt.count < t->conf.max_keys)
		return 1;
	if (!victim)
		return 0;
	drop_entry(t, victim);
	t->c.evicted++;
	return 1;
}

static int entry_add(struct tb_ban_table *t, const void *key, size_t len, uint64_t hash,
                     uint64_t now, struct ban_entry **out)
{
	struct ban_entry *e;

	*out = NULL;
	if (!make_room(t, now)) {
		t->c.table_full++;
		return TB_OK;
	}
	e = calloc(1, sizeof(*e) + len);
	if (!e)
		return TB_ERR_NOMEM;
	if (len)
		memcpy(e->key, key, len);
	e->node.key = e->key;
	e->node.keylen = (uint32_t)len;
	e->node.hash = hash;
	e->score_ms = now;
	tb_kt_insert(&t->kt, &e->node);
	*out = e;
	return TB_OK;
}

static uint64_t start_ban(struct tb_ban_table *t, struct ban_entry *e, uint64_t now)
{
	uint32_t previous = remembers(e, now) ? e->bans : 0;

	e->until_ms = sat_add(now, ban_length(&t->conf, previous));
	e->forget_ms = sat_add(e->until_ms, t->conf.memory_ms);
	e->bans = previous == UINT32_MAX ? previous : previous + 1;
	e->score = 0;
	e->score_ms = now;
	t->c.bans++;
	return e->until_ms;
}

int tb_ban_add(struct tb_ban_table *t, const void *key, size_t keylen, const struct sockaddr *addr,
               uint32_t weight, uint64_t now_ms, uint64_t *until_ms)
{
	struct ban_entry *e;
	uint64_t hash, score, until;
	int rc;

	if (until_ms)
		*until_ms = 0;
	if (!t)
		return TB_ERR_INVAL;
	rc = check_key(key, keylen);
	if (rc != TB_OK)
		return rc;
	if (tb_ban_allowlisted(t, addr)) {
		t->c.allowlisted++;
		return TB_BAN_OK;
	}
	hash = tb_kt_hash(&t->kt, key, keylen);
	e = find(t, key, keylen, hash);
	if (e && banned(e, now_ms)) {
		if (until_ms)
			*until_ms = e->until_ms;
		return TB_BAN_ALREADY;
	}
	if (!e) {
		rc = entry_add(t, key, keylen, hash, now_ms, &e);
		if (!e)
			return rc; /* TB_OK with table_full counted, or TB_ERR_NOMEM */
	}
	tb_kt_lru_touch(&t->kt, &e->node);
	t->c.scored++;
	score = score_at(t, e, now_ms) + ((uint64_t)weight << 16);
	e->score = score < SCORE_CAP ? score : SCORE_CAP;
	if (now_ms > e->score_ms)
		e->score_ms = now_ms;
	if (e->score < (uint64_t)t->conf.threshold << 16)
		return TB_BAN_OK;
	until = start_ban(t, e, now_ms);
	if (until_ms)
		*until_ms = until;
	return TB_BAN_BANNED;
}

int tb_ban_check(struct tb_ban_table *t, const void *key, size_t keylen,
                 const struct sockaddr *addr, uint64_t now_ms, uint64_t *until_ms)
{
	struct ban_entry *e;

	if (until_ms)
		*until_ms = 0;
	if (!t || check_key(key, keylen) != TB_OK || tb_ban_allowlisted(t, addr))
		return 0;
	e = find(t, key, keylen, tb_kt_hash(&t->kt, key, keylen));
	if (!e || !banned(e, now_ms))
		return 0;
	t->c.banned_refusals++;
	if (until_ms)
		*until_ms = e->until_ms;
	return 1;
}

uint64_t tb_ban_score_milli(const struct tb_ban_table *t, const void *key, size_t keylen,
                            uint64_t now_ms)
{
	const struct ban_entry *e;

	if (!t || check_key(key, keylen) != TB_OK)
		return 0;
	e = find(t, key, keylen, tb_kt_hash(&t->kt, key, keylen));
	return e ? score_at(t, e, now_ms) * 1000 >> 16 : 0;
}

void tb_ban_counters(const struct tb_ban_table *t, struct tb_ban_counters *out)
{
	*out = t->c;
	out->keys = t->kt.count;
}
