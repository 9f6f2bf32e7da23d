// An image's XML entry (wim-format.md §6) read the way wimlib reads it, for
// `info`: the statistics, times and the Windows fields (WINDOWS/ARCH,
// PRODUCTNAME, LANGUAGES, VERSION, ...), with wimlib's rules for odd values,
// so that `wimpack info` prints exactly what wimlib-imagex prints; and
// --image-property paths ("WINDOWS/LANGUAGES/LANGUAGE[2]") as wimlib takes
// them.
#pragma once

#include <pugixml.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wp::wim {

// An element's text as wimlib sees it: its first plain text child (CDATA
// sections and nested elements do not count); nullopt when it has none or
// the element is absent.
std::optional<std::string> xml_text(pugi::xml_node el);
// A number as wimlib parses one: strtoull over the whole text in `base`
// (leading white space, '+' and '-' accepted as strtoull takes them); 0 when
// the text is absent, empty, has trailing characters, or overflows.
uint64_t xml_number(pugi::xml_node el, int base = 10);
// <HIGHPART>/<LOWPART> (hexadecimal, each parsed as xml_number) as a FILETIME.
uint64_t xml_filetime(pugi::xml_node el);

struct WindowsInfo {
  uint64_t arch = 0;
  std::optional<std::string> product_name, edition_id, installation_type, hal, product_type, product_suite;
  bool has_languages = false;
  std::vector<std::string> languages;
  std::optional<std::string> default_language, system_root;
  bool has_version = false;
  uint64_t major = 0, minor = 0, build = 0, sp_build = 0, sp_level = 0;
};

struct ImageInfo {
  size_t index = 0;
  std::optional<std::string> name, description, display_name, display_description, flags;
  uint64_t dir_count = 0, file_count = 0, total_bytes = 0, hard_link_bytes = 0;
  uint64_t creation_time = 0, last_modification_time = 0;
  std::optional<WindowsInfo> windows;
  bool wimboot = false;
};

ImageInfo read_image_info(pugi::xml_node image, size_t index);
// WINDOWS/ARCH as wimlib names it: "x86", "x86_64", "ARM64", ... or "unknown".
const char* arch_name(uint64_t arch);

// --image-property NAME=VALUE on one IMAGE element. NAME is a path of
// element names separated by '/', each optionally followed by "[n]" (the
// n-th element of that name, 1-based; n may be one past the last, which adds
// one). An empty VALUE removes the element. Throws Errc::Usage for a bad path.
void set_image_property(pugi::xml_node image, const std::string& name, const std::string& value);
// The property's current text ("" if absent), for "already has value".
std::string get_image_property(pugi::xml_node image, const std::string& name);

}  // namespace wp::wim
