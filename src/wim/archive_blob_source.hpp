// A blob held by an archive, as a source for writing another archive
// (optimize, export): decoded chunk by chunk on the reading thread.
#pragma once

#include "wim/archive.hpp"
#include "wim/blob_source.hpp"

namespace wp::wim {

class ArchiveBlobSource final : public BlobSource {
public:
  ArchiveBlobSource(const Archive& a, const BlobLocation& loc) : archive_(a), loc_(loc) {}
  uint64_t size() const override { return loc_.size; }
  std::unique_ptr<BlobStream> open() const override;
  std::string describe() const override { return archive_.path() + " (blob)"; }
  std::string sort_name() const override { return {}; }
  const BlobLocation& location() const { return loc_; }

private:
  const Archive& archive_;
  BlobLocation loc_;
};

}  // namespace wp::wim
