// Writing archives (wim-format.md §14.1, §14.2): blobs through the parallel
// chunk pipeline, metadata resources, blob table, XML, integrity table, and
// the header last.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compress/codec.hpp"
#include "image/image.hpp"
#include "util/file.hpp"
#include "wim/archive.hpp"
#include "wim/blob_source.hpp"
#include "wim/header.hpp"
#include "wim/xml_info.hpp"

namespace wp::wim {

struct WriterOptions {
  CompressionSpec compression{Codec::Zstd, 0};  // non-solid resources and metadata
  uint32_t chunk_size = 0;                      // 0 = the codec's default
  bool solid = false;
  CompressionSpec solid_compression{Codec::Lzms, 0};
  uint32_t solid_chunk_size = 0;  // 0 = default (64 MiB)
  // A new solid resource starts (at a blob boundary) once one holds this
  // much; 0 = max(16 chunks, 1 GiB).
  uint64_t solid_resource_size = 0;
  bool integrity = false;
  uint32_t extra_header_flags = 0;  // e.g. kHdrRpFix
  // Appending in place only (--unsafe-compact, wim-format.md §14.3 note):
  // finish() first moves every resource still needed down over the holes,
  // from offset 208 on, then writes the tables and truncates. Not crash-safe
  // once the first byte moves (see compact()).
  bool unsafe_compact = false;
  // A pipable WIM (wim-format.md §12): nothing is written until finish(),
  // which writes header #1, the XML copy, the metadata resources, the blobs,
  // the blob table, the XML, the integrity table (only with `integrity` and a
  // seekable output) and header #2, front to back without seeking. Blobs are
  // hashed before anything is written (capture reads each file twice), and
  // the BlobSources given to add_image must live until finish(). Not with
  // `solid` (Errc::Usage) or in-place appends.
  bool pipable = false;
  // SOURCE_DATE_EPOCH (util/env.hpp), for reproducible archives: XML times
  // are this time instead of the current one, a new archive's GUID is
  // derived from its content (derive_guid, wim/header.hpp) instead of
  // random, and new blobs are written in tree order (the order of the
  // image's dentries) instead of the order the scan found them in.
  std::optional<int64_t> source_date_epoch;
  // The GUID of a new archive (--image-guid), instead of a random or derived
  // one. Ignored when appending (an archive keeps its GUID).
  std::optional<std::array<uint8_t, 16>> guid;
};

// What a capture reports about the blobs it stored.
struct WriteStats {
  uint64_t blobs_written = 0, bytes_read = 0, bytes_written = 0, blobs_deduplicated = 0;
};

class ArchiveWriter {
public:
  // A new archive written from offset 0 of `out`.
  ArchiveWriter(OutputFile& out, const WriterOptions& opts);
  // Appending in place to `existing` (§14.2): `out` is the same file opened
  // for writing, positioned at the append point.
  ArchiveWriter(OutputFile& out, const WriterOptions& opts, const Archive& existing);
  ~ArchiveWriter();

  XmlInfo& xml() { return xml_; }
  Header& header() { return header_; }

  // Blobs that need not be stored because another archive has them
  // (--delta-from).
  void exclude_blobs(const Archive& base);

  // Writes the image's new blobs (deduplicated against everything this
  // archive already holds), fills in the stream hashes, writes the metadata
  // resource and adds the XML entry. Returns the new image's index.
  size_t add_image(image::Image& img, const std::vector<std::unique_ptr<BlobSource>>& sources, const std::string& name,
                   WriteStats* stats = nullptr);

  // Replaces image `index` (1-based) with `img` (update, mountrw commit):
  // writes its new blobs (deduplicated as in add_image) and a new metadata
  // resource, which takes the old one's place in the blob table (the old
  // resource becomes a hole, wim-format.md §14.2); blob reference counts
  // move from the old tree to the new one; the image's XML statistics and
  // LASTMODIFICATIONTIME are refreshed, every other element is kept.
  void replace_image(size_t index, image::Image& img, const std::vector<std::unique_ptr<BlobSource>>& sources,
                     WriteStats* stats = nullptr);

  // Copies image `index` of `src` (export, §14.5): its metadata resource and
  // XML entry, and the blobs it references that this archive does not hold
  // yet, found in `src` or its --ref archives. A resource is copied verbatim
  // when its codec and chunk size match this archive's, unless `recompress`
  // (a solid resource whole, once per writer: later images find their blobs
  // in that copy); everything else goes through the compression pipeline. A
  // blob nobody has is an error (Errc::NotFound) unless `allow_missing` (a
  // delta archive rewritten on its own keeps pointing at its base). Returns
  // the new image's index.
  size_t import_image(const Archive& src, size_t index, bool recompress, WriteStats* stats = nullptr,
                      bool allow_missing = false);

  // Copies every image of `src` (optimize, rebuilds, §14.3): import_image
  // for each, missing blobs allowed. Into a writer that holds no image yet it
  // also copies src's XML document as it is, its GUID and its boot index.
  void import_archive(const Archive& src, bool recompress, WriteStats* stats = nullptr);

  // Drops image `index` (delete; in place, a soft delete per §14.2): its
  // metadata entry and XML entry; later images are renumbered and the boot
  // index follows its image (0 if it was this one). Blobs stay. For an image
  // of the archive being appended to, the reference counts of its blobs are
  // lowered (unused ones end at 0, as wimlib leaves them).
  void remove_image(size_t index);

  // Writes the blob table, XML and optional integrity table, then the final
  // header. The caller then commits (rename) or, for appends, is done.
  void finish();

  // Progress callback: bytes done and in all of the file data being written,
  // and how many of the image's file entries have their data written (0
  // while copying compressed data from another archive).
  using ProgressFn = std::function<void(uint64_t done, uint64_t total, uint64_t files_done)>;
  void set_progress(ProgressFn cb) { progress_ = std::move(cb); }

private:
  struct OutResource {
    ResHdr reshdr;  // for solid resources: size_in_wim, offset; usize = magic
    bool solid = false;
    bool metadata = false;
    Sha1 hash;                   // non-solid: the blob / metadata hash
    uint64_t solid_usize = 0;    // solid: uncompressed size
    bool dropped = false;        // compaction: no longer in the file
  };
  struct OutBlob {
    uint32_t resource = 0;
    uint64_t offset = 0;  // within the resource's uncompressed data (solid)
    uint64_t size = 0;
    uint32_t refcnt = 0;
  };
  struct Pending;
  // Pipable: a verbatim copy of another pipable archive's resource, done by
  // finish() into resources_[out_res].
  struct DeferredCopy {
    const Archive* from;
    uint32_t src_res, out_res;
  };
  void finish_pipable();
  // Pipable: a resource of in-memory data with its blob header.
  ResHdr write_pipable_plain(ByteSpan data, uint32_t flags);

  void write_header_placeholder();
  // The time recorded in the XML: SOURCE_DATE_EPOCH if set, else now.
  uint64_t xml_time() const;
  // A new archive: header_.guid from WriterOptions::guid, or under
  // SOURCE_DATE_EPOCH from the content (else it stays random).
  void choose_new_guid();
  void write_blobs(std::vector<Pending>& blobs, WriteStats* stats);
  void write_nonsolid(std::vector<Pending>& blobs, WriteStats* stats);
  void write_solid(std::vector<Pending>& blobs, WriteStats* stats);
  ResHdr write_one_buffer(ByteSpan data, bool metadata);
  // --unsafe-compact, called by finish() before the tables: recounts blob
  // references from the images, drops unreferenced blobs, and moves the
  // resources still needed (solid ones whole) down to offset 208 in file
  // order, updating their offsets; leaves the output positioned after them.
  void compact();

  OutputFile& out_;
  WriterOptions opts_;
  Header header_;
  XmlInfo xml_;
  bool appending_ = false;
  // The random GUID a new archive starts with; a GUID set since (a rebuild
  // keeps its archive's) is kept under SOURCE_DATE_EPOCH too.
  std::array<uint8_t, 16> initial_guid_{};
  std::vector<OutResource> resources_;
  std::vector<uint32_t> metadata_;  // resource index per image
  std::unordered_map<Sha1, OutBlob, Sha1Hash> blobs_;
  std::unordered_set<Sha1, Sha1Hash> excluded_;
  // In place: the archive appended to. Its images' metadata resources are
  // resources_[0 .. image_count) in image order.
  const Archive* existing_ = nullptr;
  // import_image: resources of other archives already copied verbatim
  // (archive, resource index) -> index in resources_.
  std::map<std::pair<const Archive*, uint32_t>, uint32_t> copied_;
  std::unordered_map<uint64_t, uint32_t> excluded_sizes_;
  ProgressFn progress_;
  // Pipable (everything waits for finish()): blobs to compress, verbatim
  // copies, the sources import_image made, metadata by resource index.
  std::vector<Pending> deferred_;
  std::vector<DeferredCopy> deferred_copies_;
  std::vector<std::unique_ptr<BlobSource>> owned_sources_;
  std::map<uint32_t, Bytes> meta_bytes_;
};

}  // namespace wp::wim
