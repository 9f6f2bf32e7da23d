// Writing an image's tree into a target directory (architecture.md "apply",
// "Safety rules").
//
// Safety: every file is created relative to a directory fd this writer opened
// itself with O_DIRECTORY|O_NOFOLLOW, starting from TARGET; files are created
// with O_CREAT|O_EXCL|O_NOFOLLOW; unsafe names (".", "..", "", containing '/'
// or NUL) and duplicate sibling names are refused before anything is written;
// symlinks are created only after every directory and regular file exists, so
// nothing is ever resolved through a symlink that the archive created.
//
// Existing content in TARGET: directories of the same name are reused; any
// other existing entry (file, symlink, FIFO...) whose name the image needs is
// unlinked (never followed) and replaced, as wimlib does for files. An
// existing directory where the image has a non-directory is an error.
//
// Protocol: prepare() once; then every blob it listed, each exactly once, in
// any order, as begin_blob / blob_data* / end_blob; then finish(). Stream
// sizes in the image must be filled in (the metadata decoder leaves them 0;
// the caller copies them from the blob table).
//
// What Linux cannot hold is skipped with one summary warning each: named data
// streams, encrypted files, reparse data other than symlinks/junctions (the
// file or directory itself is still created, with its unnamed data). Without
// unix_data, special files become empty regular files (as with wimlib) and
// owner/mode/xattrs are not restored; times always are (atime and mtime).
//
// Cost: an empty file is openat+futimens+close, a file with data adds one
// write per MiB; a blob shared by several inodes is written from memory (up
// to 1 MiB) or copy_file_range'd from its first file. Directory fds live in a
// bounded LRU cache (a quarter of RLIMIT_NOFILE, at most 1024).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "image/image.hpp"
#include "util/bytes.hpp"
#include "util/sha1.hpp"

namespace wp::apply {

struct ApplyOptions {
  // Restore owner, group, mode, xattrs and special files from UNIX data
  // (wim-format.md §8).
  bool unix_data = false;
  // Prefix fixed absolute symlinks with TARGET's absolute path (§9.3-9.4).
  bool rpfix = false;
  // Give TARGET itself the times (and owner, mode) of the image's root.
  // Off for extract, whose root is only a container for selected items.
  bool root_metadata = true;
  // --recover-data (wimapply(1)): a blob whose data does not decompress or
  // does not match its SHA-1 is written anyway (undecodable chunks
  // zero-filled) and reported in ExtractResult::warnings, instead of
  // failing.
  bool recover_data = false;
};

class TreeWriter {
public:
  TreeWriter(const image::Image& img, const std::string& target_dir, const ApplyOptions& opts);
  ~TreeWriter();
  TreeWriter(const TreeWriter&) = delete;
  TreeWriter& operator=(const TreeWriter&) = delete;

  // Creates TARGET if missing, every directory, every empty regular file and
  // (with unix_data) every special file. Returns each distinct non-zero
  // stream hash the tree needs with its expected size, sorted by hash.
  std::vector<std::pair<Sha1, uint64_t>> prepare();

  // One blob's data, in order. The writer checks the size, not the hash (the
  // reader verifies SHA-1s).
  void begin_blob(const Sha1& hash);
  void blob_data(ByteSpan chunk);
  void end_blob();

  // For a reader that learns a blob's size only when the blob arrives (a
  // pipe, wim-format.md §12.4): sets it before begin_blob / can_write_whole.
  // Ignored for a blob the image does not need.
  void set_blob_size(const Sha1& hash, uint64_t size);

  // Parallel apply of small blobs: true if `hash` is needed, not yet written,
  // at most 1 MiB, and used only by regular files. write_whole() then writes
  // it to all of them; it may run on several threads at once and alongside
  // the begin/data/end stream (never for the same blob).
  bool can_write_whole(const Sha1& hash) const;
  void write_whole(const Sha1& hash, ByteSpan data);

  // Hard links, symlinks, then directories' metadata (deepest first).
  void finish();

  // Non-directory entries whose data is in place so far (for progress:
  // entries without data count from prepare(); hard links count each).
  uint64_t files_done() const;

  std::vector<std::string> warnings() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wp::apply
