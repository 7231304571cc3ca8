#!/bin/bash
# Single flight: identical requests in flight share one TEE call and one TAM
# exchange. While the TAM is slow to open its session, N apps ask for the
# same component and one more gives up early: the TAM sees one session and
# every app that stayed gets "done: installed". Over [broker] max_waiters the
# apps get "busy" with a retry-after; over [tam] max_sessions a request waits
# in its TEE's fair queue. Identical policy checks share one exchange too.
. "$(dirname "$0")/lib.sh"
N=6
A=11111111-2222-3333-4444-555555555555
B=66666666-7777-8888-9999-aaaaaaaaaaaa
C=cccccccc-dddd-eeee-ffff-000000000000
# the TAM answers each new session this late: every app must have joined by
# then (a broker under valgrind is slower to take them)
DELAY=3s
[ -n "$BROKER_WRAP" ] && DELAY=8s
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
add_component $A "component A"
add_component $B "component B"
add_component $C "component C"
start_tam --connect-delay "$DELAY"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

# wait_counters PATTERN: until the broker's counters match (10 s at most)
wait_counters() {
	for _ in $(seq 1 100); do
		broker_counters | grep -q -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
sessions() { grep -c -- "-> QueryRequest" "$WORK/tam.log"; }

# 1. N apps, and one that leaves before the end (--timeout 1)
pids=""
for i in $(seq 1 $N); do
	"$UA" --url "$URL" --timeout 60 request-ta "$TC_UUID" >"$WORK/app$i.out" 2>&1 &
	pids="$pids $!"
done
"$UA" --url "$URL" --timeout 1 request-ta "$TC_UUID" >"$WORK/leaver.out" 2>&1 &
leaver=$!
wait_counters "requests $((N + 1));.* coalesced $N," ||
	fail "not one exchange for all: $(broker_counters | head -1)"
wait "$leaver"; rc=$?
[ $rc = 5 ] || fail "the app that gives up: exit $rc: $(cat "$WORK/leaver.out")"
i=0
for p in $pids; do
	i=$((i + 1))
	wait "$p" || fail "app $i exited $?: $(cat "$WORK/app$i.out")"
	grep -q "^done: installed" "$WORK/app$i.out" || fail "app $i: $(cat "$WORK/app$i.out")"
done
[ "$(cat "$WORK"/app*.out "$WORK/leaver.out" | grep -c "progress joined sim")" = $N ] ||
	fail "not $N joined: $(cat "$WORK"/app*.out)"
[ "$(sessions)" = 1 ] || fail "the TAM saw $(sessions) sessions, not 1"
[ "$(cat "$(tc_dir "$TC_UUID")/image")" = "Hello, Secure World!" ] || fail "not in the TEE"
broker_counters >"$WORK/counters.out"
# the answer of the app that left went to nobody: dropped, not done
grep -q "answers $N done 0 error 0 busy;.* tam posts 3 failures 0;.* answers dropped 1 (app gone)$" \
	"$WORK/counters.out" || fail "counters: $(cat "$WORK/counters.out")"
grep -q "session .*: request-ta done: installed after [0-9]* ms, for $((N + 1)) request(s)" \
	"$WORK/broker.log" || fail "no single outcome logged"
pass "$((N + 1)) identical requests: one TAM session, $N apps installed, the one that left broke nothing"

# a request after the outcome starts afresh (nothing to join)
ua request-ta "$TC_UUID" || fail "afterwards: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" || fail "afterwards: $(cat "$WORK/ua.out")"
! grep -q "progress joined" "$WORK/ua.out" || fail "joined a finished exchange"
pass "a later identical request runs on its own"
stop_broker

# 2. Bounds: 2 requests may share an exchange; 1 exchange with the TAM at once.
BROKER_EXTRA="max_waiters = 2" write_conf "http://127.0.0.1:$TAM_PORT/tam" "max_sessions = 1"
start_broker
"$BENCH" --url "$URL" --deadline 60 burst 3 request-ta $A >"$WORK/burst.out" 2>&1 &
bench=$!
PIDS="$PIDS $bench"
wait_counters "coalesced 1, busy sessions 0 waiters 1;" ||
	fail "max_waiters: $(broker_counters | head -1)"
# a different component needs an exchange of its own: over max_sessions it
# waits in the TEE's fair queue and starts once the first exchange is over
UA_TIMEOUT=30 ua request-ta $B || fail "max_sessions: B: $(cat "$WORK/ua.out")"
grep -q "^done: " "$WORK/ua.out" || fail "max_sessions: B not done: $(cat "$WORK/ua.out")"
wait "$bench" || fail "burst: not one final answer each: $(cat "$WORK/burst.out")"
[ "$(grep -c "^answer id .* done installed" "$WORK/burst.out")" = 2 ] &&
	[ "$(grep -c "^answer id .* busy retry-after 1000 " "$WORK/burst.out")" = 1 ] ||
	fail "burst: $(cat "$WORK/burst.out")"
# B started only after A's exchange ended: one exchange with the TAM at once
a_sess=$(grep "0x11111111222233334444555555555555/ta starts on tee" "$WORK/broker.log" | head -1 |
	sed 's/.*session \([0-9]*\):.*/\1/')
a_end=$(grep -n "session $a_sess: request-ta done" "$WORK/broker.log" | head -1 | cut -d: -f1)
b_start=$(grep -n "0x66666666777788889999aaaaaaaaaaaa/ta starts on tee" "$WORK/broker.log" |
	head -1 | cut -d: -f1)
[ -n "$a_end" ] && [ -n "$b_start" ] && [ "$b_start" -gt "$a_end" ] ||
	fail "max_sessions 1: B started at line $b_start, A ended at line $a_end"
broker_counters | grep -q "coalesced 1, busy sessions 0 waiters 1;" ||
	fail "counters: $(broker_counters | head -1)"
pass "max_waiters 2: the third identical request busy; max_sessions 1: another component waits its turn"
stop_broker

# 3. Policy checks of one TEE share an exchange.
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
before=$(sessions)
pids=""
for i in 1 2 3; do
	"$UA" --url "$URL" --timeout 60 policy-check >"$WORK/pc$i.out" 2>&1 &
	pids="$pids $!"
done
wait_counters "coalesced 2," || fail "policy checks: $(broker_counters | head -1)"
i=0
for p in $pids; do
	i=$((i + 1))
	wait "$p" || fail "policy check $i exited $?: $(cat "$WORK/pc$i.out")"
	grep -q "^done: completed" "$WORK/pc$i.out" || fail "policy check $i: $(cat "$WORK/pc$i.out")"
done
[ $(($(sessions) - before)) = 1 ] || fail "$(($(sessions) - before)) TAM sessions for 3 checks"
pass "3 policy checks at once: one exchange, 3 answers"
stop_broker

# 4. The broker stops while requests wait on an exchange: once the grace
# period is over, each gets its one answer, "shutdown".
SHUTDOWN_GRACE=1s write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
"$BENCH" --url "$URL" --deadline 60 burst 3 request-ta $C >"$WORK/burst.out" 2>&1 &
bench=$!
PIDS="$PIDS $bench"
wait_counters "coalesced 2," || fail "stop: $(broker_counters | head -1)"
stop_broker
wait "$bench" || fail "stop: not one final answer each: $(cat "$WORK/burst.out")"
[ "$(grep -c "^answer id [123] error 10 " "$WORK/burst.out")" = 3 ] ||
	fail "stop: $(cat "$WORK/burst.out")"
pass "stopping: the 3 requests sharing an exchange each answered once, shutdown"
