/*
 * The auth-token plugin's token file: strict parsing, constant-time token
 * lookup, and the components each app may request or unrequest (tokens.h).
 *
 * Secrets: tokens are kept zero-padded in one table, compared in constant
 * time, and wiped when the table is freed; no error message ever quotes the
 * file.
 */
#include "config.h"
#include "tokens.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One token, zero-padded, and the app line it belongs to. */
struct secret {
	uint8_t tok[TB_TOK_TOKEN_MAX];
	uint32_t len;
	uint32_t entry;
};

struct tb_tokens {
	struct tb_tok_entry *entries;
	size_t n_entries;
	struct secret *secrets;
	size_t n_secrets;
	size_t window;       /* bytes compared per token: the longest, rounded up */
	size_t *by_identity; /* entries with a token, sorted by identity */
	size_t n_named;
	const struct tb_tok_entry *anonymous; /* set once the entries stop moving */
};

struct parse {
	struct tb_tokens *t;
	size_t cap_entries, cap_secrets;
	size_t anonymous; /* index + 1 of the "-" line, 0: none yet */
	int line;
	char *err;
	size_t errlen;
};

static int fail(struct parse *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parse *p, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- fields ------------------------------------------------------------ */

static int b64token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

/* Length of the b64token at s (RFC 6750: 1*b64char *"="), 0 if none. */
static size_t b64token_len(const char *s)
{
	size_t n = 0;

	while (b64token_char(s[n]))
		n++;
	if (n == 0)
		return 0;
	while (s[n] == '=')
		n++;
	return n;
}

static int identity_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '@' || c == ':';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A token of the app line entries[entry]. */
static int add_secret(struct parse *p, const char *tok, size_t len, size_t entry)
{
	struct tb_tokens *t = p->t;
	struct secret *s;

	if (t->n_secrets == TB_TOK_TOKENS_MAX)
		return fail(p, TB_ERR_TOOBIG, "more than %d tokens in the file", TB_TOK_TOKENS_MAX);
	if (t->n_secrets == p->cap_secrets) {
		size_t cap = p->cap_secrets ? p->cap_secrets * 2 : 16;
		struct secret *ns = calloc(cap, sizeof(*ns));
		if (!ns)
			return fail(p, TB_ERR_NOMEM, "out of memory");
		if (t->n_secrets) {
			memcpy(ns, t->secrets, t->n_secrets * sizeof(*ns));
			explicit_bzero(t->secrets, t->n_secrets * sizeof(*ns));
		}
		free(t->secrets);
		t->secrets = ns;
		p->cap_secrets = cap;
	}
	s = &t->secrets[t->n_secrets++];
	memset(s, 0, sizeof(*s));
	memcpy(s->tok, tok, len);
	s->len = (uint32_t)len;
	s->entry = (uint32_t)entry;
	if (len > t->window)
		t->window = len;
	return TB_OK;
}

/* TOKEN[,TOKEN...] or "-". */
static int parse_tokens(struct parse *p, const char *f, struct tb_tok_entry *e)
{
	if (strcmp(f, "-") == 0) {
		e->anonymous = 1;
		return TB_OK;
	}
	for (;;) {
		size_t n = b64token_len(f);
		int rc;

		if (n == 0 || (f[n] && f[n] != ','))
			return fail(p, TB_ERR_PARSE,
			            "a token is made of A-Z a-z 0-9 - . _ ~ + / then optional '=' "
			            "padding; tokens are separated by ','");
		if (n < TB_TOK_TOKEN_MIN || n > TB_TOK_TOKEN_MAX)
			return fail(p, TB_ERR_PARSE, "a token must be %d..%d characters long",
			            TB_TOK_TOKEN_MIN, TB_TOK_TOKEN_MAX);
		if (e->n_tokens == TB_TOK_PER_LINE_MAX)
			return fail(p, TB_ERR_PARSE, "more than %d tokens for one app",
			            TB_TOK_PER_LINE_MAX);
		rc = add_secret(p, f, n, (size_t)(e - p->t->entries));
		if (rc)
			return rc;
		e->n_tokens++;
		if (!f[n])
			return TB_OK;
		f += n + 1;
	}
}

static int parse_identity(struct parse *p, const char *f, struct tb_tok_entry *e)
{
	size_t n = strlen(f);

	if (e->anonymous && strcmp(f, "-") != 0)
		e->anonymous = 0; /* an app that authenticates otherwise (certmap.h) */
	if (e->anonymous) {
		/* the line of apps without a token */
	} else {
		if (strcmp(f, "-") == 0)
			return fail(p, TB_ERR_PARSE,
			            "identity \"-\" is only for the line with token \"-\"");
		/* token "-" with an identity: a line without tokens */
		if (n < 1 || n > TB_TOK_IDENTITY_MAX)
			return fail(p, TB_ERR_PARSE, "an identity must be 1..%d characters long",
			            TB_TOK_IDENTITY_MAX);
		for (size_t i = 0; i < n; i++)
			if (!identity_char(f[i]))
				return fail(p, TB_ERR_PARSE,
				            "an identity may only hold A-Z a-z 0-9 . _ - @ :");
	}
	memcpy(e->identity, f, n + 1);
	return TB_OK;
}

static int is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : hexval(s[i]) < 0)
			return 0;
	}
	return 1;
}

/* Append one segment (bytes, or hex digits when hex) to the canonical form. */
static int put_segment(uint8_t *out, size_t *o, const char *s, size_t n, int hex)
{
	size_t bytes = hex ? n / 2 : n;

	if (bytes < 1 || bytes > TB_TOK_SEGMENT_MAX || (hex && n % 2))
		return -1;
	out[(*o)++] = (uint8_t)bytes;
	for (size_t i = 0; i < bytes; i++) {
		if (hex) {
			int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			out[(*o)++] = (uint8_t)(hi << 4 | lo);
		} else {
			out[(*o)++] = (uint8_t)s[i];
		}
	}
	return 0;
}

/*
 * One component id in teep-ua's syntax (docs/ua-api.md, section 10): a bare
 * UUID stands for ['TEEP-Device', 'SecureFS', h'UUID', 'ta']; otherwise
 * 1..8 segments joined by '/', each "0x" and an even number of hex digits,
 * or the characters as they are. Every segment is 1..64 bytes.
 */
static int parse_component(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
	size_t o = 1, segs = 0;

	if (is_uuid(s, n)) {
		char hex[32];
		size_t h = 0;
		for (size_t i = 0; i < n; i++)
			if (s[i] != '-')
				hex[h++] = s[i];
		out[0] = 4;
		if (put_segment(out, &o, "TEEP-Device", 11, 0) ||
		    put_segment(out, &o, "SecureFS", 8, 0) || put_segment(out, &o, hex, 32, 1) ||
		    put_segment(out, &o, "ta", 2, 0))
			return -1;
		*out_len = o;
		return 0;
	}
	for (size_t start = 0;;) {
		size_t end = start;
		while (end < n && s[end] != '/')
			end++;
		if (segs == TB_TOK_SEGMENTS_MAX)
			return -1;
		if (end - start >= 2 && s[start] == '0' && s[start + 1] == 'x') {
			if (put_segment(out, &o, s + start + 2, end - start - 2, 1))
				return -1;
		} else if (put_segment(out, &o, s + start, end - start, 0)) {
			return -1;
		}
		segs++;
		if (end == n)
			break;
		start = end + 1;
	}
	out[0] = (uint8_t)segs;
	*out_len = o;
	return 0;
}

#define CANON_MAX (1 + TB_TOK_SEGMENTS_MAX * (1 + TB_TOK_SEGMENT_MAX))

static int parse_list(struct parse *p, const char *f, struct tb_tok_list *l, const char *which)
{
	if (strcmp(f, "-") == 0)
		return TB_OK;
	if (strcmp(f, "*") == 0) {
		l->any = 1;
		return TB_OK;
	}
	l->comp = calloc(TB_TOK_LIST_MAX, sizeof(*l->comp));
	l->comp_len = calloc(TB_TOK_LIST_MAX, sizeof(*l->comp_len));
	if (!l->comp || !l->comp_len)
		return fail(p, TB_ERR_NOMEM, "out of memory");
	for (;;) {
		size_t n = strcspn(f, ",");
		uint8_t canon[CANON_MAX];
		size_t len;

		if (n == 1 && (f[0] == '*' || f[0] == '-'))
			return fail(p, TB_ERR_PARSE, "%s: \"%c\" must stand alone", which, f[0]);
		if (n == 0 || parse_component(f, n, canon, &len))
			return fail(p, TB_ERR_PARSE,
			            "%s: component %zu is not a UUID or 1..%d segments joined by "
			            "'/' (\"0x\" and hex digits, or text), each of 1..%d bytes",
			            which, l->n + 1, TB_TOK_SEGMENTS_MAX, TB_TOK_SEGMENT_MAX);
		if (l->n == TB_TOK_LIST_MAX)
			return fail(p, TB_ERR_PARSE, "%s: more than %d components", which,
			            TB_TOK_LIST_MAX);
		for (size_t i = 0; i < l->n; i++)
			if (l->comp_len[i] == len && memcmp(l->comp[i], canon, len) == 0)
				return fail(p, TB_ERR_PARSE, "%s: component %zu is listed twice",
				            which, l->n + 1);
		l->comp[l->n] = malloc(len);
		if (!l->comp[l->n])
			return fail(p, TB_ERR_NOMEM, "out of memory");
		memcpy(l->comp[l->n], canon, len);
		l->comp_len[l->n] = len;
		l->n++;
		if (!f[n])
			return TB_OK;
		f += n + 1;
	}
}

/* ---- lines ------------------------------------------------------------- */

static int new_entry(struct parse *p, struct tb_tok_entry **out)
{
	struct tb_tokens *t = p->t;

	if (t->n_entries == TB_TOK_ENTRIES_MAX)
		return fail(p, TB_ERR_TOOBIG, "more than %d app lines", TB_TOK_ENTRIES_MAX);
	if (t->n_entries == p->cap_entries) {
		size_t cap = p->cap_entries ? p->cap_entries * 2 : 16;
		struct tb_tok_entry *ne = realloc(t->entries, cap * sizeof(*ne));
		if (!ne)
			return fail(p, TB_ERR_NOMEM, "out of memory");
		t->entries = ne;
		p->cap_entries = cap;
	}
	*out = &t->entries[t->n_entries];
	memset(*out, 0, sizeof(**out));
	(*out)->line = p->line;
	return TB_OK;
}

/* One line without its '\n', checked for bad bytes already; s is writable. */
static int parse_line(struct parse *p, char *s)
{
	char *field[5];
	size_t n = 0;
	struct tb_tok_entry *e = NULL;
	int rc;

	for (char *c = s;;) {
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			break;
		if (n == 0 && *c == '#')
			return TB_OK;
		if (n == 5)
			break;
		field[n++] = c;
		while (*c && *c != ' ' && *c != '\t')
			c++;
		if (*c)
			*c++ = 0;
	}
	if (n == 0)
		return TB_OK;
	if (n != 4)
		return fail(p, TB_ERR_PARSE,
		            "expected 4 fields: TOKEN[,TOKEN...] IDENTITY REQUEST UNREQUEST");
	rc = new_entry(p, &e);
	if (rc)
		return rc;
	/* counted at once, so that tb_tokens_free() sees what it holds */
	p->t->n_entries++;
	if ((rc = parse_tokens(p, field[0], e)) || (rc = parse_identity(p, field[1], e)) ||
	    (rc = parse_list(p, field[2], &e->request, "REQUEST")) ||
	    (rc = parse_list(p, field[3], &e->unrequest, "UNREQUEST")))
		return rc;
	if (e->anonymous) {
		if (p->anonymous)
			return fail(p, TB_ERR_PARSE,
			            "a second line with token \"-\" (the first is on line %d)",
			            p->t->entries[p->anonymous - 1].line);
		p->anonymous = (size_t)(e - p->t->entries) + 1;
	}
	return TB_OK;
}

/* ---- whole file -------------------------------------------------------- */

static int cmp_identity(const void *a, const void *b, void *arg)
{
	const struct tb_tokens *t = arg;
	const struct tb_tok_entry *x = &t->entries[*(const size_t *)a];
	const struct tb_tok_entry *y = &t->entries[*(const size_t *)b];
	int c = strcmp(x->identity, y->identity);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int cmp_secret(const void *a, const void *b, void *arg)
{
	const struct tb_tokens *t = arg;
	const struct secret *x = &t->secrets[*(const size_t *)a];
	const struct secret *y = &t->secrets[*(const size_t *)b];
	int c = memcmp(x->tok, y->tok, TB_TOK_TOKEN_MAX);

	if (c)
		return c;
	return (x->entry > y->entry) - (x->entry < y->entry);
}

/* Duplicate identities and tokens, reported on the later line. */
static int finish(struct parse *p)
{
	struct tb_tokens *t = p->t;
	size_t *idx = NULL;
	int rc = TB_OK;

	/* the entries array no longer moves */
	if (p->anonymous)
		t->anonymous = &t->entries[p->anonymous - 1];
	t->by_identity = calloc(t->n_entries ? t->n_entries : 1, sizeof(*t->by_identity));
	idx = calloc(t->n_secrets ? t->n_secrets : 1, sizeof(*idx));
	if (!t->by_identity || !idx) {
		free(idx);
		p->line = 0;
		return fail(p, TB_ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < t->n_entries; i++)
		if (!t->entries[i].anonymous)
			t->by_identity[t->n_named++] = i;
	qsort_r(t->by_identity, t->n_named, sizeof(*t->by_identity), cmp_identity, t);
	for (size_t i = 1; i < t->n_named && !rc; i++) {
		const struct tb_tok_entry *a = &t->entries[t->by_identity[i - 1]];
		const struct tb_tok_entry *b = &t->entries[t->by_identity[i]];
		if (strcmp(a->identity, b->identity) == 0) {
			p->line = b->line;
			rc = fail(p, TB_ERR_PARSE, "the same identity as line %d", a->line);
		}
	}
	for (size_t i = 0; i < t->n_secrets; i++)
		idx[i] = i;
	qsort_r(idx, t->n_secrets, sizeof(*idx), cmp_secret, t);
	for (size_t i = 1; i < t->n_secrets && !rc; i++) {
		const struct secret *a = &t->secrets[idx[i - 1]];
		const struct secret *b = &t->secrets[idx[i]];
		if (a->len == b->len && memcmp(a->tok, b->tok, TB_TOK_TOKEN_MAX) == 0) {
			int la = t->entries[a->entry].line, lb = t->entries[b->entry].line;
			p->line = lb;
			rc = la == lb ? fail(p, TB_ERR_PARSE, "the same token twice on this line")
			              : fail(p, TB_ERR_PARSE, "the same token as line %d", la);
		}
	}
	free(idx);
	/* compare whole machine words */
	t->window = (t->window + 7) & ~(size_t)7;
	return rc;
}

int tb_tokens_parse(const char *text, size_t len, struct tb_tokens **out, int *err_line, char *err,
                    size_t errlen)
{
	struct parse p = {.err = err, .errlen = errlen};
	char line[TB_TOK_LINE_MAX + 1];
	size_t pos = 0;
	int rc = TB_OK;

	*out = NULL;
	*err_line = 0;
	if (errlen)
		err[0] = 0;
	if (len > TB_TOK_FILE_MAX) {
		fail(&p, TB_ERR_TOOBIG, "larger than %d bytes", TB_TOK_FILE_MAX);
		return TB_ERR_TOOBIG;
	}
	p.t = calloc(1, sizeof(*p.t));
	if (!p.t) {
		fail(&p, TB_ERR_NOMEM, "out of memory");
		return TB_ERR_NOMEM;
	}
	while (pos < len && !rc) {
		size_t n = 0;

		if (++p.line > TB_TOK_LINES_MAX) {
			rc = fail(&p, TB_ERR_TOOBIG, "more than %d lines", TB_TOK_LINES_MAX);
			break;
		}
		for (; pos + n < len && text[pos + n] != '\n'; n++) {
			unsigned char c = (unsigned char)text[pos + n];
			if (n == TB_TOK_LINE_MAX) {
				rc = fail(&p, TB_ERR_PARSE, "line longer than %d bytes",
				          TB_TOK_LINE_MAX);
				break;
			}
			if (c == '\r') {
				rc = fail(&p, TB_ERR_PARSE,
				          "carriage return: the file must have Unix line ends");
				break;
			}
			if ((c < 0x20 && c != '\t') || c >= 0x7f) {
				rc = fail(&p, TB_ERR_PARSE,
				          "a control character or a byte that is not ASCII");
				break;
			}
			line[n] = (char)c;
		}
		if (rc)
			break;
		line[n] = 0;
		pos += n + 1;
		rc = parse_line(&p, line);
	}
	explicit_bzero(line, sizeof(line));
	if (!rc)
		rc = finish(&p);
	if (rc) {
		*err_line = p.line;
		tb_tokens_free(p.t);
		return rc;
	}
	*out = p.t;
	return TB_OK;
}

static void free_list(struct tb_tok_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->comp[i]);
	free(l->comp);
	free(l->comp_len);
}

void tb_tokens_free(struct tb_tokens *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_entries; i++) {
		free_list(&t->entries[i].request);
		free_list(&t->entries[i].unrequest);
	}
	free(t->entries);
	if (t->secrets)
		explicit_bzero(t->secrets, t->n_secrets * sizeof(*t->secrets));
	free(t->secrets);
	free(t->by_identity);
	free(t);
}

size_t tb_tokens_n_entries(const struct tb_tokens *t)
{
	return t->n_entries;
}

size_t tb_tokens_n_tokens(const struct tb_tokens *t)
{
	return t->n_secrets;
}

const struct tb_tok_entry *tb_tokens_entry(const struct tb_tokens *t, size_t i)
{
	return i < t->n_entries ? &t->entries[i] : NULL;
}

/* ---- questions --------------------------------------------------------- */

const struct tb_tok_entry *tb_tokens_lookup(const struct tb_tokens *t, const char *token,
                                            size_t len)
{
	uint8_t buf[TB_TOK_TOKEN_MAX];
	uint32_t found = 0;

	/* the bounds are public: a longer token cannot be in any file */
	if (!t || !token || len == 0 || len > TB_TOK_TOKEN_MAX)
		return NULL;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, token, len);
	for (size_t i = 0; i < t->n_secrets; i++) {
		const struct secret *s = &t->secrets[i];
		uint32_t d = s->len ^ (uint32_t)len, eq;

		for (size_t j = 0; j < t->window; j++)
			d |= (uint32_t)(buf[j] ^ s->tok[j]);
		/* eq = (d == 0), without a branch on the secret */
		eq = 1u ^ ((d | (0u - d)) >> 31);
		found |= (0u - eq) & (s->entry + 1);
	}
	explicit_bzero(buf, sizeof(buf));
	return found ? &t->entries[found - 1] : NULL;
}

const struct tb_tok_entry *tb_tokens_by_identity(const struct tb_tokens *t, const char *identity)
{
	size_t lo = 0, hi = t->n_named;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tb_tok_entry *e = &t->entries[t->by_identity[mid]];
		int c = strcmp(identity, e->identity);
		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct tb_tok_entry *tb_tokens_anonymous(const struct tb_tokens *t)
{
	return t->anonymous;
}

int tb_tokens_allows(const struct tb_tok_entry *e, enum tb_tok_op op, const struct tb_bytes *segs,
                     size_t n)
{
	const struct tb_tok_list *l;
	uint8_t canon[CANON_MAX];
	size_t o = 1;

	if (op == TB_TOK_POLICY_CHECK)
		return 1;
	if (!e || (op != TB_TOK_REQUEST && op != TB_TOK_UNREQUEST))
		return 0;
	l = op == TB_TOK_REQUEST ? &e->request : &e->unrequest;
	if (l->any)
		return 1;
	if (n < 1 || n > TB_TOK_SEGMENTS_MAX)
		return 0;
	canon[0] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		if (segs[i].len < 1 || segs[i].len > TB_TOK_SEGMENT_MAX)
			return 0;
		canon[o++] = (uint8_t)segs[i].len;
		memcpy(canon + o, segs[i].ptr, segs[i].len);
		o += segs[i].len;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->comp_len[i] == o && memcmp(l->comp[i], canon, o) == 0)
			return 1;
	return 0;
}

int tb_tokens_bearer(const char *header, const char **tok, size_t *len)
{
	const char *p;
	size_t n;

	if (!header || strncasecmp(header, "Bearer", 6) != 0 || header[6] != ' ')
		return -1;
	p = header + 6;
	while (*p == ' ')
		p++;
	n = b64token_len(p);
	if (n == 0 || p[n])
		return -1;
	*tok = p;
	*len = n;
	return 0;
}

int tb_tokens_is_bearer(const char *header)
{
	if (!header)
		return 0;
	while (*header == ' ' || *header == '\t')
		header++;
	/* the scheme is a token: "Bearer" ends at a space or the end */
	return strncasecmp(header, "Bearer", 6) == 0 &&
	       (header[6] == ' ' || header[6] == '\t' || header[6] == 0);
}
