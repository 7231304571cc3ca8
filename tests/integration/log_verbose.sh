#!/bin/bash
# -v raises the broker's own level to info, -vv to debug; libwebsockets'
# own info and debug lines (hundreds a request) come only with -vvv.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "x"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
sed -i 's/^log_level = info$/log_level = notice/' "$WORK/broker.conf"
grep -q "^log_level = notice" "$WORK/broker.conf" || fail "cannot set log_level"

# run_verbose FLAG: three requests with the broker started with FLAG, its
# log in $WORK/broker.log
run_verbose() {
	rm -f "$WORK/broker.port"
	"$BROKER_BIN" "$1" -f -c "$WORK/broker.conf" >"$WORK/broker.log" 2>&1 &
	BROKER_PID=$!
	PIDS="$PIDS $BROKER_PID"
	wait_file "$WORK/broker.port" 20 || fail "teep-brokerd $1 did not start"
	URL="ws://127.0.0.1:$(cat "$WORK/broker.port")/"
	ua request-ta "$TC_UUID" || fail "$1: request-ta: $(cat "$WORK/ua.out")"
	ua policy-check || fail "$1: policy-check: $(cat "$WORK/ua.out")"
	ua unrequest-ta "$TC_UUID" || fail "$1: unrequest-ta: $(cat "$WORK/ua.out")"
	stop_broker
	LWS=$(grep -c ": lws: " "$WORK/broker.log")
	INFO=$(grep -c "^teep-brokerd: info: " "$WORK/broker.log")
	DEBUG=$(grep -c "^teep-brokerd: debug: " "$WORK/broker.log")
	echo "# $1: $LWS libwebsockets lines, $INFO info, $DEBUG debug"
}

run_verbose -v
[ "$LWS" -le 20 ] || fail "-v: $LWS libwebsockets lines (its debug is on)"
[ "$INFO" -gt 0 ] || fail "-v: no info lines"
[ "$DEBUG" = 0 ] || fail "-v: $DEBUG debug lines"
pass "-v: info level, $LWS libwebsockets lines"

run_verbose -vv
[ "$LWS" -le 20 ] || fail "-vv: $LWS libwebsockets lines (its debug is on)"
grep -q "^teep-brokerd: debug: app " "$WORK/broker.log" || fail "-vv: no debug lines"
pass "-vv: debug level, $LWS libwebsockets lines"

run_verbose -vvv
grep -q "^teep-brokerd: debug: lws: " "$WORK/broker.log" ||
	fail "-vvv: no libwebsockets debug lines"
pass "-vvv: libwebsockets' own debug lines too ($LWS)"
