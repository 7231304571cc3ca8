#!/bin/bash
# Big inputs made of tiny CBOR items: what one costs teep-brokerd in peak
# memory (VmHWM growth) and in delay for another app (the largest ping round
# trip of a second connection while the big input is processed). Loopback
# only; bounded in time; stops by itself. Use a build without sanitizers:
#
#   ./configure && make && make bench && bench/bigframe.sh .
#
# (from the build directory; the first argument is the build directory).
# BROKER_DIR, if set, is another build directory whose teep-brokerd and sim
# driver are measured (an older build, for a before/after comparison); the
# clients and the TAM always come from the first.
#
# Scenarios, each against a freshly started broker, COUNT (default 3)
# requests one after the other:
#   frame 1M    policy-check frames of 1 MiB ([listener] max_message_size,
#               whose maximum is 1M), padded with an unknown key whose value
#               is an array of one-byte items
#   tam 1M, 8M  plain policy-checks; the TAM answers the first POST with a
#               body of that size, an array of one-byte items (teep-tam
#               --fault tiny-items; [tam] max_response_size = 8M)
set -u
top_builddir=$(cd "${1:-.}" && pwd)
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
. "$top_srcdir/tests/integration/lib.sh"
BIG="$top_builddir/bench/teep-bigframe"
[ -x "$BIG" ] || { echo "build it first: make bench"; exit 1; }
if [ -n "${BROKER_DIR:-}" ]; then
	BROKER_BIN="$BROKER_DIR/teep-brokerd"
	DRIVER_PATH="$BROKER_DIR/.libs/sim.so"
	export DRIVER_PATH
fi
COUNT=${COUNT:-3}
FRAME_SIZES=${FRAME_SIZES:-1M}
TAM_SIZES=${TAM_SIZES:-1M 8M}

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "broker: $BROKER_BIN"

run() { # label, then teep-bigframe arguments
	local label=$1
	shift
	sed -i 's/^log_level = info/log_level = warn/' "$WORK/broker.conf"
	start_broker
	echo "== $label (broker idle RSS $(grep VmRSS /proc/$BROKER_PID/status | awk '{print $2}') KiB)"
	"$BIG" --url "$URL" --pid "$BROKER_PID" --deadline 300 "$@" ||
		echo "(teep-bigframe exited $?)"
	stop_broker
}

start_tam
for size in $FRAME_SIZES; do
	MAX_MESSAGE_SIZE=$size write_conf "http://127.0.0.1:$TAM_PORT/tam"
	run "app frame of $size in tiny items" frame "$size" "$COUNT"
done
kill -TERM "$TAM_PID"
wait "$TAM_PID" 2>/dev/null

for size in $TAM_SIZES; do
	start_tam --fault tiny-items --fault-size "$size"
	write_conf "http://127.0.0.1:$TAM_PORT/tam" "max_response_size = 8M"
	run "TAM answer of $size in tiny items" policy-check "$COUNT"
	kill -TERM "$TAM_PID"
	wait "$TAM_PID" 2>/dev/null
done
