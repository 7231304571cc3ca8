/*
 * teep-brokerd internals: the objects one broker process is made of, and the
 * functions its modules offer each other.
 *
 *   tb_broker   the process: config, the lws context that owns every socket
 *               and timer, the TEEs, the live exchanges, counters
 *   tb_tee      one configured driver instance, with the worker thread its
 *               (possibly blocking) calls run on
 *   tb_ua_conn  one app's websocket connection
 *   tb_session  one exchange: a TEE call and the TEEP-over-HTTP exchange(s)
 *               it leads to, for the app requests waiting on it
 *   tb_waiter   one accepted app request waiting on a session: the one that
 *               started it, or an identical one that joined it (single
 *               flight, flight.h); each gets the session's progress and its
 *               own single final answer
 *   tb_call     one driver call travelling to a TEE worker and back
 *   tb_defences the denial-of-service defences (defence.c): rate-limit zones,
 *               the ban table, open connections per address
 *   tb_plugin_inst one loaded broker plugin (plugin.c)
 *   tb_observed what /metrics shows besides the counters (scrape.c): error
 *               answers by code, latency histograms
 *
 * Everything here is touched on the loop thread only, except the inside of a
 * tb_call while its job runs on a worker.
 */
#ifndef TB_BROKER_H
#define TB_BROKER_H

#include "apptam.h"
#include "banscore.h"
#include "conf.h"
#include "deadline.h"
#include "fairq.h"
#include "flight.h"
#include "http1.h"
#include "keytable.h"
#include "loader.h"
#include "metrics.h"
#include "precheck.h"
#include "ratelimit.h"
#include "tamsm.h"
#include "tb_teep.h"
#include "tb_uaproto.h"
#include "worker.h"

#include <libwebsockets.h>
#include <stdint.h>

struct tb_broker;
struct tb_session;
struct tb_resolve;
struct tb_resolver;
struct tb_tls;
struct tb_tls_ctx;
struct tb_admin;
struct tb_reload;
struct tb_listener_tls;

#define TB_HTTP_MAX_HEAD 16384 /* bytes of an HTTP answer's status and headers */

/*
 * Shutdown (SIGTERM, SIGINT) runs to one deadline, shutdown_grace after the
 * signal: requests that have not started are answered "shutdown" at once,
 * nothing new starts, exchanges under way may finish until the deadline and
 * are answered "shutdown" then. After it the broker takes at most
 * TB_STOP_MARGIN_MS more to write the answers (TB_STOP_FLUSH_MS of it), have
 * the drivers close the Agent sessions left and stop its threads; then it
 * calls the drivers' fini() and exits. A driver call still running at that
 * point is left behind (docs/driver-abi.md).
 */
#define TB_STOP_FLUSH_MS  500
#define TB_STOP_MARGIN_MS 2000

struct tb_counters {
	uint64_t conns_accepted;
	/* connections refused, by reason: at accept time, before any
	 * per-connection cost (or right after the handshake when several
	 * raced past the accept-time check) */
	uint64_t refused_stopping; /* the broker is stopping */
	uint64_t refused_global;   /* max_connections reached */
	uint64_t refused_per_ip;   /* max_connections_per_ip reached */
	uint64_t refused_banned;   /* the address is banned */
	uint64_t refused_origin;   /* handshakes with an Origin not in allow_origins (403) */
	uint64_t frames_in;
	uint64_t frames_rejected; /* malformed, oversize, text */
	uint64_t frames_slow;     /* connections closed: a frame took over frame_timeout */
	uint64_t requests;        /* accepted requests */
	uint64_t answers_done;
	uint64_t answers_error;
	uint64_t answers_busy;
	/* final answers of requests whose app had gone (not in the above) */
	uint64_t answers_dropped_gone;
	uint64_t progress_dropped; /* progress events not queued (slow app) */
	uint64_t tx_throttled;     /* times an app's reading stopped: answers unread */
	uint64_t tam_posts;
	uint64_t tam_connections;    /* TCP connections opened to TAMs */
	uint64_t tam_reused;         /* POSTs sent on a connection kept from the one before */
	uint64_t tam_tls_handshakes; /* TLS handshakes with TAMs completed */
	uint64_t tam_tls_resumed;    /* of those, resuming a kept session */
	uint64_t tam_failures;
	uint64_t tee_calls;
	uint64_t tee_now; /* of those, answered on the loop (driver ABI 1.2 answer_now) */
	uint64_t tee_timeouts;
	uint64_t rate_limited;    /* frames refused by a [limit:NAME] zone (or its table full) */
	uint64_t rate_delayed;    /* frames held back, then served */
	uint64_t rate_dryrun;     /* frames a dry-run zone would have delayed or refused */
	uint64_t bans;            /* bans started */
	uint64_t coalesced;       /* requests that joined an exchange in flight */
	uint64_t busy_sessions;   /* requests answered busy: max_sessions reached */
	uint64_t busy_waiters;    /* requests answered busy: their exchange has max_waiters */
	uint64_t tam_not_allowed; /* requests refused: their "tam" is not allowed */
	uint64_t tam_uri_refused; /* exchanges stopped: the Agent named a TAM not allowed */
	uint64_t queued;          /* requests that waited in a TEE's fair queue */
	uint64_t busy_queue;      /* requests answered busy: the app's queue for the TEE is full */
	uint64_t queue_timeouts;  /* requests that waited call_timeout without reaching the TEE */
	/* plugins (printed only when some are configured) */
	uint64_t refused_plugin;       /* handshakes an app_connect hook refused (403) */
	uint64_t refused_unauthorized; /* handshakes authenticate refused (401) */
	uint64_t refused_bad_request;  /* handshakes with a header too long for plugins (400) */
	uint64_t authenticated;        /* connections opened with an identity */
	uint64_t anonymous;            /* connections opened without one */
	uint64_t forbidden;            /* requests an app_op hook refused */
	/* apps acting as their own TAM (apptam.c) */
	uint64_t app_tam_sessions;    /* tam-sessions started */
	uint64_t app_tam_refused;     /* tam ops of apps without an [app-tam] section */
	uint64_t dropped_forged;      /* TAM messages that failed the pre-check */
	uint64_t tam_precheck_failed; /* HTTP TAM answers that failed it ([tam] precheck) */
	/* configuration reloads (SIGHUP, reload.c) */
	uint64_t reloads_ok;      /* applied */
	uint64_t reloads_refused; /* invalid, needing a restart, or a plugin refused */
};

#define TB_OBS_MAX_CODE 31 /* error codes counted one by one; higher ones in 0 */

struct tb_observed {
	uint64_t started_ms;
	uint64_t errors_by_code[TB_OBS_MAX_CODE + 1];          /* error answers written, by code */
	struct tb_histogram tam_seconds[TB_CONF_MAX_TAMS];     /* TAM POSTs, by [tam] */
	struct tb_histogram call_seconds[TB_CONF_MAX_DRIVERS]; /* driver calls, by TEE */
};

/* A peer's address as the defences key it: 4 bytes for IPv4 (also when a
 * dual-stack socket reports it as ::ffff:a.b.c.d, so that one peer has one
 * key), 16 for IPv6, in network order. len 0: unknown (never limited per
 * address, never scored). */
struct tb_peer {
	uint8_t addr[16];
	uint8_t len;
};

/* One [limit:NAME] zone. */
struct tb_zone {
	const struct tb_conf_limit *conf;
	struct tb_rl_zone *rl;
	int warned_full; /* "table full" is logged once, then only counted */
};

struct tb_defences {
	struct tb_zone zones[TB_CONF_MAX_LIMITS];
	size_t n_zones;
	struct tb_ban_table *bans; /* NULL: [ban] enabled = no */
	struct tb_kt per_ip;       /* open connections of each address */
	int per_ip_ready;
	struct tb_flights flights; /* exchanges identical requests may join */
};

/* One [plugin:NAME] section's loaded plugin. */
struct tb_plugin_inst {
	const struct tb_conf_plugin *conf;
	struct tb_loaded_plugin lp;
	void *instance;
	int initialised;
	struct tb_host host;
	struct tb_broker *b; /* for the host services of plugin ABI 1.1 */
};

struct tb_tee {
	struct tb_broker *b;
	const struct tb_conf_driver *conf;
	const struct tb_conf_tam *tam;
	struct lws_vhost *tam_vhost; /* client vhost carrying the TAM's TLS settings */
	char vhost_name[80];         /* lws keeps a pointer to it */
	struct tb_tls_ctx *tls;      /* the TAM's TLS trust (https URIs) */
	struct tb_loaded_driver ld;
	void *instance;
	int initialised;
	struct tb_host *host; /* own allocation: a driver call left running at
	                         exit may still use it */
	struct tb_worker worker;
	unsigned *tam_sessions; /* live exchanges with its TAM (shared by the
	                           TEEs of one [tam] section) */
	unsigned index;         /* in b->tees */
	lws_sorted_usec_list_t policy_timer;
	/* Requests waiting for the TEE, one DRR flow per app connection
	 * (docs/defences.md section 2); own_flow holds the broker's own
	 * periodic policy checks and requests whose app has gone. */
	struct tb_fq fq;
	struct tb_fq_flow own_flow;
	unsigned starting; /* first calls of exchanges in the worker: max_in_flight */
	/* its sessions' deadlines, one list per length (deadline.h): waiting
	 * in the queue or for a call (call_timeout), for the TAM from the
	 * connection attempt (connect + response timeout), for the TAM's
	 * answer once the request is out (response timeout) */
	struct tb_dl_list dl_call, dl_connect, dl_response;
};

enum tb_call_kind {
	TB_CALL_REQUEST_TA,
	TB_CALL_UNREQUEST_TA,
	TB_CALL_POLICY_CHECK,
	TB_CALL_PROCESS_MESSAGE,
	TB_CALL_PROCESS_ERROR,
	TB_CALL_SESSION_CLOSE
};

#define TB_CALL_REASON_MAX 200 /* bytes of a driver's reason text (driver.h) */

struct tb_call {
	struct tb_job job;
	struct tb_tee *tee;
	const struct tb_host *host; /* the TEE's, which outlives an abandoned call */
	uint64_t deadline_ms;       /* tb_now_ms() by which the app stops waiting */
	enum tb_call_kind kind;
	struct tb_session *s; /* NULL for a cleanup call nobody waits for */
	struct tb_apptam *at; /* or the app-as-TAM session waiting for it */
	/* inputs (borrowed from the session, which outlives the call) */
	struct tb_ta_request req;
	struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];
	void *agent_session;
	uint8_t *msg; /* owned by the call */
	size_t msg_len;
	const char *media_type;
	/* TB_CALL_PROCESS_MESSAGE with check_key set: the worker pre-checks msg
	 * (precheck.c: signature, decoding) before the driver sees it, off the
	 * loop; when it fails the driver is not called, check says why and
	 * status is TB_ERR_SIG */
	struct tb_key *check_key;
	size_t check_max;
	enum tb_numbering check_num;
	/* outputs */
	int status;
	struct tb_agent_out out;
	enum tb_precheck check;       /* TB_PRECHECK_OK unless the pre-check failed */
	enum tb_teep_type check_type; /* the message's type, as the pre-check saw it */
	uint64_t run_us;              /* the worker's time on it */
	/* ABI 1.1 (driver.h): host->set_error() during the call */
	int err_set, err_status;
	uint32_t retry_after_ms;
	char reason[TB_CALL_REASON_MAX + 1];
	int temporary;     /* failed with TB_ERR_BUSY: the app may retry */
	int dropped;       /* cancelled or past its deadline: the driver never saw it */
	int stray_session; /* out.session is to be closed, not used */
};

struct tb_answer {
	struct tb_answer *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE headroom, then the frame */
};

struct tb_held;

struct tb_ua_conn {
	struct tb_broker *b;
	struct lws *wsi;
	struct tb_ua_conn *next, *prev;
	char peer[128];      /* address[:port], then " (identity)" once it has one */
	struct tb_peer addr; /* the defences' key */
	char addr_text[48];  /* addr as text, for plugins */
	uint64_t id;         /* connection number, as plugins see it */
	char identity[TB_PLUGIN_IDENTITY_MAX + 1]; /* from a plugin; "" when none */
	int counted_per_ip;                        /* holds one count in b->def.per_ip */
	struct tb_pause *paused; /* busy: not read from for a moment (backpressure) */
	struct tb_held *held;    /* a frame a rate limit delays; the connection reads
	                            nothing more until it has run */
	int ban_closing;         /* banned: close with 1008 once the answers are out */
	int tx_throttled;        /* not reading: too many answers unread */
	/* reassembly of the current frame */
	uint8_t *rx;
	size_t rx_len;
	size_t rx_cap; /* bytes of rx: max_message_size when it was allocated (a
	                  reload may raise it while a frame arrives) */
	int rx_binary;
	int rx_discard;          /* frame too large: drop the rest of it */
	int rx_open;             /* a frame has started and not ended */
	uint64_t rx_deadline_ms; /* when the open frame must have ended */
	/* answers waiting to be written */
	struct tb_answer *tx_head, *tx_tail;
	size_t tx_count;
	/* requests in flight */
	struct tb_waiter *requests;
	unsigned n_requests;
	int closing;
	/* its fair-queue flow for each TEE, allocated on its first request */
	struct tb_fq_flow *flows;
	struct tb_apptam *apptam; /* its tam-session (one at most) */
};

struct tb_waiter {
	struct tb_session *s;
	struct tb_waiter *next;      /* the session's waiters, in arrival order */
	struct tb_ua_conn *conn;     /* NULL once the app has gone, or once the
	                                request has its final answer */
	struct tb_waiter *conn_next; /* the connection's requests in flight */
	uint64_t req_id;
};

struct tb_session {
	struct tb_broker *b;
	uint64_t id;                    /* names it in the logs: 1, 2, ... in the broker's life */
	struct tb_session *next, *prev; /* broker list */
	struct tb_tee *tee;
	/* the app requests waiting on it (none for a periodic policy check) */
	struct tb_waiter *waiters, **waiters_tail;
	struct tb_flight *flight; /* joinable: open until the final answer */
	enum tb_ua_op op;
	struct tb_component_id component;
	char *tam_hint;
	char app_id[TB_PLUGIN_IDENTITY_MAX + 8]; /* the app's identity, else its address */

	struct tamsm sm;
	void *agent_session;
	int have_agent_session;
	char *uri;
	uint8_t *out_msg; /* next body to POST (NULL: empty) */
	size_t out_len;
	const char *out_type;

	/* the HTTP request in flight */
	struct lws *wsi;
	int http_active;    /* a connection attempt belongs to this session */
	int http_delivered; /* its outcome was handed to the state machine */
	int http_status;
	int http_media_ok;
	int http_parsing;   /* `http` holds a parser to free */
	struct tb_tls *tls; /* https: the TLS session of this connection */
	int tls_up;         /* handshake done and verified */
	uint8_t *tx;        /* bytes waiting for the socket */
	size_t tx_len;
	struct tb_http1_response http;
	char http_ctype[80]; /* media type of the answer, lower case as sent */
	char http_why[128];  /* why the answer was refused (a parse error) */
	char tls_why[200];   /* why TLS with the TAM failed, for the app */
	uint8_t *body;
	size_t body_len, body_cap;
	char url_host[256];
	char url_path[512];
	int url_port;
	int url_tls;
	/* the connection kept after an answer for the exchange's next POST
	 * (HTTP keep-alive): idle, to keep_host:keep_port, its TLS session in
	 * tls; closed when the session ends */
	struct lws *keep_wsi;
	char keep_host[256];
	int keep_port;
	int keep_tls;

	struct tb_fq_item qitem; /* in its TEE's fair queue while qflow is set */
	struct tb_fq_flow *qflow;
	/* the flow it left the queue from, while its exchange runs (counted
	 * in run_flow->running; NULL once that app's connection has gone) */
	struct tb_fq_flow *run_flow;
	int starting;                 /* its first call counts in tee->starting */
	int tam_counted;              /* it holds one of its TAM's max_sessions */
	struct tb_call *call;         /* driver call in flight */
	struct tb_resolve *resolving; /* name resolution in flight */
	struct tb_dl timer;           /* on one of its TEE's deadline lists */
	uint64_t started_ms;
	enum tb_teep_type last_agent_type;
	int saw_update;
	int tam_connected; /* "tam-connect" went out: the exchange ends with "end" */
	unsigned policy_rounds;
	int tam_refused; /* the Agent named a TAM URI that is not allowed */
	/* a failed driver call's reason and retry hint (driver.h, ABI 1.1) */
	int tee_temporary;
	int tee_late; /* it failed past its deadline: the app's answer is "timeout" */
	uint32_t tee_retry_ms;
	char tee_reason[TB_CALL_REASON_MAX + 1];
	enum tb_precheck precheck; /* why the TAM's answer failed the pre-check */
	int answered;
	int finished;
	unsigned acting;  /* session_act() calls under way on it (nested when a
	                     step fails at once): it is not freed meanwhile */
	uint64_t post_us; /* tb_obs_now_us() when the POST in flight started */
};

struct tb_broker {
	struct tb_conf conf;
	const char *conf_path;
	struct lws_context *ctx;
	struct lws_vhost *ua_vhost;
	struct tb_listener_tls *ua_tls; /* wss://: tls_listener.h; NULL for ws:// */
	struct tb_tee tees[TB_CONF_MAX_DRIVERS];
	size_t n_tees;
	struct tb_resolver *resolver; /* TAM host names, resolved off the loop */
	struct tb_session *sessions;
	unsigned n_sessions;
	struct tb_ua_conn *conns;
	unsigned n_conns;
	struct tb_counters counters;
	struct tb_defences def;
	unsigned tam_sessions[TB_CONF_MAX_TAMS]; /* live exchanges per [tam] */
	struct tb_plugin_inst plugins[TB_CONF_MAX_PLUGINS];
	size_t n_plugins;
	struct tb_key *app_tam_keys[TB_CONF_MAX_APP_TAMS]; /* of conf.app_tams */
	struct tb_key *tam_keys[TB_CONF_MAX_TAMS];         /* [tam] trust_anchor */
	struct tb_apptam *apptams;                         /* open tam-sessions */
	unsigned n_apptams;
	uint64_t next_conn_id;
	uint64_t next_session_id;
	/* The plugins' decision on the handshake under way: taken in
	 * HTTP_CONFIRM_UPGRADE, used in ESTABLISHED, which lws runs within the
	 * same call for that connection (so one slot is enough). */
	struct {
		struct lws *wsi;
		uint64_t id;
		char identity[TB_PLUGIN_IDENTITY_MAX + 1];
	} admitted;
	int sig_fd;
	int stopping;
	uint64_t stop_deadline_ms; /* tb_now_ms() when shutdown_grace ends */
	int exit_loop;
	lws_sorted_usec_list_t stop_timer;
	int listen_port;
	struct tb_notify *notify; /* the service manager's, or NULL (notify.h) */
	struct tb_observed obs;
	struct tb_admin *admin;   /* the [admin] listener; NULL when off */
	struct tb_reload *reload; /* configuration reloads (reload.h) */
};

/* tee.c */
/* The alloc and now_ms of the struct tb_host given to drivers and plugins. */
void *tb_host_alloc(size_t n);
uint64_t tb_host_now(void);
int tb_tee_setup(struct tb_broker *b, struct tb_tee *t, const struct tb_conf_driver *dc, char *err,
                 size_t errlen);
/* After the loop: let the Agent sessions still open be closed, stop the
 * worker and fini() the driver, all by deadline_ms (tb_now_ms() clock); a
 * worker stuck in a call past it is abandoned with the driver loaded. */
/* 1 when a driver call was still running at the deadline: its thread is
 * abandoned and may yet touch the call, the TEE and the broker's keys, so
 * the caller frees none of the broker's state (the process is exiting). */
int tb_tee_teardown(struct tb_tee *t, uint64_t deadline_ms);
struct tb_tee *tb_tee_find(struct tb_broker *b, const char *name);
struct tb_call *tb_call_new(struct tb_tee *t, enum tb_call_kind kind, struct tb_session *s);
int tb_call_submit(struct tb_call *c, int urgent);
void tb_call_free(struct tb_call *c);
/* Nobody needs the call's result any more: a call still queued is not run
 * (the driver never sees it), a running one sees host->call_cancelled().
 * Cleanup calls (process_error, session_close) always run. */
void tb_call_cancel(struct tb_call *c);
/* Is the TEE up: set up, and not reported down by its driver
 * (host->set_health, driver ABI 1.1)? Loop thread (any thread, in fact). */
int tb_tee_is_up(const struct tb_tee *t);
/* "TEE down: <the driver's reason>", for the app. */
void tb_tee_down_reason(const struct tb_tee *t, char *out, size_t len);
#define TB_TEE_DOWN_RETRY_MS 5000 /* retry-after of requests for a TEE that is down */
/* Release an Agent session handle nobody waits for any more. */
void tb_tee_close_agent_session(struct tb_tee *t, void *agent_session);
void tb_tee_reap_all(struct tb_broker *b);
/* Driver ABI 1.2: ask the driver to answer a request_ta or unrequest_ta
 * (op) on the loop; 1 when it did (nothing to do), counted as a TEE call. */
int tb_tee_answer_now(struct tb_tee *t, int op, const struct tb_ta_request *req);
/* A request-ta or unrequest-ta the TEE's driver answers at once, without a
 * session, the fair queue or a worker (answer_now.c), for a request that
 * tb_answer_now_may() let through: 1 when the app got its final answer. */
int tb_answer_now(struct tb_broker *b, struct tb_ua_conn *conn, const struct tb_ua_request *req,
                  struct tb_tee *tee);
/* Whether tb_answer_now() may answer it: the op, the driver, the TEE up. */
int tb_answer_now_may(const struct tb_broker *b, const struct tb_ua_request *req,
                      const struct tb_tee *tee);
void tb_tee_start_policy_timers(struct tb_broker *b);
/* The TEE's deadline lists (session.c): set up with the TEE, stopped before
 * the lws context goes. */
void tb_tee_timers_init(struct tb_tee *t);
void tb_tee_timers_reconf(struct tb_tee *t);
void tb_tee_timers_fini(struct tb_tee *t);

/* session.c */
/* Start an exchange for req (conn NULL: the broker's own policy check).
 * TB_OK: it is accepted and gets its final answer through the session
 * (which may already have been given, and the session freed, when this
 * returns: no pointer to it is handed out); otherwise nothing was started
 * and the caller answers busy. */
int tb_session_start(struct tb_broker *b, struct tb_ua_conn *conn, struct tb_ua_request *req,
                     struct tb_tee *tee);
/* The exchange in flight that req may join (coalesce on, same TEE, op,
 * component and TAM hint; request-ta and policy-check only), or NULL. */
struct tb_session *tb_session_find_flight(struct tb_broker *b, struct tb_tee *tee,
                                          const struct tb_ua_request *req);
/* req waits on s too: TB_OK, TB_ERR_TOOBIG (s has max_waiters), TB_ERR_NOMEM. */
int tb_session_join(struct tb_session *s, struct tb_ua_conn *conn, const struct tb_ua_request *req);
/* May an app suggest this TAM URI to tee ([tam] allow_app_uris)? */
int tb_tam_hint_allowed(const struct tb_tee *tee, const char *uri);
void tb_session_call_done(struct tb_call *c);
/* Start waiting requests while the TEE has room (max_in_flight). */
void tb_tee_pump(struct tb_tee *t);
/* conn is closing: its queued requests move to their TEE's own flow (if
 * another app waits on them too) or end; its flows are freed. */
void tb_session_conn_closing(struct tb_ua_conn *conn);
/* The broker begins to stop: requests waiting for their TEE (in its fair
 * queue, or their first call still queued for the worker) are answered
 * "shutdown", and no exchange starts any more. */
void tb_session_stopping(struct tb_broker *b);
void tb_session_abort_all(struct tb_broker *b, int code, const char *reason);
/* At exit, after the loop: free what is left without answering anyone. */
void tb_session_free_all(struct tb_broker *b);
extern const struct lws_protocols tb_tamclient_protocol;

/* ua.c */
extern const struct lws_protocols tb_ua_protocol;
/* Queue an answer for the app (final answers are never dropped). */
void tb_ua_answer(struct tb_ua_conn *c, const struct tb_ua_answer *a);
/* A request of c is over: off the connection's list. */
void tb_ua_request_gone(struct tb_ua_conn *c, struct tb_waiter *w);
void tb_ua_close_all(struct tb_broker *b);
size_t tb_ua_pending_tx(struct tb_broker *b);

/* Answer a frame held back by a rate limit now, as the broker stops. */
void tb_ua_stopping(struct tb_broker *b);
/* Close every connection from p with status 1008, once the answers queued
 * on it are written; how many there were. */
unsigned tb_ua_ban_close(struct tb_broker *b, const struct tb_peer *p, uint64_t until_ms);
/* A reload replaces the rate-limit zones: the keys pinned for the frames
 * held back are released first (the frames keep their delay). */
void tb_ua_unpin_held(struct tb_broker *b);
/* A reload changed [queue] max_per_app or max_exchanges_per_app: every flow
 * of every connection. */
void tb_ua_set_queue_bound(struct tb_broker *b, uint32_t max_per_app, uint32_t max_exchanges);

/* defence.c */
int tb_def_setup(struct tb_broker *b, char *err, size_t errlen);
void tb_def_teardown(struct tb_broker *b);
/* The peer of a connected socket; TB_ERR_INVAL when it has no IP address. */
int tb_peer_from_fd(int fd, struct tb_peer *p);
/* The address as text, for logs. */
const char *tb_peer_str(const struct tb_peer *p, char *buf, size_t len);
/* May a connection from p be taken now (the broker is not stopping nor
 * full, p is not banned and below max_connections_per_ip)? 0 yes; else
 * refused and counted by reason. */
int tb_def_admit(struct tb_broker *b, const struct tb_peer *p);
/* One more / one fewer open connection from p. */
int tb_def_conn_add(struct tb_broker *b, const struct tb_peer *p);
void tb_def_conn_remove(struct tb_broker *b, const struct tb_peer *p);

enum tb_def_verdict { TB_DEF_PASS, TB_DEF_DELAY, TB_DEF_REFUSE };
/*
 * Charge one frame (TB_LIMIT_MESSAGES) or one request about to start a TEE
 * call (TB_LIMIT_TEE_CALLS, for tee) to the zones of that kind, keyed by
 * the peer, its identity, the TEE, the TEE's TAM or nothing (key = all).
 * DELAY: *delay_ms is set and the key is pinned in the zones whose bits are
 * set in *pins (release with tb_def_unpin). REFUSE: *retry_ms is set.
 * Dry-run verdicts are logged and counted and change nothing.
 */
enum tb_def_verdict tb_def_limit(struct tb_broker *b, struct tb_ua_conn *c,
                                 const struct tb_tee *tee, enum tb_limit_applies kind,
                                 uint64_t *delay_ms, uint64_t *retry_ms, unsigned *pins);
void tb_def_unpin(struct tb_broker *b, const struct tb_ua_conn *c, unsigned pins);
/* One violation by p; when it starts a ban, logs it and closes every
 * connection of p (tb_ua_ban_close). Allowlisted addresses are not scored. */
void tb_def_score(struct tb_broker *b, const struct tb_peer *p, uint32_t weight, const char *what);
/* Ban p now, as if its score had reached the threshold (a plugin's
 * host->ban_address): TB_OK (also when banned already), TB_ERR_STATE (bans
 * are off), TB_ERR_NOTFOUND (allowlisted). */
int tb_def_ban_now(struct tb_broker *b, const struct tb_peer *p, const char *what);
/* An IP address as text (a v4-mapped IPv6 one as IPv4); TB_ERR_INVAL. */
int tb_peer_from_text(const char *s, struct tb_peer *p);
void tb_def_log_counters(const struct tb_broker *b);
/* A reload's rate-limit zones, made off the loop (a zone's table is up to
 * max_keys buckets: creating and freeing one takes milliseconds). */
struct tb_def_prepared {
	struct tb_zone zones[TB_CONF_MAX_LIMITS]; /* next's new zones (rl NULL: kept) */
	int keep[TB_CONF_MAX_LIMITS];             /* the zone kept for it, or -1 */
	size_t n;
	/* zones the loop no longer uses, freed by the next reload's thread */
	struct tb_rl_zone *retired[2 * TB_CONF_MAX_LIMITS];
	size_t n_retired;
};
/* The reload thread (b->def is not changed while it runs): a zone of next
 * whose name and settings are those of a zone in use keeps it (and its
 * buckets); any other is made new, empty. 0, or -1 with err set and
 * nothing made. */
int tb_def_reload_prepare(const struct tb_broker *b, const struct tb_conf *next,
                          struct tb_def_prepared *p, char *err, size_t errlen);
/* The loop: the prepared zones replace the zones (the ones dropped go to
 * p->retired), b->conf.limits takes next's (next gets the old ones, to be
 * freed with it), and the ban table takes next's [ban] settings, keeping its
 * scores and bans. Bounded work, no allocation; TB_OK, or TB_ERR_INVAL with
 * nothing changed ([ban] allow unreadable: not expected, conf.c checked it). */
int tb_def_reload(struct tb_broker *b, struct tb_conf *next, struct tb_def_prepared *p);
/* Any thread, not while the loop applies p: frees what p holds. */
void tb_def_reload_release(struct tb_def_prepared *p);

/* plugin.c */
int tb_plugins_setup(struct tb_broker *b, char *err, size_t errlen);
void tb_plugins_teardown(struct tb_broker *b);
/* 1..TB_PLUGIN_IDENTITY_MAX of A-Z a-z 0-9 . _ - @ : */
int tb_plugin_identity_ok(const char *s);
enum tb_plugin_admission {
	TB_PLUGIN_ADMITTED,    /* conn->identity is the identity, or NULL: anonymous */
	TB_PLUGIN_REFUSED,     /* an app_connect hook refused: HTTP 403 */
	TB_PLUGIN_UNAUTHORIZED /* authenticate refused: HTTP 401 */
};
/* Ask app_connect, then authenticate, of every plugin in order. identity
 * (identity_len = TB_PLUGIN_IDENTITY_MAX + 1) receives the identity, and
 * conn->identity points to it once admitted with one. */
enum tb_plugin_admission tb_plugins_admit(struct tb_broker *b, struct tb_plugin_conn *conn,
                                          char *identity, size_t identity_len, char *reason,
                                          size_t reason_len);
/* 1 allowed, 0 refused (reason says why, for the app). */
int tb_plugins_op(struct tb_broker *b, const struct tb_plugin_conn *conn,
                  const struct tb_plugin_op *op, char *reason, size_t reason_len);
void tb_plugins_close(struct tb_broker *b, const struct tb_plugin_conn *conn);
void tb_plugins_ban(struct tb_broker *b, const struct tb_plugin_ban *ban);
/* Configuration reload (plugin ABI 1.2 hooks, reload.c). */
struct tb_plugin_prepared {
	void *state[TB_CONF_MAX_PLUGINS];
	int prepared[TB_CONF_MAX_PLUGINS]; /* commit or abort is owed */
};
/* Does plugin i take new options on a reload (it has the hooks)? */
int tb_plugin_reloadable(const struct tb_broker *b, size_t i);
/* The reload thread: every reloadable plugin prepares next's options. 0, or
 * (all prepared ones aborted, err set) the line of the plugin that refused,
 * -1 when it has none. */
int tb_plugins_reload_prepare(struct tb_broker *b, const struct tb_conf *next,
                              struct tb_plugin_prepared *pp, char *err, size_t errlen);
/* Loop thread: the prepared states become the plugins'. */
void tb_plugins_reload_commit(struct tb_broker *b, struct tb_plugin_prepared *pp);
/* Any thread: the prepared states are dropped. */
void tb_plugins_reload_abort(struct tb_broker *b, struct tb_plugin_prepared *pp);

/* main.c */
void tb_broker_maybe_exit(struct tb_broker *b);

/* scrape.c */
/* CLOCK_MONOTONIC in microseconds (any thread). */
uint64_t tb_obs_now_us(void);
/* One TAM POST had its outcome after `seconds`. */
void tb_metrics_observe_tam(struct tb_broker *b, const struct tb_conf_tam *tam, double seconds);
/* One driver call came back after `seconds` on the worker. */
void tb_metrics_observe_call(struct tb_tee *t, double seconds);
/* An error answer with this code is written to an app. */
void tb_metrics_count_error(struct tb_broker *b, int code);
/* The exposition of the broker's state now: TB_OK and *len bytes in buf,
 * or TB_ERR_TOOBIG (buf too small) / TB_ERR_INVAL (a bug). Bounded work. */
int tb_metrics_scrape(struct tb_broker *b, char *buf, size_t cap, size_t *len);

/* admin.c */
/* The [admin] listener on the broker's context, when enabled (and its
 * port_file): TB_OK, else it is logged and the broker cannot start. */
int tb_admin_setup(struct tb_broker *b);
/* After the context is destroyed. */
void tb_admin_free(struct tb_broker *b);
/* A reload: [admin] allow from b->conf again; TB_ERR_INVAL (kept as it
 * was) when it cannot be read. */
int tb_admin_reload_allow(struct tb_broker *b);

#endif
