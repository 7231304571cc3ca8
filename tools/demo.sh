#!/bin/bash
# The embedded default: one Trusted Component installed end to end on this
# machine, everything on loopback.
#
#   teep-tam       the bundled reference TAM (a test tool), with a catalog
#                  holding the draft's Appendix E example 2 manifest
#   teep-brokerd   the broker, with the software TEE driver (not a real TEE)
#   teep-ua        an app asking for the component over the app websocket
#
# Usage: tools/demo.sh BUILD_DIR   (./dev.sh demo builds and calls it)
set -u
B=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
D="$SRC/demo"
UUID=8d82573a-926d-4754-9353-32dc29997f74
PIDS=""

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
stop_all() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap stop_all EXIT
wait_file() {
	for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done
	echo "demo: $2 did not start; its log:" >&2
	cat "$3" >&2
	exit 1
}

rm -rf "$D"
mkdir -p "$D/catalog"
mkdir -m 700 "$D/state"

bold "1. Keys: the TAM's signing key and the software Agent's key (P-256)"
"$B/teep-tool" keygen "$D/tam.pem" "$D/tam_pub.pem"
"$B/teep-tool" keygen "$D/state/agent.pem" "$D/state/agent_pub.pem"

bold "2. The TAM's catalog: the draft's Appendix E example 2 (a SUIT manifest signed by the draft's key, with the TA binary inside)"
printf "$(tr -d ' \n\r' <"$SRC/tests/data/vectors/suit/suit_integrated.hex" | sed 's/../\\x&/g')" \
	>"$D/catalog/appendix-e-example-2.suit"
"$B/teep-tool" dump "$D/catalog/appendix-e-example-2.suit" | sed 's/^/   /'

bold "3. Start the reference TAM on 127.0.0.1 (TEEP over HTTP)"
"$B/teep-tam" --key "$D/tam.pem" --agent-key "$D/state/agent_pub.pem" --catalog "$D/catalog" \
	--listen 127.0.0.1 --port 0 --port-file "$D/tam.port" >"$D/tam.log" 2>&1 &
PIDS="$PIDS $!"
wait_file "$D/tam.port" teep-tam "$D/tam.log"
TAM_URI="http://127.0.0.1:$(cat "$D/tam.port")/tam"
echo "   $TAM_URI"

bold "4. Start teep-brokerd with the software TEE driver"
cat >"$D/teep-broker.conf" <<EOF
[broker]
log_level = info

[listener]
address = 127.0.0.1
port = 0
port_file = $D/broker.port

[tam]
uri = $TAM_URI

[driver:sim]
path = $B/.libs/sim.so
state_dir = $D/state
agent_key = $D/state/agent.pem
tam_key = $D/tam_pub.pem
tc_signer = $SRC/tests/data/vectors/suit/appendixE_signer_public_key.pem
tam_uri = $TAM_URI
EOF
"$B/teep-brokerd" -f -c "$D/teep-broker.conf" >"$D/broker.log" 2>&1 &
PIDS="$PIDS $!"
wait_file "$D/broker.port" teep-brokerd "$D/broker.log"
URL="ws://127.0.0.1:$(cat "$D/broker.port")/"
echo "   apps connect to $URL (subprotocol teep-broker.v1)"

bold "5. An app asks for Trusted Component $UUID"
start=$(date +%s%N)
"$B/teep-ua" --url "$URL" request-ta "$UUID"
rc=$?
end=$(date +%s%N)
echo "   (teep-ua exit status $rc, $(( (end - start) / 1000000 )) ms)"

bold "6. What the TAM saw (its trace)"
sed 's/^/   /' "$D/tam.log"

bold "7. What the broker logged"
sed 's/^/   /' "$D/broker.log"

IMG="$D/state/tc/TEEP-Device/SecureFS/0x${UUID//-/}/ta"
bold "8. The component in the software TEE's state directory"
if [ -f "$IMG/image" ]; then
	ls -l "$IMG" | sed 's/^/   /'
	echo "   image: \"$(cat "$IMG/image")\""
	echo
	echo "Installed: $IMG/image"
else
	echo "   nothing at $IMG"
	exit 1
fi
exit $rc
