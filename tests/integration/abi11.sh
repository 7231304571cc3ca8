#!/bin/bash
# Driver ABI 1.1 through the real daemon, with the fake 1.1 driver
# (tests/unit/fake_driver11.c): a temporary failure reaches the app as busy
# with the driver's retry hint, a reason as the error's detail, a TEE reported
# down is answered at once, max_concurrency = 2 runs two calls at once,
# every call carries its deadline, an app that leaves cancels its call (or
# has it dropped before the driver sees it), a session returned with an error
# is closed once, and a 1.0 driver still serves.
. "$(dirname "$0")/lib.sh"
FAKE="$top_builddir/tests/unit/.libs"
UUID=11111111-2222-3333-4444-555555555555
UUID2=66666666-7777-8888-9999-aaaaaaaaaaaa

# run_with SO [option lines...]: a broker on that driver
run_with() {
	local so=$1
	shift
	DRIVER_SECTION="[driver:f]
path = $FAKE/$so
$(printf '%s\n' "$@")" write_conf "${TAM_URI:-http://127.0.0.1:9/tam}"
	start_broker
}

# app NAME [COMPONENT]: one request-ta, JSON answers in $WORK/NAME.out (two
# apps asking for the same component would share one exchange)
app() {
	"$UA" --url "$URL" --timeout "${UA_TIMEOUT:-30}" --json request-ta "${2:-$UUID}" \
		>"$WORK/$1.out" 2>&1
}

ms() { date +%s%3N; }

# A temporary failure: busy, with the driver's retry hint and reason.
run_with drv11.so "fail_with = temporary"
app t
grep -q '"event":"busy".*"reason":"fake TEE full","retry-after":2500' "$WORK/t.out" ||
	fail "temporary: $(cat "$WORK/t.out")"
grep -q "call failed (status -11): fake TEE full (temporary)" "$WORK/broker.log" ||
	fail "temporary: not logged"
stop_broker
pass "a temporary failure reaches the app as busy, retry-after 2500"

# A permanent failure: tee-failed, the reason in detail.
run_with drv11.so "fail_with = permanent"
app p
grep -q '"event":"error","code":5,"name":"tee-failed".*"detail":"fake TEE exploded"' "$WORK/p.out" ||
	fail "permanent: $(cat "$WORK/p.out")"
stop_broker
pass "a permanent failure's reason reaches the app's detail"

# Down: answered at once (the call would take 5 s), never reaching the driver;
# an app acting as a TAM (an [app-tam:nav] identity) too.
NAV=nav-token-0123456789abcdef
printf '%s\tnav\t-\t-\n-\t-\t%s\t-\n' "$NAV" "$UUID" >"$WORK/tokens"
chmod 600 "$WORK/tokens"
"$TOOL" keygen "$WORK/apptam.pem" "$WORK/apptam_pub.pem" >/dev/null || fail "keygen apptam"
"$TOOL" keygen "$WORK/agent.pem" "$WORK/agent_pub.pem" >/dev/null || fail "keygen agent"
mkdir -p "$WORK/catalog"
CONF_EXTRA="[admin]
enabled = yes
port = 0
port_file = $WORK/admin.port

[plugin:auth]
path = $top_builddir/.libs/auth-token.so
token_file = $WORK/tokens
anonymous = yes

[app-tam:nav]
key = $WORK/apptam_pub.pem
tee = f" run_with drv11.so "report_down = yes" "delay = 5000"
wait_line "$WORK/broker.log" "reports the TEE down: fake maintenance window" 10 ||
	fail "down: not logged"
# and the admin listener says so: /healthz 503 with the reason
wait_file "$WORK/admin.port" 10 || fail "down: no admin port_file"
exec 3<>"/dev/tcp/127.0.0.1/$(cat "$WORK/admin.port")" || fail "down: admin connect"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
timeout 10 cat <&3 >"$WORK/health.raw"
exec 3<&-
head -n1 "$WORK/health.raw" | grep -q "^HTTP/1.1 503" || fail "down: /healthz: $(cat "$WORK/health.raw")"
grep -q "f.*fake maintenance window" "$WORK/health.raw" ||
	fail "down: /healthz gives no reason: $(tr -d "\r" <"$WORK/health.raw")"
t0=$(ms)
app d
t1=$(ms)
grep -q '"event":"busy".*"reason":"TEE down: fake maintenance window","retry-after":5000' \
	"$WORK/d.out" || fail "down: $(cat "$WORK/d.out")"
[ $((t1 - t0)) -lt 3000 ] || fail "down: took $((t1 - t0)) ms"
grep -q "request_ta starts" "$WORK/broker.log" && fail "down: the driver was called"
# teep-tam as the app's TAM: its tam-session is answered busy (exit 4)
"$TAM_BIN" --via-broker "$URL" --token "$NAV" --tee f --key "$WORK/apptam.pem" \
	--agent-key "$WORK/agent_pub.pem" --catalog "$WORK/catalog" --timeout 10 \
	>"$WORK/apptam.out" 2>"$WORK/apptam.log"
rc=$?
[ $rc = 4 ] && grep -q "^busy 1 5000" "$WORK/apptam.out" ||
	fail "down: tam-session: exit $rc: $(cat "$WORK/apptam.out" "$WORK/apptam.log")"
grep -q "policy_check starts\|request_policy_check" "$WORK/broker.log" &&
	fail "down: the driver was called for the tam-session"
stop_broker
pass "a TEE reported down is answered busy at once ($((t1 - t0)) ms)"

# max_concurrency = 2: two apps' calls of 1 s each run at once.
run_with drv11.so "delay = 1000"
grep -q "ABI 1.1, 2 call(s) at once" "$WORK/broker.log" || fail "concurrency: not announced"
t0=$(ms)
app c1 &
p1=$!
app c2 $UUID2 &
p2=$!
wait $p1 || fail "app 1: $(cat "$WORK/c1.out")"
wait $p2 || fail "app 2: $(cat "$WORK/c2.out")"
t1=$(ms)
grep -q '"result":"no-change"' "$WORK/c1.out" || fail "app 1: $(cat "$WORK/c1.out")"
grep -q '"result":"no-change"' "$WORK/c2.out" || fail "app 2: $(cat "$WORK/c2.out")"
grep -q "tee f: 2 calls at once" "$WORK/broker.log" || fail "concurrency: never 2 at once"
# the deadline a call carries is the section's call_timeout (60 s) from now
grep -Eq "request_ta starts \(deadline in (59[0-9]{3}|60000) ms\)" "$WORK/broker.log" ||
	fail "deadline: $(grep 'starts' "$WORK/broker.log")"
stop_broker
pass "max_concurrency = 2: two 1 s calls took $((t1 - t0)) ms; each knew its deadline"

# The same driver declaring 1: one call at a time.
run_with drv11_serial.so "delay = 1000"
t0=$(ms)
app s1 &
p1=$!
app s2 $UUID2 &
p2=$!
wait $p1 || fail "serial app 1: $(cat "$WORK/s1.out")"
wait $p2 || fail "serial app 2: $(cat "$WORK/s2.out")"
t1=$(ms)
grep -q "calls at once" "$WORK/broker.log" && grep -q "2 calls at once" "$WORK/broker.log" &&
	fail "serial: 2 at once"
[ $((t1 - t0)) -ge 2000 ] || fail "serial: took only $((t1 - t0)) ms"
stop_broker
pass "max_concurrency = 1: the two calls took $((t1 - t0)) ms"

# Apps that leave: the running call is cancelled, the queued one is dropped
# before the driver sees it.
run_with drv11_serial.so "delay = 20000"
# (teep-ua itself in the background, for its pid)
"$UA" --url "$URL" --timeout 60 request-ta $UUID >"$WORK/l1.out" 2>&1 &
p1=$!
wait_line "$WORK/broker.log" "request_ta starts" 10 || fail "leave: first call did not start"
"$UA" --url "$URL" --timeout 60 request-ta $UUID2 >"$WORK/l2.out" 2>&1 &
p2=$!
wait_line "$WORK/broker.log" "session 2: .* starts on tee f" 10 || fail "leave: second not sent"
# the queued one's app first: were both to leave at once, the running call
# could end before the broker saw the second app go, and the driver would
# take the second call
kill -TERM $p2
wait $p2 2>/dev/null
wait_line "$WORK/broker.log" "session 2: its apps have gone: dropped before tee f took it" 10 ||
	fail "leave: the queued call was not dropped"
kill -TERM $p1
wait $p1 2>/dev/null
wait_line "$WORK/broker.log" "request_ta cancelled" 10 || fail "leave: the call was not cancelled"
wait_line "$WORK/broker.log" "session 1: its apps have gone: tee f call cancelled" 10 ||
	fail "leave: the broker did not say why the call ended"
grep -q "session 1: .* error: " "$WORK/broker.log" && fail "leave: a cancelled call logged as an error"
[ "$(grep -c 'request_ta starts' "$WORK/broker.log")" = 1 ] || fail "leave: the driver saw both"
stop_broker
pass "an app that leaves cancels its call; a call nobody waits for never reaches the driver"

# A session returned with an error: closed once (and its tam_uri freed: the
# sanitizer builds see a leak or a double close).
run_with drv11.so "error_session = yes"
app e
grep -q '"detail":"fake error with a session"' "$WORK/e.out" || fail "error session: $(cat "$WORK/e.out")"
wait_line "$WORK/broker.log" "tee f: session_close" 10 || fail "error session: not closed"
stop_broker
[ "$(grep -c 'session_close' "$WORK/broker.log")" = 1 ] || fail "error session: closed twice"
pass "a session returned with an error is closed once"

# process_teep_message setting tam_uri and a new session: the URI is freed
# (a leak under the sanitizer builds before), the session closed once,
# never used; the session of request_ta is closed too.
make_keys
start_tam
TAM_URI=http://127.0.0.1:$TAM_PORT/tam
run_with drv11.so "exchange_with = $TAM_URI"
app m
grep -q '"result":"no-change"' "$WORK/m.out" || fail "process: $(cat "$WORK/m.out")"
grep -q "process_teep_message ([1-9][0-9]* bytes)" "$WORK/broker.log" ||
	fail "process: the TAM's message did not reach the driver"
wait_line "$WORK/broker.log" "session_close" 10 || fail "process: no session closed"
stop_broker
[ "$(grep -c 'tee f: session_close' "$WORK/broker.log")" = 2 ] ||
	fail "process: $(grep -c 'session_close' "$WORK/broker.log") sessions closed, not 2"
pass "process_teep_message's tam_uri is freed and its new session closed"

# A driver built for ABI 1.0 still serves.
run_with drv_abi10.so
app old
grep -q '"result":"no-change"' "$WORK/old.out" || fail "1.0 driver: $(cat "$WORK/old.out")"
grep -q "ABI 1.0, 1 call(s) at once" "$WORK/broker.log" || fail "1.0 driver: not announced"
stop_broker
pass "a driver declaring ABI 1.0 loads and serves"

# The sim driver honours 1.1 cancellation in its call_delay: a call past its
# call_timeout stops at once rather than sleeping the rest of its 5 s.
DRIVER_SECTION="[driver:sim]
path = $SIM_SO
$(sim_options "$TAM_URI")
call_delay = 5s
call_timeout = 500ms" write_conf "$TAM_URI"
start_broker
t0=$(ms)
app slow
grep -q '"code":9,"name":"timeout"' "$WORK/slow.out" || fail "sim: $(cat "$WORK/slow.out")"
wait_line "$WORK/broker.log" "tee sim: call cancelled during call_delay" 10 ||
	fail "sim: the call was not cancelled"
t1=$(ms)
[ $((t1 - t0)) -lt 4000 ] || fail "sim: the call went on for $((t1 - t0)) ms"
stop_broker
pass "the sim's call_delay stops when its call is cancelled ($((t1 - t0)) ms)"
