#include "apply/image_dirs.hpp"

#include <unordered_set>

namespace wp::apply {
namespace {

bool ok_as_dir(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.size() <= 128 && n.find('/') == std::string::npos &&
         n.find('\0') == std::string::npos;
}

}  // namespace

std::vector<ImageDir> image_dir_names(const std::vector<std::string>& names) {
  std::vector<ImageDir> out(names.size());
  std::unordered_set<std::string> used;
  // Names first, in image order, so an image keeps its own name whenever
  // some other image's index fallback would have taken it.
  std::vector<bool> done(names.size());
  for (size_t i = 0; i < names.size(); i++)
    if (ok_as_dir(names[i]) && used.insert(names[i]).second) {
      out[i].name = names[i];
      done[i] = true;
    }
  for (size_t i = 0; i < names.size(); i++) {
    if (done[i]) continue;
    std::string index = std::to_string(i + 1);
    bool wimlib_choice_free = !ok_as_dir(names[i]) && used.insert(index).second;
    if (wimlib_choice_free) {
      out[i].name = index;
      continue;
    }
    out[i].renamed = true;
    if (used.insert(index).second) {
      out[i].name = index;
      continue;
    }
    std::string cand = "image" + index;
    for (int k = 2; !used.insert(cand).second; k++) cand = "image" + index + "-" + std::to_string(k);
    out[i].name = cand;
  }
  return out;
}

}  // namespace wp::apply
