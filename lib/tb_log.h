/* Logging: one funnel for the broker, its drivers and libwebsockets. */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>
#include <teep-broker/driver.h> /* enum tb_log_level */

struct tb_log_conf {
	int level;      /* most verbose level written */
	int to_syslog;  /* else stderr */
	int timestamps; /* prefix stderr lines with a time */
};

void tb_log_setup(const char *ident, const struct tb_log_conf *conf);
void tb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_vlog(int level, const char *fmt, va_list ap);
int tb_log_level_parse(const char *s); /* "err".."debug", -1 if unknown */
/* Route libwebsockets' own log lines through tb_log (errors and warnings). */
void tb_log_bridge_lws(int level);

#endif
