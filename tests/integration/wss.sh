#!/bin/bash
# wss:// on the app listener ([listener] tls_cert, tls_key, tls_ca,
# tls_verify_client) and pinning of the TAM's key ([tam] tls_pin_sha256):
#   (a) --check-config reports a key that is not the certificate's, an
#       unreadable certificate and a malformed pin with file and line;
#   (b) wss:// without client certificates: teep-ua --ca installs; plain ws://,
#       TLS 1.1 and a CBC cipher are refused by the broker, another CA by
#       the client;
#   (c) tls_verify_client = required: no certificate, or one of another CA,
#       is refused; a certificate of tls_ca is accepted, and its subject
#       reaches the auth-token plugin's cert_map, which names the app (no
#       bearer token); a verified certificate that is not mapped gets 401;
#   (d) SIGHUP reloads the certificate: a connection opened before it keeps
#       going to its final answer, a new handshake gets the new certificate
#       (its serial, as openssl s_client sees it); a key that does not match
#       leaves the certificate in use as it was; tls_verify_client =
#       optional serves apps without a certificate;
#   (e) the TAM's public key pinned: the right pin installs, a wrong one is
#       refused, with the reason in the app's answer and in the log.
# Certificates are made here with the openssl command.
. "$(dirname "$0")/lib.sh"
unset SSL_CERT_FILE SSL_CERT_DIR
command -v openssl >/dev/null || fail "the openssl command is needed (Debian package openssl)"
AUTH_SO="$top_builddir/.libs/auth-token.so"

# ca NAME: a self-signed CA, $WORK/NAME.key and $WORK/NAME.pem
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$WORK/$1.key" -out "$WORK/$1.pem" -subj "/CN=$1" >/dev/null 2>&1 ||
		fail "openssl: CA $1"
}

# cert NAME CA SERIAL SUBJECT [EXTENSION]: $WORK/NAME.key and $WORK/NAME.pem,
# signed by CA
cert() {
	local name=$1 ca=$2 serial=$3 subj=$4 ext=${5:-}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$WORK/$name.key" -out "$WORK/$name.csr" -subj "$subj" >/dev/null 2>&1 ||
		fail "openssl: request $name"
	printf '%s\n' "$ext" >"$WORK/$name.ext"
	openssl x509 -req -in "$WORK/$name.csr" -CA "$WORK/$ca.pem" -CAkey "$WORK/$ca.key" \
		-set_serial "$serial" -days 2 -extfile "$WORK/$name.ext" \
		-out "$WORK/$name.pem" >/dev/null 2>&1 || fail "openssl: sign $name"
}

# pin FILE.pem: the base64 SHA-256 of its SubjectPublicKeyInfo
pin() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64
}

# served_serial: the serial of the certificate a new handshake gets
served_serial() {
	openssl s_client -connect "127.0.0.1:$BROKER_PORT" -CAfile "$WORK/ca.pem" \
		</dev/null 2>/dev/null | openssl x509 -noout -serial
}

# handshake ARGS...: 0 when openssl s_client completes a handshake with the
# broker with these options
handshake() {
	openssl s_client -connect "127.0.0.1:$BROKER_PORT" -CAfile "$WORK/ca.pem" "$@" \
		</dev/null >"$WORK/s_client.out" 2>&1
	grep -q "Verify return code: 0 (ok)" "$WORK/s_client.out" &&
		! grep -q "Cipher is (NONE)" "$WORK/s_client.out"
}

SAN="subjectAltName=DNS:localhost,IP:127.0.0.1"
ca ca
ca other-ca
cert srv1 ca 0x1001 /CN=localhost "$SAN"
cert srv2 ca 0x1002 /CN=localhost "$SAN"
cert nav ca 0x2001 "/O=Example/CN=nav" "extendedKeyUsage=clientAuth"
cert stranger ca 0x2002 "/O=Example/CN=stranger" "extendedKeyUsage=clientAuth"
cert rogue other-ca 0x2003 "/O=Example/CN=nav" "extendedKeyUsage=clientAuth"
cp "$WORK/srv1.pem" "$WORK/server.pem"
cp "$WORK/srv1.key" "$WORK/server.key"

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam

TLS_LINES="tls_cert = $WORK/server.pem
tls_key = $WORK/server.key"

# (a) --check-config
check() {
	"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.out" 2>&1
}
line_of() { grep -n "^$1" "$WORK/broker.conf" | head -1 | cut -d: -f1; }
LISTENER_EXTRA="tls_cert = $WORK/srv1.pem
tls_key = $WORK/srv2.key" write_conf "http://127.0.0.1:$TAM_PORT/tam"
check && fail "a key of another certificate passed --check-config"
grep -q "broker.conf:$(line_of tls_key): \[listener\] $WORK/srv2.key: tls_key is not the key of the certificate in $WORK/srv1.pem" \
	"$WORK/check.out" || fail "mismatched key: $(cat "$WORK/check.out")"
LISTENER_EXTRA="tls_cert = $WORK/missing.pem
tls_key = $WORK/srv1.key" write_conf "http://127.0.0.1:$TAM_PORT/tam"
check && fail "a missing certificate passed --check-config"
grep -q "broker.conf:$(line_of tls_cert): \[listener\] $WORK/missing.pem: cannot read tls_cert" \
	"$WORK/check.out" || fail "missing certificate: $(cat "$WORK/check.out")"
LISTENER_EXTRA="$TLS_LINES
tls_verify_client = required" write_conf "http://127.0.0.1:$TAM_PORT/tam"
check && fail "tls_verify_client without tls_ca passed --check-config"
grep -q "broker.conf:$(line_of tls_verify_client): \[listener\] tls_verify_client needs tls_ca" \
	"$WORK/check.out" || fail "verify without CA: $(cat "$WORK/check.out")"
LISTENER_EXTRA="$TLS_LINES" write_conf "http://127.0.0.1:$TAM_PORT/tam" "tls_pin_sha256 = abc"
check && fail "a malformed pin passed --check-config"
grep -q "broker.conf:$(line_of tls_pin_sha256): \[tam\] default: tls_pin_sha256: \"abc\" is not a base64 SHA-256" \
	"$WORK/check.out" || fail "malformed pin: $(cat "$WORK/check.out")"
LISTENER_EXTRA="$TLS_LINES" write_conf "http://127.0.0.1:$TAM_PORT/tam"
check || fail "a good wss:// configuration: $(cat "$WORK/check.out")"
pass "--check-config: a key not the certificate's, an unreadable file, a bad pin, with their lines"

# (b) wss:// without client certificates
start_broker
WSS="wss://localhost:$BROKER_PORT/"
grep -q "notice: listener: wss:// with $WORK/server.pem (sha256 [0-9a-f]\{64\})$" \
	"$WORK/broker.log" || fail "no wss:// line in the log"
URL=$WSS ua --ca "$WORK/ca.pem" request-ta "$TC_UUID" ||
	fail "wss:// install: exit $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "wss:// install: $(cat "$WORK/ua.out")"
[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] || fail "wss://: not installed"
rm -rf "$WORK/state/tc"
UA_TIMEOUT=5 ua policy-check; rc=$?
[ $rc = 3 ] || fail "plain ws:// to the wss:// listener: exit $rc: $(cat "$WORK/ua.out")"
handshake -tls1_2 || fail "TLS 1.2 with the default ciphers: $(cat "$WORK/s_client.out")"
handshake -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' && fail "TLS 1.1 accepted"
handshake -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0' && fail "a CBC cipher without ECDHE accepted"
URL=$WSS UA_TIMEOUT=5 ua --ca "$WORK/other-ca.pem" policy-check; rc=$?
[ $rc = 3 ] && grep -q "cannot connect to $WSS" "$WORK/ua.out" ||
	fail "another CA: exit $rc: $(cat "$WORK/ua.out")"
grep -q "request-ta .* on tee sim" "$WORK/broker.log" || fail "no session in the log"
[ "$(grep -c "policy-check" "$WORK/broker.log")" = 0 ] || fail "a refused client got through"
pass "wss:// with teep-ua --ca installs; ws://, TLS 1.1, CBC refused; another CA refused by the client"
stop_broker

# (c) client certificates required, and the auth-token plugin's cert_map
cat >"$WORK/tokens" <<TOKENS
# nav has no token: its certificate names it
-  nav  $TC_UUID  $TC_UUID
TOKENS
chmod 600 "$WORK/tokens"
cat >"$WORK/app-certs" <<CERTS
# IDENTITY CERTIFICATE
nav  CN=nav,O=Example
CERTS
LISTENER_EXTRA="$TLS_LINES
tls_ca = $WORK/ca.pem
tls_verify_client = required" DRIVER_SECTION="[driver:sim]
path = $SIM_SO
$(sim_options "http://127.0.0.1:$TAM_PORT/tam")
call_delay = 1s" CONF_EXTRA="[plugin:auth]
path = $AUTH_SO
token_file = $WORK/tokens
cert_map = $WORK/app-certs" write_conf "http://127.0.0.1:$TAM_PORT/tam"
"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.out" 2>&1 ||
	fail "configuration (c): $(cat "$WORK/check.out")"
start_broker
WSS="wss://localhost:$BROKER_PORT/"
grep -q "plugin auth: 1 app certificate(s) from $WORK/app-certs" "$WORK/broker.log" ||
	fail "cert_map not loaded"
URL=$WSS UA_TIMEOUT=10 ua --ca "$WORK/ca.pem" policy-check; rc=$?
[ $rc = 3 ] || fail "no client certificate: exit $rc: $(cat "$WORK/ua.out")"
URL=$WSS UA_TIMEOUT=10 ua --ca "$WORK/ca.pem" --cert "$WORK/rogue.pem" --key "$WORK/rogue.key" \
	policy-check; rc=$?
[ $rc = 3 ] || fail "a certificate of another CA: exit $rc: $(cat "$WORK/ua.out")"
URL=$WSS UA_TIMEOUT=10 ua --ca "$WORK/ca.pem" --cert "$WORK/stranger.pem" \
	--key "$WORK/stranger.key" policy-check; rc=$?
[ $rc = 3 ] && grep -q "HTTP 401" "$WORK/ua.out" ||
	fail "a certificate not in cert_map: exit $rc: $(cat "$WORK/ua.out")"
URL=$WSS ua --ca "$WORK/ca.pem" --cert "$WORK/nav.pem" --key "$WORK/nav.key" \
	request-ta "$TC_UUID" || fail "nav's certificate: exit $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "nav: $(cat "$WORK/ua.out")"
grep -q "request-ta TEEP-Device/SecureFS/0x${TC_UUID//-/}/ta on tee sim for nav$" \
	"$WORK/broker.log" || fail "the app is not known as nav"
pass "client certificate required: none or another CA's refused; nav's names the app through cert_map"

# (d) reload: a connection open across SIGHUP goes on; new handshakes get
# the new certificate
[ "$(served_serial)" = "serial=1001" ] || fail "serial before: $(served_serial)"
"$UA" --url "$WSS" --ca "$WORK/ca.pem" --cert "$WORK/nav.pem" --key "$WORK/nav.key" \
	--timeout 60 unrequest-ta "$TC_UUID" >"$WORK/ua-open.out" 2>&1 &
OPEN_PID=$!
PIDS="$PIDS $OPEN_PID"
# the request is in the TEE (call_delay keeps each TEE call 1 s): its
# connection is open
wait_line "$WORK/ua-open.out" "progress tee sim" 10 || fail "the open request did not start"
cp "$WORK/srv2.pem" "$WORK/server.pem"
cp "$WORK/srv2.key" "$WORK/server.key"
kill -HUP "$BROKER_PID"
wait_line "$WORK/broker.log" "reload: listener TLS certificate sha256 " 10 ||
	fail "no reload in the log"
wait_line "$WORK/broker.log" "reload of .* applied" 10 || fail "the reload was not applied"
[ "$(served_serial)" = "serial=1002" ] || fail "serial after the reload: $(served_serial)"
kill -0 "$OPEN_PID" 2>/dev/null || fail "the open request ended before the reload was checked"
wait_exit "$OPEN_PID" 30 || fail "the connection open across the reload: exit $?: $(cat "$WORK/ua-open.out")"
grep -q "done: removed" "$WORK/ua-open.out" ||
	fail "the connection open across the reload: $(cat "$WORK/ua-open.out")"
# a key that is not the certificate's: nothing changes
cp "$WORK/srv1.pem" "$WORK/server.pem"
kill -HUP "$BROKER_PID"
wait_line "$WORK/broker.log" "reload: .*tls_key is not the key" 10 ||
	fail "a bad reload is not logged"
wait_line "$WORK/broker.log" "reload of .* refused: 1 problem(s) (invalid)" 10 ||
	fail "the bad reload was not refused"
[ "$(served_serial)" = "serial=1002" ] || fail "serial after a bad reload: $(served_serial)"
URL=$WSS ua --ca "$WORK/ca.pem" --cert "$WORK/nav.pem" --key "$WORK/nav.key" policy-check ||
	fail "after a bad reload: exit $?: $(cat "$WORK/ua.out")"
pass "reload: an open connection goes on, new handshakes get serial 1002; a bad key refuses the reload and changes nothing"
stop_broker

# tls_verify_client = optional: no certificate is fine, one of another CA
# is not. (The start refuses the mismatched pair left above, as
# --check-config does.)
LISTENER_EXTRA="$TLS_LINES
tls_ca = $WORK/ca.pem
tls_verify_client = optional" write_conf "http://127.0.0.1:$TAM_PORT/tam"
timeout 20 "$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/start.out" 2>&1; rc=$?
[ $rc = 3 ] || fail "start with a key not the certificate's: exit $rc: $(cat "$WORK/start.out")"
grep -q "broker.conf:$(line_of tls_key): \[listener\] $WORK/server.key: tls_key is not the key of the certificate" \
	"$WORK/start.out" || fail "start with a mismatched key: $(cat "$WORK/start.out")"
cp "$WORK/srv2.pem" "$WORK/server.pem"
start_broker
WSS="wss://localhost:$BROKER_PORT/"
URL=$WSS ua --ca "$WORK/ca.pem" policy-check ||
	fail "optional, no certificate: exit $?: $(cat "$WORK/ua.out")"
URL=$WSS ua --ca "$WORK/ca.pem" --cert "$WORK/stranger.pem" --key "$WORK/stranger.key" \
	policy-check || fail "optional, a certificate of tls_ca: exit $?: $(cat "$WORK/ua.out")"
URL=$WSS UA_TIMEOUT=10 ua --ca "$WORK/ca.pem" --cert "$WORK/rogue.pem" --key "$WORK/rogue.key" \
	policy-check; rc=$?
[ $rc = 3 ] || fail "optional, a certificate of another CA: exit $rc: $(cat "$WORK/ua.out")"
pass "the start refuses a key not the certificate's (exit 3, with the line); optional client certificates: none and one of tls_ca served, another CA's refused"
stop_broker

# (e) pinning the TAM's key
kill -TERM "$TAM_PID"
wait "$TAM_PID" 2>/dev/null
cert tamtls ca 0x3001 /CN=127.0.0.1 "subjectAltName=IP:127.0.0.1"
start_tam --tls-cert "$WORK/tamtls.pem" --tls-key "$WORK/tamtls.key"
TAM_URI="https://127.0.0.1:$TAM_PORT/tam"
rm -rf "$WORK/state/tc"
write_conf "$TAM_URI" "ca_file = $WORK/ca.pem" "tls_pin_sha256 = sha256/$(pin "$WORK/srv1.pem"), $(pin "$WORK/tamtls.pem")"
start_broker
ua request-ta "$TC_UUID" || fail "right pin: exit $?: $(cat "$WORK/ua.out")"
grep -q "done: installed" "$WORK/ua.out" || fail "right pin: $(cat "$WORK/ua.out")"
stop_broker
rm -rf "$WORK/state/tc"
write_conf "$TAM_URI" "ca_file = $WORK/ca.pem" "tls_pin_sha256 = $(pin "$WORK/srv1.pem")"
start_broker
TAM_REQUESTS=$(grep -c "tam: request " "$WORK/tam.log")
ua request-ta "$TC_UUID"; rc=$?
[ $rc = 1 ] && grep -q "error 6 tam-unreachable: cannot reach the TAM at $TAM_URI: TLS handshake: the server's public key (sha256/$(pin "$WORK/tamtls.pem")) matches no tls_pin_sha256" \
	"$WORK/ua.out" || fail "wrong pin: exit $rc: $(cat "$WORK/ua.out")"
grep -q "connection to $TAM_URI failed: TLS handshake: the server's public key .* matches no tls_pin_sha256" \
	"$WORK/broker.log" || fail "wrong pin: not in the log"
[ "$(grep -c "tam: request " "$WORK/tam.log")" = "$TAM_REQUESTS" ] ||
	fail "wrong pin: a request reached the TAM"
[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "wrong pin: installed"
pass "TAM pinning: the right pin installs, a wrong one is refused with the reason"
stop_broker
