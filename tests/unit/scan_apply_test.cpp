// Capture (scan_tree) and apply (TreeWriter) against real directory trees.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "apply/apply.hpp"
#include "capture/scan.hpp"
#include "util/filetime.hpp"
#include "util/error.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/reparse.hpp"

using namespace wp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/wimpack-scan-apply-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);  // never follows symlinks
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

Bytes pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    c = uint8_t(x);
  }
  return b;
}

void write_file(const std::string& path, ByteSpan data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, data.data(), data.size()) == ssize_t(data.size()));
  ::close(fd);
}

Bytes read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW);
  REQUIRE_MESSAGE(fd >= 0, path);
  Bytes out;
  uint8_t buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  ::close(fd);
  return out;
}

struct stat lstat_of(const std::string& p) {
  struct stat st;
  REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p);
  return st;
}

std::string readlink_of(const std::string& p) {
  char buf[8192];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  REQUIRE_MESSAGE(n >= 0, p);
  return std::string(buf, size_t(n));
}

Bytes read_source(const wim::BlobSource& src) {
  auto s = src.open();
  Bytes out(src.size());
  size_t got = 0;
  while (got < out.size()) {
    size_t n = s->read(std::span<uint8_t>(out.data() + got, out.size() - got));
    REQUIRE(n > 0);
    got += n;
  }
  return out;
}

// Plays the archive writer + reader: hashes every source (filling in the
// zero hashes the scan leaves for file data), then streams each needed blob
// into the TreeWriter in odd-sized chunks, in reverse hash order.
std::vector<std::string> apply_scan(capture::ScanResult& sr, const std::string& target, const apply::ApplyOptions& o) {
  std::map<Sha1, Bytes> blobs;
  for (auto& ino : sr.image.inodes())
    for (auto& s : ino.streams) {
      if (s.source == image::kNoSource) continue;
      Bytes data = read_source(*sr.sources[s.source]);
      Sha1 h = sha1_of(data);
      if (!s.hash.is_zero()) CHECK(s.hash == h);
      s.hash = h;
      CHECK(s.size == data.size());
      blobs[h] = std::move(data);
    }
  apply::TreeWriter w(sr.image, target, o);
  auto needs = w.prepare();
  CHECK(needs.size() == blobs.size());
  for (auto it = needs.rbegin(); it != needs.rend(); ++it) {
    const Bytes& data = blobs.at(it->first);
    CHECK(it->second == data.size());
    w.begin_blob(it->first);
    for (size_t off = 0; off < data.size(); off += 7001)
      w.blob_data(ByteSpan(data).subspan(off, std::min<size_t>(7001, data.size() - off)));
    w.end_blob();
  }
  w.finish();
  return w.warnings();
}

bool has_warning(const std::vector<std::string>& ws, const std::string& needle) {
  for (const auto& w : ws)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool xattrs_supported(const std::string& dir) {
  std::string p = dir + "/.xattr-probe";
  write_file(p, Bytes{});
  bool ok = ::setxattr(p.c_str(), "user.probe", "x", 1, 0) == 0;
  ::unlink(p.c_str());
  return ok;
}

const std::string kLongName(255, 'L');
const std::string kUnicode = "\xC3\x9Cn\xC3\xAF" "c\xC3\xB8" "d\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80";
constexpr int kDepth = 60;

std::string deep_path() {
  std::string p;
  for (int i = 0; i < kDepth; i++) {
    if (i) p += '/';
    p += 'n';
    p += char('0' + i % 10);
  }
  return p;
}

// The reference tree every round-trip test uses.
void build_tree(const TempDir& t, bool special_bits) {
  const std::string& s = t.path;
  write_file(s + "/empty", Bytes{});
  write_file(s + "/one", Bytes{'x'});
  write_file(s + "/f4096", pattern(4096, 1));
  write_file(s + "/f32769", pattern(32769, 2));
  write_file(s + "/dup1", pattern(4096, 1));
  write_file(s + "/dup2", pattern(4096, 1));
  write_file(s + "/big1", pattern(3 << 20, 3));  // streamed, not buffered whole
  write_file(s + "/big2", pattern(3 << 20, 3));  // its duplicate: copied from big1
  REQUIRE(::mkdir((s + "/sub").c_str(), 0755) == 0);
  REQUIRE(::mkdir((s + "/sub/deeper").c_str(), 0755) == 0);
  REQUIRE(::mkdir((s + "/emptydir").c_str(), 0755) == 0);
  write_file(s + "/hl1", pattern(100, 4));
  REQUIRE(::link((s + "/hl1").c_str(), (s + "/sub/hl2").c_str()) == 0);
  REQUIRE(::link((s + "/hl1").c_str(), (s + "/sub/deeper/hl3").c_str()) == 0);
  write_file(s + "/e1", Bytes{});
  REQUIRE(::link((s + "/e1").c_str(), (s + "/sub/e2").c_str()) == 0);
  REQUIRE(::symlink("f4096", (s + "/rel").c_str()) == 0);
  REQUIRE(::symlink("a.txt", (s + "/atxt").c_str()) == 0);
  REQUIRE(::symlink("/etc/passwd", (s + "/abs").c_str()) == 0);
  REQUIRE(::symlink("nonexistent/x", (s + "/dangling").c_str()) == 0);
  REQUIRE(::symlink("sub", (s + "/dirlink").c_str()) == 0);
  REQUIRE(::symlink("back\\slash/x", (s + "/bslink").c_str()) == 0);
  REQUIRE(::symlink((s + "/sub/hl2").c_str(), (s + "/inside").c_str()) == 0);
  REQUIRE(::symlink(s.c_str(), (s + "/toroot").c_str()) == 0);
  for (const char* n : {"with space", "new\nline", "back\\slash", "co:lon"}) write_file(s + "/" + n, pattern(10, 5));
  write_file(s + "/" + kUnicode, pattern(20, 6));
  write_file(s + "/" + kLongName, pattern(30, 7));
  std::string deep = s;
  for (int i = 0; i < kDepth; i++) {
    deep += "/n" + std::to_string(i % 10);
    REQUIRE(::mkdir(deep.c_str(), 0755) == 0);
  }
  write_file(deep + "/bottom", pattern(50, 8));
  // A sparse file: 8 MiB with 64 KiB of data in the middle.
  {
    int fd = ::open((s + "/sparse").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    Bytes mid = pattern(65536, 9);
    REQUIRE(::pwrite(fd, mid.data(), mid.size(), 4 << 20) == ssize_t(mid.size()));
    REQUIRE(::ftruncate(fd, 8 << 20) == 0);
    ::close(fd);
  }
  REQUIRE(::mkfifo((s + "/fifo").c_str(), 0640) == 0);
  if (xattrs_supported(s)) REQUIRE(::setxattr((s + "/f4096").c_str(), "user.test", "hello", 5, 0) == 0);
  if (special_bits) {
    REQUIRE(::chmod((s + "/one").c_str(), 04755) == 0);
    REQUIRE(::chmod((s + "/f32769").c_str(), 0600) == 0);
    REQUIRE(::chmod((s + "/sub").c_str(), 0750) == 0);
    if (geteuid() == 0) {
      REQUIRE(::lchown((s + "/f32769").c_str(), 1234, 5678) == 0);
      REQUIRE(::lchown((s + "/rel").c_str(), 4321, 8765) == 0);
    }
  }
  // Distinct, sub-second mtimes (100 ns granularity is what survives).
  struct timespec ts[2] = {{1500000000, 123456789}, {1600000000, 987654321}};
  REQUIRE(::utimensat(AT_FDCWD, (s + "/f4096").c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
  REQUIRE(::utimensat(AT_FDCWD, (s + "/rel").c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
  REQUIRE(::utimensat(AT_FDCWD, (s + "/emptydir").c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

uint64_t mtime_100ns(const struct stat& st) { return uint64_t(st.st_mtim.tv_sec) * 10000000u + uint64_t(st.st_mtim.tv_nsec) / 100; }

// Compares `dst` against `src` recursively (types, data, link targets,
// mtimes at 100 ns, and with unix_data: mode, owner, xattrs).
void compare_trees(const std::string& src, const std::string& dst, bool unix_data,
                   const std::map<std::string, std::string>& link_overrides, int& count) {
  for (const auto& e : fs::directory_iterator(src)) {
    std::string name = e.path().filename().string();
    std::string sp = src + "/" + name, dp = dst + "/" + name;
    struct stat ss = lstat_of(sp);
    if (!unix_data && !S_ISREG(ss.st_mode) && !S_ISDIR(ss.st_mode) && !S_ISLNK(ss.st_mode)) {
      struct stat ds;
      CHECK_MESSAGE(::lstat(dp.c_str(), &ds) != 0, dp);  // special files are not captured without unix data
      continue;
    }
    struct stat ds = lstat_of(dp);
    count++;
    INFO(dp);
    CHECK((ss.st_mode & S_IFMT) == (ds.st_mode & S_IFMT));
    CHECK(mtime_100ns(ss) == mtime_100ns(ds));
    if (unix_data) {
      if (!S_ISLNK(ss.st_mode)) CHECK((ss.st_mode & 07777) == (ds.st_mode & 07777));
      CHECK(ss.st_uid == ds.st_uid);
      CHECK(ss.st_gid == ds.st_gid);
      char sl[4096], dl[4096];
      ssize_t sn = ::llistxattr(sp.c_str(), sl, sizeof sl), dn = ::llistxattr(dp.c_str(), dl, sizeof dl);
      CHECK(sn == dn);
      if (sn > 0 && sn == dn) {
        CHECK(std::memcmp(sl, dl, size_t(sn)) == 0);
        for (ssize_t i = 0; i < sn; i += ssize_t(std::strlen(sl + i)) + 1) {
          char sv[256], dv[256];
          ssize_t a = ::lgetxattr(sp.c_str(), sl + i, sv, sizeof sv), b = ::lgetxattr(dp.c_str(), sl + i, dv, sizeof dv);
          CHECK(a == b);
          if (a > 0 && a == b) CHECK(std::memcmp(sv, dv, size_t(a)) == 0);
        }
      }
    }
    if (S_ISREG(ss.st_mode)) {
      CHECK(ss.st_size == ds.st_size);
      CHECK(read_file(sp) == read_file(dp));
    } else if (S_ISLNK(ss.st_mode)) {
      auto o = link_overrides.find(name);
      CHECK(readlink_of(dp) == (o != link_overrides.end() ? o->second : readlink_of(sp)));
    } else if (S_ISDIR(ss.st_mode)) {
      compare_trees(sp, dp, unix_data, {}, count);
    }
  }
}

image::Inode* file_inode(image::Image& img, ByteSpan data, std::vector<Bytes>* blobs) {
  image::Inode* ino = img.new_inode();
  ino->attributes = image::kAttrNormal;
  if (!data.empty()) {
    image::Stream s;
    s.hash = sha1_of(data);
    s.size = data.size();
    ino->streams.push_back(s);
    if (blobs) blobs->emplace_back(data.begin(), data.end());
  }
  return ino;
}

image::Inode* symlink_inode(image::Image& img, const std::string& target, std::vector<Bytes>* blobs) {
  image::Inode* ino = img.new_inode();
  ino->attributes = image::kAttrReparsePoint;
  ino->reparse_tag = image::kReparseTagSymlink;
  ino->rp_flags = image::kRpNotFixed;
  auto data = std::optional<Bytes>(wim::make_symlink_reparse_data(target, false));
  image::Stream s;
  s.type = image::StreamType::Reparse;
  s.hash = sha1_of(*data);
  s.size = data->size();
  ino->streams.push_back(s);
  blobs->push_back(*data);
  return ino;
}

image::Inode* dir_inode(image::Image& img) {
  image::Inode* ino = img.new_inode();
  ino->attributes = image::kAttrDirectory;
  return ino;
}

// Applies a hand-built image, feeding `blobs` (by hash).
std::vector<std::string> apply_image(const image::Image& img, const std::vector<Bytes>& blobs, const std::string& target) {
  apply::TreeWriter w(img, target, {});
  auto needs = w.prepare();
  for (auto& [h, size] : needs)
    for (const Bytes& b : blobs)
      if (sha1_of(b) == h) {
        w.begin_blob(h);
        w.blob_data(b);
        w.end_blob();
        break;
      }
  w.finish();
  return w.warnings();
}

}  // namespace

TEST_CASE("scan: a reference tree becomes the expected image") {
  TempDir src;
  build_tree(src, false);
  auto sr = capture::scan_tree(src.path, {});
  image::Image& img = sr.image;
  auto at = [&](const std::string& p) {
    image::Dentry* d = img.lookup(p);
    REQUIRE_MESSAGE(d, p);
    return d->inode;
  };

  CHECK(has_warning(sr.warnings, "fifo"));
  CHECK(!img.lookup("fifo"));
  CHECK(img.root()->inode->attributes == image::kAttrDirectory);

  // Counts: every entry but the FIFO, plus the deep chain.
  size_t dentries = 0;
  img.for_each_dentry([&](const image::Dentry&) { dentries++; });
  size_t expected = 0;
  for (auto it = fs::recursive_directory_iterator(src.path); it != fs::recursive_directory_iterator(); ++it)
    if (!it->is_fifo()) expected++;
  CHECK(dentries == expected + 1);

  // Attributes (wim-format.md §10.2).
  CHECK(at("empty")->attributes == image::kAttrNormal);
  CHECK(at("f4096")->attributes == image::kAttrNormal);
  CHECK(at("sparse")->attributes == image::kAttrSparse);
  CHECK(at("sub")->attributes == image::kAttrDirectory);
  CHECK(at("emptydir")->attributes == image::kAttrDirectory);
  CHECK(at("rel")->attributes == image::kAttrReparsePoint);
  CHECK(at("dangling")->attributes == image::kAttrReparsePoint);
  CHECK(at("dirlink")->attributes == (image::kAttrReparsePoint | image::kAttrDirectory));
  CHECK(img.lookup("dirlink")->children.empty());

  // Streams: file data has a source and no hash yet; empty files none.
  CHECK(at("empty")->unnamed_data() == nullptr);
  const image::Stream* s = at("f32769")->unnamed_data();
  REQUIRE(s);
  CHECK(s->size == 32769);
  CHECK(s->hash.is_zero());
  REQUIRE(s->source < sr.sources.size());
  CHECK(read_source(*sr.sources[s->source]) == pattern(32769, 2));

  // Hard links: one inode, three dentries; duplicates stay separate inodes.
  CHECK(at("hl1") == at("sub/hl2"));
  CHECK(at("hl1") == at("sub/deeper/hl3"));
  CHECK(at("hl1")->nlink == 3);
  CHECK(at("e1") == at("sub/e2"));
  CHECK(at("dup1") != at("dup2"));
  CHECK(at("dup1") != at("f4096"));

  // Reparse data (wim-format.md §9.2-9.4).
  image::Inode* a = at("atxt");
  CHECK(a->reparse_tag == image::kReparseTagSymlink);
  CHECK(a->rp_flags == image::kRpNotFixed);
  const image::Stream* rs = a->reparse_stream();
  REQUIRE(rs);
  Bytes expect = {0, 0, 10, 0, 12, 0, 10, 0, 1, 0, 0, 0};
  for (int k = 0; k < 2; k++) {
    for (char c : std::string("a.txt")) expect.insert(expect.end(), {uint8_t(c), 0});
    expect.insert(expect.end(), {0, 0});
  }
  CHECK(read_source(*sr.sources[rs->source]) == expect);
  CHECK(rs->hash == sha1_of(expect));
  CHECK(rs->size == 36);
  CHECK(at("abs")->rp_flags == image::kRpNotFixed);
  CHECK(at("abs")->reparse_stream()->size == 76);
  CHECK(at("inside")->rp_flags == 0);  // fixed: "/sub/hl2"
  CHECK(*wim::reparse_to_unix_target(image::kReparseTagSymlink, 0,
                                  read_source(*sr.sources[at("inside")->reparse_stream()->source]), false, "") == "/sub/hl2");
  CHECK(at("toroot")->rp_flags == 0);
  CHECK(*wim::reparse_to_unix_target(image::kReparseTagSymlink, 0,
                                  read_source(*sr.sources[at("toroot")->reparse_stream()->source]), false, "") == "/");

  // Names and depth.
  CHECK(img.lookup("new\nline"));
  CHECK(img.lookup("back\\slash"));
  CHECK(img.lookup(kUnicode));
  CHECK(img.lookup(kLongName));
  CHECK(img.lookup(deep_path() + "/bottom"));

  // Times (wim-format.md §10.1): creation = last write = mtime.
  image::Inode* f = at("f4096");
  CHECK(f->last_write_time == unix_to_filetime(1600000000, 987654321));
  CHECK(f->creation_time == f->last_write_time);
  CHECK(f->last_access_time == unix_to_filetime(1500000000, 123456789));
  CHECK(unix_to_filetime(1577934245, 123456789) == 0x01D5C1194AD6D707ull);

  // No unix data without the option.
  CHECK(!f->unix_data());
  CHECK(f->tagged_items.empty());
}

TEST_CASE("scan: without rpfix absolute links are kept verbatim") {
  TempDir src;
  REQUIRE(::symlink((src.path + "/x").c_str(), (src / "in").c_str()) == 0);
  capture::ScanOptions o;
  o.rpfix = false;
  auto sr = capture::scan_tree(src.path, o);
  image::Inode* ino = sr.image.lookup("in")->inode;
  CHECK(ino->rp_flags == image::kRpNotFixed);
  CHECK(*wim::reparse_to_unix_target(ino->reparse_tag, ino->rp_flags, read_source(*sr.sources[ino->reparse_stream()->source]),
                                  true, "/elsewhere") == src.path + "/x");
}

TEST_CASE("scan: unix data, xattrs and special files") {
  TempDir src;
  build_tree(src, true);
  capture::ScanOptions o;
  o.unix_data = true;
  auto sr = capture::scan_tree(src.path, o);
  image::Image& img = sr.image;
  img.for_each_dentry([](const image::Dentry& d) { CHECK_MESSAGE(d.inode->unix_data(), d.path()); });
  image::Inode* fifo = img.lookup("fifo")->inode;
  CHECK(fifo->attributes == 0);
  CHECK(fifo->streams.empty());
  CHECK(fifo->unix_data()->mode == (S_IFIFO | 0640));
  CHECK(img.lookup("one")->inode->unix_data()->mode == (S_IFREG | 04755));
  CHECK(img.root()->inode->unix_data()->mode == (lstat_of(src.path).st_mode));
  if (geteuid() == 0) {
    CHECK(img.lookup("f32769")->inode->unix_data()->uid == 1234);
    CHECK(img.lookup("f32769")->inode->unix_data()->gid == 5678);
  }
  if (xattrs_supported(src.path)) {
    auto xs = img.lookup("f4096")->inode->xattrs();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].name == "user.test");
    CHECK(xs[0].value == Bytes{'h', 'e', 'l', 'l', 'o'});
  }
}

TEST_CASE("scan: bad sources and names are refused with the path") {
  TempDir t;
  write_file(t / "file", Bytes{1});
  std::string m = error_of([&] { capture::scan_tree(t / "file", {}); });
  CHECK(m.find("not a directory") != std::string::npos);
  m = error_of([&] { capture::scan_tree(t / "missing", {}); });
  CHECK(m.find("missing") != std::string::npos);

  REQUIRE(::mkdir((t / "d").c_str(), 0755) == 0);
  write_file(t / "d/bad\xFFname", Bytes{1});
  m = error_of([&] { capture::scan_tree(t / "d", {}); });
  CHECK(m.find("not valid UTF-8") != std::string::npos);
  CHECK(m.find("bad\xFFname") != std::string::npos);

  REQUIRE(::mkdir((t / "l").c_str(), 0755) == 0);
  REQUIRE(::symlink("bad\xFEtarget", (t / "l/link").c_str()) == 0);
  m = error_of([&] { capture::scan_tree(t / "l", {}); });
  CHECK(m.find("l/link") != std::string::npos);

  if (geteuid() != 0) {  // root reads everything
    REQUIRE(::mkdir((t / "locked").c_str(), 0755) == 0);
    REQUIRE(::mkdir((t / "locked/inner").c_str(), 0) == 0);
    m = error_of([&] { capture::scan_tree(t / "locked", {}); });
    CHECK(m.find("inner") != std::string::npos);
    ::chmod((t / "locked/inner").c_str(), 0755);
  }
}

TEST_CASE("scan and apply: round trip of the reference tree") {
  TempDir src, dst;
  build_tree(src, false);
  auto sr = capture::scan_tree(src.path, {});
  std::string target = dst / "out";  // created by the writer
  auto warnings = apply_scan(sr, target, {});
  int count = 0;
  compare_trees(src.path, target, false, {{"inside", "/sub/hl2"}, {"toroot", "/"}}, count);
  CHECK(count > kDepth + 30);
  CHECK(mtime_100ns(lstat_of(src.path)) == mtime_100ns(lstat_of(target)));

  // Hard-link groups and duplicates.
  CHECK(lstat_of(target + "/hl1").st_ino == lstat_of(target + "/sub/hl2").st_ino);
  CHECK(lstat_of(target + "/hl1").st_ino == lstat_of(target + "/sub/deeper/hl3").st_ino);
  CHECK(lstat_of(target + "/hl1").st_nlink == 3);
  CHECK(lstat_of(target + "/e1").st_ino == lstat_of(target + "/sub/e2").st_ino);
  CHECK(lstat_of(target + "/dup1").st_ino != lstat_of(target + "/dup2").st_ino);
  CHECK(lstat_of(target + "/big1").st_ino != lstat_of(target + "/big2").st_ino);
  // Sparse data was written with holes.
  CHECK(uint64_t(lstat_of(target + "/sparse").st_blocks) * 512 < uint64_t(8 << 20));
}

TEST_CASE("scan and apply: unix data, rpfix, and applying over an existing tree") {
  TempDir src, dst;
  build_tree(src, true);
  capture::ScanOptions so;
  so.unix_data = true;
  auto sr = capture::scan_tree(src.path, so);
  apply::ApplyOptions ao;
  ao.unix_data = true;
  ao.rpfix = true;
  std::string target = dst / "out";
  REQUIRE(::mkdir(target.c_str(), 0700) == 0);
  // Leftovers: a file where the image has a file, a symlink where it has a
  // directory (pointing outside: must be replaced, never followed).
  REQUIRE(::mkdir((dst / "outside").c_str(), 0755) == 0);
  write_file(target + "/f4096", Bytes{'o', 'l', 'd'});
  REQUIRE(::symlink((dst / "outside").c_str(), (target + "/sub").c_str()) == 0);

  auto warnings = apply_scan(sr, target, ao);
  CHECK(has_warning(warnings, "replaced"));
  CHECK(fs::is_empty(dst / "outside"));
  char* real = ::realpath(target.c_str(), nullptr);
  std::string abs = real;
  ::free(real);
  int count = 0;
  compare_trees(src.path, target, true, {{"inside", abs + "/sub/hl2"}, {"toroot", abs}}, count);
  CHECK(S_ISFIFO(lstat_of(target + "/fifo").st_mode));
  CHECK((lstat_of(target).st_mode & 07777) == (lstat_of(src.path).st_mode & 07777));
  // The link's target resolves inside the applied tree.
  CHECK(fs::file_size(target + "/inside") == 100);  // follows the link
  CHECK(fs::equivalent(target + "/inside", target + "/sub/hl2"));
}

TEST_CASE("apply: unsafe names are refused before anything is written") {
  for (std::string bad : {std::string(".."), std::string("."), std::string("a/b"), std::string(), std::string("x\0y", 3)}) {
    TempDir t;
    image::Image img;
    image::Dentry* d = img.add_child(img.root(), "ok", dir_inode(img));
    img.add_child(d, bad, file_inode(img, Bytes{1, 2, 3}, nullptr));
    apply::TreeWriter w(img, t / "out", {});
    std::string m = error_of([&] { w.prepare(); });
    CHECK_MESSAGE(m.find("unsafe file name") != std::string::npos, m);
    CHECK(!fs::exists(t / "out"));
  }
}

TEST_CASE("apply: a symlink never lets later entries escape the target") {
  TempDir t;
  REQUIRE(::mkdir((t / "outside").c_str(), 0755) == 0);
  std::string outside = t / "outside";

  SUBCASE("symlink and directory with the same name") {
    image::Image img;
    std::vector<Bytes> blobs;
    img.add_child(img.root(), "d", symlink_inode(img, outside, &blobs));
    // add_child refuses duplicates; a hostile decoder output might not.
    auto dup = std::make_unique<image::Dentry>();
    dup->name = "d";
    dup->inode = dir_inode(img);
    dup->inode->nlink++;
    dup->parent = img.root();
    image::Dentry* dd = dup.get();
    img.root()->children.push_back(std::move(dup));
    img.add_child(dd, "pwned", file_inode(img, Bytes{'!'}, &blobs));
    std::string m = error_of([&] { apply_image(img, blobs, t / "out"); });
    CHECK(m.find("two entries named 'd'") != std::string::npos);
  }
  SUBCASE("children under a symlink dentry are ignored") {
    image::Image img;
    std::vector<Bytes> blobs;
    image::Dentry* link = img.add_child(img.root(), "d", symlink_inode(img, outside, &blobs));
    auto child = std::make_unique<image::Dentry>();
    child->name = "pwned";
    child->inode = file_inode(img, Bytes{'!'}, &blobs);
    child->inode->nlink++;
    child->parent = link;
    link->children.push_back(std::move(child));
    auto w = apply_image(img, blobs, t / "out");
    CHECK(has_warning(w, "ignoring the children"));
    CHECK(readlink_of(t / "out/d") == outside);
  }
  SUBCASE("a pre-existing symlink in the target is replaced, not followed") {
    REQUIRE(::mkdir((t / "out").c_str(), 0755) == 0);
    REQUIRE(::symlink(outside.c_str(), (t / "out/d").c_str()) == 0);
    REQUIRE(::symlink((outside + "/f").c_str(), (t / "out/f").c_str()) == 0);
    image::Image img;
    std::vector<Bytes> blobs;
    image::Dentry* d = img.add_child(img.root(), "d", dir_inode(img));
    img.add_child(d, "pwned", file_inode(img, Bytes{'!'}, &blobs));
    img.add_child(img.root(), "f", file_inode(img, Bytes{'?'}, &blobs));
    apply_image(img, blobs, t / "out");
    CHECK(!fs::is_symlink(t / "out/d"));
    CHECK(read_file(t / "out/d/pwned") == Bytes{'!'});
    CHECK(read_file(t / "out/f") == Bytes{'?'});
  }
  CHECK(fs::is_empty(outside));
}

TEST_CASE("apply: bad targets, missing and malformed blobs fail clearly") {
  TempDir t;
  write_file(t / "file", Bytes{1});
  image::Image img;
  std::vector<Bytes> blobs;
  image::Inode* f = file_inode(img, Bytes{1, 2, 3}, &blobs);
  img.add_child(img.root(), "a", f);
  {
    apply::TreeWriter w(img, t / "file", {});
    std::string m = error_of([&] { w.prepare(); });
    CHECK(m.find("not a directory") != std::string::npos);
  }
  {
    apply::TreeWriter w(img, t / "o1", {});
    auto needs = w.prepare();
    REQUIRE(needs.size() == 1);
    CHECK(needs[0].second == 3);
    std::string m = error_of([&] { w.finish(); });
    CHECK(m.find("never supplied") != std::string::npos);
    CHECK(m.find("/a") != std::string::npos);
  }
  {
    apply::TreeWriter w(img, t / "o2", {});
    auto needs = w.prepare();
    w.begin_blob(needs[0].first);
    w.blob_data(Bytes{1, 2});
    std::string m = error_of([&] { w.end_blob(); });
    CHECK(m.find("expected 3") != std::string::npos);
  }
  {
    apply::TreeWriter w(img, t / "o3", {});
    w.prepare();
    std::string m = error_of([&] { w.begin_blob(sha1_of(Bytes{9})); });
    CHECK(m.find("not needed") != std::string::npos);
  }
  {
    // An existing directory where the image has a file.
    REQUIRE(::mkdir((t / "o4").c_str(), 0755) == 0);
    REQUIRE(::mkdir((t / "o4/a").c_str(), 0755) == 0);
    std::string m = error_of([&] { apply_image(img, blobs, t / "o4"); });
    CHECK(m.find("a directory of that name already exists") != std::string::npos);
  }
}

TEST_CASE("apply: named streams and foreign reparse points are reported") {
  TempDir t;
  image::Image img;
  std::vector<Bytes> blobs;
  image::Inode* f = file_inode(img, Bytes{'m'}, &blobs);
  image::Stream named;
  named.name = u"ads";
  named.hash = sha1_of(Bytes{'n'});
  named.size = 1;
  f->streams.push_back(named);
  img.add_child(img.root(), "withads", f);
  image::Inode* wof = file_inode(img, Bytes{'w'}, &blobs);
  wof->attributes |= image::kAttrReparsePoint;
  wof->reparse_tag = 0x80000017;
  img.add_child(img.root(), "wof", wof);
  auto w = apply_image(img, blobs, t / "out");
  CHECK(has_warning(w, "named data streams"));
  CHECK(has_warning(w, "reparse points other than"));
  CHECK(read_file(t / "out/withads") == Bytes{'m'});
  CHECK(read_file(t / "out/wof") == Bytes{'w'});
}

TEST_CASE("apply: many directories, hard links across them, with few fds") {
  // A low fd limit shrinks the writer's directory fd cache to its minimum,
  // so blobs in hash order keep evicting and reopening directories.
  struct rlimit old;
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  TempDir t;
  image::Image img;
  std::vector<Bytes> blobs;
  constexpr int kDirs = 60;
  std::vector<image::Dentry*> dirs;
  for (int i = 0; i < kDirs; i++) {
    image::Dentry* d = img.add_child(img.root(), "d" + std::to_string(i), dir_inode(img));
    dirs.push_back(img.add_child(d, "inner", dir_inode(img)));
  }
  for (int i = 0; i < kDirs; i++) {
    image::Inode* f = file_inode(img, pattern(100 + i, 40 + i), &blobs);
    img.add_child(dirs[i], "f", f);
    img.add_child(dirs[(i + 7) % kDirs], "link", f);
  }
  struct rlimit low = old;
  low.rlim_cur = 64;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::string m = error_of([&] { apply_image(img, blobs, t / "out"); });
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(m == "(no error)");
  for (int i = 0; i < kDirs; i++) {
    std::string f = t / "out/d" + std::to_string(i) + "/inner/f";
    std::string l = t / "out/d" + std::to_string((i + 7) % kDirs) + "/inner/link";
    CHECK(read_file(f) == pattern(100 + i, 40 + i));
    CHECK(lstat_of(f).st_ino == lstat_of(l).st_ino);
    CHECK(lstat_of(f).st_nlink == 2);
  }
}
