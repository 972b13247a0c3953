/* json.c — typed field access over jansson with errors naming the field. */
#include "base.h"

#include <errno.h>
#include <jansson.h>

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static json_t *member(json_t *obj, const char *where, const char *key, bool required, int *r,
                      wharf_error *err)
{
    *r = 0;
    json_t *v = obj && json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (v && json_is_null(v))
        v = NULL;
    if (!v && required)
        *r = wharf_error_set(err, -EINVAL, "%s%s%s: required field is missing", where,
                             *where ? "." : "", key);
    return v;
}

static int wrong(wharf_error *err, const char *where, const char *key, const char *want, json_t *v)
{
    return wharf_error_set(err, -EINVAL, "%s%s%s: expected %s, got %s", where, *where ? "." : "",
                           key, want, type_name(v));
}

int wjson_string(json_t *obj, const char *where, const char *key, bool required, const char **out,
                 wharf_error *err)
{
    int r;
    json_t *v = member(obj, where, key, required, &r, err);
    if (!v)
        return r;
    if (!json_is_string(v))
        return wrong(err, where, key, "a string", v);
    *out = json_string_value(v);
    return 0;
}

int wjson_bool(json_t *obj, const char *where, const char *key, bool *out, wharf_error *err)
{
    int r;
    json_t *v = member(obj, where, key, false, &r, err);
    if (!v)
        return r;
    if (!json_is_boolean(v))
        return wrong(err, where, key, "a boolean", v);
    *out = json_is_true(v);
    return 0;
}

int wjson_int64(json_t *obj, const char *where, const char *key, int64_t *out, bool *present,
                wharf_error *err)
{
    int r;
    json_t *v = member(obj, where, key, false, &r, err);
    if (present)
        *present = v != NULL;
    if (!v)
        return r;
    if (!json_is_integer(v))
        return wrong(err, where, key, "an integer", v);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int wjson_uint64(json_t *obj, const char *where, const char *key, uint64_t *out, bool *present,
                 wharf_error *err)
{
    int64_t s = 0;
    bool have = false;
    int r = wjson_int64(obj, where, key, &s, &have, err);
    if (present)
        *present = have;
    if (r < 0 || !have)
        return r;
    if (s < 0)
        return wharf_error_set(err, -EINVAL, "%s%s%s: must not be negative", where,
                               *where ? "." : "", key);
    *out = (uint64_t)s;
    return 0;
}

int wjson_object(json_t *obj, const char *where, const char *key, bool required, json_t **out,
                 wharf_error *err)
{
    int r;
    json_t *v = member(obj, where, key, required, &r, err);
    *out = NULL;
    if (!v)
        return r;
    if (!json_is_object(v))
        return wrong(err, where, key, "an object", v);
    *out = v;
    return 0;
}

int wjson_array(json_t *obj, const char *where, const char *key, bool required, json_t **out,
                wharf_error *err)
{
    int r;
    json_t *v = member(obj, where, key, required, &r, err);
    *out = NULL;
    if (!v)
        return r;
    if (!json_is_array(v))
        return wrong(err, where, key, "an array", v);
    *out = v;
    return 0;
}

int wjson_string_array(json_t *obj, const char *where, const char *key, bool required,
                       const char ***out, size_t *count, wharf_error *err)
{
    json_t *arr;
    int r = wjson_array(obj, where, key, required, &arr, err);
    if (r < 0 || !arr)
        return r;
    size_t n = json_array_size(arr);
    const char **v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e)) {
            free(v);
            return wharf_error_set(err, -EINVAL, "%s%s%s[%zu]: expected a string, got %s", where,
                                   *where ? "." : "", key, i, type_name(e));
        }
        v[i] = json_string_value(e);
    }
    *out = v;
    if (count)
        *count = n;
    return 0;
}

json_t *wjson_load_file(const char *path, wharf_error *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        if (je.line < 0)
            wharf_error_set(err, -ENOENT, "%s: %s", path, je.text);
        else
            wharf_error_set(err, -EINVAL, "%s: line %d column %d: %s", path, je.line, je.column,
                            je.text);
    }
    return j;
}

void wjson_decrefp(json_t **j)
{
    if (*j)
        json_decref(*j);
}
