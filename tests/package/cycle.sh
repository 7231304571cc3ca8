#!/bin/bash
# The Debian package cycle, as an operator goes through it on one node:
# build the packages from the tracked tree, lintian, install them with apt,
# check the installed default configuration, run the installed daemon and
# install one Trusted Component through it, reload nothing, purge.
#
# It installs packages on this machine, so it runs only where no
# teep-broker package is installed already (it purges what it installed).
#
#   tests/package/cycle.sh OUTDIR    prints "ok - ..." lines; exit 0 passed,
#                                    77 skipped, else failed
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "${1:?usage: cycle.sh OUTDIR}" && cd "$1" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/teep-pkg.XXXXXX")
PIDS=""
INSTALLED=0

PACKAGES="teep-broker teep-broker-tools teep-broker-dev teep-agentd"
purge() {
	# shellcheck disable=SC2086
	apt-get purge -y -q $PACKAGES >"$OUT/purge.log" 2>&1
}
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	[ "$INSTALLED" = 1 ] && purge
	# the keys this test placed as the operator would
	rm -f /etc/teep-broker/tam_pub.pem /etc/teep-broker/tc-signer.pem
	rmdir /etc/teep-broker 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "----- $f" >&2; tail -n 30 "$f" >&2; }; done
	exit 1
}
pass() { echo "ok - $*"; }
wait_file() {
	local n=$((${2:-10} * 20))
	while [ $n -gt 0 ]; do [ -s "$1" ] && return 0; sleep 0.05; n=$((n - 1)); done
	return 1
}

[ "$(id -u)" = 0 ] || { echo "SKIP: the package cycle installs packages: run as root"; exit 77; }
if dpkg-query -W -f='${Status}' teep-broker 2>/dev/null | grep -q "ok installed"; then
	echo "SKIP: a teep-broker package is installed on this machine already; the cycle would replace it"
	exit 77
fi

# 1. build, from the files git tracks (what a release holds)
VERSION=$(sed -n '1s/^teep-broker (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
B=$WORK/build/teep-broker-$VERSION
mkdir -p "$B"
(cd "$SRC" && git ls-files -z | tar --null -T - -cf -) | tar -x -C "$B" ||
	fail "cannot copy the tracked tree"
(cd "$B" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$OUT/dpkg-buildpackage.log" 2>&1 || fail "dpkg-buildpackage failed (see $OUT/dpkg-buildpackage.log): $(tail -n 5 "$OUT/dpkg-buildpackage.log")"
debs=$(for p in $PACKAGES; do ls "$WORK"/build/"$p"_"$VERSION"_*.deb 2>/dev/null; done)
[ "$(echo "$debs" | wc -w)" = 4 ] || fail "expected four packages ($PACKAGES), got: $debs"
cp $debs "$OUT/"
pass "dpkg-buildpackage -us -uc -b built $PACKAGES"

# 2. lintian: errors and warnings fail (none is overridden)
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning "$WORK"/build/*.changes >"$OUT/lintian.log" 2>&1 ||
		fail "lintian: $(grep -E '^[EW]:' "$OUT/lintian.log" | head -n 20)"
	pass "lintian: no errors or warnings"
fi

# 3. install as an operator does
INSTALLED=1
# shellcheck disable=SC2086
apt-get install -y -q $(for d in $debs; do echo "$OUT/$(basename "$d")"; done) >"$OUT/install.log" 2>&1 ||
	fail "apt-get install of the packages failed: $(tail -n 10 "$OUT/install.log")"
getent passwd teep-broker >/dev/null || fail "the system user teep-broker was not created"
dpkg-query -W -f='${Conffiles}\n' teep-broker | grep -q /etc/teep-broker/teep-broker.conf ||
	fail "teep-broker.conf is not a conffile"
# (read from the package: a minimal image may keep dpkg from unpacking them)
dpkg-deb -c "$OUT"/teep-broker_"$VERSION"_*.deb >"$WORK/contents" || fail "dpkg-deb -c"
for m in man8/teep-brokerd.8.gz man5/teep-broker.conf.5.gz man1/teep-ua.1.gz; do
	grep -q "/usr/share/man/$m\$" "$WORK/contents" || fail "the package holds no $m"
done
pkg-config --exists teep-broker && [ -d "$(pkg-config --variable=driverdir teep-broker)" ] ||
	fail "teep-broker.pc does not give the installed driverdir"
pass "installed: daemon, system user, conffile, manual pages, pkg-config file"

# 4. the operator provides what the shipped configuration names (the TAM's
# public key and the Trusted Component signer's), then checks it unchanged
teep-tool keygen "$WORK/tam.pem" /etc/teep-broker/tam_pub.pem >/dev/null || fail "keygen"
teep-tool keygen "$WORK/signer.pem" /etc/teep-broker/tc-signer.pem >/dev/null || fail "keygen"
teep-brokerd --check-config >"$WORK/check.log" 2>&1 || fail "teep-brokerd --check-config on the installed default failed"
pass "teep-brokerd --check-config accepts the installed default"

# 5. run: the reference TAM, and the installed daemon with the one file
# edited (the TAM's URI, and an ephemeral port for this test)
mkdir -p "$WORK/catalog"
printf 'Hello from the package' >"$WORK/payload"
UUID=8d82573a-926d-4754-9353-32dc29997f74
teep-tool manifest --component "$UUID" --payload "$WORK/payload" --key "$WORK/signer.pem" \
	-o "$WORK/catalog/$UUID.suit" >/dev/null || fail "manifest"
# the Agent's key is made by the daemon's first start; the TAM needs it
CONF=/etc/teep-broker/teep-broker.conf
sed -i -e "s|^#port = 8470|port = 0|" -e "s|^#port_file = .*|port_file = $WORK/broker.port|" "$CONF"
teep-brokerd -f >"$WORK/broker1.log" 2>&1 &
pid=$!
wait_file "$WORK/broker.port" 20 || { kill $pid; fail "the installed daemon did not start"; }
kill -TERM $pid; wait $pid
AGENT_PUB=/var/lib/teep-broker/sim/agent_pub.pem
[ -s "$AGENT_PUB" ] || fail "the software TEE did not make its key in /var/lib/teep-broker/sim"
teep-tam --key "$WORK/tam.pem" --agent-key "$AGENT_PUB" --catalog "$WORK/catalog" --listen 127.0.0.1 \
	--port 0 --port-file "$WORK/tam.port" >"$WORK/tam.log" 2>&1 &
PIDS="$PIDS $!"
wait_file "$WORK/tam.port" 10 || fail "teep-tam did not start"
TAM="http://127.0.0.1:$(cat "$WORK/tam.port")/tam"
sed -i -e "s|^uri = .*|uri = $TAM|" -e "s|^tam_uri = .*|tam_uri = $TAM|" "$CONF"
rm -f "$WORK/broker.port"
teep-brokerd -f >"$WORK/broker.log" 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"
wait_file "$WORK/broker.port" 20 || fail "the installed daemon did not start"
teep-ua --url "ws://127.0.0.1:$(cat "$WORK/broker.port")/" --timeout 30 request-ta "$UUID" \
	>"$WORK/ua.log" 2>&1 || fail "request-ta through the installed daemon failed"
grep -rq "Hello from the package" /var/lib/teep-broker/sim/tc || fail "the component is not in the software TEE"
pass "the installed daemon installed a component: $(tail -n 1 "$WORK/ua.log")"
kill -TERM $BPID
wait $BPID || fail "the installed daemon did not stop cleanly"

# 6. purge: the configuration, the state and the programs go
INSTALLED=0
purge || fail "apt-get purge failed: $(tail -n 10 "$OUT/purge.log")"
[ ! -e "$CONF" ] || fail "purge left $CONF"
[ ! -e /var/lib/teep-broker ] || fail "purge left /var/lib/teep-broker"
[ ! -e /usr/sbin/teep-brokerd ] || fail "purge left the daemon"
pass "purge removed the configuration, the state and the programs"
