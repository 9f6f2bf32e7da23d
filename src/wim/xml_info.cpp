#include "wim/xml_info.hpp"

#include "wim/image_info.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <vector>

#include "util/error.hpp"
#include "util/utf.hpp"

namespace wp::wim {

// An IMAGE element's INDEX attribute as a number; 0 if it is not one. Read
// as wimlib reads it (strtoul over the whole value): leading white space, a
// '+' and leading zeros are accepted ("01", "+1", " 1" all mean 1), trailing
// characters are not. Every lookup compares these numbers, never the text.
static size_t index_of(pugi::xml_node img) {
  const char* idx = img.attribute("INDEX").value();
  const char* p = idx;
  while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
  if (*p == '-') return 0;  // strtoul would negate it
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(idx, &end, 10);
  if (end == idx || *end || errno == ERANGE || v > 0xFFFFFFFFull) return 0;
  return size_t(v);
}

XmlInfo::XmlInfo() : doc_(std::make_unique<pugi::xml_document>()) { doc_->append_child("WIM"); }

XmlInfo XmlInfo::parse(ByteSpan data, const std::string& path) {
  auto bad = [&](const std::string& what) { fail(Errc::BadArchive, "'" + path + "': invalid XML data: " + what); };
  XmlInfo x;
  x.doc_ = std::make_unique<pugi::xml_document>();
  ByteSpan body = data;
  if (body.size() >= 2 && body[0] == 0xFF && body[1] == 0xFE) body = body.subspan(2);
  // Convert ourselves (pugixml would accept malformed surrogates silently).
  std::string utf8 = utf16_to_utf8(utf16le_decode(body));
  while (!utf8.empty() && utf8.back() == '\0') utf8.pop_back();
  auto res = x.doc_->load_buffer(utf8.data(), utf8.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!res) bad(res.description());
  pugi::xml_node wim = x.doc_->document_element();
  if (std::strcmp(wim.name(), "WIM") != 0) bad("root element is not <WIM>");
  if (wim.child("ESD").child("ENCRYPTED")) fail(Errc::Unsupported, "'" + path + "' is an encrypted ESD file");
  std::vector<bool> seen;
  size_t count = 0;
  for (auto img : wim.children("IMAGE")) (void)img, count++;
  seen.assign(count + 1, false);
  for (auto img : wim.children("IMAGE")) {
    size_t v = index_of(img);
    if (v < 1 || v > count || seen[v]) bad("IMAGE INDEX attributes are not 1.." + std::to_string(count));
    seen[v] = true;
  }
  return x;
}

XmlInfo XmlInfo::clone() const {
  XmlInfo x;
  x.doc_->reset(*doc_);
  return x;
}

size_t XmlInfo::image_count() const {
  size_t n = 0;
  for (auto img : doc_->document_element().children("IMAGE")) (void)img, n++;
  return n;
}

pugi::xml_node XmlInfo::root() const { return doc_->document_element(); }

pugi::xml_node XmlInfo::image(size_t index) const {
  for (auto img : doc_->document_element().children("IMAGE"))
    if (index_of(img) == index) return img;
  fail(Errc::NotFound, "image " + std::to_string(index) + " does not exist");
}

std::string XmlInfo::get(size_t index, const char* element) const {
  return image(index).child(element).text().as_string();
}

void XmlInfo::set(size_t index, const char* element, const std::string& value) {
  pugi::xml_node img = image(index);
  pugi::xml_node el = img.child(element);
  if (value.empty()) {
    if (el) img.remove_child(el);
    return;
  }
  if (!el) el = img.append_child(element);
  el.text().set(value.c_str());
}

size_t XmlInfo::find_by_name(const std::string& name) const {
  for (auto img : doc_->document_element().children("IMAGE"))
    if (name == img.child("NAME").text().as_string()) return index_of(img);
  return 0;
}

static void set_time(pugi::xml_node parent, const char* element, uint64_t ft) {
  pugi::xml_node el = parent.child(element);
  if (!el) el = parent.append_child(element);
  while (el.first_child()) el.remove_child(el.first_child());
  char hi[16], lo[16];
  std::snprintf(hi, sizeof hi, "0x%08X", unsigned(ft >> 32));
  std::snprintf(lo, sizeof lo, "0x%08X", unsigned(ft & 0xFFFFFFFF));
  el.append_child("HIGHPART").text().set(hi);
  el.append_child("LOWPART").text().set(lo);
}

static void set_number(pugi::xml_node parent, const char* element, uint64_t v) {
  pugi::xml_node el = parent.child(element);
  if (!el) el = parent.append_child(element);
  el.text().set(std::to_string(v).c_str());
}

size_t XmlInfo::add_image(const std::string& name, uint64_t creation_time) {
  size_t index = image_count() + 1;
  pugi::xml_node wim = doc_->document_element();
  // Images go before any top-level TOTALBYTES we may have read.
  pugi::xml_node img;
  if (pugi::xml_node tb = wim.child("TOTALBYTES"))
    img = wim.insert_child_before("IMAGE", tb);
  else
    img = wim.append_child("IMAGE");
  img.append_attribute("INDEX").set_value(std::to_string(index).c_str());
  if (!name.empty()) img.append_child("NAME").text().set(name.c_str());
  // §6.3 element order for a new image: NAME, DIRCOUNT, FILECOUNT, TOTALBYTES,
  // HARDLINKBYTES, CREATIONTIME, LASTMODIFICATIONTIME, then the rest.
  for (const char* e : {"DIRCOUNT", "FILECOUNT", "TOTALBYTES", "HARDLINKBYTES"}) set_number(img, e, 0);
  set_time(img, "CREATIONTIME", creation_time);
  set_time(img, "LASTMODIFICATIONTIME", creation_time);
  return index;
}

size_t XmlInfo::add_image_copy(pugi::xml_node src) {
  size_t index = image_count() + 1;
  pugi::xml_node wim = doc_->document_element();
  pugi::xml_node img;
  if (pugi::xml_node tb = wim.child("TOTALBYTES"))
    img = wim.insert_copy_before(src, tb);
  else
    img = wim.append_copy(src);
  pugi::xml_attribute at = img.attribute("INDEX");
  if (!at) at = img.append_attribute("INDEX");
  at.set_value(std::to_string(index).c_str());
  return index;
}

void XmlInfo::remove_image(size_t index) {
  pugi::xml_node img = image(index);
  doc_->document_element().remove_child(img);
  for (auto i : doc_->document_element().children("IMAGE")) {
    size_t v = index_of(i);
    if (v > index) i.attribute("INDEX").set_value(std::to_string(v - 1).c_str());
  }
}

void XmlInfo::set_stats(size_t index, const image::ImageStats& s, uint64_t mtime) {
  pugi::xml_node img = image(index);
  set_number(img, "DIRCOUNT", s.dir_count);
  set_number(img, "FILECOUNT", s.file_count);
  set_number(img, "TOTALBYTES", s.total_bytes);
  set_number(img, "HARDLINKBYTES", s.hard_link_bytes);
  set_time(img, "LASTMODIFICATIONTIME", mtime);
}

uint64_t XmlInfo::get_time(size_t index, const char* element) const {
  pugi::xml_node el = image(index).child(element);
  if (!el) return 0;
  uint64_t hi = std::strtoull(el.child("HIGHPART").text().as_string(), nullptr, 16);
  uint64_t lo = std::strtoull(el.child("LOWPART").text().as_string(), nullptr, 16);
  return (hi << 32) | (lo & 0xFFFFFFFF);
}

namespace {
struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override { out.append(static_cast<const char*>(data), size); }
};
}  // namespace

std::string XmlInfo::to_utf8() const {
  StringWriter w;
  doc_->save(w, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  return w.out;
}

Bytes XmlInfo::encode_without_total() const { return encode_impl(false, 0); }

Bytes XmlInfo::encode(uint64_t total_bytes) const { return encode_impl(true, total_bytes); }

Bytes XmlInfo::encode_impl(bool with_total, uint64_t total_bytes) const {
  pugi::xml_document copy;
  copy.reset(*doc_);
  pugi::xml_node wim = copy.document_element();
  while (pugi::xml_node tb = wim.child("TOTALBYTES")) wim.remove_child(tb);
  // Written in canonical form ("1", not "01" or " 1"), as wimlib does.
  for (auto img : wim.children("IMAGE")) img.attribute("INDEX").set_value(std::to_string(index_of(img)).c_str());
  if (with_total) wim.append_child("TOTALBYTES").text().set(std::to_string(total_bytes).c_str());
  StringWriter w;
  copy.save(w, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  auto u16 = utf8_to_utf16(w.out);
  if (!u16) fail(Errc::Failure, "internal error: XML is not valid UTF-8");
  Bytes out = {0xFF, 0xFE};
  utf16le_encode(*u16, out);
  return out;
}

// --- image properties and wimpack's extension elements ---------------------


// Image properties: one implementation of wimlib's path syntax
// (NAME[/NAME[n]]..., image_info.cpp) for capture, append and info.
bool XmlInfo::valid_property_path(const std::string& path) {
  try {
    (void)get_image_property(pugi::xml_node(), path);
    return true;
  } catch (const Error&) {
    return false;
  }
}

std::string XmlInfo::get_property(size_t index, const std::string& path) const {
  if (!valid_property_path(path)) return {};
  return get_image_property(image(index), path);
}

void XmlInfo::set_property(size_t index, const std::string& path, const std::string& value) {
  if (!valid_property_path(path)) fail(Errc::Usage, "invalid image property name '" + path + "'");
  for (unsigned char c : value)
    if (c < 0x20 && c != '\t' && c != '\n')
      fail(Errc::Usage, "image property " + path + " must not contain control characters (WIM readers refuse them)");
  set_image_property(image(index), path, value);
}

static constexpr const char* kDeltaBaseElement = "WIMPACK_DELTA_BASE";

void XmlInfo::remove_delta_bases(size_t index) {
  pugi::xml_node img = image(index);
  while (pugi::xml_node b = img.child(kDeltaBaseElement)) img.remove_child(b);
}

std::vector<DeltaBase> XmlInfo::delta_bases(size_t index) const {
  std::vector<DeltaBase> out;
  for (pugi::xml_node b : image(index).children(kDeltaBaseElement)) {
    std::string path = b.child("PATH").text().as_string();
    if (path.empty()) continue;
    DeltaBase d;
    d.path = path;
    d.relative_to_archive = std::string(b.child("PATH").attribute("RELATIVE_TO").as_string()) == "ARCHIVE";
    d.image = b.child("IMAGE_INDEX").text().as_uint();
    d.image_name = b.child("IMAGE_NAME").text().as_string();
    std::string g = b.child("GUID").text().as_string();
    if (g.size() == 32 && g.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos)
      for (size_t i = 0; i < 16; i++) d.guid[i] = uint8_t(std::strtoul(g.substr(2 * i, 2).c_str(), nullptr, 16));
    out.push_back(std::move(d));
  }
  return out;
}

void XmlInfo::add_delta_base(size_t index, const DeltaBase& base) {
  pugi::xml_node d = image(index).append_child(kDeltaBaseElement);
  pugi::xml_node p = d.append_child("PATH");
  if (base.relative_to_archive) p.append_attribute("RELATIVE_TO").set_value("ARCHIVE");
  p.text().set(base.path.c_str());
  char g[33];
  for (int i = 0; i < 16; i++) std::snprintf(g + 2 * i, 3, "%02x", base.guid[i]);
  d.append_child("GUID").text().set(g);
  if (base.image) {
    d.append_child("IMAGE_INDEX").text().set(base.image);
    if (!base.image_name.empty()) d.append_child("IMAGE_NAME").text().set(base.image_name.c_str());
  }
}

}  // namespace wp::wim
