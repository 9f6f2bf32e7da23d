// In-process read-only mounts through the C API (include/wimpack/wimpack.h):
// wimpack_mount_image / wimpack_dismount_image over mount::Session, which
// serves `wimpack mount`'s read-only file system on a thread of the caller.
#include "api/handles.hpp"
#include "mount/session.hpp"
#include "wimpack/wimpack.h"

namespace wp::api {
namespace {

struct MountState {
  std::mutex mu;
  std::unique_ptr<mount::Session> session;
};

Registry<MountState, Kind::Mount>& mounts() {
  static Registry<MountState, Kind::Mount> r;
  return r;
}

}  // namespace
}  // namespace wp::api

using namespace wp;
using namespace wp::api;

extern "C" {

int wimpack_mount_image(wimpack_archive* archive, int index, const char* dir, int flags, wimpack_mount** out) {
  if (out) *out = nullptr;
  return guarded([&] {
    require(out != nullptr, "wimpack_mount_image: out is NULL");
    require(dir && *dir, "wimpack_mount_image: dir is NULL or empty");
    require((flags & ~(WIMPACK_MOUNT_UNIX_DATA | WIMPACK_MOUNT_ALLOW_OTHER | WIMPACK_MOUNT_WINDOWS_STREAMS)) == 0,
            "wimpack_mount_image: unknown flags");
    std::unique_ptr<wim::Archive> a = reopen_archive(archive);
    if (index < 1 || size_t(index) > a->image_count())
      fail(Errc::NotFound, "'" + a->path() + "' has no image " + std::to_string(index) + " (it has " +
                               std::to_string(a->image_count()) + ")");
    mount::MountOptions opts;
    opts.unix_data = flags & WIMPACK_MOUNT_UNIX_DATA;
    opts.allow_other = flags & WIMPACK_MOUNT_ALLOW_OTHER;
    if (flags & WIMPACK_MOUNT_WINDOWS_STREAMS) opts.streams = mount::StreamsInterface::Windows;
    auto st = std::make_shared<MountState>();
    st->session = mount::Session::start(std::move(a), size_t(index), dir, opts);
    *out = mounts().add<wimpack_mount>(st);
  });
}

int wimpack_dismount_image(wimpack_mount* m) {
  return guarded([&] {
    auto st = mounts().get(m, "the mount");
    {
      std::lock_guard lk(st->mu);
      st->session->stop();  // Errc::Busy: the handle stays valid
    }
    mounts().take(m);
  });
}

}  // extern "C"
