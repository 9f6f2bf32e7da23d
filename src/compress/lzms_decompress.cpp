// LZMS decompression: not implemented yet (issue 5). Refused plainly.
#include "compress/codec_impl.hpp"
#include "util/error.hpp"

namespace wp {

std::unique_ptr<Decompressor> make_lzms_decompressor(uint32_t) {
  fail(Errc::Unsupported, "LZMS decompression is not supported yet (use --compress=zstd, lzma or none)");
}

}  // namespace wp
