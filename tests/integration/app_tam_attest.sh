#!/bin/bash
# The Network User as its own TAM and Verifier (way 2 of
# docs/reference-tam.md): teep-tam --via-broker --attest sends its
# QueryRequest with a fresh challenge through the broker's tam-session,
# appraises the Agent's Evidence itself (tools/tam_appraise.c) and sends
# the Update with its encrypted personalization data only when the result
# is affirming. Otherwise nothing follows the QueryResponse: the tool says
# why and exits 6, and the Agent's state holds nothing of the app's.
. "$(dirname "$0")/lib.sh"
AUTH_SO="$top_builddir/.libs/auth-token.so"
NAV=nav-token-0123456789abcdef
CFG=TEEP-Device/SecureFS/config.json
SECRET='{"name":"FOO Bar","secret":"0123456789abfcdef0123456789abcd"}'

make_keys
"$TOOL" keygen "$WORK/apptam.pem" "$WORK/apptam_pub.pem" >/dev/null || fail "keygen apptam"
"$TOOL" keygen "$WORK/state/attestation.pem" "$WORK/att_pub.pem" >/dev/null ||
	fail "keygen attestation"
"$TOOL" keygen "$WORK/other_att.pem" "$WORK/other_att_pub.pem" >/dev/null ||
	fail "keygen other attestation key"
add_component "$TC_UUID" "Hello, Secure World!"
printf '%s' "$SECRET" >"$WORK/config.json"
"$TOOL" manifest --component "$CFG" --data "$WORK/config.json" --key "$WORK/signer.pem" \
	--encrypt-for "$WORK/state/agent_pub.pem" --depends-on "$WORK/catalog/$TC_UUID.suit" \
	-o "$WORK/catalog/config.suit" >/dev/null || fail "teep-tool manifest --data"
MEAS=$(sha256sum "$SIM_SO" | cut -d' ' -f1)

printf '%s\tnav\t-\t-\n' "$NAV" >"$WORK/tokens"
chmod 600 "$WORK/tokens"
SIM_TAM_KEYS="$WORK/tam_pub.pem,$WORK/apptam_pub.pem" MAX_MESSAGE_SIZE=64k \
	CONF_EXTRA="[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens

[app-tam:nav]
key = $WORK/apptam_pub.pem
tee = sim
max_messages = 8
idle_timeout = 10s" write_conf "http://127.0.0.1:9/tam"
start_broker

# app_tam OUT [teep-tam options...]: one attested tam-session
app_tam() {
	local out=$1
	shift
	"$TAM_BIN" --via-broker "$URL" --token "$NAV" --tee sim --key "$WORK/apptam.pem" \
		--agent-key "$WORK/state/agent_pub.pem" --catalog "$WORK/catalog" \
		--push "$CFG" --timeout 30 --attest "$@" >"$WORK/$out.out" 2>"$WORK/$out.log"
}

# nothing_reached_the_agent NAME: no Update went out, the state is empty
nothing_reached_the_agent() {
	grep -q "^sent [0-9]* Update" "$WORK/$1.out" && fail "$1: an Update was sent"
	grep -q -- "-> Update" "$WORK/$1.log" && fail "$1: an Update was built"
	grep -q "^done 1 completed" "$WORK/$1.out" ||
		fail "$1: the tam-session did not end: $(cat "$WORK/$1.out")"
	[ ! -e "$WORK/state/tc/$CFG" ] || fail "$1: personalization data in the Agent's state"
	[ ! -e "$(tc_dir $TC_UUID)" ] || fail "$1: the TA is in the Agent's state"
	grep -rqF "$SECRET" "$WORK/state" && fail "$1: the secret is in the Agent's state"
	return 0
}

# 1. A wrong expected measurement: warning, no Update.
app_tam wrong_meas --attestation-key "$WORK/att_pub.pem" \
	--expect-measurement 0000000000000000000000000000000000000000000000000000000000000000
rc=$?
[ $rc = 6 ] || fail "wrong measurement: exit $rc: $(cat "$WORK/wrong_meas.out")"
grep -q "^sent 2 QueryRequest" "$WORK/wrong_meas.out" &&
	grep -q "^answer 2 " "$WORK/wrong_meas.out" ||
	fail "no QueryRequest/answer: $(cat "$WORK/wrong_meas.out")"
grep -q "^attestation warning: a measurement is not among the expected" \
	"$WORK/wrong_meas.out" || fail "no reason: $(cat "$WORK/wrong_meas.out")"
grep -q -- "-> QueryRequest challenge=.* (attestation)" "$WORK/wrong_meas.log" ||
	fail "no challenge: $(cat "$WORK/wrong_meas.log")"
nothing_reached_the_agent wrong_meas
pass "wrong expected measurement: exit 6 with the reason, no Update reached the Agent"

# 2. Evidence signed by a key the app does not trust: contraindicated.
app_tam untrusted --attestation-key "$WORK/other_att_pub.pem" --expect-measurement "$MEAS"
rc=$?
[ $rc = 6 ] || fail "untrusted key: exit $rc: $(cat "$WORK/untrusted.out")"
grep -q "^attestation contraindicated: token: no trusted attestation key verifies it" \
	"$WORK/untrusted.out" || fail "no reason: $(cat "$WORK/untrusted.out")"
nothing_reached_the_agent untrusted
pass "untrusted attestation key: exit 6 with the reason, no Update reached the Agent"

# 3. The right reference values: affirming, the Update delivers the data.
app_tam good --attestation-key "$WORK/att_pub.pem" --expect-measurement "$MEAS" \
	--allowed-tee software || fail "attested app as TAM exited $?: $(cat "$WORK/good.out")"
for line in "^sent 2 QueryRequest" "^answer 2 " "^sent 3 Update" "^answer 3 " \
	"^done 1 completed"; do
	grep -q "$line" "$WORK/good.out" || fail "no '$line': $(cat "$WORK/good.out")"
done
grep -q "^attestation" "$WORK/good.out" && fail "an attestation failure line: $(cat "$WORK/good.out")"
grep -q "attestation result: affirming" "$WORK/good.log" || fail "$(cat "$WORK/good.log")"
[ "$(cat "$WORK/state/tc/$CFG/image")" = "$SECRET" ] || fail "config.json is not the plaintext"
[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] || fail "the TA is not installed"
pass "affirming: the app, as TAM and Verifier, delivered its personalization data"

stop_broker
pass "clean exit"
