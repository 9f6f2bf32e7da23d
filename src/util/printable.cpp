#include "util/printable.hpp"

#include <cstdint>

namespace wp {

namespace {

void escape(std::string& out, uint8_t b) {
  static const char hex[] = "0123456789ABCDEF";
  out += "\\x";
  out += hex[b >> 4];
  out += hex[b & 15];
}

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 if invalid.
size_t utf8_len(std::string_view s, size_t i, uint32_t* cp) {
  uint8_t b = uint8_t(s[i]);
  size_t n;
  uint32_t c;
  if (b < 0x80) {
    *cp = b;
    return 1;
  } else if (b >= 0xC2 && b <= 0xDF) {
    n = 2, c = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, c = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, c = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    uint8_t t = uint8_t(s[i + k]);
    if ((t & 0xC0) != 0x80) return 0;
    c = (c << 6) | (t & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return n;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = utf8_len(s, i, &cp);
    if (n == 0) {
      escape(out, uint8_t(s[i]));
      i++;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
      for (size_t k = 0; k < n; k++) escape(out, uint8_t(s[i + k]));
    } else {
      out.append(s.substr(i, n));
    }
    i += n;
  }
  return out;
}

}  // namespace wp
