#!/usr/bin/env bash
# --unsafe-compact (wimoptimize(1), wimdelete(1), wimupdate(1), wimexport(1),
# wimappend): in-place compaction without a temporary file, holes squeezed
# out, the file truncated; the combinations wimlib-imagex refuses are
# refused (usage errors); SIGINT during a compaction waits for it to finish.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario (exit codes differ)"; exit 0; }

s1=$TMP/s1
s2=$TMP/s2
make_test_tree "$s1"
mkdir -p "$s2/sub"
rand_bytes 7 400000 >"$s2/big.bin"
rand_bytes 8 50000 >"$s2/sub/other.bin"
echo "shared" >"$s2/small.txt"

size() { stat -c %s "$1"; }
count() { "$WIMPACK" info "$1" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["image_count"])'; }
no_temp() { ! ls "$TMP" | grep -qE '\.wim\.[A-Za-z0-9]{9}$'; }
verify() {
    if have wimlib-imagex; then wimlib-imagex verify "$1" >/dev/null 2>&1 || return 1; fi
    return 0
}
applies_as() {  # WIM IMAGE TREE: both tools apply it identically to TREE
    rm -rf "$TMP/out"
    "$WIMPACK" apply "$1" "$2" "$TMP/out" --quiet || return 1
    compare_trees "$3" "$TMP/out" --quiet || return 1
    if have wimlib-imagex; then
        rm -rf "$TMP/out"
        wimlib-imagex apply "$1" "$2" "$TMP/out" >/dev/null 2>&1 || return 1
        compare_trees "$3" "$TMP/out" --quiet || return 1
    fi
}

W=$TMP/w.wim
build() {  # three images: s1, s2, s1 again
    rm -f "$W"
    wp capture "$s1" "$W" one --quiet "$@" && wp append "$s2" "$W" two --quiet && wp append "$s1" "$W" three --quiet
}

# --- delete --unsafe-compact ------------------------------------------------
t "build a 3-image archive" build
before=$(size "$W")
t "delete image 2 --unsafe-compact" expect_ok wp delete "$W" 2 --unsafe-compact --quiet
t "... warns that it must not be interrupted" grep -q "compacted in place" "$LAST_STDERR"
t "... the file shrank by image 2's data ($before -> $(size "$W"))" test "$(size "$W")" -lt $((before - 400000))
t "... two images left" test "$(count "$W")" = 2
t "... wimlib-imagex verify accepts it" verify "$W"
t "... image 1 applies identically" applies_as "$W" 1 "$s1"
t "... image 2 (was three) applies identically" applies_as "$W" 2 "$s1"
t "... no temporary file was used" no_temp

# Same result as the safe rebuild, size-wise.
t "build again" build
cp "$W" "$TMP/r.wim"
t "delete (rebuild) for comparison" expect_ok wp delete "$TMP/r.wim" 2 --quiet
t "delete --soft --unsafe-compact is a compaction too" expect_ok wp delete "$W" 2 --soft --unsafe-compact --quiet
t "... as small as the rebuild (within 4 KiB)" test "$(size "$W")" -le $(($(size "$TMP/r.wim") + 4096))
t "... verify" verify "$W"

# --- optimize --unsafe-compact after soft deletes and updates ---------------
t "build again" build
t "soft delete image 2" expect_ok wp delete "$W" two --soft --quiet
t "update image 1 in place (leaves a hole)" expect_ok wp update "$W" 1 --command "delete --recursive /sizes" --quiet
holey=$(size "$W")
t "optimize --unsafe-compact" expect_ok wp optimize "$W" --unsafe-compact --quiet
t "... removed the holes ($holey -> $(size "$W"))" test "$(size "$W")" -lt $((holey - 400000))
t "... verify" verify "$W"
t "... image 2 (three) applies identically" applies_as "$W" 2 "$s1"
t "optimize --unsafe-compact again: nothing to move, same size" bash -c "s=\$(stat -c %s '$W'); '$WIMPACK' optimize '$W' --unsafe-compact --quiet 2>/dev/null && test \$(stat -c %s '$W') -le \$s"
t "... verify" verify "$W"
t "optimize --unsafe-compact --check writes an integrity table" expect_ok wp optimize "$W" --unsafe-compact --check --quiet
t "... verify (integrity checked)" verify "$W"
t "... wimpack info --check" expect_ok wp info "$W" --check

# --- update --unsafe-compact --------------------------------------------------
t "build again" build
cp -a "$s2" "$TMP/s2b"
rm "$TMP/s2b/big.bin"
echo "added" >"$TMP/new.txt"
cp -a "$TMP/new.txt" "$TMP/s2b/new.txt"
before=$(size "$W")
t "update image 2 --unsafe-compact: delete big.bin, add a file" \
    expect_ok wp update "$W" 2 --unsafe-compact --quiet --command "delete /big.bin"
t "... the file shrank" test "$(size "$W")" -lt $((before - 300000))
t "update --unsafe-compact --rebuild (compaction wins, as with wimlib)" \
    bash -c "'$WIMPACK' update '$W' 2 --unsafe-compact --rebuild --quiet --command \"add '$TMP/new.txt' /new.txt\" 2>/dev/null"
t "... verify" verify "$W"
t "... image 2 applies as expected" applies_as "$W" 2 "$TMP/s2b"
t "... no temporary file" no_temp

# --- export into an existing archive -----------------------------------------
t "build again" build
wp capture "$s2" "$TMP/src.wim" srcimg --quiet
t "soft delete image 2 of the destination" expect_ok wp delete "$W" 2 --soft --quiet
before=$(size "$W")
t "export --unsafe-compact into it" expect_ok wp export "$TMP/src.wim" 1 "$W" --unsafe-compact --quiet
t "... the hole was reused ($before -> $(size "$W"))" test "$(size "$W")" -lt $((before + 10000))
t "... verify" verify "$W"
t "... the exported image applies identically" applies_as "$W" srcimg "$s2"
t "... image 1 still applies" applies_as "$W" 1 "$s1"

# --- append --unsafe-compact ---------------------------------------------------
t "soft delete image 1" expect_ok wp delete "$W" 1 --soft --quiet
t "append --unsafe-compact" expect_ok wp append "$s2" "$W" appended --unsafe-compact --quiet
t "... verify" verify "$W"
t "... the appended image applies" applies_as "$W" appended "$s2"
t "append --unsafe-compact --solid (new data solid)" expect_ok wp append "$s1" "$W" solidone --unsafe-compact --solid --solid-compress=LZX --quiet
t "... verify" verify "$W"
t "... applies" applies_as "$W" solidone "$s1"
t "delete --unsafe-compact with a solid resource present" expect_ok wp delete "$W" appended --unsafe-compact --quiet
t "... verify" verify "$W"
t "... the solid image applies" applies_as "$W" solidone "$s1"

# A solid archive (all data in one solid resource): kept whole.
rm -f "$TMP/s.wim"
t "solid archive with 2 images" bash -c "'$WIMPACK' capture '$s1' '$TMP/s.wim' a --solid --solid-compress=LZX --quiet && '$WIMPACK' append '$s2' '$TMP/s.wim' b --solid --solid-compress=LZX --quiet"
t "delete image 1 --unsafe-compact" expect_ok wp delete "$TMP/s.wim" 1 --unsafe-compact --quiet
t "... verify" verify "$TMP/s.wim"
t "... image b applies" applies_as "$TMP/s.wim" b "$s2"

# --- refused combinations (wimlib-imagex: "cannot be compacted", here usage) --
t "build again" build
cp "$W" "$TMP/orig.wim"
t "optimize --unsafe-compact --recompress" expect_fail 2 --mentions recompress -- wp optimize "$W" --unsafe-compact --recompress
t "optimize --unsafe-compact --compress=xpress" expect_fail 2 --mentions compress -- wp optimize "$W" --unsafe-compact --compress=xpress
t "optimize --unsafe-compact --chunk-size=64K" expect_fail 2 --mentions chunk -- wp optimize "$W" --unsafe-compact --chunk-size=64K
t "optimize --unsafe-compact --solid" expect_fail 2 --mentions solid -- wp optimize "$W" --unsafe-compact --solid
t "export --unsafe-compact --recompress" expect_fail 2 --mentions recompress -- wp export "$TMP/src.wim" 1 "$W" x --unsafe-compact --recompress
t "export --unsafe-compact to a new file" expect_fail 2 --mentions existing -- wp export "$TMP/src.wim" 1 "$TMP/new.wim" --unsafe-compact
t "... not created" test ! -e "$TMP/new.wim"
t "the refusals left the archive byte-identical" cmp "$W" "$TMP/orig.wim"

# --- SIGTERM (as SIGINT/SIGHUP; a background job of a script ignores SIGINT):
# before the first move the archive is rolled back; after it the compaction
# finishes first. Either way the archive is whole. Image 1's 5 MB go, image 2's
# 40 MB move down.
mkdir -p "$TMP/sm" "$TMP/bigsrc"
rand_bytes 41 5000000 >"$TMP/sm/x.bin"
rand_bytes 42 20000000 >"$TMP/bigsrc/a.bin"
rand_bytes 43 20000000 >"$TMP/bigsrc/b.bin"
rm -f "$TMP/big.wim"
wp capture "$TMP/sm" "$TMP/big.wim" sm --compress=none --quiet
wp append "$TMP/bigsrc" "$TMP/big.wim" big --quiet
deferred=0
for delay in 0.005 0.02 0.04 0.08; do
    cp "$TMP/big.wim" "$TMP/i.wim"
    "$WIMPACK" delete "$TMP/i.wim" sm --unsafe-compact --quiet 2>"$TMP/i.err" &
    pid=$!
    sleep "$delay"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    t "delete --unsafe-compact, SIGTERM after ${delay}s (exit $rc): the archive verifies" verify "$TMP/i.wim"
    if cmp -s "$TMP/i.wim" "$TMP/big.wim"; then
        t "... rolled back (byte-identical)" true
    else
        t "... compacted completely: 1 image" test "$(count "$TMP/i.wim")" = 1
        t "... image big applies" applies_as "$TMP/i.wim" big "$TMP/bigsrc"
        if grep -q "finishing the compaction first" "$TMP/i.err"; then
            deferred=1
            t "... the deferred signal still exits 143" test "$rc" = 143
            t "... and says the archive was written completely" grep -q "had already been written completely" "$TMP/i.err"
        fi
    fi
done
[[ $deferred == 1 ]] || skip "no SIGTERM landed during a compaction (timing)"

summary
