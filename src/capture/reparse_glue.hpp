// TEMPORARY: UNIX symlink target <-> symlink reparse data (wim-format.md
// §9.2-9.4), used by capture and apply until src/wim/reparse.hpp (being
// written separately) lands; then both switch to it and this file goes away.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace wp::glue {

// Reparse data (without the 8-byte buffer header) for a symlink to `target`.
// `fixed`: the target was rewritten by rpfix and is absolute even if empty.
// nullopt if the target is not valid UTF-8 or the data would exceed 16376 bytes.
std::optional<Bytes> symlink_to_reparse(std::string_view target, bool fixed);

// The UNIX target for a symlink/junction reparse point; nullopt if the data is
// malformed or the target contains NUL. With `rpfix` and NOT_FIXED clear, an
// absolute target is prefixed with `target_dir`.
std::optional<std::string> reparse_to_symlink(uint32_t tag, uint16_t rp_flags, ByteSpan data, bool rpfix,
                                              std::string_view target_dir);

}  // namespace wp::glue
