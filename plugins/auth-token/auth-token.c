/*
 * auth-token: app identities from bearer tokens, and what each app may ask.
 *
 * An app sends `Authorization: Bearer TOKEN` in its websocket handshake. The
 * token file (tokens.h, docs/defences.md section 6) maps each token to the
 * app's identity and to the Trusted Components the app may request and
 * unrequest. A handshake without a known token is refused with HTTP 401,
 * or, with `anonymous = yes`, served without an identity under the rights
 * of the file's "-" line; but a bearer token that is presented and unknown
 * (or malformed) is refused whatever `anonymous` says. A request outside
 * the app's lists is refused ("forbidden"); policy-check is left to the
 * broker (allowed).
 *
 *   [plugin:auth]
 *   path = auth-token
 *   token_file = /etc/teep-broker/tokens
 *   #anonymous = no
 *   #cert_map = /etc/teep-broker/app-certs
 *
 * On a wss:// listener that verifies client certificates, cert_map
 * (certmap.h) names the app of a certificate: such an app needs no bearer
 * token, and has the rights of its identity's line in the token file.
 *
 * The files are read in init(), and again on a configuration reload (SIGHUP,
 * off the broker's loop): a new token works from then on, a removed one is
 * refused at the next handshake (connections open keep their identity).
 * Hooks only look at the table in memory and never block.
 */
#include "config.h"
#include "certmap.h"
#include "tokens.h"

#include <teep-broker/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct auth {
	const struct tb_host *host;
	struct tb_tokens *tokens;
	struct tb_certmap *certs; /* NULL without cert_map */
	int anonymous;
};

/* The whole file, bounded; refused if every user may write it. `what` names
 * it in messages; a secret one is also reported when every user may read
 * it. */
static int read_file(const struct tb_host *host, const char *what, int secret, size_t max,
                     const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = TB_ERR_IO;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		host->log(host, TB_LOG_ERR, "cannot open the %s %s: %s", what, path,
		          strerror(errno));
		return TB_ERR_IO;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		host->log(host, TB_LOG_ERR, "the %s %s is not a regular file", what, path);
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		host->log(host, TB_LOG_ERR,
		          "the %s %s may be written by every user (mode %03o): anyone "
		          "could add an app; chmod o-w it",
		          what, path, (unsigned)(st.st_mode & 0777));
		rc = TB_ERR_INVAL;
		goto out;
	}
	if (secret && (st.st_mode & S_IROTH))
		host->log(host, TB_LOG_WARN,
		          "the %s %s is readable by every user (mode %03o): its tokens "
		          "are secrets; chmod o-r it",
		          what, path, (unsigned)(st.st_mode & 0777));
	if ((uint64_t)st.st_size > max) {
		host->log(host, TB_LOG_ERR, "the %s %s is larger than %zu bytes", what, path, max);
		rc = TB_ERR_TOOBIG;
		goto out;
	}
	/* one byte more than allowed, to notice a file that grew meanwhile */
	buf = malloc(max + 1);
	if (!buf) {
		rc = TB_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, max + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			host->log(host, TB_LOG_ERR, "cannot read the %s %s: %s", what, path,
			          strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			host->log(host, TB_LOG_ERR, "the %s %s is larger than %zu bytes", what,
			          path, max);
			rc = TB_ERR_TOOBIG;
			goto out;
		}
	}
	*out = buf;
	*len = got;
	buf = NULL;
	rc = TB_OK;
out:
	if (buf) {
		explicit_bzero(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}

static int parse_yes_no(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
	    !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") ||
	         !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* The options: token_file (required), anonymous and cert_map. */
static int read_opts(const struct tb_host *host, const struct tb_kv *opts, size_t n,
                     const char **path, int *anonymous, const char **cert_path)
{
	*path = NULL;
	*anonymous = 0;
	*cert_path = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(opts[i].key, "token_file")) {
			*path = opts[i].value;
		} else if (!strcmp(opts[i].key, "cert_map")) {
			*cert_path = opts[i].value;
		} else if (!strcmp(opts[i].key, "anonymous")) {
			if (parse_yes_no(opts[i].value, anonymous)) {
				host->log(host, TB_LOG_ERR, "anonymous: \"%s\" is not yes or no",
				          opts[i].value);
				return TB_ERR_INVAL;
			}
		} else {
			host->log(
			    host, TB_LOG_ERR,
			    "unknown option \"%s\" (auth-token knows token_file, anonymous and "
			    "cert_map)",
			    opts[i].key);
			return TB_ERR_INVAL;
		}
	}
	if (!*path) {
		host->log(host, TB_LOG_ERR, "token_file is required");
		return TB_ERR_INVAL;
	}
	return TB_OK;
}

/* The table of the token file at path. */
static int load_tokens(const struct tb_host *host, const char *path, int anonymous,
                       struct tb_tokens **out)
{
	char *text = NULL, err[256];
	size_t len = 0;
	int line, rc;

	*out = NULL;
	rc = read_file(host, "token file", 1, TB_TOK_FILE_MAX, path, &text, &len);
	if (rc == TB_OK) {
		rc = tb_tokens_parse(text, len, out, &line, err, sizeof(err));
		if (rc && line)
			host->log(host, TB_LOG_ERR, "%s:%d: %s", path, line, err);
		else if (rc)
			host->log(host, TB_LOG_ERR, "%s: %s", path, err);
		explicit_bzero(text, len);
		free(text);
	}
	if (rc)
		return rc;
	host->log(host, TB_LOG_NOTICE, "%zu app(s), %zu token(s) from %s; apps without a token: %s",
	          tb_tokens_n_entries(*out), tb_tokens_n_tokens(*out), path,
	          !anonymous                  ? "refused (401)"
	          : tb_tokens_anonymous(*out) ? "served with the rights of the \"-\" line"
	                                      : "served, policy-check only");
	return TB_OK;
}

/* The map of cert_map at path; each identity must have its line (its
 * rights) in the token table. */
static int load_cert_map(const struct tb_host *host, const struct tb_tokens *tokens,
                         const char *path, struct tb_certmap **out)
{
	char *text = NULL, err[256];
	size_t len = 0;
	int line, rc;

	*out = NULL;
	rc = read_file(host, "certificate map", 0, TB_CERTMAP_FILE_MAX, path, &text, &len);
	if (rc)
		return rc;
	rc = tb_certmap_parse(text, len, out, &line, err, sizeof(err));
	free(text);
	if (rc) {
		if (line)
			host->log(host, TB_LOG_ERR, "%s:%d: %s", path, line, err);
		else
			host->log(host, TB_LOG_ERR, "%s: %s", path, err);
		return rc;
	}
	for (size_t i = 0; i < tb_certmap_n(*out); i++) {
		const char *id = tb_certmap_identity(*out, i, &line);
		if (!tb_tokens_by_identity(tokens, id)) {
			host->log(host, TB_LOG_ERR,
			          "%s:%d: app %s has no line in the token file (its rights); a "
			          "line with token \"-\" gives it none",
			          path, line, id);
			tb_certmap_free(*out);
			*out = NULL;
			return TB_ERR_INVAL;
		}
	}
	host->log(host, TB_LOG_NOTICE, "%zu app certificate(s) from %s", tb_certmap_n(*out), path);
	return TB_OK;
}

/* The tables of the options' files into a, whose host is set. */
static int load_all(struct auth *a, const struct tb_kv *opts, size_t n)
{
	const char *path, *cert_path;
	int rc;

	rc = read_opts(a->host, opts, n, &path, &a->anonymous, &cert_path);
	if (rc)
		return rc;
	rc = load_tokens(a->host, path, a->anonymous, &a->tokens);
	if (!rc && cert_path)
		rc = load_cert_map(a->host, a->tokens, cert_path, &a->certs);
	if (rc) {
		tb_tokens_free(a->tokens);
		a->tokens = NULL;
	}
	return rc;
}

static int auth_init(const struct tb_host *host, const struct tb_kv *opts, size_t n,
                     void **instance)
{
	struct auth *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return TB_ERR_NOMEM;
	a->host = host;
	rc = load_all(a, opts, n);
	if (rc) {
		free(a);
		return rc;
	}
	*instance = a;
	return TB_OK;
}

/* Plugin ABI 1.2 reload: the files are read again on the broker's reload
 * thread into new tables, which the loop swaps in. */
static int auth_reload_prepare(void *instance, const struct tb_kv *opts, size_t n, void **prepared)
{
	const struct auth *a = instance;
	struct auth *next = calloc(1, sizeof(*next));
	int rc;

	if (!next)
		return TB_ERR_NOMEM;
	next->host = a->host;
	rc = load_all(next, opts, n);
	if (rc) {
		free(next);
		return rc;
	}
	*prepared = next;
	return TB_OK;
}

static void auth_reload_commit(void *instance, void *prepared)
{
	struct auth *a = instance, *next = prepared;
	struct tb_tokens *old = a->tokens;
	struct tb_certmap *old_certs = a->certs;

	a->tokens = next->tokens;
	a->certs = next->certs;
	a->anonymous = next->anonymous;
	/* bounded: the tables of two files of bounded size */
	tb_tokens_free(old);
	tb_certmap_free(old_certs);
	free(next);
}

static void auth_reload_abort(void *instance, void *prepared)
{
	struct auth *next = prepared;

	(void)instance;
	if (!next)
		return;
	tb_tokens_free(next->tokens);
	tb_certmap_free(next->certs);
	free(next);
}

static void auth_fini(void *instance)
{
	struct auth *a = instance;

	if (!a)
		return;
	tb_tokens_free(a->tokens);
	tb_certmap_free(a->certs);
	free(a);
}

static int auth_authenticate(void *instance, const struct tb_plugin_conn *conn, char *identity,
                             size_t identity_len, char *reason, size_t reason_len)
{
	struct auth *a = instance;
	const struct tb_tok_entry *e = NULL;
	const char *tok;
	size_t len;

	/* a verified client certificate that is mapped names the app; its
	 * Authorization header is then not looked at */
	if (a->certs && TB_PLUGIN_CONN_HAS(conn, client_cert_sha256) && conn->client_cert_sha256) {
		const char *id = tb_certmap_lookup(a->certs, conn->client_cert_subject,
		                                   conn->client_cert_sha256);
		if (id) {
			snprintf(identity, identity_len, "%s", id);
			return TB_PLUGIN_ALLOW;
		}
	}
	if (conn->authorization && tb_tokens_bearer(conn->authorization, &tok, &len) == 0)
		e = tb_tokens_lookup(a->tokens, tok, len);
	if (e) {
		snprintf(identity, identity_len, "%s", e->identity);
		return TB_PLUGIN_ALLOW;
	}
	/* A bearer token that is presented must be known, even where apps
	 * without one are served: a wrong token is a mistake or a guess, not
	 * a request for anonymity. */
	if (a->anonymous && !tb_tokens_is_bearer(conn->authorization))
		return TB_PLUGIN_ABSTAIN;
	snprintf(reason, reason_len, "%s",
	         conn->authorization ? "unknown or malformed bearer token" : "no bearer token");
	return TB_PLUGIN_DENY;
}

static int auth_app_op(void *instance, const struct tb_plugin_conn *conn,
                       const struct tb_plugin_op *op, char *reason, size_t reason_len)
{
	struct auth *a = instance;
	const struct tb_tok_entry *e;
	enum tb_tok_op what;

	switch (op->kind) {
	case TB_PLUGIN_OP_REQUEST_TA:
		what = TB_TOK_REQUEST;
		break;
	case TB_PLUGIN_OP_UNREQUEST_TA:
		what = TB_TOK_UNREQUEST;
		break;
	case TB_PLUGIN_OP_POLICY_CHECK:
		return TB_PLUGIN_ABSTAIN; /* any app may ask */
	default:
		snprintf(reason, reason_len, "unknown operation");
		return TB_PLUGIN_DENY;
	}
	if (conn->identity) {
		e = tb_tokens_by_identity(a->tokens, conn->identity);
		if (!e)
			return TB_PLUGIN_ABSTAIN; /* another plugin's app */
	} else if (a->anonymous) {
		e = tb_tokens_anonymous(a->tokens);
	} else {
		/* not ours to let through: it should have been refused at the
		 * handshake */
		snprintf(reason, reason_len, "not authenticated");
		return TB_PLUGIN_DENY;
	}
	/* an allowed request is not this plugin's to wave through: others
	 * may still refuse it */
	if (tb_tokens_allows(e, what, op->component_id, op->n_segments))
		return TB_PLUGIN_ABSTAIN;
	snprintf(reason, reason_len, "%s%s may not %s this component",
	         conn->identity ? "app " : "apps without a token",
	         conn->identity ? conn->identity : "",
	         what == TB_TOK_REQUEST ? "request" : "unrequest");
	return TB_PLUGIN_DENY;
}

TB_PLUGIN_DECLARE(.name = "auth-token", .version = PACKAGE_VERSION,
                  .description =
                      "app identities from bearer tokens or client certificates; per-app "
                      "component lists",
                  .init = auth_init, .fini = auth_fini, .authenticate = auth_authenticate,
                  .app_op = auth_app_op, .reload_prepare = auth_reload_prepare,
                  .reload_commit = auth_reload_commit, .reload_abort = auth_reload_abort);
