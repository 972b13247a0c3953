/*
 * application/yaml request bodies, as kube-apiserver takes them: one YAML
 * document turned into the JSON it stands for (libyaml's event parser).
 * Plain scalars are typed as sigs.k8s.io/yaml types them — null, ~ and an
 * empty value are null; true/false (and YAML 1.1's yes/no/on/off) are
 * booleans; integers and floats are numbers — quoted scalars are strings.
 * Anchors and aliases work; a second document is an error.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

struct anchor {
    char *name;
    json_t *value;
};

struct yparse {
    yaml_parser_t p;
    struct anchor *anchors;
    size_t n_anchors;
    wharf_error *err;
};

static void remember(struct yparse *y, const unsigned char *name, json_t *value)
{
    if (!name)
        return;
    y->anchors = xrealloc(y->anchors, (y->n_anchors + 1) * sizeof(*y->anchors));
    y->anchors[y->n_anchors++] = (struct anchor){xstrdup((const char *)name), json_incref(value)};
}

static json_t *plain_scalar(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes",
                                        "YES",  "on",   "On",   "ON"};
    static const char *const falses[] = {"false", "False", "FALSE", "no", "No",
                                         "NO",    "off",   "Off",   "OFF"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(s, nulls[i]) == 0)
            return json_null();
    for (size_t i = 0; i < sizeof(trues) / sizeof(trues[0]); i++)
        if (strcmp(s, trues[i]) == 0)
            return json_true();
    for (size_t i = 0; i < sizeof(falses) / sizeof(falses[0]); i++)
        if (strcmp(s, falses[i]) == 0)
            return json_false();
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (len && *end == '\0' && errno == 0 &&
        (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+'))
        return json_integer(v);
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        v = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
        if (*end == '\0')
            return json_integer(v);
    }
    double d = strtod(s, &end);
    if (len && *end == '\0' && isfinite(d) &&
        (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.'))
        return json_real(d);
    return json_stringn(s, len);
}

static int fail(struct yparse *y, const char *what)
{
    if (y->p.error != YAML_NO_ERROR)
        return wharf_error_set(y->err, -EINVAL, "yaml: line %zu: %s", y->p.problem_mark.line + 1,
                               y->p.problem ? y->p.problem : "parse error");
    return wharf_error_set(y->err, -EINVAL, "yaml: %s", what);
}

/* Parses the node that starts with ev (consumed); a new reference or NULL. */
static json_t *node(struct yparse *y, yaml_event_t *ev, int depth)
{
    if (depth > 200) {
        fail(y, "nesting too deep");
        return NULL;
    }
    json_t *out = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag)
            out = plain_scalar(s, len);
        else
            out = json_stringn(s, len);
        if (!out)
            fail(y, "a string is not valid UTF-8");
        else
            remember(y, ev->data.scalar.anchor, out);
        break;
    }
    case YAML_ALIAS_EVENT:
        for (size_t i = y->n_anchors; i-- > 0;) {
            if (strcmp(y->anchors[i].name, (const char *)ev->data.alias.anchor) == 0) {
                out = json_deep_copy(y->anchors[i].value);
                break;
            }
        }
        if (!out)
            fail(y, "unknown alias");
        break;
    case YAML_SEQUENCE_START_EVENT: {
        out = json_array();
        unsigned char *anchor =
            ev->data.sequence_start.anchor
                ? (unsigned char *)xstrdup((const char *)ev->data.sequence_start.anchor)
                : NULL;
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(&y->p, &e)) {
                fail(y, "bad sequence");
                json_decref(out);
                out = NULL;
                break;
            }
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                break;
            }
            json_t *item = node(y, &e, depth + 1);
            if (!item) {
                json_decref(out);
                out = NULL;
                break;
            }
            json_array_append_new(out, item);
        }
        if (out)
            remember(y, anchor, out);
        free(anchor);
        break;
    }
    case YAML_MAPPING_START_EVENT: {
        out = json_object();
        unsigned char *anchor =
            ev->data.mapping_start.anchor
                ? (unsigned char *)xstrdup((const char *)ev->data.mapping_start.anchor)
                : NULL;
        for (;;) {
            yaml_event_t k;
            if (!yaml_parser_parse(&y->p, &k)) {
                fail(y, "bad mapping");
                json_decref(out);
                out = NULL;
                break;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            json_t *key = node(y, &k, depth + 1);
            if (!key) {
                json_decref(out);
                out = NULL;
                break;
            }
            /* JSON keys are strings: a plain 1 or true is "1", "true" */
            char *kstr = json_is_string(key) ? xstrdup(json_string_value(key))
                                             : json_dumps(key, JSON_ENCODE_ANY);
            json_decref(key);
            yaml_event_t v;
            json_t *value = NULL;
            if (!yaml_parser_parse(&y->p, &v))
                fail(y, "bad mapping value");
            else
                value = node(y, &v, depth + 1);
            if (!value) {
                free(kstr);
                json_decref(out);
                out = NULL;
                break;
            }
            json_object_set_new(out, kstr ? kstr : "", value);
            free(kstr);
        }
        if (out)
            remember(y, anchor, out);
        free(anchor);
        break;
    }
    default:
        fail(y, "unexpected event");
        break;
    }
    yaml_event_delete(ev);
    return out;
}

json_t *yaml_to_json(const char *text, size_t len, wharf_error *err)
{
    struct yparse y = {.err = err};
    if (!yaml_parser_initialize(&y.p)) {
        wharf_error_set(err, -ENOMEM, "yaml: cannot start the parser");
        return NULL;
    }
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
    json_t *doc = NULL;
    bool done = false;
    size_t docs = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y.p, &ev)) {
            fail(&y, "parse error");
            json_decref(doc);
            doc = NULL;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            yaml_event_delete(&ev);
            break;
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            yaml_event_delete(&ev);
            break;
        default:
            if (++docs > 1) {
                yaml_event_delete(&ev);
                fail(&y, "more than one document");
                json_decref(doc);
                doc = NULL;
                done = true;
                break;
            }
            doc = node(&y, &ev, 0);
            if (!doc)
                done = true;
            break;
        }
    }
    if (doc && docs == 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (!doc && !err->code)
        wharf_error_set(err, -EINVAL, "yaml: empty document");
    for (size_t i = 0; i < y.n_anchors; i++) {
        free(y.anchors[i].name);
        json_decref(y.anchors[i].value);
    }
    free(y.anchors);
    yaml_parser_delete(&y.p);
    return doc;
}
