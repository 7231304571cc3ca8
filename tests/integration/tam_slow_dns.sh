#!/bin/bash
# A TAM named by a host name whose lookups are slow. A test-only
# getaddrinfo() (tests/integration/slowdns.c, preloaded into the broker)
# makes each lookup of slowtam.test take SLOWDNS_DELAY_MS, answers
# 127.0.0.1 and counts the lookups.
#  1. 16 concurrent exchanges with that TAM, each lookup taking 1 s: they
#     share one lookup and then its cached answer, so they all complete in
#     a few seconds (under 8 s even with sanitizers), the resolver asked
#     once or twice. One lookup per POST on one thread took 16 x 2 POSTs x
#     1 s, and every exchange timed out.
#  2. A lookup longer than connect_timeout + response_timeout: the POST
#     still succeeds, its deadline starts with the connection attempt.
#  3. A lookup longer than [resolver] timeout: the exchange fails
#     (tam-unreachable) after that timeout, not after the lookup.
. "$(dirname "$0")/lib.sh"

SHIM="$top_builddir/tests/integration/.libs/slowdns.so"
[ -f "$SHIM" ] || fail "no $SHIM (make check builds it)"
# an ASan-built broker wants its runtime first among the preloaded libraries
ASAN_RT=$(ldd "$BROKER_BIN" 2>/dev/null | awk '/libasan/ { print $3; exit }')
NAME=slowtam.test
COUNT="$WORK/lookups"
WRAP_BEFORE=${BROKER_WRAP:-}

# start_slow_broker DELAY_MS: the broker, with lookups of $NAME taking DELAY_MS
start_slow_broker() {
	rm -f "$COUNT"
	BROKER_WRAP="env LD_PRELOAD=${ASAN_RT:+$ASAN_RT:}$SHIM SLOWDNS_NAME=$NAME \
SLOWDNS_DELAY_MS=$1 SLOWDNS_COUNT_FILE=$COUNT $WRAP_BEFORE"
	start_broker
}

lookups() { if [ -f "$COUNT" ]; then wc -l <"$COUNT" | tr -d ' '; else echo 0; fi; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam

# ---- 1. a burst of exchanges, one slow name ----------------------------------
LISTENER_EXTRA="max_requests_per_connection = 16"
write_conf "http://$NAME:$TAM_PORT/tam"
start_slow_broker 1000
t0=$(now_ms)
"$BENCH" --url "$URL" --deadline 60 --distinct burst 16 request-ta TEEP-Device/SecureFS/dns \
	>"$WORK/burst.out" 2>&1 || fail "burst failed: $(tail -3 "$WORK/burst.out")"
t1=$(now_ms)
done_n=$(grep -c "^answer id .* done" "$WORK/burst.out")
[ "$done_n" = 16 ] || fail "$done_n of 16 exchanges done: $(cat "$WORK/burst.out")"
n=$(lookups)
[ "$n" -ge 1 ] || fail "the shim was not asked: the name was not resolved through it"
[ "$n" -le 2 ] || fail "the shim was asked $n times for 16 exchanges"
[ $((t1 - t0)) -lt 8000 ] || fail "16 exchanges took $((t1 - t0)) ms"
posts=$(broker_counters | grep -o "tam posts [0-9]*" | grep -o "[0-9]*$")
[ "${posts:-0}" -ge 32 ] || fail "only ${posts:-0} POSTs: test too weak"
pass "16 exchanges ($posts POSTs) with a TAM whose lookups take 1 s: all done in" \
	"$((t1 - t0)) ms, $n lookup(s)"
stop_broker

# ---- 2. the POST deadline starts after the lookup ----------------------------
LISTENER_EXTRA=""
RESPONSE_TIMEOUT=2s write_conf "http://$NAME:$TAM_PORT/tam"
sed -i 's/^connect_timeout = 3s$/connect_timeout = 500ms/' "$WORK/broker.conf"
grep -q "^connect_timeout = 500ms" "$WORK/broker.conf" || fail "connect_timeout not set"
start_slow_broker 3000
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
[ "$(lookups)" = 1 ] || fail "$(lookups) lookups for one exchange"
pass "a 3 s lookup does not count against connect_timeout + response_timeout (2.5 s)"
stop_broker

# ---- 3. the lookup's own bound ---------------------------------------------
write_conf "http://$NAME:$TAM_PORT/tam"
cat >>"$WORK/broker.conf" <<CONF

[resolver]
timeout = 1s
CONF
start_slow_broker 4000
t0=$(now_ms)
ua unrequest-ta "$TC_UUID"
rc=$?
t1=$(now_ms)
[ $rc = 1 ] || fail "unrequest-ta exited $rc: $(cat "$WORK/ua.out")"
grep -q "error 6 " "$WORK/ua.out" || fail "not tam-unreachable: $(cat "$WORK/ua.out")"
grep -q "cannot resolve $NAME: no answer in time" "$WORK/broker.log" ||
	fail "no log line for the resolver timeout"
[ $((t1 - t0)) -lt 3500 ] || fail "the app waited $((t1 - t0)) ms, the lookup's 4 s"
pass "a 4 s lookup with [resolver] timeout = 1s: tam-unreachable after $((t1 - t0)) ms"
stop_broker
