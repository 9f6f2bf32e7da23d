// XPRESS (Huffman variant) constants and the small helpers its encoder and
// decoder share (wim-codecs.md §4).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace wp::xpress {

constexpr unsigned kNumSymbols = 512;     // 0..255 literals, 256..511 match headers (§4.1)
constexpr unsigned kMaxCodewordLen = 15;  // lengths are 4-bit fields (§4.3)
constexpr unsigned kTableBytes = kNumSymbols / 2;
constexpr unsigned kEndOfData = 256;       // written after the data (§4.6)
constexpr unsigned kMinMatch = 3;
constexpr unsigned kMaxAdj = 65535;        // u16 length form (§4.5)
constexpr unsigned kMaxMatch = kMaxAdj + kMinMatch;
constexpr unsigned kMaxOffset = 65535;
constexpr uint32_t kMinChunk = 4096;
constexpr uint32_t kMaxChunk = 65536;

// The smallest possible chunk: the table plus the two reserved words (§4.9).
constexpr size_t kMinCompressedSize = kTableBytes + 4;

// Native-width unaligned loads; the bitstream is little-endian words (§1).
inline uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  if constexpr (std::endian::native == std::endian::big) v = uint16_t((v >> 8) | (v << 8));
  return v;
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}
inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}
inline void store16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}

// floor(log2(x)) for x >= 1: the offset's bit count k (§4.5).
inline unsigned bsr32(uint32_t x) { return 31u - unsigned(std::countl_zero(x)); }

}  // namespace wp::xpress
