/*
 * caps.c — OCI process.capabilities onto the calling process with libcap.
 *
 * The five OCI sets are parsed into 64-bit masks (Linux numbers capabilities
 * below 64), so validation and application share one parser. Names must be
 * spelled exactly as the kernel headers do ("CAP_NET_RAW"); a name libcap
 * knows but this kernel does not is skipped, as runc does, so one config
 * works across kernel versions.
 */
#include "security.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

enum caps_set { SET_BOUNDING, SET_EFFECTIVE, SET_INHERITABLE, SET_PERMITTED, SET_AMBIENT, SET_N };

static const char *const set_names[SET_N] = {"bounding", "effective", "inheritable", "permitted",
                                             "ambient"};

struct caps_masks {
    uint64_t set[SET_N];
};

static void cap_freep(cap_t *c)
{
    if (*c)
        cap_free(*c);
}
#define _cleanup_cap_ __attribute__((cleanup(cap_freep)))

/* The highest capability number the running kernel knows. */
static int kernel_last_cap(void)
{
    static int cached = -1;
    if (cached >= 0)
        return cached;
    _cleanup_free_ char *text = NULL;
    wharf_error ignored = {0};
    int last = -1;
    if (wharf_read_file("/proc/sys/kernel/cap_last_cap", &text, NULL, &ignored) == 0) {
        char *end = NULL;
        long v = strtol(text, &end, 10);
        if (end != text && v >= 0 && v < 64)
            last = (int)v;
    }
    /* /proc may not be mounted (early in container setup): libcap probes
     * the bounding set itself. */
    if (last < 0)
        last = (int)cap_max_bits() - 1;
    if (last > 63)
        last = 63;
    cached = last;
    return cached;
}

/* libcap's canonical name of v in upper case ("CAP_CHOWN"), or NULL when
 * libcap has no name for it (it would print a number). Caller frees. */
static char *canonical_name(cap_value_t v)
{
    char *n = cap_to_name(v);
    if (!n)
        return NULL;
    char *out = NULL;
    if (strncmp(n, "cap_", 4) == 0) {
        out = xstrdup(n);
        for (char *p = out; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
    }
    cap_free(n);
    return out;
}

/* 0 with *value set; 1 when the name is real but the kernel lacks it;
 * -EINVAL when the name is unknown. */
static int parse_name(const char *name, cap_value_t *value)
{
    cap_value_t v;
    /* cap_from_name is case-insensitive, takes numbers and ignores trailing
     * junk; accept only the exact canonical spelling. */
    if (strncmp(name, "CAP_", 4) != 0 || cap_from_name(name, &v) != 0 || v < 0 || v > 63)
        return -EINVAL;
    _cleanup_free_ char *canon = canonical_name(v);
    if (!canon || strcmp(canon, name) != 0)
        return -EINVAL;
    *value = v;
    return v > kernel_last_cap() ? 1 : 0;
}

static int parse_caps(json_t *caps, struct caps_masks *m, wharf_error *err)
{
    memset(m, 0, sizeof(*m));
    if (!caps)
        return 0;
    if (!json_is_object(caps))
        return wharf_error_set(err, -EINVAL, "process.capabilities: expected an object");
    for (int s = 0; s < SET_N; s++) {
        _cleanup_free_ const char **names = NULL;
        size_t n = 0;
        int r =
            wjson_string_array(caps, "process.capabilities", set_names[s], false, &names, &n, err);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n; i++) {
            cap_value_t v = 0;
            r = parse_name(names[i], &v);
            if (r < 0)
                return wharf_error_set(err, -EINVAL,
                                       "process.capabilities.%s[%zu]: unknown capability %s",
                                       set_names[s], i, names[i]);
            if (r > 0) {
                wlog_debug("process.capabilities.%s[%zu]: %s is not supported by this kernel, "
                           "ignored",
                           set_names[s], i, names[i]);
                continue;
            }
            m->set[s] |= UINT64_C(1) << v;
        }
    }
    return 0;
}

int security_caps_validate(json_t *capabilities, wharf_error *err)
{
    struct caps_masks m;
    return parse_caps(capabilities, &m, err);
}

int security_caps_keep_on_setuid(wharf_error *err)
{
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return wharf_error_errno(err, errno, "capabilities: prctl(PR_SET_KEEPCAPS, 1)");
    return 0;
}

static const char *name_or_number(cap_value_t v, char buf[64])
{
    char *n = canonical_name(v);
    if (!n) {
        snprintf(buf, 64, "%d", (int)v);
        return buf;
    }
    snprintf(buf, 64, "%s", n);
    free(n);
    return buf;
}

static int raise_effective(wharf_error *err)
{
    _cleanup_cap_ cap_t cur = cap_get_proc();
    if (!cur)
        return wharf_error_errno(err, errno, "capabilities: cap_get_proc");
    if (cap_fill(cur, CAP_EFFECTIVE, CAP_PERMITTED) < 0 || cap_set_proc(cur) < 0)
        return wharf_error_errno(err, errno, "capabilities: raising the effective set");
    return 0;
}

static int drop_bounding(uint64_t keep, int last, wharf_error *err)
{
    for (cap_value_t v = 0; v <= last; v++) {
        if (keep & (UINT64_C(1) << v))
            continue;
        /* Already gone (or unknown to the kernel): nothing to do, and
         * dropping would need CAP_SETPCAP we may not have. */
        if (cap_get_bound(v) != 1)
            continue;
        if (prctl(PR_CAPBSET_DROP, (unsigned long)v, 0, 0, 0) < 0) {
            int e = errno;
            char buf[64];
            return wharf_error_errno(err, e, "process.capabilities.bounding: dropping %s",
                                     name_or_number(v, buf));
        }
    }
    return 0;
}

static int set_process_sets(const struct caps_masks *m, int last, wharf_error *err)
{
    _cleanup_cap_ cap_t want = cap_init();
    if (!want)
        return wharf_error_errno(err, errno, "capabilities: cap_init");
    static const struct {
        enum caps_set set;
        cap_flag_t flag;
    } map[] = {{SET_EFFECTIVE, CAP_EFFECTIVE},
               {SET_PERMITTED, CAP_PERMITTED},
               {SET_INHERITABLE, CAP_INHERITABLE}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        for (cap_value_t v = 0; v <= last; v++)
            if (m->set[map[i].set] & (UINT64_C(1) << v))
                if (cap_set_flag(want, map[i].flag, 1, &v, CAP_SET) < 0)
                    return wharf_error_errno(err, errno, "capabilities: cap_set_flag");
    if (cap_set_proc(want) < 0) {
        int e = errno;
        if ((m->set[SET_EFFECTIVE] & ~m->set[SET_PERMITTED]) != 0)
            return wharf_error_errno(err, e,
                                     "process.capabilities: setting effective, permitted and "
                                     "inheritable (effective is not a subset of permitted)");
        return wharf_error_errno(err, e,
                                 "process.capabilities: setting effective, permitted and "
                                 "inheritable");
    }
    return 0;
}

static int set_ambient(uint64_t ambient, int last, wharf_error *err)
{
    if (cap_reset_ambient() < 0) {
        /* Kernels before 4.3 have no ambient set: only an error when one
         * was asked for. */
        if (ambient == 0)
            return 0;
        return wharf_error_errno(err, errno, "process.capabilities.ambient: clearing");
    }
    for (cap_value_t v = 0; v <= last; v++) {
        if (!(ambient & (UINT64_C(1) << v)))
            continue;
        /* runc only warns here: the kernel refuses a capability that is not
         * both permitted and inheritable, and configs in the wild ask for it. */
        if (cap_set_ambient(v, CAP_SET) < 0) {
            char buf[64];
            wlog_warn("process.capabilities.ambient: cannot raise %s: %s", name_or_number(v, buf),
                      strerror(errno));
        }
    }
    return 0;
}

int security_caps_apply(json_t *capabilities, wharf_error *err)
{
    struct caps_masks m;
    int r = parse_caps(capabilities, &m, err);
    if (r < 0)
        return r;
    int last = kernel_last_cap();
    /* After setresuid() to a non-root uid the effective set is empty even
     * with keep-caps; CAP_SETPCAP must be effective to shrink the bounding set. */
    if ((r = raise_effective(err)) < 0 || (r = drop_bounding(m.set[SET_BOUNDING], last, err)) < 0 ||
        (r = set_process_sets(&m, last, err)) < 0 ||
        (r = set_ambient(m.set[SET_AMBIENT], last, err)) < 0)
        return r;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return wharf_error_errno(err, errno, "capabilities: prctl(PR_SET_KEEPCAPS, 0)");
    return 0;
}

json_t *security_caps_known(void)
{
    json_t *a = json_array();
    int last = kernel_last_cap();
    for (cap_value_t v = 0; v <= last; v++) {
        char *n = canonical_name(v);
        if (n)
            json_array_append_new(a, json_string(n));
        free(n);
    }
    return a;
}
