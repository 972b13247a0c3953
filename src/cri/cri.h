/*
 * cri — the container layer both front ends drive (the Docker Engine API
 * daemon and the kubelet), shaped like the Kubernetes CRI runtime service.
 *
 * Owns: pod sandboxes (shared namespaces held by an "infra" process), the
 * containers in them and their whole lifecycle (create, start, stop, kill,
 * remove, pause, update, rename, exec, attach, logs, stats, top), generating each
 * container's OCI config.json from a container config, and all of their
 * state under the data root, including re-adopting running containers after
 * the calling process restarts ("live restore", cri_reconcile).
 *
 * Must not: know about images, registries, HTTP or networks. The caller
 * passes an already prepared root filesystem path (the image store mounts an
 * overlay there) and merges the image's config (entrypoint + cmd, env, cwd,
 * user as numbers, stop signal) into the container config. Users are numeric
 * here: resolving "nobody" against /etc/passwd is the caller's job.
 *
 * Processes: the layer never forks a container itself. It runs wharf-shim
 * (which stays resident as each container's parent and writes its CRI log and
 * exit.json) and wharf-runtime (create/kill/delete/pause/update/exec) as
 * child programs, found next to /proc/self/exe unless overridden.
 *
 * Data root layout (every JSON file written atomically):
 *   ROOT/runtime/                  wharf-runtime --root (private to the layer)
 *   ROOT/infra/rootfs/             the infra rootfs: bin/busybox, nothing else
 *   ROOT/sandboxes/ID/sandbox.json the sandbox record
 *   ROOT/sandboxes/ID/config.json  the infra container's OCI bundle
 *   ROOT/sandboxes/ID/shim/        the infra container's shim state dir
 *   ROOT/containers/ID/container.json  the record: config, sandbox, times, pid
 *   ROOT/containers/ID/config.json the OCI bundle (regenerated at each start)
 *   ROOT/containers/ID/shim/       shim state: pid, shim.pid, container.log,
 *                                  exit.json, attach and ctl sockets
 *
 * Sandboxes: with "infra" (the default) the sandbox runs
 * `busybox sleep 2147483647` from the infra rootfs in new network, IPC and
 * UTS namespaces (the sandbox hostname is set there); its containers join
 * them by path (/proc/PID/ns/...). A Docker-style container is a sandbox of
 * one created with "infra": false: no infra process, its single container
 * owns new namespaces (and gets the hostname); a later container in that
 * sandbox joins the first one's namespaces while it runs.
 *
 * Concurrency: calls on different containers may run in parallel threads;
 * the caller serializes state-changing calls on the same container (the
 * Docker daemon and the kubelet both hold a per-container lock already).
 * Stop and the follow mode of logs block; they hold no lock while waiting.
 */
#ifndef WHARF_CRI_H
#define WHARF_CRI_H

#include <time.h>

#include "base.h"

/* ---------------------------------------------------------------- handle */

struct cri_options {
    const char *root;          /* data root (required), created if missing */
    const char *runtime_path;  /* NULL: wharf-runtime next to /proc/self/exe */
    const char *shim_path;     /* NULL: wharf-shim next to /proc/self/exe */
    const char *runtime_root;  /* NULL: ROOT/runtime */
    const char *cgroup_parent; /* NULL: "/wharf"; cgroupsPath is PARENT/ID */
    const char *busybox_path;  /* NULL: /bin/busybox (Debian's busybox-static) */
};

struct cri; /* opaque; freed by cri_close */

/* Creates the data root layout and resolves the binaries (must exist and be
 * executable). Returns 0 and a new handle in *out. Does not touch running
 * containers: call cri_reconcile once after a restart. */
int cri_open(const struct cri_options *opts, struct cri **out, wharf_error *err);
void cri_close(struct cri *cri);
/* Paths resolved by cri_open (borrowed, valid until cri_close). */
const char *cri_root(const struct cri *cri);
const char *cri_runtime_path(const struct cri *cri);
const char *cri_runtime_root(const struct cri *cri);

/* ---------------------------------------------------------------- sandboxes */

/*
 * Sandbox config (JSON object, borrowed by every call):
 *   "name": string            free-form, for listing
 *   "hostname": string        default: the first 12 characters of the id
 *   "labels": {k: v}          filterable with cri_filter.labels
 *   "annotations": {k: v}
 *   "infra": bool             default true; false = a sandbox of one (above)
 *   "namespaces": {"network"|"ipc"|"uts": "private" (default) | "host"}
 *                             "network" may also be an absolute path: the
 *                             infra joins that namespace file (prepared by
 *                             the caller, e.g. a bind-mounted netns)
 */
int cri_sandbox_create(struct cri *cri, const char *id, json_t *config, wharf_error *err);
/* Stops every container of the sandbox (each with timeout_s, see
 * cri_container_stop), then the infra process. The sandbox stays listed,
 * not ready; it cannot be started again (CRI semantics). */
int cri_sandbox_stop(struct cri *cri, const char *id, int timeout_s, wharf_error *err);
/* Removes every container of the sandbox (killing running ones), the infra
 * container, and the sandbox's state. A missing sandbox is -ENOENT. */
int cri_sandbox_remove(struct cri *cri, const char *id, wharf_error *err);

struct cri_sandbox_status {
    char *id;
    char *name;
    char *hostname;
    bool infra;
    bool ready;    /* infra: its process runs; no infra: not stopped */
    pid_t pid;     /* the namespace holder (infra, or the owner container); 0 if none */
    char *netns;   /* "/proc/PID/ns/net" while pid != 0, else NULL */
    struct timespec created_at;
    json_t *config; /* the sandbox config as given (owned) */
};
/* Fills *out (release with cri_sandbox_status_release). -ENOENT if missing. */
int cri_sandbox_status(struct cri *cri, const char *id, struct cri_sandbox_status *out,
                       wharf_error *err);
void cri_sandbox_status_release(struct cri_sandbox_status *st);

/* ---------------------------------------------------------------- containers */

/*
 * Container config (JSON object, borrowed). Only "args" is required.
 *   "name": string, "labels": {k: v}, "annotations": {k: v}
 *   "args": [string]          the full argv (entrypoint + cmd, merged)
 *   "env": ["K=V"]            PATH gets a default when absent
 *   "working_dir": string     default "/"
 *   "user": {"uid": N, "gid": N, "additional_gids": [N]}
 *   "hostname", "domainname": string   only for a container owning its UTS
 *                             namespace
 *   "tty": bool, "stdin": bool
 *   "console_size": {"height": N, "width": N}   the PTY's size at start (tty)
 *   "mounts": [{"type": "bind"|"volume"|"tmpfs", "source": path,
 *               "destination": path, "readonly": bool,
 *               "options": [string]}]   volumes are binds of their directory;
 *                                       a mount replaces a default one (e.g.
 *                                       /dev/shm) at the same destination
 *   "readonly_rootfs": bool
 *   "cap_add", "cap_drop": [string]    "NET_ADMIN", "CAP_NET_ADMIN" or "ALL",
 *                                      against Docker's default set
 *   "privileged": bool        all capabilities, all host devices, no masked
 *                             or read-only paths, sysfs and cgroupfs rw
 *   "no_new_privileges": bool
 *   "seccomp": object         an OCI linux.seccomp object; absent = unconfined
 *   "resources": {"memory", "memory_reservation", "memory_swap", "cpu_shares",
 *                 "cpu_quota", "cpu_period", "pids_limit", "blkio_weight": N,
 *                 "cpuset_cpus", "cpuset_mems": string}
 *   "ulimits": [{"name": "nofile", "soft": N, "hard": N}]
 *   "oom_score_adj": N, "sysctls": {k: v}
 *   "stop_signal": "SIGTERM"|"TERM"|"15"    default SIGTERM
 *   "stop_timeout": N         seconds, default 10 (used when stop gets < 0)
 *   "init": string            a host path of an init binary (the caller's
 *                             choice, e.g. tini): bind-mounted read-only at
 *                             /dev/init and prepended as "/dev/init --"
 *   "namespaces": {"network"|"ipc"|"uts": "sandbox" (default) | "host",
 *                  "pid": "private" (default) | "sandbox" | "host"}
 *                             "network" may also be an absolute path of a
 *                             namespace file to join (the caller prepared
 *                             it: interfaces, addresses, routes)
 */

/* Records the container (state "created"; no process yet) after checking
 * the config by generating its OCI spec. rootfs must be an absolute path to
 * a prepared directory. -EEXIST if the id is taken, -ENOENT without sandbox. */
int cri_container_create(struct cri *cri, const char *id, const char *sandbox_id,
                         const char *rootfs, json_t *config, wharf_error *err);
/* Starts a created or exited container through wharf-shim (a restart appends
 * to the same log). The sandbox must be ready. */
int cri_container_start(struct cri *cri, const char *id, wharf_error *err);
/* Sends the stop signal, waits up to timeout_s seconds (< 0: the config's
 * stop_timeout) for the container to exit, then SIGKILLs every process and
 * waits for the exit to be recorded. Not running is success. */
int cri_container_stop(struct cri *cri, const char *id, int timeout_s, wharf_error *err);
int cri_container_kill(struct cri *cri, const char *id, int sig, wharf_error *err);
/* -EBUSY while running unless force (then it is killed first). */
int cri_container_remove(struct cri *cri, const char *id, bool force, wharf_error *err);
int cri_container_pause(struct cri *cri, const char *id, wharf_error *err);
int cri_container_unpause(struct cri *cri, const char *id, wharf_error *err);
/* Records a "resources" object (the container config's schema, merged
 * into the config's) for later starts and, when the container runs, applies
 * it to its cgroup now. */
int cri_container_update(struct cri *cri, const char *id, json_t *resources, wharf_error *err);
/* Gives the container a new config "name" and merges annotations (an object
 * of strings, may be NULL) into its config's, in one record write. The name
 * is free-form here: uniqueness is the caller's rule. Any state. */
int cri_container_rename(struct cri *cri, const char *id, const char *name, json_t *annotations,
                         wharf_error *err);

enum cri_state {
    CRI_STATE_CREATED,
    CRI_STATE_RUNNING,
    CRI_STATE_PAUSED,
    CRI_STATE_EXITED,
};
const char *cri_state_name(enum cri_state state);

struct cri_container_status {
    char *id;
    char *sandbox_id;
    char *name;
    char *rootfs;
    char *log_path;
    enum cri_state state;
    pid_t pid;           /* running or paused; else 0 */
    int exit_code;       /* exited: status, or 128 + signal */
    int signal;          /* exited by a signal: its number */
    bool oom_killed;     /* exited: the memory cgroup OOM-killed something */
    bool supervised;     /* running: its shim is alive (logs and attach work) */
    unsigned start_count;
    struct timespec created_at, started_at, finished_at; /* {0, 0}: never */
    json_t *config;      /* the container config as created (owned) */
};
int cri_container_status(struct cri *cri, const char *id, struct cri_container_status *out,
                         wharf_error *err);
void cri_container_status_release(struct cri_container_status *st);

/* Filters for the list calls; NULL or unset members match everything. */
struct cri_filter {
    const char *id_prefix;
    const char *sandbox_id; /* containers only */
    int state;              /* an enum cri_state, or -1 for any */
    json_t *labels;         /* object: every key must be present with that value */
};
/* *out is a malloc'd array of *count statuses (free with the _array_free). */
int cri_container_list(struct cri *cri, const struct cri_filter *filter,
                       struct cri_container_status **out, size_t *count, wharf_error *err);
void cri_container_status_array_free(struct cri_container_status *a, size_t count);
int cri_sandbox_list(struct cri *cri, const struct cri_filter *filter,
                     struct cri_sandbox_status **out, size_t *count, wharf_error *err);
void cri_sandbox_status_array_free(struct cri_sandbox_status *a, size_t count);

/* ---------------------------------------------------------------- exec, attach */

struct cri_exec_opts {
    const char *const *argv; /* NULL-terminated, required */
    const char *const *env;  /* NULL-terminated "K=V", added to the container's */
    const char *cwd;         /* NULL: the container's */
    const char *user;        /* "UID[:GID]" or NULL: the container's user */
    bool tty;                /* a PTY relayed to/from the fds */
    int in_fd, out_fd, err_fd; /* -1: /dev/null (err_fd unused with a tty) */
    unsigned short rows, cols; /* tty: the PTY's size at start; 0: unset */
    /* tty, may be NULL: called with the PTY master once the process has it,
     * and with -1 before it is closed (e.g. to resize it with TIOCSWINSZ
     * meanwhile; the fd is borrowed). */
    void (*on_terminal)(int master, void *userdata);
    void *userdata;
};
/* Runs a process in the running container with the given fds (a PTY through
 * the runtime's console socket when tty) and waits for it; *exit_code is its
 * status (128 + signal). Errors of the runtime itself are returned. */
int cri_container_exec(struct cri *cri, const char *id, const struct cri_exec_opts *opts,
                       int *exit_code, wharf_error *err);
/* Runs argv and collects its stdout and stderr (caller releases the buffers).
 * timeout_s > 0: after that many seconds the exec is killed and -ETIMEDOUT
 * returned. */
int cri_container_exec_sync(struct cri *cri, const char *id, const char *const *argv,
                            int timeout_s, strbuf *out, strbuf *errout, int *exit_code,
                            wharf_error *err);
/* The same with the timeout in milliseconds (health checks take Go durations). */
int cri_container_exec_sync_ms(struct cri *cri, const char *id, const char *const *argv,
                               int timeout_ms, strbuf *out, strbuf *errout, int *exit_code,
                               wharf_error *err);
/* Connects the fds to the running container's shim (its stdin and its live
 * output, see shim.h) until the container exits. At EOF of in_fd,
 * close_stdin closes the container's stdin (its pipe; a terminal stays) and
 * output goes on; otherwise the attach ends there, stdin left open. -1 fds:
 * no input, output discarded. */
int cri_container_attach(struct cri *cri, const char *id, int in_fd, int out_fd, int err_fd,
                         bool close_stdin, wharf_error *err);
/* Resizes the container's PTY; -ENOTTY when it has none. */
int cri_container_resize(struct cri *cri, const char *id, unsigned rows, unsigned cols,
                         wharf_error *err);

/* ---------------------------------------------------------------- logs */

enum cri_stream { CRI_STREAM_STDOUT = 1, CRI_STREAM_STDERR = 2 };

struct cri_log_record {
    enum cri_stream stream;
    struct timespec time;
    const char *timestamp; /* the RFC 3339 text as written */
    bool partial;          /* "P": the line continues in the next record */
    const char *content;   /* without the newline; not NUL-terminated */
    size_t len;
};
/* Return nonzero to stop reading (that value is returned by the reader). */
typedef int (*cri_log_fn)(const struct cri_log_record *rec, void *userdata);

struct cri_log_opts {
    long tail;               /* only the last N records; < 0: all */
    struct timespec since;   /* records at or after (0: no bound) */
    struct timespec until;   /* records at or before (0: no bound) */
    unsigned streams;        /* bit (1 << CRI_STREAM_x); 0: both */
    bool follow;             /* keep reading appended records */
    /* With follow: called each time the reader is at the end of the file;
     * false ends following after one last read. NULL: follow forever. */
    bool (*keep_following)(void *userdata);
    int poll_ms;             /* follow interval; 0: 100 */
};
/* Reads a CRI log file (malformed lines are skipped). Returns 0, a callback's
 * nonzero value, or a negative errno. A missing file is empty. */
int cri_log_read(const char *path, const struct cri_log_opts *opts, cri_log_fn fn,
                 void *userdata, wharf_error *err);
/* The container's log; follow ends once the container is no longer running
 * (when opts->keep_following is NULL; otherwise both must agree). */
int cri_container_logs(struct cri *cri, const char *id, const struct cri_log_opts *opts,
                       cri_log_fn fn, void *userdata, wharf_error *err);
/* Parses "2026-11-22T05:12:03.123456789Z" (fraction optional, 'Z' or
 * +hh:mm offset). Returns 0 or -EINVAL. */
int cri_parse_time(const char *s, size_t len, struct timespec *out);

/* ---------------------------------------------------------------- stats, top */

/* The container cgroup's stats (cpu, memory, pids; shaped like runc's
 * `events --stats` data): a new reference. */
json_t *cri_container_stats(struct cri *cri, const char *id, wharf_error *err);
/* Host pids of every process in the container; *pids is malloc'd. */
int cri_container_top(struct cri *cri, const char *id, pid_t **pids, size_t *count,
                      wharf_error *err);

/* ---------------------------------------------------------------- restart */

struct cri_reconcile_report {
    unsigned running;   /* running containers re-adopted (their shim is alive) */
    unsigned orphaned;  /* running without a shim: killed (no log, no exit code) */
    unsigned exited;    /* found exited (exit code from the shim's exit.json) */
    unsigned removed;   /* half-created records and runtime leftovers removed */
};
/* Live restore, once after the calling process restarted: walks every
 * record, re-adopts containers whose shim still runs, records exits that
 * happened meanwhile, kills containers that lost their shim, and deletes
 * runtime containers and directories that no record owns. report may be NULL. */
int cri_reconcile(struct cri *cri, struct cri_reconcile_report *report, wharf_error *err);

/* ---------------------------------------------------------------- OCI spec */

/* What cri_generate_spec needs besides the container config. */
struct cri_spec_context {
    const char *id;
    const char *rootfs;
    const char *cgroups_path;
    const char *hostname;   /* set when the container owns its UTS namespace */
    /* Namespaces to join ("/proc/PID/ns/net"); NULL = a new one, unless the
     * config says "host". */
    const char *netns, *ipcns, *utsns, *pidns;
};
/* The OCI config.json of a container (a new reference), or NULL with err
 * naming the offending config field. Exposed for tests and `inspect`. */
json_t *cri_generate_spec(const struct cri_spec_context *ctx, json_t *config, wharf_error *err);
/* The OCI linux.resources object for a "resources" object (new reference). */
json_t *cri_generate_resources(json_t *resources, wharf_error *err);
/* Signal by name ("SIGTERM", "TERM") or number; -EINVAL if unknown. */
int cri_parse_signal(const char *s);

#endif
