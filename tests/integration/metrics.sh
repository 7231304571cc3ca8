#!/bin/bash
# The [admin] listener: /metrics in the Prometheus text format (checked by
# promcheck.awk) with counters that follow a known sequence of requests (an
# install, a malformed frame, a request answered busy), /healthz and
# /readyz, 404 and 405, an oversized request, and the allow list.
. "$(dirname "$0")/lib.sh"
CHECK="$top_srcdir/tests/integration/promcheck.awk"

# http METHOD PATH [HEADER-LINES] [BODY]: one request over bash's /dev/tcp
# (no HTTP client needed); HTTP_STATUS, $WORK/http.raw (the answer) and
# $WORK/http.body. The broker closes after the answer (Connection: close).
http() {
	: >"$WORK/http.raw"
	HTTP_STATUS=none
	exec 3<>"/dev/tcp/127.0.0.1/$ADMIN_PORT" || return 1
	# in a subshell: a broker that hangs up early must not end the test
	# with SIGPIPE
	(printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n%s' \
		"$1" "$2" "${3:-}" "${4:-}" >&3) 2>/dev/null
	timeout 10 cat <&3 >"$WORK/http.raw" 2>/dev/null
	exec 3<&-
	[ -s "$WORK/http.raw" ] && HTTP_STATUS=$(head -n1 "$WORK/http.raw" | cut -d' ' -f2)
	sed '1,/^\r$/d' "$WORK/http.raw" >"$WORK/http.body"
	return 0
}

# scrape: GET /metrics into $WORK/metrics.txt, checked against the format
scrape() {
	http GET /metrics
	[ "$HTTP_STATUS" = 200 ] || fail "/metrics: status $HTTP_STATUS"
	grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$WORK/http.raw" ||
		fail "/metrics: content type: $(head -n5 "$WORK/http.raw")"
	cp "$WORK/http.body" "$WORK/metrics.txt"
	awk -f "$CHECK" "$WORK/metrics.txt" >"$WORK/promcheck.out" ||
		fail "/metrics is not a valid exposition: $(head -n5 "$WORK/promcheck.out")"
}

# metric SAMPLE: the value of one sample (name{labels} as written)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/metrics.txt"; }

# expect SAMPLE VALUE
expect() {
	[ "$(metric "$1")" = "$2" ] || fail "$1 is '$(metric "$1")', not $2"
}

# settle SAMPLE VALUE: scrape until the sample has the value (bounded), for
# what the broker finishes after the app has its answer (a connection's
# close, a driver call that releases the Agent session)
settle() {
	local n=100
	while scrape && [ "$(metric "$1")" != "$2" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || fail "$1 stays at '$(metric "$1")', not $2"
		sleep 0.05
	done
}

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
# one request starting a TEE call a minute: the second is answered busy
CONF_EXTRA="[admin]
enabled = yes
port = 0
port_file = $WORK/admin.port

[limit:calls]
applies_to = tee-calls
key = all
rate = 1r/m"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
wait_file "$WORK/admin.port" 10 || fail "no admin port_file"
ADMIN_PORT=$(cat "$WORK/admin.port")

http GET /healthz
[ "$HTTP_STATUS" = 200 ] && [ "$(cat "$WORK/http.body")" = ok ] ||
	fail "/healthz: $HTTP_STATUS $(cat "$WORK/http.raw")"
http GET /readyz
[ "$HTTP_STATUS" = 200 ] && [ "$(cat "$WORK/http.body")" = ready ] ||
	fail "/readyz: $HTTP_STATUS $(cat "$WORK/http.raw")"
scrape
expect teep_requests_total 0
expect 'teep_tee_up{tee="sim"}' 1
pass "/healthz ok, /readyz ready, /metrics valid before any request"

ua request-ta "$TC_UUID" || fail "install: $(cat "$WORK/ua.out")"
"$UA" --url "$URL" --raw-hex ff >"$WORK/raw.out" 2>&1
grep -q "error 1" "$WORK/raw.out" || fail "malformed frame: $(cat "$WORK/raw.out")"
ua request-ta TEEP-Device/SecureFS/other
[ $? = 4 ] || fail "second request not busy: $(cat "$WORK/ua.out")"

settle teep_connections_open 0
expect teep_connections_accepted_total 3
expect teep_frames_received_total 3
expect teep_frames_rejected_total 1
expect teep_requests_total 1
expect 'teep_answers_total{kind="done"}' 1
expect 'teep_answers_total{kind="error"}' 1
expect 'teep_answers_total{kind="busy"}' 1
expect 'teep_answers_total{kind="dropped"}' 0
expect 'teep_answer_errors_total{code="1",name="malformed"}' 1
expect 'teep_answer_errors_total{code="9",name="timeout"}' 0
expect 'teep_rate_limited_total{action="refused"}' 1
expect 'teep_limit_requests_total{zone="calls",verdict="passed"}' 1
expect 'teep_limit_requests_total{zone="calls",verdict="rejected"}' 1
expect teep_exchanges_total 1
expect teep_exchanges_in_progress 0
expect teep_tam_failures_total 0
posts=$(metric teep_tam_posts_total)
[ "${posts:-0}" -ge 2 ] || fail "tam posts: '$posts'"
expect 'teep_tam_request_duration_seconds_count{tam="default"}' "$posts"
expect 'teep_tam_request_duration_seconds_bucket{tam="default",le="+Inf"}' "$posts"
settle 'teep_tee_call_duration_seconds_count{tee="sim"}' "$(metric teep_tee_calls_total)"
[ "$(metric teep_tee_calls_total)" -ge 2 ] || fail "tee calls: $(metric teep_tee_calls_total)"
expect teep_tee_timeouts_total 0
expect teep_log_lines_dropped_total 0
grep -q '^teep_build_info{version="[^"]*",libwebsockets="[^"]*",driver_abi="1\.[0-9]*",plugin_abi="[0-9.]*"} 1$' \
	"$WORK/metrics.txt" || fail "no build info: $(grep build_info "$WORK/metrics.txt")"
[ "$(metric process_resident_memory_bytes)" -gt 100000 ] ||
	fail "resident memory: $(metric process_resident_memory_bytes)"
pass "/metrics after an install, a malformed frame and a busy answer: $posts TAM POSTs"

http GET /nosuch
[ "$HTTP_STATUS" = 404 ] || fail "/nosuch: $HTTP_STATUS"
http POST /metrics "Content-Length: 5
" hello
[ "$HTTP_STATUS" = 405 ] && grep -qi '^allow: GET' "$WORK/http.raw" &&
	[ "$(cat "$WORK/http.body")" = "only GET" ] ||
	fail "POST: $(cat "$WORK/http.raw")"
big=$(head -c 20000 /dev/zero | tr '\0' a)
http GET /metrics "X-Big: $big
"
[ "$HTTP_STATUS" != 200 ] || fail "a 20 kB request header was served"
http GET /healthz
[ "$HTTP_STATUS" = 200 ] || fail "/healthz after the bad requests: $HTTP_STATUS"
kill -0 "$BROKER_PID" || fail "broker died"
pass "404 for other paths, 405 for POST, an oversized request not served"

stop_broker
# at most 2 admin connections open: a third is closed unanswered; once one
# closes, a request is served again
sed -i "s|^port_file = $WORK/admin.port|&\nmax_connections = 2|" "$WORK/broker.conf"
grep -q "^max_connections = 2" "$WORK/broker.conf" || fail "conf not edited"
rm -f "$WORK/admin.port"
start_broker
wait_file "$WORK/admin.port" 10 || fail "no admin port_file"
ADMIN_PORT=$(cat "$WORK/admin.port")
exec 5<>"/dev/tcp/127.0.0.1/$ADMIN_PORT" 6<>"/dev/tcp/127.0.0.1/$ADMIN_PORT"
http GET /healthz
[ "$HTTP_STATUS" = none ] || fail "a third admin connection was answered: $(cat "$WORK/http.raw")"
wait_line "$WORK/broker.log" "admin: connection refused: 2 open (\[admin\] max_connections)" 5 ||
	fail "no log line for the connection over the bound"
exec 5<&- 6<&-
n=100
while http GET /healthz && [ "$HTTP_STATUS" != 200 ]; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "no admin request served after the idle connections closed"
	sleep 0.05
done
stop_broker
sed -i "/^max_connections = 2$/d" "$WORK/broker.conf"
pass "[admin] max_connections: a connection over the bound is closed, and the count comes down"

# only 192.0.2.0/24 may connect: loopback is closed at once, unanswered
sed -i "s|^port_file = $WORK/admin.port|&\nallow = 192.0.2.0/24|" "$WORK/broker.conf"
grep -q "^allow = 192.0.2.0/24" "$WORK/broker.conf" || fail "conf not edited"
rm -f "$WORK/admin.port"
start_broker
wait_file "$WORK/admin.port" 10 || fail "no admin port_file"
ADMIN_PORT=$(cat "$WORK/admin.port")
http GET /healthz
[ "$HTTP_STATUS" = none ] || fail "a refused address was answered: $(cat "$WORK/http.raw")"
wait_line "$WORK/broker.log" "admin: connection from 127.0.0.1 refused (not in \[admin\] allow)" 5 ||
	fail "no log line for the refused connection"
kill -0 "$BROKER_PID" || fail "broker died"
stop_broker
pass "a connection from an address outside [admin] allow is closed unanswered"

# a port already taken: the broker does not start (exit status 5)
sed -i "/^\[admin\]/,/^$/ s|^port = 0$|port = $TAM_PORT|; /^allow = 192.0.2.0\/24$/d" "$WORK/broker.conf"
grep -q "^port = $TAM_PORT$" "$WORK/broker.conf" || fail "conf not edited"
"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/taken.log" 2>&1 &
pid=$!
wait_exit $pid 20
rc=$?
[ $rc = 5 ] || fail "admin port taken: exit status $rc: $(cat "$WORK/taken.log")"
grep -q "\[admin\] cannot listen on 127.0.0.1 port $TAM_PORT" "$WORK/taken.log" ||
	fail "no reason given: $(cat "$WORK/taken.log")"
pass "an [admin] port already in use: the broker exits 5 and says why"
