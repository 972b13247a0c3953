/*
 * limits.c — a container's resource limits: HostConfig's Memory,
 * MemoryReservation, MemorySwap, NanoCpus, CpuShares, CpuPeriod, CpuQuota,
 * CpusetCpus, CpusetMems, PidsLimit and BlkioWeight checked the way dockerd
 * checks them (verifyPlatformContainerResources: same rules, same
 * messages) and turned into the CRI "resources" object; and
 * POST /containers/{id}/update, which changes them (and the restart policy)
 * on a container that runs — through the container layer, into its cgroup
 * at once — or not (for its next start), keeping inspect's HostConfig in
 * step.
 *
 * What dockerd fills in at create is filled in here too, in the HostConfig
 * that inspect shows: MemorySwap defaults to twice Memory, and a PidsLimit
 * of 0 or less means no limit (null).
 */
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MIN_MEMORY (6 * 1024 * 1024) /* dockerd's linuxMinMemory */

/* An integer field of HostConfig (absent or null: 0). */
static int int_field(json_t *obj, const char *key, int64_t *out, wharf_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return wharf_error_set(err, -EINVAL, "HostConfig.%s: expected an integer", key);
    *out = json_integer_value(v);
    return 0;
}

static int string_field(json_t *obj, const char *key, const char **out, wharf_error *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return wharf_error_set(err, -EINVAL, "HostConfig.%s: expected a string", key);
    *out = json_string_value(v);
    return 0;
}

struct limits {
    int64_t memory, reservation, swap, nano, shares, period, quota, blkio;
    bool has_pids;
    int64_t pids;
    const char *cpus, *mems;
};

static int read_limits(json_t *host, struct limits *l, wharf_error *err)
{
    memset(l, 0, sizeof(*l));
    int r;
    if ((r = int_field(host, "Memory", &l->memory, err)) < 0 ||
        (r = int_field(host, "MemoryReservation", &l->reservation, err)) < 0 ||
        (r = int_field(host, "MemorySwap", &l->swap, err)) < 0 ||
        (r = int_field(host, "NanoCpus", &l->nano, err)) < 0 ||
        (r = int_field(host, "CpuShares", &l->shares, err)) < 0 ||
        (r = int_field(host, "CpuPeriod", &l->period, err)) < 0 ||
        (r = int_field(host, "CpuQuota", &l->quota, err)) < 0 ||
        (r = int_field(host, "BlkioWeight", &l->blkio, err)) < 0 ||
        (r = int_field(host, "PidsLimit", &l->pids, err)) < 0 ||
        (r = string_field(host, "CpusetCpus", &l->cpus, err)) < 0 ||
        (r = string_field(host, "CpusetMems", &l->mems, err)) < 0)
        return r;
    json_t *pids = json_object_get(host, "PidsLimit");
    l->has_pids = pids && !json_is_null(pids);
    return 0;
}

/* dockerd's verifyPlatformContainerResources, for the fields served here. */
static int check_limits(const struct limits *l, bool update, wharf_error *err)
{
    if (l->memory != 0 && l->memory < MIN_MEMORY)
        return wharf_error_set(err, -EINVAL, "Minimum memory limit allowed is 6MB");
    if (l->memory > 0 && l->swap > 0 && l->swap < l->memory)
        return wharf_error_set(err, -EINVAL,
                               "Minimum memoryswap limit should be larger than memory limit, see "
                               "usage");
    if (l->memory == 0 && l->swap > 0 && !update)
        return wharf_error_set(err, -EINVAL,
                               "You should always set the Memory limit when using Memoryswap "
                               "limit, see usage");
    if (l->reservation > 0 && l->reservation < MIN_MEMORY)
        return wharf_error_set(err, -EINVAL, "Minimum memory reservation allowed is 6MB");
    if (l->memory > 0 && l->reservation > 0 && l->memory < l->reservation)
        return wharf_error_set(err, -EINVAL,
                               "Minimum memory limit can not be less than memory reservation "
                               "limit, see usage");
    if (l->nano > 0 && l->period > 0)
        return wharf_error_set(err, -EINVAL,
                               "Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (l->nano > 0 && l->quota > 0)
        return wharf_error_set(err, -EINVAL,
                               "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (l->nano < 0 || l->nano > (int64_t)ncpu * 1000000000)
        return wharf_error_set(err, -EINVAL,
                               "Range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs "
                               "available",
                               ncpu, ncpu);
    if (l->shares < 0)
        return wharf_error_set(err, -EINVAL, "Invalid CPU shares value %lld: must not be negative",
                               (long long)l->shares);
    if (l->period != 0 && (l->period < 1000 || l->period > 1000000))
        return wharf_error_set(err, -EINVAL,
                               "CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                               "than 1s (i.e. 1000000)");
    if (l->quota > 0 && l->quota < 1000)
        return wharf_error_set(err, -EINVAL, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    if (l->blkio > 0 && (l->blkio < 10 || l->blkio > 1000))
        return wharf_error_set(err, -EINVAL, "Range of blkio weight is from 10 to 1000");
    if (l->blkio < 0)
        return wharf_error_set(err, -EINVAL, "Range of blkio weight is from 10 to 1000");
    int r;
    if (l->cpus && *l->cpus && (r = dockerapi_check_cpuset(l->cpus, false, err)) < 0)
        return r;
    if (l->mems && *l->mems && (r = dockerapi_check_cpuset(l->mems, true, err)) < 0)
        return r;
    return 0;
}

/* The CRI resources of what was given (zero: not given). */
static json_t *cri_resources(const struct limits *l, bool update)
{
    json_t *res = json_object();
    const struct {
        const char *key;
        int64_t v;
    } ints[] = {
        {"memory", l->memory},      {"memory_reservation", l->reservation},
        {"memory_swap", l->swap},   {"cpu_shares", l->shares},
        {"cpu_period", l->period},  {"cpu_quota", l->quota},
        {"blkio_weight", l->blkio},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        if (ints[i].v != 0)
            json_object_set_new(res, ints[i].key, json_integer(ints[i].v));
    if (l->nano > 0) {
        json_object_set_new(res, "cpu_period", json_integer(100000));
        json_object_set_new(res, "cpu_quota", json_integer(l->nano * 100000 / 1000000000));
    }
    /* 0 or less: no limit; an update lifts one that was set */
    if (l->has_pids && l->pids > 0)
        json_object_set_new(res, "pids_limit", json_integer(l->pids));
    else if (l->has_pids && update)
        json_object_set_new(res, "pids_limit", json_integer(-1));
    if (l->cpus && *l->cpus)
        json_object_set_new(res, "cpuset_cpus", json_string(l->cpus));
    if (l->mems && *l->mems)
        json_object_set_new(res, "cpuset_mems", json_string(l->mems));
    return res;
}

int dockerapi_create_resources(json_t *host, json_t *cfg, wharf_error *err)
{
    struct limits l;
    int r;
    if ((r = read_limits(host, &l, err)) < 0)
        return r;
    /* dockerd's adaptContainerSettings: swap as much as memory by default */
    if (l.memory > 0 && l.swap == 0) {
        l.swap = l.memory * 2;
        json_object_set_new(host, "MemorySwap", json_integer(l.swap));
    }
    if (l.has_pids && l.pids <= 0) {
        l.has_pids = false;
        json_object_set_new(host, "PidsLimit", json_null());
    }
    if ((r = check_limits(&l, false, err)) < 0)
        return r;
    json_object_set_new(cfg, "resources", cri_resources(&l, false));
    return 0;
}

/* ---------------------------------------------------------------- update */

/* Read-modify-write of a container's metadata: one update at a time. */
static pthread_mutex_t update_lock = PTHREAD_MUTEX_INITIALIZER;

/* dockerd's Container.UpdateContainer: what may not change given what is set. */
static const char *update_conflict(const struct limits *l, const struct limits *cur)
{
    if (l->nano > 0 && cur->period > 0)
        return "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been "
               "set";
    if (l->nano > 0 && cur->quota > 0)
        return "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been "
               "set";
    if (l->period > 0 && cur->nano > 0)
        return "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set";
    if (l->quota > 0 && cur->nano > 0)
        return "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set";
    if (l->memory != 0 && cur->swap > 0 && l->memory > cur->swap && l->swap == 0)
        return "Memory limit should be smaller than already set memoryswap limit, update the "
               "memoryswap at the same time";
    return NULL;
}

/* The given fields over the stored HostConfig, as dockerd merges them. */
static void merge_host(json_t *host, json_t *body, const struct limits *l)
{
    static const char *const ints[] = {"Memory",   "MemoryReservation", "MemorySwap",
                                       "NanoCpus", "CpuShares",         "CpuPeriod",
                                       "CpuQuota", "BlkioWeight",       NULL};
    for (size_t i = 0; ints[i]; i++) {
        json_t *v = json_object_get(body, ints[i]);
        if (json_is_integer(v) && json_integer_value(v) != 0)
            json_object_set(host, ints[i], v);
    }
    if (l->cpus && *l->cpus)
        json_object_set_new(host, "CpusetCpus", json_string(l->cpus));
    if (l->mems && *l->mems)
        json_object_set_new(host, "CpusetMems", json_string(l->mems));
    if (l->has_pids)
        json_object_set_new(host, "PidsLimit", l->pids > 0 ? json_integer(l->pids) : json_null());
}

static http_response *update(struct dockerapi *api, http_request *req,
                             const struct cri_container_status *st_in)
{
    wharf_error err = {0};
    json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    if (!json_is_object(body)) {
        json_decref(body);
        return http_response_error(400, "update: expected a JSON object");
    }
    struct limits l;
    if (read_limits(body, &l, &err) < 0 || check_limits(&l, true, &err) < 0) {
        json_decref(body);
        return http_response_error(400, "%s", err.msg);
    }
    json_t *rp = json_object_get(body, "RestartPolicy");
    const char *policy = json_string_value(json_object_get(rp, "Name"));
    bool new_policy = policy && *policy;
    struct dockerapi_restart_policy parsed;
    if (new_policy) {
        json_t *probe = json_pack("{s:O}", "RestartPolicy", rp);
        int r = dockerapi_restart_policy(probe, &parsed, &err);
        json_decref(probe);
        if (r < 0) {
            json_decref(body);
            return http_response_error(400, "%s", err.msg);
        }
    }

    http_response *resp = NULL;
    struct cri_container_status st;
    json_t *meta = NULL, *res = NULL;
    char *text = NULL;
    pthread_mutex_lock(&update_lock);
    /* again, under the lock: another update may have come first */
    if (cri_container_status(api->cri, st_in->id, &st, &err) < 0) {
        pthread_mutex_unlock(&update_lock);
        json_decref(body);
        return dockerapi_no_such_container(http_request_param(req, "id"));
    }
    meta = dockerapi_meta(&st);
    if (!meta)
        meta = json_object();
    json_t *host = json_object_get(meta, "HostConfig");
    if (!json_is_object(host)) {
        host = json_object();
        json_object_set_new(meta, "HostConfig", host);
    }
    struct limits cur;
    wharf_error ignored = {0};
    if (read_limits(host, &cur, &ignored) < 0)
        memset(&cur, 0, sizeof(cur));
    const char *conflict = update_conflict(&l, &cur);
    if (!conflict && new_policy && strcmp(policy, "no") != 0 &&
        json_is_true(json_object_get(host, "AutoRemove")))
        conflict = "Restart policy cannot be updated because AutoRemove is enabled for the "
                   "container";
    if (conflict) {
        resp = http_response_error(409, "Cannot update container %s: %s", st.id, conflict);
        goto out;
    }
    res = cri_resources(&l, true);
    /* Into the cgroup first (when it runs): nothing is recorded if the
     * kernel refuses, as dockerd restores its config then. */
    if (json_object_size(res) && cri_container_update(api->cri, st.id, res, &err) < 0) {
        resp = http_response_error(500, "Cannot update container %s: %s", st.id, err.msg);
        goto out;
    }
    merge_host(host, body, &l);
    if (new_policy)
        json_object_set(host, "RestartPolicy", rp);
    text = json_dumps(meta, JSON_COMPACT);
    json_t *ann = json_pack("{s:s}", DOCKERAPI_ANNOTATION, text);
    int r = cri_container_rename(api->cri, st.id, st.name ? st.name : "", ann, &err);
    json_decref(ann);
    if (r < 0) {
        resp = http_response_error(500, "Cannot update container %s: %s", st.id, err.msg);
        goto out;
    }
    dockerapi_container_event(api, st.id, &st, "update", NULL);
    resp = http_response_json(200, json_pack("{s:[]}", "Warnings"));
out:
    pthread_mutex_unlock(&update_lock);
    free(text);
    cri_container_status_release(&st);
    if (res)
        json_decref(res);
    json_decref(meta);
    json_decref(body);
    return resp;
}

int dockerapi_register_limits(struct dockerapi *api, http_router *r, wharf_error *err)
{
    return dockerapi_add_container_route(api, r, "POST", "/containers/{id}/update", update, err);
}
