#include <doctest/doctest.h>

#include "wim/split.hpp"

using wp::wim::split_part_name;

TEST_CASE("split: part names put the number before the extension (wim-format.md §13.1)") {
  CHECK(split_part_name("x.swm", 1) == "x.swm");
  CHECK(split_part_name("x.swm", 2) == "x2.swm");
  CHECK(split_part_name("dir/x.swm", 12) == "dir/x12.swm");
  CHECK(split_part_name("a.b/x", 3) == "a.b/x3");  // a dot in a directory name is no extension
  CHECK(split_part_name("x", 2) == "x2");
  CHECK(split_part_name("x.tar.swm", 2) == "x.tar2.swm");
}
