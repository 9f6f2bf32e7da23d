#include <doctest/doctest.h>

#include <algorithm>

#include "apply/image_dirs.hpp"

using wp::apply::image_dir_names;

namespace {
std::vector<std::string> dirs(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& d : image_dir_names(names)) out.push_back(d.name);
  return out;
}
}  // namespace

TEST_CASE("apply all: directories are named as wimlib names them when nothing collides") {
  CHECK(dirs({"base", "", "x/y", ".", ".."}) == std::vector<std::string>{"base", "2", "3", "4", "5"});
  CHECK(dirs({std::string(129, 'a'), std::string(128, 'b')}) == std::vector<std::string>{"1", std::string(128, 'b')});
  CHECK(dirs({std::string("a\0b", 3)}) == std::vector<std::string>{"1"});
  for (const auto& d : image_dir_names({"a", "", "c"})) CHECK_FALSE(d.renamed);
}

TEST_CASE("apply all: colliding names get distinct directories") {
  // Image 1 named "2" next to unnamed image 2: wimlib would merge them.
  auto r = image_dir_names({"2", ""});
  CHECK(r[0].name == "2");
  CHECK(r[1].name == "image2");
  CHECK(r[1].renamed);
  // Two images with one name: the second falls back to its index.
  CHECK(dirs({"same", "same", "same"}) == std::vector<std::string>{"same", "2", "3"});
  // Every fallback taken too.
  CHECK(dirs({"image3", "3", "x", "x"}) == std::vector<std::string>{"image3", "3", "x", "4"});
  CHECK(dirs({"image3", "3", "3"}) == std::vector<std::string>{"image3", "3", "image3-2"});
  auto all = dirs({"1", "1", "", "2", "image2", "image2"});
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
}
