#include "wim/metadata.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "util/printable.hpp"
#include "util/utf.hpp"

namespace wp::wim {

using image::Dentry;
using image::Image;
using image::Inode;
using image::Stream;
using image::StreamType;

namespace {

// wim-format.md §7.2: field offsets within a dentry.
constexpr uint64_t kDentryFixedSize = 102;
constexpr uint64_t kOffAttributes = 0x08;
constexpr uint64_t kOffSecurityId = 0x0C;
constexpr uint64_t kOffSubdirOffset = 0x10;
constexpr uint64_t kOffCreationTime = 0x28;
constexpr uint64_t kOffLastAccessTime = 0x30;
constexpr uint64_t kOffLastWriteTime = 0x38;
constexpr uint64_t kOffMainHash = 0x40;
constexpr uint64_t kOffUnknown54 = 0x54;
constexpr uint64_t kOffUnion = 0x58;  // reparse_tag or hard_link_group_id
constexpr uint64_t kOffRpReserved = 0x5C;
constexpr uint64_t kOffRpFlags = 0x5E;
constexpr uint64_t kOffNumExtraStreams = 0x60;
constexpr uint64_t kOffShortNameNbytes = 0x62;
constexpr uint64_t kOffFileNameNbytes = 0x64;
constexpr uint64_t kOffFileName = 0x66;

// §7.3: extra stream entry.
constexpr uint64_t kStreamFixedSize = 38;
constexpr uint64_t kOffStreamHash = 16;
constexpr uint64_t kOffStreamNameNbytes = 36;

// §7.4 / §15 (the limit capture also enforces)
using image::kMaxDepth;
constexpr size_t kMaxWarnings = 1000;

const Sha1 kZeroHash{};

// §7.4: NTFS upper-casing, restricted to the ranges where it is a simple
// pairing: ASCII, Latin-1 Supplement and Latin Extended-A. Characters whose
// NTFS mapping is irregular (U+00B5, U+0131, U+017F) are left alone.
char16_t upcase(char16_t c) {
  if (c < 0x80) return (c >= u'a' && c <= u'z') ? char16_t(c - 0x20) : c;
  if (c < 0x100) {
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return char16_t(c - 0x20);
    if (c == 0xFF) return 0x178;
    return c;
  }
  if (c < 0x180) {
    bool even_upper = (c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (even_upper && (c & 1)) return char16_t(c - 1);
    if (odd_upper && !(c & 1)) return char16_t(c - 1);
  }
  return c;
}

std::u16string upcased(std::u16string_view s) {
  std::u16string u(s);
  for (auto& c : u) c = upcase(c);
  return u;
}

[[noreturn]] void unsupported(const std::string& what) { fail(Errc::Unsupported, "cannot store in a WIM: " + what); }

// ---------------------------------------------------------------- encoding

// §7.3 "Writing" (wimlib >= 1.14.2): which hash goes to main_hash and which
// streams become extra entries.
struct StreamPlan {
  struct Extra {
    const Sha1* hash;
    std::u16string_view name;
  };
  Sha1 main_hash;
  std::vector<Extra> extras;
};

StreamPlan plan_streams(const Inode& ino) {
  StreamPlan p;
  if (ino.attributes & image::kAttrEncrypted) {
    if (const Stream* s = ino.find_stream(StreamType::EfsRaw)) p.main_hash = s->hash;
    return p;
  }
  const Sha1* unnamed[2];
  size_t n_unnamed = 0;
  if (ino.attributes & image::kAttrReparsePoint) {
    const Stream* s = ino.reparse_stream();
    unnamed[n_unnamed++] = s ? &s->hash : &kZeroHash;
  }
  if (!(ino.attributes & image::kAttrDirectory)) {
    const Stream* s = ino.unnamed_data();
    unnamed[n_unnamed++] = s ? &s->hash : &kZeroHash;
  }
  bool has_named = false;
  for (const auto& s : ino.streams) has_named |= (s.type == StreamType::Data && !s.name.empty());
  if (n_unnamed <= 1 && !has_named) {
    if (n_unnamed) p.main_hash = *unnamed[0];
    return p;
  }
  for (size_t i = 0; i < n_unnamed; i++) p.extras.push_back({unnamed[i], {}});
  for (const auto& s : ino.streams)
    if (s.type == StreamType::Data && !s.name.empty()) p.extras.push_back({&s.hash, s.name});
  return p;
}

uint64_t extra_entry_length(std::u16string_view name) {
  return name.empty() ? align8(kStreamFixedSize) : align8(kStreamFixedSize + 2 * name.size() + 2);
}

// A dentry about to be written, with its name already in UTF-16.
struct EncEntry {
  const Dentry* d;
  std::u16string name;
  std::u16string key;  // upcased name: primary collation key
  uint64_t length = 0;       // the dentry's `length` field
  uint64_t total_length = 0; // plus its extra stream entries
};

struct EncList {
  const Dentry* dir;
  std::vector<EncEntry> children;
  uint64_t offset = 0;
};

uint64_t name_field_bytes(size_t units) { return units ? 2 * uint64_t(units) + 2 : 0; }

void measure(EncEntry& e) {
  const Inode& ino = *e.d->inode;
  const std::u16string& short_name = e.d->parent ? e.d->short_name : std::u16string();
  if (e.name.size() > 32767 || short_name.size() > 32767)
    unsupported("name of " + e.d->path() + " is longer than 65534 bytes in UTF-16");
  uint64_t len = align8(kDentryFixedSize + name_field_bytes(e.name.size()) + name_field_bytes(short_name.size()));
  for (const auto& t : ino.tagged_items) {
    if (t.data.size() > UINT32_MAX) unsupported("tagged item of " + e.d->path() + " is larger than 4 GiB");
    len += 8 + align8(t.data.size());
  }
  e.length = len;
  StreamPlan plan = plan_streams(ino);
  if (plan.extras.size() > UINT16_MAX) unsupported(e.d->path() + " has more than 65535 streams");
  for (const auto& x : plan.extras) {
    if (x.name.size() > 32767) unsupported("stream name of " + e.d->path() + " is longer than 65534 bytes");
    len += extra_entry_length(x.name);
  }
  e.total_length = len;
}

EncEntry make_entry(const Dentry* d) {
  EncEntry e;
  e.d = d;
  if (d->parent) {
    if (d->name.empty()) unsupported("an empty file name below " + d->parent->path());
    auto u = utf8_to_utf16(d->name);
    if (!u) unsupported("file name of " + d->path() + " is not valid UTF-8");
    e.name = std::move(*u);
    e.key = upcased(e.name);
  }
  measure(e);
  return e;
}

void write_utf16z(ByteWriter& w, std::u16string_view s) {
  if (s.empty()) return;
  utf16le_encode(s, w.bytes());
  w.u16(0);
}

void write_entry(ByteWriter& w, const EncEntry& e, uint64_t subdir_offset) {
  const Dentry& d = *e.d;
  const Inode& ino = *d.inode;
  const std::u16string& short_name = d.parent ? d.short_name : std::u16string();
  StreamPlan plan = plan_streams(ino);
  size_t start = w.size();
  w.u64(e.length);
  w.u32(ino.attributes);
  w.u32(uint32_t(ino.security_id));
  w.u64(subdir_offset);
  w.u64(0);  // unused_1
  w.u64(0);  // unused_2
  w.u64(ino.creation_time);
  w.u64(ino.last_access_time);
  w.u64(ino.last_write_time);
  w.raw(plan.main_hash.bytes);
  w.u32(ino.unknown_0x54);
  if (ino.attributes & image::kAttrReparsePoint) {
    // §7.2: the union holds the reparse fields; such a file cannot be hard-linked.
    w.u32(ino.reparse_tag);
    w.u16(ino.rp_reserved);
    w.u16(ino.rp_flags);
  } else {
    w.u64(ino.nlink > 1 ? ino.ino : 0);
  }
  w.u16(uint16_t(plan.extras.size()));
  w.u16(uint16_t(2 * short_name.size()));
  w.u16(uint16_t(2 * e.name.size()));
  write_utf16z(w, e.name);
  write_utf16z(w, short_name);
  w.pad_to(8);
  for (const auto& t : ino.tagged_items) {  // §8: each item 8-aligned
    w.u32(t.tag);
    w.u32(uint32_t(t.data.size()));
    w.raw(t.data);
    w.pad_to(8);
  }
  if (w.size() - start != e.length) fail(Errc::Failure, "internal error: dentry length mismatch for " + d.path());
  for (const auto& x : plan.extras) {
    w.u64(extra_entry_length(x.name));
    w.u64(0);  // reserved
    w.raw(x.hash->bytes);
    w.u16(uint16_t(2 * x.name.size()));
    write_utf16z(w, x.name);
    w.pad_to(8);
  }
}

// ---------------------------------------------------------------- decoding

struct GroupKey {
  uint64_t id;
  Sha1 data_hash;
  bool operator==(const GroupKey&) const = default;
};
struct GroupKeyHash {
  size_t operator()(const GroupKey& k) const noexcept { return Sha1Hash{}(k.data_hash) ^ (k.id * 0x9E3779B97F4A7C15ull); }
};

struct RawExtra {
  Sha1 hash;
  std::u16string name;
};

// One dentry as read from the resource, before it joins the tree.
struct RawDentry {
  uint64_t next = 0;  // offset of the next sibling (after the extra entries)
  uint64_t subdir_offset = 0;
  uint64_t group_id = 0;
  std::u16string name, short_name;
  Inode inode;
};

class Decoder {
public:
  Decoder(ByteSpan data, const std::string& context, std::vector<std::string>* warnings)
      : d_(data), context_(context), warnings_(warnings) {}

  Image run();

private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(Errc::BadArchive, context_ + ": invalid metadata resource: " + what);
  }
  bool want_warning() {
    if (!warnings_) return false;
    if (warnings_->size() >= kMaxWarnings) {
      suppressed_++;
      return false;
    }
    return true;
  }
  void warn(std::string msg) { warnings_->push_back(context_ + ": " + std::move(msg)); }

  uint64_t parse_security(Image& img);
  bool read_dentry(uint64_t off, RawDentry& out);
  void classify_streams(Inode& ino, const Sha1& main_hash, std::vector<RawExtra>& extras);
  void parse_tagged_items(Inode& ino, uint64_t begin, uint64_t end);
  void consume(uint64_t n) {
    // Dentries must not share bytes: this bounds the tree by the resource
    // size even when child lists overlap or are referenced twice.
    if (n > d_.size() - consumed_)
      bad("dentries and child lists overlap (they describe more than the resource's " + std::to_string(d_.size()) +
          " bytes)");
    consumed_ += n;
  }
  static std::string hex_off(uint64_t off) {
    char buf[32];
    snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(off));
    return buf;
  }

  ByteSpan d_;
  const std::string& context_;
  std::vector<std::string>* warnings_;
  uint64_t consumed_ = 0;
  uint32_t num_security_entries_ = 0;
  size_t bad_security_ids_ = 0;
  size_t suppressed_ = 0;
};

// §7.1. Returns the offset of the root dentry.
uint64_t Decoder::parse_security(Image& img) {
  const uint64_t size = d_.size();
  if (size < 8) bad("resource of " + std::to_string(size) + " bytes is too small for the security data");
  uint32_t total_length = load_le32(&d_[0]);
  uint32_t n = load_le32(&d_[4]);
  uint64_t len = total_length ? total_length : 8;  // 0 is accepted and treated as 8
  if (len > size) bad("security data length " + std::to_string(len) + " exceeds the resource size " + std::to_string(size));
  if (n > 0x80000000u) bad("security data claims " + std::to_string(n) + " descriptors");
  uint64_t sum = 8 + 8 * uint64_t(n);
  if (sum > len) bad("security data: " + std::to_string(n) + " descriptor sizes do not fit in " + std::to_string(len) + " bytes");
  for (uint32_t i = 0; i < n; i++) {
    uint64_t sz = load_le64(&d_[8 + 8 * uint64_t(i)]);
    if (sz > 0xFFFFFFFFu) bad("security descriptor " + std::to_string(i) + " has size " + std::to_string(sz));
    sum += sz;
    if (sum > len) bad("security descriptors overrun the security data length " + std::to_string(len));
  }
  if (align8(sum) != len && want_warning())
    warn("security data length " + std::to_string(len) + " disagrees with its contents (" + std::to_string(align8(sum)) +
         " bytes)");
  uint64_t root_off = align8(len);
  if (root_off > size) bad("no room for the root dentry after the security data");
  img.security().block.assign(d_.begin(), d_.begin() + root_off);
  img.security().num_entries = n;
  num_security_entries_ = n;
  consume(root_off);
  return root_off;
}

// §7.2/§7.3. Returns false for an end-of-list marker.
bool Decoder::read_dentry(uint64_t off, RawDentry& out) {
  const uint64_t size = d_.size();
  if (off > size || size - off < 8) bad("dentry at offset " + hex_off(off) + " is out of bounds");
  const uint8_t* p = &d_[off];
  uint64_t raw_len = load_le64(p);
  if (raw_len <= 8) {  // align8(raw_len) <= 8: end-of-list marker
    consume(8);
    return false;
  }
  if (raw_len > size - off || align8(raw_len) > size - off)
    bad("dentry at offset " + hex_off(off) + " has length " + std::to_string(raw_len) + ", past the end of the resource");
  const uint64_t len = align8(raw_len);
  if (len < kDentryFixedSize) bad("dentry at offset " + hex_off(off) + " is too short (" + std::to_string(len) + " bytes)");

  Inode& ino = out.inode;
  ino.attributes = load_le32(p + kOffAttributes);
  ino.security_id = int32_t(load_le32(p + kOffSecurityId));
  out.subdir_offset = load_le64(p + kOffSubdirOffset);
  ino.creation_time = load_le64(p + kOffCreationTime);
  ino.last_access_time = load_le64(p + kOffLastAccessTime);
  ino.last_write_time = load_le64(p + kOffLastWriteTime);
  Sha1 main_hash = Sha1::from_bytes(p + kOffMainHash);
  ino.unknown_0x54 = load_le32(p + kOffUnknown54);
  if (ino.attributes & image::kAttrReparsePoint) {
    ino.reparse_tag = load_le32(p + kOffUnion);
    ino.rp_reserved = load_le16(p + kOffRpReserved);
    ino.rp_flags = load_le16(p + kOffRpFlags);
    out.group_id = 0;
  } else {
    out.group_id = load_le64(p + kOffUnion);
  }
  uint16_t num_extra = load_le16(p + kOffNumExtraStreams);
  uint16_t short_nbytes = load_le16(p + kOffShortNameNbytes);
  uint16_t name_nbytes = load_le16(p + kOffFileNameNbytes);
  if (name_nbytes & 1)
    bad("dentry at offset " + hex_off(off) + " has an odd file name length (" + std::to_string(name_nbytes) + ")");
  if (short_nbytes & 1)
    bad("dentry at offset " + hex_off(off) + " has an odd short name length (" + std::to_string(short_nbytes) + ")");
  uint64_t name_field = name_nbytes ? name_nbytes + 2u : 0;
  uint64_t short_field = short_nbytes ? short_nbytes + 2u : 0;
  uint64_t names_end = kDentryFixedSize + name_field + short_field;
  if (names_end > len) bad("names of the dentry at offset " + hex_off(off) + " overrun its length " + std::to_string(len));
  out.name = utf16le_decode(d_.subspan(off + kOffFileName, name_nbytes));
  out.short_name = utf16le_decode(d_.subspan(off + kOffFileName + name_field, short_nbytes));
  parse_tagged_items(ino, off + align8(names_end), off + len);

  // §7.3: extra stream entries follow the dentry, outside its length.
  std::vector<RawExtra> extras;
  uint64_t pos = off + len;
  for (uint32_t i = 0; i < num_extra; i++) {
    auto where = [&] { return "extra stream entry " + std::to_string(i) + " of the dentry at offset " + hex_off(off); };
    if (pos > size || size - pos < kStreamFixedSize) bad(where() + " is truncated");
    const uint8_t* s = &d_[pos];
    uint64_t raw = load_le64(s);
    if (raw > size - pos || align8(raw) > size - pos) bad(where() + " has length " + std::to_string(raw) + ", past the end");
    uint64_t elen = align8(raw);
    if (elen < kStreamFixedSize) bad(where() + " is too short (" + std::to_string(raw) + " bytes)");
    uint16_t nb = load_le16(s + kOffStreamNameNbytes);
    if (nb & 1) bad(where() + " has an odd name length (" + std::to_string(nb) + ")");
    if (kStreamFixedSize + nb > elen) bad(where() + ": name overruns the entry");
    extras.push_back({Sha1::from_bytes(s + kOffStreamHash), utf16le_decode(d_.subspan(pos + kStreamFixedSize, nb))});
    pos += elen;
  }
  consume(pos - off);
  out.next = pos;
  classify_streams(ino, main_hash, extras);
  return true;
}

// §8: items are 8-aligned; one that overruns the region ends parsing.
void Decoder::parse_tagged_items(Inode& ino, uint64_t begin, uint64_t end) {
  uint64_t pos = begin;
  while (end - pos >= 8) {
    uint32_t tag = load_le32(&d_[pos]);
    uint64_t data_len = load_le32(&d_[pos + 4]);
    uint64_t footprint = 8 + align8(data_len);
    if (footprint > end - pos) break;
    ino.tagged_items.push_back({tag, Bytes(d_.begin() + pos + 8, d_.begin() + pos + 8 + data_len)});
    pos += footprint;
  }
}

// §7.3 "Reading".
void Decoder::classify_streams(Inode& ino, const Sha1& main_hash, std::vector<RawExtra>& extras) {
  if (ino.attributes & image::kAttrEncrypted) {
    // The first unnamed stream with data is the raw EFS data; nothing else.
    if (!main_hash.is_zero()) {
      ino.streams.push_back({StreamType::EfsRaw, {}, main_hash});
      return;
    }
    for (auto& e : extras)
      if (e.name.empty() && !e.hash.is_zero()) {
        ino.streams.push_back({StreamType::EfsRaw, {}, e.hash});
        return;
      }
    return;
  }
  const bool reparse_point = ino.attributes & image::kAttrReparsePoint;
  bool have_reparse = false, have_data = false;
  auto take_unnamed = [&](const Sha1& h) {
    if (reparse_point && !have_reparse) {
      ino.streams.push_back({StreamType::Reparse, {}, h});
      have_reparse = true;
    } else if (!have_data) {
      ino.streams.push_back({StreamType::Data, {}, h});
      have_data = true;
    }  // further unnamed entries are ignored
  };
  if (!main_hash.is_zero()) take_unnamed(main_hash);
  for (auto& e : extras) {
    if (e.name.empty())
      take_unnamed(e.hash);
    else
      ino.streams.push_back({StreamType::Data, std::move(e.name), e.hash});
  }
  if (!have_reparse && !have_data)
    ino.streams.push_back({reparse_point ? StreamType::Reparse : StreamType::Data, {}, kZeroHash});
}

Image Decoder::run() {
  Image img;
  Dentry* root = img.root();
  uint64_t root_off = parse_security(img);

  RawDentry r;
  if (!read_dentry(root_off, r)) return img;  // no root: an empty image (wimlib allows it)
  if (!r.inode.is_directory()) bad("the root dentry is not a directory (attributes " + hex_off(r.inode.attributes) + ")");
  if ((!r.name.empty() || !r.short_name.empty()) && want_warning()) warn("ignoring the name of the root dentry");
  if (r.inode.security_id < -1 || r.inode.security_id >= int64_t(num_security_entries_)) {
    r.inode.security_id = -1;
    bad_security_ids_++;
  }
  *root->inode = std::move(r.inode);
  root->inode->nlink = 1;

  struct Work {
    uint64_t list_offset;
    Dentry* dir;
    uint32_t depth;
  };
  std::vector<Work> stack;
  if (r.subdir_offset) stack.push_back({r.subdir_offset, root, 0});
  std::unordered_set<uint64_t> visited_lists;
  std::unordered_map<GroupKey, Inode*, GroupKeyHash> groups;
  std::vector<Work> subdirs;

  // For messages: names are the archive's, escaped (util/printable.hpp).
  auto path_of = [](const Dentry* dir, std::u16string_view name) {
    return printable((dir->parent ? dir->path() : std::string()) + "/" + utf16_to_utf8(name));
  };

  while (!stack.empty()) {
    Work w = stack.back();
    stack.pop_back();
    if (w.depth >= kMaxDepth) bad("directory structure too deep (more than " + std::to_string(kMaxDepth) + " levels)");
    // Direct cycle check: wimlib only has the depth limit.
    if (!visited_lists.insert(w.list_offset).second)
      bad("directory cycle: the child list at offset " + hex_off(w.list_offset) + " (of " + w.dir->path() +
          ") is referenced twice");

    std::unordered_set<std::string_view> names;
    subdirs.clear();
    uint64_t off = w.list_offset;
    for (;;) {
      RawDentry c;
      const uint64_t c_off = off;
      if (!read_dentry(off, c)) break;
      off = c.next;

      // §7.4: entries that cannot be part of a tree on Linux are skipped.
      const char* skip = nullptr;
      if (c.name.empty())
        skip = "has no name";
      else if (c.name == u"." || c.name == u"..")
        skip = "is named \".\" or \"..\"";
      else if (c.name.find(u'\0') != std::u16string::npos)
        skip = "contains a NUL character";
      else if (c.name.find(u'/') != std::u16string::npos)
        skip = "contains '/', which cannot be part of a file name on Linux (not extractable)";
      if (skip) {
        if (want_warning())
          warn("skipping the entry " + path_of(w.dir, c.name) + " at offset " + hex_off(c_off) + ": its name " + skip);
        continue;
      }
      std::string name = utf16_to_utf8(c.name);
      if (names.count(name)) {
        if (want_warning()) warn("skipping the duplicate entry " + path_of(w.dir, c.name));
        continue;
      }

      if (c.inode.security_id < -1 || c.inode.security_id >= int64_t(num_security_entries_)) {
        c.inode.security_id = -1;
        bad_security_ids_++;
      }

      // §7.5: same non-zero group ID and same unnamed data → one inode; the
      // first dentry read supplies the metadata. Directories are never merged.
      Inode* ino = nullptr;
      const bool is_dir = c.inode.is_directory();
      if (!is_dir && c.group_id != 0) {
        const Stream* data = c.inode.unnamed_data();
        GroupKey key{c.group_id, data ? data->hash : kZeroHash};
        auto [it, inserted] = groups.try_emplace(key, nullptr);
        if (inserted) {
          it->second = &(*img.new_inode() = std::move(c.inode));
          it->second->disk_group_id = c.group_id;
        }
        ino = it->second;
      } else {
        ino = &(*img.new_inode() = std::move(c.inode));
        ino->disk_group_id = c.group_id;
      }

      auto d = std::make_unique<Dentry>();
      d->name = std::move(name);
      d->short_name = std::move(c.short_name);
      d->inode = ino;
      d->parent = w.dir;
      ino->nlink++;
      Dentry* child = d.get();
      w.dir->children.push_back(std::move(d));
      names.insert(child->name);

      if (c.subdir_offset != 0) {
        if (is_dir)
          subdirs.push_back({c.subdir_offset, child, w.depth + 1});
        else if (want_warning())
          warn("ignoring children of the non-directory " + printable(child->path()));
      }
    }
    // Pre-order, first child first.
    stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
  }

  if (bad_security_ids_ && want_warning())
    warn(std::to_string(bad_security_ids_) + " entries have out-of-range security IDs; treating them as having no security descriptor");
  if (suppressed_ && warnings_) warnings_->push_back(context_ + ": " + std::to_string(suppressed_) + " more warnings not shown");
  img.number_inodes();
  return img;
}

}  // namespace

int collate_names(std::u16string_view a, std::u16string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; i++) {
    char16_t x = upcase(a[i]), y = upcase(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

Bytes encode_metadata(Image& img) {
  img.number_inodes();

  // Child lists of all directories in pre-order (§7.4), children collated.
  std::vector<EncList> lists;
  std::unordered_map<const Dentry*, size_t> list_index;
  std::vector<const Dentry*> stack{img.root()};
  while (!stack.empty()) {
    const Dentry* dir = stack.back();
    stack.pop_back();
    EncList list;
    list.dir = dir;
    list.children.reserve(dir->children.size());
    for (const auto& c : dir->children) list.children.push_back(make_entry(c.get()));
    std::sort(list.children.begin(), list.children.end(), [](const EncEntry& a, const EncEntry& b) {
      if (a.key != b.key) return a.key < b.key;
      return a.name < b.name;
    });
    for (auto it = list.children.rbegin(); it != list.children.rend(); ++it)
      if (it->d->is_directory()) stack.push_back(it->d);
    list_index.emplace(dir, lists.size());
    lists.push_back(std::move(list));
  }

  Bytes sec = img.security().block;
  if (sec.empty()) sec = image::SecurityData{}.block;
  sec.resize(align8(sec.size()), 0);
  uint32_t total_length = sec.size() >= 4 ? load_le32(sec.data()) : 0;
  if (sec.size() < 8 || align8(total_length ? total_length : 8) != sec.size())
    fail(Errc::Failure, "cannot encode the image: its security data block is inconsistent with its length field");

  EncEntry root = make_entry(img.root());
  uint64_t next = sec.size() + root.total_length + 8;
  for (auto& l : lists) {
    l.offset = next;
    for (const auto& c : l.children) next += c.total_length;
    next += 8;
  }
  auto subdir_of = [&](const Dentry* d) -> uint64_t {
    if (!d->is_directory()) return 0;
    return lists[list_index.at(d)].offset;
  };

  ByteWriter w;
  w.bytes().reserve(next);
  w.raw(sec);
  write_entry(w, root, subdir_of(img.root()));
  w.u64(0);
  for (const auto& l : lists) {
    for (const auto& c : l.children) write_entry(w, c, subdir_of(c.d));
    w.u64(0);
  }
  if (w.size() != next) fail(Errc::Failure, "internal error: metadata resource size mismatch");
  return std::move(w.bytes());
}

image::Image decode_metadata(ByteSpan data, const std::string& context, std::vector<std::string>* warnings) {
  return Decoder(data, context, warnings).run();
}

}  // namespace wp::wim
