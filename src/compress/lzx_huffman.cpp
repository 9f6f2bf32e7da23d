// Huffman code construction for the LZX encoder (wim-codecs.md §3.1, §3.3).
#include "compress/lzx_huffman.hpp"

#include <algorithm>
#include <cstring>

namespace wp::lzx {

void build_code_lengths(const uint32_t* freq, uint32_t n, uint32_t maxlen, uint8_t* lens) {
  std::memset(lens, 0, n);
  // Used symbols sorted by (frequency, symbol): packed into one 64-bit key.
  uint64_t used[1024];
  uint32_t m = 0;
  for (uint32_t s = 0; s < n; s++)
    if (freq[s]) used[m++] = (uint64_t(freq[s]) << 16) | s;
  if (m == 0) return;
  if (m == 1) {
    uint32_t s = uint32_t(used[0] & 0xFFFF);
    lens[s] = 1;
    lens[s == 0 ? 1 : 0] = 1;
    return;
  }
  std::sort(used, used + m);

  // Two FIFO queues: leaves in sorted order and internal nodes in creation
  // order, whose weights come out non-decreasing.
  uint64_t iweight[1024];
  uint32_t parent[1024];
  uint32_t leaf = 0, inode = 0;
  auto lw = [&](uint32_t i) { return used[i] >> 16; };
  for (uint32_t created = 0; created < m - 1; created++) {
    uint64_t w = 0;
    const bool leaves2 = m - leaf >= 2;
    const bool inodes2 = created - inode >= 2;
    if (leaves2 && (inode == created || lw(leaf + 1) <= iweight[inode])) {
      w = lw(leaf) + lw(leaf + 1);
      leaf += 2;
    } else if (inodes2 && (leaf == m || iweight[inode + 1] < lw(leaf))) {
      w = iweight[inode] + iweight[inode + 1];
      parent[inode] = parent[inode + 1] = created;
      inode += 2;
    } else {
      w = lw(leaf) + iweight[inode];
      parent[inode] = created;
      leaf++;
      inode++;
    }
    iweight[created] = w;
  }

  // Depths of internal nodes, then leaf counts per length with the limiter:
  // an internal node at depth d turns one leaf at d into two at d + 1.
  const uint32_t root = m - 2;
  uint32_t depth[1024];
  depth[root] = 0;
  uint32_t cnt[32] = {};
  cnt[1] = 2;
  for (uint32_t j = root; j-- > 0;) {
    depth[j] = depth[parent[j]] + 1;
    uint32_t l = depth[j];
    if (l >= maxlen) {
      l = maxlen - 1;
      while (cnt[l] == 0) l--;
    }
    cnt[l]--;
    cnt[l + 1] += 2;
  }
  // Least frequent symbols get the longest codewords.
  uint32_t k = 0;
  for (uint32_t l = maxlen; l >= 1; l--)
    for (uint32_t c = cnt[l]; c > 0; c--) lens[used[k++] & 0xFFFF] = uint8_t(l);
}

void build_codewords(const uint8_t* lens, uint32_t n, uint32_t maxlen, uint16_t* codes) {
  uint32_t count[32] = {}, next[32] = {};
  for (uint32_t s = 0; s < n; s++) count[lens[s]]++;
  count[0] = 0;
  for (uint32_t l = 2; l <= maxlen; l++) next[l] = (next[l - 1] + count[l - 1]) << 1;
  for (uint32_t s = 0; s < n; s++)
    if (lens[s]) codes[s] = uint16_t(next[lens[s]]++);
}

}  // namespace wp::lzx
