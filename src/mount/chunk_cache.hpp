// Random access to blobs for a mount: a read at any offset decodes only the
// chunks it covers (found through the resource's chunk table), and decoded
// chunks are kept in one cache shared by every file and thread, bounded in
// bytes and evicted least-recently-used first. A solid resource is decoded
// chunk by chunk the same way, never whole.
//
// Read-ahead: once enable_readahead() was called, a read that continues
// where the previous read of the same resource ended queues the decoding of
// the next chunks (about 1 MiB) on two background threads, so sequential
// reads find them decoded. (Not enabled before a mount process forks into
// the background: threads do not survive fork.)
//
// Thread safety: read() may run on any number of threads at once. A chunk
// wanted by several threads at once is decoded once: the first decodes it,
// the others wait for its result (or its error).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <tuple>
#include <vector>

#include "wim/archive.hpp"
#include "wim/resource_reader.hpp"

namespace wp::mount {

class ChunkCache {
public:
  explicit ChunkCache(uint64_t limit_bytes) : limit_(limit_bytes) {}
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  void enable_readahead();

  // Copies out.size() bytes of the blob at `loc`, from offset `off` within
  // the blob (the caller keeps off + out.size() <= loc.size). Throws
  // wp::Error on corrupt data or I/O errors.
  void read(const wim::BlobLocation& loc, uint64_t off, std::span<uint8_t> out);

  // The same bytes without copying them: the decoded chunks (or, for a
  // resource stored as is, one buffer read from the file) that hold them,
  // in order. `owner` keeps each piece's memory alive after eviction.
  struct Piece {
    std::shared_ptr<const Bytes> owner;
    ByteSpan bytes;
  };
  std::vector<Piece> pieces(const wim::BlobLocation& loc, uint64_t off, size_t len);

  // Counters (tests, --debug).
  uint64_t decoded_chunks() const;
  uint64_t cached_bytes() const;
  uint64_t readahead_chunks() const;  // chunks queued for read-ahead

private:
  using Key = std::tuple<const wim::Archive*, uint32_t, size_t>;  // archive, resource, chunk
  using Data = std::shared_ptr<const Bytes>;
  struct Entry {
    std::shared_future<Data> data;
    uint64_t size = 0;  // counted once decoded
    std::list<Key>::iterator lru;
  };

  const std::vector<wim::ChunkRef>& layout(const wim::Archive& a, uint32_t resource);
  Data chunk(const wim::Archive& a, uint32_t resource, size_t index, const wim::ChunkRef& ref);
  void evict_locked();
  void readahead(const wim::Archive& a, uint32_t resource, const std::vector<wim::ChunkRef>& chunks, size_t last,
                 uint64_t begin, uint64_t end);
  void worker();

  const uint64_t limit_;
  mutable std::mutex m_;
  std::map<Key, Entry> entries_;
  std::list<Key> lru_;  // front = most recently used
  uint64_t bytes_ = 0, decoded_ = 0;
  // Read-ahead: where the last read of each resource ended, and the queue
  // of chunks to decode (bounded; further requests are dropped).
  std::map<std::pair<const wim::Archive*, uint32_t>, uint64_t> last_end_;
  struct Job {
    const wim::Archive* archive;
    uint32_t resource;
    size_t index;
    wim::ChunkRef ref;
  };
  std::deque<Job> jobs_;
  std::condition_variable jobs_cv_;
  bool stop_ = false;
  uint64_t ahead_queued_ = 0;
  std::vector<std::thread> workers_;
  std::mutex layout_m_;
  std::map<std::pair<const wim::Archive*, uint32_t>, std::unique_ptr<const std::vector<wim::ChunkRef>>> layouts_;
};

}  // namespace wp::mount
