#include "util/sha1.hpp"

#include <openssl/evp.h>

namespace wp {

std::string Sha1::hex() const {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

namespace {

// Fetched once: EVP_sha1() in a DigestInit makes OpenSSL 3 look the
// algorithm up again (under a lock) for every message, e.g. every file.
const EVP_MD* sha1_md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return m ? m : EVP_sha1();
  }();
  return md;
}

}  // namespace

Sha1Hasher::Sha1Hasher() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, sha1_md(), nullptr) != 1) fail(Errc::Failure, "cannot initialise SHA-1");
}

Sha1Hasher::~Sha1Hasher() { EVP_MD_CTX_free(ctx_); }

void Sha1Hasher::update(ByteSpan data) {
  if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}

Sha1 Sha1Hasher::final() {
  Sha1 h;
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, h.bytes.data(), &len);
  EVP_DigestInit_ex(ctx_, sha1_md(), nullptr);
  return h;
}

Sha1 sha1_of(ByteSpan data) {
  Sha1Hasher h;
  h.update(data);
  return h.final();
}

}  // namespace wp
