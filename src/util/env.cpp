#include "util/env.hpp"

#include "util/error.hpp"
#include "util/filetime.hpp"

namespace wp {

std::optional<int64_t> parse_source_date_epoch(const char* value) {
  if (!value || !*value) return std::nullopt;
  std::string v = value;
  constexpr int64_t kMax = 253402300799;  // 9999-12-31 23:59:59 UTC
  int64_t n = 0;
  bool ok = v.size() <= 12;
  for (char c : v) {
    if (c < '0' || c > '9') ok = false;
    if (ok) n = n * 10 + (c - '0');
  }
  if (!ok || n > kMax)
    fail(Errc::Usage, "SOURCE_DATE_EPOCH='" + v +
                          "' is not a number of seconds since 1970-01-01 (a decimal integer from 0 to 253402300799)");
  return n;
}

std::optional<int64_t> source_date_epoch() {
  static const std::optional<int64_t> value = parse_source_date_epoch(std::getenv("SOURCE_DATE_EPOCH"));
  return value;
}

uint64_t filetime_now_or_epoch() {
  if (auto e = source_date_epoch()) return unix_to_filetime(*e, 0);
  return filetime_now();
}

}  // namespace wp
