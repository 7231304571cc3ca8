#!/bin/bash
# Startup refuses what it cannot run, with a clear message and exit code.
. "$(dirname "$0")/lib.sh"
make_keys
write_conf "http://127.0.0.1:9/tam"

"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.log" 2>&1 ||
	fail "valid config refused: $(cat "$WORK/check.log")"
pass "--check-config accepts a valid file"

printf '[listener]\nport = 70000\nbogus = 1\n' >"$WORK/bad.conf"
"$BROKER_BIN" --check-config -c "$WORK/bad.conf" >"$WORK/bad.log" 2>&1; rc=$?
[ $rc = 3 ] || fail "bad config: exit $rc"
grep -q "bad.conf:2:" "$WORK/bad.log" || fail "no line number: $(cat "$WORK/bad.log")"
grep -q "bad.conf:3:" "$WORK/bad.log" || fail "unknown key not reported: $(cat "$WORK/bad.log")"
pass "bad config: exit 3 with line numbers"

"$BROKER_BIN" -c "$WORK/nonexistent.conf" >"$WORK/none.log" 2>&1; rc=$?
[ $rc = 3 ] || fail "missing config: exit $rc"
pass "missing config: exit 3"

expect_driver_refusal() { # path words
	DRIVER_PATH=$1 write_conf "http://127.0.0.1:9/tam"
	"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/drv.log" 2>&1; rc=$?
	[ $rc = 4 ] || fail "driver $1: exit $rc: $(cat "$WORK/drv.log")"
	grep -q "$2" "$WORK/drv.log" || fail "driver $1: message lacks '$2': $(cat "$WORK/drv.log")"
	pass "driver $(basename "$1"): exit 4, '$2'"
}
FAKE="$top_builddir/tests/unit/.libs"
expect_driver_refusal "$WORK/missing.so" "cannot load"
expect_driver_refusal "$FAKE/drv_badmagic.so" "bad magic"
expect_driver_refusal "$FAKE/drv_major.so" "major versions differ"
expect_driver_refusal "$FAKE/drv_noentry.so" "does not export tb_driver_entry"
expect_driver_refusal "$FAKE/drv_initfails.so" "init failed"

expect_plugin_refusal() { # words, then the [plugin:p] lines
	local words=$1
	shift
	CONF_EXTRA="[plugin:p]
$(printf '%s\n' "$@")" write_conf "http://127.0.0.1:9/tam"
	"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/plg.log" 2>&1; rc=$?
	[ $rc = 4 ] || fail "plugin $*: exit $rc: $(cat "$WORK/plg.log")"
	grep -q "$words" "$WORK/plg.log" || fail "plugin $*: message lacks '$words': $(cat "$WORK/plg.log")"
	pass "plugin: exit 4, '$words'"
}
AUTH="$top_builddir/.libs/auth-token.so"
expect_plugin_refusal "plugin p: cannot load" "path = $WORK/missing.so"
expect_plugin_refusal "bad magic .*(not a teep-broker plugin)" "path = $FAKE/plg_badmagic.so"
expect_plugin_refusal "does not export tb_plugin_entry" "path = $FAKE/drv_good.so"
expect_plugin_refusal "plugin p (.*): init failed" "path = $FAKE/plg_initfails.so"
expect_plugin_refusal "plugin p: token_file is required" "path = $AUTH"
expect_plugin_refusal 'unknown option "tokenfile"' "path = $AUTH" "tokenfile = x"
expect_plugin_refusal "cannot open the token file" "path = $AUTH" "token_file = $WORK/none"
printf 'a-token-of-sixteen nav *\n' >"$WORK/tokens"
chmod 600 "$WORK/tokens"
expect_plugin_refusal "tokens:1: expected 4 fields" "path = $AUTH" "token_file = $WORK/tokens"
printf 'a-token-of-sixteen nav * *\n' >"$WORK/tokens"
chmod 666 "$WORK/tokens"
expect_plugin_refusal "may be written by every user" "path = $AUTH" "token_file = $WORK/tokens"
expect_plugin_refusal 'anonymous: "maybe" is not yes or no' "path = $AUTH" \
	"token_file = $WORK/tokens" "anonymous = maybe"

"$BROKER_BIN" --version | grep -q "driver ABI 1.2, plugin ABI 1.2" || fail "--version"
"$BROKER_BIN" --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "bad option: not exit 2"
pass "--version, usage errors"

# a port already in use: exit 5, and the reason in words, not "(-1 98)"
write_conf "http://127.0.0.1:9/tam"
start_broker
sed -e "s/^port = 0$/port = $BROKER_PORT/" -e "s#^port_file = .*#port_file = $WORK/b2.port#" \
	"$WORK/broker.conf" >"$WORK/busy.conf"
"$BROKER_BIN" -f -c "$WORK/busy.conf" >"$WORK/busy.log" 2>&1; rc=$?
[ $rc = 5 ] || fail "port in use: exit $rc: $(cat "$WORK/busy.log")"
grep -q "cannot listen on 127.0.0.1 port $BROKER_PORT: Address already in use" "$WORK/busy.log" ||
	fail "port in use: no reason: $(cat "$WORK/busy.log")"
stop_broker
pass "port in use: exit 5, \"Address already in use\""

# port_file and pid_file are written through a new file of a random name,
# never through a link planted in their directory (at the old fixed
# temporary name "FILE.tmp", or at the file's own name, which is replaced)
printf 'precious\n' >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/broker.port.tmp"
ln -s "$WORK/victim" "$WORK/broker.pid.tmp"
ln -s "$WORK/victim" "$WORK/broker.pid"
BROKER_EXTRA="pid_file = $WORK/broker.pid" write_conf "http://127.0.0.1:9/tam"
start_broker
wait_file "$WORK/broker.pid" 10 || fail "no pid file"
[ "$(cat "$WORK/victim")" = precious ] || fail "a planted link was written through"
[ -f "$WORK/broker.port" ] && [ ! -L "$WORK/broker.port" ] || fail "port_file is not a file"
[ ! -L "$WORK/broker.pid" ] && grep -qx "[0-9][0-9]*" "$WORK/broker.pid" ||
	fail "pid_file: $(ls -l "$WORK/broker.pid")"
[ "$(ls "$WORK" | grep -c '\.tmp$')" = 2 ] || fail "temporary files left: $(ls "$WORK")"
stop_broker
[ "$(cat "$WORK/victim")" = precious ] || fail "the victim changed at exit"
pass "port_file, pid_file: planted links are not written through"
