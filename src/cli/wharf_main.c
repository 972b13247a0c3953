/*
 * wharf — the main command line. `wharf daemon` runs the engine (the Docker
 * Engine API server, src/engine); the docker-compatible client commands
 * come next, over src/client.
 */
#include "base.h"
#include "engine.h"

#include <getopt.h>
#include <jansson.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "Usage: wharf <command>\n\n"
               "Commands:\n"
               "  daemon    run the engine: the Docker Engine API on a unix socket\n"
               "  version   print the version\n"
               "  help      this text\n\n"
               "wharf daemon [--root DIR] [-H unix:///PATH | tcp://HOST:PORT]... [--config-file F]\n"
               "  defaults: --root %s, -H unix://%s, --config-file %s\n\n"
               "The OCI runtime is wharf-runtime (runc's command line); the per-container\n"
               "supervisor is wharf-shim.\n",
            ENGINE_DEFAULT_ROOT, ENGINE_DEFAULT_SOCKET, ENGINE_DEFAULT_CONFIG);
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "daemon") == 0)
        return cmd_daemon(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("wharf version %s\n", WHARF_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "wharf: unknown command '%s' (see 'wharf help')\n", argv[1]);
    return 1;
}
