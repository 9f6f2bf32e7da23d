#!/usr/bin/env bash
# Issue 8, the capture side: a capture never reads a file from outside the
# source tree (a directory swapped for a symlink while the capture runs),
# --continue-on-change on a tree in use, sparse files, and the directory
# depth limit shared with apply.
#
# The races are made reliable without any hook in the product: a large,
# slowly compressed first file (lzma:9, one thread) keeps the writer busy
# for seconds after the scan, and the tree is changed in that window.
#
# usage: bash capture_safety.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

# A capture in the background, started on a tree whose first blob ("a_big",
# scan order) takes seconds to compress; run_changed waits until the scan is
# surely over, runs the given change, and waits for the capture.
stall_tree() {
    mkdir -p "$1/zdir" || return 1
    head -c 16000000 /dev/urandom >"$1/a_big"
}
run_changed() {  # run_changed WIM "CHANGE COMMANDS" CAPTURE_OPTIONS...
    local wim=$1 change=$2
    shift 2
    "$WIMPACK" capture "$src" "$wim" --compress=lzma:9 --threads=1 --quiet "$@" >"$TMP/bg.out" 2>"$TMP/bg.err" &
    local pid=$!
    sleep 1
    eval "$change"
    wait $pid
    echo $? >"$TMP/bg.rc"
}
bg_rc() { cat "$TMP/bg.rc"; }
no_secret_in() { [[ ! -e $1 ]] || ! grep -qa SECRET "$1"; }  # no archive holds no secret
bg_err_has() { grep -qF -- "$1" "$TMP/bg.err" || { echo "stderr lacks '$1':"; cat "$TMP/bg.err"; return 1; }; }

# --- 1. a directory swapped for a symlink to the outside --------------------
src=$TMP/src
outside=$TMP/outside
stall_tree "$src"
mkdir -p "$outside"
printf 'inside-data-1\n' >"$src/zdir/file"
printf 'SECRET-DATA-1\n' >"$outside/file"  # same size as the file it replaces
run_changed "$TMP/swap.wim" 'mv "$src/zdir" "$src/zdir.old" && ln -s "$outside" "$src/zdir"'
rc=$(bg_rc)
if [[ $rc == 0 ]]; then
    # The reader got there before the swap: the archive must hold the inside file.
    t "swap race: the capture finished before the swap (archive checked below)" true
else
    t "swap race: capture fails with exit 1" test "$rc" = 1
    t "swap race: ... naming the file and the change" bg_err_has "zdir/file' changed during capture"
fi
t "swap race: the secret is nowhere in the archive" no_secret_in "$TMP/swap.wim"
if [[ $rc == 0 ]]; then
    t "swap race: apply" expect_ok wp apply "$TMP/swap.wim" "$TMP/swap-out" --quiet
    t "swap race: applied data is the inside file" not grep -rqa SECRET "$TMP/swap-out"
fi
rm -f "$src/zdir"
mv "$src/zdir.old" "$src/zdir"

# The same with --continue-on-change: the archive is written, without the
# secret, and the file is stored as zeros of its scanned size.
run_changed "$TMP/swap2.wim" 'mv "$src/zdir" "$src/zdir.old" && ln -s "$outside" "$src/zdir"' --continue-on-change
rc=$(bg_rc)
t "swap race, --continue-on-change: exit 6 (or 0 if the read came first)" test "$rc" = 6 -o "$rc" = 0
t "swap race, --continue-on-change: the secret is nowhere in the archive" no_secret_in "$TMP/swap2.wim"
t "swap race, --continue-on-change: apply" expect_ok wp apply "$TMP/swap2.wim" "$TMP/swap2-out" --quiet
t "swap race, --continue-on-change: the secret was not applied" not grep -rqa SECRET "$TMP/swap2-out"
if [[ $rc == 6 ]]; then
    t "swap race, --continue-on-change: warning names the file" bg_err_has "zdir/file' changed during capture"
    t "swap race, --continue-on-change: stored as zeros" cmp "$TMP/swap2-out/zdir/file" <(head -c 14 /dev/zero)
fi
rm -rf "$src/zdir" "$TMP/swap-out" "$TMP/swap2-out" "$TMP"/swap*.wim
mv "$src/zdir.old" "$src/zdir"

# --- 2. files that change while the capture runs -----------------------------
reset_live() {
    rm -f "$src/zdir/"*
    printf '0123456789' >"$src/zdir/grows"
    printf 'abcdefghijklmnop' >"$src/zdir/shrinks"
    printf 'vanishing file contents' >"$src/zdir/vanishes"
    # Same size and content: pre-hashed and deduplicated (dup2 is dropped
    # for dup1's blob), then dup1 changes: dup2 must still get its blob.
    printf 'duplicate-content-xyz' >"$src/zdir/dup1"
    printf 'duplicate-content-xyz' >"$src/zdir/dup2"
    printf 'stable' >"$src/zdir/stable"
}
live_change='printf MORE >>"$src/zdir/grows"; printf abc >"$src/zdir/shrinks"; rm "$src/zdir/vanishes"; printf "DUPLICATE-CONTENT-XYZ" >"$src/zdir/dup1"'

reset_live
run_changed "$TMP/live.wim" "$live_change"
t "live tree, default: capture fails with exit 1" test "$(bg_rc)" = 1
t "live tree, default: ... naming a changed file" bg_err_has "' changed"
t "live tree, default: ... and suggesting --continue-on-change" bg_err_has "--continue-on-change"
t "live tree, default: no archive left behind" test ! -e "$TMP/live.wim"

reset_live
run_changed "$TMP/live.wim" "$live_change" --continue-on-change
t "live tree, --continue-on-change: exit 6" test "$(bg_rc)" = 6
t "live tree, --continue-on-change: one warning per changed file" \
    test "$(grep -c "changed\|shrank\|grew\|removed" "$TMP/bg.err")" -ge 4
for f in grows shrinks vanishes dup1; do
    t "live tree, --continue-on-change: warning for $f" bg_err_has "zdir/$f'"
done
t "live tree, --continue-on-change: the final message" bg_err_has "changed while being read"
t "live tree, --continue-on-change: apply verifies every blob" expect_ok wp apply "$TMP/live.wim" "$TMP/live-out" --quiet
o=$TMP/live-out/zdir
t "live tree: grown file cut to its scanned size" cmp "$o/grows" <(printf '0123456789')
t "live tree: shrunk file padded with zeros" cmp "$o/shrinks" <(printf 'abc'; head -c 13 /dev/zero)
t "live tree: vanished file stored as zeros" cmp "$o/vanishes" <(head -c 23 /dev/zero)
t "live tree: changed duplicate stored as read" cmp "$o/dup1" <(printf 'DUPLICATE-CONTENT-XYZ')
t "live tree: its unchanged twin keeps its own content" cmp "$o/dup2" <(printf 'duplicate-content-xyz')
t "live tree: unchanged file intact" cmp "$o/stable" <(printf 'stable')
t "live tree: big file intact" cmp "$TMP/live-out/a_big" "$src/a_big"
rm -rf "$TMP/live-out" "$TMP/live.wim"

# --continue-on-change on a tree that does not change: exit 0, no warning.
reset_live
t "unchanged tree with --continue-on-change: exit 0" expect_ok wp capture "$src/zdir" "$TMP/calm.wim" --continue-on-change --compress=zstd
t "... append too" expect_ok wp append "$src/zdir" "$TMP/calm.wim" calm2 --continue-on-change
t "... no warnings" test ! -s "$LAST_STDERR"
rm -rf "$src" "$outside" "$TMP/calm.wim"

# --- 3. sparse files ---------------------------------------------------------
sp=$TMP/sparse
mkdir -p "$sp"
"$PY" - "$sp/big" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.pwrite(fd, b"start of the file", 0)
os.pwrite(fd, b"in the middle" * 100, 1 << 30)
os.ftruncate(fd, (2 << 30) + 5)
os.close(fd)
EOF
printf 'small' >"$sp/small"
# A second file with the same content: apply writes it from the first one.
cp --sparse=always "$sp/big" "$sp/big-copy"
t "sparse: capture a 2 GiB sparse file" expect_ok wp capture "$sp" "$TMP/sparse.wim" --compress=zstd
t "sparse: apply" expect_ok wp apply "$TMP/sparse.wim" "$TMP/sparse-out" --quiet
t "sparse: same bytes" cmp "$sp/big" "$TMP/sparse-out/big"
t "sparse: same size" test "$(stat -c %s "$TMP/sparse-out/big")" = $(((2 << 30) + 5))
t "sparse: applied file stays sparse ($(stat -c %b "$TMP/sparse-out/big" 2>/dev/null) blocks)" \
    test "$(stat -c %b "$TMP/sparse-out/big")" -lt 1000
t "sparse: the identical copy is applied sparse too ($(stat -c %b "$TMP/sparse-out/big-copy" 2>/dev/null) blocks)" \
    test "$(stat -c %b "$TMP/sparse-out/big-copy")" -lt 1000
t "sparse: ... with the same bytes" cmp "$sp/big" "$TMP/sparse-out/big-copy"
rm -rf "$sp" "$TMP/sparse.wim" "$TMP/sparse-out"

# --- 4. the depth limit apply enforces (image::kMaxDepth = 16384) -----------
# A directory at depth 16384 (root = 0) is refused by every WIM reader, so
# capture refuses to write one; depth 16383 round-trips. Paths that deep
# exceed PATH_MAX: the trees are built and checked with directory fds.
make_chain() {  # make_chain DIR LEVELS
    "$PY" - "$1" "$2" <<'EOF'
import os, sys
os.makedirs(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for _ in range(int(sys.argv[2])):
    os.mkdir("d", dir_fd=fd)
    n = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = n
with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("deepest file")
EOF
}
chain_depth() {  # prints the number of nested "d" and the leaf's content
    "$PY" - "$1" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
n = 0
while True:
    try:
        c = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
    except FileNotFoundError:
        break
    os.close(fd)
    fd, n = c, n + 1
with open(os.open("leaf", os.O_RDONLY, dir_fd=fd)) as f:
    print(n, f.read())
EOF
}
make_chain "$TMP/deep-ok" 16383
make_chain "$TMP/deep-bad" 16384
t "depth: a tree 16384 levels deep is refused" \
    expect_fail 1 --mentions "directory tree deeper than 16384 levels: $TMP/deep-bad/d/d/d" -- \
    wp capture "$TMP/deep-bad" "$TMP/deep-bad.wim" --compress=zstd
t "depth: ... and leaves no archive" test ! -e "$TMP/deep-bad.wim"
t "depth: a tree of 16383 levels is captured" expect_ok wp capture "$TMP/deep-ok" "$TMP/deep-ok.wim" --compress=zstd
t "depth: ... and applied" expect_ok wp apply "$TMP/deep-ok.wim" "$TMP/deep-out" --quiet
t "depth: ... with every level and the leaf" test "$(chain_depth "$TMP/deep-out")" = "16383 deepest file"
rm -rf "$TMP"/deep-*

summary
