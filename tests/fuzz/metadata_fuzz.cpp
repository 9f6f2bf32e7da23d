// libFuzzer target for the metadata resource decoder (wim-format.md §7):
// any input must decode or throw wp::Error; whatever decodes must re-encode,
// and the re-encoded bytes must decode again to a fixed point.
#include <cstdint>
#include <cstdlib>

#include "wim/metadata.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wp::image::Image img;
  try {
    img = wp::wim::decode_metadata(wp::ByteSpan(data, size), "fuzz", nullptr);
  } catch (const wp::Error&) {
    return 0;
  }
  wp::Bytes again = wp::wim::encode_metadata(img);
  wp::image::Image img2 = wp::wim::decode_metadata(again, "fuzz re-encoded", nullptr);
  if (wp::wim::encode_metadata(img2) != again) std::abort();
  return 0;
}
