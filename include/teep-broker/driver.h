/*
 * teep-broker TEE driver ABI, version 1.2
 *
 * A TEE driver is a shared object that teep-brokerd loads with
 * dlopen(RTLD_NOW | RTLD_LOCAL). It connects the broker to one kind of TEEP
 * Agent (a software agent, an agent in a confidential VM, OP-TEE, ...). The
 * operations are the TEEP Agent API of RFC 9397 section 6.2.1: RequestTA,
 * UnrequestTA, RequestPolicyCheck, ProcessTeepMessage and ProcessError.
 *
 * Build a driver:
 *
 *   cc -fPIC -shared -fvisibility=hidden -o mytee.so mytee.c
 *
 * and export exactly one symbol, `tb_driver_entry`, best with the
 * TB_DRIVER_DECLARE() macro at the end of this file:
 *
 *   TB_DRIVER_DECLARE(.name = "mytee", .version = "1.0", .tee_kind = "sgx",
 *                     .description = "...", .init = my_init, ...);
 *
 * Versioning. The broker accepts a driver whose abi_major equals
 * TB_DRIVER_ABI_MAJOR and whose abi_minor is at most its own. New operations
 * are only ever appended (a minor bump); the broker treats any operation
 * beyond the driver's struct_size as absent. A major bump means an
 * incompatible change.
 *
 * Threads. The broker creates max_concurrency worker threads (1 unless the
 * descriptor says otherwise, ABI 1.1) per configured driver instance (a
 * `[driver:NAME]` section). init() and fini() run on the main thread before
 * the event loop starts and after it stops; every other operation of an
 * instance runs on one of that instance's worker threads, at most
 * max_concurrency calls at a time (so one at a time by default). Operations
 * may block (a real TEE call can take seconds): they never run on the network
 * loop -- except answer_now() (ABI 1.2, optional), which runs on the loop,
 * must never block and may run while a worker thread is in another
 * operation of the same instance. A driver that shares state between instances, or declares
 * max_concurrency above 1, must lock it itself. The calls of one exchange
 * (one session) never overlap.
 *
 * Ownership. Every pointer the broker passes in is borrowed for the duration
 * of the call only. Every buffer a driver returns in `struct tb_agent_out` is
 * allocated with host->alloc() and its ownership moves to the broker, which
 * frees it with host->free(); the driver must not touch it afterwards. The
 * broker never frees memory the driver obtained any other way.
 *
 * Compatibility. A 1.1 broker loads 1.0 drivers unchanged: what 1.1 adds is
 * either past a 1.0 descriptor's struct_size (treated as absent: one worker
 * thread) or host services a 1.0 driver never calls. A 1.1 driver runs only
 * on a 1.1 broker (the minor check above); it reads host->struct_size before
 * calling a host member added in 1.1 (TB_HOST_HAS()).
 *
 * ABI changelog
 *   1.0  first version
 *   1.1  host services for drivers: call_deadline_ms(), call_cancelled(),
 *        set_error() (a reason and a retry hint for the app), set_health()
 *        (the TEE is down / up again); TB_ERR_BUSY; descriptor field
 *        max_concurrency; host services for plugins (plugin.h 1.1):
 *        ban_address(), close_address(); ownership edge cases written down
 *        (a session returned with an error, tam_uri and session set by
 *        process_teep_message)
 *   1.2  answer_now() (optional): a request_ta or unrequest_ta the Agent has
 *        nothing to do for, answered on the event loop without a worker
 *        thread's round trip; TB_ERR_AGAIN
 */
#ifndef TEEP_BROKER_DRIVER_H
#define TEEP_BROKER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_DRIVER_MAGIC     0x54424452u /* "TBDR" */
#define TB_DRIVER_ABI_MAJOR 1
#define TB_DRIVER_ABI_MINOR 2

/* Status codes returned by driver operations (and used inside the broker). */
enum tb_status {
	TB_OK = 0,
	TB_ERR_NOMEM = -1,     /* out of memory */
	TB_ERR_INVAL = -2,     /* bad argument or malformed input */
	TB_ERR_PARSE = -3,     /* a message could not be decoded */
	TB_ERR_SIG = -4,       /* a signature did not verify */
	TB_ERR_UNSUP = -5,     /* not supported (algorithm, operation, ...) */
	TB_ERR_TOOBIG = -6,    /* a size limit was exceeded */
	TB_ERR_IO = -7,        /* I/O error (files, devices) */
	TB_ERR_STATE = -8,     /* call not valid in the current state */
	TB_ERR_TEE = -9,       /* the TEE failed or cannot be reached */
	TB_ERR_NOTFOUND = -10, /* no such object */
	/* 1.1: temporary, the TEE cannot take the call now (it is full,
	 * restarting, ...): the app is answered busy, with the retry hint of
	 * host->set_error() if one was given. Returned to a 1.0 broker it
	 * would be an ordinary failure, but a 1.1 driver never runs there. */
	TB_ERR_BUSY = -11,
	/* 1.2: answer_now() cannot answer this one at once: the broker makes
	 * the ordinary call on a worker thread. */
	TB_ERR_AGAIN = -12
};

/* 1.2: which request answer_now() is offered. */
enum tb_driver_op { TB_OP_REQUEST_TA = 1, TB_OP_UNREQUEST_TA = 2 };

/* Log levels for host->log(). */
enum tb_log_level {
	TB_LOG_ERR = 0,
	TB_LOG_WARN = 1,
	TB_LOG_NOTICE = 2,
	TB_LOG_INFO = 3,
	TB_LOG_DEBUG = 4
};

/* A byte string. Borrowed unless said otherwise. */
struct tb_bytes {
	const uint8_t *ptr;
	size_t len;
};

/* A configuration option: one `key = value` line of the driver's section. */
struct tb_kv {
	const char *key;
	const char *value;
};

/*
 * Services the broker offers to a driver (and to a plugin, plugin.h). Passed
 * to init(); valid until fini() returns. Check struct_size before using a
 * member added after 1.0 (TB_HOST_HAS()), and that it is not NULL: members
 * meant for drivers are NULL in a plugin's host and the other way round.
 * The 1.0 members may be called from any thread; each 1.1 member says where.
 */
struct tb_host {
	uint32_t struct_size; /* sizeof(struct tb_host) as the broker built it */
	uint32_t reserved0;
	/* Log a line under the driver instance's name. */
	void (*log)(const struct tb_host *host, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	/* Allocate memory whose ownership may pass to the broker. */
	void *(*alloc)(size_t size);
	void (*free)(void *ptr);
	/* Monotonic milliseconds. */
	uint64_t (*now_ms)(void);
	void *reserved[8]; /* zero */

	/* ---- 1.1, drivers (NULL for plugins) ----
	 * The first two, and set_error, are about "the current call": the
	 * operation the calling worker thread is running (request_ta,
	 * unrequest_ta, request_policy_check, process_teep_message,
	 * process_error, session_close). Called from anywhere else (another
	 * thread of the driver, init, fini) they report no call: 0, and
	 * set_error does nothing. */

	/* When the broker stops waiting for the current call: an absolute
	 * time on the now_ms() clock (monotonic ms); 0 when there is no
	 * current call. The app is answered "timeout" then; a driver that
	 * waits for its TEE should give up by it. */
	uint64_t (*call_deadline_ms)(const struct tb_host *host);
	/* Nonzero once nobody needs the current call's result any more: the
	 * app that asked has gone and no exchange depends on it, its deadline
	 * has passed, or the broker is stopping. The driver may then stop
	 * early and return any error (TB_ERR_TEE); whatever it returns is
	 * handled as usual (outputs freed, a session closed), so stopping is
	 * safe at any point. Cheap (one atomic load): poll it. Cleanup calls
	 * (process_error, session_close) are never cancelled. */
	int (*call_cancelled)(const struct tb_host *host);
	/* Say why the current call fails, before returning the error. status
	 * is the status the operation returns (TB_ERR_BUSY: temporary);
	 * retry_after_ms a hint for the app, 0 for none (TB_ERR_BUSY then
	 * defaults to 1000 ms); reason a short sentence for the app and the
	 * log (copied; at most 200 bytes are kept; printable text). The last
	 * call wins; ignored when the operation returns TB_OK. What the app
	 * gets: TB_ERR_BUSY -> "busy" with "retry-after" and the reason;
	 * any other error -> error 5 "tee-failed" with the reason in
	 * "detail". */
	void (*set_error)(const struct tb_host *host, int status, uint32_t retry_after_ms,
	                  const char *reason);
	/* Report the TEE down (up = 0) or up again (up = 1), from any thread,
	 * at any time after init() began (also from init and from threads of
	 * the driver's own). reason (copied, at most 200 bytes) says why it is
	 * down. While it is down the broker answers every request for it at
	 * once with "busy" (retry-after 5000 ms, reason "TEE down: <reason>")
	 * without calling the driver, and skips its periodic policy checks;
	 * calls already queued or running go on. A TEE starts up. */
	void (*set_health)(const struct tb_host *host, int up, const char *reason);

	/* ---- 1.1, plugins (NULL for drivers) ----
	 * Loop thread only: from a plugin hook (plugin.h). */

	/* Ban an IP address (text, IPv4 or IPv6) as if it had just reached
	 * the [ban] threshold (for the ban time that section gives it): its
	 * connections are closed and new ones refused until the ban ends; the
	 * plugins' ban hooks are told. why (may be NULL) is logged. TB_OK (also
	 * when it was banned already), TB_ERR_INVAL (not an address),
	 * TB_ERR_STATE (bans are off: [ban] enabled = no), or TB_ERR_NOTFOUND
	 * (an allowlisted address: never banned). */
	int (*ban_address)(const struct tb_host *host, const char *address, const char *why);
	/* Close every app connection from an IP address (status 1008, once
	 * the answers queued on it are written); the address may connect
	 * again. The number of connections closed, or TB_ERR_INVAL. */
	int (*close_address)(const struct tb_host *host, const char *address);
};

/* Whether host (a const struct tb_host *) has the member, by struct_size. */
#define TB_HOST_HAS(host, member)                                                                  \
	((host)->struct_size >= offsetof(struct tb_host, member) + sizeof((host)->member) &&       \
	 (host)->member != NULL)

/*
 * Input of RequestTA and UnrequestTA (RFC 9397 6.2.1): the Trusted Component
 * an Untrusted Application depends on, and optional metadata.
 */
struct tb_ta_request {
	uint32_t struct_size;
	uint32_t reserved0;
	/* SUIT_Component_Identifier: n_segments byte strings. */
	const struct tb_bytes *component_id;
	size_t n_segments;
	/* Optional TAM URI from the app's metadata; NULL if none. The Agent
	 * decides which URI is used (the one it returns wins). */
	const char *tam_uri;
	/* Identity of the requesting application as the broker knows it
	 * (an authenticated name, else its address); informational. */
	const char *app_id;
	void *reserved[4];
};

/*
 * Output of an Agent API call. All members start zeroed. Leave both tam_uri
 * and msg NULL to say "nothing to do" (RFC 9397: the Agent returns no data).
 * Set tam_uri (and msg for an unsolicited message) to ask the broker to start
 * or continue a TEEP-over-HTTP exchange.
 *
 * tam_uri, msg: allocated with host->alloc(); owned by the broker once the
 *               operation returns TB_OK (on an error return the broker frees
 *               them too, so never free them yourself after setting them).
 * media_type:   static string or NULL (NULL means "application/teep+cbor").
 * session:      the Agent's context for this exchange, passed back to
 *               process_teep_message(), process_error() and session_close().
 *               The broker calls session_close() exactly once for every
 *               non-NULL session it receives, on the worker thread, before
 *               fini() -- unless a call of the instance is still running at
 *               the shutdown deadline (see fini).
 *
 * Edge cases (1.1 writes down what 1.0 brokers did, except the leak fixed):
 * - An operation that returns an error with session set: the broker frees
 *   tam_uri and msg, never passes that session to another operation, and
 *   closes it with session_close() (once, like any other).
 * - process_teep_message with tam_uri set: it is freed (ignored). With
 *   session set: the session it was given (or NULL) is ignored; any other
 *   value is a new session the broker does not use and closes with
 *   session_close() once, so nothing leaks.
 */
struct tb_agent_out {
	char *tam_uri;
	uint8_t *msg;
	size_t msg_len;
	const char *media_type;
	void *session;
	void *reserved[4];
};

struct tb_driver {
	/* Header, frozen for all versions. */
	uint32_t magic;       /* TB_DRIVER_MAGIC */
	uint16_t abi_major;   /* TB_DRIVER_ABI_MAJOR the driver was built with */
	uint16_t abi_minor;   /* TB_DRIVER_ABI_MINOR the driver was built with */
	uint32_t struct_size; /* sizeof(struct tb_driver) the driver was built with */
	uint32_t flags;       /* none defined yet: 0 */
	const char *name;     /* short name, e.g. "sim" */
	const char *version;  /* driver version string */
	const char *tee_kind; /* "software", "optee", "sgx", "sev-snp", "tdx", ... */
	const char *description;

	/*
	 * init (REQUIRED). Main thread. Create one driver instance from the
	 * options of its config section. opts is borrowed for the call; copy
	 * what you keep. host stays valid until fini() returns. On success
	 * store the instance in *instance and return TB_OK; on failure log the
	 * reason through host->log and return an error.
	 */
	int (*init)(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
	            void **instance);

	/*
	 * fini (REQUIRED). Main thread, after the last operation returned and
	 * every session was closed. The broker stops by a deadline
	 * (shutdown_grace plus a fixed margin, docs/driver-abi.md): if an
	 * operation of the instance is still running then, fini() is not
	 * called at all, the sessions still open are not closed and the
	 * driver is not unloaded; the process exits with the call running,
	 * host stays valid for it, and nothing is called after it returns.
	 */
	void (*fini)(void *instance);

	/*
	 * request_ta (REQUIRED). Worker thread. An app depends on a Trusted
	 * Component. Fill *out (see struct tb_agent_out) and return TB_OK, or
	 * return an error if the Agent cannot be asked at all.
	 */
	int (*request_ta)(void *instance, const struct tb_ta_request *req,
	                  struct tb_agent_out *out);

	/* unrequest_ta (REQUIRED). Worker thread. An app no longer needs it. */
	int (*unrequest_ta)(void *instance, const struct tb_ta_request *req,
	                    struct tb_agent_out *out);

	/*
	 * request_policy_check (REQUIRED). Worker thread. The broker calls it
	 * again after each exchange it started has ended, until it returns
	 * nothing (one TAM per call).
	 */
	int (*request_policy_check)(void *instance, struct tb_agent_out *out);

	/*
	 * process_teep_message (REQUIRED). Worker thread. A TAM answered with
	 * a message (msg, borrowed). Set out->msg to the message to send back
	 * to the same TAM URI, or leave it NULL to end the exchange. out->
	 * tam_uri and out->session are ignored here. media_type is
	 * "application/teep+cbor" when the TAM labelled the message so, and
	 * also when the TAM used a label the operator accepts for it ([tam]
	 * accept_media_types) and the body is a COSE_Sign1 or COSE_Sign;
	 * otherwise it is the TAM's own label, for the Agent to judge.
	 */
	int (*process_teep_message)(void *instance, void *session, const char *media_type,
	                            const uint8_t *msg, size_t msg_len, struct tb_agent_out *out);

	/*
	 * process_error (REQUIRED). Worker thread. The broker could not
	 * deliver the last message of this exchange, or the TAM answered with
	 * an HTTP error, or the exchange timed out. session_close() follows.
	 */
	void (*process_error)(void *instance, void *session);

	/* session_close (OPTIONAL). Worker thread. Free an exchange's state. */
	void (*session_close)(void *instance, void *session);

	void *reserved[8]; /* zero */

	/* ---- 1.1 ---- */
	/* How many operations of one instance the broker may run at once, on
	 * as many worker threads (1..TB_DRIVER_MAX_CONCURRENCY; 0 means 1, a
	 * larger value is capped). Above 1 the driver locks its own state;
	 * the calls of one session still never overlap. */
	uint32_t max_concurrency;
	uint32_t reserved1; /* zero */

	/* ---- 1.2 ---- */
	/*
	 * answer_now (OPTIONAL). EVENT-LOOP thread: every other app of the
	 * node waits while it runs. When an app's request-ta or unrequest-ta
	 * (op) has passed the broker's checks and rate limits, before it joins
	 * an exchange in progress or waits in the fair queue for a worker
	 * thread, the broker offers it here. Return
	 * TB_OK only when the Agent can tell at once that it has nothing to do
	 * (the component is installed already, for TB_OP_REQUEST_TA; it is not
	 * installed, for TB_OP_UNREQUEST_TA), having done what that operation
	 * would have done then (it returns TB_OK with nothing in its struct
	 * tb_agent_out). The app is then answered done "no-change" at once, and
	 * the operation is not called. Return TB_ERR_AGAIN for anything else
	 * (an exchange is needed, the answer needs I/O or cryptography, the
	 * instance's lock is taken): the broker then makes the ordinary call on
	 * a worker thread. Any other return is taken as TB_ERR_AGAIN.
	 *
	 * Rules: never block and never wait for a lock (pthread_mutex_trylock,
	 * and TB_ERR_AGAIN when it is taken); a few microseconds at most, no
	 * I/O (host->log is fine); it may run while a worker thread is inside
	 * any other operation of the instance, whatever max_concurrency says,
	 * so the state it reads is locked against them. req is borrowed for the
	 * call. The 1.1 host services about "the current call" report none here
	 * (call_deadline_ms() 0, set_error() ignored). The request still
	 * counts as a TEE call (rate limits, counters).
	 */
	int (*answer_now)(void *instance, int op, const struct tb_ta_request *req);
};

#define TB_DRIVER_MAX_CONCURRENCY 64

/* Smallest struct_size the broker accepts: everything up to session_close. */
#define TB_DRIVER_MIN_SIZE (offsetof(struct tb_driver, session_close) + sizeof(void *))

#define TB_DRIVER_ENTRY_SYMBOL "tb_driver_entry"

/* Declare the driver's single exported descriptor. */
#define TB_DRIVER_DECLARE(...)                                                                     \
	__attribute__((visibility("default")))                                                     \
	const struct tb_driver tb_driver_entry = {.magic = TB_DRIVER_MAGIC,                        \
	                                          .abi_major = TB_DRIVER_ABI_MAJOR,                \
	                                          .abi_minor = TB_DRIVER_ABI_MINOR,                \
	                                          .struct_size = sizeof(struct tb_driver),         \
	                                          __VA_ARGS__}

#ifdef __cplusplus
}
#endif
#endif
