// LZX (WIM variant) compression, wim-codecs.md §5.13-§5.14: E8 translation,
// a binary-tree match finder whose matches are cached per block, adaptive
// block splitting, and a near-optimal parse (forward minimum-cost path)
// iterated with costs from the previous pass's Huffman codes.
#include <algorithm>
#include <cstring>
#include <vector>

#include "compress/codec_impl.hpp"
#include "compress/lzx_common.hpp"
#include "compress/lzx_huffman.hpp"
#include "compress/lzx_matchfinder.hpp"
#include "util/endian.hpp"
#include "util/error.hpp"

namespace wp {

namespace {

using namespace lzx;

constexpr uint32_t kCostShift = 6;  // costs in 1/64 bit
constexpr uint32_t kBit = 1u << kCostShift;
constexpr uint32_t kInfinity = 0xFFFFFFFFu;
constexpr uint32_t kMinBlock = 6500;
constexpr uint32_t kSoftMaxBlock = 100000;
constexpr uint32_t kObservationsPerCheck = 400;
constexpr uint32_t kNumObservationTypes = 10;
constexpr uint32_t kCacheEntriesPerPos = 10;
constexpr uint32_t kMainBuildMax = 16, kLenBuildMax = 16, kAlignedBuildMax = 7, kPretreeBuildMax = 7;

// MSB-first writer of 16-bit little-endian words (§5.13). Stops storing at
// `limit` and remembers that it ran out.
struct BitWriter {
  uint64_t acc = 0;
  uint32_t n = 0;
  uint8_t* begin;
  uint8_t* p;
  uint8_t* limit;
  bool overflow = false;

  BitWriter(uint8_t* out, size_t cap) : begin(out), p(out), limit(out + (cap & ~size_t(1))) {}

  inline void put(uint32_t v, uint32_t bits) {
    acc = (acc << bits) | v;
    n += bits;
    while (n >= 16) {
      n -= 16;
      if (p < limit) {
        store_le16(p, uint16_t(acc >> n));
        p += 2;
      } else {
        overflow = true;
      }
    }
  }
  void flush() {
    if (n) put(0, 16 - n);
  }
  size_t size() const { return size_t(p - begin); }
};

// One pretree item (§5.5): symbol, its extra bits, and for symbol 19 the
// difference symbol that follows.
struct PItem {
  uint8_t sym, extra, d;
};

// One parsed item: len 1 is a literal (off = the byte); otherwise off 0..2
// is a repeat-offset index and off >= 3 the formatted offset (offset + 2).
struct Item {
  uint32_t len;
  uint32_t off;
};

struct Node {
  uint32_t cost;
  uint32_t len;
  uint32_t off;
  uint32_t r[3];
};

struct CostModel {
  uint32_t main[kMaxMainSymbols];
  uint32_t len[kLenSymbols];
  uint32_t aligned[kAlignedSymbols];
  bool use_aligned = false;
};

struct Freqs {
  uint32_t main[kMaxMainSymbols];
  uint32_t len[kLenSymbols];
  uint32_t aligned[kAlignedSymbols];
  void clear(uint32_t nmain) {
    std::memset(main, 0, nmain * sizeof(uint32_t));
    std::memset(len, 0, sizeof(len));
    std::memset(aligned, 0, sizeof(aligned));
  }
};

struct Codes {
  uint8_t main_lens[kMaxMainSymbols];
  uint16_t main_codes[kMaxMainSymbols];
  uint8_t len_lens[kLenSymbols];
  uint16_t len_codes[kLenSymbols];
  uint8_t aligned_lens[kAlignedSymbols];
  uint16_t aligned_codes[kAlignedSymbols];
};

inline void apply_item(uint32_t r[3], uint32_t len, uint32_t off) {
  if (len == 1) return;
  if (off >= 3) {
    r[2] = r[1];
    r[1] = r[0];
    r[0] = off - 2;
  } else if (off != 0) {
    std::swap(r[0], r[off]);  // §5.7: a swap, not an LRU rotation
  }
}

class LzxCompressor final : public Compressor {
public:
  LzxCompressor(int level, uint32_t max_chunk_size)
      : window_(window_for(max_chunk_size)), mf_(std::max(window_, 1u)) {
    if (window_ == 0)
      fail(Errc::Unsupported, "LZX chunk size " + std::to_string(max_chunk_size) +
                                  " is beyond the 2 MiB the format allows (wim-codecs.md §2.2)");
    nmain_ = 256 + 8 * slots_for(window_);
    // wimlib's level scale (§5.14), tuned on text and x86 corpora with
    // lzx_bench: at level 50 search depth 24, nice length 32 and one
    // near-optimal pass after the greedy seed are within ~1.5% of wimlib's
    // size at its speed; a second pass gains ~0.5% for ~40% more time.
    const uint32_t lv = uint32_t(std::max(level, 1));
    depth_ = std::max(2u, 24 * lv / 50);
    nice_ = std::clamp(32 * lv / 50, 12u, kMaxMatch);
    passes_ = 1 + (lv >= 70) + (lv >= 100) + (lv >= 150);
    block_limit_ = std::min(window_, kSoftMaxBlock);
    buf_.resize(window_);
    cache_.resize(size_t(block_limit_) * kCacheEntriesPerPos + 2 * (kMaxMatch + 1));
    mstart_.resize(block_limit_ + 1);
    nodes_.resize(block_limit_ + 1);
    items_.resize(block_limit_);
    pitems_.reserve(kMaxMainSymbols);
  }

  size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) override;

private:
  uint32_t find_block_matches(uint32_t bs, uint32_t n);
  void seed_costs(uint32_t bs, uint32_t be);
  uint32_t parse(uint32_t bs, uint32_t be);
  void count_items(uint32_t nitems);
  void costs_from_codes();
  void write_block(BitWriter& bw, uint32_t blen, uint32_t nitems);
  void write_lengths(BitWriter& bw, const uint8_t* lens, const uint8_t* prev, uint32_t count);

  uint32_t window_;
  uint32_t nmain_;
  uint32_t depth_, nice_, passes_;
  uint32_t block_limit_;
  BtMatchFinder mf_;
  std::vector<uint8_t> buf_;
  std::vector<LzMatch> cache_;
  std::vector<uint32_t> mstart_;  // cache index of each block position's matches
  std::vector<Node> nodes_;
  std::vector<Item> items_;
  std::vector<PItem> pitems_;
  uint32_t skip_until_ = 0;       // the match finder skips up to here after a nice match
  uint32_t r_[3] = {1, 1, 1};     // repeat offsets at the current block start
  CostModel cost_;
  Freqs freq_;
  Codes codes_;
  bool aligned_block_ = false;
  uint8_t prev_main_lens_[kMaxMainSymbols];
  uint8_t prev_len_lens_[kLenSymbols];
};

size_t LzxCompressor::compress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const uint32_t n = uint32_t(in.size());
  if (n < 2 || in.size() > window_) return 0;
  std::memcpy(buf_.data(), in.data(), n);
  e8_encode(buf_.data(), n);  // §5.13: translate first, then compress
  mf_.reset();
  skip_until_ = 0;
  r_[0] = r_[1] = r_[2] = 1;
  std::memset(prev_main_lens_, 0, nmain_);
  std::memset(prev_len_lens_, 0, kLenSymbols);
  BitWriter bw(out.data(), std::min(out.size(), size_t(n) - 1));
  uint32_t pos = 0;
  while (pos < n && !bw.overflow) {
    const uint32_t be = find_block_matches(pos, n);
    seed_costs(pos, be);
    uint32_t nitems = 0;
    for (uint32_t pass = 0; pass < passes_; pass++) {
      nitems = parse(pos, be);
      count_items(nitems);
      if (pass + 1 < passes_) costs_from_codes();
    }
    write_block(bw, be - pos, nitems);
    for (uint32_t i = 0; i < nitems; i++) apply_item(r_, items_[i].len, items_[i].off);
    pos = be;
  }
  bw.flush();
  if (bw.overflow || bw.size() >= n) return 0;
  return bw.size();
}

// Runs the match finder from bs, caching every position's matches, until the
// block should end: the block-split heuristic (§5.14) fires, the block limit
// or the cache capacity is reached, or the chunk ends. Returns the block end.
uint32_t LzxCompressor::find_block_matches(uint32_t bs, uint32_t n) {
  const uint8_t* data = buf_.data();
  const uint32_t max_offset = window_ - 3;  // offset W - 2 is not encodable (§5.2)
  uint32_t old_obs[kNumObservationTypes] = {}, new_obs[kNumObservationTypes] = {};
  uint32_t old_total = 0, new_total = 0;
  size_t ci = 0;
  uint32_t i = bs;
  while (i < n && i - bs < block_limit_ && cache_.size() - ci >= kMaxMatch + 2) {
    mstart_[i - bs] = uint32_t(ci);
    const uint32_t max_len = std::min(kMaxMatch, n - i);
    if (i < skip_until_) {
      mf_.advance<false>(data, int32_t(i), max_len, nice_, depth_, max_offset, nullptr);
      i++;
      continue;
    }
    const uint32_t cnt = mf_.advance<true>(data, int32_t(i), max_len, nice_, depth_, max_offset, &cache_[ci]);
    uint32_t longest = cnt ? cache_[ci + cnt - 1].len : 0;
    ci += cnt;
    if (longest >= 3) {
      new_obs[8 + (longest >= 5)]++;
      if (longest >= nice_) skip_until_ = i + longest;
    } else {
      const uint8_t b = data[i];
      new_obs[((b >> 5) & 6) | (b & 1)]++;
    }
    new_total++;
    i++;
    if (new_total >= kObservationsPerCheck) {
      // End the block where recent observations differ enough from the block
      // so far: sum |c[t]*O - o[t]*N| >= 7/8 * N * O.
      if (old_total && i - bs >= kMinBlock && n - i >= kMinBlock) {
        uint64_t delta = 0;
        for (uint32_t t = 0; t < kNumObservationTypes; t++) {
          int64_t d = int64_t(new_obs[t]) * old_total - int64_t(old_obs[t]) * new_total;
          delta += uint64_t(d < 0 ? -d : d);
        }
        if (delta * 8 >= uint64_t(new_total) * old_total * 7) break;
      }
      for (uint32_t t = 0; t < kNumObservationTypes; t++) {
        old_obs[t] += new_obs[t];
        new_obs[t] = 0;
      }
      old_total += new_total;
      new_total = 0;
    }
  }
  mstart_[i - bs] = uint32_t(ci);
  return i;
}

inline uint32_t match_main_symbol(uint32_t slot, uint32_t len) {
  return 256 + 8 * slot + std::min(len - 2, kNumPrimaryLens);
}

// First cost model of a block: a greedy parse over the cached matches (with
// repeat offsets), whose symbol counts, smoothed so that no symbol is free
// or forbidden, give Huffman lengths to use as costs.
void LzxCompressor::seed_costs(uint32_t bs, uint32_t be) {
  const uint8_t* data = buf_.data();
  freq_.clear(nmain_);
  uint32_t r[3] = {r_[0], r_[1], r_[2]};
  uint32_t i = bs;
  while (i < be) {
    const uint32_t max_len = std::min(kMaxMatch, be - i);
    uint32_t best_len = 1, best_off = 0;
    if (max_len >= 2) {
      for (uint32_t k = 0; k < 3; k++) {
        if (r[k] > i) continue;
        uint32_t len = extend_match(data + i, data + i - r[k], 0, max_len);
        if (len > best_len) {
          best_len = len;
          best_off = k;
        }
      }
      uint32_t a = mstart_[i - bs], b = mstart_[i - bs + 1];
      if (b > a) {
        uint32_t len = std::min(cache_[b - 1].len, max_len);
        if (len >= 3 && len > best_len + 1) {
          best_len = len;
          best_off = cache_[b - 1].offset + 2;
        }
      }
    }
    if (best_len == 1) {
      freq_.main[data[i]]++;
      i++;
      continue;
    }
    const uint32_t slot = best_off < 3 ? best_off : slot_of(best_off);
    freq_.main[match_main_symbol(slot, best_len)]++;
    if (best_len >= 9) freq_.len[best_len - 9]++;
    if (best_off >= 3 && kSlots.footer[slot] >= 3) freq_.aligned[best_off & 7]++;
    apply_item(r, best_len, best_off);
    i += best_len;
  }
  for (uint32_t s = 0; s < nmain_; s++) freq_.main[s] = freq_.main[s] * 4 + 1;
  for (uint32_t s = 0; s < kLenSymbols; s++) freq_.len[s] = freq_.len[s] * 4 + 1;
  for (uint32_t s = 0; s < kAlignedSymbols; s++) freq_.aligned[s] = freq_.aligned[s] * 4 + 1;
  costs_from_codes();
}

// Costs from Huffman lengths of the current frequencies; unused symbols cost
// the maximum length (wimlib uses 16, 12 and 7 bits).
void LzxCompressor::costs_from_codes() {
  build_code_lengths(freq_.main, nmain_, kMainBuildMax, codes_.main_lens);
  build_code_lengths(freq_.len, kLenSymbols, kLenBuildMax, codes_.len_lens);
  build_code_lengths(freq_.aligned, kAlignedSymbols, kAlignedBuildMax, codes_.aligned_lens);
  for (uint32_t s = 0; s < nmain_; s++) cost_.main[s] = (codes_.main_lens[s] ? codes_.main_lens[s] : 16) * kBit;
  for (uint32_t s = 0; s < kLenSymbols; s++) cost_.len[s] = (codes_.len_lens[s] ? codes_.len_lens[s] : 12) * kBit;
  uint32_t aligned_bits = 24, verbatim_bits = 0;
  for (uint32_t s = 0; s < kAlignedSymbols; s++) {
    cost_.aligned[s] = (codes_.aligned_lens[s] ? codes_.aligned_lens[s] : 7) * kBit;
    aligned_bits += freq_.aligned[s] * codes_.aligned_lens[s];
    verbatim_bits += freq_.aligned[s] * 3;
  }
  cost_.use_aligned = aligned_bits < verbatim_bits;
}

// Offers arrivals at from[lo..hi] by one source: lengths 2..8 cost their
// main symbol; 9 and up the last header symbol plus a length symbol.
inline void relax_lengths(Node* from, uint32_t lo, uint32_t hi, uint32_t base, const uint32_t* main_syms,
                          const uint32_t* len_costs, uint32_t off) {
  uint32_t l = lo;
  for (const uint32_t top = std::min(hi, kNumPrimaryLens + 1); l <= top; l++) {
    const uint32_t cost = base + main_syms[l - 2];
    Node& nx = from[l];
    if (cost < nx.cost) {
      nx.cost = cost;
      nx.len = l;
      nx.off = off;
    }
  }
  const uint32_t long_base = base + main_syms[kNumPrimaryLens];
  for (; l <= hi; l++) {
    const uint32_t cost = long_base + len_costs[l - 9];
    Node& nx = from[l];
    if (cost < nx.cost) {
      nx.cost = cost;
      nx.len = l;
      nx.off = off;
    }
  }
}

// Forward minimum-cost path over [bs, be) (§5.14 steps 2-4). Each position
// keeps its cheapest arrival and the repeat offsets that arrival implies.
// Writes the chosen items to items_ and returns their count.
uint32_t LzxCompressor::parse(uint32_t bs, uint32_t be) {
  const uint8_t* data = buf_.data();
  const uint32_t blen = be - bs;
  const CostModel& c = cost_;
  for (uint32_t j = 1; j <= blen; j++) nodes_[j].cost = kInfinity;
  nodes_[0].cost = 0;
  std::memcpy(nodes_[0].r, r_, sizeof(r_));
  uint32_t skip_to = 0;

  for (uint32_t i = 0; i < blen; i++) {
    Node& cur = nodes_[i];
    if (i < skip_to || cur.cost == kInfinity) continue;
    if (i > 0) {
      std::memcpy(cur.r, nodes_[i - cur.len].r, sizeof(cur.r));
      apply_item(cur.r, cur.len, cur.off);
    }
    const uint32_t pos = bs + i;
    const uint8_t* p = data + pos;
    const uint32_t base = cur.cost;

    // Literal.
    {
      uint32_t cost = base + c.main[p[0]];
      Node& nx = nodes_[i + 1];
      if (cost < nx.cost) {
        nx.cost = cost;
        nx.len = 1;
        nx.off = p[0];
      }
    }
    const uint32_t max_len = std::min(kMaxMatch, blen - i);
    if (max_len < 2) continue;

    // Repeat offsets, R0 before R1 before R2: each length is tried only with
    // the first source offering it.
    uint32_t longest = 1;
    for (uint32_t k = 0; k < 3; k++) {
      const uint32_t rk = cur.r[k];
      if (rk > pos || p[0] != p[-int64_t(rk)] || p[1] != p[1 - int64_t(rk)]) continue;
      const uint32_t len = extend_match(p, p - rk, 2, max_len);
      if (len <= longest) continue;
      // A nice-length repeat is only offered whole: inside long repeats
      // this keeps the work per position constant.
      relax_lengths(nodes_.data() + i, len >= nice_ ? len : longest + 1, len, base, &c.main[256 + 8 * k], c.len, k);
      longest = len;
    }

    // Explicit offsets from the cache: increasing lengths, and for each
    // length the smallest offset offering it.
    const uint32_t a = mstart_[i], b = mstart_[i + 1];
    for (uint32_t m = a; m < b; m++) {
      const uint32_t len = std::min(cache_[m].len, max_len);
      if (len <= longest) continue;
      const uint32_t f = cache_[m].offset + 2;
      const uint32_t slot = slot_of(f);
      const uint32_t fb = kSlots.footer[slot];
      const uint32_t extra =
          (c.use_aligned && fb >= 3) ? (fb - 3) * kBit + c.aligned[f & 7] : fb * kBit;
      relax_lengths(nodes_.data() + i, longest + 1, len, base + extra, &c.main[256 + 8 * slot], c.len, f);
      longest = len;
      if (len == max_len) break;
    }
    // A nice-length match is taken as is: the positions it covers are not
    // expanded (the match finder skipped them too).
    if (longest >= nice_) skip_to = i + longest;
  }

  // Walk back from the end, then reverse into items_.
  uint32_t nitems = 0;
  for (uint32_t j = blen; j > 0; j -= nodes_[j].len) items_[nitems++] = {nodes_[j].len, nodes_[j].off};
  std::reverse(items_.begin(), items_.begin() + nitems);
  return nitems;
}

void LzxCompressor::count_items(uint32_t nitems) {
  freq_.clear(nmain_);
  for (uint32_t k = 0; k < nitems; k++) {
    const Item it = items_[k];
    if (it.len == 1) {
      freq_.main[it.off]++;
      continue;
    }
    const uint32_t slot = it.off < 3 ? it.off : slot_of(it.off);
    freq_.main[match_main_symbol(slot, it.len)]++;
    if (it.len >= 9) freq_.len[it.len - 9]++;
    if (it.off >= 3 && kSlots.footer[slot] >= 3) freq_.aligned[it.off & 7]++;
  }
}

// §5.5: one part of the code lengths as pretree items, coded against the
// previous block's lengths. Runs never cross the part's end.
void LzxCompressor::write_lengths(BitWriter& bw, const uint8_t* lens, const uint8_t* prev, uint32_t count) {
  auto& items = pitems_;
  items.clear();
  uint32_t pfreq[kPretreeSymbols] = {};
  auto diff = [&](uint32_t i) { return uint8_t((prev[i] + 17 - lens[i]) % 17); };
  auto single = [&](uint32_t i) {
    uint8_t d = diff(i);
    items.push_back({d, 0, 0});
    pfreq[d]++;
  };
  uint32_t i = 0;
  while (i < count) {
    uint32_t run = 1;
    while (i + run < count && lens[i + run] == lens[i]) run++;
    if (lens[i] == 0 && run >= 4) {
      while (run >= 20) {
        uint32_t k = std::min(run, 51u);
        items.push_back({18, uint8_t(k - 20), 0});
        pfreq[18]++;
        i += k;
        run -= k;
      }
      if (run >= 4) {
        uint32_t k = std::min(run, 19u);
        items.push_back({17, uint8_t(k - 4), 0});
        pfreq[17]++;
        i += k;
        run -= k;
      }
    } else if (lens[i] != 0 && run >= 4) {
      while (run >= 4) {
        uint32_t k = run > 4 ? 5 : 4;
        uint8_t d = diff(i);
        items.push_back({19, uint8_t(k - 4), d});
        pfreq[19]++;
        pfreq[d]++;
        i += k;
        run -= k;
      }
    }
    for (; run > 0; run--, i++) single(i);
  }
  uint8_t plens[kPretreeSymbols];
  uint16_t pcodes[kPretreeSymbols];
  build_code_lengths(pfreq, kPretreeSymbols, kPretreeBuildMax, plens);
  build_codewords(plens, kPretreeSymbols, kPretreeBuildMax, pcodes);
  for (uint32_t s = 0; s < kPretreeSymbols; s++) bw.put(plens[s], 4);
  for (const PItem& it : items) {
    bw.put(pcodes[it.sym], plens[it.sym]);
    if (it.sym == 17) {
      bw.put(it.extra, 4);
    } else if (it.sym == 18) {
      bw.put(it.extra, 5);
    } else if (it.sym == 19) {
      bw.put(it.extra, 1);
      bw.put(pcodes[it.d], plens[it.d]);
    }
  }
}

// Builds the final codes from freq_ (the last pass's items) and writes the
// block: header (§5.4), code lengths (§5.5), items (§5.6).
void LzxCompressor::write_block(BitWriter& bw, uint32_t blen, uint32_t nitems) {
  build_code_lengths(freq_.main, nmain_, kMainBuildMax, codes_.main_lens);
  build_code_lengths(freq_.len, kLenSymbols, kLenBuildMax, codes_.len_lens);
  build_code_lengths(freq_.aligned, kAlignedSymbols, kAlignedBuildMax, codes_.aligned_lens);
  build_codewords(codes_.main_lens, nmain_, kMainBuildMax, codes_.main_codes);
  build_codewords(codes_.len_lens, kLenSymbols, kLenBuildMax, codes_.len_codes);
  build_codewords(codes_.aligned_lens, kAlignedSymbols, kAlignedBuildMax, codes_.aligned_codes);
  // Verbatim spends 3 bits per aligned symbol; aligned spends its codewords
  // plus 24 bits of lengths.
  uint64_t aligned_bits = 24, verbatim_bits = 0;
  for (uint32_t s = 0; s < kAlignedSymbols; s++) {
    aligned_bits += uint64_t(freq_.aligned[s]) * codes_.aligned_lens[s];
    verbatim_bits += uint64_t(freq_.aligned[s]) * 3;
  }
  const bool aligned = aligned_bits < verbatim_bits;

  bw.put(aligned ? kAligned : kVerbatim, 3);
  if (blen == 32768) {
    bw.put(1, 1);
  } else {
    bw.put(0, 1);
    if (window_ == 32768) {
      bw.put(blen, 16);
    } else {
      bw.put(blen >> 16, 8);
      bw.put(blen & 0xFFFF, 16);
    }
  }
  if (aligned)
    for (uint32_t s = 0; s < kAlignedSymbols; s++) bw.put(codes_.aligned_lens[s], 3);
  write_lengths(bw, codes_.main_lens, prev_main_lens_, 256);
  write_lengths(bw, codes_.main_lens + 256, prev_main_lens_ + 256, nmain_ - 256);
  write_lengths(bw, codes_.len_lens, prev_len_lens_, kLenSymbols);
  std::memcpy(prev_main_lens_, codes_.main_lens, nmain_);
  std::memcpy(prev_len_lens_, codes_.len_lens, kLenSymbols);

  const Codes& cd = codes_;
  for (uint32_t k = 0; k < nitems && !bw.overflow; k++) {
    const Item it = items_[k];
    if (it.len == 1) {
      bw.put(cd.main_codes[it.off], cd.main_lens[it.off]);
      continue;
    }
    const uint32_t slot = it.off < 3 ? it.off : slot_of(it.off);
    const uint32_t sym = match_main_symbol(slot, it.len);
    bw.put(cd.main_codes[sym], cd.main_lens[sym]);
    if (it.len >= 9) bw.put(cd.len_codes[it.len - 9], cd.len_lens[it.len - 9]);
    if (it.off < 3) continue;
    const uint32_t fb = kSlots.footer[slot];
    const uint32_t footer = it.off - kSlots.base[slot];
    if (aligned && fb >= 3) {
      bw.put(footer >> 3, fb - 3);
      bw.put(cd.aligned_codes[footer & 7], cd.aligned_lens[footer & 7]);
    } else {
      bw.put(footer, fb);
    }
  }
}

}  // namespace

std::unique_ptr<Compressor> make_lzx_compressor(int level, uint32_t max_chunk_size) {
  return std::make_unique<LzxCompressor>(level, max_chunk_size);
}

}  // namespace wp
