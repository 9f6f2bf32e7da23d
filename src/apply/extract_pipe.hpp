// Applying an image of a pipable WIM read from a pipe (wim-format.md §12.4):
// the blobs come in the writer's order, each once; they are decompressed in
// parallel by the reader, checked against their SHA-1 here and streamed to
// the TreeWriter as they arrive.
#pragma once

#include <string>
#include <vector>

#include "apply/extract_image.hpp"
#include "wim/pipe_reader.hpp"

namespace wp::apply {

// `pipe` must be fresh (header and XML read, no image yet): reads the
// metadata, then the blobs image `index` needs.
ExtractResult extract_image_from_pipe(wim::PipeReader& pipe, size_t index, const std::string& target,
                                      const ApplyOptions& opts, const ProgressFn& progress = {});

// The same for `tree`, built from `img` (the image read from the pipe with
// read_image; apply/select.hpp: the selected paths of extract): only the
// blobs the tree's files need are kept, the others are skipped as they pass.
ExtractResult extract_tree_from_pipe(wim::PipeReader& pipe, const image::Image& img, const image::Image& tree,
                                     const std::string& target, const ApplyOptions& opts,
                                     const ProgressFn& progress = {});

// extract --to-stdout from a pipe: writes the unnamed data of `inodes` (regular
// files of the image, given with their paths for messages) to fd, in this
// order, each checked against its SHA-1. The blobs arrive in the writer's
// order: one that is not the next to write is kept in an unlinked temporary
// file until its turn.
void write_files_from_pipe(wim::PipeReader& pipe, const std::vector<std::pair<const image::Inode*, std::string>>& files,
                           int fd);

}  // namespace wp::apply
