#!/usr/bin/env bash
# Issue 13 part 1: reproducible archives. With SOURCE_DATE_EPOCH set, the same
# tree gives byte-identical archives whatever the run time, the thread count,
# the directory the tree sits in, its inode numbers and readdir order; for
# every codec and --solid; also append, optimize, export and split.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

EPOCH=1700000000
STAMP=1600000000

# make_tree DIR forward|reverse: the same content, created in either order
# (other inode numbers, other readdir order), every time set to $STAMP.
make_tree() {
    local d=$1 order=$2 i list
    mkdir -p "$d"
    if [[ $order == forward ]]; then list=$(seq 1 24); else list=$(seq 24 -1 1); fi
    (
        set -e
        cd "$d"
        for i in $list; do
            mkdir -p "dir$((i % 4))/sub$((i % 3))"
            # same names in several directories (ties in the solid sort order)
            seq 1 $((i * 300)) | sed "s/^/row $i of a compressible file /" >"dir$((i % 4))/sub$((i % 3))/same.txt.$i"
            rand_bytes "$i" $((i * 700)) >"dir$((i % 4))/data$i.bin"
            printf 'dup content\n' >"dir$((i % 4))/dup$i.txt"
            : >"dir$((i % 4))/empty$i"
        done
        seq 1 200000 | sed 's/^/a larger file, more than one chunk: /' >big.log
        rand_bytes 99 300000 >big.rnd
        printf 'linked\n' >link_a
        ln link_a dir1/link_b
        ln link_a dir2/link_c
        ln -s big.log sym_rel
        mkdir empty_dir
    )
    find "$d" -exec touch -h -d "@$STAMP" {} +
}

make_tree "$TMP/x/tree" forward
mkdir -p "$TMP/y/deeper"
cp -a "$TMP/x/tree" "$TMP/y/deeper/tree"  # new inodes, another path
make_tree "$TMP/z/tree" reverse
t "the copies hold the same files" compare_trees "$TMP/x/tree" "$TMP/z/tree" --quiet
t "... with other inode numbers" test "$(stat -c %i "$TMP/x/tree/big.log")" != "$(stat -c %i "$TMP/y/deeper/tree/big.log")"

configs=(
    "none:--compress=none"
    "xpress:--compress=xpress"
    "lzx:--compress=lzx"
    "lzms:--compress=lzms"
    "zstd:--compress=zstd"
    "lzma:--compress=lzma"
    "solid:--solid"
    "solid-lzx:--solid --solid-compress=lzx --solid-chunk-size=64K"
    "solid-zstd:--compress=zstd --solid --solid-compress=zstd --solid-chunk-size=256K"
)
wimlib_reads() { case $1 in none | xpress | lzx | lzms | solid | solid-lzx) return 0 ;; esac; return 1; }

rcap() {  # rcap TREE OUT THREADS OPTIONS...
    local tree=$1 out=$2 th=$3; shift 3
    # shellcheck disable=SC2068
    SOURCE_DATE_EPOCH=$EPOCH expect_ok wp capture "$tree" "$out" tree --threads="$th" --quiet $@
}
for c in "${configs[@]}"; do
    name=${c%%:*} opts=${c#*:}
    t "$name: capture, 1 thread" rcap "$TMP/x/tree" "$TMP/$name-1.wim" 1 "$opts"
done
sleep 1.1  # another second: a current time anywhere would show
for c in "${configs[@]}"; do
    name=${c%%:*} opts=${c#*:}
    t "$name: capture of the cp -a copy elsewhere, 2 threads" rcap "$TMP/y/deeper/tree" "$TMP/$name-2.wim" 2 "$opts"
    t "$name: capture of the tree created in reverse order, 2 threads" rcap "$TMP/z/tree" "$TMP/$name-3.wim" 2 "$opts"
    t "$name: identical bytes (copy)" cmp "$TMP/$name-1.wim" "$TMP/$name-2.wim"
    t "$name: identical bytes (reverse order)" cmp "$TMP/$name-1.wim" "$TMP/$name-3.wim"
    if wimlib_reads "$name" && have wimlib-imagex; then
        t "$name: wimlib-imagex verify accepts it" expect_ok wimlib-imagex verify "$TMP/$name-1.wim"
    else
        t "$name: wimpack verify accepts it" expect_ok wp verify "$TMP/$name-1.wim"
    fi
done
rm -rf "$TMP/out"
t "an archive applies back to the tree" expect_ok wp apply "$TMP/solid-1.wim" "$TMP/out" --quiet
t "... identical" compare_trees "$TMP/x/tree" "$TMP/out" --quiet

# The XML times are SOURCE_DATE_EPOCH's.
t "XML CREATIONTIME is SOURCE_DATE_EPOCH" expect_ok wp info "$TMP/lzx-1.wim" 1
t "... (2023-11-14 22:13:20 UTC)" grep -q "Creation Time: *Tue Nov 14 22:13:20 2023 UTC" "$LAST_STDOUT"
t "... LASTMODIFICATIONTIME too" grep -q "Last Modification Time: *Tue Nov 14 22:13:20 2023 UTC" "$LAST_STDOUT"
# Another epoch: another GUID and other times, same data.
t "another SOURCE_DATE_EPOCH" expect_ok env SOURCE_DATE_EPOCH=1700000001 "$WIMPACK" capture "$TMP/x/tree" "$TMP/other-epoch.wim" tree --compress=lzx --quiet
t "... gives another GUID" test "$(hdr "$TMP/other-epoch.wim" guid)" != "$(hdr "$TMP/lzx-1.wim" guid)"

# Without SOURCE_DATE_EPOCH: a random GUID each time (as wimlib).
t "capture without SOURCE_DATE_EPOCH" expect_ok env -u SOURCE_DATE_EPOCH "$WIMPACK" capture "$TMP/x/tree" "$TMP/r1.wim" tree --quiet
t "... again" expect_ok env -u SOURCE_DATE_EPOCH "$WIMPACK" capture "$TMP/x/tree" "$TMP/r2.wim" tree --quiet
t "... the GUIDs differ" test "$(hdr "$TMP/r1.wim" guid)" != "$(hdr "$TMP/r2.wim" guid)"
t "... the files differ" eval "! cmp -s \"$TMP/r1.wim\" \"$TMP/r2.wim\""

# A malformed SOURCE_DATE_EPOCH is an error before anything is written.
for bad in abc 12x -5 1.5 99999999999999; do
    t "SOURCE_DATE_EPOCH=$bad is refused (exit 2)" expect_fail 2 --mentions SOURCE_DATE_EPOCH -- \
        env SOURCE_DATE_EPOCH=$bad "$WIMPACK" capture "$TMP/x/tree" "$TMP/bad.wim" --quiet
    t "... nothing written" test ! -e "$TMP/bad.wim"
done
t "an empty SOURCE_DATE_EPOCH counts as unset" expect_ok env SOURCE_DATE_EPOCH= "$WIMPACK" capture "$TMP/x/tree" "$TMP/empty-sde.wim" --quiet

# Append (a second image), optimize, export to a new archive, split: the
# same inputs give the same bytes.
for k in 1 2; do
    src=$TMP/x/tree
    [[ $k == 2 ]] && src=$TMP/z/tree
    cp "$TMP/lzx-$k.wim" "$TMP/app-$k.wim"
    t "append #$k" expect_ok env SOURCE_DATE_EPOCH=$EPOCH "$WIMPACK" append "$src" "$TMP/app-$k.wim" second --threads=$k --quiet
    cp "$TMP/app-$k.wim" "$TMP/opt-$k.wim"
    t "optimize #$k" expect_ok env SOURCE_DATE_EPOCH=$EPOCH "$WIMPACK" optimize "$TMP/opt-$k.wim" --recompress --threads=$k --quiet
    t "export to a new archive #$k" expect_ok env SOURCE_DATE_EPOCH=$EPOCH "$WIMPACK" export "$TMP/app-$k.wim" all "$TMP/exp-$k.wim" --compress=xpress --threads=$k --quiet
    mkdir -p "$TMP/split-$k"
    t "split #$k" expect_ok env SOURCE_DATE_EPOCH=$EPOCH "$WIMPACK" split "$TMP/exp-$k.wim" "$TMP/split-$k/p.swm" 1 --quiet
    sleep 1.1
done
t "append: identical" cmp "$TMP/app-1.wim" "$TMP/app-2.wim"
t "... two images" test "$(hdr "$TMP/app-1.wim" image_count)" = 2
t "optimize: identical" cmp "$TMP/opt-1.wim" "$TMP/opt-2.wim"
t "export: identical" cmp "$TMP/exp-1.wim" "$TMP/exp-2.wim"
t "split: identical parts" diff -r "$TMP/split-1" "$TMP/split-2"
t "... more than one part" test "$(find "$TMP/split-1" -name '*.swm' | wc -l)" -gt 1
if have wimlib-imagex; then
    t "append result: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/app-1.wim"
    t "optimize result: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/opt-1.wim"
    t "split result: wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/split-1/p.swm" --ref="$TMP/split-1/p*.swm"
fi

# --image-guid: the GUID of a new archive, given as 'info' prints it; it wins
# over the derived one, and an existing archive keeps its own.
G=00112233445566778899aabbccddeeff
guid_of() { "$WIMPACK" info "$1" | sed -n 's/^GUID: *0x//p'; }
t "capture --image-guid=0x$G" expect_ok env SOURCE_DATE_EPOCH=$EPOCH "$WIMPACK" capture "$TMP/x/tree" "$TMP/g.wim" --image-guid=0x$G --quiet
t "... info shows it" test "$(guid_of "$TMP/g.wim")" = $G
t "... the rest as without it: only the 16 GUID bytes differ from the derived archive" \
    test "$(cmp -l "$TMP/g.wim" "$TMP/lzx-1.wim" | wc -l)" -le 16
t "export --image-guid in the braced form" expect_ok wp export "$TMP/g.wim" 1 "$TMP/g2.wim" --image-guid="{00112233-4455-6677-8899-AABBCCDDEEFF}" --quiet
t "... info shows it" test "$(guid_of "$TMP/g2.wim")" = $G
if have wimlib-imagex; then
    t "... wimlib-imagex info shows it" bash -c 'wimlib-imagex info "$1" | grep -q "^GUID: *0x$2$"' _ "$TMP/g2.wim" $G
fi
t "append --image-guid to an existing archive: exit 2" expect_fail 2 --mentions "keeps its GUID" -- wp append "$TMP/x/tree" "$TMP/g.wim" again --image-guid=$G
t "... the archive is unchanged (one image, same GUID)" test "$(guid_of "$TMP/g.wim")" = $G
t "--image-guid that is not 32 hex digits: exit 2" expect_fail 2 --mentions "not a GUID" -- wp capture "$TMP/x/tree" "$TMP/bad.wim" --image-guid=0x1234
t "... no archive" test ! -e "$TMP/bad.wim"

summary
