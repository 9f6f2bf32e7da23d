// LZMS encoder: round trips through our decoder and, differentially, through
// libwim's (wim-codecs.md §6.13), over data kinds, odd sizes and chunk sizes,
// plus a sanity check of the ratio on text.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
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

Bytes random_bytes(size_t n, uint32_t seed = 7) {
  Bytes v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

Bytes read_file(const std::filesystem::path& p, size_t max) {
  std::ifstream f(p, std::ios::binary);
  Bytes v;
  if (!f) return v;
  v.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  if (v.size() > max) v.resize(max);
  return v;
}

// Real text: the repository's own sources, concatenated (cycled if short).
Bytes text_bytes(size_t n) {
  Bytes v;
  std::error_code ec;
  const std::filesystem::path root = std::filesystem::path(WIMPACK_TEST_DATA).parent_path().parent_path() / "src";
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec); !ec && it != end(it); it.increment(ec))
    if (it->is_regular_file()) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    if (v.size() >= n) break;
    Bytes b = read_file(f, n - v.size());
    v.insert(v.end(), b.begin(), b.end());
  }
  const char* filler = "the quick brown fox jumps over the lazy dog; LZMS range coder test\n";
  std::mt19937 rng(5);
  while (v.size() < n) v.push_back(uint8_t(filler[rng() % std::strlen(filler)]));
  v.resize(n);
  return v;
}

// Machine code: /bin/ls (E8/FF 15/REX patterns for the x86 filter), else
// synthetic calls.
Bytes x86_bytes(size_t n) {
  Bytes v = read_file("/bin/ls", n);
  std::mt19937 rng(3);
  while (v.size() < n) {
    v.push_back(0xE8);
    uint32_t t = rng() % 64 * 16;
    for (int k = 0; k < 4; k++) v.push_back(uint8_t(t >> (8 * k)));
    v.push_back(uint8_t(rng()));
  }
  v.resize(n);
  return v;
}

Bytes repeats_bytes(size_t n) {
  Bytes v;
  Bytes unit = random_bytes(1000, 9);
  while (v.size() < n) v.insert(v.end(), unit.begin(), unit.end());
  v.resize(n);
  return v;
}

// Repeated records with a couple of changing fields: exercises repeat offsets.
Bytes records_bytes(size_t n) {
  Bytes v;
  std::mt19937 rng(11);
  for (uint32_t i = 0; v.size() < n; i++) {
    const char* s = "record:";
    v.insert(v.end(), s, s + 7);
    for (int k = 0; k < 4; k++) v.push_back(uint8_t(i >> (8 * k)));
    v.push_back(uint8_t(rng() % 4));
    v.insert(v.end(), {0, 0, 0, 1, 2, 3});
  }
  v.resize(n);
  return v;
}

// A table of growing little-endian 32-bit integers: what delta matches are for.
Bytes ints_bytes(size_t n) {
  Bytes v;
  std::mt19937 rng(13);
  uint32_t x = 1000;
  while (v.size() < n) {
    x += 7 + (rng() % 100 == 0 ? rng() % 100 : 0);
    for (int k = 0; k < 4; k++) v.push_back(uint8_t(x >> (8 * k)));
  }
  v.resize(n);
  return v;
}

// Compresses `in`, checks the size contract, decodes with our decoder and
// with libwim's. Returns the compressed size (0 = stored).
size_t check_round_trip(Compressor& c, Decompressor& d, const Bytes& in, uint32_t chunk, const char* what) {
  CAPTURE(what);
  CAPTURE(in.size());
  CAPTURE(chunk);
  Bytes out(in.size() + 64), back(in.size());
  const size_t avail = in.empty() ? 0 : in.size() - 1;
  size_t n = c.compress(in, std::span<uint8_t>(out.data(), avail));
  REQUIRE(n < std::max<size_t>(in.size(), 1));
  if (n == 0) return 0;
  REQUIRE(n >= 4);
  REQUIRE(n % 2 == 0);
  REQUIRE(d.decompress(std::span<const uint8_t>(out.data(), n), back));
  REQUIRE(back == in);
  if (n > 6) {  // a too-small output buffer makes the encoder give up
    Bytes small(n - 2);
    CHECK(c.compress(in, small) == 0);
  }
#ifdef WIMPACK_HAVE_LIBWIM
  struct wimlib_decompressor* wd = nullptr;
  REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZMS, std::max<size_t>(chunk, in.size()), &wd) == 0);
  std::fill(back.begin(), back.end(), 0);
  CHECK(wimlib_decompress(out.data(), n, back.data(), back.size(), wd) == 0);
  CHECK(back == in);
  wimlib_free_decompressor(wd);
#else
  (void)chunk;
#endif
  return n;
}

std::vector<std::pair<const char*, Bytes>> corpus(size_t n) {
  return {{"text", text_bytes(n)},       {"x86", x86_bytes(n)},     {"zeros", Bytes(n, 0)},
          {"random", random_bytes(n)},   {"repeats", repeats_bytes(n)}, {"records", records_bytes(n)},
          {"ints", ints_bytes(n)}};
}

}  // namespace

TEST_CASE("LZMS encoder round-trips through our decoder and libwim's") {
  for (uint32_t chunk : {32768u, 131072u, 1u << 20}) {
    auto d = make_decompressor(Codec::Lzms, chunk);
    for (int level : {1, 50, 100}) {
      CAPTURE(level);
      if (chunk == (1u << 20) && level == 100) continue;  // keep the run short
      auto c = make_compressor(Codec::Lzms, level, chunk);
      for (auto& [what, data] : corpus(chunk)) check_round_trip(*c, *d, data, chunk, what);
      for (size_t k : {size_t(0), size_t(1), size_t(4), size_t(5), size_t(6), size_t(17), size_t(18), size_t(100),
                       size_t(1000), size_t(chunk - 1), size_t(chunk / 3 + 7)}) {
        check_round_trip(*c, *d, text_bytes(k), chunk, "text odd size");
        check_round_trip(*c, *d, x86_bytes(k), chunk, "x86 odd size");
        check_round_trip(*c, *d, Bytes(k, 'a'), chunk, "run odd size");
      }
    }
  }
}

TEST_CASE("LZMS encoder: random small inputs round-trip") {
  auto d = make_decompressor(Codec::Lzms, 32768);
  auto c = make_compressor(Codec::Lzms, 50, 32768);
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 300; iter++) {
    const size_t n = rng() % 3000;
    Bytes v(n);
    const unsigned alphabet = 1 + rng() % 8;
    for (auto& b : v) b = uint8_t(0xE6 + rng() % alphabet);  // around E8/E9 and runs
    check_round_trip(*c, *d, v, 32768, "small random");
  }
}

TEST_CASE("LZMS encoder ratio is sane") {
  const uint32_t chunk = 131072;
  auto c = make_compressor(Codec::Lzms, 50, chunk);
  Bytes text = text_bytes(chunk), out(chunk);
  size_t n = c->compress(text, out);
  REQUIRE(n > 0);
  MESSAGE("LZMS text 128 KiB: " << n << " bytes (" << 100.0 * double(n) / chunk << "%)");
  CHECK(n < chunk * 35 / 100);
  Bytes zeros(chunk, 0);
  n = c->compress(zeros, out);
  CHECK(n > 0);
  CHECK(n < 64);
  Bytes ints = ints_bytes(chunk);
  n = c->compress(ints, out);
  MESSAGE("LZMS 32-bit integer table 128 KiB: " << n << " bytes");
  CHECK(n > 0);
  CHECK(n < chunk / 20);  // delta matches
  Bytes rnd = random_bytes(chunk);
  CHECK(c->compress(rnd, out) == 0);
#ifdef WIMPACK_HAVE_LIBWIM
  struct wimlib_compressor* wc = nullptr;
  REQUIRE(wimlib_create_compressor(WIMLIB_COMPRESSION_TYPE_LZMS, chunk, 50, &wc) == 0);
  size_t theirs = wimlib_compress(text.data(), text.size(), out.data(), out.size() - 1, wc);
  wimlib_free_compressor(wc);
  MESSAGE("libwim LZMS text 128 KiB: " << theirs << " bytes");
#endif
}

TEST_CASE("LZMS encoder handles a 64 MiB solid-sized chunk") {
  const uint32_t chunk = 64u << 20;
  // Text (the sources cycled, so with long-distance repeats), machine code,
  // integer tables, zeros, and a 16 MiB repeat from 48 MiB back.
  Bytes in = text_bytes(1u << 20);
  while (in.size() < (20u << 20)) in.insert(in.end(), in.begin(), in.begin() + (1u << 20));
  Bytes ints = ints_bytes(4u << 20);
  in.insert(in.end(), ints.begin(), ints.end());
  Bytes x86 = x86_bytes(8u << 20);
  in.insert(in.end(), x86.begin(), x86.end());
  in.resize(chunk, 0);
  std::copy_n(in.begin(), 16u << 20, in.begin() + (48u << 20) - 0);  // a far repeat
  auto c = make_compressor(Codec::Lzms, 50, chunk);
  auto d = make_decompressor(Codec::Lzms, chunk);
  const auto t0 = std::chrono::steady_clock::now();
  Bytes out(chunk), back(chunk);
  size_t n = c->compress(in, out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("LZMS 64 MiB chunk: " << n << " bytes in " << secs << " s");
  REQUIRE(n > 0);
  REQUIRE(d->decompress(std::span<const uint8_t>(out.data(), n), back));
  CHECK(back == in);
#ifdef WIMPACK_HAVE_LIBWIM
  struct wimlib_decompressor* wd = nullptr;
  REQUIRE(wimlib_create_decompressor(WIMLIB_COMPRESSION_TYPE_LZMS, chunk, &wd) == 0);
  std::fill(back.begin(), back.end(), 0);
  CHECK(wimlib_decompress(out.data(), n, back.data(), back.size(), wd) == 0);
  CHECK(back == in);
  wimlib_free_decompressor(wd);
#endif
}
