/*
 * The app side: websocket connections speaking "teep-broker.v1"
 * (docs/ua-api.md). Frames are reassembled up to max_message_size, decoded,
 * and turned into sessions; answers are queued per connection and written
 * one per WRITEABLE callback.
 *
 * Bounds: a connection holds at most max_requests_per_connection requests in
 * flight and max_queued_answers progress events waiting to be written.
 * Progress events beyond that are dropped (and counted); final answers are
 * never dropped, and there is at most one per request, so the queue stays
 * within max_queued_answers + max_requests_per_connection entries.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_RETRY_MS 1000

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
}

void tb_ua_answer(struct tb_ua_conn *c, const struct tb_ua_answer *a)
{
	uint8_t frame[TB_UA_ANSWER_MAX];

	if (a->event == TB_UA_EV_PROGRESS &&
	    c->tx_count >= c->b->conf.listener.max_queued_answers) {
		c->b->counters.progress_dropped++;
		return;
	}
	int n = tb_ua_answer_encode(a, frame, sizeof(frame));
	if (n < 0) {
		tb_log(TB_LOG_ERR, "app %s: cannot encode an answer (%d)", c->peer, n);
		return;
	}
	enqueue(c, frame, (size_t)n);
}

static void answer_error(struct tb_ua_conn *c, int has_id, uint64_t id, int code,
                         const char *reason)
{
	struct tb_ua_answer a = {
	    .has_id = has_id, .id = id, .event = TB_UA_EV_ERROR, .code = code, .reason = reason};
	c->b->counters.answers_error++;
	tb_ua_answer(c, &a);
}

static void answer_busy(struct tb_ua_conn *c, uint64_t id, uint64_t retry_ms)
{
	struct tb_ua_answer a = {
	    .has_id = 1, .id = id, .event = TB_UA_EV_BUSY, .retry_after_ms = retry_ms};
	c->b->counters.answers_busy++;
	tb_ua_answer(c, &a);
}

void tb_ua_session_gone(struct tb_ua_conn *c, struct tb_session *s)
{
	struct tb_session **pp = &c->sessions;
	while (*pp && *pp != s)
		pp = &(*pp)->conn_next;
	if (*pp) {
		*pp = s->conn_next;
		c->n_sessions--;
	}
	s->conn_next = NULL;
}

static int id_in_use(struct tb_ua_conn *c, uint64_t id)
{
	for (struct tb_session *s = c->sessions; s; s = s->conn_next)
		if (s->req_id == id && !s->answered)
			return 1;
	return 0;
}

static void handle_frame(struct tb_ua_conn *c)
{
	struct tb_broker *b = c->b;
	struct tb_ua_request req;
	char err[160];
	int has_id = 0;
	uint64_t id = 0;

	b->counters.frames_in++;
	if (!c->rx_binary) {
		b->counters.frames_rejected++;
		answer_error(c, 0, 0, TB_UA_E_UNSUPPORTED,
		             "text frames are not accepted: send CBOR in binary frames");
		return;
	}
	int rc = tb_ua_request_decode(c->rx, c->rx_len, &req, &has_id, &id, err, sizeof(err));
	if (rc) {
		b->counters.frames_rejected++;
		tb_log(TB_LOG_INFO, "app %s: rejected request: %s", c->peer, err);
		answer_error(c, has_id, id,
		             rc == TB_ERR_UNSUP   ? TB_UA_E_UNSUPPORTED
		             : rc == TB_ERR_NOMEM ? TB_UA_E_INTERNAL
		                                  : TB_UA_E_MALFORMED,
		             err);
		return;
	}
	if (b->stopping) {
		answer_error(c, 1, req.id, TB_UA_E_SHUTDOWN, "the broker is stopping");
		goto out;
	}
	if (id_in_use(c, req.id)) {
		answer_error(c, 1, req.id, TB_UA_E_DUPLICATE_ID,
		             "a request with this id is still in flight");
		goto out;
	}
	struct tb_tee *tee = tb_tee_find(b, req.tee);
	if (!tee) {
		snprintf(err, sizeof(err), "no TEE named '%s'", req.tee);
		answer_error(c, 1, req.id, TB_UA_E_NO_TEE, err);
		goto out;
	}
	if (c->n_sessions >= b->conf.listener.max_requests_per_connection ||
	    b->n_sessions >= b->conf.max_sessions || tee->sessions >= tee->tam->max_sessions) {
		answer_busy(c, req.id, BUSY_RETRY_MS);
		goto out;
	}
	b->counters.requests++;
	if (!tb_session_start(b, c, &req, tee))
		answer_busy(c, req.id, BUSY_RETRY_MS); /* TEE queue full */
out:
	tb_ua_request_clear(&req);
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
	if (!c->rx) {
		c->rx = malloc((size_t)max);
		if (!c->rx)
			return -1;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

/* lws timeouts count whole seconds: round up so that 500ms is not "never" */
static void idle_timer(struct tb_ua_conn *c)
{
	uint64_t ms = c->b->conf.listener.idle_timeout_ms;
	if (ms)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)((ms + 999) / 1000));
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

static int ua_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct tb_broker *b = lws_context_user(lws_get_context(wsi));
	struct tb_ua_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* Admission before any per-connection cost. */
		if (b->stopping || b->n_conns >= b->conf.listener.max_connections) {
			b->counters.conns_refused++;
			return 1;
		}
		break;
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof(*c));
		c->b = b;
		c->wsi = wsi;
		lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
		c->next = b->conns;
		if (b->conns)
			b->conns->prev = c;
		b->conns = c;
		b->n_conns++;
		b->counters.conns_accepted++;
		tb_log(TB_LOG_DEBUG, "app %s: connected", c->peer);
		idle_timer(c);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (!c->b)
			return -1;
		idle_timer(c);
		if (rx_append(c, wsi, in, len))
			return -1;
		if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
			break;
		if (c->rx_discard) {
			b->counters.frames_rejected++;
			char why[96];
			snprintf(why, sizeof(why), "frame larger than %llu bytes",
			         (unsigned long long)b->conf.listener.max_message_size);
			answer_error(c, 0, 0, TB_UA_E_TOO_LARGE, why);
			c->rx_discard = 0;
			break;
		}
		handle_frame(c);
		/* idle connections keep no receive buffer */
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (!c->b || !c->tx_head)
			break;
		struct tb_answer *a = c->tx_head;
		int n = lws_write(wsi, a->buf + LWS_PRE, a->len, LWS_WRITE_BINARY);
		if (n < (int)a->len)
			return -1;
		c->tx_head = a->next;
		if (!c->tx_head)
			c->tx_tail = NULL;
		c->tx_count--;
		free(a);
		if (c->tx_head)
			lws_callback_on_writable(wsi);
		else
			tb_broker_maybe_exit(b);
		break;
	}
	case LWS_CALLBACK_CLOSED:
		if (!c->b)
			break;
		tb_log(TB_LOG_DEBUG, "app %s: closed with %u request(s) in flight", c->peer,
		       c->n_sessions);
		/* Exchanges go on (an Agent must not be left half-way); their
		 * answers have nobody to go to. */
		while (c->sessions) {
			struct tb_session *s = c->sessions;
			c->sessions = s->conn_next;
			s->conn_next = NULL;
			tb_session_detach_conn(s);
		}
		c->n_sessions = 0;
		conn_free_tx(c);
		free(c->rx);
		c->rx = NULL;
		if (c->prev)
			c->prev->next = c->next;
		else
			b->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		b->n_conns--;
		c->b = NULL;
		tb_broker_maybe_exit(b);
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
