// The integrity table (wim-format.md §11): SHA-1 of each 10 MiB piece of the
// file from the end of the header to the end of the blob table.
#pragma once

#include <cstdint>
#include <string>

#include "util/bytes.hpp"
#include "wim/header.hpp"

namespace wp::wim {

constexpr uint32_t kIntegrityChunkSize = 10 * 1024 * 1024;

// Hashes [208, end) of the file open at `fd` and returns the encoded table.
Bytes build_integrity_table(int fd, const std::string& path, uint64_t end, uint32_t chunk_size = kIntegrityChunkSize);

// Verifies the table described by `h.integrity`; throws Errc::BadArchive on
// any mismatch or malformed table. Returns false if the file has no table.
bool check_integrity(int fd, const std::string& path, uint64_t file_size, const Header& h);

}  // namespace wp::wim
