// util/json: string escaping (controls, invalid UTF-8) and JsonObject.
#include <doctest/doctest.h>

#include "util/json.hpp"

using namespace wp;

TEST_CASE("json_string escapes controls and quotes, keeps UTF-8") {
  CHECK(json_string("a\"b\\c\n\t\x01") == "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  CHECK(json_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST_CASE("json_string replaces bytes that are not UTF-8") {
  CHECK(json_string("a\xFF" "b") == "\"a\\ufffdb\"");
  CHECK(json_string("\xC3") == "\"\\ufffd\"");                  // truncated sequence
  CHECK(json_string("\xC0\xAF") == "\"\\ufffd\\ufffd\"");       // overlong
  CHECK(json_string("\xED\xA0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate (WTF-8)
}

TEST_CASE("JsonObject builds one object in key order") {
  JsonObject o;
  CHECK(o.text() == "{}");
  o.str("s", "x").num("n", 42).boolean("b", true).null("z").real("r", 1.5).raw("a", "[1,2]");
  CHECK(o.text() == "{\"s\":\"x\",\"n\":42,\"b\":true,\"z\":null,\"r\":1.500,\"a\":[1,2]}");
  JsonObject inf;
  inf.real("x", 1.0 / 0.0);
  CHECK(inf.text() == "{\"x\":null}");
}
