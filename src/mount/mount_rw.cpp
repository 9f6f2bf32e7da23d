// Read-write mounts (wimmountrw): the decoded image is changed in memory by
// the FUSE operations; file data that is written goes to a staging file
// (copied up from the archive on the first write), small data (named
// streams set as xattrs, symlink reparse data) is kept in memory. Data never
// written is read from the archive through the ChunkCache. The mount is
// served by the multithreaded FUSE loop: a shared_mutex guards the tree
// (operations that change it hold it exclusively, the others shared), and
// file data is read outside it (staging files are never closed before the
// mount ends; archive reads go through the thread-safe ChunkCache).
//
// A commit (unmount --commit, through the hidden root xattr
// "wimpack.commit") hands the tree to wim::ArchiveUpdate like `update` does:
// staged and in-memory data become blob sources, everything else keeps its
// hash, and the image is replaced (or added, --new-image) in place or by a
// rebuild. The archive's writer lock is held from mount to commit.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

#include "mount/chunk_cache.hpp"
#include "mount/mount.hpp"
#include "mount/mount_internal.hpp"
#include "util/error.hpp"
#include "util/file.hpp"
#include "util/filetime.hpp"
#include "util/printable.hpp"
#include "util/utf.hpp"
#include "wim/archive_update.hpp"
#include "wim/delta_chain.hpp"
#include "wim/reparse.hpp"

namespace wp::mount {
namespace {

using image::Dentry;
using image::Inode;
using image::StreamType;

constexpr double kTimeout = 1.0;  // every change comes through us; short anyway

enum class Kind : uint8_t { Dir, File, Symlink, Special };

bool is_special_mode(uint32_t mode) {
  mode &= S_IFMT;
  return mode == S_IFCHR || mode == S_IFBLK || mode == S_IFIFO || mode == S_IFSOCK;
}

// A staging file, read front to back by the archive writer at commit.
class StagedSource final : public wim::BlobSource {
public:
  StagedSource(std::string path, uint64_t size) : path_(std::move(path)), size_(size) {}
  uint64_t size() const override { return size_; }
  std::unique_ptr<wim::BlobStream> open() const override { return std::make_unique<Stream>(path_); }
  std::string describe() const override { return path_; }

private:
  class Stream final : public wim::BlobStream {
  public:
    explicit Stream(std::string path) : path_(std::move(path)), fd_(::open(path_.c_str(), O_RDONLY | O_CLOEXEC)) {
      if (!fd_) fail_errno("cannot open staged file", path_, errno);
    }
    size_t read(std::span<uint8_t> out) override {
      size_t n = pread_upto(fd_.get(), off_, out, "cannot read staged file", path_);
      off_ += n;
      return n;
    }

  private:
    std::string path_;
    Fd fd_;
    uint64_t off_ = 0;
  };
  std::string path_;
  uint64_t size_;
};

// A directory's entries as opendir saw them: name, inode number, type.
using Listing = std::vector<std::tuple<std::string, fuse_ino_t, mode_t>>;

// Errors thrown inside an operation become this errno.
int errno_of(const Error& e) {
  switch (e.code()) {
    case Errc::NotFound: return ENOENT;
    case Errc::Unsupported: return EOPNOTSUPP;
    default: return EIO;
  }
}

class ReadWriteFs {
public:
  ReadWriteFs(std::unique_ptr<wim::ArchiveUpdate> update, size_t index, const MountOptions& opts, std::string mount_abs,
              std::string staging)
      : update_(std::move(update)), ar_(*update_->existing()), index_(index), img_(ar_.load_image(index)),
        opts_(opts), mount_abs_(std::move(mount_abs)), staging_(std::move(staging)), cache_(opts.cache_size),
        uid_(::getuid()), gid_(::getgid()) {
    img_.for_each_dentry([&](Dentry& d) {
      number(d.inode);
      if (kind(*d.inode) == Kind::Dir) dirs_.try_emplace(d.inode, &d);
      if (opts_.streams == StreamsInterface::Windows && kind(*d.inode) == Kind::File)
        for (const auto& s : d.inode->streams)
          if (s.type == StreamType::Data && !s.name.empty()) number_stream(d.inode, s.name);
    });
  }

  void enable_readahead() { cache_.enable_readahead(); }
  // After a commit the image is what the archive holds: no more changes.
  bool committed() const { return committed_; }
  std::shared_mutex& tree_mutex() { return mu_; }
  const std::string& staging() const { return staging_; }

  // Runs one operation: a wp::Error or other exception before the reply
  // becomes an errno reply (and a message with --debug).
  template <class F>
  void run(fuse_req_t req, F&& f) {
    try {
      f();
    } catch (const Error& e) {
      report(e.what());
      fuse_reply_err(req, errno_of(e));
    } catch (const std::exception& e) {
      report(e.what());
      fuse_reply_err(req, EIO);
    }
  }

  // --- FUSE operations ---------------------------------------------------

  void lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    Dentry* c = p->child(name);
    if (c) return reply_entry(req, c->inode);
    if (auto sk = stream_at(p, name))
      if (auto it = stream_numbers_.find(*sk); it != stream_numbers_.end()) return reply_stream_entry(req, it->second);
    fuse_reply_err(req, ENOENT);
  }

  void getattr(fuse_req_t req, fuse_ino_t ino) {
    struct stat st;
    if (const StreamKey* k = stream_key(ino)) {
      if (!fill_stream_stat(ino, *k, st)) return (void)fuse_reply_err(req, ENOENT);
      return (void)fuse_reply_attr(req, &st, kTimeout);
    }
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    fill_stat(n, st);
    fuse_reply_attr(req, &st, kTimeout);
  }

  void setattr(fuse_req_t req, fuse_ino_t ino, const struct stat* attr, int to_set) {
    if (const StreamKey* k = stream_key(ino)) {  // a named stream: only its size changes
      if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) return (void)fuse_reply_err(req, EPERM);
      if (!k->first->find_stream(StreamType::Data, k->second)) return (void)fuse_reply_err(req, ENOENT);
      if (to_set & FUSE_SET_ATTR_SIZE) {
        if (attr->st_size < 0) return (void)fuse_reply_err(req, EINVAL);
        Bytes& b = stage_stream(*k);
        b.resize(size_t(attr->st_size));
        k->first->find_stream(StreamType::Data, k->second)->size = b.size();
        k->first->last_write_time = filetime_now();
      }
      return getattr(req, ino);
    }
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
      // Owners and modes exist only as UNIX data (as wimlib: EPERM without).
      if (!opts_.unix_data) return (void)fuse_reply_err(req, EPERM);
      image::UnixData u = unix_data_of(*n);
      if (to_set & FUSE_SET_ATTR_MODE) u.mode = (u.mode & S_IFMT) | (attr->st_mode & 07777);
      if (to_set & FUSE_SET_ATTR_UID) u.uid = attr->st_uid;
      if (to_set & FUSE_SET_ATTR_GID) u.gid = attr->st_gid;
      n->set_unix_data(u);
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
      Kind k = kind(*n);
      if (k == Kind::Dir) return (void)fuse_reply_err(req, EISDIR);
      if (k != Kind::File) return (void)fuse_reply_err(req, EINVAL);
      if (attr->st_size < 0) return (void)fuse_reply_err(req, EINVAL);
      truncate(*n, uint64_t(attr->st_size));
    }
    uint64_t now = filetime_now();
    if (to_set & FUSE_SET_ATTR_ATIME_NOW)
      n->last_access_time = now;
    else if (to_set & FUSE_SET_ATTR_ATIME)
      n->last_access_time = unix_to_filetime(attr->st_atim);
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
      n->last_write_time = now;
    else if (to_set & FUSE_SET_ATTR_MTIME)
      n->last_write_time = unix_to_filetime(attr->st_mtim);
    getattr(req, ino);
  }

  void readlink(fuse_req_t req, fuse_ino_t ino) {
    Inode* n = inode(ino);
    if (!n || kind(*n) != Kind::Symlink) return (void)fuse_reply_err(req, EINVAL);
    auto t = link_target(*n);
    if (!t) return (void)fuse_reply_err(req, EIO);
    fuse_reply_readlink(req, t->c_str());
  }

  void mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    if (S_ISREG(mode)) return make(req, parent, name, mode, nullptr);
    if (!is_special_mode(mode)) return (void)fuse_reply_err(req, EPERM);
    // Special files exist only as UNIX data.
    if (!opts_.unix_data) return (void)fuse_reply_err(req, EPERM);
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    if (p->child(name)) return (void)fuse_reply_err(req, EEXIST);
    Inode* n = new_inode(req, mode, image::kAttrNormal);
    image::UnixData u = *n->unix_data();
    u.rdev = uint32_t(rdev);
    n->set_unix_data(u);
    add(p, name, n);
    reply_entry(req, n);
  }

  void mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    if (p->child(name)) return (void)fuse_reply_err(req, EEXIST);
    Inode* n = new_inode(req, S_IFDIR | (mode & 07777), image::kAttrDirectory);
    dirs_[n] = add(p, name, n);
    reply_entry(req, n);
  }

  void unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    Dentry* c = p->child(name);
    if (!c) {
      auto sk = stream_at(p, name);
      if (!sk || !sk->first->find_stream(StreamType::Data, sk->second)) return (void)fuse_reply_err(req, ENOENT);
      remove_stream(*sk);
      return (void)fuse_reply_err(req, 0);
    }
    if (kind(*c->inode) == Kind::Dir) return (void)fuse_reply_err(req, EISDIR);
    remove(c);
    fuse_reply_err(req, 0);
  }

  void rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    Dentry* c = p->child(name);
    if (!c) return (void)fuse_reply_err(req, ENOENT);
    if (kind(*c->inode) != Kind::Dir) return (void)fuse_reply_err(req, ENOTDIR);
    if (!c->children.empty()) return (void)fuse_reply_err(req, ENOTEMPTY);
    remove(c);
    fuse_reply_err(req, 0);
  }

  void symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    if (p->child(name)) return (void)fuse_reply_err(req, EEXIST);
    Bytes data = wim::make_symlink_reparse_data(target, false);
    Inode* n = new_inode(req, S_IFLNK | 0777, image::kAttrReparsePoint);
    n->reparse_tag = image::kReparseTagSymlink;
    n->rp_flags = wim::symlink_rp_flags(false);
    n->streams.push_back({StreamType::Reparse, {}, {}, data.size()});
    memory_[{n, StreamType::Reparse, {}}] = std::move(data);
    {
      std::lock_guard g(targets_mu_);
      targets_[n] = target;
    }
    add(p, name, n);
    reply_entry(req, n);
  }

  void rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned flags) {
    if (flags & ~unsigned(RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EINVAL);
    Dentry* p = dir_of(parent);
    Dentry* np = dir_of(newparent);
    if (!p || !np) return (void)fuse_reply_err(req, ENOTDIR);
    Dentry* src = p->child(name);
    if (!src) return (void)fuse_reply_err(req, ENOENT);
    Dentry* dst = np->child(newname);
    if (dst && (flags & RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EEXIST);
    if (dst == src) return (void)fuse_reply_err(req, 0);
    bool src_dir = kind(*src->inode) == Kind::Dir;
    if (src_dir)  // not below itself
      for (Dentry* a = np; a; a = a->parent)
        if (a == src) return (void)fuse_reply_err(req, EINVAL);
    if (dst) {
      bool dst_dir = kind(*dst->inode) == Kind::Dir;
      if (src_dir && !dst_dir) return (void)fuse_reply_err(req, ENOTDIR);
      if (!src_dir && dst_dir) return (void)fuse_reply_err(req, EISDIR);
      if (dst_dir && !dst->children.empty()) return (void)fuse_reply_err(req, ENOTEMPTY);
      if (dst->inode == src->inode) return (void)fuse_reply_err(req, 0);  // two links of one file: POSIX no-op
      remove(dst);
    }
    auto& sib = p->children;
    auto it = std::find_if(sib.begin(), sib.end(), [&](const auto& d) { return d.get() == src; });
    std::unique_ptr<Dentry> moved = std::move(*it);
    sib.erase(it);
    moved->name = newname;
    moved->short_name.clear();
    moved->parent = np;
    np->children.push_back(std::move(moved));
    fuse_reply_err(req, 0);
  }

  void link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (kind(*n) == Kind::Dir) return (void)fuse_reply_err(req, EPERM);
    Dentry* p = dir_of(newparent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    if (p->child(newname)) return (void)fuse_reply_err(req, EEXIST);
    add(p, newname, n);
    reply_entry(req, n);
  }

  void open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
    if (const StreamKey* k = stream_key(ino)) {
      if (!k->first->find_stream(StreamType::Data, k->second)) return (void)fuse_reply_err(req, ENOENT);
      if (writing) {
        if (committed_) return (void)fuse_reply_err(req, EROFS);
        Bytes& b = stage_stream(*k);
        if (fi->flags & O_TRUNC) {
          b.clear();
          k->first->find_stream(StreamType::Data, k->second)->size = 0;
        }
        writers_[k->first]++;
        fi->fh = 1;
      }
      return (void)fuse_reply_open(req, fi);
    }
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    Kind k = kind(*n);
    if (k == Kind::Dir) return (void)fuse_reply_err(req, EISDIR);
    if (writing && committed_) return (void)fuse_reply_err(req, EROFS);
    if (writing) {
      if (k != Kind::File) return (void)fuse_reply_err(req, EPERM);
      if (n->attributes & image::kAttrEncrypted) return (void)fuse_reply_err(req, EPERM);
      stage(*n);
      if (fi->flags & O_TRUNC) truncate(*n, 0);
      writers_[n]++;
      fi->fh = 1;
    }
    fuse_reply_open(req, fi);
  }

  void release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (fi->fh == 1) {
      Inode* n = inode(ino);
      if (const StreamKey* k = stream_key(ino)) n = k->first;
      if (n && writers_[n] > 0 && --writers_[n] == 0) writers_.erase(n);
    }
    fuse_reply_err(req, 0);
  }

  // Called without the tree lock: takes it (shared) to find where the data
  // is, and reads it after letting go.
  void read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    const Staged* staged = nullptr;
    wim::BlobLocation loc;
    uint64_t total = 0;
    {
      std::shared_lock lock(mu_);
      if (const StreamKey* k = stream_key(ino)) {  // a named stream (windows interface)
        const image::Stream* s = k->first->find_stream(StreamType::Data, k->second);
        if (!s) return (void)fuse_reply_err(req, ENOENT);
        if (uint64_t(off) >= s->size) return (void)fuse_reply_buf(req, nullptr, 0);
        size_t len = size_t(std::min<uint64_t>(size, s->size - uint64_t(off)));
        if (auto it = memory_.find({k->first, StreamType::Data, k->second}); it != memory_.end())
          return (void)fuse_reply_buf(req, reinterpret_cast<const char*>(it->second.data()) + off, len);
        if (s->hash.is_zero()) return (void)fuse_reply_buf(req, nullptr, 0);
        loc = blob_location(s->hash, s->size);
        total = s->size;
      } else if (Inode* n = inode(ino); !n) {
        return (void)fuse_reply_err(req, ENOENT);
      } else if (auto it = staged_.find(n); it != staged_.end()) {
        staged = &it->second;  // staged_ entries live until the mount ends
      } else {
        const image::Stream* s =
            kind(*n) == Kind::File && !(n->attributes & image::kAttrEncrypted) ? n->unnamed_data() : nullptr;
        if (!s || uint64_t(off) >= s->size || s->hash.is_zero()) return (void)fuse_reply_buf(req, nullptr, 0);
        loc = blob_location(s->hash, s->size);
        total = s->size;
      }
    }
    thread_local Bytes buf;
    if (staged) {
      buf.resize(size);
      size_t got = pread_upto(staged->fd.get(), uint64_t(off), {buf.data(), size}, "cannot read staged file",
                              staged->path);
      return (void)fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), got);
    }
    size_t len = size_t(std::min<uint64_t>(size, total - uint64_t(off)));
    buf.resize(len);
    cache_.read(loc, uint64_t(off), {buf.data(), len});
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), len);
  }

  void write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off) {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    if (const StreamKey* k = stream_key(ino)) {
      image::Stream* s = k->first->find_stream(StreamType::Data, k->second);
      if (!s) return (void)fuse_reply_err(req, ENOENT);
      Bytes& b = stage_stream(*k);
      if (b.size() < uint64_t(off) + size) b.resize(size_t(off) + size);
      std::memcpy(b.data() + off, data, size);
      s->size = b.size();
      k->first->last_write_time = filetime_now();
      return (void)fuse_reply_write(req, size);
    }
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (kind(*n) != Kind::File) return (void)fuse_reply_err(req, EBADF);
    Staged& st = stage(*n);
    pwrite_all(st.fd.get(), uint64_t(off), {reinterpret_cast<const uint8_t*>(data), size}, "cannot write staged file",
               st.path);
    image::Stream& s = data_stream(*n);
    s.size = std::max<uint64_t>(s.size, uint64_t(off) + size);
    n->last_write_time = filetime_now();
    fuse_reply_write(req, size);
  }

  void create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
    make(req, parent, name, S_IFREG | (mode & 07777), fi);
  }

  // A directory is listed from a snapshot taken at opendir, so entries
  // removed or added while a program reads it (rm -r) shift nothing.
  void opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Dentry* d = dir_of(ino);
    if (!d) return (void)fuse_reply_err(req, inode(ino) ? ENOTDIR : ENOENT);
    auto list = std::make_unique<Listing>();
    list->emplace_back(".", number_of(d->inode), S_IFDIR);
    list->emplace_back("..", number_of(d->parent ? d->parent->inode : d->inode), S_IFDIR);
    for (const auto& c : d->children) list->emplace_back(c->name, number_of(c->inode), mode_of(*c->inode) & S_IFMT);
    fi->fh = reinterpret_cast<uint64_t>(list.get());
    if (fuse_reply_open(req, fi) == 0) list.release();
  }

  void releasedir(fuse_req_t req, fuse_file_info* fi) {
    delete reinterpret_cast<Listing*>(fi->fh);
    fuse_reply_err(req, 0);
  }

  void readdir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi) {
    const Listing& list = *reinterpret_cast<const Listing*>(fi->fh);
    std::vector<char> buf(size);
    size_t used = 0;
    for (size_t i = size_t(std::max<off_t>(off, 0)); i < list.size(); i++) {
      struct stat st{};
      st.st_ino = std::get<1>(list[i]);
      st.st_mode = std::get<2>(list[i]);
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, std::get<0>(list[i]).c_str(), &st, off_t(i + 1));
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  }

  void statfs(fuse_req_t req) {
    struct statvfs sv{};
    // Room for changes is the staging directory's file system's.
    if (::statvfs(staging_.c_str(), &sv) != 0) return (void)fuse_reply_err(req, errno);
    sv.f_files = std::max<fsfilcnt_t>(sv.f_files, numbers_.size());
    sv.f_namemax = 255;
    sv.f_flag = 0;
    fuse_reply_statfs(req, &sv);
  }

  void getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (ino == FUSE_ROOT_ID && std::strcmp(name, kPidXattr) == 0) {
      std::string v = std::to_string(::getpid());
      return reply_xattr(req, v.data(), v.size(), size);
    }
    if (ino == FUSE_ROOT_ID && std::strcmp(name, kCommitResultXattr) == 0)
      return reply_xattr(req, commit_error_.data(), commit_error_.size(), size);
    if (ino == FUSE_ROOT_ID && std::strcmp(name, kStagingXattr) == 0)
      return reply_xattr(req, staging_.data(), staging_.size(), size);
    if (opts_.unix_data)
      for (const auto& x : n->xattrs())
        if (x.name == name) return reply_xattr(req, reinterpret_cast<const char*>(x.value.data()), x.value.size(), size);
    auto sname = stream_name(name);
    if (!sname) return (void)fuse_reply_err(req, ENODATA);
    const image::Stream* s = n->find_stream(StreamType::Data, *sname);
    if (!s) return (void)fuse_reply_err(req, ENODATA);
    if (auto it = memory_.find({n, StreamType::Data, *sname}); it != memory_.end())
      return reply_xattr(req, reinterpret_cast<const char*>(it->second.data()), it->second.size(), size);
    if (s->size > 65536) return (void)fuse_reply_err(req, E2BIG);
    Bytes data(size_t(s->size));
    if (!s->hash.is_zero()) read_blob(s->hash, s->size, 0, data);
    reply_xattr(req, reinterpret_cast<const char*>(data.data()), data.size(), size);
  }

  void setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (ino == FUSE_ROOT_ID && std::strcmp(name, kCommitXattr) == 0)
      return (void)fuse_reply_err(req, commit(std::string(value, size)));
    if (ino == FUSE_ROOT_ID && (std::strcmp(name, kPidXattr) == 0 || std::strcmp(name, kCommitResultXattr) == 0 ||
                                std::strcmp(name, kStagingXattr) == 0))
      return (void)fuse_reply_err(req, EPERM);
    if (committed_) return (void)fuse_reply_err(req, EROFS);
    Bytes v(reinterpret_cast<const uint8_t*>(value), reinterpret_cast<const uint8_t*>(value) + size);
    if (auto sname = stream_name(name); sname && !(opts_.unix_data && has_xattr(*n, name))) {
      if (kind(*n) == Kind::Symlink || kind(*n) == Kind::Special) return (void)fuse_reply_err(req, EPERM);
      image::Stream* s = n->find_stream(StreamType::Data, *sname);
      if (s && (flags & XATTR_CREATE)) return (void)fuse_reply_err(req, EEXIST);
      if (!s && (flags & XATTR_REPLACE)) return (void)fuse_reply_err(req, ENODATA);
      if (!s) {
        n->streams.push_back({StreamType::Data, *sname, {}, 0});
        s = &n->streams.back();
      }
      s->size = v.size();
      memory_[{n, StreamType::Data, *sname}] = std::move(v);
      return (void)fuse_reply_err(req, 0);
    }
    if (!opts_.unix_data) return (void)fuse_reply_err(req, EOPNOTSUPP);
    auto xs = n->xattrs();
    auto it = std::find_if(xs.begin(), xs.end(), [&](const image::Xattr& x) { return x.name == name; });
    if (it != xs.end() && (flags & XATTR_CREATE)) return (void)fuse_reply_err(req, EEXIST);
    if (it == xs.end() && (flags & XATTR_REPLACE)) return (void)fuse_reply_err(req, ENODATA);
    if (it == xs.end()) it = xs.insert(xs.end(), image::Xattr{name, {}, 0});
    it->value = std::move(v);
    n->set_xattrs(xs);
    fuse_reply_err(req, 0);
  }

  void removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    if (opts_.unix_data) {
      auto xs = n->xattrs();
      if (std::erase_if(xs, [&](const image::Xattr& x) { return x.name == name; })) {
        n->set_xattrs(xs);
        return (void)fuse_reply_err(req, 0);
      }
    }
    auto sname = stream_name(name);
    if (!sname || !n->find_stream(StreamType::Data, *sname)) return (void)fuse_reply_err(req, ENODATA);
    std::erase_if(n->streams, [&](const image::Stream& s) { return s.type == StreamType::Data && s.name == *sname; });
    memory_.erase({n, StreamType::Data, *sname});
    fuse_reply_err(req, 0);
  }

  void listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    Inode* n = inode(ino);
    if (!n) return (void)fuse_reply_err(req, ENOENT);
    std::string list;
    if (opts_.unix_data)
      for (const auto& x : n->xattrs()) {
        list += x.name;
        list.push_back('\0');
      }
    if (opts_.streams == StreamsInterface::Xattr)
      for (const auto& s : n->streams)
        if (s.type == StreamType::Data && !s.name.empty()) {
          list += "user." + utf16_to_utf8(s.name);
          list.push_back('\0');
        }
    reply_xattr(req, list.data(), list.size(), size);
  }

private:
  struct Staged {
    std::string path;
    Fd fd;
  };
  using MemoryKey = std::tuple<Inode*, StreamType, std::u16string>;
  // A named data stream shown as "file:stream" (windows interface).
  using StreamKey = std::pair<Inode*, std::u16string>;

  // "file:stream" in directory `p` under the windows interface, when "file"
  // is a regular file there; anything else is an ordinary name.
  std::optional<StreamKey> stream_at(Dentry* p, const char* name) const {
    if (opts_.streams != StreamsInterface::Windows) return std::nullopt;
    const char* colon = std::strrchr(name, ':');
    if (!colon || colon == name || colon[1] == '\0') return std::nullopt;
    Dentry* c = p->child(std::string(name, size_t(colon - name)));
    if (!c || kind(*c->inode) != Kind::File) return std::nullopt;
    auto w = utf8_to_utf16(colon + 1);
    if (!w || w->empty()) return std::nullopt;
    return StreamKey{c->inode, std::move(*w)};
  }

  fuse_ino_t number_stream(Inode* n, const std::u16string& name) {
    auto [it, fresh] = stream_numbers_.try_emplace({n, name}, next_);
    if (fresh) stream_keys_[next_++] = it->first;
    return it->second;
  }

  const StreamKey* stream_key(fuse_ino_t ino) const {
    auto it = stream_keys_.find(ino);
    return it == stream_keys_.end() ? nullptr : &it->second;
  }

  bool fill_stream_stat(fuse_ino_t ino, const StreamKey& k, struct stat& st) {
    const image::Stream* s = k.first->find_stream(StreamType::Data, k.second);
    if (!s) return false;
    fill_stat(k.first, st);
    st.st_ino = ino;
    st.st_mode = S_IFREG | (st.st_mode & 07777);
    st.st_nlink = 1;
    st.st_size = off_t(s->size);
    st.st_blocks = (st.st_size + 511) / 512;
    return true;
  }

  void reply_stream_entry(fuse_req_t req, fuse_ino_t ino) {
    fuse_entry_param e{};
    e.ino = ino;
    e.attr_timeout = kTimeout;
    e.entry_timeout = kTimeout;
    if (!fill_stream_stat(ino, stream_keys_.at(ino), e.attr)) return (void)fuse_reply_err(req, ENOENT);
    fuse_reply_entry(req, &e);
  }

  // The in-memory copy of a named stream, made on the first change with its
  // current contents (named streams are small; they are kept in memory as
  // those set through xattrs are).
  Bytes& stage_stream(const StreamKey& k) {
    MemoryKey mk{k.first, StreamType::Data, k.second};
    if (auto it = memory_.find(mk); it != memory_.end()) return it->second;
    const image::Stream* s = k.first->find_stream(StreamType::Data, k.second);
    Bytes b(s ? size_t(s->size) : 0);
    if (s && s->size && !s->hash.is_zero()) read_blob(s->hash, s->size, 0, b);
    return memory_.emplace(mk, std::move(b)).first->second;
  }

  // create/mknod of "file:stream": a new, empty named stream.
  void make_stream(fuse_req_t req, const StreamKey& k, fuse_file_info* fi) {
    Inode* n = k.first;
    if (n->attributes & image::kAttrEncrypted) return (void)fuse_reply_err(req, EPERM);
    if (n->find_stream(StreamType::Data, k.second)) return (void)fuse_reply_err(req, EEXIST);
    n->streams.push_back({StreamType::Data, k.second, {}, 0});
    memory_[{n, StreamType::Data, k.second}] = {};
    n->last_write_time = filetime_now();
    fuse_ino_t ino = number_stream(n, k.second);
    if (!fi) return reply_stream_entry(req, ino);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      writers_[n]++;
      fi->fh = 1;
    }
    fuse_entry_param e{};
    e.ino = ino;
    e.attr_timeout = kTimeout;
    e.entry_timeout = kTimeout;
    fill_stream_stat(ino, k, e.attr);
    fuse_reply_create(req, &e, fi);
  }

  void remove_stream(const StreamKey& k) {
    Inode* n = k.first;
    std::erase_if(n->streams, [&](const image::Stream& s) { return s.type == StreamType::Data && s.name == k.second; });
    memory_.erase({n, StreamType::Data, k.second});
    if (auto it = stream_numbers_.find(k); it != stream_numbers_.end()) {
      stream_keys_.erase(it->second);
      stream_numbers_.erase(it);
    }
    n->last_write_time = filetime_now();
  }

  void report(const char* what) {
    if (opts_.debug) std::fprintf(stderr, "wimpack mountrw: %s\n", what);
  }

  // The named stream a "user.NAME" xattr stands for (xattr interface only).
  std::optional<std::u16string> stream_name(const char* name) const {
    if (opts_.streams != StreamsInterface::Xattr || std::strncmp(name, "user.", 5) != 0) return std::nullopt;
    auto w = utf8_to_utf16(name + 5);
    if (!w || w->empty()) return std::nullopt;
    return w;
  }

  static bool has_xattr(const Inode& n, const char* name) {
    for (const auto& x : n.xattrs())
      if (x.name == name) return true;
    return false;
  }

  fuse_ino_t number(Inode* n) {
    auto [it, fresh] = numbers_.try_emplace(n, next_);
    if (fresh) inodes_[next_++] = n;
    return it->second;
  }

  // The number of an inode numbered before (every inode is, when loaded or
  // made): a lookup only, safe under the shared lock.
  fuse_ino_t number_of(const Inode* n) const {
    auto it = numbers_.find(n);
    if (it == numbers_.end()) fail(Errc::Failure, "internal error: an inode without a number");
    return it->second;
  }

  Inode* inode(fuse_ino_t ino) const {
    auto it = inodes_.find(ino);
    return it == inodes_.end() ? nullptr : it->second;
  }

  Dentry* dir_of(fuse_ino_t ino) const {
    auto it = inodes_.find(ino);
    if (it == inodes_.end()) return nullptr;
    auto d = dirs_.find(it->second);
    return d == dirs_.end() ? nullptr : d->second;
  }

  Kind kind(const Inode& n) const {
    if (n.is_reparse_point()) {
      if (n.is_symlink()) return Kind::Symlink;
      return (n.attributes & image::kAttrDirectory) ? Kind::Dir : Kind::File;
    }
    if (n.attributes & image::kAttrDirectory) return Kind::Dir;
    if (opts_.unix_data)
      if (auto u = n.unix_data(); u && is_special_mode(u->mode)) return Kind::Special;
    return Kind::File;
  }

  mode_t type_bits(Kind k) const {
    switch (k) {
      case Kind::Dir: return S_IFDIR;
      case Kind::Symlink: return S_IFLNK;
      default: return S_IFREG;
    }
  }

  mode_t mode_of(const Inode& n) const {
    Kind k = kind(n);
    std::optional<image::UnixData> u;
    if (opts_.unix_data) u = n.unix_data();
    if (k == Kind::Special) return mode_t(u->mode & (S_IFMT | 07777));
    if (k == Kind::Symlink) return S_IFLNK | 0777;
    return type_bits(k) | (u ? mode_t(u->mode & 07777) : 0777);
  }

  image::UnixData unix_data_of(const Inode& n) const {
    if (auto u = n.unix_data()) return *u;
    image::UnixData u;
    u.uid = uid_;
    u.gid = gid_;
    u.mode = uint32_t(mode_of(n));
    return u;
  }

  void fill_stat(Inode* n, struct stat& st) {
    st = {};
    st.st_ino = number_of(n);
    st.st_mode = mode_of(*n);
    st.st_uid = uid_;
    st.st_gid = gid_;
    Kind k = kind(*n);
    if (opts_.unix_data)
      if (auto u = n->unix_data()) {
        st.st_uid = u->uid;
        st.st_gid = u->gid;
        if (k == Kind::Special) st.st_rdev = dev_t(u->rdev);
      }
    st.st_nlink = n->nlink;
    if (k == Kind::Dir) {
      st.st_nlink = 2;
      if (Dentry* d = dirs_.count(n) ? dirs_.at(n) : nullptr)
        for (const auto& c : d->children) st.st_nlink += kind(*c->inode) == Kind::Dir;
      st.st_size = 4096;
    } else if (k == Kind::Symlink) {
      auto t = link_target(*n);
      st.st_size = t ? off_t(t->size()) : 0;
    } else if (k == Kind::File && !(n->attributes & image::kAttrEncrypted)) {
      const image::Stream* s = n->unnamed_data();
      st.st_size = s ? off_t(s->size) : 0;
    }
    st.st_blksize = 4096;
    st.st_blocks = (st.st_size + 511) / 512;
    st.st_atim = filetime_to_timespec(n->last_access_time);
    st.st_mtim = filetime_to_timespec(n->last_write_time);
    st.st_ctim = st.st_mtim;
  }

  void reply_entry(fuse_req_t req, Inode* n) {
    fuse_entry_param e{};
    e.ino = number_of(n);
    e.attr_timeout = kTimeout;
    e.entry_timeout = kTimeout;
    fill_stat(n, e.attr);
    fuse_reply_entry(req, &e);
  }

  // A new inode, stamped now; with --unix-data it gets the caller's owner
  // and `mode`.
  Inode* new_inode(fuse_req_t req, mode_t mode, uint32_t attributes) {
    Inode* n = img_.new_inode();
    n->attributes = attributes;
    uint64_t now = filetime_now();
    n->creation_time = n->last_access_time = n->last_write_time = now;
    if (opts_.unix_data) {
      const fuse_ctx* c = fuse_req_ctx(req);
      image::UnixData u;
      u.uid = c ? c->uid : uid_;
      u.gid = c ? c->gid : gid_;
      u.mode = uint32_t(mode & ~(c && !S_ISLNK(mode) ? c->umask : 0));
      n->set_unix_data(u);
    }
    number(n);
    return n;
  }

  Dentry* add(Dentry* parent, const char* name, Inode* n) {
    Dentry* d = img_.add_child(parent, name, n);
    parent->inode->last_write_time = filetime_now();
    return d;
  }

  void remove(Dentry* d) {
    if (kind(*d->inode) == Kind::Dir) dirs_.erase(d->inode);
    d->parent->inode->last_write_time = filetime_now();
    img_.remove(d);
  }

  // create() and mknod(S_IFREG): a new empty file, staged at once.
  void make(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
    Dentry* p = dir_of(parent);
    if (!p) return (void)fuse_reply_err(req, ENOTDIR);
    if (p->child(name)) return (void)fuse_reply_err(req, EEXIST);
    if (auto sk = stream_at(p, name)) return make_stream(req, *sk, fi);
    Inode* n = new_inode(req, mode, image::kAttrNormal);
    stage(*n);
    add(p, name, n);
    if (!fi) return reply_entry(req, n);
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      writers_[n]++;
      fi->fh = 1;
    }
    fuse_entry_param e{};
    e.ino = number_of(n);
    e.attr_timeout = kTimeout;
    e.entry_timeout = kTimeout;
    fill_stat(n, e.attr);
    fuse_reply_create(req, &e, fi);
  }

  image::Stream& data_stream(Inode& n) {
    if (image::Stream* s = n.find_stream(StreamType::Data)) return *s;
    n.streams.push_back({StreamType::Data, {}, {}, 0});
    return n.streams.back();
  }

  // The staging file of a regular file, made on first use with the file's
  // current contents.
  Staged& stage(Inode& n) {
    if (auto it = staged_.find(&n); it != staged_.end()) return it->second;
    Staged st;
    st.path = staging_ + "/" + std::to_string(++staged_count_);
    st.fd.reset(::open(st.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!st.fd) fail_errno("cannot create staging file", st.path, errno);
    image::Stream& s = data_stream(n);
    if (s.size && !s.hash.is_zero()) {
      Bytes buf(size_t(std::min<uint64_t>(s.size, 1 << 20)));
      for (uint64_t off = 0; off < s.size; off += buf.size()) {
        size_t len = size_t(std::min<uint64_t>(buf.size(), s.size - off));
        read_blob(s.hash, s.size, off, {buf.data(), len});
        pwrite_all(st.fd.get(), off, {buf.data(), len}, "cannot write staging file", st.path);
      }
    }
    return staged_.emplace(&n, std::move(st)).first->second;
  }

  void truncate(Inode& n, uint64_t size) {
    Staged& st = stage(n);
    if (::ftruncate(st.fd.get(), off_t(size)) != 0) fail_errno("cannot truncate staging file", st.path, errno);
    data_stream(n).size = size;
    n.last_write_time = filetime_now();
  }

  wim::BlobLocation blob_location(const Sha1& hash, uint64_t size) const {
    const wim::BlobLocation* loc = ar_.find_blob(hash);
    if (!loc || loc->size != size) fail(Errc::Failure, "a blob of this image is missing from the archive");
    return *loc;
  }

  void read_blob(const Sha1& hash, uint64_t size, uint64_t off, std::span<uint8_t> out) {
    cache_.read(blob_location(hash, size), off, out);
  }

  // Under the shared lock too: the cache of targets has its own mutex.
  std::optional<std::string> link_target(Inode& n) {
    {
      std::lock_guard g(targets_mu_);
      if (auto it = targets_.find(&n); it != targets_.end()) return it->second;
    }
    const image::Stream* s = n.reparse_stream();
    if (!s || s->hash.is_zero() || s->size > wim::kMaxReparseDataSize) return std::nullopt;
    Bytes data(size_t(s->size));
    read_blob(s->hash, s->size, 0, data);
    bool rpfix = ar_.header().flags & wim::kHdrRpFix;
    auto t = wim::reparse_to_unix_target(n.reparse_tag, n.rp_flags, data, rpfix, mount_abs_);
    if (t) {
      std::lock_guard g(targets_mu_);
      targets_[&n] = *t;
    }
    return t;
  }

  // unmount --commit: "check=B,rebuild=B,force=B,new_image=B". Returns 0 or
  // an errno for setxattr; the message is kept for getxattr.
  int commit(const std::string& request) {
    auto flag = [&](const char* key) { return request.find(std::string(key) + "=1") != std::string::npos; };
    bool check = flag("check"), rebuild = flag("rebuild"), force = flag("force"), new_image = flag("new_image");
    commit_error_.clear();
    if (committed_) return 0;  // nothing changed since (changes are refused after a commit)
    if (!force && !writers_.empty()) {
      commit_error_ = std::to_string(writers_.size()) +
                      " file(s) are still open for writing; close them, or use --force to commit anyway";
      return EBUSY;
    }
    try {
      std::vector<std::unique_ptr<wim::BlobSource>> sources;
      for (auto& [n, st] : staged_) {
        if (n->nlink == 0) continue;
        struct stat sb;
        if (::fstat(st.fd.get(), &sb) != 0) fail_errno("cannot stat staging file", st.path, errno);
        image::Stream& s = data_stream(*n);
        s.size = uint64_t(sb.st_size);
        s.hash = {};
        s.source = uint32_t(sources.size());
        sources.push_back(std::make_unique<StagedSource>(st.path, s.size));
      }
      for (auto& [key, data] : memory_) {
        auto& [n, type, name] = key;
        image::Stream* s = n->find_stream(type, name);
        if (n->nlink == 0 || !s) continue;
        s->size = data.size();
        s->hash = {};
        s->source = uint32_t(sources.size());
        sources.push_back(std::make_unique<wim::MemoryBlobSource>(data, "named stream or link"));
      }
      const wim::Header& h = ar_.header();
      wim::WriterOptions wo;
      wo.compression = {h.codec(), 0};
      wo.chunk_size = h.chunk_size;
      wo.integrity = check || ar_.has_integrity();
      if (h.flags & wim::kHdrRpFix) wo.extra_header_flags |= wim::kHdrRpFix;
      try {
        wim::ArchiveWriter& w = update_->begin(wo, !rebuild);
        if (!update_->in_place()) w.import_archive(ar_, false);
        // A delta archive stays one: data its bases hold is not copied in.
        for (const auto& base : ar_.refs()) w.exclude_blobs(*base);
        if (new_image)
          w.add_image(img_, sources, "");
        else
          w.replace_image(index_, img_, sources);
        update_->commit();
      } catch (...) {
        update_->rollback_and_rethrow();
      }
      committed_ = true;
      return 0;
    } catch (const std::exception& e) {
      commit_error_ = e.what();
      report(e.what());
      return EIO;
    }
  }

  // The tree and everything below but cache_ (thread-safe) and targets_:
  // exclusive for changes, shared for looking.
  mutable std::shared_mutex mu_;
  std::unique_ptr<wim::ArchiveUpdate> update_;
  wim::Archive& ar_;
  size_t index_;
  image::Image img_;
  MountOptions opts_;
  std::string mount_abs_, staging_;
  ChunkCache cache_;
  uid_t uid_;
  gid_t gid_;
  std::unordered_map<fuse_ino_t, Inode*> inodes_;
  std::unordered_map<const Inode*, fuse_ino_t> numbers_;
  fuse_ino_t next_ = FUSE_ROOT_ID;
  std::unordered_map<const Inode*, Dentry*> dirs_;  // a directory's only dentry
  std::map<StreamKey, fuse_ino_t> stream_numbers_;      // windows interface: "file:stream" nodes
  std::unordered_map<fuse_ino_t, StreamKey> stream_keys_;
  std::unordered_map<Inode*, Staged> staged_;
  std::map<MemoryKey, Bytes> memory_;  // named streams set through xattrs, new symlinks' reparse data
  std::mutex targets_mu_;
  std::unordered_map<const Inode*, std::string> targets_;  // under targets_mu_
  std::unordered_map<const Inode*, uint32_t> writers_;  // open for writing
  uint64_t staged_count_ = 0;
  std::string commit_error_;
  bool committed_ = false;
};

ReadWriteFs* fs_of(fuse_req_t req) { return static_cast<ReadWriteFs*>(fuse_req_userdata(req)); }

const fuse_lowlevel_ops kReadWriteOps = [] {
  fuse_lowlevel_ops o{};
  // Each operation runs inside ReadWriteFs::run (errors become errno
  // replies), holding the tree lock shared (WP_LOOK), exclusively (WP_OP),
  // or not at all (WP_NOLOCK: per-handle data, or read, which locks itself).
#define WP_NOLOCK(call)       \
  ReadWriteFs* fs = fs_of(r); \
  fs->run(r, [&] { fs->call; })
#define WP_LOOK(call)                        \
  ReadWriteFs* fs = fs_of(r);                \
  fs->run(r, [&] {                           \
    std::shared_lock lock(fs->tree_mutex()); \
    fs->call;                                \
  })
#define WP_OP(call)                        \
  ReadWriteFs* fs = fs_of(r);              \
  fs->run(r, [&] {                         \
    std::unique_lock lock(fs->tree_mutex()); \
    fs->call;                              \
  })
  // Changes: refused once committed.
#define WP_CHANGE(call)                                           \
  ReadWriteFs* fs = fs_of(r);                                     \
  fs->run(r, [&] {                                                \
    std::unique_lock lock(fs->tree_mutex());                      \
    if (fs->committed()) return (void)fuse_reply_err(r, EROFS);   \
    fs->call;                                                     \
  })
  o.lookup = [](fuse_req_t r, fuse_ino_t p, const char* n) { WP_LOOK(lookup(r, p, n)); };
  o.getattr = [](fuse_req_t r, fuse_ino_t i, fuse_file_info*) { WP_LOOK(getattr(r, i)); };
  o.setattr = [](fuse_req_t r, fuse_ino_t i, struct stat* a, int s, fuse_file_info*) { WP_CHANGE(setattr(r, i, a, s)); };
  o.readlink = [](fuse_req_t r, fuse_ino_t i) { WP_LOOK(readlink(r, i)); };
  o.mknod = [](fuse_req_t r, fuse_ino_t p, const char* n, mode_t m, dev_t d) { WP_CHANGE(mknod(r, p, n, m, d)); };
  o.mkdir = [](fuse_req_t r, fuse_ino_t p, const char* n, mode_t m) { WP_CHANGE(mkdir(r, p, n, m)); };
  o.unlink = [](fuse_req_t r, fuse_ino_t p, const char* n) { WP_CHANGE(unlink(r, p, n)); };
  o.rmdir = [](fuse_req_t r, fuse_ino_t p, const char* n) { WP_CHANGE(rmdir(r, p, n)); };
  o.symlink = [](fuse_req_t r, const char* l, fuse_ino_t p, const char* n) { WP_CHANGE(symlink(r, l, p, n)); };
  o.rename = [](fuse_req_t r, fuse_ino_t p, const char* n, fuse_ino_t np, const char* nn, unsigned f) {
    WP_CHANGE(rename(r, p, n, np, nn, f));
  };
  o.link = [](fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char* nn) { WP_CHANGE(link(r, i, np, nn)); };
  o.open = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { WP_OP(open(r, i, fi)); };
  o.read = [](fuse_req_t r, fuse_ino_t i, size_t s, off_t off, fuse_file_info*) { WP_NOLOCK(read(r, i, s, off)); };
  o.write = [](fuse_req_t r, fuse_ino_t i, const char* b, size_t s, off_t off, fuse_file_info*) {
    WP_CHANGE(write(r, i, b, s, off));
  };
  o.release = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { WP_OP(release(r, i, fi)); };
  o.create = [](fuse_req_t r, fuse_ino_t p, const char* n, mode_t m, fuse_file_info* fi) {
    WP_CHANGE(create(r, p, n, m, fi));
  };
  o.opendir = [](fuse_req_t r, fuse_ino_t i, fuse_file_info* fi) { WP_LOOK(opendir(r, i, fi)); };
  o.releasedir = [](fuse_req_t r, fuse_ino_t, fuse_file_info* fi) { WP_NOLOCK(releasedir(r, fi)); };
  o.readdir = [](fuse_req_t r, fuse_ino_t, size_t s, off_t off, fuse_file_info* fi) { WP_NOLOCK(readdir(r, s, off, fi)); };
  o.statfs = [](fuse_req_t r, fuse_ino_t) { WP_LOOK(statfs(r)); };
  o.getxattr = [](fuse_req_t r, fuse_ino_t i, const char* n, size_t s) { WP_LOOK(getxattr(r, i, n, s)); };
  o.setxattr = [](fuse_req_t r, fuse_ino_t i, const char* n, const char* v, size_t s, int f) {
    WP_OP(setxattr(r, i, n, v, s, f));
  };
  o.listxattr = [](fuse_req_t r, fuse_ino_t i, size_t s) { WP_LOOK(listxattr(r, i, s)); };
  o.removexattr = [](fuse_req_t r, fuse_ino_t i, const char* n) { WP_CHANGE(removexattr(r, i, n)); };
#undef WP_NOLOCK
#undef WP_LOOK
#undef WP_OP
#undef WP_CHANGE
  return o;
}();

// Removes a staging directory and its (flat) contents, dot files included.
void remove_staging_dir(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        ::unlink((dir + "/" + e->d_name).c_str());
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

// Staging directories left by mount processes that were killed (SIGKILL,
// a crash): "NAME.staging.*" in `parent` whose owner lock file can be
// locked, i.e. whose owner is gone. A directory without the lock file is
// left alone (another program's, or one being created).
void remove_stale_staging_dirs(const std::string& parent, const std::string& prefix) {
  DIR* d = ::opendir(parent.c_str());
  if (!d) return;
  std::vector<std::string> found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) == 0) found.push_back((parent == "/" ? "" : parent) + "/" + name);
  }
  ::closedir(d);
  for (const auto& dir : found) remove_staging_dir_if_stale(dir);
}

// The staging directory: a new directory "NAME.staging.XXXXXX" beside the
// archive, or inside `parent`, absolute (the mount process leaves the
// working directory). It holds kStagingOwnerFile, locked (flock) for as
// long as the mount process lives, so a later mountrw can tell a stale
// directory from a live one; stale ones are removed first.
struct Staging {
  std::string dir;
  Fd owner;  // the locked owner file: the lock goes with the process (fork keeps it)
  ~Staging() {
    if (!dir.empty()) remove_staging_dir(dir);
  }
};

void make_staging_dir(Staging& st, const std::string& wim_abs, const std::string& parent) {
  size_t slash = wim_abs.rfind('/');
  std::string dir = parent.empty() ? wim_abs.substr(0, slash) : parent;
  if (dir.empty()) dir = "/";
  if (!parent.empty()) {
    char* rp = ::realpath(parent.c_str(), nullptr);
    if (!rp) fail_errno("cannot use staging directory", parent, errno);
    dir = rp;
    ::free(rp);
  }
  std::string prefix = wim_abs.substr(slash + 1) + ".staging.";
  remove_stale_staging_dirs(dir, prefix);
  std::string tmpl = (dir == "/" ? "" : dir) + "/" + prefix + "XXXXXX";
  if (!::mkdtemp(tmpl.data())) fail_errno("cannot create a staging directory in", dir, errno);
  st.dir = tmpl;
  // Locked under a temporary name, then renamed: the owner file is never
  // seen unlocked by another process's remove_stale_staging_dirs.
  std::string tmp = tmpl + "/" + kStagingOwnerFile + ".new";
  st.owner.reset(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!st.owner) fail_errno("cannot create the staging lock file", tmp, errno);
  if (::flock(st.owner.get(), LOCK_EX | LOCK_NB) != 0) fail_errno("cannot lock", tmp, errno);
  if (::rename(tmp.c_str(), (tmpl + "/" + kStagingOwnerFile).c_str()) != 0)
    fail_errno("cannot rename the staging lock file", tmp, errno);
}

}  // namespace

bool remove_staging_dir_if_stale(const std::string& dir) {
  Fd lock(::open((dir + "/" + kStagingOwnerFile).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // no owner file, or its owner lives
  remove_staging_dir(dir);
  return true;
}

void mount_readwrite(const std::string& wimfile, const std::string& image, const std::string& dir,
                     const MountOptions& opts, const ReadWriteOptions& rw) {
  std::string abs = check_mount_point(dir);
  check_dev_fuse();
  // The archive by absolute path: the mount process leaves the working
  // directory, and a commit reopens (or renames over) the archive by name.
  std::string wim_abs = wimfile;
  if (wim_abs.empty() || wim_abs[0] != '/') {
    char* cwd = ::getcwd(nullptr, 0);
    if (!cwd) fail_errno("cannot get the working directory", ".", errno);
    wim_abs = std::string(cwd) + "/" + wimfile;
    ::free(cwd);
  }
  std::unique_ptr<wim::ArchiveUpdate> update = wim::ArchiveUpdate::open(wim_abs, rw.check_integrity);
  wim::Archive& ar = *update->existing();
  for (const auto& w : ar.warnings()) std::fprintf(stderr, "wimpack: warning: %s\n", w.c_str());
  const wim::Header& h = ar.header();
  if (h.pipable)
    fail(Errc::Unsupported, "'" + wimfile + "' is a pipable WIM; pipable WIMs cannot be mounted read-write (as with wimlib); "
                            "convert it with 'wimpack optimize --not-pipable' first");
  if (h.flags & wim::kHdrReadonly) fail(Errc::Failure, "'" + wimfile + "' is marked read-only");
  size_t index;
  if (!image.empty()) {
    index = ar.resolve_image(image);
  } else {
    if (ar.image_count() != 1)
      fail(Errc::Usage, "'" + wimfile + "' contains " + std::to_string(ar.image_count()) +
                            " images; say which one to mount (an index or a name)");
    index = 1;
  }
  // A delta archive reads through its bases (--ref, or where it says they
  // are); every stream's data must be at hand, as for a read-only mount.
  wim::resolve_delta_bases(ar, rw.refs);
  {
    image::Image img = ar.load_image(index);
    size_t missing = 0;
    std::string first;
    img.for_each_dentry([&](const image::Dentry& d) {
      for (const auto& st : d.inode->streams)
        if (!st.hash.is_zero() && !ar.find_blob(st.hash) && missing++ == 0) first = d.path();
    });
    if (missing)
      fail(Errc::NotFound, "cannot mount image " + std::to_string(index) + " of '" + wimfile + "': the data of " +
                               std::to_string(missing) + " stream" + (missing == 1 ? "" : "s") + " (first: '" +
                               printable(first) + "') is not in it; if it is a delta archive, pass its base with --ref=BASE.wim");
  }
  // Many staged files stay open: allow as many descriptors as we may.
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  Staging staging;
  make_staging_dir(staging, wim_abs, rw.staging_dir);
  ReadWriteFs fs(std::move(update), index, opts, abs == "/" ? std::string() : abs, staging.dir);
  serve(kReadWriteOps, &fs, dir, abs, wim_abs, opts, true, [&] { fs.enable_readahead(); });
}

}  // namespace wp::mount
