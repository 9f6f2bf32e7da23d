#include "capture/update_of.hpp"

#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace wp::capture {

namespace {

bool unchanged(const image::Inode& now, const image::Inode& old) {
  if (now.creation_time != old.creation_time || now.last_write_time != old.last_write_time) return false;
  if (now.last_access_time < old.last_access_time) return false;
  if (now.is_directory() != old.is_directory()) return false;
  for (const auto& s : now.streams) {
    const image::Stream* o = old.find_stream(s.type, s.name);
    if (!o || o->size != s.size) return false;
    if (s.size && o->hash.is_zero()) return false;
  }
  return true;
}

}  // namespace

UpdateOfStats apply_update_of(image::Image& scanned, const image::Image& tmpl,
                              const std::function<bool(const Sha1&)>& available) {
  UpdateOfStats st;
  std::unordered_set<const image::Inode*> done;
  // Walk both trees together: (new dir, old dir) pairs.
  std::vector<std::pair<const image::Dentry*, const image::Dentry*>> stack{{scanned.root(), tmpl.root()}};
  while (!stack.empty()) {
    auto [nd, od] = stack.back();
    stack.pop_back();
    std::unordered_map<std::string_view, const image::Dentry*> old_children;
    if (od) {
      old_children.reserve(od->children.size());
      for (const auto& c : od->children) old_children.emplace(c->name, c.get());
    }
    for (const auto& c : nd->children) {
      const image::Dentry* oc = nullptr;
      if (auto it = old_children.find(c->name); it != old_children.end()) oc = it->second;
      if (c->is_directory()) {
        stack.push_back({c.get(), oc && oc->is_directory() ? oc : nullptr});
        continue;
      }
      image::Inode* ino = c->inode;
      bool has_source = false;
      for (const auto& s : ino->streams) has_source |= s.source != image::kNoSource;
      if (!has_source || !done.insert(ino).second) continue;
      bool reuse = oc && unchanged(*ino, *oc->inode);
      if (reuse)
        for (const auto& s : ino->streams)
          if (s.source != image::kNoSource && !available(oc->inode->find_stream(s.type, s.name)->hash)) reuse = false;
      if (!reuse) {
        st.files_read++;
        continue;
      }
      for (auto& s : ino->streams) {
        if (s.source == image::kNoSource) continue;
        s.hash = oc->inode->find_stream(s.type, s.name)->hash;
        s.source = image::kNoSource;
      }
      st.files_reused++;
    }
  }
  return st;
}

}  // namespace wp::capture
