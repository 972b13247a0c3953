/* Unit tests of rootcopy: dockerd's path resolution and stat (trailing "/"
 * and "/.", symlinks resolved inside the root), the stat header, tar
 * streams of files and trees (names, order, links, rebasing), extraction
 * (ownership, modes, times, replacement rules, noOverwriteDirNonDir,
 * compressed input) and the escapes it refuses or keeps inside the root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "rootcopy.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char top[256]; /* the test's scratch directory */

static char *at(const char *rel)
{
    return xasprintf("%s/%s", top, rel);
}

static void put(const char *rel, const char *text, mode_t mode)
{
    _cleanup_free_ char *p = at(rel);
    wharf_error err = {0};
    assert_int_equal(wharf_write_file_atomic(p, text, strlen(text), mode, &err), 0);
    assert_int_equal(chmod(p, mode), 0);
}

static void mkd(const char *rel, mode_t mode)
{
    _cleanup_free_ char *p = at(rel);
    assert_int_equal(mkdir(p, mode), 0);
    assert_int_equal(chmod(p, mode), 0);
}

static void lnk(const char *target, const char *rel)
{
    _cleanup_free_ char *p = at(rel);
    assert_int_equal(symlink(target, p), 0);
}

static char *slurp(const char *rel)
{
    _cleanup_free_ char *p = at(rel);
    char *s = NULL;
    wharf_error err = {0};
    if (wharf_read_file(p, &s, NULL, &err) < 0)
        return NULL;
    return s;
}

static int open_dir(const char *rel)
{
    _cleanup_free_ char *p = at(rel);
    int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static int setup(void **state)
{
    (void)state;
    snprintf(top, sizeof(top), "/tmp/wharf-test-rootcopy.XXXXXX");
    assert_non_null(mkdtemp(top));
    /* root a: the tree to copy from */
    mkd("a", 0755);
    mkd("a/d", 0750);
    put("a/d/f", "file content\n", 0640);
    mkd("a/d/sub", 0700);
    put("a/d/sub/g", "g\n", 0600);
    lnk("/d/f", "a/d/link");
    lnk("../../../../../etc", "a/d/up");
    mkd("a/etc", 0755);
    put("a/etc/hosts", "hosts\n", 0644);
    _cleanup_free_ char *f = at("a/d/f"), *hard = at("a/d/hard");
    assert_int_equal(link(f, hard), 0);
    _cleanup_free_ char *fifo = at("a/d/pipe");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    struct timespec old[2] = {{1000000000, 500}, {1000000000, 500}};
    _cleanup_free_ char *sub = at("a/d/sub");
    assert_int_equal(utimensat(AT_FDCWD, sub, old, 0), 0);
    /* root b: where things are extracted */
    mkd("b", 0755);
    mkd("host", 0755);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wharf_error err = {0};
    wharf_rm_rf(top, &err);
    return 0;
}

/* ---------------------------------------------------------------- stat */

static void test_stat(void **state)
{
    (void)state;
    _cleanup_close_ int root = open_dir("a");
    struct rootcopy_stat st;
    wharf_error err = {0};
    assert_int_equal(rootcopy_stat_path(root, "/d/f", &st, &err), 0);
    assert_string_equal(st.name, "f");
    assert_int_equal(st.size, 13);
    assert_true(S_ISREG(st.mode));
    assert_int_equal(rootcopy_go_mode(st.mode), 0640);
    assert_null(st.link_target);
    rootcopy_stat_release(&st);
    /* relative paths are taken from the root; "/" and "/." name the directory */
    assert_int_equal(rootcopy_stat_path(root, "d/", &st, &err), 0);
    assert_string_equal(st.name, "d");
    assert_int_equal(rootcopy_go_mode(st.mode), (1u << 31) | 0750);
    rootcopy_stat_release(&st);
    assert_int_equal(rootcopy_stat_path(root, "/d/.", &st, &err), 0);
    assert_string_equal(st.name, ".");
    assert_true(S_ISDIR(st.mode));
    rootcopy_stat_release(&st);
    assert_int_equal(rootcopy_stat_path(root, "/", &st, &err), 0);
    assert_string_equal(st.name, "/");
    rootcopy_stat_release(&st);
    /* the last element is not followed; its target is resolved in the root */
    assert_int_equal(rootcopy_stat_path(root, "/d/link", &st, &err), 0);
    assert_true(S_ISLNK(st.mode));
    assert_int_equal(rootcopy_go_mode(st.mode), (1u << 27) | 0777);
    assert_string_equal(st.link_target, "/d/f");
    rootcopy_stat_release(&st);
    assert_int_equal(rootcopy_stat_path(root, "/d/up", &st, &err), 0);
    assert_string_equal(st.link_target, "/etc"); /* ".." stops at the root */
    rootcopy_stat_release(&st);
    /* symlinks before the last element are followed inside the root (the
     * path is cleaned first: ".." is lexical, as in dockerd) */
    assert_int_equal(rootcopy_stat_path(root, "/d/up/hosts", &st, &err), 0);
    assert_string_equal(st.name, "hosts");
    assert_int_equal(st.size, 6);
    rootcopy_stat_release(&st);
    assert_int_equal(rootcopy_stat_path(root, "/d/nope", &st, &err), -ENOENT);
    assert_int_equal(rootcopy_stat_path(root, "/nope/x", &st, &err), -ENOENT);
    assert_int_equal(rootcopy_stat_path(root, "/d/f/", &st, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "/d/f/"));

    /* the header round trip, and Go's time and mode shapes */
    assert_int_equal(rootcopy_stat_path(root, "/d/sub", &st, &err), 0);
    _cleanup_free_ char *h = rootcopy_stat_header(&st);
    struct rootcopy_stat back;
    assert_int_equal(rootcopy_stat_from_header(h, &back, &err), 0);
    assert_string_equal(back.name, "sub");
    assert_true(S_ISDIR(back.mode));
    assert_int_equal(back.mode & 07777, 0700);
    rootcopy_stat_release(&back);
    rootcopy_stat_release(&st);
    assert_int_equal(rootcopy_stat_from_header("not base64!", &back, &err), -EINVAL);
    for (mode_t m = 0; m < 7; m++) {
        static const mode_t types[] = {S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR,
                                       S_IFBLK, S_IFIFO, S_IFSOCK};
        mode_t mode = types[m] | S_ISUID | S_ISVTX | 0751;
        assert_int_equal(rootcopy_unix_mode(rootcopy_go_mode(mode)), mode);
    }

    _cleanup_free_ char *r1 = rootcopy_resolve(root, "/d/link");
    assert_string_equal(r1, "/d/f");
    _cleanup_free_ char *r2 = rootcopy_resolve(root, "/d/up/x/../y");
    assert_string_equal(r2, "/etc/y");
    lnk("loop2", "a/loop1");
    lnk("loop1", "a/loop2");
    assert_null(rootcopy_resolve(root, "/loop1"));
}

/* ---------------------------------------------------------------- tar */

/* The entry names of a tar file, one per line. */
static char *names_of(const char *file)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, file, 10240), ARCHIVE_OK);
    strbuf out = STRBUF_INIT;
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        strbuf_addstr(&out, archive_entry_pathname(e));
        if (archive_entry_hardlink(e))
            strbuf_addf(&out, " => %s", archive_entry_hardlink(e));
        strbuf_addch(&out, '\n');
    }
    archive_read_free(a);
    return strbuf_detach(&out);
}

static char *tar_to_file(int root, const char *path, const char *name, const char *file, int want)
{
    _cleanup_free_ char *p = at(file);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    wharf_error err = {0};
    int64_t bytes = -1;
    int r = rootcopy_tar(root, path, name, fd, &bytes, &err);
    close(fd);
    if (r != want)
        fail_msg("tar %s: %d (%s), want %d", path, r, err.msg, want);
    if (r == 0) {
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(bytes, st.st_size);
    }
    return r == 0 ? names_of(p) : NULL;
}

static void test_tar(void **state)
{
    (void)state;
    _cleanup_close_ int root = open_dir("a");
    _cleanup_free_ char *d = tar_to_file(root, "/d", NULL, "d.tar", 0);
    assert_string_equal(d, "d/\nd/f\nd/hard => d/f\nd/link\nd/pipe\nd/sub/\nd/sub/g\nd/up\n");
    _cleanup_free_ char *slash = tar_to_file(root, "/d/", NULL, "d2.tar", 0);
    assert_string_equal(slash, d);
    _cleanup_free_ char *dot = tar_to_file(root, "/d/.", NULL, "dot.tar", 0);
    assert_string_equal(dot, "./\n./f\n./hard => ./f\n./link\n./pipe\n./sub/\n./sub/g\n./up\n");
    _cleanup_free_ char *renamed = tar_to_file(root, "/d/sub", "other", "r.tar", 0);
    assert_string_equal(renamed, "other/\nother/g\n");
    _cleanup_free_ char *file = tar_to_file(root, "/d/up/hosts", NULL, "f.tar", 0);
    assert_string_equal(file, "hosts\n");
    _cleanup_free_ char *clean = tar_to_file(root, "/d/sub/../f", NULL, "f2.tar", 0);
    assert_string_equal(clean, "f\n");
    _cleanup_free_ char *link = tar_to_file(root, "/d/link", NULL, "l.tar", 0);
    assert_string_equal(link, "link\n");
    assert_null(tar_to_file(root, "/d/nope", NULL, "n.tar", -ENOENT));
}

/* ---------------------------------------------------------------- extract */

static int extract_file(const char *root_rel, const char *dir, const char *file,
                        const struct rootcopy_extract_opts *o, wharf_error *err)
{
    _cleanup_close_ int root = open_dir(root_rel);
    _cleanup_free_ char *p = at(file);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return rootcopy_extract(root, dir, fd, o, err);
}

static void test_round_trip(void **state)
{
    (void)state;
    _cleanup_close_ int root = open_dir("a");
    free(tar_to_file(root, "/d", NULL, "d.tar", 0));
    mkd("b/into", 0755);
    wharf_error err = {0};
    struct rootcopy_extract_opts o = {.no_overwrite_dir_non_dir = true};
    assert_int_equal(extract_file("b", "/into", "d.tar", &o, &err), 0);
    _cleanup_free_ char *f = slurp("b/into/d/f");
    assert_string_equal(f, "file content\n");
    struct stat a1, a2, s;
    _cleanup_free_ char *pf = at("b/into/d/f"), *ph = at("b/into/d/hard"),
                        *pl = at("b/into/d/link"), *pd = at("b/into/d"), *ps = at("b/into/d/sub"),
                        *pp = at("b/into/d/pipe");
    assert_int_equal(stat(pf, &a1), 0);
    assert_int_equal(stat(ph, &a2), 0);
    assert_int_equal(a1.st_ino, a2.st_ino); /* the hard link stays one */
    assert_int_equal(a1.st_mode & 07777, 0640);
    char target[64] = {0};
    assert_true(readlink(pl, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "/d/f");
    assert_int_equal(stat(pd, &s), 0);
    assert_int_equal(s.st_mode & 07777, 0750);
    assert_int_equal(stat(ps, &s), 0);
    assert_int_equal(s.st_mtim.tv_sec, 1000000000); /* set after its contents */
    assert_int_equal(lstat(pp, &s), 0);
    assert_true(S_ISFIFO(s.st_mode));

    /* again on top: files replaced, directories merged */
    put("a/d/f", "new\n", 0644);
    free(tar_to_file(root, "/d", NULL, "d.tar", 0));
    assert_int_equal(extract_file("b", "/into", "d.tar", &o, &err), 0);
    _cleanup_free_ char *f2 = slurp("b/into/d/f");
    assert_string_equal(f2, "new\n");

    /* rebasing: "d" becomes "copy"; ownership forced */
    struct rootcopy_extract_opts ro = {
        .rebase_from = "d", .rebase_to = "copy", .force_owner = true, .uid = 123, .gid = 456};
    assert_int_equal(extract_file("b", "/into", "d.tar", &ro, &err), 0);
    _cleanup_free_ char *pc = at("b/into/copy/sub/g");
    assert_int_equal(stat(pc, &s), 0);
    assert_int_equal(s.st_uid, 123);
    assert_int_equal(s.st_gid, 456);
    _cleanup_free_ char *pch = at("b/into/copy/hard");
    assert_int_equal(access(pch, F_OK), 0);

    /* an empty stream is an empty archive */
    put("empty.tar", "", 0600);
    assert_int_equal(extract_file("b", "/into", "empty.tar", &o, &err), 0);
}

/* A tar of the given entries: "name" regular (content), "name/" directory,
 * "name -> target" symlink, "name => target" hard link. */
static void make_tar(const char *file, const char *const *entries, bool gzip)
{
    _cleanup_free_ char *p = at(file);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gzip)
        archive_write_add_filter_gzip(a);
    assert_int_equal(archive_write_open_filename(a, p), ARCHIVE_OK);
    for (size_t i = 0; entries[i]; i++) {
        struct archive_entry *e = archive_entry_new();
        const char *s = entries[i];
        const char *arrow = strstr(s, " -> "), *hard = strstr(s, " => ");
        _cleanup_free_ char *name = arrow  ? xasprintf("%.*s", (int)(arrow - s), s)
                                    : hard ? xasprintf("%.*s", (int)(hard - s), s)
                                           : xstrdup(s);
        archive_entry_set_pathname(e, name);
        archive_entry_set_mtime(e, 1500000000, 0);
        if (arrow) {
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, arrow + 4);
        } else if (hard) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, hard + 4);
        } else if (name[strlen(name) - 1] == '/') {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
        } else {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, 6);
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (!arrow && !hard && name[strlen(name) - 1] != '/')
            assert_int_equal(archive_write_data(a, "owned\n", 6), 6);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

static void test_escapes(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct rootcopy_extract_opts o = {.no_overwrite_dir_non_dir = true};
    mkd("b/dest", 0755);

    /* a name climbing out of the destination is refused */
    make_tar("up.tar", (const char *const[]){"../../evil", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "up.tar", &o, &err), -EPERM);
    assert_non_null(strstr(err.msg, "is outside of"));
    _cleanup_free_ char *evil = at("evil");
    assert_int_equal(access(evil, F_OK), -1);

    /* a symlink the archive plants, to a host directory, leads inside the
     * root: what is written through it lands in b, never in host/ */
    _cleanup_free_ char *host = at("host");
    _cleanup_free_ char *via = xasprintf("esc -> %s", host);
    make_tar("esc.tar", (const char *const[]){via, "esc/pwned", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "esc.tar", &o, &err), 0);
    _cleanup_free_ char *leaked = at("host/pwned");
    assert_int_equal(access(leaked, F_OK), -1);
    _cleanup_free_ char *inside = xasprintf("b%s/pwned", host);
    _cleanup_free_ char *got = slurp(inside);
    assert_string_equal(got, "owned\n");

    /* a symlink already in the root is followed inside it too */
    lnk("/", "b/dest/rootlink");
    make_tar("deep.tar", (const char *const[]){"rootlink/../../../host/x", NULL}, false);
    /* lexically inside dest ("rootlink/.." is dest) but climbs out after */
    assert_int_equal(extract_file("b", "/dest", "deep.tar", &o, &err), -EPERM);
    make_tar("through.tar", (const char *const[]){"rootlink/tmpfile", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "through.tar", &o, &err), 0);
    _cleanup_free_ char *t = slurp("b/tmpfile");
    assert_string_equal(t, "owned\n");

    /* hard links: out of the destination refused, absolute ones stay in it */
    make_tar("hl.tar", (const char *const[]){"h => ../../../etc/passwd", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "hl.tar", &o, &err), -EPERM);
    assert_non_null(strstr(err.msg, "invalid hardlink"));
    make_tar("hl2.tar", (const char *const[]){"h => /etc/passwd", NULL}, false);
    assert_true(extract_file("b", "/dest", "hl2.tar", &o, &err) < 0); /* dest/etc/passwd: none */
    _cleanup_free_ char *h = at("b/dest/h");
    assert_int_equal(access(h, F_OK), -1);

    /* noOverwriteDirNonDir both ways; without it the entry replaces */
    mkd("b/dest/adir", 0755);
    put("b/dest/afile", "x", 0644);
    make_tar("d2f.tar", (const char *const[]){"adir", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "d2f.tar", &o, &err), -EISDIR);
    assert_non_null(
        strstr(err.msg, "cannot overwrite directory \"/dest/adir\" with non-directory"));
    make_tar("f2d.tar", (const char *const[]){"afile/", NULL}, false);
    assert_int_equal(extract_file("b", "/dest", "f2d.tar", &o, &err), -ENOTDIR);
    assert_non_null(
        strstr(err.msg, "cannot overwrite non-directory \"/dest/afile\" with directory"));
    struct rootcopy_extract_opts loose = {0};
    assert_int_equal(extract_file("b", "/dest", "d2f.tar", &loose, &err), 0);
    _cleanup_free_ char *replaced = slurp("b/dest/adir");
    assert_string_equal(replaced, "owned\n");

    /* missing parents are made; gzip is read */
    make_tar("gz.tar", (const char *const[]){"new/deep/file", NULL}, true);
    assert_int_equal(extract_file("b", "/dest", "gz.tar", &o, &err), 0);
    _cleanup_free_ char *deep = slurp("b/dest/new/deep/file");
    assert_string_equal(deep, "owned\n");
    put("junk.tar", "this is not a tar archive, not at all, no............", 0600);
    assert_int_equal(extract_file("b", "/dest", "junk.tar", &o, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat),
        cmocka_unit_test(test_tar),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
