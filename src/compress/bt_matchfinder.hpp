// Binary-tree match finder over one whole buffer (an LZ77 chunk), for the
// near-optimal parsers. Codec-neutral: the LZMS encoder uses it for large
// chunks; the LZX encoder may move to it later.
//
// Every position is inserted into a binary search tree keyed by the suffix
// that starts there, one tree per hash bucket of its first 4 bytes; the
// root of a bucket is its latest position. Looking a position up and
// inserting it are one walk down from the root: nodes whose suffix is
// smaller than the new one hang to its left, larger ones to its right,
// so the new position becomes the root and the tree stays sorted. Along
// the walk the common prefix with the new suffix only grows towards the
// lexicographic neighbours, so the longest match in the bucket is met on
// the way. Two limits keep the time linear in the chunk: a depth limit
// (nodes visited) and a nice length (a match that long ends the walk, the
// new node taking over the matched node's subtrees). A single-entry table
// of 3-byte hashes adds the latest length-3 candidate.
//
// Memory: 8 bytes per position (two child links) plus 4 bytes per hash
// bucket; e.g. 512 MiB + 1 MiB for a 64 MiB chunk with 2^18 buckets.
// Buffers grow to the largest chunk seen and are reused: no allocation per
// chunk once that size has been seen.
//
// The caller guarantees that 4 bytes can be read at every position it
// passes (padding after the data) and caps lengths at the bytes remaining.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace wp {

struct BtMatch {
  uint32_t len;
  uint32_t offset;  // distance back, >= 1
};

class BtMatchFinder {
public:
  static constexpr uint32_t kNil = UINT32_MAX;
  static constexpr unsigned kHash3Bits = 15;

  // Prepares for a buffer of n positions (n < 2^32 - 1). Hash bits grow
  // with n, from 2^12 to 2^max_hash_bits buckets.
  void reset(size_t n, unsigned max_hash_bits = 20) {
    hash_bits_ = std::clamp(unsigned(std::bit_width(n)), 12u, std::max(12u, max_hash_bits));
    const size_t buckets = size_t(1) << hash_bits_;
    if (heads_.size() < buckets) heads_.resize(buckets);
    std::fill_n(heads_.data(), buckets, kNil);
    if (heads3_.size() < (size_t(1) << kHash3Bits)) heads3_.resize(size_t(1) << kHash3Bits);
    std::fill(heads3_.begin(), heads3_.end(), kNil);
    if (child_.size() < 2 * n) child_.resize(2 * n);
  }

  // Bytes held (for the memory notes).
  size_t memory_bytes() const { return (heads_.capacity() + heads3_.capacity() + child_.capacity()) * 4; }

  // Inserts position `pos` of `data` and, when Record, writes to `out` the
  // matches found: lengths strictly increasing, from 3 up to at most `cap`
  // (the nice length, itself at most the bytes remaining at pos), each with
  // the offset it was first met at. Returns their count (at most cap - 2).
  // A match of length `cap` may continue beyond it; the caller extends it.
  // `depth` >= 1 bounds the tree nodes visited.
  template <bool Record>
  unsigned advance(const uint8_t* data, uint32_t pos, uint32_t cap, unsigned depth, BtMatch* out) {
    const uint8_t* in = data + pos;
    unsigned n = 0;
    uint32_t best = 2;
    if (cap < 3) return 0;
    const uint32_t h3 = hash3(in);
    const uint32_t p3 = heads3_[h3];
    heads3_[h3] = pos;
    if (Record && p3 != kNil && data[p3] == in[0] && data[p3 + 1] == in[1] && data[p3 + 2] == in[2]) {
      best = extend(in, data + p3, 3, cap);
      out[n++] = {best, pos - p3};
    }
    uint32_t* lt_link = &child_[2 * size_t(pos)];  // where the next smaller node hangs
    uint32_t* gt_link = lt_link + 1;                // where the next larger node hangs
    if (cap < 4) {
      // No tree walk for the last bytes: the position becomes no node.
      *lt_link = *gt_link = kNil;
      return n;
    }
    const uint32_t h = hash4(in);
    uint32_t node = heads_[h];
    heads_[h] = pos;
    // Common prefix lengths with the closest smaller and larger suffixes so
    // far: every node further down shares at least their minimum.
    uint32_t lt_len = 0, gt_len = 0;
    while (node != kNil) {
      const uint8_t* m = data + node;
      uint32_t len = std::min(lt_len, gt_len);
      if (m[len] == in[len]) {
        len = extend(in, m, len + 1, cap);
        if (Record && len > best) {
          best = len;
          out[n++] = {len, pos - node};
        }
        if (len >= cap) {
          // Equal as far as we look: pos takes node's place and subtrees.
          *lt_link = child_[2 * size_t(node)];
          *gt_link = child_[2 * size_t(node) + 1];
          return n;
        }
      }
      if (m[len] < in[len]) {
        *lt_link = node;
        lt_link = &child_[2 * size_t(node) + 1];
        node = *lt_link;
        lt_len = len;
      } else {
        *gt_link = node;
        gt_link = &child_[2 * size_t(node)];
        node = *gt_link;
        gt_len = len;
      }
      if (--depth == 0) break;
    }
    *lt_link = *gt_link = kNil;
    return n;
  }

  // Inserts pos without reporting matches.
  void skip(const uint8_t* data, uint32_t pos, uint32_t cap, unsigned depth) {
    advance<false>(data, pos, cap, depth, nullptr);
  }

  // Length of the common prefix of a and b from `len` on, capped at max
  // (8 bytes at a time); the LZMS parser uses it for repeat matches too.
  static uint32_t extend(const uint8_t* a, const uint8_t* b, uint32_t len, uint32_t max) {
    while (len + 8 <= max) {
      uint64_t x, y;
      std::memcpy(&x, a + len, 8);
      std::memcpy(&y, b + len, 8);
      if (x != y) return len + uint32_t(std::countr_zero(x ^ y) >> 3);
      len += 8;
    }
    while (len < max && a[len] == b[len]) len++;
    return len;
  }

private:
  static uint32_t load32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  static uint32_t hash3(const uint8_t* p) { return ((load32(p) & 0xFFFFFFu) * 0x1E35A7BDu) >> (32 - kHash3Bits); }
  uint32_t hash4(const uint8_t* p) const { return (load32(p) * 0x9E3779B1u) >> (32 - hash_bits_); }

  unsigned hash_bits_ = 12;
  std::vector<uint32_t> heads_;   // root (latest position) per 4-byte hash
  std::vector<uint32_t> heads3_;  // latest position per 3-byte hash
  std::vector<uint32_t> child_;   // 2 per position: smaller, larger subtree
};

}  // namespace wp
