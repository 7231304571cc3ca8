/*
 * teep-agentd's configuration: an INI file with an [agentd] section (the
 * socket and its bounds) and an [agent] section (the options of the
 * software Agent, exactly as the sim driver takes them), read with libinih.
 * Command-line options override or add to it (main.c).
 */
#include <config.h>

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "tb_log.h"
#include "tb_util.h"

#define CONF_FILE_MAX (64u * 1024)
#define CONF_LINE_MAX 199 /* libinih's INI_MAX_LINE, less the newline */

void ad_conf_defaults(struct ad_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->socket_mode = 0600;
	c->max_frame = TB_AP_DEFAULT_MAX_FRAME;
	c->max_connections = 4;
	c->max_calls = 8;
	c->queue_size = 32;
	c->max_sessions = 256;
	c->hello_timeout_ms = 10000;
	c->log_level = TB_LOG_NOTICE;
}

void ad_conf_free(struct ad_conf *c)
{
	free(c->listen);
	for (size_t i = 0; i < c->n_agent_opts; i++) {
		free((char *)c->agent_opts[i].key);
		free((char *)c->agent_opts[i].value);
	}
	memset(c, 0, sizeof(*c));
}

int ad_conf_set_listen(struct ad_conf *c, const char *addr)
{
	struct tb_as_addr a;
	char err[160];
	char *dup;

	if (tb_as_parse(addr, &a, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERR, "listen = %s: %s", addr, err);
		return TB_ERR_INVAL;
	}
	dup = strdup(addr);
	if (!dup)
		return TB_ERR_NOMEM;
	free(c->listen);
	c->listen = dup;
	return TB_OK;
}

/* An Agent option; a key given again replaces the earlier value, so the
 * command line overrides the file. */
static int agent_opt(struct ad_conf *c, const char *key, const char *value)
{
	char *k, *v;
	size_t i;

	for (i = 0; i < c->n_agent_opts; i++)
		if (strcmp(c->agent_opts[i].key, key) == 0)
			break;
	if (i == AD_MAX_AGENT_OPTS) {
		tb_log(TB_LOG_ERR, "more than %d Agent options", AD_MAX_AGENT_OPTS);
		return TB_ERR_TOOBIG;
	}
	v = strdup(value);
	k = i < c->n_agent_opts ? NULL : strdup(key);
	if (!v || (i == c->n_agent_opts && !k)) {
		free(k);
		free(v);
		return TB_ERR_NOMEM;
	}
	if (i < c->n_agent_opts) {
		free((char *)c->agent_opts[i].value);
		c->agent_opts[i].value = v;
		return TB_OK;
	}
	c->agent_opts[i].key = k;
	c->agent_opts[i].value = v;
	c->n_agent_opts++;
	return TB_OK;
}

int ad_conf_agent_opt(struct ad_conf *c, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[64];
	size_t n;

	if (!eq || (n = (size_t)(eq - kv)) == 0 || n >= sizeof(key)) {
		tb_log(TB_LOG_ERR, "an Agent option is KEY=VALUE, not '%s'", kv);
		return TB_ERR_INVAL;
	}
	memcpy(key, kv, n);
	key[n] = 0;
	return agent_opt(c, key, eq + 1);
}

static int size_in(const char *v, uint64_t min, uint64_t max, size_t *out)
{
	uint64_t n;

	if (tb_parse_size(v, &n) != TB_OK || n < min || n > max)
		return TB_ERR_INVAL;
	*out = (size_t)n;
	return TB_OK;
}

static int agentd_key(struct ad_conf *c, const char *k, const char *v)
{
	if (strcmp(k, "listen") == 0)
		return ad_conf_set_listen(c, v);
	if (strcmp(k, "socket_mode") == 0) {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(v, &end, 8);
		if (errno || *end || !*v || m > 0777)
			return TB_ERR_INVAL;
		c->socket_mode = (unsigned)m;
		return TB_OK;
	}
	if (strcmp(k, "max_frame") == 0)
		return size_in(v, TB_AP_MIN_MAX_FRAME, TB_AP_MAX_MAX_FRAME, &c->max_frame);
	if (strcmp(k, "max_connections") == 0)
		return size_in(v, 1, 256, &c->max_connections);
	if (strcmp(k, "max_calls") == 0)
		return size_in(v, 1, 1024, &c->max_calls);
	if (strcmp(k, "queue_size") == 0)
		return size_in(v, 1, 65536, &c->queue_size);
	if (strcmp(k, "max_sessions") == 0)
		return size_in(v, 1, 65536, &c->max_sessions);
	if (strcmp(k, "hello_timeout") == 0) {
		if (tb_parse_duration_ms(v, &c->hello_timeout_ms) != TB_OK ||
		    c->hello_timeout_ms < 100 || c->hello_timeout_ms > 3600 * 1000)
			return TB_ERR_INVAL;
		return TB_OK;
	}
	if (strcmp(k, "log_level") == 0) {
		c->log_level = tb_log_level_parse(v);
		return c->log_level < 0 ? TB_ERR_INVAL : TB_OK;
	}
	tb_log(TB_LOG_ERR, "unknown key '%s' in [agentd]", k);
	return TB_ERR_INVAL;
}

struct parse {
	struct ad_conf *c;
	const char *path;
	int failed;
};

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	int rc;

	if (strcmp(section, "agentd") == 0) {
		rc = agentd_key(p->c, key, value);
		if (rc != TB_OK)
			tb_log(TB_LOG_ERR, "%s: [agentd] %s = '%s' is not valid", p->path, key,
			       value);
	} else if (strcmp(section, "agent") == 0) {
		rc = agent_opt(p->c, key, value);
	} else {
		tb_log(TB_LOG_ERR, "%s: unknown section [%s]", p->path, section);
		rc = TB_ERR_INVAL;
	}
	if (rc != TB_OK)
		p->failed = 1;
	return rc == TB_OK;
}

int ad_conf_load(struct ad_conf *c, const char *path)
{
	struct parse p = {.c = c, .path = path};
	uint8_t *buf;
	size_t len, line = 1, col = 0;
	int rc;

	rc = tb_read_file(path, CONF_FILE_MAX, &buf, &len);
	if (rc != TB_OK) {
		tb_log(TB_LOG_ERR, "cannot read %s (missing, unreadable or over %u bytes)", path,
		       CONF_FILE_MAX);
		return TB_ERR_IO;
	}
	/* libinih cuts longer lines silently and stops at a NUL: refuse both. */
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == 0 || col >= CONF_LINE_MAX) {
			tb_log(TB_LOG_ERR, "%s:%zu: %s", path, line,
			       buf[i] ? "line longer than 199 bytes" : "NUL byte");
			free(buf);
			return TB_ERR_INVAL;
		}
		col = buf[i] == '\n' ? 0 : col + 1;
		line += buf[i] == '\n';
	}
	rc = ini_parse_string((const char *)buf, handler, &p);
	free(buf);
	if (rc > 0 && !p.failed)
		tb_log(TB_LOG_ERR, "%s:%d: syntax error", path, rc);
	return rc == 0 && !p.failed ? TB_OK : TB_ERR_INVAL;
}
