// LZX (WIM variant) codec tests: the §7.6 vector, hand-built streams for the
// edge cases wimlib never writes, malformed input, and a differential loop
// against libwim in both directions (wim-codecs.md §5, §7).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "compress/codec.hpp"
#include "compress/lzx_common.hpp"
#include "util/endian.hpp"

#ifdef WIMPACK_HAVE_LIBWIM
#include <wimlib.h>
#endif

using namespace wp;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes random_bytes(size_t n, uint32_t seed = 1) {
  Bytes v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

Bytes read_file_prefix(const char* path, size_t max) {
  std::ifstream f(path, std::ios::binary);
  Bytes v;
  if (!f) return v;
  v.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (v.size() > max) v.resize(max);
  return v;
}

// English-like text with a skewed word distribution, prefixed by real header
// text when the system has it.
Bytes text_bytes(size_t n) {
  Bytes v = read_file_prefix("/usr/include/stdio.h", n);
  const char* words[] = {"the ",   "of ",     "and ",  "compression ", "window ", "offset ",
                         "match ", "length ", "block\n", "Huffman ",    "code ",   "x86 "};
  std::mt19937 rng(42);
  while (v.size() < n) {
    const char* w = words[std::min<uint32_t>(rng() % 16, 11)];
    while (*w && v.size() < n) v.push_back(uint8_t(*w++));
  }
  return v;
}

// Real machine code when available (it has E8 calls), else a synthetic mix
// of call instructions, operand patterns and filler.
Bytes x86_bytes(size_t n) {
  Bytes v = read_file_prefix("/usr/bin/ls", n);
  std::mt19937 rng(3);
  const int32_t operands[] = {0, 5, -5, 11999990, 12000000, -1, 0x7FFFFFFF, INT32_MIN, 0x1000, -0x2000};
  while (v.size() < n) {
    switch (rng() % 4) {
      case 0: {
        v.push_back(0xE8);
        int32_t x = operands[rng() % 10];
        for (int k = 0; k < 4; k++) v.push_back(uint8_t(uint32_t(x) >> (8 * k)));
        break;
      }
      case 1:
        for (int k = 0; k < 3; k++) v.push_back(0xE8);  // runs of consecutive E8 bytes
        break;
      case 2:
        v.push_back(0x48);
        v.push_back(0x8B);
        v.push_back(uint8_t(rng() % 8));
        break;
      default:
        v.push_back(uint8_t(rng() % 64));
    }
  }
  v.resize(n);
  return v;
}

// E8 bytes in the last 10 positions of the chunk (never translated).
Bytes e8_tail_bytes(size_t n) {
  Bytes v = text_bytes(n);
  for (size_t i = n >= 12 ? n - 12 : 0; i < n; i++) v[i] = 0xE8;
  return v;
}

// MSB-first word writer for hand-built streams (§1).
struct BitSink {
  Bytes bytes;
  uint32_t acc = 0, n = 0;
  void put(uint32_t v, uint32_t bits) {
    for (int i = int(bits) - 1; i >= 0; i--) {
      acc = (acc << 1) | ((v >> i) & 1);
      if (++n == 16) {
        bytes.push_back(uint8_t(acc));
        bytes.push_back(uint8_t(acc >> 8));
        acc = 0;
        n = 0;
      }
    }
  }
  void flush() {
    if (n) put(0, 16 - n);
  }
  void raw(const void* p, size_t k) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + k);
  }
  void raw32(uint32_t v) {
    for (int k = 0; k < 4; k++) bytes.push_back(uint8_t(v >> (8 * k)));
  }
};

// Uncompressed block header and payload (§5.8), with the realignment rule
// applied to the bits written so far.
void put_uncompressed(BitSink& s, const Bytes& data, uint32_t r0, uint32_t r1, uint32_t r2, bool window32k = true,
                      bool pad_odd = true) {
  s.put(3, 3);
  if (data.size() == 32768) {
    s.put(1, 1);
  } else {
    s.put(0, 1);
    if (window32k) {
      s.put(uint32_t(data.size()), 16);
    } else {
      s.put(uint32_t(data.size()) >> 16, 8);
      s.put(uint32_t(data.size()) & 0xFFFF, 16);
    }
  }
  if (s.n == 0)
    s.put(0, 16);  // already aligned: 16 more padding bits
  else
    s.flush();
  s.raw32(r0);
  s.raw32(r1);
  s.raw32(r2);
  s.raw(data.data(), data.size());
  if ((data.size() & 1) && pad_odd) s.bytes.push_back(0);
}

// Sends one part of the code lengths with a pretree of 16 four-bit codes
// (pretree symbol d has codeword d), every length a plain difference from
// the previous block's (§5.5), or from 0 when prev is null.
void put_lengths_part(BitSink& s, const uint8_t* lens, uint32_t count, const uint8_t* prev = nullptr) {
  for (uint32_t i = 0; i < 20; i++) s.put(i < 16 ? 4 : 0, 4);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t d = ((prev ? prev[i] : 0) + 17 - lens[i]) % 17;  // len = (prev - d) mod 17
    REQUIRE(d < 16);
    s.put(d, 4);
  }
}

void put_block_header(BitSink& s, uint32_t type, uint32_t size, bool window32k) {
  s.put(type, 3);
  if (size == 32768) {
    s.put(1, 1);
  } else {
    s.put(0, 1);
    if (window32k) {
      s.put(size, 16);
    } else {
      s.put(size >> 16, 8);
      s.put(size & 0xFFFF, 16);
    }
  }
}

// A verbatim block of literals only. Main code: literals 0..253 get 8-bit
// codewords equal to their value; 254, 255 and the unused match symbols 256,
// 257 get 9 bits (codewords 508..511). The 9-bit literals let a test steer
// the bit count. `again`: the previous compressed block of the chunk was one
// of these too, so the lengths are sent as differences from the same lengths.
void put_literal_block(BitSink& s, const Bytes& data, uint32_t nmain, bool window32k, bool again = false) {
  put_block_header(s, 1, uint32_t(data.size()), window32k);
  std::vector<uint8_t> main_lens(nmain, 0), len_lens(249, 0);
  for (int i = 0; i < 258; i++) main_lens[i] = i < 254 ? 8 : 9;
  const uint8_t* prev = again ? main_lens.data() : nullptr;
  put_lengths_part(s, main_lens.data(), 256, prev);
  put_lengths_part(s, main_lens.data() + 256, nmain - 256, prev ? prev + 256 : nullptr);
  put_lengths_part(s, len_lens.data(), 249, again ? len_lens.data() : nullptr);
  for (uint8_t b : data) {
    if (b < 254)
      s.put(b, 8);
    else
      s.put(508 + (b - 254), 9);
  }
}

Bytes decode(Decompressor& d, const Bytes& in, size_t usize, bool* ok) {
  Bytes out(usize);
  *ok = d.decompress(in, out);
  return out;
}

const Bytes kFoxVector = {
    0x38, 0x20, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x40, 0x13, 0x43, 0x40, 0xcd, 0x4a, 0x58, 0xe9, 0x8f, 0xce,
    0x9f, 0x30, 0x84, 0x30, 0x5f, 0x7a, 0xd5, 0xdf, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x80, 0x19, 0x08, 0x01,
    0xdf, 0x47, 0x3e, 0x23, 0xc0, 0xfb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x1f, 0x02, 0xff, 0xc6,
    0xe0, 0xff, 0xe8, 0x39, 0x1d, 0x79, 0xdc, 0x71, 0x0b, 0xc2, 0x8c, 0x2e, 0x66, 0xd6, 0xe7, 0xd1, 0x45, 0xbf,
    0x20, 0xfd, 0xf4, 0x7c, 0xbe, 0x38, 0x32, 0xb4, 0x2e, 0x5d, 0x6f, 0x1d, 0xac, 0xb5};

Bytes fox_text() {
  std::string s;
  for (int i = 0; i < 20; i++) s += "The quick brown fox jumps over the lazy dog. ";
  return Bytes(s.begin(), s.end());
}

}  // namespace

TEST_CASE("LZX slot tables and E8 translation follow wim-codecs.md 5.6 and 5.9") {
  using namespace lzx;
  CHECK(kSlots.base[4] == 4);
  CHECK(kSlots.base[10] == 32);
  CHECK(kSlots.base[29] == 24576);
  CHECK(kSlots.base[36] == 262144);
  CHECK(kSlots.base[49] == 262144 + 13 * 131072);
  for (uint32_t f = 3; f < (2u << 20); f += (f < 5000 ? 1 : 997)) {
    uint32_t s = slot_of(f);
    REQUIRE(kSlots.base[s] <= f);
    REQUIRE(f < kSlots.base[s + 1]);
  }
  CHECK(window_for(1) == 32768);
  CHECK(window_for(40000) == 65536);
  CHECK(window_for(2u << 20) == (2u << 20));
  CHECK(window_for((2u << 20) + 1) == 0);

  // The worked numbers of §5.9.
  Bytes d(200, 0);
  d[100] = 0xE8;
  store_le32(&d[101], 0x10);
  e8_encode(d.data(), d.size());
  CHECK(load_le32(&d[101]) == 116);
  e8_decode(d.data(), d.size());
  CHECK(load_le32(&d[101]) == 16);
  store_le32(&d[101], 11999990);
  e8_encode(d.data(), d.size());
  CHECK(int32_t(load_le32(&d[101])) == -10);
  e8_decode(d.data(), d.size());
  CHECK(load_le32(&d[101]) == 11999990);
  // Inverse on arbitrary data, including E8 runs and the untranslated tail.
  for (size_t n : {size_t(0), size_t(10), size_t(11), size_t(15), size_t(5000)}) {
    Bytes a = x86_bytes(n), b = a;
    e8_encode(b.data(), b.size());
    if (n > 0 && n <= 10) CHECK(a == b);
    e8_decode(b.data(), b.size());
    CHECK(a == b);
  }
  // An E8 at n-10 is never translated; one at n-11 is.
  Bytes t(30, 0);
  t[20] = 0xE8;
  store_le32(&t[21], 1);
  Bytes u = t;
  e8_encode(u.data(), u.size());
  CHECK(u == t);
  t[20] = 0;
  t[19] = 0xE8;
  store_le32(&t[20], 1);
  u = t;
  e8_encode(u.data(), u.size());
  CHECK(load_le32(&u[20]) == 1 + 19);
}

TEST_CASE("LZX decoder reproduces the wim-codecs.md 7.6 vector") {
  auto d = make_decompressor(Codec::Lzx, 32768);
  bool ok = false;
  Bytes out = decode(*d, kFoxVector, 900, &ok);
  REQUIRE(ok);
  CHECK(out == fox_text());
  // Wrong output size: the last block would not end at usize.
  Bytes shorter(899), longer(901);
  CHECK(!d->decompress(kFoxVector, shorter));
  CHECK(!d->decompress(kFoxVector, longer));
  // Every truncation is refused.
  for (size_t k = 0; k < kFoxVector.size(); k++) {
    Bytes cut(kFoxVector.begin(), kFoxVector.begin() + k);
    CHECK(!decode(*d, cut, 900, &ok).empty());
    CHECK(!ok);
  }
  // The same context still decodes correctly after failures.
  out = decode(*d, kFoxVector, 900, &ok);
  CHECK(ok);
  CHECK(out == fox_text());
}

TEST_CASE("LZX decoder handles uncompressed blocks and rejects malformed streams") {
  auto d32 = make_decompressor(Codec::Lzx, 32768);
  auto d64 = make_decompressor(Codec::Lzx, 65536);
  bool ok = false;

  SUBCASE("uncompressed blocks: both realignment cases, odd sizes, E8 pass, repeat offsets") {
    // A literal block then an uncompressed block then another literal block.
    // Varying the literal count and the number of 9-bit literals moves the
    // uncompressed header to every bit phase, so both padding cases of §5.8
    // (1..15 bits, and a full 16 when already aligned) occur.
    int aligned_seen = 0, unaligned_seen = 0;
    for (bool w32 : {true, false}) {
      auto& d = w32 ? *d32 : *d64;
      uint32_t nmain = w32 ? 496 : 512;
      for (size_t k = 1; k <= 24; k++) {
        CAPTURE(k);
        Bytes lit = text_bytes(k);
        for (size_t i = 0; i < k; i += 2) lit[i] = 0xFF;  // 9-bit literals
        Bytes raw = x86_bytes(k * 7 + 1);
        Bytes tail = text_bytes(50);
        Bytes whole = lit;
        whole.insert(whole.end(), raw.begin(), raw.end());
        whole.insert(whole.end(), tail.begin(), tail.end());
        Bytes translated = whole;  // encoders put E8-translated bytes in raw blocks
        lzx::e8_encode(translated.data(), translated.size());
        BitSink s;
        put_literal_block(s, Bytes(translated.begin(), translated.begin() + k), nmain, w32);
        uint32_t header_bits = w32 ? 20 : 28;
        ((s.n + header_bits) % 16 == 0 ? aligned_seen : unaligned_seen)++;
        put_uncompressed(s, Bytes(translated.begin() + k, translated.begin() + k + raw.size()), 3, 2, 1, w32);
        put_literal_block(s, Bytes(translated.begin() + k + raw.size(), translated.end()), nmain, w32, true);
        s.flush();
        Bytes out = decode(d, s.bytes, whole.size(), &ok);
        REQUIRE(ok);
        CHECK(out == whole);
      }
    }
    CHECK(aligned_seen > 0);
    CHECK(unaligned_seen > 0);
  }

  SUBCASE("repeat offsets loaded from an uncompressed block are used and validated") {
    // Uncompressed "abcdef" with R = 3, 1, 1; then a block whose one match
    // is slot 0 (R0 = 3), length 4 -> "defd". Main code as in
    // put_literal_block but with 9-bit codes for symbols 254..257: symbol
    // 256 (slot 0, length 2) and 257 (slot 0, length 3).
    BitSink s;
    put_uncompressed(s, Bytes{'a', 'b', 'c', 'd', 'e', 'f'}, 3, 1, 1);
    put_block_header(s, 1, 3, true);
    std::vector<uint8_t> main_lens(496, 0), len_lens(249, 0);
    for (int i = 0; i < 258; i++) main_lens[i] = i < 254 ? 8 : 9;
    put_lengths_part(s, main_lens.data(), 256);
    put_lengths_part(s, main_lens.data() + 256, 240);
    put_lengths_part(s, len_lens.data(), 249);
    s.put(511, 9);  // symbol 257: R0, length 3
    s.flush();
    Bytes out = decode(*d32, s.bytes, 9, &ok);
    REQUIRE(ok);
    CHECK(std::string(out.begin(), out.end()) == "abcdefdef");
    // R0 = 7 > position 6: refused.
    BitSink t;
    put_uncompressed(t, Bytes{'a', 'b', 'c', 'd', 'e', 'f'}, 7, 1, 1);
    t.bytes.insert(t.bytes.end(), s.bytes.begin() + long(t.bytes.size()), s.bytes.end());
    decode(*d32, t.bytes, 9, &ok);
    CHECK(!ok);
  }

  SUBCASE("bad block types, sizes and repeat offsets") {
    for (uint32_t type : {0u, 4u, 5u, 6u, 7u}) {
      BitSink s;
      s.put(type, 3);
      s.put(0, 1);
      s.put(100, 16);
      for (int i = 0; i < 40; i++) s.put(0x5A5A, 16);
      decode(*d32, s.bytes, 100, &ok);
      CHECK(!ok);
    }
    // Size 0, and a size larger than what remains.
    for (uint32_t size : {0u, 101u}) {
      BitSink s;
      put_uncompressed(s, Bytes(100, 'a'), 1, 1, 1);
      // Patch the 16-bit size field: rebuild by hand.
      BitSink t;
      t.put(3, 3);
      t.put(0, 1);
      t.put(size, 16);
      t.flush();
      t.raw32(1);
      t.raw32(1);
      t.raw32(1);
      t.raw(Bytes(200, 'a').data(), 200);
      decode(*d32, t.bytes, 100, &ok);
      CHECK(!ok);
    }
    // Repeat offsets of zero in an uncompressed block header.
    for (int k = 0; k < 3; k++) {
      BitSink s;
      put_uncompressed(s, Bytes(10, 'a'), k == 0 ? 0 : 1, k == 1 ? 0 : 1, k == 2 ? 0 : 1);
      decode(*d32, s.bytes, 10, &ok);
      CHECK(!ok);
    }
    // Truncated uncompressed payload.
    BitSink s;
    put_uncompressed(s, Bytes(100, 'a'), 1, 1, 1);
    Bytes cut(s.bytes.begin(), s.bytes.end() - 3);
    decode(*d32, cut, 100, &ok);
    CHECK(!ok);
    // Trailing bytes after a complete stream are padding, accepted.
    // A missing odd-size padding byte at the very end is tolerated too.
    BitSink odd;
    put_uncompressed(odd, Bytes(5, 'z'), 1, 1, 1, true, false);
    Bytes out = decode(*d32, odd.bytes, 5, &ok);
    CHECK(ok);
    CHECK(out == Bytes(5, 'z'));
  }

  SUBCASE("corrupt code lengths") {
    // Over-subscribed pretree: 20 lengths of 1.
    BitSink s;
    s.put(1, 3);
    s.put(0, 1);
    s.put(100, 16);
    for (int i = 0; i < 20; i++) s.put(1, 4);
    for (int i = 0; i < 40; i++) s.put(0, 16);
    decode(*d32, s.bytes, 100, &ok);
    CHECK(!ok);
    // Incomplete main code: only 255 literals at length 8.
    BitSink t;
    t.put(1, 3);
    t.put(0, 1);
    t.put(100, 16);
    std::vector<uint8_t> lens(496, 0), len_lens(249, 0);
    for (int i = 0; i < 255; i++) lens[i] = 8;
    put_lengths_part(t, lens.data(), 256);
    put_lengths_part(t, lens.data() + 256, 240);
    put_lengths_part(t, len_lens.data(), 249);
    for (int i = 0; i < 100; i++) t.put(65, 8);
    t.flush();
    decode(*d32, t.bytes, 100, &ok);
    CHECK(!ok);
    // Run of zeros past the end of a part: symbol 18 with 51 zeros at 240.
    BitSink u;
    u.put(1, 3);
    u.put(0, 1);
    u.put(100, 16);
    for (uint32_t i = 0; i < 20; i++) u.put(i == 0 || i == 18 ? 1 : 0, 4);  // codes: 0 -> "0", 18 -> "1"
    for (int i = 0; i < 6; i++) u.put(1, 1), u.put(31, 5);  // 6 x 51 zeros: the sixth runs past 256
    for (int i = 0; i < 40; i++) u.put(0, 16);
    decode(*d32, u.bytes, 100, &ok);
    CHECK(!ok);
  }

  SUBCASE("matches before the chunk start and across the block end") {
    // A complete 9-bit main code over 512 symbols (W = 64 KiB: 256 literals
    // and slots 0..31), so symbol s has codeword s; the length code has four
    // 2-bit codewords.
    auto block = [&](uint32_t size, const std::vector<uint32_t>& syms, const std::vector<std::pair<uint32_t, uint32_t>>& extra) {
      BitSink s;
      s.put(1, 3);
      s.put(0, 1);
      s.put(size >> 16, 8);
      s.put(size & 0xFFFF, 16);
      std::vector<uint8_t> lens(512, 9), len_lens(249, 0);
      for (int i = 0; i < 4; i++) len_lens[i] = 2;
      put_lengths_part(s, lens.data(), 256);
      put_lengths_part(s, lens.data() + 256, 256);
      put_lengths_part(s, len_lens.data(), 249);
      size_t e = 0;
      for (uint32_t sym : syms) {
        s.put(sym, 9);
        if (sym >= 256 && e < extra.size()) {
          s.put(extra[e].first, extra[e].second);
          e++;
        }
      }
      s.flush();
      return s.bytes;
    };
    // 4 literals then a match of length 2 at repeat slot 0 (R0 = 1): valid.
    Bytes ok_stream = block(6, {'a', 'b', 'c', 'd', 256 + 0}, {});
    Bytes out = decode(*d64, ok_stream, 6, &ok);
    REQUIRE(ok);
    CHECK(std::string(out.begin(), out.end()) == "abcddd");
    // Match at position 0 using R0 = 1: before the chunk start.
    decode(*d64, block(2, {256 + 0}, {}), 2, &ok);
    CHECK(!ok);
    // Explicit offset 5 (slot 5, footer 1 bit = 1) after 4 literals.
    decode(*d64, block(6, {'a', 'b', 'c', 'd', 256 + 8 * 5}, {{1, 1}}), 6, &ok);
    CHECK(!ok);
    // Match of length 3 where only 2 bytes remain in the block.
    decode(*d64, block(6, {'a', 'b', 'c', 'd', 256 + 1}, {}), 6, &ok);
    CHECK(!ok);
  }
}

TEST_CASE("LZX decoder survives garbage at every chunk size") {
  std::mt19937 rng(99);
  for (uint32_t chunk : {32768u, 65536u, 1u << 20}) {
    auto d = make_decompressor(Codec::Lzx, chunk);
    for (int iter = 0; iter < 300; iter++) {
      Bytes in = random_bytes(1 + rng() % 3000, rng());
      if (iter % 3 == 0) in[0] = uint8_t((in[0] & 0x1F) | 0x20);  // verbatim header, to get deeper
      Bytes out(1 + rng() % 40000);
      (void)d->decompress(in, out);
    }
    Bytes big(chunk + 1);
    CHECK(!d->decompress(kFoxVector, big));
  }
}

namespace {

// Compresses `in` with our encoder, checks the size contract, and decodes it
// with our decoder (and libwim's when available).
void check_round_trip(Compressor& c, Decompressor& d, const Bytes& in, uint32_t chunk, const char* what) {
  CAPTURE(what);
  CAPTURE(in.size());
  Bytes out(in.size() + 64), back(in.size());
  size_t n = c.compress(in, std::span<uint8_t>(out.data(), in.size()));
  REQUIRE(n < std::max<size_t>(in.size(), 1));
  if (n == 0) return;  // stored raw
  REQUIRE(d.decompress(std::span<const uint8_t>(out.data(), n), back));
  REQUIRE(back == in);
  // A too-small output buffer makes the encoder give up rather than overflow.
  if (n > 2) {
    Bytes small(n - 2);
    CHECK(c.compress(in, small) == 0);
  }
#ifdef WIMPACK_HAVE_LIBWIM
  struct wimlib_decompressor* wd = nullptr;
  REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZX, chunk, &wd) == 0);
  std::fill(back.begin(), back.end(), 0);
  CHECK(wimlib_decompress(out.data(), n, back.data(), back.size(), wd) == 0);
  CHECK(back == in);
  wimlib_free_decompressor(wd);
#else
  (void)chunk;
#endif
}

std::vector<std::pair<const char*, Bytes>> corpus(size_t n) {
  return {{"text", text_bytes(n)},     {"x86", x86_bytes(n)},           {"zeros", Bytes(n, 0)},
          {"random", random_bytes(n)}, {"e8-tail", e8_tail_bytes(n)}};
}

}  // namespace

TEST_CASE("LZX encoder round-trips through our decoder and libwim's") {
  for (uint32_t chunk : {32768u, 65536u, 131072u, 1u << 20, 2u << 20}) {
    CAPTURE(chunk);
    auto d = make_decompressor(Codec::Lzx, chunk);
    for (int level : {1, 20, 50, 100}) {
      CAPTURE(level);
      auto c = make_compressor(Codec::Lzx, level, chunk);
      // Full chunks for the small sizes; for 1 and 2 MiB a full chunk at the
      // default level only, to keep the run short.
      bool full = chunk <= 131072 || level == 50;
      size_t n = full ? chunk : 300000;
      for (auto& [what, data] : corpus(n)) check_round_trip(*c, *d, data, chunk, what);
      // Odd sizes: 1 byte, chunk - 1, a short last chunk with E8 bytes at the end.
      for (size_t k : {size_t(1), size_t(2), size_t(11), size_t(64), size_t(chunk - 1), size_t(chunk / 3 + 7)}) {
        if (!full && k > 300000) continue;
        check_round_trip(*c, *d, e8_tail_bytes(k), chunk, "e8-tail odd size");
        check_round_trip(*c, *d, x86_bytes(k), chunk, "x86 odd size");
      }
    }
  }
}

#ifdef WIMPACK_HAVE_LIBWIM
TEST_CASE("LZX decoder decodes libwim's output at every chunk size and level") {
  for (uint32_t chunk : {32768u, 65536u, 131072u, 1u << 20, 2u << 20}) {
    CAPTURE(chunk);
    auto d = make_decompressor(Codec::Lzx, chunk);
    for (int level : {1, 20, 50, 100}) {
      CAPTURE(level);
      struct wimlib_compressor* wc = nullptr;
      REQUIRE(wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZX, chunk, unsigned(level), &wc) == 0);
      bool full = chunk <= 131072 || level == 50;
      size_t n = full ? chunk : 300000;
      auto data = corpus(n);
      data.push_back({"fox", fox_text()});
      for (size_t k : {size_t(1), size_t(64), size_t(65), size_t(chunk - 1)})
        if (full || k <= 300000) data.push_back({"e8-tail odd size", e8_tail_bytes(k)});
      int compressed = 0;
      for (auto& [what, in] : data) {
        CAPTURE(what);
        CAPTURE(in.size());
        Bytes out(in.size()), back(in.size());
        size_t csize = wimlib_compress(in.data(), in.size(), out.data(), in.size() - 1, wc);
        if (csize == 0) continue;  // wimlib stores it raw
        compressed++;
        REQUIRE(d->decompress(std::span<const uint8_t>(out.data(), csize), back));
        CHECK(back == in);
        // Truncations are refused (or, if the cut only removes padding,
        // still decode correctly), never misread silently.
        for (size_t cut : {csize - 1, csize / 2, size_t(3)}) {
          if (cut >= csize) continue;
          Bytes t(out.begin(), out.begin() + long(cut));
          if (d->decompress(t, back)) CHECK(back == in);
        }
        // Flipped bits: any result is fine except a crash; the oracle must agree on success.
        std::mt19937 rng{uint32_t(csize)};
        for (int k = 0; k < 8; k++) {
          Bytes bad(out.begin(), out.begin() + long(csize));
          bad[rng() % csize] ^= uint8_t(1u << (rng() % 8));
          Bytes ours(in.size()), theirs(in.size());
          bool ok_ours = d->decompress(bad, ours);
          struct wimlib_decompressor* wd = nullptr;
          REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZX, chunk, &wd) == 0);
          bool ok_theirs = wimlib_decompress(bad.data(), bad.size(), theirs.data(), theirs.size(), wd) == 0;
          wimlib_free_decompressor(wd);
          if (ok_ours && ok_theirs) CHECK(ours == theirs);
          if (ok_ours && !ok_theirs) CHECK(false);  // we accepted what the reference refuses
        }
      }
      CHECK(compressed >= 4);
      wimlib_free_compressor(wc);
    }
  }
}
#endif
