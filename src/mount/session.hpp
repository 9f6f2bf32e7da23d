// In-process read-only mounts (the C API's wimpack_mount_image): the same
// read-only file system as `wimpack mount` (mount.cpp's ReadOnlyView), served
// on threads of the calling process instead of a background process. The
// session owns its archive, its FUSE session and the thread running FUSE's
// multithreaded loop; it installs no signal handlers and never forks, as a
// library must not.
//
// The kernel's mount ends with stop() (a plain unmount, so files still open
// in the mount make it fail with Errc::Busy and leave everything as it was),
// or when someone else unmounts the directory (then stop() only cleans up).
// Destroying a session that was not stopped detaches the mount lazily and
// waits for the loop to end.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "mount/mount.hpp"
#include "wim/archive.hpp"

namespace wp::mount {

class Session {
public:
  // Checks and mounts image `index` of `archive` on `dir` (an existing empty
  // directory; /dev/fuse must be usable) and starts serving it; returns once
  // the directory shows the image. Throws wp::Error.
  static std::unique_ptr<Session> start(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                                        const MountOptions& opts);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Unmounts and waits for the serving threads to end. Errc::Busy (the mount
  // stays, stop() may be called again) while files are open in it.
  void stop();
  bool stopped() const { return stopped_; }
  const std::string& dir() const { return abs_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  struct Impl;

private:
  Session() = default;
  void finish();  // after the kernel's mount is gone: join, destroy

  std::unique_ptr<Impl> impl_;
  std::string abs_;
  std::vector<std::string> warnings_;
  bool stopped_ = false;
};

}  // namespace wp::mount
