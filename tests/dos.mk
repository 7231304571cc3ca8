# Denial-of-service defences: rate limiter, fair queue, ban table, and the
# key table the limiter and the ban table share. Pure modules, no I/O.
DOS_KT_SRC = broker/keytable.c broker/keytable.h

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_keytable tests/unit/test_ratelimit tests/unit/test_fairq \
	tests/unit/test_banscore
TESTS += tests/unit/test_keytable tests/unit/test_ratelimit tests/unit/test_fairq \
	tests/unit/test_banscore

tests_unit_test_keytable_SOURCES = tests/unit/test_keytable.c $(DOS_KT_SRC)
tests_unit_test_keytable_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_keytable_LDADD = $(CMOCKA_LIBS)

tests_unit_test_ratelimit_SOURCES = tests/unit/test_ratelimit.c broker/ratelimit.c \
	broker/ratelimit.h $(DOS_KT_SRC)
tests_unit_test_ratelimit_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_ratelimit_LDADD = $(CMOCKA_LIBS)

tests_unit_test_fairq_SOURCES = tests/unit/test_fairq.c broker/fairq.c broker/fairq.h
tests_unit_test_fairq_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_fairq_LDADD = $(CMOCKA_LIBS)

tests_unit_test_banscore_SOURCES = tests/unit/test_banscore.c broker/banscore.c \
	broker/banscore.h $(DOS_KT_SRC)
tests_unit_test_banscore_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_banscore_LDADD = $(CMOCKA_LIBS)
endif
