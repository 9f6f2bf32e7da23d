// Building JSON text by hand, for the few places that print it (--json):
// a string literal, and one flat-or-nested object assembled key by key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wp {

// A JSON string literal for `s`: valid UTF-8 passed through, controls
// escaped, each byte that is not part of valid UTF-8 replaced by \ufffd.
std::string json_string(std::string_view s);

class JsonObject {
public:
  JsonObject& str(std::string_view key, std::string_view value) { return raw(key, json_string(value)); }
  JsonObject& num(std::string_view key, uint64_t value) { return raw(key, std::to_string(value)); }
  JsonObject& real(std::string_view key, double value);  // 3 decimals
  JsonObject& boolean(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& null(std::string_view key) { return raw(key, "null"); }
  // `json` is already JSON text (an array, an object, ...).
  JsonObject& raw(std::string_view key, std::string_view json);
  std::string text() const { return body_.empty() ? "{}" : body_ + "}"; }

private:
  std::string body_;
};

}  // namespace wp
