#!/bin/bash
# A TAM that labels its TEEP messages with another media type
# (application/teep+cose, as deployed prototypes do): listed in [tam]
# accept_media_types, the exchange works end to end with the bundled Agent,
# which is given application/teep+cbor for a COSE-signed body under that
# label; not listed, the exchange fails with a reason naming the type.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
IMG="$(tc_dir $TC_UUID)/image"

stop_both() {
	kill -TERM "$BROKER_PID" "$TAM_PID"
	wait_exit "$BROKER_PID" 10 || fail "$1: broker exit status $?"
	wait "$TAM_PID" 2>/dev/null
}

# (a) accepted by the operator: installed and removed
start_tam --content-type application/teep+cose
write_conf "http://127.0.0.1:$TAM_PORT/tam" "accept_media_types = application/teep+cose"
start_broker
ua request-ta "$TC_UUID" || fail "accepted: request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "^done: installed" "$WORK/ua.out" || fail "accepted: not installed: $(cat "$WORK/ua.out")"
[ "$(cat "$IMG" 2>/dev/null)" = "Hello, Secure World!" ] || fail "accepted: image missing or wrong"
grep -q "application/teep+cose (accept_media_types) goes to the Agent" "$WORK/broker.log" ||
	fail "accepted: the broker did not log the label it passed on"
ua unrequest-ta "$TC_UUID" || fail "accepted: unrequest-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "^done: removed" "$WORK/ua.out" || fail "accepted: not removed: $(cat "$WORK/ua.out")"
stop_both accepted
pass "application/teep+cose listed in accept_media_types: installed and removed"

# (b) not listed: tam-protocol, naming the type; nothing reaches the Agent
start_tam --content-type application/teep+cose
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID"
rc=$?
[ $rc = 1 ] || fail "not listed: teep-ua exited $rc: $(cat "$WORK/ua.out")"
grep -q "^error 8 .*of type application/teep+cose, not application/teep+cbor" "$WORK/ua.out" ||
	fail "not listed: not the wrong-media-type reason: $(cat "$WORK/ua.out")"
[ ! -e "$IMG" ] || fail "not listed: something got installed"
stop_both "not listed"
pass "application/teep+cose not listed: error 8 naming the type"
