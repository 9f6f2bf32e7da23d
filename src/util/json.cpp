#include "util/json.hpp"

#include <cmath>
#include <cstdio>

namespace wp {

namespace {

// Length of the valid UTF-8 sequence at s[i] (strict: no overlongs, no
// surrogates, at most U+10FFFF), or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto c = [&](size_t k) { return i + k < s.size() ? (unsigned char)s[i + k] : 0u; };
  auto cont = [&](size_t k) { return (c(k) & 0xC0) == 0x80; };
  unsigned b0 = c(0);
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    return c(1) >= lo && c(1) <= hi && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return c(1) >= lo && c(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    if (c >= 0x80) {
      // Valid UTF-8 passes through; anything else (a name that is not
      // UTF-8, WTF-8 surrogates) becomes U+FFFD, so that the text stays JSON.
      if (size_t n = utf8_sequence(s, i)) {
        o.append(s.substr(i, n));
        i += n - 1;
      } else {
        o += "\\ufffd";
      }
      continue;
    }
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += char(c);
        }
    }
  }
  return o + "\"";
}

JsonObject& JsonObject::real(std::string_view key, double value) {
  if (!std::isfinite(value)) return null(key);
  char b[64];
  std::snprintf(b, sizeof b, "%.3f", value);
  return raw(key, b);
}

JsonObject& JsonObject::raw(std::string_view key, std::string_view json) {
  body_ += body_.empty() ? "{" : ",";
  body_ += json_string(key);
  body_ += ':';
  body_ += json;
  return *this;
}

}  // namespace wp
