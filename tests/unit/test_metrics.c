/* The Prometheus text exposition writer (broker/metrics.c): escaping,
 * histograms, the family rules and the buffer bound. */
#include "config.h"
#include "metrics.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

static char buf[16384];

static void expect_text(struct tb_expo *e, const char *want)
{
	assert_int_equal(tb_expo_finish(e), TB_OK);
	if (strcmp(buf, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", buf, want);
	assert_int_equal(e->len, strlen(want));
}

static void metrics__counter_and_gauge__help_type_and_samples(void **state)
{
	struct tb_expo e;
	struct tb_label l[2] = {{"reason", "banned"}, {"tee", "sim"}};

	(void)state;
	tb_expo_init(&e, buf, sizeof(buf));
	tb_expo_family(&e, "teep_refused_total", TB_METRIC_COUNTER, "Connections refused.");
	tb_expo_u64(&e, l, 1, 3);
	tb_expo_u64(&e, l, 2, 18446744073709551615ull);
	tb_expo_one(&e, "teep_open", TB_METRIC_GAUGE, "Open now.", 0);
	tb_expo_family(&e, "teep_ratio", TB_METRIC_GAUGE, "");
	tb_expo_double(&e, NULL, 0, 0.25);
	expect_text(&e, "# HELP teep_refused_total Connections refused.\n"
	                "# TYPE teep_refused_total counter\n"
	                "teep_refused_total{reason=\"banned\"} 3\n"
	                "teep_refused_total{reason=\"banned\",tee=\"sim\"} 18446744073709551615\n"
	                "# HELP teep_open Open now.\n"
	                "# TYPE teep_open gauge\n"
	                "teep_open 0\n"
	                "# HELP teep_ratio \n"
	                "# TYPE teep_ratio gauge\n"
	                "teep_ratio 0.25\n");
}

static void metrics__escaping__label_values_and_help(void **state)
{
	struct tb_expo e;
	struct tb_label l[1] = {{"tee", "a\\b\"c\nd"}};

	(void)state;
	tb_expo_init(&e, buf, sizeof(buf));
	tb_expo_family(&e, "x", TB_METRIC_GAUGE, "back\\slash \"quoted\"\nnext line");
	tb_expo_u64(&e, l, 1, 1);
	tb_expo_family(&e, "y", TB_METRIC_GAUGE, "h");
	struct tb_label empty[1] = {{"v", ""}};
	tb_expo_u64(&e, empty, 1, 2);
	/* HELP escapes \ and newline only; label values \ " and newline */
	expect_text(&e, "# HELP x back\\\\slash \"quoted\"\\nnext line\n"
	                "# TYPE x gauge\n"
	                "x{tee=\"a\\\\b\\\"c\\nd\"} 1\n"
	                "# HELP y h\n"
	                "# TYPE y gauge\n"
	                "y{v=\"\"} 2\n");
}

static void metrics__histogram__cumulative_buckets_inf_sum_count(void **state)
{
	static const double bounds[] = {0.1, 1, 10};
	struct tb_histogram h;
	struct tb_expo e;
	struct tb_label l[1] = {{"tam", "default"}};

	(void)state;
	assert_int_equal(tb_hist_init(&h, bounds, 3), TB_OK);
	tb_hist_observe(&h, 0.05);
	tb_hist_observe(&h, 0.1); /* on a bound: in that bucket (le) */
	tb_hist_observe(&h, 0.5);
	tb_hist_observe(&h, 20);
	tb_hist_observe(&h, NAN); /* not counted */
	assert_int_equal(h.count, 4);
	tb_expo_init(&e, buf, sizeof(buf));
	tb_expo_family(&e, "teep_tam_seconds", TB_METRIC_HISTOGRAM, "POST latency.");
	tb_expo_hist(&e, l, 1, &h);
	tb_expo_hist(&e, NULL, 0, &h);
	expect_text(&e, "# HELP teep_tam_seconds POST latency.\n"
	                "# TYPE teep_tam_seconds histogram\n"
	                "teep_tam_seconds_bucket{tam=\"default\",le=\"0.1\"} 2\n"
	                "teep_tam_seconds_bucket{tam=\"default\",le=\"1\"} 3\n"
	                "teep_tam_seconds_bucket{tam=\"default\",le=\"10\"} 3\n"
	                "teep_tam_seconds_bucket{tam=\"default\",le=\"+Inf\"} 4\n"
	                "teep_tam_seconds_sum{tam=\"default\"} 20.65\n"
	                "teep_tam_seconds_count{tam=\"default\"} 4\n"
	                "teep_tam_seconds_bucket{le=\"0.1\"} 2\n"
	                "teep_tam_seconds_bucket{le=\"1\"} 3\n"
	                "teep_tam_seconds_bucket{le=\"10\"} 3\n"
	                "teep_tam_seconds_bucket{le=\"+Inf\"} 4\n"
	                "teep_tam_seconds_sum 20.65\n"
	                "teep_tam_seconds_count 4\n");
}

static void metrics__histogram__empty_and_bounds_checked(void **state)
{
	static const double fine[] = {0.0001, 0.005, 2.5};
	static const double flat[] = {1, 1};
	static const double down[] = {2, 1};
	double nan[] = {NAN};
	double many[TB_HIST_MAX_BOUNDS + 1];
	struct tb_histogram h;
	struct tb_expo e;

	(void)state;
	for (size_t i = 0; i < TB_HIST_MAX_BOUNDS + 1; i++)
		many[i] = (double)i;
	assert_int_equal(tb_hist_init(&h, flat, 2), TB_ERR_INVAL);
	assert_int_equal(h.n_bounds, 0);
	assert_int_equal(tb_hist_init(&h, down, 2), TB_ERR_INVAL);
	assert_int_equal(tb_hist_init(&h, nan, 1), TB_ERR_INVAL);
	assert_int_equal(tb_hist_init(&h, many, TB_HIST_MAX_BOUNDS + 1), TB_ERR_INVAL);
	assert_int_equal(tb_hist_init(&h, many, TB_HIST_MAX_BOUNDS), TB_OK);
	assert_int_equal(tb_hist_init(&h, fine, 3), TB_OK);
	tb_expo_init(&e, buf, sizeof(buf));
	tb_expo_family(&e, "h", TB_METRIC_HISTOGRAM, "");
	tb_expo_hist(&e, NULL, 0, &h);
	/* bounds in their shortest form; an empty histogram has every line */
	expect_text(&e, "# HELP h \n"
	                "# TYPE h histogram\n"
	                "h_bucket{le=\"0.0001\"} 0\n"
	                "h_bucket{le=\"0.005\"} 0\n"
	                "h_bucket{le=\"2.5\"} 0\n"
	                "h_bucket{le=\"+Inf\"} 0\n"
	                "h_sum 0\n"
	                "h_count 0\n");
}

static int write_one_mistake(int which)
{
	static const double bounds[] = {1};
	struct tb_histogram h;
	struct tb_expo e;
	struct tb_label bad[2] = {{"a", "x"}, {"a", "y"}};

	tb_hist_init(&h, bounds, 1);
	tb_expo_init(&e, buf, sizeof(buf));
	switch (which) {
	case 0: /* a sample before any family */
		tb_expo_u64(&e, NULL, 0, 1);
		break;
	case 1: /* a second TYPE for one family */
		tb_expo_one(&e, "f", TB_METRIC_COUNTER, "", 1);
		tb_expo_one(&e, "g", TB_METRIC_COUNTER, "", 1);
		tb_expo_one(&e, "f", TB_METRIC_GAUGE, "", 1);
		break;
	case 2:
		tb_expo_family(&e, "1f", TB_METRIC_GAUGE, "");
		break;
	case 3:
		tb_expo_family(&e, "f-g", TB_METRIC_GAUGE, "");
		break;
	case 4:
		tb_expo_family(&e, "", TB_METRIC_GAUGE, "");
		break;
	case 5: /* a histogram's samples in a counter family */
		tb_expo_family(&e, "f", TB_METRIC_COUNTER, "");
		tb_expo_hist(&e, NULL, 0, &h);
		break;
	case 6: /* a plain sample in a histogram family */
		tb_expo_family(&e, "f", TB_METRIC_HISTOGRAM, "");
		tb_expo_u64(&e, NULL, 0, 1);
		break;
	case 7: /* a label twice */
		tb_expo_family(&e, "f", TB_METRIC_GAUGE, "");
		tb_expo_u64(&e, bad, 2, 1);
		break;
	default: { /* label names: reserved, "le", not in the grammar */
		const char *names[] = {"__name", "le", "1a", "a-b", "", NULL};
		struct tb_label l[1] = {{names[which - 8], "v"}};
		tb_expo_family(&e, "f", TB_METRIC_GAUGE, "");
		tb_expo_u64(&e, l, 1, 1);
		break;
	}
	}
	/* nothing more is written after a mistake */
	size_t len = e.len;
	tb_expo_one(&e, "later", TB_METRIC_GAUGE, "", 1);
	assert_int_equal(e.len, len);
	return tb_expo_finish(&e);
}

static void metrics__family_and_name_rules__refused(void **state)
{
	(void)state;
	for (int i = 0; i < 14; i++) {
		if (write_one_mistake(i) != TB_ERR_INVAL)
			fail_msg("mistake %d was not refused", i);
	}
	/* names the grammar allows */
	struct tb_expo e;
	struct tb_label l[1] = {{"_a9", "v"}};
	tb_expo_init(&e, buf, sizeof(buf));
	tb_expo_family(&e, "a:b_c9", TB_METRIC_GAUGE, "");
	tb_expo_u64(&e, l, 1, 1);
	tb_expo_family(&e, "_x", TB_METRIC_GAUGE, "");
	assert_int_equal(tb_expo_finish(&e), TB_OK);
}

static void metrics__buffer__bounded_at_every_size(void **state)
{
	static const double bounds[] = {0.5, 1};
	struct tb_histogram h;
	struct tb_label l[1] = {{"tee", "sim\"1"}};
	char small[2048];
	size_t full = 0;

	(void)state;
	tb_hist_init(&h, bounds, 2);
	tb_hist_observe(&h, 0.7);
	/* cap = full size + 1 fits (the NUL); every smaller one is TOOBIG and
	 * no byte is written at or after cap */
	for (size_t cap = 0; cap < sizeof(small); cap++) {
		struct tb_expo e;
		memset(small, 'Z', sizeof(small));
		tb_expo_init(&e, cap ? small : NULL, cap);
		tb_expo_family(&e, "teep_calls", TB_METRIC_HISTOGRAM, "Calls.");
		tb_expo_hist(&e, l, 1, &h);
		tb_expo_one(&e, "teep_up", TB_METRIC_GAUGE, "Up.", 1);
		for (size_t i = cap; i < sizeof(small); i++)
			assert_int_equal(small[i], 'Z');
		if (tb_expo_finish(&e) == TB_OK) {
			full = e.len;
			assert_int_equal(cap, full + 1);
			assert_int_equal(strlen(small), full);
			break;
		}
		assert_int_equal(tb_expo_finish(&e), TB_ERR_TOOBIG);
		assert_true(e.len < cap || cap == 0);
	}
	assert_true(full > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(metrics__counter_and_gauge__help_type_and_samples),
	    cmocka_unit_test(metrics__escaping__label_values_and_help),
	    cmocka_unit_test(metrics__histogram__cumulative_buckets_inf_sum_count),
	    cmocka_unit_test(metrics__histogram__empty_and_bounds_checked),
	    cmocka_unit_test(metrics__family_and_name_rules__refused),
	    cmocka_unit_test(metrics__buffer__bounded_at_every_size),
	};
	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
