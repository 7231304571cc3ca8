# Unit tests of the shared protocol library (lib/).
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_util
TESTS += tests/unit/test_util
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_util_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_tsm
TESTS += tests/unit/test_tsm
tests_unit_test_tsm_SOURCES = tests/unit/test_tsm.c
tests_unit_test_tsm_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tsm_LDADD = $(UNIT_LDADD) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/test_cbor
TESTS += tests/unit/test_cbor
tests_unit_test_cbor_SOURCES = tests/unit/test_cbor.c
tests_unit_test_cbor_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cbor_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_cose
TESTS += tests/unit/test_cose
tests_unit_test_cose_SOURCES = tests/unit/test_cose.c
tests_unit_test_cose_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cose_LDADD = $(UNIT_LDADD) $(PTHREAD_LIBS)

check_PROGRAMS += tests/unit/test_cose_encrypt
TESTS += tests/unit/test_cose_encrypt
tests_unit_test_cose_encrypt_SOURCES = tests/unit/test_cose_encrypt.c
tests_unit_test_cose_encrypt_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cose_encrypt_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_teep
TESTS += tests/unit/test_teep
tests_unit_test_teep_SOURCES = tests/unit/test_teep.c
tests_unit_test_teep_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_teep_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_suit
TESTS += tests/unit/test_suit
tests_unit_test_suit_SOURCES = tests/unit/test_suit.c
tests_unit_test_suit_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_suit_LDADD = $(UNIT_LDADD)

check_PROGRAMS += tests/unit/test_log
TESTS += tests/unit/test_log
tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(UNIT_LDADD) $(PTHREAD_LIBS)
endif

# The Agent protocol codec (teep-agentd and the agent driver)
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_agentproto
TESTS += tests/unit/test_agentproto
tests_unit_test_agentproto_SOURCES = tests/unit/test_agentproto.c
tests_unit_test_agentproto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_agentproto_LDADD = $(UNIT_LDADD)
endif

# teep-agentd's server and executor against a hostile client, with a fake Agent
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_agentd
TESTS += tests/unit/test_agentd
tests_unit_test_agentd_SOURCES = tests/unit/test_agentd.c agentd/server.c agentd/exec.c \
	agentd/conf.c agentd/agentd.h
tests_unit_test_agentd_CFLAGS = $(UNIT_CFLAGS) $(INIH_CFLAGS) $(PTHREAD_CFLAGS) \
	-I$(top_srcdir)/agentd
tests_unit_test_agentd_LDADD = $(UNIT_LDADD) $(INIH_LIBS) $(PTHREAD_LIBS)
endif
