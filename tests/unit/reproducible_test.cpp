// Reproducible archives (README "Reproducible archives"): SOURCE_DATE_EPOCH
// parsing (util/env.hpp) and the derived GUIDs (wim/header.hpp).
#include <doctest/doctest.h>

#include "util/env.hpp"
#include "util/error.hpp"
#include "util/sha1.hpp"
#include "wim/header.hpp"

using namespace wp;

namespace {

Sha1 h(uint8_t b) {
  Sha1 s;
  s.bytes.fill(b);
  return s;
}

}  // namespace

TEST_CASE("SOURCE_DATE_EPOCH: unset, empty, valid and malformed values") {
  CHECK_FALSE(parse_source_date_epoch(nullptr).has_value());
  CHECK_FALSE(parse_source_date_epoch("").has_value());
  CHECK(*parse_source_date_epoch("0") == 0);
  CHECK(*parse_source_date_epoch("1700000000") == 1700000000);
  CHECK(*parse_source_date_epoch("253402300799") == 253402300799);
  for (const char* bad : {"abc", "12x", "-5", "1.5", " 1", "1 ", "+1", "253402300800", "99999999999999999999"}) {
    CAPTURE(bad);
    try {
      parse_source_date_epoch(bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::Usage);
      CHECK(std::string(e.what()).find("SOURCE_DATE_EPOCH") != std::string::npos);
    }
  }
}

TEST_CASE("derive_guid: defined inputs, blob order does not matter") {
  std::vector<Sha1> meta{h(1), h(2)};
  auto g = wim::derive_guid(1700000000, 0x20082, 32768, meta, {h(3), h(4), h(5)});
  // The documented construction, spelled out.
  Sha1Hasher x;
  const std::string tag = "wimpack-guid-v1";
  x.update({reinterpret_cast<const uint8_t*>(tag.data()), tag.size()});
  uint8_t b[20] = {0x82, 0x00, 0x02, 0x00, 0x00, 0x80, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
  const uint64_t e = 1700000000;
  for (int i = 0; i < 8; i++) b[12 + i] = uint8_t(e >> (8 * i));
  x.update({b, 20});
  for (const Sha1& s : {h(1), h(2), h(3), h(4), h(5)}) x.update(s.bytes);
  Sha1 want = x.final();
  CHECK(std::equal(g.begin(), g.end(), want.bytes.begin()));

  CHECK(wim::derive_guid(1700000000, 0x20082, 32768, meta, {h(5), h(3), h(4), h(3)}) == g);  // sorted, unique
  CHECK(wim::derive_guid(1700000001, 0x20082, 32768, meta, {h(3), h(4), h(5)}) != g);        // epoch
  CHECK(wim::derive_guid(1700000000, 0x40082, 32768, meta, {h(3), h(4), h(5)}) != g);        // codec
  CHECK(wim::derive_guid(1700000000, 0x20082, 65536, meta, {h(3), h(4), h(5)}) != g);        // chunk size
  CHECK(wim::derive_guid(1700000000, 0x20082, 32768, {h(2), h(1)}, {h(3), h(4), h(5)}) != g);  // image order
  CHECK(wim::derive_guid(1700000000, 0x20082, 32768, meta, {h(3), h(4)}) != g);              // a delta
}

TEST_CASE("derive_split_guid: from the source GUID, the part size and the epoch") {
  std::array<uint8_t, 16> src{};
  src[0] = 7;
  auto g = wim::derive_split_guid(1700000000, src, 1 << 20);
  CHECK(g == wim::derive_split_guid(1700000000, src, 1 << 20));
  CHECK(g != src);
  CHECK(g != wim::derive_split_guid(1700000000, src, 2 << 20));
  CHECK(g != wim::derive_split_guid(1700000001, src, 1 << 20));
  src[0] = 8;
  CHECK(g != wim::derive_split_guid(1700000000, src, 1 << 20));
}
