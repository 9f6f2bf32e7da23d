// Environment variables that change behaviour, read in one place.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace wp {

// WIMLIB_IMAGEX_IGNORE_CASE (wimlib-imagex(1)): "1" (or yes/y/true) makes
// in-image paths (extract, dir --path) and capture configuration patterns
// ([ExclusionList] ...; ASCII letters only there, as wimlib-imagex) match
// case-insensitively.
inline bool ignore_case_from_env() {
  const char* v = std::getenv("WIMLIB_IMAGEX_IGNORE_CASE");
  if (!v) return false;
  std::string s = v;
  return s == "1" || s == "yes" || s == "y" || s == "true";
}

// SOURCE_DATE_EPOCH (reproducible-builds.org/specs/source-date-epoch):
// unset or empty = nullopt; a decimal number of seconds since 1970-01-01 UTC
// (0 .. 253402300799, i.e. up to year 9999) = that time. Anything else
// throws Errc::Usage (exit 2), as the specification asks ("SHOULD exit with
// a non-zero error code" on a malformed value). Read once per process.
std::optional<int64_t> source_date_epoch();
// The time to record as "now" (XML times, directories a capture invents):
// SOURCE_DATE_EPOCH as a FILETIME if set, else the current time.
uint64_t filetime_now_or_epoch();
// The same check on a given value (nullptr = unset); for tests.
std::optional<int64_t> parse_source_date_epoch(const char* value);

}  // namespace wp
