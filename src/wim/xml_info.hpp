// The XML data (wim-format.md §6): UTF-16LE with a BOM, root <WIM>, one
// <IMAGE INDEX="n"> per image. Kept as a pugixml document so elements we do
// not generate (WINDOWS, SERVICINGDATA, ...) survive untouched.
#pragma once

#include <pugixml.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/image.hpp"
#include "util/bytes.hpp"
#include "util/filetime.hpp"

namespace wp::wim {

// A --delta-from base a wimpack delta image names in its XML (wimpack's
// WIMPACK_DELTA_BASE element, docs/delta-chains.md): PATH, GUID as 32
// lowercase hex digits and, when the delta was made from one of its images
// (--update-of), IMAGE_INDEX and IMAGE_NAME. PATH is relative to the delta
// archive's directory when PATH's RELATIVE_TO attribute is "ARCHIVE" (or
// absolute); the old form (no attribute) holds the path as given to
// --delta-from, relative to the directory capture ran in.
struct DeltaBase {
  std::string path;
  std::array<uint8_t, 16> guid{};
  bool relative_to_archive = false;  // new form: PATH is relative to the delta's directory
  uint32_t image = 0;                // the base image the delta was made from; 0 if none
  std::string image_name;
  bool operator==(const DeltaBase&) const = default;
};

class XmlInfo {
public:
  XmlInfo();
  XmlInfo(XmlInfo&&) = default;
  XmlInfo& operator=(XmlInfo&&) = default;

  // Parses and validates (root WIM, INDEX 1..n each once, no ESD/ENCRYPTED).
  static XmlInfo parse(ByteSpan utf16le, const std::string& path);
  // UTF-16LE, BOM, no declaration, no whitespace; TOTALBYTES written last.
  Bytes encode(uint64_t total_bytes) const;
  // The copy at the start of a pipable WIM (§12.1): no top-level TOTALBYTES.
  Bytes encode_without_total() const;
  std::string to_utf8() const;  // same document as UTF-8 text (for --xml)
  XmlInfo clone() const;        // an independent copy (for rewriting an archive)

  size_t image_count() const;
  pugi::xml_node root() const;  // the <WIM> element (read-only use: info)
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

  // Image properties (--image-property NAME=VALUE): `path` names an element
  // under IMAGE, nested with "/" (e.g. WINDOWS/VERSION/MAJOR); each part is
  // letters, digits, '_' or '-'. set_property creates missing elements and
  // throws Errc::Usage for an invalid path or a value with control
  // characters (other than tab and newline) that WIM readers refuse.
  // get_property: the element's text, "" if absent or the path is invalid.
  std::string get_property(size_t index, const std::string& path) const;
  void set_property(size_t index, const std::string& path, const std::string& value);
  static bool valid_property_path(const std::string& path);

  // The delta bases image `index` names, in the order they were added
  // (entries without a PATH are skipped; a malformed GUID reads as zeros).
  std::vector<DeltaBase> delta_bases(size_t index) const;
  void add_delta_base(size_t index, const DeltaBase& base);
  void remove_delta_bases(size_t index);  // the image no longer needs them (export copied their blobs)

private:
  Bytes encode_impl(bool with_total, uint64_t total_bytes) const;
  std::unique_ptr<pugi::xml_document> doc_;
};


}  // namespace wp::wim
