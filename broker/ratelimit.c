#include "config.h"
#include "ratelimit.h"
#include "keytable.h"

#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

_Static_assert(TB_RL_SEED_LEN == TB_KT_SEED_LEN, "one seed size");

#define RL_EXPIRE_BATCH 2u     /* idle keys freed per new key, as nginx */
#define RL_SKEW_RESET   60000u /* a clock step back beyond this re-bases (nginx) */

struct rl_entry {
	struct tb_kt_node node; /* first: a node pointer is an entry pointer */
	uint64_t last_ms;
	uint64_t excess; /* milli-requests above the rate */
	uint32_t pins;
	uint8_t key[];
};

struct tb_rl_zone {
	struct tb_rl_conf conf;
	uint64_t burst_milli;
	uint64_t delay_milli; /* UINT64_MAX: nodelay */
	struct tb_kt kt;
	struct tb_rl_counters c;
};

/* One zone's verdict between the read-only pass and the commit. */
struct rl_probe {
	struct rl_entry *e;     /* the key's entry, or NULL for a new key */
	struct rl_entry *fresh; /* new key: allocated now, inserted at commit */
	uint64_t excess;
	uint64_t ms;
	int skip; /* dry-run refusal: account nothing in this zone */
};

static struct rl_entry *entry_of(struct tb_kt_node *n)
{
	return (struct rl_entry *)(void *)n;
}

int tb_rl_parse_rate(const char *s, uint32_t *rate_milli)
{
	uint64_t n = 0, r;
	unsigned scale;
	const char *p = s;

	if (!s || !rate_milli || *p < '0' || *p > '9')
		return TB_ERR_INVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return TB_ERR_INVAL;
	}
	if (strcmp(p, "r/s") == 0)
		scale = 1;
	else if (strcmp(p, "r/m") == 0)
		scale = 60;
	else
		return TB_ERR_INVAL;
	r = n * 1000 / scale;
	if (r == 0 || r > UINT32_MAX)
		return TB_ERR_INVAL;
	*rate_milli = (uint32_t)r;
	return TB_OK;
}

struct tb_rl_zone *tb_rl_zone_new(const struct tb_rl_conf *conf)
{
	struct tb_rl_zone *z;

	if (!conf || conf->rate_milli_per_s == 0 || conf->max_keys == 0 ||
	    conf->max_keys > TB_KT_MAX_KEYS)
		return NULL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->conf = *conf;
	z->burst_milli = (uint64_t)conf->burst * 1000;
	z->delay_milli = conf->delay == TB_RL_NODELAY ? UINT64_MAX : (uint64_t)conf->delay * 1000;
	if (tb_kt_init(&z->kt, conf->max_keys, conf->hash_seed) != TB_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static void release_entry(struct tb_kt_node *n, void *arg)
{
	free(entry_of(n));
}

void tb_rl_zone_free(struct tb_rl_zone *z)
{
	if (!z)
		return;
	tb_kt_fini(&z->kt, release_entry, NULL);
	free(z);
}

/* nginx's clamp: a small step back counts as no time; a large one means the
 * clock was reset, and counting 1 ms lets 'last' move to the new time base. */
static uint64_t elapsed_ms(uint64_t now, uint64_t last)
{
	if (now >= last)
		return now - last;
	return last - now > RL_SKEW_RESET ? 1 : 0;
}

/* rate * ms / 1000, saturating: a long idle period drains any excess. */
static uint64_t drained(uint32_t rate_milli, uint64_t ms)
{
	if (ms > UINT64_MAX / rate_milli)
		return UINT64_MAX;
	return (uint64_t)rate_milli * ms / 1000;
}

static uint64_t next_excess(const struct tb_rl_zone *z, const struct rl_entry *e, uint64_t ms)
{
	/* e->excess <= burst * 1000 < 2^42: no overflow */
	uint64_t level = e->excess + 1000;
	uint64_t drain = drained(z->conf.rate_milli_per_s, ms);

	return level > drain ? level - drain : 0;
}

static int expirable(const struct tb_rl_zone *z, const struct rl_entry *e, uint64_t now)
{
	uint64_t idle = now >= e->last_ms ? now - e->last_ms : e->last_ms - now;

	return idle >= z->conf.idle_expire_ms &&
	       drained(z->conf.rate_milli_per_s, idle) >= e->excess;
}

static void drop_entry(struct tb_rl_zone *z, struct rl_entry *e)
{
	tb_kt_remove(&z->kt, &e->node);
	free(e);
}

/* Pinned keys are off the LRU list, so the tail is always evictable. */
static int has_room(const struct tb_rl_zone *z)
{
	return z->kt.count < z->conf.max_keys || z->kt.tail != NULL;
}

static void make_room(struct tb_rl_zone *z, uint64_t now)
{
	for (unsigned i = 0; i < RL_EXPIRE_BATCH && z->kt.tail; i++) {
		struct rl_entry *e = entry_of(z->kt.tail);
		if (!expirable(z, e, now))
			break;
		drop_entry(z, e);
		z->c.expired++;
	}
	if (z->kt.count >= z->conf.max_keys && z->kt.tail) {
		drop_entry(z, entry_of(z->kt.tail));
		z->c.evicted++;
	}
}

static int check_key(const void *key, size_t len)
{
	if (len > TB_RL_MAX_KEY)
		return TB_ERR_TOOBIG;
	if (!key && len)
		return TB_ERR_INVAL;
	return TB_OK;
}

static struct rl_entry *find(const struct tb_rl_zone *z, const void *key, size_t len)
{
	struct tb_kt_node *n;

	n = tb_kt_find(&z->kt, len ? key : "", len, tb_kt_hash(&z->kt, key, len));
	return n ? entry_of(n) : NULL;
}

static int refuse(struct tb_rl_zone *z, struct rl_probe *p, int verdict)
{
	if (z->conf.dry_run) {
		z->c.dry_run_rejected++;
		p->skip = 1;
		return TB_RL_DRYRUN_REJECT;
	}
	if (verdict == TB_RL_REJECT)
		z->c.rejected++;
	return verdict;
}

static struct rl_entry *entry_new(const struct tb_rl_key *k, uint64_t hash)
{
	struct rl_entry *e = malloc(sizeof(*e) + k->len);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	if (k->len)
		memcpy(e->key, k->data, k->len);
	e->node.key = e->key;
	e->node.keylen = (uint32_t)k->len;
	e->node.hash = hash;
	return e;
}

/* Decide for one zone; the only change made is the LRU touch. */
static int probe(struct tb_rl_zone *z, const struct tb_rl_key *k, uint64_t now, struct rl_probe *p)
{
	uint64_t hash = tb_kt_hash(&z->kt, k->data, k->len);
	struct tb_kt_node *n = tb_kt_find(&z->kt, k->len ? k->data : "", k->len, hash);

	memset(p, 0, sizeof(*p));
	if (n) {
		p->e = entry_of(n);
		/* touched even when refused, as nginx does: a key that keeps being
		 * refused stays hot, so a flood of new keys cannot evict it and
		 * hand it a fresh burst */
		tb_kt_lru_touch(&z->kt, n);
		p->ms = elapsed_ms(now, p->e->last_ms);
		p->excess = next_excess(z, p->e, p->ms);
		return p->excess > z->burst_milli ? refuse(z, p, TB_RL_REJECT) : TB_RL_PASS;
	}
	if (!has_room(z)) {
		z->c.table_full++;
		return refuse(z, p, TB_RL_FULL);
	}
	p->fresh = entry_new(k, hash);
	return p->fresh ? TB_RL_PASS : TB_ERR_NOMEM;
}

/* The delay for an accounted excess, and the counters. */
static uint64_t account(struct tb_rl_zone *z, uint64_t excess)
{
	uint64_t d = 0;

	if (excess > z->delay_milli)
		d = (excess - z->delay_milli) * 1000 / z->conf.rate_milli_per_s;
	if (d == 0) {
		z->c.passed++;
	} else if (z->conf.dry_run) {
		z->c.dry_run_delayed++;
		d = 0;
	} else {
		z->c.delayed++;
	}
	return d;
}

static uint64_t commit(struct tb_rl_zone *z, struct rl_probe *p, uint64_t now)
{
	if (p->fresh) {
		/* the probe saw room, and no other zone of this request can take
		 * it: each zone appears once */
		make_room(z, now);
		p->e = p->fresh;
		p->fresh = NULL;
		p->e->last_ms = now;
		p->e->excess = 0;
		tb_kt_insert(&z->kt, &p->e->node);
		return account(z, 0);
	}
	p->e->excess = p->excess;
	if (p->ms)
		p->e->last_ms = now;
	return account(z, p->excess);
}

static int check_args(struct tb_rl_zone *const zones[], const struct tb_rl_key keys[], size_t n)
{
	if (!zones || !keys || n == 0 || n > TB_RL_MAX_ZONES)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		int rc = check_key(keys[i].data, keys[i].len);
		if (rc != TB_OK)
			return rc;
		if (!zones[i])
			return TB_ERR_INVAL;
		for (size_t j = 0; j < i; j++) {
			if (zones[j] == zones[i])
				return TB_ERR_INVAL;
		}
	}
	return TB_OK;
}

int tb_rl_check_all(struct tb_rl_zone *const zones[], const struct tb_rl_key keys[], size_t n,
                    uint64_t now_ms, uint64_t *delay_ms)
{
	struct rl_probe probes[TB_RL_MAX_ZONES];
	uint64_t worst = 0;
	int dry = 0, rc;
	size_t i;

	if (delay_ms)
		*delay_ms = 0;
	rc = check_args(zones, keys, n);
	if (rc != TB_OK)
		return rc;
	for (i = 0; i < n; i++) {
		rc = probe(zones[i], &keys[i], now_ms, &probes[i]);
		if (rc == TB_RL_DRYRUN_REJECT)
			dry = 1;
		else if (rc != TB_RL_PASS)
			break;
	}
	if (i < n) {
		/* a failed probe allocated nothing; earlier ones may have */
		for (size_t j = 0; j < i; j++)
			free(probes[j].fresh);
		return rc;
	}
	for (i = 0; i < n; i++) {
		if (!probes[i].skip) {
			uint64_t d = commit(zones[i], &probes[i], now_ms);
			worst = d > worst ? d : worst;
		}
	}
	if (worst) {
		if (delay_ms)
			*delay_ms = worst;
		return TB_RL_DELAY;
	}
	return dry ? TB_RL_DRYRUN_REJECT : TB_RL_PASS;
}

int tb_rl_check(struct tb_rl_zone *z, const void *key, size_t keylen, uint64_t now_ms,
                uint64_t *delay_ms)
{
	struct tb_rl_zone *zones[1] = {z};
	struct tb_rl_key keys[1] = {{key, keylen}};

	return tb_rl_check_all(zones, keys, 1, now_ms, delay_ms);
}

/* The entry of a key that pin/unpin act on. */
static int pin_target(struct tb_rl_zone *z, const void *key, size_t keylen, struct rl_entry **e)
{
	int rc = check_key(key, keylen);

	if (!z)
		return TB_ERR_INVAL;
	if (rc != TB_OK)
		return rc;
	*e = find(z, key, keylen);
	return *e ? TB_OK : TB_ERR_NOTFOUND;
}

int tb_rl_pin(struct tb_rl_zone *z, const void *key, size_t keylen)
{
	struct rl_entry *e;
	int rc = pin_target(z, key, keylen, &e);

	if (rc != TB_OK)
		return rc;
	if (e->pins == UINT32_MAX)
		return TB_ERR_TOOBIG;
	if (e->pins++ == 0)
		tb_kt_lru_unlink(&z->kt, &e->node);
	return TB_OK;
}

int tb_rl_unpin(struct tb_rl_zone *z, const void *key, size_t keylen)
{
	struct rl_entry *e;
	int rc = pin_target(z, key, keylen, &e);

	if (rc != TB_OK)
		return rc;
	if (e->pins == 0)
		return TB_ERR_STATE;
	if (--e->pins == 0)
		tb_kt_lru_link(&z->kt, &e->node);
	return TB_OK;
}

int tb_rl_peek(const struct tb_rl_zone *z, const void *key, size_t keylen, uint64_t *excess_milli,
               uint64_t *last_ms)
{
	int rc = check_key(key, keylen);
	const struct rl_entry *e;

	if (!z)
		return TB_ERR_INVAL;
	if (rc != TB_OK)
		return rc;
	e = find(z, key, keylen);
	if (!e)
		return TB_ERR_NOTFOUND;
	if (excess_milli)
		*excess_milli = e->excess;
	if (last_ms)
		*last_ms = e->last_ms;
	return TB_OK;
}

void tb_rl_counters(const struct tb_rl_zone *z, struct tb_rl_counters *out)
{
	*out = z->c;
	out->keys = z->kt.count;
}
