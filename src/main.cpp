// wimpack: the command line. Subcommands live in src/commands/; this file
// maps errors to exit codes (documented in README.md).
#include <CLI/CLI.hpp>
#include <spdlog/cfg/env.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <vector>

#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/events.hpp"
#include "util/file.hpp"
#include "util/timer.hpp"

namespace {

// Warnings the layers log through spdlog go where the command's own warnings
// go (util/events: stderr, or a JSON warning object with --json); other
// levels (SPDLOG_LEVEL=debug diagnostics) to stderr.
class EventsSink : public spdlog::sinks::base_sink<std::mutex> {
protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (msg.level == spdlog::level::warn) {
      wp::events::warning(text);
      return;
    }
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace wp;
  auto logger = std::make_shared<spdlog::logger>("wimpack", std::make_shared<EventsSink>());
  logger->set_pattern("wimpack: %l: %v");
  spdlog::set_default_logger(logger);
  spdlog::cfg::load_env_levels();  // SPDLOG_LEVEL=debug for diagnostics
  install_cleanup_signal_handlers();

  CLI::App app{"wimpack: capture, apply and inspect WIM (Windows Imaging) archives.\n"
               "Command line compatible with wimlib-imagex; adds zstd and LZMA compression."};
  app.set_version_flag("--version", std::string("wimpack ") + WIMPACK_VERSION + " (commit " + WIMPACK_COMMIT + ")");
  app.require_subcommand(1);
  app.fallthrough(false);
  cmd::register_capture(app);
  cmd::register_apply(app);
  cmd::register_info(app);
  cmd::register_optimize(app);
  cmd::register_update(app);
  cmd::register_export(app);
  cmd::register_delete(app);
  cmd::register_split(app);
  cmd::register_join(app);
  cmd::register_extract(app);
  cmd::register_dir(app);
  cmd::register_verify(app);
  cmd::register_mount(app);
  cmd::register_mountrw(app);
  cmd::register_unmount(app);

  // As with wimlib-imagex's getopt, a repeatable option takes one value per
  // occurrence: "--ref 'b*.swm' 1 out" leaves 1 and out positional.
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    for (CLI::Option* opt : sub->get_options([](CLI::Option* o) { return o->nonpositional() && o->get_items_expected_max() > 1; }))
      opt->allow_extra_args(false);

  // Called as wimCMD (a link to the binary named wimcapture, wimapply, ...),
  // run CMD, as wimlib-imagex does.
  std::vector<char*> args(argv, argv + argc);
  std::string prog = argv[0];
  if (size_t slash = prog.rfind('/'); slash != std::string::npos) prog = prog.substr(slash + 1);
  std::string via_name;
  if (prog.size() > 3 && prog.compare(0, 3, "wim") == 0 && prog != "wimpack") {
    via_name = prog.substr(3);
    args.insert(args.begin() + 1, via_name.data());
  }
  argc = int(args.size());
  argv = args.data();

  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) known |= sub->get_name() == argv[1];
    if (!known) {
      std::fprintf(stderr, "wimpack: unknown command '%s' (commands: capture, append, apply, extract, info, dir, verify, optimize, export, delete, update, split, join, mount, mountrw, unmount; see 'wimpack --help')\n", argv[1]);
      return int(Errc::Usage);
    }
  }
  // --json: an error is one JSON object on stderr, even a usage error found
  // before the command starts.
  bool json_errors = false;
  for (int i = 1; i < argc; i++) json_errors |= std::string(argv[i]) == "--json";
  // --debug-timings, on any command: one line per phase (util/timer.hpp).
  // Taken out here so that every subcommand accepts it.
  for (auto it = args.begin() + 1; it != args.end();)
    if (std::string(*it) == "--debug-timings")
      enable_timings(true), it = args.erase(it);
    else
      ++it;
  argc = int(args.size());
  argv = args.data();
  events::set_json_errors(json_errors);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (json_errors) {
      events::error(int(Errc::Usage), "usage", e.what());
      return int(Errc::Usage);
    }
    std::fprintf(stderr, "wimpack: %s\nRun 'wimpack --help' or 'wimpack COMMAND --help' for usage.\n", e.what());
    return int(Errc::Usage);
  } catch (const Error& e) {
    events::error(e);
    return int(e.code());
  } catch (const std::bad_alloc&) {
    events::error(int(Errc::Failure), "failure", "out of memory");
    return int(Errc::Failure);
  } catch (const std::exception& e) {
    events::error(int(Errc::Failure), "failure", e.what());
    return int(Errc::Failure);
  }
  return 0;
}
