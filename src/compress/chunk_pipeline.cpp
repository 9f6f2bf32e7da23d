#include "compress/chunk_pipeline.hpp"

#include <tbb/task_arena.h>

#include <algorithm>

namespace wp {

size_t chunk_tokens(uint64_t max_chunk) {
  size_t threads = size_t(tbb::this_task_arena::max_concurrency());
  // Bounded memory: at most ~256 MiB of chunk buffers (input and output) in flight.
  size_t by_mem = size_t((256ull << 20) / (2 * std::max<uint64_t>(max_chunk, 1)));
  return std::max<size_t>(2, std::min(threads * 4, by_mem));
}

size_t compress_chunk(Compressor& c, std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  if (in.size() <= 1) return 0;
  out.resize(in.size());
  return c.compress(in, out);
}

}  // namespace wp
