#!/bin/bash
# The five packaging cases of the TEEP use case for confidential computing
# in network (docs/use-cases.md), each run end to end on this machine:
#
#   Network User   its packages (UA, TA, personalization data), built here;
#                  when it delivers to the TEE itself it is its own TAM:
#                  teep-tam --via-broker, an app of the broker (tam-session)
#   Network M/OC   the operator: the device's configuration and its TAM,
#                  teep-tam over HTTP, the Verifier (--attest)
#   the device     teep-brokerd with the software TEE driver (the sim Agent),
#                  and an REE directory where the REE side places UAs
#
# Every process listens on 127.0.0.1 with a port the kernel picks. Each step
# is printed as the use case names it ({att TEEP Agent}, {TA->...}, ...).
# Evidence that fails appraisal stops the case before the TA or the data
# reach the Agent.
#
# Usage: tools/usecase.sh BUILD_DIR CASE [options]
#   CASE                 case1 .. case5
#   --evidence KIND      good (default); wrong-measurement: the Verifiers
#                        expect another build of the Agent; untrusted-key:
#                        the Verifiers trust another attestation key
#   --without-ua         case3, case4: the variant without a UA
#   --tee KIND           sim (default): the software TEE driver, in the
#                        broker, for the "confidential process" column;
#                        cvm: the same software Agent as a process of its
#                        own, teep-agentd, reached through the agent driver
#                        on a unix socket, as a broker reaches an Agent in a
#                        confidential VM over vsock (the "confidential VM"
#                        column)
#   --dir DIR            keep keys, packages, logs and the TEE state in DIR
#                        (must not exist); default: a temporary directory,
#                        removed at the end
# Exit status: 0 the case completed; 1 it stopped at a failed appraisal
# (nothing past that step reached the Agent); 2 usage; 3 a failure of the
# run itself (a program did not start, an unexpected answer).
set -u

usage() {
	sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
B=$(cd "$1" 2>/dev/null && pwd) || usage
CASE=$2
shift 2
EVIDENCE=good
WITH_UA=1
DIR=""
TEE=sim
while [ $# -gt 0 ]; do
	case $1 in
	--evidence) [ $# -ge 2 ] || usage; EVIDENCE=$2; shift 2 ;;
	--without-ua) WITH_UA=0; shift ;;
	--dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
	--tee) [ $# -ge 2 ] || usage; TEE=$2; shift 2 ;;
	*) usage ;;
	esac
done
case $CASE in case[1-5]) ;; *) usage ;; esac
case $EVIDENCE in good | wrong-measurement | untrusted-key) ;; *) usage ;; esac
case $TEE in
sim) INSTANCE="Confidential Process" ;;
cvm) INSTANCE="Confidential VM" ;;
*) usage ;;
esac
if [ $WITH_UA = 0 ] && [ "$CASE" != case3 ] && [ "$CASE" != case4 ]; then
	echo "usecase: --without-ua is a variant of case3 and case4 only" >&2
	exit 2
fi
for p in teep-tool teep-tam teep-brokerd teep-ua .libs/sim.so .libs/auth-token.so \
	$([ $TEE = cvm ] && echo teep-agentd .libs/agent.so); do
	[ -e "$B/$p" ] || { echo "usecase: $B/$p is missing: build first" >&2; exit 2; }
done

if [ -n "$DIR" ]; then
	[ -e "$DIR" ] && { echo "usecase: $DIR exists" >&2; exit 2; }
	mkdir -p "$DIR" || exit 3
	W=$(cd "$DIR" && pwd)
	KEEP=1
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/teep-usecase.XXXXXX") || exit 3
	KEEP=0
fi
PIDS=""
stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	[ $KEEP = 1 ] || rm -rf "$W"
}
trap stop_all EXIT

STEP=0
say() { printf '%s\n' "$*"; }
step() {
	STEP=$((STEP + 1))
	printf '[%d] %s\n' "$STEP" "$*"
}
detail() { printf '      %s\n' "$*"; }
# broken WHAT LOG: the run itself failed (not an appraisal)
broken() {
	echo "usecase: $1" >&2
	[ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2" >&2
	exit 3
}
# stopped WHY: a Verifier's appraisal was not affirming: nothing more is sent
stopped() {
	detail "$1"
	say "STOPPED: the attestation result is not affirming; nothing after this step was sent"
	say "TEE state: $(tee_contents)"
	exit 1
}
wait_file() {
	for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	return 1
}
# lines_after FILE N: the lines of FILE after its first N
lines_after() { tail -n "+$(($2 + 1))" "$1"; }
# moc_trace FROM: the M/OC TAM's trace of the exchange that just ended, in
# moc/step.log. The TAM logs through a writer thread, so its last line may
# land after the app has its answer: wait (bounded) for the Update that
# ends an attested exchange, affirming or not.
moc_trace() {
	for _ in $(seq 1 100); do
		lines_after "$W/moc/tam.log" "$1" | grep -q -- "-> Update " && break
		sleep 0.05
	done
	lines_after "$W/moc/tam.log" "$1" >"$W/moc/step.log"
}
nlines() { wc -l <"$1"; }
# the components in the software TEE's storage, or "empty"
tee_contents() {
	local d="$W/device/state/tc" list
	list=$(cd "$d" 2>/dev/null && find . -name image | sed 's|^\./||; s|/image$||' | sort)
	echo "${list:-empty}" | tr '\n' ' ' | sed 's/ $//'
}
# appraisal TRACE: the Verifier's verdict line in a TAM trace
appraisal() { grep -o "attestation result: [a-z]*.*" "$1" | head -n 1; }

N=${CASE#case}
TA_UUID=$(printf '8d82573a-926d-4754-9353-32dc29997f7%d' "$N")
PD_ID="TEEP-Device/SecureFS/case$N-pd.json"
UAPD_ID="TEEP-Device/SecureFS/case5-ua-pd.tar"
SECRET="{\"vehicle\":\"case$N\",\"route-key\":\"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')\"}"

mkdir -p "$W/moc/catalog" "$W/nu/catalog" "$W/nu/src" "$W/device/ree/apps" || exit 3
mkdir -m 700 "$W/device/state" || exit 3
T="$B/teep-tool"

# --- keys: who holds which ---------------------------------------------------
"$T" keygen "$W/moc/tam.pem" "$W/moc/tam_pub.pem" >/dev/null || broken "keygen"
"$T" keygen "$W/nu/signer.pem" "$W/nu/signer_pub.pem" >/dev/null || broken "keygen"
"$T" keygen "$W/nu/nu-tam.pem" "$W/nu/nu-tam_pub.pem" >/dev/null || broken "keygen"
# the Agent's TEEP key and its attestation key stay on the device; their
# public halves are what the operator tells the Verifiers
"$T" keygen "$W/device/state/agent.pem" "$W/device/agent_pub.pem" >/dev/null || broken "keygen"
"$T" keygen "$W/device/state/attestation.pem" "$W/device/attestation_pub.pem" >/dev/null ||
	broken "keygen"

# --- reference values the Verifiers appraise Evidence against ----------------
# The software Agent measures the object file of its code
# (docs/teep-support.md section 6): the sim driver, or teep-agentd.
if [ $TEE = cvm ]; then
	MEAS=$(sha256sum "$B/teep-agentd" | cut -d' ' -f1)
else
	MEAS=$(sha256sum "$B/.libs/sim.so" | cut -d' ' -f1)
fi
ATT_PUB="$W/device/attestation_pub.pem"
case $EVIDENCE in
wrong-measurement)
	MEAS=$(printf 'another build of the Agent' | sha256sum | cut -d' ' -f1) ;;
untrusted-key)
	"$T" keygen "$W/moc/other_att.pem" "$W/moc/other_att_pub.pem" >/dev/null ||
		broken "keygen"
	ATT_PUB="$W/moc/other_att_pub.pem" ;;
esac
VERIFY=(--attest --attestation-key "$ATT_PUB" --expect-measurement "$MEAS"
	--allowed-tee software)

# --- the Network User's packages ---------------------------------------------
# ta: a Trusted Application, a SUIT envelope signed by the Network User
# pd: personalization data, encrypted for the device's Agent (COSE_Encrypt)
#     and depending on the TA; only the TEE can read it
# ua: the Untrusted Application, a program for the REE: it asks the broker
#     for its TA (RFC 9397 section 4.3) when started
make_ta() {
	printf 'TA of case %s' "$N" >"$W/nu/src/ta.bin"
	"$T" manifest --component "$TA_UUID" --payload "$W/nu/src/ta.bin" \
		--key "$W/nu/signer.pem" -o "$1/ta.suit" >/dev/null || broken "manifest ta"
}
make_pd() { # DIR ID FILE: FILE as data for the TA, encrypted for the Agent
	"$T" manifest --component "$2" --data "$3" --key "$W/nu/signer.pem" \
		--encrypt-for "$W/device/agent_pub.pem" --depends-on "$W/nu/src/ta.suit" \
		-o "$1/$(basename "$2").suit" >/dev/null || broken "manifest pd"
}
make_ua() {
	cat >"$1/ua" <<UA
#!/bin/sh
# The UA of case $N: started by the REE, it asks the broker for its TA.
exec "\${TEEP_UA:?}" --url "\${BROKER_URL:?}" --token-file "\$(dirname "\$0")/ua.token" \\
	--timeout 20 request-ta $TA_UUID
UA
	chmod 755 "$1/ua"
}
printf '%s' "$SECRET" >"$W/nu/src/pd.json"
make_ta "$W/nu/src"
# pkg VAR NAME PART...: a package of the Network User, its parts copied
# in; VAR is set to its directory
pkg() {
	local var=$1 d="$W/nu/pkg-$2"
	shift
	shift
	mkdir -p "$d"
	for part in "$@"; do
		case $part in
		ua) make_ua "$d" ;;
		ta) cp "$W/nu/src/ta.suit" "$d/" ;;
		pd) make_pd "$d" "$PD_ID" "$W/nu/src/pd.json" ;;
		ua+pd)
			make_ua "$W/nu/src"
			tar -C "$W/nu/src" -cf "$W/nu/src/ua-pd.tar" ua pd.json || broken "tar"
			make_pd "$d" "$UAPD_ID" "$W/nu/src/ua-pd.tar" ;;
		esac
	done
	printf -v "$var" '%s' "$d"
}

# --- the device and the M/OC -------------------------------------------------
UA_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
MOC_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
NU_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')

start_moc_tam() {
	"$B/teep-tam" --key "$W/moc/tam.pem" --agent-key "$W/device/agent_pub.pem" \
		--catalog "$W/moc/catalog" --listen 127.0.0.1 --port 0 \
		--port-file "$W/moc/tam.port" "${VERIFY[@]}" "$@" >"$W/moc/tam.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_file "$W/moc/tam.port" || broken "the M/OC TAM did not start" "$W/moc/tam.log"
	TAM_URI="http://127.0.0.1:$(cat "$W/moc/tam.port")/tam"
}

# the software Agent's options, for the sim driver's section and for
# teep-agentd's [agent] section
agent_options() {
	cat <<OPTS
state_dir = $W/device/state
agent_key = $W/device/state/agent.pem
attestation_key = $W/device/state/attestation.pem
tam_key = $W/moc/tam_pub.pem,$W/nu/nu-tam_pub.pem
tc_signer = $W/nu/signer_pub.pem
tam_uri = $TAM_URI
OPTS
}

# start_agentd: the Agent as a process (a stand-in for one in a confidential
# VM) on a unix socket; waits until it listens
start_agentd() {
	{ echo "[agentd]"; echo "log_level = info"; echo "[agent]"; agent_options; } \
		>"$W/device/agentd.conf"
	"$B/teep-agentd" -c "$W/device/agentd.conf" -l "unix:$W/device/agentd.sock" \
		>"$W/device/agentd.log" 2>&1 &
	AGENTD_PID=$!
	PIDS="$PIDS $AGENTD_PID"
	for _ in $(seq 1 200); do
		grep -q "listening on" "$W/device/agentd.log" && return 0
		kill -0 "$AGENTD_PID" 2>/dev/null || break
		sleep 0.05
	done
	broken "teep-agentd did not start" "$W/device/agentd.log"
}

# the broker's section for the TEE
driver_section() {
	if [ $TEE = cvm ]; then
		printf '[driver:cvm]\npath = %s\nsocket = unix:%s\ncall_timeout = 20s\n' \
			"$B/.libs/agent.so" "$W/device/agentd.sock"
	else
		printf '[driver:sim]\npath = %s\n' "$B/.libs/sim.so"
		agent_options
	fi
}

start_device() {
	[ $TEE = cvm ] && start_agentd
	# who may use the broker: the UA (its TA only), the M/OC's agent in the
	# REE (policy checks) and the Network User (as its own TAM)
	printf '%s\tua\t%s\t-\n%s\tmoc\t-\t-\n%s\tnu\t-\t-\n' "$UA_TOKEN" "$TA_UUID" \
		"$MOC_TOKEN" "$NU_TOKEN" >"$W/device/tokens"
	chmod 600 "$W/device/tokens"
	cat >"$W/device/teep-broker.conf" <<CONF
[broker]
log_level = info

[listener]
address = 127.0.0.1
port = 0
port_file = $W/device/broker.port
max_message_size = 64k

[tam]
uri = $TAM_URI
connect_timeout = 3s
response_timeout = 10s

$(driver_section)

[plugin:auth]
path = $B/.libs/auth-token.so
token_file = $W/device/tokens

[app-tam:nu]
key = $W/nu/nu-tam_pub.pem
tee = $TEE
max_messages = 8
idle_timeout = 10s
CONF
	"$B/teep-brokerd" -f -c "$W/device/teep-broker.conf" >"$W/device/broker.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_file "$W/device/broker.port" || broken "teep-brokerd did not start" "$W/device/broker.log"
	URL="ws://127.0.0.1:$(cat "$W/device/broker.port")/"
}

# --- the steps ---------------------------------------------------------------
request_resource() {
	step "Network User -> Network M/OC: request confidential computing resource"
	detail "packages of the Network User: $1"
}

orchestrate() {
	step "Network M/OC orchestrates the confidential computing device"
	start_moc_tam "$@"
	start_device
	if [ $TEE = cvm ]; then
		detail "device: teep-brokerd at $URL; the TEE: teep-agentd, the software Agent in a process of its own, reached by the agent driver on a unix socket (vsock for a confidential VM guest)"
	else
		detail "device: teep-brokerd at $URL; the TEE: the software Agent of the sim driver"
	fi
	detail "M/OC TAM (Verifier): $TAM_URI, reference values: Agent measurement ${MEAS:0:16}.., attestation key $(basename "$ATT_PUB")"
	detail "the Agent trusts the M/OC TAM and the Network User's TAM key; the broker lets identity 'nu' act as its own TAM ([app-tam:nu])"
	if [ "$(ls "$W/moc/catalog")" ]; then
		detail "the Network User transferred to the M/OC TAM: $(cd "$W/moc/catalog" && echo *)"
	fi
}

# ua_to_ree PKG: the REE side places the UA of a package; the broker has no
# part in it (RFC 9397 leaves installing UAs to the REE)
ua_to_ree() {
	local app="$W/device/ree/apps/case$N"
	step "{UA->REE} the REE's installer places the UA of $(basename "$1") in the REE"
	mkdir -p "$app"
	install -m 755 "$1/ua" "$app/ua" || broken "placing the UA"
	(umask 077 && printf '%s\n' "$UA_TOKEN" >"$app/ua.token")
	detail "$app/ua, with the token the operator issued for it (identity 'ua': may ask for $TA_UUID only)"
}

# ua_run [trace]: the REE starts the UA; it asks the broker for its TA.
# Returns the UA's exit status; its output is in ua.out. With "trace", the
# request is expected to reach the M/OC TAM: its trace goes to moc/step.log
ua_run() {
	local from
	from=$(nlines "$W/moc/tam.log")
	TEEP_UA="$B/teep-ua" BROKER_URL="$URL" "$W/device/ree/apps/case$N/ua" \
		>"$W/device/ree/ua.out" 2>&1
	UA_RC=$?
	[ "${1:-}" = trace ] && moc_trace "$from"
	detail "the UA: $(tail -n 1 "$W/device/ree/ua.out")"
	return $UA_RC
}

# moc_policy_check: the M/OC's agent in the REE asks the device to contact
# its TAM now (teep-ua policy-check); the TAM trace of the exchange is in
# moc/step.log
moc_policy_check() {
	local from
	from=$(nlines "$W/moc/tam.log")
	"$B/teep-ua" --url "$URL" --token "$MOC_TOKEN" --timeout 20 policy-check \
		>"$W/moc/policy.out" 2>&1
	MOC_RC=$?
	moc_trace "$from"
	return $MOC_RC
}

# nu_session COMPONENT: the Network User as its own TAM, through the broker,
# with attestation: one tam-session whose QueryRequest carries a challenge;
# the Update with COMPONENT follows only an affirming appraisal. Its trace
# is in nu/session.log, its events in nu/session.out
nu_session() {
	"$B/teep-tam" --via-broker "$URL" --token "$NU_TOKEN" --tee "$TEE" \
		--key "$W/nu/nu-tam.pem" --agent-key "$W/device/agent_pub.pem" \
		--catalog "$W/nu/catalog" --push "$1" "${VERIFY[@]}" --timeout 20 \
		>"$W/nu/session.out" 2>"$W/nu/session.log"
	NU_RC=$?
	# 6: the session stopped after a non-affirming appraisal (teep-tam(1))
	case $NU_RC in 0 | 1 | 6) ;; *) broken "the Network User's tam-session: exit $NU_RC" \
		"$W/nu/session.log" ;; esac
}

# att_step TRACE WHO: print the appraisal of a TEEP exchange; stop the case
# unless it was affirming
att_step() {
	local verdict
	verdict=$(appraisal "$1")
	[ -n "$verdict" ] || broken "no attestation in the exchange" "$1"
	grep -q -- "-> QueryRequest challenge=.* (attestation)" "$1" ||
		broken "no challenge in the QueryRequest" "$1"
	grep -q "<- QueryResponse .* evidence=[1-9]" "$1" || broken "no Evidence" "$1"
	step "{att TEEP Agent} $2 sent a challenge; the Agent answered with Evidence (an EAT signed by its attestation key)"
	case $verdict in
	"attestation result: affirming"*) detail "appraised by $2: $verdict" ;;
	*) stopped "appraised by $2: $verdict" ;;
	esac
}

# delivered TRACE WHAT: the Update that followed the appraisal
delivered() {
	grep -q -- "-> Update manifests=[1-9]" "$1" || broken "no Update after the appraisal" "$1"
	detail "$(grep -o -- "-> Update manifests=[0-9]*" "$1" | head -n 1 | sed 's/-> //'): $2"
}

check_pd() { # ID PLAINTEXT-FILE: the data is in the TEE, decrypted
	cmp -s "$W/device/state/tc/$1/image" "$2" || broken "$1 is not in the TEE as sent"
}

# nu_delivers STEP WHAT: the Network User's own TAM, in a tam-session
# through the broker, attests the Agent and delivers what its catalog
# holds; STEP says what the session delivers, WHAT what the Update
# carried; the PD is then in the TEE, decrypted
nu_delivers() {
	nu_session "$PD_ID"
	att_step "$W/nu/session.log" "the Network User's TAM (its own, through the broker)"
	step "$1"
	delivered "$W/nu/session.log" "$2"
	[ $NU_RC = 0 ] || broken "the tam-session did not complete" "$W/nu/session.out"
	check_pd "$PD_ID" "$W/nu/src/pd.json"
}

# moc_verdict [MORE]: the M/OC TAM's appraisal, which stops the case
# unless it was affirming (MORE is added to that stop's reason)
moc_verdict() {
	local verdict
	verdict=$(appraisal "$W/moc/step.log")
	case $verdict in
	"attestation result: affirming"*) detail "M/OC TAM (Verifier): $verdict" ;;
	"") broken "the M/OC TAM did not attest" "$W/moc/tam.log" ;;
	*) stopped "M/OC TAM (Verifier): $verdict${1:+; $1}" ;;
	esac
}

# --- the cases ---------------------------------------------------------------
say "== $CASE of the TEEP use case for confidential computing in network (docs/use-cases.md)"
case $CASE in
case1)
	say "   load sequence: {att TEEP Agent, (UA,TA,PD)->$INSTANCE, UA->REE}"
	pkg P ua-ta-pd ua ta pd
	request_resource "(UA, TA, PD) bundled: $(basename "$P")"
	orchestrate
	# the TEE part of the bundle goes to the Network User's own TAM catalog
	cp "$P/ta.suit" "$P/case1-pd.json.suit" "$W/nu/catalog/"
	nu_delivers "{(UA,TA,PD)->$INSTANCE} the same tam-session delivers the bundle's TA and PD to the attested Agent" \
		"TA and PD (PD encrypted for the Agent's key, which the Evidence binds)"
	detail "in the TEE: $(tee_contents)"
	ua_to_ree "$P"
	ua_run || broken "the UA's request failed" "$W/device/ree/ua.out"
	;;
case2)
	say "   load sequence: {UA->REE, TA->$INSTANCE, att TEEP Agent, PD->TA}"
	pkg P ua-ta ua ta
	pkg PPD pd pd
	request_resource "(UA, TA) integrated: $(basename "$P"); (PD) separate: $(basename "$PPD")"
	cp "$P/ta.suit" "$W/moc/catalog/"
	orchestrate
	ua_to_ree "$P"
	step "{TA->$INSTANCE} the REE starts the UA; it asks for its TA; the M/OC TAM attests the Agent before it sends the TA"
	ua_run trace
	moc_verdict "the UA got: $(tail -n 1 "$W/device/ree/ua.out")"
	[ "$UA_RC" = 0 ] || broken "the UA's request failed" "$W/device/ree/ua.out"
	cp "$PPD/case2-pd.json.suit" "$W/nu/catalog/"
	nu_delivers "{PD->TA} the same tam-session delivers the PD, encrypted for the attested Agent" \
		"PD (its TA is installed: not sent again)"
	;;
case3)
	say "   load sequence: {UA->REE, TA->$INSTANCE, att TEEP Agent, PD->TA}"
	pkg PTA ta ta
	pkg PPD pd pd
	if [ $WITH_UA = 1 ]; then
		pkg PUA ua ua
		request_resource "(TA), (PD), (UA): three separate packages"
	else
		request_resource "(TA), (PD): two separate packages, no UA"
	fi
	cp "$PTA/ta.suit" "$W/moc/catalog/"
	# the M/OC TAM delivers the TA whether or not a UA asks for it
	orchestrate --push "$TA_UUID"
	if [ $WITH_UA = 1 ]; then
		ua_to_ree "$PUA"
		step "{TA->$INSTANCE} the REE starts the UA; it asks for its TA; the M/OC TAM attests the Agent before it sends the TA"
		ua_run trace
		rc=$UA_RC
	else
		step "{TA->$INSTANCE} the M/OC asks the device for a policy check; its TAM attests the Agent before it sends the TA"
		moc_policy_check
		rc=$MOC_RC
		detail "the policy check: $(tail -n 1 "$W/moc/policy.out")"
	fi
	moc_verdict
	[ "$rc" = 0 ] || broken "the TA was not delivered"
	cp "$PPD/case3-pd.json.suit" "$W/nu/catalog/"
	nu_delivers "{PD->TA} the same tam-session delivers the PD, encrypted for the attested Agent" \
		"PD (its TA is installed: not sent again)"
	;;
case4)
	say "   load sequence: {UA->REE, att TEEP Agent, (TA,PD)->$INSTANCE}"
	pkg P ta-pd ta pd
	if [ $WITH_UA = 1 ]; then
		pkg PUA ua ua
		request_resource "(TA, PD) bundled: $(basename "$P"); (UA) separate"
	else
		request_resource "(TA, PD) bundled: $(basename "$P"), no UA"
	fi
	orchestrate
	[ $WITH_UA = 1 ] && ua_to_ree "$PUA"
	cp "$P/ta.suit" "$P/case4-pd.json.suit" "$W/nu/catalog/"
	nu_delivers "{(TA,PD)->$INSTANCE} the same tam-session delivers the TA and the PD to the attested Agent" \
		"TA and PD (PD encrypted for the Agent's key, which the Evidence binds)"
	if [ $WITH_UA = 1 ]; then
		detail "the REE starts the UA"
		ua_run || broken "the UA's request failed" "$W/device/ree/ua.out"
	fi
	;;
case5)
	say "   load sequence: {att TEEP Agent, TA->$INSTANCE, (UA,PD)->TA}"
	pkg PTA ta ta
	pkg P ua-pd ua+pd
	request_resource "(UA, PD) bundled and encrypted: $(basename "$P"); (TA) separate"
	cp "$PTA/ta.suit" "$W/moc/catalog/"
	orchestrate --push "$TA_UUID"
	moc_policy_check
	att_step "$W/moc/step.log" "the M/OC TAM (asked by the M/OC's policy check of the device)"
	step "{TA->$INSTANCE} the M/OC TAM sends the TA in the Update that follows the affirming result"
	delivered "$W/moc/step.log" "TA"
	[ "$MOC_RC" = 0 ] || broken "the TA was not delivered" "$W/moc/policy.out"
	cp "$P/case5-ua-pd.tar.suit" "$W/nu/catalog/"
	nu_session "$UAPD_ID"
	step "{(UA,PD)->TA} the Network User, its own TAM through the broker, sends the (UA,PD) package encrypted for the Agent"
	v=$(appraisal "$W/nu/session.log")
	case $v in
	"attestation result: affirming"*) detail "its tam-session attested the Agent first: $v" ;;
	*) stopped "its tam-session attested the Agent first: ${v:-no appraisal}" ;;
	esac
	delivered "$W/nu/session.log" "the (UA,PD) package, decrypted inside the TEE only"
	[ $NU_RC = 0 ] || broken "the tam-session did not complete" "$W/nu/session.out"
	check_pd "$UAPD_ID" "$W/nu/src/ua-pd.tar"
	detail "in the TEE, $(basename "$UAPD_ID") holds: $(tar -tf "$W/device/state/tc/$UAPD_ID/image" | tr '\n' ' ')"
	;;
esac
say "DONE: $CASE completed; TEE state: $(tee_contents)"
if [ -e "$W/device/ree/apps/case$N/ua" ]; then
	say "REE: apps/case$N/ua placed by the REE side"
fi
[ $KEEP = 1 ] && say "work directory: $W"
exit 0
