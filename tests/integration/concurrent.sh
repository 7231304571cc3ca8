#!/bin/bash
# Two apps at once, each installing its own component.
. "$(dirname "$0")/lib.sh"
A=11111111-2222-3333-4444-555555555555
B=66666666-7777-8888-9999-aaaaaaaaaaaa
make_keys
add_component $A "component A"
add_component $B "component B"
start_tam
write_conf "http://127.0.0.1:$TAM_PORT/tam"
start_broker
"$UA" --url "$URL" --timeout 30 request-ta $A >"$WORK/a.out" 2>&1 &
pa=$!
"$UA" --url "$URL" --timeout 30 request-ta $B >"$WORK/b.out" 2>&1 &
pb=$!
wait $pa || fail "app A exited $?: $(cat "$WORK/a.out")"
wait $pb || fail "app B exited $?: $(cat "$WORK/b.out")"
grep -q "done: installed" "$WORK/a.out" || fail "A: $(cat "$WORK/a.out")"
grep -q "done: installed" "$WORK/b.out" || fail "B: $(cat "$WORK/b.out")"
[ "$(cat "$(tc_dir $A)/image")" = "component A" ] || fail "A not in state"
[ "$(cat "$(tc_dir $B)/image")" = "component B" ] || fail "B not in state"
pass "two apps installed two components concurrently"
