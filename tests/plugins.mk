# Plugin units: the auth-token plugin's token file and certificate map.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_tokens
TESTS += tests/unit/test_tokens
tests_unit_test_tokens_SOURCES = tests/unit/test_tokens.c plugins/auth-token/tokens.c
tests_unit_test_tokens_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/plugins/auth-token
tests_unit_test_tokens_LDADD = $(UNIT_LDADD)
endif

# the auth-token plugin's certificate map
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_certmap
TESTS += tests/unit/test_certmap
tests_unit_test_certmap_SOURCES = tests/unit/test_certmap.c plugins/auth-token/certmap.c
tests_unit_test_certmap_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/plugins/auth-token
tests_unit_test_certmap_LDADD = $(UNIT_LDADD)
endif
