/*
 * cri_internal.h — shared between the cri module's files; not installed.
 */
#ifndef WHARF_CRI_INTERNAL_H
#define WHARF_CRI_INTERNAL_H

#include "cri.h"

struct cri {
    char *root;
    char *runtime;
    char *shim;
    char *runtime_root;
    char *cgroup_parent;
    char *busybox;
};

/* ---- proc.c: child programs */

/* Runs argv (argv[0] an absolute path) with stdin from in_fd (-1: /dev/null),
 * collecting stdout and stderr into out/errout (NULL: discarded), or passing
 * out_fd/err_fd straight through when >= 0 and the buffer is NULL. Waits for
 * it, at most timeout_ms (<= 0: no limit; then kills it and returns
 * -ETIMEDOUT). *status is the exit status or 128 + signal. */
struct cri_run {
    const char *const *argv;
    int in_fd, out_fd, err_fd;
    strbuf *out, *errout;
    int timeout_ms;
    const char *pid_file; /* on timeout, also SIGKILL the pid written here */
};
int cri_run(const struct cri_run *run, int *status, wharf_error *err);
/* Forks argv with the three fds as its stdio (-1: /dev/null); returns its pid. */
pid_t cri_spawn(const char *const *argv, int in_fd, int out_fd, int err_fd, wharf_error *err);
/* waitpid with EINTR retry; returns the exit status or 128 + signal. */
int cri_wait(pid_t pid);

/* Runs `RUNTIME --root R ARGS...`; a failure returns -EIO with the runtime's
 * message. NULL-terminated varargs. */
int cri_runtime_cmd(struct cri *cri, wharf_error *err, ...) __attribute__((sentinel));

/* ---- process identity: a pid plus its start time survives pid reuse */
uint64_t cri_proc_start_time(pid_t pid); /* 0 if gone */
bool cri_proc_alive(pid_t pid, uint64_t start_time);

/* ---- spec.c */
bool cri_namespace_is_host(json_t *config, const char *key);

/* ---- time */
char *cri_now_rfc3339(void); /* malloc'd */
void cri_json_time(json_t *obj, const char *key, struct timespec *out);

#endif
