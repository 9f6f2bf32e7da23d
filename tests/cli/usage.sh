#!/usr/bin/env bash
# Command-line surface: --help on every command, --version, usage errors (exit
# code 2 with a message naming the culprit, no archive written), --chunk-size
# and --compress validation, standard codec names (work or "not supported yet").
#
# usage: bash usage.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

S=$TMP/small
make_small_tree "$S"
X=$TMP/x.wim

# --- help and version -------------------------------------------------------------
if t "--help" expect_ok wp --help; then
    for c in capture apply info; do
        t "--help lists '$c'" grep -q "$c" "$LAST_STDOUT"
    done
fi
help_mentions() { # help_mentions COMMAND OPTION...
    local c=$1 o
    shift
    expect_ok wp "$c" --help || return 1
    [[ -s $LAST_STDOUT ]] || { echo "$c --help printed nothing on stdout"; return 1; }
    for o in "$@"; do
        grep -q -- "$o" "$LAST_STDOUT" || { echo "$c --help does not mention $o"; return 1; }
    done
}
if [[ $ORACLE == 1 ]]; then
    t "capture --help (mentions SOURCE, WIMFILE, --compress, --unix-data, --check, --boot)" \
        help_mentions capture SOURCE WIMFILE --compress --unix-data --check --boot
else
    t "capture --help (mentions SOURCE, WIMFILE, --compress, --chunk-size, --unix-data, --check, --boot)" \
        help_mentions capture SOURCE WIMFILE --compress --chunk-size --unix-data --check --boot
fi
t "apply --help (mentions WIMFILE, TARGET, --unix-data, --check, --ref)" \
    help_mentions apply WIMFILE TARGET --unix-data --check --ref
if [[ $ORACLE == 1 ]]; then
    t "info --help (mentions WIMFILE, --header, --blobs, --xml)" help_mentions info WIMFILE --header --blobs --xml
else
    t "info --help (mentions WIMFILE, --header, --blobs, --xml, --json)" help_mentions info WIMFILE --header --blobs --xml --json
    # other commands the binary lists get the same basic check
    for c in append optimize extract dir export delete verify update split join; do
        if "$WIMPACK" --help 2>/dev/null | grep -qE "^[[:space:]]+$c([[:space:]]|$)"; then
            t "$c --help" help_mentions "$c" WIMFILE
        fi
    done
fi
if t "--version" expect_ok wp --version; then
    if [[ $ORACLE == 1 ]]; then
        t "--version names the program and a version" grep -qE 'wimlib-imagex [0-9]+\.[0-9]+\.[0-9]+' "$LAST_STDOUT"
    else
        t "--version prints 'wimpack X.Y.Z'" grep -qE '^wimpack [0-9]+\.[0-9]+\.[0-9]+' "$LAST_STDOUT"
        want=$(sed -n 's/^project(wimpack VERSION \([0-9.]*\).*/\1/p' "$WIMPACK_SRC/CMakeLists.txt" 2>/dev/null)
        [[ -n $want ]] && t "--version matches the CMake project version ($want)" grep -qF "$want" "$LAST_STDOUT"
    fi
fi

# --- usage errors: code 2, message, nothing written ---------------------------------------
t "no arguments: code 2" expect_fail 2 wp
t "unknown command: code 2, names it" expect_fail 2 --mentions frobnicate wp frobnicate
if [[ $ORACLE == 0 ]]; then
    # WIMFILE '-': an empty stdin is an empty archive (bad archive, 3).
    for c in "info -" "dir - 1 --detailed" "extract - 1 x" "dir - 1" "verify -"; do
        # shellcheck disable=SC2086
        t "'$c' with an empty stdin: code 3, says it is empty" expect_fail 3 --mentions "standard input is empty" wp $c
    done
    t "mountrw without DIRECTORY: code 2" expect_fail 2 wp mountrw x.wim
    t "mount without DIRECTORY: code 2" expect_fail 2 wp mount x.wim
    t "unmount of a missing directory: code 4" expect_fail 4 --mentions x.wim wp unmount x.wim
    # extract, dir and verify exist: a missing archive is "not found", no arguments a usage error
    for c in extract dir verify; do
        t "$c from a missing archive: code 4, names it" expect_fail 4 --mentions x.wim wp "$c" x.wim
        t "$c without WIMFILE: code 2" expect_fail 2 wp "$c"
    done
    # export and delete exist: missing arguments are usage errors, a missing archive is "not found"
    t "export without SRC_IMAGE: code 2, names it" expect_fail 2 --mentions SRC_IMAGE wp export x.wim
    t "export from a missing archive: code 4, names it" expect_fail 4 --mentions x.wim wp export x.wim 1 "$TMP/y.wim"
    t "delete without IMAGE: code 2, names it" expect_fail 2 --mentions IMAGE wp delete x.wim
    t "delete from a missing archive: code 4, names it" expect_fail 4 --mentions x.wim wp delete x.wim 1
    t "update of a missing archive: code 4, names it" expect_fail 4 --mentions x.wim wp update x.wim --command="delete /a"
    # split and join exist: missing arguments are usage errors, a missing archive is "not found"
    t "split without PART_SIZE: code 2, names it" expect_fail 2 --mentions PART_SIZE wp split x.wim "$TMP/x.swm"
    t "split with a bad PART_SIZE: code 2, names it" expect_fail 2 --mentions PART_SIZE wp split x.wim "$TMP/x.swm" 1x
    t "split of a missing archive: code 4, names it" expect_fail 4 --mentions x.wim wp split x.wim "$TMP/x.swm" 1
    t "join without parts: code 2, names them" expect_fail 2 --mentions SPLIT_WIMFILE_PART wp join "$TMP/j.wim"
    t "join of a missing part: code 4, names it" expect_fail 4 --mentions x.swm wp join "$TMP/j.wim" x.swm
    t "--version names the version and the commit" expect_ok wp --version
    t "... commit" grep -qE "wimpack [0-9.]+ \(commit [0-9a-f]+|unknown\)" "$LAST_STDOUT"
    # wimCMD names: a link named wimcapture runs capture, and so on.
    mkdir -p "$TMP/names/src"
    echo x >"$TMP/names/src/f"
    for n in wimcapture wimappend wimapply wiminfo wimoptimize wimexport wimdelete; do ln -sf "$WIMPACK" "$TMP/names/$n"; done
    t "wimcapture SOURCE WIMFILE" expect_ok "$TMP/names/wimcapture" "$TMP/names/src" "$TMP/names/n.wim" --quiet
    t "wimappend SOURCE WIMFILE (default name taken: 'src (1)')" expect_ok "$TMP/names/wimappend" "$TMP/names/src" "$TMP/names/n.wim" --quiet
    t "wimappend again ('src (2)')" expect_ok "$TMP/names/wimappend" "$TMP/names/src" "$TMP/names/n.wim" --quiet
    t "wiminfo lists the default names" expect_ok "$TMP/names/wiminfo" "$TMP/names/n.wim"
    t "... src, src (1), src (2)" bash -c "grep -E '^Name:' '$LAST_STDOUT' | sed 's/^Name: *//' | tr '\n' '|' | grep -qx 'src|src (1)|src (2)|'"
    t "an explicit name in use is still refused" expect_fail 2 --mentions "already has an image named" wp append "$TMP/names/src" "$TMP/names/n.wim" src --quiet
    t "wimapply WIMFILE IMAGE TARGET" expect_ok "$TMP/names/wimapply" "$TMP/names/n.wim" 2 "$TMP/names/out" --quiet
    t "... applied" test -f "$TMP/names/out/f"
    t "wimoptimize WIMFILE" expect_ok "$TMP/names/wimoptimize" "$TMP/names/n.wim" --quiet
    t "wimexport SRC IMAGE DEST" expect_ok "$TMP/names/wimexport" "$TMP/names/n.wim" 3 "$TMP/names/e.wim" --quiet
    t "... exported 'src (2)'" bash -c "'$WIMPACK' info '$TMP/names/e.wim' --json | grep -qF '\"name\":\"src (2)\"'"
    t "wimdelete WIMFILE IMAGE" expect_ok "$TMP/names/wimdelete" "$TMP/names/n.wim" 1 --quiet
    t "... two images left" bash -c "'$WIMPACK' info '$TMP/names/n.wim' --json | grep -qF '\"image_count\":2'"
fi
t "capture --bogus-option: code 2, names it" expect_fail 2 --mentions --bogus-option wp capture "$S" "$X" --bogus-option
t "apply --bogus-option: code 2, names it" expect_fail 2 --mentions --bogus-option wp apply "$X" "$TMP/out" --bogus-option
t "info --bogus-option: code 2, names it" expect_fail 2 --mentions --bogus-option wp info "$X" --bogus-option
t "capture with only SOURCE: code 2" expect_fail 2 wp capture "$S"
t "capture with no arguments: code 2" expect_fail 2 wp capture
t "capture with too many arguments: code 2" expect_fail 2 wp capture "$S" "$X" name desc extra
t "apply with only WIMFILE: code 2" expect_fail 2 wp apply "$X"
t "apply with too many arguments: code 2" expect_fail 2 wp apply "$X" 1 "$TMP/out" extra
t "info with no arguments: code 2" expect_fail 2 wp info
t "no archive written by the usage errors" test ! -e "$X"

# --- --chunk-size ------------------------------------------------------------------
bad_chunk() { # bad_chunk CODEC VALUE
    local rc=0
    expect_fail 2 wp capture "$S" "$X" "--compress=$1" "--chunk-size=$2" || rc=1
    if [[ -e $X ]]; then echo "an archive was written"; rc=1; fi
    rm -f "$X"
    return $rc
}
codecs=(LZX XPRESS LZMS)
[[ $ORACLE != 1 ]] && codecs=(zstd lzma "${codecs[@]}")
for c in "${codecs[@]}"; do
    t "$c --chunk-size=3000 (not a power of two): code 2" bad_chunk "$c" 3000
    t "$c --chunk-size=32769 (not a power of two): code 2" bad_chunk "$c" 32769
    t "$c --chunk-size=16 (too small): code 2" bad_chunk "$c" 16
    t "$c --chunk-size=4G (too large): code 2" bad_chunk "$c" 4G
    t "$c --chunk-size=32Kx (garbage suffix): code 2" bad_chunk "$c" 32Kx
    t "$c --chunk-size=abc: code 2" bad_chunk "$c" abc
    t "$c --chunk-size=0: code 2" bad_chunk "$c" 0
    t "$c --chunk-size=-32768: code 2" bad_chunk "$c" -32768
done
t "LZX --chunk-size=16K (below LZX's 32K minimum): code 2" bad_chunk LZX 16K
t "LZX --chunk-size=4M (above LZX's 2M maximum): code 2" bad_chunk LZX 4M
t "XPRESS --chunk-size=128K (above XPRESS's 64K maximum): code 2" bad_chunk XPRESS 128K
t "--chunk-size= (empty): code 2" bad_chunk zstd ""

good_chunk() { # good_chunk CODEC VALUE: works, or "not supported yet"
    local rc
    expect_ok_or_unsupported wp capture "$S" "$X" "--compress=$1" "--chunk-size=$2"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        expect_ok wp apply "$X" "$TMP/gc" && compare_trees "$S" "$TMP/gc" --quiet || rc=1
    fi
    rm -rf "$X" "$TMP/gc"
    [[ $rc -ne 1 ]]
}
if [[ $ORACLE != 1 ]]; then
    for v in 32K 32768 64KiB 1M 1MiB 2097152; do
        t "zstd --chunk-size=$v is accepted" good_chunk zstd "$v"
    done
    t "lzma --chunk-size=128K is accepted" good_chunk lzma 128K
fi
t "LZX --chunk-size=64K is accepted (or not supported yet)" good_chunk LZX 64K
t "XPRESS --chunk-size=4K is accepted (or not supported yet)" good_chunk XPRESS 4K

# --- --compress ----------------------------------------------------------------------
bad_compress() {
    local rc=0
    expect_fail 2 wp capture "$S" "$X" "--compress=$1" || rc=1
    if [[ -e $X ]]; then echo "an archive was written"; rc=1; fi
    rm -f "$X"
    return $rc
}
for v in bogus "" gzip lz4 "zstd:abc" "zstd:" "lzx:" ":5"; do
    t "--compress=$v: code 2" bad_compress "$v"
done
if [[ $ORACLE != 1 ]]; then
    for v in zstd:0 zstd:23 zstd:99 zstd:-1 lzma:0 lzma:10; do
        t "--compress=$v (level out of range): code 2" bad_compress "$v"
    done
    t "--threads=abc: code 2" expect_fail 2 wp capture "$S" "$X" --compress=none --threads=abc
    t "--threads=-1: code 2" expect_fail 2 wp capture "$S" "$X" --compress=none --threads=-1
    t "no archive written" test ! -e "$X"
fi

# Standard codec names, any case: a working archive (wimlib-imagex agrees) or a
# clean "not supported yet" (exit 5).
std_name() {
    local rc
    expect_ok_or_unsupported wp capture "$S" "$X" "--compress=$1"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        expect_ok wp apply "$X" "$TMP/sn" && compare_trees "$S" "$TMP/sn" --quiet || rc=1
        if [[ $rc -eq 0 ]] && have wimlib-imagex && [[ $ORACLE != 1 && ${1,,} != zstd* && ${1,,} != lzma* ]]; then
            expect_ok wimlib-imagex verify "$X" || rc=1
        fi
        echo "works"
    elif [[ $rc -eq 10 ]]; then
        echo "not supported yet"
        [[ -e $X ]] && { echo "an archive was left after the refusal"; rc=1; }
    fi
    rm -rf "$X" "$TMP/sn"
    [[ $rc -ne 1 ]]
}
must_work() {
    local out
    out=$(std_name "$1") && [[ $out == *works* ]] || { echo "$out"; return 1; }
}
for v in XPRESS xpress LZX lzx Lzx LZMS lzms fast maximum recovery none NONE "LZX:20" "XPRESS:80" "LZMS:50"; do
    t "--compress=$v works or says 'not supported yet'" std_name "$v"
done
if [[ $ORACLE != 1 ]]; then
    for v in zstd ZSTD zstd:1 zstd:22 lzma LZMA lzma:1 lzma:9; do
        t "--compress=$v works" must_work "$v"
    done
fi

# --debug-timings (any command): one line per phase, only when asked.
if [[ $ORACLE != 1 ]]; then
    phases_in() {  # phases_in STDERR PHASE...: each phase has its "timing:" line
        local f=$1 p; shift
        for p in "$@"; do grep -Eq "^wimpack: timing: $p: [0-9.]+ s wall, [0-9.]+ s CPU" "$f" || { echo "no line for $p"; cat "$f"; return 1; }; done
    }
    t "capture --debug-timings" expect_ok wp capture "$S" "$TMP/timed.wim" --debug-timings
    t "... a line for scan, prehash, blobs, metadata and tables" phases_in "$LAST_STDERR" capture/scan write/prehash write/blobs write/metadata write/tables
    t "apply --debug-timings" expect_ok wp apply "$TMP/timed.wim" 1 "$TMP/timed-out" --debug-timings
    t "... a line for load-metadata, create, write and metadata" phases_in "$LAST_STDERR" apply/load-metadata apply/create apply/write apply/metadata
    t "without it, no timing lines" expect_ok wp apply "$TMP/timed.wim" 1 "$TMP/timed-out2"
    t "... none" bash -c '! grep -q "timing:" "$1"' _ "$LAST_STDERR"
fi

summary
