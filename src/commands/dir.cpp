// wimpack dir WIMFILE [IMAGE] [--path=PATH] [--detailed] [--one-file-only]
#include <cstdio>
#include <cstdlib>

#include <unistd.h>

#include "apply/dir_listing.hpp"
#include "apply/select.hpp"
#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/env.hpp"
#include "util/printable.hpp"
#include "wim/archive.hpp"
#include "wim/pipe_reader.hpp"
#include "wim/delta_chain.hpp"
#include "wim/split.hpp"

namespace wp::cmd {
namespace {

struct DirArgs {
  CommonOptions common;
  std::vector<std::string> positional;
  std::vector<std::string> refs;
  std::string path = "/";
  bool detailed = false, one_file_only = false;
};

void list(const DirArgs& a, const wim::Archive* archive, const image::Image& img, size_t index,
          const std::string& wimfile) {
  // --path is looked up literally (no wildcards), as by wimlib-imagex.
  apply::SelectOptions so;
  so.wildcards = false;
  so.ignore_case = ignore_case_from_env();
  auto found = apply::select_paths(img, a.path, so);
  if (found.empty())
    fail(Errc::NotFound, "'" + printable(a.path) + "' does not exist in image " + std::to_string(index) + " of '" +
                             wimfile + "'");
  apply::ListOptions lo;
  lo.detailed = a.detailed;
  lo.one_file_only = a.one_file_only;
  if (a.common.json) return apply::list_tree_json(*found[0], lo, wimfile, index, stdout);
  apply::list_tree(archive, img, *found[0], lo, stdout);
}

// WIMFILE "-": the metadata resources come right after the header and the
// XML (wim-format.md §12.1), so the image is listed as soon as they are
// read; the rest of the input is then read and dropped, so that the writer
// is not cut off.
void dir_from_pipe(const DirArgs& a) {
  if (!a.refs.empty()) fail(Errc::Usage, "--ref cannot be used when reading the WIM from standard input");
  wim::PipeReader pipe(STDIN_FILENO, "standard input");
  size_t index = 1;
  if (a.positional.size() == 2)
    index = pipe.resolve_image(a.positional[1]);
  else if (pipe.image_count() != 1)
    fail(Errc::Usage, "the WIM on standard input contains " + std::to_string(pipe.image_count()) +
                          " images; say which one to list (an index or a name)");
  image::Image img = pipe.read_image(index);
  list(a, nullptr, img, index, "-");
  std::fflush(stdout);
  pipe.drain_checked();
}

void run_dir(DirArgs& a) {
  // --json: one document on stdout; warnings as text on stderr, an error
  // as a JSON object on stderr.
  CommonOptions common = a.common;
  common.json = false;
  start_command(common);
  events::set_json_errors(a.common.json);
  if (a.common.json && a.detailed)
    fail(Errc::Usage, "--detailed cannot be combined with --json (the JSON listing has one object per path)");
  if (a.positional.empty() || a.positional.size() > 2) fail(Errc::Usage, "usage: wimpack dir WIMFILE [IMAGE]");
  const std::string& wimfile = a.positional[0];
  // WIMFILE "-": listed as it streams by, except --detailed, which needs
  // the blob table (last in a pipe, §12.1): the stream is then copied to an
  // anonymous temporary file and read as a file.
  if (wimfile == "-" && !a.detailed) return dir_from_pipe(a);
  auto archive = wimfile == "-" ? wim::Archive::open_stdin() : wim::Archive::open(wimfile, false);
  print_warnings(archive->warnings());
  wim::resolve_delta_bases(*archive, ref_paths(a.refs));
  wim::check_split_refs(*archive);
  size_t index;
  if (a.positional.size() == 2) {
    index = archive->resolve_image(a.positional[1]);
  } else {
    if (archive->image_count() != 1)
      fail(Errc::Usage, "'" + wimfile + "' contains " + std::to_string(archive->image_count()) +
                            " images; say which one to list (an index or a name)");
    index = 1;
  }
  image::Image img = archive->load_image(index);
  list(a, archive.get(), img, index, wimfile);
}

}  // namespace

void register_dir(CLI::App& app) {
  static DirArgs a;
  CLI::App* c = app.add_subcommand("dir", "List the files and directories of an image of a WIM archive");
  c->add_option("WIMFILE [IMAGE]", a.positional, "Archive, image (index or name; optional for single-image archives)")
      ->required()
      ->expected(1, 2);
  c->add_option("--path", a.path, "List only this in-image path (and what is under it)");
  c->add_flag("--detailed", a.detailed, "Print each file's attributes, times, link group, UNIX data and streams");
  c->add_flag("--one-file-only", a.one_file_only, "List only the --path itself, not what is under it");
  c->add_option("--ref", a.refs, "Additional archive(s) holding blobs (delta bases, split parts), as a glob; repeatable")
      ->allow_extra_args(false);  // "--ref GLOB PATH": PATH is not a second glob
  c->add_flag("--json", a.common.json, "Print the listing as one JSON document on stdout (docs/json-events.md)");
  add_common_options(c, a.common);
  c->callback([] { run_dir(a); });
}

}  // namespace wp::cmd
