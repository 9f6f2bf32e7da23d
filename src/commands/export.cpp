// wimpack export SRC_WIMFILE SRC_IMAGE DEST_WIMFILE [DEST_NAME [DEST_DESC]]
// (wimexport(1), wim-format.md §14.5): copies images with the blobs the
// destination lacks; compressed data is copied as it is when the encoding
// allows. An existing destination is appended to in place (§14.2) unless
// --rebuild; a new one gets a new GUID.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"
#include "wim/delta_chain.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct ExportArgs {
  CommonOptions common;
  WriteArgs write;
  std::string src, image, dest, name, description;
  bool name_given = false, description_given = false;
  std::vector<std::string> refs;
  bool boot = false, recompress = false, rebuild = false;
  bool unsafe_compact = false;
};

void check_text(const std::string& what, const std::string& value) {
  for (unsigned char c : value)
    if (c < 0x20 && c != '\t' && c != '\n')
      fail(Errc::Usage, what + " must not contain control characters (WIM readers refuse them)");
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

void run_export(ExportArgs& a) {
  start_command(a.common);
  // DEST_WIMFILE "-": a new pipable WIM on standard output, which then
  // carries nothing else.
  const bool to_stdout = a.dest == "-";
  if (to_stdout) refuse_json_with_data_on_stdout(a.common, "DEST_WIMFILE '-' (the archive on standard output)");
  if (to_stdout) stdout_carries_data();
  if (to_stdout && (a.unsafe_compact || a.rebuild))
    fail(Errc::Usage, std::string(a.unsafe_compact ? "--unsafe-compact" : "--rebuild") +
                          " needs an existing DEST_WIMFILE, not standard output ('-')");
  if (a.unsafe_compact && a.recompress)
    fail(Errc::Usage, "--unsafe-compact cannot be used with --recompress (compaction moves data, it never recompresses)");
  const bool all = a.image == "all" || a.image == "*";
  if (all && (a.name_given || a.description_given))
    fail(Errc::Usage, "DEST_NAME and DEST_DESC can only be given when exporting a single image, not 'all'");
  check_text("DEST_NAME", a.name);
  check_text("DEST_DESC", a.description);

  // The destination is locked before it is read, and stays locked until its
  // new header is written (or it is restored).
  const bool dest_exists = !to_stdout && exists(a.dest);
  std::unique_ptr<wim::ArchiveUpdate> update = to_stdout     ? wim::ArchiveUpdate::create_stdout()
                                               : dest_exists ? wim::ArchiveUpdate::open(a.dest)
                                                             : wim::ArchiveUpdate::create(a.dest);
  wim::Archive* dest = update->existing();
  if (a.unsafe_compact && !dest) fail(Errc::Usage, "--unsafe-compact is only valid when exporting to an existing WIM file");
  if (dest) {
    print_warnings(dest->warnings());
    check_changeable(*dest);
    if (a.write.check) verify_integrity_if_present(*dest);
  }
  // Exporting an archive into itself adds a copy of the image (as wimlib
  // does): the source is the archive being changed, so nothing is copied
  // but the metadata.
  std::unique_ptr<wim::Archive> owned;
  wim::Archive* src = nullptr;
  if (dest && same_file(a.src, a.dest)) {
    src = dest;
  } else {
    owned = wim::Archive::open(a.src);
    src = owned.get();
    print_warnings(src->warnings());
    if (a.write.check) verify_integrity_if_present(*src);
  }
  wim::resolve_delta_bases(*src, ref_paths(a.refs));
  if (a.write.check)
    for (const auto& ref : src->refs()) verify_integrity_if_present(*ref);
  wim::check_split_refs(*src);  // a split source: part 1, with every other part as --ref

  std::vector<size_t> images;
  if (all) {
    for (size_t i = 1; i <= src->image_count(); i++) images.push_back(i);
    if (images.empty()) fail(Errc::NotFound, "'" + a.src + "' has no images to export");
  } else {
    images.push_back(src->resolve_image(a.image));
  }
  // Names must stay unique in the destination (unnamed images are fine).
  std::vector<std::string> names;
  for (size_t i : images) names.push_back(a.name_given ? a.name : src->xml().get(i, "NAME"));
  for (size_t k = 0; k < names.size(); k++) {
    if (names[k].empty()) continue;
    bool taken = dest && dest->xml().find_by_name(names[k]);
    for (size_t j = 0; j < k; j++) taken |= names[j] == names[k];
    if (taken) fail(Errc::Usage, "there is already an image named \"" + names[k] + "\" in '" + a.dest + "'" +
                                     (all ? "" : " (give the exported image another name: DEST_NAME)"));
  }
  // --boot: the exported image; with 'all', the source's boot image.
  size_t boot_src = 0;
  if (a.boot) {
    boot_src = all ? src->header().boot_index : images[0];
    if (boot_src == 0)
      fail(Errc::Usage, "--boot with 'all': '" + a.src + "' has no bootable image");
  }

  WriteTarget target;
  target.existing = dest;
  target.keep_encoding = true;
  target.like = src;  // a new archive takes the source's codec, chunk size, solidity
  target.inherit_solid = true;
  target.to_stdout = to_stdout;
  target.quiet = a.common.quiet;
  wim::WriterOptions wo = make_writer_options(a.write, target);
  // §9.4: RP_FIX travels with the image.
  wo.extra_header_flags = (src->header().flags | (dest ? dest->header().flags : 0)) & wim::kHdrRpFix;
  // An encoding the user asked for must work before any work starts; one
  // inherited from the source is often only copied (an archive of any
  // codec exports its resources verbatim).
  if (!a.write.compress.empty() || !a.write.solid_compress.empty() || a.recompress) probe_codecs(wo);
  // --unsafe-compact wins over --rebuild, as with wimlib-imagex.
  wo.unsafe_compact = a.unsafe_compact;
  if (a.unsafe_compact) warn_unsafe_compact(a.dest);

  auto t0 = std::chrono::steady_clock::now();
  wim::WriteStats ws;
  std::vector<size_t> added;
  size_t image_count = 0;
  try {
    wim::ArchiveWriter& writer = update->begin(wo, dest && !a.rebuild);
    // A rebuild (§14.3) first takes the destination's own images.
    if (dest && !update->in_place()) writer.import_archive(*dest, false);
    writer.header().flags |= wo.extra_header_flags;
    events::Progress progress("export", "Exporting");
    writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
    for (size_t k = 0; k < images.size(); k++) {
      // A pipable source's resources have their own layout (wim-format.md
      // §12.3): import_image copies them verbatim only into a pipable WIM.
      size_t index = writer.import_image(*src, images[k], a.recompress, &ws);
      if (a.name_given) writer.xml().set(index, "NAME", a.name);  // "" leaves it unnamed
      if (a.description_given) writer.xml().set(index, "DESCRIPTION", a.description);
      if (images[k] == boot_src) writer.header().boot_index = uint32_t(index);
      if (a.write.wimboot) writer.xml().set(index, "WIMBOOT", "1");
      added.push_back(index);
    }
    progress.finish();
    image_count = writer.xml().image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  JsonObject sum = archive_fields(a.dest, update->final_size(), image_count);
  std::string added_json = "[";
  for (size_t i : added) added_json += (added_json.size() > 1 ? "," : "") + std::to_string(i);
  sum.str("source", a.src).raw("images_added", added_json + "]").num("bytes_in", ws.bytes_read);
  sum.num("bytes_out", ws.bytes_written).num("blobs_written", ws.blobs_written);
  sum.num("blobs_reused", ws.blobs_deduplicated).real("seconds", secs);
  events::summary("export", sum);
  if (a.common.chatty()) {
    std::string what = images.size() == 1 ? "image " + std::to_string(images[0]) : std::to_string(images.size()) + " images";
    std::fprintf(messages(), "Exported %s of %s into %s as image %zu%s: %s of data written; archive is now %s (%.2f s)\n", what.c_str(),
                a.src.c_str(), a.dest.c_str(), added.front(),
                added.size() > 1 ? (std::string("-") + std::to_string(added.back())).c_str() : "",
                format_size(ws.bytes_written).c_str(), format_size(update->final_size()).c_str(), secs);
  }
}

}  // namespace

void register_export(CLI::App& app) {
  static ExportArgs a;
  CLI::App* c = app.add_subcommand("export", "Export images of one WIM archive into another (new or existing) archive");
  c->add_option("SRC_WIMFILE", a.src, "Archive to export from")->required();
  c->add_option("SRC_IMAGE", a.image, "Image to export: an index, a name, a negative index (-1 = last), or 'all'")
      ->required();
  c->add_option("DEST_WIMFILE", a.dest, "Archive to export into: appended to if it exists, else created")->required();
  c->add_option("DEST_NAME", a.name, "Name of the exported image (default: its name in SRC_WIMFILE; \"\" = unnamed)");
  c->add_option("DEST_DESC", a.description, "Description of the exported image (default: its description)");
  add_write_options(c, a.write,
                    "Compression of a new DEST_WIMFILE (default: the source's); an existing one keeps its own. "
                    "LZX[:LEVEL], XPRESS, LZMS, none, zstd[:LEVEL], lzma[:LEVEL]");
  add_wimboot_option(c, a.write);
  add_guid_option(c, a.write);
  c->add_flag("--boot", a.boot,
              "Make the exported image bootable; with 'all', the source's bootable image stays the bootable one");
  c->add_flag("--recompress", a.recompress, "Recompress all exported data, even where it could be copied as it is");
  c->add_flag("--rebuild", a.rebuild, "Rewrite an existing DEST_WIMFILE (via a temporary file) instead of appending");
  c->add_option("--ref", a.refs, "Additional archive(s) holding the source's blobs (delta bases), as a glob; repeatable");
  add_pipable_options(c, a.write, /*with_not=*/true);
  c->add_flag("--unsafe-compact", a.unsafe_compact,
              "Append to an existing DEST_WIMFILE and squeeze out its holes, without a temporary file (NOT safe "
              "against crashes or SIGKILL: a failed compaction corrupts the archive)");
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([c] {
    a.name_given = c->count("DEST_NAME") != 0;
    a.description_given = c->count("DEST_DESC") != 0;
    run_export(a);
  });
}

}  // namespace wp::cmd
