#!/usr/bin/env bash
# optimize (issue 4): holes disappear, recompression applies identically.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
# Temporary archives are NAME.wim.XXXXXXXXX (9 random characters).
no_wim_temps() { ! find "$1" -maxdepth 1 -regextype posix-extended -regex '.*\.wim\.[A-Za-z0-9]{9}' | grep -q .; }
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

src=$TMP/src
make_test_tree "$src"
A=$TMP/a.wim
t "capture" expect_ok wp capture "$src" "$A" one --compress=none --quiet
mkdir -p "$TMP/other"
head -c 3000000 /dev/urandom > "$TMP/other/r.bin"
t "append (leaves a hole: the old tables)" expect_ok wp append "$TMP/other" "$A" two --quiet
before=$(stat -c %s "$A")
guid_before=$("$WIMPACK" info "$A" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["guid"])')
t "optimize" expect_ok wp optimize "$A" --quiet
after=$(stat -c %s "$A")
t "the archive got smaller ($before -> $after)" test "$after" -lt "$before"
guid_after=$("$WIMPACK" info "$A" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["guid"])')
t "optimize keeps the GUID" test "$guid_before" = "$guid_after"
if have wimlib-imagex; then t "wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$A"; fi
rm -rf "$TMP/o1"
t "image 1 still applies identically" expect_ok wp apply "$A" 1 "$TMP/o1" --quiet
t "... identical" compare_trees "$src" "$TMP/o1"

for spec in zstd zstd:19 lzma:3 none; do
    t "optimize --compress=$spec" expect_ok wp optimize "$A" --compress="$spec" --quiet
    rm -rf "$TMP/o-$spec"
    t "... applies identically" expect_ok wp apply "$A" 1 "$TMP/o-$spec" --quiet
    t "... identical" compare_trees "$src" "$TMP/o-$spec" --quiet
done
t "optimize --solid" expect_ok wp optimize "$A" --solid --quiet
t "... is a solid archive (version 0xE00)" test "$(hdr "$A" version)" = 3584
rm -rf "$TMP/os"
t "... applies identically" expect_ok wp apply "$A" 1 "$TMP/os" --quiet
t "... identical" compare_trees "$src" "$TMP/os" --quiet
t "optimize --check writes an integrity table" expect_ok wp optimize "$A" --check --quiet
t "... which apply --check verifies" expect_ok wp apply "$A" 2 "$TMP/oc" --check --quiet
t "optimize --nocheck drops it" expect_ok wp optimize "$A" --nocheck --quiet
t "... so apply --check refuses" expect_fail 3 -- wp apply "$A" 2 "$TMP/oc2" --check
t "no temporary files left next to the archive" no_wim_temps "$TMP"
summary
