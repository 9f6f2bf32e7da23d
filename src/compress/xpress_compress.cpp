// XPRESS compression: not implemented yet (issue 5). Refused plainly.
#include "compress/codec_impl.hpp"
#include "util/error.hpp"

namespace wp {

std::unique_ptr<Compressor> make_xpress_compressor(int, uint32_t) {
  fail(Errc::Unsupported, "XPRESS compression is not supported yet (use --compress=zstd, lzma or none)");
}

}  // namespace wp
