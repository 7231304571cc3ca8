# Helpers for the use-case tests (usecase_case1.sh .. usecase_case5.sh): each
# runs tools/usecase.sh, the packaging case end to end on loopback, once
# with Evidence that passes appraisal and once with Evidence that does not,
# and checks the order of the steps and the TEE's state.
. "$(dirname "$0")/lib.sh"
USECASE="$top_srcdir/tools/usecase.sh"

# usecase NAME CASE [options...]: run the case with its work directory in
# $WORK/NAME and its output in $WORK/NAME.log; sets RC
usecase() {
	local name=$1 c=$2
	shift 2
	timeout 60 bash "$USECASE" "$top_builddir" "$c" --dir "$WORK/$name" "$@" \
		>"$WORK/$name.log" 2>&1
	RC=$?
}

# in_order FILE PATTERN...: each PATTERN (grep -e) matches a line of FILE
# after the line the one before matched
in_order() {
	local f=$1 at=0 n
	shift
	for re in "$@"; do
		n=$(tail -n "+$((at + 1))" "$f" | grep -n -m 1 -e "$re" | cut -d: -f1)
		[ -n "$n" ] || fail "$(basename "$f"): no '$re' after line $at"
		at=$((at + n))
	done
}

# tee_images NAME: the components stored in the TEE of run NAME
tee_images() {
	(cd "$WORK/$1/device/state/tc" 2>/dev/null && find . -name image | sort)
}

# check_good NAME: the run completed, the PD (or the (UA,PD) package) is in
# the TEE decrypted and nowhere in the clear on the way
check_good() {
	local name=$1 d="$WORK/$1"
	[ "$RC" = 0 ] || fail "$name: exit $RC"
	grep -q "^DONE: " "$WORK/$name.log" || fail "$name: not done"
	local secret
	secret=$(sed 's/.*"route-key":"\([0-9a-f]*\)".*/\1/' "$d/nu/src/pd.json")
	[ ${#secret} = 32 ] || fail "$name: no secret in pd.json"
	grep -rq "$secret" "$d"/nu/pkg-* "$d/nu/catalog" "$d/moc" "$d/device/broker.log" &&
		fail "$name: the personalization data is in the clear outside the TEE"
	grep -rq "$secret" "$d/device/state/tc" || fail "$name: the data is not in the TEE"
	# every TEEP exchange that delivered something appraised Evidence first
	for t in "$d/moc/tam.log" "$d/nu/session.log"; do
		[ -f "$t" ] || continue
		grep -q -- "-> Update manifests=[1-9]" "$t" || continue
		in_order "$t" "attestation result: affirming" "-> Update manifests=[1-9]"
	done
}

# check_stopped NAME: the run stopped at a failed appraisal and neither a TA
# nor data reached the Agent
check_stopped() {
	local name=$1 d="$WORK/$1"
	[ "$RC" = 1 ] || fail "$name: exit $RC, expected 1 (stopped)"
	grep -q "^STOPPED: the attestation result is not affirming" "$WORK/$name.log" ||
		fail "$name: not stopped"
	grep -q "^DONE" "$WORK/$name.log" && fail "$name: done after a failed appraisal"
	[ -z "$(tee_images "$name")" ] || fail "$name: installed: $(tee_images "$name")"
	grep -q "^TEE state: empty" "$WORK/$name.log" || fail "$name: TEE state not empty"
	for t in "$d/moc/tam.log" "$d/nu/session.log"; do
		[ -f "$t" ] || continue
		grep -q -- "-> Update manifests=[1-9]" "$t" && fail "$name: $t sent a manifest"
	done
	# the M/OC TAM (an HTTP server) answers with an error-only Update, which
	# the Agent logs; the Network User's own TAM (an app of the broker) sends
	# nothing after the QueryResponse
	if grep -q "(refused: err-code only)" "$d/moc/tam.log" 2>/dev/null; then
		cat "$d/device/broker.log" "$d/device/agentd.log" 2>/dev/null |
			grep -q "TAM error 1: attestation" ||
			fail "$name: the Agent did not log the TAM's refusal"
	else
		grep -q "no Update: the attestation result is not affirming" \
			"$d/nu/session.log" 2>/dev/null ||
			fail "$name: neither TAM refused: an error-only Update, or the end of the session"
	fi
}
