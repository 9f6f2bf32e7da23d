// Changing an archive (wim-format.md §14): the one place that takes the
// writer lock, chooses between an in-place append (§14.2: new data after the
// old, header last) and a rebuild into a temporary file renamed over the
// original (§14.3), and then commits or rolls back. Every command that
// creates or changes an archive goes through here; none does its own file
// juggling.
//
// Guarantees:
//   - one writer at a time: the lock is flock(2) on the archive (as wimlib
//     takes it), so a second writer -- wimpack or wimlib -- fails at once with
//     Errc::Busy, and a killed writer's lock dies with it;
//   - readers see the old archive or the new one: an in-place append changes
//     nothing the old header points at, and a rebuild is renamed into place;
//   - on any failure, and on SIGINT/SIGTERM/SIGHUP, the archive is left
//     byte-identical to what it was (in place: truncated back and its header
//     restored, without flushing pending data; rebuild: the temporary file is
//     removed).
//
// Except with WriterOptions::unsafe_compact (--unsafe-compact, as wimlib's):
// the change is in place, new data after all the old, and then the writer
// moves everything still needed down over the holes and truncates (no
// temporary file: for archives bigger than the free space). Until the first
// byte moves, the guarantees above hold. After it there is nothing to roll
// back to: a failure says the archive is CORRUPTED (it is), and
// SIGINT/SIGTERM/SIGHUP wait for the compaction to complete before exiting
// (OutputFile::begin_unsafe); SIGKILL, a crash or a power cut corrupt it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "util/file.hpp"
#include "wim/archive.hpp"
#include "wim/archive_writer.hpp"

namespace wp::wim {

class ArchiveUpdate {
public:
  // An existing archive, locked and then read and validated (with
  // check_integrity, its integrity table is verified too).
  static std::unique_ptr<ArchiveUpdate> open(const std::string& path, bool check_integrity = false);
  // A new archive at `path`. If a file exists there it is locked too, and is
  // replaced only at commit().
  static std::unique_ptr<ArchiveUpdate> create(const std::string& path);
  // A new pipable archive written to standard output as a stream (no lock,
  // no temporary file, no seeking); begin() requires opts.pipable. Only the
  // WIMFILE "-" means this: any other name is a file.
  static std::unique_ptr<ArchiveUpdate> create_stdout();
  bool to_stdout() const { return stdout_; }
  ~ArchiveUpdate();

  const std::string& path() const { return path_; }
  // The archive being changed; nullptr for create().
  Archive* existing() { return existing_.get(); }

  // §14.2 preconditions on the layout: not pipable, and no resource lies
  // after the point where new data would go.
  bool can_append_in_place() const;

  // Starts writing. With opts.unsafe_compact, in place whatever the layout
  // (Errc::Usage for a new or pipable archive). In place (requires can_append_in_place()), the writer
  // holds the old archive's blobs and images and appends; otherwise it
  // starts empty and the caller imports what it keeps from existing().
  ArchiveWriter& begin(const WriterOptions& opts, bool in_place);
  ArchiveWriter& writer() { return *writer_; }
  bool in_place() const { return in_place_; }

  // Writes the tables and the header (the commit point), renames a rebuild
  // into place, and releases the lock.
  void commit();
  // Size of the archive after commit().
  uint64_t final_size() const { return final_size_; }

  // For a catch block around the work between begin() and commit(): undoes
  // everything, then rethrows the current exception as a wp::Error whose
  // message says the archive was left unchanged (or why it could not be).
  [[noreturn]] void rollback_and_rethrow();

private:
  explicit ArchiveUpdate(std::string path) : path_(std::move(path)) {}
  uint64_t append_point() const;

  std::string path_;
  std::optional<WriterLock> lock_;
  std::unique_ptr<Archive> existing_;
  std::optional<TempFile> tmp_;
  Fd append_fd_;
  std::unique_ptr<OutputFile> out_;
  std::unique_ptr<ArchiveWriter> writer_;
  bool in_place_ = false, committed_ = false, stdout_ = false;
  uint64_t final_size_ = 0;
};

}  // namespace wp::wim
