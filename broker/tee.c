/*
 * TEEs: one loaded driver instance each, with worker threads (one, or the
 * driver's max_concurrency) that run its operations off the network loop;
 * the host services a driver is given (driver.h), among them those of ABI
 * 1.1 about the call a worker thread runs and the TEE's health.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host a driver instance is given, with what its log needs: allocated
 * on its own, as a driver call left running at exit may still use it after
 * the broker is gone (it is then never freed). */
struct tee_host {
	struct tb_host host;
	atomic_int up;             /* host->set_health(); starts up */
	pthread_mutex_t down_lock; /* for down_reason: set from any thread */
	char down_reason[TB_CALL_REASON_MAX + 1];
	char name[]; /* the TEE's */
};

static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	const struct tee_host *h = lws_container_of(host, struct tee_host, host);
	char line[512];
	va_list ap;
	if (!tb_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tb_log(level, "tee %s: %s", h->name, line);
}

void *tb_host_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

uint64_t tb_host_now(void)
{
	return tb_now_ms();
}

static void call_run(struct tb_job *job);

/* The call the calling thread runs for this host, or NULL. */
static struct tb_call *current_call(const struct tb_host *host)
{
	struct tb_job *job = tb_worker_current();
	if (!job || job->run != call_run)
		return NULL;
	struct tb_call *c = lws_container_of(job, struct tb_call, job);
	return c->host == host ? c : NULL;
}

static uint64_t host_call_deadline(const struct tb_host *host)
{
	const struct tb_call *c = current_call(host);
	return c ? c->deadline_ms : 0;
}

static int host_call_cancelled(const struct tb_host *host)
{
	struct tb_call *c = current_call(host);
	return c && c->kind != TB_CALL_PROCESS_ERROR && c->kind != TB_CALL_SESSION_CLOSE &&
	       (tb_job_cancelled(&c->job) || (c->deadline_ms && tb_now_ms() >= c->deadline_ms));
}

/* Printable ASCII of at most TB_CALL_REASON_MAX bytes: the text goes to the
 * app and the log. */
static void copy_reason(char *dst, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i < TB_CALL_REASON_MAX; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = 0;
}

static void host_set_error(const struct tb_host *host, int status, uint32_t retry_after_ms,
                           const char *reason)
{
	struct tb_call *c = current_call(host);
	if (!c)
		return;
	c->err_set = 1;
	c->err_status = status;
	c->retry_after_ms = retry_after_ms;
	copy_reason(c->reason, reason);
}

static void host_set_health(const struct tb_host *host, int up, const char *reason)
{
	struct tee_host *h = lws_container_of(host, struct tee_host, host);
	int was;

	char said[sizeof(h->down_reason)];

	pthread_mutex_lock(&h->down_lock);
	copy_reason(h->down_reason, up ? NULL : reason);
	memcpy(said, h->down_reason, sizeof(said)); /* as it was set, under the lock */
	was = atomic_exchange(&h->up, up ? 1 : 0);
	pthread_mutex_unlock(&h->down_lock);
	if (was != !!up)
		tb_log(up ? TB_LOG_NOTICE : TB_LOG_WARN,
		       "tee %s: the driver reports the TEE %s%s%s", h->name, up ? "up" : "down",
		       !up && reason ? ": " : "", !up && reason ? said : "");
}

int tb_tee_is_up(const struct tb_tee *t)
{
	if (!t || !t->initialised || !t->host)
		return 0;
	const struct tee_host *h = lws_container_of(t->host, struct tee_host, host);
	return atomic_load(&((struct tee_host *)h)->up);
}

void tb_tee_down_reason(const struct tb_tee *t, char *out, size_t len)
{
	if (!t->host) {
		snprintf(out, len, "TEE down: not started");
		return;
	}
	struct tee_host *h = lws_container_of(t->host, struct tee_host, host);
	pthread_mutex_lock(&h->down_lock);
	snprintf(out, len, "TEE down%s%s", h->down_reason[0] ? ": " : "", h->down_reason);
	pthread_mutex_unlock(&h->down_lock);
}

struct tb_tee *tb_tee_find(struct tb_broker *b, const char *name)
{
	if (!name)
		return b->n_tees ? &b->tees[0] : NULL;
	for (size_t i = 0; i < b->n_tees; i++)
		if (!strcmp(b->tees[i].conf->name, name))
			return &b->tees[i];
	return NULL;
}

int tb_tee_setup(struct tb_broker *b, struct tb_tee *t, const struct tb_conf_driver *dc, char *err,
                 size_t errlen)
{
	char why[512];

	memset(t, 0, sizeof(*t));
	t->b = b;
	t->conf = dc;
	t->tam = tb_conf_find_tam(&b->conf, dc->tam);
	if (!t->tam) {
		snprintf(err, errlen, "driver %s: no [tam] section for it", dc->name);
		return TB_ERR_INVAL;
	}
	t->index = (unsigned)(t - b->tees);
	if (tb_fq_init(&t->fq, (uint32_t)b->conf.queue.quantum) != TB_OK ||
	    tb_fq_flow_init(&t->own_flow, dc->queue_size) != TB_OK) {
		snprintf(err, errlen, "driver %s: bad [queue] settings", dc->name);
		return TB_ERR_INVAL;
	}
	/* the TEEs of one [tam] section count their exchanges together */
	t->tam_sessions = &b->tam_sessions[t->tam - b->conf.tams];
	tb_tee_timers_init(t);
	int rc = tb_loader_open(dc->path, b->conf.driver_dir, &t->ld, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "driver %s: %s", dc->name, why);
		return rc;
	}
	size_t name_len = strlen(dc->name);
	struct tee_host *h = calloc(1, sizeof(*h) + name_len + 1);
	if (!h) {
		snprintf(err, errlen, "driver %s: out of memory", dc->name);
		tb_loader_close(&t->ld);
		return TB_ERR_NOMEM;
	}
	memcpy(h->name, dc->name, name_len + 1);
	atomic_init(&h->up, 1);
	pthread_mutex_init(&h->down_lock, NULL);
	h->host.struct_size = sizeof(h->host);
	h->host.log = host_log;
	h->host.alloc = tb_host_alloc;
	h->host.free = free;
	h->host.now_ms = tb_host_now;
	h->host.call_deadline_ms = host_call_deadline;
	h->host.call_cancelled = host_call_cancelled;
	h->host.set_error = host_set_error;
	h->host.set_health = host_set_health;
	t->host = &h->host;

	struct tb_kv opts[TB_CONF_MAX_OPTS];
	for (size_t i = 0; i < dc->n_opts; i++) {
		opts[i].key = dc->opts[i].key;
		opts[i].value = dc->opts[i].value;
	}
	rc = t->ld.ops.init(t->host, opts, dc->n_opts, &t->instance);
	if (rc) {
		snprintf(err, errlen,
		         "driver %s (%s): init failed (status %d); see the lines above", dc->name,
		         t->ld.path, rc);
		tb_loader_close(&t->ld);
		pthread_mutex_destroy(&h->down_lock);
		free(h);
		t->host = NULL;
		return rc;
	}
	t->initialised = 1;
	/* ABI 1.1: as many calls at once as the driver takes (a 1.0 one: 0) */
	unsigned threads = t->ld.ops.max_concurrency ? t->ld.ops.max_concurrency : 1;
	if (threads > TB_DRIVER_MAX_CONCURRENCY)
		threads = TB_DRIVER_MAX_CONCURRENCY;
	rc = tb_worker_start_n(&t->worker, dc->queue_size, threads);
	if (rc) {
		snprintf(err, errlen, "driver %s: cannot start its worker thread", dc->name);
		t->ld.ops.fini(t->instance);
		t->initialised = 0;
		tb_loader_close(&t->ld);
		pthread_mutex_destroy(&h->down_lock);
		free(h);
		t->host = NULL;
		return rc;
	}
	tb_log(TB_LOG_NOTICE, "tee %s: driver %s %s (%s, ABI %u.%u, %u call(s) at once) from %s",
	       dc->name, t->ld.drv->name, t->ld.drv->version ? t->ld.drv->version : "?",
	       t->ld.drv->tee_kind ? t->ld.drv->tee_kind : "?", t->ld.drv->abi_major,
	       t->ld.drv->abi_minor, threads, t->ld.path);
	return TB_OK;
}

int tb_tee_teardown(struct tb_tee *t, uint64_t deadline_ms)
{
	struct tb_worker *w = &t->worker;

	if (!t->initialised)
		return 0;
	/* the policy timer was cancelled before the loop's context went
	 * (main.c); it is never scheduled without one (--check-config) */
	/* Calls still coming back end their sessions, whose Agent sessions
	 * are then closed by more calls (session_close() exactly once, before
	 * fini()): reap until the worker is idle, or the deadline. */
	while (tb_worker_wait(w, deadline_ms))
		if (!tb_worker_reap(w))
			break; /* nothing came back and nothing is pending */
	int rc = tb_worker_stop_until(w, deadline_ms);
	if (rc) {
		/* A driver call is stuck inside the TEE. Calling fini() now would
		 * race with it, and unloading the code would crash it: the
		 * thread is abandoned with the driver and its host left as they
		 * are, for the process to exit with. */
		uint64_t now = tb_now_ms();
		tb_log(TB_LOG_ERR,
		       "tee %s: a driver call is still running %llu ms after the shutdown "
		       "deadline; leaving the driver loaded: %zu call(s) left (the Agent "
		       "sessions still open are not closed), no fini()",
		       t->conf->name,
		       (unsigned long long)(now > deadline_ms ? now - deadline_ms : 0),
		       tb_worker_pending(w));
		tb_worker_reap(w);
		tb_worker_free(w);
		t->initialised = 0;
		t->host = NULL; /* the driver keeps it */
		return 1;
	}
	tb_worker_reap(w); /* finished calls free themselves */
	tb_worker_free(w);
	t->ld.ops.fini(t->instance);
	t->initialised = 0;
	tb_loader_close(&t->ld);
	struct tee_host *h = lws_container_of(t->host, struct tee_host, host);
	pthread_mutex_destroy(&h->down_lock);
	free(h);
	t->host = NULL;
	return 0;
}

static void free_out(struct tb_agent_out *o)
{
	free(o->tam_uri);
	free(o->msg);
	o->tam_uri = NULL;
	o->msg = NULL;
	o->msg_len = 0;
}

/* On the worker. Everything of the TEE is read before the driver is called:
 * a call that outlives the shutdown deadline returns into a broker that may
 * be gone, and then touches nothing but the call. */
static void call_run(struct tb_job *job)
{
	struct tb_call *c = lws_container_of(job, struct tb_call, job);
	const struct tb_driver ops = c->tee->ld.ops; /* a copy: nothing of the TEE
	                                                is read after the call */
	const struct tb_driver *d = &ops;
	void *inst = c->tee->instance;
	uint64_t t0 = tb_obs_now_us();
	void *given = c->agent_session;

	memset(&c->out, 0, sizeof(c->out));
	if (c->kind != TB_CALL_PROCESS_ERROR && c->kind != TB_CALL_SESSION_CLOSE &&
	    (tb_job_cancelled(&c->job) || (c->deadline_ms && tb_now_ms() >= c->deadline_ms))) {
		/* nobody needs it any more: the driver never sees it */
		c->status = TB_ERR_STATE;
		c->dropped = 1;
		return;
	}
	switch (c->kind) {
	case TB_CALL_REQUEST_TA:
		c->status = d->request_ta(inst, &c->req, &c->out);
		break;
	case TB_CALL_UNREQUEST_TA:
		c->status = d->unrequest_ta(inst, &c->req, &c->out);
		break;
	case TB_CALL_POLICY_CHECK:
		c->status = d->request_policy_check(inst, &c->out);
		break;
	case TB_CALL_PROCESS_MESSAGE:
		if (c->check_key) {
			/* a signature check per message: here, not on the loop */
			c->check =
			    tb_precheck_tam_message(c->msg, c->msg_len, c->check_max, &c->check_key,
			                            1, c->check_num, &c->check_type);
			if (c->check != TB_PRECHECK_OK) {
				c->status = TB_ERR_SIG;
				break;
			}
		}
		c->status = d->process_teep_message(inst, c->agent_session, c->media_type, c->msg,
		                                    c->msg_len, &c->out);
		/* ignored for this op, and freed (driver.h) */
		free(c->out.tam_uri);
		c->out.tam_uri = NULL;
		if (c->out.session == given)
			c->out.session = NULL; /* the session it was given */
		else if (c->out.session)
			c->stray_session = 1; /* a new one: closed, never used */
		break;
	case TB_CALL_PROCESS_ERROR:
		d->process_error(inst, c->agent_session);
		c->status = TB_OK;
		break;
	case TB_CALL_SESSION_CLOSE:
		if (d->session_close)
			d->session_close(inst, c->agent_session);
		c->status = TB_OK;
		break;
	}
	if (c->status != TB_OK) {
		/* The driver may have set outputs before failing; they are ours.
		 * A session returned with the error is closed, never used. */
		void *orphan = c->out.session;
		free_out(&c->out);
		c->out.session = orphan;
		if (orphan)
			c->stray_session = 1;
		if (c->status == TB_ERR_BUSY || (c->err_set && c->err_status == TB_ERR_BUSY))
			c->temporary = 1;
	} else {
		c->err_set = 0; /* a reason for a call that did not fail */
	}
	c->run_us = tb_obs_now_us() - t0;
}

static void call_done(struct tb_job *job)
{
	struct tb_call *c = lws_container_of(job, struct tb_call, job);
	tb_metrics_observe_call(c->tee, (double)c->run_us / 1e6);
	if (c->stray_session && c->out.session) {
		/* returned with an error, or a new one from
		 * process_teep_message: closed now, never used (driver.h) */
		tb_tee_close_agent_session(c->tee, c->out.session);
		c->out.session = NULL;
	}
	if (c->s) {
		tb_session_call_done(c);
		return;
	}
	if (c->at) {
		tb_apptam_call_done(c);
		return;
	}
	/* Nobody waits: release what the driver handed over. */
	if (c->out.session && c->kind != TB_CALL_SESSION_CLOSE)
		tb_tee_close_agent_session(c->tee, c->out.session);
	tb_call_free(c);
}

struct tb_call *tb_call_new(struct tb_tee *t, enum tb_call_kind kind, struct tb_session *s)
{
	struct tb_call *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->job.run = call_run;
	c->job.done = call_done;
	c->tee = t;
	c->host = t->host;
	c->kind = kind;
	c->s = s;
	c->req.struct_size = sizeof(c->req);
	atomic_init(&c->job.cancelled, 0);
	return c;
}

int tb_tee_answer_now(struct tb_tee *t, int op, const struct tb_ta_request *req)
{
	if (!t->initialised || !t->ld.ops.answer_now || !tb_tee_is_up(t))
		return 0;
	uint64_t t0 = tb_obs_now_us();
	if (t->ld.ops.answer_now(t->instance, op, req) != TB_OK)
		return 0;
	t->b->counters.tee_calls++;
	t->b->counters.tee_now++;
	tb_metrics_observe_call(t, (double)(tb_obs_now_us() - t0) / 1e6);
	return 1;
}

int tb_call_submit(struct tb_call *c, int urgent)
{
	c->tee->b->counters.tee_calls++;
	/* what the app waits for it, as its session's timer says */
	c->deadline_ms = tb_now_ms() + c->tee->conf->call_timeout_ms;
	return tb_worker_submit(&c->tee->worker, &c->job, urgent);
}

void tb_call_cancel(struct tb_call *c)
{
	if (c)
		tb_job_cancel(&c->job);
}

void tb_call_free(struct tb_call *c)
{
	if (!c)
		return;
	free(c->msg);
	free_out(&c->out);
	free(c);
}

void tb_tee_close_agent_session(struct tb_tee *t, void *agent_session)
{
	if (!agent_session)
		return;
	struct tb_call *c = tb_call_new(t, TB_CALL_SESSION_CLOSE, NULL);
	if (!c) {
		tb_log(TB_LOG_ERR, "tee %s: out of memory closing an Agent session", t->conf->name);
		return;
	}
	c->agent_session = agent_session;
	if (tb_call_submit(c, 1)) {
		/* Only once the worker has stopped, which it does when idle
		 * or stuck (tb_tee_teardown): nothing can be closed any more. */
		tb_log(TB_LOG_WARN,
		       "tee %s: an Agent session cannot be closed: the worker has "
		       "stopped",
		       t->conf->name);
		tb_call_free(c);
	}
}

void tb_tee_reap_all(struct tb_broker *b)
{
	for (size_t i = 0; i < b->n_tees; i++)
		if (b->tees[i].initialised)
			tb_worker_reap(&b->tees[i].worker);
}
