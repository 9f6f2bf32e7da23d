// Windows FILETIME (wim-format.md §10.1): 100-nanosecond intervals since
// 1601-01-01 00:00:00 UTC, unsigned 64-bit. The one place that converts
// between it and UNIX time and formats it.
#pragma once

#include <ctime>

#include <cstdint>
#include <string>

namespace wp {

// Seconds from 1601-01-01 to 1970-01-01.
inline constexpr int64_t kFiletimeEpochDiff = 11644473600;
// The FILETIME of 1970-01-01 00:00:00 UTC.
inline constexpr uint64_t kFiletimeUnixEpoch = uint64_t(kFiletimeEpochDiff) * 10000000u;

// A UNIX time (sec may be negative; nsec in [0, 1e9)) as a FILETIME,
// truncated to 100 ns. Times before 1601 clamp to 0, times after the year
// 60056 to UINT64_MAX.
uint64_t unix_to_filetime(int64_t sec, int64_t nsec);
inline uint64_t unix_to_filetime(const struct timespec& ts) { return unix_to_filetime(ts.tv_sec, ts.tv_nsec); }

// A FILETIME as a UNIX time; exact (every FILETIME fits a 64-bit time_t).
// 0 gives 1601-01-01, i.e. a negative tv_sec.
struct timespec filetime_to_timespec(uint64_t ft);

// The current time (CLOCK_REALTIME) as a FILETIME.
uint64_t filetime_now();

// "Mon Nov 23 01:50:08 2026 UTC", as wimlib-imagex's info and dir print
// every time, 0 included ("Mon Jan 01 00:00:00 1601 UTC").
std::string format_filetime(uint64_t ft);
// "2026-11-23T01:50:08Z"; "" for times before 1970.
std::string format_filetime_iso(uint64_t ft);

}  // namespace wp
