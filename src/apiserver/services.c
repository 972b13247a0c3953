/*
 * Service address allocation. ClusterIPs come from APISERVER_SERVICE_CIDR
 * (10.43.0.0/16; .1 is the "kubernetes" Service), node ports from
 * 30000-32767. Each address held is a key in the store —
 * /registry/ranges/serviceips/<ip> and /registry/ranges/servicenodeports/<port>
 * — taken with create-if-absent, so two API servers (or two requests) never
 * hand out the same one; a Service's delete or update gives back what it no
 * longer holds, and services_repair (at start) drops records no Service
 * holds after a crash between the two writes.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>

#define IP_PREFIX "/registry/ranges/serviceips/"
#define PORT_PREFIX "/registry/ranges/servicenodeports/"

/* 10.43.0.0/16 */
static uint32_t cidr_base(void)
{
    struct in_addr a;
    inet_pton(AF_INET, "10.43.0.0", &a);
    return ntohl(a.s_addr);
}
#define CIDR_SIZE 65536u

static uint32_t rand32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        v = (uint32_t)rand();
    return v;
}

static void ip_string(uint32_t ip, char out[INET_ADDRSTRLEN])
{
    struct in_addr a = {htonl(ip)};
    inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

static const char *svc_id(json_t *svc, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", object_str(svc, "metadata.namespace") ?: "",
             object_str(svc, "metadata.name") ?: "");
    return buf;
}

/* Takes key for svc: 0, -EEXIST when taken, or another error. With
 * dry_run only checks. */
static int take(struct apiserver *as, const char *key, json_t *svc, bool dry_run, wharf_error *err)
{
    if (dry_run) {
        struct kvstore_kv kv = {0};
        int rc = kvstore_get(as->store, key, &kv, err);
        kvstore_kv_release(&kv);
        if (rc == 0)
            return -EEXIST;
        if (rc == -ENOENT) {
            wharf_error_clear(err);
            return 0;
        }
        return rc;
    }
    char id[512];
    _cleanup_free_ char *val = xasprintf("{\"service\":\"%s\"}", svc_id(svc, id, sizeof(id)));
    int rc = kvstore_create(as->store, key, val, strlen(val), NULL, err);
    if (rc == -EEXIST)
        wharf_error_clear(err);
    return rc;
}

static void give_back(struct apiserver *as, const char *key)
{
    wharf_error err = {0};
    if (kvstore_delete(as->store, key, 0, NULL, NULL, &err) < 0 && err.code != -ENOENT)
        wlog_warn("apiserver: releasing %s: %s", key, err.msg);
}

struct taken {
    char **keys;
    size_t n;
};

static void taken_add(struct taken *t, const char *key)
{
    t->keys = xrealloc(t->keys, (t->n + 1) * sizeof(char *));
    t->keys[t->n++] = xstrdup(key);
}

static void taken_free(struct apiserver *as, struct taken *t, bool undo)
{
    for (size_t i = 0; i < t->n; i++) {
        if (undo)
            give_back(as, t->keys[i]);
        free(t->keys[i]);
    }
    free(t->keys);
    t->keys = NULL;
    t->n = 0;
}

static int allocate_ip(struct apiserver *as, json_t *svc, bool dry_run, struct taken *t,
                       char out[INET_ADDRSTRLEN], wharf_error *err)
{
    uint32_t base = cidr_base();
    /* Random probes first (cheap while the range is sparse), then a scan. */
    for (unsigned attempt = 0; attempt < 64 + CIDR_SIZE; attempt++) {
        uint32_t off = attempt < 64 ? rand32() % CIDR_SIZE : (attempt - 64);
        if (off <= 1 || off == CIDR_SIZE - 1)
            continue;
        ip_string(base + off, out);
        _cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", out);
        int rc = take(as, key, svc, dry_run, err);
        if (rc == 0) {
            if (!dry_run)
                taken_add(t, key);
            return 0;
        }
        if (rc != -EEXIST)
            return rc;
    }
    return wharf_error_set(err, -ENOSPC, "range is full");
}

static int allocate_port(struct apiserver *as, json_t *svc, bool dry_run, struct taken *t,
                         json_t *used, int *out, wharf_error *err)
{
    int span = APISERVER_NODEPORT_MAX - APISERVER_NODEPORT_MIN + 1;
    for (int attempt = 0; attempt < 64 + span; attempt++) {
        int port = APISERVER_NODEPORT_MIN +
                   (attempt < 64 ? (int)(rand32() % (uint32_t)span) : attempt - 64);
        char num[16];
        snprintf(num, sizeof(num), "%d", port);
        if (json_object_get(used, num))
            continue;
        _cleanup_free_ char *key = xasprintf(PORT_PREFIX "%d", port);
        int rc = take(as, key, svc, dry_run, err);
        if (rc == 0) {
            if (!dry_run)
                taken_add(t, key);
            *out = port;
            return 0;
        }
        if (rc != -EEXIST)
            return rc;
    }
    return wharf_error_set(err, -ENOSPC, "range is full");
}

/* The old Service's node port for the same port/protocol, or 0. */
static json_int_t old_node_port(json_t *old, json_t *port)
{
    size_t i;
    json_t *p;
    json_array_foreach(object_get(old, "spec.ports"), i, p)
    {
        if (json_equal(json_object_get(p, "port"), json_object_get(port, "port")) &&
            json_integer_value(json_object_get(p, "nodePort")) > 0)
            return json_integer_value(json_object_get(p, "nodePort"));
    }
    return 0;
}

/* Does old hold this node port? */
static bool old_holds_port(json_t *old, json_int_t np)
{
    size_t i;
    json_t *p;
    json_array_foreach(object_get(old, "spec.ports"), i, p)
    {
        if (json_integer_value(json_object_get(p, "nodePort")) == np)
            return true;
    }
    return false;
}

static bool wants_node_ports(json_t *svc)
{
    const char *type = object_str(svc, "spec.type") ?: "ClusterIP";
    if (strcmp(type, "NodePort") == 0)
        return true;
    return strcmp(type, "LoadBalancer") == 0 &&
           !json_is_false(object_get(svc, "spec.allocateLoadBalancerNodePorts"));
}

int services_allocate(struct apiserver *as, json_t *svc, json_t *old, bool dry_run,
                      struct field_errors *fe, wharf_error *err)
{
    json_t *spec = json_object_get(svc, "spec");
    if (!json_is_object(spec))
        return 0;
    const char *type = json_string_value(json_object_get(spec, "type")) ?: "ClusterIP";
    struct taken t = {0};
    int rc = 0;
    if (strcmp(type, "ExternalName") == 0) {
        json_object_del(spec, "clusterIP");
        json_object_del(spec, "clusterIPs");
    } else {
        const char *want = json_string_value(json_object_get(spec, "clusterIP"));
        const char *had = old ? object_str(old, "spec.clusterIP") : NULL;
        if ((!want || !*want) && had && *had)
            want = had; /* an update that left it out keeps it */
        char ip[INET_ADDRSTRLEN] = "";
        if (want && strcmp(want, "None") == 0) {
            snprintf(ip, sizeof(ip), "None");
        } else if (want && *want && had && strcmp(want, had) == 0) {
            snprintf(ip, sizeof(ip), "%s", want);
        } else if (want && *want) {
            struct in_addr a;
            uint32_t base = cidr_base();
            json_t *shown = json_pack("[s]", want);
            if (inet_pton(AF_INET, want, &a) != 1) {
                fe_add(fe, FE_INVALID, shown,
                       "must be a valid IP address, (e.g. 10.9.8.7 or "
                       "2001:db8::ffff)",
                       "spec.clusterIPs[0]");
            } else if ((ntohl(a.s_addr) & 0xffff0000u) != base) {
                _cleanup_free_ char *why = xasprintf(
                    "failed to allocate IP %s: the provided IP (%s) is not in the valid range. "
                    "The range of valid IPs is " APISERVER_SERVICE_CIDR,
                    want, want);
                fe_add(fe, FE_INVALID, shown, why, "spec.clusterIPs");
            } else {
                _cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", want);
                rc = take(as, key, svc, dry_run, err);
                if (rc == -EEXIST) {
                    rc = 0;
                    _cleanup_free_ char *why = xasprintf(
                        "failed to allocate IP %s: provided IP is already allocated", want);
                    fe_add(fe, FE_INVALID, shown, why, "spec.clusterIPs");
                } else if (rc == 0) {
                    if (!dry_run)
                        taken_add(&t, key);
                    snprintf(ip, sizeof(ip), "%s", want);
                }
            }
            json_decref(shown);
        } else {
            rc = allocate_ip(as, svc, dry_run, &t, ip, err);
            if (rc < 0)
                wharf_error_prefix(err, "allocating a ClusterIP");
        }
        if (rc < 0 || fe_count(fe) > 0)
            goto fail;
        json_object_set_new(spec, "clusterIP", json_string(ip));
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
    }

    json_t *ports = json_object_get(spec, "ports");
    json_t *used = json_object();
    size_t i;
    json_t *p;
    bool node_ports = wants_node_ports(svc);
    json_array_foreach(ports, i, p)
    {
        if (!node_ports) {
            json_object_del(p, "nodePort");
            continue;
        }
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (np == 0)
            np = old_node_port(old, p);
        char num[16];
        if (np > 0) {
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, np);
            json_t *shown = json_integer(np);
            if (json_object_get(used, num)) {
                fe_add(fe, FE_DUPLICATE, shown, NULL, "spec.ports[%zu].nodePort", i);
            } else if (np < APISERVER_NODEPORT_MIN || np > APISERVER_NODEPORT_MAX) {
                fe_add(fe, FE_INVALID, shown,
                       "provided port is not in the valid range. The range of valid ports is "
                       "30000-32767",
                       "spec.ports[%zu].nodePort", i);
            } else if (!old_holds_port(old, np)) {
                _cleanup_free_ char *key = xasprintf(PORT_PREFIX "%" JSON_INTEGER_FORMAT, np);
                rc = take(as, key, svc, dry_run, err);
                if (rc == -EEXIST) {
                    rc = 0;
                    fe_add(fe, FE_INVALID, shown, "provided port is already allocated",
                           "spec.ports[%zu].nodePort", i);
                } else if (rc == 0 && !dry_run) {
                    taken_add(&t, key);
                }
            }
            json_decref(shown);
            json_object_set_new(used, num, json_true());
            json_object_set_new(p, "nodePort", json_integer(np));
        } else {
            int port = 0;
            rc = allocate_port(as, svc, dry_run, &t, used, &port, err);
            if (rc < 0) {
                wharf_error_prefix(err, "allocating a node port");
            } else {
                snprintf(num, sizeof(num), "%d", port);
                json_object_set_new(used, num, json_true());
                json_object_set_new(p, "nodePort", json_integer(port));
            }
        }
        if (rc < 0)
            break;
    }
    json_decref(used);
    if (rc < 0 || fe_count(fe) > 0)
        goto fail;
    taken_free(as, &t, false);
    return 0;
fail:
    taken_free(as, &t, true);
    return rc;
}

void services_release(struct apiserver *as, json_t *svc, json_t *keep)
{
    const char *ip = object_str(svc, "spec.clusterIP");
    const char *kept = keep ? object_str(keep, "spec.clusterIP") : NULL;
    if (ip && *ip && strcmp(ip, "None") != 0 && !(kept && strcmp(ip, kept) == 0)) {
        _cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", ip);
        give_back(as, key);
    }
    size_t i;
    json_t *p;
    json_array_foreach(object_get(svc, "spec.ports"), i, p)
    {
        json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
        if (np <= 0 || (keep && old_holds_port(keep, np)))
            continue;
        _cleanup_free_ char *key = xasprintf(PORT_PREFIX "%" JSON_INTEGER_FORMAT, np);
        give_back(as, key);
    }
}

int services_repair(struct apiserver *as, wharf_error *err)
{
    const struct api_resource *r = registry_find("", "v1", "services");
    _cleanup_free_ char *prefix = registry_prefix(r, NULL);
    struct kvstore_list l = {0};
    int rc = kvstore_list(as->store, prefix, 0, 0, NULL, &l, err);
    if (rc < 0)
        return rc;
    json_t *held = json_object();
    for (size_t i = 0; i < l.count; i++) {
        json_t *svc = object_decode(as, r, &l.items[i], err);
        if (!svc)
            continue;
        const char *ip = object_str(svc, "spec.clusterIP");
        if (ip && *ip && strcmp(ip, "None") != 0) {
            _cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", ip);
            json_object_set_new(held, key, json_true());
            /* a record lost to a crash is written back */
            take(as, key, svc, false, err);
            wharf_error_clear(err);
        }
        size_t k;
        json_t *p;
        json_array_foreach(object_get(svc, "spec.ports"), k, p)
        {
            json_int_t np = json_integer_value(json_object_get(p, "nodePort"));
            if (np <= 0)
                continue;
            _cleanup_free_ char *key = xasprintf(PORT_PREFIX "%" JSON_INTEGER_FORMAT, np);
            json_object_set_new(held, key, json_true());
            take(as, key, svc, false, err);
            wharf_error_clear(err);
        }
        json_decref(svc);
    }
    kvstore_list_release(&l);
    static const char *const prefixes[] = {IP_PREFIX, PORT_PREFIX};
    for (size_t k = 0; k < 2 && rc == 0; k++) {
        struct kvstore_list recs = {0};
        rc = kvstore_list(as->store, prefixes[k], 0, 0, NULL, &recs, err);
        for (size_t i = 0; rc == 0 && i < recs.count; i++) {
            if (!json_object_get(held, recs.items[i].key))
                give_back(as, recs.items[i].key);
        }
        kvstore_list_release(&recs);
    }
    json_decref(held);
    return rc;
}
