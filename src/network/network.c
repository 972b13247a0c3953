/*
 * network.c — the manager: options, the records on disk, networks (create,
 * inspect, list, remove), the default bridge's lazy life, and putting the
 * host back in line with the records at open (after a daemon restart or a
 * reboot: recreate what is missing, remove what is ours but unowned).
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define DEFAULT_BRIDGE "wharf0"
#define DEFAULT_ROOT_TABLE "/var/lib/wharf/network"

void mgr_random_id(char out[65])
{
    unsigned char b[32];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)rand();
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* FNV-1a: a short, stable name for a data root in interface aliases and the
 * table name, so daemons with different roots never touch each other's. */
static uint32_t root_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

const char *network_table(const struct network_mgr *m)
{
    return m->table;
}

/* ---------------------------------------------------------------- records */

static char *rec_path(struct network_mgr *m, const char *kind, const char *id)
{
    return xasprintf("%s/%s/%s.json", m->root, kind, id);
}

static int save_json(const char *path, json_t *j, wharf_error *err)
{
    _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

int store_save_net(struct network_mgr *m, struct net *n, wharf_error *err)
{
    _cleanup_free_ char *path = rec_path(m, "networks", n->id);
    json_t *w = json_object_get(n->rec, "Wharf");
    if (!w)
        json_object_set_new(n->rec, "Wharf", w = json_object());
    json_object_set_new(w, "bridge", json_string(n->bridge));
    json_object_set_new(w, "default", json_boolean(n->is_default));
    json_object_set_new(w, "next_ip", json_integer(n->next_ip));
    if (n->cni)
        json_object_set_new(w, "cni", json_string(n->cni));
    json_t *cfg = json_array();
    if (n->have_subnet) {
        char a[16], g[16], cidr[24];
        snprintf(cidr, sizeof(cidr), "%s/%d", ipam_format(n->subnet, a), n->prefix);
        json_array_append_new(
            cfg, json_pack("{s:s, s:s}", "Subnet", cidr, "Gateway", ipam_format(n->gateway, g)));
    }
    json_object_set_new(json_object_get(n->rec, "IPAM"), "Config", cfg);
    return save_json(path, n->rec, err);
}

void store_remove(struct network_mgr *m, const char *kind, const char *id)
{
    _cleanup_free_ char *path = rec_path(m, kind, id);
    unlink(path);
}

struct net *mgr_net_by_id(struct network_mgr *m, const char *id)
{
    for (struct net *n = m->nets; n; n = n->next)
        if (strcmp(n->id, id) == 0)
            return n;
    return NULL;
}

/* Docker's order: the full id, the exact name, then a unique id prefix. */
static struct net *find_net(struct network_mgr *m, const char *ref, int *status)
{
    *status = -ENOENT;
    if (!ref || !*ref)
        return NULL;
    for (struct net *n = m->nets; n; n = n->next)
        if (strcmp(n->id, ref) == 0 || strcmp(n->name, ref) == 0) {
            *status = 0;
            return n;
        }
    struct net *found = NULL;
    for (struct net *n = m->nets; n; n = n->next)
        if (strncmp(n->id, ref, strlen(ref)) == 0) {
            if (found) {
                *status = -EEXIST;
                return NULL;
            }
            found = n;
        }
    if (found)
        *status = 0;
    return found;
}

struct net *mgr_find_net(struct network_mgr *m, const char *ref)
{
    int st;
    return find_net(m, ref, &st);
}

struct sandbox *mgr_find_sandbox(struct network_mgr *m, const char *id)
{
    for (struct sandbox *s = m->sandboxes; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void net_free(struct net *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->cni);
    json_decref(n->rec);
    free(n);
}

/* A record into a struct net (the record is kept). */
static struct net *net_from_record(json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "Id"));
    const char *name = json_string_value(json_object_get(rec, "Name"));
    const char *driver = json_string_value(json_object_get(rec, "Driver"));
    if (!id || strlen(id) != 64 || !name || !driver)
        return NULL;
    struct net *n = xcalloc(1, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->name = xstrdup(name);
    n->rec = json_incref(rec);
    json_t *w = json_object_get(rec, "Wharf");
    if (strcmp(driver, "host") == 0)
        n->kind = NET_HOST;
    else if (strcmp(driver, "null") == 0)
        n->kind = NET_NULL;
    else if (strncmp(driver, "cni:", 4) == 0)
        n->kind = NET_CNI;
    else
        n->kind = NET_BRIDGE;
    const char *br = json_string_value(json_object_get(w, "bridge"));
    snprintf(n->bridge, sizeof(n->bridge), "%s", br ? br : "");
    const char *cni = json_string_value(json_object_get(w, "cni"));
    n->cni = cni ? xstrdup(cni) : NULL;
    n->is_default = json_is_true(json_object_get(w, "default"));
    n->internal = json_is_true(json_object_get(rec, "Internal"));
    n->next_ip = (uint32_t)json_integer_value(json_object_get(w, "next_ip"));
    json_t *cfg = json_array_get(json_object_get(json_object_get(rec, "IPAM"), "Config"), 0);
    const char *subnet = json_string_value(json_object_get(cfg, "Subnet"));
    const char *gw = json_string_value(json_object_get(cfg, "Gateway"));
    if (subnet && ipam_parse_cidr(subnet, &n->subnet, &n->prefix) == 0) {
        n->have_subnet = true;
        if (!gw || ipam_parse_ip(gw, &n->gateway) < 0)
            n->gateway = n->subnet + 1;
    }
    return n;
}

static json_t *new_record(const char *id, const char *name, const char *driver, bool internal,
                          bool attachable, json_t *labels, json_t *options)
{
    char created[48];
    wharf_time_rfc3339(created, sizeof(created));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:{s:s, s:n, s:[]}, s:b, s:b, s:b, "
                     "s:{s:s}, s:b, s:o, s:o}",
                     "Name", name, "Id", id, "Created", created, "Scope", "local", "Driver", driver,
                     "EnableIPv4", 1, "EnableIPv6", 0, "IPAM", "Driver", "default", "Options",
                     "Config", "Internal", internal, "Attachable", attachable, "Ingress", 0,
                     "ConfigFrom", "Network", "", "ConfigOnly", 0, "Options",
                     options ? json_incref(options) : json_object(), "Labels",
                     labels ? json_incref(labels) : json_object());
}

/* ---------------------------------------------------------------- bridges */

static void bridge_alias(struct network_mgr *m, struct net *n, char *out, size_t len)
{
    snprintf(out, len, "%s:%s", m->tag, n->id);
}

/* The subnets in use: our networks' (but skip) and the host's routes. */
static void used_subnets(struct network_mgr *m, struct net *skip, bool host_routes,
                         struct ipam_net **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    if (host_routes)
        ipam_host_routes(out, n);
    cap = *n;
    for (struct net *x = m->nets; x; x = x->next) {
        if (x == skip || !x->have_subnet)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = (struct ipam_net){x->subnet, x->prefix};
    }
}

static int pick_subnet(struct network_mgr *m, struct net *n, wharf_error *err)
{
    _cleanup_free_ struct ipam_net *used = NULL;
    size_t nused = 0;
    used_subnets(m, n, true, &used, &nused);
    uint32_t subnet;
    int prefix;
    if (ipam_pick_subnet(m->pools, m->n_pools, used, nused, true, &subnet, &prefix) < 0)
        return wharf_error_set(err, -ENOSPC,
                               "could not find an available, non-overlapping IPv4 address pool "
                               "among the defaults to assign to the network");
    n->subnet = subnet;
    n->prefix = prefix;
    n->gateway = subnet + 1;
    n->have_subnet = true;
    return 0;
}

/* A name for the default bridge: wharf0 unless another daemon's interface
 * (or anything else) has it, then wharf1, ... */
static int pick_default_bridge(struct network_mgr *m, struct nl *nl, struct net *n,
                               wharf_error *err)
{
    char alias[256], mine[256];
    bridge_alias(m, n, mine, sizeof(mine));
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof(name), "wharf%d", i);
        bool other_default = false;
        for (struct net *x = m->nets; x; x = x->next)
            other_default |= x != n && strcmp(x->bridge, name) == 0;
        if (other_default)
            continue;
        int idx = nl_link_get(nl, name, alias, sizeof(alias));
        if (idx == 0 || (idx > 0 && strcmp(alias, mine) == 0)) {
            snprintf(n->bridge, sizeof(n->bridge), "%s", name);
            return 0;
        }
    }
    return wharf_error_set(err, -ENOSPC, "default bridge: wharf0 to wharf99 are all taken");
}

/* Makes the network's bridge exist with its address (idempotent). */
int net_bridge_up(struct network_mgr *m, struct net *n, wharf_error *err)
{
    if (n->kind != NET_BRIDGE)
        return 0;
    struct nl *nl = NULL;
    int r = nl_open_in(NULL, &nl, err);
    if (r < 0)
        return r;
    char alias[256], mine[256];
    bridge_alias(m, n, mine, sizeof(mine));
    int idx = nl_link_get(nl, n->bridge, alias, sizeof(alias));
    if (idx > 0 && strcmp(alias, mine) != 0) {
        /* Someone else's: the default bridge moves on unless it was configured. */
        if (!n->is_default || m->bridge_opt) {
            nl_close(nl);
            return wharf_error_set(err, -EADDRINUSE,
                                   "bridge %s: the interface exists and is not this network's",
                                   n->bridge);
        }
        if ((r = pick_default_bridge(m, nl, n, err)) < 0) {
            nl_close(nl);
            return r;
        }
        idx = nl_link_get(nl, n->bridge, alias, sizeof(alias));
    }
    if (idx > 0) {
        n->up = true;
        nl_close(nl);
        return 0;
    }
    if (idx < 0) {
        nl_close(nl);
        return wharf_error_errno(err, -idx, "bridge %s", n->bridge);
    }
    /* The default network's subnet was picked at open; a route that
     * appeared since makes it pick again (nothing uses it yet). */
    if (n->is_default && !m->bip) {
        _cleanup_free_ struct ipam_net *routes = NULL;
        size_t nr = 0;
        ipam_host_routes(&routes, &nr);
        bool clash = !n->have_subnet;
        for (size_t i = 0; i < nr && !clash; i++)
            clash = ipam_overlap(routes[i].addr, routes[i].prefix, n->subnet, n->prefix);
        if (clash && (r = pick_subnet(m, n, err)) < 0) {
            nl_close(nl);
            return r;
        }
    }
    if ((r = nl_bridge_add(nl, n->bridge, mine, err)) < 0) {
        nl_close(nl);
        return r;
    }
    idx = nl_link_get(nl, n->bridge, NULL, 0);
    if (idx <= 0 || (r = nl_addr_add(nl, idx, n->gateway, n->prefix, err)) < 0 ||
        (r = nl_sysctl_link(n->bridge, "route_localnet", "1", err)) < 0) {
        if (idx <= 0)
            r = wharf_error_set(err, -ENODEV, "bridge %s: vanished after its creation", n->bridge);
        nl_link_del(nl, n->bridge, NULL);
        nl_close(nl);
        return r;
    }
    nl_close(nl);
    n->up = true;
    m->nft_dirty = true;
    wharf_error ignored = {0};
    store_save_net(m, n, &ignored);
    return 0;
}

void net_bridge_down(struct network_mgr *m, struct net *n)
{
    if (n->kind != NET_BRIDGE || !n->up)
        return;
    struct nl *nl = NULL;
    wharf_error err = {0};
    if (nl_open_in(NULL, &nl, &err) == 0) {
        char alias[256], mine[256];
        bridge_alias(m, n, mine, sizeof(mine));
        if (nl_link_get(nl, n->bridge, alias, sizeof(alias)) > 0 && strcmp(alias, mine) == 0 &&
            nl_link_del(nl, n->bridge, &err) < 0)
            wlog_warn("network %s: %s", n->name, err.msg);
        nl_close(nl);
    }
    n->up = false;
    m->nft_dirty = true;
}

static struct sandbox *net_user(struct network_mgr *m, struct net *n)
{
    for (struct sandbox *s = m->sandboxes; s; s = s->next)
        for (size_t i = 0; i < s->n_eps; i++)
            if (s->eps[i].net == n)
                return s;
    return NULL;
}

static bool net_in_use(struct network_mgr *m, struct net *n)
{
    return net_user(m, n) != NULL;
}

/* The default bridge exists while containers are on it. */
void net_release_default(struct network_mgr *m, struct net *n)
{
    if (n && n->is_default && n->up && !net_in_use(m, n))
        net_bridge_down(m, n);
}

/* ---------------------------------------------------------------- reaper */

static void *reaper_thread(void *arg)
{
    struct network_mgr *m = arg;
    struct nl *nl = NULL;
    wharf_error err = {0};
    pthread_mutex_lock(&m->lock);
    for (;;) {
        while (!m->n_reap && !m->reaper_stop)
            pthread_cond_wait(&m->reap_cond, &m->lock);
        if (!m->n_reap)
            break; /* stopping, nothing left */
        char name[16];
        memcpy(name, m->reap[--m->n_reap], sizeof(name));
        pthread_mutex_unlock(&m->lock);
        if (nl || nl_open_in(NULL, &nl, &err) == 0)
            nl_link_del(nl, name, NULL);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    nl_close(nl);
    return NULL;
}

/* m->lock held. */
void net_reap(struct network_mgr *m, const char *ifname)
{
    if (!m->reaper_running) {
        struct nl *nl = NULL;
        if (nl_open_in(NULL, &nl, NULL) == 0) {
            nl_link_del(nl, ifname, NULL);
            nl_close(nl);
        }
        return;
    }
    m->reap = xrealloc(m->reap, (m->n_reap + 1) * sizeof(*m->reap));
    snprintf(m->reap[m->n_reap++], 16, "%s", ifname);
    pthread_cond_signal(&m->reap_cond);
}

/* ---------------------------------------------------------------- networks */

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

int network_create(struct network_mgr *m, const struct network_config *cfg, char id[65],
                   wharf_error *err)
{
    const char *driver = cfg->driver && *cfg->driver ? cfg->driver : "bridge";
    if (!valid_name(cfg->name))
        return wharf_error_set(err, -EINVAL,
                               "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                               "allowed",
                               cfg->name ? cfg->name : "");
    bool cni = strncmp(driver, "cni:", 4) == 0;
    if (strcmp(driver, "bridge") != 0 && !(cni && driver[4]))
        return wharf_error_set(
            err, -EINVAL, "plugin \"%s\" not found: the drivers are bridge and cni:NAME", driver);
    uint32_t subnet = 0, gateway = 0;
    int prefix = 0;
    if (cfg->subnet && *cfg->subnet) {
        if (ipam_parse_cidr(cfg->subnet, &subnet, &prefix) < 0)
            return wharf_error_set(err, -EINVAL, "invalid subnet %s: not an IPv4 CIDR",
                                   cfg->subnet);
        if (prefix > 30)
            return wharf_error_set(err, -EINVAL, "invalid subnet %s: too small for containers",
                                   cfg->subnet);
        if (subnet & ~ipam_mask(prefix))
            return wharf_error_set(err, -EINVAL, "invalid subnet %s: it should be %s/%d",
                                   cfg->subnet,
                                   ipam_format(subnet & ipam_mask(prefix), (char[16]){0}), prefix);
    } else if (cfg->gateway && *cfg->gateway) {
        return wharf_error_set(err, -EINVAL, "a gateway needs a subnet (--subnet)");
    }
    if (cfg->gateway && *cfg->gateway) {
        if (ipam_parse_ip(cfg->gateway, &gateway) < 0)
            return wharf_error_set(err, -EINVAL, "invalid gateway %s: not an IPv4 address",
                                   cfg->gateway);
        if (!ipam_contains(subnet, prefix, gateway) || gateway == subnet ||
            gateway == (subnet | ~ipam_mask(prefix)))
            return wharf_error_set(err, -EINVAL,
                                   "invalid gateway %s: not a host address of subnet %s",
                                   cfg->gateway, cfg->subnet);
    }
    json_t *cni_conf = NULL;
    if (cni && !(cni_conf = cni_load(m, driver + 4, err)))
        return err->code;
    json_decref(cni_conf);
    pthread_mutex_lock(&m->lock);
    int r = 0;
    struct net *n = NULL;
    for (struct net *x = m->nets; x; x = x->next)
        if (strcmp(x->name, cfg->name) == 0) {
            r = wharf_error_set(err, -EEXIST, "network with name %s already exists", cfg->name);
            goto out;
        }
    n = xcalloc(1, sizeof(*n));
    mgr_random_id(n->id);
    n->name = xstrdup(cfg->name);
    n->kind = cni ? NET_CNI : NET_BRIDGE;
    n->internal = cfg->internal;
    if (cni)
        n->cni = xstrdup(driver + 4);
    const char *brname =
        json_string_value(json_object_get(cfg->options, "com.docker.network.bridge.name"));
    if (brname && (strlen(brname) > 15 || !*brname)) {
        r = wharf_error_set(err, -EINVAL, "bridge name \"%s\": at most 15 characters", brname);
        goto out;
    }
    snprintf(n->bridge, sizeof(n->bridge), "%s", cni ? "" : brname ? brname : "");
    if (!cni && !brname)
        snprintf(n->bridge, sizeof(n->bridge), "br-%.12s", n->id);
    if (!cni) {
        if (prefix) {
            _cleanup_free_ struct ipam_net *used = NULL;
            size_t nused = 0;
            used_subnets(m, NULL, false, &used, &nused);
            for (size_t i = 0; i < nused; i++)
                if (ipam_overlap(used[i].addr, used[i].prefix, subnet, prefix)) {
                    r = wharf_error_set(err, -EADDRINUSE,
                                        "invalid pool request: Pool overlaps with other one on "
                                        "this address space");
                    goto out;
                }
            n->subnet = subnet;
            n->prefix = prefix;
            n->gateway = gateway ? gateway : subnet + 1;
            n->have_subnet = true;
        } else if ((r = pick_subnet(m, n, err)) < 0) {
            goto out;
        }
    }
    n->rec = new_record(n->id, n->name, driver, cfg->internal, cfg->attachable, cfg->labels,
                        cfg->options);
    if ((r = net_bridge_up(m, n, err)) < 0)
        goto out;
    if ((r = store_save_net(m, n, err)) < 0) {
        net_bridge_down(m, n);
        goto out;
    }
    n->next = m->nets;
    m->nets = n;
    wharf_error nerr = {0};
    if (n->kind == NET_BRIDGE && nft_sync(m, &nerr) < 0) {
        m->nets = n->next;
        net_bridge_down(m, n);
        store_remove(m, "networks", n->id);
        r = wharf_error_set(err, nerr.code, "%s", nerr.msg);
        goto out;
    }
    memcpy(id, n->id, 65);
    n = NULL;
out:
    pthread_mutex_unlock(&m->lock);
    net_free(n);
    return r;
}

static json_t *inspect_locked(struct network_mgr *m, struct net *n)
{
    json_t *j = json_deep_copy(n->rec);
    json_object_del(j, "Wharf");
    json_t *cs = json_object();
    for (struct sandbox *s = m->sandboxes; s; s = s->next) {
        for (size_t i = 0; i < s->n_eps; i++) {
            struct endpoint *ep = &s->eps[i];
            if (ep->net != n)
                continue;
            char ip[16], mac[18], cidr[24] = "";
            snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ep->mac[0], ep->mac[1],
                     ep->mac[2], ep->mac[3], ep->mac[4], ep->mac[5]);
            if (ep->ip)
                snprintf(cidr, sizeof(cidr), "%s/%d", ipam_format(ep->ip, ip), n->prefix);
            json_object_set_new(cs, s->id,
                                json_pack("{s:s, s:s, s:s, s:s, s:s}", "Name",
                                          s->name ? s->name : "", "EndpointID", ep->id,
                                          "MacAddress", ep->ip ? mac : "", "IPv4Address", cidr,
                                          "IPv6Address", ""));
        }
    }
    json_object_set_new(j, "Containers", cs);
    if (n->is_default) {
        json_t *o = json_object_get(j, "Options");
        json_object_set_new(o, "com.docker.network.bridge.name", json_string(n->bridge));
    }
    return j;
}

json_t *network_inspect(struct network_mgr *m, const char *ref, wharf_error *err)
{
    pthread_mutex_lock(&m->lock);
    int st;
    struct net *n = find_net(m, ref, &st);
    json_t *j = NULL;
    if (n)
        j = inspect_locked(m, n);
    else if (st == -EEXIST)
        wharf_error_set(err, -EEXIST, "network %s is ambiguous (%s)", ref,
                        "multiple networks match");
    else
        wharf_error_set(err, -ENOENT, "network %s not found", ref ? ref : "");
    pthread_mutex_unlock(&m->lock);
    return j;
}

json_t *network_list(struct network_mgr *m)
{
    json_t *a = json_array();
    pthread_mutex_lock(&m->lock);
    for (struct net *n = m->nets; n; n = n->next)
        json_array_append_new(a, inspect_locked(m, n));
    pthread_mutex_unlock(&m->lock);
    return a;
}

int network_remove(struct network_mgr *m, const char *ref, wharf_error *err)
{
    pthread_mutex_lock(&m->lock);
    int st, r = 0;
    struct net *n = find_net(m, ref, &st);
    if (!n) {
        r = st == -EEXIST ? wharf_error_set(err, -EEXIST, "network %s is ambiguous", ref)
                          : wharf_error_set(err, -ENOENT, "network %s not found", ref);
        goto out;
    }
    if (n->is_default || n->kind == NET_HOST || n->kind == NET_NULL) {
        r = wharf_error_set(err, -EPERM, "%s is a pre-defined network and cannot be removed",
                            n->name);
        goto out;
    }
    struct sandbox *user = net_user(m, n);
    if (user) {
        r = wharf_error_set(err, -EBUSY,
                            "error while removing network: network %s has active endpoints "
                            "(name:\"%s\" id:\"%.12s\")",
                            n->name, user->name ? user->name : "", user->id);
        goto out;
    }
    for (struct net **pp = &m->nets; *pp; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    net_bridge_down(m, n);
    store_remove(m, "networks", n->id);
    wharf_error nerr = {0};
    if (n->kind == NET_BRIDGE && nft_sync(m, &nerr) < 0)
        wlog_warn("network %s: rules: %s", n->name, nerr.msg);
    net_free(n);
out:
    pthread_mutex_unlock(&m->lock);
    return r;
}

/* ---------------------------------------------------------------- open */

static int add_predefined(struct network_mgr *m, const char *name, const char *driver,
                          bool is_default, wharf_error *err)
{
    for (struct net *n = m->nets; n; n = n->next)
        if (strcmp(n->name, name) == 0)
            return 0;
    char id[65];
    mgr_random_id(id);
    json_t *opts = json_object();
    if (is_default) {
        json_object_set_new(opts, "com.docker.network.bridge.default_bridge", json_string("true"));
        json_object_set_new(opts, "com.docker.network.bridge.enable_icc", json_string("true"));
        json_object_set_new(opts, "com.docker.network.bridge.enable_ip_masquerade",
                            json_string("true"));
        json_object_set_new(opts, "com.docker.network.bridge.host_binding_ipv4",
                            json_string("0.0.0.0"));
        json_object_set_new(opts, "com.docker.network.driver.mtu", json_string("1500"));
    }
    json_t *rec = new_record(id, name, driver, false, false, NULL, opts);
    json_decref(opts);
    struct net *n = net_from_record(rec);
    json_decref(rec);
    n->is_default = is_default;
    if (is_default) {
        if (m->bip) {
            uint32_t ip;
            int prefix;
            if (ipam_parse_cidr(m->bip, &ip, &prefix) < 0 || prefix > 30 || prefix < 8) {
                net_free(n);
                return wharf_error_set(err, -EINVAL, "bip: \"%s\" is not an IPv4 address/prefix",
                                       m->bip);
            }
            n->subnet = ip & ipam_mask(prefix);
            n->prefix = prefix;
            n->gateway = ip == n->subnet ? ip + 1 : ip;
            n->have_subnet = true;
        } else {
            int r = pick_subnet(m, n, err);
            if (r < 0) {
                net_free(n);
                return r;
            }
        }
        snprintf(n->bridge, sizeof(n->bridge), "%s",
                 m->bridge_opt ? m->bridge_opt : DEFAULT_BRIDGE);
    }
    int r = store_save_net(m, n, err);
    if (r < 0) {
        net_free(n);
        return r;
    }
    n->next = m->nets;
    m->nets = n;
    return 0;
}

static int load_networks(struct network_mgr *m, wharf_error *err)
{
    _cleanup_free_ char *dir = xasprintf("%s/networks", m->root);
    DIR *d = opendir(dir);
    if (!d)
        return wharf_error_errno(err, errno, "%s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len != 69 || strcmp(de->d_name + 64, ".json") != 0)
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
        wharf_error lerr = {0};
        json_t *rec = wjson_load_file(path, &lerr);
        struct net *n = rec ? net_from_record(rec) : NULL;
        json_decref(rec);
        if (!n) {
            wlog_warn("network record %s: unreadable, skipped", path);
            continue;
        }
        n->next = m->nets;
        m->nets = n;
    }
    closedir(d);
    return 0;
}

struct stale_ctx {
    struct network_mgr *m;
    char **names;
    size_t n;
};

static void find_stale(const char *name, const char *alias, void *data)
{
    struct stale_ctx *c = data;
    size_t tl = strlen(c->m->tag);
    if (strncmp(alias, c->m->tag, tl) != 0 || alias[tl] != ':')
        return;
    struct net *n = mgr_net_by_id(c->m, alias + tl + 1);
    if (n && strcmp(n->bridge, name) == 0) {
        n->up = true;
        return;
    }
    c->names = xrealloc(c->names, (c->n + 1) * sizeof(char *));
    c->names[c->n++] = xstrdup(name);
}

/* Interfaces marked ours that no network owns are removed; our bridges that
 * exist are marked up. */
static void clean_links(struct network_mgr *m)
{
    struct nl *nl = NULL;
    wharf_error err = {0};
    if (nl_open_in(NULL, &nl, &err) < 0) {
        wlog_warn("network clean-up: %s", err.msg);
        return;
    }
    struct stale_ctx c = {m, NULL, 0};
    if (nl_link_dump(nl, find_stale, &c, &err) < 0)
        wlog_warn("network clean-up: %s", err.msg);
    for (size_t i = 0; i < c.n; i++) {
        wlog_info("network clean-up: removing stale interface %s", c.names[i]);
        nl_link_del(nl, c.names[i], NULL);
        free(c.names[i]);
    }
    free(c.names);
    nl_close(nl);
}

/* Namespace files no sandbox owns. */
static void clean_netns(struct network_mgr *m)
{
    _cleanup_free_ char *dir = xasprintf("%s/netns", m->root);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || mgr_find_sandbox(m, de->d_name))
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
        netns_remove(path);
    }
    closedir(d);
    _cleanup_free_ char *files = xasprintf("%s/files", m->root);
    if (!(d = opendir(files)))
        return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || mgr_find_sandbox(m, de->d_name))
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", files, de->d_name);
        wharf_rm_rf(path, NULL);
    }
    closedir(d);
}

static char *dup_opt(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int network_open(const struct network_options *opts, struct network_mgr **out, wharf_error *err)
{
    if (!opts->root || opts->root[0] != '/')
        return wharf_error_set(err, -EINVAL, "network: the data root must be an absolute path");
    struct network_mgr *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->reap_cond, NULL);
    m->root = xstrdup(opts->root);
    uint32_t h = root_hash(opts->root);
    m->table =
        strcmp(opts->root, DEFAULT_ROOT_TABLE) == 0 ? xstrdup("wharf") : xasprintf("wharf_%08x", h);
    m->tag = xasprintf("wharf:%08x", h);
    m->bridge_opt = dup_opt(opts->bridge);
    m->bip = dup_opt(opts->bip);
    m->dns = opts->dns ? json_incref(opts->dns) : NULL;
    m->dns_search = opts->dns_search ? json_incref(opts->dns_search) : NULL;
    m->dns_options = opts->dns_options ? json_incref(opts->dns_options) : NULL;
    m->cni_conf_dir = xstrdup(opts->cni_conf_dir ? opts->cni_conf_dir : "/etc/cni/net.d");
    m->cni_bin_dir = xstrdup(opts->cni_bin_dir ? opts->cni_bin_dir : "/usr/lib/cni");
    m->resolv_conf = xstrdup(opts->resolv_conf ? opts->resolv_conf : "/etc/resolv.conf");
    int r;
    static const char *const dirs[] = {"networks", "sandboxes", "netns", "files"};
    for (size_t i = 0; i < 4; i++) {
        _cleanup_free_ char *d = xasprintf("%s/%s", m->root, dirs[i]);
        if ((r = wharf_mkdir_p(d, 0700, err)) < 0)
            goto fail;
    }
    if (m->bridge_opt && (strlen(m->bridge_opt) > 15 || !*m->bridge_opt)) {
        r = wharf_error_set(err, -EINVAL, "bridge: \"%s\" is not an interface name", m->bridge_opt);
        goto fail;
    }
    if ((r = ipam_parse_pools(opts->address_pools, &m->pools, &m->n_pools, err)) < 0 ||
        (r = load_networks(m, err)) < 0)
        goto fail;
    bool no_default = m->bridge_opt && strcmp(m->bridge_opt, "none") == 0;
    if ((!no_default && (r = add_predefined(m, "bridge", "bridge", true, err)) < 0) ||
        (r = add_predefined(m, "host", "host", false, err)) < 0 ||
        (r = add_predefined(m, "none", "null", false, err)) < 0)
        goto fail;
    /* Forwarding is what bridged containers need to reach anything. */
    wharf_write_string("/proc/sys/net/ipv4/ip_forward", "1", NULL);
    clean_links(m);
    sandbox_load_all(m);
    clean_netns(m);
    for (struct net *n = m->nets; n; n = n->next) {
        wharf_error berr = {0};
        if (n->kind == NET_BRIDGE && !n->is_default && net_bridge_up(m, n, &berr) < 0)
            wlog_warn("network %s: %s", n->name, berr.msg);
    }
    if ((r = dns_start(m, err)) < 0)
        goto fail;
    if ((r = pthread_create(&m->reaper, NULL, reaper_thread, m)) != 0) {
        r = wharf_error_errno(err, r, "network: reaper thread");
        goto fail;
    }
    m->reaper_running = true;
    for (struct sandbox *s = m->sandboxes; s; s = s->next)
        sandbox_restore(m, s);
    for (struct net *n = m->nets; n; n = n->next)
        net_release_default(m, n);
    wharf_error nerr = {0};
    if (nft_sync(m, &nerr) < 0)
        wlog_warn("network rules: %s", nerr.msg);
    *out = m;
    return 0;
fail:
    network_close(m);
    return r;
}

void network_close(struct network_mgr *m)
{
    if (!m)
        return;
    dns_stop(m);
    if (m->reaper_running) {
        /* what is queued is deleted first */
        pthread_mutex_lock(&m->lock);
        m->reaper_stop = true;
        pthread_cond_signal(&m->reap_cond);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->reaper, NULL);
        m->reaper_running = false;
    }
    /* The default bridge stays while the daemon runs (a container run
     * after another should not pay for it again); an unused one goes with
     * the daemon. */
    pthread_mutex_lock(&m->lock);
    for (struct net *n = m->nets; n; n = n->next)
        net_release_default(m, n);
    nft_settle(m);
    pthread_mutex_unlock(&m->lock);
    while (m->sandboxes) {
        struct sandbox *s = m->sandboxes;
        m->sandboxes = s->next;
        sandbox_free(s);
    }
    while (m->nets) {
        struct net *n = m->nets;
        m->nets = n->next;
        net_free(n);
    }
    free(m->root);
    free(m->table);
    free(m->tag);
    free(m->bridge_opt);
    free(m->bip);
    free(m->pools);
    json_decref(m->dns);
    json_decref(m->dns_search);
    json_decref(m->dns_options);
    free(m->cni_conf_dir);
    free(m->cni_bin_dir);
    free(m->resolv_conf);
    free(m->reap);
    pthread_cond_destroy(&m->reap_cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
