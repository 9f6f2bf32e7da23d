// XPRESS (Huffman variant) compression, wim-codecs.md §4.9-§4.10.
//
// A parser turns the chunk into items (literals and matches): greedy below
// level 30, lazy up to 59, and from 60 a near-optimal minimum-cost parse over
// cached binary-tree matches, refined over level/40 passes. One output path
// then builds the Huffman code, computes the exact compressed size (so a
// chunk that would not shrink or fit is refused before anything is written)
// and writes table, items and the end-of-data symbol following the §4.9
// writer model.
#include <algorithm>
#include <cassert>
#include <string>
#include <vector>

#include "compress/codec_impl.hpp"
#include "compress/xpress_common.hpp"
#include "compress/xpress_matchfinder.hpp"
#include "util/error.hpp"

namespace wp {
namespace {

using namespace xpress;

// Items: a literal is its byte value; a match is offset << 16 | (length - 3).
// Offsets are >= 1, so a zero high half means "literal".
constexpr uint32_t literal_item(uint8_t b) { return b; }
constexpr uint32_t match_item(uint32_t len, uint32_t offset) { return (offset << 16) | (len - kMinMatch); }

inline unsigned match_symbol(uint32_t adj, uint32_t offset) {
  return 256 + 16 * bsr32(offset) + std::min<uint32_t>(adj, 15);
}

// Length-limited canonical Huffman code (§3.1, built as in §3.3: two-queue
// construction with ties to leaves, then depth limiting). freq must have at
// least one nonzero entry.
void make_huffman_code(const uint32_t* freq, uint8_t* lens, uint16_t* codes) {
  // Sort the used symbols by (frequency, symbol): a counting sort for
  // frequencies below kNumSymbols - 1 and a comparison sort for the few above.
  uint32_t sorted[kNumSymbols];  // freq << 9 | symbol, ascending
  constexpr unsigned kBuckets = kNumSymbols;
  unsigned bucket_start[kBuckets] = {};
  for (unsigned s = 0; s < kNumSymbols; s++) {
    lens[s] = 0;
    bucket_start[std::min(freq[s], kBuckets - 1)]++;
  }
  unsigned m = 0;
  for (unsigned b = 1; b < kBuckets; b++) {  // bucket 0: unused symbols
    unsigned c = bucket_start[b];
    bucket_start[b] = m;
    m += c;
  }
  for (unsigned s = 0; s < kNumSymbols; s++)
    if (freq[s]) sorted[bucket_start[std::min(freq[s], kBuckets - 1)]++] = (freq[s] << 9) | s;
  std::sort(sorted + bucket_start[kBuckets - 2], sorted + m);  // the last bucket holds mixed frequencies
  if (m == 1) {
    unsigned s = sorted[0] & 511;
    lens[s] = 1;
    lens[s == 0 ? 1 : 0] = 1;  // a lone length-1 codeword is not a complete code
  } else if (m >= 2) {
    uint32_t weight[kNumSymbols], parent[kNumSymbols];
    uint8_t depth[kNumSymbols];
    unsigned leaf = 0, head = 0;
    auto leaf_w = [&](unsigned i) { return sorted[i] >> 9; };
    for (unsigned node = 0; node + 1 < m; node++) {
      uint32_t w;
      if (m - leaf >= 2 && (head == node || leaf_w(leaf + 1) <= weight[head])) {
        w = leaf_w(leaf) + leaf_w(leaf + 1);
        leaf += 2;
      } else if (node - head >= 2 && (leaf == m || weight[head + 1] < leaf_w(leaf))) {
        w = weight[head] + weight[head + 1];
        parent[head] = parent[head + 1] = node;
        head += 2;
      } else {
        w = leaf_w(leaf) + weight[head];
        parent[head] = node;
        leaf++;
        head++;
      }
      weight[node] = w;
    }
    unsigned cnt[kMaxCodewordLen + 2] = {};
    cnt[1] = 2;
    unsigned root = m - 2;
    depth[root] = 0;
    for (unsigned i = root; i-- > 0;) {
      depth[i] = uint8_t(depth[parent[i]] + 1);
      unsigned l = std::min<unsigned>(depth[i], kMaxCodewordLen - 1);
      while (cnt[l] == 0) l--;  // limit: split the deepest leaf above the limit
      cnt[l]--;
      cnt[l + 1] += 2;
    }
    unsigned i = 0;
    for (unsigned l = kMaxCodewordLen; l >= 1; l--)
      for (unsigned c = cnt[l]; c; c--) lens[sorted[i++] & 511] = uint8_t(l);
  }
  unsigned count[kMaxCodewordLen + 1] = {};
  for (unsigned s = 0; s < kNumSymbols; s++) count[lens[s]]++;
  uint16_t next[kMaxCodewordLen + 1];
  next[1] = 0;
  for (unsigned l = 2; l <= kMaxCodewordLen; l++) next[l] = uint16_t((next[l - 1] + count[l - 1]) << 1);
  for (unsigned s = 0; s < kNumSymbols; s++)
    if (lens[s]) codes[s] = next[lens[s]]++;
}

// The §4.9 writer model: two reserved word slots and a raw-byte cursor.
struct BitWriter {
  uint8_t* out;
  size_t s1 = kTableBytes, s2 = kTableBytes + 2, b = kTableBytes + 4;
  uint64_t acc = 0;
  unsigned pending = 0;

  // Appends n <= 30 bits. Whenever more than 16 bits are pending (strictly,
  // §4.9), the oldest 16 go to slot S1.
  inline void put(uint32_t bits, unsigned n) {
    acc = (acc << n) | bits;
    pending += n;
    while (pending > 16) {
      pending -= 16;
      store16(out + s1, uint16_t(acc >> pending));
      s1 = s2;
      s2 = b;
      b += 2;
    }
  }
  inline void raw(uint8_t v) { out[b++] = v; }
  size_t finish() {
    store16(out + s1, uint16_t(acc << (16 - pending)));
    store16(out + s2, 0);
    return b;
  }
};

struct Params {
  enum Parser { Greedy, Lazy, NearOptimal } parser;
  unsigned depth, nice, passes;
};

Params params_for_level(int level) {
  unsigned lv = level > 0 ? unsigned(level) : 50;
  Params p{};
  if (lv < 30) {
    p = {Params::Greedy, lv * 30 / 16, lv * 60 / 16, 0};
  } else if (lv < 60) {
    p = {Params::Lazy, std::max(2u, lv * 30 / 32), lv * 60 / 32, 0};
  } else {
    p = {Params::NearOptimal, lv * 28 / 100, lv * 56 / 100, std::max(1u, lv / 40)};
  }
  p.depth = std::max(1u, p.depth);
  p.nice = std::clamp(p.nice, kMinMatch, kMaxMatch);
  return p;
}

class XpressCompressor final : public Compressor {
public:
  XpressCompressor(int level, uint32_t max_chunk_size);
  size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) override;

private:
  size_t parse_greedy_or_lazy(const uint8_t* in, uint32_t n, bool lazy);
  size_t parse_near_optimal(const uint8_t* in, uint32_t n);
  size_t write_chunk(size_t n_items, std::span<uint8_t> out, size_t usize);

  // Appends an item and tallies what writing it will cost: its symbol, its
  // offset bits and its raw length bytes.
  void reset_tally() {
    std::fill_n(freq_, kNumSymbols, 0u);
    extra_bits_ = 0;
    raw_bytes_ = 0;
  }
  inline void record_literal(uint32_t* items, size_t& n_items, uint8_t b) {
    items[n_items++] = literal_item(b);
    freq_[b]++;
  }
  inline void record_match(uint32_t* items, size_t& n_items, uint32_t len, uint32_t offset) {
    uint32_t adj = len - kMinMatch;
    items[n_items++] = match_item(len, offset);
    freq_[match_symbol(adj, offset)]++;
    extra_bits_ += bsr32(offset);
    raw_bytes_ += adj < 15 ? 0 : adj < 270 ? 1 : 3;
  }

  // Length-3 matches this far away cost more than three literals (§4.10).
  uint32_t far3_ = 4096;
  Params params_;
  uint32_t max_chunk_;
  std::vector<uint8_t> buf_;  // the chunk plus zero padding for word loads
  std::vector<uint32_t> items_;
  std::unique_ptr<HashChains> hc_;
  std::unique_ptr<BinaryTrees> bt_;
  // Near-optimal parser state.
  std::vector<Match> cache_;
  std::vector<uint16_t> num_matches_;
  std::vector<uint32_t> cost_;
  std::vector<uint32_t> choice_;  // item chosen at each position
  uint32_t freq_[kNumSymbols];
  size_t extra_bits_ = 0, raw_bytes_ = 0;
  uint8_t lens_[kNumSymbols];
  uint16_t codes_[kNumSymbols];
};

constexpr size_t kPadding = 16;
// Matches the near-optimal cache keeps per position on average; positions
// after the cache fills are searched for nothing more (they stay literals).
constexpr size_t kCachePerPosition = 8;

XpressCompressor::XpressCompressor(int level, uint32_t max_chunk_size)
    : params_(params_for_level(level)), max_chunk_(max_chunk_size) {
  if (max_chunk_size == 0 || max_chunk_size > kMaxChunk)
    fail(Errc::Usage, "XPRESS chunks must be between 1 byte and 64 KiB, not " + std::to_string(max_chunk_size));
  buf_.resize(max_chunk_size + kPadding);
  if (params_.parser == Params::NearOptimal) {
    bt_ = std::make_unique<BinaryTrees>(max_chunk_size);
    cache_.resize(size_t(max_chunk_size) * kCachePerPosition + params_.depth + 2);
    num_matches_.resize(max_chunk_size);
    cost_.resize(size_t(max_chunk_size) + 1);
    choice_.resize(max_chunk_size);
  } else {
    hc_ = std::make_unique<HashChains>(max_chunk_size);
  }
  items_.resize(max_chunk_size);
}

size_t XpressCompressor::compress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t n = in.size();
  // Anything below table + two words + one byte cannot shrink (§2.3).
  if (n <= kMinCompressedSize || n > max_chunk_ || out.size() < kMinCompressedSize) return 0;
  std::copy(in.begin(), in.end(), buf_.begin());
  std::fill_n(buf_.begin() + ptrdiff_t(n), kPadding, uint8_t(0));
  far3_ = n <= 8192 ? 2048 : 4096;
  size_t n_items = params_.parser == Params::NearOptimal
                       ? parse_near_optimal(buf_.data(), uint32_t(n))
                       : parse_greedy_or_lazy(buf_.data(), uint32_t(n), params_.parser == Params::Lazy);
  return write_chunk(n_items, out, n);
}

[[gnu::noinline]] size_t XpressCompressor::parse_greedy_or_lazy(const uint8_t* in, uint32_t n, bool lazy) {
  HashChains& mf = *hc_;
  mf.begin_chunk(in, n);
  const unsigned depth = params_.depth, nice = params_.nice;
  const unsigned lazy_depth = std::max(1u, depth / 2);
  uint32_t* items = items_.data();
  size_t n_items = 0;
  reset_tally();
  uint32_t pos = 0;
  // Matches need 3 bytes; the 4-byte hash needs the position to have 4.
  while (pos + 4 <= n) {
    unsigned max_len = std::min<uint32_t>(n - pos, kMaxMatch);
    uint32_t offset = 0;
    unsigned len = mf.longest_match(in, pos, kMinMatch - 1, max_len, nice, depth, &offset);
    if (len < kMinMatch || (len == kMinMatch && offset >= far3_)) {
      record_literal(items, n_items, in[pos]);
      pos++;
      continue;
    }
    uint32_t inserted = pos + 1;
    if (lazy) {
      // §4.10: look one byte ahead with half the depth; a strictly longer
      // match there turns the current byte into a literal.
      while (len < nice && pos + 1 + 4 <= n) {
        uint32_t next_offset = 0;
        unsigned next_max = std::min<uint32_t>(n - pos - 1, kMaxMatch);
        unsigned next_len = mf.longest_match(in, pos + 1, len, next_max, nice, lazy_depth, &next_offset);
        inserted = pos + 2;
        if (next_len <= len) break;
        record_literal(items, n_items, in[pos]);
        pos++;
        len = next_len;
        offset = next_offset;
      }
    }
    record_match(items, n_items, len, offset);
    uint32_t end = pos + len;
    mf.skip(in, inserted, end);
    pos = end;
  }
  for (; pos < n; pos++) record_literal(items, n_items, in[pos]);
  return n_items;
}

[[gnu::noinline]] size_t XpressCompressor::parse_near_optimal(const uint8_t* in, uint32_t n) {
  BinaryTrees& mf = *bt_;
  mf.begin_chunk(n);
  const unsigned depth = params_.depth, nice = params_.nice;

  // 1. Find and cache the matches at every position (§4.10 step 1).
  Match* cache = cache_.data();
  Match* cache_end = cache + (cache_.size() - params_.depth - 2);
  Match* m = cache;
  for (uint32_t pos = 0; pos < n;) {
    unsigned max_len = std::min<uint32_t>(n - pos, kMaxMatch);
    if (m >= cache_end) {
      num_matches_[pos] = 0;
      mf.advance<false>(in, pos, max_len, nice, depth, nullptr);
      pos++;
      continue;
    }
    // Far length-3 matches stay: the cost model decides about them here.
    unsigned cnt = mf.advance<true>(in, pos, max_len, nice, depth, m);
    num_matches_[pos] = uint16_t(cnt);
    unsigned longest = cnt ? m[cnt - 1].len : 0;
    m += cnt;
    pos++;
    if (longest >= nice) {
      // Skip the covered positions: they keep no matches of their own.
      uint32_t end = pos - 1 + longest;
      for (; pos < end; pos++) {
        num_matches_[pos] = 0;
        mf.advance<false>(in, pos, std::min<uint32_t>(n - pos, kMaxMatch), nice, depth, nullptr);
      }
    }
  }

  // 2. Minimum-cost parse, backwards (§4.10 steps 2-4).
  uint32_t sym_cost[kNumSymbols];
  std::fill_n(sym_cost, kNumSymbols, 9u);
  uint32_t* cost = cost_.data();
  uint32_t* choice = choice_.data();
  uint32_t* items = items_.data();
  size_t n_items = 0;
  for (unsigned pass = 0; pass < params_.passes; pass++) {
    if (pass > 0) {
      // Costs from the code the previous pass's choices would get.
      freq_[kEndOfData]++;
      make_huffman_code(freq_, lens_, codes_);
      for (unsigned s = 0; s < kNumSymbols; s++) sym_cost[s] = lens_[s] ? lens_[s] : 15;
    }
    cost[n] = 0;
    const Match* mp = m;  // walk the cache backwards
    for (uint32_t pos = n; pos-- > 0;) {
      uint32_t best = sym_cost[in[pos]] + cost[pos + 1];
      uint32_t best_item = literal_item(in[pos]);
      unsigned cnt = num_matches_[pos];
      mp -= cnt;
      unsigned len = kMinMatch;
      for (unsigned j = 0; j < cnt; j++) {
        const uint32_t offset = mp[j].offset, max_len = mp[j].len;
        const unsigned k = bsr32(offset);
        const uint32_t* sc = sym_cost + 256 + 16 * k;
        // Only the smallest offset offering a length is considered: lengths
        // below the previous (closer) match's length were handled there.
        for (; len <= max_len; len++) {
          uint32_t adj = len - kMinMatch;
          uint32_t c = sc[std::min<uint32_t>(adj, 15)] + k + cost[pos + len];
          if (adj >= 15) c += adj >= 270 ? 24 : 8;
          if (c < best) {
            best = c;
            best_item = match_item(len, offset);
          }
        }
      }
      cost[pos] = best;
      choice[pos] = best_item;
    }
    n_items = 0;
    reset_tally();
    for (uint32_t pos = 0; pos < n;) {
      uint32_t it = choice[pos];
      if (it >> 16) {
        uint32_t len = (it & 0xFFFF) + kMinMatch;
        record_match(items, n_items, len, it >> 16);
        pos += len;
      } else {
        record_literal(items, n_items, uint8_t(it));
        pos++;
      }
    }
  }
  return n_items;
}

[[gnu::noinline]] size_t XpressCompressor::write_chunk(size_t n_items, std::span<uint8_t> out, size_t usize) {
  const uint32_t* items = items_.data();
  uint64_t bits = extra_bits_;  // offset bits, then all bits
  const size_t raw = raw_bytes_;
  freq_[kEndOfData]++;
  make_huffman_code(freq_, lens_, codes_);
  for (unsigned s = 0; s < kNumSymbols; s++) bits += uint64_t(freq_[s]) * lens_[s];
  // §4.4: after T bits the model has loaded ceil(T/16) + 1 words.
  const size_t size = kTableBytes + 2 * ((bits + 15) / 16 + 1) + raw;
  if (size >= usize || size > out.size()) return 0;

  uint8_t* o = out.data();
  for (unsigned i = 0; i < kTableBytes; i++) o[i] = uint8_t(lens_[2 * i] | (lens_[2 * i + 1] << 4));
  // codeword << 4 | length, one load per symbol.
  uint32_t cw[kNumSymbols];
  for (unsigned s = 0; s < kNumSymbols; s++) cw[s] = (uint32_t(codes_[s]) << 4) | lens_[s];
  BitWriter bw{o};
  for (size_t i = 0; i < n_items; i++) {
    uint32_t it = items[i];
    if (!(it >> 16)) {
      bw.put(cw[it] >> 4, cw[it] & 15);
      continue;
    }
    uint32_t adj = it & 0xFFFF, offset = it >> 16;
    unsigned k = bsr32(offset);
    uint32_t c = cw[256 + 16 * k + std::min<uint32_t>(adj, 15)];
    if (adj < 15) {
      // No raw bytes in between: symbol and offset bits in one go.
      bw.put(((c >> 4) << k) | (offset - (1u << k)), (c & 15) + k);
      continue;
    }
    bw.put(c >> 4, c & 15);
    if (adj < 270) {
      bw.raw(uint8_t(adj - 15));
    } else {
      bw.raw(0xFF);
      bw.raw(uint8_t(adj));
      bw.raw(uint8_t(adj >> 8));
    }
    bw.put(offset - (1u << k), k);
  }
  bw.put(codes_[kEndOfData], lens_[kEndOfData]);
  size_t written = bw.finish();
  assert(written == size);
  (void)written;
  return size;
}

}  // namespace

std::unique_ptr<Compressor> make_xpress_compressor(int level, uint32_t max_chunk_size) {
  return std::make_unique<XpressCompressor>(level, max_chunk_size);
}

}  // namespace wp
