#!/bin/bash
# The Network User as a Relying Party, from the TAM (docs/reference-tam.md,
# "Attestation Results for the Network User"): teep-tam --ear-dir keeps each
# device's latest signed EAR, named by the device's ueid; teep-tool
# ear-check verifies it with the TAM's public key, checks its freshness and
# the device, and says the status with its exit status (0 affirming,
# 3 warning, 1 not verified).
. "$(dirname "$0")/lib.sh"

make_keys
"$TOOL" keygen "$WORK/state/attestation.pem" "$WORK/att_pub.pem" >/dev/null ||
	fail "keygen attestation"
add_component "$TC_UUID" "Hello, Secure World!"
OTHER_UUID=0d9a6d2c-1b3e-4f5a-8c7d-9e0f1a2b3c4d
add_component "$OTHER_UUID" "Another one"
mkdir "$WORK/ears"
MEAS=$(sha256sum "$SIM_SO" | cut -d' ' -f1)

# --ear-dir needs --attest, and a directory
"$TAM_BIN" --key "$WORK/tam.pem" --agent-key "$WORK/state/agent_pub.pem" \
	--catalog "$WORK/catalog" --ear-dir "$WORK/ears" >"$WORK/usage.out" 2>&1
[ $? = 2 ] || fail "--ear-dir without --attest: $(cat "$WORK/usage.out")"
pass "--ear-dir without --attest is a usage error"

start_tam --attest --attestation-key "$WORK/att_pub.pem" --expect-measurement "$MEAS" \
	--ear-dir "$WORK/ears"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$TC_UUID" || fail "request-ta exited $?: $(cat "$WORK/ua.out")"
set -- "$WORK"/ears/*.ear
[ $# = 1 ] && [ -f "$1" ] || fail "not one EAR in the directory: $(ls -la "$WORK/ears")"
EAR=$1
DEVICE=$(basename "$EAR" .ear)
grep -q "attestation result of device $DEVICE kept in $EAR" "$WORK/tam.log" ||
	fail "not logged: $(grep attestation "$WORK/tam.log")"
[ "$(ls -A "$WORK/ears" | wc -l)" = 1 ] ||
	fail "leftovers in the directory: $(ls -A "$WORK/ears")"

"$TOOL" ear-check --key "$WORK/tam_pub.pem" --ueid "$DEVICE" --max-age 10m "$EAR" \
	>"$WORK/check.out" 2>&1 || fail "ear-check exited $?: $(cat "$WORK/check.out")"
grep -q "^status: affirming" "$WORK/check.out" || fail "$(cat "$WORK/check.out")"
grep -q "^ueid: $DEVICE" "$WORK/check.out" || fail "$(cat "$WORK/check.out")"
grep -q "^  executables: 2 (affirming)" "$WORK/check.out" || fail "$(cat "$WORK/check.out")"
pass "the device's EAR is kept under its ueid; ear-check: affirming, exit 0"

# someone else's key, a flipped byte, another device: not accepted
"$TOOL" ear-check --key "$WORK/att_pub.pem" "$EAR" >"$WORK/check.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "^NOT verified" "$WORK/check.out" ||
	fail "another key: exit $rc: $(cat "$WORK/check.out")"
cp "$EAR" "$WORK/tampered.ear"
size=$(stat -c %s "$WORK/tampered.ear")
printf '\x00' | dd of="$WORK/tampered.ear" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
cmp -s "$EAR" "$WORK/tampered.ear" &&
	printf '\x01' | dd of="$WORK/tampered.ear" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
"$TOOL" ear-check --key "$WORK/tam_pub.pem" "$WORK/tampered.ear" >"$WORK/check.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "tampered: exit $rc: $(cat "$WORK/check.out")"
"$TOOL" ear-check --key "$WORK/tam_pub.pem" --ueid 0102030405060708 "$EAR" \
	>"$WORK/check.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "^wrong device" "$WORK/check.out" ||
	fail "another device: exit $rc: $(cat "$WORK/check.out")"
pass "another key, a changed byte or another device's id: exit 1"

# The TAM's reference values change: the device's next result is a
# warning, and it replaces the file.
kill -TERM "$TAM_PID"
wait_exit "$TAM_PID" 10 || fail "teep-tam exit status $?"
stop_broker
cp "$EAR" "$WORK/first.ear"
start_tam --attest --attestation-key "$WORK/att_pub.pem" \
	--expect-measurement 0000000000000000000000000000000000000000000000000000000000000000 \
	--ear-dir "$WORK/ears"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta "$OTHER_UUID" && fail "request-ta succeeded: $(cat "$WORK/ua.out")"
cmp -s "$EAR" "$WORK/first.ear" && fail "the EAR was not replaced"
"$TOOL" ear-check --key "$WORK/tam_pub.pem" --ueid "$DEVICE" "$EAR" >"$WORK/check.out" 2>&1
rc=$?
[ $rc = 3 ] && grep -q "^status: warning" "$WORK/check.out" &&
	grep -q "^  executables: 33 (warning)" "$WORK/check.out" ||
	fail "warning: exit $rc: $(cat "$WORK/check.out")"
pass "the latest result replaces the file: warning, exit 3"

stop_broker
pass "clean exit"
