#include "compress/lzms_common.hpp"

#include <algorithm>
#include <cstring>

#include "util/endian.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wp::lzms {

// wim-codecs.md §3.3, steps 1 to 6.
void make_huffman_lengths(const uint32_t* freq, unsigned n, uint8_t* lens, HuffmanScratch& s) {
  std::memset(lens, 0, n);
  if (n < 2) return;  // no prefix code over fewer than two symbols

  // Step 1: used symbols sorted by (frequency, symbol). A counting sort on
  // the frequency handles the many small frequencies; the few frequencies of
  // at least n - 1 share the last bucket, which is then sorted by key.
  // Placing symbols in increasing order keeps each bucket sorted by symbol.
  uint32_t bucket_start[kMaxOffsetSyms + 1];
  const unsigned last = n - 1;
  std::memset(bucket_start, 0, sizeof(uint32_t) * (n + 1));
  for (unsigned sym = 0; sym < n; sym++) bucket_start[std::min(freq[sym], uint32_t(last)) + 1]++;
  for (unsigned b = 1; b <= n; b++) bucket_start[b] += bucket_start[b - 1];
  const unsigned unused = bucket_start[1];
  const unsigned last_begin = bucket_start[last];
  for (unsigned sym = 0; sym < n; sym++) {
    uint32_t f = freq[sym];
    s.sort_tmp[bucket_start[std::min(f, uint32_t(last))]++] = (f << 10) | sym;
  }
  std::sort(s.sort_tmp + last_begin, s.sort_tmp + n);
  const uint32_t* leaf = s.sort_tmp + unused;  // the used symbols, U
  const unsigned m = n - unused;

  // Step 2.
  if (m == 0) return;
  if (m == 1) {
    unsigned used = leaf[0] & 1023;
    lens[0] = 1;
    lens[used != 0 ? used : 1] = 1;
    return;
  }

  // Step 3: two FIFO queues, leaves (in U order) and internal nodes (in
  // creation order). Ties favour leaves.
  uint32_t* node_weight = s.node_weight;
  uint16_t* parent = s.parent;
  unsigned li = 0, ni = 0, nc = 0;
  auto leaf_weight = [&](unsigned i) { return leaf[i] >> 10; };
  for (unsigned k = 0; k + 1 < m; k++) {
    uint32_t w;
    if (m - li >= 2 && (ni == nc || leaf_weight(li + 1) <= node_weight[ni])) {
      w = leaf_weight(li) + leaf_weight(li + 1);
      li += 2;
    } else if (nc - ni >= 2 && (li == m || node_weight[ni + 1] < leaf_weight(li))) {
      w = node_weight[ni] + node_weight[ni + 1];
      parent[ni] = uint16_t(nc);
      parent[ni + 1] = uint16_t(nc);
      ni += 2;
    } else {
      w = leaf_weight(li) + node_weight[ni];
      parent[ni] = uint16_t(nc);
      li++;
      ni++;
    }
    node_weight[nc++] = w;
  }

  // Steps 4 and 5: depths of the internal nodes, and leaf counts per length
  // with the length limit, both in reverse creation order.
  unsigned cnt[kMaxCodewordLen + 2] = {};
  cnt[1] = 2;
  uint8_t* depth = s.depth;
  depth[m - 2] = 0;
  for (int i = int(m) - 3; i >= 0; i--) {
    unsigned d = depth[parent[i]] + 1u;
    depth[i] = uint8_t(std::min(d, 255u));
    unsigned l = d;
    if (l >= kMaxCodewordLen) {
      l = kMaxCodewordLen - 1;
      while (cnt[l] == 0) l--;
    }
    cnt[l]--;
    cnt[l + 1] += 2;
  }

  // Step 6: the least frequent symbols get the longest codewords.
  unsigned idx = 0;
  for (unsigned l = kMaxCodewordLen; l >= 1; l--)
    for (unsigned c = cnt[l]; c > 0; c--) lens[leaf[idx++] & 1023] = uint8_t(l);
}

// §6.10. Opcode classes for the scan.
namespace {
enum : uint8_t { kNone, kFF, kF0, kRexW, kE8, kE9 };

constexpr std::array<uint8_t, 256> make_opcode_classes() {
  std::array<uint8_t, 256> t{};
  t[0xFF] = kFF;
  t[0xF0] = kF0;
  t[0x48] = kRexW;
  t[0x4C] = kRexW;
  t[0xE8] = kE8;
  t[0xE9] = kE9;
  return t;
}
constexpr std::array<uint8_t, 256> kOpcodeClass = make_opcode_classes();

// The first position in [i, end) holding one of the six candidate bytes, or end.
inline size_t next_candidate(const uint8_t* data, size_t i, size_t end) {
#if defined(__SSE2__)
  const __m128i v48 = _mm_set1_epi8(0x48), v4c = _mm_set1_epi8(0x4C), ve8 = _mm_set1_epi8(char(0xE8)),
                ve9 = _mm_set1_epi8(char(0xE9)), vf0 = _mm_set1_epi8(char(0xF0)), vff = _mm_set1_epi8(char(0xFF));
  while (i + 16 <= end) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, v48), _mm_cmpeq_epi8(x, v4c)),
                     _mm_or_si128(_mm_cmpeq_epi8(x, ve8), _mm_cmpeq_epi8(x, ve9))),
        _mm_or_si128(_mm_cmpeq_epi8(x, vf0), _mm_cmpeq_epi8(x, vff)));
    unsigned mask = unsigned(_mm_movemask_epi8(hit));
    if (mask != 0) return i + unsigned(__builtin_ctz(mask));
    i += 16;
  }
#endif
  while (i < end && kOpcodeClass[data[i]] == kNone) i++;
  return i;
}
}  // namespace

X86Filter::X86Filter() : last_use_(new uint32_t[65536]()), bias_(65536) {}

void X86Filter::apply(uint8_t* data, size_t n, bool encoding) {
  if (n <= 17) return;
  // Stored positions are bias_ + e. Entries from earlier chunks lie at least
  // 65536 below the current bias, so they never count as a recent use: the
  // table behaves as if reset to -65536 (§6.10) without clearing it.
  if (uint64_t(bias_) + n + 65536 > UINT32_MAX) {
    std::memset(last_use_.get(), 0, 65536 * sizeof(uint32_t));
    bias_ = 65536;
  }
  uint32_t* last_use = last_use_.get();
  const uint32_t bias = bias_;
  int64_t last_x86 = -1024;
  const size_t end = n - 16;  // candidates at 1 .. n-17
  size_t i = 1;
  for (;;) {
    i = next_candidate(data, i, end);
    if (i >= end) break;
    const uint8_t b = data[i];
    unsigned oplen;
    int64_t limit = 1023;
    switch (kOpcodeClass[b]) {
      case kFF:
        if (data[i + 1] != 0x15) {
          i++;
          continue;
        }
        oplen = 2;
        break;
      case kF0:
        if (data[i + 1] != 0x83 || data[i + 2] != 0x05) {
          i++;
          continue;
        }
        oplen = 3;
        break;
      case kRexW: {
        const uint8_t op = data[i + 1], modrm = data[i + 2];
        if ((modrm & 7) == 5 && (op == 0x8D || (op == 0x8B && b == 0x48 && (modrm & 0xF0) == 0))) {
          oplen = 3;
          break;
        }
        i++;
        continue;
      }
      case kE8:
        oplen = 1;
        limit = 511;
        break;
      default:  // kE9: jmp rel32 is skipped, never translated
        i += 5;
        continue;
    }
    uint8_t* p = data + i + oplen;
    const bool translate = int64_t(i) - last_x86 <= limit;
    uint32_t target;
    if (encoding) {
      target = uint32_t(i + load_le16(p)) & 0xFFFF;
      if (translate) store_le32(p, load_le32(p) + uint32_t(i));
    } else {
      if (translate) store_le32(p, load_le32(p) - uint32_t(i));
      target = uint32_t(i + load_le16(p)) & 0xFFFF;
    }
    const size_t e = i + oplen + 3;  // last byte of the operand
    const uint32_t biased = bias + uint32_t(e);
    if (biased - last_use[target] <= 65535) last_x86 = int64_t(e);
    last_use[target] = biased;
    i = e + 1;
  }
  bias_ = bias + uint32_t(n) + 65536;
}

}  // namespace wp::lzms
