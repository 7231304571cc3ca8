#!/bin/bash
# An app that sends frames and never reads its answers: the broker stops
# reading from it once max_queued_answers answers wait, so its memory stays
# bounded; a well-behaved app on another connection is served meanwhile.
. "$(dirname "$0")/lib.sh"
# AddressSanitizer keeps freed memory in quarantine; keep it small so that
# RSS shows what the broker holds
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1"
standard_setup

# 2000 one-byte masked binary frames (0xff: not CBOR, each answered with an
# error), written by a client that reads nothing
for i in $(seq 1 2000); do printf '\x82\x81\x00\x00\x00\x00\xff'; done >"$WORK/frames"
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status")
exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT" || fail "cannot connect"
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: teep-broker.v1\r\n\r\n' >&3
# bounded: once the broker stops reading, the writes block until the timeout
timeout 8 bash -c 'for i in $(seq 1 200); do cat "$1" || exit 0; done >&3' _ "$WORK/frames" 3>&3 &
writer=$!
wait_line "$WORK/broker.log" "rejected frame" 10 || fail "the broker did not read the frames"

# meanwhile a well-behaved app is served
ua request-ta "$TC_UUID" || fail "polite app not served: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "polite app: $(cat "$WORK/ua.out")"

for i in $(seq 1 100); do
	broker_counters >"$WORK/counters"
	grep -q "unread stops [1-9]" "$WORK/counters" && break
	sleep 0.1
done
grep -q "unread stops [1-9]" "$WORK/counters" || fail "the broker never stopped reading: $(head -1 "$WORK/counters")"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$BROKER_PID/status")
[ $((rss - rss0)) -lt 16384 ] || fail "broker RSS grew from $rss0 to $rss KiB"
pass "an app that does not read is throttled (RSS $rss0 -> $rss KiB), the polite app was served"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
exec 3>&-
stop_broker
