/*
 * cgroup_internal.h — what the files of the cgroup module share and nobody
 * else sees: the host's hierarchies, the cgroup object, small file helpers,
 * the parsed device rules and the per-version resource writers.
 *
 * cgroup_host.c (host discovery) and cgroup_oom.c are linked into the
 * jansson-free cgroup_oom_lib; everything that takes a json_t lives in
 * cgroup_lib.
 */
#ifndef WHARF_CGROUP_INTERNAL_H
#define WHARF_CGROUP_INTERNAL_H

#include "cgroup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* One mounted hierarchy. */
struct cgroup_hierarchy {
    char *mount;       /* mount point, e.g. "/sys/fs/cgroup/memory" */
    char *controllers; /* v1: comma list, e.g. "cpu,cpuacct" or "name=systemd"; v2: NULL */
};

/* The host's hierarchies, discovered once from /proc/self/mountinfo. */
struct cgroup_host {
    enum cgroup_layout layout;
    struct cgroup_hierarchy *v1; /* distinct v1 hierarchies (co-mounts appear once) */
    size_t n_v1;
    struct cgroup_hierarchy
        *v2; /* the cgroup2 mount (all of it on v2, "unified" on hybrid) or NULL */
};

/* Cached for the life of the process; never NULL (empty lists when nothing is mounted). */
const struct cgroup_host *cgroup_host_get(void);
/* The v1 hierarchy carrying controller ("memory", "name=systemd"), or NULL. */
const struct cgroup_hierarchy *cgroup_host_v1_find(const char *controller);
bool cgroup_hierarchy_has(const struct cgroup_hierarchy *h, const char *controller);

struct cgroup {
    char *path; /* canonical: absolute, normalised, never "/" */
};

/* mount + path; malloc'd. */
char *cgroup_dir_on(const struct cgroup_hierarchy *h, const char *path);

/* Reads dir/file with trailing newlines removed; *out malloc'd. */
int cgroup_read(const char *dir, const char *file, char **out, wharf_error *err);
int cgroup_write(const char *dir, const char *file, const char *value, wharf_error *err);
/* Reads a single unsigned number; "max" reads as UINT64_MAX. */
int cgroup_read_u64(const char *dir, const char *file, uint64_t *out, wharf_error *err);
/* The value of "key N" in a flat keyed file (memory.stat, cpu.stat, memory.events). */
int cgroup_read_keyed(const char *dir, const char *file, const char *key, uint64_t *out,
                      wharf_error *err);
bool cgroup_file_exists(const char *dir, const char *file);

/* Resolves an OCI cgroupsPath to the canonical path (see cgroup.h); malloc'd. */
int cgroup_resolve_path(const char *cgroups_path, const char *container_id, bool systemd_naming,
                        char **out, wharf_error *err);
/* "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" -> "". */
int cgroup_expand_slice(const char *slice, char **out, wharf_error *err);

/* ---- devices */

/* Access bits, the same values the kernel's bpf_cgroup_dev_ctx uses. */
enum { CGROUP_DEV_MKNOD = 1, CGROUP_DEV_READ = 2, CGROUP_DEV_WRITE = 4 };

struct cgroup_dev_rule {
    bool allow;
    char type;       /* 'a', 'b' or 'c' */
    int64_t major;   /* -1 = any */
    int64_t minor;   /* -1 = any */
    unsigned access; /* CGROUP_DEV_* bits, never 0 */
};

/* Parses linux.resources.devices; *rules malloc'd (NULL when empty). */
int cgroup_parse_devices(json_t *arr, const char *where, struct cgroup_dev_rule **rules,
                         size_t *count, wharf_error *err);
/* "c 1:3 rwm" style for the v1 files; buf >= 64 bytes. */
const char *cgroup_dev_rule_v1(const struct cgroup_dev_rule *r, char *buf, size_t len);

/* Builds the eBPF program for rules (last matching rule wins, default deny),
 * attaches it to the v2 directory dir with BPF_F_ALLOW_MULTI and detaches any
 * program of ours attached there before. */
int cgroup_devices_bpf_apply(const char *dir, const struct cgroup_dev_rule *rules, size_t count,
                             wharf_error *err);
/* Whether a device access would pass rules (the same semantics the program
 * implements); for tests and for the v1 emulation check. */
bool cgroup_dev_rules_allow(const struct cgroup_dev_rule *rules, size_t count, char type,
                            uint32_t major, uint32_t minor, unsigned access);

/* ---- per-version writers (cgroup_v1.c / cgroup_v2.c) */

/* The sections of linux.resources both versions' writers apply (borrowed;
 * NULL when absent), checked once in cgroup.c. */
struct cgroup_resources {
    json_t *memory, *cpu, *pids, *blkio, *hugepages, *network, *rdma;
};
int cgroup_resources_parse(json_t *res, struct cgroup_resources *out, wharf_error *err);

int cgroup_v1_apply(struct cgroup *cg, const struct cgroup_resources *res, wharf_error *err);
/* dir is the v2 directory of the cgroup. */
int cgroup_v2_apply(const char *dir, const struct cgroup_resources *res, wharf_error *err);
/* Writes linux.resources.unified into the v2 directory dir. */
int cgroup_v2_apply_unified(const char *dir, json_t *unified, wharf_error *err);
/* Enables every controller the parent offers (that a container needs) in
 * the subtree_control of each level from the v2 root down to dir's parent. */
void cgroup_v2_enable_controllers(const char *mount, const char *path);

json_t *cgroup_v1_stats(struct cgroup *cg, wharf_error *err);
json_t *cgroup_v2_stats(const char *dir, wharf_error *err);

#endif
