# Unit tests of the app API codec and of the configuration reader
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_uaproto
TESTS += tests/unit/test_uaproto
tests_unit_test_uaproto_SOURCES = tests/unit/test_uaproto.c
tests_unit_test_uaproto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_uaproto_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c broker/conf.c broker/ratelimit.c \
	broker/banscore.c broker/keytable.c broker/tamuri.c
tests_unit_test_conf_CFLAGS = $(UNIT_CFLAGS) $(INIH_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_conf_LDADD = $(UNIT_LDADD) $(INIH_LIBS)

check_PROGRAMS += tests/unit/test_confdiff
TESTS += tests/unit/test_confdiff
tests_unit_test_confdiff_SOURCES = tests/unit/test_confdiff.c broker/confdiff.c broker/conf.c \
	broker/ratelimit.c broker/banscore.c broker/keytable.c broker/tamuri.c
tests_unit_test_confdiff_CFLAGS = $(UNIT_CFLAGS) $(INIH_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_confdiff_LDADD = $(UNIT_LDADD) $(INIH_LIBS)
endif
