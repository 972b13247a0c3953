/*
 * Table output (Accept: application/json;as=Table;g=meta.k8s.io;v=v1):
 * the server-side printing kubectl get relies on. Columns and cell
 * contents follow kube-apiserver's printers for each type (READY 0/1,
 * PORT(S) 80:30080/TCP, AGE 5m3s, <none> for empty values), priority 1
 * columns being the ones -o wide adds.
 */
#include "internal.h"
#include "registry_hooks.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define NAME_COL                                                                                   \
    {                                                                                              \
        "Name", "string", "name", "Name must be unique within a namespace.", 0                     \
    }
#define AGE_COL                                                                                    \
    {                                                                                              \
        "Age", "string", "",                                                                       \
            "CreationTimestamp is a timestamp representing the server time when this object was "  \
            "created.",                                                                            \
            0                                                                                      \
    }
#define END_COL                                                                                    \
    {                                                                                              \
        NULL, NULL, NULL, NULL, 0                                                                  \
    }

/* ---------------------------------------------------------------- helpers */

void table_age(char *buf, size_t len, int64_t s)
{
    if (s < -1) {
        snprintf(buf, len, "<invalid>");
        return;
    }
    if (s < 0)
        s = 0;
    if (s < 120) {
        snprintf(buf, len, "%" PRId64 "s", s);
        return;
    }
    int64_t m = s / 60, h = s / 3600, d = s / 86400;
    if (m < 10) {
        if (s % 60)
            snprintf(buf, len, "%" PRId64 "m%" PRId64 "s", m, s % 60);
        else
            snprintf(buf, len, "%" PRId64 "m", m);
    } else if (m < 180) {
        snprintf(buf, len, "%" PRId64 "m", m);
    } else if (h < 8) {
        if (m % 60)
            snprintf(buf, len, "%" PRId64 "h%" PRId64 "m", h, m % 60);
        else
            snprintf(buf, len, "%" PRId64 "h", h);
    } else if (h < 48) {
        snprintf(buf, len, "%" PRId64 "h", h);
    } else if (h < 24 * 8) {
        if (h % 24)
            snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", d, h % 24);
        else
            snprintf(buf, len, "%" PRId64 "d", d);
    } else if (h < 24 * 365 * 2) {
        snprintf(buf, len, "%" PRId64 "d", d);
    } else if (h < 24 * 365 * 8) {
        int64_t y = d / 365;
        if (d % 365)
            snprintf(buf, len, "%" PRId64 "y%" PRId64 "d", y, d % 365);
        else
            snprintf(buf, len, "%" PRId64 "y", y);
    } else {
        snprintf(buf, len, "%" PRId64 "y", d / 365);
    }
}

int64_t table_since(json_t *t, time_t now)
{
    time_t then = time_parse(json_string_value(t));
    if (then < 0)
        return -1;
    return (int64_t)(now - then);
}

static void cell_str(json_t *cells, const char *s)
{
    json_array_append_new(cells, json_string(s ? s : ""));
}

static void cell_none(json_t *cells, const char *s)
{
    cell_str(cells, s && *s ? s : "<none>");
}

static void cell_int(json_t *cells, json_int_t v)
{
    json_array_append_new(cells, json_integer(v));
}

static void cell_take(json_t *cells, char *s)
{
    json_array_append_new(cells, json_string(s));
    free(s);
}

static void cell_age_of(json_t *cells, json_t *t, time_t now)
{
    int64_t s = table_since(t, now);
    if (s < 0 && !json_is_string(t)) {
        cell_str(cells, "<unknown>");
        return;
    }
    char buf[32];
    table_age(buf, sizeof(buf), s);
    cell_str(cells, buf);
}

static void cell_age(json_t *cells, json_t *obj, time_t now)
{
    cell_age_of(cells, object_get(obj, "metadata.creationTimestamp"), now);
}

static void cell_name(json_t *cells, json_t *obj)
{
    cell_str(cells, object_str(obj, "metadata.name"));
}

static json_int_t int_at(json_t *obj, const char *path)
{
    json_t *v = object_get(obj, path);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* "a,b" of the containers' names and images of a pod spec. */
static void cells_containers(json_t *cells, json_t *spec)
{
    strbuf names = STRBUF_INIT, images = STRBUF_INIT;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
    {
        if (i) {
            strbuf_addch(&names, ',');
            strbuf_addch(&images, ',');
        }
        strbuf_addstr(&names, json_string_value(json_object_get(c, "name")) ?: "");
        strbuf_addstr(&images, json_string_value(json_object_get(c, "image")) ?: "");
    }
    cell_str(cells, strbuf_str(&names));
    cell_str(cells, strbuf_str(&images));
    strbuf_release(&names);
    strbuf_release(&images);
}

static void cell_selector(json_t *cells, json_t *sel)
{
    char *s = label_selector_string(sel);
    if (!*s) {
        free(s);
        cell_str(cells, "<none>");
        return;
    }
    cell_take(cells, s);
}

/* "k=v,k2=v2" of a map, keys sorted; "<none>" when empty. */
static void cell_map(json_t *cells, json_t *map)
{
    json_t *sel = json_pack("{s:O}", "matchLabels", map ? map : json_null());
    if (!json_is_object(map) || json_object_size(map) == 0) {
        json_decref(sel);
        cell_str(cells, "<none>");
        return;
    }
    cell_take(cells, label_selector_string(sel));
    json_decref(sel);
}

/* ---------------------------------------------------------------- generic */

static const struct api_column cols_default[] = {
    NAME_COL,
    {"Created At", "date", "",
     "CreationTimestamp is a timestamp representing the server time when this object was "
     "created.",
     0},
    END_COL,
};

static void row_default(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, object_str(obj, "metadata.creationTimestamp"));
}

json_t *table_columns(const struct api_resource *r, bool with_headers)
{
    json_t *cols = json_array();
    if (!with_headers)
        return cols;
    const struct api_column *c = r->columns ? r->columns : cols_default;
    for (; c->name; c++)
        json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name, "type",
                                              c->type, "format", c->format ? c->format : "",
                                              "description", c->description ? c->description : "",
                                              "priority", c->priority));
    return cols;
}

json_t *table_row(const struct api_resource *r, json_t *obj, const char *include_object)
{
    json_t *cells = json_array();
    time_t now = time(NULL);
    if (r->row)
        r->row(obj, cells, now);
    else
        row_default(obj, cells, now);
    json_t *row = json_pack("{s:o}", "cells", cells);
    if (!include_object || strcmp(include_object, "Metadata") == 0) {
        json_object_set_new(row, "object",
                            json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata",
                                      "apiVersion", "meta.k8s.io/v1", "metadata",
                                      object_meta(obj)));
    } else if (strcmp(include_object, "Object") == 0) {
        json_object_set(row, "object", obj);
    }
    return row;
}

/* ---------------------------------------------------------------- core */

const struct api_column cols_configmaps[] = {
    NAME_COL,
    {"Data", "string", "", "Data contains the configuration data.", 0},
    AGE_COL,
    END_COL,
};

void row_configmaps(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_int(cells, (json_int_t)(json_object_size(json_object_get(obj, "data")) +
                                 json_object_size(json_object_get(obj, "binaryData"))));
    cell_age(cells, obj, now);
}

const struct api_column cols_secrets[] = {
    NAME_COL,
    {"Type", "string", "", "The type of the secret", 0},
    {"Data", "string", "", "The number of entries in the secret", 0},
    AGE_COL,
    END_COL,
};

void row_secrets(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, json_string_value(json_object_get(obj, "type")));
    cell_int(cells, (json_int_t)json_object_size(json_object_get(obj, "data")));
    cell_age(cells, obj, now);
}

const struct api_column cols_namespaces[] = {
    NAME_COL,
    {"Status", "string", "", "The status of the namespace", 0},
    AGE_COL,
    END_COL,
};

void row_namespaces(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, object_str(obj, "status.phase"));
    cell_age(cells, obj, now);
}

const struct api_column cols_serviceaccounts[] = {
    NAME_COL,
    {"Secrets", "string", "", "Secrets is a list of the secrets in the same namespace.", 0},
    AGE_COL,
    END_COL,
};

void row_serviceaccounts(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_int(cells, (json_int_t)json_array_size(json_object_get(obj, "secrets")));
    cell_age(cells, obj, now);
}

const struct api_column cols_pods[] = {
    NAME_COL,
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "",
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted.",
     0},
    AGE_COL,
    {"IP", "string", "", "IP address allocated to the pod. Routable at least within the cluster.",
     1},
    {"Node", "string", "", "Name of the Node the Pod runs on.", 1},
    {"Nominated Node", "string", "", "Name of the node the Pod was nominated to run on.", 1},
    {"Readiness Gates", "string", "", "Readiness gates of the pod.", 1},
    END_COL,
};

void row_pods(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    json_t *spec = json_object_get(obj, "spec");
    json_t *status = json_object_get(obj, "status");
    size_t total = json_array_size(json_object_get(spec, "containers"));
    size_t ready = 0;
    json_int_t restarts = 0;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    if (!reason)
        reason = json_string_value(json_object_get(status, "phase"));
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(status, "containerStatuses"), i, cs)
    {
        restarts += int_at(cs, "restartCount");
        if (json_is_true(json_object_get(cs, "ready")))
            ready++;
        const char *waiting = object_str(cs, "state.waiting.reason");
        const char *term = object_str(cs, "state.terminated.reason");
        if (waiting && *waiting)
            reason = waiting;
        else if (term && *term)
            reason = term;
    }
    if (object_get(obj, "metadata.deletionTimestamp"))
        reason = "Terminating";
    cell_take(cells, xasprintf("%zu/%zu", ready, total));
    cell_str(cells, reason ? reason : "Unknown");
    cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT, restarts));
    cell_age(cells, obj, now);
    cell_none(cells, json_string_value(json_object_get(status, "podIP")));
    cell_none(cells, json_string_value(json_object_get(spec, "nodeName")));
    cell_none(cells, json_string_value(json_object_get(status, "nominatedNodeName")));
    json_t *gates = json_object_get(spec, "readinessGates");
    if (json_array_size(gates) == 0) {
        cell_str(cells, "<none>");
    } else {
        size_t met = 0;
        json_t *g, *cond;
        size_t k;
        json_array_foreach(gates, i, g)
        {
            json_array_foreach(json_object_get(status, "conditions"), k, cond)
            {
                if (json_equal(json_object_get(cond, "type"),
                               json_object_get(g, "conditionType")) &&
                    strcmp(json_string_value(json_object_get(cond, "status")) ?: "", "True") == 0)
                    met++;
            }
        }
        cell_take(cells, xasprintf("%zu/%zu", met, json_array_size(gates)));
    }
}

const struct api_column cols_podtemplates[] = {
    {"Template", "string", "name", "Name must be unique within a namespace.", 0},
    {"Containers", "string", "", "Names of each container in the template.", 0},
    {"Images", "string", "", "Images referenced by each container in the template.", 0},
    {"Pod Labels", "string", "", "The labels for the pod template.", 0},
    END_COL,
};

void row_podtemplates(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cells_containers(cells, object_get(obj, "template.spec"));
    cell_map(cells, object_get(obj, "template.metadata.labels"));
}

const struct api_column cols_services[] = {
    NAME_COL,
    {"Type", "string", "", "The type of the service", 0},
    {"Cluster-IP", "string", "", "The IP address of the service", 0},
    {"External-IP", "string", "", "The external IP addresses of the service", 0},
    {"Port(s)", "string", "", "The ports of the service", 0},
    AGE_COL,
    {"Selector", "string", "", "The selector of the service", 1},
    END_COL,
};

void row_services(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    json_t *spec = json_object_get(obj, "spec");
    const char *type = json_string_value(json_object_get(spec, "type"));
    if (!type)
        type = "ClusterIP";
    cell_str(cells, type);
    cell_none(cells, json_string_value(json_object_get(spec, "clusterIP")));
    strbuf ext = STRBUF_INIT;
    size_t i;
    json_t *v;
    if (strcmp(type, "ExternalName") == 0) {
        strbuf_addstr(&ext, json_string_value(json_object_get(spec, "externalName")) ?: "");
    } else {
        json_array_foreach(json_object_get(spec, "externalIPs"), i, v)
        {
            if (ext.len)
                strbuf_addch(&ext, ',');
            strbuf_addstr(&ext, json_string_value(v) ?: "");
        }
        if (strcmp(type, "LoadBalancer") == 0) {
            json_array_foreach(object_get(obj, "status.loadBalancer.ingress"), i, v)
            {
                const char *ip = json_string_value(json_object_get(v, "ip"));
                if (!ip)
                    ip = json_string_value(json_object_get(v, "hostname"));
                if (!ip)
                    continue;
                if (ext.len)
                    strbuf_addch(&ext, ',');
                strbuf_addstr(&ext, ip);
            }
            if (!ext.len)
                strbuf_addstr(&ext, "<pending>");
        }
    }
    cell_none(cells, strbuf_str(&ext));
    strbuf_release(&ext);
    strbuf ports = STRBUF_INIT;
    json_array_foreach(json_object_get(spec, "ports"), i, v)
    {
        if (ports.len)
            strbuf_addch(&ports, ',');
        json_int_t np = int_at(v, "nodePort");
        const char *proto = json_string_value(json_object_get(v, "protocol"));
        if (np)
            strbuf_addf(&ports, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT "/%s",
                        int_at(v, "port"), np, proto ? proto : "TCP");
        else
            strbuf_addf(&ports, "%" JSON_INTEGER_FORMAT "/%s", int_at(v, "port"),
                        proto ? proto : "TCP");
    }
    cell_none(cells, strbuf_str(&ports));
    strbuf_release(&ports);
    cell_age(cells, obj, now);
    cell_map(cells, json_object_get(spec, "selector"));
}

const struct api_column cols_endpoints[] = {
    NAME_COL,
    {"Endpoints", "string", "", "Endpoints is the list of endpoints in the service.", 0},
    AGE_COL,
    END_COL,
};

void row_endpoints(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    strbuf sb = STRBUF_INIT;
    size_t shown = 0, total = 0;
    size_t i, a, p;
    json_t *subset, *addr, *port;
    json_array_foreach(json_object_get(obj, "subsets"), i, subset)
    {
        json_t *ports = json_object_get(subset, "ports");
        json_array_foreach(json_object_get(subset, "addresses"), a, addr)
        {
            const char *ip = json_string_value(json_object_get(addr, "ip")) ?: "";
            if (json_array_size(ports) == 0) {
                total++;
                if (shown < 3) {
                    strbuf_addf(&sb, "%s%s", shown ? "," : "", ip);
                    shown++;
                }
            }
            json_array_foreach(ports, p, port)
            {
                total++;
                if (shown < 3) {
                    strbuf_addf(&sb, "%s%s:%" JSON_INTEGER_FORMAT, shown ? "," : "", ip,
                                int_at(port, "port"));
                    shown++;
                }
            }
        }
    }
    if (total > shown)
        strbuf_addf(&sb, " + %zu more...", total - shown);
    cell_none(cells, strbuf_str(&sb));
    strbuf_release(&sb);
    cell_age(cells, obj, now);
}

const struct api_column cols_events[] = {
    {"Last Seen", "string", "",
     "The time at which the most recent occurrence of this event was "
     "recorded.",
     0},
    {"Type", "string", "",
     "Type of this event (Normal, Warning), new types could be added in the "
     "future",
     0},
    {"Reason", "string", "",
     "This should be a short, machine understandable string that gives "
     "the reason for the transition into the object's current status.",
     0},
    {"Object", "string", "", "The object that this event is about.", 0},
    {"Subobject", "string", "",
     "If referring to a piece of an object instead of an entire "
     "object, this string should contain a valid JSON/Go field access "
     "statement.",
     1},
    {"Source", "string", "", "The component reporting this event.", 1},
    {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
    {"First Seen", "string", "", "The time at which the event was first recorded.", 1},
    {"Count", "string", "", "The number of times this event has occurred.", 1},
    {"Name", "string", "name", "Name must be unique within a namespace.", 1},
    END_COL,
};

void row_events(json_t *obj, json_t *cells, time_t now)
{
    json_t *last = json_object_get(obj, "lastTimestamp");
    if (!json_is_string(last))
        last = json_object_get(obj, "eventTime");
    if (!json_is_string(last))
        last = object_get(obj, "metadata.creationTimestamp");
    cell_age_of(cells, last, now);
    cell_str(cells, json_string_value(json_object_get(obj, "type")));
    cell_str(cells, json_string_value(json_object_get(obj, "reason")));
    const char *kind = object_str(obj, "involvedObject.kind") ?: "";
    strbuf o = STRBUF_INIT;
    for (const char *p = kind; *p; p++)
        strbuf_addch(&o, (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p));
    strbuf_addf(&o, "/%s", object_str(obj, "involvedObject.name") ?: "");
    cell_str(cells, strbuf_str(&o));
    strbuf_release(&o);
    cell_str(cells, object_str(obj, "involvedObject.fieldPath"));
    const char *comp = object_str(obj, "source.component");
    const char *host = object_str(obj, "source.host");
    if (!comp)
        comp = json_string_value(json_object_get(obj, "reportingComponent"));
    if (host && *host)
        cell_take(cells, xasprintf("%s, %s", comp ? comp : "", host));
    else
        cell_str(cells, comp);
    cell_str(cells, json_string_value(json_object_get(obj, "message")));
    json_t *first = json_object_get(obj, "firstTimestamp");
    if (!json_is_string(first))
        first = last;
    cell_age_of(cells, first, now);
    json_int_t count = int_at(obj, "count");
    cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT, count ? count : 1));
    cell_name(cells, obj);
}

const struct api_column cols_nodes[] = {
    NAME_COL,
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    AGE_COL,
    {"Version", "string", "", "Kubelet Version reported by the node.", 0},
    {"Internal-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"External-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.", 1},
    {"Kernel-Version", "string", "", "Kernel Version reported by the node.", 1},
    {"Container-Runtime", "string", "", "Container Runtime Version reported by the node.", 1},
    END_COL,
};

void row_nodes(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    const char *st = "Unknown";
    size_t i;
    json_t *c;
    json_array_foreach(object_get(obj, "status.conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Ready") != 0)
            continue;
        const char *s = json_string_value(json_object_get(c, "status")) ?: "";
        st = strcmp(s, "True") == 0 ? "Ready" : strcmp(s, "False") == 0 ? "NotReady" : "Unknown";
    }
    if (json_is_true(object_get(obj, "spec.unschedulable")))
        cell_take(cells, xasprintf("%s,SchedulingDisabled", st));
    else
        cell_str(cells, st);
    strbuf roles = STRBUF_INIT;
    const char *k;
    json_t *v;
    json_object_foreach(object_get(obj, "metadata.labels"), k, v)
    {
        static const char prefix[] = "node-role.kubernetes.io/";
        if (strncmp(k, prefix, sizeof(prefix) - 1) == 0 && k[sizeof(prefix) - 1]) {
            if (roles.len)
                strbuf_addch(&roles, ',');
            strbuf_addstr(&roles, k + sizeof(prefix) - 1);
        }
    }
    cell_none(cells, strbuf_str(&roles));
    strbuf_release(&roles);
    cell_age(cells, obj, now);
    cell_str(cells, object_str(obj, "status.nodeInfo.kubeletVersion"));
    const char *internal = NULL, *external = NULL;
    json_array_foreach(object_get(obj, "status.addresses"), i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type")) ?: "";
        if (strcmp(t, "InternalIP") == 0 && !internal)
            internal = json_string_value(json_object_get(c, "address"));
        if (strcmp(t, "ExternalIP") == 0 && !external)
            external = json_string_value(json_object_get(c, "address"));
    }
    cell_none(cells, internal);
    cell_none(cells, external);
    cell_str(cells, object_str(obj, "status.nodeInfo.osImage") ?: "<unknown>");
    cell_str(cells, object_str(obj, "status.nodeInfo.kernelVersion") ?: "<unknown>");
    cell_str(cells, object_str(obj, "status.nodeInfo.containerRuntimeVersion") ?: "<unknown>");
}

static void access_modes(json_t *cells, json_t *modes)
{
    strbuf sb = STRBUF_INIT;
    size_t i;
    json_t *m;
    json_array_foreach(modes, i, m)
    {
        const char *s = json_string_value(m) ?: "";
        const char *abbr = strcmp(s, "ReadWriteOnce") == 0      ? "RWO"
                           : strcmp(s, "ReadOnlyMany") == 0     ? "ROX"
                           : strcmp(s, "ReadWriteMany") == 0    ? "RWX"
                           : strcmp(s, "ReadWriteOncePod") == 0 ? "RWOP"
                                                                : s;
        if (strstr(strbuf_str(&sb), abbr))
            continue;
        if (sb.len)
            strbuf_addch(&sb, ',');
        strbuf_addstr(&sb, abbr);
    }
    cell_str(cells, strbuf_str(&sb));
    strbuf_release(&sb);
}

const struct api_column cols_pvs[] = {
    NAME_COL,
    {"Capacity", "string", "",
     "capacity is the description of the persistent volume's resources "
     "and capacity.",
     0},
    {"Access Modes", "string", "", "accessModes contains all ways the volume can be mounted.", 0},
    {"Reclaim Policy", "string", "",
     "persistentVolumeReclaimPolicy defines what happens to a "
     "persistent volume when released from its claim.",
     0},
    {"Status", "string", "",
     "phase indicates if a volume is available, bound to a claim, or "
     "released by a claim.",
     0},
    {"Claim", "string", "",
     "claimRef is part of a bi-directional binding between "
     "PersistentVolume and PersistentVolumeClaim.",
     0},
    {"StorageClass", "string", "",
     "storageClassName is the name of StorageClass to which this "
     "persistent volume belongs.",
     0},
    {"VolumeAttributesClass", "string", "",
     "Name of VolumeAttributesClass to which this "
     "persistent volume belongs.",
     0},
    {"Reason", "string", "",
     "reason is a brief CamelCase string that describes any failure and "
     "is meant for machine parsing and tidy display in the CLI.",
     0},
    AGE_COL,
    {"VolumeMode", "string", "",
     "volumeMode defines if a volume is intended to be used with a "
     "formatted filesystem or to remain in raw block state.",
     1},
    END_COL,
};

void row_pvs(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    json_t *spec = json_object_get(obj, "spec");
    cell_str(cells, object_str(spec, "capacity.storage"));
    access_modes(cells, json_object_get(spec, "accessModes"));
    cell_str(cells, json_string_value(json_object_get(spec, "persistentVolumeReclaimPolicy")));
    cell_str(cells, object_str(obj, "status.phase"));
    const char *cns = object_str(spec, "claimRef.namespace");
    const char *cn = object_str(spec, "claimRef.name");
    if (cn)
        cell_take(cells, xasprintf("%s/%s", cns ? cns : "", cn));
    else
        cell_str(cells, "");
    cell_str(cells, json_string_value(json_object_get(spec, "storageClassName")));
    cell_none(cells, json_string_value(json_object_get(spec, "volumeAttributesClassName")));
    cell_str(cells, object_str(obj, "status.reason"));
    cell_age(cells, obj, now);
    cell_str(cells, json_string_value(json_object_get(spec, "volumeMode")) ?: "<unset>");
}

const struct api_column cols_pvcs[] = {
    NAME_COL,
    {"Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0},
    {"Volume", "string", "",
     "volumeName is the binding reference to the PersistentVolume "
     "backing this claim.",
     0},
    {"Capacity", "string", "",
     "capacity represents the actual resources of the underlying "
     "volume.",
     0},
    {"Access Modes", "string", "",
     "accessModes contains the actual access modes the volume "
     "backing the PVC has.",
     0},
    {"StorageClass", "string", "",
     "storageClassName is the name of the StorageClass required by "
     "the claim.",
     0},
    {"VolumeAttributesClass", "string", "",
     "volumeAttributesClassName may be used to set the "
     "VolumeAttributesClass used by this claim.",
     0},
    AGE_COL,
    {"VolumeMode", "string", "",
     "volumeMode defines what type of volume is required by the "
     "claim.",
     1},
    END_COL,
};

void row_pvcs(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    json_t *spec = json_object_get(obj, "spec");
    const char *phase = object_str(obj, "status.phase");
    cell_str(cells, object_get(obj, "metadata.deletionTimestamp") ? "Terminating" : phase);
    cell_str(cells, json_string_value(json_object_get(spec, "volumeName")));
    bool bound = json_string_value(json_object_get(spec, "volumeName")) != NULL;
    cell_str(cells, bound ? object_str(obj, "status.capacity.storage") : "");
    if (bound)
        access_modes(cells, object_get(obj, "status.accessModes"));
    else
        cell_str(cells, "");
    cell_str(cells, json_string_value(json_object_get(spec, "storageClassName")) ?: "<unset>");
    cell_none(cells, json_string_value(json_object_get(spec, "volumeAttributesClassName")));
    cell_age(cells, obj, now);
    cell_str(cells, json_string_value(json_object_get(spec, "volumeMode")) ?: "<unset>");
}

const struct api_column cols_resourcequotas[] = {
    NAME_COL,
    AGE_COL,
    {"Request", "string", "",
     "Request represents a minimum amount of cpu/memory that a "
     "container may consume.",
     0},
    {"Limit", "string", "",
     "Limits control the maximum amount of cpu/memory that a container "
     "may use independent of contention on the node.",
     0},
    END_COL,
};

void row_resourcequotas(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_age(cells, obj, now);
    strbuf req = STRBUF_INIT, lim = STRBUF_INIT;
    const char *k;
    json_t *v;
    json_object_foreach(object_get(obj, "spec.hard"), k, v)
    {
        strbuf *sb = strncmp(k, "limits.", 7) == 0 ? &lim : &req;
        json_t *used = object_get(json_object_get(obj, "status"), "used");
        const char *u = json_string_value(json_object_get(used, k));
        if (sb->len)
            strbuf_addstr(sb, ", ");
        strbuf_addf(sb, "%s: %s/%s", k, u ? u : "0", json_string_value(v) ?: "");
    }
    cell_str(cells, strbuf_str(&req));
    cell_str(cells, strbuf_str(&lim));
    strbuf_release(&req);
    strbuf_release(&lim);
}

/* ---------------------------------------------------------------- apps */

const struct api_column cols_deployments[] = {
    NAME_COL,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "integer", "",
     "Total number of non-terminated pods targeted by this "
     "deployment that have the desired template spec.",
     0},
    {"Available", "integer", "",
     "Total number of available pods (ready for at least "
     "minReadySeconds) targeted by this deployment.",
     0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    {"Selector", "string", "",
     "Label selector for pods. Existing ReplicaSets whose pods are "
     "selected by this will be the ones affected by this deployment.",
     1},
    END_COL,
};

void row_deployments(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                               int_at(obj, "status.readyReplicas"), int_at(obj, "spec.replicas")));
    cell_int(cells, int_at(obj, "status.updatedReplicas"));
    cell_int(cells, int_at(obj, "status.availableReplicas"));
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.template.spec"));
    cell_selector(cells, object_get(obj, "spec.selector"));
}

const struct api_column cols_replicasets[] = {
    NAME_COL,
    {"Desired", "integer", "", "Replicas is the number of desired replicas.", 0},
    {"Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0},
    {"Ready", "integer", "", "The number of ready replicas for this replica set.", 0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    {"Selector", "string", "",
     "Selector is a label query over pods that should match the "
     "replica count.",
     1},
    END_COL,
};

void row_replicasets(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_int(cells, int_at(obj, "spec.replicas"));
    cell_int(cells, int_at(obj, "status.replicas"));
    cell_int(cells, int_at(obj, "status.readyReplicas"));
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.template.spec"));
    cell_selector(cells, object_get(obj, "spec.selector"));
}

const struct api_column cols_statefulsets[] = {
    NAME_COL,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    END_COL,
};

void row_statefulsets(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                               int_at(obj, "status.readyReplicas"), int_at(obj, "spec.replicas")));
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.template.spec"));
}

const struct api_column cols_daemonsets[] = {
    NAME_COL,
    {"Desired", "integer", "",
     "The total number of nodes that should be running the daemon "
     "pod.",
     0},
    {"Current", "integer", "", "The number of nodes that are running at least 1 daemon pod.", 0},
    {"Ready", "integer", "",
     "numberReady is the number of nodes that should be running the "
     "daemon pod and have one or more of the daemon pod running and "
     "ready.",
     0},
    {"Up-to-date", "integer", "",
     "The total number of nodes that are running updated daemon "
     "pod",
     0},
    {"Available", "integer", "",
     "The number of nodes that should be running the daemon pod and "
     "have one or more of the daemon pod running and available.",
     0},
    {"Node Selector", "string", "",
     "NodeSelector is a selector which must be true for the pod "
     "to fit on a node.",
     0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    {"Selector", "string", "", "A label query over pods that are managed by the daemon set.", 1},
    END_COL,
};

void row_daemonsets(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_int(cells, int_at(obj, "status.desiredNumberScheduled"));
    cell_int(cells, int_at(obj, "status.currentNumberScheduled"));
    cell_int(cells, int_at(obj, "status.numberReady"));
    cell_int(cells, int_at(obj, "status.updatedNumberScheduled"));
    cell_int(cells, int_at(obj, "status.numberAvailable"));
    cell_map(cells, object_get(obj, "spec.template.spec.nodeSelector"));
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.template.spec"));
    cell_selector(cells, object_get(obj, "spec.selector"));
}

const struct api_column cols_controllerrevisions[] = {
    NAME_COL,
    {"Controller", "string", "", "Controller of the object", 0},
    {"Revision", "integer", "",
     "Revision indicates the revision of the state represented by "
     "Data.",
     0},
    AGE_COL,
    END_COL,
};

void row_controllerrevisions(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    const char *ctl = "<none>";
    _cleanup_free_ char *buf = NULL;
    size_t i;
    json_t *o;
    json_array_foreach(object_get(obj, "metadata.ownerReferences"), i, o)
    {
        if (!json_is_true(json_object_get(o, "controller")))
            continue;
        const char *kind = json_string_value(json_object_get(o, "kind")) ?: "";
        const char *av = json_string_value(json_object_get(o, "apiVersion")) ?: "";
        const char *slash = strchr(av, '/');
        strbuf sb = STRBUF_INIT;
        for (const char *p = kind; *p; p++)
            strbuf_addch(&sb, (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p));
        if (slash)
            strbuf_addf(&sb, ".%.*s", (int)(slash - av), av);
        strbuf_addf(&sb, "/%s", json_string_value(json_object_get(o, "name")) ?: "");
        buf = strbuf_detach(&sb);
        ctl = buf;
        break;
    }
    cell_str(cells, ctl);
    cell_int(cells, int_at(obj, "revision"));
    cell_age(cells, obj, now);
}

/* ---------------------------------------------------------------- batch */

const struct api_column cols_jobs[] = {
    NAME_COL,
    {"Status", "string", "", "Status of the job.", 0},
    {"Completions", "string", "",
     "The desired number of successfully finished pods the job "
     "should be run with.",
     0},
    {"Duration", "string", "", "Time required to complete the job.", 0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    {"Selector", "string", "", "A label query over pods that should match the pod count.", 1},
    END_COL,
};

static bool has_condition(json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(object_get(obj, "status.conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")) ?: "", type) == 0 &&
            strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True") == 0)
            return true;
    }
    return false;
}

void row_jobs(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    const char *st = "Running";
    if (has_condition(obj, "Complete"))
        st = "Complete";
    else if (has_condition(obj, "Failed"))
        st = "Failed";
    else if (object_get(obj, "metadata.deletionTimestamp"))
        st = "Terminating";
    else if (has_condition(obj, "Suspended") || json_is_true(object_get(obj, "spec.suspend")))
        st = "Suspended";
    else if (has_condition(obj, "FailureTarget"))
        st = "FailureTarget";
    else if (has_condition(obj, "SuccessCriteriaMet"))
        st = "SuccessCriteriaMet";
    cell_str(cells, st);
    json_t *comp = object_get(obj, "spec.completions");
    const char *mode = object_str(obj, "spec.completionMode");
    if (json_is_integer(comp))
        cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                                   int_at(obj, "status.succeeded"), json_integer_value(comp)));
    else if (mode && strcmp(mode, "Indexed") == 0)
        cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT "/1", int_at(obj, "status.succeeded")));
    else
        cell_take(cells,
                  xasprintf("%" JSON_INTEGER_FORMAT "/1 of %" JSON_INTEGER_FORMAT,
                            int_at(obj, "status.succeeded"), int_at(obj, "spec.parallelism")));
    time_t start = time_parse(object_str(obj, "status.startTime"));
    time_t end = time_parse(object_str(obj, "status.completionTime"));
    if (start < 0) {
        cell_str(cells, "");
    } else {
        char buf[32];
        table_age(buf, sizeof(buf), (int64_t)((end >= 0 ? end : now) - start));
        cell_str(cells, buf);
    }
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.template.spec"));
    cell_selector(cells, object_get(obj, "spec.selector"));
}

const struct api_column cols_cronjobs[] = {
    NAME_COL,
    {"Schedule", "string", "",
     "The schedule in Cron format, see "
     "https://en.wikipedia.org/wiki/Cron.",
     0},
    {"Timezone", "string", "",
     "The time zone name for the given schedule, see "
     "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
     0},
    {"Suspend", "boolean", "",
     "This flag tells the controller to suspend subsequent executions, "
     "it does not apply to already started executions.",
     0},
    {"Active", "integer", "", "A list of pointers to currently running jobs.", 0},
    {"Last Schedule", "string", "",
     "Information when was the last time the job was successfully "
     "scheduled.",
     0},
    AGE_COL,
    {"Containers", "string", "", "Names of each container in the template.", 1},
    {"Images", "string", "", "Images referenced by each container in the template.", 1},
    {"Selector", "string", "", "A label query over pods that should match the pod count.", 1},
    END_COL,
};

void row_cronjobs(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, object_str(obj, "spec.schedule"));
    cell_none(cells, object_str(obj, "spec.timeZone"));
    cell_str(cells, json_is_true(object_get(obj, "spec.suspend")) ? "True" : "False");
    cell_int(cells, (json_int_t)json_array_size(object_get(obj, "status.active")));
    json_t *last = object_get(obj, "status.lastScheduleTime");
    if (json_is_string(last))
        cell_age_of(cells, last, now);
    else
        cell_str(cells, "<none>");
    cell_age(cells, obj, now);
    cells_containers(cells, object_get(obj, "spec.jobTemplate.spec.template.spec"));
    cell_selector(cells, object_get(obj, "spec.jobTemplate.spec.selector"));
}

/* ---------------------------------------------------------------- other groups */

const struct api_column cols_leases[] = {
    NAME_COL,
    {"Holder", "string", "", "The holder of the lease", 0},
    AGE_COL,
    END_COL,
};

void row_leases(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, object_str(obj, "spec.holderIdentity"));
    cell_age(cells, obj, now);
}

const struct api_column cols_endpointslices[] = {
    NAME_COL,
    {"AddressType", "string", "", "The IP protocol for this slice.", 0},
    {"Ports", "string", "", "The ports in this slice.", 0},
    {"Endpoints", "string", "", "The endpoints in this slice.", 0},
    AGE_COL,
    END_COL,
};

void row_endpointslices(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, json_string_value(json_object_get(obj, "addressType")));
    strbuf ports = STRBUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(obj, "ports"), i, v)
    {
        if (ports.len)
            strbuf_addch(&ports, ',');
        json_t *p = json_object_get(v, "port");
        if (json_is_integer(p))
            strbuf_addf(&ports, "%" JSON_INTEGER_FORMAT, json_integer_value(p));
        else
            strbuf_addstr(&ports, "<unset>");
    }
    cell_none(cells, strbuf_str(&ports));
    strbuf_release(&ports);
    strbuf eps = STRBUF_INIT;
    size_t shown = 0, total = 0, a;
    json_t *addr;
    json_array_foreach(json_object_get(obj, "endpoints"), i, v)
    {
        json_array_foreach(json_object_get(v, "addresses"), a, addr)
        {
            total++;
            if (shown < 3) {
                strbuf_addf(&eps, "%s%s", shown ? "," : "", json_string_value(addr) ?: "");
                shown++;
            }
        }
    }
    if (total > shown)
        strbuf_addf(&eps, " + %zu more...", total - shown);
    cell_none(cells, strbuf_str(&eps));
    strbuf_release(&eps);
    cell_age(cells, obj, now);
}

const struct api_column cols_roles[] = {
    NAME_COL,
    {"Created At", "string", "",
     "CreationTimestamp is a timestamp representing the server time "
     "when this object was created.",
     0},
    END_COL,
};

void row_roles(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_str(cells, object_str(obj, "metadata.creationTimestamp"));
}

const struct api_column cols_rolebindings[] = {
    NAME_COL,
    {"Role", "string", "", "Role of the binding.", 0},
    AGE_COL,
    {"Users", "string", "", "Users in the binding.", 1},
    {"Groups", "string", "", "Groups in the binding.", 1},
    {"ServiceAccounts", "string", "", "ServiceAccounts in the binding.", 1},
    END_COL,
};

void row_rolebindings(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_take(cells, xasprintf("%s/%s", object_str(obj, "roleRef.kind") ?: "",
                               object_str(obj, "roleRef.name") ?: ""));
    cell_age(cells, obj, now);
    strbuf users = STRBUF_INIT, groups = STRBUF_INIT, sas = STRBUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(obj, "subjects"), i, s)
    {
        const char *kind = json_string_value(json_object_get(s, "kind")) ?: "";
        const char *name = json_string_value(json_object_get(s, "name")) ?: "";
        strbuf *sb = strcmp(kind, "User") == 0    ? &users
                     : strcmp(kind, "Group") == 0 ? &groups
                                                  : &sas;
        if (sb->len)
            strbuf_addstr(sb, ", ");
        if (sb == &sas)
            strbuf_addf(sb, "%s/%s", json_string_value(json_object_get(s, "namespace")) ?: "",
                        name);
        else
            strbuf_addstr(sb, name);
    }
    cell_str(cells, strbuf_str(&users));
    cell_str(cells, strbuf_str(&groups));
    cell_str(cells, strbuf_str(&sas));
    strbuf_release(&users);
    strbuf_release(&groups);
    strbuf_release(&sas);
}

const struct api_column cols_hpas[] = {
    NAME_COL,
    {"Reference", "string", "", "reference to scaled resource", 0},
    {"Targets", "string", "", "the current and target metric values", 0},
    {"MinPods", "string", "",
     "minReplicas is the lower limit for the number of replicas to which "
     "the autoscaler can scale down.",
     0},
    {"MaxPods", "integer", "",
     "maxReplicas is the upper limit for the number of replicas to "
     "which the autoscaler can scale up.",
     0},
    {"Replicas", "integer", "", "current number of replicas of pods managed by this autoscaler.",
     0},
    AGE_COL,
    END_COL,
};

void row_hpas(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_take(cells, xasprintf("%s/%s", object_str(obj, "spec.scaleTargetRef.kind") ?: "",
                               object_str(obj, "spec.scaleTargetRef.name") ?: ""));
    strbuf targets = STRBUF_INIT;
    size_t i;
    json_t *m;
    json_array_foreach(object_get(obj, "spec.metrics"), i, m)
    {
        if (targets.len)
            strbuf_addstr(&targets, ", ");
        const char *type = json_string_value(json_object_get(m, "type")) ?: "";
        json_t *util = NULL;
        if (strcmp(type, "Resource") == 0)
            util = object_get(m, "resource.target.averageUtilization");
        if (json_is_integer(util))
            strbuf_addf(&targets, "%s: <unknown>/%" JSON_INTEGER_FORMAT "%%",
                        object_str(m, "resource.name") ?: "", json_integer_value(util));
        else
            strbuf_addstr(&targets, "<unknown>");
    }
    json_t *v1cpu = object_get(obj, "spec.targetCPUUtilizationPercentage");
    if (json_is_integer(v1cpu))
        strbuf_addf(&targets, "cpu: <unknown>/%" JSON_INTEGER_FORMAT "%%",
                    json_integer_value(v1cpu));
    cell_none(cells, strbuf_str(&targets));
    strbuf_release(&targets);
    json_t *min = object_get(obj, "spec.minReplicas");
    if (json_is_integer(min))
        cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(min)));
    else
        cell_str(cells, "<unset>");
    cell_int(cells, int_at(obj, "spec.maxReplicas"));
    cell_int(cells, int_at(obj, "status.currentReplicas"));
    cell_age(cells, obj, now);
}

const struct api_column cols_ingresses[] = {
    NAME_COL,
    {"Class", "string", "", "The name of the IngressClass resource.", 0},
    {"Hosts", "string", "",
     "Hosts that incoming requests are matched against before the ingress "
     "rule",
     0},
    {"Address", "string", "", "Address is a list containing ingress points for the load-balancer",
     0},
    {"Ports", "string", "", "Ports of TLS configurations that open", 0},
    AGE_COL,
    END_COL,
};

void row_ingresses(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_none(cells, object_str(obj, "spec.ingressClassName"));
    strbuf hosts = STRBUF_INIT;
    size_t i;
    json_t *r;
    json_array_foreach(object_get(obj, "spec.rules"), i, r)
    {
        const char *h = json_string_value(json_object_get(r, "host"));
        if (hosts.len)
            strbuf_addch(&hosts, ',');
        strbuf_addstr(&hosts, h && *h ? h : "*");
    }
    cell_str(cells, hosts.len ? strbuf_str(&hosts) : "*");
    strbuf_release(&hosts);
    strbuf addr = STRBUF_INIT;
    json_array_foreach(object_get(obj, "status.loadBalancer.ingress"), i, r)
    {
        const char *ip = json_string_value(json_object_get(r, "ip"));
        if (!ip)
            ip = json_string_value(json_object_get(r, "hostname"));
        if (!ip)
            continue;
        if (addr.len)
            strbuf_addch(&addr, ',');
        strbuf_addstr(&addr, ip);
    }
    cell_str(cells, strbuf_str(&addr));
    strbuf_release(&addr);
    cell_str(cells, json_array_size(object_get(obj, "spec.tls")) ? "80, 443" : "80");
    cell_age(cells, obj, now);
}

const struct api_column cols_networkpolicies[] = {
    NAME_COL,
    {"Pod-Selector", "string", "", "Pod selector of the network policy", 0},
    AGE_COL,
    END_COL,
};

void row_networkpolicies(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    char *sel = label_selector_string(object_get(obj, "spec.podSelector"));
    cell_take(cells, sel);
    cell_age(cells, obj, now);
}

const struct api_column cols_pdbs[] = {
    NAME_COL,
    {"Min Available", "string", "",
     "The minimum number of pods that must be available "
     "simultaneously.",
     0},
    {"Max Unavailable", "string", "",
     "The maximum number of pods that may be unavailable "
     "simultaneously.",
     0},
    {"Allowed Disruptions", "integer", "",
     "Calculated number of pods that may be disrupted at "
     "this time.",
     0},
    AGE_COL,
    END_COL,
};

static void cell_intstr(json_t *cells, json_t *v)
{
    if (json_is_integer(v))
        cell_take(cells, xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v)));
    else
        cell_str(cells, json_is_string(v) ? json_string_value(v) : "N/A");
}

void row_pdbs(json_t *obj, json_t *cells, time_t now)
{
    cell_name(cells, obj);
    cell_intstr(cells, object_get(obj, "spec.minAvailable"));
    cell_intstr(cells, object_get(obj, "spec.maxUnavailable"));
    cell_int(cells, int_at(obj, "status.disruptionsAllowed"));
    cell_age(cells, obj, now);
}
