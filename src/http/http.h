/*
 * http — the HTTP/1.1 server under the Docker Engine API daemon and (later)
 * the Kubernetes API server, built on libmicrohttpd.
 *
 * Owns: listening sockets (unix with a mode and stale-file removal, TCP, TLS
 * on TCP with optional client certificates, or one already listening that the caller hands over, as systemd's
 * socket activation does), the server threads (one per connection, so `logs --follow` or
 * `events` never hold up other requests), routing by method and path pattern
 * after an optional "/vX.Y" API version prefix, request parsing (path
 * parameters, query, headers, a bounded buffered body or a streamed one),
 * and responses: JSON, bytes, {"message": ...} errors, chunked streams fed
 * by another thread or an fd, and connection hijack (attach, exec start).
 *
 * Must not: know what any route means (no Docker or Kubernetes types),
 * expose libmicrohttpd types, install signal handlers or call exit().
 *
 * Threads: handlers run on the connection's thread and may block (e.g.
 * `wait`); every http_request call must be made from that handler call.
 * Stream producers and hijack functions run on other threads.
 *
 * SIGPIPE: the server itself never raises it, but a hijack fd is a plain
 * socket: write to it with send(MSG_NOSIGNAL) or ignore SIGPIPE in the daemon.
 */
#ifndef WHARF_HTTP_H
#define WHARF_HTTP_H

#include "base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct http_server http_server;
typedef struct http_router http_router;
typedef struct http_request http_request;
typedef struct http_response http_response;
typedef struct http_stream http_stream;

/* Default limit of a buffered request body (JSON documents). */
#define HTTP_DEFAULT_MAX_BODY (64u << 20)

/* ---------------------------------------------------------------- handlers */

/*
 * A route handler. Returns the response (see "responses" below); the server
 * takes it. NULL is answered 500 {"message": "internal error: no response"}.
 */
typedef http_response *(*http_handler_fn)(http_request *req, void *userdata);

/*
 * Receives a streamed request body chunk by chunk as it arrives (routes added
 * with http_router_add_upload). May block: that slows the client down.
 * Returns 0, or a negative errno with err filled: the rest of the body is
 * discarded and the client gets http_response_from_error(err); the route's
 * handler is then not called.
 */
typedef int (*http_body_fn)(http_request *req, const void *data, size_t len, void *userdata,
                            wharf_error *err);

/*
 * Runs on its own thread once a connection has been hijacked (see
 * http_response_hijack). fd is a connected SOCK_STREAM socket carrying the
 * raw bytes to and from the client; fn owns it and must close it (it may hand
 * it to another thread first). shutdown(fd, SHUT_WR) sends the client EOF
 * while reading goes on; reading EOF means the client closed its side.
 */
typedef void (*http_hijack_fn)(int fd, void *userdata);

/* ---------------------------------------------------------------- router */

/*
 * Patterns are absolute paths of '/'-separated segments. A segment is a
 * literal, "{name}" (one non-empty segment) or "{name*}" (one or more
 * segments, slashes included: "/images/{name*}/json" matches
 * "/images/library/busybox:1/json"). Requests are matched after an optional
 * leading "/v<digits and dots>" segment is stripped (http_request_api_version).
 * When several routes match, the one with more literal segments wins, then
 * the one added first. A HEAD request uses the GET route unless a HEAD route
 * exists. No route: 404 {"message": "page not found"}; a route for the path
 * but not the method: 405.
 */
http_router *http_router_new(void);
/* The router must outlive every server using it. NULL is a no-op. */
void http_router_free(http_router *router);
/* method: "GET", "POST", ... (exact, upper case). -EINVAL on a bad pattern. */
int http_router_add(http_router *router, const char *method, const char *pattern,
                    http_handler_fn fn, void *userdata, wharf_error *err);
/* Like http_router_add, but the body is not buffered: on_body gets it as it
 * arrives (no size limit) and fn is called once it has all been delivered. */
int http_router_add_upload(http_router *router, const char *method, const char *pattern,
                           http_body_fn on_body, http_handler_fn fn, void *userdata,
                           wharf_error *err);

/* ---------------------------------------------------------------- server */

enum http_listener_kind {
    HTTP_LISTEN_UNIX,
    HTTP_LISTEN_TCP,
    HTTP_LISTEN_FD, /* a stream socket already listening (socket activation) */
};

typedef struct http_listener {
    enum http_listener_kind kind;
    /* unix: socket path. tcp: "host:port", "[v6]:port"; port 0 picks one
     * (see http_server_port). fd: a name for messages ("fd://3"). */
    const char *address;
    /* fd: the listening socket. http_server_new takes it, on failure too:
     * it is made close-on-exec and closed at stop; a unix socket's file is
     * left in place (whoever bound it owns it). */
    int fd;
    mode_t mode;   /* unix: permission bits; 0 means 0660 */
    bool set_gid;  /* unix: chown the socket to gid */
    gid_t gid;
    /* tcp or fd: PEM files; both set to serve HTTPS, or neither. */
    const char *tls_cert;
    const char *tls_key;
    /* HTTPS only, optional: PEM file of the CAs whose client certificates
     * are accepted. Clients are asked for a certificate but may send none;
     * one that does not verify is not an error either, it is just not
     * reported (see http_request_client_cert). */
    const char *tls_client_ca;
} http_listener;

typedef struct http_server_config {
    const http_listener *listeners;
    size_t n_listeners;
    http_router *router;  /* borrowed */
    size_t max_body;      /* buffered body limit (413 above); 0: HTTP_DEFAULT_MAX_BODY */
    /* Headers added to every response (a handler's own header of the same
     * name wins): NULL-terminated list of name, value, name, value, ...
     * e.g. {"Api-Version", "1.43", "Ostype", "linux", NULL}. Copied. */
    const char *const *headers;
} http_server_config;

/*
 * Binds every listener (a unix socket file left by a dead server is removed;
 * one a live server answers on is -EADDRINUSE) but serves nothing until
 * http_server_start. Returns NULL with err filled on failure, having
 * released whatever it bound.
 */
http_server *http_server_new(const http_server_config *cfg, wharf_error *err);
/* Starts serving on all listeners (threads of its own). */
int http_server_start(http_server *server, wharf_error *err);
/* The bound TCP port of listener i (in cfg order; an fd listener's too when
 * it is a TCP socket); -EINVAL if not TCP. */
int http_server_port(const http_server *server, size_t i);
/*
 * Stops: closes the listeners, removes the unix socket files it created,
 * ends streams (their producers see -EPIPE) and hijacked connections, and
 * waits for connection threads and hijack functions to return. Handlers that
 * block forever block this too. Idempotent.
 */
void http_server_stop(http_server *server);
/* Stops if needed and frees. NULL is a no-op. */
void http_server_free(http_server *server);

/* ---------------------------------------------------------------- requests */

/* Strings returned below are borrowed from the request and live until the
 * handler returns. */
const char *http_request_method(const http_request *req);
/* The path without the version prefix, percent-decoded: "/containers/x/json". */
const char *http_request_path(const http_request *req);
/* "1.43" for "/v1.43/...", NULL when the request had no prefix. */
const char *http_request_api_version(const http_request *req);
/* A path parameter by its pattern name; NULL if the pattern has none. */
const char *http_request_param(const http_request *req, const char *name);
/* A request header (case-insensitive name), first occurrence; NULL if absent. */
const char *http_request_header(const http_request *req, const char *name);

/* First value of a query parameter ("" for "?all"); NULL if absent. */
const char *http_request_query(const http_request *req, const char *key);
/* Docker's rule: absent gives def; "", "0", "no", "false", "none" (any case)
 * are false; anything else is true. */
bool http_request_query_bool(const http_request *req, const char *key, bool def);
/* Leaves *out untouched when absent; -EINVAL naming the parameter when the
 * value is not a decimal integer. */
int http_request_query_int(const http_request *req, const char *key, int64_t *out,
                           wharf_error *err);
/* All values of a repeated key, in request order: a NULL-terminated vector of
 * borrowed strings (caller frees only the vector); *count may be NULL. */
const char **http_request_query_all(const http_request *req, const char *key, size_t *count);

/* The buffered body, NUL-terminated ("" when empty); len may be NULL. Always
 * empty on upload routes. */
const char *http_request_body(const http_request *req, size_t *len);
/* Parses the body as JSON; returns a new reference, or NULL with -EINVAL in
 * err (an empty body is an error too: check http_request_body first when
 * that is allowed). */
json_t *http_request_body_json(const http_request *req, wharf_error *err);

/* The DER bytes of the client's TLS certificate when the listener has a
 * tls_client_ca and the certificate verified against it (signature chain,
 * validity period); NULL otherwise (no TLS, no certificate, or one that did
 * not verify). *len may be NULL. */
const void *http_request_client_cert(const http_request *req, size_t *len);

/* True when the client asked for "Connection: Upgrade" (Docker attach/exec). */
bool http_request_wants_upgrade(const http_request *req);

/* Per-request state for upload routes: set it in on_body, read it in the
 * handler. free_fn (may be NULL) runs when the request ends, whatever way. */
void http_request_set_data(http_request *req, void *data, void (*free_fn)(void *));
void *http_request_data(const http_request *req);

/* ---------------------------------------------------------------- responses */

/*
 * Constructors return a response the handler returns to the server (never
 * NULL: allocation failure aborts). A response not returned must be freed
 * with http_response_free.
 */
/* Consumes the reference to body (may be NULL: "null"). application/json. */
http_response *http_response_json(int status, json_t *body);
/* {"message": "<formatted>"} with status. */
http_response *http_response_error(int status, const char *fmt, ...) WHARF_PRINTF(2, 3);
/* {"message": err->msg} with http_status_from_errno(err->code). */
http_response *http_response_from_error(const wharf_error *err);
/* ENOENT 404, EEXIST/EBUSY/EALREADY 409, EINVAL/ERANGE/E2BIG/EDOM 400,
 * EPERM/EACCES 403, EFBIG/EMSGSIZE 413, ENOSYS/ENOTSUP 501, else 500. */
int http_status_from_errno(int code);
/* Copies data. content_type NULL means application/octet-stream. */
http_response *http_response_bytes(int status, const char *content_type, const void *data,
                                   size_t len);
/* The same, taking sb's buffer (sb is left empty): no copy of a large body. */
http_response *http_response_strbuf(int status, const char *content_type, strbuf *sb);
/* No body (e.g. 204, or 200 "OK" text for /_ping use http_response_bytes). */
http_response *http_response_empty(int status);

/*
 * A chunked response whose body is written over time by a producer thread
 * through *producer (the caller owns that handle: see http_stream_*). The
 * response ends when the producer calls http_stream_close.
 */
http_response *http_response_stream(int status, const char *content_type,
                                    http_stream **producer);
/* A chunked response copying fd (takes ownership) until EOF, e.g. a pipe's
 * read end. A client disconnect closes fd, so a writer gets EPIPE. */
http_response *http_response_fd(int status, const char *content_type, int fd);

/*
 * Hijacks the connection. A client that sent "Connection: Upgrade" gets
 * "101" with "Connection: Upgrade", "Upgrade: tcp" and Content-Type
 * application/vnd.docker.raw-stream (override with set_header), then fn runs
 * with a raw bidirectional socket. Older clients without Upgrade get 200 and
 * a raw output stream that ends when fn closes fd; the client's input is not
 * forwarded (fn reads EOF at once). userdata_free (may be NULL) frees
 * userdata after fn returns, or if the hijack never happens.
 */
http_response *http_response_hijack(http_hijack_fn fn, void *userdata,
                                    void (*userdata_free)(void *));

/* Sets (replaces) a header. Content-Type may be set here too. */
void http_response_set_header(http_response *resp, const char *name, const char *value);
int http_response_status(const http_response *resp);
void http_response_free(http_response *resp);

/* ---------------------------------------------------------------- streams */

/*
 * The producer's end of http_response_stream, usable from any thread. Writes
 * block while the client is slow (back pressure). Once the client has gone
 * (or the server stops) writes fail with -EPIPE: stop producing and close.
 */
int http_stream_write(http_stream *stream, const void *data, size_t len);
int http_stream_printf(http_stream *stream, const char *fmt, ...) WHARF_PRINTF(2, 3);
/* An fd to poll for POLLHUP while idle (signals the client left); not to be
 * read, written or closed. */
int http_stream_fd(const http_stream *stream);
/* True once the client has gone (non-blocking check). */
bool http_stream_closed(const http_stream *stream);
/* Ends the response (clean end of the chunked body) and frees the handle. */
void http_stream_close(http_stream *stream);

#endif
