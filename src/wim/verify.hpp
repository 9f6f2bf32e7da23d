// Verifying an archive (wimverify): the integrity table, every image's
// metadata, every blob's SHA-1 (all data decompressed, in parallel), and
// that every blob an image references exists, in the archive or in its --ref
// archives (delta bases, split parts).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "util/sha1.hpp"
#include "wim/archive.hpp"

namespace wp::wim {

struct VerifyOptions {
  bool check_integrity = true;  // --nocheck turns it off
  // (bytes hashed, bytes total); called from the reading thread.
  std::function<void(uint64_t, uint64_t)> progress;
  // "Verifying metadata for image N of M", ... (one line per phase).
  std::function<void(const std::string&)> phase;
};

struct VerifyProblem {
  Errc code = Errc::BadArchive;  // NotFound: a blob missing from a delta (--ref)
  std::string kind;              // "integrity", "metadata", "missing-blob", "corrupt-blob", "unreadable-resource"
  std::string archive;           // the file it was found in
  size_t image = 0;              // 1-based, for metadata / missing-blob; 0 otherwise
  std::string hash;              // blob hash (hex), when one is concerned
  std::string message;           // a full sentence for people
};

struct VerifyReport {
  enum class Integrity { Ok, Absent, Skipped, Bad } integrity = Integrity::Skipped;
  size_t images = 0, images_ok = 0;
  uint64_t blobs = 0, bytes = 0;  // blobs (and their bytes) whose SHA-1 was checked
  uint64_t referenced = 0;        // distinct blobs referenced by the images
  std::vector<VerifyProblem> problems;  // in the order found; empty = all good
  bool ok() const { return problems.empty(); }
};

// Runs every check and reports each problem found (at most a few per kind,
// so a badly damaged archive does not flood the report). Throws only for
// errors outside the archive's contents (I/O failures are reported as
// problems when they concern a resource).
VerifyReport verify_archive(const Archive& archive, const VerifyOptions& opts);

// The same for a pipable WIM read sequentially from a pipe (wim-format.md
// §12.4; `pipe` fresh: header and XML read): every image's metadata, then
// every blob as it streams past, hashed; then that every blob an image
// references came. The integrity table cannot be checked (Skipped). A pipe
// that ends early or holds something else than a pipable WIM is reported as
// an "unreadable-resource" problem.
class PipeReader;
VerifyReport verify_pipe(PipeReader& pipe, const VerifyOptions& opts);

}  // namespace wp::wim
