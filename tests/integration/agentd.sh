#!/bin/bash
# The TEEP Agent as a process: teep-agentd serves the software Agent on a
# unix socket, the broker reaches it through the "agent" driver. An app
# installs and unrequests a component through it; an Agent that hangs, then
# dies, fails the app's request within the driver's call deadline while the
# broker stays up; once the Agent is back the next request succeeds. Then
# the same install over vsock, when the kernel offers a loopback transport.
. "$(dirname "$0")/lib.sh"

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
TAM_URI="http://127.0.0.1:$TAM_PORT/tam"
SOCK="$WORK/agentd.sock"
start_agentd "unix:$SOCK" "$TAM_URI"

"$AGENTD_BIN" --ping "unix:$SOCK" >"$WORK/ping.out" 2>&1 || fail "ping: $(cat "$WORK/ping.out")"
grep -q "protocol version 1, teep-agentd" "$WORK/ping.out" || fail "ping: $(cat "$WORK/ping.out")"
pass "teep-agentd answers a hello with a welcome to version 1"

# driver_section SOCKET: [driver:cvm] with the agent driver
driver_section() {
	cat <<SECT
[driver:cvm]
path = $AGENT_SO
call_timeout = 20s
socket = $1
connect_timeout = 1s
call_deadline = 2s
reconnect_min = 50ms
reconnect_max = 400ms
SECT
}
DRIVER_SECTION=$(driver_section "unix:$SOCK") write_conf "$TAM_URI"
start_broker

ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "no 'done: installed': $(cat "$WORK/ua.out")"
img="$(tc_dir $TC_UUID)/image"
[ "$(cat "$img" 2>/dev/null)" = "Hello, Secure World!" ] || fail "image not in the Agent's state"
grep -q "connected to the Agent at unix:" "$WORK/broker.log" || fail "no connect logged"
pass "installed through teep-agentd"

ua unrequest-ta "$TC_UUID" || fail "unrequest-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: removed" "$WORK/ua.out" || fail "no 'done: removed': $(cat "$WORK/ua.out")"
[ ! -e "$img" ] || fail "component still present after unrequest"
pass "unrequested through teep-agentd"

# A hung Agent: the call fails at the driver's deadline (2s), far inside
# the broker's call_timeout (20s) and the client's timeout.
kill -STOP "$AGENTD_PID"
t0=$(date +%s)
UA_TIMEOUT=15 ua request-ta "$TC_UUID" && fail "request-ta to a stopped Agent succeeded"
t1=$(date +%s)
grep -q "error" "$WORK/ua.out" || fail "no error answer: $(cat "$WORK/ua.out")"
[ $((t1 - t0)) -le 6 ] || fail "the error came after $((t1 - t0))s, not at the 2s deadline"
wait_line "$WORK/broker.log" "no answer from the Agent within 2000 ms" 5 ||
	fail "the deadline was not logged"
pass "a hung Agent: error after $((t1 - t0))s (deadline 2s)"

# A dead Agent: an error, and the broker stays up.
kill -KILL "$AGENTD_PID"
wait "$AGENTD_PID" 2>/dev/null
ua request-ta "$TC_UUID" && fail "request-ta to a dead Agent succeeded"
grep -q "error" "$WORK/ua.out" || fail "no error answer: $(cat "$WORK/ua.out")"
kill -0 "$BROKER_PID" || fail "the broker died with the Agent"
pass "a dead Agent: error, the broker stays up"

# The Agent is back (on the stale socket path): the next request reconnects.
start_agentd "unix:$SOCK" "$TAM_URI"
ua request-ta "$TC_UUID" || fail "request-ta after the restart exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed after restart: $(cat "$WORK/ua.out")"
[ "$(grep -c "connected to the Agent at unix:" "$WORK/broker.log")" -ge 2 ] ||
	fail "no second connect logged"
pass "the Agent restarted: the next request reconnects and installs"

stop_broker
kill -TERM "$AGENTD_PID"
wait_exit "$AGENTD_PID" 10 || fail "teep-agentd did not stop on SIGTERM (status $?)"
[ ! -e "$SOCK" ] || fail "teep-agentd left its socket behind"
pass "teep-agentd stops cleanly on SIGTERM and removes its socket"

# vsock: only with a loopback transport (vsock_loopback, or a VM's).
PORT=$((20000 + $$ % 20000))
rm -rf "$WORK/tc" "$WORK/state/tc"
if ! start_agentd "vsock:any:$PORT" "$TAM_URI" 2>/dev/null ||
	! "$AGENTD_BIN" --ping "vsock:local:$PORT" --timeout 2 >"$WORK/ping.out" 2>&1; then
	echo "SKIP: no vsock loopback transport ($(tail -n 1 "$WORK/ping.out" 2>/dev/null))"
	exit 0
fi
DRIVER_SECTION=$(driver_section "vsock:local:$PORT") write_conf "$TAM_URI"
start_broker
ua request-ta "$TC_UUID" || fail "request-ta over vsock exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed over vsock: $(cat "$WORK/ua.out")"
pass "installed over vsock"
