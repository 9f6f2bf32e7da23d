// The options that decide how an archive is encoded (--compress,
// --chunk-size, --solid, --solid-compress, --solid-chunk-size, --check,
// --nocheck), shared by every command that writes one: capture/append,
// optimize, export, update. Registered on a subcommand by one function and
// turned into wim::WriterOptions by another, so the rules (defaults, what an
// existing archive imposes) live in one place.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "wim/archive.hpp"
#include "wim/archive_writer.hpp"

namespace wp::cmd {

struct WriteArgs {
  std::string compress, chunk_size, solid_compress, solid_chunk_size;
  bool solid = false, check = false, nocheck = false;
  // --include-integrity: write an integrity table without verifying the
  // existing ones first (wimlib-imagex's option for every writing command).
  bool include_integrity = false;
  // --wimboot (capture, append, export; add_wimboot_option): a new archive
  // defaults to XPRESS with 4 KiB chunks, as wimlib-imagex; the command marks
  // the image WIMBoot-compatible (the WIMBOOT element of its XML).
  bool wimboot = false;
  // --pipable / --not-pipable, registered by the commands that take them
  // (add_pipable_options).
  bool pipable = false, not_pipable = false;
  // --image-guid=HEX (capture, export; add_guid_option): the GUID of the new
  // archive, as `info` prints it; empty = random (or derived from the
  // content under SOURCE_DATE_EPOCH).
  std::string image_guid;
};

// Registers --image-guid on `c` (commands that create an archive).
void add_guid_option(CLI::App* c, WriteArgs& a);

// Registers --wimboot on `c` (capture, append, export).
void add_wimboot_option(CLI::App* c, WriteArgs& a);

// Registers --pipable (and, with `with_not`, --not-pipable) on `c`.
void add_pipable_options(CLI::App* c, WriteArgs& a, bool with_not);

// What is being written, for make_writer_options.
struct WriteTarget {
  // The archive being changed (append, export into it, update, delete,
  // optimize); nullptr for a new archive. Its integrity table is kept unless
  // --nocheck.
  const wim::Archive* existing = nullptr;
  // With `existing`: true when the new data must use its codec and chunk
  // size (an append or any change that keeps the archive's encoding), so a
  // different --compress or --chunk-size is refused; false when the archive
  // is rewritten and may change them (optimize).
  bool keep_encoding = true;
  // Where the settings not given come from for a new or rewritten archive:
  // this archive's codec and chunk size (export: the source; optimize: the
  // archive itself); nullptr = wimlib-imagex's default, LZX with 32 KiB
  // chunks.
  const wim::Archive* like = nullptr;
  // With `like`: a solid `like` makes the new archive solid with the same
  // solid codec, unless --compress is given (wimexport(1), "ESD files").
  bool inherit_solid = false;
  // WIMFILE "-": a pipable archive on standard output (no integrity table).
  bool to_stdout = false;
  bool quiet = false;
};

// Registers the options on `c`. `compress_help` replaces the generic
// description of --compress; `with_nocheck` adds --nocheck (for commands that
// change an existing archive).
void add_write_options(CLI::App* c, WriteArgs& a, const std::string& compress_help = {}, bool with_nocheck = true);

// The writer options for `target`; throws Errc::Usage for contradictory or
// invalid options and for an encoding the existing archive cannot take.
// Leaves extra_header_flags (RP_FIX) to the caller.
wim::WriterOptions make_writer_options(const WriteArgs& a, const WriteTarget& target);

// Sizes the writer to the memory budget (util/memory.hpp, --max-memory):
// fewer threads, fewer chunks in flight, smaller solid chunks (only when
// --solid-chunk-size was not given); what was reduced is said once as a
// warning. A budget too small for one thread is Errc::Usage. Called by
// make_writer_options; commands that build WriterOptions themselves call it.
void fit_to_memory(wim::WriterOptions& wo, bool solid_chunk_given);

// Throws Errc::Unsupported ("not supported yet") now, before any work, if a
// codec the options name cannot encode.
void probe_codecs(const wim::WriterOptions& wo);

// Refuses archives that must not be changed: marked read-only (Failure).
void check_changeable(const wim::Archive& a);

// --check on an archive that is read: verifies its integrity table if it has
// one (wimlib-imagex only warns when it has none). Throws Errc::BadArchive.
void verify_integrity_if_present(const wim::Archive& a);

}  // namespace wp::cmd
