/*
 * archive.c — docker cp's routes: HEAD /containers/{id}/archive (the stat
 * of a path, in the X-Docker-Container-Path-Stat header), GET (a tar of it,
 * with that header) and PUT (a tar extracted into a directory, streamed
 * through as it arrives), over rootcopy.h.
 *
 * Which root: a container that runs is reached through /proc/PID/root, so a
 * copy sees and writes what its processes see, bind mounts and tmpfs
 * included (pseudo filesystems such as /proc are left out of tars); one that
 * does not is its overlay, ROOT/rootfs/ID/merged, mounted from create to
 * removal. Either way every path is resolved inside that root.
 */
#include "internal.h"
#include "rootcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The root a copy works in (an O_PATH fd), see above. */
static int container_root(struct dockerapi *api, const struct cri_container_status *st,
                          wharf_error *err)
{
    if (dockerapi_is_up(st) && st->pid > 0) {
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/root", (int)st->pid);
        int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
    }
    _cleanup_free_ char *merged = xasprintf("%s/rootfs/%s/merged", api->root, st->id);
    _cleanup_free_ char *parent = xasprintf("%s/rootfs/%s", api->root, st->id);
    struct stat a, b;
    if (stat(merged, &a) < 0 || stat(parent, &b) < 0 || a.st_dev == b.st_dev)
        return wharf_error_set(err, -EIO, "container %s has no root filesystem mounted", st->id);
    int fd = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open %s", merged);
    return fd;
}

static http_response *not_found(http_request *req, const char *path)
{
    return http_response_error(404, "Could not find the file %s in container %s", path,
                               http_request_param(req, "id"));
}

/* ---------------------------------------------------------------- GET, HEAD */

struct tar_job {
    int root_fd, fd;
    char *path, *id;
};

static void *tar_thread(void *p)
{
    struct tar_job *job = p;
    wharf_error err = {0};
    if (rootcopy_tar(job->root_fd, job->path, NULL, job->fd, NULL, &err) < 0 && err.code != -EPIPE)
        wlog_warn("copy from container %s: %s", job->id, err.msg);
    close(job->fd);
    close(job->root_fd);
    free(job->path);
    free(job->id);
    free(job);
    return NULL;
}

static http_response *archive_get(struct dockerapi *api, http_request *req,
                                  const struct cri_container_status *st)
{
    const char *path = http_request_query(req, "path");
    if (!path || !*path)
        return http_response_error(400, "Path cannot be empty");
    wharf_error err = {0};
    int root = container_root(api, st, &err);
    if (root < 0)
        return http_response_error(500, "%s", err.msg);
    struct rootcopy_stat stat;
    if (rootcopy_stat_path(root, path, &stat, &err) < 0) {
        close(root);
        if (err.code == -ENOENT)
            return not_found(req, path);
        return http_response_error(500, "%s", err.msg);
    }
    _cleanup_free_ char *header = rootcopy_stat_header(&stat);
    rootcopy_stat_release(&stat);
    http_response *resp;
    if (strcmp(http_request_method(req), "HEAD") == 0) {
        close(root);
        resp = http_response_empty(200);
    } else {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
            close(root);
            return http_response_error(500, "pipe: %s", strerror(errno));
        }
        struct tar_job *job = xcalloc(1, sizeof(*job));
        *job = (struct tar_job){root, fds[1], xstrdup(path), xstrdup(st->id)};
        pthread_t t;
        if (pthread_create(&t, NULL, tar_thread, job) != 0) {
            close(fds[0]);
            close(fds[1]);
            close(root);
            free(job->path);
            free(job->id);
            free(job);
            return http_response_error(500, "copy from container %s: no thread", st->id);
        }
        pthread_detach(t);
        resp = http_response_fd(200, "application/x-tar", fds[0]);
        dockerapi_container_event(api, st->id, st, "archive-path", NULL);
    }
    http_response_set_header(resp, "X-Docker-Container-Path-Stat", header);
    return resp;
}

/* ---------------------------------------------------------------- PUT */

struct put_job {
    char id[65];
    int root_fd;
    char *dir; /* the destination, resolved inside the root */
    struct rootcopy_extract_opts opts;
    int in;  /* the pipe the body goes into; -1 once closed */
    int out; /* its other end, until the thread takes it */
    pthread_t thread;
    bool started;
    int result;
    wharf_error err;
};

static void *extract_thread(void *p)
{
    struct put_job *job = p;
    job->result = rootcopy_extract(job->root_fd, job->dir, job->out, &job->opts, &job->err);
    /* a writer still sending gets EPIPE from here on */
    close(job->out);
    job->out = -1;
    return NULL;
}

static void put_job_free(void *p)
{
    struct put_job *job = p;
    if (job->in >= 0)
        close(job->in);
    if (job->started)
        pthread_join(job->thread, NULL);
    if (job->out >= 0)
        close(job->out);
    if (job->root_fd >= 0)
        close(job->root_fd);
    free(job->dir);
    free(job);
}

/* Everything dockerd checks before it reads the archive; NULL with err
 * (its code gives the status) when the copy cannot go ahead. */
static struct put_job *prepare_put(struct dockerapi *api, http_request *req, wharf_error *err)
{
    const char *ref = http_request_param(req, "id");
    char id[65];
    int r = dockerapi_resolve(api, ref, id);
    if (r == -EEXIST) {
        wharf_error_set(err, -EINVAL, "multiple containers match %s", ref);
        return NULL;
    }
    struct cri_container_status st;
    if (r < 0 || cri_container_status(api->cri, id, &st, err) < 0) {
        wharf_error_clear(err);
        wharf_error_set(err, -ENOENT, "No such container: %s", ref);
        return NULL;
    }
    struct put_job *job = NULL;
    json_t *meta = NULL;
    int root = -1, dfd = -1;
    char *dir = NULL;
    wharf_error e = {0};
    struct stat rs, ds;
    int fds[2];
    const char *path = http_request_query(req, "path");
    if (!path || !*path) {
        wharf_error_set(err, -EINVAL, "Path cannot be empty");
        goto out;
    }
    if ((root = container_root(api, &st, err)) < 0)
        goto out;
    if (!(dir = rootcopy_resolve(root, path))) {
        wharf_error_set(err, -ELOOP, "%s: too many levels of symbolic links", path);
        goto out;
    }
    if ((dfd = wharf_open_in_root(root, dir, O_PATH | O_DIRECTORY, 0, &e)) < 0) {
        if (e.code == -ENOENT)
            wharf_error_set(err, -ENOENT, "Could not find the file %s in container %s", path, ref);
        else if (e.code == -ENOTDIR)
            wharf_error_set(err, -EINVAL, "extraction point is not a directory");
        else
            wharf_error_set(err, e.code, "%s", e.msg);
        goto out;
    }
    meta = dockerapi_meta(&st);
    /* a read-only root: only what is mounted on it (a volume, a tmpfs) takes files */
    if (json_is_true(json_object_get(json_object_get(meta, "HostConfig"), "ReadonlyRootfs")) &&
        fstat(root, &rs) == 0 && fstat(dfd, &ds) == 0 && rs.st_dev == ds.st_dev) {
        wharf_error_set(err, -EINVAL, "container rootfs is marked read-only");
        goto out;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        wharf_error_errno(err, errno, "pipe");
        goto out;
    }
    job = xcalloc(1, sizeof(*job));
    snprintf(job->id, sizeof(job->id), "%s", id);
    job->root_fd = root;
    job->dir = dir;
    root = -1;
    dir = NULL;
    job->in = fds[1];
    job->out = fds[0];
    job->opts.no_overwrite_dir_non_dir =
        http_request_query_bool(req, "noOverwriteDirNonDir", false);
    if (http_request_query_bool(req, "copyUIDGID", false)) {
        /* docker cp -a: the container's user owns what arrives */
        json_t *user = json_object_get(st.config, "user");
        job->opts.force_owner = true;
        job->opts.uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
        job->opts.gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
    }
    if ((r = pthread_create(&job->thread, NULL, extract_thread, job)) != 0) {
        wharf_error_errno(err, r, "copy into container %s: no thread", id);
        put_job_free(job);
        job = NULL;
        goto out;
    }
    job->started = true;
out:
    if (dfd >= 0)
        close(dfd);
    if (root >= 0)
        close(root);
    free(dir);
    if (meta)
        json_decref(meta);
    cri_container_status_release(&st);
    return job;
}

static int put_chunk(http_request *req, const void *data, size_t len, void *ud, wharf_error *err)
{
    struct dockerapi *api = ud;
    struct put_job *job = http_request_data(req);
    if (!job) {
        if (!(job = prepare_put(api, req, err)))
            return err->code;
        http_request_set_data(req, job, put_job_free);
    }
    int r = job->in >= 0 ? wharf_write_all(job->in, data, len) : -EPIPE;
    if (r == 0)
        return 0;
    /* the extraction stopped early: its error is the answer */
    close(job->in);
    job->in = -1;
    pthread_join(job->thread, NULL);
    job->started = false;
    if (job->result < 0)
        return wharf_error_set(err, job->result, "%s", job->err.msg);
    return wharf_error_errno(err, -r, "copy into container %s", job->id);
}

static http_response *archive_put(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    wharf_error err = {0};
    struct put_job *job = http_request_data(req);
    if (!job) { /* no body at all: an empty archive, after the same checks */
        if (!(job = prepare_put(api, req, &err)))
            return http_response_from_error(&err);
        http_request_set_data(req, job, put_job_free);
    }
    if (job->in >= 0) {
        close(job->in);
        job->in = -1;
    }
    if (job->started) {
        pthread_join(job->thread, NULL);
        job->started = false;
    }
    if (job->result < 0)
        return http_response_error(job->result == -EINVAL ? 400 : 500, "%s", job->err.msg);
    dockerapi_container_event(api, job->id, NULL, "extract-to-dir", NULL);
    return http_response_empty(200);
}

int dockerapi_register_archive(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = dockerapi_add_container_route(api, r, "GET", "/containers/{id}/archive", archive_get,
                                            err)) < 0 ||
        (rc = dockerapi_add_container_route(api, r, "HEAD", "/containers/{id}/archive", archive_get,
                                            err)) < 0)
        return rc;
    return http_router_add_upload(r, "PUT", "/containers/{id}/archive", put_chunk, archive_put, api,
                                  err);
}
