#!/bin/bash
# --check-config checks what the start would: it loads every driver and
# plugin and lets them check their options, opens the keys, certificates and
# token files, checks the directories the broker writes in, and reports each
# problem with the file and line it comes from (exit 3 configuration, 4 a
# driver or plugin).
. "$(dirname "$0")/lib.sh"
make_keys
AUTH="$top_builddir/.libs/auth-token.so"
CONF="$WORK/broker.conf"
printf 'a-token-of-sixteen nav * *\n' >"$WORK/tokens"
chmod 600 "$WORK/tokens"

# line NUMBER of the first line of the configuration matching a pattern
line_of() { grep -n -m1 -- "$1" "$CONF" | cut -d: -f1; }

# expect_check EXIT PATTERN...: --check-config exits EXIT and says each
# PATTERN (a "LINE-OF:<regex>" pattern is first turned into "broker.conf:N:")
expect_check() {
	local want=$1 rc pat
	shift
	"$BROKER_BIN" --check-config -c "$CONF" >"$WORK/check.log" 2>&1; rc=$?
	[ "$rc" = "$want" ] || fail "exit $rc, not $want: $(cat "$WORK/check.log")"
	for pat in "$@"; do
		case $pat in
		LINE-OF:*)
			local n
			n=$(line_of "${pat#LINE-OF:}")
			[ -n "$n" ] || fail "no line matches ${pat#LINE-OF:}"
			pat="broker.conf:$n: "
			;;
		esac
		grep -q -- "$pat" "$WORK/check.log" || fail "no '$pat' in: $(cat "$WORK/check.log")"
	done
}

PLUGIN="[plugin:auth]
path = $AUTH
token_file = $WORK/tokens"

CONF_EXTRA=$PLUGIN write_conf "http://127.0.0.1:9/tam"
expect_check 0 "configuration OK (1 TEE(s), 1 TAM(s), 1 plugin(s))"
pass "a good configuration (the sim driver, the auth-token plugin) passes"

DRIVER_PATH="$WORK/simm.so" write_conf "http://127.0.0.1:9/tam"
expect_check 4 'LINE-OF:^\[driver:sim\]' "cannot load"
pass "a mistyped driver path: exit 4, at the driver's section"

CONF_EXTRA="[plugin:auth]
path = $WORK/auth-tokn.so" write_conf "http://127.0.0.1:9/tam"
expect_check 4 'LINE-OF:^\[plugin:auth\]' "plugin auth: cannot load"
pass "a mistyped plugin path: exit 4, at the plugin's section"

SIM_TAM_KEYS="$WORK/no_tam_pub.pem" write_conf "http://127.0.0.1:9/tam"
expect_check 4 'LINE-OF:^\[driver:sim\]' "no_tam_pub.pem"
pass "the sim driver's tam_key missing: exit 4, the driver's message and its section"

printf 'not a key\n' >"$WORK/garbage.pem"
SIM_TAM_KEYS="$WORK/garbage.pem" write_conf "http://127.0.0.1:9/tam"
expect_check 4 'LINE-OF:^\[driver:sim\]' "garbage.pem"
pass "the sim driver's tam_key not a key: exit 4"

chmod 666 "$WORK/tokens"
CONF_EXTRA=$PLUGIN write_conf "http://127.0.0.1:9/tam"
expect_check 4 'LINE-OF:^\[plugin:auth\]' "may be written by every user"
chmod 600 "$WORK/tokens"
pass "a world-writable token file: exit 4, refused by the auth-token plugin"

write_conf "http://127.0.0.1:9/tam" "ca_file = $WORK/no-ca.pem"
expect_check 3 'LINE-OF:^ca_file = ' "no-ca.pem: cannot load ca_file"
pass "a missing ca_file: exit 3, at its line"

write_conf "http://127.0.0.1:9/tam" "precheck = yes" "trust_anchor = $WORK/no-anchor.pem"
expect_check 3 'LINE-OF:^trust_anchor = ' "trust_anchor $WORK/no-anchor.pem"
pass "a missing trust_anchor: exit 3, at its line"

CONF_EXTRA="[app-tam:nav]
key = $WORK/no-nav.pem" write_conf "http://127.0.0.1:9/tam"
expect_check 3 'LINE-OF:^key = ' "\[app-tam:nav\] key $WORK/no-nav.pem"
pass "a missing [app-tam] key: exit 3, at its line"

BROKER_EXTRA="pid_file = $WORK/no/such/dir/broker.pid" write_conf "http://127.0.0.1:9/tam"
expect_check 3 'LINE-OF:^pid_file = ' "directory $WORK/no/such/dir: No such file or directory"
pass "a pid_file in a directory that does not exist: exit 3, at its line"
# and the daemon refuses it too, rather than running without one
"$BROKER_BIN" -f -c "$CONF" >"$WORK/start.log" 2>&1; rc=$?
[ $rc = 1 ] || fail "start with a bad pid_file: exit $rc: $(cat "$WORK/start.log")"
grep -q "cannot write pid_file" "$WORK/start.log" || fail "start: $(cat "$WORK/start.log")"
pass "... and the start fails on it (exit 1)"

LISTENER_EXTRA="port_file = $WORK/none/broker.port" write_conf "http://127.0.0.1:9/tam"
sed -i "0,\|^port_file = $WORK/broker.port\$|{\|^port_file = $WORK/broker.port\$|d}" "$CONF"
expect_check 3 'LINE-OF:^port_file = ' "port_file $WORK/none/broker.port"
pass "a port_file in a directory that does not exist: exit 3"

BROKER_EXTRA="state_dir = $WORK/no-state" write_conf "http://127.0.0.1:9/tam"
expect_check 3 'LINE-OF:^state_dir = ' "state_dir $WORK/no-state"
pass "a state_dir that does not exist: exit 3"

BROKER_EXTRA="user = no-such-user-teep" write_conf "http://127.0.0.1:9/tam"
expect_check 3 'LINE-OF:^user = ' 'no such user "no-such-user-teep"'
"$BROKER_BIN" -f -c "$CONF" >"$WORK/start.log" 2>&1; rc=$?
[ $rc = 3 ] || fail "start with an unknown user: exit $rc: $(cat "$WORK/start.log")"
grep -q "broker.conf:$(line_of '^user = '): \[broker\] user: no such user" "$WORK/start.log" ||
	fail "start: $(cat "$WORK/start.log")"
pass "a user that does not exist: exit 3 at its line, for the check and the start"

# every problem, not only the first
chmod 666 "$WORK/tokens"
DRIVER_PATH="$WORK/simm.so" CONF_EXTRA=$PLUGIN write_conf "http://127.0.0.1:9/tam" \
	"ca_file = $WORK/no-ca.pem"
expect_check 3 'LINE-OF:^ca_file = ' 'LINE-OF:^\[driver:sim\]' 'LINE-OF:^\[plugin:auth\]'
chmod 600 "$WORK/tokens"
pass "several problems: each is reported with its line; exit 3"

"$BROKER_BIN" --help | grep -q "3 configuration error" || fail "--help lacks the exit codes"
"$BROKER_BIN" --help | grep -q "4 a driver or plugin" || fail "--help lacks exit 4"
pass "--help documents the exit codes"
