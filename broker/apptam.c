/*
 * Apps acting as their own TAM (docs/defences.md section 8, docs/ua-api.md
 * section 2.3): an app whose identity has an [app-tam:IDENTITY] section
 * opens a tam-session, which asks the Agent for a session with
 * RequestPolicyCheck (the TAM URI the Agent names is ignored: the app is the
 * TAM), then hands the Agent one TEEP message at a time with tam-message
 * and gets the Agent's answer back, until the Agent has nothing more to
 * say or the app sends tam-end.
 *
 * Every message is pre-checked (precheck.c) against the identity's TAM key
 * before the TEE sees it; a message that fails is dropped, answered with
 * error 17, counted and scored. Bounds: one tam-session per connection, one
 * message in the Agent at a time, max_messages per session, an idle timeout
 * between messages and the TEE's call_timeout for each call.
 *
 * The tam-session request stays open while the session lives, and gets its
 * one final answer when it ends: done "completed", or an error (timeout,
 * TEE failure, session-limit, shutdown). Each tam-message and tam-end gets
 * its own final answer.
 */
#include "config.h"
#include "apptam.h"
#include "broker.h"
#include "precheck.h"
#include "tb_cose.h"
#include "tb_log.h"
#include "tb_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEEP_MEDIA_TYPE "application/teep+cbor"
#define BUSY_RETRY_MS   1000

struct tb_apptam {
	struct tb_broker *b;
	struct tb_apptam *next, *prev; /* broker list */
	struct tb_ua_conn *conn;       /* NULL once the app has gone */
	struct tb_tee *tee;
	const struct tb_conf_app_tam *conf;
	struct tb_key *key;
	uint64_t id; /* the tam-session request */
	void *agent_session;
	struct tb_call *call; /* in the TEE */
	int msg_pending;      /* a tam-message waits for the call */
	uint64_t msg_id;
	unsigned n_messages;
	int started;  /* the Agent gave a session */
	int asked;    /* RequestPolicyCheck calls made */
	int finished; /* the tam-session request has its final answer */
	lws_sorted_usec_list_t timer;
	uint64_t started_ms;
};

/* ---- answers ------------------------------------------------------------ */

static void answer(struct tb_ua_conn *c, struct tb_ua_answer *a)
{
	if (!c)
		return;
	if (a->event == TB_UA_EV_DONE)
		c->b->counters.answers_done++;
	else if (a->event == TB_UA_EV_ERROR)
		c->b->counters.answers_error++;
	else if (a->event == TB_UA_EV_BUSY)
		c->b->counters.answers_busy++;
	tb_ua_answer(c, a);
}

static void answer_error(struct tb_ua_conn *c, uint64_t id, int code, const char *reason)
{
	struct tb_ua_answer a = {
	    .has_id = 1, .id = id, .event = TB_UA_EV_ERROR, .code = code, .reason = reason};
	answer(c, &a);
}

static void answer_done(struct tb_ua_conn *c, uint64_t id, const char *result, const uint8_t *msg,
                        size_t msg_len)
{
	struct tb_ua_answer a = {.has_id = 1,
	                         .id = id,
	                         .event = TB_UA_EV_DONE,
	                         .result = result,
	                         .msg = msg,
	                         .msg_len = msg_len};
	answer(c, &a);
}

static void answer_busy_after(struct tb_ua_conn *c, uint64_t id, uint64_t retry_ms,
                              const char *reason)
{
	struct tb_ua_answer a = {.has_id = 1,
	                         .id = id,
	                         .event = TB_UA_EV_BUSY,
	                         .retry_after_ms = retry_ms,
	                         .reason = reason};
	answer(c, &a);
}

static void answer_busy(struct tb_ua_conn *c, uint64_t id, const char *reason)
{
	answer_busy_after(c, id, BUSY_RETRY_MS, reason);
}

/* Its driver reports the TEE down (driver ABI 1.1): busy at once, as for
 * the other requests, without calling the driver. 1 if it was answered. */
static int tee_down(struct tb_ua_conn *c, uint64_t id, const struct tb_tee *tee)
{
	char why[TB_CALL_REASON_MAX + 16];

	if (tb_tee_is_up(tee))
		return 0;
	tb_tee_down_reason(tee, why, sizeof(why));
	answer_busy_after(c, id, TB_TEE_DOWN_RETRY_MS, why);
	return 1;
}

/* The message failed the pre-check (precheck.c): dropped before the TEE,
 * answered error 17, counted and scored; out of memory is not the app's
 * fault (busy). The reason and the sizes are logged, never the content. */
static void rejected(struct tb_apptam *at, uint64_t id, size_t len, enum tb_teep_type type,
                     enum tb_precheck r)
{
	struct tb_broker *b = at->b;

	if (r == TB_PRECHECK_NOMEM) {
		answer_busy(at->conn, id, "out of memory");
		return;
	}
	b->counters.dropped_forged++;
	tb_log(TB_LOG_WARN,
	       "app-tam %s: dropped a TAM message (%zu bytes, %s): %s; the TEE was not called",
	       at->conf->identity, len, tb_teep_type_name(type), tb_precheck_reason(r));
	answer_error(at->conn, id, TB_UA_E_REJECTED, tb_precheck_reason(r));
	if (at->conn)
		tb_def_score(b, &at->conn->addr, b->conf.ban.weight_forged, "forged TAM message");
}

/* ---- life of a tam-session ------------------------------------------- */

static void at_free(struct tb_apptam *at)
{
	struct tb_broker *b = at->b;

	lws_sul_cancel(&at->timer);
	if (at->prev)
		at->prev->next = at->next;
	else
		b->apptams = at->next;
	if (at->next)
		at->next->prev = at->prev;
	b->n_apptams--;
	if (at->conn && at->conn->apptam == at)
		at->conn->apptam = NULL;
	free(at);
	tb_broker_maybe_exit(b);
}

/*
 * RequestPolicyCheck hands out one TAM per call, and a round of them ends
 * with a call that returns nothing (driver.h): the round the tam-session
 * began is closed the same way, so that the next policy check (an app's or
 * the broker's own) starts a new one. Nobody waits for this call; a session
 * it would return is closed (tee.c).
 */
static void close_round(struct tb_tee *tee)
{
	struct tb_call *c = tb_call_new(tee, TB_CALL_POLICY_CHECK, NULL);

	if (c && tb_call_submit(c, 0))
		tb_call_free(c);
}

/*
 * The tam-session ends: its pending tam-message (if any) and the
 * tam-session request get their final answers (code 0: done "completed"),
 * the Agent session is closed, and the session is freed once no call is in
 * the TEE.
 */
static void at_end(struct tb_apptam *at, int code, const char *reason)
{
	if (!at->finished) {
		at->finished = 1;
		if (at->msg_pending) {
			at->msg_pending = 0;
			answer_error(at->conn, at->msg_id, code ? code : TB_UA_E_SHUTDOWN,
			             reason ? reason : "the tam-session ended");
		}
		if (code)
			answer_error(at->conn, at->id, code, reason);
		else
			answer_done(at->conn, at->id, "completed", NULL, 0);
		tb_log(code ? TB_LOG_WARN : TB_LOG_NOTICE,
		       "app-tam %s: tam-session %llu on tee %s %s%s after %u message(s), %llu ms",
		       at->conf->identity, (unsigned long long)at->id, at->tee->conf->name,
		       code ? "error: " : "done", code ? tb_ua_code_name(code) : "", at->n_messages,
		       (unsigned long long)(tb_now_ms() - at->started_ms));
	}
	lws_sul_cancel(&at->timer);
	if (at->call)
		return; /* at_call_done frees it */
	if (at->agent_session) {
		/* the Agent opened a policy round for it */
		tb_tee_close_agent_session(at->tee, at->agent_session);
		at->agent_session = NULL;
		close_round(at->tee);
	}
	at_free(at);
}

static void at_timeout(lws_sorted_usec_list_t *sul)
{
	struct tb_apptam *at = lws_container_of(sul, struct tb_apptam, timer);

	if (at->call) {
		at->b->counters.tee_timeouts++;
		tb_log(TB_LOG_WARN, "app-tam %s: tee %s did not answer within %llu ms",
		       at->conf->identity, at->tee->conf->name,
		       (unsigned long long)at->tee->conf->call_timeout_ms);
		at_end(at, TB_UA_E_TIMEOUT, "the TEE did not answer in time");
	} else {
		at_end(at, TB_UA_E_TIMEOUT, "no tam-message within the idle timeout");
	}
}

static void arm(struct tb_apptam *at)
{
	uint64_t ms = at->call ? at->tee->conf->call_timeout_ms : at->conf->idle_timeout_ms;

	lws_sul_schedule(at->b->ctx, 0, &at->timer, at_timeout, (lws_usec_t)ms * LWS_US_PER_MS);
}

static int submit(struct tb_apptam *at, struct tb_call *c)
{
	int rc = tb_call_submit(c, 0);

	if (rc) {
		tb_call_free(c);
		return rc;
	}
	at->call = c;
	arm(at);
	return TB_OK;
}

void tb_apptam_call_done(struct tb_call *c)
{
	struct tb_apptam *at = c->at;
	int ok = c->status == TB_OK;

	at->call = NULL;
	if (c->out.session) {
		if (at->agent_session && at->agent_session != c->out.session)
			tb_tee_close_agent_session(at->tee, at->agent_session);
		at->agent_session = c->out.session;
		c->out.session = NULL;
	}
	if (at->finished) { /* timed out, ended or aborted meanwhile */
		tb_call_free(c);
		at_end(at, 0, NULL);
		return;
	}
	if (!ok && c->check == TB_PRECHECK_OK)
		tb_log(TB_LOG_WARN, "app-tam %s: tee %s call failed (status %d)",
		       at->conf->identity, at->tee->conf->name, c->status);
	switch (c->kind) {
	case TB_CALL_POLICY_CHECK:
		/* the app is the TAM: the URI the Agent names does not matter,
		 * and a first message the Agent would post has no taker */
		if (ok && !at->agent_session && at->asked < 2) {
			/* RequestPolicyCheck hands out one TAM per call and
			 * answers "nothing" to close a round: the round a
			 * previous session opened ended here, ask again */
			struct tb_call *again = tb_call_new(at->tee, TB_CALL_POLICY_CHECK, NULL);
			tb_call_free(c);
			if (again) {
				again->at = at;
				again->req.app_id = at->conf->identity;
				at->asked++;
				if (submit(at, again) == TB_OK)
					return;
			}
			at_end(at, TB_UA_E_TEE, "the Agent opened no session");
			return;
		}
		if (!ok || !at->agent_session) {
			tb_call_free(c);
			at_end(at, TB_UA_E_TEE,
			       ok ? "the Agent opened no session" : "the TEE failed");
			return;
		}
		at->started = 1;
		if (at->conn) {
			struct tb_ua_answer a = {.has_id = 1,
			                         .id = at->id,
			                         .event = TB_UA_EV_PROGRESS,
			                         .step = "tam-session",
			                         .detail = at->tee->conf->name};
			tb_ua_answer(at->conn, &a);
		}
		break;
	case TB_CALL_PROCESS_MESSAGE:
		at->msg_pending = 0;
		if (c->check != TB_PRECHECK_OK) {
			/* the Agent did not see it: the tam-session goes on */
			rejected(at, at->msg_id, c->msg_len, c->check_type, c->check);
			break;
		}
		if (!ok) {
			answer_error(at->conn, at->msg_id, TB_UA_E_TEE,
			             "the TEE failed to process the message");
			tb_call_free(c);
			at_end(at, TB_UA_E_TEE, "the TEE failed to process a message");
			return;
		}
		if (!c->out.msg) {
			/* the Agent has nothing more to say: the exchange is over */
			answer_done(at->conn, at->msg_id, "completed", NULL, 0);
			tb_call_free(c);
			at_end(at, 0, NULL);
			return;
		}
		answer_done(at->conn, at->msg_id, "answered", c->out.msg, c->out.msg_len);
		break;
	default:
		break;
	}
	tb_call_free(c);
	if (at->b->stopping) {
		at_end(at, TB_UA_E_SHUTDOWN, "the broker is stopping");
		return;
	}
	arm(at);
}

/* ---- requests ------------------------------------------------------------ */

static struct tb_key *key_of(struct tb_broker *b, const struct tb_conf_app_tam *conf)
{
	return b->app_tam_keys[conf - b->conf.app_tams];
}

/* The identity's [app-tam] section, or NULL after answering forbidden. */
static const struct tb_conf_app_tam *allowed(struct tb_ua_conn *c, const struct tb_ua_request *req)
{
	struct tb_broker *b = c->b;
	const struct tb_conf_app_tam *conf = tb_conf_find_app_tam(&b->conf, c->identity);

	if (conf)
		return conf;
	b->counters.forbidden++;
	b->counters.app_tam_refused++;
	tb_log(TB_LOG_INFO, "app %s: %s refused: no [app-tam] section for this app", c->peer,
	       tb_ua_op_name(req->op));
	answer_error(c, req->id, TB_UA_E_FORBIDDEN, "this app may not act as a TAM");
	tb_def_score(b, &c->addr, b->conf.ban.weight_forbidden, "tam op without the right");
	return NULL;
}

static enum tb_apptam_verdict tam_session(struct tb_ua_conn *c, const struct tb_ua_request *req,
                                          int charged)
{
	struct tb_broker *b = c->b;
	const struct tb_conf_app_tam *conf = allowed(c, req);
	const char *name;
	struct tb_tee *tee;
	struct tb_apptam *at;
	struct tb_call *call;
	char err[160];

	if (!conf)
		return TB_APPTAM_ANSWERED;
	name = req->tee ? req->tee : conf->tee;
	tee = tb_tee_find(b, name);
	if (!tee) {
		snprintf(err, sizeof(err), "no TEE named '%s'", name);
		answer_error(c, req->id, TB_UA_E_NO_TEE, err);
		tb_def_score(b, &c->addr, b->conf.ban.weight_unknown_tee, "unknown TEE");
		return TB_APPTAM_ANSWERED;
	}
	if (conf->tee && strcmp(conf->tee, tee->conf->name) != 0) {
		b->counters.forbidden++;
		b->counters.app_tam_refused++;
		answer_error(c, req->id, TB_UA_E_FORBIDDEN, "this app may not act as a TAM there");
		tb_def_score(b, &c->addr, b->conf.ban.weight_forbidden, "tam op without the right");
		return TB_APPTAM_ANSWERED;
	}
	if (c->apptam) {
		answer_busy(c, req->id, "one tam-session per connection");
		return TB_APPTAM_ANSWERED;
	}
	if (tee_down(c, req->id, tee))
		return TB_APPTAM_ANSWERED;
	if (!charged)
		return TB_APPTAM_CHARGE;
	at = calloc(1, sizeof(*at));
	call = at ? tb_call_new(tee, TB_CALL_POLICY_CHECK, NULL) : NULL;
	if (!call) {
		free(at);
		answer_busy(c, req->id, "out of memory");
		return TB_APPTAM_ANSWERED;
	}
	at->b = b;
	at->conn = c;
	at->tee = tee;
	at->conf = conf;
	at->key = key_of(b, conf);
	at->id = req->id;
	at->started_ms = tb_now_ms();
	call->at = at;
	call->req.app_id = conf->identity;
	at->asked = 1;
	if (submit(at, call)) {
		free(at);
		answer_busy(c, req->id, "the TEE's queue is full");
		return TB_APPTAM_ANSWERED;
	}
	at->next = b->apptams;
	if (b->apptams)
		b->apptams->prev = at;
	b->apptams = at;
	b->n_apptams++;
	c->apptam = at;
	b->counters.requests++;
	b->counters.app_tam_sessions++;
	tb_log(TB_LOG_INFO, "app-tam %s: tam-session %llu on tee %s", conf->identity,
	       (unsigned long long)req->id, tee->conf->name);
	return TB_APPTAM_ANSWERED;
}

/* The connection's open tam-session named by req, or NULL after answering. */
static struct tb_apptam *session_of(struct tb_ua_conn *c, const struct tb_ua_request *req)
{
	struct tb_apptam *at = c->apptam;

	if (at && !at->finished && at->id == req->session)
		return at;
	answer_error(c, req->id, TB_UA_E_NO_SESSION, "no such tam-session on this connection");
	return NULL;
}

static enum tb_apptam_verdict tam_message(struct tb_ua_conn *c, const struct tb_ua_request *req,
                                          int charged)
{
	struct tb_broker *b = c->b;
	struct tb_apptam *at;
	struct tb_call *call;

	if (!allowed(c, req) || !(at = session_of(c, req)))
		return TB_APPTAM_ANSWERED;
	if (!at->started || at->call) {
		answer_busy(c, req->id, "the Agent is busy with this tam-session");
		return TB_APPTAM_ANSWERED;
	}
	if (tee_down(c, req->id, at->tee))
		return TB_APPTAM_ANSWERED;
	if (!charged) {
		/* checked once, before the "tee-calls" zones are charged */
		enum tb_teep_type type;
		enum tb_precheck r;

		if (at->n_messages >= at->conf->max_messages) {
			answer_error(c, req->id, TB_UA_E_SESSION_LIMIT,
			             "this tam-session has had max_messages messages");
			at_end(at, TB_UA_E_SESSION_LIMIT, "too many messages in this tam-session");
			return TB_APPTAM_ANSWERED;
		}
		at->n_messages++;
		/* the structure and the type here (streaming, cheap); the
		 * signature in the worker, before the driver (tee.c) */
		r = tb_precheck_shape(req->msg, req->msg_len, b->conf.listener.max_message_size,
		                      at->conf->numbering, &type);
		if (r != TB_PRECHECK_OK) {
			rejected(at, req->id, req->msg_len, type, r);
			arm(at);
			return TB_APPTAM_ANSWERED;
		}
		return TB_APPTAM_CHARGE;
	}
	call = tb_call_new(at->tee, TB_CALL_PROCESS_MESSAGE, NULL);
	if (call) {
		call->msg = malloc(req->msg_len);
		if (!call->msg) {
			tb_call_free(call);
			call = NULL;
		}
	}
	if (!call) {
		answer_busy(c, req->id, "out of memory");
		return TB_APPTAM_ANSWERED;
	}
	memcpy(call->msg, req->msg, req->msg_len);
	call->msg_len = req->msg_len;
	call->check_key = at->key;
	call->check_max = b->conf.listener.max_message_size;
	call->check_num = at->conf->numbering;
	call->at = at;
	call->agent_session = at->agent_session;
	call->media_type = TEEP_MEDIA_TYPE;
	if (submit(at, call)) {
		answer_busy(c, req->id, "the TEE's queue is full");
		arm(at);
		return TB_APPTAM_ANSWERED;
	}
	at->msg_pending = 1;
	at->msg_id = req->id;
	b->counters.requests++;
	return TB_APPTAM_ANSWERED;
}

static enum tb_apptam_verdict tam_end(struct tb_ua_conn *c, const struct tb_ua_request *req)
{
	struct tb_apptam *at;

	if (!allowed(c, req) || !(at = session_of(c, req)))
		return TB_APPTAM_ANSWERED;
	if (at->call) {
		answer_busy(c, req->id, "the Agent is busy with this tam-session");
		return TB_APPTAM_ANSWERED;
	}
	c->b->counters.requests++;
	answer_done(c, req->id, "completed", NULL, 0);
	at_end(at, 0, NULL);
	return TB_APPTAM_ANSWERED;
}

enum tb_apptam_verdict tb_apptam_request(struct tb_ua_conn *c, const struct tb_ua_request *req,
                                         int charged)
{
	switch (req->op) {
	case TB_UA_OP_TAM_SESSION:
		return tam_session(c, req, charged);
	case TB_UA_OP_TAM_MESSAGE:
		return tam_message(c, req, charged);
	case TB_UA_OP_TAM_END:
		return tam_end(c, req);
	default:
		answer_error(c, req->id, TB_UA_E_INTERNAL, "not a tam op");
		return TB_APPTAM_ANSWERED;
	}
}

int tb_apptam_id_in_use(const struct tb_ua_conn *c, uint64_t id)
{
	const struct tb_apptam *at = c->apptam;

	return at && !at->finished && (at->id == id || (at->msg_pending && at->msg_id == id));
}

void tb_apptam_conn_closed(struct tb_ua_conn *c)
{
	struct tb_apptam *at = c->apptam;

	if (!at)
		return;
	c->apptam = NULL;
	at->conn = NULL; /* its answers have nobody to go to */
	at_end(at, TB_UA_E_SHUTDOWN, "the app has gone");
}

void tb_apptam_stopping(struct tb_broker *b)
{
	struct tb_apptam *at = b->apptams, *next;

	/* a session with a call in the TEE ends when the call is back */
	for (; at; at = next) {
		next = at->next;
		if (!at->call && !at->finished)
			at_end(at, TB_UA_E_SHUTDOWN, "the broker is stopping");
	}
}

void tb_apptam_abort_all(struct tb_broker *b)
{
	struct tb_apptam *at = b->apptams, *next;

	for (; at; at = next) {
		next = at->next;
		if (!at->finished)
			at_end(at, TB_UA_E_SHUTDOWN, "the broker is stopping");
	}
}

void tb_apptam_free_all(struct tb_broker *b)
{
	while (b->apptams) {
		struct tb_apptam *at = b->apptams;
		/* a call that never came back keeps a pointer: it is leaked
		 * with its worker, as session.c does */
		if (at->call)
			at->call->at = NULL;
		at->call = NULL;
		at->finished = 1;
		at->agent_session = NULL; /* the driver's fini() owns it */
		at_free(at);
	}
}

int tb_apptam_setup(struct tb_broker *b, char *err, size_t errlen)
{
	/* the same pre-check for HTTP TAMs, with [tam] precheck = yes */
	for (size_t i = 0; i < b->conf.n_tams; i++) {
		const struct tb_conf_tam *t = &b->conf.tams[i];
		char why[256];

		if (!t->precheck)
			continue;
		if (tb_key_load_file(t->trust_anchor, &b->tam_keys[i], why, sizeof(why)) != TB_OK) {
			snprintf(err, errlen, "[tam] %s: trust_anchor %s: %s", t->name,
			         t->trust_anchor, why);
			return TB_ERR_INVAL;
		}
		tb_log(TB_LOG_NOTICE, "tam %s: answers pre-checked with %s", t->name,
		       t->trust_anchor);
	}
	for (size_t i = 0; i < b->conf.n_app_tams; i++) {
		const struct tb_conf_app_tam *a = &b->conf.app_tams[i];
		char why[256];

		if (tb_key_load_file(a->key, &b->app_tam_keys[i], why, sizeof(why)) != TB_OK) {
			snprintf(err, errlen, "[app-tam:%s] key %s: %s", a->identity, a->key, why);
			return TB_ERR_INVAL;
		}
		tb_log(TB_LOG_NOTICE, "app-tam %s may act as a TAM (key %s, tee %s)", a->identity,
		       a->key, a->tee ? a->tee : "any");
	}
	return TB_OK;
}

void tb_apptam_teardown(struct tb_broker *b)
{
	for (size_t i = 0; i < TB_CONF_MAX_APP_TAMS; i++) {
		tb_key_free(b->app_tam_keys[i]);
		b->app_tam_keys[i] = NULL;
	}
	for (size_t i = 0; i < TB_CONF_MAX_TAMS; i++) {
		tb_key_free(b->tam_keys[i]);
		b->tam_keys[i] = NULL;
	}
}
