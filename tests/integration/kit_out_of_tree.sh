#!/bin/bash
# The kit for driver and plugin authors, as an author uses it: make install
# into a staging root, then, in a directory outside the source tree, build
# the skeleton driver and plugin with their Makefiles against the installed
# headers found by pkg-config (-Wall -Wextra -Werror), and the minimal
# driver and plugin of docs/driver-abi.md and docs/plugin-abi.md as printed
# there; the installed teep-driver-check passes the skeleton driver; the
# broker loads both skeletons and answers a request through them.
. "$(dirname "$0")/lib.sh"

command -v pkg-config >/dev/null || { echo "# skipped: no pkg-config"; exit 77; }
MAKE=${MAKE:-make}
ROOT=$WORK/root
var() { $MAKE -s -C "$top_builddir" print-$1 2>/dev/null | sed -n "s/^$1=//p"; }
libdir=$(var libdir)
bindir=$(var bindir)
[ -n "$libdir" ] && [ -n "$bindir" ] || fail "cannot read the install paths from the Makefile"
$MAKE -s -C "$top_builddir" install DESTDIR="$ROOT" >"$WORK/make.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$WORK/make.log")"

# pkg-config sees the staging root only
export PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_PATH=$ROOT$libdir/pkgconfig
export PKG_CONFIG_LIBDIR=$ROOT$libdir/pkgconfig
cflags=$(pkg-config --cflags teep-broker) || fail "pkg-config does not find teep-broker"
case "$cflags" in *"$ROOT"*) ;; *) fail "pkg-config --cflags does not point into the staging root: $cflags" ;; esac
[ -n "$(pkg-config --variable=driverdir teep-broker)" ] || fail "the .pc has no driverdir"
pass "pkg-config finds the installed teep-broker: $cflags"

STRICT="-std=c11 -O2 -Wall -Wextra -Werror"
for k in driver plugin; do
	cp -r "$top_srcdir/examples/skeleton-$k" "$WORK/skeleton-$k"
	chmod -R u+w "$WORK/skeleton-$k"
	rm -f "$WORK/skeleton-$k/skeleton.so"
	$MAKE -C "$WORK/skeleton-$k" CC=cc CFLAGS="$STRICT" >"$WORK/build-$k.log" 2>&1 ||
		fail "the skeleton $k does not build: $(cat "$WORK/build-$k.log")"
	grep -q -- "-I$ROOT" "$WORK/build-$k.log" || fail "the skeleton $k did not use pkg-config: $(cat "$WORK/build-$k.log")"
	[ -f "$WORK/skeleton-$k/skeleton.so" ] || fail "no skeleton-$k/skeleton.so"
done
pass "both skeletons build out of tree with $STRICT"

# doc_block FILE HEADING: the first fenced C block under that heading
doc_block() {
	awk -v h="$2" '$0 == h { in_sec = 1; next }
		in_sec && /^## / { exit }
		in_sec && /^```c$/ { code = 1; next }
		code && /^```$/ { exit }
		code { print }' "$1"
}
for doc in driver plugin; do
	doc_block "$top_srcdir/docs/$doc-abi.md" "## A minimal $doc" >"$WORK/doc-$doc.c"
	[ -s "$WORK/doc-$doc.c" ] || fail "no C block under '## A minimal $doc' in docs/$doc-abi.md"
	cc $cflags $STRICT -fPIC -shared -fvisibility=hidden -o "$WORK/doc-$doc.so" \
		"$WORK/doc-$doc.c" >"$WORK/doc-$doc.log" 2>&1 ||
		fail "the minimal $doc of docs/$doc-abi.md does not compile: $(cat "$WORK/doc-$doc.log")"
done
"$ROOT$bindir/teep-driver-check" "$WORK/doc-driver.so" >"$WORK/doc-check.out" 2>&1 ||
	fail "the documented minimal driver fails teep-driver-check: $(cat "$WORK/doc-check.out")"
pass "the minimal driver and plugin of the docs compile; the driver passes teep-driver-check"

SKEL_DRV=$WORK/skeleton-driver/skeleton.so
SKEL_PLG=$WORK/skeleton-plugin/skeleton.so
"$ROOT$bindir/teep-driver-check" "$SKEL_DRV" >"$WORK/check.out" 2>&1 ||
	fail "teep-driver-check fails the skeleton: $(cat "$WORK/check.out")"
grep -q "^PASS request_ta: nothing to do$" "$WORK/check.out" || fail "$(cat "$WORK/check.out")"
"$ROOT$bindir/teep-driver-check" -o refuse=yes "$SKEL_DRV" >"$WORK/check-refuse.out" 2>&1 ||
	fail "teep-driver-check fails the refusing skeleton: $(cat "$WORK/check-refuse.out")"
grep -q "^PASS request_ta: TB_ERR_TEE$" "$WORK/check-refuse.out" || fail "$(cat "$WORK/check-refuse.out")"
pass "the installed teep-driver-check passes the skeleton, answering and refusing"

DRIVER_SECTION="[driver:skel]
path = $SKEL_DRV" CONF_EXTRA="[plugin:skel]
path = $SKEL_PLG
tag = kit" write_conf "http://127.0.0.1:9/tam"
start_broker
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
grep -q "done: no-change" "$WORK/ua.out" || fail "no 'done: no-change': $(cat "$WORK/ua.out")"
wait_line "$WORK/broker.log" "request_ta: nothing to do (no TEE behind this driver)" 5 ||
	fail "the skeleton driver did not answer"
wait_line "$WORK/broker.log" "kit: app connects: id [0-9]* from 127.0.0.1, path /" 5 ||
	fail "the skeleton plugin did not log the connection"
wait_line "$WORK/broker.log" "kit: app [0-9]* asks for request-ta on tee skel" 5 ||
	fail "the skeleton plugin did not log the request"
ua policy-check || fail "policy-check exited $?: $(cat "$WORK/ua.out")"
grep -q "done: completed" "$WORK/ua.out" || fail "policy-check: $(cat "$WORK/ua.out")"
stop_broker
pass "the broker loads both skeletons and answers requests through them"

mandir=$(var mandir)
MAN=$ROOT$mandir/man1/teep-driver-check.1
[ -f "$MAN" ] || fail "teep-driver-check.1 is not installed"
if command -v groff >/dev/null; then
	w=$(LC_ALL=C groff -man -ww -z "$MAN" 2>&1)
	[ -z "$w" ] || fail "teep-driver-check.1: $w"
fi
pass "teep-driver-check(1) is installed and renders without warnings"
