#!/bin/bash
# A TAM that sends a manifest whose payload is fetched from a URI
# (suit-payload-fetch, no suit-install, as TAMs in the field do): the Agent
# refuses it clearly, with a TEEP Error whose SUIT Report names the fetch
# command, its place, the component and the URI; the reference TAM logs
# the report; the app gets error 12; nothing is installed.
. "$(dirname "$0")/lib.sh"

make_keys
URI=https://tam.example/8d82573a.ta
printf 'Hello, Secure World!' >"$WORK/payload"
"$TOOL" manifest --component "$TC_UUID" --payload "$WORK/payload" --key "$WORK/signer.pem" \
	--fetch-uri "$URI" -o "$WORK/catalog/tc.suit" >/dev/null || fail "manifest --fetch-uri"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker

ua request-ta "$TC_UUID"
rc=$?
[ $rc != 0 ] || fail "request-ta succeeded: $(cat "$WORK/ua.out")"
grep -q "error 12 agent-error" "$WORK/ua.out" || fail "no agent-error: $(cat "$WORK/ua.out")"
wait_line "$WORK/tam.log" "SUIT report: failed" 10 ||
	fail "the TAM read no SUIT report: $(cat "$WORK/tam.log")"
grep -q "<- Error err-code=17 .*cannot fetch $URI" "$WORK/tam.log" ||
	grep -q "<- Error err-code=11 .*cannot fetch $URI" "$WORK/tam.log" ||
	fail "no manifest-processing Error: $(grep "<- Error" "$WORK/tam.log")"
grep -q "SUIT report: failed TEEP-Device/SecureFS/0x$(echo "$TC_UUID" | tr -d -)/ta manifest=[0-9a-f]*\.\. command=21 section=16 offset=1 component-index=0 reason=5 uri=$URI" "$WORK/tam.log" ||
	fail "the report does not name command, place, component and URI: $(grep "SUIT report" "$WORK/tam.log")"
[ ! -e "$(tc_dir $TC_UUID)" ] || fail "installed anyway"
pass "payload from a URI: refused with a SUIT report naming fetch, payload-fetch, component 0 and the URI"

stop_broker
pass "clean exit"
