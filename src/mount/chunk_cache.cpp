#include "mount/chunk_cache.hpp"

#include <algorithm>
#include <cstring>

#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"

namespace wp::mount {
namespace {

[[noreturn]] void outside(const wim::Archive& a) {
  fail(Errc::BadArchive, "'" + a.path() + "': blob outside its resource");
}

// Per-thread decoding state, reused for every chunk this thread decodes.
struct Decoder {
  Bytes stored;
  wim::ChunkBuffer out;
  DecompressContext ctx;
};
thread_local Decoder t_decoder;

}  // namespace

ChunkCache::~ChunkCache() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  jobs_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ChunkCache::enable_readahead() {
  std::lock_guard lk(m_);
  if (workers_.empty())
    for (int i = 0; i < 2; i++) workers_.emplace_back([this] { worker(); });
}

void ChunkCache::worker() {
  std::unique_lock lk(m_);
  for (;;) {
    jobs_cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job j = jobs_.front();
    jobs_.pop_front();
    if (entries_.count({j.archive, j.resource, j.index})) continue;  // read meanwhile
    lk.unlock();
    try {
      chunk(*j.archive, j.resource, j.index, j.ref);
    } catch (...) {
      // The reader that needs this chunk decodes it again and reports the error.
    }
    lk.lock();
  }
}

// Called after a read of [begin, end) of the resource that ended in chunk
// `last`: if it continues the previous read, queues the next chunks.
void ChunkCache::readahead(const wim::Archive& a, uint32_t resource, const std::vector<wim::ChunkRef>& chunks,
                           size_t last, uint64_t begin, uint64_t end) {
  const uint64_t kAheadBytes = std::min<uint64_t>(1 << 20, limit_ / 4);
  constexpr size_t kMaxJobs = 64;
  bool queued = false;
  {
    std::lock_guard lk(m_);
    if (workers_.empty()) return;
    auto [it, fresh] = last_end_.try_emplace({&a, resource}, end);
    bool sequential = !fresh && it->second == begin;
    it->second = end;
    if (last_end_.size() > 4096) last_end_.clear();  // bounded bookkeeping
    if (!sequential) return;
    uint64_t ahead = 0;
    for (size_t i = last + 1; i < chunks.size() && ahead < kAheadBytes && jobs_.size() < kMaxJobs; i++) {
      ahead += chunks[i].usize;
      if (entries_.count({&a, resource, i})) continue;
      jobs_.push_back({&a, resource, i, chunks[i]});
      ahead_queued_++;
      queued = true;
    }
  }
  if (queued) jobs_cv_.notify_all();
}

const std::vector<wim::ChunkRef>& ChunkCache::layout(const wim::Archive& a, uint32_t resource) {
  std::lock_guard lk(layout_m_);
  auto& slot = layouts_[{&a, resource}];
  if (!slot) slot = std::make_unique<const std::vector<wim::ChunkRef>>(wim::chunk_layout(a.file(), a.resources().at(resource)));
  return *slot;
}

ChunkCache::Data ChunkCache::chunk(const wim::Archive& a, uint32_t resource, size_t index, const wim::ChunkRef& ref) {
  Key key{&a, resource, index};
  std::promise<Data> promise;
  {
    std::unique_lock lk(m_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      auto fut = it->second.data;
      lk.unlock();
      return fut.get();  // waits if another thread is decoding it; rethrows its error
    }
    lru_.push_front(key);
    entries_.emplace(key, Entry{promise.get_future().share(), 0, lru_.begin()});
  }
  Data data;
  try {
    Decoder& d = t_decoder;
    d.stored.resize(ref.csize);
    a.file().read_at(ref.file_offset, d.stored, "compressed data");
    ByteSpan plain = wim::decode_chunk(a.file(), a.resources()[resource], ref, d.stored, d.out, d.ctx);
    if (plain.size() != ref.usize) outside(a);
    data = std::make_shared<const Bytes>(plain.begin(), plain.end());
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard lk(m_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {  // not cached: the next read tries again
      lru_.erase(it->second.lru);
      entries_.erase(it);
    }
    throw;
  }
  promise.set_value(data);
  std::lock_guard lk(m_);
  decoded_++;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.size = data->size();
    bytes_ += data->size();
    evict_locked();
  }
  return data;
}

// Drops least recently used decoded chunks until the cache fits its limit
// (always keeping the most recent one, so a read can progress even if one
// chunk is larger than the limit). Chunks still being decoded stay.
void ChunkCache::evict_locked() {
  auto it = lru_.end();
  while (bytes_ > limit_ && it != lru_.begin()) {
    --it;
    if (it == lru_.begin()) break;
    auto e = entries_.find(*it);
    if (e->second.size == 0) continue;  // being decoded (or empty)
    bytes_ -= e->second.size;
    entries_.erase(e);
    it = lru_.erase(it);
  }
}

// The resource that holds bytes [off, off + len) of the blob at `loc`, after
// checking that they lie within the blob and the resource.
static const wim::Resource& resource_for(const wim::BlobLocation& loc, uint64_t off, size_t len) {
  const wim::Archive& a = *loc.archive;
  if (loc.resource >= a.resources().size()) outside(a);
  const wim::Resource& res = a.resources()[loc.resource];
  uint64_t pos = loc.offset + off;
  if (off > loc.size || len > loc.size - off || pos > res.usize || len > res.usize - pos) outside(a);
  return res;
}

std::vector<ChunkCache::Piece> ChunkCache::pieces(const wim::BlobLocation& loc, uint64_t off, size_t len) {
  const wim::Archive& a = *loc.archive;
  const wim::Resource& res = resource_for(loc, off, len);
  const uint64_t pos = loc.offset + off;
  std::vector<Piece> out;
  if (len == 0) return out;
  if (!res.compressed) {  // stored as is: read straight from the file
    auto buf = std::make_shared<Bytes>(len);
    a.file().read_at(res.offset + pos, *buf, "file data");
    out.push_back({buf, *buf});
    return out;
  }
  const auto& chunks = layout(a, loc.resource);
  size_t done = 0;
  while (done < len) {
    uint64_t at = pos + done;
    auto it = std::upper_bound(chunks.begin(), chunks.end(), at,
                               [](uint64_t v, const wim::ChunkRef& c) { return v < c.uoffset; });
    if (it == chunks.begin()) outside(a);
    size_t index = size_t(it - chunks.begin()) - 1;
    const wim::ChunkRef& ref = chunks[index];
    if (at >= ref.uoffset + ref.usize) outside(a);
    Data data = chunk(a, loc.resource, index, ref);
    uint64_t in_chunk = at - ref.uoffset;
    size_t n = size_t(std::min<uint64_t>(len - done, data->size() - in_chunk));
    if (n == 0) outside(a);  // (cannot happen: chunks decode to their size)
    out.push_back({data, ByteSpan(data->data() + in_chunk, n)});
    done += n;
    if (done == len) readahead(a, loc.resource, chunks, index, pos, pos + len);
  }
  return out;
}

void ChunkCache::read(const wim::BlobLocation& loc, uint64_t off, std::span<uint8_t> out) {
  const wim::Resource& res = resource_for(loc, off, out.size());
  if (!res.compressed) {  // stored as is: straight from the file into `out`
    if (!out.empty()) loc.archive->file().read_at(res.offset + loc.offset + off, out, "file data");
    return;
  }
  size_t done = 0;
  for (const Piece& p : pieces(loc, off, out.size())) {
    std::memcpy(out.data() + done, p.bytes.data(), p.bytes.size());
    done += p.bytes.size();
  }
}

uint64_t ChunkCache::decoded_chunks() const {
  std::lock_guard lk(m_);
  return decoded_;
}

uint64_t ChunkCache::readahead_chunks() const {
  std::lock_guard lk(m_);
  return ahead_queued_;
}

uint64_t ChunkCache::cached_bytes() const {
  std::lock_guard lk(m_);
  return bytes_;
}

}  // namespace wp::mount
