// LZX (WIM variant) constants shared by the encoder and the decoder:
// alphabets, position slots, the window rule and the E8 call filter
// (wim-codecs.md §5.2, §5.6, §5.9).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace wp::lzx {

constexpr uint32_t kMinMatch = 2;
constexpr uint32_t kMaxMatch = 257;
constexpr uint32_t kNumLenHeaders = 8;      // low 3 bits of a match main symbol
constexpr uint32_t kNumPrimaryLens = 7;     // headers 0..6 are lengths 2..8 outright
constexpr uint32_t kLenSymbols = 249;       // length = 9 + symbol
constexpr uint32_t kAlignedSymbols = 8;
constexpr uint32_t kPretreeSymbols = 20;
constexpr uint32_t kMaxSlots = 50;          // 2 MiB window
constexpr uint32_t kMaxMainSymbols = 256 + 8 * kMaxSlots;
constexpr uint32_t kMainMaxLen = 16;
constexpr uint32_t kLenMaxLen = 16;
constexpr uint32_t kAlignedMaxLen = 7;
constexpr uint32_t kPretreeMaxLen = 15;
constexpr uint32_t kMinWindow = 32768;
constexpr uint32_t kMaxWindow = 2u << 20;
constexpr uint32_t kE8Size = 12000000;      // §5.2: the WIM translation size

enum BlockType : uint32_t { kVerbatim = 1, kAligned = 2, kUncompressed = 3 };

// §5.6: footer bits 0,0,0,0,1,1,2,2,...,16,16 for slots 0..35, then 17.
constexpr uint8_t footer_bits_of(uint32_t slot) {
  if (slot < 4) return 0;
  if (slot >= 36) return 17;
  return uint8_t(slot / 2 - 1);
}

struct SlotTables {
  std::array<uint8_t, kMaxSlots> footer{};
  std::array<uint32_t, kMaxSlots + 1> base{};  // formatted-offset base; base[50] = 2 MiB
};

constexpr SlotTables make_slot_tables() {
  SlotTables t;
  uint32_t b = 0;
  for (uint32_t s = 0; s < kMaxSlots; s++) {
    t.footer[s] = footer_bits_of(s);
    t.base[s] = b;
    b += 1u << t.footer[s];
  }
  t.base[kMaxSlots] = b;
  return t;
}
inline constexpr SlotTables kSlots = make_slot_tables();
static_assert(kSlots.base[30] == 32768 && kSlots.base[36] == 262144 && kSlots.base[50] == (2u << 20));

// W = max(chunk size, 32 KiB) rounded up to a power of two (§2.4); 0 if the
// chunk size is beyond 2 MiB.
constexpr uint32_t window_for(uint32_t max_chunk_size) {
  uint32_t w = kMinWindow;
  while (w < max_chunk_size && w < kMaxWindow) w <<= 1;
  return w >= max_chunk_size ? w : 0;
}

// The smallest slot count whose slots cover formatted offsets up to W - 1.
constexpr uint32_t slots_for(uint32_t window) {
  uint32_t n = 0;
  while (kSlots.base[n] < window) n++;
  return n;
}
static_assert(slots_for(32768) == 30 && slots_for(65536) == 32 && slots_for(1u << 20) == 42 &&
              slots_for(2u << 20) == 50);

// Slot of a formatted offset (offset + 2), for formatted >= 3... any value
// below 2 MiB. Uses the doubling structure of the table below 262144.
inline uint32_t slot_of(uint32_t formatted) {
  if (formatted >= 262144) return 36 + ((formatted - 262144) >> 17);
  if (formatted < 4) return formatted;
  // For slots 4..35 the slot pair (2k, 2k+1) covers [2^k, 2^(k+1)).
  uint32_t k = 31 - uint32_t(__builtin_clz(formatted));
  return 2 * k + ((formatted >> (k - 1)) & 1);
}

// §5.9. Both directions visit the same E8 positions; only operand bytes change.
void e8_encode(uint8_t* data, size_t n);
void e8_decode(uint8_t* data, size_t n);

}  // namespace wp::lzx
