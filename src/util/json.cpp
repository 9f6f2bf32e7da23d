#include "util/json.hpp"

#include <cmath>
#include <cstdio>

namespace wp {

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
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
