/*
 * internal.h — what the runtime's own files share; not for other modules.
 */
#ifndef WHARF_RUNTIME_INTERNAL_H
#define WHARF_RUNTIME_INTERNAL_H

#include "runtime.h"

#include <jansson.h>

struct cgroup;

/* ---------------------------------------------------------------- state */

enum container_status {
    STATUS_CREATING,
    STATUS_CREATED,
    STATUS_RUNNING,
    STATUS_PAUSED,
    STATUS_STOPPED,
};
const char *container_status_name(enum container_status s);

/* What <root>/<id>/state.json records. */
struct container {
    char *id;
    char *dir;    /* <root>/<id> */
    char *bundle; /* absolute */
    char *rootfs; /* absolute */
    char *cgroup; /* canonical cgroup path */
    char *created;
    pid_t pid;
    unsigned long long start_time; /* /proc/PID/stat field 22: guards against pid reuse */
    bool no_pivot;
    bool systemd_cgroup;
    json_t *config; /* config.json as it was at create time */
};

bool container_id_valid(const char *id);
char *container_dir(const struct runtime_ctx *ctx, const char *id);
/* Loads state.json; -ENOENT with "container ID does not exist" when absent. */
int container_load(const struct runtime_ctx *ctx, const char *id, struct container **out,
                   wharf_error *err);
int container_save(const struct container *c, wharf_error *err);
void container_free(struct container *c);
enum container_status container_status(const struct container *c);
/* The OCI state object; new reference. */
json_t *container_state_json(const struct container *c, enum container_status status);
/* Start time of pid from /proc, 0 if it is gone (or a zombie). */
unsigned long long proc_start_time(pid_t pid);
/* An exclusive lock on the container directory for the life of the fd. */
int container_lock(const char *dir, wharf_error *err);

/* ---------------------------------------------------------------- spec */

/* Loads and validates <bundle>/config.json; new reference. */
json_t *spec_load(const char *bundle, wharf_error *err);
int spec_validate(json_t *spec, const char *bundle, wharf_error *err);
int spec_validate_process(json_t *process, const char *where, wharf_error *err);

struct spec_namespace {
    int flag;         /* CLONE_NEW* */
    const char *type; /* "pid", "network", ... */
    const char *path; /* join by path, or NULL for a new one */
};
/* Namespaces of linux.namespaces in the order they must be joined/created. */
int spec_namespaces(json_t *spec, struct spec_namespace *out, size_t *count, wharf_error *err);
#define SPEC_MAX_NAMESPACES 8
int spec_namespace_flag(const char *type);

/* ---------------------------------------------------------------- hooks */

/* Runs hooks.<kind>[] in order with state on stdin; kind is "prestart",
 * "createRuntime", "createContainer", "startContainer", "poststart" or
 * "poststop". Fails on the first hook that fails or times out. */
int hooks_run(json_t *spec, const char *kind, json_t *state, wharf_error *err);
/* The same for poststart and poststop, whose failures the spec makes
 * warnings: every hook runs, each failure is logged. */
void hooks_run_warn(json_t *spec, const char *kind, json_t *state, const char *id);

/* ---------------------------------------------------------------- sync */

enum sync_type {
    SYNC_GO = 1,
    SYNC_USERMAP, /* stage 1 -> parent: write my uid/gid maps */
    SYNC_USERMAP_DONE,
    SYNC_PID,    /* stage 1 -> parent: value = the init's pid */
    SYNC_HOOKS,  /* init -> parent: run prestart + createRuntime now */
    SYNC_HOOKS_DONE,
    SYNC_READY,  /* init -> parent: waiting on exec.fifo */
    SYNC_ERROR,  /* either way: msg says why */
};
struct sync_msg {
    int type;
    int value;
    char msg[1024];
};
int sync_send(int fd, int type, int value, const char *msg);
/* Receives one message; an SYNC_ERROR from the peer becomes *err. -EPIPE on EOF. */
int sync_recv(int fd, struct sync_msg *m, wharf_error *err);
int sync_expect(int fd, int type, struct sync_msg *m, wharf_error *err);

/* ---------------------------------------------------------------- process */

/* Everything between "the namespaces and rootfs are ready" and execve, shared
 * by the container init and exec: rlimits, user and groups, capabilities,
 * no_new_privs, seccomp, umask, cwd (checked to be inside the root), env,
 * and the executable looked up in PATH. Only returns on failure. */
struct process_exec {
    json_t *process;
    json_t *seccomp;       /* linux.seccomp or NULL */
    unsigned preserve_fds; /* fds 3..3+N-1 stay open */
};
int process_prepare_exec(const struct process_exec *p, char **resolved_path, wharf_error *err);
int process_exec(const struct process_exec *p, const char *resolved_path, wharf_error *err);
/* From outside, before the process runs user code: process.oomScoreAdj and
 * process.rlimits applied to pid (raising limits needs the host's privileges,
 * which a process in a user namespace no longer has). With rlimits false only
 * oomScoreAdj: create applies the rlimits once the init has set up its root
 * filesystem, as runc does, so a low RLIMIT_NOFILE cannot break the setup. */
int process_apply_limits(json_t *process, pid_t pid, bool rlimits, wharf_error *err);

/* Creates a pty inside the current mount namespace (/dev/ptmx), sends the
 * master over the connected console socket, makes the slave the controlling
 * terminal and stdio; *slave_path receives its name (malloc'd). */
int console_setup(int console_sock, json_t *process, char **slave_path, wharf_error *err);
/* Connects to a --console-socket path. */
int console_connect(const char *path, wharf_error *err);
/* Receives the pty master that console_setup sent; returns the fd. */
int console_recv_master(int sock, wharf_error *err);
/* Foreground terminal without a console socket (`run`/`exec -t` from a shell):
 * relays our stdin/stdout to the pty in raw mode, forwards window size
 * changes, and returns pid's status once it exits. */
int console_relay(int master, pid_t pid);

/* ---------------------------------------------------------------- create */

/* What the parent prepares for the container's stages (they are forks of it,
 * so they read the same struct). */
struct create_state {
    const struct runtime_ctx *ctx;
    const struct runtime_create_opts *opts;
    json_t *spec;
    const char *id;
    char *bundle;
    char *rootfs;
    char *dir;
    struct spec_namespace ns[SPEC_MAX_NAMESPACES];
    size_t nns;
    int unshare_flags; /* new namespaces, cgroup excepted (unshared by the init) */
    bool new_userns;
    bool new_cgroupns;
    int sync_fd;    /* the stages' end of the socketpair */
    int fifo_fd;    /* O_PATH fd of exec.fifo */
    int console_fd; /* connected console socket, or -1 */
    int relay_fd;   /* our end of a socketpair standing in for it, or -1 */
    int lock_fd;    /* the parent's lock on the state directory */
    struct cgroup *cg; /* stage 1 joins its v1 hierarchies itself */
};
/* Stage 1 (see runtime.h); never returns. */
__attribute__((noreturn)) void init_stage1(struct create_state *cs);

/* fork(), but born in the cgroup v2 directory cgroup_fd (see cgroup.h,
 * "fast placement"); plain fork() when cgroup_fd is -1. */
pid_t fork_into_cgroup(int cgroup_fd);

/* Waits for pid (a child); returns the shell-style status (128+sig). */
int wait_child_status(pid_t pid);

#endif
