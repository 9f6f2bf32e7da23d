// Environment variables that change behaviour, read in one place.
#pragma once

#include <cstdlib>
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

}  // namespace wp
