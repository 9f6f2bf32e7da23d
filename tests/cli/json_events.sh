#!/usr/bin/env bash
# --json (docs/json-events.md): for capture, append, apply, extract, export,
# update, optimize, split, join, delete and verify, standard output carries
# only JSON Lines objects with a "type" and "version": 1, ending with a
# "summary" whose figures match 'info --json'; a real warning (a FIFO skipped
# without --unix-data) is a warning object naming its path; progress objects
# (at least each phase's final one); errors are one "error" object on stderr
# with the exit code; dir and info --json print one document. Progress for
# people: drawn on a terminal (script -qc gives one), silenced by --quiet,
# absent when stderr is not a terminal.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"
[[ $ORACLE == 1 ]] && { skip "wimpack's --json"; summary; exit; }

cat >"$TMP/check.py" <<'PY'
# check.py OUT COMMAND [INFO_JSON [KEY=INFO_PATH]...]: every line of OUT is a
# JSON object with a type and version 1; the last is COMMAND's summary; each
# KEY of the summary equals the INFO_JSON value at INFO_PATH (dotted, with
# list indexes), e.g. files=images.0.file_count.
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert lines, "no output"
objs = []
for l in lines:
    o = json.loads(l)
    assert isinstance(o, dict) and "type" in o and o.get("version") == 1, l
    assert o["type"] in ("progress", "warning", "summary"), l
    objs.append(o)
s = objs[-1]
assert s["type"] == "summary" and s["command"] == sys.argv[2], s
assert sum(o["type"] == "summary" for o in objs) == 1
if len(sys.argv) > 3:
    info = json.load(open(sys.argv[3]))
    for spec in sys.argv[4:]:
        key, path = spec.split("=")
        v = info
        for p in path.split("."):
            v = v[int(p)] if p.isdigit() else v[p]
        assert s[key] == v, f"{key}: summary {s[key]} != info {path} {v}"
for o in objs:
    if o["type"] == "progress":
        for k in ("phase", "bytes_done", "bytes_total", "files_done", "files_total", "rate", "eta_seconds"):
            assert k in o, (k, o)
PY
# jcheck DESC OUT COMMAND [WIM KEY=INFO_PATH...]
jcheck() {
    local out=$1 cmd=$2
    shift 2
    if [[ $# -gt 0 ]]; then
        local wim=$1
        shift
        wp info "$wim" --json >"$TMP/info.json" || return 1
        "$PY" "$TMP/check.py" "$out" "$cmd" "$TMP/info.json" "$@"
    else
        "$PY" "$TMP/check.py" "$out" "$cmd"
    fi
}
# has_object OUT TYPE PYTHON_CONDITION_ON_o
has_object() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(o["type"] == sys.argv[2] and eval(sys.argv[3], {"o": o}) for o in objs) else 1)
PY
}
# run_json NAME CMD...: runs CMD (exit 0), stdout to $TMP/NAME.out
run_json() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
}
# json_error STDERR CODE: stderr is exactly one error object with that exit code
json_error() {
    "$PY" - "$1" "$2" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["type"] == "error" and o["version"] == 1 and o["exit_code"] == int(sys.argv[2]), o
assert o["category"] and o["message"] and "path" in o, o
PY
}
# files_progress STDOUT PHASE: that phase's progress objects all count files
# (files_done an integer, non-decreasing, <= files_total), and the last is final
files_progress() {
    "$PY" - "$1" "$2" <<'PY'
import json, sys
objs = [o for o in map(json.loads, open(sys.argv[1])) if o["type"] == "progress" and o["phase"] == sys.argv[2]]
assert objs and objs[-1]["final"], objs
last = 0
for o in objs:
    assert isinstance(o["files_done"], int) and isinstance(o["files_total"], int), o
    assert last <= o["files_done"] <= o["files_total"], o
    last = o["files_done"]
PY
}
# only_json STDOUT: every line (maybe none) parses
only_json() { "$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$1"; }

SRC=$TMP/src
t "build the tree" make_test_tree "$SRC"
# Enough data that writing it takes a while (progress objects before the final one).
rand_bytes 21 12000000 >"$SRC/big.bin"
mkfifo "$SRC/fifo"
W=$TMP/a.wim

# capture
t "capture --json" run_json cap wp capture "$SRC" "$W" --json
t "capture: JSON lines, summary matches info" jcheck "$TMP/cap.out" capture "$W" images=image_count \
    archive_size=size files=images.0.file_count directories=images.0.dir_count bytes_total=images.0.total_bytes
t "capture: the skipped FIFO is a warning object with its path" has_object "$TMP/cap.out" warning \
    '"special file" in o["message"] and o["path"].endswith("/fifo")'
t "capture: a final progress object for the archive phase" has_object "$TMP/cap.out" progress \
    'o["phase"] == "archive" and o["final"] and o["bytes_done"] == o["bytes_total"] and o["files_done"] == o["files_total"]'
t "capture: files_done counted as data is written (an integer, never falling, at most files_total)" \
    files_progress "$TMP/cap.out" archive
t "capture: nothing on stderr" test ! -s "$TMP/cap.err"
t "capture --json --quiet: no progress, still the summary" run_json capq wp capture "$SRC" "$TMP/q.wim" --json --quiet
t "... parses" jcheck "$TMP/capq.out" capture "$TMP/q.wim" images=image_count archive_size=size
t "... no progress object" bash -c "! grep -q '\"progress\"' '$TMP/capq.out'"

# A name that is not UTF-8 (refused by capture) still gives a JSON error
# object that parses, the name's bad byte as U+FFFD.
mkdir -p "$TMP/bad"
mkfifo "$TMP/bad/fifo-"$'\xff'
t "capture of a non-UTF-8 name: exit 1" expect_fail 1 -- wp capture "$TMP/bad" "$TMP/bad.wim" --json
t "... one JSON error object" json_error "$LAST_STDERR" 1
t "... naming the file with U+FFFD" "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["path"].endswith("fifo-\ufffd")' "$LAST_STDERR"

# append
t "append --json" run_json app wp append "$SRC/sizes" "$W" second --json
t "append: summary matches info" jcheck "$TMP/app.out" append "$W" images=image_count archive_size=size \
    files=images.1.file_count directories=images.1.dir_count

# apply / extract
t "apply --json" run_json apl wp apply "$W" 1 "$TMP/out" --json
t "apply: summary matches info" jcheck "$TMP/apl.out" apply "$W" images=image_count archive_size=size \
    files=images.0.file_count directories=images.0.dir_count
t "apply: a final progress object" has_object "$TMP/apl.out" progress 'o["phase"] == "apply" and o["final"]'
t "apply: files_done counted as files are written" files_progress "$TMP/apl.out" apply
t "extract --json" run_json ext wp extract "$W" 2 --dest-dir="$TMP/ext" --json
t "extract: summary matches info" jcheck "$TMP/ext.out" extract "$W" images=image_count \
    files=images.1.file_count directories=images.1.dir_count
t "extract --to-stdout --json: refused" expect_fail 2 --mentions to-stdout -- wp extract "$W" 1 /big.bin --to-stdout --json
t "... as a JSON error object" json_error "$LAST_STDERR" 2
t "... nothing on stdout" test ! -s "$LAST_STDOUT"

# export / update / optimize / delete
t "export --json" run_json exp wp export "$W" all "$TMP/e.wim" --json
t "export: summary matches info" jcheck "$TMP/exp.out" export "$TMP/e.wim" images=image_count archive_size=size
echo new >"$TMP/newfile"
t "update --json" run_json upd wp update "$TMP/e.wim" 1 --command="add $TMP/newfile /newfile" --json
t "update: summary matches info" jcheck "$TMP/upd.out" update "$TMP/e.wim" images=image_count archive_size=size \
    files=images.0.file_count directories=images.0.dir_count
t "optimize --json" run_json opt wp optimize "$TMP/e.wim" --json
t "optimize: summary matches info" jcheck "$TMP/opt.out" optimize "$TMP/e.wim" images=image_count archive_size=size
t "delete --json" run_json del wp delete "$TMP/e.wim" 2 --json
t "delete: summary matches info" jcheck "$TMP/del.out" delete "$TMP/e.wim" images=image_count archive_size=size

# split / join
t "split --json" run_json spl wp split "$W" "$TMP/p.swm" 5 --json
t "split: summary parses, images match" jcheck "$TMP/spl.out" split "$W" images=image_count source_size=size
t "split: part 1's size as info says" bash -c "wp() { '$WIMPACK' \"\$@\"; }; wp info '$TMP/p.swm' --json >'$TMP/pinfo.json' &&
    '$PY' -c 'import json,sys; s=json.loads(open(sys.argv[1]).read().splitlines()[-1]); i=json.load(open(sys.argv[2]));
assert len(s[\"parts\"]) >= 2 and s[\"parts\"][0][\"size\"] == i[\"size\"], (s, i[\"size\"])' '$TMP/spl.out' '$TMP/pinfo.json'"
t "join --json" run_json joi wp join "$TMP/j.wim" "$TMP"/p*.swm --json
t "join: summary matches info" jcheck "$TMP/joi.out" join "$TMP/j.wim" images=image_count archive_size=size

# verify, dir, info: one document
t "verify --json" run_json ver wp verify "$W" --json
t "verify: one line, the summary" jcheck "$TMP/ver.out" verify "$W" images=image_count
t "... exactly one line" test "$(wc -l <"$TMP/ver.out")" = 1
t "dir --json" run_json dir wp dir "$W" 1 --json
t "dir: one document listing every file and directory" bash -c "wp() { '$WIMPACK' \"\$@\"; }; wp info '$W' --json >'$TMP/dinfo.json' &&
    '$PY' -c 'import json,sys; d=json.load(open(sys.argv[1])); i=json.load(open(sys.argv[2]))[\"images\"][0]
e=d[\"entries\"]; assert d[\"schema_version\"] == 1
assert sum(x[\"type\"]==\"directory\" for x in e) == i[\"dir_count\"], (len(e), i)
assert sum(x[\"type\"]!=\"directory\" for x in e) == i[\"file_count\"], (len(e), i)' '$TMP/dir.out' '$TMP/dinfo.json'"

# errors: a missing archive (4), a corrupt one (3), on stderr as one object
head -c 100000 /dev/zero >"$TMP/corrupt.wim"
for c in "apply %s 1 $TMP/o" "extract %s 1" "export %s 1 $TMP/x.wim" "optimize %s" "update %s 1 --command=delete\\ /a" \
    "verify %s" "split %s $TMP/s.swm 1" "join $TMP/jj.wim %s" "delete %s 1" "append $SRC %s" "dir %s" "info %s"; do
    name=${c%% *}
    for kind in missing corrupt; do
        if [[ $kind == missing ]]; then f=$TMP/nonexistent.wim code=4; else f=$TMP/corrupt.wim code=3; fi
        # shellcheck disable=SC2059
        eval "args=($(printf "$c" "$f"))"
        t "$name: $kind archive: exit $code" expect_fail $code -- wp "${args[@]}" --json
        t "... one JSON error object on stderr" json_error "$LAST_STDERR" $code
        t "... stdout only JSON" only_json "$LAST_STDOUT"
    done
done
t "capture of a missing source: JSON error" expect_fail 4 -- wp capture "$TMP/no-such-dir" "$TMP/n.wim" --json
t "... one JSON error object with its path" json_error "$LAST_STDERR" 4
t "capture to '-' with --json: usage error" expect_fail 2 -- wp capture "$SRC" - --json
t "... as a JSON error object" json_error "$LAST_STDERR" 2
t "an unknown option with --json: JSON usage error" expect_fail 2 -- wp apply "$W" "$TMP/o2" --json --bogus
t "... as a JSON error object" json_error "$LAST_STDERR" 2

# Progress for people
t "capture, stderr not a terminal: no progress line" run_json plain wp capture "$SRC/sizes" "$TMP/p1.wim"
t "... nothing drawn on stderr" bash -c "! grep -q 'Archiving' '$TMP/plain.err' && ! grep -q \$'\\r' '$TMP/plain.err'"
if have script; then
    t "capture on a terminal (script -qc)" bash -c "script -qec \"'$WIMPACK' capture '$SRC' '$TMP/tty.wim'\" /dev/null >'$TMP/tty.txt' 2>&1"
    t "... draws the progress line (bytes, files, rate)" grep -q 'Archiving file data: .* done, .* files' "$TMP/tty.txt"
    t "apply on a terminal draws its line" bash -c "script -qec \"'$WIMPACK' apply '$W' 1 '$TMP/tty-out'\" /dev/null >'$TMP/tty2.txt' 2>&1 &&
        grep -q 'Applying image 1: ' '$TMP/tty2.txt'"
    t "capture --quiet on a terminal" bash -c "script -qec \"'$WIMPACK' capture '$SRC' '$TMP/ttyq.wim' --quiet\" /dev/null >'$TMP/ttyq.txt' 2>&1"
    t "... draws nothing" bash -c "! grep -q 'Archiving' '$TMP/ttyq.txt'"
else
    skip "script (util-linux) not installed"
fi

summary
