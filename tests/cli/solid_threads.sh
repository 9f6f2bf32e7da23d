#!/usr/bin/env bash
# Issue 3: every codec x chunk size (extremes included), solid resources,
# thread-count determinism, and interrupted captures.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
# Temporary archives are NAME.wim.XXXXXXXXX (9 random characters).
no_wim_temps() { ! find "$1" -maxdepth 1 -regextype posix-extended -regex '.*\.wim\.[A-Za-z0-9]{9}' | grep -q .; }
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

src=$TMP/src
make_test_tree "$src"
# files smaller than, equal to and larger than a chunk, and many duplicates
mkdir -p "$src/chunks"
for n in 32767 32768 32769 131071 131072 131073 1048577; do head -c $n /dev/urandom > "$src/chunks/r$n"; done
for i in $(seq 1 30); do cp "$src/chunks/r32768" "$src/chunks/dup$i"; done

roundtrip() {  # roundtrip NAME OPTIONS...
    local name=$1; shift
    rm -rf "$TMP/out-$name"
    t "capture $*" expect_ok wp capture "$src" "$TMP/$name.wim" --quiet "$@" &&
    t "... apply" expect_ok wp apply "$TMP/$name.wim" "$TMP/out-$name" --quiet &&
    t "... identical" compare_trees "$src" "$TMP/out-$name" --quiet
    rm -rf "$TMP/out-$name"
}
for c in zstd lzma; do
    for cs in 32K 128K 1M 64M 1G; do roundtrip "$c-$cs" --compress=$c --chunk-size=$cs; done
done
roundtrip none --compress=none
for c in zstd lzma; do
    for cs in 32K 1M 64M; do roundtrip "solid-$c-$cs" --solid --solid-compress=$c --solid-chunk-size=$cs; done
done
t "--solid --solid-compress=lzma" expect_ok wp capture "$src" "$TMP/s.wim" --solid --solid-compress=lzma --quiet
t "... is a solid archive" test "$(hdr "$TMP/s.wim" version)" = 3584
if have wimlib-imagex; then
    t "wimlib-imagex refuses a solid lzma archive cleanly" expect_fail any -- wimlib-imagex apply "$TMP/s.wim" "$TMP/wl"
    # Solid resources with a codec wimlib knows (LZX, XPRESS) are standard WIMs.
    for c in LZX XPRESS; do
        t "capture --solid --solid-compress=$c" expect_ok wp capture "$src" "$TMP/s-$c.wim" --compress=$c --solid --solid-compress=$c --quiet
        t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/s-$c.wim"
        rm -rf "$TMP/ws-$c"
        t "... wimlib-imagex applies it" expect_ok wimlib-imagex apply "$TMP/s-$c.wim" "$TMP/ws-$c"
        t "... identical" compare_trees "$src" "$TMP/ws-$c" --quiet
        rm -rf "$TMP/ws-$c"
    done
fi

# Determinism: --threads=1 and --threads=2 give the same bytes apart from
# the GUID and the XML timestamps.
t "capture --threads=1" expect_ok wp capture "$src" "$TMP/t1.wim" --threads=1 --quiet
t "capture --threads=2" expect_ok wp capture "$src" "$TMP/t2.wim" --threads=2 --quiet
same_but_guid_and_xml() {
    "$PY" - "$1" "$2" <<'PY'
import struct, sys
a, b = (open(p, 'rb').read() for p in sys.argv[1:3])
xo = struct.unpack_from('<Q', a, 0x48 + 8)[0]
assert len(a) == len(b), (len(a), len(b))
assert xo == struct.unpack_from('<Q', b, 0x48 + 8)[0]
assert a[:0x18] == b[:0x18] and a[0x28:xo] == b[0x28:xo], "archives differ before the XML"
PY
}
t "... identical bytes apart from GUID and XML times" same_but_guid_and_xml "$TMP/t1.wim" "$TMP/t2.wim"

# Progress: a live line on a terminal only; --quiet silences it.
"$WIMPACK" capture "$src" "$TMP/p.wim" --compress=zstd 2>"$TMP/progress.err" >/dev/null
t "no carriage returns on stderr when it is not a terminal" bash -c "! grep -q $'\r' '$TMP/progress.err'"
if have script; then
    script -qec "'$WIMPACK' capture '$src' '$TMP/p2.wim' --compress=zstd" /dev/null >"$TMP/tty.out" 2>&1
    t "on a terminal, a progress line is drawn" grep -q "Archiving file data: .* done" "$TMP/tty.out"
    script -qec "'$WIMPACK' capture '$src' '$TMP/p3.wim' --compress=zstd --quiet" /dev/null >"$TMP/tty2.out" 2>&1
    t "... and --quiet silences it" bash -c "! grep -q 'Archiving file data' '$TMP/tty2.out'"
else
    skip "script(1) missing: progress on a terminal not checked"
fi

# Memory is bounded by the chunks in flight, not by the input: a 1 GB file
# (sparse, so the test stays fast) peaks far below 256 MiB.
mkdir -p "$TMP/gig"
truncate -s 1G "$TMP/gig/zeros"
if [[ -x /usr/bin/time ]]; then
    t "capture of a 1 GiB file" expect_ok /usr/bin/time -f "%M" -o "$TMP/rss" "$WIMPACK" capture "$TMP/gig" "$TMP/gig.wim" --compress=zstd --quiet
    rss_kb=$(tail -n1 "$TMP/rss")
    t "... peaks at ${rss_kb} KiB RSS (< 256 MiB)" test "$rss_kb" -lt 262144
    t "apply of it" expect_ok /usr/bin/time -f "%M" -o "$TMP/rss2" "$WIMPACK" apply "$TMP/gig.wim" "$TMP/gig-out" --quiet
    rss_kb=$(tail -n1 "$TMP/rss2")
    t "... peaks at ${rss_kb} KiB RSS (< 256 MiB)" test "$rss_kb" -lt 262144
    t "... same content" cmp "$TMP/gig/zeros" "$TMP/gig-out/zeros"
    rm -rf "$TMP/gig" "$TMP/gig-out" "$TMP/gig.wim"
else
    skip "/usr/bin/time missing: memory bound not measured"
fi

# Interrupted capture: nothing at WIMFILE, an existing WIMFILE untouched.
mkdir -p "$TMP/bigsrc"
head -c 200000000 /dev/urandom > "$TMP/bigsrc/big.bin"
for sig in INT TERM; do
    rm -f "$TMP/new.wim"
    "$WIMPACK" capture "$TMP/bigsrc" "$TMP/new.wim" --compress=lzma --quiet --threads=1 &
    pid=$!
    sleep 0.5
    kill -$sig $pid
    wait $pid
    rc=$?
    t "SIG$sig during capture exits non-zero ($rc)" test $rc -ne 0
    t "... leaves no archive at WIMFILE" test ! -e "$TMP/new.wim"
    t "... and no temporary file" no_wim_temps "$TMP"
    cp "$TMP/t1.wim" "$TMP/existing.wim"
    "$WIMPACK" capture "$TMP/bigsrc" "$TMP/existing.wim" --compress=lzma --quiet --threads=1 &
    pid=$!
    sleep 0.5
    kill -$sig $pid
    wait $pid
    t "... an existing WIMFILE is untouched" cmp -s "$TMP/t1.wim" "$TMP/existing.wim"
done
summary
