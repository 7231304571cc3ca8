#!/bin/bash
# Malformed app frames get an error answer, never silence or a crash.
. "$(dirname "$0")/lib.sh"
MAX_MESSAGE_SIZE=512 standard_setup

raw() { # hex expected-code
	"$UA" --url "$URL" --raw-hex "$1" >"$WORK/raw.out" 2>&1
	grep -q "error $2" "$WORK/raw.out" || fail "frame $1: expected error $2: $(cat "$WORK/raw.out")"
}
raw "ff" 1                         # not CBOR
raw "83010203" 1                   # an array, not a map
raw "a1626f706a726571756573742d7461" 1   # {"op": "request-ta"}: no id
raw "a262696407626f706a756e6b6e6f776e2d6f70" 2 # unknown op: unsupported
raw "9b00000000ffffffff" 1         # array declaring 2^32 items in 9 bytes
raw "$(printf 'a1%.0s' $(seq 1 40))00" 1  # nesting deeper than allowed
raw "$(printf '00%.0s' $(seq 1 600))" 11 # over max_message_size
kill -0 "$BROKER_PID" || fail "broker died"
pass "malformed frames answered with errors"

ua --tee nosuch request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 4 " "$WORK/ua.out" || fail "unknown TEE: $(cat "$WORK/ua.out")"
pass "unknown TEE: error 4"
# {"id": 5, "op": "request-ta", "component": [h'01'], "tam": "ftp://x/"}
raw a462696405626f706a726571756573742d746169636f6d706f6e656e748141016374616d686674703a2f2f782f 1
pass "TAM URI with a bad scheme: error 1"
ua request-ta "$TC_UUID" || fail "valid request after garbage: $(cat "$WORK/ua.out")"
pass "the broker still installs after the garbage"
