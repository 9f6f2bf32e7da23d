// Binary-tree match finder for the LZX encoder: one tree per 4-byte hash
// bucket, ordered by the suffix that starts at each position, plus a
// single-entry 3-byte hash table for length-3 matches and a small 2-byte
// one for length-2 matches. Positions are chunk-relative; the
// caller resets it at every chunk (chunks are independent, §2.1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace wp::lzx {

struct LzMatch {
  uint32_t len;
  uint32_t offset;
};

// Length of the common prefix of a and b, starting from `start`, capped at max.
inline uint32_t extend_match(const uint8_t* a, const uint8_t* b, uint32_t start, uint32_t max) {
  uint32_t len = start;
  while (len + 8 <= max) {
    uint64_t x, y;
    std::memcpy(&x, a + len, 8);
    std::memcpy(&y, b + len, 8);
    if (x != y) return len + uint32_t(__builtin_ctzll(x ^ y) >> 3);
    len += 8;
  }
  while (len < max && a[len] == b[len]) len++;
  return len;
}

class BtMatchFinder {
public:
  static constexpr uint32_t kHashBits = 16;
  static constexpr uint32_t kHash3Bits = 15;
  static constexpr uint32_t kHash2Bits = 12;  // small enough to stay in L1/L2
  static constexpr int32_t kNil = -1;

  explicit BtMatchFinder(uint32_t window)
      : heads_(size_t(1) << kHashBits),
        heads3_(size_t(1) << kHash3Bits),
        heads2_(size_t(1) << kHash2Bits),
        child_(2 * size_t(window)) {}

  void reset() {
    std::fill(heads_.begin(), heads_.end(), kNil);
    std::fill(heads3_.begin(), heads3_.end(), kNil);
    std::fill(heads2_.begin(), heads2_.end(), kNil);
  }

  // Inserts position `cur` and, when Record, stores matches of strictly
  // increasing length (2 .. max_len) into `out`, returning their count.
  // Offsets are at most max_offset. Needs cur + 3 <= end of data when
  // max_len >= 3 (the caller passes max_len = bytes remaining, capped).
  template <bool Record>
  uint32_t advance(const uint8_t* base, int32_t cur, uint32_t max_len, uint32_t nice_len, uint32_t depth,
                   uint32_t max_offset, LzMatch* out) {
    const uint8_t* in = base + cur;
    const int32_t cutoff = cur - int32_t(max_offset);
    uint32_t n = 0;
    uint32_t best = 1;
    if (max_len < 2) return 0;
    const uint32_t h2 = ((uint32_t(in[0]) | (uint32_t(in[1]) << 8)) * 0x9E37u) >> (16 - kHash2Bits) &
                        ((1u << kHash2Bits) - 1);
    const int32_t p2 = heads2_[h2];
    heads2_[h2] = cur;
    if (Record && p2 != kNil && p2 >= cutoff && base[p2] == in[0] && base[p2 + 1] == in[1]) {
      out[n++] = {2, uint32_t(cur - p2)};
      best = 2;
    }
    if (max_len < 3) return n;
    const uint32_t h3 = hash3(in);
    const int32_t p3 = heads3_[h3];
    heads3_[h3] = cur;
    if (Record && p3 != kNil && p3 >= cutoff && base[p3] == in[0] && base[p3 + 1] == in[1] &&
        base[p3 + 2] == in[2]) {
      if (best == 2 && out[n - 1].offset >= uint32_t(cur - p3)) n--;  // same or longer reach, shorter offset
      out[n++] = {3, uint32_t(cur - p3)};
      best = 3;
    }
    if (max_len < 4) return n;
    nice_len = std::min(nice_len, max_len);
    const uint32_t h = hash4(in);
    int32_t node = heads_[h];
    heads_[h] = cur;
    int32_t* pending_lt = &child_[2 * size_t(cur)];
    int32_t* pending_gt = &child_[2 * size_t(cur) + 1];
    if (node == kNil || node < cutoff) {
      *pending_lt = *pending_gt = kNil;
      return n;
    }
    uint32_t best_lt = 0, best_gt = 0, len = 0;
    for (;;) {
      const uint8_t* m = base + node;
      if (m[len] == in[len]) {
        // Extend to the full length; the walk stops at nice_len, but the
        // match reported is as long as it really is.
        len = extend_match(in, m, len + 1, max_len);
        if (Record && len > best) {
          best = len;
          out[n++] = {len, uint32_t(cur - node)};
        }
        if (len >= nice_len) {
          *pending_lt = child_[2 * size_t(node)];
          *pending_gt = child_[2 * size_t(node) + 1];
          return n;
        }
      }
      if (m[len] < in[len]) {
        *pending_lt = node;
        pending_lt = &child_[2 * size_t(node) + 1];
        node = *pending_lt;
        best_lt = len;
        if (best_gt < len) len = best_gt;
      } else {
        *pending_gt = node;
        pending_gt = &child_[2 * size_t(node)];
        node = *pending_gt;
        best_gt = len;
        if (best_lt < len) len = best_lt;
      }
      if (node == kNil || node < cutoff || --depth == 0) {
        *pending_lt = *pending_gt = kNil;
        return n;
      }
    }
  }

private:
  static uint32_t hash3(const uint8_t* p) {
    uint32_t v = uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16);
    return (v * 0x1E35A7BDu) >> (32 - kHash3Bits);
  }
  static uint32_t hash4(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return (v * 0x1E35A7BDu) >> (32 - kHashBits);
  }

  std::vector<int32_t> heads_;
  std::vector<int32_t> heads3_;
  std::vector<int32_t> heads2_;
  std::vector<int32_t> child_;
};

}  // namespace wp::lzx
