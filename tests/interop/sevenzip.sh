#!/usr/bin/env bash
# 7-Zip as a second, independent reader: `7zz l` lists wimpack's uncompressed
# archive, `7zz t` tests it and `7zz x` extracts the same file contents. For the
# private zstd/LZMA codecs 7-Zip may fail, but must not extract wrong data
# silently.
#
# usage: bash sevenzip.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
SZ=
for c in 7zz 7z; do have "$c" && { SZ=$c; break; }; done
[[ -n $SZ ]] || { echo "SKIP: $T_NAME needs 7zz (package 7zip), which is not installed"; exit 0; }

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }

# same_contents SRC OUT: every directory and regular file of SRC exists in OUT
# with the same bytes (7-Zip adds NAME:_ files for reparse points and handles
# symlinks its own way, so only files and directories are compared).
same_contents() {
    "$PY" - "$1" "$2" <<'PYEOF'
import os, sys
src, out = sys.argv[1], sys.argv[2]
bad, n = [], 0
for d, dirs, files in os.walk(src):
    rel = os.path.relpath(d, src)
    for name in dirs:
        p = os.path.normpath(os.path.join(rel, name))
        if os.path.islink(os.path.join(d, name)):
            continue
        if not os.path.isdir(os.path.join(out, p)):
            bad.append(f"{p!r}: directory missing")
    for name in files:
        p = os.path.normpath(os.path.join(rel, name))
        a = os.path.join(d, name)
        if os.path.islink(a):
            continue
        b = os.path.join(out, p)
        n += 1
        if not os.path.isfile(b) or os.path.islink(b):
            bad.append(f"{p!r}: file missing"); continue
        if open(a, 'rb').read() != open(b, 'rb').read():
            bad.append(f"{p!r}: contents differ")
if bad:
    print(f"{len(bad)} difference(s):"); [print("  " + x) for x in bad[:20]]; sys.exit(1)
print(f"{n} files identical")
PYEOF
}

W=$TMP/none.wim
if t "wimpack capture --compress=none" expect_ok wp capture "$SRC" "$W" --compress=none; then
    if t "7zz l lists it" expect_ok "$SZ" l -ba "$W"; then
        t "7zz l: lists sizes/big_mixed.bin" grep -q 'sizes/big_mixed.bin' "$LAST_STDOUT"
        t "7zz l: lists the deep leaf" grep -q 'level40/leaf.txt' "$LAST_STDOUT"
        t "7zz l: lists a Unicode name" grep -q 'ünïcödé-ファイル-😀.txt' "$LAST_STDOUT"
    fi
    t "7zz l -slt: reports type wim" bash -c '"$1" l -slt "$2" | grep -qx "Type = wim"' _ "$SZ" "$W"
    t "7zz t: archive tests OK" expect_ok "$SZ" t "$W"
    t "7zz x extracts it" expect_ok "$SZ" x -snld -y "-o$TMP/x-none" "$W" &&
        t "7zz x: same file contents as the source" same_contents "$SRC" "$TMP/x-none"
    rm -rf "$TMP/x-none"
fi

# With --unix-data and --check the file data is the same; 7-Zip must still read it.
W=$TMP/unix.wim
if t "wimpack capture --compress=none --unix-data --check" expect_ok wp capture "$SRC" "$W" --compress=none --unix-data --check; then
    t "7zz x extracts it" expect_ok "$SZ" x -snld -y "-o$TMP/x-unix" "$W" &&
        t "7zz x: same file contents" same_contents "$SRC" "$TMP/x-unix"
    rm -rf "$TMP/x-unix"
fi

# Standard codecs once wimpack has them: 7-Zip decodes XPRESS/LZX/LZMS itself.
for c in XPRESS LZX LZMS; do
    W=$TMP/$c.wim
    expect_ok_or_unsupported wp capture "$SRC" "$W" --compress=$c >"$TMP/.why" 2>&1
    case $? in
    0)
        t "$c: 7zz x extracts it" expect_ok "$SZ" x -snld -y "-o$TMP/x-$c" "$W" &&
            t "$c: 7zz x: same file contents" same_contents "$SRC" "$TMP/x-$c"
        ;;
    10) skip "$c: wimpack says not supported yet" ;;
    *) fail "$c: wimpack capture"; sed 's/^/       /' "$TMP/.why" ;;
    esac
    rm -rf "$W" "$TMP/x-$c"
done

# Private codecs: an error is fine, silently wrong data is not.
if [[ $ORACLE == 1 ]]; then
    skip "zstd/lzma (oracle mode)"
else
    for c in zstd lzma; do
        W=$TMP/$c.wim
        if t "$c: wimpack capture" expect_ok wp capture "$SRC" "$W" --compress=$c; then
            _new_logs
            timeout 60 "$SZ" x -snld -y "-o$TMP/x-$c" "$W" >"$LAST_STDOUT" 2>"$LAST_STDERR"
            rc=$?
            if [[ $rc -ne 0 ]]; then
                pass "$c: 7zz x reports an error (exit $rc): $(cat "$LAST_STDERR" "$LAST_STDOUT" | grep -m1 -i error | cut -c1-80)"
            else
                t "$c: 7zz x succeeded, so the data must be right" same_contents "$SRC" "$TMP/x-$c"
            fi
        fi
        rm -rf "$W" "$TMP/x-$c"
    done
fi

summary
