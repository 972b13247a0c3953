/*
 * internal.h — what the network module's files share; not for other modules.
 */
#ifndef WHARF_NETWORK_INTERNAL_H
#define WHARF_NETWORK_INTERNAL_H

#include "network.h"

#include <pthread.h>
#include <stdint.h>

/* ---------------------------------------------------------------- ipam.c */

struct ipam_net {
    uint32_t addr; /* host byte order */
    int prefix;
};
struct ipam_pool {
    uint32_t base;
    int prefix; /* of the base */
    int size;   /* prefix length of each subnet cut from it */
};
char *ipam_format(uint32_t ip, char buf[16]);
int ipam_parse_ip(const char *s, uint32_t *out);
/* "10.1.0.0/16" (host bits are kept: the caller decides whether they matter) */
int ipam_parse_cidr(const char *s, uint32_t *addr, int *prefix);
uint32_t ipam_mask(int prefix);
bool ipam_overlap(uint32_t a, int pa, uint32_t b, int pb);
bool ipam_contains(uint32_t net, int prefix, uint32_t ip);
/* The host's IPv4 routes (main table, default route left out). */
int ipam_host_routes(struct ipam_net **out, size_t *n);
/* Pools from daemon.json's default-address-pools (NULL: the built-in ones). */
int ipam_parse_pools(json_t *pools, struct ipam_pool **out, size_t *n, wharf_error *err);
/* The first subnet of the pools (each pool from its top) overlapping nothing
 * in used; -ENOSPC when every one does. */
int ipam_pick_subnet(const struct ipam_pool *pools, size_t np, const struct ipam_net *used,
                     size_t nused, bool from_top, uint32_t *subnet, int *prefix);

/* ---------------------------------------------------------------- netlink.c */

struct nl;
/* A route netlink socket in the namespace at netns (NULL: the caller's). */
int nl_open_in(const char *netns, struct nl **out, wharf_error *err);
void nl_close(struct nl *nl);
/* The link's index (0: no such link) and, if alias, its alias. */
int nl_link_get(struct nl *nl, const char *name, char *alias, size_t alias_len);
int nl_link_set_up(struct nl *nl, const char *name, wharf_error *err);
/* A missing link is not an error. */
int nl_link_del(struct nl *nl, const char *name, wharf_error *err);
int nl_bridge_add(struct nl *nl, const char *name, const char *alias, wharf_error *err);
/* A veth pair: host_if here (enslaved to master when > 0, up), peer in the
 * namespace netns_fd (-1: here) with mac, still down. */
int nl_veth_add(struct nl *nl, const char *host_if, int master, const char *peer,
                const uint8_t mac[6], int netns_fd, wharf_error *err);
int nl_addr_add(struct nl *nl, int index, uint32_t ip, int prefix, wharf_error *err);
int nl_route_default(struct nl *nl, int index, uint32_t gateway, wharf_error *err);
typedef void (*nl_link_fn)(const char *name, const char *alias, void *data);
int nl_link_dump(struct nl *nl, nl_link_fn fn, void *data, wharf_error *err);
int nl_sysctl_link(const char *ifname, const char *key, const char *value, wharf_error *err);

/* A new network namespace kept by a bind mount on path (created, must not
 * exist), with lo up; *nl (may be NULL) is a route socket inside it. */
int netns_create(const char *path, struct nl **nl, wharf_error *err);
void netns_remove(const char *path);
bool netns_mounted(const char *path);
/* A socket created inside the namespace at path. */
int netns_socket(const char *path, int domain, int type, int proto, wharf_error *err);

/* ---------------------------------------------------------------- state */

enum net_kind { NET_BRIDGE, NET_HOST, NET_NULL, NET_CNI };

struct net {
    char id[65];
    char *name;
    enum net_kind kind;
    char bridge[16];  /* bridge: its interface */
    char *cni;        /* cni: the conflist's name */
    bool have_subnet; /* the default network picks its subnet on first use */
    uint32_t subnet, gateway;
    int prefix;
    bool internal, is_default;
    bool up;          /* bridge: the interface exists (ours) */
    uint32_t next_ip; /* where the next allocation starts looking */
    json_t *rec;      /* the stored record (Docker's NetworkResource fields) */
    struct net *next;
};

struct endpoint {
    struct net *net;
    char id[65];
    char ifname[16];  /* in the container: eth0, eth1, ... */
    char host_if[16]; /* bridge: the host end of the veth */
    uint32_t ip;
    uint8_t mac[6];
    json_t *aliases;    /* array of strings */
    json_t *cni_result; /* cni: the plugins' result, for DEL and CHECK */
};

struct port {
    int proto;        /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
    uint32_t host_ip; /* 0: every address */
    uint16_t container_port;
    uint16_t want_port, want_port_end; /* as asked: 0 any free port; a range the first free */
    uint16_t host_port; /* the port held while published, else 0 */
    int fd;             /* the bound socket that holds the host port; -1 when not held */
};

struct sandbox {
    char id[65];
    char *name, *hostname, *domainname;
    char *mode;     /* as configured: bridge, host, none, container:ID, a network */
    char *provider; /* container:ID: whose namespace and files */
    bool host;      /* the host's namespace */
    bool embedded_dns;
    char *netns; /* our namespace file, NULL when none of its own */
    struct endpoint *eps;
    size_t n_eps;
    struct port *ports;
    size_t n_ports;
    bool published; /* the ports are held and forwarded (the container runs) */
    json_t *config; /* as given */
    int dns_fd;     /* 127.0.0.11:53/udp inside, -1 */
    int dns_tcp_fd; /* 127.0.0.11:53/tcp inside, -1 */
    struct sandbox *next;
};

struct dns_server;

struct network_mgr {
    char *root;  /* ROOT (the module's directory) */
    char *table; /* the nftables table: "wharf" or "wharf_<hash>" */
    char *tag;   /* interface alias prefix marking ours: "wharf:<hash>" */
    char *bridge_opt, *bip;
    struct ipam_pool *pools;
    size_t n_pools;
    json_t *dns, *dns_search, *dns_options; /* arrays, or NULL for the host's */
    char *cni_conf_dir, *cni_bin_dir, *resolv_conf;
    bool nft_disabled;
    bool nft_dirty; /* the table no longer matches the state (a bridge came or went) */
    pthread_mutex_t lock;
    struct net *nets;
    struct sandbox *sandboxes;
    struct dns_server *dnss;
    /* the reaper: interfaces to delete, and its thread */
    pthread_t reaper;
    bool reaper_running, reaper_stop;
    pthread_cond_t reap_cond;
    char (*reap)[16];
    size_t n_reap;
};

int net_bridge_up(struct network_mgr *m, struct net *n, wharf_error *err);
void net_bridge_down(struct network_mgr *m, struct net *n);
/* Takes the default bridge down if no container uses it (at daemon stop,
 * or when the create that brought it up failed). */
void net_release_default(struct network_mgr *m, struct net *n);
/* Deletes an interface on the reaper thread: removing a veth waits for the
 * kernel (some 20 ms), which a container's removal need not. */
void net_reap(struct network_mgr *m, const char *ifname);
int sandbox_load_all(struct network_mgr *m);
void sandbox_restore(struct network_mgr *m, struct sandbox *s);
void sandbox_free(struct sandbox *s);

/* "tcp", "udp" or "sctp" */
const char *net_proto_name(int proto);

/* store: records under ROOT/networks/ID.json and ROOT/sandboxes/ID.json */
int store_save_net(struct network_mgr *m, struct net *n, wharf_error *err);
int store_save_sandbox(struct network_mgr *m, struct sandbox *s, wharf_error *err);
void store_remove(struct network_mgr *m, const char *kind, const char *id);
json_t *sandbox_record(const struct sandbox *s);

struct net *mgr_find_net(struct network_mgr *m, const char *ref);
struct net *mgr_net_by_id(struct network_mgr *m, const char *id);
struct sandbox *mgr_find_sandbox(struct network_mgr *m, const char *id);
void mgr_random_id(char out[65]);

/* ---------------------------------------------------------------- nft.c */

/* The whole table for the current state (ports, NAT, isolation): the
 * commands that replace it atomically, or just delete it when nothing is
 * needed. Pure: tested on its own. */
void nft_ruleset(const struct network_mgr *m, strbuf *out);
/* Applies the text as one transaction. */
int nft_apply(const char *text, wharf_error *err);
/* Rebuilds the table from the state. */
int nft_sync(struct network_mgr *m, wharf_error *err);
/* Rebuilds it if a bridge came or went since (a failure is logged). */
void nft_settle(struct network_mgr *m);

/* ---------------------------------------------------------------- dns.c */

int dns_start(struct network_mgr *m, wharf_error *err);
void dns_stop(struct network_mgr *m);
/* The server takes fd (a UDP or listening TCP socket in the sandbox's
 * namespace) and serves the sandbox's names on it. */
void dns_add(struct network_mgr *m, const char *sandbox_id, int fd, bool tcp);
/* Drops (and closes) the sandbox's sockets. */
void dns_remove(struct network_mgr *m, const char *sandbox_id);
/* Builds the answer to query q from sandbox_id's point of view; returns its
 * length, 0 when the name is not ours (forward it), -1 when q is malformed.
 * Takes m->lock. */
ssize_t dns_answer(struct network_mgr *m, const char *sandbox_id, const uint8_t *q, size_t qlen,
                   uint8_t *out, size_t cap);
/* The names a sandbox sees: the IPv4 addresses name has on the networks it
 * shares with sandbox_id (user-defined ones only); m->lock held. */
size_t dns_lookup_locked(struct network_mgr *m, const char *sandbox_id, const char *name,
                         uint32_t *ips, size_t max);
/* The name of the container at ip on a network sandbox_id is on (PTR), or
 * NULL; m->lock held. */
const char *dns_reverse_locked(struct network_mgr *m, const char *sandbox_id, uint32_t ip);
/* The upstream servers (the daemon's dns, else the host's resolv.conf). */
size_t dns_upstreams(struct network_mgr *m, uint32_t *ips, size_t max);

/* ---------------------------------------------------------------- cni.c */

/* Runs the conflist's plugins: "ADD", "DEL" or "CHECK" for the endpoint. */
int cni_run(struct network_mgr *m, const char *command, struct net *n, struct sandbox *s,
            struct endpoint *ep, wharf_error *err);
/* The conflist by name (from cni_conf_dir): a new reference. */
json_t *cni_load(struct network_mgr *m, const char *name, wharf_error *err);

#endif
