#!/bin/bash
# The TAM's catalog holds the draft's own Appendix E example 2 envelope
# (signed with the draft's key); the software Agent verifies and installs it.
. "$(dirname "$0")/lib.sh"
make_keys
"$TOOL" dump "$VECTORS/suit/suit_integrated.hex" >/dev/null || fail "teep-tool dump"
hex2bin "$VECTORS/suit/suit_integrated.hex" >"$WORK/catalog/appendix-e.suit"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] || fail "wrong image"
pass "Appendix E example 2 installed through the broker"
