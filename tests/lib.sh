# shellcheck shell=bash
# Shared helpers for the shell-level test suite (tests/cli/*.sh, tests/interop/*.sh).
#
# Source it from a scenario script:
#     . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#     init_test "$@"          # $1 = path to the binary under test
#
# What it gives you:
#   WIMPACK            absolute path of the binary under test ($1)
#   ORACLE             1 if $1 is wimlib-imagex itself (used to validate the
#                      scripts before wimpack works: exit-code checks relax to
#                      "non-zero" and wimpack-only features are skipped)
#   TMP                a private scratch directory, removed on exit
#                      (KEEP_TMP=1 keeps it for debugging)
#   make_test_tree DIR [--unix]   build the standard source tree
#   make_small_tree DIR           a tiny tree (for byte-wise corruption loops)
#   compare_trees A B [--unix-data] [--quiet]
#   expect_ok CMD...               exit 0, no crash, within $T_TIMEOUT seconds
#   expect_fail CODE [--mentions STR]... [--] CMD...
#   t DESC CMD...                  run a check, record pass/fail
#   skip DESC / pass DESC / fail DESC
#   summary                         one-line summary; returns non-zero on failure
#
# Only bash, coreutils, findutils, getfattr/setfattr (package attr) and python3.

T_PASS=0
T_FAIL=0
T_SKIP=0
T_NAME=$(basename "${0}" .sh)
T_TIMEOUT=${T_TIMEOUT:-60}
T_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WIMPACK_SRC=${WIMPACK_SRC:-$(cd "$T_LIBDIR/.." && pwd)}
LAST_STDOUT=
LAST_STDERR=
# The system python starts in 0.1 s; a pyenv shim can take ~1 s per call.
if [[ -z ${PY:-} ]]; then
    if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi
fi
LAST_RC=

# ---------------------------------------------------------------------------
# Set-up, scratch space, cleanup
# ---------------------------------------------------------------------------

_cleanup() {
    local rc=$?
    if [[ -n ${TMP:-} && -d $TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            echo "# KEEP_TMP=1: scratch directory kept at $TMP" >&2
        else
            # chmod 000 files/dirs made by permission tests must not block removal
            chmod -R u+rwX "$TMP" 2>/dev/null
            rm -rf "$TMP"
        fi
    fi
    return $rc
}

_interrupted() {
    echo "# $T_NAME: interrupted" >&2
    exit 130
}

# init_test BINARY: checks the binary, creates $TMP, installs traps.
init_test() {
    if [[ $# -lt 1 || -z $1 ]]; then
        echo "usage: bash $0 PATH/TO/wimpack" >&2
        exit 2
    fi
    local bin=$1
    if [[ $bin != */* ]]; then
        bin=$(command -v "$bin") || { echo "$T_NAME: $1: not found" >&2; exit 2; }
    fi
    if [[ ! -x $bin ]]; then
        echo "$T_NAME: $bin: not an executable" >&2
        exit 2
    fi
    WIMPACK=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
    ORACLE=0
    [[ $(basename "$WIMPACK") == wimlib-imagex ]] && ORACLE=1
    export LC_ALL=C.UTF-8
    umask 022
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/wimpack-$T_NAME.XXXXXX")
    export WIMPACK ORACLE TMP T_TIMEOUT T_LIBDIR PY
    # world-traversable so permission tests can run commands as "nobody"
    chmod 755 "$TMP"
    trap _cleanup EXIT
    trap _interrupted INT TERM HUP
    echo "# $T_NAME: testing $WIMPACK$([[ $ORACLE == 1 ]] && echo ' (oracle mode: exit codes relaxed, wimpack-only features skipped)')"
}

have() { command -v "$1" >/dev/null 2>&1; }

# require_tool TOOL...: exits 0 with "SKIP: ..." when a tool is missing.
require_tool() {
    local t
    for t in "$@"; do
        if ! have "$t"; then
            echo "SKIP: $T_NAME needs '$t', which is not installed"
            exit 0
        fi
    done
}

# require_fuse: for the mount scenarios (wimpack-only). Without /dev/fuse:
# exit 77 (ctest's "skipped"), except in CI, where its absence is a failure.
require_fuse() {
    [[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }
    if [[ ! -c /dev/fuse ]]; then
        if [[ -n ${CI:-} ]]; then echo "FAIL: /dev/fuse is missing in CI"; exit 1; fi
        echo "SKIP: /dev/fuse is missing (no FUSE here)"
        exit 77
    fi
}

# is_mounted DIR: a FUSE file system is mounted on DIR.
is_mounted() { grep -qs " $(realpath "$1") fuse" /proc/mounts; }

# ---------------------------------------------------------------------------
# Recording results
# ---------------------------------------------------------------------------

pass() { T_PASS=$((T_PASS + 1)); echo "ok   - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }
skip() { T_SKIP=$((T_SKIP + 1)); echo "skip - $*"; }

# t DESC CMD...: runs CMD; records a pass if it returns 0, else a failure.
# CMD's own output (the reason for a failure) is indented under the line.
t() {
    local desc=$1
    shift
    local rc
    # not in a subshell: LAST_STDOUT/LAST_STDERR/LAST_RC stay visible to the caller
    "$@" >"$TMP/.t_out" 2>&1
    rc=$?
    if [[ $rc -eq 0 ]]; then
        local note
        note=$(tail -n 1 "$TMP/.t_out" | cut -c1-100)
        pass "$desc${note:+  [$note]}"
    else
        fail "$desc"
        head -n 40 "$TMP/.t_out" | sed 's/^/       /'
    fi
    return $rc
}

# tw DESC CMD...: like t, for guarantees wimpack makes beyond wimlib-imagex's
# (atomic archive replacement, ...): in oracle mode a failure is only noted.
tw() {
    if [[ $ORACLE == 1 ]]; then
        local desc=$1
        shift
        if "$@" >"$TMP/.t_out" 2>&1; then pass "$desc"; else skip "$desc (wimlib-imagex does not do this; oracle mode)"; fi
        return 0
    fi
    t "$@"
}

summary() {
    echo "$T_NAME: $T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
    [[ $T_FAIL -eq 0 ]]
}

# ---------------------------------------------------------------------------
# Running the binary
# ---------------------------------------------------------------------------

_new_logs() {
    LAST_STDOUT=$TMP/.stdout
    LAST_STDERR=$TMP/.stderr
}

# Signs of a crash that a wrapper (timeout, sanitizer runtime) may turn into an
# ordinary exit code.
_crash_in_stderr() {
    grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|terminate called|Segmentation fault|core dumped|Assertion .* failed|stack smashing' "$1"
}

# 128+N for a fatal signal N (130 = SIGINT is a legitimate "interrupted").
_is_signal() { [[ $1 -gt 128 && $1 -le 192 && $1 -ne 130 ]]; }

_show_stderr() {
    if [[ -s $LAST_STDERR ]]; then
        echo "  stderr:"
        head -n 15 "$LAST_STDERR" | sed 's/^/    | /'
    else
        echo "  stderr: (empty)"
    fi
}

# expect_ok CMD...: CMD exits 0 within T_TIMEOUT seconds without crashing.
expect_ok() {
    _new_logs
    _run "$@" >"$LAST_STDOUT" 2>"$LAST_STDERR" </dev/null
    LAST_RC=$?
    if [[ $LAST_RC -eq 124 || $LAST_RC -eq 137 ]]; then
        echo "hang: no exit within ${T_TIMEOUT}s: $(_quote "$@")"
        return 1
    fi
    if [[ $LAST_RC -ne 0 ]]; then
        echo "exit code $LAST_RC (expected 0): $(_quote "$@")"
        _show_stderr
        return 1
    fi
    if _crash_in_stderr "$LAST_STDERR"; then
        echo "sanitizer/crash report on stderr: $(_quote "$@")"
        _show_stderr
        return 1
    fi
    return 0
}

# expect_fail CODE [--mentions STR]... [--] CMD...
#   CODE: a number, alternatives "3|4", or "any" (any non-zero code).
#   Asserts: CMD exits non-zero with CODE, within T_TIMEOUT seconds, not killed
#   by a signal, no sanitizer report, a message on stderr that contains every
#   STR given with --mentions. In oracle mode (wimlib-imagex) CODE is ignored.
expect_fail() {
    local code=$1
    shift
    local -a mentions=()
    while [[ $# -gt 0 ]]; do
        case $1 in
        --mentions) mentions+=("$2"); shift 2 ;;
        --) shift; break ;;
        *) break ;;
        esac
    done
    _new_logs
    _run "$@" >"$LAST_STDOUT" 2>"$LAST_STDERR" </dev/null
    LAST_RC=$?
    local rc=$LAST_RC
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        echo "hang: no exit within ${T_TIMEOUT}s: $(_quote "$@")"
        return 1
    fi
    if [[ $rc -eq 0 ]]; then
        echo "unexpected success (expected exit code $code): $(_quote "$@")"
        _show_stderr
        return 1
    fi
    if _is_signal "$rc" || _crash_in_stderr "$LAST_STDERR"; then
        echo "crash (exit code $rc$(_is_signal "$rc" && echo ", signal $((rc - 128))")): $(_quote "$@")"
        _show_stderr
        return 1
    fi
    if [[ $ORACLE != 1 && $code != any ]]; then
        local ok=0 c
        local IFS='|'
        for c in $code; do [[ $rc == "$c" ]] && ok=1; done
        unset IFS
        if [[ $ok != 1 ]]; then
            echo "exit code $rc, expected $code: $(_quote "$@")"
            _show_stderr
            return 1
        fi
    fi
    if [[ ! -s $LAST_STDERR ]]; then
        echo "no error message on stderr (exit code $rc): $(_quote "$@")"
        return 1
    fi
    local m
    # wimlib-imagex (oracle mode) does not always name the file; wimpack must.
    [[ $ORACLE == 1 ]] && mentions=()
    for m in "${mentions[@]}"; do
        if ! grep -qF -- "$m" "$LAST_STDERR"; then
            echo "error message does not mention '$m': $(_quote "$@")"
            _show_stderr
            return 1
        fi
    done
    return 0
}

# expect_refusal_or_ok: for codecs that may not exist yet. CMD must either
# succeed, or exit 5 with "not supported yet" on stderr (any non-zero in
# oracle mode). Returns 0 on success, 10 on a clean refusal, 1 otherwise.
expect_ok_or_unsupported() {
    _new_logs
    _run "$@" >"$LAST_STDOUT" 2>"$LAST_STDERR" </dev/null
    LAST_RC=$?
    local rc=$LAST_RC
    [[ $rc -eq 0 ]] && ! _crash_in_stderr "$LAST_STDERR" && return 0
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        echo "hang: no exit within ${T_TIMEOUT}s: $(_quote "$@")"
        return 1
    fi
    if _is_signal "$rc" || _crash_in_stderr "$LAST_STDERR"; then
        echo "crash (exit code $rc): $(_quote "$@")"
        _show_stderr
        return 1
    fi
    if grep -qi 'not supported yet' "$LAST_STDERR" && { [[ $rc -eq 5 ]] || [[ $ORACLE == 1 ]]; }; then
        return 10
    fi
    echo "neither success nor a clean 'not supported yet' refusal with exit code 5 (got $rc): $(_quote "$@")"
    _show_stderr
    return 1
}

# _run CMD...: CMD under timeout; "wp" stands for the binary under test.
_run() {
    local -a cmd=("$@")
    local i
    for i in "${!cmd[@]}"; do
        if [[ ${cmd[i]} == wp ]]; then
            cmd[i]=$WIMPACK
            break
        fi
    done
    timeout -k 5 "$T_TIMEOUT" "${cmd[@]}"
}

# AS_NOBODY: a command prefix that drops root (permission tests), e.g.
#   expect_fail 1 "${AS_NOBODY[@]}" wp capture ...
# Empty when already unprivileged; unset (and CAN_DROP=0) when impossible.
CAN_DROP=1
if [[ $(id -u) -ne 0 ]]; then
    AS_NOBODY=()
elif command -v setpriv >/dev/null 2>&1; then
    AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
else
    CAN_DROP=0
    AS_NOBODY=()
fi

_quote() {
    local s=() a
    for a in "$@"; do s+=("$(printf '%q' "$a")"); done
    echo "${s[*]}"
}

# wp ARGS...: run the binary under test (for use inside expect_* and t).
wp() { "$WIMPACK" "$@"; }

# ---------------------------------------------------------------------------
# Test trees
# ---------------------------------------------------------------------------

# Deterministic pseudo-random bytes: rand_bytes SEED COUNT > FILE
rand_bytes() {
    "$PY" -c '
import random, sys
r = random.Random(int(sys.argv[1]))
sys.stdout.buffer.write(r.randbytes(int(sys.argv[2])))' "$1" "$2"
}

# set_tree_times DIR: gives every entry under DIR (and DIR) a distinct fixed
# atime/mtime with a sub-second part; directories after their contents.
set_tree_times() {
    "$PY" - "$1" <<'PYEOF'
import os, sys
root = sys.argv[1]
files, dirs = [], []
for d, dn, fn in os.walk(root):
    for n in fn + dn:
        p = os.path.join(d, n)
        (dirs if os.path.isdir(p) and not os.path.islink(p) else files).append(p)
i = 0
def stamp(p):
    global i
    i += 1
    ns = (1600000000 + i * 3607) * 10**9 + (i * 123456789 + 987654321) % 10**9
    os.utime(p, ns=(ns, ns), follow_symlinks=False)
for p in sorted(files): stamp(p)
for p in sorted(dirs, reverse=True): stamp(p)
stamp(root)
PYEOF
}

# make_test_tree DIR [--unix]
#   Builds the standard source tree in DIR (which must not exist or be empty).
#   --unix adds FIFOs, a socket, a character device (if mknod is permitted),
#   unusual modes (0600 0755 04755 02755 01777 0000), other owners, and user.*
#   xattrs (if the file system accepts them).
make_test_tree() {
    local d=$1 unix=0
    [[ ${2:-} == --unix ]] && unix=1
    mkdir -p "$d" || return 1
    d=$(cd "$d" && pwd -P)
    (
        set -e
        cd "$d"
        mkdir empty_dir sizes dups links deep names "sp ace dir"
        mkdir -p empty_dir2/nested_empty
        : >empty_file
        : >sizes/size_0
        printf 'x' >sizes/size_1
        rand_bytes 1 4095 >sizes/size_4095
        rand_bytes 2 4096 >sizes/size_4096
        rand_bytes 3 32768 >sizes/size_32768
        rand_bytes 4 32769 >sizes/size_32769
        rand_bytes 5 65536 >sizes/size_65536
        # ~3 MB of mixed text and random data (compressible and not)
        {
            seq 1 60000 | sed 's/^/line of fairly compressible text number /'
            rand_bytes 6 700000
            yes 'abcdefghijklmnopqrstuvwxyz0123456789' | head -c 300000
            rand_bytes 7 300000
        } >sizes/big_mixed.bin
        printf 'small text file\n' >hello.txt
        # duplicates (same contents, different inodes)
        cp sizes/size_4096 dups/copy_of_4096
        cp sizes/size_4096 "dups/another copy of 4096"
        cp sizes/big_mixed.bin dups/big_copy.bin
        cp hello.txt dups/hello_dup.txt
        : >dups/empty_dup
        # hard-link groups: 2 links, 3 links (across directories), an empty one
        printf 'two links\n' >links/h2_a
        ln links/h2_a links/h2_b
        rand_bytes 8 5000 >links/h3_a
        mkdir links/sub
        ln links/h3_a links/sub/h3_b
        ln links/h3_a "dups/h3 c"
        cp links/h2_a links/not_linked_same_content
        : >links/empty_linked
        ln links/empty_linked links/empty_linked2
        # symlinks: relative, absolute outside, absolute inside (rpfix), dangling, to dir
        ln -s hello.txt sym_rel
        ln -s ../sizes/size_1 links/sym_up
        ln -s /usr/share/wimpack-test-absolute-outside sym_abs_outside
        ln -s "$d/sizes/size_4095" sym_abs_inside
        ln -s does/not/exist sym_dangling
        ln -s sizes sym_dir
        ln -s "sp ace dir" "sym to spaced dir"
        # names
        printf 'u\n' >"names/ünïcödé-ファイル-😀.txt"
        mkdir "names/répertoire-目录"
        printf 'v\n' >"names/répertoire-目录/файл"
        printf 's\n' >"names/name with  spaces "
        printf 'n\n' >"names/new"$'\n'"line"
        printf 'b\n' >'names/back\slash'
        printf 'c\n' >'names/co:lon'
        printf 'q\n' >'names/quote"s'\''and*?<>|'
        printf 't\n' >"names/tab"$'\t'"name"
        printf 'd\n' >'names/-leading-dash'
        printf 'h\n' >'names/.hidden'
        printf 'x\n' >"names/$(printf 'L%.0s' $(seq 1 251)).txt"          # 255 bytes
        printf 'y\n' >"names/$(printf 'é%.0s' $(seq 1 127))z"               # 255 bytes, 2-byte UTF-8
        printf 'in spaced dir\n' >"sp ace dir/file in it"
        # deep nesting: 40 levels
        local p=deep i
        for i in $(seq -w 1 40); do p="$p/level$i"; done
        mkdir -p "$p"
        printf 'deep\n' >"$p/leaf.txt"
        ln -s ../leaf.txt "$p/../leaf_link"
        # sparse file (hole in the middle)
        truncate -s 1048576 sizes/sparse
        printf 'end' >>sizes/sparse
        printf 'start' | dd of=sizes/sparse conv=notrunc status=none

        if [[ $unix == 1 ]]; then
            mkdir special
            mkfifo special/fifo
            mkfifo -m 0600 special/fifo_0600
            "$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' special/socket ||
                echo "# make_test_tree: cannot create a socket; skipped" >&2
            mknod special/chardev c 1 3 2>/dev/null ||
                echo "# make_test_tree: mknod not permitted here; no device node" >&2
            mknod special/blockdev b 7 200 2>/dev/null || true
            mkdir modes
            printf 'm\n' >modes/m0600 && chmod 0600 modes/m0600
            printf 'm\n' >modes/m0755 && chmod 0755 modes/m0755
            # (mode 0000 is only readable by root, so only root's tree has it)
            [[ $(id -u) -eq 0 ]] && printf 'm\n' >modes/m0000 && chmod 0000 modes/m0000
            printf 'm\n' >modes/m0444 && chmod 0444 modes/m0444
            mkdir modes/dir0700 modes/dir1777 modes/dir2755
            printf 'o\n' >modes/owned_1234
            if [[ $(id -u) -eq 0 ]]; then
                chown 1234:5678 modes/owned_1234
                chown 4321:8765 modes/dir0700
                chown -h 1111:2222 sym_rel
                printf 'm\n' >modes/m4755 && chown 0:100 modes/m4755 && chmod 04755 modes/m4755
            else
                echo "# make_test_tree: not root; no owner changes" >&2
                printf 'm\n' >modes/m4755 && chmod 04755 modes/m4755
            fi
            printf 'm\n' >modes/m2755 && chmod 02755 modes/m2755
            chmod 0700 modes/dir0700
            chmod 1777 modes/dir1777
            chmod 2755 modes/dir2755
            if setfattr -n user.wimpack_test -v hello hello.txt 2>/dev/null; then
                setfattr -n user.empty -v '""' hello.txt 2>/dev/null || true
                setfattr -n user.binary -v 0x00ff10207f80 links/h3_a
                setfattr -n user.on_dir -v "a directory's xattr" modes
                setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' 'X')" sizes/size_1
                setfattr -n "user.ünïcödé" -v "välue" "names/ünïcödé-ファイル-😀.txt"
            else
                echo "# make_test_tree: file system refuses user.* xattrs; none set" >&2
            fi
        fi

        set_tree_times .
    ) || { echo "make_test_tree: failed to build $d" >&2; return 1; }
}

# make_small_tree DIR: a few files, a hard link, a symlink, an empty dir (~4 KB).
make_small_tree() {
    local d=$1
    mkdir -p "$d/sub/empty" || return 1
    (
        set -e
        cd "$d"
        printf 'hello, world\n' >a.txt
        rand_bytes 11 1500 >sub/random.bin
        seq 1 400 >sub/numbers.txt
        ln sub/numbers.txt hardlink.txt
        ln -s a.txt link_to_a
        : >empty
        set_tree_times .
    )
}

# ---------------------------------------------------------------------------
# Tree comparison
# ---------------------------------------------------------------------------

# compare_trees A B [--unix-data] [--quiet] [--no-times] [--exclude=RELPATH]...
#   A is the source, B the applied copy. Compares (root excluded): the set of
#   names; file types; regular file contents; symlink targets (an absolute
#   target inside A must point to the same place inside B: wimlib's rpfix);
#   hard-link groups; mtimes to 100 ns. With --unix-data also uid, gid, mode
#   (incl. setuid/sgid/sticky), special files (FIFO, socket, devices and their
#   rdev) and xattrs. Without --unix-data, special files are ignored on both
#   sides (WIM cannot hold them). --exclude=RELPATH skips that entry (and what is
#   below it) on both sides. Prints the first differences; returns 1 if any.
# The comparison program is kept in a variable so corruption_loop can run it
# in-process (exported for that).
IFS= read -r -d '' _COMPARE_PY <<'PYEOF'
import os, stat, sys, hashlib

args = sys.argv[1:]
flags = {a for a in args if a.startswith('--') and not a.startswith('--exclude=')}
excludes = [a[len('--exclude='):].rstrip('/') for a in args if a.startswith('--exclude=')]
paths = [a for a in args if not a.startswith('--')]
if len(paths) != 2:
    print("usage: compare_trees A B [--unix-data] [--quiet] [--no-times]"); sys.exit(2)
unix = '--unix-data' in flags
quiet = '--quiet' in flags
times = '--no-times' not in flags
A, B = paths
for root in (A, B):
    if not os.path.isdir(root):
        print(f"compare_trees: {root!r} is not a directory"); sys.exit(1)
A_abs, B_abs = os.path.abspath(A), os.path.abspath(B)
A_real, B_real = os.path.realpath(A), os.path.realpath(B)

def special(mode):
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)

def scan(root):
    out = {}
    stack = ['']
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        with os.scandir(full) as it:
            for e in it:
                r = os.path.join(rel, e.name) if rel else e.name
                st = os.lstat(e.path)
                if not unix and special(st.st_mode):
                    continue
                if any(r == x or r.startswith(x + '/') for x in excludes):
                    continue
                out[r] = st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(r)
    return out

TYPES = {stat.S_IFREG: 'file', stat.S_IFDIR: 'dir', stat.S_IFLNK: 'symlink',
         stat.S_IFIFO: 'fifo', stat.S_IFSOCK: 'socket', stat.S_IFCHR: 'chardev',
         stat.S_IFBLK: 'blockdev'}
def kind(st): return TYPES.get(stat.S_IFMT(st.st_mode), 'unknown')

diffs = []
def diff(path, what):
    diffs.append(f"{path!r}: {what}")

try:
    a, b = scan(A), scan(B)
except OSError as e:
    print(f"compare_trees: cannot scan: {e}"); sys.exit(1)

for p in sorted(set(a) - set(b)):
    diff(p, f"missing in {B} (a {kind(a[p])} in {A})")
for p in sorted(set(b) - set(a)):
    diff(p, f"unexpected in {B} (a {kind(b[p])}; not in {A})")

def file_digest(path):
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        while True:
            buf = f.read(1 << 20)
            if not buf: break
            h.update(buf)
    return h.hexdigest()

def first_difference(pa, pb):
    with open(pa, 'rb') as fa, open(pb, 'rb') as fb:
        off = 0
        while True:
            x, y = fa.read(65536), fb.read(65536)
            if x != y:
                for i in range(min(len(x), len(y))):
                    if x[i] != y[i]: return off + i
                return off + min(len(x), len(y))
            if not x: return None
            off += len(x)

def expected_link(target):
    # rpfix: absolute links into the source tree point into the applied tree
    for src in (A_real, A_abs):
        if target == src or target.startswith(src + '/'):
            rest = target[len(src):]
            return {dst + rest for dst in (B_real, B_abs)}
    return {target}

common = sorted(set(a) & set(b))
for p in common:
    sa, sb = a[p], b[p]
    ka, kb = kind(sa), kind(sb)
    if ka != kb:
        diff(p, f"type {ka} in {A}, {kb} in {B}"); continue
    pa, pb = os.path.join(A, p), os.path.join(B, p)
    if ka == 'file':
        if sa.st_size != sb.st_size:
            diff(p, f"size {sa.st_size} in {A}, {sb.st_size} in {B}")
        else:
            try:
                if file_digest(pa) != file_digest(pb):
                    diff(p, f"contents differ (first differing byte at offset {first_difference(pa, pb)})")
            except OSError as e:
                diff(p, f"cannot read: {e}")
    elif ka == 'symlink':
        ta, tb = os.readlink(pa), os.readlink(pb)
        exp = expected_link(ta)
        if tb not in exp:
            diff(p, f"symlink target {tb!r} in {B}, expected {' or '.join(repr(x) for x in sorted(exp))}")
    elif ka in ('chardev', 'blockdev'):
        if sa.st_rdev != sb.st_rdev:
            diff(p, f"device number {os.major(sa.st_rdev)},{os.minor(sa.st_rdev)} in {A}, "
                    f"{os.major(sb.st_rdev)},{os.minor(sb.st_rdev)} in {B}")
    if times and sa.st_mtime_ns // 100 != sb.st_mtime_ns // 100:
        diff(p, f"mtime {sa.st_mtime_ns} ns in {A}, {sb.st_mtime_ns} ns in {B} (compared to 100 ns)")
    if unix:
        if (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            diff(p, f"owner {sa.st_uid}:{sa.st_gid} in {A}, {sb.st_uid}:{sb.st_gid} in {B}")
        if ka != 'symlink' and sa.st_mode != sb.st_mode:
            diff(p, f"mode {sa.st_mode:o} in {A}, {sb.st_mode:o} in {B}")
        if ka != 'symlink':
            def xattrs(path):
                try:
                    return {n: os.getxattr(path, n, follow_symlinks=False)
                            for n in os.listxattr(path, follow_symlinks=False)
                            if n.startswith('user.')}
                except OSError:
                    return {}
            xa, xb = xattrs(pa), xattrs(pb)
            if xa != xb:
                diff(p, f"xattrs {xa!r} in {A}, {xb!r} in {B}")

# hard-link groups: the set of paths sharing an inode must be the same
def groups(tree):
    by_ino = {}
    for p, st in tree.items():
        if not stat.S_ISDIR(st.st_mode):
            by_ino.setdefault((st.st_dev, st.st_ino), set()).add(p)
    g = {}
    for members in by_ino.values():
        fm = frozenset(members)
        for p in members: g[p] = fm
    return g
ga, gb = groups(a), groups(b)
seen = set()
for p in common:
    if p in ga and p in gb and ga[p] != gb[p] and ga[p] not in seen:
        seen.add(ga[p])
        diff(p, f"hard links: in {A} shared by {sorted(ga[p])}, in {B} by {sorted(gb[p])}")

if diffs:
    if not quiet:
        print(f"compare_trees: {len(diffs)} difference(s) between {A} and {B}:")
        for d in diffs[:25]:
            print("  " + d)
        if len(diffs) > 25:
            print(f"  ... and {len(diffs) - 25} more")
    sys.exit(1)
if not quiet:
    print(f"compare_trees: {len(common)} entries identical")
sys.exit(0)
PYEOF
export _COMPARE_PY
compare_trees() {
    "$PY" -c "$_COMPARE_PY" "$@"
}

# xml_of FILE.wim > out.xml: the XML resource of a WIM as UTF-8 (no wimpack needed).
wim_xml_utf8() {
    "$PY" - "$1" <<'PYEOF'
import struct, sys
f = open(sys.argv[1], 'rb')
hdr = f.read(208)
size = struct.unpack_from('<Q', hdr, 0x48)[0] & 0x00FFFFFFFFFFFFFF
off = struct.unpack_from('<Q', hdr, 0x48 + 8)[0]
f.seek(off)
data = f.read(size)
sys.stdout.write(data.decode('utf-16-le').lstrip('\ufeff'))
PYEOF
}

# wim_header FILE: prints the header fields as NAME=VALUE lines (decimal), e.g.
#   flags chunk_size image_count boot_index part_number total_parts
#   blob_table_offset blob_table_size xml_offset xml_size integrity_offset
#   integrity_size boot_metadata_offset file_size
wim_header() {
    "$PY" - "$1" <<'PYEOF'
import os, struct, sys
path = sys.argv[1]
with open(path, 'rb') as f:
    h = f.read(208)
if len(h) < 208:
    print("error=short"); sys.exit(1)
def reshdr(off):
    sz = struct.unpack_from('<Q', h, off)[0]
    return sz & 0x00FFFFFFFFFFFFFF, sz >> 56, struct.unpack_from('<Q', h, off + 8)[0], struct.unpack_from('<Q', h, off + 16)[0]
u32 = lambda o: struct.unpack_from('<I', h, o)[0]
u16 = lambda o: struct.unpack_from('<H', h, o)[0]
out = dict(magic=h[:8].hex(), header_size=u32(8), version=u32(12), flags=u32(16), chunk_size=u32(20),
           guid=h[0x18:0x28].hex(), part_number=u16(0x28), total_parts=u16(0x2A), image_count=u32(0x2C), boot_index=u32(0x78),
           file_size=os.path.getsize(path))
for name, off in (('blob_table', 0x30), ('xml', 0x48), ('boot_metadata', 0x60), ('integrity', 0x7C)):
    size, flags, offset, usize = reshdr(off)
    out[name + '_size'] = size; out[name + '_offset'] = offset; out[name + '_usize'] = usize
for k, v in out.items():
    print(f"{k}={v}")
PYEOF
}

# hdr FILE FIELD: one header field (see wim_header)
hdr() { wim_header "$1" | sed -n "s/^$2=//p"; }

# xml_get FILE.wim XPATH: text of an element of the archive's own XML, read
# straight from the file (ElementTree path syntax, e.g. "IMAGE[@INDEX='1']/NAME").
xml_get() {
    wim_xml_utf8 "$1" | "$PY" -c '
import sys, xml.etree.ElementTree as ET
e = ET.fromstring(sys.stdin.read()).find(sys.argv[1])
if e is None: sys.exit(1)
print(e.text or "")' "$2"
}

# check_eq DESC GOT WANT: prints a reason and fails when they differ.
check_eq() {
    [[ $2 == "$3" ]] || { echo "$1: got '$2', expected '$3'"; return 1; }
}

# corruption_loop --mode trunc|flip --wim GOOD --codes "3|4" [--from A] [--to B]
#                 [--step N] [--extra-cuts K] [--ref TREE] [--mentions STR]
#                 -- CMD... (words {WIM} and {OUT} are replaced)
#   For every cut point (trunc: every STEP bytes from 0, plus the last K bytes)
#   or flipped byte (flip: offsets FROM..TO step STEP, alternately XOR 0xFF and
#   XOR 0x01), writes the corrupted archive to {WIM}'s path and runs CMD. Each run
#   must exit with one of CODES (any non-zero in oracle mode), with a message on
#   stderr containing STR, without a signal, sanitizer report or hang. With --ref,
#   a successful run is accepted if {OUT} is identical to TREE (the byte was
#   unused); without it, success is a failure. One python process drives the
#   loop, so each case costs one exec of the binary.
corruption_loop() {
    "$PY" - "$@" <<'PYEOF'
import os, re, shutil, subprocess, sys
argv = sys.argv[1:]
sep = argv.index('--')
opts, cmd = argv[:sep], argv[sep + 1:]
o = {}
for i in range(0, len(opts), 2):
    o[opts[i].lstrip('-')] = opts[i + 1]
env = os.environ
wimpack, oracle, tmp = env['WIMPACK'], env.get('ORACLE') == '1', env['TMP']
timeout = int(env.get('T_TIMEOUT', '60'))
good = open(o['wim'], 'rb').read()
codes = {int(c) for c in o.get('codes', '3').split('|')}
wim_path, out = os.path.join(tmp, 'bad.wim'), os.path.join(tmp, 'out')
mentions = o.get('mentions')
ref = o.get('ref')
step = int(o.get('step', '1'))
cases = []
if o['mode'] == 'trunc':
    n = len(good)
    cuts = list(range(0, n, step)) + list(range(max(0, n - int(o.get('extra-cuts', '8'))), n))
    for c in sorted(set(cuts)):
        cases.append((f"cut at {c} of {n} bytes", good[:c]))
else:
    lo, hi = int(o.get('from', '0')), int(o.get('to', str(len(good))))
    for k, off in enumerate(range(lo, min(hi, len(good)), step)):
        mask = 0xFF if k % 2 == 0 else 0x01
        b = bytearray(good); b[off] ^= mask
        cases.append((f"byte {off} (0x{off:x}) XOR 0x{mask:02X}", bytes(b)))
crash_re = re.compile(r'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|terminate called|Segmentation fault|core dumped|Assertion .* failed|stack smashing')
real_cmd = [wimpack if w == 'wp' else w.replace('{WIM}', wim_path).replace('{OUT}', out) for w in cmd]
import contextlib, io
compare_code = compile(env['_COMPARE_PY'], 'compare_trees', 'exec')
def compare(a, b):
    buf, saved = io.StringIO(), sys.argv
    sys.argv = ['compare_trees', a, b]
    try:
        with contextlib.redirect_stdout(buf):
            exec(compare_code, {'__name__': '__main__'})
        rc = 0
    except SystemExit as e:
        rc = e.code or 0
    finally:
        sys.argv = saved
    return rc, buf.getvalue()
bad, harmless = [], 0
for desc, data in cases:
    with open(wim_path, 'wb') as f: f.write(data)
    shutil.rmtree(out, ignore_errors=True)
    try:
        p = subprocess.run(real_cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        bad.append(f"{desc}: hang (no exit within {timeout} s)"); continue
    err = p.stderr.decode('utf-8', 'replace')
    first = (err.strip().splitlines() or ['(empty)'])[0]
    if p.returncode < 0 or (128 < p.returncode <= 192 and p.returncode != 130):
        bad.append(f"{desc}: killed by signal {abs(p.returncode) if p.returncode < 0 else p.returncode - 128}; stderr: {first}"); continue
    if crash_re.search(err):
        bad.append(f"{desc}: crash report on stderr: {crash_re.search(err).group(0)}"); continue
    if p.returncode == 0:
        if ref is None:
            bad.append(f"{desc}: unexpected success"); continue
        rc, text = compare(ref, out)
        if rc != 0:
            lines = text.splitlines()
            bad.append(f"{desc}: SILENTLY WRONG TREE (exit 0): {lines[1].strip() if len(lines) > 1 else text}")
        else:
            harmless += 1
        continue
    if not oracle and p.returncode not in codes:
        bad.append(f"{desc}: exit code {p.returncode}, expected {o.get('codes', '3')}; stderr: {first}"); continue
    if not err.strip():
        bad.append(f"{desc}: exit code {p.returncode} but no message on stderr"); continue
    if mentions and not oracle and mentions not in err:
        bad.append(f"{desc}: message does not name '{mentions}': {first}"); continue
shutil.rmtree(out, ignore_errors=True)
for b in bad[:6]:
    print(b)
if len(bad) > 6:
    print(f"... and {len(bad) - 6} more")
print(f"{len(cases)} cases, {harmless} harmless (identical tree), {len(bad)} bad outcomes")
sys.exit(1 if bad else 0)
PYEOF
}

# Common assertion helpers usable with t ---------------------------------

# no_temp_files DIR EXPECTED_NAME...: DIR holds exactly the expected names.
no_temp_files() {
    local dir=$1 f e found bad=()
    shift
    while IFS= read -r -d '' f; do
        found=0
        for e in "$@"; do [[ $f == "$e" ]] && found=1; done
        [[ $found == 0 ]] && bad+=("$f")
    done < <(find "$dir" -mindepth 1 -maxdepth 1 -printf '%P\0')
    if [[ ${#bad[@]} -gt 0 ]]; then
        echo "unexpected files left in $dir:"
        printf '  %q\n' "${bad[@]}"
        return 1
    fi
}

# not CMD...: succeeds when CMD fails (for use with t).
not() { ! "$@"; }

same_file() {
    cmp -s "$1" "$2" || { echo "$1 and $2 differ"; return 1; }
}

stdout_has() {
    grep -qE -- "$1" "$LAST_STDOUT" || { echo "stdout does not match /$1/:"; head -n 30 "$LAST_STDOUT" | sed 's/^/    | /'; return 1; }
}
