#!/bin/bash
# The periodic policy check (draft -15 §5.5): with policy_check_interval set,
# the broker calls RequestPolicyCheck on its own, and each time runs one
# exchange with the TAM, until the Agent has nothing more to ask.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "x"
start_tam
CONF_EXTRA="policy_check_interval = 1s" write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

# no app connects; three checks must reach the TAM within a few seconds
n=0
for i in $(seq 1 200); do
	n=$(grep -c -- "-> QueryRequest" "$WORK/tam.log")
	[ "$n" -ge 3 ] && break
	sleep 0.05
done
[ "$n" -ge 3 ] || fail "only $n periodic exchanges reached the TAM"
grep -q "policy-check done: completed" "$WORK/broker.log" || fail "no completed policy check logged"
# each check is one exchange: as many QueryResponses as QueryRequests
q=$(grep -c -- "<- QueryResponse" "$WORK/tam.log")
[ "$q" -ge 2 ] || fail "the Agent did not answer the periodic checks"
pass "periodic policy checks: $n exchanges, each ended when the Agent had nothing more"
stop_broker
