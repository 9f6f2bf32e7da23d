/* Misuse of libwimpack must be an error code and a message, never a crash
 * (tests/interop/api.sh runs this, also under ASan+UBSan when asked).
 *   misuse DIR   works in DIR (writes DIR/m.wim) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wimpack/wimpack.h>

static int failures = 0;

/* The call must return `want` and leave a non-empty message. */
#define EXPECT_RC(want, call)                                                                       \
    do {                                                                                            \
        int rc_ = (call);                                                                           \
        const char *msg_ = wimpack_error_message();                                                 \
        if (rc_ != (want) || (want != WIMPACK_OK && (!msg_ || !*msg_))) {                           \
            fprintf(stderr, "FAIL %s:%d: %s returned %d (want %d): '%s'\n", __FILE__, __LINE__, #call, \
                    rc_, want, msg_ ? msg_ : "(null)");                                             \
            failures++;                                                                             \
        } else if (want != WIMPACK_OK) {                                                            \
            printf("ok %-70.70s -> %d: %s\n", #call, rc_, msg_);                                    \
        }                                                                                           \
    } while (0)

static wimpack_file_metadata meta(uint32_t attributes, uint64_t size) {
    wimpack_file_metadata m;
    memset(&m, 0, sizeof m);
    m.attributes = attributes;
    m.file_size = size;
    return m;
}

static unsigned long long checksum(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned long long h = 1469598103934665603ULL;
    int c;
    if (!f) return 0;
    while ((c = getc(f)) != EOF) h = (h ^ (unsigned)c) * 1099511628211ULL;
    fclose(f);
    return h;
}

static int count_entry(const char *name, const wimpack_file_metadata *md, void *ctx) {
    (void)name;
    (void)md;
    ++*(int *)ctx;
    return 0;
}

int main(int argc, char **argv) {
    char wim[4096], junk[4096];
    wimpack_image *img = NULL, *img2 = NULL;
    wimpack_stream *s = NULL, *s2 = NULL, *kept = NULL;
    wimpack_archive *a = NULL;
    wimpack_reader *r = NULL;
    wimpack_mount *mnt = (wimpack_mount *)(uintptr_t)1;
    char junk2[4096];
    wimpack_file_metadata m = meta(0, 0), dm = meta(WIMPACK_ATTR_DIRECTORY, 0);
    wimpack_write_options *o;
    unsigned long long before;
    size_t got;
    int n;
    char buf[16];
    FILE *f;
    if (argc != 2) return 2;
    snprintf(wim, sizeof wim, "%s/m.wim", argv[1]);
    snprintf(junk, sizeof junk, "%s/junk.wim", argv[1]);
    snprintf(junk2, sizeof junk2, "%s/no/such/dir", argv[1]);

    /* NULL arguments. */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_image(NULL, NULL, "x", NULL, &img));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_image(wim, NULL, "x", NULL, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(NULL, "a", &m, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(NULL, "x", 1));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_close_stream(NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_commit_image(NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_open_archive(NULL, NULL, 0, &a));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_read(NULL, 0, buf, 1, &got));
    /* A made-up handle. */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream((wimpack_stream *)(uintptr_t)0x1234, "x", 1));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_commit_image((wimpack_image *)(uintptr_t)0x1231));
    wimpack_close_image(NULL);
    wimpack_close_archive(NULL);
    wimpack_close_reader(NULL);

    /* Options. */
    o = wimpack_write_options_new();
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_options_set_compression(o, "nosuchcodec"));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_options_set_compression(NULL, "LZX"));
    EXPECT_RC(WIMPACK_OK, wimpack_write_options_set_chunk_size(o, 12345));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_image(wim, NULL, "x", o, &img));
    EXPECT_RC(WIMPACK_OK, wimpack_write_options_set_chunk_size(o, 0));
    EXPECT_RC(WIMPACK_OK, wimpack_write_options_set_compression(o, "XPRESS"));

    /* Building: the first image of a new archive. */
    EXPECT_RC(WIMPACK_OK, wimpack_create_image(wim, NULL, "one", o, &img));
    wimpack_write_options_free(o);
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, NULL, &m, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "a", NULL, NULL));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_create_file(img, "no/such/parent", &m, NULL));
    EXPECT_RC(WIMPACK_OK, wimpack_create_file(img, "d", &dm, NULL));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_create_file(img, "d", &m, NULL));
    EXPECT_RC(WIMPACK_OK, wimpack_create_file(img, "d/f", &m, NULL));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_create_file(img, "d/f/under_a_file", &m, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "d/..", &m, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "d/bad\xff\xfename", &m, NULL));
    m.file_size = 5;
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "nostream", &m, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "d/dirdata", &dm, &s));
    /* Writing past the declared size, closing short, closing twice. */
    EXPECT_RC(WIMPACK_OK, wimpack_create_file(img, "five", &m, &s));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(s, "123456", 6));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(s, NULL, 3));
    EXPECT_RC(WIMPACK_OK, wimpack_write_stream(s, "123", 3));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_close_stream(s));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_commit_image(img)); /* a stream is still open */
    EXPECT_RC(WIMPACK_OK, wimpack_write_stream(s, "45", 2));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(s, "6", 1));
    EXPECT_RC(WIMPACK_OK, wimpack_close_stream(s));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_close_stream(s));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(s, "x", 1));
    /* Streams, links, deletions on what is not there. */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_alternate_stream(img, "five", 1, &s2));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_create_alternate_stream(img, "nothere:s", 1, &s2));
    EXPECT_RC(WIMPACK_OK, wimpack_create_alternate_stream(img, "five:s", 0, &s2));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_create_alternate_stream(img, "five:s", 0, &kept));
    EXPECT_RC(WIMPACK_OK, wimpack_close_stream(s2));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_create_hard_link(img, "hl", "nothere"));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_create_hard_link(img, "hl", "d"));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_create_hard_link(img, "five", "d/f"));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_create_hard_link(img, "no/parent", "five"));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_delete_path(img, "/"));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_delete_path(img, "nothere"));
    m.file_size = 0;
    m.symlink_target = "";
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "emptylink", &m, NULL));
    m.symlink_target = NULL;
    /* Commit, then everything but close is refused. */
    EXPECT_RC(WIMPACK_OK, wimpack_commit_image(img));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_commit_image(img));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_file(img, "late", &m, NULL));
    wimpack_close_image(img);
    wimpack_close_image(img); /* closing twice: a stale handle, ignored */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_commit_image(img));

    /* A second image: a duplicate name, a missing base, the lock. */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_image(wim, NULL, "one", NULL, &img));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_create_image(wim, "nosuchimage", "two", NULL, &img));
    EXPECT_RC(WIMPACK_OK, wimpack_create_image(wim, "one", "two", NULL, &img));
    EXPECT_RC(WIMPACK_ERR_BUSY, wimpack_create_image(wim, NULL, "three", NULL, &img2));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_create_image(wim, NULL, "bad\001name", NULL, &img2));
    /* A stream used after its image was closed; the image discarded. */
    before = checksum(wim);
    m.file_size = 4;
    EXPECT_RC(WIMPACK_OK, wimpack_create_file(img, "d/kept", &m, &kept));
    EXPECT_RC(WIMPACK_OK, wimpack_write_stream(kept, "ab", 2));
    wimpack_close_image(img);
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_write_stream(kept, "cd", 2));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_close_stream(kept));
    if (checksum(wim) != before) {
        fprintf(stderr, "FAIL: closing an uncommitted image changed the archive\n");
        failures++;
    }

    /* Reading. */
    f = fopen(junk, "wb");
    fputs("this is not a WIM archive, not at all, just text...", f);
    fclose(f);
    EXPECT_RC(WIMPACK_ERR_BAD_ARCHIVE, wimpack_open_archive(junk, NULL, 0, &a));
    EXPECT_RC(WIMPACK_ERR_BAD_ARCHIVE, wimpack_create_image(junk, NULL, "x", NULL, &img));
    EXPECT_RC(WIMPACK_OK, wimpack_open_archive(wim, NULL, 0, &a));
    EXPECT_RC(WIMPACK_OK, wimpack_image_count(a, &n));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_resolve_image(a, "two", &n));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_stat(a, 2, "/", &m));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_stat(a, 1, "nothere", &m));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_stat(a, 1, NULL, &m));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_iterate_dir(a, 1, "/", NULL, NULL));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_iterate_dir(a, 1, "five", count_entry, &n));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_open_reader(a, 1, "five:nosuch", &r));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_open_reader(a, 1, "d", &r));
    EXPECT_RC(WIMPACK_OK, wimpack_open_reader(a, 1, "five", &r));
    EXPECT_RC(WIMPACK_OK, wimpack_read(r, 1, buf, sizeof buf, &got));
    if (got != 4 || memcmp(buf, "2345", 4) != 0) {
        fprintf(stderr, "FAIL: read back '%.*s'\n", (int)got, buf);
        failures++;
    }
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_read(r, 0, NULL, 4, &got));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_apply(a, 1, NULL, NULL, 0, NULL, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_apply(a, 1, NULL, argv[1], 0x100, NULL, NULL));
    /* Mounts: arguments are checked before FUSE is needed. */
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_mount_image(NULL, 1, argv[1], 0, &mnt));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_mount_image(a, 1, NULL, 0, &mnt));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_mount_image(a, 1, argv[1], 0, NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_mount_image(a, 1, argv[1], 0x100, &mnt));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_mount_image(a, 7, argv[1], 0, &mnt));
    EXPECT_RC(WIMPACK_ERR_NOT_FOUND, wimpack_mount_image(a, 1, junk2, 0, &mnt));
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_mount_image(a, 1, junk, 0, &mnt)); /* not a directory */
    EXPECT_RC(WIMPACK_ERR_FAILURE, wimpack_mount_image(a, 1, argv[1], 0, &mnt)); /* not empty */
    if (mnt != NULL) {
        fprintf(stderr, "FAIL: a failed mount left *out set\n");
        failures++;
    }
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_dismount_image(NULL));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_dismount_image((wimpack_mount *)(uintptr_t)0x55));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_dismount_image((wimpack_mount *)r));
    wimpack_close_archive(a);
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_read(r, 0, buf, 4, &got));
    EXPECT_RC(WIMPACK_ERR_USAGE, wimpack_image_count(a, &n));
    wimpack_close_reader(r);
    wimpack_close_archive(a);

    if (failures) {
        fprintf(stderr, "%d misuse check(s) failed\n", failures);
        return 1;
    }
    puts("misuse OK");
    return 0;
}
