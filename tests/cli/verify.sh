#!/usr/bin/env bash
# verify: good archives pass (wimpack's and wimlib-imagex's, LZX / XPRESS /
# solid / uncompressed / integrity table / split parts with --ref / a delta
# with its base); a flipped byte in a blob's compressed data, a damaged
# metadata resource, a bad integrity table, a missing delta base and a
# truncated archive fail with a non-zero exit naming what is wrong; --json.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { skip "wimpack's exit codes and --json"; summary; exit; }

SRC=$TMP/src
t "build a small tree" make_small_tree "$SRC"
rand_bytes 11 300000 >"$SRC/random.bin"
seq 1 100000 >"$SRC/text.txt"

good() {  # good DESC WIM [ARGS...]
    local d=$1
    shift
    t "$d: verify passes" expect_ok wp verify "$@" --quiet
}
for c in LZX XPRESS none; do
    t "capture --compress=$c" expect_ok wp capture "$SRC" "$TMP/$c.wim" --compress=$c --quiet
    good "$c" "$TMP/$c.wim"
done
t "capture --solid" expect_ok wp capture "$SRC" "$TMP/solid.wim" --solid --quiet
good "solid" "$TMP/solid.wim"
t "capture --check" expect_ok wp capture "$SRC" "$TMP/check.wim" --check --quiet
good "integrity table" "$TMP/check.wim"
if have wimlib-imagex; then
    t "wimlib-imagex capture --solid (LZMS)" expect_ok wimlib-imagex capture "$SRC" "$TMP/wl.wim" --solid
    good "wimlib solid LZMS" "$TMP/wl.wim"
    t "wimlib-imagex split" expect_ok wimlib-imagex split "$TMP/LZX.wim" "$TMP/part.swm" 0.1
    good "split parts with --ref" "$TMP/part.swm" "--ref=$TMP/part*.swm"
    t "split part 1 without the others: fails" expect_fail 4 --mentions part -- wp verify "$TMP/part.swm"
else
    skip "wimlib-imagex not installed"
fi

# --json
t "--json on a good archive" expect_ok wp verify "$TMP/LZX.wim" --json
t "... ok, every blob checked" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["problems"] == [], d
assert d["blobs_checked"] == d["blobs_referenced"] > 0, d
assert d["images"] == 1 and d["integrity"] == "absent", d' "$LAST_STDOUT"

# A flipped byte inside the compressed data of the big random blob.
blob_offset() {  # blob_offset WIM MIN_SIZE: offset in the file of a blob at least that big
    wp info "$1" --blobs | awk -v min="$2" '/^Uncompressed size/ {u=$4} /^Offset in WIM/ {o=$5} /^Flags/ { if (u + 0 >= min + 0 && $0 !~ /METADATA/) { print o; exit } }'
}
flip() {  # flip SRC DEST OFFSET
    cp "$1" "$2" && "$PY" -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x55]))" "$2" "$3"
}
off=$(blob_offset "$TMP/LZX.wim" 300000)
hash=$(wp info "$TMP/LZX.wim" --blobs | awk -v o="$off" '/^Hash/ {h=$3} /^Offset in WIM/ { if ($5 == o) { sub(/^0x/, "", h); print h; exit } }')
t "found the random blob" test -n "$off" -a -n "$hash"
flip "$TMP/LZX.wim" "$TMP/bad.wim" $((off + 5000))
t "flipped byte in a blob: exit 3, names the blob" expect_fail 3 --mentions "$hash" -- wp verify "$TMP/bad.wim"
t "--json reports it" expect_fail 3 -- wp verify "$TMP/bad.wim" --json
t "... ok false, one problem" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["problems"][0]["hash"] == sys.argv[2], d' "$LAST_STDOUT" "$hash"
off=$(blob_offset "$TMP/none.wim" 300000)
flip "$TMP/none.wim" "$TMP/bad-none.wim" $((off + 1234))
t "flipped byte in an uncompressed blob: exit 3" expect_fail 3 --mentions "does not match its SHA-1" -- wp verify "$TMP/bad-none.wim"
off=$(wp info "$TMP/solid.wim" --blobs | awk '/^Solid resource:/ { print $(NF); exit }')
flip "$TMP/solid.wim" "$TMP/bad-solid.wim" $((off + 3000))
t "flipped byte in a solid resource: exit 3" expect_fail 3 -- wp verify "$TMP/bad-solid.wim"

# metadata resource damaged
moff=$(wp info "$TMP/LZX.wim" --blobs | awk '/^Offset in WIM/ {o=$5} /^Flags/ && /METADATA/ { print o; exit }')
flip "$TMP/LZX.wim" "$TMP/bad-meta.wim" $((moff + 20))
t "damaged metadata: exit 3, names the image" expect_fail 3 --mentions "image 1" -- wp verify "$TMP/bad-meta.wim"

# integrity table: a flipped byte is caught by it; --nocheck skips it
off=$(blob_offset "$TMP/check.wim" 300000)
flip "$TMP/check.wim" "$TMP/bad-check.wim" $((off + 100))
t "integrity table mismatch: exit 3" expect_fail 3 --mentions integrity -- wp verify "$TMP/bad-check.wim" --json
t "... reported as such in --json" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["integrity"] == "bad" and d["problems"][0]["kind"] == "integrity", d' "$LAST_STDOUT"
t "--nocheck: the blob is still found bad" expect_fail 3 --mentions "bad-check.wim" -- wp verify "$TMP/bad-check.wim" --nocheck

# a delta without its base
mkdir -p "$TMP/src2" && cp -r "$SRC"/. "$TMP/src2" && echo more >"$TMP/src2/new-file"
t "capture a delta" expect_ok wp capture "$TMP/src2" "$TMP/delta.wim" --delta-from="$TMP/LZX.wim" --quiet
# (copied alone to a directory of its own, with the base moved away: other
# archives next to it in $TMP have the base's GUID)
mkdir -p "$TMP/lone" && cp "$TMP/delta.wim" "$TMP/lone/" && mv "$TMP/LZX.wim" "$TMP/LZX.moved"
t "delta without its base: exit 4, names the base" expect_fail 4 --mentions LZX.wim -- wp verify "$TMP/lone/delta.wim"
mv "$TMP/LZX.moved" "$TMP/LZX.wim"
good "delta, its base found by itself" "$TMP/delta.wim"
good "delta with --ref" "$TMP/delta.wim" --ref="$TMP/LZX.wim"

# truncated archives
size=$(stat -c %s "$TMP/LZX.wim")
for cut in $((size - 1)) $((size / 2)) 300 100; do
    head -c $cut "$TMP/LZX.wim" >"$TMP/trunc.wim"
    t "truncated to $cut bytes: exit 3" expect_fail 3 -- wp verify "$TMP/trunc.wim"
done

# the wimverify name
ln -s "$WIMPACK" "$TMP/wimverify"
t "wimverify WIMFILE" expect_ok "$TMP/wimverify" "$TMP/LZX.wim"
t "... says so" stdout_has "successfully verified"
summary
