/*
 * A driver of ABI 1.1 for the daemon's tests of what 1.1 adds (deadlines,
 * cancellation, reasons and retry hints, health, concurrency, ownership edge
 * cases). It is no Agent: request_ta and request_policy_check return nothing
 * (the app gets "no-change") unless an option says otherwise. It says what
 * it does in the broker's log, which the tests read.
 *
 * Options:
 *   delay = MS            each call takes MS, or until it is cancelled
 *   fail_with = temporary | permanent
 *                         each call fails: TB_ERR_BUSY with a retry hint of
 *                         2500 ms, or TB_ERR_TEE, both with a reason
 *   report_down = yes     the TEE is reported down at init
 *   error_session = yes   each call fails and returns a session with the
 *                         error (the broker must close it: a leak or a
 *                         double close shows under the sanitizers)
 *   exchange_with = URI   request_ta starts an exchange with that TAM (an
 *                         empty first POST: the TAM answers a QueryRequest);
 *                         process_teep_message then ends it, with tam_uri
 *                         and a new session set, which the broker must free
 *                         and close (driver.h, ownership edge cases)
 *
 * Built with max_concurrency FAKE_CONCURRENCY (default 2).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <teep-broker/driver.h>
#include <time.h>

#ifndef FAKE_CONCURRENCY
#define FAKE_CONCURRENCY 2
#endif

struct fake {
	const struct tb_host *host;
	unsigned delay_ms;
	int fail; /* 0, 1 temporary, 2 permanent */
	int error_session;
	const char *tam; /* points into opts: copied */
	char tam_buf[256];
	atomic_int running, peak;
};

static int fake_init(const struct tb_host *host, const struct tb_kv *opts, size_t n, void **inst)
{
	struct fake *f;

	if (!TB_HOST_HAS(host, set_health) || !TB_HOST_HAS(host, call_cancelled))
		return TB_ERR_UNSUP;
	f = calloc(1, sizeof(*f));
	if (!f)
		return TB_ERR_NOMEM;
	f->host = host;
	for (size_t i = 0; i < n; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		if (!strcmp(k, "delay"))
			f->delay_ms = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "fail_with"))
			f->fail = !strcmp(v, "temporary") ? 1 : 2;
		else if (!strcmp(k, "report_down"))
			host->set_health(host, 0, "fake maintenance window");
		else if (!strcmp(k, "error_session"))
			f->error_session = 1;
		else if (!strcmp(k, "exchange_with") && strlen(v) < sizeof(f->tam_buf))
			f->tam = strcpy(f->tam_buf, v);
		else
			/* repeated keys arrive in order: the tests read these lines */
			host->log(host, TB_LOG_NOTICE, "option %s = [%zu bytes] %.40s", k,
			          strlen(v), v);
	}
	*inst = f;
	return TB_OK;
}

static void fake_fini(void *inst)
{
	free(inst);
}

/* One call: wait delay_ms or until cancelled, then fail or return nothing. */
static int call(struct fake *f, const char *what, struct tb_agent_out *out)
{
	const struct tb_host *h = f->host;
	int now = atomic_fetch_add(&f->running, 1) + 1;
	int peak = atomic_load(&f->peak);
	int rc = TB_OK;

	while (now > peak && !atomic_compare_exchange_weak(&f->peak, &peak, now))
		;
	if (now > peak)
		h->log(h, TB_LOG_NOTICE, "%d calls at once", now);
	h->log(h, TB_LOG_NOTICE, "%s starts (deadline in %lld ms)", what,
	       (long long)(h->call_deadline_ms(h) - h->now_ms()));
	uint64_t end = h->now_ms() + f->delay_ms;
	while (h->now_ms() < end) {
		if (h->call_cancelled(h)) {
			h->log(h, TB_LOG_NOTICE, "%s cancelled", what);
			rc = TB_ERR_TEE;
			goto out;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (f->error_session) {
		out->session = h->alloc(16); /* the broker closes it */
		out->tam_uri = h->alloc(8);  /* and frees this */
		h->set_error(h, TB_ERR_TEE, 0, "fake error with a session");
		rc = TB_ERR_TEE;
	} else if (f->tam && !strcmp(what, "request_ta")) {
		size_t n = strlen(f->tam) + 1;
		out->tam_uri = h->alloc(n);
		out->session = h->alloc(16);
		if (!out->tam_uri || !out->session) {
			h->free(out->tam_uri);
			h->free(out->session);
			out->tam_uri = NULL;
			out->session = NULL;
			rc = TB_ERR_NOMEM;
		} else {
			memcpy(out->tam_uri, f->tam, n);
		}
	} else if (f->fail == 1) {
		h->set_error(h, TB_ERR_BUSY, 2500, "fake TEE full");
		rc = TB_ERR_BUSY;
	} else if (f->fail == 2) {
		h->set_error(h, TB_ERR_TEE, 0, "fake TEE exploded");
		rc = TB_ERR_TEE;
	}
out:
	atomic_fetch_sub(&f->running, 1);
	return rc;
}

static int fake_request(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	(void)req;
	return call(inst, "request_ta", out);
}

static int fake_policy(void *inst, struct tb_agent_out *out)
{
	return call(inst, "policy_check", out);
}

/* Ends the exchange, with outputs this operation ignores: the broker frees
 * tam_uri and closes the new session. */
static int fake_msg(void *inst, void *s, const char *mt, const uint8_t *m, size_t n,
                    struct tb_agent_out *out)
{
	struct fake *f = inst;
	(void)s, (void)mt, (void)m;
	f->host->log(f->host, TB_LOG_NOTICE, "process_teep_message (%zu bytes)", n);
	out->tam_uri = f->host->alloc(8);
	out->session = f->host->alloc(16);
	if (out->tam_uri)
		memcpy(out->tam_uri, "ignored", 8);
	return TB_OK;
}

static void fake_error(void *inst, void *s)
{
	(void)inst, (void)s;
}

static void fake_close(void *inst, void *s)
{
	struct fake *f = inst;
	f->host->log(f->host, TB_LOG_NOTICE, "session_close");
	f->host->free(s);
}

/* As a driver built against the 1.1 header has it: minor 1, and the
 * descriptor ends after reserved1 (a 1.2 broker loads it unchanged). */
__attribute__((visibility("default")))
const struct tb_driver tb_driver_entry = {.magic = TB_DRIVER_MAGIC,
                                          .abi_major = TB_DRIVER_ABI_MAJOR,
                                          .abi_minor = 1,
                                          .struct_size = offsetof(struct tb_driver, answer_now),
                                          .name = "fake11",
                                          .version = "0",
                                          .tee_kind = "none",
                                          .description = "ABI 1.1 test driver",
                                          .init = fake_init,
                                          .fini = fake_fini,
                                          .request_ta = fake_request,
                                          .unrequest_ta = fake_request,
                                          .request_policy_check = fake_policy,
                                          .process_teep_message = fake_msg,
                                          .process_error = fake_error,
                                          .session_close = fake_close,
                                          .max_concurrency = FAKE_CONCURRENCY};
