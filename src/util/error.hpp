// Errors: one exception type carrying a category (mapped to the exit code by
// main), and a message a person can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace wp {

// Exit codes are documented in README.md ("Exit codes"); keep them in sync.
enum class Errc : int {
  Failure = 1,      // I/O errors and anything else
  Usage = 2,        // bad command line
  BadArchive = 3,   // not a WIM, corrupt or truncated archive, hash mismatch
  NotFound = 4,     // no such image, missing blob (delta without --ref), missing path
  Unsupported = 5,  // valid input we cannot handle yet
  Changed = 6,      // archive written, but some files changed while being read (--continue-on-change)
  Busy = 7,         // another process is writing the archive (writer lock held)
  Interrupted = 130,
};

class Error : public std::runtime_error {
public:
  Error(Errc code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  // `path`: the file the error is about (shown in --json error objects).
  Error(Errc code, std::string message, std::string path)
      : std::runtime_error(std::move(message)), code_(code), path_(std::move(path)) {}
  Errc code() const noexcept { return code_; }
  const std::string& path() const noexcept { return path_; }

private:
  Errc code_;
  std::string path_;
};

[[noreturn]] inline void fail(Errc code, std::string message) { throw Error(code, std::move(message)); }

// "strerror(errno)" as a std::string.
std::string errno_text(int err);

// Throws Errc::Failure with "what: path: strerror(err)".
[[noreturn]] void fail_errno(const std::string& what, const std::string& path, int err);

}  // namespace wp
