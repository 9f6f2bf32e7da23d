// Where the C API keeps stream data between wimpack_write_stream and
// wimpack_commit_image: one anonymous file per image holding every stream's
// chunks, already compressed the way the archive stores them (non-solid
// archives), so the commit copies them as they are (BlobSource::encoded);
// solid, pipable and uncompressed archives stage raw chunks and compress at
// commit as capture does.
//
// Chunks are compressed while the caller writes: each stream fills chunks of
// the archive's chunk size, and a full chunk goes through the chunk pipeline
// (compress/chunk_pipeline.hpp), which runs on a thread of the image fed by
// a bounded queue, so memory stays bounded however large a stream is.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "compress/codec.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"
#include "wim/blob_source.hpp"

namespace wp::api {

// The anonymous staging file, appended to by one thread at a time.
class Spool {
public:
  explicit Spool(const std::string& near_path);
  uint64_t append(ByteSpan data);
  void read(uint64_t off, std::span<uint8_t> out) const;

private:
  Fd fd_;
  uint64_t end_ = 0;
};

// The chunks of one stream in the spool, in order.
struct StagedChunk {
  uint64_t offset;
  uint32_t size;
  bool compressed;
};
struct StagedStream {
  std::vector<StagedChunk> chunks;
};

// How an image stages its streams: compressed with `codec` in chunks of
// `chunk_size`, or (codec None) raw in chunks of kRawChunk.
struct StagingFormat {
  Codec codec = Codec::None;
  int level = 0;
  uint32_t chunk_size = 0;
  static constexpr uint32_t kRawChunk = 64 * 1024;
};

// Compresses chunks as they are submitted, in parallel, and appends them to
// the spool in submission order.
class StreamCompressor {
public:
  StreamCompressor(std::shared_ptr<Spool> spool, StagingFormat format, unsigned threads);
  ~StreamCompressor();  // drops what is still queued and waits for the thread
  StreamCompressor(const StreamCompressor&) = delete;
  StreamCompressor& operator=(const StreamCompressor&) = delete;

  // Queues a chunk of `target` (every chunk of a stream is full but the
  // last); blocks while the queue is full. Throws the pipeline's error if it
  // stopped.
  void submit(std::shared_ptr<StagedStream> target, Bytes chunk);
  // Waits until every chunk submitted is in the spool; throws the first error.
  void finish();

private:
  void run(unsigned threads);
  struct Job {
    std::shared_ptr<StagedStream> target;
    Bytes data;
  };
  std::shared_ptr<Spool> spool_;
  StagingFormat format_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  size_t capacity_;
  bool closing_ = false, cancelled_ = false, stopped_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// A stream's blob at commit: its chunks as staged (BlobSource::encoded),
// or its bytes decoded front to back (open()).
class StagedBlobSource final : public wim::BlobSource {
public:
  StagedBlobSource(std::shared_ptr<const Spool> spool, std::shared_ptr<const StagedStream> staged,
                   StagingFormat format, uint64_t size, std::string what)
      : spool_(std::move(spool)), staged_(std::move(staged)), format_(format), size_(size), what_(std::move(what)) {}
  uint64_t size() const override { return size_; }
  std::string describe() const override { return what_; }
  std::unique_ptr<wim::BlobStream> open() const override;
  std::optional<Encoded> encoded() const override { return Encoded{format_.codec, chunk_size()}; }
  bool read_encoded_chunk(uint64_t index, Bytes& out) const override;

private:
  uint32_t chunk_size() const { return format_.codec == Codec::None ? StagingFormat::kRawChunk : format_.chunk_size; }
  std::shared_ptr<const Spool> spool_;
  std::shared_ptr<const StagedStream> staged_;
  StagingFormat format_;
  uint64_t size_;
  std::string what_;
};

}  // namespace wp::api
