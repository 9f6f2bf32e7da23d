#include "compress/lzms_common.hpp"

#include <algorithm>
#include <cstring>

#include "util/endian.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
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
  // creation order). Each new node takes the lighter queue head twice, ties
  // going to the leaf; that is the same as §3.3's three cases. Exhausted
  // queues read as infinitely heavy, which keeps the loop free of
  // unpredictable branches.
  uint32_t* leaf_weight = s.leaf_weight;
  uint32_t* node_weight = s.node_weight;
  uint16_t* parent = s.parent;
  for (unsigned i = 0; i < m; i++) {
    leaf_weight[i] = leaf[i] >> 10;
    node_weight[i] = UINT32_MAX;
  }
  leaf_weight[m] = UINT32_MAX;
  unsigned li = 0, ni = 0;
  for (unsigned nc = 0; nc + 1 < m; nc++) {
    uint32_t w = 0;
    for (int k = 0; k < 2; k++) {
      const uint32_t lw = leaf_weight[li], iw = node_weight[ni];
      const bool take_leaf = lw <= iw;
      w += take_leaf ? lw : iw;
      // Written also when a leaf is taken: then node ni is taken later (or
      // is the root) and gets its real parent then.
      parent[ni] = uint16_t(nc);
      li += take_leaf;
      ni += !take_leaf;
    }
    node_weight[nc] = w;
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

// §6.10. A position k is a candidate when the bytes at k, k+1, k+2 form one of
// the patterns; E9 (jmp rel32) is a candidate too, only to be skipped.
namespace {

inline bool is_candidate(const uint8_t* d) {
  const uint8_t b = d[0], op = d[1], modrm = d[2];
  switch (b) {
    case 0xE8:
    case 0xE9: return true;
    case 0xFF: return op == 0x15;
    case 0xF0: return op == 0x83 && modrm == 0x05;
    case 0x48:
    case 0x4C: return (modrm & 7) == 5 && (op == 0x8D || (op == 0x8B && b == 0x48 && (modrm & 0xF0) == 0));
    default: return false;
  }
}

// Bit k set: position k of d is a candidate, for k = 0..W-1 (W = 16 with
// SSE2, 32 with AVX2). Reads d[0..W+1]. Candidates never overlap the operands
// the scan modifies before reaching them (an operand ends before the next
// position examined), so a block's mask stays valid while its candidates are
// processed. The test is written once, for a vector type T and its
// operations; each width is a separate function so that no 256-bit vector
// ever crosses a function without AVX enabled (GCC and clang refuse or warn).
#define WP_CANDIDATE_MASK(T, load, set1, eq8, and_, or_, movemask)                                              \
  const T x0 = load(reinterpret_cast<const T*>(d)), x1 = load(reinterpret_cast<const T*>(d + 1));               \
  const T x2 = load(reinterpret_cast<const T*>(d + 2));                                                         \
  const T is48 = eq8(x0, set1(0x48));                                                                           \
  const T rex = and_(or_(is48, eq8(x0, set1(0x4C))), eq8(and_(x2, set1(7)), set1(5)));                          \
  const T rex_op = or_(eq8(x1, set1(char(0x8D))),                                                               \
                       and_(and_(eq8(x1, set1(char(0x8B))), is48), eq8(and_(x2, set1(char(0xF0))), set1(0))));  \
  const T e8_e9 = or_(eq8(x0, set1(char(0xE8))), eq8(x0, set1(char(0xE9))));                                    \
  const T ff15 = and_(eq8(x0, set1(char(0xFF))), eq8(x1, set1(0x15)));                                          \
  const T f08305 = and_(and_(eq8(x0, set1(char(0xF0))), eq8(x1, set1(char(0x83)))), eq8(x2, set1(0x05)));       \
  return uint32_t(movemask(or_(or_(e8_e9, ff15), or_(f08305, and_(rex, rex_op)))))

#if defined(__SSE2__)
inline uint32_t candidate_mask16(const uint8_t* d) {
  WP_CANDIDATE_MASK(__m128i, _mm_loadu_si128, _mm_set1_epi8, _mm_cmpeq_epi8, _mm_and_si128, _mm_or_si128,
                    _mm_movemask_epi8);
}
// AVX2, chosen at run time; inlined into the target("avx2") entry point
// below, which is flattened.
#define WP_LZMS_AVX2 1
[[gnu::target("avx2")]] inline uint32_t candidate_mask32(const uint8_t* d) {
  WP_CANDIDATE_MASK(__m256i, _mm256_loadu_si256, _mm256_set1_epi8, _mm256_cmpeq_epi8, _mm256_and_si256,
                    _mm256_or_si256, _mm256_movemask_epi8);
}
#else
inline uint32_t candidate_mask16(const uint8_t* d) {
  uint32_t mask = 0;
  for (unsigned k = 0; k < 16; k++) mask |= uint32_t(is_candidate(d + k)) << k;
  return mask;
}
#endif
#undef WP_CANDIDATE_MASK

template <bool Encoding, unsigned W, uint32_t (*CandidateMask)(const uint8_t*)>
inline void x86_filter(uint8_t* data, size_t n, uint32_t* last_use, uint32_t bias) {
  int64_t last_x86 = -1024;
  const size_t end = n - 16;  // candidates at 1 .. n-17
  size_t base = 1;            // start of the current W-position block
  while (base < end) {
    uint32_t mask;
    if (base + W + 2 <= n) {
      mask = CandidateMask(data + base);
    } else {
      mask = 0;
      for (size_t k = base; k < end && k < base + W; k++) mask |= uint32_t(is_candidate(data + k)) << (k - base);
    }
    if (base + W > end) mask &= uint32_t((uint64_t(1) << (end - base)) - 1);
    size_t next = base + W;
    while (mask != 0) {
      const size_t i = base + unsigned(__builtin_ctz(mask));
      const uint8_t b = data[i];
      if (b == 0xE9) {
        next = i + 5;
      } else {
        const unsigned oplen = b == 0xE8 ? 1 : b == 0xFF ? 2 : 3;
        const int64_t limit = b == 0xE8 ? 511 : 1023;
        uint8_t* p = data + i + oplen;
        const uint32_t operand = load_le32(p);
        const uint32_t low = operand & 0xFFFF;
        const bool translate = int64_t(i) - last_x86 <= limit;
        const uint32_t plain_target = (uint32_t(i) + low) & 0xFFFF;
        uint32_t target, prev_use;
        if constexpr (Encoding) {
          target = plain_target;
          prev_use = last_use[target];
          if (translate) store_le32(p, operand + uint32_t(i));
        } else {
          // The target comes from the restored operand: i + (low - i) = low
          // when translated. Both entries are loaded before the decision,
          // so that lookups do not wait on each other through last_x86.
          const uint32_t use_plain = last_use[plain_target], use_low = last_use[low];
          target = translate ? low : plain_target;
          prev_use = translate ? use_low : use_plain;
          if (translate) store_le32(p, operand - uint32_t(i));
        }
        const size_t e = i + oplen + 3;  // last byte of the operand
        const uint32_t biased = bias + uint32_t(e);
        last_x86 = biased - prev_use <= 65535 ? int64_t(e) : last_x86;
        last_use[target] = biased;
        next = e + 1;
      }
      if (next >= base + W) break;
      mask &= ~0u << (next - base);
    }
    base = std::max(base + W, next);
  }
}

#if defined(WP_LZMS_AVX2)
template <bool Encoding>
[[gnu::target("avx2"), gnu::flatten]] void x86_filter_avx2(uint8_t* data, size_t n, uint32_t* last_use,
                                                             uint32_t bias) {
  x86_filter<Encoding, 32, candidate_mask32>(data, n, last_use, bias);
}
#endif

template <bool Encoding>
void x86_filter_base(uint8_t* data, size_t n, uint32_t* last_use, uint32_t bias) {
  x86_filter<Encoding, 16, candidate_mask16>(data, n, last_use, bias);
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
  auto* filter = encoding ? x86_filter_base<true> : x86_filter_base<false>;
#if defined(WP_LZMS_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) filter = encoding ? x86_filter_avx2<true> : x86_filter_avx2<false>;
#endif
  filter(data, n, last_use_.get(), bias_);
  bias_ += uint32_t(n) + 65536;
}

}  // namespace wp::lzms
