// Split WIMs (wim-format.md §13.1): writing the parts of an archive, and
// checking that a set of parts belongs together (join, apply --ref).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wim/archive.hpp"

namespace wp::wim {

// "x.swm" -> "x.swm" (part 1), "x2.swm", "x3.swm", ...: the part number goes
// before the extension of the file name (or at the end if it has none).
std::string split_part_name(const std::string& first_part, unsigned part);

struct SplitOptions {
  uint64_t part_size = 0;  // bytes; a part exceeds it only for one bigger blob
  bool integrity = false;  // an integrity table in every part
  // SOURCE_DATE_EPOCH: the parts' GUID is derived (derive_split_guid), not random.
  std::optional<int64_t> source_date_epoch;
  // (bytes copied, bytes total, current part)
  std::function<void(uint64_t, uint64_t, unsigned)> progress;
};

// Writes `src` as split parts named after `first_part`. Every part is
// written to a temporary file; they are renamed into place only once all are
// complete, so a failure or a signal leaves no part behind. Resources are
// copied verbatim. Refuses solid archives (Errc::Unsupported), as wimlib
// does. Returns the part paths.
std::vector<std::string> split_archive(const Archive& src, const std::string& first_part, const SplitOptions& opts);

// Join: `parts` (in any order) must all carry part 1's GUID, total_parts
// equal to parts.size(), and part numbers exactly 1..n. Throws
// Errc::BadArchive naming the offending file. Returns the parts sorted by
// part number.
std::vector<const Archive*> check_split_set(const std::vector<const Archive*>& parts);

// Reading: `first` is part 1 of a split WIM; its --ref archives must supply
// every other part (same GUID). Throws Errc::NotFound naming the missing
// part, Errc::BadArchive for an inconsistent part. No-op for a normal WIM;
// a part other than the first is refused (Errc::NotFound: it holds no image).
void check_split_refs(const Archive& first);

}  // namespace wp::wim
