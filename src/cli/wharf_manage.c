/* Container management commands: restart, rename, pause, unpause, top,
 * stats, export, diff and container prune, printed the way the docker CLI
 * prints them. */
#include "wharf_cmds.h"
#include "format.h"
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct option help_only[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};

/* Parses no flags at all: returns -1 when argv is clean, else the exit code
 * of the flag error (already printed). */
static int no_flags(struct wcmd_ctx *ctx, int argc, char **argv, const char *shortopts)
{
    wcmd_getopt_reset();
    if (getopt_long(argc, argv, shortopts, help_only, NULL) != -1)
        return wcmd_bad_flag(ctx, argv);
    return -1;
}

static int need_args(struct wcmd_ctx *ctx, int have, int want, bool exactly)
{
    if (exactly ? have == want : have >= want)
        return 0;
    /* docker's wording: "requires 2 arguments", "requires at least 1 argument" */
    return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires %s%d argument%s", ctx->name,
                            exactly ? "" : "at least ", want, want == 1 ? "" : "s");
}

/* For each name: method /containers/<name>/<action><query>; prints the name
 * on success, the daemon's error otherwise (exit 1 if any failed). */
static int each_container(struct wcmd_ctx *ctx, char **names, int n, const char *method,
                          const char *action, const char *query)
{
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *id = wcmd_escape(names[i]);
        _cleanup_free_ char *path = xasprintf("/containers/%s/%s%s", id, action, query);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, method, path, NULL, &resp, false) < 0)
            rc = WCMD_EXIT_ERROR;
        else
            printf("%s\n", names[i]);
        client_response_release(&resp);
    }
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- restart */

int wcmd_restart(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_TIME = 256 };
    static const struct option opts[] = {{"timeout", required_argument, 0, 't'},
                                         {"time", required_argument, 0, OPT_TIME},
                                         {"signal", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    _cleanup_strbuf_ strbuf q = STRBUF_INIT;
    bool timeout = false, time_flag = false;
    long t = 0;
    _cleanup_free_ char *sig = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "t:s:", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
        case OPT_TIME: {
            char *end;
            t = strtol(optarg, &end, 10);
            if (end == optarg || *end)
                return wcmd_usage_error(
                    ctx, WCMD_EXIT_USAGE,
                    "invalid argument \"%s\" for \"%s\" flag: strconv.ParseInt: "
                    "parsing \"%s\": invalid syntax",
                    optarg, ch == 't' ? "-t, --timeout" : "--time", optarg);
            if (ch == 't') {
                timeout = true;
            } else {
                time_flag = true;
                /* what cobra prints for a deprecated flag, on stdout */
                printf("Flag --time has been deprecated, use --timeout instead\n");
            }
            break;
        }
        case 's':
            free(sig);
            sig = wcmd_escape(optarg);
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (timeout && time_flag) {
        fprintf(stderr, "conflicting options: cannot specify both --timeout and --time\n");
        return WCMD_EXIT_ERROR;
    }
    int r = need_args(ctx, argc - optind, 1, false);
    if (r)
        return r;
    if (sig)
        strbuf_addf(&q, "?signal=%s", sig);
    if (timeout || time_flag)
        strbuf_addf(&q, "%st=%ld", q.len ? "&" : "?", t);
    return each_container(ctx, argv + optind, argc - optind, "POST", "restart", strbuf_str(&q));
}

/* ---------------------------------------------------------------- rename */

static char *trimmed(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xasprintf("%.*s", (int)n, s);
}

int wcmd_rename(struct wcmd_ctx *ctx, int argc, char **argv)
{
    int r = no_flags(ctx, argc, argv, "");
    if (r >= 0)
        return r;
    if ((r = need_args(ctx, argc - optind, 2, true)))
        return r;
    _cleanup_free_ char *old = trimmed(argv[optind]);
    _cleanup_free_ char *new = trimmed(argv[optind + 1]);
    if (!*old || !*new) {
        fprintf(stderr, "Error: Neither old nor new names may be empty\n");
        return WCMD_EXIT_ERROR;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_free_ char *eold = wcmd_escape(old);
    _cleanup_free_ char *enew = wcmd_escape(new);
    _cleanup_free_ char *path = xasprintf("/containers/%s/rename?name=%s", eold, enew);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = 0;
    if (wcmd_call(c, "POST", path, NULL, &resp, false) < 0) {
        fprintf(stderr, "Error: failed to rename container named %s\n", old);
        rc = WCMD_EXIT_ERROR;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- pause */

int wcmd_pause(struct wcmd_ctx *ctx, int argc, char **argv)
{
    int r = no_flags(ctx, argc, argv, "");
    if (r >= 0)
        return r;
    if ((r = need_args(ctx, argc - optind, 1, false)))
        return r;
    return each_container(ctx, argv + optind, argc - optind, "POST", "pause", "");
}

int wcmd_unpause(struct wcmd_ctx *ctx, int argc, char **argv)
{
    int r = no_flags(ctx, argc, argv, "");
    if (r >= 0)
        return r;
    if ((r = need_args(ctx, argc - optind, 1, false)))
        return r;
    return each_container(ctx, argv + optind, argc - optind, "POST", "unpause", "");
}

/* ---------------------------------------------------------------- top */

int wcmd_top(struct wcmd_ctx *ctx, int argc, char **argv)
{
    /* "+": everything after the container is ps's, dashes included */
    int r = no_flags(ctx, argc, argv, "+");
    if (r >= 0)
        return r;
    if ((r = need_args(ctx, argc - optind, 1, false)))
        return r;
    _cleanup_free_ char *id = wcmd_escape(argv[optind]);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addf(&path, "/containers/%s/top", id);
    if (argc - optind > 1) {
        _cleanup_strbuf_ strbuf args = STRBUF_INIT;
        for (int i = optind + 1; i < argc; i++)
            strbuf_addf(&args, "%s%s", i > optind + 1 ? " " : "", argv[i]);
        _cleanup_free_ char *e = wcmd_escape(args.buf);
        strbuf_addf(&path, "?ps_args=%s", e);
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "GET", path.buf, NULL, &resp, false) == 0) {
        /* docker's top table: tabwriter minwidth 20, padding 3 */
        format_table *t = format_table_new(20, 1, 3, ' ');
        json_t *titles = json_object_get(resp.json, "Titles");
        json_t *procs = json_object_get(resp.json, "Processes");
        size_t i, k;
        json_t *v, *row;
        _cleanup_strbuf_ strbuf line = STRBUF_INIT;
        json_array_foreach(titles, i, v)
        {
            const char *t = json_string_value(v);
            strbuf_addf(&line, "%s%s", i ? "\t" : "", t ? t : "");
        }
        strbuf_addch(&line, '\n');
        format_table_write(t, line.buf, line.len);
        json_array_foreach(procs, k, row)
        {
            strbuf_reset(&line);
            json_array_foreach(row, i, v)
            {
                const char *cell = json_string_value(v);
                strbuf_addf(&line, "%s%s", i ? "\t" : "", cell ? cell : "");
            }
            strbuf_addch(&line, '\n');
            format_table_write(t, line.buf, line.len);
        }
        _cleanup_strbuf_ strbuf out = STRBUF_INIT;
        format_table_flush(t, &out);
        format_table_free(t);
        fputs(strbuf_str(&out), stdout);
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- stats */

/* go-units CustomSize: size scaled by base until it is below, printed with
 * "%.<prec>g" and the unit. */
static void custom_size(double size, int prec, double base, const char *const *units, size_t nunits,
                        strbuf *out)
{
    size_t i = 0;
    while (size >= base && i < nunits - 1) {
        size /= base;
        i++;
    }
    strbuf_addf(out, "%.*g%s", prec, size, units[i]);
}

static const char *const decimal_units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
static const char *const binary_units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                           "PiB", "EiB", "ZiB", "YiB"};

/* units.HumanSizeWithPrecision(size, prec) */
static void human_size(double size, int prec, strbuf *out)
{
    custom_size(size, prec, 1000.0, decimal_units, 9, out);
}

/* units.BytesSize */
static void bytes_size(double size, strbuf *out)
{
    custom_size(size, 4, 1024.0, binary_units, 9, out);
}

static double num(json_t *obj, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = obj;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return json_is_number(cur) ? json_number_value(cur) : 0;
}

/* One container of the table: what was asked for, and the last samples. */
struct stats_entry {
    char *container; /* as named on the command line, or the short id */
    json_t *prev;    /* the sample before (for the CPU delta), or NULL */
    json_t *cur;     /* the latest sample, or NULL */
    bool invalid;    /* the last fetch failed: values print as "--" */
};

static void entry_release(struct stats_entry *e)
{
    free(e->container);
    if (e->prev)
        json_decref(e->prev);
    if (e->cur)
        json_decref(e->cur);
}

/* The docker CLI's row for a sample (calculateCPUPercentUnix,
 * calculateMemUsageUnixNoCache, ...); keys in the order of its JSON. */
static json_t *stats_row(const struct stats_entry *e, bool trunc)
{
    json_t *v = e->cur;
    json_t *pre =
        e->prev ? json_object_get(e->prev, "cpu_stats") : json_object_get(v, "precpu_stats");
    double cpu_delta =
        num(v, "cpu_stats.cpu_usage.total_usage") - num(pre, "cpu_usage.total_usage");
    double sys_delta = num(v, "cpu_stats.system_cpu_usage") - num(pre, "system_cpu_usage");
    double online = num(v, "cpu_stats.online_cpus");
    if (online == 0)
        online = (double)json_array_size(json_object_get(
            json_object_get(json_object_get(v, "cpu_stats"), "cpu_usage"), "percpu_usage"));
    double cpu = sys_delta > 0 && cpu_delta > 0 ? cpu_delta / sys_delta * online * 100.0 : 0;

    json_t *ms = json_object_get(v, "memory_stats");
    double usage = num(ms, "usage");
    json_t *raw = json_object_get(ms, "stats");
    double mem = usage;
    json_t *tif = json_object_get(raw, "total_inactive_file");
    if (tif && num(raw, "total_inactive_file") < usage)
        mem = usage - num(raw, "total_inactive_file");
    else if (!tif && num(raw, "inactive_file") < usage)
        mem = usage - num(raw, "inactive_file");
    double limit = num(ms, "limit");
    double mem_perc = limit != 0 ? mem / limit * 100.0 : 0;

    double blk_read = 0, blk_write = 0;
    size_t i;
    json_t *b;
    json_array_foreach(
        json_object_get(json_object_get(v, "blkio_stats"), "io_service_bytes_recursive"), i, b)
    {
        const char *op = json_string_value(json_object_get(b, "op"));
        if (!op || !*op)
            continue;
        if (*op == 'r' || *op == 'R')
            blk_read += num(b, "value");
        else if (*op == 'w' || *op == 'W')
            blk_write += num(b, "value");
    }
    double rx = 0, tx = 0;
    const char *ifname;
    json_t *n;
    json_object_foreach(json_object_get(v, "networks"), ifname, n)
    {
        rx += num(n, "rx_bytes");
        tx += num(n, "tx_bytes");
    }

    const char *name = json_string_value(json_object_get(v, "name"));
    const char *id = json_string_value(json_object_get(v, "id"));
    _cleanup_free_ char *sid = trunc ? wcmd_short_id(id, true) : xstrdup(id ? id : "");
    _cleanup_strbuf_ strbuf blkio = STRBUF_INIT, cpup = STRBUF_INIT, memp = STRBUF_INIT,
                            memu = STRBUF_INIT, netio = STRBUF_INIT, pids = STRBUF_INIT;
    if (e->invalid) {
        strbuf_addstr(&blkio, "--");
        strbuf_addstr(&cpup, "--");
        strbuf_addstr(&memp, "--");
        strbuf_addstr(&memu, "-- / --");
        strbuf_addstr(&netio, "--");
        strbuf_addstr(&pids, "--");
    } else {
        human_size(blk_read, 3, &blkio);
        strbuf_addstr(&blkio, " / ");
        human_size(blk_write, 3, &blkio);
        strbuf_addf(&cpup, "%.2f%%", cpu);
        strbuf_addf(&memp, "%.2f%%", mem_perc);
        bytes_size(mem, &memu);
        strbuf_addstr(&memu, " / ");
        bytes_size(limit, &memu);
        human_size(rx, 3, &netio);
        strbuf_addstr(&netio, " / ");
        human_size(tx, 3, &netio);
        strbuf_addf(&pids, "%.0f", num(v, "pids_stats.current"));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "BlockIO", strbuf_str(&blkio),
                     "CPUPerc", strbuf_str(&cpup), "Container", e->container, "ID", sid, "MemPerc",
                     strbuf_str(&memp), "MemUsage", strbuf_str(&memu), "Name",
                     name && strlen(name) > 1 ? name + 1 : "--", "NetIO", strbuf_str(&netio),
                     "PIDs", strbuf_str(&pids));
}

/* One sample of a container (one-shot: the daemon answers at once); NULL
 * after printing nothing: *resp holds the daemon's answer. */
static json_t *fetch_stats(struct client *c, const char *name, struct client_response *resp,
                           wharf_error *err)
{
    _cleanup_free_ char *id = wcmd_escape(name);
    _cleanup_free_ char *path = xasprintf("/containers/%s/stats?stream=0&one-shot=1", id);
    if (client_request(c, "GET", path, NULL, resp, err) < 0)
        return NULL;
    if (resp->status >= 400 || !json_is_object(resp->json))
        return NULL;
    return json_incref(resp->json);
}

/* True when the sample measured something (a stopped container's has no
 * read time). */
static bool sample_live(json_t *s)
{
    const char *read = json_string_value(json_object_get(s, "read"));
    return read && strncmp(read, "0001-", 5) != 0;
}

static int render_stats(struct stats_entry *es, size_t n, const char *fmt, bool trunc, strbuf *out)
{
    static const format_header headers[] = {{"Container", "CONTAINER"},
                                            {"Name", "NAME"},
                                            {"ID", "CONTAINER ID"},
                                            {"CPUPerc", "CPU %"},
                                            {"MemUsage", "MEM USAGE / LIMIT"},
                                            {"MemPerc", "MEM %"},
                                            {"NetIO", "NET I/O"},
                                            {"BlockIO", "BLOCK I/O"},
                                            {"PIDs", "PIDS"},
                                            {NULL, NULL}};
    wharf_error err = {0};
    _cleanup_format_template_ format_template *t = format_compile(
        fmt && *fmt ? fmt
                    : "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t"
                      "{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
        &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_USAGE;
    }
    _cleanup_json_ json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        if (es[i].cur)
            json_array_append_new(rows, stats_row(&es[i], trunc));
    if (format_render(t, rows, headers, out, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

/* Takes a sample of every entry; errors are printed (once: the caller
 * stops) when report, else they mark the entry invalid. */
static int sample_all(struct client *c, struct stats_entry *es, size_t n, bool report)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct client_response resp = CLIENT_RESPONSE_INIT;
        wharf_error err = {0};
        json_t *s = fetch_stats(c, es[i].container, &resp, &err);
        if (!s) {
            if (report) {
                if (err.msg[0])
                    fprintf(stderr, "%s\n", err.msg);
                else
                    wcmd_daemon_error(&resp);
                rc = WCMD_EXIT_ERROR;
            }
            es[i].invalid = true;
        } else {
            if (es[i].prev)
                json_decref(es[i].prev);
            es[i].prev = es[i].cur;
            es[i].cur = s;
            es[i].invalid = false;
        }
        client_response_release(&resp);
    }
    return rc;
}

/* The running containers (all with -a), by short id, as docker stats
 * without names shows them. */
static int list_containers(struct client *c, bool all, struct stats_entry **es, size_t *n)
{
    struct client_response resp = CLIENT_RESPONSE_INIT;
    if (wcmd_call(c, "GET", all ? "/containers/json?all=1" : "/containers/json", NULL, &resp,
                  false) < 0) {
        client_response_release(&resp);
        return WCMD_EXIT_ERROR;
    }
    size_t i;
    json_t *ct;
    json_array_foreach(resp.json, i, ct)
    {
        _cleanup_free_ char *sid =
            wcmd_short_id(json_string_value(json_object_get(ct, "Id")), true);
        bool known = false;
        for (size_t k = 0; k < *n && !known; k++)
            known = strcmp((*es)[k].container, sid) == 0;
        if (known)
            continue;
        *es = xrealloc(*es, (*n + 1) * sizeof(**es));
        (*es)[(*n)++] = (struct stats_entry){.container = xstrdup(sid)};
    }
    client_response_release(&resp);
    return 0;
}

int wcmd_stats(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_NOSTREAM = 256, OPT_NOTRUNC, OPT_FORMAT };
    static const struct option opts[] = {{"all", no_argument, 0, 'a'},
                                         {"no-stream", no_argument, 0, OPT_NOSTREAM},
                                         {"no-trunc", no_argument, 0, OPT_NOTRUNC},
                                         {"format", required_argument, 0, OPT_FORMAT},
                                         {0, 0, 0, 0}};
    bool all = false, no_stream = false, trunc = true;
    const char *fmt = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            all = true;
            break;
        case OPT_NOSTREAM:
            no_stream = true;
            break;
        case OPT_NOTRUNC:
            trunc = false;
            break;
        case OPT_FORMAT:
            fmt = optarg;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    bool show_all = optind >= argc;
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct stats_entry *es = NULL;
    size_t n = 0;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(es[k].container, argv[i]) == 0;
        if (!known) {
            es = xrealloc(es, (n + 1) * sizeof(*es));
            es[n++] = (struct stats_entry){.container = xstrdup(argv[i])};
        }
    }
    if (show_all && (rc = list_containers(c, all, &es, &n)))
        goto out;
    /* Two samples a second apart, as dockerd's own collector takes them,
     * so the first row has a CPU percentage. */
    if ((rc = sample_all(c, es, n, !show_all)))
        goto out;
    bool live = false;
    for (size_t i = 0; i < n; i++)
        live = live || sample_live(es[i].cur);
    if (live) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        if ((rc = sample_all(c, es, n, !show_all)))
            goto out;
    }
    for (;;) {
        _cleanup_strbuf_ strbuf table = STRBUF_INIT;
        if (!no_stream)
            strbuf_addstr(&table, "\033[H"); /* cursor to the top left */
        if ((rc = render_stats(es, n, fmt, trunc, &table)))
            goto out;
        if (!no_stream) {
            /* what docker writes: every line again with "erase to the end
             * of the line", then "erase below" */
            _cleanup_free_ char *copy = xstrdup(table.buf);
            char *line = copy;
            for (char *nl; line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                strbuf_addf(&table, "%s \033[K\n", line);
            }
            strbuf_addstr(&table, "\033[J");
        }
        fputs(table.buf, stdout);
        fflush(stdout);
        if (no_stream || (n == 0 && !show_all))
            break;
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        if (show_all)
            list_containers(c, all, &es, &n);
        sample_all(c, es, n, false);
    }
out:
    for (size_t i = 0; i < n; i++)
        entry_release(&es[i]);
    free(es);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- export */

static int write_chunk(void *data, const char *buf, size_t len)
{
    int *fd = data;
    return wcmd_write_all(*fd, buf, len) < 0 ? -1 : 0;
}

/* An errno as Go's syscall package words it: strerror in lower case. */
static char *go_strerror(int e)
{
    char *s = xstrdup(strerror(e));
    s[0] = (char)tolower((unsigned char)s[0]);
    return s;
}

/* The checks of docker's atomic writer on the output path; the message or
 * NULL. Caller frees. */
static char *check_output_path(const char *path)
{
    _cleanup_free_ char *copy = xstrdup(path);
    const char *dir = dirname(copy);
    struct stat st;
    if (strcmp(dir, ".") != 0 && strcmp(dir, "..") != 0) {
        if (stat(dir, &st) < 0) {
            _cleanup_free_ char *why = go_strerror(errno);
            return xasprintf("invalid output path: stat %s: %s", dir, why);
        }
        if (!S_ISDIR(st.st_mode))
            return xasprintf("invalid output path: stat %s: not a directory", dir);
    }
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return NULL;
        _cleanup_free_ char *why = go_strerror(errno);
        return xasprintf("failed to stat output path: lstat %s: %s", path, why);
    }
    if (S_ISREG(st.st_mode))
        return NULL;
    if (S_ISDIR(st.st_mode))
        return xstrdup("cannot write to a directory");
    if (S_ISLNK(st.st_mode))
        return xstrdup("cannot write to a symbolic link directly");
    if (S_ISFIFO(st.st_mode))
        return xstrdup("cannot write to a named pipe (FIFO)");
    if (S_ISSOCK(st.st_mode))
        return xstrdup("cannot write to a socket");
    if (S_ISCHR(st.st_mode))
        return xstrdup("cannot write to a character device file");
    return xstrdup("cannot write to a block device file");
}

int wcmd_export(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    const char *output = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        if (ch != 'o')
            return wcmd_bad_flag(ctx, argv);
        output = optarg;
    }
    int r = need_args(ctx, argc - optind, 1, true);
    if (r)
        return r;
    if (!output && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
        return WCMD_EXIT_ERROR;
    }
    _cleanup_free_ char *tmp = NULL;
    int fd = STDOUT_FILENO;
    if (output) {
        _cleanup_free_ char *bad = check_output_path(output);
        if (bad) {
            fprintf(stderr, "failed to export container: %s\n", bad);
            return WCMD_EXIT_ERROR;
        }
        /* beside the target, renamed over it once complete: a failed
         * export leaves no half archive under the name */
        _cleanup_free_ char *copy = xstrdup(output), *copy2 = xstrdup(output);
        tmp = xasprintf("%s/.tmp-%s.XXXXXX", dirname(copy), basename(copy2));
        fd = mkstemp(tmp);
        if (fd < 0) {
            fprintf(stderr, "failed to export container: %s: %s\n", tmp, strerror(errno));
            return WCMD_EXIT_ERROR;
        }
    }
    int rc = WCMD_EXIT_ERROR;
    struct client *c = wcmd_client(ctx);
    if (c) {
        _cleanup_free_ char *id = wcmd_escape(argv[optind]);
        _cleanup_free_ char *path = xasprintf("/containers/%s/export", id);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        wharf_error err = {0};
        if (client_stream(c, "GET", path, NULL, write_chunk, &fd, &resp, &err) < 0)
            fprintf(stderr, "%s\n", err.msg);
        else if (resp.status >= 400)
            wcmd_daemon_error(&resp);
        else
            rc = 0;
        client_response_release(&resp);
        client_free(c);
    }
    if (output) {
        if (rc == 0 && (fsync(fd) < 0 || fchmod(fd, 0600) < 0)) {
            fprintf(stderr, "failed to export container: %s: %s\n", tmp, strerror(errno));
            rc = WCMD_EXIT_ERROR;
        }
        if (close(fd) < 0 && rc == 0) {
            fprintf(stderr, "failed to export container: %s: %s\n", tmp, strerror(errno));
            rc = WCMD_EXIT_ERROR;
        }
        if (rc == 0 && rename(tmp, output) < 0) {
            fprintf(stderr, "failed to export container: rename to %s: %s\n", output,
                    strerror(errno));
            rc = WCMD_EXIT_ERROR;
        }
        if (rc != 0)
            unlink(tmp);
    }
    return rc;
}

/* ---------------------------------------------------------------- diff */

int wcmd_diff(struct wcmd_ctx *ctx, int argc, char **argv)
{
    int r = no_flags(ctx, argc, argv, "");
    if (r >= 0)
        return r;
    if ((r = need_args(ctx, argc - optind, 1, true)))
        return r;
    if (!*argv[optind]) {
        fprintf(stderr, "Container name cannot be empty\n");
        return WCMD_EXIT_ERROR;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_free_ char *id = wcmd_escape(argv[optind]);
    _cleanup_free_ char *path = xasprintf("/containers/%s/changes", id);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "GET", path, NULL, &resp, false) == 0) {
        static const char *const kinds[] = {"C", "A", "D"};
        size_t i;
        json_t *ch;
        json_array_foreach(resp.json, i, ch)
        {
            json_int_t k = json_integer_value(json_object_get(ch, "Kind"));
            const char *p = json_string_value(json_object_get(ch, "Path"));
            printf("%s %s\n", k >= 0 && k <= 2 ? kinds[k] : "", p ? p : "");
        }
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- commit */

int wcmd_commit(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"author", required_argument, 0, 'a'},
                                         {"change", required_argument, 0, 'c'},
                                         {"message", required_argument, 0, 'm'},
                                         {"pause", optional_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *author = NULL, *message = NULL;
    bool pause = true;
    _cleanup_free_ const char **changes = xcalloc((size_t)argc + 1, sizeof(*changes));
    size_t n_changes = 0;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+a:c:m:p::", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            author = optarg;
            break;
        case 'm':
            message = optarg;
            break;
        case 'c':
            changes[n_changes++] = optarg;
            break;
        case 'p': {
            /* a Go bool flag: -p, --pause, --pause=false, -p=false */
            const char *v = optarg ? optarg + (*optarg == '=') : "true";
            if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                pause = true;
            else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                pause = false;
            else
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"-p, --pause\" flag: "
                                        "strconv.ParseBool: parsing \"%s\": invalid syntax",
                                        v, v);
            break;
        }
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    int n = argc - optind;
    if (n < 1 || n > 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf %s' requires at least 1 and at most 2 arguments",
                                ctx->name);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/commit");
    wcmd_add_query(&path, "container", argv[optind]);
    if (n == 2) {
        /* as the docker CLI sends it: the familiar name, and its tag */
        image_ref ref;
        wharf_error err = {0};
        if (image_ref_parse(argv[optind + 1], &ref, &err) < 0) {
            fprintf(stderr, "invalid reference format\n");
            return WCMD_EXIT_ERROR;
        }
        bool digest = ref.digest != NULL;
        _cleanup_free_ char *tag = xstrdup(ref.tag ? ref.tag : "latest");
        _cleanup_free_ char *familiar = image_ref_familiar(&ref);
        image_ref_free(&ref);
        if (digest) {
            fprintf(stderr, "refusing to create a tag with a digest reference\n");
            return WCMD_EXIT_ERROR;
        }
        /* the name alone: "x:1" -> "x", "host:5000/a:b" -> "host:5000/a" */
        char *colon = strrchr(familiar, ':');
        if (colon && !strchr(colon, '/'))
            *colon = '\0';
        wcmd_add_query(&path, "repo", familiar);
        wcmd_add_query(&path, "tag", tag);
    }
    if (message)
        wcmd_add_query(&path, "comment", message);
    if (author)
        wcmd_add_query(&path, "author", author);
    for (size_t i = 0; i < n_changes; i++)
        wcmd_add_query(&path, "changes", changes[i]);
    if (!pause)
        strbuf_addstr(&path, "&pause=0");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "POST", path.buf, NULL, &resp, false) == 0) {
        const char *id = json_string_value(json_object_get(resp.json, "Id"));
        printf("%s\n", id ? id : "");
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- prune */

int wcmd_container_prune(struct wcmd_ctx *ctx, int argc, char **argv)
{
    struct wcmd_prune_opts o;
    int r = wcmd_prune_flags(ctx, argc, argv, 0, &o);
    if (r)
        return r;
    _cleanup_json_ json_t *filters = o.filters;
    /* cancelled: nothing more, status 0, as docker */
    if (!o.force && !wcmd_confirm("WARNING! This will remove all stopped containers.\nAre you "
                                  "sure you want to continue?"))
        return 0;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/containers/prune");
    wcmd_add_filters_query(filters, &path);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "POST", path.buf, NULL, &resp, false) == 0) {
        json_t *deleted = json_object_get(resp.json, "ContainersDeleted");
        double reclaimed = 0;
        if (json_array_size(deleted)) {
            printf("Deleted Containers:\n");
            size_t i;
            json_t *id;
            json_array_foreach(deleted, i, id)
            {
                printf("%s\n", json_string_value(id) ? json_string_value(id) : "");
            }
            printf("\n");
            reclaimed = num(resp.json, "SpaceReclaimed");
        }
        _cleanup_strbuf_ strbuf size = STRBUF_INIT;
        human_size(reclaimed, 4, &size);
        printf("Total reclaimed space: %s\n", size.buf);
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}
