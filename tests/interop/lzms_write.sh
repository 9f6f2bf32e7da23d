#!/usr/bin/env bash
# LZMS archives written by wimpack (wim-codecs.md §6.13), checked by
# wimlib-imagex: verify, apply to a tree identical to the source, at several
# levels and chunk sizes, on a tree with text, machine code (x86 filter),
# runs of zeros and incompressible data; and wimpack applies them too.
#
# usage: bash lzms_write.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
mkdir -p "$SRC/lzms"
cp /bin/ls "$SRC/lzms/ls.bin" 2>/dev/null || rand_bytes 1 200000 >"$SRC/lzms/ls.bin"
if [[ -n ${WIMPACK_SRC:-} && -d $WIMPACK_SRC/src/compress ]]; then
    cat "$WIMPACK_SRC"/src/compress/*.cpp >"$SRC/lzms/sources.txt"
else
    for i in $(seq 1 3000); do echo "line $i of some text to compress with LZMS"; done >"$SRC/lzms/sources.txt"
fi
head -c 3000000 /dev/zero >"$SRC/lzms/zeros.bin"
rand_bytes 2 300000 >"$SRC/lzms/random.bin"

for spec in "LZMS" "LZMS:1" "LZMS:100" "recovery --chunk-size=32K" "LZMS --chunk-size=1M" "LZMS --chunk-size=4M"; do
    name=${spec// /}
    name=${name//[=:]/}
    w=$TMP/$name.wim
    # shellcheck disable=SC2086
    if t "$name: wimpack capture --compress=$spec" expect_ok wp capture "$SRC" "$w" --compress=$spec; then
        t "$name: header says LZMS" bash -c 'wimlib-imagex info "$1" | grep -qE "^Compression:[[:space:]]+LZMS$"' _ "$w"
        t "$name: wimlib-imagex verify" expect_ok wimlib-imagex verify "$w"
        t "$name: wimlib-imagex apply" expect_ok wimlib-imagex apply "$w" "$TMP/o-wl" &&
            t "$name: tree applied by wimlib identical" compare_trees "$SRC" "$TMP/o-wl"
        t "$name: wimpack apply" expect_ok wp apply "$w" "$TMP/o-wp" &&
            t "$name: tree applied by wimpack identical" compare_trees "$SRC" "$TMP/o-wp"
        rm -rf "$TMP/o-wl" "$TMP/o-wp"
    fi
    rm -f "$w"
done

summary
