/*
 * cgroup_v2.c — linux.resources onto a cgroup2 directory (converting the
 * v1-shaped OCI values as runc does), the raw `unified` map, enabling
 * controllers down the tree, and stats. Devices go through
 * cgroup_devices_bpf.c; there is no devices file on v2.
 */
#include "cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#define RES "linux.resources"

/* Domain controllers a container may need; enabled where the parent has them. */
static const char *const wanted_controllers[] = {"cpu",  "cpuset",  "io",   "memory",
                                                 "pids", "hugetlb", "rdma", "misc"};

static bool word_in(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

void cgroup_v2_enable_controllers(const char *mount, const char *path)
{
    _cleanup_free_ char *dir = xasprintf("%s%s", mount, path);
    _cleanup_free_ char *avail = NULL, *enabled = NULL;
    wharf_error e = {0};
    if (cgroup_read(dir, "cgroup.controllers", &avail, &e) < 0 ||
        cgroup_read(dir, "cgroup.subtree_control", &enabled, &e) < 0)
        return;
    for (size_t i = 0; i < sizeof(wanted_controllers) / sizeof(wanted_controllers[0]); i++) {
        const char *c = wanted_controllers[i];
        if (!word_in(avail, c) || word_in(enabled, c))
            continue;
        /* One at a time: a controller the kernel refuses here (e.g. a parent
         * with processes) must not keep the others off. The resource file
         * then is missing and the field that needs it reports the error. */
        _cleanup_free_ char *v = xasprintf("+%s", c);
        if (cgroup_write(dir, "cgroup.subtree_control", v, &e) < 0)
            wlog_debug("cgroup: %s", e.msg);
    }
}

struct v2 {
    const char *dir;
    wharf_error *err;
};

static int put(struct v2 *c, const char *file, const char *value, const char *field)
{
    int r = cgroup_write(c->dir, file, value, c->err);
    if (r == -ENOENT)
        return wharf_error_set(c->err, -EOPNOTSUPP,
                               "%s: %s/%s does not exist (controller not enabled for this cgroup)",
                               field, c->dir, file);
    return r < 0 ? wharf_error_prefix(c->err, "%s", field) : 0;
}

/* -1 → "max", otherwise the number. */
static void limit_str(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "max");
    else
        snprintf(buf, len, "%" PRId64, v);
}

static int apply_memory(struct v2 *c, json_t *mem)
{
    const char *W = RES ".memory";
    int64_t limit = 0, reservation = 0, swap = 0;
    bool p, check_before = false;
    char buf[32];
    int r;
    if ((r = wjson_int64(mem, W, "limit", &limit, &p, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "reservation", &reservation, &p, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "swap", &swap, &p, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "kernel", &(int64_t){0}, &p, c->err)) < 0 ||
        (r = wjson_int64(mem, W, "kernelTCP", &(int64_t){0}, &p, c->err)) < 0 ||
        (r = wjson_uint64(mem, W, "swappiness", &(uint64_t){0}, &p, c->err)) < 0 ||
        (r = wjson_bool(mem, W, "disableOOMKiller", &(bool){false}, c->err)) < 0 ||
        (r = wjson_bool(mem, W, "checkBeforeUpdate", &check_before, c->err)) < 0)
        return r;
    if (limit < -1 || reservation < -1 || swap < -1)
        return wharf_error_set(c->err, -EINVAL, "%s: limits must be -1 (unlimited) or positive", W);
    /* OCI swap is memory+swap (v1 semantics); memory.swap.max is swap alone. */
    int64_t swap_max = 0;
    bool set_swap = false;
    if (limit == -1 && swap == 0) {
        swap_max = -1;
        set_swap = true;
    } else if (swap == -1) {
        swap_max = -1;
        set_swap = true;
    } else if (swap > 0) {
        if (limit <= 0)
            return wharf_error_set(c->err, -EINVAL, "%s.swap: a swap limit needs a memory limit",
                                   W);
        if (swap < limit)
            return wharf_error_set(c->err, -EINVAL,
                                   "%s.swap: memory+swap (%" PRId64
                                   ") must not be below the memory limit (%" PRId64 ")",
                                   W, swap, limit);
        swap_max = swap - limit;
        set_swap = true;
    }
    if (check_before && limit > 0) {
        uint64_t usage = 0;
        if ((r = cgroup_read_u64(c->dir, "memory.current", &usage, c->err)) < 0)
            return wharf_error_prefix(c->err, "%s.limit", W);
        if ((uint64_t)limit < usage)
            return wharf_error_set(c->err, -EBUSY,
                                   "%s.limit: %" PRId64 " is below the current usage %" PRIu64, W,
                                   limit, usage);
    }
    if (set_swap) {
        limit_str(buf, sizeof(buf), swap_max);
        wharf_error e = {0};
        r = cgroup_write(c->dir, "memory.swap.max", buf, &e);
        /* Without swap accounting, "no swap" and "unlimited" need no file. */
        if (r < 0 && !(r == -ENOENT && (swap_max == -1 || swap_max == 0))) {
            *c->err = e;
            return wharf_error_prefix(c->err, "%s.swap", W);
        }
    }
    if (limit) {
        limit_str(buf, sizeof(buf), limit);
        if ((r = put(c, "memory.max", buf, RES ".memory.limit")) < 0)
            return r;
    }
    if (reservation) {
        limit_str(buf, sizeof(buf), reservation);
        if ((r = put(c, "memory.low", buf, RES ".memory.reservation")) < 0)
            return r;
    }
    /* swappiness, disableOOMKiller and kernel limits have no v2 files;
     * ignored as runc does. */
    return 0;
}

static int apply_cpu(struct v2 *c, json_t *cpu)
{
    const char *W = RES ".cpu";
    uint64_t shares = 0, period = 0, burst = 0, rt_period = 0;
    int64_t quota = 0, rt_runtime = 0, idle = 0;
    bool has_quota = false, has_period = false, has_burst = false, has_idle = false;
    bool has_rtp = false, has_rtr = false, p;
    const char *cpus = NULL, *mems = NULL;
    char buf[64];
    int r;
    if ((r = wjson_uint64(cpu, W, "shares", &shares, &p, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "period", &period, &has_period, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "quota", &quota, &has_quota, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "burst", &burst, &has_burst, c->err)) < 0 ||
        (r = wjson_uint64(cpu, W, "realtimePeriod", &rt_period, &has_rtp, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "realtimeRuntime", &rt_runtime, &has_rtr, c->err)) < 0 ||
        (r = wjson_int64(cpu, W, "idle", &idle, &has_idle, c->err)) < 0 ||
        (r = wjson_string(cpu, W, "cpus", false, &cpus, c->err)) < 0 ||
        (r = wjson_string(cpu, W, "mems", false, &mems, c->err)) < 0)
        return r;
    if ((has_rtp && rt_period) || (has_rtr && rt_runtime))
        return wharf_error_set(c->err, -EOPNOTSUPP,
                               "%s.%s: realtime scheduling limits are not "
                               "supported on cgroup v2",
                               W, has_rtp && rt_period ? "realtimePeriod" : "realtimeRuntime");
    if (has_idle) {
        snprintf(buf, sizeof(buf), "%" PRId64, idle);
        if ((r = put(c, "cpu.idle", buf, RES ".cpu.idle")) < 0)
            return r;
    }
    if (shares) {
        /* cpu.shares [2, 262144] maps linearly onto cpu.weight [1, 10000]. */
        if (shares < 2)
            shares = 2;
        if (shares > 262144)
            shares = 262144;
        uint64_t weight = 1 + ((shares - 2) * 9999) / 262142;
        snprintf(buf, sizeof(buf), "%" PRIu64, weight);
        if ((r = put(c, "cpu.weight", buf, RES ".cpu.shares")) < 0)
            return r;
    }
    if ((has_quota && quota) || period) {
        if (quota > 0)
            snprintf(buf, sizeof(buf), "%" PRId64, quota);
        else
            snprintf(buf, sizeof(buf), "max");
        if (period)
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %" PRIu64, period);
        if ((r = put(c, "cpu.max", buf, has_quota ? RES ".cpu.quota" : RES ".cpu.period")) < 0)
            return r;
    }
    if (has_burst) {
        snprintf(buf, sizeof(buf), "%" PRIu64, burst);
        if ((r = put(c, "cpu.max.burst", buf, RES ".cpu.burst")) < 0)
            return r;
    }
    if (cpus && *cpus && (r = put(c, "cpuset.cpus", cpus, RES ".cpu.cpus")) < 0)
        return r;
    if (mems && *mems && (r = put(c, "cpuset.mems", mems, RES ".cpu.mems")) < 0)
        return r;
    return 0;
}

static int apply_pids(struct v2 *c, json_t *pids)
{
    int64_t limit = 0;
    bool present = false;
    int r = wjson_int64(pids, RES ".pids", "limit", &limit, &present, c->err);
    if (r < 0)
        return r;
    if (!present)
        return wharf_error_set(c->err, -EINVAL, "%s.pids.limit: required field is missing", RES);
    char buf[32];
    limit_str(buf, sizeof(buf), limit <= 0 ? -1 : limit);
    return put(c, "pids.max", buf, RES ".pids.limit");
}

/* blkio weight [10, 1000] onto io.weight [1, 10000], as runc converts. */
static uint64_t io_weight(uint64_t w)
{
    if (w < 10)
        w = 10;
    return 1 + (w - 10) * 9999 / 990;
}

static int apply_io(struct v2 *c, json_t *blk)
{
    const char *W = RES ".blockIO";
    uint64_t weight = 0;
    bool has_weight = false;
    char line[128];
    int r;
    if ((r = wjson_uint64(blk, W, "weight", &weight, &has_weight, c->err)) < 0)
        return r;
    bool bfq = cgroup_file_exists(c->dir, "io.bfq.weight");
    if (has_weight && weight) {
        if (bfq)
            snprintf(line, sizeof(line), "%" PRIu64, weight);
        else
            snprintf(line, sizeof(line), "default %" PRIu64, io_weight(weight));
        if ((r = put(c, bfq ? "io.bfq.weight" : "io.weight", line, RES ".blockIO.weight")) < 0)
            return r;
    }
    json_t *wdev = NULL;
    if ((r = wjson_array(blk, W, "weightDevice", false, &wdev, c->err)) < 0)
        return r;
    for (size_t i = 0; i < json_array_size(wdev); i++) {
        char at[96];
        snprintf(at, sizeof(at), "%s.weightDevice[%zu]", W, i);
        json_t *e = json_array_get(wdev, i);
        int64_t major = -1, minor = -1;
        uint64_t w = 0;
        bool hw = false, p;
        if ((r = wjson_int64(e, at, "major", &major, &p, c->err)) < 0 ||
            (r = wjson_int64(e, at, "minor", &minor, &p, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "weight", &w, &hw, c->err)) < 0)
            return r;
        if (major < 0 || minor < 0)
            return wharf_error_set(c->err, -EINVAL, "%s: major and minor are required", at);
        if (!hw)
            continue; /* leafWeight has no v2 equivalent */
        snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, major, minor,
                 bfq ? w : io_weight(w));
        if ((r = put(c, bfq ? "io.bfq.weight" : "io.weight", line, at)) < 0)
            return r;
    }
    static const struct {
        const char *key, *name;
    } throttles[] = {
        {"throttleReadBpsDevice", "rbps"},
        {"throttleWriteBpsDevice", "wbps"},
        {"throttleReadIOPSDevice", "riops"},
        {"throttleWriteIOPSDevice", "wiops"},
    };
    for (size_t t = 0; t < 4; t++) {
        json_t *arr = NULL;
        if ((r = wjson_array(blk, W, throttles[t].key, false, &arr, c->err)) < 0)
            return r;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char at[96];
            snprintf(at, sizeof(at), "%s.%s[%zu]", W, throttles[t].key, i);
            json_t *e = json_array_get(arr, i);
            int64_t major = -1, minor = -1;
            uint64_t rate = 0;
            bool p;
            if ((r = wjson_int64(e, at, "major", &major, &p, c->err)) < 0 ||
                (r = wjson_int64(e, at, "minor", &minor, &p, c->err)) < 0 ||
                (r = wjson_uint64(e, at, "rate", &rate, &p, c->err)) < 0)
                return r;
            if (major < 0 || minor < 0)
                return wharf_error_set(c->err, -EINVAL, "%s: major and minor are required", at);
            if (rate)
                snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, major, minor,
                         throttles[t].name, rate);
            else
                snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %s=max", major, minor,
                         throttles[t].name);
            if ((r = put(c, "io.max", line, at)) < 0)
                return r;
        }
    }
    return 0;
}

static int apply_hugetlb(struct v2 *c, json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char at[64], buf[32];
        snprintf(at, sizeof(at), "%s.hugepageLimits[%zu]", RES, i);
        json_t *e = json_array_get(arr, i);
        const char *size = NULL;
        uint64_t limit = 0;
        bool p;
        int r;
        if ((r = wjson_string(e, at, "pageSize", true, &size, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "limit", &limit, &p, c->err)) < 0)
            return r;
        if (strchr(size, '/'))
            return wharf_error_set(c->err, -EINVAL, "%s.pageSize: invalid page size '%s'", at,
                                   size);
        _cleanup_free_ char *file = xasprintf("hugetlb.%s.max", size);
        snprintf(buf, sizeof(buf), "%" PRIu64, limit);
        if ((r = put(c, file, buf, at)) < 0)
            return r;
    }
    return 0;
}

static int apply_rdma(struct v2 *c, json_t *rdma)
{
    const char *dev;
    json_t *e;
    json_object_foreach(rdma, dev, e)
    {
        char at[128];
        snprintf(at, sizeof(at), "%s.rdma.%s", RES, dev);
        uint64_t handles = 0, objects = 0;
        bool hh = false, ho = false;
        int r;
        if (!json_is_object(e))
            return wharf_error_set(c->err, -EINVAL, "%s: expected an object", at);
        if ((r = wjson_uint64(e, at, "hcaHandles", &handles, &hh, c->err)) < 0 ||
            (r = wjson_uint64(e, at, "hcaObjects", &objects, &ho, c->err)) < 0)
            return r;
        _cleanup_strbuf_ strbuf line = STRBUF_INIT;
        strbuf_addstr(&line, dev);
        if (hh)
            strbuf_addf(&line, " hca_handle=%" PRIu64, handles);
        if (ho)
            strbuf_addf(&line, " hca_object=%" PRIu64, objects);
        if ((r = put(c, "rdma.max", line.buf, at)) < 0)
            return r;
    }
    return 0;
}

int cgroup_v2_apply(const char *dir, const struct cgroup_resources *res, wharf_error *err)
{
    struct v2 c = {dir, err};
    json_t *memory = res->memory, *cpu = res->cpu, *pids = res->pids, *blkio = res->blkio,
           *huge = res->hugepages, *net = res->network, *rdma = res->rdma;
    int r;
    if (net && (json_object_get(net, "classID") ||
                json_array_size(json_object_get(net, "priorities")) > 0))
        return wharf_error_set(err, -EOPNOTSUPP,
                               "%s.network: net_cls/net_prio do not exist on cgroup v2", RES);
    if (memory && (r = apply_memory(&c, memory)) < 0)
        return r;
    if (cpu && (r = apply_cpu(&c, cpu)) < 0)
        return r;
    if (pids && (r = apply_pids(&c, pids)) < 0)
        return r;
    if (blkio && (r = apply_io(&c, blkio)) < 0)
        return r;
    if (huge && (r = apply_hugetlb(&c, huge)) < 0)
        return r;
    if (rdma && (r = apply_rdma(&c, rdma)) < 0)
        return r;
    return 0;
}

int cgroup_v2_apply_unified(const char *dir, json_t *unified, wharf_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(unified, key, v)
    {
        char at[160];
        snprintf(at, sizeof(at), "%s.unified.%s", RES, key);
        if (!json_is_string(v))
            return wharf_error_set(err, -EINVAL, "%s: expected a string", at);
        /* A key names one file in this directory, nothing else. */
        if (!*key || strchr(key, '/') || strcmp(key, ".") == 0 || strcmp(key, "..") == 0)
            return wharf_error_set(err, -EINVAL, "%s: not a cgroup file name", at);
        int r = cgroup_write(dir, key, json_string_value(v), err);
        if (r == -ENOENT)
            return wharf_error_set(err, -EOPNOTSUPP,
                                   "%s: no such file in %s (controller not available)", at, dir);
        if (r < 0)
            return wharf_error_prefix(err, "%s", at);
    }
    return 0;
}

/* ------------------------------------------------------------ stats */

static void set_u64(json_t *obj, const char *key, uint64_t v)
{
    json_object_set_new(obj, key, json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
}

json_t *cgroup_v2_stats(const char *dir, wharf_error *err)
{
    json_t *out = json_object();
    wharf_error e = {0};
    uint64_t v;

    json_t *cpu = json_object(), *usage = json_object(), *thr = json_object();
    json_object_set_new(cpu, "usage", usage);
    json_object_set_new(cpu, "throttling", thr);
    json_object_set_new(out, "cpu", cpu);
    /* cpu.stat is in microseconds; runc reports nanoseconds. */
    if (cgroup_read_keyed(dir, "cpu.stat", "usage_usec", &v, err) < 0) {
        json_decref(out);
        return NULL;
    }
    set_u64(usage, "total", v * 1000);
    if (cgroup_read_keyed(dir, "cpu.stat", "user_usec", &v, &e) == 0)
        set_u64(usage, "user", v * 1000);
    if (cgroup_read_keyed(dir, "cpu.stat", "system_usec", &v, &e) == 0)
        set_u64(usage, "kernel", v * 1000);
    if (cgroup_read_keyed(dir, "cpu.stat", "nr_periods", &v, &e) == 0)
        set_u64(thr, "periods", v);
    if (cgroup_read_keyed(dir, "cpu.stat", "nr_throttled", &v, &e) == 0)
        set_u64(thr, "throttled_periods", v);
    if (cgroup_read_keyed(dir, "cpu.stat", "throttled_usec", &v, &e) == 0)
        set_u64(thr, "throttled_time", v * 1000);

    if (cgroup_file_exists(dir, "memory.current")) {
        json_t *mem = json_object(), *mu = json_object(), *sw = json_object();
        json_object_set_new(out, "memory", mem);
        json_object_set_new(mem, "usage", mu);
        json_object_set_new(mem, "swap", sw);
        if (cgroup_read_u64(dir, "memory.current", &v, &e) == 0)
            set_u64(mu, "usage", v);
        if (cgroup_read_u64(dir, "memory.peak", &v, &e) == 0)
            set_u64(mu, "max", v);
        if (cgroup_read_u64(dir, "memory.max", &v, &e) == 0)
            set_u64(mu, "limit", v);
        if (cgroup_read_keyed(dir, "memory.events", "max", &v, &e) == 0)
            set_u64(mu, "failcnt", v);
        if (cgroup_read_u64(dir, "memory.swap.current", &v, &e) == 0)
            set_u64(sw, "usage", v);
        if (cgroup_read_u64(dir, "memory.swap.max", &v, &e) == 0)
            set_u64(sw, "limit", v);
        if (cgroup_read_keyed(dir, "memory.stat", "file", &v, &e) == 0)
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
    if (cgroup_file_exists(dir, "io.stat")) {
        /* "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." per device, shaped
         * like the v1 entries with runc's lower-case v2 op names. */
        json_t *blkio = json_object(), *bytes = json_array(), *ios = json_array();
        json_object_set_new(out, "blkio", blkio);
        json_object_set_new(blkio, "ioServiceBytesRecursive", bytes);
        json_object_set_new(blkio, "ioServicedRecursive", ios);
        _cleanup_free_ char *text = NULL;
        if (cgroup_read(dir, "io.stat", &text, &e) == 0) {
            char *save = NULL;
            for (char *line = strtok_r(text, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                unsigned major, minor;
                int used = 0;
                if (sscanf(line, "%u:%u%n", &major, &minor, &used) != 2)
                    continue;
                char *fsave = NULL;
                for (char *kv = strtok_r(line + used, " ", &fsave); kv;
                     kv = strtok_r(NULL, " ", &fsave)) {
                    char key[16];
                    unsigned long long v;
                    if (sscanf(kv, "%15[a-z]=%llu", key, &v) != 2)
                        continue;
                    json_t *arr = NULL;
                    const char *op = NULL;
                    if (strcmp(key, "rbytes") == 0 || strcmp(key, "wbytes") == 0)
                        arr = bytes;
                    else if (strcmp(key, "rios") == 0 || strcmp(key, "wios") == 0)
                        arr = ios;
                    if (!arr)
                        continue;
                    op = key[0] == 'r' ? "read" : "write";
                    json_array_append_new(
                        arr, json_pack("{s:I, s:I, s:s, s:I}", "major", (json_int_t)major, "minor",
                                       (json_int_t)minor, "op", op, "value",
                                       (json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
                }
            }
        }
    }
    if (cgroup_file_exists(dir, "pids.current")) {
        json_t *pids = json_object();
        json_object_set_new(out, "pids", pids);
        if (cgroup_read_u64(dir, "pids.current", &v, &e) == 0)
            set_u64(pids, "current", v);
        if (cgroup_read_u64(dir, "pids.max", &v, &e) == 0)
            set_u64(pids, "limit", v == UINT64_MAX ? 0 : v);
    }
    return out;
}
