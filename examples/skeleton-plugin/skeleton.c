/*
 * skeleton: the smallest correct teep-broker plugin, to copy and grow.
 *
 * It lets every app through and logs each connection that opens and
 * closes, and each request. Replace the bodies marked TODO with your
 * policy; keep the rules of <teep-broker/plugin.h>, which
 * docs/plugin-abi.md explains:
 *
 *   - every hook runs on the broker's event loop thread and MUST NOT
 *     block: no file or network I/O, no sleeping; read what you need in
 *     init();
 *   - everything the broker passes to a hook is borrowed for the call;
 *   - the first plugin that answers ALLOW or DENY decides; ABSTAIN lets
 *     the plugins after this one, then the broker's default (serve the
 *     app), decide.
 *
 * Build it against an installed teep-broker (see the Makefile) and load it
 * with a section of the broker's configuration:
 *
 *   [plugin:skel]
 *   path = /path/to/skeleton.so
 *   #tag = a word the log lines start with
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teep-broker/plugin.h>

/* One instance per [plugin:NAME] section. */
struct skel {
	const struct tb_host *host; /* valid until fini() returns */
	char tag[32];               /* option `tag` */
};

static int skel_init(const struct tb_host *host, const struct tb_kv *opts, size_t n_opts,
                     void **instance)
{
	struct skel *s;

	if (!host || !instance)
		return TB_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		host->log(host, TB_LOG_ERR, "out of memory");
		return TB_ERR_NOMEM;
	}
	s->host = host;
	snprintf(s->tag, sizeof(s->tag), "skeleton");
	/* opts: every key of the section but `path`, borrowed for this call:
	 * copy what you keep. This is the place to read files, too. */
	for (size_t i = 0; i < n_opts; i++) {
		if (!strcmp(opts[i].key, "tag") && strlen(opts[i].value) < sizeof(s->tag)) {
			snprintf(s->tag, sizeof(s->tag), "%s", opts[i].value);
		} else {
			/* Refusing what you do not know catches typos; log why:
			 * the broker does not start (exit status 4). */
			host->log(host, TB_LOG_ERR, "unknown option or bad value: %s = %s",
			          opts[i].key, opts[i].value);
			free(s);
			return TB_ERR_INVAL;
		}
	}
	*instance = s;
	return TB_OK;
}

static void skel_fini(void *instance)
{
	/* Every hook has returned; stop any thread of your own here. */
	free(instance);
}

/* An app opens a websocket (its handshake). */
static int skel_app_connect(void *instance, const struct tb_plugin_conn *conn, char *reason,
                            size_t reason_len)
{
	struct skel *s = instance;

	(void)reason, (void)reason_len;
	s->host->log(s->host, TB_LOG_NOTICE, "%s: app connects: id %llu from %s, path %s", s->tag,
	             (unsigned long long)conn->id, conn->address, conn->path ? conn->path : "-");
	/* TODO: to refuse, write a reason (at most reason_len - 1 bytes) and
	 * return TB_PLUGIN_DENY: the app gets HTTP 403. TB_PLUGIN_ALLOW would
	 * let it in without asking the plugins after this one. */
	return TB_PLUGIN_ABSTAIN;
}

/* An app asks for request-ta, unrequest-ta or policy-check. */
static int skel_app_op(void *instance, const struct tb_plugin_conn *conn,
                       const struct tb_plugin_op *op, char *reason, size_t reason_len)
{
	struct skel *s = instance;
	static const char *const kinds[] = {"?", "request-ta", "unrequest-ta", "policy-check"};

	(void)reason, (void)reason_len;
	s->host->log(s->host, TB_LOG_INFO, "%s: app %llu asks for %s on tee %s", s->tag,
	             (unsigned long long)conn->id, op->kind <= 3 ? kinds[op->kind] : "?",
	             op->tee ? op->tee : "-");
	/* TODO: DENY with a reason, and the app gets error 15 `forbidden`. */
	return TB_PLUGIN_ABSTAIN;
}

/* A connection that had opened has closed. */
static void skel_app_close(void *instance, const struct tb_plugin_conn *conn)
{
	struct skel *s = instance;

	s->host->log(s->host, TB_LOG_NOTICE, "%s: app %llu closed", s->tag,
	             (unsigned long long)conn->id);
}

/* The one exported symbol. Hooks left out (authenticate, ban) are NULL:
 * the plugin has no say there. */
TB_PLUGIN_DECLARE(.name = "skeleton", .version = "1.0",
                  .description = "skeleton plugin: lets every app through, logs connections",
                  .init = skel_init, .fini = skel_fini, .app_connect = skel_app_connect,
                  .app_op = skel_app_op, .app_close = skel_app_close);
