#!/bin/bash
# [broker] user: started as root, the broker binds its listener, gives its
# state root to the user and becomes it (user, group, supplementary groups)
# before loading drivers and plugins; an install through it then works, the
# Trusted Component written as the user. A user that does not exist stops the
# start with a clear message. Needs root: it creates a throwaway system user.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: privdrop.sh starts the broker as root and creates a system user: run as root"
	exit 77
fi
command -v useradd >/dev/null && command -v userdel >/dev/null ||
	{ echo "SKIP: no useradd/userdel"; exit 77; }

U="tbit$$"
useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$U" ||
	fail "useradd $U"
trap 'cleanup; userdel "$U" 2>/dev/null; getent group "$U" >/dev/null && groupdel "$U"' EXIT
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")

# What an operator gives the user: read access to the programs, the public
# keys and the Agent's own key; a runtime directory for the pid and port
# files. The state root stays root's, mode 0700: the broker gives it.
make_keys
chmod 755 "$WORK"
mkdir -m 755 "$WORK/lib"
cp "$SIM_SO" "$WORK/lib/sim.so"
cp "$VECTORS/suit/appendixE_signer_public_key.pem" "$WORK/appendixE_signer.pem"
chmod 644 "$WORK"/*.pem
chown "$U" "$WORK/state/agent.pem"
mkdir -m 700 "$WORK/run"
chown "$U:$U" "$WORK/run"
[ "$(stat -c %U "$WORK/state")" = root ] || fail "the state dir is not root's to begin with"

add_component "$TC_UUID" "Hello as a user"
start_tam
TAM="http://127.0.0.1:$TAM_PORT/tam"
DRIVER_SECTION="[driver:sim]
path = $WORK/lib/sim.so
state_dir = $WORK/state
agent_key = $WORK/state/agent.pem
tam_key = $WORK/tam_pub.pem
tc_signer = $WORK/signer_pub.pem,$WORK/appendixE_signer.pem
tam_uri = $TAM" BROKER_EXTRA="user = $U
state_dir = $WORK/state
pid_file = $WORK/run/broker.pid" write_conf "$TAM"
sed -i "s|^port_file = .*|port_file = $WORK/run/broker.port|" "$WORK/broker.conf"

"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.log" 2>&1 ||
	fail "--check-config as root with user = $U: $(cat "$WORK/check.log")"
grep -q "checking as user $U" "$WORK/check.log" || fail "the check did not become $U"
[ "$(stat -c %U "$WORK/state")" = "$U" ] || fail "the check did not give the state dir to $U"
pass "--check-config as root checks as the user"
# as it was before: what the check's driver made goes, the start must give
# the state root again
rm -rf "$WORK/state/tc" "$WORK/state/agent_pub.pem"
chown root:root "$WORK/state"

"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
PIDS="$PIDS $BROKER_PID"
wait_file "$WORK/run/broker.port" 20 || fail "teep-brokerd did not start as $U"
URL="ws://127.0.0.1:$(cat "$WORK/run/broker.port")/"

st=/proc/$BROKER_PID/status
read -r _ r e s f < <(grep '^Uid:' "$st")
[ "$r $e $s $f" = "$UID_U $UID_U $UID_U $UID_U" ] || fail "Uid: $r $e $s $f, not $UID_U"
read -r _ r e s f < <(grep '^Gid:' "$st")
[ "$r $e $s $f" = "$GID_U $GID_U $GID_U $GID_U" ] || fail "Gid: $r $e $s $f, not $GID_U"
groups=$(grep '^Groups:' "$st" | cut -f2 | tr -s ' ' | sed 's/ $//')
[ "$groups" = "$GID_U" ] || fail "supplementary groups: '$groups', not the user's ($GID_U)"
grep -q '^CapEff:[[:space:]]*0*$' "$st" || fail "capabilities left: $(grep '^Cap' "$st")"
grep -q "running as user $U (uid $UID_U, gid $GID_U)" "$WORK/broker.log" || fail "no log line"
pass "/proc/PID/status: Uid and Gid are $U's ($UID_U/$GID_U), its groups only, no capabilities"

[ "$(stat -c %U "$WORK/state")" = "$U" ] || fail "the state dir was not given to $U"
ua request-ta "$TC_UUID" || fail "request-ta as $U: $(cat "$WORK/ua.out")"
grep -q '"status": *"done"\|done' "$WORK/ua.out" || fail "request-ta: $(cat "$WORK/ua.out")"
f=$(tc_dir "$TC_UUID")
[ -d "$f" ] || fail "no component in $f: $(ls -lR "$WORK/state")"
[ "$(stat -c %U "$f")" = "$U" ] || fail "the component is not $U's: $(ls -ld "$f")"
[ "$(stat -c %U "$WORK/run/broker.pid")" = "$U" ] || fail "the pid file is not $U's"
stop_broker
[ ! -e "$WORK/run/broker.pid" ] || fail "the pid file was left"
pass "an install through it works: the state root became $U's, the component is written as $U"

# a user that does not exist: exit 3 with its line, before anything starts
sed -i "s|^user = .*|user = no-such-user-$$|" "$WORK/broker.conf"
rm -f "$WORK/run/broker.port"
"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/nouser.log" 2>&1; rc=$?
[ $rc = 3 ] || fail "unknown user: exit $rc: $(cat "$WORK/nouser.log")"
line=$(grep -n '^user = ' "$WORK/broker.conf" | cut -d: -f1)
grep -q "broker.conf:$line: \[broker\] user: no such user \"no-such-user-$$\"" "$WORK/nouser.log" ||
	fail "unknown user: $(cat "$WORK/nouser.log")"
[ ! -e "$WORK/run/broker.port" ] || fail "it listened"
pass "user = a user that does not exist: exit 3, \"no such user\" at its line"
