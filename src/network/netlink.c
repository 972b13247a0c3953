/*
 * netlink.c — links, addresses and routes over rtnetlink (libmnl), and the
 * network namespaces containers join.
 *
 * A netlink socket belongs to the network namespace it was created in, so
 * configuring a container's namespace needs no process inside it: a
 * short-lived thread enters the namespace (setns), opens the socket and
 * ends; the caller then talks to that namespace's kernel from wherever it
 * runs. New namespaces are made the same way (unshare on a thread) and kept
 * by bind-mounting the thread's /proc/thread-self/ns/net on a file, as
 * `ip netns add` does, so they outlive every process in them.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>

struct nl {
    struct mnl_socket *sock;
    unsigned seq;
    unsigned portid;
};

static int nl_wrap(int fd, struct nl **out, wharf_error *err)
{
    struct mnl_socket *s = mnl_socket_fdopen(fd);
    if (!s) {
        int e = errno;
        close(fd);
        return wharf_error_errno(err, e, "netlink socket");
    }
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        mnl_socket_close(s);
        return wharf_error_errno(err, e, "netlink bind");
    }
    struct nl *nl = xcalloc(1, sizeof(*nl));
    nl->sock = s;
    nl->portid = mnl_socket_get_portid(s);
    nl->seq = (unsigned)time(NULL);
    *out = nl;
    return 0;
}

void nl_close(struct nl *nl)
{
    if (!nl)
        return;
    mnl_socket_close(nl->sock);
    free(nl);
}

/* ---------------------------------------------------------------- namespaces */

struct ns_job {
    const char *path; /* namespace file to enter, or to create when create */
    bool create;
    int domain, type, proto; /* the socket to open inside */
    int fd;                  /* result: the socket */
    int error;               /* positive errno */
    const char *step;
};

static void *ns_thread(void *p)
{
    struct ns_job *j = p;
    if (j->create) {
        j->step = "unshare";
        if (unshare(CLONE_NEWNET) < 0) {
            j->error = errno;
            return NULL;
        }
        j->step = "bind mount";
        if (mount("/proc/thread-self/ns/net", j->path, NULL, MS_BIND, NULL) < 0) {
            j->error = errno;
            return NULL;
        }
    } else {
        j->step = "open";
        int ns = open(j->path, O_RDONLY | O_CLOEXEC);
        if (ns < 0) {
            j->error = errno;
            return NULL;
        }
        j->step = "setns";
        int r = setns(ns, CLONE_NEWNET);
        int e = errno;
        close(ns);
        if (r < 0) {
            j->error = e;
            return NULL;
        }
    }
    j->step = "socket";
    j->fd = socket(j->domain, j->type | SOCK_CLOEXEC, j->proto);
    if (j->fd < 0)
        j->error = errno;
    /* The thread ends here, and its namespace membership with it. */
    return NULL;
}

static int ns_run(struct ns_job *j, wharf_error *err)
{
    pthread_t t;
    j->fd = -1;
    int r = pthread_create(&t, NULL, ns_thread, j);
    if (r != 0)
        return wharf_error_errno(err, r, "network namespace %s: thread", j->path);
    pthread_join(t, NULL);
    if (j->error)
        return wharf_error_errno(err, j->error, "network namespace %s: %s", j->path, j->step);
    return j->fd;
}

int netns_socket(const char *path, int domain, int type, int proto, wharf_error *err)
{
    struct ns_job j = {.path = path, .domain = domain, .type = type, .proto = proto};
    return ns_run(&j, err);
}

int nl_open_in(const char *netns, struct nl **out, wharf_error *err)
{
    int fd;
    if (netns) {
        fd = netns_socket(netns, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, err);
    } else {
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
            return wharf_error_errno(err, errno, "netlink socket");
    }
    if (fd < 0)
        return fd;
    return nl_wrap(fd, out, err);
}

bool netns_mounted(const char *path)
{
    /* A bind-mounted namespace is an nsfs inode, not the empty file below. */
    struct statfs sf;
    return statfs(path, &sf) == 0 && sf.f_type == NSFS_MAGIC;
}

int netns_create(const char *path, struct nl **nl_out, wharf_error *err)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return wharf_error_errno(err, errno, "network namespace %s", path);
    close(fd);
    struct ns_job j = {.path = path,
                       .create = true,
                       .domain = AF_NETLINK,
                       .type = SOCK_RAW,
                       .proto = NETLINK_ROUTE};
    int sock = ns_run(&j, err);
    if (sock < 0) {
        umount2(path, MNT_DETACH);
        unlink(path);
        return sock;
    }
    struct nl *nl = NULL;
    int r = nl_wrap(sock, &nl, err);
    if (r == 0)
        r = nl_link_set_up(nl, "lo", err);
    if (r < 0) {
        nl_close(nl);
        netns_remove(path);
        return r;
    }
    if (nl_out)
        *nl_out = nl;
    else
        nl_close(nl);
    return 0;
}

void netns_remove(const char *path)
{
    umount2(path, MNT_DETACH);
    unlink(path);
}

/* ---------------------------------------------------------------- requests */

#define NL_BUF 16384

/* Sends the request and reads the answer up to its ack (or, for a dump,
 * NLMSG_DONE), handing each message to cb. Returns 0 or -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
    nlh->nlmsg_seq = ++nl->seq;
    /* NLM_F_DUMP shares its bits with NLM_F_EXCL and NLM_F_REPLACE: only a
     * GET with both is a dump (answered up to NLMSG_DONE, not acked). */
    bool dump = nlh->nlmsg_type % 4 == 2 && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    if (!dump)
        nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    _cleanup_free_ char *buf = xmalloc(NL_BUF);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, buf, NL_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        int r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, nl->portid, cb, data);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

static struct nlmsghdr *link_msg(char *buf, int type, int flags, struct ifinfomsg **ifm)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (uint16_t)type;
    nlh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifm));
    (*ifm)->ifi_family = AF_UNSPEC;
    return nlh;
}

struct link_found {
    int index;
    char alias[256];
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_found *f = data;
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    f->index = ifm->ifi_index;
    struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifm))
    {
        if (mnl_attr_get_type(a) == IFLA_IFALIAS)
            snprintf(f->alias, sizeof(f->alias), "%s", mnl_attr_get_str(a));
    }
    return MNL_CB_OK;
}

int nl_link_get(struct nl *nl, const char *name, char *alias, size_t alias_len)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, &ifm);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct link_found f = {0};
    int r = nl_talk(nl, nlh, link_cb, &f);
    if (r == -ENODEV || r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (alias)
        snprintf(alias, alias_len, "%s", f.alias);
    return f.index;
}

int nl_link_set_up(struct nl *nl, const char *name, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, &ifm);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    int r = nl_talk(nl, nlh, NULL, NULL);
    return r < 0 ? wharf_error_errno(err, -r, "link %s: set up", name) : 0;
}

int nl_link_del(struct nl *nl, const char *name, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, &ifm);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    int r = nl_talk(nl, nlh, NULL, NULL);
    if (r == -ENODEV || r == -ENOENT)
        return 0;
    return r < 0 ? wharf_error_errno(err, -r, "link %s: delete", name) : 0;
}

int nl_bridge_add(struct nl *nl, const char *name, const char *alias, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifm);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, info);
    int r = nl_talk(nl, nlh, NULL, NULL);
    if (r < 0)
        return wharf_error_errno(err, -r, "bridge %s: create", name);
    /* The alias marks it ours (a new link takes no alias in its create). */
    nlh = link_msg(buf, RTM_NEWLINK, 0, &ifm);
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
    r = nl_talk(nl, nlh, NULL, NULL);
    if (r < 0) {
        nl_link_del(nl, name, NULL);
        return wharf_error_errno(err, -r, "bridge %s: set alias", name);
    }
    return 0;
}

int nl_veth_add(struct nl *nl, const char *host_if, int master, const char *peer,
                const uint8_t mac[6], int netns_fd, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifm);
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, host_if);
    if (master > 0)
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
    struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *p = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
    /* No IFF_UP here: the peer is configured before the pair is linked,
     * and opening it then fails (ENOTCONN); it is set up inside. */
    pifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
    if (mac)
        mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    if (netns_fd >= 0)
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
    mnl_attr_nest_end(nlh, p);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, info);
    int r = nl_talk(nl, nlh, NULL, NULL);
    return r < 0 ? wharf_error_errno(err, -r, "veth %s: create", host_if) : 0;
}

int nl_addr_add(struct nl *nl, int index, uint32_t ip, int prefix, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = (unsigned char)prefix;
    ifa->ifa_index = (unsigned)index;
    uint32_t be = htonl(ip);
    mnl_attr_put_u32(nlh, IFA_LOCAL, be);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
    if (prefix < 31)
        mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(ip | (0xffffffffu >> prefix)));
    int r = nl_talk(nl, nlh, NULL, NULL);
    if (r < 0) {
        char a[16];
        return wharf_error_errno(err, -r, "address %s/%d: add", ipam_format(ip, a), prefix);
    }
    return 0;
}

int nl_route_default(struct nl *nl, int index, uint32_t gateway, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = AF_INET;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
    int r = nl_talk(nl, nlh, NULL, NULL);
    if (r < 0) {
        char a[16];
        return wharf_error_errno(err, -r, "default route via %s: add", ipam_format(gateway, a));
    }
    return 0;
}

struct dump_ctx {
    nl_link_fn fn;
    void *data;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump_ctx *d = data;
    struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const char *name = NULL, *alias = NULL;
    struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifm))
    {
        if (mnl_attr_get_type(a) == IFLA_IFNAME)
            name = mnl_attr_get_str(a);
        else if (mnl_attr_get_type(a) == IFLA_IFALIAS)
            alias = mnl_attr_get_str(a);
    }
    if (name)
        d->fn(name, alias ? alias : "", d->data);
    return MNL_CB_OK;
}

int nl_link_dump(struct nl *nl, nl_link_fn fn, void *data, wharf_error *err)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct ifinfomsg *ifm;
    struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_DUMP, &ifm);
    struct dump_ctx d = {fn, data};
    int r = nl_talk(nl, nlh, dump_cb, &d);
    return r < 0 ? wharf_error_errno(err, -r, "list links") : 0;
}

int nl_sysctl_link(const char *ifname, const char *key, const char *value, wharf_error *err)
{
    _cleanup_free_ char *path = xasprintf("/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
    return wharf_write_string(path, value, err);
}
