#!/bin/bash
# teep-broker developer entry point.
#
#   ./dev.sh demo    install what is missing, build, and run an install through
#                    the broker: reference TAM + teep-brokerd (software TEE) +
#                    teep-ua, all on loopback
#   ./dev.sh test    install what is missing, build with sanitizers and
#                    -Werror, run the whole test suite (unit, integration,
#                    valgrind, fuzz smoke, the Debian package built,
#                    installed, run and purged), print "N passed, N failed"
#   ./dev.sh deps    only install the Debian packages
#
# Builds happen out of tree under _build/.
set -eu
cd "$(dirname "$0")"
TOP=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

PACKAGES="build-essential autoconf automake autoconf-archive libtool pkg-config
	libwebsockets-dev libssl-dev libcbor-dev libmbedtls-dev libcmocka-dev libinih-dev
	libsystemd-dev valgrind clang libclang-rt-14-dev debhelper lintian openssl man-db"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

deps() {
	local missing=""
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing Debian packages:$missing"
	local sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install:$missing"
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q || die "apt-get update failed (is the Debian archive reachable?)"
	# shellcheck disable=SC2086
	$sudo apt-get install -y -q --no-install-recommends $missing ||
		die "apt-get install failed for:$missing"
}

bootstrap() {
	if [ ! -x configure ] || [ configure.ac -nt configure ]; then
		say "autoreconf"
		autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; die "autoreconf failed"; }
	fi
}

# build DIR [configure options...]
build() {
	local dir=$1
	shift
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/config.status" ]; then
		say "configure $dir $*"
		(cd "$dir" && "$TOP/configure" "$@" >configure.out 2>&1) ||
			{ tail -n 30 "$dir/configure.out" "$dir/config.log" 2>/dev/null; die "configure failed"; }
	fi
	say "build $dir"
	make -C "$dir" -j"$JOBS" >"$dir/make.out" 2>&1 ||
		{ grep -E 'error|Error' "$dir/make.out" | head -n 40; die "build failed (see $dir/make.out)"; }
}

demo() {
	deps
	bootstrap
	build _build/demo
	exec bash tools/demo.sh _build/demo
}

# package_cycle DIR: tests/package/cycle.sh, its result as a suite log
package_cycle() {
	local out=$1 rc=0
	rm -rf "$out"
	mkdir -p "$out"
	bash tests/package/cycle.sh "$out" >"$out/cycle.out" 2>&1 || rc=$?
	cat "$out/cycle.out"
	case $rc in
	0) echo "# PASS: 1" >"$out/package-suite.log" ;;
	77) echo "# SKIP: 1" >"$out/package-suite.log" ;;
	*) { echo "# FAIL: 1"; echo "FAIL: tests/package/cycle.sh"; } >"$out/package-suite.log" ;;
	esac
}

count_results() { # log files... -> prints totals of automake's summaries
	awk '/^# (PASS|XFAIL|SKIP):/ { p += $3 } /^# (FAIL|ERROR|XPASS):/ { f += $3 }
	     END { printf "%d %d\n", p, f }' "$@"
}

test_all() {
	deps
	bootstrap
	local failed=0 logs=""

	build _build/check --enable-werror --with-sanitize=address,undefined
	say "test suite (ASan + UBSan)"
	make -C _build/check -j"$JOBS" check >_build/check/check.out 2>&1 || failed=1
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' _build/check/check.out || true
	logs="$logs _build/check/test-suite.log"

	build _build/valgrind --enable-werror
	say "test suite under valgrind (unit tests and the install path)"
	make -C _build/valgrind -j"$JOBS" check TEST_SUITE_LOG=test-suite-valgrind.log \
		LOG_COMPILER="$TOP/tests/valgrind-wrap.sh" SH_LOG_COMPILER="$TOP/tests/valgrind-wrap.sh" \
		TESTS="\$(filter tests/unit/%,\$(check_PROGRAMS)) tests/integration/install.sh" \
		>_build/valgrind/check.out 2>&1 || failed=1
	grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):' _build/valgrind/check.out || true
	logs="$logs _build/valgrind/test-suite-valgrind.log"

	if command -v clang >/dev/null; then
		say "fuzz targets, bounded smoke run"
		make -C _build/valgrind fuzz-check FUZZ_SECONDS="${FUZZ_SECONDS:-20}" \
			>_build/valgrind/fuzz.out 2>&1 || failed=1
		grep -E '^(PASS|FAIL):' _build/valgrind/fuzz.out || true
		logs="$logs _build/valgrind/fuzz-suite.log"
	fi

	if [ -d .git ] && command -v clang-format >/dev/null; then
		say "formatting"
		if make -C _build/check check-format >_build/check/format.out 2>&1; then
			echo "# PASS: 1" >_build/check/format-suite.log
			echo "PASS: clang-format"
		else
			echo "# FAIL: 1" >_build/check/format-suite.log
			echo "FAIL: clang-format (run 'make -C _build/check format')"
			head -n 20 _build/check/format.out
		fi
		logs="$logs _build/check/format-suite.log"
	fi

	say "Debian packages: build, lintian, install, run, purge"
	package_cycle "$TOP/_build/deb"
	logs="$logs _build/deb/package-suite.log"

	for l in $logs; do
		[ -f "$l" ] || { echo "missing $l"; failed=1; continue; }
		if grep -qE '^# (FAIL|ERROR|XPASS): *[1-9]' "$l"; then
			echo "---- failures in $l"
			grep -E '^(FAIL|ERROR|XPASS):' "$l" | head -n 20
		fi
	done
	# shellcheck disable=SC2086
	read -r passed nfailed <<<"$(count_results $logs 2>/dev/null)"
	[ "$failed" = 1 ] && [ "$nfailed" = 0 ] && nfailed=1
	echo "${passed:-0} passed, ${nfailed:-1} failed"
	[ "${nfailed:-1}" = 0 ]
}

case "${1:-}" in
demo) demo ;;
test) test_all ;;
deps) deps ;;
*)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
