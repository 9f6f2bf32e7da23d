#!/usr/bin/env bash
# extract, dir and verify read a pipable WIM from standard input ('-'),
# sequentially (wim-format.md §12.4): pipes from wimpack's `capture DIR -`
# and from wimlib-imagex's pipable output (written to a file and straight
# into the pipe), one and several images. dir's output and extract's files
# (to a directory, to stdout in any order, from a listfile) equal
# wimlib-imagex's on the same archive read from the file. A truncated pipe, a
# corrupt blob and garbage fail with a message and a non-zero exit. info -
# and dir - --detailed (which wimlib-imagex refuses) need the blob table at
# the end: they print what they print for the file.
#
# usage: bash pipe_reading.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex
# wimlib-imagex cannot read '-' for these commands: nothing to compare.
[[ $ORACLE == 1 ]] && { skip "wimlib-imagex reads no WIM from a pipe for extract/dir/verify"; summary; exit; }

SRC=$TMP/src
SMALL=$TMP/small
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
make_small_tree "$SMALL"
rand_bytes 7 300000 >"$SRC/big.bin"

# "${P[@]}" FILE ARGS...: cat FILE | wimpack ARGS... (stdin is the pipe)
P=(bash -c 'f=$1; shift; cat "$f" | "$WIMPACK" "$@"' _)

OURS=$TMP/ours.pwim
WL=$TMP/wl.pwim
t "wimpack capture DIR - (LZX)" expect_ok bash -c '"$1" capture "$2" - --compress=lzx >"$3"' _ "$WIMPACK" "$SRC" "$OURS"
t "wimlib-imagex capture --pipable (XPRESS), append a second image" bash -c '
    wimlib-imagex capture "$1" "$3" first --pipable --compress=xpress >/dev/null 2>&1 &&
    wimlib-imagex append "$2" "$3" second >/dev/null 2>&1' _ "$SRC" "$SMALL" "$WL"

for W in "$OURS" "$WL"; do
    n=$(basename "$W")
    # dir
    t "$n: dir - 1" expect_ok "${P[@]}" "$W" dir - 1 &&
        t "$n: dir - 1 = wimlib-imagex dir FILE 1" bash -c 'wimlib-imagex dir "$1" 1 | cmp -s - "$2"' _ "$W" "$LAST_STDOUT"
    t "$n: dir - 1 --path=/links" expect_ok "${P[@]}" "$W" dir - 1 --path=/links &&
        t "$n: --path listing = wimlib's" bash -c 'wimlib-imagex dir "$1" 1 --path=/links | cmp -s - "$2"' _ "$W" "$LAST_STDOUT"
    t "$n: dir - 1 --detailed" expect_ok "${P[@]}" "$W" dir - 1 --detailed &&
        t "$n: ... = dir FILE 1 --detailed" bash -c '"$WIMPACK" dir "$1" 1 --detailed | cmp -s - "$2"' _ "$W" "$LAST_STDOUT"
    # verify
    t "$n: verify -" expect_ok "${P[@]}" "$W" verify -
    t "$n: verify - --json: ok, every referenced blob checked" expect_ok "${P[@]}" "$W" verify - --json &&
        t "$n: ... json" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["problems"] == [] and d["blobs_referenced"] > 0, d
assert d["blobs_checked"] >= d["blobs_referenced"], d' "$LAST_STDOUT"
    # extract to a directory
    rm -rf "$TMP/x" "$TMP/y"
    t "$n: extract - 1 PATHS --dest-dir" expect_ok "${P[@]}" "$W" extract - 1 /big.bin /links /hello.txt --dest-dir="$TMP/x" &&
        t "$n: wimlib-imagex extract FILE, same paths" expect_ok wimlib-imagex extract "$W" 1 /big.bin /links /hello.txt --dest-dir="$TMP/y" &&
        t "$n: extracted trees identical" compare_trees "$TMP/y" "$TMP/x"
    # a listfile, with wildcards
    printf '/sizes/size_4*\n/big.bin\n' >"$TMP/list"
    rm -rf "$TMP/x" "$TMP/y"
    t "$n: extract - 1 @LISTFILE" expect_ok "${P[@]}" "$W" extract - 1 "@$TMP/list" --dest-dir="$TMP/x" &&
        t "$n: wimlib-imagex extract FILE @LISTFILE" expect_ok wimlib-imagex extract "$W" 1 "@$TMP/list" --dest-dir="$TMP/y" &&
        t "$n: listfile trees identical" compare_trees "$TMP/y" "$TMP/x"
    # --to-stdout in another order than the archive's, a file twice
    t "$n: extract - --to-stdout (files out of archive order, one twice)" expect_ok "${P[@]}" "$W" extract - 1 \
        /hello.txt /big.bin /sizes/size_1 /big.bin --to-stdout &&
        t "$n: ... byte-exact (wimlib-imagex extract FILE --to-stdout)" bash -c \
            'wimlib-imagex extract "$1" 1 /hello.txt /big.bin /sizes/size_1 /big.bin --to-stdout | cmp -s - "$2"' _ "$W" "$LAST_STDOUT"
    t "$n: extract - of a missing path: exit 4" expect_fail 4 --mentions nothere -- "${P[@]}" "$W" extract - 1 /nothere
    t "$n: info -" expect_ok "${P[@]}" "$W" info - &&
        t "$n: ... = info FILE but for the Path line" bash -c 'diff <("$WIMPACK" info "$1" | grep -v "^Path:") <(grep -v "^Path:" "$2")' _ "$W" "$LAST_STDOUT"
    t "$n: info - --blobs --header" expect_ok "${P[@]}" "$W" info - --blobs --header &&
        t "$n: ... = info FILE --blobs --header" bash -c '"$WIMPACK" info "$1" --blobs --header | cmp -s - "$2"' _ "$W" "$LAST_STDOUT"
    t "$n: info - 1 NEWNAME (a change): code 2" expect_fail 2 --mentions "standard input" -- "${P[@]}" "$W" info - 1 newname
done

# Several images: the second, by name, after skipping the first's metadata.
t "dir - second" expect_ok "${P[@]}" "$WL" dir - second &&
    t "... = wimlib's" bash -c 'wimlib-imagex dir "$1" second | cmp -s - "$2"' _ "$WL" "$LAST_STDOUT"
rm -rf "$TMP/x"
t "extract - second /sub" expect_ok "${P[@]}" "$WL" extract - second /sub --dest-dir="$TMP/x" &&
    t "... identical" compare_trees "$SMALL/sub" "$TMP/x/sub"
t "dir - without IMAGE on a 2-image WIM: usage error" expect_fail 2 -- "${P[@]}" "$WL" dir -

# Straight from wimlib-imagex's stdout.
t "wimlib-imagex capture - | wimpack verify -" expect_ok bash -c \
    'wimlib-imagex capture "$1" - --pipable --compress=lzx 2>/dev/null | "$2" verify -' _ "$SRC" "$WIMPACK"
t "wimlib-imagex capture - | wimpack dir -" expect_ok bash -c \
    'wimlib-imagex capture "$1" - --pipable 2>/dev/null | "$2" dir -' _ "$SMALL" "$WIMPACK" &&
    t "... lists the tree" grep -qx /sub/numbers.txt "$LAST_STDOUT"

# Damage: truncated anywhere (in the metadata, in a blob, in the blob table,
# in the final header), a corrupt blob, garbage.
size=$(stat -c %s "$OURS")
for cut in 1000 $((size / 2)) $((size - 300)) $((size - 100)); do
    head -c $cut "$OURS" >"$TMP/cut.pwim"
    t "truncated at $cut: verify - fails (3)" expect_fail 3 --mentions "pipe ended" -- "${P[@]}" "$TMP/cut.pwim" verify -
    t "truncated at $cut: dir - fails (3)" expect_fail 3 --mentions "pipe ended" -- "${P[@]}" "$TMP/cut.pwim" dir -
    t "truncated at $cut: extract - fails (3)" expect_fail 3 --mentions "pipe ended" -- "${P[@]}" "$TMP/cut.pwim" extract - 1 /hello.txt --dest-dir="$TMP/cut"
done
off=$("$PY" -c '
import sys
d = open(sys.argv[1], "rb").read()
print(d.find(bytes.fromhex(sys.argv[2])))' "$OURS" "$(sha1sum "$SRC/big.bin" | cut -c1-40)")
t "found the big blob's header" test "$off" -gt 0
cp "$OURS" "$TMP/bad.pwim"
"$PY" -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0x55]))" "$TMP/bad.pwim" $((off + 20000))
t "corrupt blob: verify - fails (3), names it" expect_fail 3 --mentions "$(sha1sum "$SRC/big.bin" | cut -c1-40)" -- "${P[@]}" "$TMP/bad.pwim" verify -
t "corrupt blob: extract - of it fails (3)" expect_fail 3 -- "${P[@]}" "$TMP/bad.pwim" extract - 1 /big.bin --dest-dir="$TMP/bad"
t "corrupt blob: extract - of another file succeeds" expect_ok "${P[@]}" "$TMP/bad.pwim" extract - 1 /hello.txt --dest-dir="$TMP/good"
wimlib-imagex capture "$SMALL" "$TMP/np.wim" >/dev/null 2>&1
t "a non-pipable WIM on stdin: fails (3), says so" expect_fail 3 --mentions "not pipable" -- "${P[@]}" "$TMP/np.wim" verify -
head -c 5000 /dev/urandom >"$TMP/garbage"
t "garbage on stdin: fails (3)" expect_fail 3 -- "${P[@]}" "$TMP/garbage" dir -
summary
