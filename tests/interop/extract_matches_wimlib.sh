#!/usr/bin/env bash
# wimpack extract writes what wimlib-imagex extract writes (same files, same
# bytes, same modes/owners with --unix-data, same hard links) for single
# paths, wildcards, listfiles, --preserve-dir-structure and the whole image;
# --to-stdout is byte-exact; missing paths fail (exit 4) unless --nullglob;
# WIMLIB_IMAGEX_IGNORE_CASE=1; split parts with --ref; the wimextract name.
#
# usage: bash extract_matches_wimlib.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex
[[ $ORACLE == 1 ]] && { skip "compares wimpack with wimlib-imagex"; summary; exit; }

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" --unix || { summary; exit 1; }
printf 'another hello\n' >"$SRC/dups/hello.txt"
W=$TMP/a.wim
t "wimlib-imagex capture --unix-data" expect_ok wimlib-imagex capture "$SRC" "$W" --unix-data

N=0
# same_extract DESC EXTRACT_ARGS...: both tools into fresh directories, compared
same_extract() {
    N=$((N + 1))
    local a=$TMP/wl$N b=$TMP/wp$N
    mkdir -p "$a" "$b"
    wimlib-imagex extract "$W" 1 "$@" --dest-dir="$a" >/dev/null 2>"$TMP/wl.err" ||
        { echo "wimlib-imagex failed:"; cat "$TMP/wl.err"; return 1; }
    "$WIMPACK" extract "$W" 1 "$@" --dest-dir="$b" --quiet || return 1
    compare_trees "$a" "$b" --unix-data || return 1
    rm -rf "$a" "$b"
}

t "one file" same_extract /hello.txt --unix-data
t "a directory tree" same_extract /links --unix-data
t "several paths, backslashes, no leading separator" same_extract 'names\répertoire-目录' /sizes/size_1 /dups --unix-data
t "a hard link group split across selected paths" same_extract /links/h3_a /dups --unix-data
t "wildcards" same_extract '/sizes/size_4*' '/n?mes/*.txt' --unix-data
t "--preserve-dir-structure" same_extract /links/sub /names/new*line /deep/level01/level02 --preserve-dir-structure --unix-data
printf '; comment\n# another\n\n  /links/sub  \n/sizes/size_32*\n\\names\\.hidden\n' >"$TMP/list.txt"
t "listfile (directory structure kept)" same_extract @"$TMP/list.txt" --unix-data
t "special files and symlinks" same_extract /special /sym_rel /sym_dir --unix-data
t "without --unix-data" same_extract /modes /links

# whole image: like apply
t "no path: the whole image (absolute links as stored, not fixed)" same_extract --unix-data

# --to-stdout
t "--to-stdout" expect_ok wp extract "$W" 1 /sizes/big_mixed.bin /hello.txt --to-stdout
t "... byte-exact" bash -c "cat '$SRC/sizes/big_mixed.bin' '$SRC/hello.txt' | cmp -s - '$LAST_STDOUT'"
t "... as wimlib-imagex" bash -c "wimlib-imagex extract '$W' 1 /sizes/big_mixed.bin /hello.txt --to-stdout 2>/dev/null | cmp -s - '$LAST_STDOUT'"
t "--to-stdout of a directory: refused" expect_fail 1 --mentions "/links" -- wp extract "$W" 1 /links --to-stdout

# missing paths
t "missing path: exit 4" expect_fail 4 --mentions /nope -- wp extract "$W" 1 /nope --dest-dir="$TMP/m"
t "--nullglob: a pattern matching nothing is skipped" expect_ok wp extract "$W" 1 '/nope*' /hello.txt --nullglob --dest-dir="$TMP/ng" --quiet
t "... the rest extracted" same_file "$SRC/hello.txt" "$TMP/ng/hello.txt"
t "--no-wildcards: '*' is literal" expect_fail 4 -- wp extract "$W" 1 '/hello*' --no-wildcards --nullglob --dest-dir="$TMP/nw"
t "case-sensitive by default" expect_fail 4 -- wp extract "$W" 1 /HELLO.TXT --dest-dir="$TMP/cs"
t "WIMLIB_IMAGEX_IGNORE_CASE=1" expect_ok env WIMLIB_IMAGEX_IGNORE_CASE=1 "$WIMPACK" extract "$W" 1 /HELLO.TXT --dest-dir="$TMP/ci" --quiet
t "... extracted under its own name" same_file "$SRC/hello.txt" "$TMP/ci/hello.txt"
t "two paths with one base name: refused" expect_fail 1 --mentions hello.txt -- wp extract "$W" 1 /hello.txt /dups/hello.txt --dest-dir="$TMP/dup"
t "Windows-only options accepted" expect_ok wp extract "$W" 1 /hello.txt --no-acls --strict-acls --no-attributes --include-invalid-names --dest-dir="$TMP/win" --quiet

# only the selected data is read: a corrupt blob elsewhere does not matter
P=$TMP/p.wim
t "wimpack capture, uncompressed" expect_ok wp capture "$SRC/sizes" "$P" --compress=none --quiet
off=$(wimlib-imagex info "$P" --blobs | awk '/^Uncompressed size/ {u=$4} /^Offset in WIM/ {o=$5} /^Flags/ { if (u > 2000000) print o }' | head -n 1)
if [[ -n $off ]]; then
    "$PY" -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])+1000); b=f.read(1); f.seek(int(sys.argv[2])+1000); f.write(bytes([b[0]^0xff]))" "$P" "$off"
    t "corrupt big blob: extracting another file works" expect_ok wp extract "$P" 1 /size_4096 --dest-dir="$TMP/sel" --quiet
    t "... extracting the damaged one fails (exit 3)" expect_fail 3 --mentions "corrupt" -- wp extract "$P" 1 /big_mixed.bin --dest-dir="$TMP/sel2"
else
    skip "could not locate the big blob"
fi

# split parts, and the wimextract name
t "wimlib-imagex split" expect_ok wimlib-imagex split "$W" "$TMP/part.swm" 1
ln -s "$WIMPACK" "$TMP/wimextract"
t "wimextract from split parts with --ref" expect_ok "$TMP/wimextract" "$TMP/part.swm" 1 /sizes/big_mixed.bin "--ref=$TMP/part*.swm" --to-stdout
t "... byte-exact" same_file "$SRC/sizes/big_mixed.bin" "$LAST_STDOUT"
t "--ref GLOB as a separate word, then paths" expect_ok wp extract "$TMP/part.swm" 1 --ref "$TMP/part*.swm" /hello.txt /sizes/size_1 --to-stdout
t "... both files" bash -c "cat '$SRC/hello.txt' '$SRC/sizes/size_1' | cmp -s - '$LAST_STDOUT'"
summary
