/*
 * teep-brokerd --check-config: the start's own setup, run and undone, with
 * every problem reported against its line (checkconf.h).
 */
#include "config.h"
#include "checkconf.h"
#include "broker.h"
#include "privdrop.h"
#include "tb_cose.h"
#include "tb_log.h"
#include "tb_util.h"
#include "tls.h"
#include "tls_listener.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct check {
	struct tb_broker *b;
	unsigned config_problems;
	unsigned driver_problems;
};

static void problem(struct check *c, int driver, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct check *c, int driver, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		fprintf(stderr, "teep-brokerd: %s:%d: %s\n", c->b->conf_path, line, msg);
	else
		fprintf(stderr, "teep-brokerd: %s: %s\n", c->b->conf_path, msg);
	if (driver)
		c->driver_problems++;
	else
		c->config_problems++;
}

/* The directory a file of the broker's is written in (through a temporary
 * file and a rename: tb_write_file) must exist and be writable. */
static void check_file_dir(struct check *c, const char *what, const char *path, int line)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (n == 0)
		snprintf(dir, sizeof(dir), "/");
	else if (n < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
	else {
		problem(c, 0, line, "%s %s: the path is too long", what, path);
		return;
	}
	if (stat(dir, &st) != 0)
		problem(c, 0, line, "%s %s: directory %s: %s", what, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		problem(c, 0, line, "%s %s: %s is not a directory", what, path, dir);
	else if (access(dir, W_OK | X_OK) != 0)
		problem(c, 0, line, "%s %s: directory %s is not writable: %s", what, path, dir,
		        strerror(errno));
}

static void check_dir(struct check *c, const char *what, const char *dir, int line)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		problem(c, 0, line, "%s %s: %s", what, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		problem(c, 0, line, "%s %s: not a directory", what, dir);
	else if (access(dir, W_OK | X_OK) != 0)
		problem(c, 0, line, "%s %s: not writable: %s", what, dir, strerror(errno));
}

/* The user the broker runs as, as the start makes it. */
static void check_user(struct check *c)
{
	const struct tb_conf *conf = &c->b->conf;
	struct tb_priv p;
	char why[512];

	if (tb_priv_resolve(conf, &p, why, sizeof(why))) {
		problem(c, 0,
		        conf->lines.group && strstr(why, "group") ? conf->lines.group
		                                                  : conf->lines.user,
		        "%s", why);
		return;
	}
	if (p.mismatch) {
		/* the start refuses it; the rest is checked as who we are */
		problem(c, 0, conf->lines.user,
		        "[broker] user = %s, but not started as root nor as %s (uid %lu): the "
		        "start would refuse it",
		        p.user, p.user, (unsigned long)geteuid());
		return;
	}
	if (!p.drop)
		return;
	if (tb_priv_prepare_dir(&p, conf->state_dir, why, sizeof(why)) ||
	    tb_priv_drop(&p, why, sizeof(why))) {
		problem(c, 0, conf->lines.state_dir ? conf->lines.state_dir : conf->lines.user,
		        "%s", why);
		return;
	}
	fprintf(stderr, "teep-brokerd: checking as user %s, as the daemon runs\n", p.user);
}

/* wss://: the certificate, its key and the client CAs load and match, as
 * the start (and a reload) loads them. */
static void check_listener_tls(struct check *c)
{
	const struct tb_conf *conf = &c->b->conf;
	enum tb_ltls_key which = TB_LTLS_NONE;
	char why[512];

	if (tb_listener_tls_check(&conf->listener, why, sizeof(why), &which))
		problem(c, 0,
		        which == TB_LTLS_CERT  ? conf->lines.tls_cert
		        : which == TB_LTLS_KEY ? conf->lines.tls_key
		        : which == TB_LTLS_CA  ? conf->lines.tls_ca
		                               : 0,
		        "[listener] %s", why);
}

/* Every TAM a TEE talks to gets a TLS context at start, with its ca_file
 * (or the system's CAs). */
static void check_tams(struct check *c)
{
	const struct tb_conf *conf = &c->b->conf;

	for (size_t i = 0; i < conf->n_tams; i++) {
		const struct tb_conf_tam *t = &conf->tams[i];
		int used = 0;
		char why[256];

		for (size_t d = 0; d < conf->n_drivers; d++)
			used |= tb_conf_find_tam(conf, conf->drivers[d].tam) == t;
		if (used) {
			struct tb_tls_ctx *tls = tb_tls_ctx_new(
			    t->ca_file, t->tls_insecure, t->tls_pin_sha256, why, sizeof(why));
			if (!tls && !strncmp(why, "tls_pin_sha256", 14))
				problem(c, 0, t->tls_pin_line ? t->tls_pin_line : t->line,
				        "[tam] %s: %s", t->name, why);
			else if (!tls)
				problem(c, 0, t->ca_file_line ? t->ca_file_line : t->line,
				        "[tam] %s: %s%s%s", t->name, t->ca_file ? t->ca_file : "",
				        t->ca_file ? ": " : "", why);
			tb_tls_ctx_free(tls);
		}
		if (t->precheck) {
			struct tb_key *k = NULL;
			if (tb_key_load_file(t->trust_anchor, &k, why, sizeof(why)) != TB_OK)
				problem(c, 0, t->trust_anchor_line ? t->trust_anchor_line : t->line,
				        "[tam] %s: trust_anchor %s: %s", t->name, t->trust_anchor,
				        why);
			tb_key_free(k);
		}
	}
	for (size_t i = 0; i < conf->n_app_tams; i++) {
		const struct tb_conf_app_tam *a = &conf->app_tams[i];
		struct tb_key *k = NULL;
		char why[256];

		if (tb_key_load_file(a->key, &k, why, sizeof(why)) != TB_OK)
			problem(c, 0, a->key_line, "[app-tam:%s] key %s: %s", a->identity, a->key,
			        why);
		tb_key_free(k);
	}
}

/* Each driver as the start loads it (tb_tee_setup: its init() checks its
 * options and opens its keys), then unloaded. */
static void check_drivers(struct check *c)
{
	struct tb_broker *b = c->b;

	for (size_t i = 0; i < b->conf.n_drivers; i++) {
		const struct tb_conf_driver *dc = &b->conf.drivers[i];
		char err[768];

		if (tb_tee_setup(b, &b->tees[i], dc, err, sizeof(err))) {
			problem(c, 1, dc->line, "[driver:%s] %s", dc->name, err);
			continue;
		}
		tb_tee_teardown(&b->tees[i], tb_now_ms() + 5000);
	}
}

/* Each plugin likewise. tb_plugins_setup() stops at the first that fails:
 * each is given one on its own, in a broker of its own that shares the
 * configuration's strings (and is freed without them). */
static void check_plugins(struct check *c)
{
	const struct tb_conf *conf = &c->b->conf;

	for (size_t i = 0; i < conf->n_plugins; i++) {
		struct tb_broker *one = calloc(1, sizeof(*one));
		char err[768];

		if (!one) {
			problem(c, 1, conf->plugins[i].line, "out of memory");
			return;
		}
		one->conf = *conf;
		one->conf_path = c->b->conf_path;
		one->conf.plugins[0] = conf->plugins[i];
		one->conf.n_plugins = 1;
		if (tb_plugins_setup(one, err, sizeof(err)))
			problem(c, 1, conf->plugins[i].line, "[plugin:%s] %s",
			        conf->plugins[i].name, err);
		tb_plugins_teardown(one);
		free(one);
	}
}

enum tb_check_result tb_check_config(struct tb_broker *b)
{
	struct check c = {.b = b};
	const struct tb_conf *conf = &b->conf;
	check_user(&c);
	/* running as the user (dropped to it, or started as it) */
	int as_user = conf->user && geteuid() != 0 && !c.config_problems;
	if (conf->pid_file)
		check_file_dir(&c, "[broker] pid_file", conf->pid_file, conf->lines.pid_file);
	if (conf->listener.port_file)
		check_file_dir(&c, "[listener] port_file", conf->listener.port_file,
		               conf->lines.port_file);
	/* the state root matters when the broker makes it the user's, or
	 * when the file names it */
	if (conf->lines.state_dir || as_user)
		check_dir(&c, "[broker] state_dir", conf->state_dir,
		          conf->lines.state_dir ? conf->lines.state_dir : conf->lines.user);
	check_listener_tls(&c);
	check_tams(&c);
	check_drivers(&c);
	check_plugins(&c);
	if (c.config_problems)
		return TB_CHECK_CONFIG;
	return c.driver_problems ? TB_CHECK_DRIVER : TB_CHECK_OK;
}
