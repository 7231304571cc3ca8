/* Unit tests of what a configuration reload may change (broker/confdiff.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <teep-broker/driver.h>

#include "confdiff.h"

#define BASE                                                                                       \
	"[listener]\naddress = 127.0.0.1\nport = 8470\nmax_connections = 100\n"                    \
	"[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = sim\nopt = 1\n"                \
	"[plugin:auth]\npath = auth-token\ntoken_file = /t\n"

static void load(const char *text, struct tb_conf *c)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	size_t n = 0;
	int rc = tb_conf_load_string(text, c, errs, &n);

	for (size_t i = 0; i < n; i++)
		print_error("line %d: %s\n", errs[i].line, errs[i].msg);
	assert_int_equal(rc, TB_OK);
}

/* How many changes of next need a restart; with want (NULL: none wanted) in
 * one of them, on line `line`. */
static size_t diff(const char *next_text, const int *reloadable, const char *want, int line)
{
	struct tb_conf cur, next;
	struct tb_conf_error errs[4];
	struct tb_conf_caps caps = {.max_connections = 100, .max_sessions = 256};
	size_t n = 99, count;
	int found = 0;

	load(BASE, &cur);
	load(next_text, &next);
	count = tb_conf_diff(&cur, &next, &caps, reloadable, errs, 4, &n);
	assert_true(n <= 4 && n <= count);
	for (size_t i = 0; i < n; i++)
		if (want && strstr(errs[i].msg, want) && errs[i].line == line)
			found = 1;
	if (want && !found)
		for (size_t i = 0; i < n; i++)
			print_error("got line %d: %s\n", errs[i].line, errs[i].msg);
	assert_true(!want || found);
	tb_conf_free(&cur);
	tb_conf_free(&next);
	return count;
}

static void confdiff__same_file__nothing_to_refuse(void **state)
{
	(void)state;
	assert_int_equal(diff(BASE, NULL, NULL, 0), 0);
}

static void confdiff__limits_queue_ban_tam_allowlists__reload(void **state)
{
	(void)state;
	assert_int_equal(diff(BASE "[limit:x]\napplies_to = messages\nrate = 1r/s\n"
	                           "[queue]\nmax_per_app = 2\n[ban]\nthreshold = 5\n"
	                           "allow = 10.0.0.0/8\n",
	                      NULL, NULL, 0),
	                 0);
	/* [listener] bounds, TAM URIs and bounds, a driver's broker-side
	 * bounds: all in place */
	assert_int_equal(diff("[listener]\naddress = 127.0.0.1\nport = 8470\n"
	                      "max_connections = 50\nmax_message_size = 1000\n"
	                      "allow_origins = https://a.example\n"
	                      "[tam]\nuri = http://127.0.0.1:9999/tam\nmax_sessions = 3\n"
	                      "allow_app_uris = http://127.0.0.1:1/x\n"
	                      "[driver:a]\npath = sim\nopt = 1\nmax_in_flight = 1\n"
	                      "call_timeout = 1s\n"
	                      "[plugin:auth]\npath = auth-token\ntoken_file = /t\n",
	                      NULL, NULL, 0),
	                 0);
}

static void confdiff__listener_port__named_with_its_line(void **state)
{
	(void)state;
	assert_int_equal(diff("[listener]\naddress = 127.0.0.1\nport = 8471\nmax_connections = "
	                      "100\n[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = "
	                      "sim\nopt = 1\n[plugin:auth]\npath = auth-token\ntoken_file = /t\n",
	                      NULL, "[listener] port: 8470 -> 8471: needs a restart", 3),
	                 1);
	/* the address too, and both are counted */
	assert_int_equal(diff("[listener]\naddress = 0.0.0.0\nport = 8471\nmax_connections = "
	                      "100\n[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = "
	                      "sim\nopt = 1\n[plugin:auth]\npath = auth-token\ntoken_file = /t\n",
	                      NULL, "[listener] address", 2),
	                 2);
}

static void confdiff__driver_options__need_a_restart(void **state)
{
	(void)state;
	assert_int_equal(diff("[listener]\naddress = 127.0.0.1\nport = 8470\nmax_connections = "
	                      "100\n[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = "
	                      "sim\nopt = 2\n[plugin:auth]\npath = auth-token\ntoken_file = /t\n",
	                      NULL, "[driver:a]: the driver's options changed", 7),
	                 1);
	/* a driver more, one less */
	assert_int_equal(
	    diff(BASE "[driver:b]\npath = sim\n", NULL, "[driver:b]: a new driver", 13), 1);
}

static void confdiff__raising_a_table_bound__needs_a_restart(void **state)
{
	(void)state;
	assert_int_equal(diff("[listener]\naddress = 127.0.0.1\nport = 8470\nmax_connections = "
	                      "101\n[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = "
	                      "sim\nopt = 1\n[plugin:auth]\npath = auth-token\ntoken_file = /t\n",
	                      NULL, "max_connections: 101 is above 100", 4),
	                 1);
}

static void confdiff__plugin_options__only_with_reload_hooks(void **state)
{
	static const char *text =
	    "[listener]\naddress = 127.0.0.1\nport = 8470\nmax_connections = 100\n"
	    "[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = sim\nopt = 1\n"
	    "[plugin:auth]\npath = auth-token\ntoken_file = /other\n";
	int yes[TB_CONF_MAX_PLUGINS] = {1};

	(void)state;
	assert_int_equal(diff(text, NULL, "[plugin:auth]: the plugin's options changed", 10), 1);
	assert_int_equal(diff(text, yes, NULL, 0), 0);
	/* a plugin added: a restart whatever the hooks */
	assert_int_equal(
	    diff(BASE "[plugin:two]\npath = x\n", yes, "[plugin:two]: a new plugin", 13), 1);
}

static void confdiff__many_changes__all_counted_some_stored(void **state)
{
	(void)state;
	/* address, port, driver options, admin, resolver: more than the 4 stored */
	assert_int_equal(diff("[listener]\naddress = 0.0.0.0\nport = 1\nmax_connections = 100\n"
	                      "[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = sim\n"
	                      "[plugin:auth]\npath = auth-token\ntoken_file = /t\n"
	                      "[resolver]\nthreads = 2\n[admin]\nenabled = yes\n",
	                      NULL, NULL, 0),
	                 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(confdiff__same_file__nothing_to_refuse),
	    cmocka_unit_test(confdiff__limits_queue_ban_tam_allowlists__reload),
	    cmocka_unit_test(confdiff__listener_port__named_with_its_line),
	    cmocka_unit_test(confdiff__driver_options__need_a_restart),
	    cmocka_unit_test(confdiff__raising_a_table_bound__needs_a_restart),
	    cmocka_unit_test(confdiff__plugin_options__only_with_reload_hooks),
	    cmocka_unit_test(confdiff__many_changes__all_counted_some_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
