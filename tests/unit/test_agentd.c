/*
 * teep-agentd's server and executor (agentd/server.c, agentd/exec.c)
 * against a hostile client on a unix socket: garbage, a call before the
 * hello, an unknown version, an unknown type and op, a session it was never
 * given, an oversize frame, more calls than its queue. A fake Agent stands
 * in for the software one.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>

#include "agentd.h"
#include "tb_log.h"
#include "tb_util.h"

/* ---- a fake Agent: request-ta opens a session; policy-check can be held */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_closed;
static int open_sessions;

static int f_init(const struct tb_host *h, const struct tb_kv *o, size_t n, void **inst)
{
	(void)h, (void)o, (void)n;
	*inst = NULL;
	return TB_OK;
}

static void f_fini(void *inst)
{
	(void)inst;
}

static int f_request(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	(void)inst, (void)req;
	out->tam_uri = strdup("http://tam.example/tam");
	out->session = malloc(1);
	__atomic_add_fetch(&open_sessions, 1, __ATOMIC_SEQ_CST);
	return TB_OK;
}

static int f_unrequest(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	(void)inst, (void)req, (void)out;
	return TB_ERR_SIG;
}

static int f_policy(void *inst, struct tb_agent_out *out)
{
	(void)inst, (void)out;
	pthread_mutex_lock(&gate_lock);
	while (gate_closed)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	return TB_OK;
}

static int f_process(void *inst, void *s, const char *mt, const uint8_t *msg, size_t len,
                     struct tb_agent_out *out)
{
	(void)inst, (void)s, (void)mt;
	out->msg = malloc(len);
	memcpy(out->msg, msg, len);
	out->msg_len = len;
	return TB_OK;
}

static void f_error(void *inst, void *s)
{
	(void)inst, (void)s;
}

static void f_close(void *inst, void *s)
{
	(void)inst;
	free(s);
	__atomic_sub_fetch(&open_sessions, 1, __ATOMIC_SEQ_CST);
}

static const struct tb_driver fake = {.magic = TB_DRIVER_MAGIC,
                                      .name = "fake",
                                      .version = "1",
                                      .tee_kind = "test",
                                      .init = f_init,
                                      .fini = f_fini,
                                      .request_ta = f_request,
                                      .unrequest_ta = f_unrequest,
                                      .request_policy_check = f_policy,
                                      .process_teep_message = f_process,
                                      .process_error = f_error,
                                      .session_close = f_close};

static void h_log(const struct tb_host *h, int level, const char *fmt, ...)
{
	(void)h, (void)level, (void)fmt;
}

static const struct tb_host host = {
    .struct_size = sizeof(host), .log = h_log, .alloc = malloc, .free = free, .now_ms = tb_now_ms};

/* ---- the server in a thread -------------------------------------------- */

struct fixture {
	char dir[64];
	char addr[128];
	struct ad_conf conf;
	struct ad_exec *x;
	int notify[2];
	int lfd;
	pthread_t thread;
};

static void *serve(void *arg)
{
	struct fixture *fx = arg;

	ad_serve(&fx->conf, &fake, fx->x, fx->notify[0], fx->lfd);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct tb_as_addr a;

	strcpy(fx->dir, "/tmp/test_agentd.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->addr, sizeof(fx->addr), "unix:%s/s", fx->dir);
	ad_conf_defaults(&fx->conf);
	fx->conf.max_frame = TB_AP_MIN_MAX_FRAME;
	fx->conf.max_calls = 2;
	assert_int_equal(tb_as_parse(fx->addr, &a, NULL, 0), TB_OK);
	assert_int_equal(tb_as_listen(&a, 0600, 4, &fx->lfd, NULL, 0), TB_OK);
	assert_int_equal(pipe2(fx->notify, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(ad_exec_start(&fake, NULL, &host, 4, fx->notify[1], &fx->x), TB_OK);
	assert_int_equal(pthread_create(&fx->thread, NULL, serve, fx), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[128];

	/* the signal handler is installed by the server thread: wait for it;
	 * pthread_kill then stops that thread's loop */
	for (int i = 0; i < 100; i++) {
		struct sigaction sa;
		sigaction(SIGTERM, NULL, &sa);
		if (sa.sa_handler != SIG_DFL)
			break;
		usleep(10000);
	}
	pthread_kill(fx->thread, SIGTERM);
	pthread_join(fx->thread, NULL);
	ad_exec_stop(fx->x);
	close(fx->lfd);
	close(fx->notify[0]);
	close(fx->notify[1]);
	snprintf(path, sizeof(path), "%s/s", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- a client ---------------------------------------------------------- */

struct client {
	int fd;
	struct tb_ap_reader rd;
};

static void cl_open(struct fixture *fx, struct client *c)
{
	struct tb_as_addr a;

	assert_int_equal(tb_as_parse(fx->addr, &a, NULL, 0), TB_OK);
	assert_int_equal(tb_as_connect(&a, 2000, &c->fd, NULL, 0), TB_OK);
	tb_ap_reader_init(&c->rd, TB_AP_MAX_MAX_FRAME);
}

static void cl_close(struct client *c)
{
	close(c->fd);
	tb_ap_reader_clear(&c->rd);
}

static void cl_raw(struct client *c, const void *buf, size_t len)
{
	assert_int_equal(tb_as_send(c->fd, buf, len, tb_now_ms() + 2000, NULL, 0), TB_OK);
}

static void cl_send(struct client *c, const struct tb_ap_msg *m)
{
	uint8_t *f;
	size_t len;

	assert_int_equal(tb_ap_encode(m, &f, &len), TB_OK);
	cl_raw(c, f, len);
	free(f);
}

static void cl_recv(struct client *c, struct tb_ap_msg *m)
{
	uint8_t *f;
	size_t len;
	char err[200];

	if (tb_as_recv_frame(c->fd, &c->rd, tb_now_ms() + 5000, &f, &len, err, sizeof(err)) !=
	    TB_OK)
		fail_msg("recv: %s", err);
	assert_int_equal(tb_ap_decode(f, len, m, NULL, err, sizeof(err)), TB_OK);
	free(f);
}

/* The next answer is an error with code (and id, if has_id). */
static void cl_expect_error(struct client *c, int has_id, uint64_t id, int code)
{
	struct tb_ap_msg m;

	cl_recv(c, &m);
	assert_int_equal(m.type, TB_AP_ANSWER);
	if (m.code != code)
		fail_msg("code %s (%s), expected %s", tb_ap_code_name(m.code),
		         m.reason ? m.reason : "", tb_ap_code_name(code));
	assert_int_equal(m.has_id, has_id);
	if (has_id)
		assert_int_equal(m.id, id);
	assert_non_null(m.reason);
	tb_ap_msg_clear(&m);
}

/* The server closes the connection (within 5 s). */
static void cl_expect_close(struct client *c)
{
	uint8_t *f = NULL;
	size_t len;
	char err[200] = "";

	assert_int_not_equal(
	    tb_as_recv_frame(c->fd, &c->rd, tb_now_ms() + 5000, &f, &len, err, sizeof(err)), TB_OK);
	assert_non_null(strstr(err, "closed"));
}

static void cl_hello(struct client *c)
{
	struct tb_ap_msg h = {.type = TB_AP_HELLO, .versions = {1}, .n_versions = 1};
	struct tb_ap_msg m;

	cl_send(c, &h);
	cl_recv(c, &m);
	assert_int_equal(m.type, TB_AP_WELCOME);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.max_calls, 2);
	tb_ap_msg_clear(&m);
}

static const uint8_t seg[] = {1, 2, 3};

/* ---- tests ------------------------------------------------------------- */

static void test_handshake_refusals(void **state)
{
	struct fixture *fx = *state;
	struct client c;
	struct tb_ap_msg call = {
	    .type = TB_AP_CALL, .has_id = 1, .id = 1, .op = TB_AP_OP_POLICY_CHECK};
	struct tb_ap_msg h7 = {.type = TB_AP_HELLO, .versions = {7, 8}, .n_versions = 2};
	const uint8_t garbage[] = {0, 0, 0, 3, 'a', 'b', 'c'};
	const uint8_t oversize[] = {0, 0, 0x10, 0x01}; /* 4097 > max_frame */

	cl_open(fx, &c); /* garbage first */
	cl_raw(&c, garbage, sizeof(garbage));
	cl_expect_error(&c, 0, 0, TB_AP_E_MALFORMED);
	cl_expect_close(&c);
	cl_close(&c);

	cl_open(fx, &c); /* a call before the hello */
	cl_send(&c, &call);
	cl_expect_error(&c, 0, 0, TB_AP_E_HANDSHAKE);
	cl_expect_close(&c);
	cl_close(&c);

	cl_open(fx, &c); /* no common version */
	cl_send(&c, &h7);
	cl_expect_error(&c, 0, 0, TB_AP_E_UNSUPPORTED);
	cl_expect_close(&c);
	cl_close(&c);

	cl_open(fx, &c); /* an oversize frame, after the handshake */
	cl_hello(&c);
	cl_raw(&c, oversize, sizeof(oversize));
	cl_expect_error(&c, 0, 0, TB_AP_E_TOO_LARGE);
	cl_expect_close(&c);
	cl_close(&c);
}

static void test_bad_frames_keep_connection(void **state)
{
	struct fixture *fx = *state;
	struct client c;
	const uint8_t garbage[] = {0, 0, 0, 2, 0xff, 0xff};
	struct tb_ap_msg welcome = {
	    .type = TB_AP_WELCOME, .version = 1, .agent = "me", .max_frame = 4096, .max_calls = 1};
	struct tb_ap_msg m = {
	    .type = TB_AP_CALL, .has_id = 1, .id = 3, .op = TB_AP_OP_POLICY_CHECK};

	cl_open(fx, &c);
	cl_hello(&c);
	cl_raw(&c, garbage, sizeof(garbage));
	cl_expect_error(&c, 0, 0, TB_AP_E_MALFORMED);
	cl_send(&c, &welcome); /* a type a client does not send */
	cl_expect_error(&c, 0, 0, TB_AP_E_UNSUPPORTED);
	{
		/* an unknown op, with an id the answer names */
		const uint8_t f[] = {0,    0,    0,   23,  0xa3, 0x64, 't',  'y', 'p',
		                     'e',  0x64, 'c', 'a', 'l',  'l',  0x62, 'i', 'd',
		                     0x09, 0x62, 'o', 'p', 0x64, 'w',  'i',  'p', 'e'};
		cl_raw(&c, f, sizeof(f));
		cl_expect_error(&c, 1, 9, TB_AP_E_UNSUPPORTED);
	}
	/* still usable */
	cl_send(&c, &m);
	{
		struct tb_ap_msg a;
		cl_recv(&c, &a);
		assert_int_equal(a.code, TB_AP_OK);
		assert_int_equal(a.id, 3);
		tb_ap_msg_clear(&a);
	}
	cl_close(&c);
}

static void test_sessions(void **state)
{
	struct fixture *fx = *state;
	struct client c, other;
	uint8_t msg[3] = {7, 8, 9};
	struct tb_ap_msg req = {
	    .type = TB_AP_CALL, .has_id = 1, .id = 1, .op = TB_AP_OP_REQUEST_TA};
	struct tb_ap_msg a;
	uint64_t session;

	req.component.n = 1;
	req.component.seg[0].ptr = (uint8_t *)seg;
	req.component.seg[0].len = sizeof(seg);
	cl_open(fx, &c);
	cl_hello(&c);
	cl_send(&c, &req);
	cl_recv(&c, &a);
	assert_int_equal(a.code, TB_AP_OK);
	assert_true(a.has_session);
	assert_string_equal(a.tam_uri, "http://tam.example/tam");
	session = a.session;
	tb_ap_msg_clear(&a);

	/* a session never issued, and this one from another connection */
	struct tb_ap_msg pm = {.type = TB_AP_CALL,
	                       .has_id = 1,
	                       .id = 2,
	                       .op = TB_AP_OP_PROCESS_MESSAGE,
	                       .has_session = 1,
	                       .session = session + 1000,
	                       .msg = msg,
	                       .msg_len = 3};
	cl_send(&c, &pm);
	cl_expect_error(&c, 1, 2, TB_AP_E_NO_SESSION);
	cl_open(fx, &other);
	cl_hello(&other);
	pm.session = session;
	cl_send(&other, &pm);
	cl_expect_error(&other, 1, 2, TB_AP_E_NO_SESSION);
	cl_close(&other);

	/* the right one */
	pm.id = 3;
	cl_send(&c, &pm);
	cl_recv(&c, &a);
	assert_int_equal(a.code, TB_AP_OK);
	assert_memory_equal(a.msg, msg, 3);
	tb_ap_msg_clear(&a);

	/* the Agent's own failure carries its status */
	req.op = TB_AP_OP_UNREQUEST_TA;
	req.id = 4;
	cl_send(&c, &req);
	cl_recv(&c, &a);
	assert_int_equal(a.code, TB_AP_E_AGENT);
	assert_int_equal(a.tee_status, TB_ERR_SIG);
	tb_ap_msg_clear(&a);

	/* close it; closing again is no-session */
	struct tb_ap_msg sc = {.type = TB_AP_CALL,
	                       .has_id = 1,
	                       .id = 5,
	                       .op = TB_AP_OP_SESSION_CLOSE,
	                       .has_session = 1,
	                       .session = session};
	cl_send(&c, &sc);
	cl_recv(&c, &a);
	assert_int_equal(a.code, TB_AP_OK);
	tb_ap_msg_clear(&a);
	assert_int_equal(__atomic_load_n(&open_sessions, __ATOMIC_SEQ_CST), 0);
	cl_send(&c, &sc);
	cl_expect_error(&c, 1, 5, TB_AP_E_NO_SESSION);

	/* a session left open is closed with its connection */
	req.op = TB_AP_OP_REQUEST_TA;
	req.id = 6;
	cl_send(&c, &req);
	cl_recv(&c, &a);
	assert_true(a.has_session);
	tb_ap_msg_clear(&a);
	assert_int_equal(__atomic_load_n(&open_sessions, __ATOMIC_SEQ_CST), 1);
	cl_close(&c);
	for (int i = 0; i < 500 && __atomic_load_n(&open_sessions, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&open_sessions, __ATOMIC_SEQ_CST), 0);
}

/* While the Agent is busy the server reads on, queues max_calls, answers
 * busy beyond, refuses a duplicate id, then answers the queued calls. */
static void test_queue_bounds(void **state)
{
	struct fixture *fx = *state;
	struct client c;
	struct tb_ap_msg pc = {.type = TB_AP_CALL, .has_id = 1, .op = TB_AP_OP_POLICY_CHECK};
	struct tb_ap_msg a;
	int seen[3] = {0};

	cl_open(fx, &c);
	cl_hello(&c);
	pthread_mutex_lock(&gate_lock);
	gate_closed = 1;
	pthread_mutex_unlock(&gate_lock);
	pc.id = 1;
	cl_send(&c, &pc);
	pc.id = 1; /* the same id again */
	cl_send(&c, &pc);
	cl_expect_error(&c, 1, 1, TB_AP_E_DUPLICATE_ID);
	pc.id = 2;
	cl_send(&c, &pc);
	pc.id = 3; /* the third: over max_calls = 2 */
	cl_send(&c, &pc);
	cl_recv(&c, &a);
	assert_int_equal(a.code, TB_AP_E_BUSY);
	assert_int_equal(a.id, 3);
	assert_true(a.has_retry);
	tb_ap_msg_clear(&a);
	pthread_mutex_lock(&gate_lock);
	gate_closed = 0;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	for (int i = 0; i < 2; i++) {
		cl_recv(&c, &a);
		assert_int_equal(a.code, TB_AP_OK);
		assert_true(a.id == 1 || a.id == 2);
		seen[a.id]++;
		tb_ap_msg_clear(&a);
	}
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 1);
	cl_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_handshake_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_frames_keep_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_bounds, setup, teardown),
	};
	struct tb_log_conf lc = {.level = TB_LOG_ERR};

	tb_log_setup("test_agentd", &lc);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
