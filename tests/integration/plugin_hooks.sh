#!/bin/bash
# The plugin ABI from a plugin's side, with a tracing plugin that logs every
# hook: options reach init(); hooks see the connection's address, path and
# headers during the handshake and its identity afterwards (from a plugin
# after it in the chain); a refusal in app_connect answers HTTP 403; a
# refused request gets the plugin's reason, made printable; a header too
# long for the plugins answers 400; bans are notified.
. "$(dirname "$0")/lib.sh"
TRACE_SO="$top_builddir/tests/unit/.libs/plg_trace.so"
AUTH_SO="$top_builddir/.libs/auth-token.so"
NAV=nav-token-0123456789abcdef
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
printf '%s nav * *\n' "$NAV" >"$WORK/tokens"
chmod 600 "$WORK/tokens"

# restart_with TRACE_LINES [MORE_SECTIONS]
restart_with() {
	CONF_EXTRA="[plugin:trace]
path = $TRACE_SO
colour = blue
$1

[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens

${2:-}" write_conf "http://127.0.0.1:$TAM_PORT/tam"
	start_broker
}

restart_with ""
grep -q "plugin trace: trace: option colour = blue" "$WORK/broker.log" ||
	fail "options: $(grep trace "$WORK/broker.log")"
"$UA" --url "${URL}apps/nav?x=1" --token "$NAV" --origin 127.0.0.1 request-ta "$TC_UUID" >"$WORK/ua.out" 2>&1 ||
	fail "nav: $(cat "$WORK/ua.out")"
stop_broker
for line in \
	"trace: app_connect id 1 address 127.0.0.1 path /apps/nav origin http://127.0.0.1 identity -" \
	"trace: authenticate id 1 authorization present identity_len 65" \
	"trace: app_op id 1 identity nav kind 1 request 1 segments 4 tee sim path -" \
	"trace: app_close id 1 identity nav" \
	"trace: fini"; do
	grep -q "plugin trace: $line$" "$WORK/broker.log" ||
		fail "missing '$line': $(grep "trace:" "$WORK/broker.log")"
done
pass "every hook called once, in order, with the connection's details"

# A refusal in app_connect: 403, authenticate is not asked, nothing opens.
restart_with "refuse = connect" "[ban]
allow = none
threshold = 10
weight_unauthorized = 10
ban_time = 2s
ban_time_max = 2s"
UA_TIMEOUT=10 ua --token "$NAV" request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "refused the handshake: HTTP 403" "$WORK/ua.out" ||
	fail "refused connect: exit $rc: $(cat "$WORK/ua.out")"
grep -q "app 127.0.0.1: refused by plugin trace: the trace plugin refuses every app" \
	"$WORK/broker.log" || fail "refusal not logged"
grep -q "trace: authenticate" "$WORK/broker.log" && fail "authenticate asked after a refusal"
grep -q "plugin trace: trace: ban address 127.0.0.1 duration 2000 ms score 10 threshold 10 reason refused handshake$" \
	"$WORK/broker.log" || fail "ban not notified: $(grep "trace:" "$WORK/broker.log")"
broker_counters >"$WORK/counters.out"
grep -q "plugins: handshakes refused 0 unauthorized 1 forbidden 0 bad request; opened 0 " \
	"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
pass "app_connect refuses: HTTP 403, scored, and the ban is notified to plugins"
stop_broker

# A refused policy-check: the plugin's reason, control characters replaced.
# A path too long for the plugins: 400.
restart_with "refuse = policy-check"
UA_TIMEOUT=10 ua --token "$NAV" policy-check; rc=$?
[ $rc = 1 ] && grep -q "^error 15 forbidden: no policy checks?today?$" "$WORK/ua.out" ||
	fail "refused policy-check: exit $rc: $(cat "$WORK/ua.out")"
long=$(printf 'p%.0s' $(seq 1 300))
UA_TIMEOUT=10 "$UA" --url "$URL$long" --token "$NAV" policy-check >"$WORK/ua.out" 2>&1; rc=$?
[ $rc = 3 ] && grep -q "refused the handshake: HTTP 400" "$WORK/ua.out" ||
	fail "long path: exit $rc: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "handshakes refused 0 unauthorized 0 forbidden 1 bad request; opened 1 authenticated 0 anonymous; requests forbidden 1$" \
	"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
pass "a refused request carries the plugin's reason; a header too long: HTTP 400"
stop_broker

# Plugin ABI 1.1 host services. close_address: the app's connection closes
# and it may connect again; ban_address: banned as at the threshold, the
# ban hooks are told, a new connection is refused.
restart_with "on_op = close"
UA_TIMEOUT=10 ua --token "$NAV" policy-check
grep -q "plugin trace: trace: close_address 127.0.0.1: 1$" "$WORK/broker.log" ||
	fail "close_address: $(grep "trace:" "$WORK/broker.log")"
wait_line "$WORK/broker.log" "trace: app_close id 1" 10 || fail "close_address: not closed"
UA_TIMEOUT=10 ua --token "$NAV" policy-check
grep -q "trace: app_op id 2 " "$WORK/broker.log" || fail "close_address: no new connection"
stop_broker
pass "a plugin closes an address's connections (host->close_address)"
restart_with "on_op = ban" "[ban]
allow = none
threshold = 10
ban_time = 30s"
UA_TIMEOUT=10 ua --token "$NAV" policy-check
grep -q "plugin trace: trace: ban_address 127.0.0.1: 0$" "$WORK/broker.log" ||
	fail "ban_address: $(grep "trace:" "$WORK/broker.log")"
grep -q "plugin trace: trace: ban address 127.0.0.1 duration 30000 ms score 10 threshold 10 reason plugin trace: trace bans on app_op$" \
	"$WORK/broker.log" || fail "ban_address: not notified: $(grep "trace:" "$WORK/broker.log")"
UA_TIMEOUT=10 ua --token "$NAV" policy-check; rc=$?
[ $rc = 3 ] || fail "ban_address: a banned address connected again: exit $rc $(cat "$WORK/ua.out")"
stop_broker
pass "a plugin bans an address (host->ban_address): notified, refused afterwards"
