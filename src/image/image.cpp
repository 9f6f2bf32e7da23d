#include "image/image.hpp"

#include <unordered_set>

#include "util/error.hpp"

namespace wp::image {

Stream* Inode::find_stream(StreamType type, std::u16string_view name) {
  for (auto& s : streams)
    if (s.type == type && s.name == name) return &s;
  return nullptr;
}

const Stream* Inode::find_stream(StreamType type, std::u16string_view name) const {
  return const_cast<Inode*>(this)->find_stream(type, name);
}

const TaggedItem* Inode::find_tag(uint32_t tag, size_t min_size) const {
  for (const auto& t : tagged_items)
    if (t.tag == tag && t.data.size() >= min_size) return &t;
  return nullptr;
}

void Inode::set_tag(uint32_t tag, Bytes data) {
  std::erase_if(tagged_items, [&](const TaggedItem& t) { return t.tag == tag; });
  tagged_items.push_back({tag, std::move(data)});
}

std::optional<UnixData> Inode::unix_data() const {
  const TaggedItem* t = find_tag(kTagUnixData, 16);
  if (!t) return std::nullopt;
  const uint8_t* p = t->data.data();
  return UnixData{load_le32(p), load_le32(p + 4), load_le32(p + 8), load_le32(p + 12)};
}

void Inode::set_unix_data(const UnixData& u) {
  Bytes b(16);
  store_le32(&b[0], u.uid);
  store_le32(&b[4], u.gid);
  store_le32(&b[8], u.mode);
  store_le32(&b[12], u.rdev);
  set_tag(kTagUnixData, std::move(b));
}

// wim-format.md §8: tag 2 entries are packed without padding:
// u16 value_len, u8 name_len, u8 flags, name + NUL, value.
static std::vector<Xattr> parse_new_xattrs(ByteSpan d) {
  std::vector<Xattr> out;
  size_t off = 0;
  while (off + 4 <= d.size()) {
    uint16_t value_len = load_le16(&d[off]);
    uint8_t name_len = d[off + 2];
    uint8_t flags = d[off + 3];
    size_t need = 4 + size_t(name_len) + 1 + value_len;
    if (name_len == 0 || need > d.size() - off) break;
    const uint8_t* name = &d[off + 4];
    if (name[name_len] != 0 || std::find(name, name + name_len, 0) != name + name_len) break;
    Xattr x;
    x.name.assign(reinterpret_cast<const char*>(name), name_len);
    x.value.assign(name + name_len + 1, name + name_len + 1 + value_len);
    x.flags = flags;
    out.push_back(std::move(x));
    off += need;
  }
  return out;
}

// Old format (wimlib 1.11–1.12): u16 name_len, u16 reserved, u32 value_len,
// name (no NUL), value, padded to 4 bytes.
static std::vector<Xattr> parse_old_xattrs(ByteSpan d) {
  std::vector<Xattr> out;
  size_t off = 0;
  while (off + 8 <= d.size()) {
    uint16_t name_len = load_le16(&d[off]);
    uint32_t value_len = load_le32(&d[off + 4]);
    uint64_t need = 8 + uint64_t(name_len) + value_len;
    if (name_len == 0 || name_len > 255 || value_len > 65535 || need > d.size() - off) break;
    Xattr x;
    x.name.assign(reinterpret_cast<const char*>(&d[off + 8]), name_len);
    if (x.name.find('\0') != std::string::npos) break;
    x.value.assign(&d[off + 8 + name_len], &d[off + 8 + name_len] + value_len);
    out.push_back(std::move(x));
    off += (need + 3) & ~uint64_t(3);
  }
  return out;
}

std::vector<Xattr> Inode::xattrs() const {
  if (const TaggedItem* t = find_tag(kTagXattrs, 6)) return parse_new_xattrs(t->data);
  if (const TaggedItem* t = find_tag(kTagOldXattrs, 12)) return parse_old_xattrs(t->data);
  return {};
}

void Inode::set_xattrs(const std::vector<Xattr>& xattrs) {
  std::erase_if(tagged_items, [](const TaggedItem& t) { return t.tag == kTagXattrs || t.tag == kTagOldXattrs; });
  if (xattrs.empty()) return;
  Bytes b;
  for (const auto& x : xattrs) {
    if (x.name.empty() || x.name.size() > 255 || x.value.size() > 65535)
      fail(Errc::Unsupported, "extended attribute '" + x.name + "' is too large for a WIM");
    b.push_back(uint8_t(x.value.size()));
    b.push_back(uint8_t(x.value.size() >> 8));
    b.push_back(uint8_t(x.name.size()));
    b.push_back(x.flags);
    b.insert(b.end(), x.name.begin(), x.name.end());
    b.push_back(0);
    b.insert(b.end(), x.value.begin(), x.value.end());
  }
  tagged_items.push_back({kTagXattrs, std::move(b)});
}

Dentry* Dentry::child(std::string_view n) const {
  for (const auto& c : children)
    if (c->name == n) return c.get();
  return nullptr;
}

std::string Dentry::path() const {
  if (!parent) return "/";
  std::vector<const Dentry*> chain;
  for (const Dentry* d = this; d->parent; d = d->parent) chain.push_back(d);
  std::string p;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) p += "/" + (*it)->name;
  return p;
}

Image::Image() {
  root_ = std::make_unique<Dentry>();
  Inode* ino = new_inode();
  ino->attributes = kAttrDirectory;
  root_->inode = ino;
  ino->nlink = 1;
}

Inode* Image::new_inode() { return &inodes_.emplace_back(); }

Dentry* Image::add_child(Dentry* parent, std::string name, Inode* inode) {
  if (!parent->is_directory()) fail(Errc::Failure, "cannot add '" + name + "' under non-directory " + parent->path());
  if (parent->child(name)) fail(Errc::Failure, "duplicate name '" + name + "' in " + parent->path());
  auto d = std::make_unique<Dentry>();
  d->name = std::move(name);
  d->inode = inode;
  d->parent = parent;
  inode->nlink++;
  parent->children.push_back(std::move(d));
  return parent->children.back().get();
}

void unlink_subtree(Dentry* d) {
  std::vector<Dentry*> stack{d};
  while (!stack.empty()) {
    Dentry* x = stack.back();
    stack.pop_back();
    x->inode->nlink--;
    for (auto& c : x->children) stack.push_back(c.get());
  }
}

void Image::remove(Dentry* d) {
  if (!d->parent) fail(Errc::Failure, "cannot remove the root directory");
  unlink_subtree(d);
  auto& sib = d->parent->children;
  std::erase_if(sib, [&](const std::unique_ptr<Dentry>& p) { return p.get() == d; });
}

Dentry* Image::lookup(std::string_view path) const {
  Dentry* d = root_.get();
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') i++;
    if (i >= path.size()) break;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    d = d->child(path.substr(i, j - i));
    if (!d) return nullptr;
    i = j;
  }
  return d;
}

void Image::set_root(std::unique_ptr<Dentry> root) { root_ = std::move(root); }

ImageStats Image::stats() const {
  ImageStats s;
  std::unordered_set<const Inode*> seen;
  for_each_dentry([&](const Dentry& d) {
    if (d.is_directory())
      s.dir_count++;
    else
      s.file_count++;
    if (!seen.insert(d.inode).second) return;
    uint64_t bytes = 0;
    for (const auto& st : d.inode->streams) bytes += st.size;
    uint64_t links = d.inode->nlink ? d.inode->nlink : 1;
    s.total_bytes += bytes * links;
    s.hard_link_bytes += bytes * (links - 1);
  });
  return s;
}

void Image::number_inodes() {
  for (auto& i : inodes_) i.ino = 0;
  uint64_t next = 1;
  for_each_dentry([&](const Dentry& d) {
    if (d.inode->ino == 0) d.inode->ino = next++;
  });
}

}  // namespace wp::image
