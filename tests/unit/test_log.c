/* Unit tests of lib/log.c: logging never blocks on a stalled reader of
 * stderr, counts and reports what it drops, keeps lines whole and in order.
 * Logging is process-wide, so the tests share it and run in this order;
 * stderr is a pipe while they log, restored before they check. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_S 60 /* a blocked logger ends the program, so the test fails */
#define END_LINE   "test: notice: END\n"

struct capture {
	int saved_stderr;
	int rd; /* the pipe's read end; stderr is its write end */
	char *buf;
	size_t len, cap;
	pthread_t reader;
};

static void capture_start(struct capture *c)
{
	int p[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(p), 0);
	c->saved_stderr = dup(STDERR_FILENO);
	assert_true(c->saved_stderr >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
	close(p[1]);
	c->rd = p[0];
	c->cap = 1 << 20;
	c->buf = malloc(c->cap);
	assert_non_null(c->buf);
}

static int ends_with_end_line(const struct capture *c)
{
	size_t n = strlen(END_LINE);
	return c->len >= n && memcmp(c->buf + c->len - n, END_LINE, n) == 0;
}

/* Reads the pipe until the END line. */
static void *reader_main(void *arg)
{
	struct capture *c = arg;

	while (!ends_with_end_line(c)) {
		if (c->len == c->cap) {
			char *nb = c->cap < (64u << 20) ? realloc(c->buf, c->cap * 2) : NULL;
			if (!nb)
				break;
			c->buf = nb;
			c->cap *= 2;
		}
		ssize_t r = read(c->rd, c->buf + c->len, c->cap - c->len);
		if (r <= 0)
			break;
		c->len += (size_t)r;
	}
	return NULL;
}

static void reader_start(struct capture *c)
{
	assert_int_equal(pthread_create(&c->reader, NULL, reader_main, c), 0);
}

/* Logs the END line, waits for the reader to see it, restores stderr. */
static int capture_end(struct capture *c)
{
	int flushed = tb_log_flush(20000); /* room for the END line */

	tb_log(TB_LOG_NOTICE, "END");
	if (tb_log_flush(20000))
		flushed = -1;
	pthread_join(c->reader, NULL);
	dup2(c->saved_stderr, STDERR_FILENO);
	close(c->saved_stderr);
	close(c->rd);
	return flushed;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Line i: its number, then a pad of a length and letter that depend on i. */
static size_t pad_len(unsigned i)
{
	return (i * 37u) % 400u;
}

static void log_numbered(unsigned i)
{
	char pad[512];
	size_t n = pad_len(i);

	memset(pad, 'a' + (int)(i % 26), n);
	pad[n] = '\0';
	tb_log(TB_LOG_NOTICE, "line %u %s", i, pad);
}

/* Is this line "test: notice: line I PAD" for some I, intact? */
static int parse_numbered(const char *line, size_t len, unsigned *i)
{
	static const char pre[] = "test: notice: line ";
	char *end;

	if (len < sizeof(pre) - 1 || memcmp(line, pre, sizeof(pre) - 1))
		return 0;
	unsigned long v = strtoul(line + sizeof(pre) - 1, &end, 10);
	if (*end != ' ')
		return 0;
	end++;
	size_t n = pad_len((unsigned)v);
	if ((size_t)(line + len - end) != n)
		return 0;
	for (size_t k = 0; k < n; k++)
		if (end[k] != 'a' + (int)(v % 26))
			return 0;
	*i = (unsigned)v;
	return 1;
}

/* Is this the writer's "N log line(s) dropped" line? */
static int parse_dropped(const char *line, size_t len, unsigned long long *n)
{
	static const char pre[] = "test: warn: ";
	static const char what[] = " log line(s) dropped";
	char *end;

	if (len < sizeof(pre) - 1 || memcmp(line, pre, sizeof(pre) - 1))
		return 0;
	*n = strtoull(line + sizeof(pre) - 1, &end, 10);
	return strncmp(end, what, sizeof(what) - 1) == 0;
}

static void log__stalled_reader__does_not_block_and_counts_drops(void **state)
{
	struct tb_log_conf lc = {.level = TB_LOG_DEBUG, .to_syslog = 0, .timestamps = 0};
	struct capture c;
	(void)state;

	tb_log_setup("test", &lc);
	capture_start(&c);
	int pipe_bytes = fcntl(c.rd, F_GETPIPE_SZ);
	if (pipe_bytes <= 0)
		pipe_bytes = 1 << 20;

	/* nobody reads: four times what the pipe and the queue hold */
	size_t want = 4 * ((size_t)pipe_bytes + TB_LOG_QUEUE_BYTES);
	unsigned total = (unsigned)(want / 220) + 1; /* lines are ~220 bytes on average */
	alarm(WATCHDOG_S);
	double t0 = now_s(), slowest = 0;
	for (unsigned i = 0; i < total; i++) {
		double t = now_s();
		log_numbered(i);
		t = now_s() - t;
		if (t > slowest)
			slowest = t;
	}
	double took = now_s() - t0;
	unsigned long long dropped = tb_log_dropped();

	/* the reader comes back: everything queued comes out */
	reader_start(&c);
	int flushed = capture_end(&c);
	alarm(0);
	print_message("%u lines in %.3f s (slowest call %.6f s), %llu dropped\n", total, took,
	              slowest, dropped);
	assert_int_equal(flushed, 0);
	assert_true(dropped > 0);
	assert_true(dropped < total);
	assert_int_equal(tb_log_dropped(), dropped); /* none since */

	/* lines whole and in order; each gap announced by a notice of its size
	 * just before the line after it (or at the end) */
	unsigned long long seen = 0, reported = 0, gap = 0;
	long long last = -1;
	int end_seen = 0;
	for (size_t at = 0; at < c.len;) {
		char *nl = memchr(c.buf + at, '\n', c.len - at);
		assert_non_null(nl);
		const char *line = c.buf + at;
		size_t len = (size_t)(nl - line);
		unsigned i;
		unsigned long long n;
		at += len + 1;
		if (parse_numbered(line, len, &i)) {
			assert_int_equal((long long)i, last + 1 + (long long)gap);
			last = i;
			gap = 0;
			seen++;
		} else if (parse_dropped(line, len, &n)) {
			assert_int_equal(gap, 0); /* one notice per gap */
			assert_true(n > 0);
			gap = n;
			reported += n;
		} else {
			assert_true(len + 1 == strlen(END_LINE) &&
			            !memcmp(line, END_LINE, strlen(END_LINE)));
			assert_int_equal(at, c.len);
			end_seen = 1;
		}
	}
	assert_true(end_seen);
	assert_int_equal(last + 1 + (long long)gap, total);
	assert_int_equal(reported, dropped);
	assert_int_equal(seen + reported, total);
	free(c.buf);
}

struct producer {
	unsigned first, count;
};

static void *producer_main(void *arg)
{
	const struct producer *p = arg;
	for (unsigned i = p->first; i < p->first + p->count; i++)
		log_numbered(i);
	return NULL;
}

static void log__draining_reader__lines_whole_and_in_order(void **state)
{
	enum { THREADS = 2, ROUNDS = 5, PER_ROUND = 200, STRIDE = 1000000 };
	struct capture c;
	unsigned long long dropped = tb_log_dropped();
	unsigned next[THREADS] = {0};
	(void)state;

	capture_start(&c);
	reader_start(&c);
	alarm(WATCHDOG_S);
	/* rounds smaller than the queue, each written before the next */
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t th[THREADS];
		struct producer p[THREADS];
		for (int t = 0; t < THREADS; t++) {
			p[t].first = (unsigned)t * STRIDE + (unsigned)r * PER_ROUND;
			p[t].count = PER_ROUND;
			assert_int_equal(pthread_create(&th[t], NULL, producer_main, &p[t]), 0);
		}
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		if (tb_log_flush(20000))
			break;
	}
	int flushed = capture_end(&c);
	alarm(0);
	assert_int_equal(flushed, 0);
	assert_int_equal(tb_log_dropped(), dropped);

	/* every line whole; each thread's lines all there, in its order */
	unsigned lines = 0;
	for (size_t at = 0; at < c.len;) {
		char *nl = memchr(c.buf + at, '\n', c.len - at);
		assert_non_null(nl);
		const char *line = c.buf + at;
		size_t len = (size_t)(nl - line);
		unsigned i;
		at += len + 1;
		if (at == c.len)
			break; /* the END line */
		assert_true(parse_numbered(line, len, &i));
		unsigned t = i / STRIDE;
		assert_true(t < THREADS);
		assert_int_equal(i, t * STRIDE + next[t]);
		next[t]++;
		lines++;
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(next[t], ROUNDS * PER_ROUND);
	assert_int_equal(lines, THREADS * ROUNDS * PER_ROUND);
	free(c.buf);
}

/* Last: it stops the writer for good. */
static void log__shutdown__bounded_with_a_stalled_reader(void **state)
{
	struct capture c;
	(void)state;

	capture_start(&c);
	alarm(WATCHDOG_S);
	for (unsigned i = 0; i < 4000; i++) /* more than the pipe holds */
		log_numbered(i);
	double t0 = now_s();
	int rc = tb_log_shutdown(200);
	double took = now_s() - t0;
	unsigned long long before = tb_log_dropped();
	tb_log(TB_LOG_ERR, "after the shutdown");
	unsigned long long after = tb_log_dropped();
	alarm(0);
	dup2(c.saved_stderr, STDERR_FILENO);
	close(c.saved_stderr);
	print_message("shutdown with a stalled reader took %.3f s\n", took);
	assert_int_equal(rc, -1);
	assert_true(took < 5.0);
	assert_int_equal(after, before + 1);
	/* c.rd stays open: the writer left behind may still be in write() */
	free(c.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(log__stalled_reader__does_not_block_and_counts_drops),
	    cmocka_unit_test(log__draining_reader__lines_whole_and_in_order),
	    cmocka_unit_test(log__shutdown__bounded_with_a_stalled_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
