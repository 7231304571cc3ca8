/*
 * teep-driver-check: does a TEE driver keep the contract of
 * <teep-broker/driver.h>? It loads the driver as teep-brokerd does (the
 * broker's own loader), gives it a host that tracks host->alloc, and calls
 * every operation the way the broker does: init and fini on the main thread,
 * the others on a worker thread; session_close() once per returned session;
 * the policy check again after each exchange, until it answers nothing. It
 * frees every buffer the driver hands over, as the broker does, and reports
 * a pointer host->alloc did not return instead of freeing it.
 *
 * Each check runs in a process of its own, which loads and initialises the
 * driver afresh: a crash or a hang fails that check (killed after
 * --timeout), not the checker. One line per check; exit status 0 when every
 * check passed, 1 when one failed, 2 on a usage error.
 *
 * The checks of ABI 1.1 (deadlines, cancellation, concurrency, declared
 * limits) apply to drivers that declare 1.1; a 1.0 driver skips them. Every
 * call has a current call for the 1.1 host services (drvcheck_host.h): the
 * broker's default call_timeout as its deadline, never cancelled, unless a
 * check puts it under pressure.
 */
#include "config.h"
#include "drvcheck_host.h"
#include "loader.h"
#include "tb_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DC_MAX_OPTS        32 /* as [driver:NAME] sections (TB_CONF_MAX_OPTS) */
#define DC_POLICY_ROUNDS   16 /* the broker asks at most this often in a row */
#define DC_MAX_SESSIONS    16
#define DC_DEFAULT_MAX_MSG (1024 * 1024)      /* [tam] max_response_size default */
#define DC_LIMIT_MAX_MSG   (64 * 1024 * 1024) /* its largest value */
#define DC_MEDIA_TYPE      "application/teep+cbor"
/* ABI 1.1: the deadline of an ordinary call ([driver:NAME] call_timeout's
 * default); a call under pressure gets DC_DEADLINE_MS, or is cancelled
 * after DC_CANCEL_MS. A driver that gives up may take DC_TOLERANCE_MS more;
 * DC_BOUND_MS (the broker's fixed margin at shutdown, after which it exits
 * with the call running) is the longest any call may run on once its
 * deadline has passed or it was cancelled. */
#define DC_CALL_TIMEOUT_MS 60000
#define DC_DEADLINE_MS     200
#define DC_CANCEL_MS       100
#define DC_TOLERANCE_MS    100
#define DC_BOUND_MS        2000

struct dc_opts {
	const char *driver;
	struct tb_kv kv[DC_MAX_OPTS];
	size_t n_kv;
	size_t max_message;
	unsigned timeout_s;
	int verbose;
};

/* What a call or an exchange came to, to compare one with another. */
struct dc_outcome {
	int rc;
	int exchange; /* request_ta: asks for a TAM; an exchange: answers the TAM */
	const char *where;
};

/* One check, inside its child process. */
struct dc_ctx {
	const struct dc_opts *o;
	struct tb_loaded_driver ld;
	const struct tb_driver *d; /* &ld.ops: operations past struct_size are NULL */
	struct dc_host host;
	void *inst;
	int fd; /* the report pipe */
	void (*body)(struct dc_ctx *);
	pthread_mutex_t lock;        /* open, n_open: worker threads may be many */
	void *open[DC_MAX_SESSIONS]; /* sessions returned and not closed */
	size_t n_open;
	/* the current call's pressure: deadline after deadline_ms, cancelled
	 * after cancel_ms (0: never before the deadline) */
	uint64_t deadline_ms, cancel_ms;
	_Atomic uint64_t watch_until; /* the running body hangs past this; 0: no limit */
	atomic_int in_flight, peak;   /* operations running at once */
	int done;                     /* threads whose body returned (under lock) */
	pthread_cond_t done_cond;
	char hang_why[300];     /* the problem when watch_until passes */
	uint64_t took_before;   /* ms of the ordinary call before a pressured one */
	struct dc_outcome base; /* an exchange alone */
	uint64_t base_ms;       /* and how long it took */
	pthread_barrier_t barrier;
};

/* The operation the calling thread made last: its current call record. */
static _Thread_local struct dc_call last_call;

/* ---- reporting from the child: "P problem" and "N note" lines ---------- */

static void say(struct dc_ctx *c, char kind, const char *fmt, va_list ap)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "%c ", kind);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	for (int i = 2; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	if (write(c->fd, line, (size_t)n) < 0)
		_exit(3);
}

__attribute__((format(printf, 2, 3))) static void problem(struct dc_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(c, 'P', fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void note(struct dc_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(c, 'N', fmt, ap);
	va_end(ap);
}

static const char *status_name(int rc)
{
	static const char *const names[] = {
	    "TB_OK",           "TB_ERR_NOMEM",  "TB_ERR_INVAL", "TB_ERR_PARSE", "TB_ERR_SIG",
	    "TB_ERR_UNSUP",    "TB_ERR_TOOBIG", "TB_ERR_IO",    "TB_ERR_STATE", "TB_ERR_TEE",
	    "TB_ERR_NOTFOUND", "TB_ERR_BUSY",   "TB_ERR_AGAIN"};
	return rc <= 0 && rc >= TB_ERR_AGAIN ? names[-rc] : "not a tb_status";
}

/* ---- the current call -------------------------------------------------- */

/* Around every operation: the current call the 1.1 services answer for,
 * kept in last_call once it returned; counts the operations at once. */
static void op_begin(struct dc_ctx *c, struct dc_call *k, int cleanup)
{
	uint64_t now = dc_now_ms();
	int n = atomic_fetch_add(&c->in_flight, 1) + 1;
	int peak = atomic_load(&c->peak);

	while (n > peak && !atomic_compare_exchange_weak(&c->peak, &peak, n))
		;
	memset(k, 0, sizeof(*k));
	k->start = now;
	k->cleanup = cleanup;
	k->deadline = now + (cleanup || !c->deadline_ms ? DC_CALL_TIMEOUT_MS : c->deadline_ms);
	k->cancel_at = !cleanup && c->cancel_ms ? now + c->cancel_ms : 0;
	dc_call_begin(k);
}

static void op_end(struct dc_ctx *c, struct dc_call *k)
{
	dc_call_end();
	k->end = dc_now_ms();
	atomic_fetch_sub(&c->in_flight, 1);
	last_call = *k;
}

/* ---- sessions and outputs ---------------------------------------------- */

static void session_opened(struct dc_ctx *c, const char *op, void *s, void *current)
{
	if (s == current) /* the exchange's own session again: the broker keeps it */
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_open; i++) {
		if (c->open[i] == s) {
			pthread_mutex_unlock(&c->lock);
			problem(c,
			        "%s returned session %p again while it was open (the broker would "
			        "close it twice)",
			        op, s);
			return;
		}
	}
	if (c->n_open < DC_MAX_SESSIONS)
		c->open[c->n_open++] = s;
	pthread_mutex_unlock(&c->lock);
}

/* session_close(), exactly once for each session the driver returned. */
static void session_close(struct dc_ctx *c, void *s)
{
	struct dc_call k;
	int found = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_open && !found; i++) {
		if (c->open[i] == s) {
			c->open[i] = c->open[--c->n_open];
			found = 1;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (found && c->d->session_close) {
		op_begin(c, &k, 1);
		c->d->session_close(c->inst, s);
		op_end(c, &k);
	}
}

/* Free a buffer the driver handed over, as the broker does; a pointer that
 * host->alloc did not return is reported and left alone. */
static void release(struct dc_ctx *c, const char *op, const char *member, void *p)
{
	if (p && dc_alloc_release(p))
		problem(c,
		        "%s: out->%s %p was not allocated with host->alloc (or was freed already): "
		        "the broker would free it",
		        op, member, p);
}

static int zeroed(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/*
 * What an operation returned: its status and *out. Checks them, frees the
 * buffers, keeps the session; returns 1 when it asks for a TAM exchange.
 * msg_op: process_teep_message, where tam_uri is not an output. current:
 * the session of the exchange the call belongs to, which may come back.
 */
static int take_out(struct dc_ctx *c, const char *op, int rc, struct tb_agent_out *out, int msg_op,
                    void *current, void **session)
{
	size_t size;
	int exchange = 0;

	*session = NULL;
	if (rc > 0 || rc < TB_ERR_NOTFOUND)
		problem(c, "%s returned %d, not a tb_status", op, rc);
	if (rc != TB_OK && (out->tam_uri || out->msg || out->session))
		problem(c,
		        "%s left out->%s set on error return %s (%d): leave every output NULL "
		        "when failing",
		        op,
		        out->tam_uri ? "tam_uri"
		        : out->msg   ? "msg"
		                     : "session",
		        status_name(rc), rc);
	if (!zeroed(out->reserved, sizeof(out->reserved)))
		problem(c, "%s wrote out->reserved", op);
	if (out->msg && !out->msg_len)
		problem(c, "%s set out->msg with msg_len 0", op);
	if (!out->msg && out->msg_len)
		problem(c, "%s set out->msg_len %zu without out->msg", op, out->msg_len);
	if (out->msg && dc_alloc_owned(out->msg, &size) && size < out->msg_len)
		problem(c, "%s: out->msg_len %zu is larger than the buffer (%zu bytes)", op,
		        out->msg_len, size);
	if (msg_op && out->tam_uri && c->ld.drv->abi_minor < 1)
		problem(c,
		        "%s set out->tam_uri, which the broker ignores here (and so never "
		        "frees)",
		        op);
	if (!msg_op && out->msg && !out->tam_uri)
		problem(c, "%s set out->msg without out->tam_uri (where would it go?)", op);
	if (!msg_op && out->tam_uri && dc_alloc_owned(out->tam_uri, &size)) {
		if (!memchr(out->tam_uri, 0, size))
			problem(c, "%s: out->tam_uri is not NUL-terminated within its buffer", op);
		else if (strncmp(out->tam_uri, "http://", 7) &&
		         strncmp(out->tam_uri, "https://", 8))
			problem(c, "%s: out->tam_uri \"%.100s\" is not an http:// or https:// URI",
			        op, out->tam_uri);
	}
	if (out->media_type && strnlen(out->media_type, 256) == 256)
		problem(c, "%s: out->media_type is not a string of under 256 bytes", op);
	if (rc == TB_OK && !msg_op && out->tam_uri)
		exchange = 1;
	release(c, op, "tam_uri", out->tam_uri);
	release(c, op, "msg", out->msg);
	/* The broker keeps a session even from a failed call, and closes it. */
	if (out->session) {
		session_opened(c, op, out->session, current);
		*session = out->session;
	}
	memset(out, 0, sizeof(*out));
	return exchange;
}

static const char *what(int rc, int exchange, const void *msg)
{
	if (rc != TB_OK)
		return status_name(rc);
	if (exchange)
		return msg ? "a TAM exchange with a first message" : "a TAM exchange";
	return "nothing to do";
}

/* ---- calls ------------------------------------------------------------- */

static const uint8_t dc_component[16] = {0x8d, 0x82, 0x57, 0x3a, 0x92, 0x6d, 0x47, 0x54,
                                         0x93, 0x53, 0x32, 0xdc, 0x29, 0x99, 0x7f, 0x74};

static _Thread_local int last_rc; /* the status of the last call_ta() */

static int call_ta(struct dc_ctx *c, int unrequest, int largest, void **session, int quiet)
{
	static uint8_t big[8][64];
	struct tb_bytes segs[8];
	struct tb_ta_request req = {.struct_size = sizeof(req), .app_id = "teep-driver-check"};
	struct tb_agent_out out = {0};
	const char *op = unrequest ? "unrequest_ta" : "request_ta";
	int rc, ex;

	if (largest) {
		/* what the broker lets through: 8 segments of 64 bytes */
		for (int i = 0; i < 8; i++) {
			memset(big[i], 0xa0 + i, sizeof(big[i]));
			segs[i] = (struct tb_bytes){big[i], sizeof(big[i])};
		}
		req.n_segments = 8;
		req.tam_uri = "http://127.0.0.1:9/tam";
		req.app_id = "app-id-of-sixty-four-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	} else {
		segs[0] = (struct tb_bytes){dc_component, sizeof(dc_component)};
		req.n_segments = 1;
	}
	req.component_id = segs;
	struct dc_call k;
	op_begin(c, &k, 0);
	rc = (unrequest ? c->d->unrequest_ta : c->d->request_ta)(c->inst, &req, &out);
	op_end(c, &k);
	const void *msg = out.msg;
	last_rc = rc;
	ex = take_out(c, op, rc, &out, 0, NULL, session);
	if (!quiet)
		note(c, "%s", what(rc, ex, msg));
	return ex;
}

static int call_policy(struct dc_ctx *c, void *current, void **session, int *rcp)
{
	struct tb_agent_out out = {0};
	struct dc_call k;
	op_begin(c, &k, 0);
	int rc = c->d->request_policy_check(c->inst, &out);
	op_end(c, &k);
	*rcp = rc;
	return take_out(c, "request_policy_check", rc, &out, 0, current, session);
}

/* An exchange to talk in: from request_ta, else from the policy check.
 * Says where it came from; *session is NULL when the driver opens none. */
static const char *open_exchange(struct dc_ctx *c, void **session)
{
	int rc;

	if (call_ta(c, 0, 0, session, 1))
		return "in an exchange of request_ta";
	session_close(c, *session);
	if (call_policy(c, NULL, session, &rc))
		return "in an exchange of request_policy_check";
	session_close(c, *session);
	*session = NULL;
	return "with session NULL, as the driver opens no exchange";
}

/* process_teep_message on an exchange, with msg, then the exchange ends. */
static void message(struct dc_ctx *c, const uint8_t *msg, size_t len)
{
	struct tb_agent_out out = {0};
	void *s, *ns;

	const char *where = open_exchange(c, &s);
	struct dc_call k;
	op_begin(c, &k, 0);
	int rc = c->d->process_teep_message(c->inst, s, DC_MEDIA_TYPE, msg, len, &out);
	op_end(c, &k);
	const void *answer = out.msg;
	take_out(c, "process_teep_message", rc, &out, 1, s, &ns);
	if (ns && ns != s) /* the broker keeps the new one, closes the old */
		session_close(c, s);
	note(c, "%zu bytes %s: %s", len, where,
	     rc != TB_OK ? status_name(rc)
	     : answer    ? "a message for the TAM"
	                 : "the end");
	session_close(c, ns ? ns : s);
}

/* ---- the checks -------------------------------------------------------- */

static void body_none(struct dc_ctx *c)
{
	(void)c;
}

static void body_request_ta(struct dc_ctx *c)
{
	void *s;
	call_ta(c, 0, 0, &s, 0);
	session_close(c, s);
}

static void body_request_quiet(struct dc_ctx *c)
{
	void *s;
	call_ta(c, 0, 0, &s, 1);
	session_close(c, s);
}

static void body_request_ta_largest(struct dc_ctx *c)
{
	void *s;
	call_ta(c, 0, 1, &s, 0);
	session_close(c, s);
}

static void body_unrequest_ta(struct dc_ctx *c)
{
	void *s;
	call_ta(c, 1, 0, &s, 0);
	session_close(c, s);
}

static void body_policy(struct dc_ctx *c)
{
	int rc = TB_OK, n;
	void *s, *prev = NULL;

	/* Each exchange it starts ends normally (the TAM answers nothing),
	 * then the broker asks again; as the broker does, the session of
	 * the last exchange is closed once the next call has returned (when
	 * it returns another), or at the end. */
	for (n = 0; n < DC_POLICY_ROUNDS; n++) {
		int ex = call_policy(c, prev, &s, &rc);
		if (s && s != prev) {
			session_close(c, prev);
			prev = s;
		}
		if (!ex)
			break;
	}
	session_close(c, prev);
	if (n == DC_POLICY_ROUNDS)
		problem(c,
		        "request_policy_check named a TAM %d times in a row and never answered "
		        "nothing (the broker stops asking after %d)",
		        n, DC_POLICY_ROUNDS);
	else
		note(c, "%d exchange%s, then %s", n, n == 1 ? "" : "s",
		     rc == TB_OK ? "nothing" : status_name(rc));
}

static void body_message_empty(struct dc_ctx *c)
{
	static const uint8_t none[1];
	message(c, none, 0);
}

/* n bytes shaped like a TEEP message, a COSE_Sign1 that does not verify. */
static void fake_sign1(uint8_t *m, size_t n)
{
	memset(m, 0x5a, n);
	if (n >= 128) {
		size_t pl = n - 9 - 66;
		memcpy(m, "\xd2\x84\x40\xa0\x5a", 5);
		m[5] = (uint8_t)(pl >> 24), m[6] = (uint8_t)(pl >> 16);
		m[7] = (uint8_t)(pl >> 8), m[8] = (uint8_t)pl;
		m[n - 66] = 0x58, m[n - 65] = 0x40;
	}
}

/* A COSE_Sign1 of max_message bytes that does not verify: as large as the
 * broker accepts from a TAM by default, and shaped like a TEEP message. */
static void body_message_max(struct dc_ctx *c)
{
	size_t n = c->o->max_message;
	uint8_t *m = malloc(n);

	if (!m) {
		problem(c, "cannot allocate %zu bytes", n);
		return;
	}
	fake_sign1(m, n);
	message(c, m, n);
	free(m);
}

static void body_process_error(struct dc_ctx *c)
{
	void *s;

	struct dc_call k;

	note(c, "%s", open_exchange(c, &s));
	op_begin(c, &k, 1);
	c->d->process_error(c->inst, s);
	op_end(c, &k);
	session_close(c, s);
}

static void body_sessions(struct dc_ctx *c)
{
	void *a, *b;

	/* two exchanges at once, as with two apps: two distinct sessions */
	open_exchange(c, &a);
	open_exchange(c, &b);
	if (!a && !b)
		note(c, "the driver returned no session");
	session_close(c, a);
	session_close(c, b);
}

/* ---- running one check in a child -------------------------------------- */

static char poison;

/* Load and init as the broker does; 0 on success, problems reported. */
static int setup(struct dc_ctx *c)
{
	char err[600];
	int rc;

	dc_alloc_reset();
	dc_host_init(&c->host, c->o->verbose);
	if (tb_loader_open(c->o->driver, PKGLIBDIR "/drivers", &c->ld, err, sizeof(err))) {
		problem(c, "%s", err);
		return -1;
	}
	c->d = &c->ld.ops;
	c->inst = &poison;
	rc = c->d->init(&c->host.host, c->o->kv, c->o->n_kv, &c->inst);
	if (rc != TB_OK) {
		problem(c, "init failed with %s (%d): %s", status_name(rc), rc,
		        c->host.last_err[0] ? c->host.last_err
		                            : "and logged no reason (log one through host->log)");
		tb_loader_close(&c->ld);
		return -1;
	}
	if (c->inst == &poison)
		problem(c, "init returned TB_OK without setting *instance");
	return 0;
}

/* fini, then every buffer of host->alloc must be free again. */
static void teardown(struct dc_ctx *c, int unload)
{
	struct dc_alloc_stats st;

	for (size_t i = c->n_open; i > 0; i--)
		session_close(c, c->open[i - 1]);
	c->d->fini(c->inst);
	dc_alloc_stats(&st);
	if (st.live)
		problem(c,
		        "%zu buffer%s (%zu bytes) from host->alloc never freed after fini: the "
		        "driver leaks what it allocated with host->alloc",
		        st.live, st.live == 1 ? "" : "s", st.live_bytes);
	if (st.bad_frees)
		problem(c,
		        "the driver called host->free on %p, which host->alloc did not return (or "
		        "had freed already)%s",
		        st.bad_free, st.bad_frees > 1 ? ", and more" : "");
	if (unload)
		tb_loader_close(&c->ld);
}

static void *worker(void *arg)
{
	struct dc_ctx *c = arg;
	c->body(c);
	return NULL;
}

/* The body on a thread of its own, as the broker's worker calls it. */
static void run_body(struct dc_ctx *c)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker, c)) {
		problem(c, "cannot start a worker thread");
		return;
	}
	pthread_join(t, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* load, init, a request, fini, unload: twice. */
static void check_reload(struct dc_ctx *c)
{
	int fds[2] = {0, 0};

	c->body = body_request_quiet;
	for (int round = 0; round < 2; round++) {
		if (setup(c))
			return;
		run_body(c);
		teardown(c, 1);
		fds[round] = count_fds();
	}
	if (fds[0] >= 0 && fds[1] > fds[0])
		problem(
		    c,
		    "%d more file descriptor%s open after the second load, init, fini and unload "
		    "than after the first: fini leaks them",
		    fds[1] - fds[0], fds[1] - fds[0] == 1 ? "" : "s");
	else
		note(c, "loaded, initialised, finished and unloaded twice");
}

static void check_load(struct dc_ctx *c)
{
	char err[600];
	const struct tb_driver *d;

	if (tb_loader_open(c->o->driver, PKGLIBDIR "/drivers", &c->ld, err, sizeof(err))) {
		problem(c, "%s", err);
		return;
	}
	d = c->ld.drv;
	if (!d->version || !d->tee_kind)
		problem(c, "the descriptor has no %s", d->version ? "tee_kind" : "version");
	if (d->flags)
		problem(c, "flags 0x%x: ABI %u.%u defines none, they must be 0", d->flags,
		        d->abi_major, d->abi_minor);
	if (d->abi_minor == TB_DRIVER_ABI_MINOR && d->struct_size == sizeof(*d) &&
	    !zeroed(d->reserved, sizeof(d->reserved)))
		problem(c, "the descriptor's reserved members are not zero");
	note(c, "\"%s\" %s (%s), ABI %u.%u, descriptor %u bytes%s", d->name,
	     d->version ? d->version : "?", d->tee_kind ? d->tee_kind : "?", d->abi_major,
	     d->abi_minor, d->struct_size,
	     c->ld.ops.session_close ? "" : ", no session_close (optional)");
	tb_loader_close(&c->ld);
}

/* ABI 1.1: what the descriptor declares for the broker's worker threads. */
static void check_limits(struct dc_ctx *c)
{
	char err[600];
	const struct tb_driver *d;

	if (tb_loader_open(c->o->driver, PKGLIBDIR "/drivers", &c->ld, err, sizeof(err))) {
		problem(c, "%s", err);
		return;
	}
	d = c->ld.drv;
	if (d->struct_size < offsetof(struct tb_driver, reserved1) + sizeof(d->reserved1)) {
		problem(c, "an ABI 1.1 descriptor of %u bytes has no max_concurrency",
		        d->struct_size);
	} else {
		if (d->max_concurrency > TB_DRIVER_MAX_CONCURRENCY)
			problem(c, "max_concurrency %u is above %d (the broker caps it)",
			        d->max_concurrency, TB_DRIVER_MAX_CONCURRENCY);
		if (d->reserved1)
			problem(c, "reserved1 is not zero");
		note(c, "max_concurrency %u: %u call(s) at a time", d->max_concurrency,
		     d->max_concurrency ? d->max_concurrency : 1);
	}
	tb_loader_close(&c->ld);
}

/* ---- ABI 1.2: answer_now ------------------------------------------------ */

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* answer_now runs on the broker's event loop: it must be quick, and when it
 * says "nothing to do" the full operation must say the same. */
static void body_answer_now(struct dc_ctx *c)
{
	static const char *const ops[] = {"request_ta", "unrequest_ta"};

	if (c->d->struct_size < offsetof(struct tb_driver, answer_now) + sizeof(void *) ||
	    !c->d->answer_now) {
		note(c, "not provided (optional): every request takes a worker thread");
		return;
	}
	for (int u = 0; u < 2; u++) {
		struct tb_bytes seg = {dc_component, sizeof(dc_component)};
		struct tb_ta_request req = {.struct_size = sizeof(req),
		                            .component_id = &seg,
		                            .n_segments = 1,
		                            .app_id = "teep-driver-check"};
		uint64_t us[51];
		int rc = TB_OK;
		for (int i = 0; i < 51; i++) {
			uint64_t t0 = mono_us();
			int r = c->d->answer_now(c->inst, u ? TB_OP_UNREQUEST_TA : TB_OP_REQUEST_TA,
			                         &req);
			us[i] = mono_us() - t0;
			if (i && r != rc)
				problem(c, "%s: answer_now said %s, then %s for the same request",
				        ops[u], status_name(rc), status_name(r));
			rc = r;
		}
		/* the median of 51 calls: a machine's hiccup is not the driver's */
		for (int i = 1; i < 51; i++)
			for (int j = i; j > 0 && us[j - 1] > us[j]; j--) {
				uint64_t t = us[j];
				us[j] = us[j - 1];
				us[j - 1] = t;
			}
		if (us[25] > 1000)
			problem(c,
			        "%s: answer_now took %llu us (median of 51) on the broker's event "
			        "loop; it must not block (at most 1000 us)",
			        ops[u], (unsigned long long)us[25]);
		if (rc != TB_OK && rc != TB_ERR_AGAIN)
			note(c, "%s: answer_now returned %s (taken as TB_ERR_AGAIN)", ops[u],
			     status_name(rc));
		if (rc != TB_OK) {
			note(c, "%s: the full call is needed (%llu us)", ops[u],
			     (unsigned long long)us[25]);
			continue;
		}
		void *s = NULL;
		int ex = call_ta(c, u, 0, &s, 1);
		if (ex || last_rc != TB_OK)
			problem(c, "%s: answer_now said nothing to do, but %s then gave %s", ops[u],
			        ops[u], ex ? "a TAM exchange" : status_name(last_rc));
		else
			note(c, "%s: answered at once (%llu us), as the full call does", ops[u],
			     (unsigned long long)us[25]);
		session_close(c, s);
	}
}

/* ---- ABI 1.1: deadlines, cancellation, concurrency ---------------------- */

static int same(const struct dc_outcome *a, const struct dc_outcome *b)
{
	return a->rc == b->rc && a->exchange == b->exchange && a->where == b->where;
}

static const char *outcome(const struct dc_outcome *o)
{
	return what(o->rc, o->exchange, NULL);
}

static struct dc_outcome request_once(struct dc_ctx *c)
{
	struct dc_outcome r = {0};
	void *s;

	r.exchange = call_ta(c, 0, 0, &s, 1);
	r.rc = last_rc;
	struct dc_call k = last_call; /* the request's, not the close's */
	session_close(c, s);
	last_call = k;
	return r;
}

/* One exchange as an app's: opened, a TAM message (that does not verify)
 * processed, closed. Quiet: its outcome tells. */
static struct dc_outcome exchange_once(struct dc_ctx *c)
{
	struct dc_outcome r = {0};
	struct tb_agent_out out = {0};
	struct dc_call k;
	uint8_t m[256];
	void *s, *ns;

	fake_sign1(m, sizeof(m));
	r.where = open_exchange(c, &s);
	op_begin(c, &k, 0);
	r.rc = c->d->process_teep_message(c->inst, s, DC_MEDIA_TYPE, m, sizeof(m), &out);
	op_end(c, &k);
	r.exchange = r.rc == TB_OK && out.msg;
	take_out(c, "process_teep_message", r.rc, &out, 1, s, &ns);
	if (ns && ns != s)
		session_close(c, s);
	session_close(c, ns ? ns : s);
	return r;
}

static void *watched_worker(void *arg)
{
	struct dc_ctx *c = arg;

	c->body(c);
	pthread_mutex_lock(&c->lock);
	c->done++;
	pthread_cond_signal(&c->done_cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/*
 * The body on n worker threads at once, watched: when they have not all
 * returned by c->watch_until (0: no limit but --timeout), the problem in
 * c->hang_why is reported and the check ends there, as the broker neither
 * calls fini nor unloads a driver while one of its calls runs. 0 when
 * every thread returned.
 */
static int run_watched(struct dc_ctx *c, unsigned n)
{
	pthread_t t[TB_DRIVER_MAX_CONCURRENCY];
	unsigned started = 0;

	c->done = 0;
	for (; started < n; started++)
		if (pthread_create(&t[started], NULL, watched_worker, c))
			break;
	if (started < n) {
		problem(c, "cannot start %u worker threads", n);
		_exit(0);
	}
	pthread_mutex_lock(&c->lock);
	while (c->done < (int)n) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->done_cond, &c->lock, &ts);
		uint64_t until = atomic_load(&c->watch_until);
		if (c->done < (int)n && until && dc_now_ms() > until) {
			pthread_mutex_unlock(&c->lock);
			problem(c, "%s", c->hang_why);
			_exit(0);
		}
	}
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* One request_ta under pressure (c->deadline_ms or c->cancel_ms set), with
 * an ordinary one before and after. It must return within DC_BOUND_MS of
 * being cancelled, with a status and outputs as always; stopping early
 * returns an error; and it must leave the driver as it was: the call after
 * it comes to what the call before it came to. *k: the call's record. */
static void pressured_request(struct dc_ctx *c, const char *pressure, struct dc_call *k,
                              struct dc_outcome *before, struct dc_outcome *under)
{
	uint64_t deadline = c->deadline_ms, cancel = c->cancel_ms;
	uint64_t stop = cancel ? cancel : deadline;

	c->deadline_ms = c->cancel_ms = 0;
	*before = request_once(c);
	uint64_t took_before = last_call.end - last_call.start;
	snprintf(c->hang_why, sizeof(c->hang_why),
	         "request_ta did not return within %d ms after %s (call_cancelled() said so "
	         "from then on): it hangs, and the broker would exit with the call running "
	         "(no fini, no session_close)",
	         DC_BOUND_MS, pressure);
	atomic_store(&c->watch_until, dc_now_ms() + stop + DC_BOUND_MS);
	c->deadline_ms = deadline;
	c->cancel_ms = cancel;
	*under = request_once(c);
	*k = last_call;
	c->deadline_ms = c->cancel_ms = 0;
	atomic_store(&c->watch_until, 0);
	struct dc_outcome after = request_once(c);

	uint64_t took = k->end - k->start;
	if (k->saw_cancel && under->rc == TB_OK && !under->exchange && before->exchange &&
	    took + DC_TOLERANCE_MS < took_before)
		problem(c,
		        "request_ta stopped early after %s and returned TB_OK with nothing to do "
		        "(the broker takes that as the Agent's answer): return an error "
		        "(TB_ERR_TEE) when stopping early",
		        pressure);
	if (!same(before, &after))
		problem(c,
		        "the request_ta after the one under pressure (%s) came to %s, where the "
		        "one before it came to %s: the stopped call left the driver in another "
		        "state",
		        pressure, outcome(&after), outcome(before));
	if (took > stop + DC_BOUND_MS)
		problem(c, "%s", c->hang_why);
	c->took_before = took_before;
}

static void body_deadline(struct dc_ctx *c)
{
	struct dc_outcome before, under;
	struct dc_call k;
	char pressure[64];

	snprintf(pressure, sizeof(pressure), "its %d ms deadline had passed", DC_DEADLINE_MS);
	c->deadline_ms = DC_DEADLINE_MS;
	pressured_request(c, pressure, &k, &before, &under);
	unsigned long long took = k.end - k.start,
	                   over = took > DC_DEADLINE_MS ? took - DC_DEADLINE_MS : 0;
	int asked = k.asked_deadline || k.asked_cancelled;
	if (over > DC_TOLERANCE_MS && over <= DC_BOUND_MS && !asked &&
	    c->took_before > DC_DEADLINE_MS + DC_TOLERANCE_MS)
		problem(c,
		        "request_ta took %llu ms with a deadline of %d ms (%llu ms without one) "
		        "and never asked call_deadline_ms() or call_cancelled(): a driver of ABI "
		        "1.1 that waits for its TEE gives up by the deadline (driver.h)",
		        took, DC_DEADLINE_MS, (unsigned long long)c->took_before);
	else if (over > DC_TOLERANCE_MS)
		note(c,
		     "request_ta with a %d ms deadline returned %s %llu ms past it (%s, and its "
		     "TEE did not stop sooner)",
		     DC_DEADLINE_MS, status_name(under.rc), over,
		     k.asked_cancelled  ? "it asked call_cancelled()"
		     : k.asked_deadline ? "it asked call_deadline_ms()"
		                        : "slower than it is without a deadline");
	else if (c->took_before <= DC_DEADLINE_MS)
		note(c,
		     "request_ta returned %s in %llu ms, within its %d ms deadline, as it takes "
		     "%llu "
		     "ms without one (a slower TEE checks more)",
		     outcome(&under), took, DC_DEADLINE_MS, (unsigned long long)c->took_before);
	else
		note(c,
		     "request_ta gave up by its %d ms deadline: %s after %llu ms (%llu ms without "
		     "a deadline); the next call works",
		     DC_DEADLINE_MS, status_name(under.rc), took,
		     (unsigned long long)c->took_before);
}

static void body_cancel(struct dc_ctx *c)
{
	struct dc_outcome before, under;
	struct dc_call k;
	char pressure[64];

	snprintf(pressure, sizeof(pressure), "it was cancelled at %d ms", DC_CANCEL_MS);
	c->cancel_ms = DC_CANCEL_MS;
	pressured_request(c, pressure, &k, &before, &under);
	unsigned long long took = k.end - k.start,
	                   over = took > DC_CANCEL_MS ? took - DC_CANCEL_MS : 0;
	if (c->took_before <= DC_CANCEL_MS + DC_TOLERANCE_MS && over <= DC_TOLERANCE_MS)
		note(c,
		     "request_ta returned %s in %llu ms, as it takes %llu ms uncancelled (a slower "
		     "TEE checks more)",
		     outcome(&under), took, (unsigned long long)c->took_before);
	else if (over <= DC_TOLERANCE_MS)
		note(c,
		     "request_ta stopped %llu ms after it was cancelled, with %s (%llu ms "
		     "uncancelled); nothing leaked and the next call works",
		     over, status_name(under.rc), (unsigned long long)c->took_before);
	else
		note(c,
		     "request_ta did not stop early: %s %llu ms after it was cancelled, %s "
		     "call_cancelled() (driver.h: it may stop); nothing leaked and the next call "
		     "works",
		     outcome(&under), over, k.asked_cancelled ? "though it asked" : "never asking");
}

/* Deadlines and cancellation: a body under pressure, watched. */
static void check_pressure(struct dc_ctx *c, void (*body)(struct dc_ctx *))
{
	if (setup(c))
		return;
	c->body = body;
	run_watched(c, 1);
	teardown(c, 1);
}

static void check_deadlines(struct dc_ctx *c)
{
	check_pressure(c, body_deadline);
}

static void check_cancellation(struct dc_ctx *c)
{
	check_pressure(c, body_cancel);
}

static void body_baseline(struct dc_ctx *c)
{
	uint64_t t0 = dc_now_ms();
	c->base = exchange_once(c);
	c->base_ms = dc_now_ms() - t0;
}

/* One of the concurrent exchanges: all start together. */
static void body_concurrent(struct dc_ctx *c)
{
	pthread_barrier_wait(&c->barrier);
	struct dc_outcome r = exchange_once(c);
	if (!same(&r, &c->base))
		problem(c,
		        "an exchange run alongside others came to \"%s\" %s, where alone it came "
		        "to \"%s\" %s",
		        outcome(&r), r.where, outcome(&c->base), c->base.where);
}

static void body_serial(struct dc_ctx *c)
{
	for (int i = 0; i < 2; i++) {
		struct dc_outcome r = exchange_once(c);
		if (!same(&r, &c->base))
			problem(c, "a second exchange came to \"%s\", the first to \"%s\"",
			        outcome(&r), outcome(&c->base));
	}
}

/* The declared max_concurrency N: N exchanges at once, on N threads, each
 * like one alone; for N = 1, never two calls at once. */
static void check_concurrency(struct dc_ctx *c)
{
	const struct tb_driver *d;
	unsigned n;

	if (setup(c))
		return;
	d = c->ld.drv;
	n = d->struct_size >= offsetof(struct tb_driver, reserved1) ? d->max_concurrency : 1;
	n = n == 0 ? 1 : n > TB_DRIVER_MAX_CONCURRENCY ? TB_DRIVER_MAX_CONCURRENCY : n;
	c->body = body_baseline;
	run_watched(c, 1);
	uint64_t t0 = dc_now_ms();
	atomic_store(&c->peak, 0);
	if (n == 1) {
		c->body = body_serial;
		run_watched(c, 1);
	} else {
		pthread_barrier_init(&c->barrier, NULL, n);
		snprintf(c->hang_why, sizeof(c->hang_why),
		         "%u exchanges at once (max_concurrency %u) did not all end within %d ms "
		         "plus %u times what one takes alone: a call hangs (a deadlock?)",
		         n, n, DC_BOUND_MS, 3 * n);
		atomic_store(&c->watch_until,
		             t0 + DC_BOUND_MS + 3 * (uint64_t)n * (c->base_ms ? c->base_ms : 1));
		c->body = body_concurrent;
		run_watched(c, n);
		atomic_store(&c->watch_until, 0);
		pthread_barrier_destroy(&c->barrier);
	}
	int peak = atomic_load(&c->peak);
	if (n == 1 && peak > 1)
		problem(c, "the checker made %d calls at once of a driver that takes one", peak);
	else if (n == 1)
		note(c, "max_concurrency 1: two exchanges one after the other, never two calls at "
		        "once");
	else
		note(c,
		     "%u exchanges on %u threads at once (up to %d calls ran at the same time), "
		     "each as alone: %s, in %llu ms",
		     n, n, peak, outcome(&c->base), (unsigned long long)(dc_now_ms() - t0));
	teardown(c, 1);
}

struct dc_check {
	const char *name;
	unsigned min_minor;             /* the ABI minor a driver declares for it to apply */
	void (*body)(struct dc_ctx *);  /* on the worker, between init and fini */
	void (*whole)(struct dc_ctx *); /* or the whole check, in the child */
	int needs_init;
};

static const struct dc_check checks[] = {
    {"load", 0, NULL, check_load, 0},
    {"init and fini", 0, body_none, NULL, 0},
    {"request_ta", 0, body_request_ta, NULL, 1},
    {"request_ta (largest component id)", 0, body_request_ta_largest, NULL, 1},
    {"unrequest_ta", 0, body_unrequest_ta, NULL, 1},
    {"request_policy_check until nothing", 0, body_policy, NULL, 1},
    {"process_teep_message (empty message)", 0, body_message_empty, NULL, 1},
    {"process_teep_message (largest message)", 0, body_message_max, NULL, 1},
    {"process_error", 0, body_process_error, NULL, 1},
    {"sessions", 0, body_sessions, NULL, 1},
    {"unload and reload", 0, NULL, check_reload, 1},
    /* ABI 1.1: checks are added here as the ABI gains them */
    {"declared limits", 1, NULL, check_limits, 0},
    {"deadlines", 1, NULL, check_deadlines, 1},
    {"cancellation", 1, NULL, check_cancellation, 1},
    {"concurrency", 1, NULL, check_concurrency, 1},
    /* ABI 1.2 */
    {"answer_now", 2, body_answer_now, NULL, 1},
};

static void child(const struct dc_opts *o, const struct dc_check *ck, int fd)
{
	struct dc_ctx c = {.o = o,
	                   .fd = fd,
	                   .lock = PTHREAD_MUTEX_INITIALIZER,
	                   .done_cond = PTHREAD_COND_INITIALIZER};

	signal(SIGALRM, SIG_DFL);
	alarm(o->timeout_s);
	if (ck->whole) {
		ck->whole(&c);
	} else if (!setup(&c)) {
		c.body = ck->body;
		run_body(&c);
		teardown(&c, 1);
	}
	/* _exit: the driver's atexit handlers and leftovers are not the check's */
	_exit(0);
}

/* ---- the parent: one line per check ------------------------------------ */

struct dc_result {
	int failed;
	char problems[1024];
	char notes[512];
};

static void append(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(dst);
	if (n + 3 >= cap)
		return;
	snprintf(dst + n, cap - n, "%s%s", n ? "; " : "", s);
}

static void parse_lines(struct dc_result *r, char *buf)
{
	for (char *line = buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		if (line[0] == 'P' && line[1] == ' ') {
			r->failed = 1;
			append(r->problems, sizeof(r->problems), line + 2);
		} else if (line[0] == 'N' && line[1] == ' ') {
			append(r->notes, sizeof(r->notes), line + 2);
		}
	}
}

static void run_check(const struct dc_opts *o, const struct dc_check *ck, struct dc_result *r)
{
	char buf[16384];
	size_t len = 0;
	int p[2], status = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	fflush(NULL);
	if (pipe(p) || (pid = fork()) < 0) {
		r->failed = 1;
		snprintf(r->problems, sizeof(r->problems), "cannot run: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		child(o, ck, p[1]);
	}
	close(p[1]);
	/* read until the child is gone; it has alarm(timeout), and is killed
	 * outright a little after that should anything hold the pipe open */
	uint64_t deadline = tb_now_ms() + (uint64_t)o->timeout_s * 1000 + 5000;
	int done = 0;
	for (;;) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int n = poll(&pf, 1, 100);
		if (n > 0) {
			ssize_t got = read(p[0], buf + len, sizeof(buf) - 1 - len);
			if (got > 0) {
				len += (size_t)got;
				if (len < sizeof(buf) - 1)
					continue;
			}
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0 || len == sizeof(buf) - 1) {
				/* EOF, or enough said */
				if (!done && waitpid(pid, &status, 0) == pid)
					done = 1;
				break;
			}
		}
		if (!done && waitpid(pid, &status, WNOHANG) == pid)
			done = 1;
		if (done && n == 0)
			break;
		if (!done && tb_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			done = 1;
		}
	}
	close(p[0]);
	buf[len] = 0;
	parse_lines(r, buf);
	if (WIFSIGNALED(status)) {
		char why[160];
		int sig = WTERMSIG(status);
		if (sig == SIGALRM || sig == SIGKILL)
			snprintf(why, sizeof(why), "did not finish within %u s: a call hangs",
			         o->timeout_s);
		else
			snprintf(why, sizeof(why), "crashed (signal %d, %s)", sig, strsignal(sig));
		r->failed = 1;
		append(r->problems, sizeof(r->problems), why);
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		char why[160];
		snprintf(why, sizeof(why),
		         "the process exited with status %d during the check (the driver, or "
		         "a sanitizer, ended it)",
		         WEXITSTATUS(status));
		r->failed = 1;
		append(r->problems, sizeof(r->problems), why);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: teep-driver-check [-o KEY=VALUE]... [-m SIZE] [-t SECONDS] [-v] DRIVER\n"
	        "Check that a TEE driver keeps the teep-broker driver ABI.\n"
	        "  DRIVER            a path to a .so, or a name in %s/drivers\n"
	        "  -o KEY=VALUE      an option for init(), as a line of its [driver:NAME]\n"
	        "                    section (repeatable, at most %d)\n"
	        "  -m, --max-message SIZE  the largest TAM message to pass (default 1M, at\n"
	        "                    most 64M: [tam] max_response_size)\n"
	        "  -t, --timeout SECONDS   per check (default 30)\n"
	        "  -v, --verbose     print the driver's log lines\n"
	        "Exit status: 0 every check passed, 1 a check failed, 2 usage.\n",
	        PKGLIBDIR, DC_MAX_OPTS);
}

static int parse_args(int argc, char **argv, struct dc_opts *o)
{
	static const struct option longopts[] = {{"option", required_argument, NULL, 'o'},
	                                         {"max-message", required_argument, NULL, 'm'},
	                                         {"timeout", required_argument, NULL, 't'},
	                                         {"verbose", no_argument, NULL, 'v'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	uint64_t v;
	int ch;

	o->max_message = DC_DEFAULT_MAX_MSG;
	o->timeout_s = 30;
	while ((ch = getopt_long(argc, argv, "o:m:t:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->n_kv == DC_MAX_OPTS) {
				fprintf(stderr,
				        "teep-driver-check: -o takes KEY=VALUE, at most %d\n",
				        DC_MAX_OPTS);
				return -1;
			}
			*eq = 0;
			o->kv[o->n_kv++] = (struct tb_kv){optarg, eq + 1};
			break;
		}
		case 'm':
			if (tb_parse_size(optarg, &v) || v < 1 || v > DC_LIMIT_MAX_MSG) {
				fprintf(stderr, "teep-driver-check: --max-message takes 1..64M\n");
				return -1;
			}
			o->max_message = (size_t)v;
			break;
		case 't':
			if (tb_parse_size(optarg, &v) || v < 1 || v > 3600) {
				fprintf(stderr,
				        "teep-driver-check: --timeout takes 1..3600 seconds\n");
				return -1;
			}
			o->timeout_s = (unsigned)v;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc - 1)
		return -1;
	o->driver = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct dc_opts o = {0};
	struct dc_result r;
	unsigned minor = 0, passed = 0, failed = 0, skipped = 0;
	int loaded = 0, inited = 0;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	printf("teep-driver-check: %s\n", o.driver);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		const struct dc_check *ck = &checks[i];
		char skip[96] = "";

		if (i > 0 && !loaded)
			snprintf(skip, sizeof(skip), "skipped (the driver does not load)");
		else if (ck->min_minor > minor)
			snprintf(skip, sizeof(skip), "skipped (ABI %u.%u driver)",
			         TB_DRIVER_ABI_MAJOR, minor);
		else if (ck->needs_init && !inited)
			snprintf(skip, sizeof(skip), "skipped (init fails)");
		else if (!ck->body && !ck->whole)
			snprintf(skip, sizeof(skip), "skipped (not checked by this version)");
		if (skip[0]) {
			printf("SKIP %s: %s\n", ck->name, skip);
			skipped++;
			continue;
		}
		run_check(&o, ck, &r);
		if (r.failed) {
			printf("FAIL %s: %s\n", ck->name, r.problems);
			failed++;
		} else {
			printf("PASS %s%s%s\n", ck->name, r.notes[0] ? ": " : "", r.notes);
			passed++;
		}
		if (i == 0 && !r.failed) {
			/* the descriptor's version decides which checks apply */
			struct tb_loaded_driver ld;
			char err[600];
			if (!tb_loader_open(o.driver, PKGLIBDIR "/drivers", &ld, err,
			                    sizeof(err))) {
				minor = ld.drv->abi_minor;
				loaded = 1;
				tb_loader_close(&ld);
			}
		}
		if (i == 1) /* a leak in fini does not keep the others from running */
			inited = !r.failed || !(strstr(r.problems, "init failed") ||
			                        strstr(r.problems, "crashed") ||
			                        strstr(r.problems, "did not finish"));
	}
	printf("teep-driver-check: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
