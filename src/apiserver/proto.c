/*
 * Request bodies in Kubernetes' protobuf encoding. client-go's generated
 * clients send built-in types as "application/vnd.kubernetes.protobuf"
 * (kubectl create namespace/configmap/secret/deployment/..., auth can-i),
 * with no fallback to JSON, so the server must read it. The encoding is
 * "k8s\0" followed by a runtime.Unknown message {typeMeta {apiVersion,
 * kind}, raw, contentEncoding, contentType} whose raw bytes are the typed
 * message; this file turns that into the JSON object the rest of the server
 * works on, driven by the field tables in proto_types.c.
 *
 * Zero-valued scalars that are not pointers are dropped, as Go's JSON
 * encoding would omit them; unknown field numbers are skipped.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

extern const char *const proto_defs[];
extern const size_t proto_n_defs;

enum pk {
    PK_STRING,
    PK_INT,
    PK_BOOL,
    PK_BYTES,
    PK_DOUBLE,
    PK_TIME,
    PK_MICROTIME,
    PK_QUANTITY,
    PK_INTSTR,
    PK_RAW,
    PK_MESSAGE,
};

struct pmsg;
struct pfield {
    unsigned num;
    char *name;
    enum pk kind;
    const struct pmsg *msg; /* PK_MESSAGE */
    bool repeated, map, keep_zero;
};
struct pmsg {
    char *name;
    struct pfield *fields;
    size_t n;
};

static struct pmsg *msgs;
static size_t n_msgs;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static struct pmsg *find_msg(const char *name, size_t len)
{
    for (size_t i = 0; i < n_msgs; i++) {
        if (strlen(msgs[i].name) == len && strncmp(msgs[i].name, name, len) == 0)
            return &msgs[i];
    }
    return NULL;
}

static void parse_def(struct pmsg *m, const char *def)
{
    const char *p = strchr(def, ' ');
    while (p && *p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        struct pfield f = {0};
        char *end;
        f.num = (unsigned)strtoul(p, &end, 10);
        if (*end != ':')
            abort();
        p = end + 1;
        size_t n = strcspn(p, ":");
        f.name = strndup(p, n);
        p += n + 1;
        if (*p == '[' || *p == '{') {
            f.repeated = *p == '[';
            f.map = *p == '{';
            p++;
        }
        n = strcspn(p, "]} !");
        if (n == 1) {
            static const char codes[] = "sibBntTqxo";
            static const enum pk kinds[] = {PK_STRING, PK_INT,  PK_BOOL,      PK_BYTES,
                                            PK_DOUBLE, PK_TIME, PK_MICROTIME, PK_QUANTITY,
                                            PK_INTSTR, PK_RAW};
            const char *c = strchr(codes, *p);
            if (!c)
                abort();
            f.kind = kinds[c - codes];
        } else {
            f.kind = PK_MESSAGE;
            f.msg = find_msg(p, n);
            if (!f.msg) {
                fprintf(stderr, "proto table: unknown message %.*s\n", (int)n, p);
                abort();
            }
        }
        p += n;
        if (*p == ']' || *p == '}')
            p++;
        if (*p == '!') {
            f.keep_zero = true;
            p++;
        }
        m->fields = xrealloc(m->fields, (m->n + 1) * sizeof(*m->fields));
        m->fields[m->n++] = f;
    }
}

static void init(void)
{
    msgs = xcalloc(proto_n_defs, sizeof(*msgs));
    n_msgs = proto_n_defs;
    for (size_t i = 0; i < proto_n_defs; i++)
        msgs[i].name = strndup(proto_defs[i], strcspn(proto_defs[i], " "));
    for (size_t i = 0; i < proto_n_defs; i++)
        parse_def(&msgs[i], proto_defs[i]);
}

/* ---------------------------------------------------------------- wire */

struct reader {
    const unsigned char *p, *end;
};

static int read_varint(struct reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -EINVAL;
        unsigned char b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -EINVAL;
}

/* A field's value: varint, or a length-delimited slice, or fixed bytes. */
struct value {
    unsigned wire;
    uint64_t varint;
    const unsigned char *data;
    size_t len;
};

static int read_field(struct reader *r, unsigned *num, struct value *v)
{
    uint64_t tag;
    if (read_varint(r, &tag) < 0)
        return -EINVAL;
    *num = (unsigned)(tag >> 3);
    v->wire = (unsigned)(tag & 7);
    switch (v->wire) {
    case 0:
        return read_varint(r, &v->varint);
    case 1:
    case 5: {
        size_t n = v->wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n)
            return -EINVAL;
        v->data = r->p;
        v->len = n;
        r->p += n;
        return 0;
    }
    case 2: {
        uint64_t n;
        if (read_varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
            return -EINVAL;
        v->data = r->p;
        v->len = (size_t)n;
        r->p += n;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

static json_t *b64(const unsigned char *d, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = d[i] << 16;
        if (i + 1 < n)
            v |= d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        strbuf_addch(&sb, tbl[(v >> 18) & 63]);
        strbuf_addch(&sb, tbl[(v >> 12) & 63]);
        strbuf_addch(&sb, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
        strbuf_addch(&sb, i + 2 < n ? tbl[v & 63] : '=');
    }
    json_t *s = json_stringn(strbuf_str(&sb), sb.len);
    strbuf_release(&sb);
    return s;
}

static json_t *decode_message(const struct pmsg *m, const unsigned char *data, size_t len,
                              wharf_error *err);

/* A string-ish value; NULL (with err) when not valid UTF-8. */
static json_t *string_of(const struct value *v, const char *field, wharf_error *err)
{
    if (v->wire != 2) {
        wharf_error_set(err, -EINVAL, "%s: expected a string", field);
        return NULL;
    }
    json_t *s = json_stringn((const char *)v->data, v->len);
    if (!s)
        wharf_error_set(err, -EINVAL, "%s: not valid UTF-8", field);
    return s;
}

/* Decodes one scalar or message value of kind f->kind; *zero set when it
 * is the type's zero value. NULL with err on malformed input. */
static json_t *decode_value(const struct pfield *f, const struct value *v, bool *zero,
                            wharf_error *err)
{
    *zero = false;
    switch (f->kind) {
    case PK_STRING: {
        json_t *s = string_of(v, f->name, err);
        *zero = s && v->len == 0;
        return s;
    }
    case PK_BYTES:
        if (v->wire != 2)
            break;
        *zero = v->len == 0;
        return b64(v->data, v->len);
    case PK_INT:
        if (v->wire != 0)
            break;
        *zero = v->varint == 0;
        return json_integer((json_int_t)(int64_t)v->varint);
    case PK_BOOL:
        if (v->wire != 0)
            break;
        *zero = v->varint == 0;
        return json_boolean(v->varint != 0);
    case PK_DOUBLE: {
        if (v->wire != 1)
            break;
        double d;
        memcpy(&d, v->data, 8);
        *zero = d == 0;
        return json_real(d);
    }
    case PK_TIME:
    case PK_MICROTIME:
    case PK_QUANTITY:
    case PK_INTSTR:
    case PK_RAW: {
        if (v->wire != 2)
            break;
        struct reader r = {v->data, v->data + v->len};
        int64_t secs = 0, nanos = 0, type = 0, ival = 0;
        json_t *str = NULL;
        const unsigned char *raw = NULL;
        size_t raw_len = 0;
        while (r.p < r.end) {
            unsigned num;
            struct value x;
            if (read_field(&r, &num, &x) < 0) {
                json_decref(str);
                wharf_error_set(err, -EINVAL, "%s: malformed", f->name);
                return NULL;
            }
            if (x.wire == 0 && num == 1)
                secs = type = (int64_t)x.varint;
            else if (x.wire == 0 && num == 2)
                nanos = ival = (int64_t)x.varint;
            else if (x.wire == 2 &&
                     ((f->kind == PK_INTSTR && num == 3) || (f->kind == PK_QUANTITY && num == 1))) {
                json_decref(str);
                if (!(str = string_of(&x, f->name, err)))
                    return NULL;
            } else if (x.wire == 2 && f->kind == PK_RAW && num == 1) {
                raw = x.data;
                raw_len = x.len;
            }
        }
        if (f->kind == PK_TIME || f->kind == PK_MICROTIME) {
            if (secs == 0 && nanos == 0) {
                *zero = true;
                return json_null();
            }
            char buf[64];
            time_t t = (time_t)secs;
            struct tm tm;
            gmtime_r(&t, &tm);
            size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
            if (f->kind == PK_MICROTIME)
                snprintf(buf + n, sizeof(buf) - n, ".%06dZ", (int)(nanos / 1000));
            else
                snprintf(buf + n, sizeof(buf) - n, "Z");
            return json_string(buf);
        }
        if (f->kind == PK_QUANTITY)
            return str ? str : json_string("0");
        if (f->kind == PK_INTSTR) {
            if (type == 1)
                return str ? str : json_string("");
            json_decref(str);
            return json_integer(ival);
        }
        /* RawExtension: the raw bytes are JSON */
        json_decref(str);
        if (!raw || raw_len == 0) {
            *zero = true;
            return json_null();
        }
        json_error_t jerr;
        json_t *j = json_loadb((const char *)raw, raw_len, JSON_DECODE_ANY, &jerr);
        if (!j)
            wharf_error_set(err, -EINVAL, "%s: embedded object is not JSON: %s", f->name,
                            jerr.text);
        return j;
    }
    case PK_MESSAGE:
        if (v->wire != 2)
            break;
        return decode_message(f->msg, v->data, v->len, err);
    }
    wharf_error_set(err, -EINVAL, "%s: unexpected wire type %u", f->name, v->wire);
    return NULL;
}

static json_t *decode_message(const struct pmsg *m, const unsigned char *data, size_t len,
                              wharf_error *err)
{
    json_t *obj = json_object();
    struct reader r = {data, data + len};
    while (r.p < r.end) {
        unsigned num;
        struct value v;
        if (read_field(&r, &num, &v) < 0) {
            json_decref(obj);
            wharf_error_set(err, -EINVAL, "%s: malformed protobuf", m->name);
            return NULL;
        }
        const struct pfield *f = NULL;
        for (size_t i = 0; i < m->n; i++) {
            if (m->fields[i].num == num)
                f = &m->fields[i];
        }
        if (!f)
            continue;
        if (f->map) {
            /* an entry: {1: key, 2: value} */
            struct reader e = {v.data, v.data + v.len};
            json_t *key = NULL, *val = NULL;
            bool zero;
            while (v.wire == 2 && e.p < e.end) {
                unsigned en;
                struct value ev;
                if (read_field(&e, &en, &ev) < 0)
                    break;
                if (en == 1) {
                    json_decref(key);
                    key = string_of(&ev, f->name, err);
                } else if (en == 2) {
                    json_decref(val);
                    val = decode_value(f, &ev, &zero, err);
                }
            }
            if (!key || (!val && err->code)) {
                json_decref(key);
                json_decref(val);
                json_decref(obj);
                if (!err->code)
                    wharf_error_set(err, -EINVAL, "%s.%s: malformed map entry", m->name, f->name);
                return NULL;
            }
            if (!val) {
                /* an entry without a value holds the zero value */
                val = f->kind == PK_INT       ? json_integer(0)
                      : f->kind == PK_BOOL    ? json_false()
                      : f->kind == PK_MESSAGE ? json_object()
                                              : json_string("");
            }
            json_t *map = json_object_get(obj, f->name);
            if (!map) {
                map = json_object();
                json_object_set_new(obj, f->name, map);
            }
            json_object_set_new(map, json_string_value(key), val);
            json_decref(key);
            continue;
        }
        if (f->repeated && f->kind == PK_INT && v.wire == 2) {
            /* packed varints */
            json_t *arr = json_object_get(obj, f->name);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, f->name, arr);
            }
            struct reader pr = {v.data, v.data + v.len};
            uint64_t x;
            while (pr.p < pr.end && read_varint(&pr, &x) == 0)
                json_array_append_new(arr, json_integer((json_int_t)(int64_t)x));
            continue;
        }
        bool zero = false;
        json_t *val = decode_value(f, &v, &zero, err);
        if (!val) {
            json_decref(obj);
            return wharf_error_prefix(err, "%s", m->name), NULL;
        }
        if (f->repeated) {
            json_t *arr = json_object_get(obj, f->name);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, f->name, arr);
            }
            json_array_append_new(arr, val);
        } else if (zero && !f->keep_zero) {
            json_decref(val);
            json_object_del(obj, f->name);
        } else {
            json_object_set_new(obj, f->name, val);
        }
    }
    return obj;
}

/* ---------------------------------------------------------------- envelope */

static const char *package_of(const char *group, const char *version)
{
    static const struct {
        const char *group, *version, *pkg;
    } map[] = {
        {"", "v1", "core"},
        {"apps", "v1", "apps"},
        {"batch", "v1", "batch"},
        {"rbac.authorization.k8s.io", "v1", "rbac"},
        {"policy", "v1", "policy"},
        {"networking.k8s.io", "v1", "net"},
        {"authorization.k8s.io", "v1", "authz"},
        {"authentication.k8s.io", "v1", "authn"},
        {"autoscaling", "v2", "asv2"},
        {"autoscaling", "v1", "asv1"},
        {"coordination.k8s.io", "v1", "coord"},
        {"discovery.k8s.io", "v1", "disc"},
        {"meta.k8s.io", "v1", "meta"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].group, group) == 0 && strcmp(map[i].version, version) == 0)
            return map[i].pkg;
    }
    return NULL;
}

bool proto_is_envelope(const void *data, size_t len)
{
    return len >= 4 && memcmp(data, "k8s\0", 4) == 0;
}

json_t *proto_decode(const void *data, size_t len, wharf_error *err)
{
    pthread_once(&once, init);
    if (!proto_is_envelope(data, len)) {
        wharf_error_set(err, -EINVAL, "protobuf body without the \"k8s\\x00\" prefix");
        return NULL;
    }
    struct reader r = {(const unsigned char *)data + 4, (const unsigned char *)data + len};
    _cleanup_free_ char *api_version = NULL, *kind = NULL;
    const unsigned char *raw = NULL;
    size_t raw_len = 0;
    while (r.p < r.end) {
        unsigned num;
        struct value v;
        if (read_field(&r, &num, &v) < 0) {
            wharf_error_set(err, -EINVAL, "malformed protobuf envelope");
            return NULL;
        }
        if (num == 1 && v.wire == 2) {
            struct reader t = {v.data, v.data + v.len};
            while (t.p < t.end) {
                unsigned tn;
                struct value tv;
                if (read_field(&t, &tn, &tv) < 0 || tv.wire != 2)
                    break;
                char **dst = tn == 1 ? &api_version : tn == 2 ? &kind : NULL;
                if (dst) {
                    free(*dst);
                    *dst = strndup((const char *)tv.data, tv.len);
                }
            }
        } else if (num == 2 && v.wire == 2) {
            raw = v.data;
            raw_len = v.len;
        } else if (num == 3 && v.wire == 2 && v.len > 0) {
            wharf_error_set(err, -EINVAL, "protobuf body with a content encoding is not supported");
            return NULL;
        }
    }
    if (!api_version || !kind) {
        wharf_error_set(err, -EINVAL, "protobuf body without apiVersion and kind");
        return NULL;
    }
    const char *slash = strchr(api_version, '/');
    _cleanup_free_ char *group =
        slash ? strndup(api_version, (size_t)(slash - api_version)) : xstrdup("");
    const char *version = slash ? slash + 1 : api_version;
    const char *pkg = package_of(group, version);
    _cleanup_free_ char *name = pkg ? xasprintf("%s.%s", pkg, kind) : NULL;
    const struct pmsg *m = name ? find_msg(name, strlen(name)) : NULL;
    if (!m) {
        wharf_error_set(err, -EINVAL,
                        "protobuf body of kind %s in %s: not a type this server reads", kind,
                        api_version);
        return NULL;
    }
    json_t *obj = decode_message(m, raw ? raw : (const unsigned char *)"", raw_len, err);
    if (!obj)
        return NULL;
    json_object_set_new(obj, "apiVersion", json_string(api_version));
    json_object_set_new(obj, "kind", json_string(kind));
    return obj;
}
