/* Builds images through libwimpack and reads them back (tests/interop/api.sh
 * drives it and checks the archive with wimlib-imagex and wimpack).
 *
 *   build_and_read build WIM    image 1 "first" (every entry type), then image
 *                               2 "second" based on "first" (appended)
 *   build_and_read read WIM DIR reads both back through the read API and
 *                               applies image 2's /dir to DIR/dir_only and
 *                               image 1 to DIR/all
 *   build_and_read late WIM     reads the end of a stream whose first chunk
 *                               is damaged (random access decodes only the
 *                               chunks it reads)
 *   build_and_read hashcheck WIM  reads a stream with one byte changed
 *                               front to back: the SHA-1 check fails
 *   build_and_read mount WIM D  mounts both images in-process on the empty
 *                               directory D and reads them with POSIX calls
 *   build_and_read reparse WIM  a junction and a file with a third-party
 *                               reparse point (wimpack_set_reparse_point),
 *                               the misuse cases, and the buffers read back
 *   build_and_read many WIM N   N small files (100 per directory, 200 to 4,000
 *                               bytes of text each); prints the seconds
 *                               spent writing and committing
 *   build_and_read big WIM MIB [CODEC]  one stream of MIB MiB written 1 MiB
 *                               at a time; prints the seconds spent writing
 *                               and committing (the commit copies chunks
 *                               compressed while the caller wrote)
 * Compiled as C99 against the installed header. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <wimpack/wimpack.h>

#define CHECK(call)                                                                          \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != WIMPACK_OK) {                                                             \
            fprintf(stderr, "%s:%d: %s failed (%d): %s\n", __FILE__, __LINE__, #call, rc_,  \
                    wimpack_error_message());                                                \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)
#define EXPECT(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

/* `seq 1 N` as bytes: what the shell side regenerates to compare. */
static char *seq_text(int n, size_t *len) {
    size_t cap = (size_t)n * 8 + 16, at = 0;
    char *p = malloc(cap);
    int i;
    for (i = 1; i <= n; i++) at += (size_t)sprintf(p + at, "%d\n", i);
    *len = at;
    return p;
}

static const uint64_t T1 = 132000000000000000ULL; /* a fixed FILETIME (2019) */

static wimpack_file_metadata meta(uint32_t attributes, uint64_t size) {
    wimpack_file_metadata m;
    memset(&m, 0, sizeof m);
    m.attributes = attributes;
    m.creation_time = m.last_write_time = m.last_access_time = T1;
    m.file_size = size;
    return m;
}

static void add_text(wimpack_image *img, const char *path, const char *text) {
    wimpack_file_metadata m = meta(0, strlen(text));
    wimpack_stream *s;
    CHECK(wimpack_create_file(img, path, &m, &s));
    CHECK(wimpack_write_stream(s, text, strlen(text)));
    CHECK(wimpack_close_stream(s));
}

static void progress(uint64_t done, uint64_t total, void *ctx) {
    (void)total;
    *(uint64_t *)ctx = done;
}

/* Four threads write four streams of one image at once (thread safety per
 * handle: the image's lock serialises them). */
struct writer_arg {
    wimpack_stream *s;
    const char *data;
    size_t len;
    int rc;
};

static void *writer(void *p) {
    struct writer_arg *a = p;
    size_t i, step;
    for (i = 0, step = 1; i < a->len && !a->rc; i += step, step = step % 333 + 1) {
        if (step > a->len - i) step = a->len - i;
        a->rc = wimpack_write_stream(a->s, a->data + i, step);
    }
    if (!a->rc) a->rc = wimpack_close_stream(a->s);
    return NULL;
}

static void threaded(wimpack_image *img) {
    size_t len;
    char *text = seq_text(100000, &len), path[64];
    pthread_t th[4];
    struct writer_arg args[4];
    wimpack_file_metadata m = meta(0, len);
    int k;
    for (k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "dir/t%d", k);
        CHECK(wimpack_create_file(img, path, &m, &args[k].s));
        args[k].data = text;
        args[k].len = len;
        args[k].rc = 0;
        EXPECT(pthread_create(&th[k], NULL, writer, &args[k]) == 0);
    }
    for (k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        EXPECT(args[k].rc == 0);
    }
    free(text);
}

static void build(const char *wim) {
    wimpack_image *img;
    wimpack_stream *s, *ads;
    wimpack_file_metadata m;
    size_t len, i, step;
    char *big = seq_text(400000, &len);
    uint64_t done = 0;
    int interleaved = 0;
    wimpack_write_options *o = wimpack_write_options_new();
    EXPECT(o != NULL);
    CHECK(wimpack_write_options_set_compression(o, "LZX"));
    CHECK(wimpack_write_options_set_threads(o, 2));

    CHECK(wimpack_create_image(wim, NULL, "first", o, &img));
    wimpack_write_options_free(o); /* copied by create_image */
    m = meta(WIMPACK_ATTR_DIRECTORY, 0);
    CHECK(wimpack_create_file(img, "/", &m, NULL)); /* the root's own metadata */
    CHECK(wimpack_create_file(img, "dir", &m, NULL));
    CHECK(wimpack_create_file(img, "dir/sub", &m, NULL));
    CHECK(wimpack_create_file(img, "todelete", &m, NULL));
    CHECK(wimpack_create_file(img, "todelete/deeper", &m, NULL));
    add_text(img, "todelete/deeper/x.txt", "gone\n");

    /* 2.6 MB in many small writes of varying size, and a second stream open
     * and written in between (interleaved in the staging file). */
    m = meta(0, len);
    CHECK(wimpack_create_file(img, "dir/big.txt", &m, &s));
    m = meta(0, 11);
    CHECK(wimpack_create_file(img, "dir/interleaved.txt", &m, &ads));
    for (i = 0, step = 1; i < len; i += step, step = step % 997 + 1) {
        if (step > len - i) step = len - i;
        CHECK(wimpack_write_stream(s, big + i, step));
        if (i >= 1000 && !interleaved) {
            CHECK(wimpack_write_stream(ads, "interleaved", 11));
            interleaved = 1;
        }
    }
    CHECK(wimpack_close_stream(s));
    CHECK(wimpack_close_stream(ads));

    threaded(img);

    /* A duplicate of big.txt's content (stored once). */
    m = meta(0, len);
    CHECK(wimpack_create_file(img, "dir/sub/copy.txt", &m, &s));
    CHECK(wimpack_write_stream(s, big, len));
    CHECK(wimpack_close_stream(s));

    /* Empty files: without a stream, and with a stream of 0 bytes. */
    m = meta(0, 0);
    CHECK(wimpack_create_file(img, "empty1", &m, NULL));
    CHECK(wimpack_create_file(img, "empty2", &m, &s));
    CHECK(wimpack_close_stream(s));

    /* A named stream. */
    add_text(img, "dir/ads.txt", "main data\n");
    CHECK(wimpack_create_alternate_stream(img, "dir/ads.txt:extra", 14, &ads));
    CHECK(wimpack_write_stream(ads, "stream content", 14));
    CHECK(wimpack_close_stream(ads));

    /* Hard links. */
    CHECK(wimpack_create_hard_link(img, "hardlink.txt", "dir/big.txt"));
    CHECK(wimpack_create_hard_link(img, "dir/sub/hl2.txt", "dir/big.txt"));

    /* Symbolic links: relative, absolute, to a directory. */
    m = meta(0, 0);
    m.symlink_target = "dir/big.txt";
    CHECK(wimpack_create_file(img, "rel_link", &m, NULL));
    m.symlink_target = "/etc/hostname";
    CHECK(wimpack_create_file(img, "abs_link", &m, NULL));
    m = meta(WIMPACK_ATTR_DIRECTORY, 0);
    m.symlink_target = "dir/sub";
    CHECK(wimpack_create_file(img, "dir_link", &m, NULL));

    /* UNIX data: owner and mode of a file, a FIFO. */
    m = meta(0, 6);
    m.has_unix_data = 1;
    m.uid = 1234;
    m.gid = 5678;
    m.mode = 0640;
    CHECK(wimpack_create_file(img, "unix.txt", &m, &s));
    CHECK(wimpack_write_stream(s, "owned\n", 6));
    CHECK(wimpack_close_stream(s));
    m = meta(0, 0);
    m.has_unix_data = 1;
    m.uid = 0;
    m.gid = 0;
    m.mode = S_IFIFO | 0600;
    CHECK(wimpack_create_file(img, "fifo", &m, NULL));

    /* Deletions: a tree, and a file whose stream is still open. */
    add_text(img, "gone.txt", "deleted\n");
    CHECK(wimpack_delete_path(img, "todelete"));
    CHECK(wimpack_delete_path(img, "gone.txt"));
    m = meta(0, 3);
    CHECK(wimpack_create_file(img, "deleted_while_open", &m, &s));
    CHECK(wimpack_delete_path(img, "deleted_while_open"));
    CHECK(wimpack_write_stream(s, "abc", 3));
    CHECK(wimpack_close_stream(s));
    /* The name is free again. */
    add_text(img, "gone.txt", "back again\n");

    CHECK(wimpack_set_commit_progress(img, progress, &done));
    CHECK(wimpack_commit_image(img));
    wimpack_close_image(img);
    EXPECT(done > 0);

    /* Image 2, from image 1: changes on top of its tree, appended in place. */
    CHECK(wimpack_create_image(wim, "first", "second", NULL, &img));
    CHECK(wimpack_delete_path(img, "dir/sub"));
    add_text(img, "dir/new.txt", "new in image 2\n");
    CHECK(wimpack_delete_path(img, "gone.txt"));
    CHECK(wimpack_commit_image(img));
    wimpack_close_image(img);
    free(big);
}

/* ------------------------------------------------------------- reading */

struct listing {
    char names[64][64];
    int count;
};

static int collect(const char *name, const wimpack_file_metadata *m, void *ctx) {
    struct listing *l = ctx;
    (void)m;
    if (l->count < 64) snprintf(l->names[l->count++], 64, "%s", name);
    return 0;
}

static int stop_at_first(const char *name, const wimpack_file_metadata *m, void *ctx) {
    (void)name;
    (void)m;
    ++*(int *)ctx;
    return 42;
}

static void read_back(const char *wim, const char *dir) {
    wimpack_archive *a;
    wimpack_reader *r;
    wimpack_file_metadata m;
    const char *v;
    int n, idx, calls = 0, k, unix_data;
    uint64_t done = 0;
    size_t len, got;
    uint64_t size;
    char *big = seq_text(400000, &len);
    char buf[70000], path[4096];
    struct listing l;
    static const uint64_t offsets[] = {1000000, 0, 2000000, 1, 123457, 2500000};

    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    CHECK(wimpack_image_count(a, &n));
    EXPECT(n == 2);
    CHECK(wimpack_resolve_image(a, "second", &idx));
    EXPECT(idx == 2);
    CHECK(wimpack_get_image_property(a, 1, "NAME", &v));
    EXPECT(strcmp(v, "first") == 0);
    CHECK(wimpack_get_image_property(a, 2, "NAME", &v));
    EXPECT(strcmp(v, "second") == 0);
    CHECK(wimpack_get_image_property(a, 1, "FILECOUNT", &v));
    printf("image 1 FILECOUNT %s\n", v);

    memset(&l, 0, sizeof l);
    CHECK(wimpack_iterate_dir(a, 1, "/", collect, &l));
    for (k = 0; k < l.count; k++) printf("image 1 /%s\n", l.names[k]);
    memset(&l, 0, sizeof l);
    CHECK(wimpack_iterate_dir(a, 2, "dir", collect, &l));
    for (k = 0; k < l.count; k++) printf("image 2 /dir/%s\n", l.names[k]);
    EXPECT(wimpack_iterate_dir(a, 1, "/", stop_at_first, &calls) == 42 && calls == 1);

    CHECK(wimpack_stat(a, 1, "dir/big.txt", &m));
    EXPECT(m.file_size == len && m.creation_time == T1 && m.last_write_time == T1);
    EXPECT(!(m.attributes & WIMPACK_ATTR_DIRECTORY));
    CHECK(wimpack_stat(a, 1, "dir", &m));
    EXPECT(m.attributes & WIMPACK_ATTR_DIRECTORY);
    CHECK(wimpack_stat(a, 1, "rel_link", &m));
    EXPECT(m.symlink_target && strcmp(m.symlink_target, "dir/big.txt") == 0);
    CHECK(wimpack_stat(a, 1, "abs_link", &m));
    EXPECT(m.symlink_target && strcmp(m.symlink_target, "/etc/hostname") == 0);
    CHECK(wimpack_stat(a, 1, "unix.txt", &m));
    EXPECT(m.has_unix_data && m.uid == 1234 && m.gid == 5678 && m.mode == (S_IFREG | 0640));
    CHECK(wimpack_stat(a, 1, "fifo", &m));
    EXPECT(m.has_unix_data && S_ISFIFO(m.mode));
    EXPECT(wimpack_stat(a, 2, "dir/sub", &m) == WIMPACK_ERR_NOT_FOUND);
    EXPECT(wimpack_stat(a, 1, "todelete", &m) == WIMPACK_ERR_NOT_FOUND);

    /* Random access, out of order, in both images (image 2 reuses the blob). */
    CHECK(wimpack_open_reader(a, 2, "hardlink.txt", &r));
    CHECK(wimpack_reader_size(r, &size));
    EXPECT(size == len);
    for (k = 0; k < (int)(sizeof offsets / sizeof offsets[0]); k++) {
        uint64_t off = offsets[k];
        CHECK(wimpack_read(r, off, buf, sizeof buf, &got));
        EXPECT(got == (off + sizeof buf <= len ? sizeof buf : len - off));
        EXPECT(memcmp(buf, big + off, got) == 0);
    }
    CHECK(wimpack_read(r, len - 5, buf, sizeof buf, &got));
    EXPECT(got == 5 && memcmp(buf, big + len - 5, 5) == 0);
    CHECK(wimpack_read(r, len + 100, buf, sizeof buf, &got));
    EXPECT(got == 0);
    wimpack_close_reader(r);

    /* The end of the big compressed stream first (random access through the
     * chunk table), then front to back in pieces (checked against its SHA-1
     * at the end), on a fresh archive handle with a cold cache. */
    {
        wimpack_archive *a2;
        uint64_t off;
        CHECK(wimpack_open_archive(wim, NULL, 0, &a2));
        CHECK(wimpack_open_reader(a2, 1, "dir/sub/copy.txt", &r));
        CHECK(wimpack_read(r, len - 40000, buf, sizeof buf, &got));
        EXPECT(got == 40000 && memcmp(buf, big + len - 40000, got) == 0);
        CHECK(wimpack_read(r, 1234567, buf, 10, &got));
        EXPECT(got == 10 && memcmp(buf, big + 1234567, 10) == 0);
        for (off = 0; off < len; off += got) {
            CHECK(wimpack_read(r, off, buf, 65536 + 17, &got));
            EXPECT(got > 0 && memcmp(buf, big + off, got) == 0);
        }
        EXPECT(off == len);
        wimpack_close_reader(r);
        wimpack_close_archive(a2);
    }

    CHECK(wimpack_open_reader(a, 1, "dir/ads.txt:extra", &r));
    CHECK(wimpack_read(r, 0, buf, sizeof buf, &got));
    EXPECT(got == 14 && memcmp(buf, "stream content", 14) == 0);
    wimpack_close_reader(r);
    CHECK(wimpack_open_reader(a, 1, "empty2", &r));
    CHECK(wimpack_read(r, 0, buf, sizeof buf, &got));
    EXPECT(got == 0);
    /* Closing the archive invalidates its readers. */
    wimpack_close_archive(a);
    EXPECT(wimpack_read(r, 0, buf, sizeof buf, &got) == WIMPACK_ERR_USAGE);
    wimpack_close_reader(r); /* a stale handle: ignored */

    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    snprintf(path, sizeof path, "%s/all", dir);
    calls = 0;
    unix_data = getenv("API_UNIX") && strcmp(getenv("API_UNIX"), "1") == 0;
    CHECK(wimpack_apply(a, 1, NULL, path, unix_data ? WIMPACK_APPLY_UNIX_DATA : 0, progress, &done));
    EXPECT(done >= len);
    snprintf(path, sizeof path, "%s/dir_only", dir);
    CHECK(wimpack_apply(a, 2, "dir", path, 0, NULL, NULL));
    wimpack_close_archive(a);
    free(big);
    puts("read back OK");
}


/* Reads the whole file at `path` with POSIX calls; NULL if it cannot. */
static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, at = 0, n;
    char *p;
    if (!f) return NULL;
    p = malloc(cap);
    while ((n = fread(p + at, 1, cap - at, f)) > 0) {
        at += n;
        if (at == cap) p = realloc(p, cap *= 2);
    }
    fclose(f);
    *len = at;
    return p;
}

static int dir_entries(const char *path) {
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static int is_mounted(const char *dir) {
    char line[8192], real[4096];
    FILE *f = fopen("/proc/mounts", "r");
    int found = 0;
    if (!f || !realpath(dir, real)) {
        if (f) fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        if (sp && strncmp(sp + 1, real, strlen(real)) == 0 && sp[1 + strlen(real)] == ' ') found = 1;
    }
    fclose(f);
    return found;
}

/* Mounts image 1 in this process, reads it with POSIX calls from this same
 * process, checks that a busy mount refuses to go, dismounts; then image 2
 * with the archive handle closed while it is mounted. */
static void mount_test(const char *wim, const char *mnt) {
    wimpack_archive *a;
    wimpack_mount *m, *m2;
    char path[4096], link[256], xv[64];
    size_t len, got;
    char *big = seq_text(400000, &len), *data;
    struct stat st1, st2;
    ssize_t n;
    int fd;

    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    CHECK(wimpack_mount_image(a, 1, mnt, WIMPACK_MOUNT_UNIX_DATA, &m));
    EXPECT(is_mounted(mnt) == 1);
    /* A second mount on the now non-empty directory is refused. */
    EXPECT(wimpack_mount_image(a, 2, mnt, 0, &m2) == WIMPACK_ERR_FAILURE && m2 == NULL);

    snprintf(path, sizeof path, "%s/dir/big.txt", mnt);
    data = slurp(path, &got);
    EXPECT(data && got == len && memcmp(data, big, len) == 0);
    free(data);
    snprintf(path, sizeof path, "%s/dir/t2", mnt);
    data = slurp(path, &got);
    {
        size_t tl;
        char *t = seq_text(100000, &tl);
        EXPECT(data && got == tl && memcmp(data, t, tl) == 0);
        free(t);
    }
    free(data);
    snprintf(path, sizeof path, "%s/dir/interleaved.txt", mnt);
    data = slurp(path, &got);
    EXPECT(data && got == 11 && memcmp(data, "interleaved", 11) == 0);
    free(data);
    snprintf(path, sizeof path, "%s/empty1", mnt);
    EXPECT(stat(path, &st1) == 0 && S_ISREG(st1.st_mode) && st1.st_size == 0);
    snprintf(path, sizeof path, "%s/dir/big.txt", mnt);
    EXPECT(stat(path, &st1) == 0);
    snprintf(path, sizeof path, "%s/hardlink.txt", mnt);
    EXPECT(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino && st2.st_nlink == 3);
    EXPECT(st1.st_mtime == 1555526400);
    snprintf(path, sizeof path, "%s/rel_link", mnt);
    n = readlink(path, link, sizeof link - 1);
    EXPECT(n == 11 && memcmp(link, "dir/big.txt", 11) == 0);
    snprintf(path, sizeof path, "%s/unix.txt", mnt);
    EXPECT(stat(path, &st1) == 0 && st1.st_uid == 1234 && st1.st_gid == 5678 && (st1.st_mode & 07777) == 0640);
    snprintf(path, sizeof path, "%s/fifo", mnt);
    EXPECT(lstat(path, &st1) == 0 && S_ISFIFO(st1.st_mode));
    snprintf(path, sizeof path, "%s/dir/ads.txt", mnt);
    n = getxattr(path, "user.extra", xv, sizeof xv);
    EXPECT(n == 14 && memcmp(xv, "stream content", 14) == 0);
    EXPECT(dir_entries(mnt) == 10);
    snprintf(path, sizeof path, "%s/gone.txt", mnt);
    EXPECT(open(path, O_WRONLY) < 0 && errno == EROFS);

    /* `wimpack unmount` refuses it (it would wait for this process to end). */
    if (getenv("API_WIMPACK")) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "'%s' unmount '%s' 2>/dev/null", getenv("API_WIMPACK"), mnt);
        EXPECT(system(cmd) != 0 && is_mounted(mnt) == 1);
    }

    /* Busy while a file is open in it: an error, and it stays usable. */
    snprintf(path, sizeof path, "%s/dir/big.txt", mnt);
    fd = open(path, O_RDONLY);
    EXPECT(fd >= 0);
    EXPECT(wimpack_dismount_image(m) == WIMPACK_ERR_BUSY);
    printf("busy: %s\n", wimpack_error_message());
    EXPECT(pread(fd, link, 7, 10) == 7 && memcmp(link, big + 10, 7) == 0);
    close(fd);
    CHECK(wimpack_dismount_image(m));
    EXPECT(wimpack_dismount_image(m) == WIMPACK_ERR_USAGE);
    EXPECT(is_mounted(mnt) == 0 && dir_entries(mnt) == 0);

    /* The mount keeps its own archive: closing the handle does not end it. */
    CHECK(wimpack_mount_image(a, 2, mnt, 0, &m2));
    wimpack_close_archive(a);
    snprintf(path, sizeof path, "%s/dir/new.txt", mnt);
    data = slurp(path, &got);
    EXPECT(data && got == 15 && memcmp(data, "new in image 2\n", 15) == 0);
    free(data);
    snprintf(path, sizeof path, "%s/dir/sub", mnt);
    EXPECT(stat(path, &st1) != 0 && errno == ENOENT);
    /* Unmounted by someone else (as root: umount2 here): dismount only
     * cleans up. */
    if (geteuid() == 0) {
        EXPECT(umount2(mnt, 0) == 0);
        EXPECT(is_mounted(mnt) == 0);
    }
    CHECK(wimpack_dismount_image(m2));
    EXPECT(is_mounted(mnt) == 0 && dir_entries(mnt) == 0);
    free(big);
    puts("mount OK");
}

/* WIM is a copy of the built archive whose first chunk of the big stream
 * was overwritten with garbage: a read of the stream's end must not decode
 * that chunk (it succeeds), a read of its start must (an error). */
static void late_read(const char *wim) {
    wimpack_archive *a;
    wimpack_reader *r;
    size_t len, got;
    char *big = seq_text(400000, &len);
    static char buf[40000];
    int rc;
    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    CHECK(wimpack_open_reader(a, 1, "dir/big.txt", &r));
    CHECK(wimpack_read(r, len - sizeof buf, buf, sizeof buf, &got));
    EXPECT(got == sizeof buf && memcmp(buf, big + len - sizeof buf, got) == 0);
    CHECK(wimpack_read(r, 1000000, buf, 100, &got));
    EXPECT(got == 100 && memcmp(buf, big + 1000000, got) == 0);
    rc = wimpack_read(r, 10, buf, 100, &got);
    printf("reading the damaged chunk: %d %s\n", rc, wimpack_error_message());
    EXPECT(rc == WIMPACK_ERR_BAD_ARCHIVE && got == 0);
    wimpack_close_archive(a);
    free(big);
    puts("late read OK");
}

/* WIM (uncompressed) has one byte of the big stream changed: reading it
 * front to back must end with the SHA-1 check failing. */
static void hash_check(const char *wim) {
    wimpack_archive *a;
    wimpack_reader *r;
    size_t len, got = 0;
    uint64_t off;
    char *big = seq_text(400000, &len);
    static char buf[65536 + 3];
    int rc = 0;
    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    CHECK(wimpack_open_reader(a, 1, "dir/big.txt", &r));
    for (off = 0; off < len && rc == 0; off += got) rc = wimpack_read(r, off, buf, sizeof buf, &got);
    printf("front to back: %d %s\n", rc, wimpack_error_message());
    EXPECT(rc == WIMPACK_ERR_BAD_ARCHIVE && got == 0 && off < len && off + sizeof buf >= len); /* the last piece */
    wimpack_close_archive(a);
    free(big);
    puts("hash check OK");
}

/* A REPARSE_DATA_BUFFER: header, then (tags without the Microsoft bit)
 * a GUID, then `data`. Returns its size. */
static size_t reparse_buffer(unsigned char *out, uint32_t tag, const unsigned char *data, size_t len) {
    size_t guid = (tag & 0x80000000u) ? 0 : 16, i;
    out[0] = (unsigned char)tag, out[1] = (unsigned char)(tag >> 8);
    out[2] = (unsigned char)(tag >> 16), out[3] = (unsigned char)(tag >> 24);
    out[4] = (unsigned char)len, out[5] = (unsigned char)(len >> 8);
    out[6] = 0x5a, out[7] = 0; /* Reserved: kept as given */
    for (i = 0; i < guid; i++) out[8 + i] = (unsigned char)(0xa0 + i);
    memcpy(out + 8 + guid, data, len);
    return 8 + guid + len;
}

/* UTF-16LE of an ASCII string at p; returns bytes written. */
static size_t put_u16(unsigned char *p, const char *s) {
    size_t n = 0;
    for (; *s; s++) p[n++] = (unsigned char)*s, p[n++] = 0;
    return n;
}

static void reparse_test(const char *wim) {
    wimpack_image *img;
    wimpack_archive *a;
    wimpack_file_metadata m = meta(WIMPACK_ATTR_DIRECTORY, 0);
    unsigned char junction[128], other[64], data[64], got[128];
    size_t jlen, olen, sub, prn, needed = 1;
    /* wim-format.md §9.2: a mount point's data, substitute then print name. */
    memset(data, 0, sizeof data);
    sub = put_u16(data + 8, "\\??\\C:\\target");
    prn = put_u16(data + 8 + sub + 2, "C:\\target");
    data[0] = 0, data[2] = (unsigned char)sub;
    data[4] = (unsigned char)(sub + 2), data[6] = (unsigned char)prn;
    jlen = reparse_buffer(junction, 0xA0000003u, data, 8 + sub + 2 + prn + 2);
    olen = reparse_buffer(other, 0x00001234u, (const unsigned char *)"opaque", 6);

    CHECK(wimpack_create_image(wim, NULL, "reparse", NULL, &img));
    CHECK(wimpack_create_file(img, "junction", &m, NULL));
    CHECK(wimpack_set_reparse_point(img, "junction", junction, jlen));
    add_text(img, "tagged.txt", "file data\n");
    CHECK(wimpack_set_reparse_point(img, "tagged.txt", other, olen));
    add_text(img, "plain.txt", "plain\n");
    /* misuse: each a code, nothing changed */
    EXPECT(wimpack_set_reparse_point(img, "plain.txt", junction, 7) == WIMPACK_ERR_USAGE);
    EXPECT(wimpack_set_reparse_point(img, "plain.txt", junction, jlen - 1) == WIMPACK_ERR_USAGE);
    EXPECT(wimpack_set_reparse_point(img, "plain.txt", other, olen - 16) == WIMPACK_ERR_USAGE); /* GUID missing */
    EXPECT(wimpack_set_reparse_point(img, "plain.txt", NULL, 8) == WIMPACK_ERR_USAGE);
    EXPECT(wimpack_set_reparse_point(img, "/", junction, jlen) == WIMPACK_ERR_USAGE);
    EXPECT(wimpack_set_reparse_point(img, "nowhere", junction, jlen) == WIMPACK_ERR_NOT_FOUND);
    EXPECT(wimpack_set_reparse_point(img, "junction", junction, jlen) == WIMPACK_ERR_FAILURE);
    EXPECT(strstr(wimpack_error_message(), "already a reparse point") != NULL);
    m = meta(WIMPACK_ATTR_REPARSE_POINT, 0);
    EXPECT(wimpack_create_file(img, "bad", &m, NULL) == WIMPACK_ERR_USAGE);
    m = meta(0, 0);
    m.symlink_target = "plain.txt";
    CHECK(wimpack_create_file(img, "link", &m, NULL));
    CHECK(wimpack_commit_image(img));
    wimpack_close_image(img);

    CHECK(wimpack_open_archive(wim, NULL, 0, &a));
    CHECK(wimpack_stat(a, 1, "junction", &m));
    EXPECT(m.attributes == (WIMPACK_ATTR_DIRECTORY | WIMPACK_ATTR_REPARSE_POINT));
    CHECK(wimpack_get_reparse_point(a, 1, "junction", NULL, 0, &needed));
    EXPECT(needed == jlen);
    EXPECT(wimpack_get_reparse_point(a, 1, "junction", got, jlen - 1, &needed) == WIMPACK_ERR_USAGE);
    CHECK(wimpack_get_reparse_point(a, 1, "junction", got, sizeof got, &needed));
    EXPECT(needed == jlen && memcmp(got, junction, jlen) == 0);
    CHECK(wimpack_get_reparse_point(a, 1, "tagged.txt", got, sizeof got, &needed));
    EXPECT(needed == olen && memcmp(got, other, olen) == 0);
    CHECK(wimpack_stat(a, 1, "tagged.txt", &m));
    EXPECT((m.attributes & WIMPACK_ATTR_REPARSE_POINT) && m.file_size == 10 && !m.symlink_target);
    CHECK(wimpack_get_reparse_point(a, 1, "link", got, sizeof got, &needed));
    EXPECT(needed > 8 && got[0] == 0x0c && got[3] == 0xa0); /* IO_REPARSE_TAG_SYMLINK */
    EXPECT(wimpack_get_reparse_point(a, 1, "plain.txt", got, sizeof got, &needed) == WIMPACK_ERR_NOT_FOUND);
    EXPECT(wimpack_get_reparse_point(a, 1, "junction", got, sizeof got, NULL) == WIMPACK_ERR_USAGE);
    wimpack_close_archive(a);
    puts("reparse OK");
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MiB number i of the big stream: text lines, every fourth MiB random
 * bytes (chunks stored raw). */
static void big_piece(unsigned char *p, size_t n, uint64_t i) {
    size_t at = 0;
    uint64_t x = i * 0x9E3779B97F4A7C15ULL + 1;
    if (i % 4 == 3) {
        for (at = 0; at < n; at++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[at] = (unsigned char)(x >> 24);
        }
        return;
    }
    while (at < n) {
        char line[32];
        int k = sprintf(line, "line %llu\n", (unsigned long long)(i * 100000 + at));
        size_t c = (size_t)k < n - at ? (size_t)k : n - at;
        memcpy(p + at, line, c);
        at += c;
    }
}

static void big_test(const char *wim, uint64_t mib, const char *codec) {
    wimpack_write_options *o = wimpack_write_options_new();
    wimpack_image *img;
    wimpack_stream *s;
    wimpack_file_metadata m = meta(0, mib << 20);
    unsigned char *buf = malloc(1 << 20);
    uint64_t i;
    double t0, t1, t2;
    EXPECT(o && buf);
    if (codec) CHECK(wimpack_write_options_set_compression(o, codec));
    CHECK(wimpack_create_image(wim, NULL, "big", o, &img));
    CHECK(wimpack_create_file(img, "big.bin", &m, &s));
    t0 = seconds();
    for (i = 0; i < mib; i++) {
        big_piece(buf, 1 << 20, i);
        CHECK(wimpack_write_stream(s, buf, 1 << 20));
    }
    CHECK(wimpack_close_stream(s));
    t1 = seconds();
    CHECK(wimpack_commit_image(img));
    t2 = seconds();
    wimpack_close_image(img);
    wimpack_write_options_free(o);
    free(buf);
    printf("big OK: %llu MiB, writes %.2f s, commit %.2f s\n", (unsigned long long)mib, t1 - t0, t2 - t1);
}

static void many_test(const char *wim, long n) {
    wimpack_image *img;
    wimpack_stream *s;
    wimpack_file_metadata m = meta(WIMPACK_ATTR_DIRECTORY, 0);
    char path[64], text[4096];
    long i;
    double t0, t1, t2;
    CHECK(wimpack_create_image(wim, NULL, "many", NULL, &img));
    t0 = seconds();
    for (i = 0; i < n; i++) {
        size_t len = 200 + (size_t)(i * 7919 % 3800), at = 0;
        if (i % 100 == 0) {
            m = meta(WIMPACK_ATTR_DIRECTORY, 0);
            sprintf(path, "d%ld", i / 100);
            CHECK(wimpack_create_file(img, path, &m, NULL));
        }
        while (at < len) {
            int k = sprintf(text + at, "%ld:%lu ", i, (unsigned long)at);
            at += (size_t)k;
        }
        m = meta(0, len);
        sprintf(path, "d%ld/f%ld.txt", i / 100, i);
        CHECK(wimpack_create_file(img, path, &m, &s));
        CHECK(wimpack_write_stream(s, text, len));
        CHECK(wimpack_close_stream(s));
    }
    t1 = seconds();
    CHECK(wimpack_commit_image(img));
    t2 = seconds();
    wimpack_close_image(img);
    printf("many OK: %ld files, writes %.2f s, commit %.2f s\n", n, t1 - t0, t2 - t1);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "build") == 0) {
        build(argv[2]);
        puts("built OK");
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        read_back(argv[2], argv[3]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "hashcheck") == 0) {
        hash_check(argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "late") == 0) {
        late_read(argv[2]);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "mount") == 0) {
        mount_test(argv[2], argv[3]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "reparse") == 0) {
        reparse_test(argv[2]);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "many") == 0) {
        many_test(argv[2], atol(argv[3]));
        return 0;
    }
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "big") == 0) {
        big_test(argv[2], strtoull(argv[3], NULL, 10), argc == 5 ? argv[4] : NULL);
        return 0;
    }
    fprintf(stderr, "usage: %s build WIM | read WIM DIR | mount WIM EMPTYDIR | reparse WIM | many WIM N | big WIM MIB [CODEC]\n",
            argv[0]);
    return 2;
}
