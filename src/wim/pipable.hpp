// Pipable WIMs (wim-format.md §12), the parts a seekable reader and a pipe
// reader share: the 40-byte blob header (§12.2) and the layout of compressed
// pipable resources (§12.3), where each chunk carries its own 4-byte size
// and the chunk table comes last.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/bytes.hpp"
#include "util/file.hpp"
#include "util/sha1.hpp"
#include "wim/blob_table.hpp"
#include "wim/resource_reader.hpp"

namespace wp::wim {

constexpr size_t kPipableBlobHeaderSize = 40;
constexpr uint64_t kPipableBlobMagic = 0x2B9B9BA2443DB9D8ull;  // §12.2

struct PipableBlobHeader {
  uint64_t usize = 0;
  Sha1 hash;
  uint32_t flags = 0;  // reshdr flags (§3): METADATA, COMPRESSED
};

// nullopt when the 40 bytes do not start with the blob header magic.
std::optional<PipableBlobHeader> decode_pipable_blob_header(ByteSpan b);

// True when the bytes start with the pipable WIM magic "WLPWM\0\0\0".
bool is_pipable_wim_magic(ByteSpan b);

// §12.3: the chunks of a compressed pipable resource of `size_in_wim` bytes
// at `offset`, decoding to `usize` bytes in chunks of `chunk_size`, from its
// trailing chunk table `table` ((N-1) entries). Chunk i lies at
// offset + 4*(i+1) + table_offset[i]. Validates every size and offset
// (§15); throws Errc::BadArchive with `ctx` on a lie.
std::vector<ChunkRef> pipable_chunk_layout(uint64_t offset, uint64_t size_in_wim, uint64_t usize, uint32_t chunk_size,
                                           ByteSpan table, const std::string& ctx);

// The same, reading the table from the file (res.compressed, res.pipable).
std::vector<ChunkRef> pipable_chunk_layout(const InputFile& f, const Resource& res);

}  // namespace wp::wim
