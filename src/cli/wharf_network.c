/* Network commands: network create, ls, inspect, rm, connect, disconnect,
 * prune; port; and the network flags of run and create (-p, -P, --network,
 * --network-alias, --expose, --ip, --dns*, --add-host), with
 * the docker CLI's port-spec rules and messages. */
#include "wharf_cmds.h"
#include "format.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- -p specs */

/* "80" or "8000-8010" (go-connections' ParsePortRange). */
static int parse_range(const char *s, unsigned *lo, unsigned *hi)
{
    if (!*s)
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long a = strtoul(s, &end, 10), b = a;
    if (end == s || errno || a > 65535)
        return -EINVAL;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtoul(p, &end, 10);
        if (end == p || errno || b > 65535 || b < a)
            return -EINVAL;
    }
    if (*end)
        return -EINVAL;
    *lo = (unsigned)a;
    *hi = (unsigned)b;
    return 0;
}

int wcmd_parse_publish(const char *spec, json_t *bindings, json_t *exposed, strbuf *errmsg)
{
    /* [ip:][hostPort:]containerPort[/proto], split as nat.ParsePortSpec does:
     * the last part is the container's, the one before the host port, and
     * everything before that the address ("[::1]" allowed). */
    _cleanup_free_ char *copy = xstrdup(spec);
    char *last = strrchr(copy, ':');
    char *cport = last ? last + 1 : copy;
    char *hport = "", *ip = "";
    if (last) {
        *last = '\0';
        char *prev = strrchr(copy, ':');
        if (prev) {
            *prev = '\0';
            hport = prev + 1;
            ip = copy;
        } else {
            hport = copy;
        }
    }
    char proto[16] = "tcp";
    char *slash = strchr(cport, '/');
    if (slash) {
        *slash = '\0';
        if (slash[1])
            snprintf(proto, sizeof(proto), "%s", slash + 1);
    }
    if (*ip == '[') {
        size_t n = strlen(ip);
        if (ip[n - 1] != ']') {
            strbuf_addf(errmsg, "invalid IP address %s", ip);
            return -1;
        }
        ip[n - 1] = '\0';
        ip++;
    }
    unsigned char addr[16];
    if (*ip && inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1) {
        strbuf_addf(errmsg, "invalid IP address: %s", ip);
        return -1;
    }
    if (!*cport) {
        strbuf_addf(errmsg, "no port specified: %s<empty>", spec);
        return -1;
    }
    unsigned clo, chi, hlo = 0, hhi = 0;
    if (parse_range(cport, &clo, &chi) < 0 || clo == 0) {
        strbuf_addf(errmsg, "invalid containerPort: %s", cport);
        return -1;
    }
    if (*hport && parse_range(hport, &hlo, &hhi) < 0) {
        strbuf_addf(errmsg, "invalid hostPort: %s", hport);
        return -1;
    }
    if (*hport && chi - clo != hhi - hlo && chi != clo) {
        strbuf_addf(errmsg, "invalid ranges specified for container and host Ports: %s and %s",
                    cport, hport);
        return -1;
    }
    for (char *p = proto; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0) {
        strbuf_addf(errmsg, "invalid proto: %s", proto);
        return -1;
    }
    for (unsigned i = 0; i <= chi - clo; i++) {
        char key[32], host[16] = "";
        snprintf(key, sizeof(key), "%u/%s", clo + i, proto);
        if (*hport && hhi - hlo == chi - clo)
            snprintf(host, sizeof(host), "%u", hlo + i);
        else if (*hport)
            snprintf(host, sizeof(host), "%u-%u", hlo, hhi); /* a range to pick from */
        json_t *list = json_object_get(bindings, key);
        if (!list) {
            list = json_array();
            json_object_set_new(bindings, key, list);
        }
        json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", ip, "HostPort", host));
        json_object_set_new(exposed, key, json_object());
    }
    return 0;
}

/* ---------------------------------------------------------------- run flags */

static json_t *host_config(json_t *body)
{
    json_t *h = json_object_get(body, "HostConfig");
    if (!h) {
        h = json_object();
        json_object_set_new(body, "HostConfig", h);
    }
    return h;
}

static json_t *sub_object(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

static void append_string(json_t *parent, const char *key, const char *value)
{
    json_t *a = json_object_get(parent, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(parent, key, a);
    }
    json_array_append_new(a, json_string(value));
}

int wcmd_network_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body)
{
    json_t *host = host_config(body);
    switch (opt) {
    case 'p': {
        _cleanup_strbuf_ strbuf msg = STRBUF_INIT;
        if (wcmd_parse_publish(arg, sub_object(host, "PortBindings"),
                               sub_object(body, "ExposedPorts"), &msg) < 0)
            return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "%s", msg.buf);
        return 0;
    }
    case 'P':
        json_object_set_new(host, "PublishAllPorts", json_true());
        return 0;
    case WCMD_OPT_NETWORK:
        /* The first is the mode; more are connected at create as well. */
        if (json_object_get(host, "NetworkMode"))
            append_string(body, "wharf.networks", arg);
        else
            json_object_set_new(host, "NetworkMode", json_string(arg));
        return 0;
    case WCMD_OPT_NETWORK_ALIAS:
        /* Kept aside until the network is known (the flags may come in any order). */
        append_string(body, "wharf.aliases", arg);
        return 0;
    case WCMD_OPT_IP:
        json_object_set_new(body, "wharf.ip", json_string(arg));
        return 0;
    case WCMD_OPT_EXPOSE: {
        unsigned lo, hi;
        _cleanup_free_ char *copy = xstrdup(arg);
        char *slash = strchr(copy, '/');
        const char *proto = slash ? slash + 1 : "tcp";
        if (slash)
            *slash = '\0';
        if (parse_range(copy, &lo, &hi) < 0 || lo == 0)
            return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "invalid range format for --expose: %s",
                                    arg);
        for (unsigned p = lo; p <= hi; p++) {
            char key[32];
            snprintf(key, sizeof(key), "%u/%s", p, proto);
            json_object_set_new(sub_object(body, "ExposedPorts"), key, json_object());
        }
        return 0;
    }
    case WCMD_OPT_DNS:
        append_string(host, "Dns", arg);
        return 0;
    case WCMD_OPT_DNS_SEARCH:
        append_string(host, "DnsSearch", arg);
        return 0;
    case WCMD_OPT_DNS_OPTION:
        append_string(host, "DnsOptions", arg);
        return 0;
    case WCMD_OPT_ADD_HOST: {
        const char *sep = strchr(arg, ':');
        if (!sep)
            sep = strchr(arg, '=');
        if (!sep || sep == arg || !sep[1])
            return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                    "invalid argument \"%s\" for \"--add-host\" flag: bad "
                                    "format for add-host: \"%s\"",
                                    arg, arg);
        _cleanup_free_ char *entry = xasprintf("%.*s:%s", (int)(sep - arg), arg, sep + 1);
        append_string(host, "ExtraHosts", entry);
        return 0;
    }
    default:
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown network flag");
    }
}

void wcmd_network_run_finish(json_t *body)
{
    json_t *host = host_config(body);
    json_t *aliases = json_object_get(body, "wharf.aliases");
    json_t *ip = json_object_get(body, "wharf.ip");
    const char *mode = json_string_value(json_object_get(host, "NetworkMode"));
    if (!mode || !*mode)
        mode = "default";
    json_t *more = json_object_get(body, "wharf.networks");
    if (aliases || ip || more) {
        json_t *eps = json_object();
        json_t *ep = json_object();
        if (aliases)
            json_object_set(ep, "Aliases", aliases);
        if (ip)
            json_object_set_new(ep, "IPAMConfig", json_pack("{s:O}", "IPv4Address", ip));
        json_object_set_new(eps, mode, ep);
        size_t i;
        json_t *n;
        json_array_foreach(more, i, n)
            json_object_set_new(eps, json_string_value(n), json_object());
        json_object_set_new(body, "NetworkingConfig", json_pack("{s:o}", "EndpointsConfig", eps));
    }
    json_object_del(body, "wharf.aliases");
    json_object_del(body, "wharf.ip");
    json_object_del(body, "wharf.networks");
}

/* ---------------------------------------------------------------- network */

static int kv_flag(struct wcmd_ctx *ctx, json_t *obj, const char *arg, const char *flag)
{
    const char *eq = strchr(arg, '=');
    if (flag[0] == 'o' && !eq)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                "invalid argument \"%s\" for \"-o, --opt\" flag: invalid key/value "
                                "pair format in driver options",
                                arg);
    _cleanup_free_ char *k = eq ? xasprintf("%.*s", (int)(eq - arg), arg) : xstrdup(arg);
    json_object_set_new(obj, k, json_string(eq ? eq + 1 : ""));
    return 0;
}

int wcmd_network_create(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { O_SUBNET = 256, O_GATEWAY, O_INTERNAL, O_LABEL, O_ATTACHABLE, O_IPV6, O_IPRANGE };
    static const struct option opts[] = {
        {"driver", required_argument, 0, 'd'},         {"subnet", required_argument, 0, O_SUBNET},
        {"gateway", required_argument, 0, O_GATEWAY},  {"internal", no_argument, 0, O_INTERNAL},
        {"label", required_argument, 0, O_LABEL},      {"opt", required_argument, 0, 'o'},
        {"attachable", no_argument, 0, O_ATTACHABLE},  {"ipv6", no_argument, 0, O_IPV6},
        {"ip-range", required_argument, 0, O_IPRANGE}, {0, 0, 0, 0}};
    const char *driver = "bridge", *subnet = NULL, *gateway = NULL, *range = NULL;
    bool internal = false, attachable = false, ipv6 = false;
    _cleanup_json_ json_t *labels = json_object(), *options = json_object();
    int ch, r;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "d:o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            driver = optarg;
            break;
        case O_SUBNET:
            if (subnet)
                return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                        "only one IPv4 subnet per network is supported");
            subnet = optarg;
            break;
        case O_GATEWAY:
            gateway = optarg;
            break;
        case O_IPRANGE:
            range = optarg;
            break;
        case O_INTERNAL:
            internal = true;
            break;
        case O_ATTACHABLE:
            attachable = true;
            break;
        case O_IPV6:
            ipv6 = true;
            break;
        case O_LABEL:
            if ((r = kv_flag(ctx, labels, optarg, "label")))
                return r;
            break;
        case 'o':
            if ((r = kv_flag(ctx, options, optarg, "opt")))
                return r;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind != 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf network create' requires 1 argument");
    if ((gateway || range) && !subnet) {
        fprintf(stderr, "every ip-range or gateway must have a corresponding subnet\n");
        return WCMD_EXIT_ERROR;
    }
    json_t *config = json_array();
    if (subnet) {
        json_t *c = json_pack("{s:s}", "Subnet", subnet);
        if (gateway)
            json_object_set_new(c, "Gateway", json_string(gateway));
        if (range)
            json_object_set_new(c, "IPRange", json_string(range));
        json_array_append_new(config, c);
    }
    _cleanup_json_ json_t *body = json_pack(
        "{s:s, s:s, s:b, s:b, s:b, s:{s:s, s:o}, s:O, s:O}", "Name", argv[optind], "Driver", driver,
        "Internal", internal, "Attachable", attachable, "EnableIPv6", ipv6, "IPAM", "Driver",
        "default", "Config", config, "Options", options, "Labels", labels);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "POST", "/networks/create", body, &resp, false) == 0) {
        printf("%s\n", json_string_value(json_object_get(resp.json, "Id")));
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "Name")),
                  json_string_value(json_object_get(y, "Name")));
}

/* --filter k=v (repeatable) into Docker's filters JSON, escaped for a query. */
int wcmd_network_ls(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"no-trunc", no_argument, 0, 'T'},
                                         {"filter", required_argument, 0, 'f'},
                                         {"format", required_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    bool quiet = false, trunc = true;
    const char *fmt = NULL;
    _cleanup_json_ json_t *filters = json_object();
    int ch, r;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "qf:", opts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quiet = true;
            break;
        case 'T':
            trunc = false;
            break;
        case 'f':
            if ((r = wcmd_add_filter(ctx, filters, optarg, "-f, --filter")))
                return r;
            break;
        case 'F':
            fmt = optarg;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"wharf network ls\" accepts no arguments");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/networks");
    wcmd_add_filters_query(filters, &path);
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = json_array();
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    _cleanup_format_template_ format_template *t = NULL;
    wharf_error err = {0};
    if (wcmd_call(c, "GET", path.buf, NULL, &resp, false) < 0)
        goto done;
    size_t n = json_array_size(resp.json);
    json_t **sorted = xcalloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(resp.json, i);
    qsort(sorted, n, sizeof(*sorted), by_name);
    for (size_t i = 0; i < n; i++) {
        json_t *nw = sorted[i];
        const char *id = json_string_value(json_object_get(nw, "Id"));
        _cleanup_strbuf_ strbuf labels = STRBUF_INIT;
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(nw, "Labels"), k, v)
            strbuf_addf(&labels, "%s%s=%s", labels.len ? "," : "", k, json_string_value(v));
        json_array_append_new(
            rows,
            json_pack("{s:s%, s:O, s:O, s:O, s:s, s:s, s:s, s:O}", "ID", id ? id : "",
                      (size_t)(trunc && id && strlen(id) > 12 ? 12
                               : id                           ? strlen(id)
                                                              : 0),
                      "Name", json_object_get(nw, "Name"), "Driver", json_object_get(nw, "Driver"),
                      "Scope", json_object_get(nw, "Scope"), "IPv6",
                      json_is_true(json_object_get(nw, "EnableIPv6")) ? "true" : "false",
                      "Internal", json_is_true(json_object_get(nw, "Internal")) ? "true" : "false",
                      "Labels", strbuf_str(&labels), "CreatedAt", json_object_get(nw, "Created")));
    }
    free(sorted);
    static const format_header headers[] = {{"ID", "NETWORK ID"}, {NULL, NULL}};
    t = format_compile(quiet ? "{{.ID}}"
                       : fmt ? fmt
                             : "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                       &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_USAGE;
        goto done;
    }
    if (format_render(t, rows, headers, &out, &err) < 0) {
        fputs(strbuf_str(&out), stdout);
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    fputs(strbuf_str(&out), stdout);
    rc = 0;
done:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_network_inspect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, 0, 'f'}, {"verbose", no_argument, 0, 'v'}, {0, 0, 0, 0}};
    const char *fmt = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "f:v", opts, NULL)) != -1) {
        if (ch == 'f')
            fmt = optarg;
        else if (ch != 'v')
            return wcmd_bad_flag(ctx, argv);
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf network inspect' requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct wcmd_inspect found;
    wcmd_inspect_init(&found, (size_t)(argc - optind));
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *e = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/networks/%s", e);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "GET", path, NULL, &resp, true) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else if (resp.status == 404) {
            strbuf_addf(&found.errors, "Error: No such network: %s\n", argv[i]);
            rc = WCMD_EXIT_ERROR;
        } else if (resp.status >= 400) {
            wcmd_daemon_error(&resp);
            rc = WCMD_EXIT_ERROR;
        } else if (resp.json) {
            wcmd_inspect_add(&found, &resp);
        }
        client_response_release(&resp);
    }
    int prc = wcmd_inspect_finish(&found, fmt);
    client_free(c);
    return rc ? rc : prc;
}

int wcmd_network_rm(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
    bool force = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
        if (ch != 'f')
            return wcmd_bad_flag(ctx, argv);
        force = true;
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf network rm' requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *e = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/networks/%s", e);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "DELETE", path, NULL, &resp, true) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else if (resp.status == 404 && force) {
            /* -f: a missing network is not an error */
        } else if (resp.status >= 400) {
            wcmd_daemon_error(&resp);
            rc = WCMD_EXIT_ERROR;
        } else {
            printf("%s\n", argv[i]);
        }
        client_response_release(&resp);
    }
    client_free(c);
    return rc;
}

static int connect_common(struct wcmd_ctx *ctx, int argc, char **argv, bool connect)
{
    enum { O_ALIAS = 256, O_IP };
    static const struct option opts[] = {{"alias", required_argument, 0, O_ALIAS},
                                         {"ip", required_argument, 0, O_IP},
                                         {"force", no_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    _cleanup_json_ json_t *aliases = json_array();
    const char *ip = NULL;
    bool force = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, connect ? "" : "f", opts, NULL)) != -1) {
        if (connect && ch == O_ALIAS)
            json_array_append_new(aliases, json_string(optarg));
        else if (connect && ch == O_IP)
            ip = optarg;
        else if (!connect && ch == 'f')
            force = true;
        else
            return wcmd_bad_flag(ctx, argv);
    }
    if (argc - optind != 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf %s' requires exactly 2 arguments",
                                ctx->name);
    _cleanup_json_ json_t *body = json_pack("{s:s}", "Container", argv[optind + 1]);
    if (connect) {
        json_t *ep = json_pack("{s:O}", "Aliases", aliases);
        if (ip)
            json_object_set_new(ep, "IPAMConfig", json_pack("{s:s}", "IPv4Address", ip));
        json_object_set_new(body, "EndpointConfig", ep);
    } else {
        json_object_set_new(body, "Force", json_boolean(force));
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_free_ char *e = wcmd_escape(argv[optind]);
    _cleanup_free_ char *path = xasprintf("/networks/%s/%s", e, connect ? "connect" : "disconnect");
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = wcmd_call(c, "POST", path, body, &resp, false) == 0 ? 0 : WCMD_EXIT_ERROR;
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_network_connect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return connect_common(ctx, argc, argv, true);
}

int wcmd_network_disconnect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    return connect_common(ctx, argc, argv, false);
}

int wcmd_network_prune(struct wcmd_ctx *ctx, int argc, char **argv)
{
    struct wcmd_prune_opts o;
    int r = wcmd_prune_flags(ctx, argc, argv, 0, &o);
    if (r)
        return r;
    _cleanup_json_ json_t *filters = o.filters;
    if (!o.force && !wcmd_confirm("WARNING! This will remove all custom networks not used by at "
                                  "least one container.\nAre you sure you want to continue?"))
        return 0;
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/networks/prune");
    wcmd_add_filters_query(filters, &path);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "POST", path.buf, NULL, &resp, false) == 0) {
        json_t *deleted = json_object_get(resp.json, "NetworksDeleted");
        if (json_array_size(deleted)) {
            printf("Deleted Networks:\n");
            size_t i;
            json_t *n;
            json_array_foreach(deleted, i, n) printf("%s\n", json_string_value(n));
            printf("\n");
        }
        rc = 0;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- port */

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int wcmd_port(struct wcmd_ctx *ctx, int argc, char **argv)
{
    wcmd_getopt_reset();
    static const struct option opts[] = {{0, 0, 0, 0}};
    if (getopt_long(argc, argv, "", opts, NULL) != -1)
        return wcmd_bad_flag(ctx, argv);
    if (argc - optind < 1 || argc - optind > 2)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf port' requires at least 1 and at most 2 arguments");
    const char *name = argv[optind];
    const char *want = argc - optind == 2 ? argv[optind + 1] : NULL;
    _cleanup_free_ char *want_key = NULL;
    if (want) {
        char *end;
        long p = strtol(want, &end, 10);
        if (end == want || p < 1 || p > 65535 || (*end && *end != '/'))
            return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "Error: invalid port (%s)", want);
        want_key = *end ? xstrdup(want) : xasprintf("%ld/tcp", p);
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_free_ char *e = wcmd_escape(name);
    _cleanup_free_ char *path = xasprintf("/containers/%s/json", e);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "GET", path, NULL, &resp, false) < 0)
        goto out;
    json_t *ports = json_object_get(json_object_get(resp.json, "NetworkSettings"), "Ports");
    size_t n = json_object_size(ports), k = 0;
    const char **keys = xcalloc(n + 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(ports, key, v) keys[k++] = key;
    qsort(keys, k, sizeof(*keys), by_key);
    bool found = false;
    for (size_t i = 0; i < k; i++) {
        json_t *binds = json_object_get(ports, keys[i]);
        if (want_key && strcmp(want_key, keys[i]) != 0)
            continue;
        size_t j;
        json_t *b;
        json_array_foreach(binds, j, b)
        {
            const char *hip = json_string_value(json_object_get(b, "HostIp"));
            const char *hp = json_string_value(json_object_get(b, "HostPort"));
            bool v6 = hip && strchr(hip, ':');
            if (want_key)
                printf(v6 ? "[%s]:%s\n" : "%s:%s\n", hip ? hip : "", hp ? hp : "");
            else
                printf(v6 ? "%s -> [%s]:%s\n" : "%s -> %s:%s\n", keys[i], hip ? hip : "",
                       hp ? hp : "");
            found = true;
        }
    }
    free(keys);
    if (want_key && !found) {
        fprintf(stderr, "Error: No public port '%s' published for %s\n", want_key, name);
        goto out;
    }
    rc = 0;
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}
