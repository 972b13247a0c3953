/*
 * The three patch formats the PATCH verb takes:
 *
 *   application/merge-patch+json            RFC 7386: objects merge, null
 *                                            deletes, anything else replaces
 *   application/json-patch+json             RFC 6902 operations on JSON
 *                                            pointers
 *   application/strategic-merge-patch+json  Kubernetes' strategic merge:
 *                                            like a merge patch, but lists
 *                                            with a merge key (containers by
 *                                            name, ports by containerPort,
 *                                            ...) merge element by element,
 *                                            and the directives kubectl's
 *                                            client-side apply sends work:
 *                                            $patch (replace, delete, merge),
 *                                            $retainKeys, $setElementOrder/F,
 *                                            $deleteFromPrimitiveList/F
 *
 * Merge keys and list strategies come from the schemas (schema_types.c).
 * None of these functions modifies its inputs.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* ---------------------------------------------------------------- merge patch */

json_t *patch_merge(json_t *target, json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(out, k);
            continue;
        }
        json_object_set_new(out, k, patch_merge(json_object_get(out, k), v));
    }
    return out;
}

/* ---------------------------------------------------------------- JSON patch */

/* Splits a JSON pointer into unescaped tokens; -EINVAL if malformed. */
static int pointer_tokens(const char *ptr, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!*ptr)
        return 0;
    if (*ptr != '/')
        return -EINVAL;
    const char *p = ptr + 1;
    for (;;) {
        size_t len = strcspn(p, "/");
        strbuf tok = STRBUF_INIT;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                strbuf_addch(&tok, p[i + 1] == '0' ? '~' : '/');
                i++;
            } else if (p[i] == '~') {
                strbuf_release(&tok);
                for (size_t k = 0; k < *n; k++)
                    free((*out)[k]);
                free(*out);
                *out = NULL;
                *n = 0;
                return -EINVAL;
            } else {
                strbuf_addch(&tok, p[i]);
            }
        }
        *out = xrealloc(*out, (*n + 1) * sizeof(char *));
        (*out)[(*n)++] = strbuf_detach(&tok);
        if (!p[len])
            break;
        p += len + 1;
    }
    return 0;
}

static void tokens_free(char **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

/* An array index token: digits without a leading zero; -1 otherwise. */
static long array_index(const char *tok)
{
    if (!*tok || (tok[0] == '0' && tok[1]))
        return -1;
    long v = 0;
    for (const char *p = tok; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

/* The container holding the last token (borrowed), or NULL. */
static json_t *resolve_parent(json_t *doc, char **toks, size_t n)
{
    json_t *cur = doc;
    for (size_t i = 0; i + 1 < n && cur; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, toks[i]);
        } else if (json_is_array(cur)) {
            long idx = array_index(toks[i]);
            cur = idx < 0 ? NULL : json_array_get(cur, (size_t)idx);
        } else {
            cur = NULL;
        }
    }
    return cur;
}

static json_t *resolve(json_t *doc, char **toks, size_t n)
{
    if (n == 0)
        return doc;
    json_t *parent = resolve_parent(doc, toks, n);
    if (json_is_object(parent))
        return json_object_get(parent, toks[n - 1]);
    if (json_is_array(parent)) {
        long idx = array_index(toks[n - 1]);
        return idx < 0 ? NULL : json_array_get(parent, (size_t)idx);
    }
    return NULL;
}

/* add: takes value. */
static int op_add(json_t **doc, char **toks, size_t n, json_t *value)
{
    if (n == 0) {
        json_decref(*doc);
        *doc = value;
        return 0;
    }
    json_t *parent = resolve_parent(*doc, toks, n);
    const char *last = toks[n - 1];
    if (json_is_object(parent))
        return json_object_set_new(parent, last, value) == 0 ? 0 : -EINVAL;
    if (json_is_array(parent)) {
        if (strcmp(last, "-") == 0)
            return json_array_append_new(parent, value) == 0 ? 0 : -EINVAL;
        long idx = array_index(last);
        if (idx >= 0 && (size_t)idx <= json_array_size(parent))
            return json_array_insert_new(parent, (size_t)idx, value) == 0 ? 0 : -EINVAL;
    }
    json_decref(value);
    return -ENOENT;
}

static int op_remove(json_t *doc, char **toks, size_t n)
{
    if (n == 0)
        return -EINVAL;
    json_t *parent = resolve_parent(doc, toks, n);
    const char *last = toks[n - 1];
    if (json_is_object(parent))
        return json_object_del(parent, last) == 0 ? 0 : -ENOENT;
    if (json_is_array(parent)) {
        long idx = array_index(last);
        if (idx >= 0 && (size_t)idx < json_array_size(parent))
            return json_array_remove(parent, (size_t)idx) == 0 ? 0 : -ENOENT;
    }
    return -ENOENT;
}

int patch_json(json_t *doc, json_t *ops, json_t **out, wharf_error *err)
{
    if (!json_is_array(ops))
        return wharf_error_set(err, -EINVAL, "a JSON patch must be an array of operations");
    json_t *cur = json_deep_copy(doc);
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        int rc = 0;
        if (!name || !path) {
            rc =
                wharf_error_set(err, -EINVAL, "operation %zu: \"op\" and \"path\" are required", i);
            goto fail;
        }
        char **toks = NULL;
        size_t n = 0;
        if (pointer_tokens(path, &toks, &n) < 0) {
            rc = wharf_error_set(err, -EINVAL, "operation %zu: bad JSON pointer \"%s\"", i, path);
            goto fail;
        }
        json_t *value = json_object_get(op, "value");
        if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0) {
            if (!value) {
                rc = wharf_error_set(err, -EINVAL, "operation %zu (%s %s): missing value", i, name,
                                     path);
            } else if (strcmp(name, "replace") == 0 && !resolve(cur, toks, n)) {
                rc = wharf_error_set(
                    err, -ENOENT, "replace operation does not apply: doc is missing key: %s", path);
            } else {
                /* replace = remove + add at the same place (an array
                 * index inserts back where the old element was) */
                if (strcmp(name, "replace") == 0 && n > 0)
                    op_remove(cur, toks, n);
                rc = op_add(&cur, toks, n, json_deep_copy(value));
                if (rc < 0)
                    wharf_error_set(err, rc,
                                    "%s operation does not apply: doc is missing path: \"%s\"",
                                    name, path);
            }
        } else if (strcmp(name, "remove") == 0) {
            rc = op_remove(cur, toks, n);
            if (rc < 0)
                wharf_error_set(
                    err, rc, "remove operation does not apply: doc is missing path: \"%s\"", path);
        } else if (strcmp(name, "test") == 0) {
            json_t *at = resolve(cur, toks, n);
            if (!at || !value || !json_equal(at, value))
                rc = wharf_error_set(err, -EINVAL, "testing value %s failed", path);
        } else if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
            const char *from = json_string_value(json_object_get(op, "from"));
            char **ftoks = NULL;
            size_t fn = 0;
            json_t *src = NULL;
            if (!from || pointer_tokens(from, &ftoks, &fn) < 0 ||
                !(src = resolve(cur, ftoks, fn))) {
                rc = wharf_error_set(err, -ENOENT,
                                     "%s operation does not apply: doc is missing from path: %s",
                                     name, from ? from : "(none)");
            } else {
                json_t *copy = json_deep_copy(src);
                if (strcmp(name, "move") == 0)
                    op_remove(cur, ftoks, fn);
                rc = op_add(&cur, toks, n, copy);
                if (rc < 0)
                    wharf_error_set(err, rc,
                                    "%s operation does not apply: doc is missing path: \"%s\"",
                                    name, path);
            }
            tokens_free(ftoks, fn);
        } else {
            rc = wharf_error_set(err, -EINVAL, "Unexpected kind: %s", name);
        }
        tokens_free(toks, n);
        if (rc < 0)
            goto fail;
        continue;
    fail:
        json_decref(cur);
        return rc;
    }
    *out = cur;
    return 0;
}

/* ---------------------------------------------------------------- strategic merge */

#define SET_ORDER "$setElementOrder/"
#define DELETE_PRIMITIVE "$deleteFromPrimitiveList/"

static int smp_object(json_t *orig, json_t *patch, const struct schema_type *t, json_t **out,
                      bool *deleted, wharf_error *err);

/* Removes directive keys from a value the patch adds without an original. */
static int smp_fresh(json_t *patch, const struct schema_ref *ref, json_t **out, wharf_error *err);

static bool is_directive(const char *k)
{
    return k[0] == '$';
}

/* The element type of a list field, when it is a list of object types. */
static const struct schema_type *elem_type(const struct schema_ref *ref)
{
    if (ref && ref->kind == SK_LIST && ref->elem && ref->elem->kind == SK_OBJECT)
        return ref->elem->obj;
    return NULL;
}

static json_t *find_by_key(json_t *list, const char *key, json_t *value, size_t *index)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        json_t *v = json_object_get(e, key);
        if (v && json_equal(v, value)) {
            if (index)
                *index = i;
            return e;
        }
    }
    return NULL;
}

static int merge_keyed_list(json_t *orig, json_t *patch, const char *key,
                            const struct schema_type *et, json_t **out, wharf_error *err)
{
    /* [{"$patch": "replace"}, ...]: the list becomes the other elements. */
    size_t i;
    json_t *pe;
    bool replace = false;
    json_array_foreach(patch, i, pe)
    {
        const char *d = json_string_value(json_object_get(pe, "$patch"));
        if (d && strcmp(d, "replace") == 0 && json_object_size(pe) == 1)
            replace = true;
    }
    json_t *res = replace || !json_is_array(orig) ? json_array() : json_deep_copy(orig);
    json_array_foreach(patch, i, pe)
    {
        if (!json_is_object(pe)) {
            json_decref(res);
            return wharf_error_set(err, -EINVAL,
                                   "strategic merge patch: list merged by \"%s\" has a non-object "
                                   "element",
                                   key);
        }
        const char *d = json_string_value(json_object_get(pe, "$patch"));
        if (d && strcmp(d, "replace") == 0 && json_object_size(pe) == 1)
            continue;
        json_t *kv = json_object_get(pe, key);
        if (!kv) {
            json_decref(res);
            _cleanup_free_ char *txt = json_dumps(pe, JSON_COMPACT);
            return wharf_error_set(err, -EINVAL, "map: %s does not contain declared merge key: %s",
                                   txt ? txt : "{}", key);
        }
        size_t idx = 0;
        json_t *cur = find_by_key(res, key, kv, &idx);
        if (d && strcmp(d, "delete") == 0) {
            while (cur) {
                json_array_remove(res, idx);
                cur = find_by_key(res, key, kv, &idx);
            }
            continue;
        }
        json_t *merged = NULL;
        bool del = false;
        int rc = smp_object(cur ? cur : NULL, pe, et, &merged, &del, err);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
        if (cur) {
            if (del)
                json_array_remove(res, idx);
            else
                json_array_set_new(res, idx, merged);
        } else if (!del) {
            json_array_append_new(res, merged);
        }
        if (del && merged)
            json_decref(merged);
    }
    *out = res;
    return 0;
}

static json_t *merge_primitive_list(json_t *orig, json_t *patch)
{
    json_t *res = json_is_array(orig) ? json_deep_copy(orig) : json_array();
    size_t i, k;
    json_t *v, *e;
    json_array_foreach(patch, i, v)
    {
        bool have = false;
        json_array_foreach(res, k, e)
        {
            if (json_equal(e, v))
                have = true;
        }
        if (!have)
            json_array_append(res, v);
    }
    return res;
}

/* Orders list per order (elements or merge-key objects): listed ones first
 * in that order, the others after them in their current order. */
static void apply_order(json_t *list, json_t *order, const char *key)
{
    if (!json_is_array(list) || !json_is_array(order))
        return;
    json_t *sorted = json_array();
    json_t *rest = json_deep_copy(list);
    size_t i;
    json_t *o;
    json_array_foreach(order, i, o)
    {
        size_t k;
        json_t *e;
        json_array_foreach(rest, k, e)
        {
            bool match = key ? (json_object_get(e, key) && json_object_get(o, key) &&
                                json_equal(json_object_get(e, key), json_object_get(o, key)))
                             : json_equal(e, o);
            if (match) {
                json_array_append(sorted, e);
                json_array_remove(rest, k);
                break;
            }
        }
    }
    json_array_extend(sorted, rest);
    json_decref(rest);
    json_array_clear(list);
    json_array_extend(list, sorted);
    json_decref(sorted);
}

/* Merges patch value pv into the original value ov (may be NULL) of a
 * field described by ref (may be NULL: unknown, plain merge). */
static int smp_value(json_t *ov, json_t *pv, const struct schema_ref *ref, json_t **out,
                     bool *deleted, wharf_error *err)
{
    *deleted = false;
    if (json_is_object(pv)) {
        if (ref && ref->kind == SK_OBJECT)
            return smp_object(ov, pv, ref->obj, out, deleted, err);
        if (ref && ref->kind == SK_MAP && ref->elem && ref->elem->kind == SK_OBJECT) {
            /* map of objects: each value merges as an object */
            const char *d = json_string_value(json_object_get(pv, "$patch"));
            if (d && strcmp(d, "replace") == 0)
                return smp_fresh(pv, ref, out, err);
            json_t *res = json_is_object(ov) ? json_deep_copy(ov) : json_object();
            const char *k;
            json_t *v;
            json_object_foreach(pv, k, v)
            {
                if (is_directive(k))
                    continue;
                if (json_is_null(v)) {
                    json_object_del(res, k);
                    continue;
                }
                json_t *m = NULL;
                bool del = false;
                int rc = smp_object(json_object_get(res, k), v, ref->elem->obj, &m, &del, err);
                if (rc < 0) {
                    json_decref(res);
                    return rc;
                }
                if (del) {
                    json_object_del(res, k);
                    if (m)
                        json_decref(m);
                } else {
                    json_object_set_new(res, k, m);
                }
            }
            *out = res;
            return 0;
        }
        /* A map of scalars, or a free-form object: merge without a schema. */
        return smp_object(ov, pv, NULL, out, deleted, err);
    }
    if (json_is_array(pv)) {
        const struct schema_type *et = elem_type(ref);
        if (ref && ref->kind == SK_LIST && ref->merge_key && et)
            return merge_keyed_list(ov, pv, ref->merge_key, et, out, err);
        if (ref && ref->kind == SK_LIST && ref->merge_key && !et) {
            /* keyed list of free-form objects */
            return merge_keyed_list(ov, pv, ref->merge_key, NULL, out, err);
        }
        if (ref && ref->kind == SK_LIST && ref->merge_primitives) {
            *out = merge_primitive_list(ov, pv);
            return 0;
        }
        return smp_fresh(pv, ref, out, err);
    }
    *out = json_deep_copy(pv);
    return 0;
}

static int smp_fresh(json_t *patch, const struct schema_ref *ref, json_t **out, wharf_error *err)
{
    if (json_is_object(patch)) {
        bool del = false;
        const struct schema_type *t = ref && ref->kind == SK_OBJECT ? ref->obj : NULL;
        json_t *copy = json_deep_copy(patch);
        const char *d = json_string_value(json_object_get(copy, "$patch"));
        if (d && strcmp(d, "replace") == 0)
            json_object_del(copy, "$patch");
        int rc = smp_object(NULL, copy, t, out, &del, err);
        json_decref(copy);
        if (rc == 0 && del) {
            json_decref(*out);
            *out = json_object();
        }
        return rc;
    }
    if (json_is_array(patch)) {
        json_t *res = json_array();
        const struct schema_ref *er = ref && ref->kind == SK_LIST ? ref->elem : NULL;
        size_t i;
        json_t *e;
        json_array_foreach(patch, i, e)
        {
            if (json_is_object(e)) {
                const char *d = json_string_value(json_object_get(e, "$patch"));
                if (d && json_object_size(e) == 1)
                    continue;
            }
            json_t *v = NULL;
            int rc = smp_fresh(e, er, &v, err);
            if (rc < 0) {
                json_decref(res);
                return rc;
            }
            json_array_append_new(res, v);
        }
        *out = res;
        return 0;
    }
    *out = json_deep_copy(patch);
    return 0;
}

static int smp_object(json_t *orig, json_t *patch, const struct schema_type *t, json_t **out,
                      bool *deleted, wharf_error *err)
{
    *deleted = false;
    *out = NULL;
    const char *directive = json_string_value(json_object_get(patch, "$patch"));
    if (directive) {
        if (strcmp(directive, "delete") == 0) {
            *deleted = true;
            return 0;
        }
        if (strcmp(directive, "replace") == 0) {
            json_t *copy = json_deep_copy(patch);
            json_object_del(copy, "$patch");
            struct schema_ref ref = {.kind = SK_OBJECT, .obj = t};
            int rc = smp_fresh(copy, t ? &ref : NULL, out, err);
            json_decref(copy);
            return rc;
        }
        if (strcmp(directive, "merge") != 0)
            return wharf_error_set(err, -EINVAL, "strategic merge patch: unknown $patch: %s",
                                   directive);
    }
    json_t *res = json_is_object(orig) ? json_deep_copy(orig) : json_object();
    json_t *retain = json_object_get(patch, "$retainKeys");
    if (retain) {
        if (!json_is_array(retain)) {
            json_decref(res);
            return wharf_error_set(err, -EINVAL,
                                   "strategic merge patch: $retainKeys must be a "
                                   "list");
        }
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(res, tmp, k, v)
        {
            bool keep = false;
            size_t i;
            json_t *r;
            json_array_foreach(retain, i, r)
            {
                if (json_is_string(r) && strcmp(json_string_value(r), k) == 0)
                    keep = true;
            }
            if (!keep)
                json_object_del(res, k);
        }
    }
    const char *k;
    json_t *pv;
    json_object_foreach(patch, k, pv)
    {
        if (strncmp(k, DELETE_PRIMITIVE, strlen(DELETE_PRIMITIVE)) == 0) {
            const char *field = k + strlen(DELETE_PRIMITIVE);
            json_t *list = json_object_get(res, field);
            if (json_is_array(list) && json_is_array(pv)) {
                size_t i, j;
                json_t *d, *e;
                json_array_foreach(pv, i, d)
                {
                    for (j = json_array_size(list); j-- > 0;) {
                        e = json_array_get(list, j);
                        if (json_equal(e, d))
                            json_array_remove(list, j);
                    }
                }
            }
            continue;
        }
        if (is_directive(k))
            continue;
        if (json_is_null(pv)) {
            json_object_del(res, k);
            continue;
        }
        const struct schema_field *f = schema_field(t, k);
        json_t *v = NULL;
        bool del = false;
        int rc = smp_value(json_object_get(res, k), pv, f ? &f->ref : NULL, &v, &del, err);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
        if (del) {
            json_object_del(res, k);
            if (v)
                json_decref(v);
        } else {
            json_object_set_new(res, k, v);
        }
    }
    /* Element order last, once the lists hold their merged elements. */
    json_object_foreach(patch, k, pv)
    {
        if (strncmp(k, SET_ORDER, strlen(SET_ORDER)) != 0)
            continue;
        const char *field = k + strlen(SET_ORDER);
        const struct schema_field *f = schema_field(t, field);
        apply_order(json_object_get(res, field), pv, f ? f->ref.merge_key : NULL);
    }
    *out = res;
    return 0;
}

int patch_strategic(json_t *doc, json_t *patch, const struct schema_type *t, json_t **out,
                    wharf_error *err)
{
    if (!json_is_object(patch))
        return wharf_error_set(err, -EINVAL, "a strategic merge patch must be a JSON object");
    bool deleted = false;
    int rc = smp_object(doc, patch, t, out, &deleted, err);
    if (rc == 0 && deleted) {
        return wharf_error_set(err, -EINVAL,
                               "strategic merge patch: $patch: delete of the whole object");
    }
    return rc;
}
