#include <doctest/doctest.h>

#include "apply/select.hpp"
#include "util/error.hpp"

using namespace wp;
using apply::SelectOptions;

namespace {

// /a/{b.txt, B.TXT, c/{d}}, /e -> hard link of /a/b.txt
struct Tree {
  image::Image img;
  image::Dentry *a, *b, *B, *c, *d, *e;
  Tree() {
    auto dir = [&] {
      auto* i = img.new_inode();
      i->attributes = image::kAttrDirectory;
      return i;
    };
    auto file = [&] {
      auto* i = img.new_inode();
      i->attributes = image::kAttrNormal;
      return i;
    };
    a = img.add_child(img.root(), "a", dir());
    auto* shared = file();
    b = img.add_child(a, "b.txt", shared);
    B = img.add_child(a, "B.TXT", file());
    c = img.add_child(a, "c", dir());
    d = img.add_child(c, "d", file());
    e = img.add_child(img.root(), "e", shared);
  }
};

std::vector<std::string> paths(const std::vector<const image::Dentry*>& v) {
  std::vector<std::string> out;
  for (auto* d : v) out.push_back(d->path());
  return out;
}

}  // namespace

TEST_CASE("select: path splitting accepts both separators and no leading one") {
  CHECK(apply::split_image_path("/a/b") == std::vector<std::string>{"a", "b"});
  CHECK(apply::split_image_path("a\\b\\") == std::vector<std::string>{"a", "b"});
  CHECK(apply::split_image_path("//") .empty());
  CHECK(apply::split_image_path("").empty());
}

TEST_CASE("select: wildcards per component, never across separators") {
  SelectOptions o;
  CHECK(apply::match_component("b.txt", "*.txt", o));
  CHECK(apply::match_component("b.txt", "?.t?t", o));
  CHECK_FALSE(apply::match_component("b.txt", "?.tx", o));
  CHECK(apply::match_component("", "*", o));
  CHECK(apply::match_component("ü😀x", "??x", o));  // '?' is one character, even outside the BMP
  CHECK_FALSE(apply::match_component("B.TXT", "*.txt", o));
  o.ignore_case = true;
  CHECK(apply::match_component("B.TXT", "*.txt", o));
  CHECK(apply::match_component("ÉTÉ", "été", o));
  o.wildcards = false;
  CHECK_FALSE(apply::match_component("b.txt", "*.txt", o));
  CHECK(apply::match_component("*.txt", "*.TXT", o));

  Tree t;
  SelectOptions cs;
  CHECK(paths(apply::select_paths(t.img, "/a/*.txt", cs)) == std::vector<std::string>{"/a/b.txt"});
  CHECK(paths(apply::select_paths(t.img, "*/c/*", cs)) == std::vector<std::string>{"/a/c/d"});
  CHECK(paths(apply::select_paths(t.img, "/", cs)) == std::vector<std::string>{"/"});
  CHECK(apply::select_paths(t.img, "/a/b.txt/x", cs).empty());  // a file has no children
  SelectOptions ic;
  ic.ignore_case = true;
  // Collation order: "B.TXT" before "b.txt"
  CHECK(paths(apply::select_paths(t.img, "\\A\\b.txt", ic)) == std::vector<std::string>{"/a/B.TXT", "/a/b.txt"});
}

TEST_CASE("select: the extract tree, by base name or with the directory structure") {
  Tree t;
  image::Image flat = apply::build_extract_tree(t.img, {{t.d, false}, {t.b, false}});
  CHECK(flat.root()->children.size() == 2);
  CHECK(flat.lookup("/d"));
  CHECK(flat.lookup("/b.txt"));
  CHECK(flat.lookup("/b.txt")->inode == t.b->inode);  // inodes are shared

  image::Image kept = apply::build_extract_tree(t.img, {{t.d, true}, {t.b, true}, {t.c, true}});
  CHECK(kept.lookup("/a/c/d"));
  CHECK(kept.lookup("/a/b.txt"));
  CHECK_FALSE(kept.lookup("/a/B.TXT"));
  CHECK(kept.lookup("/a/c")->children.size() == 1);  // /a/c/d not copied twice

  image::Image whole = apply::build_extract_tree(t.img, {{t.img.root(), false}});
  CHECK(whole.lookup("/a/c/d"));
  CHECK(whole.lookup("/e"));

  // Two different items with one name in the destination.
  image::Image t2;
  auto* x = t2.add_child(t2.root(), "x", t2.new_inode());
  x->inode->attributes = image::kAttrDirectory;
  auto* n1 = t2.add_child(t2.root(), "n", t2.new_inode());
  auto* n2 = t2.add_child(x, "n", t2.new_inode());
  CHECK_THROWS_AS(apply::build_extract_tree(t2, {{n1, false}, {n2, false}}), Error);
  CHECK_NOTHROW(apply::build_extract_tree(t2, {{n1, true}, {n2, true}}));
}
