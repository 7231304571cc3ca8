#!/bin/bash
# teep-driver-check: every shipped driver passes (sim with the options of
# lib.sh, agent against a running teep-agentd), a correct driver that opens
# exchanges passes, and each driver with one defect fails for its reason,
# named on the line of the check that found it.
. "$(dirname "$0")/lib.sh"

CHECK="$top_builddir/teep-driver-check"
BROKEN="$top_builddir/tests/unit/broken_drivers/.libs"

# check NAME ARGS...: run it, report in $WORK/NAME.out, its status in $rc
check() {
	local name=$1
	shift
	"$CHECK" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
}

make_keys
sim_opts=()
while IFS= read -r line; do
	sim_opts+=(-o "${line%% = *}=${line#* = }")
done < <(sim_options "http://127.0.0.1:9/tam")

check sim "${sim_opts[@]}" "$SIM_SO"
[ $rc = 0 ] || fail "sim: exit $rc: $(cat "$WORK/sim.out" "$WORK/sim.err")"
grep -q "^PASS request_policy_check until nothing: 1 exchange, then nothing$" "$WORK/sim.out" ||
	fail "sim: $(cat "$WORK/sim.out")"
# sim is an ABI 1.1 driver: its declared limits are checked; the checks of
# deadlines, cancellation and concurrency are not written yet, and say so
grep -q "^PASS declared limits: max_concurrency [0-9]*" "$WORK/sim.out" ||
	fail "sim: declared limits not checked: $(cat "$WORK/sim.out")"
grep -q "^SKIP deadlines: skipped (not checked by this version)$" "$WORK/sim.out" ||
	fail "sim: the unwritten ABI 1.1 checks do not say so: $(cat "$WORK/sim.out")"
[ "$(grep -c '^PASS' "$WORK/sim.out")" -ge 11 ] || fail "sim: $(cat "$WORK/sim.out")"
pass "sim passes every check, the ABI 1.1 ones skipped"

if ! [ -x "$AGENTD_BIN" ]; then
	echo "# agent: skipped (no teep-agentd)"
else
	start_agentd "unix:$WORK/agentd.sock" "http://127.0.0.1:9/tam"
	check agent -o "socket=unix:$WORK/agentd.sock" "$AGENT_SO"
	[ $rc = 0 ] || fail "agent: exit $rc: $(cat "$WORK/agent.out" "$WORK/agent.err")"
	grep -q "^PASS request_ta: a TAM exchange$" "$WORK/agent.out" ||
		fail "agent: $(cat "$WORK/agent.out")"
	pass "agent passes every check against teep-agentd"
fi

check good "$BROKEN/brk_good.so"
[ $rc = 0 ] || fail "a correct driver fails: $(cat "$WORK/good.out")"
grep -q "^PASS process_teep_message (largest message): 1048576 bytes in an exchange of request_ta: TB_ERR_SIG$" \
	"$WORK/good.out" || fail "good: $(cat "$WORK/good.out")"
pass "a correct driver with sessions passes"

# expect_fail DRIVER LINE-PATTERN: fails, exit 1, with that report line
expect_fail() {
	check "$1" "$BROKEN/brk_$1.so"
	[ $rc = 1 ] || fail "$1: exit $rc: $(cat "$WORK/$1.out" "$WORK/$1.err")"
	grep -q "^FAIL $2" "$WORK/$1.out" || fail "$1: no 'FAIL $2': $(cat "$WORK/$1.out")"
	grep "^teep-driver-check: .* passed" "$WORK/$1.out" >/dev/null ||
		fail "$1: the checker did not finish its report: $(cat "$WORK/$1.out")"
	pass "$1: $(grep -m1 "^FAIL $2" "$WORK/$1.out")"
}
expect_fail magic "load: .*bad magic 0x54424458 (not a teep-broker driver)"
expect_fail no_op "load: .*lacks the required operation process_error"
expect_fail foreign "request_ta: request_ta: out->tam_uri 0x[0-9a-f]* was not allocated with host->alloc"
expect_fail err_out "process_teep_message (largest message): process_teep_message left out->msg set on error return TB_ERR_SIG"
expect_fail loop "request_policy_check until nothing: .*never answered nothing"
expect_fail crash "process_teep_message (empty message): .*\(crashed\|exited with status\)"
expect_fail leak "request_ta: 1 buffer (100 bytes) from host->alloc never freed after fini"
# the crash fails its own check only: the others still ran
grep -q "^PASS process_teep_message (largest message)" "$WORK/crash.out" ||
	fail "crash: the checks after the crash did not run: $(cat "$WORK/crash.out")"
pass "a crash fails its check only"
