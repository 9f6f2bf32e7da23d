#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "compress/codec.hpp"

using namespace wp;

namespace {
std::vector<uint8_t> text_data(size_t n) {
  std::vector<uint8_t> v;
  const char* words[] = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog\n"};
  std::mt19937 rng(42);
  while (v.size() < n) {
    const char* w = words[rng() % 8];
    while (*w && v.size() < n) v.push_back(uint8_t(*w++));
  }
  return v;
}
std::vector<uint8_t> noise_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(7);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}
}  // namespace

TEST_CASE("zstd and lzma round-trip chunks and refuse corrupt ones") {
  for (Codec c : {Codec::Zstd, Codec::Lzma}) {
    for (uint32_t chunk : {32768u, 131072u, 1u << 20}) {
      CAPTURE(codec_name(c));
      CAPTURE(chunk);
      auto comp = make_compressor(c, 0, chunk);
      auto decomp = make_decompressor(c, chunk);
      for (size_t n : {size_t(1), size_t(100), size_t(chunk - 1), size_t(chunk)}) {
        auto in = text_data(n);
        std::vector<uint8_t> out(n), back(n);
        size_t csize = comp->compress(in, out);
        if (n < 64) {
          CHECK(csize < n);
          continue;
        }
        REQUIRE(csize > 0);
        REQUIRE(csize < n);
        REQUIRE(decomp->decompress(std::span<const uint8_t>(out.data(), csize), back));
        CHECK(back == in);
        // Truncated and corrupted chunks are refused, not misread.
        CHECK(!decomp->decompress(std::span<const uint8_t>(out.data(), csize - 1), back));
        std::vector<uint8_t> wrong_size(n + 1);
        CHECK(!decomp->decompress(std::span<const uint8_t>(out.data(), csize), wrong_size));
      }
      auto noise = noise_bytes(chunk);
      std::vector<uint8_t> out(chunk);
      CHECK(comp->compress(noise, out) == 0);  // incompressible: store raw
      // Garbage never crashes the decoder.
      std::vector<uint8_t> back(chunk);
      CHECK(!decomp->decompress(std::span<const uint8_t>(noise.data(), 1000), back));
    }
  }
}
