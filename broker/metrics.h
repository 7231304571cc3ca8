/*
 * The Prometheus text exposition format, version 0.0.4, written into a
 * bounded buffer: metric families with their # HELP and # TYPE lines,
 * samples with quoted and escaped label values, histograms with cumulative
 * buckets ending in +Inf and their _sum and _count. Pure: no I/O, no clock,
 * no libwebsockets; scrape.c reads the broker's state into it.
 *
 * The writer checks what it writes: metric and label names against the
 * format's grammar, one TYPE per family, every sample inside the family
 * declared last, and the buffer's end. After the first problem it writes
 * nothing more and tb_expo_finish() says what went wrong, so a caller
 * serves either a whole, valid exposition or none.
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define TB_HIST_MAX_BOUNDS   16   /* upper bounds of one histogram */
#define TB_EXPO_MAX_NAME     96   /* bytes of a metric name, NUL included */
#define TB_EXPO_MAX_LABELS   4    /* labels of one sample, "le" not included */
#define TB_EXPO_FAMILY_NAMES 8192 /* bytes of all family names of one exposition */
#define TB_EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum tb_metric_type { TB_METRIC_COUNTER, TB_METRIC_GAUGE, TB_METRIC_HISTOGRAM };

/* A histogram of observations (seconds, say) against fixed upper bounds. */
struct tb_histogram {
	const double *bounds;                    /* strictly increasing, finite */
	size_t n_bounds;                         /* 0..TB_HIST_MAX_BOUNDS */
	uint64_t counts[TB_HIST_MAX_BOUNDS + 1]; /* per bucket (not cumulative);
	                                            the last: above every bound */
	double sum;
	uint64_t count;
};

/* TB_OK, or TB_ERR_INVAL (too many bounds, not increasing, not finite); h
 * is zeroed either way, with no bounds when they are refused. */
int tb_hist_init(struct tb_histogram *h, const double *bounds, size_t n);
/* One observation: into the first bucket whose bound is >= v. */
void tb_hist_observe(struct tb_histogram *h, double v);

struct tb_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, not starting "__", not "le" */
	const char *value; /* any UTF-8; escaped when written */
};

struct tb_expo {
	char *buf;
	size_t cap, len;
	int error; /* the first problem (enum tb_status), TB_OK while none */
	char family[TB_EXPO_MAX_NAME];
	enum tb_metric_type type;
	char names[TB_EXPO_FAMILY_NAMES]; /* the families so far, NUL separated */
	size_t names_len;
};

void tb_expo_init(struct tb_expo *e, char *buf, size_t cap);
/* Start a family: its # HELP and # TYPE lines. A name seen before, or not
 * a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), is an error (TB_ERR_INVAL). */
void tb_expo_family(struct tb_expo *e, const char *name, enum tb_metric_type type,
                    const char *help);
/* One sample of the current counter or gauge family: name{labels} value. */
void tb_expo_u64(struct tb_expo *e, const struct tb_label *labels, size_t n, uint64_t v);
void tb_expo_double(struct tb_expo *e, const struct tb_label *labels, size_t n, double v);
/* The samples of one histogram of the current histogram family: a
 * name_bucket{labels,le="B"} line per bound and le="+Inf", cumulative,
 * then name_sum and name_count. */
void tb_expo_hist(struct tb_expo *e, const struct tb_label *labels, size_t n,
                  const struct tb_histogram *h);
/* A family with one unlabelled sample. */
void tb_expo_one(struct tb_expo *e, const char *name, enum tb_metric_type type, const char *help,
                 uint64_t v);
/* TB_OK: buf holds e->len bytes of exposition (NUL terminated when there is
 * room). Else the first error: TB_ERR_TOOBIG when the buffer was too small,
 * TB_ERR_INVAL for a name, label or family mistake. */
int tb_expo_finish(const struct tb_expo *e);

#endif
