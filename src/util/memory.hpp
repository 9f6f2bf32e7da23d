// The memory budget (--max-memory, issue 13): how much memory a command may
// use, where the default comes from (physical memory, the cgroup limit),
// and the one function that sizes threads, chunks in flight and solid chunks
// to fit it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace wp {

// Physical memory (sysconf); 0 if unknown.
uint64_t physical_memory();
// The tightest memory limit of this process's cgroup and its ancestors:
// cgroup v2 (/proc/self/cgroup "0::PATH", /sys/fs/cgroup/PATH/memory.max,
// "max" = unlimited) and cgroup v1's memory controller ("N:memory:PATH",
// /sys/fs/cgroup/memory/PATH/memory.limit_in_bytes, where unlimited is a
// huge number), whichever the host has (Docker on older hosts is v1).
// nullopt when unlimited or under no cgroup.
std::optional<uint64_t> cgroup_memory_limit();
// The same from given file contents (for tests): `cgroup_file` is
// /proc/self/cgroup, `read(path)` returns the content of /sys/fs/cgroup/PATH
// (e.g. "a/b/memory.max", "memory/a/memory.limit_in_bytes"; "" if unreadable).
std::optional<uint64_t> cgroup_memory_limit_from(const std::string& cgroup_file,
                                                 const std::function<std::string(const std::string&)>& read);

// The process-wide budget: --max-memory if given (set_memory_budget), else
// min(physical memory, cgroup limit).
void set_memory_budget(uint64_t bytes, std::string origin);
uint64_t memory_budget();
// "--max-memory=200M" or "the cgroup limit (200 MiB)": for messages.
std::string memory_budget_origin();

// What the process needs besides chunk buffers and codec state (the image
// tree, tables, hashing and I/O buffers, the binary and its libraries).
inline constexpr uint64_t kMemoryBaseline = 40ull << 20;

// Chunk buffers in flight may use at most this much (the ChunkPipeline token
// count, compress/chunk_pipeline.hpp): 256 MiB unless a plan set less.
uint64_t chunk_buffer_limit();
void set_chunk_buffer_limit(uint64_t bytes);

struct MemoryPlan {
  unsigned threads = 1;
  uint64_t tokens = 2;  // chunks in flight, each an input and an output buffer
  uint64_t chunk = 0;   // chunk size (smaller than asked only when it may shrink)
};

// The pure sizing function. Memory used = kMemoryBaseline + tokens * 2 *
// chunk + threads * state(chunk), where state is a thread's codec working
// memory for that chunk size. Picks the most threads (up to `threads`) and
// then the most tokens (up to 4 per thread and the 256 MiB buffer cap, at
// least max(threads, min_tokens)) that fit `budget`; when even one thread
// does not fit, halves the chunk size down to `min_chunk` (pass
// min_chunk = chunk when it must not change). nullopt: nothing fits.
std::optional<MemoryPlan> plan_memory(uint64_t budget, unsigned threads, uint64_t chunk, uint64_t min_chunk,
                                      const std::function<uint64_t(uint64_t)>& state, uint64_t min_tokens = 2);

}  // namespace wp
