#!/bin/bash
# make install into a staging root: the configuration is an operator's file
# (kept when changed, the shipped one beside it as .dist; removed by
# uninstall only when unchanged), the systemd unit names the installed
# paths, the manual pages are installed and render without warnings.
. "$(dirname "$0")/lib.sh"

MAKE=${MAKE:-make}
ROOT=$WORK/root
inst() { $MAKE -s -C "$top_builddir" "$@" DESTDIR="$ROOT" >"$WORK/make.log" 2>&1 ||
	fail "make $* failed: $(tail -n 20 "$WORK/make.log")"; }
var() { $MAKE -s -C "$top_builddir" print-$1 2>/dev/null | sed -n "s/^$1=//p"; }

sysconfdir=$(var sysconfdir)
sbindir=$(var sbindir)
unitdir=$(var systemdsystemunitdir)
mandir=$(var mandir)
[ -n "$sysconfdir" ] && [ -n "$sbindir" ] || fail "cannot read the install paths from the Makefile"
CONF=$ROOT$sysconfdir/teep-broker/teep-broker.conf

inst install
cmp -s "$top_srcdir/conf/teep-broker.conf" "$CONF" || fail "a fresh install did not put the shipped configuration in place"
[ ! -e "$CONF.dist" ] || fail "a fresh install wrote $CONF.dist"
pass "fresh install: the shipped configuration in place"

echo "# edited by the operator" >>"$CONF"
cp "$CONF" "$WORK/edited"
inst install
cmp -s "$WORK/edited" "$CONF" || fail "make install overwrote an edited configuration"
cmp -s "$top_srcdir/conf/teep-broker.conf" "$CONF.dist" || fail "the shipped configuration is not beside it as .dist"
pass "install again: the edited configuration kept, the shipped one beside it"

if [ -n "$unitdir" ]; then
	UNIT=$ROOT$unitdir/teep-brokerd.service
	[ -f "$UNIT" ] || fail "the unit is not installed in $unitdir"
	grep -q "^ExecStart=$sbindir/teep-brokerd -f -c $sysconfdir/teep-broker/teep-broker.conf\$" "$UNIT" ||
		fail "the unit's ExecStart does not name the installed paths: $(grep ExecStart "$UNIT")"
	! grep -q '@[a-z]*@' "$UNIT" || fail "the unit has unsubstituted variables"
	pass "the unit is installed and names $sbindir and $sysconfdir"
	if command -v systemd-analyze >/dev/null; then
		# verify resolves ExecStart against the real root: point it at the staging copy
		sed "s|$sbindir/teep-brokerd|$ROOT$sbindir/teep-brokerd|g" "$UNIT" >"$WORK/teep-brokerd.service"
		out=$(systemd-analyze verify --man=no "$WORK/teep-brokerd.service" 2>&1 | grep -v "^$")
		[ -z "$out" ] || fail "systemd-analyze verify: $out"
		pass "systemd-analyze verify is clean"
	fi
fi

for m in man8/teep-brokerd.8 man5/teep-broker.conf.5 man1/teep-ua.1 man1/teep-tam.1 man1/teep-tool.1; do
	f=$ROOT$mandir/$m
	[ -f "$f" ] || fail "$m is not installed"
	if command -v groff >/dev/null; then
		w=$(LC_ALL=C groff -man -ww -z "$f" 2>&1)
		[ -z "$w" ] || fail "$m: $w"
	fi
done
pass "the manual pages are installed and render without warnings"

inst uninstall
[ -f "$CONF" ] || fail "make uninstall removed an edited configuration"
[ ! -e "$CONF.dist" ] || fail "make uninstall left $CONF.dist"
[ ! -e "$ROOT$sbindir/teep-brokerd" ] || fail "make uninstall left the daemon"
rm -f "$CONF"
inst install
inst uninstall
[ ! -e "$CONF" ] || fail "make uninstall left an unchanged configuration"
pass "uninstall keeps an edited configuration and removes an unchanged one"
