// Checked arithmetic for sizes and offsets read from an archive: a result
// that does not fit in 64 bits means the archive lies, so it is reported as
// Errc::BadArchive (with `what` naming the archive and the field) instead of
// wrapping silently.
#pragma once

#include <cstdint>
#include <string>

#include "util/error.hpp"

namespace wp {

inline uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail(Errc::BadArchive, what + ": size or offset out of range (corrupt archive)");
  return r;
}

inline uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail(Errc::BadArchive, what + ": size or offset out of range (corrupt archive)");
  return r;
}

}  // namespace wp
