/*
 * Which changes of the configuration a reload may apply (confdiff.h). A key
 * needs a restart when what it configures is built once at the start and
 * cannot be rebuilt under the apps using it: the sockets (listener and admin
 * addresses, ports, the handshake timeout of the network context), the
 * drivers and their worker threads, the TAMs' TLS trust and keys, the
 * resolver's threads, the user and directories the broker dropped to, the
 * log's destination, and the tables sized from max_connections and
 * max_sessions (which a reload may lower, and raise back to their size).
 */
#include "config.h"
#include "confdiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CONF_SECT_MAX 96 /* "app-tam:" and an identity */

struct diff {
	struct tb_conf_error *errs;
	size_t cap, n, count;
};

static void refuse(struct diff *d, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct diff *d, int line, const char *fmt, ...)
{
	va_list ap;

	d->count++;
	if (d->n >= d->cap)
		return;
	d->errs[d->n].line = line;
	va_start(ap, fmt);
	vsnprintf(d->errs[d->n].msg, sizeof(d->errs[d->n].msg), fmt, ap);
	va_end(ap);
	d->n++;
}

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void num(struct diff *d, int line, const char *sect, const char *key, uint64_t a, uint64_t b)
{
	if (a != b)
		refuse(d, line, "[%s] %s: %llu -> %llu: needs a restart", sect, key,
		       (unsigned long long)a, (unsigned long long)b);
}

static void str(struct diff *d, int line, const char *sect, const char *key, const char *a,
                const char *b)
{
	if (!str_eq(a, b))
		refuse(d, line, "[%s] %s: \"%.40s\" -> \"%.40s\": needs a restart", sect, key,
		       a ? a : "", b ? b : "");
}

static void cap_check(struct diff *d, int line, const char *sect, const char *key, uint32_t v,
                      uint32_t cap)
{
	if (cap && v > cap)
		refuse(d, line,
		       "[%s] %s: %u is above %u, the value the broker started with: raising it "
		       "needs a restart",
		       sect, key, (unsigned)v, (unsigned)cap);
}

static int opts_eq(const struct tb_conf_kv *a, size_t na, const struct tb_conf_kv *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value))
			return 0;
	return 1;
}

static void broker_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n,
                        const struct tb_conf_caps *caps)
{
	const int *l = &n->lines.broker;

	str(d, n->lines.pid_file ? n->lines.pid_file : *l, "broker", "pid_file", c->pid_file,
	    n->pid_file);
	num(d, n->lines.log_level, "broker", "log_level", (uint64_t)c->log_level,
	    (uint64_t)n->log_level);
	num(d, n->lines.log_syslog, "broker", "log_syslog", (uint64_t)c->log_syslog,
	    (uint64_t)n->log_syslog);
	str(d, n->lines.driver_dir, "broker", "driver_dir", c->driver_dir, n->driver_dir);
	str(d, n->lines.plugin_dir, "broker", "plugin_dir", c->plugin_dir, n->plugin_dir);
	str(d, n->lines.state_dir ? n->lines.state_dir : *l, "broker", "state_dir", c->state_dir,
	    n->state_dir);
	str(d, n->lines.user ? n->lines.user : *l, "broker", "user", c->user, n->user);
	str(d, n->lines.group ? n->lines.group : *l, "broker", "group", c->group, n->group);
	cap_check(d, n->lines.max_sessions, "broker", "max_sessions", n->max_sessions,
	          caps ? caps->max_sessions : 0);
}

static void listener_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n,
                          const struct tb_conf_caps *caps)
{
	const struct tb_conf_listener *a = &c->listener, *b = &n->listener;

	str(d, n->lines.address, "listener", "address", a->address, b->address);
	num(d, n->lines.port, "listener", "port", (uint64_t)a->port, (uint64_t)b->port);
	str(d, n->lines.port_file ? n->lines.port_file : n->lines.listener, "listener", "port_file",
	    a->port_file, b->port_file);
	num(d, n->lines.handshake_timeout, "listener", "handshake_timeout", a->handshake_timeout_ms,
	    b->handshake_timeout_ms);
	cap_check(d, n->lines.max_connections, "listener", "max_connections", b->max_connections,
	          caps ? caps->max_connections : 0);
	/* wss:// on or off, and the client check, are the vhost's; the files
	 * (renewed certificates, new CAs) reload */
	if (!a->tls_cert != !b->tls_cert)
		refuse(d, n->lines.tls_cert ? n->lines.tls_cert : n->lines.listener,
		       "[listener] tls_cert: wss:// turned %s: needs a restart",
		       b->tls_cert ? "on" : "off");
	num(d, n->lines.listener, "listener", "tls_verify_client", (uint64_t)a->tls_verify_client,
	    (uint64_t)b->tls_verify_client);
}

static void tam_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n)
{
	for (size_t i = 0; i < n->n_tams; i++) {
		const struct tb_conf_tam *b = &n->tams[i];
		const struct tb_conf_tam *a = tb_conf_find_tam(c, b->name);
		char sect[CONF_SECT_MAX];

		snprintf(sect, sizeof(sect), "tam:%s", b->name);
		if (!a) {
			refuse(d, b->line, "[%s]: a new TAM section needs a restart", sect);
			continue;
		}
		num(d, b->line, sect, "numbering", (uint64_t)a->numbering, (uint64_t)b->numbering);
		num(d, b->line, sect, "connect_timeout", a->connect_timeout_ms,
		    b->connect_timeout_ms);
		str(d, b->ca_file_line ? b->ca_file_line : b->line, sect, "ca_file", a->ca_file,
		    b->ca_file);
		num(d, b->line, sect, "tls_insecure", (uint64_t)a->tls_insecure,
		    (uint64_t)b->tls_insecure);
		str(d, b->tls_pin_line ? b->tls_pin_line : b->line, sect, "tls_pin_sha256",
		    a->tls_pin_sha256, b->tls_pin_sha256);
		num(d, b->line, sect, "precheck", (uint64_t)a->precheck, (uint64_t)b->precheck);
		str(d, b->trust_anchor_line ? b->trust_anchor_line : b->line, sect, "trust_anchor",
		    a->trust_anchor, b->trust_anchor);
	}
	for (size_t i = 0; i < c->n_tams; i++)
		if (!tb_conf_find_tam(n, c->tams[i].name))
			refuse(d, 0, "[tam:%s]: removing a TAM section needs a restart",
			       c->tams[i].name);
}

static const struct tb_conf_driver *find_driver(const struct tb_conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_drivers; i++)
		if (strcmp(c->drivers[i].name, name) == 0)
			return &c->drivers[i];
	return NULL;
}

static void driver_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n)
{
	for (size_t i = 0; i < n->n_drivers; i++) {
		const struct tb_conf_driver *b = &n->drivers[i];
		const struct tb_conf_driver *a = find_driver(c, b->name);
		char sect[CONF_SECT_MAX];

		snprintf(sect, sizeof(sect), "driver:%s", b->name);
		if (!a) {
			refuse(d, b->line, "[%s]: a new driver section needs a restart", sect);
			continue;
		}
		str(d, b->line, sect, "path", a->path, b->path);
		str(d, b->line, sect, "tam", a->tam, b->tam);
		num(d, b->line, sect, "queue_size", a->queue_size, b->queue_size);
		num(d, b->line, sect, "policy_check_interval", a->policy_check_interval_ms,
		    b->policy_check_interval_ms);
		if (!opts_eq(a->opts, a->n_opts, b->opts, b->n_opts))
			refuse(d, b->line, "[%s]: the driver's options changed: needs a restart",
			       sect);
	}
	for (size_t i = 0; i < c->n_drivers; i++)
		if (!find_driver(n, c->drivers[i].name))
			refuse(d, 0, "[driver:%s]: removing a driver section needs a restart",
			       c->drivers[i].name);
}

static void plugin_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n,
                        const int *reloadable)
{
	size_t common = c->n_plugins < n->n_plugins ? c->n_plugins : n->n_plugins;

	for (size_t i = 0; i < common; i++) {
		const struct tb_conf_plugin *a = &c->plugins[i], *b = &n->plugins[i];
		char sect[CONF_SECT_MAX];

		snprintf(sect, sizeof(sect), "plugin:%s", b->name);
		if (strcmp(a->name, b->name) != 0) {
			refuse(d, b->line,
			       "[%s]: in the place of [plugin:%s]: adding, removing or reordering "
			       "plugins needs a restart",
			       sect, a->name);
			continue;
		}
		str(d, b->line, sect, "path", a->path, b->path);
		if (!opts_eq(a->opts, a->n_opts, b->opts, b->n_opts) &&
		    !(reloadable && reloadable[i]))
			refuse(d, b->line,
			       "[%s]: the plugin's options changed and it cannot reload them: "
			       "needs a restart",
			       sect);
	}
	for (size_t i = common; i < n->n_plugins; i++)
		refuse(d, n->plugins[i].line, "[plugin:%s]: a new plugin section needs a restart",
		       n->plugins[i].name);
	for (size_t i = common; i < c->n_plugins; i++)
		refuse(d, 0, "[plugin:%s]: removing a plugin section needs a restart",
		       c->plugins[i].name);
}

static void app_tam_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n)
{
	for (size_t i = 0; i < n->n_app_tams; i++) {
		const struct tb_conf_app_tam *b = &n->app_tams[i];
		const struct tb_conf_app_tam *a = tb_conf_find_app_tam(c, b->identity);
		char sect[CONF_SECT_MAX];

		snprintf(sect, sizeof(sect), "app-tam:%s", b->identity);
		if (!a) {
			refuse(d, b->line, "[%s]: a new app-tam section needs a restart", sect);
			continue;
		}
		str(d, b->key_line ? b->key_line : b->line, sect, "key", a->key, b->key);
		str(d, b->line, sect, "tee", a->tee, b->tee);
		num(d, b->line, sect, "numbering", (uint64_t)a->numbering, (uint64_t)b->numbering);
	}
	for (size_t i = 0; i < c->n_app_tams; i++)
		if (!tb_conf_find_app_tam(n, c->app_tams[i].identity))
			refuse(d, 0, "[app-tam:%s]: removing an app-tam section needs a restart",
			       c->app_tams[i].identity);
}

static void other_keys(struct diff *d, const struct tb_conf *c, const struct tb_conf *n)
{
	const struct tb_conf_resolver *ra = &c->resolver, *rb = &n->resolver;
	const struct tb_conf_admin *aa = &c->admin, *ab = &n->admin;
	int rl = n->lines.resolver, al = n->lines.admin;

	num(d, n->lines.ban_enabled, "ban", "enabled", (uint64_t)c->ban.enabled,
	    (uint64_t)n->ban.enabled);
	num(d, n->lines.ban_max_keys, "ban", "max_keys", c->ban.max_keys, n->ban.max_keys);
	num(d, rl, "resolver", "threads", ra->threads, rb->threads);
	num(d, rl, "resolver", "queue_size", ra->queue_size, rb->queue_size);
	num(d, rl, "resolver", "cache_size", ra->cache_size, rb->cache_size);
	num(d, rl, "resolver", "ttl", ra->ttl_ms, rb->ttl_ms);
	num(d, rl, "resolver", "negative_ttl", ra->negative_ttl_ms, rb->negative_ttl_ms);
	num(d, rl, "resolver", "timeout", ra->timeout_ms, rb->timeout_ms);
	num(d, al, "admin", "enabled", (uint64_t)aa->enabled, (uint64_t)ab->enabled);
	str(d, al, "admin", "address", aa->address, ab->address);
	num(d, al, "admin", "port", (uint64_t)aa->port, (uint64_t)ab->port);
	str(d, al, "admin", "port_file", aa->port_file, ab->port_file);
}

size_t tb_conf_diff(const struct tb_conf *cur, const struct tb_conf *next,
                    const struct tb_conf_caps *caps, const int *plugin_reloadable,
                    struct tb_conf_error *errs, size_t cap, size_t *n)
{
	struct diff d = {.errs = errs, .cap = errs ? cap : 0};

	broker_keys(&d, cur, next, caps);
	listener_keys(&d, cur, next, caps);
	tam_keys(&d, cur, next);
	driver_keys(&d, cur, next);
	plugin_keys(&d, cur, next, plugin_reloadable);
	app_tam_keys(&d, cur, next);
	other_keys(&d, cur, next);
	if (n)
		*n = d.n;
	return d.count;
}
