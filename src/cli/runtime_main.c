/*
 * wharf-runtime — the OCI runtime's command line, compatible with runc's:
 * the same commands, flags, output and exit codes, so podman, containerd
 * and our own shim can use it in runc's place. Everything real happens in
 * the runtime library (src/runtime/runtime.h); this file parses arguments
 * and prints.
 */
#include "base.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/memfd.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>

extern char **environ;

static const char *prog = "wharf-runtime";

static int usage_error(const char *fmt, ...) WHARF_PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
    strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    wlog_error("%s", strbuf_str(&sb));
    if (wharf_log_fd() >= 0)
        fprintf(stderr, "%s: %s\n", prog, strbuf_str(&sb));
    strbuf_release(&sb);
    return 1;
}

static int fail(const wharf_error *err)
{
    wlog_error("%s", err->msg);
    if (wharf_log_fd() >= 0)
        fprintf(stderr, "%s: %s\n", prog, err->msg);
    return 1;
}

/*
 * CVE-2019-5736: a process in the container must not be able to open our
 * /proc/PID/exe and overwrite the binary on the host. Commands that enter a
 * container run from a sealed in-memory copy of ourselves.
 */
static void reexec_from_sealed_copy(char **argv)
{
    _cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return;
    int seals = fcntl(self, F_GET_SEALS);
    if (seals >= 0 && (seals & F_SEAL_WRITE))
        return; /* already the sealed copy */
    struct stat st;
    if (fstat(self, &st) < 0)
        return;
    _cleanup_close_ int mem = memfd_create("wharf-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mem < 0)
        return;
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = sendfile(mem, self, &off, (size_t)(st.st_size - off));
        if (n <= 0)
            return;
    }
    if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
        return;
    fexecve(mem, argv, environ);
    /* Falling through runs unprotected; say so rather than refuse to work. */
    wlog_warn("cannot run from a sealed copy: %s", strerror(errno));
}

struct cmd_ctx {
    struct runtime_ctx rt;
    int argc;
    char **argv;
};

static int need_id(struct cmd_ctx *c, const char *cmd, int min_args)
{
    if (c->argc - optind < min_args)
        return usage_error("%s: container id required (usage: %s %s [options] <container-id>)",
                           cmd, prog, cmd);
    return 0;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", s);
    free(s);
    json_decref(j);
    return 0;
}

static int parse_create_opts(struct cmd_ctx *c, struct runtime_create_opts *o, bool run)
{
    static const struct option opts[] = {
        {"bundle", required_argument, 0, 'b'},
        {"console-socket", required_argument, 0, 'c'},
        {"pid-file", required_argument, 0, 'p'},
        {"no-pivot", no_argument, 0, 'P'},
        {"no-new-keyring", no_argument, 0, 'K'},
        {"preserve-fds", required_argument, 0, 'f'},
        {"detach", no_argument, 0, 'd'},
        {"keep", no_argument, 0, 'k'},
        {"no-subreaper", no_argument, 0, 'S'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+b:d", opts, NULL)) != -1) {
        switch (ch) {
        case 'b': o->bundle = optarg; break;
        case 'c': o->console_socket = optarg; break;
        case 'p': o->pid_file = optarg; break;
        case 'P': o->no_pivot = true; break;
        case 'K': o->no_new_keyring = true; break;
        case 'f': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0)
                return usage_error("--preserve-fds: '%s' is not a number", optarg);
            o->preserve_fds = (unsigned)n;
            break;
        }
        case 'd':
            if (!run)
                return usage_error("create: unknown option --detach");
            o->detach = true;
            break;
        case 'k': o->keep = true; break;
        case 'S': break;
        default: return usage_error("%s: bad option", run ? "run" : "create");
        }
    }
    if (need_id(c, run ? "run" : "create", 1))
        return 1;
    o->id = c->argv[optind];
    return 0;
}

static int cmd_create(struct cmd_ctx *c)
{
    struct runtime_create_opts o = {0};
    if (parse_create_opts(c, &o, false))
        return 1;
    wharf_error err = {0};
    return runtime_create(&c->rt, &o, &err) < 0 ? fail(&err) : 0;
}

static int cmd_run(struct cmd_ctx *c)
{
    struct runtime_create_opts o = {0};
    if (parse_create_opts(c, &o, true))
        return 1;
    wharf_error err = {0};
    int status = 0;
    if (runtime_run(&c->rt, &o, &status, &err) < 0)
        return fail(&err);
    return status;
}

static int simple_flags(struct cmd_ctx *c, const char *cmd)
{
    static const struct option none[] = {{0, 0, 0, 0}};
    if (getopt_long(c->argc, c->argv, "+", none, NULL) != -1)
        return usage_error("%s: bad option", cmd);
    return need_id(c, cmd, 1);
}

static int cmd_start(struct cmd_ctx *c)
{
    if (simple_flags(c, "start"))
        return 1;
    wharf_error err = {0};
    return runtime_start(&c->rt, c->argv[optind], &err) < 0 ? fail(&err) : 0;
}

static int cmd_state(struct cmd_ctx *c)
{
    if (simple_flags(c, "state"))
        return 1;
    wharf_error err = {0};
    json_t *st = runtime_state(&c->rt, c->argv[optind], &err);
    return st ? print_json(st) : fail(&err);
}

static int cmd_pause(struct cmd_ctx *c)
{
    if (simple_flags(c, "pause"))
        return 1;
    wharf_error err = {0};
    return runtime_pause(&c->rt, c->argv[optind], &err) < 0 ? fail(&err) : 0;
}

static int cmd_resume(struct cmd_ctx *c)
{
    if (simple_flags(c, "resume"))
        return 1;
    wharf_error err = {0};
    return runtime_resume(&c->rt, c->argv[optind], &err) < 0 ? fail(&err) : 0;
}

static int cmd_kill(struct cmd_ctx *c)
{
    static const struct option opts[] = {{"all", no_argument, 0, 'a'}, {0, 0, 0, 0}};
    bool all = false;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+a", opts, NULL)) != -1) {
        if (ch != 'a')
            return usage_error("kill: bad option");
        all = true;
    }
    if (need_id(c, "kill", 1))
        return 1;
    const char *id = c->argv[optind];
    int sig = 15;
    if (optind + 1 < c->argc) {
        sig = runtime_parse_signal(c->argv[optind + 1]);
        if (sig < 0)
            return usage_error("kill: unknown signal '%s'", c->argv[optind + 1]);
    }
    wharf_error err = {0};
    return runtime_kill(&c->rt, id, sig, all, &err) < 0 ? fail(&err) : 0;
}

static int cmd_delete(struct cmd_ctx *c)
{
    static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
    bool force = false;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+f", opts, NULL)) != -1) {
        if (ch != 'f')
            return usage_error("delete: bad option");
        force = true;
    }
    if (need_id(c, "delete", 1))
        return 1;
    wharf_error err = {0};
    int rc = 0;
    for (int i = optind; i < c->argc; i++) {
        if (runtime_delete(&c->rt, c->argv[i], force, &err) < 0) {
            /* runc: deleting a missing container with --force is not an error. */
            if (force && err.code == -ENOENT)
                continue;
            rc = fail(&err);
        }
    }
    return rc;
}

static int cmd_list(struct cmd_ctx *c)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    const char *format = "table";
    bool quiet = false;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+f:q", opts, NULL)) != -1) {
        if (ch == 'f')
            format = optarg;
        else if (ch == 'q')
            quiet = true;
        else
            return usage_error("list: bad option");
    }
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        return usage_error("list: invalid --format '%s' (table or json)", format);
    wharf_error err = {0};
    json_t *all = runtime_list(&c->rt, &err);
    if (!all)
        return fail(&err);
    size_t i;
    json_t *s;
    if (quiet) {
        json_array_foreach(all, i, s) printf("%s\n", json_string_value(json_object_get(s, "id")));
    } else if (strcmp(format, "json") == 0) {
        char *text = json_dumps(all, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
    } else {
        printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
        json_array_foreach(all, i, s)
        {
            printf("%-12s %-10lld %-10s %-40s %-30s %s\n",
                   json_string_value(json_object_get(s, "id")),
                   (long long)json_integer_value(json_object_get(s, "pid")),
                   json_string_value(json_object_get(s, "status")),
                   json_string_value(json_object_get(s, "bundle")),
                   json_string_value(json_object_get(s, "created")), "root");
        }
    }
    json_decref(all);
    return 0;
}

static int cmd_ps(struct cmd_ctx *c)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    const char *format = "table";
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+f:", opts, NULL)) != -1) {
        if (ch != 'f')
            return usage_error("ps: bad option");
        format = optarg;
    }
    if (need_id(c, "ps", 1))
        return 1;
    wharf_error err = {0};
    pid_t *pids = NULL;
    size_t n = 0;
    if (runtime_pids(&c->rt, c->argv[optind], &pids, &n, &err) < 0)
        return fail(&err);
    if (strcmp(format, "json") == 0) {
        printf("[");
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? "," : "", (int)pids[i]);
        printf("]\n");
        free(pids);
        return 0;
    }
    if (strcmp(format, "table") != 0) {
        free(pids);
        return usage_error("ps: invalid --format '%s' (table or json)", format);
    }
    /* Like runc: run the host's ps with the given options (default -ef) and
     * keep the header and the lines whose PID column is one of ours. */
    strbuf cmd = STRBUF_INIT;
    strbuf_addstr(&cmd, "ps");
    if (optind + 1 >= c->argc)
        strbuf_addstr(&cmd, " -ef");
    for (int i = optind + 1; i < c->argc; i++) {
        strbuf_addstr(&cmd, " '");
        for (const char *p = c->argv[i]; *p; p++)
            if (*p == '\'')
                strbuf_addstr(&cmd, "'\\''");
            else
                strbuf_addch(&cmd, *p);
        strbuf_addch(&cmd, '\'');
    }
    FILE *f = popen(cmd.buf, "r");
    strbuf_release(&cmd);
    if (!f) {
        free(pids);
        wharf_error_errno(&err, errno, "ps");
        return fail(&err);
    }
    char line[4096];
    int pid_col = -1;
    while (fgets(line, sizeof(line), f)) {
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", line);
        char *save = NULL;
        int col = 0;
        if (pid_col < 0) {
            for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++)
                if (strcmp(t, "PID") == 0)
                    pid_col = col;
            fputs(line, stdout);
            if (pid_col < 0) {
                pclose(f);
                free(pids);
                return usage_error("ps: no PID column in the output of ps");
            }
            continue;
        }
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), col++) {
            if (col != pid_col)
                continue;
            pid_t p = (pid_t)atoi(t);
            for (size_t i = 0; i < n; i++)
                if (pids[i] == p)
                    fputs(line, stdout);
            break;
        }
    }
    pclose(f);
    free(pids);
    return 0;
}

/* "100", "64k", "512M", "1g" -> bytes; -1 stays -1 (unlimited). */
static int parse_bytes(const char *s, int64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    int64_t mult = 1;
    switch (*end) {
    case 'k': case 'K': mult = 1024; end++; break;
    case 'm': case 'M': mult = 1024 * 1024; end++; break;
    case 'g': case 'G': mult = 1024LL * 1024 * 1024; end++; break;
    case 't': case 'T': mult = 1024LL * 1024 * 1024 * 1024; end++; break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    *out = (int64_t)(v * (double)mult);
    return 0;
}

static void set_path(json_t *root, const char *obj, const char *key, json_t *value)
{
    json_t *o = json_object_get(root, obj);
    if (!o) {
        o = json_object();
        json_object_set_new(root, obj, o);
    }
    json_object_set_new(o, key, value);
}

static int cmd_update(struct cmd_ctx *c)
{
    enum { O_MEM = 256, O_RES, O_SWAP, O_KMEM, O_KTCP, O_SHARES, O_QUOTA, O_PERIOD, O_RTP, O_RTR,
           O_CPUS, O_MEMS, O_PIDS, O_BLKIO };
    static const struct option opts[] = {
        {"resources", required_argument, 0, 'r'},
        {"memory", required_argument, 0, O_MEM},
        {"memory-reservation", required_argument, 0, O_RES},
        {"memory-swap", required_argument, 0, O_SWAP},
        {"kernel-memory", required_argument, 0, O_KMEM},
        {"kernel-memory-tcp", required_argument, 0, O_KTCP},
        {"cpu-shares", required_argument, 0, O_SHARES},
        {"cpu-quota", required_argument, 0, O_QUOTA},
        {"cpu-period", required_argument, 0, O_PERIOD},
        {"cpu-rt-period", required_argument, 0, O_RTP},
        {"cpu-rt-runtime", required_argument, 0, O_RTR},
        {"cpuset-cpus", required_argument, 0, O_CPUS},
        {"cpuset-mems", required_argument, 0, O_MEMS},
        {"pids-limit", required_argument, 0, O_PIDS},
        {"blkio-weight", required_argument, 0, O_BLKIO},
        {0, 0, 0, 0},
    };
    json_t *res = json_object();
    const char *file = NULL;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+r:", opts, NULL)) != -1) {
        int64_t v = 0;
        bool bytes = ch == O_MEM || ch == O_RES || ch == O_SWAP || ch == O_KMEM || ch == O_KTCP;
        if (ch == 'r') {
            file = optarg;
            continue;
        }
        if (ch == '?' || ch == ':') {
            json_decref(res);
            return usage_error("update: bad option");
        }
        if (ch == O_CPUS || ch == O_MEMS) {
            set_path(res, "cpu", ch == O_CPUS ? "cpus" : "mems", json_string(optarg));
            continue;
        }
        if (bytes ? parse_bytes(optarg, &v) < 0 : (v = strtoll(optarg, NULL, 10), 0)) {
            json_decref(res);
            return usage_error("update: invalid value '%s'", optarg);
        }
        switch (ch) {
        case O_MEM: set_path(res, "memory", "limit", json_integer(v)); break;
        case O_RES: set_path(res, "memory", "reservation", json_integer(v)); break;
        case O_SWAP: set_path(res, "memory", "swap", json_integer(v)); break;
        case O_KMEM: case O_KTCP: break; /* no longer settable on current kernels */
        case O_SHARES: set_path(res, "cpu", "shares", json_integer(v)); break;
        case O_QUOTA: set_path(res, "cpu", "quota", json_integer(v)); break;
        case O_PERIOD: set_path(res, "cpu", "period", json_integer(v)); break;
        case O_RTP: set_path(res, "cpu", "realtimePeriod", json_integer(v)); break;
        case O_RTR: set_path(res, "cpu", "realtimeRuntime", json_integer(v)); break;
        case O_PIDS: set_path(res, "pids", "limit", json_integer(v)); break;
        case O_BLKIO: set_path(res, "blockIO", "weight", json_integer(v)); break;
        }
    }
    if (need_id(c, "update", 1)) {
        json_decref(res);
        return 1;
    }
    wharf_error err = {0};
    if (file) {
        json_error_t je;
        json_t *j = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(file, 0, &je);
        if (!j || !json_is_object(j)) {
            json_decref(res);
            if (j)
                json_decref(j);
            return usage_error("update: --resources %s: %s", file, j ? "expected an object" : je.text);
        }
        json_object_update(j, res);
        json_decref(res);
        res = j;
    }
    int r = runtime_update(&c->rt, c->argv[optind], res, &err);
    json_decref(res);
    return r < 0 ? fail(&err) : 0;
}

static int add_cap(json_t *process, const char *cap)
{
    json_t *caps = json_object_get(process, "capabilities");
    if (!caps) {
        caps = json_object();
        json_object_set_new(process, "capabilities", caps);
    }
    const char *sets[] = {"bounding", "effective", "permitted"};
    for (size_t i = 0; i < 3; i++) {
        json_t *a = json_object_get(caps, sets[i]);
        if (!a) {
            a = json_array();
            json_object_set_new(caps, sets[i], a);
        }
        json_array_append_new(a, json_string(cap));
    }
    return 0;
}

static int cmd_exec(struct cmd_ctx *c)
{
    enum { O_CONSOLE = 256, O_CWD, O_PIDFILE, O_LABEL, O_APPARMOR, O_NNP, O_PRESERVE, O_CGROUP };
    static const struct option opts[] = {
        {"console-socket", required_argument, 0, O_CONSOLE},
        {"cwd", required_argument, 0, O_CWD},
        {"env", required_argument, 0, 'e'},
        {"tty", no_argument, 0, 't'},
        {"user", required_argument, 0, 'u'},
        {"additional-gids", required_argument, 0, 'g'},
        {"process", required_argument, 0, 'p'},
        {"detach", no_argument, 0, 'd'},
        {"pid-file", required_argument, 0, O_PIDFILE},
        {"process-label", required_argument, 0, O_LABEL},
        {"apparmor", required_argument, 0, O_APPARMOR},
        {"no-new-privs", no_argument, 0, O_NNP},
        {"cap", required_argument, 0, 'c'},
        {"preserve-fds", required_argument, 0, O_PRESERVE},
        {"cgroup", required_argument, 0, O_CGROUP},
        {0, 0, 0, 0},
    };
    struct runtime_exec_opts o = {0};
    const char *process_file = NULL, *cwd = NULL, *user = NULL;
    bool tty = false, nnp = false;
    json_t *env = json_array(), *gids = json_array(), *caps = json_array();
    int ch, rc = 1;
    json_t *process = NULL;
    while ((ch = getopt_long(c->argc, c->argv, "+e:tu:g:p:dc:", opts, NULL)) != -1) {
        switch (ch) {
        case O_CONSOLE: o.console_socket = optarg; break;
        case O_CWD: cwd = optarg; break;
        case 'e': json_array_append_new(env, json_string(optarg)); break;
        case 't': tty = true; break;
        case 'u': user = optarg; break;
        case 'g': json_array_append_new(gids, json_integer(atoll(optarg))); break;
        case 'p': process_file = optarg; break;
        case 'd': o.detach = true; break;
        case O_PIDFILE: o.pid_file = optarg; break;
        case O_LABEL: case O_APPARMOR: case O_CGROUP: break; /* no LSM on this host; one cgroup */
        case O_NNP: nnp = true; break;
        case 'c': json_array_append_new(caps, json_string(optarg)); break;
        case O_PRESERVE: o.preserve_fds = (unsigned)atoi(optarg); break;
        default: usage_error("exec: bad option"); goto out;
        }
    }
    if (need_id(c, "exec", 1))
        goto out;
    o.id = c->argv[optind];
    wharf_error err = {0};
    if (process_file) {
        process = wjson_load_file(process_file, &err);
        if (!process) {
            fail(&err);
            goto out;
        }
    } else {
        if (optind + 1 >= c->argc) {
            usage_error("exec: a command is required (or --process FILE)");
            goto out;
        }
        if (!(process = runtime_exec_default_process(&c->rt, o.id, &err))) {
            fail(&err);
            goto out;
        }
        json_t *args = json_array();
        for (int i = optind + 1; i < c->argc; i++)
            json_array_append_new(args, json_string(c->argv[i]));
        json_object_set_new(process, "args", args);
        json_object_set_new(process, "terminal", json_boolean(tty));
        if (cwd)
            json_object_set_new(process, "cwd", json_string(cwd));
        json_t *penv = json_object_get(process, "env");
        if (!json_is_array(penv)) {
            penv = json_array();
            json_object_set_new(process, "env", penv);
        }
        json_array_extend(penv, env);
        if (user) {
            char *colon = strchr(user, ':');
            json_t *u = json_object_get(process, "user");
            if (!u) {
                u = json_object();
                json_object_set_new(process, "user", u);
            }
            json_object_set_new(u, "uid", json_integer(atoll(user)));
            json_object_set_new(u, "gid", json_integer(colon ? atoll(colon + 1) : 0));
        }
        if (json_array_size(gids)) {
            json_t *u = json_object_get(process, "user");
            if (!u) {
                u = json_object();
                json_object_set_new(process, "user", u);
            }
            json_object_set(u, "additionalGids", gids);
        }
        if (nnp)
            json_object_set_new(process, "noNewPrivileges", json_true());
        size_t i;
        json_t *cap;
        json_array_foreach(caps, i, cap) add_cap(process, json_string_value(cap));
    }
    o.process = process;
    int status = 0;
    if (runtime_exec(&c->rt, &o, &status, &err) < 0) {
        fail(&err);
        goto out;
    }
    rc = status;
out:
    json_decref(env);
    json_decref(gids);
    json_decref(caps);
    if (process)
        json_decref(process);
    return rc;
}

/* `events`: with --stats one stats object; otherwise a stats object every
 * --interval and an {"type":"oom"} event whenever the OOM-kill counter grows,
 * until the container stops (as runc does; containerd reads these). */
static int cmd_events(struct cmd_ctx *c)
{
    static const struct option opts[] = {
        {"stats", no_argument, 0, 's'}, {"interval", required_argument, 0, 'i'}, {0, 0, 0, 0}};
    bool once = false;
    double interval = 5;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+", opts, NULL)) != -1) {
        if (ch == 's') {
            once = true;
        } else if (ch == 'i') {
            char *end;
            interval = strtod(optarg, &end);
            if (end == optarg || interval <= 0 || (*end && strcmp(end, "s") != 0 &&
                                                   strcmp(end, "ms") != 0))
                return usage_error("events: invalid --interval '%s'", optarg);
            if (strcmp(end, "ms") == 0)
                interval /= 1000;
        } else {
            return usage_error("events: bad option");
        }
    }
    if (need_id(c, "events", 1))
        return 1;
    const char *id = c->argv[optind];
    uint64_t last_oom = 0;
    bool first = true;
    for (;;) {
        wharf_error err = {0};
        uint64_t oom = 0;
        json_t *ev = runtime_stats(&c->rt, id, &oom, &err);
        if (!ev)
            return first ? fail(&err) : 0; /* it stopped: the stream ends */
        if (!first && oom > last_oom) {
            printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
        }
        last_oom = oom;
        first = false;
        char *text = json_dumps(ev, JSON_COMPACT);
        printf("%s\n", text);
        fflush(stdout);
        free(text);
        json_decref(ev);
        if (once)
            return 0;
        struct timespec ts = {(time_t)interval, (long)((interval - (time_t)interval) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int cmd_features(struct cmd_ctx *c)
{
    (void)c;
    return print_json(runtime_features());
}

static int cmd_spec(struct cmd_ctx *c)
{
    static const struct option opts[] = {
        {"bundle", required_argument, 0, 'b'}, {"rootless", no_argument, 0, 'r'}, {0, 0, 0, 0}};
    const char *bundle = ".";
    bool rootless = false;
    int ch;
    while ((ch = getopt_long(c->argc, c->argv, "+b:", opts, NULL)) != -1) {
        if (ch == 'b')
            bundle = optarg;
        else if (ch == 'r')
            rootless = true;
        else
            return usage_error("spec: bad option");
    }
    _cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
    if (access(path, F_OK) == 0)
        return usage_error("spec: File %s exists. Remove it first", path);
    json_t *spec = runtime_default_spec(rootless);
    char *text = json_dumps(spec, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(spec);
    wharf_error err = {0};
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int r = fd < 0 ? -errno : wharf_write_all(fd, text, strlen(text));
    if (fd >= 0)
        close(fd);
    free(text);
    if (r < 0) {
        wharf_error_errno(&err, -r, "spec: write %s", path);
        return fail(&err);
    }
    return 0;
}

static void print_help(FILE *f)
{
    fprintf(f,
            "Usage: %s [global options] <command> [options] [arguments]\n\n"
            "An OCI runtime with runc's command line.\n\n"
            "Commands:\n"
            "  create    create a container from a bundle\n"
            "  start     run the user process of a created container\n"
            "  run       create and start a container (waits for it unless --detach)\n"
            "  state     print the OCI state of a container\n"
            "  kill      send a signal to the init (or --all processes)\n"
            "  delete    remove a stopped container (--force: any)\n"
            "  exec      run another process in a container\n"
            "  ps        processes of a container\n"
            "  list      containers under --root\n"
            "  pause     freeze every process of a container\n"
            "  resume    thaw a paused container\n"
            "  update    change resource limits\n"
            "  events    resource usage (--stats once, else every --interval) and OOM events\n"
            "  features  what this runtime supports, as JSON\n"
            "  spec      write a default config.json\n\n"
            "Global options:\n"
            "  --root DIR            state directory (default %s)\n"
            "  --log FILE            log file (default: stderr)\n"
            "  --log-format FORMAT   text or json\n"
            "  --debug               debug logging\n"
            "  --systemd-cgroup      cgroupsPath is slice:prefix:name\n"
            "  -v, --version         print the version\n",
            prog, WHARF_RUNTIME_DEFAULT_ROOT);
}

int main(int argc, char **argv)
{
    static const struct option global[] = {
        {"root", required_argument, 0, 'r'},
        {"log", required_argument, 0, 'l'},
        {"log-format", required_argument, 0, 'f'},
        {"debug", no_argument, 0, 'D'},
        {"systemd-cgroup", no_argument, 0, 's'},
        {"criu", required_argument, 0, 'C'},
        {"rootless", required_argument, 0, 'R'},
        {"version", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct cmd_ctx c = {.rt = {.root = WHARF_RUNTIME_DEFAULT_ROOT}};
    const char *log_path = NULL, *log_format = "text";
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+vh", global, NULL)) != -1) {
        switch (ch) {
        case 'r': c.rt.root = optarg; break;
        case 'l': log_path = optarg; break;
        case 'f': log_format = optarg; break;
        case 'D': c.rt.debug = true; break;
        case 's': c.rt.systemd_cgroup = true; break;
        case 'C': case 'R': break;
        case 'v':
            printf("%s version %s\nspec: %s\n", prog, WHARF_VERSION, WHARF_OCI_VERSION);
            return 0;
        case 'h': print_help(stdout); return 0;
        default: return usage_error("unknown global option '%s'", argv[optind - 1]);
        }
    }
    enum wharf_log_format fmt = WHARF_LOG_TEXT;
    if (strcmp(log_format, "json") == 0)
        fmt = WHARF_LOG_JSON;
    else if (strcmp(log_format, "text") != 0)
        return usage_error("--log-format: unknown format '%s' (text or json)", log_format);
    if (log_path) {
        wharf_error err = {0};
        if (wharf_log_open(log_path, fmt, c.rt.debug, &err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err.msg);
            return 1;
        }
    } else {
        wharf_log_set_fd(-1, fmt, c.rt.debug);
    }
    if (optind >= argc) {
        print_help(stderr);
        return 1;
    }
    const char *cmd = argv[optind];
    static const struct {
        const char *name;
        int (*fn)(struct cmd_ctx *);
        bool enters_container;
    } cmds[] = {
        {"create", cmd_create, true},  {"run", cmd_run, true},       {"exec", cmd_exec, true},
        {"start", cmd_start, false},   {"state", cmd_state, false},  {"kill", cmd_kill, false},
        {"delete", cmd_delete, false}, {"list", cmd_list, false},    {"ps", cmd_ps, false},
        {"pause", cmd_pause, false},   {"resume", cmd_resume, false}, {"update", cmd_update, false},
        {"features", cmd_features, false}, {"spec", cmd_spec, false},
        {"events", cmd_events, false},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmds[i].name, cmd) != 0)
            continue;
        if (cmds[i].enters_container)
            reexec_from_sealed_copy(argv);
        c.argc = argc - optind;
        c.argv = argv + optind;
        optind = 1;
        opterr = 1;
        return cmds[i].fn(&c);
    }
    if (strcmp(cmd, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}
