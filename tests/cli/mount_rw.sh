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
# directory is removed at unmount.
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
t "... unmount" "$WIMPACK" unmount "$MNT" --quiet
rm -rf "$TMP"/base.wim.staging.*  # what the killed process could not remove

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

# --- refused --------------------------------------------------------------------
"$WIMPACK" split "$TMP/orig.wim" "$TMP/sp.swm" 1 --quiet >/dev/null || fail "split"
t "split WIM refused" expect_fail 5 --mentions "split" -- wp mountrw "$TMP/sp.swm" "$MNT"
"$WIMPACK" capture "$src/links" "$TMP/pipable.wim" --pipable --quiet >/dev/null || fail "capture --pipable"
t "pipable WIM refused" expect_fail 5 --mentions "pipable" -- wp mountrw "$TMP/pipable.wim" "$MNT"
wl_name=$(dirname "$WIMPACK")/wimmountrw
[[ -x $wl_name ]] && t "the wimmountrw name" expect_fail 5 --mentions "pipable" -- "$wl_name" "$TMP/pipable.wim" "$MNT"
t "WIMFILE - refused" expect_fail any -- wp mountrw - "$MNT"
t "--streams-interface=windows refused" expect_fail 5 --mentions "windows" -- wp mountrw "$TMP/orig.wim" "$MNT" --streams-interface=windows
t "non-empty mount point refused" expect_fail 1 --mentions "not empty" -- wp mountrw "$TMP/orig.wim" "$src"
t "unmount --commit of a non-mount" expect_fail any --mentions "not a mounted WIM" -- wp unmount "$src" --commit
t "nothing left mounted" not_mounted "$MNT"
t "no staging directory left" bash -c "! ls -d '$TMP'/*.staging.* >/dev/null 2>&1"

summary
