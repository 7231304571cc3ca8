/*
 * The broker's HTTP/1.1 client messages for TEEP over HTTP, written and
 * parsed here rather than by libwebsockets: lws 4.1's HTTP client puts
 * "Pragma: no-cache" and "Cache-Control: no-cache" into every request, and
 * draft-ietf-teep-otrp-over-http-15 §4 says a TEEP/HTTP client MUST NOT send
 * Cache-Control. lws still owns the socket (a raw client connection, TLS
 * included); this module only turns bytes into a request and a response
 * into fields, without I/O and with every size bounded.
 */
#ifndef TB_HTTP1_H
#define TB_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#define TB_HTTP1_LINE_MAX 1024 /* one status, header or chunk-size line */

/*
 * Write the head of a POST into out[0..cap): request line, Host, User-Agent,
 * Accept and Content-Type (both `media_type`), Content-Length, Connection:
 * close unless keep_alive (HTTP/1.1 keeps the connection by default), and
 * the blank line. No cookies, no caching headers. Returns the length, or -1
 * if it does not fit or path/host hold characters that would break the
 * request (controls, spaces).
 */
int tb_http1_request_head(char *out, size_t cap, const char *path, const char *host, int port,
                          int tls, const char *media_type, size_t body_len, int keep_alive);

enum tb_http1_state {
	TB_HTTP1_STATUS = 0,
	TB_HTTP1_HEADERS,
	TB_HTTP1_BODY_LENGTH, /* Content-Length bytes */
	TB_HTTP1_BODY_CLOSE,  /* until the connection closes */
	TB_HTTP1_CHUNK_SIZE,
	TB_HTTP1_CHUNK_DATA,
	TB_HTTP1_CHUNK_CRLF,
	TB_HTTP1_TRAILERS,
	TB_HTTP1_DONE,
	TB_HTTP1_ERROR
};

/* Result of feeding bytes. */
enum tb_http1_result {
	TB_HTTP1_MORE = 0,      /* need more bytes */
	TB_HTTP1_COMPLETE = 1,  /* a whole response is in */
	TB_HTTP1_BAD = -1,      /* not HTTP/1.x as we accept it; see why */
	TB_HTTP1_TOO_LARGE = -2 /* headers or body over their bounds */
};

/* What kind of failure a TB_HTTP1_BAD or TB_HTTP1_TOO_LARGE was. */
enum tb_http1_error {
	TB_HTTP1_E_NONE = 0,
	TB_HTTP1_E_STATUS_LINE, /* not an HTTP/1.x status line */
	TB_HTTP1_E_HEADER,      /* a header line that does not parse or conflicts */
	TB_HTTP1_E_FRAMING,     /* chunked framing that does not parse */
	TB_HTTP1_E_TRUNCATED,   /* the connection ended before the response did */
	TB_HTTP1_E_TOO_LARGE    /* head, line or body over its bound */
};

struct tb_http1_response {
	enum tb_http1_state state;
	int status;
	char content_type[80];  /* the media type, without parameters; "" if none */
	int64_t content_length; /* -1 when absent */
	int chunked;
	uint64_t remaining; /* of the current body part */
	size_t header_bytes, max_header_bytes;
	uint64_t max_body;
	uint8_t *body; /* malloc()ed, body_len bytes */
	size_t body_len, body_cap;
	char line[TB_HTTP1_LINE_MAX];
	size_t line_len;
	const char *why; /* static text for TB_HTTP1_BAD / TOO_LARGE */
	enum tb_http1_error error;
	int http11;     /* HTTP/1.1 or later: the connection persists by default */
	int conn_close; /* "Connection: close", or the body ended with the connection */
	int trailing;   /* bytes followed the complete response in what was fed */
};

void tb_http1_response_init(struct tb_http1_response *r, size_t max_header_bytes,
                            uint64_t max_body);
/* Feed received bytes; once COMPLETE or an error, further bytes are ignored. */
enum tb_http1_result tb_http1_response_feed(struct tb_http1_response *r, const uint8_t *buf,
                                            size_t len);
/* The connection closed: completes a close-delimited body, else BAD
 * (TB_HTTP1_E_TRUNCATED). */
enum tb_http1_result tb_http1_response_eof(struct tb_http1_response *r);
/* The connection closed in a way that does not vouch for the end of the
 * data: over TLS, a TCP close without close_notify. A close-delimited body
 * is then a truncation (RFC 9112 section 9.8), an error; the rest is as
 * tb_http1_response_eof(). */
enum tb_http1_result tb_http1_response_eof_unclean(struct tb_http1_response *r);
/* Why the response failed, in words for a log or an app: the reason, and
 * for a body cut short how much of it arrived. Returns out. */
const char *tb_http1_describe_error(const struct tb_http1_response *r, char *out, size_t cap);
/* May the connection carry another request (RFC 9112 section 9.3)? A
 * complete HTTP/1.1 response without "Connection: close", whose end was
 * not the connection's, and nothing after it. */
int tb_http1_response_reusable(const struct tb_http1_response *r);
/* Take the body (caller frees); the response keeps none. */
uint8_t *tb_http1_response_take_body(struct tb_http1_response *r, size_t *len);
void tb_http1_response_free(struct tb_http1_response *r);

#endif
