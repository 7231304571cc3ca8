#!/bin/bash
# The Debian package cycle, as an operator goes through it on one node:
# build the packages from the tracked tree, lintian, install them with apt,
# check the installed default configuration, run the installed daemon and
# install one Trusted Component through it; then run it as its systemd unit
# would (the unit's user, READY=1), scrape /metrics, reload a changed limit
# and a renewed certificate with an app mid-exchange, read every manual page
# with man; purge.
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
	rm -rf /etc/teep-broker/tls /run/teep-broker
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
sed -i -e "s|^#port = 8470|port = 0|" \
	-e "/^\[listener\]/,/^\[queue\]/ s|^#port_file = .*|port_file = $WORK/broker.port|" "$CONF"
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
PIDS=""

# 6. the service as systemd runs it (no systemd here: its steps by hand,
# read from the installed unit): the state and runtime directories owned by
# the unit's User=, ExecStartPre and ExecStart as that user, the unit's
# notify socket played by notify_reader. The one file edited: wss:// with a
# certificate, the admin listener, and (a test option) every Agent call
# taking 2 s so that an app is mid-exchange across the reloads.
UNIT=/lib/systemd/system/teep-brokerd.service
[ -f "$UNIT" ] || fail "no unit at $UNIT"
unit_key() { sed -n "s/^$1=//p" "$UNIT" | head -n 1; }
SVC_USER=$(unit_key User)
[ "$SVC_USER" = teep-broker ] || fail "the unit's User= is '$SVC_USER'"
as_user() { setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups -- "$@"; }
chown -R "$SVC_USER:$SVC_USER" /var/lib/teep-broker    # StateDirectory=
install -d -o "$SVC_USER" -g "$SVC_USER" -m 0755 /run/teep-broker # RuntimeDirectory=
RUN=/run/teep-broker
TLS=/etc/teep-broker/tls
mkdir -p "$TLS"
cert() { # N: a certificate for localhost with serial N, signed by the test CA
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-keyout "$WORK/srv$1.key" -out "$WORK/srv$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$WORK/srv$1.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
			-set_serial "$1" -days 2 -out "$WORK/srv$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=test-ca \
	-keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 2>/dev/null || fail "openssl: CA"
cert 1 && cert 2 || fail "openssl: server certificates"
install -o root -g "$SVC_USER" -m 0640 "$WORK/srv1.pem" "$TLS/broker.pem"
install -o root -g "$SVC_USER" -m 0640 "$WORK/srv1.key" "$TLS/broker.key"
sed -i -e "/^\[listener\]/,/^\[queue\]/ s|^port_file = .*|port_file = $RUN/broker.port|" \
	-e "s|^#tls_cert = .*|tls_cert = $TLS/broker.pem|" \
	-e "s|^#tls_key = .*|tls_key = $TLS/broker.key|" \
	-e "/^\[admin\]/,/^\[ban\]/ s|^#enabled = no|enabled = yes|" \
	-e "/^\[admin\]/,/^\[ban\]/ s|^#port = 8471|port = 0|" \
	-e "/^\[admin\]/,/^\[ban\]/ s|^#port_file = .*|port_file = $RUN/admin.port|" \
	-e "s|^#call_delay = 0|call_delay = 2s|" "$CONF"
grep -q "^tls_cert = " "$CONF" && grep -q "^port_file = $RUN/admin.port" "$CONF" &&
	grep -q "^call_delay = 2s" "$CONF" || fail "the configuration was not edited as expected"
cc -o "$WORK/notify_reader" "$SRC/tests/integration/notify_reader.c" || fail "cc notify_reader"
"$WORK/notify_reader" "$RUN/notify.sock" "$WORK/notify.out" 120 &
PIDS="$PIDS $!"
n=200
until grep -q "^listening" "$WORK/notify.out" 2>/dev/null; do
	n=$((n - 1)); [ $n -gt 0 ] || fail "notify_reader did not start"; sleep 0.05
done
chmod 0666 "$RUN/notify.sock"
# ExecStartPre, then ExecStart, as the unit's user
read -r -a pre <<<"$(unit_key ExecStartPre)"
as_user "${pre[@]}" >"$WORK/svc-check.log" 2>&1 || fail "ExecStartPre (${pre[*]}) failed"
read -r -a start <<<"$(unit_key ExecStart)"
# (setpriv itself in the background, not a function: $! is the daemon)
NOTIFY_SOCKET=$RUN/notify.sock setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups -- \
	"${start[@]}" >"$WORK/svc.log" 2>&1 &
SPID=$!
PIDS="$PIDS $SPID"
n=400
until grep -q "^READY=1" "$WORK/notify.out"; do
	n=$((n - 1)); [ $n -gt 0 ] || fail "the service did not tell READY=1"; sleep 0.05
done
grep -q "^STATUS=" "$WORK/notify.out" || fail "no STATUS= for systemctl status"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$SPID/status")
[ "$uid" = "$(id -u "$SVC_USER")" ] || fail "the service runs as uid $uid, not $SVC_USER"
pass "the service as the unit runs it: --check-config, then READY=1 and $(grep -m1 '^STATUS=' "$WORK/notify.out"), as $SVC_USER"

# 7. scrape /metrics on the admin listener
wait_file "$RUN/admin.port" 10 || fail "no admin port"
exec 3<>"/dev/tcp/127.0.0.1/$(cat "$RUN/admin.port")" || fail "cannot connect to the admin listener"
printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
timeout 10 cat <&3 >"$WORK/metrics.txt"
exec 3<&-
head -n 1 "$WORK/metrics.txt" | grep -q "^HTTP/1.1 200" || fail "/metrics: $(head -n 1 "$WORK/metrics.txt")"
grep -q "^teep_connections_open " "$WORK/metrics.txt" &&
	grep -q "^# TYPE teep_config_reloads_total counter" "$WORK/metrics.txt" ||
	fail "/metrics lacks its series: $(head -n 20 "$WORK/metrics.txt")"
pass "/metrics scraped: $(grep -c '^teep_' "$WORK/metrics.txt") samples"

# 8. an app mid-exchange over wss:// while a changed limit and then a renewed
# certificate are reloaded (ExecReload: SIGHUP)
WSS="wss://localhost:$(cat "$RUN/broker.port")/"
teep-ua --url "$WSS" --ca "$WORK/ca.pem" --timeout 60 unrequest-ta "$UUID" >"$WORK/ua2.log" 2>&1 &
UPID=$!
PIDS="$PIDS $UPID"
n=400
until grep -q "progress tee" "$WORK/ua2.log"; do
	n=$((n - 1)); [ $n -gt 0 ] || fail "the app did not start its exchange: $(cat "$WORK/ua2.log")"; sleep 0.05
done
reload_service() { # the notify.out line count before; waits for READY=1 after RELOADING=1
	local before=$1 n=400
	kill -HUP "$SPID"
	until tail -n +"$((before + 1))" "$WORK/notify.out" | grep -q "^READY=1"; do
		n=$((n - 1)); [ $n -gt 0 ] || fail "no READY=1 after the reload"; sleep 0.05
	done
	tail -n +"$((before + 1))" "$WORK/notify.out" | grep -q "^RELOADING=1" || fail "no RELOADING=1"
}
sed -i "/^\[limit:connection-frames\]/,/^\$/ s|^rate = .*|rate = 50r/s|" "$CONF"
reload_service "$(wc -l <"$WORK/notify.out")"
grep -q "reload of $CONF applied (1 connection(s) and 1 exchange(s) kept" "$WORK/svc.log" ||
	fail "the limit's reload: $(grep reload "$WORK/svc.log")"
cp "$WORK/srv2.pem" "$TLS/broker.pem.new" && mv "$TLS/broker.pem.new" "$TLS/broker.pem"
cp "$WORK/srv2.key" "$TLS/broker.key.new" && chgrp "$SVC_USER" "$TLS/broker.key.new" &&
	chmod 0640 "$TLS/broker.key.new" && mv "$TLS/broker.key.new" "$TLS/broker.key"
chgrp "$SVC_USER" "$TLS/broker.pem"
reload_service "$(wc -l <"$WORK/notify.out")"
fp=$(openssl x509 -in "$WORK/srv2.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
	tr 'A-F' 'a-f')
grep -q "reload: listener TLS certificate sha256 $fp" "$WORK/svc.log" ||
	fail "the renewed certificate ($fp) is not served: $(grep reload "$WORK/svc.log")"
wait "$UPID" || fail "the app mid-exchange across the reloads: $(cat "$WORK/ua2.log")"
grep -q "done: removed" "$WORK/ua2.log" || fail "the app's answer: $(cat "$WORK/ua2.log")"
served=$(openssl s_client -connect "localhost:$(cat "$RUN/broker.port")" -CAfile "$WORK/ca.pem" \
	</dev/null 2>/dev/null | openssl x509 -noout -serial)
[ "$served" = "serial=02" ] || fail "a new handshake gets $served, not the renewed certificate"
pass "reloads (a limit, a renewed certificate) with an app mid-exchange: both applied, the app answered"
kill -TERM "$SPID"
wait "$SPID" || fail "the service did not stop cleanly"
grep -q "^STOPPING=1" "$WORK/notify.out" || fail "no STOPPING=1"
PIDS=""

# 9. every manual page of the packages reads with man
mkdir -p "$WORK/x"
for d in $debs; do dpkg-deb -x "$d" "$WORK/x" || fail "dpkg-deb -x $d"; done
pages=$(find "$WORK/x/usr/share/man" -name '*.gz' | sort)
[ -n "$pages" ] || fail "no manual pages in the packages"
if command -v man >/dev/null; then
	for m in $pages; do
		w=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$m" 2>&1 >/dev/null)
		[ -z "$w" ] || fail "man $(basename "$m"): $w"
		MANWIDTH=80 man -l "$m" 2>/dev/null | grep -q . || fail "man $(basename "$m") is empty"
	done
	pass "man reads every page without a warning: $(echo "$pages" | xargs -n1 basename | tr '\n' ' ')"
else
	echo "# man: not installed; the pages were not read"
fi

# 10. purge: the configuration, the state and the programs go
INSTALLED=0
purge || fail "apt-get purge failed: $(tail -n 10 "$OUT/purge.log")"
[ ! -e "$CONF" ] || fail "purge left $CONF"
[ ! -e /var/lib/teep-broker ] || fail "purge left /var/lib/teep-broker"
[ ! -e /usr/sbin/teep-brokerd ] || fail "purge left the daemon"
pass "purge removed the configuration, the state and the programs"
