/* Volume commands: volume create, ls, inspect, rm, prune; and run/create's
 * --mount flag (the docker CLI's CSV syntax and messages, into
 * HostConfig.Mounts). -v is parsed in wharf_run.c: a named volume there is
 * a Binds entry like a host path, as the docker CLI sends it. */
#include "format.h"
#include "wharf_cmds.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------------------------------------------------------- --mount */

/* Go's encoding/csv, one record: fields split at commas, a field that
 * starts with '"' is quoted ("" is a quote inside it). NULL with *why set. */
static json_t *csv_fields(const char *s, char **why)
{
    json_t *out = json_array();
    const char *p = s;
    for (;;) {
        strbuf f = STRBUF_INIT;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    *why = xasprintf("parse error on line 1, column %d: extraneous or missing \" "
                                     "in quoted-field",
                                     (int)(p - s) + 1);
                    strbuf_release(&f);
                    json_decref(out);
                    return NULL;
                }
                if (*p == '"' && p[1] == '"') {
                    strbuf_addch(&f, '"');
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    strbuf_addch(&f, *p++);
                }
            }
            if (*p && *p != ',') {
                *why = xasprintf("parse error on line 1, column %d: extraneous or missing \" in "
                                 "quoted-field",
                                 (int)(p - s) + 1);
                strbuf_release(&f);
                json_decref(out);
                return NULL;
            }
        } else {
            while (*p && *p != ',') {
                if (*p == '"') {
                    *why = xasprintf("parse error on line 1, column %d: bare \" in non-quoted "
                                     "field",
                                     (int)(p - s) + 1);
                    strbuf_release(&f);
                    json_decref(out);
                    return NULL;
                }
                strbuf_addch(&f, *p++);
            }
        }
        json_array_append_new(out, json_string(strbuf_str(&f)));
        strbuf_release(&f);
        if (*p != ',')
            break;
        p++;
    }
    return out;
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True", NULL};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; no[i]; i++)
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    return -EINVAL;
}

static json_t *sub(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);
    if (!o) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

/* The docker CLI's volumeOptions(): Labels made with it, and a DriverConfig. */
static json_t *volume_options(json_t *m)
{
    json_t *v = json_object_get(m, "VolumeOptions");
    if (!v) {
        v = json_object();
        json_object_set_new(m, "VolumeOptions", v);
        json_object_set_new(v, "Labels", json_object());
    }
    sub(v, "DriverConfig");
    return v;
}

static void set_kv(json_t *map, const char *value)
{
    const char *eq = strchr(value, '=');
    _cleanup_free_ char *k = eq ? xasprintf("%.*s", (int)(eq - value), value) : xstrdup(value);
    if (*k)
        json_object_set_new(map, k, json_string(eq ? eq + 1 : ""));
}

/* A relative ("./x" or ".") source made absolute, as filepath.Abs does. */
static char *abs_source(const char *val)
{
    if (strcmp(val, ".") != 0 && strncmp(val, "./", 2) != 0)
        return xstrdup(val);
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return xstrdup(val);
    const char *rest = val[1] == '/' ? val + 2 : "";
    while (*rest == '/')
        rest++;
    return *rest ? xasprintf("%s/%s", cwd, rest) : xstrdup(cwd);
}

/* docker's MountOpt.Set: NULL with *why (docker's message) when bad. */
static json_t *parse_mount(const char *value, char **why)
{
    _cleanup_json_ json_t *fields = csv_fields(value, why);
    if (!fields)
        return NULL;
    json_t *m = json_pack("{s:s}", "Type", "volume");
    size_t i;
    json_t *jf;
    json_array_foreach(fields, i, jf)
    {
        const char *field = json_string_value(jf);
        const char *eq = strchr(field, '=');
        _cleanup_free_ char *key =
            eq ? xasprintf("%.*s", (int)(eq - field), field) : xstrdup(field);
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        const char *val = eq ? eq + 1 : NULL;
        bool b;
        if (!val) {
            if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
                json_object_set_new(m, "ReadOnly", json_true());
            } else if (strcmp(key, "volume-nocopy") == 0) {
                json_object_set_new(volume_options(m), "NoCopy", json_true());
            } else if (strcmp(key, "bind-nonrecursive") == 0) {
                json_object_set_new(sub(m, "BindOptions"), "NonRecursive", json_true());
            } else {
                *why = xasprintf("invalid field '%s' must be a key=value pair", field);
                goto bad;
            }
            continue;
        }
        if (strcmp(key, "type") == 0) {
            _cleanup_free_ char *t = xstrdup(val);
            for (char *c = t; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            json_object_set_new(m, "Type", json_string(t));
        } else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
            _cleanup_free_ char *src = abs_source(val);
            json_object_set_new(m, "Source", json_string(src));
        } else if (strcmp(key, "target") == 0 || strcmp(key, "dst") == 0 ||
                   strcmp(key, "destination") == 0) {
            json_object_set_new(m, "Target", json_string(val));
        } else if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0) {
            if (parse_bool(val, &b) < 0) {
                *why = xasprintf("invalid value for %s: %s", key, val);
                goto bad;
            }
            json_object_set_new(m, "ReadOnly", json_boolean(b));
        } else if (strcmp(key, "consistency") == 0) {
            _cleanup_free_ char *c = xstrdup(val);
            for (char *q = c; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            json_object_set_new(m, "Consistency", json_string(c));
        } else if (strcmp(key, "bind-propagation") == 0) {
            _cleanup_free_ char *c = xstrdup(val);
            for (char *q = c; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            json_object_set_new(sub(m, "BindOptions"), "Propagation", json_string(c));
        } else if (strcmp(key, "bind-nonrecursive") == 0) {
            if (parse_bool(val, &b) < 0) {
                *why = xasprintf("invalid value for %s: %s", key, val);
                goto bad;
            }
            json_object_set_new(sub(m, "BindOptions"), "NonRecursive", json_boolean(b));
        } else if (strcmp(key, "bind-recursive") == 0) {
            const char *mode = val;
            if (parse_bool(val, &b) == 0)
                mode = b ? "enabled" : "disabled";
            json_t *bo = sub(m, "BindOptions");
            if (strcmp(mode, "disabled") == 0) {
                json_object_set_new(bo, "NonRecursive", json_true());
            } else if (strcmp(mode, "writable") == 0) {
                json_object_set_new(bo, "ReadOnlyNonRecursive", json_true());
            } else if (strcmp(mode, "readonly") == 0) {
                json_object_set_new(bo, "ReadOnlyForceRecursive", json_true());
            } else if (strcmp(mode, "enabled") != 0) {
                *why = xasprintf("invalid value for %s: %s (must be \"enabled\", \"disabled\", "
                                 "\"writable\", or \"readonly\")",
                                 key, val);
                goto bad;
            }
        } else if (strcmp(key, "volume-subpath") == 0) {
            json_object_set_new(volume_options(m), "Subpath", json_string(val));
        } else if (strcmp(key, "volume-nocopy") == 0) {
            if (parse_bool(val, &b) < 0) {
                *why = xasprintf("invalid value for volume-nocopy: %s", val);
                goto bad;
            }
            json_object_set_new(volume_options(m), "NoCopy", json_boolean(b));
        } else if (strcmp(key, "volume-label") == 0) {
            set_kv(json_object_get(volume_options(m), "Labels"), val);
        } else if (strcmp(key, "volume-driver") == 0) {
            json_object_set_new(json_object_get(volume_options(m), "DriverConfig"), "Name",
                                json_string(val));
        } else if (strcmp(key, "volume-opt") == 0) {
            set_kv(sub(json_object_get(volume_options(m), "DriverConfig"), "Options"), val);
        } else if (strcmp(key, "tmpfs-size") == 0) {
            int64_t size = wharf_parse_ram(val);
            if (size < 0) {
                *why = xasprintf("invalid value for %s: %s", key, val);
                goto bad;
            }
            json_object_set_new(sub(m, "TmpfsOptions"), "SizeBytes", json_integer(size));
        } else if (strcmp(key, "tmpfs-mode") == 0) {
            char *end;
            errno = 0;
            unsigned long mode = strtoul(val, &end, 8);
            if (!*val || *end || errno || mode > 0xffffffffUL || val[0] == '-' || val[0] == '+') {
                *why = xasprintf("invalid value for %s: %s", key, val);
                goto bad;
            }
            json_object_set_new(sub(m, "TmpfsOptions"), "Mode", json_integer((json_int_t)mode));
        } else {
            *why = xasprintf("unexpected key '%s' in '%s'", key, field);
            goto bad;
        }
    }
    const char *type = json_string_value(json_object_get(m, "Type"));
    if (!*type) {
        *why = xstrdup("type is required");
        goto bad;
    }
    if (!json_object_get(m, "Target") || !*json_string_value(json_object_get(m, "Target"))) {
        *why = xstrdup("target is required");
        goto bad;
    }
    static const struct {
        const char *key, *prefix, *type;
    } mixes[] = {{"VolumeOptions", "volume", "volume"},
                 {"BindOptions", "bind", "bind"},
                 {"TmpfsOptions", "tmpfs", "tmpfs"}};
    for (size_t k = 0; k < 3; k++) {
        if (json_object_get(m, mixes[k].key) && strcmp(type, mixes[k].type) != 0) {
            *why =
                xasprintf("cannot mix '%s-*' options with mount type '%s'", mixes[k].prefix, type);
            goto bad;
        }
    }
    return m;
bad:
    json_decref(m);
    return NULL;
}

int wcmd_volume_run_flag(struct wcmd_ctx *ctx, int opt, const char *arg, json_t *body)
{
    if (opt != WCMD_OPT_MOUNT)
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE, "unknown volume flag");
    _cleanup_free_ char *why = NULL;
    json_t *m = parse_mount(arg, &why);
    if (!m) {
        /* the argument as Go's %q prints it */
        json_t *js = json_string(arg);
        _cleanup_free_ char *quoted = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
        if (js)
            json_decref(js);
        return wcmd_usage_error(ctx, WCMD_EXIT_USAGE,
                                "invalid argument %s for \"--mount\" flag: %s",
                                quoted ? quoted : "\"\"", why);
    }
    json_t *host = sub(body, "HostConfig");
    json_t *mounts = json_object_get(host, "Mounts");
    if (!mounts) {
        mounts = json_array();
        json_object_set_new(host, "Mounts", mounts);
    }
    json_array_append_new(mounts, m);
    return 0;
}

/* ---------------------------------------------------------------- create */

int wcmd_volume_create(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { O_NAME = 256, O_LABEL };
    static const struct option opts[] = {{"driver", required_argument, 0, 'd'},
                                         {"name", required_argument, 0, O_NAME},
                                         {"label", required_argument, 0, O_LABEL},
                                         {"opt", required_argument, 0, 'o'},
                                         {0, 0, 0, 0}};
    const char *driver = "local", *name = NULL;
    _cleanup_json_ json_t *labels = json_object(), *options = json_object();
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "d:o:l:", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            driver = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case 'l':
        case O_LABEL:
            set_kv(labels, optarg);
            break;
        case 'o':
            set_kv(options, optarg);
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (argc - optind > 1)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf volume create' requires at most 1 argument");
    if (argc - optind == 1) {
        if (name) {
            fprintf(stderr, "conflicting options: cannot specify a volume-name through both "
                            "--name and as a positional arg\n");
            return WCMD_EXIT_ERROR;
        }
        name = argv[optind];
    }
    /* empty maps and names are left out, as the docker CLI sends them */
    json_t *body = json_pack("{s:s}", "Driver", driver);
    if (name && *name)
        json_object_set_new(body, "Name", json_string(name));
    if (json_object_size(labels))
        json_object_set(body, "Labels", labels);
    if (json_object_size(options))
        json_object_set(body, "DriverOpts", options);
    struct client *c = wcmd_client(ctx);
    if (!c) {
        json_decref(body);
        return WCMD_EXIT_ERROR;
    }
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "POST", "/volumes/create", body, &resp, false) == 0) {
        printf("%s\n", json_string_value(json_object_get(resp.json, "Name")));
        rc = 0;
    }
    json_decref(body);
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- ls */

/* sortorder.NaturalLess: digit runs compare as numbers, digits first. */
static int natural_cmp(const char *a, const char *b)
{
    size_t i = 0, j = 0, la = strlen(a), lb = strlen(b);
    while (i < la && j < lb) {
        bool da = isdigit((unsigned char)a[i]), db = isdigit((unsigned char)b[j]);
        if (da != db)
            return da ? -1 : 1;
        if (!da) {
            if (a[i] != b[j])
                return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
            i++, j++;
            continue;
        }
        while (i < la && a[i] == '0')
            i++;
        while (j < lb && b[j] == '0')
            j++;
        size_t nza = i, nzb = j;
        while (i < la && isdigit((unsigned char)a[i]))
            i++;
        while (j < lb && isdigit((unsigned char)b[j]))
            j++;
        if (i - nza != j - nzb)
            return i - nza < j - nzb ? -1 : 1;
        int c = strncmp(a + nza, b + nzb, i - nza);
        if (c)
            return c;
        if (nza != nzb)
            return nza < nzb ? -1 : 1;
    }
    return la == lb ? 0 : (la < lb ? -1 : 1);
}

static int by_natural_name(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    const char *na = json_string_value(json_object_get(a, "Name"));
    const char *nb = json_string_value(json_object_get(b, "Name"));
    return natural_cmp(na ? na : "", nb ? nb : "");
}

/* docker's volume context: every field a string ("N/A" without usage). */
static json_t *volume_row(json_t *v)
{
    _cleanup_json_ json_t *pairs = json_array();
    const char *k;
    json_t *val;
    json_object_foreach(json_object_get(v, "Labels"), k, val) json_array_append_new(
        pairs, json_sprintf("%s=%s", k, json_string_value(val) ? json_string_value(val) : ""));
    json_t *usage = json_object_get(v, "UsageData");
    json_t *links, *size;
    if (usage) {
        links =
            json_sprintf("%lld", (long long)json_integer_value(json_object_get(usage, "RefCount")));
        strbuf sz = STRBUF_INIT;
        wcmd_human_size_prec((double)json_integer_value(json_object_get(usage, "Size")), 4, &sz);
        size = json_string(strbuf_str(&sz));
        strbuf_release(&sz);
    } else {
        links = json_string("N/A");
        size = json_string("N/A");
    }
    const char *name = json_string_value(json_object_get(v, "Name"));
    const char *driver = json_string_value(json_object_get(v, "Driver"));
    const char *scope = json_string_value(json_object_get(v, "Scope"));
    const char *mp = json_string_value(json_object_get(v, "Mountpoint"));
    /* keys in Go's map order, for {{json .}} */
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:o, s:s}", "Availability", "N/A",
                     "Driver", driver ? driver : "", "Group", "N/A", "Labels",
                     wcmd_join_sorted(pairs, ","), "Links", links, "Mountpoint", mp ? mp : "",
                     "Name", name ? name : "", "Scope", scope ? scope : "", "Size", size, "Status",
                     "N/A");
}

static const format_header volume_headers[] = {{"Name", "VOLUME NAME"}, {NULL, NULL}};

int wcmd_volume_ls(struct wcmd_ctx *ctx, int argc, char **argv)
{
    enum { O_FORMAT = 256, O_CLUSTER };
    static const struct option opts[] = {{"quiet", no_argument, 0, 'q'},
                                         {"filter", required_argument, 0, 'f'},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {"cluster", no_argument, 0, O_CLUSTER},
                                         {0, 0, 0, 0}};
    bool quiet = false;
    const char *fmt = NULL;
    _cleanup_json_ json_t *filters = json_object();
    int ch, r;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "qf:", opts, NULL)) != -1) {
        switch (ch) {
        case 'q':
            quiet = true;
            break;
        case 'f':
            if ((r = wcmd_add_filter(ctx, filters, optarg, "-f, --filter")))
                return r;
            break;
        case O_FORMAT:
            fmt = optarg;
            break;
        case O_CLUSTER:
            fprintf(stderr, "cluster volumes need a swarm manager, which wharf is not\n");
            return WCMD_EXIT_ERROR;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf volume ls' accepts no arguments");
    if (!fmt || !*fmt || strcmp(fmt, "table") == 0)
        fmt = quiet ? "{{.Name}}" : "table {{.Driver}}\t{{.Name}}";
    wharf_error err = {0};
    _cleanup_format_template_ format_template *t = format_compile(fmt, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_USAGE;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/volumes");
    wcmd_add_filters_query(filters, &path);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = json_array();
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    if (wcmd_call(c, "GET", path.buf, NULL, &resp, false) < 0)
        goto done;
    json_t *vols = json_object_get(resp.json, "Volumes");
    size_t n = json_array_size(vols);
    json_t **sorted = xcalloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = json_array_get(vols, i);
    if (n)
        qsort(sorted, n, sizeof(*sorted), by_natural_name);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, volume_row(sorted[i]));
    free(sorted);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(resp.json, "Warnings"), i, w)
        fprintf(stderr, "%s\n", json_string_value(w) ? json_string_value(w) : "");
    r = format_render(t, rows, volume_headers, &out, &err);
    fputs(strbuf_str(&out), stdout);
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    rc = 0;
done:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

json_t *wcmd_volume_df_rows(json_t *volumes)
{
    json_t *rows = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(volumes, i, v) json_array_append_new(rows, volume_row(v));
    return rows;
}

/* ---------------------------------------------------------------- inspect */

int wcmd_volume_inspect(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    const char *fmt = NULL;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
        if (ch != 'f')
            return wcmd_bad_flag(ctx, argv);
        fmt = optarg;
    }
    if (optind >= argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR,
                                "'wharf volume inspect' requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct wcmd_inspect found;
    wcmd_inspect_init(&found, (size_t)(argc - optind));
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *e = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/volumes/%s", e);
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "GET", path, NULL, &resp, true) < 0) {
            rc = WCMD_EXIT_ERROR;
        } else if (resp.status >= 400) {
            /* docker prints what it found first, then the errors */
            strbuf_addf(&found.errors, "Error response from daemon: %s\n",
                        client_error_message(&resp));
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

/* ---------------------------------------------------------------- rm */

int wcmd_volume_rm(struct wcmd_ctx *ctx, int argc, char **argv)
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
                                "'wharf volume rm' requires at least 1 argument");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    /* like docker: every name is tried, the errors come at the end */
    _cleanup_strbuf_ strbuf errors = STRBUF_INIT;
    for (int i = optind; i < argc; i++) {
        _cleanup_free_ char *e = wcmd_escape(argv[i]);
        _cleanup_free_ char *path = xasprintf("/volumes/%s%s", e, force ? "?force=1" : "");
        struct client_response resp = CLIENT_RESPONSE_INIT;
        if (wcmd_call(c, "DELETE", path, NULL, &resp, true) < 0)
            strbuf_addf(&errors, "%scould not reach the daemon", errors.len ? "\n" : "");
        else if (resp.status >= 400)
            strbuf_addf(&errors, "%sError response from daemon: %s", errors.len ? "\n" : "",
                        client_error_message(&resp));
        else
            printf("%s\n", argv[i]);
        client_response_release(&resp);
    }
    client_free(c);
    fflush(stdout); /* the names before the errors, as docker's unbuffered output */
    if (errors.len) {
        fprintf(stderr, "%s\n", errors.buf);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

/* ---------------------------------------------------------------- prune */

int wcmd_volume_prune(struct wcmd_ctx *ctx, int argc, char **argv)
{
    struct wcmd_prune_opts o;
    int r = wcmd_prune_flags(ctx, argc, argv, WCMD_PRUNE_ALL, &o);
    if (r)
        return r;
    _cleanup_json_ json_t *filters = o.filters;
    bool all = o.all, force = o.force;
    if (all) {
        if (json_object_get(filters, "all")) {
            fprintf(stderr, "conflicting options: cannot specify both --all and --filter all=1\n");
            return WCMD_EXIT_ERROR;
        }
        json_object_set_new(filters, "all", json_pack("{s:b}", "true", 1));
    }
    if (!force && !wcmd_confirm(all ? "WARNING! This will remove all local volumes not used by "
                                      "at least one container.\nAre you sure you want to continue?"
                                    : "WARNING! This will remove anonymous local volumes not used "
                                      "by at least one container.\nAre you sure you want to "
                                      "continue?"))
        return 0;
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    uint64_t reclaimed = 0;
    int rc = wcmd_prune_volumes(c, filters, &reclaimed) < 0 ? WCMD_EXIT_ERROR : 0;
    if (rc == 0) {
        _cleanup_strbuf_ strbuf sz = STRBUF_INIT;
        wcmd_human_size_prec((double)reclaimed, 4, &sz);
        printf("Total reclaimed space: %s\n", strbuf_str(&sz));
    }
    client_free(c);
    return rc;
}

int wcmd_prune_volumes(struct client *c, json_t *filters, uint64_t *reclaimed)
{
    _cleanup_strbuf_ strbuf path = STRBUF_INIT;
    strbuf_addstr(&path, "/volumes/prune");
    wcmd_add_filters_query(filters, &path);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int r = wcmd_call(c, "POST", path.buf, NULL, &resp, false);
    if (r == 0)
        *reclaimed += wcmd_print_prune_report(resp.json, "VolumesDeleted", "Deleted Volumes");
    client_response_release(&resp);
    return r;
}
