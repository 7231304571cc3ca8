#!/bin/bash
# Apps acting as their own TAM (docs/defences.md section 8): an app whose
# identity (auth-token plugin) has an [app-tam:IDENTITY] section opens a
# tam-session through the broker and delivers its personalization data to
# the Agent with the reference TAM's logic (teep-tam --via-broker): the
# broker contacts no HTTP TAM. A message signed with another key is dropped
# before the TEE, answered "rejected", counted and scored; an identity
# without a TAM key is refused.
. "$(dirname "$0")/lib.sh"
AUTH_SO="$top_builddir/.libs/auth-token.so"
NAV=nav-token-0123456789abcdef
RO=ro-token-0123456789abcdef
CFG=TEEP-Device/SecureFS/config.json
SECRET='{"name":"FOO Bar","secret":"0123456789abfcdef0123456789abcd"}'

make_keys
"$TOOL" keygen "$WORK/apptam.pem" "$WORK/apptam_pub.pem" >/dev/null || fail "keygen apptam"
"$TOOL" keygen "$WORK/forger.pem" "$WORK/forger_pub.pem" >/dev/null || fail "keygen forger"
# the app's own catalog: a TA and its personalization data, encrypted for
# this device's Agent
add_component "$TC_UUID" "Hello, Secure World!"
printf '%s' "$SECRET" >"$WORK/config.json"
"$TOOL" manifest --component "$CFG" --data "$WORK/config.json" --key "$WORK/signer.pem" \
	--encrypt-for "$WORK/state/agent_pub.pem" --depends-on "$WORK/catalog/$TC_UUID.suit" \
	-o "$WORK/catalog/config.suit" >/dev/null || fail "teep-tool manifest --data"

cat >"$WORK/tokens" <<TOKENS
$NAV	nav	-	-
$RO	ro	-	-
TOKENS
chmod 600 "$WORK/tokens"
# The Agent trusts the app's TAM key too: it verifies TAM messages itself.
# Its tam_uri does not listen: the broker ignores the URI of a tam-session.
SIM_TAM_KEYS="$WORK/tam_pub.pem,$WORK/apptam_pub.pem" MAX_MESSAGE_SIZE=64k \
	CONF_EXTRA="[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens

[app-tam:nav]
key = $WORK/apptam_pub.pem
tee = sim
max_messages = 8
idle_timeout = 10s

[ban]
allow = 192.0.2.0/24
threshold = 1000
half_life = 100h" write_conf "http://127.0.0.1:9/tam"
start_broker
grep -q "app-tam nav may act as a TAM" "$WORK/broker.log" || fail "the app-tam key is not loaded"

# app_tam OUT TOKEN KEY: one tam-session through the broker
app_tam() {
	local out=$1 token=$2 key=$3
	"$TAM_BIN" --via-broker "$URL" --token "$token" --tee sim --key "$key" \
		--agent-key "$WORK/state/agent_pub.pem" --catalog "$WORK/catalog" \
		--push "$CFG" --timeout 30 >"$WORK/$out.out" 2>"$WORK/$out.log"
}

# 1. The app delivers its personalization data.
app_tam good "$NAV" "$WORK/apptam.pem" || fail "app as TAM exited $?: $(cat "$WORK/good.out")"
for line in "progress tam-session sim" "^sent 2 QueryRequest" "^answer 2 " "^sent 3 Update" \
	"^answer 3 " "^done 4 completed" "^done 1 completed"; do
	grep -q "$line" "$WORK/good.out" || fail "no '$line': $(cat "$WORK/good.out")"
done
[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] || fail "the TA is not installed"
[ "$(cat "$WORK/state/tc/$CFG/image")" = "$SECRET" ] || fail "config.json is not the plaintext"
grep -q "added as the dependency of config.suit" "$WORK/good.log" ||
	fail "the TAM did not send the dependency"
pass "the app, acting as TAM, installed its TA and decrypted personalization data"

broker_counters >"$WORK/counters.out"
grep -q "tam posts 0 failures 0;" "$WORK/counters.out" ||
	fail "the broker contacted an HTTP TAM: $(cat "$WORK/counters.out")"
grep -q "app-tam sessions 1 refused 0, dropped-forged 0" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
pass "no HTTP TAM was contacted"

# 2. The same session signed with another key: dropped before the TEE.
agent_before=$(grep -c "QueryRequest -> " "$WORK/broker.log")
app_tam forged "$NAV" "$WORK/forger.pem"; rc=$?
[ $rc = 1 ] || fail "forged: exit $rc: $(cat "$WORK/forged.out")"
grep -q "^error 2 17 rejected: no signature verifies with the TAM's key" "$WORK/forged.out" ||
	fail "no rejected answer: $(cat "$WORK/forged.out")"
grep -q "^done 1 completed" "$WORK/forged.out" ||
	fail "the tam-session did not end: $(cat "$WORK/forged.out")"
[ "$(grep -c "QueryRequest -> " "$WORK/broker.log")" = "$agent_before" ] ||
	fail "the Agent processed the forged message"
wait_line "$WORK/broker.log" \
	"app-tam nav: dropped a TAM message ([0-9]* bytes, QueryRequest): no signature verifies" 5 ||
	fail "the drop is not logged"
broker_counters >"$WORK/counters.out"
grep -q "app-tam sessions 2 refused 0, dropped-forged 1" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
grep -q "ban table: scored 1 " "$WORK/counters.out" ||
	fail "not scored: $(cat "$WORK/counters.out")"
pass "a message signed with another key is dropped before the TEE, counted and scored"

# 3. An identity without a TAM key is refused.
app_tam refused "$RO" "$WORK/apptam.pem"; rc=$?
[ $rc = 1 ] && grep -q "^error 1 15 forbidden: this app may not act as a TAM" \
	"$WORK/refused.out" || fail "ro: exit $rc: $(cat "$WORK/refused.out")"
broker_counters >"$WORK/counters.out"
grep -q "app-tam sessions 2 refused 1, dropped-forged 1" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
pass "an identity without an [app-tam] section is refused"

# 4. Messages for no open tam-session: no-session, and the TEE is not called.
# {"id": 7, "op": "tam-message", "session": 99, "msg": h'00'}
UA_TIMEOUT=10 ua --token "$NAV" --raw-hex \
	a462696407626f706b74616d2d6d6573736167656773657373696f6e1863636d73674100
grep -q "^error 16 no-session: no such tam-session on this connection" "$WORK/ua.out" ||
	fail "no-session: $(cat "$WORK/ua.out")"
pass "a tam-message for no open tam-session is answered no-session"

# 5. The tam-sessions closed the Agent's policy round behind them: a
# policy check reaches the Agent's TAM again (which does not listen).
UA_TIMEOUT=20 ua --token "$NAV" policy-check
grep -q "tam-connect http://127.0.0.1:9/tam" "$WORK/ua.out" ||
	fail "policy-check after tam-sessions: $(cat "$WORK/ua.out")"
pass "a policy check after the tam-sessions starts a new round"

# 6. An app that leaves with its tam-session open: the session ends, the
# Agent's session is closed. teep-ua --raw-hex leaves after 5 s of silence.
SESSION_HEX=a362696401626f706b74616d2d73657373696f6e637465656373696d
UA_TIMEOUT=20 ua --token "$NAV" --raw-hex "$SESSION_HEX"
grep -q "progress tam-session sim" "$WORK/ua.out" || fail "no tam-session: $(cat "$WORK/ua.out")"
wait_line "$WORK/broker.log" "tam-session 1 on tee sim error: shutdown after 0 message" 5 ||
	fail "the tam-session did not end when its app left"
pass "a tam-session ends when its app leaves"

# 7. The broker stops with a tam-session open: it gets its final answer.
"$UA" --url "$URL" --timeout 20 --token "$NAV" --raw-hex "$SESSION_HEX" >"$WORK/last.out" 2>&1 &
UA_PID=$!
wait_line "$WORK/last.out" "progress tam-session sim" 10 || fail "no tam-session: $(cat "$WORK/last.out")"
stop_broker
wait_exit "$UA_PID" 10
grep -q "error 10 shutdown" "$WORK/last.out" || fail "no shutdown answer: $(cat "$WORK/last.out")"
grep -q "notice: stopped" "$WORK/broker.log" || fail "no clean stop"
pass "the broker stops cleanly, answering the open tam-session"
