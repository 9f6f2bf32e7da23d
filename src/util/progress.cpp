#include "util/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "util/size.hpp"

namespace wp {

bool stderr_is_tty() { return ::isatty(2) == 1; }

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled && stderr_is_tty()), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drawn_ && !finished_) std::fputc('\n', stderr);
}

void Progress::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  std::lock_guard lk(mutex_);
  last_done_ = done;
  last_total_ = total;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && done != total) return;
  last_draw_ = now;
  draw(done, total, false);
}

void Progress::draw(uint64_t done, uint64_t total, bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  unsigned pct = total ? unsigned(done * 100 / total) : 100;
  std::string rate = secs > 0.05 ? ", " + format_size(uint64_t(double(done) / secs)) + "/s" : "";
  std::fprintf(stderr, "\r%s: %s of %s (%u%%) done%s\033[K", label_.c_str(), format_size(done).c_str(),
               format_size(total).c_str(), pct, rate.c_str());
  if (final) std::fputc('\n', stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  std::lock_guard lk(mutex_);
  draw(last_total_, last_total_, true);
  finished_ = true;
}

}  // namespace wp
