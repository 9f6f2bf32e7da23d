// UTF-8 ⇄ UTF-16 for names stored in WIM metadata (wim-format.md §7.2).
// WIM names are arbitrary 16-bit units, unpaired surrogates included; they map
// to the host as WTF-8 (UTF-8 extended with surrogate code points), which is
// what wimlib does, so every name round-trips.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace wp {

// Returns nullopt if `s` is not valid WTF-8 (overlong forms, bytes > 0xF4,
// truncated sequences, or an encoded surrogate *pair*, which must be written
// as one 4-byte sequence).
std::optional<std::u16string> utf8_to_utf16(std::string_view s);

// Never fails: unpaired surrogates become 3-byte WTF-8 sequences.
std::string utf16_to_utf8(std::u16string_view s);

// UTF-16LE bytes (no BOM, no terminator) ⇄ std::u16string.
std::u16string utf16le_decode(ByteSpan bytes);
void utf16le_encode(std::u16string_view s, Bytes& out);

}  // namespace wp
