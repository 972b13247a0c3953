/*
 * Kubernetes Status objects: every failure the API answers is a metav1.Status
 * with a code, a machine-readable reason (NotFound, AlreadyExists, Conflict,
 * Invalid, BadRequest, Forbidden, Unauthorized, Expired, ...), a message
 * worded as kube-apiserver words it, and details naming the object (and,
 * for Invalid, one cause per field).
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

json_t *status_object(int code, const char *reason, const char *message, json_t *details)
{
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message", message, "code", code);
    if (reason && *reason)
        json_object_set_new(st, "reason", json_string(reason));
    if (details)
        json_object_set_new(st, "details", details);
    return st;
}

http_response *status_failure(int code, const char *reason, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    json_t *st = status_object(code, reason, strbuf_str(&sb), details);
    strbuf_release(&sb);
    return http_response_json(code, st);
}

/* "pods" or "deployments.apps": how kube-apiserver names a resource in messages. */
static char *qualified(const struct api_resource *r)
{
    if (r->group[0])
        return xasprintf("%s.%s", r->plural, r->group);
    return xstrdup(r->plural);
}

json_t *status_details(const struct api_resource *r, const char *name)
{
    json_t *d = json_object();
    if (name)
        json_object_set_new(d, "name", json_string(name));
    if (r) {
        if (r->group[0])
            json_object_set_new(d, "group", json_string(r->group));
        json_object_set_new(d, "kind", json_string(r->plural));
    }
    return d;
}

http_response *status_not_found(const struct api_resource *r, const char *name)
{
    _cleanup_free_ char *q = qualified(r);
    return status_failure(404, "NotFound", status_details(r, name), "%s \"%s\" not found", q, name);
}

http_response *status_already_exists(const struct api_resource *r, const char *name)
{
    _cleanup_free_ char *q = qualified(r);
    return status_failure(409, "AlreadyExists", status_details(r, name), "%s \"%s\" already exists",
                          q, name);
}

http_response *status_conflict(const struct api_resource *r, const char *name, const char *why)
{
    _cleanup_free_ char *q = qualified(r);
    return status_failure(409, "Conflict", status_details(r, name),
                          "Operation cannot be fulfilled on %s \"%s\": %s", q, name, why);
}

http_response *status_invalid(const struct api_resource *r, const char *name,
                              struct field_errors *fe)
{
    /* Invalid names the kind, not the resource (kube's NewInvalid). */
    json_t *details = json_pack("{s:s, s:s}", "name", name ? name : "", "kind", r->kind);
    if (r->group[0])
        json_object_set_new(details, "group", json_string(r->group));
    json_object_set(details, "causes", fe->causes);
    /* Invalid names the kind qualified by group: Deployment.apps "x" is invalid. */
    _cleanup_free_ char *kind =
        r->group[0] ? xasprintf("%s.%s", r->kind, r->group) : xstrdup(r->kind);
    _cleanup_free_ char *summary = fe_summary(fe);
    return status_failure(422, "Invalid", details, "%s \"%s\" is invalid: %s", kind,
                          name ? name : "", summary);
}

http_response *status_bad_request(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    json_t *st = status_object(400, "BadRequest", strbuf_str(&sb), NULL);
    strbuf_release(&sb);
    return http_response_json(400, st);
}

http_response *status_forbidden(const struct api_resource *r, const char *name, const char *fmt,
                                ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf why = STRBUF_INIT;
    strbuf_vaddf(&why, fmt, ap);
    va_end(ap);
    strbuf msg = STRBUF_INIT;
    if (r) {
        _cleanup_free_ char *q = qualified(r);
        if (name)
            strbuf_addf(&msg, "%s \"%s\" is forbidden: %s", q, name, strbuf_str(&why));
        else
            strbuf_addf(&msg, "%s is forbidden: %s", q, strbuf_str(&why));
    } else {
        strbuf_addf(&msg, "forbidden: %s", strbuf_str(&why));
    }
    json_t *st = status_object(403, "Forbidden", strbuf_str(&msg),
                               r || name ? status_details(r, name) : NULL);
    strbuf_release(&why);
    strbuf_release(&msg);
    return http_response_json(403, st);
}

http_response *status_from_store(const struct api_resource *r, const char *name,
                                 const wharf_error *err)
{
    switch (err->code) {
    case -ENOENT:
        return status_not_found(r, name);
    case -EEXIST:
        return status_already_exists(r, name);
    case -ECANCELED:
        return status_conflict(r, name,
                               "the object has been modified; please apply your changes to the "
                               "latest version and try again");
    case -ERANGE:
        return status_failure(410, "Expired", NULL, "%s", err->msg);
    case -EOVERFLOW:
        return status_failure(504, "Timeout", NULL, "Too large resource version: %s", err->msg);
    case -EHOSTUNREACH:
    case -EBUSY:
        return status_failure(503, "ServiceUnavailable", NULL, "storage unavailable: %s", err->msg);
    default:
        return status_failure(500, "InternalError", NULL, "Internal error occurred: storage: %s",
                              err->msg);
    }
}
