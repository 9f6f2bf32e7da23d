#!/usr/bin/env bash
# apply/extract --recover-data (wimapply(1)): with a corrupt resource (a
# flipped byte: SHA-1 mismatch; a run of 0xFF in LZX / LZMS data: a chunk
# that does not decompress), apply and extract fail without the option (exit
# 3) and with it write every file, the corrupt one at its full size (what did
# not decode zero-filled), warn naming that file, and exit 0 as wimlib-imagex
# does. The other files are intact. The same from a pipe (apply -, extract -).
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

SRC=$TMP/src
t "build a small tree" make_small_tree "$SRC"
rand_bytes 12 400000 | base64 >"$SRC/big.txt"
big_hash=$(sha1sum "$SRC/big.txt" | cut -c1-40)
big_size=$(stat -c %s "$SRC/big.txt")

# damage SRC DEST MODE: MODE flip (one byte xor 0x55) or fill (3000 x 0xFF),
# 20000 bytes into the big file's data (found by its SHA-1 in a pipable WIM,
# by the blob table in a normal one).
damage() {
    local off
    if [[ $(head -c 5 "$1") == WLPWM ]]; then
        off=$("$PY" -c 'import sys; print(open(sys.argv[1], "rb").read().find(bytes.fromhex(sys.argv[2])) + 40)' "$1" "$big_hash")
    else
        off=$(wp info "$1" --blobs | awk -v min=300000 '/^Uncompressed size/ {u=$4} /^Offset in WIM/ {o=$5} /^Flags/ { if (u + 0 >= min + 0 && $0 !~ /METADATA/) { print o; exit } }')
    fi
    [[ -n $off && $off -gt 40 ]] || return 1
    cp "$1" "$2" && "$PY" -c '
import sys
f = open(sys.argv[1], "r+b"); o = int(sys.argv[2])
f.seek(o)
if sys.argv[3] == "flip":
    b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x55]))
else:
    f.write(b"\xff" * 3000)' "$2" $((off + 20000)) "$3"
}

# check_recovered DIR: every file but big.txt intact, big.txt full-size and different.
check_recovered() {
    cmp -s "$SRC/a.txt" "$1/a.txt" && cmp -s "$SRC/sub/numbers.txt" "$1/sub/numbers.txt" &&
        cmp -s "$SRC/sub/random.bin" "$1/sub/random.bin" &&
        [[ $(stat -c %s "$1/big.txt") == "$big_size" ]] && ! cmp -s "$SRC/big.txt" "$1/big.txt"
}

for c in lzx lzms; do
    t "$c: capture" expect_ok wp capture "$SRC" "$TMP/$c.wim" --compress=$c
    for mode in flip fill; do
        W=$TMP/$c-$mode.wim
        t "$c/$mode: damage the big file's data" damage "$TMP/$c.wim" "$W" $mode || continue
        rm -rf "$TMP/o"
        t "$c/$mode: apply fails (3)" expect_fail 3 -- wp apply "$W" "$TMP/o"
        rm -rf "$TMP/o"
        t "$c/$mode: apply --recover-data succeeds" expect_ok wp apply "$W" "$TMP/o" --recover-data &&
            t "$c/$mode: ... warns naming the file" grep -qi 'corruption in .*/big.txt' "$LAST_STDERR" &&
            t "$c/$mode: ... every file written, the others intact" check_recovered "$TMP/o"
        rm -rf "$TMP/x"
        t "$c/$mode: extract --recover-data succeeds" expect_ok wp extract "$W" 1 /big.txt /a.txt /sub --dest-dir="$TMP/x" --recover-data &&
            t "$c/$mode: ... warns naming the file" grep -qi 'corruption in .*/big.txt' "$LAST_STDERR" &&
            t "$c/$mode: ... files written" check_recovered "$TMP/x"
        t "$c/$mode: extract without it fails (3)" expect_fail 3 -- wp extract "$W" 1 /big.txt --dest-dir="$TMP/y"
    done
done

# Many small files, read in batches of back-to-back chunks (apply writes
# each on the thread that decoded it): one damaged in the middle of a batch
# fails the apply; with --recover-data only that file is named and every
# other file, before and after it in the batch, is intact.
MANY=$TMP/many
mkdir -p "$MANY"
for i in $(seq 0 39); do rand_bytes $((100 + i)) $((3000 + 7 * i)) | base64 >"$MANY/s$i"; done
t "many: capture" expect_ok wp capture "$MANY" "$TMP/many.wim" --compress=lzx
victim_size=$(stat -c %s "$MANY/s20")
off=$(wp info "$TMP/many.wim" --blobs | awk -v want="$victim_size" '/^Uncompressed size/ {u=$4} /^Offset in WIM/ {o=$5} /^Flags/ { if (u == want) { print o; exit } }')
t "many: the damaged file's resource is found" test -n "$off"
cp "$TMP/many.wim" "$TMP/many-bad.wim"
"$PY" -c '
import sys
f = open(sys.argv[1], "r+b"); o = int(sys.argv[2])
f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x55]))' "$TMP/many-bad.wim" $((off + 100))
rm -rf "$TMP/m"
t "many: apply fails (3)" expect_fail 3 -- wp apply "$TMP/many-bad.wim" "$TMP/m"
rm -rf "$TMP/m"
others_intact() {
    local i
    for i in $(seq 0 39); do
        [[ $i == 20 ]] || cmp -s "$MANY/s$i" "$1/s$i" || return 1
    done
    [[ $(stat -c %s "$1/s20") == "$victim_size" ]]
}
t "many: apply --recover-data succeeds" expect_ok wp apply "$TMP/many-bad.wim" "$TMP/m" --recover-data &&
    t "many: ... warns naming the damaged file" grep -qi 'corruption in .*/s20[^0-9]' "$LAST_STDERR" &&
    t "many: ... and no other" test "$(grep -ci 'corruption in' "$LAST_STDERR")" = 1 &&
    t "many: ... every other file intact" others_intact "$TMP/m"

# From a pipe (wimlib-imagex reads no WIM from a pipe for extract).
if [[ $ORACLE == 0 ]]; then
    P=(bash -c 'f=$1; shift; cat "$f" | "$WIMPACK" "$@"' _)
    for c in lzx lzms; do
        t "$c: capture DIR -" expect_ok bash -c '"$1" capture "$2" - --compress="$3" >"$4"' _ "$WIMPACK" "$SRC" $c "$TMP/$c.pwim"
        for mode in flip fill; do
            W=$TMP/$c-$mode.pwim
            t "$c/$mode pipable: damage" damage "$TMP/$c.pwim" "$W" $mode || continue
            rm -rf "$TMP/o"
            t "$c/$mode: apply - fails (3)" expect_fail 3 -- "${P[@]}" "$W" apply - "$TMP/o"
            rm -rf "$TMP/o"
            t "$c/$mode: apply - --recover-data succeeds" expect_ok "${P[@]}" "$W" apply - "$TMP/o" --recover-data &&
                t "$c/$mode: ... warns naming the file" grep -qi 'corruption in .*/big.txt' "$LAST_STDERR" &&
                t "$c/$mode: ... every file written" check_recovered "$TMP/o"
            rm -rf "$TMP/x"
            t "$c/$mode: extract - --recover-data succeeds" expect_ok "${P[@]}" "$W" extract - 1 /big.txt /a.txt /sub --dest-dir="$TMP/x" --recover-data &&
                t "$c/$mode: ... files written" check_recovered "$TMP/x"
            t "$c/$mode: verify - fails (3), names the blob" expect_fail 3 --mentions "$big_hash" -- "${P[@]}" "$W" verify -
        done
    done
fi
summary
