#!/usr/bin/env bash
# wimpack reads the pipable WIMs wimlib-imagex writes (wim-format.md §12):
# from the file (every codec: the §12.3 chunk layout) and from a pipe
# (apply - IMAGE TARGET, §12.4), several images, by index and name, with
# UNIX data, written straight to stdout by wimlib, split parts concatenated;
# a truncated or garbage stream fails with a message, never a partial success.
#
# usage: bash pipable_read.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex

SRC=$TMP/src
USRC=$TMP/usrc
SMALL=$TMP/small
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
t "build the test tree with UNIX extras" make_test_tree "$USRC" --unix || { summary; exit 1; }
make_small_tree "$SMALL"

# "${FROM_PIPE[@]}" FILE ARGS...: cat FILE | wimpack apply - ARGS...
FROM_PIPE=(bash -c 'f=$1; shift; cat "$f" | "$WIMPACK" apply - "$@"' _)

for c in none xpress lzx lzms; do
    W=$TMP/p-$c.wim
    t "$c: wimlib-imagex capture --pipable --check, then append a second image" bash -c '
        wimlib-imagex capture "$1" "$3" first --pipable --compress="$4" --check >/dev/null &&
        wimlib-imagex append "$2" "$3" second --check >/dev/null' _ "$SRC" "$SMALL" "$W" "$c" || continue
    t "$c: wimpack apply from the file" expect_ok wp apply "$W" 1 "$TMP/f-$c" --check &&
        t "$c: file apply identical" compare_trees "$SRC" "$TMP/f-$c"
    t "$c: wimpack apply - 1 (pipe)" expect_ok "${FROM_PIPE[@]}" "$W" 1 "$TMP/o-$c" &&
        t "$c: pipe apply identical" compare_trees "$SRC" "$TMP/o-$c"
    t "$c: wimpack apply - second (by name, after skipping image 1's data)" expect_ok "${FROM_PIPE[@]}" "$W" second "$TMP/s-$c" &&
        t "$c: image 'second' identical" compare_trees "$SMALL" "$TMP/s-$c"
    t "$c: wimpack info on the file" expect_ok wp info "$W"
    rm -rf "$TMP/f-$c" "$TMP/o-$c" "$TMP/s-$c"
done

W=$TMP/p-lzx.wim
# Written by wimlib straight into the pipe.
t "capture to stdout | wimpack apply -" expect_ok bash -c \
    'wimlib-imagex capture "$1" - --pipable --compress=lzx 2>/dev/null | "$2" apply - "$3"' _ "$SRC" "$WIMPACK" "$TMP/stdout" &&
    t "stdout capture: tree identical" compare_trees "$SRC" "$TMP/stdout"
t "capture --unix-data to stdout | wimpack apply - --unix-data" expect_ok bash -c \
    'wimlib-imagex capture "$1" - --pipable --compress=xpress --unix-data 2>/dev/null | "$2" apply - "$3" --unix-data' _ "$USRC" "$WIMPACK" "$TMP/unix" &&
    t "unix data from a pipe: tree identical (modes, owners, symlinks, specials)" compare_trees "$USRC" "$TMP/unix" --unix-data
rm -rf "$TMP/stdout" "$TMP/unix"

# Export from a pipable WIM makes a normal WIM (its chunks are re-laid out).
if [[ $ORACLE == 0 ]]; then
    t "export from a pipable LZX WIM" expect_ok wp export "$W" 1 "$TMP/e.wim" &&
        t "wimlib applies the export" expect_ok wimlib-imagex apply "$TMP/e.wim" "$TMP/e" &&
        t "export: tree identical" compare_trees "$SRC" "$TMP/e"
    cp "$W" "$TMP/o.wim"
    t "optimize of a pipable WIM keeps it pipable" expect_ok wp optimize "$TMP/o.wim"
    t "optimized: WLPWM" test "$(head -c 5 "$TMP/o.wim")" = WLPWM
    t "optimized: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/o.wim"
    rm -f "$TMP/o.wim"
    t "split of a pipable WIM into pipable parts" expect_ok wp split "$W" "$TMP/x.swm" 1
    t "split parts: WLPWM" test "$(head -c 5 "$TMP/x2.swm")" = WLPWM
    t "split parts: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/x.swm" --ref="$TMP/x*.swm"
    t "split parts: cat | wimlib-imagex apply -" expect_ok bash -c 'cat "$@" | wimlib-imagex apply - 1 "$TMP/xs" >/dev/null' _ "$TMP"/x*.swm &&
        t "split parts: tree identical" compare_trees "$SRC" "$TMP/xs"
    t "split parts: wimpack join" expect_ok wp join "$TMP/xj.wim" "$TMP"/x*.swm
    t "joined: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/xj.wim"
    rm -rf "$TMP"/x*.swm "$TMP/xs" "$TMP/xj.wim"
    rm -rf "$TMP/e" "$TMP/e.wim"
fi

# Split pipable WIM: parts concatenated, part 1 first, the others in any order.
# The source has --check, so each part ends with an integrity table that has
# no blob header (§12.1): wimlib's pipe reader stops there (exit 26);
# wimpack skips it.
if [[ $ORACLE == 0 ]] && t "wimlib-imagex split a pipable WIM into 1 MB parts" expect_ok wimlib-imagex split "$W" "$TMP/part.swm" 1; then
    parts=("$TMP"/part*.swm)
    t "split: at least 3 parts" test ${#parts[@]} -ge 3
    t "split: cat parts | wimpack apply - 1" expect_ok bash -c 'cat "$@" | "$WIMPACK" apply - 1 "$TMP/sp"' _ "${parts[@]}" &&
        t "split from a pipe: tree identical" compare_trees "$SRC" "$TMP/sp"
    rev=("$TMP/part.swm")
    for ((i = ${#parts[@]} - 1; i >= 1; i--)); do [[ ${parts[i]} != "$TMP/part.swm" ]] && rev+=("${parts[i]}"); done
    t "split: part 1 then the others in reverse order" expect_ok bash -c 'cat "$@" | "$WIMPACK" apply - 1 "$TMP/sr"' _ "${rev[@]}" &&
        t "split reversed: tree identical" compare_trees "$SRC" "$TMP/sr"
    t "split: the parts as files with --ref" expect_ok wp apply "$TMP/part.swm" 1 "$TMP/sf" --ref="$TMP/part*.swm" &&
        t "split from files: tree identical" compare_trees "$SRC" "$TMP/sf"
    [[ $ORACLE == 0 ]] && t "split: part 1 alone in the pipe fails, naming the missing data (3)" \
        expect_fail 3 --mentions "missing" -- "${FROM_PIPE[@]}" "$TMP/part.swm" 1 "$TMP/s1"
    [[ $ORACLE == 0 ]] && t "split: part 2 first is refused (3)" \
        expect_fail 3 --mentions "part 1 must come first" -- "${FROM_PIPE[@]}" "$TMP/part2.swm" 1 "$TMP/s2"
    rm -rf "$TMP"/part*.swm "$TMP/sp" "$TMP/sr" "$TMP/sf" "$TMP/s1" "$TMP/s2"
fi

# Truncated streams: every cut point fails with "the pipe ended ...".
size=$(stat -c %s "$W")
xml_end=$(( $("$PY" -c 'import struct,sys; d=open(sys.argv[1],"rb").read(248); print(208+40+struct.unpack_from("<Q",d,216)[0])' "$W") ))
# Cut points: empty, in the header, before/in the XML copy, in image 1's metadata, in the file data.
for n in 0 100 208 $((208 + 40 + 10)) $((xml_end + 60)) $((size / 3)) $((size / 2)); do
    t "truncated at $n bytes: non-zero exit" expect_fail 3 --mentions "$([[ $ORACLE == 0 ]] && { [[ $n == 0 ]] && echo empty || echo 'pipe ended'; } || echo '')" -- \
        bash -c 'head -c "$1" "$2" | "$3" apply - 1 "$4"' _ "$n" "$W" "$WIMPACK" "$TMP/trunc"
    rm -rf "$TMP/trunc"
done
[[ $ORACLE == 0 ]] && t "truncated in the file data: the message names the blob" \
    expect_fail 3 --mentions "in the middle of blob" -- bash -c 'head -c "$1" "$2" | "$3" apply - 1 "$4"' _ $((size / 2)) "$W" "$WIMPACK" "$TMP/trunc"
rm -rf "$TMP/trunc"

# A flipped byte in the file data: a decompression or SHA-1 failure, never success.
"$PY" -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); i=len(d)//2; d[i]^=0x55; open(sys.argv[2],"wb").write(d)' "$W" "$TMP/flip.wim"
t "corrupt byte in the data: fails (3)" expect_fail 3 -- "${FROM_PIPE[@]}" "$TMP/flip.wim" 1 "$TMP/flip"
rm -rf "$TMP/flip" "$TMP/flip.wim"

if [[ $ORACLE == 0 ]]; then
    head -c 100000 /dev/urandom >"$TMP/garbage"
    t "garbage on stdin: not a pipable WIM (3)" expect_fail 3 --mentions "not a pipable WIM" -- "${FROM_PIPE[@]}" "$TMP/garbage" 1 "$TMP/g"
    wimlib-imagex capture "$SMALL" "$TMP/normal.wim" --compress=lzx >/dev/null
    t "a normal WIM on stdin: says it is not pipable (3)" expect_fail 3 --mentions "not pipable" -- "${FROM_PIPE[@]}" "$TMP/normal.wim" 1 "$TMP/g"
    t "apply - all: refused as by wimlib (2)" expect_fail 2 --mentions "one image at a time" -- "${FROM_PIPE[@]}" "$W" all "$TMP/g"
    t "apply - without IMAGE on a 2-image WIM (2)" expect_fail 2 --mentions "2 images" -- "${FROM_PIPE[@]}" "$W" "$TMP/g"
    t "apply - 3 of a 2-image WIM (4)" expect_fail 4 --mentions "no image 3" -- "${FROM_PIPE[@]}" "$W" 3 "$TMP/g"
    t "apply - nosuchname (4)" expect_fail 4 --mentions "nosuchname" -- "${FROM_PIPE[@]}" "$W" nosuchname "$TMP/g"
    t "a file named '-' is never read: WIMFILE - is standard input" expect_fail 3 --mentions "standard input" -- \
        bash -c 'cd "$1" && cp "$2" ./- && "$3" apply - 1 out </dev/null' _ "$TMP" "$W" "$WIMPACK"
fi

summary
