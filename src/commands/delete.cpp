// wimpack delete WIMFILE (IMAGE | all) (wimdelete(1)): by default the
// archive is rebuilt without the image's data (wim-format.md §14.3, a
// temporary file renamed into place); --soft only drops its metadata and XML
// entries in place (§14.2), leaving the data as a hole.
#include <chrono>
#include <cstdio>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"

namespace wp::cmd {
namespace {

struct DeleteArgs {
  CommonOptions common;
  std::string wimfile, image;
  bool check = false, include_integrity = false, soft = false, unsafe_compact = false;
};

void run_delete(DeleteArgs& a) {
  start_command(a.common);
  auto update = wim::ArchiveUpdate::open(a.wimfile);
  wim::Archive* wim = update->existing();
  print_warnings(wim->warnings());
  check_changeable(*wim);
  if (a.check) verify_integrity_if_present(*wim);

  std::vector<bool> doomed(wim->image_count() + 1, false);
  size_t count = 0;
  if (a.image == "all" || a.image == "*") {
    for (size_t i = 1; i <= wim->image_count(); i++) doomed[i] = true;
    count = wim->image_count();
  } else {
    doomed[wim->resolve_image(a.image)] = true;
    count = 1;
  }

  // The archive keeps its encoding, solid resources included.
  WriteArgs write;
  write.check = a.check || a.include_integrity;
  WriteTarget target;
  target.existing = wim;
  target.keep_encoding = false;
  target.like = wim;
  target.inherit_solid = true;
  target.quiet = true;
  wim::WriterOptions wo = make_writer_options(write, target);
  wo.extra_header_flags = wim->header().flags & wim::kHdrRpFix;
  // --unsafe-compact: dropped in place like --soft, then the holes are
  // squeezed out (wimdelete(1)).
  wo.unsafe_compact = a.unsafe_compact;
  if (a.unsafe_compact) warn_unsafe_compact(a.wimfile);

  auto t0 = std::chrono::steady_clock::now();
  uint64_t before = wim->file().size();
  size_t image_count = 0;
  try {
    wim::ArchiveWriter& writer = update->begin(wo, a.soft || a.unsafe_compact);
    if (update->in_place()) {
      // §14.2 soft delete: the last first, so the indices stay valid.
      for (size_t i = wim->image_count(); i >= 1; i--)
        if (doomed[i]) writer.remove_image(i);
    } else {
      // A rebuild that copies only the images that stay, with their data as
      // it is (a delta keeps pointing at its base).
      events::Progress progress("rebuild", "Rebuilding");
      writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
      uint32_t boot = wim->header().boot_index, new_boot = 0;
      for (size_t i = 1; i <= wim->image_count(); i++) {
        if (doomed[i]) continue;
        size_t index = writer.import_image(*wim, i, false, nullptr, /*allow_missing=*/true);
        if (i == boot) new_boot = uint32_t(index);
      }
      progress.finish();
      writer.header().boot_index = new_boot;  // 0 if the boot image went
      writer.header().guid = wim->header().guid;  // §14.3: a rebuild keeps the GUID
    }
    image_count = writer.xml().image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum = archive_fields(a.wimfile, update->final_size(), image_count);
  sum.num("images_deleted", count).num("size_before", before).boolean("in_place", update->in_place());
  sum.real("seconds", secs);
  events::summary("delete", sum);
  if (a.common.chatty())
    std::printf("Deleted %zu image%s from %s%s: %s -> %s (%.2f s)\n", count, count == 1 ? "" : "s", a.wimfile.c_str(),
                a.unsafe_compact ? " (compacted in place)" : update->in_place() ? " (soft: data left in place)" : "", format_size(before).c_str(),
                format_size(update->final_size()).c_str(), secs);
}

}  // namespace

void register_delete(CLI::App& app) {
  static DeleteArgs a;
  CLI::App* c = app.add_subcommand("delete", "Delete images from a WIM archive (and, unless --soft, their unused data)");
  c->add_option("WIMFILE", a.wimfile, "Archive to delete from")->required();
  c->add_option("IMAGE", a.image, "Image to delete: an index, a name, a negative index (-1 = last), or 'all'")->required();
  c->add_flag("--check", a.check, "Verify the integrity table first if there is one, and write one");
  c->add_flag("--include-integrity", a.include_integrity, "Write an integrity table, without verifying the existing one");
  c->add_flag("--soft", a.soft,
              "Only drop the image's metadata and XML entries, in place (fast; the data stays until 'wimpack optimize')");
  c->add_flag("--unsafe-compact", a.unsafe_compact,
              "Delete in place and squeeze out the holes, without a temporary file (NOT safe against crashes or "
              "SIGKILL: a failed compaction corrupts the archive)");
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_delete(a); });
}

}  // namespace wp::cmd
