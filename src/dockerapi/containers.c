/*
 * containers.c — the /containers routes over the CRI-shaped container layer.
 * The image's config is merged with the request's (Entrypoint, Cmd, Env,
 * WorkingDir, User, Labels, StopSignal) the way dockerd does; the root
 * filesystem is an overlay of the image mounted at create and removed with
 * the container. Users by name and the working directory are settled in that
 * root filesystem at create; HostConfig is hostconfig.c's, binds and
 * volumes mounts.c's, the list containers_list.c's.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>




static void new_id(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        memset(b, 0x5a, sizeof(b));
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static json_t *str_array_or(json_t *a, json_t *fallback)
{
    return json_is_array(a) && json_array_size(a) ? a : fallback;
}

static int mount_rootfs(struct dockerapi *api, const char *id, const char *image, char **rootfs,
                        wharf_error *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/rootfs/%s", api->root, id);
    _cleanup_free_ char *upper = xasprintf("%s/upper", dir);
    _cleanup_free_ char *work = xasprintf("%s/work", dir);
    char *merged = xasprintf("%s/merged", dir);
    int r;
    if ((r = wharf_mkdir_p(upper, 0755, err)) < 0 || (r = wharf_mkdir_p(work, 0700, err)) < 0 ||
        (r = wharf_mkdir_p(merged, 0755, err)) < 0 ||
        (r = image_store_mount_rootfs(api->images, image, upper, work, merged, err)) < 0) {
        wharf_rm_rf(dir, NULL);
        free(merged);
        return r;
    }
    *rootfs = merged;
    return 0;
}

/* The image's labels under the request's (a request label wins), as dockerd
 * merges them: a new reference. */
static json_t *merged_labels(json_t *image_cfg, json_t *body)
{
    json_t *labels = json_object();
    json_t *il = json_object_get(image_cfg, "Labels"), *bl = json_object_get(body, "Labels");
    if (json_is_object(il))
        json_object_update(labels, il);
    if (json_is_object(bl))
        json_object_update(labels, bl);
    return labels;
}

/* What dockerd reads or writes in the root filesystem itself: the user (and
 * groups) from its /etc/passwd and /etc/group, and the working directory,
 * created (root-owned, 0755) when the image lacks it. */
static int prepare_rootfs(const char *rootfs, const char *user, json_t *group_add, const char *wd,
                          json_t *cfg, wharf_error *err)
{
    _cleanup_close_ int root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return wharf_error_errno(err, errno, "open %s", rootfs);
    json_t *juser = NULL;
    int r = dockerapi_resolve_user(root_fd, user, group_add, &juser, err);
    if (r < 0)
        return r;
    json_object_set_new(cfg, "user", juser);
    if (strcmp(wd, "/") != 0) {
        wharf_error e = {0};
        _cleanup_close_ int fd = wharf_mkdir_in_root(root_fd, wd, 0755, &e);
        if (fd < 0) {
            if (e.code == -ENOTDIR || e.code == -EEXIST)
                return wharf_error_set(err, -EINVAL, "Cannot mkdir: %s is not a directory", wd);
            return wharf_error_set(err, e.code, "working directory: %s", e.msg);
        }
    }
    return 0;
}

static http_response *create(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    wharf_error err = {0};
    json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    http_response *resp = NULL;
    json_t *cfg = NULL, *image_cfg = NULL, *meta = NULL, *mount_plan = NULL;
    char *rootfs = NULL, *sandbox_id = NULL, *wd = NULL;
    char id[65];
    new_id(id);
    const char *name = http_request_query(req, "name");
    const char *image = json_string_value(json_object_get(body, "Image"));
    if (!image || !*image) {
        resp = http_response_error(400, "config: Image is required");
        goto out;
    }
    char existing[65];
    if (name && *name && dockerapi_resolve(api, name, existing) == 0) {
        resp = http_response_error(409, "Conflict. The container name \"/%s\" is already in use "
                                        "by container \"%s\".", name, existing);
        goto out;
    }
    json_t *inspect = image_store_inspect(api->images, image, &err);
    if (!inspect) {
        resp = http_response_error(404, "No such image: %s", image);
        goto out;
    }
    image_cfg = json_incref(json_object_get(inspect, "Config"));
    char image_id[72];
    snprintf(image_id, sizeof(image_id), "%s", json_string_value(json_object_get(inspect, "Id")));
    json_decref(inspect);

    /* Entrypoint + Cmd: the request's replace the image's (a request
     * Entrypoint also drops the image's Cmd), as dockerd does. */
    json_t *entry = json_object_get(body, "Entrypoint");
    json_t *cmd = json_object_get(body, "Cmd");
    json_t *args = json_array();
    json_t *e = json_is_array(entry) ? entry : json_object_get(image_cfg, "Entrypoint");
    json_t *c = json_is_array(cmd) && json_array_size(cmd)
                    ? cmd
                    : (json_is_array(entry) ? NULL : json_object_get(image_cfg, "Cmd"));
    if (json_is_string(entry))
        json_array_append(args, entry);
    else if (json_is_array(e))
        json_array_extend(args, e);
    if (json_is_array(c))
        json_array_extend(args, c);
    if (json_array_size(args) == 0) {
        json_decref(args);
        resp = http_response_error(400, "no command specified");
        goto out;
    }
    json_t *env = json_deep_copy(str_array_or(json_object_get(image_cfg, "Env"), NULL));
    if (!env)
        env = json_array();
    json_t *req_env = json_object_get(body, "Env");
    if (json_is_array(req_env))
        json_array_extend(env, req_env);
    const char *wd_in = json_string_value(json_object_get(body, "WorkingDir"));
    if (!wd_in || !*wd_in)
        wd_in = json_string_value(json_object_get(image_cfg, "WorkingDir"));
    if (wd_in && *wd_in && wd_in[0] != '/') {
        json_decref(args);
        json_decref(env);
        resp = http_response_error(400, "the working directory '%s' is invalid, it needs to be "
                                        "an absolute path", wd_in);
        goto out;
    }
    wd = xstrdup(wd_in && *wd_in ? wd_in : "/");
    const char *user = json_string_value(json_object_get(body, "User"));
    if (!user || !*user)
        user = json_string_value(json_object_get(image_cfg, "User"));
    json_t *host = json_object_get(body, "HostConfig");
    struct dockerapi_restart_policy policy;
    if (dockerapi_restart_policy(host, &policy, &err) < 0) {
        json_decref(args);
        json_decref(env);
        resp = http_response_error(400, "%s", err.msg);
        goto out;
    }
    cfg = json_pack("{s:o, s:o, s:s, s:b, s:b}", "args", args, "env", env, "working_dir", wd,
                    "tty", json_is_true(json_object_get(body, "Tty")), "stdin",
                    json_is_true(json_object_get(body, "OpenStdin")));
    if (name && *name)
        json_object_set_new(cfg, "name", json_string(name));
    json_t *csize = json_object_get(json_object_get(body, "HostConfig"), "ConsoleSize");
    if (json_is_array(csize) && json_array_size(csize) == 2 &&
        json_integer_value(json_array_get(csize, 0)) > 0 &&
        json_integer_value(json_array_get(csize, 1)) > 0)
        json_object_set_new(cfg, "console_size",
                            json_pack("{s:O, s:O}", "height", json_array_get(csize, 0), "width",
                                      json_array_get(csize, 1)));
    const char *hostname = json_string_value(json_object_get(body, "Hostname"));
    const char *domainname = json_string_value(json_object_get(body, "Domainname"));
    char short_id[13];
    snprintf(short_id, sizeof(short_id), "%s", id);
    json_object_set_new(cfg, "hostname", json_string(hostname && *hostname ? hostname : short_id));
    if (domainname && *domainname)
        json_object_set_new(cfg, "domainname", json_string(domainname));
    json_t *labels = merged_labels(image_cfg, body);
    json_object_set_new(cfg, "labels", labels);
    const char *stop = json_string_value(json_object_get(body, "StopSignal"));
    if (!stop)
        stop = json_string_value(json_object_get(image_cfg, "StopSignal"));
    if (stop)
        json_object_set_new(cfg, "stop_signal", json_string(stop));
    json_t *st = json_object_get(body, "StopTimeout");
    if (json_is_integer(st))
        json_object_set(cfg, "stop_timeout", st);
    if (dockerapi_health_merge_config(body, image_cfg, &err) < 0) {
        resp = http_response_error(400, "%s", err.msg);
        goto out;
    }
    if (dockerapi_apply_host_config(api, host, cfg, &err) < 0) {
        resp = http_response_error(err.code == -EOPNOTSUPP ? 501 : 400, "%s", err.msg);
        goto out;
    }
    /* binds, volumes, --mount: checked now, made once the rootfs is there */
    if (dockerapi_mounts_plan(api, body, image_cfg, &mount_plan, &err) < 0) {
        resp = http_response_from_error(&err);
        goto out;
    }
    if ((resp = dockerapi_network_attach(api, id, name && *name ? name : short_id, body, image_cfg,
                                         cfg)))
        goto out;
    /* inspect shows the merged labels, as dockerd's does */
    json_t *stored = json_deep_copy(body);
    json_object_set(stored, "Labels", labels);
    meta = json_pack("{s:s, s:s, s:s, s:o, s:O, s:s}", "Image", image, "ImageID", image_id,
                     "Name", name && *name ? name : short_id, "Config", stored, "HostConfig",
                     json_is_object(host) ? host : json_object(), "Created", "");
    char created[48];
    wharf_time_rfc3339(created, sizeof(created));
    json_object_set_new(meta, "Created", json_string(created));
    if (!json_object_get(cfg, "name"))
        json_object_set_new(cfg, "name", json_string(short_id));

    if (mount_rootfs(api, id, image_id, &rootfs, &err) < 0) {
        dockerapi_network_detach(api, id);
        resp = http_response_from_error(&err);
        goto out;
    }
    if (prepare_rootfs(rootfs, user, json_object_get(host, "GroupAdd"), wd, cfg, &err) < 0 ||
        dockerapi_mounts_apply(api, id, mount_plan, rootfs, cfg, meta, &err) < 0) {
        dockerapi_network_detach(api, id);
        dockerapi_unmount_rootfs(api, id);
        resp = http_response_error(err.code == -EINVAL ? 400 : 500, "%s", err.msg);
        goto out;
    }
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    json_object_set_new(cfg, "annotations", json_pack("{s:s}", DOCKERAPI_ANNOTATION, meta_text));
    free(meta_text);
    json_t *sandbox = json_pack("{s:s, s:s, s:b}", "name", json_string_value(json_object_get(cfg, "name")),
                                "hostname", json_string_value(json_object_get(cfg, "hostname")),
                                "infra", 0);
    sandbox_id = xasprintf("sandbox-%s", id);
    int r = cri_sandbox_create(api->cri, sandbox_id, sandbox, &err);
    json_decref(sandbox);
    if (r == 0 && (r = cri_container_create(api->cri, id, sandbox_id, rootfs, cfg, &err)) < 0)
        cri_sandbox_remove(api->cri, sandbox_id, NULL);
    dockerapi_mounts_done(api, id, r == 0);
    if (r < 0) {
        dockerapi_network_detach(api, id);
        dockerapi_unmount_rootfs(api, id);
        resp = http_response_error(err.code == -EINVAL ? 400 : 500, "%s", err.msg);
        goto out;
    }
    dockerapi_container_event(api, id, NULL, "create", NULL);
    resp = http_response_json(201, json_pack("{s:s, s:[]}", "Id", id, "Warnings"));
out:
    free(rootfs);
    free(sandbox_id);
    free(wd);
    if (cfg)
        json_decref(cfg);
    if (image_cfg)
        json_decref(image_cfg);
    if (meta)
        json_decref(meta);
    if (mount_plan)
        json_decref(mount_plan);
    json_decref(body);
    return resp;
}

struct container_route {
    struct dockerapi *api;
    dockerapi_container_fn fn;
};

static http_response *with_container(http_request *req, void *ud)
{
    const struct container_route *route = ud;
    const char *ref = http_request_param(req, "id");
    char id[65];
    int r = dockerapi_resolve(route->api, ref, id);
    if (r == -EEXIST)
        return http_response_error(400, "multiple containers match %s", ref);
    struct cri_container_status st;
    wharf_error err = {0};
    if (r < 0 || cri_container_status(route->api->cri, id, &st, &err) < 0)
        return dockerapi_no_such_container(ref);
    http_response *resp = route->fn(route->api, req, &st);
    cri_container_status_release(&st);
    return resp;
}

int dockerapi_add_container_route(struct dockerapi *api, http_router *r, const char *method,
                                  const char *pattern, dockerapi_container_fn fn, wharf_error *err)
{
    /* Lives as long as the router: the daemon's lifetime. */
    struct container_route *route = xmalloc(sizeof(*route));
    *route = (struct container_route){api, fn};
    return http_router_add(r, method, pattern, with_container, route, err);
}

static http_response *start(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    (void)req;
    wharf_error err = {0};
    int r = dockerapi_start_container(api, st->id, &err);
    if (r < 0) {
        const char *cmd = json_string_value(json_array_get(json_object_get(st->config, "args"), 0));
        http_response *resp =
            http_response_error(dockerapi_start_error_status(err.msg, cmd), "%s", err.msg);
        dockerapi_note_failed_start(st->id);
        /* dockerd removes an AutoRemove container it could not start (docker
         * run --rm waits for that removal before it reports the error). */
        json_t *meta = dockerapi_meta(st);
        wharf_error ignored = {0};
        if (json_is_true(json_object_get(json_object_get(meta, "HostConfig"), "AutoRemove")))
            dockerapi_remove_container(api, st->id, true, true, &ignored);
        if (meta)
            json_decref(meta);
        return resp;
    }
    return http_response_empty(r > 0 ? 304 : 204);
}

static http_response *stop(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *id = st->id;
    int64_t t = -1;
    wharf_error err = {0};
    if (http_request_query_int(req, "t", &t, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    const char *s = http_request_query(req, "signal");
    int sig = s && *s ? cri_parse_signal(s) : 0;
    if (sig < 0)
        return http_response_error(400, "Invalid signal: %s", s);
    int r = dockerapi_stop_container(api, id, sig, (int)t, &err);
    if (r < 0)
        return http_response_error(500, "%s", err.msg);
    return http_response_empty(r > 0 ? 304 : 204);
}

static http_response *kill_container(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *id = st->id;
    const char *s = http_request_query(req, "signal");
    int sig = s && *s ? cri_parse_signal(s) : 9;
    if (sig <= 0)
        return http_response_error(400, "invalid signal: %s", s);
    wharf_error err = {0};
    if (dockerapi_kill_container(api, id, sig, &err) < 0)
        return http_response_error(409, "Cannot kill container: %s: %s",
                                   http_request_param(req, "id"), err.msg);
    return http_response_empty(204);
}

static void auto_remove(struct dockerapi *api, const char *id);

struct wait_job {
    struct dockerapi *api;
    char id[65];
    bool next_exit;
    bool removed; /* condition=removed: answer once it is gone */
    bool remover; /* ... and it is AutoRemove (docker run --rm): this wait removes it */
    int last_code; /* the exit code last seen, for a container removed meanwhile */
    unsigned start_count; /* starts so far when the wait was asked */
    http_stream *stream;
};

/* The docker CLI sends wait before start and only starts once the response
 * headers arrive, so the status is streamed: headers now, the JSON body when
 * the container exits (or nothing, if the client gives up first). */
static void *wait_thread(void *p)
{
    struct wait_job *job = p;
    long poll_ms = 2;
    while (!http_stream_closed(job->stream)) {
        struct cri_container_status st;
        wharf_error err = {0};
        int code = job->last_code;
        bool done = true;
        if (cri_container_status(job->api->cri, job->id, &st, &err) == 0) {
            /* next-exit: an exit of a start that came after the request, even
             * one so quick that it was never seen running. Removed without
             * AutoRemove: whoever removes it ends the wait. */
            done = st.state == CRI_STATE_EXITED &&
                   (!job->next_exit || st.start_count > job->start_count) &&
                   (!job->removed || job->remover);
            code = job->last_code = st.exit_code;
            cri_container_status_release(&st);
        }
        if (done) {
            /* The attached docker run reads the output from the log, which
             * goes with the container: let it finish first. */
            while (job->remover && dockerapi_monitor_log_readers(job->api, job->id) > 0 &&
                   !http_stream_closed(job->stream)) {
                struct timespec ts = {0, 2 * 1000000};
                nanosleep(&ts, NULL);
            }
            if (http_stream_closed(job->stream))
                break; /* gone: the monitor removes it once the readers are done */
            if (job->remover)
                auto_remove(job->api, job->id);
            http_stream_printf(job->stream, "{\"StatusCode\":%d,\"Error\":null}\n", code);
            break;
        }
        /* Quick commands (docker run --rm IMG true) exit within
         * milliseconds: look often at first, then every 50 ms. */
        struct timespec ts = {0, poll_ms * 1000000L};
        nanosleep(&ts, NULL);
        poll_ms = poll_ms * 3 / 2 < 50 ? poll_ms * 3 / 2 : 50;
    }
    if (job->remover)
        dockerapi_monitor_wait_removal(job->api, job->id, false);
    http_stream_close(job->stream);
    free(job);
    return NULL;
}

static http_response *wait_container(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *id = st->id;
    const char *cond = http_request_query(req, "condition");
    if (cond && *cond && strcmp(cond, "not-running") != 0 && strcmp(cond, "next-exit") != 0 &&
        strcmp(cond, "removed") != 0)
        return http_response_error(400, "invalid condition: \"%s\"", cond);
    struct wait_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    snprintf(job->id, sizeof(job->id), "%s", id);
    job->removed = cond && strcmp(cond, "removed") == 0;
    job->next_exit = cond && (strcmp(cond, "next-exit") == 0 || job->removed);
    job->start_count = st->start_count;
    /* Running now: its coming exit is the next one. */
    if (dockerapi_is_up(st))
        job->start_count--;
    /* docker run --rm: this request removes it after reading the exit code. */
    if (job->removed) {
        json_t *meta = dockerapi_meta(st);
        job->remover = json_is_true(
            json_object_get(json_object_get(meta, "HostConfig"), "AutoRemove"));
        json_decref(meta);
    }
    if (job->remover)
        dockerapi_monitor_wait_removal(api, id, true);
    http_response *resp = http_response_stream(200, "application/json", &job->stream);
    dockerapi_start_producer(wait_thread, job, job->stream);
    return resp;
}

static http_response *remove_container(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *id = st->id;
    bool force = http_request_query_bool(req, "force", false);
    bool volumes = http_request_query_bool(req, "v", false);
    wharf_error err = {0};
    if (dockerapi_remove_container(api, id, force, volumes, &err) < 0) {
        if (err.code == -EBUSY)
            return http_response_error(409, "cannot remove container \"%s\": %s: stop the "
                                            "container before removing or force remove",
                                       http_request_param(req, "id"), err.msg);
        return http_response_from_error(&err);
    }
    return http_response_empty(204);
}

/* docker run --rm: the container goes once it has exited. */
static void auto_remove(struct dockerapi *api, const char *id)
{
    wharf_error ignored = {0}; /* it may be gone already (a start that failed) */
    dockerapi_remove_container(api, id, true, true, &ignored);
}

/* The HostConfig the container was created with, completed with what
 * dockerd fills in: clients read LogConfig.Type unconditionally (the Python
 * SDK's containers.run reads logs back only from json-file or journald). */
static json_t *host_config_view(json_t *meta)
{
    json_t *host = json_deep_copy(meta ? json_object_get(meta, "HostConfig") : NULL);
    if (!json_is_object(host)) {
        if (host)
            json_decref(host);
        host = json_object();
    }
    json_t *log = json_object_get(host, "LogConfig");
    const char *type = json_string_value(json_object_get(log, "Type"));
    if (!json_is_object(log) || !type || !*type)
        json_object_set_new(host, "LogConfig", json_pack("{s:s, s:{}}", "Type",
                                                         DOCKERAPI_LOG_DRIVER, "Config"));
    if (!json_is_object(json_object_get(host, "RestartPolicy")))
        json_object_set_new(host, "RestartPolicy",
                            json_pack("{s:s, s:i}", "Name", "no", "MaximumRetryCount", 0));
    if (!json_is_boolean(json_object_get(host, "AutoRemove")))
        json_object_set_new(host, "AutoRemove", json_false());
    return host;
}

static http_response *inspect(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *stp)
{
    (void)req;
    const struct cri_container_status st = *stp;
    struct dockerapi_run_state rs;
    dockerapi_run_state(api, stp, &rs);
    json_t *meta = dockerapi_meta(&st);
    json_t *args = json_object_get(st.config, "args");
    json_t *rest = json_array();
    for (size_t i = 1; i < json_array_size(args); i++)
        json_array_append(rest, json_array_get(args, i));
    _cleanup_free_ char *started = dockerapi_time_text(st.started_at);
    _cleanup_free_ char *finished = dockerapi_time_text(st.finished_at);
    _cleanup_free_ char *name = xasprintf("/%s", st.name ? st.name : "");
    json_t *config = json_deep_copy(meta ? json_object_get(meta, "Config") : NULL);
    if (!config)
        config = json_object();
    json_object_set_new(config, "Hostname",
                        json_string(json_string_value(json_object_get(st.config, "hostname"))));
    json_object_set(config, "Env", json_object_get(st.config, "env"));
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}, "
        "s:s, s:s, s:i, s:s, s:o, s:o, s:[], s:{s:{}}, s:s}",
        "Id", st.id, "Created", meta ? json_string_value(json_object_get(meta, "Created")) : "",
        "Path", json_string_value(json_array_get(args, 0)), "Args", rest, "State", "Status",
        rs.restarting ? "restarting" : dockerapi_state_name(st.state), "Running",
        dockerapi_is_up(&st) || rs.restarting, "Paused", st.state == CRI_STATE_PAUSED,
        "Restarting", rs.restarting, "OOMKilled", st.oom_killed,
        "Dead", 0, "Pid", (int)st.pid, "ExitCode", rs.error[0] ? rs.error_exit : st.exit_code,
        "Error", rs.error, "StartedAt",
        started, "FinishedAt", finished, "Image",
        meta ? json_string_value(json_object_get(meta, "ImageID")) : "", "Name", name,
        "RestartCount", (int)rs.restart_count, "Driver", "overlay2", "Config", config,
        "HostConfig", host_config_view(meta), "Mounts",
        "NetworkSettings", "Networks", "LogPath", st.log_path ? st.log_path : "");
    json_object_set_new(j, "Mounts", dockerapi_mount_points(meta));
    if (meta)
        json_decref(meta);
    dockerapi_network_describe(api, st.id, j, false);
    dockerapi_health_describe(api, stp, j);
    return http_response_json(200, j);
}

struct log_job {
    struct dockerapi *api;
    char id[65];
    struct cri_log_opts opts;
    bool tty, timestamps;
    http_stream *stream;
};

static int write_record(const struct cri_log_record *rec, void *ud)
{
    struct log_job *job = ud;
    strbuf line = STRBUF_INIT;
    if (job->timestamps)
        strbuf_addf(&line, "%s ", rec->timestamp);
    strbuf_add(&line, rec->content, rec->len);
    /* A terminal's lines end in "\r\n" (the shim keeps them without the
     * '\r', as CRI logs do); docker logs gives them back as written. */
    if (!rec->partial)
        strbuf_addstr(&line, job->tty ? "\r\n" : "\n");
    int r;
    if (job->tty) {
        r = http_stream_write(job->stream, line.buf, line.len);
    } else {
        unsigned char h[8] = {(unsigned char)rec->stream, 0, 0, 0,
                              (unsigned char)(line.len >> 24), (unsigned char)(line.len >> 16),
                              (unsigned char)(line.len >> 8), (unsigned char)line.len};
        r = http_stream_write(job->stream, h, 8);
        if (r == 0)
            r = http_stream_write(job->stream, line.buf, line.len);
    }
    strbuf_release(&line);
    return r < 0 ? 1 : 0;
}

static bool keep_following(void *ud)
{
    struct log_job *job = ud;
    return !http_stream_closed(job->stream);
}

static void *log_thread(void *p)
{
    struct log_job *job = p;
    wharf_error err = {0};
    cri_container_logs(job->api->cri, job->id, &job->opts, write_record, job, &err);
    http_stream_close(job->stream);
    dockerapi_monitor_log_reader(job->api, job->id, false);
    free(job);
    return NULL;
}

/* since/until: what the docker CLI and SDKs send, seconds[.nanoseconds]
 * since the epoch; absent or 0 is no bound. */
static int query_unix_time(http_request *req, const char *key, struct timespec *out,
                           wharf_error *err)
{
    const char *v = http_request_query(req, key);
    *out = (struct timespec){0, 0};
    if (!v || !*v)
        return 0;
    size_t secs = strspn(v, "0123456789");
    const char *frac = v + secs;
    size_t digits = *frac == '.' ? strspn(frac + 1, "0123456789") : 0;
    if (secs == 0 || secs > 18 || (*frac && (*frac != '.' || digits == 0 || digits > 9 ||
                                             frac[1 + digits])))
        return wharf_error_set(err, -EINVAL, "invalid value for \"%s\": %s: expected "
                               "seconds[.nanoseconds] since the epoch", key, v);
    out->tv_sec = (time_t)strtoll(v, NULL, 10);
    long ns = 0;
    for (size_t i = 0; i < 9; i++)
        ns = ns * 10 + (i < digits ? frac[1 + i] - '0' : 0);
    out->tv_nsec = ns;
    return 0;
}

static http_response *logs(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *id = st->id;
    bool tty = json_is_true(json_object_get(st->config, "tty"));
    struct timespec since, until;
    wharf_error err = {0};
    if (query_unix_time(req, "since", &since, &err) < 0 ||
        query_unix_time(req, "until", &until, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    struct log_job *job = xcalloc(1, sizeof(*job));
    job->api = api;
    snprintf(job->id, sizeof(job->id), "%s", id);
    job->opts.since = since;
    job->opts.until = until;
    job->tty = tty;
    job->timestamps = http_request_query_bool(req, "timestamps", false);
    job->opts.tail = -1;
    const char *tail = http_request_query(req, "tail");
    if (tail && strcmp(tail, "all") != 0 && *tail)
        job->opts.tail = strtol(tail, NULL, 10);
    job->opts.follow = http_request_query_bool(req, "follow", false);
    job->opts.keep_following = keep_following;
    unsigned streams = 0;
    if (http_request_query_bool(req, "stdout", false))
        streams |= 1u << CRI_STREAM_STDOUT;
    if (http_request_query_bool(req, "stderr", false))
        streams |= 1u << CRI_STREAM_STDERR;
    if (!streams) {
        free(job);
        return http_response_error(400, "you must choose at least one stream");
    }
    job->opts.streams = streams;
    http_response *r = http_response_stream(
        200, tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
        &job->stream);
    /* A reader from now on, so an auto-removal waits for it. */
    dockerapi_monitor_log_reader(api, id, true);
    if (!dockerapi_start_producer(log_thread, job, job->stream))
        dockerapi_monitor_log_reader(api, id, false);
    return r;
}

int dockerapi_register(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = dockerapi_register_images(api, r, err)) < 0)
        return rc;
    if ((rc = dockerapi_register_events(api, r, err)) < 0)
        return rc;
    if ((rc = dockerapi_register_registry(api, r, err)) < 0)
        return rc;
    if (!api->cri)
        return 0;
    if ((rc = dockerapi_monitor_init(api, err)) < 0)
        return rc;
    static const struct {
        const char *method, *pattern;
        dockerapi_container_fn fn;
    } routes[] = {
        {"GET", "/containers/{id}/json", inspect},
        {"POST", "/containers/{id}/start", start},
        {"POST", "/containers/{id}/stop", stop},
        {"POST", "/containers/{id}/kill", kill_container},
        {"POST", "/containers/{id}/wait", wait_container},
        {"GET", "/containers/{id}/logs", logs},
        {"DELETE", "/containers/{id}", remove_container},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if ((rc = dockerapi_add_container_route(api, r, routes[i].method, routes[i].pattern,
                                                routes[i].fn, err)) < 0)
            return rc;
    if ((rc = http_router_add(r, "POST", "/containers/create", create, api, err)) < 0 ||
        (rc = dockerapi_register_container_list(api, r, err)) < 0 ||
        (rc = dockerapi_register_usage(api, r, err)) < 0 ||
        (rc = dockerapi_register_exec(api, r, err)) < 0 ||
        (rc = dockerapi_register_build(api, r, err)) < 0 ||
        (rc = dockerapi_register_container_ops(api, r, err)) < 0 ||
        (rc = dockerapi_register_networks(api, r, err)) < 0 ||
        (rc = dockerapi_register_limits(api, r, err)) < 0 ||
        (rc = dockerapi_register_archive(api, r, err)) < 0 ||
        (rc = dockerapi_register_volumes(api, r, err)) < 0 ||
        (rc = dockerapi_register_commit(api, r, err)) < 0)
        return rc;
    return 0;
}
