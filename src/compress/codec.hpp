// The codec interface: one enum, and per-codec compressor/decompressor objects
// that each thread creates once and reuses for every chunk (architecture.md,
// "Performance rules"). Framing (chunk tables, raw fallback) is the
// container's business (src/wim/); a codec only sees one chunk at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace wp {

enum class Codec : uint8_t { None, Xpress, Lzx, Lzms, Zstd, Lzma };

struct CompressionSpec {
  Codec codec = Codec::None;
  int level = 0;  // 0 = the codec's default
};

// Parses "none", "XPRESS[:L]", "LZX[:L]", "LZMS[:L]", "zstd[:L]", "lzma[:L]"
// and wimlib's aliases "fast" (XPRESS), "maximum"/"max" (LZX), "recovery"
// (LZMS), case-insensitively. Throws Errc::Usage on anything else.
CompressionSpec parse_compression(std::string_view text);

const char* codec_name(Codec c);  // "None", "XPRESS", "LZX", "LZMS", "zstd", "LZMA"
int default_level(Codec c);

// Chunk sizes (wim-format.md §2.2; extension codecs use LZMS's range).
uint32_t default_chunk_size(Codec c, bool solid);
uint64_t min_chunk_size(Codec c);
uint64_t max_chunk_size(Codec c);
bool valid_chunk_size(Codec c, uint64_t size);  // power of two within the range
bool is_standard(Codec c);                      // one that wimlib/WIMGAPI know

class Compressor {
public:
  virtual ~Compressor() = default;
  // Compresses one chunk (at most the max_chunk_size given at creation).
  // Returns the compressed size if it is strictly smaller than in.size() and
  // fits in `out`; returns 0 if the chunk should be stored raw.
  virtual size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) = 0;
};

class Decompressor {
public:
  virtual ~Decompressor() = default;
  // Decodes `in` into exactly out.size() bytes. Returns false for any
  // malformed input; never reads or writes out of bounds.
  virtual bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) = 0;
};

// A compressor's working memory per thread for chunks of `chunk` bytes,
// measured (peak RSS, one thread) and rounded up; for the memory budget
// (util/memory.hpp). The chunk buffers themselves are not included.
uint64_t compressor_memory(Codec c, uint64_t chunk);

// Throw Errc::Unsupported for codecs that are not implemented yet.
std::unique_ptr<Compressor> make_compressor(Codec c, int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_decompressor(Codec c, uint32_t max_chunk_size);

}  // namespace wp
