/*
 * Logging to stderr or syslog.
 *
 * The settings live in one static struct: logging is the single piece of
 * process-wide state the project allows, because every module, driver and
 * libwebsockets itself write to the same destination. tb_log_setup() may be
 * called again (e.g. after the configuration is read) and takes a lock, so
 * it is safe even while other threads log.
 */
#include "tb_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024
#define IDENT_MAX    64

static struct {
	pthread_mutex_t lock;
	char ident[IDENT_MAX];
	struct tb_log_conf conf;
	int syslog_open;
} log_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .ident = "teep-broker",
    .conf = {.level = TB_LOG_NOTICE, .to_syslog = 0, .timestamps = 0},
};

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void tb_log_setup(const char *ident, const struct tb_log_conf *conf)
{
	pthread_mutex_lock(&log_state.lock);
	if (ident)
		snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	if (conf)
		log_state.conf = *conf;
	if (log_state.syslog_open) {
		closelog();
		log_state.syslog_open = 0;
	}
	if (log_state.conf.to_syslog) {
		/* openlog keeps the pointer: our static buffer outlives it. */
		openlog(log_state.ident, LOG_PID, LOG_DAEMON);
		log_state.syslog_open = 1;
	}
	pthread_mutex_unlock(&log_state.lock);
}

static int clamp_level(int level)
{
	if (level < TB_LOG_ERR)
		return TB_LOG_ERR;
	if (level > TB_LOG_DEBUG)
		return TB_LOG_DEBUG;
	return level;
}

static int syslog_priority(int level)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	return prio[level];
}

static size_t format_prefix(char *line, size_t cap, int level)
{
	size_t n = 0;
	int w;

	if (log_state.conf.timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, cap, "%Y-%m-%d %H:%M:%S", &tm);
		w = snprintf(line + n, cap - n, ".%03ld ", ts.tv_nsec / 1000000L);
		if (w > 0)
			n += (size_t)w;
	}
	w = snprintf(line + n, cap - n, "%s: %s: ", log_state.ident, level_names[level]);
	if (w > 0)
		n += (size_t)w;
	return n < cap ? n : cap - 1;
}

static void write_line(const char *line, size_t len)
{
	/* One write() per line keeps lines whole when threads log at once. */
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, line, len);
		if (w <= 0)
			return;
		line += w;
		len -= (size_t)w;
	}
}

/* The attribute lets the compiler check the format passed through. */
void tb_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void tb_vlog(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n;
	int w;

	level = clamp_level(level);
	pthread_mutex_lock(&log_state.lock);
	if (level > log_state.conf.level) {
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	if (log_state.conf.to_syslog) {
		int ret = vsnprintf(line, sizeof(line), fmt, ap);
		if (ret >= 0)
			syslog(syslog_priority(level), "%s", line);
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	n = format_prefix(line, sizeof(line) - 1, level);
	w = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
	pthread_mutex_unlock(&log_state.lock);
	if (w < 0)
		w = 0;
	n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated message */
	line[n++] = '\n';
	write_line(line, n);
}

void tb_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tb_vlog(level, fmt, ap);
	va_end(ap);
}

int tb_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} aliases[] = {{"error", TB_LOG_ERR}, {"warning", TB_LOG_WARN}};

	if (!s)
		return -1;
	for (int i = 0; i <= TB_LOG_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(s, aliases[i].name) == 0)
			return aliases[i].level;
	return -1;
}
