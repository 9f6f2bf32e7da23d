#!/usr/bin/env bash
# wimpack writes pipable WIMs (wim-format.md §12): capture to standard output
# ('-') and to a file with --pipable, for every codec, read back by
# wimlib-imagex (standard codecs) and by wimpack, from the file and from a
# pipe; append keeps the WIM pipable; optimize keeps it pipable or converts
# it (--not-pipable / --pipable); export to '-'; join of pipable parts;
# solid + pipable is refused.
#
# usage: bash pipable_write.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_tool wimlib-imagex

SRC=$TMP/src
SMALL=$TMP/small
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
make_small_tree "$SMALL"

# Pipes: "$WIMPACK" capture DIR - ... | CONSUMER apply - ...
wp_to_pipe() {  # wp_to_pipe CODEC TOOL OUT
    "$WIMPACK" capture "$SRC" - --compress="$1" | "$2" apply - 1 "$3" >/dev/null
    local rc=("${PIPESTATUS[@]}")
    # wimlib-imagex apply stops reading once it has every blob it needs, so
    # a writer still sending the blob table and XML (§12.1: they come last)
    # may be killed by SIGPIPE (141) through no fault of its own; wimpack's
    # apply reads to the end and checks it, so with it both must be 0.
    [[ $2 == wimlib-imagex && ${rc[0]} -eq 141 && ${rc[1]} -eq 0 ]] && rc[0]=0
    [[ ${rc[0]} -eq 0 && ${rc[1]} -eq 0 ]] || { echo "exit codes ${rc[*]}"; return 1; }
}
# from_pipe FILE TOOL IMAGE OUT: cat FILE | TOOL apply - IMAGE OUT
from_pipe=(bash -c 'cat "$1" | "$2" apply - "$3" "$4" >/dev/null' _)
is_pipable() { wimlib-imagex info "$1" | grep -qE '^Attributes:.*Pipable'; }
not_pipable() { wimlib-imagex info "$1" | grep -qE '^Attributes:' && ! wimlib-imagex info "$1" | grep -qE '^Attributes:.*Pipable'; }
magic_is() { [[ $(head -c 5 "$1") == "$2" ]] || { echo "magic of $1 is not $2"; return 1; }; }

for c in none xpress lzx zstd; do
    if [[ $c != zstd ]]; then
        t "$c: capture - | wimlib-imagex apply -" wp_to_pipe "$c" wimlib-imagex "$TMP/a-$c" &&
            t "$c: wimlib's apply identical" compare_trees "$SRC" "$TMP/a-$c"
    fi
    t "$c: capture - | wimpack apply -" wp_to_pipe "$c" "$WIMPACK" "$TMP/b-$c" &&
        t "$c: wimpack's apply identical" compare_trees "$SRC" "$TMP/b-$c"
    W=$TMP/p-$c.wim
    t "$c: capture --pipable" expect_ok wp capture "$SRC" "$W" first --pipable --compress="$c" --check
    t "$c: starts with WLPWM" magic_is "$W" WLPWM
    t "$c: wimpack verify" expect_ok wp verify "$W"
    t "$c: append --pipable keeps it pipable" expect_ok wp append "$SMALL" "$W" second
    t "$c: still WLPWM" magic_is "$W" WLPWM
    if [[ $c != zstd ]]; then
        t "$c: wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
        t "$c: wimlib-imagex info says pipable" is_pipable "$W"
        t "$c: wimlib-imagex apply image 2 from the file" expect_ok wimlib-imagex apply "$W" 2 "$TMP/c-$c" &&
            t "$c: identical" compare_trees "$SMALL" "$TMP/c-$c"
        t "$c: wimlib-imagex apply - 1 from a pipe" expect_ok "${from_pipe[@]}" "$W" wimlib-imagex 1 "$TMP/d-$c" &&
            t "$c: identical" compare_trees "$SRC" "$TMP/d-$c"
    fi
    t "$c: wimpack apply - second from a pipe" expect_ok "${from_pipe[@]}" "$W" "$WIMPACK" second "$TMP/e-$c" &&
        t "$c: identical" compare_trees "$SMALL" "$TMP/e-$c"
    rm -rf "$TMP"/[a-e]-$c
done

W=$TMP/p-lzx.wim
t "optimize keeps a pipable WIM pipable" expect_ok wp optimize "$W"
t "optimized: WLPWM" magic_is "$W" WLPWM
t "optimized: wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
t "optimize --not-pipable" expect_ok wp optimize "$W" --not-pipable
t "now MSWIM" magic_is "$W" MSWIM
t "normal: wimlib-imagex says not pipable" not_pipable "$W"
t "normal: wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
t "optimize --pipable --compress=xpress" expect_ok wp optimize "$W" --pipable --compress=xpress
t "pipable again: wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
t "pipable again: info" is_pipable "$W"

N=$TMP/normal.wim
t "a normal WIM" expect_ok wp capture "$SRC" "$N" --compress=lzx
t "export all to - | wimlib-imagex apply -" bash -c '"$1" export "$2" all - | wimlib-imagex apply - 1 "$3" >/dev/null' _ "$WIMPACK" "$N" "$TMP/x" &&
    t "exported identical" compare_trees "$SRC" "$TMP/x"
rm -rf "$TMP/x"
t "export of a pipable WIM to a new normal one" expect_ok wp export "$W" all "$TMP/n2.wim"
t "exported: MSWIM" magic_is "$TMP/n2.wim" MSWIM
t "exported: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/n2.wim"
t "export of a pipable WIM --pipable" expect_ok wp export "$W" 2 "$TMP/p2.wim" --pipable
t "exported pipable: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/p2.wim"
t "exported pipable: info" is_pipable "$TMP/p2.wim"

t "wimlib-imagex split of a pipable WIM" expect_ok wimlib-imagex split "$TMP/p-xpress.wim" "$TMP/s.swm" 100
t "join of pipable parts" expect_ok wp join "$TMP/j.wim" "$TMP"/s*.swm
t "joined: pipable" is_pipable "$TMP/j.wim"
t "joined: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/j.wim"

D=$TMP/del.wim
cp "$TMP/p-xpress.wim" "$D"
t "delete of a pipable WIM" expect_ok wp delete "$D" 1
t "deleted: WLPWM, one image" bash -c 'test "$(head -c 5 "$1")" = WLPWM && wimlib-imagex info "$1" | grep -q "^Image Count: *1$"' _ "$D"
t "deleted: wimlib-imagex verify" expect_ok wimlib-imagex verify "$D"
t "update of a pipable WIM" expect_ok wp update "$D" 1 --command="add $SMALL /added"
t "updated: pipable" is_pipable "$D"
t "updated: wimlib-imagex verify" expect_ok wimlib-imagex verify "$D"
t "updated: apply - from a pipe" expect_ok "${from_pipe[@]}" "$D" wimlib-imagex 1 "$TMP/u" &&
    t "updated: the added tree" compare_trees "$SMALL" "$TMP/u/added"
rm -rf "$TMP/u"

t "solid + pipable refused" expect_fail 2 --mentions solid -- wp capture "$SMALL" "$TMP/sp.wim" --pipable --solid
t "solid to - refused" expect_fail 2 --mentions solid -- wp capture "$SMALL" - --solid
t "nothing written for the refusals" not test -e "$TMP/sp.wim"
t "no file named '-'" not test -e ./-
summary
