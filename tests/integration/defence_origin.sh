#!/bin/bash
# [listener] allow_origins: a websocket handshake that carries an Origin
# (a browser page) is refused with 403 unless the Origin is listed; native
# apps send none and are served; without the setting nothing is checked.
# (libwebsockets' client writes "Origin: http://" + the --origin value.)
. "$(dirname "$0")/lib.sh"
standard_setup
ua --origin evil.example policy-check ||
	fail "no allow_origins: an Origin should not be checked ($(cat "$WORK/ua.out"))"
stop_broker
LISTENER_EXTRA="allow_origins = http://dash.example:8443, https://127.0.0.1:8080"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua policy-check || fail "an app without Origin refused: $(cat "$WORK/ua.out")"
ua --origin DASH.example:8443 policy-check ||
	fail "a listed Origin refused: $(cat "$WORK/ua.out")"
ua --origin 127.0.0.1:8080 policy-check
[ $? = 3 ] || fail "http: for a listed https: Origin was served"
ua --origin evil.example policy-check
[ $? = 3 ] || fail "an unlisted Origin was served: $(cat "$WORK/ua.out")"
broker_counters >"$WORK/counters.txt"
grep -q "banned 2 origin" "$WORK/counters.txt" ||
	fail "refused origin count: $(head -1 "$WORK/counters.txt")"
grep -q "refused: its Origin .* is not in allow_origins" "$WORK/broker.log" || fail "no log line"
pass "Origins: listed ones and none served, others refused before the websocket opens"
