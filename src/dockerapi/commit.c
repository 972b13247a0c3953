/*
 * commit.c — POST /commit (docker commit): a new image made of a container's
 * image plus what its overlay upper directory holds, its config the
 * container's changed by the request's Dockerfile instructions, as dockerd
 * does (daemon/commit.go):
 *
 *   container config = the create request's Config merged over the image's
 *   new config       = (the request body's Config, else that) + changes,
 *                      then merged over the container config again
 *
 * A running container is paused for the copy unless pause=0. The runtime's
 * mount points (/etc/hosts, /proc, ... made because the image lacks them)
 * stay out of the layer, as they live in dockerd's init layer.
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- configs */

static bool empty(json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
           (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_object(v) && json_object_size(v) == 0);
}

/* "KEY" of "KEY=value". */
static size_t env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* dockerd's merge(userConf, imageConf): what user leaves empty comes from
 * base; environments, labels, exposed ports and volumes are unions with
 * user's winning. */
static void merge_config(json_t *user, json_t *base)
{
    static const char *const plain[] = {"User", "WorkingDir", "StopSignal", "Healthcheck"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
        if (empty(json_object_get(user, plain[i])) && !empty(json_object_get(base, plain[i])))
            json_object_set(user, plain[i], json_object_get(base, plain[i]));
    static const char *const sets[] = {"ExposedPorts", "Volumes", "Labels"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        json_t *b = json_object_get(base, sets[i]);
        if (!json_is_object(b))
            continue;
        json_t *u = json_object_get(user, sets[i]);
        if (!json_is_object(u))
            json_object_set_new(user, sets[i], u = json_object());
        const char *k;
        json_t *v;
        json_object_foreach(b, k, v)
        {
            /* the base's volumes win, as in dockerd */
            if (!json_object_get(u, k) || strcmp(sets[i], "Volumes") == 0)
                json_object_set(u, k, v);
        }
    }
    json_t *benv = json_object_get(base, "Env"), *uenv = json_object_get(user, "Env");
    if (json_is_array(benv)) {
        if (!json_is_array(uenv))
            json_object_set_new(user, "Env", uenv = json_array());
        size_t n = json_array_size(uenv), i;
        json_t *v;
        json_array_foreach(benv, i, v)
        {
            const char *kv = json_string_value(v);
            if (!kv)
                continue;
            bool found = false;
            for (size_t k = 0; k < n && !found; k++) {
                const char *ukv = json_string_value(json_array_get(uenv, k));
                found = ukv && env_key_len(ukv) == env_key_len(kv) &&
                        strncmp(ukv, kv, env_key_len(kv)) == 0;
            }
            if (!found)
                json_array_append(uenv, v);
        }
    }
    if (empty(json_object_get(user, "Entrypoint"))) {
        if (empty(json_object_get(user, "Cmd")))
            json_object_set(user, "Cmd", json_object_get(base, "Cmd"));
        if (!json_object_get(user, "Entrypoint") || json_is_null(json_object_get(user, "Entrypoint")))
            json_object_set(user, "Entrypoint", json_object_get(base, "Entrypoint"));
    }
}

/* The container's config as dockerd holds it: the create request's over the
 * image's. A new reference. */
static json_t *container_config(struct dockerapi *api, json_t *meta, const char *image_id)
{
    json_t *cfg = json_deep_copy(json_object_get(meta, "Config"));
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        cfg = json_object();
    }
    wharf_error err = {0};
    _cleanup_json_ json_t *image = image_id ? image_store_config(api->images, image_id, &err) : NULL;
    json_t *base = json_object_get(image, "config");
    if (json_is_object(base))
        merge_config(cfg, base);
    return cfg;
}

/* "sh -c x": Cmd joined, the history's created_by in dockerd. */
static char *joined_cmd(json_t *cfg)
{
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cfg, "Cmd"), i, v)
    {
        if (i)
            strbuf_addch(&out, ' ');
        strbuf_addstr(&out, json_string_value(v) ? json_string_value(v) : "");
    }
    return strbuf_detach(&out);
}

/* ---------------------------------------------------------------- the layer */

struct skip_ctx {
    const char *upper;
};

static bool skip_mountpoint(const char *rel, const struct stat *st, void *ud)
{
    const struct skip_ctx *c = ud;
    _cleanup_free_ char *crel = xasprintf("/%s", rel);
    _cleanup_free_ char *path = xasprintf("%s/%s", c->upper, rel);
    return dockerapi_runtime_mountpoint(crel, path, st);
}

/* ---------------------------------------------------------------- the route */

static http_response *commit(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *ref = http_request_query(req, "container");
    const char *repo = http_request_query(req, "repo");
    const char *tag = http_request_query(req, "tag");
    const char *comment = http_request_query(req, "comment");
    const char *author = http_request_query(req, "author");
    bool pause = http_request_query_bool(req, "pause", true);
    wharf_error err = {0};

    /* everything the request says is checked before the container is touched */
    _cleanup_free_ char *target = NULL;
    if (repo && *repo) {
        target = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        image_ref parsed;
        if (image_ref_parse(target, &parsed, &err) < 0)
            return http_response_error(400, "%s", err.msg);
        bool digest = parsed.digest != NULL;
        image_ref_free(&parsed);
        if (digest)
            return http_response_error(400, "cannot commit to digest reference");
    } else if (tag && *tag) {
        return http_response_error(400, "tag %s given without a repository (query parameter repo)",
                                   tag);
    }
    char id[65];
    struct cri_container_status st;
    int r = ref && *ref ? dockerapi_resolve(api, ref, id) : -ENOENT;
    if (r == -EEXIST)
        return http_response_error(400, "multiple containers match %s", ref);
    if (r < 0 || cri_container_status(api->cri, id, &st, &err) < 0)
        return dockerapi_no_such_container(ref ? ref : "");
    http_response *resp = NULL;
    _cleanup_free_ char *upper = dockerapi_rootfs_dir(api, id, "upper");
    _cleanup_free_ char *created_by = NULL, *shown = NULL;
    _cleanup_free_ const char **changes = NULL;
    json_t *meta = dockerapi_meta(&st);
    const char *image_id = json_string_value(json_object_get(meta, "ImageID"));
    _cleanup_json_ json_t *ccfg = container_config(api, meta, image_id);
    _cleanup_json_ json_t *cfg = NULL;
    size_t len = 0;
    const char *body = http_request_body(req, &len);
    if (body && len) {
        _cleanup_json_ json_t *given = http_request_body_json(req, &err);
        if (!given) {
            resp = http_response_error(400, "%s", err.msg);
            goto out;
        }
        if (json_is_object(given) && json_object_size(given))
            cfg = json_deep_copy(given);
    }
    if (!cfg)
        cfg = json_deep_copy(ccfg);
    size_t n = 0;
    changes = http_request_query_all(req, "changes", &n);
    for (size_t i = 0; i < n; i++) {
        if (image_config_apply_change(cfg, changes[i], &err) < 0) {
            resp = http_response_error(400, "%s", err.msg);
            goto out;
        }
    }
    merge_config(cfg, ccfg);

    bool paused = false;
    if (pause && st.state == CRI_STATE_RUNNING) {
        if (cri_container_pause(api->cri, id, &err) < 0) {
            resp = http_response_error(500, "cannot pause container %s: %s", id, err.msg);
            goto out;
        }
        paused = true;
        dockerapi_container_event(api, id, NULL, "pause", NULL);
    }
    created_by = joined_cmd(ccfg);
    struct skip_ctx skip = {upper};
    struct image_commit c = {.parent = image_id,
                             .upperdir = upper,
                             .config = cfg,
                             .created_by = created_by,
                             .comment = comment && *comment ? comment : NULL,
                             .author = author && *author ? author : NULL,
                             .skip = skip_mountpoint,
                             .skip_ctx = &skip};
    char image[72];
    r = image_store_commit_layer(api->images, &c, image, &err);
    if (paused) {
        wharf_error uerr = {0};
        if (cri_container_unpause(api->cri, id, &uerr) < 0)
            wlog_warn("container %s: unpause after commit: %s", id, uerr.msg);
        else
            dockerapi_container_event(api, id, NULL, "unpause", NULL);
    }
    if (r < 0) {
        resp = http_response_error(500, "commit %s: %s", id, err.msg);
        goto out;
    }
    if (target) {
        if (image_store_tag(api->images, image, target, &err) < 0) {
            resp = http_response_error(500, "%s", err.msg);
            goto out;
        }
        shown = image_ref_familiarize(target);
        dockerapi_image_event(api, image, shown, "tag");
    }
    dockerapi_container_event(api, id, &st, "commit",
                              json_pack("{s:s, s:s, s:s}", "comment", comment ? comment : "",
                                        "imageID", image, "imageRef", shown ? shown : ""));
    resp = http_response_json(201, json_pack("{s:s}", "Id", image));
out:
    if (meta)
        json_decref(meta);
    cri_container_status_release(&st);
    return resp;
}

int dockerapi_register_commit(struct dockerapi *api, http_router *r, wharf_error *err)
{
    return http_router_add(r, "POST", "/commit", commit, api, err);
}
