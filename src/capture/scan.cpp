#include "capture/scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "util/error.hpp"
#include "util/file.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/reparse.hpp"

namespace wp::capture {

uint64_t unix_to_filetime(int64_t sec, int64_t nsec) {
  // wim-format.md §10.1; times before 1601 clamp to 0.
  constexpr int64_t kEpochDiff = 11644473600;
  if (sec < -kEpochDiff) return 0;
  return uint64_t(sec + kEpochDiff) * 10000000u + uint64_t(nsec / 100);
}

namespace {

using image::Dentry;
using image::Inode;

struct DevIno {
  dev_t dev;
  ino_t ino;
  bool operator==(const DevIno&) const = default;
};
struct DevInoHash {
  size_t operator()(const DevIno& k) const noexcept { return std::hash<uint64_t>()(uint64_t(k.ino) * 0x9E3779B97F4A7C15ull ^ k.dev); }
};

bool is_valid_name(std::string_view name) {
  for (unsigned char c : name)
    if (c >= 0x80) return utf8_to_utf16(name).has_value();
  return true;  // ASCII: the common case, no conversion needed
}

// Adds a dentry without Image::add_child's linear duplicate check: names
// from one getdents stream are unique, and the check would make a directory
// of n entries cost O(n²).
Dentry* attach(Dentry* parent, std::string_view name, Inode* inode) {
  auto d = std::make_unique<Dentry>();
  d->name.assign(name);
  d->inode = inode;
  d->parent = parent;
  inode->nlink++;
  parent->children.push_back(std::move(d));
  return parent->children.back().get();
}

class Scanner {
public:
  Scanner(const ScanOptions& opts, ScanResult& out) : opts_(opts), out_(out), dents_(64 * 1024), xnames_(4096), xvalue_(4096) {}

  void run(const std::string& source_dir);

private:
  struct Frame {
    Fd fd;
    Dentry* dir;
    size_t path_len;
    size_t next_child = 0;
    dev_t dev;
    ino_t ino;
  };

  void read_dir(Frame& f);
  void add_entry(Frame& f, const char* name);
  void fill_common(Inode* inode, const struct stat& st, int dirfd, const char* name);
  void read_xattrs(Inode* inode, int dirfd, const char* name);
  void add_symlink(Frame& f, const char* name, const struct stat& st, Inode* inode);
  std::string child_path(const char* name) const { return path_ + "/" + name; }
  void warn(std::string msg) { out_.warnings.push_back(std::move(msg)); }

  const ScanOptions& opts_;
  ScanResult& out_;
  std::string path_;  // path of the directory being read (no trailing slash; "" for "/")
  DevIno root_{};
  std::vector<Frame> stack_;
  std::unordered_map<DevIno, Inode*, DevInoHash> hard_links_;
  std::vector<char> dents_;
  std::string names_;                               // one directory's names, NUL-separated
  std::vector<std::pair<uint64_t, uint32_t>> order_;  // (d_ino, offset in names_)
  std::string link_buf_;
  std::vector<char> xnames_;
  Bytes xvalue_;
  bool proc_fd_ = false;
  bool warned_xattr_unsupported_ = false;
};

void Scanner::run(const std::string& source_dir) {
  Fd fd(::open(source_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    if (e == ENOTDIR)
      fail(Errc::Usage, "cannot capture '" + source_dir + "': not a directory (the capture source must be a directory)");
    if (e == ENOENT) throw Error(Errc::NotFound, "cannot capture '" + source_dir + "': no such directory");
    fail_errno("cannot open source directory", source_dir, e);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) fail_errno("cannot stat", source_dir, errno);
  root_ = {st.st_dev, st.st_ino};
  proc_fd_ = ::access("/proc/self/fd", X_OK) == 0;

  path_ = source_dir;
  while (!path_.empty() && path_.back() == '/') path_.pop_back();

  Dentry* root = out_.image.root();
  root->inode->attributes = image::kAttrDirectory;
  fill_common(root->inode, st, fd.get(), nullptr);

  stack_.push_back(Frame{std::move(fd), root, path_.size(), 0, st.st_dev, st.st_ino});
  read_dir(stack_.back());

  while (!stack_.empty()) {
    size_t top = stack_.size() - 1;
    Frame& f = stack_[top];
    auto& kids = f.dir->children;
    while (f.next_child < kids.size() && !kids[f.next_child]->inode->is_directory()) f.next_child++;
    if (f.next_child == kids.size()) {
      stack_.pop_back();
      if (!stack_.empty()) path_.resize(stack_.back().path_len);
      continue;
    }
    Dentry* c = kids[f.next_child++].get();
    path_.resize(f.path_len);
    path_ += '/';
    path_ += c->name;
    int cfd = ::openat(f.fd.get(), c->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR || e == ELOOP) {
        // Gone or replaced by a non-directory since we listed it.
        warn("skipping '" + path_ + "': it vanished or changed type during the scan");
        f.next_child--;
        out_.image.remove(c);
        continue;
      }
      if (e == EMFILE || e == ENFILE)
        fail(Errc::Failure, "cannot open directory '" + path_ + "': too many open files (the tree is " +
                                std::to_string(stack_.size()) + " levels deep; raise 'ulimit -n')");
      fail_errno("cannot open directory", path_, e);
    }
    Fd child(cfd);
    struct stat cst;
    if (::fstat(cfd, &cst) != 0) fail_errno("cannot stat", path_, errno);
    for (const Frame& a : stack_)
      if (a.dev == cst.st_dev && a.ino == cst.st_ino)
        fail(Errc::Failure, "cannot capture '" + path_ + "': it is the same directory as one of its ancestors (a bind mount loop?)");
    stack_.push_back(Frame{std::move(child), c, path_.size(), 0, cst.st_dev, cst.st_ino});
    read_dir(stack_.back());
  }
}

void Scanner::read_dir(Frame& f) {
  // Collect the whole listing first and stat in inode order: with a cold
  // cache that reads the inode table front to back instead of seeking
  // (getdents order is hash order on ext4).
  names_.clear();
  order_.clear();
  for (;;) {
    ssize_t n = ::getdents64(f.fd.get(), dents_.data(), dents_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("cannot read directory", path_.empty() ? "/" : path_, errno);
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(dents_.data() + off);
      off += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
      order_.push_back({uint64_t(d->d_ino), uint32_t(names_.size())});
      names_.append(name, std::strlen(name) + 1);
    }
  }
  std::sort(order_.begin(), order_.end());
  f.dir->children.reserve(order_.size());
  for (const auto& [ino, off] : order_) add_entry(f, names_.c_str() + off);
  // A stable, locale-independent order; the metadata writer sorts again in
  // collation order (wim-format.md §7.4).
  std::sort(f.dir->children.begin(), f.dir->children.end(),
            [](const std::unique_ptr<Dentry>& a, const std::unique_ptr<Dentry>& b) { return a->name < b->name; });
}

void Scanner::fill_common(Inode* inode, const struct stat& st, int dirfd, const char* name) {
  // wim-format.md §10.1: creation = last write = mtime.
  inode->last_write_time = unix_to_filetime(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  inode->creation_time = inode->last_write_time;
  inode->last_access_time = unix_to_filetime(st.st_atim.tv_sec, st.st_atim.tv_nsec);
  if (opts_.unix_data) {
    inode->set_unix_data({uint32_t(st.st_uid), uint32_t(st.st_gid), uint32_t(st.st_mode), uint32_t(st.st_rdev)});
    read_xattrs(inode, dirfd, name);
  }
}

void Scanner::read_xattrs(Inode* inode, int dirfd, const char* name) {
  // With a name, resolve through /proc/self/fd/N/NAME so that the lookup
  // starts from the directory we hold open instead of re-walking (and
  // following) the path; without one (the root), use the directory fd itself.
  std::string p;
  if (name) p = proc_fd_ ? "/proc/self/fd/" + std::to_string(dirfd) + "/" + name : child_path(name);
  auto list = [&](char* b, size_t n) { return name ? ::llistxattr(p.c_str(), b, n) : ::flistxattr(dirfd, b, n); };
  auto get = [&](const char* xn, void* b, size_t n) {
    return name ? ::lgetxattr(p.c_str(), xn, b, n) : ::fgetxattr(dirfd, xn, b, n);
  };
  auto where = [&] { return name ? child_path(name) : (path_.empty() ? std::string("/") : path_); };

  ssize_t n;
  for (;;) {
    n = list(xnames_.data(), xnames_.size());
    if (n >= 0) break;
    int e = errno;
    if (e == ERANGE) {
      ssize_t need = list(nullptr, 0);
      if (need == 0) return;
      if (need > 0) {
        xnames_.resize(size_t(need) + 1);
        continue;
      }
      e = errno;
    }
    if (e == ENOTSUP) {
      if (!warned_xattr_unsupported_)
        warn("extended attributes are not supported on the file system of '" + where() +
             "'; files there are captured without them");
      warned_xattr_unsupported_ = true;
      return;
    }
    if (e == ENOENT) return;  // vanished; the writer notices if it matters
    fail_errno("cannot list extended attributes of", where(), e);
  }
  if (n == 0) return;
  std::vector<image::Xattr> xs;
  for (ssize_t i = 0; i < n;) {
    const char* xn = xnames_.data() + i;
    size_t len = std::strlen(xn);
    i += ssize_t(len) + 1;
    if (len == 0) continue;
    ssize_t vn;
    for (;;) {
      vn = get(xn, xvalue_.data(), xvalue_.size());
      if (vn >= 0) break;
      if (errno == ERANGE) {
        ssize_t need = get(xn, nullptr, 0);
        if (need == 0) {
          vn = 0;
          break;
        }
        if (need > 0) {
          xvalue_.resize(size_t(need) + 1);
          continue;
        }
      }
      break;
    }
    if (vn < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      fail_errno(std::string("cannot read extended attribute ") + xn + " of", where(), errno);
    }
    if (len > 255 || vn > 65535) {
      warn("skipping extended attribute '" + std::string(xn) + "' of '" + where() + "': too large for a WIM");
      continue;
    }
    image::Xattr x;
    x.name.assign(xn, len);
    x.value.assign(xvalue_.begin(), xvalue_.begin() + vn);
    xs.push_back(std::move(x));
  }
  if (!xs.empty()) inode->set_xattrs(xs);
}

void Scanner::add_entry(Frame& f, const char* name) {
  int dirfd = f.fd.get();
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int e = errno;
    if (e == ENOENT) {
      warn("skipping '" + child_path(name) + "': it vanished during the scan");
      return;
    }
    fail_errno("cannot stat", child_path(name), e);
  }
  std::string_view nm(name);
  if (!is_valid_name(nm))
    fail(Errc::Failure, "cannot capture '" + child_path(name) +
                            "': its name is not valid UTF-8, and WIM names must be Unicode; rename it or exclude it");

  bool special = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode);
  if (special && !opts_.unix_data) {
    warn("skipping special file '" + child_path(name) + "' (use --unix-data to capture FIFOs, sockets and devices)");
    return;
  }

  // Hard links (non-directories other than symlinks: a reparse point cannot
  // be hard-linked in a WIM, wim-format.md §7.2).
  bool linkable = st.st_nlink > 1 && (S_ISREG(st.st_mode) || special);
  if (linkable) {
    auto it = hard_links_.find({st.st_dev, st.st_ino});
    if (it != hard_links_.end()) {
      attach(f.dir, nm, it->second);
      return;
    }
  }

  Inode* inode = out_.image.new_inode();
  if (S_ISDIR(st.st_mode)) {
    inode->attributes = image::kAttrDirectory;
  } else if (S_ISREG(st.st_mode)) {
    // wim-format.md §10.2: SPARSE instead of NORMAL when allocation < length.
    inode->attributes = uint64_t(st.st_blocks) * 512 < uint64_t(st.st_size) ? image::kAttrSparse : image::kAttrNormal;
    if (st.st_size > 0) {
      image::Stream s;
      s.type = image::StreamType::Data;
      s.size = uint64_t(st.st_size);
      s.source = uint32_t(out_.sources.size());
      out_.sources.push_back(std::make_unique<wim::FileBlobSource>(child_path(name), s.size));
      inode->streams.push_back(std::move(s));
    }
  } else if (S_ISLNK(st.st_mode)) {
    add_symlink(f, name, st, inode);
  } else {
    inode->attributes = 0;  // wim-format.md §10.2: special files
  }
  fill_common(inode, st, dirfd, name);
  if (linkable) hard_links_.emplace(DevIno{st.st_dev, st.st_ino}, inode);
  attach(f.dir, nm, inode);
}

void Scanner::add_symlink(Frame& f, const char* name, const struct stat& st, Inode* inode) {
  int dirfd = f.fd.get();
  size_t cap = std::max<size_t>(size_t(st.st_size) + 1, 256);
  ssize_t n;
  for (;;) {
    if (link_buf_.size() < cap) link_buf_.resize(cap);
    n = ::readlinkat(dirfd, name, link_buf_.data(), link_buf_.size());
    if (n < 0) fail_errno("cannot read symbolic link", child_path(name), errno);
    if (size_t(n) < link_buf_.size()) break;
    cap = link_buf_.size() * 2;
  }
  std::string_view target(link_buf_.data(), size_t(n));

  // wim-format.md §9.4: an absolute target inside the source tree is
  // rewritten relative to the tree root ("/src/tree/sub" -> "/sub").
  std::optional<std::string> fixed;
  if (opts_.rpfix) fixed = wim::rpfix_capture_target(target, root_.dev, root_.ino);
  Bytes data;
  try {
    data = wim::make_symlink_reparse_data(fixed ? std::string_view(*fixed) : target, fixed.has_value());
  } catch (const Error& e) {
    throw Error(e.code(), "cannot capture symbolic link '" + child_path(name) + "': " + e.what());
  }

  inode->attributes = image::kAttrReparsePoint;
  struct stat tst;
  if (::fstatat(dirfd, name, &tst, 0) == 0 && S_ISDIR(tst.st_mode)) inode->attributes |= image::kAttrDirectory;
  inode->reparse_tag = image::kReparseTagSymlink;
  inode->rp_reserved = 0;
  inode->rp_flags = wim::symlink_rp_flags(fixed.has_value());

  image::Stream s;
  s.type = image::StreamType::Reparse;
  s.size = data.size();
  s.hash = sha1_of(data);
  s.source = uint32_t(out_.sources.size());
  out_.sources.push_back(std::make_unique<wim::MemoryBlobSource>(std::move(data), child_path(name)));
  inode->streams.push_back(std::move(s));
}

}  // namespace

ScanResult scan_tree(const std::string& source_dir, const ScanOptions& opts) {
  ScanResult out;
  Scanner(opts, out).run(source_dir);
  return out;
}

}  // namespace wp::capture
