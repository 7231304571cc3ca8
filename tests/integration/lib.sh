# Shared helpers for the integration tests: they start the real programs
# (teep-tam, teep-brokerd with the sim driver, teep-ua) on loopback with
# ephemeral ports, wait for readiness through port files, and clean up.
# Sourced by each test; automake runs the tests with top_srcdir and
# top_builddir in the environment.
set -u

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
VECTORS="$top_srcdir/tests/data/vectors"
TOOL="$top_builddir/teep-tool"
TAM_BIN="$top_builddir/teep-tam"
BROKER_BIN="$top_builddir/teep-brokerd"
UA="$top_builddir/teep-ua"
BENCH="$top_builddir/bench/teep-bench"
SIM_SO="$top_builddir/.libs/sim.so"
AGENT_SO="$top_builddir/.libs/agent.so"
AGENTD_BIN="$top_builddir/teep-agentd"

# The Trusted Component of the draft's Appendix E examples
TC_UUID=8d82573a-926d-4754-9353-32dc29997f74

WORK=$(mktemp -d "${TMPDIR:-/tmp}/teep-it.XXXXXX")
PIDS=""

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f" >&2
		tail -n 40 "$f" >&2
	done
	exit 1
}

pass() { echo "ok - $*"; }

# hex2bin FILE: the bytes of a hex file (whitespace ignored), without xxd
hex2bin() {
	printf "$(tr -d ' \n\r' <"$1" | sed 's/../\\x&/g')"
}

# wait_file FILE [SECONDS]: until FILE exists and is not empty
wait_file() {
	local f=$1 n=$(( ${2:-10} * 20 ))
	while [ $n -gt 0 ]; do
		[ -s "$f" ] && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# wait_line FILE PATTERN [SECONDS]: until a line of FILE matches PATTERN
wait_line() {
	local f=$1 re=$2 n=$(( ${3:-10} * 20 ))
	while [ $n -gt 0 ]; do
		grep -q -- "$re" "$f" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# wait_exit PID SECONDS: wait for a process to end, return its status
wait_exit() {
	local pid=$1 n=$(( $2 * 20 ))
	while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.05
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then return 124; fi
	wait "$pid"
}

# keys and a catalog: TAM key, TC signer key, one manifest per component
make_keys() {
	"$TOOL" keygen "$WORK/tam.pem" "$WORK/tam_pub.pem" >/dev/null || fail "keygen tam"
	"$TOOL" keygen "$WORK/signer.pem" "$WORK/signer_pub.pem" >/dev/null || fail "keygen signer"
	mkdir -p "$WORK/catalog"
	mkdir -m 700 "$WORK/state"
	"$TOOL" keygen "$WORK/state/agent.pem" "$WORK/state/agent_pub.pem" >/dev/null ||
		fail "keygen agent"
}

# add_component UUID TEXT: a manifest installing TEXT as component UUID
add_component() {
	printf '%s' "$2" >"$WORK/payload-$1"
	"$TOOL" manifest --component "$1" --payload "$WORK/payload-$1" --key "$WORK/signer.pem" \
		--seq "${3:-1}" -o "$WORK/catalog/$1.suit" >/dev/null || fail "manifest $1"
}

# start_tam [extra teep-tam options...]: sets TAM_PORT, TAM_PID
start_tam() {
	rm -f "$WORK/tam.port"
	"$TAM_BIN" --key "$WORK/tam.pem" --agent-key "$WORK/state/agent_pub.pem" \
		--catalog "$WORK/catalog" --listen 127.0.0.1 --port 0 \
		--port-file "$WORK/tam.port" "$@" >"$WORK/tam.log" 2>&1 &
	TAM_PID=$!
	PIDS="$PIDS $TAM_PID"
	wait_file "$WORK/tam.port" 10 || fail "teep-tam did not start"
	TAM_PORT=$(cat "$WORK/tam.port")
}

# sim_options TAM_URI: the software Agent's options, for the sim driver's
# section and for teep-agentd's [agent] section; SIM_EXTRA, if set, holds
# more of them (e.g. "max_message = 40000000")
sim_options() {
	cat <<OPTS
state_dir = $WORK/state
agent_key = $WORK/state/agent.pem
tam_key = ${SIM_TAM_KEYS:-$WORK/tam_pub.pem}
tc_signer = $WORK/signer_pub.pem,$VECTORS/suit/appendixE_signer_public_key.pem
tam_uri = ${SIM_TAM_URI:-$1}
OPTS
	# SIM_EXTRA: more option lines, for the tests and benchmarks that need them
	[ -z "${SIM_EXTRA:-}" ] || printf '%s\n' "$SIM_EXTRA"
}

# start_agentd ADDR TAM_URI [options...]: teep-agentd with the software
# Agent of write_conf on ADDR (unix:PATH or vsock:CID:PORT), waits until it
# listens; sets AGENTD_PID. Its log is $WORK/agentd.log (appended to).
start_agentd() {
	local addr=$1 uri=$2
	shift 2
	{ echo "[agentd]"; echo "log_level = info"; echo "[agent]"; sim_options "$uri"; } \
		>"$WORK/agentd.conf"
	local before
	before=$(grep -c "listening on" "$WORK/agentd.log" 2>/dev/null)
	"$AGENTD_BIN" -c "$WORK/agentd.conf" -l "$addr" "$@" >>"$WORK/agentd.log" 2>&1 &
	AGENTD_PID=$!
	PIDS="$PIDS $AGENTD_PID"
	local n=200
	while [ "$(grep -c "listening on" "$WORK/agentd.log" 2>/dev/null)" -le "${before:-0}" ]; do
		kill -0 "$AGENTD_PID" 2>/dev/null || fail "teep-agentd exited"
		n=$((n - 1))
		[ $n -gt 0 ] || fail "teep-agentd did not start"
		sleep 0.05
	done
}

# write_conf TAM_URI [extra [tam] lines] : the broker configuration;
# SIM_TAM_URI, if set, is the sim Agent's own tam_uri (else TAM_URI);
# SIM_TAM_KEYS, if set, the sim Agent's tam_key list (else tam_pub.pem);
# BROKER_EXTRA and LISTENER_EXTRA hold more [broker] and [listener] lines,
# CONF_EXTRA more sections; DRIVER_SECTION, if set, replaces the [driver:sim]
# section
write_conf() {
	local uri=$1
	shift
	cat >"$WORK/broker.conf" <<CONF
[broker]
log_level = info
shutdown_grace = ${SHUTDOWN_GRACE:-5s}
${BROKER_EXTRA:-}

[listener]
address = 127.0.0.1
port = 0
port_file = $WORK/broker.port
max_message_size = ${MAX_MESSAGE_SIZE:-4096}
${LISTENER_EXTRA:-}

[tam]
uri = $uri
connect_timeout = 3s
response_timeout = ${RESPONSE_TIMEOUT:-10s}
$(printf '%s\n' "$@")

${DRIVER_SECTION:-[driver:sim]
path = ${DRIVER_PATH:-$SIM_SO}
$(sim_options "$uri")}

${CONF_EXTRA:-}
CONF
}

# start_broker: sets BROKER_PORT, BROKER_PID, URL
start_broker() {
	rm -f "$WORK/broker.port"
	[ -n "$BROKER_WRAP" ] && echo "# teep-brokerd runs under ${BROKER_WRAP%% *}"
	$BROKER_WRAP "$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/broker.log" 2>&1 &
	BROKER_PID=$!
	PIDS="$PIDS $BROKER_PID"
	wait_file "$WORK/broker.port" 20 || fail "teep-brokerd did not start"
	BROKER_PORT=$(cat "$WORK/broker.port")
	URL="ws://127.0.0.1:$BROKER_PORT/"
}
BROKER_WRAP=${BROKER_WRAP:-}

# stop_broker: SIGTERM, then wait (bounded) for a clean exit
stop_broker() {
	kill -TERM "$BROKER_PID"
	wait_exit "$BROKER_PID" 20 || fail "teep-brokerd did not stop cleanly (status $?)"
}

# broker_counters: have the broker log its counters (SIGUSR1) and print
# them, the general line and one line per defence table
broker_counters() {
	local marker="addresses with open connections" before
	before=$(grep -c "$marker" "$WORK/broker.log")
	kill -USR1 "$BROKER_PID"
	local n=200
	while [ "$(grep -c "$marker" "$WORK/broker.log")" -le "$before" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || fail "teep-brokerd did not log its counters"
		sleep 0.05
	done
	awk -v m="$marker" '/counters:/ { block = "" } { block = block $0 "\n" }
		index($0, m) { last = block } END { printf "%s", last }' "$WORK/broker.log"
}

# ua ARGS...: run teep-ua against the broker, output in $WORK/ua.out
ua() {
	"$UA" --url "$URL" --timeout "${UA_TIMEOUT:-30}" "$@" >"$WORK/ua.out" 2>&1
}

# the directory where the sim driver keeps a component
tc_dir() {
	local hex
	hex=$(echo "$1" | tr -d '-')
	echo "$WORK/state/tc/TEEP-Device/SecureFS/0x$hex/ta"
}

# all standard parts up and running
standard_setup() {
	make_keys
	add_component "${1:-$TC_UUID}" "${2:-Hello, Secure World!}"
	start_tam
	write_conf "http://127.0.0.1:$TAM_PORT/tam"
	start_broker
}
