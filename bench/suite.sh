#!/bin/bash
# The benchmark suite: teep-brokerd against its floor, a bare libwebsockets
# echo server (bench/ws-echo) driven by the same load client (bench/teep-load)
# in the same run. Loopback only; every scenario is bounded in count and
# time and stops by itself. Use a build without sanitizers:
#
#   ./configure && make && make bench && bench/suite.sh . [SCENARIO...]
#
# (from the build directory; the first argument is the build directory)
#
# Scenarios (all of them when none is named):
#   loop      a frame the broker answers on its loop (malformed), 1/64/1000
#             connections
#   tee       request-ta of an installed component (one TEE call, no TAM),
#             1/64/1000 connections
#   lowrate   the same request at 50 requests/s on one connection, three
#             rounds of the broker and the floor in turn
#   install   full install + uninstall sessions with the reference TAM over
#             HTTP and over HTTPS: latency, the broker's CPU per session (all
#             threads, and its event loop thread's own), and its TAM
#             connections opened and reused per session (over HTTPS, each
#             opened one is a TLS handshake)
#   idle      10000 and 20000 idle connections: memory per connection
#   big       one 16 MiB component installed: the broker's peak RSS growth
#   flood     bench/flood.sh: rogue apps flooding, a polite app measured,
#             with the defended configuration and the shipped one
#
# Each measurement prints one machine-readable line ("load ..." or
# "bench ..."), and the suite ends with a table of the broker's figures as
# ratios to the floor measured in the same run.
#
# SIZE=tiny runs every scenario with a few requests and connections: a smoke
# test (make check runs it), not a measurement; its big component (1.5 MiB)
# is still over the sim Agent's default max_message. N_REQ and CONNS, if set,
# replace the size's request count and connection counts of the loop and
# tee scenarios (e.g. N_REQ=5000 CONNS="1 64" on a busy machine); IDLE_CONNS
# the connection counts of the idle scenario (e.g. IDLE_CONNS=20000);
# N_INSTALL the install scenario's session count.
#
# BROKER_DIR, if set, is another build directory whose teep-brokerd and sim
# driver are measured (an older build, for a before/after comparison); the
# clients, the TAM and the floor always come from the first.
set -u
top_builddir=$(cd "${1:?usage: suite.sh BUILD_DIR [SCENARIO...]}" && pwd)
shift
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
. "$top_srcdir/tests/integration/lib.sh"
LOAD="$top_builddir/bench/teep-load"
ECHO_BIN="$top_builddir/bench/ws-echo"
for p in "$LOAD" "$ECHO_BIN" "$BENCH"; do
	[ -x "$p" ] || { echo "build it first: make bench ($p missing)"; exit 1; }
done
SCENARIOS=${*:-loop tee lowrate install idle big flood}
SIZE=${SIZE:-full}
N_REQ_ENV=${N_REQ:-}
N_INSTALL_ENV=${N_INSTALL:-}
CONNS_ENV=${CONNS:-}
IDLE_ENV=${IDLE_CONNS:-}
if [ "$SIZE" = tiny ]; then
	N_REQ=200 CONNS="1 8" N_LOW=20 LOW_RATE=50 N_INSTALL=10 IDLE="50" BIG=$((1536 * 1024))
else
	N_REQ=20000 CONNS="1 64 1000" N_LOW=500 LOW_RATE=50 N_INSTALL=1000 IDLE="10000 20000"
	BIG=$((16 * 1024 * 1024))
fi
N_INSTALL=${N_INSTALL_ENV:-$N_INSTALL}
N_REQ=${N_REQ_ENV:-$N_REQ}
CONNS=${CONNS_ENV:-$CONNS}
IDLE=${IDLE_ENV:-$IDLE}
if [ -n "${BROKER_DIR:-}" ]; then
	BROKER_BIN="$BROKER_DIR/teep-brokerd"
	DRIVER_PATH="$BROKER_DIR/.libs/sim.so"
	export DRIVER_PATH
fi
RESULTS=$WORK/results
: >"$RESULTS"
emit() { echo "$*" | tee -a "$RESULTS"; }

echo "machine: $(nproc) cores, $(uname -r),$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "size: $SIZE"

# The broker: the reference TAM, the sim TEE, a component installed; limits
# lifted for one address holding many connections, warnings only in the log.
broker_up() {
	local max=$((${IDLE##* } + 1100))
	sed -i 's/^log_level = info/log_level = warn/' "$WORK/broker.conf"
	sed -i "s/^\[listener\]/[listener]\nmax_connections = $max\nmax_connections_per_ip = $max/" \
		"$WORK/broker.conf"
	start_broker
}
echo_up() {
	rm -f "$WORK/echo.port"
	"$ECHO_BIN" --port-file "$WORK/echo.port" >"$WORK/echo.log" 2>&1 &
	ECHO_PID=$!
	PIDS="$PIDS $ECHO_PID"
	wait_file "$WORK/echo.port" 10 || fail "ws-echo did not start"
	ECHO_URL="ws://127.0.0.1:$(cat "$WORK/echo.port")/"
}

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
broker_up
echo_up
"$UA" --url "$URL" request-ta "$TC_UUID" >/dev/null || fail "first install"

# The admin listener (/metrics) of the install scenario's brokers
ADMIN_SECTION="[admin]
enabled = yes
port = 0
port_file = $WORK/admin.port"
# tam_counters: the broker's TAM counters from /metrics, one "NAME VALUE"
# line each (posts, conns, reused, failures), over bash's /dev/tcp
tam_counters() {
	local port
	port=$(cat "$WORK/admin.port") || return 1
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
	timeout 10 cat <&3 >"$WORK/metrics.raw"
	exec 3<&-
	awk '$1 == "teep_tam_posts_total" { print "posts", $2 }
		$1 == "teep_tam_connections_total" { print "conns", $2 }
		$1 == "teep_tam_connections_reused_total" { print "reused", $2 }
		$1 == "teep_tam_failures_total" { print "failures", $2 }
		$1 == "teep_tam_tls_handshakes_total" { print "tls", $2 }
		$1 == "teep_tam_tls_resumed_total" { print "resumed", $2 }' "$WORK/metrics.raw" | sort |
		grep . || return 1
}
# loop_ns: the CPU time of the broker's event loop thread (the main
# thread) in ns, from schedstat; empty where the kernel has no schedstat
loop_ns() {
	awk '{ print $1 }' "/proc/$BROKER_PID/task/$BROKER_PID/schedstat" 2>/dev/null
}

# pair LABEL KIND CONNS [teep-load options]: the broker, then the floor
pair() {
	local label=$1 kind=$2 conns=$3
	shift 3
	local req=("$kind")
	[ "$kind" = request-ta ] && req=(request-ta "$TC_UUID")
	"$LOAD" --url "$URL" --pid "$BROKER_PID" --conns "$conns" --label "$label/broker" "$@" \
		"${req[@]}" | tee -a "$RESULTS" || fail "$label: teep-load against the broker"
	"$LOAD" --url "$ECHO_URL" --echo --pid "$ECHO_PID" --conns "$conns" --label "$label/echo" "$@" \
		"${req[@]}" | tee -a "$RESULTS" || fail "$label: teep-load against ws-echo"
}

for s in $SCENARIOS; do
	case $s in
	loop | tee)
		kind=malformed
		[ "$s" = tee ] && kind=request-ta
		for c in $CONNS; do pair "$s-$c" "$kind" "$c" --requests "$N_REQ" --duration 60; done
		;;
	lowrate)
		# three rounds, the broker and the floor in turn: at this rate
		# each request wakes idle cores, and one run against the other
		# differs by more than the broker does (compare the rounds'
		# median)
		for r in 1 2 3; do
			pair "lowrate-$r" request-ta 1 --requests "$N_LOW" --rate "$LOW_RATE" --duration 60
		done
		;;
	install)
		# A broker of its own for each protocol, with the admin listener
		# for its TAM counters. The CPU figures: all the broker's threads
		# (the sim Agent's ECDSA runs on the TEE's worker thread), and the
		# event loop thread's own (the main thread), from schedstat (ns)
		# where the kernel has it, else from the clock ticks of stat
		# (resolution 1/CLK_TCK s over the sessions, printed).
		for proto in http https; do
			kill -TERM "$TAM_PID" "$BROKER_PID"
			wait "$TAM_PID" "$BROKER_PID" 2>/dev/null
			if [ "$proto" = https ]; then
				"$TOOL" cert ca "$WORK/ca.key" "$WORK/ca.pem" --cn bench-ca >/dev/null || fail "ca"
				"$TOOL" cert server "$WORK/ca.key" "$WORK/ca.pem" "$WORK/tls.key" "$WORK/tls.pem" \
					--cn 127.0.0.1 --san IP:127.0.0.1 >/dev/null || fail "cert"
				start_tam --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key"
				CONF_EXTRA=$ADMIN_SECTION write_conf "https://127.0.0.1:$TAM_PORT/tam" \
					"ca_file = $WORK/ca.pem"
			else
				start_tam
				CONF_EXTRA=$ADMIN_SECTION write_conf "http://127.0.0.1:$TAM_PORT/tam"
			fi
			rm -f "$WORK/admin.port"
			broker_up
			wait_file "$WORK/admin.port" 10 || fail "install over $proto: no admin listener"
			"$UA" --url "$URL" unrequest-ta "$TC_UUID" >/dev/null
			tam_counters >"$WORK/tam0" || fail "install over $proto: /metrics"
			cpu0=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
			loop0=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/task/$BROKER_PID/stat")
			ns0=$(loop_ns)
			out=$("$BENCH" --url "$URL" rtt "$N_INSTALL" install "$TC_UUID") ||
				fail "install over $proto: $out"
			ns1=$(loop_ns)
			loop1=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/task/$BROKER_PID/stat")
			cpu1=$(awk '{print $14 + $15}' "/proc/$BROKER_PID/stat")
			tam_counters >"$WORK/tam1" || fail "install over $proto: /metrics"
			hz=$(getconf CLK_TCK)
			if [ -n "$ns0" ] && [ -n "$ns1" ]; then
				loop_us=$(((ns1 - ns0) / 1000 / N_INSTALL))
			else
				loop_us="$(((loop1 - loop0) * 1000000 / hz / N_INSTALL))(+-$((1000000 / hz / N_INSTALL)))"
			fi
			# per session: TAM connections opened and reused, POSTs; over
			# https the TLS handshakes, and how many resumed the session
			# the TAM gave on an earlier connection
			per=$(paste "$WORK/tam0" "$WORK/tam1" | awk -v n="$N_INSTALL" -v p="$proto" '
				{ d[$1] = $4 - $2 }
				END {
					printf "tam_posts_per_session=%.2f tam_conns_per_session=%.2f tam_reused_per_session=%.2f tam_failures=%d",
					    d["posts"] / n, d["conns"] / n, d["reused"] / n, d["failures"]
					if (p == "https") printf " tls_handshakes_per_session=%.2f tls_resumed_per_session=%.2f", d["tls"] / n, d["resumed"] / n
				}')
			emit "bench label=install-$proto sessions=$N_INSTALL" \
				"$(echo "$out" | sed -n 's/.*us: min \([0-9]*\) p50 \([0-9]*\) p90 \([0-9]*\) p99 \([0-9]*\) max \([0-9]*\)/p50_us=\2 p90_us=\3 p99_us=\4 max_us=\5/p')" \
				"cpu_us_per_session=$(((cpu1 - cpu0) * 1000000 / hz / N_INSTALL))" \
				"loop_cpu_us_per_session=$loop_us" \
				"loop_cpu_tick_us_per_session=$(((loop1 - loop0) * 1000000 / hz / N_INSTALL))" \
				"$per"
			"$UA" --url "$URL" request-ta "$TC_UUID" >/dev/null || fail "reinstall"
		done
		;;
	idle)
		# A server holds one descriptor per connection plus a few of its
		# own (about 30 for the broker): where the hard open files limit
		# cannot be raised (no CAP_SYS_RESOURCE) the count stops below it.
		# The clients hold at most 10000 each, in several processes.
		hard=$(ulimit -Hn)
		for n in $IDLE; do
			want=$n
			if [ "$hard" != unlimited ] && [ "$n" -gt $((hard - 100)) ]; then
				n=$((hard - 100))
				echo "idle: $want connections capped at $n by the open files hard limit ($hard)"
			fi
			for who in broker echo; do
				if [ $who = broker ]; then u=$URL pid=$BROKER_PID; else u=$ECHO_URL pid=$ECHO_PID; fi
				rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
				left=$n holders=""
				while [ "$left" -gt 10000 ]; do
					# a part held in the background while the rest connects
					"$BENCH" --url "$u" --deadline 300 idle 10000 290 >"$WORK/hold.$left" 2>&1 &
					holders="$holders $!"
					wait_line "$WORK/hold.$left" "holding them" 200 ||
						fail "idle $n against $who: $(cat "$WORK/hold.$left")"
					grep -q "up, 0 failed" "$WORK/hold.$left" ||
						fail "idle $n against $who: $(cat "$WORK/hold.$left")"
					left=$((left - 10000))
				done
				out=$("$BENCH" --url "$u" --pid "$pid" idle "$left" 2) || fail "idle $n against $who: $out"
				rss1=$(echo "$out" | sed -n 's/.*KiB before, \([0-9]*\) KiB with.*/\1/p')
				for h in $holders; do kill -TERM "$h" 2>/dev/null; wait "$h" 2>/dev/null; done
				emit "bench label=idle-$want/$who conns=$n rss_kib_before=$rss0 rss_kib_with=$rss1" \
					"bytes_per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')"
			done
		done
		;;
	big)
		# a new broker and TAM that take a component of BIG bytes
		kill -TERM "$TAM_PID" "$BROKER_PID"
		wait "$TAM_PID" "$BROKER_PID" 2>/dev/null
		head -c "$BIG" /dev/urandom >"$WORK/big.bin"
		"$TOOL" manifest --component big --payload "$WORK/big.bin" --key "$WORK/signer.pem" \
			-o "$WORK/catalog/big.suit" >/dev/null || fail "big manifest"
		start_tam --max-manifest $((BIG * 2 + 65536)) --max-body $((BIG * 2 + 65536))
		# the sim Agent takes a TEEP message of that size too (its
		# max_message is 1 MiB by default)
		SIM_EXTRA="max_message = $((BIG * 2 + 65536))" \
			write_conf "http://127.0.0.1:$TAM_PORT/tam" "max_response_size = $((BIG * 2 + 65536))"
		broker_up
		hwm0=$(awk '/VmHWM/ {print $2}' "/proc/$BROKER_PID/status")
		t0=$(date +%s%N)
		"$UA" --url "$URL" --timeout 120 request-ta big >"$WORK/big.out" 2>&1 ||
			fail "big install: $(cat "$WORK/big.out")"
		t1=$(date +%s%N)
		hwm1=$(awk '/VmHWM/ {print $2}' "/proc/$BROKER_PID/status")
		emit "bench label=big bytes=$BIG ms=$(((t1 - t0) / 1000000)) peak_rss_growth_kib=$((hwm1 - hwm0))" \
			"growth_per_byte=$(awk -v g=$((hwm1 - hwm0)) -v b="$BIG" 'BEGIN { printf "%.2f", g * 1024 / b }')"
		;;
	flood)
		if [ "$SIZE" = tiny ]; then
			DURATION=2 ROGUES=2 RATE=500 NO_BAN_RUN=0 bash "$top_srcdir/bench/flood.sh" "$top_builddir" \
				>"$WORK/flood.out" 2>&1 || fail "flood: $(tail -n 20 "$WORK/flood.out")"
		else
			bash "$top_srcdir/bench/flood.sh" "$top_builddir" >"$WORK/flood.out" 2>&1 ||
				fail "flood: $(tail -n 20 "$WORK/flood.out")"
		fi
		grep -E "^(polite|run|  )" "$WORK/flood.out" | head -n 40
		emit "bench label=flood $(grep -c . "$WORK/flood.out") lines (see above)"
				# the same flood against the shipped configuration, rogues from
		# their own addresses and from the polite app's
		if [ "$SIZE" = tiny ]; then
			CONFIG=shipped DURATION=2 ROGUES=2 RATE=500 bash "$top_srcdir/bench/flood.sh" \
				"$top_builddir" >"$WORK/flood-shipped.out" 2>&1 ||
				fail "flood, shipped: $(tail -n 20 "$WORK/flood-shipped.out")"
		else
			CONFIG=shipped bash "$top_srcdir/bench/flood.sh" "$top_builddir" \
				>"$WORK/flood-shipped.out" 2>&1 ||
				fail "flood, shipped: $(tail -n 20 "$WORK/flood-shipped.out")"
		fi
		grep -E "^(run|baseline|flood|same-addr|p99)" "$WORK/flood-shipped.out"
		emit "bench label=flood-shipped $(grep -c . "$WORK/flood-shipped.out") lines (see above)"
		;;
	*)
		fail "unknown scenario $s"
		;;
	esac
done

# The table: every broker figure against the floor of the same run
echo
echo "ratios to the floor (ws-echo, same run, same client):"
awk '
	function kv(line, key,   m) { if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2); return "" }
	/^load / {
		label = kv($0, "label"); split(label, p, "/")
		for (k in keys) v[p[1], p[2], keys[k]] = kv($0, keys[k])
		if (!(p[1] in seen)) { seen[p[1]] = 1; order[n++] = p[1] }
	}
	/^bench label=idle-/ {
		label = kv($0, "label"); split(label, p, "/")
		v[p[1], p[2], "bytes_per_conn"] = kv($0, "bytes_per_conn")
		if (!(p[1] in seen)) { seen[p[1]] = 1; order[n++] = p[1] }
	}
	BEGIN { keys[1] = "p50_us"; keys[2] = "p99_us"; keys[3] = "rps"; keys[4] = "cpu_us_per_req" }
	END {
		printf "%-14s %12s %12s %12s %12s %14s\n", "scenario", "p50 (x)", "p99 (x)", "rps (x)", "cpu/req (x)", "bytes/conn (x)"
		for (i = 0; i < n; i++) {
			s = order[i]
			line = sprintf("%-14s", s)
			for (k = 1; k <= 4; k++) {
				b = v[s, "broker", keys[k]]; e = v[s, "echo", keys[k]]
				line = line sprintf(" %12s", (b != "" && e + 0 > 0) ? sprintf("%s (%.2f)", b, b / e) : "-")
			}
			b = v[s, "broker", "bytes_per_conn"]; e = v[s, "echo", "bytes_per_conn"]
			line = line sprintf(" %14s", (b != "" && e + 0 > 0) ? sprintf("%s (%.2f)", b, b / e) : "-")
			print line
		}
	}' "$RESULTS"
grep "^bench label=\(install\|big\)" "$RESULTS" | sed 's/^bench /  /'
