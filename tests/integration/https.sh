#!/bin/bash
# HTTPS to the TAM (draft -15 section 4: a client using HTTPS MUST verify the
# server's identity). The broker checks the TAM's certificate against
# [tam] ca_file and the host of the TAM URI; when either check fails the app
# gets tam-unreachable and the broker log says why. Only tls_insecure = yes
# turns the checks off, and then the log says so loudly.
. "$(dirname "$0")/lib.sh"

# the system's CA store is replaced below, for one case; nothing from the
# caller's environment may add to it
unset SSL_CERT_FILE SSL_CERT_DIR

# new_ca NAME: a test CA, $WORK/NAME.key and $WORK/NAME.pem
new_ca() {
	"$TOOL" cert ca "$WORK/$1.key" "$WORK/$1.pem" --cn "$1" >/dev/null || fail "cert ca $1"
}

# new_server_cert NAME CA [teep-tool cert server options...]: a TAM
# certificate signed by CA, $WORK/NAME.key and $WORK/NAME.pem
new_server_cert() {
	local name=$1 ca=$2
	shift 2
	"$TOOL" cert server "$WORK/$ca.key" "$WORK/$ca.pem" "$WORK/$name.key" "$WORK/$name.pem" \
		"$@" >/dev/null || fail "cert server $name"
}

# tls_tam CERT: teep-tam serving https with $WORK/CERT.pem; sets TAM_URI
tls_tam() {
	start_tam --tls-cert "$WORK/$1.pem" --tls-key "$WORK/$1.key" --log-headers
	grep -q "listening on https://" "$WORK/tam.log" || fail "teep-tam does not serve https"
	TAM_URI="https://127.0.0.1:$TAM_PORT/tam"
}

stop_both() {
	kill -TERM "$BROKER_PID" "$TAM_PID" 2>/dev/null
	wait_exit "$BROKER_PID" 10 || fail "$1: broker exit status $?"
	wait "$TAM_PID" 2>/dev/null
}

# expect_installed WHAT: the app's request installs the component
expect_installed() {
	ua request-ta "$TC_UUID" || fail "$1: request-ta exited $?: $(cat "$WORK/ua.out")"
	grep -q "done: installed" "$WORK/ua.out" || fail "$1: not installed: $(cat "$WORK/ua.out")"
	[ "$(cat "$(tc_dir $TC_UUID)/image")" = "Hello, Secure World!" ] ||
		fail "$1: wrong or no image in the Agent's state"
	grep -q "tam: <- Success" "$WORK/tam.log" || fail "$1: the TAM saw no Success"
	rm -rf "$WORK/state/tc"
}

# expect_refused WHAT REASON: the TLS handshake fails, so the app gets
# tam-unreachable, the broker log has the failed connection and the
# certificate verification error REASON (OpenSSL's words) on that line, and
# not a single request reached the TAM
expect_refused() {
	ua request-ta "$TC_UUID"
	local rc=$?
	[ $rc = 1 ] || fail "$1: teep-ua exited $rc: $(cat "$WORK/ua.out")"
	grep -q "error 6 " "$WORK/ua.out" || fail "$1: not tam-unreachable: $(cat "$WORK/ua.out")"
	grep -q "connection to $TAM_URI failed" "$WORK/broker.log" ||
		fail "$1: the broker log has no failed connection"
	grep -q "connection to $TAM_URI failed: .*certificate verification failed: $2" \
		"$WORK/broker.log" || fail "$1: the broker log does not say '$2'"
	grep -qi "ProcessError" "$WORK/broker.log" || fail "$1: the Agent was not told"
	! grep -q "tam: request " "$WORK/tam.log" || fail "$1: a request reached the TAM"
	[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "$1: something got installed"
	kill -0 "$BROKER_PID" || fail "$1: broker died"
}

make_keys
add_component "$TC_UUID" "Hello, Secure World!"
new_ca ca
new_ca other-ca
new_server_cert tam-ip ca --cn 127.0.0.1 --san IP:127.0.0.1
new_server_cert tam-dns ca --cn localhost --san DNS:localhost
new_server_cert tam-wrong-ip ca --cn tam --san DNS:tam,IP:127.0.0.2,IP:::1

# (a) the TAM's certificate chains to ca_file and names the URI's host
tls_tam tam-ip
write_conf "$TAM_URI" "ca_file = $WORK/ca.pem"
start_broker
expect_installed "right CA"
! grep -q "TLS certificate checks are OFF" "$WORK/broker.log" ||
	fail "right CA: the insecure warning without tls_insecure"
stop_both "right CA"
pass "https with ca_file = the TAM's CA: installed"

# (b) ca_file holds another CA
tls_tam tam-ip
write_conf "$TAM_URI" "ca_file = $WORK/other-ca.pem"
start_broker
expect_refused "other CA" "unable to get local issuer certificate"
stop_both "other CA"
pass "https with ca_file = another CA: tam-unreachable, the log says why"

# (c) the certificate chains to ca_file but names other hosts than the URI's
# 127.0.0.1: a DNS name only ("localhost" is not checked against an address
# URI), then addresses that are not that one
for cert in tam-dns tam-wrong-ip; do
	tls_tam $cert
	write_conf "$TAM_URI" "ca_file = $WORK/ca.pem"
	start_broker
	expect_refused "$cert" "IP address mismatch"
	stop_both "$cert"
	pass "https to 127.0.0.1, certificate $cert without IP:127.0.0.1: refused, the log says why"
done

# the name checked is the URI's host, not the address connected to: with
# https://localhost/ a certificate for DNS:localhost passes, and one for
# IP:127.0.0.1 alone does not, though localhost is 127.0.0.1
tls_tam tam-dns
TAM_URI="https://localhost:$TAM_PORT/tam"
write_conf "$TAM_URI" "ca_file = $WORK/ca.pem"
start_broker
expect_installed "localhost"
stop_both "localhost"
tls_tam tam-ip
TAM_URI="https://localhost:$TAM_PORT/tam"
write_conf "$TAM_URI" "ca_file = $WORK/ca.pem"
start_broker
expect_refused "localhost, IP-only certificate" "hostname mismatch"
stop_both "localhost, IP-only certificate"
pass "https to localhost: checked against DNS:localhost, not against the address"

# (d) tls_insecure = yes: the same CA mismatch and host mismatch as (b) and
# (c) pass, and the broker says at startup that nothing is checked
for cert in tam-ip tam-dns; do
	tls_tam $cert
	write_conf "$TAM_URI" "ca_file = $WORK/other-ca.pem" "tls_insecure = yes"
	start_broker
	grep -q "warn: tam .*TLS certificate checks are OFF (tls_insecure)" "$WORK/broker.log" ||
		fail "tls_insecure: no loud warning in the broker log"
	expect_installed "tls_insecure, $cert"
	stop_both "tls_insecure, $cert"
done
pass "tls_insecure = yes: installed despite the wrong CA and host, with the warning"

# without ca_file the system's CA store is used (OpenSSL reads its location
# from SSL_CERT_FILE, which stands in for the system store here) ...
tls_tam tam-ip
write_conf "$TAM_URI"
SSL_CERT_FILE="$WORK/ca.pem" start_broker
expect_installed "system store"
stop_both "system store"
pass "https without ca_file: the system's CA store is used"

# ... and ca_file replaces the system's store rather than adding to it
tls_tam tam-ip
write_conf "$TAM_URI" "ca_file = $WORK/other-ca.pem"
SSL_CERT_FILE="$WORK/ca.pem" start_broker
expect_refused "ca_file and system store" "unable to get local issuer certificate"
stop_both "ca_file and system store"
pass "https with ca_file: the system's CA store is not trusted besides it"

# (e) an answer delimited by the end of the connection (no Content-Length):
# over TLS it is complete only when close_notify ends it; a bare TCP close
# could be an attacker cutting it short (RFC 9112 section 9.8), so the
# exchange fails and the app is told the answer was truncated
tls_tam_fault() {
	start_tam --tls-cert "$WORK/tam-ip.pem" --tls-key "$WORK/tam-ip.key" --fault "$1"
	TAM_URI="https://127.0.0.1:$TAM_PORT/tam"
	write_conf "$TAM_URI" "ca_file = $WORK/ca.pem"
	start_broker
}
tls_tam_fault close-delimited
expect_installed "close-delimited, close_notify"
stop_both "close-delimited, close_notify"
pass "https, close-delimited answers ended by close_notify: installed"
tls_tam_fault no-close-notify
ua request-ta "$TC_UUID"
rc=$?
[ $rc = 1 ] || fail "no close_notify: teep-ua exited $rc: $(cat "$WORK/ua.out")"
grep -q "error 8 .*truncated: the TLS connection closed without close_notify" "$WORK/ua.out" ||
	fail "no close_notify: not an error naming the truncation: $(cat "$WORK/ua.out")"
grep -qi "ProcessError" "$WORK/broker.log" || fail "no close_notify: the Agent was not told"
[ ! -e "$(tc_dir $TC_UUID)/image" ] || fail "no close_notify: something got installed"
stop_both "no close_notify"
pass "https, a close-delimited answer ended by a bare TCP close: error 8, truncated"
