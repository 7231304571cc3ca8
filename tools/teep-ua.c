/*
 * teep-ua: the command-line client of the app API (docs/ua-api.md).
 *
 * It does what an app does: open a websocket with subprotocol
 * "teep-broker.v1", send one request, print the progress events as they
 * come and stop at the final answer. The exit code tells the outcome, so
 * scripts and tests can use it:
 *
 *   0 done   1 error answer   2 usage   3 cannot connect, or the connection
 *   ended before the final answer   4 busy   5 timeout
 *
 * With --token (or --token-file) the handshake carries
 * `Authorization: Bearer TOKEN`, for a broker with the auth-token plugin; a
 * refused handshake is reported with its HTTP status.
 *
 * --raw-hex sends bytes of its own as frames (a test aid); given several
 * times, the frames go out on one connection, each once the one before has
 * its final answer, or all at once with --pipeline.
 *
 * Everything runs in one lws_service() loop; the overall timeout (and, with
 * --raw-hex, the silence timeout) are lws_sul timers, so the program cannot
 * hang whatever the broker does.
 */
#include "tb_log.h"
#include "tb_teep.h"
#include "tb_uaproto.h"
#include "tb_util.h"
#include "ua_client.h"

#include <getopt.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ua_exit {
	UA_EXIT_DONE = 0,
	UA_EXIT_ERROR = 1,
	UA_EXIT_USAGE = 2,
	UA_EXIT_CONNECT = 3,
	UA_EXIT_BUSY = 4,
	UA_EXIT_TIMEOUT = 5
};

#define UA_DEFAULT_URL     "ws://127.0.0.1:8470/"
#define UA_DEFAULT_TIMEOUT 120
#define UA_RAW_SILENCE_S   5
#define UA_REQUEST_ID      1
#define UA_RX_MAX          16384 /* answers are < 1 KiB; leave room for later versions */
#define UA_RAW_MAX         (1024 * 1024)
#define UA_RAW_FRAMES      8 /* --raw-hex given at most this often */

struct ua_opts {
	const char *url;
	const char *tee;
	const char *tam;
	const char *raw_hex[UA_RAW_FRAMES];
	unsigned n_raw;
	int pipeline;       /* --pipeline: send every raw frame at once */
	const char *token;  /* --token, or what --token-file held */
	const char *origin; /* --origin: as a browser page would send it */
	const char *ca;     /* --ca: trust only these CAs for wss:// */
	const char *cert;   /* --cert, --key: a client certificate for wss:// */
	const char *key;
	char token_buf[UA_TOKEN_MAX + 1];
	unsigned timeout_s;
	int quiet;
	int json;
	enum tb_ua_op op;
	const char *component;
};

/* Everything one run needs; reached from callbacks through the context's
 * user pointer. */
struct ua_state {
	const struct ua_opts *o;
	struct lws_context *ctx;
	struct lws *wsi;
	/* the frames to send, each with LWS_PRE bytes of headroom: the
	 * request, or the --raw-hex frames */
	uint8_t *frame[UA_RAW_FRAMES];
	size_t frame_len[UA_RAW_FRAMES];
	unsigned n_frames;
	unsigned sent;
	unsigned finals; /* final answers received */
	int finished;
	int exit_code;
	uint64_t t0_ms; /* when the request went out */

	struct ua_target target; /* cut out of a copy of the URL */

	uint8_t rx[UA_RX_MAX];
	size_t rx_len;
	int rx_skip; /* the frame being received is not usable */

	lws_sorted_usec_list_t sul_connect;
	lws_sorted_usec_list_t sul_timeout;
	lws_sorted_usec_list_t sul_silence;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: teep-ua [--url URL] [--tee NAME] [--tam URI] [--timeout SECONDS]\n"
	        "               [--token TOKEN | --token-file FILE] [--origin HOST[:PORT]]\n"
	        "               [--ca FILE] [--cert FILE --key FILE] [--quiet] [--json]\n"
	        "               request-ta COMPONENT\n"
	        "       teep-ua [options] unrequest-ta COMPONENT\n"
	        "       teep-ua [options] policy-check\n"
	        "       teep-ua --raw-hex HEX [--raw-hex HEX...] [--pipeline] [--url URL]\n"
	        "               [--timeout SECONDS] [--json]\n"
	        "\n"
	        "Asks a TEEP Broker (teep-brokerd) over its app API to install or remove a\n"
	        "Trusted Component, or to check policy with the TAM.\n"
	        "\n"
	        "  --url URL          broker websocket (default " UA_DEFAULT_URL ")\n"
	        "  --tee NAME         the TEE to use (default: the broker's first)\n"
	        "  --tam URI          suggest a TAM to the Agent (http:// or https://)\n"
	        "  --timeout SECONDS  give up after this long (default %d)\n"
	        "  --token TOKEN      send \"Authorization: Bearer TOKEN\" in the handshake\n"
	        "  --token-file FILE  the same, with the token read from FILE's first line\n"
	        "                     (keeps it out of the process list)\n"
	        "  --ca FILE          wss://: trust only the CAs in FILE (PEM) for the\n"
	        "                     broker's certificate (default: the system's CAs)\n"
	        "  --cert FILE        wss://: present this client certificate (PEM; with\n"
	        "                     --key, its private key)\n"
	        "  --key FILE         the private key of --cert (PEM)\n"
	        "  --origin HOST[:PORT]  send \"Origin: http://HOST[:PORT]\" as a browser page\n"
	        "                     would (a test aid for [listener] allow_origins; none\n"
	        "                     is sent by default)\n"
	        "  --quiet            print only the final answer\n"
	        "  --json             print each answer as one JSON object per line\n"
	        "  --raw-hex HEX      send these bytes as one binary frame, print every\n"
	        "                     answer, stop at the first final one or after %d s\n"
	        "                     of silence (a test aid). Given up to %d times: the\n"
	        "                     frames go out on one connection, each once the one\n"
	        "                     before has its final answer, and the run stops at\n"
	        "                     as many final answers as frames\n"
	        "  --pipeline         with several --raw-hex: send them all at once\n"
	        "\n"
	        "COMPONENT is a Trusted Component id: segments joined by '/', \"0x...\" for\n"
	        "hex, or a bare UUID for the draft's ['TEEP-Device','SecureFS',UUID,'ta'].\n"
	        "\n"
	        "Exit codes: 0 done, 1 error answer, 2 usage, 3 cannot connect or\n"
	        "connection lost, 4 busy, 5 timeout.\n",
	        UA_DEFAULT_TIMEOUT, UA_RAW_SILENCE_S, UA_RAW_FRAMES);
}

/* ---- output ------------------------------------------------------------ */

static double seconds_since(uint64_t t0_ms)
{
	return (double)(tb_now_ms() - t0_ms) / 1000.0;
}

static const char *event_name(enum tb_ua_event ev)
{
	switch (ev) {
	case TB_UA_EV_PROGRESS:
		return "progress";
	case TB_UA_EV_DONE:
		return "done";
	case TB_UA_EV_ERROR:
		return "error";
	case TB_UA_EV_BUSY:
		return "busy";
	}
	return "unknown";
}

/* Texts come from the broker, validated as UTF-8; JSON needs only the
 * quote, the backslash and control characters escaped. */
static void json_string(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":\"", key);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_json(const struct ua_state *st, const struct tb_ua_answer *a)
{
	printf("{\"t\":%.3f", seconds_since(st->t0_ms));
	if (a->has_id)
		printf(",\"id\":%llu", (unsigned long long)a->id);
	else
		printf(",\"id\":null");
	printf(",\"event\":\"%s\"", event_name(a->event));
	if (a->step)
		json_string(stdout, "step", a->step);
	if (a->result)
		json_string(stdout, "result", a->result);
	if (a->event == TB_UA_EV_ERROR)
		printf(",\"code\":%d,\"name\":\"%s\"", a->code, tb_ua_code_name(a->code));
	if (a->reason)
		json_string(stdout, "reason", a->reason);
	if (a->event == TB_UA_EV_BUSY)
		printf(",\"retry-after\":%llu", (unsigned long long)a->retry_after_ms);
	if (a->detail)
		json_string(stdout, "detail", a->detail);
	printf("}\n");
}

static void print_text(const struct ua_state *st, const struct tb_ua_answer *a)
{
	switch (a->event) {
	case TB_UA_EV_PROGRESS:
		printf("[%7.3fs] progress %s%s%s\n", seconds_since(st->t0_ms), a->step,
		       a->detail ? " " : "", a->detail ? a->detail : "");
		break;
	case TB_UA_EV_DONE:
		printf("done: %s%s%s%s\n", a->result, a->detail ? " (" : "",
		       a->detail ? a->detail : "", a->detail ? ")" : "");
		break;
	case TB_UA_EV_ERROR:
		printf("error %d %s: %s\n", a->code, tb_ua_code_name(a->code),
		       a->reason ? a->reason : "");
		break;
	case TB_UA_EV_BUSY:
		printf("busy: retry after %llu ms%s%s%s\n", (unsigned long long)a->retry_after_ms,
		       a->reason ? " (" : "", a->reason ? a->reason : "", a->reason ? ")" : "");
		break;
	}
}

/* ---- the run ----------------------------------------------------------- */

static void finish(struct ua_state *st, int code)
{
	if (st->finished)
		return;
	st->finished = 1;
	st->exit_code = code;
	lws_sul_cancel(&st->sul_timeout);
	lws_sul_cancel(&st->sul_silence);
	/* Timers run before lws_service() polls; without a wake-up the poll
	 * would sleep until the next event, which may be seconds away. */
	lws_cancel_service(st->ctx);
}

static void on_timeout(lws_sorted_usec_list_t *sul)
{
	struct ua_state *st = lws_container_of(sul, struct ua_state, sul_timeout);

	fprintf(stderr, "teep-ua: no final answer within %u s\n", st->o->timeout_s);
	finish(st, UA_EXIT_TIMEOUT);
}

static void on_silence(lws_sorted_usec_list_t *sul)
{
	struct ua_state *st = lws_container_of(sul, struct ua_state, sul_silence);

	fprintf(stderr, "teep-ua: nothing received for %d s\n", UA_RAW_SILENCE_S);
	finish(st, UA_EXIT_TIMEOUT);
}

static void arm_silence(struct ua_state *st)
{
	if (st->o->n_raw)
		lws_sul_schedule(st->ctx, 0, &st->sul_silence, on_silence,
		                 (lws_usec_t)UA_RAW_SILENCE_S * LWS_US_PER_SEC);
}

static void on_connect(lws_sorted_usec_list_t *sul)
{
	struct ua_state *st = lws_container_of(sul, struct ua_state, sul_connect);
	struct lws_client_connect_info i;

	ua_target_connect_info(&st->target, st->ctx, &st->wsi, &i);
	i.origin = st->o->origin; /* --origin; none by default */
	if (!lws_client_connect_via_info(&i)) {
		fprintf(stderr, "teep-ua: cannot connect to %s\n", st->o->url);
		finish(st, UA_EXIT_CONNECT);
	}
}

/* One whole answer frame. Returns nonzero when it was the final one. */
static int handle_answer(struct ua_state *st)
{
	struct tb_ua_answer a;
	char arena[4 * (TB_UA_MAX_TEXT + 1)];
	int rc = tb_ua_answer_decode(st->rx, st->rx_len, &a, arena, sizeof(arena));

	if (rc == TB_ERR_UNSUP) {
		/* an event of a later version of the API: not ours to judge */
		if (!st->o->quiet)
			fprintf(stderr, "teep-ua: ignoring an answer with an unknown event\n");
		return 0;
	}
	if (rc != TB_OK) {
		fprintf(stderr, "teep-ua: the broker sent a malformed answer (%d)\n", rc);
		finish(st, UA_EXIT_CONNECT);
		return 1;
	}
	/* With one request in flight an answer about another id is stray;
	 * an answer with a null id is about our frame. Raw frames may carry
	 * any id. */
	if (!st->o->n_raw && a.has_id && a.id != UA_REQUEST_ID) {
		fprintf(stderr, "teep-ua: ignoring an answer for id %llu\n",
		        (unsigned long long)a.id);
		return 0;
	}
	if (a.event == TB_UA_EV_PROGRESS && st->o->quiet)
		return 0;
	if (st->o->json)
		print_json(st, &a);
	else
		print_text(st, &a);
	fflush(stdout);
	int code;
	switch (a.event) {
	case TB_UA_EV_DONE:
		code = UA_EXIT_DONE;
		break;
	case TB_UA_EV_ERROR:
		code = UA_EXIT_ERROR;
		break;
	case TB_UA_EV_BUSY:
		code = UA_EXIT_BUSY;
		break;
	default:
		return 0;
	}
	/* one final answer per frame: the run ends with the last one, and
	 * its code is the exit code */
	if (++st->finals < st->n_frames) {
		if (st->wsi && st->sent < st->n_frames)
			lws_callback_on_writable(st->wsi);
		return 0;
	}
	finish(st, code);
	return 1;
}

/* Collect the fragments of one message; its answer is handled once the
 * last one arrived. Returns nonzero when the connection should close. */
static int receive(struct ua_state *st, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		st->rx_len = 0;
		st->rx_skip = !lws_frame_is_binary(wsi);
		if (st->rx_skip)
			fprintf(stderr, "teep-ua: ignoring a text frame from the broker\n");
	}
	if (!st->rx_skip) {
		if (len > sizeof(st->rx) - st->rx_len) {
			fprintf(stderr, "teep-ua: ignoring an answer larger than %d bytes\n",
			        UA_RX_MAX);
			st->rx_skip = 1;
		} else {
			memcpy(st->rx + st->rx_len, in, len);
			st->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return 0;
	arm_silence(st);
	if (st->rx_skip)
		return 0;
	return handle_answer(st);
}

static int ua_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
	struct ua_state *st = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (st->o->token && ua_add_bearer(wsi, st->o->token, in, len)) {
			fprintf(stderr, "teep-ua: the token does not fit the handshake\n");
			return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
		unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;
		if (status == 401)
			fprintf(
			    stderr,
			    "teep-ua: %s refused the handshake: HTTP 401, not authorized (%s)\n",
			    st->o->url, st->o->token ? "the token is not accepted" : "no --token");
		else if (status >= 300)
			fprintf(stderr, "teep-ua: %s refused the handshake: HTTP %u\n", st->o->url,
			        status);
		else
			fprintf(stderr, "teep-ua: cannot connect to %s: %s\n", st->o->url,
			        in ? (const char *)in : "connection failed");
		st->wsi = NULL;
		finish(st, UA_EXIT_CONNECT);
		break;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		unsigned i = st->sent;
		/* the next frame once the one before has its final answer (all at
		 * once with --pipeline); lws takes one write per callback */
		if (st->finished || i >= st->n_frames || (!st->o->pipeline && st->finals < i))
			break;
		if (lws_write(wsi, st->frame[i] + LWS_PRE, st->frame_len[i], LWS_WRITE_BINARY) <
		    (int)st->frame_len[i]) {
			fprintf(stderr, "teep-ua: cannot send the request\n");
			finish(st, UA_EXIT_CONNECT);
			return -1;
		}
		if (!st->sent)
			st->t0_ms = tb_now_ms();
		st->sent++;
		arm_silence(st);
		if (st->o->pipeline && st->sent < st->n_frames)
			lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (st->finished)
			break;
		if (receive(st, wsi, in, len)) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		st->wsi = NULL;
		if (!st->finished) {
			fprintf(stderr, "teep-ua: the broker closed the connection before the "
			                "final answer\n");
			finish(st, UA_EXIT_CONNECT);
		}
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* gone without CONNECTION_ERROR or CLOSED: lws 4.1 ends so a
		 * wss:// connection whose TLS 1.3 client certificate the broker
		 * refused after the client's side of the handshake was done */
		if (st->wsi == wsi && !st->finished) {
			st->wsi = NULL;
			fprintf(stderr,
			        "teep-ua: cannot connect to %s: the connection closed before the "
			        "websocket opened (for wss://: was the client certificate "
			        "refused?)\n",
			        st->o->url);
			finish(st, UA_EXIT_CONNECT);
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols ua_protocols[] = {
    {
        .name = TB_UA_SUBPROTOCOL,
        .callback = ua_callback,
        .rx_buffer_size = 4096,
    },
    {0},
};

/* ---- setup ------------------------------------------------------------- */

/* Say which part of the request breaks the API's limits, by encoding each
 * part on its own: the codec's rules are the only ones. */
static void explain_invalid(const struct ua_opts *o, const struct tb_ua_request *full)
{
	struct tb_ua_request r = {.id = UA_REQUEST_ID, .op = TB_UA_OP_POLICY_CHECK};
	uint8_t *buf = NULL;
	size_t len;

	r.tee = (char *)o->tee;
	if (o->tee && tb_ua_request_encode(&r, &buf, &len) != TB_OK)
		fprintf(stderr, "teep-ua: --tee must be 1..%d of A-Z a-z 0-9 _ -\n",
		        TB_UA_MAX_NAME);
	free(buf);
	buf = NULL;
	r.tee = NULL;
	r.tam_uri = (char *)o->tam;
	if (o->tam && tb_ua_request_encode(&r, &buf, &len) != TB_OK)
		fprintf(stderr,
		        "teep-ua: --tam must be an http:// or https:// URI of at most %d "
		        "bytes\n",
		        TB_UA_MAX_URI);
	free(buf);
	buf = NULL;
	r.tam_uri = NULL;
	r.op = full->op;
	r.component = full->component;
	if (full->component.n && tb_ua_request_encode(&r, &buf, &len) != TB_OK)
		fprintf(stderr, "teep-ua: COMPONENT must have 1..8 segments of 1..64 bytes\n");
	free(buf);
}

/* Frame i, with LWS_PRE bytes of headroom for lws_write(): the request, or
 * the i-th --raw-hex. */
static int build_frame(struct ua_state *st, unsigned i)
{
	const struct ua_opts *o = st->o;
	struct tb_ua_request req = {.id = UA_REQUEST_ID, .op = o->op};
	uint8_t *body = NULL;
	size_t len = 0;
	int rc;

	if (o->n_raw) {
		rc = tb_hex_decode(o->raw_hex[i], strlen(o->raw_hex[i]), &body, &len);
		if (rc != TB_OK || len == 0 || len > UA_RAW_MAX) {
			fprintf(stderr, "teep-ua: --raw-hex needs 1..%d bytes of hex digits\n",
			        UA_RAW_MAX);
			free(body);
			return -1;
		}
	} else {
		if (o->component && tb_component_id_parse(o->component, &req.component) != TB_OK) {
			fprintf(stderr, "teep-ua: cannot parse the component id '%s'\n",
			        o->component);
			return -1;
		}
		req.tam_uri = (char *)o->tam;
		req.tee = (char *)o->tee;
		rc = tb_ua_request_encode(&req, &body, &len);
		if (rc == TB_ERR_INVAL)
			explain_invalid(o, &req);
		tb_component_id_clear(&req.component);
		if (rc != TB_OK) {
			if (rc != TB_ERR_INVAL)
				fprintf(stderr, "teep-ua: cannot build the request (%d)\n", rc);
			return -1;
		}
	}
	st->frame[i] = malloc(LWS_PRE + len);
	if (!st->frame[i]) {
		free(body);
		fprintf(stderr, "teep-ua: out of memory\n");
		return -1;
	}
	memcpy(st->frame[i] + LWS_PRE, body, len);
	st->frame_len[i] = len;
	free(body);
	return 0;
}

static int parse_op(struct ua_opts *o, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum tb_ua_op op;
		int needs_component;
	} ops[] = {
	    {"request-ta", TB_UA_OP_REQUEST_TA, 1},
	    {"unrequest-ta", TB_UA_OP_UNREQUEST_TA, 1},
	    {"policy-check", TB_UA_OP_POLICY_CHECK, 0},
	};

	if (o->n_raw)
		return argc == 0 && !o->tee && !o->tam ? 0 : -1;
	if (argc < 1 || o->pipeline)
		return -1;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(argv[0], ops[i].name) != 0)
			continue;
		if (argc != 1 + ops[i].needs_component)
			return -1;
		o->op = ops[i].op;
		o->component = ops[i].needs_component ? argv[1] : NULL;
		return 0;
	}
	return -1;
}

/* The first line of path, without its line end, into o->token_buf. */
static int read_token_file(struct ua_opts *o, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;

	if (tb_read_file(path, 4 * UA_TOKEN_MAX, &buf, &len) != TB_OK) {
		fprintf(stderr, "teep-ua: cannot read the token file %s\n", path);
		return -1;
	}
	while (n < len && buf[n] != '\n' && buf[n] != '\r')
		n++;
	if (n > UA_TOKEN_MAX)
		n = UA_TOKEN_MAX + 1; /* refused below */
	else
		memcpy(o->token_buf, buf, n);
	o->token_buf[n <= UA_TOKEN_MAX ? n : 0] = 0;
	memset(buf, 0, len);
	free(buf);
	o->token = o->token_buf;
	return 0;
}

/* Whole seconds, digits only: "1e3", "-1" and " 5" are mistakes. */
static int parse_seconds(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -1;
	for (; *s; s++)
		*v = *v * 10 + (uint64_t)(*s - '0');
	return 0;
}

static int parse_args(struct ua_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, 'u'},     {"tee", required_argument, NULL, 'e'},
	    {"tam", required_argument, NULL, 'm'},     {"timeout", required_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},         {"json", no_argument, NULL, 'j'},
	    {"raw-hex", required_argument, NULL, 'x'}, {"pipeline", no_argument, NULL, 'P'},
	    {"token", required_argument, NULL, 'k'},   {"token-file", required_argument, NULL, 'K'},
	    {"origin", required_argument, NULL, 'O'},  {"ca", required_argument, NULL, 'A'},
	    {"cert", required_argument, NULL, 'C'},    {"key", required_argument, NULL, 'Y'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	o->url = UA_DEFAULT_URL;
	o->timeout_s = UA_DEFAULT_TIMEOUT;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o->url = optarg;
			break;
		case 'e':
			o->tee = optarg;
			break;
		case 'm':
			o->tam = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, &v) || v < 1 || v > 86400) {
				fprintf(stderr, "teep-ua: --timeout takes 1..86400 seconds\n");
				return -1;
			}
			o->timeout_s = (unsigned)v;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'x':
			if (o->n_raw == UA_RAW_FRAMES) {
				fprintf(stderr, "teep-ua: --raw-hex at most %d times\n",
				        UA_RAW_FRAMES);
				return -1;
			}
			o->raw_hex[o->n_raw++] = optarg;
			break;
		case 'P':
			o->pipeline = 1;
			break;
		case 'k':
			o->token = optarg;
			break;
		case 'K':
			if (read_token_file(o, optarg))
				return -1;
			break;
		case 'O':
			o->origin = optarg;
			break;
		case 'A':
			o->ca = optarg;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'Y':
			o->key = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(UA_EXIT_DONE);
		default:
			return -1;
		}
	}
	if (o->token && !ua_token_ok(o->token)) {
		fprintf(stderr, "teep-ua: a token is 1..%d printable characters without spaces\n",
		        UA_TOKEN_MAX);
		return -1;
	}
	if (!o->cert != !o->key) {
		fprintf(stderr, "teep-ua: --cert and --key go together\n");
		return -1;
	}
	if (parse_op(o, argc - optind, argv + optind)) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int run(struct ua_state *st)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ua_protocols;
	info.user = st;
	info.fd_limit_per_thread = 1 + 1 + 1;
	if (st->target.tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		/* --ca replaces the system's CAs rather than adding to them */
		if (st->o->ca) {
			info.client_ssl_ca_filepath = st->o->ca;
			info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
		}
		info.client_ssl_cert_filepath = st->o->cert;
		info.client_ssl_private_key_filepath = st->o->key;
	}
	st->ctx = lws_create_context(&info);
	if (!st->ctx) {
		fprintf(stderr, "teep-ua: cannot create the websocket context\n");
		return UA_EXIT_CONNECT;
	}
	/* Connect from inside the loop, like every later step. */
	lws_sul_schedule(st->ctx, 0, &st->sul_connect, on_connect, 1);
	lws_sul_schedule(st->ctx, 0, &st->sul_timeout, on_timeout,
	                 (lws_usec_t)st->o->timeout_s * LWS_US_PER_SEC);
	while (!st->finished && lws_service(st->ctx, 0) >= 0)
		;
	/* A timer ended the run with the connection still open: drop it
	 * now, rather than let the context's teardown wait on a close
	 * handshake with a broker that may not answer. */
	if (st->wsi)
		lws_set_timeout(st->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	lws_context_destroy(st->ctx);
	return st->finished ? st->exit_code : UA_EXIT_CONNECT;
}

int main(int argc, char **argv)
{
	struct tb_log_conf lc = {.level = TB_LOG_ERR};
	struct ua_opts o = {0};
	struct ua_state *st;
	int rc;

	if (parse_args(&o, argc, argv))
		return UA_EXIT_USAGE;
	/* lws's own chatter would mix with the answers; keep its errors. */
	tb_log_setup("teep-ua", &lc);
	tb_log_bridge_lws(TB_LOG_ERR);

	st = calloc(1, sizeof(*st));
	if (!st)
		return UA_EXIT_CONNECT;
	st->o = &o;
	st->t0_ms = tb_now_ms();
	if (ua_target_parse(&st->target, o.url)) {
		fprintf(stderr, "teep-ua: bad URL '%s' (want ws://HOST:PORT/PATH)\n", o.url);
		free(st);
		return UA_EXIT_USAGE;
	}
	if ((o.ca || o.cert) && !st->target.tls) {
		fprintf(stderr, "teep-ua: --ca, --cert and --key are for wss:// URLs\n");
		free(st);
		return UA_EXIT_USAGE;
	}
	st->n_frames = o.n_raw ? o.n_raw : 1;
	rc = UA_EXIT_USAGE;
	for (unsigned i = 0; i < st->n_frames; i++)
		if (build_frame(st, i))
			goto out;
	rc = run(st);
out:
	for (unsigned i = 0; i < st->n_frames; i++)
		free(st->frame[i]);
	free(st);
	return rc;
}
