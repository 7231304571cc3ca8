/*
 * teep-tam: the bundled reference TAM, a TEEP-over-HTTP server
 * (draft-ietf-teep-otrp-over-http-15 section 6) for development and tests.
 *
 * It is what the broker's integration tests and the demo talk to. It is NOT
 * a production TAM: it serves a fixed catalog to a fixed set of Agent keys,
 * keeps everything in memory, speaks plain HTTP (or HTTPS with a test
 * certificate) and listens on loopback by default. The TEEP logic lives in
 * tam_core.c; this file is the HTTP server (libwebsockets, one vhost, one
 * listener), the command line and the fault modes the broker's failure
 * tests use.
 */
#include "config.h"

#include "tam_broker.h"
#include "tam_core.h"

#include "tb_cose.h"
#include "tb_log.h"
#include "tb_util.h"
#include "ua_client.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define TEEP_MEDIA_TYPE  "application/teep+cbor"
#define TAM_MAX_AGENTS   16
#define TAM_DEFAULT_PORT 8480
#define TAM_HDR_MAX      4096 /* largest request header we look at */
#define GARBAGE_LEN      32
#define LOG_VALUE_MAX    96 /* --log-headers: longest value shown */

enum tam_fault {
	FAULT_NONE = 0,
	FAULT_HTTP500,
	FAULT_GARBAGE,
	FAULT_HANG,
	FAULT_WRONG_TYPE,
	FAULT_REDIRECT,
	FAULT_TINY_ITEMS,
	FAULT_PING_PONG,
	FAULT_TRUNCATED,
	FAULT_BAD_STATUS,
	FAULT_NUL_HEADER,
	FAULT_CLOSE_DELIMITED,
	FAULT_NO_CLOSE_NOTIFY,
	FAULT_SILENT_CLOSE
};

static const char *const fault_names[] = {
    "none",       "http500",         "garbage",         "hang",         "wrong-type",
    "redirect",   "tiny-items",      "ping-pong",       "truncated",    "bad-status",
    "nul-header", "close-delimited", "no-close-notify", "silent-close",
};

struct tam_opts {
	const char *key_file;
	const char *agent_key_files[TAM_MAX_AGENTS];
	size_t n_agent_keys;
	const char *catalog;
	const char *listen;
	int port;
	const char *port_file;
	const char *path;
	enum tb_numbering numbering;
	enum tam_first_message first_message;
	uint64_t max_body;
	uint64_t max_manifest;
	uint64_t max_tokens;
	uint64_t token_lifetime_ms;
	enum tam_fault fault;
	uint64_t fault_size;      /* tiny-items: bytes of the answer */
	const char *content_type; /* the label of TEEP answers */
	int no_token;
	uint64_t connect_delay_ms; /* answer each empty POST this late */
	unsigned keepalive_max;    /* answers per connection; the last says close */
	const char *tls_cert;      /* both set: HTTPS */
	const char *tls_key;
	int log_headers;
	int verbose;
	/* --via-broker: an app of a TEEP Broker instead of an HTTP server */
	const char *via_broker;
	const char *token;
	const char *tee;
	unsigned timeout_s;
	const char *push[TB_TEEP_MAX_LIST];
	size_t n_push;
	/* remote attestation */
	int attest;
	const char *attest_key_files[TAM_MAX_ATTEST_KEYS];
	size_t n_attest_keys;
	uint8_t expect[TAM_MAX_EXPECT][32];
	size_t n_expect;
	const char *allowed_tee[TAM_MAX_ALLOWED_TEE];
	size_t n_allowed_tee;
	const char *ear_dir; /* each device's latest EAR, for the Network User */
	int require_tsm;     /* Evidence must carry a configfs-tsm report */
};

/* Everything the server owns; the lws context user pointer. */
struct tam_server {
	struct tam_opts opts;
	struct tb_key *key;
	struct tb_key *agent_keys[TAM_MAX_AGENTS];
	struct tam_core *core;
	struct tb_component_id push[TB_TEEP_MAX_LIST];
	struct tb_key *attest_keys[TAM_MAX_ATTEST_KEYS];
	struct tam_attest_policy attest;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	lws_sorted_usec_list_t tick; /* wakes the loop to look at signals */
};

/* Where one HTTP transaction stands. A connection may carry several
 * transactions (keep-alive); each starts again at PH_IDLE. */
enum tam_phase {
	PH_IDLE = 0,
	PH_BODY,    /* reading a request body */
	PH_RESPOND, /* a response is queued for the next WRITEABLE */
	PH_HANG,    /* fault "hang": the request was read, no answer ever */
	PH_DELAY,   /* --connect-delay: the answer comes when the timer fires */
};

/* The response being written: headers first, then the body, one lws_write
 * per WRITEABLE callback. */
struct tam_response {
	unsigned int status;
	const char *ctype; /* NULL: no content */
	uint8_t *buf;      /* LWS_PRE headroom, then len bytes */
	size_t len;
	char *location; /* redirect target */
	int allow_post; /* 405: "Allow: POST" */
	int close;      /* close the connection once written */
	int headers_done;
	/* fault modes that write the wire bytes themselves: buf holds the
	 * whole answer, head included; the connection closes after it, with
	 * no TLS close_notify when bare_close is set */
	int raw;
	int bare_close;
};

/* per_session_data: lws zeroes it; our heap pointers are released by
 * pss_release(), which is idempotent so that the several lws callbacks
 * ending a transaction or a connection can all call it safely. */
struct tam_pss {
	enum tam_phase phase;
	uint8_t *body;
	size_t len;
	size_t cap;      /* bytes allocated */
	size_t expected; /* Content-Length */
	struct tam_response rsp;
	struct lws *wsi;              /* PH_DELAY: the connection to answer */
	lws_sorted_usec_list_t delay; /* PH_DELAY */
};

/* Answers written on a connection so far: lws drops the pss between the
 * transactions of a kept connection, so the count lives in the
 * connection's opaque user data. */
static unsigned conn_answers(struct lws *wsi)
{
	return (unsigned)(uintptr_t)lws_get_opaque_user_data(wsi);
}

static void pss_release(struct tam_pss *pss)
{
	lws_sul_cancel(&pss->delay);
	free(pss->body);
	free(pss->rsp.buf);
	free(pss->rsp.location);
	memset(pss, 0, sizeof(*pss));
}

/* ------------------------------------------------------------------ */
/* Request header checks                                               */
/* ------------------------------------------------------------------ */

/* Copy a request header; 0 if absent, -1 if longer than we accept. */
static int hdr_get(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t len)
{
	int n = lws_hdr_total_length(wsi, h);

	buf[0] = '\0';
	if (n <= 0)
		return 0;
	if ((size_t)n >= len)
		return -1;
	return lws_hdr_copy(wsi, buf, (int)len, h) < 0 ? -1 : n;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Length of a media type token at s, before parameters and whitespace. */
static size_t media_type_len(const char *s)
{
	size_t n = 0;

	while (s[n] && s[n] != ';' && s[n] != ',' && s[n] != ' ' && s[n] != '\t')
		n++;
	return n;
}

static int is_teep_type(const char *v)
{
	const char *s = skip_ws(v);
	size_t n = media_type_len(s);

	return n == strlen(TEEP_MEDIA_TYPE) && !strncasecmp(s, TEEP_MEDIA_TYPE, n);
}

/* Does a media range's parameter list say q=0 (i.e. "not acceptable")? */
static int range_refused(const char *params, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if ((params[i] == 'q' || params[i] == 'Q') &&
		    (i == 0 || params[i - 1] == ';' || params[i - 1] == ' ')) {
			const char *v = skip_ws(params + i + 1);

			if (*v != '=')
				continue;
			v = skip_ws(v + 1);
			/* q=0, q=0.0, q=0.00, q=0.000 */
			if (*v != '0')
				return 0;
			for (v++; *v == '.' || *v == '0'; v++)
				;
			return *v == '\0' || *v == ',' || *v == ';' || *v == ' ';
		}
	}
	return 0;
}

/* RFC 9110 Accept: does any media range admit application/teep+cbor? */
static int accept_allows_teep(const char *v)
{
	const char *s = v;

	while (*s) {
		const char *end = strchr(s, ',');
		size_t rlen = end ? (size_t)(end - s) : strlen(s);
		const char *r = skip_ws(s);
		size_t n = media_type_len(r);
		int match = (n == strlen(TEEP_MEDIA_TYPE) && !strncasecmp(r, TEEP_MEDIA_TYPE, n)) ||
		            (n == 13 && !strncasecmp(r, "application/*", n)) ||
		            (n == 3 && !strncmp(r, "*/*", n));

		if (match && !range_refused(r + n, rlen - (size_t)(r + n - s)))
			return 1;
		if (!end)
			break;
		s = end + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/* Queue a response: it is written from LWS_CALLBACK_HTTP_WRITEABLE. body is
 * copied (after LWS_PRE bytes of headroom lws needs in front of it). */
static int respond(struct lws *wsi, struct tam_pss *pss, unsigned int status, const char *ctype,
                   const uint8_t *body, size_t len)
{
	struct tam_response *r = &pss->rsp;

	struct tam_server *srv = lws_context_user(lws_get_context(wsi));

	r->status = status;
	r->ctype = ctype;
	/* keep-alive is bounded: the last answer a connection may carry
	 * says so, and the connection closes after it */
	if (srv->opts.keepalive_max && conn_answers(wsi) + 1 >= srv->opts.keepalive_max)
		r->close = 1;
	if (len) {
		r->buf = malloc(LWS_PRE + len);
		if (!r->buf)
			return -1;
		memcpy(r->buf + LWS_PRE, body, len);
		r->len = len;
	}
	pss->phase = PH_RESPOND;
	/* nothing of a request we answer early is kept */
	free(pss->body);
	pss->body = NULL;
	pss->len = pss->cap = 0;
	lws_callback_on_writable(wsi);
	return 0;
}

/* An error status without content. If the request still has a body on the
 * wire, the connection is closed after the answer rather than reading on:
 * lws shuts the socket down gracefully, so the client still gets it. */
static int respond_error(struct lws *wsi, struct tam_pss *pss, unsigned int status,
                         int body_pending)
{
	tb_log(TB_LOG_INFO, "tam: http: answer %u", status);
	if (respond(wsi, pss, status, NULL, NULL, 0))
		return -1;
	pss->rsp.close |= body_pending;
	return 0;
}

static int add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	                                   (const unsigned char *)value, (int)strlen(value), p,
	                                   end);
}

static int write_headers(struct lws *wsi, struct tam_response *r)
{
	unsigned char hbuf[LWS_PRE + 1024];
	unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof(hbuf) - 1;

	if (lws_add_http_header_status(wsi, r->status | LWSAHH_FLAG_NO_SERVER_NAME, &p, end))
		return -1;
	/* draft -15 section 4: every response with content carries these */
	if (r->ctype && (add_hdr(wsi, "content-type:", r->ctype, &p, end) ||
	                 add_hdr(wsi, "x-content-type-options:", "nosniff", &p, end) ||
	                 add_hdr(wsi, "content-security-policy:", "default-src 'none'", &p, end) ||
	                 add_hdr(wsi, "referrer-policy:", "no-referrer", &p, end)))
		return -1;
	if (r->allow_post && add_hdr(wsi, "allow:", "POST", &p, end))
		return -1;
	if (r->location && add_hdr(wsi, "location:", r->location, &p, end))
		return -1;
	if (r->close && add_hdr(wsi, "connection:", "close", &p, end))
		return -1;
	/* RFC 9110 section 8.6: no Content-Length on a 204 */
	if (r->status != HTTP_STATUS_NO_CONTENT &&
	    lws_add_http_header_content_length(wsi, r->len, &p, end))
		return -1;
	return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* The transaction is over: get ready for the next one on this connection,
 * or close it (return -1). */
static int transaction_done(struct lws *wsi, struct tam_pss *pss)
{
	struct tam_server *srv = lws_context_user(lws_get_context(wsi));
	int close = pss->rsp.close;

	pss_release(pss);
	lws_set_opaque_user_data(wsi, (void *)(uintptr_t)(conn_answers(wsi) + 1));
	if (close)
		return -1;
	if (srv->opts.fault == FAULT_SILENT_CLOSE) {
		tb_log(TB_LOG_NOTICE, "tam: fault silent-close: closing after the answer");
		return -1;
	}
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A raw answer (fault modes): the bytes in one write, then, once lws has
 * flushed them (the next WRITEABLE), the end of the connection. A bare close
 * shuts the socket's sending side first, so that the TLS close_notify lws
 * writes when it closes never leaves: the peer sees a TCP FIN only. */
static int on_writeable_raw(struct lws *wsi, struct tam_response *r)
{
	if (!r->headers_done) {
		r->headers_done = 1;
		if (lws_write(wsi, r->buf + LWS_PRE, r->len, LWS_WRITE_HTTP_HEADERS) < (int)r->len)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (r->bare_close)
		shutdown(lws_get_socket_fd(wsi), SHUT_WR);
	return -1;
}

static int on_writeable(struct lws *wsi, struct tam_pss *pss)
{
	struct tam_response *r = &pss->rsp;

	/* lws may call us when we have nothing to say */
	if (pss->phase != PH_RESPOND)
		return 0;
	if (r->raw)
		return on_writeable_raw(wsi, r);
	if (!r->headers_done) {
		if (write_headers(wsi, r))
			return -1;
		r->headers_done = 1;
		if (r->len) {
			/* one write per WRITEABLE: the body comes next time */
			lws_callback_on_writable(wsi);
			return 0;
		}
		return transaction_done(wsi, pss);
	}
	/* lws keeps and flushes whatever the socket does not take at once */
	if (lws_write(wsi, r->buf + LWS_PRE, r->len, LWS_WRITE_HTTP_FINAL) < (int)r->len)
		return -1;
	return transaction_done(wsi, pss);
}

/* ------------------------------------------------------------------ */
/* TEEP processing and fault modes                                     */
/* ------------------------------------------------------------------ */

/* A raw answer: head (text) then body, written as they are. */
static int respond_raw(struct lws *wsi, struct tam_pss *pss, const char *head, const uint8_t *body,
                       size_t body_len, int bare_close)
{
	size_t hl = strlen(head);
	uint8_t *buf = malloc(LWS_PRE + hl + body_len);
	int rc;

	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, head, hl);
	if (body_len)
		memcpy(buf + LWS_PRE + hl, body, body_len);
	rc = respond(wsi, pss, 200, NULL, buf + LWS_PRE, hl + body_len);
	free(buf);
	if (rc)
		return -1;
	pss->rsp.raw = 1;
	pss->rsp.bare_close = bare_close;
	/* a connection that ends the answer carries nothing else */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	return 0;
}

/* A TEEP answer sent whole but delimited by the end of the connection: no
 * Content-Length (faults close-delimited and no-close-notify). */
static int respond_close_delimited(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss,
                                   const uint8_t *out, size_t out_len)
{
	int bare = srv->opts.fault == FAULT_NO_CLOSE_NOTIFY;
	char head[256];

	tb_log(TB_LOG_NOTICE, "tam: fault %s: -> 200 without Content-Length, then %s",
	       fault_names[srv->opts.fault],
	       bare ? "a TCP close without TLS close_notify" : "close");
	snprintf(head, sizeof(head),
	         "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nConnection: close\r\n\r\n",
	         srv->opts.content_type);
	return respond_raw(wsi, pss, head, out, out_len, bare);
}

static int respond_fault(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss)
{
	static const char html[] = "<html><body>not a TEEP message</body></html>\n";
	static const char nul_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/teep+cbor\r\n"
	                               "X-Padding: a\0b\r\nContent-Length: 0\r\n\r\n";
	uint8_t garbage[GARBAGE_LEN];
	char host[256], loc[600];

	switch (srv->opts.fault) {
	case FAULT_HTTP500:
		tb_log(TB_LOG_NOTICE, "tam: fault http500: -> 500");
		return respond(wsi, pss, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL, 0);
	case FAULT_GARBAGE:
		if (getrandom(garbage, sizeof(garbage), 0) != (ssize_t)sizeof(garbage))
			memset(garbage, 0xa5, sizeof(garbage));
		/* 0xff (a "break" outside any indefinite item) is not
		 * well-formed CBOR, so the bytes can never decode by chance */
		garbage[0] = 0xff;
		tb_log(TB_LOG_NOTICE, "tam: fault garbage: -> 200 with %d random bytes",
		       GARBAGE_LEN);
		return respond(wsi, pss, HTTP_STATUS_OK, TEEP_MEDIA_TYPE, garbage, sizeof(garbage));
	case FAULT_HANG:
		tb_log(TB_LOG_NOTICE, "tam: fault hang: request read, never answered");
		/* lws would otherwise close the connection when its wait for
		 * our answer times out; a hang must last */
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		pss->phase = PH_HANG;
		free(pss->body);
		pss->body = NULL;
		pss->len = pss->cap = 0;
		return 0;
	case FAULT_WRONG_TYPE:
		tb_log(TB_LOG_NOTICE, "tam: fault wrong-type: -> 200 text/html");
		return respond(wsi, pss, HTTP_STATUS_OK, "text/html", (const uint8_t *)html,
		               sizeof(html) - 1);
	case FAULT_REDIRECT:
		if (hdr_get(wsi, WSI_TOKEN_HOST, host, sizeof(host)) > 0 &&
		    !strpbrk(host, "\r\n/ "))
			snprintf(loc, sizeof(loc), "%s://%s%s",
			         srv->opts.tls_cert ? "https" : "http", host, srv->opts.path);
		else
			snprintf(loc, sizeof(loc), "%s", srv->opts.path);
		tb_log(TB_LOG_NOTICE, "tam: fault redirect: -> 302 %s", loc);
		if (respond(wsi, pss, HTTP_STATUS_FOUND, NULL, NULL, 0))
			return -1;
		pss->rsp.location = strdup(loc);
		return pss->rsp.location ? 0 : -1;
	case FAULT_TINY_ITEMS: {
		/* a CBOR array of fault_size - 9 items of one byte each
		 * (unsigned 0): well-formed, as big as allowed, and as
		 * costly as possible to build as a tree */
		size_t n = (size_t)srv->opts.fault_size, items = n - 9;
		uint8_t *body = malloc(n);
		int rc;

		if (!body)
			return -1;
		body[0] = 0x9b;
		for (int i = 0; i < 8; i++)
			body[1 + i] = (uint8_t)((uint64_t)items >> (56 - 8 * i));
		memset(body + 9, 0, items);
		tb_log(TB_LOG_NOTICE, "tam: fault tiny-items: -> 200 with %zu items", items);
		rc = respond(wsi, pss, HTTP_STATUS_OK, TEEP_MEDIA_TYPE, body, n);
		free(body);
		return rc;
	}
	case FAULT_PING_PONG: {
		/* every message answered with a new QueryRequest: an exchange
		 * that never ends by itself */
		uint8_t *out = NULL;
		size_t out_len = 0;
		int rc;

		if (tam_core_connect(srv->core, &out, &out_len) != TB_OK)
			return respond(wsi, pss, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL, 0);
		tb_log(TB_LOG_NOTICE, "tam: fault ping-pong: -> 200 with a new QueryRequest");
		rc = respond(wsi, pss, HTTP_STATUS_OK, srv->opts.content_type, out, out_len);
		free(out);
		return rc;
	}
	case FAULT_TRUNCATED:
		tb_log(TB_LOG_NOTICE,
		       "tam: fault truncated: -> 200, Content-Length 100, %d bytes, "
		       "close",
		       GARBAGE_LEN);
		memset(garbage, 0xa5, sizeof(garbage));
		return respond_raw(wsi, pss,
		                   "HTTP/1.1 200 OK\r\nContent-Type: application/teep+cbor\r\n"
		                   "Content-Length: 100\r\nConnection: close\r\n\r\n",
		                   garbage, sizeof(garbage), 0);
	case FAULT_BAD_STATUS:
		tb_log(TB_LOG_NOTICE, "tam: fault bad-status: -> a status line that is not HTTP");
		return respond_raw(wsi, pss, "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", NULL,
		                   0, 0);
	case FAULT_NUL_HEADER:
		tb_log(TB_LOG_NOTICE, "tam: fault nul-header: -> 200 with a NUL in a header");
		/* (the head holds a NUL: it goes as bytes) */
		return respond_raw(wsi, pss, "", (const uint8_t *)nul_head, sizeof(nul_head) - 1,
		                   0);
	default:
		return -1;
	}
}

/* ProcessConnect (empty body) or ProcessTeepMessage, then the answer. */
static int answer(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc, ret;

	if (!pss->len)
		rc = tam_core_connect(srv->core, &out, &out_len);
	else
		rc = tam_core_message(srv->core, pss->body, pss->len, &out, &out_len);
	if (rc != TB_OK) {
		/* the TAM could not produce a result: 5xx, per section 6 */
		tb_log(TB_LOG_ERR, "tam: internal failure (%d): -> 500", rc);
		return respond(wsi, pss, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL, 0);
	}
	if (!out)
		return respond(wsi, pss, HTTP_STATUS_NO_CONTENT, NULL, NULL, 0);
	if (srv->opts.fault == FAULT_CLOSE_DELIMITED || srv->opts.fault == FAULT_NO_CLOSE_NOTIFY)
		ret = respond_close_delimited(wsi, srv, pss, out, out_len);
	else
		ret = respond(wsi, pss, HTTP_STATUS_OK, srv->opts.content_type, out, out_len);
	free(out);
	return ret;
}

static void delay_over(lws_sorted_usec_list_t *sul)
{
	struct tam_pss *pss = lws_container_of(sul, struct tam_pss, delay);
	struct lws *wsi = pss->wsi;

	pss->phase = PH_IDLE;
	if (answer(wsi, lws_context_user(lws_get_context(wsi)), pss))
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int process(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss)
{
	/* (close-delimited answers carry the TEEP logic's messages) */
	if (srv->opts.fault != FAULT_NONE && srv->opts.fault != FAULT_CLOSE_DELIMITED &&
	    srv->opts.fault != FAULT_NO_CLOSE_NOTIFY && srv->opts.fault != FAULT_SILENT_CLOSE)
		return respond_fault(wsi, srv, pss);
	if (!pss->len && srv->opts.connect_delay_ms) {
		/* a slow TAM: the session opens late (the connection stays
		 * open meanwhile, as for "hang") */
		tb_log(TB_LOG_NOTICE, "tam: connect: answering in %llu ms",
		       (unsigned long long)srv->opts.connect_delay_ms);
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		pss->phase = PH_DELAY;
		pss->wsi = wsi;
		lws_sul_schedule(srv->ctx, 0, &pss->delay, delay_over,
		                 (lws_usec_t)srv->opts.connect_delay_ms * LWS_US_PER_MS);
		return 0;
	}
	return answer(wsi, srv, pss);
}

/* ------------------------------------------------------------------ */
/* lws callbacks                                                       */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* --log-headers                                                       */
/* ------------------------------------------------------------------ */

static const char *request_method(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes token;
		const char *name;
	} methods[] = {
		{WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_GET_URI, "GET"},
		{WSI_TOKEN_HEAD_URI, "HEAD"},
		{WSI_TOKEN_CONNECT, "CONNECT"},
#if defined(LWS_WITH_HTTP_UNCOMMON_HEADERS) || defined(LWS_HTTP_HEADERS_ALL)
		{WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
		{WSI_TOKEN_PUT_URI, "PUT"},
		{WSI_TOKEN_PATCH_URI, "PATCH"},
		{WSI_TOKEN_DELETE_URI, "DELETE"},
#endif
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (lws_hdr_total_length(wsi, methods[i].token) > 0)
			return methods[i].name;
	return "?";
}

/* A value fit for one trace line: shortened, unprintable bytes shown as '?'
 * (the client chooses these bytes, the log reader trusts the line). */
static void printable(const char *in, size_t in_len, char *out, size_t out_size)
{
	size_t n = in_len < out_size - 1 ? in_len : out_size - 1;

	for (size_t i = 0; i < n; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[n] = '\0';
	if (n < in_len && n >= 3)
		memcpy(out + n - 3, "...", 3);
}

/* A request header as printable text; "(none)" when absent. */
static void header_text(struct lws *wsi, enum lws_token_indexes h, char *out, size_t out_size)
{
	char v[TAM_HDR_MAX];
	int n = hdr_get(wsi, h, v, sizeof(v));

	if (n > 0)
		printable(v, (size_t)n, out, out_size);
	else
		snprintf(out, out_size, "%s", n < 0 ? "(too long)" : "(none)");
}

/* One line per request with what draft -15 section 4 rules on for the
 * client: Accept and Content-Type, the length, and no Cookie nor
 * Cache-Control. It is what tests read to check the broker's requests.
 * (lws reports an empty header as absent: the values are what counts.) */
static void log_request_headers(struct lws *wsi, const char *uri, size_t uri_len)
{
	char path[LOG_VALUE_MAX], accept[LOG_VALUE_MAX], ctype[LOG_VALUE_MAX], clen[32];

	printable(uri, uri_len, path, sizeof(path));
	header_text(wsi, WSI_TOKEN_HTTP_ACCEPT, accept, sizeof(accept));
	header_text(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ctype, sizeof(ctype));
	header_text(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen));
	tb_log(TB_LOG_NOTICE,
	       "tam: request %s %s accept=%s content-type=%s content-length=%s cookie=%s "
	       "cache-control=%s",
	       request_method(wsi), path, accept, ctype, clen,
	       lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE) > 0 ? "present" : "absent",
	       lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL) > 0 ? "present" : "absent");
}

/* A new request: route, check the method and headers, and either answer at
 * once or get ready for the body. */
static int on_http(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss, const char *uri,
                   size_t uri_len)
{
	char hv[TAM_HDR_MAX];
	uint64_t content_length = 0;
	int has_cl, chunked, body_pending, n;

	pss_release(pss);
	if (srv->opts.log_headers)
		log_request_headers(wsi, uri, uri_len);
	has_cl = hdr_get(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, hv, sizeof(hv));
	if (has_cl < 0) {
		tb_log(TB_LOG_NOTICE, "tam: http: bad Content-Length");
		return respond_error(wsi, pss, HTTP_STATUS_BAD_REQUEST, 1);
	}
	if (has_cl > 0) {
		char *end;

		errno = 0;
		content_length = strtoull(hv, &end, 10);
		if (errno || end == hv || *skip_ws(end) || hv[0] == '-') {
			tb_log(TB_LOG_NOTICE, "tam: http: bad Content-Length");
			return respond_error(wsi, pss, HTTP_STATUS_BAD_REQUEST, 1);
		}
	}
	chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	body_pending = content_length > 0 || chunked;

	if (uri_len != strlen(srv->opts.path) || memcmp(uri, srv->opts.path, uri_len)) {
		tb_log(TB_LOG_INFO, "tam: http: unknown path");
		return respond_error(wsi, pss, HTTP_STATUS_NOT_FOUND, body_pending);
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0) {
		if (respond_error(wsi, pss, HTTP_STATUS_METHOD_NOT_ALLOWED, body_pending))
			return -1;
		pss->rsp.allow_post = 1;
		return 0;
	}
	n = hdr_get(wsi, WSI_TOKEN_HTTP_ACCEPT, hv, sizeof(hv));
	if (n < 0 || (n > 0 && !accept_allows_teep(hv))) {
		tb_log(TB_LOG_NOTICE, "tam: http: Accept does not allow %s", TEEP_MEDIA_TYPE);
		return respond_error(wsi, pss, HTTP_STATUS_NOT_ACCEPTABLE, body_pending);
	}
	if (chunked) {
		/* a body of unknown size: we want the size before reading */
		tb_log(TB_LOG_NOTICE, "tam: http: chunked request body refused");
		return respond_error(wsi, pss, HTTP_STATUS_LENGTH_REQUIRED, 1);
	}
	if (content_length > srv->opts.max_body) {
		tb_log(TB_LOG_NOTICE, "tam: http: body of %llu bytes over the %llu-byte limit",
		       (unsigned long long)content_length, (unsigned long long)srv->opts.max_body);
		return respond_error(wsi, pss, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, 1);
	}
	if (!content_length) {
		/* An empty POST opens a session. The body callbacks are not
		 * relied upon for it: lws may never call them without a body.
		 * Content-Type is not required here (section 5.1.1 sends only
		 * Accept). */
		return process(wsi, srv, pss);
	}
	n = hdr_get(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, hv, sizeof(hv));
	if (n <= 0 || !is_teep_type(hv)) {
		tb_log(TB_LOG_NOTICE, "tam: http: Content-Type is not %s", TEEP_MEDIA_TYPE);
		return respond_error(wsi, pss, HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, 1);
	}
	pss->expected = (size_t)content_length;
	pss->phase = PH_BODY;
	return 0;
}

/* Accumulate the body, growing the buffer as bytes really arrive (never to
 * a size the client merely announced) and never past the limit. */
static int on_body(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss, const void *in,
                   size_t len)
{
	if (pss->phase != PH_BODY)
		return 0; /* answered early or hanging: the rest is ignored */
	if (len > pss->expected - pss->len || pss->len + len > srv->opts.max_body) {
		tb_log(TB_LOG_NOTICE, "tam: http: body longer than announced or allowed");
		return respond_error(wsi, pss, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, 1);
	}
	if (pss->len + len > pss->cap) {
		size_t cap = pss->cap ? pss->cap : 4096;
		uint8_t *nb;

		while (cap < pss->len + len)
			cap *= 2;
		if (cap > pss->expected)
			cap = pss->expected;
		nb = realloc(pss->body, cap);
		if (!nb)
			return respond_error(wsi, pss, HTTP_STATUS_INTERNAL_SERVER_ERROR, 1);
		pss->body = nb;
		pss->cap = cap;
	}
	memcpy(pss->body + pss->len, in, len);
	pss->len += len;
	return 0;
}

static int on_body_complete(struct lws *wsi, struct tam_server *srv, struct tam_pss *pss)
{
	if (pss->phase != PH_BODY)
		return 0;
	if (pss->len != pss->expected) {
		tb_log(TB_LOG_NOTICE, "tam: http: body shorter than announced");
		return respond_error(wsi, pss, HTTP_STATUS_BAD_REQUEST, 0);
	}
	return process(wsi, srv, pss);
}

static int callback_tam(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	struct tam_server *srv = lws_context_user(lws_get_context(wsi));
	struct tam_pss *pss = user;

	/* every HTTP transaction has its per_session_data; without it there is
	 * nowhere to keep the request */
	if (!pss && (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_BODY ||
	             reason == LWS_CALLBACK_HTTP_BODY_COMPLETION))
		return -1;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, srv, pss, in ? in : "", in ? strlen(in) : 0);
	case LWS_CALLBACK_HTTP_BODY:
		return on_body(wsi, srv, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_body_complete(wsi, srv, pss);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss ? on_writeable(wsi, pss) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss)
			pss_release(pss);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols tam_protocols[] = {
    {"teep-tam-http", callback_tam, sizeof(struct tam_pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

/*
 * The one piece of file-scope state: a signal handler can reach nothing
 * else. The handler only sets the flag. It does not call
 * lws_cancel_service(): that may log through lws, and our log funnel takes
 * a lock the interrupted code could be holding. Without SA_RESTART the
 * signal interrupts poll(), so lws_service() returns and the loop sees the
 * flag; a signal landing just before poll() is caught by the next tick of a
 * short timer that keeps the loop from sleeping for long.
 */
static volatile sig_atomic_t stop_requested;

#define TICK_US (200 * LWS_US_PER_MS)

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tam_server *srv = lws_container_of(sul, struct tam_server, tick);

	lws_sul_schedule(srv->ctx, 0, &srv->tick, on_tick, TICK_US);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() returns early and the loop sees the flag */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: teep-tam --key TAM.pem --agent-key AGENT_PUB.pem [--agent-key ...]\n"
	        "                --catalog DIR [options]\n"
	        "\n"
	        "The bundled reference TAM: a TEEP-over-HTTP server (draft-ietf-teep-otrp-\n"
	        "over-http-15) for development and tests. NOT a production TAM: it serves a\n"
	        "fixed catalog of SUIT envelopes to a fixed set of Agent keys, keeps its state\n"
	        "in memory and speaks plain HTTP, or HTTPS with --tls-cert and --tls-key.\n"
	        "\n"
	        "  --key FILE            TAM signing key (PEM, P-256 private key)\n"
	        "  --agent-key FILE      trusted TEEP Agent public key (PEM); up to %d\n"
	        "  --catalog DIR         directory of *.suit SUIT envelopes\n"
	        "  --listen ADDR         address to listen on (default 127.0.0.1)\n"
	        "  --port N              TCP port (default %d; 0 = any free port)\n"
	        "  --port-file FILE      write the bound port here once listening\n"
	        "  --path PATH           the TAM URI path (default /tam)\n"
	        "  --numbering NUM       draft-26 (default) or pre-26\n"
	        "  --first-message FORM  cose-sign1 (default) or cose-sign: how the first\n"
	        "                        QueryRequest is signed (COSE_Sign: ESP256 signer only)\n"
	        "  --max-body BYTES      largest request body (default 1M)\n"
	        "  --max-manifest BYTES  largest catalog envelope (default 1M)\n"
	        "  --max-tokens N        outstanding tokens remembered (default %u)\n"
	        "  --token-lifetime T    token lifetime, e.g. 30s, 6h (default 6h)\n"
	        "  --fault MODE          none, http500, garbage, hang, wrong-type, redirect,\n"
	        "                        tiny-items (an array of one-byte items, --fault-size)\n"
	        "  --fault-size BYTES    tiny-items: size of the answer (default 1M)\n"
	        "                        ping-pong, truncated, bad-status, nul-header,\n"
	        "                        close-delimited, no-close-notify, silent-close\n"
	        "  --content-type TYPE   the media type of TEEP answers (default\n"
	        "                        application/teep+cbor; e.g. application/teep+cose)\n"
	        "  --no-token            QueryRequests and Updates without a token\n"
	        "  --connect-delay T     answer each empty POST (a new session) T late, e.g.\n"
	        "                        2s: a slow TAM, for tests (default 0)\n"
	        "  --keepalive-max N     answers one connection carries; the last says\n"
	        "                        Connection: close (default 100; 0: no bound)\n"
	        "  --tls-cert FILE       serve HTTPS with this certificate (PEM; with --tls-key)\n"
	        "  --tls-key FILE        the certificate's private key (PEM)\n"
	        "  --log-headers         log the method, path and HTTP headers of every request\n"
	        "\n"
	        "  --via-broker URL      no HTTP server: connect to a TEEP Broker's app API\n"
	        "                        (ws://HOST:PORT/) as an app acting as its own TAM,\n"
	        "                        run one tam-session and exit (0 completed)\n"
	        "  --token TOKEN         with --via-broker: the app's bearer token\n"
	        "  --tee NAME            with --via-broker: the TEE to ask for\n"
	        "  --push COMPONENT      install this catalog component even when the Agent\n"
	        "                        did not request it (repeatable; a/b/0x.. segments)\n"
	        "  --timeout SECONDS     with --via-broker: give up after this long (default 60)\n"
	        "  --attest              ask for attestation (a fresh challenge per\n"
	        "                        QueryRequest) and act as Verifier: no Update to an\n"
	        "                        Agent whose Attestation Result is not affirming\n"
	        "  --attestation-key FILE  trusted attestation public key (PEM; repeatable,\n"
	        "                        required with --attest)\n"
	        "  --expect-measurement HEX  an accepted SHA-256 measurement (repeatable)\n"
	        "  --allowed-tee KIND    an accepted TEE kind, the Evidence's hwmodel\n"
	        "                        (repeatable; default: any)\n"
	        "  --require-tsm         the Evidence must carry a hardware report\n"
	        "                        (configfs-tsm) bound to the challenge\n"
	        "  --ear-dir DIR         keep each device's latest signed Attestation Result\n"
	        "                        (EAR) in DIR/UEID.ear for a Relying Party\n"
	        "  -v, --verbose         debug output\n"
	        "  -h, --help            this text\n"
	        "\n"
	        "Trace lines go to stderr. SIGTERM or SIGINT stops the server (exit 0).\n",
	        TAM_MAX_AGENTS, TAM_DEFAULT_PORT, TAM_DEFAULT_MAX_TOKENS);
}

static int parse_fault(const char *s, enum tam_fault *out)
{
	for (size_t i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++) {
		if (!strcmp(s, fault_names[i])) {
			*out = (enum tam_fault)i;
			return 0;
		}
	}
	return -1;
}

static int parse_port(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

enum {
	OPT_KEY = 256,
	OPT_AGENT_KEY,
	OPT_CATALOG,
	OPT_LISTEN,
	OPT_PORT,
	OPT_PORT_FILE,
	OPT_PATH,
	OPT_NUMBERING,
	OPT_FIRST_MESSAGE,
	OPT_MAX_BODY,
	OPT_MAX_MANIFEST,
	OPT_MAX_TOKENS,
	OPT_TOKEN_LIFETIME,
	OPT_FAULT,
	OPT_FAULT_SIZE,
	OPT_CONTENT_TYPE,
	OPT_NO_TOKEN,
	OPT_CONNECT_DELAY,
	OPT_KEEPALIVE_MAX,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_LOG_HEADERS,
	OPT_VIA_BROKER,
	OPT_TOKEN,
	OPT_TEE,
	OPT_PUSH,
	OPT_TIMEOUT,
	OPT_ATTEST,
	OPT_ATTEST_KEY,
	OPT_EXPECT_MEASUREMENT,
	OPT_ALLOWED_TEE,
	OPT_EAR_DIR,
	OPT_REQUIRE_TSM,
};

static const struct option long_opts[] = {
    {"key", required_argument, NULL, OPT_KEY},
    {"agent-key", required_argument, NULL, OPT_AGENT_KEY},
    {"catalog", required_argument, NULL, OPT_CATALOG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"port", required_argument, NULL, OPT_PORT},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"path", required_argument, NULL, OPT_PATH},
    {"numbering", required_argument, NULL, OPT_NUMBERING},
    {"first-message", required_argument, NULL, OPT_FIRST_MESSAGE},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-manifest", required_argument, NULL, OPT_MAX_MANIFEST},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"fault-size", required_argument, NULL, OPT_FAULT_SIZE},
    {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
    {"no-token", no_argument, NULL, OPT_NO_TOKEN},
    {"connect-delay", required_argument, NULL, OPT_CONNECT_DELAY},
    {"keepalive-max", required_argument, NULL, OPT_KEEPALIVE_MAX},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"log-headers", no_argument, NULL, OPT_LOG_HEADERS},
    {"via-broker", required_argument, NULL, OPT_VIA_BROKER},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"tee", required_argument, NULL, OPT_TEE},
    {"push", required_argument, NULL, OPT_PUSH},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"attest", no_argument, NULL, OPT_ATTEST},
    {"attestation-key", required_argument, NULL, OPT_ATTEST_KEY},
    {"expect-measurement", required_argument, NULL, OPT_EXPECT_MEASUREMENT},
    {"allowed-tee", required_argument, NULL, OPT_ALLOWED_TEE},
    {"ear-dir", required_argument, NULL, OPT_EAR_DIR},
    {"require-tsm", no_argument, NULL, OPT_REQUIRE_TSM},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad_value(const char *opt, const char *v)
{
	fprintf(stderr, "teep-tam: invalid value for --%s: '%s'\n", opt, v);
	return -1;
}

/* Returns 0 to run, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, struct tam_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1";
	o->port = TAM_DEFAULT_PORT;
	o->path = "/tam";
	o->numbering = TB_NUM_DRAFT26;
	o->keepalive_max = 100;
	o->first_message = TAM_FIRST_COSE_SIGN1;
	o->max_body = TAM_DEFAULT_MAX_BODY;
	o->max_manifest = TAM_DEFAULT_MAX_MANIFEST;
	o->max_tokens = TAM_DEFAULT_MAX_TOKENS;
	o->fault_size = 1024 * 1024;
	o->token_lifetime_ms = TAM_DEFAULT_TOKEN_LIFETIME_MS;
	o->timeout_s = 60;
	o->content_type = TEEP_MEDIA_TYPE;

	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			o->key_file = optarg;
			break;
		case OPT_AGENT_KEY:
			if (o->n_agent_keys >= TAM_MAX_AGENTS) {
				fprintf(stderr, "teep-tam: at most %d --agent-key\n",
				        TAM_MAX_AGENTS);
				return -1;
			}
			o->agent_key_files[o->n_agent_keys++] = optarg;
			break;
		case OPT_CATALOG:
			o->catalog = optarg;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_PORT:
			if (parse_port(optarg, &o->port))
				return bad_value("port", optarg);
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case OPT_PATH:
			if (optarg[0] != '/' || strlen(optarg) > 200)
				return bad_value("path", optarg);
			o->path = optarg;
			break;
		case OPT_NUMBERING:
			if (tam_numbering_parse(optarg, &o->numbering) != TB_OK)
				return bad_value("numbering", optarg);
			break;
		case OPT_FIRST_MESSAGE:
			if (tam_first_message_parse(optarg, &o->first_message) != TB_OK)
				return bad_value("first-message", optarg);
			break;
		case OPT_MAX_BODY:
			if (tb_parse_size(optarg, &o->max_body) != TB_OK || !o->max_body ||
			    o->max_body > (uint64_t)INT32_MAX)
				return bad_value("max-body", optarg);
			break;
		case OPT_MAX_MANIFEST:
			if (tb_parse_size(optarg, &o->max_manifest) != TB_OK || !o->max_manifest ||
			    o->max_manifest > (uint64_t)INT32_MAX)
				return bad_value("max-manifest", optarg);
			break;
		case OPT_MAX_TOKENS:
			if (tb_parse_size(optarg, &o->max_tokens) != TB_OK || !o->max_tokens ||
			    o->max_tokens > TAM_MAX_TOKENS)
				return bad_value("max-tokens", optarg);
			break;
		case OPT_TOKEN_LIFETIME:
			if (tb_parse_duration_ms(optarg, &o->token_lifetime_ms) != TB_OK ||
			    !o->token_lifetime_ms)
				return bad_value("token-lifetime", optarg);
			break;
		case OPT_FAULT:
			if (parse_fault(optarg, &o->fault))
				return bad_value("fault", optarg);
			break;
		case OPT_FAULT_SIZE:
			if (tb_parse_size(optarg, &o->fault_size) != TB_OK || o->fault_size < 16 ||
			    o->fault_size > (uint64_t)INT32_MAX)
				return bad_value("fault-size", optarg);
			break;
		case OPT_CONTENT_TYPE:
			/* a token "type/subtype": it goes into a header line */
			if (!strchr(optarg, '/') || strpbrk(optarg, " \t\r\n;,") ||
			    strlen(optarg) > 64)
				return bad_value("content-type", optarg);
			o->content_type = optarg;
			break;
		case OPT_NO_TOKEN:
			o->no_token = 1;
			break;
		case OPT_CONNECT_DELAY:
			if (tb_parse_duration_ms(optarg, &o->connect_delay_ms) != TB_OK ||
			    o->connect_delay_ms > 3600 * 1000)
				return bad_value("connect-delay", optarg);
			break;
		case OPT_KEEPALIVE_MAX: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 1000000)
				return bad_value("keepalive-max", optarg);
			o->keepalive_max = (unsigned)v;
			break;
		}
		case OPT_TLS_CERT:
			o->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			o->tls_key = optarg;
			break;
		case OPT_LOG_HEADERS:
			o->log_headers = 1;
			break;
		case OPT_VIA_BROKER:
			o->via_broker = optarg;
			break;
		case OPT_TOKEN:
			if (!ua_token_ok(optarg))
				return bad_value("token", optarg);
			o->token = optarg;
			break;
		case OPT_TEE:
			o->tee = optarg;
			break;
		case OPT_PUSH:
			if (o->n_push >= TB_TEEP_MAX_LIST) {
				fprintf(stderr, "teep-tam: at most %d --push\n", TB_TEEP_MAX_LIST);
				return -1;
			}
			o->push[o->n_push++] = optarg;
			break;
		case OPT_ATTEST:
			o->attest = 1;
			break;
		case OPT_ATTEST_KEY:
			if (o->n_attest_keys >= TAM_MAX_ATTEST_KEYS) {
				fprintf(stderr, "teep-tam: at most %d --attestation-key\n",
				        TAM_MAX_ATTEST_KEYS);
				return -1;
			}
			o->attest_key_files[o->n_attest_keys++] = optarg;
			break;
		case OPT_EXPECT_MEASUREMENT: {
			uint8_t *d = NULL;
			size_t dl = 0;
			int ok = o->n_expect < TAM_MAX_EXPECT &&
			         tb_hex_decode(optarg, strlen(optarg), &d, &dl) == TB_OK &&
			         dl == 32;
			if (ok)
				memcpy(o->expect[o->n_expect++], d, 32);
			free(d);
			if (!ok)
				return bad_value("expect-measurement", optarg);
			break;
		}
		case OPT_EAR_DIR:
			o->ear_dir = optarg;
			break;
		case OPT_REQUIRE_TSM:
			o->require_tsm = 1;
			break;
		case OPT_ALLOWED_TEE:
			if (o->n_allowed_tee >= TAM_MAX_ALLOWED_TEE || !*optarg ||
			    strlen(optarg) > TB_EAT_HWMODEL_MAX)
				return bad_value("allowed-tee", optarg);
			o->allowed_tee[o->n_allowed_tee++] = optarg;
			break;
		case OPT_TIMEOUT: {
			uint64_t ms;
			if (tb_parse_duration_ms(optarg, &ms) != TB_OK || ms < 1000 ||
			    ms > 3600 * 1000)
				return bad_value("timeout", optarg);
			o->timeout_s = (unsigned)(ms / 1000);
			break;
		}
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "teep-tam: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->key_file || !o->n_agent_keys || !o->catalog) {
		fprintf(stderr, "teep-tam: --key, --agent-key and --catalog are required\n");
		usage(stderr);
		return -1;
	}
	if (o->attest != (o->n_attest_keys > 0) ||
	    (!o->attest && (o->n_expect || o->n_allowed_tee || o->ear_dir || o->require_tsm))) {
		fprintf(stderr, "teep-tam: --attest needs --attestation-key, and "
		                "--attestation-key, --expect-measurement, --allowed-tee, "
		                "--require-tsm and --ear-dir need --attest\n");
		usage(stderr);
		return -1;
	}
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "teep-tam: --tls-cert and --tls-key go together\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Setup and main loop                                                 */
/* ------------------------------------------------------------------ */

static int load_keys(struct tam_server *srv)
{
	char err[256];

	if (tb_key_load_file(srv->opts.key_file, &srv->key, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERR, "tam: %s: %s", srv->opts.key_file, err);
		return -1;
	}
	if (!tb_key_has_private(srv->key)) {
		tb_log(TB_LOG_ERR, "tam: %s: not a private key", srv->opts.key_file);
		return -1;
	}
	for (size_t i = 0; i < srv->opts.n_agent_keys; i++) {
		const char *f = srv->opts.agent_key_files[i];

		if (tb_key_load_file(f, &srv->agent_keys[i], err, sizeof(err)) != TB_OK) {
			tb_log(TB_LOG_ERR, "tam: %s: %s", f, err);
			return -1;
		}
	}
	for (size_t i = 0; i < srv->opts.n_attest_keys; i++) {
		const char *f = srv->opts.attest_key_files[i];

		if (tb_key_load_file(f, &srv->attest_keys[i], err, sizeof(err)) != TB_OK) {
			tb_log(TB_LOG_ERR, "tam: %s: %s", f, err);
			return -1;
		}
	}
	return 0;
}

static int create_core(struct tam_server *srv)
{
	struct tam_core_conf conf = {0};
	struct stat st;
	char err[256] = "";

	conf.signing_key = srv->key;
	conf.agent_keys = (const struct tb_key *const *)srv->agent_keys;
	conf.n_agent_keys = srv->opts.n_agent_keys;
	conf.catalog_dir = srv->opts.catalog;
	conf.numbering = srv->opts.numbering;
	conf.first_message = srv->opts.first_message;
	conf.no_token = srv->opts.no_token;
	conf.max_body = (size_t)srv->opts.max_body;
	conf.max_manifest = (size_t)srv->opts.max_manifest;
	conf.max_tokens = (size_t)srv->opts.max_tokens;
	conf.token_lifetime_ms = srv->opts.token_lifetime_ms;
	for (size_t i = 0; i < srv->opts.n_push; i++) {
		if (tb_component_id_parse(srv->opts.push[i], &srv->push[i]) != TB_OK) {
			tb_log(TB_LOG_ERR, "tam: --push %s: not a component id", srv->opts.push[i]);
			return -1;
		}
	}
	conf.push = srv->push;
	conf.n_push = srv->opts.n_push;
	if (srv->opts.attest) {
		srv->attest.keys = srv->attest_keys;
		srv->attest.n_keys = srv->opts.n_attest_keys;
		srv->attest.expect = (const uint8_t(*)[32])srv->opts.expect;
		srv->attest.n_expect = srv->opts.n_expect;
		srv->attest.allowed_tee = srv->opts.allowed_tee;
		srv->attest.n_allowed_tee = srv->opts.n_allowed_tee;
		srv->attest.require_tsm = srv->opts.require_tsm;
		conf.attest = &srv->attest;
		conf.ear_dir = srv->opts.ear_dir;
		if (conf.ear_dir && (stat(conf.ear_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
			tb_log(TB_LOG_ERR, "tam: --ear-dir %s: not a directory", conf.ear_dir);
			return -1;
		}
		/* as an app of a broker the TAM ends the session itself: an
		 * Agent it does not trust gets nothing after its QueryResponse */
		conf.attest_no_refusal = srv->opts.via_broker != NULL;
	}
	if (tam_core_create(&conf, &srv->core, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERR, "tam: %s", err);
		return -1;
	}
	return 0;
}

static int start_http(struct tam_server *srv)
{
	struct lws_context_creation_info info;
	char port[16];
	int bound;

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	if (srv->opts.tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = srv;
	info.port = CONTEXT_PORT_NO_LISTEN;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		tb_log(TB_LOG_ERR, "tam: cannot create the lws context");
		return -1;
	}

	memset(&info, 0, sizeof(info));
	info.vhost_name = "teep-tam";
	/* an idle kept connection is closed after this (lws counts seconds) */
	info.keepalive_timeout = 5;
	info.port = srv->opts.port;
	info.iface = srv->opts.listen;
	info.protocols = tam_protocols;
	info.max_http_header_data = TAM_HDR_MAX;
	/* an IPv4 literal must not get an IPv6 socket */
	if (!strchr(srv->opts.listen, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (srv->opts.tls_cert) {
		/* lws sets TLS up on a vhost only when its own options ask */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = srv->opts.tls_cert;
		info.ssl_private_key_filepath = srv->opts.tls_key;
	}
	srv->vh = lws_create_vhost(srv->ctx, &info);
	if (!srv->vh) {
		tb_log(TB_LOG_ERR, "tam: cannot listen on %s port %d%s", srv->opts.listen,
		       srv->opts.port,
		       srv->opts.tls_cert ? " (or the TLS certificate or key is unusable)" : "");
		return -1;
	}
	bound = lws_get_vhost_listen_port(srv->vh);
	if (bound <= 0) {
		tb_log(TB_LOG_ERR, "tam: no listening port");
		return -1;
	}
	if (srv->opts.port_file) {
		int n = snprintf(port, sizeof(port), "%d\n", bound);

		if (tb_write_file(srv->opts.port_file, (const uint8_t *)port, (size_t)n) != TB_OK) {
			tb_log(TB_LOG_ERR, "tam: cannot write %s", srv->opts.port_file);
			return -1;
		}
	}
	tb_log(TB_LOG_NOTICE, "tam: listening on %s://%s:%d%s (fault %s)",
	       srv->opts.tls_cert ? "https" : "http", srv->opts.listen, bound, srv->opts.path,
	       fault_names[srv->opts.fault]);
	return 0;
}

static void server_free(struct tam_server *srv)
{
	if (srv->ctx) {
		lws_sul_cancel(&srv->tick);
		lws_context_destroy(srv->ctx);
	}
	tam_core_free(srv->core);
	for (size_t i = 0; i < TB_TEEP_MAX_LIST; i++)
		tb_component_id_clear(&srv->push[i]);
	for (size_t i = 0; i < TAM_MAX_AGENTS; i++)
		tb_key_free(srv->agent_keys[i]);
	for (size_t i = 0; i < TAM_MAX_ATTEST_KEYS; i++)
		tb_key_free(srv->attest_keys[i]);
	tb_key_free(srv->key);
}

static void log_counters(const struct tam_counters *c)
{
	tb_log(TB_LOG_INFO,
	       "tam: totals: connects=%llu query-responses=%llu updates=%llu successes=%llu "
	       "errors=%llu dropped: too-big=%llu bad-cose=%llu bad-signature=%llu "
	       "bad-message=%llu unknown-token=%llu unexpected=%llu",
	       (unsigned long long)c->connects, (unsigned long long)c->query_responses,
	       (unsigned long long)c->updates, (unsigned long long)c->successes,
	       (unsigned long long)c->errors, (unsigned long long)c->drop_too_big,
	       (unsigned long long)c->drop_bad_cose, (unsigned long long)c->drop_bad_signature,
	       (unsigned long long)c->drop_bad_message, (unsigned long long)c->drop_unknown_token,
	       (unsigned long long)c->drop_unexpected);
}

int main(int argc, char **argv)
{
	struct tam_server srv;
	struct tb_log_conf lc = {0};
	int rc;

	memset(&srv, 0, sizeof(srv));
	rc = parse_args(argc, argv, &srv.opts);
	if (rc)
		return rc > 0 ? 0 : 2;

	lc.level = srv.opts.verbose ? TB_LOG_DEBUG : TB_LOG_INFO;
	tb_log_setup("teep-tam", &lc);
	tb_log_bridge_lws(srv.opts.verbose ? TB_LOG_INFO : TB_LOG_WARN);
	tb_log(TB_LOG_NOTICE, "tam: reference TAM for development and tests, not for production");

	install_signals();
	if (srv.opts.via_broker) {
		struct tam_broker_opts bo = {.url = srv.opts.via_broker,
		                             .token = srv.opts.token,
		                             .tee = srv.opts.tee,
		                             .numbering = srv.opts.numbering,
		                             .timeout_s = srv.opts.timeout_s};
		if (load_keys(&srv) || create_core(&srv)) {
			server_free(&srv);
			return 1;
		}
		tb_log(TB_LOG_NOTICE, "tam: acting as an app of the broker at %s", bo.url);
		rc = tam_via_broker(srv.core, &bo);
		log_counters(tam_core_counters(srv.core));
		server_free(&srv);
		return rc;
	}
	if (load_keys(&srv) || create_core(&srv) || start_http(&srv)) {
		server_free(&srv);
		return 1;
	}
	on_tick(&srv.tick);

	rc = 0;
	while (!stop_requested && rc >= 0)
		rc = lws_service(srv.ctx, 0);

	tb_log(TB_LOG_NOTICE, "tam: stopping");
	log_counters(tam_core_counters(srv.core));
	server_free(&srv);
	return rc < 0 ? 1 : 0;
}
