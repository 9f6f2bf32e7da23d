// The memory budget (util/memory.hpp): the pure sizing function and the
// cgroup v2 limit lookup.
#include <doctest/doctest.h>

#include <map>

#include "compress/codec.hpp"
#include "util/memory.hpp"

using namespace wp;

namespace {
constexpr uint64_t MiB = 1ull << 20;
uint64_t used(const MemoryPlan& p, const std::function<uint64_t(uint64_t)>& st) {
  return kMemoryBaseline + p.tokens * 2 * p.chunk + p.threads * st(p.chunk);
}
}  // namespace

TEST_CASE("plan_memory: a large budget changes nothing") {
  auto st = [](uint64_t c) { return 5 * c; };
  auto p = plan_memory(64ull << 30, 4, 64 * MiB, 64 * MiB, st);
  REQUIRE(p);
  CHECK(p->threads == 4);
  CHECK(p->chunk == 64 * MiB);
  CHECK(p->tokens == 4);  // the 256 MiB buffer cap would allow 2; never fewer than the threads
}

TEST_CASE("plan_memory: fewer threads, then smaller chunks, always inside the budget") {
  auto st = [](uint64_t c) { return compressor_memory(Codec::Lzms, c); };
  auto p = plan_memory(200 * MiB, 2, 64 * MiB, MiB, st);
  REQUIRE(p);
  CHECK(p->threads == 1);
  CHECK(p->chunk < 64 * MiB);
  CHECK(used(*p, st) <= 200 * MiB);
  CHECK(p->tokens >= 2);
  // Fixed chunk size: nothing fits, no plan.
  CHECK_FALSE(plan_memory(200 * MiB, 2, 64 * MiB, 64 * MiB, st));
  // Below the baseline: nothing fits.
  CHECK_FALSE(plan_memory(kMemoryBaseline, 1, 32768, 32768, st));
  // Every budget from tiny to large gives a plan inside it or none.
  for (uint64_t b = 32 * MiB; b <= 4096 * MiB; b += 37 * MiB) {
    for (unsigned t : {1u, 2u, 8u}) {
      auto q = plan_memory(b, t, 64 * MiB, MiB, st);
      if (q) {
        CHECK(used(*q, st) <= b);
        CHECK(q->threads <= t);
        CHECK(q->tokens >= std::max<uint64_t>(2, q->threads));
      }
    }
  }
}

TEST_CASE("plan_memory: threads are kept when buffers are what is short") {
  auto none = [](uint64_t) { return uint64_t(0); };
  auto p = plan_memory(kMemoryBaseline + 8 * MiB, 2, MiB, MiB, none);
  REQUIRE(p);
  CHECK(p->threads == 2);
  CHECK(p->tokens == 4);
}

TEST_CASE("cgroup_memory_limit_from: the tightest memory.max up the tree (v2)") {
  std::map<std::string, std::string> files{{"a/b/memory.max", "max\n"}, {"a/memory.max", "209715200\n"}, {"memory.max", ""}};
  auto rd = [&](const std::string& p) { return files.count(p) ? files[p] : std::string(); };
  CHECK(*cgroup_memory_limit_from("0::/a/b\n", rd) == 209715200);
  files["a/b/memory.max"] = "104857600\n";
  CHECK(*cgroup_memory_limit_from("0::/a/b\n", rd) == 104857600);
  CHECK_FALSE(cgroup_memory_limit_from("0::/\n", rd));  // root: no limit
  CHECK_FALSE(cgroup_memory_limit_from("4:cpu:/x\n1:pids:/\n", rd));  // no memory controller
  files["a/memory.max"] = "max";
  files["a/b/memory.max"] = "max";
  CHECK_FALSE(cgroup_memory_limit_from("0::/a/b\n", rd));
}

TEST_CASE("cgroup_memory_limit_from: cgroup v1's memory controller") {
  std::map<std::string, std::string> files{{"memory/x/y/memory.limit_in_bytes", "9223372036854771712\n"},
                                           {"memory/x/memory.limit_in_bytes", "314572800\n"},
                                           {"memory/memory.limit_in_bytes", "9223372036854771712\n"}};
  auto rd = [&](const std::string& p) { return files.count(p) ? files[p] : std::string(); };
  CHECK(*cgroup_memory_limit_from("4:memory:/x/y\n1:cpu:/\n0::/\n", rd) == 314572800);
  CHECK(*cgroup_memory_limit_from("3:cpuacct,memory:/x/y\n", rd) == 314572800);  // co-mounted controllers
  CHECK_FALSE(cgroup_memory_limit_from("4:memory:/\n", rd));  // "unlimited" is a huge number
  CHECK_FALSE(cgroup_memory_limit_from("4:memoryx:/x/y\n", rd));
  // Both hierarchies: the tighter one.
  files["a/memory.max"] = "104857600";
  CHECK(*cgroup_memory_limit_from("4:memory:/x/y\n0::/a\n", rd) == 104857600);
}
