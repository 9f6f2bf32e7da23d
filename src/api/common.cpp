// The C API's error boundary and version (include/wimpack/wimpack.h).
#include <new>

#include "api/handles.hpp"
#include "wimpack/wimpack.h"

namespace wp::api {
namespace {
thread_local std::string g_message;
}

void record_error(Errc code, const std::string& message) noexcept {
  (void)code;
  try {
    g_message = message;
  } catch (...) {
    g_message.clear();
  }
}

void clear_error() noexcept { g_message.clear(); }

int record_current_exception() noexcept {
  Errc code = Errc::Failure;
  try {
    throw;
  } catch (const Error& e) {
    code = e.code();
    record_error(code, e.what());
  } catch (const std::bad_alloc&) {
    record_error(code, "out of memory");
  } catch (const std::exception& e) {
    record_error(code, e.what());
  } catch (...) {
    record_error(code, "unknown internal error");
  }
  switch (code) {
    case Errc::Usage:
    case Errc::BadArchive:
    case Errc::NotFound:
    case Errc::Unsupported:
    case Errc::Busy:
      return int(code);
    default:
      return int(Errc::Failure);
  }
}

void require(bool cond, const char* message) {
  if (!cond) fail(Errc::Usage, message);
}

}  // namespace wp::api

extern "C" {

const char* wimpack_error_message(void) { return wp::api::g_message.c_str(); }

const char* wimpack_version(void) { return WIMPACK_VERSION; }

}  // extern "C"
