// libFuzzer target for the XPRESS codec: arbitrary bytes go to the decoder at
// several output sizes (it must return false or fill the output, never crash,
// over-read or hang), and the same bytes are compressed at a level and chunk
// size picked from the input and must decode back to themselves.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "compress/codec.hpp"

using namespace wp;

namespace {
constexpr uint32_t kMaxChunk = 65536;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto decomp = make_decompressor(Codec::Xpress, kMaxChunk);
  static std::unique_ptr<Compressor> comps[] = {
      make_compressor(Codec::Xpress, 1, kMaxChunk),  make_compressor(Codec::Xpress, 20, kMaxChunk),
      make_compressor(Codec::Xpress, 50, kMaxChunk), make_compressor(Codec::Xpress, 80, kMaxChunk),
      make_compressor(Codec::Xpress, 100, kMaxChunk)};
  if (size > kMaxChunk) return 0;

  // Decoder: exact-size output buffers, so ASan catches any overrun.
  std::vector<uint8_t> out;
  const size_t sizes[] = {1, size + 1, 2 * size + 300, 4096, 65536};
  for (size_t n : sizes) {
    if (n == 0 || n > kMaxChunk) continue;
    out.assign(n, 0);
    (void)decomp->decompress({data, size}, out);
  }

  // Round trip: the first byte picks the level, the data is the rest.
  if (size < 2) return 0;
  auto& comp = *comps[data[0] % 5];
  std::span<const uint8_t> in(data + 1, size - 1);
  std::vector<uint8_t> c(in.size()), back(in.size());
  size_t cn = comp.compress(in, c);
  if (cn == 0) return 0;
  if (cn >= in.size()) std::abort();
  if (!decomp->decompress({c.data(), cn}, back)) std::abort();
  if (std::memcmp(back.data(), in.data(), in.size()) != 0) std::abort();
  return 0;
}
