/*
 * Configuration reload (reload.h). Two halves:
 *
 *   off the loop  a thread reads the file (tb_conf_load), compares it with
 *                 the configuration in use (confdiff.c: a change that needs a
 *                 restart refuses the reload) and has every plugin with
 *                 reload hooks prepare its new options (token files are read
 *                 there); then it wakes the loop with lws_cancel_service().
 *                 The loop does not change b->conf while the thread runs (it
 *                 only ever changes it in apply(), below, after the thread
 *                 is done), so the thread may read it.
 *   on the loop   apply() moves the new values into b->conf, key by key,
 *                 within one loop callback: no app or exchange sees half of
 *                 it. Bounded work, no allocation: a few hundred fields, the
 *                 rate-limit zones swapped (new ones made by the thread,
 *                 dropped ones freed by the next reload's thread: a zone's
 *                 table takes milliseconds to make or free), one walk of
 *                 the connections, the plugins' commits.
 *
 * Lifetime. Everything of the broker reads its settings through b->conf at
 * the time it uses them (sessions, queues, connections and timers hold
 * pointers to the sections in b->conf, never to their strings): the sections
 * stay where they are and take the new values in place, and a string that
 * changes trades places with the new configuration's, which is freed once
 * apply() is over, when no loop code holds it any more. So an exchange in
 * flight keeps no pointer into a configuration that goes away, and uses the
 * new values from its next step on (a timer armed keeps its time; a TAM
 * answer being read keeps the size limit it started with). What needs a
 * restart is exactly what cannot change that way (confdiff.c).
 *
 * Checks. tb_conf_load() makes every check of the file a start makes before
 * it opens anything. The further checks of --check-config (checkconf.c:
 * directories, users, key and CA files, drivers and plugins loaded) are all
 * about keys that need a restart, which a reload refuses to change, except
 * the plugins' own files, which their reload_prepare reads.
 *
 * Rate limits: a [limit:NAME] zone whose settings are unchanged keeps its
 * buckets; a zone that is new or changed starts empty. The [ban] table keeps
 * its scores and bans.
 */
#include "config.h"
#include "reload.h"
#include "broker.h"
#include "confdiff.h"
#include "notify.h"
#include "tls_listener.h"
#include "tb_log.h"
#include "tb_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELOAD_MAX_PROBLEMS TB_CONF_MAX_ERRORS

enum reload_verdict {
	RELOAD_OK,
	RELOAD_INVALID, /* the file cannot be read, or is not a valid configuration */
	RELOAD_RESTART, /* valid, but changes what needs a restart */
	RELOAD_PLUGIN   /* a plugin refused its new options */
};

struct tb_reload {
	struct tb_broker *b;
	struct tb_conf_caps caps;
	pthread_t thread;
	int running; /* the thread was started and is not joined yet */
	int again;   /* SIGHUP while it ran: one more reload after it */
	pthread_mutex_t lock;
	int done; /* under lock: the thread's results are ready */
	/* the thread's results, the loop's once done is set */
	struct tb_conf next;
	enum reload_verdict verdict;
	struct tb_conf_error errs[RELOAD_MAX_PROBLEMS];
	size_t n_errs, n_problems;
	struct tb_plugin_prepared pp;
	/* the rate-limit zones made for next, and those an apply dropped */
	struct tb_def_prepared dp;
	/* the wss:// certificate, key and CAs of next, read by the thread */
	struct tb_ltls_material *tls;
};

/* ---- off the loop -------------------------------------------------------- */

static void *reload_thread(void *arg)
{
	struct tb_reload *r = arg;
	struct tb_broker *b = r->b;
	int reloadable[TB_CONF_MAX_PLUGINS];

	r->n_errs = 0;
	memset(&r->pp, 0, sizeof(r->pp));
	/* the zones the last apply dropped: freed here, off the loop */
	tb_def_reload_release(&r->dp);
	if (tb_conf_load(b->conf_path, &r->next, r->errs, &r->n_errs) != TB_OK) {
		r->verdict = RELOAD_INVALID;
		r->n_problems = r->n_errs;
		if (!r->n_errs) {
			r->errs[0].line = 0;
			snprintf(r->errs[0].msg, sizeof(r->errs[0].msg),
			         "cannot read the configuration");
			r->n_errs = r->n_problems = 1;
		}
		goto out;
	}
	for (size_t i = 0; i < TB_CONF_MAX_PLUGINS; i++)
		reloadable[i] = tb_plugin_reloadable(b, i);
	r->n_problems = tb_conf_diff(&b->conf, &r->next, &r->caps, reloadable, r->errs,
	                             RELOAD_MAX_PROBLEMS, &r->n_errs);
	if (r->n_problems) {
		r->verdict = RELOAD_RESTART;
		goto out;
	}
	/* new rate-limit zones are made here, not on the loop */
	if (tb_def_reload_prepare(b, &r->next, &r->dp, r->errs[0].msg, sizeof(r->errs[0].msg))) {
		r->errs[0].line = 0;
		r->n_errs = r->n_problems = 1;
		r->verdict = RELOAD_INVALID;
		goto out;
	}
	/* the listener's certificate, key and CAs (a renewed certificate) */
	if (tb_listener_tls_load(&r->next.listener, &r->tls, r->errs[0].msg,
	                         sizeof(r->errs[0].msg))) {
		tb_def_reload_release(&r->dp);
		r->errs[0].line = r->next.lines.tls_cert;
		r->n_errs = r->n_problems = 1;
		r->verdict = RELOAD_INVALID;
		goto out;
	}
	/* the plugins read their files last: nothing else can refuse now */
	int line =
	    tb_plugins_reload_prepare(b, &r->next, &r->pp, r->errs[0].msg, sizeof(r->errs[0].msg));
	if (line) {
		tb_def_reload_release(&r->dp);
		tb_listener_tls_material_free(r->tls);
		r->tls = NULL;
		r->errs[0].line = line > 0 ? line : 0;
		r->n_errs = r->n_problems = 1;
		r->verdict = RELOAD_PLUGIN;
		goto out;
	}
	r->verdict = RELOAD_OK;
out:
	pthread_mutex_lock(&r->lock);
	r->done = 1;
	pthread_mutex_unlock(&r->lock);
	/* b->ctx is destroyed only after tb_reload_free() has joined us */
	lws_cancel_service(b->ctx);
	return NULL;
}

/* ---- on the loop --------------------------------------------------------- */

static void swap_str(char **a, char **b)
{
	char *t = *a;
	*a = *b;
	*b = t;
}

/* The new values of what may change; next is left with what b->conf had
 * (the strings) and is freed by the caller. */
static int apply(struct tb_broker *b, struct tb_conf *next)
{
	struct tb_conf *c = &b->conf;

	/* 1. what may fail first, with nothing changed yet: the rate-limit
	 * zones, and with them the [ban] settings */
	if (tb_def_reload(b, next, &b->reload->dp) != TB_OK)
		return -1;

	/* 2. the plugins' new states (token files...) */
	tb_plugins_reload_commit(b, &b->reload->pp);
	for (size_t i = 0; i < c->n_plugins; i++) {
		struct tb_conf_plugin *a = &c->plugins[i], *n = &next->plugins[i];
		struct tb_conf_kv t[TB_CONF_MAX_OPTS];
		size_t nt = a->n_opts;
		memcpy(t, a->opts, sizeof(t));
		memcpy(a->opts, n->opts, sizeof(t));
		memcpy(n->opts, t, sizeof(t));
		a->n_opts = n->n_opts;
		n->n_opts = nt;
	}

	/* 3. [broker] */
	c->shutdown_grace_ms = next->shutdown_grace_ms;
	c->max_sessions = next->max_sessions;
	c->coalesce = next->coalesce;
	c->max_waiters = next->max_waiters;

	/* 4. [listener]: read at each use (a connection's next frame, the next
	 * handshake); address, port, port_file and handshake_timeout need a
	 * restart */
	struct tb_conf_listener *l = &c->listener, *nl = &next->listener;
	l->max_connections = nl->max_connections;
	l->max_message_size = nl->max_message_size;
	l->max_requests_per_connection = nl->max_requests_per_connection;
	l->max_queued_answers = nl->max_queued_answers;
	l->idle_timeout_ms = nl->idle_timeout_ms;
	l->frame_timeout_ms = nl->frame_timeout_ms;
	l->refused_pause_ms = nl->refused_pause_ms;
	l->max_connections_per_ip = nl->max_connections_per_ip;
	swap_str(&l->allow_origins, &nl->allow_origins);

	/* 5. [tam] sections (matched by name: confdiff.c refused any other
	 * change of the set): the URIs allowed, answers accepted, bounds */
	for (size_t i = 0; i < c->n_tams; i++) {
		struct tb_conf_tam *t = &c->tams[i];
		struct tb_conf_tam *n = (struct tb_conf_tam *)tb_conf_find_tam(next, t->name);
		if (!n)
			continue;
		swap_str(&t->uri, &n->uri);
		swap_str(&t->allow_app_uris, &n->allow_app_uris);
		swap_str(&t->accept_media_types, &n->accept_media_types);
		t->response_timeout_ms = n->response_timeout_ms;
		t->max_response_size = n->max_response_size;
		t->max_sessions = n->max_sessions;
		t->keepalive = n->keepalive;
	}

	/* 6. [driver:NAME]: the broker's bounds of each TEE */
	for (size_t i = 0; i < c->n_drivers; i++) {
		struct tb_conf_driver *d = &c->drivers[i];
		for (size_t j = 0; j < next->n_drivers; j++)
			if (strcmp(next->drivers[j].name, d->name) == 0) {
				d->max_in_flight = next->drivers[j].max_in_flight;
				d->call_timeout_ms = next->drivers[j].call_timeout_ms;
			}
	}

	/* the deadline lists of each TEE take the new call and response
	 * timeouts */
	for (size_t i = 0; i < b->n_tees; i++)
		tb_tee_timers_reconf(&b->tees[i]);

	/* 7. [queue]: the next round of each TEE, and every app's bound */
	c->queue = next->queue;
	for (size_t i = 0; i < b->n_tees; i++)
		b->tees[i].fq.quantum = c->queue.quantum;
	tb_ua_set_queue_bound(b, c->queue.max_per_app, c->queue.max_exchanges_per_app);
	for (size_t i = 0; i < b->n_tees; i++)
		tb_tee_pump(&b->tees[i]); /* a larger bound lets waiting exchanges start */

	/* 8. [app-tam:IDENTITY] bounds (keys need a restart) */
	for (size_t i = 0; i < c->n_app_tams; i++) {
		struct tb_conf_app_tam *a = &c->app_tams[i];
		const struct tb_conf_app_tam *n = tb_conf_find_app_tam(next, a->identity);
		if (n) {
			a->max_messages = n->max_messages;
			a->idle_timeout_ms = n->idle_timeout_ms;
		}
	}

	/* 9. [admin] allow and max_connections (open ones above a lowered
	 * bound stay until they close) */
	c->admin.max_connections = next->admin.max_connections;
	swap_str(&c->admin.allow, &next->admin.allow);
	if (tb_admin_reload_allow(b) != TB_OK)
		tb_log(TB_LOG_WARN, "reload: [admin] allow cannot be read; the old list stays");

	/* 10. The wss:// certificate, key and client CAs, read by the thread:
	 * the next handshakes get them, open connections keep their session */
	swap_str(&c->listener.tls_cert, &next->listener.tls_cert);
	swap_str(&c->listener.tls_key, &next->listener.tls_key);
	swap_str(&c->listener.tls_ca, &next->listener.tls_ca);
	if (b->reload->tls) {
		tb_listener_tls_install(b, b->reload->tls);
		b->reload->tls = NULL;
		tb_log(TB_LOG_NOTICE, "reload: listener TLS certificate sha256 %s",
		       tb_listener_tls_fingerprint(b));
	}

	/* 11. more room may let waiting requests start */
	for (size_t i = 0; i < b->n_tees; i++)
		tb_tee_pump(&b->tees[i]);
	return 0;
}

static void log_problems(const struct tb_broker *b, const struct tb_reload *r)
{
	for (size_t i = 0; i < r->n_errs; i++) {
		if (r->errs[i].line > 0)
			tb_log(TB_LOG_ERR, "reload: %s:%d: %s", b->conf_path, r->errs[i].line,
			       r->errs[i].msg);
		else
			tb_log(TB_LOG_ERR, "reload: %s: %s", b->conf_path, r->errs[i].msg);
	}
	if (r->n_problems > r->n_errs)
		tb_log(TB_LOG_ERR, "reload: %s: %zu more problem(s) not shown", b->conf_path,
		       r->n_problems - r->n_errs);
}

static void start(struct tb_reload *r)
{
	struct tb_broker *b = r->b;

	r->done = 0;
	r->again = 0;
	tb_notify_reloading(b->notify);
	if (pthread_create(&r->thread, NULL, reload_thread, r) != 0) {
		b->counters.reloads_refused++;
		tb_log(TB_LOG_ERR,
		       "reload of %s refused: cannot start its thread; the "
		       "configuration in use stays",
		       b->conf_path);
		tb_notify_reloaded(b->notify, "reload refused");
		return;
	}
	r->running = 1;
	tb_log(TB_LOG_INFO, "reload: reading %s", b->conf_path);
}

void tb_reload_request(struct tb_broker *b)
{
	struct tb_reload *r = b->reload;

	if (!r || b->stopping)
		return;
	if (r->running) {
		r->again = 1;
		return;
	}
	start(r);
}

void tb_reload_poll(struct tb_broker *b)
{
	struct tb_reload *r = b->reload;
	int done;

	if (!r || !r->running)
		return;
	pthread_mutex_lock(&r->lock);
	done = r->done;
	pthread_mutex_unlock(&r->lock);
	if (!done)
		return;
	/* the thread has set done: what is left of it is to return */
	pthread_join(r->thread, NULL);
	r->running = 0;

	if (b->stopping) {
		tb_plugins_reload_abort(b, &r->pp);
		tb_listener_tls_material_free(r->tls);
		r->tls = NULL;
		tb_conf_free(&r->next);
		tb_log(TB_LOG_NOTICE, "reload of %s dropped: the broker is stopping", b->conf_path);
		return;
	}
	uint64_t t0 = tb_obs_now_us();
	if (r->verdict == RELOAD_OK && apply(b, &r->next) != 0) {
		tb_plugins_reload_abort(b, &r->pp);
		b->counters.reloads_refused++;
		tb_log(TB_LOG_ERR,
		       "reload of %s refused: [ban] allow cannot be read; the configuration "
		       "in use stays",
		       b->conf_path);
		tb_notify_reloaded(b->notify, "reload refused");
	} else if (r->verdict == RELOAD_OK) {
		b->counters.reloads_ok++;
		tb_log(TB_LOG_NOTICE,
		       "reload of %s applied (%u connection(s) and %u exchange(s) kept; reload "
		       "%llu, %llu us on the loop)",
		       b->conf_path, b->n_conns, b->n_sessions,
		       (unsigned long long)b->counters.reloads_ok,
		       (unsigned long long)(tb_obs_now_us() - t0));
		tb_notify_reloaded(b->notify, "configuration reloaded");
	} else {
		log_problems(b, r);
		b->counters.reloads_refused++;
		tb_log(TB_LOG_ERR,
		       "reload of %s refused: %zu problem(s) (%s); the configuration "
		       "in use stays",
		       b->conf_path, r->n_problems,
		       r->verdict == RELOAD_INVALID   ? "invalid"
		       : r->verdict == RELOAD_RESTART ? "needs a restart"
		                                      : "a plugin refused");
		tb_notify_reloaded(b->notify, "reload refused");
	}
	tb_listener_tls_material_free(r->tls); /* not installed: refused */
	r->tls = NULL;
	tb_conf_free(&r->next);
	if (r->again)
		start(r);
}

int tb_reload_setup(struct tb_broker *b)
{
	struct tb_reload *r = calloc(1, sizeof(*r));

	if (!r)
		return TB_ERR_NOMEM;
	r->b = b;
	r->caps.max_connections = b->conf.listener.max_connections;
	r->caps.max_sessions = b->conf.max_sessions;
	pthread_mutex_init(&r->lock, NULL);
	b->reload = r;
	return TB_OK;
}

void tb_reload_free(struct tb_broker *b)
{
	struct tb_reload *r = b->reload;

	if (!r)
		return;
	if (r->running) {
		/* bounded by the reading of one file and the plugins' prepares */
		pthread_join(r->thread, NULL);
		tb_plugins_reload_abort(b, &r->pp);
		tb_listener_tls_material_free(r->tls);
		tb_conf_free(&r->next);
	}
	tb_def_reload_release(&r->dp);
	pthread_mutex_destroy(&r->lock);
	free(r);
	b->reload = NULL;
}
