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

using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

ExtractResult extract_image(const wim::Archive& archive, size_t index, const std::string& target,
                            const ApplyOptions& opts, const ProgressFn& progress = {});

}  // namespace wp::apply
