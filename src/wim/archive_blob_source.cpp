#include "wim/archive_blob_source.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "util/error.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {
namespace {

// The last decoded chunk and the layout of the last resource, per thread, so
// consecutive blobs of one solid chunk decode it once.
struct DecodeCache {
  const Archive* archive = nullptr;
  uint32_t resource = UINT32_MAX;
  std::vector<ChunkRef> layout;
  size_t chunk = SIZE_MAX;
  Bytes data;
  std::map<std::pair<Codec, uint32_t>, std::unique_ptr<Decompressor>> decomps;
};
thread_local DecodeCache t_cache;

class ArchiveBlobStream final : public BlobStream {
public:
  ArchiveBlobStream(const Archive& a, const BlobLocation& loc) : a_(a), loc_(loc) {}

  size_t read(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size() && pos_ < loc_.size) {
      DecodeCache& c = t_cache;
      const Resource& r = a_.resources()[loc_.resource];
      if (c.archive != &a_ || c.resource != loc_.resource) {
        c.archive = &a_;
        c.resource = loc_.resource;
        c.layout = chunk_layout(a_.file(), r);
        c.chunk = SIZE_MAX;
      }
      uint64_t off = loc_.offset + pos_;
      // Find the chunk holding `off` (chunks are in uoffset order).
      auto it = std::upper_bound(c.layout.begin(), c.layout.end(), off,
                                 [](uint64_t v, const ChunkRef& ch) { return v < ch.uoffset; });
      if (it == c.layout.begin()) fail(Errc::BadArchive, "'" + a_.path() + "': blob outside its resource");
      size_t ci = size_t(it - c.layout.begin()) - 1;
      const ChunkRef& ch = c.layout[ci];
      if (c.chunk != ci) {
        Bytes in(ch.csize);
        a_.file().read_at(ch.file_offset, in, "compressed data");
        if (ch.raw) {
          c.data = std::move(in);
        } else {
          auto& d = c.decomps[{r.codec, r.chunk_size}];
          if (!d) d = make_decompressor(r.codec, r.chunk_size);
          c.data.resize(ch.usize);
          if (!d->decompress(in, c.data))
            fail(Errc::BadArchive, "'" + a_.path() + "': corrupt " + codec_name(r.codec) + " data at offset " +
                                       std::to_string(ch.file_offset));
        }
        c.chunk = ci;
      }
      uint64_t in_chunk = off - ch.uoffset;
      if (in_chunk >= c.data.size()) fail(Errc::BadArchive, "'" + a_.path() + "': blob outside its resource");
      size_t n = size_t(std::min<uint64_t>({out.size() - done, c.data.size() - in_chunk, loc_.size - pos_}));
      std::memcpy(out.data() + done, c.data.data() + in_chunk, n);
      done += n;
      pos_ += n;
    }
    return done;
  }

private:
  const Archive& a_;
  BlobLocation loc_;
  uint64_t pos_ = 0;
};

}  // namespace

std::unique_ptr<BlobStream> ArchiveBlobSource::open() const { return std::make_unique<ArchiveBlobStream>(archive_, loc_); }

}  // namespace wp::wim
