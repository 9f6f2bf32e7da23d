// The case folding of WIMLIB_IMAGEX_IGNORE_CASE (util/env.hpp): ASCII,
// Latin-1, Latin Extended-A, basic Greek and Cyrillic letters map to their
// upper case; everything else is left alone.
#pragma once

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

}  // namespace wp
