// Where the writer gets a blob's bytes from: a file on disk, memory, or a
// range of another archive (architecture.md: "the writer takes blobs from
// blob sources"). Implementations live with their producers (files in
// capture/file_source.hpp); the writer only sees this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "compress/codec.hpp"
#include "util/bytes.hpp"

namespace wp::wim {

// Reads one blob front to back.
class BlobStream {
public:
  virtual ~BlobStream() = default;
  // Fills as much of `out` as possible; returns the byte count, 0 at the end.
  // Throws wp::Error (naming the source) on I/O errors.
  virtual size_t read(std::span<uint8_t> out) = 0;
};

class BlobSource {
public:
  virtual ~BlobSource() = default;
  virtual uint64_t size() const = 0;
  virtual std::unique_ptr<BlobStream> open() const = 0;
  virtual std::string describe() const = 0;  // a path, for messages
  // Name used to order blobs in solid resources (extension, then name).
  // Empty keeps the caller's order (e.g. blobs copied from another archive,
  // which read fastest in their archive order).
  virtual std::string sort_name() const { return describe(); }
  // A source that may deliver different bytes on a second read (a live file
  // under --continue-on-change) says so here; the writer then stores a blob
  // under the hash of the bytes it actually stored, and reports the change
  // with report_change() instead of failing.
  virtual bool tolerates_change() const { return false; }
  virtual void report_change() const {}

  // A blob its producer already compressed chunk by chunk, as a non-solid
  // resource of `codec` in chunks of `chunk_size` stores them (the C API
  // compresses streams while they are written). The writer copies such
  // chunks as they are when it writes non-solid resources of that codec and
  // chunk size, and reads the blob through open() otherwise; open() still
  // delivers the uncompressed bytes.
  struct Encoded {
    Codec codec;
    uint32_t chunk_size;
  };
  virtual std::optional<Encoded> encoded() const { return std::nullopt; }
  // Chunk `index` as stored, into `out`: returns true when it is compressed,
  // false when it is stored raw. Only for a source with encoded(); called
  // from several threads at once.
  virtual bool read_encoded_chunk(uint64_t index, Bytes& out) const;

  // Read-ahead (wim/prefetch.hpp): start loading the data into memory
  // without waiting for it. A hint only: errors are ignored (the real read
  // reports them). Returns true when the data was not in memory yet (the
  // hint was needed). Sources that cannot do it return false from
  // can_prefetch.
  virtual bool can_prefetch() const { return false; }
  virtual bool prefetch() const { return false; }
};

// A blob held in memory (reparse data, small generated content).
class MemoryBlobSource final : public BlobSource {
public:
  explicit MemoryBlobSource(Bytes data, std::string what = "(memory)") : data_(std::move(data)), what_(std::move(what)) {}
  uint64_t size() const override { return data_.size(); }
  std::unique_ptr<BlobStream> open() const override;
  std::string describe() const override { return what_; }
  const Bytes& data() const { return data_; }

private:
  Bytes data_;
  std::string what_;
};

}  // namespace wp::wim
