/*
 * critool — a small command line over the cri module for tests/integration/
 * cri.bats. Every invocation is a fresh process, which is what the live
 * restore tests need: a second critool sees what the first one started.
 *
 *   critool --root DIR [--runtime PATH] [--shim PATH] COMMAND ARGS...
 *
 * Statuses print as one JSON object; errors print once on stderr (exit 1).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>

#include "cri.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: critool --root DIR [--runtime PATH] [--shim PATH] COMMAND ARGS...\n"
            "  sandbox-create ID [CONFIG-JSON] | sandbox-stop ID [TIMEOUT] | sandbox-rm ID\n"
            "  sandbox-status ID | sandbox-list\n"
            "  create ID SANDBOX ROOTFS CONFIG-JSON | start ID | stop ID [TIMEOUT]\n"
            "  kill ID SIGNAL | rm [-f] ID | status ID | list [KEY=VALUE...]\n"
            "  pause ID | unpause ID | update ID RESOURCES-JSON | top ID | stats ID\n"
            "  exec [-t] ID CMD... | exec-sync ID TIMEOUT CMD... | attach ID\n"
            "  logs [-f] [-t] [--tail N] [--since TIME] ID | reconcile\n");
}

static json_t *parse_json(const char *text, wharf_error *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        wharf_error_set(err, -EINVAL, "JSON argument: %s", je.text);
    return j;
}

static void print_time(json_t *o, const char *key, const struct timespec *ts)
{
    if (!ts->tv_sec && !ts->tv_nsec)
        return;
    json_object_set_new(o, key, json_sprintf("%lld.%09ld", (long long)ts->tv_sec, ts->tv_nsec));
}

static json_t *container_json(const struct cri_container_status *st)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:b, s:b, s:i, s:s}", "id",
                          st->id, "sandbox_id", st->sandbox_id, "name", st->name, "state",
                          cri_state_name(st->state), "pid", (json_int_t)st->pid, "exit_code",
                          st->exit_code, "signal", st->signal, "oom_killed", st->oom_killed,
                          "supervised", st->supervised, "start_count", (int)st->start_count,
                          "log_path", st->log_path);
    print_time(o, "created_at", &st->created_at);
    print_time(o, "started_at", &st->started_at);
    print_time(o, "finished_at", &st->finished_at);
    return o;
}

static json_t *sandbox_json(const struct cri_sandbox_status *st)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:I}", "id", st->id, "name", st->name,
                          "hostname", st->hostname, "infra", st->infra, "ready", st->ready, "pid",
                          (json_int_t)st->pid);
    json_object_set_new(o, "netns", st->netns ? json_string(st->netns) : json_null());
    return o;
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    free(s);
    json_decref(j);
    return 0;
}

static bool with_timestamps;

static int print_record(const struct cri_log_record *rec, void *ud)
{
    (void)ud;
    FILE *f = rec->stream == CRI_STREAM_STDERR ? stderr : stdout;
    if (with_timestamps)
        fprintf(f, "%s ", rec->timestamp);
    fwrite(rec->content, 1, rec->len, f);
    if (!rec->partial)
        fputc('\n', f);
    fflush(f);
    return 0;
}

static int run(struct cri *cri, int argc, char **argv, wharf_error *err)
{
    const char *cmd = argv[0];
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if (argc < (n) + 1) {                                                                      \
            usage();                                                                               \
            return 2;                                                                              \
        }                                                                                          \
    } while (0)
    if (strcmp(cmd, "sandbox-create") == 0) {
        NEED(1);
        json_t *cfg = argc > 2 ? parse_json(argv[2], err) : json_object();
        if (!cfg)
            return -1;
        int r = cri_sandbox_create(cri, argv[1], cfg, err);
        json_decref(cfg);
        return r;
    }
    if (strcmp(cmd, "sandbox-stop") == 0) {
        NEED(1);
        return cri_sandbox_stop(cri, argv[1], argc > 2 ? atoi(argv[2]) : 10, err);
    }
    if (strcmp(cmd, "sandbox-rm") == 0) {
        NEED(1);
        return cri_sandbox_remove(cri, argv[1], err);
    }
    if (strcmp(cmd, "sandbox-status") == 0) {
        NEED(1);
        struct cri_sandbox_status st;
        int r = cri_sandbox_status(cri, argv[1], &st, err);
        if (r < 0)
            return r;
        print_json(sandbox_json(&st));
        cri_sandbox_status_release(&st);
        return 0;
    }
    if (strcmp(cmd, "sandbox-list") == 0) {
        struct cri_filter f = {.state = -1};
        struct cri_sandbox_status *a;
        size_t n;
        int r = cri_sandbox_list(cri, &f, &a, &n, err);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n; i++)
            print_json(sandbox_json(&a[i]));
        cri_sandbox_status_array_free(a, n);
        return 0;
    }
    if (strcmp(cmd, "create") == 0) {
        NEED(4);
        json_t *cfg = parse_json(argv[4], err);
        if (!cfg)
            return -1;
        int r = cri_container_create(cri, argv[1], argv[2], argv[3], cfg, err);
        json_decref(cfg);
        return r;
    }
    if (strcmp(cmd, "start") == 0) {
        NEED(1);
        return cri_container_start(cri, argv[1], err);
    }
    if (strcmp(cmd, "stop") == 0) {
        NEED(1);
        return cri_container_stop(cri, argv[1], argc > 2 ? atoi(argv[2]) : -1, err);
    }
    if (strcmp(cmd, "kill") == 0) {
        NEED(2);
        int sig = cri_parse_signal(argv[2]);
        if (sig < 0)
            return wharf_error_set(err, -EINVAL, "unknown signal %s", argv[2]);
        return cri_container_kill(cri, argv[1], sig, err);
    }
    if (strcmp(cmd, "rm") == 0) {
        NEED(1);
        bool force = strcmp(argv[1], "-f") == 0;
        if (force)
            NEED(2);
        return cri_container_remove(cri, argv[force ? 2 : 1], force, err);
    }
    if (strcmp(cmd, "status") == 0) {
        NEED(1);
        struct cri_container_status st;
        int r = cri_container_status(cri, argv[1], &st, err);
        if (r < 0)
            return r;
        print_json(container_json(&st));
        cri_container_status_release(&st);
        return 0;
    }
    if (strcmp(cmd, "list") == 0) {
        json_t *labels = json_object();
        for (int i = 1; i < argc; i++) {
            char *eq = strchr(argv[i], '=');
            if (!eq) {
                json_decref(labels);
                return wharf_error_set(err, -EINVAL, "label filter %s: expected KEY=VALUE",
                                       argv[i]);
            }
            *eq = '\0';
            json_object_set_new(labels, argv[i], json_string(eq + 1));
        }
        struct cri_filter f = {.state = -1, .labels = argc > 1 ? labels : NULL};
        struct cri_container_status *a;
        size_t n;
        int r = cri_container_list(cri, &f, &a, &n, err);
        json_decref(labels);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n; i++)
            print_json(container_json(&a[i]));
        cri_container_status_array_free(a, n);
        return 0;
    }
    if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "unpause") == 0) {
        NEED(1);
        return cmd[0] == 'p' ? cri_container_pause(cri, argv[1], err)
                             : cri_container_unpause(cri, argv[1], err);
    }
    if (strcmp(cmd, "update") == 0) {
        NEED(2);
        json_t *res = parse_json(argv[2], err);
        if (!res)
            return -1;
        int r = cri_container_update(cri, argv[1], res, err);
        json_decref(res);
        return r;
    }
    if (strcmp(cmd, "top") == 0) {
        NEED(1);
        pid_t *pids;
        size_t n;
        int r = cri_container_top(cri, argv[1], &pids, &n, err);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n; i++)
            printf("%d\n", (int)pids[i]);
        free(pids);
        return 0;
    }
    if (strcmp(cmd, "stats") == 0) {
        NEED(1);
        json_t *s = cri_container_stats(cri, argv[1], err);
        return s ? print_json(s) : -1;
    }
    if (strcmp(cmd, "exec") == 0) {
        bool tty = argc > 1 && strcmp(argv[1], "-t") == 0;
        NEED(tty ? 3 : 2);
        const char *id = argv[tty ? 2 : 1];
        struct cri_exec_opts o = {.argv = (const char *const *)argv + (tty ? 3 : 2),
                                  .tty = tty, .in_fd = 0, .out_fd = 1, .err_fd = 2};
        int code = 0;
        int r = cri_container_exec(cri, id, &o, &code, err);
        return r < 0 ? r : code;
    }
    if (strcmp(cmd, "exec-sync") == 0) {
        NEED(3);
        strbuf out = STRBUF_INIT, errout = STRBUF_INIT;
        int code = 0;
        int r = cri_container_exec_sync(cri, argv[1], (const char *const *)argv + 3,
                                        atoi(argv[2]), &out, &errout, &code, err);
        if (r == 0)
            print_json(json_pack("{s:s, s:s, s:i}", "stdout", strbuf_str(&out), "stderr",
                                 strbuf_str(&errout), "exit_code", code));
        strbuf_release(&out);
        strbuf_release(&errout);
        return r;
    }
    if (strcmp(cmd, "attach") == 0) {
        NEED(1);
        return cri_container_attach(cri, argv[1], 0, 1, 2, true, err);
    }
    if (strcmp(cmd, "logs") == 0) {
        struct cri_log_opts o = {.tail = -1};
        static const struct option opts[] = {{"follow", no_argument, 0, 'f'},
                                             {"timestamps", no_argument, 0, 't'},
                                             {"tail", required_argument, 0, 'n'},
                                             {"since", required_argument, 0, 's'},
                                             {0, 0, 0, 0}};
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "+ftn:s:", opts, NULL)) != -1) {
            switch (ch) {
            case 'f': o.follow = true; break;
            case 't': with_timestamps = true; break;
            case 'n': o.tail = atol(optarg); break;
            case 's':
                if (cri_parse_time(optarg, strlen(optarg), &o.since) < 0)
                    return wharf_error_set(err, -EINVAL, "--since %s: not RFC 3339", optarg);
                break;
            default: usage(); return 2;
            }
        }
        if (optind >= argc) {
            usage();
            return 2;
        }
        return cri_container_logs(cri, argv[optind], &o, print_record, NULL, err);
    }
    if (strcmp(cmd, "reconcile") == 0) {
        struct cri_reconcile_report rep;
        int r = cri_reconcile(cri, &rep, err);
        if (r < 0)
            return r;
        return print_json(json_pack("{s:i, s:i, s:i, s:i}", "running", rep.running, "orphaned",
                                    rep.orphaned, "exited", rep.exited, "removed", rep.removed));
    }
    usage();
    return 2;
}

int main(int argc, char **argv)
{
    struct cri_options o = {0};
    static const struct option opts[] = {{"root", required_argument, 0, 'r'},
                                         {"runtime", required_argument, 0, 'R'},
                                         {"shim", required_argument, 0, 'S'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': o.root = optarg; break;
        case 'R': o.runtime_path = optarg; break;
        case 'S': o.shim_path = optarg; break;
        default: usage(); return 2;
        }
    }
    if (!o.root || optind >= argc) {
        usage();
        return 2;
    }
    /* A driver killed mid-call must not take a container down with it. */
    signal(SIGPIPE, SIG_IGN);
    wharf_error err = {0};
    struct cri *cri = NULL;
    if (cri_open(&o, &cri, &err) < 0) {
        fprintf(stderr, "critool: %s\n", err.msg);
        return 1;
    }
    int r = run(cri, argc - optind, argv + optind, &err);
    cri_close(cri);
    if (r < 0) {
        fprintf(stderr, "critool: %s\n", err.msg[0] ? err.msg : strerror(-r));
        return 1;
    }
    return r;
}
