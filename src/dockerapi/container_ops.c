/*
 * container_ops.c — the per-container operations besides the lifecycle of
 * containers.c: restart, rename, pause and unpause, top, stats, export,
 * changes (docker diff), and POST /containers/prune.
 *
 * top reads /proc of the container's host pids for ps's default `-ef`
 * columns and runs the host's ps (as dockerd does) for other ps_args; nothing
 * is run inside the container. stats turns the cgroup figures of
 * cri_container_stats into Docker's stats JSON, with the previous sample as
 * precpu_stats so the client can compute a CPU percentage. diff walks the
 * overlay's upper directory against the image's lower layers; export tars
 * the merged overlay.
 */
#include "internal.h"
#include "network.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------------------- restart */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static http_response *restart(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    const char *ref = http_request_param(req, "id");
    int64_t t = -1;
    wharf_error err = {0};
    if (http_request_query_int(req, "t", &t, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    const char *signame = http_request_query(req, "signal");
    int sig = 0;
    if (signame && *signame && (sig = cri_parse_signal(signame)) <= 0)
        return http_response_error(400, "Invalid signal: %s", signame);
    /* Through the monitor: the stop must not look like an exit to restart
     * after, and the start counts as the user's (RestartCount starts over). */
    int r = dockerapi_stop_container(api, st->id, sig, (int)t, &err);
    if (r >= 0)
        r = dockerapi_start_container(api, st->id, &err);
    if (r < 0)
        return http_response_error(500, "Cannot restart container %s: %s", ref, err.msg);
    dockerapi_container_event(api, st->id, NULL, "restart", NULL);
    return http_response_empty(204);
}

/* ---------------------------------------------------------------- rename */

/* Docker's container name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
static bool valid_name(const char *name)
{
    if (strlen(name) < 2 || !isalnum((unsigned char)name[0]))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            return false;
    return true;
}

/* The container holding exactly this name (ids and prefixes do not count). */
static bool name_taken(struct dockerapi *api, const char *name, char owner[65])
{
    struct cri_container_status *all = NULL;
    size_t n = 0;
    wharf_error err = {0};
    bool taken = false;
    if (cri_container_list(api->cri, NULL, &all, &n, &err) < 0)
        return false;
    for (size_t i = 0; i < n && !taken; i++) {
        if (all[i].name && strcmp(all[i].name, name) == 0) {
            snprintf(owner, 65, "%s", all[i].id);
            taken = true;
        }
    }
    cri_container_status_array_free(all, n);
    return taken;
}

/* Check-then-rename must not interleave, or two renames could take one name. */
static pthread_mutex_t rename_lock = PTHREAD_MUTEX_INITIALIZER;

static http_response *rename_container(struct dockerapi *api, http_request *req,
                                       const struct cri_container_status *st)
{
    const char *name = http_request_query(req, "name");
    if (!name || !*name)
        return http_response_error(400, "Neither old nor new names may be empty");
    if (name[0] == '/')
        name++;
    if (st->name && strcmp(st->name, name) == 0)
        return http_response_error(400, "Renaming a container with the same name as its "
                                        "current name");
    if (!valid_name(name))
        return http_response_error(400,
                                   "Error when allocating new name: Invalid container name "
                                   "(/%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                   name);
    json_t *meta = dockerapi_meta(st);
    if (!meta)
        meta = json_object();
    json_object_set_new(meta, "Name", json_string(name));
    _cleanup_free_ char *meta_text = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    json_t *ann = json_pack("{s:s}", DOCKERAPI_ANNOTATION, meta_text);
    http_response *resp;
    char owner[65];
    wharf_error err = {0};
    pthread_mutex_lock(&rename_lock);
    if (name_taken(api, name, owner))
        resp = http_response_error(409,
                                   "Error when allocating new name: Conflict. The container "
                                   "name \"/%s\" is already in use by container \"%s\". You "
                                   "have to remove (or rename) that container to be able to "
                                   "reuse that name.",
                                   name, owner);
    else if (cri_container_rename(api->cri, st->id, name, ann, &err) < 0)
        resp = http_response_from_error(&err);
    else
        resp = http_response_empty(204);
    if (http_response_status(resp) == 204 && api->net)
        network_sandbox_rename(api->net, st->id, name); /* its DNS name */
    if (http_response_status(resp) == 204) {
        _cleanup_free_ char *old = xasprintf("/%s", st->name ? st->name : "");
        dockerapi_container_event(api, st->id, NULL, "rename", json_pack("{s:s}", "oldName", old));
    }
    pthread_mutex_unlock(&rename_lock);
    json_decref(ann);
    return resp;
}

/* ---------------------------------------------------------------- pause */

static http_response *pause_container(struct dockerapi *api, http_request *req,
                                      const struct cri_container_status *st)
{
    (void)req;
    if (st->state == CRI_STATE_PAUSED)
        return http_response_error(409, "Container %s is already paused", st->id);
    if (st->state != CRI_STATE_RUNNING)
        return http_response_error(409, "container %s is not running", st->id);
    wharf_error err = {0};
    if (cri_container_pause(api->cri, st->id, &err) < 0)
        return http_response_error(500, "cannot pause container %s: %s", st->id, err.msg);
    dockerapi_container_event(api, st->id, st, "pause", NULL);
    return http_response_empty(204);
}

static http_response *unpause_container(struct dockerapi *api, http_request *req,
                                        const struct cri_container_status *st)
{
    (void)req;
    if (st->state != CRI_STATE_PAUSED)
        return http_response_error(409, "Container %s is not paused", st->id);
    wharf_error err = {0};
    if (cri_container_unpause(api->cri, st->id, &err) < 0)
        return http_response_error(500, "Cannot unpause container %s: %s", st->id, err.msg);
    dockerapi_container_event(api, st->id, st, "unpause", NULL);
    return http_response_empty(204);
}

/* ---------------------------------------------------------------- top */

/* What /proc says about one process, as `ps -ef` prints it. */
struct proc_row {
    pid_t pid;
    char *cells[8]; /* UID PID PPID C STIME TTY TIME CMD */
};

static long clock_ticks(void)
{
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? hz : 100;
}

static int64_t boot_time(void)
{
    _cleanup_free_ char *text = NULL;
    wharf_error e = {0};
    if (wharf_read_file("/proc/stat", &text, NULL, &e) < 0)
        return 0;
    const char *p = strstr(text, "\nbtime ");
    return p ? strtoll(p + 7, NULL, 10) : 0;
}

static double uptime_seconds(void)
{
    _cleanup_free_ char *text = NULL;
    wharf_error e = {0};
    if (wharf_read_file("/proc/uptime", &text, NULL, &e) < 0)
        return 0;
    return strtod(text, NULL);
}

/* procps's tty names for the devices a container's processes can have. */
static char *tty_name(unsigned long tty_nr)
{
    unsigned maj = major(tty_nr), min = minor(tty_nr);
    if (tty_nr == 0)
        return xstrdup("?");
    if (maj >= 136 && maj <= 143)
        return xasprintf("pts/%u", min + (maj - 136) * 256);
    if (maj == 4 && min < 64)
        return xasprintf("tty%u", min);
    if (maj == 4)
        return xasprintf("ttyS%u", min - 64);
    if (maj == 5 && min == 1)
        return xstrdup("console");
    return xstrdup("?");
}

/* The user name ps prints: at most 8 characters, a longer one cut with '+'. */
static char *user_name(uid_t uid)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return xasprintf("%u", (unsigned)uid);
    if (strlen(res->pw_name) > 8)
        return xasprintf("%.7s+", res->pw_name);
    return xstrdup(res->pw_name);
}

static int proc_row_read(pid_t pid, int64_t btime, double uptime, long hz, struct proc_row *row)
{
    char path[64];
    _cleanup_free_ char *stat = NULL, *status = NULL, *cmdline = NULL;
    size_t cmdlen = 0;
    wharf_error e = {0};
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (wharf_read_file(path, &stat, NULL, &e) < 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (wharf_read_file(path, &status, NULL, &e) < 0)
        return -ESRCH;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    wharf_read_file(path, &cmdline, &cmdlen, &e);

    /* comm may hold spaces and ')': the fields follow the last ')' */
    char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close < open)
        return -EIO;
    _cleanup_free_ char *comm = xasprintf("%.*s", (int)(close - open - 1), open + 1);
    char state = 0;
    int ppid = 0;
    unsigned long tty_nr = 0, utime = 0, stime = 0;
    unsigned long long start = 0;
    if (sscanf(close + 2,
               "%c %d %*d %*d %lu %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu",
               &state, &ppid, &tty_nr, &utime, &stime, &start) != 6)
        return -EIO;
    uid_t euid = 0;
    const char *u = strstr(status, "\nUid:");
    if (u)
        sscanf(u + 5, "%*u %u", &euid);

    unsigned long total = utime + stime;
    double age = uptime - (double)start / (double)hz;
    unsigned c = age >= 1 ? (unsigned)((double)(total * 100 / (unsigned long)hz) / (long)age) : 0;
    if (c > 99)
        c = 99;

    /* STIME: the time today, the date this year, else the year */
    time_t started = (time_t)(btime + (int64_t)(start / (unsigned long long)hz));
    time_t now = time(NULL);
    struct tm tm_now, tm_start;
    localtime_r(&now, &tm_now);
    localtime_r(&started, &tm_start);
    const char *fmt = tm_now.tm_year != tm_start.tm_year   ? "%Y"
                      : tm_now.tm_yday != tm_start.tm_yday ? "%b%d"
                                                           : "%H:%M";
    char stime_text[32];
    strftime(stime_text, sizeof(stime_text), fmt, &tm_start);

    unsigned long secs = total / (unsigned long)hz;
    char *cputime = secs >= 86400
                        ? xasprintf("%lu-%02lu:%02lu:%02lu", secs / 86400, secs / 3600 % 24,
                                    secs / 60 % 60, secs % 60)
                        : xasprintf("%02lu:%02lu:%02lu", secs / 3600, secs / 60 % 60, secs % 60);

    strbuf cmd = STRBUF_INIT;
    while (cmdlen > 0 && cmdline[cmdlen - 1] == '\0')
        cmdlen--;
    for (size_t i = 0; i < cmdlen; i++) {
        unsigned char ch = (unsigned char)cmdline[i];
        strbuf_addch(&cmd, ch == '\0' ? ' ' : (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch);
    }
    if (!cmd.len)
        strbuf_addf(&cmd, "[%s]", comm);
    if (state == 'Z')
        strbuf_addstr(&cmd, " <defunct>");

    row->pid = pid;
    row->cells[0] = user_name(euid);
    row->cells[1] = xasprintf("%d", (int)pid);
    row->cells[2] = xasprintf("%d", ppid);
    row->cells[3] = xasprintf("%u", c);
    row->cells[4] = xstrdup(stime_text);
    row->cells[5] = tty_name(tty_nr);
    row->cells[6] = cputime;
    row->cells[7] = strbuf_detach(&cmd);
    return 0;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

static json_t *top_from_proc(const pid_t *pids, size_t n)
{
    static const char *const titles[] = {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};
    json_t *jt = json_array(), *procs = json_array();
    for (size_t i = 0; i < 8; i++)
        json_array_append_new(jt, json_string(titles[i]));
    int64_t btime = boot_time();
    double up = uptime_seconds();
    long hz = clock_ticks();
    for (size_t i = 0; i < n; i++) {
        struct proc_row row = {0};
        if (proc_row_read(pids[i], btime, up, hz, &row) < 0)
            continue; /* exited meanwhile */
        json_t *p = json_array();
        for (size_t k = 0; k < 8; k++) {
            json_array_append_new(p, json_string(row.cells[k]));
            free(row.cells[k]);
        }
        json_array_append_new(procs, p);
    }
    return json_pack("{s:o, s:o}", "Titles", jt, "Processes", procs);
}

/* Splits on ASCII white space (Go's strings.Fields for ASCII). */
static size_t fields(char *line, char **out, size_t max)
{
    size_t n = 0;
    for (char *p = line; *p && n < max;) {
        while (*p && strchr(" \t\r\f\v", *p))
            p++;
        if (!*p)
            break;
        out[n++] = p;
        while (*p && !strchr(" \t\r\f\v", *p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
    return bsearch(&(pid_t){(pid_t)pid}, pids, n, sizeof(pid_t), cmp_pid) != NULL;
}

/* dockerd's rule: a ps column renamed to PID... would hide the real one. */
static int check_ps_args(const char *args, wharf_error *err)
{
    for (const char *eq = strchr(args, '='); eq; eq = strchr(eq + 1, '=')) {
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (strncmp(v, "PID", 3) != 0)
            continue;
        const char *k = eq;
        while (k > args && k[-1] != ' ' && k[-1] != '\t')
            k--;
        if (k == args)
            continue; /* the regexp wants white space before the key */
        size_t vlen = strcspn(v, " \t");
        if ((size_t)(eq - k) != 3 || strncmp(k, "pid", 3) != 0)
            return wharf_error_set(err, -EINVAL, "specifying \"%.*s=%.*s\" is not allowed",
                                   (int)(eq - k), k, (int)vlen, v);
    }
    return 0;
}

/* Runs the host's ps with argv; stdout into out, the first stderr line as
 * the error. */
static int run_ps(char *const *argv, strbuf *out, wharf_error *err)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return wharf_error_errno(err, errno, "ps: pipe");
    if (pipe2(pe, O_CLOEXEC) < 0) {
        close(po[0]);
        close(po[1]);
        return wharf_error_errno(err, errno, "ps: pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int r = posix_spawnp(&pid, "ps", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (r != 0) {
        close(po[0]);
        close(pe[0]);
        return wharf_error_errno(err, r, "ps: exec");
    }
    _cleanup_strbuf_ strbuf errout = STRBUF_INIT;
    /* ps writes little to stderr: read stdout to EOF, then stderr. */
    char buf[8192];
    ssize_t got;
    while ((got = read(po[0], buf, sizeof(buf))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        strbuf_add(out, buf, (size_t)got);
    }
    while ((got = read(pe[0], buf, sizeof(buf))) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        strbuf_add(&errout, buf, (size_t)got);
    }
    close(po[0]);
    close(pe[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const char *msg = strbuf_str(&errout);
        size_t len = strcspn(msg, "\n");
        if (len)
            return wharf_error_set(err, -EIO, "ps: %.*s", (int)len, msg);
        return wharf_error_set(err, -EIO, "ps: exit status %d",
                               WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    return 0;
}

/* Any other ps_args: the host's ps, its lines kept for the container's pids
 * (and the thread lines that follow a kept one), as dockerd does. */
static json_t *top_from_ps(const char *ps_args, const pid_t *pids, size_t n, wharf_error *err)
{
    _cleanup_free_ char *args = xstrdup(ps_args);
    size_t nargs = 1;
    for (const char *p = args; *p; p++)
        nargs += *p == ' ';
    char **argv = xcalloc(nargs + 3, sizeof(char *));
    size_t k = 0;
    argv[k++] = "ps";
    for (char *save = NULL, *a = strtok_r(args, " ", &save); a; a = strtok_r(NULL, " ", &save))
        argv[k++] = a;
    strbuf q = STRBUF_INIT;
    strbuf_addstr(&q, "-q");
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&q, "%s%d", i ? "," : "", (int)pids[i]);
    argv[k] = q.buf;
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    wharf_error e = {0};
    int r = run_ps(argv, &out, &e);
    if (r < 0) {
        /* some options (f) refuse -q: again without it */
        argv[k] = NULL;
        strbuf_reset(&out);
        r = run_ps(argv, &out, err);
    }
    strbuf_release(&q);
    free(argv);
    if (r < 0)
        return NULL;

    json_t *titles = json_array(), *procs = json_array();
    char *text = out.buf ? out.buf : (char *)"";
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    char *cells[256];
    size_t ntitles = line ? fields(line, cells, 256) : 0;
    size_t pid_col = ntitles;
    for (size_t i = 0; i < ntitles; i++) {
        json_array_append_new(titles, json_string(cells[i]));
        if (strcmp(cells[i], "PID") == 0 && pid_col == ntitles)
            pid_col = i;
    }
    if (pid_col == ntitles) {
        json_decref(titles);
        json_decref(procs);
        wharf_error_set(err, -EIO, "Couldn't find PID field in ps output");
        return NULL;
    }
    bool prev_kept = false;
    while ((line = strtok_r(NULL, "\n", &save))) {
        size_t nf = fields(line, cells, 256);
        if (nf <= pid_col)
            continue;
        bool keep;
        if (strcmp(cells[pid_col], "-") == 0) {
            keep = prev_kept; /* a thread line of the process above */
        } else {
            char *end;
            long p = strtol(cells[pid_col], &end, 10);
            if (*end) {
                json_decref(titles);
                json_decref(procs);
                wharf_error_set(err, -EIO, "Unexpected pid '%s'", cells[pid_col]);
                return NULL;
            }
            keep = prev_kept = has_pid(pids, n, p);
        }
        if (!keep)
            continue;
        /* overhanging fields (a command with spaces) join the last column */
        json_t *row = json_array();
        strbuf last = STRBUF_INIT;
        for (size_t i = 0; i < nf; i++) {
            if (i + 1 < ntitles)
                json_array_append_new(row, json_string(cells[i]));
            else
                strbuf_addf(&last, "%s%s", last.len ? " " : "", cells[i]);
        }
        json_array_append_new(row, json_string(strbuf_str(&last)));
        strbuf_release(&last);
        json_array_append_new(procs, row);
    }
    return json_pack("{s:o, s:o}", "Titles", titles, "Processes", procs);
}

static http_response *top(struct dockerapi *api, http_request *req,
                          const struct cri_container_status *st)
{
    const char *ps_args = http_request_query(req, "ps_args");
    if (!ps_args || !*ps_args)
        ps_args = "-ef";
    wharf_error err = {0};
    if (check_ps_args(ps_args, &err) < 0)
        return http_response_error(400, "%s", err.msg);
    if (!dockerapi_is_up(st))
        return http_response_error(409, "container %s is not running", st->id);
    pid_t *pids = NULL;
    size_t n = 0;
    if (cri_container_top(api->cri, st->id, &pids, &n, &err) < 0) {
        if (err.code == -ESRCH)
            return http_response_error(409, "container %s is not running", st->id);
        return http_response_error(500, "%s", err.msg);
    }
    qsort(pids, n, sizeof(pid_t), cmp_pid);
    json_t *j =
        strcmp(ps_args, "-ef") == 0 ? top_from_proc(pids, n) : top_from_ps(ps_args, pids, n, &err);
    free(pids);
    if (!j)
        return http_response_error(500, "%s", err.msg);
    return http_response_json(200, j);
}

/* ---------------------------------------------------------------- stats */

/* The whole machine's cpu time in nanoseconds and its cpu count, from
 * /proc/stat, which is what Docker's system_cpu_usage means. */
static void system_cpu(uint64_t *usage, unsigned *cpus)
{
    *usage = 0;
    *cpus = 0;
    _cleanup_free_ char *text = NULL;
    wharf_error e = {0};
    if (wharf_read_file("/proc/stat", &text, NULL, &e) < 0)
        return;
    long hz = clock_ticks();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && strncmp(line, "cpu", 3) == 0;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[3] != ' ') {
            (*cpus)++;
            continue;
        }
        /* user nice system idle iowait irq softirq */
        unsigned long long v[7] = {0};
        sscanf(line + 3, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6]);
        uint64_t ticks = 0;
        for (int i = 0; i < 7; i++)
            ticks += v[i];
        *usage = ticks * (1000000000ULL / (uint64_t)hz);
    }
}

static uint64_t machine_memory(void)
{
    struct sysinfo si;
    if (sysinfo(&si) < 0)
        return 0;
    return (uint64_t)si.totalram * si.mem_unit;
}

static json_t *u64(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_integer(json_is_integer(v) ? json_integer_value(v) : 0);
}

static json_t *empty_cpu_stats(void)
{
    return json_pack("{s:{s:i, s:i, s:i}, s:{s:i, s:i, s:i}}", "cpu_usage", "total_usage", 0,
                     "usage_in_kernelmode", 0, "usage_in_usermode", 0, "throttling_data", "periods",
                     0, "throttled_periods", 0, "throttled_time", 0);
}

/* Docker's StatsResponse with nothing measured: what a stopped container
 * gets. */
static json_t *empty_stats(const struct cri_container_status *st)
{
    _cleanup_free_ char *name = xasprintf("/%s", st->name ? st->name : "");
    return json_pack("{s:s, s:s, s:s, s:s, s:{}, s:{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}, "
                     "s:i, s:{}, s:o, s:o, s:{}}",
                     "name", name, "id", st->id, "read", "0001-01-01T00:00:00Z", "preread",
                     "0001-01-01T00:00:00Z", "pids_stats", "blkio_stats",
                     "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                     "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                     "io_time_recursive", "sectors_recursive", "num_procs", 0, "storage_stats",
                     "cpu_stats", empty_cpu_stats(), "precpu_stats", empty_cpu_stats(),
                     "memory_stats");
}

static json_t *blkio_list(json_t *entries)
{
    if (!json_is_array(entries) || json_array_size(entries) == 0)
        return json_null();
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        const char *op = json_string_value(json_object_get(e, "op"));
        json_array_append_new(out, json_pack("{s:o, s:o, s:s, s:o}", "major", u64(e, "major"),
                                             "minor", u64(e, "minor"), "op", op ? op : "", "value",
                                             u64(e, "value")));
    }
    return out;
}

/* One sample of a running container in Docker's shape (precpu empty), or
 * the empty stats when it is not running (any more). */
static json_t *sample_stats(struct dockerapi *api, const struct cri_container_status *st)
{
    json_t *out = empty_stats(st);
    if (!dockerapi_is_up(st))
        return out;
    wharf_error err = {0};
    _cleanup_json_ json_t *cg = cri_container_stats(api->cri, st->id, &err);
    if (!cg)
        return out;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    _cleanup_free_ char *read = dockerapi_time_text(now);
    json_object_set_new(out, "read", json_string(read));

    json_t *cpu = json_object_get(cg, "cpu");
    json_t *usage = json_object_get(cpu, "usage"), *thr = json_object_get(cpu, "throttling");
    json_t *cpu_usage = json_pack("{s:o}", "total_usage", u64(usage, "total"));
    json_t *percpu = json_object_get(usage, "percpu");
    if (json_is_array(percpu) && json_array_size(percpu))
        json_object_set(cpu_usage, "percpu_usage", percpu);
    json_object_set_new(cpu_usage, "usage_in_kernelmode", u64(usage, "kernel"));
    json_object_set_new(cpu_usage, "usage_in_usermode", u64(usage, "user"));
    uint64_t sys_usage;
    unsigned cpus;
    system_cpu(&sys_usage, &cpus);
    json_t *cpu_stats = json_pack("{s:o}", "cpu_usage", cpu_usage);
    if (sys_usage)
        json_object_set_new(cpu_stats, "system_cpu_usage", json_integer((json_int_t)sys_usage));
    if (cpus)
        json_object_set_new(cpu_stats, "online_cpus", json_integer(cpus));
    json_object_set_new(cpu_stats, "throttling_data",
                        json_pack("{s:o, s:o, s:o}", "periods", u64(thr, "periods"),
                                  "throttled_periods", u64(thr, "throttled_periods"),
                                  "throttled_time", u64(thr, "throttled_time")));
    json_object_set_new(out, "cpu_stats", cpu_stats);

    json_t *mem = json_object_get(cg, "memory");
    if (json_is_object(mem)) {
        json_t *mu = json_object_get(mem, "usage");
        json_t *ms = json_object();
        json_int_t v;
        if ((v = json_integer_value(json_object_get(mu, "usage"))) > 0)
            json_object_set_new(ms, "usage", json_integer(v));
        if ((v = json_integer_value(json_object_get(mu, "max"))) > 0)
            json_object_set_new(ms, "max_usage", json_integer(v));
        json_t *raw = json_object_get(mem, "raw");
        if (json_is_object(raw) && json_object_size(raw))
            json_object_set(ms, "stats", raw);
        if ((v = json_integer_value(json_object_get(mu, "failcnt"))) > 0)
            json_object_set_new(ms, "failcnt", json_integer(v));
        /* no limit reads as a huge number: the machine's memory is the limit */
        uint64_t limit = (uint64_t)json_integer_value(json_object_get(mu, "limit"));
        uint64_t machine = machine_memory();
        if (machine && (limit == 0 || limit > machine))
            limit = machine;
        if (limit)
            json_object_set_new(ms, "limit", json_integer((json_int_t)limit));
        json_object_set_new(out, "memory_stats", ms);
    }

    json_t *pids = json_object_get(cg, "pids");
    json_t *ps = json_object();
    json_int_t v;
    if ((v = json_integer_value(json_object_get(pids, "current"))) > 0)
        json_object_set_new(ps, "current", json_integer(v));
    if ((v = json_integer_value(json_object_get(pids, "limit"))) > 0)
        json_object_set_new(ps, "limit", json_integer(v));
    json_object_set_new(out, "pids_stats", ps);

    json_t *blkio = json_object_get(cg, "blkio");
    json_t *bs = json_object_get(out, "blkio_stats");
    json_object_set_new(bs, "io_service_bytes_recursive",
                        blkio_list(json_object_get(blkio, "ioServiceBytesRecursive")));
    json_object_set_new(bs, "io_serviced_recursive",
                        blkio_list(json_object_get(blkio, "ioServicedRecursive")));
    return out;
}

/* The container's current status and a sample; false once it is gone. */
static json_t *sample_by_id(struct dockerapi *api, const char *id)
{
    struct cri_container_status st;
    wharf_error err = {0};
    if (cri_container_status(api->cri, id, &st, &err) < 0)
        return NULL;
    json_t *s = sample_stats(api, &st);
    cri_container_status_release(&st);
    return s;
}

/* precpu_stats and preread come from the previous sample. */
static void chain_samples(json_t *cur, json_t *prev)
{
    if (!prev)
        return;
    json_object_set(cur, "precpu_stats", json_object_get(prev, "cpu_stats"));
    json_object_set(cur, "preread", json_object_get(prev, "read"));
}

struct stats_job {
    struct dockerapi *api;
    char id[65];
    http_stream *stream;
};

static void *stats_thread(void *p)
{
    struct stats_job *job = p;
    json_t *prev = NULL;
    while (!http_stream_closed(job->stream)) {
        json_t *cur = sample_by_id(job->api, job->id);
        if (!cur)
            break; /* removed */
        chain_samples(cur, prev);
        char *text = json_dumps(cur, JSON_COMPACT);
        int r = http_stream_printf(job->stream, "%s\n", text);
        free(text);
        if (prev)
            json_decref(prev);
        prev = cur;
        if (r < 0)
            break;
        for (int i = 0; i < 10 && !http_stream_closed(job->stream); i++)
            sleep_ms(100);
    }
    if (prev)
        json_decref(prev);
    http_stream_close(job->stream);
    free(job);
    return NULL;
}

static http_response *stats(struct dockerapi *api, http_request *req,
                            const struct cri_container_status *st)
{
    bool stream = http_request_query_bool(req, "stream", true);
    bool one_shot = http_request_query_bool(req, "one-shot", false);
    if (stream && one_shot)
        return http_response_error(400, "cannot have stream=true and one-shot=true");
    if (stream) {
        struct stats_job *job = xcalloc(1, sizeof(*job));
        job->api = api;
        snprintf(job->id, sizeof(job->id), "%s", st->id);
        http_response *resp = http_response_stream(200, "application/json", &job->stream);
        dockerapi_start_producer(stats_thread, job, job->stream);
        return resp;
    }
    json_t *first = sample_stats(api, st);
    if (one_shot || !dockerapi_is_up(st))
        return http_response_json(200, first);
    /* Like dockerd's collector: a second sample a second later, so the
     * client can work out a CPU percentage from the difference. */
    sleep_ms(1000);
    json_t *second = sample_by_id(api, st->id);
    if (!second)
        return http_response_json(200, first);
    chain_samples(second, first);
    json_decref(first);
    return http_response_json(200, second);
}

/* ---------------------------------------------------------------- export */

char *dockerapi_rootfs_dir(struct dockerapi *api, const char *id, const char *part)
{
    return xasprintf("%s/rootfs/%s/%s", api->root, id, part);
}

/* The merged overlay is a mount point while it is mounted. */
static bool is_mounted(const char *dir)
{
    struct stat a, b;
    _cleanup_free_ char *parent = xasprintf("%s/..", dir);
    return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

struct export_job {
    char *dir;
    char *ref;
    int fd;
};

static void *export_thread(void *p)
{
    struct export_job *job = p;
    wharf_error err = {0};
    if (image_export_dir(job->dir, job->fd, &err) < 0 && err.code != -EPIPE)
        wlog_warn("export of container %s: %s", job->ref, err.msg);
    close(job->fd);
    free(job->dir);
    free(job->ref);
    free(job);
    return NULL;
}

static http_response *export_container(struct dockerapi *api, http_request *req,
                                       const struct cri_container_status *st)
{
    const char *ref = http_request_param(req, "id");
    _cleanup_free_ char *merged = dockerapi_rootfs_dir(api, st->id, "merged");
    if (!is_mounted(merged))
        return http_response_error(500,
                                   "Error exporting container %s: container %s has no "
                                   "rootfs",
                                   ref, st->id);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return http_response_error(500, "Error exporting container %s: pipe: %s", ref,
                                   strerror(errno));
    struct export_job *job = xcalloc(1, sizeof(*job));
    job->dir = xstrdup(merged);
    job->ref = xstrdup(ref);
    job->fd = fds[1];
    pthread_t t;
    if (pthread_create(&t, NULL, export_thread, job) != 0) {
        close(fds[0]);
        close(fds[1]);
        free(job->dir);
        free(job->ref);
        free(job);
        return http_response_error(500, "Error exporting container %s: no thread", ref);
    }
    pthread_detach(t);
    return http_response_fd(200, "application/x-tar", fds[0]);
}

/* ---------------------------------------------------------------- changes */

enum { CHANGE_MODIFY = 0, CHANGE_ADD = 1, CHANGE_DELETE = 2 };

static bool is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *path)
{
    char v[2];
    return lgetxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* rel ("/etc/passwd") as the image's layers show it: the topmost layer that
 * has an entry for it decides (a whiteout there means it does not exist). */
static bool lower_lookup(char **lowers, size_t n, const char *rel, struct stat *out)
{
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *p = xasprintf("%s%s", lowers[i], rel);
        if (lstat(p, out) == 0)
            return !is_whiteout(out);
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **dir_names(const char *dir, size_t *count)
{
    size_t n = 0, cap = 16;
    char **names = xcalloc(cap, sizeof(char *));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n + 1 >= cap)
            names = xrealloc(names, (cap *= 2) * sizeof(char *));
        names[n++] = xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    names[n] = NULL;
    *count = n;
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void add_change(json_t *changes, const char *path, int kind)
{
    json_array_append_new(changes, json_pack("{s:s, s:i}", "Path", path, "Kind", kind));
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

bool dockerapi_runtime_mountpoint(const char *rel, const char *path, const struct stat *st)
{
    static const char *const dirs[] = {"/dev", "/proc", "/sys", "/dev/pts", "/dev/shm"};
    static const char *const files[] = {"/.dockerenv",   "/etc/resolv.conf", "/etc/hosts",
                                        "/etc/hostname", "/etc/mtab",        "/dev/console"};
    if (S_ISDIR(st->st_mode)) {
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
            if (strcmp(rel, dirs[i]) == 0)
                return dir_is_empty(path);
    } else if (S_ISREG(st->st_mode) && st->st_size == 0) {
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            if (strcmp(rel, files[i]) == 0)
                return true;
    }
    return false;
}

static bool same_dir_stat(const struct stat *a, const struct stat *b)
{
    bool same_time = a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
                     (a->st_mtim.tv_nsec == b->st_mtim.tv_nsec || a->st_mtim.tv_nsec == 0 ||
                      b->st_mtim.tv_nsec == 0);
    return a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
           same_time;
}

/*
 * The changes under the upper directory `dir` (rel is its path in the
 * container, "" for the root), in path order, each directory before what is
 * inside it. A directory that only holds changes is "modified" (0), as in
 * docker diff; whiteouts are deletions (2); an opaque directory also
 * deletes what the layers had in it.
 */
static void walk_changes(const char *dir, const char *rel, char **lowers, size_t nlowers,
                         json_t *changes)
{
    size_t n;
    char **names = dir_names(dir, &n);
    bool opaque = *rel && is_opaque(dir);
    if (opaque) {
        /* what the layers had here and the upper directory lacks is gone */
        for (size_t i = 0; i < nlowers; i++) {
            _cleanup_free_ char *ldir = xasprintf("%s%s", lowers[i], rel);
            size_t ln;
            char **lnames = dir_names(ldir, &ln);
            for (size_t k = 0; k < ln; k++) {
                bool present = bsearch(&lnames[k], names, n, sizeof(char *), cmp_str) != NULL;
                _cleanup_free_ char *lrel = xasprintf("%s/%s", rel, lnames[k]);
                struct stat lst;
                if (!present && lower_lookup(lowers, nlowers, lrel, &lst)) {
                    names = xrealloc(names, (n + 2) * sizeof(char *));
                    names[n++] = xasprintf("\x01%s", lnames[k]); /* marked: deleted */
                    names[n] = NULL;
                }
            }
            free_names(lnames, ln);
        }
        /* keep path order: the marker sorts before every name, so sort by
         * the name after it */
        for (size_t i = 1; i < n; i++)
            for (size_t k = i; k > 0; k--) {
                const char *a = names[k - 1] + (names[k - 1][0] == 1);
                const char *b = names[k] + (names[k][0] == 1);
                if (strcmp(a, b) <= 0)
                    break;
                char *tmp = names[k - 1];
                names[k - 1] = names[k];
                names[k] = tmp;
            }
    }
    for (size_t i = 0; i < n; i++) {
        bool gone = names[i][0] == 1;
        const char *name = names[i] + gone;
        _cleanup_free_ char *crel = xasprintf("%s/%s", rel, name);
        if (gone) {
            add_change(changes, crel, CHANGE_DELETE);
            continue;
        }
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        struct stat st, lst;
        if (lstat(path, &st) < 0)
            continue;
        if (is_whiteout(&st)) {
            add_change(changes, crel, CHANGE_DELETE);
            continue;
        }
        bool in_lower = lower_lookup(lowers, nlowers, crel, &lst);
        if (!in_lower && dockerapi_runtime_mountpoint(crel, path, &st))
            continue;
        if (!S_ISDIR(st.st_mode)) {
            add_change(changes, crel, in_lower ? CHANGE_MODIFY : CHANGE_ADD);
            continue;
        }
        if (!in_lower || !S_ISDIR(lst.st_mode)) {
            /* a new directory: everything in it is new too */
            add_change(changes, crel, in_lower ? CHANGE_MODIFY : CHANGE_ADD);
            walk_changes(path, crel, in_lower ? NULL : lowers, in_lower ? 0 : nlowers, changes);
            continue;
        }
        /* a directory of the image: listed when it changed itself or holds
         * changes, before them */
        size_t at = json_array_size(changes);
        walk_changes(path, crel, lowers, nlowers, changes);
        /* /etc's time moves when the runtime makes the hosts, hostname and
         * resolv.conf mount points in it (dockerd's init layer holds them) */
        bool mountpoints_only = strcmp(crel, "/etc") == 0 && st.st_mode == lst.st_mode &&
                                st.st_uid == lst.st_uid && st.st_gid == lst.st_gid;
        if (json_array_size(changes) > at || (!same_dir_stat(&st, &lst) && !mountpoints_only) ||
            is_opaque(path))
            json_array_insert_new(changes, at,
                                  json_pack("{s:s, s:i}", "Path", crel, "Kind", CHANGE_MODIFY));
    }
    free_names(names, n);
}

static http_response *changes(struct dockerapi *api, http_request *req,
                              const struct cri_container_status *st)
{
    (void)req;
    _cleanup_free_ char *upper = dockerapi_rootfs_dir(api, st->id, "upper");
    struct stat ust;
    if (stat(upper, &ust) < 0 || !S_ISDIR(ust.st_mode))
        return http_response_error(500, "container %s has no rootfs", st->id);
    json_t *meta = dockerapi_meta(st);
    const char *image = meta ? json_string_value(json_object_get(meta, "ImageID")) : NULL;
    wharf_error err = {0};
    _cleanup_free_ char *lowerdirs = image ? image_store_lowerdirs(api->images, image, &err) : NULL;
    if (meta)
        json_decref(meta);
    if (!lowerdirs)
        return http_response_error(500, "container %s: image layers: %s", st->id,
                                   err.msg[0] ? err.msg : "no image recorded");
    size_t n = 1;
    for (const char *p = lowerdirs; *p; p++)
        n += *p == ':';
    char **lowers = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (char *save = NULL, *l = strtok_r(lowerdirs, ":", &save); l; l = strtok_r(NULL, ":", &save))
        lowers[k++] = l;
    json_t *list = json_array();
    walk_changes(upper, "", lowers, k, list);
    free(lowers);
    /* Docker answers null, not [], when nothing changed */
    if (json_array_size(list) == 0) {
        json_decref(list);
        list = json_null();
    }
    return http_response_json(200, list);
}

/* ---------------------------------------------------------------- prune */

static pthread_mutex_t prune_lock = PTHREAD_MUTEX_INITIALIZER;

static http_response *prune(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    static const char *const accepted[] = {"label", "label!", "until", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error ferr = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &ferr) < 0)
        return http_response_from_error(&ferr);
    struct timespec until = {0, 0};
    json_t *u = dockerapi_filters_values(filters, "until");
    if (json_array_size(u) > 1)
        return http_response_error(400, "more than one until filter specified");
    if (json_array_size(u) == 1 &&
        dockerapi_parse_timestamp(json_string_value(json_array_get(u, 0)), time(NULL), &until,
                                  &ferr) < 0)
        return http_response_from_error(&ferr);
    if (pthread_mutex_trylock(&prune_lock) != 0)
        return http_response_error(409, "a prune operation is already running");
    struct cri_container_status *all = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (cri_container_list(api->cri, NULL, &all, &n, &err) < 0) {
        pthread_mutex_unlock(&prune_lock);
        return http_response_from_error(&err);
    }
    json_t *deleted = json_array();
    uint64_t reclaimed = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cri_container_status *c = &all[i];
        if (dockerapi_is_up(c))
            continue;
        if (until.tv_sec &&
            (c->created_at.tv_sec > until.tv_sec ||
             (c->created_at.tv_sec == until.tv_sec && c->created_at.tv_nsec > until.tv_nsec)))
            continue;
        json_t *labels = json_object_get(c->config, "labels");
        if (!dockerapi_filters_match_labels(filters, "label", labels) ||
            (dockerapi_filters_has(filters, "label!") &&
             dockerapi_filters_match_labels(filters, "label!", labels)))
            continue;
        uint64_t size = (uint64_t)dockerapi_rw_size(api, c->id);
        wharf_error e = {0};
        if (dockerapi_remove(api, c->id, false, &e) < 0) {
            wlog_warn("failed to prune container %s: %s", c->id, e.msg);
            continue;
        }
        reclaimed += size;
        json_array_append_new(deleted, json_string(c->id));
    }
    cri_container_status_array_free(all, n);
    pthread_mutex_unlock(&prune_lock);
    char bytes[32];
    snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)reclaimed);
    dockerapi_event(api, "container", "prune", "", json_pack("{s:s}", "reclaimed", bytes));
    if (json_array_size(deleted) == 0) {
        json_decref(deleted);
        deleted = json_null();
    }
    return http_response_json(200, json_pack("{s:o, s:I}", "ContainersDeleted", deleted,
                                             "SpaceReclaimed", (json_int_t)reclaimed));
}

/* ---------------------------------------------------------------- routes */

int dockerapi_register_container_ops(struct dockerapi *api, http_router *r, wharf_error *err)
{
    static const struct {
        const char *method, *pattern;
        dockerapi_container_fn fn;
    } routes[] = {
        {"POST", "/containers/{id}/restart", restart},
        {"POST", "/containers/{id}/rename", rename_container},
        {"POST", "/containers/{id}/pause", pause_container},
        {"POST", "/containers/{id}/unpause", unpause_container},
        {"GET", "/containers/{id}/top", top},
        {"GET", "/containers/{id}/stats", stats},
        {"GET", "/containers/{id}/export", export_container},
        {"GET", "/containers/{id}/changes", changes},
    };
    int rc;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if ((rc = dockerapi_add_container_route(api, r, routes[i].method, routes[i].pattern,
                                                routes[i].fn, err)) < 0)
            return rc;
    return http_router_add(r, "POST", "/containers/prune", prune, api, err);
}
