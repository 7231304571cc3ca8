#!/bin/bash
# Use case 5 (docs/use-cases.md): UA and PD bundled, TA separate.
# {att TEEP Agent, TA->Confidential Process, (UA,PD)->TA}: the M/OC's policy
# check has its TAM attest the Agent and push the TA; the Network User, its
# own TAM through the broker, sends the (UA,PD) package encrypted for the
# Agent, which decrypts it inside the TEE. No UA is placed in the REE. With
# a wrong measurement neither the TA nor the package reaches the Agent.
. "$(dirname "$0")/usecase_lib.sh"

usecase good case5
check_good good
in_order "$WORK/good.log" "^\[3\] {att TEEP Agent} the M/OC TAM" "attestation result: affirming" \
	"^\[4\] {TA->Confidential Process}" "Update manifests=1: TA" "^\[5\] {(UA,PD)->TA}" \
	"attested the Agent first: attestation result: affirming" \
	"Update manifests=1: the (UA,PD) package" "holds: ua pd.json" "^DONE"
IMG="$WORK/good/device/state/tc/TEEP-Device/SecureFS/case5-ua-pd.tar/image"
cmp -s "$IMG" "$WORK/good/nu/src/ua-pd.tar" || fail "the (UA,PD) package is not in the TEE as sent"
[ -e "$WORK/good/device/ree/apps/case5" ] && fail "a UA was placed in the REE"
pass "case 5: attested, TA from the M/OC TAM, the (UA,PD) package decrypted in the TEE"

usecase bad case5 --evidence wrong-measurement
check_stopped bad
in_order "$WORK/bad.log" "^\[3\] {att TEEP Agent} the M/OC TAM" "attestation result: warning" "^STOPPED"
[ -e "$WORK/bad/nu/session.out" ] && fail "the Network User sent something after a failed appraisal"
pass "case 5, wrong measurement: no TA, no package"
