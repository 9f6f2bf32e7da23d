#include "apply/dir_listing.hpp"

#include "util/events.hpp"
#include "util/json.hpp"

#include <ctime>
#include <unordered_map>

#include "apply/select.hpp"
#include "util/filetime.hpp"
#include "util/endian.hpp"
#include "util/utf.hpp"

namespace wp::apply {
namespace {

using image::Dentry;
using image::Inode;

// wimlib-imagex's names for the attribute bits it reports, in bit order.
struct AttrName {
  uint32_t bit;
  const char* name;
};
constexpr AttrName kAttrNames[] = {
    {0x1, "READONLY"},     {0x2, "HIDDEN"},         {0x4, "SYSTEM"},         {0x10, "DIRECTORY"},
    {0x20, "ARCHIVE"},     {0x40, "DEVICE"},        {0x80, "NORMAL"},        {0x100, "TEMPORARY"},
    {0x200, "SPARSE_FILE"}, {0x400, "REPARSE_POINT"}, {0x800, "COMPRESSED"},  {0x1000, "OFFLINE"},
    {0x2000, "NOT_CONTENT_INDEXED"}, {0x4000, "ENCRYPTED"}, {0x10000, "VIRTUAL"},
};

constexpr AttrName kResFlagNames[] = {
    {0x1, "WIM_RESHDR_FLAG_FREE"},       {0x2, "WIM_RESHDR_FLAG_METADATA"}, {0x4, "WIM_RESHDR_FLAG_COMPRESSED"},
    {0x8, "WIM_RESHDR_FLAG_SPANNED"},    {0x10, "WIM_RESHDR_FLAG_SOLID"},
};


class Lister {
public:
  Lister(const wim::Archive* a, const image::Image& img, const ListOptions& o, std::FILE* out)
      : archive_(a), opts_(o), out_(out) {
    // The security block (wim-format.md §7.1): u32 total length, u32 count,
    // u64 size of each descriptor, then the descriptors back to back.
    const Bytes& b = img.security().block;
    if (b.size() >= 8) {
      uint32_t n = load_le32(&b[4]);
      uint64_t off = 8 + uint64_t(n) * 8;
      for (uint32_t i = 0; i < n && 8 + uint64_t(i) * 8 + 8 <= b.size(); i++) {
        uint64_t len = load_le64(&b[8 + size_t(i) * 8]);
        if (off > b.size() || len > b.size() - off) break;
        sds_.emplace_back(b.data() + off, size_t(len));
        off += len;
      }
    }
  }

  void entry(const Dentry& d) {
    if (!opts_.detailed) {
      std::fprintf(out_, "%s\n", d.path().c_str());
      return;
    }
    const Inode& ino = *d.inode;
    std::fprintf(out_, "----------------------------------------------------------------------------\n");
    std::fprintf(out_, "Full Path           = \"%s\"\n", d.path().c_str());
    std::fprintf(out_, "Short Name          = \"%s\"\n", utf16_to_utf8(d.short_name).c_str());
    std::fprintf(out_, "Attributes          = 0x%08x\n", ino.attributes);
    for (const auto& an : kAttrNames)
      if (ino.attributes & an.bit) std::fprintf(out_, "    FILE_ATTRIBUTE_%s is set\n", an.name);
    if (ino.security_id >= 0 && size_t(ino.security_id) < sds_.size()) {
      std::fprintf(out_, "Security Descriptor = ");
      for (uint8_t c : sds_[size_t(ino.security_id)]) std::fprintf(out_, "%02x", c);
      std::fprintf(out_, "\n");
    }
    std::fprintf(out_, "Creation Time       = %s\n", format_filetime(ino.creation_time).c_str());
    std::fprintf(out_, "Last Write Time     = %s\n", format_filetime(ino.last_write_time).c_str());
    std::fprintf(out_, "Last Access Time    = %s\n", format_filetime(ino.last_access_time).c_str());
    if (ino.is_reparse_point()) std::fprintf(out_, "Reparse Tag         = 0x%08x\n", ino.reparse_tag);
    std::fprintf(out_, "Link Group ID       = 0x%016llx\n", static_cast<unsigned long long>(ino.disk_group_id));
    std::fprintf(out_, "Link Count          = %u\n", ino.nlink);
    if (auto u = ino.unix_data())
      std::fprintf(out_, "UNIX Data           = uid:%u gid:%u mode:0%o rdev:0x%x\n", u->uid, u->gid, u->mode, u->rdev);
    const bool has_reparse = ino.reparse_stream() != nullptr;
    for (const auto& s : ino.streams) {
      // An empty unnamed data stream next to the reparse data is not shown.
      if (has_reparse && s.type == image::StreamType::Data && s.name.empty() && s.hash.is_zero()) continue;
      switch (s.type) {
        case image::StreamType::Reparse: std::fprintf(out_, "\tReparse point stream:\n"); break;
        case image::StreamType::EfsRaw: std::fprintf(out_, "\tRaw encrypted data stream:\n"); break;
        case image::StreamType::Data:
          if (s.name.empty())
            std::fprintf(out_, "\tUnnamed data stream:\n");
          else
            std::fprintf(out_, "\tNamed data stream \"%s\":\n", utf16_to_utf8(s.name).c_str());
          break;
      }
      blob(s.hash);
      std::fprintf(out_, "\n");
    }
  }

private:
  // The blob table entry of `hash` in the archive holding it.
  const wim::BlobEntry* entry_of(const wim::Archive& a, const Sha1& hash) {
    auto& m = entries_[&a];
    if (m.empty())
      for (const auto& e : a.entries())
        if (!e.hash.is_zero() && e.reshdr.usize != wim::kSolidResourceMagic && !(e.reshdr.flags & wim::kResMetadata))
          m.emplace(e.hash, &e);
    auto it = m.find(hash);
    return it == m.end() ? nullptr : it->second;
  }

  void flags_line(uint8_t flags) {
    std::fprintf(out_, "Flags             = ");
    for (const auto& f : kResFlagNames)
      if (flags & f.bit) std::fprintf(out_, "%s  ", f.name);
    std::fprintf(out_, "\n");
  }

  void blob(const Sha1& hash) {
    const wim::BlobLocation* loc = hash.is_zero() || !archive_ ? nullptr : archive_->find_blob(hash);
    if (!loc) {
      std::fprintf(out_, "Hash              = 0x%s\n", hash.hex().c_str());
      if (!hash.is_zero()) return;  // not in the archive (a delta without --ref)
      std::fprintf(out_, "Uncompressed size = 0 bytes\nCompressed size   = 0 bytes\nOffset in WIM     = 0 bytes\n");
      std::fprintf(out_, "Part Number       = 0\nReference Count   = 0\n");
      flags_line(0);
      return;
    }
    const wim::Archive& a = *loc->archive;
    const wim::Resource& res = a.resources()[loc->resource];
    const wim::BlobEntry* e = entry_of(a, hash);
    std::fprintf(out_, "Hash              = 0x%s\n", hash.hex().c_str());
    std::fprintf(out_, "Uncompressed size = %llu bytes\n", static_cast<unsigned long long>(loc->size));
    if (res.solid) {
      std::fprintf(out_, "Solid resource    = %llu => %llu bytes @ offset %llu\n",
                   static_cast<unsigned long long>(res.usize), static_cast<unsigned long long>(res.size_in_wim),
                   static_cast<unsigned long long>(res.offset));
      std::fprintf(out_, "Solid offset      = %llu bytes\n", static_cast<unsigned long long>(loc->offset));
    } else {
      std::fprintf(out_, "Compressed size   = %llu bytes\n", static_cast<unsigned long long>(res.size_in_wim));
      std::fprintf(out_, "Offset in WIM     = %llu bytes\n", static_cast<unsigned long long>(res.offset));
    }
    std::fprintf(out_, "Part Number       = %u\n", e ? unsigned(e->part_number) : unsigned(a.header().part_number));
    std::fprintf(out_, "Reference Count   = %u\n", loc->refcnt);
    flags_line(e ? e->reshdr.flags : res.flags);
  }

  const wim::Archive* archive_;
  std::vector<ByteSpan> sds_;  // security descriptors by ID
  const ListOptions& opts_;
  std::FILE* out_;
  std::unordered_map<const wim::Archive*, std::unordered_map<Sha1, const wim::BlobEntry*, Sha1Hash>> entries_;
};

}  // namespace

void list_tree(const wim::Archive* archive, const image::Image& img, const Dentry& start, const ListOptions& opts,
               std::FILE* out) {
  Lister l(archive, img, opts, out);
  std::vector<const Dentry*> stack{&start};
  while (!stack.empty()) {
    const Dentry* d = stack.back();
    stack.pop_back();
    l.entry(*d);
    if (opts.one_file_only) break;
    auto kids = sorted_children(*d);
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
  }
}

void list_tree_json(const Dentry& start, const ListOptions& opts,
                    const std::string& archive_path, size_t index, std::FILE* out) {
  std::string o = "{\"schema_version\":" + std::to_string(events::kSchemaVersion) + ",\"archive\":" + json_string(archive_path) + ",\"image\":" + std::to_string(index) +
                  ",\"entries\":[";
  std::vector<const Dentry*> stack{&start};
  bool first = true;
  while (!stack.empty()) {
    const Dentry* d = stack.back();
    stack.pop_back();
    const image::Inode& in = *d->inode;
    const char* type = in.is_directory() ? "directory" : in.is_symlink() ? "symlink"
                       : in.is_reparse_point() ? "reparse_point" : "file";
    const image::Stream* data = in.unnamed_data();
    JsonObject e;
    e.str("path", d->path()).str("type", type).num("size", data ? data->size : 0).num("attributes", in.attributes);
    e.str("last_write_time", format_filetime_iso(in.last_write_time)).num("links", in.nlink);
    o += (first ? "" : ",") + e.text();
    first = false;
    if (opts.one_file_only) break;
    auto kids = sorted_children(*d);
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) stack.push_back(*it);
  }
  o += "]}\n";
  std::fwrite(o.data(), 1, o.size(), out);
}

}  // namespace wp::apply
