// Pieces shared by the subcommands: global options, size/codec validation,
// messages.
#pragma once

#include <cstdio>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "compress/codec.hpp"
#include "util/events.hpp"
#include "util/json.hpp"

namespace wp::cmd {

struct CommonOptions {
  int threads = 0;  // 0 = all available CPUs
  bool quiet = false;
  bool json = false;  // --json (commands that call add_json_option)
  // Messages for a person on stdout: neither --quiet nor --json.
  bool chatty() const { return !quiet && !json; }
};

void add_common_options(CLI::App* app, CommonOptions& o);
// --json: JSON Lines events on stdout (docs/json-events.md).
void add_json_option(CLI::App* app, CommonOptions& o);
// Sets up util/events for this run (--json, --quiet) and the thread count;
// the first thing each command does.
void start_command(const CommonOptions& o);
// Sets the process-wide thread count for the TBB pipelines, and the memory
// budget (--max-memory, util/memory.hpp; Errc::Usage for a bad size).
void apply_thread_count(int threads);
// The thread count asked for (--threads, else all CPUs), before any
// reduction for the memory budget.
int requested_threads();
// Lowers the thread count actually used (the memory budget), keeping the
// request for requested_threads().
void limit_thread_count(int threads);

// Parses "--chunk-size" style values for a codec; throws Errc::Usage with the
// allowed range when the size is not valid for it.
uint32_t parse_chunk_size(const std::string& text, Codec codec, const char* option);

// --ref=GLOB: the matching paths; a pattern that matches nothing is used
// literally (wim-format.md §13.2).
std::vector<std::string> ref_paths(const std::string& pattern);
std::vector<std::string> ref_paths(const std::vector<std::string>& patterns);  // every --ref, expanded

// WIMFILE "-" (a pipable WIM on standard input) is read by apply, extract,
// dir and verify; info refuses it plainly (exit 5, as wimlib-imagex refuses
// it) instead of looking for a file named "-".
void refuse_stdin_wim(const std::string& wimfile, const char* command);

// Options wimlib-imagex's apply and extract accept for Windows-only features
// (ACLs, attributes, names Windows cannot hold): accepted
// and ignored, as they have no effect on Linux.
void add_windows_noop_options(CLI::App* app,
                              std::initializer_list<const char*> names = {"--no-acls", "--strict-acls",
                                                                          "--no-attributes", "--include-invalid-names"});
// Registers wimlib-imagex options for features that exist only on Windows
// (apply --wimboot, --compact=FORMAT; capture --snapshot): a command line
// that uses one parses, and is refused with Errc::Unsupported (exit 5)
// before any work, as wimlib-imagex does on Linux. A name ending in '='
// takes a value.
void add_windows_only_options(CLI::App* app, std::initializer_list<const char*> names);

// A warning (events::warning: a line on stderr, or a JSON warning object).
void warn(const std::string& msg);
// A message for a person; dropped with --quiet or --json.
void info(bool quiet, const std::string& msg);
// Standard output carries the archive (WIMFILE "-"): from now on info() and
// messages() go to standard error.
void stdout_carries_data();
// Where informational output goes: stdout, or stderr after stdout_carries_data().
std::FILE* messages();
void print_warnings(const std::vector<std::string>& ws);
// --unsafe-compact (wimoptimize(1)): says on stderr, as wimlib-imagex does,
// that the archive is compacted in place and must not be interrupted.
void warn_unsafe_compact(const std::string& path);

// Summary fields every command that writes an archive reports (--json):
// "archive" (its path), "archive_size" (bytes, as `info` says) and "images"
// (its image count).
JsonObject archive_fields(const std::string& path, uint64_t size, size_t images);
// A --json run whose standard output would carry data: refused (exit 2).
void refuse_json_with_data_on_stdout(const CommonOptions& o, const std::string& what);

// Registration of each subcommand (one file each).
void register_capture(CLI::App& app);  // capture and append
void register_apply(CLI::App& app);
void register_info(CLI::App& app);
void register_optimize(CLI::App& app);
void register_update(CLI::App& app);
void register_export(CLI::App& app);
void register_delete(CLI::App& app);
void register_split(CLI::App& app);
void register_join(CLI::App& app);
void register_extract(CLI::App& app);
void register_dir(CLI::App& app);
void register_verify(CLI::App& app);
void register_mount(CLI::App& app);    // mount (read-only) and unmount
void register_mountrw(CLI::App& app);
void register_unmount(CLI::App& app);

}  // namespace wp::cmd
