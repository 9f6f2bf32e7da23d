// Parsing of size arguments such as "32K", "1MiB", "64M", "1G".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wp {

// Accepts a decimal number with an optional binary suffix: K, KB, KiB, M, MB,
// MiB, G, GB, GiB (case-insensitive; all mean powers of 1024, as in wimlib).
std::optional<uint64_t> parse_size(std::string_view s);

std::string format_size(uint64_t bytes);  // "1.5 MiB"

}  // namespace wp
