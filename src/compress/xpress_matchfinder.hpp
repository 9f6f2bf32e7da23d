// Match finders for the XPRESS compressor (wim-codecs.md §4.10): hash chains
// for the greedy and lazy parsers, binary trees for the near-optimal parser.
//
// Both work on one chunk at a time (chunks are independent, §2.1), so a
// position fits in 16 bits. Tables hold 16-bit positions and are reset to
// kNil per chunk; a candidate is valid only if it lies before the current
// position, which kNil (65535, the last possible position) never does. The
// hash tables are sized from the chunk, so small chunks reset small tables.
//
// The input must be followed by at least 8 readable padding bytes: the
// comparisons load whole words and clamp the result to max_len.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "compress/xpress_common.hpp"

namespace wp::xpress {

constexpr uint16_t kNil = 0xFFFF;

inline uint32_t hash_seq(uint32_t seq, unsigned bits) { return (seq * 0x1E35A7BDu) >> (32 - bits); }

// Length of the common prefix of a and b, known to be at least `len`,
// clamped to max_len.
inline unsigned extend_match(const uint8_t* a, const uint8_t* b, unsigned len, unsigned max_len) {
  while (len < max_len) {
    uint64_t x = load64(a + len) ^ load64(b + len);
    if (x) {
      len += unsigned(std::countr_zero(x)) >> 3;
      return std::min(len, max_len);
    }
    len += 8;
  }
  return max_len;
}

// Hash bits for a chunk of n bytes: about two heads per position, at most 2^16.
inline unsigned hash_bits_for(size_t n) {
  unsigned b = unsigned(std::bit_width(n > 1 ? n - 1 : 1)) + 1;
  return std::clamp(b, 10u, 16u);
}

// Hash chains: a 3-byte hash table holding the latest position per bucket and
// a 4-byte hash table heading chains through next_ (§4.10 table, levels < 60).
class HashChains {
public:
  explicit HashChains(uint32_t max_chunk)
      : hash3_(size_t(1) << 16), hash4_(size_t(1) << 16), next_(std::max<uint32_t>(max_chunk, 1)) {}

  // `in` is the chunk (with its padding); hashing starts at position 0.
  void begin_chunk(const uint8_t* in, size_t n) {
    bits4_ = hash_bits_for(n);
    bits3_ = bits4_ - 1;
    std::fill_n(hash3_.data(), size_t(1) << bits3_, kNil);
    std::fill_n(hash4_.data(), size_t(1) << bits4_, kNil);
    set_next_hashes(load32(in));
  }

  // Inserts position `pos` and returns the length of the longest match there
  // if it is longer than best_len (offset in *offset), else best_len.
  // Positions must be inserted in order, each once (this or skip()).
  // max_len >= kMinMatch.
  inline unsigned longest_match(const uint8_t* in, uint32_t pos, unsigned best_len, unsigned max_len,
                                unsigned nice_len, unsigned depth, uint32_t* offset) {
    const uint8_t* p = in + pos;
    uint32_t cand3 = hash3_[h3_];
    uint32_t cur = hash4_[h4_];
    hash3_[h3_] = uint16_t(pos);
    hash4_[h4_] = uint16_t(pos);
    next_[pos] = uint16_t(cur);
    set_next_hashes(load32(p + 1));
    const uint32_t seq = load32(p);
    uint32_t best_off = 0;
    nice_len = std::min(nice_len, max_len);

    if (best_len < 4) {
      if (best_len < kMinMatch && cand3 < pos && ((load32(in + cand3) ^ seq) & 0xFFFFFF) == 0) {
        best_len = kMinMatch;
        best_off = pos - cand3;
      }
      // Even a nice length-3 hit goes on to the chain: a 4-byte match is
      // extended in full, so the first one found may be much longer.
      if (max_len < 4) goto out;
      for (;; depth--, cur = next_[cur]) {
        if (cur >= pos || depth == 0) goto out;
        if (load32(in + cur) == seq) break;
      }
      best_len = extend_match(p, in + cur, 4, max_len);
      best_off = pos - cur;
      if (best_len >= nice_len) goto out;
      depth--;
      cur = next_[cur];
    }
    {
      // A candidate must beat best_len: check its last bytes first.
      uint32_t tail = load32(p + best_len - 3);
      for (; depth && cur < pos; depth--, cur = next_[cur]) {
        const uint8_t* m = in + cur;
        if (load32(m + best_len - 3) != tail || load32(m) != seq) continue;
        unsigned len = extend_match(p, m, 4, max_len);
        if (len > best_len) {
          best_len = len;
          best_off = pos - cur;
          if (len >= nice_len) break;
          tail = load32(p + best_len - 3);
        }
      }
    }
  out:
    if (best_off) *offset = best_off;
    return best_len;
  }

  // Inserts positions [from, to) without searching.
  inline void skip(const uint8_t* in, uint32_t from, uint32_t to) {
    for (uint32_t pos = from; pos < to; pos++) {
      hash3_[h3_] = uint16_t(pos);
      next_[pos] = hash4_[h4_];
      hash4_[h4_] = uint16_t(pos);
      set_next_hashes(load32(in + pos + 1));
    }
  }

private:
  // The hashes of the next position to insert, computed one position early
  // so that their buckets can be fetched while this position is searched.
  inline void set_next_hashes(uint32_t seq) {
    h3_ = hash_seq(seq << 8, bits3_);
    h4_ = hash_seq(seq, bits4_);
    __builtin_prefetch(&hash3_[h3_]);
    __builtin_prefetch(&hash4_[h4_]);
  }

  unsigned bits3_ = 15, bits4_ = 16;
  uint32_t h3_ = 0, h4_ = 0;
  std::vector<uint16_t> hash3_, hash4_, next_;
};

struct Match {
  uint32_t len;
  uint32_t offset;
};

// Binary trees: for each 4-byte hash bucket, a binary search tree of earlier
// positions ordered by their suffixes, plus a 2-way 3-byte hash table for
// length-3 matches (§4.10 table, levels >= 60).
class BinaryTrees {
public:
  explicit BinaryTrees(uint32_t max_chunk)
      : hash3_(size_t(2) << 16), hash4_(size_t(1) << 16), child_(2 * size_t(std::max<uint32_t>(max_chunk, 1))) {}

  void begin_chunk(size_t n) {
    bits4_ = hash_bits_for(n);
    bits3_ = bits4_ - 1;
    std::fill_n(hash3_.data(), size_t(2) << bits3_, kNil);
    std::fill_n(hash4_.data(), size_t(1) << bits4_, kNil);
  }

  // Inserts `pos` and, if `record`, writes the matches found there to `out`
  // with strictly increasing lengths; returns their number. max_len >= 1.
  template <bool record>
  inline unsigned advance(const uint8_t* in, uint32_t pos, unsigned max_len, unsigned nice_len, unsigned depth,
                          Match* out) {
    unsigned n = 0;
    if (max_len < 4) {
      // Too close to the end for the trees; positions here are never needed
      // as candidates by later positions of any useful length.
      return n;
    }
    const uint8_t* p = in + pos;
    uint32_t seq = load32(p);
    uint32_t h3 = hash_seq(seq << 8, bits3_), h4 = hash_seq(seq, bits4_);
    uint16_t* h3e = &hash3_[2 * size_t(h3)];
    uint32_t c3a = h3e[0], c3b = h3e[1];
    h3e[1] = uint16_t(c3a);
    h3e[0] = uint16_t(pos);
    uint32_t cur = hash4_[h4];
    hash4_[h4] = uint16_t(pos);

    unsigned best_len = kMinMatch - 1;
    if constexpr (record) {
      if (c3a < pos && ((load32(in + c3a) ^ seq) & 0xFFFFFF) == 0) {
        out[n++] = {kMinMatch, pos - c3a};
        best_len = kMinMatch;
      } else if (c3b < pos && ((load32(in + c3b) ^ seq) & 0xFFFFFF) == 0) {
        out[n++] = {kMinMatch, pos - c3b};
        best_len = kMinMatch;
      }
    }

    uint16_t* pending_lt = &child_[2 * size_t(pos)];
    uint16_t* pending_gt = pending_lt + 1;
    nice_len = std::min(nice_len, max_len);
    unsigned lt_len = 0, gt_len = 0, len = 0;
    for (;;) {
      if (cur >= pos || depth-- == 0) {
        *pending_lt = kNil;
        *pending_gt = kNil;
        return n;
      }
      const uint8_t* m = in + cur;
      uint16_t* kids = &child_[2 * size_t(cur)];
      if (m[len] == p[len]) {
        len = extend_match(p, m, len + 1, max_len);
        if constexpr (record) {
          if (len > best_len) {
            best_len = len;
            out[n++] = {len, pos - cur};
          }
        }
        if (len >= nice_len) {
          // The new node replaces `cur` in the tree.
          *pending_lt = kids[0];
          *pending_gt = kids[1];
          return n;
        }
      }
      if (m[len] < p[len]) {
        *pending_lt = uint16_t(cur);
        pending_lt = &kids[1];
        cur = kids[1];
        lt_len = len;
      } else {
        *pending_gt = uint16_t(cur);
        pending_gt = &kids[0];
        cur = kids[0];
        gt_len = len;
      }
      len = std::min(lt_len, gt_len);
    }
  }

private:
  unsigned bits3_ = 15, bits4_ = 16;
  std::vector<uint16_t> hash3_, hash4_;
  std::vector<uint16_t> child_;  // [2*pos] = left (smaller suffixes), [2*pos+1] = right
};

}  // namespace wp::xpress
