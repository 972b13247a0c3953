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
/* container_ops.c: restart, rename, pause, unpause, top, stats, export,
 * changes, and POST /containers/prune. */
int dockerapi_register_container_ops(struct dockerapi *api, http_router *r, wharf_error *err);

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

/* ---------------------------------------------------------------- common.c */

/* The container annotation holding Docker's metadata (JSON text: Image,
 * ImageID, Name, Config, HostConfig, Created). */
#define DOCKERAPI_ANNOTATION "io.wharf.docker"

/* That metadata of a container: a new reference, or NULL. */
json_t *dockerapi_meta(const struct cri_container_status *st);
/* A full id, a unique id prefix (3+ characters) or a name (with or without
 * '/') into the full id: 0, -ENOENT, -EEXIST (ambiguous) or -EIO. */
int dockerapi_resolve(struct dockerapi *api, const char *ref, char id[65]);
http_response *dockerapi_no_such_container(const char *ref);
/* Removes the container, its sandbox of one and its root filesystem;
 * -EBUSY while running unless force. */
int dockerapi_remove(struct dockerapi *api, const char *id, bool force, wharf_error *err);
/* Unmounts and deletes ROOT/rootfs/ID (the container's overlay). */
void dockerapi_unmount_rootfs(struct dockerapi *api, const char *id);
/* Docker's State.Status for a CRI state ("created", "running", ...). */
const char *dockerapi_state_name(enum cri_state s);
/* RFC 3339 with nanoseconds; {0,0} is Go's zero time. Caller frees. */
char *dockerapi_time_text(struct timespec t);
/* Runs fn(job) on a detached thread that feeds stream and frees job; if no
 * thread can be had, the stream ends at once and job is freed. */
void dockerapi_start_producer(void *(*fn)(void *), void *job, http_stream *stream);

static inline bool dockerapi_is_up(const struct cri_container_status *st)
{
    return st->state == CRI_STATE_RUNNING || st->state == CRI_STATE_PAUSED;
}

#endif
