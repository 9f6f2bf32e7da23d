// --update-of (wim-format.md §14.4): files that look unchanged since a
// template image take their hashes from it instead of being read.
#pragma once

#include <functional>

#include "image/image.hpp"
#include "util/sha1.hpp"

namespace wp::capture {

struct UpdateOfStats {
  uint64_t files_reused = 0, files_read = 0;
};

// For every inode of `scanned` whose dentry has the same path in `tmpl`, and
// whose creation and last-write times are identical, last-access time has not
// gone backwards, and every stream (matched by type and name) has the same
// size in both: adopt the template's hashes and drop the blob sources, so
// the file is never read. UNIX data (owner, mode) is not compared: it is
// metadata and always comes from the fresh scan; only content is reused.
// A file whose content changed without changing its size or times is missed,
// exactly as wimlib misses it.
//
// `available(hash)` tells whether the output will hold the blob (the archive
// being appended to, or a --delta-from base); hashes it does not know are not
// adopted, so the file is read as usual.
UpdateOfStats apply_update_of(image::Image& scanned, const image::Image& tmpl,
                              const std::function<bool(const Sha1&)>& available);

}  // namespace wp::capture
