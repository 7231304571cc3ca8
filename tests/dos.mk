# Denial-of-service defences: rate limiter, fair queue, ban table, the key
# table the limiter and the ban table share, the single-flight table and the
# TAM URI allowlist. Pure modules, no I/O.
DOS_KT_SRC = broker/keytable.c broker/keytable.h

if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_keytable tests/unit/test_ratelimit tests/unit/test_fairq \
	tests/unit/test_banscore tests/unit/test_flight tests/unit/test_tamuri
TESTS += tests/unit/test_keytable tests/unit/test_ratelimit tests/unit/test_fairq \
	tests/unit/test_banscore tests/unit/test_flight tests/unit/test_tamuri

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

tests_unit_test_flight_SOURCES = tests/unit/test_flight.c broker/flight.c broker/flight.h \
	$(DOS_KT_SRC)
tests_unit_test_flight_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_flight_LDADD = $(CMOCKA_LIBS)

# deadline.c arms an lws timer; the test's lists have no context
check_PROGRAMS += tests/unit/test_deadline
TESTS += tests/unit/test_deadline
tests_unit_test_deadline_SOURCES = tests/unit/test_deadline.c broker/deadline.c broker/deadline.h
tests_unit_test_deadline_CFLAGS = $(UNIT_CFLAGS) $(LWS_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_deadline_LDADD = $(CMOCKA_LIBS) $(LWS_LIBS)

tests_unit_test_tamuri_SOURCES = tests/unit/test_tamuri.c broker/tamuri.c broker/tamuri.h
tests_unit_test_tamuri_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/broker
tests_unit_test_tamuri_LDADD = $(CMOCKA_LIBS)
endif
