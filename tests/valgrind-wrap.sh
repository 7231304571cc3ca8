#!/bin/bash
# LOG_COMPILER for `make check` under valgrind: a test program runs under
# memcheck; an integration script runs normally but starts teep-brokerd under
# memcheck (through BROKER_WRAP in tests/integration/lib.sh), whose non-zero
# exit then fails the script.
VG="valgrind --quiet --error-exitcode=42 --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --track-fds=no --num-callers=30"
case "$1" in
*.sh)
	export BROKER_WRAP="$VG"
	exec bash "$@"
	;;
*)
	exec $VG "$@"
	;;
esac
