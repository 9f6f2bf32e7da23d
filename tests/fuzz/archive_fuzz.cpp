// libFuzzer target for whole archives: header, blob table (solid runs
// included), solid headers, chunk tables, XML, metadata resources and blob
// data. Each input is opened as an archive through a memfd (no disk I/O), then
// everything the info and apply commands do is done to it: XML out, blob
// listing, every image's metadata decoded, every image applied into a
// temporary directory. Any input must either work or throw wp::Error; a
// crash, a sanitizer report, a hang (-timeout) or an allocation out of
// proportion to the input (-rss_limit_mb, -malloc_limit_mb) is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "apply/extract_image.hpp"
#include "util/error.hpp"
#include "wim/archive.hpp"

namespace {

struct Memfd {
  int fd = -1;
  Memfd() { fd = memfd_create("archive_fuzz", 0); }
  ~Memfd() {
    if (fd >= 0) ::close(fd);
  }
};

const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    char t[] = "/tmp/archive_fuzz-XXXXXX";
    const char* d = mkdtemp(t);
    if (!d) std::abort();
    return std::filesystem::path(d);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Memfd m;
  if (m.fd < 0) std::abort();
  for (size_t done = 0; done < size;) {
    ssize_t k = ::write(m.fd, data + done, size - done);
    if (k <= 0) std::abort();
    done += size_t(k);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(m.fd);
  std::unique_ptr<wp::wim::Archive> a;
  try {
    a = wp::wim::Archive::open(path);
  } catch (const wp::Error&) {
    return 0;
  }
  // info: XML, image properties, blob listing.
  try {
    (void)a->xml().to_utf8();
    for (size_t i = 1; i <= a->image_count(); i++) {
      (void)a->xml().get(i, "NAME");
      (void)a->xml().get_time(i, "CREATIONTIME");
    }
    uint64_t sum = 0;
    for (const auto& e : a->entries()) sum += e.reshdr.size_in_wim + e.refcnt;
    (void)sum;
    if (a->image_count()) (void)a->resolve_image("-1");
  } catch (const wp::Error&) {
  }
  // Every image: decode, then apply into a fresh directory.
  const size_t images = std::min<size_t>(a->image_count(), 4);
  for (size_t i = 1; i <= images; i++) {
    try {
      (void)a->load_image(i);
    } catch (const wp::Error&) {
      continue;
    }
    std::filesystem::path target = scratch() / "t";
    try {
      wp::apply::extract_image(*a, i, target.string(), wp::apply::ApplyOptions{});
    } catch (const wp::Error&) {
    }
    std::error_code ec;
    std::filesystem::remove_all(target, ec);
  }
  return 0;
}
