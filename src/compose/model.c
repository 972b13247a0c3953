/*
 * model.c — the Compose schema: each file checked and put in canonical form,
 * files merged, and the merged project checked as a whole.
 *
 * Canonical form is what `config` prints and what the configuration hash is
 * taken of, so two spellings of the same setting give the same hash:
 * environment, labels, build args and sysctls are maps of strings;
 * command and entrypoint are lists (a string is split like a shell);
 * ports are {target, published, host_ip, protocol, mode} objects (ranges
 * expanded), volumes {type, source, target, read_only, ...} objects with
 * absolute bind sources, depends_on a map of {condition, required, restart},
 * networks a map of null or {aliases, ipv4_address}; sizes are bytes.
 *
 * Keys the Compose specification has but wharf does not implement (secrets,
 * configs, links, ...) are refused by name rather than silently ignored;
 * x-* extension keys are accepted and dropped.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- paths and errors */

struct norm {
    strbuf path;
    const char *dir; /* the project directory, for relative paths */
    wharf_error *err;
};

static void push(struct norm *n, const char *key, size_t *mark)
{
    *mark = n->path.len;
    strbuf_addf(&n->path, "%s%s", n->path.len ? "." : "", key);
}

static void push_index(struct norm *n, size_t i, size_t *mark)
{
    *mark = n->path.len;
    strbuf_addf(&n->path, "[%zu]", i);
}

static void pop(struct norm *n, size_t mark)
{
    n->path.len = mark;
    if (n->path.buf)
        n->path.buf[mark] = '\0';
}

static json_t *fail(struct norm *n, const char *fmt, ...) WHARF_PRINTF(2, 3);
static json_t *fail(struct norm *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wharf_error_set(n->err, -EINVAL, "%s: %s", n->path.len ? n->path.buf : "(top level)", msg);
    return NULL;
}

/* The same, for functions returning a status: -EINVAL. */
#define failr(n, ...) (fail((n), __VA_ARGS__), -EINVAL)

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "a mapping";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---------------------------------------------------------------- scalars */

typedef json_t *(*norm_fn)(struct norm *n, json_t *v);

static json_t *scalar_string(json_t *v)
{
    if (json_is_string(v))
        return json_incref(v);
    if (json_is_integer(v))
        return json_sprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v)) {
        char buf[64];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, json_real_value(v));
            if (strtod(buf, NULL) == json_real_value(v))
                break;
        }
        return json_string(buf);
    }
    if (json_is_boolean(v))
        return json_string(json_is_true(v) ? "true" : "false");
    return NULL;
}

static json_t *n_string(struct norm *n, json_t *v)
{
    if (json_is_string(v) || json_is_number(v))
        return scalar_string(v);
    return fail(n, "expected a string, got %s", type_name(v));
}

static json_t *n_bool(struct norm *n, json_t *v)
{
    if (json_is_boolean(v))
        return json_incref(v);
    if (json_is_string(v)) {
        static const char *const t[] = {"true", "yes", "y", "on", "1"};
        static const char *const f[] = {"false", "no", "n", "off", "0"};
        for (size_t i = 0; i < 5; i++) {
            if (strcasecmp(json_string_value(v), t[i]) == 0)
                return json_true();
            if (strcasecmp(json_string_value(v), f[i]) == 0)
                return json_false();
        }
    }
    return fail(n, "expected a boolean, got %s", type_name(v));
}

static bool parse_int(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && !errno && !isspace((unsigned char)*s)) {
            *out = x;
            return true;
        }
    }
    return false;
}

static json_t *n_int(struct norm *n, json_t *v)
{
    long long x;
    if (parse_int(v, &x))
        return json_integer(x);
    return fail(n, "expected an integer, got %s", type_name(v));
}

static json_t *n_uint(struct norm *n, json_t *v)
{
    long long x;
    if (parse_int(v, &x) && x >= 0)
        return json_integer(x);
    if (parse_int(v, &x))
        return fail(n, "must not be negative");
    return fail(n, "expected an integer, got %s", type_name(v));
}

static json_t *n_number(struct norm *n, json_t *v)
{
    if (json_is_number(v))
        return json_real(json_number_value(v));
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (*s && !*end && !errno && isfinite(d))
            return json_real(d);
    }
    return fail(n, "expected a number, got %s", type_name(v));
}

/* go-units RAMInBytes: 1024, "512m", "1g", "100kb". */
static int64_t parse_bytes(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    int64_t mult = 1;
    if (*end) {
        static const char units[] = "bkmgtp";
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u)
            return -1;
        for (const char *k = units; k < u; k++)
            mult *= 1024;
        end++;
        if (u != units && (*end == 'b' || *end == 'B'))
            end++;
        if (u != units && (*end == 'i' || *end == 'I'))
            return -1;
        if (*end)
            return -1;
    }
    return (int64_t)(v * (double)mult);
}

static json_t *n_bytes(struct norm *n, json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return json_incref(v);
    if (json_is_string(v)) {
        int64_t b = parse_bytes(json_string_value(v));
        if (b >= 0)
            return json_integer(b);
        return fail(n, "invalid size \"%s\"", json_string_value(v));
    }
    return fail(n, "expected a size, got %s", type_name(v));
}

int compose_parse_duration(const char *s, int64_t *ns)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return -EINVAL;
    double total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -EINVAL;
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return -EINVAL;
        p = end;
        static const struct {
            const char *unit;
            double ns;
        } units[] = {{"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
                     {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9}};
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (!best_len)
            return -EINVAL;
        total += v * units[best].ns;
        p += best_len;
    }
    if (total > 9.2e18)
        return -ERANGE;
    *ns = (int64_t)llround(neg ? -total : total);
    return 0;
}

static json_t *n_duration(struct norm *n, json_t *v)
{
    if (json_is_string(v)) {
        int64_t ns;
        if (compose_parse_duration(json_string_value(v), &ns) == 0 && ns >= 0)
            return json_incref(v);
        return fail(n, "invalid duration \"%s\"", json_string_value(v));
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0) /* seconds */
        return json_sprintf("%llds", (long long)json_integer_value(v));
    return fail(n, "expected a duration such as \"30s\", got %s", type_name(v));
}

/* A string, or a list of them (dns: 8.8.8.8). */
static json_t *n_string_or_list(struct norm *n, json_t *v)
{
    if (json_is_string(v) || json_is_number(v)) {
        json_t *s = scalar_string(v);
        return json_pack("[o]", s);
    }
    if (!json_is_array(v))
        return fail(n, "expected a string or a list, got %s", type_name(v));
    json_t *out = json_array();
    size_t i, mark;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        push_index(n, i, &mark);
        json_t *s = n_string(n, e);
        pop(n, mark);
        if (!s) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, s);
    }
    return out;
}

static json_t *n_string_list(struct norm *n, json_t *v)
{
    if (!json_is_array(v))
        return fail(n, "expected a list, got %s", type_name(v));
    return n_string_or_list(n, v);
}

/* Lists of unique strings (profiles, cap_add). */
static json_t *n_string_set(struct norm *n, json_t *v)
{
    json_t *l = n_string_list(n, v);
    if (!l)
        return NULL;
    for (size_t i = 0; i < json_array_size(l); i++)
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(l, i), json_array_get(l, j))) {
                size_t mark;
                push_index(n, i, &mark);
                json_decref(l);
                json_t *r =
                    fail(n, "\"%s\" is listed twice", json_string_value(json_array_get(v, i)));
                pop(n, mark);
                return r;
            }
    return l;
}

/* ---------------------------------------------------------------- shell words */

json_t *compose_shell_split(const char *s, const char *where, wharf_error *err)
{
    json_t *out = json_array();
    strbuf w = STRBUF_INIT;
    bool in_word = false;
    const char *p = s;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                strbuf_addstr(&w, "");
                json_array_append_new(out, json_string(w.buf));
                strbuf_reset(&w);
                in_word = false;
            }
            p++;
            continue;
        }
        in_word = true;
        if (c == '\\') {
            if (p[1])
                strbuf_addch(&w, p[1]), p += 2;
            else
                p++;
        } else if (c == '\'') {
            const char *close = strchr(p + 1, '\'');
            if (!close)
                goto bad;
            strbuf_add(&w, p + 1, (size_t)(close - p - 1));
            p = close + 1;
        } else if (c == '"') {
            p++;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1] && strchr("\"\\$`\n", p[1])) {
                    strbuf_addch(&w, p[1]);
                    p += 2;
                } else {
                    strbuf_addch(&w, *p++);
                }
            }
            if (*p != '"')
                goto bad;
            p++;
        } else {
            strbuf_addch(&w, c);
            p++;
        }
    }
    if (in_word) {
        strbuf_addstr(&w, "");
        json_array_append_new(out, json_string(w.buf));
    }
    strbuf_release(&w);
    return out;
bad:
    strbuf_release(&w);
    json_decref(out);
    wharf_error_set(err, -EINVAL, "%s: unterminated quote in \"%s\"", where, s);
    return NULL;
}

static json_t *n_command(struct norm *n, json_t *v)
{
    if (json_is_string(v))
        return compose_shell_split(json_string_value(v), n->path.buf, n->err);
    if (json_is_array(v))
        return n_string_list(n, v);
    return fail(n, "expected a string or a list, got %s", type_name(v));
}

/* ---------------------------------------------------------------- list-or-dict */

enum lod_kind {
    LOD_ENV,    /* "K" alone: null (the value comes from the environment) */
    LOD_LABELS, /* "K" alone: "" */
    LOD_HOSTS,  /* "host:ip" or "host=ip"; map host: ip */
};

static json_t *n_list_or_dict(struct norm *n, json_t *v, enum lod_kind kind)
{
    json_t *out = json_object();
    size_t mark;
    if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            push(n, k, &mark);
            json_t *s = json_is_null(e) ? (kind == LOD_LABELS ? json_string("") : json_null())
                                        : scalar_string(e);
            if (!s || !*k) {
                json_decref(s);
                json_decref(out);
                json_t *r =
                    fail(n, *k ? "expected a string, number or boolean, got %s" : "an empty name",
                         type_name(e));
                pop(n, mark);
                return r;
            }
            pop(n, mark);
            json_object_set_new(out, k, s);
        }
        return out;
    }
    if (!json_is_array(v)) {
        json_decref(out);
        return fail(n, "expected a mapping or a list, got %s", type_name(v));
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        push_index(n, i, &mark);
        json_t *s = scalar_string(e);
        if (!s || json_is_boolean(e)) {
            json_decref(s);
            json_decref(out);
            json_t *r = fail(n, "expected a string, got %s", type_name(e));
            pop(n, mark);
            return r;
        }
        const char *text = json_string_value(s);
        const char *sep = kind == LOD_HOSTS ? strpbrk(text, "=:") : strchr(text, '=');
        if (kind == LOD_HOSTS && !sep) {
            json_decref(s);
            json_decref(out);
            json_t *r = fail(n, "invalid extra host \"%s\": want HOST:IP", text);
            pop(n, mark);
            return r;
        }
        if (sep == text) {
            json_decref(s);
            json_decref(out);
            json_t *r = fail(n, "an empty name in \"%s\"", text);
            pop(n, mark);
            return r;
        }
        pop(n, mark);
        _cleanup_free_ char *k = sep ? xasprintf("%.*s", (int)(sep - text), text) : xstrdup(text);
        json_object_set_new(out, k,
                            sep ? json_string(sep + 1)
                                : (kind == LOD_LABELS ? json_string("") : json_null()));
        json_decref(s);
    }
    return out;
}

static json_t *n_env(struct norm *n, json_t *v)
{
    return n_list_or_dict(n, v, LOD_ENV);
}

static json_t *n_labels(struct norm *n, json_t *v)
{
    return n_list_or_dict(n, v, LOD_LABELS);
}

static json_t *n_extra_hosts(struct norm *n, json_t *v)
{
    json_t *m = n_list_or_dict(n, v, LOD_HOSTS);
    if (!m)
        return NULL;
    json_t *out = json_array();
    const char *k;
    json_t *e;
    json_object_foreach(m, k, e)
        json_array_append_new(out, json_sprintf("%s:%s", k, json_string_value(e)));
    json_decref(m);
    return out;
}

/* ---------------------------------------------------------------- mappings by table */

struct field {
    const char *key;
    norm_fn fn;
};

/*
 * A mapping whose keys come from fields: each value normalised by its
 * function (a null value drops the key). Keys in unsupported are refused as
 * not implemented; x-* keys are dropped; anything else is unknown.
 */
static json_t *n_fields(struct norm *n, json_t *v, const struct field *fields,
                        const char *const *unsupported)
{
    if (!json_is_object(v))
        return fail(n, "expected a mapping, got %s", type_name(v));
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        size_t mark;
        push(n, k, &mark);
        const struct field *f = fields;
        while (f->key && strcmp(f->key, k) != 0)
            f++;
        if (!f->key) {
            bool known = false;
            for (size_t i = 0; unsupported && unsupported[i]; i++)
                known = known || strcmp(unsupported[i], k) == 0;
            if (strncmp(k, "x-", 2) == 0) {
                pop(n, mark);
                continue;
            }
            json_decref(out);
            json_t *r = known ? fail(n, "not supported by wharf compose") : fail(n, "unknown key");
            pop(n, mark);
            return r;
        }
        if (json_is_null(e)) {
            pop(n, mark);
            continue;
        }
        json_t *c = f->fn(n, e);
        pop(n, mark);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, c);
    }
    return out;
}

/* ---------------------------------------------------------------- ports */

static int parse_port_range(const char *s, long *lo, long *hi)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    *lo = strtol(s, &end, 10);
    *hi = *lo;
    if (*end == '-') {
        const char *h = end + 1;
        if (!isdigit((unsigned char)*h))
            return -1;
        *hi = strtol(h, &end, 10);
    }
    if (*end || *lo < 0 || *hi > 65535 || *hi < *lo)
        return -1;
    return 0;
}

static json_t *port_object(long target, const char *published, const char *host_ip,
                           const char *proto)
{
    json_t *o =
        json_pack("{s:s, s:i, s:s}", "mode", "ingress", "target", (int)target, "protocol", proto);
    if (published && *published)
        json_object_set_new(o, "published", json_string(published));
    if (host_ip && *host_ip)
        json_object_set_new(o, "host_ip", json_string(host_ip));
    return o;
}

static bool valid_proto(const char *p)
{
    return !strcmp(p, "tcp") || !strcmp(p, "udp") || !strcmp(p, "sctp");
}

/* "[IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]" appended to out. */
static int short_port(struct norm *n, const char *spec, json_t *out)
{
    _cleanup_free_ char *s = xstrdup(spec);
    const char *proto = "tcp";
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
        if (!valid_proto(proto)) {
            fail(n, "invalid protocol \"%s\" in \"%s\"", proto, spec);
            return -EINVAL;
        }
    }
    char *ip = NULL, *host = NULL, *container;
    char *rest = s;
    if (*rest == '[') {
        char *close = strchr(rest, ']');
        if (!close || close[1] != ':') {
            fail(n, "invalid port \"%s\"", spec);
            return -EINVAL;
        }
        *close = '\0';
        ip = rest + 1;
        rest = close + 2;
        char *c = strrchr(rest, ':');
        if (!c) {
            fail(n, "invalid port \"%s\"", spec);
            return -EINVAL;
        }
        *c = '\0';
        host = rest;
        container = c + 1;
    } else {
        char *c1 = strchr(rest, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 && strchr(c2 + 1, ':')) {
            fail(n, "invalid port \"%s\": put an IPv6 address in brackets", spec);
            return -EINVAL;
        }
        if (c2) {
            *c1 = *c2 = '\0';
            ip = rest;
            host = c1 + 1;
            container = c2 + 1;
        } else if (c1) {
            *c1 = '\0';
            host = rest;
            container = c1 + 1;
        } else {
            container = rest;
        }
    }
    long clo, chi, hlo = 0, hhi = 0;
    if (parse_port_range(container, &clo, &chi) < 0 || clo == 0) {
        fail(n, "invalid port \"%s\"", spec);
        return -EINVAL;
    }
    bool has_host = host && *host;
    if (has_host && parse_port_range(host, &hlo, &hhi) < 0) {
        fail(n, "invalid port \"%s\"", spec);
        return -EINVAL;
    }
    if (has_host && chi != clo && hhi - hlo != chi - clo) {
        fail(n, "invalid port \"%s\": the host and container ranges differ in size", spec);
        return -EINVAL;
    }
    for (long p = clo; p <= chi; p++) {
        char pub[32] = "";
        if (has_host && chi != clo)
            snprintf(pub, sizeof(pub), "%ld", hlo + (p - clo));
        else if (has_host)
            snprintf(pub, sizeof(pub), "%s", host);
        json_array_append_new(out, port_object(p, pub, ip, proto));
    }
    return 0;
}

static json_t *n_ports(struct norm *n, json_t *v)
{
    if (!json_is_array(v))
        return fail(n, "expected a list, got %s", type_name(v));
    json_t *out = json_array();
    size_t i, mark;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        push_index(n, i, &mark);
        int r = 0;
        if (json_is_string(e) || json_is_integer(e)) {
            _cleanup_json_ json_t *s = scalar_string(e);
            r = short_port(n, json_string_value(s), out);
        } else if (json_is_object(e)) {
            static const struct field fields[] = {
                {"target", n_string},       {"published", n_string},
                {"host_ip", n_string},      {"protocol", n_string},
                {"mode", n_string},         {"name", n_string},
                {"app_protocol", n_string}, {NULL, NULL}};
            _cleanup_json_ json_t *o = n_fields(n, e, fields, NULL);
            long lo, hi;
            const char *target = json_string_value(json_object_get(o, "target"));
            const char *pub = json_string_value(json_object_get(o, "published"));
            const char *proto = json_string_value(json_object_get(o, "protocol"));
            const char *mode = json_string_value(json_object_get(o, "mode"));
            if (!o)
                r = -EINVAL;
            else if (!target)
                r = failr(n, "target is required");
            else if (parse_port_range(target, &lo, &hi) < 0 || lo != hi || lo == 0)
                r = failr(n, "invalid target port \"%s\"", target);
            else if (pub && parse_port_range(pub, &lo, &hi) < 0)
                r = failr(n, "invalid published port \"%s\"", pub);
            else if (proto && !valid_proto(proto))
                r = failr(n, "invalid protocol \"%s\"", proto);
            else if (mode && strcmp(mode, "ingress") && strcmp(mode, "host"))
                r = failr(n, "invalid mode \"%s\": want host or ingress", mode);
            else {
                json_t *p =
                    port_object(atol(target), pub, json_string_value(json_object_get(o, "host_ip")),
                                proto ? proto : "tcp");
                if (mode)
                    json_object_set_new(p, "mode", json_string(mode));
                json_array_append_new(out, p);
            }
        } else {
            r = failr(n, "expected a string or a mapping, got %s", type_name(e));
        }
        pop(n, mark);
        if (r < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *n_expose(struct norm *n, json_t *v)
{
    json_t *l = n_string_list(n, v);
    if (!l)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(l, i, e)
    {
        _cleanup_free_ char *s = xstrdup(json_string_value(e));
        char *slash = strchr(s, '/');
        long lo, hi;
        if (slash)
            *slash = '\0';
        if (parse_port_range(s, &lo, &hi) < 0 || lo == 0 || (slash && !valid_proto(slash + 1))) {
            size_t mark;
            push_index(n, i, &mark);
            json_t *r = fail(n, "invalid port \"%s\"", json_string_value(e));
            pop(n, mark);
            json_decref(l);
            return r;
        }
    }
    return l;
}

/* ---------------------------------------------------------------- volumes */

static bool valid_volume_name(const char *s)
{
    if (!isalnum((unsigned char)*s))
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            return false;
    return true;
}

/* dir + relative path, "." and ".." folded; "~" is $HOME. */
static char *absolute_path(const char *dir, const char *path)
{
    _cleanup_free_ char *joined = NULL;
    if (path[0] == '~' && (path[1] == '/' || !path[1])) {
        const char *home = getenv("HOME");
        joined = xasprintf("%s%s", home ? home : "/root", path + 1);
    } else if (path[0] == '/') {
        joined = xstrdup(path);
    } else {
        joined = xasprintf("%s/%s", dir ? dir : ".", path);
    }
    /* fold the components */
    size_t n = strlen(joined);
    char **parts = xcalloc(n + 1, sizeof(char *));
    size_t count = 0;
    char *save = NULL;
    for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (count)
                count--;
            continue;
        }
        parts[count++] = c;
    }
    strbuf out = STRBUF_INIT;
    for (size_t i = 0; i < count; i++)
        strbuf_addf(&out, "/%s", parts[i]);
    if (!count)
        strbuf_addch(&out, '/');
    free(parts);
    return strbuf_detach(&out);
}

static bool is_mode_word(const char *w, const char *const *words)
{
    for (size_t i = 0; words[i]; i++)
        if (strcmp(w, words[i]) == 0)
            return true;
    return false;
}

static int short_volume(struct norm *n, const char *spec, json_t **out)
{
    _cleanup_free_ char *s = xstrdup(spec);
    char *parts[4] = {0};
    size_t count = 0;
    char *save = NULL;
    for (char *c = strtok_r(s, ":", &save); c && count < 4; c = strtok_r(NULL, ":", &save))
        parts[count++] = c;
    if (count == 0 || count > 3 || strstr(spec, "::")) {
        fail(n, "invalid volume \"%s\"", spec);
        return -EINVAL;
    }
    const char *source = count >= 2 ? parts[0] : NULL;
    const char *target = count >= 2 ? parts[1] : parts[0];
    const char *mode = count == 3 ? parts[2] : NULL;
    if (target[0] != '/') {
        fail(n, "invalid volume \"%s\": the mount point %s is not an absolute path", spec, target);
        return -EINVAL;
    }
    json_t *o = json_object();
    bool bind = source && (source[0] == '/' || source[0] == '.' || source[0] == '~');
    json_object_set_new(o, "type", json_string(bind ? "bind" : "volume"));
    if (bind) {
        _cleanup_free_ char *abs = absolute_path(n->dir, source);
        json_object_set_new(o, "source", json_string(abs));
        json_object_set_new(o, "bind", json_pack("{s:b}", "create_host_path", 1));
    } else if (source) {
        if (!valid_volume_name(source)) {
            json_decref(o);
            fail(n, "invalid volume name \"%s\" in \"%s\"", source, spec);
            return -EINVAL;
        }
        json_object_set_new(o, "source", json_string(source));
    }
    _cleanup_free_ char *tgt = absolute_path(NULL, target);
    json_object_set_new(o, "target", json_string(tgt));
    if (mode) {
        static const char *const rw[] = {"ro", "rw", NULL};
        static const char *const prop[] = {"shared",  "rshared",  "slave", "rslave",
                                           "private", "rprivate", NULL};
        static const char *const other[] = {"z",      "Z",         "nocopy", "consistent",
                                            "cached", "delegated", NULL};
        _cleanup_free_ char *m = xstrdup(mode);
        char *sv = NULL;
        for (char *w = strtok_r(m, ",", &sv); w; w = strtok_r(NULL, ",", &sv)) {
            if (is_mode_word(w, rw)) {
                if (strcmp(w, "ro") == 0)
                    json_object_set_new(o, "read_only", json_true());
            } else if (is_mode_word(w, prop) && bind) {
                json_object_set_new(json_object_get(o, "bind"), "propagation", json_string(w));
            } else if (strcmp(w, "nocopy") == 0 && !bind) {
                json_object_set_new(o, "volume", json_pack("{s:b}", "nocopy", 1));
            } else if (is_mode_word(w, other) && strcmp(w, "nocopy")) {
                if (bind && (w[0] == 'z' || w[0] == 'Z'))
                    json_object_set_new(json_object_get(o, "bind"), "selinux", json_string(w));
            } else {
                json_decref(o);
                fail(n, "invalid mode \"%s\" in \"%s\"", w, spec);
                return -EINVAL;
            }
        }
    }
    *out = o;
    return 0;
}

static json_t *n_bind_options(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"propagation", n_string},
                                          {"create_host_path", n_bool},
                                          {"selinux", n_string},
                                          {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

static json_t *n_volume_options(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"nocopy", n_bool}, {"subpath", n_string}, {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

static json_t *n_tmpfs_options(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"size", n_bytes}, {"mode", n_uint}, {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

static json_t *long_volume(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"type", n_string},         {"source", n_string},      {"target", n_string},
        {"read_only", n_bool},      {"bind", n_bind_options},  {"volume", n_volume_options},
        {"tmpfs", n_tmpfs_options}, {"consistency", n_string}, {NULL, NULL}};
    json_t *o = n_fields(n, v, fields, NULL);
    if (!o)
        return NULL;
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *source = json_string_value(json_object_get(o, "source"));
    const char *target = json_string_value(json_object_get(o, "target"));
    json_t *r = NULL;
    if (!type)
        r = fail(n, "type is required");
    else if (strcmp(type, "volume") && strcmp(type, "bind") && strcmp(type, "tmpfs"))
        r = fail(n, "invalid type \"%s\": want volume, bind or tmpfs", type);
    else if (!target)
        r = fail(n, "target is required");
    else if (target[0] != '/')
        r = fail(n, "target %s is not an absolute path", target);
    else if (!strcmp(type, "bind") && !source)
        r = fail(n, "a bind mount needs a source");
    else if (!strcmp(type, "volume") && source && !valid_volume_name(source))
        r = fail(n, "invalid volume name \"%s\"", source);
    else if (!strcmp(type, "tmpfs") && source)
        r = fail(n, "a tmpfs mount takes no source");
    else {
        if (!strcmp(type, "bind")) {
            _cleanup_free_ char *abs = absolute_path(n->dir, source);
            json_object_set_new(o, "source", json_string(abs));
        }
        _cleanup_free_ char *tgt = absolute_path(NULL, target);
        json_object_set_new(o, "target", json_string(tgt));
        if (json_is_false(json_object_get(o, "read_only")))
            json_object_del(o, "read_only");
        json_object_del(o, "consistency");
        return o;
    }
    json_decref(o);
    return r;
}

static json_t *n_volumes(struct norm *n, json_t *v)
{
    if (!json_is_array(v))
        return fail(n, "expected a list, got %s", type_name(v));
    json_t *out = json_array();
    size_t i, mark;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        push_index(n, i, &mark);
        json_t *o = NULL;
        if (json_is_string(e))
            short_volume(n, json_string_value(e), &o);
        else if (json_is_object(e))
            o = long_volume(n, e);
        else
            fail(n, "expected a string or a mapping, got %s", type_name(e));
        if (o) {
            /* one mount per target */
            size_t j;
            json_t *prev;
            json_array_foreach(out, j, prev) if (json_equal(json_object_get(prev, "target"),
                                                            json_object_get(o, "target")))
            {
                fail(n, "%s is mounted twice", json_string_value(json_object_get(o, "target")));
                json_decref(o);
                o = NULL;
                break;
            }
        }
        pop(n, mark);
        if (!o) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, o);
    }
    return out;
}

static json_t *n_tmpfs(struct norm *n, json_t *v)
{
    json_t *l = n_string_or_list(n, v);
    if (!l)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(l, i, e) if (json_string_value(e)[0] != '/')
    {
        size_t mark;
        push_index(n, i, &mark);
        json_t *r = fail(n, "%s is not an absolute path", json_string_value(e));
        pop(n, mark);
        json_decref(l);
        return r;
    }
    return l;
}

/* ---------------------------------------------------------------- networks, depends_on */

static json_t *n_service_network(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"aliases", n_string_set}, {"ipv4_address", n_string}, {"ipv6_address", n_string},
        {"priority", n_int},       {"mac_address", n_string},  {"link_local_ips", n_string_list},
        {"driver_opts", n_labels}, {"gw_priority", n_int},     {NULL, NULL}};
    json_t *o = n_fields(n, v, fields, NULL);
    if (o && json_object_size(o) == 0) {
        json_decref(o);
        return json_null();
    }
    return o;
}

static json_t *n_service_networks(struct norm *n, json_t *v)
{
    json_t *out = json_object();
    size_t mark;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            push_index(n, i, &mark);
            if (!json_is_string(e) || !*json_string_value(e)) {
                json_decref(out);
                json_t *r = fail(n, "expected a network name, got %s", type_name(e));
                pop(n, mark);
                return r;
            }
            pop(n, mark);
            json_object_set_new(out, json_string_value(e), json_null());
        }
        return out;
    }
    if (!json_is_object(v)) {
        json_decref(out);
        return fail(n, "expected a mapping or a list, got %s", type_name(v));
    }
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        push(n, k, &mark);
        json_t *c = json_is_null(e) ? json_null() : n_service_network(n, e);
        pop(n, mark);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, c);
    }
    return out;
}

static json_t *n_condition(struct norm *n, json_t *v)
{
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "service_started") || !strcmp(s, "service_healthy") ||
              !strcmp(s, "service_completed_successfully")))
        return json_incref(v);
    if (s)
        return fail(n,
                    "invalid condition \"%s\": want service_started, service_healthy or "
                    "service_completed_successfully",
                    s);
    return fail(n, "expected a string, got %s", type_name(v));
}

static json_t *n_depends_on(struct norm *n, json_t *v)
{
    json_t *out = json_object();
    size_t mark;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            push_index(n, i, &mark);
            if (!json_is_string(e) || !*json_string_value(e)) {
                json_decref(out);
                json_t *r = fail(n, "expected a service name, got %s", type_name(e));
                pop(n, mark);
                return r;
            }
            pop(n, mark);
            json_object_set_new(out, json_string_value(e),
                                json_pack("{s:s, s:b, s:b}", "condition", "service_started",
                                          "required", 1, "restart", 0));
        }
        return out;
    }
    if (!json_is_object(v)) {
        json_decref(out);
        return fail(n, "expected a mapping or a list, got %s", type_name(v));
    }
    static const struct field fields[] = {
        {"condition", n_condition}, {"required", n_bool}, {"restart", n_bool}, {NULL, NULL}};
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        push(n, k, &mark);
        json_t *c = json_is_null(e) ? json_object() : n_fields(n, e, fields, NULL);
        pop(n, mark);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        if (!json_object_get(c, "condition"))
            json_object_set_new(c, "condition", json_string("service_started"));
        if (!json_object_get(c, "required"))
            json_object_set_new(c, "required", json_true());
        if (!json_object_get(c, "restart"))
            json_object_set_new(c, "restart", json_false());
        json_object_set_new(out, k, c);
    }
    return out;
}

/* ---------------------------------------------------------------- healthcheck, build, deploy */

static json_t *n_health_test(struct norm *n, json_t *v)
{
    if (json_is_string(v))
        return json_pack("[s, O]", "CMD-SHELL", v);
    json_t *l = n_string_list(n, v);
    if (!l)
        return NULL;
    const char *first = json_string_value(json_array_get(l, 0));
    if (!first || (strcmp(first, "CMD") && strcmp(first, "CMD-SHELL") && strcmp(first, "NONE"))) {
        json_decref(l);
        return fail(n, "a list must start with CMD, CMD-SHELL or NONE");
    }
    return l;
}

static json_t *n_healthcheck(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"test", n_health_test},      {"interval", n_duration},
        {"timeout", n_duration},      {"retries", n_uint},
        {"start_period", n_duration}, {"start_interval", n_duration},
        {"disable", n_bool},          {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

static json_t *n_build_context(struct norm *n, json_t *v)
{
    json_t *s = n_string(n, v);
    if (!s)
        return NULL;
    const char *c = json_string_value(s);
    if (strstr(c, "://") || strncmp(c, "git@", 4) == 0) {
        json_decref(s);
        return fail(n, "remote build contexts are not supported by wharf compose");
    }
    _cleanup_free_ char *abs = absolute_path(n->dir, c);
    json_decref(s);
    return json_string(abs);
}

static json_t *n_build(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"context", n_build_context},
                                          {"dockerfile", n_string},
                                          {"args", n_env},
                                          {"target", n_string},
                                          {"labels", n_labels},
                                          {"no_cache", n_bool},
                                          {"pull", n_bool},
                                          {NULL, NULL}};
    static const char *const unsupported[] = {"dockerfile_inline",
                                              "ssh",
                                              "cache_from",
                                              "cache_to",
                                              "additional_contexts",
                                              "extra_hosts",
                                              "isolation",
                                              "network",
                                              "secrets",
                                              "tags",
                                              "ulimits",
                                              "platforms",
                                              "privileged",
                                              "shm_size",
                                              "entitlements",
                                              NULL};
    json_t *o;
    if (json_is_string(v)) {
        json_t *c = n_build_context(n, v);
        if (!c)
            return NULL;
        o = json_pack("{s:o}", "context", c);
    } else {
        o = n_fields(n, v, fields, unsupported);
        if (!o)
            return NULL;
        if (!json_object_get(o, "context")) {
            _cleanup_free_ char *abs = absolute_path(n->dir, ".");
            json_object_set_new(o, "context", json_string(abs));
        }
    }
    /* build args without a value come from the environment at build time;
     * Compose drops the ones the environment lacks. */
    return o;
}

static json_t *n_limits(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"cpus", n_number}, {"memory", n_bytes}, {"pids", n_int}, {NULL, NULL}};
    static const char *const unsupported[] = {"devices", "generic_resources", NULL};
    return n_fields(n, v, fields, unsupported);
}

static json_t *n_resources(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"limits", n_limits}, {"reservations", n_limits}, {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

static json_t *n_restart_policy(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"condition", n_string},
                                          {"delay", n_duration},
                                          {"max_attempts", n_uint},
                                          {"window", n_duration},
                                          {NULL, NULL}};
    json_t *o = n_fields(n, v, fields, NULL);
    const char *c = json_string_value(json_object_get(o, "condition"));
    if (o && c && strcmp(c, "none") && strcmp(c, "on-failure") && strcmp(c, "any")) {
        json_decref(o);
        size_t mark;
        push(n, "condition", &mark);
        json_t *r = fail(n, "invalid condition \"%s\": want none, on-failure or any", c);
        pop(n, mark);
        return r;
    }
    return o;
}

static json_t *n_deploy(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"replicas", n_uint},
                                          {"resources", n_resources},
                                          {"restart_policy", n_restart_policy},
                                          {"labels", n_labels},
                                          {NULL, NULL}};
    static const char *const unsupported[] = {"mode",          "endpoint_mode",   "placement",
                                              "update_config", "rollback_config", NULL};
    return n_fields(n, v, fields, unsupported);
}

static json_t *n_restart(struct norm *n, json_t *v)
{
    if (!json_is_string(v))
        return fail(n, "expected a string, got %s", type_name(v));
    const char *s = json_string_value(v);
    if (!strcmp(s, "no") || !strcmp(s, "always") || !strcmp(s, "unless-stopped") ||
        !strcmp(s, "on-failure"))
        return json_incref(v);
    if (!strncmp(s, "on-failure:", 11)) {
        char *end;
        long x = strtol(s + 11, &end, 10);
        if (s[11] && !*end && x >= 0)
            return json_incref(v);
    }
    return fail(n,
                "invalid restart policy \"%s\": want no, always, on-failure[:N] or "
                "unless-stopped",
                s);
}

static json_t *n_pull_policy(struct norm *n, json_t *v)
{
    const char *s = json_string_value(v);
    if (s && !strcmp(s, "if_not_present"))
        return json_string("missing");
    if (s && (!strcmp(s, "always") || !strcmp(s, "never") || !strcmp(s, "missing") ||
              !strcmp(s, "build")))
        return json_incref(v);
    return fail(n, "invalid pull policy \"%s\": want always, never, missing or build",
                s ? s : type_name(v));
}

static json_t *n_ulimit(struct norm *n, json_t *v)
{
    long long x;
    if (parse_int(v, &x))
        return json_pack("{s:I, s:I}", "soft", (json_int_t)x, "hard", (json_int_t)x);
    static const struct field fields[] = {{"soft", n_int}, {"hard", n_int}, {NULL, NULL}};
    json_t *o = n_fields(n, v, fields, NULL);
    if (o && (!json_object_get(o, "soft") || !json_object_get(o, "hard"))) {
        json_decref(o);
        return fail(n, "both soft and hard are required");
    }
    return o;
}

static json_t *n_ulimits(struct norm *n, json_t *v)
{
    if (!json_is_object(v))
        return fail(n, "expected a mapping, got %s", type_name(v));
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        size_t mark;
        push(n, k, &mark);
        json_t *c = n_ulimit(n, e);
        pop(n, mark);
        if (!c) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, c);
    }
    return out;
}

static json_t *n_env_file(struct norm *n, json_t *v)
{
    json_t *list = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
    json_t *out = json_array();
    size_t i, mark;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (json_is_array(v))
            push_index(n, i, &mark);
        else
            mark = n->path.len;
        json_t *o = NULL;
        if (json_is_string(e)) {
            _cleanup_free_ char *abs = absolute_path(n->dir, json_string_value(e));
            o = json_pack("{s:s, s:b}", "path", abs, "required", 1);
        } else if (json_is_object(e)) {
            static const struct field fields[] = {
                {"path", n_string}, {"required", n_bool}, {"format", n_string}, {NULL, NULL}};
            o = n_fields(n, e, fields, NULL);
            if (o && !json_object_get(o, "path")) {
                json_decref(o);
                o = fail(n, "path is required");
            } else if (o) {
                _cleanup_free_ char *abs =
                    absolute_path(n->dir, json_string_value(json_object_get(o, "path")));
                json_object_set_new(o, "path", json_string(abs));
                if (!json_object_get(o, "required"))
                    json_object_set_new(o, "required", json_true());
                json_object_del(o, "format");
            }
        } else {
            fail(n, "expected a path, got %s", type_name(e));
        }
        pop(n, mark);
        if (!o) {
            json_decref(list);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, o);
    }
    json_decref(list);
    return out;
}

static json_t *n_stop_signal(struct norm *n, json_t *v)
{
    return n_string(n, v);
}

static json_t *n_network_mode(struct norm *n, json_t *v)
{
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "bridge") || !strcmp(s, "host") || !strcmp(s, "none") ||
              !strncmp(s, "service:", 8) || !strncmp(s, "container:", 10)))
        return json_incref(v);
    return fail(n,
                "invalid network_mode \"%s\": want bridge, host, none, service:NAME or "
                "container:NAME",
                s ? s : type_name(v));
}

/* ---------------------------------------------------------------- services */

static const struct field service_fields[] = {
    {"image", n_string},
    {"build", n_build},
    {"command", n_command},
    {"entrypoint", n_command},
    {"environment", n_env},
    {"env_file", n_env_file},
    {"ports", n_ports},
    {"expose", n_expose},
    {"volumes", n_volumes},
    {"networks", n_service_networks},
    {"network_mode", n_network_mode},
    {"depends_on", n_depends_on},
    {"healthcheck", n_healthcheck},
    {"restart", n_restart},
    {"deploy", n_deploy},
    {"scale", n_uint},
    {"labels", n_labels},
    {"working_dir", n_string},
    {"user", n_string},
    {"hostname", n_string},
    {"domainname", n_string},
    {"container_name", n_string},
    {"init", n_bool},
    {"stop_signal", n_stop_signal},
    {"stop_grace_period", n_duration},
    {"mem_limit", n_bytes},
    {"mem_reservation", n_bytes},
    {"memswap_limit", n_bytes},
    {"shm_size", n_bytes},
    {"cpus", n_number},
    {"cpu_shares", n_int},
    {"cpu_quota", n_int},
    {"cpu_period", n_int},
    {"cpuset", n_string},
    {"pids_limit", n_int},
    {"oom_score_adj", n_int},
    {"profiles", n_string_set},
    {"cap_add", n_string_set},
    {"cap_drop", n_string_set},
    {"privileged", n_bool},
    {"read_only", n_bool},
    {"tty", n_bool},
    {"stdin_open", n_bool},
    {"dns", n_string_or_list},
    {"dns_search", n_string_or_list},
    {"dns_opt", n_string_list},
    {"extra_hosts", n_extra_hosts},
    {"tmpfs", n_tmpfs},
    {"sysctls", n_labels},
    {"ulimits", n_ulimits},
    {"security_opt", n_string_list},
    {"pull_policy", n_pull_policy},
    {"platform", n_string},
    {NULL, NULL},
};

/* In the Compose specification, not implemented here. */
static const char *const service_unsupported[] = {"annotations",
                                                  "attach",
                                                  "blkio_config",
                                                  "cgroup",
                                                  "cgroup_parent",
                                                  "configs",
                                                  "cpu_count",
                                                  "cpu_percent",
                                                  "cpu_rt_period",
                                                  "cpu_rt_runtime",
                                                  "credential_spec",
                                                  "develop",
                                                  "device_cgroup_rules",
                                                  "devices",
                                                  "external_links",
                                                  "extends",
                                                  "gpus",
                                                  "group_add",
                                                  "ipc",
                                                  "isolation",
                                                  "label_file",
                                                  "links",
                                                  "logging",
                                                  "mac_address",
                                                  "mem_swappiness",
                                                  "models",
                                                  "oom_kill_disable",
                                                  "pid",
                                                  "post_start",
                                                  "pre_stop",
                                                  "provider",
                                                  "runtime",
                                                  "secrets",
                                                  "storage_opt",
                                                  "userns_mode",
                                                  "uts",
                                                  "volumes_from",
                                                  "use_api_socket",
                                                  "cpuset_mems",
                                                  NULL};

static bool valid_service_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            return false;
    return true;
}

static json_t *n_services(struct norm *n, json_t *v)
{
    if (!json_is_object(v))
        return fail(n, "expected a mapping, got %s", type_name(v));
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        size_t mark;
        push(n, k, &mark);
        json_t *s = NULL;
        if (strncmp(k, "x-", 2) == 0) {
            pop(n, mark);
            continue;
        }
        if (!valid_service_name(k))
            fail(n, "invalid service name: use only [a-zA-Z0-9._-]");
        else if (json_is_null(e))
            s = json_object();
        else
            s = n_fields(n, e, service_fields, service_unsupported);
        pop(n, mark);
        if (!s) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, s);
    }
    return out;
}

/* ---------------------------------------------------------------- networks, volumes */

static json_t *n_external(struct norm *n, json_t *v)
{
    if (json_is_object(v)) {
        /* the old `external: {name: x}` */
        static const struct field fields[] = {{"name", n_string}, {NULL, NULL}};
        json_t *o = n_fields(n, v, fields, NULL);
        return o;
    }
    return n_bool(n, v);
}

static json_t *n_ipam_config(struct norm *n, json_t *v)
{
    if (!json_is_array(v))
        return fail(n, "expected a list, got %s", type_name(v));
    static const struct field fields[] = {{"subnet", n_string},
                                          {"ip_range", n_string},
                                          {"gateway", n_string},
                                          {"aux_addresses", n_labels},
                                          {NULL, NULL}};
    json_t *out = json_array();
    size_t i, mark;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        push_index(n, i, &mark);
        json_t *o = n_fields(n, e, fields, NULL);
        pop(n, mark);
        if (!o) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, o);
    }
    return out;
}

static json_t *n_ipam(struct norm *n, json_t *v)
{
    static const struct field fields[] = {
        {"driver", n_string}, {"config", n_ipam_config}, {"options", n_labels}, {NULL, NULL}};
    return n_fields(n, v, fields, NULL);
}

/* A top-level network or volume: external folded into {external: true, name}. */
static json_t *n_resource(struct norm *n, json_t *v, const struct field *fields)
{
    if (json_is_null(v))
        return json_object();
    json_t *o = n_fields(n, v, fields, NULL);
    if (!o)
        return NULL;
    json_t *ext = json_object_get(o, "external");
    if (json_is_object(ext)) {
        json_t *name = json_object_get(ext, "name");
        if (name)
            json_object_set(o, "name", name);
        json_object_set_new(o, "external", json_true());
    }
    if (json_is_true(json_object_get(o, "external"))) {
        static const char *const allowed[] = {"external", "name", NULL};
        const char *k;
        json_t *e;
        json_object_foreach(o, k, e) if (!is_mode_word(k, allowed))
        {
            size_t mark;
            push(n, k, &mark);
            json_t *r = fail(n, "an external resource takes only `name`");
            pop(n, mark);
            json_decref(o);
            return r;
        }
    } else {
        json_object_del(o, "external");
    }
    return o;
}

static json_t *n_resources_of(struct norm *n, json_t *v, const struct field *fields)
{
    if (!json_is_object(v))
        return fail(n, "expected a mapping, got %s", type_name(v));
    json_t *out = json_object();
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        size_t mark;
        if (strncmp(k, "x-", 2) == 0)
            continue;
        push(n, k, &mark);
        json_t *o = valid_volume_name(k) ? n_resource(n, e, fields)
                                         : fail(n, "invalid name: use only [a-zA-Z0-9._-]");
        pop(n, mark);
        if (!o) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, o);
    }
    return out;
}

static json_t *n_networks(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"driver", n_string},     {"driver_opts", n_labels},
                                          {"external", n_external}, {"name", n_string},
                                          {"labels", n_labels},     {"internal", n_bool},
                                          {"attachable", n_bool},   {"enable_ipv6", n_bool},
                                          {"ipam", n_ipam},         {NULL, NULL}};
    return n_resources_of(n, v, fields);
}

static json_t *n_top_volumes(struct norm *n, json_t *v)
{
    static const struct field fields[] = {{"driver", n_string},     {"driver_opts", n_labels},
                                          {"external", n_external}, {"name", n_string},
                                          {"labels", n_labels},     {NULL, NULL}};
    return n_resources_of(n, v, fields);
}

static json_t *n_version(struct norm *n, json_t *v)
{
    return n_string(n, v);
}

json_t *compose_model_normalize(json_t *doc, const char *dir, wharf_error *err)
{
    struct norm n = {STRBUF_INIT, dir, err};
    static const struct field fields[] = {{"version", n_version},     {"name", n_string},
                                          {"services", n_services},   {"networks", n_networks},
                                          {"volumes", n_top_volumes}, {NULL, NULL}};
    static const char *const unsupported[] = {"secrets", "configs", "include", "models", NULL};
    json_t *out;
    if (json_is_null(doc))
        out = json_object();
    else if (!json_is_object(doc)) {
        wharf_error_set(err, -EINVAL, "the top level must be a mapping, not %s", type_name(doc));
        out = NULL;
    } else
        out = n_fields(&n, doc, fields, unsupported);
    strbuf_release(&n.path);
    return out;
}

/* ---------------------------------------------------------------- merging */

static void merge_map(json_t *base, json_t *over)
{
    const char *k;
    json_t *v;
    json_object_foreach(over, k, v)
    {
        json_t *b = json_object_get(base, k);
        if (json_is_object(b) && json_is_object(v))
            merge_map(b, v);
        else
            json_object_set(base, k, v);
    }
}

static void append_unique(json_t *base, json_t *over)
{
    size_t i, j;
    json_t *v, *b;
    json_array_foreach(over, i, v)
    {
        bool found = false;
        json_array_foreach(base, j, b) found = found || json_equal(b, v);
        if (!found)
            json_array_append(base, v);
    }
}

static void merge_by_key(json_t *base, json_t *over, const char *key)
{
    size_t i, j;
    json_t *v, *b;
    json_array_foreach(over, i, v)
    {
        bool replaced = false;
        json_array_foreach(base, j,
                           b) if (json_equal(json_object_get(b, key), json_object_get(v, key)))
        {
            json_array_set(base, j, v);
            replaced = true;
            break;
        }
        if (!replaced)
            json_array_append(base, v);
    }
}

static void merge_service(json_t *base, json_t *over)
{
    static const char *const maps[] = {"environment", "labels",   "build",      "deploy",
                                       "healthcheck", "networks", "depends_on", "sysctls",
                                       "ulimits",     NULL};
    static const char *const sets[] = {"ports",        "expose",      "dns",      "dns_search",
                                       "dns_opt",      "cap_add",     "cap_drop", "tmpfs",
                                       "security_opt", "extra_hosts", "env_file", NULL};
    const char *k;
    json_t *v;
    json_object_foreach(over, k, v)
    {
        json_t *b = json_object_get(base, k);
        if (b && is_mode_word(k, maps) && json_is_object(b) && json_is_object(v)) {
            merge_map(b, v);
            /* a health check's test is replaced whole, never merged */
        } else if (b && is_mode_word(k, sets) && json_is_array(b)) {
            append_unique(b, v);
        } else if (b && strcmp(k, "volumes") == 0 && json_is_array(b)) {
            merge_by_key(b, v, "target");
        } else {
            json_object_set(base, k, v);
        }
    }
}

void compose_model_merge(json_t *base, json_t *over)
{
    const char *k;
    json_t *v;
    json_object_foreach(over, k, v)
    {
        json_t *b = json_object_get(base, k);
        if (!b || !json_is_object(v) || !json_is_object(b)) {
            json_object_set(base, k, v);
            continue;
        }
        if (strcmp(k, "services") == 0) {
            const char *name;
            json_t *svc;
            json_object_foreach(v, name, svc)
            {
                json_t *bs = json_object_get(b, name);
                if (bs)
                    merge_service(bs, svc);
                else
                    json_object_set(b, name, svc);
            }
        } else {
            merge_map(b, v);
        }
    }
}

/* ---------------------------------------------------------------- the whole project */

void compose_project_add_warning(struct compose_project *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    p->warnings = xrealloc(p->warnings, (p->n_warnings + 1) * sizeof(char *));
    p->warnings[p->n_warnings++] = strbuf_detach(&sb);
}

static int fold_env_files(json_t *svc, const char *name, struct compose_env *env, wharf_error *err)
{
    json_t *files = json_object_get(svc, "env_file");
    json_t *merged = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        const char *path = json_string_value(json_object_get(f, "path"));
        _cleanup_free_ char *text = NULL;
        size_t len;
        wharf_error ferr = {0};
        if (wharf_read_file(path, &text, &len, &ferr) < 0) {
            if (!json_is_true(json_object_get(f, "required")) && ferr.code == -ENOENT)
                continue;
            json_decref(merged);
            return wharf_error_set(err, -EINVAL, "services.%s.env_file: %s", name, ferr.msg);
        }
        if (compose_parse_env(path, text, compose_env_lookup, env, merged, err) < 0) {
            json_decref(merged);
            return wharf_error_prefix(err, "services.%s.env_file", name);
        }
    }
    json_t *environment = json_object_get(svc, "environment");
    if (environment)
        json_object_update(merged, environment);
    /* "VAR" alone takes the value from the environment, or is left out. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(merged, tmp, k, v)
    {
        if (!json_is_null(v))
            continue;
        const char *val = compose_env_lookup(env, k);
        if (val)
            json_object_set_new(merged, k, json_string(val));
        else
            json_object_del(merged, k);
    }
    json_object_del(svc, "env_file");
    if (json_object_size(merged))
        json_object_set_new(svc, "environment", merged);
    else {
        json_decref(merged);
        json_object_del(svc, "environment");
    }
    return 0;
}

static int check_references(json_t *doc, const char *name, json_t *svc, wharf_error *err)
{
    json_t *services = json_object_get(doc, "services");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(svc, "depends_on"), k, v)
    {
        if (!json_object_get(services, k))
            return wharf_error_set(err, -EINVAL,
                                   "service \"%s\" depends on undefined service \"%s\"", name, k);
        if (strcmp(k, name) == 0)
            return wharf_error_set(err, -EINVAL, "dependency cycle detected: %s -> %s", name, name);
    }
    json_t *nets = json_object_get(svc, "networks");
    if (nets && json_object_get(svc, "network_mode"))
        return wharf_error_set(err, -EINVAL,
                               "service \"%s\" declares mutually exclusive `network_mode` and "
                               "`networks`",
                               name);
    json_object_foreach(
        nets, k,
        v) if (strcmp(k, "default") &&
               !json_object_get(
                   json_object_get(doc, "networks"),
                   k)) return wharf_error_set(err, -EINVAL,
                                              "service \"%s\" refers to undefined network %s", name,
                                              k);
    const char *mode = json_string_value(json_object_get(svc, "network_mode"));
    if (mode && !strncmp(mode, "service:", 8) && !json_object_get(services, mode + 8))
        return wharf_error_set(err, -EINVAL,
                               "service \"%s\" uses the network stack of undefined service \"%s\"",
                               name, mode + 8);
    size_t i;
    json_array_foreach(json_object_get(svc, "volumes"), i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *src = json_string_value(json_object_get(v, "source"));
        if (!strcmp(type, "volume") && src &&
            !json_object_get(json_object_get(doc, "volumes"), src))
            return wharf_error_set(err, -EINVAL, "service \"%s\" refers to undefined volume %s",
                                   name, src);
    }
    if (!json_object_get(svc, "image") && !json_object_get(svc, "build"))
        return wharf_error_set(err, -EINVAL,
                               "service \"%s\" has neither an image nor a build context specified",
                               name);
    return 0;
}

static int scale_of(json_t *svc, const char *name, int *scale, wharf_error *err)
{
    json_t *s = json_object_get(svc, "scale");
    json_t *r = json_object_get(json_object_get(svc, "deploy"), "replicas");
    if (s && r && !json_equal(s, r))
        return wharf_error_set(err, -EINVAL,
                               "services.%s: can't set distinct values on 'scale' and "
                               "'deploy.replicas'",
                               name);
    json_t *v = s ? s : r;
    *scale = v ? (int)json_integer_value(v) : 1;
    if (json_integer_value(v) > 10000)
        return wharf_error_set(err, -EINVAL, "services.%s: scale %lld is too large", name,
                               (long long)json_integer_value(v));
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Kahn's algorithm, ready services taken by name: a stable order. On a
 * cycle, names one. */
static int dependency_order(json_t *services, const char ***order, wharf_error *err)
{
    size_t n = json_object_size(services), done = 0;
    const char **names = xcalloc(n + 1, sizeof(*names));
    bool *placed = xcalloc(n + 1, sizeof(bool));
    const char **out = xcalloc(n + 1, sizeof(*out));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(services, k, v) names[i++] = k;
    qsort(names, n, sizeof(*names), cmp_names);
    while (done < n) {
        bool progress = false;
        for (i = 0; i < n; i++) {
            if (placed[i])
                continue;
            bool ready = true;
            json_object_foreach(json_object_get(json_object_get(services, names[i]), "depends_on"),
                                k, v)
            {
                for (size_t j = 0; j < n; j++)
                    if (!strcmp(names[j], k) && !placed[j])
                        ready = false;
            }
            if (ready) {
                placed[i] = true;
                out[done++] = names[i];
                progress = true;
                break; /* restart from the first name: stable by name */
            }
        }
        if (!progress)
            break;
    }
    int r = 0;
    if (done < n) {
        /* Walk from an unplaced service along unplaced dependencies until a
         * service repeats: that stretch is the cycle. */
        const char **path = xcalloc(n + 2, sizeof(*path));
        size_t len = 0;
        const char *cur = NULL;
        for (i = 0; i < n && !cur; i++)
            if (!placed[i])
                cur = names[i];
        for (;;) {
            size_t seen = len;
            for (size_t j = 0; j < len; j++)
                if (!strcmp(path[j], cur))
                    seen = j;
            path[len++] = cur;
            if (seen < len - 1) {
                strbuf sb = STRBUF_INIT;
                for (size_t j = seen; j < len; j++)
                    strbuf_addf(&sb, "%s%s", j > seen ? " -> " : "", path[j]);
                r = wharf_error_set(err, -EINVAL, "dependency cycle detected: %s", sb.buf);
                strbuf_release(&sb);
                break;
            }
            const char *next = NULL;
            json_object_foreach(json_object_get(json_object_get(services, cur), "depends_on"), k, v)
            {
                for (size_t j = 0; j < n && !next; j++)
                    if (!strcmp(names[j], k) && !placed[j])
                        next = names[j];
                if (next)
                    break;
            }
            cur = next;
            if (!cur) { /* cannot happen: an unplaced service waits on one */
                r = wharf_error_set(err, -EINVAL, "dependency cycle detected");
                break;
            }
        }
        free(path);
        free(out);
        out = NULL;
    }
    free(names);
    free(placed);
    *order = out;
    return r;
}

static void resource_setup(struct compose_resource *r, const char *project, const char *key,
                           json_t *cfg)
{
    r->key = key;
    r->config = cfg;
    r->external = json_is_true(json_object_get(cfg, "external"));
    const char *name = json_string_value(json_object_get(cfg, "name"));
    r->name = name ? xstrdup(name) : r->external ? xstrdup(key) : xasprintf("%s_%s", project, key);
}

int compose_model_finish(struct compose_project *p, json_t *doc, struct compose_env *env,
                         const char *const *profiles, size_t n_profiles, wharf_error *err)
{
    int r = 0;
    const char **order = NULL;
    json_t *services = json_object_get(doc, "services");
    json_t *model = NULL;
    if (!services) {
        services = json_object();
        json_object_set_new(doc, "services", services);
    }
    if (!json_object_get(doc, "networks"))
        json_object_set_new(doc, "networks", json_object());
    if (!json_object_get(doc, "volumes"))
        json_object_set_new(doc, "volumes", json_object());
    json_t *networks = json_object_get(doc, "networks");
    const char *name;
    json_t *svc;
    json_object_foreach(services, name, svc)
    {
        if ((r = fold_env_files(svc, name, env, err)) < 0 ||
            (r = check_references(doc, name, svc, err)) < 0)
            goto out;
        if (!json_object_get(svc, "networks") && !json_object_get(svc, "network_mode"))
            json_object_set_new(svc, "networks", json_pack("{s:n}", "default"));
        if (json_object_get(json_object_get(svc, "networks"), "default") &&
            !json_object_get(networks, "default"))
            json_object_set_new(networks, "default", json_object());
    }
    if ((r = dependency_order(services, &order, err)) < 0)
        goto out;

    /* The model in the order `config` prints it: name, services by name,
     * networks, volumes. */
    model = json_object();
    json_object_set_new(model, "name", json_string(p->name));
    json_t *sorted = json_object();
    {
        size_t n = json_object_size(services), i = 0;
        const char **names = xcalloc(n + 1, sizeof(*names));
        json_object_foreach(services, name, svc) names[i++] = name;
        qsort(names, n, sizeof(*names), cmp_names);
        for (i = 0; i < n; i++)
            json_object_set(sorted, names[i], json_object_get(services, names[i]));
        free(names);
    }
    json_object_set_new(model, "services", sorted);
    json_object_set(model, "networks", networks);
    json_object_set(model, "volumes", json_object_get(doc, "volumes"));
    p->model = model;

    size_t n = json_object_size(services);
    p->services = xcalloc(n ? n : 1, sizeof(*p->services));
    for (size_t i = 0; i < n; i++) {
        struct compose_service *s = &p->services[i];
        json_t *cfg = json_object_get(sorted, order[i]);
        s->name = json_object_iter_key(json_object_iter_at(sorted, order[i]));
        s->config = cfg;
        const char *image = json_string_value(json_object_get(cfg, "image"));
        s->has_image = image != NULL;
        s->has_build = json_object_get(cfg, "build") != NULL;
        s->image = image ? xstrdup(image) : xasprintf("%s-%s", p->name, s->name);
        const char *pp = json_string_value(json_object_get(cfg, "pull_policy"));
        s->pull_policy = pp ? pp : "missing";
        s->container_name = json_string_value(json_object_get(cfg, "container_name"));
        p->n_services++;
        if ((r = scale_of(cfg, s->name, &s->scale, err)) < 0)
            goto out;
        if (s->container_name && s->scale > 1) {
            r = wharf_error_set(err, -EINVAL,
                                "services.%s: a fixed container_name cannot have %d replicas",
                                s->name, s->scale);
            goto out;
        }
        json_t *deps = json_object_get(cfg, "depends_on");
        s->depends_on = xcalloc(json_object_size(deps) + 1, sizeof(*s->depends_on));
        const char *dk;
        json_t *dv;
        json_object_foreach(deps, dk, dv)
        {
            struct compose_dependency *d = &s->depends_on[s->n_depends_on++];
            d->service = dk;
            const char *c = json_string_value(json_object_get(dv, "condition"));
            d->condition = !strcmp(c, "service_healthy") ? COMPOSE_SERVICE_HEALTHY
                           : !strcmp(c, "service_completed_successfully")
                               ? COMPOSE_SERVICE_COMPLETED_SUCCESSFULLY
                               : COMPOSE_SERVICE_STARTED;
            d->required = !json_is_false(json_object_get(dv, "required"));
            d->restart = json_is_true(json_object_get(dv, "restart"));
        }
        /* profiles: enabled without any, or with an active one */
        json_t *sp = json_object_get(cfg, "profiles");
        s->enabled = json_array_size(sp) == 0;
        size_t k;
        json_t *pv;
        json_array_foreach(sp, k, pv) for (size_t j = 0; j < n_profiles;
                                           j++) if (!strcmp(profiles[j], "*") ||
                                                    !strcmp(profiles[j], json_string_value(pv)))
            s->enabled = true;
        compose_config_hash(cfg, s->hash);
    }
    json_t *rv;
    const char *rk;
    p->networks = xcalloc(json_object_size(networks) + 1, sizeof(*p->networks));
    json_object_foreach(networks, rk, rv)
        resource_setup(&p->networks[p->n_networks++], p->name, rk, rv);
    json_t *volumes = json_object_get(doc, "volumes");
    p->volumes = xcalloc(json_object_size(volumes) + 1, sizeof(*p->volumes));
    json_object_foreach(volumes, rk, rv)
        resource_setup(&p->volumes[p->n_volumes++], p->name, rk, rv);
out:
    free(order);
    json_decref(doc);
    return r;
}
