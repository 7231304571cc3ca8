#!/bin/bash
# Shutdown runs to one deadline, shutdown_grace after SIGTERM (broker.h,
# docs/ua-api.md): requests that have not started are answered "shutdown"
# at once, exchanges under way are answered "shutdown" when the grace ends,
# and the broker exits within the grace plus a fixed margin even when a TEE
# call is stuck far beyond it. Every Agent session the driver handed out is
# closed before the driver's fini(), which the sim Agent reports.
. "$(dirname "$0")/lib.sh"
GRACE_MS=3000
MARGIN_MS=2000 # TB_STOP_MARGIN_MS
SLACK_MS=1500  # a loaded machine, a sanitizer build
make_keys
add_component "$TC_UUID" "x"
start_tam --fault hang

# now_ns; ms_since NS: milliseconds since a now_ns
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }

# ua_bg N UUID: a request-ta in the background; its output goes to
# $WORK/uaN.out, each line after the time it arrived (now_ns), its exit
# status to $WORK/uaN.end
ua_bg() {
	( "$UA" --url "$URL" --timeout 60 request-ta "$2" 2>&1 |
		while IFS= read -r line; do echo "$(now_ns) $line"; done >"$WORK/ua$1.out"
	  echo "${PIPESTATUS[0]}" >"$WORK/ua$1.end" ) &
	PIDS="$PIDS $!"
}

# answered N T0: the request N ended with "shutdown"; prints the ms from T0
# to that answer
answered() {
	wait_file "$WORK/ua$1.end" 20 || fail "request $1 not answered"
	local rc line
	rc=$(cat "$WORK/ua$1.end")
	line=$(grep -m1 " error 10 " "$WORK/ua$1.out")
	[ "$rc" = 1 ] && [ -n "$line" ] ||
		fail "request $1: exit $rc, no shutdown error: $(cat "$WORK/ua$1.out")"
	echo $(((${line%% *} - $2) / 1000000))
}

# --- an exchange hangs at the TAM ---------------------------------------
SHUTDOWN_GRACE=1s RESPONSE_TIMEOUT=60s write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua_bg 0 "$TC_UUID"
wait_line "$WORK/ua0.out" "tam-connect" 10 || fail "exchange did not start: $(cat "$WORK/ua0.out")"
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $?"
answered 0 0 >/dev/null
grep -q "fini: 1 Agent session(s) opened, 1 closed" "$WORK/broker.log" ||
	fail "the Agent session was not closed"
pass "in-flight request answered with 'shutdown', its Agent session closed, broker exit 0"

# --- a TEE call stuck far beyond the grace --------------------------------
# The first request's call sleeps 10 s; the second's first call waits for the
# worker (max_in_flight 2), two more wait in the fair queue.
mv "$WORK/broker.log" "$WORK/broker-1.log.old"
SHUTDOWN_GRACE=${GRACE_MS}ms write_conf "http://127.0.0.1:$TAM_PORT/tam"
# a TEE call that cannot be interrupted: it ignores the broker's cancellation
printf 'call_delay = 10s\ncall_delay_stuck = yes\n' >>"$WORK/broker.conf"
start_broker
n=0
for c in 11111111-2222-3333-4444-000000000001 11111111-2222-3333-4444-000000000002 \
	11111111-2222-3333-4444-000000000003 11111111-2222-3333-4444-000000000004; do
	n=$((n + 1))
	ua_bg $n "$c"
	wait_line "$WORK/broker.log" "0x${c//-/}/ta on tee sim" 10 || fail "request $n not taken"
done
wait_line "$WORK/broker.log" "000000000002/ta starts on tee sim" 10 ||
	fail "the second request did not leave the queue"
t0=$(now_ns)
kill -TERM "$BROKER_PID"
for n in 2 3 4; do
	ms=$(answered $n "$t0")
	[ "$ms" -lt $((GRACE_MS / 3)) ] ||
		fail "request $n never started but was answered after $ms ms (grace $GRACE_MS ms)"
done
wait_exit "$BROKER_PID" 20 || fail "broker exit status $?"
ms=$(ms_since "$t0")
[ "$ms" -lt $((GRACE_MS + MARGIN_MS + SLACK_MS)) ] ||
	fail "the broker took $ms ms to stop (grace $GRACE_MS ms + margin $MARGIN_MS ms)"
first=$(answered 1 "$t0")
[ "$first" -ge $((GRACE_MS - 100)) ] || fail "the running request was cut off after $first ms"
grep -q "a driver call is still running" "$WORK/broker.log" || fail "the stuck call was not reported"
[ "$(grep -c "starts on tee sim" "$WORK/broker.log")" = 2 ] ||
	fail "a queued request started during the grace"
pass "stuck TEE: queued requests answered at once, the running one at the deadline, exit after $ms ms"

# --- a call comes back after the grace, within the margin -----------------
# Its exchange was answered "shutdown" when the grace ended; the Agent session
# the call returns is still closed before fini(). The first call of a second
# request, queued behind it for the worker, never runs.
mv "$WORK/broker.log" "$WORK/broker-2.log.old"
SHUTDOWN_GRACE=1s write_conf "http://127.0.0.1:$TAM_PORT/tam"
printf 'call_delay = 2500ms\ncall_delay_stuck = yes\n' >>"$WORK/broker.conf"
start_broker
ua_bg 5 "$TC_UUID"
wait_line "$WORK/broker.log" "starts on tee sim" 10 || fail "the request did not start"
ua_bg 6 11111111-2222-3333-4444-000000000006
wait_line "$WORK/broker.log" "000000000006/ta starts on tee sim" 10 ||
	fail "the second request did not leave the queue"
t0=$(now_ns)
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $?"
ms=$(ms_since "$t0")
answered 5 "$t0" >/dev/null
[ "$(answered 6 "$t0")" -lt 500 ] || fail "the queued call was not answered at once"
grep -q "fini: 1 Agent session(s) opened, 1 closed" "$WORK/broker.log" ||
	fail "the Agent session of the late call was not closed before fini"
pass "a call back after the grace: its Agent session closed before fini, exit after $ms ms"
