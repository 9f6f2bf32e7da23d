// The read-ahead thread (src/wim/prefetch.hpp): it hints the sources after
// the one being read, in order, never more than its window ahead, and backs
// off while the sources it hints are already in memory.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "wim/prefetch.hpp"

using namespace wp;

namespace {

struct Log {
  std::mutex m;
  std::vector<size_t> hinted;
};

class FakeSource final : public wim::BlobSource {
public:
  FakeSource(size_t id, uint64_t size, bool cached, Log& log) : id_(id), size_(size), cached_(cached), log_(log) {}
  uint64_t size() const override { return size_; }
  std::unique_ptr<wim::BlobStream> open() const override { return nullptr; }
  std::string describe() const override { return "fake"; }
  bool can_prefetch() const override { return true; }
  bool prefetch() const override {
    std::lock_guard lk(log_.m);
    log_.hinted.push_back(id_);
    return !cached_;
  }

private:
  size_t id_;
  uint64_t size_;
  bool cached_;
  Log& log_;
};

// The hints so far, once there are at least `n` (or after 10 s), plus a
// short pause so that hints beyond the expected ones would show up.
std::vector<size_t> hints(Log& log, size_t n) {
  for (int i = 0; i < 2000; i++) {
    {
      std::lock_guard lk(log.m);
      if (log.hinted.size() >= n) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::lock_guard lk(log.m);
  return log.hinted;
}

std::vector<const wim::BlobSource*> ptrs(const std::vector<std::unique_ptr<FakeSource>>& v) {
  std::vector<const wim::BlobSource*> out;
  for (const auto& s : v) out.push_back(s.get());
  return out;
}

}  // namespace

TEST_CASE("prefetch: hints the next sources in order, within the window, following the consumer") {
  Log log;
  std::vector<std::unique_ptr<FakeSource>> src;
  for (size_t i = 0; i < 100; i++) src.push_back(std::make_unique<FakeSource>(i, 1000, false, log));
  wim::Prefetcher pf(ptrs(src), /*window_bytes=*/10'000, /*window_count=*/50);
  auto h = hints(log, 9);
  // Sources 1.. (the consumer opens 0 itself), up to 10,000 bytes from the start of source 0.
  REQUIRE(h.size() == 9);
  for (size_t i = 0; i < h.size(); i++) CHECK(h[i] == i + 1);
  pf.reached(40);  // the consumer skipped ahead: nothing behind it is hinted
  h = hints(log, 18);
  REQUIRE(h.size() == 18);
  CHECK(h[9] == 41);
  CHECK(h.back() == 49);
}

TEST_CASE("prefetch: backs off while the sources are already in memory") {
  Log log;
  std::vector<std::unique_ptr<FakeSource>> src;
  for (size_t i = 0; i < 1000; i++) src.push_back(std::make_unique<FakeSource>(i, 1, i >= 500 ? false : true, log));
  {
    wim::Prefetcher pf(ptrs(src), 1 << 30, 2000);
    auto h = hints(log, 64 + 13 + 488);
    // 64 cached in a row, then every 32nd up to 500; from 512 on (the first
    // probe that finds one not cached) every one.
    size_t below = 0, above = 0;
    for (size_t id : h) (id < 500 ? below : above)++;
    CHECK(below < 64 + 500 / 32 + 2);
    CHECK(below >= 64);
    CHECK(above == 1000 - 512);  // 512 itself and everything after it
  }
}

TEST_CASE("prefetch: nothing to do for one source or sources that cannot prefetch") {
  Log log;
  std::vector<std::unique_ptr<FakeSource>> one;
  one.push_back(std::make_unique<FakeSource>(0, 10, false, log));
  { wim::Prefetcher pf(ptrs(one)); }
  std::vector<std::unique_ptr<wim::MemoryBlobSource>> mem;
  std::vector<const wim::BlobSource*> p;
  for (int i = 0; i < 5; i++) mem.push_back(std::make_unique<wim::MemoryBlobSource>(Bytes(10))), p.push_back(mem.back().get());
  { wim::Prefetcher pf(p); pf.reached(3); }
  CHECK(hints(log, 0).empty());
}
