/*
 * The token file of the auth-token plugin (docs/defences.md, section 6): one
 * app per line, its bearer token(s), its identity, and the Trusted
 * Components it may request and unrequest. This module parses the file and
 * answers the plugin's questions; it does no I/O and knows nothing of the
 * broker, so that it can be unit-tested and fuzzed on its own.
 *
 *   # TOKEN[,TOKEN...]  IDENTITY  REQUEST  UNREQUEST
 *   c2VjcmV0LXRva2VuLW9mLW5hdg  nav  8d82573a-926d-4754-9353-32dc29997f74  -
 *   -                           map  8d82573a-926d-4754-9353-32dc29997f74  -
 *   -                           -    -                                     -
 *
 * Token "-" with identity "-" is the line of apps without a token; token "-"
 * with another identity is an app that has no token and is known otherwise
 * (by its client certificate: certmap.h).
 */
#ifndef TB_AUTH_TOKENS_H
#define TB_AUTH_TOKENS_H

#include <stddef.h>
#include <stdint.h>
#include <teep-broker/driver.h>

#define TB_TOK_FILE_MAX     (1024 * 1024) /* bytes of a token file */
#define TB_TOK_LINES_MAX    16384         /* lines, comments included */
#define TB_TOK_LINE_MAX     4096          /* bytes of one line */
#define TB_TOK_ENTRIES_MAX  4096          /* app lines */
#define TB_TOK_TOKENS_MAX   4096          /* tokens in the whole file */
#define TB_TOK_PER_LINE_MAX 4             /* tokens of one app */
#define TB_TOK_TOKEN_MIN    16            /* bytes of one token */
#define TB_TOK_TOKEN_MAX    128
#define TB_TOK_IDENTITY_MAX 64
#define TB_TOK_LIST_MAX     64 /* components in one list */
#define TB_TOK_SEGMENTS_MAX 8  /* segments of one component id */
#define TB_TOK_SEGMENT_MAX  64 /* bytes of one segment */

/* Which list an operation is checked against. */
enum tb_tok_op { TB_TOK_REQUEST = 1, TB_TOK_UNREQUEST, TB_TOK_POLICY_CHECK };

/* One list of components: "-" (none), "*" (any), or the components. */
struct tb_tok_list {
	int any;
	size_t n;
	/* each component in its canonical form: the segment count, then
	 * each segment as its length byte and its bytes */
	uint8_t **comp;
	size_t *comp_len;
};

/* One app line. */
struct tb_tok_entry {
	int line;      /* in the file, for messages */
	int anonymous; /* the "-" line: what apps without a token may do */
	size_t n_tokens;
	char identity[TB_TOK_IDENTITY_MAX + 1]; /* "-" for the anonymous line */
	struct tb_tok_list request;
	struct tb_tok_list unrequest;
};

struct tb_tokens;

/*
 * Parse a whole token file (text, len bytes; it need not end with a NUL).
 * On success *out is a new table (free it with tb_tokens_free) and TB_OK is
 * returned. On failure returns TB_ERR_PARSE (or TB_ERR_TOOBIG, TB_ERR_NOMEM),
 * *err_line is the line of the first problem (0: the file as a whole) and
 * err says what it is. Nothing in the file is ever copied into err: it holds
 * secrets.
 */
int tb_tokens_parse(const char *text, size_t len, struct tb_tokens **out, int *err_line, char *err,
                    size_t errlen);
void tb_tokens_free(struct tb_tokens *t);

size_t tb_tokens_n_entries(const struct tb_tokens *t);
size_t tb_tokens_n_tokens(const struct tb_tokens *t);
const struct tb_tok_entry *tb_tokens_entry(const struct tb_tokens *t, size_t i);

/*
 * The app line holding token (len bytes), or NULL. The time it takes depends
 * on the number of tokens in the file and their longest length, never on
 * the bytes of token or of any stored token, nor on which one matches.
 */
const struct tb_tok_entry *tb_tokens_lookup(const struct tb_tokens *t, const char *token,
                                            size_t len);
/* The app line of an identity, or NULL. */
const struct tb_tok_entry *tb_tokens_by_identity(const struct tb_tokens *t, const char *identity);
/* The "-" line, or NULL. */
const struct tb_tok_entry *tb_tokens_anonymous(const struct tb_tokens *t);

/* May entry e do op with this component (segs[0..n))? policy-check is
 * always allowed; e NULL allows nothing else. */
int tb_tokens_allows(const struct tb_tok_entry *e, enum tb_tok_op op, const struct tb_bytes *segs,
                     size_t n);

/*
 * The token of an Authorization header value: the scheme "Bearer" (any
 * case), one or more spaces, a token of b64token characters (RFC 6750,
 * section 2.1), nothing after it. Returns 0 and sets *tok, *len; -1 when
 * the header is anything else.
 */
int tb_tokens_bearer(const char *header, const char **tok, size_t *len);

/* Does the Authorization header value use the Bearer scheme (any case), well
 * formed or not? A header that does presents a token, which must then be a
 * known one; one with another scheme is some other plugin's business. */
int tb_tokens_is_bearer(const char *header);

#endif
