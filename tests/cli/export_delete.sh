#!/usr/bin/env bash
# export and delete (issue 15), with wimlib-imagex as the oracle: what we
# export into and delete from verifies and applies with both tools; archives
# wimlib made are exported from and deleted from by us; every blob is stored
# once; interrupted writers leave the archive as it was; the writer lock holds.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario (uses info --json)"; exit 0; }

WL=0
have wimlib-imagex && WL=1

jq_py() { # jq_py FILE.wim PYTHON-EXPR-ON-d
    "$WIMPACK" info "$1" --json --blobs | $PY -c "import json,sys; d=json.load(sys.stdin); print($2)"
}
image_count() { jq_py "$1" 'd["image_count"]'; }
boot_index() { jq_py "$1" 'd["boot_index"]'; }
guid() { jq_py "$1" 'd["guid"]'; }
names() { jq_py "$1" '"|".join(i["name"] for i in d["images"])'; }
# data blobs (not metadata) in the blob table, and how many distinct hashes
blob_count() { jq_py "$1" 'len([b for b in d["blobs"] if not b["metadata"]])'; }
distinct_blobs() { jq_py "$1" 'len(set(b["hash"] for b in d["blobs"] if not b["metadata"]))'; }
blobs_once() { test "$(blob_count "$1")" = "$(distinct_blobs "$1")"; }

# applies image $2 of $1 with wimpack (and wimlib-imagex when the codec
# allows) and compares with tree $3
applies_as() {
    local w=$1 i=$2 tree=$3 out
    out=$(mktemp -d "$TMP/ap.XXXXXX")
    rmdir "$out"
    "$WIMPACK" apply "$w" "$i" "$out" --quiet >/dev/null || { echo "wimpack apply $w $i failed"; return 1; }
    compare_trees "$tree" "$out" --quiet || return 1
    rm -rf "$out"
    if [[ $WL == 1 && ${NO_WIMLIB:-0} == 0 ]]; then
        wimlib-imagex apply "$w" "$i" "$out" >/dev/null 2>&1 || { echo "wimlib-imagex apply $w $i failed"; return 1; }
        compare_trees "$tree" "$out" --quiet || return 1
        rm -rf "$out"
    fi
}
wl_verify() { [[ $WL == 0 ]] || wimlib-imagex verify "$1" >/dev/null 2>&1 || { wimlib-imagex verify "$1"; return 1; }; }

s1=$TMP/s1
s2=$TMP/s2
make_test_tree "$s1"
cp -a "$s1" "$s2"
echo "only in two" >"$s2/only-two.txt"
head -c 300000 /dev/urandom >"$s2/random-two.bin"
rm -f "$(find "$s2" -type f -size +1k | head -1)"
s3=$TMP/s3
mkdir -p "$s3"
echo "third image" >"$s3/third.txt"
head -c 200000 /dev/urandom >"$s3/random-three.bin"

# Source: two images sharing most blobs, image 2 bootable.
S=$TMP/src.wim
t "source image 1 (LZX)" expect_ok wp capture "$s1" "$S" one --quiet
t "source image 2, bootable" expect_ok wp append "$s2" "$S" two --boot --quiet
t "the source stores each blob once" blobs_once "$S"
src_blobs=$(blob_count "$S")

# --- export into new archives, per codec ---------------------------------------
for c in default XPRESS none LZX-solid; do
    N=$TMP/new-$c.wim
    opts=()
    case $c in
    default) ;;
    LZX-solid) opts=(--solid --solid-compress=LZX) ;;
    *) opts=(--compress="$c") ;;
    esac
    t "export image 2 into a new archive ($c)" expect_ok wp export "$S" 2 "$N" "${opts[@]}" --quiet
    t "... one image, named two" test "$(names "$N")" = two
    t "... not bootable (no --boot, as wimlib)" test "$(boot_index "$N")" = 0
    t "... a new GUID" test "$(guid "$N")" != "$(guid "$S")"
    t "... each blob once" blobs_once "$N"
    t "... wimlib-imagex verify accepts it" wl_verify "$N"
    t "... applies (both tools) to tree two" applies_as "$N" 1 "$s2"
done
t "a new archive inherits the source's codec" test "$(jq_py "$TMP/new-default.wim" 'd["compression"]')" = LZX
t "--compress=none gives an uncompressed archive" test "$(jq_py "$TMP/new-none.wim" 'd["compression"]')" = None
t "--solid gives solid resources" test "$(jq_py "$TMP/new-LZX-solid.wim" 'sum(b["solid"] for b in d["blobs"])')" -gt 0

# DEST_NAME, DEST_DESC, negative index, --boot
N=$TMP/named.wim
t "export -1 with DEST_NAME, DEST_DESC and --boot" expect_ok wp export "$S" -1 "$N" renamed "a description" --boot --quiet
t "... named renamed" test "$(names "$N")" = renamed
t "... described" test "$(jq_py "$N" 'd["images"][0]["description"]')" = "a description"
t "... bootable" test "$(boot_index "$N")" = 1
t "... wimlib-imagex verify accepts it" wl_verify "$N"
t "export by name" expect_ok wp export "$S" one "$TMP/byname.wim" --quiet
t "... applies to tree one" applies_as "$TMP/byname.wim" 1 "$s1"

# all
A=$TMP/all.wim
t "export all into a new archive" expect_ok wp export "$S" all "$A" --quiet
t "... two images, one|two" test "$(names "$A")" = "one|two"
t "... not bootable without --boot (as wimlib)" test "$(boot_index "$A")" = 0
t "... as many blobs as the source" test "$(blob_count "$A")" = "$src_blobs"
t "... wimlib-imagex verify accepts it" wl_verify "$A"
t "... image 1 applies" applies_as "$A" 1 "$s1"
t "... image 2 applies" applies_as "$A" 2 "$s2"
t "export all --boot keeps the source's boot image" expect_ok wp export "$S" all "$TMP/allboot.wim" --boot --quiet
t "... boot index 2" test "$(boot_index "$TMP/allboot.wim")" = 2
t "export all --boot from an archive without a boot image is refused" \
    expect_fail 2 --mentions bootable -- wp export "$A" all "$TMP/nb.wim" --boot --quiet

# --- export into an existing archive -----------------------------------------------
E=$TMP/existing.wim
t "destination: tree one (LZX)" expect_ok wp capture "$s1" "$E" base --quiet
g0=$(guid "$E")
e0=$(stat -c %s "$E")
t "export image 2 into it (in place)" expect_ok wp export "$S" 2 "$E" --quiet
t "... two images, base|two" test "$(names "$E")" = "base|two"
t "... the GUID is kept" test "$(guid "$E")" = "$g0"
t "... shared blobs are not stored again: as many blobs as the source" test "$(blob_count "$E")" = "$src_blobs"
t "... each blob once" blobs_once "$E"
t "... it grew by less than the new image's data would take twice" \
    test $(($(stat -c %s "$E") - e0)) -lt 700000
t "... wimlib-imagex verify accepts it" wl_verify "$E"
t "... image 1 still applies" applies_as "$E" 1 "$s1"
t "... image 2 applies" applies_as "$E" 2 "$s2"
t "the same name again is refused (exit 2), naming it" \
    expect_fail 2 --mentions '"two"' -- wp export "$S" 2 "$E" --quiet
t "all, with a name already in DEST, is refused" expect_fail 2 --mentions '"two"' -- wp export "$S" all "$E" --quiet
t "DEST_NAME with all is refused" expect_fail 2 --mentions DEST_NAME -- wp export "$S" all "$TMP/x.wim" foo --quiet
t "... nothing was created" test ! -e "$TMP/x.wim"
t "a different --compress for an existing DEST is refused" \
    expect_fail 2 --mentions existing.wim -- wp export "$S" 1 "$E" again --compress=XPRESS --quiet
t "export 1 under another name, --rebuild" expect_ok wp export "$S" 1 "$E" again --rebuild --boot --quiet
t "... three images" test "$(names "$E")" = "base|two|again"
t "... the GUID is kept" test "$(guid "$E")" = "$g0"
t "... --boot made image 3 bootable" test "$(boot_index "$E")" = 3
t "... still as many blobs as the source" test "$(blob_count "$E")" = "$src_blobs"
t "... wimlib-imagex verify accepts it" wl_verify "$E"
t "... image 3 applies" applies_as "$E" 3 "$s1"
t "... no temporary file left" bash -c "! ls '$TMP' | grep -qE '\.wim\.[A-Za-z0-9]{9}$'"
t "exporting into the source itself adds a copy (as wimlib)" expect_ok wp export "$S" 1 "$S" copy --quiet
t "... three images" test "$(names "$S")" = "one|two|copy"
t "... no new blobs" test "$(blob_count "$S")" = "$src_blobs"
t "... wimlib-imagex verify accepts it" wl_verify "$S"
t "... the copy applies" applies_as "$S" 3 "$s1"
t "an image that does not exist: exit 4" expect_fail 4 --mentions src.wim -- wp export "$S" 9 "$TMP/y.wim" --quiet
t "... nor a name" expect_fail 4 --mentions nosuch -- wp export "$S" nosuch "$TMP/y.wim" --quiet
t "--pipable and --not-pipable together: usage (2)" expect_fail 2 --mentions pipable -- wp export "$S" 1 "$TMP/p.wim" --pipable --not-pipable
t "--unsafe-compact --recompress: refused as by wimlib (2)" expect_fail 2 --mentions recompress -- wp export "$S" 1 "$E" x --unsafe-compact --recompress
t "... the existing archive is untouched by refused exports" test "$(names "$E")" = "base|two|again"

# private codecs: zstd source, LZX export readable by wimlib
Z=$TMP/z.wim
t "a zstd archive" expect_ok wp capture "$s2" "$Z" --compress=zstd --quiet
t "export it --compress=LZX" expect_ok wp export "$Z" 1 "$TMP/z-lzx.wim" --compress=LZX --quiet
t "... wimlib-imagex verify accepts it" wl_verify "$TMP/z-lzx.wim"
t "... applies" applies_as "$TMP/z-lzx.wim" 1 "$s2"
t "export the zstd image into the LZX archive (recompressed)" expect_ok wp export "$Z" 1 "$A" fromzstd --quiet
t "... wimlib-imagex verify accepts it" wl_verify "$A"
t "... no blob stored twice" test "$(blob_count "$A")" = "$src_blobs"

# --ref: a delta exported with its base becomes self-contained
B=$TMP/base.wim
D=$TMP/delta.wim
t "base (none)" expect_ok wp capture "$s1" "$B" --compress=none --quiet
t "delta of tree two" expect_ok wp capture "$s2" "$D" --compress=none --delta-from="$B" --quiet
mv "$B" "$TMP/moved-base"
t "exporting the delta with its base moved away fails (4), suggesting --ref" \
    expect_fail 4 --mentions --ref -- wp export "$D" 1 "$TMP/self.wim" --quiet
t "... and creates nothing" test ! -e "$TMP/self.wim"
mv "$TMP/moved-base" "$B"
t "export with --ref=GLOB" expect_ok wp export "$D" 1 "$TMP/self.wim" --ref="$TMP/bas*.wim" --quiet
t "... applies without any --ref" applies_as "$TMP/self.wim" 1 "$s2"

# --- delete ----------------------------------------------------------------------
M=$TMP/m.wim
t "three images, the second bootable" expect_ok wp capture "$s1" "$M" one --quiet
t "..." expect_ok wp append "$s2" "$M" two --boot --quiet
t "..." expect_ok wp append "$s3" "$M" three --quiet
cp "$M" "$TMP/m.orig"
m0=$(stat -c %s "$M")
t "delete image 3" expect_ok wp delete "$M" 3 --quiet
t "... two images left" test "$(names "$M")" = "one|two"
t "... the file shrank" test "$(stat -c %s "$M")" -lt "$m0"
t "... boot index unchanged (2)" test "$(boot_index "$M")" = 2
t "... the GUID is kept" test "$(guid "$M")" = "$(guid "$TMP/m.orig")"
t "... each blob once, none of image 3's left" test "$(blob_count "$M")" = "$src_blobs"
t "... wimlib-imagex verify accepts it" wl_verify "$M"
t "... image 2 applies" applies_as "$M" 2 "$s2"
cp "$TMP/m.orig" "$M"
t "delete image 1 (before the boot image)" expect_ok wp delete "$M" one --quiet
t "... the boot image is now 1" test "$(boot_index "$M")" = 1
t "... names two|three" test "$(names "$M")" = "two|three"
t "... wimlib-imagex verify accepts it" wl_verify "$M"
t "... image 2 (three) applies" applies_as "$M" 2 "$s3"
cp "$TMP/m.orig" "$M"
t "delete the boot image" expect_ok wp delete "$M" 2 --quiet
t "... no boot image" test "$(boot_index "$M")" = 0
t "... wimlib-imagex verify accepts it" wl_verify "$M"
cp "$TMP/m.orig" "$M"
t "delete --soft image 3" expect_ok wp delete "$M" -1 --soft --quiet
t "... two images left" test "$(names "$M")" = "one|two"
t "... the size is about the same" test $(( $(stat -c %s "$M") - m0 )) -lt 20000
t "... the size did not shrink" test "$(stat -c %s "$M")" -ge "$m0"
t "... its unused blobs stay, with refcnt 0" test "$(jq_py "$M" 'sum(1 for b in d["blobs"] if not b["metadata"] and b["refcnt"]==0)')" -ge 2
t "... wimlib-imagex verify accepts it" wl_verify "$M"
t "... image 1 applies" applies_as "$M" 1 "$s1"
t "... image 2 applies" applies_as "$M" 2 "$s2"
t "delete --soft the boot image" expect_ok wp delete "$M" 2 --soft --quiet
t "... no boot image" test "$(boot_index "$M")" = 0
t "optimize afterwards drops the holes" expect_ok wp optimize "$M" --quiet
t "... smaller than before" test "$(stat -c %s "$M")" -lt "$m0"
t "... image 1 applies" applies_as "$M" 1 "$s1"
cp "$TMP/m.orig" "$M"
t "delete all" expect_ok wp delete "$M" all --quiet
t "... zero images" test "$(image_count "$M")" = 0
t "... wimlib-imagex verify accepts the 0-image archive" wl_verify "$M"
t "... and it can be appended to again" expect_ok wp append "$s3" "$M" again --quiet
t "... which applies" applies_as "$M" 1 "$s3"
cp "$TMP/m.orig" "$M"
t "delete --soft all" expect_ok wp delete "$M" all --soft --quiet
t "... zero images" test "$(image_count "$M")" = 0
t "... wimlib-imagex verify accepts it" wl_verify "$M"
t "delete of a missing image: exit 4" expect_fail 4 --mentions m.orig -- wp delete "$TMP/m.orig" 7
t "delete --unsafe-compact of a missing image: exit 4" expect_fail 4 --mentions m.orig -- wp delete "$TMP/m.orig" 7 --unsafe-compact
t "delete --check writes an integrity table" expect_ok wp delete "$TMP/m.orig" 3 --check --quiet
t "... it has one" test "$(jq_py "$TMP/m.orig" 'd["integrity_table"]')" = True
t "... and keeps it on the next delete" expect_ok wp delete "$TMP/m.orig" 2 --soft --quiet
t "... still" test "$(jq_py "$TMP/m.orig" 'd["integrity_table"]')" = True
t "... wimlib-imagex verify --check accepts it" bash -c "[[ $WL == 0 ]] || wimlib-imagex verify '$TMP/m.orig' >/dev/null"

# --- archives wimlib made -------------------------------------------------------------
if [[ $WL == 1 ]]; then
    W=$TMP/wl.wim
    t "wimlib-imagex capture + append" bash -c "wimlib-imagex capture '$s1' '$W' one >/dev/null && wimlib-imagex append '$s2' '$W' two --boot >/dev/null && wimlib-imagex append '$s3' '$W' three >/dev/null"
    t "export image 2 of wimlib's archive into a new one" expect_ok wp export "$W" 2 "$TMP/wl-new.wim" --quiet
    t "... verifies" wl_verify "$TMP/wl-new.wim"
    t "... applies" applies_as "$TMP/wl-new.wim" 1 "$s2"
    t "export all of it into our archive that has 'one': refused" \
        expect_fail 2 --mentions '"one"' -- wp export "$W" all "$TMP/byname.wim" --quiet
    t "... unchanged" test "$(names "$TMP/byname.wim")" = one
    t "export 2 and 3 of it into our archive" expect_ok wp export "$W" 2 "$TMP/byname.wim" --quiet
    t "..." expect_ok wp export "$W" three "$TMP/byname.wim" --quiet
    t "... each blob once" blobs_once "$TMP/byname.wim"
    t "... verifies" wl_verify "$TMP/byname.wim"
    t "... image 3 applies" applies_as "$TMP/byname.wim" 3 "$s3"
    cp "$W" "$TMP/wl2.wim"
    t "delete from wimlib's archive" expect_ok wp delete "$W" 1 --quiet
    t "... verifies" wl_verify "$W"
    t "... boot index follows (1)" test "$(boot_index "$W")" = 1
    t "... image 2 applies" applies_as "$W" 2 "$s3"
    t "delete --soft from wimlib's archive" expect_ok wp delete "$TMP/wl2.wim" 2 --soft --quiet
    t "... verifies" wl_verify "$TMP/wl2.wim"
    t "... image 2 applies" applies_as "$TMP/wl2.wim" 2 "$s3"
    WS=$TMP/wl-solid.wim
    t "wimlib-imagex capture --solid (LZMS)" bash -c "wimlib-imagex capture '$s2' '$WS' solid --solid >/dev/null"
    t "export it into a new archive (LZMS copied verbatim, still solid)" expect_ok wp export "$WS" 1 "$TMP/wls-new.wim" --quiet
    t "... solid" test "$(jq_py "$TMP/wls-new.wim" 'sum(b["solid"] for b in d["blobs"])')" -gt 0
    t "... verifies" wl_verify "$TMP/wls-new.wim"
    t "... applies" applies_as "$TMP/wls-new.wim" 1 "$s2"
    t "export it --compress=LZX (ESD to WIM)" expect_ok wp export "$WS" 1 "$TMP/wls-lzx.wim" --compress=LZX --quiet
    t "... not solid" test "$(jq_py "$TMP/wls-lzx.wim" 'sum(b["solid"] for b in d["blobs"])')" = 0
    t "... verifies" wl_verify "$TMP/wls-lzx.wim"
    t "... applies" applies_as "$TMP/wls-lzx.wim" 1 "$s2"
    t "export the wimlib solid image into an existing LZX archive" expect_ok wp export "$WS" 1 "$TMP/z-lzx.wim" solid --quiet
    t "... verifies" wl_verify "$TMP/z-lzx.wim"
    t "... applies" applies_as "$TMP/z-lzx.wim" 2 "$s2"
fi

# --- the writer lock ---------------------------------------------------------------------
L=$TMP/locked.wim
cp "$A" "$L"
cp "$L" "$TMP/locked.orig"
flock -o "$L" sleep 30 &
holder=$!
sleep 0.3
t "export into a locked archive: exit 7" expect_fail 7 --mentions locked -- wp export "$S" 1 "$L" other --quiet
t "delete from a locked archive: exit 7" expect_fail 7 --mentions locked -- wp delete "$L" 1 --quiet
t "delete --soft too" expect_fail 7 --mentions locked -- wp delete "$L" 1 --soft --quiet
t "... byte-identical" cmp "$L" "$TMP/locked.orig"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# --- interrupted writers ----------------------------------------------------------------
big=$TMP/big
mkdir -p "$big"
head -c 60000000 /dev/urandom >"$big/random.bin"
cp -r "$s3" "$big/tree"
BS=$TMP/bigsrc.wim
t "a big source archive (none)" expect_ok wp capture "$big" "$BS" big --compress=none --quiet
t "... with a second image" expect_ok wp append "$s1" "$BS" small --quiet
K0=$TMP/k.orig
t "a destination (LZX)" expect_ok wp capture "$s1" "$K0" base --quiet
K=$TMP/k.wim
killed_ok() { # the destination still applies image 1 as tree one, with both tools
    applies_as "$K" 1 "$s1"
}
for delay in 0.05 0.2 0.5 1.0; do
    for mode in inplace rebuild; do
        cp "$K0" "$K"
        extra=()
        [[ $mode == rebuild ]] && extra=(--rebuild)
        "$WIMPACK" export "$BS" big "$K" --quiet --threads=1 "${extra[@]}" &
        pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        t "export ($mode) killed -9 after ${delay}s: image 1 applies with both tools" killed_ok
        t "... wimlib-imagex verify accepts it" wl_verify "$K"
        rm -f "$TMP"/k.wim.?????????
    done
done
# A delete rebuild copies the 60 MB image verbatim in ~0.1 s: short delays.
for delay in 0.01 0.03 0.06 0.1; do
    cp "$BS" "$TMP/d.wim"
    "$WIMPACK" delete "$TMP/d.wim" small --quiet --threads=1 2>"$TMP/d.err" &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$TMP"/d.wim.?????????
    if [[ $(image_count "$TMP/d.wim") == 2 ]]; then
        t "delete killed -9 after ${delay}s: image 2 still applies" applies_as "$TMP/d.wim" 2 "$s1"
    else
        t "delete killed -9 after ${delay}s finished first: image 1 applies" applies_as "$TMP/d.wim" 1 "$big"
    fi
done
for delay in 0.1 0.4 0.8; do
    cp "$K0" "$K"
    "$WIMPACK" export "$BS" big "$K" --quiet --threads=1 --recompress &
    pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [[ $rc == 0 ]]; then
        skip "SIGINT after ${delay}s came after the commit"
    else
        t "export interrupted by SIGINT after ${delay}s: exit 130" test "$rc" = 130
        t "... the destination is byte-identical" cmp "$K" "$K0"
    fi
done
for delay in 0.01 0.03 0.06; do
    cp "$BS" "$TMP/d.wim"
    cp "$BS" "$TMP/d.orig"
    "$WIMPACK" delete "$TMP/d.wim" small --quiet --threads=1 2>"$TMP/d.err" &
    pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [[ $rc == 0 ]]; then
        skip "SIGINT during delete after ${delay}s came after the commit"
    else
        # Old or new, never a mix: byte-identical, or (a signal after the
        # rename) the finished result, which the message then reports.
        if cmp -s "$TMP/d.wim" "$TMP/d.orig"; then
            t "delete interrupted by SIGINT after ${delay}s: byte-identical" true
        else
            t "delete interrupted by SIGINT after ${delay}s, after its commit: stderr says the archive was written" \
                grep -q "had already been written completely" "$TMP/d.err"
            t "... and it is the finished result: no image 'small'" expect_fail 4 -- wp info "$TMP/d.wim" small
        fi
        t "... no temporary file left" bash -c "! ls '$TMP' | grep -qE '^d\.wim\.[A-Za-z0-9]{9}$'"
    fi
done

summary
