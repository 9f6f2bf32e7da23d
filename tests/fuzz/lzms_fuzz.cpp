// libFuzzer target: arbitrary bytes into the LZMS decoder at several output
// sizes. The decoder must return false or fill exactly the output, never
// read or write out of bounds, never hang. One context is reused across
// inputs, as the container reuses it across chunks.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "compress/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<wp::Decompressor> decoder = wp::make_decompressor(wp::Codec::Lzms, 1u << 20);
  if (size < 2) return 0;
  // The first two bytes pick an extra output size, so the fuzzer can steer
  // it; the rest is the chunk.
  const size_t steer = size_t(data[0]) | (size_t(data[1]) << 8);
  std::span<const uint8_t> chunk(data + 2, size - 2);
  const size_t sizes[] = {chunk.size() + 1, chunk.size() + 17, chunk.size() * 3 + 5, chunk.size() + 1 + steer,
                          65536, 131072};
  std::vector<uint8_t> out;
  for (size_t n : sizes) {
    out.assign(n, 0);
    (void)decoder->decompress(chunk, out);
  }
  return 0;
}
