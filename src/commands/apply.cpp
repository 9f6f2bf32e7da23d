// wimpack apply WIMFILE [IMAGE] TARGET
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "apply/extract_image.hpp"
#include "apply/extract_pipe.hpp"
#include "apply/image_dirs.hpp"
#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/size.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/image_info.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct ApplyArgs {
  CommonOptions common;
  std::vector<std::string> positional;
  std::vector<std::string> refs;
  bool unix_data = false, check = false, rpfix = false, norpfix = false, recover_data = false;
};

// WIMFILE "-": a pipable WIM on standard input, read once, front to back
// (wim-format.md §12.4). As with wimlib, one image at a time.
void apply_from_pipe(ApplyArgs& a) {
  const std::string& target = a.positional.back();
  if (!a.refs.empty()) fail(Errc::Usage, "--ref cannot be used when reading the WIM from standard input");
  if (a.positional.size() == 3 && (a.positional[1] == "all" || a.positional[1] == "*"))
    fail(Errc::Usage, "applying all images from a pipe is not supported (as with wimlib): apply one image at a time");
  wim::PipeReader pipe(STDIN_FILENO, "standard input");
  if (a.check) warn("--check: the integrity table cannot be verified when reading from a pipe; ignored");
  size_t index = 1;
  if (a.positional.size() == 3)
    index = pipe.resolve_image(a.positional[1]);
  else if (pipe.image_count() != 1)
    fail(Errc::Usage, "the WIM on standard input contains " + std::to_string(pipe.image_count()) +
                          " images; say which one to apply (an index or a name)");
  apply::ApplyOptions ao;
  ao.unix_data = a.unix_data;
  ao.recover_data = a.recover_data;
  ao.rpfix = a.rpfix || (!a.norpfix && (pipe.header().flags & wim::kHdrRpFix));
  auto t0 = std::chrono::steady_clock::now();
  events::Progress progress("apply", "Applying image " + std::to_string(index));
  auto r = apply::extract_image_from_pipe(pipe, index, target, ao,
                                          [&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
  progress.finish();
  print_warnings(r.warnings);
  pipe.drain_checked();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum;
  sum.str("archive", "-").str("target", target).num("images", pipe.image_count()).num("images_applied", 1);
  sum.num("image", index);
  sum.num("bytes_out", r.bytes).num("blobs", r.blobs).num("warnings", r.warnings.size()).real("seconds", secs);
  events::summary("apply", sum);
  if (a.common.chatty())
    std::printf("Applied image %zu from standard input to %s: %s of file data (%.2f s)\n", index, target.c_str(),
                format_size(r.bytes).c_str(), secs);
}

void run_apply(ApplyArgs& a) {
  start_command(a.common);
  if (a.positional.size() < 2 || a.positional.size() > 3)
    fail(Errc::Usage, "usage: wimpack apply WIMFILE [IMAGE] TARGET");
  const std::string& wimfile = a.positional[0];
  const std::string& target = a.positional.back();
  if (wimfile == "-") return apply_from_pipe(a);
  auto archive = wim::Archive::open(wimfile, a.check);
  print_warnings(archive->warnings());
  wim::resolve_delta_bases(*archive, ref_paths(a.refs));
  wim::check_split_refs(*archive);  // a split WIM: part 1, with every other part as --ref

  std::vector<size_t> images;
  bool all = false;
  if (a.positional.size() == 3) {
    if (a.positional[1] == "all" || a.positional[1] == "*") {
      all = true;
      for (size_t i = 1; i <= archive->image_count(); i++) images.push_back(i);
    } else {
      images.push_back(archive->resolve_image(a.positional[1]));
    }
  } else {
    if (archive->image_count() != 1)
      fail(Errc::Usage, "'" + wimfile + "' contains " + std::to_string(archive->image_count()) +
                            " images; say which one to apply (an index, a name, or all)");
    images.push_back(1);
  }
  if (images.empty()) fail(Errc::NotFound, "'" + wimfile + "' contains no images");

  apply::ApplyOptions ao;
  ao.unix_data = a.unix_data;
  ao.recover_data = a.recover_data;
  // §9.4: full-image extraction fixes links by default iff the header has RP_FIX.
  ao.rpfix = a.rpfix || (!a.norpfix && (archive->header().flags & wim::kHdrRpFix));
  auto t0 = std::chrono::steady_clock::now();
  uint64_t bytes = 0, blobs = 0, files = 0, dirs_count = 0;
  size_t warnings = 0;
  std::vector<apply::ImageDir> dirs;
  if (all) {
    ::mkdir(target.c_str(), 0755);
    std::vector<std::string> names;
    for (size_t index : images) names.push_back(archive->xml().get(index, "NAME"));
    dirs = apply::image_dir_names(names);
    for (size_t i = 0; i < dirs.size(); i++)
      if (dirs[i].renamed)
        warn("image " + std::to_string(i + 1) + "'s directory name is taken by another image; extracting it to '" +
             target + "/" + dirs[i].name + "'");
  }
  for (size_t index : images) {
    std::string dest = all ? target + "/" + dirs[index - 1].name : target;
    events::Progress progress("apply", "Applying image " + std::to_string(index));
    wim::ImageInfo m = wim::read_image_info(archive->xml().image(index), index);
    progress.set_files_total(m.file_count);
    auto r = apply::extract_image(*archive, index, dest, ao, [&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
    progress.finish();
    print_warnings(r.warnings);
    bytes += r.bytes;
    blobs += r.blobs;
    files += m.file_count;
    dirs_count += m.dir_count;
    warnings += r.warnings.size();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum = archive_fields(wimfile, archive->file().size(), archive->image_count());
  sum.str("target", target).num("images_applied", images.size()).num("files", files).num("directories", dirs_count);
  sum.num("bytes_out", bytes).num("blobs", blobs).num("warnings", warnings).real("seconds", secs);
  events::summary("apply", sum);
  if (a.common.chatty())
    std::printf("Applied %zu image%s from %s to %s: %s of file data (%.2f s)\n", images.size(),
                images.size() == 1 ? "" : "s", wimfile.c_str(), target.c_str(), format_size(bytes).c_str(), secs);
}

}  // namespace

void register_apply(CLI::App& app) {
  static ApplyArgs a;
  CLI::App* c = app.add_subcommand("apply", "Apply (extract) an image of a WIM archive to a directory");
  c->add_option("WIMFILE [IMAGE] TARGET", a.positional, "Archive, image (index, name or 'all'; optional for single-image archives), target directory")
      ->required()
      ->expected(2, 3);
  c->add_option("--ref", a.refs, "Additional archive(s) holding blobs (delta bases, split parts), as a glob; repeatable. A wimpack delta's recorded bases are found without it (README: Incremental work)")
      ->allow_extra_args(false);  // "--ref GLOB IMAGE TARGET": IMAGE is not a second glob
  c->add_flag("--unix-data", a.unix_data, "Restore UNIX owners, modes, special files and extended attributes");
  c->add_flag("--check", a.check, "Verify the integrity table before applying");
  c->add_flag("--rpfix", a.rpfix, "Fix up absolute symbolic links to point inside TARGET");
  c->add_flag("--norpfix", a.norpfix, "Do not fix up absolute symbolic links");
  c->add_flag("--recover-data", a.recover_data,
              "Extract a corrupt file anyway (undecodable parts zero-filled) with a warning, instead of failing");
  add_windows_noop_options(c);
  add_windows_only_options(c, {"--wimboot", "--compact="});
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_apply(a); });
}

}  // namespace wp::cmd
