#!/usr/bin/env bash
# `info` line for line against wimlib-imagex's (wiminfo(1)): the archive and
# image listings (Windows fields included), one image, --header, --blobs
# (wimlib's order), --xml byte for byte, on archives made by both tools (one
# and several images, --image-property, --flags, --boot, split parts, solid,
# delta, 0 images, the committed samples); then changes (rename, description,
# --boot, --image-property, --check/--nocheck) made by wimpack and by
# wimlib-imagex on copies of one archive, compared with wimlib-imagex info and
# checked with wimlib-imagex verify.
#
# usage: bash info_wimlib.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex
[[ $ORACLE == 1 ]] && { skip "compares wimpack with wimlib-imagex (oracle mode)"; summary; exit 0; }

SRC=$TMP/src
SMALL=$TMP/small
t "build the test trees" bash -c 'mkdir -p "$1/d/e" && echo hello >"$1/a" && seq 1 3000 >"$1/d/n" &&
    ln "$1/a" "$1/d/hl" && ln -s ../a "$1/d/link" && : >"$1/empty" &&
    mkdir -p "$2" && for i in $(seq 1 70); do echo "f $i" >"$2/f$i"; done' _ "$SRC" "$SMALL" || { summary; exit 1; }

# same_info WIM [ARGS...]: wimlib-imagex info and wimpack info print the same
# (the Path: line aside, which echoes the argument).
same_info() {
    local w=$1; shift
    # (wimpack's "Delta Base:" lines name a wimpack delta's bases: its own)
    diff -u <(wimlib-imagex info "$w" "$@" 2>&1 | grep -v '^Path:') <(wp info "$w" "$@" 2>&1 | grep -v '^Path:\|^Delta Base:')
}
same_xml() { cmp <(wimlib-imagex info "$1" --xml) <(wp info "$1" --xml); }
all_views() { # all_views NAME WIM
    local n=$1 w=$2
    t "$n: info" same_info "$w"
    t "$n: info --header" same_info "$w" --header
    t "$n: info --blobs" same_info "$w" --blobs
    t "$n: info --xml is byte-identical" same_xml "$w"
    if [[ $(wimlib-imagex info "$w" --header | sed -n 's/^Image Count *= //p') -ge 1 ]]; then
        t "$n: info WIM 1" same_info "$w" 1
    fi
}

PROPS=(--image-property WINDOWS/ARCH=9 --image-property WINDOWS/PRODUCTNAME=Windows --image-property WINDOWS/EDITIONID=Pro
    --image-property WINDOWS/INSTALLATIONTYPE=Client --image-property WINDOWS/HAL=acpiapic --image-property WINDOWS/PRODUCTTYPE=WinNT
    --image-property WINDOWS/PRODUCTSUITE=Terminal --image-property WINDOWS/LANGUAGES/LANGUAGE=en-US
    --image-property "WINDOWS/LANGUAGES/LANGUAGE[2]=de-DE" --image-property WINDOWS/LANGUAGES/DEFAULT=en-US
    --image-property WINDOWS/SYSTEMROOT=WINDOWS --image-property WINDOWS/VERSION/MAJOR=10 --image-property WINDOWS/VERSION/MINOR=0
    --image-property WINDOWS/VERSION/BUILD=19041 --image-property WINDOWS/VERSION/SPBUILD=1 --image-property WINDOWS/VERSION/SPLEVEL=0
    --image-property DISPLAYNAME=Shown --image-property DISPLAYDESCRIPTION="Shown desc" --flags Professional)

# --- archives made by wimlib-imagex -------------------------------------------------
t "wimlib: capture with Windows properties, --flags, --boot" bash -c 'wimlib-imagex capture "$1" "$2" "one" "first image" "${@:3}" --boot >/dev/null' \
    _ "$SRC" "$TMP/wl.wim" "${PROPS[@]}" && all_views "wimlib, properties" "$TMP/wl.wim"
t "wimlib: append a second image" bash -c 'wimlib-imagex append "$1" "$2" two --compress=LZX >/dev/null' _ "$SMALL" "$TMP/wl.wim" &&
    all_views "wimlib, 2 images" "$TMP/wl.wim" && t "wimlib, 2 images: info WIM two" same_info "$TMP/wl.wim" two
for c in XPRESS LZMS none; do
    t "wimlib: capture --compress=$c --check" bash -c 'wimlib-imagex capture "$1" "$2" --compress=$3 --check >/dev/null' _ "$SMALL" "$TMP/wl-$c.wim" "$c" &&
        all_views "wimlib $c" "$TMP/wl-$c.wim"
done
t "wimlib: capture --solid" bash -c 'wimlib-imagex capture "$1" "$2" --solid >/dev/null' _ "$SRC" "$TMP/wl-solid.wim" &&
    all_views "wimlib solid" "$TMP/wl-solid.wim"
t "wimlib: capture --norpfix" bash -c 'wimlib-imagex capture "$1" "$2" --norpfix >/dev/null' _ "$SRC" "$TMP/wl-norp.wim" &&
    all_views "wimlib norpfix" "$TMP/wl-norp.wim"
t "wimlib: delta --delta-from" bash -c 'wimlib-imagex capture "$1" "$3" --delta-from="$2" >/dev/null' _ "$SMALL" "$TMP/wl-LZMS.wim" "$TMP/wl-delta.wim" &&
    all_views "wimlib delta" "$TMP/wl-delta.wim"
if t "wimlib: split into parts" bash -c 'wimlib-imagex split "$1" "$2" 0.002 >/dev/null' _ "$TMP/wl.wim" "$TMP/wl.swm"; then
    for p in "$TMP"/wl*.swm; do all_views "wimlib split $(basename "$p")" "$p"; done
fi
t "wimlib: delete the only image (0 images)" bash -c 'cp "$1" "$2" && wimlib-imagex delete "$2" 1' _ "$TMP/wl-none.wim" "$TMP/wl-zero.wim" &&
    all_views "0 images" "$TMP/wl-zero.wim"
for s in "$WIMPACK_SRC"/tests/data/wimlib-*.wim; do all_views "sample $(basename "$s")" "$s"; done

# --- archives made by wimpack --------------------------------------------------------
# (capture's --image-property takes no [n] yet: the second LANGUAGE is added by info)
t "wimpack: capture with Windows properties, --flags, --boot" expect_ok wp capture "$SRC" "$TMP/wp.wim" one "first image" \
    "${PROPS[@]/WINDOWS\/LANGUAGES\/LANGUAGE\[2\]=de-DE/WINDOWS/SYSTEMROOT=WINDOWS}" --boot &&
    t "wimpack: info --image-property LANGUAGE[2]" expect_ok wp info "$TMP/wp.wim" 1 --image-property "WINDOWS/LANGUAGES/LANGUAGE[2]=de-DE" &&
    all_views "wimpack, properties" "$TMP/wp.wim"
t "wimpack: append a second image with --check" expect_ok wp append "$SMALL" "$TMP/wp.wim" two --check &&
    all_views "wimpack, 2 images" "$TMP/wp.wim"
for c in xpress none; do
    t "wimpack: capture --compress=$c" expect_ok wp capture "$SMALL" "$TMP/wp-$c.wim" --compress=$c && all_views "wimpack $c" "$TMP/wp-$c.wim"
done
t "wimpack: delta --delta-from" expect_ok wp capture "$SRC" "$TMP/wp-delta.wim" --delta-from="$TMP/wp-none.wim" &&
    all_views "wimpack delta" "$TMP/wp-delta.wim"
if t "wimpack: split" expect_ok wp split "$TMP/wp.wim" "$TMP/wp.swm" 0.002; then
    for p in "$TMP"/wp*.swm; do all_views "wimpack split $(basename "$p")" "$p"; done
fi
t "--extract-xml=FILE holds the same bytes as wimlib's --xml" bash -c '"$1" info "$2" --extract-xml="$3" && cmp "$3" <(wimlib-imagex info "$2" --xml)' \
    _ "$WIMPACK" "$TMP/wp.wim" "$TMP/x.xml"

# --- changes: the same commands through both tools on copies ------------------------
# change "ARGS": runs wimlib-imagex info on A and wimpack info on B with ARGS;
# same exit status (0 or not), same messages when it succeeds, and the same
# listing afterwards (GUID, Size and Path aside); B passes wimlib-imagex verify.
A=$TMP/chg-wimlib.wim
B=$TMP/chg-wimpack.wim
cp "$TMP/wl.wim" "$A" && cp "$TMP/wl.wim" "$B"
change() {
    local oa ob ra rb
    oa=$(wimlib-imagex info "$A" "$@" 2>&1 | grep -v 'Calculating integrity\|WARNING\]\|^ERROR\|^       ')
    ra=${PIPESTATUS[0]}
    ob=$(wp info "$B" "$@" 2>&1 | grep -v '^wimpack: ')
    rb=${PIPESTATUS[0]}
    [[ $ra -eq 0 && $rb -eq 0 || $ra -ne 0 && $rb -ne 0 ]] || { echo "exit status: wimlib $ra, wimpack $rb"; return 1; }
    if [[ $ra == 0 ]]; then
        diff -u <(echo "${oa//$A/WIM}") <(echo "${ob//$B/WIM}") || return 1
    fi
    diff -u <(wimlib-imagex info "$A" | grep -v '^Path:\|^GUID:\|^Size:') <(wimlib-imagex info "$B" | grep -v '^Path:\|^GUID:\|^Size:') || return 1
    wimlib-imagex verify "$B" >/dev/null || { echo "wimlib-imagex verify fails on $B"; return 1; }
}
t "change: rename" change 1 renamed
t "change: rename and new description" change 1 renamed "new desc"
t "change: same name again (nothing to do)" change 1 renamed
t "change: a name another image has is refused" change 1 two
t "change: --boot" change 2 --boot
t "change: --boot again (nothing to do)" change 2 --boot
t "change: --boot without IMAGE in a 2-image archive is refused" change --boot
t "change: --image-property nested and indexed" change 1 --image-property WINDOWS/VERSION/BUILD=22000 \
    --image-property "WINDOWS/LANGUAGES/LANGUAGE[3]=fr-FR" --image-property NEWPROP/SUB=x
t "change: --image-property empty value removes" change 1 --image-property NEWPROP/SUB= --image-property WINDOWS/HAL=
t "change: --image-property out of order is refused" change 1 --image-property "FOO[2]=x"
t "change: --image-property NAME= duplicate is refused" change 2 --image-property NAME=renamed
t "change: --check adds an integrity table" change 1 again --check
t "change: unchanged name with --nocheck drops it" change 1 again --nocheck
t "change: --include-integrity alone with nothing to change writes it" change 1 again --include-integrity
t "change: empty NEW_NAME" change 2 ""
t "after the changes: --xml still byte-identical" same_xml "$B"
before=$(sha1sum <"$B")
t "a refused change leaves the archive byte-identical" bash -c '! "$1" info "$2" 1 x --image-property "$3" >/dev/null 2>&1 && [[ $(sha1sum <"$2") == "$4" ]]' \
    _ "$WIMPACK" "$B" "FOO[3]=x" "$before"
t "split parts cannot be changed" expect_fail 5 wp info "$TMP/wp.swm" 1 newname

summary
