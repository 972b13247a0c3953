/*
 * Validation shared by every type: field errors collected as Kubernetes'
 * StatusCauses (with its wording, so messages read like kube-apiserver's),
 * name rules (DNS-1123 subdomain and label, DNS-1035 label, path segment),
 * qualified names and label values, label selectors, and the common
 * metadata checks.
 */
#include "internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

/* ---------------------------------------------------------------- field errors */

static const char *fe_reason(enum fe_type t)
{
    switch (t) {
    case FE_REQUIRED:
        return "FieldValueRequired";
    case FE_INVALID:
        return "FieldValueInvalid";
    case FE_NOT_SUPPORTED:
        return "FieldValueNotSupported";
    case FE_FORBIDDEN:
        return "FieldValueForbidden";
    case FE_DUPLICATE:
        return "FieldValueDuplicate";
    case FE_TOO_LONG:
        return "FieldValueTooLong";
    case FE_NOT_FOUND:
        return "FieldValueNotFound";
    }
    return "FieldValueInvalid";
}

/* Values are shown as Go shows them: strings quoted, numbers bare. */
static void add_value(strbuf *sb, json_t *v)
{
    if (json_is_string(v)) {
        json_t *s = json_string(json_string_value(v));
        char *txt = json_dumps(s, JSON_ENCODE_ANY);
        strbuf_addstr(sb, txt);
        free(txt);
        json_decref(s);
        return;
    }
    char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    strbuf_addstr(sb, txt ? txt : "null");
    free(txt);
}

void fe_add(struct field_errors *fe, enum fe_type type, json_t *value, const char *detail,
            const char *path_fmt, ...)
{
    va_list ap;
    va_start(ap, path_fmt);
    strbuf path = STRBUF_INIT;
    strbuf_vaddf(&path, path_fmt, ap);
    va_end(ap);
    strbuf msg = STRBUF_INIT;
    switch (type) {
    case FE_REQUIRED:
        strbuf_addstr(&msg, "Required value");
        break;
    case FE_INVALID:
        strbuf_addstr(&msg, "Invalid value");
        break;
    case FE_NOT_SUPPORTED:
        strbuf_addstr(&msg, "Unsupported value");
        break;
    case FE_FORBIDDEN:
        strbuf_addstr(&msg, "Forbidden");
        break;
    case FE_DUPLICATE:
        strbuf_addstr(&msg, "Duplicate value");
        break;
    case FE_TOO_LONG:
        strbuf_addstr(&msg, "Too long");
        break;
    case FE_NOT_FOUND:
        strbuf_addstr(&msg, "Not found");
        break;
    }
    if (value && type != FE_REQUIRED && type != FE_FORBIDDEN && type != FE_TOO_LONG) {
        strbuf_addstr(&msg, ": ");
        add_value(&msg, value);
    }
    if (detail && *detail) {
        strbuf_addstr(&msg, ": ");
        strbuf_addstr(&msg, detail);
    }
    if (!fe->causes)
        fe->causes = json_array();
    json_array_append_new(fe->causes,
                          json_pack("{s:s, s:s, s:s}", "reason", fe_reason(type), "message",
                                    strbuf_str(&msg), "field", strbuf_str(&path)));
    strbuf_release(&path);
    strbuf_release(&msg);
}

size_t fe_count(const struct field_errors *fe)
{
    return fe->causes ? json_array_size(fe->causes) : 0;
}

void fe_release(struct field_errors *fe)
{
    if (fe->causes)
        json_decref(fe->causes);
    fe->causes = NULL;
}

char *fe_summary(const struct field_errors *fe)
{
    strbuf sb = STRBUF_INIT;
    size_t n = fe_count(fe);
    if (n > 1)
        strbuf_addch(&sb, '[');
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(fe->causes, i);
        if (i)
            strbuf_addstr(&sb, ", ");
        strbuf_addf(&sb, "%s: %s", json_string_value(json_object_get(c, "field")),
                    json_string_value(json_object_get(c, "message")));
    }
    if (n > 1)
        strbuf_addch(&sb, ']');
    return strbuf_detach(&sb);
}

/* ---------------------------------------------------------------- names */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over [s, s+len) */
static bool dns_label_ok(const char *s, size_t len)
{
    if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

#define DNS1123_SUBDOMAIN_MSG                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

const char *validate_dns1123_subdomain(const char *s)
{
    size_t len = strlen(s);
    if (len > 253)
        return "must be no more than 253 characters";
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, ".");
        if (!dns_label_ok(p, n))
            return DNS1123_SUBDOMAIN_MSG;
        if (!p[n])
            break;
        p += n + 1;
    }
    return NULL;
}

const char *validate_dns1123_label(const char *s)
{
    size_t len = strlen(s);
    if (len > 63)
        return "must be no more than 63 characters";
    if (!dns_label_ok(s, len))
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
               "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
               "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    return NULL;
}

const char *validate_dns1035_label(const char *s)
{
    size_t len = strlen(s);
    if (len > 63)
        return "must be no more than 63 characters";
    if (!dns_label_ok(s, len) || !(s[0] >= 'a' && s[0] <= 'z'))
        return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
               "with an alphabetic character, and end with an alphanumeric character (e.g. "
               "'my-name',  or 'abc-123', regex used for validation is "
               "'[a-z]([-a-z0-9]*[a-z0-9])?')";
    return NULL;
}

const char *validate_path_segment_name(const char *s)
{
    if (strcmp(s, ".") == 0)
        return "may not be '.'";
    if (strcmp(s, "..") == 0)
        return "may not be '..'";
    if (strchr(s, '/'))
        return "may not contain '/'";
    if (strchr(s, '%'))
        return "may not contain '%'";
    return NULL;
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool qualified_part_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    }
    return true;
}

#define QUALIFIED_NAME_MSG                                                                         \
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "  \
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for " \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

const char *validate_qualified_name(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        if (strchr(slash + 1, '/'))
            return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                   "'my.name',  or '123-abc', regex used for validation is "
                   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
                   "prefix and '/' (e.g. 'example.com/MyName')";
        size_t plen = (size_t)(slash - s);
        if (plen == 0)
            return "prefix part must be non-empty";
        _cleanup_free_ char *prefix = strndup(s, plen);
        if (!prefix)
            abort();
        if (validate_dns1123_subdomain(prefix))
            return "prefix part " DNS1123_SUBDOMAIN_MSG;
        name = slash + 1;
    }
    size_t len = strlen(name);
    if (len == 0)
        return "name part must be non-empty";
    if (len > 63)
        return "name part must be no more than 63 characters";
    if (!qualified_part_ok(name, len))
        return QUALIFIED_NAME_MSG;
    return NULL;
}

const char *validate_label_value(const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return NULL;
    if (len > 63)
        return "must be no more than 63 characters";
    if (!qualified_part_ok(s, len))
        return "a valid label must be an empty string or consist of alphanumeric characters, "
               "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
               "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
               "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    return NULL;
}

/* ---------------------------------------------------------------- metadata */

void validate_labels(json_t *labels, struct field_errors *fe, const char *path)
{
    if (!labels || json_is_null(labels))
        return;
    if (!json_is_object(labels)) {
        fe_add(fe, FE_INVALID, labels, "must be a map of strings", "%s", path);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        const char *why = validate_qualified_name(k);
        if (why) {
            json_t *kv = json_string(k);
            fe_add(fe, FE_INVALID, kv, why, "%s", path);
            json_decref(kv);
        }
        if (!json_is_string(v)) {
            fe_add(fe, FE_INVALID, v, "must be a string", "%s", path);
            continue;
        }
        why = validate_label_value(json_string_value(v));
        if (why)
            fe_add(fe, FE_INVALID, v, why, "%s", path);
    }
}

void validate_label_selector(json_t *sel, struct field_errors *fe, const char *path)
{
    if (!sel || json_is_null(sel))
        return;
    validate_labels(json_object_get(sel, "matchLabels"), fe,
                    strcmp(path, "") ? path : "matchLabels");
    json_t *exprs = json_object_get(sel, "matchExpressions");
    size_t i;
    json_t *e;
    json_array_foreach(exprs, i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        json_t *values = json_object_get(e, "values");
        size_t nv = json_is_array(values) ? json_array_size(values) : 0;
        if (!key || !*key) {
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s.matchExpressions[%zu].key", path, i);
        } else {
            const char *why = validate_qualified_name(key);
            if (why)
                fe_add(fe, FE_INVALID, json_object_get(e, "key"), why,
                       "%s.matchExpressions[%zu].key", path, i);
        }
        if (!op) {
            fe_add(fe, FE_REQUIRED, NULL, NULL, "%s.matchExpressions[%zu].operator", path, i);
        } else if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
            if (nv == 0)
                fe_add(fe, FE_REQUIRED, NULL,
                       "must be specified when `operator` is 'In' or "
                       "'NotIn'",
                       "%s.matchExpressions[%zu].values", path, i);
        } else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
            if (nv > 0)
                fe_add(fe, FE_FORBIDDEN, NULL,
                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                       "%s.matchExpressions[%zu].values", path, i);
        } else {
            fe_add(fe, FE_INVALID, json_object_get(e, "operator"), "not a valid selector operator",
                   "%s.matchExpressions[%zu].operator", path, i);
        }
    }
}

void validate_object_meta(const struct api_resource *r, json_t *meta, struct field_errors *fe)
{
    const char *name = json_string_value(json_object_get(meta, "name"));
    if (!name || !*name) {
        fe_add(fe, FE_REQUIRED, NULL, "name or generateName is required", "metadata.name");
    } else {
        const char *why;
        if (r->flags & RES_NAME_SEGMENT)
            why = validate_path_segment_name(name);
        else if (r->flags & RES_NAME_LABEL)
            why = validate_dns1123_label(name);
        else if (r->flags & RES_NAME_1035)
            why = validate_dns1035_label(name);
        else
            why = validate_dns1123_subdomain(name);
        if (why)
            fe_add(fe, FE_INVALID, json_object_get(meta, "name"), why, "metadata.name");
    }
    const char *gen = json_string_value(json_object_get(meta, "generateName"));
    if (gen && *gen && !(r->flags & RES_NAME_SEGMENT)) {
        /* A generated name is the prefix plus five characters: the prefix
         * must be valid with them appended. */
        _cleanup_free_ char *probe = xasprintf("%sa", gen);
        const char *why = (r->flags & (RES_NAME_LABEL | RES_NAME_1035))
                              ? validate_dns1123_label(probe)
                              : validate_dns1123_subdomain(probe);
        if (why)
            fe_add(fe, FE_INVALID, json_object_get(meta, "generateName"), why,
                   "metadata.generateName");
    }
    validate_labels(json_object_get(meta, "labels"), fe, "metadata.labels");
    json_t *ann = json_object_get(meta, "annotations");
    if (ann && !json_is_null(ann)) {
        size_t total = 0;
        const char *k;
        json_t *v;
        json_object_foreach(ann, k, v)
        {
            const char *why = validate_qualified_name(k);
            if (why) {
                json_t *kv = json_string(k);
                fe_add(fe, FE_INVALID, kv, why, "metadata.annotations");
                json_decref(kv);
            }
            total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
        }
        if (total > 256 * 1024)
            fe_add(fe, FE_TOO_LONG, NULL, "must have at most 262144 bytes", "metadata.annotations");
    }
    json_t *fins = json_object_get(meta, "finalizers");
    size_t i;
    json_t *f;
    json_array_foreach(fins, i, f)
    {
        const char *s = json_string_value(f);
        const char *why = s ? validate_qualified_name(s) : "must be a string";
        if (why)
            fe_add(fe, FE_INVALID, f, why, "metadata.finalizers[%zu]", i);
        else if (!strchr(s, '/') && strcmp(s, "kubernetes") != 0 && strcmp(s, "orphan") != 0 &&
                 strcmp(s, "foregroundDeletion") != 0)
            fe_add(fe, FE_INVALID, f,
                   "name is neither a standard finalizer name nor is it fully "
                   "qualified",
                   "metadata.finalizers[%zu]", i);
    }
    json_t *owners = json_object_get(meta, "ownerReferences");
    json_t *o;
    json_array_foreach(owners, i, o)
    {
        static const char *const req[] = {"apiVersion", "kind", "name", "uid"};
        for (size_t k = 0; k < 4; k++) {
            json_t *val = json_object_get(o, req[k]);
            const char *v = json_string_value(val);
            if (!v || !*v) {
                json_t *empty = json_string("");
                fe_add(fe, FE_INVALID, val ? val : empty, "must not be empty",
                       "metadata.ownerReferences.%s", req[k]);
                json_decref(empty);
            }
        }
    }
}
