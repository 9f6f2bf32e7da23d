// The blob table (wim-format.md §5): 50-byte entries, and their resolution
// into resources and blob locations (§5.2 solid runs, §5.3 rules).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "compress/codec.hpp"
#include "util/sha1.hpp"
#include "wim/header.hpp"

namespace wp::wim {

constexpr size_t kBlobEntrySize = 50;
constexpr uint64_t kSolidResourceMagic = 0x100000000ull;  // §5.2
constexpr uint32_t kSolidFormatZstd = 0x4454535A;         // §4.3 private formats
constexpr uint32_t kSolidFormatLzma = 0x414D5A4C;

struct BlobEntry {
  ResHdr reshdr;
  uint16_t part_number = 1;
  uint32_t refcnt = 0;
  Sha1 hash;
};

std::vector<BlobEntry> decode_blob_entries(ByteSpan table);
void encode_blob_entry(const BlobEntry& e, ByteWriter& out);

// A resource: a region of the file holding one blob (non-solid) or several
// (solid), with what is needed to decode it.
struct Resource {
  uint64_t offset = 0, size_in_wim = 0, usize = 0;
  uint8_t flags = 0;
  bool solid = false;
  bool compressed = false;  // chunked (non-solid COMPRESSED, or solid)
  bool pipable = false;     // compressed in a pipable WIM: §12.3 chunk layout
  Codec codec = Codec::None;
  uint32_t chunk_size = 0;
  uint32_t solid_format = 0;  // raw format number from the solid header
};

struct BlobLocation {
  uint32_t resource = 0;
  uint64_t offset = 0;  // within the resource's uncompressed data
  uint64_t size = 0;
  uint32_t refcnt = 0;
  const class Archive* archive = nullptr;  // which file holds it (for --ref)
};

uint32_t solid_format_for(Codec c);
std::optional<Codec> codec_for_solid_format(uint32_t format);

}  // namespace wp::wim
