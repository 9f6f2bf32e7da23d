// Reparse data of symbolic links and junctions (wim-format.md §9), and the
// conversions between UNIX symlink targets and that data that wimlib uses on
// Linux (§9.3), including reparse-point fixups ("rpfix", §9.4).
//
// The reparse data here is always the blob of a file's reparse stream: the
// Windows reparse buffer *without* its 8-byte header (§9.1). The tag lives in
// the dentry (Inode::reparse_tag), the NOT_FIXED flag in Inode::rp_flags.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "image/image.hpp"
#include "util/bytes.hpp"

namespace wp::wim {

// §9.1: Windows' limit (16384-byte buffer including the 8-byte header).
constexpr size_t kMaxReparseDataSize = 16376;
// §9.2: SYMLINK_FLAG_RELATIVE in the symlink data's `flags` field.
constexpr uint32_t kSymlinkFlagRelative = 0x1;

// A parsed symlink (0xA000000C) or junction (0xA0000003) reparse blob (§9.2).
struct LinkReparseData {
  std::u16string substitute_name;
  std::u16string print_name;
  bool relative = false;  // SYMLINK_FLAG_RELATIVE; always false for junctions
};

// Parses §9.2 data. nullopt for other tags, blobs over kMaxReparseDataSize,
// truncated headers, odd offsets or lengths, and names outside the blob.
std::optional<LinkReparseData> parse_link_reparse_data(uint32_t tag, ByteSpan data);

// Builds §9.2 data the way wimlib lays it out: substitute name at offset 0,
// NUL, print name, NUL (NULs not counted). `relative` is only stored for the
// symlink tag (junctions have no flags field). Throws Errc::Unsupported if
// the result would exceed kMaxReparseDataSize.
Bytes make_link_reparse_data(uint32_t tag, std::u16string_view substitute_name, std::u16string_view print_name,
                             bool relative);

// §9.3 capture steps 1–3: the symlink reparse data (tag kReparseTagSymlink)
// for the readlink() target `unix_target`.
//  * `fixed` = false: `unix_target` is the link as read. A target not
//    starting with '/' becomes a relative symlink (flags 1, substitute = print
//    = target with '/' and '\' swapped); an absolute one becomes
//    substitute "\??\C:" + swapped target, print "C:" + swapped target.
//  * `fixed` = true: `unix_target` is the remainder returned by
//    rpfix_capture_target() ("" or "/…"); it is always stored as absolute.
// The dentry's rp_flags must be symlink_rp_flags(fixed) (§9.3 step 5).
// Throws Errc::Unsupported if the target is not valid UTF-8/WTF-8 or too long.
Bytes make_symlink_reparse_data(std::string_view unix_target, bool fixed);
constexpr uint16_t symlink_rp_flags(bool fixed) { return fixed ? 0 : image::kRpNotFixed; }

// §9.4 capture-side rpfix. For an absolute `target`, tries its path prefixes
// shortest first ("/a", "/a/b", …; never "/" itself) and, at the first one
// for which `is_capture_root(prefix)` is true, returns the rest of the
// target including its leading slash(es): "/srv/tree/sub" captured from
// "/srv/tree" → "/sub", "/srv/tree" → "". Returns nullopt for relative
// targets and targets outside the capture root (store them unchanged, with
// NOT_FIXED).
std::optional<std::string> rpfix_capture_target(std::string_view target,
                                                const std::function<bool(const std::string& prefix)>& is_capture_root);
// The same, deciding "is the capture root" with stat() (symlinks in the
// prefixes followed, as wimlib does) against the root's device and inode.
std::optional<std::string> rpfix_capture_target(std::string_view target, dev_t root_dev, ino_t root_ino);

// §9.3 apply steps 1–3: the UNIX symlink target for a symlink or junction
// reparse point. Relative symlinks only get '\' and '/' swapped. Absolute
// symlinks and junctions lose a leading "\??\", "\DosDevices\" or "\Device\"
// prefix together with the path component after it (drive, volume), then get
// separators swapped; if `rpfix` is set and NOT_FIXED is clear in `rp_flags`,
// `target_dir_abs` (the absolute extraction directory) is prepended. An
// empty absolute result becomes "/".
// nullopt: another tag, malformed data (see parse_link_reparse_data), a
// target containing NUL, or an empty relative target.
std::optional<std::string> reparse_to_unix_target(uint32_t tag, uint16_t rp_flags, ByteSpan data, bool rpfix,
                                                  std::string_view target_dir_abs);

}  // namespace wp::wim
