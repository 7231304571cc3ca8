/*
 * The app side: websocket connections speaking "teep-broker.v1"
 * (docs/ua-api.md). Frames are reassembled up to max_message_size, decoded,
 * and turned into sessions, or join an identical session in flight
 * (session.c); answers are queued per connection, and those ready
 * together are written in one WRITEABLE callback (write_answers()).
 *
 * Bounds: a connection holds at most max_requests_per_connection requests in
 * flight and max_queued_answers progress events waiting to be written.
 * Progress events beyond that are dropped (and counted); final answers are
 * never dropped, and there is at most one per request, so the queue stays
 * within max_queued_answers + max_requests_per_connection entries.
 *
 * Defences (docs/defences.md, defence.c): a connection is admitted at accept
 * time, before lws spends anything on it. Every complete frame is charged to
 * the "messages" rate-limit zones, every request about to start a TEE call
 * to the "tee-calls" zones. A zone that delays a frame has it held in the
 * connection (one at most) while the connection reads nothing, until a timer
 * runs it. Faults are scored against the peer's address; a ban closes all of
 * its connections with status 1008 once their queued answers are written.
 *
 * Plugins (plugin.c): when there are any, they see the handshake before the
 * websocket opens (HTTP_CONFIRM_UPGRADE) and may refuse it (403, 401) or
 * give the app an identity, and they see every request once its own checks
 * have passed and may refuse it ("forbidden").
 */
#include "config.h"
#include "broker.h"
#include "tamuri.h"
#include "tls_listener.h"
#include "tb_log.h"
#include "tb_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUSY_RETRY_MS 1000
/* A connection refused by a rate limit is not read for its retry-after, up
 * to this. */
/* A banned app that does not read its last answers is cut off after this. */
#define BAN_CLOSE_GRACE_S 5

static void conn_write_later(struct tb_ua_conn *c)
{
	if (c->wsi && c->tx_head)
		lws_callback_on_writable(c->wsi);
}

static void enqueue(struct tb_ua_conn *c, const uint8_t *frame, size_t len)
{
	struct tb_answer *a = malloc(sizeof(*a) + LWS_PRE + len);
	if (!a) {
		tb_log(TB_LOG_ERR, "app %s: out of memory queueing an answer; closing", c->peer);
		c->closing = 1;
		if (c->wsi)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	a->next = NULL;
	a->len = len;
	memcpy(a->buf + LWS_PRE, frame, len);
	if (c->tx_tail)
		c->tx_tail->next = a;
	else
		c->tx_head = a;
	c->tx_tail = a;
	c->tx_count++;
	conn_write_later(c);
	/* An app that sends but does not read: stop reading its frames until
	 * it has taken half of its answers. Only the final answers of requests
	 * already in flight can still come, so the queue stays within
	 * max_queued_answers + max_requests_per_connection. */
	if (!c->tx_throttled && c->wsi && c->tx_count >= c->b->conf.listener.max_queued_answers) {
		c->tx_throttled = 1;
		c->b->counters.tx_throttled++;
		lws_rx_flow_control(c->wsi, 0);
	}
}

void tb_ua_answer(struct tb_ua_conn *c, const struct tb_ua_answer *a)
{
	uint8_t frame[TB_UA_ANSWER_MAX], *buf = frame;
	size_t cap = sizeof(frame);

	if (a->event == TB_UA_EV_PROGRESS &&
	    c->tx_count >= c->b->conf.listener.max_queued_answers) {
		c->b->counters.progress_dropped++;
		return;
	}
	if (a->event == TB_UA_EV_ERROR)
		tb_metrics_count_error(c->b, a->code);
	if (a->msg && a->event == TB_UA_EV_DONE) {
		/* the Agent's answer to an app acting as a TAM */
		cap = TB_UA_ANSWER_MAX + a->msg_len;
		buf = malloc(cap);
	}
	int n = buf ? tb_ua_answer_encode(a, buf, cap) : TB_ERR_NOMEM;
	if (n < 0)
		tb_log(TB_LOG_ERR, "app %s: cannot encode an answer (%d)", c->peer, n);
	else
		enqueue(c, buf, (size_t)n);
	if (buf != frame)
		free(buf);
}

static int id_in_use(struct tb_ua_conn *c, uint64_t id);

/*
 * The answer to a frame that was not taken, when its id is that of a request
 * still in flight on the connection: whatever else is wrong with the frame,
 * error 3 with "id": null, the id named in its detail ("id 7"). An answer
 * carrying the id would read, to an app matching answers by id, as the final
 * answer of the request in flight, which goes on and gets its own.
 */
static int answer_duplicate(struct tb_ua_conn *c, int has_id, uint64_t id)
{
	char detail[32];

	if (!has_id || !id_in_use(c, id))
		return 0;
	snprintf(detail, sizeof(detail), "id %llu", (unsigned long long)id);
	struct tb_ua_answer a = {.has_id = 0,
	                         .event = TB_UA_EV_ERROR,
	                         .code = TB_UA_E_DUPLICATE_ID,
	                         .reason = "a request with this id is still in flight",
	                         .detail = detail};
	c->b->counters.answers_error++;
	tb_ua_answer(c, &a);
	return 1;
}

static void answer_error(struct tb_ua_conn *c, int has_id, uint64_t id, int code,
                         const char *reason)
{
	struct tb_ua_answer a = {
	    .has_id = has_id, .id = id, .event = TB_UA_EV_ERROR, .code = code, .reason = reason};
	if (answer_duplicate(c, has_id, id))
		return;
	c->b->counters.answers_error++;
	tb_ua_answer(c, &a);
}

static void answer_busy(struct tb_ua_conn *c, uint64_t id, uint64_t retry_ms, const char *reason)
{
	if (answer_duplicate(c, 1, id))
		return;
	struct tb_ua_answer a = {.has_id = 1,
	                         .id = id,
	                         .event = TB_UA_EV_BUSY,
	                         .retry_after_ms = retry_ms,
	                         .reason = reason};
	c->b->counters.answers_busy++;
	tb_ua_answer(c, &a);
}

void tb_ua_request_gone(struct tb_ua_conn *c, struct tb_waiter *w)
{
	struct tb_waiter **pp = &c->requests;
	while (*pp && *pp != w)
		pp = &(*pp)->conn_next;
	if (*pp) {
		*pp = w->conn_next;
		c->n_requests--;
	}
	w->conn_next = NULL;
}

static int id_in_use(struct tb_ua_conn *c, uint64_t id)
{
	for (struct tb_waiter *w = c->requests; w; w = w->conn_next)
		if (w->req_id == id && !w->s->answered)
			return 1;
	return tb_apptam_id_in_use(c, id);
}

/* lws timeouts count whole seconds: round up so that 500ms is not "never" */
/* The connection's one lws timeout: while a frame is open, the time left
 * for it (a slow sender cannot hold a connection by dribbling a frame);
 * else idle_timeout, if set. */
static void idle_timer(struct tb_ua_conn *c)
{
	uint64_t ms = c->b->conf.listener.idle_timeout_ms;

	if (c->rx_open) {
		uint64_t now = tb_now_ms();
		uint64_t left = c->rx_deadline_ms > now ? c->rx_deadline_ms - now : 1;
		if (!ms || left < ms)
			ms = left;
	}
	if (ms)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)((ms + 999) / 1000));
	else
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
}

/* ---- frames ------------------------------------------------------------ */

/* How far a frame got through the rate limits: a held frame resumes there. */
enum stage {
	STAGE_MESSAGES, /* not yet charged to the "messages" zones */
	STAGE_CHECKS,   /* charged; the request's own checks come next */
	STAGE_RUN       /* charged to the "tee-calls" zones too: start it */
};

/* One complete frame: a request, or what is wrong with it. */
struct frame {
	int bad; /* not a request: answer the error below */
	int code;
	int has_id;
	uint64_t id;
	uint32_t weight;  /* ban score of the fault */
	const char *what; /* the fault, for the ban log */
	char err[160];
	struct tb_ua_request req; /* !bad */
};

/* A frame held back by a rate limit; the connection reads nothing more until
 * the timer has run it. */
struct tb_held {
	struct tb_ua_conn *c;
	lws_sorted_usec_list_t sul;
	enum stage stage;
	unsigned pins; /* zones where the peer's key is pinned while it waits */
	struct frame f;
};

static void read_frame(struct tb_ua_conn *c, struct frame *f)
{
	const struct tb_conf *conf = &c->b->conf;
	int rc;

	memset(f, 0, sizeof(*f));
	if (c->rx_discard) {
		f->bad = 1;
		f->code = TB_UA_E_TOO_LARGE;
		f->weight = conf->ban.weight_oversize;
		f->what = "oversize frame";
		snprintf(f->err, sizeof(f->err), "frame larger than %llu bytes",
		         (unsigned long long)conf->listener.max_message_size);
		return;
	}
	if (!c->rx_binary) {
		f->bad = 1;
		f->code = TB_UA_E_UNSUPPORTED;
		f->weight = conf->ban.weight_text_frame;
		f->what = "text frame";
		snprintf(f->err, sizeof(f->err),
		         "text frames are not accepted: send CBOR in binary frames");
		return;
	}
	rc = tb_ua_request_decode(c->rx, c->rx_len, &f->req, &f->has_id, &f->id, f->err,
	                          sizeof(f->err));
	if (rc) {
		f->bad = 1;
		f->code = rc == TB_ERR_UNSUP   ? TB_UA_E_UNSUPPORTED
		          : rc == TB_ERR_NOMEM ? TB_UA_E_INTERNAL
		                               : TB_UA_E_MALFORMED;
		/* running out of memory is ours, not the app's fault */
		f->weight = rc == TB_ERR_NOMEM ? 0 : conf->ban.weight_malformed;
		f->what = "malformed frame";
	}
}

/* The one answer of a frame that is not a request, then its score. */
static void answer_bad(struct tb_ua_conn *c, struct frame *f)
{
	struct tb_broker *b = c->b;

	b->counters.frames_rejected++;
	tb_log(TB_LOG_INFO, "app %s: rejected frame: %s", c->peer, f->err);
	answer_error(c, f->has_id, f->id, f->code, f->err);
	tb_def_score(b, &c->addr, f->weight, f->what);
}

static void pause_rx(struct tb_ua_conn *c, uint64_t ms);

/* A frame a rate limit refuses: a request is answered "busy"; a frame that is
 * no request keeps its own error, since "busy" would invite the app to send
 * it again. Then nothing more is read from the connection until its
 * retry-after has passed (at most [listener] refused_pause): an app that floods gets one refusal
 * per retry-after, and its further frames wait in its own socket, neither decoded nor answered. */
static void refuse(struct tb_ua_conn *c, struct frame *f, uint64_t retry_ms)
{
	if (f->bad)
		answer_bad(c, f);
	else
		answer_busy(c, f->req.id, retry_ms, "rate limited");
	tb_def_score(c->b, &c->addr, c->b->conf.ban.weight_rate_limited, "rate limited");
	uint64_t most = c->b->conf.listener.refused_pause_ms;
	if (most)
		pause_rx(c, retry_ms < most ? retry_ms : most);
}

static void process(struct tb_ua_conn *c, struct frame *f, enum stage stage);

static void held_free(struct tb_ua_conn *c)
{
	struct tb_held *h = c->held;

	if (!h)
		return;
	lws_sul_cancel(&h->sul);
	tb_def_unpin(c->b, c, h->pins);
	tb_ua_request_clear(&h->f.req);
	free(h);
	c->held = NULL;
}

static void resume_rx(struct tb_ua_conn *c)
{
	if (!c->held && !c->paused && !c->tx_throttled && !c->ban_closing && !c->closing &&
	    c->wsi) {
		lws_rx_flow_control(c->wsi, 1);
		idle_timer(c);
	}
}

/* An app answered busy because the TEE or the broker is full is not read
 * from for a moment: its next requests wait in its own socket, not in the
 * broker, and it cannot spin on busy answers. */
struct tb_pause {
	lws_sorted_usec_list_t sul;
	struct tb_ua_conn *c;
};

#define BUSY_PAUSE_MS 250

static void pause_end(lws_sorted_usec_list_t *sul)
{
	struct tb_pause *p = lws_container_of(sul, struct tb_pause, sul);
	struct tb_ua_conn *c = p->c;

	c->paused = NULL;
	free(p);
	resume_rx(c);
}

static void pause_rx(struct tb_ua_conn *c, uint64_t ms)
{
	struct tb_pause *p;

	if (c->paused || !c->wsi)
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return; /* no pause then: the busy answer still went out */
	p->c = c;
	c->paused = p;
	lws_rx_flow_control(c->wsi, 0);
	/* not idle while it is not read: resume_rx arms the idle timer again */
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	lws_sul_schedule(lws_get_context(c->wsi), 0, &p->sul, pause_end,
	                 (lws_usec_t)ms * LWS_US_PER_MS);
}

static void pause_free(struct tb_ua_conn *c)
{
	if (!c->paused)
		return;
	lws_sul_cancel(&c->paused->sul);
	free(c->paused);
	c->paused = NULL;
}

static void held_run(lws_sorted_usec_list_t *sul)
{
	struct tb_held *h = lws_container_of(sul, struct tb_held, sul);
	struct tb_ua_conn *c = h->c;
	struct frame f = h->f;
	enum stage stage = h->stage;

	/* the frame moves out of the hold before it runs: it may be held
	 * again, by a "tee-calls" zone */
	memset(&h->f.req, 0, sizeof(h->f.req));
	held_free(c);
	process(c, &f, stage);
	tb_ua_request_clear(&f.req);
	resume_rx(c);
}

/* Hold the frame for delay_ms, reading nothing more from this app until it
 * has run: the app feels TCP backpressure instead of being buffered. */
static void hold(struct tb_ua_conn *c, struct frame *f, enum stage stage, uint64_t delay_ms,
                 unsigned pins)
{
	struct tb_held *h = calloc(1, sizeof(*h));

	if (!h) {
		/* it cannot wait: refuse it rather than serve it early */
		tb_def_unpin(c->b, c, pins);
		if (f->bad)
			answer_bad(c, f);
		else
			answer_busy(c, f->req.id, BUSY_RETRY_MS, "out of memory");
		return;
	}
	h->c = c;
	h->stage = stage;
	h->pins = pins;
	h->f = *f;
	memset(&f->req, 0, sizeof(f->req));
	c->held = h;
	lws_rx_flow_control(c->wsi, 0);
	/* the idle timeout is for silent apps; this one waits for us (a
	 * connection already being closed keeps its timeout) */
	if (!c->closing && !c->ban_closing)
		lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	lws_sul_schedule(lws_get_context(c->wsi), 0, &h->sul, held_run,
	                 (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

/* The plugins' view of a connection after its handshake. */
static void plugin_view(const struct tb_ua_conn *c, struct tb_plugin_conn *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->struct_size = sizeof(*pc);
	pc->id = c->id;
	pc->address = c->addr_text;
	pc->identity = c->identity[0] ? c->identity : NULL;
}

/* May the plugins' policy have this request? If not, its one answer. */
static int plugins_allow(struct tb_ua_conn *c, const struct tb_ua_request *req,
                         const struct tb_tee *tee)
{
	static const uint32_t kinds[] = {
	    [TB_UA_OP_REQUEST_TA] = TB_PLUGIN_OP_REQUEST_TA,
	    [TB_UA_OP_UNREQUEST_TA] = TB_PLUGIN_OP_UNREQUEST_TA,
	    [TB_UA_OP_POLICY_CHECK] = TB_PLUGIN_OP_POLICY_CHECK,
	};
	struct tb_broker *b = c->b;
	struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];
	struct tb_plugin_conn pc;
	struct tb_plugin_op op;
	char reason[TB_UA_MAX_TEXT];

	if (!b->n_plugins)
		return 1;
	plugin_view(c, &pc);
	memset(&op, 0, sizeof(op));
	op.struct_size = sizeof(op);
	op.kind = kinds[req->op];
	op.request_id = req->id;
	for (size_t i = 0; i < req->component.n; i++) {
		segs[i].ptr = req->component.seg[i].ptr;
		segs[i].len = req->component.seg[i].len;
	}
	op.component_id = req->component.n ? segs : NULL;
	op.n_segments = req->component.n;
	op.tee = tee->conf->name;
	op.tam_uri = req->tam_uri;
	if (tb_plugins_op(b, &pc, &op, reason, sizeof(reason)))
		return 1;
	b->counters.forbidden++;
	answer_error(c, 1, req->id, TB_UA_E_FORBIDDEN, reason);
	tb_def_score(b, &c->addr, b->conf.ban.weight_forbidden, "forbidden request");
	return 0;
}

/* Charge the frame to the zones of kind: 1 when it may go on, 0 when it
 * was held (it resumes at `next`) or refused, and so has its answer. */
static int charge(struct tb_ua_conn *c, struct frame *f, const struct tb_tee *tee,
                  enum tb_limit_applies kind, enum stage next)
{
	uint64_t delay, retry;
	unsigned pins;

	switch (tb_def_limit(c->b, c, tee, kind, &delay, &retry, &pins)) {
	case TB_DEF_DELAY:
		hold(c, f, next, delay, pins);
		return 0;
	case TB_DEF_REFUSE:
		refuse(c, f, retry);
		return 0;
	default:
		return 1;
	}
}

/* A tam op (apptam.c): its checks, then the "tee-calls" zones when it would
 * call the TEE, then the call. */
static void process_tam(struct tb_ua_conn *c, struct frame *f, enum stage stage)
{
	int charged = stage == STAGE_RUN;

	while (tb_apptam_request(c, &f->req, charged) == TB_APPTAM_CHARGE) {
		if (!charge(c, f, NULL, TB_LIMIT_TEE_CALLS, STAGE_RUN))
			return;
		charged = 1;
	}
}

/* The frame's way from the rate limits to its session, from `stage` on. */
static void process(struct tb_ua_conn *c, struct frame *f, enum stage stage)
{
	struct tb_broker *b = c->b;
	struct tb_ua_request *req = &f->req;
	char err[160];

	/* Once the broker stops, nothing is held (it would not be answered)
	 * and every request is answered "shutdown" below, which costs less. */
	if (stage == STAGE_MESSAGES && !b->stopping) {
		if (!charge(c, f, NULL, TB_LIMIT_MESSAGES, STAGE_CHECKS))
			return;
	}
	if (f->bad) {
		answer_bad(c, f);
		return;
	}
	if (b->stopping) {
		answer_error(c, 1, req->id, TB_UA_E_SHUTDOWN, "the broker is stopping");
		return;
	}
	if (answer_duplicate(c, 1, req->id))
		return;
	if (req->op >= TB_UA_OP_TAM_SESSION) {
		process_tam(c, f, stage);
		return;
	}
	struct tb_tee *tee = tb_tee_find(b, req->tee);
	if (!tee) {
		snprintf(err, sizeof(err), "no TEE named '%s'", req->tee);
		answer_error(c, 1, req->id, TB_UA_E_NO_TEE, err);
		tb_def_score(b, &c->addr, b->conf.ban.weight_unknown_tee, "unknown TEE");
		return;
	}
	/* an app may only suggest the TAMs the operator lists: the Agent may
	 * follow the hint, and the broker would connect there */
	if (req->tam_uri && !tb_tam_hint_allowed(tee, req->tam_uri)) {
		b->counters.tam_not_allowed++;
		tb_log(TB_LOG_INFO, "app %s: request %llu suggests TAM %s, which is not allowed",
		       c->peer, (unsigned long long)req->id, req->tam_uri);
		answer_error(c, 1, req->id, TB_UA_E_TAM_NOT_ALLOWED,
		             "this broker does not let apps suggest that TAM");
		tb_def_score(b, &c->addr, b->conf.ban.weight_tam_not_allowed, "TAM not allowed");
		return;
	}
	/* a held frame was allowed before it was held: it is not asked twice */
	if (stage != STAGE_RUN && !plugins_allow(c, req, tee))
		return;
	if (c->n_requests >= b->conf.listener.max_requests_per_connection) {
		answer_busy(c, req->id, BUSY_RETRY_MS, "too many requests in flight");
		return;
	}
	/* an identical request in flight: share its exchange and its outcome
	 * (this calls no TEE, so no "tee-calls" zone is charged) */
	struct tb_session *flight = tb_session_find_flight(b, tee, req);
	if (flight) {
		int rc = tb_session_join(flight, c, req);
		if (rc == TB_OK) {
			b->counters.requests++;
		} else if (rc == TB_ERR_TOOBIG) {
			b->counters.busy_waiters++;
			answer_busy(c, req->id, BUSY_RETRY_MS,
			            "too many requests wait for the same exchange");
		} else {
			answer_busy(c, req->id, BUSY_RETRY_MS, "out of memory");
		}
		return;
	}
	/* A request the TEE's driver may answer at once (driver ABI 1.2): it
	 * counts as a TEE call like any other ("tee-calls" zones, charged
	 * here), and once answered needs no session and no worker. (An
	 * identical request in flight, joined above, means the Agent has
	 * something to do.) */
	int charged = stage == STAGE_RUN;
	if (tb_answer_now_may(b, req, tee)) {
		if (!charged && !charge(c, f, tee, TB_LIMIT_TEE_CALLS, STAGE_RUN))
			return;
		charged = 1;
		if (tb_answer_now(b, c, req, tee))
			return;
	}
	/* [tam] max_sessions is granted when the request leaves its TEE's fair
	 * queue (session.c): a full TAM makes requests wait their turn */
	if (b->n_sessions >= b->conf.max_sessions) {
		b->counters.busy_sessions++;
		answer_busy(c, req->id, BUSY_RETRY_MS, "too many exchanges in progress");
		pause_rx(c, BUSY_PAUSE_MS);
		return;
	}
	/* charged only now (or above, when its driver could have answered
	 * at once): a request refused above calls no TEE */
	if (!charged) {
		if (!charge(c, f, tee, TB_LIMIT_TEE_CALLS, STAGE_RUN))
			return;
	}
	b->counters.requests++;
	if (tb_session_start(b, c, req, tee) != TB_OK) {
		answer_busy(c, req->id, BUSY_RETRY_MS, "the TEE's queue is full");
		pause_rx(c, BUSY_PAUSE_MS);
	}
}

static void handle_frame(struct tb_ua_conn *c)
{
	struct frame f;

	c->b->counters.frames_in++;
	read_frame(c, &f);
	if (c->held || c->ban_closing) {
		/* lws delivers nothing while rx is off, so this is not expected;
		 * should it happen, the frame still gets its one answer */
		if (f.bad)
			answer_bad(c, &f);
		else
			answer_busy(c, f.req.id, BUSY_RETRY_MS, NULL);
	} else {
		process(c, &f, STAGE_MESSAGES);
	}
	tb_ua_request_clear(&f.req);
}

static int rx_append(struct tb_ua_conn *c, struct lws *wsi, const void *in, size_t len)
{
	uint64_t max = c->b->conf.listener.max_message_size;
	size_t remaining = lws_remaining_packet_payload(wsi);

	if (lws_is_first_fragment(wsi)) {
		c->rx_len = 0;
		c->rx_discard = 0;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	if (c->rx_discard)
		return 0;
	/* Check before growing: the whole frame must fit. */
	if ((uint64_t)c->rx_len + len + remaining > max) {
		c->rx_discard = 1;
		c->rx_len = 0;
		return 0;
	}
	if (!c->rx || c->rx_cap < max) {
		/* a reload may have raised max_message_size during the frame */
		uint8_t *rx = realloc(c->rx, (size_t)max);
		if (!rx)
			return -1;
		c->rx = rx;
		c->rx_cap = (size_t)max;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

static void conn_free_tx(struct tb_ua_conn *c)
{
	while (c->tx_head) {
		struct tb_answer *a = c->tx_head;
		c->tx_head = a->next;
		free(a);
	}
	c->tx_tail = NULL;
	c->tx_count = 0;
}

/* Admission before cost: refused here, a connection costs one accept() and
 * one close(), and lws has spent nothing on it yet. */
static int filter_connection(struct tb_broker *b, int fd)
{
	struct tb_peer p;
	char text[64];

	/* an address we cannot read is only subject to the global bounds */
	tb_peer_from_fd(fd, &p);
	if (!tb_def_admit(b, &p))
		return 0;
	tb_log(TB_LOG_DEBUG, "app %s: connection refused", tb_peer_str(&p, text, sizeof(text)));
	return 1;
}

/* ---- handshake --------------------------------------------------------- */

/* Copy one request header for the plugins: NULL if absent, 1 if too long. */
static int copy_header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len,
                       const char **out)
{
	*out = NULL;
	if (lws_hdr_total_length(wsi, t) <= 0)
		return 0;
	if (lws_hdr_total_length(wsi, t) >= len || lws_hdr_copy(wsi, buf, len, t) < 0)
		return 1;
	*out = buf;
	return 0;
}

/* The answer to a refused upgrade; the connection is closed after it. */
static void refuse_upgrade(struct lws *wsi, unsigned status)
{
	static const char challenge[] = "Bearer realm=\"teep-broker\"";
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;

	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    (status == HTTP_STATUS_UNAUTHORIZED &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
	                                  (const unsigned char *)challenge, sizeof(challenge) - 1,
	                                  &p, end)) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close",
	                                 5, &p, end) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		tb_log(TB_LOG_DEBUG, "cannot write the HTTP %u answer; hanging up", status);
}

/*
 * The plugins decide on a websocket upgrade while its request headers are
 * still there. The verdict waits in b->admitted for ESTABLISHED, which lws
 * runs within this same call when it lets the upgrade through. A refusal
 * writes its HTTP answer and hangs up (-1): returning 1 ("answered") would
 * have lws carry on with the connection as HTTP keep-alive, which a
 * refused app has no use for.
 */
static int confirm_upgrade(struct tb_broker *b, struct lws *wsi, const char *upgrade)
{
	char path[256], auth[1024], origin[256], agent[256], reason[TB_PLUGIN_REASON_MIN];
	char cert_subject[512], cert_sha256[65];
	struct tb_plugin_conn pc;
	struct tb_peer p;
	char text[48];
	int too_long = 0;
	unsigned status;

	b->admitted.wsi = NULL;
	/* another upgrade (h2c) is lws's business; a websocket inside it would
	 * find no verdict in ESTABLISHED and be refused there */
	if (!upgrade || strcasecmp(upgrade, "websocket") != 0)
		return 0;
	tb_peer_from_fd(lws_get_socket_fd(wsi), &p);
	/* A browser names the page that opens a websocket in Origin; native
	 * apps send none. With allow_origins set, a page not listed cannot
	 * use the broker (cross-site websocket hijacking of a local daemon). */
	if (b->conf.listener.allow_origins && lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
	    (copy_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin), &pc.origin) ||
	     !tb_tamuri_in_list(origin, b->conf.listener.allow_origins))) {
		b->counters.refused_origin++;
		tb_log(TB_LOG_INFO, "app %s: refused: its Origin %.80s is not in allow_origins",
		       tb_peer_str(&p, text, sizeof(text)), pc.origin ? origin : "(too long)");
		tb_def_score(b, &p, b->conf.ban.weight_unauthorized, "Origin not allowed");
		refuse_upgrade(wsi, HTTP_STATUS_FORBIDDEN);
		return -1;
	}
	if (!b->n_plugins)
		return 0;
	memset(&pc, 0, sizeof(pc));
	pc.struct_size = sizeof(pc);
	pc.id = ++b->next_conn_id;
	pc.address = tb_peer_str(&p, text, sizeof(text));
	too_long |= copy_header(wsi, WSI_TOKEN_GET_URI, path, sizeof(path), &pc.path);
	too_long |=
	    copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth), &pc.authorization);
	too_long |= copy_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin), &pc.origin);
	too_long |=
	    copy_header(wsi, WSI_TOKEN_HTTP_USER_AGENT, agent, sizeof(agent), &pc.user_agent);
	/* wss://: the client certificate, verified in the TLS handshake */
	if (tb_listener_tls_peer(wsi, cert_subject, sizeof(cert_subject), cert_sha256,
	                         sizeof(cert_sha256))) {
		pc.client_cert_subject = cert_subject[0] ? cert_subject : NULL;
		pc.client_cert_sha256 = cert_sha256;
	}
	if (too_long) {
		b->counters.refused_bad_request++;
		tb_log(TB_LOG_INFO, "app %s: refused: a request header is too long", text);
		refuse_upgrade(wsi, HTTP_STATUS_BAD_REQUEST);
		return -1;
	}
	switch (tb_plugins_admit(b, &pc, b->admitted.identity, sizeof(b->admitted.identity), reason,
	                         sizeof(reason))) {
	case TB_PLUGIN_ADMITTED:
		b->admitted.wsi = wsi;
		b->admitted.id = pc.id;
		return 0;
	case TB_PLUGIN_REFUSED:
		b->counters.refused_plugin++;
		status = HTTP_STATUS_FORBIDDEN;
		break;
	default:
		b->counters.refused_unauthorized++;
		status = HTTP_STATUS_UNAUTHORIZED;
		break;
	}
	tb_def_score(b, &p, b->conf.ban.weight_unauthorized, "refused handshake");
	refuse_upgrade(wsi, status);
	return -1;
}

static int established(struct tb_broker *b, struct tb_ua_conn *c, struct lws *wsi)
{
	struct tb_peer p;
	uint64_t id;

	/* With plugins, a connection they did not let through never opens
	 * (an upgrade that bypassed HTTP_CONFIRM_UPGRADE, should lws have
	 * one). */
	if (b->n_plugins && b->admitted.wsi != wsi)
		return -1;
	b->admitted.wsi = NULL;
	id = b->n_plugins ? b->admitted.id : ++b->next_conn_id;
	tb_peer_from_fd(lws_get_socket_fd(wsi), &p);
	/* Again: handshakes that were under way together all passed the
	 * accept-time check, and a ban may have started since. Refused here,
	 * the connection is closed before it holds anything. */
	if (tb_def_admit(b, &p) || tb_def_conn_add(b, &p) != TB_OK)
		return -1;
	memset(c, 0, sizeof(*c));
	c->b = b;
	c->wsi = wsi;
	c->addr = p;
	c->id = id;
	c->counted_per_ip = 1;
	tb_peer_str(&p, c->addr_text, sizeof(c->addr_text));
	if (b->n_plugins) {
		memcpy(c->identity, b->admitted.identity, sizeof(c->identity));
		if (c->identity[0])
			b->counters.authenticated++;
		else
			b->counters.anonymous++;
	}
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	if (c->identity[0]) {
		/* logs name the app by its identity from now on */
		size_t n = strlen(c->peer);
		snprintf(c->peer + n, sizeof(c->peer) - n, " (%s)", c->identity);
	}
	c->next = b->conns;
	if (b->conns)
		b->conns->prev = c;
	b->conns = c;
	b->n_conns++;
	b->counters.conns_accepted++;
	tb_log(TB_LOG_DEBUG, "app %s: connected", c->peer);
	idle_timer(c);
	return 0;
}

static void closed(struct tb_broker *b, struct tb_ua_conn *c)
{
	tb_log(TB_LOG_DEBUG, "app %s: closed with %u request(s) in flight", c->peer, c->n_requests);
	if (c->rx_open && tb_now_ms() >= c->rx_deadline_ms) {
		/* lws closed it on our timeout: a frame that did not end in time */
		b->counters.frames_slow++;
		tb_log(TB_LOG_INFO, "app %s: closed: a frame took longer than frame_timeout",
		       c->peer);
		tb_def_score(b, &c->addr, b->conf.ban.weight_malformed, "slow frame");
	}
	if (b->n_plugins) {
		struct tb_plugin_conn pc;
		plugin_view(c, &pc);
		tb_plugins_close(b, &pc);
	}
	/* Exchanges go on (an Agent must not be left half-way), for the other
	 * requests waiting on them too; this app's answers have nobody to go
	 * to. */
	while (c->requests) {
		struct tb_waiter *w = c->requests;
		c->requests = w->conn_next;
		w->conn_next = NULL;
		w->conn = NULL;
	}
	c->n_requests = 0;
	/* its requests still waiting for a TEE go on only for other apps */
	tb_session_conn_closing(c);
	tb_apptam_conn_closed(c);
	held_free(c);
	pause_free(c);
	conn_free_tx(c);
	free(c->rx);
	c->rx = NULL;
	if (c->counted_per_ip)
		tb_def_conn_remove(b, &c->addr);
	c->counted_per_ip = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	b->n_conns--;
	c->b = NULL;
	tb_broker_maybe_exit(b);
}

/* Answers queued together go out in one write of at most TX_BATCH bytes. */
#define TX_BATCH    4096
#define WS_HEAD_MAX 10

/* The head of a whole websocket frame from the server: FIN, binary,
 * unmasked (RFC 6455 section 5.2). Returns its length. */
static size_t ws_head(uint8_t *h, size_t len)
{
	h[0] = 0x82;
	if (len < 126) {
		h[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

static void tx_done(struct tb_broker *b, struct tb_ua_conn *c)
{
	struct tb_answer *a = c->tx_head;

	c->tx_head = a->next;
	if (!c->tx_head)
		c->tx_tail = NULL;
	c->tx_count--;
	free(a);
	if (c->tx_throttled && c->tx_count <= b->conf.listener.max_queued_answers / 2) {
		c->tx_throttled = 0;
		resume_rx(c);
	}
}

/*
 * lws takes one websocket frame per lws_write(), and a frame per WRITEABLE
 * callback costs a poll round and a send() each. So the answers that are
 * ready together (a request's last progress steps and its final answer)
 * are laid end to end as whole frames in one buffer and written raw, in
 * one send(). The broker negotiates no extension, so its frames are
 * exactly these bytes; lws keeps what the socket does not take at once
 * and sends it before anything else. An answer that does not fit beside
 * another goes out alone, as a frame of its own.
 */
static int write_answers(struct tb_broker *b, struct tb_ua_conn *c, struct lws *wsi)
{
	struct tb_answer *a = c->tx_head;

	if (!a->next || a->len + a->next->len + 2 * WS_HEAD_MAX > TX_BATCH) {
		if (lws_write(wsi, a->buf + LWS_PRE, a->len, LWS_WRITE_BINARY) < (int)a->len)
			return -1;
		tx_done(b, c);
		return 0;
	}
	uint8_t batch[LWS_PRE + TX_BATCH], *p = batch + LWS_PRE;
	size_t used = 0, n = 0;
	for (; a && used + a->len + WS_HEAD_MAX <= TX_BATCH; a = a->next, n++) {
		used += ws_head(p + used, a->len);
		memcpy(p + used, a->buf + LWS_PRE, a->len);
		used += a->len;
	}
	if (lws_write(wsi, p, used, LWS_WRITE_RAW) < (int)used)
		return -1;
	while (n--)
		tx_done(b, c);
	return 0;
}

static int writeable(struct tb_broker *b, struct tb_ua_conn *c, struct lws *wsi)
{
	if (c->tx_head) {
		if (write_answers(b, c, wsi))
			return -1;
		if (c->tx_head || c->ban_closing)
			lws_callback_on_writable(wsi);
		else
			tb_broker_maybe_exit(b);
		return 0;
	}
	if (c->ban_closing) {
		/* the answers are out: 1008, policy violation (RFC 6455) */
		static const char why[] = "banned";
		lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
		                 sizeof(why) - 1);
		return -1;
	}
	return 0;
}

static int ua_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct tb_broker *b = lws_context_user(lws_get_context(wsi));
	struct tb_ua_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* wss://: `user` is the listener's SSL_CTX (tls_listener.h) */
		return tb_listener_tls_on_ctx(b, user);
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* `in` is the accepted socket; `user` is no connection yet */
		return filter_connection(b, (int)(lws_intptr_t)in);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* `user` is the HTTP stage's, freed at the upgrade: not used */
		return confirm_upgrade(b, wsi, in);
	case LWS_CALLBACK_ESTABLISHED:
		return established(b, c, wsi);
	case LWS_CALLBACK_RECEIVE:
		if (!c->b)
			return -1;
		if (!c->rx_open &&
		    !(lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))) {
			/* a frame that does not arrive whole has frame_timeout
			 * to end; one that does needs no timer */
			c->rx_open = 1;
			c->rx_deadline_ms = tb_now_ms() + b->conf.listener.frame_timeout_ms;
		}
		if (c->rx_open)
			idle_timer(c);
		if (rx_append(c, wsi, in, len))
			return -1;
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			break;
		if (c->rx_open || b->conf.listener.idle_timeout_ms) {
			c->rx_open = 0;
			idle_timer(c);
		}
		handle_frame(c);
		/* idle connections keep no receive buffer */
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
		c->rx_discard = 0;
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c->b)
			break;
		return writeable(b, c, wsi);
	case LWS_CALLBACK_CLOSED:
		if (c->b)
			closed(b, c);
		break;
	case LWS_CALLBACK_HTTP:
		/* plain HTTP on the app port: only websocket upgrades are served */
		if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
		                           "websocket (teep-broker.v1) only"))
			return -1;
		return lws_http_transaction_completed(wsi);
	default:
		break;
	}
	return 0;
}

const struct lws_protocols tb_ua_protocol = {
    .name = TB_UA_SUBPROTOCOL,
    .callback = ua_cb,
    .per_session_data_size = sizeof(struct tb_ua_conn),
    /* lws gives every connection a receive buffer of this size for its
     * whole life: keep it small, requests are far smaller and larger
     * frames simply arrive in several pieces */
    .rx_buffer_size = 512,
    /* lws cuts every send() to this size (to rx_buffer_size when 0): a
     * batch of answers, or one large answer, goes out in one send() */
    .tx_packet_size = TX_BATCH,
};

size_t tb_ua_pending_tx(struct tb_broker *b)
{
	size_t n = 0;
	for (struct tb_ua_conn *c = b->conns; c; c = c->next)
		n += c->tx_count;
	return n;
}

void tb_ua_close_all(struct tb_broker *b)
{
	for (struct tb_ua_conn *c = b->conns; c; c = c->next)
		if (c->wsi)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* A held frame gets its one answer now: "shutdown" for a request (it was not
 * started), its own error for a frame that is no request. */
void tb_ua_stopping(struct tb_broker *b)
{
	for (struct tb_ua_conn *c = b->conns; c; c = c->next) {
		struct tb_held *h = c->held;
		if (!h)
			continue;
		if (h->f.bad)
			answer_bad(c, &h->f);
		else
			answer_error(c, 1, h->f.req.id, TB_UA_E_SHUTDOWN, "the broker is stopping");
		held_free(c);
		resume_rx(c);
	}
}

unsigned tb_ua_ban_close(struct tb_broker *b, const struct tb_peer *p, uint64_t until_ms)
{
	uint64_t now = tb_now_ms();
	uint64_t retry = until_ms > now ? until_ms - now : 0;
	unsigned n = 0;

	for (struct tb_ua_conn *c = b->conns; c; c = c->next) {
		if (c->ban_closing || !c->wsi || c->addr.len != p->len ||
		    memcmp(c->addr.addr, p->addr, p->len) != 0)
			continue;
		c->ban_closing = 1;
		n++;
		if (c->held) {
			/* not started: the app may send it again once the ban ends */
			struct tb_held *h = c->held;
			if (h->f.bad)
				answer_bad(c, &h->f);
			else
				answer_busy(c, h->f.req.id, retry, "banned");
			held_free(c);
		}
		/* nothing more is read; the queued answers go out, then the
		 * close (writeable()); an app that does not read them is cut
		 * off all the same */
		lws_rx_flow_control(c->wsi, 0);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, BAN_CLOSE_GRACE_S);
		lws_callback_on_writable(c->wsi);
	}
	return n;
}

/* ---- configuration reload ----------------------------------------------- */

/* One walk of the open connections: bounded by max_connections. */
void tb_ua_unpin_held(struct tb_broker *b)
{
	for (struct tb_ua_conn *c = b->conns; c; c = c->next)
		if (c->held && c->held->pins) {
			tb_def_unpin(b, c, c->held->pins);
			c->held->pins = 0;
		}
}

void tb_ua_set_queue_bound(struct tb_broker *b, uint32_t max_per_app, uint32_t max_exchanges)
{
	for (struct tb_ua_conn *c = b->conns; c; c = c->next)
		for (size_t i = 0; c->flows && i < b->n_tees; i++) {
			c->flows[i].max_items = max_per_app;
			c->flows[i].max_running = max_exchanges;
		}
}
