/*
 * cgroup_host.c — what this host mounts (layout and hierarchies) and the
 * small read/write helpers for cgroup files. Free of jansson: it is part of
 * cgroup_oom_lib, which the static shim links.
 */
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

static bool is_fs(const char *path, unsigned long magic)
{
    struct statfs sfs;
    return statfs(path, &sfs) == 0 && (unsigned long)sfs.f_type == magic;
}

static enum cgroup_layout detect_layout(void)
{
    if (is_fs(CGROUP_ROOT, CGROUP2_SUPER_MAGIC))
        return CGROUP_LAYOUT_V2;
    if (is_fs(CGROUP_ROOT "/unified", CGROUP2_SUPER_MAGIC))
        return CGROUP_LAYOUT_HYBRID;
    return CGROUP_LAYOUT_V1;
}

/* Mount options of a v1 cgroup mount that are not controller names. */
static bool is_controller_option(const char *opt)
{
    static const char *const not_controllers[] = {
        "rw",       "ro",    "relatime",       "noatime",        "nosuid",       "nodev", "noexec",
        "noprefix", "xattr", "clone_children", "cpuset_v2_mode", "favordynmods", "none",  "all",
    };
    for (size_t i = 0; i < sizeof(not_controllers) / sizeof(not_controllers[0]); i++)
        if (strcmp(opt, not_controllers[i]) == 0)
            return false;
    if (strchr(opt, '=') && strncmp(opt, "name=", 5) != 0)
        return false;
    return *opt != '\0';
}

static char *controllers_of(const char *superopts)
{
    strbuf sb = STRBUF_INIT;
    _cleanup_free_ char *copy = xstrdup(superopts);
    char *save = NULL;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (!is_controller_option(o))
            continue;
        if (sb.len)
            strbuf_addch(&sb, ',');
        strbuf_addstr(&sb, o);
    }
    return strbuf_detach(&sb);
}

static bool under_cgroup_root(const char *mountpoint)
{
    size_t n = strlen(CGROUP_ROOT);
    return strncmp(mountpoint, CGROUP_ROOT, n) == 0 &&
           (mountpoint[n] == '\0' || mountpoint[n] == '/');
}

static void discover(struct cgroup_host *h)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char mountpoint[4096], fstype[64], superopts[1024];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mountpoint) != 1 ||
            sscanf(dash + 3, "%63s %*s %1023s", fstype, superopts) != 2)
            continue;
        if (!under_cgroup_root(mountpoint))
            continue;
        if (strcmp(fstype, "cgroup2") == 0) {
            bool whole = strcmp(mountpoint, CGROUP_ROOT) == 0;
            if (h->layout == CGROUP_LAYOUT_V1 || (h->layout == CGROUP_LAYOUT_V2 && !whole))
                continue;
            if (h->v2)
                continue;
            h->v2 = xcalloc(1, sizeof(*h->v2));
            h->v2->mount = xstrdup(mountpoint);
        } else if (strcmp(fstype, "cgroup") == 0 && h->layout != CGROUP_LAYOUT_V2) {
            char *ctrls = controllers_of(superopts);
            bool dup = !*ctrls;
            for (size_t i = 0; i < h->n_v1 && !dup; i++)
                dup = strcmp(h->v1[i].controllers, ctrls) == 0;
            if (dup) {
                free(ctrls);
                continue;
            }
            h->v1 = xrealloc(h->v1, (h->n_v1 + 1) * sizeof(*h->v1));
            h->v1[h->n_v1].mount = xstrdup(mountpoint);
            h->v1[h->n_v1].controllers = ctrls;
            h->n_v1++;
        }
    }
    free(line);
}

const struct cgroup_host *cgroup_host_get(void)
{
    static struct cgroup_host host;
    static bool done;
    if (!done) {
        host.layout = detect_layout();
        discover(&host);
        done = true;
    }
    return &host;
}

enum cgroup_layout cgroup_host_layout(void)
{
    return cgroup_host_get()->layout;
}

const char *cgroup_layout_name(enum cgroup_layout layout)
{
    switch (layout) {
    case CGROUP_LAYOUT_V1:
        return "v1";
    case CGROUP_LAYOUT_HYBRID:
        return "hybrid";
    case CGROUP_LAYOUT_V2:
        return "v2";
    }
    return "unknown";
}

bool cgroup_hierarchy_has(const struct cgroup_hierarchy *h, const char *controller)
{
    if (!h->controllers)
        return false;
    size_t n = strlen(controller);
    for (const char *p = h->controllers; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, controller, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

const struct cgroup_hierarchy *cgroup_host_v1_find(const char *controller)
{
    const struct cgroup_host *h = cgroup_host_get();
    for (size_t i = 0; i < h->n_v1; i++)
        if (cgroup_hierarchy_has(&h->v1[i], controller))
            return &h->v1[i];
    return NULL;
}

char *cgroup_dir_on(const struct cgroup_hierarchy *h, const char *path)
{
    return xasprintf("%s%s", h->mount, path);
}

int cgroup_read(const char *dir, const char *file, char **out, wharf_error *err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
    char *buf = NULL;
    size_t len = 0;
    int r = wharf_read_file(p, &buf, &len, err);
    if (r < 0)
        return r;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    *out = buf;
    return 0;
}

int cgroup_write(const char *dir, const char *file, const char *value, wharf_error *err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
    return wharf_write_string(p, value, err);
}

int cgroup_read_u64(const char *dir, const char *file, uint64_t *out, wharf_error *err)
{
    _cleanup_free_ char *s = NULL;
    int r = cgroup_read(dir, file, &s, err);
    if (r < 0)
        return r;
    if (strcmp(s, "max") == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return wharf_error_set(err, -EINVAL, "%s/%s: not a number: '%s'", dir, file, s);
    *out = v;
    return 0;
}

int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                      wharf_error *err)
{
    _cleanup_free_ char *s = NULL;
    int r = cgroup_read(dir, file, &s, err);
    if (r < 0)
        return r;
    size_t klen = strlen(key);
    for (char *line = s; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(line + klen + 1, &end, 10);
            if (errno || end == line + klen + 1)
                return wharf_error_set(err, -EINVAL, "%s/%s: bad value for %s", dir, file, key);
            *out = v;
            return 0;
        }
        line = next;
    }
    return wharf_error_set(err, -ENOENT, "%s/%s: no '%s' entry", dir, file, key);
}

bool cgroup_file_exists(const char *dir, const char *file)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
    return access(p, F_OK) == 0;
}
