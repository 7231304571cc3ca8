#!/bin/bash
# Remote attestation: the TAM asks for attestation with a challenge, the
# software Agent answers with Evidence (an EAT signed by its attestation
# key), the TAM appraises it against reference values. With the right ones
# the component installs; with a wrong expected measurement no manifest
# reaches the Agent and the app gets an error, not "no-change".
. "$(dirname "$0")/lib.sh"

make_keys
# the Agent's attestation key, where the sim driver looks by default
"$TOOL" keygen "$WORK/state/attestation.pem" "$WORK/att_pub.pem" >/dev/null ||
	fail "keygen attestation"
add_component "$TC_UUID" "Hello, Secure World!"
OTHER_UUID=0d9a6d2c-1b3e-4f5a-8c7d-9e0f1a2b3c4d
add_component "$OTHER_UUID" "Another one"

# what the Agent measures: the object file of its code, the sim driver
MEAS=$(sha256sum "$SIM_SO" | cut -d' ' -f1)
start_tam --attest --attestation-key "$WORK/att_pub.pem" --expect-measurement "$MEAS" \
	--allowed-tee software
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
grep -q -- "-> QueryRequest challenge=.* (attestation)" "$WORK/tam.log" ||
	fail "no QueryRequest with a challenge: $(cat "$WORK/tam.log")"
grep -q "<- QueryResponse .* evidence=[1-9]" "$WORK/tam.log" ||
	fail "the QueryResponse carried no Evidence: $(cat "$WORK/tam.log")"
grep -q "attestation result: affirming" "$WORK/tam.log" ||
	fail "not affirming: $(grep "attestation" "$WORK/tam.log")"
[ -f "$(tc_dir $TC_UUID)/image" ] || fail "component not in the Agent's state"
# the Agent's Success carries a SUIT Report, which the TAM reads
grep -q "<- SUIT report: installed TEEP-Device/SecureFS/0x$(echo "$TC_UUID" | tr -d -)/ta manifest=[0-9a-f]*\.\. image=[0-9a-f]*\.\. size=20" "$WORK/tam.log" ||
	fail "no SUIT report read: $(grep -i "report\|Success" "$WORK/tam.log")"
pass "attested with the right reference values: Evidence appraised affirming, installed"

# the same TAM, but expecting another measurement
kill -TERM "$TAM_PID"
wait_exit "$TAM_PID" 10 || fail "teep-tam exit status $?"
stop_broker
start_tam --attest --attestation-key "$WORK/att_pub.pem" \
	--expect-measurement 0000000000000000000000000000000000000000000000000000000000000000
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$OTHER_UUID"
rc=$?
[ $rc != 0 ] || fail "request-ta succeeded: $(cat "$WORK/ua.out")"
grep -q "error 12 agent-error" "$WORK/ua.out" || fail "no agent-error: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" && fail "no-change for a refused attestation"
grep -q "attestation result: warning" "$WORK/tam.log" ||
	fail "not a warning: $(grep "attestation" "$WORK/tam.log")"
grep -q -- "-> Update manifests=0 unneeded=0 .*(refused: err-code only)" "$WORK/tam.log" ||
	fail "no refusal Update: $(cat "$WORK/tam.log")"
grep -q -- "-> Update manifests=[1-9]" "$WORK/tam.log" &&
	fail "a manifest was sent after a refused attestation"
[ ! -e "$(tc_dir $OTHER_UUID)" ] || fail "component installed despite the refusal"
grep -q "TAM error 1: attestation warning" "$WORK/broker.log" ||
	fail "the Agent did not log the TAM's refusal: $(grep -i "tam error" "$WORK/broker.log")"
pass "wrong expected measurement: warning, no manifest reached the Agent, app got agent-error"

# a policy check meets the same refusal: it ends with the same error, not
# "completed"
refusals=$(grep -c "(refused: err-code only)" "$WORK/tam.log")
ua policy-check
rc=$?
[ $rc != 0 ] || fail "policy-check succeeded: $(cat "$WORK/ua.out")"
grep -q "error 12 agent-error" "$WORK/ua.out" || fail "no agent-error: $(cat "$WORK/ua.out")"
grep -q "done: completed" "$WORK/ua.out" && fail "completed after a refused attestation"
[ "$(grep -c "(refused: err-code only)" "$WORK/tam.log")" -gt "$refusals" ] ||
	fail "the TAM did not refuse the policy check's exchange: $(cat "$WORK/tam.log")"
pass "policy-check after a refused attestation: error 12 agent-error"

stop_broker
pass "clean exit"
