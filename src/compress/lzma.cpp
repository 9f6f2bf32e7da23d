// LZMA as a private WIM codec (wim-format.md §2.2): each chunk is one raw
// LZMA2 stream (no .xz container), dictionary size = chunk size. The
// lzma_stream is kept per context so liblzma can reuse its buffers.
#include <lzma.h>

#include <algorithm>

#include "compress/codec_impl.hpp"
#include "util/error.hpp"

namespace wp {
namespace {

uint32_t dict_size_for(uint32_t chunk_size) { return std::max<uint32_t>(chunk_size, LZMA_DICT_SIZE_MIN); }

class LzmaCompressor final : public Compressor {
public:
  LzmaCompressor(int level, uint32_t max_chunk_size) {
    if (lzma_lzma_preset(&opts_, uint32_t(level)) != 0) fail(Errc::Usage, "invalid lzma level");
    opts_.dict_size = std::min(opts_.dict_size, dict_size_for(max_chunk_size));
    filters_[0] = {LZMA_FILTER_LZMA2, &opts_};
    filters_[1] = {LZMA_VLI_UNKNOWN, nullptr};
  }
  ~LzmaCompressor() override { lzma_end(&strm_); }

  size_t compress(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (in.size() < 2) return 0;
    if (lzma_raw_encoder(&strm_, filters_) != LZMA_OK) return 0;
    strm_.next_in = in.data();
    strm_.avail_in = in.size();
    strm_.next_out = out.data();
    strm_.avail_out = std::min(out.size(), in.size() - 1);
    lzma_ret r = lzma_code(&strm_, LZMA_FINISH);
    if (r != LZMA_STREAM_END) return 0;  // did not fit: store raw
    return size_t(strm_.next_out - out.data());
  }

private:
  lzma_stream strm_ = LZMA_STREAM_INIT;
  lzma_options_lzma opts_{};
  lzma_filter filters_[2];
};

class LzmaDecompressor final : public Decompressor {
public:
  explicit LzmaDecompressor(uint32_t max_chunk_size) {
    opts_.dict_size = dict_size_for(max_chunk_size);
    filters_[0] = {LZMA_FILTER_LZMA2, &opts_};
    filters_[1] = {LZMA_VLI_UNKNOWN, nullptr};
  }
  ~LzmaDecompressor() override { lzma_end(&strm_); }

  bool decompress(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (lzma_raw_decoder(&strm_, filters_) != LZMA_OK) return false;
    strm_.next_in = in.data();
    strm_.avail_in = in.size();
    strm_.next_out = out.data();
    strm_.avail_out = out.size();
    lzma_ret r = lzma_code(&strm_, LZMA_FINISH);
    // The stream must end exactly at the end of both buffers.
    return r == LZMA_STREAM_END && strm_.avail_out == 0 && strm_.avail_in == 0;
  }

private:
  lzma_stream strm_ = LZMA_STREAM_INIT;
  lzma_options_lzma opts_{};
  lzma_filter filters_[2];
};

}  // namespace

std::unique_ptr<Compressor> make_lzma_compressor(int level, uint32_t max_chunk_size) {
  return std::make_unique<LzmaCompressor>(level, max_chunk_size);
}
std::unique_ptr<Decompressor> make_lzma_decompressor(uint32_t max_chunk_size) {
  return std::make_unique<LzmaDecompressor>(max_chunk_size);
}

}  // namespace wp
