/* manifest.c — what a manifest or index from a registry must look like
 * before anything in it is believed: JSON, schema 2, descriptors with
 * sha256 digests and sizes, an image config and layer types we can unpack,
 * and the index entry for a platform. Fuzzed by tests/fuzz/fuzz_manifest.c. */
#include "internal.h"

#include <errno.h>
#include <string.h>

int reg_manifest_parse(const char *what, const char *digest, const char *body, size_t len,
                       const char *content_type, json_t **doc, char **mt, wharf_error *err)
{
    *doc = NULL;
    *mt = NULL;
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", len, 0, &je);
    if (!json_is_object(j)) {
        int r = wharf_error_set(err, -EINVAL, "%s: malformed manifest %s: %s", what, digest,
                                j ? "not a JSON object" : je.text);
        json_decref(j);
        return r;
    }
    const char *m = json_string_value(json_object_get(j, "mediaType"));
    if (!m && content_type && strcmp(content_type, "application/json") != 0 &&
        strcmp(content_type, "text/plain") != 0)
        m = content_type;
    json_int_t schema = json_integer_value(json_object_get(j, "schemaVersion"));
    int r = 0;
    if ((m && (strcmp(m, MT_DOCKER_SCHEMA1) == 0 || strcmp(m, MT_DOCKER_SCHEMA1_SIGNED) == 0)) ||
        schema == 1)
        r = wharf_error_set(err, -ENOTSUP,
                            "%s: manifest %s is Docker's schema 1, which is no longer supported",
                            what, digest);
    else if (schema != 2)
        r = wharf_error_set(err, -EINVAL, "%s: malformed manifest %s: schemaVersion %lld", what,
                            digest, (long long)schema);
    if (r < 0) {
        json_decref(j);
        return r;
    }
    *mt = m ? xstrdup(m) : NULL;
    *doc = j;
    return 0;
}

bool reg_is_index(const char *mt, json_t *doc)
{
    if (mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0))
        return true;
    return !mt && json_is_array(json_object_get(doc, "manifests"));
}

static bool valid_descriptor(json_t *d)
{
    json_t *size = json_object_get(d, "size");
    return json_is_object(d) &&
           image_digest_valid(json_string_value(json_object_get(d, "digest"))) &&
           json_is_integer(size) && json_integer_value(size) >= 0;
}

static bool known_layer_type(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    };
    if (!mt)
        return true;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(mt, ok[i]) == 0)
            return true;
    return false;
}

int reg_check_image_manifest(const char *what, json_t *m, const char *digest, wharf_error *err)
{
    json_t *config = json_object_get(m, "config");
    if (!valid_descriptor(config))
        return wharf_error_set(err, -EINVAL,
                               "%s: malformed manifest %s: config: not a descriptor with a "
                               "sha256 digest and a size",
                               what, digest);
    const char *cmt = json_string_value(json_object_get(config, "mediaType"));
    if (cmt && strcmp(cmt, "application/vnd.oci.image.config.v1+json") != 0 &&
        strcmp(cmt, "application/vnd.docker.container.image.v1+json") != 0)
        return wharf_error_set(err, -ENOTSUP,
                               "%s: manifest %s is not a container image (config type %s)", what,
                               digest, cmt);
    json_t *layers = json_object_get(m, "layers");
    if (!json_is_array(layers))
        return wharf_error_set(err, -EINVAL, "%s: malformed manifest %s: layers: not an array",
                               what, digest);
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        if (!valid_descriptor(l))
            return wharf_error_set(err, -EINVAL,
                                   "%s: malformed manifest %s: layers[%zu]: not a descriptor "
                                   "with a sha256 digest and a size",
                                   what, digest, i);
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        if (!known_layer_type(lmt))
            return wharf_error_set(err, -ENOTSUP, "%s: layer %s: unsupported media type %s", what,
                                   json_string_value(json_object_get(l, "digest")), lmt);
    }
    return 0;
}

json_t *reg_pick_platform(const char *what, const struct registry_platform *want, json_t *index,
                          const char *digest, wharf_error *err)
{
    json_t *list = json_object_get(index, "manifests");
    if (!json_is_array(list)) {
        wharf_error_set(err, -EINVAL, "%s: malformed index %s: manifests: not an array", what,
                        digest);
        return NULL;
    }
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        json_t *pl = json_object_get(m, "platform");
        if (!valid_descriptor(m) || !json_is_object(pl))
            continue;
        if (registry_platform_match(want, json_string_value(json_object_get(pl, "os")),
                                    json_string_value(json_object_get(pl, "architecture")),
                                    json_string_value(json_object_get(pl, "variant"))))
            return m;
    }
    char plat[96];
    wharf_error_set(err, -ENOENT, "no matching manifest for %s in the manifest list entries",
                    registry_platform_format(want, plat, sizeof(plat)));
    return NULL;
}
