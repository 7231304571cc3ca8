#!/bin/bash
# [tam] precheck = yes: the operator's TAM's answers get the check the
# messages of apps acting as their own TAM get (docs/defences.md section 8)
# before the TEE sees them. Signed with the trust anchor: served as usual.
# Signed with another key: a TAM failure (the Agent gets ProcessError, the
# app error 8), counted, and the Agent never processes the message.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
"$TOOL" keygen "$WORK/other.pem" "$WORK/other_pub.pem" >/dev/null || fail "keygen other"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam" "precheck = yes" "trust_anchor = $WORK/tam_pub.pem"
start_broker
grep -q "tam default: answers pre-checked with $WORK/tam_pub.pem" "$WORK/broker.log" ||
	fail "the trust anchor is not loaded"
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
pass "answers signed with the trust anchor pass the pre-check"
stop_broker

# The trust anchor is another key: the TAM's QueryRequest fails.
write_conf "http://127.0.0.1:$TAM_PORT/tam" "precheck = yes" "trust_anchor = $WORK/other_pub.pem"
start_broker
UA_TIMEOUT=20 ua request-ta 0x01/0x02; rc=$?
[ $rc = 1 ] && grep -q "error 8 tam-protocol: the TAM's answer failed the broker's pre-check: no signature verifies with the TAM's key" \
	"$WORK/ua.out" || fail "exit $rc: $(cat "$WORK/ua.out")"
grep -q "QueryRequest -> " "$WORK/broker.log" && fail "the Agent processed the QueryRequest"
wait_line "$WORK/broker.log" \
	"the answer of TAM http://127.0.0.1:$TAM_PORT/tam ([0-9]* bytes, QueryRequest) failed the pre-check" 5 ||
	fail "the failure is not logged"
grep -q "ProcessError (.*) to tee sim" "$WORK/broker.log" || fail "the Agent was not told"
broker_counters >"$WORK/counters.out"
grep -q "tam pre-check failures 1;" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
pass "an answer signed with another key is a TAM failure, counted, kept from the TEE"
stop_broker

# precheck = yes without a trust anchor is a configuration error.
write_conf "http://127.0.0.1:$TAM_PORT/tam" "precheck = yes"
"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.out" 2>&1 &&
	fail "accepted without trust_anchor"
grep -q "precheck = yes needs trust_anchor" "$WORK/check.out" ||
	fail "no reason: $(cat "$WORK/check.out")"
pass "precheck = yes needs a trust anchor"
