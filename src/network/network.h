/*
 * network — container networking for the engine: networks (bridges, or CNI
 * plugin chains), each container's network namespace and its interfaces,
 * addresses, published ports, name resolution and the /etc/hosts,
 * /etc/resolv.conf and /etc/hostname it sees.
 *
 * Owns:
 *   - networks: the predefined "bridge" (the default, a Linux bridge named
 *     wharf0 unless configured, created on first use and removed with its
 *     last container), "host" and "none", and user-defined bridge networks
 *     (bridge br-<id>, created with the network) or CNI ones ("cni:NAME":
 *     a conflist from /etc/cni/net.d run with the plugins in /usr/lib/cni,
 *     ADD/DEL/CHECK as the CNI spec says). Subnets come from configured or
 *     default pools, avoiding the host's routes and each other; addresses
 *     are allocated per network and kept in the records.
 *   - container sandboxes: a network namespace per container created before
 *     the container (kept by a bind mount, ROOT/netns/ID, so it outlives
 *     restarts of both the container and the daemon), with lo up and one
 *     veth per network; the caller makes the container join it by path.
 *   - nftables: one table of our own ("ip wharf", or "ip wharf_<hash>" for a
 *     data root other than the default) rebuilt atomically from the state:
 *     outbound masquerade per network, DNAT for published ports (from other
 *     hosts, from the host itself and from 127.0.0.1, the latter through
 *     route_localnet on the bridge), isolation between networks, internal
 *     networks cut off from the outside.
 *   - host ports: as dockerd, a published port is held (by a bound socket,
 *     so nothing else takes it and a taken one is refused) and forwarded
 *     only while the container runs: from network_sandbox_publish at its
 *     start to network_sandbox_unpublish at its exit. A port asked as 0 is
 *     a free one picked at each start. A port taken when the container is
 *     created refuses it (nothing is left of it).
 *   - the embedded DNS server: containers on user-defined networks get
 *     nameserver 127.0.0.11 (a socket the daemon opens inside their
 *     namespace) answering the container names, short ids and aliases of
 *     the networks they share, and forwarding other names upstream (the
 *     daemon's "dns" setting, else the host's resolv.conf).
 *   - clean-up: at open, interfaces marked ours (by their alias) that no
 *     record owns, namespaces no record owns, and the table are put back in
 *     line with the records.
 *
 * Data (ROOT is the directory given at open):
 *   ROOT/networks/ID.json   a network record
 *   ROOT/sandboxes/ID.json  a container's sandbox: settings, endpoints, ports
 *   ROOT/netns/ID           its namespace (a bind mount)
 *   ROOT/files/ID/          its hosts, resolv.conf and hostname
 *
 * Must not: know about containers' processes, images or the HTTP API. The
 * caller (dockerapi) resolves container names to ids and turns Docker's
 * request shapes into the configs below; the records handed back for
 * inspect are in Docker's shapes because that is what they are.
 *
 * Thread safety: every call may come from any thread; one mutex inside.
 */
#ifndef WHARF_NETWORK_H
#define WHARF_NETWORK_H

#include "base.h"

struct network_options {
    const char *root;      /* required; created if missing */
    const char *bridge;    /* default bridge name; NULL: wharf0, or the first free
                              wharfN; "none": no default network */
    const char *bip;       /* default bridge address "172.31.0.1/16"; NULL: picked */
    json_t *address_pools; /* [{"base": CIDR, "size": N}]; NULL: 172.16.0.0/12 in /16s
                              from the top, then 192.168.0.0/16 in /20s */
    json_t *dns, *dns_search, *dns_options; /* arrays of strings; NULL: the host's */
    const char *cni_conf_dir;               /* NULL: /etc/cni/net.d */
    const char *cni_bin_dir;                /* NULL: /usr/lib/cni */
    const char *resolv_conf;                /* NULL: /etc/resolv.conf */
};

struct network_mgr;

/* Loads the records, recreates what a reboot took (bridges, namespaces,
 * rules) and removes what is ours but unowned; starts the DNS server. */
int network_open(const struct network_options *opts, struct network_mgr **out, wharf_error *err);
/* Stops the DNS server and frees; interfaces, namespaces and rules stay
 * (containers keep running across a daemon restart). */
void network_close(struct network_mgr *m);
/* The nftables table's name (borrowed). */
const char *network_table(const struct network_mgr *m);

/* ---------------------------------------------------------------- networks */

struct network_config {
    const char *name;
    const char *driver;  /* NULL or "bridge"; "cni:NAME" */
    const char *subnet;  /* CIDR; NULL: from the pools */
    const char *gateway; /* NULL: the subnet's first address */
    bool internal, attachable;
    json_t *labels, *options; /* objects of strings; may be NULL */
};
/* Creates the network (its bridge, rules). -EEXIST for a taken name, -EINVAL
 * naming a bad field, -EADDRINUSE for a subnet overlapping another network. */
int network_create(struct network_mgr *m, const struct network_config *cfg, char id[65],
                   wharf_error *err);
/* Docker's NetworkResource with Containers: a new reference, or NULL
 * (-ENOENT; -EEXIST when a prefix is ambiguous). ref: name, id or prefix. */
json_t *network_inspect(struct network_mgr *m, const char *ref, wharf_error *err);
/* Every network (as network_inspect): a new array. */
json_t *network_list(struct network_mgr *m);
/* -ENOENT, -EPERM for a predefined network, -EBUSY while containers use it. */
int network_remove(struct network_mgr *m, const char *ref, wharf_error *err);

/* ---------------------------------------------------------------- containers */

/*
 * A container's sandbox config (JSON object, borrowed):
 *   "name", "hostname", "domainname": strings; the name (and short id, and
 *       aliases) resolve on user-defined networks
 *   "mode": "bridge" (default) | "host" | "none" | "container:ID" | a network
 *   "endpoints": {NETWORK: {"aliases": [string], "ipv4_address": string}}
 *       the mode's network and any more to connect at once
 *   "ports": [{"proto": "tcp"|"udp", "container_port": N, "host_ip": string,
 *              "host_port": N (0: any free port)}]
 *   "dns", "dns_search", "dns_options", "extra_hosts" ("name:ip"): [string]
 */
struct network_sandbox {
    char *netns; /* the namespace file to join; NULL: the host's */
    char *hosts; /* files to bind-mount at /etc/hosts, ... */
    char *resolv_conf;
    char *hostname;
};
/* Creates the sandbox of container id; on failure nothing is left. */
int network_sandbox_create(struct network_mgr *m, const char *id, json_t *config,
                           struct network_sandbox *out, wharf_error *err);
void network_sandbox_release(struct network_sandbox *sb);
/* The container starts: holds and forwards its published ports (done, or
 * no sandbox: 0). -EADDRINUSE "... port is already allocated" when one is
 * taken; then none is held. */
int network_sandbox_publish(struct network_mgr *m, const char *id, wharf_error *err);
/* The container has exited: its ports go (not published: nothing). */
void network_sandbox_unpublish(struct network_mgr *m, const char *id);
/* Undoes everything of the sandbox (missing: 0). */
int network_sandbox_remove(struct network_mgr *m, const char *id, wharf_error *err);
/* Docker's NetworkSettings (Ports, Networks, SandboxKey, ...): a new
 * reference, or NULL when the container has no sandbox. */
json_t *network_sandbox_settings(struct network_mgr *m, const char *id);
/* The DNS name of the container changes (rename). */
void network_sandbox_rename(struct network_mgr *m, const char *id, const char *name);
/* Adds an endpoint on a network to a container's sandbox (running or not).
 * endpoint: {"aliases", "ipv4_address"} or NULL. */
int network_connect(struct network_mgr *m, const char *net_ref, const char *id, json_t *endpoint,
                    wharf_error *err);
int network_disconnect(struct network_mgr *m, const char *net_ref, const char *id,
                       wharf_error *err);
/* Removes every sandbox whose id is not in ids (containers that are gone). */
void network_sandbox_gc(struct network_mgr *m, const char *const *ids, size_t n);

#endif
