// File blob sources (capture/file_source.hpp): a file is read only from the
// tree the scan saw, changes are caught (or, with continue_on_change,
// recorded), and holes in sparse files read as zeros.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "capture/scan.hpp"
#include "image/image.hpp"
#include "util/error.hpp"

using namespace wp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/wimpack-file-source-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);  // never follows symlinks
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

void write_file(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, data.data(), data.size()) == ssize_t(data.size()));
  ::close(fd);
}

// The source of the file whose describe() ends with `suffix`.
const wim::BlobSource& source_of(const capture::ScanResult& r, const std::string& suffix) {
  for (const auto& s : r.sources) {
    std::string d = s->describe();
    if (d.size() >= suffix.size() && d.compare(d.size() - suffix.size(), suffix.size(), suffix) == 0) return *s;
  }
  FAIL("no source for " << suffix);
  throw 0;
}

// Reads a source as the writer does: its size, then one more read for the end.
std::string read_all(const wim::BlobSource& s) {
  auto st = s.open();
  std::string out(s.size(), '\0');
  size_t got = 0;
  while (got < out.size()) {
    size_t k = st->read({reinterpret_cast<uint8_t*>(out.data()) + got, out.size() - got});
    REQUIRE(k > 0);
    got += k;
  }
  uint8_t extra;
  CHECK(st->read({&extra, 1}) == 0);
  return out;
}

std::string error_of(const wim::BlobSource& s) {
  try {
    read_all(s);
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Failure);
    return e.what();
  }
  return "";
}

// src/zdir/secret-name -> outside/secret-name, after the scan.
struct SwapFixture {
  TempDir t;
  std::string src = t / "src", outside = t / "outside";
  SwapFixture() {
    fs::create_directories(src + "/zdir/sub");
    fs::create_directories(outside + "/sub");
    write_file(src + "/zdir/f", "inside!");
    write_file(src + "/zdir/sub/g", "inside, deeper");
    write_file(outside + "/f", "SECRET!");  // same size: a size check alone would not notice
    write_file(outside + "/sub/g", "SECRET, deeper");
  }
  void swap_for_symlink() {
    fs::rename(src + "/zdir", src + "/zdir.old");
    fs::create_directory_symlink(outside, src + "/zdir");
  }
};

// Removes TOP/d/d/d/... one level at a time (its paths exceed PATH_MAX, so
// filesystem::remove_all cannot): move d/d up to TOP/x, rmdir d, rename x to d.
void remove_chain(const std::string& top) {
  int tfd = ::open(top.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(tfd >= 0);
  for (;;) {
    int a = ::openat(tfd, "d", O_RDONLY | O_DIRECTORY);
    if (a < 0) break;
    bool more = ::renameat(a, "d", tfd, "x") == 0;
    ::close(a);
    REQUIRE(::unlinkat(tfd, "d", AT_REMOVEDIR) == 0);
    if (!more) break;
    REQUIRE(::renameat(tfd, "x", tfd, "d") == 0);
  }
  ::close(tfd);
}

}  // namespace

TEST_CASE("file source: a directory swapped for a symlink after the scan is never followed") {
  SwapFixture fx;
  capture::ScanOptions so;
  capture::ScanResult r = capture::scan_tree(fx.src, so);
  const auto& f = source_of(r, "/zdir/f");
  const auto& g = source_of(r, "/zdir/sub/g");
  fx.swap_for_symlink();
  std::string e1 = error_of(f), e2 = error_of(g);
  CHECK(e1.find("zdir/f' changed during capture") != std::string::npos);
  CHECK(e1.find("symbolic link") != std::string::npos);
  CHECK(e2.find("zdir/sub/g' changed during capture") != std::string::npos);
  CHECK(e1.find("SECRET") == std::string::npos);

  // With continue_on_change: zeros of the scanned size, never the secret.
  so.continue_on_change = true;
  fs::remove(fx.src + "/zdir");
  fs::rename(fx.src + "/zdir.old", fx.src + "/zdir");
  capture::ScanResult r2 = capture::scan_tree(fx.src, so);
  fx.swap_for_symlink();
  CHECK(read_all(source_of(r2, "/zdir/f")) == std::string(7, '\0'));
  CHECK(read_all(source_of(r2, "/zdir/sub/g")) == std::string(14, '\0'));
  CHECK(r2.files->changed_count() == 2);
  auto ws = r2.files->take_warnings();
  REQUIRE(ws.size() == 2);
  CHECK(ws[0].find("zdir/f' changed during capture") != std::string::npos);
  CHECK(ws[0].find("stored as 7 zero bytes") != std::string::npos);
}

TEST_CASE("file source: a directory replaced by another directory, or the file by a symlink") {
  SwapFixture fx;
  capture::ScanResult r = capture::scan_tree(fx.src, {});
  // Same names and sizes, other inodes: only (dev, ino) tells them apart.
  fs::rename(fx.src + "/zdir", fx.src + "/zdir.old");
  fs::create_directories(fx.src + "/zdir/sub");
  write_file(fx.src + "/zdir/f", "SECRET!");
  CHECK(error_of(source_of(r, "/zdir/f")).find("'" + fx.src + "/zdir' was replaced by another one") != std::string::npos);

  capture::ScanResult r2 = capture::scan_tree(fx.src, {});
  fs::remove(fx.src + "/zdir/f");
  fs::create_symlink(fx.outside + "/f", fx.src + "/zdir/f");
  CHECK(error_of(source_of(r2, "/zdir/f")).find("replaced by a symbolic link") != std::string::npos);
}

TEST_CASE("file source: the source root swapped, and single-file sources of a source list") {
  SwapFixture fx;
  capture::ScanResult r = capture::scan_tree(fx.src, {});
  fs::rename(fx.src, fx.t / "src.old");
  fs::create_directory_symlink(fx.outside, fx.src);  // same relative paths under it
  CHECK(error_of(source_of(r, "/zdir/sub/g")).find("was replaced by another one") != std::string::npos);
  fs::remove(fx.src);
  fs::rename(fx.t / "src.old", fx.src);

  // A single file listed in a source list: its directory is checked too.
  std::vector<capture::SourceListEntry> list{{fx.src + "/zdir/f", "/f", 1}};
  capture::ScanResult r2 = capture::scan_sources(list, {});
  fx.swap_for_symlink();
  CHECK(error_of(source_of(r2, "/zdir/f")).find("changed during capture") != std::string::npos);
}

TEST_CASE("file source: changes while reading fail, or are stored as read with continue_on_change") {
  TempDir t;
  std::string src = t / "src";
  fs::create_directories(src);
  write_file(src + "/shrinks", "0123456789");
  write_file(src + "/grows", "0123456789");
  write_file(src + "/gone", "0123456789");
  for (bool tolerant : {false, true}) {
    capture::ScanOptions so;
    so.continue_on_change = tolerant;
    capture::ScanResult r = capture::scan_tree(src, so);
    write_file(src + "/shrinks", "01234");
    write_file(src + "/grows", "0123456789abc");
    fs::remove(src + "/gone");
    if (!tolerant) {
      CHECK(error_of(source_of(r, "/shrinks")).find("changed size during capture") != std::string::npos);
      CHECK(error_of(source_of(r, "/grows")).find("--continue-on-change") != std::string::npos);
      CHECK(error_of(source_of(r, "/gone")).find("removed before it could be read") != std::string::npos);
    } else {
      CHECK(read_all(source_of(r, "/shrinks")) == std::string("01234\0\0\0\0\0", 10));
      CHECK(read_all(source_of(r, "/grows")) == "0123456789");
      CHECK(read_all(source_of(r, "/gone")) == std::string(10, '\0'));
      CHECK(r.files->changed_count() == 3);
      // One warning per file, however often it is read.
      read_all(source_of(r, "/shrinks"));
      CHECK(r.files->take_warnings().size() == 3);
    }
    write_file(src + "/shrinks", "0123456789");
    write_file(src + "/grows", "0123456789");
    write_file(src + "/gone", "0123456789");
  }
}

TEST_CASE("file source: a change of mtime while the file is open is noticed") {
  TempDir t;
  std::string src = t / "src";
  fs::create_directories(src);
  write_file(src + "/f", "0123456789");
  capture::ScanResult r = capture::scan_tree(src, {});
  const auto& s = source_of(r, "/f");
  auto st = s.open();
  uint8_t buf[5];
  REQUIRE(st->read(buf) == 5);
  struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (src + "/f").c_str(), ts, 0) == 0);
  CHECK_THROWS_WITH_AS(st->read(buf), doctest::Contains("changed while it was being archived"), Error);
}

TEST_CASE("file source: holes of a sparse file read as zeros") {
  TempDir t;
  std::string src = t / "src";
  fs::create_directories(src);
  int fd = ::open((src + "/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, "head", 4, 0) == 4);
  REQUIRE(::pwrite(fd, "middle", 6, 64 << 20) == 6);
  REQUIRE(::ftruncate(fd, (128 << 20) + 3) == 0);
  ::close(fd);
  capture::ScanResult r = capture::scan_tree(src, {});
  std::string got = read_all(source_of(r, "/sparse"));
  std::string want((128 << 20) + 3, '\0');
  std::memcpy(want.data(), "head", 4);
  std::memcpy(want.data() + (64 << 20), "middle", 6);
  CHECK(got == want);
  // The scan marks it sparse (wim-format.md §10.2), so apply makes holes.
  bool sparse_attr = false;
  r.image.for_each_dentry([&](const image::Dentry& d) {
    if (d.name == "sparse") sparse_attr = d.inode->attributes & image::kAttrSparse;
  });
  CHECK(sparse_attr);
}

TEST_CASE("scan: a tree deeper than image::kMaxDepth is refused") {
  TempDir t;
  std::string src = t / "src";
  fs::create_directories(src);
  // kMaxDepth nested directories below the root: the last one would be at
  // depth kMaxDepth, which the metadata decoder refuses.
  int fd = ::open(src.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  for (uint32_t i = 0; i < image::kMaxDepth; i++) {
    REQUIRE(::mkdirat(fd, "d", 0755) == 0);
    int n = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    REQUIRE(n >= 0);
    ::close(fd);
    fd = n;
  }
  ::close(fd);
  std::string msg;
  try {
    capture::scan_tree(src, {});
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("directory tree deeper than 16384 levels: " + src + "/d/d/d") != std::string::npos);
  // One level less is fine (the round trip is in tests/cli/capture_safety.sh).
  // rmdir the deepest directory by walking with fds (the path is too long).
  fd = ::open(src.c_str(), O_RDONLY | O_DIRECTORY);
  for (uint32_t i = 0; i + 1 < image::kMaxDepth; i++) {
    int n = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    ::close(fd);
    fd = n;
  }
  REQUIRE(::unlinkat(fd, "d", AT_REMOVEDIR) == 0);
  ::close(fd);
  capture::ScanResult r = capture::scan_tree(src, {});
  CHECK(r.image.stats().dir_count == image::kMaxDepth);
  remove_chain(src);
}
