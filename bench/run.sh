#!/bin/bash
# Measures teep-brokerd on loopback: idle memory, the added latency of the
# broker against a bare websocket round trip, the time of a full install, and
# the memory cost of 10000 idle app connections. Bounded in time; stops by
# itself. Use a build without sanitizers:
#
#   ./configure && make && make bench && bench/run.sh .
#
# (from the build directory; the first argument is the build directory)
set -u
top_builddir=$(cd "${1:-.}" && pwd)
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
. "$top_srcdir/tests/integration/lib.sh"
BENCH="$top_builddir/bench/teep-bench"
[ -x "$BENCH" ] || { echo "build it first: make bench"; exit 1; }
N_RTT=${N_RTT:-2000}
N_INSTALL=${N_INSTALL:-200}
N_IDLE=${N_IDLE:-10000}

standard_setup
sed -i 's/^log_level = info/log_level = warn/' "$WORK/broker.conf"
# every bench connection comes from 127.0.0.1: lift the per-address cap too
sed -i "s/^\[listener\]/[listener]\nmax_connections = $((N_IDLE + 100))\nmax_connections_per_ip = $((N_IDLE + 100))/" \
	"$WORK/broker.conf"
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
start_broker

echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "broker idle RSS after start: $(grep VmRSS /proc/$BROKER_PID/status | awk '{print $2}') KiB"

"$BENCH" --url "$URL" rtt "$N_RTT" malformed || fail "rtt malformed"
"$UA" --url "$URL" request-ta "$TC_UUID" >/dev/null || fail "first install"
"$BENCH" --url "$URL" rtt "$N_RTT" request-ta "$TC_UUID" || fail "rtt request-ta"
"$UA" --url "$URL" unrequest-ta "$TC_UUID" >/dev/null || fail "unrequest"
"$BENCH" --url "$URL" rtt "$N_INSTALL" install "$TC_UUID" || fail "rtt install"
echo "broker RSS after the round trips: $(grep VmRSS /proc/$BROKER_PID/status | awk '{print $2}') KiB"
"$BENCH" --url "$URL" --pid "$BROKER_PID" idle "$N_IDLE" 3 || fail "idle"
echo "broker RSS after the idle connections closed: $(grep VmRSS /proc/$BROKER_PID/status | awk '{print $2}') KiB"
