/*
 * cgroup — one manager for control groups on cgroup v1, v2 and hybrid hosts.
 *
 * Owns: detecting the host layout, creating a container's cgroup on every
 * hierarchy it needs, moving processes in, applying OCI `linux.resources`
 * (create and `update`), the freezer (pause/resume), listing and signalling
 * member processes, OOM-kill counters, stats, and removal.
 *
 * Layouts:
 *  - v2:     /sys/fs/cgroup is cgroup2; one directory per container.
 *  - v1:     one directory per controller under /sys/fs/cgroup/<controller>.
 *  - hybrid: v1 controllers for resources, plus a directory in the v2 mount at
 *            /sys/fs/cgroup/unified for process tracking and the eBPF device
 *            filter (as runc and systemd do). This build machine is hybrid.
 *
 * Paths: an OCI `cgroupsPath` is absolute ("/wharf/ID") or relative to the
 * runtime's own cgroup. With systemd-style naming ("slice:prefix:name", what
 * `--systemd-cgroup` callers pass) it maps to cgroupfs as
 * /<slice>/<prefix>-<name>.scope; an empty path means /wharf/<id>.
 *
 * Must not: know about containers' other state, namespaces or JSON beyond the
 * `linux.resources` object. cgroup_oom.c stays free of jansson so the static
 * shim can link it alone.
 */
#ifndef WHARF_CGROUP_H
#define WHARF_CGROUP_H

#include "base.h"

enum cgroup_layout { CGROUP_LAYOUT_V1, CGROUP_LAYOUT_HYBRID, CGROUP_LAYOUT_V2 };

/* Detects (and caches) how this host mounts cgroups. */
enum cgroup_layout cgroup_host_layout(void);
const char *cgroup_layout_name(enum cgroup_layout layout);

struct cgroup; /* opaque; freed by cgroup_free */

/* Resolves the path (see above) and creates the directories on every
 * hierarchy; existing directories are reused. Returns 0 and a new object. */
int cgroup_create(const char *cgroups_path, const char *container_id, bool systemd_naming,
                  struct cgroup **out, wharf_error *err);
/* Opens an existing cgroup by the canonical path that cgroup_path() returned. */
int cgroup_open(const char *canonical_path, struct cgroup **out, wharf_error *err);
/* The canonical path ("/wharf/ID"), the same on every hierarchy. Borrowed. */
const char *cgroup_path(const struct cgroup *cg);
void cgroup_free(struct cgroup *cg);

/* Applies an OCI linux.resources object (NULL is fine). Fields the host cannot
 * apply (e.g. a controller that is not mounted) fail with an error naming the
 * field. Also used by `update`. Devices: the v1 allow-list and, where a v2
 * hierarchy exists, an eBPF cgroup-device program. */
int cgroup_apply_resources(struct cgroup *cg, json_t *resources, wharf_error *err);

/* Moves pid (0 = the calling process) into the cgroup on every hierarchy. */
int cgroup_enter(struct cgroup *cg, pid_t pid, wharf_error *err);
/*
 * Fast placement of a new process. Moving a process with cgroup.procs takes
 * the kernel's global threadgroup lock for writing, which costs a whole RCU
 * grace period (about 10 ms on this host) on every container start. Instead:
 * the parent creates the child directly in the v2 directory with
 * clone3(CLONE_INTO_CGROUP, cgroup_clone_fd()) (-1 when the host has no v2
 * hierarchy: fork as usual), and the child, while still single-threaded and
 * root on the host, joins every v1 hierarchy by writing "0" to its `tasks`
 * file, which the kernel does without that lock.
 */
/* *fd = an O_DIRECTORY fd of the v2 directory (caller closes), or -1 without v2. */
int cgroup_clone_fd(struct cgroup *cg, int *fd, wharf_error *err);
/* The calling, single-threaded process joins the v1 hierarchies. */
int cgroup_enter_self_v1(struct cgroup *cg, wharf_error *err);

/* Freezes or thaws (v1 freezer.state, v2 cgroup.freeze) and waits until done. */
int cgroup_freeze(struct cgroup *cg, bool frozen, wharf_error *err);
/* 1 when frozen, 0 when not, negative errno on failure. */
int cgroup_is_frozen(struct cgroup *cg, wharf_error *err);
/* All pids in the cgroup (recursively); *pids is malloc'd. */
int cgroup_pids(struct cgroup *cg, pid_t **pids, size_t *count, wharf_error *err);
/* Sends sig to every process in the cgroup (thawing first for SIGKILL). */
int cgroup_kill_all(struct cgroup *cg, int sig, wharf_error *err);
/* Memory usage, limits, cpu usage, pids, block I/O: an object shaped like
 * runc's `events --stats` "data" (cpu, memory, pids, blkio); returns a new
 * reference. */
json_t *cgroup_stats(struct cgroup *cg, wharf_error *err);
/* Removes the directories on every hierarchy (retrying while the kernel
 * still reports the cgroup busy). A missing cgroup is not an error. */
int cgroup_destroy(struct cgroup *cg, wharf_error *err);

/* ---- OOM detection (cgroup_oom.c: no jansson, linked by the static shim) */

/* The number of OOM kills so far in the memory cgroup of pid (read from
 * /proc/PID/cgroup, then memory.events on v2 or memory.oom_control on v1).
 * Returns 0 and the count, or a negative errno. */
int cgroup_oom_kills_of_pid(pid_t pid, uint64_t *count, wharf_error *err);
/* The memory cgroup directory of pid ("/sys/fs/cgroup/memory/wharf/ID" or the
 * v2 directory), malloc'd into *dir; for reading the counter after pid died. */
int cgroup_memory_dir_of_pid(pid_t pid, char **dir, wharf_error *err);
int cgroup_oom_kills_in_dir(const char *memory_dir, uint64_t *count, wharf_error *err);

#endif
