#include "compress/chunk_pipeline.hpp"

#include <tbb/task_arena.h>

#include <algorithm>

#include "util/error.hpp"
#include "util/memory.hpp"
#include "util/size.hpp"

namespace wp {

size_t chunk_tokens(uint64_t max_chunk) {
  size_t threads = size_t(tbb::this_task_arena::max_concurrency());
  // Bounded memory: chunk buffers (input and output) in flight stay within
  // chunk_buffer_limit() (256 MiB unless a memory plan set less) and within
  // the memory budget (util/memory.hpp).
  const uint64_t per_token = 2 * std::max<uint64_t>(max_chunk, 1);
  const uint64_t budget = memory_budget();
  const uint64_t by_budget = (budget > kMemoryBaseline ? budget - kMemoryBaseline : 0) / per_token;
  const uint64_t by_mem = std::min(by_budget, chunk_buffer_limit() / per_token);
  if (by_budget == 0)
    fail(Errc::Usage, "the memory budget, " + memory_budget_origin() + ", is too small for chunks of " +
                          format_size(max_chunk) + " (at least " + format_size(kMemoryBaseline + per_token) +
                          " is needed; raise --max-memory)");
  return size_t(std::max<uint64_t>(std::min<uint64_t>(2, by_budget), std::min<uint64_t>(threads * 4, by_mem)));
}

size_t compress_chunk(Compressor& c, std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  if (in.size() <= 1) return 0;
  out.resize(in.size());
  return c.compress(in, out);
}

}  // namespace wp
