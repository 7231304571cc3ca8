#!/bin/bash
# Configuration reload on SIGHUP: a new rate limit applies while apps stay
# connected and an exchange in flight completes; a change that needs a
# restart (the listener port) and an invalid file are refused with the
# problems named, the configuration in use kept whole; a token file change
# is picked up by the auth-token plugin, and a TAM added to allow_app_uris;
# SIGHUPs under load leave every request with exactly one final answer; and
# a message arriving across a reload that raised max_message_size is read
# whole.
. "$(dirname "$0")/lib.sh"
AUTH_SO="$top_builddir/.libs/auth-token.so"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam

# conf RATE BURST [DELAY] [MORE]: the configuration with one "messages"
# zone, the admin listener, and the sim TEE's calls taking DELAY (none
# when empty); MORE: more sections; TAM_LINES: more [tam] lines
conf() {
	BROKER_EXTRA="coalesce = no" LISTENER_EXTRA="refused_pause = 0
max_requests_per_connection = 64" CONF_EXTRA="[limit:msgs]
applies_to = messages
rate = $1
burst = $2
nodelay = yes

[admin]
enabled = yes
port = 0
port_file = $WORK/admin.port

${4:-}" write_conf "http://127.0.0.1:$TAM_PORT/tam" ${TAM_LINES:+"$TAM_LINES"}
	[ -n "${3:-}" ] && sed -i "/^\[driver:sim\]\$/a call_delay = $3" "$WORK/broker.conf"
	return 0
}

# metric NAME: its value (the first sample whose line starts with NAME)
metric() {
	exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT" || fail "admin listener"
	(printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3) \
		2>/dev/null
	timeout 10 cat <&3 >"$WORK/metrics.txt" 2>/dev/null
	exec 3<&-
	grep -F "$1" "$WORK/metrics.txt" | grep -v '^#' | head -n1 | awk '{ print $2 }'
}

# reload OUTCOME: SIGHUP, then wait for the next "reload of ... OUTCOME" line
reload() {
	local before
	before=$(grep -c "reload of .* $1" "$WORK/broker.log")
	kill -HUP "$BROKER_PID"
	local n=200
	while [ "$(grep -c "reload of .* $1" "$WORK/broker.log")" -le "$before" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || fail "no \"reload of ... $1\" line after SIGHUP"
		sleep 0.05
	done
}

# 1. Generous limit, three idle apps and one app mid-exchange (its TEE call
# takes 3 s); the limit is made tight under them.
conf 100r/s 100 3s
start_broker
wait_file "$WORK/admin.port" 10 || fail "no admin port"
ADMIN_PORT=$(cat "$WORK/admin.port")
"$BENCH" --url "$URL" --deadline 60 idle 3 40 >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!
PIDS="$PIDS $IDLE_PID"
wait_line "$WORK/idle.out" "idle: 3 up, 0 failed" 10 || fail "idle apps: $(cat "$WORK/idle.out")"
ua request-ta "$TC_UUID" &
UA_PID=$!
wait_line "$WORK/broker.log" "session 1: .*request-ta" 10 || fail "the exchange did not start"
conf 1r/m 0 3s
reload applied
grep -q "reload of $WORK/broker.conf applied (4 connection(s) and 1 exchange(s) kept" \
	"$WORK/broker.log" || fail "reload line: $(grep "reload" "$WORK/broker.log")"
wait_exit "$UA_PID" 20 || fail "the exchange in flight: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "the exchange in flight: $(cat "$WORK/ua.out")"
pass "an exchange in flight across the reload completed"
[ "$(metric teep_connections_open)" = 3 ] || fail "idle apps: $(grep connections_open \
	"$WORK/metrics.txt")"
pass "the idle apps are still connected"
# the new zone is empty: one frame passes, the next is refused
UA_TIMEOUT=20 ua policy-check || fail "first after reload: $(cat "$WORK/ua.out")"
UA_TIMEOUT=20 ua policy-check; rc=$?
[ $rc = 4 ] && grep -q "rate limited" "$WORK/ua.out" ||
	fail "the tight limit does not apply: exit $rc: $(cat "$WORK/ua.out")"
pass "the new limit applies after the reload"

# 2. A file that changes the listener port (and loosens the limit) is
# refused whole: the port is named with its line, the tight limit stays.
conf 100r/s 100 3s
sed -i '0,/^port = 0$/s//port = 8999/' "$WORK/broker.conf"
line=$(grep -n "^port = 8999$" "$WORK/broker.conf" | cut -d: -f1)
reload refused
grep -q "reload: $WORK/broker.conf:$line: \[listener\] port: 0 -> 8999: needs a restart" \
	"$WORK/broker.log" || fail "port not named: $(grep "reload" "$WORK/broker.log")"
grep -q "reload of $WORK/broker.conf refused: 1 problem(s) (needs a restart); the configuration in use stays" \
	"$WORK/broker.log" || fail "outcome: $(grep "reload" "$WORK/broker.log")"
UA_TIMEOUT=20 ua policy-check; rc=$?
[ $rc = 4 ] && grep -q "rate limited" "$WORK/ua.out" ||
	fail "the old limit is not kept: exit $rc: $(cat "$WORK/ua.out")"
[ "$(metric teep_connections_open)" = 3 ] || fail "idle apps after the refusal"
pass "a listener port change is refused, named on line $line; the old configuration stays"

# 3. An invalid file: every problem listed, nothing applied.
conf 100r/s 100 3s
sed -i 's/^rate = 100r\/s$/rate = fast/' "$WORK/broker.conf"
printf '[queue]\nmax_per_app = 0\nbogus = 1\n' >>"$WORK/broker.conf"
reload refused
grep -q "reload: $WORK/broker.conf:[0-9]*: \[limit:msgs\] rate:" "$WORK/broker.log" &&
	grep -q "reload: $WORK/broker.conf:[0-9]*: .*max_per_app" "$WORK/broker.log" &&
	grep -q "reload: $WORK/broker.conf:[0-9]*: unknown key \"bogus\"" "$WORK/broker.log" ||
	fail "problems not listed: $(grep "reload" "$WORK/broker.log")"
grep -q "reload of $WORK/broker.conf refused: [0-9]* problem(s) (invalid)" "$WORK/broker.log" ||
	fail "outcome: $(grep "reload" "$WORK/broker.log")"
UA_TIMEOUT=20 ua policy-check; rc=$?
[ $rc = 4 ] || fail "the old limit is not kept: exit $rc: $(cat "$WORK/ua.out")"
pass "an invalid file is refused with its problems listed"
[ "$(metric 'teep_config_reloads_total{outcome="ok"}')" = 1 ] &&
	[ "$(metric 'teep_config_reloads_total{outcome="refused"}')" = 2 ] ||
	fail "metrics: $(grep reloads "$WORK/metrics.txt")"
broker_counters | grep -q "reloads 1 ok 2 refused" || fail "counters"
pass "reloads counted: 1 ok, 2 refused"
kill "$IDLE_PID" 2>/dev/null
stop_broker

# 4. The auth-token plugin reads its token file again: a new token works,
# a removed one is refused (401).
OLD=old-token-0123456789abcdef
NEW=new-token-0123456789abcdef
printf '%s\tapp1\t%s\t-\n' "$OLD" "$TC_UUID" >"$WORK/tokens"
chmod 600 "$WORK/tokens"
AUTH="[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens"
conf 1000r/s 1000 "" "$AUTH"
start_broker
ADMIN_PORT=$(cat "$WORK/admin.port")
UA_TIMEOUT=10 ua --token "$NEW" policy-check; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401" "$WORK/ua.out" || fail "new token before: exit $rc"
printf '%s\tapp2\t%s\t-\n' "$NEW" "$TC_UUID" >"$WORK/tokens"
reload applied
UA_TIMEOUT=10 ua --token "$NEW" policy-check || fail "new token after: $(cat "$WORK/ua.out")"
UA_TIMEOUT=10 ua --token "$OLD" policy-check; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401" "$WORK/ua.out" || fail "old token after: exit $rc"
pass "a token file change is picked up: the new token works, the removed one gets 401"

# A token file the plugin cannot read refuses the reload; the table stays.
chmod 666 "$WORK/tokens"
reload refused
grep -q "reload: $WORK/broker.conf:[0-9]*: \[plugin:auth\]: the plugin refused its new options" \
	"$WORK/broker.log" || fail "plugin refusal: $(grep "reload" "$WORK/broker.log")"
chmod 600 "$WORK/tokens"
UA_TIMEOUT=10 ua --token "$NEW" policy-check || fail "after refusal: $(cat "$WORK/ua.out")"
pass "a token file the plugin refuses keeps the tokens in use"

# [tam] allow_app_uris: a TAM an app may suggest once the reload lists it
UA_TIMEOUT=10 ua --token "$NEW" --tam "http://127.0.0.1:$TAM_PORT/tam" policy-check; rc=$?
[ $rc = 1 ] && grep -q "^error 14 tam-not-allowed" "$WORK/ua.out" ||
	fail "hint before: exit $rc: $(cat "$WORK/ua.out")"
TAM_LINES="allow_app_uris = http://127.0.0.1:$TAM_PORT/tam" conf 1000r/s 1000 "" "$AUTH"
reload applied
UA_TIMEOUT=10 ua --token "$NEW" --tam "http://127.0.0.1:$TAM_PORT/tam" policy-check ||
	fail "hint after: $(cat "$WORK/ua.out")"
pass "a TAM added to allow_app_uris may be suggested after the reload"
stop_broker

# 5. Under load: 300 requests in a burst while the limit and the fair
# queue's bound change back and forth with 6 SIGHUPs; every request gets
# exactly one final answer.
conf 1000r/s 1000 "" "[queue]
max_per_app = 64"
start_broker
"$BENCH" --url "$URL" --deadline 60 --distinct burst 300 request-ta "$TC_UUID" \
	>"$WORK/burst.out" 2>&1 &
BURST_PID=$!
for i in 1 2 3 4 5 6; do
	if [ $((i % 2)) = 1 ]; then conf 500r/s 500 "" "[queue]
max_per_app = 32"; else conf 1000r/s 1000 "" "[queue]
max_per_app = 64"; fi
	reload applied
done
wait_exit "$BURST_PID" 90 ||
	fail "burst under reloads: $(cat "$WORK/burst.out")"
grep -q "burst: 300 sent, .* 0 without a final answer, 0 with more than one" \
	"$WORK/burst.out" || fail "burst: $(cat "$WORK/burst.out")"
[ "$(grep -c "reload of .* applied" "$WORK/broker.log")" = 6 ] || fail "not 6 reloads"
pass "300 requests under 6 reloads: one final answer each ($(tail -n1 "$WORK/burst.out"))"
stop_broker

# 6. A message in two fragments, the first received under max_message_size
# = 128, the second after a reload raised it to 4096: the buffer grows with
# the limit (it was sized at the first bytes) and the message is answered.
MAX_MESSAGE_SIZE=128 conf 1000r/s 1000
start_broker
exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT" || fail "cannot connect"
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: teep-broker.v1\r\n\r\n' >&3
read -r -t 5 status <&3 || fail "no handshake answer"
case "$status" in *101*) ;; *) fail "handshake: $status" ;; esac
# binary, not final, masked (key 0), 100 bytes
{ printf '\x02\xe4\x00\x00\x00\x00'; head -c 100 /dev/zero; } >&3
MAX_MESSAGE_SIZE=4096 conf 1000r/s 1000
reload applied
# continuation, final, masked, 1000 bytes: 1100 in all, over the old limit
{ printf '\x80\xfe\x03\xe8\x00\x00\x00\x00'; head -c 1000 /dev/zero; } >&3
ua policy-check || fail "after the fragments: $(cat "$WORK/ua.out")"
exec 3<&-
broker_counters >"$WORK/counters.out"
grep -q "frames 2 in 1 rejected" "$WORK/counters.out" ||
	fail "the message was not read whole: $(head -n1 "$WORK/counters.out")"
pass "a message arriving across a reload that raised max_message_size is read whole"
stop_broker

# 7. [driver:sim] call_timeout: a request after the reload has the new,
# shorter timeout (every call takes 3 s, and the sim does not stop at its
# deadline: the broker's timer answers; 20 s before, 1 s after)
conf 1000r/s 1000 3s
sed -i "/^\[driver:sim\]\$/a call_timeout = 20s\ncall_delay_stuck = yes" "$WORK/broker.conf"
start_broker
ua request-ta "$TC_UUID" || fail "before: $(cat "$WORK/ua.out")"
sed -i "s/^call_timeout = 20s\$/call_timeout = 1s/" "$WORK/broker.conf"
reload applied
ua policy-check && fail "after: the 3 s call did not time out: $(cat "$WORK/ua.out")"
grep -q "error 9 " "$WORK/ua.out" || fail "after: $(cat "$WORK/ua.out")"
pass "a shorter call_timeout applies to the requests after the reload"
stop_broker
