// XPRESS (Huffman) codec: the §7.5 vector, crafted malformed chunks, and
// differential tests against libwim (wimlib_compress/wimlib_decompress).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "compress/codec.hpp"

#ifdef WIMPACK_HAVE_LIBWIM
#include <wimlib.h>
#endif

using namespace wp;

namespace {

using Bytes = std::vector<uint8_t>;

std::span<const uint8_t> first(const Bytes& b, size_t n) { return {b.data(), n}; }

Bytes fox_text() {
  std::string s;
  for (int i = 0; i < 20; i++) s += "The quick brown fox jumps over the lazy dog. ";
  return Bytes(s.begin(), s.end());
}

// wim-codecs.md §7.5: the chunk wimlib-imagex 1.13.5 writes for fox_text().
Bytes spec_vector() {
  Bytes c(256, 0);
  const std::pair<int, uint8_t> table[] = {{16, 0x03},  {23, 0x06},  {42, 0x05},  {48, 0x60},  {49, 0x66},
                                           {50, 0x56},  {51, 0x66},  {52, 0x56},  {53, 0x55},  {54, 0x55},
                                           {55, 0x45},  {56, 0x55},  {57, 0x55},  {58, 0x55},  {59, 0x55},
                                           {60, 0x55},  {61, 0x05},  {128, 0x05}, {160, 0x05}, {175, 0x50}};
  for (auto [i, v] : table) c[i] = v;
  const uint8_t stream[] = {0xe7, 0x37, 0x9a, 0x0f, 0x50, 0x3b, 0x05, 0xea, 0x8f, 0x56, 0xc1, 0x4a,
                            0x63, 0x33, 0x0a, 0xa2, 0x80, 0x87, 0xbd, 0x96, 0xe2, 0x7c, 0xc2, 0xe3,
                            0x80, 0xfb, 0xb7, 0x6d, 0x00, 0x20, 0xff, 0x53, 0x03, 0x00, 0x00};
  c.insert(c.end(), std::begin(stream), std::end(stream));
  return c;
}

// An independent writer for crafted chunks: every symbol gets a 9-bit code
// (512 x 2^-9 = a complete code), so codeword = symbol value. Follows the
// §4.9 writer model.
struct Crafter {
  Bytes out = Bytes(256 + 4, 0x99);  // 0x99: lengths 9 and 9
  size_t s1 = 256, s2 = 258;
  uint32_t acc = 0;
  unsigned pending = 0;
  void bits(uint32_t v, unsigned n) {
    for (unsigned i = n; i-- > 0;) {
      acc = (acc << 1) | ((v >> i) & 1);
      if (++pending > 16) {
        pending -= 16;
        out[s1] = uint8_t(acc >> pending);
        out[s1 + 1] = uint8_t(acc >> (pending + 8));
        s1 = s2;
        s2 = out.size();
        out.resize(out.size() + 2);
      }
    }
  }
  void raw(uint8_t b) { out.push_back(b); }
  void literal(uint8_t b) { bits(b, 9); }
  // A match with explicit header fields; the caller supplies raw bytes.
  void match(unsigned h, unsigned k, uint32_t offset_bits) {
    bits(256 + 16 * k + h, 9);
    pending_offset = {offset_bits, k};
  }
  void offset() { bits(pending_offset.first, pending_offset.second); }
  Bytes finish() {
    bits(256, 9);
    uint16_t w = uint16_t(acc << (16 - pending));
    out[s1] = uint8_t(w);
    out[s1 + 1] = uint8_t(w >> 8);
    out[s2] = out[s2 + 1] = 0;
    return out;
  }
  std::pair<uint32_t, unsigned> pending_offset{0, 0};
};

// Test data.
Bytes random_bytes(size_t n, uint32_t seed) {
  Bytes v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}
Bytes text_bytes(size_t n, uint32_t seed) {
  static const char* words[] = {"the ",   "of ",     "and ",      "compression ", "archive ", "Windows ",
                                "image ", "chunk ",  "resource ", "wimlib ",      "XPRESS ",  "Huffman ",
                                "\n",     "table. ", "offset, ",  "length; ",     "match ",   "literal "};
  Bytes v;
  std::mt19937 rng(seed);
  while (v.size() < n) {
    const char* w = words[rng() % std::size(words)];
    while (*w && v.size() < n) v.push_back(uint8_t(*w++));
  }
  return v;
}
// Instruction-like bytes: templates with random operands and shared targets.
Bytes x86ish_bytes(size_t n, uint32_t seed) {
  static const Bytes templates[] = {{0xE8},       {0x48, 0x8B, 0x05}, {0xFF, 0x15}, {0x4C, 0x8D, 0x0D},
                                    {0x48, 0x89}, {0x55},             {0xC3},       {0x0F, 0x1F, 0x44, 0x00}};
  Bytes v;
  std::mt19937 rng(seed);
  uint32_t targets[16];
  for (auto& t : targets) t = rng();
  while (v.size() < n) {
    const Bytes& t = templates[rng() % std::size(templates)];
    v.insert(v.end(), t.begin(), t.end());
    uint32_t op = (rng() & 3) ? targets[rng() % 16] : rng();
    for (int i = 0; i < 4 && (rng() & 1); i++) v.push_back(uint8_t(op >> (8 * i)));
  }
  v.resize(n);
  return v;
}
Bytes self_exe_bytes(size_t n) {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  Bytes v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (v.size() > 200000) v.erase(v.begin(), v.begin() + 100000);  // skip the ELF header area
  v.resize(std::min(v.size(), n));
  return v;
}
Bytes data_of_kind(int kind, size_t n, uint32_t seed) {
  switch (kind) {
    case 0: return random_bytes(n, seed);
    case 1: return text_bytes(n, seed);
    case 2: return x86ish_bytes(n, seed);
    case 3: return Bytes(n, 0);
    case 4: {  // mostly text with random holes: mixed compressibility
      Bytes v = text_bytes(n, seed);
      Bytes r = random_bytes(n, seed + 1);
      for (size_t i = 0; i < n; i += 1000) std::copy(r.begin() + i, r.begin() + std::min(n, i + 300), v.begin() + i);
      return v;
    }
    default: return Bytes(n, 'a');
  }
}
const char* kind_name(int kind) {
  static const char* names[] = {"random", "text", "x86ish", "zeros", "mixed", "aaaa"};
  return names[kind];
}

}  // namespace

TEST_CASE("XPRESS decodes the wim-codecs.md 7.5 vector") {
  auto d = make_decompressor(Codec::Xpress, 32768);
  Bytes c = spec_vector(), want = fox_text();
  REQUIRE(c.size() == 291);
  Bytes out(want.size());
  REQUIRE(d->decompress(c, out));
  CHECK(out == want);
  // The decoder needs everything up to the last raw byte (288); the final
  // reserved word is loaded but never consumed (§4.8).
  CHECK(d->decompress(first(c, 289), out));
  CHECK(out == want);
  for (size_t n = 256; n <= 288; n++) CHECK_MESSAGE(!d->decompress(first(c, n), out), n);
}

TEST_CASE("XPRESS compresses the 7.5 input to a chunk as small as wimlib's") {
  auto comp = make_compressor(Codec::Xpress, 50, 32768);
  auto d = make_decompressor(Codec::Xpress, 32768);
  Bytes in = fox_text(), c(in.size()), back(in.size());
  size_t n = comp->compress(in, c);
  REQUIRE(n > 0);
  CHECK(n <= 291);
  REQUIRE(d->decompress(first(c, n), back));
  CHECK(back == in);
}

TEST_CASE("XPRESS refuses malformed chunks") {
  auto d = make_decompressor(Codec::Xpress, 65536);
  const Bytes good = spec_vector();
  Bytes out(900);

  SUBCASE("output size mismatch") {
    Bytes big(901), small(899);
    CHECK(!d->decompress(good, big));
    CHECK(!d->decompress(good, small));
    Bytes huge(70000);
    CHECK(!d->decompress(good, huge));
  }
  SUBCASE("too short for the table, or not smaller than the output") {
    CHECK(!d->decompress(first(good, 255), out));
    CHECK(!d->decompress({}, out));
    Bytes tiny(200);
    CHECK(!d->decompress(good, tiny));  // csize >= usize
  }
  SUBCASE("over-subscribed code") {
    Bytes c = good;
    c[0] = 0x01;  // symbols 0 gets a 1-bit codeword on top of a complete code
    CHECK(!d->decompress(c, out));
    c = good;
    c[200] = 0xF0;  // one extra 15-bit codeword: over by 2^-15
    CHECK(!d->decompress(c, out));
  }
  SUBCASE("incomplete code") {
    Bytes c = good;
    c[175] = 0x00;  // drop symbol 351 (5 bits)
    CHECK(!d->decompress(c, out));
    std::fill_n(c.begin(), 256, 0);  // the empty code
    CHECK(!d->decompress(c, out));
    std::fill_n(c.begin(), 256, 0);
    c[0] = 0x01;  // a single 1-bit codeword
    CHECK(!d->decompress(c, out));
  }
  // Crafted chunks spend 9 bits per literal, so long matches (u16 form)
  // make the output larger than the chunk, as a compressed chunk must be.
  SUBCASE("match offset before the start of the output") {
    Crafter cr;
    cr.literal('a');
    cr.match(0, 1, 0);  // offset 2 at position 1
    cr.offset();
    cr.match(15, 0, 0);  // then 1000 bytes of offset 1
    cr.raw(255), cr.raw(uint8_t(997)), cr.raw(uint8_t(997 >> 8));
    cr.offset();
    Bytes c = cr.finish(), o(1004);
    CHECK(!d->decompress(c, o));
    // The same stream with offset 1 is fine.
    Crafter ok;
    ok.literal('a');
    ok.match(0, 0, 0);
    ok.offset();
    ok.match(15, 0, 0);
    ok.raw(255), ok.raw(uint8_t(997)), ok.raw(uint8_t(997 >> 8));
    ok.offset();
    c = ok.finish();
    REQUIRE(d->decompress(c, o));
    CHECK(o == Bytes(1004, 'a'));
  }
  SUBCASE("match running past the end of the output") {
    Crafter cr;
    for (int i = 0; i < 10; i++) cr.literal(uint8_t('0' + i));
    cr.match(15, 0, 0);  // length 1003
    cr.raw(255), cr.raw(uint8_t(1000)), cr.raw(uint8_t(1000 >> 8));
    cr.offset();
    Bytes c = cr.finish();
    Bytes shorter(1012), exact(1013);
    CHECK(!d->decompress(c, shorter));
    CHECK(d->decompress(c, exact));
    CHECK(exact[1012] == '9');
  }
  SUBCASE("all three length forms, including a u16 length below 270") {
    Crafter cr;
    for (int i = 0; i < 30; i++) cr.literal(uint8_t(i * 7));
    cr.match(14, 4, 3);  // length 17, offset 16 + 3
    cr.offset();
    cr.match(15, 0, 0);  // u16 form: length 600, offset 1
    cr.raw(255), cr.raw(uint8_t(597)), cr.raw(uint8_t(597 >> 8));
    cr.offset();
    cr.match(15, 8, 5);  // byte form: 15 + 200 + 3 = 218, offset 256 + 5
    cr.raw(200);
    cr.offset();
    cr.match(15, 0, 0);  // u16 form with v = 20: wimlib accepts it (§4.8)
    cr.raw(255), cr.raw(20), cr.raw(0);
    cr.offset();
    cr.literal('z');
    Bytes c = cr.finish(), o(30 + 17 + 600 + 218 + 23 + 1);
    REQUIRE(d->decompress(c, o));
    Bytes want;
    for (int i = 0; i < 30; i++) want.push_back(uint8_t(i * 7));
    for (int i = 0; i < 17; i++) want.push_back(want[want.size() - 19]);
    for (int i = 0; i < 600; i++) want.push_back(want.back());
    for (int i = 0; i < 218; i++) want.push_back(want[want.size() - 261]);
    for (int i = 0; i < 23; i++) want.push_back(want.back());
    want.push_back('z');
    CHECK(o == want);
  }
  SUBCASE("truncated chunks") {
    auto comp = make_compressor(Codec::Xpress, 50, 65536);
    for (int kind : {1, 2, 3, 4}) {
      Bytes in = data_of_kind(kind, 20000, 5), c(in.size()), back(in.size());
      size_t n = comp->compress(in, c);
      REQUIRE(n > 0);
      // The last 4 bytes may be loaded-but-unused words (§4.8, §4.9 model).
      for (size_t cut = 1; cut < n - 256; cut = cut < 8 ? cut + 1 : cut * 2) {
        bool ok = d->decompress(first(c, n - cut), back);
        if (cut > 4)
          CHECK_MESSAGE(!ok, kind_name(kind), " cut ", cut);
        else if (ok)
          CHECK(back == in);
      }
    }
  }
  SUBCASE("garbage never crashes") {
    std::mt19937 rng(1);
    for (int iter = 0; iter < 3000; iter++) {
      Bytes c = random_bytes(256 + rng() % 3000, uint32_t(iter));
      if (iter % 2) {
        // A valid table with a random stream reaches the symbol decoder.
        std::copy(good.begin(), good.begin() + 256, c.begin());
      }
      Bytes o(1 + rng() % 65536);
      (void)d->decompress(c, o);
    }
  }
}

TEST_CASE("XPRESS compressor: raw fallback and output bounds") {
  for (int level : {1, 20, 50, 80}) {
    CAPTURE(level);
    auto comp = make_compressor(Codec::Xpress, level, 32768);
    auto d = make_decompressor(Codec::Xpress, 32768);
    Bytes noise = random_bytes(32768, 3), out(32768);
    CHECK(comp->compress(noise, out) == 0);
    for (size_t n : {0, 1, 25, 260}) CHECK(comp->compress(first(noise, n), out) == 0);
    Bytes zeros(300, 0), zout(300), back(300);
    size_t zn = comp->compress(zeros, zout);
    REQUIRE(zn > 0);
    REQUIRE(d->decompress(first(zout, zn), back));
    CHECK(back == zeros);
    // A too-small output buffer means "store raw", never an overrun.
    Bytes in = text_bytes(32768, 9), full(32768);
    size_t n = comp->compress(in, full);
    REQUIRE(n > 0);
    Bytes exact(n), shorter(n - 1);
    CHECK(comp->compress(in, exact) == n);
    CHECK(exact == Bytes(full.begin(), full.begin() + ptrdiff_t(n)));
    CHECK(comp->compress(in, shorter) == 0);
  }
}

TEST_CASE("XPRESS round-trips every level and chunk size") {
  for (uint32_t chunk : {4096u, 8192u, 16384u, 32768u, 65536u}) {
    for (int level : {1, 10, 20, 29, 30, 50, 59, 60, 80, 100, 150}) {
      auto comp = make_compressor(Codec::Xpress, level, chunk);
      auto d = make_decompressor(Codec::Xpress, chunk);
      for (int kind = 0; kind < 6; kind++) {
        for (size_t n : {size_t(261), size_t(1000), size_t(chunk - 1), size_t(chunk)}) {
          CAPTURE(chunk);
          CAPTURE(level);
          std::string kind_str = kind_name(kind);
          CAPTURE(kind_str);
          CAPTURE(n);
          Bytes in = data_of_kind(kind, n, uint32_t(n + kind)), c(n), back(n);
          size_t cn = comp->compress(in, c);
          if (kind != 0 && n >= 1000) CHECK(cn > 0);
          if (cn == 0) continue;
          CHECK(cn < n);
          REQUIRE(d->decompress(first(c, cn), back));
          CHECK(back == in);
        }
      }
    }
  }
}

#ifdef WIMPACK_HAVE_LIBWIM
namespace {
struct WimlibCodec {
  wimlib_compressor* c = nullptr;
  wimlib_decompressor* d = nullptr;
  WimlibCodec(uint32_t chunk, int level) {
    REQUIRE(wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, unsigned(level), &c) == 0);
    REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_XPRESS, chunk, &d) == 0);
  }
  ~WimlibCodec() {
    wimlib_free_compressor(c);
    wimlib_free_decompressor(d);
  }
};
}  // namespace

TEST_CASE("XPRESS matches libwim in both directions") {
  for (uint32_t chunk : {4096u, 8192u, 16384u, 32768u, 65536u}) {
    for (int level : {1, 20, 50, 100}) {
      WimlibCodec wl(chunk, level);
      auto comp = make_compressor(Codec::Xpress, level, chunk);
      auto d = make_decompressor(Codec::Xpress, chunk);
      size_t ours_total = 0, theirs_total = 0;
      for (int kind = 0; kind < 6; kind++) {
        for (size_t n : {size_t(1), size_t(100), size_t(300), size_t(chunk / 2 + 1), size_t(chunk - 1),
                         size_t(chunk)}) {
          CAPTURE(chunk);
          CAPTURE(level);
          std::string kind_str = kind_name(kind);
          CAPTURE(kind_str);
          CAPTURE(n);
          Bytes in = data_of_kind(kind, n, uint32_t(chunk + n)), c(n), back(n);
          // Theirs -> our decoder.
          size_t wn = wimlib_compress(in.data(), n, c.data(), n - 1, wl.c);
          if (wn) {
            REQUIRE(d->decompress(first(c, wn), back));
            CHECK(back == in);
          }
          // Ours -> their decoder and ours.
          Bytes oc(n);
          size_t on = comp->compress(in, oc);
          CHECK((on == 0) == (wn == 0));  // both store raw, or neither does
          if (on) {
            std::fill(back.begin(), back.end(), 0xAA);
            REQUIRE(wimlib_decompress(oc.data(), on, back.data(), n, wl.d) == 0);
            CHECK(back == in);
            std::fill(back.begin(), back.end(), 0xAA);
            REQUIRE(d->decompress(first(oc, on), back));
            CHECK(back == in);
          }
          if (on && wn && kind != 0) {
            ours_total += on;
            theirs_total += wn;
          }
        }
      }
      // Ratio: within 5% of wimlib on the compressible data at every level.
      CAPTURE(chunk);
      CAPTURE(level);
      CAPTURE(ours_total);
      CAPTURE(theirs_total);
      CHECK(double(ours_total) <= 1.05 * double(theirs_total));
    }
  }
}

TEST_CASE("XPRESS decodes libwim's chunks of a real binary, and libwim decodes ours") {
  Bytes file = self_exe_bytes(1 << 20);
  REQUIRE(file.size() > 100000);
  for (uint32_t chunk : {4096u, 32768u, 65536u}) {
    for (int level : {20, 50, 80}) {
      WimlibCodec wl(chunk, level);
      auto comp = make_compressor(Codec::Xpress, level, chunk);
      auto d = make_decompressor(Codec::Xpress, chunk);
      size_t ours = 0, theirs = 0;
      for (size_t off = 0; off < file.size(); off += chunk) {
        size_t n = std::min<size_t>(chunk, file.size() - off);
        CAPTURE(chunk);
        CAPTURE(level);
        CAPTURE(off);
        std::span<const uint8_t> in(file.data() + off, n);
        Bytes c(n), back(n);
        size_t wn = wimlib_compress(in.data(), n, c.data(), n - 1, wl.c);
        if (wn) {
          REQUIRE(d->decompress(first(c, wn), back));
          CHECK(std::equal(back.begin(), back.end(), in.begin()));
        }
        theirs += wn ? wn : n;
        size_t on = comp->compress(in, c);
        if (on) {
          REQUIRE(wimlib_decompress(c.data(), on, back.data(), n, wl.d) == 0);
          CHECK(std::equal(back.begin(), back.end(), in.begin()));
        }
        ours += on ? on : n;
      }
      CAPTURE(chunk);
      CAPTURE(level);
      CAPTURE(ours);
      CAPTURE(theirs);
      CHECK(double(ours) <= 1.05 * double(theirs));
    }
  }
}
#endif
