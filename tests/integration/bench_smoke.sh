#!/bin/bash
# Every benchmark scenario of bench/suite.sh in its tiny size: a smoke test
# that the benchmarks still run and report (untimed; no figure is checked).
. "$(dirname "$0")/lib.sh"

SIZE=tiny bash "$top_srcdir/bench/suite.sh" "$top_builddir" >"$WORK/suite.log" 2>&1 ||
	fail "bench/suite.sh: $(tail -n 30 "$WORK/suite.log")"
for label in loop-1/broker loop-1/echo tee-8/broker tee-8/echo lowrate/broker install-http \
	install-https idle-50/broker big flood flood-shipped; do
	grep -q "label=$label " "$WORK/suite.log" || fail "no figure for $label: $(tail -n 30 "$WORK/suite.log")"
done
grep -q "^ratios to the floor" "$WORK/suite.log" || fail "no ratio table"
pass "every scenario ran in its tiny size and reported"
