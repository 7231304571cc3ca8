#!/bin/bash
# Every benchmark scenario of bench/suite.sh in its tiny size: a smoke test
# that the benchmarks still run and report (untimed; no timing or memory
# figure is checked, only the install sessions' TAM connection counts).
. "$(dirname "$0")/lib.sh"

SIZE=tiny bash "$top_srcdir/bench/suite.sh" "$top_builddir" >"$WORK/suite.log" 2>&1 ||
	fail "bench/suite.sh: $(tail -n 30 "$WORK/suite.log")"
for label in loop-1/broker loop-1/echo tee-8/broker tee-8/echo lowrate-3/broker install-http \
	install-https idle-50/broker big flood flood-shipped; do
	grep -q "label=$label " "$WORK/suite.log" || fail "no figure for $label: $(tail -n 30 "$WORK/suite.log")"
done
grep -q "^ratios to the floor" "$WORK/suite.log" || fail "no ratio table"
# the install sessions' figures: the event loop thread's CPU, the TAM
# connections (three POSTs on one), over https the TLS handshakes, all but
# the first (before the measured ones) resuming a session
for field in "install-http .* loop_cpu_us_per_session=[0-9]" \
	"install-http .* tam_posts_per_session=3.00 tam_conns_per_session=1.00 tam_reused_per_session=2.00" \
	"install-https .* tls_handshakes_per_session=1.00 tls_resumed_per_session=1.00"; do
	grep -q "label=$field" "$WORK/suite.log" || fail "no $field: $(grep 'label=install' "$WORK/suite.log")"
done
pass "every scenario ran in its tiny size and reported"
