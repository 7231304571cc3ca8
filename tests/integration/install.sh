#!/bin/bash
# An app installs a Trusted Component through the broker, the software Agent
# holds it, the app unrequests it, and it is gone.
. "$(dirname "$0")/lib.sh"
standard_setup

ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "no 'done: installed': $(cat "$WORK/ua.out")"
for step in queued tee tam-connect query-request query-response update success end; do
	grep -q "progress $step" "$WORK/ua.out" || fail "no progress '$step'"
done
img="$(tc_dir $TC_UUID)/image"
[ -f "$img" ] || fail "component not in the Agent's state: $img"
[ "$(cat "$img")" = "Hello, Secure World!" ] || fail "wrong image content"
pass "installed, image in the Agent's state"

# the TAM saw the exchange, with the media type and without Cache-Control
grep -q "QueryResponse" "$WORK/tam.log" || fail "TAM did not see a QueryResponse"
grep -q "Success" "$WORK/tam.log" || fail "TAM did not see a Success"

# asking again changes nothing
ua request-ta "$TC_UUID" || fail "second request-ta exited $?"
grep -q "done: no-change" "$WORK/ua.out" || fail "second request not no-change: $(cat "$WORK/ua.out")"
# no exchange with a TAM, so no "end" step: queued, tee, then the answer
steps=$(sed -n 's/^.*progress \([a-z-]*\).*$/\1/p' "$WORK/ua.out" | tr '\n' ' ')
[ "$steps" = "queued tee " ] || fail "second request: steps '$steps', not 'queued tee ': $(cat "$WORK/ua.out")"
pass "second request: no-change, steps queued and tee only"

ua unrequest-ta "$TC_UUID" || fail "unrequest-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: removed" "$WORK/ua.out" || fail "no 'done: removed': $(cat "$WORK/ua.out")"
[ ! -e "$img" ] || fail "component still present after unrequest"
pass "unrequested, gone from the Agent's state"

before=$(grep -c -- "-> QueryRequest" "$WORK/tam.log")
ua policy-check || fail "policy-check exited $?: $(cat "$WORK/ua.out")"
grep -q "done: completed" "$WORK/ua.out" || fail "policy-check not completed"
after=$(grep -c -- "-> QueryRequest" "$WORK/tam.log")
[ $((after - before)) = 1 ] || fail "policy check ran $((after - before)) exchanges, expected 1"
pass "policy check completed: one exchange, then the Agent had nothing more"

# a TAM named by host name: resolved off the event loop, then the same flow
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $? after SIGTERM"
grep -q "counters:" "$WORK/broker.log" || fail "no counters on exit"
write_conf "http://localhost:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID" || fail "request-ta via localhost exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed via localhost"
grep -q "tam-connect http://localhost:" "$WORK/ua.out" || fail "URI not the host name one"
pass "TAM URI with a host name: resolved, installed"

kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $? after SIGTERM"
grep -q "counters:" "$WORK/broker.log" || fail "no counters on exit"
pass "clean exit on SIGTERM"
