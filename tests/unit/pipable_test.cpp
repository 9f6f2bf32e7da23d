// Pipable WIMs (wim-format.md §12): the §12.3 chunk layout with honest and
// hostile sizes, the blob header, and the pipe reader's first steps on bad
// input (errors, never crashes or huge allocations).
#include <doctest/doctest.h>

#include <cstdio>

#include "util/error.hpp"
#include "wim/pipable.hpp"
#include "wim/pipe_reader.hpp"

using namespace wp;
using namespace wp::wim;

namespace {

Bytes table32(std::initializer_list<uint32_t> v) {
  Bytes b;
  for (uint32_t x : v) b.insert(b.end(), {uint8_t(x), uint8_t(x >> 8), uint8_t(x >> 16), uint8_t(x >> 24)});
  return b;
}

bool bad(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code() == Errc::BadArchive;
  }
  return false;
}

}  // namespace

TEST_CASE("pipable layout: chunk i at offset + 4(i+1) + table_offset[i], table at the end (§12.3)") {
  // 100000 bytes in 32 KiB chunks: 4 chunks of 100, 150, 150, 100 bytes.
  Bytes t = table32({100, 250, 400});
  uint64_t size = 4 * 4 + 500 + 12;
  auto l = pipable_chunk_layout(1000, size, 100000, 32768, t, "x");
  REQUIRE(l.size() == 4);
  CHECK(l[0].file_offset == 1004);
  CHECK(l[1].file_offset == 1000 + 8 + 100);
  CHECK(l[2].file_offset == 1000 + 12 + 250);
  CHECK(l[3].file_offset == 1000 + 16 + 400);
  CHECK(l[0].csize == 100);
  CHECK(l[1].csize == 150);
  CHECK(l[3].csize == 100);
  CHECK(l[3].usize == 100000 - 3 * 32768);
  CHECK(l[2].uoffset == 2 * 32768);
  CHECK(!l[0].raw);
  // A chunk that did not shrink is stored raw (csize == usize).
  auto r = pipable_chunk_layout(0, 4 + 10, 10, 32768, {}, "x");
  REQUIRE(r.size() == 1);
  CHECK(r[0].raw);
  CHECK(r[0].file_offset == 4);
  CHECK(pipable_chunk_layout(0, 0, 0, 32768, {}, "x").empty());
}

TEST_CASE("pipable layout: 8-byte table entries from 4 GiB on") {
  uint64_t usize = 5ull << 30, C = 1u << 30;  // 5 chunks of 1 GiB
  Bytes t;
  for (uint64_t off : {10ull, 20ull, 30ull, 40ull})
    for (int k = 0; k < 8; k++) t.push_back(uint8_t(off >> (8 * k)));
  auto l = pipable_chunk_layout(0, 5 * 4 + 50 + 32, usize, uint32_t(C), t, "x");
  REQUIRE(l.size() == 5);
  CHECK(l[4].file_offset == 20 + 40);
  CHECK(l[4].csize == 10);
}

TEST_CASE("pipable layout: hostile sizes and offsets are errors") {
  // More chunks than the bytes can hold (each needs 4 + 1 bytes), near 2^64.
  CHECK(bad([] { pipable_chunk_layout(0, 100, ~0ull, 32768, {}, "x"); }));
  CHECK(bad([] { pipable_chunk_layout(0, 100, 1ull << 40, 32768, {}, "x"); }));
  CHECK(bad([] { pipable_chunk_layout(0, 4 + 10, 10, 0, {}, "x"); }));  // zero chunk size
  const uint64_t size = 4 * 4 + 500 + 12;
  CHECK(bad([&] { pipable_chunk_layout(0, size, 100000, 32768, table32({250, 100, 400}), "x"); }));  // decreasing
  CHECK(bad([&] { pipable_chunk_layout(0, size, 100000, 32768, table32({100, 250, 501}), "x"); }));  // past the data
  CHECK(bad([&] { pipable_chunk_layout(0, size, 100000, 32768, table32({100, 100, 400}), "x"); }));  // empty chunk
  CHECK(bad([&] { pipable_chunk_layout(0, size, 100000, 32768, table32({100, 250}), "x"); }));       // short table
  // A chunk claiming more compressed bytes than its uncompressed size.
  CHECK(bad([] { pipable_chunk_layout(0, 4 + 11, 10, 32768, {}, "x"); }));
  CHECK(bad([&] { pipable_chunk_layout(~0ull - 10, size, 100000, 32768, table32({100, 250, 400}), "x"); }));  // wraps
}

TEST_CASE("pipable blob header: magic, size, hash, flags (§12.2)") {
  Bytes b(40);
  store_le64(b.data(), kPipableBlobMagic);
  store_le64(&b[8], 12345);
  b[16] = 0xAB;
  store_le32(&b[36], kResCompressed);
  auto h = decode_pipable_blob_header(b);
  REQUIRE(h);
  CHECK(h->usize == 12345);
  CHECK(h->hash.bytes[0] == 0xAB);
  CHECK(h->flags == kResCompressed);
  b[0] ^= 1;
  CHECK(!decode_pipable_blob_header(b));
  CHECK(!decode_pipable_blob_header(ByteSpan(b.data(), 39)));
}

namespace {

// A PipeReader over `data` (a temporary file read sequentially, like a pipe).
void open_pipe(const Bytes& data) {
  FILE* f = std::tmpfile();
  REQUIRE(f);
  if (!data.empty()) std::fwrite(data.data(), 1, data.size(), f);  // data() may be null when empty
  std::rewind(f);
  try {
    PipeReader r(fileno(f), "test input");
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
}

Bytes pipable_header() {
  Header h;
  h.pipable = true;
  h.flags = header_flags_for(Codec::Lzx);
  h.chunk_size = 32768;
  h.image_count = 1;
  Bytes b(kHeaderSize);
  encode_header(h, b.data());
  return b;
}

}  // namespace

TEST_CASE("pipe reader: empty, garbage, truncated and lying input are errors") {
  CHECK(bad([] { open_pipe({}); }));
  CHECK(bad([] { open_pipe(Bytes(5000, 0x42)); }));
  Bytes h = pipable_header();
  CHECK(bad([&] { open_pipe(Bytes(h.begin(), h.begin() + 100)); }));  // truncated header
  CHECK(bad([&] { open_pipe(h); }));                                  // ends before the XML
  // An XML copy claiming 2^60 bytes: refused before any allocation.
  Bytes x = h;
  x.resize(kHeaderSize + 40);
  store_le64(&x[kHeaderSize], kPipableBlobMagic);
  store_le64(&x[kHeaderSize + 8], 1ull << 60);
  store_le32(&x[kHeaderSize + 36], kResMetadata);
  CHECK(bad([&] { open_pipe(x); }));
  // A plausible size, but the data ends early.
  store_le64(&x[kHeaderSize + 8], 1000);
  CHECK(bad([&] { open_pipe(x); }));
  // Part 2 first.
  Bytes p2 = h;
  store_le16(&p2[0x28], 2);
  store_le16(&p2[0x2A], 2);
  CHECK(bad([&] { open_pipe(p2); }));
}
