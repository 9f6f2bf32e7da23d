#include "wim/archive.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "util/error.hpp"
#include "wim/integrity.hpp"
#include "wim/metadata.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {

static std::atomic<uint64_t> g_archive_serial{0};

Archive::Archive(InputFile file) : file_(std::move(file)), serial_(++g_archive_serial) {}

std::unique_ptr<Archive> Archive::open(const std::string& path, bool check) {
  return open_file(InputFile(path), check);
}

std::unique_ptr<Archive> Archive::open_stdin(bool check) {
  const std::string name = "standard input";
  InputFile f(spool_to_temp_file(STDIN_FILENO, name), name);
  if (f.size() == 0) fail(Errc::BadArchive, "standard input is empty: no WIM arrived");
  return open_file(std::move(f), check);
}

std::unique_ptr<Archive> Archive::open_file(InputFile file, bool check) {
  std::unique_ptr<Archive> a(new Archive(std::move(file)));
  const InputFile& f = a->file_;
  const std::string path = f.path();
  if (f.size() < kHeaderSize) fail(Errc::BadArchive, "'" + path + "': not a WIM file (too short for a WIM header)");
  Bytes hb = f.read_bytes(0, kHeaderSize, "header");
  a->header_ = decode_header(hb, f.size(), path, &a->warnings_);
  if (a->header_.pipable) {
    // §12.1: the authoritative header of a pipable WIM is the last 208 bytes.
    Bytes last = f.read_bytes(f.size() - kHeaderSize, kHeaderSize, "final header of a pipable WIM");
    a->header_ = decode_header(last, f.size(), path, &a->warnings_);
    if (!a->header_.pipable || (a->header_.blob_table.usize == 0 && a->header_.xml.usize == 0))
      fail(Errc::BadArchive, "'" + path + "': incomplete pipable WIM (no final header)");
    // Its resources start after 40-byte blob headers that the reshdrs already
    // skip (§12.2); compressed ones have their own chunk layout (§12.3).
  }
  if (check) {
    if (!check_integrity(f.fd(), path, f.size(), a->header_))
      fail(Errc::BadArchive, "'" + path + "' has no integrity table to check (it was not captured with --check)");
  }
  // XML (§6): always uncompressed.
  const ResHdr& x = a->header_.xml;
  if (x.flags & kResCompressed) fail(Errc::Unsupported, "'" + path + "': compressed XML data is not supported");
  if (x.size_in_wim != x.usize) fail(Errc::BadArchive, "'" + path + "': invalid XML resource header");
  a->xml_ = XmlInfo::parse(f.read_bytes(x.offset, x.usize, "XML data"), path);
  if (a->xml_.image_count() != a->header_.image_count)
    fail(Errc::BadArchive, "'" + path + "': the XML data describes " + std::to_string(a->xml_.image_count()) +
                               " images but the header says " + std::to_string(a->header_.image_count));
  a->read_blob_table();
  // §5.3 rule 6 / §6.2: the header, the XML and the blob table must agree on
  // the number of images. wimlib lowers the count with a warning when metadata
  // resources are missing; refusing is safer, because commands that rewrite
  // the archive (append, optimize) would otherwise silently drop images.
  // Parts of a split WIM other than the first hold no metadata (§13.1).
  if (a->header_.part_number == 1 && a->metadata_.size() != a->header_.image_count)
    fail(Errc::BadArchive, "'" + path + "': the header and the XML data announce " +
                               std::to_string(a->header_.image_count) + " image(s) but the blob table holds " +
                               std::to_string(a->metadata_.size()) + " metadata resource(s) (corrupt archive)");
  return a;
}

// A non-solid resource (§4.1/§4.2): raw, or chunked with the header's codec.
Resource Archive::nonsolid_resource(const ResHdr& r) const {
  Resource res;
  res.offset = r.offset;
  res.size_in_wim = r.size_in_wim;
  res.usize = r.usize;
  res.flags = r.flags;
  if (r.flags & kResCompressed) {
    res.compressed = true;
    res.codec = header_.codec();
    res.chunk_size = header_.chunk_size;
    res.pipable = header_.pipable;
  }
  return res;
}

void Archive::read_blob_table() {
  const InputFile& f = file_;
  const std::string& path = f.path();
  auto bad = [&](const std::string& what) { fail(Errc::BadArchive, "'" + path + "': invalid blob table: " + what); };
  const ResHdr& bt = header_.blob_table;
  if (bt.is_zero()) return;  // a WIM with no blobs at all
  Bytes table = read_resource(f, nonsolid_resource(bt));
  entries_ = decode_blob_entries(table);

  const bool solid_ok = header_.version == kVersionSolid;
  auto check_bounds = [&](const ResHdr& r) {
    if (r.offset < kHeaderSize && r.size_in_wim) bad("a resource overlaps the header");
    if (r.offset > f.size() || r.size_in_wim > f.size() - r.offset)
      bad("a resource extends past the end of the file (truncated archive?)");
  };

  size_t i = 0;
  while (i < entries_.size()) {
    BlobEntry e = entries_[i];
    if (!solid_ok) e.reshdr.flags &= ~kResSolid;  // §5.3 rule 1
    if (e.reshdr.flags & kResSolid) {
      // §5.2: a maximal run of SOLID entries; resource entries first pass.
      size_t j = i;
      std::vector<uint32_t> run_res;
      while (j < entries_.size() && (entries_[j].reshdr.flags & kResSolid)) {
        const BlobEntry& r = entries_[j];
        if (r.reshdr.usize == kSolidResourceMagic) {
          check_bounds(r.reshdr);
          if (r.part_number == header_.part_number) {
            Resource res;
            res.offset = r.reshdr.offset;
            res.size_in_wim = r.reshdr.size_in_wim;
            res.flags = r.reshdr.flags;
            res.solid = true;
            read_solid_header(f, res);
            run_res.push_back(uint32_t(resources_.size()));
            resources_.push_back(res);
          }
        }
        j++;
      }
      // Second pass: blob entries by logical offset across the run.
      std::vector<std::vector<std::pair<uint64_t, uint64_t>>> ranges(run_res.size());
      for (size_t k = i; k < j; k++) {
        const BlobEntry& b = entries_[k];
        if (b.reshdr.usize == kSolidResourceMagic || b.hash.is_zero() || b.reshdr.size_in_wim == 0) continue;
        if (b.part_number != header_.part_number) continue;
        if (b.reshdr.flags & kResMetadata) bad("a metadata resource is inside a solid resource");
        uint64_t off = b.reshdr.offset, len = b.reshdr.size_in_wim;
        bool placed = false;
        for (size_t r = 0; r < run_res.size(); r++) {
          uint64_t rs = resources_[run_res[r]].usize;
          if (off <= rs && len <= rs - off) {
            if (!blobs_.count(b.hash)) blobs_[b.hash] = BlobLocation{run_res[r], off, len, b.refcnt, this};
            ranges[r].push_back({off, len});
            placed = true;
            break;
          }
          if (off < rs) break;
          off -= rs;
        }
        if (!placed) bad("a blob could not be assigned to a solid resource");
      }
      for (auto& rg : ranges) {
        std::sort(rg.begin(), rg.end());
        for (size_t k = 1; k < rg.size(); k++)
          if (rg[k].first < rg[k - 1].first + rg[k - 1].second) bad("blobs overlap inside a solid resource");
      }
      i = j;
      continue;
    }
    i++;
    const ResHdr& r = e.reshdr;
    if (!(r.flags & kResCompressed) && r.size_in_wim != r.usize) bad("an uncompressed entry has different sizes");  // §5.3 rule 2
    if (e.hash.is_zero() || r.usize == 0) continue;                                                                 // rules 3, 4
    if (e.part_number != header_.part_number) continue;                                                             // rule 5
    check_bounds(r);
    Resource res = nonsolid_resource(r);
    if (res.compressed && res.codec == Codec::None) bad("a compressed resource in an uncompressed WIM");
    check_chunk_count(f, res);
    if (r.flags & kResMetadata) {  // rule 6
      if (e.refcnt == 0) continue;
      if (e.refcnt != 1) bad("a metadata resource has a reference count other than 1");
      if (metadata_.size() >= header_.image_count) {
        warnings_.push_back("'" + path + "': ignoring a surplus metadata resource");
        continue;
      }
      metadata_.push_back({uint32_t(resources_.size()), e.hash});
      resources_.push_back(res);
      continue;
    }
    if (blobs_.count(e.hash)) {  // rule 7
      warnings_.push_back("'" + path + "': ignoring a duplicate blob table entry");
      continue;
    }
    blobs_[e.hash] = BlobLocation{uint32_t(resources_.size()), 0, r.usize, e.refcnt, this};
    resources_.push_back(res);
  }
}

const BlobLocation* Archive::find_blob(const Sha1& hash) const {
  if (auto it = blobs_.find(hash); it != blobs_.end()) return &it->second;
  for (const auto& r : refs_)
    if (const BlobLocation* b = r->find_blob(hash)) return b;
  return nullptr;
}

size_t Archive::resolve_image(const std::string& spec) const {
  if (header_.part_number != 1)
    fail(Errc::NotFound, "'" + path() + "' is part " + std::to_string(header_.part_number) +
                             " of a split WIM, which holds no image metadata; give the first part, with the others as --ref=GLOB");
  size_t n = image_count();
  long long v = 0;
  auto [p, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), v);
  if (ec == std::errc() && p == spec.data() + spec.size() && !spec.empty()) {
    if (v < 0) v = (long long)n + 1 + v;
    if (v >= 1 && (size_t)v <= n) return size_t(v);
    fail(Errc::NotFound, "'" + path() + "' has no image " + spec + " (it has " + std::to_string(n) + " image" +
                             (n == 1 ? "" : "s") + ")");
  }
  if (size_t i = xml_.find_by_name(spec)) return i;
  fail(Errc::NotFound, "'" + path() + "' has no image named \"" + spec + "\" (see: wimpack info " + path() + ")");
}

image::Image Archive::load_image(size_t index) const {
  if (index < 1 || index > image_count()) fail(Errc::NotFound, "'" + path() + "' has no image " + std::to_string(index));
  const MetadataRef& m = metadata_[index - 1];
  const Resource& res = resources_[m.resource];
  std::string ctx = "'" + path() + "' image " + std::to_string(index);
  if (res.usize > uint64_t(file_.size()) * 512 + (1 << 20)) fail(Errc::BadArchive, ctx + ": implausible metadata size");
  Bytes data = read_resource(file_, res);
  if (sha1_of(data) != m.hash) fail(Errc::BadArchive, ctx + ": metadata resource hash mismatch (corrupt archive)");
  std::vector<std::string> warnings;
  image::Image img = decode_metadata(data, ctx, &warnings);
  for (const auto& w : warnings) spdlog::warn("{}", w);
  for (auto& in : img.inodes())
    for (auto& s : in.streams)
      if (!s.hash.is_zero())
        if (const BlobLocation* b = find_blob(s.hash)) s.size = b->size;
  return img;
}

}  // namespace wp::wim
