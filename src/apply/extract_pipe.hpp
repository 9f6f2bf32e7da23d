// Applying an image of a pipable WIM read from a pipe (wim-format.md §12.4):
// the blobs come in the writer's order, each once; they are decompressed in
// parallel by the reader, checked against their SHA-1 here and streamed to
// the TreeWriter as they arrive.
#pragma once

#include <string>

#include "apply/extract_image.hpp"
#include "wim/pipe_reader.hpp"

namespace wp::apply {

// `pipe` must be fresh (header and XML read, no image yet): reads the
// metadata, then the blobs image `index` needs.
ExtractResult extract_image_from_pipe(wim::PipeReader& pipe, size_t index, const std::string& target,
                                      const ApplyOptions& opts, const ProgressFn& progress = {});

}  // namespace wp::apply
