// The LZX E8 call translation (wim-codecs.md §5.9), applied per chunk with
// positions relative to the chunk start and the WIM translation size.
#include <cstring>

#include "compress/lzx_common.hpp"
#include "util/endian.hpp"

namespace wp::lzx {

namespace {

template <bool Encode>
void e8_translate(uint8_t* data, size_t n) {
  if (n <= 10) return;
  const uint8_t* const limit = data + n - 10;  // an E8 at n-10 or later is never translated
  uint8_t* p = data;
  const int32_t m = int32_t(kE8Size);
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  while (p < limit) {
    // Find the next E8 eight bytes at a time: the lowest flagged byte of
    // (v - 1...) & ~v & 0x80... is exactly the first zero byte of v.
    if (limit - p >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      v ^= 0xE8 * kOnes;
      const uint64_t t = (v - kOnes) & ~v & kHighs;
      if (t == 0) {
        p += 8;
        continue;
      }
      p += __builtin_ctzll(t) >> 3;
    } else if (*p != 0xE8) {
      p++;
      continue;
    }
    const int32_t i = int32_t(p - data);
    const int32_t v = int32_t(load_le32(p + 1));
    if constexpr (Encode) {
      if (v >= -i && v < m) store_le32(p + 1, uint32_t(v < m - i ? v + i : v - m));
    } else {
      if (v >= 0 && v < m)
        store_le32(p + 1, uint32_t(v - i));
      else if (v < 0 && v >= -i)
        store_le32(p + 1, uint32_t(v + m));
    }
    p += 5;  // skip the operand, translated or not
  }
}

}  // namespace

void e8_encode(uint8_t* data, size_t n) { e8_translate<true>(data, n); }
void e8_decode(uint8_t* data, size_t n) { e8_translate<false>(data, n); }

}  // namespace wp::lzx
