# Broker units: the TAM-client state machine, the driver and plugin loader, the
# worker. Fake driver and plugin objects, each with one defect, for the loader
# and startup tests.
FAKE_DRV_LDFLAGS = -module -avoid-version -shared -rpath /nowhere $(SANITIZE_CFLAGS)
FAKE_DRV_SRC = tests/unit/fake_driver.c
check_LTLIBRARIES = tests/unit/drv_good.la tests/unit/drv_badmagic.la \
	tests/unit/drv_major.la tests/unit/drv_minor.la tests/unit/drv_short.la \
	tests/unit/drv_noentry.la tests/unit/drv_noinit.la tests/unit/drv_initfails.la
tests_unit_drv_good_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_good_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_badmagic_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_badmagic_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MAGIC=0x12345678u
tests_unit_drv_badmagic_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_major_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_major_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MAJOR=99
tests_unit_drv_major_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_minor_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_minor_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MINOR=77
tests_unit_drv_minor_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_short_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_short_la_CFLAGS = $(AM_CFLAGS) -DFAKE_SIZE=16
tests_unit_drv_short_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_noentry_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_noentry_la_CFLAGS = $(AM_CFLAGS) -DFAKE_NO_ENTRY
tests_unit_drv_noentry_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_noinit_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_noinit_la_CFLAGS = $(AM_CFLAGS) -DFAKE_NO_INIT
tests_unit_drv_noinit_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv_initfails_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_initfails_la_CFLAGS = $(AM_CFLAGS) -DFAKE_INIT_FAILS
tests_unit_drv_initfails_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
# A 1.0 descriptor as a 1.0 driver built it: what 1.1 appended is not there.
check_LTLIBRARIES += tests/unit/drv_abi10.la
tests_unit_drv_abi10_la_SOURCES = $(FAKE_DRV_SRC)
tests_unit_drv_abi10_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MINOR=0 \
	-DFAKE_SIZE='offsetof(struct tb_driver, max_concurrency)'
tests_unit_drv_abi10_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
# ABI 1.1 drivers for the daemon's tests (abi11.sh): two calls at once, or one.
check_LTLIBRARIES += tests/unit/drv11.la tests/unit/drv11_serial.la
tests_unit_drv11_la_SOURCES = tests/unit/fake_driver11.c
tests_unit_drv11_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_drv11_serial_la_SOURCES = tests/unit/fake_driver11.c
tests_unit_drv11_serial_la_CFLAGS = $(AM_CFLAGS) -DFAKE_CONCURRENCY=1
tests_unit_drv11_serial_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)

# The same for plugins.
FAKE_PLUGIN_SRC = tests/unit/fake_plugin.c
check_LTLIBRARIES += tests/unit/plg_good.la tests/unit/plg_badmagic.la \
	tests/unit/plg_major.la tests/unit/plg_minor.la tests/unit/plg_short.la \
	tests/unit/plg_noentry.la tests/unit/plg_nofini.la tests/unit/plg_initfails.la \
	tests/unit/plg_trace.la tests/unit/plg_halfreload.la
tests_unit_plg_halfreload_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_halfreload_la_CFLAGS = $(AM_CFLAGS) -DFAKE_HALF_RELOAD
tests_unit_plg_halfreload_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_trace_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_trace_la_CFLAGS = $(AM_CFLAGS) -DFAKE_TRACE
tests_unit_plg_trace_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_good_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_good_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_badmagic_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_badmagic_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MAGIC=0x12345678u
tests_unit_plg_badmagic_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_major_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_major_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MAJOR=99
tests_unit_plg_major_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_minor_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_minor_la_CFLAGS = $(AM_CFLAGS) -DFAKE_MINOR=77
tests_unit_plg_minor_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_short_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_short_la_CFLAGS = $(AM_CFLAGS) -DFAKE_SIZE=16
tests_unit_plg_short_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_noentry_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_noentry_la_CFLAGS = $(AM_CFLAGS) -DFAKE_NO_ENTRY
tests_unit_plg_noentry_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_nofini_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_nofini_la_CFLAGS = $(AM_CFLAGS) -DFAKE_NO_FINI
tests_unit_plg_nofini_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)
tests_unit_plg_initfails_la_SOURCES = $(FAKE_PLUGIN_SRC)
tests_unit_plg_initfails_la_CFLAGS = $(AM_CFLAGS) -DFAKE_INIT_FAILS
tests_unit_plg_initfails_la_LDFLAGS = $(FAKE_DRV_LDFLAGS)

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_tamsm tests/unit/test_loader tests/unit/test_worker \
	tests/unit/test_http1
TESTS += tests/unit/test_tamsm tests/unit/test_loader tests/unit/test_worker \
	tests/unit/test_http1

tests_unit_test_http1_SOURCES = tests/unit/test_http1.c broker/http1.c
tests_unit_test_http1_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_http1_LDADD = $(CMOCKA_LIBS)

tests_unit_test_tamsm_SOURCES = tests/unit/test_tamsm.c broker/tamsm.c
tests_unit_test_tamsm_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_tamsm_LDADD = $(CMOCKA_LIBS)

tests_unit_test_loader_SOURCES = tests/unit/test_loader.c broker/loader.c
tests_unit_test_loader_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker \
	-DTEST_MODULE_DIR='"$(abs_top_builddir)/tests/unit/.libs"'
tests_unit_test_loader_LDADD = $(CMOCKA_LIBS) $(LIBS)

tests_unit_test_worker_SOURCES = tests/unit/test_worker.c broker/worker.c
tests_unit_test_worker_CFLAGS = $(UNIT_CFLAGS) $(LWS_CFLAGS) $(PTHREAD_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_worker_LDADD = $(CMOCKA_LIBS) $(LWS_LIBS) $(PTHREAD_LIBS)
endif

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_precheck
TESTS += tests/unit/test_precheck
tests_unit_test_precheck_SOURCES = tests/unit/test_precheck.c broker/precheck.c broker/precheck.h
tests_unit_test_precheck_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_precheck_LDADD = $(UNIT_LDADD)
endif

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_resolver
TESTS += tests/unit/test_resolver
tests_unit_test_resolver_SOURCES = tests/unit/test_resolver.c broker/resolver.c broker/resolver.h
tests_unit_test_resolver_CFLAGS = $(UNIT_CFLAGS) $(LWS_CFLAGS) $(PTHREAD_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_resolver_LDADD = $(UNIT_LDADD) $(LWS_LIBS) $(PTHREAD_LIBS)
endif

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_metrics
TESTS += tests/unit/test_metrics
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c broker/metrics.c broker/metrics.h
tests_unit_test_metrics_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_metrics_LDADD = $(CMOCKA_LIBS)
endif
