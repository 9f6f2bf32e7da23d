// What the read-only (mount.cpp) and read-write (mount_rw.cpp) mounts
// share: checks before mounting, and the FUSE session from mount to exit.
#pragma once

#include <fuse_lowlevel.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <vector>
#include <string>

#include "mount/mount.hpp"

namespace wp::mount {

// Hidden root xattrs (not listed by listxattr): the serving process's pid,
// and for read-write mounts the commit request set by `unmount --commit`
// ("check=0,rebuild=0,force=0,new_image=0"; the setxattr runs the commit
// and fails with its errno) and the message of the last failed commit.
constexpr const char* kPidXattr = "wimpack.mount_pid";
constexpr const char* kCommitXattr = "wimpack.commit";
constexpr const char* kCommitResultXattr = "wimpack.commit_result";
// Read-write mounts: the absolute path of the staging directory, so that
// `unmount` can remove it when the mount process died.
constexpr const char* kStagingXattr = "wimpack.staging";
// Inside a staging directory: a file locked (flock) by the mount process
// for as long as it lives; a directory whose owner file can be locked is
// stale and is removed by the next mountrw (or by unmount).
constexpr const char* kStagingOwnerFile = ".owner";

// Removes the staging directory `dir` if its owner process is gone (its
// owner file can be locked). Returns true if it was removed.
bool remove_staging_dir_if_stale(const std::string& dir);

// Unmounts `dir`: umount2 as root, else fusermount3 (setuid) -u, with
// `lazy` MNT_DETACH / -z. Returns 0 or an errno (EBUSY: busy, or fusermount3
// failed; EINVAL: nothing mounted there). `wimpack unmount`, a dead mount's
// cleanup and the library's mounts all unmount through it.
int unmount_dir(const std::string& dir, bool lazy);

// The mount point must be an existing, empty directory; returns its
// absolute path.
std::string check_mount_point(const std::string& dir);
// Errc::Unsupported when there is no /dev/fuse, an error when it is unusable.
void check_dev_fuse();

// Replies to getxattr/listxattr with `len` bytes of `data`: the size only
// when the caller asked for it (size 0), ERANGE when its buffer is too small.
inline void reply_xattr(fuse_req_t req, const char* data, size_t len, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, len);
  if (size < len) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, data, len);
}

// The read-only file system of `wimpack mount` for image `index` (its data
// all at hand, else an error), ready to be served on the checked mount
// point `abs`: `ops` with `userdata`, which `fs` owns. Shared by
// mount_readonly() and the C API's in-process mounts (session.cpp).
struct ReadOnlyView {
  std::shared_ptr<void> fs;
  const fuse_lowlevel_ops* ops = nullptr;
  void* userdata = nullptr;
  std::string abs, source;  // mount point (absolute), archive path (fsname)
  std::vector<std::string> warnings;
  std::function<void()> enable_readahead;  // once serving (threads)
  std::function<std::string()> stats;      // the chunk cache's counters
};
ReadOnlyView make_readonly_view(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                                const MountOptions& opts);

// Mounts `ops` on `abs`, goes into the background (unless opts.debug), calls
// `in_background` there, and serves requests on the multithreaded FUSE loop
// until unmounted or signalled.
void serve(const fuse_lowlevel_ops& ops, void* userdata, const std::string& dir, const std::string& abs,
           const std::string& source, const MountOptions& opts, bool read_write,
           const std::function<void()>& in_background);

}  // namespace wp::mount
