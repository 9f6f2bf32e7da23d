// A blob held by an archive, as a source for writing another archive
// (optimize, export): decoded chunk by chunk on the reading thread.
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

}  // namespace wp::wim
