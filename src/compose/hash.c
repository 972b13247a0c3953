/*
 * hash.c — the configuration hash that tells `up` whether a container still
 * matches its service (label com.docker.compose.config-hash).
 *
 * Taken over the canonical configuration (model.c), so respelling a setting
 * (a list environment turned into a map, "8080:80" into the long port
 * syntax) keeps the hash, while any change a container would show changes
 * it. Settings that never reach a container are left out: how its image is
 * built or pulled, how many replicas run, what it depends on, its profiles.
 */
#include "internal.h"

#include <nettle/sha2.h>
#include <string.h>

void compose_config_hash(json_t *service_config, char out[65])
{
    _cleanup_json_ json_t *c = json_deep_copy(service_config);
    if (!c)
        c = json_object();
    static const char *const dropped[] = {"build", "pull_policy", "scale", "depends_on",
                                          "profiles"};
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        json_object_del(c, dropped[i]);
    json_t *deploy = json_object_get(c, "deploy");
    if (deploy) {
        json_object_del(deploy, "replicas");
        if (json_object_size(deploy) == 0)
            json_object_del(c, "deploy");
    }
    _cleanup_free_ char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, strlen(text), (const uint8_t *)text);
    sha256_digest(&ctx, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}
