/*
 * pull.c — a reference into the image store.
 *
 * Resolving stores nothing: the manifest (through an index to the entry for
 * the platform) and the config are fetched into memory and checked against
 * their digests and sizes. Fetching then stores the config and manifest
 * blobs, downloads the missing layer blobs a few at a time on one curl
 * multi handle (each streamed through the store's hashing writer, cut off
 * as soon as it exceeds its announced size, and kept only when its digest
 * matches) while worker threads unpack each layer whose blob is there, and
 * commits the image: its record and tag appear at the end or not at all.
 */
#include "transport.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define ACCEPT_MANIFESTS                                                                           \
    MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST
#define MAX_CONFIG (8u << 20)

struct registry_pull {
    const struct registry_options *opts;
    image_ref ref;
    char *reference; /* full normalised reference */
    char *familiar;  /* as Docker shows it */
    char *repo_name; /* familiar repository, for "repository ... not found" */
    char *scope;
    struct registry_platform platform;
    bool platform_given;
    struct reg_client *client;
    char digest[72];          /* what the reference resolved to */
    char manifest_digest[72]; /* the image manifest */
    strbuf manifest_raw;
    json_t *manifest;
    char config_digest[72];
    strbuf config_raw;
};

static void pull_progress(registry_pull *p, enum registry_event ev, const char *digest,
                          uint64_t current, uint64_t total)
{
    if (!p->opts || !p->opts->progress)
        return;
    struct registry_progress pr = {ev, digest, current, total, NULL};
    p->opts->progress(&pr, p->opts->progress_ctx);
}

const char *registry_pull_reference(const registry_pull *p)
{
    return p->reference;
}

const char *registry_pull_path(const registry_pull *p)
{
    return p->ref.path;
}

const char *registry_pull_tag(const registry_pull *p)
{
    return p->ref.digest ? p->ref.digest : p->ref.tag;
}

const char *registry_pull_digest(const registry_pull *p)
{
    return p->digest;
}

/* The layer descriptors of the chosen manifest (borrowed). */
static json_t *registry_pull_layers(const registry_pull *p)
{
    return json_object_get(p->manifest, "layers");
}

void registry_pull_free(registry_pull *p)
{
    if (!p)
        return;
    image_ref_free(&p->ref);
    free(p->reference);
    free(p->familiar);
    free(p->repo_name);
    free(p->scope);
    reg_client_free(p->client);
    strbuf_release(&p->manifest_raw);
    json_decref(p->manifest);
    strbuf_release(&p->config_raw);
    free(p);
}

/* ---------------------------------------------------------------- resolving */

/* The error of a failed manifest or blob GET, in Docker's words. */
static int fetch_error(registry_pull *p, struct reg_response *resp, const char *what,
                       wharf_error *err)
{
    _cleanup_strbuf_ strbuf text = STRBUF_INIT;
    reg_error_text(resp, &text);
    _cleanup_json_ json_t *doc = NULL;
    const char *code = reg_error_code(resp, &doc);
    if (resp->status == 401 || resp->status == 403) {
        if (p->client->scheme == REG_AUTH_BASIC && !p->client->user)
            return wharf_error_set(err, -EACCES, "Get \"%s\": no basic auth credentials",
                                   resp->url);
        return wharf_error_set(err, -EACCES,
                               "pull access denied for %s, repository does not exist or may "
                               "require 'docker login': %s",
                               p->repo_name, text.buf);
    }
    if (resp->status == 404 && code && strcmp(code, "NAME_UNKNOWN") == 0)
        return wharf_error_set(err, -ENOENT, "repository %s not found: %s", p->repo_name, text.buf);
    if (resp->status == 404 && !what)
        return wharf_error_set(err, -ENOENT, "manifest for %s not found: %s", p->familiar,
                               text.buf);
    if (resp->status == 404)
        return wharf_error_set(err, -ENOENT, "%s: %s %s: %s", p->familiar, what, "not found",
                               text.buf);
    return wharf_error_set(err, -EPROTO, "%s: %s%s%s", p->familiar, what ? what : "",
                           what ? ": " : "", text.buf);
}

/* Checks body against expected digest/size (either may be absent) and the
 * registry's Docker-Content-Digest; writes the digest to out. */
static int check_content(registry_pull *p, const char *what, const strbuf *body,
                         const char *expected, int64_t size, const char *header_digest,
                         char out[72], wharf_error *err)
{
    image_digest_buf(body->buf ? body->buf : "", body->len, out);
    if (expected && strcmp(expected, out) != 0)
        return wharf_error_set(err, -EILSEQ, "%s: %s %s: digest mismatch (content is %s)",
                               p->familiar, what, expected, out);
    if (!expected && header_digest && strncmp(header_digest, "sha256:", 7) == 0 &&
        strcmp(header_digest, out) != 0)
        return wharf_error_set(err, -EILSEQ,
                               "%s: %s: the registry says its digest is %s, the content is %s",
                               p->familiar, what, header_digest, out);
    if (size >= 0 && (uint64_t)size != body->len)
        return wharf_error_set(err, -EILSEQ, "%s: %s %s: %zu bytes, expected %lld", p->familiar,
                               what, out, body->len, (long long)size);
    return 0;
}

/* GET a manifest by tag or digest into raw/doc; *mt gets its media type. */
static int get_manifest(registry_pull *p, const char *reference, const char *expected, int64_t size,
                        strbuf *raw, json_t **doc, char **mt, char digest[72], wharf_error *err)
{
    _cleanup_free_ char *url = xasprintf("/v2/%s/manifests/%s", p->ref.path, reference);
    struct reg_request q = {.method = "GET",
                            .url = url,
                            .scope = p->scope,
                            .accept = ACCEPT_MANIFESTS,
                            .body_fd = -1,
                            .max_response = REG_MAX_MANIFEST};
    struct reg_response resp = REG_RESPONSE_INIT;
    int r = reg_do(p->client, &q, &resp, err);
    if (r == -EFBIG)
        r = wharf_error_set(err, -EFBIG, "%s: manifest larger than %u bytes", p->familiar,
                            REG_MAX_MANIFEST);
    if (r == 0 && resp.status != 200)
        r = fetch_error(p, &resp, expected ? "manifest" : NULL, err);
    if (r == 0)
        r = check_content(p, "manifest", &resp.body, expected, size, resp.digest, digest, err);
    if (r == 0)
        r = reg_manifest_parse(p->familiar, digest, resp.body.buf, resp.body.len, resp.content_type,
                               doc, mt, err);
    if (r == 0) {
        strbuf_release(raw);
        *raw = resp.body;
        resp.body = (strbuf)STRBUF_INIT;
    }
    reg_response_release(&resp);
    return r;
}

static int get_config(registry_pull *p, wharf_error *err)
{
    json_t *desc = json_object_get(p->manifest, "config");
    const char *digest = json_string_value(json_object_get(desc, "digest"));
    int64_t size = json_integer_value(json_object_get(desc, "size"));
    if (size > (int64_t)MAX_CONFIG)
        return wharf_error_set(err, -EFBIG, "%s: config %s: %lld bytes is more than %u",
                               p->familiar, digest, (long long)size, MAX_CONFIG);
    _cleanup_free_ char *url = xasprintf("/v2/%s/blobs/%s", p->ref.path, digest);
    struct reg_request q = {
        .method = "GET", .url = url, .scope = p->scope, .body_fd = -1, .max_response = MAX_CONFIG};
    struct reg_response resp = REG_RESPONSE_INIT;
    int r = reg_do(p->client, &q, &resp, err);
    if (r == 0 && resp.status != 200)
        r = fetch_error(p, &resp, "config", err);
    if (r == 0)
        r = check_content(p, "config", &resp.body, digest, size, NULL, p->config_digest, err);
    _cleanup_json_ json_t *cfg = NULL;
    if (r == 0) {
        cfg = json_loadb(strbuf_str(&resp.body), resp.body.len, 0, NULL);
        json_t *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
        if (!json_is_object(cfg) || !json_is_array(diffs))
            r = wharf_error_set(err, -EINVAL,
                                "%s: malformed image config %s: no rootfs.diff_ids array",
                                p->familiar, digest);
        else if (json_array_size(diffs) != json_array_size(json_object_get(p->manifest, "layers")))
            r = wharf_error_set(err, -EINVAL,
                                "%s: malformed image: the manifest has %zu layers, the config "
                                "%zu diff_ids",
                                p->familiar,
                                json_array_size(json_object_get(p->manifest, "layers")),
                                json_array_size(diffs));
    }
    if (r == 0 && p->platform_given) {
        const char *os = json_string_value(json_object_get(cfg, "os"));
        const char *arch = json_string_value(json_object_get(cfg, "architecture"));
        const char *variant = json_string_value(json_object_get(cfg, "variant"));
        if (os && arch && !registry_platform_match(&p->platform, os, arch, variant)) {
            char want[96];
            r = wharf_error_set(err, -ENOENT,
                                "image with reference %s was found but does not match the "
                                "specified platform: wanted %s, actual: %s/%s%s%s",
                                p->familiar,
                                registry_platform_format(&p->platform, want, sizeof(want)), os,
                                arch, variant ? "/" : "", variant ? variant : "");
        }
    }
    if (r == 0) {
        p->config_raw = resp.body;
        resp.body = (strbuf)STRBUF_INIT;
    }
    reg_response_release(&resp);
    return r;
}

/* Everything at one endpoint (the registry, or a mirror). */
static int resolve_at(registry_pull *p, const char *mirror, wharf_error *err)
{
    reg_client_free(p->client);
    p->client = reg_client_new(p->ref.domain, mirror, p->opts, err);
    if (!p->client)
        return err->code;
    int r = reg_probe(p->client, err);
    if (r < 0)
        return wharf_error_prefix(err, "%s", p->familiar);
    strbuf raw = STRBUF_INIT;
    json_t *doc = NULL;
    _cleanup_free_ char *mt = NULL;
    const char *reference = p->ref.digest ? p->ref.digest : p->ref.tag;
    r = get_manifest(p, reference, p->ref.digest, -1, &raw, &doc, &mt, p->digest, err);
    if (r == 0 && reg_is_index(mt, doc)) {
        json_t *entry = reg_pick_platform(p->familiar, &p->platform, doc, p->digest, err);
        if (!entry) {
            r = err->code;
        } else {
            _cleanup_free_ char *d = xstrdup(json_string_value(json_object_get(entry, "digest")));
            int64_t size = json_integer_value(json_object_get(entry, "size"));
            json_t *child = NULL;
            _cleanup_free_ char *cmt = NULL;
            r = get_manifest(p, d, d, size, &raw, &child, &cmt, p->manifest_digest, err);
            json_decref(doc);
            doc = child;
            if (r == 0 && reg_is_index(cmt, doc))
                r = wharf_error_set(err, -ENOTSUP, "%s: index %s: nested indexes are not supported",
                                    p->familiar, d);
        }
    } else if (r == 0) {
        memcpy(p->manifest_digest, p->digest, 72);
    }
    if (r == 0)
        r = reg_check_image_manifest(p->familiar, doc, p->manifest_digest, err);
    if (r == 0) {
        json_decref(p->manifest);
        p->manifest = steal_ptr(doc);
        strbuf_release(&p->manifest_raw);
        p->manifest_raw = raw;
        raw = (strbuf)STRBUF_INIT;
        strbuf_release(&p->config_raw);
        r = get_config(p, err);
    }
    json_decref(doc);
    strbuf_release(&raw);
    return r;
}

registry_pull *registry_pull_resolve(const char *ref, const char *platform,
                                     const struct registry_options *opts, wharf_error *err)
{
    registry_pull *p = xcalloc(1, sizeof(*p));
    p->opts = opts;
    if (image_ref_parse(ref, &p->ref, err) < 0) {
        free(p);
        return NULL;
    }
    p->reference = image_ref_full(&p->ref);
    p->familiar = image_ref_familiar(&p->ref);
    image_ref repo = {p->ref.domain, p->ref.path, NULL, NULL};
    p->repo_name = image_ref_familiar(&repo);
    p->scope = xasprintf("repository:%s:pull", p->ref.path);
    if (platform && *platform) {
        p->platform_given = true;
        if (registry_platform_parse(platform, &p->platform, err) < 0) {
            registry_pull_free(p);
            return NULL;
        }
    } else {
        registry_platform_host(&p->platform);
    }
    /* docker.io pulls try the mirrors first; the registry's answer is the
     * one reported when they all fail */
    bool hub = strcmp(p->ref.domain, "docker.io") == 0;
    for (size_t i = 0; hub && opts && i < opts->n_mirrors; i++) {
        wharf_error merr = {0};
        if (resolve_at(p, opts->mirrors[i], &merr) == 0)
            return p;
        wlog_debug("mirror %s: %s", opts->mirrors[i], merr.msg);
    }
    if (resolve_at(p, NULL, err) < 0) {
        registry_pull_free(p);
        return NULL;
    }
    return p;
}

/* ---------------------------------------------------------------- downloads */

struct download {
    registry_pull *p;
    const char *digest;
    uint64_t size;
    CURL *h;
    struct curl_slist *hdr;
    image_blob_writer *w;
    image_store *store;
    long status;
    strbuf errbody;
    bool too_big, write_failed;
    wharf_error werr;
    double last_report;
    int tries;
};

static size_t dl_write(char *buf, size_t size, size_t n, void *ud)
{
    struct download *d = ud;
    size_t len = size * n;
    if (!d->status)
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status != 200) {
        if (d->errbody.len < 65536)
            strbuf_add(&d->errbody, buf, len);
        return len;
    }
    if (image_blob_size(d->w) + len > d->size) {
        d->too_big = true;
        return 0;
    }
    if (image_blob_write(d->w, buf, len, &d->werr) < 0) {
        d->write_failed = true;
        return 0;
    }
    double now = wharf_now_ms();
    if (now - d->last_report >= 100) {
        d->last_report = now;
        pull_progress(d->p, REGISTRY_LAYER_DOWNLOADING, d->digest, image_blob_size(d->w), d->size);
    }
    return len;
}

static int dl_start(struct download *d, CURLM *multi, wharf_error *err)
{
    registry_pull *p = d->p;
    int rc = 0;
    _cleanup_free_ char *auth = reg_auth_line(p->client, p->scope, &rc, err);
    if (rc < 0)
        return rc;
    d->w = image_store_blob_create(d->store, err);
    if (!d->w)
        return err->code;
    d->status = 0;
    d->too_big = d->write_failed = false;
    strbuf_reset(&d->errbody);
    d->h = curl_easy_init();
    if (!d->h)
        return wharf_error_set(err, -ENOMEM, "cannot initialise libcurl");
    reg_setup_easy(p->client, d->h);
    _cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", p->ref.path, d->digest);
    _cleanup_free_ char *url = reg_url(p->client, path);
    curl_easy_setopt(d->h, CURLOPT_URL, url);
    curl_easy_setopt(d->h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(d->h, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(d->h, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(d->h, CURLOPT_PRIVATE, d);
    d->hdr = NULL;
    if (auth)
        d->hdr = curl_slist_append(d->hdr, auth);
    curl_easy_setopt(d->h, CURLOPT_HTTPHEADER, d->hdr);
    if (curl_multi_add_handle(multi, d->h) != CURLM_OK)
        return wharf_error_set(err, -ENOMEM, "cannot start the download of %s", d->digest);
    pull_progress(p, REGISTRY_LAYER_DOWNLOADING, d->digest, 0, d->size);
    return 0;
}

static void dl_stop(struct download *d, CURLM *multi)
{
    if (d->h) {
        curl_multi_remove_handle(multi, d->h);
        curl_easy_cleanup(d->h);
        d->h = NULL;
    }
    curl_slist_free_all(d->hdr);
    d->hdr = NULL;
    image_blob_abort(d->w);
    d->w = NULL;
}

/* A finished transfer: 1 to restart it (a refused token), 0 when stored,
 * negative on failure. */
static int dl_finish(struct download *d, CURLM *multi, CURLcode result, wharf_error *err)
{
    registry_pull *p = d->p;
    if (!d->status)
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
    _cleanup_free_ char *url = NULL;
    char *u = NULL;
    curl_easy_getinfo(d->h, CURLINFO_EFFECTIVE_URL, &u);
    url = xstrdup(u ? u : "");
    uint64_t got = image_blob_size(d->w);
    image_blob_writer *w = steal_ptr(d->w);
    dl_stop(d, multi);
    int r = 0;
    if (d->too_big)
        r = wharf_error_set(err, -EILSEQ,
                            "%s: layer %s: the registry sent more than the %llu bytes the "
                            "manifest says",
                            p->familiar, d->digest, (unsigned long long)d->size);
    else if (d->write_failed)
        r = wharf_error_set(err, d->werr.code, "%s: layer %s: %s", p->familiar, d->digest,
                            d->werr.msg);
    else if (result != CURLE_OK)
        r = wharf_error_set(err, -EHOSTUNREACH, "%s: layer %s: Get \"%s\": %s", p->familiar,
                            d->digest, url, curl_easy_strerror(result));
    else if (d->status == 401 && d->tries++ == 0) {
        image_blob_abort(w);
        reg_forget_token(p->client, p->scope);
        return 1;
    } else if (d->status != 200) {
        struct reg_response resp = REG_RESPONSE_INIT;
        resp.status = d->status;
        resp.body = d->errbody;
        d->errbody = (strbuf)STRBUF_INIT;
        resp.url = xstrdup(url);
        _cleanup_free_ char *what = xasprintf("layer %s", d->digest);
        r = fetch_error(p, &resp, what, err);
        reg_response_release(&resp);
    } else if (got != d->size) {
        r = wharf_error_set(
            err, -EILSEQ, "%s: layer %s: the registry sent %llu bytes, the manifest says %llu",
            p->familiar, d->digest, (unsigned long long)got, (unsigned long long)d->size);
    }
    if (r < 0) {
        image_blob_abort(w);
        return r;
    }
    pull_progress(p, REGISTRY_LAYER_DOWNLOADING, d->digest, got, d->size);
    pull_progress(p, REGISTRY_LAYER_VERIFYING, d->digest, got, d->size);
    if ((r = image_blob_commit(w, d->digest, NULL, err)) < 0) {
        /* the store names the blob already: "blob <digest>: ..." */
        _cleanup_free_ char *blob = xasprintf("blob %s: ", d->digest);
        const char *cause =
            strncmp(err->msg, blob, strlen(blob)) == 0 ? err->msg + strlen(blob) : err->msg;
        _cleanup_free_ char *msg = xstrdup(cause);
        return wharf_error_set(err, r, "%s: layer %s: %s", p->familiar, d->digest, msg);
    }
    pull_progress(p, REGISTRY_LAYER_DOWNLOADED, d->digest, got, d->size);
    return 0;
}

/* ---------------------------------------------------------------- unpacking */

/*
 * Layers are unpacked by worker threads as soon as their blobs are stored,
 * while the other downloads go on: each snapshot is a layer alone (overlay
 * stacks them), so the order does not matter. Workers only unpack; what
 * they did goes back to the transfer loop (woken with curl_multi_wakeup),
 * which reports progress on the caller's thread.
 */
struct unpacker {
    image_store *store;
    const char *manifest; /* digest */
    CURLM *multi;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t *queue; /* layer indices waiting */
    size_t qhead, qtail;
    bool closing;
    struct unpacked {
        size_t index;
        bool unpacked;
        int rc;
        char msg[1024];
    } *results;
    size_t nresults, ntaken; /* results written / read by the loop */
    pthread_t threads[4];
    size_t nthreads;
};

static void *unpack_worker(void *arg)
{
    struct unpacker *u = arg;
    for (;;) {
        pthread_mutex_lock(&u->lock);
        while (u->qhead == u->qtail && !u->closing)
            pthread_cond_wait(&u->cond, &u->lock);
        if (u->qhead == u->qtail) {
            pthread_mutex_unlock(&u->lock);
            return NULL;
        }
        size_t index = u->queue[u->qhead++];
        pthread_mutex_unlock(&u->lock);
        wharf_error err = {0};
        bool unpacked = false;
        int rc = image_store_unpack_layer(u->store, u->manifest, index, &unpacked, &err);
        pthread_mutex_lock(&u->lock);
        struct unpacked *res = &u->results[u->nresults++];
        res->index = index;
        res->unpacked = unpacked;
        res->rc = rc;
        snprintf(res->msg, sizeof(res->msg), "%s", err.msg);
        pthread_mutex_unlock(&u->lock);
        curl_multi_wakeup(u->multi);
    }
}

/* n layers; returns false when no thread could be started (the commit
 * then unpacks what is left). */
static bool unpacker_start(struct unpacker *u, image_store *store, const char *manifest,
                           CURLM *multi, size_t n)
{
    memset(u, 0, sizeof(*u));
    u->store = store;
    u->manifest = manifest;
    u->multi = multi;
    u->queue = xcalloc(n ? n : 1, sizeof(*u->queue));
    u->results = xcalloc(n ? n : 1, sizeof(*u->results));
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1 ? 1 : cpus > 4 ? 4 : (size_t)cpus;
    if (want > n)
        want = n;
    for (size_t i = 0; i < want; i++)
        if (pthread_create(&u->threads[u->nthreads], NULL, unpack_worker, u) == 0)
            u->nthreads++;
    return u->nthreads > 0;
}

static void unpacker_add(struct unpacker *u, size_t index)
{
    pthread_mutex_lock(&u->lock);
    u->queue[u->qtail++] = index;
    pthread_cond_signal(&u->cond);
    pthread_mutex_unlock(&u->lock);
}

/* Stops the workers once the queue is done (abandon: drop what waits). */
static void unpacker_stop(struct unpacker *u, bool abandon)
{
    pthread_mutex_lock(&u->lock);
    u->closing = true;
    if (abandon)
        u->qhead = u->qtail;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
    for (size_t i = 0; i < u->nthreads; i++)
        pthread_join(u->threads[i], NULL);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    free(u->queue);
    free(u->results);
}

struct transfer_state {
    registry_pull *p;
    json_t *fetched; /* digests downloaded now */
    struct unpacker unpack;
    bool unpacking; /* workers running */
    size_t queued;  /* layers handed to them */
};

/* The layers whose blob is digest, to the workers. */
static void queue_layers_of(struct transfer_state *t, const char *digest)
{
    if (!t->unpacking)
        return;
    json_t *layers = registry_pull_layers(t->p);
    for (size_t i = 0; i < json_array_size(layers); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(layers, i), "digest")),
                   digest) == 0) {
            unpacker_add(&t->unpack, i);
            t->queued++;
        }
}

/* What the workers finished: progress, or the first failure. */
static int take_unpacked(struct transfer_state *t, size_t *taken, wharf_error *err)
{
    struct unpacker *u = &t->unpack;
    int r = 0;
    for (;;) {
        pthread_mutex_lock(&u->lock);
        if (u->ntaken == u->nresults) {
            pthread_mutex_unlock(&u->lock);
            return r;
        }
        struct unpacked res = u->results[u->ntaken++];
        pthread_mutex_unlock(&u->lock);
        (*taken)++;
        json_t *l = json_array_get(registry_pull_layers(t->p), res.index);
        const char *digest = json_string_value(json_object_get(l, "digest"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(l, "size"));
        if (res.rc < 0) {
            if (r == 0)
                r = wharf_error_set(err, res.rc, "%s: %s", t->p->familiar, res.msg);
            continue;
        }
        if (res.unpacked)
            pull_progress(t->p, REGISTRY_LAYER_EXTRACTING, digest, size, size);
        if (res.unpacked || json_object_get(t->fetched, digest))
            pull_progress(t->p, REGISTRY_LAYER_COMPLETE, digest, size, size);
    }
}

/* Downloads dls (n of them), unpacking every layer as its blob is there:
 * those stored before first. */
static int transfer_all(struct transfer_state *t, image_store *store, struct download *dls,
                        size_t n, wharf_error *err)
{
    registry_pull *p = t->p;
    CURLM *multi = curl_multi_init();
    if (!multi)
        return wharf_error_set(err, -ENOMEM, "cannot initialise libcurl");
    json_t *layers = registry_pull_layers(p);
    t->unpacking = unpacker_start(&t->unpack, store, p->manifest_digest, multi,
                                  json_array_size(layers));
    for (size_t i = 0; i < json_array_size(layers); i++) {
        const char *digest = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
        if (!json_object_get(t->fetched, digest) && t->unpacking) {
            unpacker_add(&t->unpack, i);
            t->queued++;
        }
    }
    unsigned parallel = p->opts && p->opts->parallel ? p->opts->parallel : 3;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
    size_t next = 0, active = 0, done = 0, taken = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        dls[i].p = p;
        dls[i].store = store;
    }
    while (r == 0 && (done < n || taken < t->queued)) {
        while (r == 0 && active < parallel && next < n) {
            r = dl_start(&dls[next++], multi, err);
            active++;
        }
        if (r < 0)
            break;
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            r = wharf_error_set(err, -EIO, "%s: downloads failed", p->familiar);
            break;
        }
        CURLMsg *msg;
        int queued;
        while (r == 0 && (msg = curl_multi_info_read(multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct download *d = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
            active--;
            int f = dl_finish(d, multi, msg->data.result, err);
            if (f == 1) {
                r = dl_start(d, multi, err);
                active++;
            } else if (f < 0) {
                r = f;
            } else {
                done++;
                queue_layers_of(t, d->digest);
            }
        }
        if (r == 0 && t->unpacking)
            r = take_unpacked(t, &taken, err);
        if (r == 0 && (done < n || taken < t->queued))
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        dl_stop(&dls[i], multi);
        strbuf_release(&dls[i].errbody);
    }
    if (t->unpacking)
        unpacker_stop(&t->unpack, r < 0);
    curl_multi_cleanup(multi);
    return r;
}

/* ---------------------------------------------------------------- fetching */

/* Layers the workers did not unpack (none could start) are unpacked by the
 * commit: their progress from there. */
static void on_layer(size_t i, const char *digest, bool unpacked, void *ud)
{
    struct transfer_state *t = ud;
    json_t *l = json_array_get(registry_pull_layers(t->p), i);
    uint64_t size = (uint64_t)json_integer_value(json_object_get(l, "size"));
    if (unpacked) {
        pull_progress(t->p, REGISTRY_LAYER_EXTRACTING, digest, size, size);
        pull_progress(t->p, REGISTRY_LAYER_COMPLETE, digest, size, size);
    }
}

int registry_pull_fetch(registry_pull *p, image_store *store, struct registry_pull_result *out,
                        wharf_error *err)
{
    _cleanup_close_ int hold = image_store_hold(store, err);
    if (hold < 0)
        return hold;
    /* what the reference named before, for "Image is up to date" */
    char before[72] = "";
    wharf_error e = {0};
    if (image_store_resolve(store, p->reference, before, &e) < 0)
        before[0] = '\0';
    char d[72];
    int r = image_store_put_blob_buf(store, p->config_raw.buf, p->config_raw.len, d, err);
    if (r == 0)
        r = image_store_put_blob_buf(store, p->manifest_raw.buf, p->manifest_raw.len, d, err);
    if (r < 0)
        return wharf_error_prefix(err, "%s", p->familiar);
    /* an image we have already: Docker says nothing about its layers */
    char known[72];
    bool have_image = image_store_resolve(store, p->config_digest, known, &e) == 0;
    json_t *layers = registry_pull_layers(p);
    size_t n = json_array_size(layers);
    struct download *dls = xcalloc(n ? n : 1, sizeof(*dls));
    size_t ndl = 0;
    struct transfer_state t = {.p = p, .fetched = json_object()};
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(layers, i);
        const char *digest = json_string_value(json_object_get(l, "digest"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(l, "size"));
        if (json_object_get(t.fetched, digest))
            continue;
        if (image_store_has_blob(store, digest)) {
            if (!have_image)
                pull_progress(p, REGISTRY_LAYER_EXISTS, digest, size, size);
            continue;
        }
        json_object_set_new(t.fetched, digest, json_true());
        dls[ndl].digest = digest;
        dls[ndl].size = size;
        ndl++;
        pull_progress(p, REGISTRY_LAYER_WAITING, digest, 0, size);
    }
    r = transfer_all(&t, store, dls, ndl, err);
    free(dls);
    if (r == 0) {
        const char *tags[1] = {p->reference};
        _cleanup_free_ char *repo_digest =
            xasprintf("%s/%s@%s", p->ref.domain, p->ref.path, p->digest);
        char id[72];
        r = image_store_commit_manifest(store, p->manifest_digest, tags, p->ref.digest ? 0 : 1,
                                        repo_digest, on_layer, &t, id, err);
        if (r < 0)
            wharf_error_prefix(err, "%s", p->familiar);
        else if (out) {
            memcpy(out->id, id, 72);
            memcpy(out->digest, p->digest, 72);
            out->updated = strcmp(before, id) != 0;
        }
    }
    json_decref(t.fetched);
    return r;
}

int registry_pull_image(image_store *store, const char *ref, const char *platform,
                        const struct registry_options *opts, struct registry_pull_result *out,
                        wharf_error *err)
{
    registry_pull *p = registry_pull_resolve(ref, platform, opts, err);
    if (!p)
        return err->code;
    int r = registry_pull_fetch(p, store, out, err);
    registry_pull_free(p);
    return r;
}
