/*
 * cgroup.c — the layout-independent half of the cgroup manager: resolving
 * cgroupsPath, creating/opening/removing the directories, joining, the
 * freezer, listing and signalling members, and dispatching linux.resources.
 *
 * Layouts (see cgroup.h): on v2 a container is one directory under
 * /sys/fs/cgroup; on v1 it is one directory per mounted hierarchy
 * (/sys/fs/cgroup/<controllers>/PATH, co-mounted controllers such as
 * cpu,cpuacct counted once); hybrid is v1 plus a directory in the cgroup2
 * mount at /sys/fs/cgroup/unified, which tracks processes and carries the
 * eBPF device filter. The canonical path is the same on every hierarchy.
 * Resource writers live in cgroup_v1.c / cgroup_v2.c, the device program in
 * cgroup_devices_bpf.c, host discovery in cgroup_host.c.
 */
#include "cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FREEZE_TIMEOUT_MS 5000
#define RMDIR_TIMEOUT_MS 2000

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------ paths */

/* Joins the components of a (possibly relative) path onto sb, dropping
 * empty and "." components; ".." is refused so no path climbs out. */
static int append_components(strbuf *sb, const char *path, const char *what, wharf_error *err)
{
    _cleanup_free_ char *copy = xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0)
            return wharf_error_set(err, -EINVAL, "%s '%s': '..' is not allowed", what, path);
        strbuf_addch(sb, '/');
        strbuf_addstr(sb, c);
    }
    return 0;
}

int cgroup_expand_slice(const char *slice, char **out, wharf_error *err)
{
    const char *suffix = ".slice";
    size_t len = strlen(slice), slen = strlen(suffix);
    if (len <= slen || strcmp(slice + len - slen, suffix) != 0 || strchr(slice, '/'))
        return wharf_error_set(err, -EINVAL, "invalid systemd slice name '%s'", slice);
    size_t base_len = len - slen;
    if (base_len == 1 && slice[0] == '-') { /* "-.slice" is the root slice */
        *out = xstrdup("");
        return 0;
    }
    _cleanup_free_ char *base = xstrdup(slice);
    base[base_len] = '\0';
    if (base[0] == '-' || base[base_len - 1] == '-' || strstr(base, "--"))
        return wharf_error_set(err, -EINVAL, "invalid systemd slice name '%s'", slice);
    /* Every dash opens one level: a-b-c.slice lives in a.slice/a-b.slice/. */
    strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < base_len; i++) {
        if (base[i] != '-')
            continue;
        strbuf_addch(&sb, '/');
        strbuf_add(&sb, base, i);
        strbuf_addstr(&sb, suffix);
    }
    strbuf_addf(&sb, "/%s", slice);
    *out = strbuf_detach(&sb);
    return 0;
}

/* The runtime's own cgroup, from /proc/self/cgroup: the v2 entry where there
 * is one to go by, otherwise the name=systemd hierarchy, otherwise the first
 * line. malloc'd. */
static int own_cgroup(char **out, wharf_error *err)
{
    _cleanup_free_ char *content = NULL;
    int r = wharf_read_file("/proc/self/cgroup", &content, NULL, err);
    if (r < 0)
        return r;
    enum cgroup_layout layout = cgroup_host_layout();
    const char *v2 = NULL, *systemd = NULL, *first = NULL;
    for (char *line = content; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = '\0';
            const char *ctrls = c1 + 1, *path = c2 + 1;
            if (strncmp(line, "0:", 2) == 0 && !*ctrls)
                v2 = path;
            else if (strcmp(ctrls, "name=systemd") == 0)
                systemd = path;
            if (!first)
                first = path;
        }
        line = next;
    }
    const char *pick = layout == CGROUP_LAYOUT_V2 ? v2 : (systemd ? systemd : (v2 ? v2 : first));
    if (!pick)
        return wharf_error_set(err, -ENOENT, "cannot find our own cgroup in /proc/self/cgroup");
    *out = xstrdup(pick);
    return 0;
}

int cgroup_resolve_path(const char *cgroups_path, const char *container_id, bool systemd_naming,
                        char **out, wharf_error *err)
{
    const char *id = container_id ? container_id : "";
    const char *path = cgroups_path ? cgroups_path : "";
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    int r;

    if (systemd_naming) {
        /* "slice:prefix:name"; an empty path means system.slice:wharf:ID. */
        _cleanup_free_ char *spec = *path ? xstrdup(path) : xasprintf("system.slice:wharf:%s", id);
        char *c1 = strchr(spec, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strchr(c2 + 1, ':'))
            return wharf_error_set(err, -EINVAL,
                                   "cgroupsPath '%s': expected \"slice:prefix:name\" with "
                                   "systemd cgroup naming",
                                   path);
        *c1 = *c2 = '\0';
        const char *slice = *spec ? spec : "system.slice";
        const char *prefix = c1 + 1, *name = c2 + 1;
        if (!*name || strchr(name, '/') || strchr(prefix, '/'))
            return wharf_error_set(err, -EINVAL, "cgroupsPath '%s': invalid unit name", path);
        _cleanup_free_ char *slice_path = NULL;
        if ((r = cgroup_expand_slice(slice, &slice_path, err)) < 0)
            return wharf_error_prefix(err, "cgroupsPath '%s'", path);
        strbuf_addstr(&sb, slice_path);
        size_t nlen = strlen(name);
        if (nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0)
            strbuf_addf(&sb, "/%s", name); /* a slice names itself */
        else if (*prefix)
            strbuf_addf(&sb, "/%s-%s.scope", prefix, name);
        else
            strbuf_addf(&sb, "/%s.scope", name);
    } else if (!*path) {
        if (!*id || strchr(id, '/'))
            return wharf_error_set(err, -EINVAL, "cgroup: invalid container id '%s'", id);
        strbuf_addf(&sb, "/wharf/%s", id);
    } else {
        if (path[0] != '/') {
            _cleanup_free_ char *own = NULL;
            if ((r = own_cgroup(&own, err)) < 0)
                return r;
            if ((r = append_components(&sb, own, "own cgroup", err)) < 0)
                return r;
        }
        if ((r = append_components(&sb, path, "cgroupsPath", err)) < 0)
            return r;
    }
    if (sb.len == 0)
        return wharf_error_set(err, -EINVAL, "cgroupsPath '%s': resolves to the root cgroup", path);
    *out = strbuf_detach(&sb);
    return 0;
}

/* ------------------------------------------------------------ objects */

static struct cgroup *cgroup_new(char *path)
{
    struct cgroup *cg = xcalloc(1, sizeof(*cg));
    cg->path = path;
    return cg;
}

const char *cgroup_path(const struct cgroup *cg)
{
    return cg->path;
}

void cgroup_free(struct cgroup *cg)
{
    if (!cg)
        return;
    free(cg->path);
    free(cg);
}

/* The directory that tracks the processes: the v2 one where it exists,
 * otherwise the first of a few v1 hierarchies every container joins. */
static char *tracking_dir(const struct cgroup *cg)
{
    const struct cgroup_host *host = cgroup_host_get();
    if (host->v2)
        return cgroup_dir_on(host->v2, cg->path);
    static const char *const prefer[] = {"pids", "freezer", "memory",
                                         "cpu",  "devices", "name=systemd"};
    for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]); i++) {
        const struct cgroup_hierarchy *h = cgroup_host_v1_find(prefer[i]);
        if (h)
            return cgroup_dir_on(h, cg->path);
    }
    return host->n_v1 ? cgroup_dir_on(&host->v1[0], cg->path) : NULL;
}

/* cpuset refuses tasks while cpuset.cpus/mems are empty, and a new v1
 * directory starts empty: give every level its parent's values. */
static int cpuset_fill_from_parent(const char *parent, const char *dir, wharf_error *err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_free_ char *cur = NULL, *up = NULL;
        int r = cgroup_read(dir, files[i], &cur, err);
        if (r < 0)
            return r;
        if (*cur)
            continue;
        if ((r = cgroup_read(parent, files[i], &up, err)) < 0)
            return r;
        if ((r = cgroup_write(dir, files[i], up, err)) < 0)
            return r;
    }
    return 0;
}

/* mkdir for each level of path below mount; *created tells whether the
 * leaf is new. v2_enable turns on controllers in each parent first. */
static int make_levels(const struct cgroup_hierarchy *h, const char *path, bool cpuset,
                       bool v2_enable, bool *created, wharf_error *err)
{
    _cleanup_strbuf_ strbuf dir = STRBUF_INIT;
    strbuf_addstr(&dir, h->mount);
    *created = false;
    const char *p = path;
    while (*p) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - p) : strlen(p);
        _cleanup_free_ char *parent = xstrdup(strbuf_str(&dir));
        if (v2_enable)
            cgroup_v2_enable_controllers(h->mount, parent + strlen(h->mount));
        strbuf_add(&dir, p, len);
        bool made = mkdir(strbuf_str(&dir), 0755) == 0;
        if (!made && errno != EEXIST)
            return wharf_error_errno(err, errno, "mkdir %s", strbuf_str(&dir));
        if (cpuset) {
            int r = cpuset_fill_from_parent(parent, strbuf_str(&dir), err);
            if (r < 0) {
                if (made)
                    rmdir(strbuf_str(&dir));
                return r;
            }
        }
        *created = made;
        p += len;
    }
    return 0;
}

int cgroup_create(const char *cgroups_path, const char *container_id, bool systemd_naming,
                  struct cgroup **out, wharf_error *err)
{
    _cleanup_free_ char *path = NULL;
    int r = cgroup_resolve_path(cgroups_path, container_id, systemd_naming, &path, err);
    if (r < 0)
        return r;
    const struct cgroup_host *host = cgroup_host_get();
    if (host->n_v1 == 0 && !host->v2)
        return wharf_error_set(err, -ENOENT, "cgroup %s: no cgroup hierarchy is mounted under %s",
                               path, CGROUP_ROOT);

    size_t total = host->n_v1 + (host->v2 ? 1 : 0);
    bool *created = xcalloc(total, sizeof(bool));
    size_t i;
    for (i = 0; i < total; i++) {
        bool is_v2 = i == host->n_v1;
        const struct cgroup_hierarchy *h = is_v2 ? host->v2 : &host->v1[i];
        bool cpuset = !is_v2 && cgroup_hierarchy_has(h, "cpuset");
        bool enable = is_v2 && host->layout == CGROUP_LAYOUT_V2;
        if ((r = make_levels(h, path, cpuset, enable, &created[i], err)) < 0)
            break;
    }
    if (r < 0) {
        /* Undo only the leaves this call made; parents may be shared. */
        for (size_t j = 0; j < i; j++) {
            if (!created[j])
                continue;
            _cleanup_free_ char *d = cgroup_dir_on(j == host->n_v1 ? host->v2 : &host->v1[j], path);
            rmdir(d);
        }
        free(created);
        return wharf_error_prefix(err, "cgroup %s", path);
    }
    free(created);
    *out = cgroup_new(steal_ptr(path));
    return 0;
}

int cgroup_open(const char *canonical_path, struct cgroup **out, wharf_error *err)
{
    _cleanup_strbuf_ strbuf sb = STRBUF_INIT;
    if (!canonical_path || canonical_path[0] != '/')
        return wharf_error_set(err, -EINVAL, "cgroup '%s': not an absolute path",
                               canonical_path ? canonical_path : "");
    int r = append_components(&sb, canonical_path, "cgroup path", err);
    if (r < 0)
        return r;
    if (sb.len == 0)
        return wharf_error_set(err, -EINVAL, "cgroup '/': refusing the root cgroup");
    const struct cgroup_host *host = cgroup_host_get();
    bool exists = false;
    for (size_t i = 0; i < host->n_v1 + (host->v2 ? 1 : 0) && !exists; i++) {
        _cleanup_free_ char *d = cgroup_dir_on(i == host->n_v1 ? host->v2 : &host->v1[i], sb.buf);
        exists = access(d, F_OK) == 0;
    }
    if (!exists)
        return wharf_error_set(err, -ENOENT, "cgroup %s does not exist", sb.buf);
    *out = cgroup_new(strbuf_detach(&sb));
    return 0;
}

/* ------------------------------------------------------------ members */

int cgroup_enter(struct cgroup *cg, pid_t pid, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    char pidstr[32];
    snprintf(pidstr, sizeof(pidstr), "%d", (int)(pid ? pid : getpid()));
    for (size_t i = 0; i < host->n_v1 + (host->v2 ? 1 : 0); i++) {
        const struct cgroup_hierarchy *h = i == host->n_v1 ? host->v2 : &host->v1[i];
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        int r = cgroup_write(dir, "cgroup.procs", pidstr, err);
        if (r < 0)
            return wharf_error_prefix(err, "cgroup %s: join pid %s", cg->path, pidstr);
    }
    return 0;
}

int cgroup_clone_fd(struct cgroup *cg, int *fd, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    *fd = -1;
    if (!host->v2)
        return 0;
    _cleanup_free_ char *dir = cgroup_dir_on(host->v2, cg->path);
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return wharf_error_errno(err, errno, "cgroup %s: open %s", cg->path, dir);
    return 0;
}

int cgroup_enter_self_v1(struct cgroup *cg, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    for (size_t i = 0; i < host->n_v1; i++) {
        _cleanup_free_ char *dir = cgroup_dir_on(&host->v1[i], cg->path);
        int r = cgroup_write(dir, "tasks", "0", err);
        if (r < 0)
            return wharf_error_prefix(err, "cgroup %s: join", cg->path);
    }
    return 0;
}

/* The v1 freezer directory, or NULL when freezing goes through v2. */
static char *v1_freezer_dir(const struct cgroup *cg)
{
    const struct cgroup_hierarchy *h = cgroup_host_v1_find("freezer");
    return h ? cgroup_dir_on(h, cg->path) : NULL;
}

static int freezer_state(const struct cgroup *cg, bool *frozen, bool *settled, wharf_error *err)
{
    _cleanup_free_ char *v1 = v1_freezer_dir(cg);
    int r;
    if (v1) {
        _cleanup_free_ char *s = NULL;
        if ((r = cgroup_read(v1, "freezer.state", &s, err)) < 0)
            return r;
        *frozen = strcmp(s, "FROZEN") == 0;
        *settled = strcmp(s, "FREEZING") != 0;
        return 0;
    }
    const struct cgroup_host *host = cgroup_host_get();
    if (!host->v2)
        return wharf_error_set(err, -EOPNOTSUPP,
                               "no freezer: neither the v1 freezer nor cgroup2 "
                               "is mounted");
    _cleanup_free_ char *dir = cgroup_dir_on(host->v2, cg->path);
    uint64_t v = 0;
    if ((r = cgroup_read_keyed(dir, "cgroup.events", "frozen", &v, err)) < 0)
        return r;
    *frozen = v == 1;
    *settled = true;
    return 0;
}

static int freeze_request(const struct cgroup *cg, bool frozen, wharf_error *err)
{
    _cleanup_free_ char *v1 = v1_freezer_dir(cg);
    if (v1)
        return cgroup_write(v1, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
    const struct cgroup_host *host = cgroup_host_get();
    if (!host->v2)
        return wharf_error_set(err, -EOPNOTSUPP,
                               "no freezer: neither the v1 freezer nor cgroup2 "
                               "is mounted");
    _cleanup_free_ char *dir = cgroup_dir_on(host->v2, cg->path);
    return cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
}

static int freeze_wait(struct cgroup *cg, bool frozen, long timeout_ms, wharf_error *err)
{
    int r;
    for (long waited = 0;; waited += 10) {
        /* v1 can fall back to THAWED when a task races the freeze: ask again. */
        if ((r = freeze_request(cg, frozen, err)) < 0)
            return r;
        bool is = false, settled = false;
        if ((r = freezer_state(cg, &is, &settled, err)) < 0)
            return r;
        if (is == frozen && settled)
            return 0;
        if (waited >= timeout_ms)
            break;
        sleep_ms(10);
    }
    return wharf_error_set(err, -EBUSY, "timed out after %ld ms waiting for the cgroup to %s",
                           timeout_ms, frozen ? "freeze" : "thaw");
}

int cgroup_freeze(struct cgroup *cg, bool frozen, wharf_error *err)
{
    int r = freeze_wait(cg, frozen, FREEZE_TIMEOUT_MS, err);
    if (r < 0) {
        if (frozen) { /* never leave a half-frozen container behind */
            wharf_error ignore = {0};
            freeze_request(cg, false, &ignore);
        }
        return wharf_error_prefix(err, "cgroup %s", cg->path);
    }
    return 0;
}

int cgroup_is_frozen(struct cgroup *cg, wharf_error *err)
{
    bool frozen = false, settled = false;
    int r = freezer_state(cg, &frozen, &settled, err);
    if (r < 0)
        return wharf_error_prefix(err, "cgroup %s", cg->path);
    return frozen ? 1 : 0;
}

static int collect_pids(const char *dir, pid_t **pids, size_t *count, wharf_error *err)
{
    _cleanup_free_ char *procs = NULL;
    int r = cgroup_read(dir, "cgroup.procs", &procs, err);
    if (r == -ENOENT) { /* removed under us: nothing in it */
        wharf_error_clear(err);
        return 0;
    }
    if (r < 0)
        return r;
    for (char *s = procs; *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        *pids = xrealloc(*pids, (*count + 1) * sizeof(pid_t));
        (*pids)[(*count)++] = (pid_t)v;
        s = end;
        while (*s == '\n')
            s++;
    }
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
        if ((r = collect_pids(sub, pids, count, err)) < 0)
            break;
    }
    closedir(d);
    return r < 0 ? r : 0;
}

int cgroup_pids(struct cgroup *cg, pid_t **pids, size_t *count, wharf_error *err)
{
    _cleanup_free_ char *dir = tracking_dir(cg);
    *pids = NULL;
    *count = 0;
    if (!dir)
        return wharf_error_set(err, -ENOENT, "cgroup %s: no hierarchy is mounted", cg->path);
    if (access(dir, F_OK) < 0)
        return wharf_error_errno(err, errno, "cgroup %s: %s", cg->path, dir);
    int r = collect_pids(dir, pids, count, err);
    if (r < 0) {
        free(*pids);
        *pids = NULL;
        *count = 0;
        return wharf_error_prefix(err, "cgroup %s", cg->path);
    }
    return 0;
}

int cgroup_kill_all(struct cgroup *cg, int sig, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    wharf_error ignore = {0};
    bool frozen = false, settled = false;
    bool can_freeze = freezer_state(cg, &frozen, &settled, &ignore) == 0;
    int r;

    if (sig == SIGKILL && host->v2) {
        _cleanup_free_ char *dir = cgroup_dir_on(host->v2, cg->path);
        if (cgroup_file_exists(dir, "cgroup.kill")) {
            if ((r = cgroup_write(dir, "cgroup.kill", "1", err)) < 0)
                return wharf_error_prefix(err, "cgroup %s", cg->path);
            /* A task stopped by the v1 freezer only dies once thawed. */
            if (frozen)
                freeze_request(cg, false, &ignore);
            return 0;
        }
    }

    /* Freeze so nothing forks past the snapshot of pids, signal, thaw. A
     * container that was paused stays paused unless the signal is SIGKILL;
     * its signals are delivered when it resumes. */
    if (can_freeze && !frozen)
        freeze_wait(cg, true, 1000, &ignore);
    pid_t *pids = NULL;
    size_t n = 0;
    r = cgroup_pids(cg, &pids, &n, err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
            r = wharf_error_errno(err, errno, "cgroup %s: kill pid %d", cg->path, (int)pids[i]);
    }
    free(pids);
    if (can_freeze && (!frozen || sig == SIGKILL))
        freeze_request(cg, false, &ignore);
    return r;
}

json_t *cgroup_stats(struct cgroup *cg, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    json_t *stats;
    if (host->layout == CGROUP_LAYOUT_V2) {
        _cleanup_free_ char *dir = cgroup_dir_on(host->v2, cg->path);
        stats = cgroup_v2_stats(dir, err);
    } else {
        stats = cgroup_v1_stats(cg, err);
    }
    if (!stats)
        wharf_error_prefix(err, "cgroup %s: stats", cg->path);
    return stats;
}

/* rmdir dir after its sub-cgroups (deepest first), retrying while the
 * kernel still counts exiting tasks. A missing directory is fine. */
static int remove_cgroup_dir(const char *dir, wharf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : wharf_error_errno(err, errno, "opendir %s", dir);
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
        if ((r = remove_cgroup_dir(sub, err)) < 0)
            break;
    }
    closedir(d);
    if (r < 0)
        return r;
    for (long waited = 0;; waited += 10) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || waited >= RMDIR_TIMEOUT_MS)
            return wharf_error_errno(err, errno, "rmdir %s", dir);
        sleep_ms(10);
    }
}

int cgroup_destroy(struct cgroup *cg, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    int first = 0;
    for (size_t i = 0; i < host->n_v1 + (host->v2 ? 1 : 0); i++) {
        const struct cgroup_hierarchy *h = i == host->n_v1 ? host->v2 : &host->v1[i];
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        wharf_error e = {0};
        int r = remove_cgroup_dir(dir, &e);
        if (r < 0 && first == 0) {
            first = r;
            wharf_error_set(err, r, "cgroup %s: %s", cg->path, e.msg);
        }
    }
    return first;
}

/* ------------------------------------------------------------ resources */

static const char *const RES = "linux.resources";

int cgroup_parse_devices(json_t *arr, const char *where, struct cgroup_dev_rule **rules,
                         size_t *count, wharf_error *err)
{
    size_t n = json_array_size(arr);
    *rules = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    struct cgroup_dev_rule *v = xcalloc(n, sizeof(*v));
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        json_t *e = json_array_get(arr, i);
        char at[128];
        snprintf(at, sizeof(at), "%s[%zu]", where, i);
        if (!json_is_object(e)) {
            r = wharf_error_set(err, -EINVAL, "%s: expected an object", at);
            break;
        }
        const char *type = "a", *access = "rwm";
        bool present = false;
        v[i].major = v[i].minor = -1;
        if ((r = wjson_bool(e, at, "allow", &v[i].allow, err)) < 0)
            break;
        if (!json_object_get(e, "allow")) {
            r = wharf_error_set(err, -EINVAL, "%s.allow: required field is missing", at);
            break;
        }
        if ((r = wjson_string(e, at, "type", false, &type, err)) < 0 ||
            (r = wjson_int64(e, at, "major", &v[i].major, &present, err)) < 0 ||
            (r = wjson_int64(e, at, "minor", &v[i].minor, &present, err)) < 0 ||
            (r = wjson_string(e, at, "access", false, &access, err)) < 0)
            break;
        if (strlen(type) != 1 || !strchr("abc", type[0])) {
            r = wharf_error_set(err, -EINVAL,
                                "%s.type: unknown device type '%s' (expected a, b or c)", at, type);
            break;
        }
        v[i].type = type[0];
        if (v[i].major < -1 || v[i].major > UINT32_MAX || v[i].minor < -1 ||
            v[i].minor > UINT32_MAX) {
            r = wharf_error_set(err, -EINVAL, "%s: major/minor must be -1 (any) or a device number",
                                at);
            break;
        }
        if (!*access) /* as runc: no access letters means all of them */
            access = "rwm";
        for (const char *a = access; *a && r == 0; a++) {
            unsigned bit = *a == 'r'   ? CGROUP_DEV_READ
                           : *a == 'w' ? CGROUP_DEV_WRITE
                           : *a == 'm' ? CGROUP_DEV_MKNOD
                                       : 0;
            if (!bit || (v[i].access & bit))
                r = wharf_error_set(err, -EINVAL,
                                    "%s.access: invalid access '%s' (letters r, w, m)", at, access);
            v[i].access |= bit;
        }
    }
    if (r < 0) {
        free(v);
        return r;
    }
    *rules = v;
    *count = n;
    return 0;
}

const char *cgroup_dev_rule_v1(const struct cgroup_dev_rule *r, char *buf, size_t len)
{
    if (r->type == 'a') { /* the kernel reads "a" as every device, every access */
        snprintf(buf, len, "a");
        return buf;
    }
    char maj[24] = "*", min[24] = "*", acc[4] = "";
    if (r->major >= 0)
        snprintf(maj, sizeof(maj), "%lld", (long long)r->major);
    if (r->minor >= 0)
        snprintf(min, sizeof(min), "%lld", (long long)r->minor);
    size_t k = 0;
    if (r->access & CGROUP_DEV_READ)
        acc[k++] = 'r';
    if (r->access & CGROUP_DEV_WRITE)
        acc[k++] = 'w';
    if (r->access & CGROUP_DEV_MKNOD)
        acc[k++] = 'm';
    snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
    return buf;
}

static int apply_devices_v1(const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                            wharf_error *err)
{
    /* Start from "deny everything", then replay the list in order. */
    int r = cgroup_write(dir, "devices.deny", "a", err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char line[64];
        r = cgroup_write(dir, rules[i].allow ? "devices.allow" : "devices.deny",
                         cgroup_dev_rule_v1(&rules[i], line, sizeof(line)), err);
        if (r < 0)
            return wharf_error_prefix(err, "%s.devices[%zu]", RES, i);
    }
    if (r < 0)
        return wharf_error_prefix(err, "%s.devices", RES);
    return 0;
}

int cgroup_resources_parse(json_t *res, struct cgroup_resources *out, wharf_error *err)
{
    int r;
    *out = (struct cgroup_resources){0};
    if ((r = wjson_object(res, RES, "memory", false, &out->memory, err)) < 0 ||
        (r = wjson_object(res, RES, "cpu", false, &out->cpu, err)) < 0 ||
        (r = wjson_object(res, RES, "pids", false, &out->pids, err)) < 0 ||
        (r = wjson_object(res, RES, "blockIO", false, &out->blkio, err)) < 0 ||
        (r = wjson_array(res, RES, "hugepageLimits", false, &out->hugepages, err)) < 0 ||
        (r = wjson_object(res, RES, "network", false, &out->network, err)) < 0 ||
        (r = wjson_object(res, RES, "rdma", false, &out->rdma, err)) < 0)
        return r;
    return 0;
}

int cgroup_apply_resources(struct cgroup *cg, json_t *res, wharf_error *err)
{
    if (!res || json_is_null(res))
        return 0;
    if (!json_is_object(res))
        return wharf_error_set(err, -EINVAL, "%s: expected an object", RES);
    const struct cgroup_host *host = cgroup_host_get();
    json_t *devices = NULL, *unified = NULL;
    _cleanup_free_ struct cgroup_dev_rule *rules = NULL;
    size_t nrules = 0;
    int r;
    char where[64];
    snprintf(where, sizeof(where), "%s.devices", RES);
    if ((r = wjson_array(res, RES, "devices", false, &devices, err)) < 0 ||
        (r = wjson_object(res, RES, "unified", false, &unified, err)) < 0)
        return r;
    if (devices && (r = cgroup_parse_devices(devices, where, &rules, &nrules, err)) < 0)
        return r;

    struct cgroup_resources sections;
    if ((r = cgroup_resources_parse(res, &sections, err)) < 0)
        return r;
    _cleanup_free_ char *v2dir = host->v2 ? cgroup_dir_on(host->v2, cg->path) : NULL;
    if (host->layout == CGROUP_LAYOUT_V2)
        r = cgroup_v2_apply(v2dir, &sections, err);
    else
        r = cgroup_v1_apply(cg, &sections, err);
    if (r < 0)
        return r;

    if (unified && json_object_size(unified) > 0) {
        if (!v2dir)
            return wharf_error_set(err, -EOPNOTSUPP,
                                   "%s.unified: this host has no cgroup v2 hierarchy", RES);
        if ((r = cgroup_v2_apply_unified(v2dir, unified, err)) < 0)
            return r;
    }

    if (devices) {
        const struct cgroup_hierarchy *dh = cgroup_host_v1_find("devices");
        if (!dh && !v2dir)
            return wharf_error_set(err, -EOPNOTSUPP,
                                   "%s: neither the devices controller nor cgroup2 is mounted",
                                   where);
        if (dh && host->layout != CGROUP_LAYOUT_V2) {
            _cleanup_free_ char *dir = cgroup_dir_on(dh, cg->path);
            if ((r = apply_devices_v1(dir, rules, nrules, err)) < 0)
                return r;
        }
        if (v2dir && (r = cgroup_devices_bpf_apply(v2dir, rules, nrules, err)) < 0)
            return wharf_error_prefix(err, "%s", where);
    }
    return 0;
}
