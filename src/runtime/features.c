/*
 * features.c — what `features` reports and what `spec` writes: the runtime's
 * capabilities as the OCI features document, and a default config.json
 * shaped like runc's so tools that start from `runc spec` start from ours.
 */
#include "internal.h"
#include "security.h"

#include <string.h>

static const char *mount_options[] = {
    "async",     "atime",      "bind",        "defaults",  "dev",         "diratime",
    "dirsync",   "exec",       "iversion",    "lazytime",  "loud",        "mand",
    "noatime",   "nodev",      "nodiratime",  "noexec",    "noiversion",  "nolazytime",
    "nomand",    "norelatime", "nostrictatime", "nosuid",  "nosymfollow", "private",
    "rbind",     "relatime",   "remount",     "ro",        "rprivate",    "rshared",
    "rslave",    "runbindable", "rw",         "shared",    "silent",      "slave",
    "strictatime", "suid",     "symfollow",   "sync",      "tmpcopyup",   "unbindable",
};

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *runtime_features(void)
{
    static const char *hooks[] = {"prestart",       "createRuntime", "createContainer",
                                  "startContainer", "poststart",     "poststop"};
    static const char *namespaces[] = {"cgroup", "ipc",  "mount", "network",
                                       "pid",    "user", "uts",   "time"};
    json_t *linux_obj = json_pack(
        "{s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b}, s:o, s:{s:b}, s:{s:b}, s:{s:b}, "
        "s:{s:{s:b}}}",
        "namespaces", string_array(namespaces, sizeof(namespaces) / sizeof(namespaces[0])),
        "capabilities", security_caps_known(), "cgroup", "v1", 1, "v2", 1, "systemd", 0,
        "systemdUser", 0, "rdma", 0, "seccomp", security_seccomp_features(), "apparmor",
        "enabled", 0, "selinux", "enabled", 0, "intelRdt", "enabled", 0, "mountExtensions",
        "idmap", "enabled", 0);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:s, s:s}}", "ociVersionMin", "1.0.0",
                     "ociVersionMax", WHARF_OCI_VERSION, "hooks",
                     string_array(hooks, sizeof(hooks) / sizeof(hooks[0])), "mountOptions",
                     string_array(mount_options, sizeof(mount_options) / sizeof(mount_options[0])),
                     "linux", linux_obj, "annotations", "org.opencontainers.runc.version", "",
                     "io.github.wharf.version", WHARF_VERSION);
}

static json_t *mount(const char *dest, const char *type, const char *source, const char *opts)
{
    json_t *o = json_array();
    char *copy = xstrdup(opts);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(o, json_string(t));
    free(copy);
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
                     "options", o);
}

json_t *runtime_default_spec(bool rootless)
{
    static const char *caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
    static const char *masked[] = {
        "/proc/acpi",          "/proc/asound",      "/proc/kcore",    "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
        "/sys/firmware",       "/proc/scsi"};
    static const char *readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                     "/proc/sysrq-trigger"};
    size_t ncaps = sizeof(caps) / sizeof(caps[0]);
    json_t *capabilities =
        json_pack("{s:o, s:o, s:o}", "bounding", string_array(caps, ncaps), "effective",
                  string_array(caps, ncaps), "permitted", string_array(caps, ncaps));
    json_t *process = json_pack(
        "{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:o, s:[{s:s, s:i, s:i}], s:b}", "terminal", 1,
        "user", "uid", 0, "gid", 0, "args", "sh", "env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "cwd",
        "/", "capabilities", capabilities, "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024,
        "soft", 1024, "noNewPrivileges", 1);
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount("/proc", "proc", "proc", ""));
    json_array_append_new(mounts, mount("/dev", "tmpfs", "tmpfs",
                                        "nosuid,strictatime,mode=755,size=65536k"));
    json_array_append_new(mounts, mount("/dev/pts", "devpts", "devpts",
                                        rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
                                                 : "nosuid,noexec,newinstance,ptmxmode=0666,"
                                                   "mode=0620,gid=5"));
    json_array_append_new(mounts, mount("/dev/shm", "tmpfs", "shm",
                                        "nosuid,noexec,nodev,mode=1777,size=65536k"));
    json_array_append_new(mounts, mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
    if (rootless)
        json_array_append_new(mounts, mount("/sys", "none", "/sys", "rbind,nosuid,noexec,nodev,ro"));
    else
        json_array_append_new(mounts, mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
    json_array_append_new(mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup",
                                        "nosuid,noexec,nodev,relatime,ro"));
    json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "network",
                           "type", "ipc", "type", "uts", "type", "mount");
    json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
    json_t *linux_obj = json_pack(
        "{s:o, s:o, s:o}", "namespaces", ns, "maskedPaths",
        string_array(masked, sizeof(masked) / sizeof(masked[0])), "readonlyPaths",
        string_array(readonly, sizeof(readonly) / sizeof(readonly[0])));
    if (rootless) {
        json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
        json_object_set_new(linux_obj, "uidMappings",
                            json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                      (int)getuid(), "size", 1));
        json_object_set_new(linux_obj, "gidMappings",
                            json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                      (int)getgid(), "size", 1));
    } else {
        json_object_set_new(linux_obj, "resources",
                            json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
    }
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", WHARF_OCI_VERSION,
                     "process", process, "root", "path", "rootfs", "readonly", 1, "hostname",
                     "wharf", "mounts", mounts, "linux", linux_obj);
}
