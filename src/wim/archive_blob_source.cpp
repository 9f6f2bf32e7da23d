#include "wim/archive_blob_source.hpp"

#include <algorithm>
#include <cstring>

#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"
#include "util/sha1.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {
namespace {

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

class ArchiveBlobStream final : public BlobStream {
public:
  ArchiveBlobStream(const Archive& a, const BlobLocation& loc, const Sha1& hash) : a_(a), loc_(loc), hash_(hash) {}

  size_t read(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size() && pos_ < loc_.size) {
      DecodeCache& c = t_cache;
      const Resource& r = a_.resources()[loc_.resource];
      if (c.archive != a_.serial() || c.resource != loc_.resource) {
        c.archive = a_.serial();
        c.resource = loc_.resource;
        c.chunk = SIZE_MAX;
        c.data = {};
        c.layout = chunk_layout(a_.file(), r);
      }
      uint64_t off = loc_.offset + pos_;
      // Find the chunk holding `off` (chunks are in uoffset order).
      auto it = std::upper_bound(c.layout.begin(), c.layout.end(), off,
                                 [](uint64_t v, const ChunkRef& ch) { return v < ch.uoffset; });
      if (it == c.layout.begin()) fail(Errc::BadArchive, "'" + a_.path() + "': blob outside its resource");
      size_t ci = size_t(it - c.layout.begin()) - 1;
      const ChunkRef& ch = c.layout[ci];
      if (c.chunk != ci) {
        c.chunk = SIZE_MAX;  // until this chunk is decoded successfully
        c.raw.resize(ch.csize);
        a_.file().read_at(ch.file_offset, c.raw, "compressed data");
        c.data = decode_chunk(a_.file(), r, ch, c.raw, c.decoded, c.decomps);
        c.chunk = ci;
      }
      uint64_t in_chunk = off - ch.uoffset;
      if (in_chunk >= c.data.size()) fail(Errc::BadArchive, "'" + a_.path() + "': blob outside its resource");
      size_t n = size_t(std::min<uint64_t>({out.size() - done, c.data.size() - in_chunk, loc_.size - pos_}));
      std::memcpy(out.data() + done, c.data.data() + in_chunk, n);
      if (!hash_.is_zero()) hasher_.update({out.data() + done, n});
      done += n;
      pos_ += n;
    }
    if (pos_ == loc_.size && !hash_.is_zero() && !checked_) {
      checked_ = true;
      if (hasher_.final() != hash_)
        fail(Errc::BadArchive, "'" + a_.path() + "': blob " + hash_.hex() +
                                   " is corrupt (its SHA-1 does not match; the archive is damaged)");
    }
    return done;
  }

private:
  const Archive& a_;
  BlobLocation loc_;
  Sha1 hash_;
  Sha1Hasher hasher_;
  uint64_t pos_ = 0;
  bool checked_ = false;
};

}  // namespace

std::unique_ptr<BlobStream> ArchiveBlobSource::open() const {
  return std::make_unique<ArchiveBlobStream>(archive_, loc_, hash_);
}

}  // namespace wp::wim
