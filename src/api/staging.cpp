#include "api/staging.hpp"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cstring>

#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"

namespace wp::api {

Spool::Spool(const std::string& near_path) {
  std::string dir = ".";
  size_t slash = near_path.rfind('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : near_path.substr(0, slash);
  fd_ = anonymous_temp_file(dir, "a staging file");
}

uint64_t Spool::append(ByteSpan data) {
  uint64_t at = end_;
  pwrite_all(fd_.get(), end_, data, "cannot write to the staging file", "(anonymous)");
  end_ += data.size();
  return at;
}

void Spool::read(uint64_t off, std::span<uint8_t> out) const {
  if (pread_upto(fd_.get(), off, out, "cannot read the staging file", "(anonymous)") != out.size())
    fail(Errc::Failure, "the staging file is shorter than expected");
}

// ------------------------------------------------------------ compressor

StreamCompressor::StreamCompressor(std::shared_ptr<Spool> spool, StagingFormat format, unsigned threads)
    : spool_(std::move(spool)), format_(format), capacity_(std::max(2u, threads)) {
  thread_ = std::thread([this, threads] { run(threads); });
}

StreamCompressor::~StreamCompressor() {
  {
    std::lock_guard lk(mu_);
    closing_ = cancelled_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StreamCompressor::submit(std::shared_ptr<StagedStream> target, Bytes chunk) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return queue_.size() < capacity_ || stopped_; });
  if (stopped_) {
    if (error_) std::rethrow_exception(error_);
    fail(Errc::Failure, "internal error: the stream compressor has stopped");
  }
  queue_.push_back({std::move(target), std::move(chunk)});
  lk.unlock();
  cv_.notify_all();
}

void StreamCompressor::finish() {
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
}

namespace {
struct Token {
  std::shared_ptr<StagedStream> target;
  Bytes in, out;
  size_t csize = 0;  // 0 = stored raw
};
}  // namespace

void StreamCompressor::run(unsigned threads) {
  try {
    // The pipeline's producer waits on a thread of the arena for the
    // caller's next chunk only while no chunk is queued.
    tbb::task_arena arena{int(threads)};
    arena.execute([&] {
      const uint32_t C = format_.chunk_size;
      ChunkPipeline<Token, CompressContext> pipeline(chunk_tokens(C));
      pipeline.run(
          [&](Token& t) -> bool {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return !queue_.empty() || closing_; });
            if (queue_.empty() || cancelled_) return false;
            t.target = std::move(queue_.front().target);
            t.in = std::move(queue_.front().data);
            queue_.pop_front();
            lk.unlock();
            cv_.notify_all();
            return true;
          },
          [&](Token& t, CompressContext& ctx) {
            t.csize = compress_chunk(ctx.get(format_.codec, format_.level, C), t.in, t.out);
          },
          [&](Token& t) {
            ByteSpan stored = t.csize ? ByteSpan(t.out.data(), t.csize) : ByteSpan(t.in);
            uint64_t at = spool_->append(stored);
            t.target->chunks.push_back({at, uint32_t(stored.size()), t.csize != 0});
            t.target.reset();
          });
    });
  } catch (...) {
    std::lock_guard lk(mu_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard lk(mu_);
    stopped_ = true;
    queue_.clear();
  }
  cv_.notify_all();
}

// ------------------------------------------------------------ blob source

bool StagedBlobSource::read_encoded_chunk(uint64_t index, Bytes& out) const {
  if (index >= staged_->chunks.size())
    fail(Errc::Failure, "internal error: '" + what_ + "' has no staged chunk " + std::to_string(index));
  const StagedChunk& c = staged_->chunks[index];
  out.resize(c.size);
  spool_->read(c.offset, out);
  return c.compressed;
}

std::unique_ptr<wim::BlobStream> StagedBlobSource::open() const {
  struct S final : wim::BlobStream {
    const StagedBlobSource* src;
    uint64_t next = 0;  // the next chunk
    Bytes stored, chunk;
    size_t pos = 0;  // in chunk
    std::unique_ptr<Decompressor> dec;
    size_t read(std::span<uint8_t> out) override {
      size_t n = 0;
      while (n < out.size()) {
        if (pos == chunk.size()) {
          if (next * src->chunk_size() >= src->size_) break;
          uint64_t usize = std::min<uint64_t>(src->chunk_size(), src->size_ - next * src->chunk_size());
          bool compressed = src->read_encoded_chunk(next++, stored);
          chunk.resize(size_t(usize));
          if (compressed) {
            if (!dec) dec = make_decompressor(src->format_.codec, src->chunk_size());
            if (!dec->decompress(stored, chunk))
              fail(Errc::Failure, "internal error: a staged chunk of '" + src->what_ + "' does not decompress");
          } else {
            if (stored.size() != usize) fail(Errc::Failure, "internal error: a staged chunk of '" + src->what_ + "' has the wrong size");
            chunk.swap(stored);
          }
          pos = 0;
        }
        size_t k = std::min(out.size() - n, chunk.size() - pos);
        std::memcpy(out.data() + n, chunk.data() + pos, k);
        n += k;
        pos += k;
      }
      return n;
    }
  };
  auto s = std::make_unique<S>();
  s->src = this;
  return s;
}

}  // namespace wp::api
