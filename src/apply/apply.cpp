#include "apply/apply.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "util/error.hpp"
#include "util/filetime.hpp"
#include "util/file.hpp"
#include "util/printable.hpp"
#include "wim/reparse.hpp"

namespace wp::apply {
namespace {

using image::Dentry;
using image::Inode;

constexpr uint32_t kNone = UINT32_MAX;
// Directory fds kept open: a quarter of the fd limit, within [16, 1024].
size_t max_dir_fds() {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
  return std::clamp<size_t>(size_t(rl.rlim_cur / 4), 16, 1024);
}
constexpr size_t kWholeBlobBuffer = 1 << 20;  // blobs up to this size are buffered whole

enum class Kind : uint8_t { Dir, File, Symlink, Special, Skip };

struct Node {                  // one per dentry, in pre-order (node 0 = root)
  const Dentry* d;
  uint32_t parent;             // node of the parent directory
  uint32_t inode;              // index into inodes_
  uint32_t next_link = kNone;  // next node of the same inode
};

struct InodeRec {
  const Inode* inode;
  Kind kind;
  uint32_t first_node;
  uint32_t last_node;
  bool created = false;  // the first link exists with its data and metadata
  bool has_target = false;
  std::string target;    // symlinks: UNIX target, once their blob arrived
  uint32_t links = 1;    // dentries (hard links) of this inode in the tree
};

struct Need {
  Sha1 hash;
  bool reparse;  // false (file data) sorts first: the first data user gets the stream
  uint32_t inode;
  auto operator<=>(const Need&) const = default;
};

struct Blob {
  Sha1 hash;
  uint64_t size;
  uint32_t begin, end;  // range in needs_
  bool done = false;
};

bool unsafe_name(std::string_view n) {
  return n.empty() || n == "." || n == ".." || n.find('/') != std::string_view::npos ||
         n.find('\0') != std::string_view::npos;
}

bool is_special_mode(uint32_t mode) {
  return S_ISFIFO(mode) || S_ISCHR(mode) || S_ISBLK(mode) || S_ISSOCK(mode);
}

// Writes all of `data` at `off`; with `sparse`, 4 KiB blocks of zeros are
// skipped (the caller sets the final size with ftruncate).
void write_at(int fd, ByteSpan data, uint64_t off, bool sparse, const std::string& path) {
  auto put = [&](const uint8_t* p, size_t n, uint64_t o) {
    while (n) {
      ssize_t w = ::pwrite(fd, p, n, off_t(o));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail_errno("cannot write", path, errno);
      }
      p += w, n -= size_t(w), o += uint64_t(w);
    }
  };
  if (!sparse) return put(data.data(), data.size(), off);
  constexpr size_t kBlock = 4096;
  size_t i = 0;
  while (i < data.size()) {
    size_t start = i;
    // Extend a run of non-zero blocks.
    while (i < data.size()) {
      size_t n = std::min(kBlock, data.size() - i);
      bool zero = data[i] == 0 && std::memcmp(data.data() + i, data.data() + i + 1, n - 1) == 0;
      if (zero) break;
      i += n;
    }
    if (i > start) put(&data[start], i - start, off + start);
    // Skip a run of zero blocks.
    while (i < data.size()) {
      size_t n = std::min(kBlock, data.size() - i);
      bool zero = data[i] == 0 && std::memcmp(data.data() + i, data.data() + i + 1, n - 1) == 0;
      if (!zero) break;
      i += n;
    }
  }
}

}  // namespace

struct TreeWriter::Impl {
  const image::Image& img;
  std::string target;
  ApplyOptions opts;
  std::string target_abs;  // for rpfix
  Fd target_fd;

  std::vector<Node> nodes;
  std::vector<InodeRec> inodes;
  std::vector<Need> needs;
  std::vector<Blob> blobs;  // sorted by hash

  // Directory fd cache (bounded; see dir_fd()).
  struct Slot {
    uint32_t node;
    int fd;
    uint64_t stamp;
    int pins;
  };
  std::vector<Slot> slots;
  size_t slot_cap = max_dir_fds();
  std::vector<int32_t> slot_of;  // per node; -1 = not open
  uint64_t clock = 0;
  std::vector<uint32_t> chain;

  // The blob being streamed.
  bool in_blob = false;
  uint32_t cur = 0;
  uint64_t received = 0;
  bool keep_all = false;
  bool sparse = false;
  Fd primary;  // file of the first data user
  uint32_t primary_inode = kNone;
  uint64_t primary_off = 0;
  Bytes buf;

  // Summaries (one warning each).
  std::vector<std::string> warnings;
  uint64_t named_streams = 0, other_reparse = 0, encrypted = 0, bad_symlinks = 0;
  std::atomic<uint64_t> replaced{0};
  // Non-directory dentries whose data is in place (for progress reports):
  // those without data from the start, the others as their blob arrives.
  std::atomic<uint64_t> files_done{0};
  uint64_t owner_failures = 0, mode_failures = 0, xattr_failures = 0, time_failures = 0;
  std::string first_owner_failure, first_xattr_failure, first_time_failure, first_mode_failure;
  bool proc_fd = false;

  // Parallel apply: write_whole() runs on worker threads while the serial
  // stream goes on. The directory fd cache is shared under dir_mutex, and a
  // directory in use is pinned so that nobody evicts (closes) it.
  std::mutex dir_mutex, note_mutex;
  int acquire_dir(uint32_t node) {
    std::lock_guard lk(dir_mutex);
    int fd = dir_fd(node);
    pin(node, +1);
    return fd;
  }
  void release_dir(uint32_t node) {
    std::lock_guard lk(dir_mutex);
    pin(node, -1);
  }
  // Creates the first link of `node` in its (pinned) parent directory.
  int create_in_parent(uint32_t node, int access) {
    uint32_t dir = nodes[node].parent;
    int pfd = acquire_dir(dir);
    try {
      int fd = create_file(pfd, node, access);
      release_dir(dir);
      return fd;
    } catch (...) {
      release_dir(dir);
      throw;
    }
  }

  Impl(const image::Image& i, std::string t, const ApplyOptions& o) : img(i), target(std::move(t)), opts(o) {}
  ~Impl() {
    for (auto& s : slots) ::close(s.fd);
  }

  std::string path_of(uint32_t node) const {
    std::string p = target;
    while (!p.empty() && p.back() == '/') p.pop_back();
    return p + nodes[node].d->path();
  }
  const char* name_of(uint32_t node) const { return nodes[node].d->name.c_str(); }

  // --- directory fds -------------------------------------------------------

  // An fd for directory `node`, opened by walking down from the nearest open
  // ancestor with O_NOFOLLOW. At most slot_cap stay open; the least
  // recently used unpinned one is closed to make room.
  int dir_fd(uint32_t node) {
    if (node == 0) return target_fd.get();
    if (slot_of[node] >= 0) {
      Slot& s = slots[size_t(slot_of[node])];
      s.stamp = ++clock;
      return s.fd;
    }
    chain.clear();
    uint32_t n = node;
    while (n != 0 && slot_of[n] < 0) {
      chain.push_back(n);
      n = nodes[n].parent;
    }
    int pfd = dir_fd(n);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      int fd = ::openat(pfd, name_of(*it), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) fail_errno("cannot open directory", path_of(*it), errno);
      pfd = insert_dir(*it, fd);
    }
    return pfd;
  }

  int insert_dir(uint32_t node, int fd) {
    size_t idx;
    if (slots.size() < slot_cap) {
      idx = slots.size();
      slots.push_back({});
    } else {
      idx = SIZE_MAX;
      for (size_t i = 0; i < slots.size(); i++)
        if (slots[i].pins == 0 && (idx == SIZE_MAX || slots[i].stamp < slots[idx].stamp)) idx = i;
      if (idx == SIZE_MAX) fail(Errc::Failure, "internal error: all cached directory fds are pinned");
      ::close(slots[idx].fd);
      slot_of[slots[idx].node] = -1;
    }
    slots[idx] = {node, fd, ++clock, 0};
    slot_of[node] = int32_t(idx);
    return fd;
  }

  void pin(uint32_t node, int delta) {
    if (node != 0 && slot_of[node] >= 0) slots[size_t(slot_of[node])].pins += delta;
  }

  // --- creating entries ----------------------------------------------------

  // Removes an existing non-directory entry that stands where the image wants
  // `node`. Never follows it.
  void replace_existing(int pfd, uint32_t node) {
    if (::unlinkat(pfd, name_of(node), 0) != 0) {
      int e = errno;
      if (e == EISDIR)  // Linux's answer for a directory
        fail(Errc::Failure, "cannot apply '" + path_of(node) +
                                "': a directory of that name already exists in the target; remove it or choose an empty target");
      fail_errno("cannot replace existing", path_of(node), e);
    }
    replaced++;
  }

  int create_file(int pfd, uint32_t node, int access) {
    for (int attempt = 0;; attempt++) {
      int fd = ::openat(pfd, name_of(node), access | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0) return fd;
      int e = errno;
      if (e == EEXIST && attempt == 0) {
        replace_existing(pfd, node);
        continue;
      }
      fail_errno("cannot create file", path_of(node), e);
    }
  }

  void make_dir(uint32_t node) {
    int pfd = dir_fd(nodes[node].parent);
    const char* name = name_of(node);
    if (::mkdirat(pfd, name, 0755) == 0) return;
    int e = errno;
    if (e != EEXIST) fail_errno("cannot create directory", path_of(node), e);
    // Reuse an existing real directory; replace anything else (a symlink
    // there must never be followed).
    int fd = ::openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      insert_dir(node, fd);
      return;
    }
    replace_existing(pfd, node);
    if (::mkdirat(pfd, name, 0755) != 0) fail_errno("cannot create directory", path_of(node), errno);
  }

  // --- metadata --------------------------------------------------------------

  void note(uint64_t& count, std::string& first, uint32_t node, int e) {
    std::lock_guard lk(note_mutex);
    if (count++ == 0) first = path_of(node) + ": " + errno_text(e);
  }

  static std::array<struct timespec, 2> times_of(const Inode& ino) {
    return {filetime_to_timespec(ino.last_access_time), filetime_to_timespec(ino.last_write_time)};
  }

  // Owner, mode, xattrs, times through an open fd (files and directories).
  void set_meta_fd(int fd, const Inode& ino, uint32_t node) {
    if (opts.unix_data) {
      if (auto u = ino.unix_data()) {
        // chown before chmod: chown clears set-user-ID bits.
        if (::fchown(fd, u->uid, u->gid) != 0) note(owner_failures, first_owner_failure, node, errno);
        if (::fchmod(fd, u->mode & 07777) != 0) note(mode_failures, first_mode_failure, node, errno);
      }
      for (const auto& x : ino.xattrs())
        if (::fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0) != 0)
          note(xattr_failures, first_xattr_failure, node, errno);
    }
    if (::futimens(fd, times_of(ino).data()) != 0) note(time_failures, first_time_failure, node, errno);
  }

  // The same by name, for symlinks and special files (not opened: opening a
  // device or FIFO can block or have side effects).
  void set_meta_at(int pfd, const Inode& ino, uint32_t node, bool is_symlink) {
    const char* name = name_of(node);
    if (opts.unix_data) {
      if (auto u = ino.unix_data()) {
        if (::fchownat(pfd, name, u->uid, u->gid, AT_SYMLINK_NOFOLLOW) != 0)
          note(owner_failures, first_owner_failure, node, errno);
        if (!is_symlink && ::fchmodat(pfd, name, u->mode & 07777, 0) != 0)
          note(mode_failures, first_mode_failure, node, errno);
      }
      auto xs = ino.xattrs();
      if (!xs.empty()) {
        // /proc/self/fd/N/name resolves from our directory fd, without
        // following the final component (lsetxattr).
        std::string p = proc_fd ? "/proc/self/fd/" + std::to_string(pfd) + "/" + name : path_of(node);
        for (const auto& x : xs)
          if (::lsetxattr(p.c_str(), x.name.c_str(), x.value.data(), x.value.size(), 0) != 0)
            note(xattr_failures, first_xattr_failure, node, errno);
      }
    }
    if (::utimensat(pfd, name, times_of(ino).data(), AT_SYMLINK_NOFOLLOW) != 0)
      note(time_failures, first_time_failure, node, errno);
  }

  // --- phases ----------------------------------------------------------------

  void open_target() {
    if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST)
      fail_errno("cannot create target directory", target, errno);
    int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == ENOTDIR) fail(Errc::Failure, "cannot apply to '" + target + "': it exists and is not a directory");
      fail_errno("cannot open target directory", target, e);
    }
    target_fd.reset(fd);
    if (opts.rpfix) {
      char* rp = ::realpath(target.c_str(), nullptr);
      if (!rp) fail_errno("cannot resolve", target, errno);
      target_abs = rp;
      ::free(rp);
      if (target_abs == "/") target_abs.clear();
    }
    proc_fd = ::access("/proc/self/fd", X_OK) == 0;
  }

  Kind classify(const Inode& ino) {
    if (ino.attributes & image::kAttrEncrypted) {
      encrypted++;
      return Kind::Skip;
    }
    bool named = false;
    for (const auto& s : ino.streams) named |= s.type == image::StreamType::Data && !s.name.empty();
    if (named) named_streams++;
    if (ino.is_reparse_point()) {
      if (ino.is_symlink()) return Kind::Symlink;
      // Other reparse points (WOF, dedup...) have no Linux form: keep the
      // file or directory itself, drop the reparse data.
      other_reparse++;
      return (ino.attributes & image::kAttrDirectory) ? Kind::Dir : Kind::File;
    }
    if (ino.attributes & image::kAttrDirectory) return Kind::Dir;
    if (opts.unix_data)
      if (auto u = ino.unix_data(); u && is_special_mode(u->mode)) return Kind::Special;
    return Kind::File;
  }

  // Numbers the tree in pre-order, validates names, groups links.
  void build_nodes() {
    std::unordered_map<const Inode*, uint32_t> inode_index;
    std::vector<std::string_view> names;
    struct Item {
      const Dentry* d;
      uint32_t parent;
    };
    std::vector<Item> stack{{img.root(), kNone}};
    while (!stack.empty()) {
      Item it = stack.back();
      stack.pop_back();
      uint32_t idx = uint32_t(nodes.size());
      const Dentry* d = it.d;
      if (it.parent != kNone && unsafe_name(d->name))
        fail(Errc::BadArchive, "refusing to apply image path '" + printable(d->path()) +
                                   "': unsafe file name (empty, \".\", \"..\", or containing '/' or NUL)");
      auto [pos, fresh] = inode_index.try_emplace(d->inode, uint32_t(inodes.size()));
      if (fresh) {
        Kind k = it.parent == kNone ? Kind::Dir : classify(*d->inode);
        inodes.push_back(InodeRec{d->inode, k, idx, idx, false, false, {}});
      } else {
        InodeRec& r = inodes[pos->second];
        nodes[r.last_node].next_link = idx;
        r.last_node = idx;
        r.links++;
      }
      nodes.push_back({d, it.parent, pos->second});
      if (d->children.empty()) continue;
      Kind k = inodes[pos->second].kind;
      if (k != Kind::Dir || !d->inode->is_directory()) {
        warnings.push_back("ignoring the children of non-directory '" + printable(d->path()) + "' in the image");
        continue;
      }
      names.clear();
      for (const auto& c : d->children) names.push_back(c->name);
      std::sort(names.begin(), names.end());
      if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end())
        fail(Errc::BadArchive, "refusing to apply image directory '" + printable(d->path()) + "': it holds two entries named '" +
                                   printable(std::string(*dup)) + "'");
      for (auto c = d->children.rbegin(); c != d->children.rend(); ++c) stack.push_back({c->get(), idx});
    }
    // A directory inode reached by several dentries (not valid in a WIM,
    // §7.5) is applied once per dentry.
    slot_of.assign(nodes.size(), -1);
  }

  void create_tree() {
    for (uint32_t n = 1; n < nodes.size(); n++) {
      InodeRec& r = inodes[nodes[n].inode];
      switch (r.kind) {
        case Kind::Dir:
          make_dir(n);
          break;
        case Kind::File: {
          if (r.first_node != n) break;  // hard links come in finish()
          const image::Stream* s = r.inode->unnamed_data();
          if (s && !s->hash.is_zero()) break;  // created when its blob arrives
          int pfd = dir_fd(nodes[n].parent);
          Fd fd(create_file(pfd, n, O_WRONLY));
          set_meta_fd(fd.get(), *r.inode, n);
          r.created = true;
          break;
        }
        case Kind::Special: {
          if (r.first_node != n) break;
          auto u = r.inode->unix_data();
          int pfd = dir_fd(nodes[n].parent);
          for (int attempt = 0;; attempt++) {
            if (::mknodat(pfd, name_of(n), mode_t(u->mode & (S_IFMT | 07777)), dev_t(u->rdev)) == 0) break;
            int e = errno;
            if (e == EEXIST && attempt == 0) {
              replace_existing(pfd, n);
              continue;
            }
            fail_errno("cannot create special file", path_of(n), e);
          }
          set_meta_at(pfd, *r.inode, n, false);
          r.created = true;
          break;
        }
        case Kind::Symlink:
        case Kind::Skip:
          break;
      }
    }
  }

  std::vector<std::pair<Sha1, uint64_t>> collect_needs() {
    for (uint32_t i = 0; i < inodes.size(); i++) {
      InodeRec& r = inodes[i];
      if (r.kind == Kind::File) {
        const image::Stream* s = r.inode->unnamed_data();
        if (s && !s->hash.is_zero()) needs.push_back({s->hash, false, i});
      } else if (r.kind == Kind::Symlink) {
        const image::Stream* s = r.inode->reparse_stream();
        if (s && !s->hash.is_zero())
          needs.push_back({s->hash, true, i});
        else
          bad_symlinks++;
      }
    }
    std::sort(needs.begin(), needs.end());
    uint64_t without_data = 0;
    for (const InodeRec& r : inodes)
      if (r.kind != Kind::Dir) without_data += r.links;
    for (const Need& nd : needs) without_data -= inodes[nd.inode].links;
    files_done = without_data;
    std::vector<std::pair<Sha1, uint64_t>> out;
    for (uint32_t i = 0; i < needs.size();) {
      uint32_t j = i;
      while (j < needs.size() && needs[j].hash == needs[i].hash) j++;
      const Inode& ino = *inodes[needs[i].inode].inode;
      const image::Stream* s = needs[i].reparse ? ino.reparse_stream() : ino.unnamed_data();
      blobs.push_back({needs[i].hash, s->size, i, j});
      out.emplace_back(needs[i].hash, s->size);
      i = j;
    }
    return out;
  }

  // --- streaming -------------------------------------------------------------

  void begin_blob(const Sha1& hash) {
    if (in_blob) fail(Errc::Failure, "internal error: begin_blob before the previous blob ended");
    auto it = std::lower_bound(blobs.begin(), blobs.end(), hash, [](const Blob& b, const Sha1& h) { return b.hash < h; });
    if (it == blobs.end() || it->hash != hash)
      fail(Errc::Failure, "internal error: blob " + hash.hex() + " is not needed by this image");
    if (it->done) fail(Errc::Failure, "internal error: blob " + hash.hex() + " supplied twice");
    cur = uint32_t(it - blobs.begin());
    in_blob = true;
    received = 0;
    primary_off = 0;
    buf.clear();
    const Need& first = needs[it->begin];
    bool has_extra = it->end - it->begin > 1;
    keep_all = it->size <= kWholeBlobBuffer;
    if (!first.reparse) {
      primary_inode = first.inode;
      const InodeRec& r = inodes[first.inode];
      sparse = r.inode->attributes & image::kAttrSparse;
      // O_RDWR: extra users of a large blob are copied from this file.
      primary.reset(create_in_parent(r.first_node, has_extra && !keep_all ? O_RDWR : O_WRONLY));
    } else {
      primary_inode = kNone;
    }
  }

  void blob_data(ByteSpan chunk) {
    if (!in_blob) fail(Errc::Failure, "internal error: blob_data outside a blob");
    const Blob& b = blobs[cur];
    if (chunk.size() > b.size - received)
      fail(Errc::BadArchive, "blob " + b.hash.hex() + " is longer than its recorded size " + std::to_string(b.size));
    received += chunk.size();
    if (keep_all) {
      buf.insert(buf.end(), chunk.begin(), chunk.end());
      return;
    }
    if (primary_inode == kNone) return;  // only oversized reparse users: dropped in end_blob
    buf.insert(buf.end(), chunk.begin(), chunk.end());
    if (buf.size() >= kWholeBlobBuffer) flush_primary();
  }

  void flush_primary() {
    write_at(primary.get(), buf, primary_off, sparse, path_of(inodes[primary_inode].first_node));
    primary_off += buf.size();
    buf.clear();
  }

  // With `sparse`, zero blocks become holes (copy_file_range would fill them).
  void copy_from_primary(int dst, uint32_t node, bool sparse) {
    off_t in = 0, out = 0;
    uint64_t left = blobs[cur].size;
    while (left && !sparse) {
      ssize_t n = ::copy_file_range(primary.get(), &in, dst, &out, size_t(std::min<uint64_t>(left, 1u << 30)), 0);
      if (n > 0) {
        left -= uint64_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) break;
      fail_errno("cannot copy data into", path_of(node), errno);
    }
    Bytes tmp;
    while (left) {  // fallback: pread/pwrite
      tmp.resize(size_t(std::min<uint64_t>(left, kWholeBlobBuffer)));
      ssize_t n = ::pread(primary.get(), tmp.data(), tmp.size(), in);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        fail_errno("cannot read back", path_of(inodes[primary_inode].first_node), n < 0 ? errno : EIO);
      }
      write_at(dst, ByteSpan(tmp.data(), size_t(n)), uint64_t(out), sparse, path_of(node));
      in += n, out += n, left -= uint64_t(n);
    }
  }

  void end_blob() {
    if (!in_blob) fail(Errc::Failure, "internal error: end_blob outside a blob");
    Blob& b = blobs[cur];
    if (received != b.size)
      fail(Errc::BadArchive, "blob " + b.hash.hex() + " has " + std::to_string(received) + " bytes, expected " +
                                 std::to_string(b.size));
    if (primary_inode != kNone) {
      if (keep_all) {
        write_at(primary.get(), buf, 0, sparse, path_of(inodes[primary_inode].first_node));
      } else if (!buf.empty()) {
        flush_primary();
      }
      if (sparse && ::ftruncate(primary.get(), off_t(b.size)) != 0)
        fail_errno("cannot set the size of", path_of(inodes[primary_inode].first_node), errno);
    }
    for (uint32_t i = b.begin; i < b.end; i++) {
      const Need& nd = needs[i];
      InodeRec& r = inodes[nd.inode];
      if (nd.reparse) {
        std::optional<std::string> t;
        if (keep_all && buf.size() <= wim::kMaxReparseDataSize)
          t = wim::reparse_to_unix_target(r.inode->reparse_tag, r.inode->rp_flags, buf, opts.rpfix, target_abs);
        if (t) {
          r.target = std::move(*t);
          r.has_target = true;
        } else {
          bad_symlinks++;
        }
        continue;
      }
      if (nd.inode == primary_inode) continue;
      Fd fd(create_in_parent(r.first_node, O_WRONLY));
      bool sp = r.inode->attributes & image::kAttrSparse;  // each user as it was captured
      if (keep_all)
        write_at(fd.get(), buf, 0, sp, path_of(r.first_node));
      else
        copy_from_primary(fd.get(), r.first_node, sp);
      if (sp && ::ftruncate(fd.get(), off_t(b.size)) != 0) fail_errno("cannot set the size of", path_of(r.first_node), errno);
      set_meta_fd(fd.get(), *r.inode, r.first_node);
      r.created = true;
    }
    if (primary_inode != kNone) {
      // Times last: reading the primary for copies may have touched atime.
      set_meta_fd(primary.get(), *inodes[primary_inode].inode, inodes[primary_inode].first_node);
      inodes[primary_inode].created = true;
      primary.reset();
    }
    b.done = true;
    count_files_of(b);
    in_blob = false;
    buf.clear();
    if (buf.capacity() > 4 * kWholeBlobBuffer) buf.shrink_to_fit();
  }

  void count_files_of(const Blob& b) {
    uint64_t n = 0;
    for (uint32_t i = b.begin; i < b.end; i++) n += inodes[needs[i].inode].links;
    files_done += n;
  }

  // --- whole small blobs, on any thread ---------------------------------------

  const Blob* find_blob(const Sha1& hash) const {
    auto it = std::lower_bound(blobs.begin(), blobs.end(), hash, [](const Blob& b, const Sha1& h) { return b.hash < h; });
    return it == blobs.end() || it->hash != hash ? nullptr : &*it;
  }

  void set_blob_size(const Sha1& hash, uint64_t size) {
    if (const Blob* b = find_blob(hash); b && !b->done) const_cast<Blob*>(b)->size = size;
  }

  bool can_write_whole(const Sha1& hash) const {
    const Blob* b = find_blob(hash);
    if (!b || b->done || b->size > kWholeBlobBuffer) return false;
    for (uint32_t i = b->begin; i < b->end; i++)
      if (needs[i].reparse) return false;  // symlink targets are collected serially
    return true;
  }

  // Writes a complete blob to every regular file that uses it. Thread-safe
  // with itself and with the streaming calls (each inode belongs to one blob).
  void write_whole(const Sha1& hash, ByteSpan data) {
    Blob& b = *const_cast<Blob*>(find_blob(hash));
    if (data.size() != b.size)
      fail(Errc::BadArchive, "blob " + b.hash.hex() + " has " + std::to_string(data.size()) + " bytes, expected " +
                                 std::to_string(b.size));
    for (uint32_t i = b.begin; i < b.end; i++) {
      InodeRec& r = inodes[needs[i].inode];
      Fd fd(create_in_parent(r.first_node, O_WRONLY));
      bool sp = r.inode->attributes & image::kAttrSparse;
      write_at(fd.get(), data, 0, sp, path_of(r.first_node));
      if (sp && ::ftruncate(fd.get(), off_t(b.size)) != 0) fail_errno("cannot set the size of", path_of(r.first_node), errno);
      set_meta_fd(fd.get(), *r.inode, r.first_node);
      r.created = true;
    }
    b.done = true;
    count_files_of(b);
  }

  // --- finish ----------------------------------------------------------------

  void finish() {
    if (in_blob) fail(Errc::Failure, "internal error: finish while a blob is open");
    uint64_t missing = 0;
    std::string first_missing;
    for (const Blob& b : blobs)
      if (!b.done && missing++ == 0)
        first_missing = b.hash.hex() + " (needed by '" + path_of(inodes[needs[b.begin].inode].first_node) + "')";
    if (missing)
      fail(Errc::NotFound, "cannot finish applying to '" + target + "': " + std::to_string(missing) +
                               " blob(s) were never supplied, first " + first_missing);

    // Hard links, now that every first link is complete.
    for (const InodeRec& r : inodes) {
      if ((r.kind != Kind::File && r.kind != Kind::Special) || !r.created || r.first_node == r.last_node) continue;
      uint32_t src_dir = nodes[r.first_node].parent;
      for (uint32_t n = nodes[r.first_node].next_link; n != kNone; n = nodes[n].next_link) {
        int sfd = dir_fd(src_dir);
        pin(src_dir, +1);
        int dfd = dir_fd(nodes[n].parent);
        for (int attempt = 0;; attempt++) {
          if (::linkat(sfd, name_of(r.first_node), dfd, name_of(n), 0) == 0) break;
          int e = errno;
          if (e == EEXIST && attempt == 0) {
            replace_existing(dfd, n);
            continue;
          }
          pin(src_dir, -1);
          fail_errno("cannot create hard link", path_of(n), e);
        }
        pin(src_dir, -1);
      }
    }

    // Symlinks, after every directory and file: nothing created above can
    // have been resolved through one of them.
    for (uint32_t n = 1; n < nodes.size(); n++) {
      const InodeRec& r = inodes[nodes[n].inode];
      if (r.kind != Kind::Symlink || !r.has_target) continue;
      int pfd = dir_fd(nodes[n].parent);
      for (int attempt = 0;; attempt++) {
        if (::symlinkat(r.target.c_str(), pfd, name_of(n)) == 0) break;
        int e = errno;
        if (e == EEXIST && attempt == 0) {
          replace_existing(pfd, n);
          continue;
        }
        fail_errno("cannot create symbolic link", path_of(n), e);
      }
      set_meta_at(pfd, *r.inode, n, true);
    }

    // Directories last, deepest first, so that creating their contents does
    // not disturb their times (wim-format.md §10.1).
    for (uint32_t n = uint32_t(nodes.size()); n-- > 0;) {
      const InodeRec& r = inodes[nodes[n].inode];
      if (r.kind != Kind::Dir || (n == 0 && !opts.root_metadata)) continue;
      set_meta_fd(dir_fd(n), *r.inode, n);
    }
    for (auto& s : slots) ::close(s.fd);
    slots.clear();
    std::fill(slot_of.begin(), slot_of.end(), -1);
    summarize();
  }

  void summarize() {
    auto add = [&](uint64_t n, const std::string& what) {
      if (n) warnings.push_back(std::to_string(n) + " " + what);
    };
    add(named_streams, "file(s) have named data streams, which cannot be stored on Linux; they were skipped");
    add(other_reparse, "file(s) are reparse points other than symlinks/junctions; their reparse data was not applied");
    add(encrypted, "encrypted file(s) were skipped (their raw EFS data cannot be applied on Linux)");
    add(bad_symlinks, "symbolic link(s) with missing or invalid reparse data were skipped");
    add(replaced.load(), "existing non-directory entr(ies) in the target were replaced");
    add(owner_failures, "file(s) could not get their owner/group, first " + first_owner_failure);
    add(mode_failures, "file(s) could not get their mode, first " + first_mode_failure);
    add(xattr_failures, "extended attribute(s) could not be set, first " + first_xattr_failure);
    add(time_failures, "file(s) could not get their timestamps, first " + first_time_failure);
  }
};

TreeWriter::TreeWriter(const image::Image& img, const std::string& target_dir, const ApplyOptions& opts)
    : impl_(std::make_unique<Impl>(img, target_dir, opts)) {}

TreeWriter::~TreeWriter() = default;

std::vector<std::pair<Sha1, uint64_t>> TreeWriter::prepare() {
  // Validate the whole image before touching the disk.
  impl_->build_nodes();
  impl_->open_target();
  impl_->create_tree();
  return impl_->collect_needs();
}

void TreeWriter::begin_blob(const Sha1& hash) { impl_->begin_blob(hash); }
void TreeWriter::blob_data(ByteSpan chunk) { impl_->blob_data(chunk); }
void TreeWriter::end_blob() { impl_->end_blob(); }
void TreeWriter::finish() { impl_->finish(); }
uint64_t TreeWriter::files_done() const { return impl_->files_done; }
void TreeWriter::set_blob_size(const Sha1& hash, uint64_t size) { impl_->set_blob_size(hash, size); }
bool TreeWriter::can_write_whole(const Sha1& hash) const { return impl_->can_write_whole(hash); }
void TreeWriter::write_whole(const Sha1& hash, ByteSpan data) { impl_->write_whole(hash, data); }
std::vector<std::string> TreeWriter::warnings() const { return impl_->warnings; }

}  // namespace wp::apply
