// wimpack info WIMFILE [IMAGE]
#include <cinttypes>
#include <cstdio>

#include "commands/common.hpp"
#include "util/error.hpp"
#include "util/filetime.hpp"
#include "util/printable.hpp"
#include "wim/archive.hpp"

namespace wp::cmd {
namespace {

struct InfoArgs {
  std::vector<std::string> positional;
  bool header = false, blobs = false, xml = false, json = false, check = false;
};

std::string hex_guid(const std::array<uint8_t, 16>& g) {
  std::string s;
  char b[3];
  for (uint8_t x : g) std::snprintf(b, sizeof b, "%02x", x), s += b;
  return s;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += char(c);
        }
    }
  }
  return o + "\"";
}

const char* attributes_text(uint32_t flags) {
  return (flags & wim::kHdrRpFix) ? "Relative path junction" : "";
}

void print_image(const wim::Archive& a, size_t i) {
  const auto& x = a.xml();
  // XML text is the archive's: control characters are shown escaped.
  auto get = [&](const char* el) { return printable(x.get(i, el)); };
  std::printf("Index:                  %zu\n", i);
  std::printf("Name:                   %s\n", get("NAME").c_str());
  std::printf("Description:            %s\n", get("DESCRIPTION").c_str());
  if (!x.get(i, "DISPLAYNAME").empty()) std::printf("Display Name:           %s\n", get("DISPLAYNAME").c_str());
  if (!x.get(i, "DISPLAYDESCRIPTION").empty())
    std::printf("Display Description:    %s\n", get("DISPLAYDESCRIPTION").c_str());
  std::printf("Directory Count:        %s\n", get("DIRCOUNT").c_str());
  std::printf("File Count:             %s\n", get("FILECOUNT").c_str());
  std::printf("Total Bytes:            %s\n", get("TOTALBYTES").c_str());
  std::printf("Hard Link Bytes:        %s\n", get("HARDLINKBYTES").c_str());
  std::printf("Creation Time:          %s\n", format_filetime(x.get_time(i, "CREATIONTIME")).c_str());
  std::printf("Last Modification Time: %s\n", format_filetime(x.get_time(i, "LASTMODIFICATIONTIME")).c_str());
  if (!x.get(i, "FLAGS").empty()) std::printf("Flags:                  %s\n", get("FLAGS").c_str());
  std::printf("WIMBoot compatible:     %s\n", x.get(i, "WIMBOOT") == "1" ? "yes" : "no");
  if ((size_t)a.header().boot_index == i) std::printf("Bootable:               yes\n");
  std::printf("\n");
}

void print_header(const wim::Archive& a) {
  const auto& h = a.header();
  auto res = [](const char* name, const wim::ResHdr& r) {
    std::printf("%-28s= %" PRIu64 "\n", (std::string(name) + " Size").c_str(), r.size_in_wim);
    std::printf("%-28s= 0x%x\n", (std::string(name) + " Flags").c_str(), r.flags);
    std::printf("%-28s= %" PRIu64 "\n", (std::string(name) + " Offset").c_str(), r.offset);
    std::printf("%-28s= %" PRIu64 "\n", (std::string(name) + " Original Size").c_str(), r.usize);
  };
  std::printf("%-28s= %s\n", "Magic Characters", h.pipable ? "WLPWM\\0\\0\\0" : "MSWIM\\0\\0\\0");
  std::printf("%-28s= %zu\n", "Header Size", wim::kHeaderSize);
  std::printf("%-28s= 0x%x\n", "Version", h.version);
  std::printf("%-28s= 0x%x\n", "Flags", h.flags);
  std::printf("%-28s= %u\n", "Chunk Size", h.chunk_size);
  std::printf("%-28s= %s\n", "GUID", hex_guid(h.guid).c_str());
  std::printf("%-28s= %u\n", "Part Number", h.part_number);
  std::printf("%-28s= %u\n", "Total Parts", h.total_parts);
  std::printf("%-28s= %u\n", "Image Count", h.image_count);
  res("Blob Table", h.blob_table);
  res("XML Data", h.xml);
  res("Boot Metadata", h.boot_metadata);
  std::printf("%-28s= %u\n", "Boot Index", h.boot_index);
  res("Integrity", h.integrity);
  std::printf("\n");
}

std::string flags_text(uint8_t f) {
  std::string s;
  if (f & wim::kResMetadata) s += "METADATA ";
  if (f & wim::kResCompressed) s += "COMPRESSED ";
  if (f & wim::kResSolid) s += "SOLID ";
  if (f & wim::kResFree) s += "FREE ";
  if (f & wim::kResSpanned) s += "SPANNED ";
  if (!s.empty()) s.pop_back();
  return s;
}

void print_blobs(const wim::Archive& a) {
  for (const auto& e : a.entries()) {
    if (e.reshdr.usize == wim::kSolidResourceMagic && (e.reshdr.flags & wim::kResSolid)) {
      std::printf("Solid resource:    %" PRIu64 " bytes at offset %" PRIu64 "\n\n", e.reshdr.size_in_wim, e.reshdr.offset);
      continue;
    }
    std::printf("Hash              = 0x%s\n", e.hash.hex().c_str());
    bool solid = e.reshdr.flags & wim::kResSolid;
    std::printf("Uncompressed size = %" PRIu64 " bytes\n", solid ? e.reshdr.size_in_wim : e.reshdr.usize);
    if (!solid) std::printf("Compressed size   = %" PRIu64 " bytes\n", e.reshdr.size_in_wim);
    std::printf("%s = %" PRIu64 "%s\n", solid ? "Offset in solid  " : "Offset in WIM    ", e.reshdr.offset, solid ? "" : " bytes");
    std::printf("Part Number       = %u\n", e.part_number);
    std::printf("Reference Count   = %u\n", e.refcnt);
    std::printf("Flags             = %s\n\n", flags_text(e.reshdr.flags).c_str());
  }
}

void print_json(const wim::Archive& a, const std::vector<size_t>& images, bool blobs) {
  const auto& h = a.header();
  std::string o = "{";
  o += "\"path\":" + json_str(a.path());
  o += ",\"guid\":" + json_str(hex_guid(h.guid));
  o += ",\"version\":" + std::to_string(h.version);
  o += ",\"flags\":" + std::to_string(h.flags);
  o += ",\"image_count\":" + std::to_string(a.image_count());
  o += ",\"compression\":" + json_str(codec_name(h.codec()));
  o += ",\"chunk_size\":" + std::to_string(h.chunk_size);
  o += ",\"part_number\":" + std::to_string(h.part_number);
  o += ",\"total_parts\":" + std::to_string(h.total_parts);
  o += ",\"boot_index\":" + std::to_string(h.boot_index);
  o += ",\"size\":" + std::to_string(a.file().size());
  o += ",\"integrity_table\":" + std::string(a.has_integrity() ? "true" : "false");
  o += ",\"rpfix\":" + std::string((h.flags & wim::kHdrRpFix) ? "true" : "false");
  o += ",\"images\":[";
  const auto& x = a.xml();
  for (size_t k = 0; k < images.size(); k++) {
    size_t i = images[k];
    auto num = [&](const char* el) {
      std::string v = x.get(i, el);
      return v.empty() ? std::string("0") : std::to_string(std::strtoull(v.c_str(), nullptr, 10));
    };
    if (k) o += ",";
    o += "{\"index\":" + std::to_string(i);
    o += ",\"name\":" + json_str(x.get(i, "NAME"));
    o += ",\"description\":" + json_str(x.get(i, "DESCRIPTION"));
    o += ",\"dir_count\":" + num("DIRCOUNT");
    o += ",\"file_count\":" + num("FILECOUNT");
    o += ",\"total_bytes\":" + num("TOTALBYTES");
    o += ",\"hard_link_bytes\":" + num("HARDLINKBYTES");
    o += ",\"creation_time\":" + json_str(format_filetime_iso(x.get_time(i, "CREATIONTIME")));
    o += ",\"last_modification_time\":" + json_str(format_filetime_iso(x.get_time(i, "LASTMODIFICATIONTIME")));
    o += ",\"flags\":" + json_str(x.get(i, "FLAGS"));
    o += ",\"bootable\":" + std::string(h.boot_index == i ? "true" : "false");
    o += "}";
  }
  o += "]";
  if (blobs) {
    o += ",\"blobs\":[";
    bool first = true;
    for (const auto& e : a.entries()) {
      if (e.hash.is_zero()) continue;
      bool solid = e.reshdr.flags & wim::kResSolid;
      if (!first) o += ",";
      first = false;
      o += "{\"hash\":" + json_str(e.hash.hex());
      o += ",\"size\":" + std::to_string(solid ? e.reshdr.size_in_wim : e.reshdr.usize);
      o += ",\"stored_size\":" + (solid ? std::string("null") : std::to_string(e.reshdr.size_in_wim));
      o += ",\"offset\":" + std::to_string(e.reshdr.offset);
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

void run_info(InfoArgs& a) {
  if (a.positional.empty()) fail(Errc::Usage, "usage: wimpack info WIMFILE [IMAGE]");
  if (a.positional.size() > 2)
    fail(Errc::Unsupported, "changing an image's name or description with 'info' is not supported yet");
  auto archive = wim::Archive::open(a.positional[0], a.check);
  print_warnings(archive->warnings());
  std::vector<size_t> images;
  if (a.positional.size() == 2 && a.positional[1] != "all" && a.positional[1] != "*")
    images.push_back(archive->resolve_image(a.positional[1]));
  else
    for (size_t i = 1; i <= archive->xml().image_count(); i++) images.push_back(i);

  if (a.json) {
    print_json(*archive, images, a.blobs);
    return;
  }
  if (a.xml) {
    std::printf("%s\n", archive->xml().to_utf8().c_str());
    return;
  }
  if (a.header) print_header(*archive);
  if (a.blobs) print_blobs(*archive);
  if (a.header || a.blobs) return;
  const auto& h = archive->header();
  if (a.positional.size() == 1) {
    std::printf("WIM Information:\n----------------\n");
    std::printf("Path:           %s\n", archive->path().c_str());
    std::printf("GUID:           0x%s\n", hex_guid(h.guid).c_str());
    std::printf("Version:        %u\n", h.version);
    std::printf("Image Count:    %zu\n", archive->xml().image_count());
    std::printf("Compression:    %s\n", codec_name(h.codec()));
    std::printf("Chunk Size:     %u bytes\n", h.chunk_size);
    std::printf("Part Number:    %u/%u\n", h.part_number, h.total_parts);
    std::printf("Boot Index:     %u\n", h.boot_index);
    std::printf("Size:           %" PRIu64 " bytes\n", archive->file().size());
    std::printf("Attributes:     %s%s%s\n", attributes_text(h.flags), archive->has_integrity() ? ", Integrity info" : "",
                (h.flags & wim::kHdrReadonly) ? ", Readonly" : "");
    std::printf("\n");
    if (archive->xml().image_count()) std::printf("Available Images:\n-----------------\n");
  }
  // From the XML: a split part other than the first lists the images too,
  // though only part 1 holds their metadata (as wimlib-imagex).
  for (size_t i : images) print_image(*archive, i);
}

}  // namespace

void register_info(CLI::App& app) {
  static InfoArgs a;
  CLI::App* c = app.add_subcommand("info", "Show information about a WIM archive and its images");
  c->add_option("WIMFILE [IMAGE]", a.positional, "Archive, and optionally one image (index or name)")->required()->expected(1, 4);
  c->add_flag("--header", a.header, "Show the raw header fields");
  c->add_flag("--blobs", a.blobs, "List the blob table");
  c->add_flag("--xml", a.xml, "Print the XML data (as UTF-8)");
  c->add_flag("--json", a.json, "Print everything as one JSON document (stable keys, for scripts)");
  c->add_flag("--check", a.check, "Verify the integrity table");
  c->callback([] { run_info(a); });
}

}  // namespace wp::cmd
