// Image-building operations (src/image/ops.*): wimupdate's delete, rename
// and add (graft) on hand-built trees; after each, the invariants hold.
#include <doctest/doctest.h>

#include "image/image.hpp"
#include "image/ops.hpp"
#include "util/error.hpp"

using namespace wp;
using namespace wp::image;

namespace {

Inode* file_inode(Image& img, uint8_t hash_byte, uint64_t size) {
  Inode* i = img.new_inode();
  i->attributes = kAttrNormal;
  Stream s;
  s.hash.bytes[0] = hash_byte;
  s.size = size;
  i->streams.push_back(s);
  return i;
}

Inode* dir_inode(Image& img) {
  Inode* i = img.new_inode();
  i->attributes = kAttrDirectory;
  return i;
}

// /f (linked as /flink too), /d/g, /d/e/h, /empty
Image sample() {
  Image img;
  Inode* f = file_inode(img, 1, 10);
  img.add_child(img.root(), "f", f);
  img.add_child(img.root(), "flink", f);
  Dentry* d = img.add_child(img.root(), "d", dir_inode(img));
  img.add_child(d, "g", file_inode(img, 2, 20));
  Dentry* e = img.add_child(d, "e", dir_inode(img));
  img.add_child(e, "h", file_inode(img, 3, 30));
  img.add_child(img.root(), "empty", dir_inode(img));
  return img;
}

// A detached tree whose inodes live in `img`: dir { n, sub/x } or a file.
std::unique_ptr<Dentry> tree(Image& img, bool dir, uint8_t h = 9) {
  auto t = std::make_unique<Dentry>();
  if (!dir) {
    t->inode = file_inode(img, h, 5);
    t->inode->streams[0].source = 0;
    t->inode->nlink = 1;
    return t;
  }
  t->inode = dir_inode(img);
  t->inode->nlink = 1;
  Inode* n = file_inode(img, h, 5);
  n->streams[0].source = 0;
  img.add_child(t.get(), "n", n);
  Dentry* sub = img.add_child(t.get(), "sub", dir_inode(img));
  Inode* x = file_inode(img, uint8_t(h + 1), 6);
  x->streams[0].source = 1;
  img.add_child(sub, "x", x);
  return t;
}

std::unique_ptr<Dentry> adopted(Image& img, bool dir, uint32_t offset = 0, uint8_t h = 9) {
  Image scratch;
  auto t = tree(scratch, dir, h);
  adopt_tree(img, *t, offset);
  return t;
}

}  // namespace

TEST_CASE("image paths: separators, leading slash optional") {
  CHECK(split_image_path("\\a/b//c/") == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_image_path("/").empty());
  CHECK(split_image_path("").empty());
  CHECK(join_image_path({"a", "b"}) == "/a/b");
  Image img = sample();
  CHECK(lookup_path(img, "d\\e\\h") == lookup_path(img, "/d/e/h"));
  CHECK(lookup_path(img, "/") == img.root());
  CHECK(lookup_path(img, "/f/x") == nullptr);  // a file has no children
  CHECK(lookup_path(img, "/D") == nullptr);    // case-sensitive
}

TEST_CASE("delete: --force, --recursive, link counts") {
  Image img = sample();
  Inode* f = lookup_path(img, "/f")->inode;
  REQUIRE(f->nlink == 2);
  CHECK(delete_path(img, "/f", false, false));
  CHECK(f->nlink == 1);
  CHECK(lookup_path(img, "/flink")->inode == f);
  check_invariants(img);

  CHECK_THROWS_AS(delete_path(img, "/nope", false, false), Error);
  try {
    delete_path(img, "/nope", false, false);
  } catch (const Error& e) {
    CHECK(e.code() == Errc::NotFound);
  }
  CHECK_FALSE(delete_path(img, "/nope", true, false));
  // Any directory, even an empty one, needs --recursive (as wimupdate).
  CHECK_THROWS_AS(delete_path(img, "/empty", false, false), Error);
  CHECK_THROWS_AS(delete_path(img, "/d", false, false), Error);
  Inode* h = lookup_path(img, "/d/e/h")->inode;
  CHECK(delete_path(img, "/d", false, true));
  CHECK(h->nlink == 0);
  CHECK(lookup_path(img, "/d") == nullptr);
  check_invariants(img);

  // "/" recursively: the image is emptied, the root stays.
  CHECK_THROWS_AS(delete_path(img, "/", false, false), Error);
  CHECK(delete_path(img, "/", false, true));
  CHECK(img.root()->children.empty());
  CHECK(f->nlink == 0);
  check_invariants(img);
  CHECK(img.stats().dir_count == 1);
  CHECK(img.stats().file_count == 0);
}

TEST_CASE("rename: POSIX rename semantics as wimlib applies them") {
  auto code_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return Errc(0);
  };
  Image img = sample();
  rename_path(img, "/f", "/g");
  CHECK(lookup_path(img, "/f") == nullptr);
  CHECK(lookup_path(img, "/g")->inode->nlink == 2);
  check_invariants(img);

  // A file over a file: the target is replaced.
  Inode* old_g = lookup_path(img, "/d/g")->inode;
  rename_path(img, "/g", "/d/g");
  CHECK(old_g->nlink == 0);
  CHECK(lookup_path(img, "/d/g")->inode == lookup_path(img, "/flink")->inode);
  check_invariants(img);

  // Onto another link of the same inode: that link goes (as wimlib).
  rename_path(img, "/d/g", "/flink");
  CHECK(lookup_path(img, "/flink")->inode->nlink == 1);
  check_invariants(img);

  // Same path: nothing happens.
  rename_path(img, "/flink", "flink");
  CHECK(lookup_path(img, "/flink"));

  CHECK(code_of([&] { rename_path(img, "/nope", "/x"); }) == Errc::NotFound);
  CHECK(code_of([&] { rename_path(img, "/flink", "/nope/x"); }) == Errc::NotFound);
  CHECK(code_of([&] { rename_path(img, "/flink", "/flink/x"); }) == Errc::Failure);  // parent not a directory
  CHECK(code_of([&] { rename_path(img, "/flink", "/d"); }) == Errc::Failure);        // file over directory
  CHECK(code_of([&] { rename_path(img, "/d", "/flink"); }) == Errc::Failure);        // directory over file
  CHECK(code_of([&] { rename_path(img, "/empty", "/d"); }) == Errc::Failure);        // over a non-empty directory
  CHECK(code_of([&] { rename_path(img, "/d", "/d/e/x"); }) == Errc::Failure);        // into itself
  CHECK(code_of([&] { rename_path(img, "/", "/x"); }) == Errc::Failure);
  CHECK(code_of([&] { rename_path(img, "/d", "/"); }) == Errc::Failure);
  check_invariants(img);

  // A directory over an empty directory replaces it; subtrees move along.
  rename_path(img, "/d", "/empty");
  CHECK(lookup_path(img, "/empty/e/h"));
  CHECK(lookup_path(img, "/d") == nullptr);
  CHECK(lookup_path(img, "/empty/e/h")->path() == "/empty/e/h");
  rename_path(img, "/empty/e", "/e2");
  CHECK(lookup_path(img, "/e2/h"));
  check_invariants(img);
}

TEST_CASE("adopt_tree copies inodes once and offsets sources") {
  Image scratch;
  auto t = tree(scratch, true);
  // A hard link inside the tree.
  Dentry* n = t->child("n");
  scratch.add_child(t->child("sub"), "nlink", n->inode);
  Image img = sample();
  size_t before = img.inodes().size();
  adopt_tree(img, *t, 7);
  CHECK(img.inodes().size() == before + 4);  // t, n (= nlink), sub, x
  CHECK(t->child("n")->inode == t->child("sub")->child("nlink")->inode);
  CHECK(t->child("n")->inode->nlink == 2);
  CHECK(t->child("n")->inode->streams[0].source == 7);
  CHECK(t->child("sub")->child("x")->inode->streams[0].source == 8);
  for (const auto& i : scratch.inodes())
    if (&i != scratch.root()->inode) CHECK(i.nlink == 0);
}

TEST_CASE("graft: new path, missing parents, merge, replace, --no-replace") {
  Image img = sample();
  GraftOptions o;
  o.now = 12345;
  // A file at a missing path: parents are made, stamped `now`.
  auto st = graft_tree(img, adopted(img, false), "/x/y/z", o);
  CHECK(st.dirs_created == 2);
  CHECK(lookup_path(img, "/x/y")->inode->last_write_time == 12345);
  CHECK(lookup_path(img, "/x/y/z")->inode->streams[0].hash.bytes[0] == 9);
  check_invariants(img);

  // A directory merged into an existing one: existing entries stay, new
  // ones arrive, and the existing directory keeps its inode.
  Inode* d_inode = lookup_path(img, "/d")->inode;
  graft_tree(img, adopted(img, true), "/d", o);
  CHECK(lookup_path(img, "/d")->inode == d_inode);
  CHECK(lookup_path(img, "/d/g"));
  CHECK(lookup_path(img, "/d/n"));
  CHECK(lookup_path(img, "/d/sub/x"));
  check_invariants(img);

  // Again, with other content: files below are replaced.
  Inode* old_n = lookup_path(img, "/d/n")->inode;
  st = graft_tree(img, adopted(img, true, 0, 20), "/d", o);
  CHECK(st.replaced == 2);
  CHECK(old_n->nlink == 0);
  CHECK(lookup_path(img, "/d/n")->inode->streams[0].hash.bytes[0] == 20);
  check_invariants(img);

  // --no-replace refuses to overwrite a nondirectory, at the top or below.
  GraftOptions nr = o;
  nr.no_replace = true;
  CHECK_THROWS_AS(graft_tree(img, adopted(img, false), "/f", nr), Error);
  CHECK_THROWS_AS(graft_tree(img, adopted(img, true), "/d", nr), Error);

  // Replacing one link of a hard-link group leaves the other link alone.
  Inode* f = lookup_path(img, "/f")->inode;
  REQUIRE(f->nlink == 2);
  graft_tree(img, adopted(img, false, 0, 30), "/f", o);
  CHECK(f->nlink == 1);
  CHECK(lookup_path(img, "/flink")->inode == f);
  CHECK(lookup_path(img, "/f")->inode != f);

  // Conflicts.
  CHECK_THROWS_AS(graft_tree(img, adopted(img, false), "/d", o), Error);        // file onto a directory
  CHECK_THROWS_AS(graft_tree(img, adopted(img, false), "/", o), Error);         // file onto the root
  CHECK_THROWS_AS(graft_tree(img, adopted(img, true), "/flink", o), Error);     // directory onto a file
  CHECK_THROWS_AS(graft_tree(img, adopted(img, false), "/flink/z", o), Error);  // parent is a file

  // A directory into "/" merges into the root.
  Image img2 = sample();
  graft_tree(img2, adopted(img2, true), "/", o);
  CHECK(lookup_path(img2, "/n"));
  CHECK(lookup_path(img2, "/sub/x"));
  CHECK(lookup_path(img2, "/d/e/h"));
  check_invariants(img2);
  auto s = img2.stats();
  CHECK(s.dir_count == 5);   // /, d, e, empty, sub
  CHECK(s.file_count == 6);  // f, flink, g, h, n, x
}
