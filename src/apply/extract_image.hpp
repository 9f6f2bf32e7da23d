// Applying an image from an archive: reads the needed blobs in archive order
// (each resource once, front to back), decompresses them in parallel, checks
// each blob's SHA-1 and streams it to the TreeWriter.
#pragma once

#include <functional>
#include <string>

#include "apply/apply.hpp"
#include "wim/archive.hpp"

namespace wp::apply {

struct ExtractResult {
  uint64_t blobs = 0, bytes = 0;
  std::vector<std::string> warnings;
};

// The message of a corrupt blob written anyway (--recover-data): names the
// paths of `img` that use it (at most a few) and says why.
std::string recovered_blob_warning(const image::Image& img, const Sha1& hash, const std::string& why);

// Bytes of blob data done and in all, and files done (TreeWriter::files_done).
using ProgressFn = std::function<void(uint64_t done, uint64_t total, uint64_t files_done)>;

ExtractResult extract_image(const wim::Archive& archive, size_t index, const std::string& target,
                            const ApplyOptions& opts, const ProgressFn& progress = {});

// The same for a tree built from image `index` (apply/select.hpp: the
// selected paths of extract): only the blobs its files need are read.
ExtractResult extract_tree(const wim::Archive& archive, size_t index, const image::Image& tree,
                           const std::string& target, const ApplyOptions& opts, const ProgressFn& progress = {});

// Writes the unnamed data of `inode` (a regular file of image `index`) to
// fd, checking its SHA-1: extract --to-stdout. Reads only the resource
// holding it. `path` is for messages.
void write_file_data(const wim::Archive& archive, size_t index, const image::Inode& inode, const std::string& path,
                     int fd);

}  // namespace wp::apply
