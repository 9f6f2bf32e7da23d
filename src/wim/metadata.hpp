// The metadata resource of one image (wim-format.md §7, §8): security data,
// the dentry tree with its extra stream entries and tagged items. This file
// converts between its uncompressed bytes and an image::Image; compression,
// SHA-1 checks and the blob table are the caller's business.
#pragma once

#include <string>
#include <vector>

#include "image/image.hpp"
#include "util/bytes.hpp"

namespace wp::wim {

// Encodes `img` as an uncompressed metadata resource, laid out like wimlib:
// security block verbatim (§7.1), root dentry, 8-byte marker, then one child
// list per directory (empty directories included) in pre-order, children in
// collation order (§7.4), streams by the wimlib >= 1.14.2 rules (§7.3).
// Calls img.number_inodes() and uses Inode::ino as the hard link group ID of
// inodes with nlink > 1. Throws Errc::Unsupported for names that cannot be
// stored (not valid WTF-8, empty below the root, longer than 65534 bytes in
// UTF-16) and for oversized stream names or tagged items.
Bytes encode_metadata(image::Image& img);

// Decodes and validates an uncompressed metadata resource (§7.1–7.5, §15).
// Malformed input throws Error(Errc::BadArchive, context + ": invalid
// metadata resource: …"); entries that are well-formed but cannot be used on
// Linux (unnamed, ".", "..", names with NUL or '/', duplicate names, children
// of non-directories) are skipped and reported in *warnings (if non-null),
// as are out-of-range security IDs (changed to -1). Stream sizes are left 0:
// the caller fills them from the blob table. Work and memory are linear in
// data.size(): dentries may not overlap, so a hostile resource cannot make
// the tree bigger than the bytes that describe it.
//
// An image without a root dentry (allowed by wimlib) decodes as an empty
// root directory.
image::Image decode_metadata(ByteSpan data, const std::string& context, std::vector<std::string>* warnings);

// §7.4 collation order of two UTF-16 names: case-insensitive first, then by
// code unit. Upper-casing covers ASCII, Latin-1 and Latin Extended-A (the
// NTFS table agrees there); other scripts compare by code unit, which only
// affects the order of siblings, never what is stored. Returns <0, 0, >0.
int collate_names(std::u16string_view a, std::u16string_view b);

}  // namespace wp::wim
