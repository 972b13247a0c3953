/* Unit tests of the API client against tests/tools/api_fixture.py, a small
 * Docker-API-shaped server on a unix socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static char dir[] = "/tmp/wharf-client-XXXXXX";
static char sock[128];
static pid_t server = -1;

static int start_server(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof(sock), "%s/api.sock", dir);
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return -1;
    server = fork();
    if (server == 0) {
        dup2(pipefd[1], 1);
        execlp("python3", "python3", SOURCE_ROOT "/tests/tools/api_fixture.py", sock, NULL);
        _exit(127);
    }
    close(pipefd[1]);
    char buf[16] = {0};
    ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1); /* "ready" */
    close(pipefd[0]);
    return n > 0 && strncmp(buf, "ready", 5) == 0 ? 0 : -1;
}

static int stop_server(void **state)
{
    (void)state;
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    wharf_rm_rf(dir, NULL);
    return 0;
}

static struct client *connect_client(void)
{
    char host[160];
    snprintf(host, sizeof(host), "unix://%s", sock);
    wharf_error err = {0};
    struct client *c = client_new(host, &err);
    assert_non_null(c);
    return c;
}

static void test_hosts(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct client *c = client_new("tcp://127.0.0.1:2375", &err);
    assert_non_null(c);
    assert_null(client_socket_path(c));
    client_free(c);
    assert_null(client_new("ftp://x", &err));
    assert_non_null(strstr(err.msg, "ftp://x"));
    assert_null(client_new("unix://relative", &err));
    assert_null(client_new("tcp://nohostport", &err));
    setenv("WHARF_HOST", "unix:///x/y.sock", 1);
    c = client_new(NULL, &err);
    assert_string_equal(client_socket_path(c), "/x/y.sock");
    client_free(c);
    unsetenv("WHARF_HOST");
}

static void test_ping_negotiates_version(void **state)
{
    (void)state;
    struct client *c = connect_client();
    assert_string_equal(client_api_version(c), CLIENT_API_VERSION_MAX);
    wharf_error err = {0};
    assert_int_equal(client_ping(c, &err), 0);
    assert_string_equal(client_api_version(c), "1.43");
    client_free(c);
}

static void test_json_request_and_errors(void **state)
{
    (void)state;
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    json_t *body = json_pack("{s:s}", "Image", "busybox");
    assert_int_equal(client_request(c, "POST", "/echo?name=x", body, &resp, &err), 0);
    json_decref(body);
    assert_int_equal(resp.status, 200);
    assert_string_equal(json_string_value(json_object_get(resp.json, "path")),
                        "/v1.43/echo?name=x");
    assert_string_equal(json_string_value(json_object_get(resp.json, "method")), "POST");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(resp.json, "body"), "Image")),
        "busybox");
    assert_true(json_is_null(json_object_get(resp.json, "registry_auth")));
    /* response headers by name, any case (docker cp's path stat rides in one) */
    char *ct = client_response_header(&resp, "content-type");
    assert_string_equal(ct, "application/json");
    free(ct);
    assert_null(client_response_header(&resp, "X-Docker-Container-Path-Stat"));
    client_response_release(&resp);

    /* an extra header (X-Registry-Auth for pull/push) rides on every request until dropped */
    client_set_header(c, "X-Registry-Auth: e30=");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(client_request(c, "POST", "/echo", NULL, &resp, &err), 0);
        assert_string_equal(json_string_value(json_object_get(resp.json, "registry_auth")), "e30=");
        client_response_release(&resp);
    }
    client_set_header(c, NULL);
    assert_int_equal(client_request(c, "POST", "/echo", NULL, &resp, &err), 0);
    assert_true(json_is_null(json_object_get(resp.json, "registry_auth")));
    client_response_release(&resp);

    assert_int_equal(client_request(c, "GET", "/containers/x/json", NULL, &resp, &err), 0);
    assert_int_equal(resp.status, 404);
    assert_string_equal(client_error_message(&resp), "page not found: /v1.43/containers/x/json");
    client_response_release(&resp);
    client_free(c);
}

static int collect(void *data, const char *buf, size_t len)
{
    strbuf *sb = data;
    strbuf_add(sb, buf, len);
    strbuf_addch(sb, '|'); /* marks each delivery */
    return 0;
}

static void test_stream_arrives_in_pieces(void **state)
{
    (void)state;
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    strbuf got = STRBUF_INIT;
    assert_int_equal(client_stream(c, "GET", "/stream", NULL, collect, &got, &resp, &err), 0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(strbuf_str(&got), "line 0\n|line 1\n|line 2\n|");
    strbuf_release(&got);
    client_response_release(&resp);
    client_free(c);
}

static void note_headers(void *data, long status)
{
    strbuf_addf(data, "H%ld|", status);
}

static void test_stream_notifies_headers_first(void **state)
{
    (void)state;
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    strbuf got = STRBUF_INIT;
    assert_int_equal(
        client_stream_notify(c, "GET", "/stream", NULL, note_headers, collect, &got, &resp, &err),
        0);
    assert_int_equal(resp.status, 200);
    assert_string_equal(strbuf_str(&got), "H200|line 0\n|line 1\n|line 2\n|");
    strbuf_release(&got);
    client_response_release(&resp);
    client_free(c);
}

static void test_upload_from_fd(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "%s/blob", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    char block[65536];
    memset(block, 'z', sizeof(block));
    for (int i = 0; i < 48; i++) /* 3 MiB */
        assert_int_equal(wharf_write_all(fd, block, sizeof(block)), 0);
    lseek(fd, 0, SEEK_SET);
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    assert_int_equal(client_upload(c, "POST", "/upload", "application/x-tar", fd, &resp, &err), 0);
    close(fd);
    assert_int_equal(resp.status, 200);
    assert_int_equal(json_integer_value(json_object_get(resp.json, "size")), 48 * 65536);
    assert_string_equal(json_string_value(json_object_get(resp.json, "content_type")),
                        "application/x-tar");
    client_response_release(&resp);
    client_free(c);
}

static int frames(void *data, int stream, const char *buf, size_t len)
{
    strbuf *sb = data;
    strbuf_addf(sb, "%d:%.*s;", stream, (int)len, buf);
    return 0;
}

static void test_demux_any_split(void **state)
{
    (void)state;
    const char wire[] = "\1\0\0\0\0\0\0\3abc\2\0\0\0\0\0\0\2de";
    size_t n = sizeof(wire) - 1;
    for (size_t step = 1; step <= n; step++) {
        struct client_demux d = {0};
        strbuf got = STRBUF_INIT;
        for (size_t off = 0; off < n; off += step)
            client_demux_feed(&d, wire + off, off + step > n ? n - off : step, frames, &got);
        /* Pieces may be split, but concatenated per stream they are the same. */
        strbuf norm = STRBUF_INIT;
        int last = -1;
        for (const char *p = got.buf; p && *p;) {
            int s = p[0] - '0';
            const char *e = strchr(p, ';');
            if (s != last)
                strbuf_addf(&norm, "%s%d:", last < 0 ? "" : ";", s);
            strbuf_add(&norm, p + 2, (size_t)(e - p - 2));
            last = s;
            p = e + 1;
        }
        assert_string_equal(strbuf_str(&norm), "1:abc;2:de");
        strbuf_release(&norm);
        strbuf_release(&got);
    }
}

static void test_hijack_raw_stream(void **state)
{
    (void)state;
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    strbuf pending = STRBUF_INIT;
    int fd = -1;
    assert_int_equal(client_hijack(c, "POST", "/attach?stream=1", NULL, &fd, &pending, &resp, &err), 0);
    assert_true(fd >= 0);
    /* The first frame may have come with the headers or may still be on the way. */
    char buf[64];
    while (pending.len < 13) {
        ssize_t n = read(fd, buf, sizeof(buf));
        assert_true(n > 0);
        strbuf_add(&pending, buf, (size_t)n);
    }
    assert_memory_equal(pending.buf + 8, "hello", 5);
    assert_int_equal(wharf_write_all(fd, "ping", 4), 0);
    ssize_t n = wharf_read_all(fd, buf, 4);
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "ping", 4);
    close(fd);
    strbuf_release(&pending);
    client_response_release(&resp);
    client_free(c);
}

/* A refused hijack on a connection kept alive: the body is read to its
 * Content-Length, not to a close that never comes. */
static void test_hijack_refused(void **state)
{
    (void)state;
    struct client *c = connect_client();
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    strbuf pending = STRBUF_INIT;
    int fd = 0;
    assert_int_equal(client_hijack(c, "POST", "/nope", NULL, &fd, &pending, &resp, &err), 0);
    assert_int_equal(fd, -1);
    assert_int_equal(resp.status, 404);
    assert_string_equal(client_error_message(&resp), "page not found: /v1.43/nope");
    strbuf_release(&pending);
    client_response_release(&resp);
    client_free(c);
}

static void test_unreachable_daemon(void **state)
{
    (void)state;
    wharf_error err = {0};
    struct client *c = client_new("unix:///nonexistent/wharf.sock", &err);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    assert_int_equal(client_request(c, "GET", "/info", NULL, &resp, &err), -ECONNREFUSED);
    assert_non_null(strstr(err.msg, "cannot connect to the wharf daemon at unix:///nonexistent"));
    client_response_release(&resp);
    client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_ping_negotiates_version),
        cmocka_unit_test(test_json_request_and_errors),
        cmocka_unit_test(test_stream_arrives_in_pieces),
        cmocka_unit_test(test_stream_notifies_headers_first),
        cmocka_unit_test(test_upload_from_fd),
        cmocka_unit_test(test_demux_any_split),
        cmocka_unit_test(test_hijack_raw_stream),
        cmocka_unit_test(test_hijack_refused),
        cmocka_unit_test(test_unreachable_daemon),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
