#!/bin/bash
# Fair queueing in front of a TEE: one app queues ten requests for a slow
# TEE (the sim driver sleeps 150 ms in every call, one first call at a
# time), then another app asks once. Deficit Round Robin starts the second
# app's request within one round of the first app's, not behind its
# backlog (first come, first served would start eight or nine of the
# flood's first). Every request of both apps still gets its one answer.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
LISTENER_EXTRA="max_requests_per_connection = 16"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
cat >>"$WORK/broker.conf" <<CONF
call_delay = 150ms
max_in_flight = 1

[queue]
max_per_app = 12
CONF
start_broker

"$BENCH" --url "$URL" --deadline 60 --distinct burst 10 request-ta TEEP-Device/SecureFS/flood \
	>"$WORK/flood.out" 2>&1 &
FLOOD=$!
PIDS="$PIDS $FLOOD"
wait_line "$WORK/broker.log" "flood-2 starts on tee" 20 || fail "the flood did not start"
ua request-ta "$TC_UUID" || fail "polite request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "^done: installed" "$WORK/ua.out" || fail "polite app not served: $(cat "$WORK/ua.out")"
wait_exit "$FLOOD" 60 || fail "the flood's answers did not all come: $(tail -3 "$WORK/flood.out")"
[ "$(grep -c "^answer id .* done" "$WORK/flood.out")" = 10 ] ||
	fail "the flood's requests were not all answered done: $(cat "$WORK/flood.out")"

# the flood's first calls between the polite request's arrival and its start
enq=$(grep -n "request-ta TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/ta on tee" \
	"$WORK/broker.log" | head -1 | cut -d: -f1)
start=$(grep -n "0x8d82573a926d4754935332dc29997f74/ta starts on tee" "$WORK/broker.log" |
	head -1 | cut -d: -f1)
[ -n "$enq" ] && [ -n "$start" ] || fail "no queue lines for the polite request"
ahead=$(sed -n "${enq},${start}p" "$WORK/broker.log" | grep -c "flood-[0-9]* starts on tee")
left=$(sed -n "${start},\$p" "$WORK/broker.log" | grep -c "flood-[0-9]* starts on tee")
[ "$ahead" -le 1 ] || fail "$ahead of the flood's requests started ahead of the polite one"
[ "$left" -ge 5 ] || fail "only $left of the flood's requests were still waiting (test too weak)"
broker_counters >"$WORK/counters.txt"
grep -Eq "queued (1[1-9]|[2-9][0-9])," "$WORK/counters.txt" ||
	fail "queued counter: $(grep -o 'queued [0-9]*' "$WORK/counters.txt")"
pass "polite request started after $ahead of the flood's, with $left still queued behind it"
stop_broker

# 2. [queue] max_exchanges_per_app = 1, with room for four first calls at
# once: the flood runs one exchange at a time, the rest of it waits in its
# own flow, and the polite app's request starts beside it at once.
sed -i 's/^max_in_flight = 1$/max_in_flight = 4/; s/^max_per_app = 12$/max_per_app = 12\nmax_exchanges_per_app = 1/' \
	"$WORK/broker.conf"
grep -q "^max_exchanges_per_app = 1" "$WORK/broker.conf" || fail "conf: $(cat "$WORK/broker.conf")"
start_broker
"$BENCH" --url "$URL" --deadline 60 --distinct burst 10 request-ta TEEP-Device/SecureFS/flood \
	>"$WORK/flood2.out" 2>&1 &
FLOOD=$!
PIDS="$PIDS $FLOOD"
wait_line "$WORK/broker.log" "flood-2 starts on tee" 20 || fail "2: the flood did not start"
ua unrequest-ta "$TC_UUID" || fail "2: polite unrequest-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "^done: removed" "$WORK/ua.out" || fail "2: polite app not served: $(cat "$WORK/ua.out")"
wait_exit "$FLOOD" 60 || fail "2: the flood's answers did not all come: $(tail -3 "$WORK/flood2.out")"
[ "$(grep -c "^answer id .* done" "$WORK/flood2.out")" = 10 ] ||
	fail "2: the flood's requests were not all answered done: $(cat "$WORK/flood2.out")"
# the flood's exchanges running at once, at most (start and final answer of
# each, from the log), and the polite one's wait for its start
most=$(awk '/flood-[0-9]* starts on tee/ { s = $0; sub(/.*session /, "", s); sub(/:.*/, "", s);
		fl[s] = 1; n++; if (n > m) m = n }
	/: request-ta (done|error): / { s = $0; sub(/.*session /, "", s); sub(/:.*/, "", s);
		if (s in fl) { n--; delete fl[s] } }
	END { print m + 0 }' "$WORK/broker.log")
[ "$most" = 1 ] || fail "2: $most of the flood's exchanges ran at once"
waited=$(sed -n 's/.*unrequest-ta .*0x8d82573a926d4754935332dc29997f74\/ta starts on tee sim after \([0-9]*\) ms queued/\1/p' \
	"$WORK/broker.log" | head -1)
[ -n "$waited" ] && [ "$waited" -lt 100 ] || fail "2: the polite request waited ${waited:-?} ms to start"
pass "max_exchanges_per_app 1: the flood ran one exchange at a time, the polite one started after $waited ms"
stop_broker

# 3. Shutdown answers every waiting request at once, also those behind their
# app's running exchange (max_exchanges_per_app = 1): the broker does not
# wait out its shutdown_grace for them.
SHUTDOWN_GRACE=8s write_conf "http://127.0.0.1:$TAM_PORT/tam"
cat >>"$WORK/broker.conf" <<CONF
call_delay = 150ms
max_in_flight = 4

[queue]
max_per_app = 12
max_exchanges_per_app = 1
CONF
start_broker
"$BENCH" --url "$URL" --deadline 30 --distinct burst 4 request-ta TEEP-Device/SecureFS/stop \
	>"$WORK/stop.out" 2>&1 &
FLOOD=$!
PIDS="$PIDS $FLOOD"
wait_line "$WORK/broker.log" "stop-1 starts on tee" 20 || fail "3: the requests did not start"
t0=$(date +%s%N)
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 20 || fail "3: broker exit status $?"
t1=$(date +%s%N)
wait_exit "$FLOOD" 20 || true
[ "$(grep -c "^answer id .* error 10 after" "$WORK/stop.out")" -ge 3 ] ||
	fail "3: the waiting requests were not answered shutdown: $(cat "$WORK/stop.out")"
[ $(((t1 - t0) / 1000000)) -lt 5000 ] ||
	fail "3: the broker took $(((t1 - t0) / 1000000)) ms to stop (the grace is 8 s)"
pass "shutdown: the requests waiting behind their app's exchange answered at once, exit in $(((t1 - t0) / 1000000)) ms"
