/*
 * usage.c — GET /system/df (how much the images, containers, volumes and
 * build cache hold, as `docker system df` shows it), which images the
 * containers use (for df and image prune), and the prune routes of what
 * wharf keeps none of: a build cache, and user networks when the daemon
 * runs without a network manager (networks.c serves them otherwise).
 * `docker system prune` calls those too, so they answer truthfully:
 * nothing to delete.
 */
#include "internal.h"

#include <jansson.h>
#include <string.h>

json_t *dockerapi_images_in_use(struct dockerapi *api)
{
    json_t *used = json_object();
    struct cri_container_status *sts = NULL;
    size_t n = 0;
    wharf_error err = {0};
    if (!api->cri || cri_container_list(api->cri, NULL, &sts, &n, &err) < 0)
        return used;
    for (size_t i = 0; i < n; i++) {
        json_t *meta = dockerapi_meta(&sts[i]);
        const char *id = json_string_value(json_object_get(meta, "ImageID"));
        if (id)
            json_object_set_new(used, id,
                                json_integer(json_integer_value(json_object_get(used, id)) + 1));
        if (meta)
            json_decref(meta);
    }
    cri_container_status_array_free(sts, n);
    return used;
}

static http_response *disk_usage(http_request *req, void *ud)
{
    struct dockerapi *api = ud;
    /* type=container&type=image...: only those (the others are null) */
    size_t ntypes = 0;
    _cleanup_free_ const char **types = http_request_query_all(req, "type", &ntypes);
    static const char *const known[] = {"container", "image", "volume", "build-cache"};
    bool want[4];
    for (size_t k = 0; k < 4; k++) {
        want[k] = ntypes == 0;
        for (size_t i = 0; i < ntypes; i++)
            want[k] |= strcmp(types[i], known[k]) == 0;
    }
    for (size_t i = 0; i < ntypes; i++) {
        bool ok = false;
        for (size_t k = 0; k < 4; k++)
            ok |= strcmp(types[i], known[k]) == 0;
        if (!ok)
            return http_response_error(400, "invalid type: %s", types[i]);
    }
    wharf_error err = {0};
    json_t *out = json_object();
    json_t *containers = json_array();
    _cleanup_json_ json_t *used = json_object();
    struct cri_container_status *sts = NULL;
    size_t n = 0;
    if (dockerapi_list_containers(api, &sts, &n, &err) < 0) {
        json_decref(out);
        json_decref(containers);
        return http_response_from_error(&err);
    }
    json_t *image_sizes = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *s = dockerapi_container_summary(api, &sts[i]);
        const char *image_id = json_string_value(json_object_get(s, "ImageID"));
        if (image_id && *image_id)
            json_object_set_new(
                used, image_id,
                json_integer(json_integer_value(json_object_get(used, image_id)) + 1));
        if (want[0]) {
            dockerapi_summary_add_size(api, s, image_sizes);
            json_array_append_new(containers, s);
        } else {
            json_decref(s);
        }
    }
    json_decref(image_sizes);
    cri_container_status_array_free(sts, n);
    json_object_set_new(out, "Containers", want[0] ? containers : json_null());
    if (!want[0])
        json_decref(containers);
    if (want[1]) {
        uint64_t layers = 0;
        json_t *images = image_store_disk_usage(api->images, &layers, &err);
        if (!images) {
            json_decref(out);
            return http_response_from_error(&err);
        }
        size_t i;
        json_t *img;
        json_array_foreach(images, i, img)
        {
            const char *id = json_string_value(json_object_get(img, "Id"));
            json_object_set_new(img, "Containers",
                                json_integer(json_integer_value(json_object_get(used, id))));
        }
        json_object_set_new(out, "LayersSize", json_integer((json_int_t)layers));
        json_object_set_new(out, "Images", images);
    } else {
        json_object_set_new(out, "LayersSize", json_integer(0));
        json_object_set_new(out, "Images", json_null());
    }
    if (want[2]) {
        json_t *vols = dockerapi_volumes_usage(api, &err);
        if (!vols) {
            json_decref(out);
            return http_response_from_error(&err);
        }
        json_object_set_new(out, "Volumes", vols);
    } else {
        json_object_set_new(out, "Volumes", json_null());
    }
    /* no build cache is kept by the daemon */
    json_object_set_new(out, "BuildCache", want[3] ? json_array() : json_null());
    json_object_set_new(out, "BuilderSize", json_integer(0));
    return http_response_json(200, out);
}

static http_response *networks_prune(http_request *req, void *ud)
{
    (void)ud;
    static const char *const accepted[] = {"label", "label!", "until", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    return http_response_json(200, json_pack("{s:n}", "NetworksDeleted"));
}

static http_response *build_prune(http_request *req, void *ud)
{
    (void)ud;
    static const char *const accepted[] = {"until", "id",     "parent",  "type", "description",
                                           "inuse", "shared", "private", NULL};
    _cleanup_json_ json_t *filters = NULL;
    wharf_error err = {0};
    if (dockerapi_filters_parse(http_request_query(req, "filters"), accepted, &filters, &err) < 0)
        return http_response_from_error(&err);
    return http_response_json(200, json_pack("{s:n, s:i}", "CachesDeleted", "SpaceReclaimed", 0));
}

int dockerapi_register_usage(struct dockerapi *api, http_router *r, wharf_error *err)
{
    int rc;
    if ((rc = http_router_add(r, "GET", "/system/df", disk_usage, api, err)) < 0 ||
        /* with networks, networks.c serves the real one */
        (!api->net && (rc = http_router_add(r, "POST", "/networks/prune", networks_prune, api,
                                            err)) < 0) ||
        (rc = http_router_add(r, "POST", "/build/prune", build_prune, api, err)) < 0)
        return rc;
    return 0;
}
