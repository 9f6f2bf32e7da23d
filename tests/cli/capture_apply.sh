#!/usr/bin/env bash
# Round trips: capture a tree, apply it back, compare. Codecs none/zstd/lzma
# at several levels and chunk sizes, --unix-data, --check, image selection by
# index / name / "all", default image name, IMAGE_NAME/IMAGE_DESC, --boot,
# --image-property, --flags, --threads, options anywhere on the line.
#
# usage: bash capture_apply.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

SRC=$TMP/src
USRC=$TMP/usrc
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
t "build the test tree with UNIX extras" make_test_tree "$USRC" --unix || { summary; exit 1; }

# roundtrip NAME SRC "COMPARE_FLAGS" "APPLY_FLAGS" CAPTURE_ARGS...
roundtrip() {
    local name=$1 src=$2 cmpflags=$3 applyflags=$4
    shift 4
    local wim=$TMP/$name.wim out=$TMP/out-$name
    # shellcheck disable=SC2086
    t "$name: capture $*" expect_ok wp capture "$src" "$wim" "$@" || return 1
    # shellcheck disable=SC2086
    t "$name: apply $applyflags" expect_ok wp apply "$wim" "$out" $applyflags || return 1
    # shellcheck disable=SC2086
    t "$name: applied tree identical to source" compare_trees "$src" "$out" $cmpflags
    local rc=$?
    rm -rf "$out"
    [[ $rc -eq 0 ]] && rm -f "$wim"
    return $rc
}

# --- private codecs and none ----------------------------------------------
roundtrip none "$SRC" "" "" --compress=none
if [[ $ORACLE == 1 ]]; then
    skip "zstd/lzma round trips (wimpack extension codecs; oracle mode)"
else
    roundtrip zstd-default "$SRC" "" "" --compress=zstd
    roundtrip zstd-1 "$SRC" "" "" --compress=zstd:1
    roundtrip zstd-19 "$SRC" "" "" --compress=zstd:19
    roundtrip zstd-chunk64K "$SRC" "" "" --compress=zstd --chunk-size=64K
    roundtrip zstd-chunk1M "$SRC" "" "" --compress=zstd:3 --chunk-size=1048576
    roundtrip lzma-default "$SRC" "" "" --compress=lzma
    roundtrip lzma-1 "$SRC" "" "" --compress=lzma:1
    roundtrip lzma-9 "$SRC" "" "" --compress=lzma:9
    roundtrip lzma-chunk256K "$SRC" "" "" --compress=lzma --chunk-size=256K
    roundtrip zstd-threads1 "$SRC" "" "" --compress=zstd --threads=1
fi
roundtrip none-threads2 "$SRC" "" "" --compress=none --threads=2

# --- standard codecs: a working archive, or a clean "not supported yet" ----
std_codec() {
    local name=$1
    shift
    local wim=$TMP/$name.wim out=$TMP/out-$name
    expect_ok_or_unsupported wp capture "$SRC" "$wim" "$@" >"$TMP/.why" 2>&1
    case $? in
    0)
        t "$name: apply" expect_ok wp apply "$wim" "$out" &&
            t "$name: applied tree identical" compare_trees "$SRC" "$out"
        if have wimlib-imagex && [[ $ORACLE != 1 ]]; then
            t "$name: wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$wim"
        fi
        ;;
    10)
        pass "$name: capture $* refused cleanly: $(head -n1 "$LAST_STDERR")"
        t "$name: no archive left after the refusal" test ! -e "$wim"
        ;;
    *)
        fail "$name: capture $*"
        sed 's/^/       /' "$TMP/.why"
        ;;
    esac
    rm -rf "$out" "$wim"
}
std_codec xpress --compress=XPRESS
std_codec lzx --compress=LZX
std_codec lzms --compress=LZMS
std_codec lzx-lower --compress=lzx:50
std_codec fast --compress=fast
std_codec maximum --compress=maximum
std_codec recovery --compress=recovery
std_codec lzx-chunk64K --compress=LZX --chunk-size=64K

# --- UNIX data ------------------------------------------------------------
roundtrip unix-none "$USRC" --unix-data --unix-data --compress=none --unix-data
if [[ $ORACLE != 1 ]]; then
    roundtrip unix-zstd "$USRC" --unix-data --unix-data --compress=zstd --unix-data
fi
# Without --unix-data on apply, contents/links/times still come back (no owners/modes;
# wimlib makes special files empty regular files there, so they are not compared).
roundtrip unix-capture-plain-apply "$USRC" "--exclude=special" "" --compress=none --unix-data

# --- empty tree, single big file, options anywhere --------------------------
mkdir -p "$TMP/emptysrc"
roundtrip empty-source "$TMP/emptysrc" "" "" --compress=none
mkdir -p "$TMP/onefile" && cp "$SRC/sizes/big_mixed.bin" "$TMP/onefile/" && touch -d @1500000000.5 "$TMP/onefile/big_mixed.bin"
roundtrip one-big-file "$TMP/onefile" "" "" --compress=none

W=$TMP/anywhere.wim
t "options before positionals: capture --compress=none --check SRC WIM" \
    expect_ok wp capture --compress=none --check "$SRC" "$W"
t "options between positionals: apply WIM --check TARGET" \
    expect_ok wp apply "$W" --check "$TMP/out-anywhere" &&
    t "options anywhere: tree identical" compare_trees "$SRC" "$TMP/out-anywhere"
rm -rf "$TMP/out-anywhere" "$W"

# --- --check ------------------------------------------------------------------
W=$TMP/check.wim
if t "capture --check" expect_ok wp capture "$SRC" "$W" --compress=none --check; then
    t "--check: the header points at an integrity table" \
        test "$(hdr "$W" integrity_offset)" -gt 0 -a "$(hdr "$W" integrity_size)" -gt 0
    t "apply --check" expect_ok wp apply "$W" "$TMP/out-check" --check &&
        t "apply --check: tree identical" compare_trees "$SRC" "$TMP/out-check"
    rm -rf "$TMP/out-check"
fi
W=$TMP/nocheck.wim
if t "capture without --check" expect_ok wp capture "$SRC" "$W" --compress=none; then
    t "without --check: no integrity table" test "$(hdr "$W" integrity_size)" -eq 0
fi

# --- names, descriptions, properties -------------------------------------------
W=$TMP/named.wim
if t "capture with IMAGE_NAME and IMAGE_DESC" \
    expect_ok wp capture "$SRC" "$W" "My Ïmage ☃" "A description & <more>" --compress=none; then
    t "XML NAME is IMAGE_NAME" check_eq NAME "$(xml_get "$W" "IMAGE[@INDEX='1']/NAME")" "My Ïmage ☃"
    t "XML DESCRIPTION is IMAGE_DESC" check_eq DESCRIPTION "$(xml_get "$W" "IMAGE[@INDEX='1']/DESCRIPTION")" "A description & <more>"
    t "info shows IMAGE_NAME and IMAGE_DESC" expect_ok wp info "$W" &&
        t "  Name: and Description: lines" bash -c 'grep -qx "Name:[[:space:]]*My Ïmage ☃" "$1" && grep -qx "Description:[[:space:]]*A description & <more>" "$1"' _ "$LAST_STDOUT"
    t "apply by index 1" expect_ok wp apply "$W" 1 "$TMP/o-idx" && t "by index: identical" compare_trees "$SRC" "$TMP/o-idx"
    t "apply by name" expect_ok wp apply "$W" "My Ïmage ☃" "$TMP/o-name" && t "by name: identical" compare_trees "$SRC" "$TMP/o-name"
    t "apply all" expect_ok wp apply "$W" all "$TMP/o-all" &&
        t "apply all: image in TARGET/IMAGE_NAME" compare_trees "$SRC" "$TMP/o-all/My Ïmage ☃"
    rm -rf "$TMP"/o-*
fi
W=$TMP/default-name.wim
if t "capture without IMAGE_NAME (source given with a trailing slash)" expect_ok wp capture "$SRC/" "$W" --compress=none; then
    t "default image name is the basename of SOURCE" check_eq NAME "$(xml_get "$W" "IMAGE[@INDEX='1']/NAME")" "src"
    t "info shows the default name" expect_ok wp info "$W" &&
        t "  Name: src" grep -qx "Name:[[:space:]]*src" "$LAST_STDOUT"
    t "apply by the default name" expect_ok wp apply "$W" src "$TMP/o-dn" && t "  identical" compare_trees "$SRC" "$TMP/o-dn"
    rm -rf "$TMP/o-dn"
    t "default capture has no DESCRIPTION" not xml_get "$W" "IMAGE[@INDEX='1']/DESCRIPTION"
fi
W=$TMP/props.wim
if t "capture --boot --image-property DISPLAYNAME=... --flags=Professional" \
    expect_ok wp capture "$SRC" "$W" --compress=none --boot --image-property "DISPLAYNAME=Disp Name" --flags=Professional; then
    t "--boot sets boot index 1" check_eq boot_index "$(hdr "$W" boot_index)" 1
    t "--boot copies the metadata reshdr" test "$(hdr "$W" boot_metadata_size)" -gt 0
    t "--image-property DISPLAYNAME in the XML" check_eq DISPLAYNAME "$(xml_get "$W" "IMAGE[@INDEX='1']/DISPLAYNAME")" "Disp Name"
    t "--flags in the XML" check_eq FLAGS "$(xml_get "$W" "IMAGE[@INDEX='1']/FLAGS")" "Professional"
fi
if [[ $ORACLE != 1 ]]; then
    W=$TMP/quiet.wim
    t "capture --quiet" expect_ok wp capture "$SRC" "$W" --compress=zstd --quiet &&
        t "capture --quiet prints nothing on stdout" test ! -s "$LAST_STDOUT"
    t "apply --quiet" expect_ok wp apply "$W" "$TMP/o-quiet" --quiet &&
        t "apply --quiet prints nothing on stdout" test ! -s "$LAST_STDOUT"
    rm -rf "$TMP/o-quiet" "$W"
fi

# --- multi-image archives (made by wimlib-imagex append) ----------------------
if have wimlib-imagex; then
    SMALL=$TMP/small
    make_small_tree "$SMALL"
    W=$TMP/multi.wim
    if t "oracle: wimlib-imagex capture + append (3 images)" bash -c '
        wimlib-imagex capture "$1" "$4" first "first image" --compress=none >/dev/null &&
        wimlib-imagex append "$2" "$4" "second img" --compress=none >/dev/null &&
        wimlib-imagex append "$3" "$4" third >/dev/null' _ "$SMALL" "$SRC" "$TMP/emptysrc" "$W"; then
        t "multi: apply index 2" expect_ok wp apply "$W" 2 "$TMP/m2" && t "multi: index 2 identical" compare_trees "$SRC" "$TMP/m2"
        t "multi: apply name 'first'" expect_ok wp apply "$W" first "$TMP/m1" && t "multi: 'first' identical" compare_trees "$SMALL" "$TMP/m1"
        t "multi: apply name 'third' (empty image)" expect_ok wp apply "$W" third "$TMP/m3" && t "multi: 'third' identical" compare_trees "$TMP/emptysrc" "$TMP/m3"
        if t "multi: apply all" expect_ok wp apply "$W" all "$TMP/mall"; then
            t "multi: all → first" compare_trees "$SMALL" "$TMP/mall/first"
            t "multi: all → second img" compare_trees "$SRC" "$TMP/mall/second img"
            t "multi: all → third" compare_trees "$TMP/emptysrc" "$TMP/mall/third"
        fi
        t "multi: without IMAGE, a multi-image archive is refused (code 2)" expect_fail "2|4" wp apply "$W" "$TMP/mnone"
        rm -rf "$TMP"/m[0-9a-z]*
    fi
else
    skip "multi-image archives (wimlib-imagex not installed)"
fi

summary
