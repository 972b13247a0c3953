/*
 * wharf — the main command line. `wharf daemon` runs the engine (the Docker
 * Engine API server, src/engine); every other command is a docker-compatible
 * client command (wharf_cmds.h) talking to a daemon over src/client.
 */
#include "base.h"
#include "engine.h"
#include "wharf_cmds.h"

#include <getopt.h>
#include <jansson.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: wharf <command>\n\n"
               "Commands:\n"
               "  daemon    run the engine: the Docker Engine API on a unix socket\n"
               "  version   client and daemon versions\n"
               "  info      a summary of the daemon\n"
               "  images, image inspect, load, save, tag, rmi, history\n"
               "  ps, create, run -d, start, logs, stop, kill, rm, wait, inspect\n"
               "  restart, rename, pause, unpause, top, stats, export, diff, container prune\n"
               "  help      this text\n\n"
               "Client commands take docker's flags; the daemon is -H/--host, else\n"
               "WHARF_HOST, else DOCKER_HOST, else %s.\n\n"
               "wharf daemon [--root DIR] [-H unix:///PATH | tcp://HOST:PORT]... [--config-file F]\n"
               "  defaults: --root %s, -H unix://%s, --config-file %s\n\n"
               "The OCI runtime is wharf-runtime (runc's command line); the per-container\n"
               "supervisor is wharf-shim.\n",
            CLIENT_DEFAULT_HOST, ENGINE_DEFAULT_ROOT, ENGINE_DEFAULT_SOCKET, ENGINE_DEFAULT_CONFIG);
}

static int cmd_daemon(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, 0, 'r'},
        {"data-root", required_argument, 0, 'r'},
        {"host", required_argument, 0, 'H'},
        {"config-file", required_argument, 0, 'c'},
        {"debug", no_argument, 0, 'D'},
        {0, 0, 0, 0},
    };
    struct engine_config cfg = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "H:D", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': cfg.root = optarg; break;
        case 'H':
            if (cfg.n_hosts == ENGINE_MAX_HOSTS) {
                fprintf(stderr, "wharf daemon: at most %d -H options\n", ENGINE_MAX_HOSTS);
                return 2;
            }
            cfg.hosts[cfg.n_hosts++] = optarg;
            break;
        case 'c': cfg.config_file = optarg; break;
        case 'D': cfg.debug = true; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wharf daemon: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    wharf_error err = {0};
    json_t *doc = NULL;
    int r = engine_config_resolve(&cfg, &doc, &err);
    if (r == 0) {
        wharf_log_set_fd(-1, WHARF_LOG_TEXT, cfg.debug);
        r = engine_daemon_run(&cfg, &err);
    }
    if (doc)
        json_decref(doc);
    if (r < 0) {
        fprintf(stderr, "wharf daemon: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    const char *sub; /* second word ("image inspect"), or NULL */
    wcmd_fn fn;
} commands[] = {
    {"version", NULL, wcmd_version},
    {"info", NULL, wcmd_info},
    {"system", "info", wcmd_info},
    {"images", NULL, wcmd_images},
    {"image", "ls", wcmd_images},
    {"image", "list", wcmd_images},
    {"image", "inspect", wcmd_image_inspect},
    {"image", "load", wcmd_load},
    {"image", "save", wcmd_save},
    {"image", "tag", wcmd_tag},
    {"image", "rm", wcmd_rmi},
    {"image", "history", wcmd_history},
    {"load", NULL, wcmd_load},
    {"save", NULL, wcmd_save},
    {"tag", NULL, wcmd_tag},
    {"rmi", NULL, wcmd_rmi},
    {"history", NULL, wcmd_history},
    {"ps", NULL, wcmd_ps},
    {"container", "ls", wcmd_ps},
    {"container", "list", wcmd_ps},
    {"container", "run", wcmd_run},
    {"container", "create", wcmd_create},
    {"container", "start", wcmd_start},
    {"container", "logs", wcmd_logs},
    {"container", "stop", wcmd_stop},
    {"container", "kill", wcmd_kill},
    {"container", "rm", wcmd_rm},
    {"container", "wait", wcmd_wait},
    {"container", "inspect", wcmd_container_inspect},
    {"container", "restart", wcmd_restart},
    {"container", "rename", wcmd_rename},
    {"container", "pause", wcmd_pause},
    {"container", "unpause", wcmd_unpause},
    {"container", "top", wcmd_top},
    {"container", "stats", wcmd_stats},
    {"container", "export", wcmd_export},
    {"container", "diff", wcmd_diff},
    {"container", "prune", wcmd_container_prune},
    {"run", NULL, wcmd_run},
    {"create", NULL, wcmd_create},
    {"start", NULL, wcmd_start},
    {"logs", NULL, wcmd_logs},
    {"stop", NULL, wcmd_stop},
    {"kill", NULL, wcmd_kill},
    {"rm", NULL, wcmd_rm},
    {"wait", NULL, wcmd_wait},
    {"inspect", NULL, wcmd_inspect},
    {"restart", NULL, wcmd_restart},
    {"rename", NULL, wcmd_rename},
    {"pause", NULL, wcmd_pause},
    {"unpause", NULL, wcmd_unpause},
    {"top", NULL, wcmd_top},
    {"stats", NULL, wcmd_stats},
    {"export", NULL, wcmd_export},
    {"diff", NULL, wcmd_diff},
};

int main(int argc, char **argv)
{
    struct wcmd_ctx ctx = {0};
    int i = 1;
    /* Global options before the command, as docker takes them. */
    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i];
        if ((strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0) && i + 1 < argc) {
            ctx.host = argv[i + 1];
            i += 2;
        } else if (strncmp(a, "--host=", 7) == 0) {
            ctx.host = a + 7;
            i++;
        } else if (strncmp(a, "-H", 2) == 0 && a[2]) {
            ctx.host = a + 2;
            i++;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            printf("wharf version %s\n", WHARF_VERSION);
            return 0;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "unknown flag: %s\nSee 'wharf --help'.\n", a);
            return WCMD_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "daemon") == 0)
        return cmd_daemon(argc - i, argv + i);
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(commands[k].name, cmd) != 0)
            continue;
        if (commands[k].sub) {
            if (i + 1 >= argc || strcmp(commands[k].sub, argv[i + 1]) != 0)
                continue;
            _cleanup_free_ char *name = xasprintf("%s %s", cmd, commands[k].sub);
            ctx.name = name;
            return commands[k].fn(&ctx, argc - i - 1, argv + i + 1);
        }
        ctx.name = cmd;
        return commands[k].fn(&ctx, argc - i, argv + i);
    }
    fprintf(stderr, "wharf: unknown command '%s' (see 'wharf help')\n", cmd);
    return 1;
}
