#!/bin/bash
# The broker's TEEP-over-HTTP requests follow draft -15 sections 4 and 5, as
# the TAM sees them (teep-tam --log-headers logs every request): POST to the
# TAM URI; Accept and Content-Type application/teep+cbor on every POST (the
# team's reading of section 5.3 for the empty first one); an empty first POST
# and a TEEP message in every later one; no cookies and no Cache-Control. And
# the URI the Agent gives is the one used, whatever the app suggested.
. "$(dirname "$0")/lib.sh"

TEEP_TYPE=application/teep+cbor
TC2_UUID=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d

# requests: the request lines teep-tam logged so far, oldest first
requests() {
	grep -o "tam: request .*" "$WORK/tam.log"
}

# field LINE NAME: the value of NAME=... in a request line
field() {
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

# check_exchange WHAT SKIP: the requests after the first SKIP are one whole
# exchange; each must follow the rules above
check_exchange() {
	local what=$1 skip=$2 n=0 line len
	while IFS= read -r line; do
		n=$((n + 1))
		[[ $line == "tam: request POST /tam "* ]] ||
			fail "$what: request $n is not a POST to /tam: $line"
		[ "$(field "$line" accept)" = $TEEP_TYPE ] ||
			fail "$what: request $n: Accept is not $TEEP_TYPE: $line"
		[ "$(field "$line" content-type)" = $TEEP_TYPE ] ||
			fail "$what: request $n: Content-Type is not $TEEP_TYPE: $line"
		len=$(field "$line" content-length)
		if [ $n = 1 ]; then
			[ "$len" = 0 ] || fail "$what: the first POST is not empty: $line"
		else
			[[ $len =~ ^[1-9][0-9]*$ ]] ||
				fail "$what: POST $n carries no TEEP message: $line"
		fi
	done < <(requests | tail -n +$((skip + 1)))
	# connect, QueryResponse, Success
	[ $n -ge 3 ] || fail "$what: $n requests, expected at least 3"
}

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
add_component "$TC2_UUID" "second component"

# a port where nothing listens, for the app's TAM hint below
start_tam
DEAD_PORT=$TAM_PORT
kill "$TAM_PID"
wait "$TAM_PID" 2>/dev/null

start_tam --log-headers
# apps may suggest the dead TAM (the Agent still picks its own)
write_conf "http://127.0.0.1:$TAM_PORT/tam" "allow_app_uris = http://127.0.0.1:$DEAD_PORT/tam"
start_broker

ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "not installed: $(cat "$WORK/ua.out")"
check_exchange "install" 0
FIRST=$(requests | wc -l)
pass "install: $FIRST POSTs to /tam, Accept and Content-Type $TEEP_TYPE on each, the first empty, the others not"

# the app suggests a TAM where nothing listens; the Agent's URI wins
ua --tam "http://127.0.0.1:$DEAD_PORT/tam" request-ta "$TC2_UUID" ||
	fail "request-ta with a TAM hint exited $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "hint: not installed: $(cat "$WORK/ua.out")"
grep -q "progress tam-connect http://127.0.0.1:$TAM_PORT/tam" "$WORK/ua.out" ||
	fail "hint: the exchange did not go to the Agent's URI: $(cat "$WORK/ua.out")"
! grep -Eq "(tam-connect|connection to) http://127.0.0.1:$DEAD_PORT/" "$WORK/broker.log" ||
	fail "hint: the broker tried the app's URI"
[ "$(cat "$(tc_dir $TC2_UUID)/image")" = "second component" ] ||
	fail "hint: wrong or no image in the Agent's state"
check_exchange "hint" "$FIRST"
pass "an app's TAM hint to a dead port: the Agent's URI is used, installed"

# section 4: no cookies, no Cache-Control, on any request
while IFS= read -r line; do
	[ "$(field "$line" cookie)" = absent ] || fail "a request carries a Cookie: $line"
	[ "$(field "$line" cache-control)" = absent ] ||
		fail "a request carries Cache-Control (draft -15 section 4: MUST NOT): $line"
done < <(requests)
pass "no request carries a Cookie or Cache-Control"

kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "broker exit status $? after SIGTERM"
