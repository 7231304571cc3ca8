/*
 * The [admin] listener (docs/operations.md): plain HTTP on its own vhost of
 * the broker's lws context, for monitoring.
 *
 *   GET /metrics   the Prometheus text exposition (scrape.c)
 *   GET /healthz   200 "ok" when the loop answers and every TEE is up,
 *                  else 503 with the reasons, one a line
 *   GET /readyz    the same, and 503 "stopping" once the broker stops
 *   other paths    404; other methods 405
 *
 * Connections from addresses outside [admin] allow are closed as they are
 * accepted. lws bounds the request (its header buffer; a larger request is
 * refused by lws) and its time (timeout_secs, keepalive_timeout); a request
 * body is never read. An answer is built at once on the loop (bounded work,
 * see scrape.c) and written in pieces as the socket takes them.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ADMIN_METRICS_MAX (256 * 1024) /* bytes of one /metrics answer */
#define ADMIN_TEXT_MAX    2048         /* bytes of a /healthz or error answer */
#define ADMIN_CHUNK       8192         /* bytes written per writeable callback */
#define ADMIN_TIMEOUT_S   5            /* to send a request; idle keep-alive */

struct tb_admin {
	struct tb_broker *b;
	struct lws_vhost *vhost;
	struct tb_cidr allow[TB_BAN_MAX_ALLOW];
	size_t n_allow;
	int port;
	uint32_t open; /* connections open now, at most [admin] max_connections */
};

/* One connection's answer in writing (lws per-session data, zeroed). */
struct admin_conn {
	char *body;
	size_t len, off;
	int close_after; /* a request with a body we do not read: hang up */
};

static int allowed(const struct tb_admin *a, const struct tb_peer *p)
{
	for (size_t i = 0; i < a->n_allow; i++) {
		const struct tb_cidr *c = &a->allow[i];
		unsigned bytes = c->family == AF_INET ? 4 : 16;
		unsigned full = c->prefix / 8, rest = c->prefix % 8;

		if (p->len != bytes || memcmp(p->addr, c->addr, full) != 0)
			continue;
		if (rest && ((p->addr[full] ^ c->addr[full]) & (0xff00u >> rest) & 0xff))
			continue;
		return 1;
	}
	return 0;
}

static void conn_reset(struct admin_conn *c)
{
	free(c->body);
	c->body = NULL;
	c->len = c->off = 0;
}

/* Healthy (and, with ready, ready)? 1 yes; else why holds the reasons. */
static int health(struct tb_broker *b, int ready, char *why, size_t cap)
{
	size_t o = 0;

	why[0] = 0;
	if (ready && b->stopping)
		o += (size_t)snprintf(why + o, cap - o, "stopping\n");
	for (size_t i = 0; i < b->n_tees && o < cap; i++) {
		if (!tb_tee_is_up(&b->tees[i])) {
			char r[TB_CALL_REASON_MAX + 16];

			tb_tee_down_reason(&b->tees[i], r, sizeof(r)); /* "TEE down: why" */
			o += (size_t)snprintf(why + o, cap - o, "tee %s: %s\n",
			                      b->tees[i].conf->name, r + strlen("TEE "));
		}
	}
	return why[0] == 0;
}

/* The answer to one request: status and body in c, NULL ctype on failure. */
static unsigned build(struct tb_broker *b, struct admin_conn *c, int method, const char *path,
                      const char **ctype)
{
	unsigned status = HTTP_STATUS_OK;

	*ctype = "text/plain; charset=utf-8";
	c->body = malloc(ADMIN_TEXT_MAX);
	if (!c->body)
		return 0;
	if (method != LWSHUMETH_GET) {
		c->close_after = 1;
		status = HTTP_STATUS_METHOD_NOT_ALLOWED;
		snprintf(c->body, ADMIN_TEXT_MAX, "only GET\n");
	} else if (!strcmp(path, "/metrics")) {
		char *m = malloc(ADMIN_METRICS_MAX);
		size_t len = 0;
		int rc = m ? tb_metrics_scrape(b, m, ADMIN_METRICS_MAX, &len) : TB_ERR_NOMEM;
		if (rc == TB_OK) {
			/* keep only what the answer needs while it is written */
			char *fit = realloc(m, len ? len : 1);
			free(c->body);
			c->body = fit ? fit : m;
			c->len = len;
			*ctype = TB_EXPO_CONTENT_TYPE;
			return status;
		}
		free(m);
		tb_log(TB_LOG_ERR, "admin: cannot build the metrics (%d)", rc);
		status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
		snprintf(c->body, ADMIN_TEXT_MAX, "cannot build the metrics\n");
	} else if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz")) {
		if (health(b, path[1] == 'r', c->body, ADMIN_TEXT_MAX))
			snprintf(c->body, ADMIN_TEXT_MAX, "%s\n", path[1] == 'r' ? "ready" : "ok");
		else
			status = HTTP_STATUS_SERVICE_UNAVAILABLE;
	} else {
		status = HTTP_STATUS_NOT_FOUND;
		snprintf(c->body, ADMIN_TEXT_MAX, "not found: /metrics, /healthz, /readyz\n");
	}
	c->len = strlen(c->body);
	return status;
}

static int on_request(struct tb_broker *b, struct lws *wsi, struct admin_conn *c)
{
	unsigned char head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start;
	unsigned char *end = head + sizeof(head) - 1;
	char path[128], *uri = NULL;
	const char *ctype;
	int uri_len = 0;

	conn_reset(c);
	c->close_after = 0;
	int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (method < 0 || !uri)
		return -1;
	/* the path without the query: longer ones match nothing */
	size_t n = strcspn(uri, "?");
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, uri, n);
	path[n] = 0;
	unsigned status = build(b, c, method, path, &ctype);
	if (!status)
		return -1;
	if (lws_add_http_common_headers(wsi, status, ctype, c->len, &p, end) ||
	    (status == HTTP_STATUS_METHOD_NOT_ALLOWED &&
	     lws_add_http_header_by_name(
	         wsi, (const unsigned char *)"allow:", (const unsigned char *)"GET", 3, &p, end)) ||
	    (status != HTTP_STATUS_OK &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                  (const unsigned char *)"no-store", 8, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_writeable(struct lws *wsi, struct admin_conn *c)
{
	unsigned char piece[LWS_PRE + ADMIN_CHUNK];

	if (!c->body)
		return 0;
	size_t n = c->len - c->off;
	if (n > ADMIN_CHUNK)
		n = ADMIN_CHUNK;
	int last = c->off + n == c->len;
	if (n) {
		memcpy(piece + LWS_PRE, c->body + c->off, n);
		if (lws_write(wsi, piece + LWS_PRE, n,
		              last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
			return -1;
		c->off += n;
	}
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	conn_reset(c);
	if (c->close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int admin_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct tb_broker *b = ctx ? lws_context_user(ctx) : NULL;
	struct admin_conn *c = user;

	(void)len;
	if (!b || !b->admin)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		/* `in` is the accepted socket */
		struct tb_peer p;
		char text[48];
		if (tb_peer_from_fd((int)(lws_intptr_t)in, &p) == TB_OK && allowed(b->admin, &p))
			return 0;
		tb_log(TB_LOG_INFO, "admin: connection from %s refused (not in [admin] allow)",
		       tb_peer_str(&p, text, sizeof(text)));
		return 1;
	}
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		/* an accepted connection, before it sends anything: counted,
		 * and marked so its WSI_DESTROY (the listener gets one too)
		 * gives the count back */
		if (b->admin->open >= b->conf.admin.max_connections) {
			tb_log(TB_LOG_INFO,
			       "admin: connection refused: %u open ([admin] max_connections)",
			       b->admin->open);
			return -1;
		}
		b->admin->open++;
		lws_set_opaque_user_data(wsi, b->admin);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (lws_get_opaque_user_data(wsi) == b->admin) {
			lws_set_opaque_user_data(wsi, NULL);
			b->admin->open--;
		}
		break;
	case LWS_CALLBACK_HTTP:
		return c ? on_request(b, wsi, c) : -1;
	case LWS_CALLBACK_HTTP_BODY:
		/* the body of a request answered 405: ignored; the connection
		 * closes once the answer is out */
		break;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return c ? on_writeable(wsi, c) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c)
			conn_reset(c);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols admin_protocol = {
    .name = "tb-admin",
    .callback = admin_cb,
    .per_session_data_size = sizeof(struct admin_conn),
    .rx_buffer_size = 1024,
};
static const struct lws_protocols *admin_protocols[] = {&admin_protocol, NULL};

static int write_port_file(const char *path, int port)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d\n", port);
	return tb_write_file(path, (const uint8_t *)text, (size_t)n);
}

int tb_admin_setup(struct tb_broker *b)
{
	const struct tb_conf_admin *conf = &b->conf.admin;
	struct lws_context_creation_info info;
	struct tb_admin *a;

	b->obs.started_ms = tb_now_ms();
	if (!conf->enabled)
		return TB_OK;
	a = calloc(1, sizeof(*a));
	if (!a)
		return TB_ERR_NOMEM;
	a->b = b;
	if (tb_conf_parse_cidrs(conf->allow, a->allow, TB_BAN_MAX_ALLOW, &a->n_allow) != TB_OK) {
		/* the configuration was checked: not expected */
		tb_log(TB_LOG_ERR, "[admin] allow: cannot be read");
		free(a);
		return TB_ERR_INVAL;
	}
	b->admin = a;

	memset(&info, 0, sizeof(info));
	info.vhost_name = "admin";
	info.iface = strcmp(conf->address, "*") ? conf->address : NULL;
	info.port = conf->port;
	info.pprotocols = admin_protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (info.iface && strchr(info.iface, ':'))
		info.options = 0;
	info.timeout_secs = ADMIN_TIMEOUT_S;
	info.keepalive_timeout = ADMIN_TIMEOUT_S;
	a->vhost = lws_create_vhost(b->ctx, &info);
	if (!a->vhost) {
		tb_log(TB_LOG_ERR,
		       "[admin] cannot listen on %s port %d (see the libwebsockets "
		       "lines above)",
		       conf->address, conf->port);
		return TB_ERR_IO;
	}
	a->port = lws_get_vhost_listen_port(a->vhost);
	if (conf->port_file && write_port_file(conf->port_file, a->port)) {
		tb_log(TB_LOG_ERR, "[admin] cannot write port_file %s: %s", conf->port_file,
		       strerror(errno));
		return TB_ERR_IO;
	}
	tb_log(TB_LOG_NOTICE, "admin: /metrics, /healthz and /readyz on %s port %d", conf->address,
	       a->port);
	return TB_OK;
}

void tb_admin_free(struct tb_broker *b)
{
	free(b->admin);
	b->admin = NULL;
}

int tb_admin_reload_allow(struct tb_broker *b)
{
	struct tb_cidr allow[TB_BAN_MAX_ALLOW];
	size_t n = 0;

	if (!b->admin)
		return TB_OK;
	if (tb_conf_parse_cidrs(b->conf.admin.allow, allow, TB_BAN_MAX_ALLOW, &n) != TB_OK)
		return TB_ERR_INVAL;
	memcpy(b->admin->allow, allow, sizeof(allow));
	b->admin->n_allow = n;
	return TB_OK;
}
