/*
 * The executor of teep-agentd: one thread that runs the Agent's operations
 * one at a time (the software Agent is not thread-safe) and owns the table
 * of sessions.
 *
 * A session the Agent returns gets an opaque handle, a number never reused
 * while the process lives, bound to the connection that received it: a call
 * naming a handle another connection holds, or one never issued, is
 * answered "no-session" and never reaches the Agent. When a connection ends
 * its sessions are closed. The table is bounded; a call that could open a
 * session while it is full is answered "busy" without calling the Agent.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentd.h"
#include "tb_log.h"

#define BUSY_RETRY_MS 100

struct ad_session {
	uint64_t handle; /* 0: free slot */
	uint64_t conn;
	void *agent_session;
};

struct ad_exec {
	const struct tb_driver *drv;
	void *inst;
	const struct tb_host *host;
	int notify_fd;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ad_job *in_head, *in_tail;   /* queued for the thread */
	struct ad_job *out_head, *out_tail; /* done, for the server */
	int stopping;

	/* the thread's own */
	struct ad_session *sessions;
	size_t max_sessions, n_sessions;
	uint64_t next_handle;
};

void ad_job_free(struct ad_job *job)
{
	if (!job)
		return;
	tb_ap_msg_clear(&job->call);
	free(job->answer);
	free(job);
}

uint8_t *ad_error_frame(int has_id, uint64_t id, int code, const char *reason,
                        uint64_t retry_after_ms, size_t *len)
{
	struct tb_ap_msg m = {.type = TB_AP_ANSWER,
	                      .has_id = has_id,
	                      .id = id,
	                      .code = code,
	                      .reason = (char *)(reason ? reason : tb_ap_code_name(code)),
	                      .has_retry = retry_after_ms > 0,
	                      .retry_after_ms = retry_after_ms};
	uint8_t *f;

	if (tb_ap_encode(&m, &f, len) != TB_OK)
		return NULL;
	return f;
}

/* ---- the session table (executor thread only) ------------------------- */

static struct ad_session *session_find(struct ad_exec *x, uint64_t conn, uint64_t handle)
{
	for (size_t i = 0; i < x->max_sessions; i++)
		if (x->sessions[i].handle == handle && x->sessions[i].conn == conn)
			return &x->sessions[i];
	return NULL;
}

static uint64_t session_add(struct ad_exec *x, uint64_t conn, void *s)
{
	for (size_t i = 0; i < x->max_sessions; i++) {
		if (x->sessions[i].handle)
			continue;
		x->sessions[i].handle = x->next_handle++;
		x->sessions[i].conn = conn;
		x->sessions[i].agent_session = s;
		x->n_sessions++;
		return x->sessions[i].handle;
	}
	return 0;
}

static void session_close(struct ad_exec *x, struct ad_session *s)
{
	if (x->drv->session_close)
		x->drv->session_close(x->inst, s->agent_session);
	memset(s, 0, sizeof(*s));
	x->n_sessions--;
}

static void close_conn_sessions(struct ad_exec *x, uint64_t conn)
{
	size_t n = 0;

	for (size_t i = 0; i < x->max_sessions; i++) {
		if (x->sessions[i].handle && x->sessions[i].conn == conn) {
			session_close(x, &x->sessions[i]);
			n++;
		}
	}
	if (n)
		tb_log(TB_LOG_INFO, "connection %llu ended: closed %zu session(s)",
		       (unsigned long long)conn, n);
}

/* ---- running one call -------------------------------------------------- */

static void set_error(struct ad_job *job, int code, const char *reason, uint64_t retry_ms)
{
	job->answer = ad_error_frame(1, job->call.id, code, reason, retry_ms, &job->answer_len);
}

static void free_out(struct ad_exec *x, struct tb_agent_out *out)
{
	x->host->free(out->tam_uri);
	x->host->free(out->msg);
	out->tam_uri = NULL;
	out->msg = NULL;
}

/* The answer of an operation that returned rc and filled out. */
static void answer_out(struct ad_exec *x, struct ad_job *job, int rc, struct tb_agent_out *out)
{
	struct tb_ap_msg m = {.type = TB_AP_ANSWER, .has_id = 1, .id = job->call.id};
	char reason[96];

	if (rc != TB_OK) {
		if (out->session)
			x->drv->session_close(x->inst, out->session);
		free_out(x, out);
		snprintf(reason, sizeof(reason), "the Agent's %s failed (status %d)",
		         tb_ap_op_name(job->call.op), rc);
		{
			struct tb_ap_msg e = {.type = TB_AP_ANSWER,
			                      .has_id = 1,
			                      .id = job->call.id,
			                      .code = TB_AP_E_AGENT,
			                      .reason = reason,
			                      .tee_status = rc < 0 ? rc : TB_ERR_TEE};

			if (tb_ap_encode(&e, &job->answer, &job->answer_len) != TB_OK)
				job->answer = NULL;
		}
		return;
	}
	if (out->session) {
		m.session = session_add(x, job->conn, out->session);
		if (!m.session) {
			/* checked before the call; kept as a backstop */
			x->drv->session_close(x->inst, out->session);
			free_out(x, out);
			set_error(job, TB_AP_E_BUSY, "session table full", BUSY_RETRY_MS);
			return;
		}
		m.has_session = 1;
	}
	m.tam_uri = out->tam_uri;
	m.msg = out->msg;
	m.msg_len = out->msg ? out->msg_len : 0;
	m.media_type = out->msg ? (char *)out->media_type : NULL;
	if (tb_ap_encode(&m, &job->answer, &job->answer_len) != TB_OK) {
		tb_log(TB_LOG_ERR, "call %llu: the Agent's output cannot be encoded",
		       (unsigned long long)job->call.id);
		set_error(job, TB_AP_E_INTERNAL, "the Agent's output cannot be encoded", 0);
	}
	free_out(x, out);
}

static void run_ta(struct ad_exec *x, struct ad_job *job, struct tb_agent_out *out)
{
	struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];
	struct tb_ta_request req = {.struct_size = sizeof(req)};
	int rc;

	for (size_t i = 0; i < job->call.component.n; i++) {
		segs[i].ptr = job->call.component.seg[i].ptr;
		segs[i].len = job->call.component.seg[i].len;
	}
	req.component_id = segs;
	req.n_segments = job->call.component.n;
	req.tam_uri = job->call.tam_uri;
	req.app_id = job->call.app_id;
	if (job->call.op == TB_AP_OP_REQUEST_TA)
		rc = x->drv->request_ta(x->inst, &req, out);
	else
		rc = x->drv->unrequest_ta(x->inst, &req, out);
	answer_out(x, job, rc, out);
}

static void run_call(struct ad_exec *x, struct ad_job *job)
{
	struct tb_agent_out out = {0};
	struct ad_session *s = NULL;
	struct tb_ap_msg ok = {.type = TB_AP_ANSWER, .has_id = 1, .id = job->call.id};
	enum tb_ap_op op = job->call.op;
	int rc;

	if (op == TB_AP_OP_PROCESS_MESSAGE || op == TB_AP_OP_PROCESS_ERROR ||
	    op == TB_AP_OP_SESSION_CLOSE) {
		s = session_find(x, job->conn, job->call.session);
		if (!s) {
			set_error(job, TB_AP_E_NO_SESSION,
			          "no such session on this connection (never issued, or closed)",
			          0);
			return;
		}
	} else if (x->n_sessions >= x->max_sessions) {
		set_error(job, TB_AP_E_BUSY, "session table full", BUSY_RETRY_MS);
		return;
	}
	switch (op) {
	case TB_AP_OP_REQUEST_TA:
	case TB_AP_OP_UNREQUEST_TA:
		run_ta(x, job, &out);
		return;
	case TB_AP_OP_POLICY_CHECK:
		rc = x->drv->request_policy_check(x->inst, &out);
		answer_out(x, job, rc, &out);
		return;
	case TB_AP_OP_PROCESS_MESSAGE:
		rc = x->drv->process_teep_message(x->inst, s->agent_session,
		                                  job->call.media_type ? job->call.media_type
		                                                       : "application/teep+cbor",
		                                  job->call.msg, job->call.msg_len, &out);
		/* out->tam_uri and out->session mean nothing here (driver.h) */
		x->host->free(out.tam_uri);
		out.tam_uri = NULL;
		out.session = NULL;
		answer_out(x, job, rc, &out);
		return;
	case TB_AP_OP_PROCESS_ERROR:
		x->drv->process_error(x->inst, s->agent_session);
		break;
	case TB_AP_OP_SESSION_CLOSE:
		session_close(x, s);
		break;
	default:
		set_error(job, TB_AP_E_UNSUPPORTED, NULL, 0);
		return;
	}
	if (tb_ap_encode(&ok, &job->answer, &job->answer_len) != TB_OK)
		job->answer = NULL;
}

/* ---- the thread and its queues ---------------------------------------- */

static void push(struct ad_job **head, struct ad_job **tail, struct ad_job *job)
{
	job->next = NULL;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void finish(struct ad_exec *x, struct ad_job *job)
{
	ssize_t n;

	pthread_mutex_lock(&x->lock);
	push(&x->out_head, &x->out_tail, job);
	pthread_mutex_unlock(&x->lock);
	do
		n = write(x->notify_fd, "j", 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full of wake-ups already, which is as good */
}

static void *thread_main(void *arg)
{
	struct ad_exec *x = arg;

	for (;;) {
		struct ad_job *job;
		int stopping;

		pthread_mutex_lock(&x->lock);
		while (!x->in_head && !x->stopping)
			pthread_cond_wait(&x->cond, &x->lock);
		job = x->in_head;
		if (job) {
			x->in_head = job->next;
			if (!x->in_head)
				x->in_tail = NULL;
		}
		stopping = x->stopping;
		pthread_mutex_unlock(&x->lock);
		if (!job)
			break;
		if (job->conn_closed) {
			close_conn_sessions(x, job->conn);
			ad_job_free(job);
			continue;
		}
		if (stopping)
			set_error(job, TB_AP_E_SHUTDOWN, "teep-agentd is stopping", 0);
		else
			run_call(x, job);
		finish(x, job);
	}
	for (size_t i = 0; i < x->max_sessions; i++)
		if (x->sessions[i].handle)
			session_close(x, &x->sessions[i]);
	return NULL;
}

int ad_exec_start(const struct tb_driver *drv, void *inst, const struct tb_host *host,
                  size_t max_sessions, int notify_fd, struct ad_exec **out)
{
	struct ad_exec *x = calloc(1, sizeof(*x));

	*out = NULL;
	if (!x)
		return TB_ERR_NOMEM;
	x->sessions = calloc(max_sessions, sizeof(*x->sessions));
	if (!x->sessions) {
		free(x);
		return TB_ERR_NOMEM;
	}
	x->drv = drv;
	x->inst = inst;
	x->host = host;
	x->notify_fd = notify_fd;
	x->max_sessions = max_sessions;
	x->next_handle = 1;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	if (pthread_create(&x->thread, NULL, thread_main, x) != 0) {
		pthread_mutex_destroy(&x->lock);
		pthread_cond_destroy(&x->cond);
		free(x->sessions);
		free(x);
		return TB_ERR_NOMEM;
	}
	*out = x;
	return TB_OK;
}

void ad_exec_submit(struct ad_exec *x, struct ad_job *job)
{
	pthread_mutex_lock(&x->lock);
	push(&x->in_head, &x->in_tail, job);
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
}

struct ad_job *ad_exec_take_done(struct ad_exec *x)
{
	struct ad_job *list;

	pthread_mutex_lock(&x->lock);
	list = x->out_head;
	x->out_head = x->out_tail = NULL;
	pthread_mutex_unlock(&x->lock);
	return list;
}

void ad_exec_stop(struct ad_exec *x)
{
	struct ad_job *j;

	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->stopping = 1;
	pthread_cond_signal(&x->cond);
	pthread_mutex_unlock(&x->lock);
	pthread_join(x->thread, NULL);
	while ((j = ad_exec_take_done(x)) != NULL) {
		while (j) {
			struct ad_job *next = j->next;
			ad_job_free(j);
			j = next;
		}
	}
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x->sessions);
	free(x);
}
