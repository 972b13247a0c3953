/*
 * ipam.c — IPv4 addresses and subnets: parsing, overlap, the address pools
 * new networks take their subnets from (Docker's default-address-pools),
 * and the host's routes a chosen subnet must not collide with.
 *
 * Addresses are uint32_t in host byte order throughout the module.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

char *ipam_format(uint32_t ip, char buf[16])
{
    snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return buf;
}

int ipam_parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return -EINVAL;
    *out = ntohl(a.s_addr);
    return 0;
}

uint32_t ipam_mask(int prefix)
{
    return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int ipam_parse_cidr(const char *s, uint32_t *addr, int *prefix)
{
    if (!s)
        return -EINVAL;
    const char *slash = strchr(s, '/');
    if (!slash || slash - s >= 16 || !slash[1])
        return -EINVAL;
    char ip[16];
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    char *end;
    long p = strtol(slash + 1, &end, 10);
    if (*end || p < 0 || p > 32 || ipam_parse_ip(ip, addr) < 0)
        return -EINVAL;
    *prefix = (int)p;
    return 0;
}

bool ipam_overlap(uint32_t a, int pa, uint32_t b, int pb)
{
    int p = pa < pb ? pa : pb;
    return (a & ipam_mask(p)) == (b & ipam_mask(p));
}

bool ipam_contains(uint32_t net, int prefix, uint32_t ip)
{
    return (ip & ipam_mask(prefix)) == (net & ipam_mask(prefix));
}

int ipam_host_routes(struct ipam_net **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen("/proc/net/route", "re");
    if (!f)
        return -errno;
    char line[512];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        char ifname[64];
        unsigned dst, gw, flags, mask;
        int refcnt, use, metric;
        if (sscanf(line, "%63s %x %x %x %d %d %d %x", ifname, &dst, &gw, &flags, &refcnt, &use,
                   &metric, &mask) != 8)
            continue; /* the header */
        uint32_t m = ntohl(mask);
        if (m == 0)
            continue; /* the default route collides with nothing */
        int prefix = __builtin_popcount(m);
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = (struct ipam_net){ntohl(dst) & m, prefix};
    }
    fclose(f);
    return 0;
}

/* Docker's defaults start at 172.17; ours start from the other end of the
 * same range, so a dockerd on the same host and wharf pick apart, then
 * 192.168.0.0/16 in /20s. */
static const struct ipam_pool default_pools[] = {
    {0xac100000u /* 172.16.0.0 */, 12, 16},
    {0xc0a80000u /* 192.168.0.0 */, 16, 20},
};

int ipam_parse_pools(json_t *pools, struct ipam_pool **out, size_t *n, wharf_error *err)
{
    if (!pools || (json_is_array(pools) && json_array_size(pools) == 0)) {
        *n = sizeof(default_pools) / sizeof(default_pools[0]);
        *out = xmalloc(sizeof(default_pools));
        memcpy(*out, default_pools, sizeof(default_pools));
        return 0;
    }
    if (!json_is_array(pools))
        return wharf_error_set(err, -EINVAL, "default-address-pools: expected an array");
    *n = json_array_size(pools);
    *out = xcalloc(*n, sizeof(**out));
    size_t i;
    json_t *p;
    json_array_foreach(pools, i, p)
    {
        const char *base = json_string_value(json_object_get(p, "base"));
        json_t *size = json_object_get(p, "size");
        struct ipam_pool *o = &(*out)[i];
        if (ipam_parse_cidr(base, &o->base, &o->prefix) < 0) {
            free(*out);
            *out = NULL;
            return wharf_error_set(err, -EINVAL,
                                   "default-address-pools[%zu].base: \"%s\" is not an IPv4 CIDR", i,
                                   base ? base : "");
        }
        if (!json_is_integer(size) || json_integer_value(size) < o->prefix ||
            json_integer_value(size) > 30) {
            free(*out);
            *out = NULL;
            return wharf_error_set(err, -EINVAL,
                                   "default-address-pools[%zu].size: expected a prefix length "
                                   "between the base's and 30",
                                   i);
        }
        o->size = (int)json_integer_value(size);
        o->base &= ipam_mask(o->prefix);
    }
    return 0;
}

static bool taken(uint32_t net, int prefix, const struct ipam_net *used, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ipam_overlap(net, prefix, used[i].addr, used[i].prefix))
            return true;
    return false;
}

int ipam_pick_subnet(const struct ipam_pool *pools, size_t np, const struct ipam_net *used,
                     size_t nused, bool from_top, uint32_t *subnet, int *prefix)
{
    for (size_t i = 0; i < np; i++) {
        uint64_t count = 1ull << (pools[i].size - pools[i].prefix);
        uint32_t step = pools[i].size >= 32 ? 1 : 1u << (32 - pools[i].size);
        for (uint64_t k = 0; k < count; k++) {
            uint64_t idx = from_top ? count - 1 - k : k;
            uint32_t net = pools[i].base + (uint32_t)(idx * step);
            if (!taken(net, pools[i].size, used, nused)) {
                *subnet = net;
                *prefix = pools[i].size;
                return 0;
            }
        }
    }
    return -ENOSPC;
}
