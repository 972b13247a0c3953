/*
 * shim_main.c — wharf-shim's command line: argument parsing over the shim
 * library (src/shim/shim.h documents the behaviour and the state dir).
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "shim.h"

static void usage(FILE *f)
{
    fputs("Usage: wharf-shim --id ID --bundle DIR --state-dir DIR [OPTIONS]\n"
          "       wharf-shim attach STATE_DIR\n"
          "       wharf-shim ctl STATE_DIR COMMAND\n"
          "\n"
          "Creates a container through an OCI runtime and supervises it: relays its\n"
          "output to a CRI log file and attach clients, records its exit in\n"
          "STATE/exit.json. Prints the container's pid once it is created.\n"
          "\n"
          "Options:\n"
          "  --id ID                container id\n"
          "  --bundle DIR           OCI bundle\n"
          "  --state-dir DIR        the shim's files (created if missing)\n"
          "  --runtime PATH         OCI runtime (default: wharf-runtime next to\n"
          "                         wharf-shim, else in PATH)\n"
          "  --runtime-root DIR     the runtime's --root\n"
          "  --systemd-cgroup       pass --systemd-cgroup to the runtime\n"
          "  --log-path FILE        container log (default: STATE/container.log)\n"
          "  --log-max-size BYTES   rotate the log above this size (0 = never)\n"
          "  --log-max-files N      log files kept, the live one included (default 1)\n"
          "  --terminal             the container has a terminal (process.terminal)\n"
          "  --stdin                keep the container's stdin open for attach\n"
          "  --start                start the container after creating it\n"
          "  -h, --help             this help\n"
          "  -v, --version          version\n"
          "\n"
          "State dir: shim.pid, pid, runtime.log, shim.log, container.log,\n"
          "attach (SOCK_SEQPACKET: [stream id][payload]; an empty message closes\n"
          "stdin), ctl (\"resize ROWS COLS\", \"close-stdin\"), exit.json.\n"
          "\n"
          "attach STATE_DIR copies stdin to the container and its output to\n"
          "stdout/stderr until the container exits.\n"
          "ctl STATE_DIR COMMAND sends \"resize ROWS COLS\" or \"close-stdin\" and\n"
          "prints the reply; the exit status is 0 only when it is \"ok\".\n",
          f);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("wharf-shim: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see wharf-shim --help)\n", stderr);
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static int attach_main(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 3)
        return usage_error("attach takes exactly one argument: the state dir%s", "");
    wharf_error err = {0};
    if (shim_attach_client(argv[2], 0, 1, 2, true, &err) < 0) {
        fprintf(stderr, "wharf-shim: attach: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int ctl_main(int argc, char **argv)
{
    if (argc != 4)
        return usage_error("ctl takes two arguments: the state dir and a command%s", "");
    wharf_error err = {0};
    char reply[512];
    if (shim_ctl_client(argv[2], argv[3], reply, sizeof(reply), &err) < 0) {
        fprintf(stderr, "wharf-shim: ctl: %s\n", err.msg);
        return 1;
    }
    puts(reply);
    return strcmp(reply, "ok") == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "attach") == 0)
        return attach_main(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
        return ctl_main(argc, argv);

    enum {
        O_ID = 256,
        O_BUNDLE,
        O_STATE,
        O_RUNTIME,
        O_ROOT,
        O_SYSTEMD,
        O_LOG,
        O_LOG_SIZE,
        O_LOG_FILES,
        O_TERMINAL,
        O_STDIN,
        O_START
    };
    static const struct option opts[] = {
        {"id", required_argument, 0, O_ID},
        {"bundle", required_argument, 0, O_BUNDLE},
        {"state-dir", required_argument, 0, O_STATE},
        {"runtime", required_argument, 0, O_RUNTIME},
        {"runtime-root", required_argument, 0, O_ROOT},
        {"systemd-cgroup", no_argument, 0, O_SYSTEMD},
        {"log-path", required_argument, 0, O_LOG},
        {"log-max-size", required_argument, 0, O_LOG_SIZE},
        {"log-max-files", required_argument, 0, O_LOG_FILES},
        {"terminal", no_argument, 0, O_TERMINAL},
        {"stdin", no_argument, 0, O_STDIN},
        {"start", no_argument, 0, O_START},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'v'},
        {0, 0, 0, 0},
    };
    struct shim_config cfg;
    shim_config_init(&cfg);
    int rc = 0;
    uint64_t n;
    opterr = 0;
    int c;
    while (rc == 0 && (c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
        switch (c) {
        case O_ID:
            free(cfg.id);
            cfg.id = xstrdup(optarg);
            break;
        case O_BUNDLE:
            free(cfg.bundle);
            cfg.bundle = xstrdup(optarg);
            break;
        case O_STATE:
            free(cfg.state_dir);
            cfg.state_dir = xstrdup(optarg);
            break;
        case O_RUNTIME:
            free(cfg.runtime);
            cfg.runtime = xstrdup(optarg);
            break;
        case O_ROOT:
            free(cfg.runtime_root);
            cfg.runtime_root = xstrdup(optarg);
            break;
        case O_LOG:
            free(cfg.log_path);
            cfg.log_path = xstrdup(optarg);
            break;
        case O_SYSTEMD:
            cfg.systemd_cgroup = true;
            break;
        case O_TERMINAL:
            cfg.terminal = true;
            break;
        case O_STDIN:
            cfg.open_stdin = true;
            break;
        case O_START:
            cfg.start = true;
            break;
        case O_LOG_SIZE:
            if (!parse_u64(optarg, &cfg.log_max_size))
                rc = usage_error("--log-max-size %s: expected a number of bytes", optarg);
            break;
        case O_LOG_FILES:
            if (!parse_u64(optarg, &n) || n < 1 || n > 1000)
                rc = usage_error("--log-max-files %s: expected a number from 1 to 1000", optarg);
            else
                cfg.log_max_files = (unsigned)n;
            break;
        case 'h':
            usage(stdout);
            shim_config_release(&cfg);
            return 0;
        case 'v':
            printf("wharf-shim version %s\n", WHARF_VERSION);
            shim_config_release(&cfg);
            return 0;
        default:
            rc = usage_error("unknown option or missing argument: %s", argv[optind - 1]);
            break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = usage_error("unexpected argument '%s'", argv[optind]);
    wharf_error err = {0};
    if (rc == 0 && shim_config_finalize(&cfg, &err) < 0)
        rc = usage_error("%s", err.msg);
    pid_t pid = 0;
    if (rc == 0) {
        if (shim_launch(&cfg, &pid, &err) < 0) {
            fprintf(stderr, "wharf-shim: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%d\n", (int)pid);
        }
    }
    shim_config_release(&cfg);
    return rc;
}
