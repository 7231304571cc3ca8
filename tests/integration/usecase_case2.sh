#!/bin/bash
# Use case 2 (docs/use-cases.md): UA and TA integrated in one package, PD
# separate. {UA->REE, TA->Confidential Process, att TEEP Agent, PD->TA}: the
# REE places and starts the UA, whose request brings the TA from the M/OC
# TAM (which attests the Agent first); the Network User, its own TAM, has
# the Agent attested and sends the PD. With Evidence no Verifier trusts the
# TA is refused and the PD is never sent.
. "$(dirname "$0")/usecase_lib.sh"

usecase good case2
check_good good
in_order "$WORK/good.log" "^\[3\] {UA->REE}" "^\[4\] {TA->Confidential Process}" \
	"the UA: done: installed" "M/OC TAM (Verifier): attestation result: affirming" \
	"^\[5\] {att TEEP Agent}" "attestation result: affirming" "^\[6\] {PD->TA}" \
	"Update manifests=1: PD" "^DONE"
[ "$(tee_images good | wc -l)" = 2 ] || fail "the TEE holds: $(tee_images good)"
in_order "$WORK/good/nu/session.log" "QueryRequest challenge=.* (attestation)" \
	"<- QueryResponse .* installed=1 evidence=" "attestation result: affirming" \
	"-> Update manifests=1 "
pass "case 2: UA placed, TA through the M/OC TAM, attested, PD from the Network User's own TAM"

usecase bad case2 --evidence untrusted-key
check_stopped bad
in_order "$WORK/bad.log" "^\[3\] {UA->REE}" "^\[4\] {TA->Confidential Process}" \
	"the UA: error 12 agent-error" "attestation result: contraindicated" "^STOPPED"
[ -e "$WORK/bad/nu/session.out" ] && fail "the Network User sent something after a failed appraisal"
pass "case 2, Evidence signed by a key no Verifier trusts: no TA, no PD"
