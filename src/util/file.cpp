#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <random>

namespace wp {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

InputFile::InputFile(const std::string& path) : path_(path) {
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) {
    int e = errno;
    throw Error(e == ENOENT ? Errc::NotFound : Errc::Failure, "cannot open '" + path + "': " + errno_text(e));
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) fail_errno("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) fail(Errc::Failure, "'" + path + "' is a directory, not a WIM file");
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

OutputFile::OutputFile(int fd, std::string path, uint64_t start_offset)
    : fd_(fd), path_(std::move(path)), offset_(start_offset) {
  buf_.reserve(1 << 20);
}

OutputFile::~OutputFile() = default;  // the owner decides what an unflushed buffer means

void OutputFile::write(ByteSpan data) {
  if (buf_.size() + data.size() > (1u << 20)) {
    flush();
    if (data.size() >= (1u << 20)) {
      pwrite_at(offset_, data);
      offset_ += data.size();
      return;
    }
  }
  buf_.insert(buf_.end(), data.begin(), data.end());
}

void OutputFile::flush() {
  if (buf_.empty()) return;
  uint64_t off = offset_;
  size_t done = 0;
  while (done < buf_.size()) {
    ssize_t n = ::pwrite(fd_, buf_.data() + done, buf_.size() - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", path_, errno);
    }
    done += size_t(n);
  }
  offset_ += buf_.size();
  buf_.clear();
}

void OutputFile::pwrite_at(uint64_t off, ByteSpan data) {
  flush();
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot write", path_, errno);
    }
    done += size_t(n);
  }
}

void OutputFile::truncate(uint64_t size) {
  flush();
  if (::ftruncate(fd_, off_t(size)) != 0) fail_errno("cannot truncate", path_, errno);
  offset_ = size;
}

void OutputFile::sync() {
  flush();
  if (::fsync(fd_) != 0) fail_errno("cannot sync", path_, errno);
}

// --- temporary files and signal cleanup ----------------------------------

namespace {
constexpr int kMaxTemp = 16;
char g_temp_paths[kMaxTemp][4096];
std::atomic<bool> g_temp_used[kMaxTemp];

extern "C" void cleanup_and_exit(int sig) {
  for (int i = 0; i < kMaxTemp; i++)
    if (g_temp_used[i].load()) ::unlink(g_temp_paths[i]);
  ::signal(sig, SIG_DFL);
  ::_exit(128 + sig);
}

int register_temp(const std::string& path) {
  if (path.size() >= sizeof g_temp_paths[0]) return -1;
  for (int i = 0; i < kMaxTemp; i++) {
    bool expected = false;
    if (!g_temp_used[i].load()) {
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      if (g_temp_used[i].compare_exchange_strong(expected, true)) return i;
    }
  }
  return -1;
}
}  // namespace

void install_cleanup_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = cleanup_and_exit;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

TempFile::TempFile(const std::string& final_path) : final_path_(final_path) {
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  for (int attempt = 0; attempt < 100; attempt++) {
    std::string p = final_path + ".";
    for (int i = 0; i < 9; i++) p.push_back(alnum[rd() % 62]);
    // Register before creating, so a signal between the two cannot leak it.
    slot_ = register_temp(p);
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      fd_.reset(fd);
      temp_path_ = p;
      return;
    }
    int e = errno;
    if (slot_ >= 0) g_temp_used[slot_] = false;
    slot_ = -1;
    if (e != EEXIST) fail_errno("cannot create", final_path, e);
  }
  fail(Errc::Failure, "cannot create a temporary file next to '" + final_path + "'");
}

TempFile::~TempFile() {
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  if (slot_ >= 0) g_temp_used[slot_] = false;
}

void TempFile::commit() {
  if (::fsync(fd_.get()) != 0) fail_errno("cannot sync", temp_path_, errno);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) fail_errno("cannot rename into place", final_path_, errno);
  committed_ = true;
  if (slot_ >= 0) g_temp_used[slot_] = false;
  slot_ = -1;
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
