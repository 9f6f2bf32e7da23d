// wimpack capture SOURCE WIMFILE [IMAGE_NAME [IMAGE_DESC]]
#include <chrono>
#include <optional>
#include <cstdio>

#include <sys/stat.h>

#include "capture/config.hpp"
#include "capture/scan.hpp"
#include "capture/source_list.hpp"
#include "capture/update_of.hpp"
#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/timer.hpp"
#include "util/file.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"
#include "wim/delta_chain.hpp"

namespace wp::cmd {
namespace {

struct CaptureArgs {
  bool append = false;
  bool create = false, rebuild = false;
  std::string update_of;
  std::vector<std::string> delta_from;
  CommonOptions common;
  std::string source, wimfile, name, description;
  WriteArgs write;
  std::string flags;
  std::vector<std::string> properties;
  bool unix_data = false, boot = false, norpfix = false, rpfix = false;
  std::string config;  // --config=FILE ("-" = stdin); empty = wimlib's default list
  bool source_list = false;
  bool name_given = false;  // IMAGE_NAME on the command line (else the default)
  bool continue_on_change = false;
  bool dereference = false;
  bool unsafe_compact = false;  // append only
};

// Which paths the capture leaves out (config.hpp "Which configuration
// applies"): the file given, else wimlib's built-in Windows list.
// With --wimboot and no --config, SOURCE's own WimBootCompress.ini if it has
// one (wimcapture(1)).
capture::CaptureConfig load_config(const CaptureArgs& a) {
  if (a.config.empty() && a.write.wimboot && !a.source_list) {
    std::string ini = a.source + "/Windows/System32/WimBootCompress.ini";
    struct stat st;
    if (::stat(ini.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return capture::CaptureConfig::load(ini);
  }
  if (a.config.empty()) return capture::CaptureConfig::defaults();
  if (a.config == "-" && a.source_list && a.source == "-")
    fail(Errc::Usage, "--config=- and --source-list with SOURCE '-' cannot both read standard input");
  return capture::CaptureConfig::load(a.config);
}

std::string default_image_name(const std::string& source) {
  std::string s = source;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  size_t slash = s.rfind('/');
  std::string base = slash == std::string::npos ? s : s.substr(slash + 1);
  return base == "/" ? std::string() : base;
}

void check_xml_text(const std::string& what, const std::string& value) {
  for (unsigned char c : value)
    if (c < 0x20 && c != '\t' && c != '\n')
      fail(Errc::Usage, what + " must not contain control characters (WIM readers refuse them)");
}

// --image-property NAME=VALUE; NAME may be a path such as WINDOWS/VERSION/MAJOR.
void set_property(wim::XmlInfo& xml, size_t index, const std::string& spec) {
  size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(Errc::Usage, "--image-property expects NAME=VALUE, got '" + spec + "'");
  std::string path = spec.substr(0, eq), value = spec.substr(eq + 1);
  if (!wim::XmlInfo::valid_property_path(path)) fail(Errc::Usage, "invalid --image-property name '" + path + "'");
  check_xml_text("--image-property " + path, value);
  xml.set_property(index, path, value);
}

void check_xml_texts(const CaptureArgs& a) {
  check_xml_text("the image name", a.name);
  check_xml_text("the image description", a.description);
  check_xml_text("--flags", a.flags);
}

// --update-of=[WIMFILE:]IMAGE. Without WIMFILE (wimcapture(1)): the
// --delta-from base if exactly one is given, else the archive appended to.
std::pair<std::string, std::string> split_update_of(const std::string& spec, const std::string& own_wim,
                                                    const std::vector<std::string>& delta_from) {
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) {
    if (delta_from.size() == 1) return {delta_from[0], spec};
    if (own_wim.empty())
      fail(Errc::Usage, "--update-of needs WIMFILE:IMAGE with capture, unless --delta-from is given exactly once "
                        "(IMAGE alone then refers to that base; with append, to the archive appended to)");
    return {own_wim, spec};
  }
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

bool file_exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

void run_capture(CaptureArgs& a) {
  start_command(a.common);
  // WIMFILE "-" (capture only): a pipable WIM on standard output, which then
  // carries nothing else.
  const bool to_stdout = a.wimfile == "-";
  if (to_stdout) refuse_json_with_data_on_stdout(a.common, "WIMFILE '-' (the archive on standard output)");
  if (to_stdout && a.append) fail(Errc::Usage, "append cannot write to standard output ('-'); WIMFILE must be a file");
  if (to_stdout) stdout_carries_data();
  if (a.append && !file_exists(a.wimfile)) {
    if (!a.create) fail(Errc::NotFound, "'" + a.wimfile + "' does not exist (use --create to create it)");
    a.append = false;
  }
  check_xml_texts(a);

  // The archive is locked before it is read, and stays locked until the
  // new header is written (or the old file is restored).
  std::unique_ptr<wim::ArchiveUpdate> update =
      a.append    ? wim::ArchiveUpdate::open(a.wimfile)
      : to_stdout ? wim::ArchiveUpdate::create_stdout()
                  : wim::ArchiveUpdate::create(a.wimfile);
  wim::Archive* existing = update->existing();
  if (existing) {
    print_warnings(existing->warnings());
    check_changeable(*existing);
  }
  // The default is wimlib-imagex's: LZX with 32 KiB chunks, a file every WIM
  // tool reads; an append keeps the archive's encoding.
  WriteTarget target;
  target.existing = existing;
  target.to_stdout = to_stdout;
  target.quiet = a.common.quiet;
  wim::WriterOptions wo = make_writer_options(a.write, target);
  if (existing) {
    // As wimlib: a default name already in use becomes "NAME (1)", "NAME (2)"...
    if (!a.name_given && !a.name.empty() && existing->xml().find_by_name(a.name)) {
      std::string base = a.name;
      for (int k = 1; existing->xml().find_by_name(a.name); k++) a.name = base + " (" + std::to_string(k) + ")";
    }
    if (!a.name.empty() && existing->xml().find_by_name(a.name))
      fail(Errc::Usage, "'" + a.wimfile + "' already has an image named \"" + a.name + "\"");
  }
  // §9.4: the first capture uses rpfix; an append only if the header has RP_FIX.
  bool rpfix = a.rpfix || (!a.norpfix && (!existing || (existing->header().flags & wim::kHdrRpFix)));
  if (rpfix) wo.extra_header_flags |= wim::kHdrRpFix;
  // wimcapture(1): append only; wins over --rebuild, as with wimlib-imagex.
  // (An append with --create that creates the file has nothing to compact.)
  wo.unsafe_compact = a.unsafe_compact && existing;
  if (wo.unsafe_compact) warn_unsafe_compact(a.wimfile);

  // Probe codecs early, so "not supported yet" comes before any work.
  probe_codecs(wo);

  std::vector<std::unique_ptr<wim::Archive>> bases;
  for (const auto& path : a.delta_from) {
    auto b = wim::Archive::open(path);
    // A base that is itself a delta: its own bases' blobs are left out too
    // (readers find them through its XML); without them, they are stored.
    try {
      wim::resolve_delta_bases(*b, {});
    } catch (const Error& e) {
      warn(std::string(e.what()) + "; the blobs only that base holds are stored in the new delta");
    }
    bases.push_back(std::move(b));
  }
  std::vector<uint32_t> base_image(bases.size(), 0);  // the image --update-of took from each base

  auto t0 = std::chrono::steady_clock::now();
  capture::CaptureConfig config = load_config(a);
  print_warnings(config.warnings());
  capture::ScanOptions so;
  so.unix_data = a.unix_data;
  so.rpfix = rpfix;
  so.config = &config;
  so.continue_on_change = a.continue_on_change;
  so.dereference = a.dereference;
  capture::ScanResult scan;
  PhaseTimer scan_timer("capture/scan");
  if (a.source_list) {
    std::vector<std::string> list_warnings;
    auto entries = capture::load_source_list(a.source, &list_warnings);
    print_warnings(list_warnings);
    scan = capture::scan_sources(entries, so, a.source == "-" ? std::string("<stdin>") : a.source);
  } else {
    scan = capture::scan_tree(a.source, so);
  }
  scan_timer.stop();
  print_warnings(scan.warnings);
  for (const auto& r : scan.excluded_roots) info(a.common.quiet, "Excluding \"" + r + "\" from capture (--config)");
  if (scan.excluded_count > scan.excluded_roots.size())
    info(a.common.quiet, std::to_string(scan.excluded_count - scan.excluded_roots.size()) +
                             " paths left out by the capture configuration" +
                             (a.config.empty() ? " (the default list; pass --config=FILE to choose)" : ""));
  if (scan.empty) info(a.common.quiet, "The image is empty");

  if (!a.update_of.empty()) {
    PhaseTimer update_of_timer("capture/update-of");
    auto [tmpl_path, tmpl_image] = split_update_of(a.update_of, a.append ? a.wimfile : std::string(), a.delta_from);
    std::unique_ptr<wim::Archive> owned;
    const wim::Archive* tmpl = nullptr;
    if (existing && tmpl_path == a.wimfile)
      tmpl = existing;
    else
      for (const auto& b : bases)
        if (b->path() == tmpl_path) tmpl = b.get();
    if (!tmpl) tmpl = (owned = wim::Archive::open(tmpl_path)).get();
    const size_t tmpl_index = tmpl->resolve_image(tmpl_image);
    for (size_t i = 0; i < bases.size(); i++)
      if (bases[i].get() == tmpl) base_image[i] = uint32_t(tmpl_index);
    image::Image old = tmpl->load_image(tmpl_index);
    auto available = [&](const Sha1& h) {
      if (existing && existing->blobs().count(h)) return true;
      for (const auto& b : bases)
        if (b->find_blob(h)) return true;
      return false;
    };
    auto st = capture::apply_update_of(scan.image, old, available);
    info(a.common.quiet, "--update-of: " + std::to_string(st.files_reused) + " files reused from " + tmpl_path +
                             ", " + std::to_string(st.files_read) + " files read");
  }

  wim::WriteStats ws;
  size_t index = 0, image_count = 0;
  try {
    wim::ArchiveWriter& writer = update->begin(wo, existing && (!a.rebuild || wo.unsafe_compact));
    // --rebuild (§14.3): the old images go into the new file first, their
    // compressed data copied as it is.
    if (existing && !update->in_place()) writer.import_archive(*existing, false);
    for (const auto& b : bases) {
      writer.exclude_blobs(*b);
      for (const auto& r : b->refs()) writer.exclude_blobs(*r);
    }
    events::Progress progress("archive", "Archiving file data");
    progress.set_files_total(scan.image.stats().file_count);
    writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
    index = writer.add_image(scan.image, scan.sources, a.name, &ws);
    progress.finish();
    auto& xml = writer.xml();
    if (!a.description.empty()) xml.set(index, "DESCRIPTION", a.description);
    if (!a.flags.empty()) xml.set(index, "FLAGS", a.flags);
    for (const auto& p : a.properties) set_property(xml, index, p);
    // A delta names its bases, so that readers find them (wim/delta_chain.hpp).
    for (size_t i = 0; i < bases.size(); i++)
      xml.add_delta_base(index, wim::make_delta_base(*bases[i], a.wimfile, base_image[i]));
    if (a.boot) writer.header().boot_index = uint32_t(index);
    if (a.write.wimboot) xml.set(index, "WIMBOOT", "1");
    image_count = xml.image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }

  if (scan.files->changed_count()) print_warnings(scan.files->take_warnings());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto st = scan.image.stats();
  JsonObject sum = archive_fields(a.wimfile, update->final_size(), image_count);
  sum.num("image", index).str("image_name", a.name).num("files", st.file_count).num("directories", st.dir_count);
  sum.num("bytes_in", ws.bytes_read).num("bytes_total", st.total_bytes).num("bytes_out", ws.bytes_written);
  sum.num("blobs_written", ws.blobs_written).num("blobs_reused", ws.blobs_deduplicated);
  sum.num("files_changed", scan.files->changed_count()).real("seconds", secs);
  events::summary(a.append ? "append" : "capture", sum);
  if (a.common.chatty())
    std::fprintf(messages(), "%s \"%s\" %s %s: %llu directories, %llu files, %s of data; archive is now %s (%.2f s)\n",
                a.append ? "Appended" : "Captured", a.name.c_str(), a.append ? "to" : "into", a.wimfile.c_str(),
                (unsigned long long)st.dir_count, (unsigned long long)st.file_count, format_size(st.total_bytes).c_str(),
                format_size(update->final_size()).c_str(), secs);
  // --continue-on-change: like tar's "file changed as we read it".
  if (size_t n = scan.files->changed_count()) {
    fail(Errc::Changed, "the archive was written, but " + std::to_string(n) + (n == 1 ? " file" : " files") +
                            " changed while being read (stored as read; see the warnings above)");
  }
}

void add_capture_options(CLI::App* c, CaptureArgs& a) {
  c->add_option("SOURCE", a.source, "Directory to capture (with --source-list: a file listing sources, or - for stdin)")
      ->required();
  c->add_option("WIMFILE", a.wimfile, "Archive to write")->required();
  c->add_option("IMAGE_NAME", a.name, "Image name (default: the base name of SOURCE)");
  c->add_option("IMAGE_DESC", a.description, "Image description");
  add_write_options(c, a.write,
                    "Compression: LZX[:LEVEL] (default, 32K chunks, read by every WIM tool), XPRESS, LZMS "
                    "(aliases fast, maximum, recovery), none, or wimpack's private zstd[:LEVEL] (recommended: several "
                    "times faster than LZX at a similar size) and lzma[:LEVEL] (smaller)",
                    /*with_nocheck=*/true);
  c->add_flag("--unix-data", a.unix_data, "Store UNIX owners, modes, special files and extended attributes");
  c->add_flag("--boot", a.boot, "Mark the new image as bootable");
  c->add_option("--image-property", a.properties, "Set an image property NAME=VALUE (repeatable)");
  c->add_option("--flags", a.flags, "Set the image's FLAGS element (edition)");
  c->add_flag("--norpfix", a.norpfix, "Do not fix up absolute symbolic links that point inside SOURCE");
  c->add_flag("--rpfix", a.rpfix, "Fix up absolute symbolic links that point inside SOURCE (default)");
  c->add_option("--update-of", a.update_of,
                "[WIMFILE:]IMAGE: skip reading files whose size and timestamps match that image (WIMFILE defaults "
                "to the one --delta-from base, else to the archive appended to)");
  c->add_option("--delta-from", a.delta_from, "Do not store blobs that this archive (or its own bases) already holds (repeatable); the delta records its GUID and path relative to the delta, so readers find it without --ref");
  c->add_option("--config", a.config,
                "Capture configuration file (- = stdin): [ExclusionList] / [ExclusionException] path globs "
                "(default: wimlib's list, e.g. /pagefile.sys, /System Volume Information)");
  c->add_flag("--source-list", a.source_list,
              "SOURCE is a file (or - for stdin) listing \"SOURCE [TARGET]\" lines, overlaid into one image");
  c->add_flag("--continue-on-change", a.continue_on_change,
              "Archive a tree in use: store a file that changes while it is read as read (padded or cut to its "
              "scanned size), warn, and exit with status 6 instead of failing");
  c->add_flag("--dereference", a.dereference,
              "Follow symbolic links in SOURCE: capture what a link points to (a file or a directory) instead of "
              "the link; a link loop fails");
  add_pipable_options(c, a.write, /*with_not=*/true);
  add_wimboot_option(c, a.write);
  add_guid_option(c, a.write);
  add_windows_noop_options(c, {"--no-acls", "--strict-acls"});
  add_windows_only_options(c, {"--snapshot"});
  add_common_options(c, a.common);
  add_json_option(c, a.common);
}

}  // namespace

void register_capture(CLI::App& app) {
  static CaptureArgs a;
  CLI::App* c = app.add_subcommand("capture", "Capture a directory tree into a new WIM archive");
  add_capture_options(c, a);
  c->callback([c] {
    if (c->count("IMAGE_NAME") == 0) a.name = default_image_name(a.source);
    run_capture(a);
  });

  static CaptureArgs b;
  b.append = true;
  CLI::App* ap = app.add_subcommand("append", "Capture a directory tree as a new image of an existing WIM archive");
  add_capture_options(ap, b);
  ap->add_flag("--create", b.create, "Create WIMFILE if it does not exist");
  ap->add_flag("--rebuild", b.rebuild, "Rewrite the whole archive instead of appending in place");
  ap->add_flag("--unsafe-compact", b.unsafe_compact,
               "Append in place and squeeze out the holes, without a temporary file (NOT safe against crashes or "
               "SIGKILL: a failed compaction corrupts the archive)");
  ap->callback([ap] {
    b.name_given = ap->count("IMAGE_NAME") != 0;
    if (!b.name_given) b.name = default_image_name(b.source);
    run_capture(b);
  });
}

}  // namespace wp::cmd
