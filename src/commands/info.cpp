// wimpack info WIMFILE [IMAGE [NEW_NAME [NEW_DESC]]] (wiminfo(1)): shows an
// archive and its images in exactly wimlib-imagex's format (fields, order,
// wording, values), or its header, blob table or raw XML; or changes an
// image's name, description and properties, or the boot index, in place
// through ArchiveUpdate (wim-format.md §14.2).
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "commands/common.hpp"
#include "commands/write_options.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/filetime.hpp"
#include "util/printable.hpp"
#include "wim/archive.hpp"
#include "wim/delta_chain.hpp"
#include "wim/archive_update.hpp"
#include "wim/image_info.hpp"
#include "wim/integrity.hpp"

namespace wp::cmd {
namespace {

struct InfoArgs {
  std::vector<std::string> positional;
  std::vector<std::string> properties;
  std::string extract_xml;
  bool header = false, blobs = false, xml = false, json = false;
  bool check = false, nocheck = false, include_integrity = false, boot = false;
};

std::string hex_guid(const std::array<uint8_t, 16>& g) {
  std::string s;
  char b[3];
  for (uint8_t x : g) std::snprintf(b, sizeof b, "%02x", x), s += b;
  return s;
}

// XML text is the archive's: wimlib-imagex prints it raw; we do too, except
// for control characters other than tab and newline (the only ones XML text
// can carry besides CR), which are shown escaped so they cannot drive the
// terminal.
std::string shown(const std::string& s) {
  std::string o;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find_first_of("\t\n", i);
    if (j == std::string::npos) j = s.size();
    o += printable(std::string_view(s).substr(i, j - i));
    if (j < s.size()) o += s[j];
    i = j + 1;
  }
  return o;
}

std::string json_opt(const std::optional<std::string>& s) { return s ? json_string(*s) : std::string("null"); }


// "Attributes:" as wimlib-imagex lists them, in its order.
std::string attributes_text(const wim::Archive& a) {
  const auto& h = a.header();
  std::vector<const char*> v;
  if (h.pipable) v.push_back("Pipable");
  if (a.has_integrity()) v.push_back("Integrity info");
  if (h.flags & wim::kHdrRpFix) v.push_back("Relative path junction");
  if (h.flags & wim::kHdrResourceOnly) v.push_back("Resource only");
  if (h.flags & wim::kHdrMetadataOnly) v.push_back("Metadata only");
  if (h.flags & wim::kHdrReadonly) v.push_back("Readonly");
  std::string s;
  for (const char* x : v) s += std::string(s.empty() ? "" : ", ") + x;
  return s;
}

void print_image(const wim::Archive& a, size_t i) {
  wim::ImageInfo m = wim::read_image_info(a.xml().image(i), i);
  auto line = [](const char* label, const std::string& v) { std::printf("%-24s%s\n", label, v.c_str()); };
  auto num = [&](const char* label, uint64_t v) { line(label, std::to_string(v)); };
  auto opt = [&](const char* label, const std::optional<std::string>& v) {
    if (v) line(label, shown(*v));
  };
  num("Index:", i);
  line("Name:", shown(m.name.value_or("")));
  line("Description:", shown(m.description.value_or("")));
  opt("Display Name:", m.display_name);
  opt("Display Description:", m.display_description);
  num("Directory Count:", m.dir_count);
  num("File Count:", m.file_count);
  num("Total Bytes:", m.total_bytes);
  num("Hard Link Bytes:", m.hard_link_bytes);
  line("Creation Time:", format_filetime(m.creation_time));
  line("Last Modification Time:", format_filetime(m.last_modification_time));
  if (m.windows) {
    const wim::WindowsInfo& w = *m.windows;
    line("Architecture:", wim::arch_name(w.arch));
    opt("Product Name:", w.product_name);
    opt("Edition ID:", w.edition_id);
    opt("Installation Type:", w.installation_type);
    opt("HAL:", w.hal);
    opt("Product Type:", w.product_type);
    opt("Product Suite:", w.product_suite);
    if (w.has_languages) {
      std::string l;
      for (const auto& x : w.languages) l += shown(x) + " ";
      line("Languages:", l);
      opt("Default Language:", w.default_language);
    }
    opt("System Root:", w.system_root);
    if (w.has_version) {
      num("Major Version:", w.major);
      num("Minor Version:", w.minor);
      num("Build:", w.build);
      num("Service Pack Build:", w.sp_build);
      num("Service Pack Level:", w.sp_level);
    }
  }
  opt("Flags:", m.flags);
  line("WIMBoot compatible:", m.wimboot ? "yes" : "no");
  // wimpack's own: the bases of a delta image (--delta-from).
  for (const auto& b : a.xml().delta_bases(i)) {
    std::string v = shown(b.path) + " (GUID " + hex_guid(b.guid);
    if (b.image) v += ", image " + std::to_string(b.image) + (b.image_name.empty() ? "" : " \"" + shown(b.image_name) + "\"");
    line("Delta Base:", v + ")");
  }
  std::printf("\n");
}

void print_header(const wim::Archive& a) {
  const auto& h = a.header();
  auto field = [](const char* name, const std::string& v) { std::printf("%-28s= %s\n", name, v.c_str()); };
  auto hex = [](uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return std::string(b);
  };
  // wimlib-imagex spells two of the four "Original_size".
  auto res = [&](const std::string& name, const wim::ResHdr& r, bool underscore) {
    field((name + " Size").c_str(), std::to_string(r.size_in_wim));
    field((name + " Flags").c_str(), hex(r.flags));
    field((name + " Offset").c_str(), std::to_string(r.offset));
    field((name + (underscore ? " Original_size" : " Original Size")).c_str(), std::to_string(r.usize));
  };
  field("Magic Characters", h.pipable ? "WLPWM\\0\\0\\0" : "MSWIM\\0\\0\\0");
  field("Header Size", std::to_string(wim::kHeaderSize));
  field("Version", hex(h.version));
  field("Flags", hex(h.flags));
  static const std::pair<uint32_t, const char*> names[] = {
      {0x1, "RESERVED"},         {wim::kHdrCompression, "COMPRESSION"},
      {wim::kHdrReadonly, "READONLY"}, {wim::kHdrSpanned, "SPANNED"},
      {wim::kHdrResourceOnly, "RESOURCE_ONLY"}, {wim::kHdrMetadataOnly, "METADATA_ONLY"},
      {wim::kHdrWriteInProgress, "WRITE_IN_PROGRESS"}, {wim::kHdrRpFix, "RP_FIX"},
      {0x10000, "COMPRESS_RESERVED"}, {wim::kHdrXpress, "COMPRESS_XPRESS"},
      {wim::kHdrLzx, "COMPRESS_LZX"}, {wim::kHdrLzms, "COMPRESS_LZMS"},
      {wim::kHdrXpress2, "COMPRESS_XPRESS_2"}};
  for (const auto& [bit, name] : names)
    if (h.flags & bit) std::printf("    WIM_HDR_FLAG_%s is set\n", name);
  field("Chunk Size", std::to_string(h.chunk_size));
  field("GUID", hex_guid(h.guid));
  field("Part Number", std::to_string(h.part_number));
  field("Total Parts", std::to_string(h.total_parts));
  field("Image Count", std::to_string(h.image_count));
  res("Blob Table", h.blob_table, true);
  res("XML Data", h.xml, false);
  res("Boot Metadata", h.boot_metadata, false);
  field("Boot Index", std::to_string(h.boot_index));
  res("Integrity", h.integrity, true);
}

std::string reshdr_flags_text(uint8_t f) {
  std::string s;
  if (f & wim::kResCompressed) s += "WIM_RESHDR_FLAG_COMPRESSED  ";
  if (f & wim::kResMetadata) s += "WIM_RESHDR_FLAG_METADATA  ";
  if (f & wim::kResFree) s += "WIM_RESHDR_FLAG_FREE  ";
  if (f & wim::kResSpanned) s += "WIM_RESHDR_FLAG_SPANNED  ";
  if (f & wim::kResSolid) s += "WIM_RESHDR_FLAG_SOLID  ";
  return s;
}

bool is_solid_descriptor(const wim::BlobEntry& e) {
  return (e.reshdr.flags & wim::kResSolid) && e.reshdr.usize == wim::kSolidResourceMagic;
}

void print_blob(const wim::Archive& a, const wim::BlobEntry& e) {
  std::printf("Hash              = 0x%s\n", e.hash.hex().c_str());
  if (e.reshdr.flags & wim::kResSolid) {
    // A blob in a solid resource (§5.2): its size and offset are in the
    // resource's uncompressed data.
    std::printf("Uncompressed size = %" PRIu64 " bytes\n", e.reshdr.size_in_wim);
    auto it = a.blobs().find(e.hash);
    if (it != a.blobs().end()) {
      const wim::Resource& r = a.resources()[it->second.resource];
      std::printf("Solid resource    = %" PRIu64 " => %" PRIu64 " bytes @ offset %" PRIu64 "\n", r.usize, r.size_in_wim,
                  r.offset);
    }
    std::printf("Solid offset      = %" PRIu64 " bytes\n", e.reshdr.offset);
  } else {
    std::printf("Uncompressed size = %" PRIu64 " bytes\n", e.reshdr.usize);
    std::printf("Compressed size   = %" PRIu64 " bytes\n", e.reshdr.size_in_wim);
    std::printf("Offset in WIM     = %" PRIu64 " bytes\n", e.reshdr.offset);
  }
  std::printf("Part Number       = %u\n", e.part_number);
  std::printf("Reference Count   = %u\n", e.refcnt);
  std::printf("Flags             = %s\n\n", reshdr_flags_text(e.reshdr.flags).c_str());
}

// The blob table in wimlib-imagex's order: the images' metadata resources
// first, in image order, then the other blobs in the order of wimlib's hash
// table: bucket (the hash's first 8 bytes, little-endian, modulo a
// power-of-two capacity: the entry count rounded up), and
// within a bucket the last entry read first.
void print_blobs(const wim::Archive& a) {
  const auto& h = a.header();
  if (h.total_parts > 1)
    std::fprintf(stderr, "Warning: Only showing the blobs for part %u of a %u-part WIM.\n", h.part_number, h.total_parts);
  const auto& entries = a.entries();
  std::vector<bool> listed(entries.size(), false);
  for (size_t i = 1; i <= a.image_count(); i++) {
    const Sha1& hash = a.metadata(i).hash;
    for (size_t k = 0; k < entries.size(); k++)
      if (!listed[k] && (entries[k].reshdr.flags & wim::kResMetadata) && entries[k].hash == hash) {
        listed[k] = true;
        print_blob(a, entries[k]);
        break;
      }
  }
  uint64_t capacity = 1;
  while (capacity < entries.size()) capacity <<= 1;
  std::vector<std::pair<uint64_t, size_t>> order;  // (bucket, entry), entry descending within a bucket
  for (size_t k = 0; k < entries.size(); k++) {
    const auto& e = entries[k];
    if (listed[k] || is_solid_descriptor(e) || (e.reshdr.flags & wim::kResMetadata)) continue;
    uint64_t key = 0;
    for (int b = 7; b >= 0; b--) key = (key << 8) | e.hash.bytes[size_t(b)];
    order.push_back({key & (capacity - 1), k});
  }
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first : x.second > y.second;
  });
  for (const auto& [bucket, k] : order) print_blob(a, entries[k]);
}

std::string delta_base_json(const wim::DeltaBase& b) {
  return "{\"path\":" + json_string(b.path) + ",\"relative_to_archive\":" + (b.relative_to_archive ? "true" : "false") +
         ",\"guid\":" + json_string(hex_guid(b.guid)) + ",\"image\":" + (b.image ? std::to_string(b.image) : "null") +
         ",\"image_name\":" + (b.image ? json_string(b.image_name) : "null") + "}";
}

void print_json(const wim::Archive& a, const std::vector<size_t>& images, bool blobs) {
  const auto& h = a.header();
  std::string o = "{";
  // "version" is the WIM format's; the schema's is "schema_version".
  o += "\"schema_version\":" + std::to_string(events::kSchemaVersion);
  o += ",\"path\":" + json_string(a.path());
  o += ",\"guid\":" + json_string(hex_guid(h.guid));
  o += ",\"version\":" + std::to_string(h.version);
  o += ",\"flags\":" + std::to_string(h.flags);
  o += ",\"image_count\":" + std::to_string(a.xml().image_count());
  o += ",\"compression\":" + json_string(codec_name(h.codec()));
  o += ",\"chunk_size\":" + std::to_string(h.chunk_size);
  o += ",\"part_number\":" + std::to_string(h.part_number);
  o += ",\"total_parts\":" + std::to_string(h.total_parts);
  o += ",\"boot_index\":" + std::to_string(h.boot_index);
  o += ",\"size\":" + std::to_string(a.file().size());
  o += ",\"xml_total_bytes\":" + std::to_string(wim::xml_number(a.xml().root().child("TOTALBYTES")));
  o += ",\"integrity_table\":" + std::string(a.has_integrity() ? "true" : "false");
  o += ",\"rpfix\":" + std::string((h.flags & wim::kHdrRpFix) ? "true" : "false");
  o += ",\"pipable\":" + std::string(h.pipable ? "true" : "false");
  o += ",\"images\":[";
  for (size_t k = 0; k < images.size(); k++) {
    size_t i = images[k];
    wim::ImageInfo m = wim::read_image_info(a.xml().image(i), i);
    if (k) o += ",";
    o += "{\"index\":" + std::to_string(i);
    o += ",\"name\":" + json_string(m.name.value_or(""));
    o += ",\"description\":" + json_string(m.description.value_or(""));
    o += ",\"display_name\":" + json_opt(m.display_name);
    o += ",\"display_description\":" + json_opt(m.display_description);
    o += ",\"dir_count\":" + std::to_string(m.dir_count);
    o += ",\"file_count\":" + std::to_string(m.file_count);
    o += ",\"total_bytes\":" + std::to_string(m.total_bytes);
    o += ",\"hard_link_bytes\":" + std::to_string(m.hard_link_bytes);
    o += ",\"creation_time\":" + json_string(format_filetime_iso(m.creation_time));
    o += ",\"last_modification_time\":" + json_string(format_filetime_iso(m.last_modification_time));
    o += ",\"flags\":" + json_string(m.flags.value_or(""));
    o += ",\"wimboot\":" + std::string(m.wimboot ? "true" : "false");
    o += ",\"bootable\":" + std::string(h.boot_index == i ? "true" : "false");
    if (m.windows) {
      const wim::WindowsInfo& w = *m.windows;
      o += ",\"windows\":{\"arch\":" + std::to_string(w.arch) + ",\"arch_name\":" + json_string(wim::arch_name(w.arch));
      o += ",\"product_name\":" + json_opt(w.product_name) + ",\"edition_id\":" + json_opt(w.edition_id);
      o += ",\"installation_type\":" + json_opt(w.installation_type) + ",\"hal\":" + json_opt(w.hal);
      o += ",\"product_type\":" + json_opt(w.product_type) + ",\"product_suite\":" + json_opt(w.product_suite);
      o += ",\"languages\":[";
      for (size_t l = 0; l < w.languages.size(); l++) o += (l ? "," : "") + json_string(w.languages[l]);
      o += "],\"default_language\":" + json_opt(w.default_language) + ",\"system_root\":" + json_opt(w.system_root);
      if (w.has_version)
        o += ",\"version\":{\"major\":" + std::to_string(w.major) + ",\"minor\":" + std::to_string(w.minor) +
             ",\"build\":" + std::to_string(w.build) + ",\"sp_build\":" + std::to_string(w.sp_build) +
             ",\"sp_level\":" + std::to_string(w.sp_level) + "}";
      else
        o += ",\"version\":null";
      o += "}";
    } else {
      o += ",\"windows\":null";
    }
    o += ",\"delta_bases\":[";
    auto bases = a.xml().delta_bases(i);
    for (size_t b = 0; b < bases.size(); b++) o += std::string(b ? "," : "") + delta_base_json(bases[b]);
    o += "]}";
  }
  o += "]";
  // The whole chain, as apply would find it without --ref.
  o += ",\"delta_chain\":[";
  auto chain = wim::describe_delta_chain(a);
  for (size_t k = 0; k < chain.size(); k++) {
    const auto& l = chain[k];
    o += std::string(k ? "," : "") + "{\"named_by\":" + json_string(l.named_by) + ",\"image\":" + std::to_string(l.image) +
         ",\"depth\":" + std::to_string(l.depth) + ",\"base\":" + delta_base_json(l.base) +
         ",\"expected\":" + json_string(l.expected) + ",\"status\":" + json_string(wim::delta_status_name(l.status)) +
         ",\"found\":" + (l.found.empty() ? std::string("null") : json_string(l.found)) +
         ",\"found_guid\":" + (l.found.empty() ? std::string("null") : json_string(hex_guid(l.found_guid))) + "}";
  }
  o += "]";
  if (blobs) {
    o += ",\"blobs\":[";
    bool first = true;
    for (const auto& e : a.entries()) {
      if (e.hash.is_zero() || is_solid_descriptor(e)) continue;
      bool solid = e.reshdr.flags & wim::kResSolid;
      if (!first) o += ",";
      first = false;
      o += "{\"hash\":" + json_string(e.hash.hex());
      o += ",\"size\":" + std::to_string(solid ? e.reshdr.size_in_wim : e.reshdr.usize);
      o += ",\"stored_size\":" + (solid ? std::string("null") : std::to_string(e.reshdr.size_in_wim));
      o += ",\"offset\":" + std::to_string(e.reshdr.offset);
      o += ",\"part_number\":" + std::to_string(e.part_number);
      o += ",\"refcnt\":" + std::to_string(e.refcnt);
      o += ",\"metadata\":" + std::string((e.reshdr.flags & wim::kResMetadata) ? "true" : "false");
      o += ",\"compressed\":" + std::string((e.reshdr.flags & wim::kResCompressed) ? "true" : "false");
      o += ",\"solid\":" + std::string(solid ? "true" : "false") + "}";
    }
    o += "]";
  }
  o += "}";
  std::printf("%s\n", o.c_str());
}

// --check on a read: the integrity table is verified if there is one; a
// missing one is only a warning (wiminfo(1)).
void check_if_asked(const InfoArgs& a, const wim::Archive& w) {
  if (!a.check) return;
  if (w.has_integrity())
    verify_integrity_if_present(w);
  else
    warn("'" + w.path() + "' does not contain integrity information; skipping integrity check");
}

// The raw XML resource as stored (UTF-16LE with its BOM), as wimlib-imagex
// writes it for --xml and --extract-xml.
Bytes raw_xml(const wim::Archive& a) {
  const wim::ResHdr& x = a.header().xml;
  return a.file().read_bytes(x.offset, x.usize, "XML data");
}

void write_all(FILE* f, const Bytes& b, const std::string& what) {
  if (std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fflush(f) != 0)
    fail(Errc::Failure, "cannot write the XML data to " + what + ": " + errno_text(errno));
}

bool is_all(const std::string& s) { return s == "all" || s == "*"; }

// IMAGE for showing: a split part other than the first has no metadata but
// its XML lists every image, and wimlib-imagex shows them from there.
size_t resolve_for_info(const wim::Archive& a, const std::string& spec) {
  if (a.header().part_number == 1) return a.resolve_image(spec);
  size_t n = a.xml().image_count();
  if (!spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos) {
    size_t v = spec.size() < 10 ? size_t(std::stoul(spec)) : 0;
    if (v >= 1 && v <= n) return v;
    fail(Errc::NotFound, "'" + a.path() + "' has no image " + spec + " (it has " + std::to_string(n) + " image" +
                             (n == 1 ? "" : "s") + ")");
  }
  if (size_t i = a.xml().find_by_name(spec)) return i;
  fail(Errc::NotFound, "'" + a.path() + "' has no image named \"" + spec + "\" (see: wimpack info " + a.path() + ")");
}

// IMAGE NEW_NAME [NEW_DESC], --boot, --image-property: the changes, in
// wimlib-imagex's order and with its messages; the archive is written only
// if something changed (or its integrity table is to be added or removed).
void run_change(InfoArgs& a) {
  const std::string& path = a.positional[0];
  auto update = wim::ArchiveUpdate::open(path);
  wim::Archive* wim = update->existing();
  print_warnings(wim->warnings());
  check_if_asked(a, *wim);
  check_changeable(*wim);
  size_t n = wim->xml().image_count();
  size_t index = 0;
  if (a.positional.size() >= 2 && !is_all(a.positional[1])) {
    index = wim->resolve_image(a.positional[1]);
  } else if (n == 1) {
    index = 1;
  } else {
    fail(Errc::NotFound, std::string(a.boot ? "--boot" : "changing an image") + " needs a specific image of '" + path +
                             "' (it holds " + std::to_string(n) + " images); give IMAGE as an index or a name");
  }

  wim::XmlInfo& xml = wim->xml();
  bool changed = false;
  uint32_t boot = wim->header().boot_index;
  if (a.boot) {
    if (boot == index) {
      std::printf("Image %zu is already marked as bootable.\n", index);
    } else {
      std::printf("Marking image %zu as bootable.\n", index);
      boot = uint32_t(index);
      changed = true;
    }
  }
  auto set = [&](const std::string& name, const std::string& value) {
    pugi::xml_node img = xml.image(index);
    if (wim::get_image_property(img, name) == value) {
      std::printf("The %s property of image %zu already has value \"%s\".\n", name.c_str(), index, shown(value).c_str());
      return;
    }
    std::printf("Setting the %s property of image %zu to \"%s\".\n", name.c_str(), index, shown(value).c_str());
    for (unsigned char c : value)
      if (c < 0x20 && c != '\t' && c != '\n')
        fail(Errc::Usage, "the value of " + name + " must not contain control characters (WIM readers refuse them)");
    wim::set_image_property(img, name, value);
    changed = true;
    // Image names are unique within an archive (wiminfo(1), as wimlib).
    std::string new_name = wim::xml_text(img.child("NAME")).value_or("");
    if (!new_name.empty())
      for (size_t i = 1; i <= n; i++)
        if (i != index && wim::xml_text(xml.image(i).child("NAME")).value_or("") == new_name)
          fail(Errc::Usage, "cannot name image " + std::to_string(index) + " '" + shown(new_name) + "': image " +
                                std::to_string(i) + " of '" + path + "' already has that name");
  };
  for (const auto& p : a.properties) {
    size_t eq = p.find('=');
    if (eq == std::string::npos) fail(Errc::Usage, "--image-property expects NAME=VALUE, got '" + p + "'");
    set(p.substr(0, eq), p.substr(eq + 1));
  }
  if (a.positional.size() >= 3) set("NAME", a.positional[2]);
  if (a.positional.size() >= 4) set("DESCRIPTION", a.positional[3]);

  bool want_integrity = a.check || a.include_integrity;
  if (!changed && !(a.nocheck && wim->has_integrity()) && !(want_integrity && !wim->has_integrity())) {
    std::printf("The file \"%s\" was not modified because nothing needed to be done.\n", path.c_str());
    return;
  }

  WriteArgs write;
  write.check = want_integrity;
  write.nocheck = a.nocheck;
  WriteTarget target;
  target.existing = wim;
  target.keep_encoding = false;
  target.like = wim;
  target.inherit_solid = true;
  target.quiet = true;
  wim::WriterOptions wo = make_writer_options(write, target);
  wo.extra_header_flags = wim->header().flags & wim::kHdrRpFix;
  try {
    // In place (§14.2): the blob table, the new XML and the integrity table
    // go after the old tables, the header last; no data is rewritten.
    wim::ArchiveWriter& writer = update->begin(wo, true);
    if (!update->in_place()) writer.import_archive(*wim, false);  // carries the changed XML, GUID
    writer.header().boot_index = boot;
    update->commit();
  } catch (...) {
    update->rollback_and_rethrow();
  }
}

void run_info(InfoArgs& a) {
  if (a.positional.empty()) fail(Errc::Usage, "usage: wimpack info WIMFILE [IMAGE [NEW_NAME [NEW_DESC]]] [OPTIONS]");
  if (a.positional.size() > 2 || a.boot || !a.properties.empty()) {
    if (a.positional[0] == "-")
      fail(Errc::Usage, "a WIM on standard input ('-') cannot be changed (renamed, --boot, --image-property); "
                        "save it to a file first");
    if (a.positional.size() > 2 && is_all(a.positional[1]))
      fail(Errc::NotFound, "cannot rename 'all' images of '" + a.positional[0] + "'; give one image");
    run_change(a);
    return;
  }
  // WIMFILE "-": the whole archive is needed (the blob table and the final
  // header come last in a pipable WIM, §12.1), so it is copied to an
  // anonymous temporary file first.
  auto archive = a.positional[0] == "-" ? wim::Archive::open_stdin() : wim::Archive::open(a.positional[0]);
  print_warnings(archive->warnings());
  check_if_asked(a, *archive);
  std::vector<size_t> images;
  bool one = a.positional.size() == 2 && !is_all(a.positional[1]);
  if (one)
    images.push_back(resolve_for_info(*archive, a.positional[1]));
  else
    for (size_t i = 1; i <= archive->xml().image_count(); i++) images.push_back(i);

  if (a.json) {
    print_json(*archive, images, a.blobs);
    return;
  }
  // --header, --blobs, --xml, --extract-xml: only those, in wimlib-imagex's
  // order.
  if (a.header) print_header(*archive);
  if (a.blobs) print_blobs(*archive);
  if (a.xml || !a.extract_xml.empty()) {
    Bytes x = raw_xml(*archive);
    if (a.xml) write_all(stdout, x, "standard output");
    if (!a.extract_xml.empty()) {
      FILE* f = std::fopen(a.extract_xml.c_str(), "wb");
      if (!f) fail_errno("cannot create", a.extract_xml, errno);
      try {
        write_all(f, x, "'" + a.extract_xml + "'");
      } catch (...) {
        std::fclose(f);
        throw;
      }
      if (std::fclose(f) != 0) fail_errno("cannot write", a.extract_xml, errno);
    }
  }
  if (a.header || a.blobs || a.xml || !a.extract_xml.empty()) return;

  if (one) {
    std::string title = "Information for Image " + std::to_string(images[0]);
    std::printf("%s\n%s\n", title.c_str(), std::string(title.size(), '-').c_str());
    print_image(*archive, images[0]);
    return;
  }
  const auto& h = archive->header();
  std::printf("WIM Information:\n----------------\n");
  std::printf("Path:           %s\n", archive->path().c_str());
  std::printf("GUID:           0x%s\n", hex_guid(h.guid).c_str());
  std::printf("Version:        %u\n", h.version);
  std::printf("Image Count:    %zu\n", archive->xml().image_count());
  std::printf("Compression:    %s\n", codec_name(h.codec()));
  std::printf("Chunk Size:     %u bytes\n", h.chunk_size);
  std::printf("Part Number:    %u/%u\n", h.part_number, h.total_parts);
  std::printf("Boot Index:     %u\n", h.boot_index);
  // wimlib-imagex shows the XML's top-level TOTALBYTES here (what the writer
  // recorded), not the file's size.
  std::printf("Size:           %" PRIu64 " bytes\n", wim::xml_number(archive->xml().root().child("TOTALBYTES")));
  std::printf("Attributes:     %s\n\n", attributes_text(*archive).c_str());
  // From the XML: a split part other than the first lists the images too,
  // though only part 1 holds their metadata (as wimlib-imagex).
  std::printf("Available Images:\n-----------------\n");
  for (size_t i : images) print_image(*archive, i);
}

}  // namespace

void register_info(CLI::App& app) {
  static InfoArgs a;
  CLI::App* c = app.add_subcommand("info", "Show or change information about a WIM archive and its images");
  c->add_option("WIMFILE [IMAGE [NEW_NAME [NEW_DESC]]]", a.positional,
                "Archive; optionally one image (index or name), and a new name and description for it")
      ->required()
      ->expected(1, 4);
  c->add_flag("--header", a.header, "Show the header fields");
  c->add_flag("--blobs", a.blobs, "List the blob table");
  c->add_flag("--xml", a.xml, "Write the raw XML data (UTF-16LE) to standard output");
  c->add_option("--extract-xml", a.extract_xml, "Write the raw XML data (UTF-16LE) to FILE");
  c->add_flag("--json", a.json, "Print everything as one JSON document (stable keys, for scripts)");
  c->add_flag("--check", a.check,
              "Verify the integrity table if there is one; when changing the archive, write one");
  c->add_flag("--nocheck", a.nocheck, "When changing the archive, drop its integrity table");
  c->add_flag("--include-integrity", a.include_integrity,
              "When changing the archive, write an integrity table (without verifying the old one)");
  c->add_flag("--boot", a.boot, "Mark IMAGE as the bootable image");
  c->add_option("--image-property", a.properties,
                "Set a property of IMAGE: NAME=VALUE, NAME a path such as WINDOWS/VERSION/BUILD or "
                "WINDOWS/LANGUAGES/LANGUAGE[2]; an empty VALUE removes it (repeatable)")
      ->allow_extra_args(false);
  c->callback([] { run_info(a); });
}

}  // namespace wp::cmd
