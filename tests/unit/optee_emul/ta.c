/*
 * The TEEP Agent TA of the emulated OP-TEE (emul.h): the software Agent of
 * drivers/sim behind the command ids and parameter layout of
 * docs/optee-driver.md (drivers/optee/teep_agent_ta.h), as a TA author would
 * write it. Each call is checked against that page first; a breach aborts.
 *
 * Inside the TEE there is no broker: the Agent gets a host of its own
 * (malloc and free; its log lines go to the driver's log, marked "TA:") and
 * its outputs are copied into the caller's shared memory. An output larger
 * than the buffer offered is answered TEEC_ERROR_SHORT_BUFFER with the size
 * needed; the result is held, and the repeated call (same command, handle,
 * input and string) gets it without asking the Agent again.
 */
#include <config.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "emul.h"
#include "tb_teep.h"
#include "tb_util.h"
#include "teec.h"
#include "teep_agent_ta.h"

#define TA_MAX_EXCHANGES 64

struct result {
	bool live;
	uint32_t func, handle; /* the call it answers */
	uint8_t *in;
	size_t in_len;
	char *text;
	int status; /* tb_status of the Agent */
	uint32_t new_handle;
	uint8_t *msg;
	size_t msg_len;
	char *uri;
};

struct emul_ta {
	struct tb_host host; /* first: the Agent's host */
	const struct tb_host *log_host;
	struct sim_agent *agent;
	struct {
		uint32_t handle; /* 0: free */
		struct sim_session *s;
	} x[TA_MAX_EXCHANGES];
	uint32_t next_handle;
	struct result held; /* after a short buffer */
};

static void ta_log(const struct tb_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ta_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	const struct emul_ta *ta = (const struct emul_ta *)host;
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* the TA's warnings are not the driver's: logged one level down */
	ta->log_host->log(ta->log_host, level < TB_LOG_NOTICE ? TB_LOG_NOTICE : level, "TA: %s",
	                  line);
}

static void *ta_alloc(size_t n)
{
	return malloc(n ? n : 1);
}

/* ---- configuration: the sim Agent's options ------------------------------ */

static int ta_conf(struct emul_ta *ta, const struct emul_ta_conf *c, struct sim_conf *sc)
{
	const struct {
		const char *key;
		const char **dst;
	} strings[] = {
	    {"state_dir", &sc->state_dir},
	    {"agent_key", &sc->agent_key},
	    {"tam_key", &sc->tam_key},
	    {"tc_signer", &sc->tc_signer},
	    {"tam_uri", &sc->tam_uri},
	    {"decrypt_key", &sc->decrypt_key},
	    {"attestation_key", &sc->attestation_key},
	};

	memset(sc, 0, sizeof(*sc));
	sc->numbering = TB_NUM_DRAFT26;
	sc->max_components = SIM_DEFAULT_MAX_COMPONENTS;
	sc->max_message = SIM_DEFAULT_MAX_MESSAGE;
	for (size_t i = 0; i < c->n_opts; i++) {
		const char *k = c->opts[i].key, *v = c->opts[i].value;
		bool known = false;

		for (size_t j = 0; j < sizeof(strings) / sizeof(strings[0]); j++) {
			if (!strcmp(k, strings[j].key)) {
				*strings[j].dst = *v ? v : NULL;
				known = true;
			}
		}
		if (!strcmp(k, "numbering")) {
			sc->numbering = !strcmp(v, "pre-26") ? TB_NUM_PRE26 : TB_NUM_DRAFT26;
			known = true;
		} else if (!strcmp(k, "ta_delay")) {
			/* a slow TEE: every command first takes this long */
			if (tb_parse_duration_ms(v, &sc->call_delay_ms) != TB_OK)
				return TB_ERR_INVAL;
			known = true;
		}
		if (!known)
			ta_log(&ta->host, TB_LOG_WARN, "unknown option '%s' ignored", k);
	}
	return TB_OK;
}

uint32_t emul_ta_open(const struct emul_ta_conf *conf, struct emul_ta **out)
{
	struct emul_ta *ta = calloc(1, sizeof(*ta));
	struct sim_conf sc;

	if (!ta)
		return TEEC_ERROR_OUT_OF_MEMORY;
	/* a host of ABI 1.0: a TA knows no deadlines of the broker */
	ta->host.struct_size = offsetof(struct tb_host, call_deadline_ms);
	ta->host.log = ta_log;
	ta->host.alloc = ta_alloc;
	ta->host.free = free;
	ta->host.now_ms = tb_now_ms;
	ta->log_host = conf->log_host;
	ta->next_handle = 0x100;
	if (ta_conf(ta, conf, &sc) != TB_OK || agent__create(&ta->host, &sc, &ta->agent) != TB_OK) {
		free(ta);
		return TEEC_ERROR_BAD_STATE;
	}
	*out = ta;
	return TEEC_SUCCESS;
}

static void result_clear(struct emul_ta *ta, struct result *r)
{
	free(r->in);
	free(r->text);
	free(r->msg);
	free(r->uri);
	memset(r, 0, sizeof(*r));
	(void)ta;
}

static int slot_of(struct emul_ta *ta, uint32_t handle)
{
	for (int i = 0; handle && i < TA_MAX_EXCHANGES; i++)
		if (ta->x[i].handle == handle)
			return i;
	return -1;
}

/* A held result the driver never came back for: its exchange is dropped. */
static void held_drop(struct emul_ta *ta)
{
	int i = slot_of(ta, ta->held.new_handle);

	if (i >= 0) {
		agent__session_free(ta->agent, ta->x[i].s);
		ta->x[i].handle = 0;
	}
	result_clear(ta, &ta->held);
}

void emul_ta_close(struct emul_ta *ta)
{
	size_t open = 0;

	if (!ta)
		return;
	held_drop(ta);
	for (int i = 0; i < TA_MAX_EXCHANGES; i++)
		open += ta->x[i].handle != 0;
	if (open)
		emul_breach(
		    ta->log_host,
		    "the TEE session closed with %zu exchange(s) the TA opened never closed "
		    "(exactly one command 6 per handle)",
		    open);
	agent__destroy(ta->agent);
	free(ta);
}

/* ---- one command ----------------------------------------------------- */

static uint32_t attr_type(const struct tee_ioctl_param *p)
{
	return (uint32_t)(p->attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK);
}

/* SUIT_Component_Identifier: a definite array of 1..8 byte strings, all
 * of the input. Segments point into in. */
static int cbor_head(const uint8_t **p, const uint8_t *end, unsigned major, uint64_t *n)
{
	if (*p >= end || **p >> 5 != major)
		return -1;
	unsigned ai = **p & 31;
	(*p)++;
	if (ai < 24) {
		*n = ai;
		return 0;
	}
	if (ai > 27)
		return -1;
	size_t len = (size_t)1 << (ai - 24);
	if ((size_t)(end - *p) < len)
		return -1;
	*n = 0;
	for (size_t i = 0; i < len; i++)
		*n = *n << 8 | *(*p)++;
	return 0;
}

static int decode_cid(const uint8_t *in, size_t len, struct tb_component_id *cid)
{
	const uint8_t *p = in, *end = in + len;
	uint64_t n, seg;

	memset(cid, 0, sizeof(*cid));
	if (cbor_head(&p, end, 4, &n) || n == 0 || n > TB_TEEP_MAX_SEGMENTS)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		if (cbor_head(&p, end, 2, &seg) || seg > (uint64_t)(end - p))
			return -1;
		cid->seg[i].ptr = (uint8_t *)p;
		cid->seg[i].len = (size_t)seg;
		p += seg;
	}
	cid->n = (size_t)n;
	return p == end ? 0 : -1;
}

/* The handle of a new exchange, or 0 (and the session freed) when full. */
static uint32_t keep(struct emul_ta *ta, struct sim_session *s)
{
	int i;

	for (i = 0; i < TA_MAX_EXCHANGES && ta->x[i].handle; i++)
		;
	if (!s)
		return 0;
	if (i == TA_MAX_EXCHANGES) {
		agent__session_free(ta->agent, s);
		return 0;
	}
	ta->x[i].handle = ta->next_handle++;
	ta->x[i].s = s;
	return ta->x[i].handle;
}

/* Ask the Agent: the result of command func into r. */
static void run(struct emul_ta *ta, uint32_t func, struct sim_session *s, const uint8_t *in,
                size_t in_len, const char *text, struct result *r)
{
	struct tb_agent_out out = {0};
	struct tb_component_id cid;
	const char *t = text && *text ? text : NULL;

	if (agent__call_delay(ta->agent) != TB_OK) {
		r->status = TB_ERR_TEE;
		return;
	}
	switch (func) {
	case TEEP_AGENT_CMD_REQUEST_TA:
	case TEEP_AGENT_CMD_UNREQUEST_TA:
		if (decode_cid(in, in_len, &cid))
			emul_breach(ta->log_host,
			            "command %u: the input is not a CBOR "
			            "SUIT_Component_Identifier",
			            func);
		r->status = (func == TEEP_AGENT_CMD_REQUEST_TA
		                 ? agent__request_ta
		                 : agent__unrequest_ta)(ta->agent, &cid, t, &out);
		break;
	case TEEP_AGENT_CMD_REQUEST_POLICY_CHECK:
		r->status = agent__policy_check(ta->agent, &out);
		break;
	default: /* TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE */
		r->status = agent__process_message(ta->agent, s, t, in, in_len, &out);
		free(out.tam_uri); /* the exchange stays with its TAM */
		out.tam_uri = NULL;
		if (out.session && out.session != s)
			agent__session_free(ta->agent, out.session);
		out.session = NULL;
		break;
	}
	if (r->status != TB_OK) {
		free(out.tam_uri);
		free(out.msg);
		if (out.session)
			agent__session_free(ta->agent, out.session);
		return;
	}
	r->msg = out.msg;
	r->msg_len = out.msg_len;
	r->uri = out.tam_uri;
	r->new_handle = keep(ta, out.session);
}

uint32_t emul_ta_invoke(struct emul_ta *ta, uint32_t func, uint32_t num_params,
                        struct tee_ioctl_param *p, emul_mem_fn mem)
{
	const struct tb_host *h = ta->log_host;
	bool has_in = func == TEEP_AGENT_CMD_REQUEST_TA || func == TEEP_AGENT_CMD_UNREQUEST_TA ||
	              func == TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE;
	bool outputs =
	    func >= TEEP_AGENT_CMD_REQUEST_TA && func <= TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE;
	uint8_t *in = NULL, *msg = NULL, *slot = NULL;
	const char *text = NULL;
	int x = -1;

	if (func < TEEP_AGENT_CMD_REQUEST_TA || func > TEEP_AGENT_CMD_SESSION_CLOSE)
		emul_breach(h, "command id %u: the interface has 1..6", func);
	if (num_params != TEEC_NUM_PARAMS)
		emul_breach(h, "command %u with %u parameters, not 4", func, num_params);
	if (attr_type(&p[TEEP_AGENT_PARAM_SESSION]) != TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT ||
	    p[TEEP_AGENT_PARAM_SESSION].b != 0 || p[TEEP_AGENT_PARAM_SESSION].a > UINT32_MAX)
		emul_breach(h,
		            "command %u: parameter 0 is not a value inout with a 32-bit handle "
		            "in a and 0 in b",
		            func);
	uint32_t handle = (uint32_t)p[TEEP_AGENT_PARAM_SESSION].a;
	uint32_t want[4] = {0, TEE_IOCTL_PARAM_ATTR_TYPE_NONE, TEE_IOCTL_PARAM_ATTR_TYPE_NONE,
	                    TEE_IOCTL_PARAM_ATTR_TYPE_NONE};
	if (has_in)
		want[TEEP_AGENT_PARAM_INPUT] = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT;
	if (outputs) {
		want[TEEP_AGENT_PARAM_MESSAGE] = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT;
		want[TEEP_AGENT_PARAM_URI] = TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT;
	}
	for (int i = 1; i < TEEC_NUM_PARAMS; i++) {
		if (attr_type(&p[i]) != want[i])
			emul_breach(h,
			            "command %u: parameter %d has type %u, the interface says %u",
			            func, i, attr_type(&p[i]), want[i]);
		if (want[i] != TEE_IOCTL_PARAM_ATTR_TYPE_NONE &&
		    !(i == TEEP_AGENT_PARAM_INPUT     ? (in = mem(p[i].c, p[i].a, p[i].b))
		      : i == TEEP_AGENT_PARAM_MESSAGE ? (msg = mem(p[i].c, p[i].a, p[i].b))
		                                      : (slot = mem(p[i].c, p[i].a, p[i].b))))
			emul_breach(h, "command %u: parameter %d is not inside its shared memory",
			            func, i);
	}
	if (has_in && p[TEEP_AGENT_PARAM_INPUT].b == 0)
		emul_breach(h, "command %u without input", func);
	if (outputs) {
		if (!memchr(slot, 0, p[TEEP_AGENT_PARAM_URI].b))
			emul_breach(h, "command %u: parameter 3 holds no NUL-terminated string",
			            func);
		text = (const char *)slot;
	}
	/* handles: none on 1-3; one of ours (or 0) on 4 and 5; one of ours on 6 */
	if (handle) {
		x = slot_of(ta, handle);
		if (func <= TEEP_AGENT_CMD_REQUEST_POLICY_CHECK || x < 0)
			emul_breach(h, "command %u with handle 0x%x, %s", func, handle,
			            x < 0 ? "which the TA never gave or has closed"
			                  : "where the interface has 0");
	} else if (func == TEEP_AGENT_CMD_SESSION_CLOSE) {
		emul_breach(h, "command 6 for handle 0 (no command 6 follows a 0 handle)");
	}
	struct sim_session *s = x >= 0 ? ta->x[x].s : NULL;

	if (func == TEEP_AGENT_CMD_PROCESS_ERROR) {
		agent__process_error(ta->agent, s);
		return TEEC_SUCCESS;
	}
	if (func == TEEP_AGENT_CMD_SESSION_CLOSE) {
		agent__session_free(ta->agent, s);
		ta->x[x].handle = 0;
		return TEEC_SUCCESS;
	}

	/* commands 1-4: the held result of a call that was short of buffer,
	 * when this is its repetition; else the Agent's answer */
	size_t in_len = has_in ? p[TEEP_AGENT_PARAM_INPUT].b : 0;
	struct result *r = &ta->held;
	if (r->live && !(r->func == func && r->handle == handle && r->in_len == in_len &&
	                 (!in_len || !memcmp(r->in, in, in_len)) && !strcmp(r->text, text)))
		held_drop(ta);
	if (!r->live) {
		r->live = true;
		r->func = func;
		r->handle = handle;
		r->in_len = in_len;
		r->in = in_len ? malloc(in_len) : NULL;
		r->text = strdup(text);
		if ((in_len && !r->in) || !r->text) {
			result_clear(ta, r);
			return TEEC_ERROR_OUT_OF_MEMORY;
		}
		if (in_len)
			memcpy(r->in, in, in_len);
		run(ta, func, s, in, in_len, text, r);
	}
	p[TEEP_AGENT_PARAM_SESSION].a = 0;
	p[TEEP_AGENT_PARAM_SESSION].b = 0;
	if (r->status != TB_OK) {
		/* a precise reason: TEE_SUCCESS, b = the status, outputs ignored */
		p[TEEP_AGENT_PARAM_SESSION].b = (uint32_t)(int32_t)r->status;
		p[TEEP_AGENT_PARAM_MESSAGE].b = 0;
		p[TEEP_AGENT_PARAM_URI].b = 0;
		result_clear(ta, r);
		return TEEC_SUCCESS;
	}
	size_t uri_len = r->uri && func != TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE ? strlen(r->uri) : 0;
	if (r->msg_len > p[TEEP_AGENT_PARAM_MESSAGE].b || uri_len > p[TEEP_AGENT_PARAM_URI].b) {
		ta_log(&ta->host, TB_LOG_INFO,
		       "command %u: short buffer (%llu and %llu bytes offered, %zu and %zu needed)",
		       func, (unsigned long long)p[TEEP_AGENT_PARAM_MESSAGE].b,
		       (unsigned long long)p[TEEP_AGENT_PARAM_URI].b, r->msg_len, uri_len);
		p[TEEP_AGENT_PARAM_MESSAGE].b = r->msg_len;
		p[TEEP_AGENT_PARAM_URI].b = uri_len;
		return TEEC_ERROR_SHORT_BUFFER;
	}
	if (r->msg_len)
		memcpy(msg, r->msg, r->msg_len);
	if (uri_len)
		memcpy(slot, r->uri, uri_len);
	p[TEEP_AGENT_PARAM_MESSAGE].b = r->msg_len;
	p[TEEP_AGENT_PARAM_URI].b = uri_len;
	p[TEEP_AGENT_PARAM_SESSION].a = r->new_handle;
	result_clear(ta, r); /* the handle is the driver's now */
	return TEEC_SUCCESS;
}
