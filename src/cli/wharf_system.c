/* System commands: version (client part works without a daemon) and info. */
#include "wharf_cmds.h"
#include "format.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

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
