#!/bin/bash
# A global rate limit per TEE ([limit:NAME] key = tee): every app's
# requests for the TEE share one bucket, whatever address or identity they
# come from. key = tee on app messages is a configuration error.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
start_tam
CONF_EXTRA="[limit:per-tee]
applies_to = tee-calls
key = tee
rate = 1r/m
burst = 1
nodelay = yes"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
ua request-ta TEEP-Device/SecureFS/one || fail "first request refused: $(cat "$WORK/ua.out")"
ua request-ta TEEP-Device/SecureFS/two || fail "second request (the burst) refused"
ua request-ta TEEP-Device/SecureFS/three
[ $? = 4 ] || fail "third request not busy: $(cat "$WORK/ua.out")"
grep -q "busy" "$WORK/ua.out" || fail "no busy answer"
broker_counters >"$WORK/counters.txt"
grep -q "per-tee" "$WORK/counters.txt" || fail "no counters for the zone"
pass "one bucket for the TEE: two served, the third busy"

sed -i 's/^applies_to = tee-calls$/applies_to = messages/' "$WORK/broker.conf"
"$BROKER_BIN" --check-config -c "$WORK/broker.conf" >"$WORK/check.out" 2>&1
[ $? = 3 ] || fail "key = tee on messages accepted: $(cat "$WORK/check.out")"
grep -q "key = tee and key = tam need applies_to = tee-calls" "$WORK/check.out" ||
	fail "unclear error: $(cat "$WORK/check.out")"
pass "key = tee on app messages refused by --check-config"
