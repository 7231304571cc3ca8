/*
 * The denial-of-service defences of the app side (docs/defences.md): the
 * daemon's use of the pure modules ratelimit.c (nginx limit_req), banscore.c
 * (fail2ban-style scoring) and keytable.c (open connections per address, as
 * nginx limit_conn counts them), and the table of exchanges in flight that
 * identical requests join (flight.c; session.c uses it).
 *
 * Every table is sized once, here, from the configuration, and keyed with a
 * secret drawn at startup. Everything runs on the loop thread and nothing
 * here blocks: the only system calls are getpeername() and, before the loop
 * starts, getrandom().
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

/* "busy" never asks for a retry sooner than this */
#define RETRY_MIN_MS 1000

/* One address with open connections. */
struct ip_entry {
	struct tb_kt_node node; /* first: a node pointer is an entry pointer */
	uint32_t conns;
	uint8_t key[16];
};

static struct ip_entry *ip_entry_of(struct tb_kt_node *n)
{
	return (struct ip_entry *)(void *)n;
}

/* ---- addresses --------------------------------------------------------- */

int tb_peer_from_fd(int fd, struct tb_peer *p)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(p, 0, sizeof(*p));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl))
		return TB_ERR_INVAL;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in sin;
		memcpy(&sin, &ss, sizeof(sin));
		memcpy(p->addr, &sin.sin_addr, 4);
		p->len = 4;
		return TB_OK;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 sin6;
		memcpy(&sin6, &ss, sizeof(sin6));
		if (memcmp(sin6.sin6_addr.s6_addr, v4mapped, sizeof(v4mapped)) == 0) {
			memcpy(p->addr, sin6.sin6_addr.s6_addr + 12, 4);
			p->len = 4;
		} else {
			memcpy(p->addr, sin6.sin6_addr.s6_addr, 16);
			p->len = 16;
		}
		return TB_OK;
	}
	return TB_ERR_INVAL;
}

/* The ban table's allowlist matches socket addresses. */
static const struct sockaddr *peer_sockaddr(const struct tb_peer *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->len == 4) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		memcpy(&sin.sin_addr, p->addr, 4);
		memcpy(ss, &sin, sizeof(sin));
	} else if (p->len == 16) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
		memcpy(sin6.sin6_addr.s6_addr, p->addr, 16);
		memcpy(ss, &sin6, sizeof(sin6));
	} else {
		return NULL;
	}
	return (const struct sockaddr *)ss;
}

const char *tb_peer_str(const struct tb_peer *p, char *buf, size_t len)
{
	if (!(p->len == 4 && inet_ntop(AF_INET, p->addr, buf, (socklen_t)len)) &&
	    !(p->len == 16 && inet_ntop(AF_INET6, p->addr, buf, (socklen_t)len)))
		snprintf(buf, len, "(unknown address)");
	return buf;
}

/* ---- setup ------------------------------------------------------------- */

/*
 * The secret of a table's hash: without it, a client cannot pick addresses
 * that all land in one chain. getrandom() only waits until the kernel's pool
 * is first initialised, early at boot; it runs before the loop starts.
 */
static int draw_seed(uint8_t *seed, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(seed + done, len - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int setup_zone(struct tb_zone *z, const struct tb_conf_limit *l, char *err, size_t errlen)
{
	struct tb_rl_conf rc = {
	    .rate_milli_per_s = l->rate_milli,
	    .burst = l->burst,
	    .delay = l->nodelay ? TB_RL_NODELAY : l->delay,
	    .dry_run = l->dry_run,
	    .max_keys = l->max_keys,
	    .idle_expire_ms = TB_RL_IDLE_EXPIRE,
	};

	if (draw_seed(rc.hash_seed, sizeof(rc.hash_seed))) {
		snprintf(err, errlen, "cannot draw a random hash key: %s", strerror(errno));
		return -1;
	}
	z->rl = tb_rl_zone_new(&rc);
	if (!z->rl) {
		snprintf(err, errlen, "[limit:%s]: cannot create the zone (out of memory?)",
		         l->name);
		return -1;
	}
	z->conf = l;
	return 0;
}

static int setup_bans(struct tb_defences *d, const struct tb_conf_ban *cb, char *err, size_t errlen)
{
	struct tb_cidr allow[TB_BAN_MAX_ALLOW];
	struct tb_ban_conf bc = {
	    .threshold = cb->threshold,
	    .half_life_ms = (uint32_t)cb->half_life_ms, /* conf.c bounds it */
	    .ban_base_ms = cb->ban_time_ms,
	    .ban_max_ms = cb->ban_time_max_ms,
	    .memory_ms = cb->memory_ms,
	    .max_keys = cb->max_keys,
	    .allow = allow,
	};

	if (tb_conf_parse_cidrs(cb->allow, allow, TB_BAN_MAX_ALLOW, &bc.n_allow) != TB_OK) {
		snprintf(err, errlen, "[ban] allow: cannot read \"%.64s\"", cb->allow);
		return -1;
	}
	if (draw_seed(bc.hash_seed, sizeof(bc.hash_seed))) {
		snprintf(err, errlen, "cannot draw a random hash key: %s", strerror(errno));
		return -1;
	}
	d->bans = tb_ban_new(&bc);
	if (!d->bans) {
		snprintf(err, errlen, "[ban]: cannot create the ban table (out of memory?)");
		return -1;
	}
	return 0;
}

int tb_def_setup(struct tb_broker *b, char *err, size_t errlen)
{
	struct tb_defences *d = &b->def;
	const struct tb_conf *conf = &b->conf;
	uint8_t seed[TB_KT_SEED_LEN];

	/* one entry per address with an open connection: at most one per
	 * connection */
	if (draw_seed(seed, sizeof(seed))) {
		snprintf(err, errlen, "cannot draw a random hash key: %s", strerror(errno));
		return -1;
	}
	if (tb_kt_init(&d->per_ip, conf->listener.max_connections, seed) != TB_OK) {
		snprintf(err, errlen, "cannot size the per-address connection table");
		return -1;
	}
	d->per_ip_ready = 1;
	/* one flight per session at most; a periodic policy check may take a
	 * session beyond max_sessions, and then runs without a flight */
	if (draw_seed(seed, sizeof(seed))) {
		snprintf(err, errlen, "cannot draw a random hash key: %s", strerror(errno));
		return -1;
	}
	if (tb_flights_init(&d->flights, conf->max_sessions, seed) != TB_OK) {
		snprintf(err, errlen, "cannot size the table of exchanges in flight");
		return -1;
	}
	for (size_t i = 0; i < conf->n_limits; i++) {
		if (setup_zone(&d->zones[i], &conf->limits[i], err, errlen))
			return -1;
		d->n_zones++;
	}
	if (conf->ban.enabled && setup_bans(d, &conf->ban, err, errlen))
		return -1;
	tb_log(TB_LOG_INFO,
	       "defences: at most %u connection(s) per address, %zu rate-limit zone(s), "
	       "banning %s",
	       conf->listener.max_connections_per_ip, d->n_zones, d->bans ? "on" : "off");
	return 0;
}

static void release_ip_entry(struct tb_kt_node *n, void *arg)
{
	(void)arg;
	free(ip_entry_of(n));
}

void tb_def_teardown(struct tb_broker *b)
{
	struct tb_defences *d = &b->def;

	for (size_t i = 0; i < d->n_zones; i++)
		tb_rl_zone_free(d->zones[i].rl);
	d->n_zones = 0;
	tb_ban_free(d->bans);
	d->bans = NULL;
	if (d->per_ip_ready)
		tb_kt_fini(&d->per_ip, release_ip_entry, NULL);
	d->per_ip_ready = 0;
	tb_flights_fini(&d->flights);
}

/* ---- connections ------------------------------------------------------- */

static struct ip_entry *ip_find(const struct tb_defences *d, const struct tb_peer *p)
{
	struct tb_kt_node *n =
	    tb_kt_find(&d->per_ip, p->addr, p->len, tb_kt_hash(&d->per_ip, p->addr, p->len));

	return n ? ip_entry_of(n) : NULL;
}

int tb_def_admit(struct tb_broker *b, const struct tb_peer *p)
{
	struct tb_defences *d = &b->def;
	struct sockaddr_storage ss;
	const struct ip_entry *e;

	if (b->stopping) {
		b->counters.refused_stopping++;
		return 1;
	}
	if (b->n_conns >= b->conf.listener.max_connections) {
		b->counters.refused_global++;
		return 1;
	}
	if (!p->len)
		return 0;
	if (d->bans &&
	    tb_ban_check(d->bans, p->addr, p->len, peer_sockaddr(p, &ss), tb_now_ms(), NULL)) {
		b->counters.refused_banned++;
		return 1;
	}
	e = d->per_ip_ready ? ip_find(d, p) : NULL;
	if (e && e->conns >= b->conf.listener.max_connections_per_ip) {
		b->counters.refused_per_ip++;
		return 1;
	}
	return 0;
}

int tb_def_conn_add(struct tb_broker *b, const struct tb_peer *p)
{
	struct tb_defences *d = &b->def;
	struct ip_entry *e;

	if (!p->len || !d->per_ip_ready)
		return TB_OK;
	e = ip_find(d, p);
	if (e) {
		e->conns++;
		return TB_OK;
	}
	/* the caller admitted the connection, so there is room: one entry per
	 * open connection at most, and fewer than max_connections are open */
	if (d->per_ip.count >= b->conf.listener.max_connections)
		return TB_ERR_TOOBIG;
	e = calloc(1, sizeof(*e));
	if (!e)
		return TB_ERR_NOMEM;
	memcpy(e->key, p->addr, p->len);
	e->node.key = e->key;
	e->node.keylen = p->len;
	e->node.hash = tb_kt_hash(&d->per_ip, p->addr, p->len);
	e->conns = 1;
	tb_kt_insert(&d->per_ip, &e->node);
	return TB_OK;
}

void tb_def_conn_remove(struct tb_broker *b, const struct tb_peer *p)
{
	struct tb_defences *d = &b->def;
	struct ip_entry *e;

	if (!p->len || !d->per_ip_ready)
		return;
	e = ip_find(d, p);
	if (!e)
		return;
	if (--e->conns == 0) {
		tb_kt_remove(&d->per_ip, &e->node);
		free(e);
	}
}

/* ---- rate limits ------------------------------------------------------- */

/* The longest key a zone sees: a tag byte and an identity. */
#define ZONE_KEY_MAX (1 + TB_PLUGIN_IDENTITY_MAX)
_Static_assert(ZONE_KEY_MAX <= TB_RL_MAX_KEY, "an app key fits a rate-limit key");

/*
 * The key of connection c in a zone: its address, or in a `key = app` zone
 * its identity when a plugin gave one. In such a zone both kinds are tagged
 * (0: address, 1: identity), so that no identity can share a bucket with an
 * address whose bytes it happens to spell.
 */
static size_t zone_key(const struct tb_conf_limit *l, const struct tb_ua_conn *c,
                       const struct tb_tee *tee, uint8_t key[ZONE_KEY_MAX])
{
	size_t n;

	/* the global keys: one bucket per TEE, per TAM, or for all (tee NULL,
	 * as for an app acting as a TAM: the first TEE's) */
	switch (l->key) {
	case TB_LIMIT_KEY_TEE:
		key[0] = 2;
		key[1] = tee ? (uint8_t)tee->index : 0;
		return 2;
	case TB_LIMIT_KEY_TAM:
		key[0] = 3;
		key[1] = tee ? (uint8_t)(tee->tam - tee->b->conf.tams) : 0;
		return 2;
	case TB_LIMIT_KEY_ALL:
		key[0] = 4;
		return 1;
	case TB_LIMIT_KEY_CONNECTION:
		/* connection ids are never reused: a closed connection's
		 * bucket drains and is evicted like any other */
		key[0] = 5;
		for (int i = 0; i < 8; i++)
			key[1 + i] = (uint8_t)(c->id >> (8 * i));
		return 9;
	default:
		break;
	}
	if (l->key != TB_LIMIT_KEY_APP) {
		memcpy(key, c->addr.addr, c->addr.len);
		return c->addr.len;
	}
	if (c->identity[0]) {
		n = strlen(c->identity);
		key[0] = 1;
		memcpy(key + 1, c->identity, n);
		return n + 1;
	}
	key[0] = 0;
	memcpy(key + 1, c->addr.addr, c->addr.len);
	return (size_t)c->addr.len + 1;
}

/* One bucket per TEE, per TAM or for all: a handful of keys in a zone of
 * their own, never evicted, so never pinned. */
static int global_key(const struct tb_conf_limit *l)
{
	return l->key == TB_LIMIT_KEY_TEE || l->key == TB_LIMIT_KEY_TAM ||
	       l->key == TB_LIMIT_KEY_ALL;
}

static const char *kind_name(enum tb_limit_applies kind)
{
	return kind == TB_LIMIT_MESSAGES ? "frame" : "request";
}

/* What the zones' counters say happened during one check, for the log. */
static void report(struct tb_broker *b, struct tb_ua_conn *c, enum tb_limit_applies kind,
                   const size_t idx[], const struct tb_rl_counters before[], size_t n)
{
	int dry = 0;

	for (size_t i = 0; i < n; i++) {
		struct tb_zone *z = &b->def.zones[idx[i]];
		struct tb_rl_counters after;

		tb_rl_counters(z->rl, &after);
		if (after.table_full != before[i].table_full && !z->warned_full) {
			z->warned_full = 1;
			tb_log(TB_LOG_WARN,
			       "limit %s: the table is full of addresses with delayed requests "
			       "(max_keys %u): new addresses are %s (logged once; see the "
			       "counters)",
			       z->conf->name, z->conf->max_keys,
			       z->conf->dry_run ? "served (dry run)" : "refused");
		}
		if (after.dry_run_rejected != before[i].dry_run_rejected) {
			dry = 1;
			tb_log(TB_LOG_INFO, "app %s: limit %s (dry run) would have refused this %s",
			       c->peer, z->conf->name, kind_name(kind));
		} else if (after.dry_run_delayed != before[i].dry_run_delayed) {
			dry = 1;
			tb_log(TB_LOG_INFO, "app %s: limit %s (dry run) would have delayed this %s",
			       c->peer, z->conf->name, kind_name(kind));
		}
	}
	if (dry)
		b->counters.rate_dryrun++;
}

enum tb_def_verdict tb_def_limit(struct tb_broker *b, struct tb_ua_conn *c,
                                 const struct tb_tee *tee, enum tb_limit_applies kind,
                                 uint64_t *delay_ms, uint64_t *retry_ms, unsigned *pins)
{
	struct tb_defences *d = &b->def;
	struct tb_rl_zone *zones[TB_RL_MAX_ZONES];
	struct tb_rl_key keys[TB_RL_MAX_ZONES];
	struct tb_rl_counters before[TB_RL_MAX_ZONES];
	uint8_t keybuf[TB_RL_MAX_ZONES][ZONE_KEY_MAX];
	size_t idx[TB_RL_MAX_ZONES];
	uint64_t retry = RETRY_MIN_MS, delay = 0;
	size_t n = 0;
	int rc;

	_Static_assert(TB_CONF_MAX_LIMITS <= TB_RL_MAX_ZONES, "all zones fit one check");
	*delay_ms = 0;
	*retry_ms = 0;
	*pins = 0;
	for (size_t i = 0; i < d->n_zones; i++) {
		const struct tb_conf_limit *l = d->zones[i].conf;
		if (l->applies_to != (int)kind)
			continue;
		zones[n] = d->zones[i].rl;
		keys[n].data = keybuf[n];
		keys[n].len = zone_key(l, c, tee, keybuf[n]);
		tb_rl_counters(zones[n], &before[n]);
		idx[n] = i;
		/* the time one request takes to drain from a full bucket: by
		 * then the app's retry passes, unless others keep it full */
		if (!l->dry_run && 1000000u / l->rate_milli > retry)
			retry = 1000000u / l->rate_milli;
		n++;
	}
	if (n == 0)
		return TB_DEF_PASS;
	rc = tb_rl_check_all(zones, keys, n, tb_now_ms(), &delay);
	report(b, c, kind, idx, before, n);
	switch (rc) {
	case TB_RL_PASS:
	case TB_RL_DRYRUN_REJECT:
		return TB_DEF_PASS;
	case TB_RL_DELAY:
		/* the key must outlive the wait: a pinned key is never evicted */
		for (size_t i = 0; i < n; i++)
			if (!d->zones[idx[i]].conf->dry_run && !global_key(d->zones[idx[i]].conf) &&
			    tb_rl_pin(zones[i], keys[i].data, keys[i].len) == TB_OK)
				*pins |= 1u << idx[i];
		b->counters.rate_delayed++;
		*delay_ms = delay;
		tb_log(TB_LOG_DEBUG, "app %s: %s delayed by %llu ms", c->peer, kind_name(kind),
		       (unsigned long long)delay);
		return TB_DEF_DELAY;
	default:
		/* above a burst, a full table, or an error of the limiter: all
		 * refuse (a limiter that cannot decide must not let through) */
		b->counters.rate_limited++;
		*retry_ms = retry;
		tb_log(TB_LOG_DEBUG, "app %s: %s refused by a rate limit (%d)", c->peer,
		       kind_name(kind), rc);
		return TB_DEF_REFUSE;
	}
}

void tb_def_unpin(struct tb_broker *b, const struct tb_ua_conn *c, unsigned pins)
{
	uint8_t key[ZONE_KEY_MAX];

	/* global-key zones are never pinned (see tb_def_limit), so no TEE is
	 * needed to find a pinned key again */
	for (size_t i = 0; i < b->def.n_zones; i++)
		if (pins & (1u << i))
			tb_rl_unpin(b->def.zones[i].rl, key,
			            zone_key(b->def.zones[i].conf, c, NULL, key));
}

/* ---- bans -------------------------------------------------------------- */

void tb_def_score(struct tb_broker *b, const struct tb_peer *p, uint32_t weight, const char *what)
{
	struct tb_defences *d = &b->def;
	struct sockaddr_storage ss;
	uint64_t now = tb_now_ms(), until = 0, score;
	char text[INET6_ADDRSTRLEN + 8];

	if (!d->bans || !p->len || !weight)
		return;
	score = tb_ban_score_milli(d->bans, p->addr, p->len, now) + (uint64_t)weight * 1000;
	if (tb_ban_add(d->bans, p->addr, p->len, peer_sockaddr(p, &ss), weight, now, &until) !=
	    TB_BAN_BANNED)
		return;
	b->counters.bans++;
	tb_log(TB_LOG_NOTICE, "banning %s for %llu s: score %llu reached threshold %u (last: %s)",
	       tb_peer_str(p, text, sizeof(text)),
	       (unsigned long long)((until > now ? until - now : 0) + 999) / 1000,
	       (unsigned long long)(score / 1000), b->conf.ban.threshold, what);
	if (b->n_plugins) {
		struct tb_plugin_ban ban = {
		    .struct_size = sizeof(ban),
		    .address = text,
		    .duration_ms = until > now ? until - now : 0,
		    .score = score / 1000,
		    .threshold = b->conf.ban.threshold,
		    .reason = what,
		};
		tb_plugins_ban(b, &ban);
	}
	tb_ua_ban_close(b, p, until);
}

int tb_def_ban_now(struct tb_broker *b, const struct tb_peer *p, const char *what)
{
	struct sockaddr_storage ss;

	if (!b->def.bans)
		return TB_ERR_STATE;
	if (tb_ban_allowlisted(b->def.bans, peer_sockaddr(p, &ss)))
		return TB_ERR_NOTFOUND;
	/* the whole threshold at once: the ban starts now (or goes on) */
	tb_def_score(b, p, b->conf.ban.threshold, what);
	return TB_OK;
}

int tb_peer_from_text(const char *s, struct tb_peer *p)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(p, 0, sizeof(*p));
	if (s && inet_pton(AF_INET, s, p->addr) == 1) {
		p->len = 4;
	} else if (s && inet_pton(AF_INET6, s, p->addr) == 1) {
		p->len = 16;
		if (!memcmp(p->addr, mapped, sizeof(mapped))) {
			memmove(p->addr, p->addr + 12, 4);
			memset(p->addr + 4, 0, 12);
			p->len = 4;
		}
	} else {
		return TB_ERR_INVAL;
	}
	return TB_OK;
}

/* ---- counters ---------------------------------------------------------- */

void tb_def_log_counters(const struct tb_broker *b)
{
	const struct tb_defences *d = &b->def;

	for (size_t i = 0; i < d->n_zones; i++) {
		struct tb_rl_counters k;
		tb_rl_counters(d->zones[i].rl, &k);
		tb_log(TB_LOG_NOTICE,
		       "limit %s: passed %llu delayed %llu rejected %llu; dry run rejected %llu "
		       "delayed %llu; table full %llu evicted %llu expired %llu keys %llu",
		       d->zones[i].conf->name, (unsigned long long)k.passed,
		       (unsigned long long)k.delayed, (unsigned long long)k.rejected,
		       (unsigned long long)k.dry_run_rejected,
		       (unsigned long long)k.dry_run_delayed, (unsigned long long)k.table_full,
		       (unsigned long long)k.evicted, (unsigned long long)k.expired,
		       (unsigned long long)k.keys);
	}
	if (d->bans) {
		struct tb_ban_counters k;
		tb_ban_counters(d->bans, &k);
		tb_log(TB_LOG_NOTICE,
		       "ban table: scored %llu bans %llu banned refusals %llu allowlisted %llu; "
		       "table full %llu evicted %llu expired %llu keys %llu",
		       (unsigned long long)k.scored, (unsigned long long)k.bans,
		       (unsigned long long)k.banned_refusals, (unsigned long long)k.allowlisted,
		       (unsigned long long)k.table_full, (unsigned long long)k.evicted,
		       (unsigned long long)k.expired, (unsigned long long)k.keys);
	}
	if (d->per_ip_ready)
		tb_log(TB_LOG_NOTICE, "addresses with open connections: %u", d->per_ip.count);
}

/* ---- configuration reload ---------------------------------------------- */

/* Do a zone's buckets mean the same under l as under its old settings? */
static int same_zone(const struct tb_conf_limit *a, const struct tb_conf_limit *l)
{
	return strcmp(a->name, l->name) == 0 && a->rate_milli == l->rate_milli &&
	       a->burst == l->burst && a->delay == l->delay && a->nodelay == l->nodelay &&
	       a->dry_run == l->dry_run && a->applies_to == l->applies_to && a->key == l->key &&
	       a->max_keys == l->max_keys;
}

int tb_def_reload_prepare(const struct tb_broker *b, const struct tb_conf *next,
                          struct tb_def_prepared *p, char *err, size_t errlen)
{
	const struct tb_defences *d = &b->def;
	int taken[TB_CONF_MAX_LIMITS] = {0};

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < next->n_limits; i++) {
		p->keep[i] = -1;
		for (size_t j = 0; j < d->n_zones; j++)
			if (!taken[j] && same_zone(d->zones[j].conf, &next->limits[i])) {
				p->keep[i] = (int)j;
				taken[j] = 1;
				break;
			}
		if (p->keep[i] < 0 && setup_zone(&p->zones[i], &next->limits[i], err, errlen)) {
			p->n = i;
			tb_def_reload_release(p);
			return -1;
		}
		p->n = i + 1;
	}
	return 0;
}

void tb_def_reload_release(struct tb_def_prepared *p)
{
	for (size_t i = 0; i < p->n; i++)
		tb_rl_zone_free(p->zones[i].rl);
	for (size_t i = 0; i < p->n_retired; i++)
		tb_rl_zone_free(p->retired[i]);
	memset(p, 0, sizeof(*p));
}

int tb_def_reload(struct tb_broker *b, struct tb_conf *next, struct tb_def_prepared *p)
{
	struct tb_defences *d = &b->def;
	struct tb_zone zones[TB_CONF_MAX_LIMITS];
	int kept[TB_CONF_MAX_LIMITS] = {0};
	struct tb_cidr allow[TB_BAN_MAX_ALLOW];
	struct tb_ban_conf bc = {
	    .threshold = next->ban.threshold,
	    .half_life_ms = (uint32_t)next->ban.half_life_ms, /* conf.c bounds it */
	    .ban_base_ms = next->ban.ban_time_ms,
	    .ban_max_ms = next->ban.ban_time_max_ms,
	    .memory_ms = next->ban.memory_ms,
	    .max_keys = next->ban.max_keys,
	    .allow = allow,
	};

	/* first what may fail, with nothing changed yet */
	if (p->n != next->n_limits ||
	    (d->bans &&
	     tb_conf_parse_cidrs(next->ban.allow, allow, TB_BAN_MAX_ALLOW, &bc.n_allow) != TB_OK))
		return TB_ERR_INVAL;
	memset(zones, 0, sizeof(zones));
	for (size_t i = 0; i < p->n; i++) {
		if (p->keep[i] >= 0) {
			zones[i] = d->zones[p->keep[i]];
			kept[p->keep[i]] = 1;
		} else {
			zones[i] = p->zones[i];
			p->zones[i].rl = NULL; /* the loop's now */
		}
	}

	/* the frames held back keep their delay, not their pins: the pin
	 * bits name zones by their place, which is about to change */
	tb_ua_unpin_held(b);
	for (size_t j = 0; j < d->n_zones; j++)
		if (!kept[j])
			p->retired[p->n_retired++] = d->zones[j].rl;
	/* the limits change places with next's (freed with next) */
	struct tb_conf_limit tmp[TB_CONF_MAX_LIMITS];
	size_t n_tmp = b->conf.n_limits;
	memcpy(tmp, b->conf.limits, sizeof(tmp));
	memcpy(b->conf.limits, next->limits, sizeof(tmp));
	memcpy(next->limits, tmp, sizeof(tmp));
	b->conf.n_limits = next->n_limits;
	next->n_limits = n_tmp;
	for (size_t i = 0; i < b->conf.n_limits; i++) {
		d->zones[i] = zones[i];
		d->zones[i].conf = &b->conf.limits[i];
	}
	d->n_zones = b->conf.n_limits;

	/* bans: the table keeps its scores and bans (enabled and max_keys
	 * need a restart, confdiff.c) */
	if (d->bans)
		tb_ban_reconfigure(d->bans, &bc); /* checked by conf.c and above */
	char *s = b->conf.ban.allow;
	int enabled = b->conf.ban.enabled;
	uint32_t max_keys = b->conf.ban.max_keys;
	b->conf.ban = next->ban;
	b->conf.ban.enabled = enabled;
	b->conf.ban.max_keys = max_keys;
	next->ban.allow = s;
	return TB_OK;
}
