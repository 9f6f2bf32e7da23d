#!/usr/bin/env bash
# wimpack dir prints exactly what wimlib-imagex dir prints, plain and
# --detailed, for archives made by either tool (nested directories, unicode
# and odd names, symlinks, hard links, empty files, UNIX data, LZX / XPRESS /
# solid / uncompressed, two images, split parts), with --path and
# --one-file-only; and the wimdir name works.
#
# usage: bash dir_matches_wimlib.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex
[[ $ORACLE == 1 ]] && { skip "compares wimpack with wimlib-imagex"; summary; exit; }

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" --unix || { summary; exit 1; }
# case-only differences and names whose UTF-16 order differs from UTF-8's
printf 'A\n' >"$SRC/names/Alpha"; printf 'a\n' >"$SRC/names/alpha"; printf 'z\n' >"$SRC/names/_under"
printf 'p\n' >"$SRC/names/ｐrivate-use-ｆ"; printf 'e\n' >"$SRC/names/Émile"; printf 'e\n' >"$SRC/names/émile"

# same_dir DESC WIM [ARGS...]: both tools' output identical
same_dir_wl_ref() {  # WIM BASE: wimlib-imagex dir --ref=BASE, wimpack dir without --ref
    cmp <(wimlib-imagex dir "$1" 1 --detailed --ref="$2") <("$WIMPACK" dir "$1" 1 --detailed)
}
same_dir() {
    local w=$1
    shift
    wimlib-imagex dir "$w" "$@" >"$TMP/wl.out" 2>"$TMP/wl.err"
    local wrc=$?
    "$WIMPACK" dir "$w" "$@" >"$TMP/wp.out" 2>"$TMP/wp.err"
    local prc=$?
    if [[ $wrc -ne 0 || $prc -ne 0 ]]; then
        echo "exit codes: wimlib-imagex $wrc, wimpack $prc"; cat "$TMP/wp.err"; return 1
    fi
    cmp -s "$TMP/wl.out" "$TMP/wp.out" || { diff "$TMP/wl.out" "$TMP/wp.out" | head -20; return 1; }
    echo "$(wc -l <"$TMP/wp.out") lines identical"
}

check_archive() {
    local name=$1 w=$2
    t "$name: dir" same_dir "$w" 1
    t "$name: dir --detailed" same_dir "$w" 1 --detailed
    t "$name: dir --path=/links" same_dir "$w" 1 --path=/links
    t "$name: dir --path with backslashes, no leading separator" same_dir "$w" 1 '--path=names\répertoire-目录'
    t "$name: dir --path=FILE --detailed" same_dir "$w" 1 --path=/links/h3_a --detailed
    t "$name: dir --path=DIR --one-file-only" same_dir "$w" 1 --path=/sizes --one-file-only
}

W=$TMP/wl.wim
t "wimlib-imagex capture --unix-data" expect_ok wimlib-imagex capture "$SRC" "$W" --unix-data
check_archive "wimlib LZX" "$W"
t "wimlib-imagex capture --solid" expect_ok wimlib-imagex capture "$SRC" "$TMP/wls.wim" --solid
t "wimlib solid: dir --detailed" same_dir "$TMP/wls.wim" 1 --detailed
t "wimlib-imagex capture XPRESS" expect_ok wimlib-imagex capture "$SRC/names" "$TMP/wlx.wim" --compress=fast
t "wimlib XPRESS: dir --detailed" same_dir "$TMP/wlx.wim" 1 --detailed

P=$TMP/wp.wim
t "wimpack capture --unix-data" expect_ok wp capture "$SRC" "$P" --unix-data --quiet
check_archive "wimpack LZX" "$P"
t "wimpack capture --solid" expect_ok wp capture "$SRC" "$TMP/wps.wim" --solid --solid-compress=XPRESS --quiet
t "wimpack solid XPRESS: dir --detailed" same_dir "$TMP/wps.wim" 1 --detailed
t "wimpack capture uncompressed" expect_ok wp capture "$SRC/links" "$TMP/wpn.wim" --compress=none --quiet
t "wimpack none: dir --detailed" same_dir "$TMP/wpn.wim" 1 --detailed
t "wimpack append a second image" expect_ok wp append "$SRC/names" "$P" second --quiet
t "second image by name" same_dir "$P" second --detailed
t "second image by index" same_dir "$P" 2

# a delta: blobs in the base only (without --ref: the hash alone)
t "wimpack capture --delta-from" expect_ok wp capture "$SRC/links" "$TMP/delta.wim" --delta-from="$TMP/wpn.wim" --quiet
# (wimpack finds the base by itself: as wimlib-imagex given --ref)
t "delta, base found by itself: dir --detailed" same_dir_wl_ref "$TMP/delta.wim" "$TMP/wpn.wim"
t "delta with --ref: dir --detailed" same_dir "$TMP/delta.wim" 1 --detailed "--ref=$TMP/wpn.wim"

# split parts
t "wimlib-imagex split" expect_ok wimlib-imagex split "$W" "$TMP/part.swm" 1
t "split: dir --detailed --ref" same_dir "$TMP/part.swm" 1 --detailed "--ref=$TMP/part*.swm"

# An image captured from an NTFS volume (wimlib's NTFS-3G mode): security
# descriptors, Windows attributes.
if have mkntfs && truncate -s 32M "$TMP/ntfs.img" && mkntfs -F -f -q "$TMP/ntfs.img" >/dev/null 2>&1 &&
    wimlib-imagex apply "$TMP/wpn.wim" "$TMP/ntfs.img" >/dev/null 2>&1 &&
    wimlib-imagex capture "$TMP/ntfs.img" "$TMP/ntfs.wim" >/dev/null 2>&1; then
    t "NTFS capture: dir --detailed (security descriptors)" same_dir "$TMP/ntfs.wim" 1 --detailed
    t "... it has security descriptors" grep -q "Security Descriptor" "$TMP/wp.out"
else
    skip "no mkntfs or no NTFS-3G support in wimlib-imagex"
fi
rm -f "$TMP/ntfs.img"

# errors and the wimdir name
t "missing --path: exit 4" expect_fail 4 --mentions /nope -- wp dir "$W" 1 --path=/nope
t "two images, no IMAGE: usage error" expect_fail 2 -- wp dir "$P"
ln -s "$WIMPACK" "$TMP/wimdir"
t "wimdir WIMFILE" expect_ok "$TMP/wimdir" "$W"
t "... same listing" bash -c "wimlib-imagex dir '$W' | cmp -s - '$LAST_STDOUT'"
summary
