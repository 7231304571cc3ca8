#!/bin/bash
# Exactly one final answer per request, as an app that matches answers by id
# sees it (docs/ua-api.md section 3):
# 1. a frame reusing the id of a request in flight is refused with
#    "id": null, so the running request's final answer is the only one
#    carrying its id;
# 2. an app that leaves mid-exchange: its answer is counted as dropped, not
#    as delivered;
# 3. after a TEE call times out, the app's request slot is free at once: the
#    same connection's next request is taken, not answered busy "too many
#    requests in flight" while the TEE is stuck; a request that waits for
#    the TEE gets the progress step "queued", and "tee" only once its call
#    starts.
# And the logs name an exchange by its number, from the app to the TAM.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
# every Agent call takes 1 s: a request stays in flight for seconds
echo "call_delay = 1s" >>"$WORK/broker.conf"
start_broker

# {"id": 7, "op": "policy-check"}
PC7=a262696407626f706c706f6c6963792d636865636b
ua --json --pipeline --raw-hex "$PC7" --raw-hex "$PC7"
finals=$(grep -c '"id":7,"event":"\(done\|error\|busy\)"' "$WORK/ua.out")
[ "$finals" = 1 ] || fail "$finals final answers carry id 7: $(cat "$WORK/ua.out")"
grep -q '"id":7,"event":"done","result":"completed"' "$WORK/ua.out" ||
	fail "the first request did not end well: $(cat "$WORK/ua.out")"
grep -q '"id":null,"event":"error","code":3,"name":"duplicate-id",.*"detail":"id 7"' \
	"$WORK/ua.out" || fail "the duplicate was not refused with a null id: $(cat "$WORK/ua.out")"
pass "a duplicate id is refused with \"id\": null; id 7 has one final answer"

# The exchange has a number in the logs, from the app's request through its
# POSTs to the TAM to its final answer.
for l in "session 1: request 7 of app 127.0.0.1 starts it" \
	"session 1: POST http://127.0.0.1:$TAM_PORT/tam (" \
	"session 1: policy-check done: completed after"; do
	grep -qF "$l" "$WORK/broker.log" || fail "no log line \"$l\""
done
pass "one exchange, one number in its log lines"

# The app leaves mid-exchange, once the broker has begun talking to the TAM
# for it (an app that leaves while its first Agent call is still running
# has that call cancelled instead); the exchange runs to its end for nobody.
"$UA" --url "$URL" --timeout 60 policy-check >"$WORK/ua.out" 2>&1 &
uapid=$!
wait_line "$WORK/broker.log" "session 2: POST " 30 ||
	fail "the second exchange did not reach the TAM: $(cat "$WORK/ua.out")"
kill "$uapid"
wait "$uapid" 2>/dev/null
# (the first exchange logged one "done" line: wait for the second, 60 s)
n=1200
while [ "$(grep -c "policy-check done: completed" "$WORK/broker.log")" -lt 2 ]; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "the abandoned exchange did not end: $(grep 'session 2' "$WORK/broker.log")"
	sleep 0.05
done
broker_counters >"$WORK/counters.txt"
grep -q "answers 1 done 1 error 0 busy;.* answers dropped 1 (app gone)$" "$WORK/counters.txt" ||
	fail "answers counted: $(head -1 "$WORK/counters.txt")"
pass "the answer of an app that left is counted as dropped, not done"
stop_broker

# A stuck TEE: every call takes 3 s, call_timeout is 1 s, one first call at
# a time, and an app may have one request in flight at a time.
LISTENER_EXTRA="max_requests_per_connection = 1"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
printf 'call_delay = 3s\ncall_delay_stuck = yes\ncall_timeout = 1s\nmax_in_flight = 1\n' >>"$WORK/broker.conf"
start_broker
# {"id": 1, "op": "policy-check"}, then {"id": 2, ...} once 1 has its answer
PC1=a262696401626f706c706f6c6963792d636865636b
PC2=a262696402626f706c706f6c6963792d636865636b
ua --json --raw-hex "$PC1" --raw-hex "$PC2"
grep -q '"id":1,"event":"error","code":9,' "$WORK/ua.out" ||
	fail "the first request did not time out: $(cat "$WORK/ua.out")"
grep -q '"id":2,"event":"busy"' "$WORK/ua.out" &&
	fail "the next request was answered busy: $(cat "$WORK/ua.out")"
grep -q '"id":2,"event":"progress","step":"queued","detail":"sim"' "$WORK/ua.out" ||
	fail "the next request was not taken: $(cat "$WORK/ua.out")"
pass "after a TEE timeout the connection's next request is taken at once"

# 1 reached the TEE; 2 waited behind the stuck call and never did
[ "$(grep -o '"id":1,"event":"progress","step":"[a-z-]*"' "$WORK/ua.out" |
	sed 's/.*"step"://' | tr '\n' ' ')" = '"queued" "tee" ' ] ||
	fail "progress of 1: $(cat "$WORK/ua.out")"
grep -q '"id":2,"event":"progress","step":"tee"' "$WORK/ua.out" &&
	fail "2 was told it reached the TEE: $(cat "$WORK/ua.out")"
grep -q '"id":2,"event":"error","code":9,.*did not take the request in time' "$WORK/ua.out" ||
	fail "2 did not time out in the queue: $(cat "$WORK/ua.out")"
pass "progress \"queued\" while a request waits for the TEE, \"tee\" once its call starts"
stop_broker
