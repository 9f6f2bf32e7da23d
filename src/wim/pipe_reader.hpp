// Reading a pipable WIM sequentially, from a pipe (wim-format.md §12.4):
// header #1, the XML copy, the metadata resources, then the blobs in the
// writer's order, each behind a 40-byte blob header. Split pipable WIMs are
// read as their parts concatenated (a WIM header where a blob header is
// expected starts the next part). Nothing is ever read twice, so only what
// the first pass needs is kept: the XML, the selected image, and the blobs
// the caller asks for.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>
#include <span>
#include <string>

#include "image/image.hpp"
#include "util/bytes.hpp"
#include "util/sha1.hpp"
#include "wim/header.hpp"
#include "wim/xml_info.hpp"

namespace wp::wim {

class PipeInput;

class PipeReader {
public:
  // Reads header #1 and the XML copy (§12.4 steps 1-2) from `fd`; `name`
  // ("standard input") is used in messages.
  PipeReader(int fd, std::string name);
  ~PipeReader();

  const std::string& name() const { return name_; }
  const Header& header() const { return header_; }
  const XmlInfo& xml() const { return xml_; }
  size_t image_count() const { return header_.image_count; }

  // "3", "name", or a negative index counting from the end, as
  // Archive::resolve_image. Throws Errc::NotFound.
  size_t resolve_image(const std::string& spec) const;

  // Step 3: reads every metadata resource, verifying its SHA-1, and decodes
  // image `index` (1-based); the others are skipped. Call once, before
  // read_blobs. Stream sizes are left 0 (they come with the blobs).
  image::Image read_image(size_t index);

  // Step 3 for several images: reads every metadata resource and decodes
  // those with want[i - 1] set (`want` has image_count() entries). Without
  // `problems`, a damaged one throws Errc::BadArchive; with it, its message
  // is stored in (*problems)[i - 1], its slot in the result stays empty and
  // reading goes on (verify).
  std::vector<std::optional<image::Image>> read_images(const std::vector<bool>& want,
                                                       std::vector<std::string>* problems = nullptr);

  // Step 5: reads blob headers until every hash in `needed` has been seen
  // once, and streams each needed blob's uncompressed data to `sink`, in
  // order, serially: sink(hash, blob_size, offset, data); the last piece has
  // offset + data.size() == blob_size (a blob of size 0 gets one empty
  // piece). Chunks are decompressed on all threads. The SHA-1 is the
  // sink's to check. Throws Errc::BadArchive if the input ends first.
  using BlobSink = std::function<void(const Sha1& hash, uint64_t size, uint64_t offset, ByteSpan data)>;
  void read_blobs(std::span<const Sha1> needed, const BlobSink& sink);

  // What read_blobs does with a chunk that cannot be decompressed: by
  // default it throws Errc::BadArchive. With on_corrupt set, the chunk's
  // bytes are given to the sink zero-filled and on_corrupt(hash, uoffset,
  // message) is called first (serially, in order): --recover-data, verify.
  using CorruptFn = std::function<void(const Sha1& hash, uint64_t uoffset, const std::string& message)>;
  void read_blobs(std::span<const Sha1> needed, const BlobSink& sink, const CorruptFn& on_corrupt);

  // Every file blob to the end of the input (verify): each one the sink
  // sees, in the writer's order (a hash stored twice comes twice). The
  // input must end right after a WIM header (header #2 of the last part):
  // anything else is a truncated input (Errc::BadArchive).
  void read_all_blobs(const BlobSink& sink, const CorruptFn& on_corrupt = {});

  // Reads and discards the rest of the input (the blob table, the XML and
  // header #2), so that the writer of the pipe is not cut off.
  void drain();

  // The same, walking the blob headers: throws Errc::BadArchive if the
  // input does not end right after a WIM header (a truncated pipe), or
  // holds something else than blobs.
  void drain_checked();

private:
  enum class Mode { Needed, All, None };
  void read_blobs_impl(std::span<const Sha1> needed, Mode mode, const BlobSink& sink, const CorruptFn& on_corrupt);

  std::string name_;
  std::unique_ptr<PipeInput> in_;
  Header header_;
  XmlInfo xml_;
};

}  // namespace wp::wim
