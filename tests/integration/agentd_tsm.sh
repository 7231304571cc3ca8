#!/bin/bash
# configfs-tsm in teep-agentd: the Agent asks the report directory for a
# hardware report bound to the challenge (inblob = SHA-512(eat_nonce)) and
# carries it in its Evidence (claim tsm-report, docs/attestation.md); the
# TAM with --require-tsm checks it is there and bound to the nonce.
#
# There is no confidential VM here: the report directory is a FAKE. It
# holds the entry teep-agent with FIFOs for inblob and outblob and a
# background loop standing in for the kernel: it reads the inblob the
# Agent writes, bumps generation, and serves an SEV-SNP-shaped outblob
# (1184 bytes, REPORT_DATA at 0x50) that holds that inblob -- or, in mode
# "unbound", zeros, as a report bound to someone else's data would. Nothing
# here signs the report: no hardware was involved.
. "$(dirname "$0")/lib.sh"

make_keys
"$TOOL" keygen "$WORK/state/attestation.pem" "$WORK/att_pub.pem" >/dev/null ||
	fail "keygen attestation"
add_component "$TC_UUID" "Hello, Secure World!"

TSM="$WORK/tsm"
ENTRY="$TSM/teep-agent"
mkdir -p "$ENTRY"
echo sev_guest >"$ENTRY/provider"
echo 0 >"$ENTRY/generation"
mkfifo "$ENTRY/inblob" "$ENTRY/outblob"
echo unbound >"$WORK/tsm.mode"

# the fake kernel: one report per request, at most 8
fake_kernel() {
	local gen=0 i
	for i in 1 2 3 4 5 6 7 8; do
		head -c 64 <"$ENTRY/inblob" >"$WORK/inblob.$i" || return
		gen=$((gen + 1))
		echo $gen >"$ENTRY/generation.new" && mv "$ENTRY/generation.new" "$ENTRY/generation"
		if [ "$(cat "$WORK/tsm.mode")" = bound ]; then
			{ head -c 80 /dev/zero; cat "$WORK/inblob.$i"; head -c 1040 /dev/zero; } \
				>"$ENTRY/outblob"
		else
			head -c 1184 /dev/zero >"$ENTRY/outblob"
		fi
		echo "served $i $(stat -c %s "$WORK/inblob.$i")" >>"$WORK/tsm.served"
	done
}
fake_kernel &
FAKE_PID=$!
PIDS="$PIDS $FAKE_PID"
# at the end, a fake blocked opening a FIFO is let go: opening it
# read-write gives it the other end
unblock_fake() {
	kill -TERM "$FAKE_PID" 2>/dev/null
	: <>"$ENTRY/inblob"
	: <>"$ENTRY/outblob"
}
trap 'unblock_fake; cleanup' EXIT

start_tam --attest --attestation-key "$WORK/att_pub.pem" --require-tsm
TAM_URI="http://127.0.0.1:$TAM_PORT/tam"
SOCK="$WORK/agentd.sock"
start_agentd "unix:$SOCK" "$TAM_URI" -o "tsm_report=$TSM"
DRIVER_SECTION="[driver:cvm]
path = $AGENT_SO
call_timeout = 20s
socket = unix:$SOCK" write_conf "$TAM_URI"
start_broker

# 1. A report not bound to the challenge: contraindicated, nothing installed.
ua request-ta "$TC_UUID" && fail "request-ta succeeded: $(cat "$WORK/ua.out")"
grep -q "^served 1 64$" "$WORK/tsm.served" || fail "the fake served no 64-byte inblob"
grep -q "hardware report: sev_guest, 1184 bytes, generation 1" "$WORK/agentd.log" ||
	fail "the Agent got no report: $(grep -i "report" "$WORK/agentd.log")"
grep -q "Evidence: .*, a hardware report" "$WORK/agentd.log" || fail "not in the Evidence"
grep -q "attestation result: contraindicated .*the hardware report's report data is not its inblob" \
	"$WORK/tam.log" || fail "not refused: $(grep "attestation" "$WORK/tam.log")"
[ ! -e "$(tc_dir $TC_UUID)" ] || fail "installed with an unbound report"
pass "a hardware report not bound to the challenge: contraindicated, nothing installed"

# 2. The report is bound: affirming, installed.
echo bound >"$WORK/tsm.mode"
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
grep -q "hardware report: sev_guest, 1184 bytes, generation 2" "$WORK/agentd.log" ||
	fail "no second report: $(grep -i "report" "$WORK/agentd.log")"
grep -q "attestation result: affirming" "$WORK/tam.log" ||
	fail "not affirming: $(grep "attestation" "$WORK/tam.log")"
cmp -s "$WORK/inblob.1" "$WORK/inblob.2" && fail "the same inblob for two challenges"
pass "a hardware report bound to the challenge: affirming, installed"

stop_broker
pass "clean exit"
