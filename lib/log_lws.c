/* Route libwebsockets' log lines into tb_log. Kept apart from log.c so that
 * programs without libwebsockets do not link it. */
#include "tb_log.h"

#include <libwebsockets.h>
#include <string.h>

static int lws_to_tb_level(int lll)
{
	if (lll & LLL_ERR)
		return TB_LOG_ERR;
	if (lll & LLL_WARN)
		return TB_LOG_WARN;
	if (lll & LLL_NOTICE)
		return TB_LOG_NOTICE;
	if (lll & (LLL_INFO | LLL_USER))
		return TB_LOG_INFO;
	return TB_LOG_DEBUG;
}

static void lws_emit(int lll, const char *line)
{
	size_t len = strlen(line);

	/* lws terminates every line with '\n'; tb_log adds its own. */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	tb_log(lws_to_tb_level(lll), "lws: %.*s", (int)len, line);
}

/* level is the most verbose tb_log level wanted from lws; errors and
 * warnings always pass. */
void tb_log_bridge_lws(int level)
{
	int mask = LLL_ERR | LLL_WARN;

	if (level >= TB_LOG_NOTICE)
		mask |= LLL_NOTICE;
	if (level >= TB_LOG_INFO)
		mask |= LLL_INFO | LLL_USER;
	if (level >= TB_LOG_DEBUG)
		mask |= LLL_DEBUG | LLL_PARSER | LLL_HEADER | LLL_EXT | LLL_CLIENT | LLL_LATENCY;
	lws_set_log_level(mask, lws_emit);
}
