#!/bin/bash
# The service manager's protocol (sd_notify): READY=1 once listening, STATUS=
# with live counts, WATCHDOG=1 at half of WATCHDOG_USEC while the loop runs,
# STOPPING=1 on SIGTERM, RELOADING=1 then READY=1 on SIGHUP. notify_reader plays the manager's socket.
. "$(dirname "$0")/lib.sh"
READER="$top_builddir/tests/integration/notify_reader"
standard_setup
stop_broker # standard_setup's, without NOTIFY_SOCKET
sed -i "s|^tam_uri = .*|&\ncall_delay = 1500ms|" "$WORK/broker.conf"

"$READER" "$WORK/notify.sock" "$WORK/notify.out" 60 &
READER_PID=$!
PIDS="$PIDS $READER_PID"
wait_line "$WORK/notify.out" "^listening" 10 || fail "notify_reader did not start"

rm -f "$WORK/broker.port"
# WATCHDOG_PID must be the broker's own: the subshell's, which exec keeps
(
	export NOTIFY_SOCKET="$WORK/notify.sock" WATCHDOG_USEC=1000000
	WATCHDOG_PID=$BASHPID exec "$BROKER_BIN" -f -c "$WORK/broker.conf"
) >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
PIDS="$PIDS $BROKER_PID"
wait_file "$WORK/broker.port" 20 || fail "teep-brokerd did not start"
URL="ws://127.0.0.1:$(cat "$WORK/broker.port")/"

wait_line "$WORK/notify.out" "^READY=1" 10 || fail "no READY=1"
grep -q "^STATUS=0 connection(s), 0 exchange(s), 1 TEE(s)$" "$WORK/notify.out" ||
	fail "no STATUS= with READY=1"
pass "READY=1 with STATUS=0 connection(s), 0 exchange(s), 1 TEE(s)"

# 1 s watchdog: a ping every 500 ms; three within 5 s at the least
n=100
while [ "$(grep -c '^WATCHDOG=1$' "$WORK/notify.out")" -lt 3 ] && [ $n -gt 0 ]; do
	sleep 0.05
	n=$((n - 1))
done
[ $n -gt 0 ] || fail "fewer than 3 WATCHDOG=1 in 5 s: $(cat "$WORK/notify.out")"
pass "WATCHDOG=1 every half WATCHDOG_USEC"

# an app with an exchange in progress (the TEE takes 1.5 s a call): the
# status follows within a second or two
ua request-ta "$TC_UUID" &
UA_PID=$!
wait_line "$WORK/notify.out" "^STATUS=1 connection(s), 1 exchange(s), 1 TEE(s)$" 10 ||
	fail "the status did not follow: $(grep STATUS "$WORK/notify.out")"
wait "$UA_PID" || fail "request-ta: $(cat "$WORK/ua.out")"
wait_line "$WORK/notify.out" "^STATUS=0 connection(s), 0 exchange(s), 1 TEE(s)$" 10 ||
	fail "the status did not come back: $(grep STATUS "$WORK/notify.out")"
[ "$(grep -c '^STATUS=' "$WORK/notify.out")" -le 12 ] ||
	fail "STATUS= more than once a second: $(grep -c '^STATUS=' "$WORK/notify.out")"
pass "STATUS= follows the connections and exchanges, at most once a second"

# SIGHUP: a configuration reload, RELOADING=1 with MONOTONIC_USEC, then
# READY=1 again once it is applied
kill -HUP "$BROKER_PID"
wait_line "$WORK/notify.out" "^STATUS=configuration reloaded$" 10 ||
	fail "no READY=1 after the reload: $(cat "$WORK/notify.out")"
grep -q "^RELOADING=1$" "$WORK/notify.out" &&
	grep -q "^MONOTONIC_USEC=[0-9][0-9]*$" "$WORK/notify.out" &&
	[ "$(grep -c '^READY=1$' "$WORK/notify.out")" = 2 ] ||
	fail "reload messages: $(grep -v WATCHDOG "$WORK/notify.out")"
[ "$(grep -n '^RELOADING=1$' "$WORK/notify.out" | cut -d: -f1)" -lt \
	"$(grep -n '^READY=1$' "$WORK/notify.out" | tail -n1 | cut -d: -f1)" ] ||
	fail "READY=1 before RELOADING=1"
pass "SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1"

kill -TERM "$BROKER_PID"
wait_line "$WORK/notify.out" "^STOPPING=1" 10 || fail "no STOPPING=1"
grep -q "^EXTEND_TIMEOUT_USEC=[0-9]" "$WORK/notify.out" || fail "no EXTEND_TIMEOUT_USEC"
wait_exit "$BROKER_PID" 20 || fail "teep-brokerd did not stop cleanly"
pass "STOPPING=1 with EXTEND_TIMEOUT_USEC on SIGTERM"

# a WATCHDOG_PID that is not the broker's: no pings (it is another process's)
: >"$WORK/notify2.out"
"$READER" "$WORK/notify2.sock" "$WORK/notify2.out" 60 &
PIDS="$PIDS $!"
wait_line "$WORK/notify2.out" "^listening" 10 || fail "notify_reader did not start"
rm -f "$WORK/broker.port"
NOTIFY_SOCKET="$WORK/notify2.sock" WATCHDOG_USEC=200000 WATCHDOG_PID=1 \
	"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/broker2.log" 2>&1 &
BROKER_PID=$!
PIDS="$PIDS $BROKER_PID"
wait_line "$WORK/notify2.out" "^READY=1" 10 || fail "no READY=1 (2)"
kill -TERM "$BROKER_PID"
wait_line "$WORK/notify2.out" "^STOPPING=1" 10 || fail "no STOPPING=1 (2)"
wait_exit "$BROKER_PID" 20 || fail "teep-brokerd did not stop cleanly (2)"
! grep -q "^WATCHDOG=1" "$WORK/notify2.out" || fail "pinged for another process's watchdog"
pass "WATCHDOG_PID of another process: no pings"
