// LZMS decompression (wim-codecs.md §6): a range decoder reading words
// forwards from the start of the chunk for the decisions, a bit reader
// reading words backwards from the end for the Huffman symbols and verbatim
// bits, five adaptive Huffman codes rebuilt from running counts, and the x86
// filter over the finished chunk.
#include <algorithm>
#include <cstring>

#include "compress/codec_impl.hpp"
#include "compress/huffman_decode.hpp"
#include "compress/lzms_common.hpp"
#include "util/endian.hpp"

namespace wp {
namespace {

using namespace lzms;

// §6.5: one adaptive Huffman code. TableSize is the worst case of §3.2's
// table for this alphabet and root width.
template <unsigned MaxSyms, unsigned RootBits, unsigned TableSize, unsigned Interval>
struct AdaptiveCode {
  static constexpr unsigned kRootBits = RootBits;
  // A code over n symbols has codewords of at most n - 1 bits.
  static constexpr bool kHasSubtables = MaxSyms - 1 > RootBits;
  static_assert(MaxSyms <= (1u << RootBits) && TableSize < 4096);

  unsigned num_syms = 0;
  unsigned countdown = Interval;
  uint32_t freq[MaxSyms] = {};
  uint16_t table[TableSize] = {};

  bool build(HuffmanScratch& scratch) {
    uint8_t lens[MaxSyms];
    make_huffman_lengths(freq, num_syms, lens, scratch);
    // Every LZMS code is complete (all frequencies are nonzero).
    return huffman::build_decode_table(table, TableSize, RootBits, lens, num_syms, kMaxCodewordLen);
  }
  bool init(unsigned n, HuffmanScratch& scratch) {
    num_syms = n;
    std::fill(freq, freq + n, 1u);
    countdown = Interval;
    return build(scratch);
  }
  // Copies the chunk-start state of `from` (same alphabet size), cheaper
  // than rebuilding it.
  void copy_initial(const AdaptiveCode& from) {
    num_syms = from.num_syms;
    countdown = Interval;
    std::fill(freq, freq + num_syms, 1u);
    std::memcpy(table, from.table, sizeof(table));
  }
  // The countdown reached 0: rebuild, then age the counts (§6.5 step 2).
  bool rebuild(HuffmanScratch& scratch) {
    const bool ok = build(scratch);
    for (unsigned s = 0; s < num_syms; s++) freq[s] = (freq[s] >> 1) + 1;
    countdown = Interval;
    return ok;
  }
};

// Table sizes from §3.2 (zlib's `enough` for these alphabets, 15-bit limit).
using LiteralCode = AdaptiveCode<kNumLiteralSyms, 10, 1302, kLiteralRebuild>;
using LengthCode = AdaptiveCode<kNumLengthSyms, 9, 618, kLengthRebuild>;
using OffsetCode = AdaptiveCode<kMaxOffsetSyms, 11, 2854, kLzOffsetRebuild>;
using PowerCode = AdaptiveCode<kNumPowerSyms, 7, 128, kPowerRebuild>;
static_assert(kLzOffsetRebuild == kDeltaOffsetRebuild);

// A decision context (§6.4): 2^k probability entries. Its k-bit state is a
// local of the decode loop.
template <unsigned States>
struct DecisionContext {
  ProbEntry entries[States];
  void reset() {
    for (ProbEntry& e : entries) e = ProbEntry{};
  }
};

class LzmsDecompressor final : public Decompressor {
public:
  LzmsDecompressor() {
    // Chunk-start codes that do not depend on the chunk size.
    ok_ = initial_literal_.init(kNumLiteralSyms, scratch_) && initial_length_.init(kNumLengthSyms, scratch_) &&
          initial_power_.init(kNumPowerSyms, scratch_);
  }

  bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) override;

private:
  bool reset(size_t usize);

  bool ok_ = false;
  HuffmanScratch scratch_;
  LiteralCode literal_, initial_literal_;
  LengthCode length_, initial_length_;
  PowerCode power_, initial_power_;
  OffsetCode lz_offset_, delta_offset_, initial_offset_;
  DecisionContext<kMainStates> main_;
  DecisionContext<kMatchStates> match_;
  DecisionContext<kLzStates> lz_;
  DecisionContext<kLzRepStates> lz_rep0_, lz_rep1_;
  DecisionContext<kDeltaStates> delta_;
  DecisionContext<kDeltaRepStates> delta_rep0_, delta_rep1_;
  X86Filter x86_;
};

std::unique_ptr<Decompressor> make_decoder() { return std::make_unique<LzmsDecompressor>(); }

bool LzmsDecompressor::reset(size_t usize) {
  literal_.copy_initial(initial_literal_);
  length_.copy_initial(initial_length_);
  power_.copy_initial(initial_power_);
  const unsigned n_off = num_offset_syms(usize);
  if (initial_offset_.num_syms != n_off && !initial_offset_.init(n_off, scratch_)) return false;
  lz_offset_.copy_initial(initial_offset_);
  delta_offset_.copy_initial(initial_offset_);
  main_.reset();
  match_.reset();
  lz_.reset();
  lz_rep0_.reset();
  lz_rep1_.reset();
  delta_.reset();
  delta_rep0_.reset();
  delta_rep1_.reset();
  return true;
}

bool LzmsDecompressor::decompress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t csize = in.size(), usize = out.size();
  // §6.2, §2.3: a compressed chunk has an even size of at least 4 bytes and
  // is smaller than its output (equal sizes mean a stored chunk). wimlib
  // limits LZMS chunks to 2^30 bytes.
  if (!ok_ || csize < 4 || (csize & 1) || csize >= usize || usize > (size_t(1) << 30)) return false;
  if (!reset(usize)) return false;
  bool codes_ok = true;

  const uint8_t* const src = in.data();
  uint8_t* const dst = out.data();

  // §6.3 range decoder, reading words forwards.
  const size_t nwords = csize / 2;
  uint32_t range = 0xFFFFFFFF;
  uint32_t code = (uint32_t(load_le16(src)) << 16) | load_le16(src + 2);
  size_t next_word = 2;

  // Context states live in locals (registers) during the chunk.
  unsigned main_state = 0, match_state = 0, lz_state = 0, lz_rep0_state = 0, lz_rep1_state = 0, delta_state = 0,
           delta_rep0_state = 0, delta_rep1_state = 0;
  auto decide = [&]<unsigned States>(DecisionContext<States>& ctx, unsigned& state) -> uint32_t {
    ProbEntry& e = ctx.entries[state];
    if (range <= 0xFFFF) {
      range <<= 16;
      code = (code << 16) | (next_word < nwords ? load_le16(src + 2 * next_word) : 0u);
      next_word++;
    }
    const uint32_t bound = (range >> 6) * e.prob();
    uint32_t bit;
    if (code < bound) {
      range = bound;
      bit = 0;
    } else {
      range -= bound;
      code -= bound;
      bit = 1;
    }
    e.update(bit);
    state = ((state << 1) | bit) & (States - 1);
    return bit;
  };

  // §6.2 bit reader, reading words backwards from the end. Bits are kept
  // left-aligned in bitbuf; past the start of the chunk it reads zeros.
  uint64_t bitbuf = 0;
  unsigned bitcount = 0;
  size_t zero_words = 0;  // words read past the start (see kOverread)
  size_t bitpos = csize;  // the bytes below bitpos are still unread
  // Afterwards at least 49 bits are buffered: enough for a codeword (15)
  // and its extra bits (up to 30).
  auto refill = [&] {
    if (bitcount >= 45) return;
    if (bitpos >= 8) {
      const uint64_t v = load_le64(src + bitpos - 8);  // words bitpos-2, -4, ... from the top down
      const unsigned take = ((64 - bitcount) >> 4) * 16;
      bitbuf |= (v >> (64 - take)) << (64 - bitcount - take);
      bitpos -= take / 8;
      bitcount += take;
    } else {
      while (bitcount <= 48) {
        uint64_t w = 0;
        if (bitpos >= 2) {
          bitpos -= 2;
          w = load_le16(src + bitpos);
        } else {
          zero_words++;
        }
        bitbuf |= w << (48 - bitcount);
        bitcount += 16;
      }
    }
  };
  auto read_bits = [&](unsigned n) -> uint32_t {  // n = 0..30, buffered
    const uint32_t v = uint32_t((bitbuf >> 1) >> (63 - n));
    bitbuf <<= n;
    bitcount -= n;
    return v;
  };
  auto decode = [&]<class Code>(Code& c) -> unsigned {  // needs 15 buffered bits
    const unsigned sym = huffman::decode_symbol<Code::kRootBits, Code::kHasSubtables>(c.table, bitbuf, bitcount);
    c.freq[sym]++;
    if (--c.countdown == 0) codes_ok &= c.rebuild(scratch_);
    return sym;
  };

  // §6.8 repeat queues, in the "insert at once, shift the index" form.
  uint32_t lzq[4] = {1, 2, 3, 4};
  uint32_t dq_power[4] = {0, 0, 0, 0}, dq_raw[4] = {1, 2, 3, 4};
  enum Item { kLiteral, kLz, kDelta } prev = kLiteral;

  // Both readers feed zeros past their end of the chunk. A valid stream only
  // looks a few words past it (read-ahead); a chunk whose data runs out long
  // before its claimed size would otherwise decode zeros into garbage until
  // the claimed size (up to 1 GiB) is filled. Stop it early: the data, not
  // the claim, bounds the work.
  constexpr size_t kOverread = 64;
  size_t pos = 0;
  while (pos < usize) {
    if (next_word > nwords + kOverread || zero_words > kOverread) [[unlikely]]
      return false;
    refill();
    if (!decide(main_, main_state)) {
      dst[pos++] = uint8_t(decode(literal_));
      prev = kLiteral;
      continue;
    }
    if (!decide(match_, match_state)) {
      // LZ match.
      uint32_t dist;
      if (!decide(lz_, lz_state)) {
        const unsigned slot = decode(lz_offset_);
        dist = kOffsetSlots.base[slot] + read_bits(kOffsetSlots.extra[slot]);
        lzq[3] = lzq[2];
        lzq[2] = lzq[1];
        lzq[1] = lzq[0];
        lzq[0] = dist;
      } else {
        unsigned j = !decide(lz_rep0_, lz_rep0_state) ? 0 : !decide(lz_rep1_, lz_rep1_state) ? 1 : 2;
        j += prev == kLz;
        dist = lzq[j];
        for (; j > 0; j--) lzq[j] = lzq[j - 1];
        lzq[0] = dist;
      }
      prev = kLz;
      refill();
      const unsigned lslot = decode(length_);
      const size_t len = kLengthSlots.base[lslot] + read_bits(kLengthSlots.extra[lslot]);
      if (dist > pos || len > usize - pos) return false;
      // §3.4: the source may overlap the destination.
      uint8_t* d = dst + pos;
      const uint8_t* s = d - dist;
      pos += len;
      if (len >= 64 && dist > 1) {
        // Long match: memcpy in non-overlapping pieces. The bytes from s on
        // repeat with period dist, so copying from s to any multiple of dist
        // further is right; the piece size doubles each time. (Short word
        // loops would stall on loads that straddle recent stores.)
        for (size_t left = len; left > 0;) {
          const size_t n = std::min(left, size_t(d - s));
          std::memcpy(d, s, n);
          d += n;
          left -= n;
        }
      } else if (dist >= 16 && usize - pos >= 16) {
        // Whole-word steps; each load reads bytes already written. May write
        // up to 15 bytes past the match, which later items overwrite.
        uint8_t* const end = dst + pos;
        do {
          std::memcpy(d, s, 16);
          d += 16;
          s += 16;
        } while (d < end);
      } else if (dist >= 8 && usize - pos >= 8) {
        uint8_t* const end = dst + pos;
        do {
          std::memcpy(d, s, 8);
          d += 8;
          s += 8;
        } while (d < end);
      } else if (dist == 1) {
        std::memset(d, d[-1], len);
      } else if (usize - pos >= 8) {
        // dist 2..7: the match repeats with period dist. Copy 8 bytes one
        // by one, then continue in 8-byte steps from a multiple of dist at
        // least 8 back (still inside the chunk: it is below dist + 8).
        for (unsigned k = 0; k < 8; k++) d[k] = s[k];
        if (len > 8) {
          static constexpr uint8_t kStep[8] = {0, 8, 8, 9, 8, 10, 12, 14};
          uint8_t* const end = dst + pos;
          uint8_t* p = d + 8;
          const uint8_t* q = p - kStep[dist];
          do {
            std::memcpy(p, q, 8);
            p += 8;
            q += 8;
          } while (p < end);
        }
      } else {
        for (size_t k = 0; k < len; k++) d[k] = s[k];
      }
    } else {
      // Delta match (§6.9).
      uint32_t power, raw;
      if (!decide(delta_, delta_state)) {
        power = decode(power_);
        refill();
        const unsigned slot = decode(delta_offset_);
        raw = kOffsetSlots.base[slot] + read_bits(kOffsetSlots.extra[slot]);
        for (unsigned k = 3; k > 0; k--) {
          dq_power[k] = dq_power[k - 1];
          dq_raw[k] = dq_raw[k - 1];
        }
        dq_power[0] = power;
        dq_raw[0] = raw;
      } else {
        unsigned j = !decide(delta_rep0_, delta_rep0_state) ? 0 : !decide(delta_rep1_, delta_rep1_state) ? 1 : 2;
        j += prev == kDelta;
        power = dq_power[j];
        raw = dq_raw[j];
        for (; j > 0; j--) {
          dq_power[j] = dq_power[j - 1];
          dq_raw[j] = dq_raw[j - 1];
        }
        dq_power[0] = power;
        dq_raw[0] = raw;
      }
      prev = kDelta;
      refill();
      const unsigned lslot = decode(length_);
      const size_t len = kLengthSlots.base[lslot] + read_bits(kLengthSlots.extra[lslot]);
      const uint64_t dist = uint64_t(raw) << power;
      const size_t span = size_t(1) << power;
      if (dist > UINT32_MAX || dist + span > pos || len > usize - pos) return false;
      uint8_t* d = dst + pos;
      // Pointers first: d[k - dist] would wrap k - dist as an unsigned index
      // (undefined pointer arithmetic, UBSan found it with archive_fuzz).
      const uint8_t* a = d - dist;
      const uint8_t* b = d - span;
      const uint8_t* c = d - dist - span;
      for (size_t k = 0; k < len; k++) d[k] = uint8_t(a[k] + b[k] - c[k]);
      pos += len;
    }
  }
  if (!codes_ok) return false;  // cannot happen: every LZMS code is complete

  // §6.10, decode direction.
  x86_.apply(dst, usize, false);
  return true;
}

}  // namespace

std::unique_ptr<Decompressor> make_lzms_decompressor(uint32_t /*max_chunk_size*/) {
  // The state is a few tens of kilobytes whatever the chunk size: the
  // decoder works in place on the output buffer.
  return make_decoder();
}

}  // namespace wp
