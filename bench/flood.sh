#!/bin/bash
# Flood benchmark: what the defences of docs/defences.md cost a polite app,
# and what they let through, when rogue apps flood teep-brokerd. Loopback
# only; bounded in time (about a minute); stops by itself. Use a build
# without sanitizers:
#
#   ./configure && make && make bench && bench/flood.sh .
#
# (from the build directory; the first argument is the build directory)
#
# It starts the reference TAM and teep-brokerd with the software TEE and a
# defended configuration (below), then runs bench/teep-flood three times,
# each against a freshly started broker:
#   baseline   the polite app alone
#   flood      the polite app and ROGUES rogue apps, each from its own
#              address, at RATE frames/s each
#   no bans    the same flood with [ban] enabled = no: the rate limits and
#              the fair queue face it alone
# and prints, for each, the polite app's figures, the rogues' offered and
# written rates, the broker's counters, how many rogue requests reached the
# TEE (each one that does reaches the TAM, which logs the component it was
# asked for: "flood/rNNN/..."), the broker's CPU time and its peak RSS.
#
# Environment: DURATION (s, default 12; 40 with CONFIG=shipped, for enough
# samples of a paced polite app), ROGUES (default 10), RATE (default
# 20000), MIX (V,M,O,T, default 5,2,1,2), MAX_REQ (max_requests_per_connection,
# default 4), NO_BAN_RUN (1: run it, default 1), CONFIG (defended, default,
# or shipped: see below), POLITE_RATE (the polite app's requests per second,
# paced; default a closed loop, and 1.5 with CONFIG=shipped).
set -u
top_builddir=$(cd "${1:-.}" && pwd)
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
. "$top_srcdir/tests/integration/lib.sh"
FLOOD="$top_builddir/bench/teep-flood"
[ -x "$FLOOD" ] || { echo "build it first: make bench"; exit 1; }
DURATION=${DURATION:-$([ "${CONFIG:-}" = shipped ] && echo 40 || echo 12)}
ROGUES=${ROGUES:-10}
RATE=${RATE:-20000}
MIX=${MIX:-5,2,1,2}
NO_BAN_RUN=${NO_BAN_RUN:-1}

# The defended configuration. The polite app's closed loop makes about 80
# requests per second on the reference machine (the baseline run); the
# per-address limits are set above that, and serve a few requests above the
# rate without delay, so that the polite app is never limited itself (its
# "limit" lines in the baseline show no delayed and no rejected request).
MSG_RATE=200 MSG_BURST=100 CALL_RATE=100 CALL_BURST=20 CALL_DELAY=10
# Requests in flight per connection: 4 (default 8), so that ROGUES rogue
# connections cannot hold all of [tam] max_sessions (64) at once; that cap
# is taken first come, first served, before the fair queue.
MAX_REQ=${MAX_REQ:-4}
LISTENER="max_connections = 256
max_connections_per_ip = 4
max_requests_per_connection = $MAX_REQ
max_queued_answers = 64"
LIMITS="[limit:messages]
applies_to = messages
rate = ${MSG_RATE}r/s
burst = $MSG_BURST
nodelay = yes

[limit:calls]
applies_to = tee-calls
rate = ${CALL_RATE}r/s
burst = $CALL_BURST
delay = $CALL_DELAY

[queue]
max_per_app = 16
quantum = 1"
BAN="[ban]
allow = none
threshold = 100
half_life = 60s
ban_time = 1s
ban_time_max = 4s"

# CONFIG=shipped: the configuration the package installs
# (conf/teep-broker.conf: its [limit:...] zones, every other setting at its
# default, so loopback is never banned), and the flood runs twice: rogues
# from addresses of their own, then from the polite app's (127.0.0.1)
# from addresses of their own, then from the polite app's (127.0.0.1). The
# polite app then asks at a steady 1.5 requests a second, below the shipped
# limits (2 TEE calls a second per connection): a polite app never reaches
# them, by their definition (docs/defences.md)
CONFIG=${CONFIG:-defended}
POLITE_RATE=${POLITE_RATE:-}
if [ "$CONFIG" = shipped ]; then
	LISTENER=""
	LIMITS=$(awk '/^\[/ { p = ($0 ~ /^\[limit:/) } p && !/^#/' \
		"$top_srcdir/conf/teep-broker.conf")
	BAN=""
	POLITE_RATE=${POLITE_RATE:-1.5}
	CALL_RATE=$(echo "$LIMITS" | awk '/^\[limit:connection-calls\]/ { p = 1 } p && /^rate/ { sub(/r\/s/, "", $3); print $3; exit }')
	CALL_BURST=$(echo "$LIMITS" | awk '/^\[limit:connection-calls\]/ { p = 1 } p && /^burst/ { print $3; exit }')
fi
PACE=()
[ -n "$POLITE_RATE" ] && PACE=(--polite-rate "$POLITE_RATE")

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam

# start_defended BAN_SECTION: a fresh broker with the defended configuration
start_defended() {
	LISTENER_EXTRA="$LISTENER" CONF_EXTRA="$LIMITS

$1" write_conf "http://127.0.0.1:$TAM_PORT/tam"
	# notice: the counters (SIGUSR1) are logged at notice; nothing is
	# logged per frame at that level
	sed -i 's/^log_level = info/log_level = notice/' "$WORK/broker.conf"
	start_broker
}

# CPU time (ticks) of the broker's event loop (its main thread) and of all
# its threads (the loop, one worker per TEE, the name resolver's threads)
cpu_ticks() {
	echo "$(awk '{ print $14 + $15 }' "/proc/$1/task/$1/stat")" \
		"$(awk '{ print $14 + $15 }' "/proc/$1/stat")"
}
hz=$(getconf CLK_TCK)

# run NAME ROGUES BAN_SECTION: one measured run; figures in $WORK/NAME.*
run() {
	local name=$1 rogues=$2 tam0 cpu0 cpu1 tcpu0 tcpu1 from=()
	[ -n "${4:-}" ] && from=(--rogue-from "$4")
	start_defended "$3"
	# warm up: one second of the polite app alone, not measured
	"$FLOOD" --url "$URL" --duration 1 "${PACE[@]}" "$TC_UUID" >"$WORK/$name.warm" 2>&1
	tam0=$(grep -c "requested component flood/" "$WORK/tam.log")
	cpu0=$(cpu_ticks "$BROKER_PID")
	tcpu0=$(cpu_ticks "$TAM_PID" | cut -d' ' -f2)
	"$FLOOD" --url "$URL" --duration "$DURATION" --rogues "$rogues" --rate "$RATE" \
		--mix "$MIX" --reconnects $((DURATION * 100)) "${from[@]}" "${PACE[@]}" "$TC_UUID" \
		>"$WORK/$name.out" 2>&1
	cpu1=$(cpu_ticks "$BROKER_PID")
	tcpu1=$(cpu_ticks "$TAM_PID" | cut -d' ' -f2)
	grep VmHWM "/proc/$BROKER_PID/status" | awk '{ print $2 }' >"$WORK/$name.hwm"
	broker_counters >"$WORK/$name.counters"
	# The rogue requests that reached the TEE, per rogue: the distinct
	# components the TAM was asked for. Each rogue request names a new one;
	# the Agent asks the TAM for it in the request's own exchange, and
	# again in later policy checks (it remembers what was requested), so
	# only distinct names count.
	grep "requested component flood/" "$WORK/tam.log" | tail -n +$((tam0 + 1)) |
		sed 's|.*requested component \(flood/[^ ]*\) .*|\1|' | sort -u |
		cut -d/ -f2 | uniq -c >"$WORK/$name.tee"
	set -- $cpu0 $cpu1
	echo "loop $((($3 - $1) * 1000 / hz)) ms, all threads $((($4 - $2) * 1000 / hz)) ms" \
		"(teep-tam: $(((tcpu1 - tcpu0) * 1000 / hz)) ms)" >"$WORK/$name.cpu"
	stop_broker

	echo "== $name: $rogues rogue(s)"
	cat "$WORK/$name.out"
	sed 's/^teep-brokerd: notice: //' "$WORK/$name.counters"
	echo "broker: cpu $(cat "$WORK/$name.cpu"); peak RSS (VmHWM) $(cat "$WORK/$name.hwm") KiB"
	if [ "$rogues" -gt 0 ]; then
		local secs total max
		secs=$(sed -n 's/^rogues: .* offered for \([0-9.]*\) s.*/\1/p' "$WORK/$name.out")
		total=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/$name.tee")
		max=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$WORK/$name.tee")
		# per address: the first request, the burst, then the rate
		echo "$total $max $(awk -v s="$secs" -v r=$CALL_RATE -v b=$CALL_BURST \
			'BEGIN { printf "%d", 1 + b + r * s }')" >"$WORK/$name.teesum"
		echo "rogue requests that reached the TEE: $total in all, at most $max from one" \
			"address; the tee-calls limit allows $(cut -d' ' -f3 "$WORK/$name.teesum")" \
			"per address in ${secs} s"
	fi
	echo
}

echo "machine: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$CONFIG" = shipped ]; then
	echo "defences: as shipped (conf/teep-broker.conf):" $LIMITS
else
	echo "defences: messages ${MSG_RATE}r/s burst $MSG_BURST nodelay, tee-calls ${CALL_RATE}r/s" \
		"burst $CALL_BURST delay $CALL_DELAY, per address; bans: threshold 100, ban_time 1s..4s, allow none"
fi
echo
runs="baseline flood"
run baseline 0 "$BAN"
run flood "$ROGUES" "$BAN"
if [ "$CONFIG" = shipped ]; then
	run same-addr "$ROGUES" "$BAN" 127.0.0.1
	runs="$runs same-addr"
elif [ "$NO_BAN_RUN" = 1 ]; then
	run no-bans "$ROGUES" "[ban]
enabled = no"
	runs="$runs no-bans"
fi

# summary
field() { sed -n "s/^polite all: .*; ms: p50 \([0-9.]*\) p99 \([0-9.]*\) max \([0-9.]*\)/\\$2/p" \
	"$WORK/$1.out"; }
# polite ok: requests done with the expected result / sent; written: frames
# the rogues wrote into their sockets per second; read: rogue frames the
# broker read per second (its "frames in", less the polite app's, over the
# rogues' run time)
# rogues at TEE: rogue requests that reached the TEE (most from one address)
printf '%-9s %-10s %7s %7s %7s %9s %8s %15s %10s\n' run "polite ok" "p50 ms" "p99 ms" \
	"max ms" written read "rogues at TEE" "VmHWM KiB"
for r in $runs; do
	ok=$(sed -n 's/^polite all: \([0-9]*\) sent, \([0-9]*\) done (\([0-9]*\) .*/\2 \3 \1/p' \
		"$WORK/$r.out" | awk '{ print $1 - $2 "/" $3 }')
	rate=$(sed -n 's/^rogues: .* = \([0-9]*\) msg\/s.*/\1/p' "$WORK/$r.out")
	secs=$(sed -n 's/^rogues: .* offered for \([0-9.]*\) s.*/\1/p' "$WORK/$r.out")
	read=-
	polite=$(cat "$WORK/$r.warm" "$WORK/$r.out" |
		sed -n 's/^polite all: \([0-9]*\) sent.*/\1/p' | awk '{ n += $1 } END { print n }')
	[ -n "$secs" ] && read=$(sed -n 's/.*; frames \([0-9]*\) in .*/\1/p' "$WORK/$r.counters" |
		awk -v s="$secs" -v p="$polite" '{ printf "%.0f", ($1 - p) / s }')
	tee=-
	[ -f "$WORK/$r.teesum" ] && tee=$(awk '{ print $1 " (" $2 ")" }' "$WORK/$r.teesum")
	printf '%-9s %-10s %7s %7s %7s %9s %8s %15s %10s\n' "$r" "$ok" "$(field "$r" 1)" \
		"$(field "$r" 2)" "$(field "$r" 3)" "${rate:--}" "$read" "$tee" "$(cat "$WORK/$r.hwm")"
done
base=$(field baseline 2)
# the polite app's requests done with the expected result, per second
tput() { sed -n 's/^polite all: [0-9]* sent, \([0-9]*\) done (\([0-9]*\) .*/\1 \2/p' "$WORK/$1.out" |
	awk -v s="$(sed -n 's/^polite: \([0-9.]*\) s, .*/\1/p' "$WORK/$1.out")" \
		'{ if (s > 0) printf "%.2f", ($1 - $2) / s }'; }
tbase=$(tput baseline)
for r in $runs; do
	[ "$r" = baseline ] && continue
	awk -v a="$(field "$r" 2)" -v b="$base" -v r="$r" -v t="$(tput "$r")" -v tb="$tbase" \
		'BEGIN { if (b > 0 && tb > 0) printf "p99 %s / baseline: %.2f; throughput %s / baseline: %.2f (%s / %s requests/s)\n", r, a / b, r, t / tb, t, tb }'
done
