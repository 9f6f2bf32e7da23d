#include "wim/image_info.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "util/error.hpp"

namespace wp::wim {

std::optional<std::string> xml_text(pugi::xml_node el) {
  if (!el) return std::nullopt;
  for (pugi::xml_node c = el.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_pcdata) return std::string(c.value());
  return std::nullopt;
}

uint64_t xml_number(pugi::xml_node el, int base) {
  auto t = xml_text(el);
  if (!t || t->empty()) return 0;
  const char* s = t->c_str();
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, base);
  // wimlib treats the all-ones result (overflow, or "-1") as no value too.
  if (end == s || *end || errno == ERANGE || v == ULLONG_MAX) return 0;
  return v;
}

uint64_t xml_filetime(pugi::xml_node el) {
  if (!el) return 0;
  return (xml_number(el.child("HIGHPART"), 16) << 32) | (xml_number(el.child("LOWPART"), 16) & 0xFFFFFFFFull);
}


const char* arch_name(uint64_t arch) {
  switch (arch) {
    case 0: return "x86";
    case 1: return "MIPS";
    case 5: return "ARM";
    case 6: return "ia64";
    case 9: return "x86_64";
    case 12: return "ARM64";
    default: return "unknown";
  }
}

ImageInfo read_image_info(pugi::xml_node img, size_t index) {
  ImageInfo r;
  r.index = index;
  r.name = xml_text(img.child("NAME"));
  r.description = xml_text(img.child("DESCRIPTION"));
  r.display_name = xml_text(img.child("DISPLAYNAME"));
  r.display_description = xml_text(img.child("DISPLAYDESCRIPTION"));
  r.flags = xml_text(img.child("FLAGS"));
  r.dir_count = xml_number(img.child("DIRCOUNT"));
  r.file_count = xml_number(img.child("FILECOUNT"));
  r.total_bytes = xml_number(img.child("TOTALBYTES"));
  r.hard_link_bytes = xml_number(img.child("HARDLINKBYTES"));
  r.creation_time = xml_filetime(img.child("CREATIONTIME"));
  r.last_modification_time = xml_filetime(img.child("LASTMODIFICATIONTIME"));
  r.wimboot = xml_number(img.child("WIMBOOT")) != 0;
  if (pugi::xml_node w = img.child("WINDOWS")) {
    WindowsInfo wi;
    wi.arch = xml_number(w.child("ARCH"));
    wi.product_name = xml_text(w.child("PRODUCTNAME"));
    wi.edition_id = xml_text(w.child("EDITIONID"));
    wi.installation_type = xml_text(w.child("INSTALLATIONTYPE"));
    wi.hal = xml_text(w.child("HAL"));
    wi.product_type = xml_text(w.child("PRODUCTTYPE"));
    wi.product_suite = xml_text(w.child("PRODUCTSUITE"));
    if (pugi::xml_node l = w.child("LANGUAGES")) {
      wi.has_languages = true;
      for (pugi::xml_node lang : l.children("LANGUAGE"))
        if (auto t = xml_text(lang)) wi.languages.push_back(*t);
      wi.default_language = xml_text(l.child("DEFAULT"));
    }
    wi.system_root = xml_text(w.child("SYSTEMROOT"));
    if (pugi::xml_node v = w.child("VERSION")) {
      wi.has_version = true;
      wi.major = xml_number(v.child("MAJOR"));
      wi.minor = xml_number(v.child("MINOR"));
      wi.build = xml_number(v.child("BUILD"));
      wi.sp_build = xml_number(v.child("SPBUILD"));
      wi.sp_level = xml_number(v.child("SPLEVEL"));
    }
    r.windows = std::move(wi);
  }
  return r;
}

namespace {

struct Step {
  std::string name;
  size_t n = 1;  // 1-based occurrence
};

bool name_char(char c, bool first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || (unsigned char)c >= 0x80) return true;
  return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

std::vector<Step> parse_path(const std::string& path) {
  auto bad = [&] { fail(Errc::Usage, "the XML path \"" + path + "\" has invalid syntax (expected NAME[/NAME[n]]...)"); };
  std::vector<Step> steps;
  size_t i = 0;
  for (;;) {
    size_t j = path.find('/', i);
    std::string comp = path.substr(i, j == std::string::npos ? std::string::npos : j - i);
    Step s;
    size_t br = comp.find('[');
    s.name = comp.substr(0, br);
    if (s.name.empty()) bad();
    for (size_t k = 0; k < s.name.size(); k++)
      if (!name_char(s.name[k], k == 0)) bad();
    if (br != std::string::npos) {
      std::string num = comp.substr(br + 1);
      if (num.size() < 2 || num.back() != ']') bad();
      num.pop_back();
      if (num.find_first_not_of("0123456789") != std::string::npos || num.size() > 9) bad();
      s.n = std::strtoul(num.c_str(), nullptr, 10);
      if (s.n == 0) bad();
    }
    steps.push_back(std::move(s));
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return steps;
}

// The n-th child named `name`; `count` gets how many there are when absent.
pugi::xml_node nth_child(pugi::xml_node parent, const Step& s, size_t& count) {
  count = 0;
  for (pugi::xml_node c : parent.children(s.name.c_str()))
    if (++count == s.n) return c;
  return {};
}

}  // namespace

void set_image_property(pugi::xml_node image, const std::string& path, const std::string& value) {
  std::vector<Step> steps = parse_path(path);
  pugi::xml_node node = image;
  for (const Step& s : steps) {
    size_t count = 0;
    pugi::xml_node c = nth_child(node, s, count);
    if (!c) {
      if (s.n > count + 1)
        fail(Errc::Usage, "cannot set the property " + path + ": there is no element " + s.name + "[" +
                              std::to_string(s.n - 1) + "] before it (add elements in order)");
      if (value.empty()) return;  // removing what is not there
      c = node.append_child(s.name.c_str());
    }
    node = c;
  }
  if (value.empty()) {
    node.parent().remove_child(node);
    return;
  }
  while (node.first_child()) node.remove_child(node.first_child());
  node.append_child(pugi::node_pcdata).set_value(value.c_str());
}

std::string get_image_property(pugi::xml_node image, const std::string& path) {
  pugi::xml_node node = image;
  for (const Step& s : parse_path(path)) {
    size_t count = 0;
    node = nth_child(node, s, count);
    if (!node) return "";
  }
  return xml_text(node).value_or("");
}

}  // namespace wp::wim
