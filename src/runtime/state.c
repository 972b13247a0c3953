/*
 * state.c — the container state directory: <root>/<id>/state.json written
 * atomically, exec.fifo while the container is created but not started, and
 * the status derived from the init's pid, its start time and the freezer.
 */
#include "internal.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>

const char *container_status_name(enum container_status s)
{
    static const char *names[] = {"creating", "created", "running", "paused", "stopped"};
    return names[s];
}

bool container_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '+'))
            return false;
    }
    return true;
}

char *container_dir(const struct runtime_ctx *ctx, const char *id)
{
    return xasprintf("%s/%s", ctx->root, id);
}

unsigned long long proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: parse after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    char state = p[2];
    if (state == 'Z' || state == 'X')
        return 0;
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

int container_lock(const char *dir, wharf_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return wharf_error_errno(err, errno, "open %s", dir);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return wharf_error_errno(err, e, "lock %s", dir);
        }
    }
    return fd;
}

void container_free(struct container *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->dir);
    free(c->bundle);
    free(c->rootfs);
    free(c->cgroup);
    free(c->created);
    if (c->config)
        json_decref(c->config);
    free(c);
}

int container_save(const struct container *c, wharf_error *err)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:b, s:b, s:O}", "id", c->id,
                          "bundle", c->bundle, "rootfs", c->rootfs, "cgroup",
                          c->cgroup ? c->cgroup : "", "created", c->created, "pid", (int)c->pid,
                          "start_time", (json_int_t)c->start_time, "no_pivot", c->no_pivot,
                          "systemd_cgroup", c->systemd_cgroup, "config", c->config);
    if (!j)
        return wharf_error_set(err, -ENOMEM, "container %s: cannot encode state", c->id);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    _cleanup_free_ char *path = xasprintf("%s/state.json", c->dir);
    int r = wharf_write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return r;
}

int container_load(const struct runtime_ctx *ctx, const char *id, struct container **out,
                   wharf_error *err)
{
    if (!container_id_valid(id))
        return wharf_error_set(err, -EINVAL, "invalid container id '%s'", id ? id : "");
    _cleanup_free_ char *dir = container_dir(ctx, id);
    _cleanup_free_ char *path = xasprintf("%s/state.json", dir);
    if (access(path, F_OK) < 0)
        return wharf_error_set(err, -ENOENT, "container %s does not exist", id);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        return wharf_error_set(err, -EINVAL, "container %s: corrupt state %s: %s", id, path,
                               je.text);
    const char *bundle = "", *rootfs = "", *cgroup = "", *created = "";
    int pid = 0;
    json_int_t start = 0;
    int no_pivot = 0, systemd = 0;
    json_t *config = NULL;
    if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s:s, s:s, s:i, s:I, s?b, s?b, s:o}", "bundle",
                       &bundle, "rootfs", &rootfs, "cgroup", &cgroup, "created", &created, "pid",
                       &pid, "start_time", &start, "no_pivot", &no_pivot, "systemd_cgroup",
                       &systemd, "config", &config) < 0) {
        json_decref(j);
        return wharf_error_set(err, -EINVAL, "container %s: corrupt state %s: %s", id, path,
                               je.text);
    }
    struct container *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(id);
    c->dir = steal_ptr(dir);
    c->bundle = xstrdup(bundle);
    c->rootfs = xstrdup(rootfs);
    c->cgroup = *cgroup ? xstrdup(cgroup) : NULL;
    c->created = xstrdup(created);
    c->pid = pid;
    c->start_time = (unsigned long long)start;
    c->no_pivot = no_pivot;
    c->systemd_cgroup = systemd;
    c->config = json_incref(config);
    json_decref(j);
    *out = c;
    return 0;
}

enum container_status container_status(const struct container *c)
{
    if (c->pid <= 0 || proc_start_time(c->pid) != c->start_time)
        return STATUS_STOPPED;
    _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", c->dir);
    if (access(fifo, F_OK) == 0)
        return STATUS_CREATED;
    if (c->cgroup) {
        struct cgroup *cg = NULL;
        wharf_error e = {0};
        if (cgroup_open(c->cgroup, &cg, &e) == 0) {
            int frozen = cgroup_is_frozen(cg, &e);
            cgroup_free(cg);
            if (frozen == 1)
                return STATUS_PAUSED;
        }
    }
    return STATUS_RUNNING;
}

json_t *container_state_json(const struct container *c, enum container_status status)
{
    json_t *st = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", WHARF_OCI_VERSION, "id",
                           c->id, "status", container_status_name(status), "pid",
                           status == STATUS_STOPPED ? 0 : (int)c->pid, "bundle", c->bundle);
    json_t *ann = json_object_get(c->config, "annotations");
    if (json_is_object(ann) && json_object_size(ann) > 0)
        json_object_set(st, "annotations", ann);
    json_object_set_new(st, "rootfs", json_string(c->rootfs));
    json_object_set_new(st, "created", json_string(c->created));
    json_object_set_new(st, "owner", json_string(""));
    return st;
}

json_t *runtime_state(const struct runtime_ctx *ctx, const char *id, wharf_error *err)
{
    struct container *c = NULL;
    if (container_load(ctx, id, &c, err) < 0)
        return NULL;
    json_t *st = container_state_json(c, container_status(c));
    container_free(c);
    return st;
}

json_t *runtime_list(const struct runtime_ctx *ctx, wharf_error *err)
{
    json_t *arr = json_array();
    DIR *d = opendir(ctx->root);
    if (!d) {
        if (errno == ENOENT)
            return arr;
        json_decref(arr);
        wharf_error_errno(err, errno, "open %s", ctx->root);
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !container_id_valid(de->d_name))
            continue;
        struct container *c = NULL;
        wharf_error e = {0};
        if (container_load(ctx, de->d_name, &c, &e) < 0)
            continue; /* being created or deleted right now */
        json_array_append_new(arr, container_state_json(c, container_status(c)));
        container_free(c);
    }
    closedir(d);
    return arr;
}
