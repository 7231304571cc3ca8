#!/bin/bash
# Use case 3 (docs/use-cases.md): TA and PD in separate packages, with or
# without a UA. {UA->REE, TA->Confidential Process, att TEEP Agent, PD->TA}.
# With a UA its request brings the TA; without one the M/OC's policy check
# does, the M/OC TAM pushing it after attesting the Agent. The PD comes from
# the Network User, its own TAM, after its own attestation. With Evidence
# that fails appraisal the TA and the PD never reach the Agent.
. "$(dirname "$0")/usecase_lib.sh"

usecase good case3
check_good good
in_order "$WORK/good.log" "^\[3\] {UA->REE}" "^\[4\] {TA->Confidential Process}" \
	"the UA: done: installed" "^\[5\] {att TEEP Agent}" "^\[6\] {PD->TA}" "^DONE"
pass "case 3 with a UA: UA placed, TA, attested, PD"

usecase noua case3 --without-ua
check_good noua
grep -q "{UA->REE}" "$WORK/noua.log" && fail "a UA step without a UA"
in_order "$WORK/noua.log" "^\[3\] {TA->Confidential Process} the M/OC asks the device for a policy check" \
	"M/OC TAM (Verifier): attestation result: affirming" "^\[4\] {att TEEP Agent}" \
	"^\[5\] {PD->TA}" "^DONE"
grep -q "pushed (TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f73/ta)" \
	"$WORK/noua/moc/tam.log" || fail "the M/OC TAM did not push the TA"
pass "case 3 without a UA: the M/OC TAM pushes the TA on a policy check"

usecase bad case3 --without-ua --evidence wrong-measurement --tee cvm
check_stopped bad
in_order "$WORK/bad.log" "^\[3\] {TA->Confidential VM}" "attestation result: warning" "^STOPPED"
[ -e "$WORK/bad/nu/session.out" ] && fail "the Network User sent something after a failed appraisal"
pass "case 3, wrong measurement, the Agent in teep-agentd: no TA, no PD"
