#include "util/filetime.hpp"

#include <limits>

namespace wp {

uint64_t unix_to_filetime(int64_t sec, int64_t nsec) {
  if (sec < -kFiletimeEpochDiff) return 0;
  // The last whole second that fits, counted from 1601 (no signed overflow).
  constexpr uint64_t kMaxSec = std::numeric_limits<uint64_t>::max() / 10000000u;
  if (sec >= 0 && uint64_t(sec) >= kMaxSec - uint64_t(kFiletimeEpochDiff)) return std::numeric_limits<uint64_t>::max();
  uint64_t s = uint64_t(sec + kFiletimeEpochDiff);
  return s * 10000000u + uint64_t(nsec / 100);
}

struct timespec filetime_to_timespec(uint64_t ft) {
  struct timespec ts;
  ts.tv_sec = time_t(int64_t(ft / 10000000u) - kFiletimeEpochDiff);
  ts.tv_nsec = long(ft % 10000000u) * 100;
  return ts;
}

uint64_t filetime_now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return unix_to_filetime(ts);
}

namespace {
std::string format_utc(uint64_t ft, const char* fmt) {
  time_t t = time_t(ft / 10000000u - uint64_t(kFiletimeEpochDiff));
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return {};
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}
}  // namespace

std::string format_filetime(uint64_t ft) {
  std::string s = format_utc(ft, "%a %b %d %H:%M:%S %Y UTC");
  return s.empty() ? "(unknown)" : s;
}

std::string format_filetime_iso(uint64_t ft) {
  if (ft < kFiletimeUnixEpoch) return "";
  return format_utc(ft, "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace wp
