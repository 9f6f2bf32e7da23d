#include "wim/blob_source.hpp"

#include <algorithm>
#include <cstring>

#include "util/error.hpp"

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

}  // namespace

bool BlobSource::read_encoded_chunk(uint64_t, Bytes&) const {
  fail(Errc::Failure, "internal error: '" + describe() + "' holds no encoded chunks");
}

std::unique_ptr<BlobStream> MemoryBlobSource::open() const { return std::make_unique<MemoryStream>(data_); }

}  // namespace wp::wim
