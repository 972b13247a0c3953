/*
 * cgroup_oom.c — OOM-kill counters of a memory cgroup. Free of jansson: the
 * static shim links it to report "oom" events for the container it watches.
 *
 * v2 counts kills in memory.events ("oom_kill N"); v1 kernels since 4.13
 * print the same line in memory.oom_control. Both counters are hierarchical,
 * so kills in the container's own sub-cgroups are included.
 */
#include "cgroup_internal.h"

#include <errno.h>
#include <string.h>

int cgroup_memory_dir_of_pid(pid_t pid, char **dir, wharf_error *err)
{
    const struct cgroup_host *host = cgroup_host_get();
    const struct cgroup_hierarchy *mem =
        host->layout == CGROUP_LAYOUT_V2 ? host->v2 : cgroup_host_v1_find("memory");
    if (!mem)
        return wharf_error_set(err, -ENOENT, "no memory cgroup hierarchy is mounted");

    _cleanup_free_ char *procfile = xasprintf("/proc/%d/cgroup", (int)pid);
    _cleanup_free_ char *content = NULL;
    int r = wharf_read_file(procfile, &content, NULL, err);
    if (r < 0)
        return r;
    for (char *line = content; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        /* "hierarchy-id:controller,list:path" */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = '\0';
            const char *ctrls = c1 + 1;
            const char *path = c2 + 1;
            bool match;
            if (host->layout == CGROUP_LAYOUT_V2) {
                match = strncmp(line, "0:", 2) == 0 && *ctrls == '\0';
            } else {
                struct cgroup_hierarchy probe = {.controllers = (char *)ctrls};
                match = cgroup_hierarchy_has(&probe, "memory");
            }
            if (match) {
                /* The root cgroup reads as "/"; avoid a trailing slash. */
                *dir = strcmp(path, "/") == 0 ? xstrdup(mem->mount) : cgroup_dir_on(mem, path);
                return 0;
            }
        }
        line = next;
    }
    return wharf_error_set(err, -ENOENT, "pid %d: no memory cgroup in %s", (int)pid, procfile);
}

int cgroup_oom_kills_in_dir(const char *memory_dir, uint64_t *count, wharf_error *err)
{
    const char *file =
        cgroup_file_exists(memory_dir, "memory.events") ? "memory.events" : "memory.oom_control";
    int r = cgroup_read_keyed(memory_dir, file, "oom_kill", count, err);
    if (r < 0)
        return wharf_error_prefix(err, "oom counter");
    return 0;
}

int cgroup_oom_kills_of_pid(pid_t pid, uint64_t *count, wharf_error *err)
{
    _cleanup_free_ char *dir = NULL;
    int r = cgroup_memory_dir_of_pid(pid, &dir, err);
    if (r < 0)
        return r;
    return cgroup_oom_kills_in_dir(dir, count, err);
}
