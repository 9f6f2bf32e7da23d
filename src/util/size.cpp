#include "util/size.hpp"

#include <cctype>
#include <cstdio>
#include <string>

namespace wp {

std::optional<uint64_t> parse_size(std::string_view s) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s.size() && std::isdigit(uint8_t(s[i]))) {
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + uint64_t(s[i] - '0');
    i++;
  }
  if (i == 0) return std::nullopt;
  std::string suffix;
  for (; i < s.size(); i++) suffix.push_back(char(std::tolower(uint8_t(s[i]))));
  int shift = 0;
  if (suffix.empty() || suffix == "b")
    shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib")
    shift = 30;
  else
    return std::nullopt;
  if (shift && v > (UINT64_MAX >> shift)) return std::nullopt;
  return v << shift;
}

std::string format_size(uint64_t bytes) {
  static const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = double(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, u++;
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu bytes", (unsigned long long)bytes);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace wp
