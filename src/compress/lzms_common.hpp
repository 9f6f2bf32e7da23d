// LZMS pieces shared by the decoder and the encoder (wim-codecs.md §6): the
// slot tables, the adaptive probability entries, the Huffman construction
// that both sides must run identically, and the x86 filter.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace wp::lzms {

// §6.1, §6.5
inline constexpr unsigned kMaxCodewordLen = 15;
inline constexpr unsigned kNumLiteralSyms = 256;
inline constexpr unsigned kNumLengthSyms = 54;
inline constexpr unsigned kMaxOffsetSyms = 799;
inline constexpr unsigned kNumPowerSyms = 8;

inline constexpr unsigned kLiteralRebuild = 1024;
inline constexpr unsigned kLzOffsetRebuild = 1024;
inline constexpr unsigned kLengthRebuild = 512;
inline constexpr unsigned kDeltaOffsetRebuild = 1024;
inline constexpr unsigned kPowerRebuild = 512;

// §6.6: slot tables built from runs of (count, extra bits).
struct SlotRun {
  unsigned count, extra;
};

inline constexpr SlotRun kOffsetRuns[] = {
    {8, 0},   {9, 2},   {7, 3},   {10, 4},  {15, 5},  {15, 6},  {20, 7},
    {20, 8},  {30, 9},  {33, 10}, {40, 11}, {42, 12}, {45, 13}, {60, 14},
    {73, 15}, {80, 16}, {85, 17}, {95, 18}, {105, 19}, {6, 20}, {1, 30},
};
inline constexpr SlotRun kLengthRuns[] = {
    {26, 0}, {4, 1}, {6, 2}, {4, 3}, {5, 4}, {2, 5}, {1, 6},
    {1, 7},  {1, 8}, {1, 9}, {1, 10}, {1, 16}, {1, 30},
};

template <unsigned N>
struct SlotTable {
  std::array<uint32_t, N + 1> base{};  // base[N] is one past the last value
  std::array<uint8_t, N> extra{};
};

template <unsigned N, size_t R>
constexpr SlotTable<N> make_slot_table(const SlotRun (&runs)[R]) {
  SlotTable<N> t;
  unsigned slot = 0;
  uint64_t base = 1;
  for (const SlotRun& run : runs) {
    for (unsigned i = 0; i < run.count; i++, slot++) {
      t.base[slot] = uint32_t(base);
      t.extra[slot] = uint8_t(run.extra);
      base += uint64_t(1) << run.extra;
    }
  }
  t.base[N] = uint32_t(base);
  return t;
}

inline constexpr SlotTable<kMaxOffsetSyms> kOffsetSlots = make_slot_table<kMaxOffsetSyms>(kOffsetRuns);
inline constexpr SlotTable<kNumLengthSyms> kLengthSlots = make_slot_table<kNumLengthSyms>(kLengthRuns);

static_assert(kOffsetSlots.base[13] == 29 && kOffsetSlots.base[17] == 45);
static_assert(kOffsetSlots.base[167] == 58533 && kOffsetSlots.base[798] == 106685605);
static_assert(kOffsetSlots.base[799] == 1180427429u);
static_assert(kLengthSlots.base[53] == 67755 && kLengthSlots.base[54] == 1073809579u);

// The slot whose range holds `value` (value >= 1).
template <unsigned N>
constexpr unsigned slot_of(const SlotTable<N>& t, uint32_t value) {
  unsigned lo = 0, hi = N - 1;  // invariant: base[lo] <= value
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) / 2;
    if (t.base[mid] <= value)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// §6.5: N_off = 1 + slot(usize - 1), or 0 for usize < 2.
constexpr unsigned num_offset_syms(uint64_t usize) {
  if (usize < 2) return 0;
  uint64_t v = usize - 1;
  if (v >= kOffsetSlots.base[kMaxOffsetSyms - 1]) return kMaxOffsetSyms;
  return 1 + slot_of(kOffsetSlots, uint32_t(v));
}
static_assert(num_offset_syms(900) == 52 && num_offset_syms(32768) == 142);
static_assert(num_offset_syms(131072) == 203 && num_offset_syms(64u << 20) == 729);
static_assert(num_offset_syms(1u << 30) == 799);

// §6.4: an adaptive probability entry: the last 64 bits coded with it (newest
// in bit 0) and how many of them are zeros.
struct ProbEntry {
  uint64_t history = 0x0000000055555555ull;
  uint32_t zeros = 48;

  // Probability of a 0 bit in 64ths.
  uint32_t prob() const { return zeros + (zeros == 0) - (zeros == 64); }
  void update(uint32_t bit) {
    zeros += uint32_t(history >> 63) - bit;
    history = (history << 1) | bit;
  }
};

// Decision contexts (§6.4): entry counts are 2^k.
inline constexpr unsigned kMainStates = 16;
inline constexpr unsigned kMatchStates = 32;
inline constexpr unsigned kLzStates = 64;
inline constexpr unsigned kLzRepStates = 64;
inline constexpr unsigned kDeltaStates = 64;
inline constexpr unsigned kDeltaRepStates = 64;

// §3.3: scratch space for the Huffman construction, sized for the largest
// alphabet.
struct HuffmanScratch {
  uint32_t sort_tmp[kMaxOffsetSyms];
  uint32_t leaf_weight[kMaxOffsetSyms + 1];
  uint32_t node_weight[kMaxOffsetSyms];
  uint16_t parent[kMaxOffsetSyms];
  uint8_t depth[kMaxOffsetSyms];
};

// §3.3: codeword lengths (limit 15) from symbol frequencies, exactly as
// wimlib builds them; the decoder must reproduce the encoder bit for bit.
// Frequencies must be below 2^22. n must be at least 2 when one symbol is
// used. lens[0..n-1] receives the lengths.
void make_huffman_lengths(const uint32_t* freq, unsigned n, uint8_t* lens, HuffmanScratch& s);

// §6.10: the x86 machine-code filter, applied in place to a whole chunk.
// Holds the 64K-entry "last use" table, reused across chunks without
// clearing it (positions are stored with a per-chunk bias).
class X86Filter {
public:
  X86Filter();
  void apply(uint8_t* data, size_t n, bool encoding);

private:
  std::unique_ptr<uint32_t[]> last_use_;
  uint32_t bias_ = 0;
};

}  // namespace wp::lzms
