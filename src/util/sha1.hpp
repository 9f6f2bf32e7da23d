// SHA-1 digests (wim-format.md §0: always of the uncompressed bytes).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "util/bytes.hpp"

struct evp_md_ctx_st;

namespace wp {

struct Sha1 {
  std::array<uint8_t, 20> bytes{};
  bool is_zero() const {
    for (uint8_t b : bytes)
      if (b) return false;
    return true;
  }
  std::string hex() const;
  static Sha1 from_bytes(const uint8_t* p) {
    Sha1 h;
    std::copy(p, p + 20, h.bytes.begin());
    return h;
  }
  auto operator<=>(const Sha1&) const = default;
};

struct Sha1Hash {
  size_t operator()(const Sha1& h) const noexcept {
    size_t v;
    std::memcpy(&v, h.bytes.data(), sizeof v);  // SHA-1 output is uniformly distributed
    return v;
  }
};

// Incremental hasher (OpenSSL EVP). Reusable after final().
class Sha1Hasher {
public:
  Sha1Hasher();
  ~Sha1Hasher();
  Sha1Hasher(const Sha1Hasher&) = delete;
  Sha1Hasher& operator=(const Sha1Hasher&) = delete;
  void update(ByteSpan data);
  Sha1 final();  // also resets for the next message

private:
  evp_md_ctx_st* ctx_;
};

Sha1 sha1_of(ByteSpan data);

}  // namespace wp
