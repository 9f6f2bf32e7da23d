// The XML data (wim-format.md §6): UTF-16LE with a BOM, root <WIM>, one
// <IMAGE INDEX="n"> per image. Kept as a pugixml document so elements we do
// not generate (WINDOWS, SERVICINGDATA, ...) survive untouched.
#pragma once

#include <pugixml.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "image/image.hpp"
#include "util/bytes.hpp"
#include "util/filetime.hpp"

namespace wp::wim {

class XmlInfo {
public:
  XmlInfo();
  XmlInfo(XmlInfo&&) = default;
  XmlInfo& operator=(XmlInfo&&) = default;

  // Parses and validates (root WIM, INDEX 1..n each once, no ESD/ENCRYPTED).
  static XmlInfo parse(ByteSpan utf16le, const std::string& path);
  // UTF-16LE, BOM, no declaration, no whitespace; TOTALBYTES written last.
  Bytes encode(uint64_t total_bytes) const;
  std::string to_utf8() const;  // same document as UTF-8 text (for --xml)
  XmlInfo clone() const;        // an independent copy (for rewriting an archive)

  size_t image_count() const;
  pugi::xml_node image(size_t index) const;  // 1-based; throws if absent

  std::string get(size_t index, const char* element) const;  // "" if absent
  void set(size_t index, const char* element, const std::string& value);  // empty value removes
  // Finds an image by NAME; 0 if none.
  size_t find_by_name(const std::string& name) const;

  size_t add_image(const std::string& name, uint64_t creation_time);
  // Appends a copy of another document's IMAGE element (export, §6.4) as
  // the last image; returns its index.
  size_t add_image_copy(pugi::xml_node image);
  void remove_image(size_t index);  // renumbers the following images
  void set_stats(size_t index, const image::ImageStats& s, uint64_t modification_time);
  uint64_t get_time(size_t index, const char* element) const;  // FILETIME, 0 if absent

private:
  std::unique_ptr<pugi::xml_document> doc_;
};


}  // namespace wp::wim
