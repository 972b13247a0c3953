/*
 * Object machinery shared by the verbs: the stored form of an object
 * (compact JSON without metadata.resourceVersion, which is the store's mod
 * revision; Secrets sealed), dotted-path access, UIDs and timestamps.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

json_t *object_decode(struct apiserver *as, const struct api_resource *r,
                      const struct kvstore_kv *kv, wharf_error *err)
{
    _cleanup_strbuf_ strbuf plain = STRBUF_INIT;
    const char *text = (const char *)kv->value;
    size_t len = kv->value_len;
    if (secrets_is_sealed(kv->value, kv->value_len)) {
        if (secrets_open(as, kv->key, kv->value, kv->value_len, &plain, err) < 0)
            return NULL;
        text = plain.buf;
        len = plain.len;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, 0, &jerr);
    if (!obj || !json_is_object(obj)) {
        if (obj)
            json_decref(obj);
        wharf_error_set(err, -EIO, "%s: stored value is not a JSON object: %s", kv->key, jerr.text);
        return NULL;
    }
    if (r->from_storage)
        r->from_storage(obj);
    object_set_rv(obj, kv->mod_revision);
    return obj;
}

int object_encode(struct apiserver *as, const struct api_resource *r, const char *key, json_t *obj,
                  strbuf *out, wharf_error *err)
{
    json_t *converted = NULL;
    if (r->to_storage) {
        converted = json_deep_copy(obj);
        r->to_storage(converted);
        obj = converted;
    }
    json_t *meta = json_object_get(obj, "metadata");
    json_t *rv = meta ? json_object_get(meta, "resourceVersion") : NULL;
    if (rv)
        json_incref(rv);
    if (meta)
        json_object_del(meta, "resourceVersion");
    /* apiVersion, kind and metadata first: a list writes the stored text
     * as it is after those (rest.c's append_item_text) */
    json_t *ordered = json_object();
    static const char *const first[] = {"apiVersion", "kind", "metadata"};
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
        if (json_object_get(obj, first[i]))
            json_object_set(ordered, first[i], json_object_get(obj, first[i]));
    json_object_update_missing(ordered, obj);
    char *text = json_dumps(ordered, JSON_COMPACT);
    json_decref(ordered);
    if (rv) {
        json_object_set_new(meta, "resourceVersion", rv);
    }
    if (converted)
        json_decref(converted);
    if (!text)
        return wharf_error_set(err, -EIO, "%s: cannot encode the object", key);
    int rc = 0;
    if (r->flags & RES_ENCRYPTED)
        rc = secrets_seal(as, key, text, strlen(text), out, err);
    else
        strbuf_addstr(out, text);
    free(text);
    return rc;
}

bool object_text_with_rv(strbuf *out, const struct kvstore_kv *kv, bool keep_type)
{
    static const char av[] = "{\"apiVersion\":\"", kd[] = "\",\"kind\":\"",
                      md[] = "\",\"metadata\":{";
    const char *t = (const char *)kv->value, *end = t + kv->value_len;
    if (kv->value_len <= sizeof(av) || memcmp(t, av, sizeof(av) - 1) != 0 ||
        secrets_is_sealed(kv->value, kv->value_len))
        return false;
    const char *p = memchr(t + sizeof(av) - 1, '"', (size_t)(end - t) - (sizeof(av) - 1));
    if (!p || (size_t)(end - p) <= sizeof(kd) || memcmp(p, kd, sizeof(kd) - 1) != 0)
        return false;
    p = memchr(p + sizeof(kd) - 1, '"', (size_t)(end - p) - (sizeof(kd) - 1));
    if (!p || (size_t)(end - p) <= sizeof(md) || memcmp(p, md, sizeof(md) - 1) != 0)
        return false;
    const char *rest = p + sizeof(md) - 1; /* inside metadata */
    if (keep_type)
        strbuf_add(out, t, (size_t)(rest - t));
    else
        strbuf_addstr(out, "{\"metadata\":{");
    strbuf_addf(out, "\"resourceVersion\":\"%" PRId64 "\"%s", kv->mod_revision,
                *rest == '}' ? "" : ",");
    strbuf_add(out, rest, (size_t)(end - rest));
    return true;
}

void object_set_type(const struct api_resource *r, json_t *obj)
{
    json_object_set_new(obj, "kind", json_string(r->kind));
    json_object_set_new(obj, "apiVersion", json_string(registry_api_version(r)));
}

json_t *object_meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

json_t *object_get(json_t *obj, const char *dotted)
{
    json_t *cur = obj;
    const char *p = dotted;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (!json_is_object(cur))
            return NULL;
        char key[256];
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        cur = json_object_get(cur, key);
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}

const char *object_str(json_t *obj, const char *dotted)
{
    return json_string_value(object_get(obj, dotted));
}

void object_set(json_t *obj, const char *dotted, json_t *value)
{
    json_t *cur = obj;
    const char *p = dotted;
    for (;;) {
        size_t n = strcspn(p, ".");
        char key[256];
        if (n >= sizeof(key)) {
            json_decref(value);
            return;
        }
        memcpy(key, p, n);
        key[n] = '\0';
        if (!p[n]) {
            json_object_set_new(cur, key, value);
            return;
        }
        json_t *next = json_object_get(cur, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(cur, key, next);
        }
        cur = next;
        p += n + 1;
    }
}

void object_set_rv(json_t *obj, int64_t rev)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, rev);
    json_object_set_new(object_meta(obj), "resourceVersion", json_string(buf));
}

int64_t object_rv(json_t *obj)
{
    const char *s = object_str(obj, "metadata.resourceVersion");
    if (!s || !*s)
        return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0)
        return -1;
    return v;
}

void new_uid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* getrandom does not fail for 16 bytes once the pool is ready */
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)rand();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void time_format(time_t t, char out[40])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_now(char out[40])
{
    time_format(time(NULL), out);
}

time_t time_parse(const char *s)
{
    if (!s)
        return -1;
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    if (*end == '.') {
        end++;
        while (*end >= '0' && *end <= '9')
            end++;
    }
    long offset = 0;
    if (*end == 'Z') {
        end++;
    } else if (*end == '+' || *end == '-') {
        int h = 0, m = 0;
        if (sscanf(end + 1, "%2d:%2d", &h, &m) != 2)
            return -1;
        offset = (h * 3600L + m * 60L) * (*end == '+' ? 1 : -1);
        end += 6;
    } else {
        return -1;
    }
    if (*end)
        return -1;
    return timegm(&tm) - offset;
}
