// util/filetime: UNIX <-> FILETIME conversions and formatting.
#include <doctest/doctest.h>

#include "util/filetime.hpp"

using namespace wp;

TEST_CASE("filetime: the UNIX epoch and known values") {
  CHECK(unix_to_filetime(0, 0) == 116444736000000000ull);
  CHECK(kFiletimeUnixEpoch == 116444736000000000ull);
  // 2020-01-02T03:04:05.123456789Z (truncated to 100 ns)
  CHECK(unix_to_filetime(1577934245, 123456789) == 0x01D5C1194AD6D707ull);
  struct timespec ts = filetime_to_timespec(0x01D5C1194AD6D707ull);
  CHECK(ts.tv_sec == 1577934245);
  CHECK(ts.tv_nsec == 123456700);
  CHECK(filetime_to_timespec(116444736000000000ull).tv_sec == 0);
}

TEST_CASE("filetime: 100 ns truncation, never rounding up") {
  CHECK(unix_to_filetime(0, 99) == kFiletimeUnixEpoch);
  CHECK(unix_to_filetime(0, 100) == kFiletimeUnixEpoch + 1);
  CHECK(unix_to_filetime(0, 199) == kFiletimeUnixEpoch + 1);
  CHECK(unix_to_filetime(0, 999999999) == kFiletimeUnixEpoch + 9999999);
  struct timespec in{1234567890, 987654321};
  CHECK(unix_to_filetime(in) == unix_to_filetime(1234567890, 987654321));
  struct timespec back = filetime_to_timespec(unix_to_filetime(in));
  CHECK(back.tv_sec == in.tv_sec);
  CHECK(back.tv_nsec == 987654300);
}

TEST_CASE("filetime: negative UNIX times, 1601 and before") {
  // 1969-12-31T23:59:59.5Z
  CHECK(unix_to_filetime(-1, 500000000) == kFiletimeUnixEpoch - 5000000);
  struct timespec ts = filetime_to_timespec(kFiletimeUnixEpoch - 5000000);
  CHECK(ts.tv_sec == -1);
  CHECK(ts.tv_nsec == 500000000);
  // exactly 1601-01-01: FILETIME 0, and 0 converts back to it
  CHECK(unix_to_filetime(-kFiletimeEpochDiff, 0) == 0);
  CHECK(filetime_to_timespec(0).tv_sec == -kFiletimeEpochDiff);
  CHECK(filetime_to_timespec(0).tv_nsec == 0);
  // before 1601: clamped to 0
  CHECK(unix_to_filetime(-kFiletimeEpochDiff - 1, 999999999) == 0);
  CHECK(unix_to_filetime(INT64_MIN, 0) == 0);
  // far future: clamped, no wrap-around
  CHECK(unix_to_filetime(INT64_MAX, 0) == UINT64_MAX);
  struct timespec max = filetime_to_timespec(UINT64_MAX);
  CHECK(max.tv_sec > 0);
  CHECK(unix_to_filetime(max.tv_sec - 1, 0) == (UINT64_MAX / 10000000u - 1) * 10000000u);
}

TEST_CASE("filetime: now is after 2020 and moves forward") {
  uint64_t a = filetime_now(), b = filetime_now();
  CHECK(a > unix_to_filetime(1577836800, 0));
  CHECK(b >= a);
}

TEST_CASE("filetime: formatting") {
  uint64_t t = unix_to_filetime(1577934245, 123456789);
  CHECK(format_filetime(t) == "Thu Jan 02 03:04:05 2020 UTC");
  CHECK(format_filetime_iso(t) == "2020-01-02T03:04:05Z");
  CHECK(format_filetime(kFiletimeUnixEpoch) == "Thu Jan 01 00:00:00 1970 UTC");
  CHECK(format_filetime(0) == "Mon Jan 01 00:00:00 1601 UTC");
  CHECK(format_filetime(kFiletimeUnixEpoch - 1) == "Wed Dec 31 23:59:59 1969 UTC");
  CHECK(format_filetime_iso(0).empty());
}
