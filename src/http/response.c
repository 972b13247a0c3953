/*
 * Response constructors and the producer side of streams. A response is a
 * plain description; server.c turns it into a libmicrohttpd response when
 * the handler returns it.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

static http_response *response_new(int status, enum http_response_kind kind)
{
    http_response *r = xcalloc(1, sizeof(*r));
    r->status = status;
    r->kind = kind;
    r->fd = -1;
    return r;
}

http_response *http_response_json(int status, json_t *body)
{
    http_response *r = response_new(status, HTTP_RESP_BUFFER);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("null");
    if (!text)
        abort(); /* jansson only fails to dump on allocation failure here */
    json_decref(body);
    /* Docker's encoder ends every JSON document with a newline. */
    size_t len = strlen(text);
    r->data = xrealloc(text, len + 2);
    r->data[len] = '\n';
    r->data[len + 1] = '\0';
    r->len = len + 1;
    http_kv_set(&r->headers, "Content-Type", "application/json");
    return r;
}

static http_response *error_response(int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "message", msg);
    if (!j) /* msg was not UTF-8: keep what survives instead of failing */
        j = json_pack("{s:s%}", "message", "invalid UTF-8 in error message", (size_t)30);
    return http_response_json(status, j);
}

http_response *http_response_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    return error_response(status, strbuf_str(&sb));
}

int http_status_from_errno(int code)
{
    switch (code < 0 ? -code : code) {
    case ENOENT:
        return 404;
    case EEXIST:
    case EBUSY:
    case EALREADY:
        return 409;
    case EINVAL:
    case ERANGE:
    case E2BIG:
    case EDOM:
        return 400;
    case EPERM:
    case EACCES:
        return 403;
    case EFBIG:
    case EMSGSIZE:
        return 413;
    case ENOSYS:
    case ENOTSUP:
        return 501;
    default:
        return 500;
    }
}

http_response *http_response_from_error(const wharf_error *err)
{
    return error_response(http_status_from_errno(err->code),
                          err->msg[0] ? err->msg : "internal error");
}

http_response *http_response_strbuf(int status, const char *content_type, strbuf *sb)
{
    http_response *r = response_new(status, HTTP_RESP_BUFFER);
    r->len = sb->len;
    r->data = strbuf_detach(sb);
    http_kv_set(&r->headers, "Content-Type", content_type ? content_type : "application/octet-stream");
    return r;
}

http_response *http_response_bytes(int status, const char *content_type, const void *data,
                                   size_t len)
{
    http_response *r = response_new(status, HTTP_RESP_BUFFER);
    r->data = xmalloc(len + 1);
    if (len)
        memcpy(r->data, data, len);
    r->data[len] = '\0';
    r->len = len;
    http_kv_set(&r->headers, "Content-Type", content_type ? content_type : "application/octet-stream");
    return r;
}

http_response *http_response_empty(int status)
{
    return response_new(status, HTTP_RESP_BUFFER);
}

http_response *http_response_fd(int status, const char *content_type, int fd)
{
    http_response *r = response_new(status, HTTP_RESP_FD);
    r->fd = fd;
    if (content_type)
        http_kv_set(&r->headers, "Content-Type", content_type);
    return r;
}

http_response *http_response_stream(int status, const char *content_type, http_stream **producer)
{
    int sv[2];
    /* A socketpair rather than a pipe: send(MSG_NOSIGNAL) reports a gone
     * reader as EPIPE without raising SIGPIPE in the daemon. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort(); /* only fails when out of fds or memory */
    http_stream *s = xcalloc(1, sizeof(*s));
    s->fd = sv[1];
    *producer = s;
    return http_response_fd(status, content_type, sv[0]);
}

http_response *http_response_hijack(http_hijack_fn fn, void *userdata,
                                    void (*userdata_free)(void *))
{
    http_response *r = response_new(200, HTTP_RESP_HIJACK);
    r->hijack_fn = fn;
    r->hijack_userdata = userdata;
    r->hijack_userdata_free = userdata_free;
    http_kv_set(&r->headers, "Content-Type", "application/vnd.docker.raw-stream");
    return r;
}

void http_response_set_header(http_response *resp, const char *name, const char *value)
{
    http_kv_set(&resp->headers, name, value);
}

int http_response_status(const http_response *resp)
{
    return resp->status;
}

void http_response_free(http_response *resp)
{
    if (!resp)
        return;
    http_kv_release(&resp->headers);
    free(resp->data);
    if (resp->fd >= 0)
        close(resp->fd);
    if (resp->hijack_userdata_free)
        resp->hijack_userdata_free(resp->hijack_userdata);
    free(resp);
}

/* ---------------------------------------------------------------- streams */

int http_stream_write(http_stream *stream, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(stream->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == ECONNRESET ? -EPIPE : -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int http_stream_printf(http_stream *stream, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    return http_stream_write(stream, sb.buf, sb.len);
}

int http_stream_fd(const http_stream *stream)
{
    return stream->fd;
}

bool http_stream_closed(const http_stream *stream)
{
    struct pollfd p = {.fd = stream->fd, .events = 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

void http_stream_close(http_stream *stream)
{
    if (!stream)
        return;
    close(stream->fd);
    free(stream);
}
