/* Container commands: ps, create, run -d, start, logs, stop, kill, rm, wait,
 * container inspect, and the generic inspect. */
#include "wharf_cmds.h"
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- ps */

static void ports_text(json_t *ports, strbuf *out)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *ip = json_string_value(json_object_get(p, "IP"));
        json_int_t priv = json_integer_value(json_object_get(p, "PrivatePort"));
        json_int_t pub = json_integer_value(json_object_get(p, "PublicPort"));
        const char *type = json_string_value(json_object_get(p, "Type"));
        if (i)
            strbuf_addstr(out, ", ");
        if (pub)
            strbuf_addf(out, "%s:%lld->", ip ? ip : "0.0.0.0", (long long)pub);
        strbuf_addf(out, "%lld/%s", (long long)priv, type ? type : "tcp");
    }
}

/* One `docker ps` row: docker's ContainerContext fields, as strings. */
json_t *wcmd_ps_row(json_t *ct, bool trunc, int64_t now)
{
    json_t *row = json_object();
    const char *id = json_string_value(json_object_get(ct, "Id"));
    _cleanup_free_ char *sid = wcmd_short_id(id, trunc);
    json_object_set_new(row, "ID", json_string(trunc ? sid : id ? id : ""));
    const char *image = json_string_value(json_object_get(ct, "Image"));
    _cleanup_free_ char *simage = image && strncmp(image, "sha256:", 7) == 0 && trunc
                                      ? wcmd_short_id(image, true)
                                      : xstrdup(image ? image : "");
    json_object_set_new(row, "Image", json_string(simage));
    const char *cmd = json_string_value(json_object_get(ct, "Command"));
    _cleanup_free_ char *cut = trunc ? wcmd_ellipsis(cmd ? cmd : "", 20) : xstrdup(cmd ? cmd : "");
    /* strconv.Quote: the command is shown as a Go string literal. */
    json_t *js = json_string(cut);
    _cleanup_free_ char *q = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    json_object_set_new(row, "Command", json_string(q ? q : "\"\""));
    int64_t created = json_integer_value(json_object_get(ct, "Created"));
    _cleanup_strbuf_ strbuf since = STRBUF_INIT;
    wcmd_human_duration(now - created, &since);
    strbuf_addstr(&since, " ago");
    json_object_set_new(row, "RunningFor", json_string(since.buf));
    char buf[64];
    time_t t = (time_t)created;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
    json_object_set_new(row, "CreatedAt", json_string(buf));
    _cleanup_strbuf_ strbuf ports = STRBUF_INIT;
    ports_text(json_object_get(ct, "Ports"), &ports);
    json_object_set_new(row, "Ports", json_string(strbuf_str(&ports)));
    const char *state = json_string_value(json_object_get(ct, "State"));
    const char *status = json_string_value(json_object_get(ct, "Status"));
    json_object_set_new(row, "State", json_string(state ? state : ""));
    json_object_set_new(row, "Status", json_string(status ? status : ""));
    _cleanup_strbuf_ strbuf names = STRBUF_INIT;
    size_t k;
    json_t *n;
    json_array_foreach(json_object_get(ct, "Names"), k, n)
    {
        const char *s = json_string_value(n);
        if (!s)
            continue;
        if (*s == '/')
            s++;
        if (trunc && strchr(s, '/'))
            continue; /* a link name, shown only with --no-trunc */
        if (names.len)
            strbuf_addch(&names, ',');
        strbuf_addstr(&names, s);
    }
    json_object_set_new(row, "Names", json_string(strbuf_str(&names)));
    /* labels and networks sorted, as docker prints them */
    _cleanup_json_ json_t *sorted = json_array();
    const char *lk;
    json_t *lv;
    json_object_foreach(json_object_get(ct, "Labels"), lk, lv)
        json_array_append_new(sorted, json_sprintf("%s=%s", lk,
                                                   json_string_value(lv) ? json_string_value(lv)
                                                                         : ""));
    json_object_set_new(row, "Labels", wcmd_join_sorted(sorted, ","));
    json_array_clear(sorted);
    json_object_foreach(json_object_get(json_object_get(ct, "NetworkSettings"), "Networks"), lk, lv)
        json_array_append_new(sorted, json_string(lk));
    json_object_set_new(row, "Networks", wcmd_join_sorted(sorted, ","));
    _cleanup_strbuf_ strbuf mounts = STRBUF_INIT;
    int local = 0;
    json_t *m;
    json_array_foreach(json_object_get(ct, "Mounts"), k, m)
    {
        const char *mname = json_string_value(json_object_get(m, "Name"));
        const char *driver = json_string_value(json_object_get(m, "Driver"));
        if (!mname || !*mname)
            mname = json_string_value(json_object_get(m, "Source"));
        _cleanup_free_ char *shown = trunc ? wcmd_ellipsis(mname ? mname : "", 15)
                                           : xstrdup(mname ? mname : "");
        strbuf_addf(&mounts, "%s%s", mounts.len ? "," : "", shown);
        local += driver && strcmp(driver, "local") == 0;
    }
    json_object_set_new(row, "Mounts", json_string(strbuf_str(&mounts)));
    json_object_set_new(row, "LocalVolumes", json_sprintf("%d", local));
    _cleanup_strbuf_ strbuf size = STRBUF_INIT;
    wcmd_human_size((double)json_integer_value(json_object_get(ct, "SizeRw")), &size);
    json_int_t rootfs = json_integer_value(json_object_get(ct, "SizeRootFs"));
    if (rootfs > 0) {
        strbuf_addstr(&size, " (virtual ");
        wcmd_human_size((double)rootfs, &size);
        strbuf_addch(&size, ')');
    }
    json_object_set_new(row, "Size", json_string(strbuf_str(&size)));
    json_object_set_new(row, "Platform", json_null());
    /* keys in Go's map order, for {{json .}} */
    json_t *ordered = wcmd_sort_keys(row);
    json_decref(row);
    return ordered;
}

int wcmd_ps(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, 0, 'a'},
        {"quiet", no_argument, 0, 'q'},
        {"no-trunc", no_argument, 0, 'T'},
        {"format", required_argument, 0, 'F'},
        {"filter", required_argument, 0, 'f'},
        {"last", required_argument, 0, 'n'},
        {"latest", no_argument, 0, 'l'},
        {"size", no_argument, 0, 's'},
        {0, 0, 0, 0},
    };
    bool all = false, quiet = false, trunc = true, latest = false, size = false;
    long last = -1;
    const char *fmt = NULL;
    _cleanup_json_ json_t *filters = json_object();
    int ch;
    char *end;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "aqf:n:ls", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            all = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'T':
            trunc = false;
            break;
        case 'F':
            fmt = optarg;
            break;
        case 'f': {
            int r = wcmd_add_filter(ctx, filters, optarg, "-f, --filter");
            if (r)
                return r;
            break;
        }
        case 'n':
            errno = 0;
            last = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno)
                return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                        "invalid argument \"%s\" for \"-n, --last\" flag: "
                                        "strconv.ParseInt: parsing \"%s\": invalid syntax",
                                        optarg, optarg);
            break;
        case 'l':
            latest = true;
            break;
        case 's':
            size = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"ps\" accepts no arguments");
    if (fmt && quiet)
        fprintf(stderr, "WARNING: Ignoring custom format, because both --format and --quiet are "
                        "set.\n");
    if (latest && last == -1)
        last = 1;
    /* docker asks for sizes when the template shows them */
    if (fmt && !quiet && strstr(fmt, ".Size"))
        size = true;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/containers/json");
    if (all)
        strbuf_addstr(&path, "?all=1");
    if (last > 0)
        strbuf_addf(&path, "%slimit=%ld", path.len > 16 ? "&" : "?", last);
    if (size)
        strbuf_addf(&path, "%ssize=1", path.len > 16 ? "&" : "?");
    wcmd_add_filters_query(filters, &path);
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = json_array();
    _cleanup_format_template_ format_template *t = NULL;
    _cleanup_strbuf_ strbuf outb = STRBUF_INIT;
    wharf_error err = {0};
    if (wcmd_call(c, "GET", path.buf, NULL, &resp, false) < 0)
        goto out;
    int64_t now = (int64_t)time(NULL);
    size_t i;
    json_t *ct;
    json_array_foreach(resp.json, i, ct) json_array_append_new(rows, wcmd_ps_row(ct, trunc, now));
    static const format_header headers[] = {
        {"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"}, {NULL, NULL}};
    const char *def = size ? "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t"
                             "{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
                           : "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t"
                             "{{.Status}}\t{{.Ports}}\t{{.Names}}";
    if (fmt && strcmp(fmt, "table") == 0)
        fmt = NULL;
    t = format_compile(quiet ? "{{.ID}}" : fmt ? fmt : def, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_USAGE;
        goto out;
    }
    int r = format_render(t, rows, headers, &outb, &err);
    fputs(strbuf_str(&outb), stdout);
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    rc = 0;
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}
