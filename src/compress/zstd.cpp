// zstd as a private WIM codec (wim-format.md §2.2): each chunk is one complete
// zstd frame, no dictionary. The frame omits the content size and checksum:
// the container already records both sizes and a SHA-1 per blob.
#include <zstd.h>

#include <algorithm>

#include "compress/codec_impl.hpp"
#include "util/error.hpp"

namespace wp {
namespace {

class ZstdCompressor final : public Compressor {
public:
  ZstdCompressor(int level, uint32_t max_chunk_size) : cctx_(ZSTD_createCCtx()) {
    if (!cctx_) fail(Errc::Failure, "out of memory creating a zstd context");
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_dictIDFlag, 0);
    (void)max_chunk_size;
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(cctx_); }

  size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    size_t cap = std::min(out.size(), in.size() ? in.size() - 1 : 0);
    if (cap == 0) return 0;
    size_t n = ZSTD_compress2(cctx_, out.data(), cap, in.data(), in.size());
    if (ZSTD_isError(n) || n >= in.size()) return 0;
    return n;
  }

private:
  ZSTD_CCtx* cctx_;
};

class ZstdDecompressor final : public Decompressor {
public:
  explicit ZstdDecompressor(uint32_t max_chunk_size) : dctx_(ZSTD_createDCtx()) {
    if (!dctx_) fail(Errc::Failure, "out of memory creating a zstd context");
    // Refuse frames that ask for a window larger than any chunk could need.
    int wlog = 10;
    while (wlog < 31 && (1ull << wlog) < max_chunk_size) wlog++;
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, std::max(wlog, 27));
  }
  ~ZstdDecompressor() override { ZSTD_freeDCtx(dctx_); }

  bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    // Exactly one frame that fills the chunk exactly.
    size_t frame = ZSTD_findFrameCompressedSize(in.data(), in.size());
    if (ZSTD_isError(frame) || frame != in.size()) return false;
    size_t n = ZSTD_decompressDCtx(dctx_, out.data(), out.size(), in.data(), in.size());
    return !ZSTD_isError(n) && n == out.size();
  }

private:
  ZSTD_DCtx* dctx_;
};

}  // namespace

std::unique_ptr<Compressor> make_zstd_compressor(int level, uint32_t max_chunk_size) {
  return std::make_unique<ZstdCompressor>(level, max_chunk_size);
}
std::unique_ptr<Decompressor> make_zstd_decompressor(uint32_t max_chunk_size) {
  return std::make_unique<ZstdDecompressor>(max_chunk_size);
}

}  // namespace wp
