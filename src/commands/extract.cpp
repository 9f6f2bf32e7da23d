// wimpack extract WIMFILE [IMAGE] [(PATH | @LISTFILE)...]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "apply/extract_image.hpp"
#include "apply/extract_pipe.hpp"
#include "apply/select.hpp"
#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/env.hpp"
#include "util/printable.hpp"
#include "util/size.hpp"
#include "util/utf.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct ExtractArgs {
  CommonOptions common;
  std::vector<std::string> positional;
  std::vector<std::string> refs;
  std::string dest_dir = ".";
  bool to_stdout = false, unix_data = false, no_wildcards = false, nullglob = false, preserve = false, check = false,
       recover_data = false;
};

struct PathArg {
  std::string path;
  bool from_listfile;
};

// A listfile (wimextract(1)): UTF-8 or UTF-16LE (with BOM), one path a line;
// blank lines and lines starting with ';' or '#' are skipped, surrounding
// whitespace ignored.
std::vector<std::string> read_listfile(const std::string& name) {
  std::string data;
  if (name == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(name, std::ios::binary);
    if (!in) fail_errno("cannot open listfile", name, errno);
    data.assign(std::istreambuf_iterator<char>(in), {});
  }
  if (data.size() >= 2 && uint8_t(data[0]) == 0xFF && uint8_t(data[1]) == 0xFE) {
    ByteSpan b(reinterpret_cast<const uint8_t*>(data.data()) + 2, (data.size() - 2) & ~size_t(1));
    data = utf16_to_utf8(utf16le_decode(b));
  } else if (data.size() >= 3 && data.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    data.erase(0, 3);
  }
  std::vector<std::string> out;
  size_t i = 0;
  while (i < data.size()) {
    size_t j = data.find('\n', i);
    if (j == std::string::npos) j = data.size();
    std::string line = data.substr(i, j - i);
    i = j + 1;
    size_t b = line.find_first_not_of(" \t\r\f\v");
    if (b == std::string::npos) continue;
    size_t e = line.find_last_not_of(" \t\r\f\v");
    line = line.substr(b, e - b + 1);
    if (line[0] == ';' || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

void run_extract(ExtractArgs& a) {
  start_command(a.common);
  if (a.positional.empty()) fail(Errc::Usage, "usage: wimpack extract WIMFILE [IMAGE] [(PATH | @LISTFILE)...]");
  const std::string& wimfile = a.positional[0];
  if (a.to_stdout) refuse_json_with_data_on_stdout(a.common, "--to-stdout");
  // WIMFILE "-": a pipable WIM on standard input, read once, front to back
  // (wim-format.md §12.4): the metadata first, then only the selected
  // files' blobs are kept as the data streams past.
  std::unique_ptr<wim::Archive> archive;
  std::unique_ptr<wim::PipeReader> pipe;
  if (wimfile == "-") {
    if (!a.refs.empty()) fail(Errc::Usage, "--ref cannot be used when reading the WIM from standard input");
    for (size_t i = 2; i < a.positional.size(); i++)
      if (a.positional[i] == "@-")
        fail(Errc::Usage, "@- (a listfile on standard input) cannot be used when the WIM is read from standard input");
    pipe = std::make_unique<wim::PipeReader>(STDIN_FILENO, "standard input");
    if (a.check) warn("--check: the integrity table cannot be verified when reading from a pipe; ignored");
  } else {
    archive = wim::Archive::open(wimfile, a.check);
    print_warnings(archive->warnings());
    wim::resolve_delta_bases(*archive, ref_paths(a.refs));
    wim::check_split_refs(*archive);
  }
  const size_t image_count = archive ? archive->image_count() : pipe->image_count();

  size_t index;
  if (a.positional.size() >= 2) {
    index = archive ? archive->resolve_image(a.positional[1]) : pipe->resolve_image(a.positional[1]);
  } else {
    if (image_count != 1)
      fail(Errc::Usage, "'" + wimfile + "' contains " + std::to_string(image_count) +
                            " images; say which one to extract from (an index or a name)");
    index = 1;
  }

  std::vector<PathArg> paths;
  for (size_t i = 2; i < a.positional.size(); i++) {
    const std::string& p = a.positional[i];
    if (!p.empty() && p[0] == '@') {
      for (auto& l : read_listfile(p.substr(1))) paths.push_back({l, true});
    } else {
      paths.push_back({p, false});
    }
  }
  const bool whole = a.positional.size() <= 2;

  image::Image img = archive ? archive->load_image(index) : pipe->read_image(index);
  apply::SelectOptions so;
  so.wildcards = !a.no_wildcards;
  so.ignore_case = ignore_case_from_env();
  std::vector<apply::ExtractItem> items;
  if (whole) items.push_back({img.root(), false});
  for (const PathArg& p : paths) {
    auto found = apply::select_paths(img, p.path, so);
    if (found.empty()) {
      // wimlib: every path is a glob unless --no-wildcards; --nullglob lets
      // a glob match nothing.
      if (a.nullglob && !a.no_wildcards) {
        warn("no matches for path pattern '" + printable(p.path) + "'");
        continue;
      }
      fail(Errc::NotFound, "'" + printable(p.path) + "' does not exist in image " + std::to_string(index) + " of '" +
                               wimfile + "'" + (a.no_wildcards ? "" : " (--nullglob ignores patterns that match nothing)") +
                               "; 'wimpack dir " + wimfile + " " + std::to_string(index) + "' lists its files");
    }
    for (const image::Dentry* d : found) items.push_back({d, a.preserve || p.from_listfile});
  }

  if (a.to_stdout) {
    for (const auto& it : items)
      if (it.dentry->inode->is_directory() || it.dentry->inode->is_reparse_point() || it.dentry == img.root())
        fail(Errc::Failure, "'" + printable(it.dentry->path()) +
                                "' is not a regular file and therefore cannot be extracted to standard output");
    std::fflush(stdout);
    if (pipe) {
      std::vector<std::pair<const image::Inode*, std::string>> files;
      for (const auto& it : items) files.emplace_back(it.dentry->inode, it.dentry->path());
      apply::write_files_from_pipe(*pipe, files, STDOUT_FILENO);
      pipe->drain_checked();
      return;
    }
    for (const auto& it : items)
      apply::write_file_data(*archive, index, *it.dentry->inode, it.dentry->path(), STDOUT_FILENO);
    return;
  }
  auto summarize = [&](const image::ImageStats& st, uint64_t bytes, uint64_t blobs, size_t warnings, double secs) {
    JsonObject sum = archive_fields(wimfile, archive ? archive->file().size() : 0, image_count);
    sum.num("image", index).str("target", a.dest_dir).num("paths", items.size()).num("files", st.file_count);
    sum.num("directories", st.dir_count).num("bytes_out", bytes).num("blobs", blobs).num("warnings", warnings);
    sum.real("seconds", secs);
    events::summary("extract", sum);
  };
  if (items.empty()) {  // --nullglob and nothing matched
    if (pipe) pipe->drain_checked();
    summarize({}, 0, 0, 0, 0);
    return;
  }

  image::Image tree = apply::build_extract_tree(img, items);
  apply::ApplyOptions ao;
  ao.unix_data = a.unix_data;
  ao.root_metadata = false;
  // wimlib-imagex extract never fixes absolute links, not even for the whole
  // image (unlike apply, §9.4): their targets are written as stored.
  ao.rpfix = false;
  ao.recover_data = a.recover_data;
  auto t0 = std::chrono::steady_clock::now();
  events::Progress progress("extract", "Extracting file data");
  const image::ImageStats tree_stats = tree.stats();
  progress.set_files_total(tree_stats.file_count);
  auto on_progress = [&](uint64_t d, uint64_t t, uint64_t f) { progress.update(d, t, f); };
  apply::ExtractResult r;
  if (pipe) {
    r = apply::extract_tree_from_pipe(*pipe, img, tree, a.dest_dir, ao, on_progress);
    pipe->drain_checked();
  } else {
    r = apply::extract_tree(*archive, index, tree, a.dest_dir, ao, on_progress);
  }
  progress.finish();
  print_warnings(r.warnings);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summarize(tree_stats, r.bytes, r.blobs, r.warnings.size(), secs);
  if (a.common.chatty())
    std::printf("Extracted %zu path%s from image %zu of %s to %s: %s of file data (%.2f s)\n", items.size(),
                items.size() == 1 ? "" : "s", index, wimfile.c_str(), a.dest_dir.c_str(), format_size(r.bytes).c_str(),
                secs);
}

}  // namespace

void register_extract(CLI::App& app) {
  static ExtractArgs a;
  CLI::App* c = app.add_subcommand("extract", "Extract files or directory trees from an image of a WIM archive");
  c->add_option("WIMFILE [IMAGE] [PATH|@LISTFILE...]", a.positional,
                "Archive, image (index or name; optional for single-image archives when no path is given), in-image "
                "paths (wildcards * and ?) or @LISTFILE (one path a line; @- reads stdin)")
      ->required();
  c->add_option("--dest-dir", a.dest_dir, "Extract into this directory (default: the current directory)");
  c->add_flag("--to-stdout", a.to_stdout, "Write the contents of the selected regular files to standard output");
  c->add_option("--ref", a.refs, "Additional archive(s) holding blobs (delta bases, split parts), as a glob; repeatable")
      ->allow_extra_args(false);  // "--ref GLOB PATH": PATH is not a second glob
  c->add_flag("--unix-data", a.unix_data, "Restore UNIX owners, modes, special files and extended attributes");
  c->add_flag("--no-wildcards,--no-globs", a.no_wildcards, "Take paths literally ('*' and '?' are ordinary characters)");
  c->add_flag("--nullglob", a.nullglob, "A path that matches nothing is skipped with a warning instead of an error");
  c->add_flag("--preserve-dir-structure", a.preserve,
              "Recreate each path's parent directories under the destination (default for listfile paths)");
  c->add_flag("--check", a.check, "Verify the integrity table before extracting");
  c->add_flag("--recover-data", a.recover_data,
              "Extract a corrupt file anyway (undecodable parts zero-filled) with a warning, instead of failing");
  add_windows_noop_options(c);
  add_windows_only_options(c, {"--wimboot", "--compact="});
  add_common_options(c, a.common);
  add_json_option(c, a.common);
  c->callback([] { run_extract(a); });
}

}  // namespace wp::cmd
