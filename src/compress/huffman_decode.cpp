#include "compress/huffman_decode.hpp"

#include <cstring>

namespace wp::huffman {

namespace {

constexpr unsigned kMaxLen = 16;
constexpr unsigned kMaxSyms = 1024;  // the largest alphabet (LZMS offsets: 799)

// Writes e to p[0..n-1], n a power of two: four entries per store from n = 4
// (the compiler widens the loop further).
inline void fill(uint16_t* p, unsigned n, uint16_t e) {
  if (n >= 4) {
    const uint64_t v = 0x0001000100010001ull * e;
    for (unsigned i = 0; i < n; i += 4) std::memcpy(p + i, &v, 8);
  } else {
    p[0] = e;
    if (n == 2) p[1] = e;
  }
}

}  // namespace

bool build_decode_table(uint16_t* table, unsigned capacity, unsigned root, const uint8_t* lens, unsigned n,
                        unsigned maxlen, bool allow_empty) {
  if (n > kMaxSyms || n > (1u << root) || maxlen > kMaxLen || capacity < (1u << root) || capacity > 4096)
    return false;  // a subtable start must fit the 12 bits of a pointer
  unsigned count[kMaxLen + 1] = {};
  for (unsigned s = 0; s < n; s++) {
    if (lens[s] > maxlen) return false;
    count[lens[s]]++;
  }
  // Kraft sum: `left` is the number of unused codewords of length l.
  int left = 1;
  for (unsigned l = 1; l <= maxlen; l++) {
    left = (left << 1) - int(count[l]);
    if (left < 0) return false;  // over-subscribed
  }
  if (left != 0) {  // incomplete, or no symbol at all
    if (!allow_empty || count[0] != n) return false;
    fill(table, 1u << root, 0);
    return true;
  }

  // Used symbols in canonical order: by (length, symbol).
  unsigned offs[kMaxLen + 2];
  offs[1] = 0;
  for (unsigned l = 1; l <= maxlen; l++) offs[l + 1] = offs[l] + count[l];
  uint16_t sorted[kMaxSyms];
  for (unsigned s = 0; s < n; s++)
    if (lens[s] != 0) sorted[offs[lens[s]]++] = uint16_t(s);

  // Codewords up to the root width fill consecutive runs of the root table.
  unsigned i = 0, pos = 0, l = 1;
  for (; l <= root && l <= maxlen; l++) {
    const unsigned stride = 1u << (root - l);
    for (unsigned c = count[l]; c > 0; c--, i++) {
      fill(table + pos, stride, uint16_t((sorted[i] << 4) | l));
      pos += stride;
    }
  }
  if (pos == (1u << root)) return true;

  // Longer codewords. `code` is the next codeword of length l; its top root
  // bits select the root entry, the rest index that entry's subtable.
  unsigned code = pos << (l - root);
  unsigned next_free = 1u << root, cur_prefix = ~0u, sub_start = 0, sub_bits = 0;
  for (; l <= maxlen; l++, code <<= 1) {
    const unsigned extra = l - root;
    for (; count[l] > 0; count[l]--, code++, i++) {
      const unsigned prefix = code >> extra;
      if (prefix != cur_prefix) {
        // The smallest width whose entries the codewords with this prefix
        // fill exactly (count[] holds the codewords still to place).
        unsigned t = extra;
        int room = 1 << t;
        while (root + t < maxlen) {
          room -= int(count[root + t]);
          if (room <= 0) break;
          t++;
          room <<= 1;
        }
        if (next_free + (1u << t) > capacity) return false;
        table[prefix] = uint16_t((next_free << 4) | t);
        cur_prefix = prefix;
        sub_start = next_free;
        sub_bits = t;
        next_free += 1u << t;
      }
      const unsigned low = code & ((1u << extra) - 1);
      fill(table + sub_start + (low << (sub_bits - extra)), 1u << (sub_bits - extra),
           uint16_t((sorted[i] << 4) | extra));
    }
  }
  return true;
}

}  // namespace wp::huffman
