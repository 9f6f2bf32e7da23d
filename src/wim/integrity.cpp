#include "wim/integrity.hpp"

#include <tbb/parallel_for.h>
#include <unistd.h>

#include <vector>

#include "util/error.hpp"
#include "util/sha1.hpp"

namespace wp::wim {

static void pread_all(int fd, const std::string& path, uint8_t* buf, size_t n, uint64_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, off_t(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail_errno("cannot read", path, errno);
    if (r == 0) fail(Errc::BadArchive, "'" + path + "': integrity range extends past the end of the file");
    done += size_t(r);
  }
}

static std::vector<Sha1> hash_range(int fd, const std::string& path, uint64_t end, uint32_t chunk) {
  uint64_t begin = kHeaderSize;
  uint64_t n = end > begin ? ceil_div(end - begin, chunk) : 0;
  std::vector<Sha1> out(n);
  tbb::parallel_for(uint64_t(0), n, [&](uint64_t i) {
    uint64_t off = begin + i * chunk;
    size_t len = size_t(std::min<uint64_t>(chunk, end - off));
    Bytes buf(std::min<size_t>(len, 1 << 20));
    Sha1Hasher h;
    for (size_t done = 0; done < len;) {
      size_t k = std::min(buf.size(), len - done);
      pread_all(fd, path, buf.data(), k, off + done);
      h.update({buf.data(), k});
      done += k;
    }
    out[i] = h.final();
  });
  return out;
}

Bytes build_integrity_table(int fd, const std::string& path, uint64_t end, uint32_t chunk_size) {
  auto hashes = hash_range(fd, path, end, chunk_size);
  ByteWriter w;
  w.u32(uint32_t(12 + 20 * hashes.size()));
  w.u32(uint32_t(hashes.size()));
  w.u32(chunk_size);
  for (const auto& h : hashes) w.raw(h.bytes);
  return std::move(w.bytes());
}

bool check_integrity(int fd, const std::string& path, uint64_t file_size, const Header& h) {
  if (h.integrity.is_zero()) return false;
  auto bad = [&](const std::string& what) { fail(Errc::BadArchive, "'" + path + "': " + what); };
  const ResHdr& r = h.integrity;
  if (r.usize < 12 || r.size_in_wim != r.usize || r.offset > file_size || r.size_in_wim > file_size - r.offset)
    bad("invalid integrity table");
  Bytes t(r.usize);
  pread_all(fd, path, t.data(), t.size(), r.offset);
  uint32_t table_size = load_le32(&t[0]), n = load_le32(&t[4]), chunk = load_le32(&t[8]);
  uint64_t end = h.blob_table.offset + h.blob_table.size_in_wim;
  if (table_size != r.usize || uint64_t(12) + 20ull * n != r.usize || chunk == 0 || end > file_size || end < kHeaderSize ||
      n != ceil_div(end - kHeaderSize, chunk))
    bad("invalid integrity table");
  auto hashes = hash_range(fd, path, end, chunk);
  for (uint32_t i = 0; i < n; i++)
    if (std::memcmp(hashes[i].bytes.data(), &t[12 + 20 * i], 20) != 0)
      bad("integrity check failed: bytes " + std::to_string(kHeaderSize + uint64_t(i) * chunk) + ".." +
          std::to_string(std::min<uint64_t>(end, kHeaderSize + uint64_t(i + 1) * chunk)) + " do not match their checksum");
  return true;
}

}  // namespace wp::wim
