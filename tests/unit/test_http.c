/*
 * Unit tests for src/http: a real server on a unix socket in a private temp
 * dir and on 127.0.0.1 with an ephemeral port, driven by a small raw HTTP/1.1
 * client written here (so the tests see exactly what goes over the wire) and
 * by curl(1) for TLS.
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---------------------------------------------------------------- shared state */

static struct {
    char dir[256];
    char sock[300];
    http_router *router;
    http_server *server;
    int port;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_open;
    pthread_t producer;
    bool have_producer;
    int forever_rc;
    int forever_ticks;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static const char *const default_headers[] = {"Api-Version", "1.43", "Server",
                                              "Wharf/test", "Ostype", "linux", NULL};

/* ---------------------------------------------------------------- handlers */

static http_response *h_ping(http_request *req, void *ud)
{
    http_response *r = http_response_bytes(200, "text/plain; charset=utf-8", "OK", 2);
    http_response_set_header(r, "Cache-Control", "no-cache, no-store, must-revalidate");
    return r;
}

static http_response *h_container_json(http_request *req, void *ud)
{
    const char *v = http_request_api_version(req);
    return http_response_json(200, json_pack("{s:s, s:o, s:s, s:s}", "id",
                                             http_request_param(req, "id"), "version",
                                             v ? json_string(v) : json_null(), "path",
                                             http_request_path(req), "method",
                                             http_request_method(req)));
}

static http_response *h_image_json(http_request *req, void *ud)
{
    return http_response_json(200, json_pack("{s:s}", "name", http_request_param(req, "name")));
}

static http_response *h_image_list(http_request *req, void *ud)
{
    return http_response_json(200, json_pack("{s:b}", "list", 1));
}

static http_response *h_image_delete(http_request *req, void *ud)
{
    return http_response_json(200, json_pack("{s:s}", "deleted", http_request_param(req, "name")));
}

static http_response *h_query(http_request *req, void *ud)
{
    wharf_error err = {0};
    int64_t n = 7;
    if (http_request_query_int(req, "n", &n, &err) < 0)
        return http_response_from_error(&err);
    size_t count = 0;
    const char **labels = http_request_query_all(req, "label", &count);
    json_t *arr = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(arr, json_string(labels[i]));
    free(labels);
    const char *filters = http_request_query(req, "filters");
    return http_response_json(
        200, json_pack("{s:b, s:b, s:b, s:I, s:s?, s:o}", "all",
                       http_request_query_bool(req, "all", false), "flag",
                       http_request_query_bool(req, "flag", true), "missing",
                       http_request_query_bool(req, "missing", true), "n", (json_int_t)n,
                       "filters", filters, "label", arr));
}

static http_response *h_echo(http_request *req, void *ud)
{
    wharf_error err = {0};
    json_t *j = http_request_body_json(req, &err);
    if (!j)
        return http_response_from_error(&err);
    http_response *r = http_response_json(201, j);
    const char *x = http_request_header(req, "x-test");
    if (x)
        http_response_set_header(r, "X-Echo", x);
    return r;
}

static void *producer_gated(void *arg)
{
    http_stream *st = arg;
    http_stream_write(st, "first\n", 6);
    pthread_mutex_lock(&g.lock);
    while (!g.gate_open)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
    http_stream_printf(st, "second %d\n", 2);
    http_stream_close(st);
    return NULL;
}

static void *producer_forever(void *arg)
{
    http_stream *st = arg;
    int rc = 0, i;
    /* Bounded so a broken disconnect path fails the test instead of hanging. */
    for (i = 0; i < 4000; i++) {
        rc = http_stream_printf(st, "tick %d\n", i);
        if (rc < 0)
            break;
        usleep(5000);
    }
    pthread_mutex_lock(&g.lock);
    g.forever_rc = rc;
    g.forever_ticks = i;
    pthread_mutex_unlock(&g.lock);
    http_stream_close(st);
    return NULL;
}

static http_response *start_producer(void *(*fn)(void *))
{
    http_stream *st = NULL;
    http_response *r = http_response_stream(200, "text/plain", &st);
    assert_false(g.have_producer);
    assert_int_equal(pthread_create(&g.producer, NULL, fn, st), 0);
    g.have_producer = true;
    return r;
}

static void join_producer(void)
{
    assert_true(g.have_producer);
    pthread_join(g.producer, NULL);
    g.have_producer = false;
}

static http_response *h_stream(http_request *req, void *ud)
{
    return start_producer(producer_gated);
}

static http_response *h_forever(http_request *req, void *ud)
{
    return start_producer(producer_forever);
}

/* Hijack: greets, echoes everything it reads, says bye at EOF and closes. */
static void echo_hijack(int fd, void *ud)
{
    int *calls = ud;
    (*calls)++;
    send(fd, "hello\n", 6, MSG_NOSIGNAL);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
            break;
    }
    send(fd, "bye\n", 4, MSG_NOSIGNAL);
    close(fd);
}

static http_response *h_attach(http_request *req, void *ud)
{
    if (!http_request_query_bool(req, "stream", false))
        return http_response_error(400, "stream required");
    int *calls = xcalloc(1, sizeof(int));
    return http_response_hijack(echo_hijack, calls, free);
}

/* Upload: FNV-1a over the body, chunk by chunk. */
struct upload {
    uint64_t hash;
    size_t bytes, chunks;
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int on_upload(http_request *req, const void *data, size_t len, void *ud, wharf_error *err)
{
    struct upload *u = http_request_data(req);
    if (!u) {
        u = xcalloc(1, sizeof(*u));
        u->hash = 0xcbf29ce484222325ULL;
        http_request_set_data(req, u, free);
    }
    if (len >= 5 && memcmp(data, "FAIL!", 5) == 0)
        return wharf_error_set(err, -EINVAL, "upload: refused by the test");
    u->hash = fnv1a(u->hash, data, len);
    u->bytes += len;
    u->chunks++;
    return 0;
}

static http_response *h_upload_done(http_request *req, void *ud)
{
    struct upload *u = http_request_data(req);
    size_t blen;
    http_request_body(req, &blen);
    char hex[17];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)(u ? u->hash : 0));
    return http_response_json(200, json_pack("{s:s, s:I, s:I, s:I}", "hash", hex, "bytes",
                                             (json_int_t)(u ? u->bytes : 0), "chunks",
                                             (json_int_t)(u ? u->chunks : 0), "buffered",
                                             (json_int_t)blen));
}

/* Reports the verified client certificate's size and its first bytes'
 * checksum, or that there was none. */
static http_response *h_whoami(http_request *req, void *ud)
{
    size_t len = 0;
    const unsigned char *der = http_request_client_cert(req, &len);
    if (!der)
        return http_response_json(200, json_pack("{s:b}", "cert", 0));
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = sum * 31 + der[i];
    return http_response_json(200, json_pack("{s:b, s:I, s:I}", "cert", 1, "len", (json_int_t)len,
                                             "sum", (json_int_t)sum));
}

static http_router *make_router(void)
{
    http_router *r = http_router_new();
    wharf_error err = {0};
    assert_int_equal(http_router_add(r, "GET", "/_ping", h_ping, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "GET", "/containers/{id}/json", h_container_json, NULL,
                                     &err),
                     0);
    assert_int_equal(http_router_add(r, "DELETE", "/images/{name*}", h_image_delete, NULL, &err),
                     0);
    assert_int_equal(http_router_add(r, "GET", "/images/{name*}/json", h_image_json, NULL, &err),
                     0);
    assert_int_equal(http_router_add(r, "GET", "/images/json", h_image_list, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "GET", "/query", h_query, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "GET", "/whoami", h_whoami, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "POST", "/echo", h_echo, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "GET", "/stream", h_stream, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "GET", "/forever", h_forever, NULL, &err), 0);
    assert_int_equal(http_router_add(r, "POST", "/containers/{id}/attach", h_attach, NULL, &err),
                     0);
    assert_int_equal(http_router_add_upload(r, "POST", "/images/load", on_upload, h_upload_done,
                                            NULL, &err),
                     0);
    return r;
}

/* ---------------------------------------------------------------- raw client */

struct conn {
    int fd;
    char buf[1 << 16];
    size_t beg, end;
};

static void set_timeout(int fd)
{
    struct timeval tv = {.tv_sec = 15};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static struct conn *conn_unix(const char *path)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_timeout(c->fd);
    return c;
}

static struct conn *conn_tcp(int port)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    set_timeout(c->fd);
    return c;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void conn_send(struct conn *c, const void *data, size_t len)
{
    assert_int_equal(wharf_write_all(c->fd, data, len), 0);
}

static void conn_sendf(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    conn_send(c, sb.buf, sb.len);
    strbuf_release(&sb);
}

/* false on EOF */
static bool conn_fill(struct conn *c)
{
    if (c->beg == c->end)
        c->beg = c->end = 0;
    if (c->end == sizeof(c->buf)) {
        memmove(c->buf, c->buf + c->beg, c->end - c->beg);
        c->end -= c->beg;
        c->beg = 0;
    }
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0); /* a timeout here means the server stalled */
        c->end += (size_t)n;
        return n > 0;
    }
}

/* A line without its CRLF (caller frees); NULL at EOF. */
static char *conn_line(struct conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf + c->beg, '\n', c->end - c->beg);
        if (nl) {
            size_t len = (size_t)(nl - (c->buf + c->beg));
            char *line = strndup(c->buf + c->beg, len);
            c->beg += len + 1;
            if (len && line[len - 1] == '\r')
                line[len - 1] = '\0';
            return line;
        }
        if (!conn_fill(c))
            return NULL;
    }
}

/* Up to max bytes, at least 1 unless EOF (returns 0). */
static size_t conn_read_some(struct conn *c, char *out, size_t max)
{
    if (c->beg == c->end && !conn_fill(c))
        return 0;
    size_t n = c->end - c->beg < max ? c->end - c->beg : max;
    memcpy(out, c->buf + c->beg, n);
    c->beg += n;
    return n;
}

static void conn_read_exact(struct conn *c, char *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = conn_read_some(c, out + got, len - got);
        assert_true(n > 0);
        got += n;
    }
}

struct reply {
    int status;
    strbuf headers; /* "name: value\n" lines */
    strbuf body;
    bool chunked;
};

static void reply_release(struct reply *r)
{
    strbuf_release(&r->headers);
    strbuf_release(&r->body);
}

/* Case-insensitive header lookup; returns a malloc'd value or NULL. */
static char *reply_header(const struct reply *r, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = strbuf_str(&r->headers);
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            return strndup(v, (size_t)(nl - v));
        }
        p = nl + 1;
    }
    return NULL;
}

static void read_head(struct conn *c, struct reply *r)
{
    char *line = conn_line(c);
    assert_non_null(line);
    assert_int_equal(strncmp(line, "HTTP/1.", 7), 0);
    r->status = atoi(line + 9);
    free(line);
    while ((line = conn_line(c)) && *line) {
        strbuf_addf(&r->headers, "%s\n", line);
        free(line);
    }
    assert_non_null(line);
    free(line);
    char *te = reply_header(r, "Transfer-Encoding");
    r->chunked = te && strcasecmp(te, "chunked") == 0;
    free(te);
}

/* One chunk of a chunked body into sb; false at the last (0) chunk. */
static bool read_chunk(struct conn *c, strbuf *sb)
{
    char *line = conn_line(c);
    assert_non_null(line);
    size_t n = strtoul(line, NULL, 16);
    free(line);
    if (n == 0) {
        while ((line = conn_line(c)) && *line)
            free(line);
        free(line);
        return false;
    }
    char *data = xmalloc(n);
    conn_read_exact(c, data, n);
    strbuf_add(sb, data, n);
    free(data);
    line = conn_line(c);
    assert_non_null(line);
    assert_string_equal(line, "");
    free(line);
    return true;
}

static void read_body(struct conn *c, struct reply *r, bool head)
{
    if (head || r->status == 101 || r->status == 204 || r->status == 304)
        return;
    if (r->chunked) {
        while (read_chunk(c, &r->body))
            ;
        return;
    }
    char *cl = reply_header(r, "Content-Length");
    char buf[65536];
    if (cl) {
        size_t left = strtoul(cl, NULL, 10);
        free(cl);
        while (left > 0) {
            size_t n = conn_read_some(c, buf, left < sizeof(buf) ? left : sizeof(buf));
            assert_true(n > 0);
            strbuf_add(&r->body, buf, n);
            left -= n;
        }
        return;
    }
    size_t n;
    while ((n = conn_read_some(c, buf, sizeof(buf))) > 0)
        strbuf_add(&r->body, buf, n);
}

/* Sends a raw request on a new unix-socket connection and reads the reply. */
static struct reply do_raw(bool tcp, const char *req, size_t len, bool head)
{
    struct conn *c = tcp ? conn_tcp(g.port) : conn_unix(g.sock);
    conn_send(c, req, len);
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    read_body(c, &r, head);
    conn_close(c);
    return r;
}

static struct reply do_req(const char *method, const char *target, const char *body)
{
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n", method, target);
    if (body)
        strbuf_addf(&sb, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                    strlen(body), body);
    else
        strbuf_addstr(&sb, "\r\n");
    struct reply r = do_raw(false, sb.buf, sb.len, strcmp(method, "HEAD") == 0);
    strbuf_release(&sb);
    return r;
}

static json_t *reply_json(const struct reply *r)
{
    json_error_t jerr;
    json_t *j = json_loads(strbuf_str(&r->body), 0, &jerr);
    if (!j)
        fail_msg("not JSON (%s): %s", jerr.text, strbuf_str(&r->body));
    return j;
}

static void assert_json_str(json_t *j, const char *key, const char *want)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v))
        fail_msg("%s: not a string", key);
    assert_string_equal(json_string_value(v), want);
}

/* ---------------------------------------------------------------- fixture */

static int group_setup(void **state)
{
    snprintf(g.dir, sizeof(g.dir), "/tmp/test_http.%d.XXXXXX", (int)getpid());
    if (!mkdtemp(g.dir))
        return -1;
    snprintf(g.sock, sizeof(g.sock), "%s/docker.sock", g.dir);
    g.router = make_router();
    http_listener ls[] = {
        {.kind = HTTP_LISTEN_UNIX, .address = g.sock, .mode = 0600},
        {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1:0"},
    };
    http_server_config cfg = {.listeners = ls, .n_listeners = 2, .router = g.router,
                              .max_body = 1024, .headers = default_headers};
    wharf_error err = {0};
    g.server = http_server_new(&cfg, &err);
    if (!g.server) {
        fprintf(stderr, "server: %s\n", err.msg);
        return -1;
    }
    g.port = http_server_port(g.server, 1);
    if (g.port <= 0 || http_server_start(g.server, &err) < 0) {
        fprintf(stderr, "start: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    http_server_free(g.server);
    http_router_free(g.router);
    wharf_error err = {0};
    wharf_rm_rf(g.dir, &err);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_ping_and_default_headers(void **state)
{
    struct reply r = do_req("GET", "/_ping", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(strbuf_str(&r.body), "OK");
    char *v = reply_header(&r, "Api-Version");
    assert_string_equal(v, "1.43");
    free(v);
    v = reply_header(&r, "Ostype");
    assert_string_equal(v, "linux");
    free(v);
    v = reply_header(&r, "Server");
    assert_string_equal(v, "Wharf/test");
    free(v);
    reply_release(&r);

    /* HEAD falls back to the GET route: headers, no body. */
    r = do_req("HEAD", "/v1.43/_ping", NULL);
    assert_int_equal(r.status, 200);
    v = reply_header(&r, "Api-Version");
    assert_string_equal(v, "1.43");
    free(v);
    assert_int_equal(r.body.len, 0);
    reply_release(&r);

    struct stat st;
    assert_int_equal(stat(g.sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_routing_params_and_version(void **state)
{
    struct reply r = do_req("GET", "/v1.43/containers/abc123/json", NULL);
    assert_int_equal(r.status, 200);
    char *ct = reply_header(&r, "Content-Type");
    assert_string_equal(ct, "application/json");
    free(ct);
    json_t *j = reply_json(&r);
    assert_json_str(j, "id", "abc123");
    assert_json_str(j, "version", "1.43");
    assert_json_str(j, "path", "/containers/abc123/json");
    json_decref(j);
    reply_release(&r);

    r = do_req("GET", "/containers/web-1/json", NULL);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    assert_json_str(j, "id", "web-1");
    assert_true(json_is_null(json_object_get(j, "version")));
    json_decref(j);
    reply_release(&r);

    /* A version-looking segment that is not one is just a path. */
    r = do_req("GET", "/vx/containers/a/json", NULL);
    assert_int_equal(r.status, 404);
    reply_release(&r);

    /* {id} is exactly one non-empty segment. */
    r = do_req("GET", "/containers//json", NULL);
    assert_int_equal(r.status, 404);
    reply_release(&r);
    r = do_req("GET", "/containers/a/b/json", NULL);
    assert_int_equal(r.status, 404);
    reply_release(&r);

    /* A NUL byte would cut the id short: refused. */
    r = do_req("GET", "/containers/a%00b/json", NULL);
    assert_int_equal(r.status, 400);
    reply_release(&r);
    r = do_req("GET", "/query?filters=x%00y", NULL);
    assert_int_equal(r.status, 400);
    reply_release(&r);
}

static void test_greedy_params(void **state)
{
    struct reply r = do_req("GET", "/v1.41/images/registry:5000/library/busybox:1.36/json", NULL);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_json_str(j, "name", "registry:5000/library/busybox:1.36");
    json_decref(j);
    reply_release(&r);

    /* The literal route wins over the greedy one. */
    r = do_req("GET", "/images/json", NULL);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    assert_true(json_is_true(json_object_get(j, "list")));
    json_decref(j);
    reply_release(&r);

    /* Percent-decoded, and a greedy tail at the end of a pattern. */
    r = do_req("GET", "/images/a%2Fb/json", NULL);
    j = reply_json(&r);
    assert_json_str(j, "name", "a/b");
    json_decref(j);
    reply_release(&r);

    r = do_req("DELETE", "/images/quay.io/org/app@sha256:00ff", NULL);
    assert_int_equal(r.status, 200);
    j = reply_json(&r);
    assert_json_str(j, "deleted", "quay.io/org/app@sha256:00ff");
    json_decref(j);
    reply_release(&r);
}

static void test_404_405(void **state)
{
    struct reply r = do_req("GET", "/v1.43/nope", NULL);
    assert_int_equal(r.status, 404);
    char *ct = reply_header(&r, "Content-Type");
    assert_string_equal(ct, "application/json");
    free(ct);
    json_t *j = reply_json(&r);
    assert_json_str(j, "message", "page not found");
    json_decref(j);
    reply_release(&r);

    r = do_req("POST", "/containers/abc/json", "{}");
    assert_int_equal(r.status, 405);
    j = reply_json(&r);
    assert_non_null(json_string_value(json_object_get(j, "message")));
    json_decref(j);
    reply_release(&r);
}

static void test_query(void **state)
{
    struct reply r = do_req(
        "GET",
        "/query?all=1&flag=False&n=-12&label=x&label=y+z&label=a%2Bb"
        "&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D",
        NULL);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_true(json_is_true(json_object_get(j, "all")));
    assert_true(json_is_false(json_object_get(j, "flag")));
    assert_true(json_is_true(json_object_get(j, "missing")));
    assert_int_equal(json_integer_value(json_object_get(j, "n")), -12);
    assert_json_str(j, "filters", "{\"label\":[\"a=b\"]}");
    json_t *labels = json_object_get(j, "label");
    assert_int_equal(json_array_size(labels), 3);
    assert_string_equal(json_string_value(json_array_get(labels, 0)), "x");
    assert_string_equal(json_string_value(json_array_get(labels, 1)), "y z");
    assert_string_equal(json_string_value(json_array_get(labels, 2)), "a+b");
    json_decref(j);
    reply_release(&r);

    /* "?all" without a value is "" and so false; an absent int keeps its default. */
    r = do_req("GET", "/query?all&flag=yes", NULL);
    j = reply_json(&r);
    assert_true(json_is_false(json_object_get(j, "all")));
    assert_true(json_is_true(json_object_get(j, "flag")));
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 7);
    assert_int_equal(json_array_size(json_object_get(j, "label")), 0);
    json_decref(j);
    reply_release(&r);

    r = do_req("GET", "/query?n=12abc", NULL);
    assert_int_equal(r.status, 400);
    j = reply_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "n"));
    json_decref(j);
    reply_release(&r);
}

static void test_json_body_echo(void **state)
{
    const char *doc = "{\"a\":[1,2],\"b\":{\"c\":\"d\"}}\n";
    strbuf req = STRBUF_INIT;
    strbuf_addf(&req, "POST /v1.43/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "X-Test: hi there\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s", strlen(doc), doc);
    struct reply r = do_raw(true, req.buf, req.len, false);
    strbuf_release(&req);
    assert_int_equal(r.status, 201);
    char *x = reply_header(&r, "X-Echo");
    assert_string_equal(x, "hi there");
    free(x);
    json_t *j = reply_json(&r);
    json_t *want = json_loads("{\"a\":[1,2],\"b\":{\"c\":\"d\"}}", 0, NULL);
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);
    reply_release(&r);

    r = do_req("POST", "/echo", "{not json");
    assert_int_equal(r.status, 400);
    j = reply_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "invalid JSON"));
    json_decref(j);
    reply_release(&r);

    /* Chunked request bodies are reassembled. */
    const char *chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "4\r\n{\"k\"\r\n5\r\n:\"v\"}\r\n0\r\n\r\n";
    r = do_raw(false, chunked, strlen(chunked), false);
    assert_int_equal(r.status, 201);
    j = reply_json(&r);
    assert_json_str(j, "k", "v");
    json_decref(j);
    reply_release(&r);
}

static void test_body_limit(void **state)
{
    /* Declared too large: refused before the body is read. */
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Content-Length: 4096\r\n\r\n");
    struct reply r = do_raw(false, sb.buf, sb.len, false);
    assert_int_equal(r.status, 413);
    json_t *j = reply_json(&r);
    assert_non_null(json_string_value(json_object_get(j, "message")));
    json_decref(j);
    reply_release(&r);
    strbuf_reset(&sb);

    /* Chunked, so only found out while reading. */
    strbuf_addstr(&sb, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; i++) {
        strbuf_addstr(&sb, "200\r\n");
        for (int k = 0; k < 512; k++)
            strbuf_addch(&sb, ' ');
        strbuf_addstr(&sb, "\r\n");
    }
    strbuf_addstr(&sb, "0\r\n\r\n");
    r = do_raw(false, sb.buf, sb.len, false);
    assert_int_equal(r.status, 413);
    reply_release(&r);
    strbuf_release(&sb);

    /* Exactly at the limit is fine. */
    strbuf_addch(&sb, '"');
    for (int i = 0; i < 1022; i++)
        strbuf_addch(&sb, 'x');
    strbuf_addch(&sb, '"');
    r = do_req("POST", "/echo", sb.buf);
    assert_int_equal(r.status, 201);
    reply_release(&r);
    strbuf_release(&sb);
}

static void test_streaming_response(void **state)
{
    g.gate_open = false;
    struct conn *c = conn_unix(g.sock);
    conn_sendf(c, "GET /v1.43/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.chunked);
    /* The first chunk arrives while the producer is still held at the gate. */
    assert_true(read_chunk(c, &r.body));
    assert_string_equal(strbuf_str(&r.body), "first\n");
    pthread_mutex_lock(&g.lock);
    g.gate_open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    while (read_chunk(c, &r.body))
        ;
    assert_string_equal(strbuf_str(&r.body), "first\nsecond 2\n");
    join_producer();

    /* The connection stays usable after a streamed response (keep-alive). */
    conn_sendf(c, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply r2 = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r2);
    read_body(c, &r2, false);
    assert_int_equal(r2.status, 200);
    assert_string_equal(strbuf_str(&r2.body), "OK");
    reply_release(&r);
    reply_release(&r2);
    conn_close(c);
}

static void test_client_disconnect_stops_producer(void **state)
{
    g.forever_rc = 0;
    struct conn *c = conn_tcp(g.port);
    conn_sendf(c, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    assert_int_equal(r.status, 200);
    assert_true(read_chunk(c, &r.body));
    assert_int_equal(strncmp(strbuf_str(&r.body), "tick 0\n", 7), 0);
    conn_close(c);
    join_producer();
    assert_int_equal(g.forever_rc, -EPIPE);
    assert_true(g.forever_ticks < 4000);
    reply_release(&r);
}

static void test_concurrent_requests(void **state)
{
    /* A long stream stays open while other requests complete. */
    struct conn *c = conn_unix(g.sock);
    conn_sendf(c, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    assert_true(read_chunk(c, &r.body));
    for (int i = 0; i < 5; i++) {
        struct reply p = do_req("GET", "/_ping", NULL);
        assert_int_equal(p.status, 200);
        reply_release(&p);
    }
    /* ... and is still streaming. */
    strbuf_reset(&r.body);
    assert_true(read_chunk(c, &r.body));
    assert_int_equal(strncmp(strbuf_str(&r.body), "tick ", 5), 0);
    conn_close(c);
    join_producer();
    assert_int_equal(g.forever_rc, -EPIPE);
    reply_release(&r);
}

static void expect_bytes(struct conn *c, const char *want)
{
    size_t len = strlen(want);
    char *got = xcalloc(1, len + 1);
    conn_read_exact(c, got, len);
    assert_string_equal(got, want);
    free(got);
}

static void test_upgrade_hijack(void **state)
{
    for (int tcp = 0; tcp < 2; tcp++) {
        struct conn *c = tcp ? conn_tcp(g.port) : conn_unix(g.sock);
        conn_sendf(c, "POST /v1.43/containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n"
                      "Host: api\r\nContent-Type: text/plain\r\n"
                      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
        struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
        read_head(c, &r);
        assert_int_equal(r.status, 101);
        char *v = reply_header(&r, "Content-Type");
        assert_string_equal(v, "application/vnd.docker.raw-stream");
        free(v);
        v = reply_header(&r, "Upgrade");
        assert_string_equal(v, "tcp");
        free(v);
        expect_bytes(c, "hello\n");
        conn_send(c, "ping", 4);
        expect_bytes(c, "ping");
        /* A bigger payload both ways, larger than one relay buffer. */
        size_t big = 300 * 1024;
        char *data = xmalloc(big), *back = xmalloc(big);
        for (size_t i = 0; i < big; i++)
            data[i] = (char)('a' + i % 26);
        /* Send in pieces while reading, so neither side's buffers fill up. */
        size_t sent = 0, got = 0;
        while (got < big) {
            if (sent < big) {
                size_t n = big - sent < 16384 ? big - sent : 16384;
                conn_send(c, data + sent, n);
                sent += n;
            }
            got += conn_read_some(c, back + got, sent - got);
        }
        assert_memory_equal(data, back, big);
        free(data);
        free(back);
        /* Half-close: the handler reads EOF, says bye, closes; we read EOF. */
        shutdown(c->fd, SHUT_WR);
        expect_bytes(c, "bye\n");
        char tmp[8];
        assert_int_equal(conn_read_some(c, tmp, sizeof(tmp)), 0);
        reply_release(&r);
        conn_close(c);
    }
}

static void test_hijack_without_upgrade(void **state)
{
    const char *req = "POST /containers/abc/attach?stream=1 HTTP/1.1\r\nHost: api\r\n"
                      "Content-Length: 0\r\n\r\n";
    struct reply r = do_raw(false, req, strlen(req), false);
    assert_int_equal(r.status, 200);
    /* No input is forwarded, so the handler reads EOF at once. */
    assert_string_equal(strbuf_str(&r.body), "hello\nbye\n");
    reply_release(&r);
}

static void test_streaming_upload(void **state)
{
    size_t total = 6 * 1024 * 1024 + 123;
    unsigned char *data = xmalloc(total);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    char want[17];
    snprintf(want, sizeof(want), "%016llx",
             (unsigned long long)fnv1a(0xcbf29ce484222325ULL, data, total));

    struct conn *c = conn_unix(g.sock);
    /* Well above max_body (1 KiB): upload routes have no limit. */
    conn_sendf(c, "POST /v1.43/images/load?quiet=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  "Content-Type: application/x-tar\r\nContent-Length: %zu\r\n\r\n",
               total);
    for (size_t off = 0; off < total; off += 65536)
        conn_send(c, data + off, total - off < 65536 ? total - off : 65536);
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    read_body(c, &r, false);
    assert_int_equal(r.status, 200);
    json_t *j = reply_json(&r);
    assert_json_str(j, "hash", want);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), total);
    assert_true(json_integer_value(json_object_get(j, "chunks")) > 10);
    assert_int_equal(json_integer_value(json_object_get(j, "buffered")), 0);
    json_decref(j);
    reply_release(&r);
    conn_close(c);
    free(data);

    /* A body function's error becomes the response. */
    const char *bad = "POST /images/load HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "Content-Length: 5\r\n\r\nFAIL!";
    r = do_raw(false, bad, strlen(bad), false);
    assert_int_equal(r.status, 400);
    j = reply_json(&r);
    assert_json_str(j, "message", "upload: refused by the test");
    json_decref(j);
    reply_release(&r);
}

static int run_cmd(const char *fmt, ...) WHARF_PRINTF(1, 2);
static int run_cmd(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    int rc = system(sb.buf);
    strbuf_release(&sb);
    return rc;
}

static void test_curl_unix(void **state)
{
    char out[400];
    snprintf(out, sizeof(out), "%s/curl.out", g.dir);
    assert_int_equal(run_cmd("curl -sS --max-time 10 --unix-socket %s -o %s "
                             "http://docker/v1.43/containers/viacurl/json",
                             g.sock, out),
                     0);
    json_t *j = wjson_load_file(out, NULL);
    assert_non_null(j);
    assert_json_str(j, "id", "viacurl");
    json_decref(j);
    /* docker CLI's first request. */
    assert_int_equal(run_cmd("curl -sS --max-time 10 --head --unix-socket %s -o %s "
                             "http://docker/_ping",
                             g.sock, out),
                     0);
    char *text = NULL;
    assert_int_equal(wharf_read_file(out, &text, NULL, NULL), 0);
    assert_non_null(strstr(text, "200"));
    assert_non_null(strcasestr(text, "Api-Version: 1.43"));
    free(text);
}

static void test_tls(void **state)
{
    char dir[300], cert[320], key[320], out[320];
    snprintf(dir, sizeof(dir), "%s/tls", g.dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(out, sizeof(out), "%s/out.json", dir);
    assert_int_equal(wharf_mkdir_p(dir, 0700, NULL), 0);
    assert_int_equal(run_cmd("openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
                             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
                             "-keyout %s -out %s >/dev/null 2>&1",
                             key, cert),
                     0);
    http_listener ls = {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1:0", .tls_cert = cert,
                        .tls_key = key};
    http_server_config cfg = {.listeners = &ls, .n_listeners = 1, .router = g.router,
                              .headers = default_headers};
    wharf_error err = {0};
    http_server *s = http_server_new(&cfg, &err);
    if (!s)
        fail_msg("%s", err.msg);
    if (http_server_start(s, &err) < 0)
        fail_msg("%s", err.msg);
    int port = http_server_port(s, 0);
    assert_int_equal(run_cmd("curl -sS --max-time 10 --cacert %s -o %s "
                             "https://127.0.0.1:%d/v1.43/containers/secure/json",
                             cert, out, port),
                     0);
    json_t *j = wjson_load_file(out, NULL);
    assert_non_null(j);
    assert_json_str(j, "id", "secure");
    assert_json_str(j, "version", "1.43");
    json_decref(j);
    /* Plain HTTP on the TLS port does not get through. */
    assert_true(run_cmd("curl -s --max-time 5 -o /dev/null http://127.0.0.1:%d/_ping", port) != 0);
    http_server_free(s);

    /* A broken key is reported by start, not by a crash or a silent listener. */
    assert_int_equal(wharf_write_file_atomic(key, "garbage", 7, 0600, NULL), 0);
    s = http_server_new(&cfg, &err);
    assert_non_null(s);
    assert_int_equal(http_server_start(s, &err), -EIO);
    assert_non_null(strstr(err.msg, "127.0.0.1:0"));
    http_server_free(s);
}

/* Client certificates: one signed by the listener's client CA is reported
 * (as DER), one from another CA, an expired one and none at all are not, and
 * none of them stops the request from being served. */
static void test_tls_client_cert(void **state)
{
    char dir[300], out[340];
    snprintf(dir, sizeof(dir), "%s/tlsc", g.dir);
    snprintf(out, sizeof(out), "%s/out.json", dir);
    assert_int_equal(wharf_mkdir_p(dir, 0700, NULL), 0);
    assert_int_equal(
        run_cmd("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-days 1 -subj /CN=ca -keyout ca.key -out ca.crt >/dev/null 2>&1 && "
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
                "-subj /CN=other -keyout other.key -out other.crt >/dev/null 2>&1 && "
                "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                "-addext subjectAltName=IP:127.0.0.1 -keyout srv.key -out srv.crt >/dev/null 2>&1 "
                "&& for who in good other; do openssl req -newkey ec -pkeyopt "
                "ec_paramgen_curve:P-256 -nodes -subj /CN=$who/O=team -keyout $who-c.key -out "
                "$who.csr >/dev/null 2>&1; done && "
                "openssl x509 -req -in good.csr -CA ca.crt -CAkey ca.key -days 1 -set_serial 2 "
                "-out good-c.crt >/dev/null 2>&1 && "
                "openssl x509 -req -in other.csr -CA other.crt -CAkey other.key -days 1 "
                "-set_serial 3 -out other-c.crt >/dev/null 2>&1 && "
                "openssl x509 -req -in good.csr -CA ca.crt -CAkey ca.key -set_serial 4 "
                "-days -1 -out old-c.crt "
                ">/dev/null 2>&1 && openssl x509 -in good-c.crt -outform DER -out good-c.der",
                dir),
        0);
    char cert[340], key[340], ca[340];
    snprintf(cert, sizeof(cert), "%s/srv.crt", dir);
    snprintf(key, sizeof(key), "%s/srv.key", dir);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    http_listener ls = {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1:0", .tls_cert = cert,
                        .tls_key = key, .tls_client_ca = ca};
    http_server_config cfg = {.listeners = &ls, .n_listeners = 1, .router = g.router};
    wharf_error err = {0};
    http_server *s = http_server_new(&cfg, &err);
    if (!s)
        fail_msg("%s", err.msg);
    if (http_server_start(s, &err) < 0)
        fail_msg("%s", err.msg);
    int port = http_server_port(s, 0);

    char path[400];
    snprintf(path, sizeof(path), "%s/good-c.der", dir);
    char *der = NULL;
    size_t der_len = 0;
    assert_int_equal(wharf_read_file(path, &der, &der_len, NULL), 0);
    unsigned sum = 0;
    for (size_t i = 0; i < der_len; i++)
        sum = sum * 31 + (unsigned char)der[i];
    free(der);

    static const char *const who[] = {"good", "other", "old", NULL};
    for (size_t i = 0; i < 4; i++) {
        char args[400] = "";
        if (who[i])
            snprintf(args, sizeof(args), "--cert %s/%s-c.crt --key %s/%s-c.key", dir, who[i], dir,
                     strcmp(who[i], "old") == 0 ? "good" : who[i]);
        assert_int_equal(run_cmd("curl -sS --max-time 10 --cacert %s %s -o %s "
                                 "https://127.0.0.1:%d/whoami",
                                 cert, args, out, port),
                         0);
        json_t *j = wjson_load_file(out, NULL);
        assert_non_null(j);
        bool has = json_is_true(json_object_get(j, "cert"));
        assert_int_equal(has, i == 0);
        if (i == 0) {
            assert_int_equal(json_integer_value(json_object_get(j, "len")), (json_int_t)der_len);
            assert_int_equal(json_integer_value(json_object_get(j, "sum")), (json_int_t)sum);
        }
        json_decref(j);
    }
    http_server_free(s);

    /* A client CA without a server certificate is refused up front. */
    http_listener bad = {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1:0", .tls_client_ca = ca};
    cfg.listeners = &bad;
    assert_null(http_server_new(&cfg, &err));
    assert_int_equal(err.code, -EINVAL);
}

static void test_listener_errors_and_stop(void **state)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/other.sock", g.dir);
    wharf_error err = {0};

    /* A stale socket file (nobody listening) is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    http_listener ls = {.kind = HTTP_LISTEN_UNIX, .address = path};
    http_server_config cfg = {.listeners = &ls, .n_listeners = 1, .router = g.router};
    http_server *s = http_server_new(&cfg, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(http_server_start(s, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0660);

    /* A live one is not. */
    http_server *s2 = http_server_new(&cfg, &err);
    assert_null(s2);
    assert_int_equal(err.code, -EADDRINUSE);
    assert_int_equal(stat(path, &st), 0);

    /* Not a socket: refused, left alone. */
    char file[420];
    snprintf(file, sizeof(file), "%s/plain", g.dir);
    assert_int_equal(wharf_write_file_atomic(file, "x", 1, 0600, NULL), 0);
    http_listener lf = {.kind = HTTP_LISTEN_UNIX, .address = file};
    http_server_config cf = {.listeners = &lf, .n_listeners = 1, .router = g.router};
    assert_null(http_server_new(&cf, &err));
    assert_int_equal(err.code, -EEXIST);
    assert_int_equal(stat(file, &st), 0);

    http_listener bad = {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1"};
    http_server_config cb = {.listeners = &bad, .n_listeners = 1, .router = g.router};
    assert_null(http_server_new(&cb, &err));
    assert_int_equal(err.code, -EINVAL);

    /* Stop with a stream and a hijacked connection open: both end, the
     * producer sees EPIPE, and the socket file goes away. */
    g.forever_rc = 0;
    struct conn *c = conn_unix(path);
    conn_sendf(c, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n");
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    assert_true(read_chunk(c, &r.body));
    struct conn *h = conn_unix(path);
    conn_sendf(h, "POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: x\r\n"
                  "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    struct reply rh = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(h, &rh);
    assert_int_equal(rh.status, 101);
    expect_bytes(h, "hello\n");

    http_server_stop(s);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    join_producer();
    assert_int_equal(g.forever_rc, -EPIPE);
    /* The hijacked client sees its connection end. */
    char buf[64];
    size_t n;
    while ((n = conn_read_some(h, buf, sizeof(buf))) > 0)
        ;
    http_server_stop(s); /* idempotent */
    http_server_free(s);
    reply_release(&r);
    reply_release(&rh);
    conn_close(c);
    conn_close(h);
}

/* GET /_ping on an open connection; returns the status. */
static int ping_on(struct conn *c)
{
    conn_sendf(c, "GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    struct reply r = {.headers = STRBUF_INIT, .body = STRBUF_INIT};
    read_head(c, &r);
    read_body(c, &r, false);
    int status = r.status;
    assert_string_equal(strbuf_str(&r.body), "OK");
    reply_release(&r);
    return status;
}

/* Sockets handed over already listening (systemd's socket activation): the
 * server serves on them, makes them close-on-exec, closes them at stop but
 * leaves a unix socket's file to whoever bound it; anything but a listening
 * stream socket is refused and closed. */
static void test_fd_listeners(void **state)
{
    wharf_error err = {0};
    char path[400];
    snprintf(path, sizeof(path), "%s/activated.sock", g.dir);
    int ufd = socket(AF_UNIX, SOCK_STREAM, 0); /* no CLOEXEC, as systemd passes it */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    assert_int_equal(bind(ufd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ufd, 16), 0);
    int tfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in si = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(tfd, (struct sockaddr *)&si, sizeof(si)), 0);
    assert_int_equal(listen(tfd, 16), 0);
    socklen_t sl = sizeof(si);
    assert_int_equal(getsockname(tfd, (struct sockaddr *)&si, &sl), 0);

    http_listener ls[2] = {{.kind = HTTP_LISTEN_FD, .address = "fd://3", .fd = ufd},
                           {.kind = HTTP_LISTEN_FD, .address = "fd://4", .fd = tfd}};
    http_server_config cfg = {.listeners = ls, .n_listeners = 2, .router = g.router};
    http_server *s = http_server_new(&cfg, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(fcntl(ufd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(http_server_port(s, 0), -EINVAL);
    assert_int_equal(http_server_port(s, 1), ntohs(si.sin_port));
    assert_int_equal(http_server_start(s, &err), 0);
    struct conn *c = conn_unix(path);
    assert_int_equal(ping_on(c), 200);
    conn_close(c);
    c = conn_tcp(ntohs(si.sin_port));
    assert_int_equal(ping_on(c), 200);
    conn_close(c);
    http_server_free(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    unlink(path);
    assert_int_equal(fcntl(ufd, F_GETFD), -1);
    assert_int_equal(fcntl(tfd, F_GETFD), -1);

    /* Not listening, not a stream, not a socket: refused, and closed. */
    int bad[3];
    bad[0] = socket(AF_INET, SOCK_STREAM, 0);
    bad[1] = socket(AF_UNIX, SOCK_DGRAM, 0);
    bad[2] = open("/dev/null", O_RDONLY);
    const char *want[3] = {"not a listening stream socket", "not a listening stream socket",
                           "not a socket"};
    for (int i = 0; i < 3; i++) {
        http_listener b = {.kind = HTTP_LISTEN_FD, .address = "fd://9", .fd = bad[i]};
        http_server_config cb = {.listeners = &b, .n_listeners = 1, .router = g.router};
        assert_null(http_server_new(&cb, &err));
        assert_non_null(strstr(err.msg, want[i]));
        assert_non_null(strstr(err.msg, "fd://9"));
        assert_int_equal(fcntl(bad[i], F_GETFD), -1);
    }
}

static void test_router_patterns(void **state)
{
    http_router *r = http_router_new();
    wharf_error err = {0};
    assert_int_equal(http_router_add(r, "GET", "no-slash", h_ping, NULL, &err), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/{}", h_ping, NULL, &err), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/{x}/{x}", h_ping, NULL, &err), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/b{x}", h_ping, NULL, &err), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/{x y}", h_ping, NULL, &err), -EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/{x*}/b/{y}", h_ping, NULL, &err), 0);
    http_router_free(r);

    assert_int_equal(http_status_from_errno(-ENOENT), 404);
    assert_int_equal(http_status_from_errno(-EEXIST), 409);
    assert_int_equal(http_status_from_errno(-EINVAL), 400);
    assert_int_equal(http_status_from_errno(-EIO), 500);
    http_response *resp = http_response_error(409, "conflict %d", 1);
    assert_int_equal(http_response_status(resp), 409);
    http_response_free(resp);
    http_stream *st = NULL;
    resp = http_response_stream(200, NULL, &st);
    assert_false(http_stream_closed(st));
    http_response_free(resp); /* never sent: the producer learns at once */
    assert_true(http_stream_closed(st));
    assert_int_equal(http_stream_write(st, "x", 1), -EPIPE);
    http_stream_close(st);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(170); /* a hang is a failure, not a stuck CI job */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_patterns),
        cmocka_unit_test(test_ping_and_default_headers),
        cmocka_unit_test(test_routing_params_and_version),
        cmocka_unit_test(test_greedy_params),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_json_body_echo),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_streaming_response),
        cmocka_unit_test(test_client_disconnect_stops_producer),
        cmocka_unit_test(test_concurrent_requests),
        cmocka_unit_test(test_upgrade_hijack),
        cmocka_unit_test(test_hijack_without_upgrade),
        cmocka_unit_test(test_streaming_upload),
        cmocka_unit_test(test_curl_unix),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_tls_client_cert),
        cmocka_unit_test(test_listener_errors_and_stop),
        cmocka_unit_test(test_fd_listeners),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
