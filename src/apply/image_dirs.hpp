// Where "apply WIMFILE all TARGET" puts each image: one subdirectory of
// TARGET per image, named after the image as wimlib-imagex does (its index
// when the name is empty, '.', '..', longer than 128 bytes or contains '/'
// or NUL). wimlib merges images whose directory names collide (two images
// with one name, or image 1 named "2" next to unnamed image 2); here every
// image gets a distinct directory: a name already taken falls back to the
// index, then to "imageN", then "imageN-K".
#pragma once

#include <string>
#include <vector>

namespace wp::apply {

struct ImageDir {
  std::string name;       // the subdirectory
  bool renamed = false;   // not what wimlib would have used (a collision)
};

// names[i] is the NAME of image i + 1.
std::vector<ImageDir> image_dir_names(const std::vector<std::string>& names);

}  // namespace wp::apply
