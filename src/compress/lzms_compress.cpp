// LZMS compression (wim-codecs.md §6, encoder side §6.13).
//
// The chunk is copied and run through the x86 filter (encode direction),
// then parsed. Below level 40: greedily or lazily over hash chains, with
// the three usable repeat offsets tried at every position and a cost model
// read from the current adaptive Huffman codes. From level 40 (default 50):
// near-optimal parsing (compress_optimal: a minimum-cost path over windows
// of up to 2048 positions, costs frozen from the adaptive state, every node
// carrying the repeat queues and context states of its cheapest arrival)
// over the binary-tree match finder (bt_matchfinder.hpp), whose window is
// the whole chunk.
// Items are coded as they are chosen:
// decisions go to a carry-propagating range encoder writing 16-bit words
// forwards from the start of the output, Huffman symbols and verbatim bits
// to a bit writer filling words backwards from the end. Every piece of
// adaptive state (probability entries, context states, Huffman frequencies
// and rebuild points, the LZ repeat queue with its index shift) changes
// exactly as in the decoder (lzms_decompress.cpp). From level 35, delta
// matches (spans 1..32, and the delta repeat queue) are tried as well.
//
// Memory per compressor (one per thread), for a chunk of n bytes: n for
// the filtered copy; near-optimal parsing adds 8n for the binary trees plus
// at most 1 MiB of tree roots and ~0.8 MiB of other tables: 578 MiB peak
// for a 64 MiB solid chunk at level 50 (wimlib's LZMS compressor: 577 MiB,
// measured the same way, see docs/BENCHMARKS.md). The greedy/lazy parser
// (levels below 40) needs 4n for hash chains instead of the trees. Buffers
// grow to the largest chunk seen and are reused.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "compress/bt_matchfinder.hpp"
#include "compress/codec_impl.hpp"
#include "compress/lzms_common.hpp"
#include "util/endian.hpp"

namespace wp {
namespace {

using namespace lzms;

// §6.5: one adaptive Huffman code, encoder side: codeword lengths and
// canonical codewords (§3.1) rebuilt from the running frequencies.
template <unsigned MaxSyms, unsigned Interval>
struct EncCode {
  unsigned num_syms = 0;
  unsigned countdown = Interval;
  uint32_t freq[MaxSyms] = {};
  uint8_t lens[MaxSyms] = {};
  uint16_t codes[MaxSyms] = {};

  void build(HuffmanScratch& scratch) {
    make_huffman_lengths(freq, num_syms, lens, scratch);
    // Canonical codewords: by length, then by symbol, counting upwards.
    unsigned count[kMaxCodewordLen + 1] = {};
    for (unsigned s = 0; s < num_syms; s++) count[lens[s]]++;
    count[0] = 0;
    uint16_t next[kMaxCodewordLen + 1];
    unsigned code = 0;
    for (unsigned l = 1; l <= kMaxCodewordLen; l++) {
      code = (code + count[l - 1]) << 1;
      next[l] = uint16_t(code);
    }
    for (unsigned s = 0; s < num_syms; s++)
      if (lens[s]) codes[s] = next[lens[s]]++;
  }
  void init(unsigned n, HuffmanScratch& scratch) {
    num_syms = n;
    std::fill(freq, freq + n, 1u);
    countdown = Interval;
    if (n >= 2) build(scratch);
  }
  void copy_initial(const EncCode& from) {
    num_syms = from.num_syms;
    countdown = Interval;
    std::fill(freq, freq + num_syms, 1u);
    std::memcpy(lens, from.lens, num_syms);
    std::memcpy(codes, from.codes, num_syms * sizeof(uint16_t));
  }
  // Called after symbol s was written (§6.5 step 2).
  void count_symbol(unsigned s, HuffmanScratch& scratch) {
    freq[s]++;
    if (--countdown == 0) {
      build(scratch);
      for (unsigned x = 0; x < num_syms; x++) freq[x] = (freq[x] >> 1) + 1;
      countdown = Interval;
    }
  }
};

using LiteralCode = EncCode<kNumLiteralSyms, kLiteralRebuild>;
using LengthCode = EncCode<kNumLengthSyms, kLengthRebuild>;
using OffsetCode = EncCode<kMaxOffsetSyms, kLzOffsetRebuild>;
using PowerCode = EncCode<kNumPowerSyms, kPowerRebuild>;
static_assert(kLzOffsetRebuild == kDeltaOffsetRebuild);

enum : unsigned { kLit = 0, kLz = 1, kDelta = 2 };
constexpr unsigned kDeltaHashBits = 17;
constexpr unsigned kMaxDeltaPower = 5;  // spans 1..32 are searched

template <unsigned States>
struct Context {
  ProbEntry entries[States];
  unsigned state = 0;
  void reset() {
    for (ProbEntry& e : entries) e = ProbEntry{};
    state = 0;
  }
};

// §6.13: the output buffer shared by the forward range encoder and the
// backward bit writer. Overflow (the regions meeting) is recorded and
// checked once at the end; writes stop at the boundary.
class Output {
public:
  void begin(uint8_t* buf, size_t cap) {
    buf_ = buf;
    fwd_ = 0;
    bwd_ = cap & ~size_t(1);
    end_ = bwd_;
    overflow_ = false;
    low_ = 0;
    range_ = 0xFFFFFFFF;
    cache_ = 0;
    pending_ = 1;
    first_ = true;
    bitbuf_ = 0;
    bitcount_ = 0;
  }

  // Range encoder (§6.13).
  void encode_bit(uint32_t bit, uint32_t prob) {
    if (range_ <= 0xFFFF) {
      range_ <<= 16;
      shift_low();
    }
    const uint32_t bound = (range_ >> 6) * prob;
    if (bit == 0) {
      range_ = bound;
    } else {
      low_ += bound;
      range_ -= bound;
    }
  }

  // Backward bit writer: n <= 30 bits, most significant first.
  void put_bits(uint32_t v, unsigned n) {
    bitbuf_ = (bitbuf_ << n) | v;
    bitcount_ += n;
    while (bitcount_ >= 16) {
      bitcount_ -= 16;
      put_bwd_word(uint16_t(bitbuf_ >> bitcount_));
    }
  }

  // Finishes both streams and joins them. Returns the compressed size, or 0
  // if they did not fit.
  size_t finish() {
    for (int i = 0; i < 4; i++) shift_low();
    if (bitcount_ > 0) put_bwd_word(uint16_t(bitbuf_ << (16 - bitcount_)));
    bitcount_ = 0;
    if (overflow_) return 0;
    const size_t b = end_ - bwd_;
    std::memmove(buf_ + fwd_, buf_ + bwd_, b);
    return fwd_ + b;
  }

  bool overflowed() const { return overflow_; }

private:
  void shift_low() {
    if (uint32_t(low_) < 0xFFFF0000u || (low_ >> 32) != 0) {
      const uint32_t c = uint32_t(low_ >> 32);
      put_fwd_word(uint16_t(cache_ + c));
      for (; pending_ > 1; pending_--) put_fwd_word(uint16_t(0xFFFF + c));
      cache_ = uint32_t(low_ >> 16) & 0xFFFF;
      pending_ = 0;
    }
    pending_++;
    low_ = (low_ & 0xFFFF) << 16;
  }
  void put_fwd_word(uint16_t w) {
    if (first_) {  // the first unit ever emitted is discarded
      first_ = false;
      return;
    }
    if (fwd_ + 2 > bwd_) {
      overflow_ = true;
      return;
    }
    store_le16(buf_ + fwd_, w);
    fwd_ += 2;
  }
  void put_bwd_word(uint16_t w) {
    if (bwd_ < fwd_ + 2) {
      overflow_ = true;
      return;
    }
    bwd_ -= 2;
    store_le16(buf_ + bwd_, w);
  }

  uint8_t* buf_ = nullptr;
  size_t fwd_ = 0, bwd_ = 0, end_ = 0;
  bool overflow_ = false, first_ = true;
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFF, cache_ = 0;
  size_t pending_ = 1;
  uint64_t bitbuf_ = 0;
  unsigned bitcount_ = 0;
};

// Length of the common prefix of a and b from `len` on, capped at max.
inline uint32_t match_len(const uint8_t* a, const uint8_t* b, uint32_t len, uint32_t max) {
  return BtMatchFinder::extend(a, b, len, max);
}

// -log2(p / 64) in 1/16 bit, for p = 0..64 (p = 0 never occurs).
struct BitCostTable {
  int32_t v[65];
  BitCostTable() {
    v[0] = 16 * 8;
    for (int p = 1; p <= 64; p++) v[p] = int32_t(std::lround(-std::log2(p / 64.0) * 16));
  }
  int32_t operator[](uint32_t p) const { return v[p]; }
};
const BitCostTable kBitCost;

struct Params {
  bool delta;
  bool lazy;
  unsigned depth;
  uint32_t nice;
};

// The greedy (below 30) or lazy parser's parameters.
Params params_for(int level) {
  if (level < 30) return {false, false, 8u + unsigned(level) / 2, 32};
  if (level < 70) return {level >= 35, true, 16u + unsigned(level) / 2, uint32_t(32 + level)};
  return {true, true, std::min(64u + unsigned(level) * 2, 1024u), uint32_t(std::min(level * 3, 999))};
}

// Near-optimal parsing (compress_optimal, over the binary-tree match
// finder) is used for every chunk from level 40; below, the greedy or lazy
// parser over hash chains. Level 50 (the default) searches 16 tree nodes
// with a nice length of 48 on chunks below 1 MiB (non-solid resources:
// about wimlib's speed and output there), and 32 nodes, nice length 96,
// from 1 MiB (solid resources, where the match finder's reach matters
// most: within ~1% of wimlib's output at about twice its speed). See
// docs/BENCHMARKS.md for the measurements behind these numbers.
constexpr int kOptimalMinLevel = 40;
constexpr size_t kLargeChunk = size_t(1) << 20;
Params optimal_params_for(int level, bool large) {
  if (level >= 70) return {true, true, std::min(64u + unsigned(level) * 2, 1024u), uint32_t(std::min(level * 3, 999))};
  const unsigned l = unsigned(level);
  if (large) return {true, true, std::max(12u, l * 16 / 25), std::max(48u, 2 * l - 4)};
  return {true, true, std::max(8u, l * 8 / 25), std::max(32u, l - 2)};
}

// Length slot of every length below kLenTab (the parser's lengths).
constexpr unsigned kLenTab = 1024;
struct LenSlotTable {
  uint8_t v[kLenTab];
  constexpr LenSlotTable() : v{} {
    for (unsigned l = 1; l < kLenTab; l++) v[l] = uint8_t(slot_of(kLengthSlots, l));
  }
};
constexpr LenSlotTable kLenSlot;

// slot_of(kOffsetSlots, v) for v >= 1, searching only the slots whose base
// has v's bit width (a few, instead of a binary search over all 799).
struct OffsetSlotIndex {
  uint16_t first[34];  // first slot with base >= 2^(w-1), for bit width w
  constexpr OffsetSlotIndex() : first{} {
    unsigned s = 0;
    for (unsigned w = 0; w <= 33; w++) {
      const uint64_t lo = w == 0 ? 0 : uint64_t(1) << (w - 1);
      while (s < kMaxOffsetSyms && kOffsetSlots.base[s] < lo) s++;
      first[w] = uint16_t(s);
    }
  }
};
constexpr OffsetSlotIndex kOffIndex;
constexpr unsigned offset_slot(uint32_t v) {
  const unsigned w = unsigned(std::bit_width(v));
  // base[lo] <= v (the last slot below 2^(w-1), or slot 0), and every slot
  // from first[w + 1] on has a base above v.
  unsigned lo = kOffIndex.first[w] ? kOffIndex.first[w] - 1u : 0u;
  unsigned hi = kOffIndex.first[w + 1] - 1u;
  while (lo < hi) {
    const unsigned mid = (lo + hi + 1) / 2;
    if (kOffsetSlots.base[mid] <= v)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}
static_assert(offset_slot(1) == 0 && offset_slot(29) == 13 && offset_slot(28) == 12 && offset_slot(45) == 17);
static_assert(offset_slot(58533) == 167 && offset_slot(58532) == 166 && offset_slot(106685605) == 798);
static_assert(offset_slot(1180427428u) == 798 && offset_slot(0xFFFFFFFFu) == 798);

class LzmsCompressor final : public Compressor {
public:
  LzmsCompressor(int level, uint32_t max_chunk)
      : lazy_p_(params_for(level <= 0 ? 50 : level)),
        opt_small_p_(optimal_params_for(level <= 0 ? 50 : level, false)),
        opt_large_p_(optimal_params_for(level <= 0 ? 50 : level, true)),
        optimal_((level <= 0 ? 50 : level) >= kOptimalMinLevel) {
    (void)max_chunk;  // buffers grow to the largest chunk actually seen
    initial_literal_.init(kNumLiteralSyms, scratch_);
    initial_length_.init(kNumLengthSyms, scratch_);
    initial_power_.init(kNumPowerSyms, scratch_);
  }

  size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) override;

private:

  struct Choice {
    uint32_t len = 0;
    uint32_t offset = 0;  // explicit offset, or 0 for a repeat match
    unsigned rep = 0;     // repeat index k (0..2) when offset == 0
    int32_t gain = 0;     // estimated cost saved over literals, 1/16 bit
    uint8_t kind = 0;     // kLz or kDelta
    uint8_t power = 0;    // explicit delta match: the power
  };

  // Near-optimal parsing (wim-codecs.md §6.14): a forward minimum-cost path
  // over a window of positions, costs frozen from the adaptive state at the
  // window's start; each node keeps the repeat queues and context states its
  // cheapest arrival implies, so repeat matches chosen are exactly valid.
  using MatchCand = BtMatch;
  struct DeltaCand {
    uint32_t len, raw;
    uint8_t power;
  };
  struct Node {
    int32_t cost;
    uint32_t from;    // the node the item starts at
    uint32_t len;     // the item's length; 1 and kind kLit = literal
    uint32_t offset;  // explicit LZ offset or delta raw offset; 0 = repeat
    uint8_t kind, rep, power;
    // The state after the arrival (filled when the node is expanded).
    uint8_t prev, s_main, s_match, s_lz, s_rep0, s_rep1, s_delta, s_drep0, s_drep1;
    uint8_t dqp[4];
    uint32_t lzq[4], dqr[4];
  };
  void node_state_from_real(Node& n) const;
  void node_apply(const Node& from, Node& to) const;
  unsigned find_lz(uint32_t pos, MatchCand* out);
  unsigned find_delta(uint32_t pos, DeltaCand* out);
  size_t compress_optimal();
  void encode_choice(const Choice& c) {
    if (c.kind == kDelta)
      encode_delta(c);
    else if (c.kind == kLz)
      encode_match(c);
    else
      encode_literal(data_[cur_pos_]);
    cur_pos_ += c.kind == kLit ? 1 : c.len;
  }
  void insert_covered(uint32_t from, uint32_t end) {
    // For very long matches (runs) only the last stretch, so that long
    // repeats stay linear and chains stay short.
    for (uint32_t q = std::max(from, end > 4096 && end - 4096 > from ? end - 4096 : from); q < end; q++) {
      bt_.skip(data_.data(), q, std::min(cp_->nice, n_ - q), cp_->depth);
    }
  }
  std::vector<Node> nodes_;
  std::vector<MatchCand> lz_cands_;
  std::vector<Choice> path_;
  uint32_t cur_pos_ = 0;
  uint64_t delta_bytes_ = 0;  // bytes coded as delta matches in this segment
  void reset_state(size_t n);
  void prepare_buffers(size_t n);
  void insert(uint32_t pos);
  Choice best_at(uint32_t pos, unsigned prev);
  void best_delta(uint32_t pos, unsigned prev, Choice& best);
  // Costs are in 1/16 bit. A decision costs -log2 of its current probability.
  template <unsigned S>
  int32_t bit_cost(const Context<S>& ctx, uint32_t b) const {
    const uint32_t p = ctx.entries[ctx.state].prob();
    return kBitCost[b ? 64 - p : p];
  }
  int32_t literal_cost(uint8_t b) const { return lit_.lens[b] * 16 + lit_main_cost_; }
  int32_t literals_cost(uint32_t pos, uint32_t len) const;
  int32_t length_cost(uint32_t len) const {
    const unsigned slot = slot_of(kLengthSlots, len);
    return (len_.lens[slot] + kLengthSlots.extra[slot]) * 16;
  }
  void encode_literal(uint8_t b);
  void encode_match(const Choice& c);
  void encode_delta(const Choice& c);
  void encode_length(uint32_t len);
  template <unsigned S>
  void bit(Context<S>& ctx, uint32_t b) {
    ProbEntry& e = ctx.entries[ctx.state];
    out_.encode_bit(b, e.prob());
    e.update(b);
    ctx.state = ((ctx.state << 1) | b) & (S - 1);
  }
  // A Huffman symbol: its code, and its count for the next rebuild.
  template <class Code>
  void symbol(Code& code, unsigned s) {
    out_.put_bits(code.codes[s], code.lens[s]);
    code.count_symbol(s, scratch_);
  }
  // An explicit offset: its slot through `code`, then the extra bits.
  template <class Code>
  void offset(Code& code, uint32_t off) {
    const unsigned slot = slot_of(kOffsetSlots, off);
    symbol(code, slot);
    out_.put_bits(off - kOffsetSlots.base[slot], kOffsetSlots.extra[slot]);
  }
  // Which of the three repeat-queue entries (0, 1 or 2) a repeat match uses.
  template <unsigned S0, unsigned S1>
  void rep_index(Context<S0>& rep0, Context<S1>& rep1, unsigned rep) {
    bit(rep0, rep != 0);
    if (rep != 0) bit(rep1, rep == 1 ? 0 : 1);
  }

  const Params lazy_p_, opt_small_p_, opt_large_p_;
  const bool optimal_;  // near-optimal parsing over the binary trees
  const Params* cp_ = &lazy_p_;  // this chunk's
  HuffmanScratch scratch_;
  X86Filter x86_;
  Output out_;
  LiteralCode lit_, initial_literal_;
  LengthCode len_, initial_length_;
  OffsetCode off_, initial_offset_;
  Context<kMainStates> main_;
  Context<kMatchStates> match_;
  Context<kLzStates> lz_;
  Context<kLzRepStates> lz_rep0_, lz_rep1_;
  Context<kDeltaStates> delta_;
  Context<kDeltaRepStates> delta_rep0_, delta_rep1_;
  OffsetCode doff_;
  PowerCode pow_, initial_power_;
  uint32_t lzq_[4] = {1, 2, 3, 4};
  uint32_t dq_power_[4] = {0, 0, 0, 0}, dq_raw_[4] = {1, 2, 3, 4};
  unsigned prev_ = kLit;
  int32_t lit_main_cost_ = 16;

  std::vector<uint8_t> data_;  // the filtered chunk plus zero padding
  std::vector<uint32_t> head_, next_;  // chains of 4-byte hashes
  BtMatchFinder bt_;                   // the near-optimal parser's
  std::vector<uint32_t> head3_;        // the latest position per 3-byte hash
  std::vector<uint32_t> delta_head_;  // 2^kDeltaHashBits, shared by all spans
  unsigned hash_bits_ = 12;
  uint32_t n_ = 0;
};

std::unique_ptr<Compressor> make_encoder(int level, uint32_t max_chunk) {
  return std::make_unique<LzmsCompressor>(level, max_chunk);
}

constexpr uint32_t kNil = UINT32_MAX;
constexpr unsigned kHash3Bits = 15;

inline uint32_t hash3(const uint8_t* p) { return ((load_le32(p) & 0xFFFFFF) * 0x1E35A7BDu) >> (32 - kHash3Bits); }
inline uint32_t hash4(const uint8_t* p, unsigned bits) { return (load_le32(p) * 0x9E3779B1u) >> (32 - bits); }
constexpr size_t kPadding = 16;

void LzmsCompressor::prepare_buffers(size_t n) {
  if (data_.size() < n + kPadding) data_.resize(n + kPadding);
  if (cp_->delta) {
    delta_head_.resize(size_t(1) << kDeltaHashBits);
    std::fill(delta_head_.begin(), delta_head_.end(), kNil);
  }
  if (optimal_) {
    bt_.reset(n, 18);  // 1 MiB of tree roots at most
    return;
  }
  if (next_.size() < n) next_.resize(n);
  hash_bits_ = std::clamp(unsigned(std::bit_width(n)), 12u, 22u);
  if (head_.size() < (size_t(1) << hash_bits_)) head_.resize(size_t(1) << hash_bits_);
  std::fill_n(head_.data(), size_t(1) << hash_bits_, kNil);
  if (head3_.size() < (size_t(1) << kHash3Bits)) head3_.resize(size_t(1) << kHash3Bits);
  std::fill(head3_.begin(), head3_.end(), kNil);
}

void LzmsCompressor::reset_state(size_t n) {
  lit_.copy_initial(initial_literal_);
  len_.copy_initial(initial_length_);
  const unsigned n_off = num_offset_syms(n);
  if (initial_offset_.num_syms != n_off) initial_offset_.init(n_off, scratch_);
  off_.copy_initial(initial_offset_);
  doff_.copy_initial(initial_offset_);
  pow_.copy_initial(initial_power_);
  delta_.reset();
  delta_rep0_.reset();
  delta_rep1_.reset();
  for (unsigned k = 0; k < 4; k++) dq_power_[k] = 0, dq_raw_[k] = k + 1;
  main_.reset();
  match_.reset();
  lz_.reset();
  lz_rep0_.reset();
  lz_rep1_.reset();
  lzq_[0] = 1, lzq_[1] = 2, lzq_[2] = 3, lzq_[3] = 4;
  prev_ = kLit;
}

inline void LzmsCompressor::insert(uint32_t pos) {
  // Hashes 3 bytes; the padding makes the load safe near the end.
  const uint8_t* p = &data_[pos];
  head3_[hash3(p)] = pos;
  const uint32_t h = hash4(p, hash_bits_);
  next_[pos] = head_[h];
  head_[h] = pos;
}

int32_t LzmsCompressor::literals_cost(uint32_t pos, uint32_t len) const {
  // Exact for the first bytes, an average beyond.
  const uint32_t k = std::min<uint32_t>(len, 32);
  int32_t c = 0;
  for (uint32_t i = 0; i < k; i++) c += literal_cost(data_[pos + i]);
  if (len > k) c += int32_t(std::min<uint32_t>(len - k, 1u << 20)) * 64;
  return c;
}

// Inserts `pos` into the hash chains and returns the best item there, given
// whether the item before it is an LZ match (which shifts the usable repeat
// entries, §6.8). gain <= 0 means "code a literal".
LzmsCompressor::Choice LzmsCompressor::best_at(uint32_t pos, unsigned prev) {
  const unsigned prev_lz = prev == kLz;
  Choice best;
  const uint32_t max_len = n_ - pos;
  const uint8_t* p = &data_[pos];
  const uint32_t nice = std::min(cp_->nice, max_len);
  // The decision bits as they stand before this item (approximate for an
  // item after a lookahead literal: the states then differ slightly).
  lit_main_cost_ = bit_cost(main_, 0);
  const int32_t lz_base = bit_cost(main_, 1) + bit_cost(match_, 0);
  const int32_t rep_base = lz_base + bit_cost(lz_, 1);
  const int32_t rep_cost[3] = {rep_base + bit_cost(lz_rep0_, 0),
                               rep_base + bit_cost(lz_rep0_, 1) + bit_cost(lz_rep1_, 0),
                               rep_base + bit_cost(lz_rep0_, 1) + bit_cost(lz_rep1_, 1)};

  // Repeat offsets k = 0..2 (queue entries k + prev_lz).
  uint32_t best_rep_len = 0;
  for (unsigned k = 0; k < 3; k++) {
    const uint32_t off = lzq_[k + prev_lz];
    if (off > pos) continue;
    uint32_t len = match_len(p, p - off, 0, nice);
    if (len < 2) continue;
    if (len >= nice) len = match_len(p, p - off, len, max_len);
    best_rep_len = std::max(best_rep_len, len);
    const int32_t cost = rep_cost[k] + length_cost(len);
    const int32_t gain = literals_cost(pos, len) - cost;
    if (gain > best.gain || (len >= nice && len > best.len)) best = {len, 0, k, gain, kLz, 0};
    if (len >= nice) break;
  }

  // Explicit offsets from the hash chain.
  if (cp_->delta && best.len < nice) best_delta(pos, prev, best);

  // The latest 3-byte match, then the chain of 4-byte matches: long
  // chains of mere 3-byte matches are slow and rarely worth an offset.
  const uint32_t cand3 = head3_[hash3(p)];
  uint32_t cand = head_[hash4(p, hash_bits_)];
  insert(pos);
  if (best.len >= nice || max_len < 3) return best;
  uint32_t chain_len = std::max<uint32_t>(best_rep_len, 2), chain_off = 0;
  if (cand3 != kNil && best_rep_len < 3 && load_le16(&data_[cand3]) == load_le16(p) && data_[cand3 + 2] == p[2]) {
    chain_len = match_len(p, &data_[cand3], 3, nice);
    chain_off = pos - cand3;
  }
  if (max_len >= 4 && chain_len < nice)
  for (unsigned depth = cp_->depth; depth > 0 && cand != kNil; depth--, cand = next_[cand]) {
    const uint8_t* m = &data_[cand];
    if (m[chain_len] != p[chain_len] || load_le16(m) != load_le16(p)) continue;
    uint32_t len = match_len(p, m, 0, nice);
    if (len > chain_len) {
      chain_len = len;
      chain_off = pos - cand;
      if (len >= nice) break;
    }
  }
  if (chain_off == 0) return best;
  if (chain_len >= nice) chain_len = match_len(p, p - chain_off, chain_len, max_len);
  const unsigned slot = slot_of(kOffsetSlots, chain_off);
  const int32_t cost =
      lz_base + bit_cost(lz_, 0) + (off_.lens[slot] + kOffsetSlots.extra[slot]) * 16 + length_cost(chain_len);
  const int32_t gain = literals_cost(pos, chain_len) - cost;
  if (gain > best.gain || (chain_len >= nice && chain_len > best.len)) best = {chain_len, chain_off, 0, gain, kLz, 0};
  return best;
}

void LzmsCompressor::encode_literal(uint8_t b) {
  bit(main_, 0);
  symbol(lit_, b);
  prev_ = kLit;
}

void LzmsCompressor::encode_length(uint32_t len) {
  const unsigned slot = slot_of(kLengthSlots, len);
  symbol(len_, slot);
  out_.put_bits(len - kLengthSlots.base[slot], kLengthSlots.extra[slot]);
}

void LzmsCompressor::encode_match(const Choice& c) {
  bit(main_, 1);
  bit(match_, 0);
  if (c.offset != 0) {
    bit(lz_, 0);
    offset(off_, c.offset);
    lzq_[3] = lzq_[2];
    lzq_[2] = lzq_[1];
    lzq_[1] = lzq_[0];
    lzq_[0] = c.offset;
  } else {
    bit(lz_, 1);
    rep_index(lz_rep0_, lz_rep1_, c.rep);
    unsigned j = c.rep + (prev_ == kLz);
    const uint32_t off = lzq_[j];
    for (; j > 0; j--) lzq_[j] = lzq_[j - 1];
    lzq_[0] = off;
  }
  prev_ = kLz;
  encode_length(c.len);
}

void LzmsCompressor::encode_delta(const Choice& c) {
  bit(main_, 1);
  bit(match_, 1);
  if (c.offset != 0) {
    bit(delta_, 0);
    symbol(pow_, c.power);
    offset(doff_, c.offset);
    for (unsigned k = 3; k > 0; k--) dq_power_[k] = dq_power_[k - 1], dq_raw_[k] = dq_raw_[k - 1];
    dq_power_[0] = c.power;
    dq_raw_[0] = c.offset;
  } else {
    bit(delta_, 1);
    rep_index(delta_rep0_, delta_rep1_, c.rep);
    unsigned j = c.rep + (prev_ == kDelta);
    const uint32_t pw = dq_power_[j], raw = dq_raw_[j];
    for (; j > 0; j--) dq_power_[j] = dq_power_[j - 1], dq_raw_[j] = dq_raw_[j - 1];
    dq_power_[0] = pw;
    dq_raw_[0] = raw;
  }
  prev_ = kDelta;
  delta_bytes_ += c.len;
  encode_length(c.len);
}

// Length of a delta match (§6.9) with span s and offset d at pos: the byte
// differences at distance s repeat those d bytes earlier. Needs d + s <= pos.
// The delta hash bucket of position `pos` (data at `p`) for span 2^power:
// the first three byte differences with the bytes one span back, the span
// and the position's phase within it. `diffs` receives the differences.
inline uint32_t delta_bucket(const uint8_t* p, uint32_t pos, unsigned power, uint32_t& diffs) {
  const int s = 1 << power;
  diffs = uint32_t(uint8_t(p[0] - p[-s])) | uint32_t(uint8_t(p[1] - p[1 - s])) << 8 |
          uint32_t(uint8_t(p[2] - p[2 - s])) << 16;
  const uint32_t key = diffs ^ (power << 24) ^ ((pos & uint32_t(s - 1)) << 27);
  return (key * 0x9E3779B1u) >> (32 - kDeltaHashBits);
}

inline uint32_t delta_len(const uint8_t* p, uint32_t d, uint32_t s, uint32_t max) {
  const uint8_t* a = p - s;
  const uint8_t* b = p - d;
  const uint8_t* c = p - d - s;
  uint32_t len = 0;
  while (len < max && uint8_t(p[len] - a[len]) == uint8_t(b[len] - c[len])) len++;
  return len;
}

// Delta candidates at pos: the usable repeat pairs and, per span 1..32, the
// last earlier position with the same three differences (one shared hash
// table, keyed by the differences, the span and pos mod span).
void LzmsCompressor::best_delta(uint32_t pos, unsigned prev, Choice& best) {
  const uint32_t max_len = n_ - pos;
  const uint32_t nice = std::min(cp_->nice, max_len);
  const uint8_t* p = &data_[pos];
  const int32_t base = bit_cost(main_, 1) + bit_cost(match_, 1);
  const unsigned shift = prev == kDelta;
  const int32_t rep_base = base + bit_cost(delta_, 1);
  const int32_t rep_cost[3] = {rep_base + bit_cost(delta_rep0_, 0),
                               rep_base + bit_cost(delta_rep0_, 1) + bit_cost(delta_rep1_, 0),
                               rep_base + bit_cost(delta_rep0_, 1) + bit_cost(delta_rep1_, 1)};
  for (unsigned k = 0; k < 3; k++) {
    const uint32_t s = 1u << dq_power_[k + shift];
    const uint64_t d = uint64_t(dq_raw_[k + shift]) << dq_power_[k + shift];
    if (d + s > pos) continue;
    const uint32_t len = delta_len(p, uint32_t(d), s, max_len);
    if (len < 2) continue;
    const int32_t gain = literals_cost(pos, len) - rep_cost[k] - length_cost(len);
    if (gain > best.gain) best = {len, 0, k, gain, kDelta, 0};
  }
  if (max_len < 3) return;
  const int32_t explicit_base = base + bit_cost(delta_, 0);
  for (unsigned power = 0; power <= kMaxDeltaPower; power++) {
    const uint32_t s = 1u << power;
    if (pos < s) break;
    uint32_t diffs;
    const uint32_t h = delta_bucket(p, pos, power, diffs);
    const uint32_t cand = delta_head_[h];
    delta_head_[h] = pos;
    // cand == pos: another span's key landed in the same bucket just now.
    if (cand >= pos || diffs == 0) continue;  // zero differences: an LZ match does as well
    const uint32_t d = pos - cand;
    if ((d & (s - 1)) != 0 || d + s > pos) continue;
    uint32_t len = delta_len(p, d, s, nice);
    if (len < 3) continue;
    if (len >= nice) len = delta_len(p, d, s, max_len);
    const uint32_t raw = d >> power;
    const unsigned slot = slot_of(kOffsetSlots, raw);
    const int32_t cost = explicit_base + (pow_.lens[power] + doff_.lens[slot] + kOffsetSlots.extra[slot]) * 16 +
                         length_cost(len);
    const int32_t gain = literals_cost(pos, len) - cost;
    if (gain > best.gain) best = {len, raw, 0, gain, kDelta, uint8_t(power)};
  }
}


// ---- near-optimal parsing ------------------------------------------------------

void LzmsCompressor::node_state_from_real(Node& n) const {
  n.prev = uint8_t(prev_);
  n.s_main = uint8_t(main_.state), n.s_match = uint8_t(match_.state), n.s_lz = uint8_t(lz_.state);
  n.s_rep0 = uint8_t(lz_rep0_.state), n.s_rep1 = uint8_t(lz_rep1_.state);
  n.s_delta = uint8_t(delta_.state), n.s_drep0 = uint8_t(delta_rep0_.state), n.s_drep1 = uint8_t(delta_rep1_.state);
  for (unsigned k = 0; k < 4; k++) n.lzq[k] = lzq_[k], n.dqp[k] = uint8_t(dq_power_[k]), n.dqr[k] = dq_raw_[k];
}

// The state after `to`'s arriving item, from the state at `from`: mirrors
// encode_literal / encode_match / encode_delta.
void LzmsCompressor::node_apply(const Node& f, Node& t) const {
  auto step = [](uint8_t st, unsigned b, unsigned S) { return uint8_t(((st << 1) | b) & (S - 1)); };
  t.s_main = f.s_main, t.s_match = f.s_match, t.s_lz = f.s_lz, t.s_rep0 = f.s_rep0, t.s_rep1 = f.s_rep1;
  t.s_delta = f.s_delta, t.s_drep0 = f.s_drep0, t.s_drep1 = f.s_drep1;
  std::memcpy(t.lzq, f.lzq, sizeof t.lzq);
  std::memcpy(t.dqp, f.dqp, sizeof t.dqp);
  std::memcpy(t.dqr, f.dqr, sizeof t.dqr);
  if (t.kind == kLit) {
    t.s_main = step(t.s_main, 0, kMainStates);
    t.prev = kLit;
    return;
  }
  t.s_main = step(t.s_main, 1, kMainStates);
  if (t.kind == kLz) {
    t.s_match = step(t.s_match, 0, kMatchStates);
    if (t.offset != 0) {
      t.s_lz = step(t.s_lz, 0, kLzStates);
      t.lzq[3] = t.lzq[2], t.lzq[2] = t.lzq[1], t.lzq[1] = t.lzq[0], t.lzq[0] = t.offset;
    } else {
      t.s_lz = step(t.s_lz, 1, kLzStates);
      t.s_rep0 = step(t.s_rep0, t.rep != 0, kLzRepStates);
      if (t.rep != 0) t.s_rep1 = step(t.s_rep1, t.rep != 1, kLzRepStates);
      unsigned j = t.rep + (f.prev == kLz);
      const uint32_t off = t.lzq[j];
      for (; j > 0; j--) t.lzq[j] = t.lzq[j - 1];
      t.lzq[0] = off;
    }
    t.prev = kLz;
    return;
  }
  t.s_match = step(t.s_match, 1, kMatchStates);
  if (t.offset != 0) {
    t.s_delta = step(t.s_delta, 0, kDeltaStates);
    for (unsigned k = 3; k > 0; k--) t.dqp[k] = t.dqp[k - 1], t.dqr[k] = t.dqr[k - 1];
    t.dqp[0] = t.power;
    t.dqr[0] = t.offset;
  } else {
    t.s_delta = step(t.s_delta, 1, kDeltaStates);
    t.s_drep0 = step(t.s_drep0, t.rep != 0, kDeltaRepStates);
    if (t.rep != 0) t.s_drep1 = step(t.s_drep1, t.rep != 1, kDeltaRepStates);
    unsigned j = t.rep + (f.prev == kDelta);
    const uint8_t pw = t.dqp[j];
    const uint32_t raw = t.dqr[j];
    for (; j > 0; j--) t.dqp[j] = t.dqp[j - 1], t.dqr[j] = t.dqr[j - 1];
    t.dqp[0] = pw;
    t.dqr[0] = raw;
  }
  t.prev = kDelta;
}

// Inserts pos into the binary trees and lists the explicit LZ matches
// there: each longer than the one before. The last one is extended past the
// nice length.
unsigned LzmsCompressor::find_lz(uint32_t pos, MatchCand* out) {
  const uint32_t max_len = n_ - pos;
  const uint8_t* p = &data_[pos];
  const uint32_t nice = std::min(cp_->nice, max_len);
  const unsigned k = bt_.advance<true>(data_.data(), pos, nice, cp_->depth, out);
  if (k && out[k - 1].len >= nice) out[k - 1].len = match_len(p, p - out[k - 1].offset, out[k - 1].len, max_len);
  return k;
}

// Explicit delta candidates at pos, one per span at most (best_delta's
// search); updates the delta hash table.
unsigned LzmsCompressor::find_delta(uint32_t pos, DeltaCand* out) {
  const uint32_t max_len = n_ - pos;
  if (max_len < 3) return 0;
  const uint32_t nice = std::min(cp_->nice, max_len);
  const uint8_t* p = &data_[pos];
  unsigned k = 0;
  for (unsigned power = 0; power <= kMaxDeltaPower; power++) {
    const uint32_t s = 1u << power;
    if (pos < s) break;
    uint32_t diffs;
    const uint32_t h = delta_bucket(p, pos, power, diffs);
    const uint32_t cand = delta_head_[h];
    delta_head_[h] = pos;
    if (cand >= pos || diffs == 0) continue;
    const uint32_t d = pos - cand;
    if ((d & (s - 1)) != 0 || d + s > pos) continue;
    uint32_t len = delta_len(p, d, s, nice);
    if (len < 3) continue;
    if (len >= nice) len = delta_len(p, d, s, max_len);
    out[k++] = {len, d >> power, uint8_t(power)};
  }
  return k;
}

size_t LzmsCompressor::compress_optimal() {
  constexpr uint32_t kWindow = 2048;
  constexpr int32_t kInf = INT32_MAX;
  const uint32_t max_item = std::max<uint32_t>(cp_->nice, 8);
  if (nodes_.size() < kWindow + max_item + 2) nodes_.resize(kWindow + max_item + 2);
  if (lz_cands_.size() < max_item + 2) lz_cands_.resize(max_item + 2);
  DeltaCand dcands[kMaxDeltaPower + 1];
  cur_pos_ = 0;
  constexpr unsigned kSegBits = 14;
  uint32_t segment = 0;
  bool delta_on = cp_->delta;
  delta_bytes_ = 0;
  Node* nodes = nodes_.data();

  while (cur_pos_ < n_) {
    if (out_.overflowed()) return 0;
    const uint32_t base = cur_pos_;
    const uint32_t window = std::min<uint32_t>(kWindow, n_ - base);
    // Delta matches pay off on some data (tables, samples, pixels) and not
    // on most: searching them costs a random access per span per position.
    // They are searched in every 16 KiB segment after one where they covered
    // at least 1/32 of the bytes, and in every 16th segment to probe.
    if ((base >> kSegBits) != segment) {
      const bool used = delta_bytes_ * 32 >= (uint64_t(1) << kSegBits);
      segment = base >> kSegBits;
      delta_on = cp_->delta && (used || segment % 16 == 0);
      delta_bytes_ = 0;
    }
    nodes[0].cost = 0;
    node_state_from_real(nodes[0]);
    uint32_t reached = 0;  // nodes[0..reached] are initialised
    auto reach = [&](uint32_t t) {
      while (reached < t) nodes[++reached].cost = kInf;
    };
    // Frozen costs (1/16 bit): Huffman lengths and probability entries as
    // they stand now; context states per node.
    auto bc = [](const auto& ctx, unsigned st, unsigned b) {
      const uint32_t p = ctx.entries[st].prob();
      return kBitCost[b ? 64 - p : p];
    };
    auto len_cost = [&](uint32_t l) {
      const unsigned slot = kLenSlot.v[l];
      return int32_t(len_.lens[slot] + kLengthSlots.extra[slot]) * 16;
    };

    uint32_t i = 0, end = 0, furthest = 0;
    bool long_item = false;  // the window ends with an item at least nice long
    Choice long_choice;
    while (true) {
      Node& cur = nodes[i];
      if (i > 0) node_apply(nodes[cur.from], cur);
      const uint32_t pos = base + i;
      const uint32_t max_len = n_ - pos;
      const uint32_t nice = std::min(cp_->nice, max_len);
      const uint8_t* p = &data_[pos];
      const unsigned nlz = find_lz(pos, lz_cands_.data());
      const unsigned ndelta = delta_on ? find_delta(pos, dcands) : 0;

      // Repeat LZ matches with this node's queue.
      const unsigned lz_shift = cur.prev == kLz;
      uint32_t rep_len[3] = {0, 0, 0};
      for (unsigned k = 0; k < 3; k++) {
        const uint32_t off = cur.lzq[k + lz_shift];
        if (off > pos) continue;
        uint32_t len = match_len(p, p - off, 0, nice);
        if (len >= nice) len = match_len(p, p - off, len, max_len);
        rep_len[k] = len >= 2 ? len : 0;
      }
      uint32_t drep_len[3] = {0, 0, 0};
      const unsigned d_shift = cur.prev == kDelta;
      if (delta_on) {
        for (unsigned k = 0; k < 3; k++) {
          const uint32_t s = 1u << cur.dqp[k + d_shift];
          const uint64_t d = uint64_t(cur.dqr[k + d_shift]) << cur.dqp[k + d_shift];
          if (d + s > pos) continue;
          uint32_t len = delta_len(p, uint32_t(d), s, nice);
          if (len >= nice) len = delta_len(p, uint32_t(d), s, max_len);
          drep_len[k] = len >= 2 ? len : 0;
        }
      }

      // Anything at least nice long is taken at once (wimlib does the same).
      Choice lc;
      for (unsigned k = 0; k < 3; k++)
        if (rep_len[k] >= nice && rep_len[k] > lc.len) lc = {rep_len[k], 0, k, 0, kLz, 0};
      if (nlz && lz_cands_[nlz - 1].len >= nice && lz_cands_[nlz - 1].len > lc.len)
        lc = {lz_cands_[nlz - 1].len, lz_cands_[nlz - 1].offset, 0, 0, kLz, 0};
      for (unsigned k = 0; k < 3; k++)
        if (drep_len[k] >= nice && drep_len[k] > lc.len) lc = {drep_len[k], 0, k, 0, kDelta, 0};
      for (unsigned k = 0; k < ndelta; k++)
        if (dcands[k].len >= nice && dcands[k].len > lc.len)
          lc = {dcands[k].len, dcands[k].raw, 0, 0, kDelta, dcands[k].power};
      if (lc.len > 0) {
        long_item = true;
        long_choice = lc;
        end = i;
        break;
      }

      // Relax every candidate from node i.
      const int32_t c0 = cur.cost;
      auto relax = [&](uint32_t t, int32_t cost, uint32_t len, uint32_t off, uint8_t kind, uint8_t rep, uint8_t power) {
        Node& n = nodes[t];
        if (cost < n.cost) {
          n.cost = cost, n.from = i, n.len = len, n.offset = off, n.kind = kind, n.rep = rep, n.power = power;
        }
      };
      reach(i + 1);
      relax(i + 1, c0 + bc(main_, cur.s_main, 0) + lit_.lens[p[0]] * 16, 1, 0, kLit, 0, 0);
      uint32_t longest = 1;
      const int32_t lz_base = c0 + bc(main_, cur.s_main, 1) + bc(match_, cur.s_match, 0);
      const int32_t rep_base = lz_base + bc(lz_, cur.s_lz, 1);
      for (unsigned k = 0; k < 3; k++) {
        if (!rep_len[k]) continue;
        int32_t rc = rep_base + bc(lz_rep0_, cur.s_rep0, k != 0);
        if (k) rc += bc(lz_rep1_, cur.s_rep1, k != 1);
        reach(i + rep_len[k]);
        for (uint32_t l = 2; l <= rep_len[k]; l++) relax(i + l, rc + len_cost(l), l, 0, kLz, uint8_t(k), 0);
        longest = std::max(longest, rep_len[k]);
      }
      if (nlz) {
        const int32_t ex_base = lz_base + bc(lz_, cur.s_lz, 0);
        reach(i + lz_cands_[nlz - 1].len);
        uint32_t l = 3;
        for (unsigned k = 0; k < nlz; k++) {
          const uint32_t off = lz_cands_[k].offset;
          const unsigned slot = offset_slot(off);
          const int32_t oc = ex_base + int32_t(off_.lens[slot] + kOffsetSlots.extra[slot]) * 16;
          for (; l <= lz_cands_[k].len; l++) relax(i + l, oc + len_cost(l), l, off, kLz, 0, 0);
        }
        longest = std::max(longest, lz_cands_[nlz - 1].len);
      }
      if (delta_on) {
        const int32_t d_base = c0 + bc(main_, cur.s_main, 1) + bc(match_, cur.s_match, 1);
        const int32_t drep_base = d_base + bc(delta_, cur.s_delta, 1);
        for (unsigned k = 0; k < 3; k++) {
          if (!drep_len[k]) continue;
          int32_t rc = drep_base + bc(delta_rep0_, cur.s_drep0, k != 0);
          if (k) rc += bc(delta_rep1_, cur.s_drep1, k != 1);
          reach(i + drep_len[k]);
          for (uint32_t l = 2; l <= drep_len[k]; l++) relax(i + l, rc + len_cost(l), l, 0, kDelta, uint8_t(k), 0);
          longest = std::max(longest, drep_len[k]);
        }
        const int32_t dex_base = d_base + bc(delta_, cur.s_delta, 0);
        for (unsigned k = 0; k < ndelta; k++) {
          const DeltaCand& dc = dcands[k];
          const unsigned slot = offset_slot(dc.raw);
          const int32_t oc =
              dex_base + int32_t(pow_.lens[dc.power] + doff_.lens[slot] + kOffsetSlots.extra[slot]) * 16;
          reach(i + dc.len);
          for (uint32_t l = 3; l <= dc.len; l++) relax(i + l, oc + len_cost(l), l, dc.raw, kDelta, 0, dc.power);
          longest = std::max(longest, dc.len);
        }
      }
      furthest = std::max(furthest, i + longest);
      i++;
      // All paths meet at i (nothing reaches past it), or the window is full.
      if (furthest <= i || i >= window) {
        end = i;
        break;
      }
    }

    // Walk back from `end`, then code the items for real.
    uint32_t k = end;
    std::vector<Choice>& path = path_;
    path.clear();
    while (k > 0) {
      const Node& n = nodes[k];
      path.push_back({n.len, n.offset, n.rep, 0, n.kind, n.power});
      k = n.from;
    }
    for (auto it = path.rbegin(); it != path.rend(); ++it) encode_choice(*it);
    if (long_item) {
      encode_choice(long_choice);
      insert_covered(base + end + 1, base + end + long_choice.len);
    }
  }
  return out_.finish();
}

size_t LzmsCompressor::compress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t n = in.size();
  // §2.3, §6.2: a compressed chunk is at least 4 bytes and smaller than the
  // input; wimlib's limit is 2^30.
  if (n < 5 || n > (size_t(1) << 30) || out.size() < 4) return 0;
  n_ = uint32_t(n);
  cp_ = !optimal_ ? &lazy_p_ : n >= kLargeChunk ? &opt_large_p_ : &opt_small_p_;
  prepare_buffers(n);
  std::memcpy(data_.data(), in.data(), n);
  std::memset(data_.data() + n, 0, kPadding);
  x86_.apply(data_.data(), n, true);
  reset_state(n);
  const size_t cap = std::min(out.size(), n - 1);
  out_.begin(out.data(), cap);
  if (optimal_) {
    const size_t csize = compress_optimal();
    if (csize == 0 || csize >= n || csize > out.size()) return 0;
    return csize;
  }

  uint32_t pos = 0;
  uint32_t inserted = 0;  // positions below this are in the hash chains
  Choice cur;
  bool have_cur = false;
  while (pos < n_) {
    if (out_.overflowed()) return 0;
    if (!have_cur) {
      cur = best_at(pos, prev_);
      inserted = pos + 1;
    }
    have_cur = false;
    if (cur.gain <= 0 && cur.len < std::min(cp_->nice, n_ - pos)) {
      encode_literal(data_[pos]);
      pos++;
      continue;
    }
    if (cp_->lazy && cur.len < cp_->nice && pos + 1 < n_) {
      // Would a literal here and the best item at pos + 1 do better?
      Choice nxt = best_at(pos + 1, kLit);
      inserted = pos + 2;
      if (nxt.gain > cur.gain + 32) {
        encode_literal(data_[pos]);
        pos++;
        cur = nxt;
        have_cur = true;
        continue;
      }
    }
    if (cur.kind == kDelta)
      encode_delta(cur);
    else
      encode_match(cur);
    const uint32_t end = pos + cur.len;
    // Insert the covered positions; for very long matches (runs) only the
    // last stretch, so that long repeats stay linear and chains stay short.
    uint32_t from = std::max(inserted, end > 4096 && end - 4096 > inserted ? end - 4096 : inserted);
    for (uint32_t q = from; q < end; q++) insert(q);
    inserted = end;
    pos = end;
  }
  const size_t csize = out_.finish();
  if (csize == 0 || csize >= n || csize > out.size()) return 0;
  return csize;
}

}  // namespace

std::unique_ptr<Compressor> make_lzms_compressor(int level, uint32_t max_chunk_size) {
  return make_encoder(level, max_chunk_size);
}

}  // namespace wp
