#include "config.h"
#include "http1.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int printable_no_space(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int tb_http1_request_head(char *out, size_t cap, const char *path, const char *host, int port,
                          int tls, const char *media_type, size_t body_len, int keep_alive)
{
	char hostport[300];
	int n;

	if (path[0] != '/' || !printable_no_space(path) || !printable_no_space(host) ||
	    strpbrk(host, "/?#@") || !printable_no_space(media_type))
		return -1;
	/* an IPv6 literal goes back into brackets; the default port is left out */
	if (strchr(host, ':'))
		n = snprintf(hostport, sizeof(hostport), "[%s]", host);
	else
		n = snprintf(hostport, sizeof(hostport), "%s", host);
	if (n < 0 || (size_t)n >= sizeof(hostport))
		return -1;
	if (port != (tls ? 443 : 80)) {
		int m = snprintf(hostport + n, sizeof(hostport) - (size_t)n, ":%d", port);
		if (m < 0 || (size_t)m >= sizeof(hostport) - (size_t)n)
			return -1;
	}
	n = snprintf(out, cap,
	             "POST %s HTTP/1.1\r\n"
	             "Host: %s\r\n"
	             "User-Agent: teep-brokerd/" PACKAGE_VERSION "\r\n"
	             "Accept: %s\r\n"
	             "Content-Type: %s\r\n"
	             "Content-Length: %zu\r\n"
	             "%s"
	             "\r\n",
	             path, hostport, media_type, media_type, body_len,
	             keep_alive ? "" : "Connection: close\r\n");
	return (n < 0 || (size_t)n >= cap) ? -1 : n;
}

void tb_http1_response_init(struct tb_http1_response *r, size_t max_header_bytes, uint64_t max_body)
{
	memset(r, 0, sizeof(*r));
	r->state = TB_HTTP1_STATUS;
	r->content_length = -1;
	r->max_header_bytes = max_header_bytes;
	r->max_body = max_body;
}

void tb_http1_response_free(struct tb_http1_response *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = r->body_cap = 0;
}

uint8_t *tb_http1_response_take_body(struct tb_http1_response *r, size_t *len)
{
	uint8_t *b = r->body;
	*len = r->body_len;
	r->body = NULL;
	r->body_len = r->body_cap = 0;
	return b;
}

static enum tb_http1_result fail_as(struct tb_http1_response *r, enum tb_http1_result res,
                                    enum tb_http1_error kind, const char *why)
{
	r->state = TB_HTTP1_ERROR;
	r->error = kind;
	r->why = why;
	return res;
}

/* Over a bound, or malformed in the part being read. */
static enum tb_http1_result fail(struct tb_http1_response *r, enum tb_http1_result res,
                                 const char *why)
{
	enum tb_http1_error kind;

	if (res == TB_HTTP1_TOO_LARGE)
		kind = TB_HTTP1_E_TOO_LARGE;
	else if (r->state == TB_HTTP1_STATUS)
		kind = TB_HTTP1_E_STATUS_LINE;
	else if (r->state == TB_HTTP1_HEADERS || r->state == TB_HTTP1_TRAILERS)
		kind = TB_HTTP1_E_HEADER;
	else
		kind = TB_HTTP1_E_FRAMING;
	return fail_as(r, res, kind, why);
}

static enum tb_http1_result append(struct tb_http1_response *r, const uint8_t *p, size_t n)
{
	if (n > r->max_body - r->body_len)
		return fail(r, TB_HTTP1_TOO_LARGE, "body larger than allowed");
	if (r->body_len + n > r->body_cap) {
		uint64_t ncap = r->body_cap ? r->body_cap : 4096;
		/* a body of known length gets its buffer once, at its size
		 * (Content-Length was checked against max_body before any of
		 * it was read; pages it does not fill are not touched); a
		 * chunked or close-delimited one doubles */
		if (r->state == TB_HTTP1_BODY_LENGTH && r->content_length > 0)
			ncap = (uint64_t)r->content_length;
		while (ncap < r->body_len + n)
			ncap *= 2;
		if (ncap > r->max_body)
			ncap = r->max_body;
		uint8_t *nb = realloc(r->body, (size_t)ncap);
		if (!nb)
			return fail(r, TB_HTTP1_TOO_LARGE, "out of memory for the body");
		r->body = nb;
		r->body_cap = (size_t)ncap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	return TB_HTTP1_MORE;
}

static enum tb_http1_result parse_status(struct tb_http1_response *r, const char *l)
{
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (strncmp(l, "HTTP/1.", 7) || !isdigit((unsigned char)l[7]) || l[8] != ' ' ||
	    !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
	    !isdigit((unsigned char)l[11]) || (l[12] && l[12] != ' '))
		return fail(r, TB_HTTP1_BAD, "malformed status line (not HTTP/1.x SP 3DIGIT)");
	r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (r->status < 100)
		return fail(r, TB_HTTP1_BAD, "status code out of range");
	r->content_length = -1;
	r->chunked = 0;
	r->content_type[0] = 0;
	r->http11 = l[7] != '0';
	r->conn_close = 0;
	r->state = TB_HTTP1_HEADERS;
	return TB_HTTP1_MORE;
}

static int tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum tb_http1_result end_of_headers(struct tb_http1_response *r)
{
	if (r->status < 200) { /* interim response: the real one follows */
		r->state = TB_HTTP1_STATUS;
		return TB_HTTP1_MORE;
	}
	if (r->status == 204 || r->status == 304) {
		r->state = TB_HTTP1_DONE;
		return TB_HTTP1_COMPLETE;
	}
	if (r->chunked) {
		if (r->content_length >= 0)
			return fail(r, TB_HTTP1_BAD, "both Content-Length and chunked");
		r->state = TB_HTTP1_CHUNK_SIZE;
		return TB_HTTP1_MORE;
	}
	if (r->content_length >= 0) {
		/* refuse before reading any of it */
		if ((uint64_t)r->content_length > r->max_body)
			return fail(r, TB_HTTP1_TOO_LARGE, "Content-Length larger than allowed");
		if (r->content_length == 0) {
			r->state = TB_HTTP1_DONE;
			return TB_HTTP1_COMPLETE;
		}
		r->remaining = (uint64_t)r->content_length;
		r->state = TB_HTTP1_BODY_LENGTH;
		return TB_HTTP1_MORE;
	}
	r->state = TB_HTTP1_BODY_CLOSE;
	return TB_HTTP1_MORE;
}

static enum tb_http1_result header_field(struct tb_http1_response *r, char *l)
{
	if (*l == ' ' || *l == '\t')
		return fail(r, TB_HTTP1_BAD, "folded header line");
	char *colon = strchr(l, ':');
	if (!colon || colon == l)
		return fail(r, TB_HTTP1_BAD, "header line without a name");
	for (char *p = l; p < colon; p++)
		if (!tchar(*p))
			return fail(r, TB_HTTP1_BAD, "bad character in a header name");
	*colon = 0;
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	size_t vl = strlen(v);
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		v[--vl] = 0;

	if (!strcasecmp(l, "Content-Length")) {
		int64_t n = 0;
		if (!vl || vl > 18)
			return fail(r, TB_HTTP1_BAD, "bad Content-Length");
		for (const char *p = v; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return fail(r, TB_HTTP1_BAD, "bad Content-Length");
			n = n * 10 + (*p - '0');
		}
		if (r->content_length >= 0 && r->content_length != n)
			return fail(r, TB_HTTP1_BAD, "conflicting Content-Length");
		r->content_length = n;
	} else if (!strcasecmp(l, "Transfer-Encoding")) {
		if (strcasecmp(v, "chunked"))
			return fail(r, TB_HTTP1_BAD, "unsupported Transfer-Encoding");
		r->chunked = 1;
	} else if (!strcasecmp(l, "Connection")) {
		/* a list of tokens; "close" among them ends the connection */
		for (char *t = v; *t;) {
			size_t n = strcspn(t, ", \t");
			if (n == 5 && !strncasecmp(t, "close", 5))
				r->conn_close = 1;
			t += n;
			t += strspn(t, ", \t");
		}
	} else if (!strcasecmp(l, "Content-Type")) {
		size_t n = strcspn(v, "; \t");
		if (n >= sizeof(r->content_type))
			n = 0; /* no media type we accept is that long */
		memcpy(r->content_type, v, n);
		r->content_type[n] = 0;
	}
	return TB_HTTP1_MORE;
}

static enum tb_http1_result chunk_size(struct tb_http1_response *r, const char *l)
{
	uint64_t n = 0;
	size_t digits = 0;
	for (; isxdigit((unsigned char)*l); l++, digits++) {
		if (digits == 15)
			return fail(r, TB_HTTP1_TOO_LARGE, "chunk size too large");
		n = n * 16 + (uint64_t)(isdigit((unsigned char)*l)
		                            ? *l - '0'
		                            : (tolower((unsigned char)*l) - 'a' + 10));
	}
	if (!digits || (*l && *l != ';' && *l != ' ' && *l != '\t'))
		return fail(r, TB_HTTP1_BAD, "bad chunk size line");
	if (n == 0) {
		r->state = TB_HTTP1_TRAILERS;
		return TB_HTTP1_MORE;
	}
	if (n > r->max_body - r->body_len)
		return fail(r, TB_HTTP1_TOO_LARGE, "body larger than allowed");
	r->remaining = n;
	r->state = TB_HTTP1_CHUNK_DATA;
	return TB_HTTP1_MORE;
}

static enum tb_http1_result line_done(struct tb_http1_response *r)
{
	char *l = r->line;
	if (r->line_len && l[r->line_len - 1] == '\r')
		r->line_len--;
	l[r->line_len] = 0;
	if (memchr(l, 0, r->line_len))
		return fail(r, TB_HTTP1_BAD,
		            r->state == TB_HTTP1_STATUS     ? "NUL byte in the status line"
		            : r->state == TB_HTTP1_HEADERS  ? "NUL byte in a header line"
		            : r->state == TB_HTTP1_TRAILERS ? "NUL byte in a trailer line"
		                                            : "NUL byte in a chunk line");
	r->line_len = 0;

	switch (r->state) {
	case TB_HTTP1_STATUS:
		return parse_status(r, l);
	case TB_HTTP1_HEADERS:
		return *l ? header_field(r, l) : end_of_headers(r);
	case TB_HTTP1_CHUNK_SIZE:
		return chunk_size(r, l);
	case TB_HTTP1_CHUNK_CRLF:
		if (*l)
			return fail(r, TB_HTTP1_BAD, "chunk not followed by CRLF");
		r->state = TB_HTTP1_CHUNK_SIZE;
		return TB_HTTP1_MORE;
	case TB_HTTP1_TRAILERS:
		if (*l)
			return TB_HTTP1_MORE; /* trailer fields are ignored */
		r->state = TB_HTTP1_DONE;
		return TB_HTTP1_COMPLETE;
	default:
		return fail(r, TB_HTTP1_BAD, "internal state");
	}
}

static int in_head(const struct tb_http1_response *r)
{
	return r->state == TB_HTTP1_STATUS || r->state == TB_HTTP1_HEADERS ||
	       r->state == TB_HTTP1_TRAILERS;
}

enum tb_http1_result tb_http1_response_feed(struct tb_http1_response *r, const uint8_t *buf,
                                            size_t len)
{
	enum tb_http1_result res = TB_HTTP1_MORE;

	if (r->state == TB_HTTP1_DONE)
		return TB_HTTP1_COMPLETE;
	if (r->state == TB_HTTP1_ERROR)
		return TB_HTTP1_BAD;
	while (len && res == TB_HTTP1_MORE) {
		size_t n;
		switch (r->state) {
		case TB_HTTP1_BODY_LENGTH:
		case TB_HTTP1_CHUNK_DATA:
			n = len < r->remaining ? len : (size_t)r->remaining;
			res = append(r, buf, n);
			r->remaining -= n;
			if (res == TB_HTTP1_MORE && !r->remaining) {
				if (r->state == TB_HTTP1_BODY_LENGTH) {
					r->state = TB_HTTP1_DONE;
					res = TB_HTTP1_COMPLETE;
				} else {
					r->state = TB_HTTP1_CHUNK_CRLF;
				}
			}
			break;
		case TB_HTTP1_BODY_CLOSE:
			n = len;
			res = append(r, buf, n);
			break;
		default: /* a line */
			n = 1;
			if (in_head(r) && ++r->header_bytes > r->max_header_bytes)
				return fail(r, TB_HTTP1_TOO_LARGE, "response head too large");
			if (*buf == '\n') {
				res = line_done(r);
			} else if (r->line_len >= sizeof(r->line) - 1) {
				return fail(r, TB_HTTP1_TOO_LARGE, "line too long");
			} else {
				r->line[r->line_len++] = (char)*buf;
			}
			break;
		}
		buf += n;
		len -= n;
	}
	if (res == TB_HTTP1_COMPLETE && len)
		r->trailing = 1; /* not ours to read: no reuse */
	return res;
}

int tb_http1_response_reusable(const struct tb_http1_response *r)
{
	return r->state == TB_HTTP1_DONE && r->http11 && !r->conn_close && !r->trailing;
}

enum tb_http1_result tb_http1_response_eof(struct tb_http1_response *r)
{
	r->conn_close = 1; /* whatever it said, the connection is gone */
	if (r->state == TB_HTTP1_BODY_CLOSE) {
		r->state = TB_HTTP1_DONE;
		return TB_HTTP1_COMPLETE;
	}
	if (r->state == TB_HTTP1_DONE)
		return TB_HTTP1_COMPLETE;
	if (r->state == TB_HTTP1_ERROR)
		return TB_HTTP1_BAD;
	const char *why;
	switch (r->state) {
	case TB_HTTP1_STATUS:
		why = r->header_bytes ? "the connection closed inside the response head"
		                      : "the connection closed without an answer";
		break;
	case TB_HTTP1_HEADERS:
		why = "the connection closed inside the response head";
		break;
	case TB_HTTP1_BODY_LENGTH:
		why = "the connection closed before the end of the body";
		break;
	case TB_HTTP1_TRAILERS:
		why = "the connection closed inside the trailer fields";
		break;
	default:
		why = "the connection closed inside the chunked body";
		break;
	}
	return fail_as(r, TB_HTTP1_BAD, TB_HTTP1_E_TRUNCATED, why);
}

enum tb_http1_result tb_http1_response_eof_unclean(struct tb_http1_response *r)
{
	if (r->state == TB_HTTP1_BODY_CLOSE)
		return fail_as(r, TB_HTTP1_BAD, TB_HTTP1_E_TRUNCATED,
		               "the TLS connection closed without close_notify, so the body it "
		               "delimits may be cut short");
	return tb_http1_response_eof(r);
}

const char *tb_http1_describe_error(const struct tb_http1_response *r, char *out, size_t cap)
{
	const char *why = r->why ? r->why : "unknown error";

	if (!cap)
		return out;
	if (r->error == TB_HTTP1_E_TRUNCATED && !r->chunked && r->content_length >= 0)
		snprintf(out, cap, "%s (%zu of %lld bytes)", why, r->body_len,
		         (long long)r->content_length);
	else if (r->error == TB_HTTP1_E_TRUNCATED && r->body_len)
		snprintf(out, cap, "%s (after %zu body bytes)", why, r->body_len);
	else
		snprintf(out, cap, "%s", why);
	return out;
}
