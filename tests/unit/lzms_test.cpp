// LZMS: the §7.7 vector, the shared building blocks (Huffman construction,
// x86 filter), differential decoding of libwim's output, and hostile input.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "compress/codec.hpp"
#include "compress/lzms_common.hpp"

#ifdef WIMPACK_HAVE_LIBWIM
#include <wimlib.h>
#endif

using namespace wp;

namespace {

using Buf = std::vector<uint8_t>;

std::vector<uint8_t> from_hex(const char* hex) {
  std::vector<uint8_t> v;
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (const char* p = hex; *p;) {
    if (*p == ' ' || *p == '\n') {
      p++;
      continue;
    }
    v.push_back(uint8_t(nib(p[0]) * 16 + nib(p[1])));
    p += 2;
  }
  return v;
}

std::string fox_text() {
  std::string s;
  for (int i = 0; i < 20; i++) s += "The quick brown fox jumps over the lazy dog. ";
  return s;
}

// --- Test data: each kind exercises a different part of the format. ---

Buf random_bytes(size_t n, uint32_t seed) {
  Buf v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

Buf text_bytes(size_t n, uint32_t seed) {
  static const char* words[] = {"the",    "of",        "and",     "to",      "in",       "archive", "window",
                                "image",  "compressed", "resource", "chunk",  "Huffman",  "offset",  "length",
                                "Windows", "directory", "stream",  "file",    "metadata", "x86",     "LZMS"};
  Buf v;
  std::mt19937 rng(seed);
  while (v.size() < n) {
    std::string w = words[rng() % (sizeof words / sizeof *words)];
    if (rng() % 9 == 0) w += std::to_string(rng() % 1000);
    w += (rng() % 13 == 0) ? ".\n" : (rng() % 7 == 0 ? ", " : " ");
    for (char c : w)
      if (v.size() < n) v.push_back(uint8_t(c));
  }
  return v;
}

// Real machine code: the bytes of installed executables.
Buf executable_bytes(size_t n) {
  Buf v;
  for (const char* path : {"/usr/bin/ls", "/usr/bin/cmake", "/usr/bin/bash", "/usr/bin/gdb", "/usr/bin/ctest",
                           "/usr/bin/cpack", "/usr/bin/perl"}) {
    std::ifstream f(path, std::ios::binary);
    if (!f) continue;
    Buf file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // Skip the ELF header area to land in code sooner.
    size_t start = file.size() > 8192 ? 4096 : 0;
    v.insert(v.end(), file.begin() + long(start), file.end());
    if (v.size() >= n) break;
  }
  REQUIRE(!v.empty());
  while (v.size() < n) v.insert(v.end(), v.begin(), v.begin() + long(std::min(v.size(), n - v.size())));
  v.resize(n);
  return v;
}

// Tables of little-endian integers in arithmetic progression, with varying
// strides and element widths: what LZMS delta matches are for.
Buf delta_bytes(size_t n, uint32_t seed) {
  Buf v;
  std::mt19937 rng(seed);
  while (v.size() < n) {
    const unsigned width = 1u << (rng() % 4);  // 1, 2, 4, 8 bytes
    const uint64_t step = rng() % 5000 + 1;
    uint64_t value = rng();
    const size_t count = rng() % 3000 + 200;
    for (size_t i = 0; i < count && v.size() < n; i++, value += step)
      for (unsigned b = 0; b < width && v.size() < n; b++) v.push_back(uint8_t(value >> (8 * b)));
    // Records with a counter field and a fixed-stride layout.
    const unsigned rec = 12 + rng() % 20;
    uint32_t counter = rng();
    for (size_t i = 0; i < 400 && v.size() + rec <= n; i++, counter += 3) {
      for (unsigned b = 0; b < rec; b++) v.push_back(b < 4 ? uint8_t(counter >> (8 * b)) : uint8_t(b * 7 + (i & 1)));
    }
  }
  v.resize(n);
  return v;
}

Buf zero_bytes(size_t n) { return Buf(n, 0); }

// Text, code and delta-friendly tables interleaved in 4 KiB pieces.
Buf mixed_bytes(size_t n, uint32_t seed) {
  Buf t = text_bytes(n, seed), x = executable_bytes(n), d = delta_bytes(n, seed + 1), v(n);
  for (size_t i = 0; i < n; i++) {
    switch ((i / 4096) % 3) {
      case 0: v[i] = t[i]; break;
      case 1: v[i] = x[i]; break;
      default: v[i] = d[i]; break;
    }
  }
  return v;
}

struct Sample {
  const char* name;
  Buf data;
};

std::vector<Sample> samples(size_t n, uint32_t seed) {
  return {{"random", random_bytes(n, seed)},   {"text", text_bytes(n, seed)},
          {"x86", executable_bytes(n)},       {"zeros", zero_bytes(n)},
          {"delta", delta_bytes(n, seed)},    {"mixed", mixed_bytes(n, seed)}};
}

bool decode(Decompressor& d, const Buf& in, size_t in_size, Buf& out) {
  return d.decompress(std::span<const uint8_t>(in.data(), in_size), out);
}

}  // namespace

TEST_CASE("LZMS decodes the worked example of wim-codecs.md 7.7") {
  const Buf chunk = from_hex(
      "04 00 93 f8 75 15 00 00 58 65 90 52 81 b8 9c bd 91 81 e4 e9 85 b1 59 96 74 20 72 65"
      "76 6f 20 73 70 6d 75 6a 20 78 6f 66 20 6e 77 6f 72 62 20 6b 63 69 75 71 20 65 68 54");
  REQUIRE(chunk.size() == 56);
  auto d = make_decompressor(Codec::Lzms, 32768);
  Buf out(900);
  REQUIRE(decode(*d, chunk, chunk.size(), out));
  const std::string expect = fox_text();
  CHECK(std::string(out.begin(), out.end()) == expect);

  // The same bytes with the wrong size: one byte short leaves the 854-byte
  // match overrunning the output; one byte more runs off into zero bits that
  // decode as literals, then as a match whose offset is out of range or, at
  // worst, more output. Neither may crash; the short one must fail.
  Buf shorter(899), longer(901);
  CHECK(!decode(*d, chunk, chunk.size(), shorter));
  (void)decode(*d, chunk, chunk.size(), longer);
  // And the context is reusable afterwards.
  std::fill(out.begin(), out.end(), 0);
  REQUIRE(decode(*d, chunk, chunk.size(), out));
  CHECK(std::string(out.begin(), out.end()) == expect);
}

TEST_CASE("LZMS slot tables and offset alphabet sizes match wim-codecs.md 6.5 and 6.6") {
  using namespace lzms;
  CHECK(kOffsetSlots.base[0] == 1);
  CHECK(kOffsetSlots.base[8] == 9);
  CHECK(kOffsetSlots.base[798] == 106685605);
  CHECK(kOffsetSlots.extra[798] == 30);
  CHECK(kLengthSlots.base[26] == 27);
  CHECK(kLengthSlots.base[52] == 2219);
  CHECK(kLengthSlots.extra[53] == 30);
  const std::pair<uint64_t, unsigned> sizes[] = {{900, 52},      {4096, 83},      {32768, 142},
                                                 {65536, 171},   {131072, 203},   {1 << 20, 317},
                                                 {2 << 20, 368}, {16 << 20, 565}, {64 << 20, 729},
                                                 {1 << 30, 799}};
  for (auto [usize, n] : sizes) {
    CAPTURE(usize);
    CHECK(num_offset_syms(usize) == n);
  }
  CHECK(num_offset_syms(1) == 0);
  CHECK(num_offset_syms(5) == 4);
}

TEST_CASE("LZMS Huffman construction follows wim-codecs.md 3.3") {
  using namespace lzms;
  HuffmanScratch scratch;
  uint8_t lens[kMaxOffsetSyms];

  // Equal frequencies: 2^k <= n < 2^(k+1) gives k+1 bits to the 2(n - 2^k)
  // lowest-numbered symbols.
  for (unsigned n : {2u, 3u, 8u, 52u, 54u, 256u, 203u, 799u}) {
    CAPTURE(n);
    std::vector<uint32_t> freq(n, 1);
    make_huffman_lengths(freq.data(), n, lens, scratch);
    unsigned k = 0;
    while ((2u << k) <= n) k++;
    const unsigned longer = 2 * (n - (1u << k));
    for (unsigned s = 0; s < n; s++) {
      CAPTURE(s);
      CHECK(lens[s] == (s < longer ? k + 1 : k));
    }
  }

  // Worked by hand. freq {3,1,1,2}: U = 1(1) 2(1) 3(2) 0(3). Two leaves ->
  // node a(2). Next: leaf 3 (2) and leaf 0 (3); second leaf weight 3 > a(2),
  // and only one internal node, so leaf 3 + a -> b(4). Then leaf 0 + b ->
  // root. Lengths: 0:1, 3:2, 1:3, 2:3.
  {
    const uint32_t freq[] = {3, 1, 1, 2};
    make_huffman_lengths(freq, 4, lens, scratch);
    CHECK(lens[0] == 1);
    CHECK(lens[3] == 2);
    CHECK(lens[1] == 3);
    CHECK(lens[2] == 3);
  }
  // Ties favour leaves: freq {1,1,2,2}. a = 0+1 (2); then second leaf (2,
  // symbol 3) <= a (2), so leaves 2+3 -> b(4); then a + b. All length 2.
  {
    const uint32_t freq[] = {1, 1, 2, 2};
    make_huffman_lengths(freq, 4, lens, scratch);
    for (unsigned s = 0; s < 4; s++) CHECK(lens[s] == 2);
  }
  // One used symbol gets a partner (symbol 0, or 1 when it is symbol 0).
  {
    const uint32_t f1[] = {0, 0, 5, 0};
    make_huffman_lengths(f1, 4, lens, scratch);
    CHECK((lens[0] == 1 && lens[2] == 1 && lens[1] == 0 && lens[3] == 0));
    const uint32_t f2[] = {5, 0, 0};
    make_huffman_lengths(f2, 3, lens, scratch);
    CHECK((lens[0] == 1 && lens[1] == 1 && lens[2] == 0));
  }
  // Fibonacci frequencies force depths past 15; the limit must hold and the
  // code must stay complete (Kraft sum exactly 1).
  {
    std::vector<uint32_t> freq(30);
    freq[0] = freq[1] = 1;
    for (size_t i = 2; i < freq.size(); i++) freq[i] = freq[i - 1] + freq[i - 2];
    make_huffman_lengths(freq.data(), unsigned(freq.size()), lens, scratch);
    uint64_t kraft = 0;
    for (size_t s = 0; s < freq.size(); s++) {
      CHECK(lens[s] >= 1);
      CHECK(lens[s] <= 15);
      kraft += uint64_t(1) << (15 - lens[s]);
    }
    CHECK(kraft == (uint64_t(1) << 15));
    // More frequent never means longer.
    for (size_t s = 1; s < freq.size(); s++) CHECK(lens[s] <= lens[s - 1]);
  }
}

TEST_CASE("LZMS x86 filter translates as wim-codecs.md 6.10 says and inverts exactly") {
  lzms::X86Filter filter;
  // Hand-worked: E8 at 1 with operand 0 makes target 1 (nothing translated,
  // the first use); E8 at 6 with operand -5 reuses target 1, which confirms
  // x86 code at 10; E8 at 11 is within 511 bytes of that, so its operand
  // 0x10 becomes 0x10 + 11.
  Buf plain(40, 0);
  plain[1] = 0xE8;
  plain[6] = 0xE8;
  plain[7] = 0xFB, plain[8] = 0xFF, plain[9] = 0xFF, plain[10] = 0xFF;
  plain[11] = 0xE8;
  plain[12] = 0x10;
  Buf coded = plain;
  filter.apply(coded.data(), coded.size(), true);
  Buf expect = plain;
  expect[12] = 0x10 + 11;
  CHECK(coded == expect);
  filter.apply(coded.data(), coded.size(), false);
  CHECK(coded == plain);

  // Without the confirming reuse nothing is translated.
  Buf lone = plain;
  lone[7] = lone[8] = lone[9] = lone[10] = 0;
  Buf lone_coded = lone;
  filter.apply(lone_coded.data(), lone_coded.size(), true);
  CHECK(lone_coded == lone);

  // Opcodes starting in the last 16 bytes are never considered.
  Buf tail(40, 0);
  tail[1] = 0xE8;
  tail[6] = 0xE8;
  tail[7] = 0xFB, tail[8] = 0xFF, tail[9] = 0xFF, tail[10] = 0xFF;
  tail[24] = 0xE8;  // n - 16
  tail[25] = 0x10;
  Buf tail_coded = tail;
  filter.apply(tail_coded.data(), tail_coded.size(), true);
  CHECK(tail_coded == tail);
  tail[23] = 0xE8;  // n - 17: considered
  tail[24] = 0x10;
  tail[25] = 0;
  tail_coded = tail;
  filter.apply(tail_coded.data(), tail_coded.size(), true);
  CHECK(tail_coded[24] == 0x10 + 23);

  // Every opcode form on dense candidate data round-trips, and some are
  // translated; the filter state does not leak between chunks.
  std::mt19937 rng(3);
  const uint8_t forms[][3] = {{0xFF, 0x15, 0}, {0xF0, 0x83, 0x05}, {0x48, 0x8B, 0x05}, {0x4C, 0x8D, 0x0D},
                              {0x48, 0x8D, 0x3D}, {0xE8, 0, 0},   {0xE9, 0, 0}};
  for (int round = 0; round < 20; round++) {
    Buf data(5000 + rng() % 5000);
    for (size_t i = 0; i < data.size();) {
      const auto& f = forms[rng() % 7];
      for (int k = 0; k < 3 && i < data.size(); k++)
        if (f[k] || k == 0) data[i++] = f[k];
      uint32_t target = 0x1000 + 64 * (rng() % 8);
      uint32_t operand = target - uint32_t(i);
      for (int k = 0; k < 4 && i < data.size(); k++) data[i++] = uint8_t(operand >> (8 * k));
      if (rng() % 4 == 0 && i < data.size()) data[i++] = uint8_t(rng());
    }
    Buf c = data;
    filter.apply(c.data(), c.size(), true);
    CHECK(c != data);
    filter.apply(c.data(), c.size(), false);
    CHECK(c == data);
  }
}

TEST_CASE("LZMS refuses malformed chunk sizes") {
  auto d = make_decompressor(Codec::Lzms, 1 << 20);
  Buf in(64, 0), out(100);
  CHECK(!decode(*d, in, 0, out));
  CHECK(!decode(*d, in, 2, out));
  CHECK(!decode(*d, in, 7, out));     // odd
  Buf small(63);
  CHECK(!decode(*d, in, 64, small));  // csize >= usize: not a compressed chunk
  Buf same(64);
  CHECK(!decode(*d, in, 64, same));
}

#ifdef WIMPACK_HAVE_LIBWIM

namespace {

struct WimCompressor {
  wimlib_compressor* c = nullptr;
  WimCompressor(size_t max_block, unsigned level) {
    REQUIRE(wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZMS, max_block, level, &c) == 0);
  }
  ~WimCompressor() { wimlib_free_compressor(c); }
  // Returns the compressed size, 0 if it did not shrink.
  size_t compress(const Buf& in, Buf& out) {
    out.assign(in.size(), 0);
    return wimlib_compress(in.data(), in.size(), out.data(), in.size() - 1, c);
  }
};

struct WimDecompressor {
  wimlib_decompressor* d = nullptr;
  explicit WimDecompressor(size_t max_block) {
    REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZMS, max_block, &d) == 0);
  }
  ~WimDecompressor() { wimlib_free_decompressor(d); }
  bool decompress(const uint8_t* in, size_t n, Buf& out) {
    return wimlib_decompress(in, n, out.data(), out.size(), d) == 0;
  }
};

}  // namespace

TEST_CASE("LZMS decodes libwim's chunks: data kinds x chunk sizes x levels") {
  // One context for everything (reused across sizes and codes), and one per
  // chunk size as the container would create them.
  auto shared = make_decompressor(Codec::Lzms, 1u << 26);
  struct Size {
    uint32_t chunk;
    std::vector<size_t> lengths;
  };
  const Size sizes[] = {
      {32768, {32768, 32767, 20000, 5, 17, 100}},
      {131072, {131072, 99999}},
      {1u << 20, {300000}},
      {64u << 20, {250000}},
  };
  int compressed_chunks = 0, stored_chunks = 0;
  for (const Size& sz : sizes) {
    auto own = make_decompressor(Codec::Lzms, sz.chunk);
    for (unsigned level : {1u, 50u, 100u}) {
      WimCompressor wc(sz.chunk, level);
      for (size_t n : sz.lengths) {
        for (auto& [name, data] : samples(n, uint32_t(n + level))) {
          CAPTURE(sz.chunk);
          CAPTURE(level);
          CAPTURE(n);
          CAPTURE(name);
          Buf comp;
          const size_t csize = wc.compress(data, comp);
          if (csize == 0) {  // wimlib would store it raw
            stored_chunks++;
            continue;
          }
          compressed_chunks++;
          Buf out(n, 0xAA), out2(n, 0x55);
          REQUIRE(decode(*shared, comp, csize, out));
          REQUIRE(out == data);
          REQUIRE(decode(*own, comp, csize, out2));
          REQUIRE(out2 == data);
        }
      }
    }
  }
  MESSAGE(compressed_chunks << " chunks decoded, " << stored_chunks << " left raw by wimlib");
  CHECK(compressed_chunks > 100);
}

TEST_CASE("LZMS decodes a full 1 MiB chunk of each kind") {
  auto d = make_decompressor(Codec::Lzms, 1u << 20);
  WimCompressor wc(1u << 20, 50);
  for (auto& [name, data] : samples(1u << 20, 11)) {
    CAPTURE(name);
    Buf comp;
    const size_t csize = wc.compress(data, comp);
    if (csize == 0) continue;
    Buf out(data.size());
    REQUIRE(decode(*d, comp, csize, out));
    CHECK(out == data);
  }
}

TEST_CASE("LZMS survives corrupt, truncated and garbage chunks") {
  auto d = make_decompressor(Codec::Lzms, 131072);
  WimDecompressor oracle(131072);
  std::mt19937 rng(99);
  WimCompressor wc(131072, 50);
  int accepted = 0, refused = 0;
  for (auto& [name, data] : samples(131072, 5)) {
    CAPTURE(name);
    Buf comp;
    const size_t csize = wc.compress(data, comp);
    if (csize == 0) continue;
    Buf out(data.size());
    // Truncations, both even and odd sizes.
    for (size_t cut : {size_t(4), size_t(5), csize / 2, csize - 2, csize - 1}) {
      if (cut >= csize) continue;
      bool ok = decode(*d, comp, cut, out);
      if (ok)
        accepted++;
      else
        refused++;
      if (cut & 1) CHECK(!ok);
    }
    // Random bit flips and byte smashes.
    for (int trial = 0; trial < 60; trial++) {
      Buf bad(comp.begin(), comp.begin() + long(csize));
      const int flips = 1 + int(rng() % 8);
      for (int f = 0; f < flips; f++) bad[rng() % csize] ^= uint8_t(1u << (rng() % 8));
      if (trial % 5 == 0) bad[rng() % csize] = uint8_t(rng());
      bool ok = decode(*d, bad, bad.size(), out);
      if (ok)
        accepted++;
      else
        refused++;
      // Whatever it decided, the oracle must agree that the chunk is
      // decodable or not, as long as we are at least as strict.
      Buf wout(data.size());
      bool wok = oracle.decompress(bad.data(), bad.size(), wout);
      if (ok) {
        CHECK(wok);
        CHECK(wout == out);
      }
    }
    // And the context still decodes the intact chunk correctly.
    REQUIRE(decode(*d, comp, csize, out));
    CHECK(out == data);
  }
  // Pure garbage at several output sizes.
  for (int trial = 0; trial < 300; trial++) {
    Buf garbage = random_bytes(4 + 2 * (rng() % 2000), rng());
    Buf out(garbage.size() + 1 + rng() % 100000);
    bool ok = decode(*d, garbage, garbage.size(), out);
    if (ok)
      accepted++;
    else
      refused++;
  }
  MESSAGE(accepted << " corrupt inputs decoded to something, " << refused << " refused");
  CHECK(refused > 0);
}

#endif  // WIMPACK_HAVE_LIBWIM
