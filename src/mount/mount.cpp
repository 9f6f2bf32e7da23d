#include "mount/mount.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mount/chunk_cache.hpp"
#include "mount/mount_internal.hpp"
#include "util/error.hpp"
#include "util/filetime.hpp"
#include "util/printable.hpp"
#include "util/utf.hpp"
#include "wim/reparse.hpp"
#include "wim/resource_reader.hpp"

extern char** environ;

namespace wp::mount {
namespace {

constexpr unsigned long kFuseSuperMagic = 0x65735546;
constexpr double kTimeout = 3600.0;  // read-only: nothing changes under the kernel's caches

enum class Kind : uint8_t { Dir, File, Symlink, Special, Stream };

struct Node {
  const image::Inode* inode = nullptr;
  const image::Dentry* dentry = nullptr;  // directories: their (only) dentry
  fuse_ino_t parent = FUSE_ROOT_ID;       // directories: the parent directory
  Kind kind = Kind::File;
  int stream = -1;  // Kind::Stream: index into inode->streams
  uint32_t subdirs = 0;
  std::string target;  // symlinks
  // Directories: (name, node) in image order, and sorted by name for lookup.
  std::vector<std::pair<std::string_view, fuse_ino_t>> entries, sorted;
  // Files with named data streams (windows interface): "name" → node.
  std::vector<std::pair<std::string, fuse_ino_t>> streams;
};

bool is_special_mode(uint32_t mode) {
  mode &= S_IFMT;
  return mode == S_IFCHR || mode == S_IFBLK || mode == S_IFIFO || mode == S_IFSOCK;
}

class ReadOnlyFs {
public:
  ReadOnlyFs(std::unique_ptr<wim::Archive> archive, image::Image img, const MountOptions& opts, std::string mount_abs)
      : archive_(std::move(archive)), img_(std::move(img)), opts_(opts), mount_abs_(std::move(mount_abs)),
        cache_(opts.cache_size), uid_(::getuid()), gid_(::getgid()) {
    build();
  }

  std::vector<std::string>& warnings() { return warnings_; }
  void enable_readahead() { cache_.enable_readahead(); }
  const ChunkCache& cache() const { return cache_; }

  // --- FUSE operations ---------------------------------------------------

  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const Node* p = node(parent);
    if (!p || p->kind != Kind::Dir) return (void)fuse_reply_err(req, ENOTDIR);
    fuse_ino_t ino = find_child(*p, name);
    if (!ino && opts_.streams == StreamsInterface::Windows) ino = find_stream(*p, name);
    if (!ino) return (void)fuse_reply_err(req, ENOENT);
    fuse_entry_param e{};
    e.ino = ino;
    e.attr_timeout = kTimeout;
    e.entry_timeout = kTimeout;
    fill_stat(ino, e.attr);
    fuse_reply_entry(req, &e);
  }

  void getattr(fuse_req_t req, fuse_ino_t ino) {
    if (!node(ino)) return (void)fuse_reply_err(req, ENOENT);
    struct stat st{};
    fill_stat(ino, st);
    fuse_reply_attr(req, &st, kTimeout);
  }

  void readlink(fuse_req_t req, fuse_ino_t ino) {
    const Node* n = node(ino);
    if (!n || n->kind != Kind::Symlink) return (void)fuse_reply_err(req, EINVAL);
    fuse_reply_readlink(req, n->target.c_str());
  }

  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    const Node* n = node(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (n->kind == Kind::Dir) return (void)fuse_reply_err(req, EISDIR);
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) return (void)fuse_reply_err(req, EROFS);
    // Zero-message opens: the kernel stops sending open and release, two of
    // the four round trips reading a small file costs (issue 11). The mount
    // is "ro", so the kernel refuses opens for writing itself.
    if (no_open_) return (void)fuse_reply_err(req, ENOSYS);
    fi->keep_cache = 1;
    fuse_reply_open(req, fi);
  }

  void init(fuse_conn_info* conn) { no_open_ = (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0; }

  void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
    const Node* n = node(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    const image::Stream* s = data_stream(*n);
    uint64_t total = s ? s->size : 0;
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    if (!s || uint64_t(off) >= total || s->hash.is_zero()) return (void)fuse_reply_buf(req, nullptr, 0);
    size_t len = size_t(std::min<uint64_t>(size, total - uint64_t(off)));
    const wim::BlobLocation* loc = archive_->find_blob(s->hash);
    if (!loc || loc->size != total) return (void)fuse_reply_err(req, EIO);
    // Replied straight from the decoded chunks: no copy in between.
    std::vector<ChunkCache::Piece> pieces;
    try {
      pieces = cache_.pieces(*loc, uint64_t(off), len);
    } catch (const std::exception& e) {
      report(e.what());
      return (void)fuse_reply_err(req, EIO);
    }
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (const auto& p : pieces) iov.push_back({const_cast<uint8_t*>(p.bytes.data()), p.bytes.size()});
    fuse_reply_iov(req, iov.data(), int(iov.size()));
  }

  // With `plus` (readdirplus), every entry carries its attributes, so that
  // listing a directory and then opening its files needs no lookups.
  void readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
    const Node* n = node(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (n->kind != Kind::Dir) return (void)fuse_reply_err(req, ENOTDIR);
    std::vector<char> buf(size);
    size_t used = 0;
    size_t count = n->entries.size() + 2;
    for (size_t i = size_t(std::max<off_t>(off, 0)); i < count; i++) {
      std::string name;
      fuse_ino_t child;
      if (i == 0) {
        name = ".";
        child = ino;
      } else if (i == 1) {
        name = "..";
        child = n->parent;
      } else {
        name = std::string(n->entries[i - 2].first);
        child = n->entries[i - 2].second;
      }
      size_t need;
      if (plus) {
        fuse_entry_param e{};
        e.ino = child;
        e.attr_timeout = kTimeout;
        e.entry_timeout = kTimeout;
        fill_stat(child, e.attr);
        need = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e, off_t(i + 1));
      } else {
        struct stat st{};
        st.st_ino = child;
        st.st_mode = mode_of(child) & S_IFMT;
        need = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &st, off_t(i + 1));
      }
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  void statfs(fuse_req_t req) {
    struct statvfs sv{};
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_blocks = (total_bytes_ + 4095) / 4096;
    sv.f_files = nodes_.size() - 1;
    sv.f_namemax = 255;
    sv.f_flag = ST_RDONLY;
    fuse_reply_statfs(req, &sv);
  }

  void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    const Node* n = node(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    std::string value;
    if (ino == FUSE_ROOT_ID && std::strcmp(name, kPidXattr) == 0) {
      value = std::to_string(::getpid());
      return reply_xattr(req, value.data(), value.size(), size);
    }
    if (n->kind == Kind::Stream) return (void)fuse_reply_err(req, ENODATA);
    if (opts_.unix_data)  // Linux xattrs captured with --unix-data
      for (const auto& x : n->inode->xattrs())
        if (x.name == name) return reply_xattr(req, reinterpret_cast<const char*>(x.value.data()), x.value.size(), size);
    if (opts_.streams != StreamsInterface::Xattr || std::strncmp(name, "user.", 5) != 0)
      return (void)fuse_reply_err(req, ENODATA);
    auto wname = utf8_to_utf16(name + 5);
    const image::Stream* s = wname && !wname->empty() ? n->inode->find_stream(image::StreamType::Data, *wname) : nullptr;
    if (!s) return (void)fuse_reply_err(req, ENODATA);
    if (s->size > 65536) return (void)fuse_reply_err(req, E2BIG);
    if (size == 0) return (void)fuse_reply_xattr(req, size_t(s->size));
    if (size < s->size) return (void)fuse_reply_err(req, ERANGE);
    Bytes data(size_t(s->size));
    if (!s->hash.is_zero()) {
      const wim::BlobLocation* loc = archive_->find_blob(s->hash);
      if (!loc || loc->size != s->size) return (void)fuse_reply_err(req, EIO);
      try {
        cache_.read(*loc, 0, data);
      } catch (const std::exception& e) {
        report(e.what());
        return (void)fuse_reply_err(req, EIO);
      }
    }
    fuse_reply_buf(req, reinterpret_cast<const char*>(data.data()), data.size());
  }

  void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    const Node* n = node(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    std::string list;
    if (opts_.unix_data && n->kind != Kind::Stream)
      for (const auto& x : n->inode->xattrs()) {
        list += x.name;
        list.push_back('\0');
      }
    if (opts_.streams == StreamsInterface::Xattr && n->kind != Kind::Stream)
      for (const auto& s : n->inode->streams)
        if (s.type == image::StreamType::Data && !s.name.empty()) {
          list += "user." + utf16_to_utf8(s.name);
          list.push_back('\0');
        }
    reply_xattr(req, list.data(), list.size(), size);
  }

private:
  void report(const char* what) {
    if (opts_.debug) std::fprintf(stderr, "wimpack mount: %s\n", what);
  }

  const Node* node(fuse_ino_t ino) const {
    if (ino == 0 || ino >= nodes_.size()) return nullptr;
    return &nodes_[ino];
  }

  static fuse_ino_t find_child(const Node& dir, std::string_view name) {
    auto it = std::lower_bound(dir.sorted.begin(), dir.sorted.end(), name,
                               [](const auto& e, std::string_view v) { return e.first < v; });
    return it != dir.sorted.end() && it->first == name ? it->second : 0;
  }

  // "file:stream" under the windows interface.
  fuse_ino_t find_stream(const Node& dir, std::string_view name) const {
    size_t colon = name.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return 0;
    fuse_ino_t file = find_child(dir, name.substr(0, colon));
    if (!file) return 0;
    for (const auto& [sname, ino] : nodes_[file].streams)
      if (sname == name.substr(colon + 1)) return ino;
    return 0;
  }

  const image::Stream* data_stream(const Node& n) const {
    if (n.kind == Kind::Stream) return &n.inode->streams[size_t(n.stream)];
    if (n.kind != Kind::File) return nullptr;
    if (n.inode->attributes & image::kAttrEncrypted) return nullptr;  // data not available (as wimlib)
    return n.inode->unnamed_data();
  }

  mode_t mode_of(fuse_ino_t ino) const {
    const Node& n = nodes_[ino];
    std::optional<image::UnixData> u;
    if (opts_.unix_data && n.kind != Kind::Stream) u = n.inode->unix_data();
    mode_t perm = u ? mode_t(u->mode & 07777) : 0777;
    switch (n.kind) {
      case Kind::Dir: return S_IFDIR | perm;
      case Kind::Symlink: return S_IFLNK | 0777;
      case Kind::Special: return mode_t(u->mode & (S_IFMT | 07777));
      default: return S_IFREG | perm;
    }
  }

  void fill_stat(fuse_ino_t ino, struct stat& st) const {
    const Node& n = nodes_[ino];
    st = {};
    st.st_ino = ino;
    st.st_mode = mode_of(ino);
    st.st_uid = uid_;
    st.st_gid = gid_;
    if (opts_.unix_data && n.kind != Kind::Stream)
      if (auto u = n.inode->unix_data()) {
        st.st_uid = u->uid;
        st.st_gid = u->gid;
        if (n.kind == Kind::Special) st.st_rdev = dev_t(u->rdev);
      }
    switch (n.kind) {
      case Kind::Dir:
        st.st_nlink = 2 + n.subdirs;
        st.st_size = 4096;
        break;
      case Kind::Symlink:
        st.st_nlink = n.inode->nlink;
        st.st_size = off_t(n.target.size());
        break;
      case Kind::Stream:
        st.st_nlink = 1;
        st.st_size = off_t(n.inode->streams[size_t(n.stream)].size);
        break;
      default: {
        st.st_nlink = n.inode->nlink;
        const image::Stream* s = data_stream(n);
        st.st_size = s ? off_t(s->size) : 0;
      }
    }
    st.st_blksize = 4096;
    st.st_blocks = (st.st_size + 511) / 512;
    st.st_atim = filetime_to_timespec(n.inode->last_access_time);
    st.st_mtim = filetime_to_timespec(n.inode->last_write_time);
    st.st_ctim = st.st_mtim;
  }

  Kind classify(const image::Inode& ino) const {
    if (ino.is_reparse_point()) {
      if (ino.is_symlink()) return Kind::Symlink;
      return (ino.attributes & image::kAttrDirectory) ? Kind::Dir : Kind::File;
    }
    if (ino.attributes & image::kAttrDirectory) return Kind::Dir;
    if (opts_.unix_data)
      if (auto u = ino.unix_data(); u && is_special_mode(u->mode)) return Kind::Special;
    return Kind::File;
  }

  // The UNIX target of a symlink or junction (§9.3), fixed for the mount
  // point when the archive says links were fixed (RP_FIX), as apply does
  // for its target directory. nullopt if the reparse data is missing or bad.
  std::optional<std::string> link_target(const image::Inode& ino) {
    const image::Stream* s = ino.reparse_stream();
    if (!s || s->hash.is_zero() || s->size > wim::kMaxReparseDataSize) return std::nullopt;
    const wim::BlobLocation* loc = archive_->find_blob(s->hash);
    if (!loc || loc->size != s->size) return std::nullopt;
    Bytes data(size_t(s->size));
    cache_.read(*loc, 0, data);
    bool rpfix = archive_->header().flags & wim::kHdrRpFix;
    return wim::reparse_to_unix_target(ino.reparse_tag, ino.rp_flags, data, rpfix, mount_abs_);
  }

  void build() {
    nodes_.resize(2);  // 0 unused, 1 = root
    std::unordered_map<const image::Inode*, fuse_ino_t> by_inode;
    const image::Dentry* root = img_.root();
    nodes_[FUSE_ROOT_ID].inode = root->inode;
    nodes_[FUSE_ROOT_ID].dentry = root;
    nodes_[FUSE_ROOT_ID].kind = Kind::Dir;
    by_inode[root->inode] = FUSE_ROOT_ID;
    uint64_t bad_links = 0;
    std::vector<fuse_ino_t> stack{FUSE_ROOT_ID};
    while (!stack.empty()) {
      fuse_ino_t dir = stack.back();
      stack.pop_back();
      const image::Dentry* d = nodes_[dir].dentry;
      for (const auto& c : d->children) {
        const image::Inode* ino = c->inode;
        auto [it, fresh] = by_inode.try_emplace(ino, fuse_ino_t(nodes_.size()));
        fuse_ino_t id = it->second;
        if (fresh) {
          Node n;
          n.inode = ino;
          n.kind = classify(*ino);
          if (n.kind == Kind::Symlink) {
            auto t = link_target(*ino);
            if (!t) {
              bad_links++;
              by_inode.erase(it);
              continue;
            }
            n.target = std::move(*t);
          }
          if (n.kind == Kind::Dir) {
            n.dentry = c.get();
            n.parent = dir;
          }
          if (n.kind == Kind::File || n.kind == Kind::Special) {
            const image::Stream* s = ino->unnamed_data();
            if (s && n.kind == Kind::File) total_bytes_ += s->size;
          }
          nodes_.push_back(std::move(n));
          if (nodes_.back().kind == Kind::Dir) stack.push_back(id);
          if (opts_.streams == StreamsInterface::Windows && nodes_.back().kind == Kind::File)
            for (size_t i = 0; i < ino->streams.size(); i++) {
              const image::Stream& s = ino->streams[i];
              if (s.type != image::StreamType::Data || s.name.empty()) continue;
              Node sn;
              sn.inode = ino;
              sn.kind = Kind::Stream;
              sn.stream = int(i);
              nodes_[id].streams.emplace_back(utf16_to_utf8(s.name), fuse_ino_t(nodes_.size()));
              nodes_.push_back(std::move(sn));
            }
        } else if (nodes_[id].kind == Kind::Dir) {
          continue;  // a directory with two names: keep the first (the decoder should not let this happen)
        }
        nodes_[dir].entries.emplace_back(c->name, id);
        if (nodes_[id].kind == Kind::Dir) nodes_[dir].subdirs++;
      }
      auto& n = nodes_[dir];
      n.sorted = n.entries;
      std::sort(n.sorted.begin(), n.sorted.end());
    }
    if (bad_links) warnings_.push_back(std::to_string(bad_links) + " symbolic link(s) with missing or invalid reparse data are not shown");
  }

  std::unique_ptr<wim::Archive> archive_;
  image::Image img_;
  MountOptions opts_;
  std::string mount_abs_;
  ChunkCache cache_;
  uid_t uid_;
  gid_t gid_;
  std::vector<Node> nodes_;  // fixed once built: read by all threads without locks
  uint64_t total_bytes_ = 0;
  std::vector<std::string> warnings_;
  bool no_open_ = false;  // the kernel takes ENOSYS from open as success
};

ReadOnlyFs* fs_of(fuse_req_t req) { return static_cast<ReadOnlyFs*>(fuse_req_userdata(req)); }

const fuse_lowlevel_ops kReadOnlyOps = [] {
  fuse_lowlevel_ops o{};
  o.lookup = [](fuse_req_t r, fuse_ino_t p, const char* n) { fs_of(r)->lookup(r, p, n); };
  o.getattr = [](fuse_req_t r, fuse_ino_t i, fuse_file_info*) { fs_of(r)->getattr(r, i); };
  o.readlink = [](fuse_req_t r, fuse_ino_t i) { fs_of(r)->readlink(r, i); };
  o.open = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { fs_of(r)->open(r, i, fi); };
  o.read = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t off, fuse_file_info*) { fs_of(r)->read(r, i, s, off); };
  o.init = [](void* fs, fuse_conn_info* conn) { static_cast<ReadOnlyFs*>(fs)->init(conn); };
  o.readdir = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t off, fuse_file_info*) { fs_of(r)->readdir(r, i, s, off, false); };
  o.readdirplus = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t off, fuse_file_info*) {
    fs_of(r)->readdir(r, i, s, off, true);
  };
  o.statfs = [](fuse_req_t r, fuse_ino_t) { fs_of(r)->statfs(r); };
  o.getxattr = [](fuse_req_t r, fuse_ino_t i, const char* n, size_t s) { fs_of(r)->getxattr(r, i, n, s); };
  o.listxattr = [](fuse_req_t r, fuse_ino_t i, size_t s) { fs_of(r)->listxattr(r, i, s); };
  return o;
}();

}  // namespace

std::string check_mount_point(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT) fail(Errc::NotFound, "mount point '" + dir + "' does not exist");
    fail_errno("cannot use mount point", dir, e);
  }
  if (!S_ISDIR(st.st_mode)) fail(Errc::Failure, "mount point '" + dir + "' is not a directory");
  DIR* d = ::opendir(dir.c_str());
  if (!d) fail_errno("cannot open mount point", dir, errno);
  bool empty = true;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  ::closedir(d);
  if (!empty) fail(Errc::Failure, "mount point '" + dir + "' is not empty");
  char* rp = ::realpath(dir.c_str(), nullptr);
  if (!rp) fail_errno("cannot resolve", dir, errno);
  std::string abs = rp;
  ::free(rp);
  return abs;
}

void check_dev_fuse() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    int e = errno;
    if (e == ENOENT)
      fail(Errc::Unsupported, "/dev/fuse does not exist: FUSE is not available here (load the fuse module, or give the container the device)");
    fail_errno("cannot use FUSE", "/dev/fuse", e);
  }
}

namespace {

// Escapes a value for a -o option list (commas and backslashes).
std::string opt_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

ReadOnlyView make_readonly_view(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                                const MountOptions& opts) {
  image::Image img = archive->load_image(index);
  // As apply: refuse an image whose data is not all at hand (its files
  // would read as empty), rather than mount it.
  size_t missing = 0;
  std::string first;
  img.for_each_dentry([&](const image::Dentry& d) {
    for (const auto& st : d.inode->streams)
      if (!st.hash.is_zero() && !archive->find_blob(st.hash) && missing++ == 0) first = d.path();
  });
  if (missing) {
    bool delta = !archive->xml().delta_bases(index).empty();
    fail(delta ? Errc::NotFound : Errc::BadArchive,
         "cannot mount image " + std::to_string(index) + " of '" + archive->path() + "': the data of " +
             std::to_string(missing) + " stream" + (missing == 1 ? "" : "s") + " (first: '" + printable(first) + "') " +
             (delta ? "is neither in it nor in its delta bases; pass the right base with --ref=BASE.wim"
                    : "is missing: the archive is corrupt (or a delta made by another tool: pass its base with --ref=BASE.wim)"));
  }
  ReadOnlyView v;
  v.abs = check_mount_point(dir);
  check_dev_fuse();
  v.source = archive->path();
  auto fs = std::make_shared<ReadOnlyFs>(std::move(archive), std::move(img), opts, v.abs == "/" ? std::string() : v.abs);
  v.warnings = fs->warnings();
  v.ops = &kReadOnlyOps;
  v.userdata = fs.get();
  v.enable_readahead = [p = fs.get()] { p->enable_readahead(); };
  v.stats = [p = fs.get()] {
    return std::to_string(p->cache().decoded_chunks()) + " chunks decoded, " +
           std::to_string(p->cache().readahead_chunks()) + " queued for read-ahead";
  };
  v.fs = std::move(fs);
  return v;
}

void mount_readonly(std::unique_ptr<wim::Archive> archive, size_t index, const std::string& dir,
                    const MountOptions& opts) {
  ReadOnlyView v = make_readonly_view(std::move(archive), index, dir, opts);
  for (const auto& w : v.warnings) std::fprintf(stderr, "wimpack: warning: %s\n", w.c_str());
  serve(*v.ops, v.userdata, dir, v.abs, v.source, opts, false, v.enable_readahead);
  if (opts.debug) std::fprintf(stderr, "wimpack mount: %s\n", v.stats().c_str());
}

void serve(const fuse_lowlevel_ops& ops, void* userdata, const std::string& dir, const std::string& abs,
           const std::string& source, const MountOptions& opts, bool read_write,
           const std::function<void()>& in_background) {
  std::string o = std::string(read_write ? "rw" : "ro") + ",default_permissions,subtype=wimpack,fsname=" + opt_escape(source);
  if (opts.allow_other) o += ",allow_other";
  std::vector<std::string> argv_s = {"wimpack", "-o", o};
  if (opts.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(int(argv.size()), argv.data());
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, userdata);
  fuse_opt_free_args(&args);  // (the session keeps what it needs)
  if (!se) fail(Errc::Failure, "cannot start a FUSE session for '" + dir + "' (see the message above)");
  if (fuse_session_mount(se, abs.c_str()) != 0) {
    fuse_session_destroy(se);
    fail(Errc::Failure, "cannot mount on '" + dir + "' (see the message above; fusermount3 from the fuse3 package is needed when not root)");
  }
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    fail(Errc::Failure, "cannot install signal handlers");
  }
  std::fflush(nullptr);
  // fuse_daemonize forks, and a fork copies only this thread: a TBB worker
  // (idle after the image was decoded) holding a lock of TBB's allocator at
  // that moment would leave it locked forever in the mount process, which
  // then hangs at its first TBB allocation (a commit). Wait for the workers
  // to exit first; TBB starts new ones in the child when it needs them.
  {
    tbb::task_scheduler_handle workers{tbb::attach{}};
    if (!tbb::finalize(workers, std::nothrow) && opts.debug)
      std::fprintf(stderr, "wimpack mount: could not wait for TBB's worker threads before forking\n");
  }
  // In the background from here on (the parent exits 0 once the child is
  // ready); the mount is already in place.
  if (fuse_daemonize(opts.debug ? 1 : 0) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    fail(Errc::Failure, "cannot go into the background");
  }
  // main() blocks these signals for its cleanup thread, which does not
  // exist in the background process: let them reach FUSE's handlers, which
  // end the loop (and so unmount) cleanly.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  in_background();
  // The multithreaded loop for both: the read-write file system locks its
  // tree itself.
  fuse_loop_config cfg{};
  cfg.clone_fd = 0;
  cfg.max_idle_threads = 10;
  int rc = fuse_session_loop_mt(se, &cfg);
  fuse_remove_signal_handlers(se);
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  if (rc < 0) fail(Errc::Failure, "the FUSE loop for '" + dir + "' failed: " + errno_text(-rc));
}

int unmount_dir(const std::string& dir, bool lazy) {
  if (::umount2(dir.c_str(), lazy ? MNT_DETACH : 0) == 0) return 0;
  int e = errno;
  if (e != EPERM) return e;
  // Not root: fusermount3 (setuid) unmounts what its user mounted.
  std::vector<std::string> a = {"fusermount3", "-u", "-q"};
  if (lazy) a.push_back("-z");
  a.push_back("--");
  a.push_back(dir);
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ) != 0) return EPERM;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : EBUSY;  // (fusermount3 -u fails mostly when busy)
}

namespace {

// unmount --commit: the mount process commits synchronously inside this
// setxattr; a failure comes back as its errno, and its message through
// kCommitResultXattr. A read-only mount refuses the xattr: nothing to commit.
// Returns 0, or the errno of a commit that did not come back because the
// mount process ended (killed) during it.
int commit_request(const std::string& dir, const UnmountOptions& opts, int pidfd) {
  auto b = [](bool v) { return v ? "1" : "0"; };
  std::string req = std::string("check=") + b(opts.check) + ",rebuild=" + b(opts.rebuild) + ",force=" + b(opts.force) +
                    ",new_image=" + b(opts.new_image);
  if (::setxattr(dir.c_str(), kCommitXattr, req.data(), req.size(), 0) == 0) return 0;
  int e = errno;
  if (e == EROFS || e == EOPNOTSUPP || e == ENOSYS) return 0;  // a read-only mount (wimunmount(1): no effect)
  pollfd p{pidfd, POLLIN, 0};
  if (e == ENOTCONN || e == ECONNABORTED || (pidfd >= 0 && ::poll(&p, 1, 0) == 1)) return e;
  std::string msg(4096, '\0');
  ssize_t n = ::getxattr(dir.c_str(), kCommitResultXattr, msg.data(), msg.size());
  msg.resize(n > 0 ? size_t(n) : 0);
  if (msg.empty()) msg = errno_text(e);
  fail(e == EBUSY ? Errc::Busy : Errc::Failure,
       "cannot commit the changes of '" + dir + "': " + msg + "; it is still mounted, with its changes");
}

// What is left when a read-write mount process died: the kernel's mount
// (unmounted here) and the staging directory (removed once unlocked).
void clean_up_dead_mount(const std::string& dir, const std::string& staging) {
  if (unmount_dir(dir, false) != 0) unmount_dir(dir, true);
  if (!staging.empty()) remove_staging_dir_if_stale(staging);
}

}  // namespace

void unmount(const std::string& dir, const UnmountOptions& opts) {
  struct statfs sf;
  bool dead = false;
  if (::statfs(dir.c_str(), &sf) != 0) {
    int e = errno;
    if (e != ENOTCONN) {
      if (e == ENOENT) fail(Errc::NotFound, "'" + dir + "' does not exist");
      fail_errno("cannot unmount", dir, e);
    }
    dead = true;  // the serving process died: only the kernel's mount is left
  } else if (sf.f_type != kFuseSuperMagic) {
    fail(Errc::Failure, "'" + dir + "' is not a mounted WIM image");
  }
  pid_t pid = -1;
  if (!dead) {
    char buf[32] = {};
    ssize_t n = ::getxattr(dir.c_str(), kPidXattr, buf, sizeof buf - 1);
    if (n <= 0) fail(Errc::Failure, "'" + dir + "' is not a mounted WIM image (a FUSE mount of another program?)");
    pid = pid_t(std::strtol(buf, nullptr, 10));
  }
  int pidfd = pid > 0 ? int(::syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (opts.commit && !dead) {
    // The staging directory of a read-write mount, to remove if the mount
    // process dies during the commit.
    std::string staging(4096, '\0');
    ssize_t n = ::getxattr(dir.c_str(), kStagingXattr, staging.data(), staging.size());
    staging.resize(n > 0 ? size_t(n) : 0);
    int e;
    try {
      e = commit_request(dir, opts, pidfd);
    } catch (...) {
      if (pidfd >= 0) ::close(pidfd);
      throw;
    }
    if (e != 0) {
      if (pidfd >= 0) ::close(pidfd);
      clean_up_dead_mount(dir, staging);
      fail(Errc::Failure, "the mount process of '" + dir + "' (pid " + std::to_string(pid) +
                              ") ended during the commit (" + errno_text(e) +
                              "): the archive holds the image as it was before the commit, or the whole "
                              "committed one, never a mix; changes not committed are lost. '" + dir +
                              "' has been unmounted");
    }
  }
  bool lazy = opts.lazy;
  int e = unmount_dir(dir, lazy);
  if (e == EBUSY && !lazy && opts.commit && opts.force) {
    // Committed with files still open (--force): detach them, as wimlib
    // closes them.
    lazy = true;
    e = unmount_dir(dir, true);
  }
  if (e != 0) {
    if (pidfd >= 0) ::close(pidfd);
    if (e == EBUSY)
      fail(Errc::Busy, std::string(opts.commit ? "the changes were committed, but " : "") + "'" + dir +
                           "' is busy (files open or a process inside it); close them, or use --lazy");
    fail_errno("cannot unmount", dir, e);
  }
  if (pidfd >= 0) {
    // Wait for the mount process to finish and exit (not with --lazy: it
    // serves open files until they are closed).
    if (!lazy) {
      pollfd p{pidfd, POLLIN, 0};
      int waited = 0;
      while (::poll(&p, 1, 1000) == 0)
        if (++waited == 120) {
          ::close(pidfd);
          fail(Errc::Failure, "unmounted '" + dir + "', but its mount process " + std::to_string(pid) +
                                  " has not exited after 120 s");
        }
    }
    ::close(pidfd);
  }
}

}  // namespace wp::mount
