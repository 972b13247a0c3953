/*
 * The libmicrohttpd glue: listeners, one MHD daemon per listener, the access
 * handler that turns MHD's callbacks into http_request/http_response, chunked
 * streams, and connection hijack.
 *
 * Threading model. Every daemon runs MHD_USE_THREAD_PER_CONNECTION, so a
 * handler or a stream may block its own connection for as long as it likes
 * (`logs --follow`, `events`, `wait`) without holding anyone else up. Stream
 * readers block in poll() on three fds: the data source, the client socket
 * (POLLRDHUP: the client went away) and the server's quit eventfd (stop).
 *
 * Hijack. MHD hands an upgraded connection over as a socket the application
 * must not close itself (it ends it with MHD_upgrade_action), and for TLS the
 * socket is MHD's end of an internal socketpair served by the connection
 * thread, so the upgrade callback must return promptly. We therefore give the
 * handler one end of a socketpair of our own, run its function on a thread,
 * and relay bytes (with half-closes) on another; the relay ends the MHD
 * connection when either side is done. That also lets bytes MHD read ahead
 * of the upgrade ("extra_in") reach the handler first.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define RELAY_BUF (64 * 1024)
#define STREAM_BLOCK (32 * 1024)

struct listener_state {
    enum http_listener_kind kind;
    char *address; /* for messages */
    char *unix_path; /* the socket file we created, removed at stop */
    int fd;          /* ours until start, then MHD's */
    int port;
    char *tls_cert, *tls_key; /* PEM text */
    char *tls_client_ca;      /* PEM text, or NULL: no client certificates */
    struct MHD_Daemon *mhd;
};

struct http_server {
    http_router *router;
    size_t max_body;
    struct http_kv headers;
    struct listener_state *ls;
    size_t n_ls;
    int quit_fd; /* eventfd: readable once the server stops */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t n_threads; /* hijack relay and handler threads alive */
    bool started, stopping, stopped;

    /* the trimmer gives freed heap back to the system once requests stop */
    pthread_t trimmer;
    bool trimmer_started;
    atomic_uint completed;        /* requests completed since the last trim */
    _Atomic double last_completed; /* monotonic ms */
};

struct http_hijack {
    http_server *server;
    http_hijack_fn fn;
    void *userdata;
    void (*userdata_free)(void *);
    struct MHD_UpgradeResponseHandle *urh;
    int client_fd; /* MHD's upgraded socket (not ours to close) */
    int relay_fd;  /* our end of the socketpair */
    int user_fd;   /* the handler's end */
    char *extra;   /* bytes MHD read past the request */
    size_t extra_len;
};

struct fd_reader {
    int fd;
    int client_fd;
    int quit_fd;
};

/* ---------------------------------------------------------------- threads */

static int spawn_detached(http_server *s, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&s->lock);
    s->n_threads++;
    pthread_mutex_unlock(&s->lock);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_lock(&s->lock);
        s->n_threads--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return -rc;
    }
    return 0;
}

/* The last thing a detached server thread does: after the unlock it touches
 * nothing of the server, which stop may free as soon as the count is 0. */
static void thread_done(http_server *s)
{
    pthread_mutex_lock(&s->lock);
    s->n_threads--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void wait_threads(http_server *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->n_threads > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* ---------------------------------------------------------------- logging */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    wlog_debug("http: libmicrohttpd: %s", buf);
}

/* ---------------------------------------------------------------- parsing */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into a new string (caller frees); '+' is a
 * space only in queries (Go's url.QueryUnescape vs PathUnescape).
 * A malformed escape is kept literally. */
static char *percent_decode(const char *s, size_t len, bool plus_is_space, size_t *out_len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

/* Sets *bad when a name or value decodes to something holding a NUL byte. */
static void parse_query(struct http_kv *q, const char *s, bool *bad)
{
    while (*s) {
        size_t len = strcspn(s, "&");
        if (len > 0) {
            const char *eq = memchr(s, '=', len);
            size_t klen = eq ? (size_t)(eq - s) : len;
            size_t nk, nv;
            _cleanup_free_ char *k = percent_decode(s, klen, true, &nk);
            _cleanup_free_ char *v =
                eq ? percent_decode(eq + 1, len - klen - 1, true, &nv) : xstrdup("");
            if (!eq)
                nv = 0;
            if (strlen(k) != nk || strlen(v) != nv)
                *bad = true;
            http_kv_add(q, k, nk, v, nv);
        }
        s += len;
        if (*s == '&')
            s++;
    }
}

/* "/v1.43/containers/json" -> api_version "1.43", path "/containers/json". */
static void split_version(struct http_request *req, char *decoded)
{
    if (decoded[0] == '/' && decoded[1] == 'v') {
        size_t n = strspn(decoded + 2, "0123456789.");
        char end = decoded[2 + n];
        if (n > 0 && (decoded[2] >= '0' && decoded[2] <= '9') && (end == '/' || end == '\0')) {
            req->api_version = strndup(decoded + 2, n);
            req->path = xstrdup(end ? decoded + 2 + n : "/");
            if (!req->api_version)
                abort();
            free(decoded);
            return;
        }
    }
    req->path = decoded;
}

/* MHD's URI log callback sees the raw request target before MHD unescapes
 * it, which is the only way to tell "%2B" from "+" in a query. Its return
 * value becomes the connection's request context. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_request *req = xcalloc(1, sizeof(*req));
    size_t plen = strcspn(uri, "?"), dlen;
    char *path = percent_decode(uri, plen, false, &dlen);
    /* "%00" would silently cut names short in every C string after this. */
    if (strlen(path) != dlen)
        req->bad_target = true;
    split_version(req, path);
    if (uri[plen] == '?')
        parse_query(&req->query, uri + plen + 1, &req->bad_target);
    return req;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct http_kv *kv = cls;
    http_kv_add(kv, key, strlen(key), value, value ? strlen(value) : 0);
    return MHD_YES;
}

/* The client's certificate, when it sent one that verifies against the
 * listener's trust list (MHD loaded tls_client_ca into the session's
 * credentials; GnuTLS asks for a certificate but leaves verifying it to us). */
static void collect_client_cert(struct MHD_Connection *conn, struct http_request *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return;
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);
    if (!chain || n == 0)
        return;
    unsigned status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
        wlog_debug("http: a TLS client certificate did not verify (status 0x%x)", status);
        return;
    }
    req->client_cert = xmalloc(chain[0].size ? chain[0].size : 1);
    memcpy(req->client_cert, chain[0].data, chain[0].size);
    req->client_cert_len = chain[0].size;
}

/* ---------------------------------------------------------------- streams */

static ssize_t fd_reader_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct fd_reader *r = cls;
    for (;;) {
        struct pollfd p[3] = {
            {.fd = r->fd, .events = POLLIN},
            {.fd = r->client_fd, .events = POLLRDHUP},
            {.fd = r->quit_fd, .events = POLLIN},
        };
        int n = poll(p, 3, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (p[2].revents)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (p[0].revents) {
            ssize_t k = read(r->fd, buf, max);
            if (k > 0)
                return k;
            if (k == 0)
                return MHD_CONTENT_READER_END_OF_STREAM;
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void fd_reader_free(void *cls)
{
    struct fd_reader *r = cls;
    /* Closing our end is what tells a producer the client is gone. */
    close(r->fd);
    free(r);
}

static struct MHD_Response *fd_response(http_server *s, struct MHD_Connection *conn, int fd)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct fd_reader *r = xcalloc(1, sizeof(*r));
    r->fd = fd;
    r->client_fd = ci ? ci->connect_fd : -1;
    r->quit_fd = s->quit_fd;
    struct MHD_Response *mr =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, fd_reader_read, r,
                                          fd_reader_free);
    if (!mr)
        fd_reader_free(r);
    return mr;
}

/* ---------------------------------------------------------------- hijack */

static void hijack_free(struct http_hijack *h)
{
    if (!h)
        return;
    if (h->userdata_free)
        h->userdata_free(h->userdata);
    free(h->extra);
    free(h);
}

struct relay_dir {
    int from, to;
    char *buf;
    size_t off, len;
    bool eof;  /* read EOF from `from` */
    bool shut; /* EOF passed on to `to` (or nothing more will be) */
};

/* Returns false on a hard error (the relay ends). */
static bool relay_read(struct relay_dir *d)
{
    ssize_t n = recv(d->from, d->buf, RELAY_BUF, 0);
    if (n > 0) {
        d->off = 0;
        d->len = (size_t)n;
    } else if (n == 0) {
        d->eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
        return false;
    }
    return true;
}

static bool relay_write(struct relay_dir *d)
{
    ssize_t n = send(d->to, d->buf + d->off, d->len, MSG_NOSIGNAL);
    if (n >= 0) {
        d->off += (size_t)n;
        d->len -= (size_t)n;
    } else if (errno != EAGAIN && errno != EINTR) {
        return false;
    }
    return true;
}

static void relay(struct http_hijack *h)
{
    int a = h->client_fd, b = h->relay_fd;
    fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
    fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
    _cleanup_free_ char *buf_ab = xmalloc(h->extra_len > RELAY_BUF ? h->extra_len : RELAY_BUF);
    _cleanup_free_ char *buf_ba = xmalloc(RELAY_BUF);
    struct relay_dir ab = {.from = a, .to = b, .buf = buf_ab};
    struct relay_dir ba = {.from = b, .to = a, .buf = buf_ba};
    if (h->extra_len) {
        memcpy(buf_ab, h->extra, h->extra_len);
        ab.len = h->extra_len;
    }
    /* "gone": the peer closed both directions (POLLHUP), so nothing more can
     * be delivered to it; the other direction is flushed, then we end. */
    bool a_gone = false, b_gone = false;
    for (;;) {
        if (a_gone) {
            ba.len = 0;
            ba.eof = ba.shut = true;
        }
        if (b_gone) {
            ab.len = 0;
            ab.eof = ab.shut = true;
        }
        if (ab.eof && ab.len == 0 && !ab.shut) {
            shutdown(b, SHUT_WR);
            ab.shut = true;
        }
        if (ba.eof && ba.len == 0 && !ba.shut) {
            shutdown(a, SHUT_WR);
            ba.shut = true;
        }
        if (ab.shut && ba.shut)
            break;
        short ev_a = (short)((!ab.eof && ab.len == 0 ? POLLIN : 0) | (ba.len ? POLLOUT : 0));
        short ev_b = (short)((!ba.eof && ba.len == 0 ? POLLIN : 0) | (ab.len ? POLLOUT : 0));
        struct pollfd p[3] = {
            {.fd = (ev_a || !a_gone) ? a : -1, .events = ev_a},
            {.fd = (ev_b || !b_gone) ? b : -1, .events = ev_b},
            {.fd = h->server->quit_fd, .events = POLLIN},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[2].revents || (p[0].revents & POLLERR) || (p[1].revents & POLLERR))
            break;
        if ((ev_a & POLLIN) && (p[0].revents & (POLLIN | POLLHUP)) && !relay_read(&ab))
            break;
        if ((ev_b & POLLIN) && (p[1].revents & (POLLIN | POLLHUP)) && !relay_read(&ba))
            break;
        if (p[0].revents & POLLHUP)
            a_gone = true;
        if (p[1].revents & POLLHUP)
            b_gone = true;
        if (ab.len && !b_gone && (p[1].revents & POLLOUT) && !relay_write(&ab))
            break;
        if (ba.len && !a_gone && (p[0].revents & POLLOUT) && !relay_write(&ba))
            break;
    }
}

static void *relay_thread(void *arg)
{
    struct http_hijack *h = arg;
    http_server *s = h->server;
    relay(h);
    close(h->relay_fd);
    MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(h->extra);
    free(h);
    thread_done(s);
    return NULL;
}

/* The user's half: owns fn's userdata (and user_fd, which fn closes). */
struct hijack_user {
    http_server *server;
    http_hijack_fn fn;
    void *userdata;
    void (*userdata_free)(void *);
    int fd;
};

static void *user_thread(void *arg)
{
    struct hijack_user *u = arg;
    http_server *s = u->server;
    u->fn(u->fd, u->userdata);
    if (u->userdata_free)
        u->userdata_free(u->userdata);
    free(u);
    thread_done(s);
    return NULL;
}

/* Starts fn on its own thread with fd; on failure closes fd and frees the
 * userdata. Moves fn/userdata out of h. */
static int start_user(http_server *s, struct http_hijack *h, int fd)
{
    struct hijack_user *u = xcalloc(1, sizeof(*u));
    *u = (struct hijack_user){s, h->fn, h->userdata, h->userdata_free, fd};
    h->userdata = NULL;
    h->userdata_free = NULL;
    int rc = spawn_detached(s, user_thread, u);
    if (rc < 0) {
        wlog_error("http: hijack: cannot start handler thread: %s", strerror(-rc));
        close(fd);
        if (u->userdata_free)
            u->userdata_free(u->userdata);
        free(u);
    }
    return rc;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    struct http_hijack *h = cls;
    struct http_request *req = con_cls;
    http_server *s = h->server;
    if (req && req->hijack == h)
        req->hijack = NULL; /* ours from here on */

    pthread_mutex_lock(&s->lock);
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    int sv[2];
    if (stopping || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        hijack_free(h);
        return;
    }
    h->urh = urh;
    h->client_fd = sock;
    h->relay_fd = sv[0];
    h->user_fd = sv[1];
    if (extra_in_size) {
        h->extra = xmalloc(extra_in_size);
        memcpy(h->extra, extra_in, extra_in_size);
        h->extra_len = extra_in_size;
    }
    /* The user's thread first: if the relay cannot start, nothing has the
     * user's fd but that thread, which then just reads EOF. */
    start_user(s, h, sv[1]);
    if (spawn_detached(s, relay_thread, h) < 0) {
        wlog_error("http: hijack: cannot start relay thread");
        close(h->relay_fd);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        hijack_free(h);
    }
}

/* A client without "Connection: Upgrade": 200 and the handler's output as
 * a plain body that ends with the connection (HTTP/1.0 style: no chunking,
 * no length). MHD keeps the client's socket, so input is not forwarded. */
static struct MHD_Response *hijack_fallback(http_server *s, struct MHD_Connection *conn,
                                            struct http_hijack *h)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return NULL;
    shutdown(sv[0], SHUT_WR);
    struct MHD_Response *mr = fd_response(s, conn, sv[0]);
    if (!mr) {
        close(sv[1]);
        return NULL;
    }
    MHD_set_response_options(mr, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    start_user(s, h, sv[1]);
    return mr;
}

/* ---------------------------------------------------------------- requests */

static enum MHD_Result queue(http_server *s, struct MHD_Connection *conn,
                             struct http_request *req, http_response *resp)
{
    struct MHD_Response *mr = NULL;
    int status = resp->status;
    switch (resp->kind) {
    case HTTP_RESP_BUFFER:
        if (resp->len == 0) {
            mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        } else {
            mr = MHD_create_response_from_buffer(resp->len, resp->data, MHD_RESPMEM_MUST_FREE);
            if (mr)
                resp->data = NULL;
        }
        break;
    case HTTP_RESP_FD:
        mr = fd_response(s, conn, resp->fd);
        resp->fd = -1;
        break;
    case HTTP_RESP_HIJACK: {
        struct http_hijack *h = xcalloc(1, sizeof(*h));
        h->server = s;
        h->fn = resp->hijack_fn;
        h->userdata = resp->hijack_userdata;
        h->userdata_free = resp->hijack_userdata_free;
        resp->hijack_userdata_free = NULL;
        if (http_request_wants_upgrade(req)) {
            mr = MHD_create_response_for_upgrade(on_upgrade, h);
            if (mr) {
                /* Until MHD calls on_upgrade, the request owns h (freed
                 * when the request ends if the upgrade never happens). */
                req->hijack = h;
                status = MHD_HTTP_SWITCHING_PROTOCOLS;
                MHD_add_response_header(mr, "Connection", "Upgrade");
                MHD_add_response_header(mr, "Upgrade", "tcp");
            } else {
                hijack_free(h);
            }
        } else {
            mr = hijack_fallback(s, conn, h);
            hijack_free(h);
        }
        break;
    }
    }
    if (!mr) {
        http_response_free(resp);
        wlog_error("http: %s %s: cannot create the response", req->method, req->path);
        return MHD_NO;
    }
    for (size_t i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(mr, resp->headers.names[i], resp->headers.values[i]);
    for (size_t i = 0; i < s->headers.n; i++) {
        if (!http_kv_get(&resp->headers, s->headers.names[i], true))
            MHD_add_response_header(mr, s->headers.names[i], s->headers.values[i]);
    }
    http_response_free(resp);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, mr);
    MHD_destroy_response(mr);
    if (rc != MHD_YES)
        wlog_error("http: %s %s: libmicrohttpd refused the response (status %d)", req->method,
                   req->path, status);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    http_server *s = cls;
    struct http_request *req = *con_cls;
    if (!req) /* on_uri always runs first; this is a safety net */
        return MHD_NO;

    if (!req->method) {
        /* First call: headers are in; the body (if any) is not. */
        req->method = xstrdup(method);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &req->headers);
        collect_client_cert(conn, req);
        if (req->bad_target)
            return queue(s, conn, req,
                         http_response_error(400, "invalid request target: NUL byte in path or "
                                                  "query"));
        switch (http_router_match(s->router, req->method, req->path, &req->route, &req->params)) {
        case HTTP_MATCH_NO_PATH:
            return queue(s, conn, req, http_response_error(404, "page not found"));
        case HTTP_MATCH_NO_METHOD:
            return queue(s, conn, req,
                         http_response_error(405, "method %s not allowed for %s", req->method,
                                             req->path));
        case HTTP_MATCH_OK:
            break;
        }
        const char *cl = http_request_header(req, "Content-Length");
        if (!req->route->on_body && cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == 0 && *end == '\0' && n > s->max_body)
                return queue(s, conn, req,
                             http_response_error(413, "request body of %llu bytes exceeds the "
                                                      "limit of %zu bytes",
                                                 n, s->max_body));
        }
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->body_failed)
            return MHD_YES; /* discard the rest, answer at the end */
        if (req->route->on_body) {
            int rc = req->route->on_body(req, upload_data, n, req->route->userdata,
                                         &req->body_error);
            if (rc < 0) {
                req->body_failed = true;
                if (req->body_error.code == 0)
                    wharf_error_set(&req->body_error, rc, "%s %s: request body rejected",
                                    req->method, req->path);
            }
        } else if (req->body.len + n > s->max_body) {
            req->too_large = true;
            strbuf_release(&req->body);
        } else {
            strbuf_add(&req->body, upload_data, n);
        }
        return MHD_YES;
    }

    http_response *resp;
    if (req->too_large)
        resp = http_response_error(413, "request body exceeds the limit of %zu bytes",
                                   s->max_body);
    else if (req->body_failed)
        resp = http_response_from_error(&req->body_error);
    else
        resp = req->route->fn(req, req->route->userdata);
    if (!resp)
        resp = http_response_error(500, "internal error: no response for %s %s", req->method,
                                   req->path);
    return queue(s, conn, req, resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_request *req = *con_cls;
    if (!req)
        return;
    /* A hijack whose upgrade never happened (client gone before the 101). */
    hijack_free(req->hijack);
    http_request_release(req);
    free(req);
    *con_cls = NULL;
    struct http_server *s = cls;
    atomic_store(&s->last_completed, wharf_now_ms());
    atomic_fetch_add(&s->completed, 1);
}

/* Once no request completed for TRIM_QUIET_MS after some did: malloc_trim,
 * so a daemon's resident memory falls back after a burst of work instead of
 * keeping its peak (glibc keeps freed heap otherwise). */
#define TRIM_QUIET_MS 200
static void *trimmer(void *ud)
{
    http_server *s = ud;
    for (;;) {
        struct pollfd p = {.fd = s->quit_fd, .events = POLLIN};
        if (poll(&p, 1, TRIM_QUIET_MS) > 0)
            return NULL;
        if (atomic_load(&s->completed) &&
            wharf_now_ms() - atomic_load(&s->last_completed) >= TRIM_QUIET_MS) {
            atomic_store(&s->completed, 0);
            malloc_trim(0);
        }
    }
}

/* ---------------------------------------------------------------- listeners */

static int bind_unix(struct listener_state *l, const http_listener *cfg, wharf_error *err)
{
    const char *path = cfg->address;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return wharf_error_set(err, -ENAMETOOLONG, "listener unix://%s: path too long", path);
    strcpy(sa.sun_path, path);

    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wharf_error_errno(err, errno, "listener unix://%s: socket", path);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return wharf_error_set(err, -EEXIST, "listener unix://%s: exists and is not a socket",
                                   path);
        /* A socket file nobody answers on was left by a server that died. */
        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return wharf_error_errno(err, errno, "listener unix://%s: socket", path);
        if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return wharf_error_set(err, -EADDRINUSE,
                                   "listener unix://%s: another server is listening there", path);
        if (errno != ECONNREFUSED && errno != ENOENT)
            return wharf_error_errno(err, errno, "listener unix://%s: probing the old socket",
                                     path);
        if (unlink(path) < 0 && errno != ENOENT)
            return wharf_error_errno(err, errno, "listener unix://%s: removing the stale socket",
                                     path);
    } else if (errno != ENOENT) {
        return wharf_error_errno(err, errno, "listener unix://%s: lstat", path);
    }

    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return wharf_error_errno(err, errno, "listener unix://%s: bind", path);
    l->unix_path = xstrdup(path);
    /* Permissions are set before listen(), so nobody connects in between. */
    if (chmod(path, cfg->mode ? cfg->mode : 0660) < 0)
        return wharf_error_errno(err, errno, "listener unix://%s: chmod", path);
    if (cfg->set_gid && chown(path, (uid_t)-1, cfg->gid) < 0)
        return wharf_error_errno(err, errno, "listener unix://%s: chown to group %u", path,
                                 (unsigned)cfg->gid);
    if (listen(fd, SOMAXCONN) < 0)
        return wharf_error_errno(err, errno, "listener unix://%s: listen", path);
    l->fd = steal_fd(fd);
    return 0;
}

static int bind_tcp(struct listener_state *l, const http_listener *cfg, wharf_error *err)
{
    const char *addr = cfg->address;
    _cleanup_free_ char *host = NULL;
    const char *port;
    if (addr[0] == '[') {
        const char *close_br = strchr(addr, ']');
        if (!close_br || close_br[1] != ':')
            return wharf_error_set(err, -EINVAL, "listener tcp://%s: expected [host]:port", addr);
        host = strndup(addr + 1, (size_t)(close_br - addr - 1));
        port = close_br + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (!colon)
            return wharf_error_set(err, -EINVAL, "listener tcp://%s: expected host:port", addr);
        host = strndup(addr, (size_t)(colon - addr));
        port = colon + 1;
    }
    if (!host)
        abort();
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (gai != 0)
        return wharf_error_set(err, -EINVAL, "listener tcp://%s: %s", addr, gai_strerror(gai));
    int rc = 0;
    _cleanup_close_ int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        rc = wharf_error_errno(err, errno, "listener tcp://%s: socket", addr);
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        rc = wharf_error_errno(err, errno, "listener tcp://%s: bind", addr);
        goto out;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        rc = wharf_error_errno(err, errno, "listener tcp://%s: listen", addr);
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        rc = wharf_error_errno(err, errno, "listener tcp://%s: getsockname", addr);
        goto out;
    }
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    l->fd = steal_fd(fd);
out:
    freeaddrinfo(res);
    return rc;
}

/* The port of a TCP socket, 0 for other families. */
static int socket_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* A socket handed over already listening: checked, never re-bound. */
static int adopt_fd(struct listener_state *l, const http_listener *cfg, wharf_error *err)
{
    struct stat st;
    int type = 0, listening = 0;
    socklen_t len = sizeof(int);
    if (fstat(l->fd, &st) < 0)
        return wharf_error_errno(err, errno, "listener %s", cfg->address);
    if (!S_ISSOCK(st.st_mode))
        return wharf_error_set(err, -ENOTSOCK, "listener %s: not a socket", cfg->address);
    if (getsockopt(l->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return wharf_error_errno(err, errno, "listener %s: SO_TYPE", cfg->address);
    len = sizeof(int);
    if (getsockopt(l->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
        return wharf_error_errno(err, errno, "listener %s: SO_ACCEPTCONN", cfg->address);
    if (type != SOCK_STREAM || !listening)
        return wharf_error_set(err, -EINVAL, "listener %s: not a listening stream socket",
                               cfg->address);
    /* Inherited sockets come without close-on-exec; shims must not hold them. */
    if (fcntl(l->fd, F_SETFD, FD_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "listener %s: FD_CLOEXEC", cfg->address);
    l->port = socket_port(l->fd);
    return 0;
}

static int setup_listener(struct listener_state *l, const http_listener *cfg, wharf_error *err)
{
    l->kind = cfg->kind;
    if (!cfg->address || !*cfg->address)
        return wharf_error_set(err, -EINVAL, "listener: no address");
    l->address = xstrdup(cfg->address);
    if (cfg->kind == HTTP_LISTEN_UNIX) {
        if (cfg->tls_cert || cfg->tls_key)
            return wharf_error_set(err, -EINVAL, "listener unix://%s: TLS is for TCP listeners",
                                   cfg->address);
        return bind_unix(l, cfg, err);
    }
    if (cfg->kind != HTTP_LISTEN_TCP && cfg->kind != HTTP_LISTEN_FD)
        return wharf_error_set(err, -EINVAL, "listener %s: unknown kind", cfg->address);
    const char *scheme = cfg->kind == HTTP_LISTEN_TCP ? "tcp://" : "";
    if (!cfg->tls_cert != !cfg->tls_key)
        return wharf_error_set(err, -EINVAL,
                               "listener %s%s: TLS needs both a certificate and a key", scheme,
                               cfg->address);
    if (cfg->tls_client_ca && !cfg->tls_cert)
        return wharf_error_set(err, -EINVAL,
                               "listener %s%s: client certificates need a TLS certificate and key",
                               scheme, cfg->address);
    if (cfg->tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
            return wharf_error_set(err, -ENOTSUP,
                                   "listener %s%s: libmicrohttpd was built without TLS", scheme,
                                   cfg->address);
        int rc = wharf_read_file(cfg->tls_cert, &l->tls_cert, NULL, err);
        if (rc == 0)
            rc = wharf_read_file(cfg->tls_key, &l->tls_key, NULL, err);
        if (rc == 0 && cfg->tls_client_ca)
            rc = wharf_read_file(cfg->tls_client_ca, &l->tls_client_ca, NULL, err);
        if (rc < 0)
            return wharf_error_prefix(err, "listener %s%s", scheme, cfg->address);
    }
    if (cfg->kind == HTTP_LISTEN_FD)
        return adopt_fd(l, cfg, err);
    return bind_tcp(l, cfg, err);
}

/* ---------------------------------------------------------------- server */

http_server *http_server_new(const http_server_config *cfg, wharf_error *err)
{
    if (!cfg->router || cfg->n_listeners == 0) {
        wharf_error_set(err, -EINVAL, "http server: a router and at least one listener needed");
        for (size_t i = 0; i < cfg->n_listeners; i++)
            if (cfg->listeners[i].kind == HTTP_LISTEN_FD && cfg->listeners[i].fd >= 0)
                close(cfg->listeners[i].fd);
        return NULL;
    }
    http_server *s = xcalloc(1, sizeof(*s));
    s->quit_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->router = cfg->router;
    s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
    /* Handed-over sockets are ours from the start, so every failure below
     * closes them (http_server_free). */
    s->ls = xcalloc(cfg->n_listeners, sizeof(*s->ls));
    s->n_ls = cfg->n_listeners;
    for (size_t i = 0; i < cfg->n_listeners; i++)
        s->ls[i].fd = cfg->listeners[i].kind == HTTP_LISTEN_FD ? cfg->listeners[i].fd : -1;
    for (const char *const *h = cfg->headers; h && h[0]; h += 2) {
        if (!h[1]) {
            wharf_error_set(err, -EINVAL, "http server: header %s has no value", h[0]);
            goto fail;
        }
        http_kv_set(&s->headers, h[0], h[1]);
    }
    s->quit_fd = eventfd(0, EFD_CLOEXEC);
    if (s->quit_fd < 0) {
        wharf_error_errno(err, errno, "http server: eventfd");
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (setup_listener(&s->ls[i], &cfg->listeners[i], err) < 0)
            goto fail;
    }
    return s;
fail:
    http_server_free(s);
    return NULL;
}

int http_server_start(http_server *s, wharf_error *err)
{
    if (s->started)
        return wharf_error_set(err, -EALREADY, "http server: already started");
    s->started = true;
    for (size_t i = 0; i < s->n_ls; i++) {
        struct listener_state *l = &s->ls[i];
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                         MHD_USE_POLL | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
        struct MHD_OptionItem opts[16];
        size_t n = 0;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, l->fd, NULL};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s};
        /* Room for long headers (X-Registry-Auth) and big upload chunks. */
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 256 * 1024, NULL};
        if (l->tls_cert) {
            flags |= MHD_USE_TLS;
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, l->tls_cert};
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, l->tls_key};
            if (l->tls_client_ca)
                opts[n++] =
                    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, l->tls_client_ca};
        }
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                                  MHD_OPTION_END);
        /* MHD owns the listening socket from here: it closes it at stop
         * and on (almost) every failure path, so never close it twice. */
        l->fd = -1;
        if (!l->mhd)
            return wharf_error_set(err, -EIO,
                                   "http server: listener %s: libmicrohttpd failed to start "
                                   "(bad TLS certificate or key?)",
                                   l->address);
    }
    if (s->quit_fd >= 0 && pthread_create(&s->trimmer, NULL, trimmer, s) == 0)
        s->trimmer_started = true;
    return 0;
}

int http_server_port(const http_server *s, size_t i)
{
    if (i >= s->n_ls || s->ls[i].kind == HTTP_LISTEN_UNIX || s->ls[i].port == 0)
        return -EINVAL;
    return s->ls[i].port;
}

void http_server_stop(http_server *s)
{
    pthread_mutex_lock(&s->lock);
    bool already = s->stopping;
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    if (already)
        return;
    /* Wakes every stream reader and relay; the eventfd stays readable, so
     * ones that start later end at once too. */
    if (s->quit_fd >= 0)
        eventfd_write(s->quit_fd, 1);
    if (s->trimmer_started) {
        pthread_join(s->trimmer, NULL);
        s->trimmer_started = false;
    }
    /* Relays must have closed their upgraded connections before MHD stops. */
    wait_threads(s);
    for (size_t i = 0; i < s->n_ls; i++) {
        struct listener_state *l = &s->ls[i];
        if (l->mhd) {
            MHD_stop_daemon(l->mhd);
            l->mhd = NULL;
        }
        if (l->fd >= 0) {
            close(l->fd);
            l->fd = -1;
        }
        if (l->unix_path) {
            unlink(l->unix_path);
            free(l->unix_path);
            l->unix_path = NULL;
        }
    }
    wait_threads(s);
    s->stopped = true;
}

void http_server_free(http_server *s)
{
    if (!s)
        return;
    http_server_stop(s);
    for (size_t i = 0; i < s->n_ls; i++) {
        free(s->ls[i].address);
        free(s->ls[i].tls_cert);
        free(s->ls[i].tls_key);
        free(s->ls[i].tls_client_ca);
    }
    free(s->ls);
    http_kv_release(&s->headers);
    if (s->quit_fd >= 0)
        close(s->quit_fd);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
