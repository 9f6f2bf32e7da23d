#include "wim/archive_blob_source.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"
#include "util/sha1.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {
namespace {

// WIMPACK_READAHEAD_MIN_BYTES overrides the default (benchmarks: a huge
// value decodes every blob inline, as before the read-ahead existed).
uint64_t default_min_bytes() {
  const char* e = std::getenv("WIMPACK_READAHEAD_MIN_BYTES");
  return e && *e ? std::strtoull(e, nullptr, 10) : uint64_t(256) << 10;
}
std::atomic<uint64_t> g_min_bytes{default_min_bytes()};
std::atomic<uint64_t> g_started{0};
std::atomic<int> g_active{0};

// The last decoded chunk and the layout of the last resource, per thread, so
// consecutive blobs of one solid chunk decode it once.
struct DecodeCache {
  uint64_t archive = 0;  // Archive::serial(): an address could be reused
  uint32_t resource = UINT32_MAX;
  std::vector<ChunkRef> layout;
  size_t chunk = SIZE_MAX;
  Bytes raw;          // a raw chunk's bytes, or the compressed input
  ChunkBuffer decoded;  // a compressed chunk's output (not zeroed: see ChunkBuffer)
  ByteSpan data;      // the current chunk's uncompressed bytes (in raw or decoded)
  DecompressContext decomps;
};
thread_local DecodeCache t_cache;

// The cache of this thread, holding the layout of `loc`'s resource.
DecodeCache& cache_for(const Archive& a, uint32_t resource) {
  DecodeCache& c = t_cache;
  if (c.archive != a.serial() || c.resource != resource) {
    c.archive = 0;  // until the layout is read successfully
    c.chunk = SIZE_MAX;
    c.data = {};
    c.layout = chunk_layout(a.file(), a.resources()[resource]);
    c.archive = a.serial();
    c.resource = resource;
  }
  return c;
}

[[noreturn]] void outside(const Archive& a) { fail(Errc::BadArchive, "'" + a.path() + "': blob outside its resource"); }

// The index of the chunk holding uncompressed offset `off` (chunks are in
// uoffset order).
size_t chunk_index(const Archive& a, const std::vector<ChunkRef>& layout, uint64_t off) {
  auto it = std::upper_bound(layout.begin(), layout.end(), off, [](uint64_t v, const ChunkRef& ch) { return v < ch.uoffset; });
  if (it == layout.begin()) outside(a);
  return size_t(it - layout.begin()) - 1;
}

// Decodes `chunks` of resource `r` ahead of the reader: a dedicated thread
// runs the chunk pipeline and hands the decoded chunks, in order, to a
// bounded queue (see the header for why a std::thread).
class ChunkReadAhead {
public:
  ChunkReadAhead(const InputFile& f, const Resource& r, std::vector<ChunkRef> chunks, size_t tokens, size_t queue_cap)
      : f_(f), r_(r), chunks_(std::move(chunks)), tokens_(tokens), cap_(queue_cap) {
    thread_ = std::thread([this] { run(); });
    g_started++;
  }

  ~ChunkReadAhead() {
    {
      std::lock_guard lk(m_);
      cancel_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Replaces `cur` with the next decoded chunk (`cur`'s buffer is kept for
  // reuse). Rethrows the decoder's error once the chunks before it are read.
  void next(Bytes& cur) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return !ready_.empty() || finished_; });
    if (!ready_.empty()) {
      spare_.push_back(std::move(cur));
      cur = std::move(ready_.front());
      ready_.pop_front();
      lk.unlock();
      cv_.notify_all();
      return;
    }
    if (error_) std::rethrow_exception(error_);
    fail(Errc::Failure, "internal error: chunk read-ahead ended early");
  }

private:
  struct Cancelled {};
  struct Token {
    ChunkRef chunk;
    Bytes in;
    ChunkBuffer out;
    ByteSpan data;
  };

  bool cancelled() {
    std::lock_guard lk(m_);
    return cancel_;
  }

  void run() {
    std::exception_ptr err;
    try {
      ChunkPipeline<Token, DecompressContext> pipeline(tokens_);
      size_t next = 0;
      pipeline.run(
          [&](Token& t) -> bool {
            if (next >= chunks_.size() || cancelled()) return false;
            t.chunk = chunks_[next++];
            t.in.resize(t.chunk.csize);
            f_.read_at(t.chunk.file_offset, t.in, "compressed data");
            return true;
          },
          [&](Token& t, DecompressContext& ctx) { t.data = decode_chunk(f_, r_, t.chunk, t.in, t.out, ctx); },
          [&](Token& t) {
            Bytes b;
            {
              std::unique_lock lk(m_);
              cv_.wait(lk, [&] { return cancel_ || ready_.size() < cap_; });
              if (cancel_) throw Cancelled{};  // stops the pipeline at once
              if (!spare_.empty()) {
                b = std::move(spare_.back());
                spare_.pop_back();
              }
            }
            b.assign(t.data.begin(), t.data.end());
            {
              std::lock_guard lk(m_);
              ready_.push_back(std::move(b));
            }
            cv_.notify_all();
          });
    } catch (const Cancelled&) {
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard lk(m_);
      error_ = err;
      finished_ = true;
    }
    cv_.notify_all();
  }

  const InputFile& f_;
  const Resource r_;
  const std::vector<ChunkRef> chunks_;
  const size_t tokens_, cap_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Bytes> ready_;   // decoded, in order; at most cap_
  std::vector<Bytes> spare_;  // drained buffers, reused by the consumer
  bool cancel_ = false, finished_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: started once everything above exists
};

class ArchiveBlobStream final : public BlobStream {
public:
  ArchiveBlobStream(const Archive& a, const BlobLocation& loc, const Sha1& hash) : a_(a), loc_(loc), hash_(hash) {}

  size_t read(std::span<uint8_t> out) override {
    if (!started_ && pos_ < loc_.size) start();
    size_t done = 0;
    while (done < out.size() && pos_ < loc_.size) {
      ByteSpan data;
      uint64_t in_chunk;
      if (ahead_) {
        uint64_t off = loc_.offset + pos_;
        while (off >= cur_uoffset_ + cur_.size()) {  // the current chunk is used up
          if (next_chunk_ >= chunks_.size()) outside(a_);
          ahead_->next(cur_);
          if (cur_.size() != chunks_[next_chunk_].usize) outside(a_);
          cur_uoffset_ = chunks_[next_chunk_++].uoffset;
        }
        data = cur_;
        in_chunk = off - cur_uoffset_;
      } else {
        std::tie(data, in_chunk) = inline_chunk();
      }
      size_t n = size_t(std::min<uint64_t>({out.size() - done, data.size() - in_chunk, loc_.size - pos_}));
      std::memcpy(out.data() + done, data.data() + in_chunk, n);
      if (!hash_.is_zero()) hasher_.update({out.data() + done, n});
      done += n;
      pos_ += n;
    }
    if (pos_ == loc_.size && ahead_) finish_ahead();
    if (pos_ == loc_.size && !hash_.is_zero() && !checked_) {
      checked_ = true;
      if (hasher_.final() != hash_)
        fail(Errc::BadArchive, "'" + a_.path() + "': blob " + hash_.hex() +
                                   " is corrupt (its SHA-1 does not match; the archive is damaged)");
    }
    return done;
  }

private:
  // Chooses inline decoding or read-ahead, on the first read.
  void start() {
    started_ = true;
    DecodeCache& c = cache_for(a_, loc_.resource);
    size_t first = chunk_index(a_, c.layout, loc_.offset);
    if (loc_.size > UINT64_MAX - loc_.offset) outside(a_);
    size_t last = chunk_index(a_, c.layout, loc_.offset + loc_.size - 1);
    const ChunkRef& lc = c.layout[last];
    if (loc_.offset + loc_.size - lc.uoffset > lc.usize) outside(a_);
    uint64_t covered = lc.uoffset + lc.usize - c.layout[first].uoffset;
    if (last == first || covered < g_min_bytes.load()) return;
    // A slot among kMaxReadAheads, else inline.
    int active = g_active.load();
    do {
      if (active >= kMaxReadAheads) return;
    } while (!g_active.compare_exchange_weak(active, active + 1));
    struct Slot {
      ~Slot() { g_active--; }
    };
    slot_ = std::make_unique<Slot>();  // released after the read-ahead is joined
    chunks_.assign(c.layout.begin() + ptrdiff_t(first), c.layout.begin() + ptrdiff_t(last) + 1);
    first_chunk_ = first;
    size_t from = 0;  // the first chunk the read-ahead decodes
    if (c.chunk == first) {
      // Already decoded here (the end of the previous blob of a solid chunk).
      cur_.assign(c.data.begin(), c.data.end());
      cur_uoffset_ = chunks_[0].uoffset;
      from = 1;
    }
    next_chunk_ = from;
    std::vector<ChunkRef> todo(chunks_.begin() + ptrdiff_t(from), chunks_.end());
    uint32_t biggest = 0;
    for (const auto& ch : todo) biggest = std::max(biggest, ch.usize);
    size_t tokens = std::min(chunk_tokens(biggest), todo.size());
    size_t cap = biggest >= (8u << 20) ? 1 : 4;
    ahead_ = std::make_unique<ChunkReadAhead>(a_.file(), a_.resources()[loc_.resource], std::move(todo), tokens, cap);
  }

  // Inline decoding: the chunk holding the current position, through the
  // thread's cache. Returns it and the position's offset in it.
  std::pair<ByteSpan, uint64_t> inline_chunk() {
    DecodeCache& c = cache_for(a_, loc_.resource);
    const Resource& r = a_.resources()[loc_.resource];
    uint64_t off = loc_.offset + pos_;
    size_t ci = chunk_index(a_, c.layout, off);
    const ChunkRef& ch = c.layout[ci];
    if (c.chunk != ci) {
      c.chunk = SIZE_MAX;  // until this chunk is decoded successfully
      c.raw.resize(ch.csize);
      a_.file().read_at(ch.file_offset, c.raw, "compressed data");
      c.data = decode_chunk(a_.file(), r, ch, c.raw, c.decoded, c.decomps);
      c.chunk = ci;
    }
    uint64_t in_chunk = off - ch.uoffset;
    if (in_chunk >= c.data.size()) outside(a_);
    return {c.data, in_chunk};
  }

  // The blob is read: stop the decoder, and leave the last chunk in this
  // thread's cache for the next blob of the same (solid) chunk.
  void finish_ahead() {
    ahead_.reset();
    slot_.reset();
    DecodeCache& c = t_cache;
    if (c.archive == a_.serial() && c.resource == loc_.resource && next_chunk_ == chunks_.size() && !cur_.empty()) {
      c.raw = std::move(cur_);
      c.data = c.raw;
      c.chunk = first_chunk_ + chunks_.size() - 1;
    }
  }

  const Archive& a_;
  BlobLocation loc_;
  Sha1 hash_;
  Sha1Hasher hasher_;
  uint64_t pos_ = 0;
  bool checked_ = false;
  bool started_ = false;
  // Read-ahead state: the chunks covering the blob, the next one to take
  // from the decoder, and the current one's bytes.
  std::vector<ChunkRef> chunks_;
  size_t first_chunk_ = 0, next_chunk_ = 0;
  Bytes cur_;
  uint64_t cur_uoffset_ = 0;
  std::shared_ptr<void> slot_;             // one of kMaxReadAheads, while ahead_ lives
  std::unique_ptr<ChunkReadAhead> ahead_;  // last: destroyed (joined) first
};

}  // namespace

std::unique_ptr<BlobStream> ArchiveBlobSource::open() const {
  return std::make_unique<ArchiveBlobStream>(archive_, loc_, hash_);
}

uint64_t archive_readahead_min_bytes() { return g_min_bytes.load(); }
void set_archive_readahead_min_bytes(uint64_t bytes) { g_min_bytes = bytes; }
uint64_t archive_readaheads_started() { return g_started.load(); }
int archive_readaheads_active() { return g_active.load(); }

}  // namespace wp::wim
