#!/usr/bin/env bash
# wimlib-imagex options that wimpack takes as wimlib does on Linux, so ported
# scripts run unchanged (issue 15, "Command-line parity"):
#   --wimboot (capture, append, export): XPRESS with 4K chunks for a new
#     archive, the WIMBOOT element set, SOURCE's WimBootCompress.ini as config;
#   --include-integrity on every writing command; --not-pipable on capture;
#   --no-acls/--strict-acls on capture (no-ops on Linux);
#   update --wimboot-config=FILE;
#   Windows-only features refused with exit 5 before any work, as wimlib-imagex
#   refuses them on Linux: apply/extract --wimboot, --compact=FORMAT,
#   capture/append --snapshot.
#
# usage: bash wimlib_options.sh PATH/TO/wimpack
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
init_test "$@"

WL=0
have wimlib-imagex && WL=1
S=$TMP/src
make_small_tree "$S"
info_field() { # info_field WIM FIELD: wimpack info's "FIELD:  value"
    "$WIMPACK" info "$1" | sed -n "s/^$2:[[:space:]]*//p" | head -n1
}
wimboot_of() { xml_get "$1" "IMAGE[@INDEX='$2']/WIMBOOT"; }

# --- capture --wimboot ------------------------------------------------------------
W=$TMP/wb.wim
t "capture --wimboot --no-acls --strict-acls --not-pipable" \
    expect_ok wp capture "$S" "$W" --wimboot --no-acls --strict-acls --not-pipable --quiet
t "... XPRESS" check_eq codec "$(info_field "$W" Compression)" XPRESS
t "... 4096-byte chunks" check_eq chunk "$(hdr "$W" chunk_size)" 4096
t "... WIMBOOT is 1 in the image's XML" check_eq WIMBOOT "$(wimboot_of "$W" 1)" 1
t "... info says WIMBoot compatible" check_eq wimboot "$(info_field "$W" "WIMBoot compatible")" yes
[[ $WL == 1 ]] && t "... wimlib-imagex verify" expect_ok wimlib-imagex verify "$W"
t "capture --wimboot --compress=LZX keeps LZX" expect_ok wp capture "$S" "$TMP/wbl.wim" --wimboot --compress=LZX --quiet
t "... LZX, 32K chunks" check_eq codec "$(info_field "$TMP/wbl.wim" Compression)/$(hdr "$TMP/wbl.wim" chunk_size)" LZX/32768
t "capture --wimboot --chunk-size=16K" expect_ok wp capture "$S" "$TMP/wb16.wim" --wimboot --chunk-size=16K --quiet
t "... XPRESS, 16K chunks" check_eq codec "$(info_field "$TMP/wb16.wim" Compression)/$(hdr "$TMP/wb16.wim" chunk_size)" XPRESS/16384
# SOURCE/Windows/System32/WimBootCompress.ini is the configuration with --wimboot
WS=$TMP/winsrc
mkdir -p "$WS/Windows/System32" "$WS/data"
printf 'keep\n' >"$WS/data/keep.txt"
printf 'skip\n' >"$WS/data/skip.log"
printf '[ExclusionList]\n/data/*.log\n[PrepopulateList]\n/Windows\n' >"$WS/Windows/System32/WimBootCompress.ini"
t "capture --wimboot of a tree with WimBootCompress.ini" expect_ok wp capture "$WS" "$TMP/ws.wim" --wimboot --quiet
t "... its [ExclusionList] applied (skip.log left out)" bash -c "'$WIMPACK' dir '$TMP/ws.wim' | grep -q /data/keep.txt && ! '$WIMPACK' dir '$TMP/ws.wim' | grep -q skip.log"
t "capture of it without --wimboot keeps skip.log" expect_ok wp capture "$WS" "$TMP/ws2.wim" --quiet
t "... skip.log there" bash -c "'$WIMPACK' dir '$TMP/ws2.wim' | grep -q /data/skip.log"
t "... and no WIMBOOT element" not wimboot_of "$TMP/ws2.wim" 1

# --- append / export --wimboot ----------------------------------------------------------
t "capture an LZX archive" expect_ok wp capture "$S" "$TMP/lzx.wim" --quiet
t "append --wimboot --include-integrity" expect_ok wp append "$S" "$TMP/lzx.wim" two --wimboot --include-integrity --quiet
t "... image 2 WIMBoot, image 1 not" check_eq WIMBOOT "$(wimboot_of "$TMP/lzx.wim" 2)/$(wimboot_of "$TMP/lzx.wim" 1 2>/dev/null)" 1/
t "... still LZX (an append keeps the encoding)" check_eq codec "$(info_field "$TMP/lzx.wim" Compression)" LZX
t "... has an integrity table" test "$(hdr "$TMP/lzx.wim" integrity_size)" -gt 0
t "export --wimboot to a new archive" expect_ok wp export "$TMP/lzx.wim" 1 "$TMP/exp.wim" --wimboot --quiet
t "... XPRESS with 4K chunks" check_eq codec "$(info_field "$TMP/exp.wim" Compression)/$(hdr "$TMP/exp.wim" chunk_size)" XPRESS/4096
t "... WIMBOOT 1" check_eq WIMBOOT "$(wimboot_of "$TMP/exp.wim" 1)" 1
[[ $WL == 1 ]] && t "... wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/exp.wim"
t "export without --wimboot keeps the source's codec" expect_ok wp export "$TMP/lzx.wim" 1 "$TMP/exp2.wim" --quiet
t "... LZX" check_eq codec "$(info_field "$TMP/exp2.wim" Compression)" LZX

# --- --include-integrity ------------------------------------------------------------
t "capture --include-integrity" expect_ok wp capture "$S" "$TMP/ii.wim" --include-integrity --quiet
t "... integrity table written" test "$(hdr "$TMP/ii.wim" integrity_size)" -gt 0
t "capture without it: none" expect_ok wp capture "$S" "$TMP/noii.wim" --quiet
t "... no integrity table" test "$(hdr "$TMP/noii.wim" integrity_size)" -eq 0
t "optimize --include-integrity adds one" expect_ok wp optimize "$TMP/noii.wim" --include-integrity --quiet
t "... integrity table written" test "$(hdr "$TMP/noii.wim" integrity_size)" -gt 0
[[ $WL == 1 ]] && t "... wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/noii.wim"
t "--include-integrity with --nocheck: code 2" \
    expect_fail 2 --mentions --nocheck -- wp optimize "$TMP/noii.wim" --include-integrity --nocheck

# --- update --wimboot-config -----------------------------------------------------------
printf '[PrepopulateList]\n\\Windows\\Fonts\n' >"$TMP/wbc.ini"
cp "$TMP/ii.wim" "$TMP/upd.wim"
t "update --wimboot-config=FILE (stdin not read)" expect_ok wp update "$TMP/upd.wim" 1 --wimboot-config="$TMP/wbc.ini" --quiet
t "... the file is /Windows/System32/WimBootCompress.ini" \
    bash -c "'$WIMPACK' extract '$TMP/upd.wim' 1 /Windows/System32/WimBootCompress.ini --to-stdout | cmp - '$TMP/wbc.ini'"
[[ $WL == 1 ]] && t "... wimlib-imagex verify" expect_ok wimlib-imagex verify "$TMP/upd.wim"
t "update --wimboot-config with --command: code 2" \
    expect_fail 2 --mentions --wimboot-config -- wp update "$TMP/upd.wim" 1 --wimboot-config="$TMP/wbc.ini" --command "delete /x"

# --- Windows-only features: exit 5, nothing done ------------------------------------------
t "capture --snapshot: code 5" expect_fail 5 --mentions --snapshot -- wp capture "$S" "$TMP/snap.wim" --snapshot
t "... no archive" test ! -e "$TMP/snap.wim"
cp "$TMP/ii.wim" "$TMP/snap2.wim"
t "append --snapshot: code 5" expect_fail 5 --mentions --snapshot -- wp append "$S" "$TMP/snap2.wim" x --snapshot
t "... archive unchanged" same_file "$TMP/ii.wim" "$TMP/snap2.wim"
t "apply --wimboot: code 5" expect_fail 5 --mentions --wimboot -- wp apply "$TMP/ii.wim" "$TMP/out1" --wimboot
t "... no target made" test ! -e "$TMP/out1"
t "apply --compact=xpress4k: code 5" expect_fail 5 --mentions --compact -- wp apply "$TMP/ii.wim" "$TMP/out2" --compact=xpress4k
t "extract --wimboot: code 5" expect_fail 5 --mentions --wimboot -- wp extract "$TMP/ii.wim" 1 / --dest-dir="$TMP/out3" --wimboot
t "extract --compact lzx: code 5" expect_fail 5 --mentions --compact -- wp extract "$TMP/ii.wim" 1 / --dest-dir="$TMP/out4" --compact lzx
if [[ $WL == 1 ]]; then
    t "wimlib-imagex refuses apply --wimboot on Linux too" expect_fail any -- wimlib-imagex apply "$TMP/ii.wim" "$TMP/out5" --wimboot
fi

summary
