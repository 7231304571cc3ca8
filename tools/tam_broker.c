/*
 * teep-tam --via-broker: the reference TAM as an app of a TEEP Broker
 * (docs/ua-api.md section 2.3) instead of an HTTP server. It opens a
 * tam-session, sends the first QueryRequest of tam_core_connect() as a
 * tam-message, hands each answer of the Agent to tam_core_message() and
 * sends what that returns, until the TAM has nothing more to send
 * (tam-end) or the Agent has nothing more to say. A test and demo tool.
 *
 * One line per event on stdout:
 *   progress tam-session TEE
 *   sent ID TYPE BYTES          a tam-message went out
 *   answer ID BYTES             the Agent's answer to it
 *   done ID RESULT              a final "done"
 *   error ID CODE NAME: REASON  a final "error"
 *   busy ID RETRY_MS
 *   attestation STATUS: REASON  (--attest) the appraisal of the Agent's
 *                               Evidence was not affirming: no Update
 * Exit status: 0 the tam-session completed, 1 an error answer, 3 cannot
 * connect or the connection ended early, 4 busy, 5 timeout, 6 the
 * attestation result was not affirming (nothing was sent to the Agent
 * after its QueryResponse).
 */
#include "tam_broker.h"
#include "tb_log.h"
#include "tb_uaproto.h"
#include "tb_util.h"
#include "ua_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RX_MAX (2 * 1024 * 1024)

struct tb_state {
	const struct tam_broker_opts *o;
	struct tam_core *core;
	struct ua_target target;
	struct lws_context *ctx;
	struct lws *wsi;
	uint64_t session_id; /* the tam-session request */
	uint64_t next_id;
	uint64_t msg_id; /* the tam-message in flight, 0: none */
	uint64_t end_id; /* the tam-end, 0: not sent */
	uint8_t *tx;     /* LWS_PRE headroom, then the frame to send; NULL: none */
	size_t tx_len;
	uint8_t *rx;
	size_t rx_len;
	int rx_skip;
	int failed_code; /* exit status once the session has ended */
	int finished;
	int exit_code;
	lws_sorted_usec_list_t sul_connect, sul_timeout;
};

static void finish(struct tb_state *st, int code)
{
	if (st->finished)
		return;
	st->finished = 1;
	st->exit_code = code;
	lws_cancel_service(st->ctx);
}

/* Queue one request (there is never more than one waiting). */
static int send_request(struct tb_state *st, const struct tb_ua_request *req)
{
	uint8_t *frame;
	size_t len;

	if (tb_ua_request_encode(req, &frame, &len) != TB_OK) {
		fprintf(stderr, "teep-tam: cannot encode a %s request\n", tb_ua_op_name(req->op));
		return -1;
	}
	free(st->tx);
	st->tx = malloc(LWS_PRE + len);
	if (!st->tx) {
		free(frame);
		return -1;
	}
	memcpy(st->tx + LWS_PRE, frame, len);
	st->tx_len = len;
	free(frame);
	lws_callback_on_writable(st->wsi);
	return 0;
}

static int send_message(struct tb_state *st, uint8_t *msg, size_t len)
{
	struct tb_ua_request r = {.id = st->next_id++,
	                          .op = TB_UA_OP_TAM_MESSAGE,
	                          .session = st->session_id,
	                          .msg = msg,
	                          .msg_len = len};
	enum tb_teep_type t = tb_teep_peek_type(msg, len, st->o->numbering);
	int rc = send_request(st, &r);

	if (rc == 0) {
		st->msg_id = r.id;
		printf("sent %llu %s %zu\n", (unsigned long long)r.id, tb_teep_type_name(t), len);
	}
	free(msg);
	return rc;
}

static int send_end(struct tb_state *st)
{
	struct tb_ua_request r = {
	    .id = st->next_id++, .op = TB_UA_OP_TAM_END, .session = st->session_id};

	st->end_id = r.id;
	return send_request(st, &r);
}

static void print_final(const struct tb_ua_answer *a)
{
	switch (a->event) {
	case TB_UA_EV_DONE:
		printf("done %llu %s\n", (unsigned long long)a->id, a->result);
		break;
	case TB_UA_EV_ERROR:
		printf("error %llu %d %s: %s\n", (unsigned long long)a->id, a->code,
		       tb_ua_code_name(a->code), a->reason ? a->reason : "");
		break;
	case TB_UA_EV_BUSY:
		printf("busy %llu %llu\n", (unsigned long long)a->id,
		       (unsigned long long)a->retry_after_ms);
		break;
	default:
		break;
	}
}

/* The answer to the tam-session request itself. */
static int on_session_answer(struct tb_state *st, const struct tb_ua_answer *a)
{
	uint8_t *msg = NULL;
	size_t len = 0;

	if (a->event == TB_UA_EV_PROGRESS) {
		printf("progress %s %s\n", a->step, a->detail ? a->detail : "");
		if (strcmp(a->step, "tam-session") != 0 || st->msg_id || st->end_id)
			return 0;
		/* the session is open: the TAM speaks first */
		if (tam_core_connect(st->core, &msg, &len) != TB_OK) {
			fprintf(stderr, "teep-tam: cannot build a QueryRequest\n");
			st->failed_code = 1;
			return send_end(st);
		}
		return send_message(st, msg, len);
	}
	print_final(a);
	finish(st, a->event == TB_UA_EV_DONE ? st->failed_code : a->event == TB_UA_EV_BUSY ? 4 : 1);
	return 0;
}

/* The answer to the tam-message in flight. */
static int on_message_answer(struct tb_state *st, const struct tb_ua_answer *a)
{
	uint8_t *out = NULL;
	size_t out_len = 0;

	if (a->event == TB_UA_EV_PROGRESS)
		return 0;
	st->msg_id = 0;
	if (a->event != TB_UA_EV_DONE) {
		print_final(a);
		/* end the session cleanly; the exit status says it failed */
		st->failed_code = a->event == TB_UA_EV_BUSY ? 4 : 1;
		return send_end(st);
	}
	if (!a->msg) {
		/* the Agent is done: the broker ends the tam-session */
		print_final(a);
		return 0;
	}
	printf("answer %llu %zu\n", (unsigned long long)a->id, a->msg_len);
	if (tam_core_message(st->core, a->msg, a->msg_len, &out, &out_len) != TB_OK) {
		fprintf(stderr, "teep-tam: the TAM could not process the Agent's answer\n");
		st->failed_code = 1;
		return send_end(st);
	}
	if (!out) {
		char why[160];
		int status = tam_core_last_attestation(st->core, why, sizeof(why));

		if (status != TB_EAR_NONE && status != TB_EAR_AFFIRMING) {
			/* the core sends nothing to an Agent it does not trust */
			printf("attestation %s: %s\n", tb_ear_tier_name(status),
			       why[0] ? why : "not affirming");
			st->failed_code = 6;
		}
		return send_end(st); /* nothing more to send */
	}
	return send_message(st, out, out_len);
}

static int handle_answer(struct tb_state *st)
{
	struct tb_ua_answer a;
	char *arena = malloc(RX_MAX);
	int rc;

	if (!arena)
		return -1;
	rc = tb_ua_answer_decode(st->rx, st->rx_len, &a, arena, RX_MAX);
	if (rc == TB_ERR_UNSUP) {
		rc = 0; /* an event of a later version */
	} else if (rc != TB_OK) {
		fprintf(stderr, "teep-tam: the broker sent a malformed answer (%d)\n", rc);
		finish(st, 3);
		rc = -1;
	} else if (!a.has_id) {
		print_final(&a);
		finish(st, 1);
		rc = -1;
	} else if (a.id == st->session_id) {
		rc = on_session_answer(st, &a);
	} else if (st->msg_id && a.id == st->msg_id) {
		rc = on_message_answer(st, &a);
	} else if (st->end_id && a.id == st->end_id) {
		if (a.event != TB_UA_EV_PROGRESS)
			print_final(&a);
		rc = 0;
	} else {
		fprintf(stderr, "teep-tam: ignoring an answer for id %llu\n",
		        (unsigned long long)a.id);
		rc = 0;
	}
	fflush(stdout);
	free(arena);
	return rc;
}

static int receive(struct tb_state *st, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		st->rx_len = 0;
		st->rx_skip = !lws_frame_is_binary(wsi);
	}
	if (!st->rx_skip) {
		if (len > RX_MAX - st->rx_len) {
			fprintf(stderr, "teep-tam: ignoring an answer larger than %d bytes\n",
			        RX_MAX);
			st->rx_skip = 1;
		} else {
			memcpy(st->rx + st->rx_len, in, len);
			st->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) || st->rx_skip)
		return 0;
	return handle_answer(st);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct tb_state *st = lws_context_user(lws_get_context(wsi));
	struct tb_ua_request r;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (st->o->token && ua_add_bearer(wsi, st->o->token, in, len))
			return -1;
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;
		if (status)
			fprintf(stderr, "teep-tam: %s refused the handshake: HTTP %u\n", st->o->url,
			        status);
		else
			fprintf(stderr, "teep-tam: cannot connect to %s: %s\n", st->o->url,
			        in ? (const char *)in : "connection failed");
		st->wsi = NULL;
		finish(st, 3);
		break;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		memset(&r, 0, sizeof(r));
		r.id = st->session_id = st->next_id++;
		r.op = TB_UA_OP_TAM_SESSION;
		r.tee = (char *)st->o->tee;
		if (send_request(st, &r))
			finish(st, 2);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!st->tx || st->finished)
			break;
		if (lws_write(wsi, st->tx + LWS_PRE, st->tx_len, LWS_WRITE_BINARY) <
		    (int)st->tx_len) {
			finish(st, 3);
			return -1;
		}
		free(st->tx);
		st->tx = NULL;
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (st->finished)
			break;
		if (receive(st, wsi, in, len)) {
			finish(st, st->finished ? st->exit_code : 3);
			return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		st->wsi = NULL;
		if (!st->finished) {
			fprintf(stderr, "teep-tam: the broker closed the connection\n");
			finish(st, 3);
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = TB_UA_SUBPROTOCOL, .callback = callback, .rx_buffer_size = 4096},
    {0},
};

static void on_connect(lws_sorted_usec_list_t *sul)
{
	struct tb_state *st = lws_container_of(sul, struct tb_state, sul_connect);
	struct lws_client_connect_info i;

	ua_target_connect_info(&st->target, st->ctx, &st->wsi, &i);
	if (!lws_client_connect_via_info(&i)) {
		fprintf(stderr, "teep-tam: cannot connect to %s\n", st->o->url);
		finish(st, 3);
	}
}

static void on_timeout(lws_sorted_usec_list_t *sul)
{
	struct tb_state *st = lws_container_of(sul, struct tb_state, sul_timeout);

	fprintf(stderr, "teep-tam: no end of the tam-session within %u s\n", st->o->timeout_s);
	finish(st, 5);
}

int tam_via_broker(struct tam_core *core, const struct tam_broker_opts *o)
{
	struct lws_context_creation_info info;
	struct tb_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return 3;
	st->o = o;
	st->core = core;
	st->next_id = 1;
	st->rx = malloc(RX_MAX);
	if (!st->rx || ua_target_parse(&st->target, o->url)) {
		if (st->rx)
			fprintf(stderr, "teep-tam: bad broker URL '%s' (want ws://HOST:PORT/)\n",
			        o->url);
		free(st->rx);
		free(st);
		return 2;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = st;
	if (st->target.tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	st->ctx = lws_create_context(&info);
	if (!st->ctx) {
		free(st->rx);
		free(st);
		return 3;
	}
	lws_sul_schedule(st->ctx, 0, &st->sul_connect, on_connect, 1);
	lws_sul_schedule(st->ctx, 0, &st->sul_timeout, on_timeout,
	                 (lws_usec_t)o->timeout_s * LWS_US_PER_SEC);
	while (!st->finished && lws_service(st->ctx, 0) >= 0)
		;
	if (st->wsi)
		lws_set_timeout(st->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	lws_context_destroy(st->ctx);
	rc = st->finished ? st->exit_code : 3;
	free(st->tx);
	free(st->rx);
	free(st);
	return rc;
}
