// LZX (WIM variant) decompression, wim-codecs.md §5.3-§5.12: a 64-bit bit
// buffer refilled a word at a time, root-plus-subtable decode tables rebuilt
// per block, and the E8 pass over the whole chunk at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "compress/codec_impl.hpp"
#include "compress/huffman_decode.hpp"
#include "compress/lzx_common.hpp"
#include "util/endian.hpp"
#include "util/error.hpp"

namespace wp {

namespace {

using namespace lzx;

constexpr uint32_t kMainRoot = 11, kLenRoot = 9, kAlignedRoot = 7, kPretreeRoot = 6;
// Worst-case sizes from §3.2 (zlib's `enough`), plus a little room.
constexpr uint32_t kMainTableSize = 2726 + 16;
constexpr uint32_t kLenTableSize = 878 + 16;
constexpr uint32_t kAlignedTableSize = 128;
constexpr uint32_t kPretreeTableSize = 582 + 16;

// MSB-first reader over 16-bit little-endian words (§1). Past the end of the
// input it feeds zero words and counts them; consuming any of those bits makes
// the chunk invalid (a valid stream never needs them).
struct BitReader {
  const uint8_t* begin;
  const uint8_t* p;
  const uint8_t* end;  // end of whole words
  uint64_t buf = 0;    // valid bits at the top
  uint32_t avail = 0;
  uint32_t overrun = 0;  // zero words fed past the end

  BitReader(const uint8_t* b, size_t n) : begin(b), p(b), end(b + (n & ~size_t(1))) {}

  // Afterwards at least 49 bits are buffered.
  inline void refill() {
    if (avail > 48) return;
    if (end - p >= 8) [[likely]] {
      // Up to four words at once: word i of the input goes to bits
      // 63-16i..48-16i of x, i.e. byte-reverse, then swap within words.
      uint64_t x = __builtin_bswap64(load_le64(p));
      x = ((x >> 8) & 0x00FF00FF00FF00FFull) | ((x & 0x00FF00FF00FF00FFull) << 8);
      const uint32_t words = (64 - avail) >> 4;  // 1..4
      const uint32_t nbits = words * 16;
      buf |= (nbits == 64 ? x : (x >> (64 - nbits)) << (64 - nbits - avail));
      p += 2 * words;
      avail += nbits;
      return;
    }
    while (avail <= 48) {
      if (end - p >= 2) {
        buf |= uint64_t(load_le16(p)) << (48 - avail);
        p += 2;
      } else {
        overrun++;
      }
      avail += 16;
    }
  }
  inline uint32_t peek(uint32_t n) const { return uint32_t(buf >> (64 - n)); }
  inline void drop(uint32_t n) {
    buf <<= n;
    avail -= n;
  }
  // n in 0..17 (a single refill covers it).
  inline uint32_t bits(uint32_t n) {
    if (avail < n) refill();
    if (n == 0) return 0;
    uint32_t v = peek(n);
    drop(n);
    return v;
  }
  bool overran() const { return overrun * 16 > avail; }
  // Bits consumed since `begin`, counting zero words fed past the end.
  size_t consumed_bits() const { return size_t(p - begin) * 8 + size_t(overrun) * 16 - avail; }
  void reset_at(const uint8_t* q) {
    p = q;
    buf = 0;
    avail = 0;
    overrun = 0;
  }
};

// An all-zero code (allowed, §5.5) decodes as symbol 0 without consuming bits.
bool build_table(uint16_t* table, uint32_t capacity, uint32_t root, const uint8_t* lens, uint32_t nsyms,
                 uint32_t maxlen) {
  return huffman::build_decode_table(table, capacity, root, lens, nsyms, maxlen, true);
}

template <uint32_t Root, bool HasSubtables = true>
inline uint32_t decode_sym(BitReader& br, const uint16_t* table) {
  return huffman::decode_symbol<Root, HasSubtables>(table, br.buf, br.avail);
}

class LzxDecompressor final : public Decompressor {
public:
  explicit LzxDecompressor(uint32_t max_chunk_size) : window_(window_for(max_chunk_size)) {
    if (window_ == 0)
      fail(Errc::Unsupported, "LZX chunk size " + std::to_string(max_chunk_size) +
                                  " is beyond the 2 MiB the format allows (wim-codecs.md §2.2)");
    nmain_ = 256 + 8 * slots_for(window_);
  }

  bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (out.size() > window_) return false;
    if (!decode(in, out)) return false;
    if (may_have_e8_) e8_decode(out.data(), out.size());
    return true;
  }

private:
  bool read_lengths(BitReader& br, uint8_t* lens, uint32_t start, uint32_t stop);
  bool decode(std::span<const uint8_t> in, std::span<uint8_t> out);
  bool decode_items(BitReader& br, uint8_t* out, uint32_t pos, uint32_t end, bool aligned);

  uint32_t window_;
  uint32_t nmain_;
  bool may_have_e8_ = false;
  uint32_t r_[3] = {1, 1, 1};
  uint8_t main_lens_[kMaxMainSymbols];
  uint8_t len_lens_[kLenSymbols];
  uint8_t aligned_lens_[kAlignedSymbols];
  uint8_t pre_lens_[kPretreeSymbols];
  alignas(64) uint16_t main_table_[kMainTableSize];
  alignas(64) uint16_t len_table_[kLenTableSize];
  alignas(64) uint16_t aligned_table_[kAlignedTableSize];
  alignas(64) uint16_t pre_table_[kPretreeTableSize];
};

// §5.5: one part of the code lengths, as differences from the previous
// block's lengths through a freshly sent pretree.
bool LzxDecompressor::read_lengths(BitReader& br, uint8_t* lens, uint32_t start, uint32_t stop) {
  br.refill();
  for (uint32_t i = 0; i < kPretreeSymbols; i++) {
    if (br.avail < 4) br.refill();
    pre_lens_[i] = uint8_t(br.peek(4));
    br.drop(4);
  }
  if (!build_table(pre_table_, kPretreeTableSize, kPretreeRoot, pre_lens_, kPretreeSymbols,
                          kPretreeMaxLen))
    return false;
  uint32_t i = start;
  while (i < stop) {
    br.refill();  // one item takes at most 15 + 5 bits, or 15 + 1 + 15 for symbol 19
    uint32_t sym = decode_sym<kPretreeRoot>(br, pre_table_);
    if (sym <= 16) {
      lens[i] = uint8_t((lens[i] + 17 - sym) % 17);
      i++;
    } else if (sym == 17 || sym == 18) {
      uint32_t run = sym == 17 ? 4 + br.bits(4) : 20 + br.bits(5);
      if (run > stop - i) return false;
      std::memset(lens + i, 0, run);
      i += run;
    } else {
      uint32_t run = 4 + br.bits(1);
      uint32_t d = decode_sym<kPretreeRoot>(br, pre_table_);
      // wimlib takes d = 17 as "unchanged"; (prev + 17 - 17) % 17 gives just that.
      if (d > 17 || run > stop - i) return false;
      uint8_t v = uint8_t((lens[i] + 17 - d) % 17);
      std::memset(lens + i, v, run);
      i += run;
    }
  }
  return !br.overran();
}

bool LzxDecompressor::decode(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const uint32_t usize = uint32_t(out.size());
  std::memset(main_lens_, 0, nmain_);
  std::memset(len_lens_, 0, kLenSymbols);
  r_[0] = r_[1] = r_[2] = 1;
  may_have_e8_ = false;
  BitReader br(in.data(), in.size());
  uint32_t pos = 0;
  while (pos < usize) {
    br.refill();
    uint32_t type = br.bits(3);
    uint32_t size;
    if (br.bits(1))
      size = 32768;
    else if (window_ == 32768)
      size = br.bits(16);
    else {
      size = br.bits(8) << 16;  // §5.4: wimlib's 24-bit field for W >= 64 KiB
      size |= br.bits(16);
    }
    if (size == 0 || size > usize - pos) return false;

    if (type == kUncompressed) {
      // §5.8: realign to the next word boundary (1..16 padding bits).
      size_t byte_pos = (br.consumed_bits() / 16 + 1) * 2;
      if (byte_pos > in.size() || in.size() - byte_pos < 12 + size_t(size)) return false;
      const uint8_t* q = in.data() + byte_pos;
      for (int k = 0; k < 3; k++) {
        r_[k] = load_le32(q + 4 * k);
        if (r_[k] == 0) return false;
      }
      q += 12;
      std::memcpy(out.data() + pos, q, size);
      q += size;
      pos += size;
      if ((size & 1) && q < in.data() + in.size()) q++;
      br.reset_at(q);
      may_have_e8_ = true;
      continue;
    }
    if (type != kVerbatim && type != kAligned) return false;
    const bool aligned = type == kAligned;
    if (aligned) {
      for (uint32_t i = 0; i < kAlignedSymbols; i++) aligned_lens_[i] = uint8_t(br.bits(3));
      if (!build_table(aligned_table_, kAlignedTableSize, kAlignedRoot, aligned_lens_,
                              kAlignedSymbols, kAlignedMaxLen))
        return false;
    }
    if (!read_lengths(br, main_lens_, 0, 256) || !read_lengths(br, main_lens_, 256, nmain_) ||
        !read_lengths(br, len_lens_, 0, kLenSymbols))
      return false;
    if (!build_table(main_table_, kMainTableSize, kMainRoot, main_lens_, nmain_, kMainMaxLen) ||
        !build_table(len_table_, kLenTableSize, kLenRoot, len_lens_, kLenSymbols, kLenMaxLen))
      return false;
    if (main_lens_[0xE8]) may_have_e8_ = true;
    if (!decode_items(br, out.data(), pos, pos + size, aligned)) return false;
    pos += size;
  }
  return !br.overran();
}

// Copies a match of `len` bytes from `offset` back (§3.4). `room` is the
// number of bytes from dst to the end of the block: while it exceeds len by
// 16, the copy may write up to 15 bytes past the match (later bytes of the
// block overwrite them), so most matches take one or two 16-byte steps.
inline void copy_match(uint8_t* dst, uint32_t offset, uint32_t len, size_t room) {
  const uint8_t* src = dst - offset;
  uint8_t* const stop = dst + len;
  if (room >= size_t(len) + 16) [[likely]] {
    if (offset >= 16) {
      do {
        std::memcpy(dst, src, 16);
        dst += 16;
        src += 16;
      } while (dst < stop);
      return;
    }
    if (offset >= 8) {
      do {
        std::memcpy(dst, src, 8);
        dst += 8;
        src += 8;
      } while (dst < stop);
      return;
    }
  }
  if (offset == 1) {
    std::memset(dst, *src, len);
  } else {
    for (uint32_t i = 0; i < len; i++) dst[i] = src[i];
  }
}

bool LzxDecompressor::decode_items(BitReader& br_in, uint8_t* out, uint32_t pos, uint32_t end, bool aligned) {
  uint8_t* dst = out + pos;
  uint8_t* const block_end = out + end;
  // Work on local copies: byte stores into `out` may alias anything, so state
  // reached through pointers would be reloaded after every literal.
  BitReader br = br_in;
  const uint16_t* const main_table = main_table_;
  const uint16_t* const len_table = len_table_;
  const uint16_t* const aligned_table = aligned_table_;
  uint32_t r0 = r_[0], r1 = r_[1], r2 = r_[2];
  while (dst < block_end) {
    // A refill leaves >= 49 bits: room for three literals (16 bits each).
    br.refill();
    uint32_t sym = decode_sym<kMainRoot>(br, main_table);
    if (sym < 256) {
      *dst++ = uint8_t(sym);
      if (dst == block_end) break;
      sym = decode_sym<kMainRoot>(br, main_table);
      if (sym < 256) {
        *dst++ = uint8_t(sym);
        if (dst == block_end) break;
        sym = decode_sym<kMainRoot>(br, main_table);
        if (sym < 256) {
          *dst++ = uint8_t(sym);
          continue;
        }
      }
    }
    // A match: length symbol and footer need at most 16 + 21 bits.
    br.refill();
    sym -= 256;
    uint32_t len = sym & 7;
    uint32_t slot = sym >> 3;
    if (len == 7) len += decode_sym<kLenRoot>(br, len_table);
    len += kMinMatch;
    uint32_t offset;
    if (slot < 3) {
      // §5.7: R0 stays, R1 swaps with R0, R2 swaps with R0.
      if (slot == 0) {
        offset = r0;
      } else if (slot == 1) {
        offset = r1;
        r1 = r0;
        r0 = offset;
      } else {
        offset = r2;
        r2 = r0;
        r0 = offset;
      }
    } else {
      uint32_t nbits = kSlots.footer[slot];
      uint32_t footer;
      // >= 37 bits are buffered; (buf >> 1) >> (63 - n) is the next n bits,
      // also for n = 0.
      if (aligned && nbits >= 3) {
        footer = uint32_t((br.buf >> 1) >> (63 - (nbits - 3))) << 3;
        br.drop(nbits - 3);
        footer |= decode_sym<kAlignedRoot, false>(br, aligned_table);
      } else {
        footer = uint32_t((br.buf >> 1) >> (63 - nbits));
        br.drop(nbits);
      }
      offset = kSlots.base[slot] + footer - 2;
      r2 = r1;
      r1 = r0;
      r0 = offset;
    }
    if (offset > uint32_t(dst - out) || len > uint32_t(block_end - dst)) [[unlikely]]
      return false;
    copy_match(dst, offset, len, size_t(block_end - dst));
    dst += len;
  }
  r_[0] = r0;
  r_[1] = r1;
  r_[2] = r2;
  br_in = br;
  return !br.overran();
}

}  // namespace

std::unique_ptr<Decompressor> make_lzx_decompressor(uint32_t max_chunk_size) {
  return std::make_unique<LzxDecompressor>(max_chunk_size);
}

}  // namespace wp
