/*
 * The "optee" TEE driver: a TEEP Agent Trusted Application in OP-TEE
 * (TrustZone), reached through the Linux TEE subsystem (/dev/teeN) with the
 * kernel's ioctls only (teec.c). Each Agent API call is one TEE_IOC_INVOKE
 * of the command and parameter layout of docs/optee-driver.md
 * (teep_agent_ta.h), over shared memory allocated for the call.
 *
 * OP-TEE runs one call at a time per TA instance and signs slowly (tens of
 * ECDSA signatures per second on i.MX-class boards): driver ABI 1.0 gives
 * an instance one worker thread, so this driver makes one call at a time,
 * and nothing here locks.
 *
 * The TEE session to the TA is opened at init. When the TA dies (a panic:
 * TEEC_ERROR_TARGET_DEAD) the session is dropped and the next call opens a
 * new one; the Agent's exchanges of the dead instance are gone, so calls on
 * them fail and closing them is local only.
 */
#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <teep-broker/driver.h>

#include "teec.h"
#include "teep_agent_ta.h"
#include "tb_teep.h"
#include "tb_util.h"

#define DRV_HOST_MIN_SIZE (offsetof(struct tb_host, free) + sizeof(void *))
#define DRV_REQ_MIN_SIZE  (offsetof(struct tb_ta_request, tam_uri) + sizeof(char *))

#define DEFAULT_DEVICE      "/dev/tee0"
#define DEFAULT_MAX_MESSAGE (1024u * 1024)
#define MIN_MAX_MESSAGE     4096u
#define MAX_MAX_MESSAGE     (64u * 1024 * 1024)
/* The first output buffers of a call; a TA that needs more says so with
 * TEEC_ERROR_SHORT_BUFFER and the call is made once more. */
#define INITIAL_MESSAGE 16384u
#define INITIAL_URI     1024u
#define MAX_URI         8192u
#define MAX_SEGMENT     4096u /* bytes of one component id segment */

struct optee_drv {
	const struct tb_host *host;
	char *device;
	uint8_t uuid[TEE_IOCTL_UUID_LEN];
	char uuid_text[40];
	size_t max_message;
	struct teec_dev dev;
	bool have_session;
	uint32_t tee_session;
	uint64_t gen; /* counts TEE sessions opened */
};

/* What the broker holds as out->session: the Agent's handle and the TEE
 * session it belongs to. */
struct exchange {
	uint32_t handle;
	uint64_t gen;
};

/* What one invoke brought back. */
struct reply {
	uint32_t handle;
	uint8_t *msg; /* host->alloc() */
	size_t msg_len;
	char *uri; /* host->alloc() */
};

#define LOG(d, level, ...) (d)->host->log((d)->host, (level), __VA_ARGS__)

/* ---- options ----------------------------------------------------------- */

/* "8d82573a-926d-4754-9353-32dc29997f74" into 16 bytes, in that order. */
static int parse_uuid(const char *s, uint8_t out[TEE_IOCTL_UUID_LEN])
{
	size_t n = 0;

	if (strlen(s) != 36)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return TB_ERR_INVAL;
			continue;
		}
		hi = tb_hex_digit((unsigned char)s[i]);
		lo = tb_hex_digit((unsigned char)s[++i]);
		if (hi < 0 || lo < 0)
			return TB_ERR_INVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
	}
	return n == TEE_IOCTL_UUID_LEN ? TB_OK : TB_ERR_INVAL;
}

static int apply_option(struct optee_drv *d, const struct tb_kv *kv, bool *have_uuid)
{
	const char *k = kv->key, *v = kv->value;
	uint64_t n;

	if (!k || !v) {
		LOG(d, TB_LOG_ERR, "option without key or value");
		return TB_ERR_INVAL;
	}
	if (strcmp(k, "device") == 0) {
		if (!*v)
			goto bad;
		free(d->device);
		d->device = strdup(v);
		if (!d->device)
			return TB_ERR_NOMEM;
	} else if (strcmp(k, "ta_uuid") == 0) {
		if (parse_uuid(v, d->uuid) != TB_OK)
			goto bad;
		memcpy(d->uuid_text, v, 36);
		d->uuid_text[36] = 0;
		*have_uuid = true;
	} else if (strcmp(k, "max_message") == 0) {
		if (tb_parse_size(v, &n) != TB_OK || n < MIN_MAX_MESSAGE || n > MAX_MAX_MESSAGE)
			goto bad;
		d->max_message = (size_t)n;
	} else {
		LOG(d, TB_LOG_WARN, "unknown option '%s' ignored", k);
	}
	return TB_OK;
bad:
	LOG(d, TB_LOG_ERR, "bad value for %s: '%s'", k, v);
	return TB_ERR_INVAL;
}

/* ---- the TEE session --------------------------------------------------- */

static int open_session(struct optee_drv *d)
{
	struct teec_result res;
	char err[200];
	int rc;

	rc = teec_open_session(&d->dev, d->uuid, &d->tee_session, &res, err, sizeof(err));
	if (rc != TB_OK) {
		LOG(d, TB_LOG_ERR, "cannot open a session to the TEEP Agent TA %s on %s: %s%s",
		    d->uuid_text, d->device, err,
		    rc == TB_ERR_TEE && res.ret == TEEC_ERROR_ITEM_NOT_FOUND
		        ? " (is the TA installed?)"
		        : "");
		return TB_ERR_TEE;
	}
	d->have_session = true;
	d->gen++;
	return TB_OK;
}

static void drop_session(struct optee_drv *d)
{
	if (!d->have_session)
		return;
	teec_close_session(&d->dev, d->tee_session);
	d->have_session = false;
}

static void drv_fini(void *instance)
{
	struct optee_drv *d = instance;

	if (!d)
		return;
	drop_session(d);
	teec_close(&d->dev);
	free(d->device);
	free(d);
}

static int drv_init(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
                    void **instance)
{
	struct optee_drv *d;
	bool have_uuid = false;
	char err[300];
	int rc;

	if (!host || host->struct_size < DRV_HOST_MIN_SIZE || !host->log || !host->alloc ||
	    !host->free || !instance || (n_opts && !opts))
		return TB_ERR_INVAL;
	*instance = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return TB_ERR_NOMEM;
	d->host = host;
	d->dev.fd = -1;
	d->max_message = DEFAULT_MAX_MESSAGE;
	for (size_t i = 0; i < n_opts; i++) {
		rc = apply_option(d, &opts[i], &have_uuid);
		if (rc != TB_OK)
			goto fail;
	}
	rc = TB_ERR_INVAL;
	if (!have_uuid) {
		LOG(d, TB_LOG_ERR, "the option ta_uuid (the TEEP Agent TA's UUID) is required");
		goto fail;
	}
	rc = TB_ERR_NOMEM;
	if (!d->device && !(d->device = strdup(DEFAULT_DEVICE)))
		goto fail;
	rc = teec_open(d->device, &d->dev, err, sizeof(err));
	if (rc != TB_OK) {
		LOG(d, TB_LOG_ERR, "%s", err);
		goto fail;
	}
	rc = open_session(d);
	if (rc != TB_OK)
		goto fail;
	LOG(d, TB_LOG_NOTICE,
	    "OP-TEE at %s (capabilities 0x%x): session %u to the TEEP Agent TA %s; one call at "
	    "a time",
	    d->device, d->dev.gen_caps, d->tee_session, d->uuid_text);
	*instance = d;
	return TB_OK;
fail:
	drv_fini(d);
	return rc;
}

/* ---- calls ------------------------------------------------------------- */

static const char *cmd_name(uint32_t cmd)
{
	switch (cmd) {
	case TEEP_AGENT_CMD_REQUEST_TA:
		return "request-ta";
	case TEEP_AGENT_CMD_UNREQUEST_TA:
		return "unrequest-ta";
	case TEEP_AGENT_CMD_REQUEST_POLICY_CHECK:
		return "request-policy-check";
	case TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE:
		return "process-teep-message";
	case TEEP_AGENT_CMD_PROCESS_ERROR:
		return "process-error";
	default:
		return "session-close";
	}
}

/* A TEE result (not success, not short buffer) as a driver status. */
static int map_result(uint32_t ret)
{
	switch (ret) {
	case TEEC_ERROR_BAD_FORMAT:
		return TB_ERR_PARSE;
	case TEEC_ERROR_BAD_PARAMETERS:
		return TB_ERR_INVAL;
	case TEEC_ERROR_BAD_STATE:
		return TB_ERR_STATE;
	case TEEC_ERROR_ITEM_NOT_FOUND:
		return TB_ERR_NOTFOUND;
	case TEEC_ERROR_NOT_IMPLEMENTED:
	case TEEC_ERROR_NOT_SUPPORTED:
		return TB_ERR_UNSUP;
	case TEEC_ERROR_OUT_OF_MEMORY:
		return TB_ERR_NOMEM;
	case TEEC_ERROR_EXCESS_DATA:
		return TB_ERR_TOOBIG;
	case TEEC_ERROR_SECURITY:
	case TEE_ERROR_SIGNATURE_INVALID:
		return TB_ERR_SIG;
	default:
		return TB_ERR_TEE;
	}
}

static size_t cbor_head_len(uint64_t n)
{
	return n < 24 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : n <= 0xffffffffu ? 5 : 9;
}

static uint8_t *cbor_head(uint8_t *p, unsigned major, uint64_t n)
{
	size_t len = cbor_head_len(n);

	if (len == 1) {
		*p++ = (uint8_t)(major << 5 | n);
		return p;
	}
	*p++ = (uint8_t)(major << 5 | (len == 2 ? 24 : len == 3 ? 25 : len == 5 ? 26 : 27));
	for (size_t i = len - 1; i > 0; i--)
		*p++ = (uint8_t)(n >> (8 * (i - 1)));
	return p;
}

/* The request's component id as a CBOR SUIT_Component_Identifier (an array
 * of byte strings), malloc()ed. */
static int encode_component(const struct tb_ta_request *req, uint8_t **out, size_t *out_len)
{
	size_t len;
	uint8_t *buf, *p;

	if (!req || req->struct_size < DRV_REQ_MIN_SIZE || !req->component_id ||
	    req->n_segments == 0 || req->n_segments > TB_TEEP_MAX_SEGMENTS)
		return TB_ERR_INVAL;
	len = cbor_head_len(req->n_segments);
	for (size_t i = 0; i < req->n_segments; i++) {
		const struct tb_bytes *b = &req->component_id[i];

		if ((!b->ptr && b->len) || b->len > MAX_SEGMENT)
			return TB_ERR_INVAL;
		len += cbor_head_len(b->len) + b->len;
	}
	buf = malloc(len);
	if (!buf)
		return TB_ERR_NOMEM;
	p = cbor_head(buf, 4, req->n_segments);
	for (size_t i = 0; i < req->n_segments; i++) {
		const struct tb_bytes *b = &req->component_id[i];

		p = cbor_head(p, 2, b->len);
		if (b->len)
			memcpy(p, b->ptr, b->len);
		p += b->len;
	}
	*out = buf;
	*out_len = len;
	return TB_OK;
}

/* The sizes of one attempt: input, output message, TAM URI slot. */
struct layout {
	size_t in, msg, uri;
};

static void set_params(struct tee_ioctl_param p[TEEC_NUM_PARAMS], const struct layout *l,
                       const struct teec_shm *shm, uint32_t handle)
{
	memset(p, 0, TEEC_NUM_PARAMS * sizeof(*p));
	p[TEEP_AGENT_PARAM_SESSION].attr = TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT;
	p[TEEP_AGENT_PARAM_SESSION].a = handle;
	if (l->in) {
		p[TEEP_AGENT_PARAM_INPUT].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT;
		p[TEEP_AGENT_PARAM_INPUT].a = 0;
		p[TEEP_AGENT_PARAM_INPUT].b = l->in;
		p[TEEP_AGENT_PARAM_INPUT].c = (uint64_t)shm->id;
	}
	if (l->msg) {
		p[TEEP_AGENT_PARAM_MESSAGE].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT;
		p[TEEP_AGENT_PARAM_MESSAGE].a = l->in;
		p[TEEP_AGENT_PARAM_MESSAGE].b = l->msg;
		p[TEEP_AGENT_PARAM_MESSAGE].c = (uint64_t)shm->id;
	}
	if (l->uri) {
		p[TEEP_AGENT_PARAM_URI].attr = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT;
		p[TEEP_AGENT_PARAM_URI].a = l->in + l->msg;
		p[TEEP_AGENT_PARAM_URI].b = l->uri;
		p[TEEP_AGENT_PARAM_URI].c = (uint64_t)shm->id;
	}
}

/* After TEEC_ERROR_SHORT_BUFFER: the larger sizes the TA asked for, within
 * the bounds, or an error (logged). */
static int grow_layout(struct optee_drv *d, uint32_t cmd, struct layout *l,
                       const struct tee_ioctl_param p[TEEC_NUM_PARAMS])
{
	uint64_t want_msg = l->msg ? p[TEEP_AGENT_PARAM_MESSAGE].b : 0;
	uint64_t want_uri = l->uri ? p[TEEP_AGENT_PARAM_URI].b : 0;
	bool grown = false;

	if (want_msg > l->msg) {
		if (want_msg > d->max_message) {
			LOG(d, TB_LOG_ERR,
			    "%s: the Agent's message needs %llu bytes, over max_message %zu",
			    cmd_name(cmd), (unsigned long long)want_msg, d->max_message);
			return TB_ERR_TOOBIG;
		}
		l->msg = (size_t)want_msg;
		grown = true;
	}
	if (want_uri > l->uri) {
		if (want_uri > MAX_URI) {
			LOG(d, TB_LOG_ERR, "%s: the TAM URI needs %llu bytes, over %u",
			    cmd_name(cmd), (unsigned long long)want_uri, MAX_URI);
			return TB_ERR_TOOBIG;
		}
		l->uri = (size_t)want_uri;
		grown = true;
	}
	if (!grown) {
		LOG(d, TB_LOG_ERR, "%s: the TA answered short buffer without asking for more",
		    cmd_name(cmd));
		return TB_ERR_TEE;
	}
	LOG(d, TB_LOG_INFO, "%s: again with %zu bytes for the message and %zu for the TAM URI",
	    cmd_name(cmd), l->msg, l->uri);
	return TB_OK;
}

/* The outputs of a successful invoke into host memory. */
static int take_outputs(struct optee_drv *d, uint32_t cmd, const struct layout *l,
                        const struct teec_shm *shm, const struct tee_ioctl_param p[TEEC_NUM_PARAMS],
                        struct reply *r)
{
	uint64_t msg_len = l->msg ? p[TEEP_AGENT_PARAM_MESSAGE].b : 0;
	uint64_t uri_len = l->uri ? p[TEEP_AGENT_PARAM_URI].b : 0;
	const char *uri = shm ? (const char *)shm->ptr + l->in + l->msg : NULL;

	if (msg_len > l->msg || uri_len > l->uri) {
		LOG(d, TB_LOG_ERR, "%s: the TA claims more output than its buffer holds",
		    cmd_name(cmd));
		return TB_ERR_TEE;
	}
	while (uri_len && uri[uri_len - 1] == 0)
		uri_len--;
	if (uri_len && (cmd == TEEP_AGENT_CMD_REQUEST_TA || cmd == TEEP_AGENT_CMD_UNREQUEST_TA ||
	                cmd == TEEP_AGENT_CMD_REQUEST_POLICY_CHECK)) {
		if (memchr(uri, 0, uri_len)) {
			LOG(d, TB_LOG_ERR, "%s: the TAM URI holds a NUL byte", cmd_name(cmd));
			return TB_ERR_TEE;
		}
		r->uri = d->host->alloc(uri_len + 1);
		if (!r->uri)
			return TB_ERR_NOMEM;
		memcpy(r->uri, uri, uri_len);
		r->uri[uri_len] = 0;
	}
	if (msg_len) {
		r->msg = d->host->alloc(msg_len);
		if (!r->msg)
			return TB_ERR_NOMEM;
		memcpy(r->msg, shm->ptr + l->in, msg_len);
		r->msg_len = msg_len;
	}
	return TB_OK;
}

static void reply_clear(struct optee_drv *d, struct reply *r)
{
	d->host->free(r->msg);
	d->host->free(r->uri);
	memset(r, 0, sizeof(*r));
}

/*
 * One Agent API call: cmd with the Agent session handle, input bytes, a
 * NUL-terminated string for the URI slot (NULL: no slot) and, with
 * outputs, an output buffer for the message. A short buffer is retried
 * once with the sizes the TA asked for. Every failure is logged here.
 */
static int invoke(struct optee_drv *d, uint32_t cmd, uint32_t handle, const uint8_t *in,
                  size_t in_len, const char *text, bool outputs, struct reply *r)
{
	struct layout l = {.in = in_len};
	size_t text_len = text ? strlen(text) + 1 : 0;
	struct tee_ioctl_param p[TEEC_NUM_PARAMS];
	struct teec_result res;
	char err[200];
	int rc;

	memset(r, 0, sizeof(*r));
	if (in_len > d->max_message) {
		LOG(d, TB_LOG_ERR, "%s: %zu bytes of input, over max_message %zu", cmd_name(cmd),
		    in_len, d->max_message);
		return TB_ERR_TOOBIG;
	}
	if (text_len > MAX_URI) {
		LOG(d, TB_LOG_ERR, "%s: a string of %zu bytes, over %u", cmd_name(cmd), text_len,
		    MAX_URI);
		return TB_ERR_TOOBIG;
	}
	if (outputs)
		l.msg = INITIAL_MESSAGE < d->max_message ? INITIAL_MESSAGE : d->max_message;
	if (text)
		l.uri = text_len > INITIAL_URI ? text_len : INITIAL_URI;
	if (!d->have_session && open_session(d) != TB_OK)
		return TB_ERR_TEE;
	for (int attempt = 0;; attempt++) {
		struct teec_shm shm = {.fd = -1};
		size_t total = l.in + l.msg + l.uri;

		if (total) {
			rc = teec_shm_alloc(&d->dev, total, &shm, err, sizeof(err));
			if (rc != TB_OK) {
				LOG(d, TB_LOG_ERR, "%s: %s", cmd_name(cmd), err);
				return rc;
			}
			memset(shm.ptr, 0, total);
			if (l.in)
				memcpy(shm.ptr, in, l.in);
			if (text_len)
				memcpy(shm.ptr + l.in + l.msg, text, text_len);
		}
		set_params(p, &l, &shm, handle);
		rc = teec_invoke(&d->dev, d->tee_session, cmd, p, &res, err, sizeof(err));
		if (rc != TB_OK) {
			teec_shm_free(&shm);
			LOG(d, TB_LOG_ERR, "%s: %s", cmd_name(cmd), err);
			return TB_ERR_TEE;
		}
		if (res.ret == TEEC_ERROR_SHORT_BUFFER) {
			teec_shm_free(&shm);
			if (attempt > 0) {
				LOG(d, TB_LOG_ERR,
				    "%s: the TA answered short buffer twice (it asks for %llu "
				    "bytes for the message, %llu for the TAM URI)",
				    cmd_name(cmd),
				    (unsigned long long)p[TEEP_AGENT_PARAM_MESSAGE].b,
				    (unsigned long long)p[TEEP_AGENT_PARAM_URI].b);
				return TB_ERR_TOOBIG;
			}
			rc = grow_layout(d, cmd, &l, p);
			if (rc != TB_OK)
				return rc;
			continue;
		}
		if (res.ret != TEEC_SUCCESS) {
			teec_shm_free(&shm);
			LOG(d, TB_LOG_ERR, "%s: the TEEP Agent TA failed: %s (0x%08x) from %s",
			    cmd_name(cmd), teec_result_name(res.ret), res.ret,
			    teec_origin_name(res.origin));
			if (res.ret == TEEC_ERROR_TARGET_DEAD) {
				LOG(d, TB_LOG_WARN,
				    "the TEEP Agent TA died; its exchanges are lost, the next call "
				    "opens a new session");
				drop_session(d);
			}
			return map_result(res.ret);
		}
		if (p[TEEP_AGENT_PARAM_SESSION].b != 0) {
			int32_t st = (int32_t)(uint32_t)p[TEEP_AGENT_PARAM_SESSION].b;

			teec_shm_free(&shm);
			LOG(d, TB_LOG_ERR, "%s: the TEEP Agent TA refused with status %d",
			    cmd_name(cmd), (int)st);
			return st < 0 && st >= TB_ERR_NOTFOUND ? st : TB_ERR_TEE;
		}
		r->handle = (uint32_t)p[TEEP_AGENT_PARAM_SESSION].a;
		rc = outputs ? take_outputs(d, cmd, &l, &shm, p, r) : TB_OK;
		teec_shm_free(&shm);
		if (rc != TB_OK)
			reply_clear(d, r);
		return rc;
	}
}

/* Close an exchange the TA opened, whose outputs the driver could not
 * take; its own errors are logged and otherwise ignored. */
static void close_handle(struct optee_drv *d, uint32_t handle)
{
	struct reply r;

	if (handle && d->have_session)
		(void)invoke(d, TEEP_AGENT_CMD_SESSION_CLOSE, handle, NULL, 0, NULL, false, &r);
}

/* The reply of a call that may start an exchange into *out. */
static int fill_out(struct optee_drv *d, uint32_t cmd, struct reply *r, struct tb_agent_out *out)
{
	struct exchange *x = NULL;
	int rc = TB_OK;

	if (r->msg && !r->uri) {
		LOG(d, TB_LOG_ERR, "%s: the TEEP Agent TA returned a message without a TAM URI",
		    cmd_name(cmd));
		rc = TB_ERR_TEE;
	} else if (r->handle && !(x = malloc(sizeof(*x)))) {
		rc = TB_ERR_NOMEM;
	}
	if (rc != TB_OK) {
		close_handle(d, r->handle);
		reply_clear(d, r);
		return rc;
	}
	if (x) {
		x->handle = r->handle;
		x->gen = d->gen;
	}
	out->tam_uri = r->uri;
	out->msg = r->msg;
	out->msg_len = r->msg_len;
	out->media_type = NULL;
	out->session = x;
	return TB_OK;
}

static int ta_call(void *instance, uint32_t cmd, const struct tb_ta_request *req,
                   struct tb_agent_out *out)
{
	struct optee_drv *d = instance;
	struct reply r;
	uint8_t *cid;
	size_t cid_len;
	int rc;

	if (!d || !out)
		return TB_ERR_INVAL;
	rc = encode_component(req, &cid, &cid_len);
	if (rc != TB_OK) {
		LOG(d, TB_LOG_ERR, "%s: a component id the driver cannot pass on", cmd_name(cmd));
		return rc;
	}
	rc = invoke(d, cmd, 0, cid, cid_len, req->tam_uri ? req->tam_uri : "", true, &r);
	free(cid);
	if (rc != TB_OK)
		return rc;
	return fill_out(d, cmd, &r, out);
}

static int drv_request_ta(void *instance, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	return ta_call(instance, TEEP_AGENT_CMD_REQUEST_TA, req, out);
}

static int drv_unrequest_ta(void *instance, const struct tb_ta_request *req,
                            struct tb_agent_out *out)
{
	return ta_call(instance, TEEP_AGENT_CMD_UNREQUEST_TA, req, out);
}

static int drv_policy_check(void *instance, struct tb_agent_out *out)
{
	struct optee_drv *d = instance;
	struct reply r;
	int rc;

	if (!d || !out)
		return TB_ERR_INVAL;
	rc = invoke(d, TEEP_AGENT_CMD_REQUEST_POLICY_CHECK, 0, NULL, 0, "", true, &r);
	if (rc != TB_OK)
		return rc;
	return fill_out(d, TEEP_AGENT_CMD_REQUEST_POLICY_CHECK, &r, out);
}

/* The exchange's handle, if the TEE session that issued it is still open. */
static bool exchange_live(struct optee_drv *d, const struct exchange *x)
{
	return d->have_session && (!x || x->gen == d->gen);
}

static int drv_process_message(void *instance, void *session, const char *media_type,
                               const uint8_t *msg, size_t msg_len, struct tb_agent_out *out)
{
	struct optee_drv *d = instance;
	struct exchange *x = session;
	struct reply r;
	int rc;

	if (!d || !out || !msg || !msg_len)
		return TB_ERR_INVAL;
	if (!exchange_live(d, x)) {
		LOG(d, TB_LOG_ERR,
		    "process-teep-message: the exchange was lost when the TEEP "
		    "Agent TA died");
		return TB_ERR_STATE;
	}
	rc = invoke(d, TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE, x ? x->handle : 0, msg, msg_len,
	            media_type ? media_type : "", true, &r);
	if (rc != TB_OK)
		return rc;
	d->host->free(r.uri); /* the exchange stays with its TAM */
	out->msg = r.msg;
	out->msg_len = r.msg_len;
	out->media_type = NULL;
	return TB_OK;
}

static void drv_process_error(void *instance, void *session)
{
	struct optee_drv *d = instance;
	struct exchange *x = session;
	struct reply r;

	if (d && exchange_live(d, x))
		(void)invoke(d, TEEP_AGENT_CMD_PROCESS_ERROR, x ? x->handle : 0, NULL, 0, NULL,
		             false, &r);
}

static void drv_session_close(void *instance, void *session)
{
	struct optee_drv *d = instance;
	struct exchange *x = session;
	struct reply r;

	if (d && x && exchange_live(d, x))
		(void)invoke(d, TEEP_AGENT_CMD_SESSION_CLOSE, x->handle, NULL, 0, NULL, false, &r);
	free(x);
}

TB_DRIVER_DECLARE(.name = "optee", .version = PACKAGE_VERSION, .tee_kind = "optee",
                  .description = "a TEEP Agent TA in OP-TEE (TrustZone) through the Linux TEE "
                                 "subsystem (/dev/teeN); one call at a time per TA instance, "
                                 "and OP-TEE signs slowly (tens of ECDSA signatures per second "
                                 "on i.MX-class boards)",
                  .init = drv_init, .fini = drv_fini, .request_ta = drv_request_ta,
                  .unrequest_ta = drv_unrequest_ta, .request_policy_check = drv_policy_check,
                  .process_teep_message = drv_process_message, .process_error = drv_process_error,
                  .session_close = drv_session_close);
