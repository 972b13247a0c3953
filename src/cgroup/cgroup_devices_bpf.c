/*
 * cgroup_devices_bpf.c — the device allow-list on cgroup2, which has no
 * devices.allow file: a BPF_PROG_TYPE_CGROUP_DEVICE program, assembled here
 * by hand from the OCI rules and attached to the container's directory
 * through the bpf() syscall (no libbpf, so nothing extra to link).
 *
 * Semantics, the same as replaying the rules into a v1 devices cgroup that
 * starts at "deny all": the last rule that matches decides, nothing matching
 * means deny. An allow rule matches when the requested access is a subset of
 * its letters; a deny rule when it overlaps them (v1 allow-list and
 * exception-list behaviour respectively).
 *
 * The program is attached with BPF_F_ALLOW_MULTI so programs of parent
 * cgroups (systemd's) still run, and it is named so a later `update` can
 * find and replace it instead of stacking a second one.
 */
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#define PROG_NAME "wharf_devices"

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* ------------------------------------------------------------ assembler */

struct prog {
    struct bpf_insn *insns;
    size_t len, cap;
};

static size_t emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    if (p->len == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->insns = xrealloc(p->insns, p->cap * sizeof(*p->insns));
    }
    struct bpf_insn *i = &p->insns[p->len];
    memset(i, 0, sizeof(*i));
    i->code = code;
    i->dst_reg = dst & 0xf;
    i->src_reg = src & 0xf;
    i->off = off;
    i->imm = imm;
    return p->len++;
}

/* Registers after the prologue. */
enum { R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5, R_TMP = 1 };

static void build(struct prog *p, const struct cgroup_dev_rule *rules, size_t n)
{
    /* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; } */
    emit(p, BPF_LDX | BPF_MEM | BPF_W, R_TYPE, 1, 0, 0);
    emit(p, BPF_ALU | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff);
    emit(p, BPF_LDX | BPF_MEM | BPF_W, R_ACCESS, 1, 0, 0);
    emit(p, BPF_ALU | BPF_RSH | BPF_K, R_ACCESS, 0, 0, 16);
    emit(p, BPF_LDX | BPF_MEM | BPF_W, R_MAJOR, 1, 4, 0);
    emit(p, BPF_LDX | BPF_MEM | BPF_W, R_MINOR, 1, 8, 0);

    /* Last rule wins: test from the end, the first hit returns. */
    for (size_t k = n; k-- > 0;) {
        const struct cgroup_dev_rule *r = &rules[k];
        size_t jumps[4];
        size_t nj = 0;
        if (r->type != 'a')
            jumps[nj++] = emit(p, BPF_JMP32 | BPF_JNE | BPF_K, R_TYPE, 0, 0,
                               r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        unsigned all = CGROUP_DEV_READ | CGROUP_DEV_WRITE | CGROUP_DEV_MKNOD;
        if ((r->access & all) != all) {
            emit(p, BPF_ALU | BPF_MOV | BPF_X, R_TMP, R_ACCESS, 0, 0);
            if (r->allow) { /* skip unless request ⊆ rule */
                emit(p, BPF_ALU | BPF_AND | BPF_K, R_TMP, 0, 0, (int32_t)(~r->access & all));
                jumps[nj++] = emit(p, BPF_JMP32 | BPF_JNE | BPF_K, R_TMP, 0, 0, 0);
            } else { /* skip unless request ∩ rule */
                emit(p, BPF_ALU | BPF_AND | BPF_K, R_TMP, 0, 0, (int32_t)r->access);
                jumps[nj++] = emit(p, BPF_JMP32 | BPF_JEQ | BPF_K, R_TMP, 0, 0, 0);
            }
        }
        if (r->type != 'a' && r->major >= 0)
            jumps[nj++] =
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, R_MAJOR, 0, 0, (int32_t)(uint32_t)r->major);
        if (r->type != 'a' && r->minor >= 0)
            jumps[nj++] =
                emit(p, BPF_JMP32 | BPF_JNE | BPF_K, R_MINOR, 0, 0, (int32_t)(uint32_t)r->minor);
        emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, r->allow ? 1 : 0);
        emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        /* A rule matching everything decides alone: the verifier refuses
         * the then unreachable earlier rules and default. */
        if (nj == 0)
            return;
        for (size_t j = 0; j < nj; j++) /* to the next rule's first instruction */
            p->insns[jumps[j]].off = (int16_t)(p->len - jumps[j] - 1);
    }
    emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
    emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

bool cgroup_dev_rules_allow(const struct cgroup_dev_rule *rules, size_t count, char type,
                            uint32_t major, uint32_t minor, unsigned access)
{
    for (size_t k = count; k-- > 0;) {
        const struct cgroup_dev_rule *r = &rules[k];
        if (r->type != 'a' && (r->type != type || (r->major >= 0 && (uint32_t)r->major != major) ||
                               (r->minor >= 0 && (uint32_t)r->minor != minor)))
            continue;
        if (r->allow ? (access & ~r->access) != 0 : (access & r->access) == 0)
            continue;
        return r->allow;
    }
    return false;
}

/* ------------------------------------------------------------ kernel */

static int load(const struct prog *p, wharf_error *err)
{
    static char log[65536];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)p->insns;
    attr.insn_cnt = (uint32_t)p->len;
    attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
    memcpy(attr.prog_name, PROG_NAME, sizeof(PROG_NAME));
    int fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    int e = errno;
    /* Load again with the verifier log so the error says why. */
    log[0] = '\0';
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    size_t l = strlen(log);
    while (l > 0 && log[l - 1] == '\n')
        log[--l] = '\0';
    const char *tail = l > 300 ? log + l - 300 : log;
    return wharf_error_errno(err, e, "loading the eBPF device program (%zu instructions)%s%s",
                             p->len, *tail ? ": verifier: " : "", tail);
}

/* Our programs already attached to the cgroup: fds into *fds (caller closes). */
static int find_ours(int cgfd, int **fds, size_t *count)
{
    uint32_t ids[64];
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgfd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = 64;
    *fds = NULL;
    *count = 0;
    if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
        return -errno;
    for (uint32_t i = 0; i < attr.query.prog_cnt && i < 64; i++) {
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.prog_id = ids[i];
        int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
        if (fd < 0)
            continue;
        struct bpf_prog_info info;
        memset(&info, 0, sizeof(info));
        memset(&a, 0, sizeof(a));
        a.info.bpf_fd = (uint32_t)fd;
        a.info.info_len = sizeof(info);
        a.info.info = (uint64_t)(uintptr_t)&info;
        if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 && strcmp(info.name, PROG_NAME) == 0) {
            *fds = xrealloc(*fds, (*count + 1) * sizeof(int));
            (*fds)[(*count)++] = fd;
        } else {
            close(fd);
        }
    }
    return 0;
}

int cgroup_devices_bpf_apply(const char *dir, const struct cgroup_dev_rule *rules, size_t count,
                             wharf_error *err)
{
    _cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgfd < 0)
        return wharf_error_errno(err, errno, "open %s", dir);
    /* Jump offsets are 16 bits and each rule takes at most 9 instructions. */
    if (count > 3000)
        return wharf_error_set(err, -E2BIG, "%zu device rules are too many (at most 3000)", count);
    struct prog p = {0};
    build(&p, rules, count);
    _cleanup_close_ int prog = load(&p, err);
    free(p.insns);
    if (prog < 0)
        return prog;

    int *old = NULL;
    size_t nold = 0;
    int qr = find_ours(cgfd, &old, &nold);
    if (qr < 0 && qr != -EINVAL)
        wlog_debug("cgroup %s: querying device programs: %s", dir, strerror(-qr));

    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgfd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    int r = 0;
    size_t first_detach = 0;
    if (nold > 0) {
        /* Swap atomically so there is no moment with both or neither. */
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = (uint32_t)old[0];
        if (sys_bpf(BPF_PROG_ATTACH, &attr) == 0) {
            first_detach = 1;
        } else {
            attr.attach_flags = BPF_F_ALLOW_MULTI;
            attr.replace_bpf_fd = 0;
            if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
                r = wharf_error_errno(err, errno, "attaching the eBPF device program to %s", dir);
        }
    } else if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
        r = wharf_error_errno(err, errno, "attaching the eBPF device program to %s", dir);
    }
    for (size_t i = 0; i < nold; i++) {
        if (r == 0 && i >= first_detach) {
            union bpf_attr d;
            memset(&d, 0, sizeof(d));
            d.target_fd = (uint32_t)cgfd;
            d.attach_bpf_fd = (uint32_t)old[i];
            d.attach_type = BPF_CGROUP_DEVICE;
            if (sys_bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT)
                r = wharf_error_errno(err, errno, "detaching the previous device program from %s",
                                      dir);
        }
        close(old[i]);
    }
    free(old);
    return r;
}
