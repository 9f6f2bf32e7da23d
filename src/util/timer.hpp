// A scoped timer per phase of a command (issue 14: "find where the time
// goes"): capture's scan, update-of, prehash, blobs, metadata and tables; apply's
// create, write and metadata. When timings are on (--debug-timings on any
// command, or SPDLOG_LEVEL=debug), each phase prints one line on stderr as
// it ends:
//
//   wimpack: timing: capture/blobs: 3.412 s wall, 6.690 s CPU (1.96 cores)
//
// CPU is the whole process's user+system time over the phase, so the cores
// figure shows how parallel the phase was. Off, a timer costs two clock
// reads and a branch.
#pragma once

#include <chrono>
#include <string>

namespace wp {

// Turns the lines on (main: --debug-timings) for the whole process.
void enable_timings(bool on);
bool timings_enabled();

class PhaseTimer {
public:
  explicit PhaseTimer(std::string phase);
  ~PhaseTimer() { stop(); }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;
  // Ends the phase now (prints once; the destructor then does nothing).
  void stop();

private:
  std::string phase_;
  std::chrono::steady_clock::time_point start_;
  double cpu_start_ = 0;
  bool running_ = true;
};

}  // namespace wp
