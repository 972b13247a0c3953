/*
 * networks.c — the /networks routes (list, inspect, create, remove,
 * connect, disconnect, prune) over the network module, and what the
 * container routes ask of it: a container's network at create (its
 * HostConfig.NetworkMode, PortBindings, PublishAllPorts, Dns*, ExtraHosts
 * and NetworkingConfig turned into a sandbox config; the namespace path
 * and the hosts/resolv.conf/hostname mounts put into the container
 * config), its removal, and NetworkSettings and Ports for inspect and ps.
 * Without a network manager (api->net NULL) containers get a private
 * network namespace with nothing in it, as before networks existed.
 */
#include "internal.h"
#include "network.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int status_of(int code, int dflt)
{
    switch (-code) {
    case ENOENT:
        return 404;
    case EEXIST:
        return 409;
    case EINVAL:
        return 400;
    case EPERM:
    case EBUSY:
    case EADDRINUSE:
        return 403;
    default:
        return dflt;
    }
}

/* ---------------------------------------------------------------- containers */

/* "80/tcp", "53/udp", "80" -> port and protocol; -EINVAL otherwise. */
static int parse_port_key(const char *key, int *port, const char **proto)
{
    char *end;
    long p = strtol(key, &end, 10);
    if (end == key || p < 1 || p > 65535)
        return -EINVAL;
    if (*end == '\0')
        *proto = "tcp";
    else if (strcmp(end, "/tcp") == 0 || strcmp(end, "/udp") == 0 || strcmp(end, "/sctp") == 0)
        *proto = end + 1;
    else
        return -EINVAL;
    *port = (int)p;
    return 0;
}

/* ExposedPorts of the request and the image, as "80/tcp" keys. */
static json_t *exposed_ports(json_t *body, json_t *image_cfg)
{
    json_t *out = json_array();
    json_t *sources[2] = {json_object_get(image_cfg, "ExposedPorts"),
                          json_object_get(body, "ExposedPorts")};
    for (int i = 0; i < 2; i++) {
        const char *key;
        json_t *v;
        json_object_foreach(sources[i], key, v)
        {
            int port;
            const char *proto;
            if (parse_port_key(key, &port, &proto) < 0)
                continue;
            char norm[32];
            snprintf(norm, sizeof(norm), "%d/%s", port, proto);
            bool dup = false;
            size_t k;
            json_t *e;
            json_array_foreach(out, k, e) dup |= strcmp(json_string_value(e), norm) == 0;
            if (!dup)
                json_array_append_new(out, json_string(norm));
        }
    }
    return out;
}

/* HostConfig.PortBindings (and PublishAllPorts over the exposed ports) into
 * the sandbox's "ports". */
static int port_list(json_t *host, json_t *exposed, json_t *out, wharf_error *err)
{
    const char *key;
    json_t *binds;
    json_object_foreach(json_object_get(host, "PortBindings"), key, binds)
    {
        int cport;
        const char *proto;
        if (parse_port_key(key, &cport, &proto) < 0)
            return wharf_error_set(err, -EINVAL, "invalid port specification: \"%s\"", key);
        size_t i;
        json_t *b;
        json_array_foreach(binds, i, b)
        {
            const char *hip = json_string_value(json_object_get(b, "HostIp"));
            const char *hport = json_string_value(json_object_get(b, "HostPort"));
            long hp = 0, hend = 0;
            if (hport && *hport) {
                /* "8080", or a range "8000-8010" to take the first free of */
                char *end;
                hp = strtol(hport, &end, 10);
                if (*end == '-')
                    hend = strtol(end + 1, &end, 10);
                if (*end || hp < 0 || hp > 65535 || hend < 0 || hend > 65535 || (hend && hend < hp))
                    return wharf_error_set(err, -EINVAL, "invalid hostPort: %s", hport);
            }
            json_array_append_new(out, json_pack("{s:s, s:i, s:s, s:i, s:i}", "proto", proto,
                                                 "container_port", cport, "host_ip", hip ? hip : "",
                                                 "host_port", (int)hp, "host_port_end", (int)hend));
        }
    }
    if (json_is_true(json_object_get(host, "PublishAllPorts"))) {
        size_t i;
        json_t *e;
        json_array_foreach(exposed, i, e)
        {
            if (json_object_get(json_object_get(host, "PortBindings"), json_string_value(e)))
                continue;
            int cport;
            const char *proto;
            parse_port_key(json_string_value(e), &cport, &proto);
            json_array_append_new(out, json_pack("{s:s, s:i, s:s, s:i}", "proto", proto,
                                                 "container_port", cport, "host_ip", "",
                                                 "host_port", 0));
        }
    }
    return 0;
}

static void add_mount(json_t *cfg, const char *source, const char *dest)
{
    json_t *mounts = json_object_get(cfg, "mounts");
    if (!json_is_array(mounts)) {
        mounts = json_array();
        json_object_set_new(cfg, "mounts", mounts);
    }
    size_t i;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *d = json_string_value(json_object_get(m, "destination"));
        if (d && strcmp(d, dest) == 0)
            return; /* the user's own mount wins, as with dockerd */
    }
    json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:[s]}", "type", "bind", "source",
                                            source, "destination", dest, "options", "rprivate"));
}

static json_t *copy_strings(json_t *a)
{
    return json_is_array(a) ? json_deep_copy(a) : json_array();
}

http_response *dockerapi_network_attach(struct dockerapi *api, const char *id, const char *name,
                                        json_t *body, json_t *image_cfg, json_t *cfg)
{
    if (!api->net)
        return NULL;
    json_t *host = json_object_get(body, "HostConfig");
    const char *given = json_string_value(json_object_get(host, "NetworkMode"));
    _cleanup_free_ char *mode =
        xstrdup(!given || !*given || strcmp(given, "default") == 0 ? "bridge" : given);
    /* dockerd shows the default as "bridge" in inspect. */
    if (json_is_object(host))
        json_object_set_new(host, "NetworkMode", json_string(mode));
    char provider[65];
    _cleanup_free_ char *sb_mode = NULL;
    if (strncmp(mode, "container:", 10) == 0) {
        int r = dockerapi_resolve(api, mode + 10, provider);
        if (r < 0)
            return http_response_error(400, "No such container: %s", mode + 10);
        if (strcmp(provider, id) == 0)
            return http_response_error(400, "cannot join own network");
        sb_mode = xasprintf("container:%s", provider);
    } else {
        sb_mode = xstrdup(mode);
    }
    json_t *exposed = exposed_ports(body, image_cfg);
    json_t *ports = json_array();
    wharf_error err = {0};
    if (port_list(host, exposed, ports, &err) < 0) {
        json_decref(exposed);
        json_decref(ports);
        return http_response_error(400, "%s", err.msg);
    }
    json_t *endpoints = json_object();
    const char *net;
    json_t *ep;
    json_object_foreach(
        json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig"), net, ep)
    {
        json_t *aliases = copy_strings(json_object_get(ep, "Aliases"));
        const char *ip =
            json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"), "IPv4Address"));
        /* The CLI names the mode's endpoint "default" when none was given. */
        json_object_set_new(
            endpoints, strcmp(net, "default") == 0 ? mode : net,
            json_pack("{s:o, s:s}", "aliases", aliases, "ipv4_address", ip ? ip : ""));
    }
    const char *hostname = json_string_value(json_object_get(cfg, "hostname"));
    const char *domain = json_string_value(json_object_get(body, "Domainname"));
    _cleanup_json_ json_t *sbcfg =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "name", name,
                  "hostname", hostname ? hostname : "", "domainname", domain ? domain : "", "mode",
                  sb_mode, "endpoints", endpoints, "ports", ports, "exposed_ports", exposed, "dns",
                  copy_strings(json_object_get(host, "Dns")), "dns_search",
                  copy_strings(json_object_get(host, "DnsSearch")), "dns_options",
                  copy_strings(json_object_get(host, "DnsOptions")), "extra_hosts",
                  copy_strings(json_object_get(host, "ExtraHosts")));
    struct network_sandbox sb;
    /* Not 404 for an unknown network: the CLI takes a 404 from create for
     * a missing image and would try to pull it. */
    if (network_sandbox_create(api->net, id, sbcfg, &sb, &err) < 0)
        return http_response_error(err.code == -ENOENT ? 400 : status_of(err.code, 500), "%s",
                                   err.msg);
    json_t *ns = json_object_get(cfg, "namespaces");
    if (!json_is_object(ns)) {
        ns = json_object();
        json_object_set_new(cfg, "namespaces", ns);
    }
    json_object_set_new(ns, "network", json_string(sb.netns ? sb.netns : "host"));
    if (!sb.netns) {
        /* The host's network: its name too, as dockerd does. */
        char h[256] = "";
        gethostname(h, sizeof(h) - 1);
        json_object_set_new(cfg, "hostname", json_string(h));
    }
    add_mount(cfg, sb.hosts, "/etc/hosts");
    add_mount(cfg, sb.resolv_conf, "/etc/resolv.conf");
    add_mount(cfg, sb.hostname, "/etc/hostname");
    network_sandbox_release(&sb);
    return NULL;
}

void dockerapi_network_detach(struct dockerapi *api, const char *id)
{
    if (api->net)
        network_sandbox_remove(api->net, id, NULL);
}

/* NetworkSettings.Ports into /containers/json's Ports list. */
static json_t *summary_ports(json_t *ports)
{
    json_t *out = json_array();
    const char *key;
    json_t *binds;
    json_object_foreach(ports, key, binds)
    {
        int port;
        const char *proto;
        if (parse_port_key(key, &port, &proto) < 0)
            continue;
        if (!json_is_array(binds)) {
            json_array_append_new(out, json_pack("{s:i, s:s}", "PrivatePort", port, "Type", proto));
            continue;
        }
        size_t i;
        json_t *b;
        json_array_foreach(binds, i, b)
        {
            json_array_append_new(out,
                                  json_pack("{s:s, s:i, s:i, s:s}", "IP",
                                            json_string_value(json_object_get(b, "HostIp")),
                                            "PrivatePort", port, "PublicPort",
                                            atoi(json_string_value(json_object_get(b, "HostPort"))),
                                            "Type", proto));
        }
    }
    return out;
}

void dockerapi_network_describe(struct dockerapi *api, const char *id, json_t *obj, bool summary)
{
    if (!api->net)
        return;
    json_t *settings = network_sandbox_settings(api->net, id);
    if (!settings)
        return;
    if (summary) {
        json_object_set_new(obj, "Ports", summary_ports(json_object_get(settings, "Ports")));
        json_object_set_new(obj, "NetworkSettings",
                            json_pack("{s:O}", "Networks", json_object_get(settings, "Networks")));
        json_t *meta_host = json_object_get(obj, "HostConfig");
        json_t *nets = json_object_get(settings, "Networks");
        if (json_is_object(meta_host) && json_object_size(nets))
            json_object_set_new(meta_host, "NetworkMode",
                                json_string(json_object_iter_key(json_object_iter(nets))));
        json_decref(settings);
        return;
    }
    json_object_set_new(obj, "NetworkSettings", settings);
}

/* ---------------------------------------------------------------- filters */

/* dockerd's network list filters: name (a substring), id (a prefix), label,
 * driver, scope, type (builtin or custom), dangling. */
static bool filter_match(json_t *filters, json_t *n)
{
    const char *name = json_string_value(json_object_get(n, "Name"));
    const char *id = json_string_value(json_object_get(n, "Id"));
    const char *driver = json_string_value(json_object_get(n, "Driver"));
    bool builtin = strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 ||
                   strcmp(name, "none") == 0;
    if (!dockerapi_filters_match_labels(filters, "label", json_object_get(n, "Labels")))
        return false;
    static const char *const keys[] = {"name", "id", "driver", "scope", "type", "dangling"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *values = dockerapi_filters_values(filters, keys[k]);
        if (!json_array_size(values))
            continue;
        bool any = false;
        size_t i;
        json_t *jv;
        json_array_foreach(values, i, jv)
        {
            const char *v = json_string_value(jv);
            switch (k) {
            case 0: any |= strstr(name, v) != NULL; break;
            case 1: any |= strncmp(id, v, strlen(v)) == 0; break;
            case 2: any |= strcmp(driver, v) == 0; break;
            case 3: any |= strcmp(v, "local") == 0; break;
            case 4: any |= strcmp(v, builtin ? "builtin" : "custom") == 0; break;
            default:
                any |= (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) ==
                       (!builtin && json_object_size(json_object_get(n, "Containers")) == 0);
            }
        }
        if (!any)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- routes */

static http_response *list(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    static const char *const accepted[] = {"name", "id",       "label", "driver",
                                           "scope", "type", "dangling", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    json_t *all = network_list(api->net);
    json_t *out = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(all, i, n)
    {
        if (filter_match(filters, n))
            json_array_append(out, n);
    }
    json_decref(all);
    return http_response_json(200, out);
}

static http_response *inspect(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *ref = http_request_param(req, "id");
    wharf_error err = {0};
    json_t *n = network_inspect(api->net, ref, &err);
    if (!n)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    return http_response_json(200, n);
}

static http_response *create(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    wharf_error err = {0};
    _cleanup_json_ json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    const char *name = json_string_value(json_object_get(body, "Name"));
    if (!name || !*name)
        return http_response_error(400, "network name is required");
    if (json_is_true(json_object_get(body, "EnableIPv6")))
        return http_response_error(400, "IPv6 networks are not supported");
    if (strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 || strcmp(name, "none") == 0)
        return http_response_error(403, "%s is a pre-defined network and cannot be created", name);
    json_t *ipam = json_object_get(body, "IPAM");
    const char *ipam_driver = json_string_value(json_object_get(ipam, "Driver"));
    if (ipam_driver && *ipam_driver && strcmp(ipam_driver, "default") != 0)
        return http_response_error(404, "plugin \"%s\" not found", ipam_driver);
    json_t *configs = json_object_get(ipam, "Config");
    if (json_array_size(configs) > 1)
        return http_response_error(400, "only one IPAM config (one IPv4 subnet) per network");
    json_t *c = json_array_get(configs, 0);
    const char *range = json_string_value(json_object_get(c, "IPRange"));
    if (range && *range)
        return http_response_error(400, "--ip-range is not supported");
    struct network_config cfg = {
        .name = name,
        .driver = json_string_value(json_object_get(body, "Driver")),
        .subnet = json_string_value(json_object_get(c, "Subnet")),
        .gateway = json_string_value(json_object_get(c, "Gateway")),
        .internal = json_is_true(json_object_get(body, "Internal")),
        .attachable = json_is_true(json_object_get(body, "Attachable")),
        .labels = json_object_get(body, "Labels"),
        .options = json_object_get(body, "Options"),
    };
    if (cfg.driver && *cfg.driver && strcmp(cfg.driver, "bridge") != 0 &&
        strncmp(cfg.driver, "cni:", 4) != 0)
        return http_response_error(404, "plugin \"%s\" not found", cfg.driver);
    if ((cfg.labels && !json_is_object(cfg.labels)) ||
        (cfg.options && !json_is_object(cfg.options)))
        return http_response_error(400, "Labels and Options must be objects of strings");
    char id[65];
    if (network_create(api->net, &cfg, id, &err) < 0)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    dockerapi_event(api, "network", "create", id,
                    json_pack("{s:s, s:s}", "name", name, "type",
                              cfg.driver && *cfg.driver ? cfg.driver : "bridge"));
    return http_response_json(201, json_pack("{s:s, s:s}", "Id", id, "Warning", ""));
}

static http_response *remove_network(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    const char *ref = http_request_param(req, "id");
    wharf_error err = {0};
    json_t *n = network_inspect(api->net, ref, &err);
    if (!n)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    char id[65], name[256];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(n, "Id")));
    snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(n, "Name")));
    json_decref(n);
    if (network_remove(api->net, id, &err) < 0)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    dockerapi_event(api, "network", "destroy", id,
                    json_pack("{s:s, s:s}", "name", name, "type", "bridge"));
    return http_response_empty(204);
}

static http_response *connect_or_disconnect(http_request *req, struct dockerapi *api, bool connect)
{
    const char *ref = http_request_param(req, "id");
    wharf_error err = {0};
    _cleanup_json_ json_t *body = http_request_body_json(req, &err);
    if (!body)
        return http_response_error(400, "%s", err.msg);
    const char *container = json_string_value(json_object_get(body, "Container"));
    if (!container || !*container)
        return http_response_error(400, "container is required");
    json_t *n = network_inspect(api->net, ref, &err);
    if (!n)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    char net_id[65], net_name[256];
    snprintf(net_id, sizeof(net_id), "%s", json_string_value(json_object_get(n, "Id")));
    snprintf(net_name, sizeof(net_name), "%s", json_string_value(json_object_get(n, "Name")));
    json_decref(n);
    char id[65];
    int r = dockerapi_resolve(api, container, id);
    if (r < 0)
        return dockerapi_no_such_container(container);
    if (connect) {
        json_t *ep = json_object_get(body, "EndpointConfig");
        const char *ip =
            json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"), "IPv4Address"));
        _cleanup_json_ json_t *settings =
            json_pack("{s:o, s:s}", "aliases", copy_strings(json_object_get(ep, "Aliases")),
                      "ipv4_address", ip ? ip : "");
        r = network_connect(api->net, net_id, id, settings, &err);
    } else {
        r = network_disconnect(api->net, net_id, id, &err);
    }
    if (r < 0)
        return http_response_error(status_of(err.code, 500), "%s", err.msg);
    dockerapi_event(
        api, "network", connect ? "connect" : "disconnect", net_id,
        json_pack("{s:s, s:s, s:s}", "container", id, "name", net_name, "type", "bridge"));
    return http_response_empty(200);
}

static http_response *connect_route(http_request *req, void *ud)
{
    return connect_or_disconnect(req, ud, true);
}

static http_response *disconnect_route(http_request *req, void *ud)
{
    return connect_or_disconnect(req, ud, false);
}

static http_response *prune(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    static const char *const accepted[] = {"label", "label!", "until", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    struct timespec until = {0, 0};
    json_t *u = dockerapi_filters_values(filters, "until");
    if (json_array_size(u) > 1)
        return http_response_error(400, "more than one until filter specified");
    if (json_array_size(u) == 1 &&
        dockerapi_parse_timestamp(json_string_value(json_array_get(u, 0)), time(NULL), &until,
                                  &err) < 0)
        return http_response_error(400, "%s", err.msg);
    json_t *all = network_list(api->net);
    json_t *deleted = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(all, i, n)
    {
        const char *name = json_string_value(json_object_get(n, "Name"));
        const char *id = json_string_value(json_object_get(n, "Id"));
        if (strcmp(name, "bridge") == 0 || strcmp(name, "host") == 0 ||
            strcmp(name, "none") == 0 || json_object_size(json_object_get(n, "Containers")))
            continue;
        json_t *labels = json_object_get(n, "Labels");
        if (!dockerapi_filters_match_labels(filters, "label", labels) ||
            (dockerapi_filters_has(filters, "label!") &&
             dockerapi_filters_match_labels(filters, "label!", labels)))
            continue;
        const char *created = json_string_value(json_object_get(n, "Created"));
        struct timespec t = {0, 0};
        if (until.tv_sec && created && cri_parse_time(created, strlen(created), &t) == 0 &&
            (t.tv_sec > until.tv_sec || (t.tv_sec == until.tv_sec && t.tv_nsec > until.tv_nsec)))
            continue;
        wharf_error e = {0};
        if (network_remove(api->net, id, &e) < 0)
            continue;
        dockerapi_event(api, "network", "destroy", id,
                        json_pack("{s:s, s:s}", "name", name, "type", "bridge"));
        json_array_append_new(deleted, json_string(name));
    }
    json_decref(all);
    dockerapi_event(api, "network", "prune", "", NULL);
    return http_response_json(200, json_pack("{s:o}", "NetworksDeleted", deleted));
}

int dockerapi_register_networks(struct dockerapi *api, http_router *r, wharf_error *err)
{
    if (!api->net)
        return 0;
    /* The sandboxes of containers removed while the daemon was down. */
    struct cri_container_status *all = NULL;
    size_t n = 0;
    wharf_error lerr = {0};
    if (api->cri && cri_container_list(api->cri, NULL, &all, &n, &lerr) == 0) {
        const char **ids = xcalloc(n + 1, sizeof(*ids));
        for (size_t i = 0; i < n; i++) {
            ids[i] = all[i].id;
            /* and the ports of those that stopped meanwhile */
            if (!dockerapi_is_up(&all[i]))
                network_sandbox_unpublish(api->net, all[i].id);
        }
        network_sandbox_gc(api->net, ids, n);
        free(ids);
        cri_container_status_array_free(all, n);
    }
    int rc;
    if ((rc = http_router_add(r, "GET", "/networks", list, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/networks/{id}", inspect, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/networks/create", create, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/networks/prune", prune, api, err)) < 0 ||
        (rc = http_router_add(r, "DELETE", "/networks/{id}", remove_network, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/networks/{id}/connect", connect_route, api, err)) < 0 ||
        (rc = http_router_add(r, "POST", "/networks/{id}/disconnect", disconnect_route, api, err)) <
            0)
        return rc;
    return 0;
}
