/* test_registry.c — the registry client against a fake registry served
 * in-process by the http module on 127.0.0.1: anonymous and credentialed
 * bearer tokens (cached per scope), Basic auth, content negotiation,
 * platform selection in an index, verified parallel downloads and what a
 * failure leaves behind, pushes (HEAD, mount, monolithic, chunked), login,
 * and the helpers (platforms, base64, credentials file, X-Registry-Auth).
 * The real distribution registry is exercised by tests/integration/
 * registry.bats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "http.h"
#include "registry.h"
#include "../../src/registry/transport.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- the fake registry */

enum fake_auth { FAKE_OPEN, FAKE_BASIC, FAKE_BEARER };

/* Binary contents by name (blobs by digest, upload sessions by uuid):
 * JSON strings cannot hold them. */
struct bytes {
    char key[80];
    strbuf data;
    struct bytes *next;
};

static struct bytes *bytes_get(struct bytes *list, const char *key)
{
    for (; list; list = list->next)
        if (strcmp(list->key, key) == 0)
            return list;
    return NULL;
}

static struct bytes *bytes_put(struct bytes **list, const char *key, const void *data, size_t len)
{
    struct bytes *b = bytes_get(*list, key);
    if (!b) {
        b = xcalloc(1, sizeof(*b));
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->next = *list;
        *list = b;
    }
    strbuf_reset(&b->data);
    strbuf_add(&b->data, data, len);
    return b;
}

static void bytes_clear(struct bytes **list)
{
    while (*list) {
        struct bytes *b = *list;
        *list = b->next;
        strbuf_release(&b->data);
        free(b);
    }
}

struct fake {
    http_router *router;
    http_server *server;
    int port;
    char base[64];
    pthread_mutex_t lock;
    enum fake_auth auth;
    bool anonymous_tokens; /* bearer: tokens without credentials */
    const char *user, *pass;
    struct bytes *blobs;        /* digest -> content */
    struct bytes *uploads_data; /* uuid -> what was uploaded so far */
    json_t *repo_blobs;         /* "repo@digest" -> true */
    json_t *manifests;          /* "repo:ref" -> {"type", "body"} */
    json_t *sessions;           /* uuid -> {"repo"} */
    json_t *token_scopes;       /* every scope string a token was asked for */
    int tokens, blob_gets, patches, puts, mounts, heads, uploads, deletes;
    char corrupt[72];  /* serve this blob with one byte flipped */
    char oversize[72]; /* serve this blob with extra bytes */
    int next_session;
};

static struct fake F;
static char tmpdir[] = "/tmp/wharf-registry-XXXXXX";

static http_response *registry_error(int status, const char *code, const char *msg)
{
    return http_response_json(
        status, json_pack("{s:[{s:s, s:s}]}", "errors", "code", code, "message", msg));
}

/* Does the request carry what it takes for repo and action ("pull"/"push")? */
static http_response *check_auth(http_request *req, const char *repo, const char *action)
{
    const char *h = http_request_header(req, "Authorization");
    if (F.auth == FAKE_OPEN)
        return NULL;
    if (F.auth == FAKE_BASIC) {
        _cleanup_free_ char *pair = xasprintf("%s:%s", F.user, F.pass);
        _cleanup_free_ char *b = reg_base64(pair, strlen(pair));
        _cleanup_free_ char *want = xasprintf("Basic %s", b);
        if (h && strcmp(h, want) == 0)
            return NULL;
        http_response *r = registry_error(401, "UNAUTHORIZED", "authentication required");
        http_response_set_header(r, "WWW-Authenticate", "Basic realm=\"fake\"");
        return r;
    }
    /* bearer: the token names every scope it grants */
    bool ok = false;
    if (h && strncmp(h, "Bearer tok", 10) == 0) {
        if (!repo) {
            ok = true;
        } else {
            _cleanup_free_ char *need = xasprintf("repository:%s:", repo);
            const char *p = strstr(h, need);
            if (p) {
                const char *actions = p + strlen(need);
                size_t n = strcspn(actions, "|");
                ok = memmem(actions, n, action, strlen(action)) != NULL;
            }
        }
    }
    if (ok)
        return NULL;
    http_response *r = registry_error(401, "UNAUTHORIZED", "authentication required");
    _cleanup_free_ char *ch =
        repo ? xasprintf("Bearer realm=\"%s/token\",service=\"fake\",scope=\"repository:%s:%s\"",
                         F.base, repo, action)
             : xasprintf("Bearer realm=\"%s/token\",service=\"fake\"", F.base);
    http_response_set_header(r, "WWW-Authenticate", ch);
    return r;
}

static http_response *h_probe(http_request *req, void *ud)
{
    if (!http_request_api_version(req) || strcmp(http_request_api_version(req), "2") != 0)
        return http_response_error(404, "not /v2/");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, NULL, NULL);
    pthread_mutex_unlock(&F.lock);
    return r ? r : http_response_bytes(200, "application/json", "{}", 2);
}

static http_response *h_token(http_request *req, void *ud)
{
    pthread_mutex_lock(&F.lock);
    F.tokens++;
    const char *h = http_request_header(req, "Authorization");
    bool creds = false;
    if (h) {
        _cleanup_free_ char *pair = xasprintf("%s:%s", F.user ? F.user : "", F.pass ? F.pass : "");
        _cleanup_free_ char *b = reg_base64(pair, strlen(pair));
        _cleanup_free_ char *want = xasprintf("Basic %s", b);
        if (strcmp(h, want) != 0) {
            pthread_mutex_unlock(&F.lock);
            return http_response_json(
                401, json_pack("{s:s}", "details", "incorrect username or password"));
        }
        creds = true;
    }
    if (!creds && !F.anonymous_tokens) {
        pthread_mutex_unlock(&F.lock);
        return http_response_json(401,
                                  json_pack("{s:[{s:s, s:s}]}", "errors", "code", "UNAUTHORIZED",
                                            "message", "authentication required"));
    }
    size_t n = 0;
    const char **scopes = http_request_query_all(req, "scope", &n);
    strbuf tok = STRBUF_INIT;
    strbuf_addstr(&tok, "tok");
    for (size_t i = 0; i < n; i++) {
        strbuf_addf(&tok, "|%s", scopes[i]);
        json_array_append_new(F.token_scopes, json_string(scopes[i]));
    }
    free(scopes);
    pthread_mutex_unlock(&F.lock);
    /* "access_token" as OAuth servers name it: the client takes either */
    http_response *r = http_response_json(
        200, json_pack("{s:s, s:i}", "access_token", tok.buf, "expires_in", 300));
    strbuf_release(&tok);
    return r;
}

static bool accepts(http_request *req, const char *type)
{
    const char *a = http_request_header(req, "Accept");
    return a && strstr(a, type);
}

static http_response *h_manifest_get(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    const char *ref = http_request_param(req, "ref");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "pull");
    if (!r) {
        _cleanup_free_ char *key = xasprintf("%s:%s", repo, ref);
        json_t *m = json_object_get(F.manifests, key);
        bool repo_known = false;
        const char *k;
        json_t *v;
        size_t rl = strlen(repo);
        json_object_foreach(F.manifests, k, v) if (strncmp(k, repo, rl) == 0 && k[rl] == ':')
            repo_known = true;
        const char *type = json_string_value(json_object_get(m, "type"));
        if (!repo_known)
            r = registry_error(404, "NAME_UNKNOWN", "repository name not known to registry");
        /* negotiation: only what the client accepts (schema 1 regardless,
         * as old registries did) */
        else if (!m || (!accepts(req, type) && !strstr(type, "prettyjws")))
            r = registry_error(404, "MANIFEST_UNKNOWN", "manifest unknown");
        else {
            json_t *body = json_object_get(m, "body");
            char d[72];
            image_digest_buf(json_string_value(body), json_string_length(body), d);
            r = http_response_bytes(200, type, json_string_value(body), json_string_length(body));
            http_response_set_header(r, "Docker-Content-Digest", d);
        }
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static http_response *h_manifest_put(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    const char *ref = http_request_param(req, "ref");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "push");
    if (!r) {
        size_t len = 0;
        const char *body = http_request_body(req, &len);
        const char *type = http_request_header(req, "Content-Type");
        json_t *doc = json_loadb(body, len, 0, NULL);
        /* like distribution: every blob must be in the repository */
        json_t *all = json_array();
        json_array_extend(all, json_object_get(doc, "layers"));
        json_array_append(all, json_object_get(doc, "config"));
        size_t i;
        json_t *d;
        json_array_foreach(all, i, d)
        {
            _cleanup_free_ char *k =
                xasprintf("%s@%s", repo, json_string_value(json_object_get(d, "digest")));
            if (!json_object_get(F.repo_blobs, k) && !r)
                r = registry_error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry");
        }
        json_decref(all);
        json_decref(doc);
        if (!r) {
            char digest[72];
            image_digest_buf(body, len, digest);
            json_t *m = json_pack("{s:s, s:s%}", "type", type ? type : "", "body", body, len);
            _cleanup_free_ char *k1 = xasprintf("%s:%s", repo, ref);
            _cleanup_free_ char *k2 = xasprintf("%s:%s", repo, digest);
            json_object_set(F.manifests, k1, m);
            json_object_set_new(F.manifests, k2, m);
            r = http_response_empty(201);
            http_response_set_header(r, "Docker-Content-Digest", digest);
        }
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static http_response *h_blob_get(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    const char *digest = http_request_param(req, "digest");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "pull");
    bool head = strcmp(http_request_method(req), "HEAD") == 0;
    if (!r) {
        _cleanup_free_ char *k = xasprintf("%s@%s", repo, digest);
        struct bytes *b = bytes_get(F.blobs, digest);
        if (head)
            F.heads++;
        else
            F.blob_gets++;
        if (!b || !json_object_get(F.repo_blobs, k)) {
            r = head ? http_response_empty(404)
                     : registry_error(404, "BLOB_UNKNOWN", "blob unknown to registry");
        } else {
            strbuf data = STRBUF_INIT;
            strbuf_add(&data, b->data.buf, b->data.len);
            if (strcmp(F.corrupt, digest) == 0)
                data.buf[data.len / 2] ^= 0x55;
            if (strcmp(F.oversize, digest) == 0)
                strbuf_addstr(&data, "trailing junk");
            r = http_response_bytes(200, "application/octet-stream", data.buf, data.len);
            http_response_set_header(r, "Docker-Content-Digest", digest);
            strbuf_release(&data);
        }
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static http_response *h_upload_start(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    const char *mount = http_request_query(req, "mount");
    const char *from = http_request_query(req, "from");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "push");
    if (!r && mount && from) {
        /* a mount needs pull access to the source as well */
        r = check_auth(req, from, "pull");
        _cleanup_free_ char *src = xasprintf("%s@%s", from, mount);
        if (!r && json_object_get(F.repo_blobs, src)) {
            _cleanup_free_ char *dst = xasprintf("%s@%s", repo, mount);
            json_object_set_new(F.repo_blobs, dst, json_true());
            F.mounts++;
            r = http_response_empty(201);
        } else if (r) {
            http_response_free(r);
            r = NULL;
        }
    }
    if (!r) {
        char uuid[32];
        snprintf(uuid, sizeof(uuid), "u%d", ++F.next_session);
        json_object_set_new(F.sessions, uuid, json_pack("{s:s}", "repo", repo));
        bytes_put(&F.uploads_data, uuid, "", 0);
        r = http_response_empty(202);
        /* a relative Location, with a query the client must keep */
        _cleanup_free_ char *loc = xasprintf("/v2/%s/blobs/uploads/%s?_state=s0", repo, uuid);
        http_response_set_header(r, "Location", loc);
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static http_response *h_upload(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    const char *uuid = http_request_param(req, "uuid");
    bool put = strcmp(http_request_method(req), "PUT") == 0;
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "push");
    json_t *s = json_object_get(F.sessions, uuid);
    if (!r && !s)
        r = registry_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
    if (!r && !http_request_query(req, "_state"))
        r = registry_error(400, "BLOB_UPLOAD_INVALID", "the client lost the session state");
    if (!r) {
        size_t len = 0;
        const char *body = http_request_body(req, &len);
        struct bytes *data = bytes_get(F.uploads_data, uuid);
        size_t have = data->data.len;
        const char *range = http_request_header(req, "Content-Range");
        unsigned long long a = 0, b = 0;
        if (!put) {
            F.patches++;
            if (!range || sscanf(range, "%llu-%llu", &a, &b) != 2 || a != have ||
                b + 1 != have + len)
                r = registry_error(416, "BLOB_UPLOAD_INVALID", "bad Content-Range");
        } else {
            F.puts++;
        }
        if (!r) {
            strbuf_add(&data->data, body, len);
            strbuf all = STRBUF_INIT;
            strbuf_add(&all, data->data.buf ? data->data.buf : "", data->data.len);
            if (put) {
                char got[72];
                image_digest_buf(all.buf ? all.buf : "", all.len, got);
                const char *want = http_request_query(req, "digest");
                if (!want || strcmp(want, got) != 0) {
                    r = registry_error(400, "DIGEST_INVALID", "provided digest did not match");
                } else {
                    bytes_put(&F.blobs, got, all.buf ? all.buf : "", all.len);
                    _cleanup_free_ char *k = xasprintf("%s@%s", repo, got);
                    json_object_set_new(F.repo_blobs, k, json_true());
                    F.uploads++;
                    r = http_response_empty(201);
                    http_response_set_header(r, "Docker-Content-Digest", got);
                }
            } else {
                r = http_response_empty(202);
                /* an absolute Location this time */
                _cleanup_free_ char *loc =
                    xasprintf("%s/v2/%s/blobs/uploads/%s?_state=s%zu", F.base, repo, uuid, all.len);
                http_response_set_header(r, "Location", loc);
            }
            strbuf_release(&all);
        }
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static http_response *h_upload_cancel(http_request *req, void *ud)
{
    const char *repo = http_request_param(req, "name");
    pthread_mutex_lock(&F.lock);
    http_response *r = check_auth(req, repo, "push");
    if (!r) {
        F.deletes++;
        bool found = json_object_get(F.sessions, http_request_param(req, "uuid")) != NULL;
        json_object_del(F.sessions, http_request_param(req, "uuid"));
        r = found ? http_response_empty(204)
                  : registry_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry");
    }
    pthread_mutex_unlock(&F.lock);
    return r;
}

static void fake_reset(enum fake_auth auth)
{
    pthread_mutex_lock(&F.lock);
    F.auth = auth;
    F.anonymous_tokens = true;
    F.user = "alice";
    F.pass = "s3cret";
    bytes_clear(&F.blobs);
    bytes_clear(&F.uploads_data);
    json_object_clear(F.repo_blobs);
    json_object_clear(F.manifests);
    json_object_clear(F.sessions);
    json_array_clear(F.token_scopes);
    F.tokens = F.blob_gets = F.patches = F.puts = F.mounts = F.heads = F.uploads = F.deletes = 0;
    F.corrupt[0] = F.oversize[0] = '\0';
    pthread_mutex_unlock(&F.lock);
}

static int setup_all(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir))
        return -1;
    pthread_mutex_init(&F.lock, NULL);
    F.repo_blobs = json_object();
    F.manifests = json_object();
    F.sessions = json_object();
    F.token_scopes = json_array();
    F.router = http_router_new();
    wharf_error err = {0};
    if (http_router_add(F.router, "GET", "/", h_probe, NULL, &err) < 0 ||
        http_router_add(F.router, "GET", "/token", h_token, NULL, &err) < 0 ||
        http_router_add(F.router, "GET", "/{name*}/manifests/{ref}", h_manifest_get, NULL, &err) <
            0 ||
        http_router_add(F.router, "PUT", "/{name*}/manifests/{ref}", h_manifest_put, NULL, &err) <
            0 ||
        http_router_add(F.router, "GET", "/{name*}/blobs/{digest}", h_blob_get, NULL, &err) < 0 ||
        http_router_add(F.router, "POST", "/{name*}/blobs/uploads/", h_upload_start, NULL, &err) <
            0 ||
        http_router_add(F.router, "PATCH", "/{name*}/blobs/uploads/{uuid}", h_upload, NULL, &err) <
            0 ||
        http_router_add(F.router, "PUT", "/{name*}/blobs/uploads/{uuid}", h_upload, NULL, &err) <
            0 ||
        http_router_add(F.router, "DELETE", "/{name*}/blobs/uploads/{uuid}", h_upload_cancel, NULL,
                        &err) < 0)
        return -1;
    http_listener l = {.kind = HTTP_LISTEN_TCP, .address = "127.0.0.1:0"};
    http_server_config cfg = {.listeners = &l, .n_listeners = 1, .router = F.router};
    F.server = http_server_new(&cfg, &err);
    if (!F.server || http_server_start(F.server, &err) < 0)
        return -1;
    F.port = http_server_port(F.server, 0);
    snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%d", F.port);
    /* credentials files of the tests' own */
    _cleanup_free_ char *w = xasprintf("%s/wharf-config", tmpdir);
    _cleanup_free_ char *d = xasprintf("%s/docker-config", tmpdir);
    setenv("WHARF_CONFIG", w, 1);
    setenv("DOCKER_CONFIG", d, 1);
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    http_server_free(F.server);
    http_router_free(F.router);
    bytes_clear(&F.blobs);
    bytes_clear(&F.uploads_data);
    json_decref(F.repo_blobs);
    json_decref(F.manifests);
    json_decref(F.sessions);
    json_decref(F.token_scopes);
    wharf_error err = {0};
    wharf_rm_rf(tmpdir, &err);
    return 0;
}

/* ---------------------------------------------------------------- images */

/* A layer tar holding one file name=content, through filter; the bytes go
 * to *blob, the uncompressed tar's digest to diff. */
static void make_layer(const char *name, const char *content, int filter, strbuf *blob,
                       char diff[72])
{
    for (int pass = 0; pass < 2; pass++) {
        int fd = memfd_create("layer", MFD_CLOEXEC);
        assert_true(fd >= 0);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter(a, pass == 0 ? ARCHIVE_FILTER_NONE : filter);
        assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 1000000, 0);
        archive_entry_set_size(e, (la_int64_t)strlen(content));
        archive_write_header(a, e);
        archive_write_data(a, content, strlen(content));
        archive_entry_free(e);
        archive_write_close(a);
        archive_write_free(a);
        strbuf sb = STRBUF_INIT;
        char buf[65536];
        lseek(fd, 0, SEEK_SET);
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            strbuf_add(&sb, buf, (size_t)n);
        close(fd);
        if (pass == 0) {
            image_digest_buf(sb.buf, sb.len, diff);
            strbuf_release(&sb);
        } else {
            *blob = sb;
        }
    }
}

static void fake_put_blob(const char *repo, const char *data, size_t len, char digest[72])
{
    image_digest_buf(data, len, digest);
    pthread_mutex_lock(&F.lock);
    bytes_put(&F.blobs, digest, data, len);
    _cleanup_free_ char *k = xasprintf("%s@%s", repo, digest);
    json_object_set_new(F.repo_blobs, k, json_true());
    pthread_mutex_unlock(&F.lock);
}

static void fake_put_manifest(const char *repo, const char *ref, const char *type, const char *body,
                              char digest[72])
{
    image_digest_buf(body, strlen(body), digest);
    pthread_mutex_lock(&F.lock);
    json_t *m = json_pack("{s:s, s:s}", "type", type, "body", body);
    _cleanup_free_ char *k1 = xasprintf("%s:%s", repo, ref);
    _cleanup_free_ char *k2 = xasprintf("%s:%s", repo, digest);
    json_object_set(F.manifests, k1, m);
    json_object_set_new(F.manifests, k2, m);
    pthread_mutex_unlock(&F.lock);
}

struct published {
    char manifest[72];
    char config[72];
    char layers[3][72];
    size_t manifest_size;
};

/* An image of three layers (gzip, zstd, plain) for arch into repo; with
 * tag != NULL the manifest is tagged. */
static void publish(const char *repo, const char *tag, const char *arch, const char *mtype,
                    struct published *out)
{
    static const int filters[] = {ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_NONE};
    static const char *const ltypes[] = {"application/vnd.oci.image.layer.v1.tar+gzip",
                                         "application/vnd.oci.image.layer.v1.tar+zstd",
                                         "application/vnd.oci.image.layer.v1.tar"};
    json_t *layers = json_array(), *diffs = json_array();
    for (int i = 0; i < 3; i++) {
        strbuf blob = STRBUF_INIT;
        char diff[72];
        _cleanup_free_ char *name = xasprintf("file%d", i);
        _cleanup_free_ char *content = xasprintf("%s layer %d of %s\n", arch, i, repo);
        make_layer(name, content, filters[i], &blob, diff);
        fake_put_blob(repo, blob.buf, blob.len, out->layers[i]);
        json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", ltypes[i], "digest",
                                                out->layers[i], "size", (json_int_t)blob.len));
        json_array_append_new(diffs, json_string(diff));
        strbuf_release(&blob);
    }
    json_t *cfg =
        json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:o}}", "architecture", arch, "os", "linux",
                  "config", "Cmd", "sh", "rootfs", "type", "layers", "diff_ids", diffs);
    _cleanup_free_ char *ctext = json_dumps(cfg, JSON_COMPACT);
    json_decref(cfg);
    fake_put_blob(repo, ctext, strlen(ctext), out->config);
    json_t *m =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType", mtype,
                  "config", "mediaType", "application/vnd.oci.image.config.v1+json", "digest",
                  out->config, "size", (json_int_t)strlen(ctext), "layers", layers);
    _cleanup_free_ char *mtext = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    fake_put_manifest(repo, tag ? tag : "untagged", mtype, mtext, out->manifest);
    out->manifest_size = strlen(mtext);
}

static image_store *new_store(const char *name)
{
    _cleanup_free_ char *dir = xasprintf("%s/%s", tmpdir, name);
    wharf_error err = {0};
    wharf_rm_rf(dir, &err);
    image_store *st = image_store_open(dir, &err);
    assert_non_null(st);
    return st;
}

static char *ref_of(const char *repo_tag)
{
    return xasprintf("127.0.0.1:%d/%s", F.port, repo_tag);
}

struct events {
    int counts[16];
    uint64_t last_downloaded;
};

static void on_event(const struct registry_progress *p, void *ctx)
{
    struct events *e = ctx;
    e->counts[p->event]++;
    assert_true(image_digest_valid(p->digest));
    assert_true(p->current <= p->total);
    if (p->event == REGISTRY_LAYER_MOUNTED)
        assert_non_null(p->from);
}

/* ---------------------------------------------------------------- tests */

static void test_helpers(void **state)
{
    (void)state;
    /* base64: both alphabets, with and without padding */
    _cleanup_free_ char *b = reg_base64("a?b>", 4);
    assert_string_equal(b, "YT9iPg==");
    _cleanup_free_ char *u = reg_base64url("a?b>", 4);
    assert_string_equal(u, "YT9iPg==");
    _cleanup_free_ char *u2 = reg_base64url("\xfb\xff", 2);
    assert_string_equal(u2, "-_8=");
    size_t len = 0;
    _cleanup_free_ char *d1 = reg_base64_decode("-_8", &len);
    assert_int_equal(len, 2);
    assert_memory_equal(d1, "\xfb\xff", 2);
    _cleanup_free_ char *d2 = reg_base64_decode("YT9iPg", &len);
    assert_string_equal(d2, "a?b>");
    assert_null(reg_base64_decode("a", &len));
    assert_null(reg_base64_decode("a*bc", &len));

    /* loopback registries are plain HTTP */
    assert_true(reg_is_loopback("127.0.0.1:5000"));
    assert_true(reg_is_loopback("127.8.9.1"));
    assert_true(reg_is_loopback("localhost:5000"));
    assert_true(reg_is_loopback("[::1]:5000"));
    assert_false(reg_is_loopback("128.0.0.1:5000"));
    assert_false(reg_is_loopback("registry.example.com"));
    wharf_error err = {0};
    struct reg_client *c = reg_client_new("127.0.0.1:5000", NULL, NULL, &err);
    assert_string_equal(c->base, "http://127.0.0.1:5000");
    reg_client_free(c);
    c = reg_client_new("docker.io", NULL, NULL, &err);
    assert_string_equal(c->base, "https://" REGISTRY_HUB_HOST);
    assert_false(c->tls_noverify);
    reg_client_free(c);
    /* the insecure list: host:port, host, CIDR */
    const char *insecure[] = {"reg.example.com:5000", "other.example", "10.1.0.0/16"};
    struct registry_options o = {.insecure = insecure, .n_insecure = 3};
    const char *cases[][2] = {{"reg.example.com:5000", "1"}, {"reg.example.com:5001", "0"},
                              {"other.example:443", "1"},    {"10.1.2.3:5000", "1"},
                              {"10.2.0.1:5000", "0"},        {"example.com", "0"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = reg_client_new(cases[i][0], NULL, &o, &err);
        assert_int_equal(c->tls_noverify, cases[i][1][0] == '1');
        assert_int_equal(c->http_fallback, cases[i][1][0] == '1');
        assert_int_equal(strncmp(c->base, "https://", 8), 0);
        reg_client_free(c);
    }
    /* a mirror keeps its scheme */
    c = reg_client_new("docker.io", "http://127.0.0.1:7000", &o, &err);
    assert_string_equal(c->base, "http://127.0.0.1:7000");
    reg_client_free(c);

    /* platforms */
    struct registry_platform p;
    char buf[96];
    assert_int_equal(registry_platform_parse("linux/amd64", &p, &err), 0);
    assert_string_equal(registry_platform_format(&p, buf, sizeof(buf)), "linux/amd64");
    assert_int_equal(registry_platform_parse("Linux/x86_64", &p, &err), 0);
    assert_string_equal(registry_platform_format(&p, buf, sizeof(buf)), "linux/amd64");
    assert_int_equal(registry_platform_parse("linux/aarch64/v8", &p, &err), 0);
    assert_string_equal(registry_platform_format(&p, buf, sizeof(buf)), "linux/arm64");
    assert_true(registry_platform_match(&p, "linux", "arm64", "v8"));
    assert_true(registry_platform_match(&p, "linux", "arm64", NULL));
    assert_false(registry_platform_match(&p, "linux", "amd64", NULL));
    assert_int_equal(registry_platform_parse("linux/arm", &p, &err), 0);
    assert_string_equal(registry_platform_format(&p, buf, sizeof(buf)), "linux/arm/v7");
    assert_false(registry_platform_match(&p, "linux", "arm", "v6"));
    assert_true(registry_platform_match(&p, "linux", "arm", "7"));
    assert_int_equal(registry_platform_parse("linux/armhf", &p, &err), 0);
    assert_string_equal(registry_platform_format(&p, buf, sizeof(buf)), "linux/arm/v7");
    static const char *const bad[] = {"linux", "linux/", "/amd64", "linux/amd64/v1/x",
                                      "li nux/amd64"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(registry_platform_parse(bad[i], &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "invalid platform"));
    }
    registry_platform_host(&p);
    assert_string_equal(p.os, "linux");
#if defined(__x86_64__)
    assert_string_equal(p.architecture, "amd64");
#endif

    /* server keys */
    static const char *const keys[][2] = {
        {NULL, REGISTRY_HUB_KEY},
        {"docker.io", REGISTRY_HUB_KEY},
        {"https://index.docker.io/v1/", REGISTRY_HUB_KEY},
        {"registry-1.docker.io", REGISTRY_HUB_KEY},
        {"127.0.0.1:5000", "127.0.0.1:5000"},
        {"http://127.0.0.1:5000/v2/", "127.0.0.1:5000"},
        {"https://reg.example.com", "reg.example.com"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        _cleanup_free_ char *k = registry_server_key(keys[i][0]);
        assert_string_equal(k, keys[i][1]);
    }

    /* X-Registry-Auth: what the docker CLI sends, both alphabets, "{}" */
    _cleanup_free_ char *hdr = registry_auth_header("bob", "p?ss>", "127.0.0.1:5000");
    assert_null(strchr(hdr, '+'));
    assert_null(strchr(hdr, '/'));
    struct registry_creds cr;
    assert_int_equal(registry_auth_decode(hdr, &cr, &err), 0);
    assert_string_equal(cr.username, "bob");
    assert_string_equal(cr.password, "p?ss>");
    assert_string_equal(cr.server, "127.0.0.1:5000");
    struct registry_auth a = {0};
    registry_creds_auth(&cr, &a);
    assert_string_equal(a.username, "bob");
    registry_creds_release(&cr);
    assert_int_equal(registry_auth_decode("e30=", &cr, &err), 0);
    assert_null(cr.username);
    registry_creds_release(&cr);
    assert_int_equal(registry_auth_decode("", &cr, &err), 0);
    assert_null(cr.username);
    /* {"auth": base64(user:pass)} as some clients send it */
    _cleanup_free_ char *inner = reg_base64("carol:pw", 8);
    _cleanup_free_ char *jtext = xasprintf("{\"auth\":\"%s\"}", inner);
    _cleanup_free_ char *outer = reg_base64(jtext, strlen(jtext));
    assert_int_equal(registry_auth_decode(outer, &cr, &err), 0);
    assert_string_equal(cr.username, "carol");
    assert_string_equal(cr.password, "pw");
    registry_creds_release(&cr);
    assert_int_equal(registry_auth_decode("!!!", &cr, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "X-Registry-Auth"));
}

static void test_credentials_file(void **state)
{
    (void)state;
    wharf_error err = {0};
    char *user = NULL, *pass = NULL;
    _cleanup_free_ char *mine = registry_config_path();
    _cleanup_free_ char *expect = xasprintf("%s/wharf-config/config.json", tmpdir);
    assert_string_equal(mine, expect);
    assert_int_equal(registry_creds_get("127.0.0.1:5000", &user, &pass, &err), -ENOENT);
    /* Docker's file is the fallback: a user logged in with docker is known */
    _cleanup_free_ char *ddir = xasprintf("%s/docker-config", tmpdir);
    assert_int_equal(wharf_mkdir_p(ddir, 0700, &err), 0);
    _cleanup_free_ char *dfile = xasprintf("%s/config.json", ddir);
    _cleanup_free_ char *b = reg_base64("dock:er", 7);
    _cleanup_free_ char *dtext =
        xasprintf("{\"auths\":{\"http://127.0.0.1:5000/v2/\":{\"auth\":\"%s\"}},"
                  "\"credsStore\":\"\"}",
                  b);
    assert_int_equal(wharf_write_file_atomic(dfile, dtext, strlen(dtext), 0600, &err), 0);
    assert_int_equal(registry_creds_get("127.0.0.1:5000", &user, &pass, &err), 0);
    assert_string_equal(user, "dock");
    assert_string_equal(pass, "er");
    free(user);
    free(pass);
    /* ours wins; other keys of our file survive a store */
    _cleanup_free_ char *wdir = xasprintf("%s/wharf-config", tmpdir);
    assert_int_equal(wharf_mkdir_p(wdir, 0700, &err), 0);
    const char *keep = "{\"detachKeys\":\"ctrl-x\",\"auths\":{\"other:1\":{\"auth\":\"eDp5\"}}}";
    assert_int_equal(wharf_write_file_atomic(mine, keep, strlen(keep), 0600, &err), 0);
    assert_int_equal(registry_creds_store("http://127.0.0.1:5000", "me", "pw:with:colons", &err),
                     0);
    assert_int_equal(registry_creds_get("127.0.0.1:5000", &user, &pass, &err), 0);
    assert_string_equal(user, "me");
    assert_string_equal(pass, "pw:with:colons");
    free(user);
    free(pass);
    struct stat st;
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *doc = wjson_load_file(mine, &err);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "detachKeys")), "ctrl-x");
    json_t *auths = json_object_get(doc, "auths");
    assert_non_null(json_object_get(auths, "other:1"));
    assert_non_null(json_object_get(auths, "127.0.0.1:5000")); /* the canonical key */
    json_decref(doc);
    /* Docker Hub under its legacy key */
    assert_int_equal(registry_creds_store(NULL, "hubuser", "hubpw", &err), 0);
    assert_int_equal(registry_creds_get("docker.io", &user, &pass, &err), 0);
    assert_string_equal(user, "hubuser");
    free(user);
    free(pass);
    /* logout removes ours; Docker's is still read afterwards */
    assert_int_equal(registry_creds_erase("127.0.0.1:5000", &err), 0);
    assert_int_equal(registry_creds_erase("127.0.0.1:5000", &err), -ENOENT);
    assert_non_null(strstr(err.msg, "Not logged in to 127.0.0.1:5000"));
    assert_int_equal(registry_creds_get("127.0.0.1:5000", &user, &pass, &err), 0);
    assert_string_equal(user, "dock");
    free(user);
    free(pass);
    /* a malformed file is an error naming it */
    assert_int_equal(wharf_write_file_atomic(dfile, "[1]", 3, 0600, &err), 0);
    assert_int_equal(registry_creds_get("nowhere:1", &user, &pass, &err), -EINVAL);
    assert_non_null(strstr(err.msg, dfile));
    unlink(dfile);
    assert_int_equal(registry_creds_store("x:1", "", "p", &err), -EINVAL);
}

static void test_pull_anonymous_token(void **state)
{
    (void)state;
    fake_reset(FAKE_BEARER);
    struct published img;
    publish("lib/app", "1", "amd64", MT_OCI_MANIFEST, &img);
    image_store *st = new_store("s1");
    struct events ev = {0};
    struct registry_options o = {.progress = on_event, .progress_ctx = &ev, .parallel = 2};
    _cleanup_free_ char *ref = ref_of("lib/app:1");
    struct registry_pull_result res;
    wharf_error err = {0};
    assert_int_equal(registry_pull_image(st, ref, NULL, &o, &res, &err), 0);
    assert_string_equal(res.id, img.config);
    assert_string_equal(res.digest, img.manifest);
    assert_true(res.updated);
    /* one anonymous token for the repository, reused for every request */
    assert_int_equal(F.tokens, 1);
    assert_string_equal(json_string_value(json_array_get(F.token_scopes, 0)),
                        "repository:lib/app:pull");
    assert_int_equal(F.blob_gets, 4); /* config + 3 layers */
    assert_int_equal(ev.counts[REGISTRY_LAYER_WAITING], 3);
    assert_int_equal(ev.counts[REGISTRY_LAYER_DOWNLOADED], 3);
    assert_int_equal(ev.counts[REGISTRY_LAYER_COMPLETE], 3);
    char id[72];
    assert_int_equal(image_store_resolve(st, ref, id, &err), 0);
    assert_string_equal(id, img.config);
    /* the layers (gzip, zstd, plain) are unpacked */
    _cleanup_free_ char *lower = image_store_lowerdirs(st, ref, &err);
    assert_non_null(lower);
    for (int i = 0; i < 3; i++) {
        _cleanup_free_ char *copy = xstrdup(lower);
        bool found = false;
        for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
            _cleanup_free_ char *f = xasprintf("%s/file%d", dir, i);
            found = found || access(f, F_OK) == 0;
        }
        assert_true(found);
    }
    json_t *j = image_store_inspect(st, ref, &err);
    _cleanup_free_ char *rd = xasprintf("127.0.0.1:%d/lib/app@%s", F.port, img.manifest);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "RepoDigests"), 0)),
                        rd);
    json_decref(j);
    /* by digest resolves the same image */
    assert_int_equal(image_store_resolve(st, rd, id, &err), 0);
    /* again: up to date, blobs present are skipped */
    memset(&ev, 0, sizeof(ev));
    int gets = F.blob_gets;
    assert_int_equal(registry_pull_image(st, ref, NULL, &o, &res, &err), 0);
    assert_false(res.updated);
    assert_int_equal(F.blob_gets, gets + 1);               /* the config only */
    assert_int_equal(ev.counts[REGISTRY_LAYER_EXISTS], 0); /* the image is here: no word */
    assert_int_equal(ev.counts[REGISTRY_LAYER_DOWNLOADING], 0);
    /* pull by digest: nothing tagged, the digest known */
    image_store *st2 = new_store("s1b");
    assert_int_equal(registry_pull_image(st2, rd, NULL, &o, &res, &err), 0);
    assert_int_equal(image_store_resolve(st2, rd, id, &err), 0);
    assert_int_equal(image_store_resolve(st2, ref, id, &err), -ENOENT);
    image_store_close(st2);
    image_store_close(st);
}

static void test_index_and_platforms(void **state)
{
    (void)state;
    fake_reset(FAKE_OPEN);
    struct published amd, arm;
    publish("multi", NULL, "amd64", MT_DOCKER_MANIFEST, &amd);
    publish("multi", NULL, "arm64", MT_DOCKER_MANIFEST, &arm);
    _cleanup_free_ char *index =
        xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
                  "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
                  "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                  "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
                  MT_DOCKER_LIST, MT_DOCKER_MANIFEST, arm.manifest, arm.manifest_size,
                  MT_DOCKER_MANIFEST, amd.manifest, amd.manifest_size);
    char idx[72];
    fake_put_manifest("multi", "1", MT_DOCKER_LIST, index, idx);
    _cleanup_free_ char *ref = ref_of("multi:1");
    struct registry_pull_result res;
    wharf_error err = {0};
    image_store *st = new_store("s2");
    assert_int_equal(registry_pull_image(st, ref, NULL, NULL, &res, &err), 0);
#if defined(__x86_64__)
    assert_string_equal(res.id, amd.config);
#endif
    assert_string_equal(res.digest, idx); /* the reference resolved to the list */
    /* the repository digest is the list's, as Docker records it */
    _cleanup_free_ char *rd = xasprintf("127.0.0.1:%d/multi@%s", F.port, idx);
    char id[72];
    assert_int_equal(image_store_resolve(st, rd, id, &err), 0);
    assert_int_equal(registry_pull_image(st, ref, "linux/arm64", NULL, &res, &err), 0);
    assert_string_equal(res.id, arm.config);
    assert_int_equal(image_store_resolve(st, ref, id, &err), 0);
    assert_string_equal(id, arm.config); /* the tag moved */
    assert_int_equal(registry_pull_image(st, ref, "linux/s390x", NULL, &res, &err), -ENOENT);
    assert_string_equal(err.msg,
                        "no matching manifest for linux/s390x in the manifest list entries");
    assert_int_equal(registry_pull_image(st, ref, "bogus", NULL, &res, &err), -EINVAL);
    /* a single-platform image asked for another platform */
    fake_put_manifest(
        "multi", "amd-only", MT_DOCKER_MANIFEST,
        json_string_value(json_object_get(json_object_get(F.manifests, "multi:untagged"), "body")),
        id);
    _cleanup_free_ char *single = ref_of("multi:amd-only");
    if (strcmp(id, arm.manifest) == 0) {
        assert_int_equal(registry_pull_image(st, single, "linux/amd64", NULL, &res, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "does not match the specified platform: wanted "
                                        "linux/amd64, actual: linux/arm64"));
    } else {
        assert_int_equal(registry_pull_image(st, single, "linux/arm64", NULL, &res, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "does not match the specified platform: wanted "
                                        "linux/arm64, actual: linux/amd64"));
    }
    /* an OCI index works the same */
    _cleanup_free_ char *oci = xstrdup(index);
    char *mt = strstr(oci, MT_DOCKER_LIST);
    assert_non_null(mt);
    _cleanup_free_ char *oci2 =
        xasprintf("%.*s%s%s", (int)(mt - oci), oci, MT_OCI_INDEX, mt + strlen(MT_DOCKER_LIST));
    fake_put_manifest("multi", "oci", MT_OCI_INDEX, oci2, idx);
    _cleanup_free_ char *ociref = ref_of("multi:oci");
    assert_int_equal(registry_pull_image(st, ociref, "linux/arm64/v8", NULL, &res, &err), 0);
    assert_string_equal(res.id, arm.config);
    image_store_close(st);
}

static void test_pull_errors(void **state)
{
    (void)state;
    fake_reset(FAKE_OPEN);
    struct published img;
    publish("app", "1", "amd64", MT_OCI_MANIFEST, &img);
    image_store *st = new_store("s3");
    struct registry_pull_result res;
    wharf_error err = {0};
    char id[72];
    _cleanup_free_ char *nope = ref_of("app:nope");
    assert_int_equal(registry_pull_image(st, nope, NULL, NULL, &res, &err), -ENOENT);
    _cleanup_free_ char *want = xasprintf("manifest for 127.0.0.1:%d/app:nope not found: manifest "
                                          "unknown: manifest unknown",
                                          F.port);
    assert_string_equal(err.msg, want);
    _cleanup_free_ char *norepo = ref_of("ghost:1");
    assert_int_equal(registry_pull_image(st, norepo, NULL, NULL, &res, &err), -ENOENT);
    _cleanup_free_ char *want2 = xasprintf("repository 127.0.0.1:%d/ghost not found: name unknown: "
                                           "repository name not known to registry",
                                           F.port);
    assert_string_equal(err.msg, want2);
    assert_int_equal(registry_pull_image(st, "UPPER/case", NULL, NULL, &res, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid reference format"));
    /* unreachable */
    assert_int_equal(registry_pull_image(st, "127.0.0.1:1/x:1", NULL, NULL, &res, &err),
                     -EHOSTUNREACH);
    assert_non_null(strstr(err.msg, "127.0.0.1:1/x:1: Get \"http://127.0.0.1:1/v2/\""));

    /* a corrupted layer: digest mismatch, nothing tagged, the bad blob
     * discarded; the good blobs stay and a retry does not fetch them again */
    _cleanup_free_ char *ref = ref_of("app:1");
    snprintf(F.corrupt, sizeof(F.corrupt), "%s", img.layers[1]);
    struct events ev = {0};
    struct registry_options serial = {.parallel = 1, .progress = on_event, .progress_ctx = &ev};
    assert_int_equal(registry_pull_image(st, ref, NULL, &serial, &res, &err), -EILSEQ);
    assert_non_null(strstr(err.msg, "digest mismatch"));
    assert_non_null(strstr(err.msg, img.layers[1]));
    assert_int_equal(image_store_resolve(st, ref, id, &err), -ENOENT);
    assert_false(image_store_has_blob(st, img.layers[1]));
    assert_true(image_store_has_blob(st, img.layers[0]));
    _cleanup_free_ char *tmp = xasprintf("%s/s3/tmp", tmpdir);
    DIR *d = opendir(tmp);
    int left = 0;
    for (struct dirent *de; (de = readdir(d));)
        left += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(left, 0);
    F.corrupt[0] = '\0';
    int gets = F.blob_gets;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(registry_pull_image(st, ref, NULL, &serial, &res, &err), 0);
    assert_int_equal(F.blob_gets - gets, 3); /* config + the 2 layers not stored */
    assert_int_equal(ev.counts[REGISTRY_LAYER_EXISTS], 1);
    assert_int_equal(ev.counts[REGISTRY_LAYER_DOWNLOADED], 2);
    assert_int_equal(image_store_resolve(st, ref, id, &err), 0);

    /* a blob longer than the manifest says is cut off */
    image_store *st2 = new_store("s3b");
    snprintf(F.oversize, sizeof(F.oversize), "%s", img.layers[2]);
    assert_int_equal(registry_pull_image(st2, ref, NULL, NULL, &res, &err), -EILSEQ);
    assert_non_null(strstr(err.msg, "more than"));
    assert_int_equal(image_store_resolve(st2, ref, id, &err), -ENOENT);
    F.oversize[0] = '\0';
    /* a missing blob */
    pthread_mutex_lock(&F.lock);
    _cleanup_free_ char *k = xasprintf("app@%s", img.layers[0]);
    json_object_del(F.repo_blobs, k);
    pthread_mutex_unlock(&F.lock);
    image_store *st3 = new_store("s3c");
    assert_int_equal(registry_pull_image(st3, ref, NULL, NULL, &res, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "blob unknown"));
    image_store_close(st3);
    /* malformed manifests */
    char md[72];
    fake_put_manifest("app", "bad1", MT_OCI_MANIFEST,
                      "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:00\",\"size\":1},"
                      "\"layers\":[]}",
                      md);
    fake_put_manifest("app", "bad2", MT_OCI_MANIFEST, "{\"schemaVersion\":2,\"layers\":{}}", md);
    fake_put_manifest("app", "bad3", MT_OCI_MANIFEST, "not json", md);
    fake_put_manifest("app", "bad4", MT_DOCKER_SCHEMA1_SIGNED, "{\"schemaVersion\":1}", md);
    const char *bads[] = {"app:bad1", "app:bad2", "app:bad3"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *r = ref_of(bads[i]);
        assert_int_equal(registry_pull_image(st2, r, NULL, NULL, &res, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "malformed manifest"));
        assert_non_null(strstr(err.msg, bads[i]));
    }
    /* schema 1 is refused by name */
    _cleanup_free_ char *s1 = ref_of("app:bad4");
    assert_int_equal(registry_pull_image(st2, s1, NULL, NULL, &res, &err), -ENOTSUP);
    assert_non_null(strstr(err.msg, "schema 1"));
    image_store_close(st2);
    image_store_close(st);
}

static void test_basic_auth(void **state)
{
    (void)state;
    fake_reset(FAKE_BASIC);
    struct published img;
    publish("priv", "1", "amd64", MT_OCI_MANIFEST, &img);
    image_store *st = new_store("s4");
    _cleanup_free_ char *ref = ref_of("priv:1");
    struct registry_pull_result res;
    wharf_error err = {0};
    assert_int_equal(registry_pull_image(st, ref, NULL, NULL, &res, &err), -EACCES);
    assert_non_null(strstr(err.msg, "no basic auth credentials"));
    struct registry_auth wrong = {"alice", "nope", NULL};
    struct registry_options o = {.auth = &wrong};
    assert_int_equal(registry_pull_image(st, ref, NULL, &o, &res, &err), -EACCES);
    assert_non_null(strstr(err.msg, "pull access denied"));
    _cleanup_free_ char *server = xasprintf("127.0.0.1:%d", F.port);
    assert_int_equal(registry_login(server, &wrong, NULL, &err), -EACCES);
    _cleanup_free_ char *want = xasprintf("login attempt to http://127.0.0.1:%d/v2/ failed with "
                                          "status: 401 Unauthorized",
                                          F.port);
    assert_string_equal(err.msg, want);
    struct registry_auth right = {"alice", "s3cret", NULL};
    o.auth = &right;
    assert_int_equal(registry_login(server, &right, NULL, &err), 0);
    assert_int_equal(registry_pull_image(st, ref, NULL, &o, &res, &err), 0);
    assert_string_equal(res.id, img.config);
    /* push with credentials */
    _cleanup_free_ char *dst = ref_of("priv/copy:2");
    assert_int_equal(image_store_tag(st, ref, dst, &err), 0);
    struct registry_push_result pr;
    assert_int_equal(registry_push(st, dst, &o, &pr, &err), 0);
    o.auth = NULL;
    assert_int_equal(registry_push(st, dst, &o, &pr, &err), -EACCES);
    assert_non_null(strstr(err.msg, "no basic auth credentials"));
    image_store_close(st);
}

static void test_token_auth_credentials(void **state)
{
    (void)state;
    fake_reset(FAKE_BEARER);
    F.anonymous_tokens = false;
    struct published img;
    publish("team/app", "1", "amd64", MT_OCI_MANIFEST, &img);
    image_store *st = new_store("s5");
    _cleanup_free_ char *ref = ref_of("team/app:1");
    _cleanup_free_ char *server = xasprintf("http://127.0.0.1:%d/v2/", F.port);
    struct registry_pull_result res;
    wharf_error err = {0};
    assert_int_equal(registry_pull_image(st, ref, NULL, NULL, &res, &err), -EACCES);
    assert_non_null(strstr(err.msg, "unauthorized: authentication required"));
    struct registry_auth wrong = {"alice", "nope", NULL};
    assert_int_equal(registry_login(server, &wrong, NULL, &err), -EACCES);
    assert_non_null(strstr(err.msg, "login attempt to"));
    assert_non_null(strstr(err.msg, "incorrect username or password"));
    struct registry_auth right = {"alice", "s3cret", NULL};
    assert_int_equal(registry_login(server, &right, NULL, &err), 0);
    int before = F.tokens;
    struct registry_options o = {.auth = &right};
    assert_int_equal(registry_pull_image(st, ref, NULL, &o, &res, &err), 0);
    assert_int_equal(F.tokens - before, 1);
    /* a registry token given as is (X-Registry-Auth "registrytoken") */
    image_store *st2 = new_store("s5b");
    _cleanup_free_ char *tok = xasprintf("tok|repository:team/app:pull");
    struct registry_auth bearer = {NULL, NULL, tok};
    o.auth = &bearer;
    before = F.tokens;
    assert_int_equal(registry_pull_image(st2, ref, NULL, &o, &res, &err), 0);
    assert_int_equal(F.tokens, before);
    image_store_close(st2);
    image_store_close(st);
}

static void test_push(void **state)
{
    (void)state;
    fake_reset(FAKE_BEARER);
    struct published img;
    publish("src/app", "1", "amd64", MT_OCI_MANIFEST, &img);
    image_store *st = new_store("s6");
    _cleanup_free_ char *ref = ref_of("src/app:1");
    struct registry_pull_result res;
    wharf_error err = {0};
    assert_int_equal(registry_pull_image(st, ref, NULL, NULL, &res, &err), 0);

    /* to another repository of the same registry: every blob is mounted
     * from where the image came from */
    _cleanup_free_ char *dst = ref_of("dst/app:2");
    assert_int_equal(image_store_tag(st, ref, dst, &err), 0);
    struct events ev = {0};
    struct registry_options o = {.progress = on_event, .progress_ctx = &ev};
    struct registry_push_result pr;
    json_array_clear(F.token_scopes);
    assert_int_equal(registry_push(st, dst, &o, &pr, &err), 0);
    assert_string_equal(pr.digest, img.manifest);
    assert_int_equal(pr.size, img.manifest_size);
    assert_string_equal(pr.tag, "2");
    assert_int_equal(F.mounts, 4);
    assert_int_equal(ev.counts[REGISTRY_LAYER_MOUNTED], 4);
    assert_int_equal(F.uploads, 0);
    /* the token asked for both repositories */
    assert_int_equal(json_array_size(F.token_scopes), 2);
    assert_string_equal(json_string_value(json_array_get(F.token_scopes, 0)),
                        "repository:dst/app:pull,push");
    assert_string_equal(json_string_value(json_array_get(F.token_scopes, 1)),
                        "repository:src/app:pull");
    _cleanup_free_ char *key = xasprintf("dst/app:2");
    json_t *m = json_object_get(F.manifests, key);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), MT_OCI_MANIFEST);
    /* the store knows the new repository digest */
    _cleanup_free_ char *rd = xasprintf("127.0.0.1:%d/dst/app@%s", F.port, img.manifest);
    char id[72];
    assert_int_equal(image_store_resolve(st, rd, id, &err), 0);

    /* a source that turns out not to hold the blobs: its upload session is
     * closed and the next source mounts */
    _cleanup_free_ char *third = ref_of("third/app:5");
    assert_int_equal(image_store_tag(st, ref, third, &err), 0);
    _cleanup_free_ char *ghost = xasprintf("127.0.0.1:%d/ghost/app@%s", F.port, img.manifest);
    assert_int_equal(image_store_add_repo_digest(st, ref, ghost, &err), 0);
    F.mounts = 0;
    assert_int_equal(registry_push(st, third, &o, &pr, &err), 0);
    assert_int_equal(F.mounts, 4);
    assert_int_equal(F.deletes, 4);
    assert_int_equal(F.uploads, 0);
    assert_int_equal(json_object_size(F.sessions), 0);

    /* pushed again: every blob is there already */
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(registry_push(st, dst, &o, &pr, &err), 0);
    assert_int_equal(ev.counts[REGISTRY_LAYER_PRESENT], 4);

    /* a fresh registry: uploads, monolithic then chunked */
    fake_reset(FAKE_OPEN);
    memset(&ev, 0, sizeof(ev));
    _cleanup_free_ char *fresh = ref_of("fresh/app:3");
    assert_int_equal(image_store_tag(st, ref, fresh, &err), 0);
    assert_int_equal(registry_push(st, fresh, &o, &pr, &err), 0);
    assert_int_equal(F.uploads, 4);
    assert_int_equal(F.patches, 0);
    assert_int_equal(ev.counts[REGISTRY_LAYER_PUSHED], 4);
    assert_true(ev.counts[REGISTRY_LAYER_PUSHING] >= 4);
    for (int i = 0; i < 3; i++) {
        _cleanup_free_ char *path = image_store_blob_path(st, img.layers[i], &err);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(wharf_read_file(path, &data, &len, &err), 0);
        struct bytes *b = bytes_get(F.blobs, img.layers[i]);
        assert_non_null(b);
        assert_int_equal(b->data.len, len);
        assert_memory_equal(b->data.buf, data, len);
        free(data);
    }
    fake_reset(FAKE_OPEN);
    o.chunk_size = 40;
    _cleanup_free_ char *chunked = ref_of("chunked/app:4");
    assert_int_equal(image_store_tag(st, ref, chunked, &err), 0);
    assert_int_equal(registry_push(st, chunked, &o, &pr, &err), 0);
    assert_true(F.patches > 4);
    assert_int_equal(F.uploads, 4);
    /* what was pushed pulls back into an empty store */
    image_store *st2 = new_store("s6b");
    assert_int_equal(registry_pull_image(st2, chunked, NULL, NULL, &res, &err), 0);
    assert_string_equal(res.id, img.config);
    image_store_close(st2);

    /* errors: no such local image, a digest reference */
    _cleanup_free_ char *missing = ref_of("nothing:1");
    assert_int_equal(registry_push(st, missing, &o, &pr, &err), -ENOENT);
    _cleanup_free_ char *want = xasprintf("An image does not exist locally with the tag: "
                                          "127.0.0.1:%d/nothing:1",
                                          F.port);
    assert_string_equal(err.msg, want);
    _cleanup_free_ char *bydigest =
        ref_of("x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(registry_push(st, bydigest, &o, &pr, &err), -EINVAL);
    image_store_close(st);
}

/* The same client in the wharf-registry helper process, as the daemon runs
 * it: results, progress and errors (with their codes) come back whole. */
static void test_helper_process(void **state)
{
    (void)state;
    for (int e = 0; e <= REGISTRY_LAYER_MOUNTED; e++)
        assert_int_equal(registry_event_parse(registry_event_name(e)), e);
    assert_int_equal(registry_event_parse("bogus"), -1);
    fake_reset(FAKE_BASIC);
    struct published img;
    publish("viahelper", "1", "amd64", MT_OCI_MANIFEST, &img);
    _cleanup_free_ char *dir = xasprintf("%s/s7", tmpdir);
    image_store *st = new_store("s7");
    struct registry_auth right = {"alice", "s3cret", NULL};
    struct registry_exec_options o = {.helper = REGISTRY_HELPER, .store_dir = dir, .auth = &right};
    _cleanup_free_ char *ref = ref_of("viahelper:1");
    wharf_error err = {0};
    registry_exec *x = registry_exec_pull(&o, ref, NULL, &err);
    assert_non_null(x);
    assert_string_equal(registry_exec_reference(x), ref);
    assert_string_equal(registry_exec_path(x), "viahelper");
    assert_string_equal(registry_exec_tag(x), "1");
    struct events ev = {0};
    struct registry_pull_result res;
    assert_int_equal(registry_exec_pull_finish(x, on_event, &ev, &res, &err), 0);
    registry_exec_free(x);
    assert_string_equal(res.id, img.config);
    assert_string_equal(res.digest, img.manifest);
    assert_true(res.updated);
    assert_int_equal(ev.counts[REGISTRY_LAYER_COMPLETE], 3);
    char id[72];
    assert_int_equal(image_store_resolve(st, ref, id, &err), 0);
    /* errors keep their codes and words */
    _cleanup_free_ char *nope = ref_of("viahelper:nope");
    assert_null(registry_exec_pull(&o, nope, NULL, &err));
    assert_int_equal(err.code, -ENOENT);
    assert_non_null(strstr(err.msg, "manifest for 127.0.0.1:"));
    o.auth = NULL;
    assert_null(registry_exec_pull(&o, ref, NULL, &err));
    assert_int_equal(err.code, -EACCES);
    assert_non_null(strstr(err.msg, "no basic auth credentials"));
    _cleanup_free_ char *server = xasprintf("127.0.0.1:%d", F.port);
    struct registry_auth wrong = {"alice", "nope", NULL};
    o.auth = &wrong;
    assert_int_equal(registry_exec_login(&o, server, &err), -EACCES);
    assert_non_null(strstr(err.msg, "401 Unauthorized"));
    o.auth = &right;
    assert_int_equal(registry_exec_login(&o, server, &err), 0);
    /* a push, with its progress */
    _cleanup_free_ char *dst = ref_of("viahelper/copy:2");
    assert_int_equal(image_store_tag(st, ref, dst, &err), 0);
    memset(&ev, 0, sizeof(ev));
    x = registry_exec_push(&o, dst, &err);
    assert_non_null(x);
    struct registry_push_result pr;
    assert_int_equal(registry_exec_push_finish(x, on_event, &ev, &pr, &err), 0);
    registry_exec_free(x);
    assert_string_equal(pr.digest, img.manifest);
    assert_string_equal(pr.tag, "2");
    assert_int_equal(ev.counts[REGISTRY_LAYER_MOUNTED], 4);
    _cleanup_free_ char *missing = ref_of("nothing:1");
    x = registry_exec_push(&o, missing, &err);
    assert_non_null(x);
    assert_int_equal(registry_exec_push_finish(x, NULL, NULL, &pr, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "An image does not exist locally"));
    registry_exec_free(x);
    /* no helper */
    o.helper = "/nonexistent/wharf-registry";
    assert_null(registry_exec_pull(&o, ref, NULL, &err));
    assert_non_null(strstr(err.msg, "cannot run /nonexistent/wharf-registry"));
    image_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_credentials_file),
        cmocka_unit_test(test_pull_anonymous_token),
        cmocka_unit_test(test_index_and_platforms),
        cmocka_unit_test(test_pull_errors),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_token_auth_credentials),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_helper_process),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
