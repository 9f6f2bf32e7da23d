#!/usr/bin/env bash
# wimpack reads what wimlib-imagex writes: uncompressed archives with one and
# several images, with and without --unix-data, with an integrity table; and
# XPRESS / LZX / LZMS / solid / pipable / split archives, which wimpack must
# either apply identically or refuse with exit code 5 "not supported yet" —
# never a wrong tree.
#
# usage: bash we_read_wimlib.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex

SRC=$TMP/src
USRC=$TMP/usrc
SMALL=$TMP/small
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
t "build the test tree with UNIX extras" make_test_tree "$USRC" --unix || { summary; exit 1; }
make_small_tree "$SMALL"

wl_capture() { wimlib-imagex capture "$@" >/dev/null; }

# wimlib_then_ours NAME SRC "WIMLIB_CAPTURE_ARGS" "APPLY_ARGS" "COMPARE_ARGS"
wimlib_then_ours() {
    local name=$1 src=$2 cargs=$3 aargs=$4 cmpargs=$5
    local w=$TMP/$name.wim out=$TMP/out-$name
    # shellcheck disable=SC2086
    t "$name: wimlib-imagex capture $cargs" expect_ok wimlib-imagex capture "$src" "$w" $cargs || return 1
    # shellcheck disable=SC2086
    t "$name: wimpack apply $aargs" expect_ok wp apply "$w" "$out" $aargs &&
        t "$name: tree applied by wimpack identical to the source" compare_trees "$src" "$out" $cmpargs
    t "$name: wimpack info" expect_ok wp info "$w"
    rm -rf "$out" "$w"
}
wimlib_then_ours none "$SRC" "--compress=none" "" ""
wimlib_then_ours unix-data "$USRC" "--compress=none --unix-data" "--unix-data" "--unix-data"
wimlib_then_ours unix-data-plain-apply "$USRC" "--compress=none --unix-data" "" "--exclude=special"
wimlib_then_ours check "$SRC" "--compress=none --check" "--check" ""

# several images
W=$TMP/multi.wim
if t "multi: wimlib-imagex capture + 2 appends" bash -c '
    wimlib-imagex capture "$1" "$4" one "first" --compress=none >/dev/null &&
    wimlib-imagex append "$2" "$4" "two words" >/dev/null &&
    wimlib-imagex append "$3" "$4" three --unix-data >/dev/null' _ "$SMALL" "$SRC" "$USRC" "$W"; then
    t "multi: apply 1" expect_ok wp apply "$W" 1 "$TMP/m1" && t "multi: image 1 identical" compare_trees "$SMALL" "$TMP/m1"
    t "multi: apply 'two words'" expect_ok wp apply "$W" "two words" "$TMP/m2" && t "multi: image 'two words' identical" compare_trees "$SRC" "$TMP/m2"
    t "multi: apply 3 --unix-data" expect_ok wp apply "$W" 3 "$TMP/m3" --unix-data && t "multi: image 3 identical (unix data)" compare_trees "$USRC" "$TMP/m3" --unix-data
    if t "multi: apply all" expect_ok wp apply "$W" all "$TMP/mall"; then
        t "multi: all → one" compare_trees "$SMALL" "$TMP/mall/one"
        t "multi: all → two words" compare_trees "$SRC" "$TMP/mall/two words"
        t "multi: all → three" compare_trees "$USRC" "$TMP/mall/three" --exclude=special
    fi
    if t "multi: wimpack info" expect_ok wp info "$W"; then
        t "multi: Image Count: 3" grep -qE '^Image Count:[[:space:]]+3$' "$LAST_STDOUT"
        t "multi: names listed" bash -c 'grep -qE "^Name:[[:space:]]+one$" "$1" && grep -qE "^Name:[[:space:]]+two words$" "$1" && grep -qE "^Name:[[:space:]]+three$" "$1"' _ "$LAST_STDOUT"
    fi
    rm -rf "$TMP"/m[0-9a-z]*
fi

# Compressed and special layouts: identical tree, or exit 5 "not supported yet".
# read_or_refuse NAME SRC WIM [apply args]
read_or_refuse() {
    local name=$1 src=$2 w=$3
    shift 3
    local out=$TMP/o-$name
    expect_ok_or_unsupported wp apply "$w" "$out" "$@" >"$TMP/.why" 2>&1
    case $? in
    0) t "$name: wimpack applies it; tree identical" compare_trees "$src" "$out" ;;
    10) pass "$name: wimpack refuses it cleanly: $(head -n1 "$LAST_STDERR")" ;;
    *) fail "$name: wimpack apply"; sed 's/^/       /' "$TMP/.why" ;;
    esac
    rm -rf "$out"
}
for spec in "XPRESS" "LZX" "LZMS" "LZX --chunk-size=64K" "LZX --chunk-size=2M" "XPRESS --chunk-size=4K" \
    "LZMS --chunk-size=1M" "LZX --solid" "LZMS --solid" "XPRESS --solid" "LZX --pipable" "none --pipable"; do
    name=${spec// /}
    name=${name//=/}
    name=${name//--/-}
    w=$TMP/$name.wim
    # shellcheck disable=SC2086
    if t "$name: wimlib-imagex capture --compress=$spec" expect_ok wimlib-imagex capture "$SRC" "$w" --compress=$spec; then
        read_or_refuse "$name" "$SRC" "$w"
    fi
    rm -f "$w"
done
w=$TMP/lzx-unix.wim
t "lzx-unix: wimlib-imagex capture --compress=LZX --unix-data" expect_ok wimlib-imagex capture "$USRC" "$w" --compress=LZX --unix-data &&
    read_or_refuse lzx-unix "$USRC" "$w" --unix-data

# split archive (.swm): applies with --ref, or "not supported yet"
w=$TMP/whole.wim
if t "split: wimlib-imagex capture + split into 1 MiB parts" bash -c '
    wimlib-imagex capture "$1" "$2" --compress=none >/dev/null &&
    wimlib-imagex split "$2" "$3/part.swm" 1 >/dev/null' _ "$SRC" "$w" "$TMP"; then
    read_or_refuse split "$SRC" "$TMP/part.swm" "--ref=$TMP/part*.swm"
fi

summary
