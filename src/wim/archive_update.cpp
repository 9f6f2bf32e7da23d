#include "wim/archive_update.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "util/error.hpp"

namespace wp::wim {

std::unique_ptr<ArchiveUpdate> ArchiveUpdate::open(const std::string& path, bool check_integrity) {
  std::unique_ptr<ArchiveUpdate> u(new ArchiveUpdate(path));
  // Lock first, then read: what we read is what no one else can change.
  u->lock_.emplace(path);
  u->existing_ = Archive::open(path, check_integrity);
  if (u->existing_->header().total_parts != 1)
    fail(Errc::Unsupported, "'" + path + "' is part " + std::to_string(u->existing_->header().part_number) + " of " +
                                std::to_string(u->existing_->header().total_parts) +
                                " of a split WIM; split WIMs cannot be changed; join them first (wimpack join)");
  if (!u->lock_->same_file(u->existing_->file().fd()))
    fail(Errc::Busy, "'" + path + "' was replaced by another process while it was being opened; try again");
  return u;
}

std::unique_ptr<ArchiveUpdate> ArchiveUpdate::create(const std::string& path) {
  std::unique_ptr<ArchiveUpdate> u(new ArchiveUpdate(path));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) fail(Errc::Failure, "'" + path + "' is a directory; WIMFILE must name a file");
    if (!S_ISREG(st.st_mode))
      fail(Errc::Failure, "'" + path + "' is not a regular file (a WIM archive must be one)");
    u->lock_.emplace(path);
  }
  return u;
}

std::unique_ptr<ArchiveUpdate> ArchiveUpdate::create_stdout() {
  std::unique_ptr<ArchiveUpdate> u(new ArchiveUpdate("-"));
  u->stdout_ = true;
  return u;
}

ArchiveUpdate::~ArchiveUpdate() {
  // Not committed: the writer goes first, then an armed in-place change is
  // undone by ~OutputFile, and a rebuild's temporary file by ~TempFile.
  writer_.reset();
  out_.reset();
}

uint64_t ArchiveUpdate::append_point() const {
  // §14.2 step 1: after the old blob table, XML and integrity table.
  const Header& h = existing_->header();
  uint64_t at = std::max(h.xml.end(), h.blob_table.end());
  if (!h.integrity.is_zero()) at = std::max(at, h.integrity.end());
  return std::max<uint64_t>(at, kHeaderSize);
}

bool ArchiveUpdate::can_append_in_place() const {
  if (!existing_ || existing_->header().pipable) return false;
  uint64_t at = append_point();
  for (const auto& r : existing_->resources())
    if (r.offset + r.size_in_wim > at) return false;  // data after the tables: rebuild, as wimlib does
  return true;
}

ArchiveWriter& ArchiveUpdate::begin(const WriterOptions& opts, bool in_place) {
  if (opts.unsafe_compact && (!existing_ || existing_->header().pipable || opts.pipable))
    fail(Errc::Usage, "--unsafe-compact needs an existing, non-pipable archive");
  in_place_ = opts.unsafe_compact || (in_place && !opts.pipable && can_append_in_place());
  if (stdout_) {
    if (!opts.pipable) fail(Errc::Failure, "internal error: a WIM on standard output must be pipable");
    in_place_ = false;
    out_ = std::make_unique<OutputFile>(STDOUT_FILENO, "standard output", 0);
    out_->set_sequential();
    writer_ = std::make_unique<ArchiveWriter>(*out_, opts);
  } else if (in_place_) {
    append_fd_.reset(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    if (!append_fd_) fail_errno("cannot open for writing", path_, errno);
    if (!lock_->same_file(append_fd_.get()))
      fail(Errc::Busy, "'" + path_ + "' was replaced by another process while it was being opened; try again");
    uint64_t at = append_point();
    // --unsafe-compact may be given whatever the layout: new data then goes
    // after everything the old archive holds, and compaction sorts it out.
    if (opts.unsafe_compact)
      for (const auto& r : existing_->resources()) at = std::max(at, r.offset + r.size_in_wim);
    out_ = std::make_unique<OutputFile>(append_fd_.get(), path_, at);
    // Before the first byte changes: what rollback restores (the old length
    // and header). Junk a killed writer left after the append point is
    // overwritten; nothing any header points at ever is.
    Bytes header = existing_->file().read_bytes(0, kHeaderSize, "header");
    out_->arm_rollback(std::max(at, existing_->file().size()), header);
    writer_ = std::make_unique<ArchiveWriter>(*out_, opts, *existing_);
  } else {
    tmp_.emplace(path_);
    if (lock_) lock_->copy_mode_to(tmp_->fd());  // the replacement keeps the old file's owner and mode
    out_ = std::make_unique<OutputFile>(tmp_->fd(), tmp_->temp_path(), 0);
    writer_ = std::make_unique<ArchiveWriter>(*out_, opts);
  }
  return *writer_;
}

void ArchiveUpdate::commit() {
  writer_->finish();  // ends with the header: the commit point of an in-place change
  final_size_ = out_->offset();
  if (tmp_) tmp_->commit();
  committed_ = true;
  writer_.reset();
  out_.reset();
  lock_.reset();
}

void ArchiveUpdate::rollback_and_rethrow() {
  std::string outcome;
  if (out_ && out_->unsafe()) {
    writer_.reset();
    out_->failed_unsafe();
    outcome = "; '" + path_ + "' was being compacted in place (--unsafe-compact) and is now CORRUPTED: data had "
              "already been moved over what its old header points at";
  } else if (out_ && out_->armed()) {
    writer_.reset();
    std::string err = out_->rollback();
    outcome = err.empty() ? "; '" + path_ + "' was left unchanged"
                          : "; rolling '" + path_ + "' back failed (" + err + "), but its old header still points at the old data";
  } else if (stdout_ && !committed_) {
    outcome = "; the WIM written to standard output is incomplete";
  } else if (tmp_ && !committed_) {
    outcome = "; '" + path_ + "' was left unchanged";
  }
  try {
    throw;
  } catch (const Error& e) {
    throw Error(e.code(), e.what() + outcome);
  } catch (const std::bad_alloc&) {
    throw Error(Errc::Failure, "out of memory" + outcome);
  } catch (const std::exception& e) {
    throw Error(Errc::Failure, e.what() + outcome);
  }
}

}  // namespace wp::wim
