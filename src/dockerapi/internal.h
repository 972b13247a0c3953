/*
 * internal.h — what the dockerapi files share; not for other modules.
 */
#ifndef WHARF_DOCKERAPI_INTERNAL_H
#define WHARF_DOCKERAPI_INTERNAL_H

#include "dockerapi.h"
#include "cri.h"

int dockerapi_register_system(struct dockerapi *api, http_router *r, wharf_error *err);
int dockerapi_register_images(struct dockerapi *api, http_router *r, wharf_error *err);
int dockerapi_register_exec(struct dockerapi *api, http_router *r, wharf_error *err);
int dockerapi_register_build(struct dockerapi *api, http_router *r, wharf_error *err);
/* container_ops.c: restart, rename, pause, unpause, top, stats, export,
 * changes, and POST /containers/prune. */
int dockerapi_register_container_ops(struct dockerapi *api, http_router *r, wharf_error *err);
/* registry_routes.c: /images/{name}/push, /auth, and the pull that
 * POST /images/create (images.c, which also imports) hands over. */
int dockerapi_register_registry(struct dockerapi *api, http_router *r, wharf_error *err);
/* docker pull: POST /images/create?fromImage=...[&tag=...], answered with
 * the progress stream. */
http_response *dockerapi_pull(struct dockerapi *api, http_request *req);

/*
 * A route on one container ("{id}" in the pattern: an id, a unique prefix or
 * a name). The trampoline resolves it and loads its status once, answering
 * 404/400 itself, so handlers start from the container. The status is
 * borrowed for the call.
 */
typedef http_response *(*dockerapi_container_fn)(struct dockerapi *api, http_request *req,
                                                 const struct cri_container_status *st);
int dockerapi_add_container_route(struct dockerapi *api, http_router *r, const char *method,
                                  const char *pattern, dockerapi_container_fn fn, wharf_error *err);

/* ---------------------------------------------------------------- networks.c */

/* The /networks routes; also drops the network sandboxes of containers that
 * no longer exist. Nothing without api->net. */
int dockerapi_register_networks(struct dockerapi *api, http_router *r, wharf_error *err);
/* At container create: the network of container id (named name) from the
 * request body and the image config; puts the namespace to join and the
 * /etc/hosts, /etc/resolv.conf and /etc/hostname mounts in cfg (the CRI
 * container config) and normalizes HostConfig.NetworkMode. NULL on success,
 * else the error response (nothing is left configured). */
http_response *dockerapi_network_attach(struct dockerapi *api, const char *id, const char *name,
                                        json_t *body, json_t *image_cfg, json_t *cfg);
/* Undoes the attach: at removal, or when the create fails later. */
void dockerapi_network_detach(struct dockerapi *api, const char *id);
/* Sets NetworkSettings on inspect's object, or Ports, NetworkSettings and
 * HostConfig.NetworkMode on a /containers/json entry (summary). */
void dockerapi_network_describe(struct dockerapi *api, const char *id, json_t *obj, bool summary);

/* ---------------------------------------------------------------- common.c */

/* The container annotation holding Docker's metadata (JSON text: Image,
 * ImageID, Name, Config, HostConfig, Created). */
#define DOCKERAPI_ANNOTATION "io.wharf.docker"

/* The logging driver reported by /info and a container's HostConfig: the
 * container's log is a per-container file, rotated by size, that /logs
 * reads back (json-file's behaviour; the on-disk lines are CRI-formatted). */
#define DOCKERAPI_LOG_DRIVER "json-file"

/* That metadata of a container: a new reference, or NULL. */
json_t *dockerapi_meta(const struct cri_container_status *st);
/* A full id, a unique id prefix (3+ characters) or a name (with or without
 * '/') into the full id: 0, -ENOENT, -EEXIST (ambiguous) or -EIO. */
int dockerapi_resolve(struct dockerapi *api, const char *ref, char id[65]);
http_response *dockerapi_no_such_container(const char *ref);
/* Removes the container, its sandbox of one and its root filesystem;
 * -EBUSY while running unless force. Its volumes stay. */
int dockerapi_remove(struct dockerapi *api, const char *id, bool force, wharf_error *err);
/* The same; with remove_volumes (rm -v, and AutoRemove as dockerd does) its
 * anonymous volumes go too, unless another container uses them. */
int dockerapi_remove_container(struct dockerapi *api, const char *id, bool force,
                               bool remove_volumes, wharf_error *err);
/* Unmounts and deletes ROOT/rootfs/ID (the container's overlay). */
void dockerapi_unmount_rootfs(struct dockerapi *api, const char *id);
/* Docker's State.Status for a CRI state ("created", "running", ...). */
const char *dockerapi_state_name(enum cri_state s);
/* RFC 3339 with nanoseconds; {0,0} is Go's zero time. Caller frees. */
char *dockerapi_time_text(struct timespec t);
/* Runs fn(job) on a detached thread that feeds stream and frees job; if no
 * thread can be had, the stream ends at once, job is freed and it returns
 * false. */
bool dockerapi_start_producer(void *(*fn)(void *), void *job, http_stream *stream);
/* A detached thread that dockerapi_close waits for: 0 or a negative errno. */
int dockerapi_start_thread(void *(*fn)(void *), void *arg);
/* Waits up to timeout_ms for every such thread to end; false if some still run. */
bool dockerapi_wait_threads(int timeout_ms);

/* ---------------------------------------------------------------- events.c */

int dockerapi_register_events(struct dockerapi *api, http_router *r, wharf_error *err);
/* Publishes an event (Docker's events.Message: Type, Action, Actor{ID,
 * Attributes}, scope, time, timeNano, and status/id/from for containers and
 * images). attributes: an object of strings, stolen, may be NULL. */
void dockerapi_event(struct dockerapi *api, const char *type, const char *action, const char *id,
                     json_t *attributes /* stolen, may be NULL */);
/* A container event whose attributes are the container's labels, image and
 * name (st may be NULL: it is loaded), plus extra (stolen, may be NULL). */
void dockerapi_container_event(struct dockerapi *api, const char *id,
                               const struct cri_container_status *st, const char *action,
                               json_t *extra);
/* An image event: attributes are the image's labels and name (may be NULL). */
void dockerapi_image_event(struct dockerapi *api, const char *image_id, const char *name,
                           const char *action);
/* A reader of the bus (what GET /events streams): since and until are Unix
 * seconds with a fraction or RFC 3339 (NULL: none), filters Docker's JSON.
 * NULL with -EINVAL naming the bad parameter. */
struct dockerapi_event_sub;
struct dockerapi_event_sub *dockerapi_events_subscribe(struct dockerapi *api, const char *since,
                                                       const char *until, const char *filters,
                                                       wharf_error *err);
/* 1 and the next matching event's JSON line in *line (caller frees); 0 when
 * timeout_ms passed without one; -EPIPE once the stream is over (until
 * reached, or the bus closing). */
int dockerapi_events_next(struct dockerapi_event_sub *sub, int timeout_ms, char **line);
void dockerapi_events_unsubscribe(struct dockerapi_event_sub *sub);
void dockerapi_events_close(struct dockerapi *api);

/* ---------------------------------------------------------------- monitor.c */

enum dockerapi_restart {
    DOCKERAPI_RESTART_NO,
    DOCKERAPI_RESTART_ALWAYS,
    DOCKERAPI_RESTART_ON_FAILURE,
    DOCKERAPI_RESTART_UNLESS_STOPPED,
};
struct dockerapi_restart_policy {
    enum dockerapi_restart name;
    int64_t max_retries; /* on-failure: 0 is no limit */
};
/* HostConfig.RestartPolicy (host_config may be NULL), checked the way dockerd
 * does at create: -EINVAL "invalid restart policy: ..." */
int dockerapi_restart_policy(json_t *host_config, struct dockerapi_restart_policy *out,
                             wharf_error *err);
int dockerapi_monitor_init(struct dockerapi *api, wharf_error *err);
/* Makes the monitor rescan now (a container may have started). */
void dockerapi_monitor_wake(struct dockerapi *api);
/* Reports the container's exit now ("die", once per run) if it has exited
 * and nobody reported it yet: routes call it before the events that follow
 * a die (stop, destroy) so they come in dockerd's order. */
void dockerapi_monitor_settle(struct dockerapi *api, const char *id);

/* The user's lifecycle actions, with their events (start; kill, die, stop)
 * and what they mean for restart policies: a start resets RestartCount and
 * lifts a stop by the user; stop and kill mark one (no restarts until the
 * next start) and cancel a pending restart. Start and stop return 1 when
 * there was nothing to do (the API's 304); kill of a container that is not
 * running is -ESRCH. */
int dockerapi_start_container(struct dockerapi *api, const char *id, wharf_error *err);
/* stop: sig 0 is the container's stop signal; timeout_s < 0 its stop timeout. */
int dockerapi_stop_container(struct dockerapi *api, const char *id, int sig, int timeout_s,
                             wharf_error *err);
int dockerapi_kill_container(struct dockerapi *api, const char *id, int sig, wharf_error *err);
/* Removal: forget cancels a pending restart, waits out one in progress and
 * keeps the monitor from restarting the container (false: another removal
 * is under way); removed says how the removal ended (true: its saved state
 * goes too). */
bool dockerapi_monitor_forget(struct dockerapi *api, const char *id);
void dockerapi_monitor_removed(struct dockerapi *api, const char *id, bool removed);
/* A wait?condition=removed request begins (true) or ends (false): while one
 * waits, it removes an AutoRemove container itself, after reading the exit
 * code; otherwise the monitor does once the container has exited. */
void dockerapi_monitor_wait_removal(struct dockerapi *api, const char *id, bool waiting);
/* An attach or logs request starts (true) or stops (false) reading the
 * container's log: an AutoRemove container is not removed under it (output
 * a quick container wrote before its attach caught up would be lost). */
void dockerapi_monitor_log_reader(struct dockerapi *api, const char *id, bool reading);
unsigned dockerapi_monitor_log_readers(struct dockerapi *api, const char *id);

/* What inspect and ps show besides the CRI status. */
struct dockerapi_run_state {
    bool restarting;        /* exited, a restart by its policy pending */
    unsigned restart_count; /* restarts by the policy since the user's last start */
    char error[512];        /* why the user's last start failed ("": it did not) */
    int error_exit;         /* and the ExitCode dockerd shows for that */
};
void dockerapi_run_state(struct dockerapi *api, const struct cri_container_status *st,
                         struct dockerapi_run_state *out);

/* ---------------------------------------------------------------- health.c */

/* At create: checks the request's Config.Healthcheck as dockerd does and
 * merges the image's under it (body is the request's Config). -EINVAL with
 * dockerd's message. */
int dockerapi_health_merge_config(json_t *body, json_t *image_cfg, wharf_error *err);
/* Starts the health check scheduler (with the monitor) / stops it. */
int dockerapi_health_start(struct dockerapi *api, wharf_error *err);
void dockerapi_health_close(struct dockerapi *api);
/* A container event was published (start, die, pause, unpause and destroy
 * matter): the scheduler looks at the container again. Never blocks long. */
void dockerapi_health_notify(struct dockerapi *api, const char *id, const char *action);
/* Sets State.Health on an inspect object when the container has a check
 * and it has run. */
void dockerapi_health_describe(struct dockerapi *api, const struct cri_container_status *st,
                               json_t *inspect);
/* "starting", "healthy", "unhealthy", or NULL (no check, or never run). */
const char *dockerapi_health_status(struct dockerapi *api, const struct cri_container_status *st);

/* ---------------------------------------------------------------- filters.c */

/* Docker's filters parameter (text may be NULL or ""): *out gets a new object
 * of string arrays. A key not in accepted (NULL-terminated) is -EINVAL
 * "invalid filter 'x'", as dockerd says. */
int dockerapi_filters_parse(const char *text, const char *const *accepted, json_t **out,
                            wharf_error *err);
/* The values given for key (borrowed array), or NULL when the key is absent. */
json_t *dockerapi_filters_values(json_t *filters, const char *key);
bool dockerapi_filters_has(json_t *filters, const char *key);
/* Docker's Match: no values, an equal value, or a value that is a regular
 * expression found in source. */
bool dockerapi_filters_match(json_t *filters, const char *key, const char *source);
/* Docker's ExactMatch: no values or an equal one. */
bool dockerapi_filters_exact(json_t *filters, const char *key, const char *source);
/* Docker's MatchKVList: every "k" or "k=v" value holds in labels (an object). */
bool dockerapi_filters_match_labels(json_t *filters, const char *key, json_t *labels);
/* A true/1 or false/0 filter (dflt when absent); both or neither is -EINVAL. */
int dockerapi_filters_bool(json_t *filters, const char *key, bool dflt, bool *out,
                           wharf_error *err);
/* A time as Docker's until/since take it: a Go duration before now ("10m"),
 * RFC 3339, Unix seconds ("1700000000.5") or a local date[-time]. */
int dockerapi_parse_timestamp(const char *value, time_t now, struct timespec *out,
                              wharf_error *err);

/* ---------------------------------------------------------------- hostconfig.c */

/* One "-v SOURCE:DEST[:MODE]" spec (HostConfig.Binds), parsed the way
 * dockerd does: a host path (absolute) or a volume name as its source. */
struct dockerapi_bind {
    char *source;      /* a cleaned absolute host path, or the volume name */
    char *destination; /* cleaned absolute path */
    char *mode;        /* as given ("ro,z"), "" when none */
    bool readonly;
    bool volume;             /* source names a volume */
    bool nocopy;             /* a volume's mode says "nocopy": no copy-up */
    const char *propagation; /* binds: "rprivate" unless the mode names one; volumes: "" */
};
/* -EINVAL with dockerd's message for a bad spec. Release with
 * dockerapi_bind_release. */
int dockerapi_parse_bind(const char *spec, struct dockerapi_bind *out, wharf_error *err);
void dockerapi_bind_release(struct dockerapi_bind *b);
/* Go's path.Clean of an absolute path. Caller frees. */
char *dockerapi_clean_path(const char *p);
/* Checks a create request's HostConfig and adds what it asks for to the CRI
 * container config cfg (resources, ulimits, sysctls, oom_score_adj, mounts,
 * security options, privileges, init). -EINVAL with dockerd's message. */
int dockerapi_apply_host_config(struct dockerapi *api, json_t *host, json_t *cfg,
                                wharf_error *err);

/* Docker's cpuset syntax ("0-2,4") against the host's online CPUs (or, with
 * mems, memory nodes): -EINVAL with dockerd's message. */
int dockerapi_check_cpuset(const char *value, bool mems, wharf_error *err);

/* ---------------------------------------------------------------- archive.c */

/* HEAD, GET and PUT /containers/{id}/archive (docker cp). */
int dockerapi_register_archive(struct dockerapi *api, http_router *r, wharf_error *err);

/* ---------------------------------------------------------------- limits.c */

/* POST /containers/{id}/update. */
int dockerapi_register_limits(struct dockerapi *api, http_router *r, wharf_error *err);
/* A create request's resource limits (HostConfig: Memory, MemoryReservation,
 * MemorySwap, NanoCpus, CpuShares, CpuPeriod, CpuQuota, CpusetCpus,
 * CpusetMems, PidsLimit, BlkioWeight) checked as dockerd does, into cfg's
 * "resources"; fills in host what dockerd does (MemorySwap twice Memory, a
 * PidsLimit of 0 or less null). -EINVAL with dockerd's message. */
int dockerapi_create_resources(json_t *host, json_t *cfg, wharf_error *err);
/* ---------------------------------------------------------------- mounts.c */

/*
 * A create request's mounts besides /dev/shm and --tmpfs (hostconfig.c's):
 * HostConfig.VolumesFrom (the mount points of those containers of api),
 * HostConfig.Binds, HostConfig.Mounts, Config.Volumes and the image's
 * volumes, checked as dockerd does before anything is made. *plan gets a new
 * array for dockerapi_mounts_apply; body's Config.Volumes becomes the merge
 * of the request's and the image's (what inspect shows). -EINVAL (400) with
 * dockerd's message, -ENOENT (404) for a volume driver that does not exist.
 */
int dockerapi_mounts_plan(struct dockerapi *api, json_t *body, json_t *image_cfg, json_t **plan,
                          wharf_error *err);
/* Once the root filesystem is mounted at rootfs: gets or creates the
 * volumes (copying the image's content into new, empty ones), creates
 * missing -v bind sources, appends the mounts to cfg's "mounts" (sorted so
 * that a parent is mounted before what is mounted inside it) and the mount
 * points to meta's "MountPoints". The volumes stay reserved for container id
 * until dockerapi_mounts_done. On failure, the volumes it made go again. */
int dockerapi_mounts_apply(struct dockerapi *api, const char *id, json_t *plan, const char *rootfs,
                           json_t *cfg, json_t *meta, wharf_error *err);
/* The create of container id has ended: created, its record now holds its
 * volumes; otherwise the volumes made for it go. */
void dockerapi_mounts_done(struct dockerapi *api, const char *id, bool created);
/* After a container is removed: with remove_volumes (rm -v, AutoRemove), the
 * anonymous volumes it used go unless another container uses them. */
void dockerapi_mounts_release(struct dockerapi *api, json_t *meta, bool remove_volumes);
/* Docker's MountPoint array (Type, Name, Source, Destination, Driver, Mode,
 * RW, Propagation) of a container's metadata: a new reference. */
json_t *dockerapi_mount_points(json_t *meta);

/* ---------------------------------------------------------------- volumes.c */

/* GET /volumes, POST /volumes/create, GET and DELETE /volumes/{name},
 * POST /volumes/prune (needs api->volumes; 501 without). */
int dockerapi_register_volumes(struct dockerapi *api, http_router *r, wharf_error *err);
/* Orders "which containers use a volume" against removals (see volumes.c). */
void dockerapi_volumes_lock(void);
void dockerapi_volumes_unlock(void);
/* Under the lock: container id (being created) uses volume name from now
 * until dockerapi_volume_unreserve(id); fresh: this create made it. */
void dockerapi_volume_reserve(const char *name, const char *id, bool fresh);
/* Ends id's reservations: a new array of the names of the fresh ones. */
json_t *dockerapi_volume_unreserve(const char *id);
/* Volume name -> array of the ids of the containers using it (recorded, or
 * reserved): a new object. */
json_t *dockerapi_volume_users(struct dockerapi *api);
/* Under the lock: removes volume name unless users lists a container for it
 * (-EBUSY "remove NAME: volume is in use - [ids]"), with its destroy event. */
int dockerapi_volume_remove_unused(struct dockerapi *api, const char *name, json_t *users,
                                   wharf_error *err);
/* A volume event (create, destroy) with its driver attribute. */
void dockerapi_volume_event(struct dockerapi *api, const char *name, const char *action);
/* Docker's Volume object of a store record: a new reference. */
json_t *dockerapi_volume_json(json_t *record);
/* /system/df's Volumes: Volume objects with UsageData (Size, RefCount). */
json_t *dockerapi_volumes_usage(struct dockerapi *api, wharf_error *err);

/* ---------------------------------------------------------------- container_ops.c */

/* An empty mount point the runtime makes in a container's upper directory
 * when the image lacks it (/etc/hosts, /proc, ...; rel is its path in the
 * container, path where it is). dockerd keeps these in the container's init
 * layer, so neither docker diff nor docker commit sees them. */
bool dockerapi_runtime_mountpoint(const char *rel, const char *path, const struct stat *st);
/* ROOT/rootfs/ID/PART (upper, merged, work) of a container; caller frees. */
char *dockerapi_rootfs_dir(struct dockerapi *api, const char *id, const char *part);

/* ---------------------------------------------------------------- commit.c */

/* POST /commit. */
int dockerapi_register_commit(struct dockerapi *api, http_router *r, wharf_error *err);

/* ---------------------------------------------------------------- containers_list.c */

int dockerapi_register_container_list(struct dockerapi *api, http_router *r, wharf_error *err);
/* Every container, newest first (release with cri_container_status_array_free). */
int dockerapi_list_containers(struct dockerapi *api, struct cri_container_status **out,
                              size_t *count, wharf_error *err);
/* Docker's ContainerSummary of a container: a new reference. */
json_t *dockerapi_container_summary(struct dockerapi *api, const struct cri_container_status *st);
/* Adds SizeRw (the writable layer) and SizeRootFs (that plus the image) to a
 * summary; image_sizes (may be NULL) caches image sizes by id across calls. */
void dockerapi_summary_add_size(struct dockerapi *api, json_t *summary, json_t *image_sizes);
/* Bytes in the container's writable layer (its overlay upper directory). */
int64_t dockerapi_rw_size(struct dockerapi *api, const char *id);

/* ---------------------------------------------------------------- usage.c */

/* GET /system/df, POST /networks/prune and /build/prune (needs api->cri). */
int dockerapi_register_usage(struct dockerapi *api, http_router *r, wharf_error *err);
/* Image id -> number of containers created from it: a new object. */
json_t *dockerapi_images_in_use(struct dockerapi *api);

/* ---------------------------------------------------------------- users.c */

/*
 * Docker's user resolution: spec is "user[:group]", each a name or a number,
 * looked up in /etc/passwd and /etc/group of the root filesystem open at
 * root_fd (read through openat2 RESOLVE_IN_ROOT: links cannot leave it).
 * group_add (HostConfig.GroupAdd, may be NULL) adds groups by name or id.
 * *user gets a new {"uid", "gid", "additional_gids"} object: the primary gid,
 * the user's groups from /etc/group (implicit form only) and group_add.
 * Unknown names are -EINVAL "unable to find user X: no matching entries in
 * passwd file" (or "...group X: ... group file").
 */
int dockerapi_resolve_user(int root_fd, const char *spec, json_t *group_add, json_t **user,
                           wharf_error *err);

/* ---------------------------------------------------------------- exec.c */

/* dockerd's State.ExitCode for a start that failed with msg
 * (translateContainerdStartErr): 127 when the command cmd cannot be found,
 * 126 when it cannot be run, else 128. */
int dockerapi_start_error_exit(const char *msg, const char *cmd);
/* dockerd's status for it: 400 for the 126 and 127 cases (the docker CLI
 * then exits with those), else 500. */
int dockerapi_start_error_status(const char *msg, const char *cmd);
/* Ends the attaches waiting for the start of container id: it failed. */
void dockerapi_note_failed_start(const char *id);

static inline bool dockerapi_is_up(const struct cri_container_status *st)
{
    return st->state == CRI_STATE_RUNNING || st->state == CRI_STATE_PAUSED;
}

#endif
