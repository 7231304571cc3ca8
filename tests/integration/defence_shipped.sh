#!/bin/bash
# The shipped configuration's rate limits (conf/teep-broker.conf) hold back
# one flooding app without costing the other apps of its address anything:
# every local app connects from 127.0.0.1, which [ban] never bans by
# default, so the limits are per connection. A connection refused by them
# is answered "busy" and not read for its retry-after; another connection
# from 127.0.0.1 is served at once.
. "$(dirname "$0")/lib.sh"
standard_setup
ua request-ta "$TC_UUID" || fail "first install: $(cat "$WORK/ua.out")"
stop_broker

# the [limit:*] sections of the shipped file, as they are shipped
shipped=$(awk '/^\[/ { p = /^\[limit:/ } p && NF && !/^[#;]/' "$top_srcdir/conf/teep-broker.conf")
echo "$shipped" | grep -q "key = connection" || fail "no per-connection zone shipped: $shipped"
CONF_EXTRA="$shipped" write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

# The flooding app: 1000 requests back to back on one connection, for at
# most 4 s. Above the connection-calls burst (20) it is refused, and not
# read for a second.
"$BENCH" --url "$URL" --deadline 4 burst 1000 request-ta "$TC_UUID" >"$WORK/flood.out" 2>&1 &
FLOOD=$!
PIDS="$PIDS $FLOOD"
n=100
until broker_counters | grep -q "limit connection-calls: passed [0-9]* delayed 0 rejected [1-9]"; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "the flood was not rate limited: $(tail -n 5 "$WORK/flood.out")"
done

# meanwhile another app from the same address is served, without delay
ua request-ta "$TC_UUID" || fail "the other app: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" || fail "the other app: $(cat "$WORK/ua.out")"
pass "a flooding connection from 127.0.0.1 is refused; another from 127.0.0.1 is served"

wait_exit "$FLOOD" 20
answered=$(grep -c "^answer id" "$WORK/flood.out")
broker_counters >"$WORK/counters.out"
refused=$(sed -n 's/.*limit connection-calls: passed [0-9]* delayed 0 rejected \([0-9]*\);.*/\1/p' \
	"$WORK/counters.out")
# read at the zone's rate: the burst (20 requests and the refused 21st),
# then after each refusal a second without reading, then the 2 requests of
# that second and a refusal; so in 4 s about 21 + 4 x 3 of the 1000 (100
# allows for frames read ahead with a refused one), one refusal a second
[ "$answered" -le 100 ] || fail "the flood was not slowed: $answered answers in 4 s"
[ -n "$refused" ] && [ "$refused" -ge 1 ] && [ "$refused" -le 6 ] ||
	fail "refusals: '$refused', not one a second: $(cat "$WORK/counters.out")"
pass "the flood got $answered answers in 4 s, $refused refusals: its other frames were not read"

LOAD="$top_builddir/bench/teep-load"
# Frames that call no TEE (malformed ones, answered by the loop) meet the
# connection-frames zone: 200 at once, then 100 a second, refused above
# (teep-load exits 1 when its 2000 did not all get through: they must not)
"$LOAD" --url "$URL" --conns 1 --requests 2000 --duration 3 malformed >"$WORK/junk.out" 2>&1
grep -q "^load .* requests=" "$WORK/junk.out" || fail "junk: $(cat "$WORK/junk.out")"
# (one is refused, then nothing is read for a second: at most 200 + 3 x 101)
n=$(sed -n 's/.* requests=\([0-9]*\) .*/\1/p' "$WORK/junk.out")
[ "${n:-9999}" -le 600 ] || fail "junk frames not limited: $(cat "$WORK/junk.out")"
broker_counters >"$WORK/counters.out"
grep -q "limit connection-frames: passed [0-9]* delayed 0 rejected [1-9]" "$WORK/counters.out" ||
	fail "junk: $(cat "$WORK/counters.out")"
refused=$(sed -n 's/.*limit connection-frames: passed [0-9]* delayed 0 rejected \([0-9]*\);.*/\1/p' \
	"$WORK/counters.out")
pass "a flood of junk frames: $n answered in 3 s, $refused refused by the connection-frames zone"
grep -q "bans 0;" "$WORK/counters.out" || fail "an address was banned: $(cat "$WORK/counters.out")"
stop_broker
pass "clean exit"
