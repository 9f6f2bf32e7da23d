#include "image/ops.hpp"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "util/error.hpp"

namespace wp::image {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The owning slot of `d` in its parent's child list.
std::unique_ptr<Dentry>* slot_of(Dentry* d) {
  for (auto& c : d->parent->children)
    if (c.get() == d) return &c;
  fail(Errc::Failure, "internal error: " + d->path() + " is not among its parent's children");
}

std::unique_ptr<Dentry> detach(Dentry* d) {
  std::unique_ptr<Dentry>* slot = slot_of(d);
  std::unique_ptr<Dentry> out = std::move(*slot);
  auto& sib = d->parent->children;
  sib.erase(sib.begin() + (slot - sib.data()));
  out->parent = nullptr;
  return out;
}

Dentry* attach(Dentry* parent, std::unique_ptr<Dentry> d) {
  d->parent = parent;
  parent->children.push_back(std::move(d));
  return parent->children.back().get();
}

Dentry* filler_dir(Image& img, Dentry* parent, std::string name, uint64_t now) {
  Inode* ino = img.new_inode();
  ino->attributes = kAttrDirectory;
  ino->creation_time = ino->last_write_time = ino->last_access_time = now;
  return img.add_child(parent, std::move(name), ino);
}

}  // namespace

std::vector<std::string> split_image_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && (path[i] == '/' || path[i] == '\\')) i++;
    if (i >= path.size()) break;
    size_t j = i;
    while (j < path.size() && path[j] != '/' && path[j] != '\\') j++;
    parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

std::string join_image_path(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string p;
  for (const auto& s : parts) p += "/" + s;
  return p;
}

Dentry* lookup_path(const Image& img, std::string_view path) {
  Dentry* d = img.root();
  for (const auto& name : split_image_path(path)) {
    if (!d->is_directory()) return nullptr;
    d = d->child(name);
    if (!d) return nullptr;
  }
  return d;
}

bool delete_path(Image& img, std::string_view path, bool force, bool recursive) {
  std::string shown = join_image_path(split_image_path(path));
  Dentry* d = lookup_path(img, path);
  if (!d) {
    if (force) return false;
    fail(Errc::NotFound, "path " + quoted(shown) + " does not exist in the image");
  }
  if (d->is_directory() && !recursive)
    fail(Errc::Failure, quoted(shown) + " is a directory (pass --recursive to delete a directory tree)");
  if (!d->parent) {
    // "/" itself stays: the image becomes empty.
    for (auto& c : d->children) unlink_subtree(c.get());
    d->children.clear();
    return true;
  }
  img.remove(d);
  return true;
}

void rename_path(Image& img, std::string_view from, std::string_view to) {
  std::vector<std::string> fp = split_image_path(from), tp = split_image_path(to);
  std::string fs = join_image_path(fp), ts = join_image_path(tp);
  auto cant = [&](Errc code, const std::string& why) {
    fail(code, "cannot rename " + quoted(fs) + " to " + quoted(ts) + ": " + why);
  };
  Dentry* src = lookup_path(img, from);
  if (!src) cant(Errc::NotFound, quoted(fs) + " does not exist in the image");
  if (tp.empty() || !src->parent) cant(Errc::Failure, "the root directory cannot be renamed or replaced");
  std::string name = tp.back();
  tp.pop_back();
  Dentry* parent = img.root();
  for (const auto& n : tp) {
    Dentry* c = parent->child(n);
    if (!c) cant(Errc::NotFound, "the directory " + quoted(join_image_path(tp)) + " does not exist in the image");
    if (!c->is_directory()) cant(Errc::Failure, quoted(c->path()) + " is not a directory");
    parent = c;
  }
  Dentry* dst = parent->child(name);
  if (dst == src) return;
  // A directory cannot move into its own subtree.
  for (Dentry* a = parent; a; a = a->parent)
    if (a == src) cant(Errc::Failure, "a directory cannot be moved inside itself");
  if (dst) {
    if (src->is_directory() && !dst->is_directory()) cant(Errc::Failure, quoted(ts) + " is not a directory");
    if (!src->is_directory() && dst->is_directory()) cant(Errc::Failure, quoted(ts) + " is a directory");
    if (dst->is_directory() && !dst->children.empty()) cant(Errc::Failure, quoted(ts) + " is a directory that is not empty");
    img.remove(dst);
  }
  std::unique_ptr<Dentry> moving = detach(src);
  moving->name = std::move(name);
  attach(parent, std::move(moving));
}

void adopt_tree(Image& to, Dentry& tree, uint32_t source_offset, InodeMap* shared) {
  InodeMap local;
  InodeMap& map = shared ? *shared : local;
  std::vector<Dentry*> stack{&tree};
  while (!stack.empty()) {
    Dentry* d = stack.back();
    stack.pop_back();
    auto [it, fresh] = map.try_emplace(d->inode, nullptr);
    if (fresh) {
      Inode* n = to.new_inode();
      *n = *d->inode;
      n->nlink = 0;
      n->ino = 0;
      for (auto& s : n->streams)
        if (s.source != kNoSource) s.source += source_offset;
      it->second = n;
    }
    d->inode->nlink--;  // the old image no longer has this dentry
    d->inode = it->second;
    d->inode->nlink++;
    for (auto& c : d->children) stack.push_back(c.get());
  }
}

namespace {

class Graft {
public:
  Graft(Image& img, const GraftOptions& opts) : img_(img), opts_(opts) {}

  // Puts `in` at `parent`/in->name, where `existing` (possibly null) is.
  void place(Dentry* parent, Dentry* existing, std::unique_ptr<Dentry> in) {
    if (!existing) {
      attach(parent, std::move(in));
      return;
    }
    bool old_dir = existing->is_directory(), new_dir = in->is_directory();
    if (old_dir && new_dir) {
      merge(existing, std::move(in));
    } else if (!old_dir && !new_dir) {
      if (opts_.no_replace)
        fail(Errc::Failure, "refusing to overwrite the nondirectory " + quoted(existing->path()) + " (--no-replace)");
      std::unique_ptr<Dentry>* slot = slot_of(existing);
      unlink_subtree(existing);
      in->parent = parent;
      *slot = std::move(in);
      stats.replaced++;
    } else if (old_dir) {
      fail(Errc::Failure, quoted(existing->path()) +
                              " is a directory in the image; give the path at which to place the file inside it, e.g. " +
                              quoted(existing->path() == "/" ? "/" + in->name : existing->path() + "/" + in->name));
    } else {
      fail(Errc::Failure, "cannot place a directory at " + quoted(existing->path()) +
                              ": a nondirectory already exists there");
    }
  }

  GraftStats stats;

private:
  // Iterative, since a merge may be as deep as the scanned tree. `dst` keeps
  // its metadata; the top of `src` is dropped.
  void merge(Dentry* dst, std::unique_ptr<Dentry> src) {
    std::vector<std::pair<Dentry*, std::unique_ptr<Dentry>>> work;
    work.emplace_back(dst, std::move(src));
    while (!work.empty()) {
      auto [d, s] = std::move(work.back());
      work.pop_back();
      s->inode->nlink--;
      std::vector<std::unique_ptr<Dentry>> kids = std::move(s->children);
      for (auto& c : kids) {
        Dentry* old = d->child(c->name);
        if (old && old->is_directory() && c->is_directory())
          work.emplace_back(old, std::move(c));
        else
          place(d, old, std::move(c));
      }
    }
  }

  Image& img_;
  const GraftOptions& opts_;
};

}  // namespace

GraftStats graft_tree(Image& img, std::unique_ptr<Dentry> tree, std::string_view dest, const GraftOptions& opts) {
  std::vector<std::string> parts = split_image_path(dest);
  Graft g(img, opts);
  if (parts.empty()) {
    g.place(nullptr, img.root(), std::move(tree));
    return g.stats;
  }
  std::string name = parts.back();
  parts.pop_back();
  Dentry* dir = img.root();
  for (const auto& p : parts) {
    Dentry* c = dir->child(p);
    if (!c) {
      c = filler_dir(img, dir, p, opts.now);
      g.stats.dirs_created++;
    } else if (!c->is_directory()) {
      fail(Errc::Failure, quoted(c->path()) + " in the image is not a directory");
    }
    dir = c;
  }
  tree->name = name;
  g.place(dir, dir->child(name), std::move(tree));
  return g.stats;
}

void check_invariants(const Image& img) {
  std::unordered_map<const Inode*, uint32_t> links;
  const Dentry* root = img.root();
  if (root->parent) fail(Errc::Failure, "the root has a parent");
  if (!root->is_directory()) fail(Errc::Failure, "the root is not a directory");
  img.for_each_dentry([&](const Dentry& d) {
    links[d.inode]++;
    if (!d.children.empty() && !d.is_directory()) fail(Errc::Failure, d.path() + ": a nondirectory with children");
    std::unordered_set<std::string_view> names;
    for (const auto& c : d.children) {
      if (c->parent != &d) fail(Errc::Failure, c->path() + ": wrong parent pointer");
      if (c->name.empty()) fail(Errc::Failure, d.path() + ": a child with an empty name");
      if (!names.insert(c->name).second) fail(Errc::Failure, d.path() + ": duplicate name " + quoted(c->name));
    }
  });
  for (const auto& ino : img.inodes()) {
    auto it = links.find(&ino);
    uint32_t n = it == links.end() ? 0 : it->second;
    if (ino.nlink != n)
      fail(Errc::Failure, "an inode has nlink " + std::to_string(ino.nlink) + " but " + std::to_string(n) + " dentries");
  }
  for (const auto& [ino, n] : links)
    if (ino->is_directory() && n > 1) fail(Errc::Failure, "a directory inode has several dentries");
}

}  // namespace wp::image
