/*
 * test_shim.c — unit tests of the shim's files: the CRI log writer (full,
 * partial and long lines, CR stripping, rotation by size and count), the
 * exit.json writer and the runtime-log error scanner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "shim.h"

struct record {
    char stream[8];
    char tag;
    char *content;
};

struct fixture {
    char dir[64];
    char *log;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_shim.%d.XXXXXX", (int)getpid());
    assert_non_null(mkdtemp(f->dir));
    f->log = xasprintf("%s/container.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    wharf_error err = {0};
    assert_int_equal(wharf_rm_rf(f->dir, &err), 0);
    free(f->log);
    free(f);
    return 0;
}

static bool valid_timestamp(const char *s, size_t len)
{
    /* 2026-11-22T05:12:03.123456789Z */
    if (len != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[19] != '.' || s[29] != 'Z')
        return false;
    for (size_t i = 0; i < 29; i++) {
        if (i == 4 || i == 7 || i == 10 || i == 13 || i == 16 || i == 19)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* Parses every record of a CRI log file, checking the format of each. */
static struct record *read_records(const char *path, size_t *count)
{
    char *text = NULL;
    size_t len = 0;
    wharf_error err = {0};
    assert_int_equal(wharf_read_file(path, &text, &len, &err), 0);
    struct record *recs = NULL;
    size_t n = 0;
    char *p = text;
    while (p < text + len) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        assert_non_null(nl); /* every record ends with a newline */
        char *sp1 = memchr(p, ' ', (size_t)(nl - p));
        assert_non_null(sp1);
        assert_true(valid_timestamp(p, (size_t)(sp1 - p)));
        char *sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1));
        assert_non_null(sp2);
        recs = xrealloc(recs, (n + 1) * sizeof(*recs));
        struct record *r = &recs[n++];
        size_t slen = (size_t)(sp2 - sp1 - 1);
        assert_true(slen == 6);
        memcpy(r->stream, sp1 + 1, slen);
        r->stream[slen] = '\0';
        assert_true(strcmp(r->stream, "stdout") == 0 || strcmp(r->stream, "stderr") == 0);
        r->tag = sp2[1];
        assert_true(r->tag == 'F' || r->tag == 'P');
        assert_int_equal(sp2[2], ' ');
        size_t clen = (size_t)(nl - (sp2 + 3));
        r->content = xmalloc(clen + 1);
        memcpy(r->content, sp2 + 3, clen);
        r->content[clen] = '\0';
        p = nl + 1;
    }
    free(text);
    *count = n;
    return recs;
}

static void free_records(struct record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(recs[i].content);
    free(recs);
}

static struct shim_log *open_log(const char *path, uint64_t max_size, unsigned max_files,
                                 bool strip_cr)
{
    struct shim_log *log = NULL;
    wharf_error err = {0};
    assert_int_equal(shim_log_open(path, max_size, max_files, strip_cr, &log, &err), 0);
    assert_non_null(log);
    return log;
}

static void log_write(struct shim_log *log, int stream, const char *s)
{
    wharf_error err = {0};
    assert_int_equal(shim_log_write(log, stream, s, strlen(s), &err), 0);
}

static void test_full_lines(void **state)
{
    struct fixture *f = *state;
    struct shim_log *log = open_log(f->log, 0, 1, false);
    log_write(log, SHIM_STREAM_STDOUT, "one\ntwo\n");
    log_write(log, SHIM_STREAM_STDERR, "oops\n");
    log_write(log, SHIM_STREAM_STDOUT, "\n"); /* an empty line is a record too */
    shim_log_close(log);

    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].stream, "stdout");
    assert_int_equal(r[0].tag, 'F');
    assert_string_equal(r[0].content, "one");
    assert_string_equal(r[1].content, "two");
    assert_string_equal(r[2].stream, "stderr");
    assert_int_equal(r[2].tag, 'F');
    assert_string_equal(r[2].content, "oops");
    assert_string_equal(r[3].stream, "stdout");
    assert_string_equal(r[3].content, "");
    free_records(r, n);
}

static void test_partial_lines(void **state)
{
    struct fixture *f = *state;
    struct shim_log *log = open_log(f->log, 0, 1, false);
    /* A line arriving in pieces is one record; the streams do not mix. */
    log_write(log, SHIM_STREAM_STDOUT, "hel");
    log_write(log, SHIM_STREAM_STDERR, "err-a");
    log_write(log, SHIM_STREAM_STDOUT, "lo wor");
    log_write(log, SHIM_STREAM_STDOUT, "ld\ntail");
    log_write(log, SHIM_STREAM_STDERR, "-b\n");
    wharf_error err = {0};
    /* End of output without a newline: the tail is a partial record. */
    assert_int_equal(shim_log_flush(log, SHIM_STREAM_STDOUT, &err), 0);
    assert_int_equal(shim_log_flush(log, SHIM_STREAM_STDOUT, &err), 0); /* nothing left */
    log_write(log, SHIM_STREAM_STDERR, "unterminated");
    shim_log_close(log); /* flushes the stderr tail */

    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 4);
    assert_string_equal(r[0].stream, "stdout");
    assert_int_equal(r[0].tag, 'F');
    assert_string_equal(r[0].content, "hello world");
    assert_string_equal(r[1].stream, "stderr");
    assert_int_equal(r[1].tag, 'F');
    assert_string_equal(r[1].content, "err-a-b");
    assert_string_equal(r[2].stream, "stdout");
    assert_int_equal(r[2].tag, 'P');
    assert_string_equal(r[2].content, "tail");
    assert_string_equal(r[3].stream, "stderr");
    assert_int_equal(r[3].tag, 'P');
    assert_string_equal(r[3].content, "unterminated");
    free_records(r, n);
}

static void test_long_lines(void **state)
{
    struct fixture *f = *state;
    struct shim_log *log = open_log(f->log, 0, 1, false);
    size_t total = 2 * SHIM_LOG_LINE_MAX + 10;
    char *line = xmalloc(total + 1);
    for (size_t i = 0; i < total; i++)
        line[i] = (char)('a' + i % 26);
    line[total] = '\n';
    wharf_error err = {0};
    /* Fed in odd-sized chunks, as reads from a pipe would be. */
    for (size_t off = 0; off < total + 1;) {
        size_t chunk = total + 1 - off < 7000 ? total + 1 - off : 7000;
        assert_int_equal(shim_log_write(log, SHIM_STREAM_STDOUT, line + off, chunk, &err), 0);
        off += chunk;
    }
    /* Exactly the limit still fits one full record. */
    char *exact = xmalloc(SHIM_LOG_LINE_MAX + 1);
    memset(exact, 'z', SHIM_LOG_LINE_MAX);
    exact[SHIM_LOG_LINE_MAX] = '\n';
    assert_int_equal(shim_log_write(log, SHIM_STREAM_STDERR, exact, SHIM_LOG_LINE_MAX + 1, &err),
                     0);
    shim_log_close(log);

    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 4);
    assert_int_equal(r[0].tag, 'P');
    assert_int_equal(strlen(r[0].content), SHIM_LOG_LINE_MAX);
    assert_int_equal(r[1].tag, 'P');
    assert_int_equal(strlen(r[1].content), SHIM_LOG_LINE_MAX);
    assert_int_equal(r[2].tag, 'F');
    assert_int_equal(strlen(r[2].content), 10);
    /* Joined, the pieces are the original line. */
    char *joined = xasprintf("%s%s%s", r[0].content, r[1].content, r[2].content);
    assert_memory_equal(joined, line, total);
    assert_string_equal(r[3].stream, "stderr");
    assert_int_equal(r[3].tag, 'F');
    assert_int_equal(strlen(r[3].content), SHIM_LOG_LINE_MAX);
    free(joined);
    free(exact);
    free(line);
    free_records(r, n);
}

static void test_strip_cr(void **state)
{
    struct fixture *f = *state;
    struct shim_log *log = open_log(f->log, 0, 1, true);
    log_write(log, SHIM_STREAM_STDOUT, "/dev/pts/0\r\n");
    log_write(log, SHIM_STREAM_STDOUT, "split\r");
    log_write(log, SHIM_STREAM_STDOUT, "\n");
    log_write(log, SHIM_STREAM_STDOUT, "in\rside\r\n");
    shim_log_close(log);
    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 3);
    assert_string_equal(r[0].content, "/dev/pts/0");
    assert_string_equal(r[1].content, "split");
    assert_string_equal(r[2].content, "in\rside");
    free_records(r, n);
}

static void test_append_existing(void **state)
{
    struct fixture *f = *state;
    struct shim_log *log = open_log(f->log, 0, 1, false);
    log_write(log, SHIM_STREAM_STDOUT, "first\n");
    shim_log_close(log);
    log = open_log(f->log, 0, 1, false);
    log_write(log, SHIM_STREAM_STDOUT, "second\n");
    shim_log_close(log);
    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].content, "first");
    assert_string_equal(r[1].content, "second");
    free_records(r, n);
}

static off_t size_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return st.st_size;
}

/* Record length: 30 (time) + 1 + 6 + 1 + 1 + 1 + content + 1. */
#define RECORD_OVERHEAD 41

static void test_rotation_count(void **state)
{
    struct fixture *f = *state;
    /* Room for exactly 3 records of "line-NNN" (8 bytes) per file. */
    uint64_t max = 3 * (RECORD_OVERHEAD + 8);
    struct shim_log *log = open_log(f->log, max, 3, false);
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line-%03d\n", i);
        log_write(log, SHIM_STREAM_STDOUT, line);
    }
    shim_log_close(log);

    char *p1 = xasprintf("%s.1", f->log);
    char *p2 = xasprintf("%s.2", f->log);
    char *p3 = xasprintf("%s.3", f->log);
    assert_true(size_of(f->log) > 0 && (uint64_t)size_of(f->log) <= max);
    assert_int_equal(size_of(p1), (off_t)max);
    assert_int_equal(size_of(p2), (off_t)max);
    assert_int_equal(size_of(p3), -1); /* max-files 3: live + 2 rotated */

    /* 20 lines, 3 per file: live holds 18-19, .1 holds 15-17, .2 holds 12-14. */
    const char *paths[] = {p2, p1, f->log};
    int expect = 12;
    for (int k = 0; k < 3; k++) {
        size_t n;
        struct record *r = read_records(paths[k], &n);
        assert_int_equal(n, k == 2 ? 2 : 3);
        for (size_t i = 0; i < n; i++) {
            char want[16];
            snprintf(want, sizeof(want), "line-%03d", expect++);
            assert_string_equal(r[i].content, want);
        }
        free_records(r, n);
    }
    assert_int_equal(expect, 20);
    free(p1);
    free(p2);
    free(p3);
}

static void test_rotation_single_file(void **state)
{
    struct fixture *f = *state;
    uint64_t max = 2 * (RECORD_OVERHEAD + 8);
    struct shim_log *log = open_log(f->log, max, 1, false);
    for (int i = 0; i < 5; i++) {
        char line[32];
        snprintf(line, sizeof(line), "line-%03d\n", i);
        log_write(log, SHIM_STREAM_STDERR, line);
    }
    shim_log_close(log);
    char *p1 = xasprintf("%s.1", f->log);
    assert_int_equal(size_of(p1), -1);
    /* Truncated and restarted: only the last line remains. */
    size_t n;
    struct record *r = read_records(f->log, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].stream, "stderr");
    assert_string_equal(r[0].content, "line-004");
    free_records(r, n);
    free(p1);
}

static void test_rotation_oversized_record(void **state)
{
    struct fixture *f = *state;
    /* A record bigger than the limit still goes into a fresh file whole. */
    struct shim_log *log = open_log(f->log, 50, 2, false);
    log_write(log, SHIM_STREAM_STDOUT, "short\n");
    log_write(log, SHIM_STREAM_STDOUT,
              "a line much longer than fifty bytes once it has its header\n");
    shim_log_close(log);
    char *p1 = xasprintf("%s.1", f->log);
    size_t n;
    struct record *r = read_records(p1, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].content, "short");
    free_records(r, n);
    r = read_records(f->log, &n);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].content, "a line much longer than fifty bytes once it has its header");
    free_records(r, n);
    free(p1);
}

static void test_log_open_error(void **state)
{
    struct fixture *f = *state;
    char *bad = xasprintf("%s/missing/dir/container.log", f->dir);
    struct shim_log *log = NULL;
    wharf_error err = {0};
    assert_true(shim_log_open(bad, 0, 1, false, &log, &err) == -ENOENT);
    assert_null(log);
    assert_non_null(strstr(err.msg, "missing/dir/container.log"));
    free(bad);
}

static int child_status(int how)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (how < 0)
            raise(-how);
        _exit(how);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static json_t *load_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        fail_msg("invalid JSON (%s): %s", jerr.text, text);
    return j;
}

static void test_exit_status(void **state)
{
    struct timespec when = {1700000000, 5};
    struct shim_exit ex;
    shim_exit_from_status(&ex, child_status(3), &when);
    assert_int_equal(ex.exit_code, 3);
    assert_int_equal(ex.signal, 0);
    assert_false(ex.oom_killed);
    shim_exit_from_status(&ex, child_status(-SIGKILL), &when);
    assert_int_equal(ex.exit_code, 137);
    assert_int_equal(ex.signal, SIGKILL);
    shim_exit_from_status(&ex, child_status(0), &when);
    assert_int_equal(ex.exit_code, 0);
}

static void test_exit_json(void **state)
{
    struct fixture *f = *state;
    struct shim_exit ex = {
        .exit_code = 137, .signal = 9, .exited_at = {1700000000, 123456789}, .oom_killed = true};
    char *path = xasprintf("%s/exit.json", f->dir);
    wharf_error err = {0};
    const char *id = "we\"ird\\id\n\x01";
    assert_int_equal(shim_exit_write(path, id, &ex, &err), 0);
    char *text = NULL;
    assert_int_equal(wharf_read_file(path, &text, NULL, &err), 0);
    json_t *j = load_json(text);
    assert_string_equal(json_string_value(json_object_get(j, "id")), id);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 137);
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 9);
    assert_true(json_is_true(json_object_get(j, "oom_killed")));
    assert_string_equal(json_string_value(json_object_get(j, "exited_at")),
                        "2023-11-14T22:13:20.123456789Z");
    json_decref(j);
    free(text);

    ex = (struct shim_exit){.exit_code = 3, .exited_at = {0, 0}};
    char buf[512];
    int n = shim_exit_format("c1", &ex, buf, sizeof(buf));
    assert_true(n > 0 && (size_t)n == strlen(buf));
    j = load_json(buf);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 0);
    assert_true(json_is_false(json_object_get(j, "oom_killed")));
    assert_string_equal(json_string_value(json_object_get(j, "exited_at")),
                        "1970-01-01T00:00:00.000000000Z");
    json_decref(j);
    /* Too small a buffer is an error, not a truncated document. */
    assert_int_equal(shim_exit_format("c1", &ex, buf, 40), -ENOSPC);
    /* No temporary file is left next to it. */
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    assert_int_equal(size_of(tmp), -1);
    free(tmp);
    free(path);
}

static void test_json_escape(void **state)
{
    char buf[64];
    assert_int_equal(shim_json_escape("plain", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "plain");
    assert_true(shim_json_escape("a\"b\\c\nd\te\x1f\x7f", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "a\\\"b\\\\c\\nd\\te\\u001f\\u007f");
    /* UTF-8 passes through unchanged. */
    assert_true(shim_json_escape("caf\xc3\xa9", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "caf\xc3\xa9");
    assert_int_equal(shim_json_escape("12345", buf, 5), -ENOSPC);
    assert_int_equal(shim_json_escape("1234", buf, 5), 4);
    assert_int_equal(shim_json_escape("\n", buf, 2), -ENOSPC);
}

static void test_runtime_log_error(void **state)
{
    char msg[128];
    const char *log =
        "{\"level\":\"info\",\"msg\":\"starting\",\"time\":\"t\"}\n"
        "{\"level\":\"error\",\"msg\":\"first failure\",\"time\":\"t\"}\n"
        "{\"level\":\"warning\",\"msg\":\"not this\",\"time\":\"t\"}\n"
        "{\"level\": \"error\", \"msg\": \"open \\\"config.json\\\": no such file\\n\\u00e9\", "
        "\"time\":\"t\"}\n"
        "{\"level\":\"info\",\"msg\":\"after\",\"time\":\"t\"}\n";
    int n = shim_runtime_log_error(log, msg, sizeof(msg));
    assert_true(n > 0);
    assert_string_equal(msg, "open \"config.json\": no such file\n\xc3\xa9");
    assert_int_equal(n, (int)strlen(msg));

    /* No trailing newline; "msg" before "level". */
    assert_true(shim_runtime_log_error("{\"msg\":\"m2\",\"level\":\"error\"}", msg, sizeof(msg)) >
                0);
    assert_string_equal(msg, "m2");
    /* A fatal line counts as an error. */
    assert_true(shim_runtime_log_error("{\"level\":\"fatal\",\"msg\":\"m3\"}\n", msg, sizeof(msg)) >
                0);
    assert_string_equal(msg, "m3");
    assert_int_equal(
        shim_runtime_log_error("{\"level\":\"info\",\"msg\":\"x\"}\n", msg, sizeof(msg)), -ENOENT);
    assert_int_equal(shim_runtime_log_error("", msg, sizeof(msg)), -ENOENT);
    /* A level that merely starts with "error" is not an error line. */
    assert_int_equal(
        shim_runtime_log_error("{\"level\":\"errorish\",\"msg\":\"x\"}", msg, sizeof(msg)),
        -ENOENT);
    /* An unterminated message is ignored rather than read past the line. */
    assert_int_equal(
        shim_runtime_log_error("{\"level\":\"error\",\"msg\":\"cut\n{}\n", msg, sizeof(msg)),
        -ENOENT);
    /* A long message is cut to the buffer, still terminated. */
    char small[6];
    assert_true(shim_runtime_log_error("{\"level\":\"error\",\"msg\":\"0123456789\"}", small,
                                       sizeof(small)) > 0);
    assert_string_equal(small, "01234");
}

static void test_format_time(void **state)
{
    char buf[48];
    struct timespec ts = {86400 + 3661, 7};
    assert_string_equal(shim_format_time(&ts, buf, sizeof(buf)), "1970-01-02T01:01:01.000000007Z");
}

static void test_config_validation(void **state)
{
    struct fixture *f = *state;
    struct shim_config cfg;
    wharf_error err = {0};
    shim_config_init(&cfg);
    assert_int_equal(shim_config_finalize(&cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--id"));
    cfg.id = xstrdup("bad/id");
    cfg.bundle = xstrdup(f->dir);
    cfg.state_dir = xasprintf("%s/state", f->dir);
    cfg.runtime = xstrdup("/bin/true");
    assert_int_equal(shim_config_finalize(&cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "bad/id"));
    free(cfg.id);
    cfg.id = xstrdup("good-id.1");
    assert_int_equal(shim_config_finalize(&cfg, &err), 0);
    char *want = xasprintf("%s/state/container.log", f->dir);
    assert_string_equal(cfg.log_path, want);
    free(want);
    free(cfg.bundle);
    cfg.bundle = xasprintf("%s/no-such-bundle", f->dir);
    assert_int_equal(shim_config_finalize(&cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no-such-bundle"));
    free(cfg.bundle);
    cfg.bundle = xstrdup(f->dir);
    free(cfg.runtime);
    cfg.runtime = xasprintf("%s/not-a-runtime", f->dir);
    assert_int_equal(shim_config_finalize(&cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--runtime"));
    free(cfg.runtime);
    cfg.runtime = xstrdup("sh"); /* found in PATH, made absolute */
    assert_int_equal(shim_config_finalize(&cfg, &err), 0);
    assert_true(cfg.runtime[0] == '/');
    shim_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_cr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_single_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_oversized_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_open_error, setup, teardown),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test_setup_teardown(test_exit_json, setup, teardown),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_runtime_log_error),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test_setup_teardown(test_config_validation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
