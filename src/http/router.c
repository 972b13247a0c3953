/*
 * Route patterns and matching. A pattern is compiled once into segments;
 * matching walks the request path's segments and backtracks only for greedy
 * "{name*}" segments, which is cheap for the short paths an API sees.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

enum seg_kind { SEG_LITERAL, SEG_PARAM, SEG_GREEDY };

struct http_segment {
    enum seg_kind kind;
    char *text; /* literal text or parameter name */
};

/* ---------------------------------------------------------------- kv */

void http_kv_add(struct http_kv *kv, const char *name, size_t name_len, const char *value,
                 size_t value_len)
{
    if (kv->n == kv->alloc) {
        kv->alloc = kv->alloc ? kv->alloc * 2 : 8;
        kv->names = xrealloc(kv->names, kv->alloc * sizeof(*kv->names));
        kv->values = xrealloc(kv->values, kv->alloc * sizeof(*kv->values));
    }
    kv->names[kv->n] = strndup(name, name_len);
    kv->values[kv->n] = strndup(value ? value : "", value ? value_len : 0);
    if (!kv->names[kv->n] || !kv->values[kv->n])
        abort();
    kv->n++;
}

void http_kv_set(struct http_kv *kv, const char *name, const char *value)
{
    for (size_t i = 0; i < kv->n; i++) {
        if (strcasecmp(kv->names[i], name) == 0) {
            free(kv->values[i]);
            kv->values[i] = xstrdup(value);
            return;
        }
    }
    http_kv_add(kv, name, strlen(name), value, strlen(value));
}

const char *http_kv_get(const struct http_kv *kv, const char *name, bool nocase)
{
    for (size_t i = 0; i < kv->n; i++) {
        if ((nocase ? strcasecmp(kv->names[i], name) : strcmp(kv->names[i], name)) == 0)
            return kv->values[i];
    }
    return NULL;
}

void http_kv_release(struct http_kv *kv)
{
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->names[i]);
        free(kv->values[i]);
    }
    free(kv->names);
    free(kv->values);
    *kv = (struct http_kv){0};
}

/* ---------------------------------------------------------------- router */

http_router *http_router_new(void)
{
    return xcalloc(1, sizeof(http_router));
}

static void route_release(struct http_route *r)
{
    for (size_t i = 0; i < r->n_segs; i++)
        free(r->segs[i].text);
    free(r->segs);
    free(r->method);
    free(r->pattern);
}

void http_router_free(http_router *router)
{
    if (!router)
        return;
    for (size_t i = 0; i < router->n; i++)
        route_release(&router->routes[i]);
    free(router->routes);
    free(router);
}

static bool valid_param_name(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static int compile_pattern(struct http_route *r, const char *pattern, wharf_error *err)
{
    if (pattern[0] != '/')
        return wharf_error_set(err, -EINVAL, "route %s: pattern must start with '/'", pattern);
    const char *p = pattern + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        struct http_segment seg = {0};
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            size_t nlen = len - 2;
            seg.kind = SEG_PARAM;
            if (nlen > 0 && p[len - 2] == '*') {
                seg.kind = SEG_GREEDY;
                nlen--;
            }
            if (!valid_param_name(p + 1, nlen))
                return wharf_error_set(err, -EINVAL, "route %s: bad parameter segment '%.*s'",
                                       pattern, (int)len, p);
            for (size_t i = 0; i < r->n_segs; i++) {
                if (r->segs[i].kind != SEG_LITERAL && strlen(r->segs[i].text) == nlen &&
                    memcmp(r->segs[i].text, p + 1, nlen) == 0)
                    return wharf_error_set(err, -EINVAL, "route %s: parameter '%.*s' repeated",
                                           pattern, (int)nlen, p + 1);
            }
            seg.text = strndup(p + 1, nlen);
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                return wharf_error_set(err, -EINVAL, "route %s: bad segment '%.*s'", pattern,
                                       (int)len, p);
            seg.kind = SEG_LITERAL;
            seg.text = strndup(p, len);
            r->n_literal++;
        }
        if (!seg.text)
            abort();
        r->segs = xrealloc(r->segs, (r->n_segs + 1) * sizeof(*r->segs));
        r->segs[r->n_segs++] = seg;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int router_add(http_router *router, const char *method, const char *pattern,
                      http_body_fn on_body, http_handler_fn fn, void *userdata, wharf_error *err)
{
    if (!method || !*method || !pattern || !fn)
        return wharf_error_set(err, -EINVAL, "route %s %s: method, pattern and handler needed",
                               method ? method : "(null)", pattern ? pattern : "(null)");
    struct http_route r = {.fn = fn, .on_body = on_body, .userdata = userdata};
    int rc = compile_pattern(&r, pattern, err);
    if (rc < 0) {
        route_release(&r);
        return rc;
    }
    r.method = xstrdup(method);
    r.pattern = xstrdup(pattern);
    if (router->n == router->alloc) {
        router->alloc = router->alloc ? router->alloc * 2 : 32;
        router->routes = xrealloc(router->routes, router->alloc * sizeof(*router->routes));
    }
    router->routes[router->n++] = r;
    return 0;
}

int http_router_add(http_router *router, const char *method, const char *pattern,
                    http_handler_fn fn, void *userdata, wharf_error *err)
{
    return router_add(router, method, pattern, NULL, fn, userdata, err);
}

int http_router_add_upload(http_router *router, const char *method, const char *pattern,
                           http_body_fn on_body, http_handler_fn fn, void *userdata,
                           wharf_error *err)
{
    if (!on_body)
        return wharf_error_set(err, -EINVAL, "route %s %s: upload route needs a body function",
                               method, pattern);
    return router_add(router, method, pattern, on_body, fn, userdata, err);
}

/* A request path split into segments: offsets into the path string. */
struct path_seg {
    size_t start, len;
};

struct capture {
    size_t start, end; /* [start, end) in the path */
};

static bool match_from(const struct http_route *r, size_t si, const char *path,
                       const struct path_seg *ps, size_t n_ps, size_t pi, struct capture *caps)
{
    if (si == r->n_segs)
        return pi == n_ps;
    if (pi == n_ps)
        return false;
    const struct http_segment *seg = &r->segs[si];
    switch (seg->kind) {
    case SEG_LITERAL:
        if (ps[pi].len != strlen(seg->text) || memcmp(path + ps[pi].start, seg->text, ps[pi].len))
            return false;
        return match_from(r, si + 1, path, ps, n_ps, pi + 1, caps);
    case SEG_PARAM:
        if (ps[pi].len == 0)
            return false;
        caps[si] = (struct capture){ps[pi].start, ps[pi].start + ps[pi].len};
        return match_from(r, si + 1, path, ps, n_ps, pi + 1, caps);
    case SEG_GREEDY:
        /* Longest first: "/images/a/json/json" gives name "a/json". The
         * segments left must still fit the rest of the pattern. */
        for (size_t last = n_ps; last-- > pi;) {
            if (n_ps - (last + 1) < r->n_segs - (si + 1))
                continue;
            size_t start = ps[pi].start, end = ps[last].start + ps[last].len;
            if (end == start)
                continue;
            caps[si] = (struct capture){start, end};
            if (match_from(r, si + 1, path, ps, n_ps, last + 1, caps))
                return true;
        }
        return false;
    }
    return false;
}

enum http_match http_router_match(const http_router *router, const char *method, const char *path,
                                  const struct http_route **route, struct http_kv *params)
{
    if (path[0] != '/')
        return HTTP_MATCH_NO_PATH;
    size_t n_ps = 1;
    for (const char *p = path + 1; *p; p++)
        n_ps += *p == '/';
    _cleanup_free_ struct path_seg *ps = xcalloc(n_ps, sizeof(*ps));
    size_t i = 0, start = 1;
    for (size_t k = 1;; k++) {
        if (path[k] == '/' || path[k] == '\0') {
            ps[i++] = (struct path_seg){start, k - start};
            start = k + 1;
            if (path[k] == '\0')
                break;
        }
    }

    bool path_known = false;
    const struct http_route *best = NULL;
    _cleanup_free_ struct capture *best_caps = NULL;
    bool head = strcmp(method, "HEAD") == 0;
    bool best_exact = false;
    for (size_t ri = 0; ri < router->n; ri++) {
        const struct http_route *r = &router->routes[ri];
        _cleanup_free_ struct capture *caps = xcalloc(r->n_segs ? r->n_segs : 1, sizeof(*caps));
        if (!match_from(r, 0, path, ps, n_ps, 0, caps))
            continue;
        path_known = true;
        bool exact = strcmp(r->method, method) == 0;
        if (!exact && !(head && strcmp(r->method, "GET") == 0))
            continue;
        /* More literal segments wins; then an explicit HEAD route over GET;
         * then registration order. */
        if (best && (r->n_literal < best->n_literal ||
                     (r->n_literal == best->n_literal && (best_exact || !exact))))
            continue;
        best = r;
        best_exact = exact;
        free(best_caps);
        best_caps = steal_ptr(caps);
    }
    if (!best)
        return path_known ? HTTP_MATCH_NO_METHOD : HTTP_MATCH_NO_PATH;
    for (size_t si = 0; si < best->n_segs; si++) {
        if (best->segs[si].kind == SEG_LITERAL)
            continue;
        const char *name = best->segs[si].text;
        http_kv_add(params, name, strlen(name), path + best_caps[si].start,
                    best_caps[si].end - best_caps[si].start);
    }
    *route = best;
    return HTTP_MATCH_OK;
}
