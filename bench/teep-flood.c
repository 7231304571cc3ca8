/*
 * teep-flood: a flood benchmark for teep-brokerd's app side (loopback only).
 *
 *   teep-flood [--url ws://127.0.0.1:PORT/] [--duration S] [--rogues N]
 *              [--rate MSG_PER_S] [--mix V,M,O,T] [--oversize BYTES]
 *              [--reconnects N] [--op-timeout S] [--rogue-from 127.0.0.X]
 *              [--polite-rate R] COMPONENT
 *
 * One polite app and N rogue apps, at the same time, each on its own
 * websocket connection (subprotocol teep-broker.v1):
 *
 * - The polite app connects from 127.0.0.1 and runs, in a closed loop for
 *   --duration seconds (whole cycles), request-ta COMPONENT, unrequest-ta
 *   COMPONENT and policy-check: each request is sent when the previous one
 *   has its final answer; after "busy" it waits retry-after (at most 1 s)
 *   and asks again. It reports, per operation, how many got done (and how
 *   many of those with another result than installed, removed, completed),
 *   error, busy or no answer within --op-timeout (default 10 s), and the
 *   latency of the done ones (p50, p99, max). Exit status 1 unless every
 *   request was done with the expected result. With --polite-rate R (requests
 *   per second, e.g. 1.5) it is paced instead: request k is sent at k / R
 *   seconds from its start, or when the one before it has its final answer
 *   if that is later -- an app that asks at a steady rate below the
 *   broker's limits.
 * - Rogue i connects from 127.0.0.(2+i), so that the broker's per-address
 *   defences can tell it from the polite app (or, with --rogue-from, every
 *   rogue from that address, 127.0.0.1 being the polite app's own), and
 *   sends frames at --rate
 *   frames per second, in a fixed interleaving of four kinds with the
 *   weights of --mix (default 5,2,1,2): V valid request-ta for a component
 *   of its own that no TAM has ("flood/rNNN/XXXXXXXX", a new one each time,
 *   so that none is coalesced), M malformed CBOR, O binary frames of
 *   --oversize bytes (default 5000: over the default max_message_size), T
 *   text frames. It reads every answer and counts it by kind without
 *   acting on it. When the broker closes it (banned) or refuses it, it
 *   connects again after 20 ms, at most --reconnects times (default 1000).
 *   The rogues start 0.5 s before the polite app and stop when it is done.
 *
 * Rogues write many frames per send() and may fall behind the rate when the
 * machine is short of CPU, or when the broker stops reading (TCP
 * backpressure: a rate-limited or banned connection). They never catch up
 * by more than 50 ms of frames: the output gives the offered rate, what was
 * written into the sockets, and what was dropped for backpressure.
 *
 * Client frames carry a masking key of zero. RFC 6455 wants it
 * unpredictable (against proxy cache poisoning, not a concern on loopback)
 * and a server cannot tell: the payloads go as they are, and the rogues'
 * frames are built once and patched.
 *
 * Everything is bounded: at most 200 rogues, 1000000 frames per second
 * each, oversize frames of 64 KiB, --duration of 120 s, and a hard deadline
 * of --duration + 60 s after which the program stops by itself. The
 * destination must be a 127.0.0.0/8 address.
 */
#include "config.h"

#include "tb_teep.h"
#include "tb_uaproto.h"
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROGUES     200
#define MAX_RATE       1000000
#define MAX_DURATION_S 120
#define HARD_EXTRA_S   60     /* past --duration, everything stops */
#define LEAD_US        500000 /* rogues start this long before the polite app */
#define BACKOFF_US     20000  /* a rogue's pause before it connects again */
#define CATCH_UP_US    50000  /* a rogue never owes more than this many us of frames */
#define HANDSHAKE_US   5000000
#define OUT_CAP        (256 * 1024)
#define IN_CAP         (64 * 1024)
#define MAX_OPS        1000000 /* polite operations recorded */
#define MAX_PATTERN    100
#define N_CODES        16

enum fkind { F_VALID, F_MALFORMED, F_OVERSIZE, F_TEXT, F_KINDS };
static const char *const fkind_names[F_KINDS] = {"valid", "malformed", "oversize", "text"};

/* ---- rogues ---------------------------------------------------------------- */

enum rstate { R_IDLE, R_CONNECTING, R_HANDSHAKE, R_OPEN, R_DONE };

struct rogue {
	unsigned index;
	char src[INET_ADDRSTRLEN];
	enum rstate state;
	int fd;
	uint64_t next_connect_us, last_us, open_since_us, open_us;
	double credit;
	unsigned attempts;
	uint32_t seq; /* valid requests built */
	unsigned pat_pos;
	/* frames built into out[] and not yet all written */
	uint8_t out[OUT_CAP];
	size_t out_len, out_off;
	unsigned out_frames[F_KINDS];
	uint8_t in[IN_CAP];
	size_t in_len;
	/* the valid request template and where to patch it */
	uint8_t *tmpl;
	size_t tmpl_len, id_off, ctr_off;
	/* counts */
	uint64_t written[F_KINDS], bytes, dropped;
	unsigned opened, refused, closed_1008, closed_other, conn_errors;
	uint64_t ans_done, ans_busy, ans_busy_limited, ans_progress, ans_error[N_CODES], ans_bad;
};

struct flood {
	struct ws_target t;
	unsigned n, rate, oversize, max_reconnects;
	unsigned weights[F_KINDS];
	enum fkind pattern[MAX_PATTERN];
	unsigned pattern_len;
	uint8_t *oversize_payload;
	struct rogue *r;
	uint64_t start_us, hard_end_us;
	atomic_int stop;
	struct rusage ru;
	uint64_t ran_us;
	const char *rogue_from; /* every rogue's source address; NULL: 127.0.0.(2+i) */
};

/* Smooth weighted round robin: the kinds interleaved as evenly as their
 * weights allow (5,2,1,2 gives V M V T V O V M V T). */
static void make_pattern(struct flood *f)
{
	int cur[F_KINDS] = {0};
	unsigned total = 0;

	for (int k = 0; k < F_KINDS; k++)
		total += f->weights[k];
	for (unsigned i = 0; i < total; i++) {
		int best = -1;
		for (int k = 0; k < F_KINDS; k++) {
			cur[k] += (int)f->weights[k];
			if (f->weights[k] && (best < 0 || cur[k] > cur[best]))
				best = k;
		}
		cur[best] -= (int)total;
		f->pattern[i] = (enum fkind)best;
	}
	f->pattern_len = total;
}

static int find(const uint8_t *hay, size_t n, const void *needle, size_t m, size_t *at)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m)) {
			*at = i;
			return 0;
		}
	return -1;
}

/* The rogue's request-ta, encoded once: id 0x10000000 (4 bytes) and a last
 * segment of 8 characters, both patched for each frame. */
static int make_template(struct rogue *r)
{
	static const uint8_t id_key[] = {0x62, 'i', 'd', 0x1a, 0x10, 0, 0, 0};
	char text[64];
	struct tb_ua_request q = {.id = 0x10000000u, .op = TB_UA_OP_REQUEST_TA};
	int rc;

	snprintf(text, sizeof(text), "flood/r%03u/00000000", r->index);
	if (tb_component_id_parse(text, &q.component))
		return -1;
	rc = tb_ua_request_encode(&q, &r->tmpl, &r->tmpl_len);
	tb_component_id_clear(&q.component);
	if (rc || find(r->tmpl, r->tmpl_len, id_key, sizeof(id_key), &r->id_off) ||
	    find(r->tmpl, r->tmpl_len, "00000000", 8, &r->ctr_off))
		return -1;
	r->id_off += 4;
	return 0;
}

/* Append the next frame to out[]; 0 if it does not fit. */
static int build_frame(struct flood *f, struct rogue *r)
{
	static const uint8_t malformed[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const char text[] = "flood";
	static const char hex[] = "0123456789abcdef";
	enum fkind k = f->pattern[r->pat_pos];
	const uint8_t *p = NULL;
	size_t len = 0;
	int op = 2;
	uint8_t *o;

	switch (k) {
	case F_VALID:
		len = r->tmpl_len;
		break;
	case F_MALFORMED:
		p = malformed;
		len = sizeof(malformed);
		break;
	case F_OVERSIZE:
		p = f->oversize_payload;
		len = f->oversize;
		break;
	default:
		p = (const uint8_t *)text;
		len = sizeof(text) - 1;
		op = 1;
		break;
	}
	if (r->out_len + 14 + len > OUT_CAP)
		return 0;
	o = r->out + r->out_len;
	o += ws_header(o, op, len);
	if (k == F_VALID) {
		uint32_t id = 0x10000000u + r->seq, v = r->seq;
		memcpy(o, r->tmpl, len);
		o[r->id_off] = (uint8_t)(id >> 24);
		o[r->id_off + 1] = (uint8_t)(id >> 16);
		o[r->id_off + 2] = (uint8_t)(id >> 8);
		o[r->id_off + 3] = (uint8_t)id;
		for (int i = 7; i >= 0; i--, v >>= 4)
			o[r->ctr_off + (size_t)i] = (uint8_t)hex[v & 15];
		r->seq++;
	} else {
		memcpy(o, p, len);
	}
	r->out_len = (size_t)(o + len - r->out);
	r->out_frames[k]++;
	r->pat_pos = (r->pat_pos + 1) % f->pattern_len;
	return 1;
}

static void rogue_close(struct flood *f, struct rogue *r, int ep, uint64_t now)
{
	if (r->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
		close(r->fd);
		r->fd = -1;
	}
	if (r->state == R_OPEN)
		r->open_us += now - r->open_since_us;
	/* frames not written are not counted */
	r->out_len = r->out_off = 0;
	memset(r->out_frames, 0, sizeof(r->out_frames));
	r->in_len = 0;
	r->credit = 0;
	r->state = r->attempts >= f->max_reconnects + 1u ? R_DONE : R_IDLE;
	r->next_connect_us = now + BACKOFF_US;
}

static void rogue_connect(struct flood *f, struct rogue *r, int ep, uint64_t now)
{
	struct epoll_event ev = {.events = EPOLLOUT};

	r->attempts++;
	r->fd = ws_socket(r->src, &f->t, 1);
	if (r->fd < 0) {
		r->conn_errors++;
		rogue_close(f, r, ep, now);
		return;
	}
	ev.data.ptr = r;
	epoll_ctl(ep, EPOLL_CTL_ADD, r->fd, &ev);
	r->state = R_CONNECTING;
	r->open_since_us = now; /* handshake deadline until it is open */
}

static void rogue_answer(struct rogue *r, const uint8_t *p, size_t len)
{
	struct tb_ua_answer a;
	char arena[1024];

	if (tb_ua_answer_decode(p, len, &a, arena, sizeof(arena))) {
		r->ans_bad++;
		return;
	}
	switch (a.event) {
	case TB_UA_EV_PROGRESS:
		r->ans_progress++;
		break;
	case TB_UA_EV_DONE:
		r->ans_done++;
		break;
	case TB_UA_EV_BUSY:
		r->ans_busy++;
		if (a.reason && !strcmp(a.reason, "rate limited"))
			r->ans_busy_limited++;
		break;
	default:
		r->ans_error[a.code > 0 && a.code < N_CODES ? a.code : 0]++;
		break;
	}
}

/* Read what the broker sent; -1 when the connection is over. */
static int rogue_read(struct rogue *r, uint64_t now)
{
	for (;;) {
		ssize_t n = recv(r->fd, r->in + r->in_len, sizeof(r->in) - r->in_len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (r->state == R_OPEN)
				r->closed_other++;
			else
				r->refused++;
			return -1;
		}
		r->in_len += (size_t)n;
		size_t off = 0;
		if (r->state == R_HANDSHAKE) {
			size_t end = ws_http_end(r->in, r->in_len);
			if (!end) {
				if (r->in_len == sizeof(r->in)) {
					r->refused++;
					return -1;
				}
				continue;
			}
			if (r->in_len < 12 || memcmp(r->in, "HTTP/1.1 101", 12)) {
				r->refused++;
				return -1;
			}
			r->state = R_OPEN;
			r->opened++;
			r->open_since_us = r->last_us = now;
			off = end;
		}
		for (;;) {
			int op;
			const uint8_t *p;
			size_t plen;
			long fl =
			    ws_parse(r->in + off, r->in_len - off, IN_CAP - 16, &op, &p, &plen);
			if (fl < 0) {
				r->closed_other++;
				return -1;
			}
			if (!fl)
				break;
			off += (size_t)fl;
			if (op == 2) {
				rogue_answer(r, p, plen);
			} else if (op == 8) {
				if (plen >= 2 && (p[0] << 8 | p[1]) == 1008)
					r->closed_1008++;
				else
					r->closed_other++;
				return -1;
			}
		}
		memmove(r->in, r->in + off, r->in_len - off);
		r->in_len -= off;
	}
}

/* Top up the rogue's credit, build frames and write them. -1: closed. */
static int rogue_write(struct flood *f, struct rogue *r, uint64_t now)
{
	double owed_max = (double)f->rate * CATCH_UP_US / 1e6;

	r->credit += (double)f->rate * (double)(now - r->last_us) / 1e6;
	r->last_us = now;
	if (r->credit > owed_max + 1) {
		r->dropped += (uint64_t)(r->credit - owed_max);
		r->credit -= (double)(uint64_t)(r->credit - owed_max);
	}
	if (r->out_off == r->out_len) {
		r->out_off = r->out_len = 0;
		while (r->credit >= 1 && build_frame(f, r))
			r->credit -= 1;
	}
	while (r->out_off < r->out_len) {
		ssize_t n = send(r->fd, r->out + r->out_off, r->out_len - r->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			r->closed_other++;
			return -1;
		}
		r->out_off += (size_t)n;
		r->bytes += (uint64_t)n;
	}
	for (int k = 0; k < F_KINDS; k++) {
		r->written[k] += r->out_frames[k];
		r->out_frames[k] = 0;
	}
	return 0;
}

static void *rogues_run(void *arg)
{
	struct flood *f = arg;
	struct epoll_event evs[64];
	char hs[512];
	int hs_len = ws_handshake_request(&f->t, hs, sizeof(hs));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t t0 = ws_now_us();

	if (ep < 0)
		return NULL;
	for (;;) {
		int n = epoll_wait(ep, evs, 64, 1);
		uint64_t now = ws_now_us();
		int live = 0;

		for (int i = 0; i < n; i++) {
			struct rogue *r = evs[i].data.ptr;
			if (r->state == R_CONNECTING) {
				int err = 0;
				socklen_t el = sizeof(err);
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
				getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err ||
				    send(r->fd, hs, (size_t)hs_len, MSG_NOSIGNAL) != hs_len) {
					r->conn_errors++;
					rogue_close(f, r, ep, now);
					continue;
				}
				r->state = R_HANDSHAKE;
				epoll_ctl(ep, EPOLL_CTL_MOD, r->fd, &ev);
			} else if (rogue_read(r, now) < 0) {
				rogue_close(f, r, ep, now);
			}
		}
		if (atomic_load(&f->stop) || now >= f->hard_end_us)
			break;
		for (unsigned i = 0; i < f->n; i++) {
			struct rogue *r = &f->r[i];
			if (r->state == R_OPEN && rogue_write(f, r, now) < 0)
				rogue_close(f, r, ep, now);
			else if ((r->state == R_CONNECTING || r->state == R_HANDSHAKE) &&
			         now - r->open_since_us > HANDSHAKE_US) {
				r->refused++;
				rogue_close(f, r, ep, now);
			} else if (r->state == R_IDLE && now >= r->next_connect_us)
				rogue_connect(f, r, ep, now);
			live += r->state != R_DONE;
		}
		if (!live)
			break;
	}
	uint64_t now = ws_now_us();
	for (unsigned i = 0; i < f->n; i++) {
		struct rogue *r = &f->r[i];
		if (r->state == R_OPEN)
			r->open_us += now - r->open_since_us;
		if (r->fd >= 0)
			close(r->fd);
		r->fd = -1;
	}
	close(ep);
	f->ran_us = now - t0;
	getrusage(RUSAGE_THREAD, &f->ru);
	return NULL;
}

/* ---- the polite app -------------------------------------------------------- */

enum { OP_INSTALL, OP_UNREQUEST, OP_POLICY, N_OPS };
static const char *const op_names[N_OPS] = {"request-ta", "unrequest-ta", "policy-check"};

#define N_REASONS 8

struct opstat {
	unsigned sent, done, other_result, error, busy, lost;
	unsigned n;
	uint64_t *lat_us;
};

/* Why the polite app was refused or failed: "busy: rate limited", ... */
struct reasons {
	char text[N_REASONS][80];
	unsigned count[N_REASONS];
	unsigned others;
};

struct polite {
	const struct ws_target *t;
	struct tb_component_id comp;
	uint64_t op_timeout_us;
	int fd;
	uint8_t in[IN_CAP];
	size_t in_len;
	uint64_t next_id;
	struct opstat st[N_OPS];
	struct reasons why;
	unsigned connects, disconnects;
	char last_text[80]; /* of the last final answer: result or reason */
	uint64_t retry_after_ms;
	uint64_t waited_us; /* asked to wait by busy answers */
};

static void reason_count(struct reasons *w, const char *text)
{
	for (int i = 0; i < N_REASONS; i++) {
		if (!w->count[i])
			snprintf(w->text[i], sizeof(w->text[i]), "%s", text);
		if (!strcmp(w->text[i], text)) {
			w->count[i]++;
			return;
		}
	}
	w->others++;
}

static int polite_connect(struct polite *p)
{
	char hs[512];
	int n = ws_handshake_request(p->t, hs, sizeof(hs));
	struct pollfd pfd;
	uint64_t end = ws_now_us() + HANDSHAKE_US;

	p->in_len = 0;
	p->fd = ws_socket("127.0.0.1", p->t, 0);
	if (p->fd < 0)
		return -1;
	if (send(p->fd, hs, (size_t)n, MSG_NOSIGNAL) != n)
		goto fail;
	for (;;) {
		uint64_t now = ws_now_us();
		if (now >= end)
			goto fail;
		pfd.fd = p->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)((end - now) / 1000) + 1) <= 0)
			continue;
		ssize_t r = recv(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len, 0);
		if (r <= 0)
			goto fail;
		p->in_len += (size_t)r;
		size_t e = ws_http_end(p->in, p->in_len);
		if (!e)
			continue;
		if (p->in_len < 12 || memcmp(p->in, "HTTP/1.1 101", 12))
			goto fail;
		memmove(p->in, p->in + e, p->in_len - e);
		p->in_len -= e;
		p->connects++;
		return 0;
	}
fail:
	close(p->fd);
	p->fd = -1;
	return -1;
}

/* Wait for the final answer to request id; returns its event, 0 on timeout,
 * -1 when the connection is lost. */
static int polite_wait(struct polite *p, uint64_t id, uint64_t deadline)
{
	for (;;) {
		size_t off = 0;
		for (;;) {
			int op;
			const uint8_t *pl;
			size_t plen;
			long fl =
			    ws_parse(p->in + off, p->in_len - off, IN_CAP - 16, &op, &pl, &plen);
			if (fl < 0)
				return -1;
			if (!fl)
				break;
			off += (size_t)fl;
			if (op == 8)
				return -1;
			struct tb_ua_answer a;
			char arena[1024];
			if (op != 2 || tb_ua_answer_decode(pl, plen, &a, arena, sizeof(arena)) ||
			    !a.has_id || a.id != id || a.event == TB_UA_EV_PROGRESS)
				continue;
			memmove(p->in, p->in + off, p->in_len - off);
			p->in_len -= off;
			if (a.event == TB_UA_EV_DONE)
				snprintf(p->last_text, sizeof(p->last_text), "%s",
				         a.result ? a.result : "");
			else if (a.event == TB_UA_EV_BUSY) {
				snprintf(p->last_text, sizeof(p->last_text), "busy: %s",
				         a.reason ? a.reason : "");
				p->retry_after_ms = a.retry_after_ms;
			} else
				snprintf(p->last_text, sizeof(p->last_text), "error %s: %s",
				         tb_ua_code_name(a.code), a.reason ? a.reason : "");
			return (int)a.event;
		}
		memmove(p->in, p->in + off, p->in_len - off);
		p->in_len -= off;

		uint64_t now = ws_now_us();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			continue;
		ssize_t r = recv(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len, 0);
		if (r <= 0)
			return -1;
		p->in_len += (size_t)r;
	}
}

/* One request and its final answer; 1 if it was busy (try again later). */
static int polite_op(struct polite *p, int op)
{
	struct opstat *s = &p->st[op];
	struct tb_ua_request q = {.id = ++p->next_id};
	uint8_t *frame = NULL;
	size_t len = 0;
	uint8_t buf[2048];

	if (p->fd < 0 && polite_connect(p)) {
		s->lost++;
		reason_count(&p->why, "cannot connect");
		usleep(100000);
		return 0;
	}
	q.op = op == OP_INSTALL     ? TB_UA_OP_REQUEST_TA
	       : op == OP_UNREQUEST ? TB_UA_OP_UNREQUEST_TA
	                            : TB_UA_OP_POLICY_CHECK;
	if (op != OP_POLICY)
		q.component = p->comp;
	if (tb_ua_request_encode(&q, &frame, &len) || len > sizeof(buf) - 14) {
		free(frame);
		s->lost++;
		return 0;
	}
	size_t hl = ws_header(buf, 2, len);
	memcpy(buf + hl, frame, len);
	free(frame);

	uint64_t t0 = ws_now_us();
	s->sent++;
	if (send(p->fd, buf, hl + len, MSG_NOSIGNAL) != (ssize_t)(hl + len)) {
		s->lost++;
		goto lost;
	}
	int ev = polite_wait(p, q.id, t0 + p->op_timeout_us);
	uint64_t t1 = ws_now_us();
	switch (ev) {
	case TB_UA_EV_DONE:
		s->done++;
		if (s->n < MAX_OPS)
			s->lat_us[s->n++] = t1 - t0;
		/* the cycle installs, then removes: anything else is news */
		if (strcmp(p->last_text, op == OP_INSTALL     ? "installed"
		                         : op == OP_UNREQUEST ? "removed"
		                                              : "completed")) {
			char what[128];
			s->other_result++;
			snprintf(what, sizeof(what), "%s done: %s", op_names[op], p->last_text);
			reason_count(&p->why, what);
		}
		return 0;
	case TB_UA_EV_BUSY:
		s->busy++;
		reason_count(&p->why, p->last_text);
		return 1;
	case TB_UA_EV_ERROR:
		s->error++;
		reason_count(&p->why, p->last_text);
		return 0;
	case 0:
		s->lost++; /* no answer in time; a late one is ignored */
		reason_count(&p->why, "no answer in time");
		return 0;
	default:
		s->lost++;
		break;
	}
lost:
	reason_count(&p->why, "connection lost");
	p->disconnects++;
	close(p->fd);
	p->fd = -1;
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, c = *(const uint64_t *)y;
	return a < c ? -1 : a > c;
}

static void print_lat(const char *what, const struct opstat *s)
{
	printf("polite %s: %u sent, %u done (%u with another result), %u error, %u busy, %u lost",
	       what, s->sent, s->done, s->other_result, s->error, s->busy, s->lost);
	if (s->n)
		printf("; ms: p50 %.2f p99 %.2f max %.2f", (double)s->lat_us[s->n / 2] / 1000.0,
		       (double)s->lat_us[s->n * 99 / 100] / 1000.0,
		       (double)s->lat_us[s->n - 1] / 1000.0);
	printf("\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: teep-flood [--url ws://127.0.0.1:PORT/] [--duration S] "
	                "[--rogues N] [--rate MSG_PER_S]\n"
	                "                  [--mix V,M,O,T] [--oversize BYTES] [--reconnects N] "
	                "[--op-timeout S]\n"
	                "                  [--rogue-from 127.0.0.X] [--polite-rate R] COMPONENT\n");
	exit(2);
}

static unsigned num(const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		usage();
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static struct flood ff;
	static struct polite pp;
	struct flood *f = &ff;
	struct polite *p = &pp;
	const char *url = "ws://127.0.0.1:8470/";
	unsigned duration = 10, timeout_s = 10;
	double polite_rate = 0; /* closed loop */
	int i = 1;

	f->rate = 20000;
	f->oversize = 5000;
	f->max_reconnects = 1000;
	f->weights[F_VALID] = 5;
	f->weights[F_MALFORMED] = 2;
	f->weights[F_OVERSIZE] = 1;
	f->weights[F_TEXT] = 2;
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		const char *v = argv[i + 1];
		if (!strcmp(argv[i], "--url"))
			url = v;
		else if (!strcmp(argv[i], "--duration"))
			duration = num(v, 1, MAX_DURATION_S);
		else if (!strcmp(argv[i], "--rogues"))
			f->n = num(v, 0, MAX_ROGUES);
		else if (!strcmp(argv[i], "--rate"))
			f->rate = num(v, 1, MAX_RATE);
		else if (!strcmp(argv[i], "--oversize"))
			f->oversize = num(v, 1, 65536);
		else if (!strcmp(argv[i], "--reconnects"))
			f->max_reconnects = num(v, 0, 1000000);
		else if (!strcmp(argv[i], "--rogue-from")) {
			struct in_addr a;
			if (inet_pton(AF_INET, v, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
				usage(); /* loopback only */
			f->rogue_from = v;
		} else if (!strcmp(argv[i], "--polite-rate")) {
			char *e;
			polite_rate = strtod(v, &e);
			if (*e || !(polite_rate >= 0.01 && polite_rate <= 10000))
				usage();
		} else if (!strcmp(argv[i], "--op-timeout"))
			timeout_s = num(v, 1, 600);
		else if (!strcmp(argv[i], "--mix")) {
			unsigned total = 0;
			if (sscanf(v, "%u,%u,%u,%u", &f->weights[0], &f->weights[1], &f->weights[2],
			           &f->weights[3]) != 4)
				usage();
			for (int k = 0; k < F_KINDS; k++)
				total +=
				    f->weights[k] <= MAX_PATTERN ? f->weights[k] : MAX_PATTERN + 1;
			if (!total || total > MAX_PATTERN)
				usage();
		} else
			usage();
	}
	if (i + 1 != argc || ws_parse_url(url, &f->t) || tb_component_id_parse(argv[i], &p->comp))
		usage();

	p->t = &f->t;
	p->fd = -1;
	p->op_timeout_us = (uint64_t)timeout_s * 1000000u;
	for (int k = 0; k < N_OPS; k++) {
		p->st[k].lat_us = calloc(MAX_OPS, sizeof(uint64_t));
		if (!p->st[k].lat_us)
			return 1;
	}
	make_pattern(f);
	f->oversize_payload = calloc(1, f->oversize);
	f->r = calloc(f->n ? f->n : 1, sizeof(*f->r));
	if (!f->oversize_payload || !f->r)
		return 1;
	for (unsigned k = 0; k < f->n; k++) {
		struct rogue *r = &f->r[k];
		r->index = k;
		r->fd = -1;
		if (f->rogue_from)
			snprintf(r->src, sizeof(r->src), "%s", f->rogue_from);
		else
			snprintf(r->src, sizeof(r->src), "127.0.0.%u", 2 + k);
		if (make_template(r))
			return 1;
	}

	pthread_t th;
	f->start_us = ws_now_us();
	f->hard_end_us = f->start_us + (uint64_t)(duration + HARD_EXTRA_S) * 1000000u;
	if (f->n) {
		if (pthread_create(&th, NULL, rogues_run, f))
			return 1;
		usleep(LEAD_US);
	}

	uint64_t p0 = ws_now_us(), end = p0 + (uint64_t)duration * 1000000u, nth = 0;
	int paced_out = 0; /* paced: the next request would be past the end */
	while (!paced_out && ws_now_us() < end && ws_now_us() < f->hard_end_us)
		for (int k = 0; k < N_OPS; k++) {
			if (polite_rate > 0) {
				/* paced: the nth request at n / rate */
				uint64_t at = p0 + (uint64_t)((double)nth++ * 1e6 / polite_rate);
				uint64_t now = ws_now_us();
				if (at >= end) {
					paced_out = 1;
					break;
				}
				if (at > now)
					usleep((useconds_t)(at - now));
			}
			/* as an app should: after busy, wait retry-after (here at
			 * most 1 s), then ask again */
			while (polite_op(p, k) && ws_now_us() < end) {
				uint64_t w = p->retry_after_ms < 1000 ? p->retry_after_ms : 1000;
				p->waited_us += w * 1000;
				usleep((useconds_t)(w * 1000));
			}
		}
	uint64_t p1 = ws_now_us();
	struct rusage pru;
	getrusage(RUSAGE_THREAD, &pru);
	if (p->fd >= 0)
		close(p->fd);
	if (f->n) {
		atomic_store(&f->stop, 1);
		pthread_join(th, NULL);
	}

	struct opstat all = {0};
	all.lat_us = calloc(3 * MAX_OPS, sizeof(uint64_t));
	if (!all.lat_us)
		return 1;
	for (int k = 0; k < N_OPS; k++) {
		struct opstat *s = &p->st[k];
		qsort(s->lat_us, s->n, sizeof(uint64_t), cmp_u64);
		print_lat(op_names[k], s);
		all.sent += s->sent;
		all.done += s->done;
		all.error += s->error;
		all.busy += s->busy;
		all.lost += s->lost;
		all.other_result += s->other_result;
		memcpy(all.lat_us + all.n, s->lat_us, s->n * sizeof(uint64_t));
		all.n += s->n;
	}
	qsort(all.lat_us, all.n, sizeof(uint64_t), cmp_u64);
	print_lat("all", &all);
	printf("polite: %.1f s, %.1f requests/s, %u connection(s), %u lost, %.1f s waiting "
	       "retry-after; cpu %.2f s\n",
	       (double)(p1 - p0) / 1e6, all.sent / ((double)(p1 - p0) / 1e6), p->connects,
	       p->disconnects, (double)p->waited_us / 1e6,
	       (double)(pru.ru_utime.tv_sec + pru.ru_stime.tv_sec) +
	           (double)(pru.ru_utime.tv_usec + pru.ru_stime.tv_usec) / 1e6);

	for (int k = 0; k < N_REASONS && p->why.count[k]; k++)
		printf("polite: %u x %s\n", p->why.count[k], p->why.text[k]);
	if (p->why.others)
		printf("polite: %u x other reasons\n", p->why.others);

	int rc = all.done == all.sent && !all.other_result ? 0 : 1;
	if (f->n) {
		uint64_t w[F_KINDS] = {0}, bytes = 0, dropped = 0, open_us = 0, done = 0, busy = 0,
		         limited = 0, progress = 0, bad = 0, err[N_CODES] = {0}, wall = f->ran_us;
		unsigned opened = 0, refused = 0, c1008 = 0, cother = 0, cerr = 0;
		double secs = (double)wall / 1e6;

		for (unsigned k = 0; k < f->n; k++) {
			struct rogue *r = &f->r[k];
			uint64_t rw = 0;
			for (int j = 0; j < F_KINDS; j++) {
				w[j] += r->written[j];
				rw += r->written[j];
			}
			printf("rogue %s: %llu frames written (%.0f/s), %llu answers; %u "
			       "connections, %u refused, %u closed with 1008\n",
			       r->src, (unsigned long long)rw, (double)rw / secs,
			       (unsigned long long)(r->ans_done + r->ans_busy + r->ans_progress),
			       r->opened, r->refused, r->closed_1008);
			bytes += r->bytes;
			dropped += r->dropped;
			open_us += r->open_us;
			done += r->ans_done;
			busy += r->ans_busy;
			limited += r->ans_busy_limited;
			progress += r->ans_progress;
			bad += r->ans_bad;
			for (int j = 0; j < N_CODES; j++)
				err[j] += r->ans_error[j];
			opened += r->opened;
			refused += r->refused;
			c1008 += r->closed_1008;
			cother += r->closed_other;
			cerr += r->conn_errors;
		}
		uint64_t total = w[0] + w[1] + w[2] + w[3];
		printf("rogues: %u x %u msg/s offered for %.1f s; written %llu frames = %.0f msg/s "
		       "(%.0f per rogue), %.1f MB/s; not sent for backpressure %llu\n",
		       f->n, f->rate, secs, (unsigned long long)total, (double)total / secs,
		       (double)total / secs / f->n, (double)bytes / secs / 1e6,
		       (unsigned long long)dropped);
		printf("rogues: written by kind:");
		for (int j = 0; j < F_KINDS; j++)
			printf(" %s %llu", fkind_names[j], (unsigned long long)w[j]);
		printf("; connected %.1f%% of the time, writing %.0f msg/s per rogue while "
		       "connected\n",
		       100.0 * (double)open_us / (double)wall / f->n,
		       open_us ? (double)total / ((double)open_us / 1e6) : 0.0);
		printf("rogues: connections %u opened, %u refused, %u closed with 1008, %u closed "
		       "otherwise, %u connect errors\n",
		       opened, refused, c1008, cother, cerr);
		printf("rogues: answers done %llu, busy %llu (rate limited %llu), progress %llu, "
		       "undecodable %llu, error",
		       (unsigned long long)done, (unsigned long long)busy,
		       (unsigned long long)limited, (unsigned long long)progress,
		       (unsigned long long)bad);
		for (int j = 0; j < N_CODES; j++)
			if (err[j])
				printf(" %s %llu", j ? tb_ua_code_name(j) : "other",
				       (unsigned long long)err[j]);
		printf("\n");
		printf("rogues: cpu %.2f s user, %.2f s system\n",
		       (double)f->ru.ru_utime.tv_sec + (double)f->ru.ru_utime.tv_usec / 1e6,
		       (double)f->ru.ru_stime.tv_sec + (double)f->ru.ru_stime.tv_usec / 1e6);
		for (unsigned k = 0; k < f->n; k++)
			free(f->r[k].tmpl);
	}
	for (int k = 0; k < N_OPS; k++)
		free(p->st[k].lat_us);
	free(all.lat_us);
	free(f->r);
	free(f->oversize_payload);
	tb_component_id_clear(&p->comp);
	return rc;
}
