#include "wim/archive_writer.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "compress/chunk_pipeline.hpp"
#include "util/error.hpp"
#include "util/timer.hpp"
#include "wim/archive_blob_source.hpp"
#include "wim/integrity.hpp"
#include "wim/metadata.hpp"
#include "wim/pipable.hpp"
#include "wim/prefetch.hpp"
#include "wim/resource_reader.hpp"
#include "wim/resource_writer.hpp"

namespace wp::wim {

struct ArchiveWriter::Pending {
  const BlobSource* source = nullptr;
  uint64_t size = 0;
  Sha1 hash;
  bool hash_known = false;
  uint64_t files = 0;    // progress: the image's file dentries whose data this is
  std::string sort_key;  // solid mode: extension, then name
};

static uint32_t effective_chunk(Codec c, uint32_t requested, bool solid) {
  if (c == Codec::None) return 0;
  return requested ? requested : default_chunk_size(c, solid);
}

ArchiveWriter::ArchiveWriter(OutputFile& out, const WriterOptions& opts) : out_(out), opts_(opts) {
  Codec c = opts_.compression.codec;
  opts_.chunk_size = effective_chunk(c, opts_.chunk_size, false);
  if (opts_.solid) opts_.solid_chunk_size = effective_chunk(opts_.solid_compression.codec, opts_.solid_chunk_size, true);
  header_.guid = initial_guid_ = random_guid();
  header_.chunk_size = opts_.chunk_size;
  header_.flags = header_flags_for(c) | opts_.extra_header_flags;
  // §2.2: an extension codec anywhere in the file puts its bit in the header,
  // and the header codec is also the one for non-solid resources (metadata),
  // so those then use the solid codec too.
  if (opts_.solid) {
    header_.version = kVersionSolid;
    Codec sc = opts_.solid_compression.codec;
    if (!is_standard(sc) && sc != c) {
      opts_.compression = {sc, opts_.solid_compression.level};
      opts_.chunk_size = default_chunk_size(sc, false);
      header_.chunk_size = opts_.chunk_size;
      header_.flags = header_flags_for(sc) | opts_.extra_header_flags;
    }
  }
  if (c == Codec::Lzms) header_.version = kVersionSolid;
  if (opts_.pipable) {
    // §12: solid resources cannot be streamed (wimlib refuses them too).
    if (opts_.solid) fail(Errc::Usage, "solid compression is not supported in pipable WIMs");
    header_.pipable = true;
    return;  // finish() writes everything, header #1 first
  }
  write_header_placeholder();
}

ArchiveWriter::ArchiveWriter(OutputFile& out, const WriterOptions& opts, const Archive& existing)
    : out_(out), opts_(opts), appending_(true), existing_(&existing) {
  if (opts_.pipable || existing.header().pipable)
    fail(Errc::Failure, "internal error: appending in place to or as a pipable WIM");
  header_ = existing.header();
  opts_.compression.codec = header_.codec();
  opts_.chunk_size = header_.chunk_size;
  if (opts_.solid) {
    opts_.solid_chunk_size = effective_chunk(opts_.solid_compression.codec, opts_.solid_chunk_size, true);
    header_.version = kVersionSolid;
  }
  xml_ = existing.xml().clone();
  // Carry over every resource of the old archive.
  std::vector<uint32_t> map(existing.resources().size(), UINT32_MAX);
  for (size_t i = 0; i < existing.image_count(); i++) {
    const auto& m = existing.metadata(i + 1);
    const Resource& r = existing.resources()[m.resource];
    OutResource o;
    o.reshdr = {r.size_in_wim, uint8_t(r.flags | kResMetadata), r.offset, r.usize};
    o.metadata = true;
    o.hash = m.hash;
    map[m.resource] = uint32_t(resources_.size());
    metadata_.push_back(uint32_t(resources_.size()));
    resources_.push_back(o);
  }
  for (const auto& [hash, loc] : existing.blobs()) {
    const Resource& r = existing.resources()[loc.resource];
    if (map[loc.resource] == UINT32_MAX) {
      OutResource o;
      if (r.solid) {
        o.solid = true;
        o.reshdr = {r.size_in_wim, kResSolid, r.offset, kSolidResourceMagic};
        o.solid_usize = r.usize;
      } else {
        o.reshdr = {r.size_in_wim, uint8_t(r.flags & (kResCompressed)), r.offset, r.usize};
        o.hash = hash;
      }
      map[loc.resource] = uint32_t(resources_.size());
      resources_.push_back(o);
    }
    blobs_[hash] = OutBlob{map[loc.resource], loc.offset, loc.size, loc.refcnt};
  }
  // §14.2 step 2: only the flags field changes until the final header.
  uint8_t f[4];
  store_le32(f, header_.flags | kHdrWriteInProgress);
  out_.pwrite_at(0x10, {f, 4});
}

ArchiveWriter::~ArchiveWriter() = default;

uint64_t ArchiveWriter::xml_time() const {
  return opts_.source_date_epoch ? unix_to_filetime(*opts_.source_date_epoch, 0) : filetime_now();
}

void ArchiveWriter::choose_new_guid() {
  if (opts_.guid && !appending_) {
    header_.guid = *opts_.guid;
    return;
  }
  if (!opts_.source_date_epoch || appending_ || header_.guid != initial_guid_) return;
  std::vector<Sha1> meta, blobs;
  for (uint32_t ri : metadata_) meta.push_back(resources_[ri].hash);
  for (const auto& [hash, b] : blobs_)
    if (b.refcnt > 0) blobs.push_back(hash);
  header_.guid = derive_guid(*opts_.source_date_epoch, header_.flags & ~kHdrWriteInProgress, header_.chunk_size, meta,
                             std::move(blobs));
}

void ArchiveWriter::write_header_placeholder() {
  Header h = header_;
  h.flags |= kHdrWriteInProgress;
  uint8_t b[kHeaderSize];
  encode_header(h, b);
  out_.write({b, kHeaderSize});
}

void ArchiveWriter::exclude_blobs(const Archive& base) {
  for (const auto& [hash, loc] : base.blobs()) {
    if (excluded_.insert(hash).second) excluded_sizes_[loc.size]++;
  }
}

// ---------------------------------------------------------------------------
// Blobs through the chunk pipeline (compress/chunk_pipeline.hpp): a serial
// reader (hashing as it reads), compressors on every thread, and a serial
// in-order writer that hands the chunks to a ResourceWriter (architecture.md
// "How data flows").

namespace {

// One chunk in flight through the writer's pipeline.
struct Token {
  size_t blob = 0;        // index into the pending list (non-solid)
  uint64_t chunk = 0;     // chunk number within the blob (non-solid)
  bool last = false;      // last chunk of its blob (non-solid)
  bool deferred = false;  // a one-chunk blob that the parallel stage reads itself
  bool encoded = false;   // a chunk compressed earlier (BlobSource::encoded), copied as stored
  uint64_t usize = 0;     // encoded: the chunk's uncompressed size (else in.size())
  Bytes in, out;
  size_t csize = 0;  // 0 = store raw (encoded: the stored size)
  bool compressed = false;  // encoded: stored compressed
};

using WritePipeline = ChunkPipeline<Token, CompressContext>;

// Reads exactly out.size() bytes of a blob being archived.
void read_exact(BlobStream& s, std::span<uint8_t> out, const BlobSource& src) {
  size_t got = 0;
  while (got < out.size()) {
    size_t k = s.read(out.subspan(got));
    if (k == 0) fail(Errc::Failure, "'" + src.describe() + "' shrank while it was being archived");
    got += k;
  }
}

// The content read differs from an earlier read of the same source: an
// error, unless the source tolerates it (--continue-on-change), and then the
// blob is stored under the hash of the bytes actually stored.
void content_changed(const BlobSource& src) {
  if (!src.tolerates_change()) fail(Errc::Failure, "'" + src.describe() + "' changed while it was being archived");
  src.report_change();
}

// At the end of a blob: the source must not have grown, and its content must
// be what an earlier hash said (pre-hashed or --update-of). Returns the hash.
Sha1 end_of_blob(BlobStream& s, Sha1Hasher& h, const BlobSource& src, bool hash_known, const Sha1& expected) {
  uint8_t extra;
  if (s.read({&extra, 1}) != 0) fail(Errc::Failure, "'" + src.describe() + "' grew while it was being archived");
  Sha1 got = h.final();
  if (hash_known && got != expected) content_changed(src);
  return got;
}

// The serial reader of the chunk pipeline: reads blobs front to back, hashing
// as it goes, and checks each against the size and hash known for it.
template <class Blob>
class SerialBlobReader {
public:
  SerialBlobReader(std::vector<Blob>& blobs, size_t first)
      : blobs_(blobs), first_(first), cur_(first), prefetch_(sources(blobs, first)) {}
  size_t current() const { return cur_; }
  bool mid_blob() const { return stream_ != nullptr; }
  void skip() { prefetch_.reached(++cur_ - first_); }  // the current blob is read elsewhere
  uint64_t left() const { return blobs_[cur_].size - (stream_ ? read_ : 0); }  // of the current blob

  // Reads min(out.size(), what is left of the current blob). When the blob
  // is complete, its hash is recorded and current() moves to the next one.
  size_t read(std::span<uint8_t> out) {
    Blob& p = blobs_[cur_];
    if (!stream_) {
      stream_ = p.source->open();
      read_ = 0;
    }
    auto piece = out.first(size_t(std::min<uint64_t>(out.size(), p.size - read_)));
    read_exact(*stream_, piece, *p.source);
    hasher_.update(piece);
    read_ += piece.size();
    if (read_ == p.size) {
      p.hash = end_of_blob(*stream_, hasher_, *p.source, p.hash_known, p.hash);
      p.hash_known = true;
      stream_.reset();
      prefetch_.reached(++cur_ - first_);
    }
    return piece.size();
  }

private:
  static std::vector<const BlobSource*> sources(const std::vector<Blob>& blobs, size_t first) {
    std::vector<const BlobSource*> v;
    for (size_t i = first; i < blobs.size(); i++) v.push_back(blobs[i].source);
    return v;
  }

  std::vector<Blob>& blobs_;
  size_t first_, cur_;
  Prefetcher prefetch_;  // read-ahead of the blobs after the current one
  uint64_t read_ = 0;
  std::unique_ptr<BlobStream> stream_;
  Sha1Hasher hasher_;
};

}  // namespace

void ArchiveWriter::write_blobs(std::vector<Pending>& blobs, WriteStats* stats) {
  if (blobs.empty()) return;
  if (opts_.solid)
    write_solid(blobs, stats);
  else
    write_nonsolid(blobs, stats);
}

void ArchiveWriter::write_nonsolid(std::vector<Pending>& blobs, WriteStats* stats) {
  const Codec codec = opts_.compression.codec;
  const uint64_t C = codec == Codec::None ? (1u << 20) : opts_.chunk_size;
  const int level = opts_.compression.level;
  uint64_t total = 0, done = 0, files = 0;
  for (auto& b : blobs) total += b.size;

  WritePipeline pipeline(chunk_tokens(C));

  // One-chunk blobs are opened, read and hashed on any thread: many small
  // files must not serialize on syscalls (issue 3).
  tbb::enumerable_thread_specific<Sha1Hasher> hashers;
  auto read_small = [&](Pending& p, Bytes& in) {
    auto s = p.source->open();
    in.resize(p.size);
    read_exact(*s, in, *p.source);
    Sha1Hasher& h = hashers.local();
    h.update(in);
    p.hash = end_of_blob(*s, h, *p.source, p.hash_known, p.hash);
    p.hash_known = true;
  };

  // Blobs whose chunks were compressed earlier with this codec and chunk
  // size (BlobSource::encoded) are copied chunk by chunk as stored: their
  // chunk size, else 0.
  std::vector<uint32_t> encoded_chunk(blobs.size(), 0);
  if (!opts_.pipable)
    for (size_t i = 0; i < blobs.size(); i++)
      if (auto e = blobs[i].source->encoded(); e && blobs[i].hash_known && e->chunk_size &&
                                                e->codec == codec && (codec == Codec::None || e->chunk_size == C))
        encoded_chunk[i] = e->chunk_size;

  SerialBlobReader<Pending> reader(blobs, 0);
  uint64_t cur_chunk = 0, enc_chunk = 0;
  ResourceWriter rw(out_);
  // Pipable: the blob header carries the hash before the data (§12.2), so
  // every blob was hashed before; a change since cannot be stored as read.
  std::vector<Sha1> expected;
  if (opts_.pipable)
    for (const auto& b : blobs) expected.push_back(b.hash);

  auto finish_blob = [&](size_t idx) {
    Pending& p = blobs[idx];
    if (opts_.pipable) {
      if (p.hash != expected[idx])
        fail(Errc::Failure, "'" + p.source->describe() +
                                "' changed while it was being archived (a pipable WIM cannot store it as read)");
      ResHdr r = rw.end();
      OutResource o;
      o.reshdr = r;
      o.hash = p.hash;
      uint32_t ri = uint32_t(resources_.size());
      resources_.push_back(o);
      blobs_[p.hash].resource = ri;
      if (stats) stats->blobs_written++, stats->bytes_written += r.size_in_wim;
      return;
    }
    // A large blob that ends up stored raw although some chunk compressed:
    // its bytes are read again (and must still be what was hashed).
    ResHdr r = rw.end([&](const std::function<void(ByteSpan)>& put) {
      auto s = p.source->open();
      Bytes buf(1 << 20);
      Sha1Hasher h;
      uint64_t off = 0;
      while (off < p.size) {
        size_t k = s->read({buf.data(), size_t(std::min<uint64_t>(buf.size(), p.size - off))});
        if (k == 0) fail(Errc::Failure, "'" + p.source->describe() + "' changed while it was being archived");
        h.update({buf.data(), k});
        put({buf.data(), k});
        off += k;
      }
      if (Sha1 got = h.final(); got != p.hash) {
        content_changed(*p.source);
        p.hash = got;  // the raw bytes just written
      }
    });
    OutResource o;
    o.reshdr = r;
    o.hash = p.hash;
    uint32_t ri = uint32_t(resources_.size());
    resources_.push_back(o);
    // Only a source that changed into content already stored can find its
    // hash taken: the first copy stays, this resource is unreferenced.
    blobs_.try_emplace(p.hash, OutBlob{ri, 0, p.size, 0});
    if (stats) stats->blobs_written++, stats->bytes_written += r.size_in_wim;
  };

  pipeline.run(
      [&](Token& t) -> bool {
        if (reader.current() >= blobs.size()) return false;
        t.blob = reader.current();
        t.encoded = false;
        if (const uint64_t ec = encoded_chunk[t.blob]) {
          // The parallel stage reads the chunk as stored.
          t.encoded = true;
          t.deferred = false;
          t.chunk = enc_chunk++;
          t.usize = std::min<uint64_t>(ec, blobs[t.blob].size - t.chunk * ec);
          t.last = t.chunk * ec + t.usize == blobs[t.blob].size;
          if (t.last) reader.skip(), enc_chunk = 0;
          return true;
        }
        if (!reader.mid_blob() && blobs[t.blob].size <= C) {
          reader.skip();
          t.chunk = 0;
          t.last = true;
          t.deferred = true;
          return true;
        }
        if (!reader.mid_blob()) cur_chunk = 0;
        t.deferred = false;
        t.chunk = cur_chunk++;
        t.in.resize(size_t(std::min<uint64_t>(C, reader.left())));
        reader.read(t.in);
        t.last = reader.current() != t.blob;
        return true;
      },
      [&](Token& t, CompressContext& ctx) {
        t.csize = 0;
        if (t.encoded) {
          t.compressed = blobs[t.blob].source->read_encoded_chunk(t.chunk, t.out);
          t.csize = t.out.size();
          return;
        }
        if (t.deferred) read_small(blobs[t.blob], t.in);
        if (codec != Codec::None && t.in.size() > 1) t.csize = compress_chunk(ctx.get(codec, level, uint32_t(C)), t.in, t.out);
      },
      [&](Token& t) {
        if (t.chunk == 0) {
          if (opts_.pipable)
            rw.begin_pipable(blobs[t.blob].size, codec, C, expected[t.blob], 0);
          else
            rw.begin(blobs[t.blob].size, codec, C);
        }
        const uint64_t usize = t.encoded ? t.usize : t.in.size();
        if (t.encoded)
          rw.add_encoded_chunk(usize, ByteSpan(t.out.data(), t.csize), t.compressed);
        else
          rw.add_chunk(t.in, ByteSpan(t.out.data(), t.csize));
        done += usize;
        if (stats) stats->bytes_read += usize;
        if (t.last) {
          finish_blob(t.blob);
          files += blobs[t.blob].files;
        }
        if (progress_) progress_(done, total, files);
      });
}

static std::string extension_sort_key(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  std::string ext = dot == std::string::npos || dot == 0 ? std::string() : name.substr(dot + 1);
  for (auto& c : ext) c = char(std::tolower(uint8_t(c)));
  return ext + '\0' + name;
}

void ArchiveWriter::write_solid(std::vector<Pending>& blobs, WriteStats* stats) {
  const Codec codec = opts_.solid_compression.codec;
  const int level = opts_.solid_compression.level;
  const uint64_t C = opts_.solid_chunk_size;
  // Pack similar files together for ratio, as wimlib does: by extension, then name.
  for (auto& b : blobs) {
    std::string name = b.source->sort_name();
    b.sort_key = name.empty() ? std::string() : extension_sort_key(name);
  }
  std::stable_sort(blobs.begin(), blobs.end(), [](const Pending& a, const Pending& b) { return a.sort_key < b.sort_key; });

  // Several solid resources when the data is large: cut at blob boundaries
  // once a resource holds at least this much.
  const uint64_t kResourceTarget =
      opts_.solid_resource_size ? opts_.solid_resource_size : std::max<uint64_t>(C * 16, 1ull << 30);
  struct Group {
    size_t first, last;  // [first, last)
    uint64_t usize;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < blobs.size();) {
    Group g{i, i, 0};
    while (g.last < blobs.size() && (g.usize == 0 || g.usize + blobs[g.last].size <= kResourceTarget)) g.usize += blobs[g.last++].size;
    groups.push_back(g);
    i = g.last;
  }
  uint64_t total = 0, done = 0, files = 0;
  for (auto& b : blobs) total += b.size;
  // Progress: a blob's files are done once the chunks written cover it.
  size_t next_done = 0;
  uint64_t next_end = blobs.empty() ? 0 : blobs[0].size;

  WritePipeline pipeline(chunk_tokens(C));  // tokens and compressors serve every group
  ResourceWriter rw(out_);
  for (const Group& g : groups) {
    rw.begin_solid(g.usize, codec, C);
    SerialBlobReader<Pending> reader(blobs, g.first);
    uint64_t produced = 0;
    std::vector<uint64_t> offsets(g.last - g.first);
    uint64_t running = 0;
    for (size_t i = g.first; i < g.last; i++) offsets[i - g.first] = running, running += blobs[i].size;

    pipeline.run(
        [&](Token& t) -> bool {
          if (produced >= g.usize) return false;
          size_t want = size_t(std::min<uint64_t>(C, g.usize - produced));
          t.in.resize(want);
          for (size_t filled = 0; filled < want;) filled += reader.read({t.in.data() + filled, want - filled});
          produced += want;
          return true;
        },
        [&](Token& t, CompressContext& ctx) {
          t.csize = 0;
          if (t.in.size() > 1) t.csize = compress_chunk(ctx.get(codec, level, uint32_t(C)), t.in, t.out);
        },
        [&](Token& t) {
          rw.add_chunk(t.in, ByteSpan(t.out.data(), t.csize));
          done += t.in.size();
          if (stats) stats->bytes_read += t.in.size();
          while (next_done < blobs.size() && next_end <= done) {
            files += blobs[next_done++].files;
            if (next_done < blobs.size()) next_end += blobs[next_done].size;
          }
          if (progress_) progress_(done, total, files);
        });

    OutResource o;
    o.solid = true;
    o.solid_usize = g.usize;
    o.reshdr = rw.end();
    uint32_t ri = uint32_t(resources_.size());
    resources_.push_back(o);
    for (size_t i = g.first; i < g.last; i++) {
      const Pending& p = blobs[i];
      if (blobs_.count(p.hash)) continue;  // same content twice in one resource
      blobs_[p.hash] = OutBlob{ri, offsets[i - g.first], p.size, 0};
    }
    if (stats) stats->blobs_written += g.last - g.first, stats->bytes_written += o.reshdr.size_in_wim;
  }
}

// Writes a small in-memory resource (metadata) with the header codec.
ResHdr ArchiveWriter::write_one_buffer(ByteSpan data, bool metadata) {
  const Codec codec = opts_.compression.codec;
  ResourceWriter rw(out_);
  if (opts_.pipable) {
    // §12.3: compressed whenever the archive is (a 1-byte chunk is stored raw).
    rw.begin_pipable(data.size(), codec, opts_.chunk_size, sha1_of(data), metadata ? kResMetadata : 0);
    if (codec == Codec::None) {
      if (!data.empty()) rw.add_chunk(data, {});
    } else {
      const uint64_t C = opts_.chunk_size;
      auto comp = make_compressor(codec, opts_.compression.level,
                                  uint32_t(is_standard(codec) ? C : std::min<uint64_t>(C, data.size())));
      Bytes buf;
      for (uint64_t off = 0; off < data.size(); off += C) {
        ByteSpan chunk = data.subspan(off, std::min<uint64_t>(C, data.size() - off));
        size_t cs = chunk.size() > 1 ? compress_chunk(*comp, chunk, buf) : 0;
        rw.add_chunk(chunk, ByteSpan(buf.data(), cs));
      }
    }
    ResHdr r = rw.end();
    if (metadata) r.flags |= kResMetadata;
    return r;
  }
  if (codec == Codec::None || data.size() <= 1) {
    rw.begin(data.size(), Codec::None, 0);
    if (!data.empty()) rw.add_chunk(data, {});
  } else {
    const uint64_t C = opts_.chunk_size;
    // Buffers sized by the data, not by the chunk size: a header may say
    // 1 GiB chunks for a 1 KiB metadata resource. (LZX/XPRESS streams depend
    // on the window the compressor was made for; their chunks are small.)
    const uint32_t window = uint32_t(is_standard(codec) ? C : std::min<uint64_t>(C, data.size()));
    const int level = opts_.compression.level;
    rw.begin(data.size(), codec, C);
    // Chunks are compressed on every thread (a metadata resource of a large
    // tree is tens of MiB: LZX on one core was most of an --update-of).
    WritePipeline pipeline(chunk_tokens(window));
    uint64_t off = 0;
    pipeline.run(
        [&](Token& t) -> bool {
          if (off >= data.size()) return false;
          ByteSpan chunk = data.subspan(off, std::min<uint64_t>(C, data.size() - off));
          t.in.assign(chunk.begin(), chunk.end());
          off += chunk.size();
          return true;
        },
        [&](Token& t, CompressContext& ctx) { t.csize = compress_chunk(ctx.get(codec, level, window), t.in, t.out); },
        [&](Token& t) { rw.add_chunk(t.in, ByteSpan(t.out.data(), t.csize)); });
  }
  ResHdr r = rw.end([&](const std::function<void(ByteSpan)>& put) { put(data); });
  if (metadata) r.flags |= kResMetadata;
  return r;
}

size_t ArchiveWriter::add_image(image::Image& img, const std::vector<std::unique_ptr<BlobSource>>& sources,
                                const std::string& name, WriteStats* stats) {
  // 1. Collect the streams that need content, grouped by source.
  std::vector<std::vector<image::Stream*>> by_source(sources.size());
  std::vector<uint64_t> files_of(sources.size());
  for (auto& inode : img.inodes()) {
    if (inode.nlink == 0) continue;
    for (auto& s : inode.streams)
      if (s.source != image::kNoSource) {
        if (s.source >= sources.size()) fail(Errc::Failure, "internal error: bad blob source index");
        by_source[s.source].push_back(&s);
        if (s.type == image::StreamType::Data && s.name.empty() && !inode.is_directory()) files_of[s.source] += inode.nlink;
      }
  }
  // 2. Sizes seen more than once (here, in the archive, or in a delta base)
  // must be hashed before writing; a unique size is hashed while writing.
  std::unordered_map<uint64_t, uint32_t> size_count = excluded_sizes_;
  for (const auto& [h, b] : blobs_) size_count[b.size]++;
  // Reproducible archives: sources in tree order (first dentry that names
  // each), not in the order the scan happened to find them (inode order).
  std::vector<size_t> order(sources.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  if (opts_.source_date_epoch) {
    std::vector<size_t> rank(sources.size(), SIZE_MAX);
    size_t next = 0;
    img.for_each_dentry([&](const image::Dentry& d) {
      for (const auto& s : d.inode->streams)
        if (s.source < rank.size() && rank[s.source] == SIZE_MAX) rank[s.source] = next++;
    });
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank[a] < rank[b]; });
  }
  std::vector<Pending> candidates;
  for (size_t i : order) {
    if (by_source[i].empty() || sources[i]->size() == 0) continue;
    Pending p;
    p.source = sources[i].get();
    p.size = sources[i]->size();
    p.files = files_of[i];
    const Sha1& h = by_source[i].front()->hash;
    if (!h.is_zero()) p.hash = h, p.hash_known = true;
    size_count[p.size]++;
    candidates.push_back(p);
  }
  std::vector<size_t> need_hash;
  for (size_t i = 0; i < candidates.size(); i++)
    if (!candidates[i].hash_known && (opts_.pipable || size_count[candidates[i].size] > 1)) need_hash.push_back(i);
  PhaseTimer prehash_timer("write/prehash");
  tbb::enumerable_thread_specific<Bytes> hash_bufs;
  tbb::enumerable_thread_specific<Sha1Hasher> hashers;
  // Files are taken in order (not split into ranges per thread) so that the
  // read-ahead can run in front of all the readers.
  std::vector<const BlobSource*> hash_order;
  for (size_t i : need_hash) hash_order.push_back(candidates[i].source);
  Prefetcher prefetch(std::move(hash_order));
  std::atomic<size_t> next_hash{0};
  tbb::parallel_for(0, tbb::this_task_arena::max_concurrency(), [&](int) {
    for (size_t n; (n = next_hash.fetch_add(1)) < need_hash.size();) {
      if (tbb::is_current_task_group_canceling()) break;  // another file failed
      prefetch.reached(n);
      Pending& p = candidates[need_hash[n]];
      auto s = p.source->open();
      Bytes& buf = hash_bufs.local();
      if (buf.size() < std::min<uint64_t>(p.size + 1, 1 << 20)) buf.resize(size_t(std::min<uint64_t>(p.size + 1, 1 << 20)));
      Sha1Hasher& h = hashers.local();
      uint64_t got = 0;
      for (;;) {
        size_t k = s->read(buf);
        if (k == 0) break;
        h.update({buf.data(), k});
        got += k;
      }
      if (got != p.size) fail(Errc::Failure, "'" + p.source->describe() + "' changed size while it was being archived");
      p.hash = h.final();
      p.hash_known = true;
    }
  });
  prehash_timer.stop();
  // 3. Drop blobs this archive (or a delta base) already has, and duplicates.
  PhaseTimer blobs_timer("write/blobs");
  std::vector<Pending> to_write;
  std::vector<size_t> cand_for_write;
  std::unordered_set<Sha1, Sha1Hash> queued;
  for (size_t i = 0; i < candidates.size(); i++) {
    Pending& p = candidates[i];
    if (p.hash_known && (blobs_.count(p.hash) || excluded_.count(p.hash) || !queued.insert(p.hash).second)) {
      if (stats) stats->blobs_deduplicated++;
      continue;
    }
    to_write.push_back(p);
  }
  // 4. Write; the pipeline fills in the hashes it computes. Pipable: later,
  // by finish(), after the metadata (every hash is known by now).
  if (opts_.pipable) {
    for (const auto& p : to_write) {
      blobs_.try_emplace(p.hash, OutBlob{UINT32_MAX, 0, p.size, 0});
      deferred_.push_back(p);
    }
  } else {
    write_blobs(to_write, stats);
  }
  std::unordered_map<const BlobSource*, Sha1> hash_of;
  for (const auto& p : candidates)
    if (p.hash_known) hash_of[p.source] = p.hash;
  for (const auto& p : to_write) hash_of[p.source] = p.hash;
  // A source that changed while it was read (--continue-on-change) is stored
  // under the hash of what was stored, so the duplicates dropped in step 3
  // for its earlier hash may now have no blob: write those too (they may
  // change in turn; every round stores at least one source for good).
  for (;;) {
    std::vector<Pending> again;
    queued.clear();
    for (const auto& p : candidates) {
      const Sha1& h = hash_of[p.source];
      if (blobs_.count(h) || excluded_.count(h) || !queued.insert(h).second) continue;
      again.push_back(p);
      again.back().hash = h;
      again.back().hash_known = true;
    }
    if (again.empty()) break;
    if (stats) stats->blobs_deduplicated -= std::min<uint64_t>(stats->blobs_deduplicated, again.size());
    write_blobs(again, stats);
    for (const auto& p : again) hash_of[p.source] = p.hash;
  }
  for (size_t i = 0; i < sources.size(); i++) {
    if (by_source[i].empty()) continue;
    auto it = hash_of.find(sources[i].get());
    for (image::Stream* s : by_source[i]) {
      if (it != hash_of.end()) s->hash = it->second;
      s->size = sources[i]->size();
    }
  }
  blobs_timer.stop();
  // 5. Reference counts (§5.1): one per dentry per stream.
  PhaseTimer metadata_timer("write/metadata");
  img.for_each_dentry([&](const image::Dentry& d) {
    for (const auto& s : d.inode->streams)
      if (!s.hash.is_zero())
        if (auto it = blobs_.find(s.hash); it != blobs_.end()) it->second.refcnt++;
  });
  // 6. Metadata resource, then the XML entry.
  Bytes meta = encode_metadata(img);
  Sha1 mh = sha1_of(meta);
  OutResource o;
  if (opts_.pipable)
    meta_bytes_[uint32_t(resources_.size())] = std::move(meta);
  else
    o.reshdr = write_one_buffer(meta, true);
  o.metadata = true;
  o.hash = mh;
  metadata_.push_back(uint32_t(resources_.size()));
  resources_.push_back(o);
  uint64_t now = xml_time();
  size_t index = xml_.add_image(name, now);
  xml_.set_stats(index, img.stats(), now);
  header_.image_count = uint32_t(metadata_.size());
  return index;
}

void ArchiveWriter::replace_image(size_t index, image::Image& img,
                                  const std::vector<std::unique_ptr<BlobSource>>& sources, WriteStats* stats) {
  if (index < 1 || index > metadata_.size())
    fail(Errc::NotFound, "the archive has no image " + std::to_string(index) + " to replace");
  // 1. The old tree's blob references go: its metadata is read back from
  // the output (in place: the old archive's resource; after import_archive:
  // the copy written there), since the blob table's counts cover all images.
  const OutResource& old = resources_[metadata_[index - 1]];
  std::string ctx = "image " + std::to_string(index);
  Bytes data;
  if (opts_.pipable) {
    data = meta_bytes_.at(metadata_[index - 1]);
  } else {
  out_.flush();
  Resource res;
  res.offset = old.reshdr.offset;
  res.size_in_wim = old.reshdr.size_in_wim;
  res.usize = old.reshdr.usize;
  res.flags = old.reshdr.flags;
  if (old.reshdr.flags & kResCompressed) {
    res.compressed = true;
    res.codec = opts_.compression.codec;
    res.chunk_size = opts_.chunk_size;
  }
  data = read_resource(InputFile(out_.path()), res);
  }
  if (sha1_of(data) != old.hash) fail(Errc::BadArchive, ctx + ": metadata resource hash mismatch (corrupt archive)");
  image::Image old_img = decode_metadata(data, ctx, nullptr);
  old_img.for_each_dentry([&](const image::Dentry& d) {
    for (const auto& s : d.inode->streams)
      if (!s.hash.is_zero())
        if (auto it = blobs_.find(s.hash); it != blobs_.end() && it->second.refcnt > 0) it->second.refcnt--;
  });
  // 2. Written like a new image (blobs, references, metadata resource),
  // then moved into the old one's place: the old metadata resource is no
  // longer referenced (a hole, §14.2), the XML keeps the old IMAGE element.
  size_t added = add_image(img, sources, xml_.get(index, "NAME"), stats);
  metadata_[index - 1] = metadata_.back();
  metadata_.pop_back();
  xml_.remove_image(added);
  header_.image_count = uint32_t(metadata_.size());
  xml_.set_stats(index, img.stats(), xml_time());
}

size_t ArchiveWriter::import_image(const Archive& src, size_t index, bool recompress, WriteStats* stats,
                                   bool allow_missing) {
  const std::string ctx = "'" + src.path() + "' image " + std::to_string(index);
  // 1. The metadata, and what the image really references (stored refcounts
  // are not trusted, §5.1).
  const Archive::MetadataRef& m = src.metadata(index);
  const Resource& mres = src.resources()[m.resource];
  Bytes meta = read_resource(src.file(), mres);
  if (sha1_of(meta) != m.hash) fail(Errc::BadArchive, ctx + ": metadata resource hash mismatch (corrupt archive)");
  std::unordered_map<Sha1, uint32_t, Sha1Hash> refs;
  {
    image::Image img = decode_metadata(meta, ctx, nullptr);
    img.for_each_dentry([&](const image::Dentry& d) {
      for (const auto& st : d.inode->streams)
        if (!st.hash.is_zero()) refs[st.hash]++;
    });
  }

  // 2. What this archive lacks: copied as it is when nothing about its
  // encoding changes, else recompressed.
  auto holder_of = [&](const BlobLocation* loc) -> const Archive& { return loc->archive ? *loc->archive : src; };
  const Codec target_solid = opts_.solid ? opts_.solid_compression.codec : opts_.compression.codec;
  using ResKey = std::pair<const Archive*, uint32_t>;
  std::vector<ResKey> copy_res;
  std::vector<std::pair<const BlobLocation*, Sha1>> recompress_list;
  std::vector<Sha1> missing;
  for (const auto& [hash, count] : refs) {
    if (blobs_.count(hash)) continue;  // already here: never written twice
    const BlobLocation* loc = src.find_blob(hash);
    if (!loc) {
      missing.push_back(hash);
      continue;
    }
    const Archive& holder = holder_of(loc);
    ResKey key{&holder, loc->resource};
    if (copied_.count(key)) continue;  // in a solid resource copied earlier, or queued below
    const Resource& r = holder.resources()[loc->resource];
    bool raw_ok;
    // A pipable archive's resources have another layout (§12.3) and a blob
    // header: copied as they are only between archives of the same kind.
    if (holder.header().pipable != opts_.pipable || (opts_.pipable && r.solid))
      raw_ok = false;
    else if (r.solid)  // an extension codec must also be the header's (§2.2)
      raw_ok = !recompress && r.codec == target_solid && (is_standard(r.codec) || opts_.compression.codec == r.codec);
    else
      raw_ok = !recompress && !opts_.solid &&
               (r.compressed ? r.codec == opts_.compression.codec && r.chunk_size == opts_.chunk_size
                             : holder.header().codec() == opts_.compression.codec);
    if (raw_ok) {
      copied_[key] = UINT32_MAX;
      copy_res.push_back(key);
    } else {
      recompress_list.push_back({loc, hash});
    }
  }
  if (!missing.empty() && !allow_missing)
    fail(Errc::NotFound, ctx + ": " + std::to_string(missing.size()) + (missing.size() == 1 ? " blob is" : " blobs are") +
                             " missing (first: " + missing[0].hex() +
                             "); if it is a delta or split archive, pass the others with --ref=GLOB");

  // 3. Verbatim copies, in file order.
  std::sort(copy_res.begin(), copy_res.end(), [](const ResKey& a, const ResKey& b) {
    uint64_t oa = a.first->resources()[a.second].offset, ob = b.first->resources()[b.second].offset;
    return std::tie(a.first, oa) < std::tie(b.first, ob);
  });
  Bytes buf(1 << 20);
  // Progress of the copies: stored (compressed) bytes.
  uint64_t copy_done = 0, copy_total = 0;
  if (!opts_.pipable)
    for (const ResKey& key : copy_res) copy_total += key.first->resources()[key.second].size_in_wim;
  auto copy_bytes = [&](const Archive& from, uint64_t offset, uint64_t size) {
    for (uint64_t off = 0; off < size; off += buf.size()) {
      size_t k = size_t(std::min<uint64_t>(buf.size(), size - off));
      from.file().read_at(offset + off, {buf.data(), k}, "resource data");
      out_.write({buf.data(), k});
      copy_done += k;
      if (progress_) progress_(copy_done, copy_total, 0);
    }
  };
  for (const ResKey& key : copy_res) {
    const Resource& r = key.first->resources()[key.second];
    if (opts_.pipable) {  // by finish(), after the metadata
      copied_[key] = uint32_t(resources_.size());
      deferred_copies_.push_back({key.first, key.second, uint32_t(resources_.size())});
      resources_.push_back(OutResource{});
      continue;
    }
    OutResource o;
    o.solid = r.solid;
    o.solid_usize = r.solid ? r.usize : 0;
    if (r.solid) header_.version = kVersionSolid;
    uint64_t start = out_.offset();
    copy_bytes(*key.first, r.offset, r.size_in_wim);
    o.reshdr = r.solid ? ResHdr{r.size_in_wim, kResSolid, start, kSolidResourceMagic}
                       : ResHdr{r.size_in_wim, uint8_t(r.flags & kResCompressed), start, r.usize};
    copied_[key] = uint32_t(resources_.size());
    resources_.push_back(o);
    if (stats) stats->bytes_written += r.size_in_wim;
  }
  for (const auto& [hash, count] : refs) {
    if (blobs_.count(hash)) continue;
    const BlobLocation* loc = src.find_blob(hash);
    if (!loc) continue;
    auto it = copied_.find(ResKey{&holder_of(loc), loc->resource});
    if (it == copied_.end()) continue;
    blobs_[hash] = OutBlob{it->second, loc->offset, loc->size, 0};
    if (!resources_[it->second].solid) resources_[it->second].hash = hash;
  }

  // 4. Everything else through the compression pipeline, read in the
  // source's order so each source chunk is decoded once.
  std::sort(recompress_list.begin(), recompress_list.end(), [&](const auto& a, const auto& b) {
    const Archive* ha = &holder_of(a.first);
    const Archive* hb = &holder_of(b.first);
    uint64_t oa = ha->resources()[a.first->resource].offset, ob = hb->resources()[b.first->resource].offset;
    return std::tie(ha, oa, a.first->offset) < std::tie(hb, ob, b.first->offset);
  });
  std::vector<std::unique_ptr<BlobSource>> sources;
  std::vector<Pending> pending;
  for (const auto& [loc, hash] : recompress_list) {
    sources.push_back(std::make_unique<ArchiveBlobSource>(holder_of(loc), *loc, hash));  // verifies: corrupt = BadArchive
    Pending p;
    p.source = sources.back().get();
    p.size = loc->size;
    p.hash = hash;
    p.hash_known = true;
    pending.push_back(p);
  }
  if (opts_.pipable) {
    for (const auto& p : pending) {
      blobs_.try_emplace(p.hash, OutBlob{UINT32_MAX, 0, p.size, 0});
      deferred_.push_back(p);
    }
    for (auto& src_ptr : sources) owned_sources_.push_back(std::move(src_ptr));
  } else {
    write_blobs(pending, stats);
  }

  // 5. Reference counts (§5.1), added to those of the images already here.
  for (const auto& [hash, count] : refs)
    if (auto it = blobs_.find(hash); it != blobs_.end()) it->second.refcnt += count;

  // 6. The metadata resource (copied as it is when encoded the way this
  // archive would), then the XML entry: the source's subtree (§6.4).
  OutResource o;
  bool meta_raw = !opts_.pipable && !src.header().pipable && !recompress && (mres.compressed ? mres.codec == opts_.compression.codec && mres.chunk_size == opts_.chunk_size
                                                  : src.header().codec() == opts_.compression.codec);
  if (opts_.pipable) {
    meta_bytes_[uint32_t(resources_.size())] = std::move(meta);  // written by finish()
  } else if (meta_raw) {
    uint64_t start = out_.offset();
    copy_bytes(src, mres.offset, mres.size_in_wim);
    o.reshdr = {mres.size_in_wim, uint8_t((mres.flags & kResCompressed) | kResMetadata), start, mres.usize};
  } else {
    o.reshdr = write_one_buffer(meta, true);
  }
  o.metadata = true;
  o.hash = m.hash;
  metadata_.push_back(uint32_t(resources_.size()));
  resources_.push_back(o);
  size_t new_index = xml_.add_image_copy(src.xml().image(index));
  // Every blob the image uses is now here: it is no longer a delta.
  if (!allow_missing) xml_.remove_delta_bases(new_index);
  header_.image_count = uint32_t(metadata_.size());
  return new_index;
}

void ArchiveWriter::import_archive(const Archive& src, bool recompress, WriteStats* stats) {
  const bool fresh = metadata_.empty();
  for (size_t i = 1; i <= src.image_count(); i++) import_image(src, i, recompress, stats, /*allow_missing=*/true);
  if (fresh) {
    xml_ = src.xml().clone();  // top-level elements other than IMAGE survive too
    header_.boot_index = src.header().boot_index;
    header_.guid = src.header().guid;  // §14.3: a rebuild keeps the GUID
  }
}

void ArchiveWriter::remove_image(size_t index) {
  if (index < 1 || index > metadata_.size())
    fail(Errc::NotFound, "internal error: no image " + std::to_string(index) + " to remove");
  uint32_t ri = metadata_[index - 1];
  // An image of the archive appended to: its blobs lose its references.
  if (existing_ && ri < existing_->image_count()) {
    image::Image img = existing_->load_image(ri + 1);
    img.for_each_dentry([&](const image::Dentry& d) {
      for (const auto& st : d.inode->streams)
        if (!st.hash.is_zero())
          if (auto it = blobs_.find(st.hash); it != blobs_.end() && it->second.refcnt > 0) it->second.refcnt--;
    });
  }
  metadata_.erase(metadata_.begin() + std::ptrdiff_t(index - 1));
  xml_.remove_image(index);
  if (header_.boot_index == index)
    header_.boot_index = 0;
  else if (header_.boot_index > index)
    header_.boot_index--;
  header_.image_count = uint32_t(metadata_.size());
}

void ArchiveWriter::compact() {
  out_.flush();
  InputFile in(out_.path());
  // 1. References, from the images themselves (stored counts are not
  // trusted, §5.1): each metadata resource is read back from the file.
  std::unordered_map<Sha1, uint32_t, Sha1Hash> refs;
  for (size_t i = 0; i < metadata_.size(); i++) {
    const OutResource& o = resources_[metadata_[i]];
    Resource res;
    res.offset = o.reshdr.offset;
    res.size_in_wim = o.reshdr.size_in_wim;
    res.usize = o.reshdr.usize;
    res.flags = o.reshdr.flags;
    if (o.reshdr.flags & kResCompressed) {
      res.compressed = true;
      res.codec = opts_.compression.codec;
      res.chunk_size = opts_.chunk_size;
    }
    std::string ctx = "image " + std::to_string(i + 1);
    Bytes data = read_resource(in, res);
    if (sha1_of(data) != o.hash) fail(Errc::BadArchive, ctx + ": metadata resource hash mismatch (corrupt archive)");
    decode_metadata(data, ctx, nullptr).for_each_dentry([&](const image::Dentry& d) {
      for (const auto& st : d.inode->streams)
        if (!st.hash.is_zero()) refs[st.hash]++;
    });
  }
  // 2. What stays: the images' metadata, and every resource holding a
  // referenced blob (a solid resource whole). Unreferenced blobs go.
  std::vector<bool> keep(resources_.size(), false);
  for (uint32_t ri : metadata_) keep[ri] = true;
  for (auto it = blobs_.begin(); it != blobs_.end();) {
    auto r = refs.find(it->first);
    if (r == refs.end()) {
      it = blobs_.erase(it);
      continue;
    }
    it->second.refcnt = r->second;
    keep[it->second.resource] = true;
    ++it;
  }
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < resources_.size(); i++) {
    if (keep[i])
      order.push_back(i);
    else
      resources_[i].dropped = true;
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const ResHdr &x = resources_[a].reshdr, &y = resources_[b].reshdr;
    return std::tie(x.offset, x.size_in_wim) < std::tie(y.offset, y.size_in_wim);
  });
  // 3. The plan, checked before anything moves (until then a failure still
  // rolls back): resources must not overlap, except two entries for the
  // very same bytes, which move together.
  std::vector<uint64_t> dest(resources_.size(), 0);
  uint64_t cursor = kHeaderSize, prev_off = 0, prev_end = 0, prev_dest = 0;
  for (uint32_t ri : order) {
    const ResHdr& r = resources_[ri].reshdr;
    if (r.offset + r.size_in_wim > in.size() || r.offset < kHeaderSize)
      fail(Errc::BadArchive, "a resource at offset " + std::to_string(r.offset) + " lies outside the file; cannot compact");
    if (r.offset < prev_end) {
      if (r.offset != prev_off || r.offset + r.size_in_wim != prev_end)
        fail(Errc::BadArchive, "resources overlap at offset " + std::to_string(r.offset) + "; cannot compact");
      dest[ri] = prev_dest;
      continue;
    }
    dest[ri] = prev_dest = cursor;
    prev_off = r.offset;
    prev_end = r.offset + r.size_in_wim;
    cursor += r.size_in_wim;
  }
  // 4. The point of no return: from here the old header no longer describes
  // the file. Each move goes down (dest <= source) in ascending order, so
  // nothing is overwritten before it has been read.
  out_.begin_unsafe();
  Bytes buf(1 << 20);
  uint64_t moved_from = UINT64_MAX;
  for (uint32_t ri : order) {
    ResHdr& r = resources_[ri].reshdr;
    if (r.offset != moved_from && dest[ri] != r.offset) {
      for (uint64_t done = 0; done < r.size_in_wim; done += buf.size()) {
        size_t k = size_t(std::min<uint64_t>(buf.size(), r.size_in_wim - done));
        in.read_at(r.offset + done, {buf.data(), k}, "resource data");
        out_.pwrite_at(dest[ri] + done, {buf.data(), k});
      }
    }
    moved_from = r.offset;
    r.offset = dest[ri];
  }
  out_.truncate(cursor);
}

ResHdr ArchiveWriter::write_pipable_plain(ByteSpan data, uint32_t flags) {
  ResourceWriter rw(out_);
  rw.begin_pipable(data.size(), Codec::None, 0, sha1_of(data), flags);
  if (!data.empty()) rw.add_chunk(data, {});
  ResHdr r = rw.end();
  r.flags |= uint8_t(flags);
  return r;
}

// §12.1, everything before the blob table: header #1, the XML copy, the
// metadata resources in image order, then the blobs (verbatim copies from
// pipable archives first, then the ones compressed here).
void ArchiveWriter::finish_pipable() {
  header_.image_count = uint32_t(metadata_.size());
  if (header_.boot_index > header_.image_count) header_.boot_index = 0;
  Header h1 = header_;
  h1.flags &= ~kHdrWriteInProgress;
  h1.blob_table = h1.xml = h1.boot_metadata = h1.integrity = {};
  uint8_t hb[kHeaderSize];
  encode_header(h1, hb);
  out_.write({hb, kHeaderSize});
  write_pipable_plain(xml_.encode_without_total(), kResMetadata);
  for (uint32_t ri : metadata_) resources_[ri].reshdr = write_one_buffer(meta_bytes_.at(ri), true);
  meta_bytes_.clear();

  // Blobs no image references any more (an image removed after it was
  // added or imported) are not written at all.
  auto unreferenced = [&](const Sha1& h) {
    auto it = blobs_.find(h);
    return it == blobs_.end() || it->second.refcnt == 0;
  };
  Bytes buf(1 << 20);
  for (const DeferredCopy& c : deferred_copies_) {
    const Resource& r = c.from->resources()[c.src_res];
    OutResource& o = resources_[c.out_res];
    if (unreferenced(o.hash)) {
      blobs_.erase(o.hash);
      o.dropped = true;
      continue;
    }
    // The source's blob header is rebuilt rather than trusted.
    ByteWriter h;
    h.u64(kPipableBlobMagic);
    h.u64(r.usize);
    h.raw(o.hash.bytes);
    h.u32(r.flags & kResCompressed);
    out_.write(h.bytes());
    uint64_t start = out_.offset();
    for (uint64_t off = 0; off < r.size_in_wim; off += buf.size()) {
      size_t k = size_t(std::min<uint64_t>(buf.size(), r.size_in_wim - off));
      c.from->file().read_at(r.offset + off, {buf.data(), k}, "resource data");
      out_.write({buf.data(), k});
    }
    o.reshdr = ResHdr{r.size_in_wim, uint8_t(r.flags & kResCompressed), start, r.usize};
  }
  std::vector<Pending> pending;
  for (auto& p : deferred_) {
    if (unreferenced(p.hash)) {
      blobs_.erase(p.hash);
      continue;
    }
    pending.push_back(p);
  }
  deferred_.clear();
  deferred_copies_.clear();
  write_blobs(pending, nullptr);
  for (const auto& [hash, b] : blobs_)
    if (b.resource == UINT32_MAX) fail(Errc::Failure, "internal error: blob " + hash.hex() + " was never written");
}

void ArchiveWriter::finish() {
  PhaseTimer timer("write/tables");
  if (opts_.unsafe_compact && appending_) compact();
  choose_new_guid();
  if (opts_.pipable) finish_pipable();
  // §5.4: metadata entries in image order, then non-solid blobs by offset,
  // then one solid run: each resource entry followed by its blobs, with
  // offsets in the run's single logical numbering space (§5.2).
  ByteWriter table;
  for (uint32_t ri : metadata_) {
    const OutResource& r = resources_[ri];
    BlobEntry e{r.reshdr, 1, 1, r.hash};
    e.reshdr.flags |= kResMetadata;
    encode_blob_entry(e, table);
  }
  std::vector<std::pair<uint64_t, Sha1>> nonsolid;
  std::vector<std::vector<std::pair<uint64_t, Sha1>>> solid_blobs(resources_.size());
  for (const auto& [hash, b] : blobs_) {
    const OutResource& r = resources_[b.resource];
    if (r.solid)
      solid_blobs[b.resource].push_back({b.offset, hash});
    else
      nonsolid.push_back({r.reshdr.offset, hash});
  }
  std::sort(nonsolid.begin(), nonsolid.end());
  for (const auto& [off, hash] : nonsolid) {
    const OutBlob& b = blobs_[hash];
    encode_blob_entry(BlobEntry{resources_[b.resource].reshdr, 1, b.refcnt, hash}, table);
  }
  std::vector<uint32_t> solid_res;
  for (uint32_t i = 0; i < resources_.size(); i++)
    if (resources_[i].solid && !resources_[i].dropped) solid_res.push_back(i);
  std::sort(solid_res.begin(), solid_res.end(),
            [&](uint32_t a, uint32_t b) { return resources_[a].reshdr.offset < resources_[b].reshdr.offset; });
  uint64_t logical = 0;
  for (uint32_t ri : solid_res) {
    const OutResource& r = resources_[ri];
    encode_blob_entry(BlobEntry{r.reshdr, 1, 1, Sha1{}}, table);
    auto& list = solid_blobs[ri];
    std::sort(list.begin(), list.end());
    for (const auto& [off, hash] : list) {
      const OutBlob& b = blobs_[hash];
      encode_blob_entry(BlobEntry{ResHdr{b.size, kResSolid, logical + off, 0}, 1, b.refcnt, hash}, table);
    }
    logical += r.solid_usize;
  }

  ResHdr bt;
  if (opts_.pipable) {
    // §12.1: the blob table and the XML after blob headers of their own.
    bt = write_pipable_plain(table.bytes(), kResMetadata);
  } else if (table.size()) {
    bt = {table.size(), kResMetadata, out_.offset(), table.size()};
    out_.write(table.bytes());
  }
  uint64_t xml_off = out_.offset() + (opts_.pipable ? kPipableBlobHeaderSize : 0);
  Bytes xml = xml_.encode(xml_off);
  if (opts_.pipable)
    write_pipable_plain(xml, kResMetadata);
  else
    out_.write(xml);
  header_.blob_table = bt;
  header_.xml = {xml.size(), kResMetadata, xml_off, xml.size()};
  header_.integrity = {};
  if (opts_.integrity && !out_.sequential()) {  // a stream cannot be read back
    out_.flush();
    uint64_t end = bt.is_zero() ? xml_off : bt.offset + bt.size_in_wim;
    Bytes it = build_integrity_table(out_.fd(), out_.path(), end);
    header_.integrity = {it.size(), 0, out_.offset(), it.size()};
    out_.write(it);
  }
  uint64_t end = out_.offset();
  out_.flush();
  if (appending_ && !opts_.pipable) out_.truncate(end);  // drop anything an earlier, longer layout left behind
  header_.image_count = uint32_t(metadata_.size());
  if (header_.boot_index > header_.image_count) header_.boot_index = 0;
  header_.boot_metadata = {};
  if (header_.boot_index) {
    header_.boot_metadata = resources_[metadata_[header_.boot_index - 1]].reshdr;
    header_.boot_metadata.flags |= kResMetadata;
  }
  header_.flags &= ~kHdrWriteInProgress;
  if (opts_.pipable) {
    // §12.1: header #2, the complete one, at the very end.
    uint8_t hb[kHeaderSize];
    encode_header(header_, hb);
    out_.write({hb, kHeaderSize});
    out_.sync();
    return;
  }
  // §14.1 step 5 / §14.2 step 5: the header is written last (the commit
  // point), after a sync so that it never points at data not yet on disk.
  uint8_t hb[kHeaderSize];
  encode_header(header_, hb);
  out_.commit_at(0, {hb, kHeaderSize});
}

}  // namespace wp::wim
