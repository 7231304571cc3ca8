#!/bin/bash
# Two TEEs on one node: the software Agent in the broker (sim) and one in a
# process of its own (teep-agentd, reached by the agent driver), each with
# its own state, key, queue and worker. Apps choose by name; both serve at
# once; an Agent that hangs holds up only its own TEE's apps.
. "$(dirname "$0")/lib.sh"

OTHER=11111111-2222-3333-4444-555555555555
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
add_component "$OTHER" "Hello, other TEE!"
mkdir -m 700 "$WORK/state2"
"$TOOL" keygen "$WORK/state2/agent.pem" "$WORK/state2/agent_pub.pem" >/dev/null || fail "keygen"
start_tam --agent-key "$WORK/state2/agent_pub.pem"
TAM_URI="http://127.0.0.1:$TAM_PORT/tam"

# teep-agentd with a state of its own
SOCK="$WORK/agentd.sock"
cat >"$WORK/agentd.conf" <<CONF
[agentd]
log_level = info
[agent]
state_dir = $WORK/state2
agent_key = $WORK/state2/agent.pem
tam_key = $WORK/tam_pub.pem
tc_signer = $WORK/signer_pub.pem
tam_uri = $TAM_URI
CONF
"$AGENTD_BIN" -c "$WORK/agentd.conf" -l "unix:$SOCK" >>"$WORK/agentd.log" 2>&1 &
AGENTD_PID=$!
PIDS="$PIDS $AGENTD_PID"
wait_line "$WORK/agentd.log" "listening on" 10 || fail "teep-agentd did not start"

CONF_EXTRA="[driver:cvm]
path = $AGENT_SO
call_timeout = 20s
socket = unix:$SOCK
connect_timeout = 1s
call_deadline = 2s" write_conf "$TAM_URI"
start_broker

# both at once, each app naming its TEE
"$UA" --url "$URL" --timeout 30 --tee sim request-ta "$TC_UUID" >"$WORK/ua1.out" 2>&1 &
p1=$!
"$UA" --url "$URL" --timeout 30 --tee cvm request-ta "$OTHER" >"$WORK/ua2.out" 2>&1 &
p2=$!
wait $p1 || fail "sim: $(cat "$WORK/ua1.out")"
wait $p2 || fail "cvm: $(cat "$WORK/ua2.out")"
grep -q "done: installed" "$WORK/ua1.out" || fail "sim: $(cat "$WORK/ua1.out")"
grep -q "done: installed" "$WORK/ua2.out" || fail "cvm: $(cat "$WORK/ua2.out")"
[ "$(cat "$(tc_dir "$TC_UUID")/image" 2>/dev/null)" = "Hello, Secure World!" ] ||
	fail "the sim TEE does not hold its component"
hex=$(echo "$OTHER" | tr -d '-')
[ "$(cat "$WORK/state2/tc/TEEP-Device/SecureFS/0x$hex/ta/image" 2>/dev/null)" = "Hello, other TEE!" ] ||
	fail "the agentd TEE does not hold its component"
[ ! -e "$(tc_dir "$OTHER")" ] || fail "the component for cvm landed in the sim TEE"
pass "two TEEs served at once, each component in its own TEE"

# the agentd TEE hangs: its app waits for the driver's deadline, while an
# app of the sim TEE is served meanwhile
kill -STOP "$AGENTD_PID"
"$UA" --url "$URL" --timeout 15 --tee cvm policy-check >"$WORK/ua3.out" 2>&1 &
p3=$!
wait_line "$WORK/broker.log" "policy-check.*starts on tee cvm" 5 || fail "the cvm request did not start"
t0=$(date +%s%N)
"$UA" --url "$URL" --timeout 10 --tee sim unrequest-ta "$TC_UUID" >"$WORK/ua4.out" 2>&1 ||
	fail "sim while cvm hangs: $(cat "$WORK/ua4.out")"
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "done: removed" "$WORK/ua4.out" || fail "sim while cvm hangs: $(cat "$WORK/ua4.out")"
kill $p3 2>/dev/null
wait $p3 2>/dev/null
kill -CONT "$AGENTD_PID"
pass "while the agentd TEE hangs, the sim TEE answers in $ms ms"
stop_broker
