#!/bin/bash
# Both registry numberings end to end, and the first QueryRequest as a
# COSE_Sign: install and unrequest through the broker (i) with the TAM, the
# broker and the sim Agent all in pre-26 numbering, (ii) in draft-26 with
# the TAM's first QueryRequest signed as a COSE_Sign, and (iii) with a TAM
# in one numbering and an Agent in the other, which must fail loudly with
# the field named, install nothing and break nothing.
. "$(dirname "$0")/lib.sh"
make_keys
add_component "$TC_UUID" "Hello, Secure World!"
IMG="$(tc_dir $TC_UUID)/image"
ALL_STEPS="queued tee tam-connect query-request query-response update success end"

# conf TAM_NUMBERING AGENT_NUMBERING: the broker configuration for the TAM
# just started. write_conf puts its extra lines in [tam] and ends with the
# [driver:sim] section, so the line appended here belongs to the driver.
conf() {
	write_conf "http://127.0.0.1:$TAM_PORT/tam" "numbering = $1"
	echo "numbering = $2" >>"$WORK/broker.conf"
}

# steps: the progress steps teep-ua printed, in order, on one line
steps() {
	sed -n 's/^\[ *[0-9.]*s\] progress \([a-z-]*\).*/\1/p' "$WORK/ua.out" | tr '\n' ' ' |
		sed 's/ $//'
}

# expect_steps WHAT: exactly the steps of a whole install or removal
expect_steps() {
	[ "$(steps)" = "$ALL_STEPS" ] || fail "$1: progress steps '$(steps)', expected '$ALL_STEPS'"
}

# install_and_remove WHAT: request the component, check it, unrequest it
install_and_remove() {
	ua request-ta "$TC_UUID" || fail "$1: request-ta exited $?: $(cat "$WORK/ua.out")"
	grep -q "^done: installed" "$WORK/ua.out" || fail "$1: not installed: $(cat "$WORK/ua.out")"
	expect_steps "$1 install"
	[ "$(cat "$IMG" 2>/dev/null)" = "Hello, Secure World!" ] || fail "$1: image missing or wrong"
	ua unrequest-ta "$TC_UUID" || fail "$1: unrequest-ta exited $?: $(cat "$WORK/ua.out")"
	grep -q "^done: removed" "$WORK/ua.out" || fail "$1: not removed: $(cat "$WORK/ua.out")"
	expect_steps "$1 removal"
	[ ! -e "$IMG" ] || fail "$1: component still present after unrequest"
}

stop_all() {
	kill -TERM "$BROKER_PID" "$TAM_PID"
	wait_exit "$BROKER_PID" 10 || fail "$1: broker exit status $?"
	wait_exit "$TAM_PID" 10 || fail "$1: TAM exit status $?"
}

# (i) pre-26 everywhere. Success is wire type 5 there, Error in draft-26:
# a broker peeking with the wrong numbering would report "error" instead
# of "success" (the control below shows that it does).
start_tam --numbering pre-26
conf pre-26 pre-26
start_broker
grep -q "numbering pre-26" "$WORK/broker.log" || fail "pre-26: the sim driver is not in pre-26"
install_and_remove "pre-26"
[ "$(grep -c -- "<- Success" "$WORK/tam.log")" = 2 ] || fail "pre-26: the TAM did not take 2 Success"
kill -0 "$BROKER_PID" || fail "pre-26: broker died"
pass "pre-26 numbering: install and removal, progress steps read in pre-26"

# the control: the same peers, the broker left at its default numbering
kill -TERM "$BROKER_PID"
wait_exit "$BROKER_PID" 10 || fail "control: broker exit status $?"
write_conf "http://127.0.0.1:$TAM_PORT/tam"
echo "numbering = pre-26" >>"$WORK/broker.conf"
start_broker
ua request-ta "$TC_UUID"
# A pre-26 Success is [5, {...}]: type 5 is a draft-26 Error, whose array
# has an err-code too, so the peek (which checks the shape of the type it
# reads) names it no known type: a plain "teep-message" step, not "success"
case " $(steps) " in
*" update teep-message "*) ;;
*) fail "control: the Agent's pre-26 Success was taken for a known message: '$(steps)'" ;;
esac
ua unrequest-ta "$TC_UUID" # clean up for what follows
[ ! -e "$IMG" ] || fail "control: component still present after unrequest"
stop_all control
pass "control: peeked with draft-26 numbering, the pre-26 Success is no known message"

# (ii) draft-26, the first QueryRequest of each exchange a COSE_Sign
start_tam --first-message cose-sign
conf draft-26 draft-26
start_broker
install_and_remove "COSE_Sign"
[ "$(grep -c -- "-> QueryRequest .*(COSE_Sign)" "$WORK/tam.log")" = 2 ] ||
	fail "COSE_Sign: the TAM did not send 2 QueryRequests as COSE_Sign"
grep -q "tam: drop" "$WORK/tam.log" && fail "COSE_Sign: the TAM dropped a message"
stop_all "COSE_Sign"
pass "draft-26 with the first QueryRequest as COSE_Sign: install and removal"

# (iii) a TAM in pre-26, an Agent in draft-26: the pre-26 token label (20)
# is supported-freshness-mechanisms in draft-26, so the Agent refuses the
# QueryRequest with that field named (it never reinterprets a label), the
# app gets one error answer, nothing is installed and nobody crashes.
start_tam --numbering pre-26
conf pre-26 draft-26
start_broker
ua request-ta "$TC_UUID"
rc=$?
[ $rc -le 1 ] || fail "mismatch: teep-ua exited $rc: $(cat "$WORK/ua.out")"
# The broker reads the Agent's answers in the [tam] numbering too, so it
# takes the Agent's draft-26 Error (type 5) for a pre-26 Success and ends
# "no-change"; what matters is one answer, no install and the field named.
grep -Eq "^(error 12 |done: no-change)" "$WORK/ua.out" ||
	fail "mismatch: unexpected answer: $(cat "$WORK/ua.out")"
[ ! -e "$IMG" ] || fail "mismatch: something got installed"
grep -q "supported-freshness-mechanisms: expected an array" "$WORK/broker.log" ||
	fail "mismatch: the Agent did not name the field"
kill -0 "$BROKER_PID" || fail "mismatch: broker died"
kill -0 "$TAM_PID" || fail "mismatch: TAM died"
ua policy-check
[ $? -le 1 ] || fail "mismatch: broker no longer answers"
stop_all mismatch
pass "mismatch (TAM pre-26, Agent draft-26): refused naming supported-freshness-mechanisms"

# (iv) the other way round: a draft-26 TAM, a pre-26 Agent: the draft-26
# token label (19) is suit-reports in pre-26.
start_tam
conf draft-26 pre-26
start_broker
ua request-ta "$TC_UUID"
grep -Eq "^(error 12 |done: no-change)" "$WORK/ua.out" ||
	fail "mismatch 2: unexpected answer: $(cat "$WORK/ua.out")"
[ ! -e "$IMG" ] || fail "mismatch 2: something got installed"
grep -q "suit-reports: expected an array" "$WORK/broker.log" ||
	fail "mismatch 2: the Agent did not name the field"
stop_all "mismatch 2"
pass "mismatch (TAM draft-26, Agent pre-26): refused naming suit-reports"

# (v) and (vi): the same mismatches with a TAM that sends no token (as some
# TAMs do) and installs without being asked (--push), so that no token
# label gives the mismatch away. The renumbered fields the messages do
# carry must: the Agent refuses the Update naming the field its
# manifest-list lands on, instead of reading an empty Update and answering
# Success; nothing is installed.
no_token_mismatch() { # WHAT TAM_NUMBERING AGENT_NUMBERING FIELD
	start_tam --numbering "$2" --no-token --push "$TC_UUID"
	conf "$2" "$3"
	start_broker
	ua policy-check
	[ $? -le 1 ] || fail "$1: teep-ua: $(cat "$WORK/ua.out")"
	grep -q -- "-> QueryRequest token=none" "$WORK/tam.log" || fail "$1: the TAM sent a token"
	grep -q -- "-> Update .*token=none" "$WORK/tam.log" || fail "$1: the TAM sent no Update"
	[ ! -e "$IMG" ] || fail "$1: something got installed"
	! grep -q "manifests) -> Success" "$WORK/broker.log" ||
		fail "$1: the Agent read the Update as empty and answered Success"
	grep -qF "$4: expected" "$WORK/broker.log" || fail "$1: the Agent did not name $4"
	stop_all "$1"
	pass "$1: the Update is refused naming $4, nothing installed"
}
no_token_mismatch "no token, TAM pre-26, Agent draft-26" pre-26 draft-26 msg
no_token_mismatch "no token, TAM draft-26, Agent pre-26" draft-26 pre-26 "ext-list[0]"
