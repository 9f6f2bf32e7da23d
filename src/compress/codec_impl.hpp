// Constructors of the individual codecs; only codec.cpp calls them.
#pragma once

#include "compress/codec.hpp"

namespace wp {

std::unique_ptr<Compressor> make_zstd_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_zstd_decompressor(uint32_t max_chunk_size);
std::unique_ptr<Compressor> make_lzma_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_lzma_decompressor(uint32_t max_chunk_size);
std::unique_ptr<Compressor> make_xpress_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_xpress_decompressor(uint32_t max_chunk_size);
std::unique_ptr<Compressor> make_lzx_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_lzx_decompressor(uint32_t max_chunk_size);
std::unique_ptr<Compressor> make_lzms_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_lzms_decompressor(uint32_t max_chunk_size);

}  // namespace wp
