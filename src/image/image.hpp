// The in-memory image: inodes, dentries and the tree (wim-format.md §7).
// Capture builds one; the metadata codec (src/wim/metadata.*) encodes and
// decodes it; apply walks it. Names are kept as UTF-8 (WTF-8, see
// util/utf.hpp) because that is what every user of the tree on Linux needs;
// the metadata codec converts to UTF-16LE at the edge.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/bytes.hpp"
#include "util/sha1.hpp"

namespace wp::image {

// wim-format.md §10.2
enum Attr : uint32_t {
  kAttrReadonly = 0x1,
  kAttrHidden = 0x2,
  kAttrSystem = 0x4,
  kAttrDirectory = 0x10,
  kAttrArchive = 0x20,
  kAttrNormal = 0x80,
  kAttrSparse = 0x200,
  kAttrReparsePoint = 0x400,
  kAttrCompressed = 0x800,
  kAttrEncrypted = 0x4000,
};

// wim-format.md §9.1 / §8
constexpr uint32_t kReparseTagSymlink = 0xA000000C;
constexpr uint32_t kReparseTagMountPoint = 0xA0000003;
constexpr uint16_t kRpNotFixed = 0x0001;
constexpr uint32_t kTagObjectId = 0x1;
constexpr uint32_t kTagXattrs = 0x2;
constexpr uint32_t kTagUnixData = 0x337DD873;
constexpr uint32_t kTagOldXattrs = 0x337DD874;

constexpr uint32_t kNoSource = UINT32_MAX;
// wim-format.md §7.4, §15: the deepest directory (root = depth 0) a reader
// accepts is kMaxDepth - 1, as in wimlib's metadata reader. Capture refuses
// deeper trees and the metadata decoder refuses them, with the same limit.
constexpr uint32_t kMaxDepth = 16384;

enum class StreamType : uint8_t { Data, Reparse, EfsRaw };

struct Stream {
  StreamType type = StreamType::Data;
  std::u16string name;  // empty = the unnamed stream
  Sha1 hash;            // zero = empty stream (no blob)
  uint64_t size = 0;    // uncompressed size: from capture, or from the blob table on read
  // Capture only: index into the capture's blob sources, or kNoSource when the
  // content is already known by hash (e.g. --update-of) or empty.
  uint32_t source = kNoSource;
};

struct TaggedItem {
  uint32_t tag = 0;
  Bytes data;
};

struct UnixData {
  uint32_t uid = 0, gid = 0, mode = 0, rdev = 0;
};

struct Xattr {
  std::string name;  // with namespace prefix, e.g. "user.test"
  Bytes value;
  uint8_t flags = 0;
};

struct Inode {
  uint32_t attributes = 0;
  int32_t security_id = -1;
  uint64_t creation_time = 0, last_access_time = 0, last_write_time = 0;  // FILETIME
  uint32_t reparse_tag = 0;
  uint16_t rp_reserved = 0, rp_flags = 0;
  uint32_t unknown_0x54 = 0;
  std::vector<Stream> streams;
  std::vector<TaggedItem> tagged_items;  // on-disk order; unknown tags are kept verbatim

  // Derived/bookkeeping, not stored as such on disk:
  uint32_t nlink = 0;  // dentries that refer to this inode (kept up to date by Image)
  uint64_t ino = 0;    // unique within the image; becomes hard_link_group_id when nlink > 1
  uint64_t disk_group_id = 0;  // hard_link_group_id as decoded (shown by dir --detailed; 0 if none)

  bool is_directory() const { return (attributes & kAttrDirectory) && !(attributes & kAttrReparsePoint); }
  bool is_reparse_point() const { return attributes & kAttrReparsePoint; }
  bool is_symlink() const {
    return is_reparse_point() && (reparse_tag == kReparseTagSymlink || reparse_tag == kReparseTagMountPoint);
  }

  Stream* find_stream(StreamType type, std::u16string_view name = {});
  const Stream* find_stream(StreamType type, std::u16string_view name = {}) const;
  const Stream* unnamed_data() const { return find_stream(StreamType::Data); }
  const Stream* reparse_stream() const { return find_stream(StreamType::Reparse); }

  // Tagged items (wim-format.md §8): lookup returns the first item with the
  // tag whose data is long enough; set replaces all items with that tag.
  const TaggedItem* find_tag(uint32_t tag, size_t min_size) const;
  void set_tag(uint32_t tag, Bytes data);
  std::optional<UnixData> unix_data() const;
  void set_unix_data(const UnixData& u);
  // Linux xattrs: tag 2 (new format) or, failing that, tag 0x337DD874 (old).
  // Malformed entries are dropped (returns what parsed cleanly).
  std::vector<Xattr> xattrs() const;
  void set_xattrs(const std::vector<Xattr>& xattrs);  // empty vector removes the item
};

struct Dentry {
  std::string name;            // UTF-8/WTF-8; empty only for the root
  std::u16string short_name;   // DOS 8.3 name, kept for round trips
  Inode* inode = nullptr;
  Dentry* parent = nullptr;
  std::vector<std::unique_ptr<Dentry>> children;  // only for directories

  bool is_directory() const { return inode->is_directory(); }
  Dentry* child(std::string_view name) const;  // exact (case-sensitive) match
  std::string path() const;                     // "/a/b"; "/" for the root
};

// §7.1, kept verbatim so that descriptors survive a round trip byte for byte.
struct SecurityData {
  Bytes block = {8, 0, 0, 0, 0, 0, 0, 0};
  uint32_t num_entries = 0;
};

struct ImageStats {
  uint64_t dir_count = 0, file_count = 0, total_bytes = 0, hard_link_bytes = 0;
};

// Every dentry at and below `d` stops counting as a link of its inode (the
// dentries themselves are left to their owner to drop).
void unlink_subtree(Dentry* d);

class Image {
public:
  Image();
  Image(Image&&) = default;
  Image& operator=(Image&&) = default;

  Dentry* root() const { return root_.get(); }
  SecurityData& security() { return security_; }
  const SecurityData& security() const { return security_; }

  Inode* new_inode();
  // Adds a dentry under `parent` (a directory). Throws if the name exists.
  Dentry* add_child(Dentry* parent, std::string name, Inode* inode);
  // Removes a dentry and its subtree (inodes stay allocated; link counts drop).
  void remove(Dentry* d);
  // Finds "/a/b" (or "a/b"); nullptr if absent.
  Dentry* lookup(std::string_view path) const;
  // Replaces the root (used by the metadata decoder).
  void set_root(std::unique_ptr<Dentry> root);

  std::deque<Inode>& inodes() { return inodes_; }
  const std::deque<Inode>& inodes() const { return inodes_; }

  // Visits every dentry in pre-order (parents before children).
  template <class F>
  void for_each_dentry(F&& f) const {
    std::vector<Dentry*> stack{root_.get()};
    while (!stack.empty()) {
      Dentry* d = stack.back();
      stack.pop_back();
      f(*d);
      for (auto it = d->children.rbegin(); it != d->children.rend(); ++it) stack.push_back(it->get());
    }
  }

  // XML statistics (wim-format.md §6.3), computed from the tree and the
  // stream sizes.
  ImageStats stats() const;
  // Numbers inodes 1..n in pre-order (stable hard link group IDs).
  void number_inodes();

private:
  SecurityData security_;
  std::deque<Inode> inodes_;  // stable addresses
  std::unique_ptr<Dentry> root_;
};

}  // namespace wp::image
