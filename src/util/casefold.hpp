// The case folding of WIMLIB_IMAGEX_IGNORE_CASE (util/env.hpp): ASCII,
// Latin-1, Latin Extended-A, basic Greek and Cyrillic letters map to their
// upper case; everything else is left alone.
#pragma once

#include <string>
#include <string_view>

#include "util/utf.hpp"

namespace wp {

inline char16_t fold_case(char16_t c) {
  if (c >= u'a' && c <= u'z') return char16_t(c - 0x20);
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return char16_t(c - 0x20);
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    // Latin Extended-A: pairs (upper, lower), even/odd except 0x139-0x148
    // and 0x179-0x17E, which are odd/even.
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper ? (c % 2 == 0) : (c % 2 == 1)) return char16_t(c - 1);
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return char16_t(c - 0x20);
  if (c >= 0x430 && c <= 0x44F) return char16_t(c - 0x20);
  if (c >= 0x450 && c <= 0x45F) return char16_t(c - 0x50);
  return c;
}

// A UTF-8 string folded into `out` (every folded character keeps its UTF-8
// length). Invalid UTF-8: only ASCII letters are folded.
inline void fold_case_utf8(std::string_view s, std::string& out) {
  out.clear();
  bool ascii = true;
  for (unsigned char c : s) ascii &= c < 0x80;
  if (!ascii) {
    if (auto u = utf8_to_utf16(s)) {
      for (auto& ch : *u) ch = fold_case(ch);
      out = utf16_to_utf8(*u);
      return;
    }
  }
  out.assign(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = char(c - 0x20);
}

}  // namespace wp
