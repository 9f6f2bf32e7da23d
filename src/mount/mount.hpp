// FUSE mounts of one WIM image (wimmount(1)) and their unmounting.
//
// A read-only mount is a view of the decoded image keyed by inode: node 1 is
// the root, every other inode (not dentry: hard links share one node and one
// inode number) gets the next number in pre-order, so numbers are stable
// between mounts of the same image. File data is read through a ChunkCache.
//
// The mount process: checks the mount point, mounts, then (unless
// `foreground`) forks into the background once the mount is in place, so
// the command returns when the directory already shows the image. It
// serves requests on a multithreaded FUSE loop (read-only and read-write
// mounts alike) until unmounted or sent SIGTERM/SIGINT/SIGHUP, then exits.
//
// unmount() finds the serving process through the root's "wimpack.mount_pid"
// extended attribute (not listed by listxattr), unmounts the directory and
// waits for that process to exit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wim/archive.hpp"

namespace wp::mount {

enum class StreamsInterface { None, Xattr, Windows };

struct MountOptions {
  bool unix_data = false;   // owners, modes, special files from UNIX data
  bool debug = false;       // foreground, FUSE debug output on stderr
  bool allow_other = false;
  StreamsInterface streams = StreamsInterface::Xattr;
  uint64_t cache_size = uint64_t(256) << 20;  // decoded-chunk cache limit
};

// Mounts image `index` (1-based) of `archive` (with its refs added) on `dir`
// read-only. Returns when the mount ends (foreground) or, in the parent,
// once the background process serves the mount. Throws wp::Error for a
// missing, non-directory or non-empty mount point, no /dev/fuse, or a mount
// that fails.
void mount_readonly(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                    const MountOptions& opts);

struct ReadWriteOptions {
  std::string staging_dir;       // parent of the staging directory; "" = beside the archive
  bool check_integrity = false;  // --check: verify the integrity table before mounting
  // --ref: the delta bases of a delta archive (paths, globs expanded); the
  // bases it records are looked for too. A commit keeps the archive a delta
  // of the same bases: data they hold is not copied in.
  std::vector<std::string> refs;
};

// Mounts image `image` (index or name; "" for the only one) of the archive
// at `wimfile` on `dir` read-write (wimmountrw). Holds the archive's writer
// lock until the mount ends (Errc::Busy if another writer has it). Refuses
// split and pipable archives, and an image whose data is not all at hand
// (a delta archive without its bases). New and changed file data lives in a staging
// directory (a new directory "WIMNAME.staging.XXXXXX" beside the archive or
// inside ReadWriteOptions::staging_dir), removed when the mount ends; data
// never changed is read from the archive. Nothing is written to the archive
// unless `unmount --commit` asks for it.
void mount_readwrite(const std::string& wimfile, const std::string& image, const std::string& dir,
                     const MountOptions& opts, const ReadWriteOptions& rw);

struct UnmountOptions {
  bool lazy = false;  // detach now, finish when the last user closes
  // Read-write mounts (no effect on read-only ones, as wimunmount(1)):
  bool commit = false;     // write the changes before unmounting
  bool check = false;      // with commit: write an integrity table
  bool rebuild = false;    // with commit: rebuild instead of appending in place
  bool force = false;      // with commit: even with files open for writing (they are detached)
  bool new_image = false;  // with commit: add the changed image as a new one
};

// Unmounts a wimpack mount at `dir` and waits for its process to exit.
// With `commit` (read-write mounts), first has the mount process write the
// changed image, synchronously; if that fails, throws its message and
// leaves the mount as it was. If the mount process dies during the commit
// (killed), unmounts what is left, removes its staging directory and throws
// saying so (the archive then holds the old image, or the whole new one).
void unmount(const std::string& dir, const UnmountOptions& opts);

}  // namespace wp::mount
