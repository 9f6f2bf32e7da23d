// Tests for the metadata resource codec (wim-format.md §7, §8) and the
// symlink ⇄ reparse data conversions (§9).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "image/image.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/metadata.hpp"
#include "wim/reparse.hpp"

using namespace wp;
using namespace wp::image;
using wp::wim::decode_metadata;
using wp::wim::encode_metadata;

namespace {

constexpr uint64_t kExampleTime = 0x01D5C1194AD6D707;  // §10.1: 2020-01-02 03:04:05.1234567 UTC

Sha1 hash_of(std::string_view s) { return sha1_of(ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size())); }

Bytes bytes_of(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(uint8_t(x));
  return b;
}

void append_u16le(Bytes& b, std::u16string_view s) { utf16le_encode(s, b); }

std::string hex(ByteSpan b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

Inode* add_file(Image& img, Dentry* parent, const std::string& name, std::string_view content, uint32_t attr = kAttrNormal) {
  Inode* ino = img.new_inode();
  ino->attributes = attr;
  ino->creation_time = ino->last_write_time = kExampleTime;
  ino->last_access_time = kExampleTime + 1;
  if (!content.empty()) ino->streams.push_back({StreamType::Data, {}, hash_of(content), content.size()});
  img.add_child(parent, name, ino);
  return ino;
}

Dentry* add_dir(Image& img, Dentry* parent, const std::string& name) {
  Inode* ino = img.new_inode();
  ino->attributes = kAttrDirectory;
  ino->creation_time = ino->last_write_time = kExampleTime + 7;
  ino->last_access_time = kExampleTime + 8;
  return img.add_child(parent, name, ino);
}

// A canonical, order-independent description of an image: children sorted by
// name, hard links shown by the first path of their inode, empty unnamed data
// streams omitted (the decoder adds one to every directory, §7.3 step 4),
// stream sizes omitted (they come from the blob table).
std::string dump(const Image& img) {
  std::ostringstream o;
  std::map<const Inode*, std::string> first_path;
  std::vector<const Dentry*> stack{img.root()};
  o << "sec=" << hex(img.security().block) << " n=" << img.security().num_entries << "\n";
  while (!stack.empty()) {
    const Dentry* d = stack.back();
    stack.pop_back();
    std::string p = d->path();
    const Inode& i = *d->inode;
    o << p << " short=" << utf16_to_utf8(d->short_name);
    auto [it, fresh] = first_path.emplace(&i, p);
    if (!fresh) {
      o << " => " << it->second << "\n";
    } else {
      o << std::hex << " attr=" << i.attributes << " sec=" << i.security_id << " t=" << i.creation_time << ","
        << i.last_access_time << "," << i.last_write_time << " u54=" << i.unknown_0x54 << " nlink=" << std::dec << i.nlink;
      if (i.is_reparse_point()) o << std::hex << " rp=" << i.reparse_tag << "," << i.rp_reserved << "," << i.rp_flags;
      std::vector<std::string> streams;
      for (const auto& s : i.streams) {
        if (s.type == StreamType::Data && s.name.empty() && s.hash.is_zero()) continue;
        streams.push_back(std::to_string(int(s.type)) + ":" + utf16_to_utf8(s.name) + ":" + s.hash.hex());
      }
      std::sort(streams.begin(), streams.end());
      for (const auto& s : streams) o << " [" << s << "]";
      for (const auto& t : i.tagged_items) o << " {" << std::hex << t.tag << ":" << hex(t.data) << "}";
      o << std::dec << "\n";
    }
    std::vector<const Dentry*> kids;
    for (const auto& c : d->children) kids.push_back(c.get());
    std::sort(kids.begin(), kids.end(), [](auto* a, auto* b) { return a->name > b->name; });
    for (auto* k : kids) stack.push_back(k);
  }
  return o.str();
}

// Offset of the dentry whose long name is `name` (searched as UTF-16LE; the
// name starts at +0x66).
uint64_t find_dentry(const Bytes& b, std::u16string_view name) {
  Bytes needle;
  needle.push_back(uint8_t(2 * name.size()));
  needle.push_back(uint8_t((2 * name.size()) >> 8));
  append_u16le(needle, name);
  needle.push_back(0);
  needle.push_back(0);
  auto it = std::search(b.begin(), b.end(), needle.begin(), needle.end());
  REQUIRE(it != b.end());
  return uint64_t(it - b.begin()) - 0x64;
}

// Names in the child list at `off` (test-side walker, independent of the decoder).
std::vector<std::u16string> list_names(const Bytes& b, uint64_t off) {
  std::vector<std::u16string> names;
  while (load_le64(&b[off]) > 8) {
    uint64_t len = align8(load_le64(&b[off]));
    uint16_t n = load_le16(&b[off + 0x64]);
    names.push_back(utf16le_decode(ByteSpan(b).subspan(off + 0x66, n)));
    uint16_t extras = load_le16(&b[off + 0x60]);
    off += len;
    for (int i = 0; i < extras; i++) off += align8(load_le64(&b[off]));
  }
  return names;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == Errc::BadArchive);
    return e.what();
  }
  return "";
}

Image decode(const Bytes& b, std::vector<std::string>* w = nullptr) { return decode_metadata(b, "test.wim image 1", w); }

// The rich tree of the round-trip test.
Image make_rich_image() {
  Image img;
  Dentry* root = img.root();
  root->inode->creation_time = root->inode->last_write_time = kExampleTime;
  root->inode->set_unix_data({0, 0, 040755, 0});

  // Two security descriptors of 20 and 13 bytes: align8(8 + 16 + 33) = 64.
  Bytes sec = {64, 0, 0, 0, 2, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 33; i++) sec.push_back(uint8_t(i + 1));
  sec.resize(64, 0);
  img.security().block = sec;
  img.security().num_entries = 2;

  Dentry* dir = add_dir(img, root, "dir");
  Dentry* sub = add_dir(img, dir, "sub");
  add_file(img, sub, "deep.txt", "deep");
  add_dir(img, dir, "empty");
  add_file(img, dir, "Zebra", "z");
  add_file(img, dir, "apple", "a");
  add_file(img, dir, "Apple", "A");
  add_file(img, dir, "_under", "u");

  Inode* hard = add_file(img, root, "hard1", "shared");
  hard->set_unix_data({1000, 1000, 0100644, 0});
  img.add_child(root, "hard2", hard);
  img.add_child(dir, "hard3", hard);

  Inode* ads = add_file(img, root, "ads.bin", "main data");
  ads->streams.push_back({StreamType::Data, u"ads", hash_of("ads data")});
  ads->streams.push_back({StreamType::Data, u"zone", {}});  // empty named stream
  ads->security_id = 1;
  Dentry* adsdir = add_dir(img, root, "adsdir");
  adsdir->inode->streams.push_back({StreamType::Data, u"dirstream", hash_of("dir ads")});

  Inode* link = add_file(img, root, "link", "", kAttrReparsePoint);
  link->reparse_tag = kReparseTagSymlink;
  link->rp_flags = kRpNotFixed;
  link->streams.push_back({StreamType::Reparse, {}, sha1_of(wim::make_symlink_reparse_data("a.txt", false))});
  link->set_unix_data({0, 0, 0120777, 0});

  Inode* dirlink = add_file(img, root, "dirlink", "", kAttrReparsePoint | kAttrDirectory);
  dirlink->reparse_tag = kReparseTagSymlink;
  dirlink->rp_reserved = 0x1234;
  dirlink->rp_flags = 0;
  dirlink->streams.push_back({StreamType::Reparse, {}, sha1_of(wim::make_symlink_reparse_data("/dir", true))});

  Inode* fifo = add_file(img, root, "fifo", "", 0);
  fifo->set_unix_data({0, 0, 010644, 0});

  Inode* x = add_file(img, root, "xattrs", "x");
  x->set_unix_data({0, 0, 0100600, 0});
  x->set_xattrs({{"user.test", bytes_of({'h', 'e', 'l', 'l', 'o'}), 0}, {"security.selinux", Bytes(40, 'c'), 0}});
  x->tagged_items.push_back({0x1234, bytes_of({1, 2, 3, 4, 5})});  // unknown tag, odd size
  x->unknown_0x54 = 0xDEADBEEF;

  add_file(img, root, "empty-file", "");
  Inode* e0 = add_file(img, root, "empty-file-with-stream", "");
  e0->streams.push_back({StreamType::Data, {}, {}});

  Inode* efs = add_file(img, root, "secret", "", kAttrEncrypted | kAttrArchive);
  efs->streams.push_back({StreamType::EfsRaw, {}, hash_of("efs raw")});

  add_file(img, root, "\xC3\xBCn\xC3\xAF" "c\xC3\xB8" "d\xC3\xA9-\xE6\x97\xA5\xE6\x9C\xAC-\xF0\x9F\x98\x80", "unicode");
  add_file(img, root, std::string(255, 'x'), "long ascii");
  std::string euro;
  for (int i = 0; i < 85; i++) euro += "\xE2\x82\xAC";  // 255 bytes of UTF-8
  add_file(img, root, euro, "long euro");
  add_file(img, root, "a\xED\xA0\x80" "b", "unpaired surrogate");  // WTF-8 of U+D800
  add_file(img, root, "longfilename.text", "short name");
  img.lookup("/longfilename.text")->short_name = u"LONGFI~1.TEX";
  return img;
}

}  // namespace

// ---------------------------------------------------------------- metadata

TEST_CASE("metadata: encodes the worked example of wim-format.md 16.3 byte for byte") {
  Image img;
  Inode* r = img.root()->inode;
  r->creation_time = r->last_access_time = r->last_write_time = kExampleTime;
  Inode* f = img.new_inode();
  f->attributes = kAttrNormal;
  f->creation_time = f->last_access_time = f->last_write_time = kExampleTime;
  f->streams.push_back({StreamType::Data, {}, hash_of("hello\n"), 6});
  img.add_child(img.root(), "a.txt", f);

  Bytes want;
  auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; i++) want.push_back(uint8_t(v >> (8 * i)));
  };
  auto zeros = [&](size_t n) { want.insert(want.end(), n, 0); };
  u64(8);                      // 000: security data: total_length 8, 0 descriptors
  u64(104);                    // 008: root length
  want.insert(want.end(), {0x10, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF});
  u64(120);                    // 018: subdir_offset
  zeros(16);                   // 020: unused
  u64(kExampleTime), u64(kExampleTime), u64(kExampleTime);
  zeros(20 + 4 + 8 + 6 + 2);   // 048: hash, unknown, group id, counts, padding
  zeros(8);                    // 070: end marker after the root
  u64(120);                    // 078: a.txt length
  want.insert(want.end(), {0x80, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF});
  zeros(8 + 16);               // 088: subdir_offset, unused
  u64(kExampleTime), u64(kExampleTime), u64(kExampleTime);
  Bytes h = bytes_of({0xF5, 0x72, 0xD3, 0x96, 0xFA, 0xE9, 0x20, 0x66, 0x28, 0x71,
                      0x4F, 0xB2, 0xCE, 0x00, 0xF7, 0x2E, 0x94, 0xF2, 0x25, 0x8F});
  want.insert(want.end(), h.begin(), h.end());
  zeros(4 + 8 + 4);            // 0CC: unknown, group id, 0 extra streams, no short name
  want.insert(want.end(), {0x0A, 0x00, 'a', 0, '.', 0, 't', 0, 'x', 0, 't', 0, 0, 0});
  zeros(6);                    // 0EA: padding to 240
  zeros(8);                    // 0F0: end of "/" list
  REQUIRE(want.size() == 248);
  CHECK(Sha1::from_bytes(h.data()) == hash_of("hello\n"));

  Bytes got = encode_metadata(img);
  REQUIRE(got.size() == 248);
  for (size_t i = 0; i < want.size(); i++) {
    INFO("byte " << i);
    CHECK(int(got[i]) == int(want[i]));
  }
  // §16.4: the blob table's SHA-1 of these 248 bytes.
  CHECK(sha1_of(got).hex() == "758d0527c6fab51079313609db553e2c30181403");

  std::vector<std::string> warnings;
  Image back = decode(got, &warnings);
  CHECK(warnings.empty());
  REQUIRE(back.root()->children.size() == 1);
  const Dentry* a = back.root()->children[0].get();
  CHECK(a->name == "a.txt");
  CHECK(a->inode->attributes == kAttrNormal);
  CHECK(a->inode->last_write_time == kExampleTime);
  REQUIRE(a->inode->unnamed_data());
  CHECK(a->inode->unnamed_data()->hash == hash_of("hello\n"));
  CHECK(a->inode->unnamed_data()->size == 0);  // filled by the caller
  CHECK(a->inode->nlink == 1);
  CHECK(encode_metadata(back) == got);
}

TEST_CASE("metadata: children are written in collation order") {
  using wim::collate_names;
  CHECK(collate_names(u"a", u"B") < 0);
  CHECK(collate_names(u"B", u"a") > 0);
  CHECK(collate_names(u"A", u"a") < 0);  // equal ignoring case: by code unit
  CHECK(collate_names(u"a", u"a") == 0);
  CHECK(collate_names(u"ab", u"AB") > 0);
  CHECK(collate_names(u"a", u"ab") < 0);  // prefix first
  CHECK(collate_names(u"_", u"a") > 0);   // '_' (0x5F) sorts after 'A' (0x41) once upper-cased
  CHECK(collate_names(u"\u00e9", u"\u00c9") > 0);
  CHECK(collate_names(u"\u00e9", u"F") > 0);
  CHECK(collate_names(u"\u00ff", u"\u0178") < 0);  // ÿ upper-cases to Ÿ, then by code unit
  CHECK(collate_names(u"\u00ff", u"\u00fe") > 0);  // Ÿ (U+0178) after Þ (U+00DE)
  CHECK(collate_names(u"\u0101", u"\u0100") > 0);  // ā / Ā

  Image img;
  for (const char* n : {"b", "B", "a", "_x", "A", "\xC3\xA9", "\xC3\x89", "Z", "aa", "[", "`"})
    add_file(img, img.root(), n, n);
  Bytes b = encode_metadata(img);
  std::vector<std::u16string> got = list_names(b, load_le64(&b[8 + 0x10]));
  std::vector<std::u16string> want = {u"A", u"a", u"aa", u"B", u"b", u"Z", u"[", u"_x", u"`", u"\u00c9", u"\u00e9"};
  CHECK(got == want);
}

TEST_CASE("metadata: a rich tree round-trips through encode and decode") {
  Image img = make_rich_image();
  std::string want = dump(img);
  Bytes e1 = encode_metadata(img);

  // Layout checks against the raw bytes (§7.3, §7.4).
  CHECK(std::equal(e1.begin(), e1.begin() + 64, img.security().block.begin()));
  const uint64_t root_list = load_le64(&e1[64 + 0x10]);
  CHECK(root_list == 64 + align8(102) + 24 + 8);  // root: 104 + UNIX-data item 24, then the marker
  CHECK(load_le64(&e1[root_list - 8]) == 0);
  std::vector<std::u16string> root_names = list_names(e1, root_list);
  CHECK(std::is_sorted(root_names.begin(), root_names.end(),
                       [](auto& a, auto& b) { return wim::collate_names(a, b) < 0; }));
  CHECK(list_names(e1, load_le64(&e1[find_dentry(e1, u"dir") + 0x10])) ==
        std::vector<std::u16string>{u"Apple", u"apple", u"empty", u"hard3", u"sub", u"Zebra", u"_under"});
  uint64_t empty = find_dentry(e1, u"empty");
  uint64_t empty_list = load_le64(&e1[empty + 0x10]);
  CHECK(empty_list != 0);
  CHECK(load_le64(&e1[empty_list]) == 0);  // a lone end marker
  // Pre-order: "/", "/adsdir", "/dir", "/dir/empty", "/dir/sub"; the last list ends the resource.
  uint64_t adsdir_list = load_le64(&e1[find_dentry(e1, u"adsdir") + 0x10]);
  uint64_t dir_list = load_le64(&e1[find_dentry(e1, u"dir") + 0x10]);
  uint64_t sub_list = load_le64(&e1[find_dentry(e1, u"sub") + 0x10]);
  CHECK(root_list < adsdir_list);
  CHECK(adsdir_list < dir_list);
  CHECK(dir_list < empty_list);
  CHECK(empty_list < sub_list);
  CHECK(empty_list + 8 == sub_list);
  CHECK(list_names(e1, sub_list) == std::vector<std::u16string>{u"deep.txt"});

  auto main_hash = [&](uint64_t off) { return Sha1::from_bytes(&e1[off + 0x40]); };
  auto num_extra = [&](uint64_t off) { return load_le16(&e1[off + 0x60]); };
  uint64_t link = find_dentry(e1, u"link");
  CHECK(main_hash(link).is_zero());  // non-directory symlink: reparse + empty data entries
  CHECK(num_extra(link) == 2);
  CHECK(load_le32(&e1[link + 0x58]) == kReparseTagSymlink);
  CHECK(load_le16(&e1[link + 0x5E]) == kRpNotFixed);
  uint64_t dirlink = find_dentry(e1, u"dirlink");
  CHECK(load_le64(&e1[dirlink + 0x10]) == 0);  // a directory symlink has no child list
  CHECK(num_extra(dirlink) == 0);              // >= 1.14.2: reparse hash in main_hash
  CHECK(main_hash(dirlink) == sha1_of(wim::make_symlink_reparse_data("/dir", true)));
  CHECK(load_le16(&e1[dirlink + 0x5C]) == 0x1234);
  uint64_t ads = find_dentry(e1, u"ads.bin");
  CHECK(main_hash(ads).is_zero());
  CHECK(num_extra(ads) == 3);  // unnamed data, "ads", "zone"
  CHECK(num_extra(find_dentry(e1, u"adsdir")) == 1);  // only the named stream
  CHECK(num_extra(find_dentry(e1, u"Zebra")) == 0);
  CHECK(main_hash(find_dentry(e1, u"Zebra")) == hash_of("z"));
  uint64_t secret = find_dentry(e1, u"secret");
  CHECK(main_hash(secret) == hash_of("efs raw"));
  CHECK(num_extra(secret) == 0);
  uint64_t h1 = find_dentry(e1, u"hard1"), h2 = find_dentry(e1, u"hard2"), h3 = find_dentry(e1, u"hard3");
  CHECK(load_le64(&e1[h1 + 0x58]) != 0);
  CHECK(load_le64(&e1[h1 + 0x58]) == load_le64(&e1[h2 + 0x58]));
  CHECK(load_le64(&e1[h1 + 0x58]) == load_le64(&e1[h3 + 0x58]));
  CHECK(load_le64(&e1[find_dentry(e1, u"Zebra") + 0x58]) == 0);
  uint64_t lf = find_dentry(e1, u"longfilename.text");
  CHECK(load_le16(&e1[lf + 0x62]) == 24);
  CHECK(load_le64(&e1[lf]) == align8(102 + 36 + 26));
  uint64_t xo = find_dentry(e1, u"xattrs");
  // xattrs: names 102+14 → 120; UNIX data 24; xattr item; unknown item 8+8.
  uint64_t xattr_len = 4 + 9 + 1 + 5 + 4 + 16 + 1 + 40;
  CHECK(load_le64(&e1[xo]) == 120 + 24 + 8 + align8(xattr_len) + 16);

  std::vector<std::string> warnings;
  Image back = decode(e1, &warnings);
  CHECK(warnings.empty());
  CHECK(dump(back) == want);
  const Dentry* d1 = back.lookup("/hard1");
  REQUIRE(d1);
  CHECK(d1->inode == back.lookup("/hard2")->inode);
  CHECK(d1->inode == back.lookup("/dir/hard3")->inode);
  CHECK(d1->inode->nlink == 3);
  CHECK(back.lookup("/dir/empty")->children.empty());
  CHECK(back.lookup("/dir/empty")->is_directory());
  CHECK(back.lookup("/secret")->inode->find_stream(StreamType::EfsRaw));
  CHECK(back.lookup("/link")->inode->reparse_stream()->hash == sha1_of(wim::make_symlink_reparse_data("a.txt", false)));
  CHECK(back.lookup("/xattrs")->inode->xattrs().size() == 2);
  CHECK(back.lookup("/fifo")->inode->unix_data()->mode == 010644);
  CHECK(back.lookup("/fifo")->inode->attributes == 0);

  // The decoded image re-encodes to the same size, and is a fixed point.
  Bytes e2 = encode_metadata(back);
  CHECK(e2.size() == e1.size());
  Image back2 = decode(e2);
  CHECK(dump(back2) == want);
  CHECK(encode_metadata(back2) == e2);
}

TEST_CASE("metadata: skips entries that cannot exist on Linux, with warnings") {
  Image img;
  Dentry* root = img.root();
  add_file(img, root, ".", "dot");
  add_file(img, root, "..", "dotdot");
  add_file(img, root, "a/b", "slash");
  add_file(img, root, std::string("x\0y", 3), "nul");
  add_file(img, root, "unnamed-to-be", "u");
  add_file(img, root, "good", "good");
  add_dir(img, root, "notadir");
  add_file(img, root, "badsec", "s");
  // An exact duplicate, only possible by building the dentry by hand.
  auto dup = std::make_unique<Dentry>();
  dup->name = "good";
  dup->inode = add_file(img, root, "tmp", "other");
  dup->parent = root;
  dup->inode->nlink++;
  root->children.push_back(std::move(dup));
  img.remove(img.lookup("/tmp"));

  Bytes b = encode_metadata(img);
  store_le16(&b[find_dentry(b, u"unnamed-to-be") + 0x64], 0);      // no long name
  store_le32(&b[find_dentry(b, u"notadir") + 0x08], kAttrNormal);   // a file with a child list
  store_le32(&b[find_dentry(b, u"badsec") + 0x0C], 5);              // no descriptors at all

  std::vector<std::string> w;
  Image back = decode(b, &w);
  std::vector<std::string> names;
  for (const auto& c : back.root()->children) names.push_back(c->name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"badsec", "good", "notadir"});
  CHECK(back.lookup("/good")->inode->unnamed_data()->hash == hash_of("good"));  // the first one wins
  CHECK(back.lookup("/badsec")->inode->security_id == -1);
  CHECK(back.lookup("/notadir")->children.empty());
  std::string all;
  for (const auto& s : w) all += s + "\n";
  INFO(all);
  CHECK(w.size() == 8);
  CHECK(all.find("test.wim image 1: ") == 0);
  CHECK(all.find("\"..\"") != std::string::npos);
  CHECK(all.find("/a/b") != std::string::npos);
  CHECK(all.find("not extractable") != std::string::npos);
  CHECK(all.find("NUL") != std::string::npos);
  CHECK(all.find("has no name") != std::string::npos);
  CHECK(all.find("duplicate entry /good") != std::string::npos);
  CHECK(all.find("children of the non-directory /notadir") != std::string::npos);
  CHECK(all.find("security ID") != std::string::npos);
}

TEST_CASE("metadata: hard links are grouped by ID and unnamed data hash") {
  Image img;
  Dentry* root = img.root();
  Inode* x = add_file(img, root, "f1", "same");
  img.add_child(root, "f2", x);
  add_file(img, root, "f3", "same");       // same content, own inode in the model
  add_file(img, root, "f4", "different");  // will get the same group ID
  add_dir(img, root, "d1");
  add_file(img, root, "f5", "same");        // group ID 0 → always separate
  Bytes b = encode_metadata(img);
  uint64_t id = load_le64(&b[find_dentry(b, u"f1") + 0x58]);
  REQUIRE(id != 0);
  store_le64(&b[find_dentry(b, u"f3") + 0x58], id);
  store_le64(&b[find_dentry(b, u"f4") + 0x58], id);
  store_le64(&b[find_dentry(b, u"d1") + 0x58], id);
  store_le32(&b[find_dentry(b, u"f3") + 0x08], kAttrHidden);  // metadata comes from the first dentry read

  Image back = decode(b);
  const Inode* i1 = back.lookup("/f1")->inode;
  CHECK(back.lookup("/f2")->inode == i1);
  CHECK(back.lookup("/f3")->inode == i1);
  CHECK(i1->nlink == 3);
  CHECK(i1->attributes == kAttrNormal);
  CHECK(back.lookup("/f4")->inode != i1);
  CHECK(back.lookup("/f4")->inode->nlink == 1);
  CHECK(back.lookup("/d1")->inode != i1);
  CHECK(back.lookup("/d1")->is_directory());
  CHECK(back.lookup("/f5")->inode != i1);
}

TEST_CASE("metadata: stream entries are classified by the reading rules") {
  // Build a file by hand whose streams are in wimlib 1.13's layout for a
  // directory symlink: zero main_hash, [reparse, empty data] entries.
  Image img;
  Inode* l = add_file(img, img.root(), "dl", "", kAttrReparsePoint | kAttrDirectory);
  l->reparse_tag = kReparseTagMountPoint;
  l->streams.push_back({StreamType::Reparse, {}, hash_of("rp")});
  l->streams.push_back({StreamType::Data, u"n", hash_of("named")});  // forces extra entries
  Inode* f = add_file(img, img.root(), "f", "data");
  f->streams.push_back({StreamType::Data, u"s", hash_of("s")});
  Bytes b = encode_metadata(img);
  uint64_t dl = find_dentry(b, u"dl");
  REQUIRE(load_le16(&b[dl + 0x60]) == 2);  // reparse entry + named entry (no data: DIRECTORY set)
  Image back = decode(b);
  const Inode* bl = back.lookup("/dl")->inode;
  CHECK(bl->reparse_tag == kReparseTagMountPoint);
  CHECK(bl->reparse_stream()->hash == hash_of("rp"));
  CHECK(bl->find_stream(StreamType::Data, u"n")->hash == hash_of("named"));
  CHECK(!bl->unnamed_data());
  const Inode* bf = back.lookup("/f")->inode;
  CHECK(bf->unnamed_data()->hash == hash_of("data"));
  CHECK(bf->find_stream(StreamType::Data, u"s")->hash == hash_of("s"));
  CHECK(!bf->reparse_stream());

  // A non-zero main_hash on a reparse point with an unnamed entry: main_hash
  // is the reparse stream, the entry the data; further unnamed entries are ignored.
  uint64_t fo = find_dentry(b, u"f");
  Bytes b2 = b;
  store_le32(&b2[fo + 0x08], kAttrReparsePoint);
  store_le32(&b2[fo + 0x58], kReparseTagSymlink);
  auto h = hash_of("main");
  std::copy(h.bytes.begin(), h.bytes.end(), b2.begin() + fo + 0x40);
  Image back2 = decode(b2);
  const Inode* r = back2.lookup("/f")->inode;
  CHECK(r->reparse_stream()->hash == hash_of("main"));
  CHECK(r->unnamed_data()->hash == hash_of("data"));
}

// ------------------------------------------------------ wimlib interop

namespace {

bool have_wimlib() { return std::system("wimlib-imagex --version >/dev/null 2>&1") == 0; }

Bytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Captures `dir` with wimlib-imagex and returns the metadata resource of image 1.
Bytes wimlib_metadata(const std::string& dir, const std::string& wim) {
  std::string cmd = "wimlib-imagex capture '" + dir + "' '" + wim + "' --compress=none --unix-data >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  Bytes f = read_file_bytes(wim);
  REQUIRE(f.size() >= 208);
  // Header: blob table reshdr at 0x30 (7-byte size, flags, u64 offset, u64 usize).
  uint64_t bt_off = load_le64(&f[0x38]), bt_size = load_le64(&f[0x40]);
  REQUIRE(bt_off + bt_size <= f.size());
  for (uint64_t e = bt_off; e + 50 <= bt_off + bt_size; e += 50) {
    if (!(f[e + 7] & 0x02)) continue;  // METADATA
    uint64_t off = load_le64(&f[e + 8]), usize = load_le64(&f[e + 16]);
    REQUIRE(off + usize <= f.size());
    Bytes m(f.begin() + off, f.begin() + off + usize);
    CHECK(sha1_of(m) == Sha1::from_bytes(&f[e + 30]));
    return m;
  }
  FAIL("no metadata resource in " << wim);
  return {};
}

void write_text(const std::string& path, std::string_view s) {
  std::ofstream(path, std::ios::binary) << s;
}

uint64_t filetime_of(const struct timespec& ts) {
  return (uint64_t(ts.tv_sec) + 11644473600ull) * 10000000ull + uint64_t(ts.tv_nsec) / 100;
}

}  // namespace

TEST_CASE("metadata: decodes metadata resources written by wimlib-imagex") {
  if (!have_wimlib()) {
    MESSAGE("wimlib-imagex not found; skipping the wimlib interop test");
    return;
  }
  char tmpl[] = "/tmp/wp-metadata-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string tmp = tmpl;
  const std::string t = tmp + "/tree";
  namespace fs = std::filesystem;
  fs::create_directories(t + "/sub/emptydir");
  write_text(t + "/a.txt", "hello\n");
  write_text(t + "/b.txt", "world");
  write_text(t + "/Upper.TXT", "upper");
  write_text(t + "/sub/c.txt", "");
  REQUIRE(link((t + "/b.txt").c_str(), (t + "/b_link.txt").c_str()) == 0);
  REQUIRE(symlink("a.txt", (t + "/link").c_str()) == 0);
  REQUIRE(symlink("/etc/passwd", (t + "/abs").c_str()) == 0);
  REQUIRE(symlink((t + "/sub").c_str(), (t + "/inlink").c_str()) == 0);  // fixed by rpfix
  REQUIRE(mkfifo((t + "/fifo").c_str(), 0644) == 0);
  bool have_xattr = setxattr((t + "/a.txt").c_str(), "user.test", "hello", 5, 0) == 0;

  Bytes w1 = wimlib_metadata(t, tmp + "/1.wim");
  std::vector<std::string> warnings;
  Image img = decode(w1, &warnings);
  CHECK(warnings.empty());

  struct stat st;
  REQUIRE(stat(t.c_str(), &st) == 0);
  auto root_unix = img.root()->inode->unix_data();
  REQUIRE(root_unix);
  CHECK(S_ISDIR(root_unix->mode));
  CHECK(root_unix->uid == st.st_uid);

  const Dentry* a = img.lookup("/a.txt");
  REQUIRE(a);
  CHECK(a->inode->attributes == kAttrNormal);
  CHECK(a->inode->unnamed_data()->hash == hash_of("hello\n"));
  REQUIRE(lstat((t + "/a.txt").c_str(), &st) == 0);
  CHECK(a->inode->last_write_time == filetime_of(st.st_mtim));
  CHECK(S_ISREG(a->inode->unix_data()->mode));
  if (have_xattr) {
    auto xs = a->inode->xattrs();
    REQUIRE(xs.size() == 1);
    CHECK(xs[0].name == "user.test");
    CHECK(xs[0].value == bytes_of({'h', 'e', 'l', 'l', 'o'}));
  }
  const Dentry* b = img.lookup("/b.txt");
  REQUIRE(b);
  CHECK(img.lookup("/b_link.txt")->inode == b->inode);
  CHECK(b->inode->nlink == 2);
  CHECK(img.lookup("/sub/c.txt")->inode->unnamed_data()->hash.is_zero());
  CHECK(img.lookup("/sub/emptydir")->is_directory());
  CHECK(img.lookup("/Upper.TXT"));

  const Inode* l = img.lookup("/link")->inode;
  CHECK(l->attributes == kAttrReparsePoint);
  CHECK(l->reparse_tag == kReparseTagSymlink);
  CHECK(l->rp_flags == kRpNotFixed);
  CHECK(l->reparse_stream()->hash == sha1_of(wim::make_symlink_reparse_data("a.txt", false)));
  const Inode* ab = img.lookup("/abs")->inode;
  CHECK(ab->rp_flags == kRpNotFixed);
  CHECK(ab->reparse_stream()->hash == sha1_of(wim::make_symlink_reparse_data("/etc/passwd", false)));
  const Inode* in = img.lookup("/inlink")->inode;
  CHECK(in->attributes == (kAttrReparsePoint | kAttrDirectory));  // target is a directory
  CHECK(in->rp_flags == 0);
  REQUIRE(stat(t.c_str(), &st) == 0);
  auto fixed = wim::rpfix_capture_target(t + "/sub", st.st_dev, st.st_ino);
  REQUIRE(fixed);
  CHECK(*fixed == "/sub");
  CHECK(in->reparse_stream()->hash == sha1_of(wim::make_symlink_reparse_data(*fixed, true)));
  const Inode* fifo = img.lookup("/fifo")->inode;
  CHECK(fifo->attributes == 0);
  CHECK(S_ISFIFO(fifo->unix_data()->mode));
  CHECK(fifo->streams.size() == 1);  // the implied empty unnamed data stream
  CHECK(fifo->streams[0].hash.is_zero());

  // Without directory symlinks (whose stream layout changed in 1.14.2) our
  // encoder reproduces wimlib's bytes, except for hard link group ID values.
  fs::remove(t + "/inlink");
  Bytes w2 = wimlib_metadata(t, tmp + "/2.wim");
  Image img2 = decode(w2);
  Bytes ours = encode_metadata(img2);
  REQUIRE(ours.size() == w2.size());
  size_t diffs = 0;
  for (size_t i = 0; i < ours.size(); i++) {
    if (ours[i] == w2[i]) continue;
    diffs++;
    size_t q = i & ~size_t(7);
    INFO("byte " << i);
    CHECK(load_le64(&ours[q]) != 0);  // both sides hold a non-zero group ID there
    CHECK(load_le64(&w2[q]) != 0);
  }
  CHECK(diffs <= 16);
  CHECK(dump(decode(ours)) == dump(img2));
  fs::remove_all(tmp);
}

// ---------------------------------------------------------- hostile input

namespace {

// Decodes; a successful decode must re-encode to something that decodes to
// the same tree, and the encoder must reach a fixed point. (The first
// re-encoding may differ from the second in hard link group ID values: they
// are numbered in the tree's child order, which the decoder keeps as found.)
void decode_or_reject(const Bytes& b) {
  try {
    Image img = decode(b);
    Bytes again = encode_metadata(img);
    Image img2 = decode(again);
    Bytes third = encode_metadata(img2);
    CHECK(third.size() == again.size());
    Image img3 = decode(third);
    CHECK(dump(img3) == dump(img2));
    CHECK(encode_metadata(img3) == third);
  } catch (const Error& e) {
    if (e.code() != Errc::BadArchive) FAIL("unexpected error category: " << e.what());
  }
}

}  // namespace

TEST_CASE("metadata: every truncation of a valid resource is rejected") {
  Image img = make_rich_image();
  Bytes full = encode_metadata(img);
  for (size_t n = 0; n < full.size(); n++) {
    Bytes cut(full.begin(), full.begin() + n);
    std::string msg = error_of([&] { decode(cut); });
    INFO("length " << n);
    CHECK(msg.find("test.wim image 1: invalid metadata resource: ") == 0);
  }
}

TEST_CASE("metadata: random byte flips never crash the decoder") {
  Image img = make_rich_image();
  const Bytes full = encode_metadata(img);
  for (uint32_t seed = 0; seed < 3000; seed++) {
    std::mt19937 rng(seed);
    Bytes b = full;
    int flips = 1 + int(rng() % 6);
    for (int i = 0; i < flips; i++) {
      size_t pos = rng() % b.size();
      // Bias towards small changes of the low bytes of fields, as well as arbitrary ones.
      b[pos] = (rng() & 1) ? uint8_t(b[pos] ^ (1u << (rng() % 8))) : uint8_t(rng());
    }
    INFO("seed " << seed);
    decode_or_reject(b);
  }
}

TEST_CASE("metadata: cycles, shared and overlapping child lists are rejected") {
  Image img;
  Dentry* d = add_dir(img, img.root(), "d");
  add_dir(img, d, "e");
  add_file(img, img.root(), "f", "f");
  add_file(img, img.root(), "g", "g");
  const Bytes b = encode_metadata(img);
  const uint64_t root_list = load_le64(&b[8 + 0x10]);
  const uint64_t d_off = find_dentry(b, u"d"), e_off = find_dentry(b, u"e");

  Bytes c = b;  // "/d/e" points back at the root's list
  store_le64(&c[e_off + 0x10], root_list);
  CHECK(error_of([&] { decode(c); }).find("cycle") != std::string::npos);

  c = b;  // "/d" points at its own list's parent... i.e. the root's list
  store_le64(&c[d_off + 0x10], root_list);
  CHECK(error_of([&] { decode(c); }).find("cycle") != std::string::npos);

  c = b;  // "/d/e" shares the list of "/d"
  store_le64(&c[e_off + 0x10], load_le64(&b[d_off + 0x10]));
  CHECK(error_of([&] { decode(c); }).find("cycle") != std::string::npos);

  c = b;  // "/d" lists the tail of the root's list: the same bytes read twice
  store_le64(&c[d_off + 0x10], find_dentry(b, u"f"));
  CHECK(error_of([&] { decode(c); }).find("overlap") != std::string::npos);

  c = b;  // the root lists itself: unnamed → skipped with a warning, no loop
  store_le64(&c[8 + 0x10], 8);
  std::vector<std::string> w;
  Image r = decode(c, &w);
  CHECK(r.root()->children.empty());
  CHECK(w.size() == 1);
}

TEST_CASE("metadata: malformed fields are rejected with a precise message") {
  Image img;
  Inode* f = add_file(img, img.root(), "file", "data");
  f->streams.push_back({StreamType::Data, u"ads", hash_of("ads")});
  add_dir(img, img.root(), "dir");
  const Bytes b = encode_metadata(img);
  const uint64_t fo = find_dentry(b, u"file");
  const uint64_t s0 = fo + load_le64(&b[fo]);  // first extra stream entry
  const uint64_t s1 = s0 + load_le64(&b[s0]);  // the named one
  auto with = [&](auto&& patch) {
    Bytes c = b;
    patch(c);
    return error_of([&] { decode(c); });
  };
  auto has = [](const std::string& msg, const char* what) {
    INFO(msg);
    CHECK(msg.find("test.wim image 1: invalid metadata resource: ") == 0);
    CHECK(msg.find(what) != std::string::npos);
  };
  has(with([&](Bytes& c) { store_le16(&c[fo + 0x64], 9); }), "odd file name length");
  has(with([&](Bytes& c) { store_le16(&c[fo + 0x62], 3); }), "odd short name length");
  has(with([&](Bytes& c) { store_le16(&c[fo + 0x64], 65534); }), "overrun");
  has(with([&](Bytes& c) { store_le16(&c[fo + 0x62], 40); }), "overrun");
  has(with([&](Bytes& c) { store_le64(&c[fo], UINT64_MAX); }), "past the end");
  has(with([&](Bytes& c) { store_le64(&c[fo], UINT64_MAX - 3); }), "past the end");  // align8 would wrap to 0
  has(with([&](Bytes& c) { store_le64(&c[fo], 1u << 20); }), "past the end");
  has(with([&](Bytes& c) { store_le64(&c[fo], 96); }), "too short");
  has(with([&](Bytes& c) { store_le32(&c[fo + 8], kAttrDirectory); store_le64(&c[fo + 0x10], b.size()); }),
      "out of bounds");
  has(with([&](Bytes& c) { store_le64(&c[fo + 0x10], UINT64_MAX); store_le32(&c[fo + 8], kAttrDirectory); }),
      "out of bounds");
  has(with([&](Bytes& c) { store_le16(&c[fo + 0x60], 65535); }), "truncated");
  has(with([&](Bytes& c) { store_le64(&c[s0], UINT64_MAX); }), "past the end");
  has(with([&](Bytes& c) { store_le64(&c[s0], 16); }), "too short");
  has(with([&](Bytes& c) { store_le16(&c[s1 + 36], 7); }), "odd name length");
  has(with([&](Bytes& c) { store_le16(&c[s1 + 36], 12); }), "overruns the entry");
  has(with([&](Bytes& c) { store_le32(&c[0], 0xFFFFFFF8); }), "security data length");
  has(with([&](Bytes& c) { store_le32(&c[4], 0x80000001); }), "descriptors");
  has(with([&](Bytes& c) { store_le32(&c[4], 1); }), "do not fit");
  has(with([&](Bytes& c) { store_le32(&c[8 + 8], kAttrNormal); }), "root dentry is not a directory");
  has(with([&](Bytes& c) { store_le32(&c[8 + 8], kAttrDirectory | kAttrReparsePoint); }), "not a directory");
  CHECK(error_of([&] { decode(Bytes(4, 0)); }).find("too small") != std::string::npos);

  // Security data with descriptors: sizes must stay within total_length.
  Bytes s = {32, 0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0};
  s.resize(32, 0xAB);
  Bytes tail(b.begin() + 8, b.end());
  Bytes good = s;
  good.insert(good.end(), tail.begin(), tail.end());
  // All subdir_offsets move by 24 bytes.
  for (uint64_t off : {uint64_t(32), find_dentry(good, u"dir")})
    store_le64(&good[off + 0x10], load_le64(&good[off + 0x10]) + 24);
  Image sec = decode(good);
  CHECK(sec.security().block == s);
  CHECK(sec.security().num_entries == 1);
  CHECK(encode_metadata(sec) == good);
  Bytes bad = good;
  store_le64(&bad[8], 17);
  has(error_of([&] { decode(bad); }), "overrun the security data");
  store_le64(&bad[8], 1ull << 32);
  has(error_of([&] { decode(bad); }), "has size");

  // An empty image (END where the root should be) decodes to an empty root.
  Bytes empty = {8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Image e = decode(empty);
  CHECK(e.root()->children.empty());
  CHECK(e.root()->is_directory());
}

TEST_CASE("metadata: directory depth is limited to 16384 levels") {
  auto chain = [](int levels) {
    Image img;
    Dentry* d = img.root();
    for (int i = 0; i < levels; i++) d = add_dir(img, d, "d");
    return encode_metadata(img);
  };
  Bytes ok = chain(16383);
  Image img = decode(ok);
  const Dentry* d = img.root();
  int depth = 0;
  while (!d->children.empty()) d = d->children[0].get(), depth++;
  CHECK(depth == 16383);
  Bytes deep = chain(16384);
  CHECK(error_of([&] { decode(deep); }).find("too deep") != std::string::npos);
}

TEST_CASE("metadata: decoding a large flat and deep tree is fast enough") {
  Image img;
  for (int i = 0; i < 200; i++) {
    Dentry* d = add_dir(img, img.root(), "dir" + std::to_string(i));
    for (int j = 0; j < 400; j++) add_file(img, d, "file-" + std::to_string(j) + ".c", std::to_string(j));
  }
  Bytes b = encode_metadata(img);
  Image back = decode(b);
  CHECK(back.root()->children.size() == 200);
  CHECK(back.lookup("/dir199/file-399.c"));
  CHECK(encode_metadata(back) == b);
}

// ---------------------------------------------------------------- reparse

TEST_CASE("reparse: UNIX symlink targets become the reparse data of wim-format.md 9.3") {
  Bytes rel = wim::make_symlink_reparse_data("a.txt", false);
  Bytes want_rel = bytes_of({0x00, 0x00, 0x0A, 0x00, 0x0C, 0x00, 0x0A, 0x00, 0x01, 0x00, 0x00, 0x00});
  append_u16le(want_rel, u"a.txt");
  want_rel.insert(want_rel.end(), {0, 0});
  append_u16le(want_rel, u"a.txt");
  want_rel.insert(want_rel.end(), {0, 0});
  REQUIRE(want_rel.size() == 36);
  CHECK(rel == want_rel);

  Bytes abs = wim::make_symlink_reparse_data("/etc/passwd", false);
  Bytes want_abs = bytes_of({0x00, 0x00, 0x22, 0x00, 0x24, 0x00, 0x1A, 0x00, 0x00, 0x00, 0x00, 0x00});
  append_u16le(want_abs, u"\\??\\C:\\etc\\passwd");
  want_abs.insert(want_abs.end(), {0, 0});
  append_u16le(want_abs, u"C:\\etc\\passwd");
  want_abs.insert(want_abs.end(), {0, 0});
  REQUIRE(want_abs.size() == 76);
  CHECK(abs == want_abs);
  CHECK(wim::symlink_rp_flags(false) == kRpNotFixed);
  CHECK(wim::symlink_rp_flags(true) == 0);

  auto parsed = wim::parse_link_reparse_data(kReparseTagSymlink, wim::make_symlink_reparse_data("x\\y/z", false));
  REQUIRE(parsed);
  CHECK(parsed->substitute_name == u"x/y\\z");  // separators swapped
  CHECK(parsed->relative);

  auto fixed = wim::parse_link_reparse_data(kReparseTagSymlink, wim::make_symlink_reparse_data("/sub", true));
  REQUIRE(fixed);
  CHECK(fixed->substitute_name == u"\\??\\C:\\sub");
  CHECK(fixed->print_name == u"C:\\sub");
  CHECK(!fixed->relative);
  auto fixed_root = wim::parse_link_reparse_data(kReparseTagSymlink, wim::make_symlink_reparse_data("", true));
  REQUIRE(fixed_root);
  CHECK(fixed_root->substitute_name == u"\\??\\C:");
  CHECK(fixed_root->print_name == u"C:");

  CHECK_THROWS_AS(wim::make_symlink_reparse_data("\xFF", false), Error);
  CHECK_THROWS_AS(wim::make_symlink_reparse_data(std::string(9000, 'a'), false), Error);
  CHECK_NOTHROW(wim::make_symlink_reparse_data(std::string(4000, 'a'), false));
}

TEST_CASE("reparse: capture-side rpfix finds the capture root among the prefixes") {
  auto is_root = [](const std::string& p) { return p == "/srv/tree" || p == "//srv//tree"; };
  CHECK(wim::rpfix_capture_target("/srv/tree/sub", is_root) == std::optional<std::string>("/sub"));
  CHECK(wim::rpfix_capture_target("/srv/tree", is_root) == std::optional<std::string>(""));
  CHECK(wim::rpfix_capture_target("/srv/tree/", is_root) == std::optional<std::string>("/"));
  CHECK(wim::rpfix_capture_target("//srv//tree//a/b", is_root) == std::optional<std::string>("//a/b"));
  CHECK(!wim::rpfix_capture_target("/srv/treex/a", is_root));
  CHECK(!wim::rpfix_capture_target("/srv", is_root));
  CHECK(!wim::rpfix_capture_target("srv/tree/sub", is_root));
  CHECK(!wim::rpfix_capture_target("/", [](const std::string&) { return true; }));
  std::vector<std::string> asked;
  wim::rpfix_capture_target("/a/b/c", [&](const std::string& p) {
    asked.push_back(p);
    return false;
  });
  CHECK(asked == std::vector<std::string>{"/a", "/a/b", "/a/b/c"});

  char tmpl[] = "/tmp/wp-rpfix-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  std::string root = tmpl;
  struct stat st;
  REQUIRE(stat(root.c_str(), &st) == 0);
  CHECK(wim::rpfix_capture_target(root + "/sub/x", st.st_dev, st.st_ino) == std::optional<std::string>("/sub/x"));
  CHECK(wim::rpfix_capture_target(root, st.st_dev, st.st_ino) == std::optional<std::string>(""));
  CHECK(!wim::rpfix_capture_target("/etc/passwd", st.st_dev, st.st_ino));
  rmdir(root.c_str());
}

TEST_CASE("reparse: reparse data becomes a UNIX symlink target") {
  using wim::reparse_to_unix_target;
  const uint32_t S = kReparseTagSymlink, J = kReparseTagMountPoint;
  auto sym = [](std::u16string_view sub, bool relative) {
    return wim::make_link_reparse_data(kReparseTagSymlink, sub, u"print", relative);
  };
  auto junction = [](std::u16string_view sub) { return wim::make_link_reparse_data(kReparseTagMountPoint, sub, sub, false); };
  using O = std::optional<std::string>;

  // Capture → apply round trips.
  for (const char* t : {"a.txt", "../x/y", "x\\y", "/etc/passwd", "/", "/a\\b/c", "\xC3\xA9t\xC3\xA9"})
    CHECK(reparse_to_unix_target(S, kRpNotFixed, wim::make_symlink_reparse_data(t, false), true, "/mnt") == O(t));

  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"..\\a\\b", true), false, "") == O("../a/b"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"a\\b", true), true, "/mnt") == O("a/b"));  // relative: never fixed
  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"\\??\\C:\\etc\\passwd", false), true, "/mnt") == O("/etc/passwd"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\C:\\sub", false), true, "/mnt/t") == O("/mnt/t/sub"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\C:\\sub", false), true, "/mnt/t/") == O("/mnt/t/sub"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\C:\\sub", false), false, "/mnt/t") == O("/sub"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\C:", false), true, "/mnt/t") == O("/mnt/t"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\C:", false), false, "/mnt/t") == O("/"));
  CHECK(reparse_to_unix_target(S, 0, sym(u"\\??\\X:\\", false), true, "/") == O("/"));
  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"\\??\\c:\\Users", false), false, "") == O("/Users"));
  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"\\DosDevices\\D:\\data", false), false, "") == O("/data"));
  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"\\Device\\HarddiskVolume4\\Windows", false), false, "") ==
        O("/Windows"));
  CHECK(reparse_to_unix_target(S, kRpNotFixed, sym(u"\\foo\\bar", false), false, "") == O("/foo/bar"));
  CHECK(reparse_to_unix_target(J, kRpNotFixed, junction(u"\\??\\Volume{0a1b}\\dir"), false, "") == O("/dir"));
  CHECK(reparse_to_unix_target(J, 0, junction(u"\\??\\C:\\x\\y"), true, "/t") == O("/t/x/y"));
  // The junction tag has no flags field: a symlink-style buffer is parsed at +8.
  Bytes jb = junction(u"\\??\\C:\\j");
  CHECK(jb.size() == 8 + 2 * 8 + 2 + 2 * 8 + 2);

  // Malformed buffers.
  Bytes good = sym(u"abc", true);
  auto patched = [&](size_t off, uint16_t v) {
    Bytes c = good;
    store_le16(&c[off], v);
    return c;
  };
  CHECK(!reparse_to_unix_target(S, 1, patched(0, 1), false, ""));      // odd offset
  CHECK(!reparse_to_unix_target(S, 1, patched(2, 5), false, ""));      // odd length
  CHECK(!reparse_to_unix_target(S, 1, patched(2, 200), false, ""));    // past the end
  CHECK(!reparse_to_unix_target(S, 1, patched(0, 0xFFFE), false, "")); // offset past the end
  CHECK(!reparse_to_unix_target(S, 1, patched(4, 0xFFFE), false, "")); // print name past the end
  CHECK(!reparse_to_unix_target(S, 1, Bytes(good.begin(), good.begin() + 11), false, ""));
  CHECK(!reparse_to_unix_target(J, 1, Bytes(7, 0), false, ""));
  CHECK(!reparse_to_unix_target(S, 1, Bytes{}, false, ""));
  CHECK(!reparse_to_unix_target(0x80000017, 1, good, false, ""));     // WOF: not a link
  CHECK(!reparse_to_unix_target(S, 1, sym(std::u16string(u"a\0b", 3), true), false, ""));  // NUL
  CHECK(!reparse_to_unix_target(S, 1, sym(u"", true), false, ""));    // empty relative target
  Bytes huge = sym(u"a", true);
  huge.resize(wim::kMaxReparseDataSize + 1);
  CHECK(!reparse_to_unix_target(S, 1, huge, false, ""));
  huge.resize(wim::kMaxReparseDataSize);
  CHECK(reparse_to_unix_target(S, 1, huge, false, "") == O("a"));

  // Random buffers never crash.
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; i++) {
    Bytes r(rng() % 40);
    for (auto& x : r) x = uint8_t(rng() % 4 == 0 ? rng() : rng() % 24);
    (void)reparse_to_unix_target((i & 1) ? S : J, uint16_t(rng()), r, rng() & 1, "/t");
  }
}
