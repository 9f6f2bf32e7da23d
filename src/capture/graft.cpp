#include "capture/graft.hpp"

#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace wp::capture {

using image::Dentry;

namespace {

// Every dentry below (and including) `d` stops referring to its inode.
void unlink_tree(Dentry *d) {
  std::vector<Dentry *> stack{d};
  while (!stack.empty()) {
    Dentry *x = stack.back();
    stack.pop_back();
    x->inode->nlink--;
    for (auto &c : x->children)
      stack.push_back(c.get());
  }
}

std::string quoted(const std::string &s) { return "\"" + s + "\""; }

} // namespace

void Grafter::stamp_root() {
  image::Inode *r = img_.root()->inode;
  r->attributes = image::kAttrDirectory;
  r->creation_time = r->last_write_time = r->last_access_time = now_;
}

bool Grafter::finish_empty() {
  if (have_root_)
    return false;
  stamp_root();
  have_root_ = true;
  return true;
}

Dentry *Grafter::placeholder(Dentry *parent, std::string name) {
  // source_list.hpp: a missing parent is a plain directory made at capture
  // time, with no security descriptor (wimlib does the same).
  image::Inode *ino = img_.new_inode();
  ino->attributes = image::kAttrDirectory;
  ino->creation_time = ino->last_write_time = ino->last_access_time = now_;
  return img_.add_child(parent, std::move(name), ino);
}

void Grafter::add(std::unique_ptr<Dentry> tree, const OverlayStep &step,
                  const std::string &where) {
  if (step.to_root) {
    if (!tree->is_directory())
      fail(Errc::Usage,
           where + ": only a directory can be placed at the image root \"/\"");
    if (!have_root_) {
      // The first entry to reach the root supplies it (its metadata too).
      have_root_ = true;
      img_.root()->inode->nlink = 0;
      tree->name.clear();
      tree->parent = nullptr;
      img_.set_root(std::move(tree));
      return;
    }
    merge(img_.root(), std::move(tree), where);
    return;
  }
  if (!have_root_) {
    stamp_root();
    have_root_ = true;
  }
  Dentry *dir = img_.root();
  for (const std::string &p : step.parents) {
    std::string_view name = std::string_view(p).substr(p.rfind('/') + 1);
    Dentry *d = dir->child(name);
    if (!d)
      d = placeholder(dir, std::string(name));
    else if (!d->is_directory())
      fail(Errc::Usage,
           where + ": cannot place " +
               quoted(step.parent == "/" ? "/" + step.name
                                         : step.parent + "/" + step.name) +
               ": " + quoted(p) +
               " in the image is not a directory (an earlier line put a file "
               "there)");
    dir = d;
  }
  tree->name = step.name;
  std::unique_ptr<Dentry> *slot = nullptr;
  for (auto &c : dir->children)
    if (c->name == step.name)
      slot = &c;
  place(dir, slot, std::move(tree), where);
}

void Grafter::place(Dentry *parent, std::unique_ptr<Dentry> *slot,
                    std::unique_ptr<Dentry> in, const std::string &where) {
  in->parent = parent;
  if (!slot) {
    parent->children.push_back(std::move(in));
    return;
  }
  Dentry *old = slot->get();
  bool old_dir = old->is_directory(), new_dir = in->is_directory();
  if (old_dir && new_dir) {
    merge(old, std::move(in), where);
  } else if (!old_dir && !new_dir) {
    // Last wins (wimlib: 'Updating "/f" in WIM image').
    unlink_tree(old);
    *slot = std::move(in);
    replaced_++;
  } else if (old_dir) {
    fail(Errc::Usage, where + ": cannot place a file at " +
                          quoted(old->path()) +
                          ": an earlier line put a directory there; give a "
                          "target inside it, e.g. " +
                          quoted(old->path() + "/" + in->name));
  } else {
    fail(Errc::Usage, where + ": cannot place a directory at " +
                          quoted(old->path()) +
                          ": an earlier line put a file there");
  }
}

void Grafter::merge(Dentry *dst, std::unique_ptr<Dentry> src,
                    const std::string &where) {
  // Iterative: a merge may be as deep as the scanned tree. The existing
  // directory keeps its own metadata; `src`'s top dentry is dropped.
  std::vector<std::pair<Dentry *, std::unique_ptr<Dentry>>> work;
  work.emplace_back(dst, std::move(src));
  std::unordered_map<std::string_view, size_t> index;
  while (!work.empty()) {
    auto [d, s] = std::move(work.back());
    work.pop_back();
    s->inode->nlink--;
    if (s->children.empty())
      continue;
    index.clear();
    for (size_t i = 0; i < d->children.size(); i++)
      index.emplace(d->children[i]->name, i);
    for (auto &c : s->children) {
      auto it = index.find(c->name);
      if (it == index.end()) {
        c->parent = d;
        d->children.push_back(std::move(c));
        continue;
      }
      size_t i = it->second;
      Dentry *old = d->children[i].get();
      if (old->is_directory() && c->is_directory()) {
        work.emplace_back(old, std::move(c));
        continue;
      }
      // The slot's name view must not outlive the dentry being replaced.
      index.erase(it);
      place(d, &d->children[i], std::move(c), where);
      index.emplace(d->children[i]->name, i);
    }
  }
}

} // namespace wp::capture
