#!/bin/bash
# [ban]: malformed frames add to the address's score; at the threshold the
# address is banned, its connection closed with status 1008 after its last
# answer, and new connections refused until the ban ends. An allowlisted
# address is never scored.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
# 3 x 10 = 30: the third malformed frame bans. The half-life is long so that
# no decay between the frames keeps the score just under the threshold.
ban_conf="threshold = 30
half_life = 100h
weight_malformed = 10
ban_time = 2s
ban_time_max = 2s"
CONF_EXTRA="[ban]
allow = 192.0.2.0/24
$ban_conf" write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

"$BENCH" --url "$URL" --deadline 30 --wait-close rtt 3 malformed >"$WORK/bad.out" 2>&1 ||
	fail "three malformed frames: $(cat "$WORK/bad.out")"
grep -q "^rtt malformed: 3 round trips, 0 unexpected answers" "$WORK/bad.out" ||
	fail "each malformed frame gets its error answer: $(cat "$WORK/bad.out")"
grep -q "^closed by the broker with status 1008" "$WORK/bad.out" ||
	fail "no close with 1008: $(cat "$WORK/bad.out")"
grep -q "notice: banning 127.0.0.1 for 2 s: score 30 reached threshold 30 (last: malformed frame)" \
	"$WORK/broker.log" || fail "the ban is not logged"
pass "third malformed frame answered, then the connection closed with 1008"

UA_TIMEOUT=10 ua request-ta "$TC_UUID"; rc=$?
[ $rc = 3 ] && grep -q "cannot connect" "$WORK/ua.out" ||
	fail "a banned address connected: exit $rc: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "per-ip [1-9][0-9]* banned [0-9]* origin;.* bans 1;" "$WORK/counters.out" ||
	fail "counters: $(cat "$WORK/counters.out")"
pass "a new connection from the banned address is refused at accept time"

ok=0
for _ in $(seq 1 150); do
	UA_TIMEOUT=10 ua request-ta "$TC_UUID" && { ok=1; break; }
	[ $? = 3 ] || fail "after the ban: $(cat "$WORK/ua.out")"
	sleep 0.1
done
[ $ok = 1 ] && grep -q "done: installed" "$WORK/ua.out" ||
	fail "not served after the ban: $(cat "$WORK/ua.out")"
pass "after the ban time a connection is accepted and a request served"
stop_broker

# The default allowlist holds loopback: the same garbage, and more, bans nobody.
CONF_EXTRA="[ban]
$ban_conf" write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
"$BENCH" --url "$URL" --deadline 30 rtt 10 malformed >"$WORK/bad.out" 2>&1 ||
	fail "ten malformed frames from loopback: $(cat "$WORK/bad.out")"
grep -q "^closed by the broker" "$WORK/bad.out" && fail "loopback closed: $(cat "$WORK/bad.out")"
ua request-ta "$TC_UUID" || fail "loopback after garbage: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.out"
grep -q "ban table: scored 0 bans 0 banned refusals 0 allowlisted 10;" "$WORK/counters.out" ||
	fail "ban counters: $(cat "$WORK/counters.out")"
grep -q "banning 127.0.0.1" "$WORK/broker.log" && fail "loopback was banned"
pass "with the default allowlist, loopback is never scored nor banned"
