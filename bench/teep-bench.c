/*
 * teep-bench: load generator for teep-brokerd's app side (loopback only).
 *
 *   teep-bench [--url URL] [--pid PID] idle N [HOLD_SECONDS]
 *       open N idle app connections, report the broker's RSS before and
 *       after (from /proc/PID/status) and the cost per connection
 *   teep-bench [--url URL] rtt N KIND [COMPONENT]
 *       N sequential round trips on one connection; KIND is
 *         malformed     a 1-byte frame the broker answers at once (an error):
 *                       the bare websocket round trip through the broker
 *         request-ta    request-ta COMPONENT (installed already: the call
 *                       goes to the TEE worker and back, no TAM traffic)
 *         install       request-ta then unrequest-ta COMPONENT, alternating:
 *                       full TEEP exchanges with the TAM
 *       prints min/p50/p90/p99/max in microseconds; with --wait-close, keeps
 *       the connection after the last round until the broker closes it
 *   teep-bench [--url URL] burst N request-ta COMPONENT
 *       N requests (ids 1..N) sent back to back on one connection without
 *       waiting; prints each final answer as it comes and a summary, and
 *       fails unless every id got exactly one
 *
 * Every run is bounded: at most 60000 connections, 1000000 round trips, and
 * an overall deadline (300 s, or --deadline SECONDS) after which it stops by
 * itself. A close by the broker is reported with its websocket status.
 */
#include "tb_teep.h"
#include "tb_uaproto.h"
#include "tb_util.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS     60000
#define MAX_ROUNDS    1000000
#define DEADLINE_S    300 /* default of --deadline */
#define CONNECT_BURST 256 /* connection attempts in flight at once */

enum mode { M_IDLE, M_RTT, M_BURST };
enum kind { K_MALFORMED, K_REQUEST_TA, K_INSTALL };

struct bench {
	int distinct; /* burst: each request names its own component (no coalescing) */
	struct lws_context *ctx;
	enum mode mode;
	enum kind kind;
	const char *host, *path;
	int port;
	long pid;
	unsigned target, hold_s;
	unsigned attempted, established, failed, closed;
	struct tb_component_id comp;
	/* rtt */
	struct lws *wsi;
	unsigned rounds, done_rounds, errors;
	uint64_t *lat_us;
	struct timespec t_send;
	int waiting;
	int stop;
	uint64_t start_ms;
	unsigned deadline_s;
	int wait_close;   /* rtt: stay until the broker closes */
	int close_status; /* status of a close by the broker, 0: none */
	int reported_up;  /* idle: "all up" printed */
	/* burst */
	unsigned sent, finals, dup_finals;
	unsigned n_done, n_error, n_busy;
	uint8_t *got; /* final answers per id */
	uint64_t burst_t0_us;
	lws_sorted_usec_list_t tick;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static void connect_one(struct bench *b)
{
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof(i));
	i.context = b->ctx;
	i.address = b->host;
	i.port = b->port;
	i.path = b->path;
	i.host = b->host;
	i.origin = NULL; /* a native app sends no Origin */
	i.protocol = TB_UA_SUBPROTOCOL;
	b->attempted++;
	if (!lws_client_connect_via_info(&i))
		b->failed++;
}

static int send_request(struct bench *b, struct lws *wsi)
{
	uint8_t buf[LWS_PRE + 512];
	uint8_t *frame = NULL;
	size_t len = 0;

	if (b->kind == K_MALFORMED) {
		buf[LWS_PRE] = 0xff;
		len = 1;
	} else {
		struct tb_ua_request r = {.id = b->done_rounds + 1, .op = TB_UA_OP_REQUEST_TA};
		if (b->kind == K_INSTALL && (b->done_rounds & 1))
			r.op = TB_UA_OP_UNREQUEST_TA;
		r.component = b->comp;
		if (tb_ua_request_encode(&r, &frame, &len) || len > 512) {
			free(frame);
			return -1;
		}
		memcpy(buf + LWS_PRE, frame, len);
		free(frame);
	}
	clock_gettime(CLOCK_MONOTONIC, &b->t_send);
	b->waiting = 1;
	return lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_BINARY) < (int)len ? -1 : 0;
}

/* Burst: the next request, ids 1..N; one write per WRITEABLE, as lws wants. */
static int send_burst(struct bench *b, struct lws *wsi)
{
	uint8_t buf[LWS_PRE + 512];
	uint8_t *frame = NULL;
	size_t len = 0;
	struct tb_ua_request r = {.id = b->sent + 1, .op = TB_UA_OP_REQUEST_TA};
	struct tb_component_id own = {0};
	char suffix[32];
	int rc;

	r.component = b->comp;
	if (b->distinct) {
		/* the last segment with "-<id>" appended */
		struct tb_buf *last;
		int n = snprintf(suffix, sizeof(suffix), "-%llu", (unsigned long long)r.id);

		if (tb_component_id_copy(&own, &b->comp) != 0)
			return -1;
		last = &own.seg[own.n - 1];
		uint8_t *p = realloc(last->ptr, last->len + (size_t)n);
		if (!p) {
			tb_component_id_clear(&own);
			return -1;
		}
		memcpy(p + last->len, suffix, (size_t)n);
		last->ptr = p;
		last->len += (size_t)n;
		r.component = own;
	}
	rc = tb_ua_request_encode(&r, &frame, &len);
	tb_component_id_clear(&own);
	if (rc || len > 512) {
		free(frame);
		return -1;
	}
	memcpy(buf + LWS_PRE, frame, len);
	free(frame);
	if (!b->sent)
		b->burst_t0_us = now_us();
	if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_BINARY) < (int)len)
		return -1;
	if (++b->sent < b->rounds)
		lws_callback_on_writable(wsi);
	return 0;
}

static void burst_answer(struct bench *b, const struct tb_ua_answer *a)
{
	unsigned long long ms = (now_us() - b->burst_t0_us) / 1000;

	if (a->event == TB_UA_EV_PROGRESS)
		return;
	if (!a->has_id || a->id < 1 || a->id > b->rounds) {
		printf("answer for an unknown id after %llu ms\n", ms);
		b->errors++;
		return;
	}
	switch (a->event) {
	case TB_UA_EV_DONE:
		b->n_done++;
		printf("answer id %llu done %s after %llu ms\n", (unsigned long long)a->id,
		       a->result ? a->result : "", ms);
		break;
	case TB_UA_EV_BUSY:
		b->n_busy++;
		printf("answer id %llu busy retry-after %llu after %llu ms\n",
		       (unsigned long long)a->id, (unsigned long long)a->retry_after_ms, ms);
		break;
	default:
		b->n_error++;
		printf("answer id %llu error %d after %llu ms\n", (unsigned long long)a->id,
		       a->code, ms);
		break;
	}
	fflush(stdout); /* scripts watch these lines as they come */
	if (b->got[a->id - 1]++)
		b->dup_finals++;
	else
		b->finals++;
	if (b->finals == b->rounds)
		b->stop = 1;
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct bench *b = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		b->established++;
		if (b->mode != M_IDLE) {
			b->wsi = wsi;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const uint8_t *p = in;
			b->close_status = p[0] << 8 | p[1];
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		b->failed++;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		b->closed++;
		if (b->mode != M_IDLE) {
			b->wsi = NULL;
			b->stop = 1;
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (b->mode == M_RTT && !b->waiting && b->done_rounds < b->rounds)
			return send_request(b, wsi);
		if (b->mode == M_BURST && b->sent < b->rounds)
			return send_burst(b, wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		struct tb_ua_answer a;
		char arena[1024];
		if (b->mode == M_IDLE || (b->mode == M_RTT && !b->waiting))
			break;
		if (tb_ua_answer_decode(in, len, &a, arena, sizeof(arena)))
			break;
		if (b->mode == M_BURST) {
			burst_answer(b, &a);
			break;
		}
		if (a.event == TB_UA_EV_PROGRESS)
			break;
		uint64_t t1 = now_us();
		uint64_t t0 =
		    (uint64_t)b->t_send.tv_sec * 1000000u + (uint64_t)b->t_send.tv_nsec / 1000u;
		int expected =
		    b->kind == K_MALFORMED ? a.event == TB_UA_EV_ERROR : a.event == TB_UA_EV_DONE;
		if (!expected)
			b->errors++;
		b->lat_us[b->done_rounds++] = t1 - t0;
		b->waiting = 0;
		if (b->done_rounds >= b->rounds)
			b->stop = !b->wait_close;
		else
			lws_callback_on_writable(wsi);
		break;
	}
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {"bench", cb, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tick(lws_sorted_usec_list_t *sul)
{
	struct bench *b = lws_container_of(sul, struct bench, tick);
	if (tb_now_ms() - b->start_ms > b->deadline_s * 1000u) {
		fprintf(stderr, "teep-bench: deadline reached, stopping\n");
		b->stop = 1;
	}
	if (b->mode == M_IDLE) {
		unsigned pending = b->attempted - b->established - b->failed;
		while (b->attempted < b->target && pending < CONNECT_BURST) {
			connect_one(b);
			pending++;
		}
	}
	lws_sul_schedule(b->ctx, 0, &b->tick, tick, 10 * LWS_US_PER_MS);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
	return a < c ? -1 : a > c;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: teep-bench [--url ws://127.0.0.1:8470/] [--deadline S] [--pid PID] idle N "
	        "[HOLD_S]\n"
	        "       teep-bench [--url URL] [--deadline S] [--wait-close] rtt N "
	        "malformed|request-ta|install [COMPONENT]\n"
	        "       teep-bench [--url URL] [--deadline S] [--distinct] burst N request-ta "
	        "COMPONENT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct bench bb;
	struct bench *b = &bb;
	char url[512] = "ws://127.0.0.1:8470/";
	int i = 1;

	b->deadline_s = DEADLINE_S;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--wait-close")) {
			b->wait_close = 1;
			i--; /* takes no value */
		} else if (!strcmp(argv[i], "--distinct")) {
			b->distinct = 1;
			i--;
		} else if (!strcmp(argv[i], "--url")) {
			snprintf(url, sizeof(url), "%s", argv[i + 1]);
		} else if (!strcmp(argv[i], "--pid")) {
			b->pid = strtol(argv[i + 1], NULL, 10);
		} else if (!strcmp(argv[i], "--deadline")) {
			b->deadline_s = (unsigned)strtoul(argv[i + 1], NULL, 10);
			if (!b->deadline_s || b->deadline_s > DEADLINE_S)
				usage();
		} else {
			usage();
		}
	}
	if (i + 1 >= argc)
		usage();
	const char *prot;
	char urlc[512];
	snprintf(urlc, sizeof(urlc), "%s", url);
	if (lws_parse_uri(urlc, &prot, &b->host, &b->port, &b->path))
		usage();
	char path[512];
	snprintf(path, sizeof(path), "/%s", b->path);
	b->path = path;

	if (!strcmp(argv[i], "idle")) {
		b->mode = M_IDLE;
		b->target = (unsigned)strtoul(argv[i + 1], NULL, 10);
		b->hold_s = i + 2 < argc ? (unsigned)strtoul(argv[i + 2], NULL, 10) : 2;
		if (!b->target || b->target > MAX_CONNS)
			usage();
	} else if (!strcmp(argv[i], "rtt") && i + 2 < argc) {
		b->mode = M_RTT;
		b->rounds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		if (!b->rounds || b->rounds > MAX_ROUNDS)
			usage();
		if (!strcmp(argv[i + 2], "malformed"))
			b->kind = K_MALFORMED;
		else if (!strcmp(argv[i + 2], "request-ta") && i + 3 < argc)
			b->kind = K_REQUEST_TA;
		else if (!strcmp(argv[i + 2], "install") && i + 3 < argc)
			b->kind = K_INSTALL;
		else
			usage();
		if (b->kind != K_MALFORMED && tb_component_id_parse(argv[i + 3], &b->comp))
			usage();
		b->lat_us = calloc(b->rounds, sizeof(*b->lat_us));
		if (!b->lat_us)
			return 1;
	} else if (!strcmp(argv[i], "burst") && i + 3 < argc &&
	           !strcmp(argv[i + 2], "request-ta")) {
		b->mode = M_BURST;
		b->rounds = (unsigned)strtoul(argv[i + 1], NULL, 10);
		if (!b->rounds || b->rounds > MAX_ROUNDS ||
		    tb_component_id_parse(argv[i + 3], &b->comp))
			usage();
		b->got = calloc(b->rounds, 1);
		if (!b->got)
			return 1;
	} else {
		usage();
	}

	if (tb_raise_nofile(b->target + 64u) < b->target + 64u)
		fprintf(
		    stderr,
		    "teep-bench: the open files limit is below %u: some connections will fail\n",
		    b->target + 64u);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = b;
	info.fd_limit_per_thread = b->target + 64;
	info.timeout_secs = 30;
	b->ctx = lws_create_context(&info);
	if (!b->ctx)
		return 1;

	long rss0 = b->pid ? rss_kib(b->pid) : -1;
	b->start_ms = tb_now_ms();
	lws_sul_schedule(b->ctx, 0, &b->tick, tick, 1);
	if (b->mode != M_IDLE)
		connect_one(b);

	uint64_t all_up_ms = 0, hold_until = 0;
	while (!b->stop && lws_service(b->ctx, 0) >= 0) {
		if (b->mode != M_IDLE && b->failed)
			break;
		if (b->mode == M_IDLE && !all_up_ms && b->established + b->failed >= b->target) {
			all_up_ms = tb_now_ms();
			hold_until = all_up_ms + b->hold_s * 1000u;
			/* scripts wait for this line before they go on */
			printf("idle: %u up, %u failed; holding them %u s\n", b->established,
			       b->failed, b->hold_s);
			fflush(stdout);
		}
		if (all_up_ms && tb_now_ms() >= hold_until)
			break;
	}

	int rc = 0;
	if (b->mode == M_IDLE) {
		long rss1 = b->pid ? rss_kib(b->pid) : -1;
		printf("idle: %u connections established, %u failed, in %llu ms\n", b->established,
		       b->failed, (unsigned long long)(all_up_ms - b->start_ms));
		if (rss0 > 0 && rss1 > 0)
			printf("idle: broker RSS %ld KiB before, %ld KiB with the connections: "
			       "%.0f bytes per connection\n",
			       rss0, rss1,
			       b->established ? (double)(rss1 - rss0) * 1024.0 / b->established
			                      : 0.0);
		rc = b->established == b->target ? 0 : 1;
	} else if (b->mode == M_BURST) {
		unsigned missing = b->rounds - b->finals;
		printf("burst: %u sent, %u done, %u error, %u busy; %u without a final answer, "
		       "%u with more than one\n",
		       b->sent, b->n_done, b->n_error, b->n_busy, missing, b->dup_finals);
		rc = b->sent == b->rounds && !missing && !b->dup_finals && !b->errors ? 0 : 1;
	} else {
		unsigned n = b->done_rounds;
		qsort(b->lat_us, n, sizeof(*b->lat_us), cmp_u64);
		if (n)
			printf(
			    "rtt %s: %u round trips, %u unexpected answers; us: min %llu p50 %llu "
			    "p90 %llu p99 %llu max %llu\n",
			    b->kind == K_MALFORMED    ? "malformed"
			    : b->kind == K_REQUEST_TA ? "request-ta"
			                              : "install",
			    n, b->errors, (unsigned long long)b->lat_us[0],
			    (unsigned long long)b->lat_us[n / 2],
			    (unsigned long long)b->lat_us[n * 9 / 10],
			    (unsigned long long)b->lat_us[n * 99 / 100],
			    (unsigned long long)b->lat_us[n - 1]);
		rc = n == b->rounds && !b->errors ? 0 : 1;
		if (b->wait_close && !b->close_status)
			rc = 1;
	}
	if (b->close_status)
		printf("closed by the broker with status %d\n", b->close_status);
	/* a connection still open is dropped now, not after a close handshake
	 * with a broker that may not answer */
	if (b->wsi)
		lws_set_timeout(b->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	lws_context_destroy(b->ctx);
	free(b->lat_us);
	free(b->got);
	tb_component_id_clear(&b->comp);
	return rc;
}
