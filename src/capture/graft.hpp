// Grafting scanned sources into one image (`capture --source-list`): the
// overlay rules of source_list.hpp, separated from the disk walk so that they
// can be tested on hand-built trees.
//
// Every tree handed in must be detached (no parent) and its inodes must
// belong to the same image (allocated with image.new_inode()): grafting moves
// dentries, never inodes. Inodes of dentries that are dropped (a replaced
// file, the top of a directory merged into an existing one) keep their slot
// in the image but get nlink 0, which is what the writer skips.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "capture/source_list.hpp"
#include "image/image.hpp"

namespace wp::capture {

class Grafter {
public:
  // `now` is the FILETIME given to directories the graft invents (missing
  // parents of a target, and the root when no "/" entry comes first).
  Grafter(image::Image &img, uint64_t now) : img_(img), now_(now) {}

  // Places `tree` at step.parent/step.name (or merges it into the root when
  // step.to_root; the tree must then be a directory). Throws Errc::Usage
  // prefixed with `where` ("LIST:LINE") on the conflicts source_list.hpp
  // lists: a nondirectory on a directory or the reverse, a target whose
  // parent is a nondirectory.
  void add(std::unique_ptr<image::Dentry> tree, const OverlayStep &step,
           const std::string &where);

  // Nothing was grafted: the image is a bare root. Stamps the root with the
  // capture time (wimlib writes no root at all; see ScanResult::empty).
  bool finish_empty();

  uint64_t replaced() const {
    return replaced_;
  } // files overwritten (last wins)

private:
  image::Dentry *placeholder(image::Dentry *parent, std::string name);
  void stamp_root();
  // Puts `in` where `slot` (a child of `parent`, possibly null) is.
  void place(image::Dentry *parent, std::unique_ptr<image::Dentry> *slot,
             std::unique_ptr<image::Dentry> in, const std::string &where);
  void merge(image::Dentry *dst, std::unique_ptr<image::Dentry> src,
             const std::string &where);

  image::Image &img_;
  uint64_t now_;
  bool have_root_ = false;
  uint64_t replaced_ = 0;
};

} // namespace wp::capture
