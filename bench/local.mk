# Benchmarks (not tests): `make bench` builds them; bench/run.sh,
# bench/flood.sh and bench/bigframe.sh run them. teep-bench is also the load
# generator of the defence integration tests (tests/integration/defence_*.sh),
# so `make check` builds it; teep-flood and teep-bigframe are built there too,
# so that they keep compiling warning-free.
check_PROGRAMS += bench/teep-bench bench/teep-flood bench/teep-bigframe
bench_teep_bench_SOURCES = bench/teep-bench.c
bench_teep_bench_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
bench_teep_bench_LDADD = libtbcommon.la $(LWS_LIBS)
bench_teep_bigframe_SOURCES = bench/teep-bigframe.c
bench_teep_bigframe_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
bench_teep_bigframe_LDADD = libtbcommon.la $(LWS_LIBS)
bench_teep_flood_SOURCES = bench/teep-flood.c
bench_teep_flood_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
bench_teep_flood_LDADD = libtbcommon.la $(PTHREAD_LIBS)
EXTRA_DIST += bench/run.sh bench/flood.sh bench/bigframe.sh
bench: bench/teep-bench bench/teep-flood bench/teep-bigframe
.PHONY: bench
