#include "compress/codec.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "compress/codec_impl.hpp"
#include "util/endian.hpp"
#include "util/error.hpp"

namespace wp {

CompressionSpec parse_compression(std::string_view text) {
  std::string_view name = text, level_text;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    name = text.substr(0, colon);
    level_text = text.substr(colon + 1);
  }
  std::string n;
  for (char c : name) n.push_back(char(std::tolower(uint8_t(c))));
  CompressionSpec spec;
  if (n == "none")
    spec.codec = Codec::None;
  else if (n == "xpress" || n == "fast")
    spec.codec = Codec::Xpress;
  else if (n == "lzx" || n == "maximum" || n == "max")
    spec.codec = Codec::Lzx;
  else if (n == "lzms" || n == "recovery")
    spec.codec = Codec::Lzms;
  else if (n == "zstd")
    spec.codec = Codec::Zstd;
  else if (n == "lzma" || n == "xz")
    spec.codec = Codec::Lzma;
  else
    fail(Errc::Usage, "unknown compression type '" + std::string(text) +
                          "' (use none, XPRESS, LZX, LZMS, zstd or lzma, optionally with :LEVEL)");
  if (text.find(':') != std::string_view::npos && level_text.empty())
    fail(Errc::Usage, "missing compression level after ':' in '" + std::string(text) + "'");
  if (!level_text.empty()) {
    int level = 0;
    auto [p, ec] = std::from_chars(level_text.data(), level_text.data() + level_text.size(), level);
    if (ec != std::errc() || p != level_text.data() + level_text.size() || level <= 0)
      fail(Errc::Usage, "invalid compression level in '" + std::string(text) + "': expected a positive integer");
    if (spec.codec == Codec::None) fail(Errc::Usage, "compression type 'none' takes no level");
    if (spec.codec == Codec::Zstd && level > 22) fail(Errc::Usage, "zstd levels are 1 to 22");
    if (spec.codec == Codec::Lzma && level > 9) fail(Errc::Usage, "lzma levels are 1 to 9");
    spec.level = level;
  }
  return spec;
}

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::None: return "None";
    case Codec::Xpress: return "XPRESS";
    case Codec::Lzx: return "LZX";
    case Codec::Lzms: return "LZMS";
    case Codec::Zstd: return "zstd";
    case Codec::Lzma: return "LZMA";
  }
  return "?";
}

int default_level(Codec c) {
  switch (c) {
    case Codec::Zstd: return 6;
    case Codec::Lzma: return 6;
    case Codec::None: return 0;
    default: return 50;  // wimlib's scale for XPRESS/LZX/LZMS
  }
}

uint32_t default_chunk_size(Codec c, bool solid) {
  switch (c) {
    case Codec::None: return 0;
    case Codec::Xpress:
    case Codec::Lzx: return 32768;
    case Codec::Lzms:
    case Codec::Zstd:
    case Codec::Lzma: return solid ? (64u << 20) : (128u << 10);
  }
  return 0;
}

uint64_t min_chunk_size(Codec c) {
  switch (c) {
    case Codec::Xpress: return 4096;
    default: return 32768;
  }
}

uint64_t max_chunk_size(Codec c) {
  switch (c) {
    case Codec::Xpress: return 65536;
    case Codec::Lzx: return 2u << 20;
    default: return 1u << 30;
  }
}

bool valid_chunk_size(Codec c, uint64_t size) {
  if (c == Codec::None) return size == 0;
  return is_power_of_two(size) && size >= min_chunk_size(c) && size <= max_chunk_size(c);
}

bool is_standard(Codec c) { return c != Codec::Zstd && c != Codec::Lzma; }

std::unique_ptr<Compressor> make_compressor(Codec c, int level, uint32_t max_chunk_size) {
  if (level <= 0) level = default_level(c);
  switch (c) {
    case Codec::Zstd: return make_zstd_compressor(level, max_chunk_size);
    case Codec::Lzma: return make_lzma_compressor(level, max_chunk_size);
    case Codec::Xpress: return make_xpress_compressor(level, max_chunk_size);
    case Codec::Lzx: return make_lzx_compressor(level, max_chunk_size);
    case Codec::Lzms: return make_lzms_compressor(level, max_chunk_size);
    case Codec::None: break;
  }
  fail(Errc::Failure, "internal error: no compressor for 'none'");
}

std::unique_ptr<Decompressor> make_decompressor(Codec c, uint32_t max_chunk_size) {
  switch (c) {
    case Codec::Zstd: return make_zstd_decompressor(max_chunk_size);
    case Codec::Lzma: return make_lzma_decompressor(max_chunk_size);
    case Codec::Xpress: return make_xpress_decompressor(max_chunk_size);
    case Codec::Lzx: return make_lzx_decompressor(max_chunk_size);
    case Codec::Lzms: return make_lzms_decompressor(max_chunk_size);
    case Codec::None: break;
  }
  fail(Errc::Failure, "internal error: no decompressor for 'none'");
}

uint64_t compressor_memory(Codec c, uint64_t chunk) {
  constexpr uint64_t MiB = 1ull << 20;
  switch (c) {
    case Codec::None: return 0;
    case Codec::Xpress: return 4 * chunk + 1 * MiB;
    case Codec::Lzx: return 8 * chunk + 2 * MiB;
    case Codec::Lzms: return 5 * chunk + 4 * MiB;  // 64 MiB chunks: ~220-320 MiB per thread
    case Codec::Lzma: return 4 * chunk + 16 * MiB;  // 64 MiB chunks: ~190 MiB per thread
    default: return 2 * chunk + 16 * MiB;           // zstd, 64 MiB chunks: ~120 MiB per thread
  }
}

}  // namespace wp
