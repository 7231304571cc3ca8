/*
 * teep-bigframe: what one big input costs teep-brokerd (loopback only).
 *
 *   teep-bigframe [--url URL] [--pid PID] [--deadline S] frame BYTES COUNT
 *       COUNT policy-check requests, one after the other, each a frame of
 *       BYTES bytes: the request and an unknown key "padding" whose value is
 *       an array of one-byte items (the API ignores it, whatever it holds)
 *   teep-bigframe [--url URL] [--pid PID] [--deadline S] policy-check COUNT
 *       COUNT plain policy-check requests, one after the other (point the
 *       broker at a TAM that answers big: teep-tam --fault tiny-items)
 *
 * Meanwhile a second connection makes ping round trips (a 1-byte frame the
 * broker answers at once with an error) back to back, for as long as the
 * big requests run: their largest latency is how long the broker's loop
 * stalled for the other apps. With --pid, the broker's peak RSS (VmHWM)
 * before and after is reported. Bounded: COUNT <= 1000, BYTES <= 64 MiB,
 * an overall deadline (default 120 s).
 */
#include "tb_uaproto.h"
#include "tb_util.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COUNT  1000
#define MAX_BYTES  (64u * 1024 * 1024)
#define MAX_PINGS  1000000
#define DEADLINE_S 120

struct big {
	struct lws_context *ctx;
	const char *host, *path;
	int port;
	long pid;
	unsigned deadline_s;
	uint64_t start_ms;
	int stop, failed;
	/* the big requests */
	struct lws *big_wsi;
	uint8_t *frame; /* LWS_PRE, then the frame */
	size_t frame_len, bytes;
	int padded;
	unsigned count, sent, answered, n_done, n_error;
	int big_waiting;
	uint64_t big_t0, big_max_us;
	/* the pings */
	struct lws *ping_wsi;
	int ping_waiting;
	uint64_t ping_t0;
	uint64_t *lat_us;
	unsigned pings;
	lws_sorted_usec_list_t tick;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A field of /proc/PID/status in KiB, -1 if unknown. */
static long status_kib(long pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			kib = strtol(line + fl + 1, NULL, 10);
	fclose(f);
	return kib;
}

/* The request with id, into b->frame: padded to b->bytes with an array of
 * one-byte items under an unknown key. */
static int build_frame(struct big *b, uint64_t id)
{
	struct tb_ua_request r = {.id = id, .op = TB_UA_OP_POLICY_CHECK};
	uint8_t *enc = NULL, *p;
	size_t len = 0, items;
	static const char key[] = "\x67padding";

	if (tb_ua_request_encode(&r, &enc, &len))
		return -1;
	if (!b->padded || b->bytes < len + 8 + 9) {
		memcpy(b->frame + LWS_PRE, enc, len);
		b->frame_len = len;
		free(enc);
		return 0;
	}
	/* the encoder writes a map of 2 (0xa2): one more pair */
	p = b->frame + LWS_PRE;
	memcpy(p, enc, len);
	p[0] = 0xa3;
	memcpy(p + len, key, 8);
	items = b->bytes - len - 8 - 9;
	p[len + 8] = 0x9b;
	for (int i = 0; i < 8; i++)
		p[len + 9 + i] = (uint8_t)((uint64_t)items >> (56 - 8 * i));
	/* every time: lws masks a client frame in place, so what was sent
	 * before is no longer zeros */
	memset(p + len + 17, 0, items);
	b->frame_len = b->bytes;
	free(enc);
	return 0;
}

static int send_big(struct big *b, struct lws *wsi)
{
	if (build_frame(b, b->sent + 1))
		return -1;
	b->sent++;
	b->big_waiting = 1;
	b->big_t0 = now_us();
	return lws_write(wsi, b->frame + LWS_PRE, b->frame_len, LWS_WRITE_BINARY) <
	               (int)b->frame_len
	           ? -1
	           : 0;
}

static int send_ping(struct big *b, struct lws *wsi)
{
	uint8_t buf[LWS_PRE + 1];

	buf[LWS_PRE] = 0xff;
	b->ping_waiting = 1;
	b->ping_t0 = now_us();
	return lws_write(wsi, buf + LWS_PRE, 1, LWS_WRITE_BINARY) < 1 ? -1 : 0;
}

static void connect_one(struct big *b, void *which)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = b->ctx;
	i.address = b->host;
	i.port = b->port;
	i.path = b->path;
	i.host = b->host;
	i.protocol = TB_UA_SUBPROTOCOL;
	i.opaque_user_data = which;
	if (!lws_client_connect_via_info(&i))
		b->failed = 1;
}

static void on_answer(struct big *b, struct lws *wsi, const struct tb_ua_answer *a)
{
	if (wsi == b->ping_wsi) {
		if (!b->ping_waiting)
			return;
		b->ping_waiting = 0;
		if (b->pings < MAX_PINGS)
			b->lat_us[b->pings++] = now_us() - b->ping_t0;
		if (b->answered < b->count)
			lws_callback_on_writable(wsi);
		return;
	}
	if (a->event == TB_UA_EV_PROGRESS || !b->big_waiting)
		return;
	uint64_t us = now_us() - b->big_t0;
	if (us > b->big_max_us)
		b->big_max_us = us;
	b->big_waiting = 0;
	b->answered++;
	if (a->event == TB_UA_EV_DONE) {
		b->n_done++;
	} else {
		b->n_error++;
		printf("big: request %u answered %s %d: %s\n", b->answered,
		       a->event == TB_UA_EV_BUSY ? "busy" : "error", a->code,
		       a->reason ? a->reason : "");
	}
	if (b->answered == b->count)
		b->stop = 1;
	else
		lws_callback_on_writable(wsi);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct big *b = lws_context_user(lws_get_context(wsi));
	int is_big = lws_get_opaque_user_data(wsi) == (void *)&b->big_wsi;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (is_big)
			b->big_wsi = wsi;
		else
			b->ping_wsi = wsi;
		/* the pings start first, the big requests once both are up */
		if (b->big_wsi && b->ping_wsi) {
			lws_callback_on_writable(b->ping_wsi);
			lws_callback_on_writable(b->big_wsi);
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (wsi == b->big_wsi || wsi == b->ping_wsi || reason != LWS_CALLBACK_CLIENT_CLOSED)
			b->failed = 1;
		if (wsi == b->big_wsi)
			b->big_wsi = NULL;
		if (wsi == b->ping_wsi)
			b->ping_wsi = NULL;
		b->stop = 1;
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (lws_send_pipe_choked(wsi)) {
			lws_callback_on_writable(wsi);
			break;
		}
		if (wsi == b->ping_wsi && !b->ping_waiting && b->answered < b->count)
			return send_ping(b, wsi);
		if (wsi == b->big_wsi && b->ping_wsi && !b->big_waiting && b->sent < b->count)
			return send_big(b, wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		struct tb_ua_answer a;
		char arena[1024];

		if (!tb_ua_answer_decode(in, len, &a, arena, sizeof(arena)))
			on_answer(b, wsi, &a);
		break;
	}
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {"bigframe", cb, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tick(lws_sorted_usec_list_t *sul)
{
	struct big *b = lws_container_of(sul, struct big, tick);

	if (tb_now_ms() - b->start_ms > b->deadline_s * 1000u) {
		fprintf(stderr, "teep-bigframe: deadline reached, stopping\n");
		b->failed = b->stop = 1;
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
	fprintf(stderr, "usage: teep-bigframe [--url ws://127.0.0.1:8470/] [--pid PID] "
	                "[--deadline S] frame BYTES COUNT\n"
	                "       teep-bigframe [--url URL] [--pid PID] [--deadline S] "
	                "policy-check COUNT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct big bb;
	struct big *b = &bb;
	char url[512] = "ws://127.0.0.1:8470/", urlc[512], path[512];
	const char *prot;
	uint64_t bytes = 0;
	int i = 1;

	b->deadline_s = DEADLINE_S;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--url"))
			snprintf(url, sizeof(url), "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--pid"))
			b->pid = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--deadline"))
			b->deadline_s = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (!b->deadline_s || b->deadline_s > 3600)
		usage();
	if (i + 2 < argc && !strcmp(argv[i], "frame")) {
		if (tb_parse_size(argv[i + 1], &bytes) || bytes < 64 || bytes > MAX_BYTES)
			usage();
		b->padded = 1;
		b->bytes = (size_t)bytes;
		b->count = (unsigned)strtoul(argv[i + 2], NULL, 10);
	} else if (i + 1 < argc && !strcmp(argv[i], "policy-check")) {
		b->bytes = 256;
		b->count = (unsigned)strtoul(argv[i + 1], NULL, 10);
	} else {
		usage();
	}
	if (!b->count || b->count > MAX_COUNT)
		usage();
	snprintf(urlc, sizeof(urlc), "%s", url);
	if (lws_parse_uri(urlc, &prot, &b->host, &b->port, &b->path))
		usage();
	snprintf(path, sizeof(path), "/%s", b->path);
	b->path = path;
	b->frame = malloc(LWS_PRE + b->bytes + 256);
	b->lat_us = calloc(MAX_PINGS, sizeof(*b->lat_us));
	if (!b->frame || !b->lat_us)
		return 1;

	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = b;
	info.timeout_secs = 30;
	b->ctx = lws_create_context(&info);
	if (!b->ctx)
		return 1;

	long hwm0 = b->pid ? status_kib(b->pid, "VmHWM") : -1;
	b->start_ms = tb_now_ms();
	lws_sul_schedule(b->ctx, 0, &b->tick, tick, 1);
	connect_one(b, &b->ping_wsi);
	connect_one(b, &b->big_wsi);
	while (!b->stop && !b->failed && lws_service(b->ctx, 0) >= 0)
		;
	long hwm1 = b->pid ? status_kib(b->pid, "VmHWM") : -1;
	long rss1 = b->pid ? status_kib(b->pid, "VmRSS") : -1;

	printf("big: %u request(s) of %zu bytes: %u done, %u error; slowest answer %llu ms\n",
	       b->answered, b->padded ? b->bytes : b->frame_len, b->n_done, b->n_error,
	       (unsigned long long)(b->big_max_us / 1000));
	if (b->pings) {
		qsort(b->lat_us, b->pings, sizeof(*b->lat_us), cmp_u64);
		printf("ping: %u round trips meanwhile; us: p50 %llu p99 %llu max %llu\n", b->pings,
		       (unsigned long long)b->lat_us[b->pings / 2],
		       (unsigned long long)b->lat_us[b->pings * 99 / 100],
		       (unsigned long long)b->lat_us[b->pings - 1]);
	}
	if (hwm0 > 0 && hwm1 > 0)
		printf("broker: peak RSS (VmHWM) %ld KiB before, %ld KiB after: +%ld KiB; RSS now "
		       "%ld KiB\n",
		       hwm0, hwm1, hwm1 - hwm0, rss1);
	int rc = b->failed || b->answered != b->count ? 1 : 0;
	if (b->big_wsi)
		lws_set_timeout(b->big_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	if (b->ping_wsi)
		lws_set_timeout(b->ping_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	lws_context_destroy(b->ctx);
	free(b->frame);
	free(b->lat_us);
	return rc;
}
