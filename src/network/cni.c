/*
 * cni.c — networks backed by CNI plugin chains ("cni:NAME").
 *
 * NAME is a network configuration list in the conf directory (a .conflist
 * whose "name" is NAME, or a single-plugin .conf, as libcni finds them).
 * Following the CNI specification: ADD runs the plugins in order, each
 * getting its own config plus the list's name and cniVersion and, after the
 * first, the previous plugin's result as prevResult; DEL runs them in
 * reverse with the cached ADD result; CHECK in order with it. Each plugin is
 * executed from the plugin directory with CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME and CNI_PATH in its environment and the config on
 * stdin; it answers JSON on stdout (a result, or {"code", "msg"} with a
 * non-zero exit). The final result (interfaces, ips) is kept with the
 * endpoint for DEL and CHECK, and gives the container its address.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PLUGIN_TIMEOUT_MS 30000

json_t *cni_load(struct network_mgr *m, const char *name, wharf_error *err)
{
    /* libcni's order: file names sorted; the first list with the name wins. */
    struct dirent **names = NULL;
    int count = scandir(m->cni_conf_dir, &names, NULL, alphasort);
    if (count < 0) {
        wharf_error_errno(err, errno, "cni: %s", m->cni_conf_dir);
        return NULL;
    }
    json_t *found = NULL;
    for (int i = 0; i < count; i++) {
        const char *f = names[i]->d_name;
        size_t len = strlen(f);
        bool list = len > 9 && strcmp(f + len - 9, ".conflist") == 0;
        bool single = (len > 5 && strcmp(f + len - 5, ".conf") == 0) ||
                      (len > 5 && strcmp(f + len - 5, ".json") == 0);
        if (!found && (list || single)) {
            _cleanup_free_ char *path = xasprintf("%s/%s", m->cni_conf_dir, f);
            wharf_error lerr = {0};
            json_t *j = wjson_load_file(path, &lerr);
            const char *n = json_string_value(json_object_get(j, "name"));
            if (j && n && strcmp(n, name) == 0) {
                if (list) {
                    found = json_incref(j);
                } else {
                    /* A single plugin config is a list of one. */
                    json_t *plugin = json_deep_copy(j);
                    json_object_del(plugin, "name");
                    json_object_del(plugin, "cniVersion");
                    found = json_pack("{s:O, s:s, s:[o]}", "cniVersion",
                                      json_object_get(j, "cniVersion"), "name", name, "plugins",
                                      plugin);
                }
            }
            json_decref(j);
        }
        free(names[i]);
    }
    free(names);
    if (!found) {
        wharf_error_set(err, -ENOENT, "cni: no network configuration named %s in %s", name,
                        m->cni_conf_dir);
        return NULL;
    }
    json_t *plugins = json_object_get(found, "plugins");
    if (!json_is_array(plugins) || json_array_size(plugins) == 0 ||
        !json_is_string(json_object_get(found, "cniVersion"))) {
        json_decref(found);
        wharf_error_set(err, -EINVAL, "cni: network %s: needs cniVersion and plugins", name);
        return NULL;
    }
    size_t i;
    json_t *p;
    json_array_foreach(plugins, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        if (!type || !*type || strchr(type, '/')) {
            json_decref(found);
            wharf_error_set(err, -EINVAL, "cni: network %s: plugins[%zu].type is not a name", name,
                            i);
            return NULL;
        }
    }
    return found;
}

/* Executes one plugin; *out gets its stdout. Returns the exit status. */
static int exec_plugin(const char *path, char *const env[], const char *input, strbuf *out,
                       wharf_error *err)
{
    int in = memfd_create("cni-stdin", MFD_CLOEXEC);
    if (in < 0)
        return wharf_error_errno(err, errno, "cni: memfd");
    if (wharf_write_all(in, input, strlen(input)) < 0 || lseek(in, 0, SEEK_SET) < 0) {
        close(in);
        return wharf_error_errno(err, errno, "cni: stdin");
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        close(in);
        return wharf_error_errno(err, errno, "cni: pipe");
    }
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(p[1], 1);
        if (devnull >= 0)
            dup2(devnull, 2);
        char *const argv[] = {(char *)path, NULL};
        execve(path, argv, env);
        _exit(127);
    }
    close(in);
    close(p[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(p[0]);
        return wharf_error_errno(err, errno, "cni: fork");
    }
    double deadline = wharf_now_ms() + PLUGIN_TIMEOUT_MS;
    for (;;) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        int left = (int)(deadline - wharf_now_ms());
        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        char buf[4096];
        ssize_t n = read(p[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        strbuf_add(out, buf, (size_t)n);
    }
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Fills the endpoint from a result: its address and MAC. */
static void take_result(struct net *n, struct endpoint *ep, json_t *result)
{
    json_t *ifaces = json_object_get(result, "interfaces");
    json_t *ips = json_object_get(result, "ips");
    json_t *ip = json_array_get(ips, 0);
    uint32_t addr;
    int prefix;
    if (ipam_parse_cidr(json_string_value(json_object_get(ip, "address")), &addr, &prefix) == 0) {
        ep->ip = addr;
        if (!n->prefix) {
            n->prefix = prefix;
            n->subnet = addr & ipam_mask(prefix);
        }
        uint32_t gw;
        if (ipam_parse_ip(json_string_value(json_object_get(ip, "gateway")), &gw) == 0)
            n->gateway = gw;
    }
    size_t i;
    json_t *f;
    json_array_foreach(ifaces, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *mac = json_string_value(json_object_get(f, "mac"));
        unsigned b[6];
        if (name && mac && strcmp(name, ep->ifname) == 0 && json_object_get(f, "sandbox") &&
            sscanf(mac, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) == 6)
            for (int k = 0; k < 6; k++)
                ep->mac[k] = (uint8_t)b[k];
    }
}

static int run_chain(struct network_mgr *m, const char *command, struct net *n, struct sandbox *s,
                     struct endpoint *ep, json_t *list, json_t **result, wharf_error *err)
{
    const char *netns = s->netns ? s->netns : "";
    _cleanup_free_ char *e_cmd = xasprintf("CNI_COMMAND=%s", command);
    _cleanup_free_ char *e_id = xasprintf("CNI_CONTAINERID=%s", s->id);
    _cleanup_free_ char *e_ns = xasprintf("CNI_NETNS=%s", netns);
    _cleanup_free_ char *e_if = xasprintf("CNI_IFNAME=%s", ep->ifname);
    _cleanup_free_ char *e_path = xasprintf("CNI_PATH=%s", m->cni_bin_dir);
    char *const env[] = {
        e_cmd, e_id,   e_ns,
        e_if,  e_path, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        NULL};
    json_t *plugins = json_object_get(list, "plugins");
    size_t count = json_array_size(plugins);
    bool reverse = strcmp(command, "DEL") == 0;
    json_t *prev = *result ? json_incref(*result) : NULL;
    int rc = 0;
    for (size_t k = 0; k < count; k++) {
        json_t *p = json_array_get(plugins, reverse ? count - 1 - k : k);
        const char *type = json_string_value(json_object_get(p, "type"));
        _cleanup_json_ json_t *conf = json_deep_copy(p);
        json_object_set(conf, "cniVersion", json_object_get(list, "cniVersion"));
        json_object_set(conf, "name", json_object_get(list, "name"));
        if (prev)
            json_object_set(conf, "prevResult", prev);
        _cleanup_free_ char *input = json_dumps(conf, JSON_COMPACT);
        _cleanup_free_ char *path = xasprintf("%s/%s", m->cni_bin_dir, type);
        _cleanup_strbuf_ strbuf out = STRBUF_INIT;
        int st = exec_plugin(path, env, input, &out, err);
        if (st < 0) {
            rc = st;
            break;
        }
        json_error_t je;
        json_t *answer = out.len ? json_loads(out.buf, 0, &je) : NULL;
        if (st != 0) {
            const char *msg = json_string_value(json_object_get(answer, "msg"));
            const char *det = json_string_value(json_object_get(answer, "details"));
            rc = wharf_error_set(err, -EIO, "cni: network %s: plugin %s %s: %s%s%s", n->name, type,
                                 command,
                                 msg         ? msg
                                 : st == 127 ? "cannot be executed"
                                             : "failed",
                                 det && *det ? ": " : "", det ? det : "");
            json_decref(answer);
            if (!reverse)
                break;
            continue; /* DEL goes on through the chain */
        }
        if (strcmp(command, "ADD") == 0) {
            if (!json_is_object(answer)) {
                json_decref(answer);
                rc = wharf_error_set(err, -EIO, "cni: network %s: plugin %s ADD: no result",
                                     n->name, type);
                break;
            }
            json_decref(prev);
            prev = answer;
        } else {
            json_decref(answer);
        }
    }
    if (strcmp(command, "ADD") == 0 && rc == 0) {
        json_decref(*result);
        *result = prev;
        prev = NULL;
    }
    json_decref(prev);
    return rc;
}

int cni_run(struct network_mgr *m, const char *command, struct net *n, struct sandbox *s,
            struct endpoint *ep, wharf_error *err)
{
    _cleanup_json_ json_t *list = cni_load(m, n->cni, err);
    if (!list)
        return err->code;
    json_t *result = strcmp(command, "ADD") == 0 ? NULL : json_incref(ep->cni_result);
    int r = run_chain(m, command, n, s, ep, list, &result, err);
    if (strcmp(command, "ADD") == 0) {
        if (r < 0) {
            /* The spec: a failed ADD is cleaned up with a DEL. */
            wharf_error ignored = {0};
            json_t *none = NULL;
            run_chain(m, "DEL", n, s, ep, list, &none, &ignored);
            json_decref(result);
            return r;
        }
        json_decref(ep->cni_result);
        ep->cni_result = result;
        take_result(n, ep, result);
        return 0;
    }
    json_decref(result);
    return r;
}
