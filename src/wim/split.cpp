#include "wim/split.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "util/error.hpp"
#include "util/file.hpp"
#include "wim/blob_table.hpp"
#include "wim/integrity.hpp"
#include "wim/pipable.hpp"

namespace wp::wim {

static std::string insert_before_extension(const std::string& first, const std::string& what) {
  size_t slash = first.rfind('/');
  size_t base = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = first.rfind('.');
  if (dot == std::string::npos || dot < base) return first + what;
  return first.substr(0, dot) + what + first.substr(dot);
}

std::string split_part_name(const std::string& first, unsigned part) {
  return part == 1 ? first : insert_before_extension(first, std::to_string(part));
}

namespace {

// One resource to copy into a part, with the blob table entry describing it
// (offset and part number filled in when written).
struct Item {
  const Resource* res;
  BlobEntry entry;
};

uint64_t integrity_size(uint64_t end) {
  uint64_t n = end > kHeaderSize ? (end - kHeaderSize + kIntegrityChunkSize - 1) / kIntegrityChunkSize : 0;
  return 12 + 20 * n;
}

}  // namespace

std::vector<std::string> split_archive(const Archive& src, const std::string& first_part, const SplitOptions& opts) {
  const std::string& path = src.path();
  if (opts.part_size == 0) fail(Errc::Usage, "the part size must be greater than 0");
  if (src.header().total_parts != 1)
    fail(Errc::Unsupported, "'" + path + "' is already part of a split WIM; join the parts first");
  // A pipable WIM splits into pipable parts, as with wimlib (§12.4): each
  // part has header #1, the XML copy, its resources after their blob
  // headers, the blob table and XML after theirs, header #2 last.
  const bool pipable = src.header().pipable;
  const uint64_t bh = pipable ? kPipableBlobHeaderSize : 0;
  for (const Resource& r : src.resources())
    if (r.solid)
      fail(Errc::Unsupported, "'" + path +
                                  "' contains solid resources, which cannot be split (as with wimlib); "
                                  "export it in non-solid format first");

  // Part 1: every metadata resource (they never start a new part, §13.1).
  std::vector<Item> meta;
  for (size_t i = 1; i <= src.image_count(); i++) {
    const auto& m = src.metadata(i);
    const Resource& r = src.resources()[m.resource];
    meta.push_back({&r, BlobEntry{ResHdr{r.size_in_wim, uint8_t(r.flags | kResMetadata), r.offset, r.usize}, 1, 1, m.hash}});
  }
  std::vector<Item> blobs;
  for (const auto& [hash, loc] : src.blobs()) {
    const Resource& r = src.resources()[loc.resource];
    blobs.push_back({&r, BlobEntry{ResHdr{r.size_in_wim, uint8_t(r.flags & kResCompressed), r.offset, r.usize}, 1,
                                   loc.refcnt, hash}});
  }
  std::sort(blobs.begin(), blobs.end(), [](const Item& a, const Item& b) { return a.res->offset < b.res->offset; });

  // The full XML in every part (§13.1; TOTALBYTES as in the original).
  Bytes xml = src.xml().encode(src.header().xml.offset);
  Bytes xml_copy = pipable ? src.xml().encode_without_total() : Bytes{};

  // Assign blobs to parts: a new part starts when the next blob would push
  // the current one (header, data, blob table, XML, integrity table) past
  // the part size, unless the current part holds nothing yet.
  std::vector<std::vector<Item>> parts(1, meta);
  uint64_t data = 0;
  for (const Item& it : meta) data += bh + it.res->size_in_wim;
  auto size_with = [&](uint64_t d, size_t entries) {
    uint64_t end = kHeaderSize + (pipable ? bh + xml_copy.size() + bh : 0) + d + kBlobEntrySize * entries;
    return end + bh + xml.size() + (opts.integrity ? integrity_size(end) : 0) + (pipable ? kHeaderSize : 0);
  };
  for (const Item& it : blobs) {
    if (!parts.back().empty() && size_with(data + bh + it.res->size_in_wim, parts.back().size() + 1) > opts.part_size) {
      parts.emplace_back();
      data = 0;
    }
    parts.back().push_back(it);
    data += bh + it.res->size_in_wim;
  }
  if (parts.size() > 0xFFFF) fail(Errc::Usage, "the part size is too small: more than 65535 parts would be needed");

  Header base = src.header();
  // §13.1: a new GUID shared by all parts
  base.guid = opts.source_date_epoch ? derive_split_guid(*opts.source_date_epoch, src.header().guid, opts.part_size)
                                     : random_guid();
  base.total_parts = uint16_t(parts.size());
  base.flags = (base.flags & ~(kHdrWriteInProgress | kHdrResourceOnly | kHdrMetadataOnly)) | kHdrSpanned;
  base.boot_index = 0;  // wimlib does not keep the boot index in split parts
  base.boot_metadata = {};
  base.integrity = {};
  base.blob_table = {};
  base.xml = {};
  base.reserved = {};

  uint64_t total = 0, done = 0;
  for (const auto& p : parts)
    for (const Item& it : p) total += it.res->size_in_wim;

  std::vector<std::unique_ptr<TempFile>> temps;
  std::vector<std::string> names;
  Bytes buf(1 << 20);
  for (size_t k = 0; k < parts.size(); k++) {
    unsigned number = unsigned(k + 1);
    names.push_back(split_part_name(first_part, number));
    temps.push_back(std::make_unique<TempFile>(names.back()));
    TempFile& tmp = *temps.back();
    OutputFile out(tmp.fd(), tmp.temp_path(), 0);
    Header h = base;
    h.part_number = uint16_t(number);
    // §12.2: a blob header before a pipable part's resources and tables.
    auto blob_header = [&](uint64_t usize, const Sha1& hash, uint32_t flags) {
      if (!pipable) return;
      ByteWriter b;
      b.u64(kPipableBlobMagic);
      b.u64(usize);
      b.raw(hash.bytes);
      b.u32(flags);
      out.write(b.bytes());
    };
    {
      Header ph = h;
      if (!pipable) ph.flags |= kHdrWriteInProgress;  // §14.1 step 1; pipable header #1: none (§12.1)
      uint8_t hb[kHeaderSize];
      encode_header(ph, hb);
      out.write({hb, kHeaderSize});
    }
    if (pipable) {
      blob_header(xml_copy.size(), sha1_of(xml_copy), kResMetadata);
      out.write(xml_copy);
    }
    ByteWriter table;
    for (Item it : parts[k]) {
      blob_header(it.res->usize, it.entry.hash, it.entry.reshdr.flags);
      uint64_t start = out.offset();
      for (uint64_t off = 0; off < it.res->size_in_wim; off += buf.size()) {
        size_t n = size_t(std::min<uint64_t>(buf.size(), it.res->size_in_wim - off));
        src.file().read_at(it.res->offset + off, {buf.data(), n}, "resource data");
        out.write({buf.data(), n});
        done += n;
        if (opts.progress) opts.progress(done, total, number);
      }
      it.entry.reshdr.offset = start;
      it.entry.part_number = uint16_t(number);
      encode_blob_entry(it.entry, table);
    }
    if (table.size()) {
      blob_header(table.size(), sha1_of(table.bytes()), kResMetadata);
      h.blob_table = {table.size(), kResMetadata, out.offset(), table.size()};
      out.write(table.bytes());
    }
    blob_header(xml.size(), sha1_of(xml), kResMetadata);
    h.xml = {xml.size(), kResMetadata, out.offset(), xml.size()};
    out.write(xml);
    if (opts.integrity) {
      out.flush();
      uint64_t end = h.blob_table.is_zero() ? h.xml.offset : h.blob_table.end();
      Bytes it = build_integrity_table(out.fd(), out.path(), end);
      h.integrity = {it.size(), 0, out.offset(), it.size()};
      out.write(it);
    }
    uint8_t hb[kHeaderSize];
    encode_header(h, hb);
    if (pipable) {
      out.write({hb, kHeaderSize});  // header #2, at the end (§12.1)
      out.sync();
    } else {
      out.commit_at(0, {hb, kHeaderSize});  // flushes and syncs first
    }
  }
  // Only now does any part appear under its name, all at once as far as a
  // signal is concerned.
  std::vector<TempFile*> all;
  for (auto& t : temps) all.push_back(t.get());
  TempFile::commit_all(all);
  return names;
}

std::vector<const Archive*> check_split_set(const std::vector<const Archive*>& parts) {
  const size_t n = parts.size();
  std::map<unsigned, const Archive*> by_number;
  for (const Archive* p : parts) {
    const Header& h = p->header();
    if (h.total_parts != n)
      fail(Errc::BadArchive, "'" + p->path() + "' says the split WIM has " + std::to_string(h.total_parts) + " part" +
                                 (h.total_parts == 1 ? "" : "s") + ", but " + std::to_string(n) + " file" +
                                 (n == 1 ? " was" : "s were") + " given");
    auto [it, fresh] = by_number.emplace(h.part_number, p);
    if (!fresh)
      fail(Errc::BadArchive, "'" + p->path() + "' and '" + it->second->path() + "' are both part " +
                                 std::to_string(h.part_number) + " (duplicate parts?)");
  }
  // n distinct numbers, each in 1..total_parts = n: exactly 1..n.
  const Archive* first = by_number.at(1);
  std::vector<const Archive*> sorted;
  for (auto& [num, p] : by_number) {
    if (p->header().guid != first->header().guid)
      fail(Errc::BadArchive, "'" + p->path() + "' is not part of the same split WIM as '" + first->path() +
                                 "' (their GUIDs differ)");
    sorted.push_back(p);
  }
  return sorted;
}

void check_split_refs(const Archive& first) {
  const Header& h = first.header();
  if (h.total_parts == 1) return;
  if (h.part_number != 1)
    fail(Errc::NotFound, "'" + first.path() + "' is part " + std::to_string(h.part_number) + " of a split WIM, " +
                             "not the first part; give the first part, with the others as --ref=GLOB");
  std::vector<bool> have(h.total_parts + 1u, false);
  have[1] = true;
  for (const auto& r : first.refs()) {
    const Header& rh = r->header();
    if (rh.guid != h.guid) continue;  // another WIM used as a blob source
    if (rh.total_parts != h.total_parts)
      fail(Errc::BadArchive, "'" + r->path() + "' says the split WIM has " + std::to_string(rh.total_parts) +
                                 " parts, but '" + first.path() + "' says " + std::to_string(h.total_parts));
    have[rh.part_number] = true;
  }
  for (unsigned k = 2; k <= h.total_parts; k++)
    if (!have[k])
      fail(Errc::NotFound, "'" + first.path() + "' is part 1 of a split WIM of " + std::to_string(h.total_parts) +
                               " parts, and part " + std::to_string(k) +
                               " was not given; pass the other parts with --ref=GLOB (e.g. --ref='" +
                               insert_before_extension(first.path(), "*") + "')");
}

}  // namespace wp::wim
