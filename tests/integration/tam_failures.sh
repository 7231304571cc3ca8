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

# requests the TAM has read (--log-headers logs one line per request)
tam_requests() { grep -c "tam: request POST" "$WORK/tam.log"; }

# policy_check_reaches_tam WHAT: a policy check after a failed exchange is
# not swallowed by the Agent (whose round the failure must have closed): the
# TAM sees a request
policy_check_reaches_tam() {
	local before
	before=$(tam_requests)
	ua policy-check
	[ $? -le 1 ] || fail "$1: broker no longer answers: $(cat "$WORK/ua.out")"
	[ "$(tam_requests)" -gt "$before" ] ||
		fail "$1: a policy check after the failure did not reach the TAM: $(cat "$WORK/ua.out")"
}

check_fault() { # fault expected-code words reason [extra [tam] lines]
	start_tam --log-headers --fault "$1"
	write_conf "http://127.0.0.1:$TAM_PORT/tam" "${5:-}"
	start_broker
	ua request-ta "$TC_UUID"; rc=$?
	[ $rc = 1 ] || fail "$1: teep-ua exited $rc: $(cat "$WORK/ua.out")"
	grep -q "error $2 " "$WORK/ua.out" || fail "$1: expected error $2: $(cat "$WORK/ua.out")"
	grep -qF -- "$4" "$WORK/ua.out" || fail "$1: the reason does not say '$4': $(cat "$WORK/ua.out")"
	[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "$1: something got installed"
	kill -0 "$BROKER_PID" || fail "$1: broker died"
	# policy checks that fail the same way: each one reaches the TAM
	policy_check_reaches_tam "$1 (first policy check)"
	policy_check_reaches_tam "$1 (second policy check)"
	# the TAM is well again (same port): the next policy check completes
	kill -TERM "$TAM_PID"
	wait "$TAM_PID" 2>/dev/null
	start_tam --log-headers --port "$TAM_PORT"
	ua policy-check || fail "$1: policy check with a working TAM: $(cat "$WORK/ua.out")"
	grep -q "^done: completed" "$WORK/ua.out" || fail "$1: not completed: $(cat "$WORK/ua.out")"
	grep -q -- "-> QueryRequest" "$WORK/tam.log" ||
		fail "$1: the policy check did not reach the working TAM"
	# it asked again for what the app had requested; remove it for the next
	[ -e "$(tc_dir $TC_UUID)/image" ] || fail "$1: the policy check did not install the request"
	ua unrequest-ta "$TC_UUID" || fail "$1: unrequest-ta: $(cat "$WORK/ua.out")"
	[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "$1: still installed after unrequest-ta"
	kill -TERM "$BROKER_PID" "$TAM_PID"
	wait_exit "$BROKER_PID" 10 || fail "$1: broker exit status $?"
	wait "$TAM_PID" 2>/dev/null
	pass "$1: error $2 $3, and later policy checks reach the TAM"
}
check_fault http500 7 "(tam-http)" "the TAM answered HTTP 500"
check_fault redirect 7 "(3xx is not followed)" "the TAM answered HTTP 302"
check_fault wrong-type 8 "(tam-protocol)" \
	"the TAM's answer is of type text/html, not application/teep+cbor"
# an operator who accepts that type lets the answer through to the Agent, which
# refuses it: the media type reached the Agent
check_fault wrong-type 12 "accepted by the operator, refused by the Agent" \
	"the Agent answered the TAM with a TEEP Error" \
	"accept_media_types = application/cose, text/html"
grep -q "unsupported media type" "$WORK/broker.log" || fail "the Agent did not see text/html"
check_fault garbage 12 "(the Agent rejects it: agent-error)" \
	"the Agent answered the TAM with a TEEP Error"
RESPONSE_TIMEOUT=2s check_fault hang 9 "(timeout)" "no answer from the TAM in time"
# each broken answer in its own words, none of them "not application/teep+cbor"
check_fault ping-pong 8 "(the exchange never ends: message cap)" \
	"the exchange reached the broker's limit of 32 TAM answers"
check_fault truncated 8 "(Content-Length 100, 32 bytes, close)" \
	"the TAM's answer is truncated: the connection closed before the end of the body (32 of 100 bytes)"
check_fault bad-status 8 "(garbage status line)" \
	"the TAM's answer is not valid HTTP/1.1: malformed status line"
check_fault nul-header 8 "(NUL byte in a header)" \
	"the TAM's answer is not valid HTTP/1.1: NUL byte in a header line"
# a close-delimited answer over plain HTTP is complete when the connection ends
start_tam --fault close-delimited
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID" || fail "close-delimited: request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "^done: installed" "$WORK/ua.out" || fail "close-delimited: not installed: $(cat "$WORK/ua.out")"
kill -TERM "$BROKER_PID" "$TAM_PID"
wait_exit "$BROKER_PID" 10 || fail "close-delimited: broker exit status $?"
wait "$TAM_PID" 2>/dev/null
pass "close-delimited answers over plain HTTP: installed"
