// File descriptors with RAII, positioned reads/writes, a buffered sequential
// writer, and temporary files that become the real file only when complete.
#pragma once

#include <cstdint>
#include <string>

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

// A file opened for reading, with its path kept for messages.
class InputFile {
public:
  explicit InputFile(const std::string& path);
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
class OutputFile {
public:
  OutputFile() = default;
  OutputFile(int fd, std::string path, uint64_t start_offset);
  ~OutputFile();
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t offset() const { return offset_ + buf_.size(); }
  void write(ByteSpan data);
  void flush();
  void pwrite_at(uint64_t off, ByteSpan data);  // flushes first
  void truncate(uint64_t size);                  // flushes first, moves offset
  void sync();

private:
  int fd_ = -1;
  std::string path_;
  uint64_t offset_ = 0;  // file offset of buf_[0]
  Bytes buf_;
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

private:
  std::string final_path_, temp_path_;
  Fd fd_;
  int slot_ = -1;
  bool committed_ = false;
};

// Installs the SIGINT/SIGTERM/SIGHUP handlers that remove live temporary
// files and exit with status 130.
void install_cleanup_signal_handlers();

// Reads a whole file (for config files, source lists); "-" means stdin.
std::string read_text_file(const std::string& path);

}  // namespace wp
