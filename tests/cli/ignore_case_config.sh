#!/usr/bin/env bash
# WIMLIB_IMAGEX_IGNORE_CASE=1 applies to capture configuration matching
# ([ExclusionList], [ExclusionException], and the built-in default list) as
# it does to extract paths: ASCII letters match whatever their case, other
# letters do not fold (as wimlib-imagex on Linux). Without it (or with 0)
# matching stays case-sensitive. The listings are compared with
# wimlib-imagex's when it is installed.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

SRC=$TMP/src
mkdir -p "$SRC/Sub/deep" "$SRC/other"
echo 1 >"$SRC/a.tmp"
echo 2 >"$SRC/B.Tmp"
echo 3 >"$SRC/Sub/deep/f"
echo 3 >"$SRC/Sub/gone"
echo 4 >"$SRC/other/keep.TXT"
echo 5 >"$SRC/other/Ünï.txt"
echo 6 >"$SRC/PAGEFILE.SYS"
printf '[ExclusionList]\n*.TMP\n/sub\n/OTHER/ünÏ.TXT\n[ExclusionException]\n/SUB/DEEP\n' >"$TMP/cfg.txt"

listing() {  # listing ENV_VALUE OUT [CAPTURE ARGS...]: the paths captured
    local e=$1 out=$2
    shift 2
    rm -f "$TMP/c.wim"
    WIMLIB_IMAGEX_IGNORE_CASE=$e "$WIMPACK" capture "$SRC" "$TMP/c.wim" "$@" >/dev/null 2>&1 &&
        "$WIMPACK" dir "$TMP/c.wim" >"$out"
}

t "ignore case: capture --config" listing 1 "$TMP/ic.txt" --config="$TMP/cfg.txt"
t "... '*.TMP' excludes a.tmp and B.Tmp" not grep -qiE '^/(a|B)\.tmp$' "$TMP/ic.txt"
t "... '/sub' excludes /Sub/gone" not grep -qx /Sub/gone "$TMP/ic.txt"
t "... the exception '/SUB/DEEP' keeps /Sub/deep/f" grep -qx /Sub/deep/f "$TMP/ic.txt"
t "... non-ASCII letters do not fold: /other/Ünï.txt kept" grep -qx '/other/Ünï.txt' "$TMP/ic.txt"
t "... keep.TXT kept" grep -qx /other/keep.TXT "$TMP/ic.txt"
t "case-sensitive without the variable" listing "" "$TMP/cs.txt" --config="$TMP/cfg.txt"
t "... a.tmp, B.Tmp, /Sub/gone kept" bash -c 'grep -qx /a.tmp "$1" && grep -qx /B.Tmp "$1" && grep -qx /Sub/gone "$1"' _ "$TMP/cs.txt"
t "WIMLIB_IMAGEX_IGNORE_CASE=0: case-sensitive" listing 0 "$TMP/c0.txt" --config="$TMP/cfg.txt"
t "... same as without" cmp -s "$TMP/cs.txt" "$TMP/c0.txt"
t "ignore case: the default configuration excludes /PAGEFILE.SYS" listing 1 "$TMP/d1.txt"
t "... gone" not grep -qx /PAGEFILE.SYS "$TMP/d1.txt"
t "default configuration, case-sensitive: /PAGEFILE.SYS kept" listing "" "$TMP/d0.txt"
t "... kept" grep -qx /PAGEFILE.SYS "$TMP/d0.txt"

if have wimlib-imagex && [[ $ORACLE == 0 ]]; then
    wl() {  # wl ENV_VALUE OUT [ARGS...]
        local e=$1 out=$2
        shift 2
        rm -f "$TMP/w.wim"
        WIMLIB_IMAGEX_IGNORE_CASE=$e wimlib-imagex capture "$SRC" "$TMP/w.wim" "$@" >/dev/null 2>&1 &&
            wimlib-imagex dir "$TMP/w.wim" >"$out"
    }
    t "wimlib-imagex, ignore case, --config" wl 1 "$TMP/wl-ic.txt" --config="$TMP/cfg.txt" &&
        t "... same paths as ours" cmp "$TMP/wl-ic.txt" "$TMP/ic.txt"
    t "wimlib-imagex, case-sensitive" wl "" "$TMP/wl-cs.txt" --config="$TMP/cfg.txt" &&
        t "... same paths as ours" cmp "$TMP/wl-cs.txt" "$TMP/cs.txt"
    t "wimlib-imagex, ignore case, default configuration" wl 1 "$TMP/wl-d1.txt" &&
        t "... same paths as ours" cmp "$TMP/wl-d1.txt" "$TMP/d1.txt"
else
    skip "wimlib-imagex comparison"
fi
summary
