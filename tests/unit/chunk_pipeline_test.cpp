// The chunk pipeline (src/compress/chunk_pipeline.hpp) and the resource
// writer (src/wim/resource_writer.hpp): order, bounded tokens, exceptions,
// chunk tables and the raw fallbacks, read back through the resource reader.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

#include "compress/chunk_pipeline.hpp"
#include "util/endian.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "wim/resource_reader.hpp"
#include "wim/resource_writer.hpp"

using namespace wp;
namespace fs = std::filesystem;

namespace {

std::atomic<int> g_live_tokens{0};

struct CountedToken {
  CountedToken() { g_live_tokens++; }
  ~CountedToken() { g_live_tokens--; }
  uint64_t seq = 0;
  Bytes in;
  uint64_t result = 0;
};

struct CountingContext {
  uint64_t uses = 0;
};

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

Bytes random_bytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  Bytes b(n);
  for (auto& c : b) c = uint8_t(rng());
  return b;
}

Bytes text_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& c : b) c = uint8_t("abcdefgh\n"[rng() % 9]);
  return b;
}

struct TempPath {
  fs::path path;
  TempPath() {
    char t[] = "/tmp/wimpack-pipeline-XXXXXX";
    path = fs::path(mkdtemp(t)) / "res.bin";
  }
  ~TempPath() { fs::remove_all(path.parent_path()); }
};

// An output file for a ResourceWriter test.
struct Out {
  TempPath tmp;
  int fd;
  OutputFile file;
  Out() : fd(::open(tmp.path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644)), file(fd, tmp.path.string(), 0) {}
  ~Out() { ::close(fd); }
  Bytes contents() {
    file.flush();
    InputFile in(tmp.path.string());
    return in.read_bytes(0, in.size(), "test output");
  }
};

// Writes `data` as one non-solid resource through the pipeline and the
// resource writer, as the archive writer does.
wim::ResHdr write_resource(OutputFile& out, ByteSpan data, Codec codec, uint32_t C, bool* reproduced = nullptr) {
  wim::ResourceWriter rw(out);
  rw.begin(data.size(), codec, C);
  struct Tok {
    ByteSpan in;
    Bytes out;
    size_t csize = 0;
  };
  ChunkPipeline<Tok, CompressContext> p(chunk_tokens(C));
  uint64_t pos = 0;
  p.run(
      [&](Tok& t) {
        if (pos >= data.size()) return false;
        t.in = data.subspan(pos, std::min<uint64_t>(C, data.size() - pos));
        pos += t.in.size();
        return true;
      },
      [&](Tok& t, CompressContext& ctx) { t.csize = compress_chunk(ctx.get(codec, 0, C), t.in, t.out); },
      [&](Tok& t) { rw.add_chunk(t.in, ByteSpan(t.out.data(), t.csize)); });
  return rw.end([&](const std::function<void(ByteSpan)>& put) {
    if (reproduced) *reproduced = true;
    for (uint64_t off = 0; off < data.size(); off += 100000) put(data.subspan(off, std::min<uint64_t>(100000, data.size() - off)));
  });
}

Bytes read_back(const fs::path& path, const wim::ResHdr& r, Codec codec, uint32_t C) {
  InputFile in(path.string());
  wim::Resource res;
  res.offset = r.offset;
  res.size_in_wim = r.size_in_wim;
  res.usize = r.usize;
  res.flags = r.flags;
  if (r.flags & wim::kResSolid) {
    res.solid = true;
    wim::read_solid_header(in, res);
  } else if (r.flags & wim::kResCompressed) {
    res.compressed = true;
    res.codec = codec;
    res.chunk_size = C;
  }
  return wim::read_resource(in, res);
}

}  // namespace

TEST_CASE("chunk pipeline: many chunks on several threads come out in order") {
  tbb::task_arena arena(4);  // more threads than the test machine may have cores
  arena.execute([] {
    constexpr uint64_t kChunks = 20000;
    ChunkPipeline<CountedToken, CountingContext> p(8);
    uint64_t next = 0, expect = 0;
    std::atomic<int> in_flight{0};
    int max_in_flight = 0;
    p.run(
        [&](CountedToken& t) {
          if (next == kChunks) return false;
          t.seq = next++;
          int now = ++in_flight;
          max_in_flight = std::max(max_in_flight, now);
          return true;
        },
        [&](CountedToken& t, CountingContext& ctx) {
          ctx.uses++;
          uint64_t x = t.seq;
          for (int i = 0; i < int(t.seq % 97) * 10; i++) x = mix(x);  // uneven work
          t.result = x;
        },
        [&](CountedToken& t) {
          CHECK(t.seq == expect);
          expect++;
          in_flight--;
        });
    CHECK(expect == kChunks);
    CHECK(max_in_flight <= 8);           // bounded: never more than the token limit in flight
    CHECK(p.tokens_created() <= 8);      // ... nor allocated
    CHECK(p.tokens_created() >= 1);
  });
  CHECK(g_live_tokens == 0);
}

TEST_CASE("chunk pipeline: an exception from any stage propagates, frees every token, and the pipeline runs again") {
  tbb::task_arena arena(4);
  arena.execute([] {
    for (int stage = 0; stage < 3; stage++) {
      CAPTURE(stage);
      {
        ChunkPipeline<CountedToken, CountingContext> p(6);
        uint64_t next = 0;
        auto produce = [&](CountedToken& t) {
          if (next == 5000) return false;
          t.seq = next++;
          t.in.resize(4096);  // something to free
          if (stage == 0 && t.seq == 1234) throw std::runtime_error("producer failed");
          return true;
        };
        auto transform = [&](CountedToken& t, CountingContext&) {
          if (stage == 1 && t.seq == 1234) fail(Errc::BadArchive, "transform failed");
        };
        auto consume = [&](CountedToken& t) {
          if (stage == 2 && t.seq == 1234) throw std::runtime_error("consumer failed");
        };
        if (stage == 1)
          CHECK_THROWS_AS(p.run(produce, transform, consume), Error);
        else
          CHECK_THROWS_AS(p.run(produce, transform, consume), std::runtime_error);
        CHECK(g_live_tokens <= 6);
        // Still usable after a cancelled run (e.g. the next solid resource).
        uint64_t n = 0, seen = 0;
        p.run([&](CountedToken& t) { return n < 100 ? (t.seq = n++, true) : false; }, [](CountedToken&, CountingContext&) {},
              [&](CountedToken& t) { CHECK(t.seq == seen++); });
        CHECK(seen == 100);
      }
      CHECK(g_live_tokens == 0);  // everything in flight when it failed was freed
    }
  });
}

TEST_CASE("chunk pipeline: the first failing chunk in order is reported, even when a later one fails first") {
  tbb::task_arena arena(4);
  arena.execute([] {
    for (int round = 0; round < 20; round++) {
      ChunkPipeline<CountedToken, CountingContext> p(8);
      uint64_t next = 0;
      std::atomic<bool> later_failed{false};
      std::string msg;
      try {
        p.run(
            [&](CountedToken& t) {
              if (next == 64) return false;
              t.seq = next++;
              return true;
            },
            [&](CountedToken& t, CountingContext&) {
              if (t.seq == 3) {
                // Fail only after chunk 5 has failed (bounded wait: chunk 5
                // may not be in flight if the pool is busy elsewhere).
                for (int i = 0; i < 2000 && !later_failed; i++) std::this_thread::sleep_for(std::chrono::microseconds(100));
                fail(Errc::BadArchive, "chunk 3");
              }
              if (t.seq == 5) {
                later_failed = true;
                fail(Errc::BadArchive, "chunk 5");
              }
            },
            [&](CountedToken& t) { CHECK(t.seq < 3); });
      } catch (const Error& e) {
        msg = e.what();
      }
      CHECK(msg.find("chunk 3") != std::string::npos);
    }
  });
  CHECK(g_live_tokens == 0);
}

TEST_CASE("chunk pipeline: token bound follows the chunk size") {
  CHECK(chunk_tokens(64ull << 20) == 2);  // 256 MiB of buffers / (2 x 64 MiB)
  CHECK(chunk_tokens(32768) >= 2);
  CHECK(chunk_tokens(32768) <= size_t(tbb::this_task_arena::max_concurrency()) * 4);
  CHECK(chunk_tokens(0) >= 2);
}

TEST_CASE("compress_chunk: raw when compression does not shrink the chunk") {
  auto c = make_compressor(Codec::Xpress, 0, 65536);
  Bytes out;
  Bytes noise = random_bytes(65536, 1);
  CHECK(compress_chunk(*c, noise, out) == 0);
  Bytes one{'x'};
  CHECK(compress_chunk(*c, one, out) == 0);
  Bytes text = text_bytes(65536, 2);
  size_t cs = compress_chunk(*c, text, out);
  CHECK(cs > 0);
  CHECK(cs < text.size());
}

TEST_CASE("resource writer: compressible data gets a chunk table and reads back") {
  for (Codec codec : {Codec::Xpress, Codec::Lzx, Codec::Zstd}) {
    for (size_t n : {size_t(1000), size_t(32768), size_t(200000), size_t(9u << 20) + 17}) {  // buffered and streamed
      CAPTURE(codec_name(codec));
      CAPTURE(n);
      Out o;
      o.file.write(Bytes(10, 0xEE));  // the resource does not start at 0
      Bytes data = text_bytes(n, unsigned(n));
      const uint32_t C = 32768;
      wim::ResHdr r = write_resource(o.file, data, codec, C);
      CHECK(r.offset == 10);
      CHECK(r.usize == n);
      CHECK(r.flags == wim::kResCompressed);
      CHECK(r.size_in_wim < n);
      Bytes file = o.contents();
      CHECK(file.size() == 10 + r.size_in_wim);
      // §4.2: N-1 four-byte entries; the first is chunk 1's start.
      uint64_t chunks = ceil_div(n, C);
      if (chunks > 1) {
        uint32_t first = load_le32(&file[10]);
        CHECK(first > 0);
        CHECK(first <= C);
      }
      CHECK(read_back(o.tmp.path, r, codec, C) == data);
    }
  }
}

TEST_CASE("resource writer: incompressible data is stored raw, without the COMPRESSED flag") {
  for (size_t n : {size_t(1), size_t(5000), size_t(3u << 20), size_t(9u << 20) + 5}) {  // buffered and streamed
    CAPTURE(n);
    Out o;
    Bytes data = random_bytes(n, unsigned(n));
    bool reproduced = false;
    wim::ResHdr r = write_resource(o.file, data, Codec::Lzx, 32768, &reproduced);
    CHECK(r.flags == 0);
    CHECK(r.size_in_wim == n);
    CHECK(!reproduced);  // every chunk raw: the data on disk is shifted, not read again
    CHECK(o.contents() == data);
    CHECK(o.file.offset() == n);  // the space of the table is gone
  }
}

TEST_CASE("resource writer: a streamed resource that does not shrink overall is rewritten raw from its source") {
  // Random data with one compressible chunk: that chunk saves less than the
  // chunk table costs, so the whole resource is stored raw.
  const uint32_t C = 32768;
  Bytes data = random_bytes(9u << 20, 7);
  for (size_t i = 0; i < 200; i++) data[C * 5 + i] = 0;
  Out o;
  bool reproduced = false;
  wim::ResHdr r = write_resource(o.file, data, Codec::Lzx, C, &reproduced);
  CHECK(reproduced);
  CHECK(r.flags == 0);
  CHECK(r.size_in_wim == data.size());
  CHECK(o.contents() == data);
}

TEST_CASE("resource writer: chunks encoded earlier (add_encoded_chunk) store what add_chunk stores") {
  const uint32_t C = 32768;
  // Random but for 200 zero bytes: one chunk compresses a little, the whole
  // does not, so the resource falls back to raw and needs `reproduce`.
  auto mixed = [&](size_t n, unsigned seed) {
    Bytes d = random_bytes(n, seed);
    for (size_t i = 0; i < 200; i++) d[C * 2 + i] = 0;
    return d;
  };
  struct Case {
    Bytes data;
    bool raw_fallback;
  };
  // In memory (up to 8 MiB) and streamed to the file.
  Case cases[] = {{text_bytes(3u << 20, 1), false}, {text_bytes((9u << 20) + 5, 2), false},
                  {mixed(3u << 20, 3), true}, {mixed(9u << 20, 4), true}};
  for (const Case& c : cases) {
    const Bytes& data = c.data;
    CAPTURE(data.size());
    Out a, b;
    wim::ResHdr ra = write_resource(a.file, data, Codec::Lzx, C);
    auto comp = make_compressor(Codec::Lzx, 0, C);
    wim::ResourceWriter rw(b.file);
    rw.begin(data.size(), Codec::Lzx, C);
    Bytes buf;
    for (size_t off = 0; off < data.size(); off += C) {
      ByteSpan chunk = ByteSpan(data).subspan(off, std::min<size_t>(C, data.size() - off));
      size_t cs = compress_chunk(*comp, chunk, buf);
      if (cs)
        rw.add_encoded_chunk(chunk.size(), ByteSpan(buf.data(), cs), true);
      else
        rw.add_encoded_chunk(chunk.size(), chunk, false);
    }
    bool reproduced = false;
    wim::ResHdr rb = rw.end([&](const std::function<void(ByteSpan)>& put) {
      reproduced = true;
      put(data);
    });
    CHECK(reproduced == c.raw_fallback);
    CHECK((ra.flags == 0) == c.raw_fallback);
    CHECK(rb.flags == ra.flags);
    CHECK(rb.size_in_wim == ra.size_in_wim);
    CHECK(b.contents() == a.contents());
    CHECK(read_back(b.tmp.path, rb, Codec::Lzx, C) == data);
  }
}

TEST_CASE("resource writer: Codec::None appends the data as it is") {
  Out o;
  Bytes data = text_bytes(3000000, 3);
  wim::ResourceWriter rw(o.file);
  rw.begin(data.size(), Codec::None, 0);
  for (size_t off = 0; off < data.size(); off += 1 << 20) rw.add_chunk(ByteSpan(data).subspan(off, std::min<size_t>(1 << 20, data.size() - off)), {});
  wim::ResHdr r = rw.end();
  CHECK(r.flags == 0);
  CHECK(r.size_in_wim == data.size());
  CHECK(o.contents() == data);
}

TEST_CASE("resource writer: a solid resource has its header and 4-byte compressed sizes") {
  const uint32_t C = 65536;
  Bytes data = text_bytes(200000, 4);
  Bytes noise = random_bytes(C, 5);
  std::copy(noise.begin(), noise.end(), data.begin() + C);  // chunk 1 stays raw
  Out o;
  wim::ResourceWriter rw(o.file);
  rw.begin_solid(data.size(), Codec::Xpress, C);
  auto comp = make_compressor(Codec::Xpress, 0, C);
  Bytes buf;
  std::vector<size_t> sizes;
  for (size_t off = 0; off < data.size(); off += C) {
    ByteSpan chunk = ByteSpan(data).subspan(off, std::min<size_t>(C, data.size() - off));
    size_t cs = compress_chunk(*comp, chunk, buf);
    sizes.push_back(cs ? cs : chunk.size());
    rw.add_chunk(chunk, ByteSpan(buf.data(), cs));
  }
  wim::ResHdr r = rw.end();
  CHECK(r.flags == wim::kResSolid);
  CHECK(r.usize == wim::kSolidResourceMagic);
  Bytes file = o.contents();
  REQUIRE(file.size() == r.size_in_wim);
  CHECK(load_le64(&file[0]) == data.size());
  CHECK(load_le32(&file[8]) == C);
  CHECK(load_le32(&file[12]) == wim::solid_format_for(Codec::Xpress));
  size_t sum = 0;
  for (size_t i = 0; i < sizes.size(); i++) {
    CHECK(load_le32(&file[16 + 4 * i]) == sizes[i]);
    sum += sizes[i];
  }
  CHECK(sizes[1] == C);  // the raw chunk
  CHECK(r.size_in_wim == 16 + 4 * sizes.size() + sum);
  CHECK(read_back(o.tmp.path, r, Codec::Xpress, C) == data);
}

TEST_CASE("resource writer: chunk table entries widen at 4 GiB") {
  // §4.2 [V]: a 4294967297-byte file has 8-byte entries; 4 GiB - 1 has 4.
  CHECK(wim::chunk_entry_size(0xFFFFFFFFull) == 4);
  CHECK(wim::chunk_entry_size(0x100000000ull) == 8);
  CHECK(wim::chunk_entry_size(0x100000001ull) == 8);
  CHECK(wim::chunk_entry_size(1) == 4);
}

TEST_CASE("resource writer: ending a resource before all of its data is an internal error") {
  Out o;
  wim::ResourceWriter rw(o.file);
  rw.begin(100000, Codec::Xpress, 32768);
  Bytes chunk = text_bytes(32768, 6);
  rw.add_chunk(chunk, {});
  CHECK_THROWS_AS(rw.end(), Error);
}
