/* Unit tests of the configuration reader (broker/conf.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <teep-broker/driver.h>

#include "banscore.h"
#include "conf.h"

#include <sys/socket.h>

#define MINIMAL "[tam]\nuri = http://127.0.0.1:8480/tam\n[driver:a]\npath = sim\n"

static int load(const char *text, struct tb_conf *conf, struct tb_conf_error *errs, size_t *n)
{
	*n = 0;
	return tb_conf_load_string(text, conf, errs, n);
}

static void load_ok(const char *text, struct tb_conf *conf)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	size_t n;
	int rc = load(text, conf, errs, &n);

	for (size_t i = 0; i < n; i++)
		print_error("line %d: %s\n", errs[i].line, errs[i].msg);
	assert_int_equal(rc, TB_OK);
	assert_int_equal(n, 0);
}

/* The text must be refused, with an error on `line` whose message holds
 * `needle`. */
static void expect_error(const char *text, int line, const char *needle)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf conf;
	size_t n;
	int found = 0;

	assert_int_equal(load(text, &conf, errs, &n), TB_ERR_INVAL);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++)
		if (errs[i].line == line && strstr(errs[i].msg, needle))
			found = 1;
	if (!found) {
		print_error("wanted line %d \"%s\", got:\n", line, needle);
		for (size_t i = 0; i < n; i++)
			print_error("  line %d: %s\n", errs[i].line, errs[i].msg);
	}
	assert_true(found);
	/* A refused configuration comes back empty; freeing it again is
	 * harmless. */
	assert_int_equal(conf.n_drivers, 0);
	assert_null(conf.listener.address);
	tb_conf_free(&conf);
}

static const char *opt(const struct tb_conf_driver *d, const char *key)
{
	for (size_t i = 0; i < d->n_opts; i++)
		if (strcmp(d->opts[i].key, key) == 0)
			return d->opts[i].value;
	return NULL;
}

/* ---- accepted files ---------------------------------------------------- */

static void conf__shipped_file__parses_into_a_working_setup(void **state)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf conf;
	size_t n = 0;
	int rc = tb_conf_load(TEST_DATA_DIR "/../../conf/teep-broker.conf", &conf, errs, &n);

	for (size_t i = 0; i < n; i++)
		print_error("line %d: %s\n", errs[i].line, errs[i].msg);
	assert_int_equal(rc, TB_OK);
	assert_int_equal(conf.n_tams, 1);
	assert_string_equal(conf.tams[0].name, "default");
	assert_string_equal(conf.tams[0].uri, "http://127.0.0.1:8480/tam");
	assert_int_equal(conf.n_drivers, 1);
	assert_string_equal(conf.drivers[0].name, "sim");
	assert_string_equal(conf.drivers[0].path, "sim");
	assert_ptr_equal(tb_conf_find_tam(&conf, conf.drivers[0].tam), &conf.tams[0]);
	assert_string_equal(opt(&conf.drivers[0], "state_dir"), "/var/lib/teep-broker/sim");
	assert_string_equal(opt(&conf.drivers[0], "tam_key"), "/etc/teep-broker/tam_pub.pem");
	assert_string_equal(opt(&conf.drivers[0], "tc_signer"), "/etc/teep-broker/tc-signer.pem");
	assert_string_equal(opt(&conf.drivers[0], "tam_uri"), "http://127.0.0.1:8480/tam");
	/* The shipped rate limits: per connection, frames and TEE calls. */
	assert_int_equal(conf.n_limits, 2);
	assert_string_equal(conf.limits[0].name, "connection-frames");
	assert_int_equal(conf.limits[0].applies_to, TB_LIMIT_MESSAGES);
	assert_int_equal(conf.limits[0].key, TB_LIMIT_KEY_CONNECTION);
	assert_int_equal(conf.limits[0].rate_milli, 100000);
	assert_int_equal(conf.limits[0].burst, 200);
	assert_true(conf.limits[0].nodelay);
	assert_string_equal(conf.limits[1].name, "connection-calls");
	assert_int_equal(conf.limits[1].applies_to, TB_LIMIT_TEE_CALLS);
	assert_int_equal(conf.limits[1].key, TB_LIMIT_KEY_CONNECTION);
	assert_int_equal(conf.limits[1].rate_milli, 2000);
	assert_int_equal(conf.limits[1].burst, 20);
	assert_true(conf.limits[1].nodelay);
	/* Everything else is commented out: the defaults hold. */
	assert_int_equal(conf.listener.port, 8470);
	assert_string_equal(conf.listener.address, "127.0.0.1");
	assert_int_equal(conf.log_level, TB_LOG_NOTICE);
	tb_conf_free(&conf);
}

static void conf__shipped_file_uncommented__parses_with_the_same_values(void **state)
{
	/* Every commented-out "key = value" of the shipped file, enabled,
	 * must be valid and equal to the default it documents. */
	uint8_t raw[65536];
	char text[70000];
	struct tb_conf def, all;
	FILE *f = fopen(TEST_DATA_DIR "/../../conf/teep-broker.conf", "r");
	size_t len, o = 0;

	assert_non_null(f);
	len = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[len] = 0;
	for (char *line = strtok((char *)raw, "\n"); line; line = strtok(NULL, "\n")) {
		const char *l = line;
		if (l[0] == '#' && l[1] != ' ' && l[1] != 0 && strchr(l, '='))
			l++;
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s\n", l);
		assert_true(o < sizeof(text));
	}
	load_ok(text, &all);
	load_ok(MINIMAL, &def);
	assert_string_equal(all.pid_file, "/run/teep-broker.pid");
	assert_int_equal(all.log_level, def.log_level);
	assert_int_equal(all.log_syslog, def.log_syslog);
	assert_int_equal(all.shutdown_grace_ms, def.shutdown_grace_ms);
	assert_int_equal(all.max_sessions, def.max_sessions);
	assert_string_equal(all.listener.address, def.listener.address);
	assert_int_equal(all.listener.port, def.listener.port);
	assert_int_equal(all.listener.max_connections, def.listener.max_connections);
	assert_int_equal(all.listener.max_message_size, def.listener.max_message_size);
	assert_int_equal(all.listener.max_requests_per_connection,
	                 def.listener.max_requests_per_connection);
	assert_int_equal(all.listener.max_queued_answers, def.listener.max_queued_answers);
	assert_int_equal(all.listener.handshake_timeout_ms, def.listener.handshake_timeout_ms);
	assert_int_equal(all.listener.idle_timeout_ms, def.listener.idle_timeout_ms);
	assert_int_equal(all.tams[0].numbering, def.tams[0].numbering);
	assert_int_equal(all.tams[0].connect_timeout_ms, def.tams[0].connect_timeout_ms);
	assert_int_equal(all.tams[0].response_timeout_ms, def.tams[0].response_timeout_ms);
	assert_int_equal(all.tams[0].max_response_size, def.tams[0].max_response_size);
	assert_int_equal(all.tams[0].max_sessions, def.tams[0].max_sessions);
	assert_int_equal(all.tams[0].tls_insecure, def.tams[0].tls_insecure);
	assert_null(def.tams[0].accept_media_types);
	assert_string_equal(all.tams[0].accept_media_types, "application/cose, application/cbor");
	assert_string_equal(all.drivers[0].tam, def.drivers[0].tam);
	assert_int_equal(all.drivers[0].queue_size, def.drivers[0].queue_size);
	assert_int_equal(all.drivers[0].call_timeout_ms, def.drivers[0].call_timeout_ms);
	assert_int_equal(all.drivers[0].policy_check_interval_ms,
	                 def.drivers[0].policy_check_interval_ms);
	assert_int_equal(all.listener.max_connections_per_ip, def.listener.max_connections_per_ip);
	assert_int_equal(all.n_limits, 2); /* the shipped zones; the examples are not key lines */
	assert_int_equal(all.ban.enabled, def.ban.enabled);
	assert_int_equal(all.ban.threshold, def.ban.threshold);
	assert_int_equal(all.ban.half_life_ms, def.ban.half_life_ms);
	assert_int_equal(all.ban.ban_time_ms, def.ban.ban_time_ms);
	assert_int_equal(all.ban.ban_time_max_ms, def.ban.ban_time_max_ms);
	assert_int_equal(all.ban.memory_ms, def.ban.memory_ms);
	assert_string_equal(all.ban.allow, def.ban.allow);
	assert_int_equal(all.ban.max_keys, def.ban.max_keys);
	assert_int_equal(all.ban.weight_malformed, def.ban.weight_malformed);
	assert_int_equal(all.ban.weight_oversize, def.ban.weight_oversize);
	assert_int_equal(all.ban.weight_text_frame, def.ban.weight_text_frame);
	assert_int_equal(all.ban.weight_rate_limited, def.ban.weight_rate_limited);
	assert_int_equal(all.ban.weight_unknown_tee, def.ban.weight_unknown_tee);
	assert_int_equal(all.ban.weight_tam_not_allowed, def.ban.weight_tam_not_allowed);
	assert_int_equal(all.coalesce, def.coalesce);
	assert_int_equal(all.max_waiters, def.max_waiters);
	assert_null(def.tams[0].allow_app_uris);
	assert_string_equal(all.tams[0].allow_app_uris, "https://tam2.example/tam");
	assert_int_equal(all.tams[0].precheck, def.tams[0].precheck);
	assert_string_equal(all.tams[0].trust_anchor, "/etc/teep-broker/tam_pub.pem");
	assert_int_equal(all.ban.weight_forbidden, def.ban.weight_forbidden);
	assert_int_equal(all.ban.weight_unauthorized, def.ban.weight_unauthorized);
	assert_int_equal(all.ban.weight_forged, def.ban.weight_forged);
	assert_int_equal(all.n_plugins, 0); /* the example is not key lines */
	assert_int_equal(all.resolver.threads, def.resolver.threads);
	assert_int_equal(all.resolver.queue_size, def.resolver.queue_size);
	assert_int_equal(all.resolver.cache_size, def.resolver.cache_size);
	assert_int_equal(all.resolver.ttl_ms, def.resolver.ttl_ms);
	assert_int_equal(all.resolver.negative_ttl_ms, def.resolver.negative_ttl_ms);
	assert_int_equal(all.resolver.timeout_ms, def.resolver.timeout_ms);
	assert_int_equal(all.admin.enabled, def.admin.enabled);
	assert_string_equal(all.admin.address, def.admin.address);
	assert_int_equal(all.admin.port, def.admin.port);
	assert_string_equal(all.admin.port_file, "/run/teep-broker-admin.port");
	assert_string_equal(all.admin.allow, def.admin.allow);
	tb_conf_free(&all);
	tb_conf_free(&def);
}

static void conf__defaults__are_those_documented_in_conf_h(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL, &c);
	assert_null(c.pid_file);
	assert_int_equal(c.log_level, TB_LOG_NOTICE);
	assert_int_equal(c.log_syslog, 0);
	assert_non_null(c.driver_dir);
	assert_non_null(strstr(c.driver_dir, "/drivers"));
	assert_int_equal(c.shutdown_grace_ms, 10000);
	assert_int_equal(c.max_sessions, 256);
	assert_int_equal(c.coalesce, 1);
	assert_int_equal(c.max_waiters, 64);

	assert_string_equal(c.listener.address, "127.0.0.1");
	assert_int_equal(c.listener.port, 8470);
	assert_null(c.listener.port_file);
	assert_int_equal(c.listener.max_connections, 10000);
	assert_int_equal(c.listener.max_message_size, 4096);
	assert_int_equal(c.listener.max_requests_per_connection, 8);
	assert_int_equal(c.listener.max_queued_answers, 64);
	assert_int_equal(c.listener.handshake_timeout_ms, 5000);
	assert_int_equal(c.listener.idle_timeout_ms, 0);
	assert_int_equal(c.listener.max_connections_per_ip, 64);

	assert_int_equal(c.n_limits, 0);
	assert_int_equal(c.ban.enabled, 1);
	assert_int_equal(c.ban.threshold, 100);
	assert_int_equal(c.ban.half_life_ms, 60000);
	assert_int_equal(c.ban.ban_time_ms, 60000);
	assert_int_equal(c.ban.ban_time_max_ms, 3600000);
	assert_int_equal(c.ban.memory_ms, 24 * 3600000);
	assert_string_equal(c.ban.allow, "127.0.0.0/8, ::1/128");
	assert_int_equal(c.ban.max_keys, 65536);
	assert_int_equal(c.ban.weight_malformed, 10);
	assert_int_equal(c.ban.weight_oversize, 20);
	assert_int_equal(c.ban.weight_text_frame, 10);
	assert_int_equal(c.ban.weight_rate_limited, 1);
	assert_int_equal(c.ban.weight_unknown_tee, 5);
	assert_int_equal(c.ban.weight_tam_not_allowed, 10);
	assert_int_equal(c.ban.weight_forbidden, 10);
	assert_int_equal(c.ban.weight_unauthorized, 10);
	assert_int_equal(c.ban.weight_forged, 20);
	assert_int_equal(c.n_app_tams, 0);
	assert_non_null(strstr(c.plugin_dir, "/plugins"));
	assert_int_equal(c.n_plugins, 0);
	assert_int_equal(c.resolver.threads, 4);
	assert_int_equal(c.resolver.queue_size, 64);
	assert_int_equal(c.resolver.cache_size, 64);
	assert_int_equal(c.resolver.ttl_ms, 30000);
	assert_int_equal(c.resolver.negative_ttl_ms, 5000);
	assert_int_equal(c.resolver.timeout_ms, 10000);
	assert_int_equal(c.admin.enabled, 0);
	assert_string_equal(c.admin.address, "127.0.0.1");
	assert_int_equal(c.admin.port, 8471);
	assert_null(c.admin.port_file);
	assert_string_equal(c.admin.allow, "127.0.0.0/8, ::1/128");

	assert_int_equal(c.n_tams, 1);
	assert_string_equal(c.tams[0].name, "default");
	assert_int_equal(c.tams[0].numbering, TB_NUM_DRAFT26);
	assert_int_equal(c.tams[0].connect_timeout_ms, 10000);
	assert_int_equal(c.tams[0].response_timeout_ms, 30000);
	assert_int_equal(c.tams[0].max_response_size, 1024 * 1024);
	assert_int_equal(c.tams[0].max_sessions, 64);
	assert_null(c.tams[0].ca_file);
	assert_int_equal(c.tams[0].tls_insecure, 0);
	assert_null(c.tams[0].allow_app_uris);

	assert_int_equal(c.n_drivers, 1);
	assert_string_equal(c.drivers[0].name, "a");
	assert_string_equal(c.drivers[0].tam, "default");
	assert_int_equal(c.drivers[0].queue_size, 64);
	assert_int_equal(c.drivers[0].call_timeout_ms, 60000);
	assert_int_equal(c.drivers[0].policy_check_interval_ms, 0);
	assert_int_equal(c.drivers[0].n_opts, 0);
	tb_conf_free(&c);

	tb_conf_defaults(&c);
	assert_string_equal(c.listener.address, "127.0.0.1");
	assert_int_equal(c.resolver.threads, 4);
	assert_int_equal(c.listener.port, 8470);
	assert_int_equal(c.listener.max_connections_per_ip, 64);
	assert_string_equal(c.ban.allow, "127.0.0.0/8, ::1/128");
	assert_int_equal(c.n_drivers, 0);
	tb_conf_free(&c);
}

static void conf__sizes_and_durations__parsed_with_their_units(void **state)
{
	struct tb_conf c;

	load_ok("[broker]\nshutdown_grace = 3\n"
	        "[listener]\nmax_message_size = 64k\nhandshake_timeout = 500ms\n"
	        "idle_timeout = 2m\n"
	        "[tam]\nuri = https://tam.example/\nmax_response_size = 2M\n"
	        "response_timeout = 1h\n"
	        "[driver:a]\npath = sim\ncall_timeout = 90s\n",
	        &c);
	assert_int_equal(c.shutdown_grace_ms, 3000);
	assert_int_equal(c.listener.max_message_size, 64 * 1024);
	assert_int_equal(c.listener.handshake_timeout_ms, 500);
	assert_int_equal(c.listener.idle_timeout_ms, 120000);
	assert_int_equal(c.tams[0].max_response_size, 2 * 1024 * 1024);
	assert_int_equal(c.tams[0].response_timeout_ms, 3600000);
	assert_int_equal(c.drivers[0].call_timeout_ms, 90000);
	tb_conf_free(&c);
}

static void conf__booleans_and_enums__every_spelling(void **state)
{
	static const struct {
		const char *text;
		int value;
	} bools[] = {{"yes", 1}, {"true", 1},  {"on", 1},  {"1", 1}, {"YES", 1},
	             {"no", 0},  {"false", 0}, {"off", 0}, {"0", 0}, {"Off", 0}};
	static const char *const levels[] = {"err", "warn", "notice", "info", "debug"};
	char text[256];
	struct tb_conf c;

	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		snprintf(text, sizeof(text), "[broker]\nlog_syslog = %s\n" MINIMAL, bools[i].text);
		load_ok(text, &c);
		assert_int_equal(c.log_syslog, bools[i].value);
		tb_conf_free(&c);
	}
	for (int l = 0; l < 5; l++) {
		snprintf(text, sizeof(text), "[broker]\nlog_level = %s\n" MINIMAL, levels[l]);
		load_ok(text, &c);
		assert_int_equal(c.log_level, l);
		tb_conf_free(&c);
	}
	load_ok("[tam]\nuri = http://t/\nnumbering = pre-26\ntls_insecure = yes\n"
	        "ca_file = /etc/ca.pem\n[driver:a]\npath = sim\n",
	        &c);
	assert_int_equal(c.tams[0].numbering, TB_NUM_PRE26);
	assert_int_equal(c.tams[0].tls_insecure, 1);
	assert_string_equal(c.tams[0].ca_file, "/etc/ca.pem");
	tb_conf_free(&c);
}

static void conf__driver_options__collected_in_order(void **state)
{
	struct tb_conf c;

	load_ok("[tam]\nuri = http://t/\n"
	        "[driver:a]\nstate_dir = /var/x\npath = sim\nkey:with-colon-form = v1\n"
	        "empty =\nsemi = a;b ; this part is a comment\n",
	        &c);
	assert_int_equal(c.drivers[0].n_opts, 4);
	assert_string_equal(c.drivers[0].opts[0].key, "state_dir");
	assert_string_equal(c.drivers[0].opts[0].value, "/var/x");
	/* libinih splits on the first '=' or ':' */
	assert_string_equal(c.drivers[0].opts[1].key, "key");
	assert_string_equal(c.drivers[0].opts[1].value, "with-colon-form = v1");
	assert_string_equal(c.drivers[0].opts[2].key, "empty");
	assert_string_equal(c.drivers[0].opts[2].value, "");
	assert_string_equal(c.drivers[0].opts[3].value, "a;b");
	assert_string_equal(c.drivers[0].path, "sim");
	tb_conf_free(&c);
}

static void conf__several_tams_and_drivers__linked_by_name(void **state)
{
	struct tb_conf c;

	load_ok("[tam]\nuri = http://a/\n[tam:edge-2]\nuri = https://b:8443/tam\n"
	        "[driver:one]\npath = sim\n[driver:two]\npath = /opt/x.so\ntam = edge-2\n",
	        &c);
	assert_int_equal(c.n_tams, 2);
	assert_int_equal(c.n_drivers, 2);
	assert_ptr_equal(tb_conf_find_tam(&c, c.drivers[0].tam), &c.tams[0]);
	assert_ptr_equal(tb_conf_find_tam(&c, c.drivers[1].tam), &c.tams[1]);
	assert_ptr_equal(tb_conf_find_tam(&c, NULL), &c.tams[0]);
	assert_null(tb_conf_find_tam(&c, "nope"));
	tb_conf_free(&c);
}

static void conf__layout_details__tolerated(void **state)
{
	struct tb_conf c;

	/* BOM, CRLF, indentation (no multi-line values), comments of both
	 * kinds, a comment after a header, no final newline. */
	load_ok("\xef\xbb\xbf; comment\r\n# comment\r\n[listener] ; the listener\r\n"
	        "  port = 9000\r\n\tmax_connections = 5\r\n[tam]\nuri = http://t/\n"
	        "[driver:a]\n    path = sim",
	        &c);
	assert_int_equal(c.listener.port, 9000);
	assert_int_equal(c.listener.max_connections, 5);
	assert_string_equal(c.drivers[0].path, "sim");
	tb_conf_free(&c);
}

static void conf__file_on_disk__read(void **state)
{
	char path[] = "/tmp/test_conf_XXXXXX";
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf c;
	size_t n;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, MINIMAL, strlen(MINIMAL)), (ssize_t)strlen(MINIMAL));
	close(fd);
	assert_int_equal(tb_conf_load(path, &c, errs, &n), TB_OK);
	unlink(path);
	assert_int_equal(c.n_drivers, 1);
	tb_conf_free(&c);
	tb_conf_free(&c);
}

static void conf__missing_file__io_error_on_line_0(void **state)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf c;
	size_t n = 99;

	assert_int_equal(tb_conf_load("/nonexistent/teep-broker.conf", &c, errs, &n), TB_ERR_IO);
	assert_int_equal(n, 1);
	assert_int_equal(errs[0].line, 0);
	assert_non_null(strstr(errs[0].msg, "no such file"));
	tb_conf_free(&c);
}

/* MINIMAL, then the commented examples of the shipped file whose header
 * starts with `header` ("# [limit:", ...), their "# " removed: each is the
 * header line and the "# key = value" lines after it. */
static void shipped_examples(const char *header, char *text, size_t cap)
{
	uint8_t raw[65536];
	FILE *f = fopen(TEST_DATA_DIR "/../../conf/teep-broker.conf", "r");
	size_t len, o;
	int in_example = 0;

	assert_non_null(f);
	len = fread(raw, 1, sizeof(raw) - 1, f);
	fclose(f);
	raw[len] = 0;
	o = (size_t)snprintf(text, cap, MINIMAL);
	for (char *line = strtok((char *)raw, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, header, strlen(header)) == 0)
			in_example = 1;
		else if (strncmp(line, "# ", 2) != 0 || !strchr(line, '='))
			in_example = 0;
		if (in_example)
			o += (size_t)snprintf(text + o, cap - o, "%s\n", line + 2);
		assert_true(o < cap);
	}
}

static void conf__shipped_limit_examples__parse_as_documented(void **state)
{
	/* The [limit:NAME] examples of the shipped file are comment lines
	 * "# key = value" after "# [limit:NAME]": with the "# " removed they
	 * must be a valid configuration. */
	char text[8192];
	struct tb_conf c;

	shipped_examples("# [limit:", text, sizeof(text));
	load_ok(text, &c);
	assert_int_equal(c.n_limits, 4);
	assert_string_equal(c.limits[0].name, "messages");
	assert_int_equal(c.limits[0].applies_to, TB_LIMIT_MESSAGES);
	assert_int_equal(c.limits[0].rate_milli, 50000);
	assert_int_equal(c.limits[0].burst, 100);
	assert_int_equal(c.limits[0].nodelay, 1);
	assert_string_equal(c.limits[1].name, "tee-calls");
	assert_int_equal(c.limits[1].applies_to, TB_LIMIT_TEE_CALLS);
	assert_int_equal(c.limits[1].rate_milli, 5000);
	assert_int_equal(c.limits[1].burst, 10);
	assert_int_equal(c.limits[1].nodelay, 0);
	assert_int_equal(c.limits[1].delay, 0);
	assert_int_equal(c.limits[1].key, TB_LIMIT_KEY_ADDRESS);
	assert_string_equal(c.limits[2].name, "apps");
	assert_int_equal(c.limits[2].key, TB_LIMIT_KEY_APP);
	assert_int_equal(c.limits[2].rate_milli, 2000);
	assert_string_equal(c.limits[3].name, "per-tee");
	assert_int_equal(c.limits[3].key, TB_LIMIT_KEY_TEE);
	assert_int_equal(c.limits[3].applies_to, TB_LIMIT_TEE_CALLS);
	assert_int_equal(c.limits[3].rate_milli, 20000);
	tb_conf_free(&c);
}

static void conf__limit_sections__every_key_and_default(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "[limit:a]\napplies_to = messages\nrate = 10r/s\n"
	                "[limit:b_2]\napplies_to = tee-calls\nrate = 30r/m\nburst = 20\n"
	                "delay = 5\ndry_run = yes\nkey = address\nmax_keys = 1048576\n"
	                "[limit:c]\napplies_to = messages\nrate = 1r/m\nburst = 3\n"
	                "nodelay = yes\n",
	        &c);
	assert_int_equal(c.n_limits, 3);
	assert_string_equal(c.limits[0].name, "a");
	assert_int_equal(c.limits[0].applies_to, TB_LIMIT_MESSAGES);
	assert_int_equal(c.limits[0].rate_milli, 10000);
	assert_int_equal(c.limits[0].burst, 0);
	assert_int_equal(c.limits[0].delay, 0);
	assert_int_equal(c.limits[0].nodelay, 0);
	assert_int_equal(c.limits[0].dry_run, 0);
	assert_int_equal(c.limits[0].key, TB_LIMIT_KEY_ADDRESS);
	assert_int_equal(c.limits[0].max_keys, 65536);
	assert_string_equal(c.limits[1].name, "b_2");
	assert_int_equal(c.limits[1].applies_to, TB_LIMIT_TEE_CALLS);
	assert_int_equal(c.limits[1].rate_milli, 500); /* 30/60 r/s */
	assert_int_equal(c.limits[1].burst, 20);
	assert_int_equal(c.limits[1].delay, 5);
	assert_int_equal(c.limits[1].dry_run, 1);
	assert_int_equal(c.limits[1].max_keys, 1048576);
	assert_int_equal(c.limits[2].rate_milli, 16); /* 1000/60, rounded down */
	assert_int_equal(c.limits[2].nodelay, 1);
	tb_conf_free(&c);
}

static void conf__ban_section__every_key(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "[ban]\nenabled = no\nthreshold = 30\nhalf_life = 100h\nban_time = 2s\n"
	                "ban_time_max = 2s\nmemory = 0\nallow = 192.0.2.0/24, 2001:db8::/32, "
	                "10.1.2.3\nmax_keys = 1\nweight_malformed = 0\nweight_oversize = 1\n"
	                "weight_text_frame = 2\nweight_rate_limited = 3\n"
	                "weight_unknown_tee = 4294967295\nweight_tam_not_allowed = 7\n"
	                "weight_forbidden = 5\nweight_unauthorized = 0\n",
	        &c);
	assert_int_equal(c.ban.enabled, 0);
	assert_int_equal(c.ban.threshold, 30);
	assert_int_equal(c.ban.half_life_ms, 100 * 3600000ull);
	assert_int_equal(c.ban.ban_time_ms, 2000);
	assert_int_equal(c.ban.ban_time_max_ms, 2000);
	assert_int_equal(c.ban.memory_ms, 0);
	assert_string_equal(c.ban.allow, "192.0.2.0/24, 2001:db8::/32, 10.1.2.3");
	assert_int_equal(c.ban.max_keys, 1);
	assert_int_equal(c.ban.weight_malformed, 0);
	assert_int_equal(c.ban.weight_oversize, 1);
	assert_int_equal(c.ban.weight_text_frame, 2);
	assert_int_equal(c.ban.weight_rate_limited, 3);
	assert_int_equal(c.ban.weight_unknown_tee, 4294967295u);
	assert_int_equal(c.ban.weight_tam_not_allowed, 7);
	assert_int_equal(c.ban.weight_forbidden, 5);
	assert_int_equal(c.ban.weight_unauthorized, 0);
	tb_conf_free(&c);

	load_ok(MINIMAL "[ban]\nallow = none\n[listener]\nmax_connections_per_ip = 3\n", &c);
	assert_string_equal(c.ban.allow, "none");
	assert_int_equal(c.listener.max_connections_per_ip, 3);
	tb_conf_free(&c);
}

static void conf__allow_list__parsed_into_cidrs(void **state)
{
	struct tb_cidr out[TB_BAN_MAX_ALLOW];
	char text[2048];
	size_t n = 99, o = 0;

	assert_int_equal(tb_conf_parse_cidrs("none", out, TB_BAN_MAX_ALLOW, &n), TB_OK);
	assert_int_equal(n, 0);
	assert_int_equal(tb_conf_parse_cidrs(" 127.0.0.0/8 ,::1/128,10.0.0.1", out, 3, &n), TB_OK);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].family, AF_INET);
	assert_int_equal(out[0].prefix, 8);
	assert_int_equal(out[1].family, AF_INET6);
	assert_int_equal(out[1].prefix, 128);
	assert_int_equal(out[2].prefix, 32);
	/* more than cap, empty entries, junk */
	assert_int_equal(tb_conf_parse_cidrs("10.0.0.1, 10.0.0.2", out, 1, &n), TB_ERR_INVAL);
	assert_int_equal(tb_conf_parse_cidrs("10.0.0.1,,10.0.0.2", out, 3, &n), TB_ERR_INVAL);
	assert_int_equal(tb_conf_parse_cidrs("10.0.0.1,", out, 3, &n), TB_ERR_INVAL);
	assert_int_equal(tb_conf_parse_cidrs("10.0.0.1 10.0.0.2", out, 3, &n), TB_ERR_INVAL);
	assert_int_equal(tb_conf_parse_cidrs("none, 10.0.0.1", out, 3, &n), TB_ERR_INVAL);
	/* at most TB_BAN_MAX_ALLOW entries in a file */
	for (unsigned i = 0; i <= TB_BAN_MAX_ALLOW; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s10.0.0.%u", i ? "," : "", i);
	assert_int_equal(tb_conf_parse_cidrs(text, NULL, TB_BAN_MAX_ALLOW, &n), TB_ERR_INVAL);
}

static void conf__allow_app_uris__a_list_that_may_take_several_lines(void **state)
{
	struct tb_conf c;

	load_ok("[tam]\nuri = http://t/\nallow_app_uris = https://a.example/tam, HTTP://B:80/x\n"
	        "max_sessions = 3\nallow_app_uris = http://c/\n[driver:a]\npath = x\n"
	        "[broker]\ncoalesce = no\nmax_waiters = 1\n",
	        &c);
	assert_string_equal(c.tams[0].allow_app_uris,
	                    "https://a.example/tam, HTTP://B:80/x http://c/");
	assert_int_equal(c.tams[0].max_sessions, 3);
	assert_int_equal(c.coalesce, 0);
	assert_int_equal(c.max_waiters, 1);
	tb_conf_free(&c);

	expect_error("[tam]\nuri = http://t/\nallow_app_uris = ftp://a/\n[driver:a]\npath = x\n", 3,
	             "is not a list of http:// or https:// URIs");
	expect_error("[tam]\nuri = http://t/\nallow_app_uris = http://t/\n"
	             "allow_app_uris = http://u@evil/\n[driver:a]\npath = x\n",
	             4, "no user@");
	expect_error("[tam]\nuri = http://t/\nallow_app_uris = ,\n[driver:a]\npath = x\n", 3,
	             "is not a list");
	expect_error("[broker]\nmax_waiters = 0\n" MINIMAL, 2, "is not within 1..65536");
}

/* ---- refused files: each kind of error, with its line ------------------ */

static void conf__unknown_section__error_on_its_line(void **state)
{
	expect_error(MINIMAL "\n[logging]\nlevel = 3\n", 6, "unknown section [logging]");
	expect_error(MINIMAL "[driver]\npath = x\n", 5, "[driver] needs a name");
	expect_error(MINIMAL "[driver:bad name]\npath = x\n", 5, "bad TEE name");
	expect_error(MINIMAL "[tam:a.b]\nuri = http://x/\n", 5, "bad TAM name");
}

static void conf__unknown_key__error_on_its_line(void **state)
{
	expect_error("[broker]\nlog_level = info\nloglevel = info\n" MINIMAL, 3,
	             "unknown key \"loglevel\" in [broker]");
	expect_error(MINIMAL "[listener]\nmax_conections = 3\n", 6, "unknown key");
	expect_error("port = 1\n" MINIMAL, 1, "before any [section]");
}

static void conf__duplicate_key__error_names_the_first_line(void **state)
{
	expect_error("[listener]\nport = 1\n\nport = 2\n" MINIMAL, 4,
	             "duplicate key \"port\" in [listener] (first on line 2)");
	expect_error("[tam]\nuri = http://a/\nuri = http://b/\n[driver:a]\npath = sim\n", 3,
	             "duplicate key \"uri\"");
}

/* A module's options may repeat a key: each line reaches it, in order. */
static void conf__repeated_module_option__passed_in_order(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "trust = /a\ncolour = red\ntrust = /b\n", &c);
	assert_int_equal(c.drivers[0].n_opts, 3);
	assert_string_equal(c.drivers[0].opts[0].key, "trust");
	assert_string_equal(c.drivers[0].opts[0].value, "/a");
	assert_string_equal(c.drivers[0].opts[2].key, "trust");
	assert_string_equal(c.drivers[0].opts[2].value, "/b");
	tb_conf_free(&c);
	/* the broker's own keys still may not */
	expect_error(MINIMAL "call_timeout = 1s\ncall_timeout = 2s\n", 6, "duplicate key");
}

static void conf__duplicate_section__error_names_the_first_line(void **state)
{
	expect_error("[listener]\nport = 1\n[listener]\nmax_connections = 2\n" MINIMAL, 3,
	             "duplicate section [listener] (first on line 1)");
	expect_error(MINIMAL "[tam:default]\nuri = http://b/\n", 5,
	             "duplicate section [tam:default] (first on line 1)");
	expect_error(MINIMAL "[driver:a]\npath = other\n", 5,
	             "duplicate section [driver:a] (first on line 3)");
	expect_error("[broker]\n[broker]\n" MINIMAL, 2, "duplicate section [broker]");
}

static void conf__bad_values__error_on_their_line(void **state)
{
	expect_error("[listener]\nport = eighty\n" MINIMAL, 2, "is not a decimal number");
	expect_error("[listener]\nport = -1\n" MINIMAL, 2, "is not a decimal number");
	expect_error("[listener]\nport = 0x50\n" MINIMAL, 2, "is not a decimal number");
	expect_error("[listener]\nmax_message_size = 4q\n" MINIMAL, 2, "is not a size");
	expect_error("[listener]\nhandshake_timeout = 5 s\n" MINIMAL, 2, "is not a duration");
	expect_error("[broker]\nlog_syslog = maybe\n" MINIMAL, 2, "is not yes or no");
	expect_error("[broker]\nlog_level = verbose\n" MINIMAL, 2,
	             "is not one of err warn notice info debug");
	expect_error("[tam]\nuri = http://t/\nnumbering = 26\n[driver:a]\npath = x\n", 3,
	             "is not one of draft-26 pre-26");
	expect_error("[tam]\nuri = ftp://t/\n[driver:a]\npath = x\n", 2,
	             "is not an http:// or https:// URI");
	expect_error("[tam]\nuri = http://\n[driver:a]\npath = x\n", 2, "URI with a host");
	expect_error(MINIMAL "tam = no/such\n", 5, "may only hold");
	expect_error("[listener]\naddress =\n" MINIMAL, 2, "empty value");
	expect_error("[tam]\nuri = http://t/\naccept_media_types = cose\n[driver:a]\npath = x\n", 3,
	             "is not a comma-separated list of media types");
	expect_error(
	    "[tam]\nuri = http://t/\naccept_media_types = a/b,,c/d\n[driver:a]\npath = x\n", 3,
	    "is not a comma-separated list of media types");
}

static void conf__values_out_of_range__error_shows_the_range(void **state)
{
	expect_error("[listener]\nport = 65536\n" MINIMAL, 2, "is not within 0..65535");
	expect_error("[listener]\nmax_connections = 0\n" MINIMAL, 2, "is not within 1..1000000");
	expect_error("[listener]\nmax_message_size = 2M\n" MINIMAL, 2, "is not within 128..");
	expect_error("[listener]\nhandshake_timeout = 50ms\n" MINIMAL, 2,
	             "is not within 100ms..600000ms");
	expect_error("[listener]\nport = 99999999999999999999999\n" MINIMAL, 2,
	             "is not a decimal number");
	expect_error(MINIMAL "queue_size = 65537\n", 5, "is not within 1..65536");
}

static void conf__resolver_section__values_and_bounds(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "[resolver]\nthreads = 8\nqueue_size = 16\ncache_size = 128\nttl = 0\n"
	                "negative_ttl = 1s\ntimeout = 2s\n",
	        &c);
	assert_int_equal(c.resolver.threads, 8);
	assert_int_equal(c.resolver.queue_size, 16);
	assert_int_equal(c.resolver.cache_size, 128);
	assert_int_equal(c.resolver.ttl_ms, 0);
	assert_int_equal(c.resolver.negative_ttl_ms, 1000);
	assert_int_equal(c.resolver.timeout_ms, 2000);
	tb_conf_free(&c);
	expect_error(MINIMAL "[resolver]\nthreads = 0\n", 6, "is not within 1..64");
	expect_error(MINIMAL "[resolver]\nthreads = 65\n", 6, "is not within 1..64");
	expect_error(MINIMAL "[resolver]\nqueue_size = 0\n", 6, "is not within 1..65536");
	expect_error(MINIMAL "[resolver]\ncache_size = 4097\n", 6, "is not within 1..4096");
	expect_error(MINIMAL "[resolver]\ntimeout = 50ms\n", 6, "is not within 100ms..");
	expect_error(MINIMAL "[resolver]\nttl = 25h\n", 6, "is not within 0ms..");
	expect_error(MINIMAL "[resolver]\nretries = 2\n", 6, "retries");
	expect_error(MINIMAL "[resolver]\nthreads = 2\n[resolver]\nthreads = 3\n", 7, "[resolver]");
}

static void conf__admin_section__values_and_bounds(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "[admin]\nenabled = yes\naddress = ::1\nport = 0\nport_file = /tmp/p\n"
	                "allow = 127.0.0.1, 10.0.0.0/8\n",
	        &c);
	assert_int_equal(c.admin.enabled, 1);
	assert_string_equal(c.admin.address, "::1");
	assert_int_equal(c.admin.port, 0);
	assert_string_equal(c.admin.port_file, "/tmp/p");
	assert_string_equal(c.admin.allow, "127.0.0.1, 10.0.0.0/8");
	tb_conf_free(&c);
	load_ok(MINIMAL "[admin]\nallow = none\n", &c);
	assert_string_equal(c.admin.allow, "none");
	tb_conf_free(&c);
	/* a disabled listener may name any port */
	load_ok(MINIMAL "[listener]\nport = 9000\n[admin]\nport = 9000\n", &c);
	tb_conf_free(&c);
	expect_error(MINIMAL "[admin]\nport = 65536\n", 6, "is not within 0..65535");
	expect_error(MINIMAL "[admin]\nallow = 10.1.2.3/8\n", 6, "is not \"none\" or");
	expect_error(MINIMAL "[admin]\nenabled = maybe\n", 6, "is not yes or no");
	expect_error(MINIMAL "[admin]\npath = /metrics\n", 6, "unknown key \"path\" in [admin]");
	expect_error(MINIMAL "[admin]\nport = 1\n[admin]\nport = 2\n", 7, "duplicate section");
	expect_error(MINIMAL "[listener]\nport = 9000\n[admin]\nenabled = yes\nport = 9000\n", 9,
	             "[admin] port 9000 is the [listener] port");
	expect_error(MINIMAL "[admin]\nenabled = yes\nport = 8470\naddress = *\n", 7,
	             "[admin] port 8470 is the [listener] port");
}

static void conf__missing_required_keys__error_on_the_section_line(void **state)
{
	expect_error("[tam]\nnumbering = pre-26\n[driver:a]\npath = x\n", 1, "[tam] has no uri");
	expect_error(MINIMAL "[tam:b]\n", 5, "[tam:b] has no uri");
	expect_error("[tam]\nuri = http://t/\n\n[driver:a]\nstate_dir = /x\n", 4,
	             "[driver:a] has no path");
}

static void conf__driver_naming_no_tam__error(void **state)
{
	expect_error(MINIMAL "tam = edge\n", 5,
	             "[driver:a] talks to TAM \"edge\", but there is no [tam:edge] section");
	expect_error("[tam:x]\nuri = http://t/\n[driver:a]\npath = sim\n", 3,
	             "there is no [tam] section");
}

static void conf__no_driver__error_on_line_0(void **state)
{
	expect_error("[tam]\nuri = http://t/\n", 0, "no [driver:NAME] section");
	expect_error("", 0, "no [driver:NAME] section");
}

static void conf__line_too_long__error_instead_of_a_cut_value(void **state)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf c;
	char text[1024];
	char val[400];
	size_t n;

	/* libinih's buffer holds 199 bytes and a NUL: a line of 199 bytes
	 * arrives whole, one of 200 is refused. */
	memset(val, 'x', sizeof(val) - 1);
	val[199 - strlen("state_dir = /")] = 0;
	snprintf(text, sizeof(text), MINIMAL "state_dir = /%s\n", val);
	load_ok(text, &c);
	assert_int_equal(strlen(c.drivers[0].opts[0].value), 199 - strlen("state_dir = "));
	tb_conf_free(&c);
	/* a driver's option may be longer (up to TB_CONF_MAX_OPT_LINE), with
	 * an inline comment as on a short line; the broker's keys may not */
	memset(val, 'x', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	snprintf(text, sizeof(text), MINIMAL "state_dir = /%s  ; a comment\n", val);
	load_ok(text, &c);
	assert_int_equal(strlen(c.drivers[0].opts[0].value), sizeof(val));
	assert_string_equal(c.drivers[0].opts[0].key, "state_dir");
	tb_conf_free(&c);
	snprintf(text, sizeof(text), MINIMAL "[listener]\naddress = %s\n", val);
	expect_error(text, 6, "line too long (more than 199 bytes)");
	snprintf(text, sizeof(text), MINIMAL "call_timeout = %s\n", val);
	expect_error(text, 5, "line too long (more than 199 bytes)");
	memset(val, 'x', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;

	/* A long header: its keys must not land in the section before, where
	 * "path" would be an unknown key. */
	snprintf(text, sizeof(text), MINIMAL "[listener]\n[driver:%s]\npath = x\n", val);
	expect_error(text, 6, "line too long");
	assert_int_equal(load(text, &c, errs, &n), TB_ERR_INVAL);
	assert_int_equal(n, 1);
}

static void conf__malformed_lines__error_on_their_line(void **state)
{
	expect_error(MINIMAL "just words\n", 5, "expected \"key = value\"");
	expect_error(MINIMAL "words ; port = 3\n", 5, "expected \"key = value\"");
	expect_error(MINIMAL "[listener\nport = 1\n", 5, "section header without ']'");
	expect_error(MINIMAL "[listener] port = 1\n", 5, "text after the section header");
	expect_error(MINIMAL "x = a\001b\n", 5, "control character");
}

static void conf__nul_byte__error_on_its_line(void **state)
{
	static const char text[] = MINIMAL "a = b\0c\n";
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf c;
	size_t n = 0;
	char path[] = "/tmp/test_conf_XXXXXX";
	int fd = mkstemp(path);

	/* Only a file can hold a NUL byte: a string ends at it. */
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(tb_conf_load(path, &c, errs, &n), TB_ERR_INVAL);
	unlink(path);
	assert_int_equal(n, 1);
	assert_int_equal(errs[0].line, 5);
	assert_non_null(strstr(errs[0].msg, "NUL"));
}

static void conf__too_many_sections_or_options__error(void **state)
{
	char text[8192];
	size_t o = 0;

	o += (size_t)snprintf(text + o, sizeof(text) - o, "[tam]\nuri = http://t/\n");
	for (int i = 0; i <= TB_CONF_MAX_DRIVERS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "[driver:d%d]\npath = x\n", i);
	expect_error(text, 3 + 2 * TB_CONF_MAX_DRIVERS, "too many driver sections");

	o = (size_t)snprintf(text, sizeof(text), MINIMAL);
	for (int i = 0; i <= TB_CONF_MAX_OPTS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "k%d = v\n", i);
	expect_error(text, 5 + TB_CONF_MAX_OPTS, "too many driver options");

	o = 0;
	for (int i = 0; i <= TB_CONF_MAX_TAMS; i++)
		o +=
		    (size_t)snprintf(text + o, sizeof(text) - o, "[tam:t%d]\nuri = http://t/\n", i);
	expect_error(text, 1 + 2 * TB_CONF_MAX_TAMS, "too many TAM sections");
}

static void conf__several_errors__all_reported_in_line_order(void **state)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf c;
	size_t n;

	assert_int_equal(
	    load("[listener]\nport = x\nbogus = 1\n[tam]\n[nope]\nk = v\n", &c, errs, &n),
	    TB_ERR_INVAL);
	/* port (2), bogus (3), [tam] without uri (4), [nope] (5), no driver
	 * (0, last); "k" inside the unknown section gives no error of its own */
	assert_int_equal(n, 5);
	assert_int_equal(errs[0].line, 2);
	assert_int_equal(errs[1].line, 3);
	assert_int_equal(errs[2].line, 4);
	assert_int_equal(errs[3].line, 5);
	assert_int_equal(errs[4].line, 0);
}

static void conf__limit_and_ban_mistakes__error_on_their_line(void **state)
{
	expect_error(MINIMAL "[limit:a]\nrate = 10r/s\n", 5, "[limit:a] has no applies_to");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\n", 5, "[limit:a] has no rate");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 10/s\n", 7,
	             "is not a rate such as 10r/s");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 0r/s\n", 7, "is not a rate");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 10 r/s\n", 7,
	             "is not a rate");
	expect_error(MINIMAL "[limit:a]\napplies_to = all\nrate = 1r/s\n", 6,
	             "is not one of messages tee-calls");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\nkey = identity\n", 8,
	             "is not one of address app");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\ndelay = 2\n"
	                     "nodelay = yes\n",
	             9, "both delay and nodelay");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\nburst = 1000001\n", 8,
	             "is not within 0..1000000");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\nmax_keys = 0\n", 8,
	             "is not within 1..1048576");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\nbogus = 1\n", 8,
	             "unknown key \"bogus\" in [limit:a]");
	expect_error(MINIMAL "[limit]\nrate = 1r/s\n", 5, "[limit] needs a name");
	expect_error(MINIMAL "[limit:a b]\nrate = 1r/s\n", 5, "bad zone name");
	expect_error(MINIMAL "[limit:a]\napplies_to = messages\nrate = 1r/s\n"
	                     "[limit:a]\napplies_to = messages\nrate = 1r/s\n",
	             8, "duplicate section [limit:a] (first on line 5)");

	expect_error(MINIMAL "[ban]\nban_time = 2h\n", 5,
	             "[ban] ban_time_max is shorter than ban_time");
	expect_error(MINIMAL "[ban]\nban_time = 10s\nban_time_max = 5s\n", 7,
	             "[ban] ban_time_max is shorter than ban_time");
	expect_error(MINIMAL "[ban]\nallow = 10.1.2.3/8\n", 6, "is not \"none\" or up to");
	expect_error(MINIMAL "[ban]\nallow = localhost\n", 6, "is not \"none\" or up to");
	expect_error(MINIMAL "[ban]\nthreshold = 0\n", 6, "is not within 1..4294967295");
	expect_error(MINIMAL "[ban]\nhalf_life = 0\n", 6, "is not within 1ms..");
	expect_error(MINIMAL "[ban]\nhalf_life = 1001h\n", 6, "is not within 1ms..3600000000ms");
	expect_error(MINIMAL "[ban]\nweight_malformed = -1\n", 6, "is not a decimal number");
	expect_error(MINIMAL "[ban]\nenabled = no\n[ban]\n", 7, "duplicate section [ban]");
	expect_error(MINIMAL "[listener]\nmax_connections_per_ip = 0\n", 6,
	             "is not within 1..1000000");
}

static void conf__plugin_sections__path_and_options_in_order(void **state)
{
	struct tb_conf c;

	load_ok(MINIMAL "[broker]\nplugin_dir = /opt/plugins\n"
	                "[plugin:auth]\ntoken_file = /etc/t\npath = auth-token\nanonymous = no\n"
	                "[plugin:audit-2]\npath = /x/audit.so\n"
	                "[limit:apps]\napplies_to = tee-calls\nrate = 1r/s\nkey = app\n",
	        &c);
	assert_string_equal(c.plugin_dir, "/opt/plugins");
	assert_int_equal(c.n_plugins, 2);
	assert_string_equal(c.plugins[0].name, "auth");
	assert_string_equal(c.plugins[0].path, "auth-token");
	assert_int_equal(c.plugins[0].n_opts, 2);
	assert_string_equal(c.plugins[0].opts[0].key, "token_file");
	assert_string_equal(c.plugins[0].opts[0].value, "/etc/t");
	assert_string_equal(c.plugins[0].opts[1].key, "anonymous");
	assert_string_equal(c.plugins[1].name, "audit-2");
	assert_string_equal(c.plugins[1].path, "/x/audit.so");
	assert_int_equal(c.plugins[1].n_opts, 0);
	assert_int_equal(c.limits[0].key, TB_LIMIT_KEY_APP);
	tb_conf_free(&c);
}

static void conf__plugin_mistakes__error_on_their_line(void **state)
{
	char text[8192];
	size_t o;

	expect_error(MINIMAL "[plugin:a]\ntoken_file = x\n", 5, "[plugin:a] has no path");
	expect_error(MINIMAL "[plugin]\npath = x\n", 5, "[plugin] needs a name");
	expect_error(MINIMAL "[plugin:a.b]\npath = x\n", 5, "bad plugin name");
	expect_error(MINIMAL "[plugin:a]\npath = x\n[plugin:a]\npath = y\n", 7,
	             "duplicate section [plugin:a] (first on line 5)");
	expect_error(MINIMAL "[plugin:a]\npath = x\npath = y\n", 7, "duplicate key \"path\"");
	expect_error(MINIMAL "[plugin:a]\npath =\n", 6, "empty value");

	o = (size_t)snprintf(text, sizeof(text), MINIMAL);
	for (int i = 0; i <= TB_CONF_MAX_PLUGINS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "[plugin:p%d]\npath = x\n", i);
	expect_error(text, 5 + 2 * TB_CONF_MAX_PLUGINS, "too many plugin sections");

	o = (size_t)snprintf(text, sizeof(text), MINIMAL "[plugin:a]\npath = x\n");
	for (int i = 0; i <= TB_CONF_MAX_OPTS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "k%d = v\n", i);
	expect_error(text, 7 + TB_CONF_MAX_OPTS, "too many plugin options in [plugin:a]");
}

static void conf__app_tam_sections__keys_and_defaults(void **state)
{
	struct tb_conf c;

	(void)state;
	load_ok(MINIMAL "[app-tam:nav@fleet.example]\nkey = /etc/nav-tam.pem\n"
	                "[app-tam:maps]\nkey = m.pem\ntee = a\nnumbering = pre-26\n"
	                "max_messages = 4\nidle_timeout = 500ms\n"
	                "[ban]\nweight_forged = 7\n",
	        &c);
	assert_int_equal(c.n_app_tams, 2);
	assert_string_equal(c.app_tams[0].identity, "nav@fleet.example");
	assert_string_equal(c.app_tams[0].key, "/etc/nav-tam.pem");
	assert_null(c.app_tams[0].tee);
	assert_int_equal(c.app_tams[0].numbering, TB_NUM_DRAFT26);
	assert_int_equal(c.app_tams[0].max_messages, 16);
	assert_int_equal(c.app_tams[0].idle_timeout_ms, 30000);
	assert_string_equal(c.app_tams[1].tee, "a");
	assert_int_equal(c.app_tams[1].numbering, TB_NUM_PRE26);
	assert_int_equal(c.app_tams[1].max_messages, 4);
	assert_int_equal(c.app_tams[1].idle_timeout_ms, 500);
	assert_int_equal(c.ban.weight_forged, 7);
	assert_ptr_equal(tb_conf_find_app_tam(&c, "maps"), &c.app_tams[1]);
	assert_null(tb_conf_find_app_tam(&c, "other"));
	assert_null(tb_conf_find_app_tam(&c, ""));
	tb_conf_free(&c);

	expect_error(MINIMAL "[app-tam:a]\ntee = sim\n", 5, "[app-tam:a] has no key");
	expect_error(MINIMAL "[app-tam]\nkey = x\n", 5, "[app-tam] needs an app identity");
	expect_error(MINIMAL "[app-tam:a b]\nkey = x\n", 5, "bad identity");
	expect_error(MINIMAL "[app-tam:a]\nkey = x\n[app-tam:a]\nkey = y\n", 7,
	             "duplicate section [app-tam:a] (first on line 5)");
	expect_error(MINIMAL "[app-tam:a]\nkey = x\ntee = nope\n", 7,
	             "names TEE \"nope\", but there is no [driver:nope] section");
	expect_error(MINIMAL "[app-tam:a]\nkey = x\nmax_messages = 0\n", 7, "max_messages");
	expect_error(MINIMAL "[app-tam:a]\nkey = x\nother = 1\n", 7, "unknown key");
}

static void conf__tam_precheck__needs_a_trust_anchor(void **state)
{
	struct tb_conf c;

	(void)state;
	load_ok(MINIMAL, &c);
	assert_int_equal(c.tams[0].precheck, 0);
	assert_null(c.tams[0].trust_anchor);
	tb_conf_free(&c);
	load_ok("[tam]\nuri = http://127.0.0.1:8480/tam\nprecheck = yes\n"
	        "trust_anchor = /etc/tam_pub.pem\n[driver:a]\npath = sim\n",
	        &c);
	assert_int_equal(c.tams[0].precheck, 1);
	assert_string_equal(c.tams[0].trust_anchor, "/etc/tam_pub.pem");
	tb_conf_free(&c);
	expect_error(
	    "[tam]\nuri = http://127.0.0.1:8480/tam\nprecheck = yes\n[driver:a]\npath = sim\n", 3,
	    "[tam]: precheck = yes needs trust_anchor");
}

static void conf__shipped_plugin_example__parses_as_documented(void **state)
{
	/* The [plugin:auth] example of the shipped file: "# key = value"
	 * lines after "# [plugin:auth]", valid once the "# " is removed. */
	char text[8192];
	struct tb_conf c;

	shipped_examples("# [plugin:", text, sizeof(text));
	load_ok(text, &c);
	assert_int_equal(c.n_plugins, 1);
	assert_string_equal(c.plugins[0].name, "auth");
	assert_string_equal(c.plugins[0].path, "auth-token");
	assert_int_equal(c.plugins[0].n_opts, 2);
	assert_string_equal(c.plugins[0].opts[0].key, "token_file");
	assert_string_equal(c.plugins[0].opts[1].key, "anonymous");
	assert_string_equal(c.plugins[0].opts[1].value, "no");
	tb_conf_free(&c);
}

static void conf__too_many_limit_sections__error(void **state)
{
	char text[8192];
	size_t o = (size_t)snprintf(text, sizeof(text), MINIMAL);

	for (int i = 0; i <= TB_CONF_MAX_LIMITS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		                      "[limit:z%d]\napplies_to = messages\nrate = 1r/s\n", i);
	expect_error(text, 5 + 3 * TB_CONF_MAX_LIMITS, "too many limit sections");
}

static void conf__error_list__bounded(void **state)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	char text[4096];
	struct tb_conf c;
	size_t n, o = 0;

	for (int i = 0; i < 3 * TB_CONF_MAX_ERRORS; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "bad%d\n", i);
	assert_int_equal(load(text, &c, errs, &n), TB_ERR_INVAL);
	assert_int_equal(n, TB_CONF_MAX_ERRORS);
	assert_int_equal(errs[0].line, 1);
	/* NULL error list: still refused, nothing written */
	assert_int_equal(tb_conf_load_string(text, &c, NULL, NULL), TB_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(conf__shipped_file__parses_into_a_working_setup),
	    cmocka_unit_test(conf__shipped_file_uncommented__parses_with_the_same_values),
	    cmocka_unit_test(conf__defaults__are_those_documented_in_conf_h),
	    cmocka_unit_test(conf__sizes_and_durations__parsed_with_their_units),
	    cmocka_unit_test(conf__booleans_and_enums__every_spelling),
	    cmocka_unit_test(conf__driver_options__collected_in_order),
	    cmocka_unit_test(conf__several_tams_and_drivers__linked_by_name),
	    cmocka_unit_test(conf__layout_details__tolerated),
	    cmocka_unit_test(conf__file_on_disk__read),
	    cmocka_unit_test(conf__missing_file__io_error_on_line_0),
	    cmocka_unit_test(conf__unknown_section__error_on_its_line),
	    cmocka_unit_test(conf__unknown_key__error_on_its_line),
	    cmocka_unit_test(conf__duplicate_key__error_names_the_first_line),
	    cmocka_unit_test(conf__repeated_module_option__passed_in_order),
	    cmocka_unit_test(conf__duplicate_section__error_names_the_first_line),
	    cmocka_unit_test(conf__bad_values__error_on_their_line),
	    cmocka_unit_test(conf__values_out_of_range__error_shows_the_range),
	    cmocka_unit_test(conf__missing_required_keys__error_on_the_section_line),
	    cmocka_unit_test(conf__driver_naming_no_tam__error),
	    cmocka_unit_test(conf__no_driver__error_on_line_0),
	    cmocka_unit_test(conf__line_too_long__error_instead_of_a_cut_value),
	    cmocka_unit_test(conf__malformed_lines__error_on_their_line),
	    cmocka_unit_test(conf__nul_byte__error_on_its_line),
	    cmocka_unit_test(conf__too_many_sections_or_options__error),
	    cmocka_unit_test(conf__several_errors__all_reported_in_line_order),
	    cmocka_unit_test(conf__error_list__bounded),
	    cmocka_unit_test(conf__shipped_limit_examples__parse_as_documented),
	    cmocka_unit_test(conf__resolver_section__values_and_bounds),
	    cmocka_unit_test(conf__admin_section__values_and_bounds),
	    cmocka_unit_test(conf__limit_sections__every_key_and_default),
	    cmocka_unit_test(conf__ban_section__every_key),
	    cmocka_unit_test(conf__allow_list__parsed_into_cidrs),
	    cmocka_unit_test(conf__allow_app_uris__a_list_that_may_take_several_lines),
	    cmocka_unit_test(conf__limit_and_ban_mistakes__error_on_their_line),
	    cmocka_unit_test(conf__too_many_limit_sections__error),
	    cmocka_unit_test(conf__plugin_sections__path_and_options_in_order),
	    cmocka_unit_test(conf__plugin_mistakes__error_on_their_line),
	    cmocka_unit_test(conf__app_tam_sections__keys_and_defaults),
	    cmocka_unit_test(conf__tam_precheck__needs_a_trust_anchor),
	    cmocka_unit_test(conf__shipped_plugin_example__parses_as_documented),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
