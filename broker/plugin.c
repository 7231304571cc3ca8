/*
 * Broker plugins (include/teep-broker/plugin.h, docs/plugin-abi.md): one
 * loaded instance per [plugin:NAME] section, asked in file order.
 *
 * Every hook runs on the loop thread; the broker checks what a hook hands
 * back (a verdict, an identity) before using it, so that a plugin's mistake
 * refuses an app rather than letting it through.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	const struct tb_plugin_inst *p = lws_container_of(host, struct tb_plugin_inst, host);
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	tb_log(level, "plugin %s: %s", p->conf->name, line);
}

/* Plugin ABI 1.1 host services (driver.h): on the loop thread, from a hook. */
static int host_ban_address(const struct tb_host *host, const char *address, const char *why)
{
	const struct tb_plugin_inst *p = lws_container_of(host, struct tb_plugin_inst, host);
	struct tb_peer peer;
	char what[128];

	if (tb_peer_from_text(address, &peer) != TB_OK)
		return TB_ERR_INVAL;
	snprintf(what, sizeof(what), "plugin %s: %s", p->conf->name, why ? why : "banned");
	return tb_def_ban_now(p->b, &peer, what);
}

static int host_close_address(const struct tb_host *host, const char *address)
{
	const struct tb_plugin_inst *p = lws_container_of(host, struct tb_plugin_inst, host);
	struct tb_peer peer;

	if (tb_peer_from_text(address, &peer) != TB_OK)
		return TB_ERR_INVAL;
	unsigned n = tb_ua_ban_close(p->b, &peer, tb_now_ms());
	tb_log(TB_LOG_NOTICE, "plugin %s: closes the %u connection(s) of %s", p->conf->name, n,
	       address);
	return (int)n;
}

int tb_plugins_setup(struct tb_broker *b, char *err, size_t errlen)
{
	for (size_t i = 0; i < b->conf.n_plugins; i++) {
		const struct tb_conf_plugin *pc = &b->conf.plugins[i];
		struct tb_plugin_inst *p = &b->plugins[i];
		struct tb_kv opts[TB_CONF_MAX_OPTS];
		char why[512];
		int rc;

		memset(p, 0, sizeof(*p));
		p->conf = pc;
		rc = tb_plugin_open(pc->path, b->conf.plugin_dir, &p->lp, why, sizeof(why));
		if (rc) {
			snprintf(err, errlen, "plugin %s: %s", pc->name, why);
			return rc;
		}
		p->host.struct_size = sizeof(p->host);
		p->host.log = host_log;
		p->host.alloc = tb_host_alloc;
		p->host.free = free;
		p->host.now_ms = tb_host_now;
		p->host.ban_address = host_ban_address;
		p->host.close_address = host_close_address;
		p->b = b;
		for (size_t j = 0; j < pc->n_opts; j++) {
			opts[j].key = pc->opts[j].key;
			opts[j].value = pc->opts[j].value;
		}
		rc = p->lp.ops.init(&p->host, opts, pc->n_opts, &p->instance);
		if (rc) {
			snprintf(err, errlen,
			         "plugin %s (%s): init failed (status %d); see the lines above",
			         pc->name, p->lp.path, rc);
			tb_plugin_close(&p->lp);
			return rc;
		}
		p->initialised = 1;
		b->n_plugins++;
		tb_log(TB_LOG_NOTICE, "plugin %s: %s %s (ABI %u.%u) from %s", pc->name,
		       p->lp.pl->name, p->lp.pl->version ? p->lp.pl->version : "?",
		       p->lp.pl->abi_major, p->lp.pl->abi_minor, p->lp.path);
	}
	return TB_OK;
}

void tb_plugins_teardown(struct tb_broker *b)
{
	for (size_t i = b->n_plugins; i-- > 0;) {
		struct tb_plugin_inst *p = &b->plugins[i];
		if (!p->initialised)
			continue;
		p->lp.ops.fini(p->instance);
		p->initialised = 0;
		tb_plugin_close(&p->lp);
	}
	b->n_plugins = 0;
}

/* A verdict as the broker reads it: anything unknown refuses. */
static int verdict(int v)
{
	return v == TB_PLUGIN_ABSTAIN || v == TB_PLUGIN_ALLOW ? v : TB_PLUGIN_DENY;
}

int tb_plugin_identity_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (n == TB_PLUGIN_IDENTITY_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._-@:", c)))
			return 0;
	}
	return n > 0;
}

/* A plugin's reason, made safe for a log line or an answer. */
static void clean_reason(char *r, size_t len)
{
	r[len - 1] = 0;
	for (char *c = r; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

enum tb_plugin_admission tb_plugins_admit(struct tb_broker *b, struct tb_plugin_conn *conn,
                                          char *identity, size_t identity_len, char *reason,
                                          size_t reason_len)
{
	identity[0] = 0;
	conn->identity = NULL;
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		int v;

		if (!p->lp.ops.app_connect)
			continue;
		reason[0] = 0;
		v = verdict(p->lp.ops.app_connect(p->instance, conn, reason, reason_len));
		clean_reason(reason, reason_len);
		if (v == TB_PLUGIN_DENY) {
			tb_log(TB_LOG_INFO, "app %s: refused by plugin %s%s%s", conn->address,
			       p->conf->name, reason[0] ? ": " : "", reason);
			return TB_PLUGIN_REFUSED;
		}
		if (v == TB_PLUGIN_ALLOW)
			break;
	}
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		int v;

		if (!p->lp.ops.authenticate)
			continue;
		reason[0] = 0;
		identity[0] = 0;
		v = verdict(p->lp.ops.authenticate(p->instance, conn, identity, identity_len,
		                                   reason, reason_len));
		clean_reason(reason, reason_len);
		identity[identity_len - 1] = 0;
		if (v == TB_PLUGIN_ABSTAIN)
			continue;
		if (v == TB_PLUGIN_ALLOW && tb_plugin_identity_ok(identity)) {
			conn->identity = identity;
			return TB_PLUGIN_ADMITTED;
		}
		if (v == TB_PLUGIN_ALLOW)
			tb_log(TB_LOG_ERR,
			       "plugin %s: authenticated app %s with an invalid identity "
			       "(1..%d of A-Z a-z 0-9 . _ - @ :); refusing it",
			       p->conf->name, conn->address, TB_PLUGIN_IDENTITY_MAX);
		else
			tb_log(TB_LOG_INFO, "app %s: not authenticated by plugin %s%s%s",
			       conn->address, p->conf->name, reason[0] ? ": " : "", reason);
		identity[0] = 0;
		return TB_PLUGIN_UNAUTHORIZED;
	}
	identity[0] = 0;
	return TB_PLUGIN_ADMITTED;
}

int tb_plugins_op(struct tb_broker *b, const struct tb_plugin_conn *conn,
                  const struct tb_plugin_op *op, char *reason, size_t reason_len)
{
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		int v;

		if (!p->lp.ops.app_op)
			continue;
		reason[0] = 0;
		v = verdict(p->lp.ops.app_op(p->instance, conn, op, reason, reason_len));
		clean_reason(reason, reason_len);
		if (v == TB_PLUGIN_DENY) {
			if (!reason[0])
				snprintf(reason, reason_len, "refused by the broker's policy");
			tb_log(TB_LOG_INFO, "app %s%s%s: request %llu refused by plugin %s: %s",
			       conn->address, conn->identity ? " as " : "",
			       conn->identity ? conn->identity : "",
			       (unsigned long long)op->request_id, p->conf->name, reason);
			return 0;
		}
		if (v == TB_PLUGIN_ALLOW)
			return 1;
	}
	return 1;
}

void tb_plugins_close(struct tb_broker *b, const struct tb_plugin_conn *conn)
{
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		if (p->lp.ops.app_close)
			p->lp.ops.app_close(p->instance, conn);
	}
}

void tb_plugins_ban(struct tb_broker *b, const struct tb_plugin_ban *ban)
{
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		if (p->lp.ops.ban)
			p->lp.ops.ban(p->instance, ban);
	}
}

/* ---- configuration reload (plugin ABI 1.2, reload.c) -------------------- */

int tb_plugin_reloadable(const struct tb_broker *b, size_t i)
{
	return i < b->n_plugins && b->plugins[i].lp.ops.reload_prepare != NULL;
}

int tb_plugins_reload_prepare(struct tb_broker *b, const struct tb_conf *next,
                              struct tb_plugin_prepared *pp, char *err, size_t errlen)
{
	memset(pp, 0, sizeof(*pp));
	for (size_t i = 0; i < b->n_plugins && i < next->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		const struct tb_conf_plugin *pc = &next->plugins[i];
		struct tb_kv opts[TB_CONF_MAX_OPTS];

		if (!tb_plugin_reloadable(b, i))
			continue;
		for (size_t j = 0; j < pc->n_opts; j++) {
			opts[j].key = pc->opts[j].key;
			opts[j].value = pc->opts[j].value;
		}
		int rc = p->lp.ops.reload_prepare(p->instance, opts, pc->n_opts, &pp->state[i]);
		if (rc) {
			snprintf(err, errlen,
			         "[plugin:%s]: the plugin refused its new options (status %d); see "
			         "its lines above",
			         pc->name, rc);
			pp->state[i] = NULL;
			tb_plugins_reload_abort(b, pp);
			return pc->line ? pc->line : -1;
		}
		pp->prepared[i] = 1;
	}
	return 0;
}

void tb_plugins_reload_commit(struct tb_broker *b, struct tb_plugin_prepared *pp)
{
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		if (!pp->prepared[i])
			continue;
		p->lp.ops.reload_commit(p->instance, pp->state[i]);
		pp->prepared[i] = 0;
		pp->state[i] = NULL;
	}
}

void tb_plugins_reload_abort(struct tb_broker *b, struct tb_plugin_prepared *pp)
{
	for (size_t i = 0; i < b->n_plugins; i++) {
		struct tb_plugin_inst *p = &b->plugins[i];
		if (!pp->prepared[i])
			continue;
		p->lp.ops.reload_abort(p->instance, pp->state[i]);
		pp->prepared[i] = 0;
		pp->state[i] = NULL;
	}
}
