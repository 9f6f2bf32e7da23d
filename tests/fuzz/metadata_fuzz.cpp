// libFuzzer target for the metadata resource decoder (wim-format.md §7):
// any input must decode or throw wp::Error; whatever decodes must re-encode,
// and re-encoding must converge to a fixed point.
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
  // The first re-encoding numbers hard link groups in the order the children
  // were found; from the second on, the encoder must reach a fixed point.
  wp::Bytes again = wp::wim::encode_metadata(img);
  wp::image::Image img2 = wp::wim::decode_metadata(again, "fuzz re-encoded", nullptr);
  wp::Bytes third = wp::wim::encode_metadata(img2);
  if (third.size() != again.size()) std::abort();
  wp::image::Image img3 = wp::wim::decode_metadata(third, "fuzz re-encoded twice", nullptr);
  if (wp::wim::encode_metadata(img3) != third) std::abort();
  return 0;
}
