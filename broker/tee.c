/*
 * TEEs: one loaded driver instance each, with a worker thread that runs its
 * operations one at a time, off the network loop.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host a driver instance is given, with what its log needs: allocated
 * on its own, as a driver call left running at exit may still use it after
 * the broker is gone (it is then never freed). */
struct tee_host {
	struct tb_host host;
	char name[]; /* the TEE's */
};

static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	const struct tee_host *h = lws_container_of(host, struct tee_host, host);
	char line[512];
	va_list ap;
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
	h->host.struct_size = sizeof(h->host);
	h->host.log = host_log;
	h->host.alloc = tb_host_alloc;
	h->host.free = free;
	h->host.now_ms = tb_host_now;
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
		free(h);
		t->host = NULL;
		return rc;
	}
	t->initialised = 1;
	rc = tb_worker_start(&t->worker, dc->queue_size);
	if (rc) {
		snprintf(err, errlen, "driver %s: cannot start its worker thread", dc->name);
		t->ld.ops.fini(t->instance);
		t->initialised = 0;
		tb_loader_close(&t->ld);
		free(h);
		t->host = NULL;
		return rc;
	}
	tb_log(TB_LOG_NOTICE, "tee %s: driver %s %s (%s, ABI %u.%u) from %s", dc->name,
	       t->ld.drv->name, t->ld.drv->version ? t->ld.drv->version : "?",
	       t->ld.drv->tee_kind ? t->ld.drv->tee_kind : "?", t->ld.drv->abi_major,
	       t->ld.drv->abi_minor, t->ld.path);
	return TB_OK;
}

void tb_tee_teardown(struct tb_tee *t, uint64_t deadline_ms)
{
	struct tb_worker *w = &t->worker;

	if (!t->initialised)
		return;
	lws_sul_cancel(&t->policy_timer);
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
		return;
	}
	tb_worker_reap(w); /* finished calls free themselves */
	tb_worker_free(w);
	t->ld.ops.fini(t->instance);
	t->initialised = 0;
	tb_loader_close(&t->ld);
	free(lws_container_of(t->host, struct tee_host, host));
	t->host = NULL;
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
	const struct tb_driver *d = &c->tee->ld.ops;
	void *inst = c->tee->instance;
	uint64_t t0 = tb_obs_now_us();

	memset(&c->out, 0, sizeof(c->out));
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
		c->out.tam_uri = NULL; /* ignored for this op (see driver.h) */
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
		/* The driver may have set outputs before failing; they are ours. */
		void *orphan = c->out.session;
		free_out(&c->out);
		c->out.session = orphan;
	}
	c->run_us = tb_obs_now_us() - t0;
}

static void call_done(struct tb_job *job)
{
	struct tb_call *c = lws_container_of(job, struct tb_call, job);
	tb_metrics_observe_call(c->tee, (double)c->run_us / 1e6);
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
	c->kind = kind;
	c->s = s;
	c->req.struct_size = sizeof(c->req);
	return c;
}

int tb_call_submit(struct tb_call *c, int urgent)
{
	c->tee->b->counters.tee_calls++;
	return tb_worker_submit(&c->tee->worker, &c->job, urgent);
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
