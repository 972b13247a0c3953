/*
 * Label and field selectors, as the list and watch verbs take them:
 *
 *   labelSelector  a=b, a==b, a!=b, a in (b,c), a notin (b), a, !a, a>1, a<9
 *                  (comma = AND; != and notin also match objects without a)
 *   fieldSelector  metadata.name=x, spec.nodeName!=n, ... (=, ==, !=; the
 *                  fields each resource supports, else 400 as kube answers)
 *
 * and metav1.LabelSelector objects (matchLabels/matchExpressions) turned
 * into the same form, for workload selectors and the Scale subresource.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* ---------------------------------------------------------------- lexer */

enum tok_kind {
    T_END,
    T_IDENT,
    T_NOT,   /* ! */
    T_EQ,    /* = or == */
    T_NEQ,   /* != */
    T_OPEN,  /* ( */
    T_CLOSE, /* ) */
    T_COMMA, /* , */
    T_GT,    /* > */
    T_LT,    /* < */
    T_IN,    /* in */
    T_NOTIN, /* notin */
};

struct lexer {
    const char *s;
    size_t pos;
};

struct token {
    enum tok_kind kind;
    char *text; /* T_IDENT, T_IN, T_NOTIN */
};

static bool special(char c)
{
    return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

static struct token lex(struct lexer *l)
{
    while (isspace((unsigned char)l->s[l->pos]))
        l->pos++;
    const char *p = l->s + l->pos;
    struct token t = {T_END, NULL};
    if (!*p)
        return t;
    switch (*p) {
    case '!':
        if (p[1] == '=') {
            l->pos += 2;
            t.kind = T_NEQ;
        } else {
            l->pos++;
            t.kind = T_NOT;
        }
        return t;
    case '=':
        l->pos += p[1] == '=' ? 2 : 1;
        t.kind = T_EQ;
        return t;
    case '(':
        l->pos++;
        t.kind = T_OPEN;
        return t;
    case ')':
        l->pos++;
        t.kind = T_CLOSE;
        return t;
    case ',':
        l->pos++;
        t.kind = T_COMMA;
        return t;
    case '>':
        l->pos++;
        t.kind = T_GT;
        return t;
    case '<':
        l->pos++;
        t.kind = T_LT;
        return t;
    }
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]) && !special(p[n]))
        n++;
    l->pos += n;
    t.text = strndup(p, n);
    if (!t.text)
        abort();
    t.kind = strcmp(t.text, "in") == 0 ? T_IN : strcmp(t.text, "notin") == 0 ? T_NOTIN : T_IDENT;
    return t;
}

static struct token peek(struct lexer *l)
{
    size_t save = l->pos;
    struct token t = lex(l);
    l->pos = save;
    return t;
}

/* ---------------------------------------------------------------- label selectors */

static void req_add_value(struct label_requirement *r, const char *v)
{
    r->values = xrealloc(r->values, (r->n_values + 1) * sizeof(char *));
    r->values[r->n_values++] = xstrdup(v);
}

static struct label_requirement *sel_add(struct label_selector *sel, const char *key,
                                         enum label_op op)
{
    sel->reqs = xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
    struct label_requirement *r = &sel->reqs[sel->n++];
    memset(r, 0, sizeof(*r));
    r->key = xstrdup(key);
    r->op = op;
    return r;
}

void label_selector_release(struct label_selector *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].key);
        for (size_t k = 0; k < sel->reqs[i].n_values; k++)
            free(sel->reqs[i].values[k]);
        free(sel->reqs[i].values);
    }
    free(sel->reqs);
    memset(sel, 0, sizeof(*sel));
}

static int bad_key(const char *key, wharf_error *err)
{
    const char *why = validate_qualified_name(key);
    if (why)
        return wharf_error_set(
            err, -EINVAL, "unable to parse requirement: invalid label key \"%s\": %s", key, why);
    return 0;
}

static int bad_value(const char *v, wharf_error *err)
{
    const char *why = validate_label_value(v);
    if (why)
        return wharf_error_set(err, -EINVAL,
                               "unable to parse requirement: invalid label value: \"%s\": at key: "
                               "%s",
                               v, why);
    return 0;
}

static void tok_free(struct token *t)
{
    free(t->text);
    t->text = NULL;
}

static int parse_requirement(struct lexer *l, struct label_selector *out, wharf_error *err)
{
    struct token t = lex(l);
    int rc = 0;
    if (t.kind == T_NOT) {
        struct token k = lex(l);
        if (k.kind != T_IDENT) {
            tok_free(&k);
            return wharf_error_set(err, -EINVAL,
                                   "unable to parse requirement: found '%s', expected: identifier "
                                   "after '!'",
                                   l->s + l->pos);
        }
        rc = bad_key(k.text, err);
        if (rc == 0)
            sel_add(out, k.text, LS_NOT_EXISTS);
        tok_free(&k);
        return rc;
    }
    if (t.kind != T_IDENT) {
        tok_free(&t);
        return wharf_error_set(err, -EINVAL,
                               "unable to parse requirement: found '%s', expected: !, identifier, "
                               "or 'end of string'",
                               l->s + l->pos);
    }
    _cleanup_free_ char *key = t.text;
    if ((rc = bad_key(key, err)) < 0)
        return rc;
    struct token op = peek(l);
    tok_free(&op);
    if (op.kind == T_END || op.kind == T_COMMA) {
        sel_add(out, key, LS_EXISTS);
        return 0;
    }
    op = lex(l);
    tok_free(&op);
    switch (op.kind) {
    case T_EQ:
    case T_NEQ: {
        struct token v = peek(l);
        char *value = NULL;
        if (v.kind == T_IDENT) {
            tok_free(&v);
            v = lex(l);
            value = v.text;
        } else if (v.kind == T_END || v.kind == T_COMMA) {
            tok_free(&v);
            value = xstrdup("");
        } else {
            tok_free(&v);
            return wharf_error_set(err, -EINVAL,
                                   "unable to parse requirement: found '%s', expected: identifier",
                                   l->s + l->pos);
        }
        rc = bad_value(value, err);
        if (rc == 0)
            req_add_value(sel_add(out, key, op.kind == T_EQ ? LS_IN : LS_NOT_IN), value);
        free(value);
        return rc;
    }
    case T_IN:
    case T_NOTIN: {
        struct token o = lex(l);
        tok_free(&o);
        if (o.kind != T_OPEN)
            return wharf_error_set(err, -EINVAL,
                                   "unable to parse requirement: found '%s', expected: '('",
                                   l->s + l->pos);
        struct label_requirement *r = sel_add(out, key, op.kind == T_IN ? LS_IN : LS_NOT_IN);
        for (;;) {
            struct token v = lex(l);
            if (v.kind == T_IDENT) {
                if ((rc = bad_value(v.text, err)) < 0) {
                    tok_free(&v);
                    return rc;
                }
                req_add_value(r, v.text);
                tok_free(&v);
                v = lex(l);
            } else if (v.kind == T_COMMA || v.kind == T_CLOSE) {
                req_add_value(r, "");
            }
            tok_free(&v);
            if (v.kind == T_CLOSE)
                break;
            if (v.kind != T_COMMA)
                return wharf_error_set(err, -EINVAL,
                                       "unable to parse requirement: found '%s', expected: ',' or "
                                       "')'",
                                       l->s + l->pos);
        }
        return 0;
    }
    case T_GT:
    case T_LT: {
        struct token v = lex(l);
        char *end = NULL;
        if (v.kind == T_IDENT)
            strtoll(v.text, &end, 10);
        if (v.kind != T_IDENT || !*v.text || *end) {
            tok_free(&v);
            return wharf_error_set(err, -EINVAL,
                                   "unable to parse requirement: for 'Gt', 'Lt' operators, the "
                                   "value must be an integer");
        }
        req_add_value(sel_add(out, key, op.kind == T_GT ? LS_GT : LS_LT), v.text);
        tok_free(&v);
        return 0;
    }
    default:
        return wharf_error_set(err, -EINVAL,
                               "unable to parse requirement: found '%s', expected: in, notin, =, "
                               "==, !=, gt, lt",
                               l->s + l->pos);
    }
}

int label_selector_parse(const char *s, struct label_selector *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    struct lexer l = {s, 0};
    struct token t = peek(&l);
    tok_free(&t);
    if (t.kind == T_END)
        return 0;
    for (;;) {
        int rc = parse_requirement(&l, out, err);
        if (rc < 0) {
            label_selector_release(out);
            return rc;
        }
        t = lex(&l);
        tok_free(&t);
        if (t.kind == T_END)
            return 0;
        if (t.kind != T_COMMA) {
            label_selector_release(out);
            return wharf_error_set(err, -EINVAL, "found '%s', expected: ',' or 'end of string'",
                                   s + l.pos);
        }
    }
}

int label_selector_from_json(json_t *sel, struct label_selector *out, wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!sel || json_is_null(sel)) {
        out->match_nothing = true;
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
    {
        req_add_value(sel_add(out, k, LS_IN), json_is_string(v) ? json_string_value(v) : "");
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        if (!key || !op) {
            label_selector_release(out);
            return wharf_error_set(err, -EINVAL, "matchExpressions[%zu]: key and operator needed",
                                   i);
        }
        enum label_op lop;
        if (strcmp(op, "In") == 0)
            lop = LS_IN;
        else if (strcmp(op, "NotIn") == 0)
            lop = LS_NOT_IN;
        else if (strcmp(op, "Exists") == 0)
            lop = LS_EXISTS;
        else if (strcmp(op, "DoesNotExist") == 0)
            lop = LS_NOT_EXISTS;
        else {
            label_selector_release(out);
            return wharf_error_set(err, -EINVAL, "\"%s\" is not a valid label selector operator",
                                   op);
        }
        struct label_requirement *r = sel_add(out, key, lop);
        size_t j;
        json_t *val;
        json_array_foreach(json_object_get(e, "values"), j, val)
        {
            if (json_is_string(val))
                req_add_value(r, json_string_value(val));
        }
    }
    return 0;
}

bool label_selector_matches(const struct label_selector *sel, json_t *labels)
{
    if (sel->match_nothing)
        return false;
    for (size_t i = 0; i < sel->n; i++) {
        const struct label_requirement *r = &sel->reqs[i];
        json_t *jv = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
        const char *v = json_string_value(jv);
        bool has = v != NULL;
        bool in = false;
        for (size_t k = 0; has && k < r->n_values; k++) {
            if (strcmp(r->values[k], v) == 0)
                in = true;
        }
        switch (r->op) {
        case LS_IN:
            if (!has || !in)
                return false;
            break;
        case LS_NOT_IN:
            if (has && in)
                return false;
            break;
        case LS_EXISTS:
            if (!has)
                return false;
            break;
        case LS_NOT_EXISTS:
            if (has)
                return false;
            break;
        case LS_GT:
        case LS_LT: {
            if (!has || r->n_values != 1)
                return false;
            char *end;
            long long lv = strtoll(v, &end, 10);
            if (!*v || *end)
                return false;
            long long rv = strtoll(r->values[0], NULL, 10);
            if (r->op == LS_GT ? !(lv > rv) : !(lv < rv))
                return false;
            break;
        }
        }
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *label_selector_string(json_t *sel)
{
    if (!sel || json_is_null(sel))
        return xstrdup("");
    size_t n = 0, alloc = 0;
    char **parts = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v)
    {
        if (n == alloc)
            parts = xrealloc(parts, (alloc = alloc ? alloc * 2 : 8) * sizeof(char *));
        parts[n++] = xasprintf("%s=%s", k, json_is_string(v) ? json_string_value(v) : "");
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
    {
        const char *key = json_string_value(json_object_get(e, "key"));
        const char *op = json_string_value(json_object_get(e, "operator"));
        if (!key || !op)
            continue;
        strbuf sb = STRBUF_INIT;
        if (strcmp(op, "DoesNotExist") == 0)
            strbuf_addch(&sb, '!');
        strbuf_addstr(&sb, key);
        if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
            strbuf_addstr(&sb, strcmp(op, "In") == 0 ? " in (" : " notin (");
            json_t *vals = json_object_get(e, "values");
            size_t nv = json_array_size(vals);
            char **sorted = xcalloc(nv ? nv : 1, sizeof(char *));
            for (size_t j = 0; j < nv; j++)
                sorted[j] = (char *)json_string_value(json_array_get(vals, j));
            qsort(sorted, nv, sizeof(char *), cmp_str);
            for (size_t j = 0; j < nv; j++) {
                if (j)
                    strbuf_addch(&sb, ',');
                strbuf_addstr(&sb, sorted[j] ? sorted[j] : "");
            }
            free(sorted);
            strbuf_addch(&sb, ')');
        }
        if (n == alloc)
            parts = xrealloc(parts, (alloc = alloc ? alloc * 2 : 8) * sizeof(char *));
        parts[n++] = strbuf_detach(&sb);
    }
    qsort(parts, n, sizeof(char *), cmp_str);
    strbuf out = STRBUF_INIT;
    for (size_t j = 0; j < n; j++) {
        if (j)
            strbuf_addch(&out, ',');
        strbuf_addstr(&out, parts[j]);
        free(parts[j]);
    }
    free(parts);
    return strbuf_detach(&out);
}

/* ---------------------------------------------------------------- field selectors */

void field_selector_release(struct field_selector *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->reqs[i].field);
        free(sel->reqs[i].value);
    }
    free(sel->reqs);
    memset(sel, 0, sizeof(*sel));
}

static bool field_supported(const struct api_resource *r, const char *f)
{
    if (strcmp(f, "metadata.name") == 0 || strcmp(f, "metadata.namespace") == 0)
        return true;
    for (const char *const *p = r->field_labels; p && *p; p++) {
        if (strcmp(*p, f) == 0)
            return true;
    }
    return false;
}

/* Splits on unescaped sep; unescapes "\\", "\," and "\=" in values. */
static char *unescape(const char *s, size_t n)
{
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        strbuf_addch(&sb, s[i]);
    }
    return strbuf_detach(&sb);
}

int field_selector_parse(const char *s, const struct api_resource *r, struct field_selector *out,
                         wharf_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *p = s;
    while (*p) {
        size_t n = 0;
        while (p[n] && p[n] != ',') {
            if (p[n] == '\\' && p[n + 1])
                n++;
            n++;
        }
        if (n > 0) {
            /* The operator: the first unescaped "!=", "==" or "=". */
            size_t op = n, oplen = 0;
            bool negate = false;
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '\\') {
                    i++;
                    continue;
                }
                if (p[i] == '!' && i + 1 < n && p[i + 1] == '=') {
                    op = i, oplen = 2, negate = true;
                    break;
                }
                if (p[i] == '=') {
                    op = i, oplen = (i + 1 < n && p[i + 1] == '=') ? 2 : 1;
                    break;
                }
            }
            if (op == n) {
                _cleanup_free_ char *term = strndup(p, n);
                field_selector_release(out);
                return wharf_error_set(err, -EINVAL,
                                       "invalid selector: '%s'; can't understand '%s'", s,
                                       term ? term : "");
            }
            char *field = unescape(p, op);
            /* Fields are plain names: trim the spaces people type. */
            while (*field && field[strlen(field) - 1] == ' ')
                field[strlen(field) - 1] = '\0';
            if (!field_supported(r, field)) {
                int rc = wharf_error_set(err, -EINVAL, "field label not supported: %s", field);
                free(field);
                field_selector_release(out);
                return rc;
            }
            out->reqs = xrealloc(out->reqs, (out->n + 1) * sizeof(*out->reqs));
            out->reqs[out->n++] =
                (struct field_requirement){field, unescape(p + op + oplen, n - op - oplen), negate};
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static char *field_value(json_t *obj, const char *field)
{
    json_t *v;
    if (strcmp(field, "source") == 0)
        v = object_get(obj, "source.component");
    else if (strcmp(field, "status.podIPs") == 0)
        v = object_get(json_array_get(object_get(obj, "status.podIPs"), 0), "ip");
    else
        v = object_get(obj, field);
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_boolean(v))
        return xstrdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v))
        return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return xstrdup("");
}

bool field_selector_matches(const struct field_selector *sel, json_t *obj)
{
    for (size_t i = 0; i < sel->n; i++) {
        _cleanup_free_ char *v = field_value(obj, sel->reqs[i].field);
        bool eq = strcmp(v, sel->reqs[i].value) == 0;
        if (eq == sel->reqs[i].negate)
            return false;
    }
    return true;
}
