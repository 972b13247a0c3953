/*
 * build_routes.c — POST /build, the classic builder's endpoint (what
 * `DOCKER_BUILDKIT=0 docker build` and the docker CLI without buildx use).
 *
 * The context tar is spooled to an unlinked file as it arrives (like
 * /images/load) and unpacked under ROOT/build/contexts (where an unchanged
 * rebuild finds it unpacked already, see build_context_open), and the
 * build prepared: a bad Dockerfile, flag, target or tag is answered
 * with a plain 4xx before anything is streamed, as dockerd does. The build
 * then runs on a producer thread that streams Docker's JSON messages:
 * {"stream": "Step 1/3 : ..."} for progress and RUN output, {"aux": {"ID":
 * "sha256:..."}} once per stage, and {"errorDetail": {"code", "message"},
 * "error": ...} when it fails (code: the failing RUN's exit status, which
 * the docker CLI exits with). With q=1 only the image ID is streamed, and
 * the progress only when the build fails. Base images that are not stored
 * (all of them with pull=1) are pulled through the registry helper, as
 * `docker pull` is (anonymously: X-Registry-Config is not read yet), the
 * pull's progress printed as dockerd's classic builder shows it.
 */
#include "internal.h"

#include "build.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

static void close_spool(void *p)
{
    int *fd = p;
    if (*fd >= 0)
        close(*fd);
    free(fd);
}

static int spool_chunk(http_request *req, const void *data, size_t len, void *ud, wharf_error *err)
{
    struct dockerapi *api = ud;
    int *fd = http_request_data(req);
    if (!fd) {
        fd = xmalloc(sizeof(*fd));
        *fd = open(api->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        http_request_set_data(req, fd, close_spool);
        if (*fd < 0)
            return wharf_error_errno(err, errno, "spool the build context in %s", api->tmp_dir);
    }
    int r = wharf_write_all(*fd, data, len);
    return r < 0 ? wharf_error_errno(err, -r, "spool the build context") : 0;
}

/* ---------------------------------------------------------------- pulls */

struct pull_progress {
    build_emit_fn emit;
    void *emit_ud;
    int failed;
};

static void say_line(struct pull_progress *p, const char *fmt, ...) WHARF_PRINTF(2, 3);
static void say_line(struct pull_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf sb = STRBUF_INIT;
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (p->emit && p->emit(p->emit_ud, BUILD_EVENT_STREAM, sb.buf, sb.len) < 0)
        p->failed = -EPIPE;
    strbuf_release(&sb);
}

/* The layer lines that stay on a terminal once a pull is done. */
static void pull_progress(const struct registry_progress *rp, void *ud)
{
    struct pull_progress *p = ud;
    const char *word = rp->event == REGISTRY_LAYER_EXISTS     ? "Already exists"
                       : rp->event == REGISTRY_LAYER_COMPLETE ? "Pull complete"
                                                              : NULL;
    if (word)
        say_line(p, "%.12s: %s\n", rp->digest + 7, word);
}

static int pull_image(void *ud, const char *ref, build_emit_fn emit, void *emit_ud,
                      wharf_error *err)
{
    struct dockerapi *api = ud;
    struct registry_exec_options o = {
        .helper = api->registry_helper ? api->registry_helper : "wharf-registry",
        .store_dir = image_store_dir(api->images),
        .insecure = api->insecure_registries,
        .n_insecure = api->n_insecure_registries,
        .mirrors = api->registry_mirrors,
        .n_mirrors = api->n_registry_mirrors,
    };
    registry_exec *x = registry_exec_pull(&o, ref, NULL, err);
    if (!x)
        return err->code;
    struct pull_progress p = {.emit = emit, .emit_ud = emit_ud};
    say_line(&p, "%s: Pulling from %s\n", registry_exec_tag(x), registry_exec_path(x));
    struct registry_pull_result res;
    int r = registry_exec_pull_finish(x, pull_progress, &p, &res, err);
    if (r == 0) {
        _cleanup_free_ char *shown = image_ref_familiarize(registry_exec_reference(x));
        dockerapi_image_event(api, res.id, shown, "pull");
        say_line(&p, "Digest: %s\n", res.digest);
        say_line(&p, "Status: %s for %s\n",
                 res.updated ? "Downloaded newer image" : "Image is up to date", shown);
    }
    registry_exec_free(x);
    if (r == 0 && p.failed)
        r = wharf_error_set(err, -ECANCELED, "build cancelled: the client went away");
    return r;
}

/* ---------------------------------------------------------------- builds */

struct build_job {
    struct dockerapi *api;
    struct build *build;
    struct build_context *context;
    bool quiet;
    strbuf held; /* quiet: the progress, sent only if the build fails */
    char **tags;
    size_t n_tags;
    http_stream *stream;
};

static void job_free(struct build_job *job)
{
    build_free(job->build);
    build_context_close(job->context);
    strbuf_release(&job->held);
    for (size_t i = 0; i < job->n_tags; i++)
        free(job->tags[i]);
    free(job->tags);
    free(job);
}

/* One JSON message, as dockerd's stream formatter ends them. */
static int send_json(struct build_job *job, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    int r = http_stream_printf(job->stream, "%s\r\n", text);
    free(text);
    return r;
}

static int emit(void *ud, enum build_event ev, const char *text, size_t len)
{
    struct build_job *job = ud;
    if (ev == BUILD_EVENT_IMAGE_ID)
        return send_json(job, json_pack("{s:{s:s#}}", "aux", "ID", text, len));
    if (job->quiet) {
        strbuf_add(&job->held, text, len);
        return http_stream_closed(job->stream) ? -EPIPE : 0;
    }
    return send_json(job, json_pack("{s:s#}", "stream", text, len));
}

static void *build_thread(void *p)
{
    struct build_job *job = p;
    char id[72] = "";
    int code = 0;
    wharf_error err = {0};
    int r = build_run(job->build, id, &code, &err);
    if (r < 0) {
        if (job->quiet && job->held.len)
            send_json(job, json_pack("{s:s}", "stream", strbuf_str(&job->held)));
        json_t *detail = json_pack("{s:s}", "message", err.msg);
        if (r == -ECHILD && code)
            json_object_set_new(detail, "code", json_integer(code));
        send_json(job, json_pack("{s:o, s:s}", "errorDetail", detail, "error", err.msg));
    } else {
        if (job->quiet) {
            _cleanup_free_ char *line = xasprintf("%s\n", id);
            send_json(job, json_pack("{s:s}", "stream", line));
        }
        for (size_t i = 0; i < job->n_tags; i++) {
            _cleanup_free_ char *shown = image_ref_familiarize(job->tags[i]);
            dockerapi_image_event(job->api, id, shown, "tag");
        }
    }
    http_stream_close(job->stream);
    job_free(job);
    return NULL;
}

/* A JSON object of strings (null allowed when nulls) from a query parameter. */
static int query_object(http_request *req, const char *key, bool nulls, json_t **out,
                        wharf_error *err)
{
    *out = NULL;
    const char *v = http_request_query(req, key);
    if (!v || !*v)
        return 0;
    json_error_t je;
    json_t *j = json_loads(v, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return wharf_error_set(err, -EINVAL, "%s: expected a JSON object of strings", key);
    }
    const char *k;
    json_t *val;
    json_object_foreach(j, k, val) if (!json_is_string(val) && !(nulls && json_is_null(val)))
    {
        json_decref(j);
        return wharf_error_set(err, -EINVAL, "%s: %s: expected a string", key, k);
    }
    *out = j;
    return 0;
}

static http_response *build(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    int *spool = http_request_data(req);
    wharf_error err = {0};
    const char *remote = http_request_query(req, "remote");
    if (remote && *remote)
        return http_response_error(400,
                                   "remote build contexts are not supported (remote=%s): "
                                   "send the context as the request body",
                                   remote);
    const char *version = http_request_query(req, "version");
    if (version && strcmp(version, "2") == 0)
        return http_response_error(400, "BuildKit builds (version=2) are not supported: use the "
                                        "classic builder (DOCKER_BUILDKIT=0)");
    if (!spool)
        return http_response_error(400, "no build context in the request body");
    if (!api->cri)
        return http_response_error(501, "this daemon runs no containers: it cannot build");
    json_t *build_args = NULL, *labels = NULL;
    if (query_object(req, "buildargs", true, &build_args, &err) < 0 ||
        query_object(req, "labels", false, &labels, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    size_t n_tags = 0;
    const char **tags = http_request_query_all(req, "t", &n_tags);
    _cleanup_free_ char *state = xasprintf("%s/build", api->root);
    _cleanup_free_ char *contexts = xasprintf("%s/contexts", state);
    struct build_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    job->quiet = http_request_query_bool(req, "q", false);
    http_response *resp = NULL;
    if (build_context_open(*spool, contexts, &job->context, &err) < 0) {
        resp = err.code == -EINVAL || err.code == -EPERM ? http_response_error(400, "%s", err.msg)
                                                         : http_response_from_error(&err);
        goto fail;
    }
    /* the spooled tar is not needed any more */
    close(*spool);
    *spool = -1;
    struct build_env env = {.images = api->images, .cri = api->cri, .state_dir = state};
    struct build_options opts = {
        .context_dir = build_context_path(job->context),
        .dockerfile = http_request_query(req, "dockerfile"),
        .build_args = build_args,
        .labels = labels,
        .target = http_request_query(req, "target"),
        .tags = tags,
        .n_tags = n_tags,
        .no_cache = http_request_query_bool(req, "nocache", false),
        .pull = http_request_query_bool(req, "pull", false),
        .network = http_request_query(req, "networkmode"),
        .pull_fn = pull_image,
        .pull_ud = api,
        .emit = emit,
        .emit_ud = job,
    };
    if (build_prepare(&env, &opts, &job->build, &err) < 0) {
        resp = err.code == -ENOENT                         ? http_response_error(404, "%s", err.msg)
               : err.code == -ENOTSUP                      ? http_response_error(501, "%s", err.msg)
               : err.code == -EINVAL || err.code == -EPERM ? http_response_error(400, "%s", err.msg)
                                                           : http_response_from_error(&err);
        goto fail;
    }
    job->tags = xcalloc(n_tags + 1, sizeof(char *));
    for (size_t i = 0; i < n_tags; i++) {
        image_ref ref;
        if (image_ref_parse(tags[i], &ref, &err) == 0) {
            job->tags[job->n_tags++] = image_ref_full(&ref);
            image_ref_free(&ref);
        }
    }
    free(tags);
    if (build_args)
        json_decref(build_args);
    if (labels)
        json_decref(labels);
    resp = http_response_stream(200, "application/json", &job->stream);
    if (dockerapi_start_thread(build_thread, job) < 0) {
        http_stream_close(job->stream);
        job_free(job);
    }
    return resp;
fail:
    free(tags);
    if (build_args)
        json_decref(build_args);
    if (labels)
        json_decref(labels);
    job_free(job);
    return resp;
}

int dockerapi_register_build(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = http_router_add_upload(r, "POST", "/build", spool_chunk, build, api, err)) < 0)
        return rc;
    return 0;
}
