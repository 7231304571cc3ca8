# Reference TAM logic (tools/tam_core.c), without networking.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_tam
TESTS += tests/unit/test_tam
tests_unit_test_tam_SOURCES = tests/unit/test_tam.c tools/tam_core.c tools/tam_appraise.c
tests_unit_test_tam_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tam_LDADD = $(UNIT_LDADD)
endif
