/*
 * etcd.c — the etcd v3 backend, over etcd's JSON gateway (grpc-gateway,
 * served on the client port: /v3/kv/range, /v3/kv/txn, /v3/kv/compaction,
 * /v3/watch) with libcurl. Keys and values travel base64-encoded; 64-bit
 * numbers as strings.
 *
 * Requests: a pool of curl handles (kept-alive connections) shared by the
 * calling threads. A request goes to the endpoint that last answered; when
 * an endpoint cannot be reached (connection refused, no route) or answers
 * "Unavailable" (no leader), the next one is tried, and it becomes the
 * preferred one. Any other transport error (the member died mid-request)
 * also moves on: a write that may have been applied is safe to replay
 * because create, update and delete are all guarded by a compare, so a
 * replay can only report EEXIST or a conflict, never apply twice.
 *
 * Mutations are transactions: create compares create_revision == 0, update
 * and delete compare mod_revision (or create_revision > 0 for "any"), and
 * their failure branch reads the key, so a conflict returns the current
 * object in the same round trip.
 *
 * Watches: one thread per store drives every watch stream through one curl
 * multi handle (a long POST to /v3/watch whose response is one JSON message
 * per line). Events go to the watchers' bounded queues. A stream that breaks
 * is reopened on the next endpoint from the revision after the last event
 * delivered, so a member going away costs no event and no duplicate; when
 * no endpoint answers for request_timeout_s the watcher ends with
 * -EHOSTUNREACH. etcd cancelling a watch for compaction ends it with -ERANGE.
 */
#include "internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 2000
#define WATCH_RETRY_MS 300

struct etcd {
    char **urls;
    size_t n;
    atomic_size_t preferred;
    unsigned timeout_s;

    pthread_mutex_t pool_lock;
    CURL **pool;
    size_t npool, pool_cap;

    /* Watches: the list and each stream's control flags, under wlock. */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    CURLM *multi;
    pthread_t thread;
    bool thread_running, stop;
    struct kvstore_watch *watchers;
};

struct etcd_watch {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    strbuf line;
    char errbuf[CURL_ERROR_SIZE];
    size_t endpoint;
    unsigned failures;    /* connection attempts since the last "created" */
    double failing_since; /* ms, 0 when healthy */
    double retry_at;      /* ms */
    int64_t next_rev;     /* where a reopened stream resumes */
    bool created;         /* the current stream was accepted */
    bool ever_created;    /* kvstore_watch has returned */
    bool remove, removed;
};

static struct etcd *ETCD(struct kvstore *s)
{
    return s->backend;
}

/* ---------------------------------------------------------------- encoding */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes into a new NUL-terminated buffer; NULL on bad input. */
static uint8_t *b64_decode(const char *in, size_t *len)
{
    size_t n = strlen(in);
    uint8_t *out = xmalloc(n / 4 * 3 + 4);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        int v = b64_value(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

static json_t *b64_json(const void *data, size_t len)
{
    char *s = b64_encode(data, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *key_json(const char *key)
{
    return b64_json(key, strlen(key));
}

/* etcd's 64-bit integers arrive as strings; absent means 0 (proto3). */
static int64_t jint(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    if (json_is_integer(v))
        return json_integer_value(v);
    return 0;
}

static json_t *rev_json(int64_t rev)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)rev);
    return json_string(buf);
}

/* One mvccpb.KeyValue into kv. */
static int parse_kv(json_t *j, struct kvstore_kv *kv, wharf_error *err)
{
    const char *k = json_string_value(json_object_get(j, "key"));
    const char *v = json_string_value(json_object_get(j, "value"));
    size_t klen = 0, vlen = 0;
    _cleanup_free_ uint8_t *key = k ? b64_decode(k, &klen) : NULL;
    _cleanup_free_ uint8_t *value = v ? b64_decode(v, &vlen) : xcalloc(1, 1);
    if (!key || !value || memchr(key, '\0', klen))
        return wharf_error_set(err, -EIO, "etcd: malformed key-value in a response");
    kv->key = (char *)steal_ptr(key);
    kv->value = steal_ptr(value);
    kv->value_len = vlen;
    kv->create_revision = jint(j, "create_revision");
    kv->mod_revision = jint(j, "mod_revision");
    return 0;
}

/* ---------------------------------------------------------------- requests */

static size_t collect(char *buf, size_t size, size_t n, void *data)
{
    strbuf_add(data, buf, size * n);
    return size * n;
}

static CURL *pool_get(struct etcd *e)
{
    pthread_mutex_lock(&e->pool_lock);
    CURL *h = e->npool ? e->pool[--e->npool] : NULL;
    pthread_mutex_unlock(&e->pool_lock);
    return h ? h : curl_easy_init();
}

static void pool_put(struct etcd *e, CURL *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&e->pool_lock);
    if (e->npool == e->pool_cap) {
        e->pool_cap = e->pool_cap ? e->pool_cap * 2 : 8;
        e->pool = xrealloc(e->pool, e->pool_cap * sizeof(*e->pool));
    }
    e->pool[e->npool++] = h;
    pthread_mutex_unlock(&e->pool_lock);
}

/* The gRPC status code the gateway returns in {"code": N} for "no leader". */
#define GRPC_UNAVAILABLE 14

static int map_error(const char *what, const char *message, wharf_error *err)
{
    if (strstr(message, "required revision has been compacted"))
        return wharf_error_set(err, -ERANGE, "%s: the revision has been compacted (%s)", what,
                               message);
    if (strstr(message, "required revision is a future revision"))
        return wharf_error_set(err, -EOVERFLOW,
                               "%s: the revision is newer than the current revision (%s)", what,
                               message);
    return wharf_error_set(err, -EIO, "%s: %s", what, message);
}

/*
 * POSTs req to path on the preferred endpoint, failing over as described at
 * the top. *resp is the parsed body of a 200 answer (new reference).
 * `what` names the operation and key for messages.
 */
static int call(struct etcd *e, const char *what, const char *path, json_t *req, json_t **resp,
                wharf_error *err)
{
    *resp = NULL;
    _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
    CURL *h = pool_get(e);
    if (!h)
        return wharf_error_set(err, -ENOMEM, "%s: cannot initialise libcurl", what);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    _cleanup_strbuf_ strbuf tried = STRBUF_INIT;
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    char errbuf[CURL_ERROR_SIZE];
    size_t start = atomic_load(&e->preferred);
    int r = 1;
    for (size_t i = 0; i < e->n && r > 0; i++) {
        size_t idx = (start + i) % e->n;
        _cleanup_free_ char *url = xasprintf("%s%s", e->urls[idx], path);
        strbuf_reset(&out);
        errbuf[0] = '\0';
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)e->timeout_s);
        CURLcode rc = curl_easy_perform(h);
        if (rc != CURLE_OK) {
            const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
            strbuf_addf(&tried, "%s%s: %s", tried.len ? "; " : "", e->urls[idx], why);
            /* Replayed on the next member even if it may have been applied:
             * reads are idempotent, writes are guarded by a compare (a
             * replay reports EEXIST or a conflict, it never applies twice),
             * and a replayed compaction reports "already compacted". */
            continue;
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        json_t *j = json_loadb(out.buf ? out.buf : "", out.len, 0, NULL);
        if (status == 200 && json_is_object(j)) {
            atomic_store(&e->preferred, idx);
            *resp = j;
            r = 0;
            break;
        }
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(j, "error"));
        int64_t code = jint(j, "code");
        if (code == GRPC_UNAVAILABLE || (!msg && status >= 500)) {
            strbuf_addf(&tried, "%s%s: %s", tried.len ? "; " : "", e->urls[idx],
                        msg ? msg : "unavailable");
            json_decref(j);
            continue;
        }
        _cleanup_free_ char *m =
            msg ? xstrdup(msg) : xasprintf("unexpected response (HTTP status %ld)", status);
        json_decref(j);
        r = map_error(what, m, err);
    }
    curl_slist_free_all(headers);
    pool_put(e, h);
    if (r > 0)
        r = wharf_error_set(err, -EHOSTUNREACH, "%s: no etcd endpoint answered (%s)", what,
                            strbuf_str(&tried));
    return r;
}

static json_t *header_of(json_t *resp)
{
    return json_object_get(resp, "header");
}

/* ---------------------------------------------------------------- reads */

static int etcd_get(struct kvstore *s, const char *key, struct kvstore_kv *out, wharf_error *err)
{
    _cleanup_json_ json_t *req = json_pack("{s:o}", "key", key_json(key));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("get %s", key);
    int r = call(ETCD(s), what, "/v3/kv/range", req, &resp, err);
    if (r < 0)
        return r;
    json_t *kvs = json_object_get(resp, "kvs");
    if (json_array_size(kvs) == 0)
        return wharf_error_set(err, -ENOENT, "key %s not found", key);
    return parse_kv(json_array_get(kvs, 0), out, err);
}

static int etcd_list(struct kvstore *s, const char *prefix, const char *end, int64_t revision,
                     size_t limit, const char *after, struct kvstore_list *out, wharf_error *err)
{
    _cleanup_json_ json_t *req = json_object();
    if (after && kv_key_cmp(after, prefix) >= 0)
        json_object_set_new(req, "key", b64_json(after, strlen(after) + 1));
    else if (*prefix)
        json_object_set_new(req, "key", key_json(prefix));
    else
        json_object_set_new(req, "key", b64_json("", 1));
    /* range_end "\0" means every key from key on. */
    json_object_set_new(req, "range_end", end ? key_json(end) : b64_json("", 1));
    if (revision)
        json_object_set_new(req, "revision", rev_json(revision));
    if (limit)
        json_object_set_new(req, "limit", rev_json((int64_t)limit));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("list %s", prefix);
    int r = call(ETCD(s), what, "/v3/kv/range", req, &resp, err);
    if (r < 0)
        return r;
    json_t *kvs = json_object_get(resp, "kvs");
    size_t n = json_array_size(kvs);
    out->items = n ? xcalloc(n, sizeof(*out->items)) : NULL;
    for (size_t i = 0; i < n; i++) {
        if ((r = parse_kv(json_array_get(kvs, i), &out->items[i], err)) < 0) {
            out->count = i;
            kvstore_list_release(out);
            return r;
        }
    }
    out->count = n;
    out->more = json_is_true(json_object_get(resp, "more"));
    out->revision = revision ? revision : jint(header_of(resp), "revision");
    return 0;
}

static int etcd_current_revision(struct kvstore *s, int64_t *revision, wharf_error *err)
{
    _cleanup_json_ json_t *req = json_pack("{s:o,s:b}", "key", b64_json("", 1), "count_only", true);
    _cleanup_json_ json_t *resp = NULL;
    int r = call(ETCD(s), "current revision", "/v3/kv/range", req, &resp, err);
    if (r == 0)
        *revision = jint(header_of(resp), "revision");
    return r;
}

/* ---------------------------------------------------------------- writes */

/* A compare on key: mod_revision == expected, or (expected 0) the key
 * exists; create uses create_revision == 0 (absent). */
static json_t *compare(const char *key, const char *target, const char *result, int64_t value)
{
    const char *field = strcmp(target, "MOD") == 0 ? "mod_revision" : "create_revision";
    return json_pack("{s:o,s:s,s:s,s:o}", "key", key_json(key), "target", target, "result", result,
                     field, rev_json(value));
}

static json_t *guard(const char *key, int64_t expected)
{
    return expected ? compare(key, "MOD", "EQUAL", expected) : compare(key, "CREATE", "GREATER", 0);
}

static json_t *range_op(const char *key)
{
    return json_pack("{s:{s:o}}", "request_range", "key", key_json(key));
}

/* The object the failure branch of a txn read: -ENOENT or -ECANCELED. */
static int txn_failed(json_t *resp, const char *what, const char *key, int64_t expected,
                      struct kvstore_kv *current, wharf_error *err)
{
    json_t *rr =
        json_object_get(json_array_get(json_object_get(resp, "responses"), 0), "response_range");
    json_t *kv = json_array_get(json_object_get(rr, "kvs"), 0);
    if (!kv)
        return wharf_error_set(err, -ENOENT, "%s %s: key not found", what, key);
    struct kvstore_kv cur = {0};
    int r = parse_kv(kv, &cur, err);
    if (r < 0)
        return r;
    r = wharf_error_set(err, -ECANCELED,
                        "%s %s: the object has been modified (revision %lld, expected %lld)", what,
                        key, (long long)cur.mod_revision, (long long)expected);
    if (current)
        *current = cur;
    else
        kvstore_kv_release(&cur);
    return r;
}

static int etcd_create(struct kvstore *s, const char *key, const void *value, size_t len,
                       int64_t *revision, wharf_error *err)
{
    _cleanup_json_ json_t *req =
        json_pack("{s:[o],s:[{s:{s:o,s:o}}]}", "compare", compare(key, "CREATE", "EQUAL", 0),
                  "success", "request_put", "key", key_json(key), "value", b64_json(value, len));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("create %s", key);
    int r = call(ETCD(s), what, "/v3/kv/txn", req, &resp, err);
    if (r < 0)
        return r;
    if (!json_is_true(json_object_get(resp, "succeeded")))
        return wharf_error_set(err, -EEXIST, "key %s already exists", key);
    *revision = jint(header_of(resp), "revision");
    return 0;
}

static int etcd_update(struct kvstore *s, const char *key, const void *value, size_t len,
                       int64_t expected, int64_t *revision, struct kvstore_kv *current,
                       wharf_error *err)
{
    _cleanup_json_ json_t *req =
        json_pack("{s:[o],s:[{s:{s:o,s:o}}],s:[o]}", "compare", guard(key, expected), "success",
                  "request_put", "key", key_json(key), "value", b64_json(value, len), "failure",
                  range_op(key));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("update %s", key);
    int r = call(ETCD(s), what, "/v3/kv/txn", req, &resp, err);
    if (r < 0)
        return r;
    if (!json_is_true(json_object_get(resp, "succeeded")))
        return txn_failed(resp, "update", key, expected, current, err);
    *revision = jint(header_of(resp), "revision");
    return 0;
}

static int etcd_delete(struct kvstore *s, const char *key, int64_t expected, int64_t *revision,
                       struct kvstore_kv *prev, wharf_error *err)
{
    _cleanup_json_ json_t *req = json_pack(
        "{s:[o],s:[{s:{s:o,s:b}}],s:[o]}", "compare", guard(key, expected), "success",
        "request_delete_range", "key", key_json(key), "prev_kv", true, "failure", range_op(key));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("delete %s", key);
    int r = call(ETCD(s), what, "/v3/kv/txn", req, &resp, err);
    if (r < 0)
        return r;
    if (!json_is_true(json_object_get(resp, "succeeded")))
        return txn_failed(resp, "delete", key, expected, prev, err);
    *revision = jint(header_of(resp), "revision");
    json_t *dr = json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
                                 "response_delete_range");
    json_t *kv = json_array_get(json_object_get(dr, "prev_kvs"), 0);
    if (prev && kv)
        return parse_kv(kv, prev, err);
    return 0;
}

static int etcd_compact(struct kvstore *s, int64_t revision, wharf_error *err)
{
    _cleanup_json_ json_t *req = json_pack("{s:o}", "revision", rev_json(revision));
    _cleanup_json_ json_t *resp = NULL;
    _cleanup_free_ char *what = xasprintf("compact %lld", (long long)revision);
    return call(ETCD(s), what, "/v3/kv/compaction", req, &resp, err);
}

/* ---------------------------------------------------------------- watch */

static double now_ms(void)
{
    return wharf_now_ms();
}

static void wake(struct etcd *e)
{
    if (e->multi)
        curl_multi_wakeup(e->multi);
}

/* One line of the stream: a WatchResponse wrapped in {"result": ...}. */
static bool on_watch_message(struct kvstore_watch *w, struct etcd *e, json_t *msg)
{
    struct etcd_watch *ew = w->backend;
    json_t *res = json_object_get(msg, "result");
    if (!res) {
        const char *m = json_string_value(json_object_get(msg, "message"));
        if (!m)
            m = json_string_value(json_object_get(msg, "error"));
        kv_watch_fail(w, -EIO, "watch %s: etcd: %s", w->prefix, m ? m : "malformed message");
        return false;
    }
    if (json_is_true(json_object_get(res, "canceled"))) {
        int64_t compacted = jint(res, "compact_revision");
        if (compacted)
            kv_watch_fail(w, -ERANGE,
                          "watch %s: revision %lld has been compacted (oldest available: %lld)",
                          w->prefix, (long long)ew->next_rev, (long long)compacted);
        else
            kv_watch_fail(w, -EIO, "watch %s: cancelled by etcd: %s", w->prefix,
                          json_string_value(json_object_get(res, "cancel_reason"))
                              ?: "no reason given");
        return false;
    }
    if (json_is_true(json_object_get(res, "created")) && !ew->created) {
        pthread_mutex_lock(&e->wlock);
        ew->created = ew->ever_created = true;
        ew->failures = 0;
        ew->failing_since = 0;
        if (!ew->next_rev)
            ew->next_rev = jint(header_of(res), "revision") + 1;
        pthread_cond_broadcast(&e->wcond);
        pthread_mutex_unlock(&e->wlock);
        atomic_store(&e->preferred, ew->endpoint);
    }
    json_t *events = json_object_get(res, "events");
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *je = json_array_get(events, i);
        bool del = json_is_string(json_object_get(je, "type")) &&
                   strcmp(json_string_value(json_object_get(je, "type")), "DELETE") == 0;
        struct kvstore_kv kv = {0}, prev = {0};
        wharf_error perr = {0};
        if (parse_kv(json_object_get(je, "kv"), &kv, &perr) < 0) {
            kv_watch_fail(w, -EIO, "watch %s: %s", w->prefix, perr.msg);
            return false;
        }
        json_t *jp = json_object_get(je, "prev_kv");
        if (jp && parse_kv(jp, &prev, &perr) < 0) {
            kvstore_kv_release(&kv);
            kv_watch_fail(w, -EIO, "watch %s: %s", w->prefix, perr.msg);
            return false;
        }
        int64_t rev = kv.mod_revision;
        struct kvstore_event_ref *ev =
            kv_event_new(del ? KVSTORE_EVENT_DELETE : KVSTORE_EVENT_PUT, rev, &kv, &prev);
        kvstore_kv_release(&prev);
        bool ok = kv_watch_push(w, ev);
        kv_event_unref(ev);
        if (!ok)
            return false;
        ew->next_rev = rev + 1;
    }
    return true;
}

static size_t on_watch_data(char *buf, size_t size, size_t n, void *data)
{
    struct kvstore_watch *w = data;
    struct etcd_watch *ew = w->backend;
    struct etcd *e = ETCD(w->store);
    strbuf_add(&ew->line, buf, size * n);
    char *start = ew->line.buf, *nl;
    while ((nl = memchr(start, '\n', ew->line.len - (size_t)(start - ew->line.buf)))) {
        json_t *msg = json_loadb(start, (size_t)(nl - start), 0, NULL);
        bool ok = msg ? on_watch_message(w, e, msg) : true;
        json_decref(msg);
        start = nl + 1;
        if (!ok)
            return 0; /* aborts the transfer */
    }
    size_t rest = ew->line.len - (size_t)(start - ew->line.buf);
    memmove(ew->line.buf, start, rest);
    ew->line.len = rest;
    ew->line.buf[rest] = '\0';
    return size * n;
}

/* Opens the stream on ew->endpoint from ew->next_rev (thread, under wlock). */
static void watch_open(struct etcd *e, struct kvstore_watch *w)
{
    struct etcd_watch *ew = w->backend;
    json_t *cr = json_object();
    json_object_set_new(cr, "key", *w->prefix ? key_json(w->prefix) : b64_json("", 1));
    json_object_set_new(cr, "range_end", w->end ? key_json(w->end) : b64_json("", 1));
    if (ew->next_rev)
        json_object_set_new(cr, "start_revision", rev_json(ew->next_rev));
    json_object_set_new(cr, "prev_kv", json_true());
    json_t *req = json_pack("{s:o}", "create_request", cr);
    free(ew->body);
    ew->body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    strbuf_reset(&ew->line);
    ew->created = false;
    ew->errbuf[0] = '\0';
    _cleanup_free_ char *url = xasprintf("%s/v3/watch", e->urls[ew->endpoint]);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, ew->body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, ew->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(h, CURLOPT_PRIVATE, w);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ew->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    /* A member that vanished without closing the connection. */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    ew->easy = h;
    curl_multi_add_handle(e->multi, h);
}

static void watch_drop_handle(struct etcd *e, struct etcd_watch *ew)
{
    if (!ew->easy)
        return;
    curl_multi_remove_handle(e->multi, ew->easy);
    curl_easy_cleanup(ew->easy);
    ew->easy = NULL;
}

/* A stream ended (thread, under wlock): it is reopened on the next endpoint
 * unless the watcher is finished or nothing has answered for too long. */
static void watch_ended(struct etcd *e, struct kvstore_watch *w, CURLcode rc)
{
    struct etcd_watch *ew = w->backend;
    long status = 0;
    curl_easy_getinfo(ew->easy, CURLINFO_RESPONSE_CODE, &status);
    _cleanup_free_ char *why =
        xstrdup(rc != CURLE_OK ? (ew->errbuf[0] ? ew->errbuf : curl_easy_strerror(rc))
                               : "stream closed by the server");
    watch_drop_handle(e, ew);
    if (kv_watch_finished(w))
        return;
    double now = now_ms();
    if (ew->created || !ew->failing_since)
        ew->failing_since = now;
    if (ew->created)
        ew->failures = 0;
    ew->failures++;
    ew->created = false;
    ew->endpoint = (ew->endpoint + 1) % e->n;
    if (now - ew->failing_since > e->timeout_s * 1000.0) {
        kv_watch_fail(w, -EHOSTUNREACH, "watch %s: no etcd endpoint answered (last: %s: %s)",
                      w->prefix, e->urls[(ew->endpoint + e->n - 1) % e->n], why);
        pthread_cond_broadcast(&e->wcond);
        return;
    }
    /* After a full round of endpoints, pause before the next one. */
    ew->retry_at = ew->failures % e->n == 0 ? now + WATCH_RETRY_MS : now;
}

static void *watch_thread(void *arg)
{
    struct kvstore *s = arg;
    struct etcd *e = ETCD(s);
    pthread_mutex_lock(&e->wlock);
    while (!e->stop) {
        double now = now_ms();
        int timeout = 1000;
        for (struct kvstore_watch *w = e->watchers, *next; w; w = next) {
            next = w->next_link;
            struct etcd_watch *ew = w->backend;
            if (ew->remove) {
                watch_drop_handle(e, ew);
                if (w->prev_link)
                    w->prev_link->next_link = w->next_link;
                else
                    e->watchers = w->next_link;
                if (w->next_link)
                    w->next_link->prev_link = w->prev_link;
                ew->removed = true;
                pthread_cond_broadcast(&e->wcond);
                continue;
            }
            if (ew->easy || kv_watch_finished(w))
                continue;
            if (now >= ew->retry_at)
                watch_open(e, w);
            else if (ew->retry_at - now < timeout)
                timeout = (int)(ew->retry_at - now) + 1;
        }
        pthread_mutex_unlock(&e->wlock);
        curl_multi_poll(e->multi, NULL, 0, timeout, NULL);
        int running = 0;
        curl_multi_perform(e->multi, &running);
        pthread_mutex_lock(&e->wlock);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(e->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct kvstore_watch *w = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&w);
            if (w)
                watch_ended(e, w, m->data.result);
        }
        /* A failed watcher may be waited for by kvstore_watch. */
        pthread_cond_broadcast(&e->wcond);
    }
    for (struct kvstore_watch *w = e->watchers; w; w = w->next_link) {
        struct etcd_watch *ew = w->backend;
        watch_drop_handle(e, ew);
        kv_watch_fail(w, -ESHUTDOWN, "watch of %s: store closed", w->prefix);
        ew->removed = true;
    }
    pthread_cond_broadcast(&e->wcond);
    pthread_mutex_unlock(&e->wlock);
    return NULL;
}

static void watch_state_free(struct kvstore_watch *w)
{
    struct etcd_watch *ew = w->backend;
    if (!ew)
        return;
    curl_slist_free_all(ew->headers);
    free(ew->body);
    strbuf_release(&ew->line);
    free(ew);
    w->backend = NULL;
}

static void etcd_watch_stop(struct kvstore *s, struct kvstore_watch *w)
{
    struct etcd *e = ETCD(s);
    struct etcd_watch *ew = w->backend;
    pthread_mutex_lock(&e->wlock);
    ew->remove = true;
    wake(e);
    while (!ew->removed)
        pthread_cond_wait(&e->wcond, &e->wlock);
    pthread_mutex_unlock(&e->wlock);
    watch_state_free(w);
}

static int etcd_watch_start(struct kvstore *s, struct kvstore_watch *w, wharf_error *err)
{
    struct etcd *e = ETCD(s);
    struct etcd_watch *ew = xcalloc(1, sizeof(*ew));
    ew->headers = curl_slist_append(NULL, "Content-Type: application/json");
    ew->next_rev = w->from;
    ew->endpoint = atomic_load(&e->preferred);
    w->backend = ew;
    pthread_mutex_lock(&e->wlock);
    w->prev_link = NULL;
    w->next_link = e->watchers;
    if (e->watchers)
        e->watchers->prev_link = w;
    e->watchers = w;
    wake(e);
    /* Wait for etcd to accept (or refuse) the watch, so that a compacted
     * start revision is an error of this call, as with SQLite, and events
     * after it returns cannot be missed. */
    while (!ew->ever_created && !kv_watch_finished(w))
        pthread_cond_wait(&e->wcond, &e->wlock);
    pthread_mutex_unlock(&e->wlock);
    if (ew->ever_created)
        return 0;
    pthread_mutex_lock(&w->mu);
    int r = w->error;
    *err = w->failure;
    pthread_mutex_unlock(&w->mu);
    etcd_watch_stop(s, w);
    return r;
}

static int etcd_watch_catch_up(struct kvstore *s, struct kvstore_watch *w, wharf_error *err)
{
    /* etcd replays history itself; nothing is ever pending here. */
    w->catchup_next = w->catchup_to + 1;
    return 0;
}

/* ---------------------------------------------------------------- open/close */

static void etcd_free(struct etcd *e)
{
    if (!e)
        return;
    if (e->thread_running) {
        pthread_mutex_lock(&e->wlock);
        e->stop = true;
        wake(e);
        pthread_mutex_unlock(&e->wlock);
        pthread_join(e->thread, NULL);
    }
    for (struct kvstore_watch *w = e->watchers; w; w = w->next_link)
        watch_state_free(w);
    if (e->multi)
        curl_multi_cleanup(e->multi);
    for (size_t i = 0; i < e->npool; i++)
        curl_easy_cleanup(e->pool[i]);
    free(e->pool);
    for (size_t i = 0; i < e->n; i++)
        free(e->urls[i]);
    free(e->urls);
    pthread_mutex_destroy(&e->pool_lock);
    pthread_mutex_destroy(&e->wlock);
    pthread_cond_destroy(&e->wcond);
    free(e);
}

static void etcd_close(struct kvstore *s)
{
    etcd_free(ETCD(s));
}

int kv_etcd_open(struct kvstore *s, const char *endpoints, wharf_error *err)
{
    struct etcd *e = xcalloc(1, sizeof(*e));
    e->timeout_s = s->opt.request_timeout_s;
    pthread_mutex_init(&e->pool_lock, NULL);
    pthread_mutex_init(&e->wlock, NULL);
    pthread_cond_init(&e->wcond, NULL);
    _cleanup_free_ char *copy = xstrdup(endpoints);
    char *save = NULL;
    int r = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == '/')
            tok[--len] = '\0';
        const char *hp = strncmp(tok, "http://", 7) == 0 ? tok + 7 : NULL;
        if (!hp || !*hp || strchr(hp, '/') || !strchr(hp, ':')) {
            r = wharf_error_set(err, -EINVAL,
                                "datastore endpoint %s: want http://HOST:PORT for each etcd member "
                                "(https is not supported)",
                                tok);
            break;
        }
        e->urls = xrealloc(e->urls, (e->n + 1) * sizeof(*e->urls));
        e->urls[e->n++] = xstrdup(tok);
    }
    if (r == 0 && e->n == 0)
        r = wharf_error_set(err, -EINVAL, "datastore endpoint %s: no etcd member", endpoints);
    if (r < 0) {
        etcd_free(e);
        return r;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e->multi = curl_multi_init();
    s->backend = e;
    if (!e->multi || pthread_create(&e->thread, NULL, watch_thread, s) != 0) {
        etcd_free(e);
        s->backend = NULL;
        return wharf_error_set(err, -EAGAIN, "etcd %s: cannot start the watch thread", endpoints);
    }
    e->thread_running = true;
    return 0;
}

const struct kvstore_ops kv_etcd_ops = {
    .name = "etcd",
    .close = etcd_close,
    .get = etcd_get,
    .list = etcd_list,
    .current_revision = etcd_current_revision,
    .create = etcd_create,
    .update = etcd_update,
    .del = etcd_delete,
    .compact = etcd_compact,
    .watch_start = etcd_watch_start,
    .watch_catch_up = etcd_watch_catch_up,
    .watch_stop = etcd_watch_stop,
};
