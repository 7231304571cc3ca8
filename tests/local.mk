# Unit tests (cmocka) and integration tests (shell scripts that start the
# real programs on loopback). `make check` runs all of them.
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	VALGRIND='$(VALGRIND)'; export top_srcdir top_builddir VALGRIND; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1; export ASAN_OPTIONS; \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; export UBSAN_OPTIONS;

UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CBOR_CFLAGS) -DTEST_DATA_DIR='"$(abs_top_srcdir)/tests/data"'
UNIT_LDADD = libtbcommon.la $(CMOCKA_LIBS) $(CBOR_LIBS) $(MBEDTLS_LIBS)

include tests/lib.mk
include tests/ua.mk
include tests/tam.mk
include tests/sim.mk
include tests/optee.mk
include tests/broker.mk
include tests/plugins.mk
include tests/dos.mk
include tests/integration.mk
include tests/kit.mk
include tests/fuzz.mk
EXTRA_DIST += tests/data
EXTRA_DIST += tests/valgrind-wrap.sh
