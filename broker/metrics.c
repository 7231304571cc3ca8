/*
 * The Prometheus text exposition format, version 0.0.4 (metrics.h).
 *
 *   # HELP name text            text: \ and newline escaped
 *   # TYPE name counter|gauge|histogram
 *   name{label="value",...} 1   value: \ " and newline escaped
 */
#include "config.h"
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

int tb_hist_init(struct tb_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	if (n > TB_HIST_MAX_BOUNDS || (n && !bounds))
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return TB_ERR_INVAL;
	}
	h->bounds = bounds;
	h->n_bounds = n;
	return TB_OK;
}

void tb_hist_observe(struct tb_histogram *h, double v)
{
	size_t i = 0;

	if (isnan(v))
		return;
	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* ---- the writer --------------------------------------------------------- */

static void fail(struct tb_expo *e, int error)
{
	if (e->error == TB_OK)
		e->error = error;
}

static void put(struct tb_expo *e, const char *s, size_t n)
{
	if (e->error != TB_OK)
		return;
	/* one byte kept for the NUL */
	if (n >= e->cap - e->len) {
		fail(e, TB_ERR_TOOBIG);
		return;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = 0;
}

static void puts_(struct tb_expo *e, const char *s)
{
	put(e, s, strlen(s));
}

static void putf(struct tb_expo *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct tb_expo *e, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fail(e, TB_ERR_INVAL);
		return;
	}
	put(e, tmp, (size_t)n);
}

/* label 1: label values escape \ " and newline; 0: HELP escapes \ and
 * newline only */
static void put_escaped(struct tb_expo *e, const char *s, int label)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && label)
			rep = "\\\"";
		if (!rep)
			continue;
		put(e, run, (size_t)(s - run));
		puts_(e, rep);
		run = s + 1;
	}
	put(e, run, (size_t)(s - run));
}

static int metric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TB_EXPO_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alpha =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!alpha && !(i && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static int label_name_ok(const char *s)
{
	if (!s || !*s || strncmp(s, "__", 2) == 0 || strcmp(s, "le") == 0)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

/* The shortest text that reads back as v, or +Inf, -Inf, NaN. */
static const char *fmt_double(char *tmp, size_t cap, double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "+Inf" : "-Inf";
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(tmp, cap, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	return tmp;
}

static void put_double(struct tb_expo *e, double v)
{
	char tmp[40];

	puts_(e, fmt_double(tmp, sizeof(tmp), v));
}

void tb_expo_init(struct tb_expo *e, char *buf, size_t cap)
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	e->cap = cap;
	e->family[0] = 0;
	if (!buf || cap == 0)
		e->error = TB_ERR_TOOBIG;
	else
		buf[0] = 0;
}

void tb_expo_family(struct tb_expo *e, const char *name, enum tb_metric_type type, const char *help)
{
	static const char *const types[] = {
	    [TB_METRIC_COUNTER] = "counter",
	    [TB_METRIC_GAUGE] = "gauge",
	    [TB_METRIC_HISTOGRAM] = "histogram",
	};
	size_t n;

	if (e->error != TB_OK)
		return;
	if (!name || !metric_name_ok(name) || (unsigned)type > TB_METRIC_HISTOGRAM) {
		fail(e, TB_ERR_INVAL);
		return;
	}
	/* one TYPE per family */
	for (size_t o = 0; o < e->names_len; o += strlen(e->names + o) + 1) {
		if (strcmp(e->names + o, name) == 0) {
			fail(e, TB_ERR_INVAL);
			return;
		}
	}
	n = strlen(name) + 1;
	if (n > sizeof(e->names) - e->names_len) {
		fail(e, TB_ERR_TOOBIG);
		return;
	}
	memcpy(e->names + e->names_len, name, n);
	e->names_len += n;
	memcpy(e->family, name, n);
	e->type = type;
	puts_(e, "# HELP ");
	puts_(e, name);
	puts_(e, " ");
	put_escaped(e, help ? help : "", 0);
	puts_(e, "\n# TYPE ");
	puts_(e, name);
	puts_(e, " ");
	puts_(e, types[type]);
	puts_(e, "\n");
}

/* name{labels[,le="B"]} (the value follows) */
static void sample_head(struct tb_expo *e, const char *suffix, const struct tb_label *labels,
                        size_t n, const char *le)
{
	if (n > TB_EXPO_MAX_LABELS || (n && !labels)) {
		fail(e, TB_ERR_INVAL);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!label_name_ok(labels[i].name) || !labels[i].value) {
			fail(e, TB_ERR_INVAL);
			return;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(labels[i].name, labels[j].name) == 0) {
				fail(e, TB_ERR_INVAL);
				return;
			}
		}
	}
	puts_(e, e->family);
	puts_(e, suffix);
	if (n || le) {
		puts_(e, "{");
		for (size_t i = 0; i < n; i++) {
			if (i)
				puts_(e, ",");
			puts_(e, labels[i].name);
			puts_(e, "=\"");
			put_escaped(e, labels[i].value, 1);
			puts_(e, "\"");
		}
		if (le) {
			puts_(e, n ? ",le=\"" : "le=\"");
			puts_(e, le);
			puts_(e, "\"");
		}
		puts_(e, "}");
	}
	puts_(e, " ");
}

static int scalar_family(struct tb_expo *e)
{
	if (e->error != TB_OK)
		return 0;
	if (!e->family[0] || e->type == TB_METRIC_HISTOGRAM) {
		fail(e, TB_ERR_INVAL);
		return 0;
	}
	return 1;
}

void tb_expo_u64(struct tb_expo *e, const struct tb_label *labels, size_t n, uint64_t v)
{
	if (!scalar_family(e))
		return;
	sample_head(e, "", labels, n, NULL);
	putf(e, "%llu\n", (unsigned long long)v);
}

void tb_expo_double(struct tb_expo *e, const struct tb_label *labels, size_t n, double v)
{
	if (!scalar_family(e))
		return;
	sample_head(e, "", labels, n, NULL);
	put_double(e, v);
	puts_(e, "\n");
}

void tb_expo_hist(struct tb_expo *e, const struct tb_label *labels, size_t n,
                  const struct tb_histogram *h)
{
	uint64_t cum = 0;
	char le[40];

	if (e->error != TB_OK)
		return;
	if (!e->family[0] || e->type != TB_METRIC_HISTOGRAM || !h ||
	    h->n_bounds > TB_HIST_MAX_BOUNDS) {
		fail(e, TB_ERR_INVAL);
		return;
	}
	for (size_t i = 0; i < h->n_bounds; i++) {
		cum += h->counts[i];
		sample_head(e, "_bucket", labels, n, fmt_double(le, sizeof(le), h->bounds[i]));
		putf(e, "%llu\n", (unsigned long long)cum);
	}
	cum += h->counts[h->n_bounds];
	sample_head(e, "_bucket", labels, n, "+Inf");
	putf(e, "%llu\n", (unsigned long long)cum);
	sample_head(e, "_sum", labels, n, NULL);
	put_double(e, h->sum);
	puts_(e, "\n");
	sample_head(e, "_count", labels, n, NULL);
	/* count is the +Inf bucket, whatever h->count says */
	putf(e, "%llu\n", (unsigned long long)cum);
}

void tb_expo_one(struct tb_expo *e, const char *name, enum tb_metric_type type, const char *help,
                 uint64_t v)
{
	tb_expo_family(e, name, type, help);
	tb_expo_u64(e, NULL, 0, v);
}

int tb_expo_finish(const struct tb_expo *e)
{
	return e->error;
}
