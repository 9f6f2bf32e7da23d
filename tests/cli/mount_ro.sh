#!/usr/bin/env bash
# Read-only FUSE mounts (issue 11, wimmount(1)): the mounted tree of archives
# made by wimpack and by wimlib-imagex, non-solid and solid, equals what apply
# extracts (names, types, contents, symlink targets fixed for the mount
# point, hard links sharing one inode, sizes, mtimes; with --unix-data owners,
# modes, special files, xattrs); parallel and random-offset reads; split
# archives with --ref; unmount waits for the mount process; error cases.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_fuse

WL=0
have wimlib-imagex && WL=1
src=$TMP/src
make_test_tree "$src" --unix
MNT=$TMP/mnt
mkdir "$MNT"

# Unmounts whatever is left on exit (a failed check must not leave a mount).
_mount_cleanup() {
    local m
    for m in "$TMP"/mnt*; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
    _cleanup
}
trap _mount_cleanup EXIT

# sums DIR: "sha1  ./path" for every regular file, read 4 at a time.
sums() { (cd "$1" && find . -type f -print0 | xargs -0 -P4 -n50 sha1sum | sort -k2); }

# check_archive WIM DESC [MOUNT-OPTIONS...]: mount, compare with apply, unmount.
check_archive() {
    local wim=$1 desc=$2
    shift 2
    local out=$TMP/applied.$RANDOM unixflag=() refs=() a
    [[ " $* " == *" --unix-data "* ]] && unixflag=(--unix-data)
    for a in "$@"; do [[ $a == --ref=* ]] && refs+=("$a"); done
    "$WIMPACK" apply "$wim" "$out" "${unixflag[@]}" "${refs[@]}" --quiet >/dev/null || { fail "$desc: apply"; return; }
    if ! "$WIMPACK" mount "$wim" "$MNT" "$@"; then fail "$desc: mount"; return; fi
    t "$desc: mounted" is_mounted "$MNT"
    t "$desc: tree equals apply's" compare_trees "$out" "$MNT" "${unixflag[@]}"
    # (special files and the link fixed for its target directory: checked above)
    t "$desc: diff -r equals apply's" diff -r --no-dereference -x special -x sym_abs_inside "$out" "$MNT"
    t "$desc: parallel reads" diff <(sums "$out") <(sums "$MNT")
    t "$desc: hard links share an inode" test "$(stat -c %i "$MNT/links/h3_a")" = "$(stat -c %i "$MNT/dups/h3 c")"
    t "$desc: link count" test "$(stat -c %h "$MNT/links/h3_a")" = 3
    t "$desc: different files, different inodes" test "$(stat -c %i "$MNT/links/h2_a")" != "$(stat -c %i "$MNT/links/h3_a")"
    t "$desc: absolute symlink fixed for the mount point" \
        test "$(readlink "$MNT/sym_abs_inside")" = "$(realpath "$MNT")/sizes/size_4095"
    t "$desc: relative symlink" test "$(readlink "$MNT/links/sym_up")" = ../sizes/size_1
    t "$desc: sizes" test "$(stat -c %s "$MNT/sizes/big_mixed.bin")" = "$(stat -c %s "$out/sizes/big_mixed.bin")"
    t "$desc: mtime" test "$(stat -c %y "$MNT/sizes/size_32769")" = "$(stat -c %y "$out/sizes/size_32769")"
    local off ok=1
    for off in 0 1 4095 32768 65535 131071 1000001 2500000 3290000; do
        cmp -s <(dd if="$MNT/sizes/big_mixed.bin" bs=7000 skip="$off" count=1 iflag=skip_bytes status=none) \
            <(dd if="$out/sizes/big_mixed.bin" bs=7000 skip="$off" count=1 iflag=skip_bytes status=none) || { ok=0; echo "offset $off differs"; }
    done
    t "$desc: reads at random offsets" test $ok = 1
    t "$desc: read-only" bash -c "! touch '$MNT/hello.txt' 2>/dev/null && ! mkdir '$MNT/newdir' 2>/dev/null"
    t "$desc: statfs" test "$(stat -f -c %T "$MNT")" = fuseblk -o "$(stat -f -c %T "$MNT")" = fuse
    t "$desc: unmount" "$WIMPACK" unmount "$MNT" --quiet
    t "$desc: unmounted" bash -c "! grep -qs ' $(realpath "$MNT") fuse' /proc/mounts"
    rm -rf "$out"
}

"$WIMPACK" capture "$src" "$TMP/wp.wim" --unix-data --quiet >/dev/null || fail "capture"
"$WIMPACK" capture "$src" "$TMP/wp_solid.wim" --unix-data --solid --quiet >/dev/null || fail "capture --solid"
check_archive "$TMP/wp.wim" "wimpack LZX" --unix-data
check_archive "$TMP/wp.wim" "wimpack, no --unix-data"
check_archive "$TMP/wp_solid.wim" "wimpack solid, small cache" --unix-data --cache-size=1M

# default owner and mode without --unix-data
"$WIMPACK" mount "$TMP/wp.wim" "$MNT" || fail "mount"
t "default owner is the mounting user" test "$(stat -c %u "$MNT/modes/owned_1234")" = "$(id -u)"
t "default mode 0777" test "$(stat -c %a "$MNT/modes/m0600")" = 777
t "special files are empty regular files" test -f "$MNT/special/fifo"
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount"
"$WIMPACK" mount "$TMP/wp.wim" "$MNT" --unix-data || fail "mount --unix-data"
t "--unix-data owner" test "$(stat -c %u:%g "$MNT/modes/owned_1234")" = 1234:5678
t "--unix-data mode" test "$(stat -c %a "$MNT/modes/m4755")" = 4755
t "--unix-data fifo" test -p "$MNT/special/fifo"
t "--unix-data xattr" test "$(getfattr --only-values -n user.wimpack_test "$MNT/hello.txt" 2>/dev/null)" = hello
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount"

if [[ $WL == 1 ]]; then
    wimlib-imagex capture "$src" "$TMP/wl.wim" --unix-data >/dev/null || fail "wimlib-imagex capture"
    wimlib-imagex capture "$src" "$TMP/wl_solid.wim" --unix-data --solid >/dev/null || fail "wimlib-imagex capture --solid"
    check_archive "$TMP/wl.wim" "wimlib-imagex LZX" --unix-data
    check_archive "$TMP/wl_solid.wim" "wimlib-imagex solid (LZMS)" --unix-data
else
    skip "wimlib-imagex not installed"
fi

# a split archive: part 1 plus --ref
"$WIMPACK" split "$TMP/wp.wim" "$TMP/sp.swm" 1 --quiet >/dev/null || fail "split"
check_archive "$TMP/sp.swm" "split archive with --ref" --ref="$TMP/sp*.swm"

# two images: IMAGE is required; by name and index
"$WIMPACK" append "$src/names" "$TMP/wp.wim" second --quiet >/dev/null || fail "append"
t "refused: wp mount wp.wim MNT" expect_fail 2 --mentions "images" -- wp mount "$TMP/wp.wim" "$MNT"
t "mount no image left behind" bash -c "! grep -qs ' $(realpath "$MNT") fuse' /proc/mounts"
"$WIMPACK" mount "$TMP/wp.wim" second "$MNT" || fail "mount by name"
t "image by name" test -f "$MNT/new"$'\n'"line"
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount"

# --debug: foreground until unmounted
"$WIMPACK" mount "$TMP/wp.wim" 1 "$MNT" --debug >"$TMP/debug.out" 2>&1 &
dpid=$!
for _ in $(seq 1 100); do is_mounted "$MNT" && break; sleep 0.1; done
t "--debug mounts in the foreground" is_mounted "$MNT"
t "--debug process alive" kill -0 $dpid
find "$MNT" -type f -exec cat {} + >/dev/null
nfiles=$(find "$MNT" -type f | wc -l)
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount --debug mount"
wait $dpid
t "--debug process exited 0" test $? = 0
t "--debug printed FUSE debug output" grep -q "unique:" "$TMP/debug.out"
# Reading every file costs one request per read: directories are listed with
# their attributes (READDIRPLUS: no LOOKUP per file) and opens are answered by
# the kernel (at most the first OPEN reaches us, and no RELEASE).
ops() { grep -c "opcode: $1 " "$TMP/debug.out"; }
t "listing uses READDIRPLUS" test "$(ops READDIRPLUS)" -gt 0
t "no LOOKUP per file ($(ops LOOKUP) for $nfiles files)" test "$(ops LOOKUP)" -lt $((nfiles / 4))
t "no OPEN/RELEASE per file ($(ops OPEN)/$(ops RELEASE))" test "$(ops OPEN)" -le 1 -a "$(ops RELEASE)" -le 1

# the shared cache: reading everything twice decodes no chunk twice; a 1M
# cache must evict and decode again. (O_DIRECT reads bypass the kernel's page
# cache, so every read reaches the mount process.)
direct_read_all() { (cd "$1" && find . -type f -print0 | xargs -0 -I{} dd if={} of=/dev/null bs=1M iflag=direct status=none); }
decoded_after_reads() {  # WIM N [OPTIONS]: chunks decoded when every file is read N times
    local log=$TMP/decoded.log i wim=$1 n=$2
    shift 2
    "$WIMPACK" mount "$wim" 1 "$MNT" --debug "$@" >"$log" 2>&1 &
    local p=$!
    for _ in $(seq 1 100); do is_mounted "$MNT" && break; sleep 0.1; done
    for i in $(seq 1 "$n"); do direct_read_all "$MNT"; done
    "$WIMPACK" unmount "$MNT" --quiet
    wait $p
    sed -n 's/^wimpack mount: \([0-9]*\) chunks decoded.*/\1/p' "$log"
}
once=$(decoded_after_reads "$TMP/wp_solid.wim" 1)
twice=$(decoded_after_reads "$TMP/wp_solid.wim" 2)
t "solid chunks decoded once (once: $once, twice: $twice)" test -n "$once" -a "$once" = "$twice"
once=$(decoded_after_reads "$TMP/wp.wim" 1)
twice=$(decoded_after_reads "$TMP/wp.wim" 2)
t "LZX chunks decoded once, read-ahead included (once: $once, twice: $twice)" test -n "$once" -a "$once" = "$twice"
small=$(decoded_after_reads "$TMP/wp.wim" 2 --cache-size=1M)
t "a 1M cache evicts (twice with 1M: $small)" test -n "$small" -a "${small:-0}" -gt "${once:-0}"

# a killed mount process: unmount still clears the dead mount
"$WIMPACK" mount "$TMP/wp.wim" 1 "$MNT" || fail "mount"
pid=$(getfattr --only-values -n wimpack.mount_pid "$MNT" 2>/dev/null)
t "mount pid attribute" test -n "$pid"
[[ -n $pid ]] && kill -9 "$pid"
sleep 0.2
t "unmount after the mount process was killed" "$WIMPACK" unmount "$MNT" --quiet
t "dead mount cleared" bash -c "! grep -qs ' $(realpath "$MNT") fuse' /proc/mounts"

# busy mount: refused, then --lazy
"$WIMPACK" mount "$TMP/wp.wim" 1 "$MNT" || fail "mount"
exec 7<"$MNT/hello.txt"
t "refused: wp unmount MNT" expect_fail 7 --mentions "busy" -- wp unmount "$MNT"
t "--lazy unmounts a busy mount" "$WIMPACK" unmount "$MNT" --lazy --quiet
exec 7<&-

# --check: needs an integrity table; --streams-interface=windows/none
"$WIMPACK" capture "$src/links" "$TMP/chk.wim" --check --quiet >/dev/null || fail "capture --check"
t "--check with an integrity table" "$WIMPACK" mount "$TMP/chk.wim" "$MNT" --check --streams-interface=windows
t "... FILE:STREAM of a missing stream" bash -c "! test -e '$MNT/h2_a:nostream'"
t "... files readable" cmp "$MNT/h2_a" "$src/links/h2_a"
t "... pid attribute not listed" bash -c "! getfattr -d -m - '$MNT' 2>/dev/null | grep -q mount_pid"
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount"
t "refused: wp mount wp_solid.wim MNT --check" expect_fail 3 --mentions "integrity" -- wp mount "$TMP/wp_solid.wim" "$MNT" --check
t "--streams-interface=none --allow-other" "$WIMPACK" mount "$TMP/chk.wim" "$MNT" --streams-interface=none --allow-other
t "... allow_other in the mount options" grep -q " $(realpath "$MNT") fuse.*allow_other" /proc/mounts
"$WIMPACK" unmount "$MNT" --quiet || fail "unmount"

# errors
t "refused: wp mount wp.wim 1 no-such-dir" expect_fail 4 --mentions "does not exist" -- wp mount "$TMP/wp.wim" 1 "$TMP/no-such-dir"
t "refused: wp mount wp.wim 1 src" expect_fail 1 --mentions "not empty" -- wp mount "$TMP/wp.wim" 1 "$src"
t "refused: wp mount wp.wim 9 MNT" expect_fail 4 -- wp mount "$TMP/wp.wim" 9 "$MNT"
t "refused: wp mount src/hello.txt MNT" expect_fail 3 -- wp mount "$src/hello.txt" "$MNT"
t "refused: wp mount wp_solid.wim MNT --streams-interface=bogus" expect_fail 2 --mentions "streams-interface" -- wp mount "$TMP/wp_solid.wim" "$MNT" --streams-interface=bogus
t "refused: wp unmount src" expect_fail any --mentions "not a mounted WIM" -- wp unmount "$src"
t "refused: wp unmount no-such-dir" expect_fail 4 -- wp unmount "$TMP/no-such-dir"
t "nothing left mounted" bash -c "! grep -qs ' $(realpath "$MNT") fuse' /proc/mounts"

summary
