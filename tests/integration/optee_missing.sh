#!/bin/bash
# The optee driver loads in the broker like the others, and where there is
# no TEE device the broker does not start: exit 4 with a sentence that names
# the device and the likely cause; --check-config, which loads the drivers
# as a start does, says the same beforehand.
. "$(dirname "$0")/lib.sh"
OPTEE_SO="$top_builddir/.libs/optee.so"
DEV="$WORK/tee9" # never created

DRIVER_SECTION="[driver:optee]
path = $OPTEE_SO
device = $DEV
ta_uuid = $TC_UUID" write_conf "http://127.0.0.1:9/tam"

"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.log" 2>&1
rc=$?
[ $rc = 4 ] || fail "--check-config: exit $rc, not 4: $(cat "$WORK/check.log")"
grep -q "no TEE device at $DEV: No such file or directory (is the OP-TEE driver loaded?)" \
	"$WORK/check.log" || fail "--check-config does not say why: $(cat "$WORK/check.log")"
pass "--check-config refuses the section where there is no TEE device (exit 4)"

# run_broker: start it, wait (bounded) for it to exit, rc=its status
run_broker() {
	"$BROKER_BIN" -f -c "$WORK/broker.conf" >"$WORK/broker.log" 2>&1 &
	local pid=$!
	PIDS="$PIDS $pid"
	wait_exit "$pid" 20
	rc=$?
}

run_broker
[ $rc = 4 ] || fail "no TEE device: exit $rc, not 4"
grep -q "no TEE device at $DEV: No such file or directory (is the OP-TEE driver loaded?)" \
	"$WORK/broker.log" || fail "no clear message: $(cat "$WORK/broker.log")"
grep -q "driver optee (.*optee.so): init failed" "$WORK/broker.log" ||
	fail "the broker does not name the driver: $(cat "$WORK/broker.log")"
pass "no TEE device: exit 4, \"no TEE device at .../tee9 ... (is the OP-TEE driver loaded?)\""

# without ta_uuid: refused before any device is opened
DRIVER_SECTION="[driver:optee]
path = $OPTEE_SO
device = $DEV" write_conf "http://127.0.0.1:9/tam"
run_broker
[ $rc = 4 ] || fail "no ta_uuid: exit $rc, not 4"
grep -q "the option ta_uuid (the TEEP Agent TA's UUID) is required" "$WORK/broker.log" ||
	fail "no ta_uuid: $(cat "$WORK/broker.log")"
pass "no ta_uuid: exit 4, the option is named"
