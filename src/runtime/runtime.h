/*
 * runtime — the OCI runtime as a library; wharf-runtime is a thin CLI on it.
 *
 * Owns: the container state directory (<root>/<id>/state.json, exec.fifo),
 * config.json validation, the create → start → kill → delete lifecycle with
 * its namespaces, user-namespace mappings and hooks, exec into a running
 * container, ps/list/pause/resume/update, `features` and `spec`.
 *
 * Process model (create):
 *   runtime (parent) ──fork──> stage 1: joins namespaces by path, unshares
 *   the new ones, waits while the parent writes uid/gid maps, then clones
 *   stage 2 with CLONE_PARENT (so `run` can wait for it) and exits.
 *   stage 2 = the container init: pid 1 of a new pid namespace; builds the
 *   rootfs (rootfs.h), console, hostname, sysctls; reports "ready"; blocks
 *   opening exec.fifo until `start`; then startContainer hooks, rlimits,
 *   user, capabilities, no_new_privs and seccomp (security.h); execve.
 *   Parent and stages talk over one SOCK_SEQPACKET socketpair (see sync.h).
 *
 * Delegates: cgroups to cgroup.h, mounts to rootfs.h, capabilities/rlimits/
 * seccomp to security.h. Must not: know about images, the shim or the engine.
 */
#ifndef WHARF_RUNTIME_H
#define WHARF_RUNTIME_H

#include "base.h"

#define WHARF_OCI_VERSION "1.2.0"
#define WHARF_RUNTIME_DEFAULT_ROOT "/run/wharf-runtime"

struct runtime_ctx {
    const char *root;    /* state directory root (--root) */
    bool systemd_cgroup; /* --systemd-cgroup: cgroupsPath is "slice:prefix:name" */
    bool debug;
};

struct runtime_create_opts {
    const char *id;
    const char *bundle;         /* default: the current directory */
    const char *console_socket; /* --console-socket */
    const char *pid_file;       /* --pid-file */
    bool no_pivot;              /* --no-pivot */
    bool no_new_keyring;        /* --no-new-keyring */
    unsigned preserve_fds;      /* --preserve-fds N: fds 3..3+N-1 pass through */
    bool detach;                /* run --detach */
    bool keep;                  /* run --keep: do not delete after exit */
};

int runtime_create(const struct runtime_ctx *ctx, const struct runtime_create_opts *opts,
                   wharf_error *err);
int runtime_start(const struct runtime_ctx *ctx, const char *id, wharf_error *err);
/* create + start; unless detached, waits and returns the exit status in *status
 * (128+signal for a signal), then deletes the container. */
int runtime_run(const struct runtime_ctx *ctx, const struct runtime_create_opts *opts,
                int *status, wharf_error *err);
/* The OCI state JSON (new reference). */
json_t *runtime_state(const struct runtime_ctx *ctx, const char *id, wharf_error *err);
int runtime_kill(const struct runtime_ctx *ctx, const char *id, int sig, bool all,
                 wharf_error *err);
int runtime_delete(const struct runtime_ctx *ctx, const char *id, bool force, wharf_error *err);
/* Array of state objects of every container under root (new reference). */
json_t *runtime_list(const struct runtime_ctx *ctx, wharf_error *err);
int runtime_pids(const struct runtime_ctx *ctx, const char *id, pid_t **pids, size_t *count,
                 wharf_error *err);
/* One runc-style event: {"type":"stats","id":ID,"data":{cpu, memory, pids}}
 * (new reference); with oom_count, the memory cgroup's OOM-kill counter too. */
json_t *runtime_stats(const struct runtime_ctx *ctx, const char *id, uint64_t *oom_count,
                      wharf_error *err);
int runtime_pause(const struct runtime_ctx *ctx, const char *id, wharf_error *err);
int runtime_resume(const struct runtime_ctx *ctx, const char *id, wharf_error *err);
/* Applies a linux.resources object to a running container and records it. */
int runtime_update(const struct runtime_ctx *ctx, const char *id, json_t *resources,
                   wharf_error *err);

struct runtime_exec_opts {
    const char *id;
    json_t *process;            /* a complete OCI process object (borrowed) */
    const char *console_socket; /* for process.terminal */
    const char *pid_file;
    bool detach;
    unsigned preserve_fds;
};
/* Builds the default exec process from the container's own config.json
 * (env, user, capabilities, ...), for the CLI to override; new reference. */
json_t *runtime_exec_default_process(const struct runtime_ctx *ctx, const char *id,
                                     wharf_error *err);
int runtime_exec(const struct runtime_ctx *ctx, const struct runtime_exec_opts *opts, int *status,
                 wharf_error *err);

/* `features` (new reference) and `spec` (a default config.json; new reference). */
json_t *runtime_features(void);
json_t *runtime_default_spec(bool rootless);

/* Signal by name or number: "KILL", "SIGKILL", "9"; negative errno if unknown. */
int runtime_parse_signal(const char *s);

#endif
