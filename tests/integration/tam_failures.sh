#!/bin/bash
# The TAM misbehaves in every way we know; each time the app gets an error
# with the right code, the Agent is told (ProcessError) and the broker lives on.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "x"

# TAM down: nothing listens on the port we give
start_tam
kill "$TAM_PID"; wait "$TAM_PID" 2>/dev/null
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] || fail "TAM down: teep-ua exited $rc: $(cat "$WORK/ua.out")"
grep -q "error 6 " "$WORK/ua.out" || fail "TAM down: not tam-unreachable: $(cat "$WORK/ua.out")"
grep -qi "process_error\|ProcessError" "$WORK/broker.log" || fail "TAM down: Agent not told"
pass "TAM down: tam-unreachable, ProcessError called"
kill -TERM "$BROKER_PID"; wait_exit "$BROKER_PID" 10 || fail "broker exit"

check_fault() { # fault expected-code words [extra [tam] lines]
	start_tam --fault "$1"
	write_conf "http://127.0.0.1:$TAM_PORT/tam" "${4:-}"
	start_broker
	ua request-ta "$TC_UUID"; rc=$?
	[ $rc = 1 ] || fail "$1: teep-ua exited $rc: $(cat "$WORK/ua.out")"
	grep -q "error $2 " "$WORK/ua.out" || fail "$1: expected error $2: $(cat "$WORK/ua.out")"
	[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "$1: something got installed"
	kill -0 "$BROKER_PID" || fail "$1: broker died"
	# the broker still serves: a well-formed policy check gets an answer
	ua policy-check; [ $? -le 1 ] || fail "$1: broker no longer answers"
	kill -TERM "$BROKER_PID" "$TAM_PID"
	wait_exit "$BROKER_PID" 10 || fail "$1: broker exit status $?"
	wait "$TAM_PID" 2>/dev/null
	pass "$1: error $2 $3"
}
check_fault http500 7 "(tam-http)"
check_fault redirect 7 "(3xx is not followed)"
check_fault wrong-type 8 "(tam-protocol)"
# an operator who accepts that type lets the answer through to the Agent, which
# refuses it: the media type reached the Agent
check_fault wrong-type 12 "accepted by the operator, refused by the Agent" \
	"accept_media_types = application/cose, text/html"
grep -q "unsupported media type" "$WORK/broker.log" || fail "the Agent did not see text/html"
check_fault garbage 12 "(the Agent rejects it: agent-error)"
RESPONSE_TIMEOUT=2s check_fault hang 9 "(timeout)"
