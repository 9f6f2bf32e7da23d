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
  while (p < limit) {
    p = static_cast<uint8_t*>(std::memchr(p, 0xE8, size_t(limit - p)));
    if (!p) return;
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
