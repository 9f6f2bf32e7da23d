// wimpack update WIMFILE [IMAGE] [OPTIONS] < COMMANDS   (wimupdate(1))
//
// Commands, one per line (or one with --command): add, delete, rename. They
// run in order on the loaded image (src/image/ops.hpp); only when all of them
// succeeded is anything written: in place (§14.2: new data, the image's new
// metadata and new tables after the old, the header last), or with --rebuild
// into a temporary file. A failing command leaves the archive untouched.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "capture/config.hpp"
#include "capture/scan.hpp"
#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "image/ops.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/filetime.hpp"
#include "util/size.hpp"
#include "wim/archive_update.hpp"
#include "wim/integrity.hpp"

namespace wp::cmd {
namespace {

struct UpdateArgs {
  CommonOptions common;
  std::string wimfile, image, command, config, wimboot_config;
  bool command_given = false;
  bool dereference = false, unix_data = false, no_acls = false, strict_acls = false, no_replace = false;
  bool rebuild = false, check = false, include_integrity = false, nocheck = false;
  bool force = false, recursive = false, unsafe_compact = false;
};

enum class Op { Add, Delete, Rename };

struct Command {
  Op op;
  std::vector<std::string> args;  // the non-option arguments
  bool dereference = false, unix_data = false, no_replace = false, force = false, recursive = false;
  bool rpfix = false, norpfix = false;
  size_t line = 0;
  std::string text;  // the line as given, for messages
};

std::string where(const Command& c) { return "update command on line " + std::to_string(c.line) + " (" + c.text + ")"; }

// wimupdate's command syntax: words separated by blanks; "..." or '...'
// quote a part of a word (no escapes: backslashes are path separators).
std::vector<std::string> split_words(const std::string& line, size_t lineno) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i >= line.size()) break;
    std::string w;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      char q = line[i];
      if (q == '"' || q == '\'') {
        size_t end = line.find(q, i + 1);
        if (end == std::string::npos)
          fail(Errc::Usage, "update command on line " + std::to_string(lineno) + ": unterminated " + q + "quote" + q);
        w.append(line, i + 1, end - i - 1);
        i = end + 1;
      } else {
        w += line[i++];
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

Command parse_command(const std::string& text, size_t lineno) {
  std::vector<std::string> words = split_words(text, lineno);
  Command c;
  c.line = lineno;
  c.text = text;
  while (!c.text.empty() && (c.text.back() == '\r' || c.text.back() == ' ')) c.text.pop_back();
  c.text.erase(0, c.text.find_first_not_of(" \t"));
  const std::string& name = words[0];
  size_t want;
  if (name == "add")
    c.op = Op::Add, want = 2;
  else if (name == "delete")
    c.op = Op::Delete, want = 1;
  else if (name == "rename")
    c.op = Op::Rename, want = 2;
  else
    fail(Errc::Usage, where(c) + ": unknown update command \"" + name + "\" (commands: add, delete, rename)");
  for (size_t i = 1; i < words.size(); i++) {
    const std::string& w = words[i];
    if (w.size() > 2 && w.compare(0, 2, "--") == 0) {
      bool ok = false;
      if (c.op == Op::Add) {
        ok = true;
        if (w == "--dereference") c.dereference = true;
        else if (w == "--unix-data") c.unix_data = true;
        else if (w == "--no-replace") c.no_replace = true;
        else if (w == "--rpfix") c.rpfix = true;
        else if (w == "--norpfix") c.norpfix = true;
        else if (w == "--no-acls" || w == "--strict-acls") {}  // no ACLs on Linux
        else ok = false;
      } else if (c.op == Op::Delete) {
        ok = true;
        if (w == "--force") c.force = true;
        else if (w == "--recursive") c.recursive = true;
        else ok = false;
      }
      if (!ok) fail(Errc::Usage, where(c) + ": the \"" + name + "\" command has no option " + w);
      continue;
    }
    c.args.push_back(w);
  }
  if (c.args.size() < want)
    fail(Errc::Usage, where(c) + ": not enough arguments (usage: " +
                          (c.op == Op::Add ? "add [OPTION...] SOURCE DESTINATION"
                           : c.op == Op::Delete ? "delete [--force] [--recursive] PATH"
                                                : "rename SOURCE DESTINATION") + ")");
  if (c.args.size() > want)
    fail(Errc::Usage, where(c) + ": unexpected argument \"" + c.args[want] + "\" (\"" + name + "\" takes " +
                          std::to_string(want) + (want == 1 ? " path)" : " paths)"));
  return c;
}

std::vector<Command> read_commands(const UpdateArgs& a) {
  std::vector<Command> out;
  auto take = [&](const std::string& line, size_t n) {
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') return;
    out.push_back(parse_command(line, n));
  };
  if (!a.wimboot_config.empty()) {
    // wimupdate(1): --wimboot-config=FILE stands for the one command
    // "add FILE /Windows/System32/WimBootCompress.ini"; nothing is read from
    // standard input.
    if (a.command_given) fail(Errc::Usage, "--wimboot-config and --command cannot be used together");
    Command c;
    c.op = Op::Add;
    c.args = {a.wimboot_config, "/Windows/System32/WimBootCompress.ini"};
    c.line = 1;
    c.text = "add " + a.wimboot_config + " /Windows/System32/WimBootCompress.ini (--wimboot-config)";
    out.push_back(std::move(c));
  } else if (a.command_given) {
    if (a.command.find('\n') != std::string::npos)
      fail(Errc::Usage, "--command takes a single update command (give several on standard input)");
    take(a.command, 1);
  } else {
    if (::isatty(0)) std::fprintf(stderr, "Reading update commands from standard input (end with Ctrl-D)...\n");
    std::string line;
    size_t n = 0;
    while (std::getline(std::cin, line)) take(line, ++n);
    if (std::cin.bad()) fail(Errc::Failure, "cannot read the update commands from standard input");
  }
  return out;
}

void run_update(UpdateArgs& a) {
  start_command(a.common);
  if (a.check && a.nocheck) fail(Errc::Usage, "--check and --nocheck cannot be used together");
  // Syntax first: a bad command never gets as far as the archive.
  std::vector<Command> cmds = read_commands(a);
  for (auto& c : cmds) {
    c.dereference |= a.dereference;
    c.unix_data |= a.unix_data;
    c.no_replace |= a.no_replace;
    c.force |= a.force;
    c.recursive |= a.recursive;
  }
  bool any_add = std::any_of(cmds.begin(), cmds.end(), [](const Command& c) { return c.op == Op::Add; });
  std::optional<capture::CaptureConfig> config;
  if (any_add) {
    config = a.config.empty() ? capture::CaptureConfig::defaults() : capture::CaptureConfig::load(a.config);
    print_warnings(config->warnings());
  }

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<wim::ArchiveUpdate> update = wim::ArchiveUpdate::open(a.wimfile);
  wim::Archive& ar = *update->existing();
  // --check (wimupdate): verify the integrity table first if there is one.
  if (a.check && ar.has_integrity())
    wim::check_integrity(ar.file().fd(), a.wimfile, ar.file().size(), ar.header());
  print_warnings(ar.warnings());
  const wim::Header& h = ar.header();
  if (h.flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + a.wimfile + "' is marked read-only");
  if (h.part_number != 1 || h.total_parts != 1) fail(Errc::Unsupported, "updating a split WIM is not supported");
  size_t index;
  if (a.image.empty()) {
    if (ar.image_count() != 1)
      fail(Errc::Usage, "'" + a.wimfile + "' has " + std::to_string(ar.image_count()) +
                            " images; say which one to update (an index or a name)");
    index = 1;
  } else {
    index = ar.resolve_image(a.image);
  }
  image::Image img = ar.load_image(index);

  // Run the commands on the loaded image; file data is only read when the
  // writer gets to it.
  capture::ScanResult scanned;  // every add's file sources, in one vector
  capture::LinkTable links;     // a file reached by two adds is one inode (as wimlib)
  image::InodeMap adopted;
  uint64_t now = filetime_now();
  bool rpfix_hdr = h.flags & wim::kHdrRpFix;
  size_t adds = 0, deletes = 0, renames = 0;
  for (const Command& c : cmds) {
    try {
      switch (c.op) {
        case Op::Add: {
          const std::string& dest = c.args[1];
          capture::ScanOptions so;
          so.unix_data = c.unix_data;
          so.dereference = c.dereference;
          so.config = &*config;
          // §9.4: absolute links are fixed up relative to SOURCE only when
          // SOURCE becomes the image root.
          bool to_root = image::split_image_path(dest).empty();
          so.rpfix = to_root && !c.norpfix && (c.rpfix || rpfix_hdr);
          size_t depth = image::split_image_path(dest).size();
          size_t warn_from = scanned.warnings.size();
          std::unique_ptr<image::Dentry> tree = capture::scan_branch(scanned, links, c.args[0], so, so.rpfix, depth);
          for (size_t i = warn_from; i < scanned.warnings.size(); i++) warn(scanned.warnings[i]);
          if (!tree) {
            info(a.common.quiet, "Nothing to add for \"" + c.args[0] + "\" (excluded or skipped)");
            break;
          }
          image::adopt_tree(img, *tree, 0, &adopted);
          image::GraftOptions go;
          go.no_replace = c.no_replace;
          go.now = now;
          image::graft_tree(img, std::move(tree), dest, go);
          adds++;
          break;
        }
        case Op::Delete:
          if (image::delete_path(img, c.args[0], c.force, c.recursive)) deletes++;
          break;
        case Op::Rename:
          image::rename_path(img, c.args[0], c.args[1]);
          renames++;
          break;
      }
    } catch (const Error& e) {
      throw Error(e.code(), where(c) + " failed: " + e.what() + "; '" + a.wimfile + "' was left unchanged");
    }
  }

  wim::WriterOptions wo;
  wo.compression = {h.codec(), 0};
  wo.chunk_size = h.chunk_size;
  wo.source_date_epoch = source_date_epoch();
  wo.pipable = h.pipable;  // rebuilt and still pipable, as with wimlib (wimcapture(1), --pipable)
  wo.integrity = a.check || a.include_integrity || (ar.has_integrity() && !a.nocheck);
  if (h.flags & wim::kHdrRpFix) wo.extra_header_flags |= wim::kHdrRpFix;
  if (wo.compression.codec != Codec::None) make_compressor(wo.compression.codec, 0, 32768);
  fit_to_memory(wo, false);
  // --unsafe-compact wins over --rebuild, as with wimlib-imagex.
  wo.unsafe_compact = a.unsafe_compact;
  if (a.unsafe_compact) warn_unsafe_compact(a.wimfile);
  wim::WriteStats ws;
  size_t image_count = 0;
  try {
    wim::ArchiveWriter& writer = update->begin(wo, !a.rebuild);
    if (!update->in_place()) writer.import_archive(ar, false);
    events::Progress progress("archive", "Archiving file data");
    writer.set_progress([&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); });
    writer.replace_image(index, img, scanned.sources, &ws);
    progress.finish();
    image_count = writer.xml().image_count();
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto st = img.stats();
  JsonObject sum = archive_fields(a.wimfile, update->final_size(), image_count);
  sum.num("image", index).num("added", adds).num("deleted", deletes).num("renamed", renames);
  sum.num("files", st.file_count).num("directories", st.dir_count).num("bytes_total", st.total_bytes);
  sum.num("bytes_in", ws.bytes_read).num("bytes_out", ws.bytes_written).num("blobs_written", ws.blobs_written);
  sum.num("blobs_reused", ws.blobs_deduplicated).real("seconds", secs);
  events::summary("update", sum);
  if (a.common.chatty()) {
    std::printf("Updated image %zu of %s (%zu added, %zu deleted, %zu renamed): %llu directories, %llu files, %s of "
                "data; archive is now %s (%.2f s)\n",
                index, a.wimfile.c_str(), adds, deletes, renames, (unsigned long long)st.dir_count,
                (unsigned long long)st.file_count, format_size(st.total_bytes).c_str(),
                format_size(update->final_size()).c_str(), secs);
  }
}

}  // namespace

void register_update(CLI::App& app) {
  static UpdateArgs a;
  CLI::App* c = app.add_subcommand(
      "update",
      "Change one image: add, delete or rename files, with commands read from standard input (one per line: "
      "'add [--no-replace] [--dereference] [--unix-data] SOURCE DEST', 'delete [--force] [--recursive] PATH', "
      "'rename OLD NEW'; '#' starts a comment, quote paths with \"...\" or '...')");
  c->add_option("WIMFILE", a.wimfile, "Archive to change")->required();
  c->add_option("IMAGE", a.image, "Image index or name (optional if the archive has one image)");
  c->add_option("--command", a.command, "Run this single command instead of reading commands from standard input");
  c->add_option("--wimboot-config", a.wimboot_config,
                "Add FILE as /Windows/System32/WimBootCompress.ini (the image's WIMBoot configuration) instead of "
                "reading commands");
  c->add_flag("--dereference", a.dereference, "add: follow symbolic links in SOURCE (as capture --dereference)");
  c->add_flag("--unix-data", a.unix_data, "add: store UNIX owners, modes, special files and extended attributes");
  c->add_flag("--no-acls", a.no_acls, "add: accepted for compatibility (no effect on Linux: no ACLs are captured)");
  c->add_flag("--strict-acls", a.strict_acls, "add: accepted for compatibility (no effect on Linux)");
  c->add_flag("--no-replace", a.no_replace, "add: refuse to overwrite an existing file in the image");
  c->add_option("--config", a.config,
                "add: capture configuration file (exclusions, matched relative to each SOURCE; default: wimlib's list)");
  c->add_flag("--force", a.force, "delete: a missing path is not an error");
  c->add_flag("--recursive", a.recursive, "delete: directories may be deleted (with everything in them)");
  c->add_flag("--rebuild", a.rebuild, "Rewrite the whole archive (no hole is left) instead of appending in place");
  c->add_flag("--check", a.check, "Verify the integrity table first if there is one, and write one");
  c->add_flag("--include-integrity", a.include_integrity, "Write an integrity table (without verifying first)");
  c->add_flag("--nocheck", a.nocheck, "Do not write an integrity table even if the archive had one");
  c->add_flag("--unsafe-compact", a.unsafe_compact,
              "Update in place and squeeze out the holes, without a temporary file (NOT safe against crashes or "
              "SIGKILL: a failed compaction corrupts the archive)");
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([c] {
    a.command_given = c->count("--command") != 0;
    run_update(a);
  });
}

}  // namespace wp::cmd
