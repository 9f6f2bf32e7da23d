// Writing one resource (wim-format.md §4): begin, feed its chunks in order,
// end. The only code that knows the on-disk chunk tables (§4.2: N-1 offsets
// of 4 or 8 bytes; §4.3: the solid header and its 4-byte compressed sizes)
// and the raw fallbacks (a chunk stored as it is when compression does not
// shrink it; a whole non-solid resource stored raw, without the COMPRESSED
// flag, when its table and chunks are not smaller than the data, §3.1).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "compress/codec.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"
#include "util/sha1.hpp"
#include "wim/header.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {

class ResourceWriter {
public:
  explicit ResourceWriter(OutputFile& out) : out_(out) {}

  // A non-solid resource of `usize` bytes at the output's current offset,
  // in chunks of `chunk_size` (every chunk but the last is full). With
  // Codec::None the chunks are simply appended (any size) and the resource
  // is raw.
  void begin(uint64_t usize, Codec codec, uint64_t chunk_size);
  // A resource of a pipable WIM (§12.2, §12.3) at the output's current
  // offset: the 40-byte blob header (`usize`, `hash`, COMPRESSED unless the
  // codec is None, plus `extra_flags`, e.g. METADATA), then each chunk after
  // its u32 compressed size, then the chunk table. Never seeks (the output
  // may be a pipe), never falls back to raw: with a codec, the resource is
  // COMPRESSED even if no chunk shrank. The reshdr end() returns points after
  // the blob header.
  void begin_pipable(uint64_t usize, Codec codec, uint64_t chunk_size, const Sha1& hash, uint32_t extra_flags);
  // A solid resource (§4.3) of `usize` bytes in chunks of `chunk_size`.
  void begin_solid(uint64_t usize, Codec codec, uint64_t chunk_size);
  // The next chunk: its uncompressed bytes and their compressed form, or an
  // empty `compressed` to store the chunk raw.
  void add_chunk(ByteSpan uncompressed, ByteSpan compressed);
  // The next chunk as it was encoded earlier (a BlobSource with encoded(),
  // compressed with this resource's codec and chunk size): `usize`
  // uncompressed bytes stored as `stored`, compressed or raw. The
  // uncompressed bytes of a compressed chunk are not at hand, so a raw
  // fallback of the resource then needs end()'s `reproduce`.
  void add_encoded_chunk(uint64_t usize, ByteSpan stored, bool compressed);

  // Writes the uncompressed data of the resource again, front to back, by
  // calling `put` on consecutive pieces. Needed only when a large non-solid
  // resource falls back to raw although some chunk did compress (the
  // uncompressed chunks are not kept), or when a resource given compressed
  // chunks by add_encoded_chunk falls back to raw; throw to abort.
  using Reproduce = std::function<void(const std::function<void(ByteSpan)>& put)>;

  // Completes the resource. Returns its reshdr: offset and size in the
  // file, uncompressed size, and kResCompressed (non-solid, when stored
  // compressed) or kResSolid with the solid magic as uncompressed size
  // (§5.2). Other flags (metadata) are the caller's.
  ResHdr end(const Reproduce& reproduce = {});

  uint64_t chunks_added() const { return csizes_.size(); }

private:
  void reset(bool solid, bool pipable, Codec codec, uint64_t usize, uint64_t chunk_size);
  ByteWriter chunk_table() const;
  void store(ByteSpan data, uint64_t usize, bool compressed);

  OutputFile& out_;
  bool solid_ = false, pipable_ = false;
  Codec codec_ = Codec::None;
  uint64_t usize_ = 0, chunk_ = 0, nchunks_ = 0;
  uint64_t start_ = 0, table_ = 0, data_bytes_ = 0, fed_ = 0;
  std::vector<uint64_t> csizes_;
  bool all_raw_ = true;
  // Resources up to kBufferLimit are assembled in memory and written once,
  // so the raw fallback costs no rewrite.
  bool buffered_ = false;
  Bytes cbuf_, rbuf_;  // the chunks as stored / the uncompressed data
  bool rbuf_complete_ = true;  // false after add_encoded_chunk of a compressed chunk
};

}  // namespace wp::wim
