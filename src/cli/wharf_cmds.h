/*
 * wharf_cmds — the docker-compatible client commands of `wharf` (images,
 * ps, run, logs, ...), each a thin layer over the Engine API client
 * (client.h) and docker's output formats (format.h).
 *
 * Owns: command-line flags, the request each command sends, and printing
 * the answer the way the docker CLI does (same columns, messages and exit
 * codes: 0 ok, 1 a daemon or argument-count error, 125 a bad flag).
 * Registry credentials are the client's (registry.h keeps the file), sent
 * to the daemon in X-Registry-Auth as the docker CLI does.
 *
 * Must not: know how the daemon stores anything (only the HTTP API), or be
 * used by `wharf daemon` (which stays in wharf_main.c).
 */
#ifndef WHARF_CMDS_H
#define WHARF_CMDS_H

#include "base.h"
#include "client.h"

#include <jansson.h>

/* Exit codes the docker CLI uses. */
#define WCMD_EXIT_ERROR 1
#define WCMD_EXIT_USAGE 125

/* What every command gets: the host from -H (NULL: WHARF_HOST, DOCKER_HOST,
 * then the local daemon) and its own argv (argv[0] is the command name). */
struct wcmd_ctx {
    const char *host;
    const char *name; /* "ps", "image inspect", ... for messages */
};

typedef int (*wcmd_fn)(struct wcmd_ctx *ctx, int argc, char **argv);

/* ---- helpers (wharf_common.c) */

/* A connected client or NULL after printing the one-line error. Without a
 * host (-H, WHARF_HOST, DOCKER_HOST) it is the local daemon, started when
 * it is not running (wcmd_local_daemon). */
struct client *wcmd_client(struct wcmd_ctx *ctx);
/* (wharf_autostart.c) The host of the local daemon as its configuration
 * says (daemon.json "hosts", $WHARF_DAEMON_CONFIG), after starting
 * `wharf daemon` in the background if nothing listens on its unix socket
 * (said once on stderr). Caller frees. */
char *wcmd_local_daemon(void);
/* Sends the request; on a transport failure prints err and returns -1; on
 * an HTTP status >= 400 prints "Error response from daemon: msg" and
 * returns -1 unless quiet_status (then the caller looks at resp->status). */
int wcmd_call(struct client *c, const char *method, const char *path, json_t *body,
              struct client_response *resp, bool quiet_status);
/* Prints "Error response from daemon: <message>" for resp. */
void wcmd_daemon_error(const struct client_response *resp);
/* A path segment with reserved characters %-escaped. Caller frees. */
char *wcmd_escape(const char *s);
/* Appends "?key=value" (or "&..." when path has a query) with value
 * %-escaped. */
void wcmd_add_query(strbuf *path, const char *key, const char *value);
/* Docker's usage errors: prints the message and hint; returns the code. */
int wcmd_usage_error(struct wcmd_ctx *ctx, int code, const char *fmt, ...) WHARF_PRINTF(3, 4);
/* After getopt_long returned '?': names the offending flag; returns 125. */
int wcmd_bad_flag(struct wcmd_ctx *ctx, char **argv);
/* Resets getopt for a command's argv. */
void wcmd_getopt_reset(void);
/* go-units HumanDuration of now - t ("5 seconds", "About a minute"). */
void wcmd_human_duration(int64_t seconds, strbuf *out);
/* go-units HumanSizeWithPrecision(size, 3): decimal units ("1.98MB"). */
void wcmd_human_size(double size, strbuf *out);
/* The same with another precision (go-units HumanSize is 4). */
void wcmd_human_size_prec(double size, int precision, strbuf *out);
/* docker's confirmation prompt: prints "message [y/N] " and reads a line
 * from stdin; true for "y" or "Y". */
bool wcmd_confirm(const char *message);
/* The flags of the prune commands: -f/--force, --filter, and -a/--all with
 * WCMD_PRUNE_ALL, --volumes with WCMD_PRUNE_VOLUMES; no arguments. 0 (o's
 * filters a new object), or the exit code of a usage error (printed). */
enum { WCMD_PRUNE_ALL = 1, WCMD_PRUNE_VOLUMES = 2 };
struct wcmd_prune_opts {
    bool all, force, volumes;
    json_t *filters;
};
int wcmd_prune_flags(struct wcmd_ctx *ctx, int argc, char **argv, unsigned accepts,
                     struct wcmd_prune_opts *o);
/* Prints a prune report's list (list_key: "ImagesDeleted", "ContainersDeleted",
 * ...) under title ("Deleted Images") as docker does, nothing when it is
 * empty; returns its SpaceReclaimed. */
uint64_t wcmd_print_prune_report(json_t *report, const char *list_key, const char *title);
/* The id without "sha256:", cut to 12 characters when trunc. Caller frees. */
char *wcmd_short_id(const char *id, bool trunc);
/* docker's Ellipsis: at most max characters, "…" marking a cut. Caller frees. */
char *wcmd_ellipsis(const char *s, size_t max);
/* Go's json.Indent(prefix "", indent "    ") of raw JSON text. */
void wcmd_json_indent(const char *raw, size_t len, strbuf *out);
/* Writes all of buf to fd; -errno on failure. */
int wcmd_write_all(int fd, const char *buf, size_t len);
/* What an inspect command found, printed as docker does once every name is
 * looked up: the objects first, then the errors gathered for the others. */
struct wcmd_inspect {
    json_t **elems;
    strbuf *raws; /* each object's JSON text as the daemon sent it */
    size_t n;
    strbuf errors; /* lines for stderr */
};
void wcmd_inspect_init(struct wcmd_inspect *in, size_t capacity);
/* Takes resp's JSON and body (resp keeps neither). */
void wcmd_inspect_add(struct wcmd_inspect *in, struct client_response *resp);
/* Prints the objects (an indented array of their texts, or fmt, a plain Go
 * template that may be NULL, once per object) and then the errors, and frees
 * in. Returns 0, or 1 after printing a template error. */
int wcmd_inspect_finish(struct wcmd_inspect *in, const char *fmt);

/* docker's --filter K=V (flag names the flag for the message): adds V under
 * K in filters ({"k": {"v": true}}, the docker CLI's encoding). Returns 0 or
 * the exit code of a usage error (already printed). */
int wcmd_add_filter(struct wcmd_ctx *ctx, json_t *filters, const char *arg, const char *flag);
/* Appends "?filters=<JSON>" (or "&...") to path when filters is not empty. */
void wcmd_add_filters_query(json_t *filters, strbuf *path);
/* The strings of an array, sorted and joined with sep: a new JSON string. */
json_t *wcmd_join_sorted(json_t *strings, const char *sep);
/* A copy of obj with its keys in sorted order (Go's map order for json). */
json_t *wcmd_sort_keys(json_t *obj);

/* POST /images/prune (dangling only unless all) and prints its report;
 * adds the space reclaimed. -1 after printing an error. */
int wcmd_prune_images(struct client *c, json_t *filters, bool all, uint64_t *reclaimed);

/* A docker ps row (ContainerContext's fields as strings) of a container
 * summary; now is the time ages are counted from. A new object. */
json_t *wcmd_ps_row(json_t *ct, bool trunc, int64_t now);

/* ---- interactive streams (wharf_attach.c) */

struct wcmd_attach_opts {
    bool is_run;             /* run's exit codes for failures (125, 126, 127), else start's (1) */
    bool input;              /* our stdin goes to the container */
    bool no_stdout;          /* its stdout is not attached (run -a) */
    bool no_stderr;          /* its stderr is not attached (run -a) */
    bool tty;                /* the container has a terminal */
    bool auto_remove;        /* --rm: wait for the removal, not the exit */
    bool sig_proxy;          /* forward signals (without a terminal) */
    const char *detach_keys; /* NULL: the default */
};
/* Attaches to a created (or exited) container, sends the wait, starts it and
 * streams until its output ends; returns the exit code to exit with (that of
 * the container, 0 after a detach). Prints its own errors. */
int wcmd_attach_and_start(struct client *c, const char *id, const struct wcmd_attach_opts *o);
/* Docker's "the input device is not a TTY" check; false after printing it. */
bool wcmd_check_tty(bool attach_stdin, bool tty);
/* [rows, cols] of the terminal on stdout for ConsoleSize (new reference),
 * or NULL when stdout is not a terminal. */
json_t *wcmd_console_size(void);
/* docker run's exit code for a start that failed with msg: 127 for a
 * command not found, 126 for one that cannot be run, else 125. */
int wcmd_start_error_code(const char *msg);

/* ---- commands */
int wcmd_version(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_info(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_system_df(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_system_prune(struct wcmd_ctx *ctx, int argc, char **argv);

int wcmd_images(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_image_inspect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_load(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_save(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_tag(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_rmi(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_history(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_import(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_image_prune(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_build(struct wcmd_ctx *ctx, int argc, char **argv); /* wharf_build.c */

int wcmd_ps(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_run(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_create(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_start(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_logs(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_stop(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_kill(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_rm(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_wait(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_container_inspect(struct wcmd_ctx *ctx, int argc, char **argv);
/* `wharf inspect`: each name as a container first, then as an image. */
int wcmd_inspect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_attach(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_exec(struct wcmd_ctx *ctx, int argc, char **argv);

/* wharf_manage.c */
int wcmd_restart(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_rename(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_pause(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_unpause(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_top(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_stats(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_export(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_diff(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_commit(struct wcmd_ctx *ctx, int argc, char **argv);
/* wharf_compose.c: `wharf compose [-f FILE]... [-p NAME] COMMAND ...` */
int wcmd_compose(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_container_prune(struct wcmd_ctx *ctx, int argc, char **argv);

/* wharf_registry.c */
int wcmd_pull(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_push(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_login(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_logout(struct wcmd_ctx *ctx, int argc, char **argv);
/* Pulls name through the daemon with the registry's stored credentials,
 * drawing progress on out (nothing when quiet). 0, or 1 after printing the
 * error. */
int wcmd_pull_image(struct client *c, const char *name, const char *platform, bool quiet,
                    FILE *out);
/* wharf_network.c */
int wcmd_network_create(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_ls(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_inspect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_rm(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_connect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_disconnect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_network_prune(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_port(struct wcmd_ctx *ctx, int argc, char **argv);
/* A -p spec ([ip:][hostPort:]containerPort[/proto], ranges too) into
 * PortBindings and ExposedPorts, with the docker CLI's checks; -1 and the
 * message in errmsg when it is bad. */
int wcmd_parse_publish(const char *spec, json_t *bindings, json_t *exposed, strbuf *errmsg);
/* run/create's network flags: 'p', 'P' and the codes
 * below, applied to the create body; 0 or the exit code of a usage error
 * (printed). wcmd_network_run_finish once all flags are read. */
enum {
    WCMD_OPT_NETWORK = 0x1000,
    WCMD_OPT_NETWORK_ALIAS,
    WCMD_OPT_IP,
    WCMD_OPT_EXPOSE,
    WCMD_OPT_DNS,
    WCMD_OPT_DNS_SEARCH,
    WCMD_OPT_DNS_OPTION,
    WCMD_OPT_ADD_HOST,
};
int wcmd_network_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body);
void wcmd_network_run_finish(json_t *body);

/* wharf_update.c: `wharf update`, and run/create's resource flags ('c' and
 * the codes below, into body's HostConfig) and health check flags (into
 * body's Healthcheck); 0 or the exit code of a usage error (printed).
 * wcmd_limits_run_finish once all flags are read (docker's conflicts). */
enum {
    WCMD_OPT_MEMORY_RESERVATION = 0x1100,
    WCMD_OPT_MEMORY_SWAP,
    WCMD_OPT_CPU_PERIOD,
    WCMD_OPT_CPU_QUOTA,
    WCMD_OPT_BLKIO_WEIGHT,
    WCMD_OPT_HEALTH_CMD, /* the health options from here on */
    WCMD_OPT_HEALTH_INTERVAL,
    WCMD_OPT_HEALTH_TIMEOUT,
    WCMD_OPT_HEALTH_START_PERIOD,
    WCMD_OPT_HEALTH_START_INTERVAL,
    WCMD_OPT_HEALTH_RETRIES,
    WCMD_OPT_NO_HEALTHCHECK,
};
int wcmd_limits_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body);
int wcmd_limits_run_finish(struct wcmd_ctx *ctx, json_t *body);
int wcmd_update(struct wcmd_ctx *ctx, int argc, char **argv);
/* docker's ParseRestartPolicy ("no", "always", "on-failure[:N]",
 * "unless-stopped"): a new {Name, MaximumRetryCount}, or NULL and *why. */
json_t *wcmd_parse_restart(const char *arg, char **why);
/* wharf_cp.c */
int wcmd_cp(struct wcmd_ctx *ctx, int argc, char **argv);
/* wharf_volume.c */
int wcmd_volume_create(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_volume_ls(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_volume_inspect(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_volume_rm(struct wcmd_ctx *ctx, int argc, char **argv);
int wcmd_volume_prune(struct wcmd_ctx *ctx, int argc, char **argv);
/* POST /volumes/prune with filters and prints its report ("Deleted
 * Volumes:"); adds the space reclaimed. -1 after printing an error. */
int wcmd_prune_volumes(struct client *c, json_t *filters, uint64_t *reclaimed);
/* docker's volume rows (Name, Driver, Links, Size, ...: strings) of Volume
 * objects, for ls and system df -v: a new array. */
json_t *wcmd_volume_df_rows(json_t *volumes);
/* run/create's --mount (the docker CLI's CSV syntax) into HostConfig.Mounts;
 * 0 or the exit code of a usage error (printed). */
enum { WCMD_OPT_MOUNT = 0x1200 };
int wcmd_volume_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body);

#endif
