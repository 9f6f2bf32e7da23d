#include "wim/resource_reader.hpp"

#include <algorithm>
#include <exception>
#include <utility>

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

namespace {

// decode_chunk into `o` (chunk.usize bytes).
ByteSpan decode_into(const InputFile& f, const Resource& res, const ChunkRef& chunk, ByteSpan stored,
                     std::span<uint8_t> o, DecompressContext& ctx) {
  if (chunk.raw) return stored;  // §4.2: never passed to the decompressor
  if (!ctx.get(res.codec, res.chunk_size).decompress(stored, o))
    fail(Errc::BadArchive, where(f, res) + ": corrupt " + codec_name(res.codec) + " data in the chunk at offset " +
                               std::to_string(chunk.file_offset));
  return o;
}

}  // namespace

ByteSpan decode_chunk(const InputFile& f, const Resource& res, const ChunkRef& chunk, ByteSpan stored, ChunkBuffer& out,
                      DecompressContext& ctx) {
  return decode_into(f, res, chunk, stored, chunk.raw ? std::span<uint8_t>() : out.get(chunk.usize), ctx);
}

namespace {

// One piece (a chunk) of a batch.
struct Piece {
  size_t index;     // into the resources streamed
  ChunkRef chunk;
  size_t in_off;    // of its stored bytes in Token::in
  size_t out_off;   // of its decoded bytes in Token::out (compressed chunks)
  ByteSpan data;    // the decoded bytes
};

// A batch in flight through the reader's pipeline: chunks that lie back to
// back in the file (many small files' one-chunk resources), read with one
// pread and decoded by one thread; at most `biggest` bytes stored and
// decoded, as for one chunk of that size.
struct Token {
  std::vector<Piece> pieces;
  Bytes in;
  ChunkBuffer out;
  size_t failed = SIZE_MAX;  // the piece whose decoding threw `error`
  std::exception_ptr error;
};

}  // namespace

void stream_resources(const InputFile& f, std::span<const Resource> resources, const ResourceSink& sink,
                      const ResourceSink* in_parallel) {
  if (resources.empty()) return;
  uint64_t biggest = 1 << 20;
  for (const auto& r : resources)
    if (r.compressed) biggest = std::max<uint64_t>(biggest, r.chunk_size);

  size_t res_i = 0, chunk_i = 0;
  std::vector<ChunkRef> layout;
  bool have_layout = false;
  std::exception_ptr layout_error;  // of a resource after a batch in progress: thrown with the next batch

  ChunkPipeline<Token, DecompressContext> pipeline(chunk_tokens(biggest));
  pipeline.run(
      [&](Token& t) -> bool {
        if (layout_error) std::rethrow_exception(std::exchange(layout_error, nullptr));
        t.pieces.clear();
        t.failed = SIZE_MAX;
        t.error = nullptr;
        uint64_t stored = 0, decoded = 0, begin = 0;
        for (;;) {
          while (res_i < resources.size()) {
            if (!have_layout) {
              try {
                layout = chunk_layout(f, resources[res_i]);
              } catch (...) {
                if (t.pieces.empty()) throw;
                layout_error = std::current_exception();  // after the data before it
                break;
              }
              have_layout = true;
              chunk_i = 0;
            }
            if (chunk_i < layout.size()) break;
            res_i++;
            have_layout = false;
          }
          if (res_i >= resources.size() || layout_error) break;
          const ChunkRef& c = layout[chunk_i];
          if (!t.pieces.empty()) {
            uint64_t out_need = c.raw ? 0 : c.usize;
            if (c.file_offset != begin + stored || stored + c.csize > biggest || decoded + out_need > biggest) break;
          } else {
            begin = c.file_offset;
          }
          t.pieces.push_back({res_i, c, size_t(stored), size_t(decoded), {}});
          stored += c.csize;
          if (!c.raw) decoded += c.usize;
          chunk_i++;
        }
        if (t.pieces.empty()) return false;
        t.in.resize(size_t(stored));
        f.read_at(begin, t.in, "compressed data");
        return true;
      },
      [&](Token& t, DecompressContext& ctx) {
        uint64_t decoded = 0;
        for (const Piece& p : t.pieces)
          if (!p.chunk.raw) decoded += p.chunk.usize;
        std::span<uint8_t> out = t.out.get(size_t(decoded));
        for (size_t j = 0; j < t.pieces.size(); j++) {
          Piece& p = t.pieces[j];
          try {
            ByteSpan stored(t.in.data() + p.in_off, p.chunk.csize);
            std::span<uint8_t> o = p.chunk.raw ? std::span<uint8_t>() : out.subspan(p.out_off, p.chunk.usize);
            p.data = decode_into(f, resources[p.index], p.chunk, stored, o, ctx);
            if (in_parallel) (*in_parallel)(p.index, p.chunk.uoffset, p.data);
          } catch (...) {
            // The pieces before it still reach the sink first.
            t.failed = j;
            t.error = std::current_exception();
            return;
          }
        }
      },
      [&](Token& t) {
        for (size_t j = 0; j < t.pieces.size(); j++) {
          if (j == t.failed) std::rethrow_exception(t.error);
          const Piece& p = t.pieces[j];
          sink(p.index, p.chunk.uoffset, p.data);
        }
      });
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
