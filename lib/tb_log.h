/* Logging: one funnel for the broker, its drivers and libwebsockets. */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <teep-broker/driver.h> /* enum tb_log_level */

struct tb_log_conf {
	int level;      /* most verbose level written */
	int to_syslog;  /* else stderr */
	int timestamps; /* prefix stderr lines with a time */
};

void tb_log_setup(const char *ident, const struct tb_log_conf *conf);
void tb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_vlog(int level, const char *fmt, va_list ap);
/* Whether a line of that level is written now: to skip formatting its
 * arguments when it is not. */
int tb_log_enabled(int level);
int tb_log_level_parse(const char *s); /* "err".."debug", -1 if unknown */

/* Lines wait for the writer thread in a ring of this many bytes; when it is
 * full (the reader of stderr or syslog stalls) lines are dropped, counted,
 * and reported as "N log line(s) dropped" once the writer catches up. */
#define TB_LOG_QUEUE_BYTES (256 * 1024)
/* Lines dropped since the start (the counters log shows it). */
uint64_t tb_log_dropped(void);
/* Wait up to timeout_ms for every queued line to be written: 0, or -1. */
int tb_log_flush(unsigned timeout_ms);
/* Write what is queued within timeout_ms and stop the writer: 0, or -1 if
 * it is stuck on a stalled reader (it is left behind). Later lines are
 * dropped. Also run at exit, so programs need not call it. */
int tb_log_shutdown(unsigned timeout_ms);
/* Route libwebsockets' own log lines through tb_log. level is the most
 * verbose TB_LOG_* level wanted from libwebsockets (not an LLL_ mask);
 * its errors and warnings always pass. */
void tb_log_bridge_lws(int level);

#endif
