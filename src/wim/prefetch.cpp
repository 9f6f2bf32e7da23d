#include "wim/prefetch.hpp"

namespace wp::wim {

Prefetcher::Prefetcher(std::vector<const BlobSource*> order, uint64_t window_bytes, size_t window_count)
    : order_(std::move(order)), window_bytes_(window_bytes), window_count_(window_count) {
  bool any = false;
  for (const BlobSource* s : order_) any = any || s->can_prefetch();
  if (order_.size() < 2 || !any) return;
  end_.resize(order_.size());
  uint64_t total = 0;
  for (size_t i = 0; i < order_.size(); i++) end_[i] = total += order_[i]->size();
  thread_ = std::thread([this] { run(); });
}

Prefetcher::~Prefetcher() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  reached_.store(SIZE_MAX);
  reached_.notify_all();
  thread_.join();
}

void Prefetcher::reached(size_t index) {
  size_t cur = reached_.load(std::memory_order_relaxed);
  while (index > cur && !reached_.compare_exchange_weak(cur, index, std::memory_order_relaxed)) {
  }
  if (index > cur) reached_.notify_one();
}

void Prefetcher::run() {
  size_t next = 1;  // the consumer opens order[0] itself
  // A warm cache needs no hints: after kWarm sources in a row that were in
  // memory already, only every kProbe-th source is checked, until one is not.
  constexpr size_t kWarm = 64, kProbe = 32;
  size_t cached_run = 0;
  while (!stop_.load(std::memory_order_relaxed) && next < order_.size()) {
    size_t cur = reached_.load(std::memory_order_relaxed);
    if (cur >= order_.size()) break;
    if (next <= cur) next = cur + 1;  // fell behind: what is being read is loading anyway
    if (next >= order_.size()) break;
    // Bytes from the start of the current source to the end of `next`.
    uint64_t ahead = end_[next] - (cur ? end_[cur - 1] : 0);
    if (next - cur > window_count_ || (ahead > window_bytes_ && next > cur + 1)) {
      reached_.wait(cur);  // until the consumer moves on
      continue;
    }
    if (cached_run >= kWarm && next % kProbe != 0) {
      next++;
      continue;
    }
    cached_run = order_[next++]->prefetch() ? 0 : cached_run + 1;
  }
}

}  // namespace wp::wim
