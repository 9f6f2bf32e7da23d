#include "util/file.hpp"

#include <pthread.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/file.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace wp {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {
// Opens an archive for reading. O_NONBLOCK: a FIFO or a device named as
// WIMFILE must be refused, not waited on forever.
Fd open_regular(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    throw Error(e == ENOENT ? Errc::NotFound : Errc::Failure, "cannot open '" + path + "': " + errno_text(e));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) fail(Errc::Failure, "'" + path + "' is a directory, not a WIM file");
  if (!S_ISREG(st.st_mode))
    fail(Errc::Failure, "'" + path + "' is not a regular file (a WIM archive must be one)");
  return fd;
}
}  // namespace

Fd anonymous_temp_file(const std::string& dir, const char* what) {
  Fd fd;
  if (!dir.empty()) fd.reset(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) {
    const char* t = std::getenv("TMPDIR");
    std::string tdir = t && *t ? t : "/tmp";
    fd.reset(::open(tdir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) {  // a file system without O_TMPFILE
      std::string tmpl = tdir + "/wimpack-tmp-XXXXXX";
      std::vector<char> buf(tmpl.begin(), tmpl.end());
      buf.push_back(0);
      fd.reset(::mkostemp(buf.data(), O_CLOEXEC));
      if (!fd) fail_errno(std::string("cannot create ") + what + " in", tdir, errno);
      ::unlink(buf.data());
    }
  }
  return fd;
}

Fd spool_to_temp_file(int in, const std::string& name) {
  Fd out = anonymous_temp_file("", "a temporary copy of standard input");
  std::vector<uint8_t> buf(size_t(1) << 20);
  uint64_t off = 0;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read", name, errno);
    }
    if (n == 0) break;
    pwrite_all(out.get(), off, ByteSpan(buf.data(), size_t(n)), "cannot write a temporary copy of", name);
    off += uint64_t(n);
  }
  return out;
}

InputFile::InputFile(Fd fd, std::string name) : path_(std::move(name)), fd_(std::move(fd)) {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) fail_errno("cannot stat", path_, errno);
  size_ = uint64_t(st.st_size);
}

InputFile::InputFile(const std::string& path) : path_(path) {
  fd_ = open_regular(path);
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) fail_errno("cannot stat", path, errno);
  size_ = uint64_t(st.st_size);
}

void InputFile::read_at(uint64_t off, std::span<uint8_t> out, const char* what) const {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(std::string("cannot read ") + what + " from", path_, errno);
    }
    if (n == 0)
      fail(Errc::BadArchive, "'" + path_ + "': " + what + " extends past the end of the file (truncated archive?)");
    done += size_t(n);
  }
}

Bytes InputFile::read_bytes(uint64_t off, uint64_t len, const char* what) const {
  if (off > size_ || len > size_ - off)
    fail(Errc::BadArchive, "'" + path_ + "': " + what + " extends past the end of the file (truncated archive?)");
  Bytes b(len);
  read_at(off, b, what);
  return b;
}

void pwrite_all(int fd, uint64_t off, ByteSpan data, const char* what, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done, off_t(off + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_errno(what, path, errno);
    }
    done += size_t(w);
  }
}

size_t pread_upto(int fd, uint64_t off, std::span<uint8_t> out, const char* what, const std::string& path) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r = ::pread(fd, out.data() + done, out.size() - done, off_t(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail_errno(what, path, errno);
    }
    if (r == 0) break;
    done += size_t(r);
  }
  return done;
}

// --- the process-wide I/O lock, and what a signal must undo ----------------
//
// Every write to an OutputFile and every rename of a TempFile holds g_io. The
// signal thread takes it too, so when it cleans up no write is half done and
// none can start after the cleanup.

namespace {
std::mutex g_io;
std::vector<const TempFile*> g_temps;  // live temporary files (under g_io)
std::vector<OutputFile*> g_armed;      // armed in-place changes (under g_io)
std::vector<std::string> g_committed;  // files this process finished changing (under g_io)
// An unsafe in-place change past its point of no return (under g_io): the
// signal thread waits on g_unsafe_done until it is null again.
const OutputFile* g_unsafe = nullptr;
std::condition_variable g_unsafe_done;
// Set (under g_io) when the signal thread is waiting for an unsafe change to
// finish: the thread that finishes it must then not go on (it could return
// from main with 0 before the signal thread exits with 128+sig); it hands
// over and waits to be ended by that exit.
bool g_signal_waiting = false;
std::vector<std::string> g_corrupted;  // files an unsafe change failed on (under g_io)

template <class V, class P>
void erase_from(V& v, P p) {
  v.erase(std::remove(v.begin(), v.end(), p), v.end());
}

// Ends an unsafe change (under g_io, held by `lk`): wakes the signal thread
// if it waits for it, and then never returns (the signal thread _exits).
void end_unsafe(std::unique_lock<std::mutex>& lk) {
  g_unsafe = nullptr;
  g_unsafe_done.notify_all();
  if (g_signal_waiting) {
    lk.unlock();
    for (;;) ::pause();
  }
}
}  // namespace

OutputFile::OutputFile(int fd, std::string path, uint64_t start_offset)
    : fd_(fd), path_(std::move(path)), offset_(start_offset) {
  buf_.reserve(1 << 20);
}

OutputFile::~OutputFile() {
  // An armed change that was neither committed nor rolled back (an exception
  // unwound past its owner) is undone here; an unsafe one cannot be.
  if (armed_) rollback();
  if (unsafe_) failed_unsafe();
}

void OutputFile::begin_unsafe() {
  flush();
  std::lock_guard lk(g_io);
  if (armed_) erase_from(g_armed, this);
  armed_ = false;
  unsafe_ = true;
  g_unsafe = this;
}

void OutputFile::failed_unsafe() noexcept {
  std::unique_lock lk(g_io);
  if (!unsafe_) return;
  unsafe_ = false;
  buf_.clear();
  g_corrupted.push_back(path_);
  if (g_unsafe == this) end_unsafe(lk);
}

void OutputFile::write_all_locked(uint64_t off, ByteSpan data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = sequential_ ? ::write(fd_, data.data() + done, data.size() - done)
                            : ::pwrite(fd_, data.data() + done, data.size() - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", path_, errno);
    }
    done += size_t(n);
  }
}

void OutputFile::write(ByteSpan data) {
  if (buf_.size() + data.size() > (1u << 20)) {
    flush();
    if (data.size() >= (1u << 20)) {
      {
        std::lock_guard lk(g_io);
        write_all_locked(offset_, data);
      }
      offset_ += data.size();
      return;
    }
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

void OutputFile::flush() {
  if (buf_.empty()) return;
  std::lock_guard lk(g_io);
  write_all_locked(offset_, buf_);
  offset_ += buf_.size();
  buf_.clear();
}

void OutputFile::pwrite_at(uint64_t off, ByteSpan data) {
  if (sequential_) fail(Errc::Failure, "internal error: seeking in " + path_ + ", which is written as a stream");
  flush();
  std::lock_guard lk(g_io);
  write_all_locked(off, data);
}

void OutputFile::truncate(uint64_t size) {
  if (sequential_) fail(Errc::Failure, "internal error: truncating " + path_ + ", which is written as a stream");
  flush();
  std::lock_guard lk(g_io);
  if (::ftruncate(fd_, off_t(size)) != 0) fail_errno("cannot truncate", path_, errno);
  offset_ = size;
}

void OutputFile::sync() {
  flush();
  if (sequential_) return;
  if (::fsync(fd_) != 0) fail_errno("cannot sync", path_, errno);
}

void OutputFile::arm_rollback(uint64_t old_size, ByteSpan prefix) {
  std::lock_guard lk(g_io);
  old_size_ = old_size;
  old_prefix_.assign(prefix.begin(), prefix.end());
  if (!armed_) g_armed.push_back(this);
  armed_ = true;
}

void OutputFile::commit_at(uint64_t off, ByteSpan data) {
  sync();
  std::unique_lock lk(g_io);
  write_all_locked(off, data);
  if (::fdatasync(fd_) != 0) fail_errno("cannot sync", path_, errno);
  if (armed_ || unsafe_) {
    erase_from(g_armed, this);
    g_committed.push_back(path_);
  }
  armed_ = false;
  if (unsafe_) {
    unsafe_ = false;
    if (g_unsafe == this) end_unsafe(lk);
  }
}

std::string OutputFile::rollback_locked() noexcept {
  if (!armed_) return {};
  armed_ = false;
  erase_from(g_armed, this);
  buf_.clear();  // never flush what was not written: it may be what failed (ENOSPC)
  std::string err;
  if (::ftruncate(fd_, off_t(old_size_)) != 0) err = "cannot truncate: " + errno_text(errno);
  size_t done = 0;
  while (done < old_prefix_.size()) {
    ssize_t n = ::pwrite(fd_, old_prefix_.data() + done, old_prefix_.size() - done, off_t(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err += std::string(err.empty() ? "" : "; ") + "cannot restore the header: " + errno_text(errno);
      break;
    }
    done += size_t(n);
  }
  if (err.empty() && ::fdatasync(fd_) != 0) err = "cannot sync: " + errno_text(errno);
  offset_ = old_size_;
  return err;
}

std::string OutputFile::rollback() noexcept {
  std::lock_guard lk(g_io);
  return rollback_locked();
}

// --- the writer lock ---------------------------------------------------------

WriterLock::WriterLock(const std::string& path) : path_(path) {
  for (int attempt = 0;; attempt++) {
    Fd fd = open_regular(path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e == EWOULDBLOCK)
        fail(Errc::Busy, "'" + path + "' is locked for writing by another process (a wimpack or wimlib command is "
                         "changing it); try again when it has finished");
      fail_errno("cannot lock", path, e);
    }
    // The lock is on the inode we opened; if another writer renamed a new
    // archive over the path meanwhile, lock that one instead.
    struct stat a, b;
    if (::fstat(fd.get(), &a) != 0) fail_errno("cannot stat", path, errno);
    if (::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      fd_ = std::move(fd);
      return;
    }
    if (attempt >= 100) fail(Errc::Busy, "'" + path + "' keeps being replaced by another process");
  }
}

void WriterLock::copy_mode_to(int fd) const {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) fail_errno("cannot stat", path_, errno);
  // Owner first (fchown may clear set-id bits), then the mode. Only root
  // can give a file away; for others the new file is theirs anyway.
  if (::geteuid() == 0 && ::fchown(fd, st.st_uid, st.st_gid) != 0) fail_errno("cannot set the owner of the new", path_, errno);
  if (::fchmod(fd, st.st_mode & 07777) != 0) fail_errno("cannot set the mode of the new", path_, errno);
}

bool WriterLock::same_file(int fd) const {
  struct stat a, b;
  return ::fstat(fd_.get(), &a) == 0 && ::fstat(fd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// --- temporary files and signal cleanup ----------------------------------

// The signal thread's work, in a normal thread context (so it may lock).
void run_signal_cleanup(int sig) {
  std::unique_lock lk(g_io);  // waits out a write in progress; none starts after
  const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
  std::string msg = std::string("wimpack: interrupted by ") + name;
  if (g_unsafe) {
    // Past the point of no return of --unsafe-compact: stopping now would
    // leave the archive half moved. Let the change finish (or fail) first;
    // waiting releases g_io, so its writes go on.
    std::string note = std::string("wimpack: ") + name + " received while '" + g_unsafe->path() +
                       "' is being compacted in place; finishing the compaction first (interrupting it would "
                       "corrupt the archive)\n";
    if (::write(2, note.data(), note.size()) < 0) {
    }
    g_signal_waiting = true;
    g_unsafe_done.wait(lk, [] { return g_unsafe == nullptr; });
  }
  for (const std::string& p : g_corrupted)
    msg += "; '" + p + "' is CORRUPTED: its in-place compaction (--unsafe-compact) failed";
  for (const TempFile* t : g_temps) {
    ::unlink(t->temp_path().c_str());
    msg += "; removed the unfinished '" + t->temp_path() + "' ('" + t->final_path() + "' is unchanged)";
  }
  for (OutputFile* f : std::vector<OutputFile*>(g_armed)) {
    std::string err = f->rollback_locked();
    if (err.empty())
      msg += "; '" + f->path() + "' was rolled back to its previous state";
    else
      msg += "; rolling back '" + f->path() + "' failed (" + err + "); its old header still points at the old data";
  }
  // A signal after a commit point: that change is complete, not undone.
  for (const std::string& p : g_committed) msg += "; '" + p + "' had already been written completely";
  msg += "\n";
  if (::write(2, msg.data(), msg.size()) < 0) {
  }
  ::_exit(128 + sig);
}

void install_cleanup_signal_handlers() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    run_signal_cleanup(sig);
  }).detach();
}

TempFile::TempFile(const std::string& final_path) : final_path_(final_path) {
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  for (int attempt = 0; attempt < 100; attempt++) {
    std::string p = final_path + ".";
    for (int i = 0; i < 9; i++) p.push_back(alnum[rd() % 62]);
    // Created and registered under the I/O lock, so a signal cannot leak it.
    std::lock_guard lk(g_io);
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      fd_.reset(fd);
      temp_path_ = p;
      g_temps.push_back(this);
      return;
    }
    int e = errno;
    if (e != EEXIST) fail_errno("cannot create", final_path, e);
  }
  fail(Errc::Failure, "cannot create a temporary file next to '" + final_path + "'");
}

TempFile::~TempFile() {
  std::lock_guard lk(g_io);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  erase_from(g_temps, this);
}

void TempFile::commit() {
  if (::fsync(fd_.get()) != 0) fail_errno("cannot sync", temp_path_, errno);
  std::lock_guard lk(g_io);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) fail_errno("cannot rename into place", final_path_, errno);
  committed_ = true;
  erase_from(g_temps, this);
  g_committed.push_back(final_path_);
}

void TempFile::commit_all(const std::vector<TempFile*>& files) {
  for (TempFile* t : files)
    if (::fsync(t->fd_.get()) != 0) fail_errno("cannot sync", t->temp_path_, errno);
  std::lock_guard lk(g_io);
  for (size_t i = 0; i < files.size(); i++) {
    TempFile* t = files[i];
    if (::rename(t->temp_path_.c_str(), t->final_path_.c_str()) != 0) {
      int e = errno;
      for (size_t j = 0; j < i; j++) {
        ::unlink(files[j]->final_path_.c_str());
        files[j]->committed_ = false;
        files[j]->temp_path_.clear();  // nothing left to remove
      }
      fail_errno("cannot rename into place", t->final_path_, e);
    }
    t->committed_ = true;
  }
  for (TempFile* t : files) {
    erase_from(g_temps, t);
    g_committed.push_back(t->final_path_);
  }
}

std::string read_text_file(const std::string& path) {
  int fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    throw Error(e == ENOENT ? Errc::NotFound : Errc::Failure, "cannot open '" + path + "': " + errno_text(e));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      if (fd) ::close(fd);
      fail_errno("cannot read", path, e);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  if (fd) ::close(fd);
  return out;
}

}  // namespace wp
