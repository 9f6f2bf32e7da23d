// wimpack split WIMFILE SPLIT_WIMFILE PART_SIZE (wimsplit(1)): writes the
// archive as parts of at most PART_SIZE MiB each (wim-format.md §13.1); the
// format work is in wim/split.cpp.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <sys/stat.h>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "wim/archive.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct SplitArgs {
  CommonOptions common;
  std::string wimfile, first_part, part_size;
  bool check = false, include_integrity = false;
};

// PART_SIZE: a decimal number of MiB (fractions allowed), as wimlib-imagex.
uint64_t parse_part_size(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  double mib = std::strtod(s, &end);
  if (text.empty() || end == s || *end || !std::isfinite(mib) || mib <= 0 || mib * 1048576.0 < 1 ||
      mib * 1048576.0 > 9.0e18)
    fail(Errc::Usage, "invalid PART_SIZE '" + text + "': give the size of each part in MiB, a number greater than 0");
  return uint64_t(mib * 1048576.0);
}

void run_split(SplitArgs& a) {
  start_command(a.common);
  uint64_t part_size = parse_part_size(a.part_size);
  auto src = wim::Archive::open(a.wimfile);
  print_warnings(src->warnings());
  if (a.check) verify_integrity_if_present(*src);
  wim::SplitOptions so;
  so.part_size = part_size;
  so.source_date_epoch = source_date_epoch();
  so.integrity = a.check || a.include_integrity;
  auto t0 = std::chrono::steady_clock::now();
  events::Progress progress("split", "Splitting");
  so.progress = [&](uint64_t d, uint64_t t, unsigned) { progress.update(d, t); };
  std::vector<std::string> parts = wim::split_archive(*src, a.first_part, so);
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string list = "[";
  uint64_t total = 0;
  for (const auto& p : parts) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) fail_errno("cannot stat", p, errno);
    JsonObject part;
    part.str("path", p).num("size", uint64_t(st.st_size));
    list += (list.size() > 1 ? "," : "") + part.text();
    total += uint64_t(st.st_size);
  }
  JsonObject sum;
  sum.str("source", a.wimfile).num("source_size", src->file().size()).num("images", src->image_count());
  sum.raw("parts", list + "]").num("bytes_out", total).real("seconds", secs);
  events::summary("split", sum);
  info(a.common.quiet, "Finished splitting \"" + a.wimfile + "\" into " + std::to_string(parts.size()) + " part" +
                           (parts.size() == 1 ? "" : "s"));
}

}  // namespace

void register_split(CLI::App& app) {
  static SplitArgs a;
  CLI::App* c = app.add_subcommand("split", "Split a WIM archive into parts (.swm) of at most PART_SIZE MiB");
  c->add_option("WIMFILE", a.wimfile, "Archive to split")->required();
  c->add_option("SPLIT_WIMFILE", a.first_part, "Name of the first part (x.swm; then x2.swm, x3.swm, ...)")->required();
  c->add_option("PART_SIZE", a.part_size, "Maximum size of each part in MiB (a part holding one bigger file is bigger)")
      ->required();
  c->add_flag("--check", a.check, "Verify WIMFILE's integrity table if it has one, and write one in every part");
  c->add_flag("--include-integrity", a.include_integrity, "Write an integrity table in every part");
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_split(a); });
}

}  // namespace wp::cmd
