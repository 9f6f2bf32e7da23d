#!/usr/bin/env bash
# Writers never lose data (issue 8, defects 1 and 4): one writer at a time
# (flock, as wimlib), readers see the old archive or the new one, and every
# failure -- disk full, SIGINT/SIGTERM at any point, a killed lock holder --
# leaves the archive byte-identical to what it was.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { skip "wimpack-only scenarios"; summary; exit; }

src=$TMP/src
make_small_tree "$src"
big=$TMP/big
mkdir -p "$big"
head -c 40000000 /dev/urandom >"$big/random.bin"
echo "small" >"$big/small.txt"
A=$TMP/a.wim
t "capture the base archive" expect_ok wp capture "$src" "$A" base --quiet
cp "$A" "$TMP/orig.wim"

image_count() { "$WIMPACK" info "$1" --header 2>/dev/null | awk -F= '/^Image Count/ {gsub(/ /,"",$2); print $2; exit}'; }
t "info reports one image" test "$(image_count "$A")" = 1

# --- 1. a second writer fails at once, with exit code 7 -----------------------
# flock -o: only the flock process holds the lock (not its sleep child)
flock -o "$A" sleep 30 &
holder=$!
sleep 0.3
t "append while another process holds the writer lock fails with exit 7" \
    expect_fail 7 --mentions "locked" -- wp append "$src" "$A" second --quiet
t "... optimize too" expect_fail 7 --mentions "locked" -- wp optimize "$A" --quiet
t "... and capture over it" expect_fail 7 --mentions "locked" -- wp capture "$src" "$A" --quiet
t "... the archive is byte-identical" cmp "$A" "$TMP/orig.wim"
t "readers are not blocked by the lock" expect_ok wp info "$A"
# A lock held by a killed process dies with it.
kill -9 "$holder"
wait "$holder" 2>/dev/null
t "after the lock holder is killed -9, append works" expect_ok wp append "$src" "$A" second --quiet
t "... two images now" test "$(image_count "$A")" = 2
if have wimlib-imagex; then
    flock -o "$A" sleep 30 &
    holder=$!
    sleep 0.3
    t "wimlib-imagex respects our lock (same flock)" bash -c "! wimlib-imagex append '$src' '$A' third >/dev/null 2>&1"
    kill "$holder"
    wait "$holder" 2>/dev/null
fi

# --- 1b. two real appends at once: nothing is lost ----------------------------
cp "$TMP/orig.wim" "$A"
for i in 1 2; do
    mkdir -p "$TMP/c$i"
    head -c 20000000 /dev/urandom >"$TMP/c$i/data"
done
"$WIMPACK" append "$TMP/c1" "$A" one --quiet --threads=1 2>"$TMP/e1" &
p1=$!
"$WIMPACK" append "$TMP/c2" "$A" two --quiet --threads=1 2>"$TMP/e2" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
ok=0
for r in $r1 $r2; do [[ $r == 0 ]] && ok=$((ok + 1)); done
t "concurrent appends: each exits 0 or 7 ($r1, $r2), at most one 7" bash -c "[[ '$r1$r2' != 77 ]]"
t "... each exits 0 or 7 ($r1, $r2)" bash -c "[[ $r1 =~ ^(0|7)$ && $r2 =~ ^(0|7)$ ]]"
t "... the image count is 1 + the successful appends ($ok)" test "$(image_count "$A")" = $((1 + ok))
if have wimlib-imagex; then
    t "... and every blob verifies (wimlib-imagex verify)" expect_ok wimlib-imagex verify "$A"
fi

# --- 1c. a reader during appends sees the old archive or the new one -----------
cp "$TMP/orig.wim" "$A"
(
    for i in 1 2 3; do
        head -c 8000000 /dev/urandom >"$big/random.bin"
        "$WIMPACK" append "$big" "$A" "r$i" --quiet --threads=1 || exit 1
    done
) &
writer=$!
bad=0
reads=0
while kill -0 "$writer" 2>/dev/null; do
    if ! "$WIMPACK" info "$A" >/dev/null 2>"$TMP/rerr"; then
        bad=$((bad + 1))
        cat "$TMP/rerr" >&2
    fi
    reads=$((reads + 1))
done
wait "$writer"
t "appends while a reader loops succeed" test $? = 0
t "... every one of $reads concurrent reads succeeded" test $bad = 0
t "... four images at the end" test "$(image_count "$A")" = 4

# --- 4. SIGINT/SIGTERM at random points: byte-identical ------------------------
head -c 40000000 /dev/urandom >"$big/random.bin"
for sig in INT TERM INT TERM INT TERM; do
    cp "$TMP/orig.wim" "$A"
    delay=$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.2f", 0.05 + rand() * 1.2 }')
    "$WIMPACK" append "$big" "$A" interrupted --quiet --threads=1 2>"$TMP/sigerr" &
    pid=$!
    sleep "$delay"
    kill -"$sig" "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [[ $rc == 0 ]]; then
        t "SIG$sig after ${delay}s came after the commit: the append is complete" test "$(image_count "$A")" = 2
    else
        t "SIG$sig after ${delay}s: exit $rc is 128+signal" test $rc -eq $((128 + $(kill -l "$sig")))
        if grep -q "had already been written completely" "$TMP/sigerr"; then
            # the signal came after the header write: the append is whole
            t "... it came after the commit, and the append is complete" test "$(image_count "$A")" = 2
        else
            t "... the archive is byte-identical to before" cmp "$A" "$TMP/orig.wim"
            # Rolled back, or stopped before anything was written (then
            # there is nothing to roll back and only the signal is named).
            t "... and stderr says it was rolled back or interrupted before writing" \
                grep -qE "rolled back|^wimpack: interrupted by SIG$sig\$" "$TMP/sigerr"
        fi
    fi
done
t "no temporary files left" bash -c "! ls '$TMP' | grep -qE '\.wim\.[A-Za-z0-9]{9}$'"

# --- 4b. disk full: in place, rebuild and new archives -------------------------
if [[ $(id -u) == 0 ]] && mkdir -p "$TMP/full" && mount -t tmpfs -o size=12m tmpfs "$TMP/full" 2>/dev/null; then
    trap 'umount "$TMP/full" 2>/dev/null; _cleanup' EXIT
    head -c 20000000 /dev/urandom >"$big/random.bin"
    cp "$TMP/orig.wim" "$TMP/full/a.wim"
    cp "$TMP/orig.wim" "$TMP/before.wim"
    t "append onto a full disk fails" expect_fail 1 --mentions "No space left" --mentions "left unchanged" -- \
        wp append "$big" "$TMP/full/a.wim" nospace --quiet --compress=LZX
    t "... the archive is byte-identical (truncated back, header restored)" cmp "$TMP/full/a.wim" "$TMP/before.wim"
    t "... and still applies" expect_ok wp apply "$TMP/full/a.wim" "$TMP/nospace-out" --quiet
    t "append --rebuild onto a full disk fails" expect_fail 1 --mentions "No space left" -- \
        wp append "$big" "$TMP/full/a.wim" nospace --rebuild --quiet
    t "... the archive is byte-identical" cmp "$TMP/full/a.wim" "$TMP/before.wim"
    t "capture onto a full disk fails" expect_fail 1 --mentions "No space left" -- wp capture "$big" "$TMP/full/new.wim" --quiet
    t "... and leaves nothing behind" bash -c "[[ \$(ls '$TMP/full') == a.wim ]]"
    # fill the disk so that even the optimize's rebuild does not fit
    head -c $((12 * 1024 * 1024)) /dev/zero >"$TMP/full/filler" 2>/dev/null
    rm -f "$TMP/full/new.wim"
    t "optimize onto a full disk fails" expect_fail 1 --mentions "No space left" -- wp optimize "$TMP/full/a.wim" --recompress --quiet
    t "... the archive is byte-identical" cmp "$TMP/full/a.wim" "$TMP/before.wim"
    t "... no temporary file left" bash -c "[[ \$(ls '$TMP/full' | sort | tr '\n' ' ') == 'a.wim filler ' ]]"
    umount "$TMP/full"
else
    skip "disk-full scenarios (need root and tmpfs)"
fi

# --- what a rebuild replaces keeps its owner and mode; odd WIMFILEs ---------
cp "$TMP/orig.wim" "$TMP/private.wim"
chmod 600 "$TMP/private.wim"
[[ $(id -u) == 0 ]] && chown nobody:nogroup "$TMP/private.wim" 2>/dev/null
before=$(stat -c '%a %U %G' "$TMP/private.wim")
t "optimize a 0600 archive" expect_ok wp optimize "$TMP/private.wim" --recompress --quiet
t "... the rebuilt archive keeps mode and owner ($before)" test "$(stat -c '%a %U %G' "$TMP/private.wim")" = "$before"
t "append --rebuild" expect_ok wp append "$src" "$TMP/private.wim" again --rebuild --quiet
t "... keeps them too" test "$(stat -c '%a %U %G' "$TMP/private.wim")" = "$before"
t "capture over it" expect_ok wp capture "$src" "$TMP/private.wim" --quiet
t "... keeps them too" test "$(stat -c '%a %U %G' "$TMP/private.wim")" = "$before"
mkfifo "$TMP/fifo"
T_TIMEOUT=10
t "info of a FIFO fails at once instead of waiting for a writer" expect_fail 1 --mentions "not a regular file" -- wp info "$TMP/fifo"
t "append to a FIFO too" expect_fail 1 --mentions "not a regular file" -- wp append "$src" "$TMP/fifo" --quiet
t "apply from a FIFO too" expect_fail 1 --mentions "not a regular file" -- wp apply "$TMP/fifo" "$TMP/fifo-out" --quiet
t "capture to a FIFO too" expect_fail 1 --mentions "not a regular file" -- wp capture "$src" "$TMP/fifo" --quiet
mkdir -p "$TMP/adir"
t "capture to a directory is refused before any work" expect_fail 1 --mentions "is a directory" -- wp capture "$src" "$TMP/adir" --quiet
T_TIMEOUT=60

# --- SIGINT during apply says so ----------------------------------------------
mkdir -p "$TMP/many"
"$PY" -c '
import os, sys
for d in range(100):
    os.mkdir(f"{sys.argv[1]}/d{d}")
    for f in range(300):
        with open(f"{sys.argv[1]}/d{d}/f{f}", "w") as fh: fh.write(f"{d} {f}\n")
' "$TMP/many"
t "capture 30000 small files" expect_ok wp capture "$TMP/many" "$TMP/many.wim" --compress=none --quiet
"$WIMPACK" apply "$TMP/many.wim" "$TMP/applied" --quiet --threads=1 2>"$TMP/aerr" &
pid=$!
sleep 0.4
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [[ $rc == 0 ]]; then
    skip "SIGINT during apply (the apply finished first)"
else
    t "SIGINT during apply exits 130" test $rc = 130
    t "... with a message" grep -q "interrupted by SIGINT" "$TMP/aerr"
fi

summary
