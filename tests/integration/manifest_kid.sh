#!/bin/bash
# teep-tool manifest --kid: a key id in the manifest signature's unprotected
# header, given in hex or the signer's RFC 9679 thumbprint.
. "$(dirname "$0")/lib.sh"

"$TOOL" keygen "$WORK/signer.pem" >/dev/null || fail "keygen"
printf 'a Trusted Component' >"$WORK/tc.bin"
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }

"$TOOL" manifest --component "$TC_UUID" --payload "$WORK/tc.bin" --key "$WORK/signer.pem" \
	--kid 0102030405060708 -o "$WORK/given.suit" >/dev/null || fail "manifest --kid HEX"
# unprotected header {4: h'0102030405060708'}
hexof "$WORK/given.suit" | grep -q "a104480102030405060708" ||
	fail "no kid in the signature: $(hexof "$WORK/given.suit")"
pass "--kid HEX: the signature's unprotected header carries it"

"$TOOL" manifest --component "$TC_UUID" --payload "$WORK/tc.bin" --key "$WORK/signer.pem" \
	--kid thumbprint -o "$WORK/tp.suit" >/dev/null || fail "manifest --kid thumbprint"
# {4: bstr(32)}, where there was an empty map before
hexof "$WORK/tp.suit" | grep -q "a1045820" || fail "no 32-byte kid: $(hexof "$WORK/tp.suit")"
"$TOOL" manifest --component "$TC_UUID" --payload "$WORK/tc.bin" --key "$WORK/signer.pem" \
	-o "$WORK/none.suit" >/dev/null || fail "manifest without --kid"
hexof "$WORK/none.suit" | grep -q "a1045820" && fail "a kid without --kid"
pass "--kid thumbprint: a 32-byte kid; none without --kid"

"$TOOL" manifest --component "$TC_UUID" --payload "$WORK/tc.bin" --key "$WORK/signer.pem" \
	--kid nothex -o "$WORK/bad.suit" 2>"$WORK/bad.err" && fail "--kid nothex accepted"
grep -q "kid" "$WORK/bad.err" || fail "no reason: $(cat "$WORK/bad.err")"
pass "--kid that is neither: refused"
