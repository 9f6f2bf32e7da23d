// File blob sources: the bytes of a scanned regular file, read when the
// archive writer gets to it (architecture.md "capture").
//
// Between the scan and the read, anything in a live tree may change. The
// read must never leave the tree the scan saw (a directory swapped for a
// symlink to /etc would otherwise make a root-run capture store /etc's
// files), so a file is never opened by its path: each directory on the way
// is opened relative to its parent with O_NOFOLLOW and checked against the
// (st_dev, st_ino) the scan recorded, from the source root down, and the file
// itself likewise. Directory fds are cached (a few, least recently used), so
// a file costs one openat when its directory was just used.
//
// A file that changed is an error naming it (wimlib's behaviour), unless the
// capture runs with --continue-on-change: then the archive stores the bytes
// as read, cut or padded with zeros to the scanned size (like tar), and the
// change is recorded once per file in the FileReadContext.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/file.hpp"
#include "wim/blob_source.hpp"

namespace wp::capture {

// A directory as the scan saw it. A source root (parent == null) is reopened
// by its path -- the user named it -- and must still be the same directory.
struct ScannedDir {
  std::shared_ptr<const ScannedDir> parent;
  std::string name;  // component below parent; for a root, the path to open
  std::string path;  // for messages
  dev_t dev = 0;
  ino_t ino = 0;
  // A root: the user's path may name a symlink to it. Below the root
  // (--dereference): `name` may be a symlink to it. Either way the directory
  // reached must have dev+ino.
  bool follow = false;
};

// What every file source of one capture shares: the directory fd cache and
// the record of files that changed while they were read.
class FileReadContext {
public:
  explicit FileReadContext(bool continue_on_change) : continue_on_change_(continue_on_change) {}
  bool continue_on_change() const { return continue_on_change_; }

  // An fd of `dir`, reached from its source root one verified component at a
  // time. Null when it vanished or is not the directory the scan saw
  // (*why says how); throws on other errors.
  std::shared_ptr<Fd> open_dir(const ScannedDir& dir, std::string* why);

  // --continue-on-change: records that `path` changed (one warning per path).
  void report_change(const std::string& path, const std::string& warning);
  size_t changed_count() const;
  std::vector<std::string> take_warnings();

private:
  struct Cached {
    std::shared_ptr<Fd> fd;
    uint64_t used = 0;
  };
  std::shared_ptr<Fd> open_one(const ScannedDir& d, int parent_fd, std::string* why);

  const bool continue_on_change_;
  mutable std::mutex m_;
  std::unordered_map<const ScannedDir*, Cached> cache_;
  uint64_t clock_ = 0;
  std::unordered_map<std::string, bool> changed_;
  std::vector<std::string> warnings_;
};

class FileBlobSource final : public wim::BlobSource {
public:
  FileBlobSource(std::shared_ptr<FileReadContext> ctx, std::shared_ptr<const ScannedDir> dir, std::string name,
                 std::string path, uint64_t size, dev_t dev, ino_t ino, bool follow = false)
      : ctx_(std::move(ctx)), dir_(std::move(dir)), name_(std::move(name)), path_(std::move(path)), size_(size),
        dev_(dev), ino_(ino), follow_(follow) {}
  uint64_t size() const override { return size_; }
  std::unique_ptr<wim::BlobStream> open() const override;
  std::string describe() const override { return path_; }
  bool tolerates_change() const override { return ctx_->continue_on_change(); }
  void report_change() const override;
  bool can_prefetch() const override { return size_ > 0; }
  bool prefetch() const override;

  // Fails (or, with --continue-on-change, records) a change of this file.
  void changed(const std::string& what, const std::string& stored) const;

private:
  friend class FileStream;
  std::shared_ptr<FileReadContext> ctx_;
  std::shared_ptr<const ScannedDir> dir_;
  std::string name_, path_;
  uint64_t size_;
  dev_t dev_;
  ino_t ino_;
  // --dereference: `name_` may be a symlink; what it reaches must be the
  // file the scan saw (dev_, ino_), else nothing is read.
  bool follow_ = false;
};

}  // namespace wp::capture
