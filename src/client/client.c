/*
 * client.c — HTTP to the daemon with libcurl (unix sockets, chunked bodies,
 * keep-alive, TLS later), except the hijack, which needs the raw socket
 * after the response headers and is written by hand over connect(2).
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

struct client {
    char *socket_path; /* unix, or NULL */
    char *host_port;   /* tcp "host:port", or NULL */
    char *base_url;    /* "http://localhost" or "http://host:port" */
    char *display;     /* what the user gave, for messages */
    char version[16];
    bool pinged;
    CURL *curl;
    char *extra_header;
};

struct client *client_new(const char *host, wharf_error *err)
{
    if (!host || !*host)
        host = getenv("WHARF_HOST");
    if (!host || !*host)
        host = getenv("DOCKER_HOST");
    if (!host || !*host)
        host = CLIENT_DEFAULT_HOST;
    struct client *c = xcalloc(1, sizeof(*c));
    c->display = xstrdup(host);
    if (strncmp(host, "unix://", 7) == 0 || host[0] == '/') {
        const char *path = host[0] == '/' ? host : host + 7;
        if (*path != '/') {
            wharf_error_set(err, -EINVAL, "invalid daemon address %s: the socket path must be "
                                          "absolute", host);
            client_free(c);
            return NULL;
        }
        c->socket_path = xstrdup(path);
        c->base_url = xstrdup("http://localhost");
    } else if (strncmp(host, "tcp://", 6) == 0 || strncmp(host, "http://", 7) == 0) {
        const char *hp = strchr(host, ':') + 3;
        size_t n = strcspn(hp, "/");
        if (n == 0 || !memchr(hp, ':', n)) {
            wharf_error_set(err, -EINVAL, "invalid daemon address %s: want tcp://HOST:PORT", host);
            client_free(c);
            return NULL;
        }
        c->host_port = xasprintf("%.*s", (int)n, hp);
        c->base_url = xasprintf("http://%s", c->host_port);
    } else {
        wharf_error_set(err, -EINVAL,
                        "invalid daemon address %s: want unix:///PATH or tcp://HOST:PORT", host);
        client_free(c);
        return NULL;
    }
    snprintf(c->version, sizeof(c->version), "%s", CLIENT_API_VERSION_MAX);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c->curl = curl_easy_init();
    if (!c->curl) {
        wharf_error_set(err, -ENOMEM, "cannot initialise libcurl");
        client_free(c);
        return NULL;
    }
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->socket_path);
    free(c->host_port);
    free(c->base_url);
    free(c->display);
    free(c->extra_header);
    free(c);
}

void client_set_header(struct client *c, const char *line)
{
    free(c->extra_header);
    c->extra_header = line ? xstrdup(line) : NULL;
}

const char *client_host(const struct client *c)
{
    return c->display;
}

const char *client_socket_path(const struct client *c)
{
    return c->socket_path;
}

const char *client_api_version(const struct client *c)
{
    return c->version;
}

void client_response_release(struct client_response *r)
{
    strbuf_release(&r->body);
    strbuf_release(&r->headers);
    if (r->json)
        json_decref(r->json);
    r->json = NULL;
    r->status = 0;
}

char *client_response_header(const struct client_response *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers.buf;
    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            size_t vl = len - n - 1;
            while (vl && (*v == ' ' || *v == '\t')) {
                v++;
                vl--;
            }
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            return xasprintf("%.*s", (int)vl, v);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

const char *client_error_message(const struct client_response *r)
{
    const char *m = json_string_value(json_object_get(r->json, "message"));
    if (m)
        return m;
    return r->body.len ? strbuf_str(&r->body) : "(no message)";
}

/* "1.43" < "1.47": compare major, then minor, as numbers. */
static int version_cmp(const char *a, const char *b)
{
    long am = strtol(a, (char **)&a, 10), bm = strtol(b, (char **)&b, 10);
    if (am != bm)
        return am < bm ? -1 : 1;
    long an = *a == '.' ? strtol(a + 1, NULL, 10) : 0;
    long bn = *b == '.' ? strtol(b + 1, NULL, 10) : 0;
    return an < bn ? -1 : an > bn;
}

struct transfer {
    strbuf *body;          /* collected body */
    strbuf *headers;       /* header lines (NULL: not kept) */
    client_data_fn on_data; /* or streamed */
    client_headers_fn on_headers;
    bool headers_done;
    void *data;
    long status;
    bool stopped;
    char api_version[16];
    CURL *curl;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    size_t len = size * n;
    static const char key[] = "api-version:";
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        /* The blank line: every header of this response has arrived. */
        long status = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !t->headers_done) {
            t->headers_done = true;
            if (t->on_headers)
                t->on_headers(t->data, status);
        }
        return len;
    }
    if (t->headers) {
        /* a new status line (after a 100 Continue): its own headers */
        if (len > 5 && strncmp(buf, "HTTP/", 5) == 0)
            strbuf_reset(t->headers);
        strbuf_add(t->headers, buf, len);
    }
    if (len > sizeof(key) && strncasecmp(buf, key, sizeof(key) - 1) == 0) {
        const char *v = buf + sizeof(key) - 1;
        while (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\r\n");
        if (vl < sizeof(t->api_version))
            snprintf(t->api_version, sizeof(t->api_version), "%.*s", (int)vl, v);
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    size_t len = size * n;
    if (!t->status)
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->on_data && t->status < 400) {
        if (t->on_data(t->data, buf, len) != 0) {
            t->stopped = true;
            return 0; /* aborts the transfer */
        }
        return len;
    }
    strbuf_add(t->body, buf, len);
    return len;
}

struct upload {
    int fd;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    ssize_t got;
    do
        got = read(u->fd, buf, size * n);
    while (got < 0 && errno == EINTR);
    return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static int perform(struct client *c, const char *method, const char *path, bool versioned,
                   json_t *body, int upload_fd, const char *content_type, struct transfer *t,
                   wharf_error *err)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    _cleanup_free_ char *url = versioned ? xasprintf("%s/v%s%s", c->base_url, c->version, path)
                                         : xasprintf("%s%s", c->base_url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (c->socket_path)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "wharf-cli/" WHARF_VERSION);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    t->curl = h;
    struct curl_slist *headers = NULL;
    char *text = NULL;
    struct upload up = {upload_fd};
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (upload_fd >= 0) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ct);
        headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &up);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    /* The request is rebuilt by CUSTOMREQUEST; keep libcurl from adding Expect. */
    headers = curl_slist_append(headers, "Expect:");
    if (c->extra_header)
        headers = curl_slist_append(headers, c->extra_header);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    free(text);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t->stopped)) {
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
            return wharf_error_set(err, -ECONNREFUSED,
                                   "cannot connect to the wharf daemon at %s: is it running?",
                                   c->display);
        return wharf_error_set(err, -EIO, "%s %s: %s", method, path, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->status);
    return 0;
}

int client_ping(struct client *c, wharf_error *err)
{
    strbuf body = STRBUF_INIT;
    struct transfer t = {.body = &body};
    int r = perform(c, "GET", "/_ping", false, NULL, -1, NULL, &t, err);
    strbuf_release(&body);
    if (r < 0)
        return r;
    if (t.status != 200)
        return wharf_error_set(err, -EPROTO, "daemon at %s: /_ping answered %ld", c->display,
                               t.status);
    if (t.api_version[0] && version_cmp(t.api_version, CLIENT_API_VERSION_MAX) < 0)
        snprintf(c->version, sizeof(c->version), "%s", t.api_version);
    c->pinged = true;
    return 0;
}

static void finish(struct client_response *resp, struct transfer *t)
{
    resp->status = t->status;
    if (resp->body.len) {
        json_error_t je;
        resp->json = json_loadb(resp->body.buf, resp->body.len, JSON_DECODE_ANY, &je);
    }
}

static int ensure_ping(struct client *c, wharf_error *err)
{
    return c->pinged ? 0 : client_ping(c, err);
}

int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   struct client_response *resp, wharf_error *err)
{
    int r = ensure_ping(c, err);
    if (r < 0)
        return r;
    struct transfer t = {.body = &resp->body, .headers = &resp->headers};
    if ((r = perform(c, method, path, true, body, -1, NULL, &t, err)) < 0)
        return r;
    finish(resp, &t);
    return 0;
}

int client_stream(struct client *c, const char *method, const char *path, json_t *body,
                  client_data_fn on_data, void *data, struct client_response *resp,
                  wharf_error *err)
{
    return client_stream_notify(c, method, path, body, NULL, on_data, data, resp, err);
}

int client_stream_notify(struct client *c, const char *method, const char *path, json_t *body,
                         client_headers_fn on_headers, client_data_fn on_data, void *data,
                         struct client_response *resp, wharf_error *err)
{
    int r = ensure_ping(c, err);
    if (r < 0)
        return r;
    struct transfer t = {.body = &resp->body,
                         .headers = &resp->headers,
                         .on_data = on_data,
                         .on_headers = on_headers,
                         .data = data};
    if ((r = perform(c, method, path, true, body, -1, NULL, &t, err)) < 0)
        return r;
    finish(resp, &t);
    return 0;
}

int client_upload(struct client *c, const char *method, const char *path,
                  const char *content_type, int fd, struct client_response *resp,
                  wharf_error *err)
{
    int r = ensure_ping(c, err);
    if (r < 0)
        return r;
    struct transfer t = {.body = &resp->body, .headers = &resp->headers};
    if ((r = perform(c, method, path, true, NULL, fd, content_type, &t, err)) < 0)
        return r;
    finish(resp, &t);
    return 0;
}

int client_upload_stream(struct client *c, const char *method, const char *path,
                         const char *content_type, int fd, client_data_fn on_data, void *data,
                         struct client_response *resp, wharf_error *err)
{
    int r = ensure_ping(c, err);
    if (r < 0)
        return r;
    struct transfer t = {
        .body = &resp->body, .headers = &resp->headers, .on_data = on_data, .data = data};
    if ((r = perform(c, method, path, true, NULL, fd, content_type, &t, err)) < 0)
        return r;
    finish(resp, &t);
    return 0;
}

static int dial(struct client *c, wharf_error *err)
{
    if (c->socket_path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(c->socket_path) >= sizeof(a.sun_path))
            return wharf_error_set(err, -ENAMETOOLONG, "socket path too long: %s",
                                   c->socket_path);
        strcpy(a.sun_path, c->socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return wharf_error_errno(err, errno, "socket");
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            close(fd);
            return wharf_error_set(err, -ECONNREFUSED,
                                   "cannot connect to the wharf daemon at %s: is it running?",
                                   c->display);
        }
        return fd;
    }
    _cleanup_free_ char *hp = xstrdup(c->host_port);
    char *colon = strrchr(hp, ':');
    *colon = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(hp, colon + 1, &hints, &res) != 0 || !res)
        return wharf_error_set(err, -EHOSTUNREACH, "cannot resolve %s", c->display);
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return wharf_error_set(err, -ECONNREFUSED,
                               "cannot connect to the wharf daemon at %s: is it running?",
                               c->display);
    }
    freeaddrinfo(res);
    return fd;
}

int client_hijack(struct client *c, const char *method, const char *path, json_t *body,
                  int *fd_out, strbuf *pending, struct client_response *resp, wharf_error *err)
{
    *fd_out = -1;
    int r = ensure_ping(c, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = dial(c, err);
    if (fd < 0)
        return fd;
    char *text = body ? json_dumps(body, JSON_COMPACT) : xstrdup("");
    strbuf req = STRBUF_INIT;
    strbuf_addf(&req,
                "%s /v%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wharf-cli/%s\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\n\r\n%s",
                method, c->version, path, c->host_port ? c->host_port : "localhost",
                WHARF_VERSION, strlen(text), text);
    free(text);
    r = wharf_write_all(fd, req.buf, req.len);
    strbuf_release(&req);
    if (r < 0)
        return wharf_error_errno(err, -r, "%s %s: send", method, path);
    /* Read the status line and headers, byte runs until the blank line. */
    strbuf head = STRBUF_INIT;
    char *end = NULL;
    while (!(end = strstr(strbuf_str(&head), "\r\n\r\n"))) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0 || head.len > 65536) {
            strbuf_release(&head);
            return wharf_error_set(err, -EPROTO, "%s %s: the daemon closed the connection",
                                   method, path);
        }
        strbuf_add(&head, buf, (size_t)n);
    }
    long status = 0;
    sscanf(head.buf, "HTTP/1.%*d %ld", &status);
    size_t header_len = (size_t)(end - head.buf) + 4;
    if (status == 101 || status == 200) {
        strbuf_add(pending, head.buf + header_len, head.len - header_len);
        strbuf_release(&head);
        *fd_out = steal_fd(fd);
        return 0;
    }
    /* An error: the rest is a (small) body, Content-Length long, or up to
     * the close (the connection may stay open: keep-alive). */
    long want = -1;
    const char *cl = strcasestr(head.buf, "\r\ncontent-length:");
    if (cl && cl < head.buf + header_len)
        want = strtol(cl + strlen("\r\ncontent-length:"), NULL, 10);
    strbuf_add(&resp->body, head.buf + header_len, head.len - header_len);
    strbuf_release(&head);
    char buf[4096];
    ssize_t n;
    while ((want < 0 || (long)resp->body.len < want) && resp->body.len < 65536 &&
           (n = read(fd, buf, sizeof(buf))) > 0)
        strbuf_add(&resp->body, buf, (size_t)n);
    struct transfer t = {.status = status};
    finish(resp, &t);
    return 0;
}

int client_demux_feed(struct client_demux *d, const char *buf, size_t len,
                      client_frame_fn on_frame, void *data)
{
    while (len > 0) {
        if (d->remaining == 0) {
            size_t take = 8 - d->have < len ? 8 - d->have : len;
            memcpy(d->header + d->have, buf, take);
            d->have += take;
            buf += take;
            len -= take;
            if (d->have < 8)
                return 0;
            d->have = 0;
            d->stream = d->header[0];
            d->remaining = ((size_t)d->header[4] << 24) | ((size_t)d->header[5] << 16) |
                           ((size_t)d->header[6] << 8) | d->header[7];
            continue;
        }
        size_t take = d->remaining < len ? d->remaining : len;
        int r = on_frame(data, d->stream, buf, take);
        if (r != 0)
            return r;
        d->remaining -= take;
        buf += take;
        len -= take;
    }
    return 0;
}
