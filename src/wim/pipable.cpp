#include "wim/pipable.hpp"

#include <cstring>

#include "util/checked.hpp"
#include "util/endian.hpp"
#include "util/error.hpp"

namespace wp::wim {

std::optional<PipableBlobHeader> decode_pipable_blob_header(ByteSpan b) {
  if (b.size() < kPipableBlobHeaderSize || load_le64(b.data()) != kPipableBlobMagic) return std::nullopt;
  PipableBlobHeader h;
  h.usize = load_le64(&b[8]);
  std::memcpy(h.hash.bytes.data(), &b[16], 20);
  h.flags = load_le32(&b[36]);
  return h;
}

bool is_pipable_wim_magic(ByteSpan b) {
  static const uint8_t kMagic[8] = {'W', 'L', 'P', 'W', 'M', 0, 0, 0};
  return b.size() >= 8 && std::memcmp(b.data(), kMagic, 8) == 0;
}

std::vector<ChunkRef> pipable_chunk_layout(uint64_t offset, uint64_t size_in_wim, uint64_t usize, uint32_t chunk_size,
                                           ByteSpan table, const std::string& ctx) {
  std::vector<ChunkRef> out;
  if (usize == 0) return out;
  if (chunk_size == 0) fail(Errc::BadArchive, ctx + ": zero chunk size");
  const uint64_t C = chunk_size, n = ceil_div(usize, C), E = chunk_entry_size(usize);
  // Each chunk takes its 4-byte size and at least one byte; checked before
  // any multiplication so that a huge usize cannot wrap.
  if (n > size_in_wim / 5) fail(Errc::BadArchive, ctx + ": uncompressed size " + std::to_string(usize) +
                                                      " is implausible for a pipable resource of " +
                                                      std::to_string(size_in_wim) + " bytes");
  const uint64_t table_size = (n - 1) * E;
  if (table_size > size_in_wim - 5 * n) fail(Errc::BadArchive, ctx + ": chunk table larger than the resource");
  if (table.size() != table_size) fail(Errc::BadArchive, ctx + ": chunk table of the wrong size");
  const uint64_t payload = size_in_wim - table_size - 4 * n;  // Σ csize
  checked_add(offset, size_in_wim, ctx);
  out.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t next = i + 1 < n ? (E == 8 ? load_le64(&table[i * 8]) : load_le32(&table[i * 4])) : payload;
    if (next < prev || next > payload) fail(Errc::BadArchive, ctx + ": invalid chunk table");
    uint64_t cs = next - prev;
    uint32_t us = uint32_t(i + 1 < n ? C : usize - (n - 1) * C);
    if (cs == 0 || cs > us) fail(Errc::BadArchive, ctx + ": invalid chunk size in compressed resource");
    out.push_back({offset + 4 * (i + 1) + prev, i * C, uint32_t(cs), us, cs == us});
    prev = next;
  }
  return out;
}

std::vector<ChunkRef> pipable_chunk_layout(const InputFile& f, const Resource& res) {
  const std::string ctx = "'" + f.path() + "': pipable resource at offset " + std::to_string(res.offset);
  if (res.usize == 0) return {};
  if (res.chunk_size == 0) fail(Errc::BadArchive, ctx + ": zero chunk size");
  uint64_t n = ceil_div(res.usize, res.chunk_size);
  if (n > res.size_in_wim / 5) fail(Errc::BadArchive, ctx + ": uncompressed size " + std::to_string(res.usize) +
                                                          " is implausible for a pipable resource of " +
                                                          std::to_string(res.size_in_wim) + " bytes");
  uint64_t table_size = (n - 1) * chunk_entry_size(res.usize);
  if (table_size > res.size_in_wim - 5 * n) fail(Errc::BadArchive, ctx + ": chunk table larger than the resource");
  Bytes table = f.read_bytes(res.offset + res.size_in_wim - table_size, table_size, "pipable chunk table");
  return pipable_chunk_layout(res.offset, res.size_in_wim, res.usize, res.chunk_size, table, ctx);
}

}  // namespace wp::wim
