// LZMS compression: no encoder yet (optional in issue 5). Refused plainly;
// appending to an LZMS archive (e.g. wimlib --solid) is refused before any work.
#include "compress/codec_impl.hpp"
#include "util/error.hpp"

namespace wp {

std::unique_ptr<Compressor> make_lzms_compressor(int, uint32_t) {
  fail(Errc::Unsupported,
       "LZMS compression is not supported yet (LZMS archives can be read; to write, choose LZX, XPRESS, zstd, lzma "
       "or none)");
}

}  // namespace wp
