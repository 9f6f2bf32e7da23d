// Shared plumbing of the C API (include/wimpack/wimpack.h): the table of live
// handles and the error boundary.
//
// Handles are not pointers to our objects: a handle is a never-reused 64-bit
// id (tagged with its type) cast to the opaque pointer type, looked up in a
// table on every call. A stale handle (a stream of a closed image, an archive
// closed twice) or a made-up one is therefore an ordinary "invalid handle"
// error, never a use-after-free.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "util/error.hpp"
#include "wim/archive.hpp"
#include "wimpack/wimpack.h"

namespace wp::api {

enum class Kind : uintptr_t { Image = 1, Stream = 2, Archive = 3, Reader = 4, Mount = 5 };

template <class T, Kind K>
class Registry {
public:
  template <class H>
  H* add(std::shared_ptr<T> obj) {
    std::unique_lock lk(mu_);
    uint64_t id = ++next_;
    map_.emplace(id, std::move(obj));
    return reinterpret_cast<H*>(uintptr_t((id << 4) | uintptr_t(K)));
  }
  // The object, or Errc::Usage naming `what`.
  template <class H>
  std::shared_ptr<T> get(H* h, const char* what) const {
    if (!h) fail(Errc::Usage, std::string(what) + " is NULL");
    auto v = uintptr_t(h);
    if ((v & 15) != uintptr_t(K)) fail(Errc::Usage, std::string(what) + " is not a valid handle");
    std::shared_lock lk(mu_);
    auto it = map_.find(uint64_t(v >> 4));
    if (it == map_.end())
      fail(Errc::Usage, std::string(what) + " is not a valid handle (already closed, or its owner was closed)");
    return it->second;
  }
  template <class H>
  std::shared_ptr<T> take(H* h) {
    auto v = uintptr_t(h);
    if (!h || (v & 15) != uintptr_t(K)) return nullptr;
    return take_id(uint64_t(v >> 4));
  }
  std::shared_ptr<T> take_id(uint64_t id) {
    std::unique_lock lk(mu_);
    auto it = map_.find(id);
    if (it == map_.end()) return nullptr;
    auto obj = std::move(it->second);
    map_.erase(it);
    return obj;
  }
  template <class H>
  static uint64_t id_of(H* h) {
    return uint64_t(uintptr_t(h) >> 4);
  }

private:
  mutable std::shared_mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<T>> map_;
  uint64_t next_ = 0;
};

// Records the message of the current exception for wimpack_error_message()
// and returns its code (categories of util/error.hpp; Changed and Interrupted
// fold into Failure).
int record_current_exception() noexcept;
void record_error(Errc code, const std::string& message) noexcept;
void clear_error() noexcept;

template <class F>
int guarded(F&& f) noexcept {
  try {
    f();
    return 0;
  } catch (...) {
    return record_current_exception();
  }
}

void require(bool cond, const char* message);  // Errc::Usage unless cond

// read.cpp: the archive of an archive handle opened afresh, with the same
// refs and delta bases (for an in-process mount, which owns its archive and
// outlives the handle it was made from).
std::unique_ptr<wim::Archive> reopen_archive(wimpack_archive* archive);

}  // namespace wp::api
