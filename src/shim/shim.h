/*
 * shim — wharf-shim, the per-container supervisor (the job conmon and
 * containerd-shim do for other engines).
 *
 * Owns: launching one container through an OCI runtime with runc's CLI,
 * staying its parent (child subreaper) for the container's whole life,
 * relaying its stdio (pipes or a PTY) to a CRI-format log file and to attach
 * clients, feeding its stdin, window resizes, and recording how it exited.
 *
 * Must not: parse OCI config or use JSON libraries (the binary is linked
 * statically and stays resident, so its idle RSS must stay under 1 MiB), talk
 * to cgroups other than reading the OOM counter (cgroup_oom.c), or manage the
 * container after it exits (delete is the engine's job, through the runtime).
 *
 * Command line (src/cli/shim_main.c is a thin main over this library):
 *
 *   wharf-shim --id ID --bundle DIR --state-dir DIR
 *              [--runtime PATH]       default: wharf-runtime next to the shim
 *                                     binary, else found in PATH
 *              [--runtime-root DIR]   passed to the runtime as --root
 *              [--systemd-cgroup]     passed to the runtime
 *              [--log-path FILE]      default: STATE/container.log
 *              [--log-max-size BYTES] rotate above this size; 0 = never
 *              [--log-max-files N]    files kept including the live one (1)
 *              [--terminal]           the container has a PTY (process.terminal)
 *              [--stdin]              keep the container's stdin open
 *              [--start]              also `start` the container after `create`
 *   wharf-shim attach STATE_DIR       a client of STATE/attach (see below)
 *   wharf-shim ctl STATE_DIR COMMAND  sends one command to STATE/ctl, prints
 *                                     the reply; exit 0 only on "ok"
 *
 * The invoking process validates the arguments (exit 2 on a usage error),
 * creates the state dir and forks the shim, then waits until the container is
 * created (and started with --start): it prints the container's pid and exits
 * 0, or prints the runtime's error and exits 1 with nothing left running.
 *
 * The shim process detaches (setsid, stdio on /dev/null, cwd /), becomes a
 * child subreaper, ignores SIGTERM/SIGINT/SIGHUP, and runs
 *   RUNTIME [--root R] [--systemd-cgroup] --log STATE/runtime.log
 *           --log-format json create --bundle B --pid-file STATE/pid
 *           [--console-socket STATE/console.sock] ID
 * Killing the shim (even SIGKILL) does not kill the container.
 *
 * Files in the state dir:
 *   shim.pid       the shim's pid
 *   pid            the container's init pid (written by the runtime)
 *   runtime.log    the runtime's JSON log
 *   shim.log       the shim's own diagnostics (text)
 *   container.log  CRI log: "<RFC3339Nano> <stdout|stderr> <F|P> <content>\n"
 *                  a line still unterminated after 10 ms without output is
 *                  written as a "P" record (prompts, terminal echo)
 *   attach         SOCK_SEQPACKET. Shim → client: 1 byte stream id (1 stdout,
 *                  2 stderr) + payload, every chunk of output while connected.
 *                  Client → shim: payload written to the container's stdin
 *                  (or PTY), at most SHIM_ATTACH_MAX_MSG bytes a message; an
 *                  empty message closes stdin (pipes only). A client that
 *                  cannot keep up (its socket buffer is full) is disconnected
 *                  rather than stall the container or the log. When the
 *                  container has exited, the shim closes every client.
 *   ctl            SOCK_SEQPACKET, text commands "resize ROWS COLS" and
 *                  "close-stdin"; each is answered "ok" or "error: ...".
 *   exit.json      written atomically once the container's init exited and
 *                  its output was drained: {"id": "...", "exit_code": N,
 *                  "signal": S, "exited_at": "RFC3339Nano", "oom_killed": b}
 *                  exit_code is the status, or 128+S when killed by signal S.
 * The sockets are removed when the shim exits.
 */
#ifndef WHARF_SHIM_H
#define WHARF_SHIM_H

#include <time.h>

#include "base.h"

/* ---------------------------------------------------------------- launch */

/* Settings of one shim. Every string is owned by the struct (malloc'd). */
struct shim_config {
    char *id;
    char *bundle;
    char *state_dir;
    char *runtime;      /* NULL: the default described above */
    char *runtime_root; /* NULL: the runtime's default */
    char *log_path;     /* NULL: STATE/container.log */
    bool systemd_cgroup;
    bool terminal;
    bool open_stdin;
    bool start;
    uint64_t log_max_size;  /* 0 = no rotation */
    unsigned log_max_files; /* >= 1 */
};

void shim_config_init(struct shim_config *cfg);
void shim_config_release(struct shim_config *cfg);

/* Checks the settings and turns every path absolute (the shim runs in "/"),
 * filling in the defaults. -EINVAL (usage error) with a one-line message. */
int shim_config_finalize(struct shim_config *cfg, wharf_error *err);

/* Creates the state dir and forks the shim; returns 0 with the container's
 * pid once it is created (and started), or the runtime's error. Only the
 * invoking process returns: the forked shim ends with _exit() when the
 * container has exited. cfg must have been finalized. */
int shim_launch(const struct shim_config *cfg, pid_t *container_pid, wharf_error *err);

/* ---------------------------------------------------------------- attach */

#define SHIM_STREAM_STDOUT 1
#define SHIM_STREAM_STDERR 2
/* The largest payload a client may send in one attach message. */
#define SHIM_ATTACH_MAX_MSG 16384

/* The `attach` client: copies in_fd to STATE/attach and messages from it to
 * out_fd/err_fd until the shim closes the connection. At EOF of in_fd,
 * close_stdin sends the empty message (the container's stdin is closed) and
 * output is still relayed; without it the client returns at once and the
 * container's stdin stays open for a later attach. in_fd -1: no input;
 * out_fd/err_fd -1: that output is discarded. Returns 0, or a negative errno
 * with err filled. */
int shim_attach_client(const char *state_dir, int in_fd, int out_fd, int err_fd, bool close_stdin,
                       wharf_error *err);

/* The `ctl` client: sends one command to STATE/ctl and puts the shim's reply
 * ("ok" or "error: ...") into reply. Returns 0 when a reply came. */
int shim_ctl_client(const char *state_dir, const char *command, char *reply, size_t len,
                    wharf_error *err);

/* ---------------------------------------------------------------- log file */

/* Longest line content in one record; longer lines are split into "P"
 * records of this size. */
#define SHIM_LOG_LINE_MAX 16384

struct shim_log; /* opaque; freed by shim_log_close */

/* Opens (appends to) a CRI log. max_size 0 = never rotate; max_files counts
 * the live file plus max_files-1 rotated ones (path.1 newest); with 1 the file
 * is truncated instead. strip_cr drops a '\r' before each '\n' (PTY output). */
int shim_log_open(const char *path, uint64_t max_size, unsigned max_files, bool strip_cr,
                  struct shim_log **out, wharf_error *err);
/* Appends output of one stream (SHIM_STREAM_*): each complete line is an "F"
 * record; a line longer than SHIM_LOG_LINE_MAX becomes "P" records; an
 * unterminated tail is kept until more output or shim_log_flush. */
int shim_log_write(struct shim_log *log, int stream, const void *data, size_t len,
                   wharf_error *err);
/* Writes a stream's unterminated tail as a "P" record (end of output). */
int shim_log_flush(struct shim_log *log, int stream, wharf_error *err);
/* Flushes both streams' tails and frees; NULL is fine. */
void shim_log_close(struct shim_log *log);

/* ---------------------------------------------------------------- exit file */

struct shim_exit {
    int exit_code; /* status, or 128 + signal */
    int signal;    /* 0 unless killed by a signal */
    struct timespec exited_at;
    bool oom_killed;
};

/* Fills ex from a waitpid() status. */
void shim_exit_from_status(struct shim_exit *ex, int status, const struct timespec *when);
/* Formats exit.json into buf; returns the length, or -ENOSPC if it does not fit. */
int shim_exit_format(const char *id, const struct shim_exit *ex, char *buf, size_t len);
/* Writes it atomically to path. */
int shim_exit_write(const char *path, const char *id, const struct shim_exit *ex, wharf_error *err);

/* ---------------------------------------------------------------- helpers */

/* RFC 3339 UTC with nanoseconds of ts; buf >= 40 bytes. */
const char *shim_format_time(const struct timespec *ts, char *buf, size_t len);
/* JSON-escapes s (without quotes) into buf; returns the length, or -ENOSPC. */
int shim_json_escape(const char *s, char *buf, size_t len);
/* The "msg" of the last line with "level":"error" in a runtime's JSON log,
 * unescaped into buf. Returns the length, or -ENOENT when there is none. */
int shim_runtime_log_error(const char *log_text, char *buf, size_t len);

#endif
