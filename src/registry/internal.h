/* internal.h — what the registry module's files share; not part of the API.
 * Nothing here needs libcurl: the credentials and helper-process libraries
 * (which the CLI and the daemon link) use it too. The HTTP side is in
 * transport.h. */
#ifndef WHARF_REGISTRY_INTERNAL_H
#define WHARF_REGISTRY_INTERNAL_H

#include "registry.h"

#include <jansson.h>

/* Manifest media types, in the order the Accept header offers them. */
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* Manifests and configs are read into memory; Docker's limit. */
#define REG_MAX_MANIFEST (4u << 20)

/* ---------------------------------------------------------------- manifests (manifest.c) */

/* A manifest or index body into *doc (new reference) and its media type
 * (mediaType, else content_type; may be NULL) into *mt (caller frees):
 * -EINVAL when it is no schema 2 JSON object, -ENOTSUP for schema 1.
 * what (the reference) and digest name it in errors. */
int reg_manifest_parse(const char *what, const char *digest, const char *body, size_t len,
                       const char *content_type, json_t **doc, char **mt, wharf_error *err);
bool reg_is_index(const char *mt, json_t *doc);
/* An image manifest's config and layer descriptors. */
int reg_check_image_manifest(const char *what, json_t *m, const char *digest, wharf_error *err);
/* The index entry for want (borrowed), or NULL with Docker's "no matching
 * manifest for ... in the manifest list entries". */
json_t *reg_pick_platform(const char *what, const struct registry_platform *want, json_t *index,
                          const char *digest, wharf_error *err);

/* ---------------------------------------------------------------- base64.c */

/* base64 (std alphabet, padded). Caller frees. */
char *reg_base64(const void *data, size_t len);
/* base64url encoding as Go's URLEncoding (padded). Caller frees. */
char *reg_base64url(const void *data, size_t len);
/* Decodes either alphabet, padded or not; NULL when invalid. *len gets the
 * size (the result is also NUL-terminated). Caller frees. */
char *reg_base64_decode(const char *s, size_t *len);

#endif
