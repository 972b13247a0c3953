/* system.c — /_ping, /version and /info: what the docker CLI asks first. */
#include "internal.h"

#include <jansson.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

const char *const *dockerapi_default_headers(void)
{
    static const char *const headers[] = {
        "Api-Version", DOCKERAPI_VERSION, "Docker-Experimental", "false", "Ostype", "linux",
        "Server", "Wharf/" WHARF_VERSION " (linux)", "Cache-Control", "no-cache, no-store, must-revalidate",
        NULL,
    };
    return headers;
}

static http_response *ping(http_request *req, void *ud)
{
    (void)ud;
    if (strcmp(http_request_method(req), "HEAD") == 0)
        return http_response_bytes(200, "text/plain; charset=utf-8", "", 0);
    return http_response_bytes(200, "text/plain; charset=utf-8", "OK", 2);
}

static const char *arch_name(const char *machine)
{
    if (strcmp(machine, "x86_64") == 0)
        return "amd64";
    if (strcmp(machine, "aarch64") == 0)
        return "arm64";
    return machine;
}

static http_response *version(http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    struct utsname u;
    uname(&u);
    json_t *engine = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}", "Name",
                               "Engine", "Version", WHARF_VERSION, "Details", "ApiVersion",
                               DOCKERAPI_VERSION, "MinAPIVersion", DOCKERAPI_MIN_VERSION, "Os",
                               "linux", "Arch", arch_name(u.machine), "KernelVersion", u.release,
                               "GitCommit", "", "Experimental", "false");
    json_t *v = json_pack("{s:{s:s}, s:[o], s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                          "Platform", "Name", "Wharf Engine", "Components", engine, "Version",
                          WHARF_VERSION, "ApiVersion", DOCKERAPI_VERSION, "MinAPIVersion",
                          DOCKERAPI_MIN_VERSION, "GitCommit", "", "GoVersion", "none (C)", "Os",
                          "linux", "Arch", arch_name(u.machine), "KernelVersion", u.release,
                          "BuildTime", "");
    return http_response_json(200, v);
}

static http_response *info(http_request *req, void *ud)
{
    (void)req;
    struct dockerapi *api = ud;
    struct utsname u;
    uname(&u);
    struct sysinfo si;
    sysinfo(&si);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    wharf_error err = {0};
    json_t *images = image_store_list(api->images, &err);
    size_t nimages = images ? json_array_size(images) : 0;
    if (images)
        json_decref(images);
    json_t *i = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:[], s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s, "
        "s:s, s:s, s:s, s:s, s:{s:{s:s}}, s:s, s:b, s:b, s:[], s:s}",
        "ID", "", "Containers", 0, "ContainersRunning", 0, "ContainersPaused", 0,
        "ContainersStopped", 0, "Images", (int)nimages, "Driver", "overlay2", "DriverStatus",
        "DockerRootDir", api->root, "OperatingSystem", "Linux", "OSType", "linux", "Architecture",
        u.machine, "KernelVersion", u.release, "NCPU", (int)sysconf(_SC_NPROCESSORS_ONLN),
        "MemTotal", (json_int_t)si.totalram * (json_int_t)si.mem_unit, "Name", host,
        "ServerVersion", WHARF_VERSION, "CgroupDriver", "cgroupfs", "LoggingDriver",
        DOCKERAPI_LOG_DRIVER, "DefaultRuntime", "wharf", "Runtimes", "wharf", "path", "wharf-runtime", "IndexServerAddress",
        "https://index.docker.io/v1/", "Debug", 0, "LiveRestoreEnabled", 1, "Warnings", "InitBinary",
        "wharf-init");
    json_object_set_new(i, "Swarm", json_pack("{s:s, s:b}", "LocalNodeState", "inactive",
                                              "ControlAvailable", 0));
    return http_response_json(200, i);
}

int dockerapi_register_system(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = http_router_add(r, "GET", "/_ping", ping, api, err)) < 0 ||
        (rc = http_router_add(r, "HEAD", "/_ping", ping, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/version", version, api, err)) < 0 ||
        (rc = http_router_add(r, "GET", "/info", info, api, err)) < 0)
        return rc;
    return 0;
}
