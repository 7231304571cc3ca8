#!/bin/bash
# One connection per exchange (HTTP keep-alive): an install's three POSTs
# (empty, QueryResponse, Success) go on one connection to the TAM, over HTTP
# and HTTPS, when the TAM keeps it; a new TLS connection to the same TAM
# resumes the session of the one before. When the TAM closes it (saying so with
# Connection: close, or without a word once the answer is out), the next
# POST goes on a new connection, and the exchange does not fail: the close
# is seen before anything is sent on the old connection.
. "$(dirname "$0")/lib.sh"

unset SSL_CERT_FILE SSL_CERT_DIR

make_keys
add_component "$TC_UUID" "Hello, Secure World!"

# run WHAT URI EXPECTED_CONNECTIONS EXPECTED_REUSED [broker [tam] lines]:
# an install and its counters, on a fresh broker; the TAM is running
run() {
	local what=$1 uri=$2 conns=$3 reused=$4
	shift 4
	write_conf "$uri" "$@"
	start_broker
	ua request-ta "$TC_UUID" || fail "$what: request-ta exited $?: $(cat "$WORK/ua.out")"
	grep -q "done: installed" "$WORK/ua.out" || fail "$what: not installed: $(cat "$WORK/ua.out")"
	rm -rf "$WORK/state/tc"
	broker_counters >"$WORK/counters.txt"
	grep -q "tam posts 3 failures 0; tam connections $conns reused $reused," "$WORK/counters.txt" ||
		fail "$what: expected 3 POSTs on $conns connection(s), $reused reused: $(grep 'tam posts' "$WORK/counters.txt")"
	# TLS_EXPECT="H R": H handshakes with the TAM, R of them resumed
	if [ -n "${TLS_EXPECT:-}" ]; then
		set -- $TLS_EXPECT
		grep -q "tls handshakes $1 resumed $2;" "$WORK/counters.txt" ||
			fail "$what: expected $1 TLS handshake(s), $2 resumed: $(grep 'tam posts' "$WORK/counters.txt")"
	fi
	kill -TERM "$BROKER_PID" "$TAM_PID" 2>/dev/null
	wait_exit "$BROKER_PID" 10 || fail "$what: broker exit status $?"
	wait "$TAM_PID" 2>/dev/null
	pass "$what: 3 POSTs, $conns connection(s), $reused reused"
}

start_tam
run "http, the TAM keeps the connection" "http://127.0.0.1:$TAM_PORT/tam" 1 2

"$TOOL" cert ca "$WORK/ca.key" "$WORK/ca.pem" --cn test-ca >/dev/null || fail "cert ca"
"$TOOL" cert server "$WORK/ca.key" "$WORK/ca.pem" "$WORK/tls.key" "$WORK/tls.pem" \
	--cn 127.0.0.1 --san IP:127.0.0.1 >/dev/null || fail "cert server"
start_tam --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key"
TLS_EXPECT="1 0" run "https, the TAM keeps the connection" "https://127.0.0.1:$TAM_PORT/tam" 1 2 \
	"ca_file = $WORK/ca.pem"

# every answer closes: each POST needs a new TLS connection, and the second
# and third resume the session the TAM gave on the first (no certificate
# exchange, no full handshake)
start_tam --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key" --keepalive-max 1
TLS_EXPECT="3 2" run "https, every answer closes: TLS sessions resumed" \
	"https://127.0.0.1:$TAM_PORT/tam" 3 0 "ca_file = $WORK/ca.pem"

# the operator turns keep-alive off: every POST on its own connection,
# saying Connection: close, although the TAM would keep it
start_tam
run "keepalive = no" "http://127.0.0.1:$TAM_PORT/tam" 3 0 "keepalive = no"

start_tam --keepalive-max 2
run "the TAM's second answer says Connection: close" "http://127.0.0.1:$TAM_PORT/tam" 2 1

start_tam --keepalive-max 1
run "every answer says Connection: close" "http://127.0.0.1:$TAM_PORT/tam" 3 0

# the TAM closes after each answer without saying so: the broker keeps
# the connection, sees it closed before the next POST and opens another
start_tam --fault silent-close
run "the TAM closes without a word" "http://127.0.0.1:$TAM_PORT/tam" 3 0
grep -q "fault silent-close" "$WORK/tam.log" || fail "the TAM did not close on its own"
