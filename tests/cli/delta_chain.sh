#!/usr/bin/env bash
# Self-describing delta chains (issue 13): base -> delta -> delta of the
# delta, read without --ref by apply, extract, dir, verify, export and mount;
# the chain survives being moved as a whole (paths relative to the delta); a
# base moved away or replaced by another archive is refused, naming it and
# its GUID; info --json lists the chain.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

MNT=$TMP/mnt
mkdir -p "$MNT"
_delta_cleanup() {  # a failed check must not leave a mount behind
    is_mounted "$MNT" && umount -l "$MNT" 2>/dev/null
    _cleanup
}
trap _delta_cleanup EXIT

guid() { "$WIMPACK" info "$1" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["guid"])'; }

# Three versions of a tree; a marker file that never changes (its data stays in the base).
v0=$TMP/v0 v1=$TMP/v1 v2=$TMP/v2
make_test_tree "$v0"
for i in $(seq 1 200); do echo "DELTA-CHAIN-MARKER line $i"; done >"$v0/marker.txt"
cp -a "$v0" "$v1"
echo "changed in delta 1" >>"$v1/sizes/size_4096"
echo "new in delta 1" >"$v1/new1.txt"
cp -a "$v1" "$v2"
echo "changed in delta 2" >>"$v2/sizes/size_32768"
echo "new in delta 2" >"$v2/new2.txt"
rm -f "$v2/new1.txt"

C=$TMP/chain
mkdir -p "$C"
t "capture the base" expect_ok wp capture "$v0" "$C/base.wim" base --compress=none --quiet
t "capture delta 1 --delta-from the base" \
    expect_ok wp capture "$v1" "$C/d1.wim" one --compress=none --delta-from="$C/base.wim" --update-of="$C/base.wim:1" --quiet
t "capture delta 2 --delta-from delta 1" \
    expect_ok wp capture "$v2" "$C/d2.wim" two --compress=none --delta-from="$C/d1.wim" --update-of="$C/d1.wim:1" --quiet
bs=$(stat -c %s "$C/base.wim") d2s=$(stat -c %s "$C/d2.wim")
t "delta 2 ($d2s bytes) stores neither delta 1's nor the base's data (base: $bs bytes)" test $((d2s * 10)) -lt "$bs"
gb=$(guid "$C/base.wim") g1=$(guid "$C/d1.wim")

# --- info lists the chain ---
t "info --json lists the chain of delta 2" bash -c "'$WIMPACK' info '$C/d2.wim' --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
rec = d[\"images\"][0][\"delta_bases\"]
assert len(rec) == 1 and rec[0][\"path\"] == \"d1.wim\" and rec[0][\"relative_to_archive\"], rec
assert rec[0][\"guid\"] == \"$g1\" and rec[0][\"image\"] == 1 and rec[0][\"image_name\"] == \"one\", rec
ch = d[\"delta_chain\"]
assert [(l[\"depth\"], l[\"base\"][\"guid\"], l[\"status\"]) for l in ch] == [(1, \"$g1\", \"found\"), (2, \"$gb\", \"found\")], ch
assert ch[1][\"base\"][\"path\"] == \"base.wim\" and ch[1][\"base\"][\"image_name\"] == \"base\", ch
assert ch[1][\"found\"].endswith(\"/chain/base.wim\"), ch
'"
t "info (text) shows the base of image 1" expect_ok wp info "$C/d2.wim" 1
t "... 'Delta Base:' with its path and GUID" stdout_has "Delta Base: *d1.wim \\(GUID $g1, image 1 \"one\"\\)"

# --- every reader, without --ref ---
check_readers() {  # DIR DESC
    local d=$1 desc=$2 out=$TMP/out.$RANDOM
    t "$desc: apply delta 1 without --ref" expect_ok wp apply "$d/d1.wim" "$out.1" --quiet
    t "$desc: ... equals version 1" compare_trees "$v1" "$out.1" --quiet
    t "$desc: apply delta 2 without --ref" expect_ok wp apply "$d/d2.wim" "$out.2" --quiet
    t "$desc: ... equals version 2" compare_trees "$v2" "$out.2" --quiet
    t "$desc: extract from delta 2 without --ref" \
        expect_ok wp extract "$d/d2.wim" 1 /marker.txt /new2.txt /sizes --dest-dir="$out.x" --quiet
    t "$desc: ... the base's file" cmp "$v0/marker.txt" "$out.x/marker.txt"
    t "$desc: ... delta 2's file" cmp "$v2/new2.txt" "$out.x/new2.txt"
    t "$desc: ... delta 1's directory" compare_trees "$v2/sizes" "$out.x/sizes" --quiet
    t "$desc: dir delta 2 without --ref" expect_ok wp dir "$d/d2.wim" 1 --detailed
    t "$desc: ... lists the base's file with its size" stdout_has "marker.txt"
    t "$desc: verify delta 2 without --ref" expect_ok wp verify "$d/d2.wim" --quiet
}
check_readers "$C" "in place"

t "verify --json checks the base's data too" bash -c "'$WIMPACK' verify '$C/d2.wim' --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"ok\"] and d[\"bytes_checked\"] > $d2s, d
'"

# export makes a self-contained archive that no longer names bases
t "export delta 2 without --ref" expect_ok wp export "$C/d2.wim" 1 "$TMP/full.wim" --quiet
mkdir -p "$TMP/alone" && mv "$TMP/full.wim" "$TMP/alone/"
t "... the export applies on its own" expect_ok wp apply "$TMP/alone/full.wim" "$TMP/full" --quiet
t "... equals version 2" compare_trees "$v2" "$TMP/full" --quiet
t "... and names no base" bash -c "'$WIMPACK' info '$TMP/alone/full.wim' --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"delta_chain\"] == [] and d[\"images\"][0][\"delta_bases\"] == [], d
'"

# --- the whole chain moved elsewhere: recorded paths are relative ---
M=$TMP/elsewhere/deeper
mkdir -p "$M"
mv "$C"/*.wim "$M/"
check_readers "$M" "moved together"
# a base renamed in the same directory is found by its GUID
mv "$M/base.wim" "$M/renamed-base.wim"
rm -rf "$TMP/ren"
t "a renamed base is found by its GUID" expect_ok wp apply "$M/d2.wim" "$TMP/ren" --quiet
t "... equals version 2" compare_trees "$v2" "$TMP/ren" --quiet
mv "$M/renamed-base.wim" "$M/base.wim"

# --- the base moved away ---
mkdir -p "$TMP/away"
mv "$M/base.wim" "$TMP/away/"
t "apply: a moved-away base fails (4), naming it, its GUID and --ref" \
    expect_fail 4 --mentions base.wim --mentions "$gb" --mentions --ref -- wp apply "$M/d2.wim" "$TMP/no1"
t "extract: the same" expect_fail 4 --mentions base.wim --mentions "$gb" -- wp extract "$M/d2.wim" 1 /marker.txt --dest-dir="$TMP/no2"
t "dir: the same" expect_fail 4 --mentions base.wim --mentions "$gb" -- wp dir "$M/d2.wim"
t "verify: the same" expect_fail 4 --mentions base.wim --mentions "$gb" -- wp verify "$M/d2.wim"
t "export: the same" expect_fail 4 --mentions base.wim --mentions "$gb" -- wp export "$M/d2.wim" 1 "$TMP/no.wim"
t "... and export wrote nothing" test ! -e "$TMP/no.wim"
t "info --json says it is missing" bash -c "'$WIMPACK' info '$M/d2.wim' --json | $PY -c '
import json, sys
ch = json.load(sys.stdin)[\"delta_chain\"]
assert [l[\"status\"] for l in ch] == [\"found\", \"missing\"] and ch[1][\"found\"] is None, ch
'"
rm -rf "$TMP/wr"
t "with --ref to the moved base (delta 1 still found by itself)" \
    expect_ok wp apply "$M/d2.wim" "$TMP/wr" --ref="$TMP/away/base.wim" --quiet
t "... equals version 2" compare_trees "$v2" "$TMP/wr" --quiet

# --- the base replaced by another archive ---
t "another archive" expect_ok wp capture "$v0" "$TMP/other.wim" --compress=none --quiet
go=$(guid "$TMP/other.wim")
cp "$TMP/other.wim" "$M/base.wim"
t "apply: a base with another GUID is refused (4), naming both GUIDs" \
    expect_fail 4 --mentions "$gb" --mentions "$go" --mentions base.wim -- wp apply "$M/d2.wim" "$TMP/no3"
t "verify: the same" expect_fail 4 --mentions "$gb" --mentions "$go" -- wp verify "$M/d2.wim"
t "info --json says wrong-guid" bash -c "'$WIMPACK' info '$M/d2.wim' --json | $PY -c '
import json, sys
ch = json.load(sys.stdin)[\"delta_chain\"]
assert ch[1][\"status\"] == \"wrong-guid\" and ch[1][\"found_guid\"] == \"$go\", ch
'"
mv "$TMP/away/base.wim" "$M/base.wim"

# --- verify checks the base's data: a damaged byte in the base fails it ---
cp -a "$M" "$TMP/damaged"
$PY - "$TMP/damaged/base.wim" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'DELTA-CHAIN-MARKER line 7')
assert i > 0
b[i] ^= 0x20
open(p, 'wb').write(b)
EOF
t "verify delta 2: a corrupt blob in the base fails (3), naming the base" \
    expect_fail 3 --mentions base.wim -- wp verify "$TMP/damaged/d2.wim"

# --- mount (when FUSE is usable here) ---
mv "$M/base.wim" "$TMP/away/"
t "mount: a moved-away base is refused (4) before mounting" \
    expect_fail 4 --mentions base.wim --mentions "$gb" -- wp mount "$M/d2.wim" "$MNT"
is_mounted "$MNT" && "$WIMPACK" unmount "$MNT" --quiet
mv "$TMP/away/base.wim" "$M/"
if [[ -c /dev/fuse ]] && "$WIMPACK" mount "$M/d2.wim" "$MNT" 2>/dev/null; then
    t "mount delta 2 without --ref: the tree equals version 2" compare_trees "$v2" "$MNT" --quiet
    t "... the base's file reads" cmp "$v0/marker.txt" "$MNT/marker.txt"
    "$WIMPACK" unmount "$MNT" --quiet || fail "unmount"
else
    skip "mount delta 2 without --ref (FUSE not usable here)"
fi

summary
