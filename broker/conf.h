/*
 * teep-brokerd configuration: an INI file read with libinih and checked
 * against one schema table (conf.c). Every queue, buffer and timeout bound of
 * the daemon lives here, with its default.
 */
#ifndef TB_CONF_H
#define TB_CONF_H

#include "tb_teep.h"
#include <stddef.h>
#include <stdint.h>

#define TB_CONF_MAX_TAMS     16
#define TB_CONF_MAX_DRIVERS  8
#define TB_CONF_MAX_LIMITS   8     /* [limit:NAME] sections */
#define TB_CONF_MAX_OPTS     32    /* extra key = value lines per driver or plugin */
#define TB_CONF_MAX_OPT_LINE 16384 /* bytes of one such line (others: 199) */
#define TB_CONF_MAX_PLUGINS  8
#define TB_CONF_MAX_ERRORS   16
#define TB_CONF_MAX_APP_TAMS 16 /* [app-tam:IDENTITY] sections */

struct tb_conf_kv {
	char *key;
	char *value;
};

/* [listener] */
struct tb_conf_listener {
	char *address;                        /* "127.0.0.1"; "*" = all; default 127.0.0.1 */
	int port;                             /* 0 = ephemeral (tests); default 8470 */
	char *port_file;                      /* write the bound port here once listening */
	uint32_t max_connections;             /* default 10000 */
	uint64_t max_message_size;            /* bytes of one app frame; default 4096 */
	uint32_t max_requests_per_connection; /* in flight; default 8 */
	uint32_t max_queued_answers;          /* answers waiting to be written; default 64 */
	uint64_t handshake_timeout_ms;        /* default 5000 */
	uint64_t idle_timeout_ms;             /* 0 = none; default 0 */
	uint64_t frame_timeout_ms;            /* a started frame must end in it; default 10s */
	uint64_t refused_pause_ms; /* not read after a rate-limit refusal, at most; default 1s */
	uint32_t max_connections_per_ip; /* open connections of one address; default 64 */
	char *allow_origins;             /* Origins a handshake may carry; NULL: not checked */
	/* wss:// (tls_listener.h): with tls_cert and tls_key set, apps connect
	 * over TLS only */
	char *tls_cert;        /* PEM certificate chain, the server's first; NULL: ws:// */
	char *tls_key;         /* PEM private key of tls_cert */
	char *tls_ca;          /* PEM CAs that sign client certificates */
	int tls_verify_client; /* enum tb_tls_verify; default none */
};

/* [listener] tls_verify_client */
enum tb_tls_verify {
	TB_TLS_VERIFY_NONE = 0, /* no client certificate asked for */
	TB_TLS_VERIFY_OPTIONAL, /* asked for; one that is sent must verify */
	TB_TLS_VERIFY_REQUIRED  /* a handshake without a valid one fails */
};

/* [tam] or [tam:NAME] */
struct tb_conf_tam {
	char *name;                   /* "default" for [tam] */
	char *uri;                    /* the TAM URI, http:// or https:// */
	enum tb_numbering numbering;  /* "draft-26" (default) or "pre-26" */
	uint64_t connect_timeout_ms;  /* default 10000 */
	uint64_t response_timeout_ms; /* per HTTP exchange; default 30000 */
	uint64_t max_response_size;   /* bytes of one TAM answer; default 1M */
	uint32_t max_sessions;        /* concurrent exchanges with this TAM, of
	                                 all the TEEs that talk to it; default 64 */
	char *ca_file;                /* CA bundle for https; NULL = system */
	int tls_insecure;             /* skip certificate checks; default 0 */
	int keepalive; /* keep the connection for the exchange's next POST; default yes */
	char *accept_media_types; /* media types accepted in answers besides
	                             application/teep+cbor (older TAMs use
	                             other +cbor/+cose types); NULL: none */
	char *allow_app_uris;     /* TAM URIs apps may suggest ("tam"), and
	                             that the broker connects to besides uri,
	                             separated by spaces or commas (tamuri.h);
	                             NULL: none */
	int precheck;             /* check the TAM's messages before the TEE
	                             sees them (precheck.c); default no */
	char *trust_anchor;       /* the TAM's public key (PEM) for precheck;
	                             required with precheck = yes */
	char *tls_pin_sha256;     /* pins of the TAM's TLS public key: base64
	                             SHA-256 of its SubjectPublicKeyInfo,
	                             separated by spaces or commas (tls.h);
	                             NULL: no pinning */
	int line;                 /* of its section header, for messages */
	int ca_file_line;         /* of those keys (0: not in the file) */
	int trust_anchor_line;
	int tls_pin_line;
};

/* [driver:NAME] */
struct tb_conf_driver {
	char *name;                        /* the TEE's name, as apps select it */
	char *path;                        /* .so path; a bare name is looked up in
	                                      the driver directory */
	char *tam;                         /* name of the [tam] it talks to (default) */
	uint32_t queue_size;               /* pending calls to this TEE; default 64 */
	uint32_t max_in_flight;            /* requests started in the TEE at once; default 2 */
	uint64_t call_timeout_ms;          /* one driver call; default 60000 */
	uint64_t policy_check_interval_ms; /* 0 = off; default 0 */
	struct tb_conf_kv opts[TB_CONF_MAX_OPTS]; /* every other key */
	size_t n_opts;
	int line; /* of its section header, for messages */
};

/* [plugin:NAME] */
struct tb_conf_plugin {
	char *name;                               /* the section's name, for logs */
	char *path;                               /* .so path; a bare name is looked up in
	                                             the plugin directory */
	struct tb_conf_kv opts[TB_CONF_MAX_OPTS]; /* every other key, passed to init() */
	size_t n_opts;
	int line; /* of its section header, for messages */
};

/* [app-tam:IDENTITY]: an app identity (given by a plugin) that may act as
 * its own TAM towards a TEE (docs/defences.md section 8). */
struct tb_conf_app_tam {
	char *identity;              /* the section's name */
	char *key;                   /* PEM file of the TAM's public key (required) */
	char *tee;                   /* the TEE it may use; NULL: any */
	enum tb_numbering numbering; /* of its messages; default draft-26 */
	uint32_t max_messages;       /* tam-messages per tam-session; default 16 */
	uint64_t idle_timeout_ms;    /* a tam-session without a message ends; default 30s */
	int line;                    /* of its section header, for messages */
	int key_line;                /* of its key */
};

/* What a [limit:NAME] zone counts. */
enum tb_limit_applies {
	TB_LIMIT_MESSAGES = 1, /* "messages": every app frame */
	TB_LIMIT_TEE_CALLS     /* "tee-calls": every request that would start a TEE call */
};

/* What a zone's buckets belong to. */
enum tb_limit_key {
	TB_LIMIT_KEY_ADDRESS = 1, /* "address": the peer's IP address */
	TB_LIMIT_KEY_APP,         /* "app": the identity a plugin gave, else the address */
	TB_LIMIT_KEY_TEE,         /* "tee": one bucket per TEE (tee-calls only) */
	TB_LIMIT_KEY_TAM,         /* "tam": one bucket per [tam] section (tee-calls only) */
	TB_LIMIT_KEY_ALL,         /* "all": one bucket for the whole broker */
	TB_LIMIT_KEY_CONNECTION   /* "connection": one bucket per app connection */
};

/* [limit:NAME]: one rate-limiting zone (docs/defences.md), nginx limit_req
 * vocabulary. */
struct tb_conf_limit {
	char *name;
	uint32_t rate_milli; /* "10r/s", "600r/m", in requests/s x1000 (required) */
	uint32_t burst;      /* requests above the rate held before refusing; default 0 */
	uint32_t delay;      /* of those, served without delay; default 0 */
	int nodelay;         /* serve the whole burst at once; default no */
	int dry_run;         /* count and log, never enforce; default no */
	int applies_to;      /* enum tb_limit_applies (required) */
	int key;             /* enum tb_limit_key; default address */
	uint32_t max_keys;   /* keys remembered; default 65536 */
};

/* [queue]: fair queueing of requests for each TEE (docs/defences.md). */
struct tb_conf_queue {
	uint32_t max_per_app; /* requests one app connection may have waiting; default 16 */
	/* exchanges one app connection may have running on one TEE; default 2 */
	uint32_t max_exchanges_per_app;
	uint32_t quantum; /* requests a flow may start per round; default 1 */
};

/* [resolver]: TAM host names, resolved off the event loop (resolver.h). */
struct tb_conf_resolver {
	uint32_t threads;         /* lookups at once; default 4 */
	uint32_t queue_size;      /* names waiting for a thread; default 64 */
	uint32_t cache_size;      /* names remembered (answers and lookups in
	                             flight); default 64 */
	uint64_t ttl_ms;          /* an answer is reused this long; 0: only by the
	                             requests waiting on its lookup; default 30s */
	uint64_t negative_ttl_ms; /* a failed lookup likewise; default 5s */
	uint64_t timeout_ms;      /* a request waits this long for its lookup,
	                             queue included; default 10s */
};

/* [ban]: scoring of misbehaving addresses (docs/defences.md), fail2ban
 * vocabulary. */
struct tb_conf_ban {
	int enabled;                     /* default yes */
	uint32_t threshold;              /* score that starts a ban; default 100 */
	uint64_t half_life_ms;           /* a score halves in this time; default 60s */
	uint64_t ban_time_ms;            /* first ban; default 60s */
	uint64_t ban_time_max_ms;        /* longest ban; default 1h */
	uint64_t memory_ms;              /* ban count kept after a ban ends; default 24h */
	char *allow;                     /* CIDRs never scored; default "127.0.0.0/8, ::1/128" */
	uint32_t max_keys;               /* addresses remembered; default 65536 */
	uint32_t weight_malformed;       /* a frame that is not a valid request; default 10 */
	uint32_t weight_oversize;        /* a frame over max_message_size; default 20 */
	uint32_t weight_text_frame;      /* a text frame; default 10 */
	uint32_t weight_rate_limited;    /* a frame refused by a [limit:NAME] zone; default 1 */
	uint32_t weight_unknown_tee;     /* a request naming no configured TEE; default 5 */
	uint32_t weight_tam_not_allowed; /* a request suggesting a TAM not allowed; default 10 */
	uint32_t weight_forbidden;       /* a request a plugin refused; default 10 */
	uint32_t weight_unauthorized;    /* a handshake a plugin refused; default 10 */
	uint32_t weight_forged;          /* a TAM message that failed the pre-check, or a
	                                    tam op without the right; default 20 */
};

/* [admin]: the HTTP listener of /metrics, /healthz and /readyz
 * (docs/operations.md); off unless enabled. */
struct tb_conf_admin {
	int enabled;     /* default no */
	char *address;   /* "*" = all; default 127.0.0.1 */
	int port;        /* 0 = ephemeral (tests); default 8471 */
	char *port_file; /* write the bound port here once listening */
	char *allow;     /* CIDRs that may connect, or "none"; default "127.0.0.0/8, ::1/128" */
	uint32_t max_connections; /* open at once; more are closed at once; default 16 */
};

/* [broker] */
struct tb_conf {
	char *pid_file;             /* NULL: none */
	int log_level;              /* TB_LOG_*; default notice */
	int log_syslog;             /* default 0: stderr */
	char *driver_dir;           /* default PKGLIBDIR "/drivers" */
	char *plugin_dir;           /* default PKGLIBDIR "/plugins" */
	uint64_t shutdown_grace_ms; /* default 10000 */
	uint32_t max_sessions;      /* all TAM exchanges; default 256 */
	int coalesce;               /* identical requests share one exchange; default yes */
	uint32_t max_waiters;       /* requests sharing one exchange; default 64 */
	char *state_dir;            /* the drivers' state root, created and given to
	                               user when the broker drops root (privdrop.c);
	                               default LOCALSTATEDIR "/lib/teep-broker" */
	char *user;                 /* started as root: run as this user; NULL: stay */
	char *group;                /* and this group; NULL: the user's own */
	struct {                    /* where some keys were set (0: not in the file) */
		int pid_file, port_file, state_dir, user, group;
		/* for the messages of a reload that needs a restart (reload.h):
		 * the sections, and the keys a reload cannot change */
		int broker, listener, address, port, handshake_timeout, max_connections,
		    max_sessions, log_level, log_syslog, driver_dir, plugin_dir, ban, ban_enabled,
		    ban_max_keys, resolver, admin;
		int tls_cert, tls_key, tls_ca; /* [listener] */
	} lines;

	struct tb_conf_listener listener;
	struct tb_conf_tam tams[TB_CONF_MAX_TAMS];
	size_t n_tams;
	struct tb_conf_driver drivers[TB_CONF_MAX_DRIVERS];
	size_t n_drivers;
	struct tb_conf_limit limits[TB_CONF_MAX_LIMITS];
	size_t n_limits;
	struct tb_conf_plugin plugins[TB_CONF_MAX_PLUGINS]; /* in file order */
	size_t n_plugins;
	struct tb_conf_app_tam app_tams[TB_CONF_MAX_APP_TAMS];
	size_t n_app_tams;
	struct tb_conf_ban ban;
	struct tb_conf_queue queue;
	struct tb_conf_resolver resolver;
	struct tb_conf_admin admin;
};

/* One problem found while reading: line 0 means "the file as a whole". */
struct tb_conf_error {
	int line;
	char msg[192];
};

/*
 * Read path into conf (which the function initialises with defaults first).
 * Returns TB_OK, or TB_ERR_INVAL/TB_ERR_IO with up to TB_CONF_MAX_ERRORS
 * problems in errs (each with its line number) and their count in *n_errs.
 * Checks the whole file before returning: unknown sections and keys, bad
 * values, out-of-range numbers, missing required keys ([driver:*] path,
 * [tam] uri, [limit:*] rate and applies_to, [plugin:*] path), a driver naming an unknown
 * TAM, no driver at all, [limit:*] with both delay and nodelay, [ban]
 * ban_time_max below ban_time.
 */
int tb_conf_load(const char *path, struct tb_conf *conf, struct tb_conf_error *errs,
                 size_t *n_errs);
/* The same from a string (tests, fuzzing); name is used in messages. */
int tb_conf_load_string(const char *text, struct tb_conf *conf, struct tb_conf_error *errs,
                        size_t *n_errs);
void tb_conf_defaults(struct tb_conf *conf);

struct tb_cidr;
/* [ban] allow: "none", or addresses and CIDRs separated by commas, into
 * out[0..cap) (out may be NULL to check only). Returns TB_OK or TB_ERR_INVAL
 * (a bad entry, or more than cap). */
int tb_conf_parse_cidrs(const char *s, struct tb_cidr *out, size_t cap, size_t *n);
void tb_conf_free(struct tb_conf *conf);
const struct tb_conf_app_tam *tb_conf_find_app_tam(const struct tb_conf *conf,
                                                   const char *identity);
const struct tb_conf_tam *tb_conf_find_tam(const struct tb_conf *conf, const char *name);

#endif
