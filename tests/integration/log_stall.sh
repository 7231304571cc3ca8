#!/bin/bash
# Logging never blocks the broker: its stderr is a pipe whose reader is
# stopped (as when journald stalls), it logs at debug level with
# libwebsockets' own debug lines (-vvv), and apps still
# get through their handshake and requests; lines that do not fit are
# dropped and counted. It also exits promptly while the reader is stopped.
. "$(dirname "$0")/lib.sh"

# the reader of the broker's stderr: a process we can stop
start_reader() {
	rm -f "$WORK/err.fifo"
	mkfifo "$WORK/err.fifo" || fail "mkfifo"
	cat "$WORK/err.fifo" >>"$WORK/broker.log" &
	READER=$!
	PIDS="$PIDS $READER"
}
READER=""
# a stopped reader keeps the broker of old blocked: resume it first
trap 'if [ -n "$READER" ]; then kill -CONT "$READER" 2>/dev/null; fi; cleanup' EXIT

make_keys
add_component "$TC_UUID" "x"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
sed -i 's/^log_level = info$/log_level = debug/' "$WORK/broker.conf"
grep -q "^log_level = debug" "$WORK/broker.conf" || fail "cannot set log_level"

: >"$WORK/broker.log"
start_reader
"$BROKER_BIN" -vvv -f -c "$WORK/broker.conf" >/dev/null 2>"$WORK/err.fifo" &
BROKER_PID=$!
PIDS="$BROKER_PID $PIDS"
wait_file "$WORK/broker.port" 20 || fail "teep-brokerd did not start"
BROKER_PORT=$(cat "$WORK/broker.port")
URL="ws://127.0.0.1:$BROKER_PORT/"
UA_TIMEOUT=10 ua request-ta "$TC_UUID" || fail "request-ta: $(cat "$WORK/ua.out")"
pass "installed with the log reader running"

# Stopped reader: the pipe (64 KiB) fills, then the broker's ring; -vvv adds
# libwebsockets' own debug lines, ~35 KiB a request, so 20 requests are far
# more than both hold. The counters (SIGUSR1) add more.
kill -STOP "$READER"
start=$(date +%s)
for i in $(seq 1 20); do
	kill -USR1 "$BROKER_PID"
	UA_TIMEOUT=10 ua policy-check ||
		fail "request $i failed while the log reader was stopped: $(cat "$WORK/ua.out")"
	[ $(($(date +%s) - start)) -lt 120 ] || fail "requests too slow with the reader stopped"
done
pass "20 handshakes and requests in $(($(date +%s) - start)) s with the log reader stopped"

# resumed: what was queued comes out, then new lines; a request, then the
# counters naming all 22 requests, come after every drop
kill -CONT "$READER"
UA_TIMEOUT=10 ua policy-check || fail "request after resuming: $(cat "$WORK/ua.out")"
kill -USR1 "$BROKER_PID"
wait_line "$WORK/broker.log" "counters: conns .*; requests 22;" 10 ||
	fail "no counters after the reader resumed"
wait_line "$WORK/broker.log" "counters: log lines dropped" 10 || fail "no log counter"
dropped=$(grep -o "counters: log lines dropped [0-9]*" "$WORK/broker.log" | tail -1 |
	awk '{print $5}')
echo "# log lines dropped: $dropped"
[ "$dropped" -gt 0 ] || fail "no line dropped: the test did not fill the ring"
# every counter line equals the drops reported in the stream before it
awk '/ log line\(s\) dropped / { for (i = 1; i <= NF; i++) if ($i == "log") { seen += $(i - 1); break } }
	/counters: log lines dropped / { n++; if ($NF != seen) { print "line " NR ": counter " $NF ", reported " seen; bad = 1 } }
	END { if (!n) bad = 1; exit bad }' "$WORK/broker.log" >"$WORK/check.out" ||
	fail "drops reported in the stream do not add up: $(cat "$WORK/check.out")"
pass "reader resumed: lines flow again; $dropped dropped lines counted and reported"

# exit with the reader stopped: bounded, exit status 0
kill -STOP "$READER"
for i in $(seq 1 10); do
	UA_TIMEOUT=10 ua policy-check || fail "request $i (second stop): $(cat "$WORK/ua.out")"
done
t0=$(date +%s%N)
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 15 || fail "teep-brokerd did not exit with the reader stopped (status $?)"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$READER"
wait "$READER"
pass "exit 0 in $ms ms with the log reader stopped"
