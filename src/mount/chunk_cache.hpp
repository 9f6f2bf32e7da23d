// Random access to blobs for a mount: a read at any offset decodes only the
// chunks it covers (found through the resource's chunk table), and decoded
// chunks are kept in one cache shared by every file and thread, bounded in
// bytes and evicted least-recently-used first. A solid resource is decoded
// chunk by chunk the same way, never whole.
//
// Thread safety: read() may run on any number of threads at once. A chunk
// wanted by several threads at once is decoded once: the first decodes it,
// the others wait for its result (or its error).
#pragma once

#include <cstdint>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <tuple>
#include <vector>

#include "wim/archive.hpp"
#include "wim/resource_reader.hpp"

namespace wp::mount {

class ChunkCache {
public:
  explicit ChunkCache(uint64_t limit_bytes) : limit_(limit_bytes) {}

  // Copies out.size() bytes of the blob at `loc`, from offset `off` within
  // the blob (the caller keeps off + out.size() <= loc.size). Throws
  // wp::Error on corrupt data or I/O errors.
  void read(const wim::BlobLocation& loc, uint64_t off, std::span<uint8_t> out);

  // Counters (tests, --debug).
  uint64_t decoded_chunks() const;
  uint64_t cached_bytes() const;

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

  const uint64_t limit_;
  mutable std::mutex m_;
  std::map<Key, Entry> entries_;
  std::list<Key> lru_;  // front = most recently used
  uint64_t bytes_ = 0, decoded_ = 0;
  std::mutex layout_m_;
  std::map<std::pair<const wim::Archive*, uint32_t>, std::unique_ptr<const std::vector<wim::ChunkRef>>> layouts_;
};

}  // namespace wp::mount
