#!/bin/bash
# Well-formed CBOR that libcbor 0.8 refuses to build (invalid UTF-8 in a text
# string, simple values 0..19 and 32..255) is read by the broker's own
# decoder: as a frame it is malformed (error 1) and scores towards a ban like
# any malformed frame; as the value of an unknown key it is ignored, as
# docs/ua-api.md section 7 says of every unknown key's value.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
# 3 x 10 = 30: the third malformed frame bans; loopback is not allowlisted.
CONF_EXTRA="[ban]
allow = 192.0.2.0/24
threshold = 30
half_life = 100h
weight_malformed = 10
ban_time = 60s
ban_time_max = 60s" write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

raw() { # hex
	"$UA" --url "$URL" --timeout 10 --raw-hex "$1" >"$WORK/raw.out" 2>&1
}

# {"id": 1, "op": "policy-check", "x": simple(0), "y": "\xff\xfe\xfd"}
raw a462696401626f706c706f6c6963792d636865636b6178e0617963fffefd
grep -q "error" "$WORK/raw.out" && fail "unknown keys' values refused: $(cat "$WORK/raw.out")"
grep -q "done" "$WORK/raw.out" || fail "no done answer: $(cat "$WORK/raw.out")"
pass "a request whose unknown keys hold values libcbor refuses is served"

raw 63fffefd # a text string that is not UTF-8
grep -q "error 1 " "$WORK/raw.out" || fail "63fffefd: $(cat "$WORK/raw.out")"
raw e0 # simple(0)
grep -q "error 1 " "$WORK/raw.out" || fail "e0: $(cat "$WORK/raw.out")"
pass "frames libcbor refuses are answered malformed"
raw f8ff # simple(255): the third malformed frame
grep -q "error 1 " "$WORK/raw.out" || fail "f8ff: $(cat "$WORK/raw.out")"
wait_line "$WORK/broker.log" \
	"banning 127.0.0.1 for 60 s: score 30 reached threshold 30 (last: malformed frame)" 5 ||
	fail "no ban: $(grep -i ban "$WORK/broker.log")"
UA_TIMEOUT=10 ua policy-check; rc=$?
[ $rc = 3 ] || fail "a banned address connected: exit $rc: $(cat "$WORK/ua.out")"
pass "they score like malformed frames: the third bans the address"
