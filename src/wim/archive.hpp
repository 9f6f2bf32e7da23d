// An open WIM file: header, XML, resolved blob table and lazily loaded
// images, plus the archives given with --ref as extra blob sources.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "image/image.hpp"
#include "util/file.hpp"
#include "wim/blob_table.hpp"
#include "wim/header.hpp"
#include "wim/xml_info.hpp"

namespace wp::wim {

class Archive {
public:
  // Opens and validates (wim-format.md §17.2 steps 1–5). With
  // check_integrity, verifies the integrity table first (and fails if the
  // archive has none).
  static std::unique_ptr<Archive> open(const std::string& path, bool check_integrity = false);
  // The same for an archive arriving on standard input (WIMFILE "-"), for
  // the commands that need the whole file (info, dir --detailed): it is
  // first copied into an anonymous temporary file, named "standard input".
  static std::unique_ptr<Archive> open_stdin(bool check_integrity = false);

  const std::string& path() const { return file_.path(); }
  const InputFile& file() const { return file_; }
  const Header& header() const { return header_; }
  XmlInfo& xml() { return xml_; }
  const XmlInfo& xml() const { return xml_; }
  size_t image_count() const { return metadata_.size(); }
  const std::vector<Resource>& resources() const { return resources_; }
  const std::vector<BlobEntry>& entries() const { return entries_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  bool has_integrity() const { return !header_.integrity.is_zero(); }

  // The blob with this hash, in this archive or a --ref archive; nullptr if
  // none has it.
  const BlobLocation* find_blob(const Sha1& hash) const;
  // Blobs held by this archive itself (not refs).
  const std::unordered_map<Sha1, BlobLocation, Sha1Hash>& blobs() const { return blobs_; }

  struct MetadataRef {
    uint32_t resource;
    Sha1 hash;
  };
  const MetadataRef& metadata(size_t index) const { return metadata_.at(index - 1); }

  // "3", "name", or a negative index counting from the end ("-1" = last).
  // Throws Errc::NotFound naming the archive.
  size_t resolve_image(const std::string& spec) const;

  // Reads, verifies and decodes image `index` (1-based), with stream sizes
  // filled from the blob table (0 for blobs nobody has).
  image::Image load_image(size_t index) const;

  // Unique per Archive object in this process (never reused, unlike its
  // address): a key for per-thread caches of decoded data.
  uint64_t serial() const { return serial_; }

  void add_ref(std::unique_ptr<Archive> ref) { refs_.push_back(std::move(ref)); }
  const std::vector<std::unique_ptr<Archive>>& refs() const { return refs_; }

private:
  explicit Archive(InputFile file);
  static std::unique_ptr<Archive> open_file(InputFile file, bool check_integrity);
  void read_blob_table();
  Resource nonsolid_resource(const ResHdr& r) const;

  InputFile file_;
  uint64_t serial_;
  Header header_;
  XmlInfo xml_;
  std::vector<BlobEntry> entries_;
  std::vector<Resource> resources_;
  std::unordered_map<Sha1, BlobLocation, Sha1Hash> blobs_;
  std::vector<MetadataRef> metadata_;
  std::vector<std::string> warnings_;
  std::vector<std::unique_ptr<Archive>> refs_;
};

}  // namespace wp::wim
