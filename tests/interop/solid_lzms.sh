#!/usr/bin/env bash
# Issue 10: `--solid` as wimlib-imagex writes it -- LZMS solid resources
# (64 MiB chunks by default), version 0xE00, and the header codec chosen as
# wimlib-imagex chooses it (LZMS when --compress is not given, else the
# --compress codec). Checked against wimlib-imagex's own archives of the same
# tree (its `info` and `info --header` print the same fields), with
# wimlib-imagex verify/apply and 7zz t; append to wimlib's --solid archive;
# optimize --compress=LZMS and --solid; export --solid.
#
# usage: bash solid_lzms.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex
SZ=
for c in 7zz 7z; do have "$c" && { SZ=$c; break; }; done

SRC=$TMP/src
t "build the test tree" make_small_tree "$SRC" || { summary; exit 1; }
mkdir -p "$SRC/more"
cp /bin/ls "$SRC/more/ls.bin" 2>/dev/null || rand_bytes 1 150000 >"$SRC/more/ls.bin"
for i in $(seq 1 4000); do echo "line $i: solid archives pack files together"; done >"$SRC/more/text.txt"
cp "$SRC/more/text.txt" "$SRC/more/copy.txt"
rand_bytes 2 200000 >"$SRC/more/random.bin"
head -c 300000 /dev/zero >"$SRC/more/zeros.bin"

# The codec numbers and chunk sizes of the archive's solid resources
# ("LZMS:67108864 ..."), read from the solid resource headers (§4.3).
solid_formats() {
    "$PY" - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
sz, off = struct.unpack_from('<Q', d, 0x30)[0], struct.unpack_from('<Q', d, 0x38)[0]
flags, sz = sz >> 56, sz & ((1 << 56) - 1)
assert not flags & 4, "compressed blob table"
names = {1: 'XPRESS', 2: 'LZX', 3: 'LZMS'}
out = []
for p in range(off, off + sz, 50):
    rs = struct.unpack_from('<Q', d, p)[0]
    rflags, roff, usize = rs >> 56, struct.unpack_from('<Q', d, p + 8)[0], struct.unpack_from('<Q', d, p + 16)[0]
    if rflags & 0x10 and usize == 1 << 32:
        u, chunk, fmt = struct.unpack_from('<QII', d, roff)
        out.append(f"{names.get(fmt, hex(fmt))}:{chunk}")
print(' '.join(out) if out else 'none')
PY
}
# wimlib-imagex info --header / info, without what differs between two
# captures of the same tree (GUID, path, sizes, offsets, times).
wl_header() { wimlib-imagex info --header "$1" | grep -E '^(Magic|Header Size|Version|Flags|Chunk Size|Part Number|Total Parts|Image Count|Boot Index|[[:space:]]+WIM_HDR)'; }
wl_info() { wimlib-imagex info "$1" | sed -n '/^Available Images/q;p' | grep -vE '^(Path|GUID|Size):'; }
same_as_wimlib() {  # same_as_wimlib OURS.wim WIMLIBS.wim
    diff <(wl_header "$1") <(wl_header "$2") && diff <(wl_info "$1") <(wl_info "$2")
}
checks() {  # checks NAME ARCHIVE [IMAGE]: wimlib verify + apply identical, 7zz t
    local name=$1 w=$2 img=${3:-1}
    t "$name: wimlib-imagex verify" expect_ok wimlib-imagex verify "$w"
    rm -rf "$TMP/o"
    t "$name: wimlib-imagex apply" expect_ok wimlib-imagex apply "$w" "$img" "$TMP/o" &&
        t "$name: tree applied by wimlib identical" compare_trees "$SRC" "$TMP/o"
    rm -rf "$TMP/o"
    if [[ -n $SZ ]]; then t "$name: $SZ t" expect_ok "$SZ" t "$w"; else skip "$name: 7zz t (7zz not installed)"; fi
}

# --- capture: header and info as wimlib's, for each --compress choice ---------------------
for spec in "" "--solid-chunk-size=1M" "--compress=XPRESS" "--compress=LZX" "--compress=none" "--compress=LZMS"; do
    name="--solid${spec:+ $spec}"
    ours=$TMP/ours.wim wl=$TMP/wl.wim
    rm -f "$ours" "$wl"
    # shellcheck disable=SC2086
    t "$name: wimpack capture" expect_ok wp capture "$SRC" "$ours" --solid $spec --quiet || continue
    # shellcheck disable=SC2086
    t "$name: wimlib-imagex capture" expect_ok wimlib-imagex capture "$SRC" "$wl" --solid $spec || continue
    t "$name: version 0xE00" test "$(hdr "$ours" version)" = 3584
    t "$name: info and info --header as wimlib's" same_as_wimlib "$ours" "$wl"
    want="LZMS:67108864"
    [[ $spec == --solid-chunk-size=1M ]] && want="LZMS:1048576"
    t "$name: solid resource is $want" test "$(solid_formats "$ours")" = "$want"
    checks "$name" "$ours"
done
t "--solid --solid-compress=lzma (private) still works" expect_ok wp capture "$SRC" "$TMP/lzma.wim" --solid --solid-compress=lzma --quiet &&
    t "... and its solid resource is not LZMS" not test "$(solid_formats "$TMP/lzma.wim")" = LZMS:67108864
t "--solid-compress without --solid: a warning, not solid (as wimlib)" \
    bash -c '"$1" capture "$2" "$3" --solid-compress=LZMS 2>&1 | grep -q "no effect without --solid"' _ "$WIMPACK" "$SRC" "$TMP/ns.wim"
t "... version 0x10D00" test "$(hdr "$TMP/ns.wim" version)" = 68864

# --- append to wimlib's --solid archive -----------------------------------------------
WS=$TMP/wl-solid.wim
rm -f "$WS"
t "wimlib-imagex capture --solid" expect_ok wimlib-imagex capture "$SRC" "$WS" one --solid
cp "$WS" "$TMP/ws2.wim"
t "append (non-solid LZMS) to wimlib's --solid archive" expect_ok wp append "$SRC" "$TMP/ws2.wim" two --quiet &&
    checks "append to wimlib --solid" "$TMP/ws2.wim" 2
t "append --solid to wimlib's --solid archive" expect_ok wp append "$SRC/more" "$TMP/ws2.wim" three --solid --quiet &&
    t "... wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/ws2.wim"
rm -rf "$TMP/o"
t "... wimlib-imagex applies image 3" expect_ok wimlib-imagex apply "$TMP/ws2.wim" 3 "$TMP/o" &&
    t "... identical" compare_trees "$SRC/more" "$TMP/o"
rm -rf "$TMP/o"

# --- optimize and export ---------------------------------------------------------------
t "capture (LZX)" expect_ok wp capture "$SRC" "$TMP/lzx.wim" --quiet
cp "$TMP/lzx.wim" "$TMP/opt.wim"
t "optimize --compress=LZMS" expect_ok wp optimize "$TMP/opt.wim" --compress=LZMS --quiet &&
    t "... header says LZMS" bash -c 'wimlib-imagex info "$1" | grep -qE "^Compression:[[:space:]]+LZMS$"' _ "$TMP/opt.wim" &&
    checks "optimize --compress=LZMS" "$TMP/opt.wim"
cp "$TMP/lzx.wim" "$TMP/opt2.wim"
t "optimize --solid (LZX archive)" expect_ok wp optimize "$TMP/opt2.wim" --solid --quiet &&
    t "... header stays LZX, solid LZMS, as wimlib" bash -c 'wimlib-imagex info "$1" | grep -qE "^Compression:[[:space:]]+LZX$"' _ "$TMP/opt2.wim" &&
    t "... solid resource is LZMS" test "$(solid_formats "$TMP/opt2.wim")" = LZMS:67108864 &&
    checks "optimize --solid" "$TMP/opt2.wim"
cp "$WS" "$TMP/opt3.wim"
t "optimize --solid --recompress (wimlib's --solid archive)" expect_ok wp optimize "$TMP/opt3.wim" --solid --recompress --quiet &&
    checks "optimize wimlib --solid" "$TMP/opt3.wim"
rm -f "$TMP/e.wim" "$TMP/we.wim"
t "export --solid (LZX archive) to a new archive" expect_ok wp export "$TMP/lzx.wim" 1 "$TMP/e.wim" --solid --quiet &&
    t "wimlib-imagex export --solid" expect_ok wimlib-imagex export "$TMP/lzx.wim" 1 "$TMP/we.wim" --solid &&
    t "... info and info --header as wimlib's" same_as_wimlib "$TMP/e.wim" "$TMP/we.wim" &&
    checks "export --solid" "$TMP/e.wim"
cp "$TMP/lzx.wim" "$TMP/e2.wim"
t "export --solid into an existing LZX archive" expect_ok wp export "$WS" 1 "$TMP/e2.wim" copy --solid --quiet &&
    checks "export --solid into LZX" "$TMP/e2.wim" 2

summary
