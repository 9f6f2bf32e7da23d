// wimpack mount / mountrw WIMFILE [IMAGE] DIRECTORY, wimpack unmount
// DIRECTORY (wimmount(1)). Options only; the work is in src/mount/.
#include <cstdio>

#include "commands/common.hpp"
#include "mount/mount.hpp"
#include "util/error.hpp"
#include "util/memory.hpp"
#include "util/size.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct MountArgs {
  CommonOptions common;
  std::vector<std::string> positional;
  std::vector<std::string> refs;
  std::string streams = "xattr", staging_dir, cache_size;
  bool check = false, debug = false, unix_data = false, allow_other = false;
};

mount::MountOptions mount_options(const MountArgs& a) {
  mount::MountOptions mo;
  mo.unix_data = a.unix_data;
  mo.debug = a.debug;
  mo.allow_other = a.allow_other;
  if (a.streams == "none")
    mo.streams = mount::StreamsInterface::None;
  else if (a.streams == "xattr")
    mo.streams = mount::StreamsInterface::Xattr;
  else if (a.streams == "windows")
    mo.streams = mount::StreamsInterface::Windows;
  else
    fail(Errc::Usage, "--streams-interface must be none, xattr or windows (got '" + a.streams + "')");
  if (!a.cache_size.empty()) {
    auto n = parse_size(a.cache_size);
    if (!n || *n < (uint64_t(1) << 20)) fail(Errc::Usage, "--cache-size: expected a size of at least 1 MiB (e.g. 64M, 1G), got '" + a.cache_size + "'");
    mo.cache_size = *n;
  }
  // The memory budget (--max-memory, or physical memory / the cgroup limit):
  // the decompressed-chunk cache is what a mount holds.
  apply_thread_count(a.common.threads);
  if (uint64_t budget = memory_budget(); mo.cache_size + kMemoryBaseline > budget) {
    if (!a.cache_size.empty() || budget < kMemoryBaseline + (uint64_t(1) << 20))
      fail(Errc::Usage, "the memory budget, " + memory_budget_origin() + ", is too small for a " +
                            format_size(mo.cache_size) + " chunk cache (at least " +
                            format_size(kMemoryBaseline + std::min<uint64_t>(mo.cache_size, uint64_t(1) << 20)) +
                            " is needed; a smaller --cache-size needs less)");
    uint64_t reduced = budget - kMemoryBaseline;
    warn(memory_budget_origin() + ": a chunk cache of " + format_size(reduced) + " instead of " +
         format_size(mo.cache_size));
    mo.cache_size = reduced;
  }
  return mo;
}

void run_mount(MountArgs& a) {
  if (a.positional.size() < 2 || a.positional.size() > 3)
    fail(Errc::Usage, "usage: wimpack mount WIMFILE [IMAGE] DIRECTORY");
  refuse_stdin_wim(a.positional[0], "mount");
  if (!a.staging_dir.empty()) fail(Errc::Usage, "--staging-dir is only valid for mountrw");
  mount::MountOptions mo = mount_options(a);
  const std::string& wimfile = a.positional[0];
  auto archive = wim::Archive::open(wimfile, a.check);
  print_warnings(archive->warnings());
  wim::resolve_delta_bases(*archive, ref_paths(a.refs));
  wim::check_split_refs(*archive);
  size_t index;
  if (a.positional.size() == 3) {
    index = archive->resolve_image(a.positional[1]);
  } else {
    if (archive->image_count() != 1)
      fail(Errc::Usage, "'" + wimfile + "' contains " + std::to_string(archive->image_count()) +
                            " images; say which one to mount (an index or a name)");
    index = 1;
  }
  mount::mount_readonly(std::move(archive), index, a.positional.back(), mo);
}

void run_mountrw(MountArgs& a) {
  if (a.positional.size() < 2 || a.positional.size() > 3)
    fail(Errc::Usage, "usage: wimpack mountrw WIMFILE [IMAGE] DIRECTORY");
  refuse_stdin_wim(a.positional[0], "mountrw");
  mount::MountOptions mo = mount_options(a);
  mount::ReadWriteOptions rw;
  rw.staging_dir = a.staging_dir;
  rw.check_integrity = a.check;
  rw.refs = ref_paths(a.refs);
  mount::mount_readwrite(a.positional[0], a.positional.size() == 3 ? a.positional[1] : std::string(),
                         a.positional.back(), mo, rw);
}

struct UnmountArgs {
  CommonOptions common;
  std::string dir;
  bool commit = false, check = false, rebuild = false, force = false, lazy = false, new_image = false;
};

void run_unmount(UnmountArgs& a) {
  mount::UnmountOptions uo;
  uo.lazy = a.lazy;
  // --commit, --check, --rebuild, --force and --new-image concern read-write
  // mounts; for a read-only mount they have no effect (wimunmount(1)).
  uo.commit = a.commit;
  uo.check = a.check;
  uo.rebuild = a.rebuild;
  uo.force = a.force;
  uo.new_image = a.new_image;
  mount::unmount(a.dir, uo);
  info(a.common.quiet, "Unmounted " + a.dir);
}

}  // namespace

void register_mount(CLI::App& app) {
  static MountArgs a;
  CLI::App* c = app.add_subcommand("mount", "Mount an image of a WIM archive read-only (FUSE)");
  c->add_option("WIMFILE [IMAGE] DIRECTORY", a.positional, "Archive, image (index or name; optional for single-image archives), mount point")
      ->required()
      ->expected(2, 3);
  c->add_option("--ref", a.refs, "Additional archive(s) or split parts holding blobs, as a glob; repeatable")
      ->allow_extra_args(false);
  c->add_flag("--check", a.check, "Verify the integrity table before mounting");
  c->add_flag("--debug", a.debug, "Stay in the foreground and print FUSE debug output");
  c->add_option("--streams-interface", a.streams, "Named data streams: none, xattr (user.NAME, default) or windows (FILE:NAME)");
  c->add_option("--staging-dir", a.staging_dir, "Staging directory (mountrw only)");
  c->add_flag("--unix-data", a.unix_data, "Show UNIX owners, modes and special files stored with --unix-data");
  c->add_flag("--allow-other", a.allow_other, "Let other users access the mount (FUSE allow_other)");
  c->add_option("--cache-size", a.cache_size, "Limit of the decompressed-chunk cache (default 256M)");
  add_common_options(c, a.common);
  c->callback([] { run_mount(a); });
}

void register_mountrw(CLI::App& app) {
  static MountArgs a;
  CLI::App* c = app.add_subcommand("mountrw", "Mount an image of a WIM archive read-write (FUSE); unmount --commit saves the changes");
  c->add_option("WIMFILE [IMAGE] DIRECTORY", a.positional, "Archive, image (index or name; optional for single-image archives), mount point")
      ->required()
      ->expected(2, 3);
  c->add_option("--ref", a.refs, "Delta base archive(s) of a delta archive, as a glob; repeatable (split archives cannot be mounted read-write)")
      ->allow_extra_args(false);
  c->add_flag("--check", a.check, "Verify the integrity table before mounting");
  c->add_flag("--debug", a.debug, "Stay in the foreground and print FUSE debug output");
  c->add_option("--streams-interface", a.streams, "Named data streams: none, xattr (user.NAME, default) or windows (FILE:NAME)");
  c->add_option("--staging-dir", a.staging_dir, "Create the staging directory for changed files inside DIR (default: beside the archive)");
  c->add_flag("--unix-data", a.unix_data, "Show and change UNIX owners, modes, special files and xattrs (stored as UNIX data)");
  c->add_flag("--allow-other", a.allow_other, "Let other users access the mount (FUSE allow_other)");
  c->add_option("--cache-size", a.cache_size, "Limit of the decompressed-chunk cache (default 256M)");
  add_common_options(c, a.common);
  c->callback([] { run_mountrw(a); });
}

void register_unmount(CLI::App& app) {
  static UnmountArgs a;
  CLI::App* c = app.add_subcommand("unmount", "Unmount an image mounted with mount");
  c->add_option("DIRECTORY", a.dir, "Mount point")->required();
  c->add_flag("--commit", a.commit, "Write the changes of a read-write mount into the archive");
  c->add_flag("--check", a.check, "With --commit: add an integrity table");
  c->add_flag("--rebuild", a.rebuild, "With --commit: rebuild the archive instead of appending");
  c->add_flag("--force", a.force, "With --commit: commit even if files are still open");
  c->add_flag("--lazy", a.lazy, "Detach the mount now even if it is busy");
  c->add_flag("--new-image", a.new_image, "With --commit: add the changed image as a new image");
  add_common_options(c, a.common);
  c->callback([] { run_unmount(a); });
}

}  // namespace wp::cmd
