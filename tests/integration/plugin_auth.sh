#!/bin/bash
# The auth-token plugin: an app without a known bearer token is refused with
# HTTP 401 before the websocket opens; a known token gives the app its
# identity, which the broker logs and passes to the TEE; request-ta and
# unrequest-ta outside the app's lists are answered "forbidden" and scored;
# anonymous apps get the rights of the "-" line, but a wrong token is refused
# all the same; rate limits with key = app count each app apart, and
# anonymous apps by address.
. "$(dirname "$0")/lib.sh"
AUTH_SO="$top_builddir/.libs/auth-token.so"
NAV=nav-token-0123456789abcdef
RO=ro-token-0123456789abcdef
OTHER=other.token_0123456789+/=
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam

# nav may request and unrequest the component, ro only request it, other
# neither (its lists hold another component)
write_tokens() {
	cat >"$WORK/tokens" <<TOKENS
# TOKEN  IDENTITY  REQUEST  UNREQUEST
$NAV	nav	$TC_UUID	$TC_UUID
$RO   ro   TEEP-Device/SecureFS/0x${TC_UUID//-/}/ta   -
$OTHER other 0x01/0x02 0x01/0x02
$*
TOKENS
	chmod 600 "$WORK/tokens"
}

# restart_with PLUGIN_LINES [MORE_SECTIONS]
restart_with() {
	CONF_EXTRA="[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens
$1

${2:-}" write_conf "http://127.0.0.1:$TAM_PORT/tam"
	start_broker
}

write_tokens
restart_with ""
grep -q "plugin auth: 3 app(s), 3 token(s) from .*; apps without a token: refused (401)" \
	"$WORK/broker.log" || fail "the plugin did not load"

# 1. No token, an unknown token: HTTP 401, the websocket never opens.
UA_TIMEOUT=10 ua request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "refused the handshake: HTTP 401, not authorized (no --token)" \
	"$WORK/ua.out" || fail "no token: exit $rc: $(cat "$WORK/ua.out")"
UA_TIMEOUT=10 ua --token "unknown-token-0123456789" request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401, not authorized (the token is not accepted)" "$WORK/ua.out" ||
	fail "unknown token: exit $rc: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "counters: conns 0 accepted" "$WORK/counters.out" &&
	grep -q "plugins: handshakes refused 2 unauthorized 0 forbidden 0 bad request; opened 0 " \
		"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
grep -q "app 127.0.0.1: not authenticated by plugin auth: no bearer token" "$WORK/broker.log" ||
	fail "refusal not logged"
grep -q "$NAV\|unknown-token" "$WORK/broker.log" && fail "a token was logged"
[ -d "$(tc_dir "$TC_UUID")" ] && fail "installed without a token"
pass "no token and an unknown token: HTTP 401 before the websocket opens"

# 2. A good token installs; the app is known by its identity.
ua --token "$NAV" request-ta "$TC_UUID" || fail "nav: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "nav: $(cat "$WORK/ua.out")"
[ -d "$(tc_dir "$TC_UUID")" ] || fail "nav: not installed"
grep -q "request-ta TEEP-Device/SecureFS/0x${TC_UUID//-/}/ta on tee sim for nav$" \
	"$WORK/broker.log" || fail "the session does not name the app"
pass "a good token installs; the broker and the TEE know the app as nav"

# 3. The lists: other may not request this component, ro may request it but
# not unrequest it, nav may unrequest it. The token also comes from a file.
UA_TIMEOUT=10 ua --token "$OTHER" request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 15 forbidden: app other may not request this component" \
	"$WORK/ua.out" || fail "other: exit $rc: $(cat "$WORK/ua.out")"
ua --token "$RO" request-ta "$TC_UUID" && grep -q "done: no-change" "$WORK/ua.out" ||
	fail "ro request: $(cat "$WORK/ua.out")"
UA_TIMEOUT=10 ua --token "$RO" unrequest-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 15 forbidden: app ro may not unrequest this component" \
	"$WORK/ua.out" || fail "ro unrequest: exit $rc: $(cat "$WORK/ua.out")"
[ -d "$(tc_dir "$TC_UUID")" ] || fail "removed by an app that may not"
printf '%s\n' "$NAV" >"$WORK/nav.token"
ua --token-file "$WORK/nav.token" unrequest-ta "$TC_UUID" ||
	fail "nav unrequest: $(cat "$WORK/ua.out")"
grep -q "done: removed" "$WORK/ua.out" || fail "nav unrequest: $(cat "$WORK/ua.out")"
[ -d "$(tc_dir "$TC_UUID")" ] && fail "nav: still installed"
ua --token "$OTHER" policy-check || fail "other policy-check: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "opened 6 authenticated 0 anonymous; requests forbidden 2$" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
grep -q "app 127.0.0.1 as ro: request 1 refused by plugin auth: app ro may not unrequest" \
	"$WORK/broker.log" || fail "refusal not logged"
pass "request-ta and unrequest-ta outside the app's lists: forbidden; inside: served"
stop_broker

# 4. Scored: refused handshakes and forbidden requests add up to a ban.
restart_with "" "[ban]
allow = none
threshold = 30
half_life = 100h
weight_unauthorized = 10
weight_forbidden = 10
ban_time = 2s
ban_time_max = 2s"
UA_TIMEOUT=10 ua request-ta "$TC_UUID"
UA_TIMEOUT=10 ua --token "unknown-token-0123456789" request-ta "$TC_UUID"
UA_TIMEOUT=10 ua --token "$OTHER" request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 15 forbidden" "$WORK/ua.out" ||
	fail "the banning request has its answer: exit $rc: $(cat "$WORK/ua.out")"
grep -q "banning 127.0.0.1 for 2 s: score 30 reached threshold 30 (last: forbidden request)" \
	"$WORK/broker.log" || fail "no ban: $(grep -i ban "$WORK/broker.log")"
UA_TIMEOUT=10 ua --token "$NAV" request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "cannot connect" "$WORK/ua.out" ||
	fail "banned, yet: exit $rc: $(cat "$WORK/ua.out")"
pass "two refused handshakes and a forbidden request ban the address"
stop_broker

# 5. Anonymous apps: without a token, served with the rights of the "-" line
# (request the component, nothing else). A token that is presented must be
# known all the same: an unknown or malformed one is refused.
write_tokens "-  -  $TC_UUID  -"
restart_with "anonymous = yes" "[limit:apps]
applies_to = messages
key = app
rate = 20r/m
nodelay = yes"
grep -q "apps without a token: served with the rights of the \"-\" line" "$WORK/broker.log" ||
	fail "anonymous mode not logged"
UA_TIMEOUT=10 ua --token "unknown-token-0123456789" request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401, not authorized (the token is not accepted)" "$WORK/ua.out" ||
	fail "unknown token, anonymous = yes: exit $rc: $(cat "$WORK/ua.out")"
UA_TIMEOUT=10 ua --token "malformed!token-0123456789" request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401, not authorized (the token is not accepted)" "$WORK/ua.out" ||
	fail "malformed token, anonymous = yes: exit $rc: $(cat "$WORK/ua.out")"
[ "$(grep -c "not authenticated by plugin auth: unknown or malformed bearer token" \
	"$WORK/broker.log")" = 2 ] || fail "the refusals are not logged"
[ -d "$(tc_dir "$TC_UUID")" ] && fail "installed with a wrong token"
pass "anonymous = yes: an unknown or a malformed token is refused (401), not served"
ua request-ta "$TC_UUID" && grep -q "done: installed" "$WORK/ua.out" ||
	fail "anonymous request: $(cat "$WORK/ua.out")"
grep -q "request-ta .* on tee sim for 127.0.0.1$" "$WORK/broker.log" ||
	fail "an anonymous app is known by its address"
pass "without a token, the \"-\" line's rights: request-ta served"

# 6. key = app: every app has its own bucket (one frame per 3 s here), and
# anonymous apps share their address's.
UA_TIMEOUT=10 ua unrequest-ta "$TC_UUID"; rc=$?
[ $rc = 4 ] && grep -q "busy: retry after 3003 ms (rate limited)" "$WORK/ua.out" ||
	fail "second anonymous frame: exit $rc: $(cat "$WORK/ua.out")"
ua --token "$NAV" request-ta "$TC_UUID" && grep -q "done: no-change" "$WORK/ua.out" ||
	fail "nav, first frame: $(cat "$WORK/ua.out")"
ua --token "$RO" request-ta "$TC_UUID" && grep -q "done: no-change" "$WORK/ua.out" ||
	fail "ro, first frame: $(cat "$WORK/ua.out")"
UA_TIMEOUT=10 ua --token "$NAV" request-ta "$TC_UUID"; rc=$?
[ $rc = 4 ] && grep -q "busy: retry after 3003 ms (rate limited)" "$WORK/ua.out" ||
	fail "nav, second frame: exit $rc: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "limit apps: passed 3 delayed 0 rejected 2;.* keys 3$" "$WORK/counters.out" ||
	fail "zone counters: $(cat "$WORK/counters.out")"
pass "key = app: nav and ro have a bucket each, anonymous apps share their address's"

# What an app is told to do: wait retry-after, then send again. This sleep is
# the behaviour under test, not a wait for readiness.
sleep 3.003
UA_TIMEOUT=10 ua unrequest-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 15 forbidden: apps without a token may not unrequest this" \
	"$WORK/ua.out" || fail "anonymous unrequest: exit $rc: $(cat "$WORK/ua.out")"
[ -d "$(tc_dir "$TC_UUID")" ] || fail "removed by an anonymous app"
broker_counters >"$WORK/counters.out"
grep -q "opened 3 authenticated 3 anonymous; requests forbidden 1$" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
pass "without a token, unrequest-ta is forbidden (not in the \"-\" line)"
stop_broker
