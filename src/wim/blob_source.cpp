#include "wim/blob_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "util/error.hpp"
#include "util/file.hpp"

namespace wp::wim {
namespace {

class MemoryStream final : public BlobStream {
public:
  explicit MemoryStream(const Bytes& d) : d_(d) {}
  size_t read(std::span<uint8_t> out) override {
    size_t n = std::min(out.size(), d_.size() - pos_);
    std::memcpy(out.data(), d_.data() + pos_, n);
    pos_ += n;
    return n;
  }

private:
  const Bytes& d_;
  size_t pos_ = 0;
};

class FileStream final : public BlobStream {
public:
  FileStream(const std::string& path, uint64_t size) : path_(path), size_(size) {
    fd_.reset(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd_) fail_errno("cannot open", path, errno);
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  size_t read(std::span<uint8_t> out) override {
    size_t want = size_t(std::min<uint64_t>(out.size(), size_ - pos_));
    size_t done = 0;
    while (done < want) {
      ssize_t n = ::read(fd_.get(), out.data() + done, want - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot read", path_, errno);
      }
      if (n == 0) fail(Errc::Failure, "'" + path_ + "' shrank while it was being archived");
      done += size_t(n);
    }
    pos_ += done;
    if (want == 0 && pos_ == size_) {
      uint8_t extra;
      ssize_t n = ::read(fd_.get(), &extra, 1);
      if (n > 0) fail(Errc::Failure, "'" + path_ + "' grew while it was being archived");
    }
    return done;
  }

private:
  std::string path_;
  Fd fd_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

}  // namespace

std::unique_ptr<BlobStream> MemoryBlobSource::open() const { return std::make_unique<MemoryStream>(data_); }
std::unique_ptr<BlobStream> FileBlobSource::open() const { return std::make_unique<FileStream>(path_, size_); }

}  // namespace wp::wim
