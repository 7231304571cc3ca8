# Benchmarks (not tests): `make bench` builds them; bench/run.sh runs them.
# teep-bench is also the load generator of the defence integration tests
# (tests/integration/defence_*.sh), so `make check` builds it.
check_PROGRAMS += bench/teep-bench
bench_teep_bench_SOURCES = bench/teep-bench.c
bench_teep_bench_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
bench_teep_bench_LDADD = libtbcommon.la $(LWS_LIBS)
EXTRA_DIST += bench/run.sh
bench: bench/teep-bench
.PHONY: bench
