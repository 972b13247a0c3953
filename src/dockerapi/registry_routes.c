/*
 * registry_routes.c — the routes that talk to registries: pull (POST
 * /images/create?fromImage=, which images.c hands over), push (POST
 * /images/{name}/push) and login
 * (POST /auth), over the registry client run as a helper process
 * (wharf-registry, registry.h's "in a helper process"): the daemon maps no
 * libcurl.
 *
 * A pull or push answers in two stages, as dockerd does: what can fail
 * before any output (a bad reference, an unknown tag, refused credentials,
 * an unreachable registry; a push of an image that is not here) is an HTTP
 * error, so `docker pull` prints "Error response from daemon: ..."; after
 * that the answer is a stream of Docker's JSON progress messages, which the
 * docker CLI draws as per-layer progress bars, ending with an errorDetail
 * message if the transfer fails midway.
 */
#include "internal.h"
#include "registry.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>

static void exec_options_of(struct dockerapi *api, struct registry_exec_options *o)
{
    memset(o, 0, sizeof(*o));
    o->helper = api->registry_helper ? api->registry_helper : "wharf-registry";
    o->store_dir = image_store_dir(api->images);
    o->insecure = api->insecure_registries;
    o->n_insecure = api->n_insecure_registries;
    o->mirrors = api->registry_mirrors;
    o->n_mirrors = api->n_registry_mirrors;
}

/* X-Registry-Auth into creds; a 400 response when it cannot be decoded. */
static http_response *request_creds(http_request *req, struct registry_creds *creds)
{
    wharf_error err = {0};
    if (registry_auth_decode(http_request_header(req, "X-Registry-Auth"), creds, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    return NULL;
}

static http_response *registry_error(const wharf_error *err)
{
    switch (-err->code) {
    case ENOENT:
        return http_response_error(404, "%s", err->msg);
    case EINVAL:
        return http_response_error(400, "%s", err->msg);
    case EACCES: /* not 401: the docker CLI would take that as "log in and retry" */
        return http_response_error(403, "%s", err->msg);
    default:
        return http_response_error(500, "%s", err->msg);
    }
}

/* go-units HumanSize: decimal units, 4 significant digits ("1.088MB"). */
static void human_size(double size, char *buf, size_t len)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (size >= 1000 && i + 1 < sizeof(units) / sizeof(units[0])) {
        size /= 1000;
        i++;
    }
    snprintf(buf, len, "%.4g%s", size, units[i]);
}

/* The "progress" text dockerd sends along (for old clients): a 50-column
 * bar and the byte counts. */
static void progress_text(uint64_t current, uint64_t total, strbuf *out)
{
    char cur[32], tot[32];
    human_size((double)current, cur, sizeof(cur));
    human_size((double)total, tot, sizeof(tot));
    int pct = total ? (int)((double)current / (double)total * 100) / 2 : 0;
    if (pct > 50)
        pct = 50;
    strbuf_addch(out, '[');
    for (int i = 0; i < pct; i++)
        strbuf_addch(out, '=');
    strbuf_addch(out, '>');
    for (int i = pct; i < 50; i++)
        strbuf_addch(out, ' ');
    strbuf_addf(out, "] %8s/%s", cur, tot);
}

/* One JSON message per line. */
static void send_message(http_stream *s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    http_stream_printf(s, "%s\r\n", text);
    free(text);
    json_decref(msg);
}

static void send_status(http_stream *s, const char *id, const char *fmt, ...) WHARF_PRINTF(3, 4);
static void send_status(http_stream *s, const char *id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    json_t *m = json_pack("{s:s}", "status", strbuf_str(&sb));
    if (id)
        json_object_set_new(m, "id", json_string(id));
    strbuf_release(&sb);
    send_message(s, m);
}

static void send_error(http_stream *s, const char *msg)
{
    send_message(s, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
}

struct progress_ctx {
    http_stream *stream;
    const char *skip; /* a digest not shown (the config, on push) */
};

static void on_progress(const struct registry_progress *p, void *ud)
{
    struct progress_ctx *c = ud;
    if (c->skip && strcmp(p->digest, c->skip) == 0)
        return;
    static const char *const words[] = {
        [REGISTRY_LAYER_WAITING] = "Pulling fs layer",
        [REGISTRY_LAYER_EXISTS] = "Already exists",
        [REGISTRY_LAYER_DOWNLOADING] = "Downloading",
        [REGISTRY_LAYER_VERIFYING] = "Verifying Checksum",
        [REGISTRY_LAYER_DOWNLOADED] = "Download complete",
        [REGISTRY_LAYER_EXTRACTING] = "Extracting",
        [REGISTRY_LAYER_COMPLETE] = "Pull complete",
        [REGISTRY_LAYER_PREPARING] = "Preparing",
        [REGISTRY_LAYER_PUSHING] = "Pushing",
        [REGISTRY_LAYER_PUSHED] = "Pushed",
        [REGISTRY_LAYER_PRESENT] = "Layer already exists",
        [REGISTRY_LAYER_MOUNTED] = "Mounted from",
    };
    char id[13];
    snprintf(id, sizeof(id), "%.12s", p->digest + 7);
    json_t *m = json_object();
    if (p->event == REGISTRY_LAYER_MOUNTED)
        json_object_set_new(m, "status", json_sprintf("Mounted from %s", p->from));
    else
        json_object_set_new(m, "status", json_string(words[p->event]));
    bool counts = p->event == REGISTRY_LAYER_DOWNLOADING || p->event == REGISTRY_LAYER_EXTRACTING ||
                  p->event == REGISTRY_LAYER_PUSHING;
    if (counts) {
        json_object_set_new(m, "progressDetail",
                            json_pack("{s:I, s:I}", "current", (json_int_t)p->current, "total",
                                      (json_int_t)p->total));
        strbuf sb = STRBUF_INIT;
        progress_text(p->current, p->total, &sb);
        json_object_set_new(m, "progress", json_string(sb.buf));
        strbuf_release(&sb);
    } else {
        json_object_set_new(m, "progressDetail", json_object());
    }
    json_object_set_new(m, "id", json_string(id));
    send_message(c->stream, m);
}

/* ---------------------------------------------------------------- pull */

struct pull_job {
    struct dockerapi *api;
    registry_exec *pull;
    struct progress_ctx progress;
    http_stream *stream;
};

static void *pull_thread(void *p)
{
    struct pull_job *job = p;
    http_stream *s = job->stream;
    send_status(s, registry_exec_tag(job->pull), "Pulling from %s", registry_exec_path(job->pull));
    struct registry_pull_result res;
    wharf_error err = {0};
    if (registry_exec_pull_finish(job->pull, on_progress, &job->progress, &res, &err) < 0) {
        send_error(s, err.msg);
    } else {
        _cleanup_free_ char *shown = image_ref_familiarize(registry_exec_reference(job->pull));
        dockerapi_image_event(job->api, shown, shown, "pull");
        send_status(s, NULL, "Digest: %s", res.digest);
        send_status(s, NULL, "Status: %s for %s",
                    res.updated ? "Downloaded newer image" : "Image is up to date", shown);
    }
    http_stream_close(s);
    registry_exec_free(job->pull);
    free(job);
    return NULL;
}

/* fromImage with tag (which may be a digest) as Docker combines them:
 * the tag parameter replaces a tag in fromImage. Caller frees. */
static char *pull_reference(const char *image, const char *tag, wharf_error *err)
{
    if (!tag || !*tag)
        return xstrdup(image);
    image_ref r;
    if (image_ref_parse(image, &r, err) < 0)
        return NULL;
    char *out = strncmp(tag, "sha256:", 7) == 0 ? xasprintf("%s/%s@%s", r.domain, r.path, tag)
                                                : xasprintf("%s/%s:%s", r.domain, r.path, tag);
    image_ref_free(&r);
    return out;
}

http_response *dockerapi_pull(struct dockerapi *api, http_request *req)
{
    const char *image = http_request_query(req, "fromImage");
    if (!image || !*image)
        return http_response_error(400, "fromImage or fromSrc is required");
    wharf_error err = {0};
    _cleanup_free_ char *ref = pull_reference(image, http_request_query(req, "tag"), &err);
    if (!ref)
        return http_response_error(400, "%s", err.msg);
    struct registry_creds creds;
    http_response *bad = request_creds(req, &creds);
    if (bad)
        return bad;
    struct registry_auth auth;
    registry_creds_auth(&creds, &auth);
    struct registry_exec_options o;
    exec_options_of(api, &o);
    o.auth = &auth;
    registry_exec *x = registry_exec_pull(&o, ref, http_request_query(req, "platform"), &err);
    registry_creds_release(&creds);
    if (!x)
        return registry_error(&err);
    struct pull_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    job->pull = x;
    http_response *resp = http_response_stream(200, "application/json", &job->stream);
    job->progress.stream = job->stream;
    pthread_t t;
    if (pthread_create(&t, NULL, pull_thread, job) != 0) {
        send_error(job->stream, "cannot start the pull");
        http_stream_close(job->stream);
        registry_exec_free(job->pull);
        free(job);
        return resp;
    }
    pthread_detach(t);
    return resp;
}

/* ---------------------------------------------------------------- push */

struct push_job {
    struct dockerapi *api;
    json_t *refs; /* full references to push */
    char *repo;   /* as shown in "The push refers to repository [...]" */
    struct registry_creds creds;
    struct registry_auth auth;
    struct registry_exec_options opts;
    struct progress_ctx progress;
    char id[72];
    http_stream *stream;
};

static void push_job_free(struct push_job *job)
{
    json_decref(job->refs);
    free(job->repo);
    registry_creds_release(&job->creds);
    free(job);
}

static void *push_thread(void *p)
{
    struct push_job *job = p;
    http_stream *s = job->stream;
    send_status(s, NULL, "The push refers to repository [%s]", job->repo);
    size_t i;
    json_t *r;
    json_array_foreach(job->refs, i, r)
    {
        const char *ref = json_string_value(r);
        wharf_error err = {0};
        if (image_store_resolve(job->api->images, ref, job->id, &err) < 0) {
            send_error(s, err.msg);
            break;
        }
        job->progress.skip = job->id;
        struct registry_push_result res;
        registry_exec *x = registry_exec_push(&job->opts, ref, &err);
        int rc =
            x ? registry_exec_push_finish(x, on_progress, &job->progress, &res, &err) : err.code;
        registry_exec_free(x);
        if (rc < 0) {
            send_error(s, err.msg);
            break;
        }
        _cleanup_free_ char *shown = image_ref_familiarize(ref);
        dockerapi_image_event(job->api, shown, shown, "push");
        send_status(s, NULL, "%s: digest: %s size: %llu", res.tag, res.digest,
                    (unsigned long long)res.size);
        send_message(s, json_pack("{s:{}, s:{s:s, s:s, s:I}}", "progressDetail", "aux", "Tag",
                                  res.tag, "Digest", res.digest, "Size", (json_int_t)res.size));
    }
    http_stream_close(s);
    push_job_free(job);
    return NULL;
}

/* The full references a push of name (and tag, "" for all of them) covers:
 * a new array, empty when the image is not here. */
static json_t *push_refs(struct dockerapi *api, const image_ref *name, const char *tag,
                         wharf_error *err)
{
    json_t *out = json_array();
    if (tag && *tag) {
        _cleanup_free_ char *full = xasprintf("%s/%s:%s", name->domain, name->path, tag);
        char id[72];
        if (image_store_resolve(api->images, full, id, err) == 0)
            json_array_append_new(out, json_string(full));
        return out;
    }
    _cleanup_json_ json_t *all = image_store_list(api->images, err);
    size_t i, j;
    json_t *img, *t;
    json_array_foreach(all, i, img)
    {
        json_array_foreach(json_object_get(img, "RepoTags"), j, t)
        {
            image_ref r;
            wharf_error e = {0};
            if (image_ref_parse(json_string_value(t), &r, &e) < 0)
                continue;
            if (strcmp(r.domain, name->domain) == 0 && strcmp(r.path, name->path) == 0 && r.tag) {
                char *full = image_ref_full(&r);
                json_array_append_new(out, json_string(full));
                free(full);
            }
            image_ref_free(&r);
        }
    }
    return out;
}

static http_response *push(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *name = http_request_param(req, "name");
    const char *tag = http_request_query(req, "tag");
    wharf_error err = {0};
    image_ref r;
    if (image_ref_parse(name, &r, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    /* "name:tag" in the path, as older clients send it */
    const char *want_tag = tag && *tag ? tag : (strchr(name, ':') && r.tag ? r.tag : tag);
    _cleanup_json_ json_t *refs = push_refs(api, &r, want_tag, &err);
    image_ref plain = {r.domain, r.path, NULL, NULL};
    _cleanup_free_ char *shown = image_ref_familiar(&plain);
    _cleanup_free_ char *repo = xasprintf("%s/%s", r.domain, r.path);
    image_ref_free(&r);
    if (json_array_size(refs) == 0)
        return http_response_error(404, "An image does not exist locally with the tag: %s", shown);
    struct push_job *job = xcalloc(1, sizeof(*job));
    http_response *bad = request_creds(req, &job->creds);
    if (bad) {
        push_job_free(job);
        return bad;
    }
    job->api = api;
    job->refs = json_incref(refs);
    job->repo = steal_ptr(repo);
    registry_creds_auth(&job->creds, &job->auth);
    exec_options_of(api, &job->opts);
    job->opts.auth = &job->auth;
    http_response *resp = http_response_stream(200, "application/json", &job->stream);
    job->progress.stream = job->stream;
    pthread_t t;
    if (pthread_create(&t, NULL, push_thread, job) != 0) {
        send_error(job->stream, "cannot start the push");
        http_stream_close(job->stream);
        push_job_free(job);
    } else {
        pthread_detach(t);
    }
    return resp;
}

/* ---------------------------------------------------------------- login */

static http_response *auth(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    wharf_error err = {0};
    _cleanup_json_ json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    const char *user = NULL, *pass = NULL, *server = NULL, *token = NULL;
    if (wjson_string(body, "", "username", false, &user, &err) < 0 ||
        wjson_string(body, "", "password", false, &pass, &err) < 0 ||
        wjson_string(body, "", "serveraddress", false, &server, &err) < 0 ||
        wjson_string(body, "", "registrytoken", false, &token, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    struct registry_auth a = {user, pass, token};
    struct registry_exec_options o;
    exec_options_of(api, &o);
    o.auth = &a;
    if (registry_exec_login(&o, server, &err) < 0)
        return err.code == -EACCES ? http_response_error(401, "%s", err.msg)
                                   : http_response_error(500, "%s", err.msg);
    return http_response_json(
        200, json_pack("{s:s, s:s}", "Status", "Login Succeeded", "IdentityToken", ""));
}

int dockerapi_register_registry(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = http_router_add(r, "POST", "/images/{name*}/push", push, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/auth", auth, api, err)) < 0)
        return rc;
    return 0;
}
