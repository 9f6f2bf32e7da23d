#!/usr/bin/env bash
# Read-write FUSE mounts (issue 11, wimmountrw(1)): the same changes made in a
# mountrw mount and in an applied copy (create, overwrite, partial write,
# append, truncate, unlink, mkdir, rmdir, rename and rename over, symlink,
# hard link), then `unmount --commit`: wimlib-imagex verify passes and both
# wimpack's and wimlib-imagex's apply equal the changed copy. Discarding
# leaves the archive byte-identical; --new-image keeps the old image;
# --rebuild and --check; --unix-data chmod/chown and named streams as xattrs
# survive a commit; the writer lock (a second mountrw or append: exit 7);
# open files and --force; split and pipable archives refused; the staging
# directory is removed at unmount. Parallel readers and writers (xargs -P4,
# the multithreaded loop); a SIGKILLed mount's staging directory removed by
# the next mountrw, a live one's kept; SIGKILL during unmount --commit (the
# archive applies as before, unmount exits 1 saying so, mountrw again);
# named streams as FILE:STREAM (--streams-interface=windows) read, written,
# created, unlinked and committed; a delta archive with --ref.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
require_fuse

WL=0
have wimlib-imagex && WL=1
src=$TMP/src
make_test_tree "$src" --unix
MNT=$TMP/mnt
mkdir "$MNT"

not_mounted() { ! is_mounted "$1"; }
_mount_cleanup() {
    local m
    for m in "$TMP"/mnt*; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
    _cleanup
}
trap _mount_cleanup EXIT

# The same changes, made in DIR (a mount or an applied copy).
modify() {
    local d=$1
    (
        set -e
        cd "$d"
        printf 'brand new\n' >new.txt                                  # create
        printf 'changed contents\n' >hello.txt                         # overwrite (O_TRUNC)
        printf 'XYZ' | dd of=sizes/big_mixed.bin bs=1 seek=100000 conv=notrunc status=none  # partial write
        printf 'tail\n' >>sizes/size_65536                             # append
        truncate -s 1000 sizes/size_32769                              # truncate
        rm sizes/size_1 dups/empty_dup                                 # unlink
        mkdir -p newdir/sub && printf 'deep new\n' >newdir/sub/f       # mkdir
        rmdir empty_dir2/nested_empty                                  # rmdir
        rm -r "sp ace dir"                                             # a whole directory
        mv links/h2_a renamed_h2                                       # rename (a hard link)
        mv dups/copy_of_4096 sizes/size_4096                           # rename over a file
        mv names newdir/names_moved                                    # rename a directory
        ln -s ../hello.txt newdir/link_to_hello                        # symlink
        ln new.txt newdir/hardlink_to_new                              # hard link
        : >newdir/empty_new
    )
}

wim=$TMP/base.wim
"$WIMPACK" capture "$src" "$wim" --quiet >/dev/null || fail "capture"

# --- discard: the archive stays byte-identical, the staging dir goes --------
cp "$wim" "$TMP/orig.wim"
t "mountrw" "$WIMPACK" mountrw "$wim" "$MNT"
t "mounted" is_mounted "$MNT"
t "staging directory beside the archive" bash -c "ls -d '$TMP'/base.wim.staging.* >/dev/null 2>&1"
t "changes in the mount" modify "$MNT"
t "changed file reads back" test "$(cat "$MNT/hello.txt")" = "changed contents"
t "new file reads back" test "$(cat "$MNT/newdir/hardlink_to_new")" = "brand new"
t "hard link shares the inode" test "$(stat -c %i "$MNT/new.txt")" = "$(stat -c %i "$MNT/newdir/hardlink_to_new")"
t "statfs of a writable mount" bash -c "stat -f -c %a '$MNT' >/dev/null"
t "unmount without --commit" "$WIMPACK" unmount "$MNT" --quiet
t "unmounted" not_mounted "$MNT"
t "discarded: archive byte-identical" cmp "$wim" "$TMP/orig.wim"
t "staging directory removed" bash -c "! ls -d '$TMP'/base.wim.staging.* >/dev/null 2>&1"

# --- commit: every kind of change ------------------------------------------
exp=$TMP/expected
"$WIMPACK" apply "$wim" "$exp" --quiet >/dev/null || fail "apply"
modify "$exp" || fail "modify the expected tree"
t "mountrw (relative paths)" bash -c "cd '$TMP' && '$WIMPACK' mountrw base.wim mnt"
t "changes in the mount" modify "$MNT"
t "the mount shows the changes" compare_trees "$exp" "$MNT" --no-times
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
t "unmounted" not_mounted "$MNT"
t "staging directory removed" bash -c "! ls -d '$TMP'/base.wim.staging.* >/dev/null 2>&1"
t "committed: archive changed" bash -c "! cmp -s '$wim' '$TMP/orig.wim'"
t "still one image" test "$("$WIMPACK" info "$wim" | grep -c '^Index')" -le 1
t "wimpack verify" "$WIMPACK" verify "$wim"
"$WIMPACK" apply "$wim" "$TMP/out_wp" --quiet >/dev/null
t "wimpack apply equals the changed tree" compare_trees "$exp" "$TMP/out_wp" --no-times
if [[ $WL == 1 ]]; then
    t "wimlib-imagex verify" wimlib-imagex verify "$wim"
    wimlib-imagex apply "$wim" "$TMP/out_wl" >/dev/null
    t "wimlib-imagex apply equals the changed tree" compare_trees "$exp" "$TMP/out_wl" --no-times
else
    skip "wimlib-imagex not installed"
fi
t "unchanged big file kept" cmp "$src/dups/big_copy.bin" "$TMP/out_wp/dups/big_copy.bin"
t "hard link committed" test "$(stat -c %i "$TMP/out_wp/new.txt")" = "$(stat -c %i "$TMP/out_wp/newdir/hardlink_to_new")"

# --- parallel readers and writers (the multithreaded loop) --------------------
# Four workers at once: each reads archive files back (cmp with the applied
# copy), writes new files, and rewrites a copy-up of an archive file.
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
mkdir "$MNT/par"
(cd "$TMP/out_wp" && find . -type f -print0) >"$TMP/par_files"
par_job() {  # par_job N: one worker's share (N = 0..15)
    local n=$1 f i=0
    while IFS= read -r -d '' f; do
        i=$((i + 1))
        [[ $((i % 16)) == "$n" ]] || continue
        cmp -s "$TMP/out_wp/$f" "$MNT/$f" || { echo "read mismatch: $f"; return 1; }
    done <"$TMP/par_files"
    seq 1 $((3000 + n * 997)) >"$MNT/par/new$n" || return 1
    cp "$MNT/dups/big_copy.bin" "$MNT/par/copy$n" && printf 'w%s' "$n" | dd of="$MNT/par/copy$n" bs=1 seek=$((n * 4099)) conv=notrunc status=none
    cmp -s <(seq 1 $((3000 + n * 997))) "$MNT/par/new$n" || { echo "write mismatch: new$n"; return 1; }
}
export -f par_job
export TMP MNT
t "xargs -P4: 16 jobs reading and writing at once" bash -c "seq 0 15 | xargs -P4 -I{} bash -c 'par_job {}'"
par_check() {
    local d=$1 n
    for n in $(seq 0 15); do
        cmp -s <(seq 1 $((3000 + n * 997))) "$d/par/new$n" || return 1
        cp "$TMP/out_wp/dups/big_copy.bin" "$TMP/par_exp"
        printf 'w%s' "$n" | dd of="$TMP/par_exp" bs=1 seek=$((n * 4099)) conv=notrunc status=none
        cmp -s "$TMP/par_exp" "$d/par/copy$n" || return 1
    done
}
t "... every file written in parallel reads back right" par_check "$MNT"
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
rm -rf "$TMP/par_out"
"$WIMPACK" apply "$wim" "$TMP/par_out" --quiet >/dev/null
t "... committed right" par_check "$TMP/par_out"
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
rm -r "$MNT/par"
"$WIMPACK" unmount "$MNT" --commit --quiet || fail "unmount --commit"

# --- times, a large directory emptied while listed, SIGKILL ------------------
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
t "touch -d (utimens)" touch -d '2001-02-03 04:05:06' "$MNT/renamed_h2"
mkdir "$MNT/many" && (cd "$MNT/many" && seq 1 600 | xargs touch)
t "rm -r of a directory of 600 files" rm -r "$MNT/many"
t "... gone" test ! -e "$MNT/many"
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
"$WIMPACK" apply "$wim" "$TMP/out_t" --quiet >/dev/null
t "mtime committed" test "$(stat -c %Y "$TMP/out_t/renamed_h2")" = "$(date -d '2001-02-03 04:05:06' +%s)"
cp "$wim" "$TMP/killed_before.wim"
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
printf 'x\n' >"$MNT/never.txt"
pid=$(getfattr --only-values -n wimpack.mount_pid "$MNT" 2>/dev/null)
[[ -n $pid ]] && kill -9 "$pid"
sleep 0.2
t "unmount after SIGKILL of the mount process" "$WIMPACK" unmount "$MNT" --quiet
t "... archive unchanged" cmp "$wim" "$TMP/killed_before.wim"
t "... no stale lock: mountrw again" "$WIMPACK" mountrw "$wim" "$MNT"
stale=$(ls -d "$TMP"/base.wim.staging.* 2>/dev/null)
t "... unmount" "$WIMPACK" unmount "$MNT" --quiet
# the killed process could not remove its staging directory; the next
# mountrw of the archive removes it (its owner lock is free), and leaves a
# live mount's staging directory alone
t "... the killed mount's staging directory was left behind" test -n "$stale"
gone_all() { local d; for d in "$@"; do [[ ! -e $d ]] || return 1; done; }
t "... and was removed by the next mountrw" gone_all $stale
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
printf 'x\n' >"$MNT/live.txt"
live=$(ls -d "$TMP"/base.wim.staging.*)
mkdir -p "$TMP/mnt_other"
"$WIMPACK" capture "$src/links" "$TMP/other.wim" --quiet >/dev/null || fail "capture"
mkdir "$TMP/stage_shared"
cp "$TMP/other.wim" "$TMP/stage_shared/base.wim"   # same name, so the same staging prefix
t "a live mount's staging directory survives another mountrw" \
    "$WIMPACK" mountrw "$TMP/stage_shared/base.wim" "$TMP/mnt_other" --staging-dir="$TMP"
t "... still there" test -f "$live/.owner"
t "... the live mount still reads its staged file" test "$(cat "$MNT/live.txt")" = x
"$WIMPACK" unmount "$TMP/mnt_other" --quiet
"$WIMPACK" unmount "$MNT" --quiet
t "... staging directories removed at unmount" bash -c "! ls -d '$TMP'/base.wim.staging.* >/dev/null 2>&1"

# --- SIGKILL of the mount process during unmount --commit -----------------------
# The archive grows while the commit writes (new data goes after the old);
# the mount process is killed then. The old header still points at the old
# image: the archive applies as before, unmount says what happened, and the
# next mountrw is not blocked (lock, staging directory, mount point).
kwim=$TMP/kill.wim
"$WIMPACK" capture "$src/links" "$kwim" --quiet >/dev/null || fail "capture"
cp "$kwim" "$TMP/kill_before.wim"
"$WIMPACK" apply "$kwim" "$TMP/kill_exp" --quiet >/dev/null || fail "apply"
"$WIMPACK" mountrw "$kwim" "$MNT" || fail "mountrw"
head -c 24000000 /dev/urandom >"$TMP/big.bin"
cp "$TMP/big.bin" "$MNT/big.bin"
pid=$(getfattr --only-values -n wimpack.mount_pid "$MNT" 2>/dev/null)
ksize=$(stat -c %s "$kwim")
"$WIMPACK" unmount "$MNT" --commit >"$TMP/kill_out" 2>&1 &
upid=$!
while kill -0 "$upid" 2>/dev/null && [[ $(stat -c %s "$kwim") -le $ksize ]]; do :; done
kill -9 "$pid"
wait "$upid"
urc=$?
if [[ $urc == 0 ]]; then
    # the commit was over before the kill: then it is whole
    "$WIMPACK" extract "$kwim" 1 /big.bin --dest-dir="$TMP/kill_whole" --quiet >/dev/null 2>&1
    t "killed after the commit: the commit is whole" cmp "$TMP/big.bin" "$TMP/kill_whole/big.bin"
else
    t "killed during the commit: unmount exits non-zero ($urc)" test "$urc" -ne 0
    t "... and says the mount process ended during the commit" grep -q "ended during the commit" "$TMP/kill_out"
    "$WIMPACK" apply "$kwim" "$TMP/kill_out_tree" --quiet >/dev/null 2>&1
    t "... the archive applies exactly as before" compare_trees "$TMP/kill_exp" "$TMP/kill_out_tree"
    t "... wimpack verify" "$WIMPACK" verify "$kwim"
    [[ $WL == 1 ]] && t "... wimlib-imagex verify" wimlib-imagex verify "$kwim"
fi
t "... the mount point is unmounted" not_mounted "$MNT"
t "... the staging directory is removed" bash -c "! ls -d '$TMP'/kill.wim.staging.* >/dev/null 2>&1"
t "... mountrw again (no stale lock)" "$WIMPACK" mountrw "$kwim" "$MNT"
t "... reads" test "$(cat "$MNT/h2_a" 2>/dev/null)" = "two links"
t "... unmount" "$WIMPACK" unmount "$MNT" --quiet

# --- --new-image: the old image stays ---------------------------------------
cp "$wim" "$TMP/before_new.wim"
"$WIMPACK" mountrw "$wim" "$MNT" || fail "mountrw"
printf 'only in image 2\n' >"$MNT/image2.txt"
rm "$MNT/new.txt"
t "unmount --commit --new-image" "$WIMPACK" unmount "$MNT" --commit --new-image --quiet
t "two images" "$WIMPACK" info "$wim" 2
"$WIMPACK" apply "$wim" 1 "$TMP/img1" --quiet >/dev/null
"$WIMPACK" apply "$wim" 2 "$TMP/img2" --quiet >/dev/null
t "image 1 unchanged" compare_trees "$TMP/out_t" "$TMP/img1"
t "image 2 has the change" test "$(cat "$TMP/img2/image2.txt")" = "only in image 2"
t "image 2 lost the deleted file" test ! -e "$TMP/img2/new.txt"
[[ $WL == 1 ]] && t "wimlib-imagex verify (two images)" wimlib-imagex verify "$wim"

# --- --rebuild --check ------------------------------------------------------
"$WIMPACK" mountrw "$wim" 2 "$MNT" || fail "mountrw image 2"
printf 'rebuilt\n' >"$MNT/rebuilt.txt"
t "unmount --commit --rebuild --check" "$WIMPACK" unmount "$MNT" --commit --rebuild --check --quiet
t "integrity table written" bash -c "'$WIMPACK' info '$wim' --header | grep -qi 'integrity'"
t "--check verifies" "$WIMPACK" verify "$wim"
[[ $WL == 1 ]] && t "wimlib-imagex verify (rebuilt, integrity)" wimlib-imagex verify "$wim"
"$WIMPACK" apply "$wim" 2 "$TMP/img2b" --quiet >/dev/null
t "rebuilt image 2 has the change" test "$(cat "$TMP/img2b/rebuilt.txt")" = rebuilt
t "mountrw --check with the integrity table" "$WIMPACK" mountrw "$wim" 1 "$MNT" --check
t "unmount" "$WIMPACK" unmount "$MNT" --quiet

# --- the writer lock while mounted -------------------------------------------
cp "$wim" "$TMP/locked_before.wim"
"$WIMPACK" mountrw "$wim" 1 "$MNT" || fail "mountrw"
mkdir "$TMP/mnt2"
t "a second mountrw is refused (exit 7)" expect_fail 7 -- wp mountrw "$wim" 1 "$TMP/mnt2"
t "append while mounted is refused (exit 7)" expect_fail 7 -- wp append "$src/links" "$wim" third
t "second mount point not mounted" not_mounted "$TMP/mnt2"
# files open for writing: refused without --force, the mount stays
exec 8>>"$MNT/hello.txt"
t "commit with a file open for writing is refused" expect_fail 7 --mentions "open for writing" -- wp unmount "$MNT" --commit
t "... still mounted" is_mounted "$MNT"
t "... archive unchanged" cmp "$wim" "$TMP/locked_before.wim"
printf 'forced\n' >&8
t "--commit --force with an open file" "$WIMPACK" unmount "$MNT" --commit --force --quiet
exec 8>&-
for _ in $(seq 1 50); do not_mounted "$MNT" && break; sleep 0.1; done
t "... unmounted" not_mounted "$MNT"
"$WIMPACK" extract "$wim" 1 /hello.txt --dest-dir="$TMP/forced" --quiet >/dev/null 2>&1
t "... the open file's data was committed" test "$(tail -n1 "$TMP/forced/hello.txt")" = forced
# the lock is released with the mount (wait for the lazily detached process)
for _ in $(seq 1 50); do "$WIMPACK" mountrw "$wim" 1 "$MNT" 2>/dev/null && break; sleep 0.1; done
printf 'late\n' >"$MNT/late.txt"
exec 9<"$MNT/renamed_h2"
t "commit with a file open for reading: committed, then busy" expect_fail 7 --mentions "committed" -- wp unmount "$MNT" --commit
t "... no changes after the commit" bash -c "! touch '$MNT/after' 2>/dev/null"
exec 9<&-
t "... unmount --commit again" "$WIMPACK" unmount "$MNT" --commit --quiet
"$WIMPACK" extract "$wim" 1 /late.txt --dest-dir="$TMP/late" --quiet >/dev/null 2>&1
t "... committed once" test "$(cat "$TMP/late/late.txt" 2>/dev/null)" = late
for _ in $(seq 1 50); do "$WIMPACK" mountrw "$wim" 1 "$MNT" 2>/dev/null && break; sleep 0.1; done
t "mountrw after the unmount" is_mounted "$MNT"
t "unmount" "$WIMPACK" unmount "$MNT" --quiet

# --- a failed commit: says why, leaves the archive and the mount as they were --
cp "$wim" "$TMP/fail_before.wim"
"$WIMPACK" mountrw "$wim" 1 "$MNT" || fail "mountrw"
head -c 300000 /dev/urandom >"$MNT/lost.bin"
rm -f "$TMP"/base.wim.staging.*/*   # the staged data is lost behind the mount's back
t "a failing commit exits non-zero and says why" expect_fail 1 --mentions "staged file" --mentions "still mounted" -- wp unmount "$MNT" --commit
t "... still mounted" is_mounted "$MNT"
t "... archive unchanged" cmp "$wim" "$TMP/fail_before.wim"
t "... unmount without --commit" "$WIMPACK" unmount "$MNT" --quiet
t "... archive still unchanged" cmp "$wim" "$TMP/fail_before.wim"
t "... staging directory removed" bash -c "! ls -d '$TMP'/base.wim.staging.* >/dev/null 2>&1"

# --- --unix-data: chmod, chown, mknod survive a commit -----------------------
uwim=$TMP/unix.wim
"$WIMPACK" capture "$src" "$uwim" --unix-data --quiet >/dev/null || fail "capture --unix-data"
t "mountrw --unix-data" "$WIMPACK" mountrw "$uwim" "$MNT" --unix-data
t "chmod" chmod 0640 "$MNT/modes/m0755"
t "chown" chown 4242:4343 "$MNT/hello.txt"
printf 'n\n' >"$MNT/modes/new0600" && chmod 0600 "$MNT/modes/new0600"
t "mkfifo" mkfifo "$MNT/special/newfifo"
t "mode shown" test "$(stat -c %a "$MNT/modes/m0755")" = 640
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
"$WIMPACK" apply "$uwim" "$TMP/uout" --unix-data --quiet >/dev/null
t "chmod committed" test "$(stat -c %a "$TMP/uout/modes/m0755")" = 640
t "chown committed" test "$(stat -c %u:%g "$TMP/uout/hello.txt")" = 4242:4343
t "new file's mode committed" test "$(stat -c %a "$TMP/uout/modes/new0600")" = 600
t "fifo committed" test -p "$TMP/uout/special/newfifo"
t "untouched owner kept" test "$(stat -c %u:%g "$TMP/uout/modes/owned_1234")" = 1234:5678
# without --unix-data there are no owners or modes to change
"$WIMPACK" mountrw "$uwim" "$MNT" || fail "mountrw"
t "chmod without --unix-data fails" bash -c "! chmod 0600 '$MNT/hello.txt' 2>/dev/null"
t "unmount" "$WIMPACK" unmount "$MNT" --quiet

# --- named data streams as user.* xattrs -------------------------------------
"$WIMPACK" mountrw "$wim" 1 "$MNT" || fail "mountrw"
t "setfattr (a named stream)" setfattr -n user.mystream -v streamvalue "$MNT/renamed_h2"
t "getfattr reads it back" test "$(getfattr --only-values -n user.mystream "$MNT/renamed_h2")" = streamvalue
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
"$WIMPACK" mount "$wim" 1 "$MNT" || fail "mount"
t "named stream committed" test "$(getfattr --only-values -n user.mystream "$MNT/renamed_h2" 2>/dev/null)" = streamvalue
t "file data unchanged" test "$(cat "$MNT/renamed_h2")" = "two links"
t "--commit on a read-only mount has no effect" "$WIMPACK" unmount "$MNT" --commit --quiet
[[ $WL == 1 ]] && t "wimlib-imagex verify (named stream)" wimlib-imagex verify "$wim"
"$WIMPACK" mountrw "$wim" 1 "$MNT" --streams-interface=none || fail "mountrw --streams-interface=none"
t "--streams-interface=none: no stream xattr" bash -c "! getfattr -n user.mystream '$MNT/renamed_h2' 2>/dev/null"
t "unmount" "$WIMPACK" unmount "$MNT" --quiet

# --- named data streams as file:stream names (--streams-interface=windows) -----
# renamed_h2 has the named stream "mystream" (committed above as an xattr)
swim=$TMP/streams.wim
cp "$wim" "$swim"
if [[ $WL == 1 ]]; then
    t "the oracle sees a named data stream" bash -c "wimlib-imagex dir '$swim' 1 --detailed 2>/dev/null | grep -q mystream"
fi
"$WIMPACK" mount "$swim" 1 "$MNT" --streams-interface=windows || fail "mount --streams-interface=windows"
t "read-only windows interface: file:stream reads" test "$(cat "$MNT/renamed_h2:mystream" 2>/dev/null)" = streamvalue
t "... not listed in the directory" bash -c "! ls '$MNT' | grep -q ':'"
t "... no user.* xattr" bash -c "! getfattr -n user.mystream '$MNT/renamed_h2' 2>/dev/null"
"$WIMPACK" unmount "$MNT" --quiet
"$WIMPACK" mount "$swim" 1 "$MNT" || fail "mount"
t "read-only xattr interface: user.mystream" test "$(getfattr --only-values -n user.mystream "$MNT/renamed_h2" 2>/dev/null)" = streamvalue
hello_before=$(cat "$MNT/hello.txt")
"$WIMPACK" unmount "$MNT" --quiet
t "mountrw --streams-interface=windows" "$WIMPACK" mountrw "$swim" 1 "$MNT" --streams-interface=windows
t "read a stream" test "$(cat "$MNT/renamed_h2:mystream" 2>/dev/null)" = streamvalue
t "overwrite a stream" bash -c "printf 'rewritten stream' >'$MNT/renamed_h2:mystream'"
t "append to a stream" bash -c "printf '+more' >>'$MNT/renamed_h2:mystream'"
t "create a stream" bash -c "printf 'brand new stream' >'$MNT/hello.txt:fresh'"
head -c 200000 /dev/urandom >"$TMP/bigstream"
t "create a large stream" cp "$TMP/bigstream" "$MNT/hello.txt:big"
t "create and unlink a stream" bash -c "printf gone >'$MNT/hello.txt:tmp' && rm '$MNT/hello.txt:tmp'"
t "... gone" test ! -e "$MNT/hello.txt:tmp"
t "the file's own data unchanged" test "$(cat "$MNT/renamed_h2")" = "two links"
t "stream size" test "$(stat -c %s "$MNT/renamed_h2:mystream")" = 21
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
t "wimpack verify" "$WIMPACK" verify "$swim"
"$WIMPACK" mount "$swim" 1 "$MNT" || fail "mount"
t "committed: rewritten stream (xattr view)" test "$(getfattr --only-values -n user.mystream "$MNT/renamed_h2" 2>/dev/null)" = "rewritten stream+more"
t "committed: new stream" test "$(getfattr --only-values -n user.fresh "$MNT/hello.txt" 2>/dev/null)" = "brand new stream"
t "committed: no unlinked stream" bash -c "! getfattr -n user.tmp '$MNT/hello.txt' 2>/dev/null"
t "committed: file data unchanged" test "$(cat "$MNT/hello.txt")" = "$hello_before"
"$WIMPACK" unmount "$MNT" --quiet
"$WIMPACK" mount "$swim" 1 "$MNT" --streams-interface=windows || fail "mount"
t "committed: large stream (windows view)" cmp "$TMP/bigstream" "$MNT/hello.txt:big"
"$WIMPACK" unmount "$MNT" --quiet
if [[ $WL == 1 ]]; then
    t "wimlib-imagex verify (named streams)" wimlib-imagex verify "$swim"
    t "wimlib-imagex dir --detailed shows the new streams" \
        bash -c "wimlib-imagex dir '$swim' 1 --detailed 2>/dev/null | grep -q fresh && wimlib-imagex dir '$swim' 1 --detailed 2>/dev/null | grep -q big"
    if wimlib-imagex mount "$swim" 1 "$MNT" --streams-interface=windows 2>/dev/null; then
        t "wimlib-imagex mount reads the committed streams" \
            bash -c "test \"\$(cat '$MNT/hello.txt:fresh')\" = 'brand new stream' && cmp '$TMP/bigstream' '$MNT/hello.txt:big'"
        wimlib-imagex unmount "$MNT" >/dev/null 2>&1
    fi
fi

# --- --staging-dir -------------------------------------------------------------
mkdir "$TMP/stage"
t "mountrw --staging-dir" "$WIMPACK" mountrw "$wim" 1 "$MNT" --staging-dir="$TMP/stage"
printf 'staged\n' >"$MNT/staged.txt"
t "staging directory inside --staging-dir" test "$(find "$TMP/stage" -mindepth 2 -type f | wc -l)" -ge 1
t "unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
t "--staging-dir left empty" test -z "$(ls -A "$TMP/stage")"
"$WIMPACK" extract "$wim" 1 /staged.txt --dest-dir="$TMP/st" --quiet >/dev/null 2>&1
t "staged file committed" test "$(cat "$TMP/st/staged.txt" 2>/dev/null)" = staged

# --- archives made by wimlib-imagex ------------------------------------------
if [[ $WL == 1 ]]; then
    for kind in lzx solid; do
        wlw=$TMP/wl_$kind.wim
        opt=()
        [[ $kind == solid ]] && opt=(--solid)
        wimlib-imagex capture "$src" "$wlw" "${opt[@]}" >/dev/null || fail "wimlib-imagex capture $kind"
        rm -rf "$TMP/wlexp"
        wimlib-imagex apply "$wlw" "$TMP/wlexp" >/dev/null 2>&1
        modify "$TMP/wlexp"
        "$WIMPACK" mountrw "$wlw" "$MNT" || fail "mountrw $kind"
        t "wimlib $kind: changes" modify "$MNT"
        t "wimlib $kind: commit" "$WIMPACK" unmount "$MNT" --commit --quiet
        t "wimlib $kind: wimlib-imagex verify" wimlib-imagex verify "$wlw"
        rm -rf "$TMP/wlout"
        wimlib-imagex apply "$wlw" "$TMP/wlout" >/dev/null 2>&1
        t "wimlib $kind: wimlib-imagex apply equals the changed tree" compare_trees "$TMP/wlexp" "$TMP/wlout" --no-times
    done
fi

# --- a delta archive: --ref, as wimlib-imagex mountrw accepts it --------------------
D=$TMP/delta
mkdir -p "$D/v1"
cp -a "$src/links" "$src/hello.txt" "$D/v1/"
"$WIMPACK" capture "$D/v1" "$D/base.wim" --quiet >/dev/null || fail "capture base"
printf 'only in the delta\n' >"$D/v1/delta.txt"
"$WIMPACK" capture "$D/v1" "$D/d.wim" --delta-from="$D/base.wim" --quiet >/dev/null || fail "capture delta"
mkdir "$D/elsewhere"
mv "$D/base.wim" "$D/elsewhere/moved_base.wim"
t "mountrw of a delta without its base is refused, naming --ref" \
    expect_fail 4 --mentions "--ref" -- wp mountrw "$D/d.wim" "$MNT"
t "... nothing mounted" not_mounted "$MNT"
t "mountrw --ref=BASE" "$WIMPACK" mountrw "$D/d.wim" "$MNT" --ref="$D/elsewhere/moved_base.wim"
t "... reads data held by the base" test "$(cat "$MNT/hello.txt" 2>/dev/null)" = "$(cat "$src/hello.txt")"
printf 'committed into the delta\n' >"$MNT/links/new_in_delta"
printf 'changed\n' >"$MNT/delta.txt"
t "... unmount --commit" "$WIMPACK" unmount "$MNT" --commit --quiet
cp -a "$D/v1" "$D/exp"
printf 'committed into the delta\n' >"$D/exp/links/new_in_delta"
printf 'changed\n' >"$D/exp/delta.txt"
"$WIMPACK" apply "$D/d.wim" "$D/out" --ref="$D/elsewhere/moved_base.wim" --quiet >/dev/null 2>&1
t "... applies (with the base) as changed" compare_trees "$D/exp" "$D/out" --no-times
t "... still a delta: the base's data was not copied in" test "$(stat -c %s "$D/d.wim")" -lt "$(stat -c %s "$D/elsewhere/moved_base.wim")"
if [[ $WL == 1 ]]; then
    t "... wimlib-imagex verify --ref" wimlib-imagex verify "$D/d.wim" --ref="$D/elsewhere/moved_base.wim"
    wimlib-imagex apply "$D/d.wim" "$D/out_wl" --ref="$D/elsewhere/moved_base.wim" >/dev/null 2>&1
    t "... wimlib-imagex apply --ref equals the changed tree" compare_trees "$D/exp" "$D/out_wl" --no-times
fi

# --- refused --------------------------------------------------------------------
"$WIMPACK" split "$TMP/orig.wim" "$TMP/sp.swm" 1 --quiet >/dev/null || fail "split"
t "split WIM refused" expect_fail 5 --mentions "split" -- wp mountrw "$TMP/sp.swm" "$MNT"
t "split WIM with --ref refused" expect_fail 5 --mentions "split" -- wp mountrw "$TMP/sp.swm" "$MNT" --ref="$TMP/sp*.swm"
"$WIMPACK" capture "$src/links" "$TMP/pipable.wim" --pipable --quiet >/dev/null || fail "capture --pipable"
t "pipable WIM refused" expect_fail 5 --mentions "pipable" -- wp mountrw "$TMP/pipable.wim" "$MNT"
wl_name=$(dirname "$WIMPACK")/wimmountrw
[[ -x $wl_name ]] && t "the wimmountrw name" expect_fail 5 --mentions "pipable" -- "$wl_name" "$TMP/pipable.wim" "$MNT"
t "WIMFILE - refused" expect_fail any -- wp mountrw - "$MNT"
t "non-empty mount point refused" expect_fail 1 --mentions "not empty" -- wp mountrw "$TMP/orig.wim" "$src"
t "unmount --commit of a non-mount" expect_fail any --mentions "not a mounted WIM" -- wp unmount "$src" --commit
t "nothing left mounted" not_mounted "$MNT"
t "no staging directory left" bash -c "! ls -d '$TMP'/*.staging.* >/dev/null 2>&1"

summary
