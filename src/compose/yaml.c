/*
 * yaml.c — YAML 1.2 in (libfyaml) and out (our own emitter), over JSON.
 *
 * Everything after parsing works on jansson values: the document is read by
 * libfyaml with aliases and merge keys resolved, then turned into JSON by
 * the YAML 1.2 core schema (a plain `no` is the string "no", `0x1f` is 31,
 * a quoted "8080" stays a string). The emitter writes the resolved model
 * for `compose config` in block style, quoting any string that would read
 * back as something else.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <libfyaml.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- reading */

static bool all_digits(const char *s, size_t n, int base)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = base == 8 ? (c >= '0' && c <= '7')
                  : base == 16
                      ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                      : (c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

bool compose_yaml_is_null(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* 1 true, 0 false, -1 not a core-schema boolean. */
static int core_bool(const char *s, size_t n)
{
    if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4)))
        return 1;
    if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5)))
        return 0;
    return -1;
}

/* The float of the core schema: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool core_float(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, frac_digits++;
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, e++;
        if (e == 0)
            return false;
    }
    return i == n;
}

/* A plain scalar by the core schema: null, bool, int, float or string. */
json_t *compose_yaml_plain(const char *s, size_t n)
{
    if (compose_yaml_is_null(s, n))
        return json_null();
    int b = core_bool(s, n);
    if (b >= 0)
        return json_boolean(b);
    _cleanup_free_ char *z = xasprintf("%.*s", (int)n, s);
    const char *d = z;
    bool neg = false;
    if (*d == '-' || *d == '+') {
        neg = *d == '-';
        d++;
    }
    size_t dn = strlen(d);
    int base = 0;
    if (dn > 2 && d[0] == '0' && d[1] == 'o' && d == z && all_digits(d + 2, dn - 2, 8))
        base = 8;
    else if (dn > 2 && d[0] == '0' && d[1] == 'x' && d == z && all_digits(d + 2, dn - 2, 16))
        base = 16;
    else if (all_digits(d, dn, 10))
        base = 10;
    if (base) {
        errno = 0;
        unsigned long long v = strtoull(base == 10 ? d : d + 2, NULL, base);
        if (errno == 0 && v <= (unsigned long long)INT64_MAX)
            return json_integer(neg ? -(json_int_t)v : (json_int_t)v);
        return json_real(strtod(z, NULL));
    }
    if (core_float(z, n))
        return json_real(strtod(z, NULL));
    /* .inf and .nan have no JSON number: they stay strings (nothing in a
     * compose file wants them as numbers). */
    return json_stringn(s, n);
}

static const char *tag_suffix(const char *tag, size_t len, size_t *n)
{
    static const char long_prefix[] = "tag:yaml.org,2002:";
    if (len > 2 && tag[0] == '!' && tag[1] == '!') {
        *n = len - 2;
        return tag + 2;
    }
    if (len > sizeof(long_prefix) - 1 && !memcmp(tag, long_prefix, sizeof(long_prefix) - 1)) {
        *n = len - (sizeof(long_prefix) - 1);
        return tag + sizeof(long_prefix) - 1;
    }
    return NULL;
}

static json_t *convert(struct fy_node *node, const char *name, const char *where, int depth,
                       wharf_error *err);

static json_t *convert_scalar(struct fy_node *node, const char *name, const char *where,
                              wharf_error *err)
{
    size_t len = 0, tlen = 0;
    const char *s = fy_node_get_scalar(node, &len);
    if (!s)
        s = "";
    const char *tag = fy_node_get_tag(node, &tlen);
    enum fy_node_style style = fy_node_get_style(node);
    bool plain = style == FYNS_PLAIN || style == FYNS_ANY;
    if (tag && tlen && !(tlen == 1 && tag[0] == '!')) {
        size_t sn = 0;
        const char *suffix = tag_suffix(tag, tlen, &sn);
        if (suffix && sn == 3 && !memcmp(suffix, "str", 3))
            return json_stringn(s, len);
        if (suffix &&
            ((sn == 3 && !memcmp(suffix, "int", 3)) || (sn == 5 && !memcmp(suffix, "float", 5)) ||
             (sn == 4 && !memcmp(suffix, "bool", 4)) || (sn == 4 && !memcmp(suffix, "null", 4)))) {
            json_t *v = compose_yaml_plain(s, len);
            bool ok = (suffix[0] == 'i' && json_is_integer(v)) ||
                      (suffix[0] == 'f' && json_is_number(v)) ||
                      (suffix[0] == 'b' && json_is_boolean(v)) ||
                      (suffix[0] == 'n' && json_is_null(v));
            if (ok)
                return v;
            json_decref(v);
            wharf_error_set(err, -EINVAL, "%s: %s: \"%.*s\" is not a valid !!%.*s", name, where,
                            (int)len, s, (int)sn, suffix);
            return NULL;
        }
        wharf_error_set(err, -EINVAL, "%s: %s: the tag %.*s is not supported", name, where,
                        (int)tlen, tag);
        return NULL;
    }
    return plain ? compose_yaml_plain(s, len) : json_stringn(s, len);
}

static json_t *convert(struct fy_node *node, const char *name, const char *where, int depth,
                       wharf_error *err)
{
    if (!node)
        return json_null();
    if (depth > 64) {
        wharf_error_set(err, -EINVAL, "%s: %s: nested too deeply", name, where);
        return NULL;
    }
    switch (fy_node_get_type(node)) {
    case FYNT_SCALAR:
        return convert_scalar(node, name, where, err);
    case FYNT_SEQUENCE: {
        json_t *a = json_array();
        void *it = NULL;
        struct fy_node *c;
        size_t i = 0;
        while ((c = fy_node_sequence_iterate(node, &it))) {
            _cleanup_free_ char *w = xasprintf("%s[%zu]", where, i++);
            json_t *v = convert(c, name, w, depth + 1, err);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case FYNT_MAPPING: {
        json_t *o = json_object();
        void *it = NULL;
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(node, &it))) {
            struct fy_node *k = fy_node_pair_key(pair);
            if (k && fy_node_get_type(k) != FYNT_SCALAR) {
                wharf_error_set(err, -EINVAL, "%s: %s: a key must be a scalar", name,
                                *where ? where : "(top level)");
                json_decref(o);
                return NULL;
            }
            size_t kl = 0;
            const char *ks = k ? fy_node_get_scalar(k, &kl) : "";
            _cleanup_free_ char *key = xasprintf("%.*s", (int)kl, ks ? ks : "");
            if (strlen(key) != kl) {
                wharf_error_set(err, -EINVAL, "%s: %s: a key holds a NUL character", name, where);
                json_decref(o);
                return NULL;
            }
            _cleanup_free_ char *w = *where ? xasprintf("%s.%s", where, key) : xstrdup(key);
            json_t *v = convert(fy_node_pair_value(pair), name, w, depth + 1, err);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, v);
        }
        return o;
    }
    }
    return json_null();
}

static void on_diag(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    strbuf_add(user, buf, len);
}

json_t *compose_yaml_parse(const char *name, const char *text, size_t len, wharf_error *err)
{
    _cleanup_strbuf_ strbuf diag_text = STRBUF_INIT;
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = on_diag;
    dc.user = &diag_text;
    dc.colorize = false;
    dc.show_source = false;
    dc.show_position = true;
    dc.show_type = false;
    dc.show_module = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        wharf_error_set(err, -ENOMEM, "%s: cannot set up the YAML parser", name);
        return NULL;
    }
    struct fy_parse_cfg cfg = {
        .flags = FYPCF_QUIET | FYPCF_RESOLVE_DOCUMENT | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
        .diag = diag,
    };
    /* libfyaml refuses a stream without a document; for us it is null */
    bool blank = true;
    for (size_t i = 0; i < len && blank; i++) {
        if (text[i] == '#')
            while (i < len && text[i] != '\n')
                i++;
        else if (!strchr(" \t\r\n", text[i]))
            blank = false;
    }
    if (blank) {
        fy_diag_destroy(diag);
        return json_null();
    }
    struct fy_document *doc = fy_document_build_from_string(&cfg, text, len);
    json_t *out = NULL;
    if (!doc) {
        /* "<stream>:3:1: error: flow sequence without a closing bracket" */
        const char *m = strbuf_str(&diag_text);
        size_t n = strcspn(m, "\n");
        /* the input's own name comes first: "<stream>:" or "<memory-@...>:" */
        const char *close = m[0] == '<' ? strstr(m, ">:") : NULL;
        if (close && (size_t)(close - m) < n) {
            n -= (size_t)(close + 2 - m);
            m = close + 2;
        }
        const char *e = strstr(m, ": error: ");
        _cleanup_free_ char *pos =
            e && (size_t)(e - m) < n ? xasprintf("%.*s", (int)(e - m), m) : NULL;
        if (pos) {
            size_t skip = (size_t)(e - m) + 9;
            wharf_error_set(err, -EINVAL, "%s:%s: %.*s", name, pos, (int)(n - skip), e + 9);
        } else {
            wharf_error_set(err, -EINVAL, "%s: %.*s", name, (int)n, n ? m : "not valid YAML");
        }
        goto out;
    }
    struct fy_node *root = fy_document_root(doc);
    if (!root) {
        out = json_null();
        goto out;
    }
    out = convert(root, name, "", 0, err);
out:
    if (doc)
        fy_document_destroy(doc);
    fy_diag_destroy(diag);
    return out;
}

/* ---------------------------------------------------------------- writing */

static bool plain_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    if (first)
        return strchr("_./$", c) != NULL;
    return strchr("_./-+=@~ ,:$()", c) != NULL;
}

/* A string written plain must read back as that same string, with YAML 1.1
 * readers (docker-compose v1) too. */
static bool needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[n - 1] == ' ' || s[n - 1] == ':' || strstr(s, ": ") || strstr(s, " #"))
        return true;
    for (size_t i = 0; i < n; i++)
        if (!plain_char(s[i], i == 0))
            return true;
    json_t *v = compose_yaml_plain(s, n);
    bool other = !json_is_string(v);
    json_decref(v);
    if (other)
        return true;
    static const char *const yaml11[] = {"y",  "Y",  "yes", "Yes", "YES", "n",   "N",   "no",
                                         "No", "NO", "on",  "On",  "ON",  "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof(yaml11) / sizeof(yaml11[0]); i++)
        if (strcmp(s, yaml11[i]) == 0)
            return true;
    /* "1_000", "0b11", "1:20" (sexagesimal) and the like are numbers to YAML 1.1. */
    if (s[0] >= '0' && s[0] <= '9') {
        for (size_t i = 0; i < n; i++)
            if (!((s[i] >= '0' && s[i] <= '9') || strchr("_.:bxeE+-", s[i])))
                return false;
        return true;
    }
    return false;
}

static void emit_string(const char *s, strbuf *out)
{
    if (!needs_quotes(s)) {
        strbuf_addstr(out, s);
        return;
    }
    strbuf_addch(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            strbuf_addstr(out, "\\\"");
            break;
        case '\\':
            strbuf_addstr(out, "\\\\");
            break;
        case '\n':
            strbuf_addstr(out, "\\n");
            break;
        case '\t':
            strbuf_addstr(out, "\\t");
            break;
        case '\r':
            strbuf_addstr(out, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                strbuf_addf(out, "\\x%02x", *p);
            else
                strbuf_addch(out, (char)*p);
        }
    }
    strbuf_addch(out, '"');
}

static void emit_real(double d, strbuf *out)
{
    if (isnan(d)) {
        strbuf_addstr(out, ".nan");
        return;
    }
    if (isinf(d)) {
        strbuf_addstr(out, d < 0 ? "-.inf" : ".inf");
        return;
    }
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    strbuf_addstr(out, buf);
    if (!strpbrk(buf, ".eEn"))
        strbuf_addstr(out, ".0"); /* stays a float when read back */
}

static void emit_scalar(json_t *v, strbuf *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        emit_string(json_string_value(v), out);
        break;
    case JSON_INTEGER:
        strbuf_addf(out, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        emit_real(json_real_value(v), out);
        break;
    case JSON_TRUE:
        strbuf_addstr(out, "true");
        break;
    case JSON_FALSE:
        strbuf_addstr(out, "false");
        break;
    default:
        strbuf_addstr(out, "null");
    }
}

static bool is_collection(json_t *v)
{
    return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void indent(strbuf *out, int n)
{
    for (int i = 0; i < n; i++)
        strbuf_addch(out, ' ');
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void emit_node(json_t *v, int level, strbuf *out);

/* A mapping's entries at column level; the first entry's indent may already
 * be written (after "- "). */
static void emit_mapping(json_t *o, int level, bool first_indented, strbuf *out)
{
    size_t n = json_object_size(o), i = 0;
    const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_keys);
    for (i = 0; i < n; i++) {
        if (i > 0 || !first_indented)
            indent(out, level);
        emit_string(keys[i], out);
        strbuf_addch(out, ':');
        v = json_object_get(o, keys[i]);
        if (is_collection(v)) {
            strbuf_addch(out, '\n');
            emit_node(v, level + 2, out);
        } else {
            strbuf_addch(out, ' ');
            if (json_is_object(v))
                strbuf_addstr(out, "{}");
            else if (json_is_array(v))
                strbuf_addstr(out, "[]");
            else
                emit_scalar(v, out);
            strbuf_addch(out, '\n');
        }
    }
    free(keys);
}

static void emit_node(json_t *v, int level, strbuf *out)
{
    if (json_is_object(v)) {
        emit_mapping(v, level, false, out);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        indent(out, level);
        strbuf_addstr(out, "- ");
        if (json_is_object(e) && json_object_size(e)) {
            emit_mapping(e, level + 2, true, out);
        } else if (json_is_array(e) && json_array_size(e)) {
            strbuf_addch(out, '\n');
            emit_node(e, level + 2, out);
        } else {
            if (json_is_object(e))
                strbuf_addstr(out, "{}");
            else if (json_is_array(e))
                strbuf_addstr(out, "[]");
            else
                emit_scalar(e, out);
            strbuf_addch(out, '\n');
        }
    }
}

void compose_yaml_emit(json_t *doc, strbuf *out)
{
    if (!is_collection(doc)) {
        if (json_is_object(doc))
            strbuf_addstr(out, "{}\n");
        else if (json_is_array(doc))
            strbuf_addstr(out, "[]\n");
        else {
            emit_scalar(doc, out);
            strbuf_addch(out, '\n');
        }
        return;
    }
    /* The top level keeps the model's own order: name, services, networks,
     * volumes; deeper mappings are sorted. */
    if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
        {
            emit_string(k, out);
            strbuf_addch(out, ':');
            if (is_collection(v)) {
                strbuf_addch(out, '\n');
                emit_node(v, 2, out);
            } else {
                strbuf_addch(out, ' ');
                if (json_is_object(v))
                    strbuf_addstr(out, "{}");
                else if (json_is_array(v))
                    strbuf_addstr(out, "[]");
                else
                    emit_scalar(v, out);
                strbuf_addch(out, '\n');
            }
        }
        return;
    }
    emit_node(doc, 0, out);
}
