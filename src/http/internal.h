/*
 * Internal to src/http: the structures shared by the router, the request and
 * response code and the libmicrohttpd glue in server.c.
 */
#ifndef WHARF_HTTP_INTERNAL_H
#define WHARF_HTTP_INTERNAL_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

/* A list of name/value string pairs, both malloc'd; value never NULL. */
struct http_kv {
    char **names;
    char **values;
    size_t n, alloc;
};
void http_kv_add(struct http_kv *kv, const char *name, size_t name_len, const char *value,
                 size_t value_len);
/* Replaces the first entry with this name (case-insensitive) or appends. */
void http_kv_set(struct http_kv *kv, const char *name, const char *value);
const char *http_kv_get(const struct http_kv *kv, const char *name, bool nocase);
void http_kv_release(struct http_kv *kv);

/* ---- router */

struct http_route {
    char *method;
    char *pattern;
    struct http_segment *segs;
    size_t n_segs;
    size_t n_literal;
    http_handler_fn fn;
    http_body_fn on_body; /* non-NULL: an upload route */
    void *userdata;
};

struct http_router {
    struct http_route *routes;
    size_t n, alloc;
};

enum http_match {
    HTTP_MATCH_OK,
    HTTP_MATCH_NO_PATH,   /* 404 */
    HTTP_MATCH_NO_METHOD, /* 405 */
};
/* Finds the route for method and path (version prefix already stripped);
 * fills params on success. */
enum http_match http_router_match(const http_router *router, const char *method, const char *path,
                                  const struct http_route **route, struct http_kv *params);

/* ---- requests */

struct http_request {
    char *method;
    char *path;
    char *api_version; /* NULL without prefix */
    struct http_kv params;
    struct http_kv query;   /* in request order, repeated keys kept */
    struct http_kv headers; /* in request order */
    strbuf body;
    const struct http_route *route;
    void *client_cert; /* DER of a verified TLS client certificate, or NULL */
    size_t client_cert_len;
    void *data;
    void (*data_free)(void *);

    /* server.c state across the access-handler calls */
    bool bad_target;    /* NUL byte in the decoded path or query: 400 */
    bool too_large;     /* buffered body passed the limit: discard, then 413 */
    bool body_failed;   /* on_body failed: discard, then body_error */
    wharf_error body_error;
    struct http_hijack *hijack; /* a hijack response not yet started */
};
void http_request_release(struct http_request *req);

/* ---- responses */

enum http_response_kind {
    HTTP_RESP_BUFFER,
    HTTP_RESP_FD,
    HTTP_RESP_HIJACK,
};

struct http_response {
    int status;
    enum http_response_kind kind;
    struct http_kv headers;
    char *data; /* BUFFER */
    size_t len;
    int fd; /* FD: read end */
    http_hijack_fn hijack_fn;
    void *hijack_userdata;
    void (*hijack_userdata_free)(void *);
};

struct http_stream {
    int fd; /* write end of a socketpair; the response reads the other end */
};

#endif
