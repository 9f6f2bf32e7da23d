#!/usr/bin/env bash
# Capture configuration files (--config) and source lists (--source-list),
# held against wimlib-imagex: the same tree is captured with wimpack and with
# wimlib-imagex under the same options, then wimpack's archive is applied by
# wimpack and by wimlib-imagex, wimlib's archive by wimlib-imagex, and the
# three applied trees must be identical.
#
# usage: bash config_source_list.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex iconv
WL=$(command -v wimlib-imagex)

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
# Extras the patterns below aim at.
(
    set -e
    cd "$SRC"
    mkdir -p cfg/tmpdir/inner cfg/d/sub cfg/win cfg/drive cfg/ex/keep cfg/ex/other build/obj rel
    echo o >cfg/a.o; echo o >build/obj/b.o; echo o >build/c.o.txt
    echo x >ax; echo x >rel/bx; echo x >rel/abx
    echo t >cfg/tmpdir/t1; echo t >cfg/tmpdir/inner/t2
    echo t >cfg/d/x.tmp; echo t >cfg/d/keep.txt; echo t >cfg/d/sub/y.tmp
    echo w >cfg/win/w; echo w >cfg/drive/d
    echo k >cfg/ex/keep/f.txt; echo k >cfg/ex/keep/g.txt; echo k >cfg/ex/other/h.keep; echo k >cfg/ex/top.txt
    echo l >rel/debug.log; echo l >rel/important.log
    echo s >"cfg/name with space.txt"; echo s >cfg/semi
    echo p >pagefile.sys; echo p >cfg/pagefile.sys; echo p >PAGEFILE.SYS
    mkdir -p "System Volume Information" && echo v >"System Volume Information/v"
    set_tree_times .
) || fail "extras"

# both NAME CMPFLAGS -- ARGS...: capture SRC with both tools under ARGS (the
# word {SRC} is SRC), apply, compare. CMPFLAGS: extra compare_trees flags.
both() {
    local name=$1 cmpflags=$2
    shift 3
    local -a args=()
    local a
    for a in "$@"; do args+=("${a//\{SRC\}/$SRC}"); done
    local d=$TMP/$name
    rm -rf "$d" && mkdir -p "$d"
    t "$name: wimpack capture" expect_ok wp capture "${args[@]}" "$d/wp.wim" "$name" --compress=none || return 1
    cp "$LAST_STDERR" "$d/wp.err"
    t "$name: wimlib-imagex capture" expect_ok "$WL" capture "${args[@]}" "$d/wl.wim" "$name" --compress=none || return 1
    compare_captures "$name" "$cmpflags"
}

# compare_captures NAME CMPFLAGS [IMAGE]: the three applies of $TMP/NAME/{wp,wl}.wim.
compare_captures() {
    local name=$1 cmpflags=$2 image=${3:-1} d=$TMP/$1
    t "$name: wimpack applies its archive" expect_ok wp apply "$d/wp.wim" "$image" "$d/wp-wp" || return 1
    t "$name: wimlib-imagex applies wimlib's archive" expect_ok "$WL" apply "$d/wl.wim" "$image" "$d/wl-wl" || return 1
    t "$name: wimlib-imagex applies wimpack's archive" expect_ok "$WL" apply "$d/wp.wim" "$image" "$d/wl-wp" || return 1
    # shellcheck disable=SC2086
    t "$name: wimpack's tree = wimlib's" compare_trees "$d/wl-wl" "$d/wp-wp" $cmpflags
    # shellcheck disable=SC2086
    t "$name: wimpack's archive applied by wimlib = wimlib's" compare_trees "$d/wl-wl" "$d/wl-wp" $cmpflags
}

# absent DIR REL...: none of the paths exists under DIR; present DIR REL...: all do.
absent() {
    local d=$1 p
    shift
    for p in "$@"; do [[ -e $d/$p || -L $d/$p ]] && { echo "'$p' should have been excluded"; return 1; }; done
    return 0
}
present() {
    local d=$1 p
    shift
    for p in "$@"; do [[ -e $d/$p || -L $d/$p ]] || { echo "'$p' is missing"; return 1; }; done
    return 0
}

C=$TMP/configs
mkdir -p "$C"

# --- configuration files ---------------------------------------------------
printf '[ExclusionList]\n*.o\n?x\n' >"$C/rel.ini"
both rel "" -- {SRC} --config="$C/rel.ini"
t "rel: *.o and ?x excluded anywhere, longer names kept" absent "$TMP/rel/wp-wp" cfg/a.o build/obj/b.o ax rel/bx
t "rel: non-matching names kept" present "$TMP/rel/wp-wp" build/c.o.txt rel/abx build/obj

printf '[ExclusionList]\n/cfg/tmpdir\n/cfg/d/*.tmp\n\\cfg\\win\\\nC:\\cfg\\drive\n' >"$C/abs.ini"
both abs "" -- {SRC} --config="$C/abs.ini"
t "abs: a matched directory goes with its contents" absent "$TMP/abs/wp-wp" cfg/tmpdir cfg/win cfg/drive cfg/d/x.tmp
t "abs: /cfg/d/*.tmp does not reach into cfg/d/sub" present "$TMP/abs/wp-wp" cfg/d/sub/y.tmp cfg/d/keep.txt
t "abs: the drive letter is removed with a warning" grep -q "drive" "$TMP/abs/wp.err"

printf '[ExclusionList]\n/cfg/ex\n*.log\n[ExclusionException]\n/cfg/ex/keep/f.txt\n*.keep\nimportant.log\n' >"$C/exc.ini"
both exc "" -- {SRC} --config="$C/exc.ini"
t "exc: an absolute exception reaches into an excluded directory" present "$TMP/exc/wp-wp" cfg/ex/keep/f.txt
t "exc: siblings of the exception stay excluded" absent "$TMP/exc/wp-wp" cfg/ex/keep/g.txt cfg/ex/other cfg/ex/top.txt rel/debug.log
t "exc: a relative exception saves a name" present "$TMP/exc/wp-wp" rel/important.log

# comments, quotes, CRLF, unknown section, UTF-16LE with a BOM
printf '# comment\r\n; another\r\n\r\n[ExclusionList]\r\n"/cfg/name with space.txt"\r\n'"'"'/cfg/semi'"'"'\r\n  *.tmp  \r\n[AlignmentList]\r\nwhatever/x\r\n' >"$C/crlf.ini"
both crlf "" -- {SRC} --config="$C/crlf.ini"
t "crlf: quoted patterns with spaces, CRLF, comments" absent "$TMP/crlf/wp-wp" "cfg/name with space.txt" cfg/semi cfg/d/x.tmp cfg/d/sub/y.tmp
{ printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE <"$C/crlf.ini"; } >"$C/utf16.ini"
both utf16 "" -- {SRC} --config="$C/utf16.ini"
t "utf16: same exclusions as the UTF-8 file" compare_trees "$TMP/crlf/wp-wp" "$TMP/utf16/wp-wp"

# the built-in list applies without --config
both defaults "" -- {SRC}
t "defaults: top-level pagefile.sys and System Volume Information left out" absent "$TMP/defaults/wp-wp" pagefile.sys "System Volume Information"
t "defaults: cfg/pagefile.sys and PAGEFILE.SYS kept" present "$TMP/defaults/wp-wp" cfg/pagefile.sys PAGEFILE.SYS
printf '' >"$C/empty.ini"
both emptycfg "" -- {SRC} --config="$C/empty.ini"
t "emptycfg: an empty --config excludes nothing" present "$TMP/emptycfg/wp-wp" pagefile.sys "System Volume Information"

# excluding the root: an empty image
printf '[ExclusionList]\n\\\n' >"$C/root.ini"
both rootx "" -- {SRC} --config="$C/root.ini"
t "rootx: nothing applied" bash -c '[[ -z $(ls -A "$1") && -z $(ls -A "$2") ]]' _ "$TMP/rootx/wp-wp" "$TMP/rootx/wl-wp"

# an invalid pattern: exit 2 naming the file and line
printf '[ExclusionList]\n*.o\nnames/co*\n' >"$C/bad.ini"
t "bad pattern refused with exit 2 and the line number" \
    expect_fail 2 --mentions "bad.ini:3" -- wp capture "$SRC" "$TMP/bad.wim" --config="$C/bad.ini"
t "bad pattern: wimlib-imagex refuses it too" expect_fail any -- "$WL" capture "$SRC" "$TMP/bad.wim" --config="$C/bad.ini"
t "bad pattern: no archive left behind" not test -e "$TMP/bad.wim"
t "missing config file refused" expect_fail "1|4" --mentions "nope.ini" -- wp capture "$SRC" "$TMP/bad.wim" --config="$C/nope.ini"

# config from stdin (wimlib-imagex cannot: it fails with "could not be read")
stdin_cfg() { timeout -k 5 "$T_TIMEOUT" "$WIMPACK" capture "$SRC" "$TMP/stdincfg/wp.wim" stdincfg --compress=none --config=- <"$C/exc.ini"; }
if [[ $ORACLE == 1 ]]; then
    skip "config from stdin (wimpack extension; oracle mode)"
else
    mkdir -p "$TMP/stdincfg"
    t "stdincfg: wimpack capture --config=-" stdin_cfg &&
        t "stdincfg: wimlib-imagex capture with the same file" expect_ok "$WL" capture "$SRC" "$TMP/stdincfg/wl.wim" stdincfg --compress=none --config="$C/exc.ini" &&
        compare_captures stdincfg ""
fi

# --- source lists ------------------------------------------------------------
L=$TMP/lists
mkdir -p "$L/a/d1" "$L/b/d1" "$L/sp ace" "$L/single"
(
    set -e
    cd "$L"
    echo A >a/f; echo A1 >a/d1/x; echo B >b/f; echo B1 >b/d1/y; echo P >a/pagefile.sys
    echo S >"sp ace/in space"; echo one >single/one.o; echo two >single/two.txt
    ln single/one.o a/hardlink
    ln -s "$L/a/f" a/abs_inside
    set_tree_times .
)
cat >"$L/list.txt" <<EOF
# overlays onto /, the later file wins
a /
b /
  # an indented comment

"$L/sp ace" "/with space/deep er"
'$L/single/one.o' /x/y/z/one.o
$L/single/two.txt /f
$L/single/two.txt /x/y/two
$L/single /d1
EOF
srclist() {
    local name=$1 cmp=$2
    shift 2
    local d=$TMP/$name
    rm -rf "$d" && mkdir -p "$d"
    t "$name: wimpack capture --source-list" expect_ok bash -c 'cd "$1" && shift && "$@"' _ "$L" "$WIMPACK" capture "$@" "$d/wp.wim" --compress=none --source-list || return 1
    t "$name: wimlib-imagex capture --source-list" expect_ok bash -c 'cd "$1" && shift && "$@"' _ "$L" "$WL" capture "$@" "$d/wl.wim" --compress=none --source-list || return 1
    compare_captures "$name" "$cmp"
}
# Invented directories carry each tool's own capture time: compare without times.
srclist list "--no-times" list.txt
t "list: last file wins" bash -c '[[ $(cat "$1/f") == two ]]' _ "$TMP/list/wp-wp"
t "list: directories merged, missing parents made" present "$TMP/list/wp-wp" d1/x d1/y d1/one.o x/y/z/one.o x/y/two "with space/deep er/in space"
t "list: the default list applies to each source" absent "$TMP/list/wp-wp" pagefile.sys
t "list: a hard link across sources is kept" bash -c '[[ $1/hardlink -ef $1/x/y/z/one.o && $1/hardlink -ef $1/d1/one.o ]]' _ "$TMP/list/wp-wp"
t "list: rpfix for the / entry" bash -c '[[ $(readlink "$1/abs_inside") == "$1/f" ]]' _ "$TMP/list/wp-wp"
t "list: default image name is the list's base name" bash -c '"$1" info "$2" 1 | grep -q "list.txt"' _ "$WIMPACK" "$TMP/list/wp.wim"

# the config is matched against each source's root, not the target
printf '[ExclusionList]\n/d1\n*.o\n' >"$C/list.ini"
printf 'a /\nb /sub\nsingle/one.o /top.o\n' >"$L/cfg-list.txt"
srclist cfglist "" cfg-list.txt --config="$C/list.ini"
t "cfglist: /d1 excluded in every source, a file source's own name never matched" absent "$TMP/cfglist/wp-wp" d1 sub/d1
t "cfglist: a file source named *.o is kept" present "$TMP/cfglist/wp-wp" top.o sub/f

# list from stdin
stdin_list() {
    (cd "$L" && timeout -k 5 "$T_TIMEOUT" "$1" capture - "$2" --compress=none --source-list <"$L/list.txt")
}
mkdir -p "$TMP/stdinlist"
t "stdinlist: wimpack capture - --source-list" stdin_list "$WIMPACK" "$TMP/stdinlist/wp.wim" &&
    t "stdinlist: wimlib-imagex capture - --source-list" stdin_list "$WL" "$TMP/stdinlist/wl.wim" &&
    compare_captures stdinlist "--no-times"

# append with a source list and a config
cp "$TMP/list/wp.wim" "$TMP/list/wp-app.wim" && cp "$TMP/list/wl.wim" "$TMP/list/wl-app.wim"
mkdir -p "$TMP/append"
t "append: wimpack" expect_ok bash -c 'cd "$1" && "$2" append cfg-list.txt "$3" second --source-list --config="$4"' _ "$L" "$WIMPACK" "$TMP/list/wp-app.wim" "$C/list.ini" &&
    t "append: wimlib-imagex" expect_ok bash -c 'cd "$1" && "$2" append cfg-list.txt "$3" second --source-list --config="$4"' _ "$L" "$WL" "$TMP/list/wl-app.wim" "$C/list.ini" &&
    mv "$TMP/list/wp-app.wim" "$TMP/append/wp.wim" && mv "$TMP/list/wl-app.wim" "$TMP/append/wl.wim" &&
    compare_captures append "" 2

# an empty list: an empty image
: >"$L/empty.txt"
srclist emptylist "" empty.txt

# errors (wimlib refuses each of these too)
printf 'single/one.o /\n' >"$L/e1.txt"
printf 'a /x\nsingle/one.o /x\n' >"$L/e2.txt"
printf 'single/one.o /x\na /x\n' >"$L/e3.txt"
printf 'single/one.o /x\na/f /x/y\n' >"$L/e4.txt"
printf 'a /\nnonexistent /n\n' >"$L/e5.txt"
printf '"a /\n' >"$L/e6.txt"
for e in e1:2:"e1.txt:1" e2:2:"e2.txt:2" e3:2:"e3.txt:2" e4:2:"e4.txt:2" e5:4:"nonexistent" e6:2:"e6.txt:1"; do
    IFS=: read -r n code what <<<"$e"
    t "error $n: wimpack refuses ($what)" expect_fail "$code" --mentions "$what" -- bash -c 'cd "$1" && "$2" capture "$3.txt" "$4" --source-list' _ "$L" "$WIMPACK" "$n" "$TMP/err.wim"
    t "error $n: wimlib-imagex refuses it too" expect_fail any -- bash -c 'cd "$1" && "$2" capture "$3.txt" "$4" --source-list' _ "$L" "$WL" "$n" "$TMP/err.wim"
    rm -f "$TMP/err.wim"
done

summary
