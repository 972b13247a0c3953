/*
 * push.c — an image of the store into a registry.
 *
 * Blobs first (layers, then the config), each by the cheapest way that
 * works: already there (HEAD), mounted from another repository of the same
 * registry that the image is known to be in (its repository digests:
 * where it was pulled from or pushed to before), or uploaded — in one PUT,
 * or for big blobs as PATCH chunks closed by a PUT. The manifest goes last,
 * byte for byte as stored, so its digest is the one the store knows.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_CHUNK (32ull << 20)

struct pusher {
    const struct registry_options *opts;
    struct reg_client *client;
    const char *path;     /* repository path in the registry */
    const char *familiar; /* the reference as Docker shows it */
    char *scope;
    json_t *sources; /* other repositories of this registry holding the image */
    /* progress of the blob being uploaded */
    const char *digest;
    uint64_t size, base;
    double last_report;
};

static void push_progress(struct pusher *p, enum registry_event ev, const char *digest,
                          uint64_t current, uint64_t total, const char *from)
{
    if (!p->opts || !p->opts->progress)
        return;
    struct registry_progress pr = {ev, digest, current, total, from};
    p->opts->progress(&pr, p->opts->progress_ctx);
}

static void on_sent(uint64_t sent, void *ctx)
{
    struct pusher *p = ctx;
    double now = wharf_now_ms();
    if (now - p->last_report < 100 && p->base + sent < p->size)
        return;
    p->last_report = now;
    push_progress(p, REGISTRY_LAYER_PUSHING, p->digest, p->base + sent, p->size, NULL);
}

/* The error of a failed push request: Docker shows the registry's text. */
static int push_error(struct pusher *p, struct reg_response *resp, const char *what,
                      wharf_error *err)
{
    _cleanup_strbuf_ strbuf text = STRBUF_INIT;
    reg_error_text(resp, &text);
    if (resp->status == 401 && p->client->scheme == REG_AUTH_BASIC && !p->client->user)
        return wharf_error_set(err, -EACCES, "%s \"%s\": no basic auth credentials",
                               resp->url ? "Post" : "Request", resp->url ? resp->url : "");
    if (resp->status == 401 || resp->status == 403)
        return wharf_error_set(err, -EACCES, "%s", text.buf);
    return wharf_error_set(err, -EPROTO, "%s: %s: %s", p->familiar, what, text.buf);
}

/* The upload session URL from a 202 answer's Location. */
static int session_location(struct pusher *p, struct reg_response *resp, char **loc,
                            wharf_error *err)
{
    if (!resp->location || !*resp->location)
        return wharf_error_set(err, -EPROTO,
                               "%s: the registry started an upload without a "
                               "Location",
                               p->familiar);
    free(*loc);
    *loc = reg_url(p->client, resp->location);
    return 0;
}

static char *with_query(const char *url, const char *key, const char *value)
{
    _cleanup_free_ char *v = reg_escape(value);
    return xasprintf("%s%c%s=%s", url, strchr(url, '?') ? '&' : '?', key, v);
}

static int upload(struct pusher *p, const char *digest, uint64_t size, int fd, char *loc,
                  wharf_error *err)
{
    _cleanup_free_ char *session = loc;
    uint64_t chunk = p->opts && p->opts->chunk_size ? p->opts->chunk_size : DEFAULT_CHUNK;
    p->digest = digest;
    p->size = size;
    p->base = 0;
    p->last_report = 0;
    push_progress(p, REGISTRY_LAYER_PUSHING, digest, 0, size, NULL);
    int r = 0;
    if (size > chunk) {
        for (uint64_t off = 0; r == 0 && off < size; off += chunk) {
            uint64_t n = size - off < chunk ? size - off : chunk;
            _cleanup_free_ char *range =
                xasprintf("Content-Range: %llu-%llu", (unsigned long long)off,
                          (unsigned long long)(off + n - 1));
            struct reg_request q = {.method = "PATCH",
                                    .url = session,
                                    .scope = p->scope,
                                    .content_type = "application/octet-stream",
                                    .header = range,
                                    .body_fd = fd,
                                    .body_off = off,
                                    .body_size = n,
                                    .on_sent = on_sent,
                                    .ctx = p};
            p->base = off;
            struct reg_response resp = REG_RESPONSE_INIT;
            r = reg_do(p->client, &q, &resp, err);
            if (r == 0 && resp.status != 202)
                r = push_error(p, &resp, "blob upload", err);
            if (r == 0)
                r = session_location(p, &resp, &session, err);
            reg_response_release(&resp);
        }
        if (r < 0)
            return r;
        p->base = size;
    }
    _cleanup_free_ char *url = with_query(session, "digest", digest);
    bool monolithic = size <= chunk;
    struct reg_request q = {.method = "PUT",
                            .url = url,
                            .scope = p->scope,
                            .content_type = "application/octet-stream",
                            .body_fd = monolithic ? fd : -1,
                            .body_size = monolithic ? size : 0,
                            .on_sent = on_sent,
                            .ctx = p};
    struct reg_response resp = REG_RESPONSE_INIT;
    r = reg_do(p->client, &q, &resp, err);
    if (r == 0 && resp.status != 201 && resp.status != 204)
        r = push_error(p, &resp, "blob upload", err);
    if (r == 0 && resp.digest && strcmp(resp.digest, digest) != 0)
        r = wharf_error_set(err, -EILSEQ, "%s: blob %s: the registry stored it as %s", p->familiar,
                            digest, resp.digest);
    reg_response_release(&resp);
    return r;
}

static int push_blob(struct pusher *p, image_store *store, const char *digest, uint64_t size,
                     wharf_error *err)
{
    push_progress(p, REGISTRY_LAYER_PREPARING, digest, 0, size, NULL);
    _cleanup_free_ char *head_url = xasprintf("/v2/%s/blobs/%s", p->path, digest);
    struct reg_request head = {.method = "HEAD", .url = head_url, .scope = p->scope, .body_fd = -1};
    struct reg_response resp = REG_RESPONSE_INIT;
    int r = reg_do(p->client, &head, &resp, err);
    if (r == 0 && resp.status == 200) {
        reg_response_release(&resp);
        push_progress(p, REGISTRY_LAYER_PRESENT, digest, size, size, NULL);
        return 0;
    }
    if (r == 0 && resp.status != 404)
        r = push_error(p, &resp, "blob check", err);
    reg_response_release(&resp);
    if (r < 0)
        return r;
    char *session = NULL;
    _cleanup_free_ char *start = xasprintf("/v2/%s/blobs/uploads/", p->path);
    size_t i;
    json_t *src;
    json_array_foreach(p->sources, i, src)
    {
        _cleanup_free_ char *u1 = with_query(start, "mount", digest);
        _cleanup_free_ char *url = with_query(u1, "from", json_string_value(src));
        struct reg_request q = {.method = "POST", .url = url, .scope = p->scope, .body_fd = -1};
        r = reg_do(p->client, &q, &resp, err);
        if (r == 0 && resp.status == 201) {
            reg_response_release(&resp);
            push_progress(p, REGISTRY_LAYER_MOUNTED, digest, size, size, json_string_value(src));
            return 0;
        }
        if (r == 0 && resp.status == 202 && resp.location) {
            /* not mounted: the registry opened an upload instead; close
             * it and try the next source */
            _cleanup_free_ char *loc = reg_url(p->client, resp.location);
            struct reg_request del = {
                .method = "DELETE", .url = loc, .scope = p->scope, .body_fd = -1};
            struct reg_response dresp = REG_RESPONSE_INIT;
            wharf_error derr = {0};
            reg_do(p->client, &del, &dresp, &derr);
            reg_response_release(&dresp);
        }
        /* any other refusal (no pull access to the source, ...): upload */
        reg_response_release(&resp);
        if (r < 0)
            return r;
    }
    {
        struct reg_request q = {.method = "POST", .url = start, .scope = p->scope, .body_fd = -1};
        r = reg_do(p->client, &q, &resp, err);
        if (r == 0 && resp.status != 202)
            r = push_error(p, &resp, "blob upload", err);
        if (r == 0)
            r = session_location(p, &resp, &session, err);
        reg_response_release(&resp);
        if (r < 0) {
            free(session);
            return r;
        }
    }
    _cleanup_free_ char *file = image_store_blob_path(store, digest, err);
    if (!file) {
        free(session);
        return wharf_error_prefix(err, "%s", p->familiar);
    }
    _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        free(session);
        return wharf_error_errno(err, errno, "%s: blob %s", p->familiar, digest);
    }
    if ((uint64_t)st.st_size != size) {
        free(session);
        return wharf_error_set(err, -EILSEQ,
                               "%s: blob %s: stored with %lld bytes, the manifest "
                               "says %llu",
                               p->familiar, digest, (long long)st.st_size,
                               (unsigned long long)size);
    }
    r = upload(p, digest, size, fd, session, err);
    if (r == 0)
        push_progress(p, REGISTRY_LAYER_PUSHED, digest, size, size, NULL);
    return r;
}

/* Repositories of the same registry the image is known in, other than the
 * target: a new array of paths, those holding this very manifest first
 * (the others hold it through an index, or hold another manifest of the
 * same image whose layers may be compressed differently). */
static json_t *mount_sources(image_store *store, const char *ref, const image_ref *target,
                             const char *manifest_digest)
{
    json_t *out = json_array();
    wharf_error e = {0};
    _cleanup_json_ json_t *digests = image_store_repo_digests(store, ref, &e);
    size_t i;
    json_t *d;
    json_array_foreach(digests, i, d)
    {
        image_ref r;
        if (image_ref_parse(json_string_value(d), &r, &e) < 0)
            continue;
        if (strcmp(r.domain, target->domain) == 0 && strcmp(r.path, target->path) != 0) {
            if (r.digest && strcmp(r.digest, manifest_digest) == 0)
                json_array_insert_new(out, 0, json_string(r.path));
            else
                json_array_append_new(out, json_string(r.path));
        }
        image_ref_free(&r);
    }
    return out;
}

int registry_push(image_store *store, const char *ref, const struct registry_options *opts,
                  struct registry_push_result *out, wharf_error *err)
{
    image_ref target;
    if (image_ref_parse(ref, &target, err) < 0)
        return err->code;
    _cleanup_free_ char *familiar = image_ref_familiar(&target);
    if (target.digest) {
        image_ref_free(&target);
        return wharf_error_set(err, -EINVAL, "%s: cannot push a digest reference", familiar);
    }
    char mdigest[72];
    _cleanup_json_ json_t *manifest = image_store_manifest(store, ref, mdigest, err);
    if (!manifest) {
        int code = err->code;
        image_ref_free(&target);
        if (code == -ENOENT)
            return wharf_error_set(err, -ENOENT, "An image does not exist locally with the tag: %s",
                                   familiar);
        return code;
    }
    _cleanup_free_ char *mpath = image_store_blob_path(store, mdigest, err);
    _cleanup_free_ char *raw = NULL;
    size_t raw_len = 0;
    if (!mpath || wharf_read_file(mpath, &raw, &raw_len, err) < 0) {
        image_ref_free(&target);
        return err->code;
    }
    struct pusher p = {.opts = opts, .path = target.path, .familiar = familiar};
    p.sources = mount_sources(store, ref, &target, mdigest);
    strbuf scope = STRBUF_INIT;
    strbuf_addf(&scope, "repository:%s:pull,push", target.path);
    size_t i;
    json_t *src;
    json_array_foreach(p.sources, i, src)
        strbuf_addf(&scope, " repository:%s:pull", json_string_value(src));
    p.scope = strbuf_detach(&scope);
    int r = 0;
    p.client = reg_client_new(target.domain, NULL, opts, err);
    if (!p.client)
        r = err->code;
    if (r == 0 && (r = reg_probe(p.client, err)) < 0)
        wharf_error_prefix(err, "%s", familiar);
    /* layers, then the config; a blob listed twice goes once */
    _cleanup_json_ json_t *blobs = json_array();
    _cleanup_json_ json_t *seen = json_object();
    json_t *l;
    json_array_extend(blobs, json_object_get(manifest, "layers"));
    json_array_append(blobs, json_object_get(manifest, "config"));
    json_array_foreach(blobs, i, l)
    {
        const char *d = json_string_value(json_object_get(l, "digest"));
        json_int_t size = json_integer_value(json_object_get(l, "size"));
        if (r < 0)
            break;
        if (!image_digest_valid(d) || size < 0) {
            r = wharf_error_set(err, -EINVAL, "%s: the stored manifest %s has a bad descriptor",
                                familiar, mdigest);
            break;
        }
        if (json_object_get(seen, d))
            continue;
        json_object_set_new(seen, d, json_true());
        r = push_blob(&p, store, d, (uint64_t)size, err);
    }
    if (r == 0) {
        const char *mt = json_string_value(json_object_get(manifest, "mediaType"));
        _cleanup_free_ char *url = xasprintf("/v2/%s/manifests/%s", target.path, target.tag);
        struct reg_request q = {.method = "PUT",
                                .url = url,
                                .scope = p.scope,
                                .content_type = mt ? mt : MT_OCI_MANIFEST,
                                .body = raw,
                                .body_len = raw_len,
                                .body_fd = -1};
        struct reg_response resp = REG_RESPONSE_INIT;
        r = reg_do(p.client, &q, &resp, err);
        if (r == 0 && resp.status != 201 && resp.status != 200)
            r = push_error(&p, &resp, "manifest", err);
        if (r == 0 && resp.digest && strcmp(resp.digest, mdigest) != 0)
            r = wharf_error_set(err, -EILSEQ, "%s: the registry stored the manifest %s as %s",
                                familiar, mdigest, resp.digest);
        reg_response_release(&resp);
    }
    if (r == 0) {
        _cleanup_free_ char *rd = xasprintf("%s/%s@%s", target.domain, target.path, mdigest);
        r = image_store_add_repo_digest(store, ref, rd, err);
    }
    if (r == 0 && out) {
        memcpy(out->digest, mdigest, 72);
        out->size = raw_len;
        snprintf(out->tag, sizeof(out->tag), "%s", target.tag);
    }
    reg_client_free(p.client);
    json_decref(p.sources);
    free(p.scope);
    image_ref_free(&target);
    return r;
}

/* ---------------------------------------------------------------- login */

int registry_login(const char *server, const struct registry_auth *auth,
                   const struct registry_options *opts, wharf_error *err)
{
    _cleanup_free_ char *key = registry_server_key(server);
    const char *domain = strcmp(key, REGISTRY_HUB_KEY) == 0 ? "docker.io" : key;
    struct registry_options o = opts ? *opts : (struct registry_options){0};
    o.auth = auth;
    struct reg_client *c = reg_client_new(domain, NULL, &o, err);
    if (!c)
        return err->code;
    int r = reg_probe(c, err);
    if (r == 0 && c->scheme != REG_AUTH_NONE) {
        _cleanup_free_ char *url = reg_url(c, "/v2/");
        struct reg_request q = {.method = "GET", .url = "/v2/", .body_fd = -1};
        struct reg_response resp = REG_RESPONSE_INIT;
        r = reg_do(c, &q, &resp, err);
        if (r == -EACCES)
            r = wharf_error_prefix(err, "login attempt to %s failed", url);
        else if (r == 0 && resp.status == 401 && !c->user)
            r = wharf_error_set(err, -EACCES, "login attempt to %s failed: no credentials", url);
        else if (r == 0 && resp.status != 200)
            r = wharf_error_set(err, -EACCES, "login attempt to %s failed with status: %ld %s", url,
                                resp.status,
                                resp.status == 401   ? "Unauthorized"
                                : resp.status == 403 ? "Forbidden"
                                                     : "");
        reg_response_release(&resp);
    }
    reg_client_free(c);
    return r;
}
