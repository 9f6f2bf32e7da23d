// wimpack optimize WIMFILE: rebuild into a temporary file and rename
// (wim-format.md §14.3), dropping holes and unreferenced blobs.
#include <sys/stat.h>

#include <cstdio>

#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/progress.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"

namespace wp::cmd {
namespace {

struct OptimizeArgs {
  CommonOptions common;
  std::string wimfile, compress, chunk_size, solid_compress, solid_chunk_size;
  bool recompress = false, solid = false, check = false, nocheck = false;
};

void run_optimize(OptimizeArgs& a) {
  apply_thread_count(a.common.threads);
  auto update = wim::ArchiveUpdate::open(a.wimfile);
  wim::Archive* src = update->existing();
  print_warnings(src->warnings());
  const wim::Header& sh = src->header();
  if (sh.flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + a.wimfile + "' is marked read-only");
  if (a.check && a.nocheck) fail(Errc::Usage, "--check and --nocheck are mutually exclusive");

  wim::WriterOptions wo;
  wo.compression = a.compress.empty() ? CompressionSpec{sh.codec(), 0} : parse_compression(a.compress);
  if (!a.chunk_size.empty())
    wo.chunk_size = parse_chunk_size(a.chunk_size, wo.compression.codec, "--chunk-size");
  else if (wo.compression.codec == sh.codec())
    wo.chunk_size = sh.chunk_size;
  wo.solid = a.solid || !a.solid_compress.empty() || !a.solid_chunk_size.empty();
  if (wo.solid) {
    wo.solid_compression = a.solid_compress.empty() ? CompressionSpec{Codec::Lzma, 0} : parse_compression(a.solid_compress);
    if (wo.solid_compression.codec == Codec::None) fail(Errc::Usage, "--solid-compress=none is not allowed");
    if (!a.solid_chunk_size.empty())
      wo.solid_chunk_size = parse_chunk_size(a.solid_chunk_size, wo.solid_compression.codec, "--solid-chunk-size");
  }
  wo.integrity = a.check || (src->has_integrity() && !a.nocheck);
  wo.extra_header_flags = sh.flags & wim::kHdrRpFix;
  if (wo.compression.codec != Codec::None) make_compressor(wo.compression.codec, wo.compression.level, 32768);
  if (wo.solid) make_compressor(wo.solid_compression.codec, wo.solid_compression.level, 32768);
  bool recompress = a.recompress || wo.solid;

  uint64_t before = src->file().size();
  try {
    wim::ArchiveWriter& writer = update->begin(wo, false);  // §14.3: always a rebuild
    Progress progress("Rebuilding", !a.common.quiet);
    writer.set_progress([&](uint64_t d, uint64_t t) { progress.update(d, t); });
    writer.import_archive(*src, recompress);
    progress.finish();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  if (!a.common.quiet)
    std::printf("\"%s\" original size: %s\n\"%s\" optimized size: %s\n", a.wimfile.c_str(), format_size(before).c_str(),
                a.wimfile.c_str(), format_size(update->final_size()).c_str());
}

}  // namespace

void register_optimize(CLI::App& app) {
  static OptimizeArgs a;
  CLI::App* c = app.add_subcommand("optimize", "Rebuild a WIM archive: drop holes and unused data, optionally recompress");
  c->add_option("WIMFILE", a.wimfile, "Archive to rebuild in place (via a temporary file)")->required();
  c->add_flag("--recompress", a.recompress, "Recompress all data, even where the codec does not change");
  c->add_option("--compress", a.compress, "New compression type (see 'capture --help'); implies recompressing data whose codec changes");
  c->add_option("--chunk-size", a.chunk_size, "New chunk size for non-solid resources");
  c->add_flag("--solid", a.solid, "Repack file data into solid resources");
  c->add_option("--solid-compress", a.solid_compress, "Compression for solid resources (default lzma)");
  c->add_option("--solid-chunk-size", a.solid_chunk_size, "Chunk size for solid resources (default 64M)");
  c->add_flag("--check", a.check, "Write an integrity table");
  c->add_flag("--nocheck", a.nocheck, "Do not write an integrity table");
  add_common_options(c, a.common);
  c->callback([] { run_optimize(a); });
}

}  // namespace wp::cmd
