/*
 * sandbox.c — a container's network: its namespace, one endpoint (veth and
 * address, or a CNI attachment) per network, the host ports it publishes,
 * its DNS sockets, and the hosts/resolv.conf/hostname files it sees.
 *
 * Everything is set up before the container exists and undone in reverse
 * on any failure, so a refused container leaves no interface, rule, socket
 * or file behind. The namespace stays across container restarts; only
 * removing the container (or disconnecting a network) takes things down.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- records */

static void endpoint_release(struct endpoint *ep)
{
    json_decref(ep->aliases);
    json_decref(ep->cni_result);
    ep->aliases = ep->cni_result = NULL;
}

static void port_release(struct port *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->host_port = 0;
}

void sandbox_free(struct sandbox *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_eps; i++)
        endpoint_release(&s->eps[i]);
    for (size_t i = 0; i < s->n_ports; i++)
        port_release(&s->ports[i]);
    free(s->eps);
    free(s->ports);
    free(s->name);
    free(s->hostname);
    free(s->domainname);
    free(s->mode);
    free(s->provider);
    free(s->netns);
    json_decref(s->config);
    free(s);
}

const char *net_proto_name(int proto)
{
    return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "tcp";
}

static int proto_number(const char *name)
{
    return !name || strcmp(name, "tcp") == 0 ? IPPROTO_TCP
           : strcmp(name, "udp") == 0        ? IPPROTO_UDP
           : strcmp(name, "sctp") == 0       ? IPPROTO_SCTP
                                             : -1;
}

static void mac_text(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
}

json_t *sandbox_record(const struct sandbox *s)
{
    json_t *eps = json_array(), *ports = json_array();
    for (size_t i = 0; i < s->n_eps; i++) {
        const struct endpoint *ep = &s->eps[i];
        char ip[16], mac[18];
        mac_text(ep->mac, mac);
        json_t *e =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "network", ep->net->id, "id", ep->id,
                      "ifname", ep->ifname, "host_if", ep->host_if, "ip", ipam_format(ep->ip, ip),
                      "mac", mac, "aliases", ep->aliases ? ep->aliases : json_array());
        if (ep->cni_result)
            json_object_set(e, "cni_result", ep->cni_result);
        json_array_append_new(eps, e);
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        const struct port *p = &s->ports[i];
        char ip[16];
        json_array_append_new(
            ports, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i}", "proto", net_proto_name(p->proto),
                             "host_ip", ipam_format(p->host_ip, ip), "host_port", p->want_port,
                             "host_port_end", p->want_port_end, "bound_port", p->host_port,
                             "container_port", p->container_port));
    }
    json_t *r = json_pack("{s:s, s:O, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:o}", "id", s->id,
                          "config", s->config, "name", s->name ? s->name : "", "hostname",
                          s->hostname ? s->hostname : "", "domainname",
                          s->domainname ? s->domainname : "", "mode", s->mode, "host", s->host,
                          "embedded_dns", s->embedded_dns, "endpoints", eps, "ports", ports);
    json_object_set_new(r, "published", json_boolean(s->published));
    if (s->netns)
        json_object_set_new(r, "netns", json_string(s->netns));
    if (s->provider)
        json_object_set_new(r, "provider", json_string(s->provider));
    return r;
}

int store_save_sandbox(struct network_mgr *m, struct sandbox *s, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("%s/sandboxes/%s.json", m->root, s->id);
    _cleanup_json_ json_t *rec = sandbox_record(s);
    _cleanup_free_ char *text = json_dumps(rec, JSON_COMPACT);
    return wharf_write_file_atomic(path, text, strlen(text), 0600, err);
}

static char *opt_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? xstrdup(v) : NULL;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned b[6];
    if (!s || sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)b[i];
    return 0;
}

static struct sandbox *sandbox_from_record(struct network_mgr *m, json_t *rec)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *mode = json_string_value(json_object_get(rec, "mode"));
    if (!id || strlen(id) > 64 || !mode)
        return NULL;
    struct sandbox *s = xcalloc(1, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->config = json_incref(json_object_get(rec, "config"));
    s->name = opt_str(rec, "name");
    s->hostname = opt_str(rec, "hostname");
    s->domainname = opt_str(rec, "domainname");
    s->mode = xstrdup(mode);
    s->provider = opt_str(rec, "provider");
    s->netns = opt_str(rec, "netns");
    s->host = json_is_true(json_object_get(rec, "host"));
    s->embedded_dns = json_is_true(json_object_get(rec, "embedded_dns"));
    s->dns_fd = s->dns_tcp_fd = -1;
    json_t *eps = json_object_get(rec, "endpoints"), *e;
    size_t i;
    s->eps = xcalloc(json_array_size(eps) + 1, sizeof(*s->eps));
    json_array_foreach(eps, i, e)
    {
        struct net *n = mgr_net_by_id(m, json_string_value(json_object_get(e, "network")));
        if (!n)
            continue; /* the network went away (a record edited by hand) */
        struct endpoint *ep = &s->eps[s->n_eps];
        ep->net = n;
        snprintf(ep->id, sizeof(ep->id), "%s", json_string_value(json_object_get(e, "id")));
        snprintf(ep->ifname, sizeof(ep->ifname), "%s",
                 json_string_value(json_object_get(e, "ifname")));
        snprintf(ep->host_if, sizeof(ep->host_if), "%s",
                 json_string_value(json_object_get(e, "host_if")));
        ipam_parse_ip(json_string_value(json_object_get(e, "ip")), &ep->ip);
        parse_mac(json_string_value(json_object_get(e, "mac")), ep->mac);
        json_t *al = json_object_get(e, "aliases");
        ep->aliases = json_is_array(al) ? json_incref(al) : json_array();
        json_t *cr = json_object_get(e, "cni_result");
        ep->cni_result = cr ? json_incref(cr) : NULL;
        s->n_eps++;
    }
    json_t *ports = json_object_get(rec, "ports"), *p;
    s->ports = xcalloc(json_array_size(ports) + 1, sizeof(*s->ports));
    json_array_foreach(ports, i, p)
    {
        struct port *pt = &s->ports[s->n_ports++];
        int proto = proto_number(json_string_value(json_object_get(p, "proto")));
        pt->proto = proto < 0 ? IPPROTO_TCP : proto;
        ipam_parse_ip(json_string_value(json_object_get(p, "host_ip")), &pt->host_ip);
        pt->want_port = (uint16_t)json_integer_value(json_object_get(p, "host_port"));
        pt->want_port_end = (uint16_t)json_integer_value(json_object_get(p, "host_port_end"));
        json_t *bound = json_object_get(p, "bound_port");
        /* (records before "bound_port" held the port they name for good) */
        pt->host_port = bound ? (uint16_t)json_integer_value(bound) : pt->want_port;
        pt->container_port = (uint16_t)json_integer_value(json_object_get(p, "container_port"));
        pt->fd = -1;
    }
    json_t *published = json_object_get(rec, "published");
    s->published = published ? json_is_true(published) : s->n_ports > 0;
    return s;
}

int sandbox_load_all(struct network_mgr *m)
{
    _cleanup_free_ char *dir = xasprintf("%s/sandboxes", m->root);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
        wharf_error err = {0};
        json_t *rec = wjson_load_file(path, &err);
        struct sandbox *s = rec ? sandbox_from_record(m, rec) : NULL;
        json_decref(rec);
        if (!s) {
            wlog_warn("network sandbox %s: unreadable, removed", path);
            unlink(path);
            continue;
        }
        s->next = m->sandboxes;
        m->sandboxes = s;
    }
    closedir(d);
    return 0;
}

/* ---------------------------------------------------------------- addresses */

static bool has_ip(const struct sandbox *s, const struct net *n, uint32_t ip)
{
    for (size_t i = 0; i < s->n_eps; i++)
        if (s->eps[i].net == n && s->eps[i].ip == ip)
            return true;
    return false;
}

/* extra: a sandbox being built, not listed yet. */
static bool ip_used(struct network_mgr *m, struct net *n, uint32_t ip, struct sandbox *extra)
{
    if (ip == n->gateway)
        return true;
    for (struct sandbox *s = m->sandboxes; s; s = s->next)
        if (has_ip(s, n, ip))
            return true;
    return extra && has_ip(extra, n, ip);
}

static int alloc_ip(struct network_mgr *m, struct net *n, const char *want, struct sandbox *s,
                    uint32_t *out, wharf_error *err)
{
    uint32_t first = n->subnet + 1, last = (n->subnet | ~ipam_mask(n->prefix)) - 1;
    if (want && *want) {
        uint32_t ip;
        if (ipam_parse_ip(want, &ip) < 0)
            return wharf_error_set(err, -EINVAL, "invalid IPv4 address: %s", want);
        if (ip < first || ip > last)
            return wharf_error_set(err, -EINVAL,
                                   "no configured subnet on network %s contains the IP address %s",
                                   n->name, want);
        if (ip_used(m, n, ip, s))
            return wharf_error_set(err, -EADDRINUSE, "Address already in use: %s", want);
        *out = ip;
        return 0;
    }
    uint64_t count = (uint64_t)last - first + 1;
    uint32_t start = n->next_ip >= first && n->next_ip <= last ? n->next_ip : first;
    for (uint64_t k = 0; k < count; k++) {
        uint32_t ip = first + (uint32_t)(((uint64_t)(start - first) + k) % count);
        if (!ip_used(m, n, ip, s)) {
            *out = ip;
            n->next_ip = ip + 1 > last ? first : ip + 1;
            return 0;
        }
    }
    return wharf_error_set(err, -ENOSPC, "no available IPv4 addresses on network %s", n->name);
}

/* ---------------------------------------------------------------- endpoints */

static void random_hex(char *out, size_t n)
{
    char id[65];
    mgr_random_id(id);
    snprintf(out, n + 1, "%s", id);
}

/* The sandbox's first endpoint on a non-internal network carries the
 * default route and the published ports. */
static struct endpoint *gateway_endpoint(struct sandbox *s)
{
    for (size_t i = 0; i < s->n_eps; i++)
        if (!s->eps[i].net->internal && s->eps[i].ip)
            return &s->eps[i];
    return NULL;
}

static int bridge_endpoint_up(struct network_mgr *m, struct sandbox *s, struct endpoint *ep,
                              wharf_error *err)
{
    struct net *n = ep->net;
    int r = net_bridge_up(m, n, err);
    if (r < 0)
        return r;
    struct nl *host = NULL, *ns = NULL;
    if ((r = nl_open_in(NULL, &host, err)) < 0)
        return r;
    int br = nl_link_get(host, n->bridge, NULL, 0);
    int nsfd = open(s->netns, O_RDONLY | O_CLOEXEC);
    if (br <= 0 || nsfd < 0) {
        r = br <= 0 ? wharf_error_set(err, -ENODEV, "bridge %s: missing", n->bridge)
                    : wharf_error_errno(err, errno, "network namespace %s", s->netns);
        goto out;
    }
    nl_link_del(host, ep->host_if, NULL); /* a leftover of a crash, if any */
    if ((r = nl_veth_add(host, ep->host_if, br, ep->ifname, ep->mac, nsfd, err)) < 0)
        goto out;
    if ((r = nl_open_in(s->netns, &ns, err)) < 0)
        goto undo;
    int idx = nl_link_get(ns, ep->ifname, NULL, 0);
    if (idx <= 0) {
        r = wharf_error_set(err, -ENODEV, "%s: not found in the container's namespace", ep->ifname);
        goto undo;
    }
    if ((r = nl_addr_add(ns, idx, ep->ip, n->prefix, err)) < 0 ||
        (r = nl_link_set_up(ns, ep->ifname, err)) < 0)
        goto undo;
    if (!n->internal && gateway_endpoint(s) == ep &&
        (r = nl_route_default(ns, idx, n->gateway, err)) < 0)
        goto undo;
    r = 0;
    goto out;
undo:
    nl_link_del(host, ep->host_if, NULL);
out:
    if (nsfd >= 0)
        close(nsfd);
    nl_close(ns);
    nl_close(host);
    return r;
}

/* later: the host end goes on the reaper thread (the sandbox is being
 * removed whole, nobody waits for the interface itself) */
static void endpoint_down(struct network_mgr *m, struct sandbox *s, struct endpoint *ep, bool later)
{
    wharf_error err = {0};
    if (ep->net->kind == NET_CNI) {
        if (cni_run(m, "DEL", ep->net, s, ep, &err) < 0)
            wlog_warn("network %s: %s", ep->net->name, err.msg);
        return;
    }
    if (ep->net->kind != NET_BRIDGE || !ep->host_if[0])
        return;
    if (later) {
        net_reap(m, ep->host_if);
        return;
    }
    struct nl *host = NULL;
    if (nl_open_in(NULL, &host, &err) == 0) {
        nl_link_del(host, ep->host_if, NULL);
        nl_close(host);
    }
}

/* Fills and brings up a new endpoint (the last of s->eps, already counted). */
static int endpoint_create(struct network_mgr *m, struct sandbox *s, struct endpoint *ep,
                           struct net *n, json_t *settings, wharf_error *err)
{
    memset(ep, 0, sizeof(*ep));
    ep->net = n;
    mgr_random_id(ep->id);
    int idx = 0;
    for (size_t i = 0; i + 1 < s->n_eps; i++) {
        int k = atoi(s->eps[i].ifname + 3);
        if (k >= idx)
            idx = k + 1;
    }
    snprintf(ep->ifname, sizeof(ep->ifname), "eth%d", idx);
    json_t *al = json_object_get(settings, "aliases");
    ep->aliases = json_is_array(al) ? json_deep_copy(al) : json_array();
    size_t i;
    json_t *a;
    json_array_foreach(ep->aliases, i, a)
    {
        if (!json_is_string(a) || !*json_string_value(a))
            return wharf_error_set(err, -EINVAL, "network %s: aliases must be names", n->name);
    }
    if (n->kind == NET_CNI)
        return cni_run(m, "ADD", n, s, ep, err);
    if (n->kind != NET_BRIDGE)
        return 0;
    char host_if[16] = "veth";
    random_hex(host_if + 4, 7);
    memcpy(ep->host_if, host_if, sizeof(host_if));
    int r = alloc_ip(m, n, json_string_value(json_object_get(settings, "ipv4_address")), s, &ep->ip,
                     err);
    if (r < 0)
        return r;
    /* Docker's MAC: 02:42 and the address. */
    uint8_t mac[6] = {0x02,
                      0x42,
                      (uint8_t)(ep->ip >> 24),
                      (uint8_t)(ep->ip >> 16),
                      (uint8_t)(ep->ip >> 8),
                      (uint8_t)ep->ip};
    memcpy(ep->mac, mac, 6);
    return bridge_endpoint_up(m, s, ep, err);
}

/* ---------------------------------------------------------------- ports */

static int bind_port(struct port *p, uint16_t port, int *fd_out)
{
    int type = p->proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, p->proto == IPPROTO_SCTP ? IPPROTO_SCTP : 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(p->host_ip)};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        p->host_port = ntohs(sa.sin_port);
    *fd_out = fd;
    return 0;
}

/* Holds a host port in first..last with a bound socket (no listen: the
 * traffic goes to the container through DNAT before any socket sees it);
 * port 0 takes a free one, a range the first free in it. */
static int port_hold(struct port *p, uint16_t first, uint16_t last, wharf_error *err)
{
    char ip[16];
    if (last < first)
        last = first;
    int r = -EADDRINUSE;
    for (uint32_t port = first; port <= last; port++) {
        if ((r = bind_port(p, (uint16_t)port, &p->fd)) != -EADDRINUSE)
            break;
    }
    if (r == -EPROTONOSUPPORT && p->proto == IPPROTO_SCTP) {
        p->fd = -1; /* no SCTP in this kernel: nothing can hold the port either */
        p->host_port = first;
        return 0;
    }
    if (r == -EADDRINUSE) {
        if (last != first)
            return wharf_error_set(err, -EADDRINUSE,
                                   "driver failed programming external connectivity: Bind for "
                                   "%s:%u-%u failed: all ports are allocated",
                                   ipam_format(p->host_ip, ip), first, last);
        return wharf_error_set(err, -EADDRINUSE,
                               "driver failed programming external connectivity: Bind for "
                               "%s:%u failed: port is already allocated",
                               ipam_format(p->host_ip, ip), first);
    }
    if (r < 0)
        return wharf_error_errno(err, -r, "Bind for %s:%u failed", ipam_format(p->host_ip, ip),
                                 first);
    return 0;
}

/* Holds every port of s (as asked, or with again: the ports it held
 * before); on failure none. */
static int ports_hold(struct sandbox *s, bool again, wharf_error *err)
{
    for (size_t i = 0; i < s->n_ports; i++) {
        struct port *p = &s->ports[i];
        int r = again && p->host_port ? port_hold(p, p->host_port, p->host_port, err)
                                      : port_hold(p, p->want_port, p->want_port_end, err);
        if (r < 0) {
            while (i-- > 0)
                port_release(&s->ports[i]);
            return r;
        }
    }
    return 0;
}

static int parse_ports(struct sandbox *s, json_t *ports, wharf_error *err)
{
    if (!ports)
        return 0;
    if (!json_is_array(ports))
        return wharf_error_set(err, -EINVAL, "ports: expected an array");
    s->ports = xcalloc(json_array_size(ports) + 1, sizeof(*s->ports));
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *proto = json_string_value(json_object_get(p, "proto"));
        const char *hip = json_string_value(json_object_get(p, "host_ip"));
        json_int_t cport = json_integer_value(json_object_get(p, "container_port"));
        json_int_t hport = json_integer_value(json_object_get(p, "host_port"));
        json_int_t hend = json_integer_value(json_object_get(p, "host_port_end"));
        if (proto_number(proto) < 0)
            return wharf_error_set(err, -EINVAL, "invalid proto: %s", proto);
        if (cport < 1 || cport > 65535)
            return wharf_error_set(err, -EINVAL, "invalid containerPort: %lld", (long long)cport);
        if (hport < 0 || hport > 65535 || hend < 0 || hend > 65535 || (hend && hend < hport))
            return wharf_error_set(err, -EINVAL, "invalid hostPort: %lld", (long long)hport);
        uint32_t ip = 0;
        if (hip && *hip && strchr(hip, ':'))
            continue; /* an IPv6 binding: the networks are IPv4 only */
        if (hip && *hip && ipam_parse_ip(hip, &ip) < 0)
            return wharf_error_set(err, -EINVAL, "invalid host IP: %s", hip);
        struct port *pt = &s->ports[s->n_ports++];
        pt->proto = proto_number(proto);
        pt->host_ip = ip;
        pt->container_port = (uint16_t)cport;
        pt->want_port = (uint16_t)hport;
        pt->want_port_end = (uint16_t)hend;
        pt->fd = -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- files */

static char *files_dir(struct network_mgr *m, const char *id)
{
    return xasprintf("%s/files/%s", m->root, id);
}

/* In place, not by rename: the file is bind-mounted into a container. */
static int write_in_place(const char *path, const char *text, wharf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return wharf_error_errno(err, errno, "%s", path);
    int r = wharf_write_all(fd, text, strlen(text));
    close(fd);
    return r < 0 ? wharf_error_errno(err, -r, "%s", path) : 0;
}

static void host_resolv(struct network_mgr *m, strbuf *ns, strbuf *search, strbuf *options,
                        bool keep_loopback)
{
    _cleanup_free_ char *text = NULL;
    if (wharf_read_file(m->resolv_conf, &text, NULL, NULL) < 0)
        return;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char key[32], val[256];
        if (sscanf(line, "%31s %255[^\n]", key, val) != 2)
            continue;
        if (strcmp(key, "nameserver") == 0) {
            uint32_t ip;
            if (ipam_parse_ip(val, &ip) < 0)
                continue; /* IPv6 servers are unreachable from IPv4-only networks */
            if (!keep_loopback && (ip >> 24) == 127)
                continue;
            strbuf_addf(ns, "nameserver %s\n", val);
        } else if (strcmp(key, "search") == 0 || strcmp(key, "domain") == 0) {
            strbuf_reset(search);
            strbuf_addf(search, "search %s\n", val);
        } else if (strcmp(key, "options") == 0) {
            strbuf_addf(options, "options %s\n", val);
        }
    }
}

static void join_list(strbuf *out, const char *prefix, json_t *list)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    strbuf_addstr(out, prefix);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) strbuf_addf(out, " %s", json_string_value(v));
    strbuf_addch(out, '\n');
}

/* What /etc/resolv.conf says in the container, as dockerd writes it. */
static void resolv_text(struct network_mgr *m, struct sandbox *s, strbuf *out)
{
    json_t *dns = json_object_get(s->config, "dns");
    json_t *search = json_object_get(s->config, "dns_search");
    json_t *options = json_object_get(s->config, "dns_options");
    if (!json_array_size(dns))
        dns = m->dns;
    if (!json_array_size(search))
        search = m->dns_search;
    if (!json_array_size(options))
        options = m->dns_options;
    strbuf hns = STRBUF_INIT, hsearch = STRBUF_INIT, hopts = STRBUF_INIT;
    host_resolv(m, &hns, &hsearch, &hopts, s->host);
    strbuf_addstr(out, "# Generated by Wharf.\n");
    if (s->embedded_dns) {
        strbuf_addstr(out, "nameserver 127.0.0.11\n");
    } else if (json_array_size(dns)) {
        size_t i;
        json_t *v;
        json_array_foreach(dns, i, v) strbuf_addf(out, "nameserver %s\n", json_string_value(v));
    } else if (hns.len) {
        strbuf_addstr(out, hns.buf);
    } else {
        /* dockerd's fallback when the host names only loopback servers. */
        strbuf_addstr(out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    if (json_array_size(search))
        join_list(out, "search", search);
    else
        strbuf_addstr(out, strbuf_str(&hsearch));
    if (json_array_size(options))
        join_list(out, "options", options);
    else if (!s->embedded_dns)
        strbuf_addstr(out, strbuf_str(&hopts));
    if (s->embedded_dns)
        strbuf_addstr(out, "options ndots:0\n");
    strbuf_release(&hns);
    strbuf_release(&hsearch);
    strbuf_release(&hopts);
}

static void hosts_text(struct sandbox *s, strbuf *out)
{
    if (s->host) {
        _cleanup_free_ char *text = NULL;
        if (wharf_read_file("/etc/hosts", &text, NULL, NULL) == 0)
            strbuf_addstr(out, text);
    } else {
        strbuf_addstr(out, "127.0.0.1\tlocalhost\n"
                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "fe00::\tip6-localnet\n"
                           "ff00::\tip6-mcastprefix\n"
                           "ff02::1\tip6-allnodes\n"
                           "ff02::2\tip6-allrouters\n");
    }
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(s->config, "extra_hosts"), i, h)
    {
        const char *e = json_string_value(h);
        const char *colon = e ? strchr(e, ':') : NULL;
        if (colon)
            strbuf_addf(out, "%s\t%.*s\n", colon + 1, (int)(colon - e), e);
    }
    for (size_t k = 0; k < s->n_eps; k++) {
        char ip[16];
        if (!s->eps[k].ip)
            continue;
        strbuf_addf(out, "%s\t", ipam_format(s->eps[k].ip, ip));
        if (s->domainname)
            strbuf_addf(out, "%s.%s ", s->hostname, s->domainname);
        strbuf_addf(out, "%s\n", s->hostname ? s->hostname : s->id);
    }
}

static int write_files(struct network_mgr *m, struct sandbox *s, wharf_error *err)
{
    _cleanup_free_ char *dir = files_dir(m, s->id);
    int r = wharf_mkdir_p(dir, 0755, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *hosts = xasprintf("%s/hosts", dir);
    _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *hostname = xasprintf("%s/hostname", dir);
    _cleanup_strbuf_ strbuf h = STRBUF_INIT, rc = STRBUF_INIT, hn = STRBUF_INIT;
    hosts_text(s, &h);
    resolv_text(m, s, &rc);
    strbuf_addf(&hn, "%s\n", s->hostname ? s->hostname : s->id);
    if ((r = write_in_place(hosts, strbuf_str(&h), err)) < 0 ||
        (r = write_in_place(resolv, strbuf_str(&rc), err)) < 0 ||
        (r = write_in_place(hostname, strbuf_str(&hn), err)) < 0)
        return r;
    return 0;
}

/* ---------------------------------------------------------------- dns sockets */

static int open_dns(struct network_mgr *m, struct sandbox *s, wharf_error *err)
{
    if (!s->embedded_dns || !s->netns)
        return 0;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(0x7f00000bu)};
    int udp = netns_socket(s->netns, AF_INET, SOCK_DGRAM, 0, err);
    if (udp < 0)
        return udp;
    if (bind(udp, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(udp);
        return wharf_error_errno(err, e, "embedded DNS: bind 127.0.0.11:53");
    }
    int tcp = netns_socket(s->netns, AF_INET, SOCK_STREAM, 0, err);
    int one = 1;
    if (tcp >= 0 && (setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
                     bind(tcp, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(tcp, 16) < 0)) {
        close(tcp);
        tcp = -1;
    }
    dns_add(m, s->id, udp, false);
    if (tcp >= 0)
        dns_add(m, s->id, tcp, true);
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

static void sandbox_undo(struct network_mgr *m, struct sandbox *s, bool later)
{
    dns_remove(m, s->id);
    for (size_t i = s->n_eps; i-- > 0;)
        endpoint_down(m, s, &s->eps[i], later);
    for (size_t i = 0; i < s->n_ports; i++)
        port_release(&s->ports[i]);
    if (s->netns)
        netns_remove(s->netns);
    _cleanup_free_ char *dir = files_dir(m, s->id);
    wharf_rm_rf(dir, NULL);
}

static void fill_out(struct network_mgr *m, struct sandbox *s, struct network_sandbox *out)
{
    const char *files_of = s->provider ? s->provider : s->id;
    _cleanup_free_ char *dir = files_dir(m, files_of);
    memset(out, 0, sizeof(*out));
    struct sandbox *p = s->provider ? mgr_find_sandbox(m, s->provider) : NULL;
    const char *netns = p ? p->netns : s->netns;
    out->netns = netns ? xstrdup(netns) : NULL;
    out->hosts = xasprintf("%s/hosts", dir);
    out->resolv_conf = xasprintf("%s/resolv.conf", dir);
    out->hostname = xasprintf("%s/hostname", dir);
}

void network_sandbox_release(struct network_sandbox *sb)
{
    free(sb->netns);
    free(sb->hosts);
    free(sb->resolv_conf);
    free(sb->hostname);
    memset(sb, 0, sizeof(*sb));
}

static bool user_defined(const struct net *n)
{
    return !n->is_default && (n->kind == NET_BRIDGE || n->kind == NET_CNI);
}

int network_sandbox_create(struct network_mgr *m, const char *id, json_t *config,
                           struct network_sandbox *out, wharf_error *err)
{
    if (!id || !*id || strlen(id) > 64 || strchr(id, '/'))
        return wharf_error_set(err, -EINVAL, "network sandbox: invalid id");
    if (config && !json_is_object(config))
        return wharf_error_set(err, -EINVAL, "network sandbox %s: expected an object", id);
    struct sandbox *s = xcalloc(1, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->config = config ? json_deep_copy(config) : json_object();
    s->dns_fd = s->dns_tcp_fd = -1;
    s->name = opt_str(s->config, "name");
    s->hostname = opt_str(s->config, "hostname");
    s->domainname = opt_str(s->config, "domainname");
    const char *mode = json_string_value(json_object_get(s->config, "mode"));
    if (!mode || !*mode || strcmp(mode, "default") == 0)
        mode = "bridge";
    s->mode = xstrdup(mode);
    json_t *eps_cfg = json_object_get(s->config, "endpoints");
    if (eps_cfg && !json_is_object(eps_cfg)) {
        sandbox_free(s);
        return wharf_error_set(err, -EINVAL, "network sandbox %s: endpoints: expected an object",
                               id);
    }
    int r = parse_ports(s, json_object_get(s->config, "ports"), err);
    if (r < 0) {
        sandbox_free(s);
        return r;
    }
    double t0 = wharf_now_ms(), t_ns = t0, t_eps = t0;
    pthread_mutex_lock(&m->lock);
    bool created_netns = false, default_was_up = false;
    for (struct net *n = m->nets; n; n = n->next)
        default_was_up |= n->is_default && n->up;
    if (mgr_find_sandbox(m, id)) {
        r = wharf_error_set(err, -EEXIST, "network sandbox %s exists", id);
        goto fail;
    }
    if (strncmp(mode, "container:", 10) == 0) {
        struct sandbox *p = mgr_find_sandbox(m, mode + 10);
        if (!p) {
            r = wharf_error_set(err, -ENOENT, "container %s: no network to join", mode + 10);
            goto fail;
        }
        if (p->provider) {
            r = wharf_error_set(err, -EINVAL,
                                "cannot join the network of a container that joins another's");
            goto fail;
        }
        if (s->n_ports) {
            r = wharf_error_set(err, -EINVAL,
                                "conflicting options: port publishing and the container type "
                                "network mode");
            goto fail;
        }
        s->provider = xstrdup(p->id);
        s->host = p->host;
    } else {
        struct net *n = mgr_find_net(m, mode);
        if (!n) {
            r = wharf_error_set(err, -ENOENT, "network %s not found", mode);
            goto fail;
        }
        if (n->kind == NET_HOST) {
            s->host = true;
            free(s->hostname);
            char h[256] = "";
            gethostname(h, sizeof(h) - 1);
            s->hostname = xstrdup(h);
            for (size_t i = 0; i < s->n_ports; i++)
                port_release(&s->ports[i]);
            s->n_ports = 0; /* dockerd discards them too */
        } else {
            if (n->kind == NET_NULL && s->n_ports) {
                s->n_ports = 0;
            }
            s->netns = xasprintf("%s/netns/%s", m->root, id);
            if ((r = netns_create(s->netns, NULL, err)) < 0)
                goto fail;
            created_netns = true;
            t_ns = wharf_now_ms();
            /* The mode's network first (it carries the default route), then
             * the other networks asked for. */
            size_t want = 1 + json_object_size(eps_cfg);
            s->eps = xcalloc(want, sizeof(*s->eps));
            if (n->kind != NET_NULL) {
                json_t *settings = json_object_get(eps_cfg, n->name);
                if (!settings)
                    settings = json_object_get(eps_cfg, mode);
                s->n_eps++;
                if ((r = endpoint_create(m, s, &s->eps[0], n, settings, err)) < 0) {
                    endpoint_release(&s->eps[0]);
                    s->n_eps--;
                    goto fail;
                }
            }
            const char *key;
            json_t *settings;
            json_object_foreach(eps_cfg, key, settings)
            {
                struct net *x = mgr_find_net(m, key);
                if (!x) {
                    r = wharf_error_set(err, -ENOENT, "network %s not found", key);
                    goto fail;
                }
                if (x == n)
                    continue;
                if (n->kind == NET_NULL || x->kind == NET_HOST || x->kind == NET_NULL) {
                    r = wharf_error_set(err, -EINVAL,
                                        "container cannot be connected to network %s along with "
                                        "%s",
                                        x->name, n->name);
                    goto fail;
                }
                s->n_eps++;
                if ((r = endpoint_create(m, s, &s->eps[s->n_eps - 1], x, settings, err)) < 0) {
                    endpoint_release(&s->eps[s->n_eps - 1]);
                    s->n_eps--;
                    goto fail;
                }
            }
            for (size_t i = 0; i < s->n_eps; i++)
                s->embedded_dns |= user_defined(s->eps[i].net);
            t_eps = wharf_now_ms();
        }
    }
    /* The ports are held from the start on; one taken now (by another
     * container or process) refuses the container before it exists. */
    if ((r = ports_hold(s, false, err)) < 0)
        goto fail;
    for (size_t i = 0; i < s->n_ports; i++)
        port_release(&s->ports[i]);
    if (!s->provider && (r = write_files(m, s, err)) < 0)
        goto fail;
    if ((r = open_dns(m, s, err)) < 0)
        goto fail;
    s->next = m->sandboxes;
    m->sandboxes = s;
    if (m->nft_dirty) {
        if ((r = nft_sync(m, err)) < 0) {
            m->sandboxes = s->next;
            goto fail;
        }
    }
    if ((r = store_save_sandbox(m, s, err)) < 0) {
        m->sandboxes = s->next;
        goto fail;
    }
    fill_out(m, s, out);
    pthread_mutex_unlock(&m->lock);
    wlog_debug("network: container %.12s: sandbox in %.2f ms (namespace %.2f, endpoints %.2f)", id,
               wharf_now_ms() - t0, t_ns - t0, t_eps - t_ns);
    return 0;
fail:
    if (!created_netns) {
        free(s->netns);
        s->netns = NULL;
    }
    sandbox_undo(m, s, false);
    /* a default bridge this request brought up goes again */
    for (struct net *n = m->nets; n; n = n->next)
        if (n->is_default && !default_was_up)
            net_release_default(m, n);
    if (s->n_ports)
        m->nft_dirty = true;
    nft_settle(m);
    pthread_mutex_unlock(&m->lock);
    sandbox_free(s);
    return r;
}

static void unlink_sandbox(struct network_mgr *m, struct sandbox *s)
{
    for (struct sandbox **pp = &m->sandboxes; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            return;
        }
}

static void remove_locked(struct network_mgr *m, struct sandbox *s)
{
    unlink_sandbox(m, s);
    sandbox_undo(m, s, true);
    store_remove(m, "sandboxes", s->id);
    if (s->n_ports)
        m->nft_dirty = true;
    nft_settle(m);
    sandbox_free(s);
}

int network_sandbox_remove(struct network_mgr *m, const char *id, wharf_error *err)
{
    (void)err;
    double t0 = wharf_now_ms();
    pthread_mutex_lock(&m->lock);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (s)
        remove_locked(m, s);
    pthread_mutex_unlock(&m->lock);
    if (s)
        wlog_debug("network: container %.12s: sandbox removed in %.2f ms", id, wharf_now_ms() - t0);
    return 0;
}

void network_sandbox_gc(struct network_mgr *m, const char *const *ids, size_t n)
{
    pthread_mutex_lock(&m->lock);
    for (struct sandbox *s = m->sandboxes, *next; s; s = next) {
        next = s->next;
        bool keep = false;
        for (size_t i = 0; i < n && !keep; i++)
            keep = strcmp(ids[i], s->id) == 0;
        if (!keep) {
            wlog_info("network: removing the sandbox of gone container %s", s->id);
            remove_locked(m, s);
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void network_sandbox_rename(struct network_mgr *m, const char *id, const char *name)
{
    pthread_mutex_lock(&m->lock);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (s) {
        free(s->name);
        s->name = name ? xstrdup(name) : NULL;
        json_object_set_new(s->config, "name", json_string(name ? name : ""));
        wharf_error err = {0};
        store_save_sandbox(m, s, &err);
    }
    pthread_mutex_unlock(&m->lock);
}

int network_sandbox_publish(struct network_mgr *m, const char *id, wharf_error *err)
{
    pthread_mutex_lock(&m->lock);
    struct sandbox *s = mgr_find_sandbox(m, id);
    int r = 0;
    if (!s || s->published)
        goto out;
    if ((r = ports_hold(s, false, err)) < 0)
        goto out;
    s->published = true;
    if (s->n_ports && gateway_endpoint(s) && (r = nft_sync(m, err)) < 0)
        goto undo;
    if ((r = store_save_sandbox(m, s, err)) < 0)
        goto undo;
    goto out;
undo:
    for (size_t i = 0; i < s->n_ports; i++)
        port_release(&s->ports[i]);
    s->published = false;
    m->nft_dirty = true;
    nft_settle(m);
out:
    pthread_mutex_unlock(&m->lock);
    return r;
}

void network_sandbox_unpublish(struct network_mgr *m, const char *id)
{
    pthread_mutex_lock(&m->lock);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (s && s->published) {
        for (size_t i = 0; i < s->n_ports; i++)
            port_release(&s->ports[i]);
        s->published = false;
        if (s->n_ports)
            m->nft_dirty = true;
        nft_settle(m);
        wharf_error err = {0};
        if (store_save_sandbox(m, s, &err) < 0)
            wlog_warn("container %s: %s", s->id, err.msg);
    }
    pthread_mutex_unlock(&m->lock);
}

/* After a daemon restart: holds the ports again, reopens the DNS sockets;
 * after a reboot also recreates the namespace and its endpoints. */
void sandbox_restore(struct network_mgr *m, struct sandbox *s)
{
    wharf_error err = {0};
    if (s->netns && !netns_mounted(s->netns)) {
        netns_remove(s->netns);
        if (netns_create(s->netns, NULL, &err) < 0) {
            wlog_warn("container %s: network: %s", s->id, err.msg);
            return;
        }
        for (size_t i = 0; i < s->n_eps; i++) {
            struct endpoint *ep = &s->eps[i];
            int r = 0;
            if (ep->net->kind == NET_BRIDGE)
                r = bridge_endpoint_up(m, s, ep, &err);
            else if (ep->net->kind == NET_CNI)
                r = cni_run(m, "ADD", ep->net, s, ep, &err);
            if (r < 0)
                wlog_warn("container %s: network %s: %s", s->id, ep->net->name, err.msg);
        }
    } else {
        for (size_t i = 0; i < s->n_eps; i++) {
            struct endpoint *ep = &s->eps[i];
            if (ep->net->kind == NET_BRIDGE && net_bridge_up(m, ep->net, &err) < 0)
                wlog_warn("container %s: network %s: %s", s->id, ep->net->name, err.msg);
            /* CNI: the plugins say whether the attachment is still as they left it */
            if (ep->net->kind == NET_CNI && cni_run(m, "CHECK", ep->net, s, ep, &err) < 0)
                wlog_warn("container %s: network %s: %s", s->id, ep->net->name, err.msg);
        }
    }
    if (s->published && ports_hold(s, true, &err) < 0) {
        wlog_warn("container %s: %s", s->id, err.msg);
        s->published = false;
        store_save_sandbox(m, s, &err);
    }
    if (open_dns(m, s, &err) < 0)
        wlog_warn("container %s: %s", s->id, err.msg);
}

/* ---------------------------------------------------------------- connect */

int network_connect(struct network_mgr *m, const char *net_ref, const char *id, json_t *endpoint,
                    wharf_error *err)
{
    pthread_mutex_lock(&m->lock);
    int r = 0;
    struct net *n = mgr_find_net(m, net_ref);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (!n) {
        r = wharf_error_set(err, -ENOENT, "network %s not found", net_ref);
        goto out;
    }
    if (!s) {
        r = wharf_error_set(err, -ENOENT, "container %s has no network sandbox", id);
        goto out;
    }
    if (s->host || n->kind == NET_HOST) {
        r = wharf_error_set(err, -EPERM,
                            "container cannot be disconnected from host network or connected to "
                            "host network");
        goto out;
    }
    if (s->provider) {
        r = wharf_error_set(err, -EPERM,
                            "container sharing network namespace with another "
                            "container or host cannot be connected to any other "
                            "network");
        goto out;
    }
    bool none = strcmp(s->mode, "none") == 0 || n->kind == NET_NULL;
    if (none) {
        r = wharf_error_set(err, -EPERM,
                            "container cannot be connected to multiple networks with "
                            "one of the networks in private (none) mode");
        goto out;
    }
    for (size_t i = 0; i < s->n_eps; i++)
        if (s->eps[i].net == n) {
            r = wharf_error_set(err, -EEXIST, "endpoint with name %s already exists in network %s",
                                s->name ? s->name : s->id, n->name);
            goto out;
        }
    struct endpoint *old = gateway_endpoint(s);
    s->eps = xrealloc(s->eps, (s->n_eps + 1) * sizeof(*s->eps));
    s->n_eps++;
    struct endpoint *ep = &s->eps[s->n_eps - 1];
    if ((r = endpoint_create(m, s, ep, n, endpoint, err)) < 0) {
        endpoint_release(ep);
        s->n_eps--;
        goto out;
    }
    wharf_error ignored = {0};
    write_files(m, s, &ignored);
    if ((r = store_save_sandbox(m, s, err)) < 0) {
        endpoint_down(m, s, ep, false);
        endpoint_release(ep);
        s->n_eps--;
        goto out;
    }
    if (s->n_ports && !old && gateway_endpoint(s))
        m->nft_dirty = true;
out:
    nft_settle(m);
    pthread_mutex_unlock(&m->lock);
    return r;
}

int network_disconnect(struct network_mgr *m, const char *net_ref, const char *id, wharf_error *err)
{
    pthread_mutex_lock(&m->lock);
    int r = 0;
    struct net *n = mgr_find_net(m, net_ref);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (!n) {
        r = wharf_error_set(err, -ENOENT, "network %s not found", net_ref);
        goto out;
    }
    if (s && s->host) {
        r = wharf_error_set(err, -EPERM,
                            "container cannot be disconnected from host network or connected to "
                            "host network");
        goto out;
    }
    size_t k = s ? s->n_eps : 0;
    for (size_t i = 0; s && i < s->n_eps; i++)
        if (s->eps[i].net == n)
            k = i;
    if (!s || k == s->n_eps) {
        r = wharf_error_set(err, -ENOENT, "container %s is not connected to network %s", id,
                            n->name);
        goto out;
    }
    bool moved_ports = s->n_ports && gateway_endpoint(s) == &s->eps[k];
    endpoint_down(m, s, &s->eps[k], false);
    endpoint_release(&s->eps[k]);
    memmove(&s->eps[k], &s->eps[k + 1], (s->n_eps - k - 1) * sizeof(*s->eps));
    s->n_eps--;
    wharf_error ignored = {0};
    write_files(m, s, &ignored);
    r = store_save_sandbox(m, s, err);
    if (moved_ports)
        m->nft_dirty = true;
out:
    nft_settle(m);
    pthread_mutex_unlock(&m->lock);
    return r;
}

/* ---------------------------------------------------------------- settings */

static json_t *endpoint_settings(struct sandbox *s, struct endpoint *ep, bool with_dns_names)
{
    char ip[16] = "", gw[16] = "", mac[18] = "";
    if (ep->ip) {
        ipam_format(ep->ip, ip);
        mac_text(ep->mac, mac);
    }
    if (ep->ip && !ep->net->internal)
        ipam_format(ep->net->gateway, gw);
    /* dockerd's order: the name, the aliases, the short id, the hostname. */
    json_t *dns_names = json_null();
    if (with_dns_names) {
        dns_names = json_array();
        json_t *cands = json_array();
        if (s->name)
            json_array_append_new(cands, json_string(s->name));
        json_array_extend(cands, ep->aliases);
        json_array_append_new(cands, json_sprintf("%.12s", s->id));
        if (s->hostname)
            json_array_append_new(cands, json_string(s->hostname));
        size_t i, k;
        json_t *c, *d;
        json_array_foreach(cands, i, c)
        {
            bool dup = false;
            json_array_foreach(dns_names, k, d) dup |= json_equal(c, d);
            if (!dup)
                json_array_append(dns_names, c);
        }
        json_decref(cands);
    }
    json_t *cfg_ep = json_object_get(json_object_get(s->config, "endpoints"), ep->net->name);
    const char *want = json_string_value(json_object_get(cfg_ep, "ipv4_address"));
    json_t *ipam = want && *want ? json_pack("{s:s}", "IPv4Address", want) : json_null();
    return json_pack("{s:o, s:n, s:o, s:s, s:n, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, "
                     "s:o}",
                     "IPAMConfig", ipam, "Links", "Aliases",
                     json_array_size(ep->aliases) ? json_deep_copy(ep->aliases) : json_null(),
                     "MacAddress", mac, "DriverOpts", "GwPriority", 0, "NetworkID", ep->net->id,
                     "EndpointID", ep->id, "Gateway", gw, "IPAddress", ip, "IPPrefixLen",
                     ep->ip ? ep->net->prefix : 0, "IPv6Gateway", "", "GlobalIPv6Address", "",
                     "GlobalIPv6PrefixLen", 0, "DNSNames", dns_names);
}

json_t *network_sandbox_settings(struct network_mgr *m, const char *id)
{
    pthread_mutex_lock(&m->lock);
    struct sandbox *s = mgr_find_sandbox(m, id);
    if (!s) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    json_t *ports = json_object();
    size_t i;
    json_t *e;
    /* as dockerd: a container that does not run has no ports */
    json_array_foreach(s->published ? json_object_get(s->config, "exposed_ports") : NULL, i, e)
    {
        if (json_is_string(e))
            json_object_set_new(ports, json_string_value(e), json_null());
    }
    for (size_t k = 0; k < s->n_ports && s->published; k++) {
        struct port *p = &s->ports[k];
        char key[32], ip[16], hp[8];
        snprintf(key, sizeof(key), "%u/%s", p->container_port, net_proto_name(p->proto));
        snprintf(hp, sizeof(hp), "%u", p->host_port);
        json_t *list = json_object_get(ports, key);
        if (!json_is_array(list)) {
            list = json_array();
            json_object_set_new(ports, key, list);
        }
        json_array_append_new(
            list, json_pack("{s:s, s:s}", "HostIp", ipam_format(p->host_ip, ip), "HostPort", hp));
    }
    json_t *nets = json_object();
    struct sandbox *owner = s->provider ? mgr_find_sandbox(m, s->provider) : s;
    if (s->host) {
        struct net *h = mgr_find_net(m, "host");
        if (h && !s->provider)
            json_object_set_new(
                nets, "host",
                json_pack("{s:n, s:n, s:n, s:s, s:n, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, "
                          "s:i, s:n}",
                          "IPAMConfig", "Links", "Aliases", "MacAddress", "", "DriverOpts",
                          "GwPriority", 0, "NetworkID", h->id, "EndpointID", "", "Gateway", "",
                          "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "", "GlobalIPv6Address",
                          "", "GlobalIPv6PrefixLen", 0, "DNSNames"));
    } else if (!s->provider && strcmp(s->mode, "none") == 0) {
        struct net *x = mgr_find_net(m, "none");
        if (x)
            json_object_set_new(
                nets, "none",
                json_pack("{s:n, s:n, s:n, s:s, s:n, s:i, s:s, s:s, s:s, s:s, s:i, s:s, s:s, "
                          "s:i, s:n}",
                          "IPAMConfig", "Links", "Aliases", "MacAddress", "", "DriverOpts",
                          "GwPriority", 0, "NetworkID", x->id, "EndpointID", "", "Gateway", "",
                          "IPAddress", "", "IPPrefixLen", 0, "IPv6Gateway", "", "GlobalIPv6Address",
                          "", "GlobalIPv6PrefixLen", 0, "DNSNames"));
    }
    if (!s->provider)
        for (size_t k = 0; k < s->n_eps; k++)
            json_object_set_new(nets, s->eps[k].net->name,
                                endpoint_settings(s, &s->eps[k], user_defined(s->eps[k].net)));
    /* The top-level fields describe the default bridge's endpoint. */
    struct endpoint *def = NULL;
    for (size_t k = 0; !s->provider && k < s->n_eps; k++)
        if (s->eps[k].net->is_default)
            def = &s->eps[k];
    char ip[16] = "", gw[16] = "", mac[18] = "";
    if (def) {
        ipam_format(def->ip, ip);
        ipam_format(def->net->gateway, gw);
        mac_text(def->mac, mac);
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:o, s:b, s:s, s:i, s:n, s:n, s:s, s:s, s:s, s:i, s:s, s:i, s:s, s:s, "
        "s:o}",
        "Bridge", "", "SandboxID", s->id, "SandboxKey", owner && owner->netns ? owner->netns : "",
        "Ports", ports, "HairpinMode", 0, "LinkLocalIPv6Address", "", "LinkLocalIPv6PrefixLen", 0,
        "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", def ? def->id : "",
        "Gateway", gw, "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "IPAddress", ip,
        "IPPrefixLen", def ? def->net->prefix : 0, "IPv6Gateway", "", "MacAddress", mac, "Networks",
        nets);
    pthread_mutex_unlock(&m->lock);
    return j;
}

/* ---------------------------------------------------------------- dns names */

static bool name_is(const char *a, const char *b)
{
    return a && strcasecmp(a, b) == 0;
}

size_t dns_lookup_locked(struct network_mgr *m, const char *sandbox_id, const char *name,
                         uint32_t *ips, size_t max)
{
    struct sandbox *me = mgr_find_sandbox(m, sandbox_id);
    size_t n = 0;
    if (!me)
        return 0;
    for (size_t i = 0; i < me->n_eps; i++) {
        struct net *net = me->eps[i].net;
        if (!user_defined(net))
            continue;
        for (struct sandbox *s = m->sandboxes; s && n < max; s = s->next) {
            for (size_t k = 0; k < s->n_eps && n < max; k++) {
                struct endpoint *ep = &s->eps[k];
                if (ep->net != net || !ep->ip)
                    continue;
                bool match = name_is(s->name, name) || name_is(s->hostname, name) ||
                             (strlen(name) == 12 && strncasecmp(s->id, name, 12) == 0);
                size_t a;
                json_t *al;
                json_array_foreach(ep->aliases, a, al) match |=
                    name_is(json_string_value(al), name);
                /* A container that joined this one's namespace answers too. */
                for (struct sandbox *j = m->sandboxes; j && !match; j = j->next)
                    if (j->provider && strcmp(j->provider, s->id) == 0)
                        match = name_is(j->name, name);
                bool dup = false;
                for (size_t d = 0; d < n; d++)
                    dup |= ips[d] == ep->ip;
                if (match && !dup)
                    ips[n++] = ep->ip;
            }
        }
    }
    return n;
}

/* The name for a PTR query: a container on a network this one shares. */
const char *dns_reverse_locked(struct network_mgr *m, const char *sandbox_id, uint32_t ip)
{
    struct sandbox *me = mgr_find_sandbox(m, sandbox_id);
    for (size_t i = 0; me && i < me->n_eps; i++) {
        struct net *net = me->eps[i].net;
        if (!user_defined(net))
            continue;
        for (struct sandbox *s = m->sandboxes; s; s = s->next)
            for (size_t k = 0; k < s->n_eps; k++)
                if (s->eps[k].net == net && s->eps[k].ip == ip)
                    return s->name ? s->name : s->id;
    }
    return NULL;
}
