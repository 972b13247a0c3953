/* test_image.c — the image store: blobs, layer unpacking (whiteouts,
 * special files, escapes), compression, import/tag/list/rmi/prune/gc,
 * overlay root filesystems and save/load round trips. Runs as root. */
#include "image.h"

#include <archive.h>
#include <dirent.h>
#include <sys/mman.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cmocka.h>

struct tent {
    const char *name;
    mode_t type; /* AE_IFREG, AE_IFDIR, ... */
    mode_t perm;
    const char *data; /* file content, symlink target or hardlink target */
    bool hardlink;
    unsigned major, minor;
    const char *xattr; /* "name=value" */
};

/* A tar of entries, written with filter (ARCHIVE_FILTER_NONE/GZIP/ZSTD) to a
 * memfd; returns the fd positioned at 0. */
static int make_tar(const struct tent *t, size_t n, int filter)
{
    int fd = memfd_create("layer", MFD_CLOEXEC);
    assert_true(fd >= 0);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter(a, filter);
    assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, t[i].name);
        archive_entry_set_perm(e, t[i].perm ? t[i].perm : 0644);
        archive_entry_set_uid(e, 1000 + i);
        archive_entry_set_gid(e, 2000 + i);
        archive_entry_set_mtime(e, 1000000 + (time_t)i, 0);
        if (t[i].hardlink) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, t[i].data);
        } else {
            archive_entry_set_filetype(e, t[i].type);
            if (t[i].type == AE_IFLNK)
                archive_entry_set_symlink(e, t[i].data);
            if (t[i].type == AE_IFREG && t[i].data)
                archive_entry_set_size(e, (la_int64_t)strlen(t[i].data));
            if (t[i].type == AE_IFCHR || t[i].type == AE_IFBLK) {
                archive_entry_set_rdevmajor(e, t[i].major);
                archive_entry_set_rdevminor(e, t[i].minor);
            }
        }
        if (t[i].xattr) {
            char *copy = strdup(t[i].xattr), *eq = strchr(copy, '=');
            *eq = '\0';
            archive_entry_xattr_add_entry(e, copy, eq + 1, strlen(eq + 1));
            free(copy);
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (!t[i].hardlink && t[i].type == AE_IFREG && t[i].data)
            archive_write_data(a, t[i].data, strlen(t[i].data));
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_image.%d.XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(tmpdir, &err), 0);
    return 0;
}

static char *sub(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void digest_fd(int fd, char out[72])
{
    char buf[65536];
    strbuf sb = STRBUF_INIT;
    lseek(fd, 0, SEEK_SET);
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&sb, buf, (size_t)n);
    image_digest_buf(sb.buf ? sb.buf : "", sb.len, out);
    strbuf_release(&sb);
    lseek(fd, 0, SEEK_SET);
}

/* ---------------------------------------------------------------- tests */

static void test_refs(void **state)
{
    static const char *const cases[][2] = {
        {"busybox", "docker.io/library/busybox:latest"},
        {"busybox:1.36", "docker.io/library/busybox:1.36"},
        {"localhost:5000/a/b:tag", "localhost:5000/a/b:tag"},
        {"user/app", "docker.io/user/app:latest"},
        {"localhost/x", "localhost/x:latest"},
        {"docker.io/busybox", "docker.io/library/busybox:latest"},
        {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
        {"index.docker.io/user/app", "docker.io/user/app:latest"},
        {"127.0.0.1:5000/x:1", "127.0.0.1:5000/x:1"},
        {"[::1]:5000/x", "[::1]:5000/x:latest"},
        {"registry.example.com/deep/er/path:v1.2-rc_3",
         "registry.example.com/deep/er/path:v1.2-rc_3"},
        {"localhost:5000/"
         "x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "localhost:5000/"
         "x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        image_ref r;
        wharf_error err = {0};
        assert_int_equal(image_ref_parse(cases[i][0], &r, &err), 0);
        char *full = image_ref_full(&r);
        assert_string_equal(full, cases[i][1]);
        free(full);
        image_ref_free(&r);
    }
    char *f = image_ref_familiarize("docker.io/library/busybox:latest");
    assert_string_equal(f, "busybox:latest");
    free(f);
    image_ref r;
    wharf_error err = {0};
    const char *d =
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_int_equal(image_ref_parse(d, &r, &err), 0);
    assert_null(r.tag);
    assert_non_null(r.digest);
    image_ref_free(&r);
    assert_int_equal(image_ref_parse("BusyBox", &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "lowercase"));
    assert_int_equal(image_ref_parse("a:b:c", &r, &err), -EINVAL);
    /* every error names the reference */
    static const char *const bad[] = {
        "",
        "x@sha256:abc",
        "x:-tag",
        "x/",
        "/x",
        "a//b",
        "x:"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "x__y_/z",
        "host:port:/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wharf_error_clear(&err);
        assert_int_equal(image_ref_parse(bad[i], &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "invalid reference format"));
        if (*bad[i])
            assert_non_null(strstr(err.msg, bad[i]));
    }
    /* the familiar form drops docker.io and library/ only */
    f = image_ref_familiarize("docker.io/user/app@sha256:"
                              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_string_equal(f, "user/app@sha256:"
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    free(f);
    f = image_ref_familiarize("127.0.0.1:5000/library/x:1");
    assert_string_equal(f, "127.0.0.1:5000/library/x:1");
    free(f);
}

/* FIPS 180-2's known answers: the hash itself, whatever library computes it,
 * also when the store hashes a stream in pieces. */
static void test_digest_known_answers(void **state)
{
    char d[72];
    image_digest_buf("", 0, d);
    assert_string_equal(d,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    image_digest_buf("abc", 3, d);
    assert_string_equal(d,
                        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    image_digest_buf(msg, strlen(msg), d);
    assert_string_equal(d,
                        "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a's, hashed in one call and streamed through the store. */
    const char *million = "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    _cleanup_free_ char *big = xmalloc(1000000);
    memset(big, 'a', 1000000);
    image_digest_buf(big, 1000000, d);
    assert_string_equal(d, million);
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    assert_non_null(st);
    int fd = memfd_create("big", MFD_CLOEXEC);
    assert_int_equal(write(fd, big, 1000000), 1000000);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(image_store_put_blob(st, fd, million, NULL, &err), 0);
    close(fd);
    image_store_close(st);
}

static void test_blobs(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    assert_non_null(st);
    char d[72], want[72];
    image_digest_buf("hello", 5, want);
    int fd = memfd_create("b", MFD_CLOEXEC);
    assert_int_equal(write(fd, "hello", 5), 5);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(image_store_put_blob(st, fd, want, d, &err), 0);
    assert_string_equal(d, want);
    assert_int_equal(image_store_verify_blob(st, d, &err), 0);
    /* a wrong expected digest stores nothing */
    char other[72];
    image_digest_buf("other", 5, other);
    lseek(fd, 0, SEEK_SET);
    assert_int_equal(image_store_put_blob(st, fd, other, NULL, &err), -EILSEQ);
    assert_non_null(strstr(err.msg, "digest mismatch"));
    char *p = image_store_blob_path(st, other, &err);
    assert_null(p);
    close(fd);
    /* corruption on disk is detected */
    p = image_store_blob_path(st, d, &err);
    assert_non_null(p);
    FILE *f = fopen(p, "w");
    fputs("HELLO", f);
    fclose(f);
    free(p);
    assert_int_equal(image_store_verify_blob(st, d, &err), -EILSEQ);
    /* no temporary file left behind */
    _cleanup_free_ char *tmp = xasprintf("%s/tmp", dir);
    int n = 0;
    DIR *dd = opendir(tmp);
    for (struct dirent *de; (de = readdir(dd));)
        n += de->d_name[0] != '.';
    closedir(dd);
    assert_int_equal(n, 0);
    image_store_close(st);
}

static void count_layer(size_t i, const char *digest, bool unpacked, void *ctx)
{
    assert_non_null(digest);
    if (unpacked)
        (*(int *)ctx)++;
    (void)i;
}

/* Stores fd's content as a blob through the piecewise writer, 3 bytes at a
 * time, checked against expected; returns what image_blob_commit returns. */
static int put_in_pieces(image_store *st, int fd, const char *expected, char out[72],
                         wharf_error *err)
{
    image_blob_writer *w = image_store_blob_create(st, err);
    assert_non_null(w);
    lseek(fd, 0, SEEK_SET);
    char buf[3];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        assert_int_equal(image_blob_write(w, buf, (size_t)n, err), 0);
    return image_blob_commit(w, expected, out, err);
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_commit_manifest(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    assert_non_null(st);
    int hold = image_store_hold(st, &err);
    assert_true(hold >= 0);
    /* a gzip layer: the blob digest is of the compressed bytes, the
     * diff_id of the tar inside */
    const struct tent files[] = {{"etc", AE_IFDIR, 0755, NULL}, {"etc/hi", AE_IFREG, 0644, "hi"}};
    int lfd = make_tar(files, 2, ARCHIVE_FILTER_GZIP);
    char layer[72], diff[72];
    assert_int_equal(put_in_pieces(st, lfd, NULL, layer, &err), 0);
    assert_true(image_store_has_blob(st, layer));
    int pfd = make_tar(files, 2, ARCHIVE_FILTER_NONE);
    digest_fd(pfd, diff);
    close(pfd);
    /* the writer refuses content that is not what was announced */
    char bogus[72];
    image_digest_buf("not it", 6, bogus);
    assert_int_equal(put_in_pieces(st, lfd, bogus, NULL, &err), -EILSEQ);
    assert_non_null(strstr(err.msg, bogus));
    assert_false(image_store_has_blob(st, bogus));
    image_blob_abort(image_store_blob_create(st, &err));
    _cleanup_free_ char *tmp = sub("store/tmp");
    assert_int_equal(count_entries(tmp), 0);
    close(lfd);

    /* a config whose diff_id is wrong: the commit fails, nothing tagged */
    _cleanup_free_ char *badcfg =
        xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                  "\"diff_ids\":[\"%s\"]}}",
                  bogus);
    char badc[72], badm[72];
    assert_int_equal(image_store_put_blob_buf(st, badcfg, strlen(badcfg), badc, &err), 0);
    _cleanup_free_ char *badman = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"digest\":\"%s\",\"size\":1}]}",
        badc, strlen(badcfg), layer);
    assert_int_equal(image_store_put_blob_buf(st, badman, strlen(badman), badm, &err), 0);
    const char *tags[] = {"127.0.0.1:5000/x:1"};
    char id[72];
    assert_int_equal(image_store_commit_manifest(st, badm, tags, 1, NULL, NULL, NULL, id, &err),
                     -EILSEQ);
    assert_non_null(strstr(err.msg, "the config says"));
    assert_int_equal(image_store_resolve(st, "127.0.0.1:5000/x:1", id, &err), -ENOENT);

    /* a manifest naming a layer that is not stored */
    _cleanup_free_ char *cfg =
        xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                  "\"diff_ids\":[\"%s\"]}}",
                  diff);
    char c[72], m[72], missing[72];
    assert_int_equal(image_store_put_blob_buf(st, cfg, strlen(cfg), c, &err), 0);
    _cleanup_free_ char *gone =
        xasprintf("{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\",\"size\":1},"
                  "\"layers\":[{\"digest\":\"%s\",\"size\":1}]}",
                  c, bogus);
    assert_int_equal(image_store_put_blob_buf(st, gone, strlen(gone), missing, &err), 0);
    assert_int_equal(image_store_commit_manifest(st, missing, tags, 1, NULL, NULL, NULL, id, &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "is not stored"));

    /* the good one: unpacked, tagged and known by its repository digest */
    _cleanup_free_ char *man = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/"
        "vnd.docker.distribution.manifest.v2+json\","
        "\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"digest\":\"%s\",\"size\":1}]}",
        c, strlen(cfg), layer);
    assert_int_equal(image_store_put_blob_buf(st, man, strlen(man), m, &err), 0);
    char index_digest[72];
    image_digest_buf("an index", 8, index_digest);
    _cleanup_free_ char *rd = xasprintf("127.0.0.1:5000/x@%s", index_digest);
    /* unpacked ahead of the commit (as a pull does, layer by layer as the
     * blobs arrive): the commit finds it done; a wrong diff_id or index is
     * refused */
    bool unpacked = false;
    assert_int_equal(image_store_unpack_layer(st, badm, 0, &unpacked, &err), -EILSEQ);
    assert_false(unpacked);
    assert_int_equal(image_store_unpack_layer(st, m, 1, &unpacked, &err), -EINVAL);
    assert_int_equal(image_store_unpack_layer(st, m, 0, &unpacked, &err), 0);
    assert_true(unpacked);
    assert_int_equal(image_store_unpack_layer(st, m, 0, &unpacked, &err), 0);
    assert_false(unpacked);
    int layers_seen = 0;
    assert_int_equal(
        image_store_commit_manifest(st, m, tags, 1, rd, count_layer, &layers_seen, id, &err), 0);
    assert_int_equal(layers_seen, 0);
    assert_string_equal(id, c);
    char got[72];
    assert_int_equal(image_store_resolve(st, "127.0.0.1:5000/x:1", got, &err), 0);
    assert_string_equal(got, c);
    assert_int_equal(image_store_resolve(st, rd, got, &err), 0);
    assert_string_equal(got, c);
    /* by the manifest's own digest too */
    _cleanup_free_ char *bym = xasprintf("127.0.0.1:5000/x@%s", m);
    assert_int_equal(image_store_resolve(st, bym, got, &err), 0);
    json_t *j = image_store_inspect(st, "127.0.0.1:5000/x:1", &err);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "RepoDigests")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "RepoDigests"), 0)),
                        rd);
    json_decref(j);
    _cleanup_free_ char *hi = xasprintf("%s/store/snapshots", tmpdir);
    assert_int_equal(count_entries(hi), 1);

    /* pushed elsewhere: a second repository digest; the same repository
     * replaces its old one; committing again keeps them */
    _cleanup_free_ char *rd2 = xasprintf("127.0.0.1:5000/y@%s", m);
    assert_int_equal(image_store_add_repo_digest(st, "127.0.0.1:5000/x:1", rd2, &err), 0);
    _cleanup_free_ char *rd3 = xasprintf("127.0.0.1:5000/y@%s", index_digest);
    assert_int_equal(image_store_add_repo_digest(st, "127.0.0.1:5000/x:1", rd3, &err), 0);
    layers_seen = 0;
    assert_int_equal(
        image_store_commit_manifest(st, m, NULL, 0, NULL, count_layer, &layers_seen, id, &err), 0);
    assert_int_equal(layers_seen, 0); /* the snapshot existed */
    json_t *rds = image_store_repo_digests(st, id, &err);
    assert_int_equal(json_array_size(rds), 2);
    assert_string_equal(json_string_value(json_array_get(rds, 0)), rd);
    assert_string_equal(json_string_value(json_array_get(rds, 1)), rd3);
    json_decref(rds);
    json_t *mj = image_store_manifest(st, "127.0.0.1:5000/x:1", got, &err);
    assert_non_null(mj);
    assert_string_equal(got, m);
    json_decref(mj);
    assert_int_equal(
        image_store_add_repo_digest(st, "127.0.0.1:5000/x:1", "127.0.0.1:5000/y:1", &err), -EINVAL);
    close(hold);
    image_store_close(st);
}

static void test_unpack(void **state)
{
    static const struct tent t[] = {
        {"./", AE_IFDIR, 0755},
        {"./etc/", AE_IFDIR, 0750},
        {"./etc/passwd", AE_IFREG, 0644, "root:x:0:0\n"},
        {"./etc/hard", 0, 0, "etc/passwd", true},
        {"./bin/su", AE_IFREG, 04755, "#!/bin/sh\n"},
        {"./bin/sh", AE_IFLNK, 0777, "busybox"},
        {"./dev/null", AE_IFCHR, 0666, NULL, false, 1, 3},
        {"./dev/loop0", AE_IFBLK, 0660, NULL, false, 7, 0},
        {"./run/fifo", AE_IFIFO, 0600},
        {"./x/attr", AE_IFREG, 0644, "x", false, 0, 0, "user.test=value"},
        {"./gone/.wh.victim", AE_IFREG, 0644, ""},
        {"./opq/.wh..wh..opq", AE_IFREG, 0644, ""},
        {"./opq/kept", AE_IFREG, 0644, "k"},
    };
    int fd = make_tar(t, sizeof(t) / sizeof(t[0]), ARCHIVE_FILTER_NONE);
    char expect[72], diff[72];
    digest_fd(fd, expect);
    _cleanup_free_ char *dest = sub("unpack");
    assert_int_equal(mkdir(dest, 0755), 0);
    wharf_error err = {0};
    uint64_t size = 0;
    int r = image_unpack_layer(fd, dest, "sha256:test", diff, &size, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    close(fd);
    assert_string_equal(diff, expect);
    assert_int_equal(size, strlen("root:x:0:0\n") + strlen("#!/bin/sh\n") + 2);
    struct stat s1, s2;
    _cleanup_free_ char *p1 = xasprintf("%s/etc/passwd", dest),
                        *p2 = xasprintf("%s/etc/hard", dest);
    assert_int_equal(stat(p1, &s1), 0);
    assert_int_equal(stat(p2, &s2), 0);
    assert_int_equal(s1.st_ino, s2.st_ino);
    assert_int_equal(s1.st_uid, 1002);
    assert_int_equal(s1.st_gid, 2002);
    assert_int_equal(s1.st_mtime, 1000002);
    _cleanup_free_ char *pe = xasprintf("%s/etc", dest);
    assert_int_equal(stat(pe, &s1), 0);
    assert_int_equal(s1.st_mode & 07777, 0750);
    assert_int_equal(s1.st_mtime, 1000001); /* set after its children */
    _cleanup_free_ char *su = xasprintf("%s/bin/su", dest);
    assert_int_equal(stat(su, &s1), 0);
    assert_int_equal(s1.st_mode & 07777, 04755);
    _cleanup_free_ char *sh = xasprintf("%s/bin/sh", dest);
    char target[64] = "";
    assert_int_equal(readlink(sh, target, sizeof(target)), 7);
    _cleanup_free_ char *dn = xasprintf("%s/dev/null", dest);
    assert_int_equal(lstat(dn, &s1), 0);
    assert_true(S_ISCHR(s1.st_mode));
    assert_int_equal(s1.st_rdev, makedev(1, 3));
    _cleanup_free_ char *dl = xasprintf("%s/dev/loop0", dest);
    assert_int_equal(lstat(dl, &s1), 0);
    assert_true(S_ISBLK(s1.st_mode));
    _cleanup_free_ char *ff = xasprintf("%s/run/fifo", dest);
    assert_int_equal(lstat(ff, &s1), 0);
    assert_true(S_ISFIFO(s1.st_mode));
    _cleanup_free_ char *xa = xasprintf("%s/x/attr", dest);
    char val[16] = "";
    assert_int_equal(getxattr(xa, "user.test", val, sizeof(val)), 5);
    assert_string_equal(val, "value");
    _cleanup_free_ char *wh = xasprintf("%s/gone/victim", dest);
    assert_int_equal(lstat(wh, &s1), 0);
    assert_true(S_ISCHR(s1.st_mode));
    assert_int_equal(s1.st_rdev, makedev(0, 0));
    _cleanup_free_ char *whm = xasprintf("%s/gone/.wh.victim", dest);
    assert_int_equal(lstat(whm, &s1), -1);
    _cleanup_free_ char *op = xasprintf("%s/opq", dest);
    memset(val, 0, sizeof(val));
    assert_int_equal(getxattr(op, "trusted.overlay.opaque", val, sizeof(val)), 1);
    assert_string_equal(val, "y");
}

static void expect_refused(const struct tent *t, size_t n, const char *entry, const char *why)
{
    int fd = make_tar(t, n, ARCHIVE_FILTER_NONE);
    _cleanup_free_ char *dest = sub("escape");
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(dest, &err), 0);
    assert_int_equal(mkdir(dest, 0755), 0);
    assert_int_equal(image_unpack_layer(fd, dest, "sha256:evil", NULL, NULL, &err), -EPERM);
    close(fd);
    assert_non_null(strstr(err.msg, "sha256:evil"));
    assert_non_null(strstr(err.msg, entry));
    assert_non_null(strstr(err.msg, why));
    _cleanup_free_ char *outside = xasprintf("%s/pwned", tmpdir);
    assert_int_equal(access(outside, F_OK), -1);
}

static void test_unpack_escapes(void **state)
{
    const struct tent dotdot[] = {{"../pwned", AE_IFREG, 0644, "x"}};
    expect_refused(dotdot, 1, "../pwned", "..");
    const struct tent deep[] = {{"a/../../pwned", AE_IFREG, 0644, "x"}};
    expect_refused(deep, 1, "a/../../pwned", "..");
    _cleanup_free_ char *abs = xasprintf("%s/pwned", tmpdir);
    const struct tent absolute[] = {{abs, AE_IFREG, 0644, "x"}};
    expect_refused(absolute, 1, abs, "absolute");
    const struct tent viasym[] = {{"link", AE_IFLNK, 0777, ".."},
                                  {"link/pwned", AE_IFREG, 0644, "x"}};
    expect_refused(viasym, 2, "link/pwned", "symlink");
    _cleanup_free_ char *abslink = xstrdup(tmpdir);
    const struct tent viasym2[] = {{"l2", AE_IFLNK, 0777, abslink},
                                   {"l2/pwned", AE_IFREG, 0644, "x"}};
    expect_refused(viasym2, 2, "l2/pwned", "symlink");
    const struct tent hl[] = {{"h", 0, 0, "../../etc/passwd", true}};
    expect_refused(hl, 1, "../../etc/passwd", "..");
}

static void test_compressed(void **state)
{
    static const struct tent t[] = {{"f", AE_IFREG, 0644, "compressed content"}};
    int plain = make_tar(t, 1, ARCHIVE_FILTER_NONE);
    char want[72];
    digest_fd(plain, want);
    close(plain);
    int filters[] = {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD};
    for (int i = 0; i < 2; i++) {
        int fd = make_tar(t, 1, filters[i]);
        unsigned char head[4];
        assert_int_equal(pread(fd, head, 4, 0), 4);
        assert_true(head[0] == 0x1f || head[0] == 0x28);
        _cleanup_free_ char *dest = xasprintf("%s/comp%d", tmpdir, i);
        assert_int_equal(mkdir(dest, 0755), 0);
        wharf_error err = {0};
        char diff[72];
        if (image_unpack_layer(fd, dest, "sha256:c", diff, NULL, &err) < 0)
            fail_msg("%s", err.msg);
        close(fd);
        assert_string_equal(diff, want);
        _cleanup_free_ char *f = xasprintf("%s/f", dest);
        char *content = NULL;
        assert_int_equal(wharf_read_file(f, &content, NULL, &err), 0);
        assert_string_equal(content, "compressed content");
        free(content);
    }
}

static int busybox_like_tar(void)
{
    static const struct tent t[] = {
        {"bin/", AE_IFDIR, 0755},
        {"bin/tool", AE_IFREG, 0755, "#!/bin/sh\necho hi\n"},
        {"etc/", AE_IFDIR, 0755},
        {"etc/hostname", AE_IFREG, 0644, "box\n"},
    };
    return make_tar(t, 4, ARCHIVE_FILTER_GZIP);
}

static bool in_use_none(const char *id, void *ctx)
{
    return false;
}

static bool in_use_match(const char *id, void *ctx)
{
    return strcmp(id, ctx) == 0;
}

static void test_import_lifecycle(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("life");
    image_store *st = image_store_open(dir, &err);
    assert_non_null(st);
    int fd = busybox_like_tar();
    const char *changes[] = {"CMD [\"/bin/tool\"]", "ENV A=1 B=\"two words\"", "EXPOSE 80",
                             "WORKDIR /etc", "LABEL k=v"};
    char id[72];
    if (image_store_import(st, fd, "app:1", changes, 5, "msg", id, &err) < 0)
        fail_msg("%s", err.msg);
    close(fd);
    json_t *j = image_store_inspect(st, "app:1", &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "Id")), id);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "RepoTags"), 0)),
                        "app:1");
    json_t *c = json_object_get(j, "Config");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Cmd"), 0)),
                        "/bin/tool");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Env"), 1)),
                        "B=two words");
    assert_non_null(json_object_get(json_object_get(c, "ExposedPorts"), "80/tcp"));
    assert_string_equal(json_string_value(json_object_get(c, "WorkingDir")), "/etc");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c, "Labels"), "k")), "v");
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "RootFS"), "Layers")), 1);
    assert_true(json_integer_value(json_object_get(j, "Size")) > 0);
    json_decref(j);
    /* resolvable by ID, short ID and full name */
    char got[72];
    assert_int_equal(image_store_resolve(st, id + 7, got, &err), 0);
    _cleanup_free_ char *shortid = xasprintf("%.12s", id + 7);
    assert_int_equal(image_store_resolve(st, shortid, got, &err), 0);
    assert_int_equal(image_store_resolve(st, "docker.io/library/app:1", got, &err), 0);
    assert_string_equal(got, id);
    assert_int_equal(image_store_resolve(st, "app:2", got, &err), -ENOENT);
    j = image_store_history(st, "app:1", &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "Comment")), "msg");
    json_decref(j);

    assert_int_equal(image_store_tag(st, "app:1", "localhost:5000/team/app:v2", &err), 0);
    j = image_store_list(st, &err);
    assert_int_equal(json_array_size(j), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(j, 0), "RepoTags")), 2);
    json_decref(j);
    /* by ID with two tags needs force; in use never goes by ID */
    assert_int_equal(image_store_remove(st, id, false, NULL, NULL, NULL, &err), -EEXIST);
    assert_int_equal(image_store_remove(st, id, true, in_use_match, id, NULL, &err), -EBUSY);
    /* untag one: the image stays */
    json_t *rep = NULL;
    assert_int_equal(image_store_remove(st, "app:1", false, in_use_none, NULL, &rep, &err), 0);
    assert_int_equal(json_array_size(rep), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "Untagged")),
                        "app:1");
    json_decref(rep);
    assert_int_equal(image_store_resolve(st, id, got, &err), 0);

    /* a second import with the same tag leaves the first dangling */
    assert_int_equal(image_store_tag(st, id, "app:1", &err), 0);
    fd = busybox_like_tar();
    char id2[72];
    const char *ch2[] = {"CMD sh"};
    assert_int_equal(image_store_import(st, fd, "app:1", ch2, 1, NULL, id2, &err), 0);
    close(fd);
    assert_string_not_equal(id, id2);
    /* both images are the same layer: all of it is shared, stored once */
    uint64_t layers = 0;
    j = image_store_disk_usage(st, &layers, &err);
    assert_int_equal(json_array_size(j), 2);
    json_int_t size = json_integer_value(json_object_get(json_array_get(j, 0), "Size"));
    assert_true(size > 0);
    assert_int_equal(layers, (uint64_t)size);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "SharedSize")), size);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "SharedSize")), size);
    json_decref(j);
    j = image_store_list(st, &err);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "SharedSize")), -1);
    json_decref(j);
    /* the last tag of an image in use: refused unless forced, and then the
     * image stays (dangling) */
    assert_int_equal(
        image_store_remove(st, "localhost:5000/team/app:v2", false, in_use_match, id, NULL, &err),
        -EBUSY);
    assert_int_equal(
        image_store_remove(st, "localhost:5000/team/app:v2", true, in_use_match, id, NULL, &err),
        0);
    assert_int_equal(image_store_resolve(st, id, got, &err), 0);
    /* now id is dangling: prune removes it, but not while in use */
    assert_int_equal(image_store_prune(st, false, in_use_match, id, &rep, &err), 0);
    assert_true(json_is_null(json_object_get(rep, "ImagesDeleted")));
    json_decref(rep);
    assert_int_equal(image_store_prune(st, false, NULL, NULL, &rep, &err), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "ImagesDeleted")), 1);
    json_decref(rep);
    assert_int_equal(image_store_resolve(st, id, got, &err), -ENOENT);
    assert_int_equal(image_store_resolve(st, "app:1", got, &err), 0);
    assert_string_equal(got, id2);

    /* gc: removing the last image leaves no blobs or snapshots */
    _cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", dir);
    _cleanup_free_ char *snaps = xasprintf("%s/snapshots", dir);
    assert_int_equal(count_entries(blobs), 3); /* layer, config, manifest */
    assert_int_equal(count_entries(snaps), 1);
    /* garbage a crashed load might leave */
    _cleanup_free_ char *junk = xasprintf("%s/blobs/sha256/%064d", dir, 0);
    assert_int_equal(wharf_write_file_atomic(junk, "x", 1, 0600, &err), 0);
    uint64_t reclaimed = 0;
    assert_int_equal(image_store_gc(st, &reclaimed, &err), 0);
    assert_int_equal(reclaimed, 1);
    assert_int_equal(count_entries(blobs), 3);
    assert_int_equal(image_store_remove(st, "app:1", false, NULL, NULL, &rep, &err), 0);
    assert_int_equal(json_array_size(rep), 2); /* Untagged + Deleted */
    json_decref(rep);
    assert_int_equal(count_entries(blobs), 0);
    assert_int_equal(count_entries(snaps), 0);
    j = image_store_list(st, &err);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    j = image_store_disk_usage(st, &layers, &err);
    assert_int_equal(json_array_size(j), 0);
    assert_int_equal(layers, 0);
    json_decref(j);
    image_store_close(st);
}

/* A docker-archive with two layers: the second deletes etc/hostname. */
static int two_layer_archive(void)
{
    static const struct tent l1[] = {{"etc/", AE_IFDIR, 0755},
                                     {"etc/hostname", AE_IFREG, 0644, "box\n"},
                                     {"etc/keep", AE_IFREG, 0644, "keep\n"}};
    static const struct tent l2[] = {{"etc/.wh.hostname", AE_IFREG, 0644, ""},
                                     {"etc/new", AE_IFREG, 0644, "new\n"}};
    int f1 = make_tar(l1, 3, ARCHIVE_FILTER_NONE), f2 = make_tar(l2, 2, ARCHIVE_FILTER_NONE);
    char d1[72], d2[72];
    digest_fd(f1, d1);
    digest_fd(f2, d2);
    _cleanup_free_ char *config = xasprintf(
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\","
        "\"config\":{\"Cmd\":[\"sh\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]"
        "},"
        "\"history\":[{\"created_by\":\"one\"},{\"created_by\":\"two\"}]}",
        d1, d2);
    char cd[72];
    image_digest_buf(config, strlen(config), cd);
    _cleanup_free_ char *manifest = xasprintf(
        "[{\"Config\":\"%s.json\",\"RepoTags\":[\"two:layers\"],\"Layers\":[\"l1/layer.tar\","
        "\"l2/layer.tar\"]}]",
        cd + 7);
    int fd = memfd_create("archive", MFD_CLOEXEC);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
    struct {
        const char *name;
        int fd;
        const char *data;
    } files[] = {{"l1/layer.tar", f1, NULL},
                 {"l2/layer.tar", f2, NULL},
                 {NULL, -1, config},
                 {"manifest.json", -1, manifest}};
    _cleanup_free_ char *cname = xasprintf("%s.json", cd + 7);
    files[2].name = cname;
    for (int i = 0; i < 4; i++) {
        strbuf sb = STRBUF_INIT;
        if (files[i].fd >= 0) {
            char buf[8192];
            ssize_t n;
            lseek(files[i].fd, 0, SEEK_SET);
            while ((n = read(files[i].fd, buf, sizeof(buf))) > 0)
                strbuf_add(&sb, buf, (size_t)n);
            close(files[i].fd);
        } else {
            strbuf_addstr(&sb, files[i].data);
        }
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, files[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)sb.len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        archive_write_data(a, sb.buf, sb.len);
        archive_entry_free(e);
        strbuf_release(&sb);
    }
    archive_write_close(a);
    archive_write_free(a);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_overlay_mount(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("ovl");
    image_store *st = image_store_open(dir, &err);
    int fd = two_layer_archive();
    json_t *loaded = NULL;
    if (image_store_load(st, fd, &loaded, &err) < 0)
        fail_msg("%s", err.msg);
    close(fd);
    assert_string_equal(json_string_value(json_array_get(loaded, 0)), "two:layers");
    json_decref(loaded);
    json_t *h = image_store_history(st, "two:layers", &err);
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "CreatedBy")),
                        "two");
    json_decref(h);
    _cleanup_free_ char *upper = sub("upper"), *work = sub("work"), *target = sub("merged");
    assert_int_equal(mkdir(upper, 0755), 0);
    assert_int_equal(mkdir(work, 0755), 0);
    assert_int_equal(mkdir(target, 0755), 0);
    if (image_store_mount_rootfs(st, "two:layers", upper, work, target, &err) < 0)
        fail_msg("%s", err.msg);
    _cleanup_free_ char *gone = xasprintf("%s/etc/hostname", target);
    _cleanup_free_ char *keep = xasprintf("%s/etc/keep", target);
    _cleanup_free_ char *newf = xasprintf("%s/etc/new", target);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(access(keep, F_OK), 0);
    assert_int_equal(access(newf, F_OK), 0);
    /* writes land in the caller's upper dir, not in the snapshots */
    _cleanup_free_ char *w = xasprintf("%s/written", target);
    assert_int_equal(wharf_write_file_atomic(w, "x", 1, 0644, &err), 0);
    _cleanup_free_ char *wu = xasprintf("%s/written", upper);
    assert_int_equal(access(wu, F_OK), 0);
    assert_int_equal(image_store_unmount_rootfs(target, &err), 0);
    assert_int_equal(access(keep, F_OK), -1);
    image_store_close(st);
}

static void test_save_load_roundtrip(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("src");
    image_store *st = image_store_open(dir, &err);
    int fd = two_layer_archive();
    assert_int_equal(image_store_load(st, fd, NULL, &err), 0);
    close(fd);
    char id[72];
    assert_int_equal(image_store_resolve(st, "two:layers", id, &err), 0);
    enum image_archive_format fmts[] = {IMAGE_FORMAT_DOCKER_ARCHIVE, IMAGE_FORMAT_OCI_ARCHIVE};
    for (int i = 0; i < 2; i++) {
        int out = memfd_create("saved", MFD_CLOEXEC);
        const char *refs[] = {"two:layers"};
        if (image_store_save(st, refs, 1, fmts[i], out, &err) < 0)
            fail_msg("%s", err.msg);
        lseek(out, 0, SEEK_SET);
        _cleanup_free_ char *dir2 = xasprintf("%s/dst%d", tmpdir, i);
        image_store *st2 = image_store_open(dir2, &err);
        json_t *loaded = NULL;
        if (image_store_load(st2, out, &loaded, &err) < 0)
            fail_msg("%s", err.msg);
        close(out);
        assert_string_equal(json_string_value(json_array_get(loaded, 0)), "two:layers");
        json_decref(loaded);
        json_t *j = image_store_inspect(st2, "two:layers", &err);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "Id")), id);
        json_decref(j);
        image_store_close(st2);
    }
    /* a truncated archive loads nothing */
    int out = memfd_create("saved", MFD_CLOEXEC);
    const char *refs[] = {"two:layers"};
    assert_int_equal(image_store_save(st, refs, 1, IMAGE_FORMAT_DOCKER_ARCHIVE, out, &err), 0);
    assert_int_equal(ftruncate(out, 3000), 0);
    lseek(out, 0, SEEK_SET);
    _cleanup_free_ char *dir3 = sub("dst-bad");
    image_store *st3 = image_store_open(dir3, &err);
    assert_true(image_store_load(st3, out, NULL, &err) < 0);
    close(out);
    json_t *j = image_store_list(st3, &err);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    _cleanup_free_ char *tmp3 = xasprintf("%s/tmp", dir3);
    assert_int_equal(count_entries(tmp3), 0);
    image_store_close(st3);
    image_store_close(st);
}

static void test_export(void **state)
{
    _cleanup_free_ char *dir = sub("exp");
    wharf_error err = {0};
    assert_int_equal(wharf_mkdir_p(dir, 0755, &err), 0);
    _cleanup_free_ char *f = xasprintf("%s/file", dir), *l = xasprintf("%s/hl", dir);
    assert_int_equal(wharf_write_file_atomic(f, "data", 4, 0644, &err), 0);
    assert_int_equal(link(f, l), 0);
    int fd = memfd_create("exp", MFD_CLOEXEC);
    assert_int_equal(image_export_dir(dir, fd, &err), 0);
    lseek(fd, 0, SEEK_SET);
    _cleanup_free_ char *dest = sub("exp-out");
    assert_int_equal(mkdir(dest, 0755), 0);
    assert_int_equal(image_unpack_layer(fd, dest, "export", NULL, NULL, &err), 0);
    close(fd);
    _cleanup_free_ char *g = xasprintf("%s/file", dest), *gl = xasprintf("%s/hl", dest);
    struct stat a, b;
    assert_int_equal(stat(g, &a), 0);
    assert_int_equal(stat(gl, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_size, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refs),
        cmocka_unit_test_setup_teardown(test_digest_known_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
