// Constructors of the individual codecs; only codec.cpp calls them.
#pragma once

#include "compress/codec.hpp"

namespace wp {

std::unique_ptr<Compressor> make_zstd_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_zstd_decompressor(uint32_t max_chunk_size);
std::unique_ptr<Compressor> make_lzma_compressor(int level, uint32_t max_chunk_size);
std::unique_ptr<Decompressor> make_lzma_decompressor(uint32_t max_chunk_size);

}  // namespace wp
