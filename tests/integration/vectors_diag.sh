#!/bin/bash
# The published CBOR diagnostic notation of every Appendix D message (both
# numberings) and Appendix E envelope is what teep-tool decodes from the
# published bytes: the decoder and the printer agree with the draft on every
# item, label and nesting (bstr-wrapped CBOR included).
. "$(dirname "$0")/lib.sh"
NORM="$top_srcdir/tests/integration/diag-norm.awk"
n=0
for dir in draft-26 pre-renumbering suit; do
	opt=""
	[ "$dir" = pre-renumbering ] && opt=--pre26
	for diag in "$VECTORS/$dir"/*.diag; do
		hex=${diag%.diag}.hex
		[ -f "$hex" ] || continue # the EAT claims example has no bytes
		"$TOOL" dump $opt --diag "$hex" >"$WORK/dump.out" || fail "dump $dir/${hex##*/}"
		# the diagnostic notation follows the summary and a blank line
		awk 'seen { print } /^$/ { seen = 1 }' "$WORK/dump.out" | awk -f "$NORM" >"$WORK/ours"
		awk -f "$NORM" "$diag" >"$WORK/theirs"
		cmp -s "$WORK/ours" "$WORK/theirs" ||
			fail "$dir/${diag##*/}: teep-tool reads $(head -c 200 "$WORK/ours")... ; the draft has $(head -c 200 "$WORK/theirs")..."
		n=$((n + 1))
	done
done
[ $n = 13 ] || fail "$n diagnostic files compared, expected 13"
pass "$n published diagnostic notations match what teep-tool decodes from the bytes"

# the summary prints the err-code the wire carries: 17 in the pre-26 Error
# (ERR_MANIFEST_PROCESSING_FAILED, 11 in draft-26), 11 in the draft-26 one
"$TOOL" dump --pre26 "$VECTORS/pre-renumbering/error.hex" >"$WORK/dump.out" || fail "dump pre-26 error"
grep -qx "  err-code: 17 (ERR_MANIFEST_PROCESSING_FAILED, 11 in draft-26)" "$WORK/dump.out" ||
	fail "pre-26 Error: $(grep err-code "$WORK/dump.out")"
"$TOOL" dump "$VECTORS/draft-26/error.hex" >"$WORK/dump.out" || fail "dump draft-26 error"
grep -qx "  err-code: 11 (ERR_MANIFEST_PROCESSING_FAILED)" "$WORK/dump.out" ||
	fail "draft-26 Error: $(grep err-code "$WORK/dump.out")"
pass "the err-code summary is the wire's value in either numbering"
