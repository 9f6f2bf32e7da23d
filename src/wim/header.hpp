// The 208-byte file header (wim-format.md §2) and the 24-byte resource
// header "reshdr" (§3).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compress/codec.hpp"
#include "util/bytes.hpp"
#include "util/sha1.hpp"

namespace wp::wim {

constexpr size_t kHeaderSize = 208;
constexpr uint32_t kVersionDefault = 0x10D00;
constexpr uint32_t kVersionSolid = 0xE00;

// §2.1 header flags
enum HeaderFlag : uint32_t {
  kHdrCompression = 0x2,
  kHdrReadonly = 0x4,
  kHdrSpanned = 0x8,
  kHdrResourceOnly = 0x10,
  kHdrMetadataOnly = 0x20,
  kHdrWriteInProgress = 0x40,
  kHdrRpFix = 0x80,
  kHdrXpress = 0x20000,
  kHdrLzx = 0x40000,
  kHdrLzms = 0x80000,
  kHdrXpress2 = 0x200000,
  kHdrZstd = 0x400000,  // §2.2 private extension bits
  kHdrLzma = 0x800000,
};
constexpr uint32_t kHdrCodecMask = kHdrXpress | kHdrLzx | kHdrLzms | kHdrXpress2 | kHdrZstd | kHdrLzma;

// §3 reshdr flags
enum ResFlag : uint8_t { kResFree = 0x1, kResMetadata = 0x2, kResCompressed = 0x4, kResSpanned = 0x8, kResSolid = 0x10 };

struct ResHdr {
  uint64_t size_in_wim = 0;  // 56 bits on disk
  uint8_t flags = 0;
  uint64_t offset = 0;
  uint64_t usize = 0;

  static ResHdr decode(const uint8_t* p);
  void encode(uint8_t* p) const;
  bool is_zero() const { return size_in_wim == 0 && flags == 0 && offset == 0 && usize == 0; }
  uint64_t end() const { return offset + size_in_wim; }
};

struct Header {
  bool pipable = false;
  uint32_t version = kVersionDefault;
  uint32_t flags = 0;
  uint32_t chunk_size = 0;
  std::array<uint8_t, 16> guid{};
  uint16_t part_number = 1, total_parts = 1;
  uint32_t image_count = 0;
  ResHdr blob_table, xml, boot_metadata;
  uint32_t boot_index = 0;
  ResHdr integrity;
  std::array<uint8_t, 60> reserved{};

  Codec codec() const;  // resolved per §2.2 (call after validation)
};

// Header flag bits for a codec (COMPRESSION + codec bit; 0 for none).
uint32_t header_flags_for(Codec c);

// §2.2: throws Errc::BadArchive for an unrecognised combination.
Codec codec_from_header_flags(uint32_t flags, const std::string& path);

// Decodes and validates per §2 (checks 1–6, 8–10). `warnings` receives the
// non-fatal findings (WRITE_IN_PROGRESS, bad boot index).
Header decode_header(ByteSpan bytes, uint64_t file_size, const std::string& path, std::vector<std::string>* warnings);
void encode_header(const Header& h, uint8_t* out);  // 208 bytes

std::array<uint8_t, 16> random_guid();

// The GUID of a new archive written under SOURCE_DATE_EPOCH (README
// "Reproducible archives", docs/wim-format.md §2): the first 16 bytes of the
// SHA-1 of the ASCII text "wimpack-guid-v1", then as little-endian integers
// the header flags (u32, without WRITE_IN_PROGRESS), the chunk size (u32),
// the number of images (u32) and SOURCE_DATE_EPOCH (i64), then each image's
// metadata resource SHA-1 in image order, then the SHA-1 of every blob the
// images reference that the archive holds, sorted bytewise (duplicates
// removed). Same content, encoding and epoch give the same GUID; a delta
// (fewer blobs), another codec or another epoch gives another.
std::array<uint8_t, 16> derive_guid(int64_t source_date_epoch, uint32_t header_flags, uint32_t chunk_size,
                                    const std::vector<Sha1>& metadata_hashes, std::vector<Sha1> blob_hashes);

// The GUID shared by the parts of a split archive written under
// SOURCE_DATE_EPOCH: the first 16 bytes of the SHA-1 of "wimpack-split-guid-v1",
// the source archive's GUID, then the part size limit (u64) and
// SOURCE_DATE_EPOCH (i64), little-endian.
std::array<uint8_t, 16> derive_split_guid(int64_t source_date_epoch, const std::array<uint8_t, 16>& source_guid,
                                          uint64_t part_size);

}  // namespace wp::wim
