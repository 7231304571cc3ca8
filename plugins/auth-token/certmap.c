/*
 * The certificate map of the auth-token plugin (certmap.h).
 */
#include "config.h"
#include "certmap.h"

#include <teep-broker/driver.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct entry {
	int line;
	int by_fingerprint; /* key is 64 lower-case hex digits */
	char identity[TB_CERTMAP_ID_MAX + 1];
	char *key; /* the fingerprint or the subject */
};

struct tb_certmap {
	struct entry *e;
	size_t n;
	size_t *sorted; /* indexes, by (by_fingerprint, key) */
};

static int fail(int *err_line, int line, char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int fail(int *err_line, int line, char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	*err_line = line;
	return rc;
}

static int identity_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || c == '@' ||
	       c == ':';
}

static int cmp_entry(const void *a, const void *b, void *arg)
{
	const struct tb_certmap *m = arg;
	const struct entry *x = &m->e[*(const size_t *)a];
	const struct entry *y = &m->e[*(const size_t *)b];
	if (x->by_fingerprint != y->by_fingerprint)
		return x->by_fingerprint - y->by_fingerprint;
	return strcmp(x->key, y->key);
}

/* One line without its end: IDENTITY, blanks, the certificate. */
static int parse_line(struct tb_certmap *m, const char *s, size_t len, int line, int *err_line,
                      char *err, size_t errlen)
{
	size_t i = 0, id_len, k0;
	struct entry *e;

	for (size_t j = 0; j < len; j++)
		if ((unsigned char)s[j] >= 0x7f || ((unsigned char)s[j] < 0x20 && s[j] != '\t'))
			return fail(err_line, line, err, errlen, TB_ERR_PARSE,
			            "a control character or a non-ASCII byte");
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] == '#')
		return TB_OK;
	if (m->n == TB_CERTMAP_ENTRIES_MAX)
		return fail(err_line, line, err, errlen, TB_ERR_PARSE, "more than %d certificates",
		            TB_CERTMAP_ENTRIES_MAX);
	id_len = 0;
	while (i + id_len < len && s[i + id_len] != ' ' && s[i + id_len] != '\t')
		id_len++;
	if (id_len < 1 || id_len > TB_CERTMAP_ID_MAX)
		return fail(err_line, line, err, errlen, TB_ERR_PARSE,
		            "an identity must be 1..%d characters long", TB_CERTMAP_ID_MAX);
	for (size_t j = 0; j < id_len; j++)
		if (!identity_char(s[i + j]))
			return fail(err_line, line, err, errlen, TB_ERR_PARSE,
			            "an identity may only hold A-Z a-z 0-9 . _ - @ :");
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	e->line = line;
	memcpy(e->identity, s + i, id_len);
	e->identity[id_len] = '\0';
	i += id_len;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	while (len > i && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	k0 = i;
	if (k0 == len)
		return fail(err_line, line, err, errlen, TB_ERR_PARSE,
		            "expected IDENTITY then the certificate (sha256:HEX or its subject)");
	if (len - k0 >= 7 && !strncasecmp(s + k0, "sha256:", 7)) {
		if (len - k0 - 7 != 64)
			return fail(err_line, line, err, errlen, TB_ERR_PARSE,
			            "sha256: must be followed by 64 hex digits");
		e->key = malloc(65);
		if (!e->key)
			return fail(err_line, 0, err, errlen, TB_ERR_NOMEM, "out of memory");
		for (size_t j = 0; j < 64; j++) {
			char c = s[k0 + 7 + j];
			if (!isxdigit((unsigned char)c)) {
				free(e->key);
				e->key = NULL;
				return fail(err_line, line, err, errlen, TB_ERR_PARSE,
				            "sha256: must be followed by 64 hex digits");
			}
			e->key[j] = (char)tolower((unsigned char)c);
		}
		e->key[64] = '\0';
		e->by_fingerprint = 1;
	} else {
		if (len - k0 > TB_CERTMAP_SUBJECT_MAX)
			return fail(err_line, line, err, errlen, TB_ERR_PARSE,
			            "a subject is at most %d bytes", TB_CERTMAP_SUBJECT_MAX);
		if (!memchr(s + k0, '=', len - k0))
			return fail(
			    err_line, line, err, errlen, TB_ERR_PARSE,
			    "the certificate is sha256:HEX or a subject such as CN=app,O=Example");
		e->key = strndup(s + k0, len - k0);
		if (!e->key)
			return fail(err_line, 0, err, errlen, TB_ERR_NOMEM, "out of memory");
	}
	m->n++;
	return TB_OK;
}

int tb_certmap_parse(const char *text, size_t len, struct tb_certmap **out, int *err_line,
                     char *err, size_t errlen)
{
	struct tb_certmap *m;
	int line = 0, rc = TB_OK;
	size_t pos = 0;

	*out = NULL;
	*err_line = 0;
	if (len > TB_CERTMAP_FILE_MAX)
		return fail(err_line, 0, err, errlen, TB_ERR_TOOBIG, "larger than %d bytes",
		            TB_CERTMAP_FILE_MAX);
	m = calloc(1, sizeof(*m));
	if (!m)
		return fail(err_line, 0, err, errlen, TB_ERR_NOMEM, "out of memory");
	/* sized once: at most one entry per line, and a bounded count */
	m->e = calloc(TB_CERTMAP_ENTRIES_MAX, sizeof(*m->e));
	if (!m->e) {
		free(m);
		return fail(err_line, 0, err, errlen, TB_ERR_NOMEM, "out of memory");
	}
	while (pos < len && rc == TB_OK) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (++line > TB_CERTMAP_LINES_MAX) {
			rc = fail(err_line, line, err, errlen, TB_ERR_PARSE, "more than %d lines",
			          TB_CERTMAP_LINES_MAX);
			break;
		}
		rc = parse_line(m, text + pos, l, line, err_line, err, errlen);
		pos += l + (nl ? 1 : 0);
	}
	if (rc == TB_OK) {
		m->sorted = calloc(m->n ? m->n : 1, sizeof(*m->sorted));
		if (!m->sorted)
			rc = fail(err_line, 0, err, errlen, TB_ERR_NOMEM, "out of memory");
	}
	if (rc == TB_OK) {
		for (size_t i = 0; i < m->n; i++)
			m->sorted[i] = i;
		qsort_r(m->sorted, m->n, sizeof(*m->sorted), cmp_entry, m);
		for (size_t i = 1; i < m->n && rc == TB_OK; i++) {
			const struct entry *a = &m->e[m->sorted[i - 1]];
			const struct entry *b = &m->e[m->sorted[i]];
			if (a->by_fingerprint == b->by_fingerprint && !strcmp(a->key, b->key))
				rc = fail(err_line, a->line > b->line ? a->line : b->line, err,
				          errlen, TB_ERR_PARSE, "the same certificate as line %d",
				          a->line < b->line ? a->line : b->line);
		}
	}
	if (rc != TB_OK) {
		tb_certmap_free(m);
		return rc;
	}
	*out = m;
	return TB_OK;
}

void tb_certmap_free(struct tb_certmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].key);
	free(m->e);
	free(m->sorted);
	free(m);
}

size_t tb_certmap_n(const struct tb_certmap *m)
{
	return m ? m->n : 0;
}

const char *tb_certmap_identity(const struct tb_certmap *m, size_t i, int *line)
{
	if (!m || i >= m->n)
		return NULL;
	if (line)
		*line = m->e[i].line;
	return m->e[i].identity;
}

static const char *find(const struct tb_certmap *m, int by_fingerprint, const char *key)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct entry *e = &m->e[m->sorted[mid]];
		int c = by_fingerprint != e->by_fingerprint ? by_fingerprint - e->by_fingerprint
		                                            : strcmp(key, e->key);
		if (c == 0)
			return e->identity;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *tb_certmap_lookup(const struct tb_certmap *m, const char *subject, const char *sha256)
{
	const char *id = NULL;
	if (!m)
		return NULL;
	if (sha256 && strlen(sha256) == 64) {
		char low[65];
		for (size_t i = 0; i < 64; i++)
			low[i] = (char)tolower((unsigned char)sha256[i]);
		low[64] = '\0';
		id = find(m, 1, low);
	}
	if (!id && subject)
		id = find(m, 0, subject);
	return id;
}
