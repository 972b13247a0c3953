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

static inline bool dockerapi_is_up(const struct cri_container_status *st)
{
    return st->state == CRI_STATE_RUNNING || st->state == CRI_STATE_PAUSED;
}

#endif
