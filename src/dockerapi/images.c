/*
 * images.c — the /images routes over the image store. Uploads (load,
 * import) are spooled to an unlinked temporary file as they arrive, because
 * the store reads archives from an fd; saves are streamed out through a pipe
 * fed by a thread. Prune never deletes an image a container uses.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>


static http_response *image_error(const wharf_error *err, const char *name)
{
    if (err->code == -ENOENT)
        return http_response_error(404, "No such image: %s", name);
    if (err->code == -EEXIST || err->code == -EBUSY)
        return http_response_error(409, "%s", err->msg);
    return http_response_from_error(err);
}

/* Docker's reference filter: the tags of repo_tags (familiar "name:tag")
 * that a path.Match pattern matches, by "name:tag" or the name alone. A new
 * array, as dockerd lists only those. */
static json_t *matching_tags(json_t *patterns, json_t *repo_tags)
{
    json_t *out = json_array();
    size_t i, k;
    json_t *p, *t;
    json_array_foreach(repo_tags, k, t)
    {
        const char *tag = json_string_value(t);
        if (!tag || strcmp(tag, "<none>:<none>") == 0)
            continue;
        _cleanup_free_ char *name = xstrdup(tag);
        char *colon = strrchr(name, ':');
        if (colon && !strchr(colon, '/'))
            *colon = '\0';
        json_array_foreach(patterns, i, p)
        {
            if (fnmatch(json_string_value(p), tag, FNM_PATHNAME) == 0 ||
                fnmatch(json_string_value(p), name, FNM_PATHNAME) == 0) {
                json_array_append(out, t);
                break;
            }
        }
    }
    return out;
}

/* The Created (Unix seconds) of the image ref names in list; -1 if none. */
static json_int_t created_of(struct dockerapi *api, json_t *list, const char *ref)
{
    char id[72];
    wharf_error err = {0};
    if (image_store_resolve(api->images, ref, id, &err) < 0)
        return -1;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "Id")), id) == 0)
            return json_integer_value(json_object_get(e, "Created"));
    }
    return -1;
}

/* GET /images/json with dockerd's filters: dangling, label, reference,
 * before, since, until. */
static http_response *list(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    static const char *const accepted[] = {"dangling", "label",  "reference",
                                           "before",   "since", "until",     NULL};
    wharf_error err = {0};
    _cleanup_json_ json_t *filters = NULL;
    bool dangling = false;
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0 ||
        dockerapi_filters_bool(filters, "dangling", false, &dangling, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    json_t *all = image_store_list(api->images, &err);
    if (!all)
        return http_response_from_error(&err);
    if (json_object_size(filters) == 0)
        return http_response_json(200, all);
    json_int_t before = -1, since = -1;
    struct timespec until = {0};
    bool has_until = dockerapi_filters_has(filters, "until");
    const char *key;
    json_t *vals;
    json_object_foreach(filters, key, vals)
    {
        bool is_before = strcmp(key, "before") == 0;
        if (!is_before && strcmp(key, "since") != 0 && strcmp(key, "until") != 0)
            continue;
        const char *v = json_string_value(json_array_get(vals, json_array_size(vals) - 1));
        if (strcmp(key, "until") == 0) {
            if (dockerapi_parse_timestamp(v, time(NULL), &until, &err) < 0) {
                json_decref(all);
                return http_response_error(400, "%s", err.msg);
            }
            continue;
        }
        json_int_t c = created_of(api, all, v);
        if (c < 0) {
            json_decref(all);
            return http_response_error(404, "No such image: %s", v);
        }
        *(is_before ? &before : &since) = c;
    }
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        json_t *tags = json_object_get(e, "RepoTags");
        json_int_t created = json_integer_value(json_object_get(e, "Created"));
        bool untagged = json_array_size(tags) == 0 ||
                        (json_array_size(tags) == 1 &&
                         strcmp(json_string_value(json_array_get(tags, 0)), "<none>:<none>") == 0);
        if ((dockerapi_filters_has(filters, "dangling") && untagged != dangling) ||
            !dockerapi_filters_match_labels(filters, "label", json_object_get(e, "Labels")) ||
            (before >= 0 && created >= before) || (since >= 0 && created <= since) ||
            (has_until && created > until.tv_sec))
            continue;
        if (dockerapi_filters_has(filters, "reference")) {
            json_t *matched = matching_tags(dockerapi_filters_values(filters, "reference"), tags);
            if (json_array_size(matched) == 0) {
                json_decref(matched);
                continue;
            }
            json_t *copy = json_copy(e);
            json_object_set_new(copy, "RepoTags", matched);
            json_array_append_new(out, copy);
            continue;
        }
        json_array_append(out, e);
    }
    json_decref(all);
    return http_response_json(200, out);
}

static http_response *inspect(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *name = http_request_param(req, "name");
    wharf_error err = {0};
    json_t *j = image_store_inspect(api->images, name, &err);
    return j ? http_response_json(200, j) : image_error(&err, name);
}

static http_response *history(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *name = http_request_param(req, "name");
    wharf_error err = {0};
    json_t *j = image_store_history(api->images, name, &err);
    return j ? http_response_json(200, j) : image_error(&err, name);
}

static http_response *tag(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *name = http_request_param(req, "name");
    const char *repo = http_request_query(req, "repo");
    const char *t = http_request_query(req, "tag");
    if (!repo || !*repo)
        return http_response_error(400, "repository name must be given (query parameter repo)");
    _cleanup_free_ char *target = t && *t ? xasprintf("%s:%s", repo, t) : xstrdup(repo);
    wharf_error err = {0};
    if (image_store_tag(api->images, name, target, &err) < 0)
        return err.code == -ENOENT ? image_error(&err, name) : http_response_from_error(&err);
    char id[72];
    _cleanup_free_ char *shown = image_ref_familiarize(target);
    if (image_store_resolve(api->images, target, id, &err) == 0)
        dockerapi_image_event(api, id, shown, "tag");
    return http_response_empty(201);
}

/* A container using an image: the first found, preferring a running one. */
struct image_user {
    char id[65];
    bool running;
};

static bool find_user(struct dockerapi *api, const char *image_id, struct image_user *out)
{
    struct cri_container_status *sts = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (!api->cri || cri_container_list(api->cri, NULL, &sts, &n, &err) < 0)
        return false;
    bool found = false;
    for (size_t i = 0; i < n && !(found && out->running); i++) {
        json_t *meta = dockerapi_meta(&sts[i]);
        const char *used = json_string_value(json_object_get(meta, "ImageID"));
        if (used && strcmp(used, image_id) == 0 && (!found || dockerapi_is_up(&sts[i]))) {
            snprintf(out->id, sizeof(out->id), "%s", sts[i].id);
            out->running = dockerapi_is_up(&sts[i]);
            found = true;
        }
        if (meta)
            json_decref(meta);
    }
    cri_container_status_array_free(sts, n);
    return found;
}

static bool image_used(const char *id, void *used)
{
    return json_object_get(used, id) != NULL;
}

/* dockerd's refusals for an image a container uses: by ID never while it
 * runs and only with force when stopped; its last tag only with force. NULL
 * when the removal may go ahead (the store then keeps the image itself). */
static http_response *in_use_conflict(struct dockerapi *api, const char *name, const char *id,
                                      bool force, const struct image_user *user)
{
    const char *hex = strncmp(id, "sha256:", 7) == 0 ? id + 7 : id;
    const char *ref = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
    bool by_id = strlen(ref) >= 3 && strncmp(hex, ref, strlen(ref)) == 0;
    char short_id[13], short_ct[13];
    snprintf(short_id, sizeof(short_id), "%s", hex);
    snprintf(short_ct, sizeof(short_ct), "%s", user->id);
    if (by_id && user->running)
        return http_response_error(409, "conflict: unable to delete %s (cannot be forced) - image "
                                        "is being used by running container %s",
                                   short_id, short_ct);
    if (force)
        return NULL;
    if (by_id)
        return http_response_error(409, "conflict: unable to delete %s (must be forced) - image is "
                                        "being used by stopped container %s",
                                   short_id, short_ct);
    wharf_error err = {0};
    _cleanup_json_ json_t *inspect = image_store_inspect(api->images, id, &err);
    if (json_array_size(json_object_get(inspect, "RepoTags")) > 1)
        return NULL;
    return http_response_error(409, "conflict: unable to remove repository reference \"%s\" (must "
                                    "force) - container %s is using its referenced image %s",
                               name, short_ct, short_id);
}

static http_response *remove_image(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *name = http_request_param(req, "name");
    bool force = http_request_query_bool(req, "force", false);
    json_t *report = NULL;
    wharf_error err = {0};
    char id[72] = "";
    image_store_resolve(api->images, name, id, &err);
    struct image_user user = {0};
    if (*id && find_user(api, id, &user)) {
        http_response *refused = in_use_conflict(api, name, id, force, &user);
        if (refused)
            return refused;
    }
    _cleanup_json_ json_t *used = dockerapi_images_in_use(api);
    if (image_store_remove(api->images, name, force, image_used, used, &report, &err) < 0)
        return image_error(&err, name);
    /* dockerd names the image by its id in both. */
    size_t i;
    json_t *entry;
    json_array_foreach(report, i, entry)
    {
        const char *deleted = json_string_value(json_object_get(entry, "Deleted"));
        if (json_object_get(entry, "Untagged") && *id)
            dockerapi_image_event(api, id, id, "untag");
        else if (deleted)
            dockerapi_image_event(api, deleted, deleted, "delete");
    }
    return http_response_json(200, report ? report : json_array());
}

/* What an image prune may delete: every image matching the filters
 * (until, label, label!), as ids of a new object; containers' images are
 * left out by the in-use check. */
static int prune_candidates(struct dockerapi *api, json_t *filters, json_t **out,
                            wharf_error *err)
{
    *out = NULL;
    json_t *until_values = dockerapi_filters_values(filters, "until");
    struct timespec until = {0, 0};
    if (json_array_size(until_values) > 1)
        return wharf_error_set(err, -EINVAL, "more than one until filter specified");
    int r;
    if (json_array_size(until_values) == 1 &&
        (r = dockerapi_parse_timestamp(json_string_value(json_array_get(until_values, 0)),
                                       time(NULL), &until, err)) < 0)
        return r;
    json_t *all = image_store_list(api->images, err);
    if (!all)
        return err->code;
    json_t *ids = json_object();
    size_t i;
    json_t *img;
    json_array_foreach(all, i, img)
    {
        json_int_t created = json_integer_value(json_object_get(img, "Created"));
        json_t *labels = json_object_get(img, "Labels");
        if (until.tv_sec && created > (json_int_t)until.tv_sec)
            continue;
        if (!dockerapi_filters_match_labels(filters, "label", labels))
            continue;
        if (dockerapi_filters_has(filters, "label!") &&
            dockerapi_filters_match_labels(filters, "label!", labels))
            continue;
        json_object_set_new(ids, json_string_value(json_object_get(img, "Id")), json_true());
    }
    json_decref(all);
    *out = ids;
    return 0;
}

struct prune_ctx {
    json_t *candidates; /* ids the filters allow */
    json_t *used;       /* ids containers use */
};

static bool keep_image(const char *id, void *p)
{
    struct prune_ctx *ctx = p;
    return !json_object_get(ctx->candidates, id) || json_object_get(ctx->used, id);
}

static http_response *prune(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    static const char *const accepted[] = {"dangling", "label", "label!", "until", NULL};
    wharf_error err = {0};
    _cleanup_json_ json_t *filters = NULL;
    bool dangling = true;
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0 ||
        dockerapi_filters_bool(filters, "dangling", true, &dangling, &err) < 0)
        return http_response_from_error(&err);
    struct prune_ctx ctx = {NULL, NULL};
    if (prune_candidates(api, filters, &ctx.candidates, &err) < 0)
        return http_response_from_error(&err);
    ctx.used = dockerapi_images_in_use(api);
    json_t *report = NULL;
    int r = image_store_prune(api->images, !dangling, keep_image, &ctx, &report, &err);
    json_decref(ctx.candidates);
    json_decref(ctx.used);
    if (r < 0)
        return http_response_from_error(&err);
    return http_response_json(200, report);
}

static void close_spool(void *p)
{
    int *fd = p;
    if (*fd >= 0)
        close(*fd);
    free(fd);
}

static int load_chunk(http_request *req, const void *data, size_t len, void *ud, wharf_error *err)
{
    struct dockerapi *api = ud;
    int *fd = http_request_data(req);
    if (!fd) {
        fd = xmalloc(sizeof(*fd));
        *fd = open(api->tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        http_request_set_data(req, fd, close_spool);
        if (*fd < 0)
            return wharf_error_errno(err, errno, "spool the upload in %s", api->tmp_dir);
    }
    int r = wharf_write_all(*fd, data, len);
    return r < 0 ? wharf_error_errno(err, -r, "spool the upload") : 0;
}

static http_response *load(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    int *fd = http_request_data(req);
    if (!fd)
        return http_response_error(400, "no image archive in the request body");
    lseek(*fd, 0, SEEK_SET);
    json_t *loaded = NULL;
    wharf_error err = {0};
    if (image_store_load(api->images, *fd, &loaded, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    /* docker load prints the "stream" of each message. */
    strbuf out = STRBUF_INIT;
    size_t i;
    json_t *ref;
    bool quiet = http_request_query_bool(req, "quiet", false);
    json_array_foreach(loaded, i, ref)
    {
        const char *s = json_string_value(ref);
        _cleanup_free_ char *shown = strncmp(s, "sha256:", 7) == 0 ? xstrdup(s)
                                                                    : image_ref_familiarize(s);
        char id[72];
        if (image_store_resolve(api->images, s, id, &err) == 0)
            dockerapi_image_event(api, id, shown, "load");
        json_t *msg = json_pack("{s:s++}", "stream",
                                strncmp(s, "sha256:", 7) == 0 ? "Loaded image ID: "
                                                              : "Loaded image: ",
                                shown ? shown : s, "\n");
        char *text = json_dumps(msg, JSON_COMPACT);
        strbuf_addf(&out, "%s\n", text);
        free(text);
        json_decref(msg);
    }
    (void)quiet;
    json_decref(loaded);
    http_response *resp = http_response_bytes(200, "application/json", out.buf ? out.buf : "",
                                              out.len);
    strbuf_release(&out);
    return resp;
}

/* docker import: POST /images/create?fromSrc=- with a root filesystem
 * tarball (plain, gzip or zstd) as the body; answered with the progress
 * stream the docker CLI prints ({"status": "sha256:..."}). */
static http_response *import_image(http_request *req, struct dockerapi *api)
{
    const char *src = http_request_query(req, "fromSrc");
    if (strcmp(src, "-") != 0)
        return http_response_error(400, "import from %s: only an uploaded tarball (fromSrc=-) "
                                        "can be imported; this daemon fetches no URLs",
                                   src);
    const char *repo = http_request_query(req, "repo");
    const char *tag = http_request_query(req, "tag");
    const char *message = http_request_query(req, "message");
    _cleanup_free_ char *target = NULL;
    if (repo && *repo)
        target = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
    else if (tag && *tag)
        return http_response_error(400, "tag %s given without a repository (query parameter repo)",
                                   tag);
    int *fd = http_request_data(req);
    if (!fd)
        return http_response_error(400, "no root filesystem tarball in the request body");
    lseek(*fd, 0, SEEK_SET);
    size_t n = 0;
    _cleanup_free_ const char **changes = http_request_query_all(req, "changes", &n);
    char id[72];
    wharf_error err = {0};
    if (image_store_import(api->images, *fd, target, changes, n,
                           message && *message ? message : NULL, id, &err) < 0)
        return http_response_error(err.code == -EINVAL || err.code == -EPERM ||
                                           err.code == -EILSEQ
                                       ? 400
                                       : 500,
                                   "%s", err.msg);
    _cleanup_free_ char *line = xasprintf("{\"status\":\"%s\"}\r\n", id);
    return http_response_bytes(200, "application/json", line, strlen(line));
}

/* POST /images/create: docker import (fromSrc, the body a tarball) or
 * docker pull (fromImage, registry_routes.c). */
static http_response *create_image(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    if (http_request_query(req, "fromSrc"))
        return import_image(req, api);
    return dockerapi_pull(api, req);
}

struct save_job {
    image_store *images;
    char **refs;
    size_t n;
    int fd;
};

static void *save_thread(void *p)
{
    struct save_job *job = p;
    wharf_error err = {0};
    image_store_save(job->images, (const char *const *)job->refs, job->n,
                     IMAGE_FORMAT_DOCKER_ARCHIVE, job->fd, &err);
    close(job->fd); /* the client sees the end (a short tar when it failed) */
    for (size_t i = 0; i < job->n; i++)
        free(job->refs[i]);
    free(job->refs);
    free(job);
    return NULL;
}

static http_response *save(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    size_t n = 0;
    const char **names = NULL;
    const char *one = http_request_param(req, "name"); /* /images/{name}/get */
    if (one) {
        names = xcalloc(2, sizeof(*names));
        names[0] = one;
        n = 1;
    } else {
        names = http_request_query_all(req, "names", &n);
    }
    if (n == 0) {
        free(names);
        return http_response_error(400, "no image named (query parameter names)");
    }
    /* Check them all first so a missing one is a clean 404, not a cut tar. */
    for (size_t i = 0; i < n; i++) {
        char id[72];
        wharf_error err = {0};
        if (image_store_resolve(api->images, names[i], id, &err) < 0) {
            http_response *r = image_error(&err, names[i]);
            free(names);
            return r;
        }
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        free(names);
        return http_response_error(500, "pipe: %s", strerror(errno));
    }
    struct save_job *job = xcalloc(1, sizeof(*job));
    job->images = api->images;
    job->n = n;
    job->refs = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        job->refs[i] = xstrdup(names[i]);
    free(names);
    job->fd = pipefd[1];
    pthread_t t;
    if (pthread_create(&t, NULL, save_thread, job) != 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        for (size_t i = 0; i < n; i++)
            free(job->refs[i]);
        free(job->refs);
        free(job);
        return http_response_error(500, "cannot start the save");
    }
    pthread_detach(t);
    return http_response_fd(200, "application/x-tar", pipefd[0]);
}

int dockerapi_register_images(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = dockerapi_register_system(api, r, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/images/json", list, api, err)) < 0 ||
        (rc = http_router_add_upload(r, "POST", "/images/load", load_chunk, load, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/images/get", save, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/images/prune", prune, api, err)) < 0 ||
        (rc = http_router_add_upload(r, "POST", "/images/create", load_chunk, create_image, api,
                                     err)) < 0 ||
        (rc = http_router_add(r, "GET", "/images/{name*}/json", inspect, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/images/{name*}/history", history, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/images/{name*}/get", save, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/images/{name*}/tag", tag, api, err)) < 0 ||
        (rc = http_router_add(r, "DELETE", "/images/{name*}", remove_image, api, err)) < 0)
        return rc;
    return 0;
}
