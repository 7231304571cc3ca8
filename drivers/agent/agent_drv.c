/*
 * The "agent" TEE driver: the broker's side of the Agent protocol
 * (docs/agent-protocol.md). It forwards every Agent API call to a TEEP Agent
 * in another process, typically teep-agentd inside a confidential VM, over
 * a unix socket or vsock, and turns the answer back into struct
 * tb_agent_out.
 *
 * Failure model. The Agent may crash, hang or answer garbage; none of that
 * takes the broker down. Every call carries an id and a deadline
 * (call_deadline): a call the Agent does not answer in time fails, and its
 * id is remembered as abandoned so a late answer is recognised and dropped
 * (a late session is closed). A broken connection (the Agent exited, an
 * answer that cannot be decoded, an id nobody asked for) fails the call and
 * is dropped; the next call connects again, no sooner than the reconnect
 * backoff allows (reconnect_min doubling up to reconnect_max while connects
 * keep failing). Sessions belong to one connection: after a reconnect the
 * Agent no longer knows them, so calls on them fail and closing them is
 * local only.
 *
 * Threads (driver.h, ABI 1.0): every operation of an instance runs on its
 * worker thread, one at a time, so nothing here locks. The in-flight table
 * keyed by call id, with a deadline per call, is what a later ABI with
 * concurrent calls and cancellation builds on: a reader would hand each
 * answer to the waiting call with its id.
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <teep-broker/driver.h>

#include "tb_agentproto.h"
#include "tb_agentsock.h"
#include "tb_util.h"

#define DRV_HOST_MIN_SIZE (offsetof(struct tb_host, free) + sizeof(void *))
#define DRV_REQ_MIN_SIZE  (offsetof(struct tb_ta_request, tam_uri) + sizeof(char *))
#define TEEP_MEDIA        "application/teep+cbor"

/* A call the driver sent: its id, its deadline, and whether its caller has
 * given up on it (then its answer, if any, is dropped). */
struct inflight {
	uint64_t id;
	uint64_t deadline_ms;
	enum tb_ap_op op;
	bool abandoned;
};

/* What the broker holds as out->session: the Agent's handle and the
 * connection it belongs to. */
struct session_ref {
	uint64_t handle;
	uint64_t gen;
};

struct agent_drv {
	const struct tb_host *host;
	struct tb_as_addr addr;
	char where[160];
	uint64_t connect_timeout_ms;
	uint64_t call_deadline_ms;
	uint64_t reconnect_min_ms, reconnect_max_ms;
	size_t max_in_flight;
	size_t max_frame;

	/* the connection */
	int fd;
	uint64_t gen; /* counts successful connects; 0 before the first */
	struct tb_ap_reader rd;
	uint64_t peer_max_frame;
	uint64_t next_id;
	struct inflight *inflight;
	size_t n_inflight;
	/* reconnect backoff */
	uint64_t backoff_ms, next_connect_ms;
	char last_error[200];
};

#define LOG(d, level, ...) (d)->host->log((d)->host, (level), __VA_ARGS__)

/* ---- options ----------------------------------------------------------- */

static int opt_duration(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t ms;

	if (tb_parse_duration_ms(v, &ms) != TB_OK || ms < min || ms > max)
		return TB_ERR_INVAL;
	*out = ms;
	return TB_OK;
}

static int opt_size(const char *v, uint64_t min, uint64_t max, size_t *out)
{
	uint64_t n;

	if (tb_parse_size(v, &n) != TB_OK || n < min || n > max)
		return TB_ERR_INVAL;
	*out = (size_t)n;
	return TB_OK;
}

static int apply_option(struct agent_drv *d, const struct tb_kv *kv, bool *have_socket)
{
	const char *k = kv->key, *v = kv->value;
	char err[160];
	int rc = TB_OK;

	if (!k || !v) {
		LOG(d, TB_LOG_ERR, "option without key or value");
		return TB_ERR_INVAL;
	}
	if (strcmp(k, "socket") == 0) {
		if (tb_as_parse(v, &d->addr, err, sizeof(err)) != TB_OK) {
			LOG(d, TB_LOG_ERR, "socket = %s: %s", v, err);
			return TB_ERR_INVAL;
		}
		if (d->addr.family == TB_AS_VSOCK && d->addr.cid == TB_AS_CID_ANY) {
			LOG(d, TB_LOG_ERR, "socket = %s: connect to a CID, not \"any\"", v);
			return TB_ERR_INVAL;
		}
		*have_socket = true;
	} else if (strcmp(k, "connect_timeout") == 0) {
		rc = opt_duration(v, 10, 600000, &d->connect_timeout_ms);
	} else if (strcmp(k, "call_deadline") == 0) {
		rc = opt_duration(v, 10, 3600000, &d->call_deadline_ms);
	} else if (strcmp(k, "reconnect_min") == 0) {
		rc = opt_duration(v, 1, 600000, &d->reconnect_min_ms);
	} else if (strcmp(k, "reconnect_max") == 0) {
		rc = opt_duration(v, 1, 3600000, &d->reconnect_max_ms);
	} else if (strcmp(k, "max_in_flight") == 0) {
		rc = opt_size(v, 1, 1024, &d->max_in_flight);
	} else if (strcmp(k, "max_frame") == 0) {
		rc = opt_size(v, TB_AP_MIN_MAX_FRAME, TB_AP_MAX_MAX_FRAME, &d->max_frame);
	} else {
		LOG(d, TB_LOG_WARN, "unknown option '%s' ignored", k);
	}
	if (rc != TB_OK)
		LOG(d, TB_LOG_ERR, "bad value for %s: '%s'", k, v);
	return rc;
}

static int drv_init(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
                    void **instance)
{
	struct agent_drv *d;
	bool have_socket = false;

	if (!host || host->struct_size < DRV_HOST_MIN_SIZE || !host->log || !host->alloc ||
	    !host->free || !instance || (n_opts && !opts))
		return TB_ERR_INVAL;
	*instance = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return TB_ERR_NOMEM;
	d->host = host;
	d->fd = -1;
	d->connect_timeout_ms = 3000;
	d->call_deadline_ms = 30000;
	d->reconnect_min_ms = 100;
	d->reconnect_max_ms = 5000;
	d->max_in_flight = 8;
	d->max_frame = TB_AP_DEFAULT_MAX_FRAME;
	d->next_id = 1;
	for (size_t i = 0; i < n_opts; i++) {
		if (apply_option(d, &opts[i], &have_socket) != TB_OK) {
			free(d);
			return TB_ERR_INVAL;
		}
	}
	if (!have_socket) {
		LOG(d, TB_LOG_ERR, "the option socket (unix:PATH or vsock:CID:PORT) is required");
		free(d);
		return TB_ERR_INVAL;
	}
	if (d->reconnect_max_ms < d->reconnect_min_ms)
		d->reconnect_max_ms = d->reconnect_min_ms;
	d->inflight = calloc(d->max_in_flight, sizeof(*d->inflight));
	if (!d->inflight) {
		free(d);
		return TB_ERR_NOMEM;
	}
	tb_ap_reader_init(&d->rd, d->max_frame);
	tb_as_format(&d->addr, d->where, sizeof(d->where));
	LOG(d, TB_LOG_NOTICE, "TEEP Agent at %s (connects on the first call)", d->where);
	*instance = d;
	return TB_OK;
}

/* ---- the connection ---------------------------------------------------- */

static void disconnect(struct agent_drv *d, const char *why)
{
	if (d->fd < 0)
		return;
	LOG(d, TB_LOG_WARN, "connection to the Agent at %s dropped: %s", d->where, why);
	close(d->fd);
	d->fd = -1;
	d->n_inflight = 0;
	tb_ap_reader_clear(&d->rd);
	/* the Agent was there a moment ago: try again at once */
	d->backoff_ms = 0;
	d->next_connect_ms = 0;
}

static void drv_fini(void *instance)
{
	struct agent_drv *d = instance;

	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	tb_ap_reader_clear(&d->rd);
	free(d->inflight);
	free(d);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
	                      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Connect and say hello, within the connect timeout and the deadline. */
static int handshake(struct agent_drv *d, uint64_t deadline, char *err, size_t errlen)
{
	struct tb_ap_msg hello = {.type = TB_AP_HELLO,
	                          .versions = {TB_AP_VERSION},
	                          .n_versions = 1,
	                          .client = "teep-brokerd agent driver " PACKAGE_VERSION};
	struct tb_ap_msg m;
	uint8_t *f = NULL;
	size_t len;
	int code, rc;

	rc = tb_as_connect(&d->addr, deadline - tb_now_ms(), &d->fd, err, errlen);
	if (rc != TB_OK)
		return rc;
	rc = tb_ap_encode(&hello, &f, &len);
	if (rc == TB_OK)
		rc = tb_as_send(d->fd, f, len, deadline, err, errlen);
	free(f);
	f = NULL;
	if (rc == TB_OK)
		rc = tb_as_recv_frame(d->fd, &d->rd, deadline, &f, &len, err, errlen);
	if (rc == TB_OK) {
		char why[160];

		rc = tb_ap_decode(f, len, &m, &code, why, sizeof(why));
		free(f);
		if (rc != TB_OK)
			return tb_err(err, errlen, TB_ERR_TEE, "a bad answer to hello: %s", why);
		if (m.type == TB_AP_ANSWER && m.code != TB_AP_OK)
			rc = tb_err(err, errlen, TB_ERR_TEE, "hello refused: %s: %s",
			            tb_ap_code_name(m.code), m.reason);
		else if (m.type != TB_AP_WELCOME || m.version != TB_AP_VERSION)
			rc = tb_err(err, errlen, TB_ERR_TEE,
			            "the answer to hello is not a welcome to version %d",
			            TB_AP_VERSION);
		else {
			d->peer_max_frame = m.max_frame;
			LOG(d, TB_LOG_NOTICE, "connected to the Agent at %s: %s", d->where,
			    m.agent);
		}
		tb_ap_msg_clear(&m);
	}
	return rc;
}

/* Make sure there is a connection, within the call's deadline. */
static int ensure_connected(struct agent_drv *d, uint64_t deadline)
{
	uint64_t now = tb_now_ms(), cdl;
	char err[sizeof(d->last_error)];
	int rc;

	if (d->fd >= 0)
		return TB_OK;
	if (now < d->next_connect_ms) {
		if (d->next_connect_ms >= deadline) {
			LOG(d, TB_LOG_ERR,
			    "the Agent at %s is unreachable (%s); next attempt in %llu ms",
			    d->where, d->last_error,
			    (unsigned long long)(d->next_connect_ms - now));
			return TB_ERR_TEE;
		}
		sleep_ms(d->next_connect_ms - now);
		now = tb_now_ms();
	}
	cdl = now + d->connect_timeout_ms < deadline ? now + d->connect_timeout_ms : deadline;
	rc = handshake(d, cdl, err, sizeof(err));
	if (rc == TB_OK) {
		d->gen++;
		d->backoff_ms = 0;
		d->next_connect_ms = 0;
		d->last_error[0] = 0;
		return TB_OK;
	}
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	tb_ap_reader_clear(&d->rd);
	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : d->reconnect_min_ms;
	if (d->backoff_ms > d->reconnect_max_ms)
		d->backoff_ms = d->reconnect_max_ms;
	d->next_connect_ms = tb_now_ms() + d->backoff_ms;
	snprintf(d->last_error, sizeof(d->last_error), "%s", err);
	LOG(d, TB_LOG_ERR, "cannot reach the Agent at %s: %s (next attempt in %llu ms)", d->where,
	    err, (unsigned long long)d->backoff_ms);
	return TB_ERR_TEE;
}

/* ---- calls ------------------------------------------------------------- */

static struct inflight *inflight_find(struct agent_drv *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_inflight; i++)
		if (d->inflight[i].id == id)
			return &d->inflight[i];
	return NULL;
}

static void inflight_remove(struct agent_drv *d, struct inflight *f)
{
	*f = d->inflight[--d->n_inflight];
}

/* Send one call (id assigned here) and register it in flight. */
static int send_call(struct agent_drv *d, struct tb_ap_msg *req, uint64_t deadline)
{
	uint8_t *f;
	size_t len;
	char err[200];
	int rc;

	if (d->n_inflight == d->max_in_flight) {
		/* every slot holds a call the Agent never answered */
		disconnect(d, "too many calls without an answer");
		rc = ensure_connected(d, deadline);
		if (rc != TB_OK)
			return rc;
	}
	req->type = TB_AP_CALL;
	req->has_id = 1;
	req->id = d->next_id++;
	rc = tb_ap_encode(req, &f, &len);
	if (rc != TB_OK) {
		LOG(d, TB_LOG_ERR, "%s: the call cannot be encoded (a member over its bound?)",
		    tb_ap_op_name(req->op));
		return TB_ERR_INVAL;
	}
	if (len - TB_AP_HDR_LEN > d->peer_max_frame) {
		free(f);
		LOG(d, TB_LOG_ERR, "%s: %zu bytes, over the Agent's max-frame %llu",
		    tb_ap_op_name(req->op), len, (unsigned long long)d->peer_max_frame);
		return TB_ERR_TOOBIG;
	}
	rc = tb_as_send(d->fd, f, len, deadline, err, sizeof(err));
	free(f);
	if (rc != TB_OK) {
		disconnect(d, err);
		return TB_ERR_TEE;
	}
	d->inflight[d->n_inflight++] =
	    (struct inflight){.id = req->id, .deadline_ms = deadline, .op = req->op};
	return TB_OK;
}

/* A late answer to an abandoned call: a session it opened is closed, with
 * a call whose own answer is abandoned too. */
static void late_answer(struct agent_drv *d, struct tb_ap_msg *m)
{
	struct tb_ap_msg close_req = {.op = TB_AP_OP_SESSION_CLOSE};

	LOG(d, TB_LOG_INFO, "dropped the late answer to call %llu", (unsigned long long)m->id);
	if (m->code != TB_AP_OK || !m->has_session || d->n_inflight == d->max_in_flight)
		return;
	close_req.has_session = 1;
	close_req.session = m->session;
	if (send_call(d, &close_req, tb_now_ms() + d->call_deadline_ms) == TB_OK)
		d->inflight[d->n_inflight - 1].abandoned = true;
}

/*
 * One call: send req, wait for the answer with its id until the deadline.
 * TB_OK with *ans filled (which may be an error answer), or a failure that
 * is logged here.
 */
static int call_agent(struct agent_drv *d, struct tb_ap_msg *req, struct tb_ap_msg *ans)
{
	uint64_t deadline = tb_now_ms() + d->call_deadline_ms;
	enum tb_ap_op op = req->op;
	char err[200];
	int rc, code;

	memset(ans, 0, sizeof(*ans));
	rc = ensure_connected(d, deadline);
	if (rc != TB_OK)
		return rc;
	rc = send_call(d, req, deadline);
	if (rc != TB_OK)
		return rc;
	for (;;) {
		struct inflight *f;
		uint8_t *frame;
		size_t len;

		rc = tb_as_recv_frame(d->fd, &d->rd, deadline, &frame, &len, err, sizeof(err));
		if (rc == TB_ERR_IO) {
			f = inflight_find(d, req->id);
			if (f)
				f->abandoned = true;
			LOG(d, TB_LOG_ERR,
			    "%s (call %llu): no answer from the Agent within %llu ms",
			    tb_ap_op_name(op), (unsigned long long)req->id,
			    (unsigned long long)d->call_deadline_ms);
			return TB_ERR_TEE;
		}
		if (rc != TB_OK) {
			LOG(d, TB_LOG_ERR, "%s (call %llu): %s", tb_ap_op_name(op),
			    (unsigned long long)req->id, err);
			disconnect(d, err);
			return TB_ERR_TEE;
		}
		rc = tb_ap_decode(frame, len, ans, &code, err, sizeof(err));
		free(frame);
		if (rc == TB_OK && ans->type != TB_AP_ANSWER)
			rc = tb_err(err, sizeof(err), TB_ERR_PARSE, "a %s where an answer belongs",
			            tb_ap_type_name(ans->type));
		if (rc == TB_OK && !ans->has_id)
			rc = tb_err(err, sizeof(err), TB_ERR_PARSE, "the Agent refused: %s: %s",
			            tb_ap_code_name(ans->code), ans->reason);
		if (rc == TB_OK && !(f = inflight_find(d, ans->id)))
			rc = tb_err(err, sizeof(err), TB_ERR_PARSE,
			            "an answer to call %llu, never sent",
			            (unsigned long long)ans->id);
		if (rc != TB_OK) {
			LOG(d, TB_LOG_ERR, "%s (call %llu): protocol error: %s", tb_ap_op_name(op),
			    (unsigned long long)req->id, err);
			tb_ap_msg_clear(ans);
			disconnect(d, "protocol error");
			return TB_ERR_TEE;
		}
		if (ans->id == req->id) {
			inflight_remove(d, f);
			return TB_OK;
		}
		/* an earlier call's: its caller gave up */
		inflight_remove(d, f);
		late_answer(d, ans);
		tb_ap_msg_clear(ans);
	}
}

/* The status of an error answer, logged. */
static int answer_status(struct agent_drv *d, const struct tb_ap_msg *req,
                         const struct tb_ap_msg *ans)
{
	LOG(d, TB_LOG_ERR, "%s (call %llu): the Agent answered %s: %s", tb_ap_op_name(req->op),
	    (unsigned long long)req->id, tb_ap_code_name(ans->code), ans->reason);
	switch (ans->code) {
	case TB_AP_E_AGENT:
		return ans->tee_status < 0 && ans->tee_status >= TB_ERR_NOTFOUND ? ans->tee_status
		                                                                 : TB_ERR_TEE;
	case TB_AP_E_NO_SESSION:
		return TB_ERR_STATE;
	case TB_AP_E_MALFORMED:
	case TB_AP_E_UNSUPPORTED:
		return TB_ERR_INVAL;
	case TB_AP_E_TOO_LARGE:
		return TB_ERR_TOOBIG;
	default:
		return TB_ERR_TEE;
	}
}

/* Copy an ok answer's outputs into out (host memory). */
static int fill_out(struct agent_drv *d, const struct tb_ap_msg *req, const struct tb_ap_msg *ans,
                    struct tb_agent_out *out, bool want_session)
{
	struct session_ref *ref;

	if (ans->media_type && strcasecmp(ans->media_type, TEEP_MEDIA) != 0) {
		LOG(d, TB_LOG_ERR, "%s: the Agent's message has media type %s, not " TEEP_MEDIA,
		    tb_ap_op_name(req->op), ans->media_type);
		return TB_ERR_UNSUP;
	}
	if (ans->tam_uri && want_session) {
		size_t n = strlen(ans->tam_uri) + 1;

		out->tam_uri = d->host->alloc(n);
		if (!out->tam_uri)
			return TB_ERR_NOMEM;
		memcpy(out->tam_uri, ans->tam_uri, n);
	}
	if (ans->msg) {
		out->msg = d->host->alloc(ans->msg_len);
		if (!out->msg)
			return TB_ERR_NOMEM;
		memcpy(out->msg, ans->msg, ans->msg_len);
		out->msg_len = ans->msg_len;
	}
	out->media_type = NULL;
	if (ans->has_session && want_session) {
		ref = malloc(sizeof(*ref));
		if (!ref)
			return TB_ERR_NOMEM;
		ref->handle = ans->session;
		ref->gen = d->gen;
		out->session = ref;
	}
	return TB_OK;
}

/* A call that returns outputs. A session the Agent opened although the
 * call then failed here is closed again. */
static int call_out(struct agent_drv *d, struct tb_ap_msg *req, struct tb_agent_out *out,
                    bool want_session)
{
	struct tb_ap_msg ans;
	int rc = call_agent(d, req, &ans);

	if (rc != TB_OK)
		return rc;
	if (ans.code != TB_AP_OK)
		rc = answer_status(d, req, &ans);
	else
		rc = fill_out(d, req, &ans, out, want_session);
	if (rc != TB_OK && out->session) {
		free(out->session);
		out->session = NULL;
	}
	if (rc != TB_OK && ans.code == TB_AP_OK && ans.has_session && want_session) {
		struct tb_ap_msg c = {
		    .op = TB_AP_OP_SESSION_CLOSE, .has_session = 1, .session = ans.session};
		struct tb_ap_msg a2;

		if (call_agent(d, &c, &a2) == TB_OK)
			tb_ap_msg_clear(&a2);
	}
	tb_ap_msg_clear(&ans);
	return rc;
}

static int ta_call(void *instance, enum tb_ap_op op, const struct tb_ta_request *treq,
                   struct tb_agent_out *out)
{
	struct agent_drv *d = instance;
	struct tb_ap_msg req = {.op = op};

	if (!d || !out || !treq || treq->struct_size < DRV_REQ_MIN_SIZE || !treq->component_id ||
	    treq->n_segments == 0 || treq->n_segments > TB_TEEP_MAX_SEGMENTS)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < treq->n_segments; i++) {
		/* borrowed for the encode: the message is never cleared */
		req.component.seg[i].ptr = (uint8_t *)treq->component_id[i].ptr;
		req.component.seg[i].len = treq->component_id[i].len;
	}
	req.component.n = treq->n_segments;
	req.tam_uri = (char *)treq->tam_uri;
	if (treq->struct_size >= offsetof(struct tb_ta_request, app_id) + sizeof(char *))
		req.app_id = (char *)treq->app_id;
	return call_out(d, &req, out, true);
}

static int drv_request_ta(void *instance, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	return ta_call(instance, TB_AP_OP_REQUEST_TA, req, out);
}

static int drv_unrequest_ta(void *instance, const struct tb_ta_request *req,
                            struct tb_agent_out *out)
{
	return ta_call(instance, TB_AP_OP_UNREQUEST_TA, req, out);
}

static int drv_policy_check(void *instance, struct tb_agent_out *out)
{
	struct tb_ap_msg req = {.op = TB_AP_OP_POLICY_CHECK};

	if (!instance || !out)
		return TB_ERR_INVAL;
	return call_out(instance, &req, out, true);
}

/* The session's handle, if the connection that issued it is still up. */
static bool session_live(struct agent_drv *d, const struct session_ref *ref)
{
	return ref && d->fd >= 0 && ref->gen == d->gen;
}

static int drv_process_message(void *instance, void *session, const char *media_type,
                               const uint8_t *msg, size_t msg_len, struct tb_agent_out *out)
{
	struct agent_drv *d = instance;
	struct session_ref *ref = session;
	struct tb_ap_msg req = {.op = TB_AP_OP_PROCESS_MESSAGE};

	if (!d || !out || !msg || !msg_len)
		return TB_ERR_INVAL;
	if (!session_live(d, ref)) {
		LOG(d, TB_LOG_ERR,
		    "process-teep-message: the session was lost with the "
		    "connection to the Agent");
		return TB_ERR_STATE;
	}
	req.has_session = 1;
	req.session = ref->handle;
	req.media_type = (char *)media_type;
	req.msg = (uint8_t *)msg;
	req.msg_len = msg_len;
	return call_out(d, &req, out, false);
}

/* process-error and session-close: no outputs. */
static void session_call(struct agent_drv *d, enum tb_ap_op op, struct session_ref *ref)
{
	struct tb_ap_msg req = {.op = op};
	struct tb_ap_msg ans;

	if (!d || !session_live(d, ref))
		return;
	req.has_session = 1;
	req.session = ref->handle;
	if (call_agent(d, &req, &ans) != TB_OK)
		return;
	if (ans.code != TB_AP_OK)
		answer_status(d, &req, &ans);
	tb_ap_msg_clear(&ans);
}

static void drv_process_error(void *instance, void *session)
{
	session_call(instance, TB_AP_OP_PROCESS_ERROR, session);
}

static void drv_session_close(void *instance, void *session)
{
	session_call(instance, TB_AP_OP_SESSION_CLOSE, session);
	free(session);
}

TB_DRIVER_DECLARE(.name = "agent", .version = PACKAGE_VERSION, .tee_kind = "remote",
                  .description = "a TEEP Agent in another process (teep-agentd, e.g. in a "
                                 "confidential VM) over the Agent protocol on a unix socket "
                                 "or vsock",
                  .init = drv_init, .fini = drv_fini, .request_ta = drv_request_ta,
                  .unrequest_ta = drv_unrequest_ta, .request_policy_check = drv_policy_check,
                  .process_teep_message = drv_process_message, .process_error = drv_process_error,
                  .session_close = drv_session_close);
