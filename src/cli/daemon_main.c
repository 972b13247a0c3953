/*
 * wharfd — the engine daemon (src/engine): the Docker Engine API server.
 * `wharf daemon ARGS` executes this program with the same ARGS.
 *
 * Why a program of its own: the daemon stays resident, so it links only
 * what it serves with (libmicrohttpd, libarchive, jansson, nettle) and none
 * of the client's libcurl stack (libssl, libcrypto, krb5, ldap, ssh2, ...),
 * which would cost it some 3 MiB of resident set just by being mapped.
 */
#include "base.h"
#include "engine.h"

#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: wharfd [--root DIR] [-H unix:///PATH | tcp://HOST:PORT | fd://[N]]...\n"
            "              [--config-file FILE] [--debug] [-b|--bridge NAME|none] [--bip CIDR]\n"
            "              [--insecure-registry HOST[:PORT]|CIDR]... [--registry-mirror URL]...\n\n"
            "Serves the Docker Engine API (also run as `wharf daemon`).\n"
            "  defaults: --root %s, -H unix://%s, --config-file %s\n"
            "  fd://     the listening sockets passed by systemd (LISTEN_FDS); fd://N just\n"
            "            the one numbered N\n"
            "  --bridge  the default network's bridge (wharf0); none: no default network\n"
            "  --bip     the default bridge's address and prefix, e.g. 172.31.0.1/16\n",
            ENGINE_DEFAULT_ROOT, ENGINE_DEFAULT_SOCKET, ENGINE_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, 0, 'r'},
        {"data-root", required_argument, 0, 'r'},
        {"host", required_argument, 0, 'H'},
        {"config-file", required_argument, 0, 'c'},
        {"debug", no_argument, 0, 'D'},
        {"bridge", required_argument, 0, 'b'},
        {"bip", required_argument, 0, 'B'},
        {"help", no_argument, 0, 'h'},
        {"insecure-registry", required_argument, 0, 'i'},
        {"registry-mirror", required_argument, 0, 'm'},
        {0, 0, 0, 0},
    };
    /* A connection is a thread, and glibc gives threads arenas of their own
     * (up to 8 per core) that keep their freed pages: two arenas hold the
     * daemon's heap some 300 KiB lower after a `load` and a few runs, and
     * the daemon is not malloc-bound enough for the lock to matter. */
    mallopt(M_ARENA_MAX, 2);
    struct engine_config cfg = {0};
    int ch;
    while ((ch = getopt_long(argc, argv, "H:Dhb:", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            cfg.root = optarg;
            break;
        case 'H':
            if (cfg.n_hosts == ENGINE_MAX_HOSTS) {
                fprintf(stderr, "wharf daemon: at most %d -H options\n", ENGINE_MAX_HOSTS);
                return 2;
            }
            cfg.hosts[cfg.n_hosts++] = optarg;
            break;
        case 'c':
            cfg.config_file = optarg;
            break;
        case 'D':
            cfg.debug = true;
            break;
        case 'b':
            cfg.bridge = optarg;
            break;
        case 'B':
            cfg.bip = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'i':
        case 'm': {
            const char **list = ch == 'i' ? cfg.insecure_registries : cfg.registry_mirrors;
            size_t *n = ch == 'i' ? &cfg.n_insecure_registries : &cfg.n_registry_mirrors;
            if (*n == ENGINE_MAX_REGISTRIES) {
                fprintf(stderr, "wharf daemon: at most %d --%s options\n", ENGINE_MAX_REGISTRIES,
                        ch == 'i' ? "insecure-registry" : "registry-mirror");
                return 2;
            }
            list[(*n)++] = optarg;
            break;
        }
        default:
            usage(stderr);
            return 2;
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
