#include "wim/resource_reader.hpp"

#include <algorithm>

#include "compress/chunk_pipeline.hpp"
#include "util/checked.hpp"
#include "util/error.hpp"
#include "wim/pipable.hpp"

namespace wp::wim {

static std::string where(const InputFile& f, const Resource& r) {
  return "'" + f.path() + "': resource at offset " + std::to_string(r.offset);
}

void read_solid_header(const InputFile& f, Resource& res) {
  if (res.size_in_wim < 16) fail(Errc::BadArchive, where(f, res) + ": solid resource too small for its header");
  uint8_t h[16];
  f.read_at(res.offset, h, "solid resource header");
  res.usize = load_le64(h);
  res.chunk_size = load_le32(h + 8);
  res.solid_format = load_le32(h + 12);
  if (!is_power_of_two(res.chunk_size))
    fail(Errc::BadArchive, where(f, res) + ": solid chunk size is not a power of two");
  auto codec = codec_for_solid_format(res.solid_format);
  if (!codec) fail(Errc::BadArchive, where(f, res) + ": unknown solid compression format " + std::to_string(res.solid_format));
  res.codec = *codec;
  if (res.chunk_size > max_chunk_size(res.codec))
    fail(Errc::BadArchive, where(f, res) + ": solid chunk size too large for " + codec_name(res.codec));
  res.compressed = true;
  // Every chunk takes at least one byte besides its 4-byte table entry, so a
  // claimed size that needs more chunks than that is a lie (§15).
  uint64_t n = ceil_div(res.usize, res.chunk_size);
  if (n > (res.size_in_wim - 16) / 5) fail(Errc::BadArchive, where(f, res) + ": solid chunk table larger than the resource");
}

void check_chunk_count(const InputFile& f, const Resource& res) {
  if (!res.compressed || res.solid || res.chunk_size == 0) return;
  // §4.2: N-1 table entries, then N chunks of at least one byte each. More
  // chunks than that means the uncompressed size is a lie, whatever the codec.
  uint64_t n = ceil_div(res.usize, res.chunk_size);
  uint64_t E = chunk_entry_size(res.usize);
  if (n > res.size_in_wim || (n ? (n - 1) : 0) > (res.size_in_wim - n) / E)
    fail(Errc::BadArchive, where(f, res) + ": uncompressed size " + std::to_string(res.usize) +
                               " is implausible for a compressed resource of " + std::to_string(res.size_in_wim) + " bytes");
}

std::vector<ChunkRef> chunk_layout(const InputFile& f, const Resource& res) {
  std::vector<ChunkRef> out;
  const std::string ctx = where(f, res);
  if (res.offset > f.size() || res.size_in_wim > f.size() - res.offset)
    fail(Errc::BadArchive, where(f, res) + " extends past the end of the file (truncated archive?)");
  if (!res.compressed) {
    if (res.size_in_wim != res.usize) fail(Errc::BadArchive, where(f, res) + ": raw resource with size mismatch");
    constexpr uint64_t piece = 1 << 20;
    for (uint64_t off = 0; off < res.usize; off += piece) {
      uint32_t n = uint32_t(std::min(piece, res.usize - off));
      out.push_back({res.offset + off, off, n, n, true});
    }
    return out;
  }
  if (res.pipable && !res.solid) return pipable_chunk_layout(f, res);  // §12.3
  uint64_t C = res.chunk_size;
  if (C == 0) fail(Errc::BadArchive, where(f, res) + ": zero chunk size");
  check_chunk_count(f, res);
  uint64_t n = ceil_div(res.usize, C);
  if (res.usize == 0) return out;
  auto chunk_usize = [&](uint64_t i) { return uint32_t(i + 1 < n ? C : res.usize - (n - 1) * C); };
  if (res.solid) {
    // §4.3: 16-byte header, then N compressed sizes (always 4 bytes each).
    uint64_t table_off = checked_add(res.offset, 16, ctx);
    uint64_t table_size = checked_mul(n, 4, ctx);
    if (table_size > res.size_in_wim - 16) fail(Errc::BadArchive, ctx + ": solid chunk table larger than the resource");
    Bytes table = f.read_bytes(table_off, table_size, "solid chunk table");
    uint64_t pos = table_off + table_size, end = res.offset + res.size_in_wim;
    out.reserve(n);
    for (uint64_t i = 0; i < n; i++) {
      uint32_t cs = load_le32(&table[i * 4]);
      uint32_t us = chunk_usize(i);
      if (cs == 0 || cs > us || cs > end - pos)
        fail(Errc::BadArchive, where(f, res) + ": invalid chunk size in solid resource");
      out.push_back({pos, i * C, cs, us, cs == us});
      pos += cs;
    }
    return out;
  }
  // §4.2: N-1 entries of 4 or 8 bytes, offsets relative to the end of the table.
  uint64_t E = chunk_entry_size(res.usize);
  uint64_t table_size = checked_mul(n - 1, E, ctx);
  if (table_size > res.size_in_wim) fail(Errc::BadArchive, where(f, res) + ": chunk table larger than the resource");
  Bytes table = f.read_bytes(res.offset, table_size, "chunk table");
  uint64_t data_start = res.offset + table_size;
  uint64_t data_size = res.size_in_wim - table_size;
  out.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t next = i + 1 < n ? (E == 8 ? load_le64(&table[i * 8]) : load_le32(&table[i * 4])) : data_size;
    if (next < prev || next > data_size) fail(Errc::BadArchive, where(f, res) + ": invalid chunk table");
    uint64_t cs = next - prev;
    uint32_t us = chunk_usize(i);
    if (cs == 0 || cs > us) fail(Errc::BadArchive, where(f, res) + ": invalid chunk size in compressed resource");
    out.push_back({data_start + prev, i * C, uint32_t(cs), us, cs == us});
    prev = next;
  }
  return out;
}

ByteSpan decode_chunk(const InputFile& f, const Resource& res, const ChunkRef& chunk, ByteSpan stored, ChunkBuffer& out,
                      DecompressContext& ctx) {
  if (chunk.raw) return stored;  // §4.2: never passed to the decompressor
  std::span<uint8_t> o = out.get(chunk.usize);
  if (!ctx.get(res.codec, res.chunk_size).decompress(stored, o))
    fail(Errc::BadArchive, where(f, res) + ": corrupt " + codec_name(res.codec) + " data in the chunk at offset " +
                               std::to_string(chunk.file_offset));
  return o;
}

namespace {

// One chunk in flight through the reader's pipeline.
struct Token {
  size_t index = 0;  // into the resources streamed
  ChunkRef chunk;
  Bytes in;
  ChunkBuffer out;
  ByteSpan data;  // the decoded bytes (in `in` when raw, else in `out`)
};

}  // namespace

void stream_resources(const InputFile& f, std::span<const Resource> resources, const ResourceSink& sink) {
  if (resources.empty()) return;
  uint64_t biggest = 1 << 20;
  for (const auto& r : resources)
    if (r.compressed) biggest = std::max<uint64_t>(biggest, r.chunk_size);

  size_t res_i = 0, chunk_i = 0;
  std::vector<ChunkRef> layout;
  bool have_layout = false;

  ChunkPipeline<Token, DecompressContext> pipeline(chunk_tokens(biggest));
  pipeline.run(
      [&](Token& t) -> bool {
        while (res_i < resources.size()) {
          if (!have_layout) {
            layout = chunk_layout(f, resources[res_i]);
            have_layout = true;
            chunk_i = 0;
          }
          if (chunk_i < layout.size()) break;
          res_i++;
          have_layout = false;
        }
        if (res_i >= resources.size()) return false;
        t.index = res_i;
        t.chunk = layout[chunk_i++];
        t.in.resize(t.chunk.csize);
        f.read_at(t.chunk.file_offset, t.in, "compressed data");
        return true;
      },
      [&](Token& t, DecompressContext& ctx) { t.data = decode_chunk(f, resources[t.index], t.chunk, t.in, t.out, ctx); },
      [&](Token& t) { sink(t.index, t.chunk.uoffset, t.data); });
}

Bytes read_resource(const InputFile& f, const Resource& res) {
  Bytes out;
  if (res.usize > f.size() * 512 + (1 << 20))
    fail(Errc::BadArchive, where(f, res) + ": implausibly large uncompressed size");
  out.reserve(res.usize);
  std::span<const Resource> one(&res, 1);
  stream_resources(f, one, [&](size_t, uint64_t, ByteSpan d) { out.insert(out.end(), d.begin(), d.end()); });
  if (out.size() != res.usize) fail(Errc::BadArchive, where(f, res) + ": decoded size mismatch");
  return out;
}

}  // namespace wp::wim
