/*
 * dns.c — the embedded DNS server behind 127.0.0.11 in containers on
 * user-defined networks, as dockerd's.
 *
 * Each such container gets a UDP socket (and a listening TCP one) bound to
 * 127.0.0.11:53 inside its own network namespace: the socket was opened
 * there (netns_socket), so the daemon answers from the host without any
 * process or NAT rule in the container. One thread polls every socket. A
 * query for a container name, short id or network alias of a network the
 * asking container is on is answered from the records (A; other types get
 * an empty answer so resolvers do not look elsewhere; PTR for those
 * addresses); anything else is forwarded, under a fresh query id, to the
 * upstream servers (the daemon's "dns", else the host's resolv.conf) over
 * connected UDP sockets in the host's namespace, and the reply relayed
 * back. A refused upstream answers SERVFAIL at once rather than letting the
 * client time out; with no upstream at all the answer is NXDOMAIN.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_UPSTREAMS 3
#define MAX_PENDING 256
#define FORWARD_TIMEOUT_MS 5000.0
#define TTL 600

struct dns_sock {
    char id[65];
    int fd;
    bool tcp;
    bool dead;
};

struct pending {
    bool used;
    uint16_t up_id, client_id;
    int client_fd;
    struct sockaddr_in client;
    size_t upstream;
    double deadline;
    uint8_t query[512]; /* kept to try the next upstream */
    size_t qlen;
};

struct dns_server {
    struct network_mgr *m;
    pthread_t thread;
    pthread_mutex_t lock;
    int wake;
    bool stop;
    struct dns_sock *socks;
    size_t n, cap;
    int up_fd[MAX_UPSTREAMS];
    uint32_t up_ip[MAX_UPSTREAMS];
    size_t n_up;
    struct pending pend[MAX_PENDING];
    uint16_t next_id;
};

/* ---------------------------------------------------------------- packets */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The question's name in dotted lower case; returns the offset after the
 * question (type and class included), or -1. */
static ssize_t parse_question(const uint8_t *q, size_t len, char *name, size_t cap, uint16_t *qtype)
{
    size_t off = 12, out = 0;
    for (;;) {
        if (off >= len)
            return -1;
        uint8_t l = q[off++];
        if (l == 0)
            break;
        if (l & 0xc0 || off + l > len || out + l + 2 > cap)
            return -1;
        if (out)
            name[out++] = '.';
        for (uint8_t i = 0; i < l; i++)
            name[out++] = (char)tolower(q[off + i]);
        off += l;
    }
    name[out] = '\0';
    if (off + 4 > len)
        return -1;
    *qtype = rd16(q + off);
    return (ssize_t)(off + 4);
}

static size_t put_name(uint8_t *out, size_t cap, const char *name)
{
    size_t off = 0;
    const char *p = name;
    while (*p) {
        size_t l = strcspn(p, ".");
        if (l == 0 || l > 63 || off + l + 2 > cap)
            return 0;
        out[off++] = (uint8_t)l;
        memcpy(out + off, p, l);
        off += l;
        p += l;
        if (*p == '.')
            p++;
    }
    if (off + 1 > cap)
        return 0;
    out[off++] = 0;
    return off;
}

/* A reply header over a copy of the question: rcode, answer count. */
static size_t reply_head(const uint8_t *q, size_t qend, uint8_t *out, size_t cap, int rcode,
                         uint16_t ancount)
{
    if (qend > cap)
        return 0;
    memcpy(out, q, qend);
    uint16_t flags = (uint16_t)(0x8000 | 0x0400 | 0x0080 | (rd16(q + 2) & 0x0100) | rcode);
    wr16(out + 2, flags);
    wr16(out + 4, 1);
    wr16(out + 6, ancount);
    wr16(out + 8, 0);
    wr16(out + 10, 0);
    return qend;
}

ssize_t dns_answer(struct network_mgr *m, const char *sandbox_id, const uint8_t *q, size_t qlen,
                   uint8_t *out, size_t cap)
{
    if (qlen < 12 || (q[2] & 0x80) || ((q[2] >> 3) & 0xf) != 0 || rd16(q + 4) != 1)
        return -1;
    char name[256];
    uint16_t qtype;
    ssize_t qend = parse_question(q, qlen, name, sizeof(name), &qtype);
    if (qend < 0)
        return -1;
    size_t nlen = strlen(name);
    if (qtype == 12 && nlen > 13 && strcmp(name + nlen - 13, ".in-addr.arpa") == 0) {
        unsigned a, b, c, d;
        char tail[16];
        if (sscanf(name, "%u.%u.%u.%u.%15s", &d, &c, &b, &a, tail) != 5 || a > 255 || b > 255 ||
            c > 255 || d > 255)
            return 0;
        uint32_t ip = a << 24 | b << 16 | c << 8 | d;
        pthread_mutex_lock(&m->lock);
        const char *target = dns_reverse_locked(m, sandbox_id, ip);
        char tname[256] = "";
        if (target)
            snprintf(tname, sizeof(tname), "%s", target);
        pthread_mutex_unlock(&m->lock);
        if (!target)
            return 0;
        size_t off = reply_head(q, (size_t)qend, out, cap, 0, 1);
        if (!off || off + 12 > cap)
            return -1;
        wr16(out + off, 0xc00c);
        wr16(out + off + 2, 12);
        wr16(out + off + 4, 1);
        wr16(out + off + 6, 0);
        wr16(out + off + 8, TTL);
        size_t n = put_name(out + off + 12, cap - off - 12, tname);
        if (!n)
            return -1;
        wr16(out + off + 10, (uint16_t)n);
        return (ssize_t)(off + 12 + n);
    }
    uint32_t ips[16];
    pthread_mutex_lock(&m->lock);
    size_t n = dns_lookup_locked(m, sandbox_id, name, ips, 16);
    pthread_mutex_unlock(&m->lock);
    if (n == 0)
        return 0;
    bool want_a = qtype == 1 || qtype == 255;
    size_t off = reply_head(q, (size_t)qend, out, cap, 0, want_a ? (uint16_t)n : 0);
    if (!off)
        return -1;
    for (size_t i = 0; want_a && i < n; i++) {
        if (off + 16 > cap)
            return -1;
        wr16(out + off, 0xc00c);
        wr16(out + off + 2, 1);
        wr16(out + off + 4, 1);
        wr16(out + off + 6, 0);
        wr16(out + off + 8, TTL);
        wr16(out + off + 10, 4);
        uint32_t be = htonl(ips[i]);
        memcpy(out + off + 12, &be, 4);
        off += 16;
    }
    return (ssize_t)off;
}

/* An error reply (rcode) to query q. */
static size_t error_reply(const uint8_t *q, size_t qlen, int rcode, uint8_t *out, size_t cap)
{
    char name[256];
    uint16_t qtype;
    ssize_t qend = qlen >= 12 ? parse_question(q, qlen, name, sizeof(name), &qtype) : -1;
    if (qend < 0)
        return 0;
    size_t n = reply_head(q, (size_t)qend, out, cap, rcode, 0);
    out[2] &= (uint8_t)~0x04; /* not authoritative */
    return n;
}

/* ---------------------------------------------------------------- upstreams */

size_t dns_upstreams(struct network_mgr *m, uint32_t *ips, size_t max)
{
    size_t n = 0;
    if (json_array_size(m->dns)) {
        size_t i;
        json_t *v;
        json_array_foreach(m->dns, i, v)
        {
            if (n < max && ipam_parse_ip(json_string_value(v), &ips[n]) == 0)
                n++;
        }
        return n;
    }
    _cleanup_free_ char *text = NULL;
    if (wharf_read_file(m->resolv_conf, &text, NULL, NULL) < 0)
        return 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        char ip[64];
        if (sscanf(line, " nameserver %63s", ip) == 1 && ipam_parse_ip(ip, &ips[n]) == 0)
            n++;
    }
    return n;
}

static double now_ms(void)
{
    return wharf_now_ms();
}

static void send_to(int fd, const struct sockaddr_in *to, const uint8_t *buf, size_t len)
{
    sendto(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)to, sizeof(*to));
}

/* Sends p's query to upstream k (the id rewritten); false if it cannot. */
static bool forward_to(struct dns_server *d, struct pending *p, size_t k)
{
    while (k < d->n_up) {
        uint8_t buf[512];
        memcpy(buf, p->query, p->qlen);
        wr16(buf, p->up_id);
        if (send(d->up_fd[k], buf, p->qlen, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) {
            p->upstream = k;
            p->deadline = now_ms() + FORWARD_TIMEOUT_MS;
            return true;
        }
        k++;
    }
    return false;
}

static void fail_pending(struct pending *p, int rcode)
{
    uint8_t out[512];
    size_t n = error_reply(p->query, p->qlen, rcode, out, sizeof(out));
    if (n)
        send_to(p->client_fd, &p->client, out, n);
    p->used = false;
}

static void forward(struct dns_server *d, int client_fd, const struct sockaddr_in *client,
                    const uint8_t *q, size_t qlen)
{
    uint8_t out[512];
    if (d->n_up == 0 || qlen > sizeof(d->pend[0].query)) {
        size_t n = error_reply(q, qlen, d->n_up ? 2 : 3, out, sizeof(out));
        if (n)
            send_to(client_fd, client, out, n);
        return;
    }
    struct pending *p = NULL;
    for (size_t i = 0; i < MAX_PENDING && !p; i++)
        if (!d->pend[i].used)
            p = &d->pend[i];
    if (!p) /* full: the oldest gives way */
        p = &d->pend[d->next_id % MAX_PENDING];
    *p = (struct pending){.used = true,
                          .up_id = ++d->next_id,
                          .client_id = rd16(q),
                          .client_fd = client_fd,
                          .client = *client,
                          .qlen = qlen};
    memcpy(p->query, q, qlen);
    if (!forward_to(d, p, 0))
        fail_pending(p, 2);
}

static void upstream_readable(struct dns_server *d, size_t k)
{
    uint8_t buf[4096];
    ssize_t n = recv(d->up_fd[k], buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
        if (errno != ECONNREFUSED)
            return;
        /* That server is not there: its queries try the next one. */
        for (size_t i = 0; i < MAX_PENDING; i++) {
            struct pending *p = &d->pend[i];
            if (p->used && p->upstream == k && !forward_to(d, p, k + 1))
                fail_pending(p, 2);
        }
        return;
    }
    if (n < 12)
        return;
    uint16_t id = rd16(buf);
    for (size_t i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &d->pend[i];
        if (!p->used || p->up_id != id || p->upstream != k)
            continue;
        wr16(buf, p->client_id);
        send_to(p->client_fd, &p->client, buf, (size_t)n);
        p->used = false;
        return;
    }
}

/* ---------------------------------------------------------------- serving */

static void serve_udp(struct dns_server *d, struct dns_sock *s)
{
    uint8_t q[512], out[1024];
    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(s->fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
    if (n <= 0)
        return;
    ssize_t a = dns_answer(d->m, s->id, q, (size_t)n, out, sizeof(out));
    if (a > 0)
        send_to(s->fd, &from, out, (size_t)a);
    else if (a == 0)
        forward(d, s->fd, &from, q, (size_t)n);
}

/* TCP is rare (truncated answers, some resolvers): one query per
 * connection, answered inline; a forwarded one waits for its upstream. */
static bool read_full(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return false;
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static void serve_tcp(struct dns_server *d, struct dns_sock *s)
{
    int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    uint8_t len[2], q[512], out[1024 + 2];
    ssize_t a = -1;
    if (read_full(c, len, 2, 1000) && rd16(len) <= sizeof(q) && read_full(c, q, rd16(len), 1000)) {
        size_t qlen = rd16(len);
        a = dns_answer(d->m, s->id, q, qlen, out + 2, sizeof(out) - 2);
        if (a == 0 && d->n_up) {
            /* A socket of its own, so no pending UDP forward's reply is taken. */
            uint8_t up[4096];
            ssize_t n = -1;
            int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons(53),
                                     .sin_addr.s_addr = htonl(d->up_ip[0])};
            if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                send(fd, q, qlen, MSG_NOSIGNAL) >= 0) {
                struct pollfd pfd = {fd, POLLIN, 0};
                if (poll(&pfd, 1, 2000) > 0)
                    n = recv(fd, up, sizeof(up), MSG_DONTWAIT);
            }
            if (fd >= 0)
                close(fd);
            if (n >= 12 && (size_t)n <= sizeof(out) - 2) {
                memcpy(out + 2, up, (size_t)n);
                a = n;
            } else {
                a = (ssize_t)error_reply(q, qlen, 2, out + 2, sizeof(out) - 2);
            }
        } else if (a == 0) {
            a = (ssize_t)error_reply(q, qlen, 3, out + 2, sizeof(out) - 2);
        }
    }
    if (a > 0) {
        wr16(out, (uint16_t)a);
        wharf_write_all(c, out, (size_t)a + 2);
    }
    close(c);
}

static void *dns_thread(void *arg)
{
    struct dns_server *d = arg;
    struct pollfd *pfds = NULL;
    struct dns_sock *view = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        if (d->stop) {
            pthread_mutex_unlock(&d->lock);
            break;
        }
        /* Sockets of removed sandboxes are closed here, by the only
         * thread that polls them; their pending forwards go too. */
        size_t w = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (d->socks[i].dead) {
                for (size_t k = 0; k < MAX_PENDING; k++)
                    if (d->pend[k].used && d->pend[k].client_fd == d->socks[i].fd)
                        d->pend[k].used = false;
                close(d->socks[i].fd);
                continue;
            }
            d->socks[w++] = d->socks[i];
        }
        d->n = w;
        size_t total = 1 + d->n_up + d->n;
        if (total > cap) {
            cap = total * 2;
            pfds = xrealloc(pfds, cap * sizeof(*pfds));
            view = xrealloc(view, cap * sizeof(*view));
        }
        size_t k = 0;
        pfds[k++] = (struct pollfd){d->wake, POLLIN, 0};
        for (size_t i = 0; i < d->n_up; i++)
            pfds[k++] = (struct pollfd){d->up_fd[i], POLLIN, 0};
        for (size_t i = 0; i < d->n; i++) {
            view[i] = d->socks[i];
            pfds[k++] = (struct pollfd){d->socks[i].fd, POLLIN, 0};
        }
        size_t nsocks = d->n;
        pthread_mutex_unlock(&d->lock);
        int r = poll(pfds, total, 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (pfds[0].revents) {
            uint64_t v;
            if (read(d->wake, &v, sizeof(v)) < 0) {
                /* nothing to drain */
            }
            continue; /* the socket list changed: rebuild before reading */
        }
        for (size_t i = 0; i < d->n_up; i++)
            if (pfds[1 + i].revents)
                upstream_readable(d, i);
        for (size_t i = 0; i < nsocks; i++) {
            if (!pfds[1 + d->n_up + i].revents)
                continue;
            if (view[i].tcp)
                serve_tcp(d, &view[i]);
            else
                serve_udp(d, &view[i]);
        }
        double now = now_ms();
        for (size_t i = 0; i < MAX_PENDING; i++)
            if (d->pend[i].used && d->pend[i].deadline < now)
                d->pend[i].used = false; /* the client has given up by now */
    }
    free(pfds);
    free(view);
    return NULL;
}

int dns_start(struct network_mgr *m, wharf_error *err)
{
    struct dns_server *d = xcalloc(1, sizeof(*d));
    d->m = m;
    pthread_mutex_init(&d->lock, NULL);
    d->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->wake < 0) {
        int e = errno;
        free(d);
        return wharf_error_errno(err, e, "embedded DNS: eventfd");
    }
    uint32_t ups[MAX_UPSTREAMS];
    size_t n = dns_upstreams(m, ups, MAX_UPSTREAMS);
    for (size_t i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(ups[i])};
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            d->up_ip[d->n_up] = ups[i];
            d->up_fd[d->n_up++] = fd;
        } else if (fd >= 0)
            close(fd);
    }
    int r = pthread_create(&d->thread, NULL, dns_thread, d);
    if (r != 0) {
        for (size_t i = 0; i < d->n_up; i++)
            close(d->up_fd[i]);
        close(d->wake);
        free(d);
        return wharf_error_errno(err, r, "embedded DNS: thread");
    }
    m->dnss = d;
    return 0;
}

static void wake(struct dns_server *d)
{
    uint64_t one = 1;
    if (write(d->wake, &one, sizeof(one)) < 0) {
        /* the counter is already non-zero: the thread wakes anyway */
    }
}

void dns_stop(struct network_mgr *m)
{
    struct dns_server *d = m->dnss;
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_mutex_unlock(&d->lock);
    wake(d);
    pthread_join(d->thread, NULL);
    for (size_t i = 0; i < d->n; i++)
        close(d->socks[i].fd);
    for (size_t i = 0; i < d->n_up; i++)
        close(d->up_fd[i]);
    close(d->wake);
    free(d->socks);
    pthread_mutex_destroy(&d->lock);
    free(d);
    m->dnss = NULL;
}

void dns_add(struct network_mgr *m, const char *sandbox_id, int fd, bool tcp)
{
    struct dns_server *d = m->dnss;
    if (!d) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_lock(&d->lock);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->socks = xrealloc(d->socks, d->cap * sizeof(*d->socks));
    }
    struct dns_sock *s = &d->socks[d->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", sandbox_id);
    s->fd = fd;
    s->tcp = tcp;
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

void dns_remove(struct network_mgr *m, const char *sandbox_id)
{
    struct dns_server *d = m->dnss;
    if (!d)
        return;
    bool any = false;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->socks[i].id, sandbox_id) == 0) {
            d->socks[i].dead = true;
            any = true;
        }
    pthread_mutex_unlock(&d->lock);
    if (any)
        wake(d);
}
