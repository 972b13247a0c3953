/* libFuzzer target: arbitrary bytes through the dockerapi request parsers —
 * the filters parameter, until/since times, "-v" bind specs, a create
 * request's HostConfig and its mounts (Binds, Mounts, Volumes) — and, as
 * /etc/passwd and /etc/group text, the user resolution. Must never crash,
 * leak or hang. */
#include "internal.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

static char root[64];
static int root_fd = -1;

static void remove_root(void)
{
    wharf_error err = {0};
    wharf_rm_rf(root, &err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(root, sizeof(root), "/tmp/fuzz-dockerapi.XXXXXX");
    if (!mkdtemp(root))
        abort();
    atexit(remove_root);
    char etc[128];
    snprintf(etc, sizeof(etc), "%s/etc", root);
    if (mkdir(etc, 0755) < 0)
        abort();
    root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        abort();
    return 0;
}

static void write_db(const char *name, const char *text, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/etc/%s", root, name);
    wharf_error err = {0};
    wharf_write_file_atomic(path, text, len, 0644, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char *const keys[] = {"label", "name", "status", "dangling", "until", NULL};
    wharf_error err = {0};
    json_t *f = NULL;
    if (dockerapi_filters_parse(text, keys, &f, &err) == 0) {
        bool b;
        dockerapi_filters_match(f, "name", "web-1");
        dockerapi_filters_exact(f, "status", "running");
        json_t *labels = json_pack("{s:s}", "a", "b");
        dockerapi_filters_match_labels(f, "label", labels);
        json_decref(labels);
        dockerapi_filters_bool(f, "dangling", true, &b, &err);
        json_decref(f);
    }
    struct timespec t;
    dockerapi_parse_timestamp(text, 1700000000, &t, &err);
    struct dockerapi_bind bind;
    if (dockerapi_parse_bind(text, &bind, &err) == 0)
        dockerapi_bind_release(&bind);
    json_error_t je;
    json_t *host = json_loads(text, 0, &je);
    if (host) {
        struct dockerapi api = {0};
        json_t *cfg = json_object();
        dockerapi_apply_host_config(&api, host, cfg, &err);
        json_t *mp = dockerapi_mount_points(host);
        json_decref(mp);
        /* the same text as a create body and as the image's config */
        json_t *plan = NULL;
        if (dockerapi_mounts_plan(&api, host, host, &plan, &err) == 0)
            json_decref(plan);
        json_decref(cfg);
        json_decref(host);
    }
    /* the input as both databases; the user spec is its first line */
    write_db("passwd", text, size);
    write_db("group", text, size);
    char spec[64];
    snprintf(spec, sizeof(spec), "%.*s", (int)strcspn(text, "\n"), text);
    json_t *user = NULL;
    if (dockerapi_resolve_user(root_fd, spec, NULL, &user, &err) == 0)
        json_decref(user);
    free(text);
    return 0;
}
