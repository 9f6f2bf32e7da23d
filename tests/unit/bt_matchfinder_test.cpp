// Binary-tree match finder (src/compress/bt_matchfinder.hpp) against brute
// force: every match it reports must be real, lengths strictly increasing
// and within the cap; with an unbounded depth the longest one must be the
// longest match at that position (up to the cap) whenever that is at least
// 4 bytes long (the tree's reach; length 3 comes from a single-entry hash).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compress/bt_matchfinder.hpp"

using namespace wp;

namespace {

using Bytes = std::vector<uint8_t>;

// Longest match at pos with any earlier position, capped at cap.
uint32_t brute_longest(const Bytes& d, uint32_t pos, uint32_t cap) {
  uint32_t best = 0;
  for (uint32_t q = 0; q < pos && best < cap; q++) {
    uint32_t l = 0;
    while (l < cap && d[q + l] == d[pos + l]) l++;
    best = std::max(best, l);
  }
  return best;
}

// Runs the finder over d (every `skip_every`-th position inserted without
// a lookup) and checks every lookup. Returns the number of positions where
// the longest match was compared exactly.
size_t check(BtMatchFinder& mf, const Bytes& data, uint32_t nice, unsigned depth, unsigned skip_every) {
  const uint32_t n = uint32_t(data.size());
  Bytes d = data;
  d.resize(n + 16, 0);  // the finder reads 4 bytes at every position
  mf.reset(n);
  std::vector<BtMatch> out(nice + 2);
  size_t exact = 0;
  for (uint32_t pos = 0; pos < n; pos++) {
    const uint32_t cap = std::min(nice, n - pos);
    if (skip_every && pos % skip_every == skip_every - 1) {
      mf.skip(d.data(), pos, cap, depth);
      continue;
    }
    const unsigned k = mf.advance<true>(d.data(), pos, cap, depth, out.data());
    REQUIRE(k + 2 <= std::max<uint32_t>(cap, 2));
    uint32_t prev = 2;
    for (unsigned i = 0; i < k; i++) {
      const BtMatch m = out[i];
      INFO("pos " << pos << " match " << i << " len " << m.len << " offset " << m.offset);
      REQUIRE(m.len > prev);
      REQUIRE(m.len <= cap);
      REQUIRE(m.offset >= 1);
      REQUIRE(m.offset <= pos);
      REQUIRE(std::memcmp(&d[pos], &d[pos - m.offset], m.len) == 0);
      prev = m.len;
    }
    if (depth >= n && cap >= 4) {
      const uint32_t want = brute_longest(d, pos, cap);
      if (want >= 4) {
        INFO("pos " << pos << " cap " << cap);
        REQUIRE(k > 0);
        REQUIRE(out[k - 1].len == want);
        exact++;
      }
    }
  }
  return exact;
}

Bytes random_bytes(size_t n, unsigned alphabet, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes v(n);
  for (auto& b : v) b = uint8_t('a' + rng() % alphabet);
  return v;
}

// A few phrases repeated with mutations: long matches at many offsets.
Bytes repetitive(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::string words[] = {"static ", "const ", "uint32_t ", "return ", "len", "pos", "(", ") {\n", "  ", ";\n"};
  Bytes v;
  while (v.size() < n) {
    const std::string& w = words[rng() % 10];
    v.insert(v.end(), w.begin(), w.end());
    if (rng() % 50 == 0) v.push_back(uint8_t(rng()));
  }
  v.resize(n);
  return v;
}

}  // namespace

TEST_CASE("bt match finder: matches are real and the longest is found (brute force)") {
  BtMatchFinder mf;
  size_t exact = 0;
  for (uint32_t seed = 1; seed <= 3; seed++) {
    for (uint32_t nice : {5u, 32u, 300u}) {
      for (unsigned skip : {0u, 3u}) {
        exact += check(mf, random_bytes(1500, 2, seed), nice, 1u << 20, skip);
        exact += check(mf, random_bytes(1500, 4, seed), nice, 1u << 20, skip);
        exact += check(mf, repetitive(2000, seed), nice, 1u << 20, skip);
        exact += check(mf, random_bytes(1000, 256, seed), nice, 1u << 20, skip);
      }
    }
  }
  // Runs, periodic data and sizes around the hash / cap limits.
  for (uint32_t nice : {4u, 16u, 273u}) {
    exact += check(mf, Bytes(700, 0), nice, 1u << 20, 0);
    Bytes periodic(900);
    for (size_t i = 0; i < periodic.size(); i++) periodic[i] = uint8_t("abcab"[i % 5]);
    exact += check(mf, periodic, nice, 1u << 20, 2);
  }
  for (uint32_t n = 0; n < 10; n++) check(mf, Bytes(n, 'x'), 32, 1u << 20, 0);
  CHECK(exact > 10000);  // the exact comparison really ran
}

TEST_CASE("bt match finder: depth-limited matches stay valid, buffers are reused") {
  BtMatchFinder mf;
  for (unsigned depth : {1u, 2u, 8u}) {
    check(mf, repetitive(20000, 9), 64, depth, 0);
    check(mf, random_bytes(5000, 3, 9), 64, depth, 5);
  }
  const size_t mem = mf.memory_bytes();
  check(mf, repetitive(3000, 4), 64, 16, 0);  // smaller: no new allocation
  CHECK(mf.memory_bytes() == mem);
}
