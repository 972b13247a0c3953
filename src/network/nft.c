/*
 * nft.c — the daemon's one nftables table (libnftables).
 *
 * The table is ours alone, so it is never edited rule by rule: every change
 * that affects it (a network created or removed, a container with published
 * ports added or removed, the default bridge coming or going) rebuilds the
 * whole table from the state in one transaction ("add table; delete table;
 * table { ... }"), which the kernel applies atomically. Nothing outside the
 * table is touched, and a table with nothing to do is deleted.
 *
 *   prerouting, output (nat): traffic to a local address goes through
 *       "ports", where each published port is a DNAT to the container (the
 *       output hook covers connections from the host itself, 127.0.0.1
 *       included: the bridge has route_localnet set, and postrouting
 *       masquerades loopback sources leaving through it)
 *   postrouting (nat): masquerade of each non-internal network's traffic
 *       leaving its bridge, of loopback sources, and hairpin connections (a
 *       container reaching a published port of its own network)
 *   forward (filter): traffic between two of our bridges is dropped; an
 *       internal network's traffic may not leave its bridge
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <string.h>

static bool bridge_live(const struct net *n)
{
    return n->kind == NET_BRIDGE && n->up && n->have_subnet && n->bridge[0];
}

void nft_ruleset(const struct network_mgr *m, strbuf *out)
{
    const char *t = m->table;
    strbuf_addf(out, "add table ip %s\ndelete table ip %s\n", t, t);
    size_t nets = 0;
    for (const struct net *n = m->nets; n; n = n->next)
        nets += bridge_live(n);
    if (nets == 0)
        return;
    strbuf_addf(out, "table ip %s {\n", t);
    strbuf_addstr(out, "\tset bridges {\n\t\ttype ifname\n\t\telements = { ");
    size_t k = 0;
    for (const struct net *n = m->nets; n; n = n->next)
        if (bridge_live(n))
            strbuf_addf(out, "%s\"%s\"", k++ ? ", " : "", n->bridge);
    strbuf_addstr(out, " }\n\t}\n");
    strbuf_addstr(out, "\tchain prerouting {\n"
                       "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
                       "\t\tfib daddr type local jump ports\n\t}\n"
                       "\tchain output {\n"
                       "\t\ttype nat hook output priority -100; policy accept;\n"
                       "\t\tfib daddr type local jump ports\n\t}\n");
    strbuf_addstr(out, "\tchain ports {\n");
    for (const struct sandbox *s = m->sandboxes; s; s = s->next) {
        const struct endpoint *ep = NULL;
        for (size_t i = 0; i < s->n_eps && !ep; i++)
            if (!s->eps[i].net->internal && s->eps[i].ip && bridge_live(s->eps[i].net))
                ep = &s->eps[i];
        if (!ep || !s->published)
            continue;
        for (size_t i = 0; i < s->n_ports; i++) {
            const struct port *p = &s->ports[i];
            const char *proto = net_proto_name(p->proto);
            char hip[16], cip[16];
            strbuf_addstr(out, "\t\t");
            if (p->host_ip)
                strbuf_addf(out, "ip daddr %s ", ipam_format(p->host_ip, hip));
            strbuf_addf(out, "%s dport %u dnat to %s:%u comment \"container %.12s\"\n", proto,
                        p->host_port, ipam_format(ep->ip, cip), p->container_port, s->id);
        }
    }
    strbuf_addstr(out, "\t}\n");
    strbuf_addstr(out, "\tchain postrouting {\n"
                       "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for (const struct net *n = m->nets; n; n = n->next) {
        if (!bridge_live(n))
            continue;
        char a[16];
        strbuf_addf(
            out, "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade comment \"network %.12s\"\n",
            n->bridge, n->id);
        strbuf_addf(out,
                    "\t\toifname \"%s\" iifname \"%s\" ct status dnat masquerade comment "
                    "\"network %.12s\"\n",
                    n->bridge, n->bridge, n->id);
        if (!n->internal)
            strbuf_addf(out,
                        "\t\tip saddr %s/%d oifname != \"%s\" masquerade comment \"network "
                        "%.12s\"\n",
                        ipam_format(n->subnet, a), n->prefix, n->bridge, n->id);
    }
    strbuf_addstr(out, "\t}\n");
    strbuf_addstr(out, "\tchain forward {\n"
                       "\t\ttype filter hook forward priority filter; policy accept;\n");
    for (const struct net *n = m->nets; n; n = n->next) {
        if (!bridge_live(n))
            continue;
        if (n->internal) {
            strbuf_addf(out,
                        "\t\tiifname \"%s\" oifname != \"%s\" drop comment \"network %.12s\"\n",
                        n->bridge, n->bridge, n->id);
            strbuf_addf(out,
                        "\t\toifname \"%s\" iifname != \"%s\" drop comment \"network %.12s\"\n",
                        n->bridge, n->bridge, n->id);
        } else {
            strbuf_addf(out,
                        "\t\tiifname \"%s\" oifname != \"%s\" oifname @bridges drop comment "
                        "\"network %.12s\"\n",
                        n->bridge, n->bridge, n->id);
        }
    }
    strbuf_addstr(out, "\t}\n}\n");
}

/* libnftables (with libnftnl, libxtables and libgmp behind it) is loaded
 * for each transaction and unloaded after: the rules change rarely, and the
 * resident daemon should not carry some 1.5 MiB of mapped libraries for it. */
struct nft_lib {
    void *handle;
    struct nft_ctx *(*ctx_new)(uint32_t flags);
    void (*ctx_free)(struct nft_ctx *ctx);
    int (*buffer_output)(struct nft_ctx *ctx);
    int (*buffer_error)(struct nft_ctx *ctx);
    const char *(*error_buffer)(struct nft_ctx *ctx);
    int (*run)(struct nft_ctx *nft, const char *buf);
};

static int nft_load(struct nft_lib *l, wharf_error *err)
{
    l->handle = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!l->handle)
        return wharf_error_set(err, -ENOENT, "nftables: %s", dlerror());
    *(void **)&l->ctx_new = dlsym(l->handle, "nft_ctx_new");
    *(void **)&l->ctx_free = dlsym(l->handle, "nft_ctx_free");
    *(void **)&l->buffer_output = dlsym(l->handle, "nft_ctx_buffer_output");
    *(void **)&l->buffer_error = dlsym(l->handle, "nft_ctx_buffer_error");
    *(void **)&l->error_buffer = dlsym(l->handle, "nft_ctx_get_error_buffer");
    *(void **)&l->run = dlsym(l->handle, "nft_run_cmd_from_buffer");
    if (!l->ctx_new || !l->ctx_free || !l->buffer_output || !l->buffer_error || !l->error_buffer ||
        !l->run) {
        dlclose(l->handle);
        return wharf_error_set(err, -ENOENT, "nftables: libnftables.so.1 lacks its API");
    }
    return 0;
}

int nft_apply(const char *text, wharf_error *err)
{
    struct nft_lib l = {0};
    int r = nft_load(&l, err);
    if (r < 0)
        return r;
    struct nft_ctx *ctx = l.ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        dlclose(l.handle);
        return wharf_error_set(err, -ENOMEM, "nftables: no context");
    }
    l.buffer_output(ctx);
    l.buffer_error(ctx);
    r = l.run(ctx, text);
    if (r != 0) {
        const char *msg = l.error_buffer(ctx);
        /* The first line says what failed; the rest repeats the input. */
        size_t len = msg ? strcspn(msg, "\n") : 0;
        wharf_error_set(err, -EIO, "nftables: %.*s", (int)len, msg ? msg : "");
        r = -EIO;
    }
    l.ctx_free(ctx);
    dlclose(l.handle);
    return r;
}

int nft_sync(struct network_mgr *m, wharf_error *err)
{
    if (m->nft_disabled)
        return 0;
    _cleanup_strbuf_ strbuf text = STRBUF_INIT;
    nft_ruleset(m, &text);
    int r = nft_apply(text.buf, err);
    if (r < 0)
        wlog_debug("nftables input:\n%s", text.buf);
    else
        m->nft_dirty = false;
    return r;
}

void nft_settle(struct network_mgr *m)
{
    wharf_error err = {0};
    if (m->nft_dirty && nft_sync(m, &err) < 0)
        wlog_warn("network rules: %s", err.msg);
}
