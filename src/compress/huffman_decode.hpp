// Canonical prefix-code decoding shared by the XPRESS, LZX and LZMS decoders
// (wim-codecs.md §3.1, §3.2): one decode-table layout, its construction, and
// the lookup against a left-aligned 64-bit bit buffer.
//
// Table entries are 16 bits. A leaf is symbol << 4 | bits, where bits is the
// number of bits to drop: the codeword length in the root table, the length
// minus the root width in a subtable. The root table has 2^root entries;
// codewords longer than the root go to subtables after it, one per root
// prefix, sized so that the codewords sharing the prefix fill it exactly. A
// root entry of at least 2^(root + 4) points to a subtable: start << 4 |
// subtable width. Leaves never reach that value because alphabets have at
// most 2^root symbols. Codeword lengths are at most 16, so a subtable entry's
// remaining length and every width fit in 4 bits as long as root >= 1.
#pragma once

#include <cstdint>

namespace wp::huffman {

// Fills `table` (room for `capacity` entries) for the code given by
// lens[0..n-1] (0 = unused symbol, else 1..maxlen, maxlen <= 16,
// n <= 2^root <= 4096). Returns false unless the lengths form a complete
// prefix code, or if the subtables would not fit `capacity`. With
// `allow_empty`, all-zero lengths are accepted too and decode as symbol 0
// without consuming any bits (LZX, §5.5: a code no valid stream uses).
bool build_decode_table(uint16_t* table, unsigned capacity, unsigned root, const uint8_t* lens, unsigned n,
                        unsigned maxlen, bool allow_empty = false);

// Decodes one symbol from the top of `buf` (at least maxlen valid bits there),
// shifting its codeword out and subtracting its length from `avail`.
template <unsigned Root, bool HasSubtables = true>
inline unsigned decode_symbol(const uint16_t* table, uint64_t& buf, unsigned& avail) {
  unsigned e = table[buf >> (64 - Root)];
  if constexpr (HasSubtables) {
    if (e >= (1u << (Root + 4))) [[unlikely]] {
      buf <<= Root;
      avail -= Root;
      e = table[(e >> 4) + unsigned(buf >> (64 - (e & 15)))];
    }
  }
  buf <<= (e & 15);
  avail -= (e & 15);
  return e >> 4;
}

}  // namespace wp::huffman
