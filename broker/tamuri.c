/*
 * TAM URI normalisation and the allowlist match (tamuri.h).
 */
#include "config.h"
#include "tamuri.h"

#include <teep-broker/driver.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Appends to a bounded buffer; remembers when something did not fit. */
struct out {
	char *buf;
	size_t cap, len;
	int full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = 0;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int normalise(const char *uri, char *out, size_t cap)
{
	struct out o = {.buf = out, .cap = cap};
	const char *p, *auth_end, *host_end, *port;
	unsigned long defport;
	size_t n;

	/* printable ASCII only, as the app API asks of a TAM hint */
	for (p = uri; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return TB_ERR_INVAL;
	if (strncasecmp(uri, "https://", 8) == 0) {
		put(&o, "https://", 8);
		p = uri + 8;
		defport = 443;
	} else if (strncasecmp(uri, "http://", 7) == 0) {
		put(&o, "http://", 7);
		p = uri + 7;
		defport = 80;
	} else {
		return TB_ERR_INVAL;
	}
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)))
		return TB_ERR_INVAL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(auth_end - p));
		if (!close || close == p + 1)
			return TB_ERR_INVAL;
		host_end = close + 1;
		if (host_end != auth_end && *host_end != ':')
			return TB_ERR_INVAL;
	} else {
		host_end = memchr(p, ':', (size_t)(auth_end - p));
		if (!host_end)
			host_end = auth_end;
	}
	if (host_end == p)
		return TB_ERR_INVAL;
	for (const char *h = p; h < host_end; h++) {
		char c = lower(*h);
		put(&o, &c, 1);
	}
	/* the port, after the ':'; "http://host:" has an empty one, which is
	 * the default (RFC 3986 section 6.2.3) */
	port = host_end < auth_end ? host_end + 1 : auth_end;
	if (port < auth_end) {
		unsigned long v = 0;
		for (const char *d = port; d < auth_end; d++) {
			if (*d < '0' || *d > '9')
				return TB_ERR_INVAL;
			v = v * 10 + (unsigned long)(*d - '0');
			if (v > 65535)
				return TB_ERR_INVAL;
		}
		if (v == 0)
			return TB_ERR_INVAL;
		if (v != defport) {
			char num[8];
			int k = snprintf(num, sizeof(num), ":%lu", v);
			put(&o, num, (size_t)k);
		}
	}
	if (*auth_end != '/')
		put(&o, "/", 1);
	n = strlen(auth_end);
	put(&o, auth_end, n);
	return o.full ? TB_ERR_TOOBIG : TB_OK;
}

int tb_tamuri_normalise(const char *uri, char *out, size_t cap)
{
	int rc;

	if (!out || !cap)
		return TB_ERR_INVAL;
	out[0] = 0;
	if (!uri)
		return TB_ERR_INVAL;
	rc = normalise(uri, out, cap);
	if (rc != TB_OK)
		out[0] = 0; /* never half a URI */
	return rc;
}

/* The next entry of a list: its start and length; 0 at the end. */
static size_t next_entry(const char **s)
{
	*s += strspn(*s, ", \t");
	return strcspn(*s, ", \t");
}

int tb_tamuri_list_check(const char *list, size_t *n)
{
	char entry[TB_TAMURI_MAX], norm[TB_TAMURI_MAX];
	size_t len;

	*n = 0;
	if (!list)
		return TB_ERR_INVAL;
	for (const char *s = list; (len = next_entry(&s)) != 0; s += len) {
		if (len >= sizeof(entry))
			return TB_ERR_INVAL;
		memcpy(entry, s, len);
		entry[len] = 0;
		if (tb_tamuri_normalise(entry, norm, sizeof(norm)) != TB_OK)
			return TB_ERR_INVAL;
		(*n)++;
	}
	return *n ? TB_OK : TB_ERR_INVAL;
}

int tb_tamuri_in_list(const char *uri, const char *list)
{
	char want[TB_TAMURI_MAX], entry[TB_TAMURI_MAX], norm[TB_TAMURI_MAX];
	size_t len;

	if (!uri || !list || tb_tamuri_normalise(uri, want, sizeof(want)) != TB_OK)
		return 0;
	for (const char *s = list; (len = next_entry(&s)) != 0; s += len) {
		if (len >= sizeof(entry))
			continue;
		memcpy(entry, s, len);
		entry[len] = 0;
		if (tb_tamuri_normalise(entry, norm, sizeof(norm)) == TB_OK &&
		    strcmp(norm, want) == 0)
			return 1;
	}
	return 0;
}

int tb_tamuri_equal(const char *a, const char *b)
{
	char na[TB_TAMURI_MAX], nb[TB_TAMURI_MAX];

	return a && b && tb_tamuri_normalise(a, na, sizeof(na)) == TB_OK &&
	       tb_tamuri_normalise(b, nb, sizeof(nb)) == TB_OK && strcmp(na, nb) == 0;
}
