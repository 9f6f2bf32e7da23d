// Length-limited canonical Huffman codes for the LZX encoder. LZX sends its
// code lengths, so any valid construction would do; this one is the
// two-queue construction with the depth limiter of wim-codecs.md §3.3.
#pragma once

#include <cstdint>

namespace wp::lzx {

// Fills lens[0..n-1] (n <= 1024) with a complete length-limited code for the
// symbols of nonzero frequency. No symbol used: all zero. One symbol used: it
// and a second symbol get length 1, so the code is still complete.
void build_code_lengths(const uint32_t* freq, uint32_t n, uint32_t maxlen, uint8_t* lens);

// Canonical codewords from lengths (§3.1).
void build_codewords(const uint8_t* lens, uint32_t n, uint32_t maxlen, uint16_t* codes);

}  // namespace wp::lzx
