// libFuzzer target for the LZX codec: arbitrary bytes into the decoder at a
// few output sizes and windows (must never crash, hang or read/write out of
// bounds), and the same bytes as encoder input, which must round-trip.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "compress/codec.hpp"

namespace {

struct Contexts {
  std::unique_ptr<wp::Decompressor> d32 = wp::make_decompressor(wp::Codec::Lzx, 32768);
  std::unique_ptr<wp::Decompressor> d64 = wp::make_decompressor(wp::Codec::Lzx, 65536);
  std::unique_ptr<wp::Decompressor> d2m = wp::make_decompressor(wp::Codec::Lzx, 2u << 20);
  std::unique_ptr<wp::Compressor> c_fast = wp::make_compressor(wp::Codec::Lzx, 20, 32768);
  std::unique_ptr<wp::Compressor> c_default = wp::make_compressor(wp::Codec::Lzx, 50, 65536);
  std::vector<uint8_t> out = std::vector<uint8_t>(65536), back = std::vector<uint8_t>(65536);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Contexts ctx;
  std::span<const uint8_t> in(data, size);

  // Decoder: the output size comes from the first two bytes when present, so
  // the fuzzer can steer it; plus a few fixed sizes.
  size_t steer = size >= 2 ? (size_t(data[0]) | (size_t(data[1]) << 8)) + 1 : 1;
  for (size_t n : {steer, size_t(1), size_t(900), size_t(32768)}) {
    n = std::min<size_t>(n, 32768);
    (void)ctx.d32->decompress(in, {ctx.out.data(), n});
    (void)ctx.d64->decompress(in, {ctx.out.data(), n});
  }
  (void)ctx.d2m->decompress(in, {ctx.out.data(), std::min<size_t>(steer * 2, 65536)});

  // Encoder round trip on the input itself (capped to a chunk).
  std::span<const uint8_t> chunk(data, std::min<size_t>(size, 32768));
  for (auto* c : {ctx.c_fast.get(), ctx.c_default.get()}) {
    size_t csize = c->compress(chunk, {ctx.out.data(), chunk.size()});
    if (csize == 0) continue;
    if (csize >= chunk.size()) std::abort();
    auto& d = c == ctx.c_fast.get() ? ctx.d32 : ctx.d64;
    if (!d->decompress({ctx.out.data(), csize}, {ctx.back.data(), chunk.size()})) std::abort();
    if (std::memcmp(ctx.back.data(), chunk.data(), chunk.size()) != 0) std::abort();
  }
  return 0;
}
