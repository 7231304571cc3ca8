/*
 * teep-load: request load on a websocket server of the broker's app API, or
 * on the echo server bench/ws-echo that stands for the floor (loopback
 * only).
 *
 *   teep-load [--url ws://127.0.0.1:PORT/] [--conns C] [--requests N]
 *             [--rate R] [--duration S] [--pid PID] [--echo] [--label L]
 *             malformed | request-ta COMPONENT | policy-check
 *
 * C connections (default 1) are opened first; then each runs a closed
 * loop: it sends a request, waits for its final answer (done, error or
 * busy: progress events are skipped; with --echo, any frame), and sends the
 * next, until N requests (default 1000) are answered over all connections
 * or --duration seconds (default 60) have passed. With --rate R (requests
 * per second over all connections) each connection also waits for its
 * turn: the load a node sees, rather than the most a server takes.
 *
 *   malformed      a one-byte frame (0xff) the broker answers on its loop
 *   request-ta     request-ta COMPONENT: with the component installed, one
 *                  call into the TEE and back, no TAM
 *   policy-check   policy-check
 *
 * The same bytes go to the echo server, which sends them back: the floor of
 * a websocket round trip with the same frames.
 *
 * One line on stdout, key=value, for scripts:
 *   load label=L kind=K conns=C requests=N ok=.. unexpected=.. busy=..
 *        secs=.. rps=.. p50_us=.. p90_us=.. p99_us=.. max_us=..
 *        cpu_us_per_req=..
 * where cpu_us_per_req is the server's (--pid) user+system CPU over the
 * run divided by the requests answered. Exit 0 when every request was
 * answered as expected (done for request-ta and policy-check, error for
 * malformed, the same bytes from the echo server).
 *
 * Bounded: at most 20000 connections, 10000000 requests, --duration 600 s,
 * and a hard stop 30 s past the duration.
 */
#include "config.h"

#include "tb_uaproto.h"
#include "tb_util.h"
#include "wsclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS      20000
#define MAX_REQUESTS   10000000u
#define MAX_DURATION_S 600
#define HARD_EXTRA_S   30
#define CONNECT_BURST  256 /* handshakes in progress at once */
#define IN_CAP         4096
#define FRAME_CAP      512

enum cstate { C_NEW, C_HANDSHAKE, C_OPEN, C_FAILED };
enum kind { K_MALFORMED, K_REQUEST_TA, K_POLICY_CHECK };

struct conn {
	int fd;
	enum cstate state;
	int waiting;
	uint64_t t_send, next_us;
	size_t in_len;
	uint8_t in[IN_CAP];
};

struct load {
	struct ws_target t;
	enum kind kind;
	int echo;
	unsigned n_conns, target, sent, answered, ok, unexpected, busy;
	unsigned open, failed;
	double rate;
	uint64_t interval_us; /* per connection, with --rate */
	uint8_t frame[FRAME_CAP];
	size_t frame_len, payload_off, payload_len;
	uint64_t *lat_us;
	struct conn *c;
	int ep;
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: teep-load [--url ws://127.0.0.1:PORT/] [--conns C] [--requests N]\n"
	        "                 [--rate R] [--duration S] [--pid PID] [--echo] [--label L]\n"
	        "                 malformed | request-ta COMPONENT | policy-check\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		usage();
	return v;
}

/* user + system CPU of pid in microseconds, or -1 */
static long long cpu_us(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* after the command name in parentheses: fields 3.. ; utime is 14 */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut = 0, st = 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	return (long long)((ut + st) * 1000000ull / (unsigned long long)(hz > 0 ? hz : 100));
}

static int build_frame(struct load *l, const struct tb_component_id *comp)
{
	uint8_t *payload = NULL;
	size_t len = 0;
	uint8_t one = 0xff;

	if (l->kind == K_MALFORMED) {
		payload = &one;
		len = 1;
	} else {
		struct tb_ua_request r = {.id = 1,
		                          .op = l->kind == K_REQUEST_TA ? TB_UA_OP_REQUEST_TA
		                                                        : TB_UA_OP_POLICY_CHECK};
		if (comp)
			r.component = *comp;
		if (tb_ua_request_encode(&r, &payload, &len))
			return -1;
	}
	if (len + 14 > FRAME_CAP) {
		if (payload != &one)
			free(payload);
		return -1;
	}
	l->payload_off = ws_header(l->frame, 2, len);
	memcpy(l->frame + l->payload_off, payload, len);
	l->payload_len = len;
	l->frame_len = l->payload_off + len;
	if (payload != &one)
		free(payload);
	return 0;
}

static void conn_fail(struct load *l, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->state == C_OPEN)
		l->open--;
	if (c->waiting) {
		c->waiting = 0;
		l->unexpected++; /* a request that will never be answered */
		l->answered++;
	}
	c->state = C_FAILED;
	l->failed++;
}

static int conn_start(struct load *l, struct conn *c)
{
	char hs[512];
	int n = ws_handshake_request(&l->t, hs, sizeof(hs));

	c->fd = ws_socket(NULL, &l->t, 0); /* blocking connect on loopback: quick */
	if (c->fd < 0 || write(c->fd, hs, (size_t)n) != n)
		return -1;
	c->state = C_HANDSHAKE;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	return epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int conn_send(struct load *l, struct conn *c, uint64_t now)
{
	ssize_t w = send(c->fd, l->frame, l->frame_len, MSG_NOSIGNAL);
	if (w != (ssize_t)l->frame_len)
		return -1; /* a frame this small goes whole into an empty socket */
	c->waiting = 1;
	c->t_send = now;
	l->sent++;
	return 0;
}

/* One frame from the server on c: 1 when it is c's final answer. */
static int is_final(struct load *l, const uint8_t *p, size_t len, int *expected, int *busy)
{
	*busy = 0;
	if (l->echo) {
		*expected = len == l->payload_len && !memcmp(p, l->frame + l->payload_off, len);
		return 1;
	}
	struct tb_ua_answer a;
	char arena[1024];
	if (tb_ua_answer_decode(p, len, &a, arena, sizeof(arena))) {
		*expected = 0;
		return 1;
	}
	if (a.event == TB_UA_EV_PROGRESS)
		return 0;
	*busy = a.event == TB_UA_EV_BUSY;
	*expected = l->kind == K_MALFORMED ? a.event == TB_UA_EV_ERROR : a.event == TB_UA_EV_DONE;
	return 1;
}

static int conn_read(struct load *l, struct conn *c, uint64_t now)
{
	ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (r <= 0)
		return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	c->in_len += (size_t)r;
	size_t off = 0;
	if (c->state == C_HANDSHAKE) {
		size_t e = ws_http_end(c->in, c->in_len);
		if (!e)
			return c->in_len == sizeof(c->in) ? -1 : 0;
		if (strncmp((const char *)c->in, "HTTP/1.1 101", 12))
			return -1;
		off = e;
		c->state = C_OPEN;
		l->open++;
	}
	for (;;) {
		int op, expected, busy;
		const uint8_t *p;
		size_t plen;
		long fl =
		    ws_parse(c->in + off, c->in_len - off, sizeof(c->in) - 16, &op, &p, &plen);
		if (fl < 0)
			return -1;
		if (fl == 0)
			break;
		off += (size_t)fl;
		if (op == 8)
			return -1; /* closed by the server */
		if (op != 2 || !c->waiting || !is_final(l, p, plen, &expected, &busy))
			continue;
		c->waiting = 0;
		if (l->answered < l->target)
			l->lat_us[l->answered] = now - c->t_send;
		l->answered++;
		if (expected)
			l->ok++;
		else if (busy)
			l->busy++;
		else
			l->unexpected++;
		/* closed loop: the next request at once */
		if (!l->interval_us && l->sent < l->target && conn_send(l, c, now))
			return -1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
	static struct load ll;
	struct load *l = &ll;
	const char *url = "ws://127.0.0.1:8470/", *label = "server";
	unsigned long duration_s = 60;
	long pid = 0;
	int i = 1;
	struct tb_component_id comp = {0};

	l->n_conns = 1;
	l->target = 1000;
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--echo")) {
			l->echo = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(argv[i - 1], "--url"))
			url = v;
		else if (!strcmp(argv[i - 1], "--conns"))
			l->n_conns = (unsigned)num(v, 1, MAX_CONNS);
		else if (!strcmp(argv[i - 1], "--requests"))
			l->target = (unsigned)num(v, 1, MAX_REQUESTS);
		else if (!strcmp(argv[i - 1], "--rate"))
			l->rate = (double)num(v, 1, 10000000);
		else if (!strcmp(argv[i - 1], "--duration"))
			duration_s = num(v, 1, MAX_DURATION_S);
		else if (!strcmp(argv[i - 1], "--pid"))
			pid = (long)num(v, 1, 1ul << 30);
		else if (!strcmp(argv[i - 1], "--label"))
			label = v;
		else
			usage();
	}
	if (i >= argc || ws_parse_url(url, &l->t))
		usage();
	if (!strcmp(argv[i], "malformed") && i + 1 == argc)
		l->kind = K_MALFORMED;
	else if (!strcmp(argv[i], "policy-check") && i + 1 == argc)
		l->kind = K_POLICY_CHECK;
	else if (!strcmp(argv[i], "request-ta") && i + 2 == argc &&
	         !tb_component_id_parse(argv[i + 1], &comp))
		l->kind = K_REQUEST_TA;
	else
		usage();
	if (build_frame(l, l->kind == K_REQUEST_TA ? &comp : NULL)) {
		fprintf(stderr, "teep-load: cannot build the request\n");
		return 1;
	}
	tb_component_id_clear(&comp);
	if (l->rate > 0)
		l->interval_us = (uint64_t)((double)l->n_conns * 1e6 / l->rate);

	tb_raise_nofile(l->n_conns + 64u);
	l->c = calloc(l->n_conns, sizeof(*l->c));
	l->lat_us = calloc(l->target, sizeof(*l->lat_us));
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!l->c || !l->lat_us || l->ep < 0)
		return 1;
	for (unsigned k = 0; k < l->n_conns; k++)
		l->c[k].fd = -1;

	uint64_t t_start = ws_now_us();
	uint64_t hard_end = t_start + (duration_s + HARD_EXTRA_S) * 1000000u;
	struct epoll_event evs[256];

	/* 1. every connection open */
	unsigned next = 0;
	while (l->open + l->failed < l->n_conns && ws_now_us() < hard_end) {
		while (next < l->n_conns && next - l->open - l->failed < CONNECT_BURST) {
			if (conn_start(l, &l->c[next]))
				conn_fail(l, &l->c[next]);
			next++;
		}
		int n = epoll_wait(l->ep, evs, 256, 100);
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (conn_read(l, c, ws_now_us()))
				conn_fail(l, c);
		}
	}
	if (l->failed) {
		fprintf(stderr, "teep-load: %u of %u connections failed\n", l->failed, l->n_conns);
		return 1;
	}

	/* 2. the load */
	long long cpu0 = pid ? cpu_us(pid) : -1;
	uint64_t t0 = ws_now_us(), end = t0 + duration_s * 1000000u;
	for (unsigned k = 0; k < l->n_conns; k++)
		l->c[k].next_us = t0 + (l->interval_us * k) / l->n_conns;
	int kick = 1; /* closed loop: every connection starts once, then on answers */
	while (l->answered < l->target && ws_now_us() < end) {
		uint64_t now = ws_now_us(), wake = now + 100000;
		for (unsigned k = 0; (kick || l->interval_us) && k < l->n_conns; k++) {
			struct conn *c = &l->c[k];
			if (c->state != C_OPEN || c->waiting || l->sent >= l->target)
				continue;
			if (c->next_us > now) {
				if (c->next_us < wake)
					wake = c->next_us;
				continue;
			}
			if (conn_send(l, c, now)) {
				conn_fail(l, c);
				continue;
			}
			c->next_us = l->interval_us ? c->next_us + l->interval_us : now;
		}
		kick = 0;
		if (l->open == 0)
			break;
		int timeout_ms = (int)((wake > now ? wake - now : 0) / 1000);
		int n = epoll_wait(l->ep, evs, 256, timeout_ms);
		now = ws_now_us();
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (conn_read(l, c, now))
				conn_fail(l, c);
		}
	}
	uint64_t t1 = ws_now_us();
	long long cpu1 = pid ? cpu_us(pid) : -1;

	unsigned n = l->answered < l->target ? l->answered : l->target;
	qsort(l->lat_us, n, sizeof(*l->lat_us), cmp_u64);
	double secs = (double)(t1 - t0) / 1e6;
	double cpu_per = cpu0 >= 0 && cpu1 >= 0 && n ? (double)(cpu1 - cpu0) / n : -1;
	printf("load label=%s kind=%s conns=%u requests=%u ok=%u unexpected=%u busy=%u secs=%.3f "
	       "rps=%.0f p50_us=%llu p90_us=%llu p99_us=%llu max_us=%llu cpu_us_per_req=%.1f\n",
	       label,
	       l->kind == K_MALFORMED    ? "malformed"
	       : l->kind == K_REQUEST_TA ? "request-ta"
	                                 : "policy-check",
	       l->n_conns, n, l->ok, l->unexpected, l->busy, secs, secs > 0 ? n / secs : 0,
	       n ? (unsigned long long)l->lat_us[n / 2] : 0,
	       n ? (unsigned long long)l->lat_us[n * 9 / 10] : 0,
	       n ? (unsigned long long)l->lat_us[n * 99 / 100] : 0,
	       n ? (unsigned long long)l->lat_us[n - 1] : 0, cpu_per);
	for (unsigned k = 0; k < l->n_conns; k++)
		if (l->c[k].fd >= 0)
			close(l->c[k].fd);
	close(l->ep);
	free(l->c);
	free(l->lat_us);
	return n == l->target && l->ok == n ? 0 : 1;
}
