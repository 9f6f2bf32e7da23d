// wimpack join OUT_WIMFILE SPLIT_WIMFILE_PART... (wimjoin(1)): checks that
// the parts belong together (wim-format.md §13.1) and copies them, resources
// verbatim, into one archive that keeps their GUID.
#include <chrono>
#include <cstdio>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct JoinArgs {
  CommonOptions common;
  std::string out;
  std::vector<std::string> parts;
  bool check = false, include_integrity = false;
};

void run_join(JoinArgs& a) {
  start_command(a.common);
  std::vector<std::unique_ptr<wim::Archive>> opened;
  std::vector<const wim::Archive*> parts;
  for (const auto& p : a.parts) {
    opened.push_back(wim::Archive::open(p));
    print_warnings(opened.back()->warnings());
    if (a.check) verify_integrity_if_present(*opened.back());
    parts.push_back(opened.back().get());
  }
  std::vector<const wim::Archive*> sorted = wim::check_split_set(parts);
  // Part 1 reads its blobs from the others, as apply --ref does.
  std::unique_ptr<wim::Archive> first;
  for (auto& o : opened)
    if (o.get() == sorted[0]) first = std::move(o);
  for (auto& o : opened)
    if (o) first->add_ref(std::move(o));

  WriteArgs wa;
  wa.check = a.check || a.include_integrity;
  wa.pipable = first->header().pipable;  // as wimlib: the parts of a pipable WIM join into a pipable WIM
  WriteTarget target;
  target.like = first.get();  // the parts' codec and chunk size: resources are copied as they are
  target.quiet = a.common.quiet;
  wim::WriterOptions wo = make_writer_options(wa, target);
  wo.extra_header_flags = first->header().flags & wim::kHdrRpFix;

  auto update = wim::ArchiveUpdate::create(a.out);
  auto t0 = std::chrono::steady_clock::now();
  wim::WriteStats ws;
  size_t image_count = 0;
  try {
    wim::ArchiveWriter& writer = update->begin(wo, false);
    events::Progress progress("join", "Joining");
    writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
    writer.import_archive(*first, /*recompress=*/false, &ws);
    progress.finish();
    image_count = writer.xml().image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum = archive_fields(a.out, update->final_size(), image_count);
  sum.num("parts", sorted.size()).num("bytes_out", ws.bytes_written).num("blobs_written", ws.blobs_written);
  sum.real("seconds", secs);
  events::summary("join", sum);
  info(a.common.quiet, "Joined " + std::to_string(sorted.size()) + " part" + (sorted.size() == 1 ? "" : "s") +
                           " into \"" + a.out + "\" (" + format_size(update->final_size()) + ")");
}

}  // namespace

void register_join(CLI::App& app) {
  static JoinArgs a;
  CLI::App* c = app.add_subcommand("join", "Join the parts of a split WIM (.swm) into one archive");
  c->add_option("OUT_WIMFILE", a.out, "Archive to write (WIMFILE)")->required();
  c->add_option("SPLIT_WIMFILE_PART", a.parts, "Every part of the split WIM, in any order")->required();
  c->add_flag("--check", a.check, "Verify each part's integrity table if it has one, and write one in OUT_WIMFILE");
  c->add_flag("--include-integrity", a.include_integrity, "Write an integrity table in OUT_WIMFILE");
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_join(a); });
}

}  // namespace wp::cmd
