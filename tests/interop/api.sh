#!/usr/bin/env bash
# libwimpack (include/wimpack/wimpack.h), as a program outside the tree uses
# it: `cmake --install` of this build into a scratch prefix, C programs
# compiled as C99 against the installed header with `pkg-config --cflags
# --libs wimpack`, then:
#   - tests/api/build_and_read.c builds an image with every entry type and a
#     second one based on it; wimlib-imagex verifies the archive, and
#     wimlib-imagex apply and wimpack apply --unix-data must give exactly the
#     tree built (held against one made with coreutils);
#   - the same program reads both images back through the read API and
#     applies them through it;
#   - tests/api/misuse.c: every misuse returns its documented code and a
#     message; when WIMPACK_API_ASAN_BUILD names a -DWIMPACK_SANITIZE=ON
#     build directory (as scripts/test does), misuse.c and build_and_read.c's
#     build, reparse and in-process mount run under ASan+UBSan too;
#   - random access: reading the end of a stream whose first chunk is
#     damaged works (only the chunks read are decoded);
#   - build_and_read.c mounts both images in-process (wimpack_mount_image),
#     reads them with POSIX calls, and dismounts (when /dev/fuse is usable);
#   - a 24 MiB stream compressed while it is written (LZX, and XPRESS);
#   - a junction and a third-party reparse point (wimpack_set_reparse_point)
#     seen by wimlib-imagex dir --detailed and read back;
#   - the shared library exports only wimpack_* symbols.
#
# usage: bash api.sh PATH/TO/wimpack   (the binary of a build directory)
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
if [[ $ORACLE == 1 ]]; then skip "libwimpack is wimpack's own"; summary; exit 0; fi
require_tool wimlib-imagex cc pkg-config cmake nm
WL=$(command -v wimlib-imagex)
BUILD=$(dirname "$WIMPACK")
SRC=$WIMPACK_SRC
PREFIX=$TMP/prefix

t "cmake --install into a scratch prefix" cmake --install "$BUILD" --prefix "$PREFIX" || { summary; exit 1; }
PC=$(find "$PREFIX" -name wimpack.pc | head -n1)
LIBDIR=$(dirname "$(dirname "$PC")")
export PKG_CONFIG_PATH=$(dirname "$PC")

# --- what is installed -------------------------------------------------------
installed() {
    local f
    for f in bin/wimpack include/wimpack/wimpack.h share/bash-completion/completions/wimpack \
        share/man/man1/wimpack.1 share/man/man1/wimpack-capture.1 share/man/man1/wimpack-apply.1; do
        [[ -e $PREFIX/$f ]] || { echo "missing $f"; return 1; }
    done
    [[ -L $PREFIX/bin/wimcapture && $(readlink "$PREFIX/bin/wimcapture") == wimpack ]] || { echo "no bin/wimcapture link"; return 1; }
    [[ -L $PREFIX/share/man/man1/wimcapture.1 ]] || { echo "no wimcapture.1 link"; return 1; }
    [[ -f $LIBDIR/libwimpack.a ]] || { echo "no libwimpack.a"; return 1; }
    local so
    so=$(readlink "$LIBDIR/libwimpack.so") && [[ $so == libwimpack.so.0 ]] || { echo "libwimpack.so -> '$so'"; return 1; }
    [[ $(readlink "$LIBDIR/libwimpack.so.0") == libwimpack.so.0.* ]] || { echo "no versioned libwimpack.so.0"; return 1; }
    objdump -p "$LIBDIR/libwimpack.so" | grep -q 'SONAME *libwimpack.so.0' || { echo "wrong SONAME"; return 1; }
    "$PREFIX/bin/wimcapture" --help >/dev/null || return 1
    bash -c ". '$PREFIX/share/bash-completion/completions/wimpack' && complete -p wimpack wimapply" >/dev/null
}
t "installed: binary, wimCMD links, libwimpack.so.0 (soname) and .a, header, wimpack.pc, man pages, completion" installed

only_wimpack_symbols() {
    local all bad
    all=$(nm -D --defined-only "$LIBDIR/libwimpack.so" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')
    bad=$(grep -v '^wimpack_' <<<"$all")
    [[ -z $bad ]] || { echo "non-API symbols exported:"; head -n 20 <<<"$bad"; return 1; }
    grep -qx wimpack_create_image <<<"$all" && grep -qx wimpack_apply <<<"$all"
}
t "nm -D: the shared library exports only wimpack_* symbols" only_wimpack_symbols

compile() {  # compile OUT SOURCE
    # shellcheck disable=SC2046
    cc -std=c99 -pthread -Wall -Wextra -Werror -pedantic -D_XOPEN_SOURCE=700 -o "$1" "$2" \
        $(pkg-config --cflags --libs wimpack) -Wl,-rpath,"$LIBDIR"
}
t "compile build_and_read.c as C99 with pkg-config --cflags --libs wimpack" \
    compile "$TMP/build_and_read" "$SRC/tests/api/build_and_read.c" || { summary; exit 1; }
t "compile misuse.c" compile "$TMP/misuse" "$SRC/tests/api/misuse.c" || { summary; exit 1; }
compile_static() {  # the static library with the dependencies wimpack.pc lists for --static
    # shellcheck disable=SC2046
    cc -std=c99 -pthread -D_XOPEN_SOURCE=700 -o "$1" "$2" $(pkg-config --cflags wimpack) \
        $(pkg-config --libs-only-L wimpack) -Wl,-Bstatic -lwimpack -Wl,-Bdynamic \
        $(pkg-config --static --libs-only-l wimpack | sed 's/-lwimpack//') || return 1
    ! ldd "$1" | grep -q libwimpack
}
t "link misuse.c against libwimpack.a (pkg-config --static)" compile_static "$TMP/misuse-static" "$SRC/tests/api/misuse.c"
no_core_headers() { ! pkg-config --cflags wimpack | grep -q -- "$SRC"; }
t "the installed header stands alone (no source-tree include path)" no_core_headers

# --- building ------------------------------------------------------------------
W=$TMP/api.wim
t "build two images through the API" "$TMP/build_and_read" build "$W" || { summary; exit 1; }
t "wimlib-imagex verify" "$WL" verify "$W"
t "wimpack verify" "$WIMPACK" verify "$W"
info() { "$WL" info "$W" >"$TMP/info" && grep -q '^Image Count: *2' "$TMP/info" &&
    grep -q '^Name: *first' "$TMP/info" && grep -q '^Name: *second' "$TMP/info"; }
t "wimlib-imagex info: 2 images, named first and second" info

# The trees the program built, made with coreutils. T1 (FILETIME
# 132000000000000000) is 2019-04-17 18:40:00 UTC.
EXP1=$TMP/exp1
(
    set -e
    mkdir -p "$EXP1/dir/sub"
    seq 1 400000 >"$EXP1/dir/big.txt"
    printf interleaved >"$EXP1/dir/interleaved.txt"
    for k in 0 1 2 3; do seq 1 100000 >"$EXP1/dir/t$k"; done
    seq 1 400000 >"$EXP1/dir/sub/copy.txt"
    : >"$EXP1/empty1"
    : >"$EXP1/empty2"
    printf 'main data\n' >"$EXP1/dir/ads.txt"
    ln "$EXP1/dir/big.txt" "$EXP1/hardlink.txt"
    ln "$EXP1/dir/big.txt" "$EXP1/dir/sub/hl2.txt"
    ln -s dir/big.txt "$EXP1/rel_link"
    ln -s /etc/hostname "$EXP1/abs_link"
    ln -s dir/sub "$EXP1/dir_link"
    printf 'owned\n' >"$EXP1/unix.txt"
    chown 1234:5678 "$EXP1/unix.txt" 2>/dev/null || true
    chmod 0640 "$EXP1/unix.txt"
    mkfifo -m 0600 "$EXP1/fifo"
    printf 'back again\n' >"$EXP1/gone.txt"
)
EXP2=$TMP/exp2
(
    set -e
    cp -a "$EXP1" "$EXP2"
    rm -rf "$EXP2/dir/sub" "$EXP2/gone.txt"
    printf 'new in image 2\n' >"$EXP2/dir/new.txt"
)

t "wimlib-imagex apply image 1" "$WL" apply "$W" 1 "$TMP/wl1"
# (wimlib-imagex apply without --unix-data makes the FIFO an empty file.)
t "  = the tree built (contents, links, hard links)" compare_trees --no-times --exclude=fifo "$EXP1" "$TMP/wl1"
t "wimlib-imagex apply image 2 (based on image 1)" "$WL" apply "$W" 2 "$TMP/wl2"
t "  = image 1 plus the changes" compare_trees --no-times --exclude=fifo "$EXP2" "$TMP/wl2"
hardlinked() { [[ $(stat -c %i "$1/dir/big.txt") == $(stat -c %i "$1/hardlink.txt") ]]; }
t "  hard links are one inode" hardlinked "$TMP/wl1"
times_kept() { [[ $(stat -c %Y "$1/dir/big.txt") == 1555526400 && $(stat -c %Y "$1/dir") == 1555526400 ]]; }
t "  timestamps as given" times_kept "$TMP/wl1"
if [[ $(id -u) == 0 ]]; then
    t "wimpack apply --unix-data image 1" "$WIMPACK" apply --unix-data "$W" 1 "$TMP/wp1"
    t "  = the tree built, owners, modes and the FIFO included" compare_trees --no-times --unix-data "$EXP1" "$TMP/wp1"
else
    skip "wimpack apply --unix-data (needs root to set owners)"
fi
ads() { "$WL" dir "$W" 1 --path=/dir/ads.txt --detailed | grep -q 'Named data stream "extra"'; }
t "wimlib-imagex dir: the named stream 'extra' is there" ads
dedup() { [[ $("$WIMPACK" info "$W" --blobs | grep -c "$(seq 1 400000 | sha1sum | cut -c1-40)") -eq 1 ]]; }
t "identical content stored once" dedup

# A stream over the writer's 8 MiB in-memory limit, compressed while it is
# written (every fourth MiB random: raw chunks among compressed ones), the
# chunks copied verbatim at commit.
t "a 24 MiB stream compressed as it is written" "$TMP/build_and_read" big "$TMP/big.wim" 24
t "  wimlib-imagex verify" "$WL" verify "$TMP/big.wim"
t "  and with XPRESS" "$TMP/build_and_read" big "$TMP/big_xpress.wim" 10 XPRESS
t "  wimlib-imagex verify" "$WL" verify "$TMP/big_xpress.wim"

# Reparse points other than symlinks (wimpack_set_reparse_point).
t "a junction and a third-party reparse point; misuse; read back" "$TMP/build_and_read" reparse "$TMP/rp.wim"
t "  wimlib-imagex verify" "$WL" verify "$TMP/rp.wim"
rp_tags() {
    "$WL" dir "$TMP/rp.wim" 1 --detailed >"$TMP/rp.txt" || return 1
    awk '/^Full Path/ {p = $4} /^Reparse Tag/ {print p, $4}' "$TMP/rp.txt" >"$TMP/rp.tags"
    grep -qx '"/junction" 0xa0000003' "$TMP/rp.tags" && grep -qx '"/tagged.txt" 0x1234' "$TMP/rp.tags" ||
        { cat "$TMP/rp.tags"; return 1; }
}
t "  wimlib-imagex dir --detailed: the junction's and the file's reparse tags" rp_tags

# --- reading ---------------------------------------------------------------------
mkdir -p "$TMP/rd"
t "read back through the API (list, stat, random-access reads, apply)" \
    env API_UNIX=$(( $(id -u) == 0 )) "$TMP/build_and_read" read "$W" "$TMP/rd"
if [[ $(id -u) == 0 ]]; then
    t "  API apply of image 1 (unix data) = the tree built" compare_trees --no-times --unix-data "$EXP1" "$TMP/rd/all"
else
    t "  API apply of image 1 = the tree built" compare_trees --no-times "$EXP1" "$TMP/rd/all"
fi
mkdir -p "$TMP/exp_dir_only"
cp -a "$EXP2/dir" "$TMP/exp_dir_only/"
t "  API apply of image 2's /dir = that directory" compare_trees --no-times "$TMP/exp_dir_only" "$TMP/rd/dir_only"

# Random access: a copy whose first chunk of the 400,000-line stream is
# garbage. Reading the stream's end must not touch that chunk.
damage_first_chunk() {  # damage_first_chunk WIM SHA1HEX (LZX, 32 KiB chunks, < 4 GiB)
    local blobs off usize n first
    blobs=$("$WL" info "$1" --blobs) || return 1
    off=$(awk -v h="0x$2" '$1 == "Hash" {cur = $3} cur == h && /^Offset in WIM/ {print $5; exit}' <<<"$blobs")
    usize=$(awk -v h="0x$2" '$1 == "Hash" {cur = $3} cur == h && /^Uncompressed size/ {print $4; exit}' <<<"$blobs")
    [[ -n $off && -n $usize ]] || { echo "blob $2 not found"; return 1; }
    n=$(( (usize + 32767) / 32768 ))
    first=$(od -An -tu4 -j "$off" -N4 "$1" | tr -d ' ')  # table[0] = the size of chunk 0
    head -c "$first" /dev/zero | tr '\0' '\377' |
        dd of="$1" bs=4096 oflag=seek_bytes seek=$(( off + (n - 1) * 4 )) conv=notrunc status=none
}
cp "$W" "$TMP/damaged.wim"
t "damage the first chunk of a big stream in a copy" damage_first_chunk "$TMP/damaged.wim" "$(seq 1 400000 | sha1sum | cut -c1-40)"
t "  the damage is real: wimpack verify fails" expect_fail 3 -- "$WIMPACK" verify "$TMP/damaged.wim"
t "random access: the stream's end reads right, its damaged start is an error" "$TMP/build_and_read" late "$TMP/damaged.wim"

flip_byte() {  # flip_byte WIM SHA1HEX: changes byte 1000 of that (uncompressed) blob
    local off
    off=$("$WL" info "$1" --blobs | awk -v h="0x$2" '$1 == "Hash" {cur = $3} cur == h && /^Offset in WIM/ {print $5; exit}')
    [[ -n $off ]] || { echo "blob $2 not found"; return 1; }
    printf '#' | dd of="$1" bs=1 seek=$(( off + 1000 )) conv=notrunc status=none
}
t "an uncompressed copy with one byte of a stream changed" \
    "$WIMPACK" export "$W" 1 "$TMP/flipped.wim" --compress=none
t "  (the byte changed)" flip_byte "$TMP/flipped.wim" "$(seq 1 400000 | sha1sum | cut -c1-40)"
t "  reading it front to back through the API ends with the SHA-1 error" "$TMP/build_and_read" hashcheck "$TMP/flipped.wim"

# --- in-process mounts -------------------------------------------------------------
# wimpack_mount_image serves the FUSE session on a thread of the program,
# which reads the mount with POSIX calls itself, then dismounts.
if [[ -c /dev/fuse && ( $(id -u) == 0 || -n $(command -v fusermount3) ) ]]; then
    mkdir -p "$TMP/mnt"
    t "mount in-process: read with POSIX calls, busy, dismount, empty again" \
        env API_WIMPACK="$WIMPACK" timeout 120 "$TMP/build_and_read" mount "$W" "$TMP/mnt"
    not_mounted() { ! is_mounted "$TMP/mnt" && [[ -z $(ls -A "$TMP/mnt") ]]; }
    t "  nothing left mounted" not_mounted
    is_mounted "$TMP/mnt" && umount -l "$TMP/mnt" 2>/dev/null
elif [[ -n ${CI:-} ]]; then
    t "/dev/fuse is usable in CI" test -c /dev/fuse
else
    skip "in-process mount (no usable /dev/fuse here)"
fi

# --- misuse ------------------------------------------------------------------------
mkdir -p "$TMP/m"
t "misuse: each case returns its code and a message" "$TMP/misuse" "$TMP/m"
t "  the archive misuse.c committed is valid" "$WL" verify "$TMP/m/m.wim"
mkdir -p "$TMP/ms"
t "misuse, statically linked" "$TMP/misuse-static" "$TMP/ms"

if [[ -n ${WIMPACK_API_ASAN_BUILD:-} ]]; then
    ASAN_PREFIX=$TMP/asan-prefix
    asan_compile() {  # asan_compile OUT SOURCE: against the sanitized build, sanitized too
        local pc
        pc=$(find "$ASAN_PREFIX" -name wimpack.pc | head -n1)
        # shellcheck disable=SC2046
        cc -std=c99 -pthread -g -fsanitize=address,undefined -D_XOPEN_SOURCE=700 -o "$1" "$2" \
            $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs wimpack) \
            -Wl,-rpath,"$(dirname "$(dirname "$pc")")"
    }
    asan_run() {
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$@"
    }
    asan_misuse() {
        asan_compile "$TMP/misuse-asan" "$SRC/tests/api/misuse.c" || return 1
        rm -rf "$TMP/ma" && mkdir -p "$TMP/ma"
        asan_run "$TMP/misuse-asan" "$TMP/ma"
    }
    t "install the ASan+UBSan build" cmake --install "$WIMPACK_API_ASAN_BUILD" --prefix "$ASAN_PREFIX"
    t "misuse under ASan+UBSan" asan_misuse
    # The in-process mount (FUSE session on the program's threads) and the
    # stream compressor, under the sanitizers: build both images, mount them.
    asan_build_mount() {
        asan_compile "$TMP/bar-asan" "$SRC/tests/api/build_and_read.c" || return 1
        rm -f "$TMP/asan.wim"
        asan_run "$TMP/bar-asan" build "$TMP/asan.wim" || return 1
        asan_run "$TMP/bar-asan" reparse "$TMP/asan-rp.wim" || return 1
        if [[ -c /dev/fuse && ( $(id -u) == 0 || -n $(command -v fusermount3) ) ]]; then
            mkdir -p "$TMP/asan-mnt"
            asan_run env API_WIMPACK="$WIMPACK" timeout 120 "$TMP/bar-asan" mount "$TMP/asan.wim" "$TMP/asan-mnt"
        else
            echo "no usable /dev/fuse: the mount part is skipped"
        fi
    }
    t "build, reparse and in-process mount under ASan+UBSan" asan_build_mount
    is_mounted "$TMP/asan-mnt" && umount -l "$TMP/asan-mnt" 2>/dev/null
fi

summary
