#!/usr/bin/env bash
# Stress the read and write paths with several threads, for a sanitizer build
# (scripts/test runs it with an ASan+UBSan wimpack):
# capture with every codec, solid and not, append, optimize, apply (one image
# and all), each with more threads than cores, and the trees compared after
# each round trip. A sanitizer report makes the binary exit non-zero, which
# fails the step.
#
#   bash tests/stress/stress.sh PATH/TO/wimpack [ROUNDS]
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$1"
rounds=${2:-1}
T_TIMEOUT=${T_TIMEOUT:-600}

src=$TMP/src
make_test_tree "$src"
# more data than one chunk per file, and many files of one size (prehashing)
mkdir -p "$src/bulk" "$src/same"
head -c 3000000 /dev/urandom >"$src/bulk/random"
seq 1 400000 >"$src/bulk/text"
for i in $(seq 1 60); do printf '%07d\n' "$i" >"$src/same/f$i"; done
cp "$src/bulk/text" "$src/bulk/text-copy"

for round in $(seq 1 "$rounds"); do
    for spec in "LZX" "XPRESS" "zstd" "lzma" "none" "zstd --solid --solid-compress=zstd --solid-chunk-size=1M" \
        "LZX --solid --solid-compress=LZX --solid-chunk-size=64K"; do
        read -r -a opts <<<"--compress=$spec"
        name=$(echo "$spec" | tr -c 'A-Za-z0-9' _)
        W=$TMP/$name.wim
        rm -rf "$W" "$TMP/out"
        t "[$round] capture $spec, 4 threads" expect_ok wp capture "$src" "$W" one "${opts[@]}" --threads=4 --quiet
        t "[$round] append $spec" expect_ok wp append "$src/bulk" "$W" two "${opts[@]}" --threads=4 --quiet
        t "[$round] apply all, 4 threads" expect_ok wp apply "$W" all "$TMP/out" --threads=4 --quiet
        t "[$round] ... image 1 identical" compare_trees "$src" "$TMP/out/one" --quiet
        t "[$round] ... image 2 identical" compare_trees "$src/bulk" "$TMP/out/two" --quiet
        t "[$round] optimize --recompress, 3 threads" expect_ok wp optimize "$W" --recompress --threads=3 --quiet
        rm -rf "$TMP/out"
        t "[$round] apply image 1 after optimize" expect_ok wp apply "$W" 1 "$TMP/out" --threads=3 --quiet
        t "[$round] ... identical" compare_trees "$src" "$TMP/out" --quiet
        t "[$round] info --blobs" expect_ok wp info "$W" --blobs
    done
done
summary
