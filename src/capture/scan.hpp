// Scanning a Linux directory tree into an image (architecture.md "capture").
//
// The walk is relative to directory fds (openat/fstatat/getdents64) and never
// follows a symlink inside the tree. Regular file contents are not read here:
// each non-empty file gets a FileBlobSource (file_source.hpp) that the
// archive writer reads (and hashes) later, so an unreadable *file* fails the capture when the
// writer opens it, while an unreadable *directory* fails the scan itself.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "capture/file_source.hpp"
#include "capture/source_list.hpp"
#include "image/image.hpp"
#include "wim/blob_source.hpp"

namespace wp::capture {

class CaptureConfig;

struct ScanOptions {
  // Store UNIX owner/group/mode/rdev and xattrs on every inode, and keep
  // FIFOs, sockets and device nodes (wim-format.md §8, §10.2).
  bool unix_data = false;
  // Rewrite absolute symlinks that point inside the source tree so that they
  // stay inside the tree once applied elsewhere (wim-format.md §9.4).
  bool rpfix = true;
  // Paths to leave out (config.hpp), matched relative to each scanned
  // source's root; nullptr excludes nothing. Not owned.
  const CaptureConfig* config = nullptr;
  // --continue-on-change: a file that changes before or while the writer
  // reads it is stored as read (file_source.hpp) instead of failing.
  bool continue_on_change = false;
  // --dereference: follow symbolic links (stat instead of lstat): a link to
  // a file is captured as that file, a link to a directory as that
  // directory. Files and directories are still opened through verified
  // parents; the followed target must be the file the scan saw (dev+ino).
  // A link loop, or a directory reached again below itself, fails; a link
  // whose target does not exist fails. Hard links are detected for every
  // file, so two links to one file give one inode (as wimlib).
  bool dereference = false;
};

struct ScanResult {
  image::Image image;
  // Stream::source indexes into this vector. File data streams carry a zero
  // hash (the writer hashes while writing); reparse streams carry their hash.
  std::vector<std::unique_ptr<wim::BlobSource>> sources;
  // Shared by the file sources: which files changed while they were read.
  std::shared_ptr<FileReadContext> files;
  std::vector<std::string> warnings;
  // Entries the configuration left out (each counts once, with whatever was
  // below it), and the source roots it excluded whole (wimlib's 'Excluding
  // "SRC" from capture'). When every source root is excluded, or a source
  // list is empty, `empty` is set and the image is a bare root directory
  // stamped with the capture time: wimlib writes an image with no root at
  // all (info: 0 directories); both apply as nothing.
  uint64_t excluded_count = 0;
  std::vector<std::string> excluded_roots;
  bool empty = false;
};

// `source_dir` must name a directory (a symlink to one is followed: the user
// named it). Throws wp::Error naming the offending path; a tree deeper than
// image::kMaxDepth is refused (apply could not read it back).
ScanResult scan_tree(const std::string& source_dir, const ScanOptions& opts);

// `capture --source-list`: scans each entry's source on its own and grafts it
// into one image at its target, in list order, by the overlay rules in
// source_list.hpp (plan_overlay gives the per-entry steps). As in wimlib:
//   - a source targeted at "/" must be a directory (a symlink to one is
//     followed); any other source is taken as it is on disk (a file, a
//     symlink -- not followed -- or a directory scanned recursively);
//   - the configuration is matched relative to each source's root; a source
//     whose root is excluded (or a special file without unix_data) adds
//     nothing, not even its target's missing parents;
//   - an existing directory keeps its own metadata when another is merged
//     into it (the root included: the first entry that creates the root
//     decides, and a placeholder made for "/a/b" stays a placeholder);
//   - hard links are detected across all sources (one dev+ino map), so two
//     sources sharing an inode give one link group;
//   - rpfix (if opts.rpfix) only for entries targeted at "/", relative to
//     that source's root.
// Throws wp::Error (Errc::Usage for the overlay conflicts, naming the list
// line) as documented in source_list.hpp.
ScanResult scan_sources(const std::vector<SourceListEntry>& entries, const ScanOptions& opts,
                        const std::string& list_name = "the source list");

// `update`'s add: scans `source` as it is -- a directory recursively, a
// file, symlink or special file as itself (with opts.dereference, a symlink
// is followed) -- into a detached tree whose inodes live in `into.image` and
// whose file sources are appended to `into.sources` (several adds share one
// ScanResult, hence one source vector). `depth` is the image depth the
// tree's top will have (0 = the root). Returns null when the configuration
// excludes the source or it is a special file skipped without unix_data.
// Files are matched by dev+ino across every scan_branch call sharing one
// LinkTable, whatever their link count (as wimlib does within one update):
// a file reached twice is one inode of `into.image`.
class LinkTable {
public:
  LinkTable();
  ~LinkTable();
  struct Impl;
  std::unique_ptr<Impl> impl;
};
std::unique_ptr<image::Dentry> scan_branch(ScanResult& into, LinkTable& links, const std::string& source,
                                           const ScanOptions& opts, bool rpfix, size_t depth);


}  // namespace wp::capture
