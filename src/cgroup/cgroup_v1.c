/*
 * cgroup_v1.c — linux.resources onto v1 controller files (also the resource
 * half of hybrid hosts), and stats read from them. Devices are written by
 * cgroup.c; every other controller is here. A field whose controller is not
 * mounted fails with an error naming the field.
 */
#include "cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#define RES "linux.resources"

struct v1 {
    struct cgroup *cg;
    wharf_error *err;
};

/* The directory of this cgroup on the hierarchy of controller; an error
 * naming field when that controller is not mounted. */
static int v1_dir(struct v1 *c, const char *controller, const char *field, char **dir)
{
    const struct cgroup_hierarchy *h = cgroup_host_v1_find(controller);
    if (!h)
        return wharf_error_set(c->err, -EOPNOTSUPP,
                               "%s: the %s cgroup controller is not mounted on this host", field,
                               controller);
    *dir = cgroup_dir_on(h, c->cg->path);
    return 0;
}

static int put(struct v1 *c, const char *dir, const char *file, const char *value,
               const char *field)
{
    int r = cgroup_write(dir, file, value, c->err);
    return r < 0 ? wharf_error_prefix(c->err, "%s", field) : 0;
}

static int put_i64(struct v1 *c, const char *dir, const char *file, int64_t v, const char *field)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return put(c, dir, file, buf, field);
}

/* OCI limits: 0 = leave alone, -1 = unlimited, other negatives are invalid. */
static int check_limit(struct v1 *c, int64_t v, const char *field)
{
    if (v < -1)
        return wharf_error_set(c->err, -EINVAL, "%s: invalid value %" PRId64, field, v);
    return 0;
}

static int apply_memory(struct v1 *c, json_t *mem)
{
    const char *W = RES ".memory";
    int64_t limit = 0, reservation = 0, swap = 0, kernel_tcp = 0;
    uint64_t swappiness = 0;
    bool has_swappiness = false, has_tcp = false, has_oom = false, oom_off = false;
    bool check_before = false;
    bool present;
    int r;
    if ((r = wjson_int64(mem, W, "limit", &limit, &present, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "reservation", &reservation, &present, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "swap", &swap, &present, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "kernel", &(int64_t){0}, &present, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "kernelTCP", &kernel_tcp, &has_tcp, c->err)) < 0 ||
        (r = wjson_uint64(mem, W, "swappiness", &swappiness, &has_swappiness, c->err)) < 0 ||
        (r = wjson_bool(mem, W, "disableOOMKiller", &oom_off, c->err)) < 0 ||
        (r = wjson_bool(mem, W, "useHierarchy", &(bool){false}, c->err)) < 0 ||
        (r = wjson_bool(mem, W, "checkBeforeUpdate", &check_before, c->err)) < 0)
        return r;
    has_oom = json_object_get(mem, "disableOOMKiller") != NULL;
    if ((r = check_limit(c, limit, RES ".memory.limit")) < 0 ||
        (r = check_limit(c, reservation, RES ".memory.reservation")) < 0 ||
        (r = check_limit(c, swap, RES ".memory.swap")) < 0)
        return r;
    if (has_swappiness && swappiness > 100)
        return wharf_error_set(c->err, -EINVAL,
                               "%s.swappiness: %" PRIu64 " is out of range (0-100)", W, swappiness);
    if (!limit && !reservation && !swap && !has_tcp && !has_swappiness && !has_oom)
        return 0; /* kernel memory limits are obsolete; ignored as runc does */

    _cleanup_free_ char *dir = NULL;
    if ((r = v1_dir(c, "memory", W, &dir)) < 0)
        return r;

    if (check_before && limit > 0) {
        uint64_t usage = 0;
        if ((r = cgroup_read_u64(dir, "memory.usage_in_bytes", &usage, c->err)) < 0)
            return wharf_error_prefix(c->err, "%s.limit", W);
        if ((uint64_t)limit < usage)
            return wharf_error_set(c->err, -EBUSY,
                                   "%s.limit: %" PRId64 " is below the current usage %" PRIu64, W,
                                   limit, usage);
    }

    bool memsw = cgroup_file_exists(dir, "memory.memsw.limit_in_bytes");
    if (limit == -1 && !swap && memsw)
        swap = -1; /* unlimited memory means unlimited memory+swap too */
    if (swap && !memsw) {
        wlog_warn("%s.swap: swap accounting is not enabled in this kernel; ignored", W);
        swap = 0;
    }
    /* The kernel keeps memsw >= memory at every step, so the order depends
     * on whether the limits go up or down (as runc does). */
    bool swap_first = false;
    if (limit && swap) {
        uint64_t cur = 0;
        if ((r = cgroup_read_u64(dir, "memory.limit_in_bytes", &cur, c->err)) < 0)
            return wharf_error_prefix(c->err, "%s.limit", W);
        swap_first = swap == -1 || cur < (uint64_t)swap;
    }
    if (swap_first &&
        (r = put_i64(c, dir, "memory.memsw.limit_in_bytes", swap, RES ".memory.swap")) < 0)
        return r;
    if (limit && (r = put_i64(c, dir, "memory.limit_in_bytes", limit, RES ".memory.limit")) < 0)
        return r;
    if (swap && !swap_first &&
        (r = put_i64(c, dir, "memory.memsw.limit_in_bytes", swap, RES ".memory.swap")) < 0)
        return r;
    if (reservation && (r = put_i64(c, dir, "memory.soft_limit_in_bytes", reservation,
                                    RES ".memory.reservation")) < 0)
        return r;
    if (has_tcp && kernel_tcp && cgroup_file_exists(dir, "memory.kmem.tcp.limit_in_bytes") &&
        (r = put_i64(c, dir, "memory.kmem.tcp.limit_in_bytes", kernel_tcp,
                     RES ".memory.kernelTCP")) < 0)
        return r;
    if (has_swappiness && (r = put_i64(c, dir, "memory.swappiness", (int64_t)swappiness,
                                       RES ".memory.swappiness")) < 0)
        return r;
    if (has_oom && (r = put(c, dir, "memory.oom_control", oom_off ? "1" : "0",
                            RES ".memory.disableOOMKiller")) < 0)
        return r;
    return 0;
}

static int apply_cpu(struct v1 *c, json_t *cpu)
{
    const char *W = RES ".cpu";
    uint64_t shares = 0, period = 0, burst = 0, rt_period = 0;
    int64_t quota = 0, rt_runtime = 0, idle = 0;
    bool has_burst = false, has_rt_period = false, has_rt_runtime = false, has_idle = false, p;
    const char *cpus = NULL, *mems = NULL;
    int r;
    if ((r = wjson_uint64(cpu, W, "shares", &shares, &p, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "period", &period, &p, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "quota", &quota, &p, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "burst", &burst, &has_burst, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "realtimePeriod", &rt_period, &has_rt_period, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "realtimeRuntime", &rt_runtime, &has_rt_runtime, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "idle", &idle, &has_idle, c->err)) < 0 ||
        (r = wjson_string(cpu, W, "cpus", false, &cpus, c->err)) < 0 ||
        (r = wjson_string(cpu, W, "mems", false, &mems, c->err)) < 0)
        return r;

    if (shares || period || quota || has_burst || has_rt_period || has_rt_runtime || has_idle) {
        _cleanup_free_ char *dir = NULL;
        if ((r = v1_dir(c, "cpu", W, &dir)) < 0)
            return r;
        if (shares && (r = put_i64(c, dir, "cpu.shares", (int64_t)shares, RES ".cpu.shares")) < 0)
            return r;
        /* A smaller period can be refused until the quota is lowered too:
         * then retry it after the quota (as runc does). */
        bool period_pending = false;
        if (period) {
            wharf_error e = {0};
            char buf[32];
            snprintf(buf, sizeof(buf), "%" PRIu64, period);
            if (cgroup_write(dir, "cpu.cfs_period_us", buf, &e) < 0) {
                if (e.code != -EINVAL || !quota) {
                    *c->err = e;
                    return wharf_error_prefix(c->err, "%s.period", W);
                }
                period_pending = true;
            }
        }
        if (quota &&
            (r = put_i64(c, dir, "cpu.cfs_quota_us", quota < 0 ? -1 : quota, RES ".cpu.quota")) < 0)
            return r;
        if (period_pending &&
            (r = put_i64(c, dir, "cpu.cfs_period_us", (int64_t)period, RES ".cpu.period")) < 0)
            return r;
        if (has_burst &&
            (r = put_i64(c, dir, "cpu.cfs_burst_us", (int64_t)burst, RES ".cpu.burst")) < 0)
            return r;
        if (has_rt_period && rt_period &&
            (r = put_i64(c, dir, "cpu.rt_period_us", (int64_t)rt_period,
                         RES ".cpu.realtimePeriod")) < 0)
            return r;
        if (has_rt_runtime && rt_runtime &&
            (r = put_i64(c, dir, "cpu.rt_runtime_us", rt_runtime, RES ".cpu.realtimeRuntime")) < 0)
            return r;
        if (has_idle && (r = put_i64(c, dir, "cpu.idle", idle, RES ".cpu.idle")) < 0)
            return r;
    }
    if ((cpus && *cpus) || (mems && *mems)) {
        _cleanup_free_ char *dir = NULL;
        if ((r = v1_dir(c, "cpuset", cpus && *cpus ? RES ".cpu.cpus" : RES ".cpu.mems", &dir)) < 0)
            return r;
        if (cpus && *cpus && (r = put(c, dir, "cpuset.cpus", cpus, RES ".cpu.cpus")) < 0)
            return r;
        if (mems && *mems && (r = put(c, dir, "cpuset.mems", mems, RES ".cpu.mems")) < 0)
            return r;
    }
    return 0;
}

static int apply_pids(struct v1 *c, json_t *pids)
{
    int64_t limit = 0;
    bool present = false;
    int r = wjson_int64(pids, RES ".pids", "limit", &limit, &present, c->err);
    if (r < 0)
        return r;
    if (!present)
        return wharf_error_set(c->err, -EINVAL, "%s.pids.limit: required field is missing", RES);
    _cleanup_free_ char *dir = NULL;
    if ((r = v1_dir(c, "pids", RES ".pids.limit", &dir)) < 0)
        return r;
    if (limit <= 0)
        return put(c, dir, "pids.max", "max", RES ".pids.limit");
    return put_i64(c, dir, "pids.max", limit, RES ".pids.limit");
}

/* {major, minor} of a blockIO device entry at `at`. */
static int blk_device(struct v1 *c, json_t *e, const char *at, int64_t *major, int64_t *minor)
{
    bool pm = false, pn = false;
    int r;
    if (!json_is_object(e))
        return wharf_error_set(c->err, -EINVAL, "%s: expected an object", at);
    if ((r = wjson_int64(e, at, "major", major, &pm, c->err)) < 0 ||
        (r = wjson_int64(e, at, "minor", minor, &pn, c->err)) < 0)
        return r;
    if (!pm || !pn || *major < 0 || *minor < 0)
        return wharf_error_set(c->err, -EINVAL, "%s: major and minor are required", at);
    return 0;
}

static int apply_blkio(struct v1 *c, json_t *blk)
{
    const char *W = RES ".blockIO";
    uint64_t weight = 0, leaf = 0;
    bool has_weight = false, has_leaf = false;
    int r;
    if ((r = wjson_uint64(blk, W, "weight", &weight, &has_weight, c->err)) < 0 ||
        (r = wjson_uint64(blk, W, "leafWeight", &leaf, &has_leaf, c->err)) < 0)
        return r;
    static const struct {
        const char *key, *file;
    } throttles[] = {
        {"throttleReadBpsDevice", "blkio.throttle.read_bps_device"},
        {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device"},
        {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device"},
        {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"},
    };
    json_t *wdev = NULL;
    if ((r = wjson_array(blk, W, "weightDevice", false, &wdev, c->err)) < 0)
        return r;
    bool any = has_weight || has_leaf || json_array_size(wdev) > 0;
    for (size_t t = 0; t < 4; t++)
        any = any || json_array_size(json_object_get(blk, throttles[t].key)) > 0;
    if (!any)
        return 0;
    _cleanup_free_ char *dir = NULL;
    if ((r = v1_dir(c, "blkio", W, &dir)) < 0)
        return r;
    /* With the bfq scheduler the weight files carry a "bfq." infix. */
    const char *weight_file = cgroup_file_exists(dir, "blkio.weight")       ? "blkio.weight"
                              : cgroup_file_exists(dir, "blkio.bfq.weight") ? "blkio.bfq.weight"
                                                                            : NULL;
    const char *wdev_file = cgroup_file_exists(dir, "blkio.weight_device") ? "blkio.weight_device"
                            : cgroup_file_exists(dir, "blkio.bfq.weight_device")
                                ? "blkio.bfq.weight_device"
                                : NULL;
    if (has_weight) {
        if (!weight_file)
            return wharf_error_set(c->err, -EOPNOTSUPP,
                                   "%s.weight: the kernel offers no blkio weight (no blkio.weight "
                                   "or blkio.bfq.weight)",
                                   W);
        if ((r = put_i64(c, dir, weight_file, (int64_t)weight, RES ".blockIO.weight")) < 0)
            return r;
    }
    if (has_leaf &&
        (r = put_i64(c, dir, "blkio.leaf_weight", (int64_t)leaf, RES ".blockIO.leafWeight")) < 0)
        return r;
    for (size_t i = 0; i < json_array_size(wdev); i++) {
        char at[96], line[96];
        snprintf(at, sizeof(at), "%s.weightDevice[%zu]", W, i);
        json_t *e = json_array_get(wdev, i);
        int64_t major, minor;
        uint64_t w = 0, lw = 0;
        bool hw = false, hlw = false;
        if ((r = blk_device(c, e, at, &major, &minor)) < 0 ||
            (r = wjson_uint64(e, at, "weight", &w, &hw, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "leafWeight", &lw, &hlw, c->err)) < 0)
            return r;
        if (hw) {
            if (!wdev_file)
                return wharf_error_set(c->err, -EOPNOTSUPP,
                                       "%s: the kernel offers no per-device blkio weight", at);
            snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor, w);
            if ((r = put(c, dir, wdev_file, line, at)) < 0)
                return r;
        }
        if (hlw) {
            snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor, lw);
            if ((r = put(c, dir, "blkio.leaf_weight_device", line, at)) < 0)
                return r;
        }
    }
    for (size_t t = 0; t < 4; t++) {
        json_t *arr = NULL;
        if ((r = wjson_array(blk, W, throttles[t].key, false, &arr, c->err)) < 0)
            return r;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char at[96], line[96];
            snprintf(at, sizeof(at), "%s.%s[%zu]", W, throttles[t].key, i);
            json_t *e = json_array_get(arr, i);
            int64_t major, minor;
            uint64_t rate = 0;
            if ((r = blk_device(c, e, at, &major, &minor)) < 0 ||
                (r = wjson_uint64(e, at, "rate", &rate, NULL, c->err)) < 0)
                return r;
            snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor, rate);
            if ((r = put(c, dir, throttles[t].file, line, at)) < 0)
                return r;
        }
    }
    return 0;
}

static int apply_hugetlb(struct v1 *c, json_t *arr)
{
    if (json_array_size(arr) == 0)
        return 0;
    _cleanup_free_ char *dir = NULL;
    int r = v1_dir(c, "hugetlb", RES ".hugepageLimits", &dir);
    if (r < 0)
        return r;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char at[64];
        snprintf(at, sizeof(at), "%s.hugepageLimits[%zu]", RES, i);
        json_t *e = json_array_get(arr, i);
        const char *size = NULL;
        uint64_t limit = 0;
        bool present = false;
        if ((r = wjson_string(e, at, "pageSize", true, &size, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "limit", &limit, &present, c->err)) < 0)
            return r;
        _cleanup_free_ char *file = xasprintf("hugetlb.%s.limit_in_bytes", size);
        if (strchr(size, '/') || !cgroup_file_exists(dir, file))
            return wharf_error_set(c->err, -EINVAL, "%s.pageSize: unsupported page size '%s'", at,
                                   size);
        if ((r = put_i64(c, dir, file, (int64_t)limit, at)) < 0)
            return r;
    }
    return 0;
}

static int apply_network(struct v1 *c, json_t *net)
{
    const char *W = RES ".network";
    uint64_t classid = 0;
    bool has_class = false;
    json_t *prios = NULL;
    int r;
    if ((r = wjson_uint64(net, W, "classID", &classid, &has_class, c->err)) < 0 ||
        (r = wjson_array(net, W, "priorities", false, &prios, c->err)) < 0)
        return r;
    if (has_class) {
        _cleanup_free_ char *dir = NULL;
        if ((r = v1_dir(c, "net_cls", RES ".network.classID", &dir)) < 0 ||
            (r = put_i64(c, dir, "net_cls.classid", (int64_t)classid, RES ".network.classID")) < 0)
            return r;
    }
    if (json_array_size(prios) > 0) {
        _cleanup_free_ char *dir = NULL;
        if ((r = v1_dir(c, "net_prio", RES ".network.priorities", &dir)) < 0)
            return r;
        for (size_t i = 0; i < json_array_size(prios); i++) {
            char at[64], line[128];
            snprintf(at, sizeof(at), "%s.priorities[%zu]", W, i);
            json_t *e = json_array_get(prios, i);
            const char *name = NULL;
            uint64_t prio = 0;
            bool present = false;
            if ((r = wjson_string(e, at, "name", true, &name, c->err)) < 0 ||
                (r = wjson_uint64(e, at, "priority", &prio, &present, c->err)) < 0)
                return r;
            snprintf(line, sizeof(line), "%s %" PRIu64, name, prio);
            if ((r = put(c, dir, "net_prio.ifpriomap", line, at)) < 0)
                return r;
        }
    }
    return 0;
}

static int apply_rdma(struct v1 *c, json_t *rdma)
{
    if (json_object_size(rdma) == 0)
        return 0;
    _cleanup_free_ char *dir = NULL;
    int r = v1_dir(c, "rdma", RES ".rdma", &dir);
    if (r < 0)
        return r;
    const char *dev;
    json_t *e;
    json_object_foreach(rdma, dev, e)
    {
        char at[128];
        snprintf(at, sizeof(at), "%s.rdma.%s", RES, dev);
        uint64_t handles = 0, objects = 0;
        bool hh = false, ho = false;
        if (!json_is_object(e))
            return wharf_error_set(c->err, -EINVAL, "%s: expected an object", at);
        if ((r = wjson_uint64(e, at, "hcaHandles", &handles, &hh, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "hcaObjects", &objects, &ho, c->err)) < 0)
            return r;
        _cleanup_strbuf_ strbuf line = STRBUF_INIT;
        strbuf_addstr(&line, dev);
        if (hh)
            strbuf_addf(&line, " hca_handle=%" PRIu64, handles);
        else
            strbuf_addstr(&line, " hca_handle=max");
        if (ho)
            strbuf_addf(&line, " hca_object=%" PRIu64, objects);
        else
            strbuf_addstr(&line, " hca_object=max");
        if ((r = put(c, dir, "rdma.max", line.buf, at)) < 0)
            return r;
    }
    return 0;
}

int cgroup_v1_apply(struct cgroup *cg, const struct cgroup_resources *res, wharf_error *err)
{
    struct v1 c = {cg, err};
    json_t *memory = res->memory, *cpu = res->cpu, *pids = res->pids, *blkio = res->blkio,
           *huge = res->hugepages, *net = res->network, *rdma = res->rdma;
    int r;
    if (memory && (r = apply_memory(&c, memory)) < 0)
        return r;
    if (cpu && (r = apply_cpu(&c, cpu)) < 0)
        return r;
    if (pids && (r = apply_pids(&c, pids)) < 0)
        return r;
    if (blkio && (r = apply_blkio(&c, blkio)) < 0)
        return r;
    if (huge && (r = apply_hugetlb(&c, huge)) < 0)
        return r;
    if (net && (r = apply_network(&c, net)) < 0)
        return r;
    if (rdma && (r = apply_rdma(&c, rdma)) < 0)
        return r;
    return 0;
}

/* ------------------------------------------------------------ stats */

static void set_u64(json_t *obj, const char *key, uint64_t v)
{
    json_object_set_new(obj, key, json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
}

/* Entries of the first readable file of files, "MAJ:MIN Op VALUE" lines
 * (the closing "Total N" line is not per device), as runc's
 * [{"major", "minor", "op", "value"}]. */
static json_t *blkio_entries(const char *dir, const char *const *files)
{
    json_t *arr = json_array();
    wharf_error e = {0};
    for (size_t i = 0; files[i]; i++) {
        _cleanup_free_ char *text = NULL;
        if (cgroup_read(dir, files[i], &text, &e) < 0)
            continue;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            unsigned major, minor;
            char op[32];
            unsigned long long v;
            if (sscanf(line, "%u:%u %31s %llu", &major, &minor, op, &v) == 4)
                json_array_append_new(arr,
                                      json_pack("{s:I, s:I, s:s, s:I}", "major", (json_int_t)major,
                                                "minor", (json_int_t)minor, "op", op, "value",
                                                (json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
        }
        break;
    }
    return arr;
}

/* Reads a file into obj[key] when it exists; missing files are left out. */
static void stat_file(json_t *obj, const char *key, const char *dir, const char *file)
{
    wharf_error e = {0};
    uint64_t v = 0;
    if (cgroup_read_u64(dir, file, &v, &e) == 0)
        set_u64(obj, key, v);
}

json_t *cgroup_v1_stats(struct cgroup *cg, wharf_error *err)
{
    json_t *out = json_object();
    const struct cgroup_hierarchy *h;
    wharf_error e = {0};

    json_t *cpu = json_object(), *usage = json_object(), *thr = json_object();
    json_object_set_new(cpu, "usage", usage);
    json_object_set_new(cpu, "throttling", thr);
    json_object_set_new(out, "cpu", cpu);
    if ((h = cgroup_host_v1_find("cpuacct"))) {
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        stat_file(usage, "total", dir, "cpuacct.usage");
        /* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ticks = 0, ns_per_tick = 1000000000ULL / (uint64_t)(hz > 0 ? hz : 100);
        if (cgroup_read_keyed(dir, "cpuacct.stat", "user", &ticks, &e) == 0)
            set_u64(usage, "user", ticks * ns_per_tick);
        if (cgroup_read_keyed(dir, "cpuacct.stat", "system", &ticks, &e) == 0)
            set_u64(usage, "kernel", ticks * ns_per_tick);
        _cleanup_free_ char *percpu = NULL;
        if (cgroup_read(dir, "cpuacct.usage_percpu", &percpu, &e) == 0) {
            json_t *arr = json_array();
            char *s = percpu, *end;
            for (unsigned long long v = strtoull(s, &end, 10); end != s;
                 s = end, v = strtoull(s, &end, 10))
                json_array_append_new(arr, json_integer((json_int_t)v));
            json_object_set_new(usage, "percpu", arr);
        }
    }
    if ((h = cgroup_host_v1_find("cpu"))) {
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        uint64_t v;
        if (cgroup_read_keyed(dir, "cpu.stat", "nr_periods", &v, &e) == 0)
            set_u64(thr, "periods", v);
        if (cgroup_read_keyed(dir, "cpu.stat", "nr_throttled", &v, &e) == 0)
            set_u64(thr, "throttled_periods", v);
        if (cgroup_read_keyed(dir, "cpu.stat", "throttled_time", &v, &e) == 0)
            set_u64(thr, "throttled_time", v);
    }

    if ((h = cgroup_host_v1_find("memory"))) {
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        json_t *mem = json_object(), *mu = json_object(), *sw = json_object();
        json_object_set_new(out, "memory", mem);
        json_object_set_new(mem, "usage", mu);
        json_object_set_new(mem, "swap", sw);
        uint64_t v;
        if (cgroup_read_u64(dir, "memory.usage_in_bytes", &v, err) < 0) {
            json_decref(out);
            return NULL;
        }
        set_u64(mu, "usage", v);
        stat_file(mu, "max", dir, "memory.max_usage_in_bytes");
        stat_file(mu, "limit", dir, "memory.limit_in_bytes");
        stat_file(mu, "failcnt", dir, "memory.failcnt");
        stat_file(sw, "usage", dir, "memory.memsw.usage_in_bytes");
        stat_file(sw, "max", dir, "memory.memsw.max_usage_in_bytes");
        stat_file(sw, "limit", dir, "memory.memsw.limit_in_bytes");
        stat_file(sw, "failcnt", dir, "memory.memsw.failcnt");
        if (cgroup_read_keyed(dir, "memory.stat", "total_cache", &v, &e) == 0 ||
            cgroup_read_keyed(dir, "memory.stat", "cache", &v, &e) == 0)
            set_u64(mem, "cache", v);
        _cleanup_free_ char *raw = NULL;
        if (cgroup_read(dir, "memory.stat", &raw, &e) == 0) {
            json_t *rawobj = json_object();
            char *save = NULL;
            for (char *line = strtok_r(raw, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                char key[128];
                unsigned long long val;
                if (sscanf(line, "%127s %llu", key, &val) == 2)
                    set_u64(rawobj, key, val);
            }
            json_object_set_new(mem, "raw", rawobj);
        }
    }

    if ((h = cgroup_host_v1_find("blkio"))) {
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        json_t *blkio = json_object();
        json_object_set_new(out, "blkio", blkio);
        /* The throttle files count every I/O whatever the scheduler; the
         * CFQ/BFQ ones exist only with that scheduler. */
        static const char *const bytes_files[] = {"blkio.throttle.io_service_bytes_recursive",
                                                  "blkio.io_service_bytes_recursive", NULL};
        static const char *const ios_files[] = {"blkio.throttle.io_serviced_recursive",
                                                "blkio.io_serviced_recursive", NULL};
        json_object_set_new(blkio, "ioServiceBytesRecursive", blkio_entries(dir, bytes_files));
        json_object_set_new(blkio, "ioServicedRecursive", blkio_entries(dir, ios_files));
    }

    if ((h = cgroup_host_v1_find("pids"))) {
        _cleanup_free_ char *dir = cgroup_dir_on(h, cg->path);
        json_t *pids = json_object();
        json_object_set_new(out, "pids", pids);
        uint64_t v = 0;
        if (cgroup_read_u64(dir, "pids.current", &v, &e) == 0)
            set_u64(pids, "current", v);
        /* "max" reads as 0, meaning no limit, as in runc's output. */
        if (cgroup_read_u64(dir, "pids.max", &v, &e) == 0)
            set_u64(pids, "limit", v == UINT64_MAX ? 0 : v);
    }
    return out;
}
