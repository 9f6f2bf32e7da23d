// wimdir's output: the paths of an image (or of a subtree), one a line, in
// pre-order with siblings in collation order, exactly as wimlib-imagex dir
// prints them; with `detailed`, its per-file report (attributes, times,
// link group, UNIX data, and each stream's blob as the blob table has it).
#pragma once

#include <cstdio>

#include "image/image.hpp"
#include "wim/archive.hpp"

namespace wp::apply {

struct ListOptions {
  bool detailed = false;
  bool one_file_only = false;  // only `start`, not its subtree
};

// Writes the listing of `start` (a dentry of `img`, an image of `archive`,
// whose blob table and --ref archives supply the blob details; null for an
// image read from a pipe, whose blob table comes last: then a blob is shown
// by its hash only) to out.
void list_tree(const wim::Archive* archive, const image::Image& img, const image::Dentry& start,
               const ListOptions& opts, std::FILE* out);

// The same selection as one JSON document (dir --json, docs/json-events.md):
// {"schema_version":1,"archive":...,"image":N,"entries":[{"path","type","size",
// "attributes","last_write_time","links"}...]}.
void list_tree_json(const image::Dentry& start, const ListOptions& opts,
                    const std::string& archive_path, size_t index, std::FILE* out);

}  // namespace wp::apply
