/*
 * teep-broker plugin ABI, version 1.2
 *
 * A broker plugin is a shared object that teep-brokerd loads with
 * dlopen(RTLD_NOW | RTLD_LOCAL), one instance per `[plugin:NAME]` section of
 * its configuration. It takes part in the broker's decisions about apps:
 *
 *   app_connect    an app opens a websocket: allow, refuse (HTTP 403), or
 *                  no opinion
 *   authenticate   the same handshake: who is the app? an identity, a
 *                  refusal (HTTP 401), or no opinion
 *   app_op         an app asks for request-ta, unrequest-ta or policy-check:
 *                  allow, refuse (the app gets error 15, "forbidden"), or no
 *                  opinion
 *   app_close      an app's connection has closed
 *   ban            the broker has banned an address
 *
 * Build a plugin:
 *
 *   cc -fPIC -shared -fvisibility=hidden -o myplugin.so myplugin.c
 *
 * and export exactly one symbol, `tb_plugin_entry`, best with the
 * TB_PLUGIN_DECLARE() macro at the end of this file:
 *
 *   TB_PLUGIN_DECLARE(.name = "myplugin", .version = "1.0",
 *                     .description = "...", .init = my_init, .fini = my_fini,
 *                     .authenticate = my_authenticate, .app_op = my_app_op);
 *
 * The types the driver ABI already defines (status codes, log levels,
 * struct tb_bytes, struct tb_kv, struct tb_host) are shared: this header
 * includes <teep-broker/driver.h>.
 *
 * Verdicts. Every deciding hook returns an enum tb_plugin_verdict. The
 * broker asks the plugins in the order of their sections in the
 * configuration; the first ALLOW or DENY decides and the plugins after it are
 * not asked. When every plugin ABSTAINs (or there is none), the broker's
 * default applies: the app is served, without an identity. A hook that
 * returns anything else counts as DENY. There is no "answer later": a hook
 * decides before it returns.
 *
 * Versioning. The broker accepts a plugin whose abi_major equals
 * TB_PLUGIN_ABI_MAJOR and whose abi_minor is at most its own. New hooks are
 * only ever appended (a minor bump); the broker treats any hook beyond the
 * plugin's struct_size as absent. The structures the broker passes in start
 * with their struct_size: read a member added after 1.0 only when it lies
 * within it.
 *
 * Threads. init() and fini() run on the broker's main thread, before its
 * event loop starts and after it has stopped. Every hook runs on the event
 * loop thread, the one thread that serves every app, TAM connection and
 * timer of the broker: a hook MUST NOT block. No file or network I/O, no
 * sleeping, no waiting on locks held by slow code; read what you need in
 * init(). Hooks of one instance are never called concurrently. A plugin
 * that starts threads of its own must stop them in fini().
 *
 * Ownership. Every pointer the broker passes to a hook, and everything it
 * points to, is borrowed for the duration of the call only: copy what you
 * keep. The output buffers (`identity`, `reason`) belong to the broker; a
 * hook may write a NUL-terminated text of at most len - 1 bytes into them
 * and nothing else. The broker never frees memory a plugin allocated, and
 * a plugin never frees memory the broker passed in. opts passed to init()
 * are borrowed for the call; host stays valid until fini() returns.
 *
 * Host services. Besides log, alloc, free and now_ms, a plugin of ABI 1.1
 * finds in its struct tb_host (driver.h; check with TB_HOST_HAS()):
 *   ban_address(host, address, why)   ban an IP address now, as if it had
 *                                     reached the [ban] threshold
 *   close_address(host, address)      close that address's connections
 * Both on the loop thread only, from a hook. ban_address calls the ban hook
 * of every plugin (this one too) before it returns.
 *
 * ABI changelog
 *   1.0  first version
 *   1.1  host services ban_address() and close_address()
 *   1.2  reload_prepare(), reload_commit() and reload_abort(): new options
 *        and files on a configuration reload (SIGHUP), without a restart;
 *        they take three of the reserved pointers, so the descriptor's size
 *        is unchanged and a 1.0 or 1.1 plugin (zeros there) has none;
 *        struct tb_plugin_conn: client_cert_subject and client_cert_sha256,
 *        the app's verified TLS client certificate (wss://)
 */
#ifndef TEEP_BROKER_PLUGIN_H
#define TEEP_BROKER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <teep-broker/driver.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_PLUGIN_MAGIC     0x5442504cu /* "TBPL" */
#define TB_PLUGIN_ABI_MAJOR 1
#define TB_PLUGIN_ABI_MINOR 2

/* Identities are 1..TB_PLUGIN_IDENTITY_MAX bytes of A-Z a-z 0-9 . _ - @ : */
#define TB_PLUGIN_IDENTITY_MAX 64
/* The reason buffers the broker passes hold at least this many bytes. */
#define TB_PLUGIN_REASON_MIN 128

enum tb_plugin_verdict {
	TB_PLUGIN_ABSTAIN = 0, /* no opinion: ask the next plugin */
	TB_PLUGIN_ALLOW = 1,   /* allowed; the plugins after this one are not asked */
	TB_PLUGIN_DENY = 2     /* refused; the plugins after this one are not asked */
};

/*
 * One app connection as the broker shows it to plugins. The same connection
 * has the same `id` in every hook, from app_connect to app_close.
 */
struct tb_plugin_conn {
	uint32_t struct_size; /* sizeof(struct tb_plugin_conn) as the broker built it */
	uint32_t reserved0;
	uint64_t id;         /* unique within one run of the broker */
	const char *address; /* the peer's IP address as text, "192.0.2.7", "2001:db8::7" */
	/* The HTTP request that opened the websocket: in app_connect and
	 * authenticate only, NULL in later hooks (the broker does not keep
	 * the headers). Each is NULL when the request did not carry it. */
	const char *path;          /* the requested path, without the query: "/" */
	const char *authorization; /* the Authorization header's value */
	const char *origin;        /* the Origin header's value */
	const char *user_agent;    /* the User-Agent header's value */
	/* The identity authenticate gave the connection, NULL when none did
	 * (before authenticate, and for anonymous apps). */
	const char *identity;
	void *reserved[4];
	/* ABI 1.2; read them only when TB_PLUGIN_CONN_HAS(conn, member).
	 * The TLS client certificate the app presented on a wss:// listener,
	 * once it verified against [listener] tls_ca: in app_connect and
	 * authenticate only, NULL in later hooks, and NULL when the app sent
	 * none (or the listener is ws://). Borrowed like every other member:
	 * valid for the call only, copy what you keep. */
	const char *client_cert_subject; /* its subject, RFC 4514 ("CN=nav,O=Example"),
	                                    at most 511 bytes (NULL for a longer one) */
	const char *client_cert_sha256;  /* SHA-256 of its DER encoding: 64 lower-case
	                                    hex digits */
};

/* Whether conn (a const struct tb_plugin_conn *) has the member, by its
 * struct_size (a broker of ABI 1.1 passes a shorter struct). */
#define TB_PLUGIN_CONN_HAS(conn, member)                                                           \
	((conn)->struct_size >= offsetof(struct tb_plugin_conn, member) + sizeof((conn)->member))

enum tb_plugin_op_kind {
	TB_PLUGIN_OP_REQUEST_TA = 1,   /* "request-ta" */
	TB_PLUGIN_OP_UNREQUEST_TA = 2, /* "unrequest-ta" */
	TB_PLUGIN_OP_POLICY_CHECK = 3  /* "policy-check" */
};

/* One app request, after the broker has checked it is well formed. */
struct tb_plugin_op {
	uint32_t struct_size; /* sizeof(struct tb_plugin_op) as the broker built it */
	uint32_t reserved0;
	uint32_t kind; /* enum tb_plugin_op_kind */
	uint32_t reserved1;
	uint64_t request_id; /* the app's id for the request */
	/* SUIT_Component_Identifier: n_segments byte strings (1..8 of 1..64
	 * bytes); NULL and 0 for policy-check. */
	const struct tb_bytes *component_id;
	size_t n_segments;
	const char *tee;     /* the TEE the request goes to (its section name) */
	const char *tam_uri; /* the app's TAM hint, NULL if none */
	void *reserved[4];
};

/* A ban the broker has just started. */
struct tb_plugin_ban {
	uint32_t struct_size; /* sizeof(struct tb_plugin_ban) as the broker built it */
	uint32_t reserved0;
	const char *address;  /* the banned IP address as text */
	uint64_t duration_ms; /* how long it lasts from now */
	uint64_t score;       /* the score that reached the threshold */
	uint64_t threshold;
	const char *reason; /* the last violation, "malformed frame", ... */
	void *reserved[4];
};

struct tb_plugin {
	/* Header, frozen for all versions (the same layout as struct
	 * tb_driver's). */
	uint32_t magic;       /* TB_PLUGIN_MAGIC */
	uint16_t abi_major;   /* TB_PLUGIN_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* TB_PLUGIN_ABI_MINOR the plugin was built with */
	uint32_t struct_size; /* sizeof(struct tb_plugin) the plugin was built with */
	uint32_t flags;       /* none defined yet: 0 */
	const char *name;     /* short name, e.g. "auth-token" */
	const char *version;  /* plugin version string */
	const char *description;

	/*
	 * init (REQUIRED). Main thread. Create one plugin instance from the
	 * options of its `[plugin:NAME]` section (every key but `path`, in
	 * file order). Read files here, not in hooks. On success store the
	 * instance in *instance and return TB_OK; on failure log the reason
	 * through host->log and return an error: the broker does not start.
	 */
	int (*init)(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
	            void **instance);

	/* fini (REQUIRED). Main thread, after the last hook returned. */
	void (*fini)(void *instance);

	/*
	 * app_connect (OPTIONAL). Loop thread, during the websocket handshake,
	 * before authenticate. conn->identity is NULL. DENY: the broker
	 * answers HTTP 403 and closes; the websocket never opens. `reason`
	 * (reason_len >= TB_PLUGIN_REASON_MIN bytes, starts empty) goes to the
	 * broker's log.
	 */
	int (*app_connect)(void *instance, const struct tb_plugin_conn *conn, char *reason,
	                   size_t reason_len);

	/*
	 * authenticate (OPTIONAL). Loop thread, during the handshake, after
	 * every app_connect allowed or abstained. ALLOW: write the app's
	 * identity into `identity` (identity_len is TB_PLUGIN_IDENTITY_MAX + 1;
	 * 1..TB_PLUGIN_IDENTITY_MAX bytes of A-Z a-z 0-9 . _ - @ :, else the
	 * broker refuses the connection as if DENY). The broker then uses it
	 * in logs, passes it to the TEE driver as the app's id, keys the rate
	 * limits with `key = app` by it, and passes it in conn->identity to
	 * every later hook. DENY: the broker answers HTTP 401 with
	 * `WWW-Authenticate: Bearer realm="teep-broker"` and closes; the
	 * websocket never opens. ABSTAIN from every plugin: the app is
	 * served anonymously (no identity). `reason` as in app_connect.
	 */
	int (*authenticate)(void *instance, const struct tb_plugin_conn *conn, char *identity,
	                    size_t identity_len, char *reason, size_t reason_len);

	/*
	 * app_op (OPTIONAL). Loop thread. An app's request that the broker is
	 * about to serve: well formed, its TEE exists, its id is free, it
	 * passed the "messages" rate limits. DENY: the app gets the error
	 * answer `forbidden` (code 15) with `reason` as its text (printable
	 * text; the broker cuts it to 256 bytes), and the broker scores the
	 * address ([ban] weight_forbidden). Requests the broker starts by
	 * itself (periodic policy checks) are not passed here.
	 */
	int (*app_op)(void *instance, const struct tb_plugin_conn *conn,
	              const struct tb_plugin_op *op, char *reason, size_t reason_len);

	/* app_close (OPTIONAL). Loop thread. A connection that had opened
	 * (every app_connect and authenticate let it through, and the
	 * broker's own limits too) has closed. A connection the broker
	 * refused after the plugins had let it through gets no app_close. */
	void (*app_close)(void *instance, const struct tb_plugin_conn *conn);

	/* ban (OPTIONAL). Loop thread. The broker has banned an address (for
	 * instance, to push the ban to a firewall: queue it, do not block). */
	void (*ban)(void *instance, const struct tb_plugin_ban *ban);

	/*
	 * Reload (OPTIONAL, ABI 1.2: all three, or none). On a configuration
	 * reload (SIGHUP, docs/operations.md) the broker offers every plugin
	 * that has them its section's options from the new file. A plugin
	 * without them keeps its instance as it is, and a change of its
	 * options is refused as needing a restart.
	 *
	 * reload_prepare. The broker's reload thread, NOT the loop: hooks of
	 * the same instance may run at the same time on the loop thread. Read
	 * the files and build the new state in a new allocation, without
	 * touching anything the hooks use (the instance's own settings may be
	 * read). opts are borrowed for the call. TB_OK: *prepared holds the new
	 * state (may be NULL), and reload_commit or reload_abort will follow.
	 * An error (log why through host->log): the whole reload is refused
	 * and the broker keeps its configuration; nothing follows.
	 *
	 * reload_commit. Loop thread, once every plugin has prepared and the
	 * rest of the new configuration is known good: make `prepared` the
	 * instance's state (a few pointer swaps; free the old state, bounded
	 * work). It cannot fail. Connections already open keep the identity
	 * they were given; their next requests are judged by the new state.
	 *
	 * reload_abort. Any thread, never concurrently with the other two:
	 * the reload was refused after this plugin prepared; free `prepared`.
	 */
	int (*reload_prepare)(void *instance, const struct tb_kv *opts, size_t n_opts,
	                      void **prepared);
	void (*reload_commit)(void *instance, void *prepared);
	void (*reload_abort)(void *instance, void *prepared);
	void *reserved[5]; /* zero */
};

/* Smallest struct_size the broker accepts: everything up to ban. */
#define TB_PLUGIN_MIN_SIZE (offsetof(struct tb_plugin, ban) + sizeof(void *))

#define TB_PLUGIN_ENTRY_SYMBOL "tb_plugin_entry"

/* Declare the plugin's single exported descriptor. */
#define TB_PLUGIN_DECLARE(...)                                                                     \
	__attribute__((visibility("default")))                                                     \
	const struct tb_plugin tb_plugin_entry = {.magic = TB_PLUGIN_MAGIC,                        \
	                                          .abi_major = TB_PLUGIN_ABI_MAJOR,                \
	                                          .abi_minor = TB_PLUGIN_ABI_MINOR,                \
	                                          .struct_size = sizeof(struct tb_plugin),         \
	                                          __VA_ARGS__}

#ifdef __cplusplus
}
#endif
#endif
