// Image-building operations on a whole path (architecture.md "src/image/"):
// look up, delete, rename and graft, with the semantics of wimupdate(1).
// Each keeps the tree's invariants: Inode::nlink counts the dentries that
// refer to the inode (a dentry unlinked from the tree drops its count, and an
// inode at 0 is skipped by the writer), hard-link groups stay one inode, and
// streams keep their hashes (a replaced file's inode is simply unlinked).
//
// Paths inside an image: components separated by '/' or '\', the leading
// separator optional, empty components ignored; "" and "/" name the root.
// Names are matched case-sensitively (wimlib's default on UNIX).
//
// Errors are wp::Error: Errc::NotFound for a missing path, Errc::Failure for
// a conflict (a directory where a file is expected, and the like). Messages
// name the image path; the caller adds which command failed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "image/image.hpp"

namespace wp::image {

// The components of an image path ("\a/b//c" -> {"a", "b", "c"}).
std::vector<std::string> split_image_path(std::string_view path);
// "/a/b" for {"a", "b"}; "/" for none.
std::string join_image_path(const std::vector<std::string>& parts);

// The dentry at `path`, or nullptr. Symbolic links in the image are never
// followed (wimupdate(1) NOTES).
Dentry* lookup_path(const Image& img, std::string_view path);

// wimupdate "delete [--force] [--recursive] PATH". Returns false when PATH
// did not exist and `force` was given. A directory (even an empty one) needs
// `recursive`; deleting "/" recursively empties the image but keeps its root.
bool delete_path(Image& img, std::string_view path, bool force, bool recursive);

// wimupdate "rename OLD NEW", POSIX rename(2) semantics as wimlib applies
// them: NEW's parent must exist and be a directory; an existing NEW is
// replaced if both are nondirectories or NEW is an empty directory and OLD a
// directory; a directory cannot move below itself, and the root cannot move.
// OLD == NEW is a no-op. (As wimlib, a NEW that is another link to OLD's
// inode is replaced: the link count drops by one.)
void rename_path(Image& img, std::string_view from, std::string_view to);

// Which inode of the destination image each adopted inode became.
using InodeMap = std::unordered_map<const Inode*, Inode*>;

// Moves a detached tree whose inodes live in another image into `to`: each
// inode is copied into `to` once (hard links stay one inode) and the
// dentries are repointed; `source_offset` is added to every Stream::source
// that is set. The other image keeps its (now unused) inodes. With `map`,
// inodes adopted by an earlier call are reused: a file reached by two adds
// stays one inode (several trees scanned with one hard-link table).
void adopt_tree(Image& to, Dentry& tree, uint32_t source_offset, InodeMap* map = nullptr);

struct GraftOptions {
  bool no_replace = false;  // an existing nondirectory is an error, not replaced
  uint64_t now = 0;         // FILETIME for the directories a graft creates
};

struct GraftStats {
  uint64_t replaced = 0;       // nondirectories overwritten
  uint64_t dirs_created = 0;   // missing parents made
};

// wimupdate "add SOURCE DEST" once SOURCE is scanned: places `tree` (its
// inodes already in `img`, see adopt_tree) at `dest`.
//   - DEST missing: missing parent directories are created (plain
//     directories stamped `now`), then the tree is placed there;
//   - DEST an existing directory: `tree` must be a directory, and its
//     children are merged into DEST (DEST keeps its own metadata; below,
//     directories merge and nondirectories replace existing nondirectories,
//     or fail with `no_replace`);
//   - DEST an existing nondirectory: `tree` must be a nondirectory, and
//     replaces it (or fails with `no_replace`).
// A parent component that exists but is not a directory is an error.
GraftStats graft_tree(Image& img, std::unique_ptr<Dentry> tree, std::string_view dest, const GraftOptions& opts);

// Debug/test helper: checks the invariants (every nlink equals the number of
// dentries referring to the inode, parents are consistent, names unique per
// directory, only directories have children). Throws Errc::Failure naming
// the first violation.
void check_invariants(const Image& img);

}  // namespace wp::image
