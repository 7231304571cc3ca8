#!/bin/bash
# [tam] allow_app_uris: an app may only suggest ("tam") the TAMs the operator
# lists; any other is answered with error 14 (tam-not-allowed) before any TEE
# call, counted and scored. The broker connects only to the TEE's [tam] uri
# and to the listed URIs: an Agent that asks for another TAM is told with
# ProcessError, and its app gets tam-not-allowed.
. "$(dirname "$0")/lib.sh"
B=66666666-7777-8888-9999-aaaaaaaaaaaa
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
add_component $B "component B"
start_tam
TAM="http://127.0.0.1:$TAM_PORT/tam"
OTHER="http://127.0.0.1:$TAM_PORT/other"

# 1. No allowlist (the default): apps may not suggest a TAM at all, not even
# the TEE's own. Loopback is scored here (allow = none): 3 x 40 bans.
CONF_EXTRA="[ban]
allow = none
threshold = 100
half_life = 100h
weight_tam_not_allowed = 40" write_conf "$TAM"
start_broker
for hint in "$OTHER" "$TAM"; do
	ua --tam "$hint" request-ta "$TC_UUID"; rc=$?
	[ $rc = 1 ] && grep -q "^error 14 tam-not-allowed: " "$WORK/ua.out" ||
		fail "hint $hint: exit $rc: $(cat "$WORK/ua.out")"
done
broker_counters >"$WORK/counters.out"
grep -q "requests 0; .* tee calls 0 .* tam not allowed 2, refused from the agent 0;" \
	"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
grep -q "ban table: scored 2 bans 0 " "$WORK/counters.out" ||
	fail "not scored: $(cat "$WORK/counters.out")"
[ ! -e "$(tc_dir "$TC_UUID")/image" ] || fail "installed all the same"
pass "no allowlist: a suggested TAM is refused with tam-not-allowed, no TEE call, scored"

# the third refusal bans: its answer first, then the close
ua --tam "$OTHER" request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "^error 14 " "$WORK/ua.out" || fail "third: exit $rc: $(cat "$WORK/ua.out")"
wait_line "$WORK/broker.log" "banning 127.0.0.1 for .* (last: TAM not allowed)" 10 ||
	fail "no ban after three refusals"
UA_TIMEOUT=10 ua request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] || fail "a banned address connected: exit $rc: $(cat "$WORK/ua.out")"
pass "repeated refusals add up to a ban"
stop_broker

# 2. An allowlist: a listed TAM may be suggested, in any case of scheme and
# host and with its default port; others are still refused.
write_conf "$TAM" "allow_app_uris = http://127.0.0.1:$TAM_PORT/x" \
	"allow_app_uris = HTTP://127.0.0.1:$TAM_PORT/tam"
start_broker
ua --tam "hTTp://127.0.0.1:$TAM_PORT/tam" request-ta "$TC_UUID" ||
	fail "listed hint: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "listed hint: $(cat "$WORK/ua.out")"
ua --tam "http://127.0.0.1:$TAM_PORT/TAM" request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "^error 14 " "$WORK/ua.out" || fail "path case: $(cat "$WORK/ua.out")"
ua --tam "http://127.0.0.1:$TAM_PORT@evil.example/tam" request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "^error 14 " "$WORK/ua.out" || fail "user@: $(cat "$WORK/ua.out")"
broker_counters | grep -q "tam not allowed 2, refused from the agent 0;" ||
	fail "counters: $(broker_counters | head -1)"
pass "allowlist: a listed TAM is accepted, the path compared exactly, user@host refused"
stop_broker

# 3. The Agent asks for a TAM that is neither the [tam] uri nor listed: the
# broker does not connect, tells the Agent (ProcessError) and the app.
SIM_TAM_URI="$OTHER" write_conf "$TAM"
start_broker
ua request-ta "$B"; rc=$?
[ $rc = 1 ] && grep -q "^error 14 tam-not-allowed: the Agent asked for a TAM this broker does not connect to: $OTHER" \
	"$WORK/ua.out" || fail "Agent's URI: exit $rc: $(cat "$WORK/ua.out")"
! grep -q "progress tam-connect" "$WORK/ua.out" || fail "tam-connect reported: $(cat "$WORK/ua.out")"
grep -q "ProcessError (transport) to tee sim" "$WORK/broker.log" || fail "the Agent was not told"
broker_counters >"$WORK/counters.out"
grep -q "tam posts 0 failures 0;.* tam not allowed 0, refused from the agent 1;" \
	"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
[ ! -e "$(tc_dir $B)/image" ] || fail "B installed all the same"
ua request-ta "$B"; [ $? = 1 ] || fail "the broker no longer answers"
pass "an Agent's TAM that is not allowed: not contacted, ProcessError, tam-not-allowed"
stop_broker

# ... and once listed, the broker does connect there (a 404 from the TAM's
# wrong path: tam-http)
SIM_TAM_URI="$OTHER" write_conf "$TAM" "allow_app_uris = $OTHER"
start_broker
ua request-ta "$B"; rc=$?
[ $rc = 1 ] && grep -q "^error 7 tam-http" "$WORK/ua.out" &&
	grep -q "progress tam-connect $OTHER" "$WORK/ua.out" ||
	fail "listed Agent's URI: exit $rc: $(cat "$WORK/ua.out")"
pass "a listed URI named by the Agent is contacted"
stop_broker
