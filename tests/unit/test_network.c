/*
 * test_network.c — unit tests of the network module that touch nothing on
 * the host: addresses and pools (ipam.c), the nftables table generated from
 * a state (nft.c), the embedded DNS server's answers (dns.c) and the names
 * it resolves from which container (sandbox.c), checked on hand-built
 * manager states. Bridges, namespaces and rules themselves are exercised by
 * tests/integration/network.bats and daemon_network.bats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- ipam */

static void test_ipam_parse(void **state)
{
    (void)state;
    uint32_t a, b;
    int p;
    char buf[16];
    assert_int_equal(ipam_parse_ip("10.1.2.3", &a), 0);
    assert_int_equal(a, 0x0a010203u);
    assert_string_equal(ipam_format(a, buf), "10.1.2.3");
    assert_int_equal(ipam_parse_ip("10.1.2", &a), -EINVAL);
    assert_int_equal(ipam_parse_ip("::1", &a), -EINVAL);
    assert_int_equal(ipam_parse_cidr("172.31.0.0/16", &a, &p), 0);
    assert_int_equal(a, 0xac1f0000u);
    assert_int_equal(p, 16);
    assert_int_equal(ipam_parse_cidr("10.0.0.0/33", &a, &p), -EINVAL);
    assert_int_equal(ipam_parse_cidr("10.0.0.0", &a, &p), -EINVAL);
    assert_int_equal(ipam_parse_cidr("10.0.0.0/", &a, &p), -EINVAL);
    assert_int_equal(ipam_parse_cidr("bad/8", &a, &p), -EINVAL);
    assert_int_equal(ipam_parse_cidr("10.0.0.0/8x", &a, &p), -EINVAL);
    assert_int_equal(ipam_mask(24), 0xffffff00u);
    assert_int_equal(ipam_mask(0), 0);
    assert_int_equal(ipam_mask(32), 0xffffffffu);
    ipam_parse_ip("10.99.0.0", &a);
    ipam_parse_ip("10.99.0.128", &b);
    assert_true(ipam_overlap(a, 24, b, 25));
    assert_true(ipam_overlap(b, 25, a, 24));
    assert_false(ipam_overlap(a, 25, b, 25));
    ipam_parse_ip("10.99.1.0", &b);
    assert_false(ipam_overlap(a, 24, b, 24));
    assert_true(ipam_overlap(a, 16, b, 24));
    assert_true(ipam_contains(a, 24, a + 200));
    assert_false(ipam_contains(a, 24, a + 256));
}

static void test_ipam_pools(void **state)
{
    (void)state;
    struct ipam_pool *pools = NULL;
    size_t n = 0;
    wharf_error err = {0};
    /* the defaults: 172.16.0.0/12 in /16s, then 192.168.0.0/16 in /20s */
    assert_int_equal(ipam_parse_pools(NULL, &pools, &n, &err), 0);
    assert_int_equal(n, 2);
    uint32_t subnet;
    int prefix;
    assert_int_equal(ipam_pick_subnet(pools, n, NULL, 0, true, &subnet, &prefix), 0);
    char buf[16];
    assert_string_equal(ipam_format(subnet, buf), "172.31.0.0");
    assert_int_equal(prefix, 16);
    /* a host route in 172.31 and one of our networks in 172.30 push it down */
    struct ipam_net used[] = {{0xac1f0500u, 24}, {0xac1e0000u, 16}};
    assert_int_equal(ipam_pick_subnet(pools, n, used, 2, true, &subnet, &prefix), 0);
    assert_string_equal(ipam_format(subnet, buf), "172.29.0.0");
    /* a route covering all of 172.16/12 moves on to 192.168 */
    struct ipam_net wide[] = {{0xac100000u, 12}};
    assert_int_equal(ipam_pick_subnet(pools, n, wide, 1, true, &subnet, &prefix), 0);
    assert_string_equal(ipam_format(subnet, buf), "192.168.240.0");
    assert_int_equal(prefix, 20);
    struct ipam_net all[] = {{0xac100000u, 12}, {0xc0a80000u, 16}};
    assert_int_equal(ipam_pick_subnet(pools, n, all, 2, true, &subnet, &prefix), -ENOSPC);
    free(pools);

    json_error_t je;
    json_t *custom = json_loads("[{\"base\": \"10.200.0.0/16\", \"size\": 24}]", 0, &je);
    assert_int_equal(ipam_parse_pools(custom, &pools, &n, &err), 0);
    assert_int_equal(n, 1);
    struct ipam_net mine[] = {{0x0ac8ff00u, 24}};
    assert_int_equal(ipam_pick_subnet(pools, n, mine, 1, true, &subnet, &prefix), 0);
    assert_string_equal(ipam_format(subnet, buf), "10.200.254.0");
    assert_int_equal(prefix, 24);
    free(pools);
    json_decref(custom);

    static const char *const bad[] = {
        "[{\"base\": \"10.0.0.0\", \"size\": 24}]",
        "[{\"base\": \"10.0.0.0/16\", \"size\": 8}]",
        "[{\"base\": \"10.0.0.0/16\", \"size\": \"24\"}]",
        "{\"base\": \"10.0.0.0/16\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], 0, &je);
        wharf_error e = {0};
        assert_int_equal(ipam_parse_pools(j, &pools, &n, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "default-address-pools"));
        json_decref(j);
    }
}

/* ---------------------------------------------------------------- state */

/* A hand-built manager: the default bridge, two user networks (b is
 * internal), and three containers. */
struct fixture {
    struct network_mgr m;
    struct net def, a, b, host;
    struct sandbox web, cli, lone, joined;
    struct endpoint web_ep[2], cli_ep, lone_ep;
    struct port web_ports[2];
};

static void net_init(struct net *n, const char *id, const char *name, const char *bridge,
                     const char *subnet)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    n->name = (char *)name;
    n->kind = NET_BRIDGE;
    snprintf(n->bridge, sizeof(n->bridge), "%s", bridge);
    ipam_parse_cidr(subnet, &n->subnet, &n->prefix);
    n->gateway = n->subnet + 1;
    n->have_subnet = true;
    n->up = true;
}

static void ep_init(struct endpoint *ep, struct net *n, uint32_t host_part, const char *alias)
{
    memset(ep, 0, sizeof(*ep));
    ep->net = n;
    ep->ip = n->subnet + host_part;
    ep->aliases = json_array();
    if (alias)
        json_array_append_new(ep->aliases, json_string(alias));
}

static struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->m.lock, NULL);
    f->m.table = "wharf_test";
    net_init(&f->def, "d000000000000000000000000000000000000000000000000000000000000000", "bridge",
             "wharf0", "172.31.0.0/16");
    f->def.is_default = true;
    net_init(&f->a, "a000000000000000000000000000000000000000000000000000000000000000", "front",
             "br-a00000000000", "10.50.0.0/24");
    net_init(&f->b, "b000000000000000000000000000000000000000000000000000000000000000", "back",
             "br-b00000000000", "10.60.0.0/24");
    f->b.internal = true;
    memset(&f->host, 0, sizeof(f->host));
    snprintf(f->host.id, sizeof(f->host.id), "%s", "e0");
    f->host.name = "host";
    f->host.kind = NET_HOST;
    f->m.nets = &f->def;
    f->def.next = &f->a;
    f->a.next = &f->b;
    f->b.next = &f->host;

    /* web: on front (alias "api") and back, publishing two ports */
    snprintf(f->web.id, sizeof(f->web.id), "%s",
             "1111111111112222222222222222222222222222222222222222222222222222");
    f->web.name = "web";
    ep_init(&f->web_ep[0], &f->a, 2, "api");
    ep_init(&f->web_ep[1], &f->b, 2, NULL);
    f->web.eps = f->web_ep;
    f->web.n_eps = 2;
    f->web_ports[0] = (struct port){.proto = IPPROTO_TCP, .container_port = 80,
                                    .want_port = 8080, .host_port = 8080, .fd = -1};
    f->web_ports[1] = (struct port){.proto = IPPROTO_UDP, .host_ip = 0x7f000001u,
                                    .container_port = 53, .want_port = 5353, .host_port = 5353,
                                    .fd = -1};
    f->web.ports = f->web_ports;
    f->web.n_ports = 2;
    f->web.published = true; /* it runs */
    /* cli: on front only */
    snprintf(f->cli.id, sizeof(f->cli.id), "%s", "3333333333334444");
    f->cli.name = "cli";
    ep_init(&f->cli_ep, &f->a, 3, NULL);
    f->cli.eps = &f->cli_ep;
    f->cli.n_eps = 1;
    /* lone: on the default bridge only */
    snprintf(f->lone.id, sizeof(f->lone.id), "%s", "5555555555556666");
    f->lone.name = "lone";
    ep_init(&f->lone_ep, &f->def, 2, NULL);
    f->lone.eps = &f->lone_ep;
    f->lone.n_eps = 1;
    /* joined: shares web's namespace (--network container:web) */
    snprintf(f->joined.id, sizeof(f->joined.id), "%s", "7777777777778888");
    f->joined.name = "sidecar";
    f->joined.provider = f->web.id;
    f->m.sandboxes = &f->web;
    f->web.next = &f->cli;
    f->cli.next = &f->lone;
    f->lone.next = &f->joined;
    return f;
}

static void fixture_free(struct fixture *f)
{
    json_decref(f->web_ep[0].aliases);
    json_decref(f->web_ep[1].aliases);
    json_decref(f->cli_ep.aliases);
    json_decref(f->lone_ep.aliases);
    pthread_mutex_destroy(&f->m.lock);
    free(f);
}

/* ---------------------------------------------------------------- nft */

static void assert_has(const char *text, const char *want)
{
    assert_non_null(text);
    if (!strstr(text, want))
        fail_msg("ruleset lacks \"%s\":\n%.*s", want, (int)strlen(text), text);
}

static void test_nft_ruleset(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    strbuf sb = STRBUF_INIT;
    nft_ruleset(&f->m, &sb);
    const char *t = sb.buf;
    /* replaced atomically: created if missing, deleted, written whole */
    assert_true(strncmp(t,
                        "add table ip wharf_test\ndelete table ip wharf_test\n"
                        "table ip wharf_test {\n",
                        strlen("add table ip wharf_test\ndelete table ip wharf_test\n"
                               "table ip wharf_test {\n")) == 0);
    assert_has(t, "elements = { \"wharf0\", \"br-a00000000000\", \"br-b00000000000\" }");
    assert_has(t, "type nat hook prerouting priority dstnat; policy accept;\n"
                  "\t\tfib daddr type local jump ports");
    assert_has(t, "type nat hook output priority -100; policy accept;\n"
                  "\t\tfib daddr type local jump ports");
    /* ports go to the first endpoint on a network that is not internal */
    assert_has(t, "tcp dport 8080 dnat to 10.50.0.2:80 comment \"container 111111111111\"");
    assert_has(t, "ip daddr 127.0.0.1 udp dport 5353 dnat to 10.50.0.2:53");
    /* masquerade out of non-internal networks only; loopback and hairpin */
    assert_has(t, "ip saddr 172.31.0.0/16 oifname != \"wharf0\" masquerade");
    assert_has(t, "ip saddr 10.50.0.0/24 oifname != \"br-a00000000000\" masquerade");
    assert_false(strstr(t, "ip saddr 10.60.0.0/24"));
    assert_has(t, "oifname \"br-a00000000000\" ip saddr 127.0.0.0/8 masquerade");
    assert_has(t, "oifname \"wharf0\" iifname \"wharf0\" ct status dnat masquerade");
    /* isolation; the internal network cut off both ways */
    assert_has(t, "iifname \"br-a00000000000\" oifname != \"br-a00000000000\" oifname @bridges "
                  "drop");
    assert_has(t, "iifname \"br-b00000000000\" oifname != \"br-b00000000000\" drop");
    assert_has(t, "oifname \"br-b00000000000\" iifname != \"br-b00000000000\" drop");
    strbuf_release(&sb);

    /* a bridge that is down has no rules; ports behind it none either */
    f->a.up = false;
    nft_ruleset(&f->m, &sb);
    assert_false(strstr(sb.buf, "br-a00000000000"));
    assert_false(strstr(sb.buf, "dport 8080"));
    strbuf_release(&sb);

    /* nothing live: the table is only deleted */
    f->def.up = f->b.up = false;
    nft_ruleset(&f->m, &sb);
    assert_string_equal(sb.buf, "add table ip wharf_test\ndelete table ip wharf_test\n");
    strbuf_release(&sb);
    fixture_free(f);
}

/* ---------------------------------------------------------------- dns */

static size_t query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype)
{
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    out[2] = 0x01; /* RD */
    out[5] = 1;    /* QDCOUNT */
    size_t off = 12;
    const char *p = name;
    while (*p) {
        size_t l = strcspn(p, ".");
        out[off++] = (uint8_t)l;
        memcpy(out + off, p, l);
        off += l;
        p += l;
        if (*p)
            p++;
    }
    out[off++] = 0;
    out[off++] = (uint8_t)(qtype >> 8);
    out[off++] = (uint8_t)qtype;
    out[off++] = 0;
    out[off++] = 1;
    return off;
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The A records of the answer, as text, space-separated. */
static void answers(const uint8_t *r, size_t qlen, ssize_t n, char *out, size_t cap)
{
    out[0] = '\0';
    size_t off = qlen;
    for (unsigned i = 0; i < u16(r + 6); i++) {
        assert_true(off + 16 <= (size_t)n);
        assert_int_equal(u16(r + off), 0xc00c);
        assert_int_equal(u16(r + off + 2), 1);
        char ip[16];
        inet_ntop(AF_INET, r + off + 12, ip, sizeof(ip));
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", *out ? " " : "", ip);
        off += 16;
    }
}

static void test_dns_answers(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    uint8_t q[512], r[1024];
    char a[128];
    /* cli sees web on front by name, alias and short id, in any case */
    size_t ql = query(q, 0x1234, "web", 1);
    ssize_t n = dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r));
    assert_true(n > 0);
    assert_int_equal(u16(r), 0x1234);
    assert_int_equal(r[2] & 0x80, 0x80); /* a response */
    assert_int_equal(r[2] & 0x01, 0x01); /* RD copied */
    assert_int_equal(r[3] & 0x0f, 0);    /* NOERROR */
    assert_int_equal(u16(r + 6), 1);
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.2");
    ql = query(q, 1, "API", 1);
    n = dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r));
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.2");
    ql = query(q, 2, "111111111111", 1);
    n = dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r));
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.2");
    /* a container sharing web's namespace answers with web's address */
    ql = query(q, 3, "sidecar", 1);
    n = dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r));
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.2");
    /* web sees cli, and itself on both of its networks */
    ql = query(q, 4, "cli", 1);
    n = dns_answer(&f->m, f->web.id, q, ql, r, sizeof(r));
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.3");
    ql = query(q, 5, "web", 1);
    n = dns_answer(&f->m, f->web.id, q, ql, r, sizeof(r));
    answers(r, ql, n, a, sizeof(a));
    assert_string_equal(a, "10.50.0.2 10.60.0.2");
    /* AAAA of a known name: an empty answer, not a forward */
    ql = query(q, 6, "web", 28);
    n = dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r));
    assert_int_equal(n, (ssize_t)ql);
    assert_int_equal(u16(r + 6), 0);
    assert_int_equal(r[3] & 0x0f, 0);
    /* not ours: forwarded (0) — unknown names, names of other networks,
     * and anything asked on the default bridge (no embedded names there) */
    ql = query(q, 7, "example.org", 1);
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r)), 0);
    ql = query(q, 8, "lone", 1);
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r)), 0);
    ql = query(q, 9, "web", 1);
    assert_int_equal(dns_answer(&f->m, f->lone.id, q, ql, r, sizeof(r)), 0);
    ql = query(q, 10, "web", 1);
    assert_int_equal(dns_answer(&f->m, "nosuchsandbox", q, ql, r, sizeof(r)), 0);
    /* PTR for an address on a shared network */
    ql = query(q, 11, "3.0.50.10.in-addr.arpa", 12);
    n = dns_answer(&f->m, f->web.id, q, ql, r, sizeof(r));
    assert_true(n > 0);
    assert_int_equal(u16(r + 6), 1);
    assert_int_equal(u16(r + ql + 2), 12);
    assert_int_equal(r[ql + 12], 3);
    assert_memory_equal(r + ql + 13, "cli", 3);
    ql = query(q, 12, "2.0.31.172.in-addr.arpa", 12);
    assert_int_equal(dns_answer(&f->m, f->web.id, q, ql, r, sizeof(r)), 0);
    fixture_free(f);
}

static void test_dns_malformed(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    uint8_t q[512], r[1024];
    size_t ql = query(q, 1, "web", 1);
    /* too short, a response, two questions, a truncated name, a pointer */
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, 11, r, sizeof(r)), -1);
    q[2] |= 0x80;
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r)), -1);
    q[2] &= 0x7f;
    q[5] = 2;
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r)), -1);
    q[5] = 1;
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, 15, r, sizeof(r)), -1);
    q[12] = 0xc0;
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, sizeof(r)), -1);
    /* an answer that does not fit */
    ql = query(q, 1, "web", 1);
    assert_int_equal(dns_answer(&f->m, f->cli.id, q, ql, r, ql + 4), -1);
    fixture_free(f);
}

static void test_dns_upstreams(void **state)
{
    (void)state;
    struct fixture *f = fixture_new();
    char path[] = "/tmp/wharf-test-resolv.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nsearch example.org\nnameserver 10.0.0.53\n"
                       "nameserver fd00::1\nnameserver 127.0.0.53\noptions ndots:2\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    f->m.resolv_conf = path;
    uint32_t ips[3];
    /* the host's IPv4 servers, loopback ones included (the daemon asks them) */
    assert_int_equal(dns_upstreams(&f->m, ips, 3), 2);
    assert_int_equal(ips[0], 0x0a000035u);
    assert_int_equal(ips[1], 0x7f000035u);
    /* the daemon's dns setting wins */
    json_error_t je;
    f->m.dns = json_loads("[\"192.0.2.53\"]", 0, &je);
    assert_int_equal(dns_upstreams(&f->m, ips, 3), 1);
    assert_int_equal(ips[0], 0xc0000235u);
    json_decref(f->m.dns);
    unlink(path);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipam_parse),    cmocka_unit_test(test_ipam_pools),
        cmocka_unit_test(test_nft_ruleset),   cmocka_unit_test(test_dns_answers),
        cmocka_unit_test(test_dns_malformed), cmocka_unit_test(test_dns_upstreams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
