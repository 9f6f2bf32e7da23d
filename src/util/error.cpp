#include "util/error.hpp"

#include <cstring>

namespace wp {

std::string errno_text(int err) { return std::strerror(err); }

void fail_errno(const std::string& what, const std::string& path, int err) {
  std::string msg = what;
  if (!path.empty()) msg += " '" + path + "'";
  msg += ": " + errno_text(err);
  throw Error(Errc::Failure, std::move(msg), path);
}

}  // namespace wp
