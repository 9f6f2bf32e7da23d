// Self-describing delta chains (docs/delta-chains.md): a delta image names
// its bases in its XML (DeltaBase); readers find them without --ref, check
// their GUIDs and follow chains (a delta of a delta).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "wim/archive.hpp"
#include "wim/xml_info.hpp"

namespace wp::wim {

// What a delta written to `delta_path` records about `base`: its GUID, the
// image it was made from (0: none) and its path, relative to the delta's
// directory when both are on the file system ("-": the absolute path).
DeltaBase make_delta_base(const Archive& base, const std::string& delta_path, uint32_t image = 0);

// Adds the archives `explicit_refs` names (paths, globs already expanded) to
// `archive` as --ref archives, then every delta base named by `archive`'s
// images, or by those of a base (recursively), that is not among them yet.
// A base is looked for at its recorded path (relative to the directory of
// the delta that names it), then as a file of the same name in that
// directory, then as any *.wim there with its GUID; a file with another GUID
// is not it. Throws Errc::NotFound for a base found nowhere (naming the file
// expected, its GUID and the --ref to pass) or only as another archive
// (naming both GUIDs), and Errc::BadArchive for a chain deeper than
// kMaxDeltaDepth.
void resolve_delta_bases(Archive& archive, const std::vector<std::string>& explicit_refs);

constexpr unsigned kMaxDeltaDepth = 64;

// One recorded base of the chain, as `resolve_delta_bases` would find it.
struct DeltaLink {
  std::string named_by;  // the archive whose image names it
  size_t image = 0;      // that image
  unsigned depth = 1;    // 1: a base of the archive itself, 2: a base of a base...
  DeltaBase base;        // as recorded
  std::string expected;  // the recorded path, resolved against named_by's directory
  enum class Status { Found, Missing, WrongGuid } status = Status::Missing;
  std::string found;                      // the file that holds it (Found) or has another GUID (WrongGuid)
  std::array<uint8_t, 16> found_guid{};  // that file's GUID
};

// The whole chain as found without --ref (for info); never throws for a
// missing base, which is reported and not followed.
std::vector<DeltaLink> describe_delta_chain(const Archive& archive);

const char* delta_status_name(DeltaLink::Status s);  // "found", "missing", "wrong-guid"

}  // namespace wp::wim
