#!/bin/bash
# What one request costs the broker in instructions, counted by callgrind
# (valgrind), and how much of it is libwebsockets' timer list: the broker
# runs under callgrind while teep-load sends N request-ta of an installed
# component (one TEE call, no TAM) over C connections, then stops. Loopback
# only, bounded in count and time.
#
#   bench/callgrind.sh BUILD_DIR [N] [C]       (defaults 2000, 64)
#
# BROKER_DIR, if set, is another build directory whose teep-brokerd and sim
# driver are measured (before/after). Prints one line:
#   callgrind requests=N conns=C sul_inserts=.. per_request=.. \
#     sul_insert_ir=.. total_ir=.. ir_per_request=..
# The start, the first install and the stop are counted in the totals too:
# compare runs of the same N and C.
set -u
top_builddir=$(cd "${1:?usage: callgrind.sh BUILD_DIR [N] [C]}" && pwd)
N=${2:-2000}
C=${3:-64}
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
. "$top_srcdir/tests/integration/lib.sh"
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
	{ echo "valgrind is needed"; exit 1; }
if [ -n "${BROKER_DIR:-}" ]; then
	BROKER_BIN="$BROKER_DIR/teep-brokerd"
	DRIVER_PATH="$BROKER_DIR/.libs/sim.so"
	export DRIVER_PATH
fi
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
sed -i 's/^log_level = info/log_level = warn/' "$WORK/broker.conf"
sed -i "s/^\[listener\]/[listener]\nmax_connections = $((C + 16))\nmax_connections_per_ip = $((C + 16))/" \
	"$WORK/broker.conf"
BROKER_WRAP="valgrind --tool=callgrind --compress-strings=no --callgrind-out-file=$WORK/cg.out"
start_broker
"$UA" --url "$URL" --timeout 60 request-ta "$TC_UUID" >/dev/null || fail "first install"
"$top_builddir/bench/teep-load" --url "$URL" --conns "$C" --requests "$N" --duration 300 \
	request-ta "$TC_UUID" >"$WORK/load.out" || fail "teep-load: $(cat "$WORK/load.out")"
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 60 || fail "the broker did not stop"
callgrind_annotate --inclusive=yes "$WORK/cg.out" >"$WORK/cg.txt" 2>/dev/null
total=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$WORK/cg.txt" | tr -d ,)
ins_ir=$(sed -n 's/^ *\([0-9,]*\) .*__lws_sul_insert.*/\1/p' "$WORK/cg.txt" | head -n 1 | tr -d ,)
# calls= lines count the calls a function makes; count those made to it
calls=$(awk '/^cfn=.*__lws_sul_insert/ { f = 1; next }
	f && /^calls=/ { sub("calls=", ""); split($0, a, " "); n += a[1]; f = 0; next } { f = 0 }
	END { print n + 0 }' "$WORK/cg.out")
echo "callgrind requests=$N conns=$C sul_inserts=$calls" \
	"per_request=$(awk -v a="$calls" -v n="$N" 'BEGIN { printf "%.2f", a / n }')" \
	"sul_insert_ir=${ins_ir:-0} total_ir=$total" \
	"ir_per_request=$(awk -v a="$total" -v n="$N" 'BEGIN { printf "%d", a / n }')"
