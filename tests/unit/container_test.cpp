// The container layer: header, blob table, XML, integrity table, and the
// writer → reader round trip through the chunk pipeline (non-solid and solid).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "util/error.hpp"
#include "util/file.hpp"
#include "wim/archive.hpp"
#include "wim/archive_update.hpp"
#include "wim/archive_writer.hpp"
#include "wim/integrity.hpp"
#include "wim/resource_reader.hpp"

using namespace wp;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char t[] = "/tmp/wimpack-test-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
};

Bytes make_data(size_t n, unsigned seed, bool compressible) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (size_t i = 0; i < n; i++) b[i] = compressible ? uint8_t("abcdefgh\n"[(rng() % 9)]) : uint8_t(rng());
  return b;
}

// Builds an image whose root holds one file per blob, all from memory.
struct Built {
  image::Image img;
  std::vector<std::unique_ptr<wim::BlobSource>> sources;
  std::vector<Bytes> contents;
};

Built build_image(const std::vector<Bytes>& contents) {
  Built b;
  for (size_t i = 0; i < contents.size(); i++) {
    image::Inode* ino = b.img.new_inode();
    ino->attributes = image::kAttrNormal;
    image::Stream s;
    s.size = contents[i].size();
    if (!contents[i].empty()) {
      s.source = uint32_t(b.sources.size());
      b.sources.push_back(std::make_unique<wim::MemoryBlobSource>(contents[i], "f" + std::to_string(i) + ".txt"));
    }
    ino->streams.push_back(s);
    b.img.add_child(b.img.root(), "f" + std::to_string(i), ino);
  }
  b.contents = contents;
  return b;
}

std::string write_archive(const fs::path& dir, Built& b, const wim::WriterOptions& wo) {
  std::string path = (dir / "t.wim").string();
  TempFile tmp(path);
  OutputFile out(tmp.fd(), tmp.temp_path(), 0);
  wim::ArchiveWriter w(out, wo);
  w.add_image(b.img, b.sources, "test");
  w.finish();
  tmp.commit();
  return path;
}

Bytes read_blob(const wim::Archive& a, const Sha1& h) {
  const wim::BlobLocation* loc = a.find_blob(h);
  if (!loc) fail(Errc::NotFound, "blob missing");
  Bytes out;
  std::vector<wim::Resource> res{a.resources()[loc->resource]};
  wim::stream_resources(a.file(), res, [&](size_t, uint64_t off, ByteSpan d) {
    for (size_t i = 0; i < d.size(); i++)
      if (off + i >= loc->offset && off + i < loc->offset + loc->size) out.push_back(d[i]);
  });
  return out;
}

void check_round_trip(const wim::WriterOptions& wo, const std::vector<Bytes>& contents) {
  TempDir dir;
  Built b = build_image(contents);
  std::string path = write_archive(dir.path, b, wo);
  auto a = wim::Archive::open(path);
  REQUIRE(a->image_count() == 1);
  image::Image img = a->load_image(1);
  for (size_t i = 0; i < contents.size(); i++) {
    image::Dentry* d = img.lookup("/f" + std::to_string(i));
    REQUIRE(d);
    const image::Stream* s = d->inode->unnamed_data();
    if (contents[i].empty()) {
      CHECK((!s || s->hash.is_zero()));
      continue;
    }
    REQUIRE(s);
    CHECK(s->hash == sha1_of(contents[i]));
    CHECK(read_blob(*a, s->hash) == contents[i]);
  }
}

}  // namespace

TEST_CASE("container: header encode/decode round trip and validation") {
  wim::Header h;
  h.flags = wim::header_flags_for(Codec::Zstd) | wim::kHdrRpFix;
  h.chunk_size = 131072;
  h.guid = wim::random_guid();
  h.image_count = 2;
  h.blob_table = {100, wim::kResMetadata, 1000, 100};
  h.xml = {50, wim::kResMetadata, 1100, 50};
  h.boot_index = 2;
  uint8_t b[wim::kHeaderSize];
  wim::encode_header(h, b);
  CHECK(std::memcmp(b, "MSWIM\0\0\0", 8) == 0);
  CHECK(load_le32(b + 0x10) == 0x400082);
  std::vector<std::string> warnings;
  wim::Header d = wim::decode_header({b, sizeof b}, 5000, "x", &warnings);
  CHECK(d.flags == h.flags);
  CHECK(d.guid == h.guid);
  CHECK(d.codec() == Codec::Zstd);
  CHECK(d.xml.offset == 1100);
  CHECK(d.boot_index == 2);

  // Tables past the end of the file are refused (truncated archive).
  CHECK_THROWS_AS(wim::decode_header({b, sizeof b}, 1050, "x", nullptr), Error);
  // Bad magic, size, version.
  Bytes bad(b, b + sizeof b);
  bad[0] = 'X';
  CHECK_THROWS_AS(wim::decode_header(bad, 5000, "x", nullptr), Error);
  bad.assign(b, b + sizeof b);
  store_le32(&bad[0x0C], 0x10C00);
  CHECK_THROWS_AS(wim::decode_header(bad, 5000, "x", nullptr), Error);
  // zstd with a chunk size it does not allow.
  bad.assign(b, b + sizeof b);
  store_le32(&bad[0x14], 1000);
  CHECK_THROWS_AS(wim::decode_header(bad, 5000, "x", nullptr), Error);
  // An incomplete WIM (crash before the final header).
  bad.assign(b, b + sizeof b);
  std::memset(&bad[0x30], 0, 48);
  CHECK_THROWS_AS(wim::decode_header(bad, 5000, "x", nullptr), Error);
}

TEST_CASE("container: codec resolution from header flags follows wim-format.md 2.2") {
  using namespace wim;
  CHECK(codec_from_header_flags(0x80, "x") == Codec::None);
  CHECK(codec_from_header_flags(kHdrCompression | kHdrLzx | kHdrXpress, "x") == Codec::Lzx);
  CHECK(codec_from_header_flags(kHdrCompression | kHdrXpress2, "x") == Codec::Xpress);
  CHECK(codec_from_header_flags(kHdrCompression | kHdrLzms, "x") == Codec::Lzms);
  CHECK(codec_from_header_flags(kHdrCompression | kHdrZstd, "x") == Codec::Zstd);
  CHECK(codec_from_header_flags(kHdrCompression | kHdrLzma, "x") == Codec::Lzma);
  CHECK_THROWS_AS(codec_from_header_flags(kHdrCompression, "x"), Error);
  CHECK_THROWS_AS(codec_from_header_flags(kHdrCompression | kHdrZstd | kHdrLzx, "x"), Error);
  CHECK_THROWS_AS(codec_from_header_flags(kHdrCompression | kHdrZstd | kHdrLzma, "x"), Error);
}

TEST_CASE("container: XML is UTF-16LE with BOM, no declaration, TOTALBYTES last") {
  wim::XmlInfo x;
  size_t i = x.add_image("n\xC3\xA4me <&>", 0x01DD7ADFA7BD695Cull);
  image::ImageStats st{1, 2, 3, 4};
  x.set_stats(i, st, 0x01DD7ADFA7BD77A8ull);
  x.set(i, "DESCRIPTION", "d");
  Bytes enc = x.encode(562);
  REQUIRE(enc.size() > 4);
  CHECK(enc[0] == 0xFF);
  CHECK(enc[1] == 0xFE);
  wim::XmlInfo back = wim::XmlInfo::parse(enc, "x");
  std::string s = back.to_utf8();
  CHECK(s.find("<?xml") == std::string::npos);
  CHECK(s.rfind("<TOTALBYTES>562</TOTALBYTES></WIM>") == s.size() - 34);
  CHECK(s.find("<HIGHPART>0x01DD7ADF</HIGHPART><LOWPART>0xA7BD695C</LOWPART>") != std::string::npos);
  CHECK(back.get(1, "NAME") == "n\xC3\xA4me <&>");
  CHECK(back.get(1, "FILECOUNT") == "2");
  CHECK(back.get_time(1, "LASTMODIFICATIONTIME") == 0x01DD7ADFA7BD77A8ull);
  CHECK(back.find_by_name("d") == 0);

  auto utf16 = [](const std::string& t) {
    Bytes b = {0xFF, 0xFE};
    for (char c : t) b.push_back(uint8_t(c)), b.push_back(0);
    return b;
  };
  CHECK_THROWS_AS(wim::XmlInfo::parse(utf16("<WIM><IMAGE INDEX=\"2\"></IMAGE></WIM>"), "x"), Error);
  CHECK_THROWS_AS(wim::XmlInfo::parse(utf16("<NOTWIM></NOTWIM>"), "x"), Error);
  CHECK_THROWS_AS(wim::XmlInfo::parse(utf16("<WIM><IMAGE INDEX=\"1\">"), "x"), Error);
  CHECK(wim::XmlInfo::parse(utf16("<WIM><IMAGE INDEX=\"2\"/><IMAGE INDEX=\"1\"/></WIM>"), "x").image_count() == 2);
}

TEST_CASE("container: chunked resources round trip for every codec and chunk size") {
  std::vector<Bytes> contents;
  for (size_t n : {size_t(0), size_t(1), size_t(4095), size_t(32768), size_t(32769), size_t(200000)})
    contents.push_back(make_data(n, unsigned(n), true));
  contents.push_back(make_data(100000, 3, false));  // incompressible: must be stored raw
  contents.push_back(contents[3]);                  // a duplicate
  for (Codec c : {Codec::None, Codec::Zstd, Codec::Lzma}) {
    std::vector<uint32_t> chunks = c == Codec::None ? std::vector<uint32_t>{0} : std::vector<uint32_t>{32768, 65536, 1u << 20};
    for (uint32_t chunk : chunks) {
      CAPTURE(codec_name(c));
      CAPTURE(chunk);
      wim::WriterOptions wo;
      wo.compression = {c, 0};
      wo.chunk_size = chunk;
      check_round_trip(wo, contents);
    }
  }
}

TEST_CASE("container: solid resources round trip, including several resources") {
  std::vector<Bytes> contents;
  for (int i = 0; i < 40; i++) contents.push_back(make_data(size_t(1000 + i * 3001), unsigned(i), i % 3 != 0));
  contents.push_back(Bytes());
  contents.push_back(contents[5]);
  for (Codec c : {Codec::Zstd, Codec::Lzma}) {
    wim::WriterOptions wo;
    wo.compression = {Codec::None, 0};
    wo.solid = true;
    wo.solid_compression = {c, 0};
    wo.solid_chunk_size = 32768;
    check_round_trip(wo, contents);
    // Several solid resources in one run: blobs are located through the
    // run's single logical offset space (wim-format.md §5.2).
    wo.solid_resource_size = 100000;
    check_round_trip(wo, contents);
  }
}

TEST_CASE("container: a large solid capture is split into several solid resources") {
  std::vector<Bytes> contents;
  for (int i = 0; i < 12; i++) contents.push_back(make_data(50000, unsigned(100 + i), true));
  Built b = build_image(contents);
  TempDir dir;
  wim::WriterOptions wo;
  wo.compression = {Codec::None, 0};
  wo.solid = true;
  wo.solid_compression = {Codec::Zstd, 0};
  wo.solid_chunk_size = 32768;
  wo.solid_resource_size = 120000;
  auto a = wim::Archive::open(write_archive(dir.path, b, wo));
  size_t solid_resources = 0;
  for (const auto& r : a->resources()) solid_resources += r.solid;
  CHECK(solid_resources == 6);  // 12 blobs of 50000 bytes, 2 per resource (3 would exceed 120000)
  CHECK(a->header().version == wim::kVersionSolid);
}

TEST_CASE("container: a compressed resource that does not shrink is stored raw") {
  TempDir dir;
  Built b = build_image({make_data(300000, 9, false)});
  wim::WriterOptions wo;
  wo.compression = {Codec::Zstd, 0};
  wo.chunk_size = 32768;
  auto a = wim::Archive::open(write_archive(dir.path, b, wo));
  for (const auto& e : a->entries())
    if (!(e.reshdr.flags & wim::kResMetadata)) {
      CHECK(e.reshdr.flags == 0);
      CHECK(e.reshdr.size_in_wim == e.reshdr.usize);
    }
}

TEST_CASE("container: truncated and corrupted archives fail cleanly") {
  TempDir dir;
  Built b = build_image({make_data(70000, 1, true), make_data(5000, 2, true)});
  wim::WriterOptions wo;
  wo.compression = {Codec::Zstd, 0};
  wo.chunk_size = 32768;
  std::string path = write_archive(dir.path, b, wo);
  Bytes whole;
  {
    std::ifstream f(path, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::string cut = (dir.path / "cut.wim").string();
  auto load_everything = [&](const std::string& p) {
    auto a = wim::Archive::open(p);
    image::Image img = a->load_image(1);
    for (const auto& ino : img.inodes())
      for (const auto& s : ino.streams)
        if (!s.hash.is_zero()) {
          Bytes d = read_blob(*a, s.hash);
          if (sha1_of(d) != s.hash) fail(Errc::BadArchive, "hash mismatch");
        }
  };
  for (size_t len = 0; len < whole.size(); len += 97) {
    std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(whole.data()), std::streamsize(len));
    CAPTURE(len);
    CHECK_THROWS_AS(load_everything(cut), Error);
  }
  // Flipping bytes anywhere after the header either fails cleanly or is in
  // bytes nobody reads (padding, XML text); it never crashes.
  std::mt19937 rng(5);
  int failures = 0;
  for (int i = 0; i < 200; i++) {
    Bytes m = whole;
    m[208 + rng() % (m.size() - 208)] ^= uint8_t(1 + rng() % 255);
    std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size()));
    try {
      load_everything(cut);
    } catch (const Error&) {
      failures++;
    }
  }
  CHECK(failures > 100);
}

TEST_CASE("container: integrity table detects a changed byte") {
  TempDir dir;
  Built b = build_image({make_data(50000, 4, true)});
  wim::WriterOptions wo;
  wo.compression = {Codec::None, 0};
  wo.integrity = true;
  std::string path = write_archive(dir.path, b, wo);
  {
    auto a = wim::Archive::open(path, true);
    CHECK(a->has_integrity());
  }
  int fd = ::open(path.c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  uint8_t x;
  REQUIRE(::pread(fd, &x, 1, 300) == 1);
  x ^= 0x55;
  REQUIRE(::pwrite(fd, &x, 1, 300) == 1);
  ::close(fd);
  CHECK_THROWS_AS(wim::Archive::open(path, true), Error);
}

TEST_CASE("container: decodes an archive written by wimlib-imagex") {
  if (std::system("command -v wimlib-imagex >/dev/null 2>&1") != 0) {
    MESSAGE("wimlib-imagex not installed; skipped");
    return;
  }
  TempDir dir;
  fs::create_directories(dir.path / "src" / "sub");
  std::ofstream(dir.path / "src" / "a.txt") << "hello\n";
  std::ofstream(dir.path / "src" / "sub" / "b.txt") << std::string(100000, 'b');
  std::string wimp = (dir.path / "w.wim").string();
  std::string cmd = "wimlib-imagex capture '" + (dir.path / "src").string() + "' '" + wimp + "' --compress=none --check >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  auto a = wim::Archive::open(wimp, true);
  CHECK(a->header().flags == 0x80);
  CHECK(a->header().version == 0x10D00);
  CHECK(a->image_count() == 1);
  CHECK(a->xml().get(1, "NAME") == "src");
  image::Image img = a->load_image(1);
  image::Dentry* d = img.lookup("/sub/b.txt");
  REQUIRE(d);
  CHECK(d->inode->unnamed_data()->size == 100000);
  CHECK(read_blob(*a, d->inode->unnamed_data()->hash) == Bytes(100000, 'b'));
  CHECK(img.stats().dir_count == 2);
}

namespace {

// Writes one archive holding an image per content list; returns its path.
std::string write_images(const fs::path& dir, const std::string& name, const std::vector<std::vector<Bytes>>& images,
                         const wim::WriterOptions& wo, uint32_t boot = 0) {
  std::string path = (dir / name).string();
  TempFile tmp(path);
  OutputFile out(tmp.fd(), tmp.temp_path(), 0);
  wim::ArchiveWriter w(out, wo);
  std::vector<Built> built;
  for (size_t i = 0; i < images.size(); i++) {
    built.push_back(build_image(images[i]));
    w.add_image(built.back().img, built.back().sources, "img" + std::to_string(i + 1));
  }
  w.header().boot_index = boot;
  w.finish();
  tmp.commit();
  return path;
}

uint32_t refcnt_of(const wim::Archive& a, const Bytes& content) {
  for (const auto& e : a.entries())
    if (e.hash == sha1_of(content)) return e.refcnt;
  return UINT32_MAX;
}

}  // namespace

TEST_CASE("container: remove_image in place renumbers, fixes the boot index and lowers refcounts") {
  TempDir dir;
  Bytes x = make_data(5000, 1, true), y = make_data(6000, 2, true), z = make_data(7000, 3, true);
  wim::WriterOptions wo;
  wo.compression = {Codec::Zstd, 0};
  std::string path = write_images(dir.path, "r.wim", {{x, y}, {y, z}, {z}}, wo, /*boot=*/2);
  uint64_t before = fs::file_size(path);
  {
    auto u = wim::ArchiveUpdate::open(path);
    wim::ArchiveWriter& w = u->begin(wo, true);
    REQUIRE(u->in_place());
    w.remove_image(1);
    u->commit();
  }
  auto a = wim::Archive::open(path);
  CHECK(a->image_count() == 2);
  CHECK(a->header().boot_index == 1);  // image 2 became image 1
  CHECK(a->xml().get(1, "NAME") == "img2");
  CHECK(a->xml().get(2, "NAME") == "img3");
  CHECK(refcnt_of(*a, x) == 0);  // soft delete: the blob stays, unreferenced (§14.2)
  CHECK(refcnt_of(*a, y) == 1);
  CHECK(fs::file_size(path) >= before - 100);  // no data removed
  CHECK(a->load_image(2).lookup("/f0"));
  {
    auto u = wim::ArchiveUpdate::open(path);
    wim::ArchiveWriter& w = u->begin(wo, true);
    w.remove_image(1);  // the boot image
    u->commit();
  }
  a = wim::Archive::open(path);
  CHECK(a->image_count() == 1);
  CHECK(a->header().boot_index == 0);
}

TEST_CASE("container: import_image copies a solid resource once and never stores a blob twice") {
  TempDir dir;
  Bytes x = make_data(50000, 4, true), y = make_data(60000, 5, true), z = make_data(70000, 6, false);
  wim::WriterOptions wo;
  wo.compression = {Codec::Zstd, 0};
  wo.solid = true;
  wo.solid_compression = {Codec::Zstd, 0};
  std::string src_path = write_images(dir.path, "s.wim", {{x, y, z}, {y}}, wo);
  auto src = wim::Archive::open(src_path);
  std::string dst_path = (dir.path / "d.wim").string();
  {
    TempFile tmp(dst_path);
    OutputFile out(tmp.fd(), tmp.temp_path(), 0);
    wim::ArchiveWriter w(out, wo);
    CHECK(w.import_image(*src, 2, false) == 1);  // copies the whole solid resource
    CHECK(w.import_image(*src, 1, false) == 2);  // finds x and z in that copy
    CHECK(w.import_image(*src, 1, false) == 3);  // nothing new but metadata
    w.finish();
    tmp.commit();
  }
  auto d = wim::Archive::open(dst_path);
  CHECK(d->image_count() == 3);
  CHECK(d->blobs().size() == 3);
  size_t solid = 0;
  for (const auto& r : d->resources()) solid += r.solid;
  CHECK(solid == 1);
  CHECK(refcnt_of(*d, y) == 3);
  CHECK(read_blob(*d, sha1_of(z)) == z);
  CHECK(d->xml().get(3, "NAME") == "img1");
}
