#!/bin/bash
# Personalization data as in the draft's Appendix E example 3, end to end:
# the TAM's catalog holds a TA and a config.json manifest that depends on
# it, encrypted for the Agent's key. An app asks for config.json only; the
# TAM sends the TA along, the Agent installs the TA, then decrypts
# config.json. Data encrypted for another device is refused.
. "$(dirname "$0")/lib.sh"
CFG=TEEP-Device/SecureFS/config.json
SECRET='{"name":"FOO Bar","secret":"0123456789abfcdef0123456789abcd"}'
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
printf '%s' "$SECRET" >"$WORK/config.json"
"$TOOL" manifest --component "$CFG" --data "$WORK/config.json" --key "$WORK/signer.pem" \
	--encrypt-for "$WORK/state/agent_pub.pem" --depends-on "$WORK/catalog/$TC_UUID.suit" \
	-o "$WORK/catalog/config.suit" >/dev/null || fail "teep-tool manifest --data"
grep -q "0123456789abfcdef" "$WORK/catalog/config.suit" && fail "the catalog holds the plaintext"
"$TOOL" dump "$WORK/catalog/config.suit" >"$WORK/dump.out" || fail "teep-tool dump"
grep -q "depends on: TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/suit" \
	"$WORK/dump.out" || fail "no dependency in the envelope: $(cat "$WORK/dump.out")"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

ua request-ta "$CFG" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] || fail "the TA is not installed"
[ "$(cat "$WORK/state/tc/$CFG/image")" = "$SECRET" ] || fail "config.json is not the plaintext"
grep -q "added as the dependency of config.suit" "$WORK/tam.log" ||
	fail "the TAM did not send the dependency"
pass "config.json installed and decrypted, its TA brought along"

ua unrequest-ta "$CFG" || fail "unrequest-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: removed" "$WORK/ua.out" || fail "not removed: $(cat "$WORK/ua.out")"
[ -e "$WORK/state/tc/$CFG/image" ] && fail "config.json still there"
[ -e "$(tc_dir $TC_UUID)/image" ] || fail "the TA went with it"
pass "config.json unrequested, the TA stays"

# Encrypted for somebody else: the Agent cannot unwrap the key.
"$TOOL" keygen "$WORK/other.pem" "$WORK/other_pub.pem" >/dev/null || fail "keygen other"
"$TOOL" manifest --component "$CFG" --data "$WORK/config.json" --key "$WORK/signer.pem" \
	--encrypt-for "$WORK/other_pub.pem" --depends-on "$WORK/catalog/$TC_UUID.suit" --seq 2 \
	-o "$WORK/catalog/config.suit" >/dev/null || fail "teep-tool manifest (other key)"
kill -TERM "$TAM_PID"
wait_exit "$TAM_PID" 10
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
stop_broker
start_broker
ua request-ta "$CFG"
grep -q "error 12" "$WORK/ua.out" || fail "expected agent-error: $(cat "$WORK/ua.out")"
[ -e "$WORK/state/tc/$CFG/image" ] && fail "config.json installed from data for another key"
wait_line "$WORK/broker.log" "encrypted payload: recipient: key unwrap failed" 5 ||
	fail "the Agent did not say why"
pass "data encrypted for another device refused"
