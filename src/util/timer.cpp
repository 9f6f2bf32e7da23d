#include "util/timer.hpp"

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <spdlog/spdlog.h>

namespace wp {

namespace {
std::atomic<bool> g_on{false};

double process_cpu_seconds() {
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}
}  // namespace

void enable_timings(bool on) { g_on = on; }

bool timings_enabled() { return g_on || spdlog::should_log(spdlog::level::debug); }

PhaseTimer::PhaseTimer(std::string phase) : phase_(std::move(phase)), start_(std::chrono::steady_clock::now()) {
  if (timings_enabled()) cpu_start_ = process_cpu_seconds();
}

void PhaseTimer::stop() {
  if (!running_) return;
  running_ = false;
  if (!timings_enabled()) return;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double cpu = process_cpu_seconds() - cpu_start_;
  // Straight to stderr, not through spdlog's level filter: --debug-timings
  // must not turn on every other debug message.
  if (wall > 0.001)
    std::fprintf(stderr, "wimpack: timing: %s: %.3f s wall, %.3f s CPU (%.2f cores)\n", phase_.c_str(), wall, cpu, cpu / wall);
  else
    std::fprintf(stderr, "wimpack: timing: %s: %.3f s wall, %.3f s CPU\n", phase_.c_str(), wall, cpu);
}

}  // namespace wp
