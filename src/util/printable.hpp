// Names from archives are attacker-controlled: before one goes into a message
// or a listing, control characters and invalid UTF-8 are made visible as
// \xNN so they cannot garble or spoof the terminal output.
#pragma once

#include <string>
#include <string_view>

namespace wp {

// Valid printable UTF-8 is kept; bytes < 0x20, 0x7F, the C1 controls
// U+0080..U+009F and every byte of an invalid UTF-8 sequence become \xNN
// (one escape per byte); a backslash stays a backslash.
std::string printable(std::string_view s);

}  // namespace wp
