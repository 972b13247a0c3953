/*
 * Discovery: what kubectl asks before anything else.
 *
 *   /api, /apis              legacy APIVersions / APIGroupList, or — when
 *                            the Accept header asks for
 *                            as=APIGroupDiscoveryList (v2 or v2beta1) —
 *                            aggregated discovery: every group, version,
 *                            resource, verb, short name, category and
 *                            subresource in one document
 *   /apis/GROUP              APIGroup
 *   /api/v1, /apis/G/V       APIResourceList
 *   /version                 the Kubernetes version served
 *
 * All of it comes from the registry table.
 */
#include "internal.h"

#include <string.h>

static json_t *strings(const char *space_separated)
{
    json_t *a = json_array();
    const char *p = space_separated;
    while (p && *p) {
        size_t n = strcspn(p, " ");
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
        while (*p == ' ')
            p++;
    }
    return a;
}

struct sub_info {
    unsigned bit;
    const char *name;
    const char *verbs;
    const char *group, *version, *kind; /* NULL kind: the parent's */
};

static const struct sub_info sub_infos[] = {
    {SUB_STATUS, "status", "get patch update", NULL, NULL, NULL},
    {SUB_SCALE, "scale", "get patch update", "autoscaling", "v1", "Scale"},
    {SUB_BINDING, "binding", "create", "", "v1", "Binding"},
    {SUB_LOG, "log", "get", "", "v1", "Pod"},
    {SUB_EXEC, "exec", "create get", "", "v1", "PodExecOptions"},
    {SUB_ATTACH, "attach", "create get", "", "v1", "PodAttachOptions"},
    {SUB_PORTFORWARD, "portforward", "create get", "", "v1", "PodPortForwardOptions"},
    {SUB_FINALIZE, "finalize", "update", "", "v1", "Namespace"},
    {SUB_EPHEMERAL, "ephemeralcontainers", "get patch update", "", "v1", "Pod"},
};

#define N_SUBS (sizeof(sub_infos) / sizeof(sub_infos[0]))

/* ---------------------------------------------------------------- aggregated */

static json_t *aggregated_resource(const struct api_resource *r)
{
    json_t *res = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", r->plural,
                            "responseKind", "group", r->group, "version", r->version, "kind",
                            r->kind, "scope", r->namespaced ? "Namespaced" : "Cluster",
                            "singularResource", r->singular, "verbs", registry_verbs(r));
    if (r->short_names)
        json_object_set_new(res, "shortNames", strings(r->short_names));
    if (r->categories)
        json_object_set_new(res, "categories", strings(r->categories));
    json_t *subs = json_array();
    for (size_t i = 0; i < N_SUBS; i++) {
        const struct sub_info *s = &sub_infos[i];
        if (!(r->subresources & s->bit))
            continue;
        json_array_append_new(subs,
                              json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource", s->name,
                                        "responseKind", "group", s->kind ? s->group : r->group,
                                        "version", s->kind ? s->version : r->version, "kind",
                                        s->kind ? s->kind : r->kind, "verbs", strings(s->verbs)));
    }
    if (json_array_size(subs))
        json_object_set_new(res, "subresources", subs);
    else
        json_decref(subs);
    return res;
}

static json_t *aggregated_group(const char *group)
{
    const char *versions[8];
    size_t nv = registry_group_versions(group, versions, 8);
    json_t *vlist = json_array();
    for (size_t v = 0; v < nv; v++) {
        json_t *resources = json_array();
        for (size_t i = 0; i < registry_count(); i++) {
            const struct api_resource *r = registry_at(i);
            if (strcmp(r->group, group) == 0 && strcmp(r->version, versions[v]) == 0)
                json_array_append_new(resources, aggregated_resource(r));
        }
        json_array_append_new(vlist, json_pack("{s:s, s:o, s:s}", "version", versions[v],
                                               "resources", resources, "freshness", "Current"));
    }
    json_t *meta = json_pack("{s:n}", "creationTimestamp");
    if (group[0])
        json_object_set_new(meta, "name", json_string(group));
    return json_pack("{s:o, s:o}", "metadata", meta, "versions", vlist);
}

static http_response *aggregated(struct api_req *c, bool core)
{
    const char *v = accept_has(c->http, "APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2")
                        ? "v2"
                        : "v2beta1";
    json_t *items = json_array();
    const char *groups[32];
    size_t n = registry_groups(groups, 32);
    for (size_t i = 0; i < n; i++) {
        if (core != (groups[i][0] == '\0'))
            continue;
        json_array_append_new(items, aggregated_group(groups[i]));
    }
    _cleanup_free_ char *av = xasprintf("apidiscovery.k8s.io/%s", v);
    http_response *resp =
        api_respond(c, 200,
                    json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList",
                              "apiVersion", av, "metadata", "items", items));
    _cleanup_free_ char *ct =
        xasprintf("application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList", v);
    http_response_set_header(resp, "Content-Type", ct);
    http_response_set_header(resp, "Vary", "Accept");
    return resp;
}

static bool wants_aggregated(struct api_req *c)
{
    return accept_has(c->http, "APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2") ||
           accept_has(c->http, "APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2beta1");
}

/* ---------------------------------------------------------------- legacy */

static json_t *server_addresses(struct api_req *c)
{
    _cleanup_free_ char *addr = xasprintf("%s:%d", c->as->advertise_address, c->as->port);
    return json_pack("[{s:s, s:s}]", "clientCIDR", "0.0.0.0/0", "serverAddress", addr);
}

http_response *discovery_core(struct api_req *c)
{
    if (wants_aggregated(c))
        return aggregated(c, true);
    return api_respond(c, 200,
                       json_pack("{s:s, s:[s], s:o}", "kind", "APIVersions", "versions", "v1",
                                 "serverAddressByClientCIDRs", server_addresses(c)));
}

static bool serves_version(const char *group, const char *version)
{
    const char *versions[8];
    size_t n = registry_group_versions(group, versions, 8);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(versions[i], version) == 0)
            return true;
    }
    return false;
}

static json_t *api_group(const char *group)
{
    const char *versions[8];
    size_t n = registry_group_versions(group, versions, 8);
    json_t *list = json_array();
    json_t *preferred = NULL;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *gv = xasprintf("%s/%s", group, versions[i]);
        json_t *entry = json_pack("{s:s, s:s}", "groupVersion", gv, "version", versions[i]);
        if (!preferred)
            preferred = json_deep_copy(entry);
        json_array_append_new(list, entry);
    }
    return json_pack("{s:s, s:o, s:o}", "name", group, "versions", list, "preferredVersion",
                     preferred ? preferred : json_object());
}

http_response *discovery_groups(struct api_req *c)
{
    if (wants_aggregated(c))
        return aggregated(c, false);
    json_t *groups = json_array();
    const char *names[32];
    size_t n = registry_groups(names, 32);
    for (size_t i = 0; i < n; i++) {
        if (names[i][0])
            json_array_append_new(groups, api_group(names[i]));
    }
    return api_respond(
        c, 200,
        json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups));
}

http_response *discovery_group(struct api_req *c, const char *group)
{
    const char *versions[8];
    if (!group[0] || registry_group_versions(group, versions, 8) == 0)
        return status_failure(404, "NotFound", json_object(),
                              "the server could not find the requested resource");
    json_t *g = api_group(group);
    json_object_set_new(g, "kind", json_string("APIGroup"));
    json_object_set_new(g, "apiVersion", json_string("v1"));
    return api_respond(c, 200, g);
}

http_response *discovery_resources(struct api_req *c, const char *group, const char *version)
{
    if (!serves_version(group, version))
        return status_failure(404, "NotFound", json_object(),
                              "the server could not find the requested resource");
    json_t *list = json_array();
    for (size_t i = 0; i < registry_count(); i++) {
        const struct api_resource *r = registry_at(i);
        if (strcmp(r->group, group) != 0)
            continue;
        json_t *res =
            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->plural, "singularName", r->singular,
                      "namespaced", r->namespaced, "kind", r->kind, "verbs", registry_verbs(r));
        if (r->short_names)
            json_object_set_new(res, "shortNames", strings(r->short_names));
        if (r->categories)
            json_object_set_new(res, "categories", strings(r->categories));
        json_array_append_new(list, res);
        for (size_t k = 0; k < N_SUBS; k++) {
            const struct sub_info *s = &sub_infos[k];
            if (!(r->subresources & s->bit))
                continue;
            _cleanup_free_ char *name = xasprintf("%s/%s", r->plural, s->name);
            json_t *sub = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName", "",
                                    "namespaced", r->namespaced, "kind",
                                    s->kind ? s->kind : r->kind, "verbs", strings(s->verbs));
            if (s->kind && (strcmp(s->group, r->group) != 0 || strcmp(s->version, r->version))) {
                json_object_set_new(sub, "group", json_string(s->group));
                json_object_set_new(sub, "version", json_string(s->version));
            }
            json_array_append_new(list, sub);
        }
    }
    _cleanup_free_ char *gv = group[0] ? xasprintf("%s/%s", group, version) : xstrdup(version);
    return api_respond(c, 200,
                       json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion",
                                 "v1", "groupVersion", gv, "resources", list));
}

http_response *discovery_version(struct api_req *c)
{
    return api_respond(
        c, 200,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
                  "gitVersion", APISERVER_KUBE_VERSION "+wharf-" WHARF_VERSION, "gitCommit", "",
                  "gitTreeState", "clean", "buildDate", "1970-01-01T00:00:00Z", "goVersion",
                  "none (wharf is written in C)", "compiler", "gcc", "platform",
#if defined(__x86_64__)
                  "linux/amd64"
#elif defined(__aarch64__)
                  "linux/arm64"
#else
                  "linux/unknown"
#endif
                  ));
}
