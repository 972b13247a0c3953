/* Unit tests for the local volume driver (src/volume). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static char dir[256];
static struct volume_store *vs;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/wharf-test-volume.XXXXXX");
    assert_non_null(mkdtemp(dir));
    char store[300];
    snprintf(store, sizeof(store), "%s/volumes", dir);
    wharf_error err = {0};
    assert_int_equal(volume_store_open(store, &vs, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    volume_store_close(vs);
    vs = NULL;
    wharf_rm_rf(dir, NULL);
    return 0;
}

static void put(const char *rel, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    wharf_error err = {0};
    assert_int_equal(wharf_write_file_atomic(path, text, strlen(text), mode, &err), 0);
}

static void test_names(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(volume_check_name("data", &err), 0);
    assert_int_equal(volume_check_name("a1_b.c-d", &err), 0);
    assert_int_equal(volume_check_name("9z", &err), 0);
    assert_int_equal(volume_check_name("x", &err), -EINVAL);
    assert_string_equal(err.msg, "volume name is too short, names should be at least two "
                                 "alphanumeric characters");
    assert_int_equal(volume_check_name("a b", &err), -EINVAL);
    assert_string_equal(err.msg, "\"a b\" includes invalid characters for a local volume name, "
                                 "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended "
                                 "to pass a host directory, use absolute path");
    assert_int_equal(volume_check_name("-lead", &err), -EINVAL);
    assert_int_equal(volume_check_name(".hidden", &err), -EINVAL);
    assert_int_equal(volume_check_name("../up", &err), -EINVAL);
    assert_int_equal(volume_check_name("a/b", &err), -EINVAL);
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

static void expect_option_error(const char *text, const char *want)
{
    json_t *o = parse(text);
    wharf_error err = {0};
    assert_int_equal(volume_check_options(o, &err), -EINVAL);
    if (!strstr(err.msg, want))
        fail_msg("%s: \"%s\" does not mention \"%s\"", text, err.msg, want);
    json_decref(o);
}

static void test_options(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(volume_check_options(NULL, &err), 0);
    json_t *o = parse("{\"size\": \"0\"}");
    assert_int_equal(volume_check_options(o, &err), 0);
    json_decref(o);
    expect_option_error("{\"foo\": \"bar\"}", "invalid option: \"foo\"");
    expect_option_error("{\"size\": \"lots\"}", "invalid size: 'lots'");
    expect_option_error("{\"size\": \"10m\"}", "quota size requested but no quota support");
    expect_option_error("{\"device\": \"/dev/sda\"}", "missing required option: \"type\"");
    expect_option_error("{\"o\": \"size=1m\", \"type\": \"tmpfs\"}",
                        "missing required option: \"device\"");
    expect_option_error("{\"type\": \"tmpfs\", \"device\": \"tmpfs\"}", "not supported");
}

static void test_create_get_list_remove(void **state)
{
    (void)state;
    wharf_error err = {0};
    json_t *labels = parse("{\"team\": \"db\"}");
    json_t *rec = NULL;
    bool created = false;
    assert_int_equal(volume_create(vs, "data", labels, NULL, &rec, &created, &err), 0);
    assert_true(created);
    assert_string_equal(json_string_value(json_object_get(rec, "name")), "data");
    assert_string_equal(json_string_value(json_object_get(rec, "driver")), "local");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "labels"), "team")),
                        "db");
    assert_true(json_is_null(json_object_get(rec, "options")));
    assert_false(json_is_true(json_object_get(rec, "anonymous")));
    char want[400];
    snprintf(want, sizeof(want), "%s/volumes/data/_data", dir);
    assert_string_equal(json_string_value(json_object_get(rec, "mountpoint")), want);
    struct stat st;
    assert_int_equal(stat(want, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    json_decref(rec);

    /* the same name again: the existing volume, labels unchanged */
    json_t *other = parse("{\"team\": \"web\"}");
    assert_int_equal(volume_create(vs, "data", other, NULL, &rec, &created, &err), 0);
    assert_false(created);
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "labels"), "team")),
                        "db");
    json_decref(rec);
    json_decref(other);
    json_decref(labels);

    /* anonymous: 64 hex digits and the label dockerd puts on them */
    assert_int_equal(volume_create(vs, NULL, NULL, NULL, &rec, &created, &err), 0);
    assert_true(created);
    const char *anon = json_string_value(json_object_get(rec, "name"));
    assert_int_equal(strlen(anon), 64);
    assert_int_equal(strspn(anon, "0123456789abcdef"), 64);
    assert_true(json_is_true(json_object_get(rec, "anonymous")));
    assert_non_null(json_object_get(json_object_get(rec, "labels"), VOLUME_ANONYMOUS_LABEL));
    char anon_name[65];
    snprintf(anon_name, sizeof(anon_name), "%s", anon);
    json_decref(rec);

    json_t *all = volume_list(vs, &err);
    assert_non_null(all);
    assert_int_equal(json_array_size(all), 2);
    /* sorted by name (the anonymous one's is random hex: before or after "data") */
    const char *first = json_string_value(json_object_get(json_array_get(all, 0), "name"));
    const char *second = json_string_value(json_object_get(json_array_get(all, 1), "name"));
    assert_true(strcmp(first, second) < 0);
    assert_true(strcmp(first, anon_name) == 0 || strcmp(second, anon_name) == 0);
    json_decref(all);

    assert_null(volume_get(vs, "nosuch", &err));
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.msg, "get nosuch: no such volume");
    assert_null(volume_get(vs, "../volumes", &err));
    assert_int_equal(err.code, -ENOENT);

    /* bad input creates nothing */
    assert_int_equal(volume_create(vs, "bad name", NULL, NULL, NULL, NULL, &err), -EINVAL);
    assert_true(strncmp(err.msg, "create bad name: \"bad name\" includes", 36) == 0);
    json_t *bad = parse("{\"foo\": \"1\"}");
    assert_int_equal(volume_create(vs, "opts", NULL, bad, NULL, NULL, &err), -EINVAL);
    assert_string_equal(err.msg, "create opts: invalid option: \"foo\"");
    json_decref(bad);
    assert_null(volume_get(vs, "opts", &err));

    put("volumes/data/_data/file", "hello", 0644);
    assert_int_equal(volume_size(vs, "data"), 5);
    assert_int_equal(volume_remove(vs, "data", &err), 0);
    assert_null(volume_get(vs, "data", &err));
    assert_int_equal(volume_remove(vs, "data", &err), -ENOENT);
    assert_string_equal(err.msg, "get data: no such volume");
    assert_int_equal(volume_remove(vs, anon_name, &err), 0);
    all = volume_list(vs, &err);
    assert_int_equal(json_array_size(all), 0);
    json_decref(all);
}

/* What a crash left (a volume half-made, one half-removed) is swept at open. */
static void test_sweep(void **state)
{
    (void)state;
    char p[400];
    snprintf(p, sizeof(p), "%s/volumes/.new-abc/_data", dir);
    wharf_error err = {0};
    assert_int_equal(wharf_mkdir_p(p, 0755, &err), 0);
    snprintf(p, sizeof(p), "%s/volumes/.old-def/_data", dir);
    assert_int_equal(wharf_mkdir_p(p, 0755, &err), 0);
    volume_store_close(vs);
    snprintf(p, sizeof(p), "%s/volumes", dir);
    assert_int_equal(volume_store_open(p, &vs, &err), 0);
    snprintf(p, sizeof(p), "%s/volumes/.new-abc", dir);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/volumes/.old-def", dir);
    assert_int_equal(access(p, F_OK), -1);
}

static void test_populate(void **state)
{
    (void)state;
    wharf_error err = {0};
    char p[400], q[400];
    /* an image directory: files, a subdirectory, links, a fifo, owners */
    snprintf(p, sizeof(p), "%s/src/sub", dir);
    assert_int_equal(wharf_mkdir_p(p, 0755, &err), 0);
    put("src/a.txt", "alpha", 0640);
    put("src/sub/b.txt", "beta!", 0600);
    snprintf(p, sizeof(p), "%s/src/a.txt", dir);
    snprintf(q, sizeof(q), "%s/src/sub/hard", dir);
    assert_int_equal(link(p, q), 0);
    snprintf(p, sizeof(p), "%s/src/escape", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof(p), "%s/src/fifo", dir);
    assert_int_equal(mkfifo(p, 0620), 0);
    assert_int_equal(chmod(p, 0620), 0); /* whatever the umask */
    snprintf(p, sizeof(p), "%s/src/sub/b.txt", dir);
    assert_int_equal(chown(p, 1234, 4321), 0);
    snprintf(p, sizeof(p), "%s/src", dir);
    assert_int_equal(chown(p, 1000, 1001), 0);
    assert_int_equal(chmod(p, 0750), 0);
    (void)setxattr(p, "user.origin", "image", 5, 0); /* tmpfs may refuse user xattrs */
    int src = open(p, O_RDONLY | O_DIRECTORY);
    assert_true(src >= 0);

    assert_int_equal(volume_create(vs, "filled", NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(volume_populate(vs, "filled", src, &err), 1);
    struct stat st;
    snprintf(p, sizeof(p), "%s/volumes/filled/_data", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 1001);
    assert_int_equal(st.st_mode & 07777, 0750);
    char value[16] = "";
    if (getxattr(p, "user.origin", value, sizeof(value)) > 0)
        assert_memory_equal(value, "image", 5);
    snprintf(p, sizeof(p), "%s/volumes/filled/_data/a.txt", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_size, 5);
    assert_int_equal(st.st_nlink, 2); /* the hard link stayed one */
    snprintf(p, sizeof(p), "%s/volumes/filled/_data/sub/b.txt", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1234);
    assert_int_equal(st.st_gid, 4321);
    assert_int_equal(st.st_mode & 07777, 0600);
    char *text = NULL;
    assert_int_equal(wharf_read_file(p, &text, NULL, &err), 0);
    assert_string_equal(text, "beta!");
    free(text);
    char target[64];
    snprintf(p, sizeof(p), "%s/volumes/filled/_data/escape", dir);
    ssize_t n = readlink(p, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "/etc/passwd"); /* copied as a link, not followed */
    snprintf(p, sizeof(p), "%s/volumes/filled/_data/fifo", dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0620);
    /* the files once each (a.txt and its hard link), and the link's target
     * text, as dockerd's directory.Size counts */
    assert_int_equal(volume_size(vs, "filled"), 5 + 5 + 11);

    /* not empty any more: a second copy-up does nothing */
    put("volumes/filled/_data/sub/b.txt", "changed", 0600);
    assert_int_equal(volume_populate(vs, "filled", src, &err), 0);
    snprintf(p, sizeof(p), "%s/volumes/filled/_data/sub/b.txt", dir);
    assert_int_equal(wharf_read_file(p, &text, NULL, &err), 0);
    assert_string_equal(text, "changed");
    free(text);
    close(src);
    assert_int_equal(volume_remove(vs, "filled", &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_create_get_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_populate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
