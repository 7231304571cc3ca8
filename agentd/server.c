/*
 * teep-agentd's server loop: accept connections, read frames, check the
 * handshake, queue calls for the executor, write answers. One thread, one
 * poll(); nothing here calls the Agent.
 *
 * The host side of the socket is not trusted. Every connection holds at most
 * one partial frame (max_frame bytes), max_calls queued calls and twice
 * max_frame of unsent answers; past that a peer that does not read is
 * disconnected. A frame that cannot be decoded gets an error answer and the
 * connection goes on (the framing is intact); a frame over max_frame, or
 * anything but a hello first, gets an error answer and the connection is
 * closed. Connections are at most max_connections, calls queued in all at
 * most queue_size; a call over either bound is answered "busy".
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentd.h"
#include "tb_log.h"
#include "tb_util.h"

#define READ_CHUNK      65536
#define BUSY_RETRY_MS   100
#define CLOSE_LINGER_MS 2000
#define TICK_MS         250

struct out_frame {
	struct out_frame *next;
	uint8_t *buf;
	size_t len, off;
};

struct conn {
	struct conn *next;
	int fd;
	uint64_t serial;
	int hello_done;
	int closing; /* write what is queued, then close */
	int dead;    /* close now */
	uint64_t deadline_ms;
	struct tb_ap_reader rd;
	struct out_frame *out_head, *out_tail;
	size_t out_bytes;
	size_t n_calls; /* queued or running */
	uint64_t *ids;  /* their ids, n_calls of max_calls */
	struct ad_job *end_job;
	size_t pidx; /* its entry in the poll array, 0 if none */
};

struct server {
	const struct ad_conf *c;
	const struct tb_driver *drv;
	struct ad_exec *x;
	int notify_fd, listen_fd;
	struct conn *conns;
	size_t n_conns, queued;
	uint64_t next_serial;
	uint8_t *rbuf;
};

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* full: a stop is pending already */
	}
	errno = saved;
}

/* ---- output ------------------------------------------------------------ */

static void conn_kill(struct conn *cn, const char *why)
{
	if (!cn->dead)
		tb_log(TB_LOG_INFO, "connection %llu closed: %s", (unsigned long long)cn->serial,
		       why);
	cn->dead = 1;
}

/* Queue a frame (taking it over). A peer that lets answers pile up is
 * disconnected rather than buffered for. */
static void conn_send(struct server *sv, struct conn *cn, uint8_t *buf, size_t len)
{
	struct out_frame *f;

	if (!buf) {
		conn_kill(cn, "out of memory for an answer");
		return;
	}
	if (cn->dead || cn->out_bytes + len > 2 * sv->c->max_frame + 65536) {
		free(buf);
		conn_kill(cn, "the peer does not read its answers");
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		free(buf);
		conn_kill(cn, "out of memory for an answer");
		return;
	}
	f->buf = buf;
	f->len = len;
	if (cn->out_tail)
		cn->out_tail->next = f;
	else
		cn->out_head = f;
	cn->out_tail = f;
	cn->out_bytes += len;
}

static void conn_error(struct server *sv, struct conn *cn, int has_id, uint64_t id, int code,
                       const char *reason, uint64_t retry_ms)
{
	size_t len;
	uint8_t *f = ad_error_frame(has_id, id, code, reason, retry_ms, &len);

	conn_send(sv, cn, f, len);
}

/* An error answer, then close once it is written. */
static void conn_refuse(struct server *sv, struct conn *cn, int code, const char *reason)
{
	tb_log(TB_LOG_INFO, "connection %llu: %s", (unsigned long long)cn->serial, reason);
	conn_error(sv, cn, 0, 0, code, reason, 0);
	cn->closing = 1;
	cn->deadline_ms = tb_now_ms() + CLOSE_LINGER_MS;
}

static void conn_flush(struct conn *cn)
{
	while (cn->out_head && !cn->dead) {
		struct out_frame *f = cn->out_head;
		ssize_t n = send(cn->fd, f->buf + f->off, f->len - f->off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_kill(cn, n < 0 ? strerror(errno) : "send wrote nothing");
			return;
		}
		f->off += (size_t)n;
		if (f->off < f->len)
			return;
		cn->out_head = f->next;
		if (!cn->out_head)
			cn->out_tail = NULL;
		cn->out_bytes -= f->len;
		free(f->buf);
		free(f);
	}
}

/* ---- input ------------------------------------------------------------- */

static void handle_hello(struct server *sv, struct conn *cn, const struct tb_ap_msg *m)
{
	struct tb_ap_msg w = {.type = TB_AP_WELCOME,
	                      .version = 0,
	                      .max_frame = sv->c->max_frame,
	                      .max_calls = sv->c->max_calls};
	char agent[TB_AP_MAX_NAME + 1];
	uint8_t *f;
	size_t len;

	if (m->type != TB_AP_HELLO) {
		conn_refuse(sv, cn, TB_AP_E_HANDSHAKE, "the first frame must be a hello");
		return;
	}
	for (size_t i = 0; i < m->n_versions; i++)
		if (m->versions[i] == TB_AP_VERSION)
			w.version = TB_AP_VERSION;
	if (!w.version) {
		conn_refuse(sv, cn, TB_AP_E_UNSUPPORTED,
		            "no common protocol version: this Agent speaks version 1 only");
		return;
	}
	snprintf(agent, sizeof(agent), "teep-agentd %s, %s %s (%s)", PACKAGE_VERSION, sv->drv->name,
	         sv->drv->version, sv->drv->tee_kind);
	w.agent = agent;
	if (tb_ap_encode(&w, &f, &len) != TB_OK) {
		conn_kill(cn, "cannot encode the welcome");
		return;
	}
	conn_send(sv, cn, f, len);
	cn->hello_done = 1;
	tb_log(TB_LOG_INFO, "connection %llu: version %d%s%s", (unsigned long long)cn->serial,
	       TB_AP_VERSION, m->client ? ", client " : "", m->client ? m->client : "");
}

static int id_in_progress(const struct conn *cn, uint64_t id)
{
	for (size_t i = 0; i < cn->n_calls; i++)
		if (cn->ids[i] == id)
			return 1;
	return 0;
}

static void handle_call(struct server *sv, struct conn *cn, struct tb_ap_msg *m)
{
	struct ad_job *job;

	if (m->type == TB_AP_HELLO) {
		conn_error(sv, cn, 0, 0, TB_AP_E_HANDSHAKE, "hello after the handshake", 0);
		return;
	}
	if (m->type != TB_AP_CALL) {
		conn_error(sv, cn, m->has_id, m->id, TB_AP_E_UNSUPPORTED,
		           "a client sends hello and calls only", 0);
		return;
	}
	if (id_in_progress(cn, m->id)) {
		conn_error(sv, cn, 1, m->id, TB_AP_E_DUPLICATE_ID,
		           "a call with this id is still in progress", 0);
		return;
	}
	if (cn->n_calls >= sv->c->max_calls || sv->queued >= sv->c->queue_size) {
		conn_error(sv, cn, 1, m->id, TB_AP_E_BUSY,
		           cn->n_calls >= sv->c->max_calls ? "too many calls on this connection"
		                                           : "the Agent's queue is full",
		           BUSY_RETRY_MS);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		conn_error(sv, cn, 1, m->id, TB_AP_E_INTERNAL, "out of memory", BUSY_RETRY_MS);
		return;
	}
	job->conn = cn->serial;
	job->call = *m;
	memset(m, 0, sizeof(*m));
	cn->ids[cn->n_calls++] = job->call.id;
	sv->queued++;
	tb_log(TB_LOG_DEBUG, "connection %llu: call %llu %s", (unsigned long long)cn->serial,
	       (unsigned long long)job->call.id, tb_ap_op_name(job->call.op));
	ad_exec_submit(sv->x, job);
}

static void handle_frame(struct server *sv, struct conn *cn, const uint8_t *buf, size_t len)
{
	struct tb_ap_msg m;
	char err[200];
	int code;

	if (tb_ap_decode(buf, len, &m, &code, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_INFO, "connection %llu: refused a frame: %s",
		       (unsigned long long)cn->serial, err);
		if (!cn->hello_done)
			conn_refuse(sv, cn, code, err);
		else
			conn_error(sv, cn, m.type == TB_AP_CALL && m.has_id, m.id, code, err, 0);
		tb_ap_msg_clear(&m);
		return;
	}
	if (!cn->hello_done)
		handle_hello(sv, cn, &m);
	else
		handle_call(sv, cn, &m);
	tb_ap_msg_clear(&m);
}

static void conn_read(struct server *sv, struct conn *cn)
{
	ssize_t n;
	size_t off = 0;

	n = recv(cn->fd, sv->rbuf, READ_CHUNK, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(cn, n < 0 ? strerror(errno) : "the peer closed");
		return;
	}
	while (off < (size_t)n && !cn->closing && !cn->dead) {
		uint8_t *frame;
		size_t used, flen;
		int rc = tb_ap_reader_feed(&cn->rd, sv->rbuf + off, (size_t)n - off, &used, &frame,
		                           &flen);

		off += used;
		if (rc == TB_AP_FRAME) {
			handle_frame(sv, cn, frame, flen);
			free(frame);
		} else if (rc == TB_ERR_TOOBIG) {
			char why[96];

			snprintf(why, sizeof(why), "a frame of length 0 or over max_frame (%zu)",
			         sv->c->max_frame);
			conn_refuse(sv, cn, TB_AP_E_TOO_LARGE, why);
		} else if (rc != TB_AP_MORE) {
			conn_kill(cn, "out of memory for a frame");
		}
	}
}

/* ---- connections ------------------------------------------------------- */

static void conn_free(struct server *sv, struct conn *cn)
{
	struct out_frame *f = cn->out_head;

	while (f) {
		struct out_frame *next = f->next;
		free(f->buf);
		free(f);
		f = next;
	}
	if (cn->fd >= 0)
		close(cn->fd);
	/* the executor closes the connection's sessions, after its calls */
	if (cn->end_job)
		ad_exec_submit(sv->x, cn->end_job);
	tb_ap_reader_clear(&cn->rd);
	free(cn->ids);
	free(cn);
}

static void accept_one(struct server *sv)
{
	struct conn *cn;
	int fd = accept4(sv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			tb_log(TB_LOG_WARN, "accept: %s", strerror(errno));
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn) {
		cn->ids = calloc(sv->c->max_calls, sizeof(*cn->ids));
		cn->end_job = calloc(1, sizeof(*cn->end_job));
	}
	if (!cn || !cn->ids || !cn->end_job) {
		if (cn) {
			free(cn->ids);
			free(cn->end_job);
		}
		free(cn);
		close(fd);
		tb_log(TB_LOG_WARN, "out of memory for a connection");
		return;
	}
	cn->fd = fd;
	cn->serial = ++sv->next_serial;
	cn->end_job->conn = cn->serial;
	cn->end_job->conn_closed = 1;
	cn->deadline_ms = tb_now_ms() + sv->c->hello_timeout_ms;
	tb_ap_reader_init(&cn->rd, sv->c->max_frame);
	cn->next = sv->conns;
	sv->conns = cn;
	sv->n_conns++;
	tb_log(TB_LOG_INFO, "connection %llu accepted", (unsigned long long)cn->serial);
}

static struct conn *conn_find(struct server *sv, uint64_t serial)
{
	for (struct conn *cn = sv->conns; cn; cn = cn->next)
		if (cn->serial == serial)
			return cn;
	return NULL;
}

/* Answers from the executor go to their connection, if it still exists. */
static void deliver(struct server *sv)
{
	char drain[64];
	struct ad_job *j;

	while (read(sv->notify_fd, drain, sizeof(drain)) > 0)
		;
	j = ad_exec_take_done(sv->x);
	while (j) {
		struct ad_job *next = j->next;
		struct conn *cn = conn_find(sv, j->conn);

		sv->queued--;
		if (cn) {
			for (size_t i = 0; i < cn->n_calls; i++) {
				if (cn->ids[i] == j->call.id) {
					cn->ids[i] = cn->ids[--cn->n_calls];
					break;
				}
			}
			conn_send(sv, cn, j->answer, j->answer_len);
			j->answer = NULL;
		}
		ad_job_free(j);
		j = next;
	}
}

static void sweep(struct server *sv, uint64_t now)
{
	struct conn **pp = &sv->conns;

	while (*pp) {
		struct conn *cn = *pp;

		if (!cn->dead && !cn->hello_done && !cn->closing && now >= cn->deadline_ms)
			conn_refuse(sv, cn, TB_AP_E_HANDSHAKE, "no hello in time");
		else if (cn->closing && !cn->out_head)
			conn_kill(cn, "refused");
		else if (cn->closing && now >= cn->deadline_ms)
			conn_kill(cn, "the peer did not read the refusal");
		if (cn->dead) {
			*pp = cn->next;
			sv->n_conns--;
			conn_free(sv, cn);
		} else {
			pp = &cn->next;
		}
	}
}

static int setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

int ad_serve(const struct ad_conf *c, const struct tb_driver *drv, struct ad_exec *x, int notify_fd,
             int listen_fd)
{
	struct server sv = {
	    .c = c, .drv = drv, .x = x, .notify_fd = notify_fd, .listen_fd = listen_fd};
	struct pollfd *pfd;
	struct conn *cn;
	int stop = 0;

	sv.rbuf = malloc(READ_CHUNK);
	pfd = calloc(c->max_connections + 3, sizeof(*pfd));
	if (!sv.rbuf || !pfd || setup_signals() != 0) {
		tb_log(TB_LOG_ERR, "cannot set up the server loop");
		free(sv.rbuf);
		free(pfd);
		return 1;
	}
	while (!stop) {
		size_t n = 0;
		int r;

		pfd[n++] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = notify_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = sv.n_conns < c->max_connections ? listen_fd : -1,
		                           .events = POLLIN};
		for (cn = sv.conns; cn; cn = cn->next) {
			short ev = 0;

			/* back-pressure: no reading while answers wait */
			if (!cn->closing && cn->out_bytes < c->max_frame)
				ev |= POLLIN;
			if (cn->out_head)
				ev |= POLLOUT;
			cn->pidx = n;
			pfd[n++] = (struct pollfd){.fd = cn->fd, .events = ev};
		}
		r = poll(pfd, n, TICK_MS);
		if (r < 0 && errno != EINTR) {
			tb_log(TB_LOG_ERR, "poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && (pfd[0].revents & POLLIN))
			stop = 1;
		if (r > 0 && (pfd[1].revents & POLLIN))
			deliver(&sv);
		if (r > 0 && (pfd[2].revents & POLLIN))
			accept_one(&sv);
		for (cn = sv.conns; cn && r > 0; cn = cn->next) {
			/* pidx 0: accepted during this round, not polled yet */
			short rev = cn->pidx ? pfd[cn->pidx].revents : 0;

			if (rev & (POLLIN | POLLHUP | POLLERR))
				conn_read(&sv, cn);
			if (!cn->dead && (rev & POLLOUT))
				conn_flush(cn);
		}
		for (cn = sv.conns; cn; cn = cn->next)
			if (cn->out_head && !cn->dead)
				conn_flush(cn);
		sweep(&sv, tb_now_ms());
	}
	tb_log(TB_LOG_NOTICE, "stopping");
	while (sv.conns) {
		cn = sv.conns;
		sv.conns = cn->next;
		conn_free(&sv, cn);
	}
	free(sv.rbuf);
	free(pfd);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
	return 0;
}
