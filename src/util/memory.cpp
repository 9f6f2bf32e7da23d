#include "util/memory.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <fstream>
#include <sstream>
#include <string_view>

#include "util/size.hpp"

namespace wp {

uint64_t physical_memory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

namespace {

// True if `controllers` (the middle field of a /proc/self/cgroup line, e.g.
// "memory" or "cpu,memory") names the v1 memory controller.
bool has_memory_controller(std::string_view controllers) {
  while (!controllers.empty()) {
    size_t comma = controllers.find(',');
    if (controllers.substr(0, comma) == "memory") return true;
    if (comma == std::string_view::npos) break;
    controllers.remove_prefix(comma + 1);
  }
  return false;
}

// The tightest limit in `file` of `root`/PATH and each ancestor of PATH.
// Values of 2^62 and more are "unlimited" (v1 writes 0x7FFFFFFFFFFFF000).
std::optional<uint64_t> tightest(std::string path, const std::string& root, const char* file,
                                 const std::function<std::string(const std::string&)>& read) {
  std::optional<uint64_t> best;
  for (;;) {
    std::string dir = root + (path == "/" ? std::string() : path);
    while (!dir.empty() && dir.front() == '/') dir.erase(0, 1);
    std::string v = read(dir.empty() ? std::string(file) : dir + "/" + file);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (!v.empty() && v != "max" && v.find_first_not_of("0123456789") == std::string::npos && v.size() < 20) {
      uint64_t n = std::stoull(v);
      if (n < (uint64_t(1) << 62)) best = best ? std::min(*best, n) : n;
    }
    if (path.empty() || path == "/") break;
    size_t slash = path.rfind('/');
    path = slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
  }
  return best;
}

}  // namespace

std::optional<uint64_t> cgroup_memory_limit_from(const std::string& cgroup_file,
                                                 const std::function<std::string(const std::string&)>& read) {
  std::istringstream in(cgroup_file);
  std::string line;
  std::optional<uint64_t> best;
  auto take = [&](std::optional<uint64_t> v) {
    if (v) best = best ? std::min(*best, *v) : *v;
  };
  while (std::getline(in, line)) {
    // "ID:CONTROLLERS:PATH"; PATH may itself contain ':'.
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? std::string::npos : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string_view controllers(line.data() + a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (path.empty() || path.front() != '/') continue;
    if (line.compare(0, a, "0") == 0 && controllers.empty())
      take(tightest(path, "", "memory.max", read));  // cgroup v2
    else if (has_memory_controller(controllers))
      take(tightest(path, "memory", "memory.limit_in_bytes", read));  // cgroup v1
  }
  return best;
}

std::optional<uint64_t> cgroup_memory_limit() {
  std::ifstream f("/proc/self/cgroup");
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return cgroup_memory_limit_from(ss.str(), [](const std::string& path) {
    std::ifstream m("/sys/fs/cgroup/" + path);
    std::string v;
    if (m) std::getline(m, v);
    return v;
  });
}

namespace {
std::mutex g_mutex;  // pipelines on several threads may ask at once
std::optional<uint64_t> g_budget;
std::string g_origin;
std::atomic<uint64_t> g_chunk_buffers{256ull << 20};
}  // namespace

void set_memory_budget(uint64_t bytes, std::string origin) {
  std::lock_guard lk(g_mutex);
  g_budget = bytes;
  g_origin = std::move(origin);
}

uint64_t memory_budget() {
  std::lock_guard lk(g_mutex);
  if (!g_budget) {
    uint64_t b = physical_memory();
    g_origin = "physical memory (" + format_size(b) + ")";
    if (auto c = cgroup_memory_limit(); c && (b == 0 || *c < b)) {
      b = *c;
      g_origin = "the cgroup memory limit (" + format_size(b) + ")";
    }
    if (b == 0) b = UINT64_MAX, g_origin = "unlimited";
    g_budget = b;
  }
  return *g_budget;
}

std::string memory_budget_origin() {
  memory_budget();
  std::lock_guard lk(g_mutex);
  return g_origin;
}

uint64_t chunk_buffer_limit() { return g_chunk_buffers; }
void set_chunk_buffer_limit(uint64_t bytes) { g_chunk_buffers = bytes; }

std::optional<MemoryPlan> plan_memory(uint64_t budget, unsigned threads, uint64_t chunk, uint64_t min_chunk,
                                      const std::function<uint64_t(uint64_t)>& state, uint64_t min_tokens) {
  if (budget <= kMemoryBaseline) return std::nullopt;
  const uint64_t avail = budget - kMemoryBaseline;
  threads = std::max(1u, threads);
  chunk = std::max<uint64_t>(chunk, 1);
  for (;;) {
    const uint64_t per_token = 2 * chunk, st = state(chunk);
    for (unsigned t = threads; t >= 1; t--) {
      uint64_t need_tokens = std::max<uint64_t>(t, min_tokens);
      uint64_t fixed = uint64_t(t) * st;
      if (fixed > avail || (avail - fixed) / per_token < need_tokens) continue;
      uint64_t tokens = std::min<uint64_t>((avail - fixed) / per_token, 4ull * t);
      tokens = std::min(tokens, std::max<uint64_t>(need_tokens, (256ull << 20) / per_token));
      return MemoryPlan{t, std::max(tokens, need_tokens), chunk};
    }
    if (chunk / 2 < std::max<uint64_t>(min_chunk, 1)) return std::nullopt;
    chunk /= 2;
  }
}

}  // namespace wp
