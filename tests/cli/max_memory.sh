#!/usr/bin/env bash
# Issue 13 part 4: --max-memory. A solid capture of ~300 MB under
# --max-memory=200M stays under it (peak RSS); a budget too small to run is
# exit 2 before the archive exists; under a cgroup memory limit (v2 or v1, when the test
# can make one) the default budget follows the cgroup.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
T_TIMEOUT=${T_TIMEOUT_LONG:-900}  # LZMS on one thread: a minute or more under load
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }
[[ -x /usr/bin/time ]] || { echo "SKIP: needs /usr/bin/time"; exit 77; }

src=$TMP/src
mkdir -p "$src"
# ~300 MB, compressible but not trivially (numbered lines)
for i in $(seq 1 13); do
    seq $((i * 1000000)) $((i * 1000000 + 1100000)) | sed "s/^/file $i, line /" >"$src/f$i.txt"
done
rand_bytes 1 2000000 >"$src/random.bin"
size=$(du -sm "$src" | cut -f1)
t "the tree is about 300 MB ($size MB)" test "$size" -ge 250

peak_kb() { sed -n 's/^PEAK=//p' "$TMP/time.txt"; }
TIMED=(/usr/bin/time -f "PEAK=%M" -o "$TMP/time.txt")

t "solid capture --threads=2 --max-memory=200M" expect_ok "${TIMED[@]}" "$WIMPACK" capture "$src" "$TMP/s.wim" --solid --threads=2 --max-memory=200M --quiet
echo "# peak RSS: $(peak_kb) KiB"
t "... peak RSS under 200 MiB" test "$(peak_kb)" -lt $((200 * 1024))
t "... says what it reduced, once" test "$(grep -c 'warning: --max-memory=200M: ' "$LAST_STDERR")" = 1
t "... passes verify" expect_ok wp verify "$TMP/s.wim" --max-memory=200M
if have wimlib-imagex; then
    t "... passes wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/s.wim"
fi
rm -rf "$TMP/out"
t "apply --max-memory=200M" expect_ok "${TIMED[@]}" "$WIMPACK" apply "$TMP/s.wim" "$TMP/out" --max-memory=200M --quiet
echo "# peak RSS: $(peak_kb) KiB"
t "... peak RSS under 200 MiB" test "$(peak_kb)" -lt $((200 * 1024))
t "... identical" compare_trees "$src" "$TMP/out" --quiet
rm -rf "$TMP/out"
t "non-solid LZX capture --max-memory=100M" expect_ok "${TIMED[@]}" "$WIMPACK" capture "$src" "$TMP/n.wim" --threads=2 --max-memory=100M --quiet
echo "# peak RSS: $(peak_kb) KiB"
t "... peak RSS under 100 MiB" test "$(peak_kb)" -lt $((100 * 1024))

t "a budget too small to run: exit 2" expect_fail 2 --mentions "too small" -- wp capture "$src" "$TMP/tiny.wim" --solid --max-memory=30M
t "... before the archive exists" test ! -e "$TMP/tiny.wim"
t "... and no temporary file" eval "! ls '$TMP'/tiny.wim.* >/dev/null 2>&1"
t "an explicit --solid-chunk-size is not shrunk: exit 2" expect_fail 2 --mentions "too small" -- wp capture "$src" "$TMP/tiny.wim" --solid --solid-chunk-size=64M --max-memory=200M
t "under SOURCE_DATE_EPOCH the solid chunk size is not shrunk (it would change the output): exit 2" \
    expect_fail 2 --mentions "too small" -- env SOURCE_DATE_EPOCH=1700000000 "$WIMPACK" capture "$src" "$TMP/tiny.wim" --solid --max-memory=200M
mkdir -p "$TMP/one" && cp "$src/random.bin" "$TMP/one/"
t "... but threads are: same bytes with --max-memory=60M --threads=2 as with a large budget" \
    expect_ok env SOURCE_DATE_EPOCH=1700000000 "$WIMPACK" capture "$TMP/one" "$TMP/r1.wim" one --solid --solid-chunk-size=1M --threads=2 --max-memory=60M --quiet
t "... (large budget)" expect_ok env SOURCE_DATE_EPOCH=1700000000 "$WIMPACK" capture "$TMP/one" "$TMP/r2.wim" one --solid --solid-chunk-size=1M --threads=2 --quiet
t "... identical" cmp "$TMP/r1.wim" "$TMP/r2.wim"
t "an invalid --max-memory: exit 2" expect_fail 2 --mentions "--max-memory" -- wp capture "$src" "$TMP/tiny.wim" --max-memory=lots

# The cgroup default, where the test can make a cgroup with a 200 MiB limit:
# under cgroup v2 (memory.max) or, on hosts like this one, cgroup v1's memory
# controller (memory.limit_in_bytes, in a child of this process's cgroup).
cg_limit=$((200 * 1024 * 1024))
cg=
v1_parent=/sys/fs/cgroup/memory$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' /proc/self/cgroup | head -n1)
if [[ -w /sys/fs/cgroup/cgroup.procs ]] && grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
    mkdir /sys/fs/cgroup/wimpack-test-$$ 2>/dev/null; then
    cg=/sys/fs/cgroup/wimpack-test-$$
    echo $cg_limit >"$cg/memory.max"
elif [[ -w $v1_parent/cgroup.procs ]] && mkdir "${v1_parent%/}/wimpack-test-$$" 2>/dev/null; then
    cg=${v1_parent%/}/wimpack-test-$$
    echo $cg_limit >"$cg/memory.limit_in_bytes" || { rmdir "$cg"; cg=; }
fi
if [[ -n $cg ]]; then
    rm -f "$TMP/cg.wim"
    # ~70 MB (more than one 64 MiB chunk): the budget, not the data, decides.
    mkdir -p "$TMP/cgsrc" && ln "$src"/f1.txt "$src"/f2.txt "$src"/f3.txt "$TMP/cgsrc/"
    ( echo $BASHPID >"$cg/cgroup.procs" && exec /usr/bin/time -f '%M' -o "$TMP/cg.rss" "$WIMPACK" capture "$TMP/cgsrc" "$TMP/cg.wim" --solid --threads=2 ) 2>"$TMP/cg.err"
    rc=$?
    t "solid capture inside a 200 MiB cgroup ($cg): exit 0 (not killed)" test "$rc" = 0
    t "... the budget came from the cgroup" grep -q "warning: the cgroup memory limit (200.0 MiB): " "$TMP/cg.err"
    t "... passes verify" expect_ok wp verify "$TMP/cg.wim"
    t "... peak RSS under 200 MiB" test "$(cat "$TMP/cg.rss")" -lt $((200 * 1024))
    rmdir "$cg" 2>/dev/null
else
    skip "no writable cgroup (v2 with the memory controller, or v1 memory) here"
fi

summary
