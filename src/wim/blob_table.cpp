#include "wim/blob_table.hpp"

namespace wp::wim {

std::vector<BlobEntry> decode_blob_entries(ByteSpan table) {
  std::vector<BlobEntry> out;
  size_t n = table.size() / kBlobEntrySize;  // §5: a remainder is ignored
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    const uint8_t* p = &table[i * kBlobEntrySize];
    BlobEntry e;
    e.reshdr = ResHdr::decode(p);
    e.part_number = load_le16(p + 24);
    e.refcnt = load_le32(p + 26);
    e.hash = Sha1::from_bytes(p + 30);
    out.push_back(e);
  }
  return out;
}

void encode_blob_entry(const BlobEntry& e, ByteWriter& out) {
  uint8_t b[kBlobEntrySize];
  e.reshdr.encode(b);
  store_le16(b + 24, e.part_number);
  store_le32(b + 26, e.refcnt);
  std::copy(e.hash.bytes.begin(), e.hash.bytes.end(), b + 30);
  out.raw({b, kBlobEntrySize});
}

uint32_t solid_format_for(Codec c) {
  switch (c) {
    case Codec::None: return 0;
    case Codec::Xpress: return 1;
    case Codec::Lzx: return 2;
    case Codec::Lzms: return 3;
    case Codec::Zstd: return kSolidFormatZstd;
    case Codec::Lzma: return kSolidFormatLzma;
  }
  return 0;
}

std::optional<Codec> codec_for_solid_format(uint32_t f) {
  switch (f) {
    case 1: return Codec::Xpress;
    case 2: return Codec::Lzx;
    case 3: return Codec::Lzms;
    case kSolidFormatZstd: return Codec::Zstd;
    case kSolidFormatLzma: return Codec::Lzma;
    default: return std::nullopt;
  }
}

}  // namespace wp::wim
