// Read-ahead for a front-to-back consumer of blob sources (issue 14: capture
// from a cold page cache). A background thread asks the sources after the
// one being read to start loading their data (BlobSource::prefetch, which for
// files is posix_fadvise(WILLNEED)), so that the disk has many requests in
// flight while the readers and compressors work on the current ones. It stays
// at most a window of bytes and of sources ahead of the consumer, so it never
// evicts what is about to be read. On a warm cache it backs off: once a run
// of sources was in memory already, it only probes every 32nd one.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "wim/blob_source.hpp"

namespace wp::wim {

class Prefetcher {
public:
  // `order`: the sources in the order they will be read. Nothing is started
  // for fewer than two sources or when no source can prefetch.
  explicit Prefetcher(std::vector<const BlobSource*> order, uint64_t window_bytes = 64u << 20,
                      size_t window_count = 512);
  ~Prefetcher();  // stops and joins the thread
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The consumer has started on order[index] (calls need not be monotonic;
  // the largest index seen counts).
  void reached(size_t index);

private:
  void run();

  std::vector<const BlobSource*> order_;
  std::vector<uint64_t> end_;  // end_[i] = total size of order[0..i]
  uint64_t window_bytes_;
  size_t window_count_;
  std::atomic<size_t> reached_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace wp::wim
