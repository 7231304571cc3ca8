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
# the sim driver answers it at once (driver ABI 1.2 answer_now): no
# exchange, no queue, no worker; "tee", then the answer
steps=$(sed -n 's/^.*progress \([a-z-]*\).*$/\1/p' "$WORK/ua.out" | tr '\n' ' ')
[ "$steps" = "tee " ] || fail "second request: steps '$steps', not 'tee ': $(cat "$WORK/ua.out")"
grep -q "app .*: request [0-9]*: request-ta .* answered at once by tee sim: no-change" \
	"$WORK/broker.log" || fail "second request: not answered at once: $(cat "$WORK/broker.log")"
broker_counters | grep -q "tee calls [0-9]* (answered on the loop 1) " ||
	fail "second request: counters: $(broker_counters | head -1)"
pass "second request: no-change, answered at once (step tee only)"

# an unrequest of a component that is not installed is answered at once too
ua unrequest-ta 11111111-2222-3333-4444-555555555555 || fail "unrequest of none: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" || fail "unrequest of none: $(cat "$WORK/ua.out")"
broker_counters | grep -q "tee calls [0-9]* (answered on the loop 2) " ||
	fail "unrequest of none: counters: $(broker_counters | head -1)"
pass "unrequest of a component not installed: no-change, answered at once"

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
