#!/bin/bash
# SIGTERM while an exchange hangs: the app gets an answer, the broker exits 0.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "x"
start_tam --fault hang
SHUTDOWN_GRACE=1s RESPONSE_TIMEOUT=60s write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
"$UA" --url "$URL" --timeout 30 request-ta "$TC_UUID" >"$WORK/ua.out" 2>&1 &
ua_pid=$!
# wait until the exchange is under way
for i in $(seq 1 100); do grep -q "tam-connect" "$WORK/ua.out" && break; sleep 0.05; done
grep -q "tam-connect" "$WORK/ua.out" || fail "exchange did not start: $(cat "$WORK/ua.out")"
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $?"
wait $ua_pid; rc=$?
[ $rc = 1 ] || fail "app exit $rc: $(cat "$WORK/ua.out")"
grep -q "error 10 " "$WORK/ua.out" || fail "no shutdown error: $(cat "$WORK/ua.out")"
pass "in-flight request answered with 'shutdown', broker exit 0"
