#!/bin/bash
# max_connections_per_ip: connections beyond it from one address are refused
# at accept time, before the websocket handshake; closing one makes room.
. "$(dirname "$0")/lib.sh"
LISTENER_EXTRA="max_connections_per_ip = 3" standard_setup

"$BENCH" --url "$URL" --deadline 120 idle 3 100 >"$WORK/idle.out" 2>&1 &
bench_pid=$!
PIDS="$PIDS $bench_pid"
wait_line "$WORK/idle.out" "^idle: 3 up, 0 failed" 20 ||
	fail "three idle connections did not come up: $(cat "$WORK/idle.out")"
pass "three connections from 127.0.0.1 open"

UA_TIMEOUT=10 ua request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] || fail "a 4th connection: expected exit 3 (refused), got $rc: $(cat "$WORK/ua.out")"
# refused before the handshake: the client never saw a websocket
grep -q "cannot connect" "$WORK/ua.out" || fail "not refused at connect: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "conns 3 accepted, refused 0 stopping 0 global 1 per-ip 0 banned" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
grep -q "addresses with open connections: 1" "$WORK/counters.out" ||
	fail "per-address table: $(cat "$WORK/counters.out")"
kill -0 "$bench_pid" || fail "the idle connections did not stay"
pass "a 4th connection refused before the handshake, counted as per-ip"

# the three close: their counts are given back
kill -TERM "$bench_pid"
wait "$bench_pid" 2>/dev/null
ok=0
for _ in $(seq 1 100); do
	UA_TIMEOUT=10 ua request-ta "$TC_UUID" && { ok=1; break; }
	[ $? = 3 ] || fail "after the idle connections closed: $(cat "$WORK/ua.out")"
	sleep 0.1
done
[ $ok = 1 ] || fail "still refused after the idle connections closed: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "install: $(cat "$WORK/ua.out")"
pass "room again once they closed: the component is installed"
