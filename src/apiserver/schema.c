/*
 * Schemas of the served types, parsed once from the compact definitions in
 * schema_types.c. A definition is "Name" and a body of fields:
 *
 *   name:TYPE[mods]    TYPE: s string, i integer, n number, b boolean,
 *                            t time, q quantity, is int-or-string, o any,
 *                            {T} map of T, [T] list of T, Name an object type
 *                      mods: ! required; @key list merged by key (strategic
 *                            merge); @ list of scalars merged as a set
 *   *                  (first) unknown fields are allowed and kept
 *   ^                  (first) a top-level kind: apiVersion, kind, metadata
 *
 * One description serves four users: unknown-field detection (fieldValidation
 * Strict/Warn), JSON type checks with the field's path, the strategic merge
 * patch's merge keys, and the OpenAPI documents (kubectl explain).
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

struct schema_def {
    const char *name;
    const char *body;
};
extern const struct schema_def schema_defs[];
extern const size_t schema_n_defs;

static struct schema_type *types;
static size_t n_types;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static struct schema_type *find(const char *name, size_t len)
{
    for (size_t i = 0; i < n_types; i++) {
        if (strlen(types[i].name) == len && strncmp(types[i].name, name, len) == 0)
            return &types[i];
    }
    return NULL;
}

/* Parses a TYPE at *p into ref; aborts on a malformed built-in definition
 * (a programming error caught by the unit tests). */
static void parse_type(const char **p, struct schema_ref *ref, const char *where)
{
    const char *s = *p;
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        ref->kind = *s == '{' ? SK_MAP : SK_LIST;
        s++;
        ref->elem = xcalloc(1, sizeof(*ref->elem));
        parse_type(&s, ref->elem, where);
        if (*s != close) {
            fprintf(stderr, "schema %s: expected '%c' at '%s'\n", where, close, s);
            abort();
        }
        s++;
    } else {
        size_t n = 0;
        while (isalnum((unsigned char)s[n]))
            n++;
        if (n == 0) {
            fprintf(stderr, "schema %s: expected a type at '%s'\n", where, s);
            abort();
        }
        if (isupper((unsigned char)s[0])) {
            ref->kind = SK_OBJECT;
            ref->obj = find(s, n);
            if (!ref->obj) {
                fprintf(stderr, "schema %s: unknown type '%.*s'\n", where, (int)n, s);
                abort();
            }
        } else if (n == 1 && s[0] == 's') {
            ref->kind = SK_STRING;
        } else if (n == 1 && s[0] == 'i') {
            ref->kind = SK_INT;
        } else if (n == 1 && s[0] == 'n') {
            ref->kind = SK_NUMBER;
        } else if (n == 1 && s[0] == 'b') {
            ref->kind = SK_BOOL;
        } else if (n == 1 && s[0] == 't') {
            ref->kind = SK_TIME;
        } else if (n == 1 && s[0] == 'q') {
            ref->kind = SK_QUANTITY;
        } else if (n == 2 && strncmp(s, "is", 2) == 0) {
            ref->kind = SK_INTSTR;
        } else if (n == 1 && s[0] == 'o') {
            ref->kind = SK_ANY;
        } else {
            fprintf(stderr, "schema %s: unknown type '%.*s'\n", where, (int)n, s);
            abort();
        }
        s += n;
    }
    *p = s;
}

static void add_field(struct schema_type *t, const char *name, size_t len)
{
    t->fields = xrealloc(t->fields, (t->n_fields + 1) * sizeof(*t->fields));
    struct schema_field *f = &t->fields[t->n_fields++];
    memset(f, 0, sizeof(*f));
    f->name = strndup(name, len);
    if (!f->name)
        abort();
}

static void parse_body(struct schema_type *t, const char *body)
{
    const char *s = body;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        if (*s == '*') {
            t->open = true;
            s++;
            continue;
        }
        if (*s == '^') {
            add_field(t, "apiVersion", 10);
            t->fields[t->n_fields - 1].ref.kind = SK_STRING;
            add_field(t, "kind", 4);
            t->fields[t->n_fields - 1].ref.kind = SK_STRING;
            add_field(t, "metadata", 8);
            t->fields[t->n_fields - 1].ref.kind = SK_OBJECT;
            t->fields[t->n_fields - 1].ref.obj = find("ObjectMeta", 10);
            s++;
            continue;
        }
        size_t n = strcspn(s, ":");
        if (!s[n]) {
            fprintf(stderr, "schema %s: expected ':' after '%s'\n", t->name, s);
            abort();
        }
        add_field(t, s, n);
        struct schema_field *f = &t->fields[t->n_fields - 1];
        s += n + 1;
        parse_type(&s, &f->ref, t->name);
        while (*s == '!' || *s == '@') {
            if (*s == '!') {
                f->ref.required = true;
                s++;
                continue;
            }
            s++;
            size_t k = 0;
            while (isalnum((unsigned char)s[k]))
                k++;
            if (k == 0) {
                f->ref.merge_primitives = true;
            } else {
                f->ref.merge_key = strndup(s, k);
                if (!f->ref.merge_key)
                    abort();
            }
            s += k;
        }
        if (*s && !isspace((unsigned char)*s)) {
            fprintf(stderr, "schema %s.%s: junk at '%s'\n", t->name, f->name, s);
            abort();
        }
    }
}

static void init(void)
{
    /* Names first, so definitions may refer to types defined later. */
    types = xcalloc(schema_n_defs, sizeof(*types));
    n_types = schema_n_defs;
    for (size_t i = 0; i < schema_n_defs; i++)
        types[i].name = xstrdup(schema_defs[i].name);
    for (size_t i = 0; i < schema_n_defs; i++)
        parse_body(&types[i], schema_defs[i].body);
}

const struct schema_type *schema_lookup(const char *name)
{
    pthread_once(&once, init);
    return find(name, strlen(name));
}

const struct schema_field *schema_field(const struct schema_type *t, const char *name)
{
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n_fields; i++) {
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    }
    return NULL;
}

size_t schema_count(void)
{
    pthread_once(&once, init);
    return n_types;
}

const struct schema_type *schema_at(size_t i)
{
    pthread_once(&once, init);
    return i < n_types ? &types[i] : NULL;
}

/* ---------------------------------------------------------------- checks */

static const char *json_kind_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "number";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
        return "null";
    }
    return "value";
}

struct check {
    bool prune;
    json_t *unknown;
    wharf_error *err;
};

static int check_ref(struct check *ck, const struct schema_ref *ref, json_t *v, strbuf *path);

static int type_error(struct check *ck, strbuf *path, const char *want, json_t *v)
{
    return wharf_error_set(ck->err, -EINVAL, "%s: expected %s, got %s",
                           path->len ? strbuf_str(path) : "(root)", want, json_kind_name(v));
}

static int check_object(struct check *ck, const struct schema_type *t, json_t *obj, strbuf *path)
{
    if (json_is_null(obj))
        return 0;
    if (!json_is_object(obj))
        return type_error(ck, path, "an object", obj);
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        size_t save = path->len;
        if (path->len)
            strbuf_addch(path, '.');
        strbuf_addstr(path, k);
        const struct schema_field *f = schema_field(t, k);
        int rc = 0;
        if (f) {
            rc = check_ref(ck, &f->ref, v, path);
        } else if (!t->open) {
            if (ck->unknown)
                json_array_append_new(ck->unknown, json_string(strbuf_str(path)));
            if (ck->prune)
                json_object_del(obj, k);
        }
        path->len = save;
        path->buf[save] = '\0';
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_ref(struct check *ck, const struct schema_ref *ref, json_t *v, strbuf *path)
{
    if (json_is_null(v))
        return 0;
    switch (ref->kind) {
    case SK_STRING:
    case SK_TIME:
        return json_is_string(v) ? 0 : type_error(ck, path, "a string", v);
    case SK_INT:
        return json_is_integer(v) ? 0 : type_error(ck, path, "an integer", v);
    case SK_NUMBER:
        return json_is_number(v) ? 0 : type_error(ck, path, "a number", v);
    case SK_BOOL:
        return json_is_boolean(v) ? 0 : type_error(ck, path, "a boolean", v);
    case SK_QUANTITY:
        return json_is_string(v) || json_is_number(v) ? 0 : type_error(ck, path, "a quantity", v);
    case SK_INTSTR:
        return json_is_string(v) || json_is_integer(v)
                   ? 0
                   : type_error(ck, path, "an integer or a string", v);
    case SK_ANY:
        return 0;
    case SK_MAP: {
        if (!json_is_object(v))
            return type_error(ck, path, "an object", v);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            size_t save = path->len;
            strbuf_addf(path, ".%s", k);
            int rc = check_ref(ck, ref->elem, e, path);
            path->len = save;
            path->buf[save] = '\0';
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case SK_LIST: {
        if (!json_is_array(v))
            return type_error(ck, path, "an array", v);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            size_t save = path->len;
            strbuf_addf(path, "[%zu]", i);
            int rc = check_ref(ck, ref->elem, e, path);
            path->len = save;
            path->buf[save] = '\0';
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    case SK_OBJECT:
        return check_object(ck, ref->obj, v, path);
    }
    return 0;
}

int schema_check(const struct schema_type *t, json_t *obj, bool prune, json_t **unknown,
                 wharf_error *err)
{
    struct check ck = {prune, unknown ? json_array() : NULL, err};
    strbuf path = STRBUF_INIT;
    int rc = check_object(&ck, t, obj, &path);
    strbuf_release(&path);
    if (unknown)
        *unknown = ck.unknown;
    return rc;
}
