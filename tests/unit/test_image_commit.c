/* test_image_commit.c — image_store_commit_layer: an overlay upper
 * directory written by the kernel (changed, new, deleted files, a
 * directory replaced, so opaque) becomes an OCI layer with whiteouts and
 * a new image whose overlay shows the same tree; empty commits add no
 * layer; intermediate images are hidden from the list and removed with
 * their last child. Runs as root (overlayfs, trusted.* attributes). */
#include "image.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cmocka.h>

static char tmpdir[256];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_image_commit.%d.XXXXXX", (int)getpid());
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

static void put(const char *dir, const char *rel, const char *content)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
    wharf_error err = {0};
    if (wharf_write_file_atomic(p, content, strlen(content), 0644, &err) < 0)
        fail_msg("%s", err.msg);
}

static void mk(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static char *slurp(const char *dir, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
    char *out = NULL;
    wharf_error err = {0};
    return wharf_read_file(p, &out, NULL, &err) == 0 ? out : NULL;
}

/* A base image "base:1" from a root filesystem tar of a, d/b, d/c, e/f. */
static void import_base(image_store *st, char id[72])
{
    _cleanup_free_ char *root = sub("baseroot");
    assert_int_equal(mkdir(root, 0755), 0);
    put(root, "a", "old a\n");
    mk(root, "d");
    put(root, "d/b", "b\n");
    put(root, "d/c", "c\n");
    mk(root, "e");
    put(root, "e/f", "f\n");
    int fd = memfd_create("base", MFD_CLOEXEC);
    wharf_error err = {0};
    if (image_export_dir(root, fd, &err) < 0)
        fail_msg("%s", err.msg);
    lseek(fd, 0, SEEK_SET);
    if (image_store_import(st, fd, "base:1", NULL, 0, NULL, id, &err) < 0)
        fail_msg("%s", err.msg);
    close(fd);
}

struct mounted {
    char *upper, *work, *merged;
};

static void mount_image(image_store *st, const char *ref, const char *name, struct mounted *m)
{
    m->upper = xasprintf("%s/%s-upper", tmpdir, name);
    m->work = xasprintf("%s/%s-work", tmpdir, name);
    m->merged = xasprintf("%s/%s-merged", tmpdir, name);
    assert_int_equal(mkdir(m->upper, 0755), 0);
    assert_int_equal(mkdir(m->work, 0700), 0);
    assert_int_equal(mkdir(m->merged, 0755), 0);
    wharf_error err = {0};
    if (image_store_mount_rootfs(st, ref, m->upper, m->work, m->merged, &err) < 0)
        fail_msg("%s", err.msg);
}

static void unmount_image(struct mounted *m)
{
    wharf_error err = {0};
    assert_int_equal(image_store_unmount_rootfs(m->merged, &err), 0);
    free(m->upper);
    free(m->work);
    free(m->merged);
}

/* The entries of the image's last layer blob: "name type" lines. */
static char *last_layer_listing(image_store *st, const char *id, json_t **xattrs)
{
    wharf_error err = {0};
    json_t *cfg = image_store_config(st, id, &err);
    assert_non_null(cfg);
    json_t *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    const char *last = json_string_value(json_array_get(diffs, json_array_size(diffs) - 1));
    _cleanup_free_ char *blob = image_store_blob_path(st, last, &err);
    assert_non_null(blob); /* uncompressed: the layer's digest is its diff_id */
    json_decref(cfg);
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, blob, 65536), ARCHIVE_OK);
    strbuf sb = STRBUF_INIT;
    *xattrs = json_array();
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *hl = archive_entry_hardlink(e);
        strbuf_addf(&sb, "%s %s\n", archive_entry_pathname(e),
                    hl                                      ? "link"
                    : archive_entry_filetype(e) == AE_IFDIR ? "dir"
                    : archive_entry_filetype(e) == AE_IFLNK ? "symlink"
                    : archive_entry_filetype(e) == AE_IFREG ? "file"
                                                            : "other");
        const char *name;
        const void *v;
        size_t n;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &v, &n) == ARCHIVE_OK)
            json_array_append_new(*xattrs, json_string(name));
    }
    archive_read_free(a);
    return strbuf_detach(&sb);
}

static void test_commit_upper(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    char base[72], id[72];
    import_base(st, base);

    /* Change the tree through a real overlay, as a RUN step would. */
    struct mounted m;
    mount_image(st, base, "run", &m);
    put(m.merged, "a", "new a\n");
    put(m.merged, "n", "new\n");
    _cleanup_free_ char *b = xasprintf("%s/d/b", m.merged);
    assert_int_equal(unlink(b), 0);
    _cleanup_free_ char *e = xasprintf("%s/e", m.merged);
    assert_int_equal(wharf_rm_rf(e, &err), 0);
    mk(m.merged, "e");
    put(m.merged, "e/g", "g\n");
    _cleanup_free_ char *h1 = xasprintf("%s/h1", m.merged), *h2 = xasprintf("%s/h2", m.merged);
    put(m.merged, "h1", "hard\n");
    assert_int_equal(link(h1, h2), 0);
    _cleanup_free_ char *ln = xasprintf("%s/ln", m.merged);
    assert_int_equal(symlink("a", ln), 0);
    _cleanup_free_ char *upper = xstrdup(m.upper);
    unmount_image(&m);
    /* what the kernel wrote: a whiteout device and an opaque directory */
    _cleanup_free_ char *wh = xasprintf("%s/d/b", upper);
    struct stat sst;
    assert_int_equal(lstat(wh, &sst), 0);
    assert_true(S_ISCHR(sst.st_mode) && sst.st_rdev == makedev(0, 0));

    json_t *config = json_pack("{s:[s], s:[s]}", "Cmd", "sh", "Env", "A=1");
    struct image_commit c = {.parent = "base:1",
                             .upperdir = upper,
                             .config = config,
                             .created_by = "/bin/sh -c change things",
                             .comment = "a comment"};
    if (image_store_commit_layer(st, &c, id, &err) < 0)
        fail_msg("%s", err.msg);
    json_decref(config);
    assert_string_not_equal(id, base);

    json_t *xattrs = NULL;
    _cleanup_free_ char *listing = last_layer_listing(st, id, &xattrs);
    assert_non_null(strstr(listing, "a file\n"));
    assert_non_null(strstr(listing, "n file\n"));
    assert_non_null(strstr(listing, "d/.wh.b file\n"));
    assert_non_null(strstr(listing, "e/.wh..wh..opq file\n"));
    assert_non_null(strstr(listing, "e/g file\n"));
    assert_non_null(strstr(listing, "h1 file\n"));
    assert_non_null(strstr(listing, "h2 link\n"));
    assert_non_null(strstr(listing, "ln symlink\n"));
    assert_null(strstr(listing, "d/c")); /* unchanged: the parent has it */
    size_t i;
    json_t *x;
    json_array_foreach(xattrs, i, x) assert_null(strstr(json_string_value(x), "overlay"));
    json_decref(xattrs);

    /* the config: the parent's layer plus one, one history entry more */
    json_t *cfg = image_store_config(st, id, &err);
    json_t *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    assert_int_equal(json_array_size(diffs), 2);
    json_t *hist = json_object_get(cfg, "history");
    assert_int_equal(json_array_size(hist), 2);
    json_t *last = json_array_get(hist, 1);
    assert_string_equal(json_string_value(json_object_get(last, "created_by")),
                        "/bin/sh -c change things");
    assert_string_equal(json_string_value(json_object_get(last, "comment")), "a comment");
    assert_null(json_object_get(last, "empty_layer"));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(cfg, "config"), "Cmd"), 0)),
                        "sh");
    json_decref(cfg);

    /* the new image's root filesystem is the changed tree */
    struct mounted v;
    mount_image(st, id, "view", &v);
    char *s;
    assert_string_equal((s = slurp(v.merged, "a")), "new a\n");
    free(s);
    assert_string_equal((s = slurp(v.merged, "d/c")), "c\n");
    free(s);
    assert_null(slurp(v.merged, "d/b"));
    assert_null(slurp(v.merged, "e/f"));
    assert_string_equal((s = slurp(v.merged, "e/g")), "g\n");
    free(s);
    _cleanup_free_ char *vh1 = xasprintf("%s/h1", v.merged), *vh2 = xasprintf("%s/h2", v.merged);
    struct stat s1, s2;
    assert_int_equal(stat(vh1, &s1), 0);
    assert_int_equal(stat(vh2, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino);
    unmount_image(&v);

    /* inspect names the parent; the store keeps the upper dir (not consumed) */
    json_t *ins = image_store_inspect(st, id, &err);
    assert_string_equal(json_string_value(json_object_get(ins, "Parent")), base);
    json_decref(ins);
    assert_int_equal(access(upper, F_OK), 0);
    image_store_close(st);
}

static void test_commit_empty_and_consumed(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    char base[72], id[72], id2[72];
    import_base(st, base);

    /* nothing changed: no layer, empty_layer in the history */
    _cleanup_free_ char *empty = sub("empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    struct image_commit c = {.parent = base, .upperdir = empty, .created_by = "#(nop) ENV A=1"};
    if (image_store_commit_layer(st, &c, id, &err) < 0)
        fail_msg("%s", err.msg);
    json_t *cfg = image_store_config(st, id, &err);
    assert_int_equal(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")),
                     1);
    json_t *hist = json_object_get(cfg, "history");
    assert_true(json_is_true(json_object_get(json_array_get(hist, 1), "empty_layer")));
    json_decref(cfg);
    /* config NULL keeps the parent's */
    cfg = image_store_config(st, id, &err);
    assert_non_null(json_object_get(cfg, "config"));
    json_decref(cfg);

    /* a consumed upper dir becomes the snapshot (moved, overlay marks kept) */
    struct mounted m;
    mount_image(st, id, "run", &m);
    _cleanup_free_ char *e = xasprintf("%s/e", m.merged);
    assert_int_equal(wharf_rm_rf(e, &err), 0);
    mk(m.merged, "e");
    put(m.merged, "e/z", "z\n");
    _cleanup_free_ char *upper = xstrdup(m.upper);
    unmount_image(&m);
    struct image_commit c2 = {
        .parent = id, .upperdir = upper, .consume_upperdir = true, .created_by = "RUN x"};
    if (image_store_commit_layer(st, &c2, id2, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(access(upper, F_OK), -1);
    _cleanup_free_ char *lower = image_store_lowerdirs(st, id2, &err);
    assert_non_null(lower);
    char *colon = strchr(lower, ':');
    assert_non_null(colon);
    *colon = '\0';
    _cleanup_free_ char *opq = xasprintf("%s/e", lower);
    char v[4] = "";
    assert_int_equal(getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)), 1);
    struct mounted view;
    mount_image(st, id2, "view", &view);
    assert_null(slurp(view.merged, "e/f"));
    char *s = slurp(view.merged, "e/z");
    assert_string_equal(s, "z\n");
    free(s);
    unmount_image(&view);
    image_store_close(st);
}

static bool listed(json_t *list, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (strcmp(json_string_value(json_object_get(e, "Id")), id) ==
                                       0) return true;
    return false;
}

static void test_intermediate_images(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    char base[72], mid[72], top[72];
    import_base(st, base);
    struct image_commit c = {.parent = base, .created_by = "step 1"};
    assert_int_equal(image_store_commit_layer(st, &c, mid, &err), 0);
    c.parent = mid;
    c.created_by = "step 2";
    assert_int_equal(image_store_commit_layer(st, &c, top, &err), 0);
    assert_int_equal(image_store_tag(st, top, "final:1", &err), 0);

    json_t *list = image_store_list(st, &err);
    assert_true(listed(list, base));
    assert_true(listed(list, top));
    assert_false(listed(list, mid)); /* untagged with a child: hidden */
    json_decref(list);

    /* history names the intermediate image on the entry it ended with */
    json_t *h = image_store_history(st, "final:1", &err);
    assert_int_equal(json_array_size(h), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "Id")), top);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "Id")), mid);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 2), "Id")), base);
    json_decref(h);

    /* removing the tagged image removes its untagged parents, not a tagged one */
    json_t *report = NULL;
    assert_int_equal(image_store_remove(st, "final:1", false, NULL, NULL, &report, &err), 0);
    _cleanup_free_ char *text = json_dumps(report, JSON_COMPACT);
    assert_non_null(strstr(text, top));
    assert_non_null(strstr(text, mid));
    assert_null(strstr(text, base));
    json_decref(report);
    char id[72];
    assert_int_equal(image_store_resolve(st, mid, id, &err), -ENOENT);
    assert_int_equal(image_store_resolve(st, "base:1", id, &err), 0);

    /* prune takes a dangling chain whole */
    c.parent = base;
    assert_int_equal(image_store_commit_layer(st, &c, mid, &err), 0);
    c.parent = mid;
    assert_int_equal(image_store_commit_layer(st, &c, top, &err), 0);
    assert_int_equal(image_store_prune(st, false, NULL, NULL, &report, &err), 0);
    json_t *deleted = json_object_get(report, "ImagesDeleted");
    assert_int_equal(json_array_size(deleted), 2);
    json_decref(report);
    assert_int_equal(image_store_resolve(st, "base:1", id, &err), 0);
    image_store_close(st);
}

static void test_commit_bad_parent(void **state)
{
    wharf_error err = {0};
    _cleanup_free_ char *dir = sub("store");
    image_store *st = image_store_open(dir, &err);
    char id[72];
    struct image_commit c = {.parent = "nosuch:1", .created_by = "x"};
    assert_int_equal(image_store_commit_layer(st, &c, id, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nosuch:1"));
    /* no parent at all: a first image (FROM scratch + metadata) */
    c.parent = NULL;
    assert_int_equal(image_store_commit_layer(st, &c, id, &err), 0);
    json_t *cfg = image_store_config(st, id, &err);
    assert_int_equal(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")),
                     0);
    json_decref(cfg);
    image_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_upper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_empty_and_consumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intermediate_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_bad_parent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
