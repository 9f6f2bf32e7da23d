// A blob held by an archive, as a source for writing another archive
// (optimize, export --compress=OTHER, --ref). Its stream decodes the chunks
// covering the blob (only those: a blob inside a solid resource costs the
// chunks it overlaps, not the whole resource).
//
// Two ways of decoding, chosen when the first byte is read:
//
//  * Inline, on the reading thread, through a per-thread cache of the last
//    decoded chunk and the last resource's layout: for blobs of one chunk or
//    a few small ones (the writer reads one-chunk blobs on all its threads at
//    once, so those are already parallel; consecutive small blobs of one
//    solid chunk decode it once).
//
//  * Read-ahead, for blobs covering at least two chunks and
//    archive_readahead_min_bytes() bytes: a dedicated std::thread runs the
//    shared ChunkPipeline (compress/chunk_pipeline.hpp) over the blob's
//    chunks -- serial read of the stored bytes, parallel decode with a
//    per-thread DecompressContext, serial in-order hand-over into a bounded
//    queue of decoded chunks that read() drains.
//
// Why a dedicated thread and not a TBB task: the reader is typically the
// producer stage of the writer's own parallel_pipeline, i.e. a TBB thread
// that blocks in read() until the next chunk is decoded. If the decoding were
// TBB tasks of the same arena, every worker could end up blocked that way
// (or stuck in a nested wait that steals the writer's tasks), and nothing
// would fill the queue. A std::thread that calls parallel_pipeline is the
// master of its own implicit arena: it always runs the decode itself, even
// when no worker is free, and TBB workers that are idle join it. So the
// decoder always progresses, whoever blocks on the queue. The decode
// pipeline's own consumer blocks when the queue is full; only the reader
// drains it, and the reader never waits on TBB.
//
// Bounds: per read-ahead stream, the pipeline's tokens (chunk_tokens(): four
// per thread, <= ~256 MiB, and no more than the blob's chunks) plus a queue
// of 4 decoded chunks (1 for chunks of 8 MiB and more) and two spare
// buffers. At most kMaxReadAheads streams read ahead at once process-wide
// (others decode inline), so a parallel loop opening many sources (the
// writer's pre-hashing) does not multiply that memory or spawn threads.
//
// Stopping early: destroying a stream mid-blob cancels its decoder (the
// producer stops, the consumer drops chunks) and joins the thread before
// returning. Errors (corrupt data, I/O) raised by the decoder are rethrown by
// read() with their original type and message, after the chunks decoded
// before them.
#pragma once

#include "wim/archive.hpp"
#include "wim/blob_source.hpp"

namespace wp::wim {

// With a non-zero `hash`, the stream checks the blob's SHA-1 as its last byte
// is read and throws Errc::BadArchive naming the archive and the blob: data
// read from an archive that does not match its hash is a corrupt archive, not
// a file that "changed while it was being archived".
class ArchiveBlobSource final : public BlobSource {
public:
  ArchiveBlobSource(const Archive& a, const BlobLocation& loc, const Sha1& hash = {})
      : archive_(a), loc_(loc), hash_(hash) {}
  uint64_t size() const override { return loc_.size; }
  std::unique_ptr<BlobStream> open() const override;
  std::string describe() const override { return archive_.path() + " (blob " + hash_.hex() + ")"; }
  std::string sort_name() const override { return {}; }
  const BlobLocation& location() const { return loc_; }

private:
  const Archive& archive_;
  BlobLocation loc_;
  Sha1 hash_;
};

// Read-ahead tuning and counters (for tests and benchmarks).
constexpr int kMaxReadAheads = 2;  // streams reading ahead at once, process-wide
uint64_t archive_readahead_min_bytes();
void set_archive_readahead_min_bytes(uint64_t bytes);  // default 256 KiB, or $WIMPACK_READAHEAD_MIN_BYTES
uint64_t archive_readaheads_started();                 // since the start of the process
int archive_readaheads_active();                       // decoder threads alive now

}  // namespace wp::wim
