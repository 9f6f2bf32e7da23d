#include "capture/file_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "util/error.hpp"

namespace wp::capture {
namespace {

// Directory fds kept open between files: enough for the path of the file
// being read plus a few recently used directories (solid mode reads files in
// name order, not directory order), far below any fd limit.
constexpr size_t kDirCacheSize = 64;

const char* hint() { return " (to archive a tree that is in use, pass --continue-on-change)"; }

}  // namespace

std::shared_ptr<Fd> FileReadContext::open_one(const ScannedDir& d, int parent_fd, std::string* why) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (d.follow ? 0 : O_NOFOLLOW);
  int fd = d.parent ? ::openat(parent_fd, d.name.c_str(), flags) : ::open(d.name.c_str(), flags);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) {
      *why = "the directory '" + d.path + "' was removed";
      return nullptr;
    }
    if (e == ENOTDIR || e == ELOOP) {
      *why = "the directory '" + d.path + "' was replaced by a symbolic link or a non-directory";
      return nullptr;
    }
    fail_errno("cannot open directory", d.path, e);
  }
  auto p = std::make_shared<Fd>(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) fail_errno("cannot stat", d.path, errno);
  if (st.st_dev != d.dev || st.st_ino != d.ino) {
    *why = "the directory '" + d.path + "' was replaced by another one";
    return nullptr;
  }
  return p;
}

std::shared_ptr<Fd> FileReadContext::open_dir(const ScannedDir& dir, std::string* why) {
  std::lock_guard lk(m_);
  // Up to the nearest directory still open (or the source root), then down
  // again one verified component at a time.
  std::vector<const ScannedDir*> chain;
  std::shared_ptr<Fd> fd;
  for (const ScannedDir* d = &dir; d; d = d->parent.get()) {
    auto it = cache_.find(d);
    if (it != cache_.end()) {
      it->second.used = ++clock_;
      fd = it->second.fd;
      break;
    }
    chain.push_back(d);
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    fd = open_one(**it, fd ? fd->get() : -1, why);
    if (!fd) return nullptr;
    if (cache_.size() >= kDirCacheSize) {
      auto lru = std::min_element(cache_.begin(), cache_.end(),
                                  [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
      cache_.erase(lru);  // a reader still using it keeps its own reference
    }
    cache_[*it] = Cached{fd, ++clock_};
  }
  return fd;
}

void FileReadContext::report_change(const std::string& path, const std::string& warning) {
  std::lock_guard lk(m_);
  if (changed_.emplace(path, true).second) warnings_.push_back(warning);
}

size_t FileReadContext::changed_count() const {
  std::lock_guard lk(m_);
  return changed_.size();
}

std::vector<std::string> FileReadContext::take_warnings() {
  std::lock_guard lk(m_);
  return std::exchange(warnings_, {});
}

void FileBlobSource::changed(const std::string& what, const std::string& stored) const {
  if (!ctx_->continue_on_change()) fail(Errc::Failure, "'" + path_ + "' " + what + hint());
  ctx_->report_change(path_, "'" + path_ + "' " + what + "; stored " + stored);
}

void FileBlobSource::report_change() const { changed("changed while it was being read", "as read"); }

// By path, not through the directory fds (they are not thread-safe to share):
// a hint may reach another file after a rename, but it only warms the cache,
// and only for the regular file the scan saw. O_NONBLOCK: a FIFO swapped in
// must not block the prefetch thread. Whether the data is in memory already
// is probed with a one-byte RWF_NOWAIT read of its start (EAGAIN: not cached).
bool FileBlobSource::prefetch() const {
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow_ ? 0 : O_NOFOLLOW);
  int fd = ::open(path_.c_str(), flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path_.c_str(), flags);
  if (fd < 0) return false;
  bool needed = false;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_) {
    uint8_t byte;
    iovec iov{&byte, 1};
    if (::preadv2(fd, &iov, 1, 0, RWF_NOWAIT) < 0 && errno != EINTR) {
      needed = true;  // EAGAIN (not cached), or RWF_NOWAIT unsupported: hint anyway
      ::posix_fadvise(fd, 0, off_t(size_), POSIX_FADV_WILLNEED);
    }
  }
  ::close(fd);
  return needed;
}

// Reads a file as the scan saw it: exactly size() bytes.
class FileStream final : public wim::BlobStream {
public:
  explicit FileStream(const FileBlobSource& src) : src_(src) {
    std::string why;
    std::shared_ptr<Fd> dir = src.ctx_->open_dir(*src.dir_, &why);
    if (dir) {
      // O_NONBLOCK: a file replaced by a FIFO must not hang the capture.
      int fd = ::openat(dir->get(), src.name_.c_str(),
                        O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (src.follow_ ? 0 : O_NOFOLLOW));
      if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
          why = "was removed before it could be read";
        else if (e == ELOOP || e == ENXIO || e == ENOTDIR || e == EISDIR)
          why = "was replaced by a symbolic link or a non-regular file";
        else
          fail_errno("cannot open", src.path_, e);
      } else {
        fd_.reset(fd);
        if (::fstat(fd, &st0_) != 0) fail_errno("cannot stat", src.path_, errno);
        if (!S_ISREG(st0_.st_mode)) {
          why = "was replaced by a non-regular file";
          fd_.reset();
        } else if (src.follow_ && (st0_.st_dev != src.dev_ || st0_.st_ino != src.ino_)) {
          // Followed through a symlink: another file may be anywhere.
          why = "now reaches another file than the one scanned (a symbolic link was changed?)";
          fd_.reset();
        }
      }
    } else {
      why = "was not read: " + why;
    }
    if (!fd_) {
      // Never read anything else in its place (it might be outside the tree).
      src.changed("changed during capture: it " + why, "as " + std::to_string(src.size_) + " zero bytes");
      return;
    }
    if (st0_.st_dev != src.dev_ || st0_.st_ino != src.ino_) {
      // Replaced by another regular file of the same directory (a rename
      // over it): still inside the tree, but not the file the scan saw.
      src.changed("changed during capture: it was replaced by another file", "as read");
    } else if (uint64_t(st0_.st_size) != src.size_) {
      src.changed("changed size during capture (" + std::to_string(src.size_) + " bytes when scanned, " +
                      std::to_string(st0_.st_size) + " now)",
                  "as read, " + std::string(uint64_t(st0_.st_size) < src.size_ ? "padded with zeros" : "cut") +
                      " to " + std::to_string(src.size_) + " bytes");
    }
    // Holes are found with SEEK_DATA/SEEK_HOLE only when the file has fewer
    // blocks than bytes: a dense file costs no extra syscalls.
    sparse_ = uint64_t(st0_.st_blocks) * 512 < uint64_t(st0_.st_size);
#ifdef POSIX_FADV_SEQUENTIAL
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }

  size_t read(std::span<uint8_t> out) override {
    const uint64_t size = src_.size_;
    size_t want = size_t(std::min<uint64_t>(out.size(), size - pos_));
    size_t done = 0;
    while (done < want) {
      uint64_t at = pos_ + done;
      if (!fd_ || short_) {  // --continue-on-change: what is missing reads as zeros
        std::memset(out.data() + done, 0, want - done);
        done = want;
        break;
      }
      size_t limit = want - done;
      if (sparse_) {
        if (at >= seg_end_) next_segment(at);
        if (sparse_) {
          size_t n = size_t(std::min<uint64_t>(limit, seg_end_ - at));
          if (hole_) {
            std::memset(out.data() + done, 0, n);
            done += n;
            continue;
          }
          limit = n;
        }
      }
      ssize_t n = ::pread(fd_.get(), out.data() + done, limit, off_t(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot read", src_.path_, errno);
      }
      if (n == 0) {
        src_.changed("shrank while it was being archived", "as read, padded with zeros to " + std::to_string(size) + " bytes");
        short_ = true;
        continue;
      }
      done += size_t(n);
    }
    pos_ += done;
    if (pos_ == size && !ended_) end_checks();
    return done;
  }

private:
  // Finds the data or hole segment that starts at `at` (sparse files).
  void next_segment(uint64_t at) {
    const uint64_t size = src_.size_;
    off_t d = ::lseek(fd_.get(), off_t(at), SEEK_DATA);
    if (d < 0) {
      if (errno != ENXIO) {  // SEEK_DATA not supported here: plain reads
        sparse_ = false;
        return;
      }
      hole_ = true, seg_end_ = size;  // no data after `at`
      return;
    }
    if (uint64_t(d) > at) {
      hole_ = true, seg_end_ = std::min<uint64_t>(uint64_t(d), size);
      return;
    }
    off_t h = ::lseek(fd_.get(), off_t(at), SEEK_HOLE);
    hole_ = false;
    seg_end_ = h < 0 || uint64_t(h) <= at ? size : std::min<uint64_t>(uint64_t(h), size);
  }

  // At the end of the scanned size: the file must not have grown, nor been
  // modified while it was read (tar's test: size, mtime and ctime).
  void end_checks() {
    ended_ = true;
    if (!fd_) return;
    if (!short_) {
      uint8_t extra;
      ssize_t n;
      do n = ::pread(fd_.get(), &extra, 1, off_t(src_.size_));
      while (n < 0 && errno == EINTR);
      if (n > 0) {
        src_.changed("grew while it was being archived", "as read, cut to " + std::to_string(src_.size_) + " bytes");
        return;
      }
    }
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) fail_errno("cannot stat", src_.path_, errno);
    if (st.st_size != st0_.st_size || st.st_mtim.tv_sec != st0_.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != st0_.st_mtim.tv_nsec || st.st_ctim.tv_sec != st0_.st_ctim.tv_sec ||
        st.st_ctim.tv_nsec != st0_.st_ctim.tv_nsec)
      src_.changed("changed while it was being archived", "as read");
  }

  const FileBlobSource& src_;
  Fd fd_;  // closed when the file could not be read (zeros stand in)
  struct stat st0_ {};
  uint64_t pos_ = 0;
  bool sparse_ = false, hole_ = false;
  uint64_t seg_end_ = 0;
  bool short_ = false, ended_ = false;
};

std::unique_ptr<wim::BlobStream> FileBlobSource::open() const { return std::make_unique<FileStream>(*this); }

}  // namespace wp::capture
