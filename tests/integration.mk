# Integration tests: the real programs on loopback (see tests/integration/lib.sh)
INTEGRATION_TESTS = \
	tests/integration/startup.sh \
	tests/integration/check_config.sh \
	tests/integration/privdrop.sh \
	tests/integration/notify.sh \
	tests/integration/install.sh \
	tests/integration/attest.sh \
	tests/integration/manifest_kid.sh \
	tests/integration/uri_fetch.sh \
	tests/integration/ear_rp.sh \
	tests/integration/app_tam_attest.sh \
	tests/integration/vector.sh \
	tests/integration/vectors_diag.sh \
	tests/integration/personalization.sh \
	tests/integration/concurrent.sh \
	tests/integration/bad_input.sh \
	tests/integration/bad_cbor.sh \
	tests/integration/tam_failures.sh \
	tests/integration/tam_keepalive.sh \
	tests/integration/tee_queue_full.sh \
	tests/integration/tam_media_type.sh \
	tests/integration/https.sh \
	tests/integration/wss.sh \
	tests/integration/http_rules.sh \
	tests/integration/shutdown.sh \
	tests/integration/numbering.sh \
	tests/integration/defence_conns.sh \
	tests/integration/defence_origin.sh \
	tests/integration/defence_ratelimit.sh \
	tests/integration/defence_shipped.sh \
	tests/integration/defence_fairq.sh \
	tests/integration/defence_global_limit.sh \
	tests/integration/defence_slow.sh \
	tests/integration/defence_ban.sh \
	tests/integration/defence_unread.sh \
	tests/integration/policy_timer.sh \
	tests/integration/tam_allow.sh \
	tests/integration/coalesce.sh \
	tests/integration/app_tam.sh \
	tests/integration/tam_precheck.sh \
	tests/integration/plugin_auth.sh \
	tests/integration/plugin_hooks.sh \
	tests/integration/tam_slow_dns.sh \
	tests/integration/install_layout.sh \
	tests/integration/bench_smoke.sh \
	tests/integration/two_tees.sh \
	tests/integration/log_verbose.sh \
	tests/integration/log_stall.sh \
	tests/integration/final_answer.sh \
	tests/integration/agentd.sh \
	tests/integration/agentd_tsm.sh \
	tests/integration/metrics.sh \
	tests/integration/abi11.sh \
	tests/integration/usecase_case1.sh \
	tests/integration/usecase_case2.sh \
	tests/integration/usecase_case3.sh \
	tests/integration/usecase_case4.sh \
	tests/integration/usecase_case5.sh \
	tests/integration/reload.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/integration/diag-norm.awk \
	tests/integration/promcheck.awk tests/integration/usecase_lib.sh

# The service manager's end of sd_notify, for notify.sh
check_PROGRAMS += tests/integration/notify_reader
tests_integration_notify_reader_SOURCES = tests/integration/notify_reader.c

# A slow getaddrinfo() for tam_slow_dns.sh, preloaded into the broker
check_LTLIBRARIES += tests/integration/slowdns.la
tests_integration_slowdns_la_SOURCES = tests/integration/slowdns.c
tests_integration_slowdns_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere \
	$(SANITIZE_CFLAGS)
tests_integration_slowdns_la_LIBADD = $(LIBS)
