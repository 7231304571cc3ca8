# Reference TAM logic (tools/tam_core.c), without networking.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_tam
TESTS += tests/unit/test_tam
tests_unit_test_tam_SOURCES = tests/unit/test_tam.c tools/tam_core.c tools/tam_appraise.c
tests_unit_test_tam_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tam_LDADD = $(UNIT_LDADD)
endif

# Evidence (EAT), Attestation Results (EAR), RFC 9679 thumbprints and the
# TAM's appraisal.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_eat
TESTS += tests/unit/test_eat
tests_unit_test_eat_SOURCES = tests/unit/test_eat.c tools/tam_appraise.c
tests_unit_test_eat_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/tools
tests_unit_test_eat_LDADD = $(UNIT_LDADD)
endif
