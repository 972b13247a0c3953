/*
 * Request accessors. server.c copies everything a handler may ask for out of
 * libmicrohttpd when the request arrives, so these are plain lookups.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_request_release(struct http_request *req)
{
    if (req->data_free)
        req->data_free(req->data);
    free(req->method);
    free(req->path);
    free(req->api_version);
    free(req->client_cert);
    http_kv_release(&req->params);
    http_kv_release(&req->query);
    http_kv_release(&req->headers);
    strbuf_release(&req->body);
}

const char *http_request_method(const http_request *req)
{
    return req->method;
}

const char *http_request_path(const http_request *req)
{
    return req->path;
}

const char *http_request_api_version(const http_request *req)
{
    return req->api_version;
}

const char *http_request_param(const http_request *req, const char *name)
{
    return http_kv_get(&req->params, name, false);
}

const char *http_request_header(const http_request *req, const char *name)
{
    return http_kv_get(&req->headers, name, true);
}

const void *http_request_client_cert(const http_request *req, size_t *len)
{
    if (len)
        *len = req->client_cert_len;
    return req->client_cert;
}

const char *http_request_query(const http_request *req, const char *key)
{
    return http_kv_get(&req->query, key, false);
}

bool http_request_query_bool(const http_request *req, const char *key, bool def)
{
    const char *v = http_request_query(req, key);
    if (!v)
        return def;
    static const char *const falsy[] = {"", "0", "no", "false", "none"};
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        if (strcasecmp(v, falsy[i]) == 0)
            return false;
    }
    return true;
}

int http_request_query_int(const http_request *req, const char *key, int64_t *out,
                           wharf_error *err)
{
    const char *v = http_request_query(req, key);
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0)
        return wharf_error_set(err, -EINVAL, "query parameter %s: invalid integer '%s'", key, v);
    *out = n;
    return 0;
}

const char **http_request_query_all(const http_request *req, const char *key, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < req->query.n; i++)
        n += strcmp(req->query.names[i], key) == 0;
    const char **out = xcalloc(n + 1, sizeof(*out));
    n = 0;
    for (size_t i = 0; i < req->query.n; i++) {
        if (strcmp(req->query.names[i], key) == 0)
            out[n++] = req->query.values[i];
    }
    if (count)
        *count = n;
    return out;
}

const char *http_request_body(const http_request *req, size_t *len)
{
    if (len)
        *len = req->body.len;
    return strbuf_str(&req->body);
}

json_t *http_request_body_json(const http_request *req, wharf_error *err)
{
    if (req->body.len == 0) {
        wharf_error_set(err, -EINVAL, "%s %s: request body is empty, JSON expected", req->method,
                        req->path);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(req->body.buf, req->body.len, JSON_DECODE_ANY, &jerr);
    if (!j)
        wharf_error_set(err, -EINVAL, "%s %s: invalid JSON body: line %d column %d: %s",
                        req->method, req->path, jerr.line, jerr.column, jerr.text);
    return j;
}

bool http_request_wants_upgrade(const http_request *req)
{
    /* "Connection" is a comma-separated token list ("keep-alive, Upgrade"). */
    const char *conn = http_request_header(req, "Connection");
    if (!conn)
        return false;
    const char *p = conn;
    while (*p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (len == 7 && strncasecmp(p, "upgrade", 7) == 0)
            return true;
        p += len;
    }
    return false;
}

void http_request_set_data(http_request *req, void *data, void (*free_fn)(void *))
{
    if (req->data_free && req->data != data)
        req->data_free(req->data);
    req->data = data;
    req->data_free = free_fn;
}

void *http_request_data(const http_request *req)
{
    return req->data;
}
