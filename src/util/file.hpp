// File descriptors with RAII, positioned reads/writes, a buffered sequential
// writer, and temporary files that become the real file only when complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/bytes.hpp"

namespace wp {

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

private:
  int fd_ = -1;
};

// Writes all of `data` at `off` of `fd` (retrying EINTR and short writes);
// an error fails as fail_errno(what, path, errno).
void pwrite_all(int fd, uint64_t off, ByteSpan data, const char* what, const std::string& path);
// Reads `out.size()` bytes at `off` of `fd`, or fewer at the end of the
// file; returns how many (retrying EINTR). An error fails as fail_errno.
size_t pread_upto(int fd, uint64_t off, std::span<uint8_t> out, const char* what, const std::string& path);

// A new, already unlinked, read-write file (nothing is left behind, however
// the process ends): O_TMPFILE in `dir` if given and possible, else in
// $TMPDIR (default /tmp). `what` names it in errors.
Fd anonymous_temp_file(const std::string& dir, const char* what);

// Copies everything readable from `in` (a pipe) into an anonymous temporary
// file and returns it; `name` names the input in errors.
Fd spool_to_temp_file(int in, const std::string& name);

// A file opened for reading, with its path kept for messages.
class InputFile {
public:
  explicit InputFile(const std::string& path);
  // An already open regular file (e.g. a spooled pipe); `name` for messages.
  InputFile(Fd fd, std::string name);
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_.get(); }
  // Reads exactly out.size() bytes at `off`; a short read means the archive is
  // truncated (Errc::BadArchive naming `what`).
  void read_at(uint64_t off, std::span<uint8_t> out, const char* what) const;
  Bytes read_bytes(uint64_t off, uint64_t len, const char* what) const;

private:
  std::string path_;
  Fd fd_;
  uint64_t size_ = 0;
};

// Sequential writer with a large buffer; also supports patching earlier bytes
// (headers, chunk tables) with pwrite after flush.
//
// In-place changes to an existing file (wim-format.md §14.2) arm a rollback
// first: arm_rollback(old_size, prefix) remembers the file's old length and
// its first bytes (the header). Until commit_at() writes the final bytes,
// rollback() -- called explicitly, by the destructor, or by the signal thread
// on SIGINT/SIGTERM/SIGHUP -- drops unwritten data without flushing it, cuts
// the file back to its old length and restores the prefix, leaving the file
// as it was. Every write to the file and the rollback hold one process-wide
// I/O lock, so a signal can never interleave with a write.
//
// An unsafe in-place change (--unsafe-compact, which moves old data down over
// what the old header points at) passes a point of no return with
// begin_unsafe(): from then on there is nothing to roll back to (restoring
// the old header and length would only make the file worse), so the rollback
// is disarmed, and a SIGINT/SIGTERM/SIGHUP is *deferred*: the signal thread
// says so on stderr and waits until commit_at() completes the file (or the
// change fails), then exits as usual. Only SIGKILL, a crash or a power
// failure can then leave the file half compacted, i.e. corrupt.
class OutputFile {
public:
  OutputFile() = default;
  OutputFile(int fd, std::string path, uint64_t start_offset);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t offset() const { return offset_ + buf_.size(); }
  void write(ByteSpan data);
  void flush();
  void pwrite_at(uint64_t off, ByteSpan data);  // flushes first
  void truncate(uint64_t size);                  // flushes first, moves offset
  void sync();
  // A stream (standard output, a pipe): written front to back with write(2),
  // never seeked; pwrite_at and truncate are refused, sync only flushes.
  void set_sequential() { sequential_ = true; }
  bool sequential() const { return sequential_; }

  void arm_rollback(uint64_t old_size, ByteSpan prefix);
  // The commit point: flushes, syncs, writes `data` at `off` and disarms the
  // rollback, atomically with respect to signals.
  void commit_at(uint64_t off, ByteSpan data);
  // Undoes an armed in-place change (no-op when not armed or committed).
  // Returns an empty string on success, else what went wrong.
  std::string rollback() noexcept;
  bool armed() const { return armed_; }

  // The point of no return of an unsafe in-place change (see above). Until
  // commit_at(), or failed_unsafe() on an error, signals wait.
  void begin_unsafe();
  bool unsafe() const { return unsafe_; }
  // The unsafe change failed: signals are no longer deferred; a pending one
  // then exits, saying the file is corrupt. Called by the destructor too.
  void failed_unsafe() noexcept;

private:
  friend void run_signal_cleanup(int sig);
  void write_all_locked(uint64_t off, ByteSpan data);
  std::string rollback_locked() noexcept;

  int fd_ = -1;
  std::string path_;
  uint64_t offset_ = 0;  // file offset of buf_[0]
  Bytes buf_;
  bool armed_ = false;
  bool unsafe_ = false;
  bool sequential_ = false;
  uint64_t old_size_ = 0;
  Bytes old_prefix_;
};

// An exclusive writer lock on an existing archive (flock(2), as wimlib takes
// it), held until destruction. flock locks die with their process, so a killed
// writer never blocks the next one. Fails at once with Errc::Busy when another
// process holds it. The lock is taken on `path`'s current inode; the caller
// re-checks identity() against the file it then reads.
class WriterLock {
public:
  explicit WriterLock(const std::string& path);
  const std::string& path() const { return path_; }
  // True when `fd` is the locked inode.
  bool same_file(int fd) const;
  // Gives `fd` (the file that will replace this one) its owner and mode, so
  // that a rebuild never widens who may read an archive.
  void copy_mode_to(int fd) const;

private:
  std::string path_;
  Fd fd_;
};

// A new file written under a temporary name in the target's directory
// ("NAME.XXXXXXXXX") and renamed over NAME by commit(). If the object dies
// without commit(), or the process gets SIGINT/SIGTERM/SIGHUP, the temporary
// file is removed, so a half-written archive is never left at NAME.
class TempFile {
public:
  explicit TempFile(const std::string& final_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_.get(); }
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  void commit();  // fsync + rename
  // Commits several files as one (the parts of a split WIM): all are synced,
  // then renamed under one hold of the I/O lock, so a signal finds either
  // none or all of them in place. If a rename fails, the ones already renamed
  // are removed again.
  static void commit_all(const std::vector<TempFile*>& files);

private:
  std::string final_path_, temp_path_;
  Fd fd_;
  bool committed_ = false;
};

// Blocks SIGINT/SIGTERM/SIGHUP in every thread and starts one thread that
// waits for them: it takes the I/O lock, removes live temporary files, rolls
// back armed in-place changes, says on stderr what it did, and exits with
// 128 + the signal number. Call before any other thread starts.
void install_cleanup_signal_handlers();

// Reads a whole file (for config files, source lists); "-" means stdin.
std::string read_text_file(const std::string& path);

}  // namespace wp
