#include "wim/resource_reader.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <map>
#include <mutex>

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
  uint64_t E = res.usize > 0xFFFFFFFFull ? 8 : 4;
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
  uint64_t E = res.usize > 0xFFFFFFFFull ? 8 : 4;
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

struct Token {
  size_t index = 0;
  ChunkRef chunk;
  Bytes in;
  ChunkBuffer out;
};

using DecompKey = std::pair<Codec, uint32_t>;
using DecompCache = std::map<DecompKey, std::unique_ptr<Decompressor>>;

}  // namespace

void stream_resources(const InputFile& f, std::span<const Resource> resources, const ResourceSink& sink) {
  if (resources.empty()) return;
  uint64_t biggest = 1 << 20;
  for (const auto& r : resources)
    if (r.compressed) biggest = std::max<uint64_t>(biggest, r.chunk_size);
  int threads = tbb::this_task_arena::max_concurrency();
  // Memory is bounded by the chunks in flight (architecture.md): about 256 MiB
  // of buffers at most, and never fewer than 2 tokens.
  size_t tokens = std::max<size_t>(2, std::min<size_t>(size_t(threads) * 4, (256ull << 20) / (2 * biggest)));

  tbb::enumerable_thread_specific<DecompCache> decomps;
  // `owned` holds every token, so those in flight when an exception cancels
  // the pipeline are freed too; `pool` lists the idle ones.
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Token>> owned;
  std::vector<Token*> pool;

  size_t res_i = 0, chunk_i = 0;
  std::vector<ChunkRef> layout;
  bool have_layout = false;

  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, Token*>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> Token* {
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
            if (res_i >= resources.size()) {
              fc.stop();
              return nullptr;
            }
            Token* t;
            {
              std::lock_guard lk(pool_mutex);
              if (pool.empty()) {
                owned.push_back(std::make_unique<Token>());
                pool.push_back(owned.back().get());
              }
              t = pool.back();
              pool.pop_back();
            }
            t->index = res_i;
            t->chunk = layout[chunk_i++];
            t->in.resize(t->chunk.csize);
            f.read_at(t->chunk.file_offset, t->in, "compressed data");
            return t;
          }) &
          tbb::make_filter<Token*, Token*>(
              tbb::filter_mode::parallel,
              [&](Token* t) -> Token* {
                const Resource& r = resources[t->index];
                if (t->chunk.raw) return t;
                auto& cache = decomps.local();
                auto& d = cache[{r.codec, r.chunk_size}];
                if (!d) d = make_decompressor(r.codec, r.chunk_size);
                if (!d->decompress(t->in, t->out.get(t->chunk.usize))) {
                  fail(Errc::BadArchive, where(f, r) + ": corrupt " + codec_name(r.codec) + " data in the chunk at offset " +
                                             std::to_string(t->chunk.file_offset));
                }
                return t;
              }) &
          tbb::make_filter<Token*, void>(tbb::filter_mode::serial_in_order, [&](Token* t) {
            ByteSpan data = t->chunk.raw ? ByteSpan(t->in) : ByteSpan(t->out.data(), t->chunk.usize);
            sink(t->index, t->chunk.uoffset, data);
            std::lock_guard lk(pool_mutex);
            pool.push_back(t);
          }));
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
