/*
 * skeleton: the smallest correct teep-broker TEE driver, to copy and grow.
 *
 * It talks to no TEE. Every request ends with "nothing to do" (the app gets
 * `no-change`), or, with `refuse = yes`, fails with a reason in the broker's
 * log (the app gets `tee-failed`). Replace the bodies marked TODO with calls
 * into your TEE; keep the rules of <teep-broker/driver.h>, which
 * docs/driver-abi.md explains:
 *
 *   - init and fini run on the broker's main thread, every other operation
 *     of an instance on that instance's own worker thread, one at a time;
 *   - everything the broker passes in is borrowed for the call;
 *   - every buffer you return in struct tb_agent_out comes from
 *     host->alloc() and is the broker's once you return;
 *   - every session you return gets exactly one session_close().
 *
 * Build and check it against an installed teep-broker (see the Makefile):
 *
 *   make && teep-driver-check ./skeleton.so
 *
 * and load it with a section of the broker's configuration:
 *
 *   [driver:skel]
 *   path = /path/to/skeleton.so
 *   #refuse = yes
 */
#include <stdlib.h>
#include <string.h>

#include <teep-broker/driver.h>

/* One instance per [driver:NAME] section. */
struct skel {
	const struct tb_host *host; /* valid until fini() returns */
	int refuse;                 /* option `refuse`: fail every request */
};

/* The host members this driver uses: up to and with free. A newer broker
 * passes a larger struct; an older one may lack members added later. */
#define SKEL_HOST_MIN (offsetof(struct tb_host, free) + sizeof(void *))

static int skel_init(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
                     void **instance)
{
	struct skel *s;

	if (!host || host->struct_size < SKEL_HOST_MIN || !instance)
		return TB_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		host->log(host, TB_LOG_ERR, "out of memory");
		return TB_ERR_NOMEM;
	}
	s->host = host;
	/* opts: every key of the section but `path`, borrowed for this call:
	 * copy what you keep. */
	for (size_t i = 0; i < n_opts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;

		if (!strcmp(k, "refuse") && (!strcmp(v, "yes") || !strcmp(v, "no"))) {
			s->refuse = !strcmp(v, "yes");
		} else {
			/* Refusing what you do not know catches typos; log why. */
			host->log(host, TB_LOG_ERR, "unknown option or bad value: %s = %s", k, v);
			free(s);
			return TB_ERR_INVAL;
		}
	}
	/* TODO: open the TEE here (a device, a socket, an enclave). */
	host->log(host, TB_LOG_NOTICE, "skeleton driver: no TEE behind it, every request %s",
	          s->refuse ? "fails" : "ends with nothing to do");
	*instance = s;
	return TB_OK;
}

static void skel_fini(void *instance)
{
	/* TODO: close the TEE. Every session was closed before this call. */
	free(instance);
}

/*
 * The common answer. Leaving out->tam_uri and out->msg NULL means "nothing
 * to do". To start an exchange with a TAM instead, set out->tam_uri (and
 * out->msg for a first message) to buffers from host->alloc(), and
 * out->session to your context for the exchange.
 */
static int skel_answer(struct skel *s, const char *op, struct tb_agent_out *out)
{
	(void)out;
	if (s->refuse) {
		/* An error return: say why in the log, leave out alone. */
		s->host->log(s->host, TB_LOG_ERR, "%s refused: refuse = yes and no TEE to ask", op);
		return TB_ERR_TEE;
	}
	s->host->log(s->host, TB_LOG_INFO, "%s: nothing to do (no TEE behind this driver)", op);
	return TB_OK;
}

/* The members of struct tb_ta_request this driver reads. */
#define SKEL_REQ_MIN (offsetof(struct tb_ta_request, n_segments) + sizeof(size_t))

static int skel_request_ta(void *instance, const struct tb_ta_request *req,
                           struct tb_agent_out *out)
{
	if (!req || req->struct_size < SKEL_REQ_MIN || !req->n_segments)
		return TB_ERR_INVAL;
	/* TODO: ask the Agent for req->component_id (req->n_segments byte
	 * strings); req->tam_uri is the app's hint, NULL if none. */
	return skel_answer(instance, "request_ta", out);
}

static int skel_unrequest_ta(void *instance, const struct tb_ta_request *req,
                             struct tb_agent_out *out)
{
	if (!req || req->struct_size < SKEL_REQ_MIN || !req->n_segments)
		return TB_ERR_INVAL;
	return skel_answer(instance, "unrequest_ta", out);
}

static int skel_policy_check(void *instance, struct tb_agent_out *out)
{
	/* Called again after each exchange it starts, until it answers
	 * nothing: answer one TAM per call. */
	return skel_answer(instance, "request_policy_check", out);
}

static int skel_process_teep_message(void *instance, void *session, const char *media_type,
                                     const uint8_t *msg, size_t msg_len, struct tb_agent_out *out)
{
	struct skel *s = instance;

	(void)session, (void)media_type, (void)msg, (void)out;
	/* This driver starts no exchange, so the broker never calls this. A
	 * real one hands the TAM's message to the Agent and returns its
	 * answer in out->msg, or nothing to end the exchange. */
	s->host->log(s->host, TB_LOG_WARN, "a TEEP message of %zu bytes, but no exchange is open",
	             msg_len);
	return TB_ERR_STATE;
}

static void skel_process_error(void *instance, void *session)
{
	/* The last message did not reach the TAM, or the TAM failed: tell
	 * the Agent. session_close() follows. */
	(void)instance, (void)session;
}

static void skel_session_close(void *instance, void *session)
{
	/* Free what you allocated for the exchange (never called with a
	 * session you did not return, and once for each). */
	(void)instance, (void)session;
}

/* The one exported symbol: the descriptor the broker checks and calls. */
TB_DRIVER_DECLARE(.name = "skeleton", .version = "1.0", .tee_kind = "none",
                  .description = "skeleton driver: talks to no TEE, answers nothing to do",
                  .init = skel_init, .fini = skel_fini, .request_ta = skel_request_ta,
                  .unrequest_ta = skel_unrequest_ta, .request_policy_check = skel_policy_check,
                  .process_teep_message = skel_process_teep_message,
                  .process_error = skel_process_error, .session_close = skel_session_close);
