// wimpack optimize WIMFILE: rebuild into a temporary file and rename
// (wim-format.md §14.3), dropping holes and unreferenced blobs.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"

namespace wp::cmd {
namespace {

struct OptimizeArgs {
  CommonOptions common;
  WriteArgs write;
  std::string wimfile;
  bool recompress = false, unsafe_compact = false;
};

void run_optimize(OptimizeArgs& a) {
  start_command(a.common);
  auto update = wim::ArchiveUpdate::open(a.wimfile);
  wim::Archive* src = update->existing();
  print_warnings(src->warnings());
  const wim::Header& sh = src->header();
  // wimlib keeps a pipable WIM pipable when optimizing it (§12), unless
  // --not-pipable; --pipable makes a normal one pipable.
  if (a.unsafe_compact && (sh.pipable || a.write.pipable))
    fail(Errc::Usage, "--unsafe-compact cannot be used with a pipable WIM (it is always rebuilt)");
  // wimoptimize(1): compaction only moves data, so nothing that changes the
  // encoding goes with it (wimlib-imagex refuses these too).
  if (a.unsafe_compact) {
    const char* bad = a.recompress ? "--recompress" : !a.write.compress.empty() ? "--compress"
                      : !a.write.chunk_size.empty() ? "--chunk-size" : a.write.solid ? "--solid" : nullptr;
    if (bad) fail(Errc::Usage, std::string("--unsafe-compact cannot be used with ") + bad +
                                   " (compaction moves data, it never recompresses)");
    check_changeable(*src);
  }
  if (sh.flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + a.wimfile + "' is marked read-only");

  // A rebuild may change the encoding; what is not given stays as it was.
  WriteTarget target;
  target.existing = src;
  target.keep_encoding = false;
  target.like = src;
  target.quiet = a.common.quiet;
  wim::WriterOptions wo = make_writer_options(a.write, target);
  wo.extra_header_flags = sh.flags & wim::kHdrRpFix;
  probe_codecs(wo);
  bool recompress = a.recompress || wo.solid;
  wo.unsafe_compact = a.unsafe_compact;
  if (a.unsafe_compact) warn_unsafe_compact(a.wimfile);

  uint64_t before = src->file().size();
  auto t0 = std::chrono::steady_clock::now();
  size_t image_count = 0;
  wim::WriteStats ws;
  try {
    // §14.3: a rebuild; with --unsafe-compact, in place: nothing is added,
    // the writer's final compaction does it all.
    wim::ArchiveWriter& writer = update->begin(wo, a.unsafe_compact);
    if (!a.unsafe_compact) {
      events::Progress progress("rebuild", "Rebuilding");
      writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
      writer.import_archive(*src, recompress, &ws);
      progress.finish();
    }
    image_count = writer.xml().image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum = archive_fields(a.wimfile, update->final_size(), image_count);
  sum.num("size_before", before).num("bytes_in", ws.bytes_read).num("bytes_out", ws.bytes_written);
  sum.num("blobs_written", ws.blobs_written).real("seconds", secs);
  events::summary("optimize", sum);
  if (a.common.chatty())
    std::printf("\"%s\" original size: %s\n\"%s\" optimized size: %s\n", a.wimfile.c_str(), format_size(before).c_str(),
                a.wimfile.c_str(), format_size(update->final_size()).c_str());
}

}  // namespace

void register_optimize(CLI::App& app) {
  static OptimizeArgs a;
  CLI::App* c = app.add_subcommand("optimize", "Rebuild a WIM archive: drop holes and unused data, optionally recompress");
  c->add_option("WIMFILE", a.wimfile, "Archive to rebuild in place (via a temporary file)")->required();
  c->add_flag("--recompress", a.recompress, "Recompress all data, even where the codec does not change");
  c->add_flag("--unsafe-compact", a.unsafe_compact,
              "Compact in place without a temporary file (for archives bigger than the free space); NOT safe "
              "against crashes or SIGKILL: a failed compaction corrupts the archive");
  add_write_options(c, a.write,
                    "New compression type (see 'capture --help'); implies recompressing data whose codec changes");
  add_pipable_options(c, a.write, /*with_not=*/true);
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_optimize(a); });
}

}  // namespace wp::cmd
