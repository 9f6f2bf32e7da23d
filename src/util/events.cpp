#include "util/events.hpp"

#include <unistd.h>

#include <cstdio>

#include "util/error.hpp"
#include "util/size.hpp"

namespace wp::events {
namespace {

bool g_json = false, g_json_errors = false, g_quiet = false;
std::mutex g_out;  // one line at a time, whichever thread reports

// What a person sees for `secs` seconds: 42 s, 3:05, 1:02:03.
std::string format_duration(double secs) {
  auto s = uint64_t(secs + 0.5);
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%llu s", (unsigned long long)s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%llu:%02llu", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
  else
    std::snprintf(b, sizeof b, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                  (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
  return b;
}

const char* category_name(int code) {
  switch (Errc(code)) {
    case Errc::Failure: return "failure";
    case Errc::Usage: return "usage";
    case Errc::BadArchive: return "bad_archive";
    case Errc::NotFound: return "not_found";
    case Errc::Unsupported: return "unsupported";
    case Errc::Changed: return "changed";
    case Errc::Busy: return "busy";
    case Errc::Interrupted: return "interrupted";
  }
  return "failure";
}

// The path a message is about: its first '...'-quoted text, if any.
std::optional<std::string> quoted_path(const std::string& msg) {
  size_t b = msg.find('\'');
  if (b == std::string::npos) return std::nullopt;
  size_t e = msg.find('\'', b + 1);
  if (e == std::string::npos || e == b + 1) return std::nullopt;
  return msg.substr(b + 1, e - b - 1);
}

std::string line(const std::string& type, const JsonObject& fields) {
  std::string body = fields.text();
  std::string o = "{\"type\":" + json_string(type) + ",\"version\":" + std::to_string(kSchemaVersion);
  if (body.size() > 2) o += "," + body.substr(1, body.size() - 2);
  return o + "}\n";
}

}  // namespace

void set_json(bool json) {
  g_json = json;
  g_json_errors |= json;
}
void set_json_errors(bool json) { g_json_errors = json; }
bool json() { return g_json; }
void set_quiet(bool quiet) { g_quiet = quiet; }
bool quiet() { return g_quiet; }

void emit(const std::string& type, const JsonObject& fields) {
  if (!g_json) return;
  std::string l = line(type, fields);
  std::lock_guard lk(g_out);
  std::fwrite(l.data(), 1, l.size(), stdout);
  std::fflush(stdout);
}

void warning(const std::string& msg) {
  if (g_json) {
    JsonObject o;
    o.str("message", msg);
    if (auto p = quoted_path(msg)) o.str("path", *p);
    emit("warning", o);
    return;
  }
  std::lock_guard lk(g_out);
  std::fprintf(stderr, "wimpack: warning: %s\n", msg.c_str());
}

void summary(const std::string& command, const JsonObject& fields) {
  if (!g_json) return;
  std::string body = fields.text();
  JsonObject o;
  o.str("command", command);
  std::string l = o.text();
  if (body.size() > 2) l = l.substr(0, l.size() - 1) + "," + body.substr(1);
  std::string out = "{\"type\":\"summary\",\"version\":" + std::to_string(kSchemaVersion) + "," + l.substr(1) + "\n";
  std::lock_guard lk(g_out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

static void error_impl(int exit_code, const std::string& category, const std::string& message,
                       const std::string& path) {
  std::fflush(stdout);
  std::lock_guard lk(g_out);
  if (!g_json_errors) {
    std::fprintf(stderr, "wimpack: error: %s\n", message.c_str());
    return;
  }
  JsonObject o;
  o.str("category", category).str("message", message);
  if (!path.empty())
    o.str("path", path);
  else if (auto p = quoted_path(message))
    o.str("path", *p);
  else
    o.null("path");
  o.num("exit_code", uint64_t(exit_code));
  std::string l = line("error", o);
  std::fwrite(l.data(), 1, l.size(), stderr);
  std::fflush(stderr);
}

void error(const Error& e) { error_impl(int(e.code()), category_name(int(e.code())), e.what(), e.path()); }

void error(int exit_code, const std::string& category, const std::string& message) {
  error_impl(exit_code, category, message, std::string());
}

Progress::Progress(std::string phase, std::string label)
    : phase_(std::move(phase)),
      label_(std::move(label)),
      human_(!g_quiet && !g_json && ::isatty(2) == 1),
      json_(!g_quiet && g_json),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drawn_ && !finished_) {
    std::lock_guard lk(g_out);
    std::fputc('\n', stderr);
  }
}

void Progress::set_files_total(uint64_t n) {
  std::lock_guard lk(mutex_);
  files_total_ = n;
}

void Progress::update(uint64_t done, uint64_t total, std::optional<uint64_t> files_done) {
  if (!human_ && !json_) return;
  std::lock_guard lk(mutex_);
  if (finished_) return;
  done_ = done;
  total_ = total;
  // Counted only where the command knows the total (else it stays null).
  if (files_done && files_total_) files_done_ = std::min(*files_done, *files_total_);
  any_ = true;
  auto now = std::chrono::steady_clock::now();
  // At most 4 reports a second (a person's line and JSON objects alike).
  if ((drawn_ || json_) && now - last_ < std::chrono::milliseconds(250)) return;
  if (json_ && !drawn_ && now - start_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  report(false);
}

void Progress::finish() {
  if (!human_ && !json_) return;
  std::lock_guard lk(mutex_);
  if (finished_) return;
  if (total_ < done_) total_ = done_;  // a stream of unknown length: what was done is all there was
  done_ = total_;
  report(true);
  finished_ = true;
}

// Called with mutex_ held.
void Progress::report(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0.05 ? double(done_) / secs : 0;
  std::optional<double> eta;
  if (final)
    eta = 0;
  else if (rate > 0 && total_ >= done_ && total_)
    eta = double(total_ - done_) / rate;
  std::optional<uint64_t> files_done = files_done_;
  if (final && files_total_) files_done = files_total_;
  if (json_) {
    JsonObject o;
    o.str("phase", phase_).num("bytes_done", done_);
    if (total_ || final)
      o.num("bytes_total", total_);
    else
      o.null("bytes_total");
    if (files_done)
      o.num("files_done", *files_done);
    else
      o.null("files_done");
    if (files_total_)
      o.num("files_total", *files_total_);
    else
      o.null("files_total");
    o.num("rate", uint64_t(rate));
    if (eta)
      o.real("eta_seconds", *eta);
    else
      o.null("eta_seconds");
    o.real("seconds", secs).boolean("final", final);
    emit("progress", o);
    drawn_ = true;
    return;
  }
  std::string text = label_ + ": " + format_size(done_);
  if (total_) text += " of " + format_size(total_) + " (" + std::to_string(done_ * 100 / total_) + "%)";
  text += " done";
  if (files_total_) text += ", " + (files_done ? std::to_string(*files_done) + " of " : std::string()) +
                            std::to_string(*files_total_) + " files";
  if (rate > 0) text += ", " + format_size(uint64_t(rate)) + "/s";
  if (!final && eta) text += ", ETA " + format_duration(*eta);
  if (final) text += " in " + format_duration(secs);
  std::lock_guard lk(g_out);
  std::fprintf(stderr, "\r%s\033[K%s", text.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace wp::events
