#include <doctest/doctest.h>

#include "compress/codec.hpp"
#include "util/error.hpp"
#include "util/sha1.hpp"
#include "util/size.hpp"
#include "util/utf.hpp"

using namespace wp;

TEST_CASE("parse_size accepts wimlib's suffixes") {
  CHECK(parse_size("32768") == 32768u);
  CHECK(parse_size("32K") == 32768u);
  CHECK(parse_size("32KiB") == 32768u);
  CHECK(parse_size("1m") == 1048576u);
  CHECK(parse_size("1MiB") == 1048576u);
  CHECK(parse_size("1G") == 1073741824u);
  CHECK(!parse_size(""));
  CHECK(!parse_size("K"));
  CHECK(!parse_size("12X"));
  CHECK(!parse_size("-5"));
  CHECK(!parse_size("99999999999999999999"));
}

TEST_CASE("UTF-8 and UTF-16 round trip, including unpaired surrogates") {
  std::string s = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
  auto u = utf8_to_utf16(s);
  REQUIRE(u);
  CHECK(u->size() == 10);
  CHECK(utf16_to_utf8(*u) == s);
  std::u16string lone = {u'a', char16_t(0xD800), u'b'};
  std::string w = utf16_to_utf8(lone);
  CHECK(w == "a\xED\xA0\x80" "b");
  CHECK(utf8_to_utf16(w) == lone);
  CHECK(!utf8_to_utf16("\xC0\xAF"));     // overlong '/'
  CHECK(!utf8_to_utf16("\xE2\x82"));     // truncated
  CHECK(!utf8_to_utf16("\xFF"));
  CHECK(!utf8_to_utf16("\xED\xA0\xBD\xED\xB8\x80"));  // surrogate pair spelled as two sequences
}

TEST_CASE("SHA-1 of known strings") {
  std::string hello = "hello\n";
  CHECK(sha1_of({reinterpret_cast<const uint8_t*>(hello.data()), hello.size()}).hex() ==
        "f572d396fae9206628714fb2ce00f72e94f2258f");
  CHECK(sha1_of({}).hex() == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_CASE("compression names and levels") {
  CHECK(parse_compression("zstd").codec == Codec::Zstd);
  CHECK(parse_compression("ZSTD:19").level == 19);
  CHECK(parse_compression("fast").codec == Codec::Xpress);
  CHECK(parse_compression("maximum").codec == Codec::Lzx);
  CHECK(parse_compression("max").codec == Codec::Lzx);
  CHECK(parse_compression("recovery").codec == Codec::Lzms);
  CHECK(parse_compression("lzma:9").level == 9);
  CHECK_THROWS_AS(parse_compression("zstd:0"), Error);
  CHECK_THROWS_AS(parse_compression("zstd:23"), Error);
  CHECK_THROWS_AS(parse_compression("bogus"), Error);
  CHECK_THROWS_AS(parse_compression("none:3"), Error);
  CHECK(valid_chunk_size(Codec::Zstd, 32768));
  CHECK(!valid_chunk_size(Codec::Zstd, 16384));
  CHECK(!valid_chunk_size(Codec::Lzx, 4u << 20));
  CHECK(valid_chunk_size(Codec::Xpress, 4096));
  CHECK(!valid_chunk_size(Codec::Zstd, 100000));
}
