// Selecting paths in an image (wimextract's PATH arguments, wimdir --path):
// in-image paths with '/' or '\' separators (the leading one optional), each
// component may hold the wildcards '*' (any run of characters) and '?' (one
// character), which never match a separator. Matching is case-sensitive
// unless ignore_case (WIMLIB_IMAGEX_IGNORE_CASE=1); case folding covers
// ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic.
//
// And building the tree that extract writes: copies of the selected
// subtrees under a new root, either by their base names or at their place
// in the image (--preserve-dir-structure, and listfile paths).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "image/image.hpp"

namespace wp::apply {

struct SelectOptions {
  bool wildcards = true;     // false: --no-wildcards / --no-globs
  bool ignore_case = false;  // WIMLIB_IMAGEX_IGNORE_CASE
};

// The components of an in-image path ("" and "/" = the root: no components).
std::vector<std::string> split_image_path(std::string_view path);

bool has_wildcards(std::string_view pattern);

// One path component against one pattern component.
bool match_component(std::string_view name, std::string_view pattern, const SelectOptions& opts);

// Every dentry the path (pattern) names, in image order (children in
// collation order, as wimlib lists them). Empty if none.
std::vector<const image::Dentry*> select_paths(const image::Image& img, std::string_view pattern,
                                               const SelectOptions& opts);

// Children of `d` in wimlib's listing order: case-insensitive collation,
// then by UTF-16 code unit (wim-format.md §7.4).
std::vector<const image::Dentry*> sorted_children(const image::Dentry& d);

// The tree extract writes.
struct ExtractItem {
  const image::Dentry* dentry;
  bool preserve_dirs;  // at its place in the image, with its parent directories
};

// A new image whose root stands for the destination directory, holding
// copies of the items' subtrees (dentries are copied; inodes are shared with
// `src`, which must outlive the result). Parent directories made for
// preserve_dirs items share the inodes of the image's directories. An item
// inside another one is merged, not written twice; the root as an item
// contributes its children. Two different items that would get the same
// name in one directory fail with Errc::Failure.
image::Image build_extract_tree(const image::Image& src, const std::vector<ExtractItem>& items);

}  // namespace wp::apply
