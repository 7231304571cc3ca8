#!/bin/bash
# Use case 4 (docs/use-cases.md): TA and PD bundled, with or without a UA.
# {UA->REE, att TEEP Agent, (TA,PD)->Confidential Process}: the UA is placed
# by the REE first; the Network User, its own TAM through the broker, has
# the Agent attested and sends TA and PD in one Update. With Evidence no
# Verifier trusts, the UA is in the REE but nothing reaches the TEE.
. "$(dirname "$0")/usecase_lib.sh"

usecase good case4
check_good good
in_order "$WORK/good.log" "^\[3\] {UA->REE}" "^\[4\] {att TEEP Agent}" \
	"attestation result: affirming" "^\[5\] {(TA,PD)->Confidential Process}" \
	"Update manifests=2: TA and PD" "the UA: done: no-change" "^DONE"
[ "$(tee_images good | wc -l)" = 2 ] || fail "the TEE holds: $(tee_images good)"
pass "case 4: UA placed, attested, TA and PD in one Update from the Network User's own TAM"

usecase noua case4 --without-ua
check_good noua
grep -q "{UA->REE}" "$WORK/noua.log" && fail "a UA step without a UA"
[ -e "$WORK/noua/device/ree/apps/case4" ] && fail "a UA was placed"
pass "case 4 without a UA"

usecase bad case4 --evidence untrusted-key
check_stopped bad
in_order "$WORK/bad.log" "^\[3\] {UA->REE}" "^\[4\] {att TEEP Agent}" \
	"attestation result: contraindicated" "^STOPPED"
grep -q "the UA: " "$WORK/bad.log" && fail "the UA was started after a failed appraisal"
pass "case 4, Evidence signed by a key no Verifier trusts: the UA placed, nothing in the TEE"
