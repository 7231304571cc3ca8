#!/bin/bash
# Slowloris: an app that starts a frame and dribbles it (or stops) is closed
# once [listener] frame_timeout has passed since the frame began, counted
# and scored, even with no idle_timeout; a connection between frames is not
# affected.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
LISTENER_EXTRA="frame_timeout = 1s"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

# a raw websocket: the handshake, then a 10-byte binary frame of which only
# the header and two bytes are sent
exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT" || fail "cannot connect"
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: teep-broker.v1\r\n\r\n' >&3
read -r -t 5 status <&3 || fail "no handshake answer"
case "$status" in *101*) ;; *) fail "handshake: $status" ;; esac
printf '\x82\x8a\x00\x00\x00\x00\xa1\x62' >&3
wait_line "$WORK/broker.log" "closed: a frame took longer than frame_timeout" 10 ||
	fail "the slow frame's connection was not closed"
exec 3<&-
# between frames the connection may rest: an app with a finished request
# stays connected past frame_timeout (teep-ua waits for its answers)
ua policy-check || fail "policy-check after: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.txt"
grep -q "rejected 1 slow" "$WORK/counters.txt" ||
	fail "slow frame counter: $(head -1 "$WORK/counters.txt")"
pass "a frame dribbled for longer than frame_timeout closes its connection"
