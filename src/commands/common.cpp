#include "commands/common.hpp"

#include <glob.h>
#include <tbb/global_control.h>

#include <cstdio>
#include <memory>

#include "util/cpu.hpp"
#include "util/error.hpp"
#include "util/memory.hpp"
#include "util/size.hpp"

namespace wp::cmd {

namespace {
std::string g_max_memory;  // --max-memory as given, applied by apply_thread_count
}  // namespace

void add_common_options(CLI::App* app, CommonOptions& o) {
  app->add_option("--threads", o.threads, "Number of compression/decompression threads (default: all available CPUs)")
      ->check(CLI::Range(0, 4096));
  app->add_flag("--quiet", o.quiet, "Print only errors and warnings; no progress");
  app->add_option_function<std::string>(
      "--max-memory", [](const std::string& v) { g_max_memory = v; },
      "Memory budget (e.g. 200M, 2G): threads, chunks in flight and solid chunks are sized to stay within it "
      "(default: physical memory or the cgroup limit, whichever is smaller)");
}

namespace {
std::unique_ptr<tbb::global_control> g_control;
int g_requested = 0;
}  // namespace

void add_json_option(CLI::App* app, CommonOptions& o) {
  app->add_flag("--json", o.json,
                "Standard output carries only JSON Lines: progress, warning and summary objects (docs/json-events.md)");
}

void start_command(const CommonOptions& o) {
  events::set_json(o.json);
  events::set_quiet(o.quiet);
  apply_thread_count(o.threads);
}

void apply_thread_count(int threads) {
  g_requested = threads > 0 ? threads : available_cpus();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, size_t(g_requested));
  if (!g_max_memory.empty()) {
    auto v = parse_size(g_max_memory);
    if (!v || *v == 0)
      fail(Errc::Usage, "invalid --max-memory '" + g_max_memory + "' (examples: 200M, 1G, 512MiB)");
    set_memory_budget(*v, "--max-memory=" + g_max_memory);
  }
}

int requested_threads() { return g_requested > 0 ? g_requested : available_cpus(); }

void limit_thread_count(int threads) {
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, size_t(threads));
}

uint32_t parse_chunk_size(const std::string& text, Codec codec, const char* option) {
  auto v = parse_size(text);
  if (!v) fail(Errc::Usage, std::string("invalid ") + option + " '" + text + "' (examples: 32768, 32K, 1M, 64MiB)");
  if (codec == Codec::None) fail(Errc::Usage, std::string(option) + " makes no sense with --compress=none");
  if (!valid_chunk_size(codec, *v))
    fail(Errc::Usage, std::string(option) + " " + text + " is not valid for " + codec_name(codec) +
                          ": use a power of two from " + format_size(min_chunk_size(codec)) + " to " +
                          format_size(max_chunk_size(codec)));
  return uint32_t(*v);
}

std::vector<std::string> ref_paths(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  if (out.empty()) out.push_back(pattern);
  return out;
}

std::vector<std::string> ref_paths(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns)
    for (auto& path : ref_paths(p)) out.push_back(std::move(path));
  return out;
}

void refuse_stdin_wim(const std::string& wimfile, const char* command) {
  if (wimfile == "-")
    fail(Errc::Unsupported, std::string("reading a WIM from standard input ('-') is not supported by '") + command +
                                "' (as with wimlib-imagex: it needs the blob table, which comes last in a pipe); "
                                "save it to a file and give its name (apply, extract, info, dir and verify read '-')");
}

JsonObject archive_fields(const std::string& path, uint64_t size, size_t images) {
  JsonObject o;
  o.str("archive", path).num("archive_size", size).num("images", images);
  return o;
}

void refuse_json_with_data_on_stdout(const CommonOptions& o, const std::string& what) {
  if (o.json)
    fail(Errc::Usage, "--json cannot be used with " + what + ": standard output would carry both data and JSON");
}

void add_windows_noop_options(CLI::App* app, std::initializer_list<const char*> names) {
  // Flags only: parsed so that wimlib-imagex command lines run unchanged.
  static bool sink = false;
  for (const char* name : names)
    app->add_flag(name, sink, "Accepted for compatibility with wimlib-imagex; no effect on Linux");
}

void add_windows_only_options(CLI::App* app, std::initializer_list<const char*> names) {
  for (const char* spec : names) {
    std::string name = spec;
    const bool takes_value = name.back() == '=';
    if (takes_value) name.pop_back();
    auto refuse = [name] {
      fail(Errc::Unsupported, name + " is a Windows-only feature of wimlib-imagex and is not supported on Linux");
    };
    if (takes_value)
      app->add_option_function<std::string>(name, [refuse](const std::string&) { refuse(); },
                                            "Windows only (as with wimlib-imagex on Linux: refused, exit status 5)");
    else
      app->add_flag_callback(name, refuse, "Windows only (as with wimlib-imagex on Linux: refused, exit status 5)");
  }
}

void warn(const std::string& msg) { events::warning(msg); }

namespace {
bool g_stdout_is_data = false;
}

void stdout_carries_data() { g_stdout_is_data = true; }

std::FILE* messages() { return g_stdout_is_data ? stderr : stdout; }

void info(bool quiet, const std::string& msg) {
  if (!quiet && !events::json()) std::fprintf(messages(), "%s\n", msg.c_str());
}

void print_warnings(const std::vector<std::string>& ws) {
  // Many identical-looking warnings (one per file) help nobody: cap them
  // (for a person; a program gets them all).
  size_t shown = 0;
  for (const auto& w : ws) {
    if (shown++ == 20 && !events::json()) {
      warn("... and " + std::to_string(ws.size() - 20) + " more warnings");
      break;
    }
    warn(w);
  }
}

void warn_unsafe_compact(const std::string& path) {
  warn("'" + path + "' is being compacted in place (--unsafe-compact): once data starts moving, a failure, SIGKILL, "
       "a crash or a power cut leaves it corrupted (SIGINT/SIGTERM/SIGHUP wait for the compaction to finish)");
}

}  // namespace wp::cmd
