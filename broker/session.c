/*
 * Sessions: one exchange each, driven from its first Agent call through the
 * TEEP-over-HTTP exchange (tamsm.c decides, this file acts) to its outcome.
 * The app requests waiting on it (waiters) each get its progress and exactly
 * one final answer. An identical request that arrives while a session runs
 * joins it rather than starting another (single flight, flight.h), until the
 * final answer is out.
 *
 * Lifetime: a session is freed only when (a) it has finished, (b) no driver
 * call of it is in flight and (c) no HTTP connection of it is alive. Until
 * then it may be "finished" with its answer already sent (a timeout fired, the
 * broker is stopping) and simply wait for the stragglers.
 */
#include "config.h"
#include "broker.h"
#include "tb_cose.h"
#include "tb_log.h"
#include "tb_util.h"
#include "http1.h"
#include "resolver.h"
#include "tamuri.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TEEP_MEDIA_TYPE   "application/teep+cbor"
#define MAX_POLICY_ROUNDS 16
#define QUEUE_RETRY_MS    1000 /* retry-after when a queued request cannot start */

static int enqueue(struct tb_session *s, struct tb_ua_conn *conn);

static void session_act(struct tb_session *s, enum tamsm_action a);
static int has_app(const struct tb_session *s);
static void session_post(struct tb_session *s);
static int http_request(struct tb_session *s, struct lws *wsi);
static void keep_drop(struct tb_session *s, int close);
static void http_connect(struct tb_session *s, const char *addr);
static void http_reuse(struct tb_session *s);
static void resolve(struct tb_session *s);
static void http_outcome(struct tb_session *s, struct lws *wsi, enum tamsm_http_outcome o);
static void precheck_failed(struct tb_session *s, enum tb_precheck r, size_t len,
                            enum tb_teep_type type);
static int media_in_list(const char *p, size_t n, const char *list);

static uint64_t elapsed(const struct tb_session *s)
{
	return tb_now_ms() - s->started_ms;
}

static void progress_to(struct tb_waiter *w, const char *step, const char *detail)
{
	struct tb_ua_answer a = {.has_id = 1,
	                         .id = w->req_id,
	                         .event = TB_UA_EV_PROGRESS,
	                         .step = step,
	                         .detail = detail};
	if (w->conn)
		tb_ua_answer(w->conn, &a);
}

static void progress(struct tb_session *s, const char *step, const char *detail)
{
	tb_log(TB_LOG_INFO, "session %llu: %s%s%s (%llu ms)", (unsigned long long)s->id, step,
	       detail ? " " : "", detail ? detail : "", (unsigned long long)elapsed(s));
	if (s->answered)
		return;
	for (struct tb_waiter *w = s->waiters; w; w = w->next)
		progress_to(w, step, detail);
}

/* "end" closes an exchange with a TAM. A request the Agent answered without
 * one (nothing to do, a failed TEE call, a TAM it may not contact) has no
 * exchange to close: its final answer follows its "tee" step directly. */
static void progress_end(struct tb_session *s)
{
	if (s->tam_connected)
		progress(s, "end", NULL);
}

/* Nobody may join the session any more. */
static void close_flight(struct tb_session *s)
{
	if (s->flight) {
		tb_flight_close(&s->b->def.flights, s->flight);
		s->flight = NULL;
	}
}

/* The final answer, once, to every request waiting on the session. */
static void answer_final(struct tb_session *s, struct tb_ua_answer *a)
{
	unsigned n = 0;

	if (s->answered)
		return;
	s->answered = 1;
	close_flight(s);
	for (struct tb_waiter *w = s->waiters; w; w = w->next) {
		n++;
		if (!w->conn) {
			/* its app has gone: nobody to tell */
			s->b->counters.answers_dropped_gone++;
			continue;
		}
		if (a->event == TB_UA_EV_DONE)
			s->b->counters.answers_done++;
		else if (a->event == TB_UA_EV_ERROR)
			s->b->counters.answers_error++;
		else if (a->event == TB_UA_EV_BUSY)
			s->b->counters.answers_busy++;
		a->id = w->req_id;
		tb_ua_answer(w->conn, a);
		/* The request is over for its app, which may reuse its id and
		 * its slot on the connection at once, even while the session
		 * waits for a TEE call that timed out. */
		tb_ua_request_gone(w->conn, w);
		w->conn = NULL;
	}
	tb_log(a->event == TB_UA_EV_DONE ? TB_LOG_NOTICE : TB_LOG_WARN,
	       "session %llu: %s %s%s after %llu ms, for %u request(s)", (unsigned long long)s->id,
	       tb_ua_op_name(s->op), a->event == TB_UA_EV_DONE ? "done: " : "error: ",
	       a->event == TB_UA_EV_DONE ? a->result : tb_ua_code_name(a->code),
	       (unsigned long long)elapsed(s), n);
}

static void answer_error(struct tb_session *s, int code, const char *reason)
{
	struct tb_ua_answer a = {
	    .has_id = 1, .event = TB_UA_EV_ERROR, .code = code, .reason = reason};
	answer_final(s, &a);
}

/* The request never reached the TEE: try again later. */
static void answer_busy(struct tb_session *s, const char *reason)
{
	struct tb_ua_answer a = {.has_id = 1,
	                         .event = TB_UA_EV_BUSY,
	                         .retry_after_ms = QUEUE_RETRY_MS,
	                         .reason = reason};
	answer_final(s, &a);
}

static void answer_done(struct tb_session *s, const char *result, const char *detail)
{
	struct tb_ua_answer a = {
	    .has_id = 1, .event = TB_UA_EV_DONE, .result = result, .detail = detail};
	answer_final(s, &a);
}

static void free_waiters(struct tb_session *s, int unlink_conns)
{
	while (s->waiters) {
		struct tb_waiter *w = s->waiters;
		s->waiters = w->next;
		if (unlink_conns && w->conn)
			tb_ua_request_gone(w->conn, w);
		free(w);
	}
	s->waiters_tail = &s->waiters;
}

/* One more request waits on s; it is in flight on conn until s is freed. */
static struct tb_waiter *add_waiter(struct tb_session *s, struct tb_ua_conn *conn, uint64_t id)
{
	struct tb_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->s = s;
	w->conn = conn;
	w->req_id = id;
	*s->waiters_tail = w;
	s->waiters_tail = &w->next;
	w->conn_next = conn->requests;
	conn->requests = w;
	conn->n_requests++;
	return w;
}

static void session_free(struct tb_session *s)
{
	struct tb_broker *b = s->b;

	tb_dl_clear(&s->timer);
	keep_drop(s, 1);
	close_flight(s);
	if (s->qflow) {
		tb_fq_remove(&s->tee->fq, s->qflow, &s->qitem);
		s->qflow = NULL;
	}
	if (s->have_agent_session)
		tb_tee_close_agent_session(s->tee, s->agent_session);
	free_waiters(s, 1);
	if (s->prev)
		s->prev->next = s->next;
	else
		b->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	b->n_sessions--;
	if (s->run_flow) {
		s->run_flow->running--;
		s->run_flow = NULL;
	}
	if (s->tam_counted) {
		/* an exchange with the TAM ended: another app's may start */
		(*s->tee->tam_sessions)--;
		for (size_t i = 0; i < b->n_tees; i++)
			if (b->tees[i].tam_sessions == s->tee->tam_sessions)
				tb_tee_pump(&b->tees[i]);
	}
	tb_component_id_clear(&s->component);
	free(s->tam_hint);
	free(s->uri);
	free(s->out_msg);
	free(s->body);
	if (s->http_parsing)
		tb_http1_response_free(&s->http);
	tb_tls_free(s->tls);
	free(s->tx);
	free(s);
	tb_broker_maybe_exit(b);
}

/* Not while an action on it is under way (session_act may run inside
 * another, when a step fails at once): the outermost frees it. */
static void maybe_free(struct tb_session *s)
{
	if (s->finished && !s->acting && !s->call && !s->http_active && !s->resolving)
		session_free(s);
}

/* ---- timers ---------------------------------------------------------- */

static void session_timeout(struct tb_dl *d)
{
	struct tb_session *s = lws_container_of(d, struct tb_session, timer);

	if (s->qflow) {
		/* Still waiting for its turn: the TEE is busy with other apps'
		 * work for longer than one call may take. */
		tb_fq_remove(&s->tee->fq, s->qflow, &s->qitem);
		s->qflow = NULL;
		s->b->counters.queue_timeouts++;
		tb_log(TB_LOG_WARN, "session %llu: waited %llu ms for tee %s without starting",
		       (unsigned long long)s->id, (unsigned long long)s->tee->conf->call_timeout_ms,
		       s->tee->conf->name);
		answer_error(s, TB_UA_E_TIMEOUT, "the TEE did not take the request in time");
		s->finished = 1;
		maybe_free(s);
		return;
	}
	if (s->call) {
		/* The TEE has not answered. Answer the app now; the call's
		 * result is discarded when it finally comes back. */
		s->b->counters.tee_timeouts++;
		tb_log(TB_LOG_WARN, "session %llu: tee %s did not answer within %llu ms",
		       (unsigned long long)s->id, s->tee->conf->name,
		       (unsigned long long)s->tee->conf->call_timeout_ms);
		answer_error(s, TB_UA_E_TIMEOUT, "the TEE did not answer in time");
		s->finished = 1;
		tb_call_cancel(s->call); /* the driver may stop early (driver.h) */
		return;
	}
	if (s->http_active && !s->http_delivered) {
		tb_log(TB_LOG_WARN, "session %llu: no answer from %s within the timeout",
		       (unsigned long long)s->id, s->uri);
		struct lws *wsi = s->wsi;
		if (wsi)
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		http_outcome(s, wsi, TAMSM_HTTP_TIMEOUT);
	}
}

/* The session's one deadline, on one of its TEE's lists (deadline.h): a
 * request's deadlines cost no libwebsockets timer of their own. */
static void arm(struct tb_session *s, struct tb_dl_list *l)
{
	tb_dl_set(l, &s->timer);
}

void tb_tee_timers_init(struct tb_tee *t)
{
	struct lws_context *ctx = t->b->ctx;

	tb_dl_list_init(&t->dl_call, ctx, t->conf->call_timeout_ms * 1000u, session_timeout);
	tb_dl_list_init(&t->dl_connect, ctx,
	                (t->tam->connect_timeout_ms + t->tam->response_timeout_ms) * 1000u,
	                session_timeout);
	tb_dl_list_init(&t->dl_response, ctx, t->tam->response_timeout_ms * 1000u, session_timeout);
}

/* After a reload: the deadlines set from now on have the new lengths (those
 * set already keep theirs; a list stays ordered, tb_dl_set_at()). */
void tb_tee_timers_reconf(struct tb_tee *t)
{
	t->dl_call.len_us = t->conf->call_timeout_ms * 1000u;
	t->dl_connect.len_us = (t->tam->connect_timeout_ms + t->tam->response_timeout_ms) * 1000u;
	t->dl_response.len_us = t->tam->response_timeout_ms * 1000u;
}

void tb_tee_timers_fini(struct tb_tee *t)
{
	tb_dl_list_fini(&t->dl_call);
	tb_dl_list_fini(&t->dl_connect);
	tb_dl_list_fini(&t->dl_response);
}

/* ---- driver calls ---------------------------------------------------- */

static int submit(struct tb_session *s, struct tb_call *c)
{
	int rc = tb_call_submit(c, 0);
	if (rc) {
		tb_call_free(c);
		return rc;
	}
	s->call = c;
	arm(s, &s->tee->dl_call);
	return TB_OK;
}

static int start_agent_call(struct tb_session *s)
{
	enum tb_call_kind kind = s->op == TB_UA_OP_REQUEST_TA     ? TB_CALL_REQUEST_TA
	                         : s->op == TB_UA_OP_UNREQUEST_TA ? TB_CALL_UNREQUEST_TA
	                                                          : TB_CALL_POLICY_CHECK;
	struct tb_call *c = tb_call_new(s->tee, kind, s);
	if (!c)
		return TB_ERR_NOMEM;
	for (size_t i = 0; i < s->component.n; i++) {
		c->segs[i].ptr = s->component.seg[i].ptr;
		c->segs[i].len = s->component.seg[i].len;
	}
	c->req.component_id = c->segs;
	c->req.n_segments = s->component.n;
	c->req.tam_uri = s->tam_hint;
	c->req.app_id = s->app_id;
	return submit(s, c);
}

/* The head of a COSE_Sign1 or COSE_Sign (tagged 18, 98, or not): an array
 * of four. Only a label check: the Agent verifies the message. */
static int looks_like_cose(const uint8_t *b, size_t n)
{
	return (n > 1 && b[0] == 0x84) ||
	       (n > 2 && b[0] == 0xc0 + TB_COSE_SIGN1_TAG && b[1] == 0x84) ||
	       (n > 3 && b[0] == 0xd8 && b[1] == TB_COSE_SIGN_TAG && b[2] == 0x84);
}

/*
 * The media type the Agent is given with the TAM's answer. A TAM may label
 * its TEEP messages otherwise (application/teep+cose in deployed
 * prototypes); an operator who lists that label in [tam] accept_media_types
 * vouches that it means a TEEP message, so a COSE-signed body under it goes
 * to the Agent as application/teep+cbor: Agents need not know every TAM's
 * aliases. Anything else goes with the TAM's own label, for the Agent to
 * judge.
 */
static const char *agent_media_type(const struct tb_session *s)
{
	size_t n = strlen(s->http_ctype);

	if (!n || media_in_list(s->http_ctype, n, TEEP_MEDIA_TYPE))
		return TEEP_MEDIA_TYPE;
	if (media_in_list(s->http_ctype, n, s->tee->tam->accept_media_types) &&
	    looks_like_cose(s->body, s->body_len)) {
		tb_log(TB_LOG_INFO,
		       "session %llu: the TAM's %s (accept_media_types) goes to the "
		       "Agent as " TEEP_MEDIA_TYPE,
		       (unsigned long long)s->id, s->http_ctype);
		return TEEP_MEDIA_TYPE;
	}
	return s->http_ctype;
}

static void call_agent_message(struct tb_session *s)
{
	struct tb_call *c = tb_call_new(s->tee, TB_CALL_PROCESS_MESSAGE, s);
	if (!c) {
		session_act(s, tamsm_agent_answered(&s->sm, 0, 0));
		return;
	}
	c->agent_session = s->agent_session;
	c->msg = s->body; /* ownership moves to the call */
	c->msg_len = s->body_len;
	c->media_type = agent_media_type(s);
	if (s->tee->tam->precheck) {
		c->check_key = s->b->tam_keys[s->tee->tam - s->b->conf.tams];
		c->check_max = s->tee->tam->max_response_size;
		c->check_num = s->tee->tam->numbering;
	}
	s->body = NULL;
	s->body_len = s->body_cap = 0;
	if (submit(s, c)) {
		tb_log(TB_LOG_WARN, "session %llu: tee %s queue full", (unsigned long long)s->id,
		       s->tee->conf->name);
		session_act(s, tamsm_agent_answered(&s->sm, 0, 0));
	}
}

static void call_agent_error(struct tb_session *s)
{
	tb_log(TB_LOG_INFO, "session %llu: ProcessError (%s) to tee %s", (unsigned long long)s->id,
	       tamsm_fail_name(s->sm.fail), s->tee->conf->name);
	struct tb_call *c = tb_call_new(s->tee, TB_CALL_PROCESS_ERROR, s);
	/* ProcessError must reach the Agent even when its queue is full. */
	if (c && tb_call_submit(c, 1) == TB_OK) {
		s->call = c;
		arm(s, &s->tee->dl_call);
		return;
	}
	tb_call_free(c);
	session_act(s, tamsm_agent_errored(&s->sm));
}

static const char *teep_step(enum tb_teep_type t)
{
	switch (t) {
	case TB_TEEP_QUERY_REQUEST:
		return "query-request";
	case TB_TEEP_QUERY_RESPONSE:
		return "query-response";
	case TB_TEEP_UPDATE:
		return "update";
	case TB_TEEP_SUCCESS:
		return "success";
	case TB_TEEP_ERROR:
		return "error";
	default:
		return "teep-message";
	}
}

static void finish_ok(struct tb_session *s)
{
	switch (s->op) {
	case TB_UA_OP_POLICY_CHECK:
		/* An exchange that ended with the Agent's Error (a TAM that
		 * refused it after attestation, a manifest it could not
		 * process) ends the check with that error: asking again would
		 * name the same TAM. */
		if (s->last_agent_type == TB_TEEP_ERROR) {
			progress_end(s);
			answer_error(s, TB_UA_E_AGENT_ERROR,
			             "the Agent answered the TAM with a TEEP Error");
			break;
		}
		/* The Agent names one TAM per call: after each exchange ask
		 * again, until a call returns nothing (draft -15 §5.5). */
		if (s->uri && ++s->policy_rounds < MAX_POLICY_ROUNDS && !s->b->stopping) {
			free(s->uri);
			s->uri = NULL;
			s->saw_update = 0;
			s->last_agent_type = TB_TEEP_NONE;
			tamsm_init(&s->sm);
			if (start_agent_call(s) == TB_OK)
				return;
		}
		progress_end(s);
		answer_done(s, "completed", NULL);
		break;
	case TB_UA_OP_REQUEST_TA:
	case TB_UA_OP_UNREQUEST_TA:
		progress_end(s);
		if (s->last_agent_type == TB_TEEP_ERROR) {
			answer_error(s, TB_UA_E_AGENT_ERROR,
			             "the Agent answered the TAM with a TEEP Error");
		} else if (s->saw_update && s->last_agent_type == TB_TEEP_SUCCESS) {
			answer_done(s, s->op == TB_UA_OP_REQUEST_TA ? "installed" : "removed",
			            NULL);
		} else {
			answer_done(s, "no-change",
			            s->uri ? "the TAM ended the exchange without an Update"
			                   : "the Agent had nothing to do");
		}
		break;
	default:
		answer_error(s, TB_UA_E_INTERNAL, "unknown operation");
	}
	s->finished = 1;
}

/* The words for TAMSM_F_PROTOCOL: what exactly was wrong. */
static void protocol_reason(const struct tb_session *s, char *out, size_t cap)
{
	char ct[sizeof(s->http_ctype)];
	size_t i;

	switch (s->sm.cause) {
	case TAMSM_C_MESSAGE_CAP:
		snprintf(out, cap,
		         "the exchange reached the broker's limit of %d TAM answers without "
		         "ending",
		         TAMSM_MAX_ROUND_TRIPS);
		break;
	case TAMSM_C_MEDIA_TYPE:
		/* the TAM's text: printable ASCII only */
		for (i = 0; s->http_ctype[i] && i < sizeof(ct) - 1; i++)
			ct[i] = s->http_ctype[i] > 0x20 && s->http_ctype[i] < 0x7f
			            ? s->http_ctype[i]
			            : '?';
		ct[i] = 0;
		if (ct[0])
			snprintf(out, cap,
			         "the TAM's answer is of type %s, not " TEEP_MEDIA_TYPE
			         " nor one of [tam] accept_media_types",
			         ct);
		else
			snprintf(out, cap,
			         "the TAM's answer has no Content-Type (" TEEP_MEDIA_TYPE
			         " expected)");
		break;
	case TAMSM_C_TOO_LARGE:
		snprintf(out, cap, "the TAM's answer is too large: %s", s->http_why);
		break;
	case TAMSM_C_TRUNCATED:
		snprintf(out, cap, "the TAM's answer is truncated: %s", s->http_why);
		break;
	case TAMSM_C_MALFORMED:
		snprintf(out, cap, "the TAM's answer is not valid HTTP/1.1: %s", s->http_why);
		break;
	default:
		snprintf(out, cap, "the TAM's answer is not acceptable");
	}
}

static void finish(struct tb_session *s)
{
	tb_dl_clear(&s->timer);
	if (s->sm.fail == TAMSM_F_NONE) {
		if (s->answered) {
			s->finished = 1;
			return;
		}
		finish_ok(s);
		if (!s->finished)
			return; /* another policy round started */
	} else {
		char reason[TB_UA_MAX_TEXT];
		int code;
		/* a TAM the broker refused to contact did not fail */
		s->b->counters.tam_failures += s->sm.fail != TAMSM_F_AGENT && !s->tam_refused;
		switch (s->tam_refused ? TAMSM_F_NONE : s->sm.fail) {
		case TAMSM_F_NONE:
			code = TB_UA_E_TAM_NOT_ALLOWED;
			snprintf(reason, sizeof(reason),
			         "the Agent asked for a TAM this broker does not connect to: %s",
			         s->uri);
			break;
		case TAMSM_F_TRANSPORT:
			code = TB_UA_E_TAM_UNREACHABLE;
			snprintf(reason, sizeof(reason), "cannot reach the TAM at %s%s%s", s->uri,
			         s->tls_why[0] ? ": " : "", s->tls_why);
			break;
		case TAMSM_F_HTTP:
			code = TB_UA_E_TAM_HTTP;
			snprintf(reason, sizeof(reason), "the TAM answered HTTP %d",
			         s->sm.http_status);
			break;
		case TAMSM_F_PROTOCOL:
			code = TB_UA_E_TAM_PROTOCOL;
			if (s->precheck != TB_PRECHECK_OK)
				snprintf(reason, sizeof(reason),
				         "the TAM's answer failed the broker's pre-check: %s",
				         tb_precheck_reason(s->precheck));
			else
				protocol_reason(s, reason, sizeof(reason));
			break;
		case TAMSM_F_TIMEOUT:
			code = TB_UA_E_TIMEOUT;
			snprintf(reason, sizeof(reason), "no answer from the TAM in time");
			break;
		default:
			code = s->tee_late ? TB_UA_E_TIMEOUT : TB_UA_E_TEE;
			snprintf(reason, sizeof(reason), "%s",
			         s->tee_late ? "the TEE did not answer in time"
			                     : "the TEE driver call failed");
			s->b->counters.tee_timeouts += s->tee_late;
		}
		progress_end(s);
		if (code == TB_UA_E_TEE && s->tee_temporary) {
			/* the driver says: not now (TB_ERR_BUSY, driver.h) */
			struct tb_ua_answer a = {
			    .has_id = 1,
			    .event = TB_UA_EV_BUSY,
			    .retry_after_ms = s->tee_retry_ms ? s->tee_retry_ms : QUEUE_RETRY_MS,
			    .reason = s->tee_reason[0] ? s->tee_reason : "the TEE is busy"};
			answer_final(s, &a);
		} else {
			struct tb_ua_answer a = {.has_id = 1,
			                         .event = TB_UA_EV_ERROR,
			                         .code = code,
			                         .reason = reason,
			                         .detail = code == TB_UA_E_TEE && s->tee_reason[0]
			                                       ? s->tee_reason
			                                       : NULL};
			answer_final(s, &a);
		}
	}
	s->finished = 1;
}

static void session_act(struct tb_session *s, enum tamsm_action a)
{
	s->acting++;
	switch (a) {
	case TAMSM_A_NONE:
		break;
	case TAMSM_A_POST:
		session_post(s);
		break;
	case TAMSM_A_AGENT_MESSAGE:
		call_agent_message(s);
		break;
	case TAMSM_A_AGENT_ERROR:
		if (s->sm.cause == TAMSM_C_MESSAGE_CAP)
			tb_log(TB_LOG_WARN, "session %llu: %d answers from the TAM, giving up",
			       (unsigned long long)s->id, TAMSM_MAX_ROUND_TRIPS);
		call_agent_error(s);
		break;
	case TAMSM_A_FINISH:
		finish(s);
		break;
	}
	s->acting--;
	maybe_free(s);
}

/* The broker connects only to the TEE's TAM and to the URIs its operator
 * lets apps suggest: an Agent must not make it a client of any host. */
static int agent_uri_allowed(const struct tb_tee *tee, const char *uri)
{
	/* (the configured URI as written always is, even in a form that
	 * tamuri.c does not normalise) */
	return strcmp(uri, tee->tam->uri) == 0 || tb_tamuri_equal(uri, tee->tam->uri) ||
	       tb_tamuri_in_list(uri, tee->tam->allow_app_uris);
}

/* The Agent named a TAM the broker must not contact: nothing is sent, and
 * the Agent hears of it as of any message that could not be delivered
 * (ProcessError); the requests end with "tam-not-allowed". */
static enum tamsm_action refuse_agent_uri(struct tb_session *s)
{
	enum tamsm_action a;

	s->b->counters.tam_uri_refused++;
	s->tam_refused = 1;
	tb_log(TB_LOG_WARN,
	       "session %llu: the Agent of tee %s asked for TAM %.200s, which is neither its "
	       "[tam] uri nor in allow_app_uris: not connecting",
	       (unsigned long long)s->id, s->tee->conf->name, s->uri);
	free(s->out_msg);
	s->out_msg = NULL;
	s->out_len = 0;
	a = tamsm_agent_started(&s->sm, 1, 1);
	if (a == TAMSM_A_POST)
		a = tamsm_http_done(&s->sm, TAMSM_HTTP_TRANSPORT, 0, 0, 0);
	return a;
}

void tb_session_call_done(struct tb_call *c)
{
	struct tb_session *s = c->s;
	struct tb_tee *t = s->tee;

	if (s->starting) {
		/* the first call is back: room for the next app's request */
		s->starting = 0;
		t->starting--;
		tb_tee_pump(t);
	}
	s->call = NULL;
	tb_dl_clear(&s->timer);
	if (c->out.session) {
		/* The Agent's context for this exchange; released when the
		 * session ends, exactly once. */
		if (s->have_agent_session && s->agent_session != c->out.session)
			tb_tee_close_agent_session(s->tee, s->agent_session);
		s->agent_session = c->out.session;
		s->have_agent_session = 1;
		c->out.session = NULL;
	}
	if (s->finished) { /* timed out or aborted meanwhile */
		tb_call_free(c);
		maybe_free(s);
		return;
	}
	if (c->check != TB_PRECHECK_OK) {
		/* the TAM's answer failed the pre-check: the Agent did not
		 * see it */
		precheck_failed(s, c->check, c->msg_len, c->check_type);
		tb_call_free(c);
		session_act(s, tamsm_agent_refused(&s->sm));
		return;
	}

	enum tamsm_action a = TAMSM_A_NONE;
	int ok = c->status == TB_OK;
	if (!ok && tb_job_cancelled(&c->job) && s->waiters && !has_app(s)) {
		/* drop_orphan_call() cancelled it: nobody waits for an answer */
		tb_log(TB_LOG_INFO, "session %llu: its apps have gone: tee %s call cancelled",
		       (unsigned long long)s->id, s->tee->conf->name);
		tb_call_free(c);
		s->answered = 1;
		s->finished = 1;
		maybe_free(s);
		return;
	}
	if (!ok) {
		tb_log(TB_LOG_WARN, "session %llu: tee %s call failed (status %d)%s%s%s",
		       (unsigned long long)s->id, s->tee->conf->name, c->status,
		       c->err_set ? ": " : "", c->err_set ? c->reason : "",
		       c->temporary ? " (temporary)" : "");
		if (c->err_set)
			memcpy(s->tee_reason, c->reason, sizeof(s->tee_reason));
		/* busy only while nothing was started: the first call */
		s->tee_temporary = c->temporary && c->kind != TB_CALL_PROCESS_MESSAGE &&
		                   c->kind != TB_CALL_PROCESS_ERROR && !s->policy_rounds;
		s->tee_retry_ms = c->err_set ? c->retry_after_ms : 0;
		/* a driver that gave up at the deadline (host->call_cancelled)
		 * may come back before the timer fires: the app hears the same */
		s->tee_late = c->deadline_ms && tb_now_ms() >= c->deadline_ms;
	}
	switch (c->kind) {
	case TB_CALL_REQUEST_TA:
	case TB_CALL_UNREQUEST_TA:
	case TB_CALL_POLICY_CHECK:
		if (ok && c->out.tam_uri) {
			free(s->uri);
			s->uri = c->out.tam_uri;
			c->out.tam_uri = NULL;
			free(s->out_msg);
			s->out_msg = c->out.msg;
			s->out_len = c->out.msg_len;
			c->out.msg = NULL;
			if (!agent_uri_allowed(s->tee, s->uri)) {
				a = refuse_agent_uri(s);
				break;
			}
			s->tam_connected = 1;
			progress(s, "tam-connect", s->uri);
		}
		a = tamsm_agent_started(&s->sm, ok, ok && s->uri);
		break;
	case TB_CALL_PROCESS_MESSAGE:
		if (ok && c->out.msg) {
			free(s->out_msg);
			s->out_msg = c->out.msg;
			s->out_len = c->out.msg_len;
			c->out.msg = NULL;
		}
		a = tamsm_agent_answered(&s->sm, ok, ok && s->out_msg);
		break;
	case TB_CALL_PROCESS_ERROR:
	case TB_CALL_SESSION_CLOSE:
		a = tamsm_agent_errored(&s->sm);
		break;
	}
	tb_call_free(c);
	session_act(s, a);
}

/* ---- HTTP client ----------------------------------------------------- */

static int parse_uri(struct tb_session *s)
{
	char tmp[768];
	const char *prot, *ads, *path;
	int port;

	if (strlen(s->uri) >= sizeof(tmp))
		return TB_ERR_TOOBIG;
	strcpy(tmp, s->uri);
	if (lws_parse_uri(tmp, &prot, &ads, &port, &path))
		return TB_ERR_INVAL;
	if (!strcmp(prot, "https"))
		s->url_tls = 1;
	else if (!strcmp(prot, "http"))
		s->url_tls = 0;
	else
		return TB_ERR_UNSUP;
	if (!ads[0] || strlen(ads) >= sizeof(s->url_host))
		return TB_ERR_INVAL;
	strcpy(s->url_host, ads);
	s->url_port = port;
	if (snprintf(s->url_path, sizeof(s->url_path), "/%s", path) >= (int)sizeof(s->url_path))
		return TB_ERR_TOOBIG;
	return TB_OK;
}

/* The connection no longer belongs to the session: later callbacks of that
 * wsi find no session and do nothing. */
static void http_detach(struct tb_session *s, struct lws *wsi)
{
	if (wsi && wsi != s->keep_wsi)
		lws_set_opaque_user_data(wsi, NULL);
	if (!wsi || wsi == s->wsi) {
		s->wsi = NULL;
		s->http_active = 0;
	}
}

/* The kept connection goes (the session ends, the TAM closed it, or the
 * next POST goes elsewhere), with its TLS session; closed unless lws is
 * closing it already. */
static void keep_drop(struct tb_session *s, int close)
{
	struct lws *wsi = s->keep_wsi;

	if (!wsi)
		return;
	s->keep_wsi = NULL;
	lws_set_opaque_user_data(wsi, NULL);
	if (close)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	tb_tls_free(s->tls);
	s->tls = NULL;
	s->tls_up = 0;
}

/* Is the kept connection still open, with nothing unasked for in it? A TAM
 * that closed it (its keep-alive timeout) has sent a FIN, which a peek sees
 * before anything is sent: the POST then goes on a new connection. */
static int keep_alive_ok(struct lws *wsi)
{
	char c;
	int fd = (int)lws_get_socket_fd(wsi);

	if (fd < 0)
		return 0;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* [tam] precheck = yes: the TAM's answer must pass the check an app acting
 * as its own TAM passes (precheck.c) before the TEE sees it. Its structure
 * and type here (streaming, cheap); its signature on the TEE's worker, in
 * the call that hands it to the Agent (tee.c). */
static void precheck_failed(struct tb_session *s, enum tb_precheck r, size_t len,
                            enum tb_teep_type type)
{
	s->precheck = r;
	s->b->counters.tam_precheck_failed++;
	tb_log(TB_LOG_WARN,
	       "session %llu: the answer of TAM %s (%zu bytes, %s) failed the pre-check: %s; "
	       "the TEE does not see it",
	       (unsigned long long)s->id, s->uri, len, tb_teep_type_name(type),
	       tb_precheck_reason(r));
}

static int precheck_ok(struct tb_session *s)
{
	const struct tb_conf_tam *tam = s->tee->tam;
	enum tb_teep_type type;
	enum tb_precheck r =
	    tb_precheck_shape(s->body, s->body_len, tam->max_response_size, tam->numbering, &type);

	if (r == TB_PRECHECK_OK)
		return 1;
	precheck_failed(s, r, s->body_len, type);
	return 0;
}

static void http_outcome(struct tb_session *s, struct lws *wsi, enum tamsm_http_outcome o)
{
	http_detach(s, wsi);
	if (s->http_delivered)
		return;
	s->http_delivered = 1;
	tb_dl_clear(&s->timer);
	tb_metrics_observe_tam(s->b, s->tee->tam, (double)(tb_obs_now_us() - s->post_us) / 1e6);
	if (o == TAMSM_HTTP_OK && s->body_len && s->http_media_ok && s->http_status >= 200 &&
	    s->http_status <= 299 && s->tee->tam->precheck && !precheck_ok(s))
		o = TAMSM_HTTP_MALFORMED; /* a TAM failure: ProcessError, error 8 */
	if (o == TAMSM_HTTP_OK && s->body_len) {
		enum tb_teep_type t =
		    tb_teep_peek_type(s->body, s->body_len, s->tee->tam->numbering);
		if (t == TB_TEEP_UPDATE)
			s->saw_update = 1;
		progress(s, teep_step(t), NULL);
	}
	session_act(s, tamsm_http_done(&s->sm, o, s->http_status, s->http_media_ok, s->body_len));
}

/* ---- name resolution, off the loop (resolver.h) ---------------------- */

static void resolved(struct tb_session *s, const struct tb_resolved *res)
{
	if (s->http_delivered || s->finished) {
		/* aborted while resolving */
	} else if (res->status != TB_RESOLVE_OK) {
		tb_log(TB_LOG_WARN, "session %llu: cannot resolve %s: %s",
		       (unsigned long long)s->id, s->url_host, res->why);
		http_outcome(s, NULL, TAMSM_HTTP_TRANSPORT);
	} else {
		tb_log(TB_LOG_DEBUG, "session %llu: %s is %s%s", (unsigned long long)s->id,
		       s->url_host, res->addr, res->cached ? " (cached)" : "");
		http_connect(s, res->addr);
	}
}

static void resolve_done(void *arg, const struct tb_resolved *res)
{
	struct tb_session *s = arg;

	s->resolving = NULL;
	s->acting++; /* a failure acts at once, and may finish it */
	resolved(s, res);
	s->acting--;
	maybe_free(s);
}

static void resolve(struct tb_session *s)
{
	struct tb_resolved res;

	s->resolving = tb_resolver_resolve(s->b->resolver, s->url_host, resolve_done, s, &res);
	if (!s->resolving)
		resolved(s, &res); /* from the cache, or refused */
}

static void session_post(struct tb_session *s)
{
	if (s->out_msg) {
		enum tb_teep_type t =
		    tb_teep_peek_type(s->out_msg, s->out_len, s->tee->tam->numbering);
		s->last_agent_type = t;
		progress(s, teep_step(t), NULL);
	}
	if (parse_uri(s)) {
		tb_log(TB_LOG_WARN, "session %llu: unusable TAM URI '%s'",
		       (unsigned long long)s->id, s->uri);
		s->http_active = 0;
		s->http_delivered = 0;
		session_act(s, tamsm_http_done(&s->sm, TAMSM_HTTP_TRANSPORT, 0, 0, 0));
		return;
	}
	if (s->keep_wsi && (strcmp(s->keep_host, s->url_host) || s->keep_port != s->url_port ||
	                    s->keep_tls != s->url_tls || !keep_alive_ok(s->keep_wsi) ||
	                    (s->tls && tb_tls_has_input(s->tls)))) {
		tb_log(TB_LOG_INFO, "session %llu: the kept connection to %s:%d is %s: a new one",
		       (unsigned long long)s->id, s->keep_host, s->keep_port,
		       strcmp(s->keep_host, s->url_host) || s->keep_port != s->url_port ||
		               s->keep_tls != s->url_tls
		           ? "for another TAM"
		           : "closed");
		keep_drop(s, 1);
	}
	free(s->body);
	s->body = NULL;
	s->body_len = s->body_cap = 0;
	s->http_status = 0;
	s->http_media_ok = 0;
	s->http_why[0] = 0;
	s->http_delivered = 0;
	if (!s->keep_wsi) {
		tb_tls_free(s->tls);
		s->tls = NULL;
		s->tls_up = 0;
	}
	free(s->tx);
	s->tx = NULL;
	s->tx_len = 0;
	if (s->http_parsing)
		tb_http1_response_free(&s->http);
	s->http_parsing = 0;
	s->http_active = 1;
	s->wsi = NULL;
	s->b->counters.tam_posts++;
	s->post_us = tb_obs_now_us();
	tb_log(TB_LOG_INFO, "session %llu: POST %s (%zu bytes)", (unsigned long long)s->id, s->uri,
	       s->out_msg ? s->out_len : 0);

	if (s->keep_wsi) {
		http_reuse(s);
		return;
	}
	unsigned char bin[16];
	if (inet_pton(AF_INET, s->url_host, bin) == 1 || inet_pton(AF_INET6, s->url_host, bin) == 1)
		http_connect(s, s->url_host);
	else
		resolve(s); /* never on the loop: lws would resolve synchronously */
}

/* The POST on the connection kept from the one before (checked open). */
static void http_reuse(struct tb_session *s)
{
	struct lws *wsi = s->keep_wsi;

	s->keep_wsi = NULL;
	s->wsi = wsi;
	s->b->counters.tam_reused++;
	arm(s, &s->tee->dl_connect);
	tb_http1_response_init(&s->http, TB_HTTP_MAX_HEAD, s->tee->tam->max_response_size);
	s->http_parsing = 1;
	if (http_request(s, wsi)) {
		http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

/* Connect to addr (a numeric address) and send the POST; the URI's host
 * name goes into the Host header and the TLS name checks. */
static void http_connect(struct tb_session *s, const char *addr)
{
	struct lws_client_connect_info i;

	/* the deadline starts with the connection attempt, not before (the
	 * resolution has its own, [resolver] timeout) */
	arm(s, &s->tee->dl_connect);
	s->b->counters.tam_connections++;
	memset(&i, 0, sizeof(i));
	i.context = s->b->ctx;
	i.vhost = s->tee->tam_vhost;
	i.address = addr;
	i.port = s->url_port;
	i.path = s->url_path;
	i.host = s->url_host;
	/* a raw connection: the HTTP/1.1 request is ours (see http1.h) */
	i.method = "RAW";
	i.protocol = tb_tamclient_protocol.name;
	i.local_protocol_name = tb_tamclient_protocol.name;
	i.ssl_connection = 0; /* TLS is ours too (tls.h) */
	i.opaque_user_data = s;
	struct lws *wsi = lws_client_connect_via_info(&i);
	/* lws may already have reported a failure through
	 * CLIENT_CONNECTION_ERROR; http_outcome() acts only once. */
	if (wsi && !s->http_delivered)
		s->wsi = wsi;
	else if (!wsi)
		http_outcome(s, NULL, TAMSM_HTTP_TRANSPORT);
	maybe_free(s);
}

/* "type/subtype" at p (n bytes) equals one of the comma-separated list */
static int media_in_list(const char *p, size_t n, const char *list)
{
	while (list && *list) {
		while (*list == ' ' || *list == ',')
			list++;
		size_t m = strcspn(list, " ,");
		if (m == n && m && !strncasecmp(p, list, n))
			return 1;
		list += m;
	}
	return 0;
}

/* The answer's media type: application/teep+cbor (no parameters are
 * defined for it), or one the operator lists for this TAM. */
static int media_type_ok(const struct tb_session *s)
{
	const char *ct = s->http.content_type;
	size_t n = strlen(ct);
	return n && (media_in_list(ct, n, TEEP_MEDIA_TYPE) ||
	             media_in_list(ct, n, s->tee->tam->accept_media_types));
}

/* A whole response is in (or the parse failed): hand it to the exchange. */
static void http_response_end(struct tb_session *s, struct lws *wsi, enum tb_http1_result res)
{
	if (res == TB_HTTP1_COMPLETE) {
		if (wsi && wsi == s->wsi && !s->tx_len && s->tee->tam->keepalive &&
		    tb_http1_response_reusable(&s->http)) {
			/* the TAM keeps the connection: so does the exchange,
			 * for its next POST */
			s->keep_wsi = wsi;
			snprintf(s->keep_host, sizeof(s->keep_host), "%s", s->url_host);
			s->keep_port = s->url_port;
			s->keep_tls = s->url_tls;
		}
		s->http_status = s->http.status;
		s->http_media_ok = media_type_ok(s);
		snprintf(s->http_ctype, sizeof(s->http_ctype), "%s", s->http.content_type);
		free(s->body);
		s->body = tb_http1_response_take_body(&s->http, &s->body_len);
		http_outcome(s, wsi, TAMSM_HTTP_OK);
		return;
	}
	tb_http1_describe_error(&s->http, s->http_why, sizeof(s->http_why));
	tb_log(TB_LOG_WARN, "session %llu: bad HTTP answer from %s: %s", (unsigned long long)s->id,
	       s->uri, s->http_why);
	switch (s->http.error) {
	case TB_HTTP1_E_TOO_LARGE:
		http_outcome(s, wsi, TAMSM_HTTP_TOO_LARGE);
		break;
	case TB_HTTP1_E_TRUNCATED:
		http_outcome(s, wsi, TAMSM_HTTP_TRUNCATED);
		break;
	default:
		http_outcome(s, wsi, TAMSM_HTTP_MALFORMED);
	}
}

/* Queue bytes for the socket; WRITEABLE sends them. */
static int tx_queue(struct tb_session *s, struct lws *wsi, const uint8_t *buf, size_t len)
{
	uint8_t *nb = realloc(s->tx, s->tx_len + len);
	if (!nb)
		return -1;
	memcpy(nb + s->tx_len, buf, len);
	s->tx = nb;
	s->tx_len += len;
	lws_callback_on_writable(wsi);
	return 0;
}

/* The request: our head (http1.h) and the Agent's message. */
static int http_request(struct tb_session *s, struct lws *wsi)
{
	char head[1024];
	size_t body = s->out_msg ? s->out_len : 0;
	int hl = tb_http1_request_head(head, sizeof(head), s->url_path, s->url_host, s->url_port,
	                               s->url_tls, TEEP_MEDIA_TYPE, body, s->tee->tam->keepalive);
	if (hl < 0) {
		tb_log(TB_LOG_WARN, "session %llu: cannot form a request for %s",
		       (unsigned long long)s->id, s->uri);
		return -1;
	}
	int rc;
	if (s->tls) {
		rc = tb_tls_write(s->tls, (const uint8_t *)head, (size_t)hl);
		if (!rc && body)
			rc = tb_tls_write(s->tls, s->out_msg, body);
		if (!rc)
			rc = tb_tls_take_output(s->tls, &s->tx, &s->tx_len);
		if (!rc)
			lws_callback_on_writable(wsi);
	} else {
		rc = tx_queue(s, wsi, (const uint8_t *)head, (size_t)hl);
		if (!rc && body)
			rc = tx_queue(s, wsi, s->out_msg, body);
	}
	if (rc)
		return -1;
	free(s->out_msg);
	s->out_msg = NULL;
	s->out_len = 0;
	return 0;
}

/* Bytes of the answer (plaintext). 1 when the exchange is decided. */
static int http_rx(struct tb_session *s, struct lws *wsi, const uint8_t *buf, size_t len)
{
	enum tb_http1_result res = tb_http1_response_feed(&s->http, buf, len);
	if (res == TB_HTTP1_MORE)
		return 0;
	http_response_end(s, wsi, res);
	return 1;
}

static void tls_failed(struct tb_session *s, struct lws *wsi)
{
	tb_log(TB_LOG_WARN, "session %llu: connection to %s failed: %s", (unsigned long long)s->id,
	       s->uri, tb_tls_error(s->tls));
	snprintf(s->tls_why, sizeof(s->tls_why), "%s", tb_tls_error(s->tls));
	http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
}

/* Run TLS on what arrived: finish the handshake (then send the request),
 * pass decrypted bytes to the HTTP parser, queue TLS output. -1: close. */
static int tls_pump(struct tb_session *s, struct lws *wsi)
{
	if (!s->tls_up) {
		int h = tb_tls_handshake(s->tls);
		if (h < 0) {
			tls_failed(s, wsi);
			return -1;
		}
		if (h == 1) {
			s->tls_up = 1;
			s->b->counters.tam_tls_handshakes++;
			if (tb_tls_resumed(s->tls))
				s->b->counters.tam_tls_resumed++;
			if (http_request(s, wsi)) {
				http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
				return -1;
			}
		}
	}
	if (s->tls_up) {
		uint8_t plain[4096];
		for (;;) {
			int n = tb_tls_read(s->tls, plain, sizeof(plain));
			if (n == 0)
				break;
			if (n == -2) { /* close_notify: a close-delimited body ends */
				http_response_end(s, wsi, tb_http1_response_eof(&s->http));
				return -1;
			}
			if (n < 0) {
				tls_failed(s, wsi);
				return -1;
			}
			if (http_rx(s, wsi, plain, (size_t)n))
				return -1;
		}
	}
	if (tb_tls_take_output(s->tls, &s->tx, &s->tx_len))
		return -1;
	if (s->tx_len)
		lws_callback_on_writable(wsi);
	return 0;
}

static int tamclient_event(struct tb_session *s, struct lws *wsi, enum lws_callback_reasons reason,
                           void *in, size_t len);

/* The session a callback is about stays while the callback runs: its steps
 * may finish it (a failure acts at once) and the callback still reads it;
 * the outermost frees it. */
static int tamclient_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	struct tb_session *s = lws_get_opaque_user_data(wsi);
	int rc;

	(void)user;
	if (!s)
		return tamclient_event(NULL, wsi, reason, in, len);
	s->acting++;
	rc = tamclient_event(s, wsi, reason, in, len);
	s->acting--;
	maybe_free(s);
	return rc;
}

static int tamclient_event(struct tb_session *s, struct lws *wsi, enum lws_callback_reasons reason,
                           void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		if (!s)
			return -1;
		tb_http1_response_init(&s->http, TB_HTTP_MAX_HEAD, s->tee->tam->max_response_size);
		s->http_parsing = 1;
		if (s->url_tls) {
			s->tls = tb_tls_new(s->tee->tls, s->url_host);
			if (!s->tls) {
				tb_log(TB_LOG_WARN, "session %llu: cannot start TLS",
				       (unsigned long long)s->id);
				http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
				return -1;
			}
			return tls_pump(s, wsi); /* sends the ClientHello */
		}
		if (http_request(s, wsi)) {
			http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE: {
		if (!s)
			return -1;
		if (!s->tx_len)
			break;
		unsigned char *buf = malloc(LWS_PRE + s->tx_len);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, s->tx, s->tx_len);
		/* lws keeps what the socket does not take at once */
		int w = lws_write(wsi, buf + LWS_PRE, s->tx_len, LWS_WRITE_RAW);
		free(buf);
		if (w < (int)s->tx_len) {
			http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
			return -1;
		}
		s->tx_len = 0;
		if (!s->out_msg && (!s->tls || s->tls_up))
			/* the request is out: the answer must come within the
			 * response timeout */
			arm(s, &s->tee->dl_response);
		break;
	}
	case LWS_CALLBACK_RAW_RX: {
		int rc;
		if (!s)
			return -1;
		if (wsi == s->keep_wsi && wsi != s->wsi) {
			/* bytes nobody asked for on the idle connection */
			keep_drop(s, 0);
			return -1;
		}
		if (!s->http_parsing)
			return -1;
		if (s->tls) {
			if (tb_tls_feed(s->tls, in, len))
				return -1;
			rc = tls_pump(s, wsi);
		} else {
			rc = http_rx(s, wsi, in, len) ? -1 : 0;
		}
		/* the answer is in: the connection stays if the exchange kept
		 * it (and has not ended since) */
		return rc < 0 && lws_get_opaque_user_data(wsi) ? 0 : rc;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s) {
			tb_log(TB_LOG_WARN, "session %llu: connection to %s failed: %s",
			       (unsigned long long)s->id, s->uri,
			       in ? (const char *)in : "unknown error");
			http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
			maybe_free(s);
		}
		break;
	case LWS_CALLBACK_RAW_CLOSE:
	case LWS_CALLBACK_WSI_DESTROY:
		if (s && wsi == s->keep_wsi && wsi != s->wsi) {
			/* the TAM closed the idle connection: the next POST
			 * opens another */
			tb_log(TB_LOG_DEBUG, "session %llu: the TAM closed the kept connection",
			       (unsigned long long)s->id);
			keep_drop(s, 0);
		} else if (s) {
			if (s->http_parsing && !s->http_delivered && (!s->tls || s->tls_up))
				/* a body delimited by the end of the connection; over
				 * TLS only close_notify (tls_pump) ends one, a bare TCP
				 * close cuts it short */
				http_response_end(s, wsi,
				                  s->tls ? tb_http1_response_eof_unclean(&s->http)
				                         : tb_http1_response_eof(&s->http));
			else
				http_outcome(s, wsi, TAMSM_HTTP_TRANSPORT);
			maybe_free(s);
		}
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols tb_tamclient_protocol = {
    .name = "tb-tam-client",
    .callback = tamclient_cb,
    .rx_buffer_size = 4096,
};

/* ---- start, stop ----------------------------------------------------- */

int tb_tam_hint_allowed(const struct tb_tee *tee, const char *uri)
{
	return tb_tamuri_in_list(uri, tee->tam->allow_app_uris);
}

/*
 * The flight key of a request, if it may share an exchange: request-ta (the
 * same component, through the same TAM hint) and policy-check (which has no
 * arguments). unrequest-ta is not coalesced: it states what one app no
 * longer needs, which an Agent may count app by app.
 */
static int flight_key(const struct tb_tee *tee, enum tb_ua_op op,
                      const struct tb_component_id *component, const char *hint, uint8_t *key,
                      size_t *len)
{
	char norm[TB_TAMURI_MAX];

	if (!tee->b->conf.coalesce || !tee->b->def.flights.ready)
		return TB_ERR_UNSUP;
	if (op == TB_UA_OP_POLICY_CHECK)
		return tb_flight_key(key, TB_FLIGHT_KEY_MAX, len, tee->index, (unsigned)op, NULL,
		                     NULL);
	if (op != TB_UA_OP_REQUEST_TA)
		return TB_ERR_UNSUP;
	if (hint && tb_tamuri_normalise(hint, norm, sizeof(norm)) != TB_OK)
		return TB_ERR_INVAL;
	return tb_flight_key(key, TB_FLIGHT_KEY_MAX, len, tee->index, (unsigned)op, component,
	                     hint ? norm : NULL);
}

struct tb_session *tb_session_find_flight(struct tb_broker *b, struct tb_tee *tee,
                                          const struct tb_ua_request *req)
{
	uint8_t key[TB_FLIGHT_KEY_MAX];
	size_t len;

	if (flight_key(tee, req->op, &req->component, req->tam_uri, key, &len) != TB_OK)
		return NULL;
	struct tb_flight *fl = tb_flight_find(&b->def.flights, key, len);
	return fl ? fl->owner : NULL;
}

int tb_session_join(struct tb_session *s, struct tb_ua_conn *conn, const struct tb_ua_request *req)
{
	struct tb_broker *b = s->b;

	if (!s->flight || s->answered)
		return TB_ERR_STATE;
	if (tb_flight_join(s->flight, b->conf.max_waiters) != TB_OK)
		return TB_ERR_TOOBIG;
	struct tb_waiter *w = add_waiter(s, conn, req->id);
	if (!w) {
		s->flight->waiters--;
		return TB_ERR_NOMEM;
	}
	b->counters.coalesced++;
	tb_log(TB_LOG_INFO, "session %llu: request %llu of app %s joins it (%u waiting)",
	       (unsigned long long)s->id, (unsigned long long)req->id, conn->peer,
	       s->flight->waiters);
	/* the steps so far are not repeated: this one says where it stands */
	progress_to(w, "joined", s->tee->conf->name);
	return TB_OK;
}

/* Others may join s from now on, if its request can be shared. */
static void open_flight(struct tb_session *s)
{
	uint8_t key[TB_FLIGHT_KEY_MAX];
	size_t len;
	int rc;

	if (flight_key(s->tee, s->op, &s->component, s->tam_hint, key, &len) != TB_OK)
		return;
	rc = tb_flight_open(&s->b->def.flights, key, len, s, &s->flight);
	if (rc != TB_OK)
		/* a full table (or an identical session, which the caller
		 * would have joined): this one runs on its own */
		tb_log(TB_LOG_DEBUG, "session %llu: cannot be joined (%d)",
		       (unsigned long long)s->id, rc);
}

int tb_session_start(struct tb_broker *b, struct tb_ua_conn *conn, struct tb_ua_request *req,
                     struct tb_tee *tee)
{
	struct tb_session *s = calloc(1, sizeof(*s));
	if (!s)
		return TB_ERR_NOMEM;
	s->b = b;
	s->id = ++b->next_session_id;
	s->tee = tee;
	s->waiters_tail = &s->waiters;
	s->op = req->op;
	s->started_ms = tb_now_ms();
	/* take over the request's strings and component id */
	s->component = req->component;
	memset(&req->component, 0, sizeof(req->component));
	s->tam_hint = req->tam_uri;
	req->tam_uri = NULL;
	snprintf(s->app_id, sizeof(s->app_id), "%s",
	         !conn               ? "broker"
	         : conn->identity[0] ? conn->identity
	                             : conn->addr_text);
	tamsm_init(&s->sm);

	s->next = b->sessions;
	if (b->sessions)
		b->sessions->prev = s;
	b->sessions = s;
	b->n_sessions++;

	char what[160] = "";
	if (s->component.n)
		tb_component_id_format(&s->component, what, sizeof(what));
	tb_log(TB_LOG_INFO, "session %llu: %s %s on tee %s for %s", (unsigned long long)s->id,
	       tb_ua_op_name(s->op), what, tee->conf->name, s->app_id);
	/* the app's request, by its id; one that joins later logs the same */
	if (conn)
		tb_log(TB_LOG_INFO, "session %llu: request %llu of app %s starts it",
		       (unsigned long long)s->id, (unsigned long long)req->id, conn->peer);
	if ((conn && !add_waiter(s, conn, req->id)) || enqueue(s, conn)) {
		s->finished = 1;
		/* the caller answers busy; nothing was started */
		s->answered = 1;
		session_free(s);
		return TB_ERR_TOOBIG;
	}
	open_flight(s);
	/* "tee" follows once its call starts (tb_tee_pump) */
	progress(s, "queued", tee->conf->name);
	tb_tee_pump(tee); /* may answer and free s */
	return TB_OK;
}

/* ---- the fair queue in front of each TEE ------------------------------ */

static struct tb_fq_flow *conn_flow(struct tb_ua_conn *conn, struct tb_tee *t)
{
	struct tb_broker *b = t->b;

	if (!conn->flows) {
		conn->flows = calloc(b->n_tees, sizeof(*conn->flows));
		if (!conn->flows)
			return NULL;
		for (size_t i = 0; i < b->n_tees; i++) {
			tb_fq_flow_init(&conn->flows[i], b->conf.queue.max_per_app);
			conn->flows[i].max_running = b->conf.queue.max_exchanges_per_app;
		}
	}
	return &conn->flows[t->index];
}

/* The request waits for its TEE in its app's flow; TB_ERR_TOOBIG when the
 * flow or the TEE's queue is full (busy), TB_ERR_NOMEM. */
static int enqueue(struct tb_session *s, struct tb_ua_conn *conn)
{
	struct tb_tee *t = s->tee;
	struct tb_fq_flow *flow = conn ? conn_flow(conn, t) : &t->own_flow;
	int rc;

	if (!flow)
		return TB_ERR_NOMEM;
	if (tb_fq_total(&t->fq) >= t->conf->queue_size) {
		s->b->counters.busy_queue++;
		return TB_ERR_TOOBIG;
	}
	/* every request costs one: what it costs the TEE does not depend on
	 * the size of its frame */
	s->qitem.cost = 1;
	rc = tb_fq_push(&t->fq, flow, &s->qitem);
	if (rc != TB_OK) {
		if (rc == TB_ERR_TOOBIG)
			s->b->counters.busy_queue++;
		return rc;
	}
	s->qflow = flow;
	s->b->counters.queued++;
	arm(s, &t->dl_call);
	return TB_OK;
}

void tb_tee_pump(struct tb_tee *t)
{
	struct tb_fq_item *it;

	if (t->b->stopping)
		return; /* nothing new starts (tb_session_stopping) */
	while (!tb_tee_is_up(t) && (it = tb_fq_pop_any(&t->fq)) != NULL) {
		/* reported down by its driver: answered at once */
		struct tb_session *s = lws_container_of(it, struct tb_session, qitem);
		char why[TB_CALL_REASON_MAX + 16];
		struct tb_ua_answer a = {.has_id = 1,
		                         .event = TB_UA_EV_BUSY,
		                         .retry_after_ms = TB_TEE_DOWN_RETRY_MS,
		                         .reason = why};
		tb_tee_down_reason(t, why, sizeof(why));
		s->qflow = NULL;
		tb_dl_clear(&s->timer);
		answer_final(s, &a);
		s->finished = 1;
		maybe_free(s);
	}
	/* [tam] max_sessions is granted here, in fair-queue order, so that
	 * apps with many requests cannot take every exchange with the TAM */
	while (t->starting < t->conf->max_in_flight && *t->tam_sessions < t->tam->max_sessions &&
	       (it = tb_fq_pop(&t->fq)) != NULL) {
		struct tb_session *s = lws_container_of(it, struct tb_session, qitem);
		struct tb_fq_flow *flow = s->qflow;

		s->qflow = NULL;
		if (start_agent_call(s) != TB_OK) {
			tb_log(TB_LOG_WARN, "session %llu: tee %s refused the call (queue full)",
			       (unsigned long long)s->id, t->conf->name);
			answer_busy(s, "the TEE is busy");
			s->finished = 1;
			maybe_free(s);
			continue;
		}
		s->starting = 1;
		t->starting++;
		s->tam_counted = 1;
		(*t->tam_sessions)++;
		/* [queue] max_exchanges_per_app: the app's flow is passed over
		 * while this many of its exchanges run */
		s->run_flow = flow;
		flow->running++;
		progress(s, "tee", t->conf->name);
		if (t->b->conf.log_level >= TB_LOG_INFO) {
			char what[160] = "";
			if (s->component.n)
				tb_component_id_format(&s->component, what, sizeof(what));
			tb_log(TB_LOG_INFO,
			       "session %llu: %s %s starts on tee %s after %llu ms queued",
			       (unsigned long long)s->id, tb_ua_op_name(s->op), what, t->conf->name,
			       (unsigned long long)elapsed(s));
		}
	}
}

/* A session the closing app queued: other apps wait on it too, so it waits
 * on in the TEE's own flow; otherwise nobody is left to answer and it ends
 * without calling the TEE. */
static void requeue_orphan(struct tb_fq_item *it, void *arg)
{
	struct tb_session *s = lws_container_of(it, struct tb_session, qitem);
	struct tb_ua_conn *conn = arg;
	int others = 0;

	s->qflow = NULL;
	for (struct tb_waiter *w = s->waiters; w; w = w->next)
		if (w->conn && w->conn != conn)
			others = 1;
	if (others && tb_fq_push(&s->tee->fq, &s->tee->own_flow, &s->qitem) == TB_OK) {
		s->qflow = &s->tee->own_flow;
		return;
	}
	if (others)
		answer_busy(s, "the TEE is busy");
	s->answered = 1;
	s->finished = 1;
	maybe_free(s);
}

/* some app still waits on s */
static int has_app(const struct tb_session *s)
{
	for (const struct tb_waiter *w = s->waiters; w; w = w->next)
		if (w->conn)
			return 1;
	return 0;
}

/* Every app waiting on s has gone, and no exchange has started (the first
 * call is with the worker): a call still queued is taken back and the
 * session ends; a running one is cancelled (host->call_cancelled). */
static void drop_orphan_call(struct tb_session *s)
{
	if (s->finished || !s->starting || !s->call || !s->waiters || has_app(s))
		return;
	if (tb_worker_cancel(&s->tee->worker, &s->call->job) != TB_OK) {
		tb_call_cancel(s->call);
		return;
	}
	tb_log(TB_LOG_INFO, "session %llu: its apps have gone: dropped before tee %s took it",
	       (unsigned long long)s->id, s->tee->conf->name);
	tb_call_free(s->call);
	s->call = NULL;
	s->starting = 0;
	s->tee->starting--;
	tb_dl_clear(&s->timer);
	s->answered = 1;
	s->finished = 1;
	maybe_free(s);
}

void tb_session_conn_closing(struct tb_ua_conn *conn)
{
	struct tb_broker *b = conn->b;
	struct tb_session *s, *next;

	/* its waiters are detached (ua.c): calls only it waited for go */
	for (s = b->sessions; s; s = next) {
		next = s->next;
		drop_orphan_call(s);
	}
	if (!conn->flows) {
		for (size_t i = 0; i < b->n_tees; i++)
			tb_tee_pump(&b->tees[i]);
		return;
	}
	for (size_t i = 0; i < b->n_tees; i++)
		tb_fq_flow_remove(&b->tees[i].fq, &conn->flows[i], requeue_orphan, conn);
	/* its exchanges still running count against nothing any more */
	for (s = b->sessions; s; s = s->next)
		if (conn->flows && s->run_flow == &conn->flows[s->tee->index])
			s->run_flow = NULL;
	free(conn->flows);
	conn->flows = NULL;
	for (size_t i = 0; i < b->n_tees; i++)
		tb_tee_pump(&b->tees[i]);
}

/* A request that never reached its TEE is over: "shutdown". */
static void stop_unstarted(struct tb_session *s)
{
	tb_dl_clear(&s->timer);
	answer_error(s, TB_UA_E_SHUTDOWN, "the broker is stopping");
	s->finished = 1;
	maybe_free(s);
}

void tb_session_stopping(struct tb_broker *b)
{
	struct tb_session *s, *next;
	struct tb_fq_item *it;

	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_tee *t = &b->tees[i];

		lws_sul_cancel(&t->policy_timer);
		/* every request that waits, also behind its app's running
		 * exchanges (max_exchanges_per_app) */
		while ((it = tb_fq_pop_any(&t->fq)) != NULL) {
			s = lws_container_of(it, struct tb_session, qitem);
			s->qflow = NULL;
			stop_unstarted(s);
		}
	}
	/* first calls still waiting for the worker do not start either */
	for (s = b->sessions; s; s = next) {
		next = s->next;
		if (s->finished || !s->starting || !s->call ||
		    tb_worker_cancel(&s->tee->worker, &s->call->job) != TB_OK)
			continue;
		tb_call_free(s->call);
		s->call = NULL;
		s->starting = 0;
		s->tee->starting--;
		stop_unstarted(s);
	}
}

void tb_session_abort_all(struct tb_broker *b, int code, const char *reason)
{
	struct tb_session *s = b->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		if (s->have_agent_session && !s->call) {
			/* closed now rather than when the session goes: it may
			 * wait for a name resolution past the deadline */
			tb_tee_close_agent_session(s->tee, s->agent_session);
			s->have_agent_session = 0;
			s->agent_session = NULL;
		}
		tb_call_cancel(s->call); /* no call's result is needed any more */
		if (s->finished)
			continue;
		tb_dl_clear(&s->timer);
		answer_error(s, code, reason);
		if (s->wsi) {
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			http_detach(s, s->wsi);
		}
		s->http_delivered = 1;
		s->finished = 1;
		maybe_free(s);
	}
}

void tb_session_free_all(struct tb_broker *b)
{
	while (b->sessions) {
		struct tb_session *s = b->sessions;
		b->sessions = s->next;
		close_flight(s);
		/* the connections are gone with the lws context */
		free_waiters(s, 0);
		tb_component_id_clear(&s->component);
		free(s->tam_hint);
		free(s->uri);
		free(s->out_msg);
		free(s->body);
		free(s);
	}
	b->n_sessions = 0;
}

/* ---- periodic policy checks ------------------------------------------ */

static void policy_tick(lws_sorted_usec_list_t *sul)
{
	struct tb_tee *t = lws_container_of(sul, struct tb_tee, policy_timer);
	struct tb_broker *b = t->b;

	if (b->stopping)
		return;
	struct tb_ua_request req = {.op = TB_UA_OP_POLICY_CHECK};
	if (!tb_tee_is_up(t))
		tb_log(TB_LOG_INFO, "tee %s: down; no periodic policy check", t->conf->name);
	else if (tb_session_find_flight(b, t, &req))
		/* one asked for by an app runs: it does the same */
		tb_log(TB_LOG_INFO, "tee %s: a policy check is running; not starting another",
		       t->conf->name);
	else if (tb_session_start(b, NULL, &req, t) != TB_OK)
		tb_log(TB_LOG_WARN, "tee %s: periodic policy check could not start", t->conf->name);
	lws_sul_schedule(b->ctx, 0, &t->policy_timer, policy_tick,
	                 (lws_usec_t)t->conf->policy_check_interval_ms * LWS_US_PER_MS);
}

void tb_tee_start_policy_timers(struct tb_broker *b)
{
	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_tee *t = &b->tees[i];
		if (t->conf->policy_check_interval_ms)
			lws_sul_schedule(b->ctx, 0, &t->policy_timer, policy_tick,
			                 (lws_usec_t)t->conf->policy_check_interval_ms *
			                     LWS_US_PER_MS);
	}
}
