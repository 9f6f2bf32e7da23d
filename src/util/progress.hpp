// A live progress line on stderr ("Archiving file data: 120 MiB of 389 MiB
// (31%) done, 210 MiB/s"), in wimlib's spirit. Only on a terminal: when
// stderr is not a TTY nothing is drawn (no carriage-return spam), and
// --quiet silences it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace wp {

class Progress {
public:
  Progress(std::string label, bool enabled);
  ~Progress();
  void update(uint64_t done, uint64_t total);
  void finish();  // prints the final line (on a terminal) and a newline

private:
  void draw(uint64_t done, uint64_t total, bool final);
  std::string label_;
  bool enabled_;
  bool drawn_ = false, finished_ = false;
  uint64_t last_done_ = 0, last_total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

// True when stderr is a terminal.
bool stderr_is_tty();

}  // namespace wp
