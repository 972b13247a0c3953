/*
 * api.c — a service's canonical configuration as Docker Engine API request
 * bodies, with Docker Compose's names and labels, so containers made by
 * `wharf compose` and by Docker Compose are told apart the same way (and
 * either tool finds the other's).
 *
 * Named and bind volumes go in HostConfig.Binds ("SOURCE:TARGET[:OPTIONS]"),
 * anonymous ones in Config.Volumes (or, when a container is replaced, as
 * binds of the volumes the old one had, so their data stays), tmpfs mounts
 * in HostConfig.Tmpfs. Every network the service joins is in
 * NetworkingConfig.EndpointsConfig, with the service's name as an alias.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

char *compose_container_name(const struct compose_project *p, const struct compose_service *svc,
                             int number)
{
    if (svc->container_name)
        return xstrdup(svc->container_name);
    return xasprintf("%s-%s-%d", p->name, svc->name, number);
}

static int64_t duration_ns(json_t *v)
{
    int64_t ns = 0;
    if (json_is_string(v))
        compose_parse_duration(json_string_value(v), &ns);
    return ns;
}

static const struct compose_resource *find(const struct compose_resource *r, size_t n,
                                           const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].key, key) == 0)
            return &r[i];
    return NULL;
}

struct net_entry {
    const char *key;
    long priority;
};

static int by_priority(const void *a, const void *b)
{
    const struct net_entry *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The service's network keys, highest priority first, then by name. */
static struct net_entry *service_net_keys(const struct compose_service *svc, size_t *n)
{
    json_t *nets = json_object_get(svc->config, "networks");
    struct net_entry *e = xcalloc(json_object_size(nets) + 1, sizeof(*e));
    *n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(nets, k, v)
    {
        e[*n].key = k;
        e[*n].priority = (long)json_integer_value(json_object_get(v, "priority"));
        (*n)++;
    }
    qsort(e, *n, sizeof(*e), by_priority);
    return e;
}

const char **compose_service_networks(const struct compose_project *p,
                                      const struct compose_service *svc, size_t *count)
{
    size_t n;
    struct net_entry *e = service_net_keys(svc, &n);
    const char **out = xcalloc(n + 1, sizeof(*out));
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        const struct compose_resource *r = find(p->networks, p->n_networks, e[i].key);
        if (r)
            out[(*count)++] = r->name;
    }
    free(e);
    return out;
}

const char **compose_service_volumes(const struct compose_project *p,
                                     const struct compose_service *svc, size_t *count)
{
    json_t *vols = json_object_get(svc->config, "volumes");
    const char **out = xcalloc(json_array_size(vols) + 1, sizeof(*out));
    *count = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vols, i, v)
    {
        const char *src = json_string_value(json_object_get(v, "source"));
        if (strcmp(json_string_value(json_object_get(v, "type")), "volume") || !src)
            continue;
        const struct compose_resource *r = find(p->volumes, p->n_volumes, src);
        bool dup = false;
        for (size_t k = 0; k < *count; k++)
            dup = dup || strcmp(out[k], src) == 0;
        if (r && !dup)
            out[(*count)++] = r->key;
    }
    return out;
}

static void set_if(json_t *o, const char *key, json_t *v)
{
    if (v)
        json_object_set(o, key, v);
}

static void mounts(const struct compose_project *p, const struct compose_service *svc,
                   const struct compose_create_options *o, json_t *body, json_t *host)
{
    json_t *binds = json_array(), *anon = json_object(), *tmpfs = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(svc->config, "volumes"), i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *src = json_string_value(json_object_get(v, "source"));
        const char *target = json_string_value(json_object_get(v, "target"));
        bool ro = json_is_true(json_object_get(v, "read_only"));
        _cleanup_strbuf_ strbuf opts = STRBUF_INIT;
        if (ro)
            strbuf_addstr(&opts, "ro");
        if (!strcmp(type, "tmpfs")) {
            json_t *t = json_object_get(v, "tmpfs");
            _cleanup_strbuf_ strbuf topts = STRBUF_INIT;
            if (ro)
                strbuf_addstr(&topts, "ro");
            if (json_object_get(t, "size"))
                strbuf_addf(&topts, "%ssize=%lld", topts.len ? "," : "",
                            (long long)json_integer_value(json_object_get(t, "size")));
            if (json_object_get(t, "mode"))
                strbuf_addf(&topts, "%smode=%llo", topts.len ? "," : "",
                            (long long)json_integer_value(json_object_get(t, "mode")));
            json_object_set_new(tmpfs, target, json_string(strbuf_str(&topts)));
            continue;
        }
        if (!strcmp(type, "bind")) {
            const char *prop =
                json_string_value(json_object_get(json_object_get(v, "bind"), "propagation"));
            const char *selinux =
                json_string_value(json_object_get(json_object_get(v, "bind"), "selinux"));
            if (prop)
                strbuf_addf(&opts, "%s%s", opts.len ? "," : "", prop);
            if (selinux)
                strbuf_addf(&opts, "%s%s", opts.len ? "," : "", selinux);
            json_array_append_new(binds, json_sprintf("%s:%s%s%s", src, target, opts.len ? ":" : "",
                                                      strbuf_str(&opts)));
            continue;
        }
        if (json_is_true(json_object_get(json_object_get(v, "volume"), "nocopy")))
            strbuf_addf(&opts, "%snocopy", opts.len ? "," : "");
        _cleanup_free_ char *name = NULL;
        if (src) {
            const struct compose_resource *r = find(p->volumes, p->n_volumes, src);
            name = xstrdup(r ? r->name : src);
        } else {
            /* an anonymous volume: the old container's, when it is replaced */
            for (size_t k = 0; k < o->n_keep_volumes && !name; k++) {
                const char *kv = o->keep_volumes[k];
                const char *colon = strchr(kv, ':');
                if (colon && !strcmp(colon + 1, target))
                    name = xasprintf("%.*s", (int)(colon - kv), kv);
            }
        }
        if (!name) {
            json_object_set_new(anon, target, json_object());
            continue;
        }
        json_array_append_new(
            binds, json_sprintf("%s:%s%s%s", name, target, opts.len ? ":" : "", strbuf_str(&opts)));
    }
    json_array_foreach(json_object_get(svc->config, "tmpfs"), i, v)
        json_object_set_new(tmpfs, json_string_value(v), json_string(""));
    if (json_array_size(binds))
        json_object_set(host, "Binds", binds);
    if (json_object_size(anon))
        json_object_set(body, "Volumes", anon);
    if (json_object_size(tmpfs))
        json_object_set(host, "Tmpfs", tmpfs);
    json_decref(binds);
    json_decref(anon);
    json_decref(tmpfs);
}

static void ports(const struct compose_service *svc, json_t *body, json_t *host, bool publish)
{
    json_t *exposed = json_object(), *bindings = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(svc->config, "expose"), i, v)
    {
        const char *s = json_string_value(v);
        _cleanup_free_ char *key = strchr(s, '/') ? xstrdup(s) : xasprintf("%s/tcp", s);
        json_object_set_new(exposed, key, json_object());
    }
    json_array_foreach(json_object_get(svc->config, "ports"), i, v)
    {
        char key[32];
        snprintf(key, sizeof(key), "%lld/%s",
                 (long long)json_integer_value(json_object_get(v, "target")),
                 json_string_value(json_object_get(v, "protocol")));
        json_object_set_new(exposed, key, json_object());
        if (!publish)
            continue;
        json_t *list = json_object_get(bindings, key);
        if (!list) {
            list = json_array();
            json_object_set_new(bindings, key, list);
        }
        const char *ip = json_string_value(json_object_get(v, "host_ip"));
        const char *pub = json_string_value(json_object_get(v, "published"));
        json_array_append_new(
            list, json_pack("{s:s, s:s}", "HostIp", ip ? ip : "", "HostPort", pub ? pub : ""));
    }
    if (json_object_size(exposed))
        json_object_set(body, "ExposedPorts", exposed);
    if (json_object_size(bindings))
        json_object_set(host, "PortBindings", bindings);
    json_decref(exposed);
    json_decref(bindings);
}

static json_t *restart_policy(json_t *cfg)
{
    const char *r = json_string_value(json_object_get(cfg, "restart"));
    if (r) {
        if (!strncmp(r, "on-failure:", 11))
            return json_pack("{s:s, s:i}", "Name", "on-failure", "MaximumRetryCount", atoi(r + 11));
        return json_pack("{s:s, s:i}", "Name", r, "MaximumRetryCount", 0);
    }
    json_t *rp = json_object_get(json_object_get(cfg, "deploy"), "restart_policy");
    const char *c = json_string_value(json_object_get(rp, "condition"));
    if (!c)
        return NULL;
    const char *name = !strcmp(c, "none") ? "no" : !strcmp(c, "any") ? "always" : "on-failure";
    return json_pack("{s:s, s:I}", "Name", name, "MaximumRetryCount",
                     (json_int_t)json_integer_value(json_object_get(rp, "max_attempts")));
}

static void resources(json_t *cfg, json_t *host)
{
    json_t *limits =
        json_object_get(json_object_get(json_object_get(cfg, "deploy"), "resources"), "limits");
    json_t *reserv = json_object_get(json_object_get(json_object_get(cfg, "deploy"), "resources"),
                                     "reservations");
    json_t *mem = json_object_get(cfg, "mem_limit");
    set_if(host, "Memory", mem ? mem : json_object_get(limits, "memory"));
    json_t *memres = json_object_get(cfg, "mem_reservation");
    set_if(host, "MemoryReservation", memres ? memres : json_object_get(reserv, "memory"));
    set_if(host, "MemorySwap", json_object_get(cfg, "memswap_limit"));
    set_if(host, "ShmSize", json_object_get(cfg, "shm_size"));
    json_t *cpus = json_object_get(cfg, "cpus");
    if (!cpus)
        cpus = json_object_get(limits, "cpus");
    if (cpus && json_number_value(cpus) > 0)
        json_object_set_new(host, "NanoCpus",
                            json_integer((json_int_t)llround(json_number_value(cpus) * 1e9)));
    set_if(host, "CpuShares", json_object_get(cfg, "cpu_shares"));
    set_if(host, "CpuQuota", json_object_get(cfg, "cpu_quota"));
    set_if(host, "CpuPeriod", json_object_get(cfg, "cpu_period"));
    set_if(host, "CpusetCpus", json_object_get(cfg, "cpuset"));
    json_t *pids = json_object_get(cfg, "pids_limit");
    set_if(host, "PidsLimit", pids ? pids : json_object_get(limits, "pids"));
    set_if(host, "OomScoreAdj", json_object_get(cfg, "oom_score_adj"));
}

static void labels(const struct compose_project *p, const struct compose_service *svc,
                   const struct compose_create_options *o, json_t *body)
{
    json_t *l = json_deep_copy(json_object_get(svc->config, "labels"));
    if (!l)
        l = json_object();
    json_object_set_new(l, COMPOSE_LABEL_PROJECT, json_string(p->name));
    json_object_set_new(l, COMPOSE_LABEL_SERVICE, json_string(svc->name));
    json_object_set_new(l, COMPOSE_LABEL_NUMBER, json_sprintf("%d", o->number));
    json_object_set_new(l, COMPOSE_LABEL_ONEOFF, json_string(o->oneoff ? "True" : "False"));
    json_object_set_new(l, COMPOSE_LABEL_HASH, json_string(svc->hash));
    json_object_set_new(l, COMPOSE_LABEL_WORKDIR, json_string(p->working_dir));
    strbuf files = STRBUF_INIT;
    for (size_t i = 0; i < p->n_config_files; i++)
        strbuf_addf(&files, "%s%s", i ? "," : "", p->config_files[i]);
    json_object_set_new(l, COMPOSE_LABEL_FILES, json_string(strbuf_str(&files)));
    strbuf_release(&files);
    if (o->image_id)
        json_object_set_new(l, COMPOSE_LABEL_IMAGE, json_string(o->image_id));
    strbuf deps = STRBUF_INIT;
    for (size_t i = 0; i < svc->n_depends_on; i++) {
        const struct compose_dependency *d = &svc->depends_on[i];
        static const char *const cond[] = {"service_started", "service_healthy",
                                           "service_completed_successfully"};
        strbuf_addf(&deps, "%s%s:%s:%s", i ? "," : "", d->service, cond[d->condition],
                    d->restart ? "true" : "false");
    }
    json_object_set_new(l, COMPOSE_LABEL_DEPENDS, json_string(strbuf_str(&deps)));
    strbuf_release(&deps);
    json_object_set_new(body, "Labels", l);
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *environment(const struct compose_service *svc, json_t *extra)
{
    json_t *env = json_deep_copy(json_object_get(svc->config, "environment"));
    if (!env)
        env = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(extra, i, e)
    {
        const char *s = json_string_value(e);
        const char *eq = s ? strchr(s, '=') : NULL;
        if (!eq)
            continue;
        _cleanup_free_ char *k = xasprintf("%.*s", (int)(eq - s), s);
        json_object_set_new(env, k, json_string(eq + 1));
    }
    size_t n = json_object_size(env), k = 0;
    char **lines = xcalloc(n + 1, sizeof(char *));
    const char *key;
    json_t *v;
    json_object_foreach(env, key, v) lines[k++] =
        xasprintf("%s=%s", key, json_string_value(v) ? json_string_value(v) : "");
    qsort(lines, n, sizeof(char *), cmp_strings);
    json_t *out = json_array();
    for (k = 0; k < n; k++) {
        json_array_append_new(out, json_string(lines[k]));
        free(lines[k]);
    }
    free(lines);
    json_decref(env);
    return out;
}

static char *network_mode(const struct compose_project *p, const struct compose_service *svc)
{
    const char *mode = json_string_value(json_object_get(svc->config, "network_mode"));
    if (mode && !strncmp(mode, "service:", 8)) {
        for (size_t i = 0; i < p->n_services; i++)
            if (!strcmp(p->services[i].name, mode + 8)) {
                _cleanup_free_ char *name = compose_container_name(p, &p->services[i], 1);
                return xasprintf("container:%s", name);
            }
    }
    return mode ? xstrdup(mode) : NULL;
}

json_t *compose_container_body(const struct compose_project *p, const struct compose_service *svc,
                               const struct compose_create_options *o)
{
    json_t *cfg = svc->config;
    json_t *body = json_object();
    json_t *host = json_object();
    json_object_set_new(body, "Image", json_string(svc->image));
    if (o->command)
        json_object_set(body, "Cmd", o->command);
    else
        set_if(body, "Cmd", json_object_get(cfg, "command"));
    if (o->entrypoint)
        json_object_set(body, "Entrypoint", o->entrypoint);
    else
        set_if(body, "Entrypoint", json_object_get(cfg, "entrypoint"));
    json_object_set_new(body, "Env", environment(svc, o->extra_env));
    labels(p, svc, o, body);
    set_if(body, "WorkingDir", json_object_get(cfg, "working_dir"));
    if (o->workdir)
        json_object_set_new(body, "WorkingDir", json_string(o->workdir));
    set_if(body, "User", json_object_get(cfg, "user"));
    if (o->user)
        json_object_set_new(body, "User", json_string(o->user));
    set_if(body, "Hostname", json_object_get(cfg, "hostname"));
    set_if(body, "Domainname", json_object_get(cfg, "domainname"));
    bool tty = o->oneoff ? o->tty : json_is_true(json_object_get(cfg, "tty"));
    bool in = o->oneoff ? o->stdin_open : json_is_true(json_object_get(cfg, "stdin_open"));
    json_object_set_new(body, "Tty", json_boolean(tty));
    json_object_set_new(body, "OpenStdin", json_boolean(in));
    if (o->oneoff && in) {
        json_object_set_new(body, "AttachStdin", json_true());
        json_object_set_new(body, "StdinOnce", json_true());
    }
    if (o->oneoff) {
        json_object_set_new(body, "AttachStdout", json_true());
        json_object_set_new(body, "AttachStderr", json_true());
    }
    set_if(body, "StopSignal", json_object_get(cfg, "stop_signal"));
    json_t *grace = json_object_get(cfg, "stop_grace_period");
    if (grace) {
        int64_t ns = duration_ns(grace);
        json_object_set_new(body, "StopTimeout", json_integer((ns + 999999999) / 1000000000));
    }
    json_t *hc = json_object_get(cfg, "healthcheck");
    if (hc) {
        json_t *h = json_object();
        if (json_is_true(json_object_get(hc, "disable")))
            json_object_set_new(h, "Test", json_pack("[s]", "NONE"));
        else
            set_if(h, "Test", json_object_get(hc, "test"));
        static const char *const durations[][2] = {{"interval", "Interval"},
                                                   {"timeout", "Timeout"},
                                                   {"start_period", "StartPeriod"},
                                                   {"start_interval", "StartInterval"}};
        for (size_t i = 0; i < 4; i++) {
            json_t *d = json_object_get(hc, durations[i][0]);
            if (d)
                json_object_set_new(h, durations[i][1], json_integer(duration_ns(d)));
        }
        set_if(h, "Retries", json_object_get(hc, "retries"));
        json_object_set_new(body, "Healthcheck", h);
    }
    ports(svc, body, host, !o->oneoff || !o->no_ports);
    mounts(p, svc, o, body, host);
    json_t *rp = restart_policy(cfg);
    if (rp && !o->oneoff)
        json_object_set_new(host, "RestartPolicy", rp);
    else
        json_decref(rp);
    set_if(host, "Init", json_object_get(cfg, "init"));
    resources(cfg, host);
    set_if(host, "CapAdd", json_object_get(cfg, "cap_add"));
    set_if(host, "CapDrop", json_object_get(cfg, "cap_drop"));
    set_if(host, "Privileged", json_object_get(cfg, "privileged"));
    set_if(host, "ReadonlyRootfs", json_object_get(cfg, "read_only"));
    set_if(host, "Dns", json_object_get(cfg, "dns"));
    set_if(host, "DnsSearch", json_object_get(cfg, "dns_search"));
    set_if(host, "DnsOptions", json_object_get(cfg, "dns_opt"));
    set_if(host, "ExtraHosts", json_object_get(cfg, "extra_hosts"));
    set_if(host, "Sysctls", json_object_get(cfg, "sysctls"));
    set_if(host, "SecurityOpt", json_object_get(cfg, "security_opt"));
    json_t *ulimits = json_object_get(cfg, "ulimits");
    if (ulimits) {
        json_t *u = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(ulimits, k, v) json_array_append_new(
            u, json_pack("{s:s, s:O, s:O}", "Name", k, "Soft", json_object_get(v, "soft"), "Hard",
                         json_object_get(v, "hard")));
        json_object_set_new(host, "Ulimits", u);
    }
    char *mode = network_mode(p, svc);
    json_t *endpoints = json_object();
    if (!mode) {
        size_t n;
        struct net_entry *keys = service_net_keys(svc, &n);
        for (size_t i = 0; i < n; i++) {
            const struct compose_resource *r = find(p->networks, p->n_networks, keys[i].key);
            if (!r)
                continue;
            if (!mode)
                mode = xstrdup(r->name);
            json_t *ncfg = json_object_get(json_object_get(cfg, "networks"), keys[i].key);
            json_t *ep = json_object();
            if (!o->oneoff) {
                json_t *aliases = json_pack("[s]", svc->name);
                size_t k;
                json_t *a;
                json_array_foreach(json_object_get(ncfg, "aliases"), k,
                                   a) if (strcmp(json_string_value(a), svc->name))
                    json_array_append(aliases, a);
                json_object_set_new(ep, "Aliases", aliases);
            }
            json_t *v4 = json_object_get(ncfg, "ipv4_address");
            json_t *v6 = json_object_get(ncfg, "ipv6_address");
            if (v4 || v6) {
                json_t *ipam = json_object();
                set_if(ipam, "IPv4Address", v4);
                set_if(ipam, "IPv6Address", v6);
                json_object_set_new(ep, "IPAMConfig", ipam);
            }
            json_object_set_new(endpoints, r->name, ep);
        }
        free(keys);
    }
    if (mode)
        json_object_set_new(host, "NetworkMode", json_string(mode));
    free(mode);
    json_object_set_new(body, "HostConfig", host);
    json_object_set_new(body, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", endpoints));
    return body;
}

json_t *compose_network_body(const struct compose_project *p, const struct compose_resource *n)
{
    json_t *cfg = n->config;
    json_t *l = json_deep_copy(json_object_get(cfg, "labels"));
    if (!l)
        l = json_object();
    json_object_set_new(l, COMPOSE_LABEL_NETWORK, json_string(n->key));
    json_object_set_new(l, COMPOSE_LABEL_PROJECT, json_string(p->name));
    json_t *body = json_pack("{s:s, s:o, s:b}", "Name", n->name, "Labels", l, "CheckDuplicate", 1);
    const char *driver = json_string_value(json_object_get(cfg, "driver"));
    json_object_set_new(body, "Driver", json_string(driver ? driver : "bridge"));
    set_if(body, "Internal", json_object_get(cfg, "internal"));
    set_if(body, "Attachable", json_object_get(cfg, "attachable"));
    set_if(body, "EnableIPv6", json_object_get(cfg, "enable_ipv6"));
    set_if(body, "Options", json_object_get(cfg, "driver_opts"));
    json_t *ipam = json_object_get(cfg, "ipam");
    if (ipam) {
        json_t *out = json_object();
        set_if(out, "Driver", json_object_get(ipam, "driver"));
        set_if(out, "Options", json_object_get(ipam, "options"));
        json_t *configs = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(ipam, "config"), i, c)
        {
            json_t *o = json_object();
            set_if(o, "Subnet", json_object_get(c, "subnet"));
            set_if(o, "IPRange", json_object_get(c, "ip_range"));
            set_if(o, "Gateway", json_object_get(c, "gateway"));
            set_if(o, "AuxiliaryAddresses", json_object_get(c, "aux_addresses"));
            json_array_append_new(configs, o);
        }
        json_object_set_new(out, "Config", configs);
        json_object_set_new(body, "IPAM", out);
    }
    return body;
}

json_t *compose_volume_body(const struct compose_project *p, const struct compose_resource *v)
{
    json_t *cfg = v->config;
    json_t *l = json_deep_copy(json_object_get(cfg, "labels"));
    if (!l)
        l = json_object();
    json_object_set_new(l, COMPOSE_LABEL_VOLUME, json_string(v->key));
    json_object_set_new(l, COMPOSE_LABEL_PROJECT, json_string(p->name));
    json_t *body = json_pack("{s:s, s:o}", "Name", v->name, "Labels", l);
    const char *driver = json_string_value(json_object_get(cfg, "driver"));
    json_object_set_new(body, "Driver", json_string(driver ? driver : "local"));
    set_if(body, "DriverOpts", json_object_get(cfg, "driver_opts"));
    return body;
}
