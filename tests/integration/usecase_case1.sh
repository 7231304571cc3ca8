#!/bin/bash
# Use case 1 (docs/use-cases.md): UA, TA and PD bundled as one package.
# {att TEEP Agent, (UA,TA,PD)->Confidential Process, UA->REE}: the Network
# User, its own TAM through the broker, has the Agent attested, then sends
# the TA and the PD in the same tam-session; only then does the REE place
# the UA. With Evidence that fails appraisal nothing reaches the Agent and
# no UA is placed.
. "$(dirname "$0")/usecase_lib.sh"

usecase good case1
check_good good
in_order "$WORK/good.log" "^\[1\] Network User -> Network M/OC" "^\[2\] Network M/OC orchestrates" \
	"^\[3\] {att TEEP Agent}" "attestation result: affirming" \
	"^\[4\] {(UA,TA,PD)->Confidential Process}" "Update manifests=2: TA and PD" \
	"^\[5\] {UA->REE}" "the UA: done: no-change" "^DONE"
[ "$(cat "$WORK/good/device/state/tc/TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f71/ta/image")" = \
	"TA of case 1" ] || fail "the TA is not in the TEE"
[ -x "$WORK/good/device/ree/apps/case1/ua" ] || fail "the UA is not in the REE"
grep -q "^done 1 completed" "$WORK/good/nu/session.out" || fail "the tam-session did not complete"
grep -q "app-tam nu: tam-session 1 on tee sim done after 2 message(s)" \
	"$WORK/good/device/broker.log" ||
	fail "the delivery did not go through a tam-session of the broker"
pass "case 1: attested, then TA and PD from the Network User's own TAM, then the UA placed by the REE"

# the confidential VM column: the same software Agent in teep-agentd, which
# the broker reaches through the agent driver
usecase cvm case1 --tee cvm
check_good cvm
in_order "$WORK/cvm.log" "^\[3\] {att TEEP Agent}" "attestation result: affirming" \
	"^\[4\] {(UA,TA,PD)->Confidential VM}" "^\[5\] {UA->REE}" "^DONE"
grep -q "connected to the Agent at unix:" "$WORK/cvm/device/broker.log" ||
	fail "the broker did not reach teep-agentd"
[ "$(tee_images cvm | wc -l)" = 2 ] || fail "the TEE holds: $(tee_images cvm)"
pass "case 1 with the Agent in teep-agentd (confidential VM column)"

usecase bad case1 --evidence wrong-measurement
check_stopped bad
in_order "$WORK/bad.log" "^\[3\] {att TEEP Agent}" "attestation result: warning" "^STOPPED"
[ -e "$WORK/bad/device/ree/apps/case1" ] && fail "a UA was placed after a failed appraisal"
pass "case 1, an Agent whose measurement is not the expected one: nothing delivered, no UA placed"
