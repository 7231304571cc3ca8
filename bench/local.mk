# Benchmarks (not tests): `make bench` builds them; bench/suite.sh,
# bench/run.sh, bench/flood.sh and bench/bigframe.sh run them. teep-bench is
# also the load generator of the defence integration tests
# (tests/integration/defence_*.sh), so `make check` builds it; the others are
# built there too, so that they keep compiling warning-free, and
# tests/integration/bench_smoke.sh runs bench/suite.sh in its tiny size.
check_PROGRAMS += bench/teep-bench bench/teep-flood bench/teep-bigframe bench/teep-load \
	bench/ws-echo
bench_teep_bench_SOURCES = bench/teep-bench.c
bench_teep_bench_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
bench_teep_bench_LDADD = libtbcommon.la $(LWS_LIBS)
bench_teep_bigframe_SOURCES = bench/teep-bigframe.c
bench_teep_bigframe_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
bench_teep_bigframe_LDADD = libtbcommon.la $(LWS_LIBS)
bench_teep_flood_SOURCES = bench/teep-flood.c bench/wsclient.c bench/wsclient.h
bench_teep_flood_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
bench_teep_flood_LDADD = libtbcommon.la $(PTHREAD_LIBS)
# teep-load: C connections of closed-loop (or paced) requests; ws-echo: the
# floor, a bare libwebsockets echo server (bench/suite.sh runs both)
bench_teep_load_SOURCES = bench/teep-load.c bench/wsclient.c bench/wsclient.h
bench_teep_load_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
bench_teep_load_LDADD = libtbcommon.la
bench_ws_echo_SOURCES = bench/ws-echo.c
bench_ws_echo_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS)
bench_ws_echo_LDADD = $(LWS_LIBS)
EXTRA_DIST += bench/run.sh bench/flood.sh bench/bigframe.sh bench/suite.sh bench/callgrind.sh
bench: bench/teep-bench bench/teep-flood bench/teep-bigframe bench/teep-load bench/ws-echo
.PHONY: bench
