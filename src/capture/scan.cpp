#include "capture/scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <unordered_map>

#include "capture/config.hpp"
#include "capture/graft.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/filetime.hpp"
#include "util/file.hpp"
#include "util/sha1.hpp"
#include "util/utf.hpp"
#include "wim/reparse.hpp"

namespace wp::capture {

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
  Scanner(const ScanOptions& opts, ScanResult& out)
      : opts_(opts), out_(out), dents_(64 * 1024), xnames_(4096), xvalue_(4096) {
    if (opts.config && !opts.config->excludes_nothing()) config_ = opts.config;
    proc_fd_ = ::access("/proc/self/fd", X_OK) == 0;
    if (!out_.files) out_.files = std::make_shared<FileReadContext>(opts.continue_on_change);
  }

  // Scans one source into a detached tree whose inodes belong to out.image.
  // `as_root`: the source becomes the image root, so it must be a directory
  // and a symlink naming it is followed; otherwise it is taken as it is (a
  // file, a symlink, a special file or a directory). Returns null when the
  // configuration excludes the source's root or it is a skipped special file.
  // `depth`: how deep in the image the source's top item goes (0 for the root).
  std::unique_ptr<Dentry> scan_source(const std::string& source, bool as_root, bool rpfix, size_t depth = 0);
  // What the "not a directory" error for an `as_root` source suggests.
  void set_not_dir_hint(std::string hint) { not_dir_hint_ = std::move(hint); }
  // Detect hard links by dev+ino even for files with one link (several sources).
  void set_link_all(bool v) { link_all_ = v; }
  // Detect hard links in this table (shared with other scanners).
  void share_links(std::unordered_map<DevIno, Inode*, DevInoHash>* t) { hard_links_ = t; }

private:
  struct Frame {
    Fd fd;
    Dentry* dir;
    size_t path_len;
    size_t next_child = 0;
    dev_t dev;
    ino_t ino;
    std::shared_ptr<const ScannedDir> sdir;  // what the file sources below reopen
  };

  void scan_dir(Fd fd, const struct stat& st, Dentry* root, std::shared_ptr<const ScannedDir> sdir);
  [[noreturn]] void fail_too_deep(const std::string& path) const;
  void read_dir(Frame& f);
  Dentry* add_entry(Frame& f, const char* name, bool check_config = true);
  void fill_common(Inode* inode, const struct stat& st, int dirfd, const char* name);
  void read_xattrs(Inode* inode, int dirfd, const char* name);
  void add_symlink(Frame& f, const char* name, const struct stat& st, Inode* inode);
  std::string child_path(const char* name) const { return path_ + "/" + name; }
  void warn(std::string msg) { out_.warnings.push_back(std::move(msg)); }

  const ScanOptions& opts_;
  ScanResult& out_;
  const CaptureConfig* config_ = nullptr;  // null when it excludes nothing
  bool rpfix_ = false;                     // for the source being scanned
  bool link_all_ = false;
  std::string not_dir_hint_ =
      "the capture source must be a directory; to capture single files, use --source-list with a target such as /NAME";
  // Path of the directory being read (no trailing slash; "" for "/"). Its
  // part after root_len_ is the path relative to the source root, which is
  // what the configuration is matched against: entries are appended to it
  // in place, so the check costs no allocation.
  std::string path_;
  size_t root_len_ = 0;
  size_t base_depth_ = 0;  // image depth of the source's top item
  DevIno root_{};
  std::vector<Frame> stack_;
  std::unordered_map<DevIno, Inode*, DevInoHash> own_links_;
  std::unordered_map<DevIno, Inode*, DevInoHash>* hard_links_ = &own_links_;
  // SOURCE_DATE_EPOCH as a FILETIME (reproducible archives), if set.
  std::optional<uint64_t> epoch_ = source_date_epoch() ? std::optional<uint64_t>(filetime_now_or_epoch()) : std::nullopt;
  std::vector<char> dents_;
  std::string names_;                               // one directory's names, NUL-separated
  std::vector<std::pair<uint64_t, uint32_t>> order_;  // (d_ino, offset in names_)
  std::string link_buf_;
  std::vector<char> xnames_;
  Bytes xvalue_;
  bool proc_fd_ = false;
  bool warned_xattr_unsupported_ = false;
};

std::unique_ptr<Dentry> Scanner::scan_source(const std::string& source, bool as_root, bool rpfix, size_t depth) {
  path_ = source;
  base_depth_ = depth;
  while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
  if (path_ == "/") path_.clear();
  root_len_ = path_.size();
  rpfix_ = rpfix;
  root_ = {};

  // config.hpp: "/" in the ExclusionList names the source root itself.
  if (config_ && config_->excluded("/")) {
    out_.excluded_count++;
    out_.excluded_roots.push_back(source);
    return nullptr;
  }

  struct stat st;
  const bool follow = as_root || opts_.dereference;
  if ((follow ? ::stat(source.c_str(), &st) : ::lstat(source.c_str(), &st)) != 0) {
    int e = errno;
    if (e == ENOENT) throw Error(Errc::NotFound, "cannot capture '" + source + "': no such file or directory");
    if (e == ELOOP) fail(Errc::Failure, "cannot capture '" + source + "': too many levels of symbolic links (a link loop?)");
    fail_errno("cannot stat", source, e);
  }

  if (S_ISDIR(st.st_mode)) {
    Fd fd(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
    if (!fd) {
      int e = errno;
      if (e == ENOENT) throw Error(Errc::NotFound, "cannot capture '" + source + "': no such directory");
      fail_errno("cannot open source directory", source, e);
    }
    if (::fstat(fd.get(), &st) != 0) fail_errno("cannot stat", source, errno);
    if (depth >= image::kMaxDepth) fail_too_deep(source);
    auto root = std::make_unique<Dentry>();
    root->inode = out_.image.new_inode();
    root->inode->nlink = 1;
    // File sources reopen the root as it was opened here, and check it.
    auto sdir = std::make_shared<ScannedDir>();
    sdir->name = source;
    sdir->path = source;
    sdir->dev = st.st_dev;
    sdir->ino = st.st_ino;
    sdir->follow = follow;
    scan_dir(std::move(fd), st, root.get(), std::move(sdir));
    return root;
  }
  if (as_root)
    fail(Errc::Usage, "cannot capture '" + source + "': not a directory (" + not_dir_hint_ + ")");

  // A single nondirectory: read it relative to its parent directory, like
  // an entry of a scanned directory (the configuration already had its say
  // on the root above).
  size_t slash = path_.rfind('/');
  std::string name = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  Fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) fail_errno("cannot open the directory of", source, errno);
  struct stat pst;
  if (::fstat(pfd.get(), &pst) != 0) fail_errno("cannot stat", parent, errno);
  auto psdir = std::make_shared<ScannedDir>();
  psdir->name = parent;
  psdir->path = parent;
  psdir->dev = pst.st_dev;
  psdir->ino = pst.st_ino;
  psdir->follow = true;  // opened by the path the user gave, like the scan did
  path_ = slash == std::string::npos ? "." : path_.substr(0, slash);
  root_len_ = path_.size();
  Dentry holder;
  image::Inode holder_inode;
  holder_inode.attributes = image::kAttrDirectory;
  holder.inode = &holder_inode;
  Frame f{std::move(pfd), &holder, path_.size(), 0, pst.st_dev, pst.st_ino, std::move(psdir)};
  if (!add_entry(f, name.c_str(), false)) return nullptr;
  std::unique_ptr<Dentry> d = std::move(holder.children.front());
  d->parent = nullptr;
  return d;
}

void Scanner::scan_dir(Fd fd, const struct stat& st, Dentry* root, std::shared_ptr<const ScannedDir> sdir) {
  root_ = {st.st_dev, st.st_ino};
  root->inode->attributes = image::kAttrDirectory;
  fill_common(root->inode, st, fd.get(), nullptr);

  stack_.clear();
  stack_.push_back(Frame{std::move(fd), root, path_.size(), 0, st.st_dev, st.st_ino, std::move(sdir)});
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
    // The child is at depth base + stack size; apply refuses to read a
    // directory that deep (image::kMaxDepth), so do not write one.
    if (base_depth_ + stack_.size() >= image::kMaxDepth) fail_too_deep(path_);
    // --dereference: the name may be a link to a directory; the fstat below
    // and the file sources check that it is the directory the scan saw.
    int cfd = ::openat(f.fd.get(), c->name.c_str(),
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC | (opts_.dereference ? 0 : O_NOFOLLOW));
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
    auto sdir = std::make_shared<ScannedDir>();
    sdir->parent = f.sdir;
    sdir->name = c->name;
    sdir->path = path_;
    sdir->dev = cst.st_dev;
    sdir->ino = cst.st_ino;
    sdir->follow = opts_.dereference;
    stack_.push_back(Frame{std::move(child), c, path_.size(), 0, cst.st_dev, cst.st_ino, std::move(sdir)});
    read_dir(stack_.back());
  }
}

void Scanner::fail_too_deep(const std::string& path) const {
  fail(Errc::Failure, "directory tree deeper than " + std::to_string(image::kMaxDepth) + " levels: " + path +
                          " (WIM readers refuse deeper trees)");
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
  if (epoch_) {
    // Reproducible archives: reading the tree changes access times, so the
    // last write time stands in for it; times after SOURCE_DATE_EPOCH are
    // clamped to it (as tar --clamp-mtime).
    inode->last_write_time = std::min(inode->last_write_time, *epoch_);
    inode->creation_time = inode->last_access_time = inode->last_write_time;
  }
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

Dentry* Scanner::add_entry(Frame& f, const char* name, bool check_config) {
  if (check_config && config_) {
    // The path relative to the source root, built in place (no allocation
    // once path_ has grown to the deepest path).
    size_t len = path_.size();
    path_ += '/';
    path_ += name;
    bool ex = config_->excluded(std::string_view(path_).substr(root_len_));
    path_.resize(len);
    if (ex) {
      out_.excluded_count++;
      return nullptr;
    }
  }
  int dirfd = f.fd.get();
  struct stat st;
  if (::fstatat(dirfd, name, &st, opts_.dereference ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
    int e = errno;
    struct stat lst;
    if (opts_.dereference && e == ELOOP)
      fail(Errc::Failure, "cannot capture '" + child_path(name) +
                              "' with --dereference: too many levels of symbolic links (a link loop?)");
    if (opts_.dereference && e == ENOENT && ::fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0)
      fail(Errc::NotFound, "cannot capture '" + child_path(name) +
                               "' with --dereference: it is a symbolic link to something that does not exist");
    if (e == ENOENT) {
      warn("skipping '" + child_path(name) + "': it vanished during the scan");
      return nullptr;
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
    return nullptr;
  }

  // Hard links (non-directories other than symlinks: a reparse point cannot
  // be hard-linked in a WIM, wim-format.md §7.2).
  // With several sources, the same file may be reached twice even with one
  // link on disk (listed twice, or inside two listed directories): wimlib
  // then makes one inode of it, so every file is remembered.
  bool linkable = (st.st_nlink > 1 || link_all_ || opts_.dereference) && (S_ISREG(st.st_mode) || special);
  if (linkable) {
    auto it = hard_links_->find({st.st_dev, st.st_ino});
    if (it != hard_links_->end()) return attach(f.dir, nm, it->second);
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
      out_.sources.push_back(std::make_unique<FileBlobSource>(out_.files, f.sdir, name, child_path(name), s.size,
                                                              st.st_dev, st.st_ino, opts_.dereference));
      inode->streams.push_back(std::move(s));
    }
  } else if (S_ISLNK(st.st_mode)) {
    add_symlink(f, name, st, inode);
  } else {
    inode->attributes = 0;  // wim-format.md §10.2: special files
  }
  fill_common(inode, st, dirfd, name);
  if (linkable) hard_links_->emplace(DevIno{st.st_dev, st.st_ino}, inode);
  return attach(f.dir, nm, inode);
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
  if (rpfix_) fixed = wim::rpfix_capture_target(target, root_.dev, root_.ino);
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
  std::unique_ptr<Dentry> root = Scanner(opts, out).scan_source(source_dir, true, opts.rpfix);
  if (root) {
    out.image.root()->inode->nlink = 0;  // the placeholder root made by Image()
    out.image.set_root(std::move(root));
  } else {
    // config.hpp: the root itself is excluded.
    Grafter(out.image, filetime_now_or_epoch()).finish_empty();
    out.empty = true;
  }
  return out;
}

struct LinkTable::Impl {
  std::unordered_map<DevIno, Inode*, DevInoHash> map;
};
LinkTable::LinkTable() : impl(std::make_unique<Impl>()) {}
LinkTable::~LinkTable() = default;

std::unique_ptr<Dentry> scan_branch(ScanResult& into, LinkTable& links, const std::string& source,
                                    const ScanOptions& opts, bool rpfix, size_t depth) {
  Scanner s(opts, into);
  s.share_links(&links.impl->map);
  s.set_link_all(true);
  return s.scan_source(source, false, rpfix, depth);
}

ScanResult scan_sources(const std::vector<SourceListEntry>& entries, const ScanOptions& opts, const std::string& list_name) {
  ScanResult out;
  Scanner scanner(opts, out);  // one scanner: hard links are detected across sources
  scanner.set_link_all(entries.size() > 1);
  scanner.set_not_dir_hint("only a directory can be placed at the image root \"/\"; give a target such as /NAME");
  Grafter graft(out.image, filetime_now_or_epoch());
  std::vector<OverlayStep> plan = plan_overlay(entries);
  for (const OverlayStep& step : plan) {
    const SourceListEntry& e = entries[step.entry];
    std::string where = list_name + ":" + std::to_string(e.line);
    std::unique_ptr<Dentry> tree;
    try {
      tree = scanner.scan_source(e.source, step.to_root, opts.rpfix && step.rpfix,
                                 step.to_root ? 0 : step.parents.size() + 1);
    } catch (const Error& err) {
      throw Error(err.code(), where + ": " + err.what());
    }
    if (tree) graft.add(std::move(tree), step, where);
  }
  out.empty = graft.finish_empty();
  return out;
}

}  // namespace wp::capture
