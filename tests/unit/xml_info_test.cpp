// wim/xml_info: typed accessors for image properties and wimpack's
// WIMPACK_DELTA_BASE extension, and that they survive encode/parse.
#include <doctest/doctest.h>

#include "util/error.hpp"
#include "wim/xml_info.hpp"

using namespace wp;

TEST_CASE("xml_info: image properties, nested paths, created on demand") {
  wim::XmlInfo x;
  size_t i = x.add_image("img", 0);
  x.set_property(i, "DISPLAYNAME", "Disp Name");
  x.set_property(i, "WINDOWS/VERSION/MAJOR", "10");
  x.set_property(i, "WINDOWS/VERSION/MINOR", "0");
  x.set_property(i, "WINDOWS/VERSION/MAJOR", "11");  // replaced, not duplicated
  CHECK(x.get_property(i, "DISPLAYNAME") == "Disp Name");
  CHECK(x.get_property(i, "WINDOWS/VERSION/MAJOR") == "11");
  CHECK(x.get_property(i, "WINDOWS/VERSION/MINOR") == "0");
  CHECK(x.get_property(i, "WINDOWS/NOPE") == "");
  CHECK(x.get_property(i, "bad//path") == "");
  CHECK(x.get(i, "DISPLAYNAME") == "Disp Name");  // the same element get() sees

  std::string s = x.to_utf8();
  CHECK(s.find("<WINDOWS><VERSION><MAJOR>11</MAJOR><MINOR>0</MINOR></VERSION></WINDOWS>") != std::string::npos);
  wim::XmlInfo back = wim::XmlInfo::parse(x.encode(0), "x");
  CHECK(back.get_property(1, "WINDOWS/VERSION/MAJOR") == "11");

  CHECK(wim::XmlInfo::valid_property_path("A/B_c/d-1"));
  CHECK(wim::XmlInfo::valid_property_path("WINDOWS/LANGUAGES/LANGUAGE[2]"));
  for (const char* bad : {"", "/A", "A/", "A//B", "A B", "A<B", "1A", "A[0]", "A[x]"}) {
    CHECK_FALSE(wim::XmlInfo::valid_property_path(bad));
    CHECK_THROWS_AS(x.set_property(i, bad, "v"), Error);
  }
  try {
    x.set_property(i, "X", "a\x01" "b");
    FAIL("a control character was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Usage);
  }
  CHECK_NOTHROW(x.set_property(i, "X", "tab\tand\nnewline"));
  CHECK_THROWS_AS(x.set_property(7, "X", "v"), Error);  // no such image
}

TEST_CASE("xml_info: delta bases round-trip in order") {
  wim::XmlInfo x;
  size_t i = x.add_image("delta", 0);
  CHECK(x.delta_bases(i).empty());
  wim::DeltaBase a{"/backups/base.wim", {}}, b{"second.wim", {}};
  for (int k = 0; k < 16; k++) a.guid[k] = uint8_t(k * 17), b.guid[k] = uint8_t(255 - k);
  x.add_delta_base(i, a);
  x.add_delta_base(i, b);
  std::string s = x.to_utf8();
  CHECK(s.find("<WIMPACK_DELTA_BASE><PATH>/backups/base.wim</PATH><GUID>00112233445566778899aabbccddeeff</GUID>"
               "</WIMPACK_DELTA_BASE>") != std::string::npos);
  wim::XmlInfo back = wim::XmlInfo::parse(x.encode(0), "x");
  auto got = back.delta_bases(1);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == a);
  CHECK(got[1] == b);
  // A second image has none; an exported copy keeps them.
  size_t j = back.add_image("plain", 0);
  CHECK(back.delta_bases(j).empty());
  size_t k = back.add_image_copy(back.image(1));
  CHECK(back.delta_bases(k) == got);
}

TEST_CASE("xml_info: delta bases written by hand or by older versions") {
  auto utf16 = [](const std::string& t) {
    Bytes out = {0xFF, 0xFE};
    for (char c : t) out.push_back(uint8_t(c)), out.push_back(0);
    return out;
  };
  wim::XmlInfo x = wim::XmlInfo::parse(
      utf16("<WIM><IMAGE INDEX=\"1\"><WIMPACK_DELTA_BASE><PATH>p.wim</PATH><GUID>xyz</GUID></WIMPACK_DELTA_BASE>"
            "<WIMPACK_DELTA_BASE><GUID>00112233445566778899aabbccddeeff</GUID></WIMPACK_DELTA_BASE>"
            "<WIMPACK_DELTA_BASE><PATH>q.wim</PATH></WIMPACK_DELTA_BASE></IMAGE></WIM>"),
      "x");
  auto got = x.delta_bases(1);
  REQUIRE(got.size() == 2);  // the one without a PATH is skipped
  CHECK(got[0].path == "p.wim");
  CHECK(got[0].guid == std::array<uint8_t, 16>{});  // malformed GUID: zeros
  CHECK(got[1].path == "q.wim");
}

TEST_CASE("xml_info: delta bases relative to the archive, with the base image") {
  wim::XmlInfo x;
  size_t i = x.add_image("delta", 0);
  wim::DeltaBase a;
  a.path = "../full/base.wim";
  a.relative_to_archive = true;
  a.image = 2;
  a.image_name = "monday";
  a.guid[0] = 0xab;
  x.add_delta_base(i, a);
  std::string s = x.to_utf8();
  CHECK(s.find("<PATH RELATIVE_TO=\"ARCHIVE\">../full/base.wim</PATH>") != std::string::npos);
  CHECK(s.find("<IMAGE_INDEX>2</IMAGE_INDEX><IMAGE_NAME>monday</IMAGE_NAME>") != std::string::npos);
  wim::XmlInfo back = wim::XmlInfo::parse(x.encode(0), "x");
  auto got = back.delta_bases(1);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == a);
  // The old form (no attribute, no image) reads as before.
  wim::DeltaBase old{"old.wim", {}};
  back.add_delta_base(1, old);
  CHECK(back.delta_bases(1).at(1) == old);
  CHECK_FALSE(back.delta_bases(1).at(1).relative_to_archive);
  back.remove_delta_bases(1);
  CHECK(back.delta_bases(1).empty());
}
