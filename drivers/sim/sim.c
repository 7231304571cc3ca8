/*
 * The "sim" TEE driver: the driver ABI glue around the software TEEP Agent
 * of agent.c. It is NOT a TEE; see README.md beside this file.
 *
 * Thread model (driver.h): init and fini run on the main thread, every other
 * operation of an instance on that instance's worker thread, one at a time --
 * except answer_now (ABI 1.2), which the broker calls on its event loop while
 * the worker may be in another operation. So an instance has one lock, which
 * every operation holds and answer_now only tries (it never waits on the
 * loop). An instance shares nothing with another one.
 */
#include <config.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <teep-broker/driver.h>

#include "agent.h"
#include "tb_teep.h"
#include "tb_util.h"

/* The host members this driver calls: everything up to and with free. */
#define SIM_HOST_MIN_SIZE (offsetof(struct tb_host, free) + sizeof(void *))
/* The request members it reads: up to and with tam_uri. */
#define SIM_REQ_MIN_SIZE (offsetof(struct tb_ta_request, tam_uri) + sizeof(char *))

/* A driver instance: the Agent and the lock of its state. */
struct sim_inst {
	pthread_mutex_t lock;
	struct sim_agent *a;
};

static int parse_count(const char *v, uint64_t min, uint64_t max, size_t *out)
{
	uint64_t n;

	if (tb_parse_size(v, &n) != TB_OK || n < min || n > max)
		return TB_ERR_INVAL;
	*out = (size_t)n;
	return TB_OK;
}

/* One `key = value` line into conf; unknown keys are only warned about so
 * a config written for a newer version still loads. */
static int apply_option(const struct tb_host *host, const struct tb_kv *kv, struct sim_conf *c)
{
	const struct {
		const char *key;
		const char **dst;
	} strings[] = {
	    {"state_dir", &c->state_dir},
	    {"agent_key", &c->agent_key},
	    {"tam_key", &c->tam_key},
	    {"tc_signer", &c->tc_signer},
	    {"tam_uri", &c->tam_uri},
	    {"decrypt_key", &c->decrypt_key},
	    {"attestation_key", &c->attestation_key},
	    {"tsm_report", &c->tsm_report},
	};
	const char *k = kv->key, *v = kv->value;

	if (!k || !v) {
		host->log(host, TB_LOG_ERR, "option without key or value");
		return TB_ERR_INVAL;
	}
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		if (strcmp(k, strings[i].key) == 0) {
			*strings[i].dst = *v ? v : NULL;
			return TB_OK;
		}
	}
	if (strcmp(k, "numbering") == 0) {
		if (strcmp(v, "draft-26") == 0)
			c->numbering = TB_NUM_DRAFT26;
		else if (strcmp(v, "pre-26") == 0)
			c->numbering = TB_NUM_PRE26;
		else
			goto bad;
		return TB_OK;
	}
	if (strcmp(k, "call_delay_stuck") == 0) {
		/* yes: call_delay ignores cancellation, as a TEE call that cannot
		 * be interrupted (for tests of a stuck TEE at shutdown) */
		if (strcmp(v, "yes") == 0)
			c->call_delay_stuck = 1;
		else if (strcmp(v, "no") == 0)
			c->call_delay_stuck = 0;
		else
			goto bad;
		return TB_OK;
	}
	if (strcmp(k, "call_delay") == 0) {
		/* a slow TEE, for tests and benchmarks of what waits for it */
		if (tb_parse_duration_ms(v, &c->call_delay_ms) != TB_OK || c->call_delay_ms > 10000)
			goto bad;
		return TB_OK;
	}
	if (strcmp(k, "max_components") == 0) {
		if (parse_count(v, 1, SIM_MAX_COMPONENTS_LIMIT, &c->max_components) != TB_OK)
			goto bad;
		return TB_OK;
	}
	if (strcmp(k, "max_message") == 0) {
		/* A message lives in memory several times over while it is
		 * verified and decoded: keep it well below a gigabyte. */
		if (parse_count(v, 1, 256u * 1024 * 1024, &c->max_message) != TB_OK)
			goto bad;
		return TB_OK;
	}
	host->log(host, TB_LOG_WARN, "unknown option '%s' ignored", k);
	return TB_OK;
bad:
	host->log(host, TB_LOG_ERR, "bad value for %s: '%s'", k, v);
	return TB_ERR_INVAL;
}

static int sim_init(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
                    void **instance)
{
	struct sim_conf c = {
	    .numbering = TB_NUM_DRAFT26,
	    .max_components = SIM_DEFAULT_MAX_COMPONENTS,
	    .max_message = SIM_DEFAULT_MAX_MESSAGE,
	};
	struct sim_agent *a = NULL;
	int rc;

	if (!host || host->struct_size < SIM_HOST_MIN_SIZE || !host->log || !host->alloc ||
	    !host->free || !instance || (n_opts && !opts))
		return TB_ERR_INVAL;
	*instance = NULL;
	for (size_t i = 0; i < n_opts; i++) {
		rc = apply_option(host, &opts[i], &c);
		if (rc != TB_OK)
			return rc;
	}
	struct sim_inst *in = calloc(1, sizeof(*in));
	if (!in)
		return TB_ERR_NOMEM;
	if (pthread_mutex_init(&in->lock, NULL)) {
		free(in);
		return TB_ERR_NOMEM;
	}
	rc = agent__create(host, &c, &a);
	if (rc != TB_OK) {
		pthread_mutex_destroy(&in->lock);
		free(in);
		return rc;
	}
	in->a = a;
	*instance = in;
	return TB_OK;
}

struct sim_agent *sim__agent(void *instance)
{
	return instance ? ((struct sim_inst *)instance)->a : NULL;
}

static void sim_fini(void *instance)
{
	struct sim_inst *in = instance;

	if (!in)
		return;
	agent__destroy(in->a);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

/* The broker's segments, checked, as a component id that points into them
 * (borrowed: valid for the call, never freed). */
static int cid_borrow(const struct tb_ta_request *req, struct tb_component_id *cid)
{
	memset(cid, 0, sizeof(*cid));
	if (!req || req->struct_size < SIM_REQ_MIN_SIZE || !req->component_id ||
	    req->n_segments == 0 || req->n_segments > TB_TEEP_MAX_SEGMENTS)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < req->n_segments; i++) {
		const struct tb_bytes *b = &req->component_id[i];

		if ((!b->ptr && b->len) || b->len > SIM_SEGMENT_MAX)
			return TB_ERR_INVAL;
		/* only read through it */
		cid->seg[i].ptr = (uint8_t *)(uintptr_t)b->ptr;
		cid->seg[i].len = b->len;
	}
	cid->n = req->n_segments;
	return TB_OK;
}

/* The same as an owned copy, which the Agent may keep. */
static int cid_from_request(const struct tb_ta_request *req, struct tb_component_id *cid)
{
	struct tb_component_id view;

	memset(cid, 0, sizeof(*cid));
	if (cid_borrow(req, &view) != TB_OK)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < view.n; i++) {
		cid->seg[i].ptr = malloc(view.seg[i].len + 1);
		if (!cid->seg[i].ptr) {
			tb_component_id_clear(cid);
			return TB_ERR_INVAL;
		}
		if (view.seg[i].len)
			memcpy(cid->seg[i].ptr, view.seg[i].ptr, view.seg[i].len);
		cid->seg[i].len = view.seg[i].len;
		cid->n = i + 1;
	}
	return TB_OK;
}

/* request_ta and unrequest_ta: the Agent's call, under the instance's lock. */
static int ta_call(void *instance, const struct tb_ta_request *req, struct tb_agent_out *out,
                   int unrequest)
{
	struct sim_inst *in = instance;
	struct tb_component_id cid;
	int rc = cid_from_request(req, &cid);

	if (rc != TB_OK)
		return rc;
	pthread_mutex_lock(&in->lock);
	rc = agent__call_delay(in->a);
	if (rc == TB_OK)
		rc = unrequest ? agent__unrequest_ta(in->a, &cid, req->tam_uri, out)
		               : agent__request_ta(in->a, &cid, req->tam_uri, out);
	pthread_mutex_unlock(&in->lock);
	tb_component_id_clear(&cid);
	return rc;
}

static int sim_request_ta(void *instance, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	return ta_call(instance, req, out, 0);
}

static int sim_unrequest_ta(void *instance, const struct tb_ta_request *req,
                            struct tb_agent_out *out)
{
	return ta_call(instance, req, out, 1);
}

/* ABI 1.2, on the broker's loop: never waits for the lock, allocates
 * nothing. */
static int sim_answer_now(void *instance, int op, const struct tb_ta_request *req)
{
	struct sim_inst *in = instance;
	struct tb_component_id cid;

	if (cid_borrow(req, &cid) != TB_OK)
		return TB_ERR_AGAIN; /* the full call says what is wrong */
	int rc = TB_ERR_AGAIN;
	if (pthread_mutex_trylock(&in->lock) == 0) {
		rc = agent__answer_now(in->a, op, &cid);
		pthread_mutex_unlock(&in->lock);
	}
	return rc;
}

static int sim_request_policy_check(void *instance, struct tb_agent_out *out)
{
	struct sim_inst *in = instance;
	int rc;

	pthread_mutex_lock(&in->lock);
	rc = agent__call_delay(in->a);
	if (rc == TB_OK)
		rc = agent__policy_check(in->a, out);
	else
		rc = TB_ERR_TEE;
	pthread_mutex_unlock(&in->lock);
	return rc;
}

static int sim_process_teep_message(void *instance, void *session, const char *media_type,
                                    const uint8_t *msg, size_t msg_len, struct tb_agent_out *out)
{
	struct sim_inst *in = instance;
	int rc;

	pthread_mutex_lock(&in->lock);
	rc = agent__call_delay(in->a);
	if (rc == TB_OK)
		rc = agent__process_message(in->a, session, media_type, msg, msg_len, out);
	else
		rc = TB_ERR_TEE;
	pthread_mutex_unlock(&in->lock);
	return rc;
}

static void sim_process_error(void *instance, void *session)
{
	struct sim_inst *in = instance;

	pthread_mutex_lock(&in->lock);
	agent__process_error(in->a, session);
	pthread_mutex_unlock(&in->lock);
}

static void sim_session_close(void *instance, void *session)
{
	struct sim_inst *in = instance;

	pthread_mutex_lock(&in->lock);
	agent__session_free(in->a, session);
	pthread_mutex_unlock(&in->lock);
}

TB_DRIVER_DECLARE(.name = "sim", .version = PACKAGE_VERSION, .tee_kind = SIM_TEE_KIND,
                  .description = "software TEEP Agent for demos and tests; NOT a TEE: its key and "
                                 "the installed Trusted Components are plain files",
                  .init = sim_init, .fini = sim_fini, .request_ta = sim_request_ta,
                  .unrequest_ta = sim_unrequest_ta,
                  .request_policy_check = sim_request_policy_check,
                  .process_teep_message = sim_process_teep_message,
                  .process_error = sim_process_error, .session_close = sim_session_close,
                  .answer_now = sim_answer_now);
