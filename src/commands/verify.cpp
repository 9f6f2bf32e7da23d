// wimpack verify WIMFILE [--ref=GLOB]... [--nocheck] [--json]
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "commands/common.hpp"
#include "util/error.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/pipe_reader.hpp"
#include "wim/split.hpp"
#include "wim/verify.hpp"

namespace wp::cmd {
namespace {

struct VerifyArgs {
  CommonOptions common;
  std::string wimfile;
  std::vector<std::string> refs;
  bool nocheck = false;
};

const char* integrity_name(wim::VerifyReport::Integrity i) {
  switch (i) {
    case wim::VerifyReport::Integrity::Ok: return "ok";
    case wim::VerifyReport::Integrity::Absent: return "absent";
    case wim::VerifyReport::Integrity::Skipped: return "skipped";
    case wim::VerifyReport::Integrity::Bad: return "bad";
  }
  return "?";
}

void print_json(const std::string& wimfile, const wim::VerifyReport* r, const std::string& open_error) {
  // One document, on one line: also the "summary" object of the JSON Lines
  // contract (docs/json-events.md), so that both kinds of reader take it.
  std::string o = "{\"type\":\"summary\",\"version\":" + std::to_string(events::kSchemaVersion) +
                  ",\"command\":\"verify\",\"path\":" + json_string(wimfile) + ",\"archive\":" + json_string(wimfile);
  bool ok = r && r->ok();
  o += ",\"ok\":" + std::string(ok ? "true" : "false");
  if (r) {
    o += ",\"integrity\":\"" + std::string(integrity_name(r->integrity)) + "\"";
    o += ",\"images\":" + std::to_string(r->images) + ",\"images_ok\":" + std::to_string(r->images_ok);
    o += ",\"blobs_referenced\":" + std::to_string(r->referenced);
    o += ",\"blobs_checked\":" + std::to_string(r->blobs) + ",\"bytes_checked\":" + std::to_string(r->bytes);
  }
  o += ",\"problems\":[";
  if (!r) {
    o += "{\"kind\":\"open\",\"archive\":" + json_string(wimfile) + ",\"message\":" + json_string(open_error) + "}";
  } else {
    bool first = true;
    for (const auto& p : r->problems) {
      o += first ? "" : ",";
      first = false;
      o += "{\"kind\":" + json_string(p.kind) + ",\"archive\":" + json_string(p.archive);
      if (p.image) o += ",\"image\":" + std::to_string(p.image);
      if (!p.hash.empty()) o += ",\"hash\":" + json_string(p.hash);
      o += ",\"message\":" + json_string(p.message) + "}";
    }
  }
  o += "]}";
  std::printf("%s\n", o.c_str());
}

void run_verify(VerifyArgs& a) {
  // --json: one document on stdout (not JSON Lines), warnings as text on
  // stderr, an error as a JSON object on stderr.
  CommonOptions common = a.common;
  common.json = false;
  start_command(common);
  events::set_json_errors(a.common.json);
  const bool chatty = a.common.chatty();
  const std::string shown = a.wimfile == "-" ? "standard input" : a.wimfile;
  std::unique_ptr<wim::Archive> archive;
  std::unique_ptr<wim::PipeReader> pipe;
  try {
    if (a.wimfile == "-") {
      // A pipable WIM on standard input, checked as it streams past.
      if (!a.refs.empty()) fail(Errc::Usage, "--ref cannot be used when reading the WIM from standard input");
      pipe = std::make_unique<wim::PipeReader>(STDIN_FILENO, "standard input");
    }
    if (!pipe) archive = wim::Archive::open(a.wimfile, false);
    if (archive) {
      wim::resolve_delta_bases(*archive, ref_paths(a.refs));
      wim::check_split_refs(*archive);
    }
  } catch (const Error& e) {
    if (a.common.json) print_json(a.wimfile, nullptr, e.what());
    throw;
  }
  if (archive) print_warnings(archive->warnings());
  if (chatty && pipe)
    warn("the integrity table of a WIM read from standard input cannot be checked; skipping the integrity check");
  if (chatty && archive && !archive->has_integrity())
    warn("'" + a.wimfile + "' does not contain an integrity table; skipping the integrity check");

  wim::VerifyOptions vo;
  vo.check_integrity = !a.nocheck;
  std::unique_ptr<events::Progress> progress;
  vo.phase = [&](const std::string& s) {
    if (!chatty) return;
    if (progress) progress->finish();
    progress.reset();
    if (s == "Verifying file data")
      progress = std::make_unique<events::Progress>("verify", s);
    else
      std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  };
  vo.progress = [&](uint64_t d, uint64_t t) {
    if (progress) progress->update(d, t);
  };
  wim::VerifyReport r = pipe ? wim::verify_pipe(*pipe, vo) : wim::verify_archive(*archive, vo);
  if (pipe) pipe->drain();
  if (progress) progress->finish();

  if (a.common.json) print_json(a.wimfile, &r, "");
  if (r.ok()) {
    if (chatty)
      std::printf("\"%s\" was successfully verified (%zu image%s, %llu blobs).\n", shown.c_str(), r.images,
                  r.images == 1 ? "" : "s", static_cast<unsigned long long>(r.blobs));
    return;
  }
  std::fflush(stdout);
  if (!a.common.json)
    for (size_t i = 1; i < r.problems.size(); i++) std::fprintf(stderr, "wimpack: error: %s\n", r.problems[i].message.c_str());
  const auto& first = r.problems[0];
  fail(first.code, first.message + (r.problems.size() > 1 ? " (" + std::to_string(r.problems.size() - 1) +
                                                                  " more problem(s) listed above)"
                                                            : "") +
                       "; " + (pipe ? shown : "'" + shown + "'") + " failed verification");
}

}  // namespace

void register_verify(CLI::App& app) {
  static VerifyArgs a;
  CLI::App* c = app.add_subcommand("verify", "Verify an archive: integrity table, metadata, every blob's SHA-1, no missing blobs");
  c->add_option("WIMFILE", a.wimfile, "Archive to verify")->required();
  c->add_option("--ref", a.refs, "Additional archive(s) holding blobs (delta bases, split parts), as a glob; repeatable")
      ->allow_extra_args(false);  // "--ref GLOB PATH": PATH is not a second glob
  c->add_flag("--nocheck", a.nocheck, "Do not check the integrity table");
  c->add_flag("--json", a.common.json, "Print the result as one JSON document on stdout (docs/json-events.md)");
  add_common_options(c, a.common);
  c->callback([] { run_verify(a); });
}

}  // namespace wp::cmd
