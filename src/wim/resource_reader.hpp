// Reading resources: chunk tables (wim-format.md §4.2), solid resource
// headers (§4.3), and a parallel decompression pipeline that streams the
// uncompressed bytes of many resources, in order, to one consumer.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "util/file.hpp"
#include "wim/blob_table.hpp"

namespace wp {
struct DecompressContext;  // compress/chunk_pipeline.hpp
}

namespace wp::wim {

// One piece of a resource: compressed (or raw) bytes at `file_offset`,
// decoding to `usize` bytes at `uoffset` within the resource.
struct ChunkRef {
  uint64_t file_offset = 0;
  uint64_t uoffset = 0;
  uint32_t csize = 0;
  uint32_t usize = 0;
  bool raw = false;
};

// An output buffer for one decoded chunk. Unlike a Bytes it is not zeroed:
// a chunk that claims 1 GiB but whose data decodes to far less (a hostile
// archive) only costs the pages the decoder really writes, not a 1 GiB memset
// before the failure is found. Grows on demand, never shrinks.
class ChunkBuffer {
public:
  std::span<uint8_t> get(size_t n) {
    if (n > cap_) {
      buf_.reset();
      buf_.reset(new uint8_t[n]);  // default-initialised: no memset
      cap_ = n;
    }
    return {buf_.get(), n};
  }
  const uint8_t* data() const { return buf_.get(); }

private:
  std::unique_ptr<uint8_t[]> buf_;
  size_t cap_ = 0;
};

// §4.2: chunk table entries of a non-solid resource are 8 bytes wide for
// resources of 4 GiB and more (uncompressed), else 4.
constexpr uint64_t chunk_entry_size(uint64_t usize) { return usize > 0xFFFFFFFFull ? 8 : 4; }

// Reads the solid resource header (§4.3) and fills res.usize, codec,
// chunk_size; validates per §15.
void read_solid_header(const InputFile& f, Resource& res);

// A non-solid compressed resource needs a table entry and at least one byte
// per chunk: throws Errc::BadArchive if its uncompressed size needs more
// chunks than its size in the file can hold (cheap; no I/O).
void check_chunk_count(const InputFile& f, const Resource& res);

// Computes (and validates) the chunk layout of a resource. Uncompressed
// resources are cut into 1 MiB raw pieces.
std::vector<ChunkRef> chunk_layout(const InputFile& f, const Resource& res);

// Decodes one chunk of `res` from its stored bytes: returns the
// uncompressed bytes (`stored` itself for a raw chunk, else in `out`).
// Throws Errc::BadArchive on corrupt data. The one place a chunk is
// decompressed (stream_resources' parallel stage, ArchiveBlobSource).
ByteSpan decode_chunk(const InputFile& f, const Resource& res, const ChunkRef& chunk, ByteSpan stored, ChunkBuffer& out,
                      DecompressContext& ctx);

// Streams the uncompressed contents of `resources` (in the given order)
// through decompression on all threads. `sink(i, uoffset, data)` is called
// serially, in order, for consecutive pieces of resources[i]. `in_parallel`,
// if given, sees each piece first, on the decompressing thread, with pieces
// of other chunks at the same time (apply writes one-chunk files there);
// what it throws is reported in order, as a corrupt chunk is.
using ResourceSink = std::function<void(size_t index, uint64_t uoffset, ByteSpan data)>;
void stream_resources(const InputFile& f, std::span<const Resource> resources, const ResourceSink& sink,
                      const ResourceSink* in_parallel = nullptr);

// Reads a whole (small) resource into memory.
Bytes read_resource(const InputFile& f, const Resource& res);

}  // namespace wp::wim
