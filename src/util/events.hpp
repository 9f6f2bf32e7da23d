// The one place where a command's events go: progress, warnings, the final
// summary and a fatal error. Rendered for a person (a progress line on a
// terminal, "wimpack: warning: ..." on stderr) or, with --json, as JSON Lines
// on stdout (docs/json-events.md: one object per line, each with "type" and
// "version"). The layers below report through callbacks; the commands pass
// what they get here. Thread-safe: pipeline threads may report.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "util/json.hpp"

namespace wp {

class Error;

namespace events {

// The schema version carried by every JSON object (docs/json-events.md).
inline constexpr int kSchemaVersion = 1;

// Process-wide settings, set once by the command before any work.
// JSON Lines on stdout (the commands that do work); implies JSON errors.
void set_json(bool json);
bool json();
// Only the error as a JSON object on stderr (info, dir and verify --json,
// which print one document on stdout and warnings as text on stderr).
void set_json_errors(bool json);
// --quiet: no progress (a line on a terminal, or progress objects); warnings
// and the summary still go out.
void set_quiet(bool quiet);
bool quiet();

// One JSON Lines object of `type` on stdout ("type" and "version" put
// first). Only in JSON mode; a no-op otherwise.
void emit(const std::string& type, const JsonObject& fields);

// A warning: "wimpack: warning: MSG" on stderr, or a "warning" object
// ("message", and "path" when the message quotes one: the first '...').
void warning(const std::string& msg);

// The summary object (JSON mode only; a person gets the command's own line).
void summary(const std::string& command, const JsonObject& fields);

// A fatal error: "wimpack: error: MSG" on stderr, or, in JSON mode, one
// "error" object on stderr (category, message, path, exit_code).
void error(const Error& e);
void error(int exit_code, const std::string& category, const std::string& message);

// Progress of one phase of work (bytes, and files when known): a live line on
// a terminal (stderr) for a person; "progress" objects at most 4 a second,
// plus a final one from finish(), in JSON mode. Nothing with --quiet, nor on
// a non-terminal in human mode.
class Progress {
public:
  // `phase`: a short identifier ("archive", "apply", ...); `label`: what a
  // person reads ("Archiving file data").
  Progress(std::string phase, std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Total number of files the phase handles, when the command knows it; the
  // final report then counts them all done.
  void set_files_total(uint64_t n);
  // `files_done`: files whose data is complete so far, when the layer counts
  // them (never more than the total: files with no new data, such as empty
  // or already stored ones, are only counted by finish()).
  void update(uint64_t done, uint64_t total, std::optional<uint64_t> files_done = std::nullopt);
  void finish();

private:
  void report(bool final);
  std::string phase_, label_;
  bool human_, json_;
  bool drawn_ = false, finished_ = false, any_ = false;
  uint64_t done_ = 0, total_ = 0;
  std::optional<uint64_t> files_total_, files_done_;
  std::chrono::steady_clock::time_point start_, last_;
  std::mutex mutex_;
};

}  // namespace events
}  // namespace wp
