/* System commands: version (client part works without a daemon), info,
 * system df and system prune. */
#include "wharf_cmds.h"
#include "format.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

static const char *goarch(void)
{
    static struct utsname u;
    if (uname(&u) < 0)
        return "unknown";
    /* Docker prints Go's architecture names. */
    if (strcmp(u.machine, "x86_64") == 0)
        return "amd64";
    if (strcmp(u.machine, "aarch64") == 0)
        return "arm64";
    return u.machine;
}

static int print_template(const char *fmt, json_t *data)
{
    wharf_error err = {0};
    _cleanup_format_template_ format_template *t = format_compile_plain(fmt, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    int r = format_execute(t, data, &out, &err);
    printf("%s\n", strbuf_str(&out));
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

int wcmd_version(struct wcmd_ctx *ctx, int argc, char **argv)
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
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf version' accepts no arguments");

    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    wharf_error err = {0};
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int r = client_request(c, "GET", "/version", NULL, &resp, &err);
    bool have_server = r == 0 && resp.status < 400 && json_is_object(resp.json);
    const char *api = have_server ? client_api_version(c) : CLIENT_API_VERSION_MAX;
    _cleanup_json_ json_t *data = json_pack(
        "{s:{s:{s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}}", "Client", "Platform", "Name", "",
        "Version", WHARF_VERSION, "ApiVersion", api, "DefaultAPIVersion", CLIENT_API_VERSION_MAX,
        "GoVersion", "none (C)", "GitCommit", "", "BuildTime", "", "Os", "linux", "Arch", goarch());
    if (have_server)
        json_object_set(data, "Server", resp.json);
    else
        json_object_set_new(data, "Server", json_null());

    int rc = 0;
    if (fmt) {
        rc = print_template(fmt, data);
    } else {
        json_t *cl = json_object_get(data, "Client");
        printf("Client:\n");
        printf(" Version:           %s\n", WHARF_VERSION);
        if (have_server && strcmp(api, CLIENT_API_VERSION_MAX) != 0)
            printf(" API version:       %s (downgraded from %s)\n", api, CLIENT_API_VERSION_MAX);
        else
            printf(" API version:       %s\n", api);
        printf(" Go version:        %s\n", str(cl, "GoVersion"));
        printf(" Git commit:        %s\n", str(cl, "GitCommit"));
        printf(" Built:             %s\n", str(cl, "BuildTime"));
        printf(" OS/Arch:           linux/%s\n", str(cl, "Arch"));
        printf(" Context:           default\n");
        if (have_server) {
            json_t *s = resp.json;
            printf("\nServer: %s\n", str(json_object_get(s, "Platform"), "Name"));
            size_t i;
            json_t *comp;
            json_array_foreach(json_object_get(s, "Components"), i, comp)
            {
                json_t *d = json_object_get(comp, "Details");
                printf(" %s:\n", str(comp, "Name"));
                printf("  Version:          %s\n", str(comp, "Version"));
                if (strcmp(str(comp, "Name"), "Engine") == 0) {
                    printf("  API version:      %s (minimum version %s)\n", str(d, "ApiVersion"),
                           str(d, "MinAPIVersion"));
                    printf("  Go version:       %s\n", str(s, "GoVersion"));
                    printf("  Git commit:       %s\n", str(d, "GitCommit"));
                    printf("  Built:            %s\n", str(s, "BuildTime"));
                    printf("  OS/Arch:          %s/%s\n", str(d, "Os"), str(d, "Arch"));
                    printf("  Experimental:     %s\n", str(d, "Experimental"));
                } else {
                    printf("  GitCommit:        %s\n", str(d, "GitCommit"));
                }
            }
        }
    }
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        rc = WCMD_EXIT_ERROR;
    } else if (!have_server) {
        wcmd_daemon_error(&resp);
        rc = WCMD_EXIT_ERROR;
    }
    client_response_release(&resp);
    client_free(c);
    return rc;
}

int wcmd_info(struct wcmd_ctx *ctx, int argc, char **argv)
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
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "'wharf info' accepts no arguments");
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (wcmd_call(c, "GET", "/info", NULL, &resp, false) < 0)
        goto out;
    json_t *i = resp.json;
    if (fmt) {
        rc = print_template(fmt, i);
        goto out;
    }
    printf("Client:\n Version:    %s\n Context:    default\n\nServer:\n", WHARF_VERSION);
    printf(" Containers: %lld\n", (long long)json_integer_value(json_object_get(i, "Containers")));
    printf("  Running: %lld\n",
           (long long)json_integer_value(json_object_get(i, "ContainersRunning")));
    printf("  Paused: %lld\n",
           (long long)json_integer_value(json_object_get(i, "ContainersPaused")));
    printf("  Stopped: %lld\n",
           (long long)json_integer_value(json_object_get(i, "ContainersStopped")));
    printf(" Images: %lld\n", (long long)json_integer_value(json_object_get(i, "Images")));
    printf(" Server Version: %s\n", str(i, "ServerVersion"));
    printf(" Storage Driver: %s\n", str(i, "Driver"));
    printf(" Logging Driver: %s\n", str(i, "LoggingDriver"));
    printf(" Cgroup Driver: %s\n", str(i, "CgroupDriver"));
    printf(" Default Runtime: %s\n", str(i, "DefaultRuntime"));
    printf(" Kernel Version: %s\n", str(i, "KernelVersion"));
    printf(" Operating System: %s\n", str(i, "OperatingSystem"));
    printf(" OSType: %s\n", str(i, "OSType"));
    printf(" Architecture: %s\n", str(i, "Architecture"));
    printf(" CPUs: %lld\n", (long long)json_integer_value(json_object_get(i, "NCPU")));
    double mem = (double)json_integer_value(json_object_get(i, "MemTotal"));
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (mem >= 1024 && u < 4) {
        mem /= 1024;
        u++;
    }
    printf(" Total Memory: %.4g%s\n", mem, units[u]);
    printf(" Name: %s\n", str(i, "Name"));
    printf(" Docker Root Dir: %s\n", str(i, "DockerRootDir"));
    size_t k;
    json_t *w;
    json_array_foreach(json_object_get(i, "Warnings"), k, w)
        fprintf(stderr, "%s\n", json_string_value(w) ? json_string_value(w) : "");
    rc = 0;
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- df */

static json_t *df_summary_row(const char *type, size_t total, size_t active, int64_t size,
                              int64_t reclaimable, bool percent)
{
    _cleanup_strbuf_ strbuf sz = STRBUF_INIT, rec = STRBUF_INIT;
    wcmd_human_size_prec((double)size, 4, &sz);
    wcmd_human_size_prec((double)reclaimable, 4, &rec);
    if (percent && size > 0)
        strbuf_addf(&rec, " (%lld%%)", (long long)(reclaimable * 100 / size));
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", type, "TotalCount", "",
                            "Active", "", "Size", strbuf_str(&sz), "Reclaimable",
                            strbuf_str(&rec));
    json_object_set_new(row, "TotalCount", json_sprintf("%zu", total));
    json_object_set_new(row, "Active", json_sprintf("%zu", active));
    json_t *sorted = wcmd_sort_keys(row); /* {{json .}} prints Go's map order */
    json_decref(row);
    return sorted;
}

static bool container_active(json_t *ct)
{
    const char *state = str(ct, "State");
    return strstr(state, "running") || strstr(state, "paused") || strstr(state, "restarting");
}

/* The four summary rows docker system df prints. */
static json_t *df_rows(json_t *du)
{
    json_t *rows = json_array();
    int64_t layers = json_integer_value(json_object_get(du, "LayersSize"));
    size_t active = 0;
    int64_t used = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(du, "Images"), i, v)
    {
        json_int_t containers = json_integer_value(json_object_get(v, "Containers"));
        json_int_t size = json_integer_value(json_object_get(v, "Size"));
        json_int_t shared = json_integer_value(json_object_get(v, "SharedSize"));
        active += containers > 0;
        if (containers != 0 && size != -1 && shared != -1)
            used += size - shared;
    }
    json_array_append_new(rows, df_summary_row("Images",
                                               json_array_size(json_object_get(du, "Images")),
                                               active, layers, layers - used, true));
    active = 0;
    int64_t total = 0, reclaimable = 0;
    json_array_foreach(json_object_get(du, "Containers"), i, v)
    {
        json_int_t rw = json_integer_value(json_object_get(v, "SizeRw"));
        total += rw;
        if (container_active(v))
            active++;
        else
            reclaimable += rw;
    }
    json_array_append_new(rows, df_summary_row("Containers",
                                               json_array_size(json_object_get(du, "Containers")),
                                               active, total, reclaimable, true));
    active = 0;
    total = reclaimable = 0;
    json_array_foreach(json_object_get(du, "Volumes"), i, v)
    {
        json_t *usage = json_object_get(v, "UsageData");
        json_int_t size = json_integer_value(json_object_get(usage, "Size"));
        json_int_t refs = json_integer_value(json_object_get(usage, "RefCount"));
        active += refs > 0;
        if (size != -1) {
            total += size;
            if (refs == 0)
                reclaimable += size;
        }
    }
    json_array_append_new(rows, df_summary_row("Local Volumes",
                                               json_array_size(json_object_get(du, "Volumes")),
                                               active, total, reclaimable, true));
    active = 0;
    reclaimable = 0;
    json_array_foreach(json_object_get(du, "BuildCache"), i, v)
    {
        bool in_use = json_is_true(json_object_get(v, "InUse"));
        active += in_use;
        if (!in_use && !json_is_true(json_object_get(v, "Shared")))
            reclaimable += json_integer_value(json_object_get(v, "Size"));
    }
    json_array_append_new(rows,
                          df_summary_row("Build Cache",
                                         json_array_size(json_object_get(du, "BuildCache")),
                                         active, json_integer_value(json_object_get(du,
                                                                                    "BuilderSize")),
                                         reclaimable, false));
    return rows;
}

static int render_rows(const char *fmt, json_t *rows, const format_header *headers)
{
    wharf_error err = {0};
    _cleanup_format_template_ format_template *t = format_compile(fmt, &err);
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_USAGE;
    }
    _cleanup_strbuf_ strbuf out = STRBUF_INIT;
    int r = format_render(t, rows, headers, &out, &err);
    fputs(strbuf_str(&out), stdout);
    if (r < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return WCMD_EXIT_ERROR;
    }
    return 0;
}

/* docker system df -v: a table per kind. */
static int df_verbose(json_t *du)
{
    int64_t now = (int64_t)time(NULL);
    _cleanup_json_ json_t *images = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(du, "Images"), i, v)
    {
        const char *ref = json_string_value(json_array_get(json_object_get(v, "RepoTags"), 0));
        _cleanup_free_ char *repo = xstrdup("<none>");
        const char *tag = "<none>";
        if (ref && strcmp(ref, "<none>:<none>") != 0) {
            /* the first tag only, split at the colon after the last '/' */
            const char *slash = strrchr(ref, '/');
            const char *colon = strrchr(slash ? slash : ref, ':');
            if (colon) {
                free(repo);
                repo = xasprintf("%.*s", (int)(colon - ref), ref);
                tag = colon + 1;
            }
        }
        _cleanup_free_ char *id = wcmd_short_id(str(v, "Id"), true);
        json_int_t size = json_integer_value(json_object_get(v, "Size"));
        json_int_t shared = json_integer_value(json_object_get(v, "SharedSize"));
        _cleanup_strbuf_ strbuf since = STRBUF_INIT, sz = STRBUF_INIT, sh = STRBUF_INIT,
                                uq = STRBUF_INIT;
        wcmd_human_duration(now - json_integer_value(json_object_get(v, "Created")), &since);
        strbuf_addstr(&since, " ago");
        wcmd_human_size((double)size, &sz);
        if (shared == -1)
            strbuf_addstr(&sh, "N/A");
        else
            wcmd_human_size_prec((double)shared, 4, &sh);
        if (shared == -1)
            strbuf_addstr(&uq, "N/A");
        else
            wcmd_human_size_prec((double)(size - shared), 4, &uq);
        json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", repo,
                                "Tag", tag, "ID", id, "CreatedSince", since.buf, "Size", sz.buf,
                                "SharedSize", sh.buf, "UniqueSize", uq.buf, "Containers", "");
        json_object_set_new(row, "Containers",
                            json_sprintf("%lld", (long long)json_integer_value(
                                                     json_object_get(v, "Containers"))));
        json_array_append_new(images, row);
    }
    static const format_header image_headers[] = {{"ID", "IMAGE ID"},
                                                  {"CreatedSince", "CREATED"},
                                                  {NULL, NULL}};
    printf("Images space usage:\n\n");
    int rc = render_rows("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
                         "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
                         images, image_headers);
    if (rc)
        return rc;
    _cleanup_json_ json_t *containers = json_array();
    json_array_foreach(json_object_get(du, "Containers"), i, v)
    {
        json_t *row = wcmd_ps_row(v, true, now);
        /* df shows the writable layer only */
        _cleanup_strbuf_ strbuf sz = STRBUF_INIT;
        wcmd_human_size((double)json_integer_value(json_object_get(v, "SizeRw")), &sz);
        json_object_set_new(row, "Size", json_string(sz.buf));
        json_array_append_new(containers, row);
    }
    static const format_header ct_headers[] = {{"ID", "CONTAINER ID"},
                                               {"RunningFor", "CREATED"},
                                               {NULL, NULL}};
    printf("\nContainers space usage:\n\n");
    rc = render_rows("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
                     "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
                     containers, ct_headers);
    if (rc)
        return rc;
    _cleanup_json_ json_t *vols = wcmd_volume_df_rows(json_object_get(du, "Volumes"));
    static const format_header vol_headers[] = {{"Name", "VOLUME NAME"}, {NULL, NULL}};
    printf("\nLocal Volumes space usage:\n\n");
    if ((rc = render_rows("table {{.Name}}\t{{.Links}}\t{{.Size}}", vols, vol_headers)))
        return rc;
    /* the daemon keeps no build cache: that table has its header only */
    _cleanup_json_ json_t *none = json_array();
    _cleanup_strbuf_ strbuf bsz = STRBUF_INIT;
    wcmd_human_size_prec((double)json_integer_value(json_object_get(du, "BuilderSize")), 4, &bsz);
    printf("\nBuild cache usage: %s\n\n", strbuf_str(&bsz));
    static const format_header bc_headers[] = {{"ID", "CACHE ID"},
                                               {"CreatedSince", "CREATED"},
                                               {"LastUsedSince", "LAST USED"},
                                               {"UsageCount", "USAGE"},
                                               {NULL, NULL}};
    return render_rows("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t"
                       "{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
                       none, bc_headers);
}

int wcmd_system_df(struct wcmd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {0, 0, 0, 0}};
    const char *fmt = NULL;
    bool verbose = false;
    int ch;
    wcmd_getopt_reset();
    while ((ch = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            fmt = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        default:
            return wcmd_bad_flag(ctx, argv);
        }
    }
    if (optind < argc)
        return wcmd_usage_error(ctx, WCMD_EXIT_ERROR, "\"df\" accepts no arguments");
    if (verbose && fmt && *fmt) {
        fprintf(stderr, "the verbose and the format options conflict\n");
        return WCMD_EXIT_ERROR;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int rc = WCMD_EXIT_ERROR;
    _cleanup_json_ json_t *rows = NULL;
    if (wcmd_call(c, "GET", "/system/df", NULL, &resp, false) < 0)
        goto out;
    if (verbose) {
        rc = df_verbose(resp.json);
        goto out;
    }
    rows = df_rows(resp.json);
    static const format_header headers[] = {{"TotalCount", "TOTAL"},
                                            {"Reclaimable", "RECLAIMABLE"},
                                            {NULL, NULL}};
    if (fmt && strcmp(fmt, "table") == 0)
        fmt = NULL;
    rc = render_rows(fmt ? fmt
                         : "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t"
                           "{{.Reclaimable}}",
                     rows, headers);
out:
    client_response_release(&resp);
    client_free(c);
    return rc;
}

/* ---------------------------------------------------------------- prune */

/* POST path with filters; prints the report's list_key under title. */
static int prune_one(struct client *c, const char *path, json_t *filters, const char *list_key,
                     const char *title, uint64_t *reclaimed)
{
    _cleanup_strbuf_ strbuf p = STRBUF_INIT;
    strbuf_addstr(&p, path);
    wcmd_add_filters_query(filters, &p);
    struct client_response resp = CLIENT_RESPONSE_INIT;
    int r = wcmd_call(c, "POST", p.buf, NULL, &resp, false);
    if (r == 0)
        *reclaimed += wcmd_print_prune_report(resp.json, list_key, title);
    client_response_release(&resp);
    return r;
}

int wcmd_system_prune(struct wcmd_ctx *ctx, int argc, char **argv)
{
    struct wcmd_prune_opts o;
    int r = wcmd_prune_flags(ctx, argc, argv, WCMD_PRUNE_ALL | WCMD_PRUNE_VOLUMES, &o);
    if (r)
        return r;
    _cleanup_json_ json_t *filters = o.filters;
    bool all = o.all, force = o.force, volumes = o.volumes;
    if (volumes && json_object_get(filters, "until")) {
        fprintf(stderr, "ERROR: The \"until\" filter is not supported with \"--volumes\"\n");
        return WCMD_EXIT_ERROR;
    }
    if (!force) {
        _cleanup_strbuf_ strbuf msg = STRBUF_INIT;
        strbuf_addf(&msg,
                    "WARNING! This will remove:\n  - all stopped containers\n  - all "
                    "networks not used by at least one container\n%s  - %s\n  - %s\n",
                    volumes ? "  - all anonymous volumes not used by at least one container\n" : "",
                    all ? "all images without at least one container associated to them"
                        : "all dangling images",
                    all ? "all build cache" : "unused build cache");
        if (json_object_size(filters)) {
            strbuf_addstr(&msg, "\n  Items to be pruned will be filtered with:\n");
            const char *k;
            json_t *vals;
            json_object_foreach(filters, k, vals)
            {
                const char *v;
                json_t *on;
                json_object_foreach(vals, v, on) strbuf_addf(&msg, "  - %s=%s\n", k, v);
            }
        }
        strbuf_addstr(&msg, "\nAre you sure you want to continue?");
        if (!wcmd_confirm(msg.buf))
            return 0;
    }
    struct client *c = wcmd_client(ctx);
    if (!c)
        return WCMD_EXIT_ERROR;
    uint64_t reclaimed = 0;
    /* docker's order: containers, networks, volumes, images, build cache */
    _cleanup_free_ char *build_path = xstrdup(all ? "/build/prune?all=1" : "/build/prune");
    _cleanup_strbuf_ strbuf sz = STRBUF_INIT;
    int rc = WCMD_EXIT_ERROR;
    if (prune_one(c, "/containers/prune", filters, "ContainersDeleted", "Deleted Containers",
                  &reclaimed) < 0 ||
        prune_one(c, "/networks/prune", filters, "NetworksDeleted", "Deleted Networks",
                  &reclaimed) < 0 ||
        (volumes && wcmd_prune_volumes(c, filters, &reclaimed) < 0) ||
        wcmd_prune_images(c, filters, all, &reclaimed) < 0 ||
        prune_one(c, build_path, filters, "CachesDeleted", "Deleted build cache objects",
                  &reclaimed) < 0)
        goto out;
    wcmd_human_size_prec((double)reclaimed, 4, &sz);
    printf("Total reclaimed space: %s\n", strbuf_str(&sz));
    rc = 0;
out:
    client_free(c);
    return rc;
}
