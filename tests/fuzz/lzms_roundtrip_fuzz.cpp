// libFuzzer target for the LZMS encoder: the input (capped to a chunk) must
// compress to a valid chunk smaller than itself, or be refused, and decode
// back to itself with our decoder. The first byte picks the level so the
// fuzzer reaches the greedy parser (level 10) and the near-optimal parser
// over the binary-tree match finder (levels 50 and 100).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "compress/codec.hpp"

namespace {

constexpr uint32_t kChunk = 65536;

struct Contexts {
  std::unique_ptr<wp::Compressor> fast = wp::make_compressor(wp::Codec::Lzms, 10, kChunk);
  std::unique_ptr<wp::Compressor> normal = wp::make_compressor(wp::Codec::Lzms, 50, kChunk);
  std::unique_ptr<wp::Compressor> best = wp::make_compressor(wp::Codec::Lzms, 100, kChunk);
  std::unique_ptr<wp::Decompressor> d = wp::make_decompressor(wp::Codec::Lzms, kChunk);
  std::vector<uint8_t> out = std::vector<uint8_t>(kChunk), back = std::vector<uint8_t>(kChunk);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Contexts ctx;
  if (size == 0) return 0;
  wp::Compressor* c = data[0] % 3 == 0 ? ctx.fast.get() : data[0] % 3 == 1 ? ctx.normal.get() : ctx.best.get();
  const size_t n = std::min<size_t>(size - 1, kChunk);
  std::span<const uint8_t> chunk(data + 1, n);
  const size_t csize = c->compress(chunk, {ctx.out.data(), n});
  if (csize == 0) return 0;
  if (csize >= n || csize < 4 || (csize & 1)) std::abort();
  if (!ctx.d->decompress({ctx.out.data(), csize}, {ctx.back.data(), n})) std::abort();
  if (std::memcmp(ctx.back.data(), chunk.data(), n) != 0) std::abort();
  return 0;
}
