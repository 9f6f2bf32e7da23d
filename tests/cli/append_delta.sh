#!/usr/bin/env bash
# Append, --update-of, --delta-from and apply --ref (issue 4), with
# wimlib-imagex as the oracle where the codec allows.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

src=$TMP/src
make_test_tree "$src"

# --- append: several images, dedup across images, wimlib reads the result ---
A=$TMP/a.wim
t "capture image 1 (none)" expect_ok wp capture "$src" "$A" one --compress=none --quiet
size1=$(stat -c %s "$A")
t "append an identical image 2" expect_ok wp append "$src" "$A" two --quiet
size2=$(stat -c %s "$A")
grow=$((size2 - size1))
t "an identical image adds only metadata (grew by $grow bytes)" test "$grow" -lt $((size1 / 4))
t "info shows two images" bash -c "'$WIMPACK' info '$A' --json | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"image_count\"]==2, d; assert [i[\"name\"] for i in d[\"images\"]]==[\"one\",\"two\"]'"
t "duplicate image name is refused" expect_fail 2 --mentions two -- wp append "$src" "$A" two
t "append to a missing file fails without --create" expect_fail 4 -- wp append "$src" "$TMP/missing.wim" x
t "append --create creates it" expect_ok wp append "$src" "$TMP/created.wim" x --create --quiet
if have wimlib-imagex; then
    t "wimlib-imagex verify accepts the appended archive" expect_ok wimlib-imagex verify "$A"
    rm -rf "$TMP/w2"
    t "wimlib-imagex applies image 2" expect_ok wimlib-imagex apply "$A" 2 "$TMP/w2"
    t "... identical to the source" compare_trees "$src" "$TMP/w2"
fi
rm -rf "$TMP/o2"
t "wimpack applies image 2 by name" expect_ok wp apply "$A" two "$TMP/o2" --quiet
t "... identical to the source" compare_trees "$src" "$TMP/o2"
t "an unnamed image with \"\"" expect_ok wp append "$src" "$A" "" --quiet
t "... has an empty name" bash -c "'$WIMPACK' info '$A' 3 --json | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"images\"][0][\"name\"]==\"\"'"

# --- append --rebuild: the whole file rewritten through a temporary file ---
guid() { "$WIMPACK" info "$1" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["guid"])'; }
g1=$(guid "$A")
t "append --rebuild" expect_ok wp append "$src" "$A" rebuilt --rebuild --quiet
t "... keeps the GUID" test "$g1" = "$(guid "$A")"
t "... now has four images" bash -c "'$WIMPACK' info '$A' --json | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"image_count\"]==4'"
if have wimlib-imagex; then t "... and wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$A"; fi
rm -rf "$TMP/rb"
t "... image 1 still applies identically" expect_ok wp apply "$A" 1 "$TMP/rb" --quiet
t "... identical" compare_trees "$src" "$TMP/rb" --quiet
t "... no temporary file left" bash -c "! ls '$TMP' | grep -qE '\.wim\.[A-Za-z0-9]{9}$'"

# --- kill -9 during an append leaves image 1 intact for both tools ---
big=$TMP/big
mkdir -p "$big"
head -c 60000000 /dev/urandom > "$big/random.bin"
cp -r "$src" "$big/tree"
for delay in 0.05 0.2 0.5; do
    cp "$A" "$TMP/k.wim"
    "$WIMPACK" append "$big" "$TMP/k.wim" killed --quiet --threads=1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$TMP/k1"
    t "after kill -9 at ${delay}s, wimpack applies image 1" expect_ok wp apply "$TMP/k.wim" 1 "$TMP/k1" --quiet
    t "... identical" compare_trees "$src" "$TMP/k1" --quiet
    if have wimlib-imagex; then
        rm -rf "$TMP/k2"
        t "... and wimlib-imagex applies it too" expect_ok wimlib-imagex apply "$TMP/k.wim" 1 "$TMP/k2"
        t "... identical" compare_trees "$src" "$TMP/k2" --quiet
    fi
done

# --- update-of: what is reused and what is read ---
U=$TMP/u.wim
cp -r "$src" "$TMP/usrc"
t "capture the base (zstd)" expect_ok wp capture "$TMP/usrc" "$U" base --quiet
f_same=$(find "$TMP/usrc" -type f -size +100c | head -1)
f_grow=$(find "$TMP/usrc" -type f -size +100c | sed -n 2p)
f_mtime=$(find "$TMP/usrc" -type f -size +100c | sed -n 3p)
# same size and same mtime, different content: missed by design (as wimlib)
m=$(stat -c %y "$f_same")
printf 'X' | dd of="$f_same" bs=1 seek=0 conv=notrunc 2>/dev/null
touch -d "$m" "$f_same"
echo more >> "$f_grow"
printf 'Y' | dd of="$f_mtime" bs=1 seek=0 conv=notrunc 2>/dev/null
touch -d '2001-02-03 04:05:06' "$f_mtime"
echo new > "$TMP/usrc/brand-new.txt"
rm -f "$(find "$TMP/usrc" -type f -name '*' | grep -v brand-new | sed -n 5p)"
mv "$(find "$TMP/usrc" -maxdepth 1 -type f | grep -v brand-new | head -1)" "$TMP/usrc/renamed.file"
t "append --update-of=-1" expect_ok wp append "$TMP/usrc" "$U" next --update-of=-1
t "... prints how many files were reused and read" stdout_has "files reused"
rm -rf "$TMP/u2"
t "... and applies" expect_ok wp apply "$U" next "$TMP/u2" --quiet
# the unchanged-looking file keeps its old content, as documented
cp -p "$f_same" "$TMP/expected_same"
rel=${f_same#"$TMP/usrc/"}
t "same size and mtime: old content is kept (documented, like wimlib)" not cmp -s "$TMP/u2/$rel" "$f_same"
# Everything else (grown, re-timed, new, deleted, renamed files) is captured:
cp -a "$f_same" "$TMP/u2/$rel"
t "... the tree matches the source apart from that one file" compare_trees "$TMP/usrc" "$TMP/u2"
rm -rf "$TMP/full"
t "a full capture of the same tree" expect_ok wp capture "$TMP/usrc" "$TMP/full.wim" --quiet
t "... applies" expect_ok wp apply "$TMP/full.wim" "$TMP/full" --quiet
cp -a "$f_same" "$TMP/full/$rel"
t "update-of result equals the full capture" compare_trees "$TMP/full" "$TMP/u2"

# --- delta-from and --ref ---
D=$TMP/delta.wim
B=$TMP/base.wim
t "base capture (none)" expect_ok wp capture "$src" "$B" --compress=none --quiet
cp -r "$src" "$TMP/dsrc"
echo "delta change" >> "$TMP/dsrc/$(cd "$TMP/dsrc" && find . -type f -size +10k -size -200k | head -1)"
echo "a new file" > "$TMP/dsrc/new-in-delta.txt"
t "delta capture with --delta-from and --update-of" expect_ok wp capture "$TMP/dsrc" "$D" --compress=none --delta-from="$B" --update-of="$B:1" --quiet
bs=$(stat -c %s "$B"); ds=$(stat -c %s "$D")
t "the delta ($ds bytes) is under 10% of the base ($bs bytes)" test $((ds * 10)) -lt "$bs"
mv "$B" "$TMP/base.moved"
t "applying the delta with its base moved away fails, naming it" expect_fail 4 --mentions base.wim --mentions --ref -- wp apply "$D" "$TMP/nd"
mv "$TMP/base.moved" "$B"
rm -rf "$TMP/d1"
t "applying with --ref works" expect_ok wp apply "$D" "$TMP/d1" --ref="$B" --quiet
t "... identical" compare_trees "$TMP/dsrc" "$TMP/d1"
# getopt style: "--ref GLOB" takes one value; IMAGE and TARGET after it stay positional
rm -rf "$TMP/d1s"
t "apply WIM --ref BASE 1 TARGET (separate value, positionals after it)" expect_ok wp apply "$D" --ref "$B" 1 "$TMP/d1s" --quiet
t "... identical" compare_trees "$TMP/dsrc" "$TMP/d1s"
if have wimlib-imagex; then
    rm -rf "$TMP/d2"
    t "wimlib-imagex applies wimpack's delta with --ref" expect_ok wimlib-imagex apply "$D" "$TMP/d2" --ref="$B"
    t "... identical" compare_trees "$TMP/dsrc" "$TMP/d2"
fi
# two bases
cp -r "$TMP/dsrc" "$TMP/d3src"
echo third > "$TMP/d3src/third.txt"
t "a delta of two bases" expect_ok wp capture "$TMP/d3src" "$TMP/d3.wim" --compress=none --delta-from="$B" --delta-from="$D" --quiet
rm -rf "$TMP/d3"
t "... applies with both --ref (glob)" expect_ok wp apply "$TMP/d3.wim" "$TMP/d3" --ref="$TMP/base.wim" --ref="$TMP/delta*.wim" --quiet
t "... identical" compare_trees "$TMP/d3src" "$TMP/d3"
mv "$D" "$TMP/delta.moved"
t "... fails with only one base (the other moved away)" expect_fail 4 -- wp apply "$TMP/d3.wim" "$TMP/d4" --ref="$B"
mv "$TMP/delta.moved" "$D"

# --update-of=IMAGE without WIMFILE: the one --delta-from base (wimcapture(1))
t "delta capture with --delta-from and --update-of=1 (no WIMFILE)" expect_ok wp capture "$TMP/dsrc" "$TMP/du.wim" --compress=none --delta-from="$B" --update-of=1
t "... the template is the base" stdout_has "reused from $B"
t "... same size as with --update-of=BASE:1" test "$(stat -c %s "$TMP/du.wim")" -le $(($(stat -c %s "$D") + 512))
rm -rf "$TMP/du"
t "... applies with --ref" expect_ok wp apply "$TMP/du.wim" "$TMP/du" --ref="$B" --quiet
t "... identical" compare_trees "$TMP/dsrc" "$TMP/du"
t "capture, two --delta-from and --update-of=1: usage error" expect_fail 2 --mentions delta-from -- wp capture "$TMP/dsrc" "$TMP/dx.wim" --delta-from="$B" --delta-from="$D" --update-of=1
t "... nothing created" test ! -e "$TMP/dx.wim"
# append: the one base wins over the archive appended to; with two bases the
# archive appended to is the template (as wimlib-imagex)
wp capture "$TMP/d3src" "$TMP/ap.wim" other --compress=none --quiet
t "append --delta-from=BASE --update-of=1: the base is the template" expect_ok wp append "$TMP/dsrc" "$TMP/ap.wim" x --delta-from="$B" --update-of=1
t "... stdout names the base" stdout_has "reused from $B"
t "append with two bases --update-of=1: the archive appended to is the template" expect_ok wp append "$TMP/dsrc" "$TMP/ap.wim" y --delta-from="$B" --delta-from="$D" --update-of=1
t "... stdout names it" stdout_has "reused from $TMP/ap.wim"
if have wimlib-imagex; then
    t "wimlib-imagex accepts the same command line" expect_ok wimlib-imagex capture "$TMP/dsrc" "$TMP/wl_du.wim" --compress=none --delta-from="$B" --update-of=1
    rm -rf "$TMP/wl_du"
    t "... wimpack applies its delta with --ref" expect_ok wp apply "$TMP/wl_du.wim" "$TMP/wl_du" --ref="$B" --quiet
    t "... identical" compare_trees "$TMP/dsrc" "$TMP/wl_du"
    rm -rf "$TMP/du2"
    t "wimlib-imagex applies wimpack's --update-of=1 delta" expect_ok wimlib-imagex apply "$TMP/du.wim" "$TMP/du2" --ref="$B"
    t "... identical" compare_trees "$TMP/dsrc" "$TMP/du2"
fi

summary
