# Plugin units: the auth-token plugin's token file.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_tokens
TESTS += tests/unit/test_tokens
tests_unit_test_tokens_SOURCES = tests/unit/test_tokens.c plugins/auth-token/tokens.c
tests_unit_test_tokens_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/plugins/auth-token
tests_unit_test_tokens_LDADD = $(UNIT_LDADD)
endif
