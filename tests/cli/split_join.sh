#!/usr/bin/env bash
# split and join (issue 15), with wimlib-imagex as the oracle: parts we write
# apply with both tools (part 1 plus --ref) and wimlib-imagex joins them;
# parts respect PART_SIZE except for one bigger blob; our join of our parts
# and of wimlib-imagex's parts verifies and applies; inconsistent part sets
# and interrupted splits leave nothing behind.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { echo "SKIP: wimpack-only scenario"; exit 0; }

WL=0
have wimlib-imagex && WL=1

s1=$TMP/s1
s2=$TMP/s2
make_test_tree "$s1"
cp -a "$s1" "$s2"
echo "only in two" >"$s2/only-two.txt"
# blobs bigger than the 1 MiB parts used below
head -c 1500000 /dev/urandom >"$s1/big-one.bin"
head -c 2500000 /dev/urandom >"$s2/big-two.bin"
head -c 400000 /dev/urandom >"$s2/mid-two.bin"

# applies image $2 of split set $1 (first part, glob) with wimpack and
# wimlib-imagex and compares with tree $4
applies_split() {
    local first=$1 i=$2 glob=$3 tree=$4 out
    out=$(mktemp -d "$TMP/ap.XXXXXX")
    rmdir "$out"
    "$WIMPACK" apply "$first" "$i" "$out" --ref="$glob" --quiet >/dev/null || { echo "wimpack apply failed"; return 1; }
    compare_trees "$tree" "$out" --quiet || return 1
    rm -rf "$out"
    if [[ $WL == 1 ]]; then
        wimlib-imagex apply "$first" "$i" "$out" --ref="$glob" >/dev/null 2>&1 || { echo "wimlib-imagex apply failed"; return 1; }
        compare_trees "$tree" "$out" --quiet || return 1
        rm -rf "$out"
    fi
}
applies_as() {
    local w=$1 i=$2 tree=$3 out
    out=$(mktemp -d "$TMP/ap.XXXXXX")
    rmdir "$out"
    "$WIMPACK" apply "$w" "$i" "$out" --quiet >/dev/null || { echo "wimpack apply $w failed"; return 1; }
    compare_trees "$tree" "$out" --quiet || return 1
    rm -rf "$out"
    if [[ $WL == 1 ]]; then
        wimlib-imagex apply "$w" "$i" "$out" >/dev/null 2>&1 || { echo "wimlib-imagex apply $w failed"; return 1; }
        compare_trees "$tree" "$out" --quiet || return 1
        rm -rf "$out"
    fi
}
wl_verify() { [[ $WL == 0 ]] || wimlib-imagex verify "$1" >/dev/null 2>&1 || { wimlib-imagex verify "$1"; return 1; }; }
# every part is at most LIMIT bytes, unless it holds a single data blob
parts_fit() {
    local limit=$1 p
    shift
    for p in "$@"; do
        local size entries
        size=$(stat -c %s "$p")
        entries=$(( $(hdr "$p" blob_table_size) / 50 ))
        if [[ $size -gt $limit && ( $(hdr "$p" part_number) == 1 || $entries -gt 1 ) ]]; then
            # part 1 may hold metadata plus one blob; others one blob
            if [[ $(hdr "$p" part_number) != 1 || $entries -gt $(( $(hdr "$p" image_count) + 1 )) ]]; then
                echo "$p: $size bytes > $limit with $entries entries"
                return 1
            fi
        fi
    done
}
same_guid() {
    local g p
    g=$(head -c 40 "$1" | tail -c 16 | od -An -tx1)
    for p in "$@"; do
        [[ $(head -c 40 "$p" | tail -c 16 | od -An -tx1) == "$g" ]] || { echo "$p: GUID differs"; return 1; }
    done
}
headers_ok() { # headers_ok N PART...: part numbers, totals, SPANNED, boot index 0
    local n=$1 k=1 p
    shift
    for p in "$@"; do
        [[ $(hdr "$p" part_number) == "$k" && $(hdr "$p" total_parts) == "$n" && $(hdr "$p" boot_index) == 0 ]] ||
            { echo "$p: bad part header"; wim_header "$p"; return 1; }
        (( $(hdr "$p" flags) & 8 )) || { echo "$p: SPANNED not set"; return 1; }
        k=$((k + 1))
    done
}

for codec in lzx xpress none; do
    W=$TMP/$codec.wim
    t "[$codec] source image 1" expect_ok wp capture "$s1" "$W" one --compress=$codec --quiet
    t "[$codec] source image 2, bootable" expect_ok wp append "$s2" "$W" two --boot --quiet
    mkdir -p "$TMP/$codec"
    P=$TMP/$codec/x.swm
    t "[$codec] split into 1 MiB parts" expect_ok wp split "$W" "$P" 1 --quiet
    parts=("$P")
    for f in "$TMP/$codec"/x[0-9]*.swm; do parts+=("$f"); done
    mapfile -t parts < <(printf '%s\n' "${parts[@]}" | sort -V)
    n=${#parts[@]}
    t "[$codec] several parts ($n)" test "$n" -ge 3
    t "[$codec] part headers: numbers 1..$n, SPANNED, boot index 0" headers_ok "$n" "${parts[@]}"
    t "[$codec] one GUID shared by all parts, not the source's" same_guid "${parts[@]}"
    t "[$codec] ... and not the source's" not same_guid "$P" "$W"
    t "[$codec] codec flags kept" test $(( $(hdr "$P" flags) & ~8 )) = $(( $(hdr "$W" flags) ))
    t "[$codec] parts respect PART_SIZE except for single big blobs" parts_fit 1048576 "${parts[@]}"
    t "[$codec] image 1 applies from the parts" applies_split "$P" 1 "$TMP/$codec/x*.swm" "$s1"
    t "[$codec] image 2 applies from the parts" applies_split "$P" 2 "$TMP/$codec/x*.swm" "$s2"
    if [[ $WL == 1 ]]; then
        t "[$codec] wimlib-imagex joins our parts" expect_ok wimlib-imagex join "$TMP/$codec/wl-join.wim" "${parts[@]}"
        t "[$codec] ... and that verifies" wl_verify "$TMP/$codec/wl-join.wim"
        t "[$codec] wimlib-imagex info reads part 1" expect_ok wimlib-imagex info "$P"
    fi
    J=$TMP/$codec/join.wim
    t "[$codec] our join of our parts (reverse order)" expect_ok wp join "$J" $(printf '%s\n' "${parts[@]}" | tac) --quiet
    t "[$codec] ... keeps the GUID" same_guid "$J" "$P"
    t "[$codec] ... not SPANNED, one part" test "$(( $(hdr "$J" flags) & 8 ))/$(hdr "$J" total_parts)" = 0/1
    t "[$codec] ... verifies" wl_verify "$J"
    t "[$codec] ... image 1 applies" applies_as "$J" 1 "$s1"
    t "[$codec] ... image 2 applies" applies_as "$J" 2 "$s2"
done

# wimlib-imagex's parts, joined by us
if [[ $WL == 1 ]]; then
    mkdir -p "$TMP/wl"
    t "wimlib-imagex splits our LZX archive" expect_ok wimlib-imagex split "$TMP/lzx.wim" "$TMP/wl/w.swm" 1
    t "our apply reads wimlib-imagex's parts" applies_split "$TMP/wl/w.swm" 2 "$TMP/wl/w*.swm" "$s2"
    t "our join of wimlib-imagex's parts" expect_ok wp join "$TMP/wl/j.wim" "$TMP"/wl/w*.swm --check --quiet
    t "... verifies (with an integrity table)" wl_verify "$TMP/wl/j.wim"
    t "... has an integrity table" test "$(hdr "$TMP/wl/j.wim" integrity_size)" -gt 0
    t "... image 1 applies" applies_as "$TMP/wl/j.wim" 1 "$s1"
fi

# --include-integrity: every part has a table, and wimlib-imagex checks them
mkdir -p "$TMP/int"
t "split --include-integrity" expect_ok wp split "$TMP/lzx.wim" "$TMP/int/i.swm" 2 --include-integrity --quiet
t "... part 1 has an integrity table" test "$(hdr "$TMP/int/i.swm" integrity_size)" -gt 0
[[ $WL == 1 ]] && t "... wimlib-imagex apply --check of the parts" \
    expect_ok wimlib-imagex apply "$TMP/int/i.swm" 1 "$TMP/int/out" --ref="$TMP/int/i*.swm" --check
t "one part when PART_SIZE is large" expect_ok wp split "$TMP/lzx.wim" "$TMP/int/one.swm" 1000 --quiet
t "... total_parts 1 still SPANNED" test "$(hdr "$TMP/int/one.swm" total_parts)/$(( $(hdr "$TMP/int/one.swm" flags) & 8 ))" = 1/8

# --- reading a split set: missing parts, other parts, changes refused ---------------------
L=$TMP/lzx
t "apply part 1 without the others: code 4, says --ref" expect_fail 4 --mentions --ref -- wp apply "$L/x.swm" 1 "$TMP/o1"
t "apply a part other than the first: code 4, names it" expect_fail 4 --mentions x2.swm -- \
    wp apply "$L/x2.swm" 1 "$TMP/o2" --ref="$L/x*.swm"
t "... nothing extracted" test ! -e "$TMP/o1" -a ! -e "$TMP/o2"
t "info reads part 2" expect_ok wp info "$L/x2.swm"
t "... and lists both images (from its XML), as wimlib-imagex" grep -q "^Image Count: *2$" "$LAST_STDOUT"
for c in "append $s1" "delete" "optimize" "update"; do
    set -- $c
    cmd=$1
    shift
    cp "$L/x.swm" "$TMP/chg.swm"
    case $cmd in
    append) args=(append "$s1" "$TMP/chg.swm" three) ;;
    delete) args=(delete "$TMP/chg.swm" 1) ;;
    optimize) args=(optimize "$TMP/chg.swm") ;;
    update) args=(update "$TMP/chg.swm" 1 --command="delete /only-two.txt") ;;
    esac
    t "$cmd of a split part is refused: code 5, says join" expect_fail 5 --mentions "join them first" -- wp "${args[@]}"
    t "... the part is unchanged" cmp "$TMP/chg.swm" "$L/x.swm"
done
t "export into a split part is refused: code 5" expect_fail 5 --mentions "join them first" -- \
    wp export "$TMP/xpress.wim" 1 "$TMP/chg.swm" new
t "export from a split WIM (with --ref) works" expect_ok wp export "$L/x.swm" 2 "$TMP/exp.wim" --ref="$L/x*.swm" --quiet
t "... and applies" applies_as "$TMP/exp.wim" 1 "$s2"

# --- bad join inputs: code 3, names the file, nothing written -----------------------------
Lp=("$L"/x*.swm)
t "join with a missing part: code 3" expect_fail 3 --mentions "parts" -- wp join "$TMP/bad1.wim" "$L/x.swm" "$L/x2.swm"
t "join with a duplicated part: code 3, says duplicate" expect_fail 3 --mentions duplicate -- \
    wp join "$TMP/bad2.wim" "${Lp[@]:0:${#Lp[@]}-1}" "$L/x.swm"
other=("$TMP/xpress/x.swm" "${Lp[@]:1}")
t "join of parts from two splits: code 3, says GUID" expect_fail 3 --mentions GUID -- wp join "$TMP/bad3.wim" "${other[@]}"
t "join of a normal WIM with a part: code 3" expect_fail 3 -- wp join "$TMP/bad4.wim" "$TMP/lzx.wim" "$L/x2.swm"
t "... nothing written (no output, no temporary file)" test -z "$(find "$TMP" -maxdepth 1 -name 'bad*')"

# --- usage, solid -------------------------------------------------------------------------
t "split without PART_SIZE: code 2" expect_fail 2 --mentions PART_SIZE -- wp split "$TMP/lzx.wim" "$TMP/u.swm"
t "split with a bad PART_SIZE: code 2" expect_fail 2 --mentions PART_SIZE -- wp split "$TMP/lzx.wim" "$TMP/u.swm" 1x
t "split with PART_SIZE 0: code 2" expect_fail 2 --mentions PART_SIZE -- wp split "$TMP/lzx.wim" "$TMP/u.swm" 0
t "join without parts: code 2" expect_fail 2 -- wp join "$TMP/u.wim"
t "split of a missing archive: code 4" expect_fail 4 --mentions nope.wim -- wp split "$TMP/nope.wim" "$TMP/u.swm" 1
t "solid source" expect_ok wp capture "$s1" "$TMP/solid.wim" --solid --quiet
t "split of a solid archive: code 5, says solid" expect_fail 5 --mentions solid -- wp split "$TMP/solid.wim" "$TMP/u.swm" 1
t "... no parts written" test -z "$(find "$TMP" -maxdepth 1 -name 'u*')"
t "split of a split part: code 5" expect_fail 5 -- wp split "$L/x.swm" "$TMP/u.swm" 1

# --- SIGINT during split: no part files -------------------------------------------------
mkdir -p "$TMP/sig"
head -c 30000000 /dev/urandom >"$TMP/sig-big.bin"
mkdir -p "$TMP/sigsrc" && mv "$TMP/sig-big.bin" "$TMP/sigsrc/"
for i in 1 2 3 4 5 6; do head -c 8000000 /dev/urandom >"$TMP/sigsrc/f$i"; done
t "big source" expect_ok wp capture "$TMP/sigsrc" "$TMP/sig.wim" --compress=none --quiet
for delay in 0.01 0.03 0.06 0.1; do
    rm -rf "$TMP/sig" && mkdir -p "$TMP/sig"
    "$WIMPACK" split "$TMP/sig.wim" "$TMP/sig/s.swm" 5 --quiet 2>"$TMP/sig.err" &
    pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [[ $rc == 0 ]]; then
        skip "SIGINT after ${delay}s came after the split finished"
    elif grep -q "already been written completely" "$TMP/sig.err"; then
        # after the commit point (all parts renamed at once): all parts, complete
        t "split interrupted by SIGINT after ${delay}s, after its commit: exit 130" test "$rc" = 130
        t "... every part is there and they apply" applies_split "$TMP/sig/s.swm" 1 "$TMP/sig/s*.swm" "$TMP/sigsrc"
        t "... and no temporary file" no_temp_files "$TMP/sig" $(cd "$TMP/sig" && ls)
    else
        t "split interrupted by SIGINT after ${delay}s: exit 130" test "$rc" = 130
        t "... no part or temporary file left" no_temp_files "$TMP/sig"
        # Early signals land before the first part file exists (nothing to
        # remove) or even before the handlers are installed (silent death).
        t "... stderr names the signal, or nothing had started" \
            bash -c '! [ -s "$1" ] || grep -q "interrupted by SIGINT" "$1"' _ "$TMP/sig.err"
    fi
done

summary
