#include "mount/session.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "mount/mount_internal.hpp"
#include "util/error.hpp"

namespace wp::mount {

struct Session::Impl {
  ReadOnlyView view;
  fuse_lowlevel_ops ops{};
  fuse_session* se = nullptr;
  std::thread loop;
  int loop_rc = 0;
};

namespace {

// The read-only FS's getxattr, which the ops of an in-process mount wrap.
void (*g_getxattr)(fuse_req_t, fuse_ino_t, const char*, size_t) = nullptr;

// The root's kPidXattr names the process to wait for after unmounting
// (`wimpack unmount`): here that is the program using the library, which
// does not exit when its mount ends, so an in-process mount has none
// (`wimpack unmount` then refuses it; umount(8) or fusermount3 -u work).
void getxattr_in_process(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  if (ino == FUSE_ROOT_ID && std::strcmp(name, kPidXattr) == 0) return (void)fuse_reply_err(req, ENODATA);
  g_getxattr(req, ino, name, size);
}

}  // namespace

std::unique_ptr<Session> Session::start(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                                        const MountOptions& opts) {
  std::unique_ptr<Session> s(new Session);
  s->impl_ = std::make_unique<Impl>();
  Impl& im = *s->impl_;
  im.view = make_readonly_view(std::move(archive), index, dir, opts);
  s->abs_ = im.view.abs;
  s->warnings_ = im.view.warnings;

  std::string fsname;
  for (char c : im.view.source) {
    if (c == ',' || c == '\\') fsname.push_back('\\');
    fsname.push_back(c);
  }
  std::string o = "ro,default_permissions,subtype=wimpack,fsname=" + fsname;
  if (opts.allow_other) o += ",allow_other";
  std::vector<std::string> argv_s = {"wimpack", "-o", o};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(int(argv.size()), argv.data());
  im.ops = *im.view.ops;
  g_getxattr = im.view.ops->getxattr;  // (the same function for every read-only mount)
  im.ops.getxattr = getxattr_in_process;
  im.se = fuse_session_new(&args, &im.ops, sizeof im.ops, im.view.userdata);
  fuse_opt_free_args(&args);
  if (!im.se) fail(Errc::Failure, "cannot start a FUSE session for '" + dir + "'");
  if (fuse_session_mount(im.se, s->abs_.c_str()) != 0) {
    fuse_session_destroy(im.se);
    im.se = nullptr;
    fail(Errc::Failure, "cannot mount on '" + dir + "' (fusermount3 from the fuse3 package is needed when not root)");
  }
  try {
    im.loop = std::thread([&im] {
      fuse_loop_config cfg{};
      cfg.clone_fd = 0;
      cfg.max_idle_threads = 10;
      im.loop_rc = fuse_session_loop_mt(im.se, &cfg);
    });
  } catch (...) {
    fuse_session_unmount(im.se);
    fuse_session_destroy(im.se);
    im.se = nullptr;
    throw;
  }
  im.view.enable_readahead();
  return s;
}

void Session::stop() {
  if (stopped_) fail(Errc::Usage, "'" + abs_ + "' was already dismounted");
  int e = unmount_dir(abs_, false);
  if (e == EBUSY)
    fail(Errc::Busy, "'" + abs_ + "' is busy (files open or a process inside it); close them and dismount again");
  if (e != 0 && e != EINVAL && e != ENOENT) fail_errno("cannot unmount", abs_, e);
  finish();
}

void Session::finish() {
  stopped_ = true;
  if (!impl_) return;
  if (impl_->loop.joinable()) impl_->loop.join();  // ends once the kernel's mount is gone
  if (impl_->se) {
    fuse_session_unmount(impl_->se);  // (already unmounted: only closes the device)
    fuse_session_destroy(impl_->se);
    impl_->se = nullptr;
  }
  impl_.reset();  // the file system and its archive
}

Session::~Session() {
  if (stopped_) return;
  if (impl_ && impl_->loop.joinable()) unmount_dir(abs_, true);  // (only once mounted and served)
  finish();
}

}  // namespace wp::mount
