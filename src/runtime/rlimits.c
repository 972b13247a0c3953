/*
 * rlimits.c — OCI process.rlimits: checked at create time, applied with
 * prlimit() to the container's init (or an exec'd process) from outside, so
 * a hard limit below our own needs never constrains the runtime itself.
 */
#include "security.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <sys/resource.h>

static const struct {
    const char *name;
    int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};
#define RLIMIT_TABLE_N (sizeof(rlimit_table) / sizeof(rlimit_table[0]))

struct parsed_rlimit {
    const char *name;
    int resource;
    struct rlimit limit;
};

/* Parses entry i of the array; field errors name "process.rlimits[i]...". */
static int parse_entry(json_t *rlimits, size_t i, struct parsed_rlimit *out, wharf_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "process.rlimits[%zu]", i);
    json_t *e = json_array_get(rlimits, i);
    if (!json_is_object(e))
        return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
    const char *type = NULL;
    uint64_t hard = 0, soft = 0;
    int r;
    if ((r = wjson_string(e, where, "type", true, &type, err)) < 0)
        return r;
    size_t k;
    for (k = 0; k < RLIMIT_TABLE_N; k++)
        if (strcmp(rlimit_table[k].name, type) == 0)
            break;
    if (k == RLIMIT_TABLE_N)
        return wharf_error_set(err, -EINVAL, "%s.type: unknown rlimit %s", where, type);
    bool have_hard = false, have_soft = false;
    if ((r = wjson_uint64(e, where, "hard", &hard, &have_hard, err)) < 0 ||
        (r = wjson_uint64(e, where, "soft", &soft, &have_soft, err)) < 0)
        return r;
    if (!have_hard || !have_soft)
        return wharf_error_set(err, -EINVAL, "%s.%s: required field is missing", where,
                               have_hard ? "soft" : "hard");
    if (soft > hard)
        return wharf_error_set(err, -EINVAL,
                               "%s: soft limit %" PRIu64 " is above hard limit %" PRIu64 " for %s",
                               where, soft, hard, type);
    out->name = rlimit_table[k].name;
    out->resource = rlimit_table[k].resource;
    out->limit.rlim_cur = (rlim_t)soft;
    out->limit.rlim_max = (rlim_t)hard;
    return 0;
}

/* Parses and checks the whole array; *out (caller frees) may be NULL when
 * only validating. */
static int parse_all(json_t *rlimits, struct parsed_rlimit **out, size_t *count, wharf_error *err)
{
    if (out)
        *out = NULL;
    *count = 0;
    if (!rlimits)
        return 0;
    if (!json_is_array(rlimits))
        return wharf_error_set(err, -EINVAL, "process.rlimits: expected an array");
    size_t n = json_array_size(rlimits);
    _cleanup_free_ struct parsed_rlimit *v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        int r = parse_entry(rlimits, i, &v[i], err);
        if (r < 0)
            return r;
        for (size_t j = 0; j < i; j++)
            if (v[j].resource == v[i].resource)
                return wharf_error_set(err, -EINVAL,
                                       "process.rlimits[%zu].type: duplicate rlimit %s (also in "
                                       "process.rlimits[%zu])",
                                       i, v[i].name, j);
    }
    *count = n;
    if (out)
        *out = steal_ptr(v);
    return 0;
}

int security_rlimits_validate(json_t *rlimits, wharf_error *err)
{
    size_t n;
    return parse_all(rlimits, NULL, &n, err);
}

int security_rlimits_apply(json_t *rlimits, pid_t pid, wharf_error *err)
{
    _cleanup_free_ struct parsed_rlimit *v = NULL;
    size_t n = 0;
    int r = parse_all(rlimits, &v, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (prlimit(pid, v[i].resource, &v[i].limit, NULL) < 0)
            return wharf_error_errno(err, errno, "process.rlimits[%zu]: setting %s of pid %d", i,
                                     v[i].name, (int)pid);
    return 0;
}
