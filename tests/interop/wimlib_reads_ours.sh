#!/usr/bin/env bash
# wimlib-imagex as the oracle for what wimpack writes: standard archives pass
# `wimlib-imagex verify` and apply to identical trees (also with --unix-data,
# --check, several images, the standard codecs once they exist); archives with
# the private zstd/LZMA codecs are refused by wimlib-imagex (non-zero exit), never
# misread.
#
# usage: bash wimlib_reads_ours.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex

SRC=$TMP/src
USRC=$TMP/usrc
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
t "build the test tree with UNIX extras" make_test_tree "$USRC" --unix || { summary; exit 1; }

# ours_then_wimlib NAME SRC "CAPTURE_ARGS" "WIMLIB_APPLY_ARGS" "COMPARE_ARGS"
ours_then_wimlib() {
    local name=$1 src=$2 cargs=$3 aargs=$4 cmpargs=$5
    local w=$TMP/$name.wim out=$TMP/out-$name
    # shellcheck disable=SC2086
    t "$name: wimpack capture $cargs" expect_ok wp capture "$src" "$w" $cargs || return 1
    t "$name: wimlib-imagex verify" expect_ok wimlib-imagex verify "$w"
    t "$name: wimlib-imagex info" expect_ok wimlib-imagex info "$w"
    # shellcheck disable=SC2086
    t "$name: wimlib-imagex apply $aargs" expect_ok wimlib-imagex apply "$w" "$out" $aargs &&
        t "$name: tree applied by wimlib identical to the source" compare_trees "$src" "$out" $cmpargs
    rm -rf "$out" "$w"
}

ours_then_wimlib none "$SRC" "--compress=none" "" ""
ours_then_wimlib unix-data "$USRC" "--compress=none --unix-data" "--unix-data" "--unix-data"
ours_then_wimlib check "$SRC" "--compress=none --check" "--check" ""
ours_then_wimlib threads1 "$SRC" "--compress=none --threads=1" "" ""

# names, description, boot flag as wimlib sees them
W=$TMP/props.wim
if t "props: wimpack capture with name, description, --boot, --flags" \
    expect_ok wp capture "$SRC" "$W" "Ïmage Näme" "déscription" --compress=none --boot --flags=Professional; then
    if t "props: wimlib-imagex info" expect_ok wimlib-imagex info "$W"; then
        t "props: wimlib sees the name" grep -qE '^Name:[[:space:]]+Ïmage Näme$' "$LAST_STDOUT"
        t "props: wimlib sees the description" grep -qE '^Description:[[:space:]]+déscription$' "$LAST_STDOUT"
        t "props: wimlib sees boot index 1" grep -qE '^Boot Index:[[:space:]]+1$' "$LAST_STDOUT"
        t "props: wimlib sees the flags" grep -qE '^Flags:[[:space:]]+Professional$' "$LAST_STDOUT"
    fi
    t "props: wimlib-imagex apply by name" expect_ok wimlib-imagex apply "$W" "Ïmage Näme" "$TMP/o-props" &&
        t "props: identical" compare_trees "$SRC" "$TMP/o-props"
    rm -rf "$TMP/o-props"
fi

# several images, if this wimpack has append
if [[ $ORACLE == 1 ]] || "$WIMPACK" append --help >/dev/null 2>&1; then
    SMALL=$TMP/small
    make_small_tree "$SMALL"
    W=$TMP/multi.wim
    if t "multi: wimpack capture + append" bash -c '"$1" capture "$2" "$4" one --compress=none >/dev/null && "$1" append "$3" "$4" two >/dev/null' \
        _ "$WIMPACK" "$SMALL" "$SRC" "$W"; then
        t "multi: wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
        t "multi: wimlib-imagex info shows 2 images" bash -c 'wimlib-imagex info "$1" | grep -qE "^Image Count:[[:space:]]+2$"' _ "$W"
        t "multi: wimlib-imagex apply two" expect_ok wimlib-imagex apply "$W" two "$TMP/o-two" &&
            t "multi: image two identical" compare_trees "$SRC" "$TMP/o-two"
        t "multi: wimlib-imagex apply 1" expect_ok wimlib-imagex apply "$W" 1 "$TMP/o-one" &&
            t "multi: image one identical" compare_trees "$SMALL" "$TMP/o-one"
        rm -rf "$TMP"/o-*
    fi
else
    skip "multi-image archives written by wimpack (no append command yet)"
fi

# standard codecs, once they exist
for spec in "XPRESS" "LZX" "LZMS" "LZX --chunk-size=64K" "LZX --chunk-size=2M" "XPRESS --chunk-size=4K" "LZMS --chunk-size=1M"; do
    name=std-${spec// /}
    name=${name//=/}
    w=$TMP/$name.wim
    # shellcheck disable=SC2086
    expect_ok_or_unsupported wp capture "$SRC" "$w" --compress=$spec >"$TMP/.why" 2>&1
    case $? in
    0)
        pass "$name: wimpack capture --compress=$spec"
        t "$name: wimlib-imagex verify" expect_ok wimlib-imagex verify "$w"
        t "$name: wimlib-imagex apply" expect_ok wimlib-imagex apply "$w" "$TMP/o-std" &&
            t "$name: tree applied by wimlib identical" compare_trees "$SRC" "$TMP/o-std"
        rm -rf "$TMP/o-std"
        ;;
    10) skip "$name: wimpack says not supported yet" ;;
    *) fail "$name: wimpack capture --compress=$spec"; sed 's/^/       /' "$TMP/.why" ;;
    esac
    rm -f "$w"
done

# private codecs: wimlib must refuse, not misread
if [[ $ORACLE == 1 ]]; then
    skip "zstd/lzma refusal (oracle mode)"
else
    for c in zstd lzma; do
        w=$TMP/$c.wim
        if t "$c: wimpack capture" expect_ok wp capture "$SRC" "$w" --compress=$c; then
            t "$c: wimlib-imagex info refuses it" expect_fail any wimlib-imagex info "$w"
            t "$c: wimlib-imagex verify refuses it" expect_fail any wimlib-imagex verify "$w"
            t "$c: wimlib-imagex apply refuses it" expect_fail any wimlib-imagex apply "$w" "$TMP/o-$c"
            t "$c: wimlib-imagex apply wrote no files" bash -c '[[ ! -e $1 ]] || [[ -z $(find "$1" -type f -print -quit) ]]' _ "$TMP/o-$c"
            rm -rf "$TMP/o-$c"
            # and wimpack can turn it into a plain archive wimlib reads
            if "$WIMPACK" optimize --help >/dev/null 2>&1; then
                t "$c: wimpack optimize --compress=none" expect_ok wp optimize "$w" --compress=none &&
                    t "$c: after optimize, wimlib-imagex verify" expect_ok wimlib-imagex verify "$w" &&
                    t "$c: after optimize, wimlib-imagex apply" expect_ok wimlib-imagex apply "$w" "$TMP/o-opt" &&
                    t "$c: after optimize, identical tree" compare_trees "$SRC" "$TMP/o-opt"
                rm -rf "$TMP/o-opt"
            fi
        fi
        rm -f "$w"
    done
fi

summary
