/* Resource limits and health checks on the command line: `wharf update`,
 * and run/create's --memory-reservation, --memory-swap, -c/--cpu-shares,
 * --cpu-period, --cpu-quota, --blkio-weight and --health-* /
 * --no-healthcheck (parsed here for wharf_run.c), with the docker CLI's
 * parsing and messages. */
#include "wharf_cmds.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- values */

static int bad_value(struct wcmd_ctx *ctx, const char *arg, const char *flag, const char *why)
{
    return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "invalid argument \"%s\" for \"%s\" flag: %s",
                            arg, flag, why);
}

/* pflag's int64: strconv.ParseInt's words. */
static int parse_int(struct wcmd_ctx *ctx, const char *arg, const char *flag, long long *out)
{
    char *end;
    errno = 0;
    *out = strtoll(arg, &end, 0);
    if (!*arg || *end || errno) {
        _cleanup_free_ char *why =
            xasprintf("strconv.ParseInt: parsing \"%s\": %s", arg,
                      errno == ERANGE ? "value out of range" : "invalid syntax");
        return bad_value(ctx, arg, flag, why);
    }
    return 0;
}

/* go-units RAMInBytes, and -1 (unlimited) where the flag takes it. */
static int parse_size(struct wcmd_ctx *ctx, const char *arg, const char *flag, bool minus_one,
                      long long *out)
{
    if (minus_one && strcmp(arg, "-1") == 0) {
        *out = -1;
        return 0;
    }
    int64_t v = wharf_parse_ram(arg);
    if (v < 0) {
        _cleanup_free_ char *why = xasprintf("invalid size: '%s'", arg);
        return bad_value(ctx, arg, flag, why);
    }
    *out = v;
    return 0;
}

static int parse_duration(struct wcmd_ctx *ctx, const char *arg, const char *flag, long long *out)
{
    int64_t ns;
    if (wharf_parse_go_duration(arg, &ns) < 0) {
        _cleanup_free_ char *why = xasprintf("time: invalid duration \"%s\"", arg);
        return bad_value(ctx, arg, flag, why);
    }
    *out = ns;
    return 0;
}

/* docker's NanoCPUs: a rational number of CPUs. */
static int parse_cpus(struct wcmd_ctx *ctx, const char *arg, long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end || errno || v < 0 || !isfinite(v)) {
        _cleanup_free_ char *why = xasprintf("failed to parse %s as a rational number", arg);
        return bad_value(ctx, arg, "--cpus", why);
    }
    *out = llround(v * 1e9);
    return 0;
}

/* ---------------------------------------------------------------- run, create */

int wcmd_limits_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body)
{
    json_t *host = json_object_get(body, "HostConfig");
    json_t *hc = json_object_get(body, "Healthcheck");
    if (!hc && opt >= WCMD_OPT_HEALTH_CMD) {
        hc = json_object();
        json_object_set_new(body, "Healthcheck", hc);
    }
    long long v = 0;
    int r = 0;
    switch (opt) {
    case WCMD_OPT_MEMORY_RESERVATION:
        if (!(r = parse_size(ctx, arg, "--memory-reservation", false, &v)))
            json_object_set_new(host, "MemoryReservation", json_integer(v));
        break;
    case WCMD_OPT_MEMORY_SWAP:
        if (!(r = parse_size(ctx, arg, "--memory-swap", true, &v)))
            json_object_set_new(host, "MemorySwap", json_integer(v));
        break;
    case 'c':
        if (!(r = parse_int(ctx, arg, "-c, --cpu-shares", &v)))
            json_object_set_new(host, "CpuShares", json_integer(v));
        break;
    case WCMD_OPT_CPU_PERIOD:
        if (!(r = parse_int(ctx, arg, "--cpu-period", &v)))
            json_object_set_new(host, "CpuPeriod", json_integer(v));
        break;
    case WCMD_OPT_CPU_QUOTA:
        if (!(r = parse_int(ctx, arg, "--cpu-quota", &v)))
            json_object_set_new(host, "CpuQuota", json_integer(v));
        break;
    case WCMD_OPT_BLKIO_WEIGHT: {
        char *end;
        errno = 0;
        unsigned long w = strtoul(arg, &end, 0);
        if (!*arg || *end || errno || arg[0] == '-' || w > 65535) {
            _cleanup_free_ char *why =
                xasprintf("strconv.ParseUint: parsing \"%s\": %s", arg,
                          errno == ERANGE || w > 65535 ? "value out of range" : "invalid syntax");
            return bad_value(ctx, arg, "--blkio-weight", why);
        }
        json_object_set_new(host, "BlkioWeight", json_integer((json_int_t)w));
        break;
    }
    case WCMD_OPT_HEALTH_CMD:
        /* "" is no command: the image's stays (and counts as no --health-*) */
        if (*arg)
            json_object_set_new(hc, "Test", json_pack("[s, s]", "CMD-SHELL", arg));
        else
            json_object_del(hc, "Test");
        break;
    case WCMD_OPT_HEALTH_INTERVAL:
    case WCMD_OPT_HEALTH_TIMEOUT:
    case WCMD_OPT_HEALTH_START_PERIOD:
    case WCMD_OPT_HEALTH_START_INTERVAL: {
        static const char *const flags[] = {"--health-interval", "--health-timeout",
                                            "--health-start-period", "--health-start-interval"};
        static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};
        int i = opt - WCMD_OPT_HEALTH_INTERVAL;
        if (!(r = parse_duration(ctx, arg, flags[i], &v)))
            json_object_set_new(hc, keys[i], json_integer(v));
        break;
    }
    case WCMD_OPT_HEALTH_RETRIES:
        if (!(r = parse_int(ctx, arg, "--health-retries", &v)))
            json_object_set_new(hc, "Retries", json_integer(v));
        break;
    case WCMD_OPT_NO_HEALTHCHECK:
        json_object_set_new(hc, "_none", json_true());
        break;
    default:
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown flag");
    }
    return r;
}

int wcmd_limits_run_finish(struct wcmd_ctx *ctx, json_t *body)
{
    json_t *hc = json_object_get(body, "Healthcheck");
    if (!hc)
        return 0;
    bool none = json_is_true(json_object_get(hc, "_none"));
    json_object_del(hc, "_none");
    bool any = json_object_get(hc, "Test") != NULL;
    static const struct {
        const char *key, *flag;
    } checks[] = {{"Interval", "--health-interval"},
                  {"Timeout", "--health-timeout"},
                  {"Retries", "--health-retries"},
                  {"StartPeriod", "--health-start-period"},
                  {"StartInterval", "--health-start-interval"}};
    /* the docker CLI counts a flag only when it is not zero */
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        any = any || json_integer_value(json_object_get(hc, checks[i].key)) != 0;
    if (none) {
        if (any)
            return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                    "--no-healthcheck conflicts with --health-* options");
        json_object_set_new(body, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
        return 0;
    }
    if (!any) {
        json_object_del(body, "Healthcheck");
        return 0;
    }
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        if (json_integer_value(json_object_get(hc, checks[i].key)) < 0)
            return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "%s cannot be negative", checks[i].flag);
    return 0;
}

/* ---------------------------------------------------------------- update */

int wcmd_update(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum {
        OPT_BLKIO = 256,
        OPT_PERIOD,
        OPT_QUOTA,
        OPT_CPUS,
        OPT_CPUSET_CPUS,
        OPT_CPUSET_MEMS,
        OPT_RESERVATION,
        OPT_SWAP,
        OPT_PIDS,
        OPT_RESTART,
        OPT_HELP,
    };
    static const struct option opts[] = {
        {"blkio-weight", required_argument, 0, OPT_BLKIO},
        {"cpu-period", required_argument, 0, OPT_PERIOD},
        {"cpu-quota", required_argument, 0, OPT_QUOTA},
        {"cpu-shares", required_argument, 0, 'c'},
        {"cpus", required_argument, 0, OPT_CPUS},
        {"cpuset-cpus", required_argument, 0, OPT_CPUSET_CPUS},
        {"cpuset-mems", required_argument, 0, OPT_CPUSET_MEMS},
        {"memory", required_argument, 0, 'm'},
        {"memory-reservation", required_argument, 0, OPT_RESERVATION},
        {"memory-swap", required_argument, 0, OPT_SWAP},
        {"pids-limit", required_argument, 0, OPT_PIDS},
        {"restart", required_argument, 0, OPT_RESTART},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    _cleanup_json_ json_t *body = json_object();
    int flags = 0, ch, r = 0;
    long long v;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "+c:m:", opts, NULL)) != -1) {
        flags++;
        switch (ch) {
        case OPT_BLKIO: {
            json_t *tmp = json_pack("{s:{}}", "HostConfig");
            r = wcmd_limits_run_flag(ctx, WCMD_OPT_BLKIO_WEIGHT, optarg, tmp);
            if (!r)
                json_object_set(body, "BlkioWeight",
                                json_object_get(json_object_get(tmp, "HostConfig"), "BlkioWeight"));
            json_decref(tmp);
            break;
        }
        case OPT_PERIOD:
        case OPT_QUOTA:
        case 'c': {
            static const char *const names[][2] = {{"--cpu-period", "CpuPeriod"},
                                                   {"--cpu-quota", "CpuQuota"},
                                                   {"-c, --cpu-shares", "CpuShares"}};
            int i = ch == 'c' ? 2 : ch - OPT_PERIOD;
            if (!(r = parse_int(ctx, optarg, names[i][0], &v)))
                json_object_set_new(body, names[i][1], json_integer(v));
            break;
        }
        case OPT_CPUS:
            if (!(r = parse_cpus(ctx, optarg, &v)))
                json_object_set_new(body, "NanoCpus", json_integer(v));
            break;
        case OPT_CPUSET_CPUS:
            json_object_set_new(body, "CpusetCpus", json_string(optarg));
            break;
        case OPT_CPUSET_MEMS:
            json_object_set_new(body, "CpusetMems", json_string(optarg));
            break;
        case 'm':
            if (!(r = parse_size(ctx, optarg, "-m, --memory", false, &v)))
                json_object_set_new(body, "Memory", json_integer(v));
            break;
        case OPT_RESERVATION:
            if (!(r = parse_size(ctx, optarg, "--memory-reservation", false, &v)))
                json_object_set_new(body, "MemoryReservation", json_integer(v));
            break;
        case OPT_SWAP:
            if (!(r = parse_size(ctx, optarg, "--memory-swap", true, &v)))
                json_object_set_new(body, "MemorySwap", json_integer(v));
            break;
        case OPT_PIDS:
            /* 0 leaves the limit as it is, -1 lifts it, as the docker CLI sends them */
            if (!(r = parse_int(ctx, optarg, "--pids-limit", &v)) && v != 0)
                json_object_set_new(body, "PidsLimit", json_integer(v));
            break;
        case OPT_RESTART: {
            _cleanup_free_ char *why = NULL;
            json_t *rp = wcmd_parse_restart(optarg, &why);
            if (!rp) {
                fprintf(stderr, "%s\n", why);
                return WCMD_EXIT_ERROR;
            }
            json_object_set_new(body, "RestartPolicy", rp);
            break;
        }
        case OPT_HELP:
            printf("Usage:  wharf update [OPTIONS] CONTAINER [CONTAINER...]\n\n"
                   "Update configuration of one or more containers\n");
            return 0;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
        if (r)
            return r;
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires at least 1 argument",
                                ctx->name);
    if (flags == 0) {
        fprintf(stderr, "you must provide one or more flags when using this command\n");
        return WCMD_EXIT_ERROR;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    strbuf warnings = STRBUF_INIT;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *id = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/containers/%s/update", id);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "POST", path, body, &resp, false) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else {
            printf("%s\n", argv[i]);
            size_t k;
            json_t *w;
            json_array_foreach(json_object_get(resp.json, "Warnings"), k, w)
                strbuf_addf(&warnings, "%s\n", json_string_value(w) ? json_string_value(w) : "");
        }
        client_response_release(&resp);
    }
    if (warnings.len)
        fputs(warnings.buf, stdout);
    strbuf_release(&warnings);
    client_free(c);
    return rc;
}
