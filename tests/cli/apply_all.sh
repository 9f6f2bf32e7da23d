#!/usr/bin/env bash
# apply WIMFILE all TARGET: one directory per image, never two images merged
# into one directory (issue 8, defect 7).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { skip "wimpack-only scenarios"; summary; exit; }

mkdir -p "$TMP/s1" "$TMP/s2"
echo one >"$TMP/s1/only-in-1"
echo two >"$TMP/s2/only-in-2"
A=$TMP/a.wim
t "image 1 named \"2\"" expect_ok wp capture "$TMP/s1" "$A" 2 --quiet
t "image 2 without a name" expect_ok wp append "$TMP/s2" "$A" "" --quiet
t "apply all" expect_ok wp apply "$A" all "$TMP/out" --quiet
t "... warns about the collision" grep -q "taken by another image" "$LAST_STDERR"
t "... image 1 is in out/2, alone" bash -c "[[ \$(ls '$TMP/out/2') == only-in-1 ]]"
t "... image 2 is in its own directory" bash -c "[[ \$(ls '$TMP/out/image2') == only-in-2 ]]"
t "... two directories" bash -c "[[ \$(ls '$TMP/out' | wc -l) == 2 ]]"

B=$TMP/b.wim
t "plain names" expect_ok wp capture "$TMP/s1" "$B" first --quiet
t "... second image" expect_ok wp append "$TMP/s2" "$B" second --quiet
t "apply all without collisions" expect_ok wp apply "$B" all "$TMP/out2" --quiet
t "... no warning" bash -c "! grep -q warning '$LAST_STDERR'"
t "... directories named after the images" bash -c "[[ \$(ls '$TMP/out2' | tr '\n' ' ') == 'first second ' ]]"
summary
