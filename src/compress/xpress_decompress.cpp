// XPRESS (Huffman variant) decompression, wim-codecs.md §4.
//
// Table-driven: an 11-bit root table with subtables for longer codewords
// (§3.2), a 64-bit bit buffer refilled several words at a time, and the
// §4.4 reader model tracked exactly so that raw length bytes are read from
// where a one-word-at-a-time reader would find them.
#include <algorithm>
#include <array>
#include <cstring>

#include "compress/codec_impl.hpp"
#include "compress/huffman_decode.hpp"
#include "compress/xpress_common.hpp"

namespace wp {
namespace {

using namespace xpress;

constexpr unsigned kRootBits = 11;
// Root plus the worst case of all subtables for 512 symbols, 15-bit codes,
// 11 root bits is 2566 entries (§3.2, zlib's `enough 512 11 15`). The array
// is rounded up to what a pointer entry can address; only the used part is
// ever touched.
constexpr unsigned kDecodeTableSize = 4096;

// Copies a match of `len` bytes from `offset` back (§3.4). The caller has
// checked both against the output bounds.
inline void copy_match(uint8_t* dst, size_t offset, size_t len, uint8_t* out_end) {
  const uint8_t* src = dst - offset;
  uint8_t* end = dst + len;
  if (size_t(out_end - end) >= 16) [[likely]] {
    // Word copies may write up to 15 bytes past `end`; they are rewritten later.
    uint64_t v;
    if (offset >= 8) {
      // Most matches are short: two words without a loop branch first.
      std::memcpy(&v, src, 8);
      std::memcpy(dst, &v, 8);
      std::memcpy(&v, src + 8, 8);
      std::memcpy(dst + 8, &v, 8);
      if (len > 16) [[unlikely]] {
        src += 16;
        dst += 16;
        do {
          std::memcpy(&v, src, 8);
          std::memcpy(dst, &v, 8);
          src += 8;
          dst += 8;
        } while (dst < end);
      }
    } else if (offset == 1) {
      v = 0x0101010101010101ull * *src;
      do {
        std::memcpy(dst, &v, 8);
        dst += 8;
      } while (dst < end);
    } else {
      // The first `offset` bytes of each word are already final; advancing
      // by `offset` keeps the period.
      do {
        std::memcpy(&v, src, 8);
        std::memcpy(dst, &v, 8);
        src += offset;
        dst += offset;
      } while (dst < end);
    }
  } else {
    do *dst++ = *src++;
    while (dst < end);
  }
}

class XpressDecompressor final : public Decompressor {
public:
  explicit XpressDecompressor(uint32_t max_chunk_size) : max_chunk_(max_chunk_size) {}

  bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) override;

private:
  uint32_t max_chunk_;
  std::array<uint8_t, kNumSymbols> lens_{};
  alignas(64) std::array<uint16_t, kDecodeTableSize> table_{};
};

// The bit reader. `bitbuf` holds `bitsleft` unconsumed bits at its top; below
// them sit either zeros or the exact next stream bits (refills OR words in).
// Words are loaded ahead of the §4.4 model; the model's position is recovered
// when a raw byte is needed (raw_bytes_position). Words past the end of the
// input read as zeros and are counted in `phantom`; consuming any of them
// means the chunk is truncated.
struct BitReader {
  const uint8_t* in;
  size_t in_size;
  size_t ip;  // next word to load; may run past in_size while feeding zeros
  uint64_t bitbuf = 0;
  unsigned bitsleft = 0;
  unsigned phantom = 0;  // zero-fill bits at the bottom of the unconsumed bits

  // Brings bitsleft above 48.
  inline void refill() {
    if (ip + 8 <= in_size) [[likely]] {
      uint64_t v = load64(in + ip);
      // Reorder 4 little-endian words so the first one is the most significant.
      v = ((v & 0x0000FFFF0000FFFFull) << 16) | ((v >> 16) & 0x0000FFFF0000FFFFull);
      v = (v << 32) | (v >> 32);
      bitbuf |= v >> bitsleft;
      unsigned words = (64 - bitsleft) >> 4;
      ip += 2 * words;
      bitsleft += 16 * words;
    } else {
      refill_slow();
    }
  }

  void refill_slow() {
    while (bitsleft <= 48) {
      uint64_t w = 0;
      if (ip + 2 <= in_size)
        w = load16(in + ip);
      else
        phantom += 16;
      bitbuf |= w << (48 - bitsleft);
      ip += 2;
      bitsleft += 16;
    }
  }

  inline void consume(unsigned n) {
    bitbuf <<= n;
    bitsleft -= n;
  }
  inline uint32_t pop(unsigned n) {  // n <= 15; n = 0 gives 0
    uint32_t v = uint32_t((bitbuf >> 1) >> (63 - n));
    consume(n);
    return v;
  }
  bool overrun() const { return phantom > bitsleft; }

  // Reads `n` raw bytes at the model's position P (§4.4) into `dst`, then
  // drops the read-ahead so the next word loads from after them. Requires
  // bitsleft >= 16.
  bool raw_bytes(uint8_t* dst, unsigned n) {
    unsigned model_bits = 16 + (bitsleft & 15);  // the model keeps 16..31 bits
    unsigned ahead = bitsleft - model_bits;      // multiple of 16
    size_t p = ip - ahead / 8;
    if (phantom > ahead) return false;  // the model's own window is past the end
    if (p + n > in_size) return false;
    std::memcpy(dst, in + p, n);
    phantom = 0;
    bitsleft = model_bits;
    bitbuf &= ~(~0ull >> model_bits);
    ip = p + n;
    return true;
  }
};

inline unsigned decode_symbol(BitReader& br, const uint16_t* table) {
  return huffman::decode_symbol<kRootBits>(table, br.bitbuf, br.bitsleft);
}

bool XpressDecompressor::decompress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t usize = out.size();
  if (usize == 0 || usize > max_chunk_) return false;
  if (in.size() < kMinCompressedSize || in.size() >= usize) return false;  // §2.3, §4.8
  for (unsigned i = 0; i < kTableBytes; i++) {
    lens_[2 * i] = in[i] & 15;
    lens_[2 * i + 1] = in[i] >> 4;
  }
  const uint16_t* table = table_.data();
  // §4.3, §4.8: the lengths must form a complete prefix code.
  if (!huffman::build_decode_table(table_.data(), kDecodeTableSize, kRootBits, lens_.data(), kNumSymbols,
                                   kMaxCodewordLen))
    return false;

  BitReader br{in.data(), in.size(), kTableBytes};

  uint8_t* const out_begin = out.data();
  uint8_t* const out_end = out_begin + usize;
  uint8_t* op = out_begin;
  for (;;) {
    // Two symbols (15 bits each), then a match's offset bits (15).
    if (br.bitsleft < 45) br.refill();
    unsigned sym = decode_symbol(br, table);
    if (sym < 256) {
      *op++ = uint8_t(sym);
      if (op == out_end) break;
      sym = decode_symbol(br, table);
      if (sym < 256) {
        *op++ = uint8_t(sym);
        if (op == out_end) break;
        continue;
      }
    }
    unsigned h = (sym - 256) & 15, k = (sym - 256) >> 4;
    size_t adj = h;
    if (h == 15) [[unlikely]] {
      if (br.bitsleft < 16) br.refill();
      uint8_t b;
      if (!br.raw_bytes(&b, 1)) return false;
      adj = 15 + b;
      if (b == 255) {
        uint8_t v[2];
        if (!br.raw_bytes(v, 2)) return false;
        adj = size_t(v[0]) | (size_t(v[1]) << 8);
      }
    }
    size_t offset = (size_t(1) << k) | br.pop(k);
    size_t len = adj + kMinMatch;
    if (offset > size_t(op - out_begin) || len > size_t(out_end - op)) return false;
    copy_match(op, offset, len, out_end);
    op += len;
    if (op == out_end) break;
  }
  return !br.overrun();
}

}  // namespace

std::unique_ptr<Decompressor> make_xpress_decompressor(uint32_t max_chunk_size) {
  return std::make_unique<XpressDecompressor>(max_chunk_size);
}

}  // namespace wp
