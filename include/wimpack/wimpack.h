/*
 * libwimpack: building and reading WIM (Windows Imaging) archives from C.
 *
 * A C99 interface to the layers the wimpack command line is built on: the
 * in-memory image (src/image), the archive writer and its safe-update path
 * (src/wim), and the apply code (src/apply). It is modelled on Microsoft's
 * CimFS API: a program creates an image, adds files with their metadata,
 * pushes their data, adds alternate streams and hard links, deletes paths and
 * commits -- without staging a directory tree on disk first.
 *
 * Conventions
 *   - Every function that can fail returns an int: 0 (WIMPACK_OK) on success,
 *     else one of the small positive WIMPACK_ERR_* codes below, which are the
 *     exit-code categories of the wimpack command line. The message for the
 *     last failure of the calling thread is wimpack_error_message().
 *   - Handles are opaque. They are never dereferenced by the library without
 *     first being looked up in a table of live handles, so a stale handle (a
 *     stream whose image was closed, a closed archive) or a made-up one gives
 *     WIMPACK_ERR_USAGE, never a crash. NULL arguments give WIMPACK_ERR_USAGE.
 *   - Paths inside an image use '/' (or '\') separators; the leading one is
 *     optional; "" and "/" name the root. Names are UTF-8 and case-sensitive.
 *   - Thread safety: every handle has its own lock; calls on different
 *     handles run in parallel, calls on one handle are serialised.
 *   - No C++ exception ever crosses this interface.
 *   - Link with `pkg-config --cflags --libs wimpack`.
 */
#ifndef WIMPACK_WIMPACK_H
#define WIMPACK_WIMPACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WIMPACK_API __attribute__((visibility("default")))
#else
#define WIMPACK_API
#endif

/* ---------------------------------------------------------------- errors */

#define WIMPACK_OK 0
/* I/O errors and anything else; also a conflict in the image (a duplicate
 * name, a file where a directory is needed). */
#define WIMPACK_ERR_FAILURE 1
/* Misuse: a NULL or invalid argument or handle, a stream closed twice or used
 * after its image was closed, writing more than the declared size, closing a
 * stream short, committing twice, invalid options. */
#define WIMPACK_ERR_USAGE 2
/* Not a WIM, a corrupt or truncated archive, a hash mismatch. */
#define WIMPACK_ERR_BAD_ARCHIVE 3
/* No such image, path or blob; a path whose parent does not exist. */
#define WIMPACK_ERR_NOT_FOUND 4
/* Valid input wimpack cannot handle yet. */
#define WIMPACK_ERR_UNSUPPORTED 5
/* Another process (or handle) is writing the archive (its writer lock is
 * held). */
#define WIMPACK_ERR_BUSY 7

/* The message of the last failed call on the calling thread, worded as the
 * wimpack command line prints it after "wimpack: error: ". Empty ("") if no
 * call has failed on this thread. The string stays valid until the thread's
 * next failing call. Never NULL. */
WIMPACK_API const char *wimpack_error_message(void);

/* The library version, "MAJOR.MINOR.PATCH". */
WIMPACK_API const char *wimpack_version(void);

/* ------------------------------------------------------------- metadata */

#define WIMPACK_ATTR_READONLY 0x1u
#define WIMPACK_ATTR_HIDDEN 0x2u
#define WIMPACK_ATTR_SYSTEM 0x4u
#define WIMPACK_ATTR_DIRECTORY 0x10u
#define WIMPACK_ATTR_ARCHIVE 0x20u
#define WIMPACK_ATTR_NORMAL 0x80u
#define WIMPACK_ATTR_REPARSE_POINT 0x400u

typedef struct wimpack_file_metadata {
    uint32_t attributes;        /* FILE_ATTRIBUTE_* bits; 0x10 (DIRECTORY) makes a directory; 0 = normal file */
    uint64_t creation_time;     /* FILETIME (100 ns since 1601-01-01 UTC); 0 = now */
    uint64_t last_write_time;
    uint64_t last_access_time;
    uint64_t file_size;         /* bytes the caller will write to the unnamed stream */
    const char *symlink_target; /* non-NULL: the entry is a symbolic link (reparse point) */
    int has_unix_data;          /* non-zero: uid, gid, mode, rdev are stored as UNIX data */
    uint32_t uid, gid, mode, rdev;
} wimpack_file_metadata;

/* ---------------------------------------------------------- write options */

/* How new data is encoded: codec, level, chunk size, solid, threads,
 * integrity table. Passing NULL where options are taken means wimpack's
 * defaults: for a new archive LZX with 32 KiB chunks (what every WIM reader
 * reads), no solid resources, one thread per CPU, no integrity table; for an
 * image appended to an existing archive, that archive's codec and chunk size,
 * and an integrity table if it has one. An options object may be freed as
 * soon as the call that took it returns (it is copied). */
typedef struct wimpack_write_options wimpack_write_options;

/* A new options object with the defaults above, or NULL if out of memory. */
WIMPACK_API wimpack_write_options *wimpack_write_options_new(void);
/* Frees it; NULL is ignored. */
WIMPACK_API void wimpack_write_options_free(wimpack_write_options *options);
/* The codec as the CLI's --compress takes it: "LZX", "XPRESS", "LZMS",
 * "none", "zstd", "lzma", with an optional ":LEVEL" (e.g. "LZX:50",
 * "zstd:19"), or the aliases "fast", "maximum", "recovery". Appending to an
 * existing archive requires its codec (else wimpack_create_image fails with
 * WIMPACK_ERR_USAGE). WIMPACK_ERR_USAGE for an unknown name. */
WIMPACK_API int wimpack_write_options_set_compression(wimpack_write_options *options, const char *codec);
/* Chunk size in bytes: a power of two the codec accepts; 0 = the codec's
 * default. Checked by wimpack_create_image (WIMPACK_ERR_USAGE). */
WIMPACK_API int wimpack_write_options_set_chunk_size(wimpack_write_options *options, uint32_t chunk_size);
/* Non-zero: file data goes into solid resources compressed with
 * `solid_codec` (same names as above; NULL = "lzma"); metadata keeps the
 * non-solid codec. Streams are then compressed at commit, not as they are
 * written (see wimpack_write_stream). */
WIMPACK_API int wimpack_write_options_set_solid(wimpack_write_options *options, int solid, const char *solid_codec);
/* Compression threads, while streams are written and at commit; 0 = one
 * per CPU. */
WIMPACK_API int wimpack_write_options_set_threads(wimpack_write_options *options, unsigned threads);
/* Non-zero: write an integrity table (the CLI's --check). */
WIMPACK_API int wimpack_write_options_set_integrity(wimpack_write_options *options, int integrity);

/* ------------------------------------------------------ building images */

typedef struct wimpack_image wimpack_image;     /* an image being built */
typedef struct wimpack_stream wimpack_stream;   /* a stream being written */

/* Progress of a long operation (commit, apply): bytes of file data done out
 * of the total. It may be called from one of the library's worker threads,
 * but never twice at once, and only while the call that took it runs; it
 * must not call back into the library on the same handle. */
typedef void (*wimpack_progress_fn)(uint64_t done, uint64_t total, void *context);

/* Starts building an image that will be added to `wim_path`.
 *   - wim_path is created if absent (written to a temporary file renamed into
 *     place at commit), else the image is appended to it (in place, new data
 *     after the old and the header last, as `wimpack append` does; an archive
 *     whose layout does not allow that, e.g. a pipable one, is rebuilt into a
 *     temporary file). Nothing is written before wimpack_commit_image().
 *   - The archive's writer lock is taken here and held until the image is
 *     committed or closed: a second writer (another handle, another process,
 *     wimlib) gets WIMPACK_ERR_BUSY.
 *   - base_image (NULL = start from an empty root directory) names (by NAME
 *     or 1-based index, "-1" = last) an image of wim_path whose tree the new
 *     image starts from, as CimCreateImage's existing image; its data is
 *     reused as it is stored, never recompressed.
 *   - image_name may be NULL or "" (an unnamed image); a name the archive
 *     already has is WIMPACK_ERR_USAGE.
 *   - options: see wimpack_write_options (copied; NULL = defaults).
 * On success *out is the new handle; on failure *out is set to NULL. */
WIMPACK_API int wimpack_create_image(const char *wim_path, const char *base_image, const char *image_name,
                                     const wimpack_write_options *options, wimpack_image **out);

/* Adds an entry at `path`, whose parent directory must exist
 * (WIMPACK_ERR_NOT_FOUND otherwise) and must not have an entry of that name
 * (WIMPACK_ERR_FAILURE). The path "/" (or "") instead sets the metadata of
 * the image's root directory (attributes must then include DIRECTORY).
 *   - attributes & WIMPACK_ATTR_DIRECTORY: a directory (file_size must be 0);
 *   - symlink_target != NULL: a symbolic link to that target, stored as
 *     wimpack capture stores one (a target not starting with '/' is
 *     relative); with DIRECTORY it is a link to a directory; file_size must
 *     be 0;
 *   - else a file of file_size bytes (attributes 0 = NORMAL).
 * The REPARSE_POINT attribute without symlink_target is WIMPACK_ERR_USAGE:
 * other reparse points are made with wimpack_set_reparse_point.
 * With has_unix_data the owner, group, mode and rdev are stored as UNIX data
 * (applied by `wimpack apply --unix-data`); a mode of a FIFO, socket or
 * device node makes that special file.
 * `stream`: NULL when no data follows (file_size must then be 0); else
 * *stream receives a stream to which exactly file_size bytes must be written
 * (possibly 0) before it is closed. */
WIMPACK_API int wimpack_create_file(wimpack_image *image, const char *path, const wimpack_file_metadata *metadata,
                                    wimpack_stream **stream);

/* Adds a named data stream ("dir/f:name") of `size` bytes to an existing
 * entry; *stream receives the stream to write. An entry already holding a
 * stream of that name is WIMPACK_ERR_FAILURE. (Linux cannot hold named
 * streams: apply skips them with a warning; they are kept in the archive and
 * readable with wimpack_open_reader.) */
WIMPACK_API int wimpack_create_alternate_stream(wimpack_image *image, const char *path_and_stream_name,
                                                uint64_t size, wimpack_stream **stream);

/* Appends `size` bytes to the stream. Writing more than the declared size
 * in total is WIMPACK_ERR_USAGE and writes nothing.
 *
 * Where the data goes: each stream fills chunks of the archive's chunk size
 * (32 KiB with the default LZX); a full chunk (and a stream's last one, at
 * wimpack_close_stream) is hashed and handed to the compressor threads of
 * the image, which compress chunks in parallel while the caller goes on
 * writing, and append them, compressed as the archive will store them, to
 * one anonymous staging file per image (created with O_TMPFILE next to
 * wim_path, or in $TMPDIR if that fails; it never has a name on disk and
 * disappears with the handle). wimpack_commit_image then copies the staged
 * chunks into the archive as they are, so little work is left after the
 * last write; identical streams are still stored once (found by their
 * SHA-1, against the archive and the rest of the image). A write blocks
 * while the compressors are behind (a few chunks per thread are queued), so
 * memory stays bounded whatever the stream sizes: about one chunk per open
 * stream plus the chunks in flight. The staging file needs as much free
 * space as the compressed data.
 *
 * Solid archives (wimpack_write_options_set_solid), pipable archives being
 * appended to, and uncompressed ones ("none") stage the raw bytes instead and
 * compress at commit, as `wimpack capture` does (a solid resource is
 * compressed across streams, so it is built at commit). An error of the
 * compressor threads (e.g. the staging file's disk is full) is returned by
 * the next write, close or commit of the image. */
WIMPACK_API int wimpack_write_stream(wimpack_stream *stream, const void *data, size_t size);

/* Closes a stream once all its declared bytes are written. Fewer bytes than
 * declared: WIMPACK_ERR_USAGE, and the stream stays open (write the rest, or
 * close the image to discard everything). A stream already closed:
 * WIMPACK_ERR_USAGE ("already closed"); stream handles live until their
 * image is closed, so this is always detected, and a stream of a closed
 * image is an invalid handle (WIMPACK_ERR_USAGE too). */
WIMPACK_API int wimpack_close_stream(wimpack_stream *stream);

/* Adds `path` as another name (hard link) of the existing non-directory
 * `existing_path`. Parent and name rules as wimpack_create_file. */
WIMPACK_API int wimpack_create_hard_link(wimpack_image *image, const char *path, const char *existing_path);

/* Makes the existing entry `path` (not a symbolic link, not hard-linked) a
 * reparse point, in the spirit of CimCreateFile's reparse data buffer:
 * `reparse_data` is a Windows REPARSE_DATA_BUFFER of `size` bytes, i.e. u32
 * ReparseTag, u16 ReparseDataLength, u16 Reserved (little-endian), then the
 * data; a tag without the Microsoft bit (0x80000000) has a 16-byte GUID
 * before its data, not counted in ReparseDataLength. It is stored as WIM
 * stores reparse points: the tag and Reserved in the dentry, the rest of the
 * buffer as the entry's reparse stream; the REPARSE_POINT attribute is set.
 * A junction (volume mount point) is a directory with the tag 0xA0000003;
 * a file keeps its data stream. (Symbolic links are made with
 * wimpack_file_metadata.symlink_target instead; wimpack_create_file refuses
 * the REPARSE_POINT attribute without one.) On apply, a junction becomes a
 * symbolic link as in wimlib's archives; other reparse points keep the file
 * or directory and drop the reparse data, with a warning (Linux has no form
 * for them); the archive keeps them for Windows.
 * WIMPACK_ERR_USAGE: size < 8, ReparseDataLength not matching size, more than
 * 16384 bytes (Windows' limit), or the root; WIMPACK_ERR_NOT_FOUND: no such
 * entry; WIMPACK_ERR_FAILURE: already a reparse point. */
WIMPACK_API int wimpack_set_reparse_point(wimpack_image *image, const char *path, const void *reparse_data,
                                          size_t size);

/* Removes `path` and, for a directory, everything below it (the root cannot
 * be deleted). Other hard links of a file keep its data. Streams still open
 * on deleted entries may be written and closed; their data is dropped. */
WIMPACK_API int wimpack_delete_path(wimpack_image *image, const char *path);

/* Sets a progress callback for wimpack_commit_image (NULL = none). */
WIMPACK_API int wimpack_set_commit_progress(wimpack_image *image, wimpack_progress_fn progress, void *context);

/* Writes the image: the archive changes only here. Every stream must have
 * been closed (WIMPACK_ERR_USAGE otherwise, and nothing is written). On
 * failure the archive is left as it was. Either way the image cannot be
 * changed or committed again afterwards (WIMPACK_ERR_USAGE); it must still
 * be closed. Releases the writer lock. */
WIMPACK_API int wimpack_commit_image(wimpack_image *image);

/* Frees the image and every stream handle it gave out (those become invalid
 * handles). Without a commit, discards everything: the archive is
 * untouched. NULL and stale handles are ignored. */
WIMPACK_API void wimpack_close_image(wimpack_image *image);

/* --------------------------------------------------------------- reading */

typedef struct wimpack_archive wimpack_archive; /* an archive open for reading */
typedef struct wimpack_reader wimpack_reader;   /* one stream open for reading */

/* Opens and validates `wim_path` (wim-format checks as every wimpack command
 * does). `refs` (may be NULL when ref_count is 0) are further archives whose
 * blobs this one may use (the CLI's --ref: split WIM parts, delta bases);
 * the bases a wimpack delta names and `refs` lacks are found as the CLI finds
 * them (WIMPACK_ERR_NOT_FOUND if one is missing or replaced). */
WIMPACK_API int wimpack_open_archive(const char *wim_path, const char *const *refs, size_t ref_count,
                                     wimpack_archive **out);

/* Frees the archive and every reader opened from it (those become invalid
 * handles; mounts made from it stay, see wimpack_mount_image). NULL and
 * stale handles are ignored. */
WIMPACK_API void wimpack_close_archive(wimpack_archive *archive);

/* *count = the number of images. */
WIMPACK_API int wimpack_image_count(wimpack_archive *archive, int *count);

/* *index = the 1-based index of the image named by `image` (a NAME, an
 * index, or a negative index counting from the end). WIMPACK_ERR_NOT_FOUND
 * if none. */
WIMPACK_API int wimpack_resolve_image(wimpack_archive *archive, const char *image, int *index);

/* *value = an XML property of image `index`: "NAME", "DESCRIPTION",
 * "FLAGS", "DIRCOUNT", "FILECOUNT", "TOTALBYTES", "CREATIONTIME/HIGHPART",
 * or any path such as "WINDOWS/VERSION/MAJOR"; "" if the image has none. The
 * string belongs to the archive handle and stays valid until it is closed. */
WIMPACK_API int wimpack_get_image_property(wimpack_archive *archive, int index, const char *property,
                                           const char **value);

/* Fills *metadata for the entry at `path` of image `index` (symbolic links
 * are not followed). file_size is the size of the unnamed data stream;
 * symlink_target (for a symbolic link or junction) belongs to the archive
 * handle and stays valid until it is closed. */
WIMPACK_API int wimpack_stat(wimpack_archive *archive, int index, const char *path,
                             wimpack_file_metadata *metadata);

/* Copies the REPARSE_DATA_BUFFER of the reparse point `path` of image
 * `index` (the layout wimpack_set_reparse_point takes: tag, length and
 * reserved field rebuilt from the dentry, then the reparse stream) into
 * `buffer`; *needed = its size in bytes. size 0 (buffer may be NULL) only
 * asks for *needed; a non-zero size smaller than needed is WIMPACK_ERR_USAGE.
 * Works for symbolic links too (their wim-format §9.2 data). Not a reparse
 * point: WIMPACK_ERR_NOT_FOUND. */
WIMPACK_API int wimpack_get_reparse_point(wimpack_archive *archive, int index, const char *path, void *buffer,
                                          size_t size, size_t *needed);

/* Called once per entry of a directory, in wimlib's listing order; `name` is
 * the entry's name (not its path). Return 0 to go on; any other value stops
 * the walk and is returned by wimpack_iterate_dir. */
typedef int (*wimpack_dir_fn)(const char *name, const wimpack_file_metadata *metadata, void *context);

/* Lists the directory at `path` of image `index` (not recursive).
 * WIMPACK_ERR_NOT_FOUND if absent, WIMPACK_ERR_FAILURE if not a directory. */
WIMPACK_API int wimpack_iterate_dir(wimpack_archive *archive, int index, const char *path, wimpack_dir_fn fn,
                                    void *context);

/* Opens the data of `path` ("dir/f", or "dir/f:name" for a named stream) of
 * image `index` for reading. A stream of size 0 opens as empty. */
WIMPACK_API int wimpack_open_reader(wimpack_archive *archive, int index, const char *path, wimpack_reader **out);
/* *size = the stream's size in bytes. */
WIMPACK_API int wimpack_reader_size(wimpack_reader *reader, uint64_t *size);
/* Reads up to `size` bytes at `offset` into `buffer`; *got = bytes read
 * (less than size only at the end of the stream; 0 at or past the end).
 * Any offset may be read in any order, at the cost of the chunks the range
 * touches only (the mount's random access, through the resource's chunk
 * table: a read at the end of a large compressed stream does not decode
 * what comes before it). Decoded chunks are kept in a cache of 32 MiB per
 * archive handle, shared by its readers. Reads that go front to back from
 * offset 0 (each starting at or before where the previous one ended) are
 * checked against the blob's SHA-1 when they reach the end
 * (WIMPACK_ERR_BAD_ARCHIVE on a mismatch; the check then starts over);
 * other reads are not checked (the data of each chunk still must decode to
 * its size). Readers of one archive may be used on different threads at
 * once. */
WIMPACK_API int wimpack_read(wimpack_reader *reader, uint64_t offset, void *buffer, size_t size, size_t *got);
/* Frees the reader; NULL and stale handles are ignored. */
WIMPACK_API void wimpack_close_reader(wimpack_reader *reader);

/* Flags for wimpack_apply. */
#define WIMPACK_APPLY_UNIX_DATA 0x1 /* restore owners, modes, special files (as --unix-data) */
#define WIMPACK_APPLY_RPFIX 0x2     /* fix absolute symbolic links up (as --rpfix) */

/* Writes image `index` -- or, with `path` non-NULL and not "/", only that
 * entry of it (with what is below it), placed in target_dir under its own
 * name -- into the directory `target_dir` (created if missing), as `wimpack
 * apply` / `wimpack extract` do. `progress` (may be NULL) receives bytes of
 * file data written. */
WIMPACK_API int wimpack_apply(wimpack_archive *archive, int index, const char *path, const char *target_dir,
                              int flags, wimpack_progress_fn progress, void *context);

/* ---------------------------------------------------------------- mounts */

typedef struct wimpack_mount wimpack_mount; /* an image mounted by this process */

/* Flags for wimpack_mount_image. */
#define WIMPACK_MOUNT_UNIX_DATA 0x1       /* owners, modes, special files from UNIX data (as --unix-data) */
#define WIMPACK_MOUNT_ALLOW_OTHER 0x2     /* other users may see the mount (FUSE allow_other) */
#define WIMPACK_MOUNT_WINDOWS_STREAMS 0x4 /* named streams as "file:name" (as --streams-interface=windows);
                                             default: as user.NAME extended attributes */

/* Mounts image `index` of `archive` read-only on the directory `dir`, as
 * `wimpack mount` does (the same file system: contents, links, hard links,
 * times, named streams), but served inside the calling process: a FUSE
 * session on threads the mount handle owns (no fork, no signal handlers).
 * Returns once `dir` shows the image; from then on any process, this one
 * included, reads it with ordinary calls (open, read, readdir, ...) -- but
 * not from inside a wimpack_progress_fn or wimpack_dir_fn. The mount opens
 * `wim_path` (and the refs) of `archive` again for itself: closing `archive`
 * afterwards does not end it. Needs /dev/fuse (WIMPACK_ERR_UNSUPPORTED
 * without it) and root or fusermount3.
 *   dir: an existing, empty directory (WIMPACK_ERR_NOT_FOUND if it does not
 *   exist, WIMPACK_ERR_FAILURE if it is not a directory or not empty);
 *   index: 1-based (WIMPACK_ERR_NOT_FOUND if no such image); an image whose
 *   data is not all in the archive and its refs is refused.
 * On success *out is the mount handle; on failure *out is set to NULL. */
WIMPACK_API int wimpack_mount_image(wimpack_archive *archive, int index, const char *dir, int flags,
                                    wimpack_mount **out);

/* Unmounts the directory and waits for the serving threads to end; the
 * directory is empty again and the handle becomes invalid (a second call:
 * WIMPACK_ERR_USAGE). While files or directories are still open in the
 * mount (by any process), WIMPACK_ERR_BUSY: nothing changes and it may be
 * called again. A mount unmounted by someone else (umount(8),
 * `fusermount3 -u`; `wimpack unmount` refuses an in-process mount, whose
 * process does not end with it) is only cleaned up. Dismount every mount before the process
 * exits: at a normal exit a mount still in place is detached lazily (and the
 * exit waits until no file is open in it), and a process killed leaves a
 * dead mount point ("Transport endpoint is not connected") until it is
 * unmounted with umount or `fusermount3 -u`. */
WIMPACK_API int wimpack_dismount_image(wimpack_mount *mount);

#ifdef __cplusplus
}
#endif

#endif /* WIMPACK_WIMPACK_H */
