// Scanning a Linux directory tree into an image (architecture.md "capture").
//
// The walk is relative to directory fds (openat/fstatat/getdents64) and never
// follows a symlink inside the tree. Regular file contents are not read here:
// each non-empty file gets a FileBlobSource that the archive writer reads
// (and hashes) later, so an unreadable *file* fails the capture when the
// writer opens it, while an unreadable *directory* fails the scan itself.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "image/image.hpp"
#include "wim/blob_source.hpp"

namespace wp::capture {

struct ScanOptions {
  // Store UNIX owner/group/mode/rdev and xattrs on every inode, and keep
  // FIFOs, sockets and device nodes (wim-format.md §8, §10.2).
  bool unix_data = false;
  // Rewrite absolute symlinks that point inside the source tree so that they
  // stay inside the tree once applied elsewhere (wim-format.md §9.4).
  bool rpfix = true;
};

struct ScanResult {
  image::Image image;
  // Stream::source indexes into this vector. File data streams carry a zero
  // hash (the writer hashes while writing); reparse streams carry their hash.
  std::vector<std::unique_ptr<wim::BlobSource>> sources;
  std::vector<std::string> warnings;
};

// `source_dir` must name a directory (a symlink to one is followed: the user
// named it). Throws wp::Error naming the offending path.
ScanResult scan_tree(const std::string& source_dir, const ScanOptions& opts);

// wim-format.md §10.1: FILETIME from a UNIX time, truncated to 100 ns.
uint64_t unix_to_filetime(int64_t sec, int64_t nsec);

}  // namespace wp::capture
