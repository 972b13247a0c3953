/*
 * seccomp.c — OCI linux.seccomp into a libseccomp filter.
 *
 * The same builder serves `create` (build and throw away: every name, action,
 * operator, architecture and flag is checked before anything starts) and the
 * container's init (build and load just before execve). Compatibility rules
 * follow runc, since profiles are written against it (Docker's default one):
 * syscall names libseccomp does not know are skipped, rules whose action is
 * the default action are skipped, and a rule that compares one argument more
 * than once becomes one rule per comparison.
 */
#include "security.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <seccomp.h>
#include <string.h>

static void filter_releasep(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}
#define _cleanup_filter_ __attribute__((cleanup(filter_releasep)))

/* ---------------------------------------------------------------- names */

enum action_ret { RET_NONE, RET_ERRNO, RET_TRACE };

static const struct {
    const char *name;
    uint32_t action;
    enum action_ret ret;
} action_table[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, RET_NONE},
    {"SCMP_ACT_ERRNO", 0, RET_ERRNO},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, RET_NONE},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, RET_NONE},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, RET_NONE},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, RET_NONE},
    {"SCMP_ACT_TRACE", 0, RET_TRACE},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, RET_NONE},
};
#define ACTION_TABLE_N (sizeof(action_table) / sizeof(action_table[0]))

static const struct {
    const char *name;
    enum scmp_compare op;
} operator_table[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};
#define OPERATOR_TABLE_N (sizeof(operator_table) / sizeof(operator_table[0]))

/* Every architecture some libseccomp release knows; features() reports the
 * ones the linked library resolves. */
static const char *const arch_candidates[] = {
    "SCMP_ARCH_AARCH64",  "SCMP_ARCH_ARM",         "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC",      "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC",      "SCMP_ARCH_PPC64",       "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",     "SCMP_ARCH_S390X",       "SCMP_ARCH_SH",          "SCMP_ARCH_SHEB",
    "SCMP_ARCH_X32",      "SCMP_ARCH_X86",         "SCMP_ARCH_X86_64",
};
#define ARCH_CANDIDATES_N (sizeof(arch_candidates) / sizeof(arch_candidates[0]))

/* api_level: the seccomp_api_get() level at which libseccomp and the kernel
 * both support the attribute. */
static const struct {
    const char *name;
    enum scmp_filter_attr attr;
    unsigned api_level;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC, 2},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG, 3},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB, 4},
};
#define FLAG_TABLE_N (sizeof(flag_table) / sizeof(flag_table[0]))

/* The libseccomp token for "SCMP_ARCH_X86_64" etc., 0 when unknown. */
static uint32_t resolve_arch(const char *name)
{
    static const char prefix[] = "SCMP_ARCH_";
    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    const char *rest = name + sizeof(prefix) - 1;
    char lower[32];
    size_t n = strlen(rest);
    if (n == 0 || n >= sizeof(lower))
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = rest[i];
        /* Only the upper-case spelling is a valid OCI name. */
        if (c >= 'a' && c <= 'z')
            return 0;
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return seccomp_arch_resolve_name(lower);
}

/* Parses an action name plus its optional errnoRet field ("errnoRet" or
 * "defaultErrnoRet" of obj); `where` names obj. */
static int parse_action(json_t *obj, const char *where, const char *action_key, const char *ret_key,
                        uint32_t *out, wharf_error *err)
{
    const char *name = NULL;
    uint64_t ret = 0;
    bool have_ret = false;
    int r;
    if ((r = wjson_string(obj, where, action_key, true, &name, err)) < 0 ||
        (r = wjson_uint64(obj, where, ret_key, &ret, &have_ret, err)) < 0)
        return r;
    if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
        return wharf_error_set(err, -EOPNOTSUPP,
                               "%s.%s: SCMP_ACT_NOTIFY is not supported without a seccomp "
                               "listener (linux.seccomp.listenerPath is not supported)",
                               where, action_key);
    size_t k;
    for (k = 0; k < ACTION_TABLE_N; k++)
        if (strcmp(action_table[k].name, name) == 0)
            break;
    if (k == ACTION_TABLE_N)
        return wharf_error_set(err, -EINVAL, "%s.%s: unknown action %s", where, action_key, name);
    if (have_ret && ret > 0xffff)
        return wharf_error_set(err, -EINVAL, "%s.%s: %" PRIu64 " is out of range (0-65535)", where,
                               ret_key, ret);
    /* As runc: both return-carrying actions default to EPERM. */
    uint32_t value = have_ret ? (uint32_t)ret : EPERM;
    switch (action_table[k].ret) {
    case RET_ERRNO:
        *out = SCMP_ACT_ERRNO(value);
        break;
    case RET_TRACE:
        *out = SCMP_ACT_TRACE(value);
        break;
    default:
        *out = action_table[k].action;
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- builder */

static int add_architectures(scmp_filter_ctx ctx, json_t *seccomp, wharf_error *err)
{
    _cleanup_free_ const char **archs = NULL;
    size_t n = 0;
    int r = wjson_string_array(seccomp, "linux.seccomp", "architectures", false, &archs, &n, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        uint32_t token = resolve_arch(archs[i]);
        if (token == 0)
            return wharf_error_set(err, -EINVAL,
                                   "linux.seccomp.architectures[%zu]: unknown architecture %s", i,
                                   archs[i]);
        r = seccomp_arch_add(ctx, token);
        /* The native architecture is already in a new filter. */
        if (r == -EDOM)
            return wharf_error_set(err, -EINVAL,
                                   "linux.seccomp.architectures[%zu]: %s cannot be combined with "
                                   "the native architecture (different byte order)",
                                   i, archs[i]);
        if (r < 0 && r != -EEXIST)
            return wharf_error_errno(err, -r, "linux.seccomp.architectures[%zu]: adding %s", i,
                                     archs[i]);
    }
    return 0;
}

static int set_flags(scmp_filter_ctx ctx, json_t *seccomp, wharf_error *err)
{
    _cleanup_free_ const char **flags = NULL;
    size_t n = 0;
    int r = wjson_string_array(seccomp, "linux.seccomp", "flags", false, &flags, &n, err);
    if (r < 0)
        return r;
    unsigned api = seccomp_api_get();
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < FLAG_TABLE_N; k++)
            if (strcmp(flag_table[k].name, flags[i]) == 0)
                break;
        if (k == FLAG_TABLE_N)
            return wharf_error_set(err, -EINVAL, "linux.seccomp.flags[%zu]: unknown flag %s", i,
                                   flags[i]);
        if (api < flag_table[k].api_level)
            return wharf_error_set(err, -EOPNOTSUPP,
                                   "linux.seccomp.flags[%zu]: %s is not supported by this kernel "
                                   "or libseccomp",
                                   i, flags[i]);
        r = seccomp_attr_set(ctx, flag_table[k].attr, 1);
        if (r < 0)
            return wharf_error_errno(err, -r, "linux.seccomp.flags[%zu]: setting %s", i, flags[i]);
    }
    return 0;
}

/* The args of one syscalls[] entry as libseccomp comparisons; *split says
 * whether some argument is compared more than once. */
static int parse_args(json_t *entry, const char *where, struct scmp_arg_cmp **out, size_t *count,
                      bool *split, wharf_error *err)
{
    json_t *args = NULL;
    int r = wjson_array(entry, where, "args", false, &args, err);
    *out = NULL;
    *count = 0;
    *split = false;
    if (r < 0 || !args)
        return r;
    size_t n = json_array_size(args);
    _cleanup_free_ struct scmp_arg_cmp *conds = xcalloc(n + 1, sizeof(*conds));
    unsigned per_index[6] = {0};
    for (size_t i = 0; i < n; i++) {
        char aw[96];
        snprintf(aw, sizeof(aw), "%s.args[%zu]", where, i);
        json_t *a = json_array_get(args, i);
        if (!json_is_object(a))
            return wharf_error_set(err, -EINVAL, "%s: expected an object", aw);
        uint64_t index = 0, value = 0, value_two = 0;
        bool have_index = false, have_value = false;
        const char *op = NULL;
        if ((r = wjson_uint64(a, aw, "index", &index, &have_index, err)) < 0 ||
            (r = wjson_uint64(a, aw, "value", &value, &have_value, err)) < 0 ||
            (r = wjson_uint64(a, aw, "valueTwo", &value_two, NULL, err)) < 0 ||
            (r = wjson_string(a, aw, "op", true, &op, err)) < 0)
            return r;
        if (!have_index || !have_value)
            return wharf_error_set(err, -EINVAL, "%s.%s: required field is missing", aw,
                                   have_index ? "value" : "index");
        if (index > 5)
            return wharf_error_set(err, -EINVAL,
                                   "%s.index: %" PRIu64 " is out of range (a syscall has 6 "
                                   "arguments, 0-5)",
                                   aw, index);
        size_t k;
        for (k = 0; k < OPERATOR_TABLE_N; k++)
            if (strcmp(operator_table[k].name, op) == 0)
                break;
        if (k == OPERATOR_TABLE_N)
            return wharf_error_set(err, -EINVAL, "%s.op: unknown operator %s", aw, op);
        if (++per_index[index] > 1)
            *split = true;
        conds[i] = (struct scmp_arg_cmp){.arg = (unsigned)index,
                                         .op = operator_table[k].op,
                                         .datum_a = value,
                                         .datum_b = value_two};
    }
    *out = steal_ptr(conds);
    *count = n;
    return 0;
}

static int add_syscall_entry(scmp_filter_ctx ctx, json_t *syscalls, size_t i,
                             uint32_t default_action, wharf_error *err)
{
    char where[64];
    snprintf(where, sizeof(where), "linux.seccomp.syscalls[%zu]", i);
    json_t *entry = json_array_get(syscalls, i);
    if (!json_is_object(entry))
        return wharf_error_set(err, -EINVAL, "%s: expected an object", where);
    _cleanup_free_ const char **names = NULL;
    size_t n_names = 0;
    uint32_t action = 0;
    _cleanup_free_ struct scmp_arg_cmp *conds = NULL;
    size_t n_conds = 0;
    bool split = false;
    int r;
    if ((r = wjson_string_array(entry, where, "names", true, &names, &n_names, err)) < 0 ||
        (r = parse_action(entry, where, "action", "errnoRet", &action, err)) < 0 ||
        (r = parse_args(entry, where, &conds, &n_conds, &split, err)) < 0)
        return r;
    /* libseccomp refuses a rule that repeats the default action, and it
     * would change nothing. */
    if (action == default_action)
        return 0;
    for (size_t j = 0; j < n_names; j++) {
        int nr = seccomp_syscall_resolve_name(names[j]);
        if (nr == __NR_SCMP_ERROR) {
            /* A newer syscall than libseccomp knows: runc ignores it so one
             * profile serves old and new hosts. */
            wlog_debug("%s.names[%zu]: unknown syscall %s ignored", where, j, names[j]);
            continue;
        }
        if (!split) {
            r = seccomp_rule_add_array(ctx, action, nr, (unsigned)n_conds, n_conds ? conds : NULL);
        } else {
            /* libseccomp cannot AND two comparisons of one argument: like
             * runc, each comparison becomes a rule of its own (an OR). */
            for (size_t c = 0; c < n_conds && r >= 0; c++)
                r = seccomp_rule_add_array(ctx, action, nr, 1, &conds[c]);
        }
        if (r < 0)
            return wharf_error_errno(err, -r, "%s: adding a rule for %s", where, names[j]);
    }
    return 0;
}

/* Builds the filter; *out is NULL when seccomp is NULL. */
static int build_filter(json_t *seccomp, scmp_filter_ctx *out, wharf_error *err)
{
    static const char *where = "linux.seccomp";
    *out = NULL;
    if (!seccomp)
        return 0;
    if (!json_is_object(seccomp))
        return wharf_error_set(err, -EINVAL, "linux.seccomp: expected an object");
    const char *listener = NULL;
    int r = wjson_string(seccomp, where, "listenerPath", false, &listener, err);
    if (r < 0)
        return r;
    if (listener && *listener)
        return wharf_error_set(err, -EOPNOTSUPP,
                               "linux.seccomp.listenerPath: seccomp notify listeners are not "
                               "supported");
    uint32_t default_action = 0;
    if ((r = parse_action(seccomp, where, "defaultAction", "defaultErrnoRet", &default_action,
                          err)) < 0)
        return r;
    _cleanup_filter_ scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx)
        return wharf_error_set(err, -EINVAL,
                               "linux.seccomp.defaultAction: libseccomp refused the action "
                               "(not supported by this kernel?)");
    /* The caller sets no_new_privs itself when the config asks for it. */
    r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0)
        return wharf_error_errno(err, -r, "linux.seccomp: clearing the no_new_privs attribute");
    if ((r = add_architectures(ctx, seccomp, err)) < 0 || (r = set_flags(ctx, seccomp, err)) < 0)
        return r;
    json_t *syscalls = NULL;
    if ((r = wjson_array(seccomp, where, "syscalls", false, &syscalls, err)) < 0)
        return r;
    for (size_t i = 0; i < json_array_size(syscalls); i++)
        if ((r = add_syscall_entry(ctx, syscalls, i, default_action, err)) < 0)
            return r;
    *out = steal_ptr(ctx);
    return 0;
}

int security_seccomp_validate(json_t *seccomp, wharf_error *err)
{
    _cleanup_filter_ scmp_filter_ctx ctx = NULL;
    return build_filter(seccomp, &ctx, err);
}

int security_seccomp_load(json_t *seccomp, wharf_error *err)
{
    _cleanup_filter_ scmp_filter_ctx ctx = NULL;
    int r = build_filter(seccomp, &ctx, err);
    if (r < 0 || !ctx)
        return r;
    r = seccomp_load(ctx);
    if (r < 0)
        return wharf_error_errno(err, -r, "linux.seccomp: loading the filter");
    return 0;
}

/* ---------------------------------------------------------------- features */

json_t *security_seccomp_features(void)
{
    json_t *actions = json_array(), *operators = json_array(), *archs = json_array();
    json_t *known = json_array(), *supported = json_array();
    for (size_t i = 0; i < ACTION_TABLE_N; i++)
        json_array_append_new(actions, json_string(action_table[i].name));
    for (size_t i = 0; i < OPERATOR_TABLE_N; i++)
        json_array_append_new(operators, json_string(operator_table[i].name));
    for (size_t i = 0; i < ARCH_CANDIDATES_N; i++)
        if (resolve_arch(arch_candidates[i]) != 0)
            json_array_append_new(archs, json_string(arch_candidates[i]));
    unsigned api = seccomp_api_get();
    for (size_t i = 0; i < FLAG_TABLE_N; i++) {
        json_array_append_new(known, json_string(flag_table[i].name));
        if (api >= flag_table[i].api_level)
            json_array_append_new(supported, json_string(flag_table[i].name));
    }
    return json_pack("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions", actions,
                     "operators", operators, "archs", archs, "knownFlags", known, "supportedFlags",
                     supported);
}
