// ArchiveBlobSource (src/wim/archive_blob_source.hpp): blobs read out of an
// archive, inline or decoded ahead on a dedicated thread through the chunk
// pipeline; early destruction, corrupt chunks, solid resources, and the
// writer pulling from it inside its own pipeline.
#include <doctest/doctest.h>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "util/error.hpp"
#include "util/file.hpp"
#include "util/sha1.hpp"
#include "wim/archive.hpp"
#include "wim/archive_blob_source.hpp"
#include "wim/archive_writer.hpp"

using namespace wp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/wimpack-abs-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Restores the read-ahead threshold at the end of a test.
struct MinBytes {
  uint64_t saved = wim::archive_readahead_min_bytes();
  explicit MinBytes(uint64_t v) { wim::set_archive_readahead_min_bytes(v); }
  ~MinBytes() { wim::set_archive_readahead_min_bytes(saved); }
};

Bytes make_data(size_t n, unsigned seed, int kind) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; i++)
    b[i] = kind == 0 ? uint8_t("abcdefgh\n"[rng() % 9]) : kind == 1 ? uint8_t(rng()) : uint8_t(i % 251 ^ (i >> 12));
  return b;
}

struct Built {
  image::Image img;
  std::vector<std::unique_ptr<wim::BlobSource>> sources;
  std::vector<Bytes> contents;
  std::vector<Sha1> hashes;
};

Built build_image(const std::vector<Bytes>& contents) {
  Built b;
  for (size_t i = 0; i < contents.size(); i++) {
    image::Inode* ino = b.img.new_inode();
    ino->attributes = image::kAttrNormal;
    image::Stream s;
    s.size = contents[i].size();
    s.source = uint32_t(b.sources.size());
    b.sources.push_back(std::make_unique<wim::MemoryBlobSource>(contents[i], "f" + std::to_string(i) + ".txt"));
    ino->streams.push_back(s);
    b.img.add_child(b.img.root(), "f" + std::to_string(i), ino);
    b.hashes.push_back(sha1_of(contents[i]));
  }
  b.contents = contents;
  return b;
}

std::string write_archive(const fs::path& path, Built& b, const wim::WriterOptions& wo) {
  TempFile tmp(path.string());
  OutputFile out(tmp.fd(), tmp.temp_path(), 0);
  wim::ArchiveWriter w(out, wo);
  w.add_image(b.img, b.sources, "test");
  w.finish();
  tmp.commit();
  return path.string();
}

// Blobs of many chunks (32 KiB chunks), of several kinds, and small ones.
std::vector<Bytes> sample_contents() {
  return {make_data(1 << 20, 1, 0), make_data(300000, 2, 1), make_data(5000, 3, 0), make_data(777777, 4, 2),
          make_data(40000, 5, 0),   make_data(2 << 20, 6, 2), make_data(1, 7, 0)};
}

Bytes read_all(const wim::Archive& a, const Sha1& h, size_t bufsize) {
  wim::ArchiveBlobSource s(a, *a.find_blob(h), h);
  auto st = s.open();
  Bytes buf(bufsize), all;
  size_t k;
  while ((k = st->read(buf)) != 0) all.insert(all.end(), buf.begin(), buf.begin() + ptrdiff_t(k));
  return all;
}

std::string error_of(const std::function<void()>& f, Errc* code = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("archive blob source: multi-chunk blobs read ahead give the same bytes, non-solid and solid") {
  TempDir dir;
  Built b = build_image(sample_contents());
  wim::WriterOptions lzx;
  lzx.compression = {Codec::Lzx, 0};
  wim::WriterOptions solid;
  solid.compression = {Codec::Xpress, 0};
  solid.solid = true;
  solid.solid_compression = {Codec::Xpress, 0};
  solid.solid_chunk_size = 1 << 16;  // blobs start and end inside chunks
  wim::WriterOptions none;
  none.compression = {Codec::None, 0};
  int n = 0;
  for (const auto* wo : {&lzx, &solid, &none}) {
    CAPTURE(n);
    std::string p = write_archive(dir.path / ("t" + std::to_string(n++) + ".wim"), b, *wo);
    auto a = wim::Archive::open(p);
    for (uint64_t min : {uint64_t(1), uint64_t(256 << 10), UINT64_MAX}) {
      CAPTURE(min);
      MinBytes mb(min);
      uint64_t before = wim::archive_readaheads_started();
      // In order (a solid chunk shared by consecutive blobs), then backwards.
      for (size_t i = 0; i < b.contents.size(); i++) CHECK(read_all(*a, b.hashes[i], 7777) == b.contents[i]);
      for (size_t i = b.contents.size(); i-- > 0;) CHECK(read_all(*a, b.hashes[i], 1 << 16) == b.contents[i]);
      if (min == UINT64_MAX) CHECK(wim::archive_readaheads_started() == before);
      else CHECK(wim::archive_readaheads_started() > before);
      CHECK(wim::archive_readaheads_active() == 0);
    }
  }
}

TEST_CASE("archive blob source: a stream destroyed mid-blob stops its decoder at once") {
  TempDir dir;
  Built b = build_image({make_data(8 << 20, 1, 0), make_data(4 << 20, 2, 2)});
  wim::WriterOptions wo;
  wo.compression = {Codec::Lzx, 0};
  auto a = wim::Archive::open(write_archive(dir.path / "t.wim", b, wo));
  MinBytes mb(1);
  auto t0 = std::chrono::steady_clock::now();
  for (int round = 0; round < 20; round++) {
    wim::ArchiveBlobSource s(*a, *a->find_blob(b.hashes[round % 2]), b.hashes[round % 2]);
    auto st = s.open();
    Bytes buf(size_t(round * 10007 % 100000 + 1));
    const Bytes& want = b.contents[round % 2];
    if (round % 4 != 0) {
      CHECK(st->read(buf) == buf.size());
      CHECK(buf == Bytes(want.begin(), want.begin() + ptrdiff_t(buf.size())));
    }
    if (round % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let the queue fill up
    st.reset();
    CHECK(wim::archive_readaheads_active() == 0);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(secs < 10.0);
}

TEST_CASE("archive blob source: at most kMaxReadAheads streams read ahead at once; the others decode inline") {
  TempDir dir;
  Built b = build_image({make_data(1 << 20, 1, 0), make_data(1 << 20, 2, 2), make_data(1 << 20, 3, 0), make_data(1 << 20, 4, 1)});
  wim::WriterOptions wo;
  wo.compression = {Codec::Xpress, 0};
  auto a = wim::Archive::open(write_archive(dir.path / "t.wim", b, wo));
  MinBytes mb(1);
  std::vector<std::unique_ptr<wim::ArchiveBlobSource>> srcs;
  std::vector<std::unique_ptr<wim::BlobStream>> sts;
  std::vector<Bytes> got(4);
  for (size_t i = 0; i < 4; i++) {
    srcs.push_back(std::make_unique<wim::ArchiveBlobSource>(*a, *a->find_blob(b.hashes[i]), b.hashes[i]));
    sts.push_back(srcs.back()->open());
  }
  // Interleaved reads.
  Bytes buf(50000);
  for (bool more = true; more;) {
    more = false;
    for (size_t i = 0; i < 4; i++) {
      size_t k = sts[i]->read(buf);
      got[i].insert(got[i].end(), buf.begin(), buf.begin() + ptrdiff_t(k));
      more |= k != 0;
      CHECK(wim::archive_readaheads_active() <= wim::kMaxReadAheads);
    }
  }
  for (size_t i = 0; i < 4; i++) CHECK(got[i] == b.contents[i]);
  sts.clear();
  CHECK(wim::archive_readaheads_active() == 0);
}

TEST_CASE("archive blob source: a corrupt chunk fails with the same error whether read ahead or inline") {
  TempDir dir;
  Built b = build_image({make_data(1 << 20, 1, 0)});
  wim::WriterOptions wo;
  wo.compression = {Codec::Lzx, 0};
  std::string p = write_archive(dir.path / "t.wim", b, wo);
  Bytes m;
  {
    auto a = wim::Archive::open(p);
    const wim::Resource& r = a->resources()[a->find_blob(b.hashes[0])->resource];
    REQUIRE(r.compressed);
    InputFile f(p);
    m = f.read_bytes(0, f.size(), "all");
    // Trash the middle of the compressed data (past the chunk table).
    for (uint64_t i = 0; i < 4096; i++) m[r.offset + r.size_in_wim / 2 + i] = uint8_t(i * 37);
  }
  std::string q = (dir.path / "bad.wim").string();
  std::ofstream(q, std::ios::binary).write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size()));
  auto a = wim::Archive::open(q);
  std::string msgs[2];
  for (int ahead = 0; ahead < 2; ahead++) {
    MinBytes mb(ahead ? 1 : UINT64_MAX);
    Errc c = Errc::Failure;
    msgs[ahead] = error_of([&] { read_all(*a, b.hashes[0], 1 << 16); }, &c);
    CHECK(c == Errc::BadArchive);
    CHECK(wim::archive_readaheads_active() == 0);
  }
  CHECK(!msgs[0].empty());
  CHECK(msgs[0] == msgs[1]);
  // Stopping before the corrupt chunk: no error, no hang.
  MinBytes mb(1);
  wim::ArchiveBlobSource s(*a, *a->find_blob(b.hashes[0]), b.hashes[0]);
  auto st = s.open();
  Bytes buf(1000);
  CHECK(st->read(buf) == buf.size());
  st.reset();
  CHECK(wim::archive_readaheads_active() == 0);
}

TEST_CASE("archive blob source: the writer recompresses from it in its own pipeline, even on one thread") {
  TempDir dir;
  Built b = build_image(sample_contents());
  wim::WriterOptions lzx;
  lzx.compression = {Codec::Lzx, 0};
  auto a = wim::Archive::open(write_archive(dir.path / "src.wim", b, lzx));
  MinBytes mb(1);
  for (int threads : {1, 2}) {
    for (bool solid : {false, true}) {
      CAPTURE(threads);
      CAPTURE(solid);
      Built c = build_image(b.contents);
      for (size_t i = 0; i < c.sources.size(); i++)
        c.sources[i] = std::make_unique<wim::ArchiveBlobSource>(*a, *a->find_blob(b.hashes[i]), b.hashes[i]);
      wim::WriterOptions xp;
      xp.compression = {Codec::Xpress, 0};
      xp.solid = solid;
      xp.solid_compression = {Codec::Xpress, 0};
      fs::path out = dir.path / ("out" + std::to_string(threads) + (solid ? "s" : "") + ".wim");
      tbb::task_arena arena(threads);
      arena.execute([&] { write_archive(out, c, xp); });
      auto o = wim::Archive::open(out.string());
      for (size_t i = 0; i < b.contents.size(); i++) CHECK(read_all(*o, b.hashes[i], 1 << 20) == b.contents[i]);
      CHECK(wim::archive_readaheads_active() == 0);
    }
  }
}
