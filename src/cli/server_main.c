/*
 * wharf-server — the cluster control plane's API server (src/apiserver).
 * `wharf server ARGS` executes this program with the same ARGS.
 *
 * A program of its own, like wharfd: it links OpenSSL's libcrypto (PKI,
 * encryption at rest) and the store's SQLite/libcurl, none of which the
 * engine daemon needs.
 */
#include "apiserver.h"
#include "base.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: wharf server [OPTIONS]\n\n"
            "Runs the Kubernetes API server of a wharf cluster: Kubernetes REST over HTTPS,\n"
            "objects in an embedded SQLite database (or etcd), kubectl-compatible.\n\n"
            "Options:\n"
            "  --data-dir DIR              state: certificates, keys, database (default %s)\n"
            "  --bind-address ADDR         address to listen on (default %s)\n"
            "  --https-listen-port PORT    HTTPS port (default %d; 0 picks a free one)\n"
            "  --datastore-endpoint EP     sqlite:///PATH, or http://HOST:PORT[,...] for etcd\n"
            "                              (default: sqlite in DATA_DIR/db/state.db)\n"
            "  --token TOKEN               a bearer token for user \"admin\" (system:masters)\n"
            "  --token-file FILE           static tokens: token,user,uid,\"group1,group2\"\n"
            "  --write-kubeconfig PATH     also write the admin kubeconfig here (it is\n"
            "                              always written to DATA_DIR/admin.kubeconfig)\n"
            "  --disable-agent             run no local node: accepted, and currently the only\n"
            "                              mode (there is no node agent yet, so pods are stored\n"
            "                              and scheduled by nobody)\n"
            "  --compaction-interval SECS  forget store history older than this (default %d;\n"
            "                              0: never); older resourceVersions get 410 Gone\n"
            "  --debug                     debug logging\n"
            "  -h, --help                  this text\n\n"
            "First start makes a cluster CA, a serving certificate and an admin client\n"
            "certificate; kubectl --kubeconfig DATA_DIR/admin.kubeconfig talks to it.\n",
            APISERVER_DEFAULT_DATA_DIR, APISERVER_DEFAULT_BIND, APISERVER_DEFAULT_PORT,
            APISERVER_DEFAULT_COMPACTION_S);
}

int main(int argc, char **argv)
{
    enum {
        O_DATA = 256,
        O_BIND,
        O_PORT,
        O_STORE,
        O_TOKEN,
        O_TOKEN_FILE,
        O_KUBECONFIG,
        O_NO_AGENT,
        O_DEBUG,
        O_COMPACTION
    };
    static const struct option opts[] = {
        {"data-dir", required_argument, 0, O_DATA},
        {"bind-address", required_argument, 0, O_BIND},
        {"https-listen-port", required_argument, 0, O_PORT},
        {"datastore-endpoint", required_argument, 0, O_STORE},
        {"token", required_argument, 0, O_TOKEN},
        {"token-file", required_argument, 0, O_TOKEN_FILE},
        {"write-kubeconfig", required_argument, 0, O_KUBECONFIG},
        {"disable-agent", no_argument, 0, O_NO_AGENT},
        {"debug", no_argument, 0, O_DEBUG},
        {"compaction-interval", required_argument, 0, O_COMPACTION},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    mallopt(M_ARENA_MAX, 2);
    struct apiserver_config cfg = {.port = APISERVER_DEFAULT_PORT};
    bool debug = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_DATA:
            cfg.data_dir = optarg;
            break;
        case O_BIND:
            cfg.bind_address = optarg;
            break;
        case O_PORT: {
            char *end;
            errno = 0;
            long p = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || p < 0 || p > 65535) {
                fprintf(stderr, "wharf server: --https-listen-port %s: not a port number\n",
                        optarg);
                return 2;
            }
            cfg.port = (int)p;
            break;
        }
        case O_STORE:
            cfg.datastore_endpoint = optarg;
            break;
        case O_TOKEN:
            cfg.token = optarg;
            break;
        case O_TOKEN_FILE:
            cfg.token_file = optarg;
            break;
        case O_KUBECONFIG:
            cfg.write_kubeconfig = optarg;
            break;
        case O_NO_AGENT:
            break;
        case O_COMPACTION: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v < 0 || v > 86400 * 365) {
                fprintf(stderr, "wharf server: --compaction-interval %s: not a number of seconds\n",
                        optarg);
                return 2;
            }
            cfg.compaction_interval_s = v == 0 ? -1 : (int)v;
            break;
        }
        case O_DEBUG:
            debug = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wharf server: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    wharf_log_set_fd(-1, WHARF_LOG_TEXT, debug);
    /* Signals are taken synchronously here; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    wharf_error err = {0};
    struct apiserver *as = apiserver_new(&cfg, &err);
    if (!as || apiserver_start(as, &err) < 0) {
        fprintf(stderr, "wharf server: %s\n", err.msg);
        apiserver_free(as);
        return 1;
    }
    fprintf(stderr, "wharf server: serving on https://%s:%d, kubeconfig %s\n",
            cfg.bind_address ? cfg.bind_address : APISERVER_DEFAULT_BIND, apiserver_port(as),
            apiserver_kubeconfig_path(as));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "wharf server: %s, shutting down\n", strsignal(sig));
    apiserver_free(as);
    return 0;
}
