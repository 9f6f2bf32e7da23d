#!/usr/bin/env bash
# `info`: the default listing, IMAGE selection, --header, --blobs, --xml, --json.
# Values are checked against the archive's own bytes (header, XML), against the
# source tree, and against wimlib-imagex reading the same archive.
#
# usage: bash info.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

SRC=$TMP/src
t "build the test tree" make_test_tree "$SRC" || { summary; exit 1; }
W=$TMP/a.wim
NAME="Test Ïmage"
DESC="Désc & <ription>"
t "capture with IMAGE_NAME and IMAGE_DESC" expect_ok wp capture "$SRC" "$W" "$NAME" "$DESC" --compress=none ||
    { summary; exit 1; }

HAVE_WIMLIB=0
have wimlib-imagex && HAVE_WIMLIB=1

# kv FILE: "Key: value" lines → "Key=value" (first colon splits; blank values kept)
kv() { sed -n 's/^\([A-Za-z][A-Za-z ]*\):[[:space:]]*/\1=/p' "$1" | sed 's/[[:space:]]*$//'; }
# kv_eq FILE SEPARATOR: "Key = value" lines (info --header) → "Key=value"
# (keys normalised: wimlib spells some "Original_size", others "Original Size")
kv_eq() { sed -n 's/^\([A-Za-z][A-Za-z_ ]*[A-Za-z_]\)[[:space:]]*=[[:space:]]*\(.*\)$/\1=\2/p' "$1" | sed 's/^\([^=]*\)_/\1 /; s/^\([^=]*\) size=/\1 Size=/'; }
field() { kv "$LAST_STDOUT" | sed -n "s/^$1=//p" | head -n1; }

count_dirs() { find "$1" -type d -printf . | wc -c; }
count_nondirs() { find "$1" ! -type d -printf . | wc -c; }

# --- default listing ---------------------------------------------------------
if t "info WIM" expect_ok wp info "$W"; then
    cp "$LAST_STDOUT" "$TMP/info.txt"
    for k in "Path" "GUID" "Version" "Image Count" "Compression" "Chunk Size" "Part Number" \
        "Boot Index" "Size" "Index" "Name" "Description" "Directory Count" "File Count" \
        "Total Bytes" "Hard Link Bytes" "Creation Time" "Last Modification Time"; do
        t "info shows '$k:'" grep -q "^$k:" "$TMP/info.txt"
    done
    t "Image Count: 1" check_eq "Image Count" "$(field 'Image Count')" 1
    t "Name: is IMAGE_NAME" check_eq Name "$(field Name)" "$NAME"
    t "Description: is IMAGE_DESC" check_eq Description "$(field Description)" "$DESC"
    t "Compression: None" check_eq Compression "$(field Compression | tr 'A-Z' 'a-z')" none
    t "Directory Count: matches the tree (root included)" check_eq "Directory Count" "$(field 'Directory Count')" "$(count_dirs "$SRC")"
    t "File Count: matches the tree (every non-directory, every hard link)" check_eq "File Count" "$(field 'File Count')" "$(count_nondirs "$SRC")"
    t "Directory Count: equals the XML DIRCOUNT" check_eq DIRCOUNT "$(field 'Directory Count')" "$(xml_get "$W" "IMAGE[@INDEX='1']/DIRCOUNT")"
    t "Total Bytes: equals the XML TOTALBYTES" check_eq TOTALBYTES "$(field 'Total Bytes')" "$(xml_get "$W" "IMAGE[@INDEX='1']/TOTALBYTES")"

    if [[ $HAVE_WIMLIB == 1 && $ORACLE != 1 ]]; then
        if t "oracle: wimlib-imagex info reads our archive" expect_ok wimlib-imagex info "$W"; then
            # ("Size:" is left out: wimlib prints the XML's TOTALBYTES, wimpack the file size)
            for k in "Image Count" "Compression" "Chunk Size" "Part Number" "Boot Index" \
                "Index" "Name" "Description" "Directory Count" "File Count" "Total Bytes" "Hard Link Bytes" "Version" "GUID"; do
                t "info '$k' equals wimlib-imagex's" check_eq "$k" "$(kv "$TMP/info.txt" | sed -n "s/^$k=//p" | head -n1)" \
                    "$(kv "$LAST_STDOUT" | sed -n "s/^$k=//p" | head -n1)"
            done
        fi
    fi
fi

# Statistics as wimlib computes them for the same tree (DIRCOUNT, FILECOUNT,
# TOTALBYTES, HARDLINKBYTES in the archive's XML).
if [[ $HAVE_WIMLIB == 1 ]]; then
    if t "oracle: wimlib-imagex captures the same tree" bash -c 'wimlib-imagex capture "$1" "$2" --compress=none >/dev/null' _ "$SRC" "$TMP/ref.wim"; then
        for e in DIRCOUNT FILECOUNT TOTALBYTES HARDLINKBYTES; do
            t "XML $e equals wimlib's for the same tree" check_eq "$e" "$(xml_get "$W" "IMAGE[@INDEX='1']/$e")" "$(xml_get "$TMP/ref.wim" "IMAGE[@INDEX='1']/$e")"
        done
    fi
fi

# --- IMAGE selection -----------------------------------------------------------
t "info WIM 1" expect_ok wp info "$W" 1 && t "info WIM 1 shows the image" check_eq Name "$(field Name)" "$NAME"
t "info WIM NAME" expect_ok wp info "$W" "$NAME" && t "info WIM NAME shows the image" check_eq Index "$(field Index)" 1
t "info WIM 2: no such image (code 4)" expect_fail 4 --mentions 2 wp info "$W" 2
t "info WIM nosuchname: no such image (code 4)" expect_fail 4 --mentions nosuchname wp info "$W" nosuchname

# --- --header ------------------------------------------------------------------
if t "info --header" expect_ok wp info "$W" --header; then
    cp "$LAST_STDOUT" "$TMP/header.txt"
    kv_eq "$TMP/header.txt" >"$TMP/header.kv"
    hv() { sed -n "s/^$1=//p" "$TMP/header.kv" | head -n1; }
    t "--header: Header Size = 208" check_eq "Header Size" "$(hv 'Header Size')" 208
    t "--header: Image Count = 1" check_eq "Image Count" "$(hv 'Image Count')" 1
    t "--header: Blob Table Offset matches the file" check_eq "Blob Table Offset" "$(hv 'Blob Table Offset')" "$(hdr "$W" blob_table_offset)"
    t "--header: XML Data Offset matches the file" check_eq "XML Data Offset" "$(hv 'XML Data Offset')" "$(hdr "$W" xml_offset)"
    t "--header: Boot Index = 0" check_eq "Boot Index" "$(hv 'Boot Index')" 0
    if [[ $HAVE_WIMLIB == 1 && $ORACLE != 1 ]]; then
        if t "oracle: wimlib-imagex info --header" expect_ok wimlib-imagex info "$W" --header; then
            kv_eq "$LAST_STDOUT" >"$TMP/header.ref"
            t "--header: every 'Key = value' line equals wimlib-imagex's" diff -u "$TMP/header.ref" "$TMP/header.kv"
        fi
    fi
fi

# --- --blobs -------------------------------------------------------------------
if t "info --blobs" expect_ok wp info "$W" --blobs; then
    cp "$LAST_STDOUT" "$TMP/blobs.txt"
    grep -oiE '\b(0x)?[0-9a-f]{40}\b' "$TMP/blobs.txt" | sed 's/^0x//I' | tr 'A-F' 'a-f' | sort -u >"$TMP/blobs.ours"
    "$PY" -c '
import hashlib, os, sys
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        p = os.path.join(d, f)
        if not os.path.islink(p) and os.path.getsize(p) > 0:
            print(hashlib.sha1(open(p, "rb").read()).hexdigest())' "$SRC" | sort -u >"$TMP/blobs.files"
    t "--blobs lists the SHA-1 of every distinct non-empty file" bash -c 'missing=$(comm -23 "$1" "$2"); [[ -z $missing ]] || { echo "not listed: $missing"; exit 1; }' _ "$TMP/blobs.files" "$TMP/blobs.ours"
    if [[ $HAVE_WIMLIB == 1 && $ORACLE != 1 ]]; then
        if t "oracle: wimlib-imagex info --blobs" expect_ok wimlib-imagex info "$W" --blobs; then
            grep -oiE '\b(0x)?[0-9a-f]{40}\b' "$LAST_STDOUT" | sed 's/^0x//I' | tr 'A-F' 'a-f' | sort -u >"$TMP/blobs.ref"
            t "--blobs lists the same blobs as wimlib-imagex" diff -u "$TMP/blobs.ref" "$TMP/blobs.ours"
        fi
    fi
fi

# --- --xml ---------------------------------------------------------------------
check_xml_output() { # check_xml_output OUTFILE WIM EXPECTED_IMAGES
    "$PY" - "$1" "$ORACLE" "$3" <<'PYEOF' || return 1
import sys, xml.etree.ElementTree as ET
raw = open(sys.argv[1], 'rb').read()
oracle = sys.argv[2] == '1'
if raw.startswith(b'\xff\xfe'):
    text = raw[2:].decode('utf-16-le')          # the raw UTF-16LE XML, as wimlib-imagex prints it
else:
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        print(f"--xml output is not UTF-8: {e}"); sys.exit(1)
    if text.startswith('\ufeff'):
        text = text[1:]
try:
    root = ET.fromstring(text)
except ET.ParseError as e:
    print(f"--xml output is not well-formed XML: {e}"); sys.exit(1)
if root.tag != 'WIM':
    print(f"root element is {root.tag}, expected WIM"); sys.exit(1)
imgs = root.findall('IMAGE')
if len(imgs) != int(sys.argv[3]):
    print(f"{len(imgs)} IMAGE elements, expected {sys.argv[3]}"); sys.exit(1)
if sorted(i.get('INDEX') for i in imgs) != [str(n) for n in range(1, len(imgs) + 1)]:
    print("IMAGE INDEX attributes are not 1..n"); sys.exit(1)
open(sys.argv[1] + '.utf8', 'w').write(text)
PYEOF
    # the same document as the one stored in the archive
    wim_xml_utf8 "$2" >"$1.stored"
    "$PY" - "$1.utf8" "$1.stored" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
a = ET.canonicalize(from_file=sys.argv[1], strip_text=True)
b = ET.canonicalize(from_file=sys.argv[2], strip_text=True)
if a != b:
    print("--xml output differs from the XML stored in the archive:")
    print("  printed: " + a[:400]); print("  stored:  " + b[:400]); sys.exit(1)
PYEOF
}
if t "info --xml" expect_ok wp info "$W" --xml; then
    cp "$LAST_STDOUT" "$TMP/xml.out"
    t "--xml: the raw UTF-16LE document, well-formed, one IMAGE, same document as stored in the archive" check_xml_output "$TMP/xml.out" "$W" 1
    t "--xml: NAME and DESCRIPTION survive (incl. non-ASCII and escaped characters)" "$PY" -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
assert r.find("IMAGE/NAME").text == sys.argv[2], r.find("IMAGE/NAME").text
assert r.find("IMAGE/DESCRIPTION").text == sys.argv[3], r.find("IMAGE/DESCRIPTION").text' "$TMP/xml.out.utf8" "$NAME" "$DESC"
fi

# --- --json --------------------------------------------------------------------
# Key names are matched loosely (case, '_', ' ' and '-' ignored), e.g.
# image_count / imageCount / "Image Count".
check_json() { # check_json FILE WIM EXPECTED_IMAGE_COUNT
    "$PY" - "$@" <<'PYEOF'
import json, re, subprocess, sys, xml.etree.ElementTree as ET
path, wim, n_expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    doc = json.load(open(path, encoding='utf-8'))
except Exception as e:
    print(f"--json output is not valid UTF-8 JSON: {e}"); sys.exit(1)
norm = lambda k: re.sub(r'[^a-z0-9]', '', k.lower())
def find_key(obj, *names):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if norm(k) in names: return v
        for v in obj.values():
            r = find_key(v, *names)
            if r is not None: return r
    return None
errors = []
count = find_key(doc, 'imagecount', 'images_count', 'numimages', 'imagescount')
images = find_key(doc, 'images', 'availableimages')
if not isinstance(images, list):
    errors.append("no list of images (key 'images')")
    images = []
if count is not None and int(count) != n_expected:
    errors.append(f"image count {count}, expected {n_expected}")
if len(images) != n_expected:
    errors.append(f"{len(images)} entries in the image list, expected {n_expected}")
xml = subprocess.run(['bash', '-c', '. "$0"; wim_xml_utf8 "$1"', sys.argv[4], wim], capture_output=True, text=True).stdout
root = ET.fromstring(xml)
for i, img in enumerate(images, 1):
    x = root.find(f"IMAGE[@INDEX='{i}']")
    want = {'name': (x.findtext('NAME') or ''), 'dircount': int(x.findtext('DIRCOUNT')),
            'filecount': int(x.findtext('FILECOUNT')), 'totalbytes': int(x.findtext('TOTALBYTES'))}
    aliases = {'name': ('name',), 'dircount': ('dircount', 'directorycount', 'dirs', 'directories'),
               'filecount': ('filecount', 'files'), 'totalbytes': ('totalbytes',)}
    for key, names in aliases.items():
        got = next((v for k, v in img.items() if norm(k) in names), None) if isinstance(img, dict) else None
        if got is None:
            errors.append(f"image {i}: no '{key}' key"); continue
        if (str(got) if key == 'name' else int(got)) != want[key]:
            errors.append(f"image {i}: {key} = {got!r}, expected {want[key]!r}")
    idx = next((v for k, v in img.items() if norm(k) == 'index'), i) if isinstance(img, dict) else None
    if idx is not None and int(idx) != i:
        errors.append(f"image {i}: index = {idx}")
if errors:
    print("--json: " + "; ".join(errors)); print(open(path).read()[:600]); sys.exit(1)
PYEOF
}
if [[ $ORACLE == 1 ]]; then
    skip "info --json (wimpack extension; oracle mode)"
else
    t "info --json" expect_ok wp info "$W" --json &&
        t "--json: valid JSON with image count, name, dir/file counts matching the XML" check_json "$LAST_STDOUT" "$W" 1 "$T_LIBDIR/lib.sh"
fi

# --- several images ------------------------------------------------------------
if [[ $HAVE_WIMLIB == 1 ]]; then
    M=$TMP/multi.wim
    SMALL=$TMP/small
    make_small_tree "$SMALL"
    if t "oracle: wimlib-imagex builds a 2-image archive" bash -c '
        wimlib-imagex capture "$1" "$3" "one" "first" --compress=none >/dev/null &&
        wimlib-imagex append "$2" "$3" "two" >/dev/null' _ "$SRC" "$SMALL" "$M"; then
        t "multi: info" expect_ok wp info "$M" && {
            t "multi: Image Count: 2" check_eq "Image Count" "$(field 'Image Count')" 2
            t "multi: both names listed" bash -c 'grep -q "^Name:[[:space:]]*one$" "$1" && grep -q "^Name:[[:space:]]*two$" "$1"' _ "$LAST_STDOUT"
        }
        t "multi: info WIM two" expect_ok wp info "$M" two && t "multi: info WIM two → index 2" check_eq Index "$(field Index)" 2
        t "multi: info --xml" expect_ok wp info "$M" --xml && cp "$LAST_STDOUT" "$TMP/mxml.out" &&
            t "multi: --xml has 2 images, same as stored" check_xml_output "$TMP/mxml.out" "$M" 2
        if [[ $ORACLE != 1 ]]; then
            t "multi: info --json" expect_ok wp info "$M" --json &&
                t "multi: --json lists 2 images" check_json "$LAST_STDOUT" "$M" 2 "$T_LIBDIR/lib.sh"
        fi
        t "multi: info WIM 3 (code 4)" expect_fail 4 wp info "$M" 3
    fi
else
    skip "multi-image info (wimlib-imagex not installed)"
fi

# --- private codecs ----------------------------------------------------------------
if [[ $ORACLE != 1 ]]; then
    for c in zstd lzma; do
        Z=$TMP/$c.wim
        if t "$c: capture" expect_ok wp capture "$SRC" "$Z" --compress=$c; then
            t "$c: info" expect_ok wp info "$Z" &&
                t "$c: Compression: names the codec" bash -c 'grep -i "^Compression:" "$1" | grep -qi "$2"' _ "$LAST_STDOUT" "$c"
            t "$c: info --header" expect_ok wp info "$Z" --header
            t "$c: info --blobs" expect_ok wp info "$Z" --blobs
        fi
    done
fi

summary
