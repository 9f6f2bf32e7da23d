#!/usr/bin/env bash
# Hostile archives (issue 8): inconsistent image counts, odd XML INDEX values,
# decompression bombs (chunks claiming far more than their data holds), sizes
# near 2^64, corrupt blobs met while rewriting, flipped blob hashes, control
# characters in names. Every bad archive: exit 3, a message naming it, the
# archive untouched by commands that would rewrite it, bounded memory and time.
#
# usage: bash hostile.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

if [[ $ORACLE == 1 ]]; then
    echo "SKIP: wimpack-specific behaviour (exit codes, memory bounds)"
    exit 0
fi

DATA=$WIMPACK_SRC/tests/data
S=$TMP/small
t "build a small tree" make_small_tree "$S" || { summary; exit 1; }
OUT=$TMP/out

# wimpatch FILE ACTION ARGS...: patches an archive in place (python, stdlib only).
wimpatch() {
    "$PY" - "$@" <<'PYEOF'
import hashlib, struct, sys
path, action, args = sys.argv[1], sys.argv[2], sys.argv[3:]
d = bytearray(open(path, 'rb').read())
u64 = lambda o: struct.unpack_from('<Q', d, o)[0]
def reshdr(o):
    return u64(o) & 0x00FFFFFFFFFFFFFF, d[o + 7], u64(o + 8), u64(o + 16)
bt_size, _, bt_off, bt_usize = reshdr(0x30)
entries = [bt_off + i * 50 for i in range(bt_usize // 50)]
def xml_text():
    _, _, off, usize = reshdr(0x48)
    return off, usize, d[off:off + usize].decode('utf-16-le')
if action == 'zero-blob-table':
    d[0x30:0x48] = bytes(24)
elif action == 'xml-replace':
    off, usize, x = xml_text()
    assert args[0] in x, x
    nb = x.replace(args[0], args[1], 1).encode('utf-16-le')
    assert off + usize == len(d), 'XML must be last'
    d[off:] = nb
    struct.pack_into('<Q', d, 0x48, (u64(0x48) & ~0x00FFFFFFFFFFFFFF) | len(nb))
    struct.pack_into('<Q', d, 0x48 + 16, len(nb))
elif action == 'chunk-size':
    struct.pack_into('<I', d, 0x14, int(args[0], 0))
elif action == 'solid':
    # the first solid resource entry (§5.2): usize=2^32 magic, SOLID flag
    e = next(e for e in entries if d[e + 7] & 0x10 and u64(e + 16) == 1 << 32)
    off = u64(e + 8)
    for kv in args:
        k, v = kv.split('=')
        if k == 'usize': struct.pack_into('<Q', d, off, int(v, 0))
        if k == 'chunk': struct.pack_into('<I', d, off + 8, int(v, 0))
elif action in ('flip-blob-sha', 'flip-blob-data'):
    # the largest non-metadata, non-solid blob
    e = max((e for e in entries if not d[e + 7] & 0x12), key=lambda e: u64(e + 16))
    if action == 'flip-blob-sha':
        d[e + 30] ^= 1
    else:
        size, flags, off, usize = reshdr(e)
        assert not flags & 0x4, 'needs an uncompressed archive'
        d[off + size // 2] ^= 0x20
elif action == 'name-char':
    # in an uncompressed archive: the first occurrence of NAME (UTF-16LE) in
    # the metadata resource gets character POS replaced by CODE; the metadata
    # hash in the blob table follows (so only the name is "wrong").
    name, pos, code = args[0], int(args[1]), int(args[2], 0)
    e = next(e for e in entries if d[e + 7] & 0x2)
    size, flags, off, usize = reshdr(e)
    assert not flags & 0x4, 'needs an uncompressed archive'
    meta = d[off:off + size]
    at = meta.find(name.encode('utf-16-le'))
    assert at >= 0
    struct.pack_into('<H', meta, at + 2 * pos, code)
    d[off:off + size] = meta
    d[e + 30:e + 50] = hashlib.sha1(meta).digest()
else:
    sys.exit('unknown action ' + action)
open(path, 'wb').write(d)
PYEOF
}

# peak_rss_below MB CMD...: runs CMD (any exit code) and fails if its peak
# resident size exceeds MB megabytes.
peak_rss_below() {
    local limit=$1
    shift
    /usr/bin/time -f %M -o "$TMP/.rss" "$@" >/dev/null 2>&1
    local kb
    kb=$(tail -n 1 "$TMP/.rss")
    [[ $kb =~ ^[0-9]+$ ]] || { echo "no peak RSS measured: $(cat "$TMP/.rss")"; return 1; }
    if ((kb > limit * 1024)); then
        echo "peak RSS $((kb / 1024)) MB > $limit MB: $*"
        return 1
    fi
}
have_time=0
[[ -x /usr/bin/time ]] && have_time=1

# --- 1. header, XML and blob table disagree on the image count ------------------------
A=$TMP/counts.wim
t "capture the reference archive" expect_ok wp capture "$S" "$A" --compress=lzx || { summary; exit 1; }
wimpatch "$A" zero-blob-table
cp "$A" "$TMP/counts.orig"
t "info on an archive whose blob table is zeroed (header and XML: 1 image): code 3" \
    expect_fail 3 --mentions counts.wim --mentions "metadata resource" -- wp info "$A"
t "append to it: code 3" expect_fail 3 --mentions counts.wim -- wp append "$S" "$A" second
tw "  the archive is byte-identical afterwards" same_file "$TMP/counts.orig" "$A"
t "optimize it: code 3" expect_fail 3 --mentions counts.wim -- wp optimize "$A"
tw "  the archive is byte-identical afterwards" same_file "$TMP/counts.orig" "$A"
t "apply it: code 3" expect_fail 3 --mentions counts.wim -- wp apply "$A" "$OUT"
rm -rf "$OUT"

# --- 2. XML INDEX values that wimlib reads as numbers ------------------------------------
for v in 01 +1 ' 1'; do
    X=$TMP/index.wim
    cp "$DATA/wimlib-2images.wim" "$X"
    wimpatch "$X" xml-replace 'INDEX="1"' "INDEX=\"$v\""
    t "INDEX=\"$v\": info lists both images" expect_ok wp info "$X"
    tw "  image 1 is shown" stdout_has "Name:                   first"
    tw "  image 2 is shown" stdout_has "Name:                   second"
    t "INDEX=\"$v\": info by name" expect_ok wp info "$X" first
    t "INDEX=\"$v\": apply image 1" expect_ok wp apply "$X" 1 "$OUT" --quiet
    rm -rf "$OUT"
    t "INDEX=\"$v\": append works" expect_ok wp append "$S" "$X" third --quiet
    t "  and the result lists three images" expect_ok wp info "$X" 3
    if have wimlib-imagex; then
        t "  wimlib-imagex reads the result" expect_ok wimlib-imagex info "$X"
    fi
done
cp "$DATA/wimlib-2images.wim" "$X"
wimpatch "$X" xml-replace 'INDEX="2"' 'INDEX="1"'
t "duplicate INDEX values: code 3 (wimlib refuses too)" expect_fail 3 --mentions index.wim --mentions INDEX -- wp info "$X"

# --- 3. allocation bounded by the data, not the header's claims -------------------------
if [[ $have_time == 1 ]]; then
    # a real solid archive whose one chunk claims 1 GiB
    for kind in wimlib-lzms wimpack-lzma wimpack-zstd; do
        B=$TMP/bomb-$kind.wim
        case $kind in
        wimlib-lzms) cp "$DATA/wimlib-solid.wim" "$B" ;;
        wimpack-lzma) wp capture "$S" "$B" --solid --solid-compress=lzma --quiet ;;
        wimpack-zstd) wp capture "$S" "$B" --solid --solid-compress=zstd --quiet ;;
        esac
        wimpatch "$B" solid usize=0x40000000 chunk=0x40000000
        start=$(date +%s%N)
        t "$kind: a solid chunk claiming 1 GiB: apply fails with code 3" expect_fail 3 --mentions "bomb-$kind" -- wp apply "$B" "$OUT"
        ms=$((($(date +%s%N) - start) / 1000000))
        t "  within 3 s (took $ms ms)" test "$ms" -lt 3000
        t "  with a peak RSS under 200 MB" peak_rss_below 200 "$WIMPACK" apply "$B" "$OUT"
        rm -rf "$OUT"
    done
    # a tiny archive whose header chunk size is 1 GiB (valid for zstd/lzma)
    for c in zstd lzma; do
        H=$TMP/hugechunk-$c.wim
        if t "$c: capture with 1 GiB chunks" expect_ok wp capture "$S" "$H" --compress=$c --chunk-size=1G --quiet; then
            t "  optimize with a peak RSS under 200 MB" peak_rss_below 200 "$WIMPACK" optimize "$H" --recompress --quiet
            t "  append with a peak RSS under 200 MB" peak_rss_below 200 "$WIMPACK" append "$S" "$H" second --quiet
            t "  the result applies" expect_ok wp apply "$H" 2 "$OUT" --quiet
            rm -rf "$OUT"
        fi
    done
else
    skip "memory bounds (/usr/bin/time not installed)"
fi

# --- 4. sizes near 2^64, corrupt blobs, flipped hashes, control characters -------------
W=$TMP/wrap.wim
cp "$DATA/wimlib-solid.wim" "$W"
wimpatch "$W" solid usize=0xFFFFFFFFFFFFFFFF
cp "$W" "$TMP/wrap.orig"
t "solid size 2^64-1: info fails with code 3" expect_fail 3 --mentions wrap.wim -- wp info "$W"
t "solid size 2^64-1: optimize fails with code 3" expect_fail 3 --mentions wrap.wim -- wp optimize "$W"
tw "  the archive is byte-identical afterwards" same_file "$TMP/wrap.orig" "$W"
t "solid size 2^64-1: apply fails with code 3" expect_fail 3 --mentions wrap.wim -- wp apply "$W" "$OUT"
rm -rf "$OUT"

R=$TMP/corrupt-blob.wim
t "capture an uncompressed archive" expect_ok wp capture "$S" "$R" --compress=none
wimpatch "$R" flip-blob-data
cp "$R" "$TMP/corrupt-blob.orig"
t "optimize --recompress of an archive with a corrupt blob: code 3, names archive and blob, says corrupt" \
    expect_fail 3 --mentions corrupt-blob.wim --mentions corrupt -- wp optimize "$R" --recompress
tw "  not reported as a changed file" not grep -q "changed while" "$LAST_STDERR"
tw "  the archive is byte-identical afterwards" same_file "$TMP/corrupt-blob.orig" "$R"
t "optimize --compress=zstd of it: code 3" expect_fail 3 --mentions corrupt-blob.wim --mentions corrupt -- wp optimize "$R" --compress=zstd
t "apply of it: code 3" expect_fail 3 --mentions corrupt-blob.wim -- wp apply "$R" "$OUT"
rm -rf "$OUT"

F=$TMP/flipped-sha.wim
t "capture an archive" expect_ok wp capture "$S" "$F" --compress=lzx
wimpatch "$F" flip-blob-sha
t "a flipped SHA-1 in the blob table: apply says corrupt (3), naming the file that needs it" \
    expect_fail 3 --mentions flipped-sha.wim --mentions corrupt --mentions /sub/random.bin -- wp apply "$F" "$OUT"
rm -rf "$OUT"

N=$TMP/nul-name.wim
t "capture an uncompressed archive" expect_ok wp capture "$S" "$N" --compress=none
wimpatch "$N" name-char numbers.txt 3 0
t "a NUL in a name: apply skips the entry with a warning" expect_ok wp apply "$N" "$OUT"
tw "  the warning shows the NUL escaped" grep -qF 'num\x00ers.txt' "$LAST_STDERR"
tw "  and no raw NUL reaches stderr" not grep -qaP '\x00' "$LAST_STDERR"
rm -rf "$OUT"
E=$TMP/esc-name.wim
cp "$DATA/wimlib-lzx.wim" "$E"
wimpatch "$E" xml-replace '<NAME>sample</NAME>' '<NAME>sa&#x1B;[2Jmple</NAME>'
t "an escape character in the XML image name: info works" expect_ok wp info "$E"
tw "  and shows it escaped" grep -qF 'sa\x1B[2Jmple' "$LAST_STDOUT"
tw "  no raw ESC on stdout" not grep -qaP '\x1B' "$LAST_STDOUT"

summary
