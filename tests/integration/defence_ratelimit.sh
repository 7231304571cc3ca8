#!/bin/bash
# [limit:NAME] zones, per peer address: a "messages" zone with nodelay answers
# "busy" above its burst, for every connection of the address, until the
# retry-after it announced has passed; a "tee-calls" zone without nodelay
# serves every request, late; a dry-run zone changes nothing; a request held
# back when the broker stops gets its one answer, "shutdown".
. "$(dirname "$0")/lib.sh"
standard_setup
ua request-ta "$TC_UUID" || fail "first install: $(cat "$WORK/ua.out")"
stop_broker
# Every request below ends with "no-change" in the sim TEE, without the TAM.

# restart_with CONF_EXTRA: the broker again, with these sections. The
# requests below are identical: without coalesce = no they would share one
# TEE call, which no "tee-calls" zone charges.
restart_with() {
	# refused_pause = 0: every frame of a burst is read at once, so the
	# bucket's state after it does not depend on how long the burst took
	BROKER_EXTRA="coalesce = no" LISTENER_EXTRA="max_requests_per_connection = 64
refused_pause = 0" \
		CONF_EXTRA="$1" write_conf "http://127.0.0.1:$TAM_PORT/tam"
	start_broker
}

# 1. 20r/m, burst 3, nodelay: 4 requests pass at once, the rest of the burst
# is refused; retry-after is the time one request takes to drain,
# 1000000 / 333 (20r/m in thousandths of r/s) = 3003 ms.
restart_with "[limit:messages]
applies_to = messages
rate = 20r/m
burst = 3
nodelay = yes"
"$BENCH" --url "$URL" --deadline 60 burst 12 request-ta "$TC_UUID" >"$WORK/burst.out" 2>&1 ||
	fail "burst: not one final answer per request: $(cat "$WORK/burst.out")"
done=$(grep -c "^answer id .* done" "$WORK/burst.out")
busy=$(grep -c "^answer id .* busy" "$WORK/burst.out")
[ "$done" -ge 4 ] && [ "$busy" -ge 1 ] && [ $((done + busy)) = 12 ] ||
	fail "burst: $done done, $busy busy: $(cat "$WORK/burst.out")"
[ "$(grep "^answer id .* busy" "$WORK/burst.out" | grep -vc "retry-after 3003 ")" = 0 ] ||
	fail "burst: retry-after: $(cat "$WORK/burst.out")"
pass "burst of 12: $done served, $busy busy with retry-after 3003 ms"

# Another connection from the same address shares its bucket.
UA_TIMEOUT=10 ua request-ta "$TC_UUID"; rc=$?
[ $rc = 4 ] && grep -q "busy: retry after 3003 ms (rate limited)" "$WORK/ua.out" ||
	fail "second connection: exit $rc: $(cat "$WORK/ua.out")"
pass "a second connection from 127.0.0.1 is limited too"

# What an app is told to do: wait retry-after, then send again. This sleep is
# the behaviour under test, not a wait for readiness.
sleep 3.003
ua request-ta "$TC_UUID" || fail "after retry-after: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" || fail "after retry-after: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "rate limited $((busy + 1)) delayed 0 dry-run 0;" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
grep -q "limit messages: passed $((done + 1)) delayed 0 rejected $((busy + 1));" \
	"$WORK/counters.out" || fail "zone counters: $(cat "$WORK/counters.out")"
pass "served after waiting retry-after"
stop_broker

# 2. tee-calls at 5r/s, burst 10, delay 0: every request above the rate waits
# its turn, 200 ms apart, and none is refused. The dry-run zone would refuse
# most frames, and does not.
restart_with "[limit:calls]
applies_to = tee-calls
rate = 5r/s
burst = 10

[limit:watch]
applies_to = messages
rate = 1r/s
dry_run = yes"
"$BENCH" --url "$URL" --deadline 60 burst 8 request-ta "$TC_UUID" >"$WORK/burst.out" 2>&1 ||
	fail "delayed burst: not one final answer per request: $(cat "$WORK/burst.out")"
[ "$(grep -c "^answer id .* done" "$WORK/burst.out")" = 8 ] ||
	fail "delayed burst: not all served: $(cat "$WORK/burst.out")"
last=$(grep "^answer id 8 done" "$WORK/burst.out" | sed 's/.* after \([0-9]*\) ms/\1/')
[ -n "$last" ] && [ "$last" -ge 1000 ] ||
	fail "delayed burst: the 8th request was served after ${last:-?} ms, not >= 1000 (7 x 200 ms)"
broker_counters >"$WORK/counters.out"
# (a request read after its turn came is not delayed: a slow machine may
# see fewer than 7 delays)
grep -q "rate limited 0 delayed [1-7] dry-run [1-7];" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
grep -q "limit watch: passed [1-8] delayed 0 rejected 0; dry run rejected [1-7] " \
	"$WORK/counters.out" || fail "dry-run zone: $(cat "$WORK/counters.out")"
grep -q "limit watch (dry run) would have refused this frame" "$WORK/broker.log" ||
	fail "dry run not logged"
pass "8 requests at 5r/s: all served, the last after $last ms; the dry run only counted"
stop_broker

# 3. A request held back (1r/m: the 2nd waits a minute) when the broker stops.
restart_with "[limit:slow]
applies_to = tee-calls
rate = 1r/m
burst = 5"
"$BENCH" --url "$URL" --deadline 60 burst 2 request-ta "$TC_UUID" >"$WORK/burst.out" 2>&1 &
bench_pid=$!
PIDS="$PIDS $bench_pid"
wait_line "$WORK/burst.out" "^answer id 1 done" 20 || fail "first request: $(cat "$WORK/burst.out")"
held=0
for _ in $(seq 1 100); do
	broker_counters | grep -q "rate limited 0 delayed 1 " && { held=1; break; }
	sleep 0.1
done
[ $held = 1 ] || fail "the second request was not held back"
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 20 || fail "broker exit status $?"
wait_exit "$bench_pid" 20 || fail "burst: $(cat "$WORK/burst.out")"
grep -q "^answer id 2 error 10 " "$WORK/burst.out" ||
	fail "held request at shutdown: $(cat "$WORK/burst.out")"
pass "a held request answered 'shutdown' when the broker stops"
