/*
 * wharf — the main command line. `wharf daemon` executes wharfd, the engine
 * (the Docker Engine API server, src/engine), and `wharf server` executes
 * wharf-server, the cluster's Kubernetes API server (src/apiserver), both
 * installed beside this program;
 * every other command is a docker-compatible client command (wharf_cmds.h)
 * talking to a daemon over src/client.
 */
#include "base.h"
#include "engine.h"
#include "wharf_cmds.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: wharf <command>\n\n"
            "Commands:\n"
            "  daemon    run the engine: the Docker Engine API on a unix socket\n"
            "  server    run the cluster control plane: the Kubernetes API server\n"
            "  version   client and daemon versions\n"
            "  info      a summary of the daemon\n"
            "  images, image inspect, load, save, tag, rmi, history, import, image prune\n"
            "  build, pull, push, login, logout\n"
            "  ps, create, run, start, attach, exec, logs, stop, kill, rm, wait, inspect\n"
            "  restart, rename, pause, unpause, top, stats, export, diff, commit, container prune\n"
            "  update, cp\n"
            "  system df, system prune\n"
            "  network create/ls/inspect/rm/connect/disconnect/prune, port\n"
            "  volume create/ls/inspect/rm/prune\n"
            "  compose config/up -d/down/ps/start/stop/restart\n"
            "  help      this text\n\n"
            "Client commands take docker's flags; the daemon is -H/--host, else\n"
            "WHARF_HOST, else DOCKER_HOST, else the local one where its daemon.json\n"
            "(" ENGINE_CONFIG_ENV " or %s) puts it, by default %s;\n"
            "a local daemon that is not running is started in the background.\n\n"
            "wharf daemon [--root DIR] [-H unix:///PATH | tcp://HOST:PORT | fd://]...\n"
            "             [--config-file F]    runs wharfd (`wharfd --help`)\n"
            "wharf server [--data-dir DIR] [--https-listen-port N] ...\n"
            "                                  runs wharf-server (`wharf server --help`)\n\n"
            "The OCI runtime is wharf-runtime (runc's command line); the per-container\n"
            "supervisor is wharf-shim.\n",
            ENGINE_DEFAULT_CONFIG, CLIENT_DEFAULT_HOST);
}

/* The daemon and the API server are programs of their own so that the
 * resident process maps only what it serves with (see daemon_main.c,
 * server_main.c): run the one beside this binary, else the one on PATH,
 * with the same arguments. */
static int exec_beside(const char *cmd, const char *program, char **argv)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    argv[0] = (char *)program;
    if (slash) {
        _cleanup_free_ char *path = xasprintf("%.*s/%s", (int)(slash - self), self, program);
        if (access(path, X_OK) == 0) {
            execv(path, argv);
            fprintf(stderr, "wharf %s: cannot execute %s: %s\n", cmd, path, strerror(errno));
            return 1;
        }
    }
    execvp(program, argv);
    fprintf(stderr, "wharf %s: cannot execute %s: %s\n", cmd, program, strerror(errno));
    return 1;
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
    {"image", "import", wcmd_import},
    {"image", "prune", wcmd_image_prune},
    {"import", NULL, wcmd_import},
    {"system", "df", wcmd_system_df},
    {"system", "prune", wcmd_system_prune},
    {"image", "build", wcmd_build},
    {"load", NULL, wcmd_load},
    {"save", NULL, wcmd_save},
    {"tag", NULL, wcmd_tag},
    {"rmi", NULL, wcmd_rmi},
    {"history", NULL, wcmd_history},
    {"pull", NULL, wcmd_pull},
    {"push", NULL, wcmd_push},
    {"image", "pull", wcmd_pull},
    {"image", "push", wcmd_push},
    {"login", NULL, wcmd_login},
    {"logout", NULL, wcmd_logout},
    {"build", NULL, wcmd_build},
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
    {"container", "commit", wcmd_commit},
    {"container", "prune", wcmd_container_prune},
    {"container", "update", wcmd_update},
    {"container", "cp", wcmd_cp},
    {"update", NULL, wcmd_update},
    {"cp", NULL, wcmd_cp},
    {"volume", "create", wcmd_volume_create},
    {"volume", "ls", wcmd_volume_ls},
    {"volume", "list", wcmd_volume_ls},
    {"volume", "inspect", wcmd_volume_inspect},
    {"volume", "rm", wcmd_volume_rm},
    {"volume", "remove", wcmd_volume_rm},
    {"volume", "prune", wcmd_volume_prune},
    {"network", "create", wcmd_network_create},
    {"network", "ls", wcmd_network_ls},
    {"network", "list", wcmd_network_ls},
    {"network", "inspect", wcmd_network_inspect},
    {"network", "rm", wcmd_network_rm},
    {"network", "remove", wcmd_network_rm},
    {"network", "connect", wcmd_network_connect},
    {"network", "disconnect", wcmd_network_disconnect},
    {"network", "prune", wcmd_network_prune},
    {"container", "port", wcmd_port},
    {"port", NULL, wcmd_port},
    {"container", "attach", wcmd_attach},
    {"container", "exec", wcmd_exec},
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
    {"commit", NULL, wcmd_commit},
    {"compose", NULL, wcmd_compose},
    {"attach", NULL, wcmd_attach},
    {"exec", NULL, wcmd_exec},
};

int main(int argc, char **argv)
{
    struct wcmd_ctx ctx = {0};
    /* `wharf-compose ARGS` (a link to wharf) is `wharf compose ARGS`, as
     * docker-compose is to docker compose; the daemon is DOCKER_HOST's or
     * WHARF_HOST's then */
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (strcmp(base, "wharf-compose") == 0) {
        ctx.name = "compose";
        return wcmd_compose(&ctx, argc, argv);
    }
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
        return exec_beside("daemon", "wharfd", argv + i);
    if (strcmp(cmd, "server") == 0)
        return exec_beside("server", "wharf-server", argv + i);
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
