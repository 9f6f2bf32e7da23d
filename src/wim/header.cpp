#include "wim/header.hpp"

#include <cstring>
#include <algorithm>
#include <random>

#include "util/error.hpp"

namespace wp::wim {

static const uint8_t kMagic[8] = {'M', 'S', 'W', 'I', 'M', 0, 0, 0};
static const uint8_t kPipableMagic[8] = {'W', 'L', 'P', 'W', 'M', 0, 0, 0};

ResHdr ResHdr::decode(const uint8_t* p) {
  ResHdr r;
  uint64_t v = load_le64(p);
  r.size_in_wim = v & 0x00FFFFFFFFFFFFFFull;
  r.flags = uint8_t(v >> 56);
  r.offset = load_le64(p + 8);
  r.usize = load_le64(p + 16);
  return r;
}

void ResHdr::encode(uint8_t* p) const {
  store_le64(p, (size_in_wim & 0x00FFFFFFFFFFFFFFull) | (uint64_t(flags) << 56));
  store_le64(p + 8, offset);
  store_le64(p + 16, usize);
}

uint32_t header_flags_for(Codec c) {
  switch (c) {
    case Codec::None: return 0;
    case Codec::Xpress: return kHdrCompression | kHdrXpress;
    case Codec::Lzx: return kHdrCompression | kHdrLzx;
    case Codec::Lzms: return kHdrCompression | kHdrLzms;
    case Codec::Zstd: return kHdrCompression | kHdrZstd;
    case Codec::Lzma: return kHdrCompression | kHdrLzma;
  }
  return 0;
}

Codec codec_from_header_flags(uint32_t flags, const std::string& path) {
  if (!(flags & kHdrCompression)) return Codec::None;
  // wim-format.md §2.2: LZX wins, then XPRESS (both variants), then LZMS. An
  // extension bit is only meaningful alone: mixed with a standard bit, wimlib
  // would read the standard codec, so such a file is refused rather than
  // guessed at.
  uint32_t std_bits = flags & (kHdrLzx | kHdrXpress | kHdrXpress2 | kHdrLzms);
  uint32_t ext_bits = flags & (kHdrZstd | kHdrLzma);
  if (ext_bits && std_bits)
    fail(Errc::BadArchive, "'" + path + "': header mixes a private codec bit with a standard one (flags 0x" +
                               [&] { char b[16]; std::snprintf(b, sizeof b, "%X", flags); return std::string(b); }() + ")");
  if (flags & kHdrLzx) return Codec::Lzx;
  if (flags & (kHdrXpress | kHdrXpress2)) return Codec::Xpress;
  if (flags & kHdrLzms) return Codec::Lzms;
  if (ext_bits == kHdrZstd) return Codec::Zstd;
  if (ext_bits == kHdrLzma) return Codec::Lzma;
  fail(Errc::BadArchive, "'" + path + "': compression type unrecognized");
}

Codec Header::codec() const { return codec_from_header_flags(flags, "(header)"); }

Header decode_header(ByteSpan b, uint64_t file_size, const std::string& path, std::vector<std::string>* warnings) {
  auto bad = [&](const std::string& what) { fail(Errc::BadArchive, "'" + path + "': " + what); };
  if (b.size() < kHeaderSize) bad("not a WIM file (too short for a WIM header)");
  Header h;
  if (std::memcmp(b.data(), kMagic, 8) == 0)
    h.pipable = false;
  else if (std::memcmp(b.data(), kPipableMagic, 8) == 0)
    h.pipable = true;
  else
    bad("not a WIM file (bad magic)");
  if (load_le32(&b[8]) != kHeaderSize) bad("invalid WIM header (header size is not 208)");
  h.version = load_le32(&b[0x0C]);
  if (h.version != kVersionDefault && h.version != kVersionSolid) {
    char v[16];
    std::snprintf(v, sizeof v, "0x%X", h.version);
    bad(std::string("unknown WIM version ") + v);
  }
  h.flags = load_le32(&b[0x10]);
  h.chunk_size = load_le32(&b[0x14]);
  std::memcpy(h.guid.data(), &b[0x18], 16);
  h.part_number = load_le16(&b[0x28]);
  h.total_parts = load_le16(&b[0x2A]);
  h.image_count = load_le32(&b[0x2C]);
  h.blob_table = ResHdr::decode(&b[0x30]);
  h.xml = ResHdr::decode(&b[0x48]);
  h.boot_metadata = ResHdr::decode(&b[0x60]);
  h.boot_index = load_le32(&b[0x78]);
  h.integrity = ResHdr::decode(&b[0x7C]);
  std::memcpy(h.reserved.data(), &b[0x94], 60);

  if (h.total_parts < 1 || h.part_number < 1 || h.part_number > h.total_parts) bad("invalid part number in header");
  if (h.image_count > 65535) bad("too many images in header");
  for (const ResHdr* r : {&h.blob_table, &h.xml, &h.integrity}) {
    if (r->usize > file_size) bad("a table in the header is larger than the file (truncated or corrupt)");
    if (r->offset > file_size || r->size_in_wim > file_size - r->offset)
      bad("a table in the header extends past the end of the file (truncated archive?)");
  }
  if (h.flags & kHdrWriteInProgress && warnings)
    warnings->push_back("'" + path + "' has its write-in-progress flag set (an interrupted write?)");
  if (h.boot_index > h.image_count) {
    if (warnings) warnings->push_back("'" + path + "': boot index out of range, ignored");
    h.boot_index = 0;
  }
  Codec c = codec_from_header_flags(h.flags, path);
  if (!valid_chunk_size(c, h.chunk_size)) {
    if (c == Codec::None) bad("invalid chunk size for compression type None");
    bad("compression chunk size " + std::to_string(h.chunk_size) + " is not valid for " + codec_name(c));
  }
  // A pipable WIM's first header has zero reshdrs by design (§12.1); its
  // final header is at the end of the file.
  if (h.blob_table.usize == 0 && h.xml.usize == 0 && !h.pipable)
    bad("incomplete WIM file (its header was never finalised: an interrupted capture?)");
  return h;
}

void encode_header(const Header& h, uint8_t* p) {
  std::memset(p, 0, kHeaderSize);
  std::memcpy(p, h.pipable ? kPipableMagic : kMagic, 8);
  store_le32(p + 8, kHeaderSize);
  store_le32(p + 0x0C, h.version);
  store_le32(p + 0x10, h.flags);
  store_le32(p + 0x14, h.chunk_size);
  std::memcpy(p + 0x18, h.guid.data(), 16);
  store_le16(p + 0x28, h.part_number);
  store_le16(p + 0x2A, h.total_parts);
  store_le32(p + 0x2C, h.image_count);
  h.blob_table.encode(p + 0x30);
  h.xml.encode(p + 0x48);
  h.boot_metadata.encode(p + 0x60);
  store_le32(p + 0x78, h.boot_index);
  h.integrity.encode(p + 0x7C);
  std::memcpy(p + 0x94, h.reserved.data(), 60);
}

std::array<uint8_t, 16> random_guid() {
  std::random_device rd;
  std::array<uint8_t, 16> g;
  for (auto& b : g) b = uint8_t(rd());
  return g;
}

static std::array<uint8_t, 16> first16(const Sha1& h) {
  std::array<uint8_t, 16> g;
  std::memcpy(g.data(), h.bytes.data(), 16);
  return g;
}

std::array<uint8_t, 16> derive_guid(int64_t source_date_epoch, uint32_t header_flags, uint32_t chunk_size,
                                    const std::vector<Sha1>& metadata_hashes, std::vector<Sha1> blob_hashes) {
  Sha1Hasher h;
  static constexpr char kTag[] = "wimpack-guid-v1";
  h.update({reinterpret_cast<const uint8_t*>(kTag), sizeof kTag - 1});
  uint8_t b[20];
  store_le32(b, header_flags);
  store_le32(b + 4, chunk_size);
  store_le32(b + 8, uint32_t(metadata_hashes.size()));
  store_le64(b + 12, uint64_t(source_date_epoch));
  h.update({b, 20});
  for (const Sha1& m : metadata_hashes) h.update(m.bytes);
  std::sort(blob_hashes.begin(), blob_hashes.end(), [](const Sha1& x, const Sha1& y) { return x.bytes < y.bytes; });
  blob_hashes.erase(std::unique(blob_hashes.begin(), blob_hashes.end()), blob_hashes.end());
  for (const Sha1& x : blob_hashes) h.update(x.bytes);
  return first16(h.final());
}

std::array<uint8_t, 16> derive_split_guid(int64_t source_date_epoch, const std::array<uint8_t, 16>& source_guid,
                                          uint64_t part_size) {
  Sha1Hasher h;
  static constexpr char kTag[] = "wimpack-split-guid-v1";
  h.update({reinterpret_cast<const uint8_t*>(kTag), sizeof kTag - 1});
  h.update(source_guid);
  uint8_t b[16];
  store_le64(b, part_size);
  store_le64(b + 8, uint64_t(source_date_epoch));
  h.update({b, 16});
  return first16(h.final());
}

}  // namespace wp::wim
