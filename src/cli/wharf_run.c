/* Container lifecycle commands: create, run, start, logs, stop, kill, rm,
 * wait, container inspect and the generic inspect (the attached part of run
 * and start -a is in wharf_attach.c). */
#include "image.h"
#include "wharf_cmds.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- create */

enum {
    OPT_NAME = 256,
    OPT_ENTRYPOINT,
    OPT_CPUS,
    OPT_PIDS,
    OPT_INIT,
    OPT_READONLY,
    OPT_CAPADD,
    OPT_CAPDROP,
    OPT_PRIV,
    OPT_STOPSIG,
    OPT_STOPTIMEOUT,
    OPT_RM,
    OPT_ENVFILE,
    OPT_DOMAINNAME,
    OPT_ULIMIT,
    OPT_SYSCTL,
    OPT_TMPFS,
    OPT_SHMSIZE,
    OPT_SECOPT,
    OPT_RESTART,
    OPT_GROUPADD,
    OPT_OOMADJ,
    OPT_CPUSETCPUS,
    OPT_CPUSETMEMS,
    OPT_DETACH_KEYS,
};

/* docker's --env-file: "K=V" lines (passed through untrimmed), a bare "K"
 * takes the caller's value if set, '#' lines and blank lines are skipped.
 * Returns 0 or the exit code of an error (already printed). */
static int read_env_file(struct wcmd_ctx *ctx, const char *path, json_t *out)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool first = true;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        char *p = line;
        if (first && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
            p += 3; /* a UTF-8 byte order mark */
        first = false;
        while (isspace((unsigned char)*p))
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        _cleanup_free_ char *name = eq ? xasprintf("%.*s", (int)(eq - p), p) : xstrdup(p);
        if (!*name)
            rc = wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                  "invalid env file (%s): no variable name on line '%s'", path, p);
        else if (strpbrk(name, " \t\n\v\f\r"))
            rc = wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                  "invalid env file (%s): variable '%s' contains whitespaces",
                                  path, name);
        else if (eq)
            json_array_append_new(out, json_string(p));
        else if (getenv(name))
            json_array_append_new(out, json_sprintf("%s=%s", name, getenv(name)));
    }
    free(line);
    return rc;
}

/* go-units ParseUlimit: "nofile=1024[:2048]". NULL with *why set when bad. */
static json_t *parse_ulimit(const char *arg, char **why)
{
    static const char *const names[] = {"core",  "cpu",    "data",   "fsize",      "locks",
                                        "memlock", "msgqueue", "nice", "nofile",   "nproc",
                                        "rss",   "rtprio", "rttime", "sigpending", "stack",
                                        NULL};
    const char *eq = strchr(arg, '=');
    if (!eq) {
        *why = xasprintf("invalid ulimit argument: %s", arg);
        return NULL;
    }
    _cleanup_free_ char *name = xasprintf("%.*s", (int)(eq - arg), arg);
    bool known = false;
    for (size_t i = 0; names[i] && !known; i++)
        known = strcmp(names[i], name) == 0;
    if (!known) {
        *why = xasprintf("invalid ulimit type: %s", name);
        return NULL;
    }
    const char *vals = eq + 1;
    const char *colon = strchr(vals, ':');
    if (colon && strchr(colon + 1, ':')) {
        *why = xasprintf("too many limit value arguments - %s, can only have up to two, "
                         "`soft[:hard]`",
                         vals);
        return NULL;
    }
    _cleanup_free_ char *soft_s = colon ? xasprintf("%.*s", (int)(colon - vals), vals)
                                        : xstrdup(vals);
    const char *texts[2] = {colon ? colon + 1 : NULL, soft_s};
    long long v[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (!texts[i])
            continue;
        char *end;
        errno = 0;
        v[i] = strtoll(texts[i], &end, 10);
        if (!*texts[i] || *end || errno) {
            *why = xasprintf("strconv.ParseInt: parsing \"%s\": %s", texts[i],
                             errno == ERANGE ? "value out of range" : "invalid syntax");
            return NULL;
        }
    }
    long long soft = v[1], hard = colon ? v[0] : soft;
    if (hard != -1 && soft > hard) {
        *why = xasprintf("ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
                         soft, hard);
        return NULL;
    }
    return json_pack("{s:s, s:I, s:I}", "Name", name, "Hard", (json_int_t)hard, "Soft",
                     (json_int_t)soft);
}

/* docker's ValidateSysctl: namespaced sysctls only. */
static bool sysctl_allowed(const char *arg)
{
    static const char *const exact[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                        "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                        "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
    const char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    size_t n = (size_t)(eq - arg);
    for (size_t i = 0; exact[i]; i++)
        if (strlen(exact[i]) == n && strncmp(exact[i], arg, n) == 0)
            return true;
    return strncmp(arg, "net.", 4) == 0 || strncmp(arg, "fs.mqueue.", 10) == 0;
}

/* docker's ParseRestartPolicy: "no", "always", "on-failure[:N]",
 * "unless-stopped" (names are checked by the daemon). */
json_t *wcmd_parse_restart(const char *arg, char **why)
{
    const char *colon = strchr(arg, ':');
    if (colon == arg) {
        *why = xstrdup("invalid restart policy format: no policy provided before colon");
        return NULL;
    }
    long long count = 0;
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        count = strtoll(colon + 1, &end, 10);
        if (*end || errno) {
            *why = xstrdup("invalid restart policy format: maximum retry count must be an "
                           "integer");
            return NULL;
        }
    }
    _cleanup_free_ char *name = colon ? xasprintf("%.*s", (int)(colon - arg), arg)
                                      : xstrdup(arg);
    return json_pack("{s:s, s:I}", "Name", name, "MaximumRetryCount", (json_int_t)count);
}

/* Parses run/create flags into a create body; *name, *detach and
 * *detach_keys filled. Returns 0, or the exit code of a usage error (already
 * printed). */
/* -a/--attach's streams, as bits. */
enum { ATTACH_STDIN = 1, ATTACH_STDOUT = 2, ATTACH_STDERR = 4 };

static int parse_create(struct wcmd_ctx *ctx, int argc, char **argv, bool is_run, json_t *body,
                        const char **name, bool *detach, const char **detach_keys,
                        unsigned *attach)
{
    static const struct option opts[] = {
        {"detach", no_argument, 0, 'd'},
        {"attach", required_argument, 0, 'a'},
        {"name", required_argument, 0, OPT_NAME},
        {"env", required_argument, 0, 'e'},
        {"workdir", required_argument, 0, 'w'},
        {"user", required_argument, 0, 'u'},
        {"entrypoint", required_argument, 0, OPT_ENTRYPOINT},
        {"label", required_argument, 0, 'l'},
        {"memory", required_argument, 0, 'm'},
        {"cpus", required_argument, 0, OPT_CPUS},
        {"pids-limit", required_argument, 0, OPT_PIDS},
        {"init", no_argument, 0, OPT_INIT},
        {"read-only", no_argument, 0, OPT_READONLY},
        {"cap-add", required_argument, 0, OPT_CAPADD},
        {"cap-drop", required_argument, 0, OPT_CAPDROP},
        {"privileged", no_argument, 0, OPT_PRIV},
        {"stop-signal", required_argument, 0, OPT_STOPSIG},
        {"stop-timeout", required_argument, 0, OPT_STOPTIMEOUT},
        {"rm", no_argument, 0, OPT_RM},
        {"env-file", required_argument, 0, OPT_ENVFILE},
        {"hostname", required_argument, 0, 'h'},
        {"domainname", required_argument, 0, OPT_DOMAINNAME},
        {"ulimit", required_argument, 0, OPT_ULIMIT},
        {"sysctl", required_argument, 0, OPT_SYSCTL},
        {"tmpfs", required_argument, 0, OPT_TMPFS},
        {"volume", required_argument, 0, 'v'},
        {"shm-size", required_argument, 0, OPT_SHMSIZE},
        {"security-opt", required_argument, 0, OPT_SECOPT},
        {"restart", required_argument, 0, OPT_RESTART},
        {"group-add", required_argument, 0, OPT_GROUPADD},
        {"oom-score-adj", required_argument, 0, OPT_OOMADJ},
        {"cpuset-cpus", required_argument, 0, OPT_CPUSETCPUS},
        {"cpuset-mems", required_argument, 0, OPT_CPUSETMEMS},
        /* networking (wharf_network.c) */
        {"publish", required_argument, 0, 'p'},
        {"publish-all", no_argument, 0, 'P'},
        {"network", required_argument, 0, WCMD_OPT_NETWORK},
        {"net", required_argument, 0, WCMD_OPT_NETWORK},
        {"network-alias", required_argument, 0, WCMD_OPT_NETWORK_ALIAS},
        {"net-alias", required_argument, 0, WCMD_OPT_NETWORK_ALIAS},
        {"ip", required_argument, 0, WCMD_OPT_IP},
        {"expose", required_argument, 0, WCMD_OPT_EXPOSE},
        {"dns", required_argument, 0, WCMD_OPT_DNS},
        {"dns-search", required_argument, 0, WCMD_OPT_DNS_SEARCH},
        {"dns-option", required_argument, 0, WCMD_OPT_DNS_OPTION},
        {"add-host", required_argument, 0, WCMD_OPT_ADD_HOST},
        /* limits and health checks (wharf_update.c) */
        {"memory-reservation", required_argument, 0, WCMD_OPT_MEMORY_RESERVATION},
        {"memory-swap", required_argument, 0, WCMD_OPT_MEMORY_SWAP},
        {"cpu-shares", required_argument, 0, 'c'},
        {"cpu-period", required_argument, 0, WCMD_OPT_CPU_PERIOD},
        {"cpu-quota", required_argument, 0, WCMD_OPT_CPU_QUOTA},
        {"blkio-weight", required_argument, 0, WCMD_OPT_BLKIO_WEIGHT},
        {"health-cmd", required_argument, 0, WCMD_OPT_HEALTH_CMD},
        {"health-interval", required_argument, 0, WCMD_OPT_HEALTH_INTERVAL},
        {"health-timeout", required_argument, 0, WCMD_OPT_HEALTH_TIMEOUT},
        {"health-start-period", required_argument, 0, WCMD_OPT_HEALTH_START_PERIOD},
        {"health-start-interval", required_argument, 0, WCMD_OPT_HEALTH_START_INTERVAL},
        {"health-retries", required_argument, 0, WCMD_OPT_HEALTH_RETRIES},
        {"no-healthcheck", no_argument, 0, WCMD_OPT_NO_HEALTHCHECK},
        /* volumes: -v is here, --mount is wharf_volume.c's */
        {"mount", required_argument, 0, WCMD_OPT_MOUNT},
        {"interactive", no_argument, 0, 'i'},
        {"tty", no_argument, 0, 't'},
        {"detach-keys", required_argument, 0, OPT_DETACH_KEYS},
        {0, 0, 0, 0},
    };
    json_t *host = json_object();
    json_object_set_new(body, "HostConfig", host);
    json_t *env = json_array(), *labels = json_object();
    json_object_set_new(body, "Env", env);
    json_object_set_new(body, "Labels", labels);
    json_t *capadd = NULL, *capdrop = NULL;
    /* env files come before -e in the result, whatever the flag order */
    _cleanup_json_ json_t *file_env = json_array();
    json_t *ulimits = NULL, *sysctls = NULL, *tmpfs = NULL, *binds = NULL, *volumes = NULL,
           *secopts = NULL, *groups = NULL;
    bool rm = false;
    *detach = false;
    *name = NULL;
    *detach_keys = NULL;
    int ch;
    char *end;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+a:de:w:u:l:m:h:v:p:Pitc:", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
        case 'P':
        case WCMD_OPT_NETWORK:
        case WCMD_OPT_NETWORK_ALIAS:
        case WCMD_OPT_IP:
        case WCMD_OPT_EXPOSE:
        case WCMD_OPT_DNS:
        case WCMD_OPT_DNS_SEARCH:
        case WCMD_OPT_DNS_OPTION:
        case WCMD_OPT_ADD_HOST: {
            int nr = wcmd_network_run_flag(ctx, ch, optarg, body);
            if (nr)
                return nr;
            break;
        }
        case 'c':
        case WCMD_OPT_MEMORY_RESERVATION:
        case WCMD_OPT_MEMORY_SWAP:
        case WCMD_OPT_CPU_PERIOD:
        case WCMD_OPT_CPU_QUOTA:
        case WCMD_OPT_BLKIO_WEIGHT:
        case WCMD_OPT_HEALTH_CMD:
        case WCMD_OPT_HEALTH_INTERVAL:
        case WCMD_OPT_HEALTH_TIMEOUT:
        case WCMD_OPT_HEALTH_START_PERIOD:
        case WCMD_OPT_HEALTH_START_INTERVAL:
        case WCMD_OPT_HEALTH_RETRIES:
        case WCMD_OPT_NO_HEALTHCHECK: {
            int lr = wcmd_limits_run_flag(ctx, ch, optarg, body);
            if (lr)
                return lr;
            break;
        }
        case WCMD_OPT_MOUNT: {
            int vr = wcmd_volume_run_flag(ctx, ch, optarg, body);
            if (vr)
                return vr;
            break;
        }
        case 'd':
            *detach = true;
            break;
        case OPT_NAME:
            *name = optarg;
            break;
        case 'e':
            if (!strchr(optarg, '=') && getenv(optarg)) {
                /* "-e VAR" passes the variable from the caller's environment. */
                json_array_append_new(env, json_sprintf("%s=%s", optarg, getenv(optarg)));
            } else {
                json_array_append_new(env, json_string(optarg));
            }
            break;
        case 'w':
            json_object_set_new(body, "WorkingDir", json_string(optarg));
            break;
        case 'u':
            json_object_set_new(body, "User", json_string(optarg));
            break;
        case OPT_ENTRYPOINT:
            json_object_set_new(body, "Entrypoint", json_pack("[s]", optarg));
            break;
        case 'l': {
            const char *eq = strchr(optarg, '=');
            _cleanup_free_ char *k =
                eq ? xasprintf("%.*s", (int)(eq - optarg), optarg) : xstrdup(optarg);
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
            break;
        }
        case 'm': {
            int64_t v = wharf_parse_ram(optarg);
            if (v < 0)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"-m, --memory\" flag: "
                                        "invalid size: '%s'",
                                        optarg, optarg);
            json_object_set_new(host, "Memory", json_integer(v));
            break;
        }
        case OPT_CPUS: {
            errno = 0;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || errno || v < 0 || !isfinite(v))
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--cpus\" flag: failed to "
                                        "parse %s as a rational number",
                                        optarg, optarg);
            json_object_set_new(host, "NanoCpus", json_integer((json_int_t)llround(v * 1e9)));
            break;
        }
        case OPT_PIDS: {
            errno = 0;
            long long v = strtoll(optarg, &end, 10);
            if (end == optarg || *end || errno)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--pids-limit\" flag",
                                        optarg);
            json_object_set_new(host, "PidsLimit", json_integer(v));
            break;
        }
        case OPT_INIT:
            json_object_set_new(host, "Init", json_true());
            break;
        case OPT_READONLY:
            json_object_set_new(host, "ReadonlyRootfs", json_true());
            break;
        case OPT_CAPADD:
            if (!capadd)
                json_object_set_new(host, "CapAdd", capadd = json_array());
            json_array_append_new(capadd, json_string(optarg));
            break;
        case OPT_CAPDROP:
            if (!capdrop)
                json_object_set_new(host, "CapDrop", capdrop = json_array());
            json_array_append_new(capdrop, json_string(optarg));
            break;
        case OPT_PRIV:
            json_object_set_new(host, "Privileged", json_true());
            break;
        case OPT_STOPSIG:
            json_object_set_new(body, "StopSignal", json_string(optarg));
            break;
        case OPT_STOPTIMEOUT: {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--stop-timeout\" flag",
                                        optarg);
            json_object_set_new(body, "StopTimeout", json_integer(v));
            break;
        }
        case OPT_RM:
            rm = true;
            break;
        case OPT_ENVFILE: {
            int r = read_env_file(ctx, optarg, file_env);
            if (r)
                return r;
            break;
        }
        case 'h':
            json_object_set_new(body, "Hostname", json_string(optarg));
            break;
        case OPT_DOMAINNAME:
            json_object_set_new(body, "Domainname", json_string(optarg));
            break;
        case OPT_ULIMIT: {
            _cleanup_free_ char *why = NULL;
            json_t *u = parse_ulimit(optarg, &why);
            if (!u)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--ulimit\" flag: %s",
                                        optarg, why);
            if (!ulimits)
                json_object_set_new(host, "Ulimits", ulimits = json_array());
            /* a later --ulimit of the same name replaces the earlier one */
            size_t i;
            json_t *old;
            json_array_foreach(ulimits, i, old)
            {
                if (json_equal(json_object_get(old, "Name"), json_object_get(u, "Name"))) {
                    json_array_remove(ulimits, i);
                    break;
                }
            }
            json_array_append_new(ulimits, u);
            break;
        }
        case OPT_SYSCTL: {
            if (!sysctl_allowed(optarg))
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--sysctl\" flag: sysctl "
                                        "'%s' is not allowed",
                                        optarg, optarg);
            const char *eq = strchr(optarg, '=');
            _cleanup_free_ char *k = xasprintf("%.*s", (int)(eq - optarg), optarg);
            if (!sysctls)
                json_object_set_new(host, "Sysctls", sysctls = json_object());
            json_object_set_new(sysctls, k, json_string(eq + 1));
            break;
        }
        case OPT_TMPFS: {
            const char *colon = strchr(optarg, ':');
            _cleanup_free_ char *dst =
                colon ? xasprintf("%.*s", (int)(colon - optarg), optarg) : xstrdup(optarg);
            if (!tmpfs)
                json_object_set_new(host, "Tmpfs", tmpfs = json_object());
            json_object_set_new(tmpfs, dst, json_string(colon ? colon + 1 : ""));
            break;
        }
        case 'v': {
            const char *colon = strchr(optarg, ':');
            if (!colon) {
                /* an anonymous volume: Config.Volumes, as docker sends it */
                if (!volumes)
                    json_object_set_new(body, "Volumes", volumes = json_object());
                json_object_set_new(volumes, optarg, json_object());
                break;
            }
            if (colon == optarg || colon[1] == ':' || colon[1] == '\0')
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid spec: %s: empty section between colons", optarg);
            if (!binds)
                json_object_set_new(host, "Binds", binds = json_array());
            if (optarg[0] == '.') {
                /* docker makes a relative host path absolute */
                char cwd[4096];
                if (!getcwd(cwd, sizeof(cwd)))
                    return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "getcwd: %s", strerror(errno));
                _cleanup_free_ char *host_path =
                    xasprintf("%s/%.*s", cwd, (int)(colon - optarg), optarg);
                json_array_append_new(binds, json_sprintf("%s%s", host_path, colon));
            } else {
                json_array_append_new(binds, json_string(optarg));
            }
            break;
        }
        case OPT_SHMSIZE: {
            int64_t v = wharf_parse_ram(optarg);
            if (v < 0)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--shm-size\" flag: "
                                        "invalid size: '%s'",
                                        optarg, optarg);
            json_object_set_new(host, "ShmSize", json_integer(v));
            break;
        }
        case OPT_SECOPT:
            if (!secopts)
                json_object_set_new(host, "SecurityOpt", secopts = json_array());
            json_array_append_new(secopts, json_string(optarg));
            break;
        case OPT_RESTART: {
            _cleanup_free_ char *why = NULL;
            json_t *rp = wcmd_parse_restart(optarg, &why);
            if (!rp)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "%s", why);
            json_object_set_new(host, "RestartPolicy", rp);
            break;
        }
        case OPT_GROUPADD:
            if (!groups)
                json_object_set_new(host, "GroupAdd", groups = json_array());
            json_array_append_new(groups, json_string(optarg));
            break;
        case OPT_OOMADJ: {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"--oom-score-adj\" flag: "
                                        "strconv.ParseInt: parsing \"%s\": invalid syntax",
                                        optarg, optarg);
            json_object_set_new(host, "OomScoreAdj", json_integer(v));
            break;
        }
        case OPT_CPUSETCPUS:
            json_object_set_new(host, "CpusetCpus", json_string(optarg));
            break;
        case OPT_CPUSETMEMS:
            json_object_set_new(host, "CpusetMems", json_string(optarg));
            break;
        case 'i':
            json_object_set_new(body, "OpenStdin", json_true());
            break;
        case 't':
            json_object_set_new(body, "Tty", json_true());
            break;
        case 'a':
            if (strcasecmp(optarg, "stdin") == 0)
                *attach |= ATTACH_STDIN;
            else if (strcasecmp(optarg, "stdout") == 0)
                *attach |= ATTACH_STDOUT;
            else if (strcasecmp(optarg, "stderr") == 0)
                *attach |= ATTACH_STDERR;
            else
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"-a, --attach\" flag: "
                                        "valid streams are STDIN, STDOUT and STDERR",
                                        optarg);
            break;
        case OPT_DETACH_KEYS:
            *detach_keys = optarg;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    wcmd_network_run_finish(body);
    int lr = wcmd_limits_run_finish(ctx, body);
    if (lr)
        return lr;
    if (!is_run && *detach)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown shorthand flag: 'd' in -d");
    if (json_array_size(file_env)) {
        json_array_extend(file_env, env);
        json_array_clear(env);
        json_array_extend(env, file_env);
    }
    const char *policy =
        json_string_value(json_object_get(json_object_get(host, "RestartPolicy"), "Name"));
    if (rm && policy && *policy && strcmp(policy, "no") != 0)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                "conflicting options: cannot specify both --restart and --rm");
    if (rm)
        json_object_set_new(host, "AutoRemove", json_true());
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 1 argument",
                                ctx->name);
    json_object_set_new(body, "Image", json_string(argv[optind]));
    if (optind + 1 < argc) {
        json_t *cmd = json_array();
        for (int i = optind + 1; i < argc; i++)
            json_array_append_new(cmd, json_string(argv[i]));
        json_object_set_new(body, "Cmd", cmd);
    }
    return 0;
}

/* POST /containers/create; prints warnings. Returns the new id (caller
 * frees) or NULL after printing the error; a missing image is not printed
 * but flagged in *no_image when no_image is not NULL. */
static char *create_container(struct client *c, json_t *body, const char *name, bool *no_image)
{
    _cleanup_free_ char *ename = name ? wcmd_escape(name) : NULL;
    _cleanup_free_ char *path =
        name ? xasprintf("/containers/create?name=%s", ename) : xstrdup("/containers/create");
    struct client_response resp = CLIENT_RESPONSE_INIT;
    char *id = NULL;
    if (wcmd_call(c, "POST", path, body, &resp, true) == 0) {
        if (resp.status == 404 && no_image &&
            strncmp(client_error_message(&resp), "No such image", 13) == 0) {
            *no_image = true;
        } else if (resp.status >= 400) {
            wcmd_daemon_error(&resp);
        } else {
            size_t i;
            json_t *w;
            json_array_foreach(json_object_get(resp.json, "Warnings"), i, w)
                fprintf(stderr, "WARNING: %s\n", json_string_value(w) ? json_string_value(w) : "");
            const char *s = json_string_value(json_object_get(resp.json, "Id"));
            if (s)
                id = xstrdup(s);
            else
                fprintf(stderr, "Error: the daemon's create response has no Id\n");
        }
    }
    client_response_release(&resp);
    return id;
}

/* Like docker: an image that is not here is pulled (progress on stderr),
 * then the create is tried again. */
static char *create_pulling(struct client *c, json_t *body, const char *name)
{
    bool no_image = false;
    char *id = create_container(c, body, name, &no_image);
    if (id || !no_image)
        return id;
    const char *image = json_string_value(json_object_get(body, "Image"));
    _cleanup_free_ char *shown = image_ref_familiarize(image);
    fprintf(stderr, "Unable to find image '%s' locally\n", shown);
    if (wcmd_pull_image(c, image, NULL, false, stderr) != 0)
        return NULL;
    return create_container(c, body, name, NULL);
}

static int create_or_run(struct wcmd_ctx *ctx, int argc, char **argv, bool is_run)
{
    _cleanup_json_ json_t *body = json_object();
    const char *name, *detach_keys;
    bool detach;
    unsigned attach = 0;
    int r = parse_create(ctx, argc, argv, is_run, body, &name, &detach, &detach_keys, &attach);
    if (r)
        return r;
    if (attach && detach) {
        fprintf(stderr, "conflicting options: cannot specify both --attach and --detach\n");
        return WCMD_EXIT_ERROR;
    }
    bool attached = is_run && !detach;
    bool in = json_is_true(json_object_get(body, "OpenStdin"));
    bool tty = json_is_true(json_object_get(body, "Tty"));
    json_object_set_new(body, "OpenStdin", json_boolean(in));
    json_object_set_new(body, "Tty", json_boolean(tty));
    /* docker's streams: those of -a (stdin with -i too), else all output */
    bool chosen = attach != 0;
    if (in)
        attach |= ATTACH_STDIN;
    if (!chosen)
        attach |= ATTACH_STDOUT | ATTACH_STDERR;
    if (attached && !wcmd_check_tty(in, tty))
        return WCMD_EXIT_ERROR;
    if (!is_run || attached) {
        /* docker create sets them too, for start -a */
        json_object_set_new(body, "AttachStdin", json_boolean(attach & ATTACH_STDIN));
        json_object_set_new(body, "StdinOnce", json_boolean(in && (attach & ATTACH_STDIN)));
        json_object_set_new(body, "AttachStdout", json_boolean(attach & ATTACH_STDOUT));
        json_object_set_new(body, "AttachStderr", json_boolean(attach & ATTACH_STDERR));
    }
    json_t *size = tty && is_run ? wcmd_console_size() : NULL; /* as docker run sends it */
    if (size)
        json_object_set_new(json_object_get(body, "HostConfig"), "ConsoleSize", size);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_free_ char *id = create_pulling(c, body, name);
    if (!id)
        goto out;
    if (attached) {
        struct wcmd_attach_opts o = {
            .is_run = true,
            .input = in,
            .no_stdout = !(attach & ATTACH_STDOUT),
            .no_stderr = !(attach & ATTACH_STDERR),
            .tty = tty,
            .auto_remove =
                json_is_true(json_object_get(json_object_get(body, "HostConfig"), "AutoRemove")),
            .sig_proxy = !tty,
            .detach_keys = detach_keys,
        };
        rc = wcmd_attach_and_start(c, id, &o);
        client_free(c);
        return rc;
    }
    if (is_run) {
        _cleanup_free_ char *path = xasprintf("/containers/%s/start", id);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        int sr = wcmd_call(c, "POST", path, NULL, &resp, false);
        if (sr < 0)
            rc = resp.status >= 400 ? wcmd_start_error_code(client_error_message(&resp))
                                    : WCMD_EXIT_USAGE;
        client_response_release(&resp);
        if (sr < 0)
            goto out;
    }
    printf("%s\n", id);
    rc = 0;
out:
    client_free(c);
    /* docker run exits 125 when the daemon refuses to create or start (126
     * and 127 when the command cannot be run or found). */
    return rc == WCMD_EXIT_ERROR && is_run ? WCMD_EXIT_USAGE : rc;
}

int wcmd_run(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return create_or_run(ctx, argc, argv, true);
}

int wcmd_create(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return create_or_run(ctx, argc, argv, false);
}

/* ------------------------------------------------- simple per-id actions */

/* For each id: method path_fmt (with the escaped id) and print the id on
 * success, as start/stop/kill/rm do. */
static int each_id(struct wcmd_ctx *ctx, int first, int argc, char **argv, const char *method,
                   const char *path_fmt, const char *query)
{
    if (first >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 1 argument",
                                ctx->name);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    for (int i = first; i < argc; i++) {
        _cleanup_free_ char *id = wcmd_escape(argv[i]);
        _cleanup_strbuf_ strbuf path = STRBUF_INIT;
        strbuf_addf(&path, path_fmt, id);
        strbuf_addstr(&path, query);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, method, path.buf, NULL, &resp, false) < 0)
            rc = WCMD_EXIT_ERROR;
        else
            printf("%s\n", argv[i]);
        client_response_release(&resp);
    }
    client_free(c);
    return rc;
}

/* start -a / -i: one container, attached like docker start -ai. */
static int start_attached(struct wcmd_ctx *ctx, const char *ref, bool interactive,
                          const char *detach_keys)
{
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_free_ char *eref = wcmd_escape(ref);
    _cleanup_free_ char *path = xasprintf("/containers/%s/json", eref);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    if (wcmd_call(c, "GET", path, NULL, &resp, false) == 0) {
        json_t *config = json_object_get(resp.json, "Config");
        const char *id = json_string_value(json_object_get(resp.json, "Id"));
        struct wcmd_attach_opts o = {
            .input = interactive && json_is_true(json_object_get(config, "OpenStdin")),
            .tty = json_is_true(json_object_get(config, "Tty")),
            .auto_remove = json_is_true(
                json_object_get(json_object_get(resp.json, "HostConfig"), "AutoRemove")),
            .detach_keys = detach_keys,
        };
        o.sig_proxy = !o.tty;
        if (wcmd_check_tty(o.input, o.tty))
            rc = wcmd_attach_and_start(c, id ? id : ref, &o);
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_start(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_DETACH_KEYS = 256 };
    static const struct option opts[] = {{"attach", no_argument, 0, 'a'},
                                         {"interactive", no_argument, 0, 'i'},
                                         {"detach-keys", required_argument, 0, OPT_DETACH_KEYS},
                                         {0, 0, 0, 0}};
    bool attach = false, interactive = false;
    const char *detach_keys = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "ai", opts, NULL)) != -1) {
        if (ch == 'a')
            attach = true;
        else if (ch == 'i')
            interactive = true;
        else if (ch == OPT_DETACH_KEYS)
            detach_keys = optarg;
        else
            return wcmd_bad_flag(ctx, argv);
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 1 argument",
                                ctx->name);
    if (attach || interactive) {
        if (argc - optind > 1) {
            fprintf(stderr, "you cannot start and attach multiple containers at once\n");
            return WCMD_EXIT_ERROR;
        }
        return start_attached(ctx, argv[optind], interactive, detach_keys);
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    /* Like docker: each failure is reported, then one summary line. */
    _cleanup_strbuf_ strbuf failed = STRBUF_INIT;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *id = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/containers/%s/start", id);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "POST", path, NULL, &resp, false) < 0)
            strbuf_addf(&failed, "%s%s", failed.len ? ", " : "", argv[i]);
        else
            printf("%s\n", argv[i]);
        client_response_release(&resp);
    }
    client_free(c);
    if (failed.len) {
        fprintf(stderr, "Error: failed to start containers: %s\n", failed.buf);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

int wcmd_stop(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"time", required_argument, 0, 't'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"signal", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    _cleanup_strbuf_ strbuf q = STRBUF_INIT;
    int ch;
    char *end;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "t:s:", opts, NULL)) != -1) {
        switch (ch) {
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"-t, --timeout\" flag",
                                        optarg);
            strbuf_addf(&q, "%st=%ld", q.len ? "&" : "?", v);
            break;
        }
        case 's': {
            _cleanup_free_ char *s = wcmd_escape(optarg);
            strbuf_addf(&q, "%ssignal=%s", q.len ? "&" : "?", s);
            break;
        }
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    return each_id(ctx, optind, argc, argv, "POST", "/containers/%s/stop", strbuf_str(&q));
}

int wcmd_kill(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"signal", required_argument, 0, 's'}, {0, 0, 0, 0}};
    _cleanup_free_ char *q = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        if (ch != 's')
            return wcmd_bad_flag(ctx, argv);
        _cleanup_free_ char *s = wcmd_escape(optarg);
        free(q);
        q = xasprintf("?signal=%s", s);
    }
    return each_id(ctx, optind, argc, argv, "POST", "/containers/%s/kill", q ? q : "");
}

int wcmd_rm(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, 0, 'f'},
                                         {"volumes", no_argument, 0, 'v'},
                                         {"link", no_argument, 0, 'l'},
                                         {0, 0, 0, 0}};
    bool force = false, volumes = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "fvl", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            force = true;
            break;
        case 'v':
            volumes = true;
            break;
        case 'l':
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    _cleanup_free_ char *q =
        xasprintf("%s%s%s", force || volumes ? "?" : "", force ? "force=1" : "",
                  volumes ? (force ? "&v=1" : "v=1") : "");
    return each_id(ctx, optind, argc, argv, "DELETE", "/containers/%s", q);
}

int wcmd_wait(struct wcmd_ctx *ctx, int argc, char **argv)
{
    wcmd_getopt_reset();
    static const struct option opts[] = {{0, 0, 0, 0}};
    if (getopt_long(argc, argv, "", opts, NULL) != -1)
        return wcmd_bad_flag(ctx, argv);
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf wait' requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *id = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/containers/%s/wait", id);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "POST", path, NULL, &resp, false) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else {
            json_t *err = json_object_get(json_object_get(resp.json, "Error"), "Message");
            if (json_string_value(err) && *json_string_value(err)) {
                fprintf(stderr, "Error response from daemon: %s\n", json_string_value(err));
                rc = WCMD_EXIT_ERROR;
            } else {
                printf("%lld\n",
                       (long long)json_integer_value(json_object_get(resp.json, "StatusCode")));
            }
        }
        client_response_release(&resp);
    }
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- logs */

static int on_frame(void *data, int stream, const char *buf, size_t len)
{
    (void)data;
    return wcmd_write_all(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, buf, len) < 0 ? -1 : 0;
}

struct logs_state {
    bool tty;
    struct client_demux demux;
};

static int on_logs(void *data, const char *buf, size_t len)
{
    struct logs_state *st = data;
    if (st->tty) /* a terminal's output is one raw stream */
        return wcmd_write_all(STDOUT_FILENO, buf, len) < 0 ? -1 : 0;
    return client_demux_feed(&st->demux, buf, len, on_frame, NULL);
}

int wcmd_logs(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"follow", no_argument, 0, 'f'},
                                         {"tail", required_argument, 0, 'n'},
                                         {"timestamps", no_argument, 0, 't'},
                                         {"since", required_argument, 0, 'S'},
                                         {"until", required_argument, 0, 'U'},
                                         {"details", no_argument, 0, 'D'},
                                         {0, 0, 0, 0}};
    bool follow = false, ts = false, details = false;
    const char *tail = "all", *since = NULL, *until = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "fn:t", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            follow = true;
            break;
        case 'n':
            tail = optarg;
            break;
        case 't':
            ts = true;
            break;
        case 'S':
            since = optarg;
            break;
        case 'U':
            until = optarg;
            break;
        case 'D':
            details = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf logs' requires exactly 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_free_ char *id = wcmd_escape(argv[optind]);
    _cleanup_free_ char *ipath = xasprintf("/containers/%s/json", id);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    struct logs_state st = {0};
    _cleanup_free_ char *etail = wcmd_escape(tail);
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    wharf_error err = {0};
    if (wcmd_call(c, "GET", ipath, NULL, &resp, false) < 0)
        goto out;
    st.tty = json_is_true(json_object_get(json_object_get(resp.json, "Config"), "Tty"));
    client_response_release(&resp);
    strbuf_addf(&path, "/containers/%s/logs?stdout=1&stderr=1&tail=%s", id, etail);
    if (follow)
        strbuf_addstr(&path, "&follow=1");
    if (ts)
        strbuf_addstr(&path, "&timestamps=1");
    if (details)
        strbuf_addstr(&path, "&details=1");
    if (since) {
        _cleanup_free_ char *e = wcmd_escape(since);
        strbuf_addf(&path, "&since=%s", e);
    }
    if (until) {
        _cleanup_free_ char *e = wcmd_escape(until);
        strbuf_addf(&path, "&until=%s", e);
    }
    if (client_stream(c, "GET", path.buf, NULL, on_logs, &st, &resp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    if (resp.status >= 400) {
        wcmd_daemon_error(&resp);
        goto out;
    }
    rc = 0;
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- inspect */

enum inspect_kind { INSPECT_ANY, INSPECT_CONTAINER, INSPECT_IMAGE };

static int inspect_common(struct wcmd_ctx *ctx, int argc, char **argv, enum inspect_kind kind)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"size", no_argument, 0, 's'},
                                         {"type", required_argument, 0, 'T'},
                                         {0, 0, 0, 0}};
    const char *fmt = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "f:s", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            fmt = optarg;
            break;
        case 's':
            break;
        case 'T':
            if (kind == INSPECT_ANY && strcmp(optarg, "container") == 0)
                kind = INSPECT_CONTAINER;
            else if (kind == INSPECT_ANY && strcmp(optarg, "image") == 0)
                kind = INSPECT_IMAGE;
            else if (kind == INSPECT_ANY) {
                fprintf(stderr, "\"%s\" is not a valid value for --type\n", optarg);
                return WCMD_EXIT_ERROR;
            } else {
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown flag: --type");
            }
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                kind == INSPECT_IMAGE ? "\"%s\" requires at least 1 argument"
                                                      : "'wharf %s' requires at least 1 argument",
                                ctx->name);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct wcmd_inspect objects;
    wcmd_inspect_init(&objects, (size_t)(argc - optind));
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *name = wcmd_escape(argv[i]);
        static const char *const fmts[] = {"/containers/%s/json", "/images/%s/json"};
        bool found = false, failed = false;
        for (int k = 0; k < 2 && !found && !failed; k++) {
            if ((kind == INSPECT_CONTAINER && k == 1) || (kind == INSPECT_IMAGE && k == 0))
                continue;
            _cleanup_strbuf_ strbuf path = STRBUF_INIT;
            strbuf_addf(&path, fmts[k], name);
            struct client_response resp = CLIENT_RESPONSE_INIT;
            if (wcmd_call(c, "GET", path.buf, NULL, &resp, true) < 0) {
                failed = true;
            } else if (resp.status == 404 && kind == INSPECT_ANY) {
                /* try the next kind */
            } else if (resp.status >= 400) {
                wcmd_daemon_error(&resp);
                failed = true;
            } else if (resp.json) {
                wcmd_inspect_add(&objects, &resp);
                found = true;
            }
            client_response_release(&resp);
        }
        if (!found && !failed && kind == INSPECT_ANY)
            strbuf_addf(&objects.errors, "Error: No such object: %s\n", argv[i]);
        if (!found)
            rc = WCMD_EXIT_ERROR;
    }
    int prc = wcmd_inspect_finish(&objects, fmt);
    client_free(c);
    return rc ? rc : prc;
}

int wcmd_container_inspect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return inspect_common(ctx, argc, argv, INSPECT_CONTAINER);
}

int wcmd_inspect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return inspect_common(ctx, argc, argv, INSPECT_ANY);
}

int wcmd_image_inspect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return inspect_common(ctx, argc, argv, INSPECT_IMAGE);
}
