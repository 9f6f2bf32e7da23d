#!/usr/bin/env bash
# update (wimupdate): add, delete and rename against wimlib-imagex as the
# oracle; in-place growth; failures and interruptions leave the archive as it
# was; capture/append/add --dereference.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: compares wimpack with wimlib-imagex itself"; exit 0; }
if ! have wimlib-imagex; then echo "SKIP: wimlib-imagex (the oracle) is not installed"; exit 0; fi

src=$TMP/src
make_test_tree "$src"
add=$TMP/add
make_small_tree "$add"
mkdir -p "$add/sub/more" && printf 'more\n' >"$add/sub/more/m.txt"
add2=$TMP/add2 # replaces files of /sizes, adds one
mkdir -p "$add2" && printf 'replaced\n' >"$add2/size_1" && printf 'new\n' >"$add2/brand new"
add3=$TMP/add3 # merged into the root
mkdir -p "$add3/dups" && printf 'root merge\n' >"$add3/top.txt" && printf 'dup\n' >"$add3/dups/hello_dup.txt"
set_tree_times "$add2" && set_tree_times "$add3"

B=$TMP/base.wim          # made by wimpack
W=$TMP/base-wimlib.wim   # made by wimlib
t "capture the base archive" expect_ok wp capture "$src" "$B" base --quiet
t "wimlib-imagex captures the same tree" expect_ok wimlib-imagex capture "$src" "$W" base

# "${FROM[@]}" FILE CMD...: CMD with standard input from FILE (expect_* read
# /dev/null otherwise).
FROM=(bash -c 'f=$1; shift; exec "$@" <"$f"' _)

# apply_all WIM DIRPREFIX: image 1 applied by both tools to DIRPREFIX.wp and DIRPREFIX.wl
apply_all() {
    rm -rf "$2.wp" "$2.wl"
    expect_ok wp apply "$1" 1 "$2.wp" --quiet || return 1
    expect_ok wimlib-imagex apply "$1" 1 "$2.wl" || return 1
}
# XML statistics compared with wimlib's. Not HARDLINKBYTES: wimlib also makes
# one inode of a symlink reached by two adds, wimpack never links reparse
# points. Not DIRCOUNT with NO_DIRCOUNT=1: wimlib leaves the directories an
# add creates as missing parents out of its count.
stats_of() {
    wimlib-imagex info "$1" 1 | grep -E '^(File Count|Total Bytes)'
    [[ ${NO_DIRCOUNT:-0} == 1 ]] || wimlib-imagex info "$1" 1 | grep -E '^Directory Count'
}

# same_result BASE SCRIPT NAME [compare options]: the same commands run by
# both tools on copies of BASE give archives that both tools apply to the
# same tree, with the same statistics; ours passes wimlib-imagex verify.
same_result() {
    local base=$1 script=$2 name=$3
    shift 3
    local ours=$TMP/$name.ours.wim theirs=$TMP/$name.theirs.wim
    cp "$base" "$ours" && cp "$base" "$theirs"
    t "$name: wimpack update" expect_ok "${FROM[@]}" "$script" "$WIMPACK" update "$ours" --quiet || return
    wimlib-imagex update "$theirs" <"$script" >/dev/null || { fail "$name: wimlib-imagex update failed"; return; }
    t "$name: wimlib-imagex verify accepts our archive" expect_ok wimlib-imagex verify "$ours"
    apply_all "$ours" "$TMP/$name.ours" && apply_all "$theirs" "$TMP/$name.theirs" ||
        { fail "$name: apply"; return; }
    t "$name: ours (applied by wimpack) = wimlib's" compare_trees "$TMP/$name.theirs.wl" "$TMP/$name.ours.wp" "$@"
    t "$name: ours (applied by wimlib) = wimlib's" compare_trees "$TMP/$name.theirs.wl" "$TMP/$name.ours.wl" "$@"
    t "$name: the same listing" bash -c "diff <(wimlib-imagex dir '$theirs' 1) <(wimlib-imagex dir '$ours' 1)"
    t "$name: the same XML statistics" bash -c "diff <(stats_of '$theirs') <(stats_of '$ours')"
}
export -f stats_of

# --- each command against the oracle --------------------------------------
S1=$TMP/s1.txt
cat >"$S1" <<EOF
# comments and blank lines are ignored

   # indented comment
add "$add" /added
add '$add/a.txt' "/new file.txt"
add "$add" "/sp ace dir"
add --no-replace "$add2/brand new" /links/brand-new
add "$add2" /sizes
add "$add/a.txt" /links/h3_a
add $add3 /
delete /hello.txt
delete --recursive /deep
delete --force /does-not-exist
delete --force --recursive /empty_dir
rename /dups/hello_dup.txt /renamed.txt
rename /links/h2_b links\\h2_renamed
rename /empty_dir2 /sizes/moved_dir
rename /sizes/size_4096 "/dups/copy_of_4096"
rename /sym_rel /sym_renamed
EOF
same_result "$B" "$S1" s1
same_result "$W" "$S1" s1-wimlib-made
# Missing parents are made at update time: their times differ between tools.
S2=$TMP/s2.txt
printf 'add "%s" /x/y/z\nadd "%s/a.txt" /p/q/file\ndelete --recursive /\nadd "%s" /again/here\n' "$add" "$add" "$add" >"$S2"
NO_DIRCOUNT=1 same_result "$B" "$S2" s2 --no-times
S3=$TMP/s3.txt
printf 'delete --recursive /names\nrename /sizes /sizes2\nadd %s /sizes2\n' "$add2" >"$S3"
same_result "$B" "$S3" s3

t "--command runs one command" expect_ok wp update "$TMP/s1.ours.wim" 1 --command="rename '/new file.txt' /nf.txt" --quiet
t "... applied" bash -c "wimlib-imagex dir '$TMP/s1.ours.wim' 1 | grep -qx /nf.txt"
t "... and wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/s1.ours.wim"
cp "$B" "$TMP/rb.wim"
t "--rebuild" expect_ok wp update "$TMP/rb.wim" --rebuild --command="delete --recursive /deep" --quiet
t "... leaves no hole: smaller than the in-place result" \
    bash -c "cp '$B' '$TMP/ip.wim' && '$WIMPACK' update '$TMP/ip.wim' --command='delete --recursive /deep' --quiet &&
             [ \$(stat -c %s '$TMP/rb.wim') -lt \$(stat -c %s '$TMP/ip.wim') ]"
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/rb.wim"
cp "$B" "$TMP/ck.wim"
t "--check writes an integrity table" expect_ok wp update "$TMP/ck.wim" --check --command="delete /hello.txt" --quiet
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/ck.wim"
t "... which has one" bash -c "wimlib-imagex verify '$TMP/ck.wim' | grep -qi 'integrity'"
t "--check verifies an existing table first, --nocheck drops it" expect_ok wp update "$TMP/ck.wim" --check --command="delete /empty_file" --quiet
t "... --nocheck" expect_ok wp update "$TMP/ck.wim" --nocheck --command="delete /sym_rel" --quiet
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/ck.wim"

# The image's other XML elements survive; statistics follow the tree.
cp "$B" "$TMP/x.wim"
wimlib-imagex info "$TMP/x.wim" 1 base "a description" >/dev/null
t "update keeps NAME and DESCRIPTION" expect_ok wp update "$TMP/x.wim" base --command="delete /hello.txt" --quiet
t "... NAME" bash -c "wimlib-imagex info '$TMP/x.wim' 1 | grep -q '^Name: *base$'"
t "... DESCRIPTION" bash -c "wimlib-imagex info '$TMP/x.wim' 1 | grep -q '^Description: *a description$'"

# --- failures: a clear error naming the command, archive untouched ---------
cp "$B" "$TMP/f.wim"
fails() { # CODE MENTION SCRIPT-TEXT
    local code=$1 mention=$2 text=$3
    printf '%s\n' "$text" >"$TMP/fail.txt"
    t "fails ($code): $(head -c 60 <<<"$text" | tr '\n' ';')" \
        expect_fail "$code" --mentions "$mention" -- "${FROM[@]}" "$TMP/fail.txt" "$WIMPACK" update "$TMP/f.wim"
    t "... archive byte-identical" same_file "$B" "$TMP/f.wim"
}
fails 4 "line 1" "delete /nope"
fails 4 "/nope" "rename /nope /x"
fails 4 "line 2" $'add '"$add"$' /ok\nadd '"$TMP"$'/missing /x'
fails 1 "--recursive" "delete /sizes"
fails 1 "/sizes" "add $add/a.txt /sizes"
fails 1 "--no-replace" "add --no-replace $add2 /sizes"
fails 1 "not a directory" "add $add/a.txt /hello.txt/x"
fails 1 "not empty" "rename /empty_dir /sizes"
fails 2 "line 1" "add onlyone"
fails 2 "frob" "frob /x"
fails 2 "--bogus" "add --bogus $add /x"
fails 2 "unexpected" "delete /a /b"
fails 2 "quote" "delete '/unterminated"
t "--unsafe-compact with a failing command: exit 4 before anything moves" expect_fail 4 --mentions nosuch -- wp update "$TMP/f.wim" --unsafe-compact --command="delete /nosuch"
t "... archive byte-identical" same_file "$B" "$TMP/f.wim"
cp "$B" "$TMP/two.wim"
wp append "$src" "$TMP/two.wim" second --quiet
t "IMAGE is required with two images" expect_fail 2 --mentions "2 images" -- wp update "$TMP/two.wim" --command="delete /hello.txt"
t "a missing image" expect_fail 4 -- wp update "$TMP/two.wim" 3 --command="delete /hello.txt"
t "image 2 by name" expect_ok wp update "$TMP/two.wim" second --command="delete /hello.txt" --quiet
t "... image 1 unchanged" bash -c "wimlib-imagex dir '$TMP/two.wim' 1 | grep -qx /hello.txt"
t "... image 2 changed" bash -c "! wimlib-imagex dir '$TMP/two.wim' 2 | grep -qx /hello.txt"
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/two.wim"

# --- in place: one small file added to a big archive grows it < 1% ----------
big=$TMP/big
mkdir -p "$big"
head -c 60000000 /dev/urandom >"$big/random.bin"
cp -r "$src" "$big/tree"
G=$TMP/big.wim
t "capture a ~60 MB archive" expect_ok wp capture "$big" "$G" big --compress=xpress --quiet
before=$(stat -c %s "$G")
printf 'one small file\n' >"$TMP/small.txt"
t "add one small file" expect_ok wp update "$G" --command="add $TMP/small.txt /small.txt" --quiet
after=$(stat -c %s "$G")
grow=$((after - before))
t "... the archive grew by $grow of $before bytes (< 1%)" test $((grow * 100)) -lt "$before"
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$G"

# --- crash safety -----------------------------------------------------------
mkdir -p "$TMP/bigadd" && head -c 40000000 /dev/urandom >"$TMP/bigadd/r.bin" && cp -r "$add" "$TMP/bigadd/t"
cp "$B" "$TMP/done.wim"
wp update "$TMP/done.wim" --command="add $TMP/bigadd /bigadd" --quiet
rm -rf "$TMP/done" && wp apply "$TMP/done.wim" 1 "$TMP/done" --quiet
old_or_new() { compare_trees "$src" "$1" --quiet >/dev/null 2>&1 || compare_trees "$TMP/done" "$1" --quiet; }
for delay in 0.1 0.3 0.7 $(awk 'BEGIN{srand(); printf "%.2f %.2f", rand(), rand()*2}'); do
    cp "$B" "$TMP/k.wim"
    "$WIMPACK" update "$TMP/k.wim" --command="add $TMP/bigadd /bigadd" --quiet --threads=1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$TMP/k1" "$TMP/k2"
    t "kill -9 after ${delay}s: wimpack applies the archive" expect_ok wp apply "$TMP/k.wim" 1 "$TMP/k1" --quiet
    t "... as before (or as after) the update" old_or_new "$TMP/k1"
    t "... and wimlib-imagex too" expect_ok wimlib-imagex apply "$TMP/k.wim" 1 "$TMP/k2"
    t "... the same tree" old_or_new "$TMP/k2"
done
for delay in 0.2 0.6; do
    cp "$B" "$TMP/i.wim"
    "$WIMPACK" update "$TMP/i.wim" --command="add $TMP/bigadd /bigadd" --quiet --threads=1 &
    pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        skip "SIGINT after ${delay}s came after the update finished"
    else
        t "SIGINT after ${delay}s: exit 130 (got $rc)" test "$rc" -eq 130
        t "... archive byte-identical" same_file "$B" "$TMP/i.wim"
    fi
done

# --- --dereference ----------------------------------------------------------
D=$TMP/deref
mkdir -p "$D/real/dir" "$TMP/outside"
printf 'target file\n' >"$D/real/file"
printf 'in dir\n' >"$D/real/dir/x"
printf 'outside\n' >"$TMP/outside/o.txt"
ln -s real/file "$D/link_to_file"
ln -s real/dir "$D/link_to_dir"
ln -s "$TMP/outside" "$D/link_outside"
set_tree_times "$D"
t "capture --dereference" expect_ok wp capture "$D" "$TMP/d.wim" --dereference --quiet
rm -rf "$TMP/d.wp"
t "... applies" expect_ok wp apply "$TMP/d.wim" "$TMP/d.wp" --quiet
t "... a link to a file is that file" bash -c "[ -f '$TMP/d.wp/link_to_file' ] && [ ! -L '$TMP/d.wp/link_to_file' ] && grep -q 'target file' '$TMP/d.wp/link_to_file'"
t "... a link to a directory is that directory" bash -c "[ -d '$TMP/d.wp/link_to_dir' ] && [ ! -L '$TMP/d.wp/link_to_dir' ] && grep -q 'in dir' '$TMP/d.wp/link_to_dir/x'"
t "... a link out of the tree is followed too" bash -c "grep -q outside '$TMP/d.wp/link_outside/o.txt'"
t "wimlib-imagex capture --dereference" expect_ok wimlib-imagex capture "$D" "$TMP/d-wl.wim" --dereference
rm -rf "$TMP/d.wl"
wimlib-imagex apply "$TMP/d-wl.wim" "$TMP/d.wl" >/dev/null
t "... gives the same tree (hard links included)" compare_trees "$TMP/d.wl" "$TMP/d.wp"
t "append --dereference" expect_ok wp append "$D" "$TMP/d.wim" second --dereference --quiet
t "update add --dereference" expect_ok wp update "$B" --command="add --dereference $D /deref" --quiet
t "... the link to a directory is a directory in the image" bash -c "wimlib-imagex dir '$B' 1 | grep -qx /deref/link_to_dir/x"
t "... wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$B"
mkdir -p "$TMP/loop1" "$TMP/loop2/sub"
ln -s a "$TMP/loop1/b" && ln -s b "$TMP/loop1/a"
ln -s .. "$TMP/loop2/sub/up"
t "a symlink loop fails cleanly" expect_fail 1 --mentions "loop" -- wp capture "$TMP/loop1" "$TMP/l1.wim" --dereference
t "a link to an ancestor fails cleanly" expect_fail 1 --mentions "ancestor" -- wp capture "$TMP/loop2" "$TMP/l2.wim" --dereference
t "... and leaves no archive" test ! -e "$TMP/l2.wim"
t "without --dereference the loop is just links" expect_ok wp capture "$TMP/loop1" "$TMP/l3.wim" --quiet

summary
