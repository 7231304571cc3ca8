/*
 * Drivers for tests/integration/driver_check.sh: one correct driver that
 * opens TAM exchanges with sessions, built once as it is (teep-driver-check
 * passes it) and once per defect below, each of which teep-driver-check must
 * name (see tests/broker.mk for the builds):
 *
 *   BROKEN_MAGIC    the descriptor's magic is wrong
 *   BROKEN_NO_OP    the required process_error is missing
 *   BROKEN_FOREIGN  request_ta returns a URI that host->alloc did not make
 *   BROKEN_ERR_OUT  process_teep_message fails and leaves out->msg set
 *   BROKEN_LOOP     request_policy_check never answers nothing
 *   BROKEN_CRASH    process_teep_message crashes on an empty message
 *   BROKEN_LEAK     request_ta keeps a host->alloc buffer it never frees
 *
 * and for the checks of ABI 1.1, with a TEE that takes BROKEN_SLOW_MS for
 * each request_ta:
 *
 *   BROKEN_DEAF     never asks call_deadline_ms() or call_cancelled(): the
 *                   call runs past its deadline
 *   BROKEN_HANG     asks call_cancelled(), and once cancelled never returns
 *                   (it waits for a wake-up nobody sends)
 *   BROKEN_RACE     declares max_concurrency 4 but shares unlocked state
 *                   between calls: two request_ta at once crash it
 *
 * and for ABI 1.2:
 *
 *   BROKEN_NOW      answer_now says "nothing to do" for request_ta too, whose
 *                   full call opens a TAM exchange
 */
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>
#include <time.h>
#include <unistd.h>

#define BROKEN_SLOW_MS 350

#if defined(BROKEN_DEAF) || defined(BROKEN_HANG) || defined(BROKEN_RACE)
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts))
		;
}
#endif

#define TAM_URI "http://127.0.0.1:9/tam"

struct inst {
	const struct tb_host *host;
	int round; /* a policy round is open */
	void *kept;
};

struct session {
	int failed;
};

static int init(const struct tb_host *host, const struct tb_kv *opts, size_t n, void **out)
{
	struct inst *i = calloc(1, sizeof(*i));

	(void)opts, (void)n;
	if (!i)
		return TB_ERR_NOMEM;
	i->host = host;
	*out = i;
	return TB_OK;
}

static void fini(void *inst)
{
	free(inst);
}

/* A TAM exchange: the URI, and a session of ours. */
static int exchange(struct inst *i, struct tb_agent_out *out)
{
	size_t n = sizeof(TAM_URI);
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return TB_ERR_NOMEM;
#ifdef BROKEN_FOREIGN
	out->tam_uri = malloc(n);
#else
	out->tam_uri = i->host->alloc(n);
#endif
	if (!out->tam_uri) {
		free(s);
		return TB_ERR_NOMEM;
	}
	memcpy(out->tam_uri, TAM_URI, n);
	out->session = s;
	return TB_OK;
}

static int request_ta(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	struct inst *i = inst;

	if (!req || !req->n_segments)
		return TB_ERR_INVAL;
#ifdef BROKEN_DEAF
	sleep_ms(BROKEN_SLOW_MS); /* whatever the deadline */
#endif
#ifdef BROKEN_HANG
	const struct tb_host *h = i->host;
	for (uint64_t end = h->now_ms() + BROKEN_SLOW_MS; h->now_ms() < end;) {
		if (h->call_cancelled(h))
			for (;;)
				pause(); /* the wake-up never comes */
		sleep_ms(5);
	}
#endif
#ifdef BROKEN_RACE
	/* "one call at a time", although the descriptor says 4 */
	static volatile int in_call;
	if (in_call++) {
		volatile int *volatile p = NULL;
		*p = in_call; /* writes address 0 */
	}
	sleep_ms(20);
	in_call--;
#endif
#ifdef BROKEN_LEAK
	if (!i->kept)
		i->kept = i->host->alloc(100); /* and fini forgets it */
#endif
	return exchange(i, out);
}

static int unrequest_ta(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	(void)inst, (void)out;
	return req && req->n_segments ? TB_OK : TB_ERR_INVAL; /* nothing to do */
}

/* ABI 1.2: unrequest_ta never has anything to do, request_ta always has. */
static int answer_now(void *inst, int op, const struct tb_ta_request *req)
{
	(void)inst;
	if (!req || !req->n_segments)
		return TB_ERR_AGAIN;
#ifdef BROKEN_NOW
	(void)op;
	return TB_OK; /* wrong for request_ta */
#else
	return op == TB_OP_UNREQUEST_TA ? TB_OK : TB_ERR_AGAIN;
#endif
}

/* Rounds of two calls: the TAM, then nothing. */
static int policy_check(void *inst, struct tb_agent_out *out)
{
	struct inst *i = inst;

#ifndef BROKEN_LOOP
	if (i->round) {
		i->round = 0;
		return TB_OK;
	}
#endif
	i->round = 1;
	return exchange(i, out);
}

static int process_teep_message(void *inst, void *session, const char *media_type,
                                const uint8_t *msg, size_t len, struct tb_agent_out *out)
{
	struct inst *i = inst;

	(void)session, (void)media_type, (void)i;
#ifdef BROKEN_CRASH
	if (!len) {
		volatile const uint8_t *volatile p = NULL;
		out->msg_len = p[0]; /* reads address 0 */
	}
#endif
	if (!len || msg[0] != 0xd2)
		return TB_ERR_PARSE;
		/* a COSE_Sign1 whose signature this driver cannot verify */
#ifdef BROKEN_ERR_OUT
	out->msg = i->host->alloc(4);
	if (out->msg) {
		memcpy(out->msg, "\xd2\x84\x40\xa0", 4);
		out->msg_len = 4;
	}
#endif
	return TB_ERR_SIG;
}

static void process_error(void *inst, void *session)
{
	struct session *s = session;

	(void)inst;
	if (s)
		s->failed = 1;
}

static void session_close(void *inst, void *session)
{
	(void)inst;
	free(session);
}

__attribute__((visibility("default"))) const struct tb_driver tb_driver_entry = {
#ifdef BROKEN_MAGIC
    .magic = 0x54424458u,
#else
    .magic = TB_DRIVER_MAGIC,
#endif
    .abi_major = TB_DRIVER_ABI_MAJOR,
    .abi_minor = TB_DRIVER_ABI_MINOR,
    .struct_size = sizeof(struct tb_driver),
    .name = "broken",
    .version = "0",
    .tee_kind = "none",
    .init = init,
    .fini = fini,
    .request_ta = request_ta,
    .unrequest_ta = unrequest_ta,
    .request_policy_check = policy_check,
    .process_teep_message = process_teep_message,
#ifndef BROKEN_NO_OP
    .process_error = process_error,
#endif
    .session_close = session_close,
#ifdef BROKEN_RACE
    .max_concurrency = 4,
#endif
    .answer_now = answer_now,
};

#ifdef BROKEN_NO_OP
/* keeps the operation referenced so the object builds without warnings */
__attribute__((visibility("default"))) void (*const broken_unused)(void *, void *) = process_error;
#endif
