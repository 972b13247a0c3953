/* Unit tests of the base module: errors, strbuf, files, in-root path
 * resolution, JSON field access and the runc-style logger. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/wharf-base-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void test_error_messages(void **state)
{
    (void)state;
    wharf_error err = {0};
    assert_int_equal(wharf_error_set(&err, EINVAL, "field %s", "x"), -EINVAL);
    assert_string_equal(err.msg, "field x");
    assert_int_equal(wharf_error_errno(&err, ENOENT, "open %s", "/nope"), -ENOENT);
    assert_string_equal(err.msg, "open /nope: No such file or directory");
    assert_int_equal(wharf_error_prefix(&err, "container %s", "c1"), -ENOENT);
    assert_string_equal(err.msg, "container c1: open /nope: No such file or directory");
    /* A NULL error object is allowed: the code still comes back. */
    assert_int_equal(wharf_error_set(NULL, -EPERM, "x"), -EPERM);
}

static void test_strbuf(void **state)
{
    (void)state;
    strbuf sb = STRBUF_INIT;
    assert_string_equal(strbuf_str(&sb), "");
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%d,", i);
    assert_int_equal(sb.len, strlen(sb.buf));
    assert_memory_equal(sb.buf, "0,1,2,", 6);
    strbuf_reset(&sb);
    strbuf_addstr(&sb, "ab");
    strbuf_addch(&sb, 'c');
    char *s = strbuf_detach(&sb);
    assert_string_equal(s, "abc");
    assert_null(sb.buf);
    free(s);
    strbuf_release(&sb);
}

static void test_atomic_write_and_read(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/a/b/file", dir);
    _cleanup_free_ char *sub = xasprintf("%s/a/b", dir);
    wharf_error err = {0};
    assert_int_equal(wharf_mkdir_p(sub, 0755, &err), 0);
    assert_int_equal(wharf_write_file_atomic(path, "hello", 5, 0600, &err), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(wharf_read_file(path, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(wharf_read_file("/nonexistent/x", &data, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x"));
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(wharf_rm_rf(dir, &err), 0); /* missing is fine */
}

static void test_in_root_resolution(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    wharf_error err = {0};
    _cleanup_free_ char *root = xasprintf("%s/root", dir);
    assert_int_equal(wharf_mkdir_p(root, 0755, &err), 0);
    /* Symlinks that try to leave the root: absolute and through "..". */
    _cleanup_free_ char *l1 = xasprintf("%s/abs", root);
    _cleanup_free_ char *l2 = xasprintf("%s/up", root);
    assert_int_equal(symlink("/etc", l1), 0);
    assert_int_equal(symlink("../../../../..", l2), 0);
    _cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rfd >= 0);

    int fd = wharf_mkdir_in_root(rfd, "/abs/sub", 0755, &err);
    assert_true(fd >= 0);
    close(fd);
    _cleanup_free_ char *inside = xasprintf("%s/etc/sub", root);
    assert_int_equal(access(inside, F_OK), 0); /* created inside, not in the host's /etc */
    assert_int_equal(access("/etc/sub", F_OK), -1);

    fd = wharf_touch_in_root(rfd, "up/escape-file", 0644, &err);
    if (fd < 0)
        print_error("%s\n", err.msg);
    assert_true(fd >= 0);
    close(fd);
    _cleanup_free_ char *f = xasprintf("%s/escape-file", root);
    assert_int_equal(access(f, F_OK), 0);

    fd = wharf_open_in_root(rfd, "/missing/x", O_RDONLY, 0, &err);
    assert_int_equal(fd, -ENOENT);
    assert_non_null(strstr(err.msg, "/missing/x"));
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
}

static void test_json_fields(void **state)
{
    (void)state;
    json_error_t je;
    json_t *j = json_loads("{\"a\": \"x\", \"n\": -3, \"b\": true, \"o\": {}, \"arr\": [\"p\", 1],"
                           " \"s\": [\"u\", \"v\"], \"z\": null}",
                           0, &je);
    assert_non_null(j);
    wharf_error err = {0};
    const char *s = NULL;
    assert_int_equal(wjson_string(j, "root", "a", true, &s, &err), 0);
    assert_string_equal(s, "x");
    assert_int_equal(wjson_string(j, "root", "n", true, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "root.n: expected a string, got an integer");
    assert_int_equal(wjson_string(j, "", "missing", true, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "missing: required field is missing");
    assert_int_equal(wjson_string(j, "", "z", false, &s, &err), 0); /* null = absent */
    uint64_t u;
    bool have;
    assert_int_equal(wjson_uint64(j, "r", "n", &u, &have, &err), -EINVAL);
    assert_string_equal(err.msg, "r.n: must not be negative");
    const char **v = NULL;
    size_t n;
    assert_int_equal(wjson_string_array(j, "r", "arr", false, &v, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "r.arr[1]: expected a string, got an integer");
    assert_int_equal(wjson_string_array(j, "r", "s", false, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[1], "v");
    assert_null(v[2]);
    free(v);
    bool b = false;
    assert_int_equal(wjson_bool(j, "", "b", &b, &err), 0);
    assert_true(b);
    json_decref(j);
}

static void test_json_load_errors(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/bad.json", dir);
    wharf_error err = {0};
    assert_int_equal(wharf_write_file_atomic(path, "{\"a\": 1,,}", 10, 0644, &err), 0);
    assert_null(wjson_load_file(path, &err));
    assert_int_equal(err.code, -EINVAL);
    assert_non_null(strstr(err.msg, "line 1"));
    assert_int_equal(wharf_write_file_atomic(path, "{\"a\": 1, \"a\": 2}", 16, 0644, &err), 0);
    assert_null(wjson_load_file(path, &err)); /* duplicate keys are refused */
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
}

static void test_log_formats(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmpdir();
    _cleanup_free_ char *path = xasprintf("%s/log", dir);
    wharf_error err = {0};
    assert_int_equal(wharf_log_open(path, WHARF_LOG_JSON, false, &err), 0);
    wlog_error("bad \"thing\"\nhere");
    wlog_debug("not shown");
    wharf_log_set_fd(-1, WHARF_LOG_TEXT, false);
    char *data = NULL;
    assert_int_equal(wharf_read_file(path, &data, NULL, &err), 0);
    json_error_t je;
    json_t *line = json_loads(data, JSON_DISABLE_EOF_CHECK, &je);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(line, "msg")), "bad \"thing\"\nhere");
    assert_non_null(json_object_get(line, "time"));
    assert_null(strstr(data, "not shown"));
    json_decref(line);
    free(data);
    assert_int_equal(wharf_rm_rf(dir, &err), 0);
}

static void test_human_duration(void **state)
{
    (void)state;
    static const struct {
        int64_t seconds;
        const char *text;
    } cases[] = {
        {0, "Less than a second"}, {1, "1 second"},          {59, "59 seconds"},
        {60, "About a minute"},    {119, "About a minute"},  {120, "2 minutes"},
        {3599, "59 minutes"},      {3600, "About an hour"},  {5400, "2 hours"},
        {47 * 3600, "47 hours"},   {48 * 3600, "2 days"},    {14 * 86400, "2 weeks"},
        {60 * 86400, "2 months"},  {800 * 86400, "2 years"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf sb = STRBUF_INIT;
        wharf_human_duration(cases[i].seconds, &sb);
        assert_string_equal(strbuf_str(&sb), cases[i].text);
        strbuf_release(&sb);
    }
}

/* Go's time.ParseDuration and Duration.String(), as docker's flags and
 * dockerd's messages use them. */
static void test_parse_ram(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t bytes;
    } ok[] = {
        {"1024", 1024},          {"0", 0},
        {"512m", 512LL << 20},   {"512M", 512LL << 20},
        {"512mb", 512LL << 20},  {"512MiB", 512LL << 20},
        {"100 k", 100LL << 10},  {"1.5g", 3LL << 29},
        {"2t", 2LL << 40},       {"1p", 1LL << 50},
        {"10b", 10},             {"7KB", 7LL << 10},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(wharf_parse_ram(ok[i].text) == ok[i].bytes);
    static const char *const bad[] = {"", "m", "-1m", " 1m", "1x", "1mm", "1m ", "1.2.3",
                                      ".5g", "1e3", "inf", "0x10", "1  m", "99999999p"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(wharf_parse_ram(bad[i]) == -1);
}

static void test_go_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"1s", 1000000000},
        {"1.5s", 1500000000},
        {".5s", 500000000},
        {"1h30m", 5400000000000},
        {"100ms", 100000000},
        {"3us", 3000},
        {"3\xc2\xb5s", 3000},
        {"7ns", 7},
        {"-2m", -120000000000},
        {"+4s", 4000000000},
        {"1m0.000000001s", 60000000001},
        {"2562047h47m16.854775807s", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ns = -1;
        assert_int_equal(wharf_parse_go_duration(ok[i].text, &ns), 0);
        assert_true(ns == ok[i].ns);
    }
    static const char *const bad[] = {"", "5", "s", "1x", "1.", ".", "1s2", "-", "1 s", "ms"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns = 0;
        assert_int_equal(wharf_parse_go_duration(bad[i], &ns), -EINVAL);
    }
    int64_t ns;
    assert_int_equal(wharf_parse_go_duration("1.s", &ns), 0);
    assert_int_equal(wharf_parse_go_duration("9999999h", &ns), -ERANGE);

    static const struct {
        int64_t ns;
        const char *text;
    } fmt[] = {
        {0, "0s"},
        {1, "1ns"},
        {1500, "1.5\xc2\xb5s"},
        {500000000, "500ms"},
        {1500000, "1.5ms"},
        {1000000000, "1s"},
        {30000000000, "30s"},
        {90000000000, "1m30s"},
        {3600000000000, "1h0m0s"},
        {2500000000, "2.5s"},
        {-2000000000, "-2s"},
    };
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        strbuf sb = STRBUF_INIT;
        wharf_format_go_duration(fmt[i].ns, &sb);
        assert_string_equal(strbuf_str(&sb), fmt[i].text);
        strbuf_release(&sb);
    }
}

static void test_detach_keys(void **state)
{
    (void)state;
    struct wharf_detach_keys k;
    assert_int_equal(wharf_detach_keys_parse(WHARF_DETACH_KEYS_DEFAULT, &k), 0);
    assert_int_equal(k.len, 2);
    assert_int_equal(k.seq[0], 16);
    assert_int_equal(k.seq[1], 17);
    assert_int_equal(wharf_detach_keys_parse("ctrl-@,ctrl-[,ctrl-_,a,DEL", &k), 0);
    assert_int_equal(k.len, 5);
    assert_memory_equal(k.seq, "\0\033\037a\177", 5);
    assert_int_equal(wharf_detach_keys_parse("ctrl-xx", &k), -EINVAL);
    assert_int_equal(wharf_detach_keys_parse("a,,b", &k), -EINVAL);
    assert_int_equal(wharf_detach_keys_parse("", &k), -EINVAL);
    assert_int_equal(wharf_detach_keys_parse("ctrl-A", &k), -EINVAL);

    /* The sequence split over reads; held keys come back when it breaks off. */
    assert_int_equal(wharf_detach_keys_parse("ctrl-p,ctrl-q", &k), 0);
    struct wharf_escape e = {&k, 0};
    strbuf out = STRBUF_INIT;
    assert_false(wharf_escape_filter(&e, "ab\x10", 3, &out));
    assert_string_equal(strbuf_str(&out), "ab");
    assert_false(wharf_escape_filter(&e, "c", 1, &out));
    assert_string_equal(strbuf_str(&out), "ab\020c");
    assert_false(wharf_escape_filter(&e, "\x10\x10", 2, &out));
    assert_string_equal(strbuf_str(&out), "ab\020c\020");
    assert_true(wharf_escape_filter(&e, "\x11rest", 5, &out));
    assert_string_equal(strbuf_str(&out), "ab\020c\020");
    /* No keys: everything passes. */
    struct wharf_escape none = {NULL, 0};
    strbuf_reset(&out);
    assert_false(wharf_escape_filter(&none, "\x10\x11", 2, &out));
    assert_int_equal(out.len, 2);
    strbuf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_messages),        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_atomic_write_and_read), cmocka_unit_test(test_in_root_resolution),
        cmocka_unit_test(test_json_fields),           cmocka_unit_test(test_json_load_errors),
        cmocka_unit_test(test_log_formats),           cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_go_durations),          cmocka_unit_test(test_detach_keys),
        cmocka_unit_test(test_parse_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
