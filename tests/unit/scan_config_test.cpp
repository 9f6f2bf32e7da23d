// Capture with a configuration and with source lists: the grafting rules
// (capture/graft.hpp) on hand-built trees, and scan_tree / scan_sources on
// real directories. Expected results follow wimlib-imagex 1.13.5 (see
// tests/interop/config_source_list.sh, which compares against it directly).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "capture/config.hpp"
#include "capture/graft.hpp"
#include "capture/scan.hpp"
#include "capture/source_list.hpp"
#include "util/error.hpp"

using namespace wp;
using namespace wp::capture;
using image::Dentry;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/wimpack-scan-config-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string &rel) const {
    return path + "/" + rel;
  }
};

void write_file(const std::string &p, const std::string &text) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p) << text;
}

// Every path in the image, directories with a trailing '/'.
std::set<std::string> paths(const image::Image &img) {
  std::set<std::string> out;
  img.for_each_dentry([&](const Dentry &d) {
    if (!d.parent)
      return;
    out.insert(d.path() + (d.is_directory() ? "/" : ""));
  });
  return out;
}

// A detached tree for grafting: "dir/" entries are directories; files carry
// `tag` in last_write_time so a test can tell which source won.
std::unique_ptr<Dentry> tree(image::Image &img,
                             std::initializer_list<std::string> entries,
                             uint64_t tag, bool dir_root = true) {
  auto root = std::make_unique<Dentry>();
  root->inode = img.new_inode();
  root->inode->nlink = 1;
  root->inode->attributes =
      dir_root ? image::kAttrDirectory : image::kAttrNormal;
  root->inode->last_write_time = tag;
  for (const std::string &e : entries) {
    bool dir = e.back() == '/';
    std::string p = dir ? e.substr(0, e.size() - 1) : e;
    Dentry *parent = root.get();
    size_t slash = p.rfind('/');
    if (slash != std::string::npos) {
      // parents are listed first
      std::string pp = p.substr(0, slash);
      size_t i = 0;
      while (i < pp.size()) {
        size_t j = pp.find('/', i);
        if (j == std::string::npos)
          j = pp.size();
        parent = parent->child(pp.substr(i, j - i));
        REQUIRE(parent);
        i = j + 1;
      }
    }
    image::Inode *ino = img.new_inode();
    ino->attributes = dir ? image::kAttrDirectory : image::kAttrNormal;
    ino->last_write_time = tag;
    img.add_child(parent, p.substr(slash == std::string::npos ? 0 : slash + 1),
                  ino);
  }
  return root;
}

OverlayStep step_for(const std::string &target) {
  return plan_overlay({SourceListEntry{"src", target, 1}}).front();
}

uint64_t live_links(const image::Image &img) {
  uint64_t n = 0;
  for (const auto &i : img.inodes())
    n += i.nlink;
  return n;
}

uint64_t dentries(const image::Image &img) {
  uint64_t n = 0;
  img.for_each_dentry([&](const Dentry &) { n++; });
  return n;
}

} // namespace

TEST_CASE("scan config graft: overlays onto the root merge, last file wins, "
          "first root's metadata stays") {
  image::Image img;
  Grafter g(img, 999);
  g.add(tree(img, {"f", "d1/", "d1/x"}, 1), step_for("/"), "L:1");
  g.add(tree(img, {"f", "d1/", "d1/y", "g"}, 2), step_for("/"), "L:2");
  CHECK(paths(img) ==
        std::set<std::string>{"/f", "/g", "/d1/", "/d1/x", "/d1/y"});
  CHECK(img.root()->inode->last_write_time == 1);
  CHECK(img.lookup("/d1")->inode->last_write_time ==
        1); // merged: the existing directory keeps its metadata
  CHECK(img.lookup("/f")->inode->last_write_time == 2); // last wins
  CHECK(g.replaced() == 1);
  CHECK_FALSE(g.finish_empty());
  // Dropped dentries (the second root, the second d1, the first f) left no link
  // behind.
  CHECK(live_links(img) == dentries(img));
}

TEST_CASE("scan config graft: missing parents are capture-time placeholders, "
          "also for the root") {
  image::Image img;
  Grafter g(img, 777);
  g.add(tree(img, {}, 5, false), step_for("/d1/z/s.o"), "L:1");
  g.add(tree(img, {"d1/", "d1/x"}, 6), step_for("/"), "L:2");
  CHECK(paths(img) ==
        std::set<std::string>{"/d1/", "/d1/x", "/d1/z/", "/d1/z/s.o"});
  // wimlib: the root made for "/d1/z/s.o" is not replaced by the later "/"
  // entry.
  CHECK(img.root()->inode->last_write_time == 777);
  CHECK(img.lookup("/d1")->inode->last_write_time == 777);
  CHECK(img.lookup("/d1")->inode->attributes == image::kAttrDirectory);
  CHECK(img.lookup("/d1/z/s.o")->inode->last_write_time == 5);
  CHECK(live_links(img) == dentries(img));
}

TEST_CASE("scan config graft: a directory at a non-root target merges into an "
          "existing one") {
  image::Image img;
  Grafter g(img, 1);
  g.add(tree(img, {"a", "s/", "s/deep/", "s/deep/f"}, 2), step_for("/x"),
        "L:1");
  g.add(tree(img, {"b", "s/", "s/deep/", "s/deep/f", "s/deep/g"}, 3),
        step_for("/x"), "L:2");
  CHECK(paths(img) == std::set<std::string>{"/x/", "/x/a", "/x/b", "/x/s/",
                                            "/x/s/deep/", "/x/s/deep/f",
                                            "/x/s/deep/g"});
  CHECK(img.lookup("/x")->inode->last_write_time == 2);
  CHECK(img.lookup("/x/s/deep/f")->inode->last_write_time == 3);
  CHECK(live_links(img) == dentries(img));
}

TEST_CASE("scan config graft: conflicts are refused with the list line") {
  image::Image img;
  Grafter g(img, 1);
  g.add(tree(img, {"d/", "file"}, 1), step_for("/"), "L:1");
  auto refused = [&](std::unique_ptr<Dentry> t, const std::string &target,
                     const std::string &what) {
    try {
      g.add(std::move(t), step_for(target), "L:9");
      FAIL("no error for " << target);
    } catch (const Error &e) {
      CHECK(e.code() == Errc::Usage);
      CHECK(std::string(e.what()).find("L:9") == 0);
      CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos,
                    e.what());
    }
  };
  refused(tree(img, {}, 2, false), "/d",
          "directory there");                          // file onto a directory
  refused(tree(img, {"x"}, 2), "/file", "file there"); // directory onto a file
  refused(tree(img, {}, 2, false), "/file/sub",
          "not a directory");                          // parent is a file
  refused(tree(img, {"file/"}, 2), "/", "file there"); // inside a merge
  refused(tree(img, {}, 2, false), "/", "only a directory");
}

TEST_CASE("scan config graft: nothing grafted gives an empty image") {
  image::Image img;
  Grafter g(img, 42);
  CHECK(g.finish_empty());
  CHECK(img.root()->children.empty());
  CHECK(img.root()->inode->last_write_time == 42);
}

TEST_CASE("scan config: exclusions prune the walk; an excluded root gives an "
          "empty image") {
  TempDir t;
  write_file(t / "src/a.o", "o");
  write_file(t / "src/keep.txt", "k");
  write_file(t / "src/dir/x", "x");
  write_file(t / "src/dir/sub/f", "f");
  write_file(t / "src/pagefile.sys", "p");
  write_file(t / "src/sub/pagefile.sys", "p");

  CaptureConfig cfg = CaptureConfig::parse(
      "[ExclusionList]\n*.o\n/dir\n[ExclusionException]\n/dir/sub/f\n",
      "c.ini");
  ScanOptions so;
  so.config = &cfg;
  ScanResult r = scan_tree(t / "src", so);
  CHECK(paths(r.image) ==
        std::set<std::string>{"/keep.txt", "/dir/", "/dir/sub/", "/dir/sub/f",
                              "/pagefile.sys", "/sub/", "/sub/pagefile.sys"});
  CHECK(r.excluded_count == 2); // a.o, dir/x
  CHECK_FALSE(r.empty);

  CaptureConfig defaults = CaptureConfig::defaults();
  so.config = &defaults;
  r = scan_tree(t / "src", so);
  CHECK_FALSE(paths(r.image).count("/pagefile.sys"));
  CHECK(paths(r.image).count("/sub/pagefile.sys"));

  CaptureConfig root = CaptureConfig::parse("[ExclusionList]\n/\n", "r.ini");
  so.config = &root;
  r = scan_tree(t / "src", so);
  CHECK(r.empty);
  CHECK(r.image.root()->children.empty());
  REQUIRE(r.excluded_roots.size() == 1);
  CHECK(r.sources.empty());
}

TEST_CASE("scan config: source lists graft real sources, rebase blobs, link "
          "across sources") {
  TempDir t;
  write_file(t / "a/f", "A");
  write_file(t / "a/d1/x", "A1");
  write_file(t / "b/f", "BB");
  write_file(t / "b/d1/y", "B1");
  write_file(t / "one.o", "one");
  REQUIRE(::link((t / "one.o").c_str(), (t / "a/hl").c_str()) == 0);
  REQUIRE(::symlink("one.o", (t / "lnk").c_str()) == 0);

  CaptureConfig cfg =
      CaptureConfig::parse("[ExclusionList]\n*.o\n/d1/x\n", "c.ini");
  ScanOptions so;
  so.config = &cfg;
  std::vector<SourceListEntry> list = {{t / "a", "/", 1},
                                       {t / "b", "/", 2},
                                       {t / "one.o", "/deep/er/s.o", 3},
                                       {t / "lnk", "/l", 4},
                                       {t / "a/f", "/f2", 5}};
  ScanResult r = scan_sources(list, so, "L");
  CHECK(paths(r.image) == std::set<std::string>{"/f", "/f2", "/hl", "/l",
                                                "/d1/", "/d1/y", "/deep/",
                                                "/deep/er/", "/deep/er/s.o"});
  // "/f" is b's (last wins); its stream's source is b/f.
  const image::Stream *s = r.image.lookup("/f")->inode->unnamed_data();
  REQUIRE(s);
  REQUIRE(s->source < r.sources.size());
  CHECK(s->size == 2);
  // one.o (a file source: its own name is never matched by "*.o") shares an
  // inode with a/hl; a/f appears twice through two sources -> one inode.
  CHECK(r.image.lookup("/hl")->inode == r.image.lookup("/deep/er/s.o")->inode);
  CHECK(r.image.lookup("/l")->inode->is_symlink()); // not followed
  for (const auto &ino : r.image.inodes())
    for (const auto &st : ino.streams)
      if (ino.nlink && st.source != image::kNoSource)
        CHECK(st.source < r.sources.size());

  CHECK_THROWS_AS(scan_sources({{t / "one.o", "/", 7}}, so, "L"), Error);
  try {
    scan_sources({{t / "missing", "/m", 3}}, so, "L");
    FAIL("no error");
  } catch (const Error &e) {
    CHECK(e.code() == Errc::NotFound);
    CHECK(std::string(e.what()).find("L:3") == 0);
  }
  ScanResult empty = scan_sources({}, so, "L");
  CHECK(empty.empty);
  CHECK(empty.image.root()->children.empty());
}
